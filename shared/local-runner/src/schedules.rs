//! The stand-in for EventBridge schedules: each schedule runs at its cadence on the
//! simulated clock, so `--speed` and clock advances move schedules too. A schedule that falls
//! behind (the clock jumped a day) runs once, and its job catches up on what is due, exactly
//! as a Lambda invoked after an outage would.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::Duration;
use futures::future::BoxFuture;
use nhip_core::Deps;
use nhip_local::SqliteStore;
use tokio::sync::watch;

/// A job run on a schedule.
pub type Job = Arc<dyn Fn(Arc<Deps>) -> BoxFuture<'static, anyhow::Result<()>> + Send + Sync>;

/// One scheduled job.
pub struct Schedule {
    /// Name, for logs (the SAM schedule's name when there is one).
    pub name: &'static str,
    /// Cadence on the clock.
    pub every: Duration,
    /// What runs.
    pub job: Job,
}

/// Real time between looks at the clock.
const TICK: StdDuration = StdDuration::from_millis(200);

/// Every schedule of the local platform.
pub fn all(store: Arc<SqliteStore>) -> Vec<Schedule> {
    vec![
        Schedule {
            // The `scheduler` function's EventBridge rule: rate(1 minute).
            name: "due-work",
            every: Duration::minutes(1),
            job: Arc::new(|deps| {
                Box::pin(async move {
                    let report = nhip_api::tick::tick(&deps).await?;
                    if report.ran > 0 || report.failed > 0 {
                        tracing::info!(ran = report.ran, failed = report.failed, "due work");
                    }
                    Ok(())
                })
            }),
        },
        Schedule {
            // The `reminders` function's schedule: cron(0 8 * * ? *) in Asia/Ho_Chi_Minh.
            name: "reminders",
            every: Duration::minutes(1),
            job: Arc::new(|deps| {
                Box::pin(async move {
                    for report in nhip_contracts::reminders::run_due(&deps).await? {
                        tracing::info!(
                            date = %report.date,
                            instalments = report.instalments,
                            expiries = report.expiries,
                            greetings = report.greetings,
                            "reminders run"
                        );
                    }
                    Ok(())
                })
            }),
        },
        Schedule {
            // DynamoDB deletes items after their `ttl` by itself; the SQLite file needs this.
            name: "expire-items",
            every: Duration::minutes(10),
            job: Arc::new(move |deps| {
                let store = store.clone();
                Box::pin(async move {
                    let purged = store.purge_expired(deps.clock.now().timestamp()).await?;
                    if purged > 0 {
                        tracing::info!(purged, "expired items removed");
                    }
                    Ok(())
                })
            }),
        },
    ]
}

/// Runs `schedules` until `stop` turns true.
pub async fn run(
    schedules: Vec<Schedule>,
    deps: Arc<Deps>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let start = deps.clock.now();
    let mut next: Vec<_> = schedules.iter().map(|_| start).collect();
    while !*stop.borrow() {
        let now = deps.clock.now();
        for (schedule, due) in schedules.iter().zip(next.iter_mut()) {
            if now < *due {
                continue;
            }
            if let Err(error) = (schedule.job)(deps.clone()).await {
                tracing::warn!(schedule = schedule.name, error = %error, "scheduled job failed");
            }
            *due = now + schedule.every;
        }
        tokio::select! {
            _ = tokio::time::sleep(TICK) => {}
            _ = stop.changed() => {}
        }
    }
    Ok(())
}
