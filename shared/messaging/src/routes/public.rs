//! The public routes, served without a staff token (each checks its own signature or token):
//! tracked links `/t/{token}`, unsubscribe pages `/u/{token}`, SES events over SNS HTTP, Zalo
//! ZNS delivery callbacks and inbound SMS.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use nhip_domain::identifiers::Phone;
use serde::{Deserialize, Serialize};

use crate::callbacks::{self, CallbackError, SesOutcome};
use crate::model::MessageChannel;
use crate::{pipeline, tracking};
use nhip_core::deps::Deps;
use nhip_core::http::{ApiError, Json, Path};
use nhip_core::keys;
use nhip_crm::customers::repo;
use nhip_ports::store::Condition;

use super::compliance::refused_code;

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"vi\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{title}</title><style>body{{font-family:system-ui,sans-serif;max-width:36rem;\
         margin:3rem auto;padding:0 1rem;line-height:1.5}}button{{font-size:1rem;padding:.6rem 1.2rem}}</style>\
         </head><body><h1>{title}</h1>{body}</body></html>"
    );
    (status, Html(html)).into_response()
}

/// `GET /t/{token}`: a tracked link. Records the click once and redirects to the link's
/// original URL, read from the stored message (never from the token).
#[utoipa::path(
    get,
    path = "/t/{token}",
    tag = "tracking",
    params(("token" = String, Path, description = "The tracked link's token.")),
    responses(
        (status = 303, description = "To the original URL (`See Other`)."),
        (status = 404, description = "Unknown or forged link (an HTML page).", content_type = "text/html", body = String),
        (status = 503, response = nhip_core::openapi::Unavailable),
    )
)]
pub async fn follow_link(
    State(deps): State<Arc<Deps>>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    match tracking::click(&deps, &token).await? {
        Some(url) => Ok(Redirect::to(&url).into_response()),
        None => Ok(page(
            StatusCode::NOT_FOUND,
            "Liên kết không hợp lệ",
            "<p>Liên kết này không tồn tại hoặc đã hết hạn.</p>",
        )),
    }
}

/// `GET /u/{token}`: the unsubscribe page, in Vietnamese, with a button that confirms. Opening
/// it changes nothing (mail scanners follow links).
#[utoipa::path(
    get,
    path = "/u/{token}",
    tag = "tracking",
    params(("token" = String, Path, description = "The message's unsubscribe token.")),
    responses(
        (status = 200, description = "The page.", content_type = "text/html", body = String),
        (status = 404, description = "Unknown or forged token (an HTML page).", content_type = "text/html", body = String),
    )
)]
pub async fn unsubscribe_page(
    State(deps): State<Arc<Deps>>,
    Path(token): Path<String>,
) -> Response {
    let valid = deps
        .settings
        .messaging
        .open_signed(|secret| crate::links::open_unsubscribe_token(secret, &token))
        .is_some();
    if !valid {
        return page(
            StatusCode::NOT_FOUND,
            "Liên kết không hợp lệ",
            "<p>Liên kết huỷ đăng ký không tồn tại.</p>",
        );
    }
    let organisation = &deps.settings.messaging.organisation.name;
    page(
        StatusCode::OK,
        "Từ chối nhận quảng cáo",
        &format!(
            "<p>Quý khách sẽ không nhận thêm tin quảng cáo từ {} qua kênh này. Tin chăm sóc \
             và thông báo dịch vụ vẫn được gửi theo hợp đồng.</p>\
             <form method=\"post\"><button type=\"submit\">Xác nhận từ chối</button></form>",
            organisation.replace('<', "&lt;")
        ),
    )
}

