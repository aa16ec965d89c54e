//! Reading the fields of a JSON or form body one by one, collecting a problem per field in
//! Vietnamese (the people filling in forms read them), answered together as one 422. Used by
//! the lead form, the staff forms over customers and holdings, and the import's rows.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use nhip_domain::customer::{Channel, ConsentRecord, Purpose};
use nhip_domain::person::nfc;
use serde_json::{Map, Value};

use crate::http::ApiError;

/// Field-level problems, in Vietnamese (the people filling in forms read them).
#[derive(Debug, Default)]
pub struct FieldErrors(pub BTreeMap<String, String>);

impl FieldErrors {
    /// Records a problem with `field`.
    pub fn add(&mut self, field: &str, problem: impl Into<String>) {
        self.0
            .entry(field.to_owned())
            .or_insert_with(|| problem.into());
    }

    /// The 422 answer, if there is any problem.
    pub fn into_result(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            return Ok(());
        }
        Err(self.into_error())
    }

    /// The 422 answer naming these problems (`validation_failed`).
    pub fn into_error(self) -> ApiError {
        let mut error = ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "Thông tin chưa hợp lệ; xem chi tiết từng trường.",
        );
        error.fields = self.0;
        error
    }
}

/// The 422 answer for one field's problem.
pub fn invalid(field: &str, problem: impl Into<String>) -> ApiError {
    let mut errors = FieldErrors::default();
    errors.add(field, problem);
    errors.into_error()
}

/// A text field: trimmed, NFC, `None` when absent or blank; a non-string is a field error.
pub fn text(body: &Map<String, Value>, field: &str, errors: &mut FieldErrors) -> Option<String> {
    match body.get(field) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            let s = nfc(s.trim());
            (!s.is_empty()).then_some(s)
        }
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(_) => {
            errors.add(field, "Trường này phải là chuỗi ký tự.");
            None
        }
    }
}

/// A date `YYYY-MM-DD` or `DD/MM/YYYY` (how Vietnamese forms write it).
pub fn parse_date(value: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(value, "%d/%m/%Y"))
        .ok()
}

/// A birthday: a date in the past, after 1900.
pub fn parse_birthday(value: &str, today: NaiveDate) -> Result<NaiveDate, &'static str> {
    let date = parse_date(value).ok_or("Ngày sinh cần dạng YYYY-MM-DD hoặc DD/MM/YYYY.")?;
    if date > today || date.year_ce().1 < 1900 {
        return Err("Ngày sinh không hợp lệ.");
    }
    Ok(date)
}

use chrono::Datelike as _;

/// Consent decisions in a submission: `["email:marketing", …]`, `"email:marketing,sms:care"`,
/// or `[{"channel": "email", "purpose": "marketing", "granted": true}, …]`.
pub fn parse_consents(
    value: Option<&Value>,
    source: &str,
    evidence: &str,
    at: DateTime<Utc>,
    errors: &mut FieldErrors,
) -> Vec<ConsentRecord> {
    let items: Vec<Value> = match value {
        None | Some(Value::Null) => return Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(Value::String(s)) => s
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|s| Value::String(s.trim().to_owned()))
            .collect(),
        Some(_) => {
            errors.add("consents", "Cần một danh sách như [\"email:marketing\"].");
            return Vec::new();
        }
    };
    let mut records = Vec::new();
    for item in items {
        let parsed = match &item {
            Value::String(pair) => pair.split_once(':').and_then(|(c, p)| {
                Some((
                    c.trim().parse::<Channel>().ok()?,
                    p.trim().parse::<Purpose>().ok()?,
                    true,
                ))
            }),
            Value::Object(o) => (|| {
                let channel = o.get("channel")?.as_str()?.parse::<Channel>().ok()?;
                let purpose = o.get("purpose")?.as_str()?.parse::<Purpose>().ok()?;
                let granted = match o.get("granted") {
                    None => true,
                    Some(v) => v.as_bool()?,
                };
                Some((channel, purpose, granted))
            })(),
            _ => None,
        };
        match parsed {
            Some((channel, purpose, granted)) => records.push(ConsentRecord {
                channel,
                purpose,
                granted,
                source: source.to_owned(),
                at,
                evidence: evidence.to_owned(),
            }),
            None => errors.add(
                "consents",
                format!(
                    "Mỗi mục cần dạng kênh:mục đích; kênh: {}; mục đích: {}.",
                    Channel::expected(),
                    Purpose::expected()
                ),
            ),
        }
    }
    records
}
