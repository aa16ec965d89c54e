//! The due-work scheduler: work scheduled for an instant (a consultant's next call, a deferred
//! message, a journey's next step) is an item placed in the hour bucket of its due time on gsi1
//! (`DUE#<YYYYMMDDHH>#<shard>`, sorted by `<instant>#<id>`). A tick, every minute on
//! EventBridge (the `scheduler` function) or the local runner's ticker, reads each bucket from
//! its saved cursor up to now with a sort-key range — 16 shard queries per hour covered, each
//! returning only what is due, never the table — runs each due item and deletes it. Journey
//! steps are not run here: they are sent to the `steps` queue in batches of 10 for the journey
//! worker.
//!
//! Running an item is idempotent (its effects are keyed by the item's id or its enrollment's
//! sequence number), so a tick that dies halfway and runs again repeats nothing. A scheduler
//! that was down catches up on the hours it missed at 16 queries an hour. An item that fails
//! moves to the next minute's place and is tried again, at most [`MAX_ATTEMPTS`] times; then
//! it leaves the index (parked, kept for inspection) so it cannot hold the cursor back.

use chrono::{DateTime, Duration, Utc};
use nhip_domain::ids::DueWorkId;
use nhip_domain::time::minute_floor;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::deps::Deps;
use crate::journeys::engine::StepJob;
use crate::keys;
use crate::ports::store::{Condition, Index, Item, Query, SortKey, StoreError, Update, WriteOp};

/// How far back a first tick looks when no cursor is saved.
const FIRST_LOOKBACK: Duration = Duration::hours(1);
/// Each tick re-reads this much before its cursor, so work written by a function whose clock
/// is a little behind the scheduler's is still found (work already run was deleted).
const OVERLAP: Duration = Duration::minutes(10);
/// Most hours one tick catches up on; the next tick continues from where this one stopped.
const MAX_HOURS_PER_TICK: i64 = 24 * 45;
/// How long a tick reads before it leaves the rest of a catch-up to the next tick (the
/// function's timeout is 55 s).
const TICK_BUDGET: std::time::Duration = std::time::Duration::from_secs(40);
/// Attempts before a failing item is parked.
pub const MAX_ATTEMPTS: i64 = 10;

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
fn place(item: &mut Item, id: DueWorkId, at: DateTime<Utc>) {
    item.insert(
        "gsi1pk".into(),
        keys::due_bucket(at, keys::due_shard(id)).into(),
    );
    item.insert("gsi1sk".into(), keys::due_sort(at, id).into());
}

/// What one tick did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TickReport {
    /// Hour buckets read (each 16 shard queries).
    pub hours: usize,
    /// Due items run (journey steps: sent to the steps queue).
    pub ran: usize,
    /// Due items that failed (tried again from the next minute, or parked).
    pub failed: usize,
}

/// The `scheduler` function's handler: one tick, whatever the schedule's payload. EventBridge
/// Scheduler's default payload for a Lambda target is an event whose `detail` is the string
/// `"{}"`; an EventBridge rule sends `detail` as an object; a schedule given an `Input` sends
/// that input as it is. The tick depends on none of them (due work is found from the clock and
/// the saved cursor), so every JSON value is accepted: the payload's `id` and `time`, when it
/// has them, are only logged, to tie the tick to its schedule invocation.
pub async fn handle_invocation(
    deps: &Deps,
    payload: &serde_json::Value,
) -> Result<TickReport, StoreError> {
    let field = |name: &str| payload.get(name).and_then(serde_json::Value::as_str);
    let report = tick(deps).await?;
    tracing::info!(
        invocation = field("id").unwrap_or("-"),
        scheduled_for = field("time").unwrap_or("-"),
        hours = report.hours,
        ran = report.ran,
        failed = report.failed,
        "tick"
    );
    Ok(report)
}

