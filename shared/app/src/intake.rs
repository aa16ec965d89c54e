//! Public lead intake (the `lead-intake` function; no staff login): website forms and landing
//! pages post leads here, as JSON or as a plain HTML form. Every rejection is a 4xx with a
//! field-level body and stores nothing; a repeat submission updates the existing customer.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::{DateTime, NaiveDate, Utc};
use nhip_domain::customer::{Attribution, Channel, ConsentRecord, Purpose, Source};
use nhip_domain::identifiers::{Email, Phone};
use nhip_domain::person::{Gender, PersonName, nfc};
use serde_json::{Map, Value, json};

use crate::customers::leads::{self, Lead, Outcome};
use crate::customers::repo::SaveError;
use crate::deps::Deps;
use crate::http::ApiError;
use crate::ports::store::{Condition, Key, Update};

/// Largest lead submission accepted, in bytes: a form is a few hundred bytes.
pub const MAX_LEAD_BYTES: usize = 16 * 1024;

/// Longest free-text message kept from a form.
const MAX_MESSAGE_CHARS: usize = 2000;

/// Longest campaign or page field kept.
const MAX_ATTRIBUTION_CHARS: usize = 500;

/// The honeypot: a field hidden from people by the form's CSS. Only bots fill it in.
pub const HONEYPOT_FIELD: &str = "homepage";

/// Submissions accepted per source and form per minute, unless configured otherwise.
pub const DEFAULT_RATE_PER_MINUTE: u32 = 60;

/// The public routes.
pub fn router(deps: Arc<Deps>) -> Router {
    Router::new()
        .route("/v1/intake/leads", post(submit_lead))
        .merge(crate::telephony::router())
        .with_state(deps)
}

/// The parsed body of a submission: JSON, or a form turned into JSON (repeated keys and keys
/// ending in `[]` become arrays).
pub async fn read_body(request: Request, limit: usize) -> Result<(HeaderMap, Value), ApiError> {
    let (parts, body) = request.into_parts();
    let bytes = read_limited(body, limit).await?;
    let content_type = crate::http::media_type(&parts.headers);
    let value = match content_type.as_str() {
        "application/json" => serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                format!("The body is not valid JSON: {e}"),
            )
        })?,
        "application/x-www-form-urlencoded" => form_to_json(&bytes),
        _ => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Send application/json or application/x-www-form-urlencoded.",
            ));
        }
    };
    Ok((parts.headers, value))
}

async fn read_limited(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("The body is larger than {limit} bytes."),
        )
    })
}

fn form_to_json(bytes: &[u8]) -> Value {
    let mut map = Map::new();
    for (key, value) in form_urlencoded::parse(bytes) {
        let (name, list) = match key.strip_suffix("[]") {
            Some(name) => (name.to_owned(), true),
            None => {
                let list = key_is_list(&key);
                (key.into_owned(), list)
            }
        };
        let value = Value::String(value.into_owned());
        match map.get_mut(&name) {
            Some(Value::Array(items)) => items.push(value),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, value]);
            }
            None if list => {
                map.insert(name, Value::Array(vec![value]));
            }
            None => {
                map.insert(name, value);
            }
        }
    }
    Value::Object(map)
}

fn key_is_list(key: &str) -> bool {
    key == "consents"
}

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
        let mut error = ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "Thông tin chưa hợp lệ; xem chi tiết từng trường.",
        );
        error.fields = self.0;
        Err(error)
    }
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

