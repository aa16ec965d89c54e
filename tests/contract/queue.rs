//! The queue contract, run on the durable local queue and on SQS (moto).

use std::sync::Arc;
use std::time::Duration;

use nhip_local::{LocalQueue, SimulatedClock};
use nhip_ports::queue::{OutgoingMessage, Queue, QueueError, ReceivedMessage, send_all};

use crate::support;

/// Receives before a message is dead-lettered in these tests.
const MAX_RECEIVES: u32 = 2;

/// A queue with its dead-letter queue and a way to let time pass for it.
struct Harness {
    queue: Arc<dyn Queue>,
    dlq: Arc<dyn Queue>,
    time: Time,
    _dir: Option<tempfile::TempDir>,
}

enum Time {
    /// The local queue reads the simulated clock: advance it.
    Simulated(Arc<SimulatedClock>),
    /// SQS keeps real time: wait.
    Real,
}

impl Harness {
    async fn pass(&self, duration: Duration) {
        match &self.time {
            Time::Simulated(clock) => {
                clock.advance(chrono::Duration::from_std(duration).unwrap());
            }
            Time::Real => tokio::time::sleep(duration).await,
        }
    }

    /// Receives until `n` messages arrived or a few polls came back empty (SQS may spread a
    /// batch over several receives).
    async fn receive_n(&self, n: usize, visibility: Duration) -> Vec<ReceivedMessage> {
        let mut all = Vec::new();
        for _ in 0..6 {
            if all.len() >= n {
                break;
            }
            let got = self
                .queue
                .receive(10, visibility, Duration::from_millis(300))
                .await
                .unwrap();
            all.extend(got);
        }
        all
    }
}

fn local() -> Harness {
    let (db, dir) = support::sqlite_db();
    let clock = Arc::new(SimulatedClock::frozen(support::test_epoch()));
    let queue = LocalQueue::new(db, "steps", clock.clone()).with_dead_letter_queue(MAX_RECEIVES);
    let dlq = queue.dead_letter_queue().unwrap();
    Harness {
        queue: Arc::new(queue),
        dlq: Arc::new(dlq),
        time: Time::Simulated(clock),
        _dir: Some(dir),
    }
}

async fn sqs() -> Harness {
    let config = support::aws_sdk_config().await;
    let client = aws_sdk_sqs::Client::new(&config);
    let name = support::unique_name("nhip-contract");
    let (url, dlq_url) = nhip_aws::sqs::create_queue_with_dlq(&client, &name, MAX_RECEIVES)
        .await
        .expect("creating queues on the emulator");
    Harness {
        queue: Arc::new(nhip_aws::sqs::SqsQueue::new(client.clone(), "steps", url)),
        dlq: Arc::new(nhip_aws::sqs::SqsQueue::new(client, "steps-dlq", dlq_url)),
        time: Time::Real,
        _dir: None,
    }
}

macro_rules! queue_contract {
    ($($case:ident),* $(,)?) => {
        mod local {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::local()).await;
                }
            )*
        }
        mod sqs {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    crate::support::needs_emulator!();
                    super::$case(super::sqs().await).await;
                }
            )*
        }
    };
}

queue_contract!(
    messages_arrive_whole_and_leave_when_deleted,
    unacknowledged_messages_come_back_after_the_visibility_timeout,
    messages_are_dead_lettered_after_max_receives,
    visibility_can_be_extended_or_released,
    delayed_messages_stay_hidden_until_due,
    malformed_batches_are_rejected_whole,
    more_than_ten_messages_go_in_batches,
);

