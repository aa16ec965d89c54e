//! Events in: the organisation's core systems (card issued, card activated, a transaction with
//! its amount, installment registered, payment received, app installed, form submitted…) post
//! their events at `POST /v1/events`, a batch of up to 100, each with the system's own event
//! id. The batch is checked whole — one bad event and nothing is queued — then put on the events
//! queue, where the events consumer records them on the customer's timeline and the journeys
//! hear them. `(source, id)` identifies an event, so posting a batch again (after a timeout) is
//! harmless: every consumer keeps each event once.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use nhip_domain::event::DomainEvent;
use nhip_domain::identifiers::{Cccd, Email, Phone};
use nhip_domain::ids::CustomerId;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::customers::repo;
use nhip_core::auth::Principal;
use nhip_core::deps::Deps;
use nhip_core::http::{ApiError, Json};
use nhip_core::keys;
use nhip_core::openapi::Routes;
use nhip_core::routes;
use nhip_ports::{QueueError, StoreError};

/// Most events in one request.
pub const MAX_BATCH: usize = 100;

/// The routes.
pub fn router() -> Routes<Arc<Deps>> {
    Routes::new().routes(routes!(post_events))
}

/// Who an event is about: Nhịp's id, or an identifier the customer is known by.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerRef {
    /// Nhịp's customer id.
    pub id: Option<String>,
    /// A mobile number in any usual form.
    pub phone: Option<String>,
    /// An e-mail address.
    pub email: Option<String>,
    /// A citizen id (CCCD).
    pub cccd: Option<String>,
}

/// One event from a core system.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IncomingEvent {
    /// The system's own id for the event, unique within `source`.
    #[schema(example = "card-issued-000123")]
    pub id: String,
    /// Dotted lower-case type.
    #[serde(rename = "type")]
    #[schema(example = "card.issued")]
    pub kind: String,
    /// Who it is about (optional for events about no customer).
    #[serde(default)]
    pub customer: Option<CustomerRef>,
    /// When it happened (RFC 3339); now when absent.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "2026-11-23T02:00:00Z")]
    pub occurred_at: Option<DateTime<Utc>>,
    /// The payload (amounts in đồng as integers, dates as `YYYY-MM-DD`).
    #[serde(default)]
    #[schema(value_type = Object, example = json!({"card_product": "the-tin-dung-vang", "last4": "1234"}))]
    pub data: Value,
}

/// A batch of events.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventBatch {
    /// The sending system, e.g. `core-banking`, `card-system`, `los`.
    #[schema(example = "card-system")]
    pub source: String,
    /// 1–100 events.
    #[schema(min_items = 1, max_items = 100)]
    pub events: Vec<IncomingEvent>,
}

/// `POST /v1/events` (admin: core systems use an admin machine client): queues a batch of
/// events. All or nothing: a bad event answers 422 with its problems under `events.<i>.<field>`
/// and queues none.
#[utoipa::path(
    post,
    path = "/v1/events",
    tag = "events",
    security(("bearer" = [])),
    request_body(content = EventBatch, description = "Up to 100 events from one source."),
    responses(
        (status = 202, description = "Queued: how many, and each event's id with its customer.", body = AcceptedEvents),
        nhip_core::openapi::CreateErrors,
    )
)]
pub async fn post_events(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Json(batch): Json<EventBatch>,
) -> Result<Response, ApiError> {
    principal.require_admin()?;
    let events = accept(&deps, &batch).await?;
    Ok((StatusCode::ACCEPTED, Json(AcceptedEvents::of(&events))).into_response())
}

/// Why a batch was not queued.
#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    /// Problems with the batch, by field (`source`, `events`, `events.<i>.<field>`), in
    /// Vietnamese: nothing was queued.
    #[error("the batch is not valid: {0:?}")]
    Invalid(BTreeMap<String, String>),
    /// The events queue refused the batch: send it again whole.
    #[error("the events queue is unavailable")]
    QueueUnavailable(#[source] QueueError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<EventsError> for ApiError {
    fn from(error: EventsError) -> Self {
        match error {
            EventsError::Invalid(problems) => {
                let mut error = ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "validation_failed",
                    "Lô sự kiện có lỗi; không sự kiện nào được nhận. Xem từng trường.",
                );
                for (field, message) in problems {
                    error = error.field(field, message);
                }
                error
            }
            EventsError::QueueUnavailable(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Hàng đợi sự kiện đang bận; gửi lại cả lô, sự kiện trùng id được giữ một lần.",
            ),
            EventsError::Store(error) => error.into(),
        }
    }
}

/// What `POST /v1/events` answers: how many events were queued, and each one's id with the
/// customer it was found to be about.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AcceptedEvents {
    /// How many events were queued: the whole batch.
    pub accepted: usize,
    /// The events, in the batch's order.
    pub events: Vec<AcceptedEvent>,
}

