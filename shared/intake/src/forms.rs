//! Public lead intake (the `lead-intake` function; no staff login): website forms and landing
//! pages post leads here, as JSON or as a plain HTML form. Every rejection is a 4xx with a
//! field-level body and stores nothing. Every accepted submission answers the same 202
//! `{"status":"received"}`, so the answer never tells whether a phone or e-mail is a
//! customer's. A submission naming a known customer changes nothing on their record: it is
//! recorded on their timeline as unverified, and consents it asks for wait for the customer
//! to confirm them through a signed link (`/v1/intake/confirm/{token}`) sent to the address
//! already on record.
//!
//! Submissions are rate-limited by what the client cannot choose: its source address (API
//! Gateway's `requestContext.http.sourceIp`, the socket's peer locally) per minute, and the
//! phone (or e-mail) submitted per hour.

use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Timelike as _, Utc};
use nhip_domain::customer::{Attribution, Channel, Purpose, Source};
use nhip_domain::identifiers::{Email, Phone};
use nhip_domain::ids::CustomerId;
use nhip_domain::person::{Gender, PersonName};
use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};

use crate::leads::{record_lead, unavailable};
use nhip_core::deps::Deps;
use nhip_core::form::{FieldErrors, parse_birthday, parse_consents, text};
use nhip_core::http::ApiError;
use nhip_core::keys;
use nhip_core::openapi::{Handlers, Routes};
use nhip_core::routes;
use nhip_crm::customers::leads::{self, Lead, PendingConsents};
use nhip_crm::customers::model::Customer;
use nhip_crm::customers::repo::save_error;
use nhip_messaging::links;
use nhip_messaging::model::{
    Cause, CauseKind, MessageChannel, SendPurpose, SendRequest, SystemMessage,
};
use nhip_ports::store::{Condition, Key, Update};

/// Largest lead submission accepted, in bytes: a form is a few hundred bytes.
pub const MAX_LEAD_BYTES: usize = 16 * 1024;

/// Longest free-text message kept from a form.
const MAX_MESSAGE_CHARS: usize = 2000;

/// Longest campaign or page field kept.
const MAX_ATTRIBUTION_CHARS: usize = 500;

/// The honeypot: a field hidden from people by the form's CSS. Only bots fill it in.
pub const HONEYPOT_FIELD: &str = "homepage";

/// Submissions accepted per phone (or, without one, e-mail) per hour, whatever the address.
pub const RATE_PER_CONTACT_PER_HOUR: u32 = 10;

/// The public routes.
pub fn router(deps: Arc<Deps>) -> Router {
    routes(&deps.settings.intake_allowed_origins)
        .into_router()
        .with_state(deps)
}

/// The public routes with their operations, the lead form answering CORS for `origins`.
pub fn routes(origins: &[String]) -> Routes<Arc<Deps>> {
    Routes::new()
        .routes(lead_route(origins))
        .routes(routes!(confirm_page, confirm_consents))
        .merge(crate::telephony::router())
}

/// `POST /v1/intake/leads`, with CORS for the configured web origins: a browser on the bank's
/// website may post the form with `fetch` (its preflight `OPTIONS` is answered here, as the
/// HTTP API routes it to this function). No credentials, only `POST` and `Content-Type`; an
/// origin not listed gets no CORS headers, so the browser keeps the answer from its page.
fn lead_route(origins: &[String]) -> Handlers<Arc<Deps>> {
    let route = routes!(submit_lead);
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    if origins.is_empty() {
        return route;
    }
    route.layer(
        tower_http::cors::CorsLayer::new()
            .allow_origin(origins)
            .allow_methods([axum::http::Method::POST])
            .allow_headers([axum::http::header::CONTENT_TYPE])
            .max_age(std::time::Duration::from_secs(600)),
    )
}

/// The parsed body of a submission: JSON, or a form turned into JSON (repeated keys and keys
/// ending in `[]` become arrays).
pub async fn read_body(request: Request, limit: usize) -> Result<(HeaderMap, Value), ApiError> {
    let (parts, body) = request.into_parts();
    let bytes = read_limited(body, limit).await?;
    let content_type = nhip_core::http::media_type(&parts.headers);
    let value = match content_type.as_str() {
        "application/json" => serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                format!("The body is not valid JSON: {e}"),
            )
        })?,
        "application/x-www-form-urlencoded" => form_to_json(&bytes)?,
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

