//! The events consumer: domain events arriving on the events queue (from core systems through
//! the API or the EventBridge bus, and from Nhịp itself) are recorded on the customer's
//! timeline, then routed to journeys (the enrollments waiting for them, the journeys they
//! start); Nhịp's own events are forwarded to the event bus for the organisation's other
//! systems. Recording is idempotent: the timeline entry's key is derived from the event's
//! `(source, id)` and written create-only, so a redelivered event leaves one entry; routing
//! again finds the enrollments already moved or made; forwarding is at least once, keyed by
//! `(source, id)` for receivers.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use nhip_domain::event::DomainEvent;
use serde_json::{Value, json};
use tracing::instrument;

use crate::consumer::{Failure, process_batch};
use crate::deps::Deps;
use crate::keys;
use crate::ports::store::{Condition, StoreError, WriteOp};

/// Kind attribute of timeline items.
pub const TIMELINE_KIND: &str = "timeline";

/// Handles one batch from the events queue.
#[instrument(skip_all, fields(records = event.records.len()))]
pub async fn handle_batch(deps: &Deps, event: SqsEvent) -> SqsBatchResponse {
    process_batch(event, |record| record_event(deps, record)).await
}

/// What became of one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Written to the customer's timeline.
    Added,
    /// Already there: a redelivery.
    Duplicate,
    /// Not about a customer: nothing to record on a timeline.
    NoCustomer,
}

async fn record_event(deps: &Deps, message: SqsMessage) -> Result<(), Failure> {
    let body = message.body.as_deref().unwrap_or_default();
    let event = match parse_body(body) {
        Ok(event) => event,
        Err(reason) => {
            // The reason names the field, never the payload's values.
            tracing::warn!(message_id = ?message.message_id, %reason, "event body is not a domain event");
            return Err(Failure::Poison);
        }
    };
    if let Err(fields) = event.validate() {
        tracing::warn!(?fields, "event envelope is invalid");
        return Err(Failure::Poison);
    }
    match handle(deps, &event).await {
        Ok(outcome) => {
            tracing::info!(event_type = %event.kind, source = %event.source, ?outcome, "event recorded");
            Ok(())
        }
        Err(error) => {
            tracing::warn!(error = %error, event_type = %event.kind, "recording failed");
            Err(if error.is_retryable() {
                Failure::Retryable
            } else {
                Failure::Poison
            })
        }
    }
}

