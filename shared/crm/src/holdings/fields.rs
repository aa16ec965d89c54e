//! Reading catalogue and holding bodies field by field, and refusing card numbers (only the
//! last four digits may be kept).

use std::collections::BTreeMap;

use axum::http::StatusCode;
use nhip_domain::person::nfc;
use serde_json::{Map, Value};

use nhip_core::form::{FieldErrors, text};
use nhip_core::http::ApiError;

use nhip_domain::card::looks_like_card_number;

use super::MAX_ATTRIBUTES;
use super::model::*;

pub(super) fn reject_unknown(
    body: &Map<String, Value>,
    allowed: &[&str],
    errors: &mut FieldErrors,
) {
    for field in body.keys() {
        if !allowed.contains(&field.as_str()) {
            errors.add(field, "Trường không được hỗ trợ.");
        }
    }
}

/// A slug: trimmed, lower-cased, 2–64 of `a-z`, `0-9` and inner hyphens.
pub fn normalise_code(raw: &str) -> Option<String> {
    let code = raw.trim().to_ascii_lowercase();
    let valid = (2..=64).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !code.starts_with('-')
        && !code.ends_with('-');
    valid.then_some(code)
}

pub(super) fn required_code(body: &Map<String, Value>, errors: &mut FieldErrors) -> Option<String> {
    match text(body, "code", errors) {
        None => {
            errors.add("code", "Vui lòng nhập mã.");
            None
        }
        Some(raw) => {
            let code = normalise_code(&raw);
            if code.is_none() {
                errors.add(
                    "code",
                    "Mã gồm 2–64 ký tự: chữ thường không dấu, số và dấu gạch ngang.",
                );
            }
            code
        }
    }
}

/// A line of text: NFC, 1–`max` characters, no control characters.
pub(super) fn label_text(
    body: &Map<String, Value>,
    field: &str,
    max: usize,
    errors: &mut FieldErrors,
) -> Option<String> {
    let value = text(body, field, errors)?;
    if value.chars().count() > max {
        errors.add(field, format!("Tối đa {max} ký tự."));
        return None;
    }
    if value.chars().any(char::is_control) {
        errors.add(field, "Có ký tự không hợp lệ.");
        return None;
    }
    Some(value)
}

pub(super) fn boolean(
    body: &Map<String, Value>,
    field: &str,
    errors: &mut FieldErrors,
) -> Option<bool> {
    match body.get(field)? {
        Value::Bool(b) => Some(*b),
        _ => {
            errors.add(field, "Cần true hoặc false.");
            None
        }
    }
}

pub(super) fn enumerated<T>(
    body: &Map<String, Value>,
    field: &str,
    errors: &mut FieldErrors,
    parse: fn(&str) -> Option<T>,
    expected: String,
) -> Option<T> {
    let raw = text(body, field, errors)?;
    let value = parse(&raw);
    if value.is_none() {
        errors.add(
            field,
            format!("Giá trị không hợp lệ; chọn một trong: {expected}."),
        );
    }
    value
}

pub(super) fn attribute_schema(
    body: &Map<String, Value>,
    errors: &mut FieldErrors,
) -> Option<BTreeMap<String, AttributeHint>> {
    match body.get("attribute_schema")? {
        Value::Null => Some(BTreeMap::new()),
        Value::Object(hints) if hints.len() <= MAX_ATTRIBUTES => {
            let mut schema = BTreeMap::new();
            for (name, hint) in hints {
                let field = format!("attribute_schema.{name}");
                if !valid_attribute_name(name) {
                    errors.add(
                        &field,
                        "Tên thuộc tính: 1–64 ký tự chữ không dấu, số, _ hoặc -.",
                    );
                    continue;
                }
                match serde_json::from_value::<AttributeHint>(hint.clone()) {
                    Ok(hint) if hint.label.as_ref().is_none_or(|l| l.chars().count() <= 100) => {
                        let label = hint.label.map(|l| nfc(l.trim()));
                        schema.insert(name.clone(), AttributeHint { label, ..hint });
                    }
                    _ => errors.add(
                        &field,
                        format!(
                            "Cần {{\"type\": …, \"label\": …, \"required\": …}}; type là một trong: {}.",
                            HintType::expected()
                        ),
                    ),
                }
            }
            Some(schema)
        }
        _ => {
            errors.add(
                "attribute_schema",
                format!("Cần một đối tượng JSON, tối đa {MAX_ATTRIBUTES} thuộc tính."),
            );
            None
        }
    }
}

pub(super) fn valid_attribute_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

pub(super) fn card_number_rejected(field: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "card_number_not_allowed",
        "A full card number may not be stored; keep only its last four digits.",
    )
    .field(
        field,
        "Không được lưu số thẻ đầy đủ; chỉ lưu 4 số cuối (ví dụ \"last4\": \"1234\").",
    )
}

/// The first field holding what looks like a full card number, if any.
pub(super) fn card_number_field(body: &Map<String, Value>) -> Option<String> {
    if let Some(Value::String(reference)) = body.get("reference")
        && looks_like_card_number(reference)
    {
        return Some("reference".into());
    }
    let Some(Value::Object(attributes)) = body.get("attributes") else {
        return None;
    };
    attributes.iter().find_map(|(name, value)| {
        let suspicious = looks_like_card_number(name)
            || match value {
                Value::String(s) => looks_like_card_number(s),
                Value::Number(n) => looks_like_card_number(&n.to_string()),
                Value::Array(_) | Value::Object(_) => looks_like_card_number(&value.to_string()),
                _ => false,
            };
        suspicious.then(|| format!("attributes.{name}"))
    })
}
