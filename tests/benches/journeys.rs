//! Journey engine benchmark on the embedded store: `cargo bench -p nhip-tests --bench journeys`
//! (`-- <customers>` to change the size, default 20,000; `-- --ungrouped` to commit every store
//! request on its own, as the local runner did before commit groups).
//!
//! It installs the card-onboarding seed journey, creates the customers, enrolls them all, then
//! runs the journey worker on one thread (a current-thread runtime: one core) until the steps
//! queue is empty — each enrollment sends its welcome e-mail request and starts waiting for
//! `card.activated` — then posts `card.activated` for everyone through the events consumer
//! and runs the worker again (the event moves each enrollment into two marketing sends and a
//! 30-day wait). It reports steps per second and the store requests each step made, counted
//! at the store port. The figures in docs/performance.md come from this command.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration as StdDuration, Instant};

use chrono::{TimeZone, Utc};
use nhip_domain::event::DomainEvent;
use nhip_journeys::{definitions, entry};
use nhip_ports::ItemStore;
use serde_json::json;

/// Runs the journey worker on the steps queue until it is empty, as the local runner does (its
/// `journey-worker` consumer: each batch of 10 handled and acknowledged as one commit group);
/// returns the jobs handled.
async fn drain(deps: &Arc<nhip_core::Deps>) -> anyhow::Result<u64> {
    let consumers = nhip_local_runner::consumers::all(deps);
    let worker = consumers
        .iter()
        .find(|c| c.queue_name() == "steps")
        .expect("the journey worker");
    let mut handled = 0;
    loop {
        let batch = deps
            .queues
            .steps
            .receive(10, StdDuration::from_secs(60), StdDuration::ZERO)
            .await?;
        if batch.is_empty() {
            break;
        }
        handled += batch.len() as u64;
        worker.deliver(batch).await;
    }
    // A job that failed would be in flight still (the runner retries it after its visibility).
    let depth = deps.queues.steps.depth().await?;
    anyhow::ensure!(depth.in_flight == 0, "step jobs failed: {depth:?}");
    Ok(handled)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let customers: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(20_000);
    let dir = tempfile::tempdir()?;
    let now = Utc.with_ymd_and_hms(2026, 11, 23, 2, 0, 0).unwrap();
    let common::Bench {
        mut deps, store, ..
    } = common::deps(dir.path(), now)?;
    let counted = |inner| Arc::new(common::CountingQueue::new(inner));
    let (steps_queue, sends_queue) = (
        counted(deps.queues.steps.clone()),
        counted(deps.queues.sends.clone()),
    );
    // `--ungrouped`: each store request commits on its own, as before commit groups.
    if std::env::args().any(|a| a == "--ungrouped") {
        deps.groups = None;
    }
    deps.queues.steps = steps_queue.clone();
    deps.queues.sends = sends_queue.clone();
    let deps = Arc::new(deps);
    let feed = deps.feed.clone().expect("the local change feed");
    let router = nhip_api::router(deps.clone());
    let call = common::admin_requests(&deps, now);
    use tower::ServiceExt;
    let installed = router
        .clone()
        .oneshot(call(
            "POST",
            "/v1/journeys/seeds/the-moi-kich-hoat/install",
            json!({}),
        ))
        .await?;
    anyhow::ensure!(installed.status().is_success(), "seed not installed");
    let version = definitions::version(&deps, "the-moi-kich-hoat", 1)
        .await?
        .expect("the seed's first version");

    let loading = Instant::now();
    let mut ids = Vec::new();
    for i in 0..customers {
        let response = router
            .clone()
            .oneshot(call(
                "POST",
                "/v1/customers",
                json!({
                    "full_name": "Nguyễn Thị Hoa",
                    "gender": "female",
                    "phones": [format!("09{:08}", 10_000_000 + i)],
                    "emails": [format!("hoa{i}@example.com")],
                    "source": "assigned",
                    "consents": ["email:marketing", "zns:marketing", "sms:marketing"],
                }),
            ))
            .await?;
        let bytes = http_body_util::BodyExt::collect(response.into_body())
            .await?
            .to_bytes();
        let body: serde_json::Value = serde_json::from_slice(&bytes)?;
        ids.push(
            body["id"]
                .as_str()
                .ok_or_else(|| anyhow::anyhow!("customer not created: {body}"))?
                .parse()?,
        );
    }
    println!(
        "journey engine with {customers} customers (embedded SQLite store, one core)\n  {customers} customers created in {:.1} s",
        loading.elapsed().as_secs_f64()
    );

    // The seed's counters start from what the customers' creation left in the feed.
    nhip_local_runner::consumers::fold_feed(&deps).await?;
    store.reset();
    let started = Instant::now();
    for (i, id) in ids.iter().enumerate() {
        entry::enroll(
            &deps,
            &version,
            *id,
            entry::Entry {
                cause: &format!("bench:{i}"),
                source: "api",
                trigger: serde_json::Value::Null,
                holding: serde_json::Value::Null,
                subject: None,
                since: None,
            },
        )
        .await?;
    }
    let took = started.elapsed();
    println!(
        "  enroll: {customers} in {:.2} s ({:.0}/s), {:.2} store requests each",
        took.as_secs_f64(),
        customers as f64 / took.as_secs_f64(),
        store.requests() as f64 / customers as f64
    );

    for (label, prepare) in [("entry steps", false), ("event-driven steps", true)] {
        if prepare {
            // card.activated for everyone, routed by the events consumer's code.
            for (i, id) in ids.iter().enumerate() {
                let event = DomainEvent {
                    id: format!("act-{i}"),
                    source: "core-banking".into(),
                    kind: "card.activated".into(),
                    customer_id: Some(*id),
                    occurred_at: now,
                    data: json!({}),
                };
                nhip_api::events_consumer::handle(&deps, &event).await?;
            }
        }
        // Only the feed's new records are the phase's.
        nhip_local_runner::consumers::fold_feed(&deps).await?;
        store.reset();
        let sent_before = steps_queue.sent.load(Relaxed) + sends_queue.sent.load(Relaxed);
        let (started, cpu) = (Instant::now(), common::cpu_seconds());
        let jobs = drain(&deps).await?;
        let took = started.elapsed();
        let cpu = common::cpu_seconds() - cpu;
        let (gets, queries, writes) = (
            store.gets.load(Relaxed),
            store.queries.load(Relaxed),
            store.writes.load(Relaxed),
        );
        let (wru, rru) = (store.wru.load(Relaxed), store.rru.load(Relaxed));
        let sent = steps_queue.sent.load(Relaxed) + sends_queue.sent.load(Relaxed) - sent_before;
        // The steps run are the step records the phase created; the journey-stats function
        // folds them into the counters (timed and counted apart).
        store.reset();
        let (mut steps, mut folded) = (0u64, 0usize);
        let folding = Instant::now();
        loop {
            let batch = feed.read(1000).await?;
            if batch.is_empty() {
                break;
            }
            steps += batch
                .iter()
                .filter(|r| r.item.get("kind").and_then(|k| k.as_str()) == Some("journey_step"))
                .count() as u64;
            folded += nhip_journeys::stats::fold(&deps, &batch).await?;
            feed.acknowledge(&batch).await?;
        }
        let fold_took = folding.elapsed();
        anyhow::ensure!(folded as u64 == steps, "every step record folded once");
        println!(
            "  {label}: {steps} steps ({jobs} step jobs) in {:.2} s = {:.0} steps/s on one core; \
             {:.2} store requests a step ({gets} gets, {queries} queries, {writes} writes), \
             {:.2} queue sends a step; counters: {} records folded in {:.0} ms, {:.3} store requests a step",
            took.as_secs_f64(),
            steps as f64 / took.as_secs_f64(),
            (gets + queries + writes) as f64 / steps.max(1) as f64,
            sent as f64 / steps.max(1) as f64,
            folded,
            fold_took.as_secs_f64() * 1000.0,
            store.requests() as f64 / steps.max(1) as f64,
        );
        let per_step = |n: u64| n as f64 / steps.max(1) as f64;
        // On AWS each job is an SQS message the event source mapping receives and deletes in
        // batches of 10, one Lambda invocation a batch; the folding is free stream reads and
        // one transaction of two writes per counter item and batch (counted above apart).
        let cost = common::Prices::SINGAPORE;
        let dynamodb = (per_step(wru) * cost.wru + per_step(rru) * cost.rru) + {
            let folding = (store.wru.load(Relaxed), store.rru.load(Relaxed));
            per_step(folding.0) * cost.wru + per_step(folding.1) * cost.rru
        };
        let sqs = (per_step(sent) + 2.0 * per_step(jobs) / 10.0) * cost.sqs;
        let lambda = per_step(jobs) / 10.0 * cost.lambda_request;
        println!(
            "    process CPU {cpu:.2} s for {:.2} s of wall time ({:.0} % of one core: the worker's \
             thread and the file's checkpointer)",
            took.as_secs_f64(),
            100.0 * cpu / took.as_secs_f64()
        );
        println!(
            "    per step: {:.2} write units, {:.2} read units (item sizes as billed, upper bound); \
             a million steps: DynamoDB ${dynamodb:.2}, SQS ${sqs:.2}, Lambda requests ${lambda:.2} \
             (ap-southeast-1 prices in docs/performance.md; Lambda duration apart)",
            per_step(wru),
            per_step(rru),
        );
    }
    let _ = store.health().await;
    Ok(())
}