async fn messages_arrive_whole_and_leave_when_deleted(h: Harness) {
    let sent = vec![
        OutgoingMessage::new(r#"{"step":"invite","customer":"Nguyễn Văn A"}"#)
            .attribute("type", "journey.step")
            .attribute("trace", "t-1"),
        OutgoingMessage::new("second"),
        OutgoingMessage::new("third"),
    ];
    let ids = h.queue.send_batch(sent.clone()).await.unwrap();
    assert_eq!(ids.len(), 3);
    let mut got = h.receive_n(3, Duration::from_secs(30)).await;
    assert_eq!(got.len(), 3, "{got:?}");
    got.sort_by_key(|m| ids.iter().position(|id| *id == m.message_id));
    for (message, original) in got.iter().zip(&sent) {
        assert_eq!(message.body, original.body);
        assert_eq!(message.attributes, original.attributes);
        assert_eq!(message.receive_count, 1);
    }
    let depth = h.queue.depth().await.unwrap();
    assert_eq!((depth.visible, depth.in_flight), (0, 3));
    for message in &got {
        h.queue.delete(&message.receipt_handle).await.unwrap();
        // Deleting twice is fine.
        h.queue.delete(&message.receipt_handle).await.unwrap();
    }
    h.pass(Duration::from_secs(31)).await;
    assert!(
        h.queue
            .receive(10, Duration::from_secs(30), Duration::ZERO)
            .await
            .unwrap()
            .is_empty()
    );
    let depth = h.queue.depth().await.unwrap();
    assert_eq!((depth.visible, depth.in_flight), (0, 0));
}

async fn unacknowledged_messages_come_back_after_the_visibility_timeout(h: Harness) {
    h.queue
        .send_batch(vec![OutgoingMessage::new("retry me")])
        .await
        .unwrap();
    let first = h.receive_n(1, Duration::from_secs(1)).await;
    assert_eq!(first.len(), 1);
    let hidden = h
        .queue
        .receive(10, Duration::from_secs(1), Duration::ZERO)
        .await
        .unwrap();
    assert!(hidden.is_empty(), "invisible while in flight: {hidden:?}");
    h.pass(Duration::from_millis(1500)).await;
    let again = h.receive_n(1, Duration::from_secs(30)).await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].message_id, first[0].message_id);
    assert_eq!(again[0].receive_count, 2);
    assert_ne!(again[0].receipt_handle, first[0].receipt_handle);
    h.queue.delete(&again[0].receipt_handle).await.unwrap();
}

async fn messages_are_dead_lettered_after_max_receives(h: Harness) {
    h.queue
        .send_batch(vec![
            OutgoingMessage::new("poison").attribute("type", "bad"),
        ])
        .await
        .unwrap();
    for attempt in 1..=MAX_RECEIVES {
        let got = h.receive_n(1, Duration::from_secs(1)).await;
        assert_eq!(got.len(), 1, "attempt {attempt}");
        assert_eq!(got[0].receive_count, attempt);
        h.pass(Duration::from_millis(1500)).await;
    }
    let after = h
        .queue
        .receive(10, Duration::from_secs(1), Duration::from_millis(300))
        .await
        .unwrap();
    assert!(
        after.is_empty(),
        "moved to the dead-letter queue: {after:?}"
    );
    let mut dead = Vec::new();
    for _ in 0..5 {
        dead.extend(
            h.dlq
                .receive(10, Duration::from_secs(30), Duration::from_millis(300))
                .await
                .unwrap(),
        );
        if !dead.is_empty() {
            break;
        }
    }
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body, "poison");
    assert_eq!(
        dead[0].attributes.get("type").map(String::as_str),
        Some("bad")
    );
}

async fn visibility_can_be_extended_or_released(h: Harness) {
    h.queue
        .send_batch(vec![OutgoingMessage::new("held")])
        .await
        .unwrap();
    let got = h.receive_n(1, Duration::from_secs(30)).await;
    // Released: visible again at once.
    h.queue
        .change_visibility(&got[0].receipt_handle, Duration::ZERO)
        .await
        .unwrap();
    let again = h.receive_n(1, Duration::from_secs(1)).await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].receive_count, 2);
    // Extended: still hidden after the original timeout.
    h.queue
        .change_visibility(&again[0].receipt_handle, Duration::from_secs(60))
        .await
        .unwrap();
    h.pass(Duration::from_millis(1500)).await;
    let hidden = h
        .queue
        .receive(10, Duration::from_secs(1), Duration::ZERO)
        .await
        .unwrap();
    assert!(hidden.is_empty(), "{hidden:?}");
    let garbage = h
        .queue
        .change_visibility("not-a-receipt", Duration::ZERO)
        .await;
    assert!(garbage.is_err());
}