/// A form body as JSON; 400 `invalid_form_encoding` when a name or value, once
/// percent-decoded, is not UTF-8 (the JSON route refuses the same bytes, and storing them
/// with U+FFFD in place would corrupt the record silently).
fn form_to_json(bytes: &[u8]) -> Result<Value, ApiError> {
    let pairs = nhip_core::http::decode_form(bytes).map_err(|field| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_form_encoding",
            "The form is not valid UTF-8 once percent-decoded; send it encoded as UTF-8.",
        )
        .field(field, "Không phải UTF-8.")
    })?;
    let mut map = Map::new();
    for (key, value) in pairs {
        let (name, list) = match key.strip_suffix("[]") {
            Some(name) => (name.to_owned(), true),
            None => {
                let list = key_is_list(&key);
                (key, list)
            }
        };
        let value = Value::String(value);
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
    Ok(Value::Object(map))
}

fn key_is_list(key: &str) -> bool {
    key == "consents"
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
        anonymous: true,
    })
}

/// Counts a submission against its source address's budget for this minute and its phone's
/// (or e-mail's) budget for this hour; `Err` (429) past either. Requests whose address is
/// unknown (no gateway context, no socket) share one budget.
async fn rate_limit(deps: &Deps, address: Option<IpAddr>, lead: &Lead) -> Result<(), ApiError> {
    let now = deps.clock.now();
    let address = address.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    let by_address = keys::intake_rate_by_address(&address, &nhip_domain::time::minute_bucket(now));
    if count(deps, &by_address, now.timestamp() + 180).await?
        > u64::from(deps.settings.intake_rate_per_minute)
    {
        tracing::warn!(%address, "intake rate limit reached for a source address");
        return Err(rate_limited(60 - u64::from(now.second())));
    }
    let contact = lead
        .phone
        .as_ref()
        .map(|p| p.as_str().to_owned())
        .or_else(|| lead.email.as_ref().map(|e| e.as_str().to_owned()));
    if let Some(contact) = contact {
        let digest = hex::encode(&Sha256::digest(contact.as_bytes())[..16]);
        let by_contact = keys::intake_rate_by_contact(&digest, &now.format("%Y%m%d%H").to_string());
        if count(deps, &by_contact, now.timestamp() + 3700).await?
            > u64::from(RATE_PER_CONTACT_PER_HOUR)
        {
            tracing::warn!("intake rate limit reached for one phone or e-mail");
            return Err(rate_limited(
                3600 - u64::from(now.minute() * 60 + now.second()),
            ));
        }
    }
    Ok(())
}

async fn count(deps: &Deps, key: &Key, ttl: i64) -> Result<u64, ApiError> {
    let item = deps
        .store
        .update(
            key,
            Update::new().add("count", 1).set("ttl", ttl),
            Condition::Always,
        )
        .await?;
    Ok(item.get("count").and_then(Value::as_u64).unwrap_or(0))
}

fn rate_limited(retry_after: u64) -> ApiError {
    let mut error = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        "Quá nhiều đăng ký; vui lòng thử lại sau.",
    );
    error.retry_after = Some(retry_after.max(1));
    error
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
    #[schema(value_type = Option<nhip_core::openapi::GenderSchema>)]
    pub gender: Option<String>,
    /// Date of birth, `YYYY-MM-DD` or `DD/MM/YYYY`.
    #[schema(example = "1990-05-17")]
    pub birthday: Option<String>,
    /// Where the lead came from (default `website_form`).
    #[schema(value_type = Option<nhip_core::openapi::IntakeSourceSchema>)]
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
    /// Which form, e.g. `dang-ky-tra-gop` (kept as attribution and consent evidence).
    #[schema(max_length = 500)]
    pub form: Option<String>,
    /// The consent checkbox's text, kept as evidence.
    #[schema(max_length = 2000)]
    pub consent_text: Option<String>,
    /// Consents given, `channel:purpose` (a comma-separated string and
    /// `{"channel", "purpose", "granted"}` objects are accepted too).
    #[schema(value_type = Option<Vec<nhip_core::openapi::ConsentPairSchema>>)]
    pub consents: Option<Vec<String>>,
    /// A message from the person.
    #[schema(max_length = 2000)]
    pub message: Option<String>,
    /// The honeypot, hidden by the form's CSS: a submission that fills it is rejected (422).
    #[schema(max_length = 0, nullable = false)]
    pub homepage: Option<String>,
}

