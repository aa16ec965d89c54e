//! What a change does to a holding and its customer: the fields staff set read onto the
//! holding and checked against its product, the customer's lifecycle and profile after it, and
//! the writes of one change (holding, profile, audit and timeline entries).

use chrono::{DateTime, NaiveDate, Utc};
use nhip_domain::customer::{Lifecycle, UsageStatus};
use nhip_domain::person::nfc;
use serde_json::{Map, Value, json};

use crate::customers::model::{Customer, HoldingSummary};

use nhip_core::auth::Principal;
use nhip_core::form::{FieldErrors, parse_date, text};
use nhip_core::keys;
use nhip_core::records::to_item;
use nhip_core::timeline;
use nhip_ports::store::{Condition, StoreError, WriteOp};

use super::fields::*;
use super::model::*;
use super::views::Reasons;
use super::{HOLDING_KIND, MAX_AMOUNT, MAX_ATTRIBUTES};

/// Fields of a holding staff set on creation; all but `product` may change later.
pub(super) const HOLDING_FIELDS: &[&str] = &[
    "product",
    "status",
    "reference",
    "starts_on",
    "expires_on",
    "amount",
    "usage_status",
    "usage_reason",
    "remaining_invoice_ratio",
    "attributes",
];

pub(super) fn optional_date(
    body: &Map<String, Value>,
    field: &str,
    errors: &mut FieldErrors,
) -> Option<Option<NaiveDate>> {
    if !body.contains_key(field) {
        return None;
    }
    match text(body, field, errors) {
        None => Some(None),
        Some(raw) => match parse_date(&raw) {
            Some(date) => Some(Some(date)),
            None => {
                errors.add(field, "Ngày cần dạng YYYY-MM-DD hoặc DD/MM/YYYY.");
                None
            }
        },
    }
}

