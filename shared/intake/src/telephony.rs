//! The call centre's incoming-call webhook (public intake router, no staff token):
//! `POST /v1/telephony/incoming` finds the caller by number and answers the customer's card
//! for the agent's screen, creating a lead (source `incoming_call`) for an unknown number. When
//! the call names the extension that rang, the staff member with that extension gets the
//! caller on their console at once ([`nhip_crm::call_pops`]).
//!
//! Authentication is a shared-secret HMAC-SHA256 (`NHIP_TELEPHONY_SECRET`):
//! `X-Nhip-Timestamp: <unix seconds>` and
//! `X-Nhip-Signature: sha256=<hex of HMAC(secret, "<timestamp>.<raw body>")>`. A missing or
//! wrong signature, or a timestamp more than five minutes from now (a replay), answers 401
//! `invalid_signature` and stores nothing. While the secret is not configured every call
//! answers 503 `not_configured`: a deployment mistake, not the caller's, and the call centre
//! retries until it is fixed.
//!
//! Idempotent per call: the call is recorded on a known customer as a `call.incoming` timeline
//! entry together with a create-only marker `CUS#<id>` / `CALL#<call id>`, so a retried
//! webhook adds nothing; an unknown caller becomes a lead whose timeline entry carries the
//! call id, and the retry (now a known caller) finds that entry or the marker.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use nhip_domain::customer::Source;
use nhip_domain::identifiers::Phone;
use nhip_domain::ids::CustomerId;
use nhip_domain::person::salutation;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::leads::{RecordError, record_lead};
use nhip_core::deps::Deps;
use nhip_core::form::invalid;
use nhip_core::http::ApiError;
use nhip_core::keys;
use nhip_core::openapi::Routes;
use nhip_core::routes;
use nhip_core::timeline::{self, Activity};
use nhip_core::webhook::verify;
use nhip_crm::customers::leads::{self, Lead, Outcome};
use nhip_crm::customers::model::Customer;
use nhip_crm::customers::repo;
use nhip_crm::tickets::Ticket;
use nhip_ports::store::{Condition, StoreError, WriteOp};

/// Largest webhook body accepted: a call notification is a few hundred bytes.
pub const MAX_CALL_BYTES: usize = 8 * 1024;
/// Activities on the card.
pub const CARD_ACTIVITIES: u32 = 5;
/// How long the per-call marker is kept (it only has to outlive the call centre's retries).
const MARKER_TTL_SECONDS: i64 = 30 * 24 * 3600;
/// Recent entries searched for a lead recorded by an earlier delivery of the same call.
const DEDUPE_WINDOW: u32 = 10;

/// The webhook route.
pub fn router() -> Routes<Arc<Deps>> {
    Routes::new().routes(routes!(incoming))
}

/// The webhook body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct IncomingCall {
    /// The call centre's id of the call, 1–128 visible ASCII characters: the idempotency key.
    #[schema(example = "cc-20261123-000123", min_length = 1, max_length = 128)]
    call_id: String,
    /// The caller's number, in any usual form: a Vietnamese mobile number.
    #[schema(example = "0912345678")]
    caller: String,
    /// The hotline dialled, at most 32 characters.
    #[serde(default)]
    #[schema(example = "1900 1234", max_length = 32)]
    hotline: Option<String>,
    /// When the call started (a future instant counts as now).
    #[serde(default)]
    started_at: Option<DateTime<Utc>>,
    /// The extension that rang (1–10 digits): the staff member of the directory with it gets
    /// the caller's card on their screen.
    #[serde(default)]
    #[schema(example = "101", max_length = 10)]
    extension: Option<String>,
}

/// A call id: 1–128 visible ASCII characters (it becomes part of a key).
fn valid_call_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic())
}

fn parse(body: &[u8]) -> Result<(IncomingCall, Phone), ApiError> {
    let call: IncomingCall = serde_json::from_slice(body).map_err(|e| {
        if e.is_data() {
            // Read again, on this error path only, to name the field.
            let field = serde_path_to_error::deserialize::<_, IncomingCall>(
                &mut serde_json::Deserializer::from_slice(body),
            )
            .err()
            .map(|e| e.path().to_string())
            .filter(|path| path != ".")
            .unwrap_or_else(|| "body".to_owned());
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                "The body needs call_id and caller (strings), and started_at is an RFC 3339 instant.",
            )
            .field(&field, e.to_string())
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                "The body is not valid JSON.",
            )
        }
    })?;
    if !valid_call_id(&call.call_id) {
        return Err(invalid("call_id", "1–128 visible ASCII characters."));
    }
    if call
        .hotline
        .as_ref()
        .is_some_and(|h| h.chars().count() > 32)
    {
        return Err(invalid("hotline", "Tối đa 32 ký tự."));
    }
    if call
        .extension
        .as_ref()
        .is_some_and(|e| e.is_empty() || e.len() > 10 || !e.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(invalid("extension", "Số máy lẻ gồm 1–10 chữ số."));
    }
    // A landline, foreign or malformed caller cannot be matched to a customer or be a lead.
    // The message never repeats the number.
    let phone = Phone::parse(&call.caller).map_err(|e| invalid("caller", e.to_string()))?;
    Ok((call, phone))
}