/// The answer to every accepted submission, whether its phone or e-mail was known or not.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct LeadReceived {
    /// Always `received`.
    #[schema(pattern = "^received$", example = "received")]
    pub status: &'static str,
}

/// `POST /v1/intake/leads`: 202 `{"status":"received"}` for every accepted submission. A new
/// phone or e-mail becomes a lead; one that is already a customer's changes nothing on their
/// record (the submission is kept on their timeline as unverified, and consents it asks for
/// are sent to the customer to confirm).
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
        (status = 202, description = "Received. The same answer whether or not the phone or e-mail was known: a new one is recorded as a lead; a known customer's record is not changed (the submission is kept, unverified, on their timeline, and consents asked for await the customer's confirmation by a signed link).", body = LeadReceived,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 400, description = "The body is not valid JSON (`invalid_json`), not an object (`invalid_body`), or a form that is not UTF-8 once percent-decoded (`invalid_form_encoding`); nothing was stored.", body = nhip_core::openapi::ErrorBody),
        (status = 409, response = nhip_core::openapi::Conflict),
        (status = 413, response = nhip_core::openapi::PayloadTooLarge),
        (status = 415, response = nhip_core::openapi::UnsupportedMediaType),
        (status = 422, response = nhip_core::openapi::ValidationFailed),
        (status = 429, description = "More than the configured submissions from one source address in a minute (default 60), or more than 10 naming one phone or e-mail in an hour (`rate_limited`).", body = nhip_core::openapi::ErrorBody,
            headers(("Retry-After" = i64, description = "Seconds to wait before retrying."))),
        (status = 503, response = nhip_core::openapi::Unavailable),
    )
)]
async fn submit_lead(
    State(deps): State<Arc<Deps>>,
    request: Request,
) -> Result<Response, ApiError> {
    let address = nhip_core::http::client_ip(request.extensions());
    let (_, body) = read_body(request, MAX_LEAD_BYTES).await?;
    let body = nhip_core::http::json_object(body)?;
    let lead = validate_lead(&body, deps.clock.now())?;
    rate_limit(&deps, address, &lead).await?;
    let recorded = record_lead(&deps, &lead).await?;
    if let Some(pending) = &recorded.pending {
        ask_to_confirm(&deps, &recorded.customer, pending).await?;
    }
    let mut response = (
        StatusCode::ACCEPTED,
        axum::Json(LeadReceived { status: "received" }),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Queues the double opt-in message: to the customer's e-mail on record when the e-mail
/// channel was asked for and is undecided, else by SMS to their phone on record. It is a
/// consent request, so the pipeline sends it at most once per address and never to a refusal.
/// Without a link secret no link can be signed, and nothing is sent.
async fn ask_to_confirm(
    deps: &Deps,
    customer: &Customer,
    pending: &PendingConsents,
) -> Result<(), ApiError> {
    let settings = &deps.settings.messaging;
    let Some(secret) = settings.link_secret.as_deref() else {
        tracing::warn!(customer = %customer.id, "no link secret: consents from a form wait unconfirmed");
        return Ok(());
    };
    let undecided = |channel: Channel| customer.consents.get(channel, Purpose::Marketing).is_none();
    let channel = if !customer.emails.is_empty() && undecided(Channel::Email) {
        MessageChannel::Email
    } else if !customer.phones.is_empty() && undecided(Channel::Sms) {
        MessageChannel::Sms
    } else {
        tracing::info!(customer = %customer.id, "no undecided address on record to confirm consents on");
        return Ok(());
    };
    let token = links::consent_token(secret, &customer.id.to_string(), &pending.id);
    let request = SendRequest {
        idempotency_key: format!("consent-confirmation#{}#{}", customer.id, pending.id),
        customer_id: customer.id.to_string(),
        targets: Vec::new(),
        purpose: SendPurpose::ConsentRequest,
        cause: Cause {
            kind: CauseKind::System,
            id: "double-opt-in".to_owned(),
            actor: None,
        },
        campaign: None,
        data: Default::default(),
        system: Some(SystemMessage::ConsentConfirmation {
            channel,
            url: format!("{}/v1/intake/confirm/{token}", settings.public_url),
            consents: pending.consents.iter().map(leads::consent_pair).collect(),
        }),
        requested_at: deps.clock.now(),
        guard: None,
    };
    nhip_messaging::pipeline::enqueue(deps, &[request])
        .await
        .map_err(|error| {
            tracing::error!(%error, customer = %customer.id, "queuing the consent confirmation failed");
            unavailable()
        })
}

/// `GET /v1/intake/confirm/{token}`: the page of a double opt-in link. It only shows what
/// would be granted and a button: opening a link (as mail scanners do) grants nothing.
#[utoipa::path(
    get,
    path = "/v1/intake/confirm/{token}",
    tag = "intake",
    params(("token" = String, Path, description = "The signed token of the confirmation message.")),
    responses(
        (status = 200, description = "The page, with a button that confirms.", content_type = "text/html", body = String),
        (status = 404, description = "Unknown, forged or expired token (an HTML page).", content_type = "text/html", body = String),
    )
)]
async fn confirm_page(
    State(deps): State<Arc<Deps>>,
    axum::extract::Path(token): axum::extract::Path<String>,
) -> Response {
    if open_token(&deps, &token).is_none() {
        return page(StatusCode::NOT_FOUND, EXPIRED);
    }
    let token = html_escape(&token);
    page(
        StatusCode::OK,
        &format!(
            "<h1>Xác nhận đăng ký nhận tin</h1>\
             <p>Có người đã đăng ký nhận tin bằng thông tin liên hệ của Quý khách. Nếu đúng là \
             Quý khách, vui lòng bấm xác nhận; nếu không, xin bỏ qua trang này.</p>\
             <form method=\"post\" action=\"/v1/intake/confirm/{token}\">\
             <button type=\"submit\">Xác nhận</button></form>"
        ),
    )
}