/// Applies the holding fields present in `body` (all but `product`) to `holding`, checking
/// each and then the whole. Absent fields stay; `null` clears an optional one. `attributes`
/// merges: a key set to `null` is removed. The reason is checked against the catalogue when
/// the usage status or the reason changes (a reason deactivated later stays where it is).
pub(super) fn apply_holding_fields(
    holding: &mut Holding,
    body: &Map<String, Value>,
    product: &Product,
    reasons: &Reasons,
    enforce_transitions: bool,
    errors: &mut FieldErrors,
) {
    let before = holding.clone();
    if let Some(status) = enumerated(
        body,
        "status",
        errors,
        HoldingStatus::parse,
        HoldingStatus::expected(),
    ) {
        if enforce_transitions && !before.status.may_become(status) {
            errors.add(
                "status",
                format!(
                    "Không thể chuyển từ \"{}\" sang \"{}\".",
                    before.status.label(),
                    status.label()
                ),
            );
        }
        holding.status = status;
    } else if body.get("status").is_some_and(Value::is_null) {
        errors.add("status", "Vui lòng chọn trạng thái.");
    }
    if body.contains_key("reference") {
        holding.reference = label_text(body, "reference", 100, errors);
    }
    if let Some(date) = optional_date(body, "starts_on", errors) {
        holding.starts_on = date;
    }
    if let Some(date) = optional_date(body, "expires_on", errors) {
        holding.expires_on = date;
    }
    if let (Some(start), Some(end)) = (holding.starts_on, holding.expires_on)
        && end < start
    {
        errors.add("expires_on", "Ngày hết hạn phải sau ngày bắt đầu.");
    }
    match body.get("amount") {
        None => {}
        Some(Value::Null) => holding.amount = None,
        Some(value) => match value.as_i64() {
            Some(amount) if (0..=MAX_AMOUNT).contains(&amount) => holding.amount = Some(amount),
            _ => errors.add("amount", "Số tiền tính bằng đồng: một số nguyên không âm."),
        },
    }
    match body.get("remaining_invoice_ratio") {
        None => {}
        Some(Value::Null) => holding.remaining_invoice_ratio = None,
        Some(value) => match value.as_f64() {
            Some(ratio) if (0.0..=1.0).contains(&ratio) => {
                holding.remaining_invoice_ratio = Some(ratio);
            }
            _ => errors.add(
                "remaining_invoice_ratio",
                "Tỷ lệ hoá đơn còn lại là một số từ 0 đến 1.",
            ),
        },
    }
    let usage_given = body.contains_key("usage_status");
    let reason_given = body.contains_key("usage_reason");
    if usage_given {
        holding.usage_status = match body.get("usage_status") {
            Some(Value::Null) => None,
            _ => match text(body, "usage_status", errors).map(|raw| raw.parse::<UsageStatus>()) {
                Some(Ok(status)) => Some(status),
                Some(Err(e)) => {
                    errors.add("usage_status", e.to_string());
                    before.usage_status
                }
                None => None,
            },
        };
    }
    if reason_given {
        holding.usage_reason = match body.get("usage_reason") {
            Some(Value::Null) => None,
            _ => match text(body, "usage_reason", errors) {
                None => None,
                Some(raw) => match normalise_code(&raw) {
                    Some(code) => Some(code),
                    None => {
                        errors.add("usage_reason", "Mã lý do không hợp lệ.");
                        None
                    }
                },
            },
        };
    } else if usage_given && holding.usage_status != before.usage_status {
        // The old reason explained the old status: keep it only if it explains the new one.
        let still_applies = holding.usage_status.is_some_and(|s| {
            holding
                .usage_reason
                .as_ref()
                .and_then(|r| reasons.get(r))
                .is_some_and(|r| r.applies_to.covers(s))
        });
        if !still_applies {
            holding.usage_reason = None;
        }
    }
    if reason_given && let Some(code) = &holding.usage_reason {
        match (holding.usage_status, reasons.get(code)) {
            (None | Some(UsageStatus::Using), _) => errors.add(
                "usage_reason",
                "Chỉ ghi lý do khi trạng thái sử dụng là \"Chưa sử dụng\" hoặc \"Ngưng sử dụng\".",
            ),
            (_, None) => errors.add("usage_reason", "Không có lý do này trong danh mục."),
            (_, Some(reason)) if !reason.active => {
                errors.add("usage_reason", "Lý do này đã ngưng áp dụng.");
            }
            (Some(status), Some(reason)) if !reason.applies_to.covers(status) => errors.add(
                "usage_reason",
                format!(
                    "Lý do này không áp dụng cho trạng thái \"{}\".",
                    status.label()
                ),
            ),
            _ => {}
        }
    }
    match body.get("attributes") {
        None => {}
        Some(Value::Null) => holding.attributes = Map::new(),
        Some(Value::Object(changes)) => {
            for (name, value) in changes {
                let field = format!("attributes.{name}");
                if !valid_attribute_name(name) {
                    errors.add(
                        &field,
                        "Tên thuộc tính: 1–64 ký tự chữ không dấu, số, _ hoặc -.",
                    );
                    continue;
                }
                match value {
                    Value::Null => {
                        holding.attributes.remove(name);
                    }
                    Value::String(s) if s.chars().count() <= 500 => {
                        holding
                            .attributes
                            .insert(name.clone(), Value::String(nfc(s.trim())));
                    }
                    Value::Bool(_) | Value::Number(_) => {
                        holding.attributes.insert(name.clone(), value.clone());
                    }
                    _ => errors.add(
                        &field,
                        "Giá trị là chữ (tối đa 500 ký tự), số hoặc true/false.",
                    ),
                }
            }
            if holding.attributes.len() > MAX_ATTRIBUTES {
                errors.add("attributes", format!("Tối đa {MAX_ATTRIBUTES} thuộc tính."));
            }
        }
        Some(_) => errors.add("attributes", "Cần một đối tượng JSON."),
    }
    check_attributes(holding, product, errors);
    check_contract_course(&before, holding, product, enforce_transitions, errors);
}