/// A queued event body as a [`DomainEvent`]. Besides the events Nhịp queues itself, the body may
/// be what the EventBridge rule's input transformer wrote from a core system's entry (see
/// `CoreEventsRule` in template.yaml): there a numeric `detail.id` arrives as a JSON number,
/// and an entry without `detail.data` or `detail.customer_id` gives `null` (or nothing). Those
/// are accepted as the event they describe; anything else is refused with a reason naming the
/// field and where the transformer takes it from.
pub fn parse_body(body: &str) -> Result<DomainEvent, String> {
    let mut value: Value =
        serde_json::from_str(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let Some(fields) = value.as_object_mut() else {
        return Err("the body is not a JSON object".to_owned());
    };
    if let Some(id) = fields
        .get("id")
        .and_then(Value::as_number)
        .map(ToString::to_string)
    {
        fields.insert("id".into(), Value::from(id));
    }
    for optional in ["customer_id", "data"] {
        if fields.get(optional).is_some_and(Value::is_null) {
            fields.remove(optional);
        }
    }
    for (field, path) in [
        ("id", "$.detail.id"),
        ("source", "$.source"),
        ("type", "$.detail-type"),
        ("occurred_at", "$.time"),
    ] {
        if !fields.get(field).is_some_and(Value::is_string) {
            return Err(format!(
                "`{field}` is missing or not a string (from an EventBridge entry: {path})"
            ));
        }
    }
    serde_json::from_value(value).map_err(|e| format!("not a domain event: {e}"))
}

/// Records a validated event, routes it to journeys and, when it is Nhịp's own, forwards it to
/// the event bus.
pub async fn handle(deps: &Deps, event: &DomainEvent) -> Result<Recorded, StoreError> {
    let outcome = record(deps, event).await?;
    crate::journeys::entry::route_event(deps, event).await?;
    if event.source == NHIP_SOURCE
        && let Err(error) =
            crate::ports::bus::publish_all(&*deps.bus, std::slice::from_ref(event)).await
    {
        return Err(StoreError::unavailable(error));
    }
    Ok(outcome)
}

/// The source of Nhịp's own events.
pub const NHIP_SOURCE: &str = "nhip";

/// How long an outside event's identity marker is kept: a source repeating an event later
/// than this (after its own retries have long given up) would be recorded again.
const EVENT_IDENTITY_TTL_DAYS: i64 = 90;

/// Records a validated event on its customer's timeline, once per `(source, id)`. Nhịp's own
/// events carry the instant of what they describe, so their timeline key already repeats
/// with them; an outside event may come without `occurred_at` (stamped with the time it was
/// accepted), so its entry is written with an identity marker ([`keys::event_identity`]) in
/// one transaction, and a second delivery finds the marker and writes nothing.
pub async fn record(deps: &Deps, event: &DomainEvent) -> Result<Recorded, StoreError> {
    let Some(customer) = event.customer_id else {
        return Ok(Recorded::NoCustomer);
    };
    let now = deps.clock.now();
    let key = keys::timeline_entry(
        customer,
        event.occurred_at,
        &format!("{}#{}", event.source, event.id),
    );
    let mut item = key.to_item();
    item.insert("kind".into(), Value::from(TIMELINE_KIND));
    item.insert("event_type".into(), Value::from(event.kind.clone()));
    item.insert("source".into(), Value::from(event.source.clone()));
    item.insert("event_id".into(), Value::from(event.id.clone()));
    item.insert(
        "occurred_at".into(),
        Value::from(keys::instant(event.occurred_at)),
    );
    item.insert("recorded_at".into(), Value::from(keys::instant(now)));
    item.insert("data".into(), json!(event.data));
    let written = if event.source == NHIP_SOURCE {
        deps.store.put(item, Condition::NotExists).await
    } else {
        let mut marker = keys::event_identity(customer, &event.source, &event.id).to_item();
        marker.insert("kind".into(), Value::from("event_identity"));
        marker.insert("timeline_sk".into(), Value::from(key.sk.clone()));
        marker.insert(
            "ttl".into(),
            Value::from((now + chrono::Duration::days(EVENT_IDENTITY_TTL_DAYS)).timestamp()),
        );
        deps.store
            .transact(vec![
                WriteOp::Put {
                    item: marker,
                    condition: Condition::NotExists,
                },
                WriteOp::Put {
                    item,
                    condition: Condition::NotExists,
                },
            ])
            .await
    };
    match written {
        Ok(()) => Ok(Recorded::Added),
        Err(StoreError::ConditionFailed { .. }) => Ok(Recorded::Duplicate),
        Err(other) => Err(other),
    }
}

/// Publishes Nhịp's own events on the events queue (journeys and the timeline consume them).
/// Tried three times: the write they describe is already committed, so giving up early would
/// leave journeys unaware of it.
pub async fn publish(deps: &Deps, events: &[DomainEvent]) -> Result<(), crate::ports::QueueError> {
    let messages: Vec<crate::ports::OutgoingMessage> = events
        .iter()
        .map(|event| {
            crate::ports::OutgoingMessage::new(
                serde_json::to_string(event).expect("a domain event always serialises"),
            )
            .attribute("type", event.kind.clone())
        })
        .collect();
    let mut attempt = 0;
    loop {
        attempt += 1;
        match crate::ports::queue::send_all(&*deps.queues.events, messages.clone()).await {
            Ok(_) => return Ok(()),
            Err(error) if attempt < 3 => {
                tracing::warn!(%error, attempt, "publishing events failed; retrying");
                tokio::time::sleep(std::time::Duration::from_millis(50 * attempt)).await;
            }
            Err(error) => return Err(error),
        }
    }
}
