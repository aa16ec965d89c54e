//! Lead intake, counted: `cargo bench -p nhip-tests --bench intake` (`-- <leads>` to change the
//! number, default 5,000).
//!
//! Posts that many new leads to the public form route (`POST /v1/intake/leads`, the body
//! `scripts/load-intake.lua` sends: a new phone and e-mail each, one marketing consent) through
//! the API router as the local runner serves it (a writing request is a commit group on the
//! file), from one caller with 16 requests in flight on one thread, then runs the local runner's
//! consumers of the queues the leads fed until they are empty: the events consumer (each
//! `lead.created`) and the message sender (a resubmission's double opt-in e-mail: none here,
//! as every lead is new and its consents are its own). One admin is in the directory, so every new
//! lead rings one bell. It reports, per lead and per stage, the store requests counted at the
//! port, the queue messages sent, the billed DynamoDB units, and the cost of a million intakes
//! at the prices of `docs/performance.md`; and the process CPU time each stage took on one
//! thread. Throughput under concurrent load is `scripts/load-intake.sh`'s; this bench gives the
//! work a lead is.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration as StdDuration, Instant};

use chrono::{TimeZone, Utc};
use futures::{StreamExt as _, TryStreamExt as _};
use nhip_core::auth::Role;
use tower::ServiceExt;

/// Requests in flight at once: the load script's connections.
const IN_FLIGHT: usize = 16;

/// What one stage did, counted.
#[derive(Default, Clone, Copy)]
struct Stage {
    gets: u64,
    queries: u64,
    writes: u64,
    wru: u64,
    rru: u64,
    sent: u64,
    received: u64,
    seconds: f64,
    cpu: f64,
}

struct Counters<'a> {
    store: &'a common::Counting,
    queues: &'a [Arc<common::CountingQueue>],
}

impl Counters<'_> {
    fn start(&self) -> (Instant, f64) {
        self.store.reset();
        for q in self.queues {
            q.sent.store(0, Relaxed);
        }
        (Instant::now(), common::cpu_seconds())
    }
    fn stop(&self, (started, cpu): (Instant, f64), received: u64) -> Stage {
        Stage {
            gets: self.store.gets.load(Relaxed),
            queries: self.store.queries.load(Relaxed),
            writes: self.store.writes.load(Relaxed),
            wru: self.store.wru.load(Relaxed),
            rru: self.store.rru.load(Relaxed),
            sent: self.queues.iter().map(|q| q.sent.load(Relaxed)).sum(),
            received,
            seconds: started.elapsed().as_secs_f64(),
            cpu: common::cpu_seconds() - cpu,
        }
    }
}