/// Runs everything due up to now.
pub async fn tick(deps: &Deps) -> Result<TickReport, StoreError> {
    let started = std::time::Instant::now();
    let now = deps.clock.now();
    let cursor_key = keys::scheduler_cursor();
    let saved = deps
        .store
        .get(&cursor_key)
        .await?
        .and_then(|item| item.get("minute")?.as_str().map(str::to_owned))
        .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
        .map(|t| t.with_timezone(&Utc));
    let from = saved.unwrap_or(now - FIRST_LOOKBACK).min(now) - OVERLAP;
    let first_hour = keys::hour_floor(from);
    let last_hour = keys::hour_floor(now).min(first_hour + Duration::hours(MAX_HOURS_PER_TICK - 1));
    // A bucket holds only what was placed in its hour, so one range serves every hour.
    let range = SortKey::Between(keys::instant(from), format!("{}~", keys::instant(now)));
    let mut report = TickReport::default();
    // Everything up to `until` has been read; it becomes the cursor.
    let mut until = now;
    let mut hour = first_hour;
    while hour <= last_hour {
        report.hours += 1;
        for shard in 0..keys::DUE_SHARDS {
            let mut cursor = None;
            loop {
                let page = deps
                    .store
                    .query(
                        Query::partition(Index::Gsi1, keys::due_bucket(hour, shard))
                            .sk(range.clone())
                            .limit(100)
                            .after(cursor),
                    )
                    .await?;
                run_page(deps, page.items, now, &mut report).await?;
                match page.next {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
        }
        let hour_end = hour + Duration::hours(1) - Duration::milliseconds(1);
        if hour < last_hour && started.elapsed() > TICK_BUDGET {
            // A long catch-up goes on in the next tick, from the end of this hour.
            until = hour_end;
            break;
        }
        if hour == last_hour && last_hour < keys::hour_floor(now) {
            until = hour_end;
        }
        hour += Duration::hours(1);
    }
    let mut item = cursor_key.to_item();
    item.insert("minute".into(), keys::instant(until).into());
    deps.store.put(item, Condition::Always).await?;
    Ok(report)
}

/// Runs one page of due items: journey steps go to the steps queue together (in batches of
/// 10), the rest one by one; each is deleted once done.
async fn run_page(
    deps: &Deps,
    items: Vec<Item>,
    now: DateTime<Utc>,
    report: &mut TickReport,
) -> Result<(), StoreError> {
    let mut steps = Vec::new();
    for item in items {
        let (id, work) = match parse(&item) {
            Ok(parsed) => parsed,
            Err(error) => {
                report.failed += 1;
                tracing::error!(%error, "unreadable due item parked");
                park(deps, &item, now).await?;
                continue;
            }
        };
        let outcome = match work {
            Work::JourneyStep { job } => {
                steps.push((id, item, job));
                continue;
            }
            Work::NextAction {
                customer_id,
                action_id,
            } => crate::next_actions::fire(deps, id, &customer_id, &action_id).await,
            Work::SendMessage { message_id } => {
                crate::messaging::pipeline::release(deps, &message_id).await
            }
            Work::JourneySegment {
                journey,
                version,
                at,
                cursor,
                seen,
            } => {
                let progress = crate::journeys::entry::SegmentProgress { cursor, seen };
                crate::journeys::entry::run_segment(deps, &journey, version, at, progress).await
            }
        };
        finish(deps, id, &item, outcome, now, report).await?;
    }
    if !steps.is_empty() {
        let jobs: Vec<StepJob> = steps.iter().map(|(_, _, job)| job.clone()).collect();
        let sent = crate::journeys::engine::enqueue(deps, &jobs)
            .await
            .map_err(|e| e.to_string());
        for (id, item, _) in steps {
            let outcome = sent
                .clone()
                .map_err(|e| StoreError::invalid(format!("steps queue: {e}")));
            finish(deps, id, &item, outcome, now, report).await?;
        }
    }
    Ok(())
}

/// Deletes a done item, or moves a failed one to the next minute (parked after
/// [`MAX_ATTEMPTS`]).
async fn finish(
    deps: &Deps,
    id: DueWorkId,
    item: &Item,
    outcome: Result<(), StoreError>,
    now: DateTime<Utc>,
    report: &mut TickReport,
) -> Result<(), StoreError> {
    match outcome {
        Ok(()) => {
            report.ran += 1;
            deps.store
                .delete(&keys::due_work(id), Condition::Always)
                .await
        }
        Err(error) => {
            report.failed += 1;
            let attempts = item.get("attempts").and_then(Value::as_i64).unwrap_or(0) + 1;
            if attempts >= MAX_ATTEMPTS {
                tracing::error!(%error, attempts, "due work keeps failing; parked");
                return park(deps, item, now).await;
            }
            tracing::warn!(%error, attempts, "due work failed; tried again next minute");
            let retry_at = minute_floor(now) + Duration::minutes(1);
            let mut moved = Item::new();
            place(&mut moved, id, retry_at);
            let mut update = Update::new().add("attempts", 1);
            for (name, value) in moved {
                update = update.set(name, value);
            }
            deps.store
                .update(&keys::due_work(id), update, Condition::Exists)
                .await
                .map(|_| ())
                .or_else(|e| match e {
                    // Deleted meanwhile (the work was cancelled): nothing to retry.
                    StoreError::ConditionFailed { .. } => Ok(()),
                    other => Err(other),
                })
        }
    }
}

/// Takes a due item out of the index, keeping it (with `parked_at`) for inspection.
async fn park(deps: &Deps, item: &Item, now: DateTime<Utc>) -> Result<(), StoreError> {
    let Some(key) = crate::ports::store::Key::of(item) else {
        return Ok(());
    };
    deps.store
        .update(
            &key,
            Update::new()
                .remove("gsi1pk")
                .remove("gsi1sk")
                .set("parked_at", keys::instant(now)),
            Condition::Always,
        )
        .await
        .map(|_| ())
}

/// The id and work of a due item.
fn parse(item: &Item) -> Result<(DueWorkId, Work), StoreError> {
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
