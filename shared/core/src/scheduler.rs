//! Due work: work scheduled for an instant (a consultant's next call, a deferred message, a
//! journey's next step) is an item placed in the hour bucket of its due time on gsi1
//! (`DUE#<YYYYMMDDHH>#<shard>`, sorted by `<instant>#<id>`). [`schedule`] makes the write;
//! the tick that runs what is due (every minute, the `scheduler` function) is `nhip-api`'s, as
//! it calls into every feature. An item that fails is tried again, at most [`MAX_ATTEMPTS`]
//! times; then it leaves the index (parked, kept for inspection).

use chrono::{DateTime, Utc};
use nhip_domain::event::DomainEvent;
use nhip_domain::ids::DueWorkId;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::keys;
use nhip_ports::store::{Condition, Item, StoreError, WriteOp};

/// Attempts before a failing item is parked.
pub const MAX_ATTEMPTS: i64 = 10;

/// A job on the `steps` queue: move one enrollment on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepJob {
    /// The customer.
    pub customer_id: String,
    /// The journey's key.
    pub journey: String,
    /// The enrollment.
    pub enrollment_id: String,
    /// The enrollment's `seq` the job was made for; absent for an event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// The event that may move it (a goal, a stop, what its step waits for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<JobEvent>,
}

/// An event as a step job carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobEvent {
    /// `<source>#<id>`.
    pub id: String,
    /// Its dotted type.
    #[serde(rename = "type")]
    pub kind: String,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Its payload.
    #[serde(default)]
    pub data: Value,
}

impl JobEvent {
    /// The step-job form of a domain event.
    pub fn of(event: &DomainEvent) -> Self {
        JobEvent {
            id: format!("{}#{}", event.source, event.id),
            kind: event.kind.clone(),
            at: event.occurred_at,
            data: event.data.clone(),
        }
    }
}

/// What is due.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "work", rename_all = "snake_case")]
pub enum Work {
    /// A consultant's scheduled next action on a customer: notify its owner.
    NextAction {
        /// The customer.
        customer_id: String,
        /// The next action's id.
        action_id: String,
    },
    /// A deferred message's window has opened: put it back on the send queue.
    SendMessage {
        /// The message.
        message_id: String,
    },
    /// A journey enrollment's wait is over: its step job goes to the `steps` queue.
    JourneyStep {
        /// The job.
        job: StepJob,
    },
    /// A task's reminder before its deadline: still open, the assignee's bell rings.
    TaskReminder {
        /// The task.
        task_id: String,
    },
    /// A ticket's due time: still open, it escalates to the team's manager.
    TicketDue {
        /// The ticket.
        ticket_id: String,
    },
    /// A segment-triggered journey's evaluation: enroll the customers its filter finds, then
    /// schedule the next one.
    JourneySegment {
        /// The journey's key.
        journey: String,
        /// The version published when the evaluation was scheduled.
        version: u32,
        /// The evaluation's instant (its enrollments' cause).
        at: DateTime<Utc>,
        /// Where the customer list goes on, for a follow-up part of the evaluation.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cursor: Option<String>,
        /// Customers offered so far in this evaluation.
        #[serde(default)]
        seen: u32,
    },
}

/// The write that schedules `work` at `due`. Work already due is placed at `now`, so a tick
/// still to come picks it up; the item keeps `due_at` as asked.
pub fn schedule(id: DueWorkId, due: DateTime<Utc>, now: DateTime<Utc>, work: &Work) -> WriteOp {
    let mut item = keys::due_work(id).to_item();
    item.insert("kind".into(), "due".into());
    place(&mut item, id, due.max(now));
    item.insert("due_at".into(), keys::instant(due).into());
    item.insert(
        "work".into(),
        serde_json::to_value(work).expect("work serialises"),
    );
    WriteOp::Put {
        item,
        condition: Condition::NotExists,
    }
}

/// A due-work id derived from what the work is (`seed`) and when it is due: the due
/// millisecond and 80 bits of SHA-256 of the seed, so scheduling the same work twice writes
/// one item (the put is create-only).
pub fn derived_id(due: DateTime<Utc>, seed: &str) -> DueWorkId {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(seed.as_bytes());
    let mut random = [0u8; 16];
    random[6..].copy_from_slice(&digest[..10]);
    let ms = u64::try_from(due.timestamp_millis()).unwrap_or(0);
    DueWorkId::from_ulid(ulid::Ulid::from_parts(ms, u128::from_be_bytes(random)))
}

/// Puts an item's index keys at `at`: the hour bucket of its shard, sorted by instant.
pub fn place(item: &mut Item, id: DueWorkId, at: DateTime<Utc>) {
    item.insert(
        "gsi1pk".into(),
        keys::due_bucket(at, keys::due_shard(id)).into(),
    );
    item.insert("gsi1sk".into(), keys::due_sort(at, id).into());
}

/// The id and work of a due item.
pub fn parse(item: &Item) -> Result<(DueWorkId, Work), StoreError> {
    let id: DueWorkId = item
        .get("pk")
        .and_then(Value::as_str)
        .and_then(|pk| pk.strip_prefix("DUE#"))
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| StoreError::invalid("due item without an id"))?;
    let work: Work = serde_json::from_value(item.get("work").cloned().unwrap_or_default())
        .map_err(|e| StoreError::invalid(format!("unknown due work: {e}")))?;
    Ok((id, work))
}
