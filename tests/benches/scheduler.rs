//! Scheduler benchmark on the embedded store: `cargo bench -p nhip-tests --bench scheduler`
//! (`-- <idle> <due>` to change the sizes; defaults 1,000,000 and 1,000).
//!
//! It schedules `idle` items spread over the next 30 days (enrollments waiting) and `due`
//! items due in the current minute, then runs one scheduler tick and reports what the tick
//! read and wrote, counted at the store port, and how long it took. The figures in
//! docs/performance.md come from this command.

use std::sync::atomic::Ordering;
use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};
use nhip_core::scheduler::StepJob;
use nhip_core::scheduler::{Work, schedule};
use nhip_domain::ids::DueWorkId;
use nhip_ports::store::{Condition, ItemStore};

mod common;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let idle = args.first().copied().unwrap_or(1_000_000);
    let due = args.get(1).copied().unwrap_or(1_000);
    let dir = tempfile::tempdir()?;
    // 09:00 in Viet Nam, on the hour.
    let now = Utc.with_ymd_and_hms(2026, 11, 23, 2, 0, 0).unwrap();
    let common::Bench { deps, store, .. } = common::deps(dir.path(), now)?;

    // Idle work over the next 30 days, written 100 to a transaction.
    let loading = Instant::now();
    let span = 30 * 24 * 60 * 60;
    let mut ops = Vec::with_capacity(100);
    for i in 0..idle {
        let at = now + Duration::minutes(2) + Duration::seconds((i * 7919) as i64 % span);
        let work = wake_up(i);
        ops.push(schedule(DueWorkId::new_at(at), at, now, &work));
        if ops.len() == 100 {
            store.inner.transact(std::mem::take(&mut ops)).await?;
        }
    }
    for i in 0..due {
        let at = now - Duration::seconds((i % 50) as i64);
        let work = wake_up(idle + i);
        ops.push(schedule(DueWorkId::new_at(at), at, now, &work));
        if ops.len() == 100 {
            store.inner.transact(std::mem::take(&mut ops)).await?;
        }
    }
    if !ops.is_empty() {
        store.inner.transact(ops).await?;
    }
    let loaded = loading.elapsed();

    // The first tick after the last one: the cursor sits at this minute.
    let mut cursor = nhip_core::keys::scheduler_cursor().to_item();
    cursor.insert("minute".into(), nhip_core::keys::instant(now).into());
    store.inner.put(cursor, Condition::Always).await?;
    store.reset();
    let started = Instant::now();
    let report = nhip_api::tick::tick(&deps).await?;
    let took = started.elapsed();
    println!("scheduler tick with {idle} idle items and {due} due (embedded SQLite store)");
    println!("  loaded in {:.1} s", loaded.as_secs_f64());
    println!(
        "  tick: {} hour bucket(s) read, {} ran, {} failed, in {:.1} ms",
        report.hours,
        report.ran,
        report.failed,
        took.as_secs_f64() * 1000.0
    );
    println!(
        "  store requests: {} queries returning {} items, {} gets, {} writes",
        store.queries.load(Ordering::Relaxed),
        store.items_read.load(Ordering::Relaxed),
        store.gets.load(Ordering::Relaxed),
        store.writes.load(Ordering::Relaxed),
    );
    println!(
        "  per due item: {:.2} requests; idle items read: {}",
        store.requests() as f64 / due.max(1) as f64,
        store.items_read.load(Ordering::Relaxed).saturating_sub(due)
    );
    Ok(())
}

/// A journey enrollment's wake-up, as the journey worker schedules it.
fn wake_up(i: u64) -> Work {
    Work::JourneyStep {
        job: StepJob {
            customer_id: "01KAQ3V2J5N8W6Y4X0Z9B7C1D3".into(),
            journey: "the-moi-kich-hoat".into(),
            enrollment_id: format!("{:026}", i),
            seq: Some(2),
            event: None,
        },
    }
}
