//! The customer 360: profile and identifiers, consents with their evidence, holdings, next
//! actions, the timeline filterable by kind, and the quick form that logs an interaction and
//! schedules the next action in one step (seed 002 II). The profile is edited with optimistic
//! concurrency: an edit made on a stale copy is told, with what changed, and the typed values
//! are kept in the form, not lost.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use nhip_core::deps::Deps;
use nhip_core::timeline;
use nhip_crm::customers::interactions::{self, Kind, NewInteraction};
use nhip_crm::customers::model::Customer;
use nhip_crm::customers::routes::{find_visible, update};
use nhip_crm::holdings;
use nhip_crm::next_actions::{self, NewNextAction};
use nhip_domain::customer::Classification;

use crate::format;
use crate::pages::care::{ActivityRow, Choice, activity_rows};
use crate::pages::{Shell, api_error_page, form_problem, not_found, render};
use crate::session::{Staff, store_failure};

/// A labelled value of the profile.
pub struct Field {
    /// Label.
    pub label: &'static str,
    /// Value as shown.
    pub value: String,
}

/// A consent as shown.
pub struct ConsentRow {
    /// `Email · Tiếp thị`.
    pub what: String,
    /// Given or withdrawn.
    pub granted: bool,
    /// Where.
    pub source: String,
    /// When.
    pub at: String,
    /// What proves it.
    pub evidence: String,
}

/// A holding as shown.
pub struct HoldingRow {
    /// Product.
    pub product: String,
    /// Status.
    pub status: &'static str,
    /// Contract number.
    pub reference: String,
    /// Term.
    pub term: String,
    /// Amount.
    pub amount: String,
    /// Usage and reason.
    pub usage: String,
}

/// A next action as shown.
pub struct ActionRow {
    /// Kind.
    pub label: String,
    /// When.
    pub at: String,
    /// Note.
    pub note: String,
    /// Scheduled, or due.
    pub status: &'static str,
}

/// A journey the customer is (or was) in.
pub struct JourneyRow {
    /// The journey's key.
    pub journey: String,
    /// Where they are, in Vietnamese.
    pub status: &'static str,
    /// The current (or last) step.
    pub step: String,
    /// When they entered.
    pub entered: String,
}

fn enrollment_status(status: nhip_journeys::engine::EnrollmentStatus) -> &'static str {
    use nhip_journeys::engine::EnrollmentStatus;
    match status {
        EnrollmentStatus::Active => "Đang tham gia",
        EnrollmentStatus::Converted => "Đạt mục tiêu",
        EnrollmentStatus::Exited => "Đã kết thúc",
        EnrollmentStatus::Stopped => "Đã dừng",
    }
}

/// The profile form's values.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ProfileForm {
    full_name: String,
    birthday: String,
    address: String,
    classification: String,
    version: u64,
}

/// The form adding a product the customer holds.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct HoldingForm {
    product: String,
    status: String,
    reference: String,
    starts_on: String,
    expires_on: String,
    amount: String,
    usage_status: String,
    remaining_percent: String,
}

/// The quick form's values.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct QuickForm {
    kind: String,
    direction: String,
    duration_minutes: String,
    outcome: String,
    notes: String,
    feedback: String,
    classification: String,
    next_kind: String,
    next_date: String,
    next_time: String,
    next_note: String,
}

#[derive(Template)]
#[template(path = "customer.html")]
struct CustomerPage {
    shell: Shell,
    id: String,
    name: String,
    lifecycle: &'static str,
    classification: &'static str,
    owner: String,
    fields: Vec<Field>,
    consents: Vec<ConsentRow>,
    holdings: Vec<HoldingRow>,
    actions: Vec<ActionRow>,
    timeline: Vec<ActivityRow>,
    timeline_kinds: Vec<Choice>,
    profile: ProfileForm,
    profile_problem: Option<String>,
    classifications: Vec<Choice>,
    kinds: Vec<Choice>,
    outcomes: Vec<Choice>,
    next_kinds: Vec<Choice>,
    quick: QuickForm,
    quick_problem: Option<String>,
    restricted: bool,
    objected: bool,
    may_erase: bool,
    journeys: Vec<JourneyRow>,
    plans: Vec<String>,
    products: Vec<Choice>,
    holding_statuses: Vec<Choice>,
    usage_statuses: Vec<Choice>,
    holding: HoldingForm,
    holding_problem: Option<String>,
}

