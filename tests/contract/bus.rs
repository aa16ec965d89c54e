//! The event-bus contract, run on the local bus (the SQLite table) and on EventBridge (moto).
//!
//! On moto, a rule on a fresh bus sends every event to a fresh SQS queue (moto delivers
//! EventBridge → SQS as AWS does, in EventBridge's own envelope), and the test reads the queue
//! to see what arrived: `source`, `detail-type`, and the `detail` with the event's fields.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_eventbridge::types::Target;
use aws_sdk_sqs::types::QueueAttributeName;
use chrono::{DateTime, Utc};
use nhip_domain::event::DomainEvent;
use nhip_domain::ids::CustomerId;
use nhip_local::LocalEventBus;
use nhip_ports::bus::{BusError, EventBus, MAX_BATCH, publish_all};
use serde_json::{Value, json};

use crate::support;

/// A bus and a way to see what was published on it.
struct Harness {
    bus: Arc<dyn EventBus>,
    seen: Seen,
    _dir: Option<tempfile::TempDir>,
}

enum Seen {
    /// The local bus keeps what it published.
    Local(Arc<LocalEventBus>),
    /// EventBridge delivers to an SQS queue through a rule.
    Queue {
        sqs: aws_sdk_sqs::Client,
        url: String,
    },
}

impl Harness {
    /// Everything that arrived, until at least `n` events did or a few seconds passed, rebuilt
    /// as domain events (with duplicates, for the at-least-once EventBridge).
    async fn arrived(&self, n: usize) -> Vec<DomainEvent> {
        match &self.seen {
            Seen::Local(bus) => bus.recent(1000).await.unwrap(),
            Seen::Queue { sqs, url } => {
                let mut all = Vec::new();
                let deadline = Instant::now() + Duration::from_secs(5);
                while all.len() < n && Instant::now() < deadline {
                    let out = sqs
                        .receive_message()
                        .queue_url(url)
                        .max_number_of_messages(10)
                        .wait_time_seconds(1)
                        .send()
                        .await
                        .unwrap();
                    for message in out.messages.unwrap_or_default() {
                        all.push(from_envelope(message.body.as_deref().unwrap_or_default()));
                        sqs.delete_message()
                            .queue_url(url)
                            .receipt_handle(message.receipt_handle.unwrap_or_default())
                            .send()
                            .await
                            .unwrap();
                    }
                }
                all
            }
        }
    }
}

/// The domain event inside an EventBridge envelope as an SQS target receives it, checking
/// that the envelope and the detail agree.
fn from_envelope(body: &str) -> DomainEvent {
    let envelope: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    let detail = &envelope["detail"];
    assert_eq!(envelope["detail-type"], detail["type"], "{body}");
    let keys: Vec<&str> = detail
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert!(
        keys.iter()
            .all(|k| ["id", "type", "customer_id", "occurred_at", "data"].contains(k)),
        "the detail carries the event's fields only: {body}"
    );
    // `Time` went with the entry: the envelope's time is when the event happened, to the
    // second.
    let occurred_at: DateTime<Utc> = serde_json::from_value(detail["occurred_at"].clone()).unwrap();
    let time: DateTime<Utc> = envelope["time"].as_str().unwrap().parse().unwrap();
    assert_eq!(time.timestamp(), occurred_at.timestamp(), "{body}");
    DomainEvent {
        id: serde_json::from_value(detail["id"].clone()).unwrap(),
        source: serde_json::from_value(envelope["source"].clone()).unwrap(),
        kind: serde_json::from_value(envelope["detail-type"].clone()).unwrap(),
        customer_id: serde_json::from_value(detail["customer_id"].clone()).unwrap(),
        occurred_at,
        data: detail["data"].clone(),
    }
}

fn local() -> Harness {
    let (db, dir) = support::sqlite_db();
    let bus = Arc::new(LocalEventBus::new(db));
    Harness {
        bus: bus.clone(),
        seen: Seen::Local(bus),
        _dir: Some(dir),
    }
}