/// `POST /u/{token}`: unsubscribes (the page's button, or a mail client's one-click
/// `List-Unsubscribe-Post`). Advertising stops at once; one confirmation is sent.
#[utoipa::path(
    post,
    path = "/u/{token}",
    tag = "tracking",
    params(("token" = String, Path, description = "The message's unsubscribe token.")),
    responses(
        (status = 200, description = "Done (an HTML page).", content_type = "text/html", body = String),
        (status = 404, description = "Unknown or forged token (an HTML page).", content_type = "text/html", body = String),
        (status = 503, response = nhip_core::openapi::Unavailable),
    )
)]
pub async fn unsubscribe(
    State(deps): State<Arc<Deps>>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    match tracking::unsubscribe(&deps, &token).await? {
        Some(_) => Ok(page(
            StatusCode::OK,
            "Đã từ chối nhận quảng cáo",
            "<p>Chúng tôi đã ngừng gửi quảng cáo cho Quý khách qua kênh này. Một tin xác \
             nhận sẽ được gửi tới Quý khách.</p>",
        )),
        None => Ok(page(
            StatusCode::NOT_FOUND,
            "Liên kết không hợp lệ",
            "<p>Liên kết huỷ đăng ký không tồn tại.</p>",
        )),
    }
}

fn forbidden(message: &str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "forbidden", message.to_owned())
}

fn invalid_body(message: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", message.to_owned())
}

impl From<CallbackError> for ApiError {
    fn from(error: CallbackError) -> Self {
        match error {
            CallbackError::SesNotConfigured
            | CallbackError::ZaloNotConfigured
            | CallbackError::OtherTopic
            | CallbackError::SnsSignature(_)
            | CallbackError::ZaloSignature(_) => forbidden(&error.to_string()),
            CallbackError::NotUtf8
            | CallbackError::NotSns(_)
            | CallbackError::NotSesEvent(_)
            | CallbackError::NotZnsDelivery(_) => invalid_body(&error.to_string()),
            CallbackError::Confirmation(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                error.to_string(),
            ),
            CallbackError::Store(error) => error.into(),
        }
    }
}

/// What a provider callback did.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct CallbackAnswer {
    /// A subscription confirmation was confirmed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirmed: Option<bool>,
    /// The event was about a Nhịp message and is recorded on it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recorded: Option<bool>,
}

impl CallbackAnswer {
    fn recorded(recorded: bool) -> Self {
        Self {
            recorded: Some(recorded),
            ..Self::default()
        }
    }
}

/// `POST /v1/tracking/ses`: SES events delivered by an SNS HTTPS subscription. The SNS
/// signature is verified first (forged, unsigned or stale → 403, nothing recorded); a
/// subscription confirmation is confirmed.
#[utoipa::path(
    post,
    path = "/v1/tracking/ses",
    tag = "tracking",
    request_body(content = crate::sns::SnsMessage, description = "An SNS message (JSON sent as text/plain by SNS), signed with the certificate at `SigningCertURL`."),
    responses(
        (status = 200, description = "Recorded (or ignored: not a Nhịp message): `{recorded}`; a subscription confirmation: `{confirmed}`.", body = CallbackAnswer),
        (status = 400, response = nhip_core::openapi::BadRequest),
        (status = 403, response = nhip_core::openapi::Forbidden),
        (status = 413, response = nhip_core::openapi::PayloadTooLarge),
        (status = 503, response = nhip_core::openapi::Unavailable),
    )
)]
pub async fn ses_over_http(
    State(deps): State<Arc<Deps>>,
    body: Bytes,
) -> Result<Json<CallbackAnswer>, ApiError> {
    Ok(Json(match callbacks::ses_over_http(&deps, &body).await? {
        SesOutcome::Event { recorded } => CallbackAnswer::recorded(recorded),
        SesOutcome::Ignored => CallbackAnswer::recorded(false),
        SesOutcome::Confirmed => CallbackAnswer {
            confirmed: Some(true),
            ..CallbackAnswer::default()
        },
    }))
}