/// The timeline's kinds: a name for the filter, its label, and the event types it covers.
const TIMELINE_KINDS: [(&str, &str, &[&str]); 4] = [
    ("calls", "Cuộc gọi và tương tác", &["interaction.", "call."]),
    (
        "messages",
        "Tin nhắn, mở và nhấp",
        &["message.", "email.", "sms.", "zns."],
    ),
    ("journeys", "Hành trình", &["journey."]),
    (
        "staff",
        "Thay đổi của nhân viên",
        &["customer.", "holding.", "consent.", "privacy."],
    ),
];

const OUTCOMES: [(&str, &str); 5] = [
    ("answered", "Nghe máy"),
    ("no_answer", "Không nghe máy"),
    ("busy", "Máy bận"),
    ("callback_requested", "Hẹn gọi lại"),
    ("wrong_number", "Nhầm số"),
];

const NEXT_KINDS: [(&str, &str); 4] = [
    ("call", "Gọi điện"),
    ("sms", "Nhắn tin SMS"),
    ("email", "Gửi email"),
    ("meeting", "Gặp mặt"),
];

fn choices(options: &[(&str, &str)], current: &str) -> Vec<Choice> {
    crate::pages::care::choices(options.iter().copied(), current)
}

/// A form's text as JSON: trimmed, or null when blank.
fn text_or_null(text: &str) -> Value {
    let text = text.trim();
    if text.is_empty() {
        Value::Null
    } else {
        json!(text)
    }
}

fn profile_fields(customer: &Customer) -> Vec<Field> {
    let join = |items: Vec<String>| items.join(", ");
    vec![
        Field {
            label: "Điện thoại",
            value: join(
                customer
                    .phones
                    .iter()
                    .map(|p| p.as_str().to_owned())
                    .collect(),
            ),
        },
        Field {
            label: "Email",
            value: join(
                customer
                    .emails
                    .iter()
                    .map(|e| e.as_str().to_owned())
                    .collect(),
            ),
        },
        Field {
            label: "CCCD",
            value: customer
                .cccd
                .as_ref()
                .map(|c| c.masked())
                .unwrap_or_default(),
        },
        Field {
            label: "CMT (cũ)",
            value: customer
                .cmnd
                .as_ref()
                .map(|c| c.masked())
                .unwrap_or_default(),
        },
        Field {
            label: "MST",
            value: customer
                .tax_code
                .as_ref()
                .map(|t| t.as_str().to_owned())
                .unwrap_or_default(),
        },
        Field {
            label: "Ngày sinh",
            value: customer.birthday.map(format::date).unwrap_or_default(),
        },
        Field {
            label: "Địa chỉ",
            value: customer.address.clone().unwrap_or_default(),
        },
        Field {
            label: "Nguồn",
            value: customer.source.label().to_owned(),
        },
        Field {
            label: "Ngày tạo",
            value: format::date_time(customer.created_at),
        },
    ]
}

fn consent_rows(customer: &Customer) -> Vec<ConsentRow> {
    customer
        .consents
        .0
        .values()
        .map(|record| ConsentRow {
            what: format!("{} · {}", record.channel.label(), record.purpose.label()),
            granted: record.granted,
            source: record.source.clone(),
            at: format::date_time(record.at),
            evidence: record.evidence.clone(),
        })
        .collect()
}

async fn holding_rows(deps: &Deps, customer: &Customer) -> Result<Vec<HoldingRow>, Response> {
    let products = holdings::products(&*deps.store)
        .await
        .map_err(store_failure)?;
    let reasons = holdings::reasons(&*deps.store)
        .await
        .map_err(store_failure)?;
    let held = holdings::holdings_of(&*deps.store, customer.id)
        .await
        .map_err(store_failure)?;
    Ok(held
        .into_iter()
        .map(|holding| {
            let term = match (holding.starts_on, holding.expires_on) {
                (Some(start), Some(end)) => {
                    format!("{} – {}", format::date(start), format::date(end))
                }
                (None, Some(end)) => format!("đến {}", format::date(end)),
                (Some(start), None) => format!("từ {}", format::date(start)),
                (None, None) => String::new(),
            };
            let mut usage = holding
                .usage_status
                .map(|u| u.label().to_owned())
                .unwrap_or_default();
            if let Some(code) = &holding.usage_reason {
                let reason = reasons
                    .get(code)
                    .map_or(code.as_str(), |r| r.label.as_str());
                usage = format!("{usage} ({reason})");
            }
            HoldingRow {
                product: products
                    .get(&holding.product)
                    .map_or(holding.product.clone(), |p| p.name.clone()),
                status: holding.status.label(),
                reference: holding.reference.clone().unwrap_or_default(),
                term,
                amount: holding.amount.map(format::money).unwrap_or_default(),
                usage,
            }
        })
        .collect())
}

