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
use serde_json::Value;
use tracing::instrument;

use nhip_core::consumer::{Failure, process_batch};
use nhip_core::deps::Deps;
use nhip_core::events::{NHIP_SOURCE, Recorded, record};
use nhip_ports::store::StoreError;

/// Handles one batch from the events queue.
#[instrument(skip_all, fields(records = event.records.len()))]
pub async fn handle_batch(deps: &Deps, event: SqsEvent) -> SqsBatchResponse {
    process_batch(event, |record| record_event(deps, record)).await
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
    let recorded = message
        .message_attributes
        .contains_key(nhip_core::events::RECORDED_ATTRIBUTE);
    match handle_as(deps, &event, recorded).await {
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
    handle_as(deps, event, false).await
}

/// [`handle`], told whether the producer committed the event's timeline entry itself (the
/// message's [`nhip_core::events::RECORDED_ATTRIBUTE`]); then nothing is written for it.
pub async fn handle_as(
    deps: &Deps,
    event: &DomainEvent,
    recorded_by_producer: bool,
) -> Result<Recorded, StoreError> {
    let outcome = if recorded_by_producer {
        Recorded::ByProducer
    } else {
        record(deps, event).await?
    };
    nhip_contracts::plans::on_event(deps, event).await?;
    nhip_journeys::entry::route_event(deps, event).await?;
    if event.source == NHIP_SOURCE
        && let Err(error) =
            nhip_ports::bus::publish_all(&*deps.bus, std::slice::from_ref(event)).await
    {
        return Err(StoreError::unavailable(error));
    }
    Ok(outcome)
}