/// `POST /v1/tracking/zns`: Zalo's delivery callback (`user_received_message`), verified
/// with `X-ZEvent-Signature`.
#[utoipa::path(
    post,
    path = "/v1/tracking/zns",
    tag = "tracking",
    request_body(content = crate::zalo::ZaloEvent, description = "Zalo's event, signed byte for byte (`X-ZEvent-Signature`)."),
    responses(
        (status = 200, description = "Recorded: `{recorded}` (`false`: not a Nhịp message).", body = CallbackAnswer),
        (status = 400, response = nhip_core::openapi::BadRequest),
        (status = 403, response = nhip_core::openapi::Forbidden),
        (status = 413, response = nhip_core::openapi::PayloadTooLarge),
        (status = 503, response = nhip_core::openapi::Unavailable),
    )
)]
pub async fn zns_callback(
    State(deps): State<Arc<Deps>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<CallbackAnswer>, ApiError> {
    let signature = headers
        .get("x-zevent-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let recorded = callbacks::zns_delivery(&deps, signature, &body).await?;
    Ok(Json(CallbackAnswer::recorded(recorded)))
}

/// An inbound SMS from the provider's webhook.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct InboundSms {
    /// The provider's id for the SMS.
    pub id: String,
    /// The sender's number.
    pub from: String,
    /// The text.
    pub text: String,
}

/// What an inbound SMS did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InboundAnswer {
    /// What became of the refusal: `stopped`, `already_stopped`, `listed` (no customer has the
    /// number; it went on the do-not-advertise list) or `unknown_customer`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "stopped")]
    pub outcome: Option<&'static str>,
    /// Whether the text is a refusal keyword.
    pub refusal: bool,
}

impl InboundAnswer {
    fn refusal(outcome: &'static str) -> Self {
        Self {
            outcome: Some(outcome),
            refusal: true,
        }
    }
}

/// `POST /v1/tracking/sms-inbound`: a reply SMS, signed like the telephony webhook
/// (`X-Nhip-Timestamp`, `X-Nhip-Signature: sha256=<hex>` over `<ts>.<body>` with
/// `NHIP_SMS_INBOUND_SECRET`). A refusal keyword stops advertising by SMS at once.
#[utoipa::path(
    post,
    path = "/v1/tracking/sms-inbound",
    tag = "tracking",
    request_body(content = InboundSms, description = "The reply."),
    responses(
        (status = 200, description = "`{refusal, outcome}`.", body = InboundAnswer),
        (status = 400, response = nhip_core::openapi::BadRequest),
        (status = 403, response = nhip_core::openapi::Forbidden),
        (status = 413, response = nhip_core::openapi::PayloadTooLarge),
        (status = 503, response = nhip_core::openapi::Unavailable),
    )
)]
pub async fn sms_inbound(
    State(deps): State<Arc<Deps>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<InboundAnswer>, ApiError> {
    let Some(secret) = deps.settings.messaging.sms_inbound_secret.as_deref() else {
        return Err(forbidden("Inbound SMS is not configured."));
    };
    let now = deps.clock.now();
    nhip_core::webhook::verify(secret, &headers, &body, now)
        .map_err(|_| forbidden("The signature does not verify."))?;
    let sms: InboundSms = serde_json::from_slice(&body)
        .map_err(|_| invalid_body("The body is not an inbound SMS."))?;
    let rules = pipeline::advertising_rules(&deps).await?;
    if !rules.is_refusal(&sms.text) {
        return Ok(Json(InboundAnswer {
            refusal: false,
            outcome: None,
        }));
    }
    let Ok(phone) = Phone::parse(&sms.from) else {
        return Ok(Json(InboundAnswer::refusal("unknown_customer")));
    };
    let owner = repo::guard_owner(&*deps.store, &keys::phone_guard(phone.as_str())).await?;
    let Some(customer) = owner else {
        // No customer: the number still goes on the do-not-advertise list.
        let mut item = keys::do_not_advertise(phone.as_str()).to_item();
        item.insert("kind".into(), "do_not_advertise".into());
        item.insert("source".into(), "sms_reply".into());
        item.insert("added_at".into(), keys::instant(now).into());
        deps.store.put(item, Condition::Always).await?;
        return Ok(Json(InboundAnswer::refusal("listed")));
    };
    let outcome = tracking::refuse(
        &deps,
        customer,
        MessageChannel::Sms,
        "sms_reply",
        None,
        None,
    )
    .await?;
    Ok(Json(InboundAnswer::refusal(refused_code(outcome))))
}