/// The customer's card on the agent's screen, with their open tickets.
fn card(customer: &Customer, activities: &[Activity], created: bool, tickets: &[Ticket]) -> Value {
    let given = (!customer.given_name.is_empty()).then_some(customer.given_name.as_str());
    json!({
        "id": customer.id,
        "full_name": customer.full_name,
        "given_name": customer.given_name,
        "salutation": salutation(customer.gender, given),
        "owner": customer.owner,
        "team": customer.team,
        "lifecycle": customer.lifecycle,
        "lifecycle_label": customer.lifecycle.label(),
        "classification": customer.classification,
        "classification_label": customer.classification.map(|c| c.label()),
        "processing_restricted": customer.processing_restricted,
        "marketing_objected": customer.marketing_objected,
        "open_tickets": tickets.iter().map(|t| json!({
            "id": t.id,
            "queue": t.queue,
            "queue_label": t.queue_label,
            "title": t.title,
            "status": t.status,
            "status_label": t.status_label,
            "assignee": t.assignee,
            "due_at": t.due_at,
        })).collect::<Vec<_>>(),
        "recent_activities": activities,
        "created": created,
    })
}

/// The marker of a call recorded on `customer`, with its TTL.
fn marker(customer: CustomerId, call: &IncomingCall, now: DateTime<Utc>) -> WriteOp {
    let mut item = keys::incoming_call(customer, &call.call_id).to_item();
    item.insert("kind".into(), "incoming_call".into());
    item.insert("call_id".into(), call.call_id.clone().into());
    item.insert("recorded_at".into(), keys::instant(now).into());
    item.insert("ttl".into(), (now.timestamp() + MARKER_TTL_SECONDS).into());
    WriteOp::Put {
        item,
        condition: Condition::NotExists,
    }
}

fn same_call(activity: &Activity, call_id: &str) -> bool {
    activity.data.get("call_id").and_then(Value::as_str) == Some(call_id)
}

/// Records the call on a known customer once; returns the card's activities.
async fn record_on_known(
    deps: &Deps,
    customer: &Customer,
    call: &IncomingCall,
    now: DateTime<Utc>,
) -> Result<Vec<Activity>, StoreError> {
    let (mut recent, _) = timeline::page(&*deps.store, customer.id, DEDUPE_WINDOW, None).await?;
    if recent.iter().any(|a| same_call(a, &call.call_id)) {
        // An earlier delivery already recorded this call (as the lead it created, or as the
        // call entry); make sure the marker exists and add nothing else.
        match deps
            .store
            .transact(vec![marker(customer.id, call, now)])
            .await
        {
            Ok(()) | Err(StoreError::ConditionFailed { .. }) => {}
            Err(other) => return Err(other),
        }
        recent.truncate(CARD_ACTIVITIES as usize);
        return Ok(recent);
    }
    // The call started when the call centre says, but never in the future.
    let at = call.started_at.filter(|s| *s <= now).unwrap_or(now);
    let entry = timeline::Entry {
        customer: customer.id,
        at,
        cause: format!("telephony#{}", call.call_id),
        event_type: nhip_core::event_types::CALL_INCOMING.to_owned(),
        source: "telephony".to_owned(),
        actor: None,
        data: json!({
            "call_id": call.call_id,
            "hotline": call.hotline,
            "started_at": call.started_at,
        }),
    };
    match deps
        .store
        .transact(vec![marker(customer.id, call, now), entry.write(now)])
        .await
    {
        Ok(()) => {
            let activity = Activity {
                at: keys::instant(at),
                event_type: entry.event_type.clone(),
                action: timeline::action_label(&entry.event_type),
                source: entry.source.clone(),
                actor: None,
                data: entry.data.clone(),
            };
            // Newest first, as the timeline reads.
            let position = recent
                .iter()
                .position(|a| a.at <= activity.at)
                .unwrap_or(recent.len());
            recent.insert(position, activity);
        }
        // A retried webhook: the marker is there, the call is already on the timeline.
        Err(StoreError::ConditionFailed { .. } | StoreError::TransactionConflict) => {
            let (fresh, _) =
                timeline::page(&*deps.store, customer.id, CARD_ACTIVITIES, None).await?;
            recent = fresh;
        }
        Err(other) => return Err(other),
    }
    recent.truncate(CARD_ACTIVITIES as usize);
    Ok(recent)
}