/// One queued event.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AcceptedEvent {
    /// The system's own id for the event.
    pub id: String,
    /// The customer it is about; `null` for an event about no customer.
    #[schema(value_type = Option<String>)]
    pub customer_id: Option<CustomerId>,
}

impl AcceptedEvents {
    fn of(events: &[DomainEvent]) -> Self {
        Self {
            accepted: events.len(),
            events: events
                .iter()
                .map(|e| AcceptedEvent {
                    id: e.id.clone(),
                    customer_id: e.customer_id,
                })
                .collect(),
        }
    }
}

/// Checks a batch whole (the customers it names must be known) and queues it: the events
/// queued, or every problem of the batch and nothing queued.
pub async fn accept(deps: &Deps, batch: &EventBatch) -> Result<Vec<DomainEvent>, EventsError> {
    let mut problems: BTreeMap<String, String> = BTreeMap::new();
    if batch.events.is_empty() || batch.events.len() > MAX_BATCH {
        problems.insert(
            "events".into(),
            format!("Gửi từ 1 đến {MAX_BATCH} sự kiện mỗi lần."),
        );
    }
    if batch.source == "nhip" {
        problems.insert(
            "source".into(),
            "Nguồn “nhip” dành cho sự kiện của Nhịp.".into(),
        );
    }
    let now = deps.clock.now();
    let mut events = Vec::new();
    for (i, incoming) in batch.events.iter().enumerate() {
        let customer_id = match &incoming.customer {
            None => None,
            Some(reference) => match resolve(deps, reference).await {
                Ok(Some(id)) => Some(id),
                Ok(None) => {
                    problems.insert(
                        format!("events.{i}.customer"),
                        "Không tìm thấy khách hàng này.".into(),
                    );
                    None
                }
                Err(Resolve::Invalid(field, message)) => {
                    problems.insert(format!("events.{i}.customer.{field}"), message);
                    None
                }
                Err(Resolve::Store(error)) => return Err(error.into()),
            },
        };
        let event = DomainEvent {
            id: incoming.id.clone(),
            source: batch.source.clone(),
            kind: incoming.kind.clone(),
            customer_id,
            occurred_at: incoming.occurred_at.unwrap_or(now),
            data: incoming.data.clone(),
        };
        if let Err(fields) = event.validate() {
            for (field, message) in fields {
                let field = if field == "source" {
                    "source".to_owned()
                } else {
                    format!("events.{i}.{field}")
                };
                problems.insert(field, message);
            }
        }
        if events.iter().any(|e: &DomainEvent| e.id == event.id) {
            problems.insert(format!("events.{i}.id"), "Trùng id trong cùng lô.".into());
        }
        events.push(event);
    }
    if !problems.is_empty() {
        return Err(EventsError::Invalid(problems));
    }
    nhip_core::events::publish(deps, &events)
        .await
        .map_err(EventsError::QueueUnavailable)?;
    Ok(events)
}

/// Why a customer reference names no customer: a malformed identifier (the field and the
/// problem, in Vietnamese), or the store failed.
pub enum Resolve {
    Invalid(&'static str, String),
    Store(StoreError),
}

/// The customer a reference names: by id (must exist and not be erased), else by the first
/// identifier given.
pub async fn resolve(deps: &Deps, reference: &CustomerRef) -> Result<Option<CustomerId>, Resolve> {
    if let Some(raw) = &reference.id {
        let Ok(id) = CustomerId::from_str(raw) else {
            return Err(Resolve::Invalid("id", "Mã khách hàng không hợp lệ.".into()));
        };
        let found = repo::get(&*deps.store, id).await.map_err(Resolve::Store)?;
        return Ok(found.filter(|c| c.erased_at.is_none()).map(|c| c.id));
    }
    let guard = if let Some(raw) = &reference.phone {
        keys::phone_guard(
            Phone::parse(raw)
                .map_err(|e| Resolve::Invalid("phone", e.to_string()))?
                .as_str(),
        )
    } else if let Some(raw) = &reference.email {
        keys::email_guard(
            Email::parse(raw)
                .map_err(|e| Resolve::Invalid("email", e.to_string()))?
                .as_str(),
        )
    } else if let Some(raw) = &reference.cccd {
        keys::cccd_guard(
            Cccd::parse(raw)
                .map_err(|e| Resolve::Invalid("cccd", e.to_string()))?
                .as_str(),
        )
    } else {
        return Err(Resolve::Invalid(
            "id",
            "Cần id, phone, email hoặc cccd của khách hàng.".into(),
        ));
    };
    repo::guard_owner(&*deps.store, &guard)
        .await
        .map_err(Resolve::Store)
}