fn action_rows(items: &[Value]) -> Vec<ActionRow> {
    items
        .iter()
        .map(|item| {
            let text = |name: &str| item.get(name).and_then(Value::as_str).unwrap_or_default();
            ActionRow {
                label: text("label").to_owned(),
                at: chrono::DateTime::parse_from_rfc3339(text("at"))
                    .map(|at| format::date_time(at.to_utc()))
                    .unwrap_or_default(),
                note: text("note").to_owned(),
                status: if text("status") == "due" {
                    "Đến hạn"
                } else {
                    "Đã lên lịch"
                },
            }
        })
        .collect()
}

/// What a page render needs besides the customer.
#[derive(Default)]
struct Forms {
    profile: Option<ProfileForm>,
    profile_problem: Option<String>,
    quick: Option<QuickForm>,
    quick_problem: Option<String>,
    holding: Option<HoldingForm>,
    holding_problem: Option<String>,
    timeline_kind: String,
    flash: Option<String>,
}

/// Each instalment plan in a line: its terms, where it stands, the next instalment to pay.
fn plan_lines(plans: &[nhip_contracts::plans::Plan], today: chrono::NaiveDate) -> Vec<String> {
    plans
        .iter()
        .map(|plan| {
            let standing = plan.standing(today);
            let overdue = standing
                .iter()
                .filter(|s| s.state == nhip_domain::installment::InstalmentState::Overdue)
                .count();
            let next = standing.iter().find(|s| s.outstanding > 0).map_or_else(
                || "đã trả hết".to_owned(),
                |s| {
                    format!(
                        "kỳ {} đến hạn {}: {}",
                        s.seq,
                        format::date(s.due_on),
                        format::money(s.outstanding)
                    )
                },
            );
            let late = if overdue > 0 {
                format!(" · quá hạn {overdue} kỳ")
            } else {
                String::new()
            };
            format!(
                "{} · {} tháng · {} · {}{late}",
                format::money(plan.terms.principal),
                plan.terms.months,
                plan.status.label(),
                next
            )
        })
        .collect()
}