/// `POST /v1/intake/confirm/{token}`: the customer confirms; the consents still undecided are
/// granted (evidence: the form and this confirmation) and the request is used up.
#[utoipa::path(
    post,
    path = "/v1/intake/confirm/{token}",
    tag = "intake",
    params(("token" = String, Path, description = "The signed token of the confirmation message.")),
    responses(
        (status = 200, description = "Confirmed (an HTML page); the consents are granted.", content_type = "text/html", body = String),
        (status = 404, description = "Unknown, forged, used or expired token (an HTML page); nothing changed.", content_type = "text/html", body = String),
        (status = 409, response = nhip_core::openapi::Conflict),
        (status = 503, response = nhip_core::openapi::Unavailable),
    )
)]
async fn confirm_consents(
    State(deps): State<Arc<Deps>>,
    axum::extract::Path(token): axum::extract::Path<String>,
) -> Result<Response, ApiError> {
    let Some((customer, request)) = open_token(&deps, &token) else {
        return Ok(page(StatusCode::NOT_FOUND, EXPIRED));
    };
    match leads::confirm_pending(&deps, customer, &request)
        .await
        .map_err(save_error)?
    {
        None => Ok(page(StatusCode::NOT_FOUND, EXPIRED)),
        Some(granted) => {
            tracing::info!(%customer, consents = granted.len(), "consents confirmed by the customer");
            Ok(page(
                StatusCode::OK,
                "<h1>Đã xác nhận</h1><p>Cảm ơn Quý khách đã xác nhận đăng ký nhận tin.</p>",
            ))
        }
    }
}

const EXPIRED: &str =
    "<h1>Liên kết không còn hiệu lực</h1><p>Liên kết đã được dùng, đã hết hạn hoặc không đúng.</p>";

fn open_token(deps: &Deps, token: &str) -> Option<(CustomerId, String)> {
    let (customer, request) = deps
        .settings
        .messaging
        .open_signed(|secret| links::open_consent_token(secret, token))?;
    Some((customer.parse().ok()?, request))
}

fn page(status: StatusCode, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"vi\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Nhịp</title></head><body><main>{body}</main></body></html>"
    );
    let mut response = (status, axum::response::Html(html)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; form-action 'self'"),
    );
    response
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
