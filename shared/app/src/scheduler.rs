//! The due-work scheduler: work scheduled for an instant (a consultant's next call, later a
//! journey step or a reminder) is an item placed in the minute bucket of its due time on gsi1
//! (`DUE#<minute>#<shard>`). A tick, every minute on EventBridge (the `scheduler` function) or
//! the local runner's ticker, reads the buckets from its saved cursor up to now — 16 shard
//! queries a minute, never the table — runs each due item, and deletes it. Running an item is
//! idempotent (its effects are keyed by the item's id), so a tick that dies halfway and runs
//! again repeats nothing.

use chrono::{DateTime, Duration, Utc};
use nhip_domain::ids::DueWorkId;
use nhip_domain::time::{minute_floor, minutes_between};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::deps::Deps;
use crate::keys;
use crate::ports::store::{Condition, Index, Item, Query, SortKey, StoreError, WriteOp};

/// How far back a first tick looks when no cursor is saved.
const FIRST_LOOKBACK_MINUTES: i64 = 60;
/// Most minutes one tick catches up on; the next tick continues.
const MAX_MINUTES_PER_TICK: usize = 2 * 24 * 60;

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
}

/// The write that schedules `work` at `due` (in the bucket of `due`, or of `now` if `due` is
/// already past, so a tick still to come picks it up).
pub fn schedule(id: DueWorkId, due: DateTime<Utc>, now: DateTime<Utc>, work: &Work) -> WriteOp {
    let bucket_at = due.max(minute_floor(now));
    let mut item = keys::due_work(id).to_item();
    item.insert("kind".into(), "due".into());
    item.insert(
        "gsi1pk".into(),
        keys::due_bucket(bucket_at, keys::due_shard(id)).into(),
    );
    item.insert("gsi1sk".into(), keys::due_sort(due, id).into());
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

/// What one tick did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TickReport {
    /// Minutes whose buckets were read.
    pub minutes: usize,
    /// Due items run.
    pub ran: usize,
    /// Due items that failed (left in place for the next tick).
    pub failed: usize,
}

/// Runs everything due up to now.
pub async fn tick(deps: &Deps) -> Result<TickReport, StoreError> {
    let now = deps.clock.now();
    let cursor_key = keys::scheduler_cursor();
    let saved = deps
        .store
        .get(&cursor_key)
        .await?
        .and_then(|item| item.get("minute")?.as_str().map(str::to_owned))
        .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
        .map(|t| t.with_timezone(&Utc));
    let from = saved.unwrap_or(now - Duration::minutes(FIRST_LOOKBACK_MINUTES));
    let mut report = TickReport::default();
    let mut done_through = None;
    for minute in minutes_between(from, now).take(MAX_MINUTES_PER_TICK) {
        report.minutes += 1;
        let mut complete = true;
        for shard in 0..keys::DUE_SHARDS {
            let mut cursor = None;
            loop {
                let page = deps
                    .store
                    .query(
                        Query::partition(Index::Gsi1, keys::due_bucket(minute, shard))
                            // Only what is due by now: later items of this minute wait.
                            .sk(SortKey::Between(
                                "0".into(),
                                format!("{}~", keys::instant(now)),
                            ))
                            .limit(100)
                            .after(cursor),
                    )
                    .await?;
                for item in page.items {
                    match run(deps, &item).await {
                        Ok(()) => report.ran += 1,
                        Err(error) => {
                            report.failed += 1;
                            complete = false;
                            tracing::warn!(%error, "due work failed; retried next tick");
                        }
                    }
                }
                match page.next {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
        }
        // The current minute can still receive work; only earlier, complete minutes are done.
        if complete && minute < minute_floor(now) {
            done_through = Some(minute + Duration::minutes(1));
        } else {
            break;
        }
    }
    if let Some(next_minute) = done_through {
        let mut item = cursor_key.to_item();
        item.insert("minute".into(), keys::instant(next_minute).into());
        deps.store.put(item, Condition::Always).await?;
    }
    Ok(report)
}

/// Runs one due item, then deletes it.
async fn run(deps: &Deps, item: &Item) -> Result<(), StoreError> {
    let id: DueWorkId = item
        .get("pk")
        .and_then(Value::as_str)
        .and_then(|pk| pk.strip_prefix("DUE#"))
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| StoreError::invalid("due item without an id"))?;
    let work: Work = serde_json::from_value(item.get("work").cloned().unwrap_or_default())
        .map_err(|e| StoreError::invalid(format!("unknown due work: {e}")))?;
    match &work {
        Work::NextAction {
            customer_id,
            action_id,
        } => crate::next_actions::fire(deps, id, customer_id, action_id).await?,
        Work::SendMessage { message_id } => {
            crate::messaging::pipeline::release(deps, message_id).await?
        }
    }
    deps.store
        .delete(&keys::due_work(id), Condition::Always)
        .await
}
