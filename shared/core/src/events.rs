//! Domain events Nhịp records and raises: [`record`] writes an event on its customer's
//! timeline, idempotently (the entry's key is derived from the event's `(source, id)` and
//! written create-only, so a redelivered event leaves one entry); [`publish`] puts Nhịp's own
//! events on the events queue, whose consumer (in `nhip-api`) records them, routes them to
//! journeys and forwards them to the event bus. A producer that has already committed the
//! event's entry itself (the lead's transaction, a route's own write, a message's decision)
//! publishes with [`publish_recorded`] instead, and the consumer writes nothing for it: the
//! put it would make could only be refused.

use nhip_domain::event::DomainEvent;
use serde_json::{Value, json};

use crate::deps::Deps;
use crate::keys;
use nhip_ports::store::{Condition, StoreError, WriteOp};

/// What became of one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Written to the customer's timeline.
    Added,
    /// Already there: a redelivery.
    Duplicate,
    /// Not about a customer: nothing to record on a timeline.
    NoCustomer,
    /// Recorded by its producer before it was published ([`publish_recorded`]): nothing
    /// written.
    ByProducer,
}

/// The events queue's message attribute that says the producer committed the event's
/// timeline entry before publishing it ([`publish_recorded`]). Only Nhịp itself sends on the
/// events queue with attributes: an entry from the core systems' EventBridge rule carries
/// none, and `POST /v1/events` publishes with [`publish`].
pub const RECORDED_ATTRIBUTE: &str = "recorded";

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
    let entry = crate::timeline::Entry {
        customer,
        at: event.occurred_at,
        cause: format!("{}#{}", event.source, event.id),
        event_type: event.kind.clone(),
        source: event.source.clone(),
        actor: None,
        data: json!(event.data),
    };
    let key = entry.key();
    let mut item = entry.to_item(now);
    item.insert("event_id".into(), Value::from(event.id.clone()));
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
pub async fn publish(deps: &Deps, events: &[DomainEvent]) -> Result<(), nhip_ports::QueueError> {
    send(deps, events, false).await
}

/// [`publish`] for events whose timeline entry the caller has committed already (with
/// [`record`], or in its own transaction under the same key): the consumer routes them to
/// journeys and the bus and skips the timeline write, which could only be refused.
pub async fn publish_recorded(
    deps: &Deps,
    events: &[DomainEvent],
) -> Result<(), nhip_ports::QueueError> {
    send(deps, events, true).await
}

async fn send(
    deps: &Deps,
    events: &[DomainEvent],
    recorded: bool,
) -> Result<(), nhip_ports::QueueError> {
    let messages: Vec<nhip_ports::OutgoingMessage> = events
        .iter()
        .map(|event| {
            let message = nhip_ports::OutgoingMessage::new(
                serde_json::to_string(event).expect("a domain event always serialises"),
            )
            .attribute("type", event.kind.clone());
            if recorded {
                message.attribute(RECORDED_ATTRIBUTE, "timeline")
            } else {
                message
            }
        })
        .collect();
    let mut attempt = 0;
    loop {
        attempt += 1;
        match nhip_ports::queue::send_all(&*deps.queues.events, messages.clone()).await {
            Ok(_) => return Ok(()),
            Err(error) if attempt < 3 => {
                tracing::warn!(%error, attempt, "publishing events failed; retrying");
                tokio::time::sleep(std::time::Duration::from_millis(50 * attempt)).await;
            }
            Err(error) => return Err(error),
        }
    }
}

/// Publishes entries a route has just committed (in its own transaction) on the events queue,
/// so journeys hear what staff do exactly as they hear events posted to `/v1/events`: a lead
/// made a customer by a holding, a settlement, a consent recorded. The events consumer maps
/// each back to its entry ([`crate::timeline::Entry::as_event`]) and records nothing twice.
/// The write is committed already, so a queue outage is logged, not reported to the caller.
pub async fn publish_entries(deps: &Deps, entries: &[crate::timeline::Entry]) {
    let events: Vec<_> = entries
        .iter()
        .filter_map(crate::timeline::Entry::as_event)
        .collect();
    if events.is_empty() {
        return;
    }
    if let Err(error) = publish_recorded(deps, &events).await {
        tracing::warn!(%error, count = events.len(), "staff events not published; journeys miss them");
    }
}
