//! The due-work scheduler: work scheduled for an instant (a consultant's next call, a deferred
//! message, a journey's next step) is an item placed in the hour bucket of its due time on gsi1
//! (`DUE#<YYYYMMDDHH>#<shard>`, sorted by `<instant>#<id>`). A tick, every minute on
//! EventBridge (the `scheduler` function) or the local runner's ticker, reads each bucket from
//! its saved cursor up to now with a sort-key range — 16 shard queries per hour covered, each
//! returning only what is due, never the table — runs each due item and deletes it. An hour's
//! shards are read and run at once. Journey steps are not run here: they are sent to the
//! `steps` queue in batches of 10 for the journey worker, and their items deleted ten at a
//! time.
//!
//! Running an item is idempotent (its effects are keyed by the item's id or its enrollment's
//! sequence number), so a tick that dies halfway and runs again repeats nothing. A scheduler
//! that was down catches up on the hours it missed at 16 queries an hour. An item that fails
//! moves to the next minute's place and is tried again, at most [`MAX_ATTEMPTS`](nhip_core::scheduler::MAX_ATTEMPTS) times; then
//! it leaves the index (parked, kept for inspection) so it cannot hold the cursor back.

use chrono::{DateTime, Duration, Utc};
use futures::{StreamExt as _, TryStreamExt as _, stream};
use nhip_domain::ids::DueWorkId;
use nhip_domain::time::minute_floor;
use serde::Serialize;
use serde_json::Value;

use nhip_core::deps::Deps;
use nhip_core::keys;
use nhip_core::scheduler::{MAX_ATTEMPTS, StepJob, Work, parse, place};
use nhip_ports::store::{Condition, Index, Item, Query, SortKey, StoreError, Update};

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
/// Deletes of sent journey steps' due items a shard has in flight at once.
pub const STEP_DELETES_AT_ONCE: usize = 10;
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
    // The Zalo OA token first: a tick that fails (or runs out of time) must not stop its
    // refresh, nor the metrics its alarms watch.
    let function = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "scheduler".into());
    if let Some(metrics) = nhip_messaging::zalo_tokens::maintain_and_report(deps, &function).await {
        // One embedded-metric-format line on stdout: CloudWatch reads the Zalo token metrics
        // from it.
        println!("{metrics}");
    }
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
        // The hour's shards are read and run at once: each is its own partition of gsi1, and a
        // shard's items in sequence would hold a million due in one minute to one instance's
        // pace. The first error ends the tick without moving the cursor (nothing is lost: the
        // next tick reads the hour again and what already ran was deleted).
        let shards: Vec<TickReport> = stream::iter(0..keys::DUE_SHARDS)
            .map(|shard| run_shard(deps, hour, shard, &range, now))
            .buffer_unordered(usize::from(keys::DUE_SHARDS))
            .try_collect()
            .await?;
        for shard in shards {
            report.ran += shard.ran;
            report.failed += shard.failed;
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

/// Runs every due item of one shard of an hour, page by page.
async fn run_shard(
    deps: &Deps,
    hour: DateTime<Utc>,
    shard: u16,
    range: &SortKey,
    now: DateTime<Utc>,
) -> Result<TickReport, StoreError> {
    let mut report = TickReport::default();
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
            None => return Ok(report),
        }
    }
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
            } => nhip_crm::next_actions::fire(deps, id, &customer_id, &action_id).await,
            Work::TaskReminder { task_id } => nhip_work::tasks::remind(deps, &task_id).await,
            Work::TicketDue { ticket_id } => {
                nhip_work::tickets::escalate::fire(deps, &ticket_id).await
            }
            Work::SendMessage { message_id } => {
                nhip_messaging::pipeline::release(deps, &message_id).await
            }
            Work::JourneySegment {
                journey,
                version,
                at,
                cursor,
                seen,
            } => {
                let progress = nhip_journeys::definitions::SegmentProgress { cursor, seen };
                nhip_journeys::entry::run_segment(deps, &journey, version, at, progress).await
            }
        };
        finish(deps, id, &item, outcome, now, report).await?;
    }
    if !steps.is_empty() {
        let jobs: Vec<StepJob> = steps.iter().map(|(_, _, job)| job.clone()).collect();
        let sent = nhip_journeys::engine::enqueue(deps, &jobs)
            .await
            .map_err(|e| e.to_string());
        // The sent items' deletes go out together (each its own partition).
        let ran: Vec<bool> = stream::iter(steps)
            .map(|(id, item, _)| {
                let outcome = sent
                    .clone()
                    .map_err(|e| StoreError::invalid(format!("steps queue: {e}")));
                async move { settle(deps, id, &item, outcome, now).await }
            })
            .buffer_unordered(STEP_DELETES_AT_ONCE)
            .try_collect()
            .await?;
        let done = ran.iter().filter(|ran| **ran).count();
        report.ran += done;
        report.failed += ran.len() - done;
    }
    Ok(())
}

/// Deletes a done item, or moves a failed one to the next minute (parked after
/// [`MAX_ATTEMPTS`]); counts it in `report`.
async fn finish(
    deps: &Deps,
    id: DueWorkId,
    item: &Item,
    outcome: Result<(), StoreError>,
    now: DateTime<Utc>,
    report: &mut TickReport,
) -> Result<(), StoreError> {
    let ran = settle(deps, id, item, outcome, now).await?;
    if ran {
        report.ran += 1;
    } else {
        report.failed += 1;
    }
    Ok(())
}

/// What [`finish`] does to the item; `true` when it ran.
async fn settle(
    deps: &Deps,
    id: DueWorkId,
    item: &Item,
    outcome: Result<(), StoreError>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    match outcome {
        Ok(()) => deps
            .store
            .delete(&keys::due_work(id), Condition::Always)
            .await
            .map(|()| true),
        Err(error) => {
            let attempts = item.get("attempts").and_then(Value::as_i64).unwrap_or(0) + 1;
            if attempts >= MAX_ATTEMPTS {
                tracing::error!(%error, attempts, "due work keeps failing; parked");
                return park(deps, item, now).await.map(|()| false);
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
                .map(|_| false)
                .or_else(|e| match e {
                    // Deleted meanwhile (the work was cancelled): nothing to retry.
                    StoreError::ConditionFailed { .. } => Ok(false),
                    other => Err(other),
                })
        }
    }
}

/// Takes a due item out of the index, keeping it (with `parked_at`) for inspection.
async fn park(deps: &Deps, item: &Item, now: DateTime<Utc>) -> Result<(), StoreError> {
    let Some(key) = nhip_ports::store::Key::of(item) else {
        return Ok(());
    };
    deps.store
        .update(
            &key,
            Update::new()
                .remove(Index::Gsi1.pk_attr())
                .remove(Index::Gsi1.sk_attr())
                .set("parked_at", keys::instant(now)),
            Condition::Always,
        )
        .await
        .map(|_| ())
}