/// The caller's card on the agent's screen (see [`card`]).
#[derive(utoipa::ToSchema)]
pub struct CallerCard {
    /// The customer's id (a ULID).
    pub id: String,
    /// Full name, family name first (a lead created from the call has only a placeholder).
    pub full_name: String,
    /// The name used to address them.
    pub given_name: String,
    /// How the agent greets them ("Anh Minh", "Chị Lan", "Quý khách").
    pub salutation: String,
    /// The responsible consultant or agent.
    pub owner: Option<String>,
    /// The owner's team.
    pub team: Option<String>,
    /// Where they are in the relationship.
    #[schema(value_type = nhip_core::openapi::LifecycleSchema)]
    pub lifecycle: String,
    /// The lifecycle in Vietnamese.
    pub lifecycle_label: String,
    /// How promising, as staff judged.
    #[schema(value_type = Option<nhip_core::openapi::ClassificationSchema>)]
    pub classification: Option<String>,
    /// The classification in Vietnamese.
    pub classification_label: Option<String>,
    /// The customer restricted processing of their data.
    pub processing_restricted: bool,
    /// The customer objected to marketing.
    pub marketing_objected: bool,
    /// The customer's open tickets, newest first (`id`, `queue`, `queue_label`, `title`,
    /// `status`, `status_label`, `assignee`, `due_at`).
    #[schema(value_type = Vec<Object>)]
    pub open_tickets: Vec<Value>,
    /// Up to five recent activities, newest first (this call included).
    pub recent_activities: Vec<Activity>,
    /// Whether the call created a lead.
    pub created: bool,
}