async fn show(deps: &Deps, staff: &Staff, customer: &Customer, forms: Forms) -> Response {
    let mut shell = match Shell::load(deps, staff, "").await {
        Ok(shell) => shell,
        Err(response) => return response,
    };
    if let Some(flash) = forms.flash {
        shell = shell.flash(flash);
    }
    let holdings = match holding_rows(deps, customer).await {
        Ok(rows) => rows,
        Err(response) => return response,
    };
    let catalogue = match holdings::products(&*deps.store).await {
        Ok(products) => products,
        Err(error) => return store_failure(error),
    };
    let holding = forms.holding.unwrap_or_else(|| HoldingForm {
        status: "active".into(),
        ..HoldingForm::default()
    });
    let product_options: Vec<(&str, &str)> = catalogue
        .values()
        .filter(|p| p.active)
        .map(|p| (p.code.as_str(), p.name.as_str()))
        .collect();
    // A renewal is an action on the contract, never a status typed in.
    let status_options: Vec<(&str, &str)> = holdings::HoldingStatus::ALL
        .iter()
        .filter(|s| **s != holdings::HoldingStatus::Renewed)
        .map(|s| (s.as_str(), s.label()))
        .collect();
    let usage_options: Vec<(&str, &str)> = nhip_domain::customer::UsageStatus::ALL
        .iter()
        .map(|u| (u.as_str(), u.label()))
        .collect();
    let actions = match next_actions::of_customer(deps, customer.id).await {
        Ok(items) => action_rows(&items),
        Err(error) => return store_failure(error),
    };
    let mut enrollments = match nhip_journeys::engine::of_customer(deps, customer.id, None).await {
        Ok(enrollments) => enrollments,
        Err(error) => return store_failure(error),
    };
    enrollments.sort_by_key(|e| std::cmp::Reverse(e.entered_at));
    let journeys = enrollments
        .iter()
        .map(|e| JourneyRow {
            journey: e.journey.clone(),
            status: enrollment_status(e.status),
            step: e.step.clone(),
            entered: format::date_time(e.entered_at),
        })
        .collect();
    let plans = match nhip_contracts::plans::plans_of(deps, customer).await {
        Ok(plans) => plan_lines(&plans, nhip_domain::time::vn_date(deps.clock.now())),
        Err(error) => return store_failure(error),
    };
    let (entries, _) = match timeline::page(&*deps.store, customer.id, 100, None).await {
        Ok(page) => page,
        Err(error) => return store_failure(error),
    };
    let prefixes: &[&str] = TIMELINE_KINDS
        .iter()
        .find(|(name, _, _)| *name == forms.timeline_kind)
        .map_or(&[], |(_, _, prefixes)| *prefixes);
    let entries: Vec<_> = entries
        .into_iter()
        .filter(|entry| {
            prefixes.is_empty() || prefixes.iter().any(|p| entry.event_type.starts_with(p))
        })
        .take(50)
        .collect();
    let profile = forms.profile.unwrap_or_else(|| ProfileForm {
        full_name: customer.full_name.clone(),
        birthday: customer.birthday.map(format::date).unwrap_or_default(),
        address: customer.address.clone().unwrap_or_default(),
        classification: customer
            .classification
            .map(|c| c.as_str().to_owned())
            .unwrap_or_default(),
        version: customer.version,
    });
    let quick = forms.quick.unwrap_or_else(|| QuickForm {
        kind: "call".into(),
        direction: "outbound".into(),
        outcome: "answered".into(),
        next_kind: "call".into(),
        ..QuickForm::default()
    });
    let classification_options: Vec<(&str, &str)> = Classification::ALL
        .iter()
        .map(|c| (c.as_str(), c.label()))
        .collect();
    let kind_options: Vec<(&str, &str)> =
        Kind::ALL.iter().map(|k| (k.as_str(), k.label())).collect();
    let timeline_options: Vec<(&str, &str)> = TIMELINE_KINDS
        .iter()
        .map(|(name, label, _)| (*name, *label))
        .collect();
    render(&CustomerPage {
        shell,
        id: customer.id.to_string(),
        name: customer.full_name.clone(),
        lifecycle: customer.lifecycle.label(),
        classification: customer.classification.map_or("", |c| c.label()),
        owner: customer.owner.clone().unwrap_or_default(),
        fields: profile_fields(customer),
        consents: consent_rows(customer),
        holdings,
        actions,
        timeline: activity_rows(&entries),
        timeline_kinds: choices(&timeline_options, &forms.timeline_kind),
        classifications: choices(&classification_options, &profile.classification),
        kinds: choices(&kind_options, &quick.kind),
        outcomes: choices(&OUTCOMES, &quick.outcome),
        next_kinds: choices(&NEXT_KINDS, &quick.next_kind),
        profile,
        profile_problem: forms.profile_problem,
        quick,
        quick_problem: forms.quick_problem,
        restricted: customer.processing_restricted,
        objected: customer.marketing_objected,
        journeys,
        plans,
        products: choices(&product_options, &holding.product),
        holding_statuses: choices(&status_options, &holding.status),
        usage_statuses: choices(&usage_options, &holding.usage_status),
        holding,
        holding_problem: forms.holding_problem,
        may_erase: matches!(
            staff.principal.role,
            nhip_core::auth::Role::Admin | nhip_core::auth::Role::Manager
        ),
    })
}

async fn visible(deps: &Deps, staff: &Staff, id: &str) -> Result<Customer, Response> {
    match find_visible(deps, &staff.principal, id).await {
        Ok(Some(customer)) if customer.erased_at.is_none() => Ok(customer),
        Ok(_) => Err(not_found()),
        Err(error) => Err(store_failure(error)),
    }
}

#[derive(Deserialize)]
pub struct ShowQuery {
    kind: Option<String>,
    saved: Option<String>,
}

/// `GET /app/customers/{id}`.
pub async fn page(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    Path(id): Path<String>,
    Query(query): Query<ShowQuery>,
) -> Response {
    let customer = match visible(&deps, &staff, &id).await {
        Ok(customer) => customer,
        Err(response) => return response,
    };
    let flash = query.saved.as_deref().map(|what| match what {
        "profile" => "Đã lưu hồ sơ.".to_owned(),
        "privacy" => "Đã ghi nhận yêu cầu về dữ liệu cá nhân.".to_owned(),
        "holding" => "Đã thêm sản phẩm.".to_owned(),
        _ => "Đã ghi nhận.".to_owned(),
    });
    let forms = Forms {
        timeline_kind: query.kind.unwrap_or_default(),
        flash,
        ..Forms::default()
    };
    show(&deps, &staff, &customer, forms).await
}