fn bounded(
    value: Option<String>,
    max: usize,
    field: &str,
    errors: &mut FieldErrors,
) -> Option<String> {
    let value = value?;
    if value.chars().count() > max {
        errors.add(field, format!("Tối đa {max} ký tự."));
        return None;
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        errors.add(field, "Có ký tự không hợp lệ.");
        return None;
    }
    Some(value)
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

/// Validates a submission into a lead, or lists every problem at once.
pub fn validate_lead(body: &Map<String, Value>, now: DateTime<Utc>) -> Result<Lead, ApiError> {
    let mut errors = FieldErrors::default();
    if text(body, HONEYPOT_FIELD, &mut errors).is_some() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "rejected",
            "The submission was rejected.",
        )
        .field(HONEYPOT_FIELD, "must be left empty"));
    }
    let name = match text(body, "full_name", &mut errors) {
        None => {
            errors.add("full_name", "Vui lòng nhập họ và tên.");
            None
        }
        Some(raw) => PersonName::parse(&raw)
            .map_err(|e| errors.add("full_name", e.to_string()))
            .ok(),
    };
    let phone = text(body, "phone", &mut errors).and_then(|raw| {
        Phone::parse(&raw)
            .map_err(|e| errors.add("phone", e.to_string()))
            .ok()
    });
    let email = text(body, "email", &mut errors).and_then(|raw| {
        Email::parse(&raw)
            .map_err(|e| errors.add("email", e.to_string()))
            .ok()
    });
    if body.get("phone").is_none_or(Value::is_null) && body.get("email").is_none_or(Value::is_null)
    {
        errors.add("phone", "Vui lòng nhập số điện thoại hoặc email.");
    }
    let gender = text(body, "gender", &mut errors).and_then(|raw| {
        let gender = Gender::parse_loose(&raw);
        if gender.is_none() {
            errors.add(
                "gender",
                "Giới tính: male, female hoặc other (nam, nữ, khác).",
            );
        }
        gender
    });
    let today = nhip_domain::time::vn_date(now);
    let birthday = text(body, "birthday", &mut errors).and_then(|raw| {
        parse_birthday(&raw, today)
            .map_err(|e| errors.add("birthday", e))
            .ok()
    });
    let source = match text(body, "source", &mut errors) {
        None => Source::WebsiteForm,
        Some(raw) => match raw.parse::<Source>() {
            Ok(Source::Import | Source::IncomingCall) | Err(_) => {
                errors.add(
                    "source",
                    "Nguồn: website_form, website, fanpage, referral, assigned hoặc other.",
                );
                Source::WebsiteForm
            }
            Ok(source) => source,
        },
    };
    let mut attribution = Attribution::default();
    for (field, slot) in [
        ("utm_source", &mut attribution.utm_source),
        ("utm_medium", &mut attribution.utm_medium),
        ("utm_campaign", &mut attribution.utm_campaign),
        ("utm_term", &mut attribution.utm_term),
        ("utm_content", &mut attribution.utm_content),
        ("page", &mut attribution.page),
        ("referrer", &mut attribution.referrer),
        ("form", &mut attribution.form),
    ] {
        *slot = bounded(
            text(body, field, &mut errors),
            MAX_ATTRIBUTION_CHARS,
            field,
            &mut errors,
        );
    }
    let consent_text = bounded(
        text(body, "consent_text", &mut errors),
        MAX_MESSAGE_CHARS,
        "consent_text",
        &mut errors,
    );
    let evidence = json!({
        "form": attribution.form,
        "page": attribution.page,
        "text": consent_text,
    })
    .to_string();
    let consents = parse_consents(
        body.get("consents"),
        "website_form",
        &evidence,
        now,
        &mut errors,
    );
    let message = bounded(
        text(body, "message", &mut errors),
        MAX_MESSAGE_CHARS,
        "message",
        &mut errors,
    );
    errors.into_result()?;
    Ok(Lead {
        name,
        gender,
        birthday,
        phone,
        email,
        source,
        attribution,
        consents,
        message,
        via: "website_form",
        details: json!({}),
    })
}

/// Counts a submission against its source's budget for this minute; `Err` past the limit.
async fn rate_limit(deps: &Deps, lead: &Lead) -> Result<(), ApiError> {
    let now = deps.clock.now();
    let form = lead.attribution.form.as_deref().unwrap_or("-");
    let key = Key::new(
        format!("RATE#intake#{}#{form}", lead.source),
        nhip_domain::time::minute_bucket(now),
    );
    let ttl = now.timestamp() + 180;
    let item = deps
        .store
        .update(
            &key,
            Update::new().add("count", 1).set("ttl", ttl),
            Condition::Always,
        )
        .await?;
    let count = item.get("count").and_then(Value::as_u64).unwrap_or(0);
    if count > u64::from(deps.settings.intake_rate_per_minute) {
        let mut error = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "Quá nhiều đăng ký trong một phút; vui lòng thử lại sau.",
        );
        error.retry_after = Some(60 - u64::from(chrono::Timelike::second(&now)));
        return Err(error);
    }
    Ok(())
}