/// Attribute names that would put a rate or a fee on an investment contract by hand: its terms
/// come from the product's rates when it is signed.
const RATE_ATTRIBUTES: &[&str] = &[
    "lai_suat",
    "laisuat",
    "rate",
    "interest_rate",
    "base_rate",
    "phi",
    "muc_phi",
    "fee",
    "fee_rate",
    "fee_tier",
];

/// An investment contract follows its actions: only a renewal sets `renewed`; staff who are
/// not admins activate, settle and renew it with the contract actions (each audited), not by
/// editing its status, maturity or principal; no one writes a rate or fee as an attribute.
fn check_contract_course(
    before: &Holding,
    holding: &Holding,
    product: &Product,
    enforce_transitions: bool,
    errors: &mut FieldErrors,
) {
    if holding.status == HoldingStatus::Renewed && before.status != HoldingStatus::Renewed {
        errors.add("status", "Gia hạn bằng thao tác \"Gia hạn hợp đồng\".");
    }
    if product.kind != ProductKind::Investment {
        return;
    }
    for name in holding.attributes.keys() {
        if RATE_ATTRIBUTES.contains(&name.to_lowercase().replace('-', "_").as_str())
            && before.attributes.get(name) != holding.attributes.get(name)
        {
            errors.add(
                &format!("attributes.{name}"),
                "Lãi suất và mức phí lấy từ cài đặt của sản phẩm khi ký hợp đồng; chỉ quản trị viên đổi được cài đặt.",
            );
        }
    }
    if !enforce_transitions || before.contract.is_none() {
        return;
    }
    if holding.status != before.status {
        errors.add(
            "status",
            "Dùng các thao tác hợp đồng: Kích hoạt, Tất toán, Gia hạn.",
        );
    }
    if before.status == HoldingStatus::Active
        && (holding.expires_on != before.expires_on || holding.amount != before.amount)
    {
        errors.add(
            "expires_on",
            "Hợp đồng đang hiệu lực: đổi kỳ hạn hay tiền gốc bằng thao tác \"Gia hạn hợp đồng\".",
        );
    }
}

/// Kind-specific rules and the product's hints on the holding's attributes.
pub(super) fn check_attributes(holding: &Holding, product: &Product, errors: &mut FieldErrors) {
    let four_digits = |v: &Value| {
        v.as_str()
            .is_some_and(|s| s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit()))
    };
    if holding.product_kind == ProductKind::Card
        && let Some(last4) = holding.attributes.get("last4")
        && !four_digits(last4)
    {
        errors.add(
            "attributes.last4",
            "Cần đúng 4 chữ số cuối của thẻ, dạng chuỗi.",
        );
    }
    for (name, hint) in &product.attribute_schema {
        let field = format!("attributes.{name}");
        let Some(value) = holding.attributes.get(name) else {
            if hint.required {
                errors.add(&field, "Thuộc tính bắt buộc của sản phẩm này.");
            }
            continue;
        };
        let fits = match hint.value_type {
            HintType::Text => value.is_string(),
            HintType::Number => value.is_number(),
            HintType::Integer => value.is_i64() || value.is_u64(),
            HintType::Date => value.as_str().and_then(parse_date).is_some(),
            HintType::Boolean => value.is_boolean(),
            HintType::Last4 => four_digits(value),
        };
        if !fits {
            errors.add(
                &field,
                format!("Cần giá trị kiểu \"{}\".", hint.value_type.label()),
            );
        }
    }
}

/// The lifecycle a customer moves to once their holdings are `holdings`: an `active` holding
/// makes a lead (or a former customer who signs again) a customer; a customer whose holdings
/// are all settled or cancelled, at least one settled, becomes `former`.
pub fn lifecycle_after(current: Lifecycle, holdings: &[HoldingSummary]) -> Lifecycle {
    let is = |h: &HoldingSummary, s: HoldingStatus| h.status == s.as_str();
    let any_active = holdings.iter().any(|h| is(h, HoldingStatus::Active));
    let all_closed = holdings.iter().all(|h| {
        is(h, HoldingStatus::Settled)
            || is(h, HoldingStatus::Cancelled)
            || is(h, HoldingStatus::Renewed)
    });
    let any_settled = holdings.iter().any(|h| is(h, HoldingStatus::Settled));
    match current {
        Lifecycle::New | Lifecycle::Consulting | Lifecycle::Former if any_active => {
            Lifecycle::Customer
        }
        Lifecycle::Customer if all_closed && any_settled => Lifecycle::Former,
        other => other,
    }
}