/// `POST /app/customers/{id}/profile`: saves the profile if nobody changed it meanwhile.
pub async fn save_profile(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<ProfileForm>,
) -> Response {
    let error = match update(&deps, &staff.principal, &id, &profile_body(&form)).await {
        Ok(_) => {
            return Redirect::to(&format!("/app/customers/{id}?saved=profile")).into_response();
        }
        Err(error) => error,
    };
    let status = error.status;
    if !matches!(
        status,
        StatusCode::CONFLICT | StatusCode::UNPROCESSABLE_ENTITY | StatusCode::BAD_REQUEST
    ) {
        return api_error_page(error);
    }
    let current = match visible(&deps, &staff, &id).await {
        Ok(customer) => customer,
        Err(response) => return response,
    };
    let (problem, form) = if status == StatusCode::CONFLICT {
        // Told, not lost: what was typed stays in the form, now at the current version, so a
        // second save is a deliberate overwrite.
        let problem = format!(
            "Hồ sơ vừa được người khác cập nhật (tên hiện tại: {}). Nội dung bạn nhập vẫn được giữ bên dưới; kiểm tra rồi bấm Lưu lần nữa để ghi đè.",
            current.full_name
        );
        let version = current.version;
        (problem, ProfileForm { version, ..form })
    } else {
        (form_problem(&error), form)
    };
    let forms = Forms {
        profile: Some(form),
        profile_problem: Some(problem),
        ..Forms::default()
    };
    let mut response = show(&deps, &staff, &current, forms).await;
    *response.status_mut() = if status == StatusCode::CONFLICT {
        StatusCode::CONFLICT
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    response
}

/// The profile form as the update use case's body; blank fields clear.
fn profile_body(form: &ProfileForm) -> Map<String, Value> {
    let birthday = match crate::format::parse_date(&form.birthday) {
        Some(date) => json!(date.format("%Y-%m-%d").to_string()),
        // Not a date: sent as typed, for the use case to name the problem.
        None => text_or_null(&form.birthday),
    };
    let mut body = Map::new();
    body.insert("version".into(), json!(form.version));
    body.insert("full_name".into(), json!(form.full_name.trim()));
    body.insert("birthday".into(), birthday);
    body.insert("address".into(), text_or_null(&form.address));
    body.insert("classification".into(), text_or_null(&form.classification));
    body
}

/// The interaction the quick form describes, or the problem with it.
fn interaction_of(form: &QuickForm) -> Result<NewInteraction, String> {
    let is_call = form.kind == "call";
    let duration = match form.duration_minutes.trim() {
        "" => Value::Null,
        raw => match raw.replace(',', ".").parse::<f64>() {
            Ok(minutes) if minutes >= 0.0 => json!((minutes * 60.0).round() as u64),
            _ => return Err("Thời lượng: nhập số phút.".into()),
        },
    };
    let request = json!({
        "type": form.kind,
        "direction": if is_call { text_or_null(&form.direction) } else { Value::Null },
        "outcome": if is_call { text_or_null(&form.outcome) } else { Value::Null },
        "duration_seconds": duration,
        "notes": text_or_null(&form.notes),
        "feedback": text_or_null(&form.feedback),
        "classification": text_or_null(&form.classification),
    });
    serde_json::from_value(request).map_err(|_| "Loại tương tác hoặc kết quả không hợp lệ.".into())
}

/// The next action the quick form asks for, if any, or the problem with it.
fn next_action_of(form: &QuickForm) -> Result<Option<NewNextAction>, String> {
    if form.next_date.trim().is_empty() {
        return Ok(None);
    }
    let at = crate::format::parse_local(&form.next_date, &form.next_time)?;
    let request = json!({
        "type": form.next_kind,
        "at": at,
        "note": text_or_null(&form.next_note),
    });
    serde_json::from_value(request)
        .map(Some)
        .map_err(|_| "Loại hẹn không hợp lệ.".into())
}

/// `POST /app/customers/{id}/interactions`: logs the interaction and, when a date is given,
/// schedules the next action; the first interaction moves a new lead to "KH đang tư vấn".
pub async fn log_interaction(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<QuickForm>,
) -> Response {
    let customer = match visible(&deps, &staff, &id).await {
        Ok(customer) => customer,
        Err(response) => return response,
    };
    let checked = interaction_of(&form).and_then(|i| next_action_of(&form).map(|n| (i, n)));
    let (interaction, next) = match checked {
        Ok(checked) => checked,
        Err(problem) => return refused_quick(&deps, &staff, &customer, form, problem).await,
    };
    if let Some(next) = &next
        && next.at < deps.clock.now()
    {
        return refused_quick(
            &deps,
            &staff,
            &customer,
            form,
            "Lịch hẹn phải ở tương lai.".into(),
        )
        .await;
    }
    if let Err(error) = interactions::log(&deps, &staff.principal, &id, &interaction).await {
        if error.status.is_client_error() && error.status != StatusCode::NOT_FOUND {
            return refused_quick(&deps, &staff, &customer, form, form_problem(&error)).await;
        }
        return api_error_page(error);
    }
    if let Some(next) = &next
        && let Err(error) = next_actions::schedule(&deps, &staff.principal, customer.id, next).await
    {
        let error = nhip_core::http::ApiError::from(error);
        let problem = format!(
            "Đã ghi nhận tương tác, nhưng chưa đặt được lịch hẹn: {}",
            form_problem(&error)
        );
        return refused_quick(&deps, &staff, &customer, form, problem).await;
    }
    Redirect::to(&format!("/app/customers/{id}?saved=interaction")).into_response()
}

async fn refused_quick(
    deps: &Deps,
    staff: &Staff,
    customer: &Customer,
    form: QuickForm,
    problem: String,
) -> Response {
    let forms = Forms {
        quick: Some(form),
        quick_problem: Some(problem),
        ..Forms::default()
    };
    let mut response = show(deps, staff, customer, forms).await;
    *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    response
}

/// `POST /app/customers/{id}/holdings`: adds a product the customer holds (a contract, a card,
/// a subscription), through the same checks as the API.
pub async fn add_holding(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<HoldingForm>,
) -> Response {
    let customer = match visible(&deps, &staff, &id).await {
        Ok(customer) => customer,
        Err(response) => return response,
    };
    let problem = match holding_body(&form) {
        Err(problem) => problem,
        Ok(body) => match holdings::changes::add(&deps, &staff.principal, &id, &body).await {
            Ok(_) => {
                return Redirect::to(&format!("/app/customers/{id}?saved=holding")).into_response();
            }
            Err(error) => {
                let error = nhip_core::http::ApiError::from(error);
                if !error.status.is_client_error() || error.status == StatusCode::NOT_FOUND {
                    return api_error_page(error);
                }
                form_problem(&error)
            }
        },
    };
    let forms = Forms {
        holding: Some(form),
        holding_problem: Some(problem),
        ..Forms::default()
    };
    let mut response = show(&deps, &staff, &customer, forms).await;
    *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    response
}

/// The holding form as the add use case's body, or the problem with an amount or share.
fn holding_body(form: &HoldingForm) -> Result<Map<String, Value>, String> {
    let mut body = Map::new();
    for (name, value) in [
        ("product", &form.product),
        ("status", &form.status),
        ("reference", &form.reference),
        ("starts_on", &form.starts_on),
        ("expires_on", &form.expires_on),
        ("usage_status", &form.usage_status),
    ] {
        if !value.trim().is_empty() {
            body.insert(name.into(), json!(value.trim()));
        }
    }
    let amount = form.amount.replace(['.', ' ', '₫'], "");
    if !amount.is_empty() {
        let amount = amount
            .parse::<i64>()
            .map_err(|_| "Giá trị: nhập số tiền (đồng).".to_owned())?;
        body.insert("amount".into(), json!(amount));
    }
    let remaining = form.remaining_percent.trim().replace(',', ".");
    if !remaining.is_empty() {
        match remaining.parse::<f64>() {
            Ok(percent) if (0.0..=100.0).contains(&percent) => {
                body.insert("remaining_invoice_ratio".into(), json!(percent / 100.0));
            }
            _ => return Err("Hoá đơn còn lại: nhập phần trăm từ 0 đến 100.".to_owned()),
        }
    }
    Ok(body)
}