async fn eventbridge() -> Harness {
    let config = support::aws_sdk_config().await;
    let events = aws_sdk_eventbridge::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let name = support::unique_name("nhip-bus");
    events
        .create_event_bus()
        .name(&name)
        .send()
        .await
        .expect("creating a bus on the emulator");
    let url = sqs
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()
        .remove(&QueueAttributeName::QueueArn)
        .unwrap();
    events
        .put_rule()
        .name("everything")
        .event_bus_name(&name)
        .event_pattern(json!({"source": ["nhip"]}).to_string())
        .send()
        .await
        .unwrap();
    events
        .put_targets()
        .rule("everything")
        .event_bus_name(&name)
        .targets(
            Target::builder()
                .id("queue")
                .arn(queue_arn)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    Harness {
        bus: Arc::new(nhip_aws::EventBridgeBus::new(events, name)),
        seen: Seen::Queue { sqs, url },
        _dir: None,
    }
}

macro_rules! bus_contract {
    ($($case:ident),* $(,)?) => {
        mod local {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::local()).await;
                }
            )*
        }
        mod eventbridge {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    crate::support::needs_emulator!();
                    super::$case(super::eventbridge().await).await;
                }
            )*
        }
    };
}

bus_contract!(
    a_batch_arrives_whole_and_again_is_harmless,
    more_than_a_batch_is_refused_and_nothing_goes,
    publish_all_sends_any_number_in_batches,
);

fn event(source: &str, id: &str, kind: &str, data: Value) -> DomainEvent {
    DomainEvent {
        id: id.into(),
        source: source.into(),
        kind: kind.into(),
        customer_id: None,
        occurred_at: support::test_epoch(),
        data,
    }
}

/// Events keyed by `(source, id)`, which receivers dedupe on.
fn keyed(events: Vec<DomainEvent>) -> BTreeMap<(String, String), DomainEvent> {
    events
        .into_iter()
        .map(|e| ((e.source.clone(), e.id.clone()), e))
        .collect()
}

async fn a_batch_arrives_whole_and_again_is_harmless(h: Harness) {
    let customer = CustomerId::new_at(support::test_epoch());
    let batch = vec![
        DomainEvent {
            customer_id: Some(customer),
            occurred_at: support::test_epoch() + chrono::Duration::seconds(90),
            ..event(
                "nhip",
                "01JD3ZK5X8Q2W7M4N6P9R1T3V5",
                "journey.converted",
                json!({"journey_id": "j-the-tin-dung", "goal": "card.activated"}),
            )
        },
        event(
            "nhip",
            "01JD3ZK5X8Q2W7M4N6P9R1T3V6",
            "message.opened",
            json!({"channel": "email", "template": "Chào mừng quý khách"}),
        ),
        event(
            "nhip",
            "01JD3ZK5X8Q2W7M4N6P9R1T3V7",
            "journey.step",
            json!({}),
        ),
    ];
    h.bus.publish(&batch).await.unwrap();
    // Publishing is at least once: the same batch again is accepted.
    h.bus.publish(&batch).await.unwrap();
    let arrived = h.arrived(2 * batch.len()).await;
    assert!(arrived.len() >= batch.len(), "{arrived:?}");
    for event in &arrived {
        assert!(batch.contains(event), "unexpected {event:?}");
    }
    assert_eq!(keyed(arrived.clone()), keyed(batch.clone()));
    if let Seen::Local(_) = h.seen {
        // The local bus keeps each (source, id) once.
        assert_eq!(arrived.len(), batch.len());
    }
}

async fn more_than_a_batch_is_refused_and_nothing_goes(h: Harness) {
    let too_many: Vec<_> = (0..=MAX_BATCH)
        .map(|i| {
            event(
                "nhip",
                &format!("evt-{i:02}"),
                "journey.step",
                json!({"i": i}),
            )
        })
        .collect();
    let err = h.bus.publish(&too_many).await.unwrap_err();
    assert!(
        matches!(err, BusError::PartiallyPublished { total, .. } if total == MAX_BATCH + 1),
        "{err:?}"
    );
    // A marker published after shows that nothing of the refused batch went.
    let marker = event("nhip", "marker", "journey.step", json!({}));
    h.bus.publish(std::slice::from_ref(&marker)).await.unwrap();
    assert_eq!(h.arrived(1).await, vec![marker]);
}

async fn publish_all_sends_any_number_in_batches(h: Harness) {
    let events: Vec<_> = (0..2 * MAX_BATCH + 3)
        .map(|i| {
            event(
                "nhip",
                &format!("evt-{i:02}"),
                "message.sent",
                json!({"i": i}),
            )
        })
        .collect();
    publish_all(h.bus.as_ref(), &events).await.unwrap();
    let arrived = h.arrived(events.len()).await;
    assert_eq!(keyed(arrived), keyed(events));
}