/// Runs the local runner's consumer of `queue` until it is empty, each batch of 10 as the
/// runner delivers it; the messages handled.
async fn drain(deps: &Arc<nhip_core::Deps>, queue: &str) -> anyhow::Result<u64> {
    let consumers = nhip_local_runner::consumers::all(deps);
    let consumer = consumers
        .iter()
        .find(|c| c.queue_name() == queue)
        .ok_or_else(|| anyhow::anyhow!("no consumer of {queue}"))?;
    let source = match queue {
        "events" => deps.queues.events.clone(),
        "sends" => deps.queues.sends.clone(),
        other => anyhow::bail!("not drained here: {other}"),
    };
    let mut handled = 0;
    loop {
        let batch = source
            .receive(10, StdDuration::from_secs(60), StdDuration::ZERO)
            .await?;
        if batch.is_empty() {
            break;
        }
        handled += batch.len() as u64;
        consumer.deliver(batch).await;
    }
    let depth = source.depth().await?;
    anyhow::ensure!(depth.in_flight == 0, "{queue}: messages failed: {depth:?}");
    Ok(handled)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let leads: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5_000);
    let dir = tempfile::tempdir()?;
    // Office hours in Hà Nội, so the sender's quiet hours hold nothing back.
    let now = Utc.with_ymd_and_hms(2026, 11, 23, 3, 0, 0).unwrap();
    let mut settings = nhip_core::Settings {
        intake_rate_per_minute: 1_000_000,
        ..Default::default()
    };
    settings.messaging.link_secret = Some(b"nhip-bench-link-secret-of-32-bytes!!".to_vec());
    // The e-mails go out as fast as they come: the bench counts the work, not the pacing.
    settings
        .messaging
        .send_rates
        .insert("email".to_owned(), 1_000_000);
    let common::Bench {
        mut deps,
        store,
        db,
    } = common::deps_with(dir.path(), now, settings)?;
    let counted = |inner| Arc::new(common::CountingQueue::new(inner));
    let queues = [
        counted(deps.queues.events.clone()),
        counted(deps.queues.sends.clone()),
        counted(deps.queues.steps.clone()),
    ];
    deps.queues.events = queues[0].clone();
    deps.queues.sends = queues[1].clone();
    deps.queues.steps = queues[2].clone();
    let deps = Arc::new(deps);
    nhip_crm::staff::create_user(
        &*deps.store,
        &nhip_crm::staff::UserInput {
            username: "lan".into(),
            display_name: "Trần Thị Lan".into(),
            role: Some(Role::Admin),
            team: String::new(),
            manager: String::new(),
            extension: String::new(),
            active: true,
        },
        None,
        now,
    )
    .await?;
    // As the local runner serves it: a request that writes is a commit group on the file.
    let router = nhip_api::router(deps.clone()).layer(axum::middleware::from_fn_with_state(
        db.clone(),
        nhip_local_runner::group_writes,
    ));
    let counters = Counters {
        store: &store,
        queues: &queues,
    };

    // `NHIP_BENCH_TRACE=1` (with `-- 1`): every store request, on stderr.
    let trace = std::env::var_os("NHIP_BENCH_TRACE").is_some();
    let started = counters.start();
    store.trace.store(trace, Relaxed);
    // `IN_FLIGHT` requests at a time, as wrk's connections keep them; one thread runs them all.
    let posted: Vec<()> = futures::stream::iter(0..leads)
        .map(|n| {
            let router = router.clone();
            async move {
                let body = format!(
                    r#"{{"full_name":"Nguyễn Thị Mai","phone":"09{:08}","email":"mai{n}@example.vn","gender":"female","source":"website_form","consents":["email:marketing"],"form":"dang-ky-dau-tu","utm_source":"facebook"}}"#,
                    10_000_000 + n
                );
                let request = axum::http::Request::builder()
                    .method("POST")
                    .uri("/v1/intake/leads")
                    .header("content-type", "application/json")
                    .extension(axum::extract::ConnectInfo(std::net::SocketAddr::from((
                        [127, 0, 0, 1],
                        40_000,
                    ))))
                    .body(axum::body::Body::from(body))?;
                let response = router.oneshot(request).await?;
                anyhow::ensure!(
                    response.status() == axum::http::StatusCode::ACCEPTED,
                    "lead {n} answered {}",
                    response.status()
                );
                Ok(())
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .try_collect()
        .await?;
    anyhow::ensure!(posted.len() as u64 == leads);
    let request = counters.stop(started, 0);
    let started = counters.start();
    store.trace.store(trace, Relaxed);
    let events = drain(&deps, "events").await?;
    store.trace.store(false, Relaxed);
    let consumer = counters.stop(started, events);
    let started = counters.start();
    let sends = drain(&deps, "sends").await?;
    let sender = counters.stop(started, sends);
    // Whatever those fed on (a journey's steps, the sender's own events) is the intake's too.
    let started = counters.start();
    let more = drain(&deps, "events").await?;
    let after = counters.stop(started, more);
    let steps = deps.queues.steps.depth().await?;
    println!(
        "lead intake: {leads} new leads from the web form (embedded SQLite store, one thread)"
    );
    println!(
        "  {events} events and {sends} sends followed; {more} events after the sends; steps queued: {}",
        steps.visible + steps.in_flight
    );
    let per = |n: u64| n as f64 / leads as f64;
    let mut total = Stage::default();
    for (label, stage) in [
        ("POST /v1/intake/leads", request),
        ("events consumer", consumer),
        ("message sender", sender),
        ("events after the sends", after),
    ] {
        println!(
            "  {label}: {:.2} store requests a lead ({:.2} gets, {:.2} queries, {:.2} writes), \
             {:.2} write units, {:.2} read units, {:.2} queue sends; {:.0} µs CPU a lead \
             ({:.2} s wall)",
            per(stage.gets + stage.queries + stage.writes),
            per(stage.gets),
            per(stage.queries),
            per(stage.writes),
            per(stage.wru),
            per(stage.rru),
            per(stage.sent),
            stage.cpu * 1e6 / leads as f64,
            stage.seconds,
        );
        total.gets += stage.gets;
        total.queries += stage.queries;
        total.writes += stage.writes;
        total.wru += stage.wru;
        total.rru += stage.rru;
        total.sent += stage.sent;
        total.received += stage.received;
        total.cpu += stage.cpu;
    }
    // On AWS: one HTTP API request and one Lambda invocation a lead; each queued message
    // received and deleted in batches of 10, one invocation a batch.
    let dynamodb = per(total.wru) * common::Prices::SINGAPORE.wru
        + per(total.rru) * common::Prices::SINGAPORE.rru;
    let sqs = (per(total.sent) + 2.0 * per(total.received) / 10.0) * common::Prices::SINGAPORE.sqs;
    let lambda = (1.0 + per(total.received) / 10.0) * common::Prices::SINGAPORE.lambda_request;
    let gateway = common::Prices::SINGAPORE.http_api;
    println!(
        "  in all: {:.2} store requests, {:.2} write units, {:.2} read units, {:.2} queue sends a lead; \
         {:.0} µs CPU a lead",
        per(total.gets + total.queries + total.writes),
        per(total.wru),
        per(total.rru),
        per(total.sent),
        total.cpu * 1e6 / leads as f64,
    );
    println!(
        "  a million intakes: DynamoDB ${dynamodb:.2}, SQS ${sqs:.2}, Lambda requests ${lambda:.2}, \
         HTTP API ${gateway:.2}: ${:.2} (Lambda duration and the e-mail itself apart)",
        dynamodb + sqs + lambda + gateway
    );
    anyhow::ensure!(events >= leads, "every lead publishes its event");
    Ok(())
}