/// `POST /v1/telephony/incoming`: 200 with the card of a known caller; 201 with the card of
/// the lead created for an unknown one (`"created": true`). 401 for a bad signature or stale
/// timestamp, 503 while the secret is not configured, 422 for a caller that is not a
/// Vietnamese mobile number.
#[utoipa::path(
    post,
    path = "/v1/telephony/incoming",
    tag = "telephony",
    params(
        ("X-Nhip-Timestamp" = String, Header, description = "When the call centre signed the request, unix seconds; more than five minutes from now is refused.", example = "1795402800"),
        ("X-Nhip-Signature" = String, Header, description = "`sha256=` and the hex HMAC-SHA256, keyed with the shared secret (`NHIP_TELEPHONY_SECRET`), of `<timestamp>.<raw body>`.", example = "sha256=5d5b09f6dcb2d53a5fffc60c4ac0d55fabdf556069d6631545f42aa6e3500f2e"),
    ),
    request_body(content = IncomingCall, description = "The call, as the call centre sends it (at most 8 KB), signed byte for byte."),
    responses(
        (status = 200, description = "A known caller: their card; the call is on their timeline (once per `call_id`).", body = CallerCard,
            headers(("Cache-Control" = String, description = "`no-store`: the card is personal data."))),
        (status = 201, description = "An unknown caller: the card of the lead created for them (`\"created\": true`).", body = CallerCard,
            headers(("Cache-Control" = String, description = "`no-store`: the card is personal data."))),
        (status = 400, description = "The body is not valid JSON (`invalid_json`).", body = nhip_core::openapi::ErrorBody),
        (status = 401, description = "The signature is missing, malformed or wrong, or the timestamp is more than five minutes from now (`invalid_signature`); nothing was stored.", body = nhip_core::openapi::ErrorBody),
        (status = 409, description = "A concurrent change to the caller's record (`conflict`); retrying is safe.", body = nhip_core::openapi::ErrorBody),
        (status = 413, description = "The body is larger than 8 KB (`body_too_large`).", body = nhip_core::openapi::ErrorBody),
        (status = 422, description = "No `call_id` or `caller`, a malformed `call_id` or `hotline`, or a caller that is not a Vietnamese mobile number (`validation_failed`).", body = nhip_core::openapi::ErrorBody),
        (status = 503, description = "The webhook's secret is not configured (`not_configured`), or the store or a queue is busy (`unavailable`); retry.", body = nhip_core::openapi::ErrorBody,
            headers(("Retry-After" = i64, description = "Seconds to wait before retrying."))),
    )
)]
#[tracing::instrument(skip_all, fields(call_id = tracing::field::Empty))]
async fn incoming(State(deps): State<Arc<Deps>>, request: Request) -> Result<Response, ApiError> {
    let Some(secret) = deps.settings.telephony_secret.as_deref() else {
        tracing::error!("telephony webhook called but NHIP_TELEPHONY_SECRET is not configured");
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_configured",
            "The telephony webhook is not configured.",
        ));
    };
    let (parts, body) = request.into_parts();
    let body = read_limited(body).await?;
    let now = deps.clock.now();
    if let Err(error) = verify(secret, &parts.headers, &body, now) {
        tracing::warn!(reason = %error.message, "telephony webhook rejected");
        return Err(error);
    }
    let (call, phone) = parse(&body)?;
    tracing::Span::current().record("call_id", call.call_id.as_str());
    let answered = answer(&deps, &call, phone.clone(), now).await?;
    if let Some(extension) = &call.extension
        && let Some(user) = nhip_crm::call_pops::user_of_extension(&deps, extension).await?
    {
        nhip_crm::call_pops::push(
            &deps,
            &user,
            answered.customer.id,
            &call.call_id,
            phone.as_str(),
            answered.created,
        )
        .await?;
    }
    let status = if answered.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let tickets = nhip_crm::tickets::open_of_customer(&deps, answered.customer.id).await?;
    let card = card(
        &answered.customer,
        &answered.activities,
        answered.created,
        &tickets,
    );
    let mut response = (status, axum::Json(card)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Why a call could not be answered.
#[derive(Debug, thiserror::Error)]
enum CallError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The unknown caller's lead was not recorded.
    #[error(transparent)]
    Lead(#[from] RecordError),
}

impl From<CallError> for ApiError {
    fn from(error: CallError) -> Self {
        match error {
            CallError::Store(error) => error.into(),
            CallError::Lead(error) => error.into(),
        }
    }
}

/// A call answered: the caller's record, the card's activities, and whether the call made
/// them a lead.
struct Answered {
    /// The caller.
    pub customer: Customer,
    /// Their most recent activities, newest first (this call included).
    pub activities: Vec<Activity>,
    /// The caller was unknown and is now a lead.
    pub created: bool,
}

/// Finds the caller by number and records the call once: on a known customer's timeline, or
/// as the lead (source `incoming_call`) an unknown number becomes.
async fn answer(
    deps: &Deps,
    call: &IncomingCall,
    phone: Phone,
    now: DateTime<Utc>,
) -> Result<Answered, CallError> {
    let known = match leads::find(deps, Some(&phone), None).await? {
        Some(id) => repo::get(&*deps.store, id).await?,
        None => None,
    };
    if let Some(customer) = known {
        let activities = record_on_known(deps, &customer, call, now).await?;
        tracing::info!(customer = %customer.id, call_id = %call.call_id, "incoming call from a known customer");
        return Ok(Answered {
            customer,
            activities,
            created: false,
        });
    }
    let lead = Lead {
        name: None,
        gender: None,
        birthday: None,
        phone: Some(phone),
        email: None,
        source: Source::IncomingCall,
        attribution: Default::default(),
        consents: Vec::new(),
        message: None,
        via: "telephony",
        details: json!({"call_id": call.call_id, "hotline": call.hotline}),
        // The call centre signs the webhook; the caller's number is its caller id.
        anonymous: false,
    };
    let recorded = record_lead(deps, &lead).await?;
    let customer = recorded.customer;
    // The lead's timeline entry carries the call id; the marker makes a retry cheap.
    match deps
        .store
        .transact(vec![marker(customer.id, call, now)])
        .await
    {
        Ok(()) | Err(StoreError::ConditionFailed { .. }) => {}
        Err(other) => return Err(other.into()),
    }
    let (activities, _) = timeline::page(&*deps.store, customer.id, CARD_ACTIVITIES, None).await?;
    let created = recorded.outcome == Outcome::Created;
    tracing::info!(customer = %customer.id, call_id = %call.call_id, created, "incoming call from an unknown number");
    Ok(Answered {
        customer,
        activities,
        created,
    })
}

async fn read_limited(body: Body) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, MAX_CALL_BYTES)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("The body is larger than {MAX_CALL_BYTES} bytes."),
            )
        })
}