/// A lead as a form posts it (JSON, or `application/x-www-form-urlencoded` with repeated keys
/// or `key[]` for lists). Fields other than these are ignored.
#[derive(Debug, utoipa::ToSchema)]
pub struct LeadSubmission {
    /// Full name, family name first.
    #[schema(example = "Nguyễn Văn Minh", min_length = 1)]
    pub full_name: String,
    /// Mobile number in any usual form; a phone or an e-mail is required.
    #[schema(example = "0912345678")]
    pub phone: Option<String>,
    /// E-mail address; a phone or an e-mail is required.
    #[schema(example = "minh.nguyen@example.vn")]
    pub email: Option<String>,
    /// Gender.
    #[schema(value_type = Option<crate::openapi::GenderSchema>)]
    pub gender: Option<String>,
    /// Date of birth, `YYYY-MM-DD` or `DD/MM/YYYY`.
    #[schema(example = "1990-05-17")]
    pub birthday: Option<String>,
    /// Where the lead came from (default `website_form`).
    #[schema(value_type = Option<crate::openapi::IntakeSourceSchema>)]
    pub source: Option<String>,
    /// `utm_source`.
    #[schema(max_length = 500)]
    pub utm_source: Option<String>,
    /// `utm_medium`.
    #[schema(max_length = 500)]
    pub utm_medium: Option<String>,
    /// `utm_campaign`.
    #[schema(max_length = 500)]
    pub utm_campaign: Option<String>,
    /// `utm_term`.
    #[schema(max_length = 500)]
    pub utm_term: Option<String>,
    /// `utm_content`.
    #[schema(max_length = 500)]
    pub utm_content: Option<String>,
    /// The page the form was on.
    #[schema(max_length = 500)]
    pub page: Option<String>,
    /// The referring page.
    #[schema(max_length = 500)]
    pub referrer: Option<String>,
    /// Which form, e.g. `dang-ky-tra-gop`; submissions are rate-limited per source and form.
    #[schema(max_length = 500)]
    pub form: Option<String>,
    /// The consent checkbox's text, kept as evidence.
    #[schema(max_length = 2000)]
    pub consent_text: Option<String>,
    /// Consents given, `channel:purpose` (a comma-separated string and
    /// `{"channel", "purpose", "granted"}` objects are accepted too).
    #[schema(value_type = Option<Vec<crate::openapi::ConsentPairSchema>>)]
    pub consents: Option<Vec<String>>,
    /// A message from the person.
    #[schema(max_length = 2000)]
    pub message: Option<String>,
    /// The honeypot, hidden by the form's CSS: a submission that fills it is rejected (422).
    #[schema(max_length = 0)]
    pub homepage: Option<String>,
}

/// The answer to an accepted submission.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct LeadAccepted {
    /// The customer the lead is recorded on.
    #[schema(example = "01KAQ3V2J5N8W6Y4X0Z9B7C1D3")]
    pub customer_id: String,
    /// `created` (201) or `updated` (200, a known phone or e-mail).
    #[schema(pattern = "^(created|updated)$", example = "created")]
    pub status: String,
}

/// `POST /v1/intake/leads`: 201 with the new customer's id, or 200 when the phone or e-mail
/// was already known and the existing customer was updated.
#[utoipa::path(
    post,
    path = "/v1/intake/leads",
    tag = "intake",
    request_body(
        description = "The lead, as JSON or as a plain HTML form.",
        content(
            (LeadSubmission = "application/json"),
            (LeadSubmission = "application/x-www-form-urlencoded"),
        ),
    ),
    responses(
        (status = 201, description = "A new customer (lead) was recorded.", body = LeadAccepted,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 200, description = "The phone or e-mail was known: that customer was updated.", body = LeadAccepted,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 409, response = crate::openapi::Conflict),
        (status = 413, response = crate::openapi::PayloadTooLarge),
        (status = 415, response = crate::openapi::UnsupportedMediaType),
        (status = 422, response = crate::openapi::ValidationFailed),
        (status = 429, response = crate::openapi::RateLimited),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
async fn submit_lead(
    State(deps): State<Arc<Deps>>,
    request: Request,
) -> Result<Response, ApiError> {
    let (_, body) = read_body(request, MAX_LEAD_BYTES).await?;
    let body = crate::http::json_object(body)?;
    let lead = validate_lead(&body, deps.clock.now())?;
    rate_limit(&deps, &lead).await?;
    let (customer, outcome) = record_lead(&deps, &lead).await?;
    let (status, label) = match outcome {
        Outcome::Created => (StatusCode::CREATED, "created"),
        Outcome::Resubmitted => (StatusCode::OK, "updated"),
    };
    let accepted = LeadAccepted {
        customer_id: customer.id.to_string(),
        status: label.to_owned(),
    };
    let mut response = (status, axum::Json(accepted)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Upserts the lead and publishes its event.
pub async fn record_lead(
    deps: &Deps,
    lead: &Lead,
) -> Result<(crate::customers::model::Customer, Outcome), ApiError> {
    let (customer, outcome, event) = leads::upsert(deps, lead).await.map_err(save_error)?;
    tracing::info!(customer = %customer.id, ?outcome, via = lead.via, "lead recorded");
    if let Err(error) = crate::events::publish(deps, &[event]).await {
        // The customer and its timeline entry are stored; only the event is missing. The
        // client sees 503 and retries, which arrives as a resubmission and publishes again.
        tracing::error!(%error, customer = %customer.id, "publishing the lead event failed");
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "The service is busy; try again in a moment.",
        ));
    }
    Ok((customer, outcome))
}

/// The HTTP answer to a failed save.
pub fn save_error(error: SaveError) -> ApiError {
    match error {
        SaveError::Taken { field, .. } => ApiError::new(
            StatusCode::CONFLICT,
            "duplicate",
            format!("The {field} already belongs to another customer."),
        )
        .field(field, "already belongs to another customer"),
        SaveError::Conflict => ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "The record was changed by someone else; reload it and try again.",
        ),
        SaveError::Store(error) => ApiError::from(error),
    }
}

impl From<SaveError> for ApiError {
    fn from(error: SaveError) -> Self {
        save_error(error)
    }
}