async fn delayed_messages_stay_hidden_until_due(h: Harness) {
    h.queue
        .send_batch(vec![
            OutgoingMessage::new("later").delayed(Duration::from_secs(1)),
        ])
        .await
        .unwrap();
    let early = h
        .queue
        .receive(10, Duration::from_secs(30), Duration::ZERO)
        .await
        .unwrap();
    assert!(early.is_empty(), "{early:?}");
    h.pass(Duration::from_millis(1500)).await;
    let due = h.receive_n(1, Duration::from_secs(30)).await;
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].body, "later");
}

async fn malformed_batches_are_rejected_whole(h: Harness) {
    let eleven = vec![OutgoingMessage::new("x"); 11];
    let empty_body = vec![OutgoingMessage::new("ok"), OutgoingMessage::new("")];
    let too_late = vec![OutgoingMessage::new("x").delayed(Duration::from_secs(16 * 60))];
    let too_big = vec![OutgoingMessage::new("x".repeat(256 * 1024 + 1))];
    let empty_attribute = vec![OutgoingMessage::new("x").attribute("type", "")];
    for batch in [
        vec![],
        eleven,
        empty_body,
        too_late,
        too_big,
        empty_attribute,
    ] {
        let err = h.queue.send_batch(batch).await.unwrap_err();
        assert!(matches!(err, QueueError::Invalid { .. }), "{err:?}");
    }
    let receive_too_many = h
        .queue
        .receive(11, Duration::from_secs(1), Duration::ZERO)
        .await;
    assert!(matches!(receive_too_many, Err(QueueError::Invalid { .. })));
    let depth = h.queue.depth().await.unwrap();
    assert_eq!(
        depth.visible + depth.in_flight + depth.delayed,
        0,
        "nothing half-sent"
    );
}

async fn more_than_ten_messages_go_in_batches(h: Harness) {
    let messages = (0..23)
        .map(|i| OutgoingMessage::new(format!("m{i}")))
        .collect();
    let ids = send_all(h.queue.as_ref(), messages).await.unwrap();
    assert_eq!(ids.len(), 23);
    let mut bodies: Vec<String> = h
        .receive_n(23, Duration::from_secs(30))
        .await
        .into_iter()
        .map(|m| m.body)
        .collect();
    bodies.sort_by_key(|b| b[1..].parse::<u32>().unwrap());
    assert_eq!(bodies, (0..23).map(|i| format!("m{i}")).collect::<Vec<_>>());
}

/// The local queue lives in the SQLite file: a restart loses nothing, and a message that was
/// in flight when the process stopped is delivered again once its timeout passes.
#[tokio::test]
async fn local_queue_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nhip.db");
    let clock = Arc::new(SimulatedClock::frozen(support::test_epoch()));
    {
        let db = nhip_local::Database::open(&path).unwrap();
        let queue = LocalQueue::new(db, "events", clock.clone());
        queue
            .send_batch(vec![OutgoingMessage::new("a"), OutgoingMessage::new("b")])
            .await
            .unwrap();
        let got = queue
            .receive(1, Duration::from_secs(30), Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(got.len(), 1);
    }
    let db = nhip_local::Database::open(&path).unwrap();
    let queue = LocalQueue::new(db, "events", clock.clone());
    let ready = queue
        .receive(10, Duration::from_secs(30), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(ready.len(), 1);
    queue.delete(&ready[0].receipt_handle).await.unwrap();
    clock.advance(chrono::Duration::seconds(31));
    let redelivered = queue
        .receive(10, Duration::from_secs(30), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(redelivered.len(), 1);
    assert_eq!(redelivered[0].receive_count, 2);
}