/// The profile after a holding changed: its summary replaced (or added), the lifecycle moved.
pub(super) fn profile_with(before: &Customer, holding: &Holding, now: DateTime<Utc>) -> Customer {
    let mut after = before.clone();
    let summary = holding.summary();
    match after.holdings.iter_mut().find(|h| h.id == holding.id) {
        Some(existing) => *existing = summary,
        None => after.holdings.push(summary),
    }
    after.lifecycle = lifecycle_after(before.lifecycle, &after.holdings);
    after.updated_at = now;
    after.last_activity_at = Some(before.last_activity_at.map_or(now, |last| last.max(now)));
    after
}

/// The writes that go with a holding change: the holding (create-only, or conditional on the
/// version read), its timeline entry, a lifecycle entry when the lifecycle moved, and checks
/// that the product and a newly chosen reason are still active when the transaction commits.
#[allow(clippy::too_many_arguments)]
pub(super) fn holding_writes(
    before_customer: &Customer,
    after_customer: &Customer,
    holding: &Holding,
    previous_version: Option<u64>,
    event_type: &str,
    data: Value,
    principal: &Principal,
    check_reason: bool,
    now: DateTime<Utc>,
) -> Result<(Vec<WriteOp>, Vec<timeline::Entry>), StoreError> {
    let key = keys::holding(holding.customer_id, &holding.id);
    let mut ops = vec![WriteOp::Put {
        item: to_item(key, HOLDING_KIND, holding)?,
        condition: match previous_version {
            None => Condition::NotExists,
            Some(version) => Condition::version_is(version),
        },
    }];
    let cause = format!("holding#{}#v{}", holding.id, holding.version);
    let entry = |event_type: &str, cause: String, data: Value| timeline::Entry {
        customer: holding.customer_id,
        at: now,
        cause,
        event_type: event_type.to_owned(),
        source: "staff_api".into(),
        actor: Some(principal.user.clone()),
        data,
    };
    let mut entries = vec![entry(event_type, cause.clone(), data)];
    if after_customer.lifecycle != before_customer.lifecycle {
        entries.push(entry(
            nhip_core::event_types::CUSTOMER_LIFECYCLE_CHANGED,
            format!("{cause}#lifecycle"),
            json!({
                "from": before_customer.lifecycle,
                "to": after_customer.lifecycle,
                "to_label": after_customer.lifecycle.label(),
                "holding_id": holding.id,
            }),
        ));
    }
    ops.extend(entries.iter().map(|e| e.write(now)));
    if previous_version.is_none() {
        ops.push(WriteOp::Check {
            key: keys::catalogue_product(&holding.product),
            condition: Condition::Equals("active".into(), Value::Bool(true)),
        });
    }
    if check_reason && let Some(reason) = &holding.usage_reason {
        ops.push(WriteOp::Check {
            key: keys::usage_reason(reason),
            condition: Condition::Equals("active".into(), Value::Bool(true)),
        });
    }
    Ok((ops, entries))
}

/// What the timeline records of a holding: never its attributes (they may hold card data).
pub(super) fn timeline_data(holding: &Holding, changed: Option<Vec<&String>>) -> Value {
    let mut data = json!({
        "holding_id": holding.id,
        "product": holding.product,
        "status": holding.status,
        "usage_status": holding.usage_status,
        "usage_reason": holding.usage_reason,
        "expires_on": holding.expires_on,
    });
    if let Some(changed) = changed {
        data["fields"] = json!(changed);
    }
    data
}
