//! Drain benchmark: `cargo bench -p nhip-tests --bench drain` (`-- <customers>` to change the
//! sample; default 5,000).
//!
//! How long 1,000,000 journey wake-ups due in the same minute take to drain on DynamoDB, from
//! the request pattern the code makes. On the embedded SQLite store with a frozen simulated
//! clock it installs the card-onboarding seed journey, creates the sample of customers, enrolls
//! them all at the same instant and runs their entry steps, so every enrollment waits in
//! `cho-kich-hoat-1` with a wake-up due three days later, in the same minute. Then, three days
//! on, it runs the real scheduler tick and every queue's consumer (the journey worker, the
//! message sender, the events consumer…) until the queues are empty, recording each store
//! request with the partition key it lands on (the table's, and every index entry the write
//! adds, changes or removes), its capacity units, and every queue send and `PutEvents`.
//!
//! From the sample it derives each key class's requests per wake-up (`CUS#<id>`, the due-work
//! buckets `DUE#<hour>#<shard>`, `JACT#<journey>#<shard>`, `STAT#…`), which classes are one
//! key per customer or item (their load per key does not grow with the number of wake-ups) and
//! which are shared (their load grows with it), then replays the pattern for 1,000,000
//! wake-ups: the highest rate at which no partition key of the table or its indexes goes over
//! 1,000 write or 3,000 read units a second, the drain time, and the Lambda concurrency it
//! takes, for 16 to 128 shards. The figures in docs/performance.md come from this command.

// The drain bench uses the recording store only, not the counting one the others share.
#[allow(dead_code)]
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::recording::{self, Calls, Load, Target};
use nhip_journeys::{definitions, entry};
use nhip_ports::store::{Condition, ItemStore};
use serde_json::json;

/// Wake-ups the replay drains.
const WAKE_UPS: f64 = 1_000_000.0;
/// The drain target.
const TARGET_SECONDS: f64 = 300.0;
/// DynamoDB's limits per partition: write and read units a second.
const PARTITION_WRU: f64 = 1_000.0;
const PARTITION_RRU: f64 = 3_000.0;
/// Shard counts the replay tries for the sharded keys (the due-work buckets, the journeys'
/// active lists).
const SHARD_COUNTS: [u16; 4] = [16, 32, 64, 128];
/// Assumed latencies, in milliseconds, of one call from a Lambda function in the table's
/// region: a single-item DynamoDB request, a query page, a transaction, an SQS
/// `SendMessageBatch`, an EventBridge `PutEvents`.
const SINGLE_ITEM_MS: f64 = 5.0;
const QUERY_MS: f64 = 10.0;
const TRANSACTION_MS: f64 = 10.0;
const SQS_SEND_MS: f64 = 10.0;
const PUT_EVENTS_MS: f64 = 15.0;
/// The consumers of what the wake-ups send: the message sender drains the sends at the
/// channels' configured rates (`SendRates`), not at the steps' pace, and the events consumer
/// takes the events its messages raise; they are reported apart from the wake-ups' own work.
const SENDS: [&str; 2] = ["message-sender", "events-consumer"];

/// The deployment's settings the model needs, read from template.yaml.
struct Template {
    steps_batch: f64,
    scheduler_timeout: f64,
    scheduler_instances: f64,
    account_concurrency_note: &'static str,
}

impl Template {
    fn read() -> anyhow::Result<Self> {
        let text = include_str!("../../template.yaml");
        let property = |resource: &str, name: &str| -> anyhow::Result<f64> {
            let start = text
                .find(&format!("\n  {resource}:\n"))
                .ok_or_else(|| anyhow::anyhow!("{resource} not in template.yaml"))?;
            // The resource's lines: up to the next line indented two spaces or less.
            let line = text[start + 1..]
                .lines()
                .skip(1)
                .take_while(|l| {
                    let indent = l.len() - l.trim_start().len();
                    l.trim().is_empty() || l.trim_start().starts_with('#') || indent > 2
                })
                .find(|l| l.trim_start().starts_with(&format!("{name}:")))
                .ok_or_else(|| anyhow::anyhow!("{resource} has no {name}"))?;
            Ok(line.split(':').nth(1).unwrap_or_default().trim().parse()?)
        };
        Ok(Self {
            steps_batch: property("JourneyWorker", "BatchSize")?,
            scheduler_timeout: property("Scheduler", "Timeout")?,
            scheduler_instances: property("Scheduler", "ReservedConcurrentExecutions")?,
            account_concurrency_note: "a region's default Lambda concurrency is 1,000 per account",
        })
    }
}

/// Runs every queue's consumer until all the queues are empty; returns the batches' records
/// handled per function.
async fn drain(
    deps: &Arc<nhip_core::Deps>,
    store: &recording::Recording,
    stages: bool,
) -> anyhow::Result<BTreeMap<&'static str, (u64, StdDuration)>> {
    let consumers = nhip_local_runner::consumers::all(deps);
    let queues = deps.queues.all();
    let mut handled: BTreeMap<&'static str, (u64, StdDuration)> = BTreeMap::new();
    loop {
        let mut any = false;
        for consumer in &consumers {
            let Some((_, queue)) = queues
                .iter()
                .find(|(name, _)| *name == consumer.queue_name())
            else {
                continue;
            };
            loop {
                let batch = queue
                    .receive(10, StdDuration::from_secs(60), StdDuration::ZERO)
                    .await?;
                if batch.is_empty() {
                    break;
                }
                any = true;
                if stages {
                    store.set_stage(consumer.function);
                }
                let count = batch.len() as u64;
                let started = Instant::now();
                consumer.deliver(batch).await;
                let entry = handled.entry(consumer.function).or_default();
                entry.0 += count;
                entry.1 += started.elapsed();
            }
        }
        if !any {
            break;
        }
    }
    for (name, queue) in &queues {
        let depth = queue.depth().await?;
        anyhow::ensure!(
            depth.visible + depth.in_flight + depth.delayed == 0,
            "{name} queue not drained: {depth:?} (a record failed)"
        );
    }
    Ok(handled)
}

/// The class of a partition key: ids, hours, shards, hashes and addresses replaced by their
/// kind, hours told apart from the hour the wake-ups are due (`<due hour>`, `<due hour+72h>`).
fn class_of(pk: &str, due: DateTime<Utc>) -> String {
    let due_hour = nhip_core::keys::hour_floor(due);
    let ulid = |part: &str| {
        part.len() == 26
            && part
                .chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
    };
    pk.split('#')
        .map(|part| {
            if let Some((head, tail)) = part.rsplit_once('-')
                && ulid(tail)
            {
                return format!("{head}-<id>");
            }
            let digits = !part.is_empty() && part.chars().all(|c| c.is_ascii_digit());
            if ulid(part) {
                "<id>".to_owned()
            } else if digits && part.len() == 10 {
                match chrono::NaiveDateTime::parse_from_str(&format!("{part}00"), "%Y%m%d%H%M") {
                    Ok(hour) => {
                        let hours = (hour.and_utc() - due_hour).num_hours();
                        if hours == 0 {
                            "<due hour>".to_owned()
                        } else {
                            format!("<due hour{hours:+}h>")
                        }
                    }
                    Err(_) => "<number>".to_owned(),
                }
            } else if digits && part.len() <= 3 {
                "<shard>".to_owned()
            } else if digits {
                "<number>".to_owned()
            } else if part.len() >= 32 && part.chars().all(|c| c.is_ascii_hexdigit()) {
                "<hash>".to_owned()
            } else if part.contains('@') || part.starts_with('+') {
                "<address>".to_owned()
            } else {
                part.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("#")
}

/// One key class's load in the sample.
#[derive(Default, Clone)]
struct Class {
    keys: BTreeSet<String>,
    load: Load,
    /// The most any one key of the class took, in write and read units.
    max_wru: f64,
    max_rru: f64,
}

impl Class {
    fn add(&mut self, pk: &str, load: &Load) {
        self.keys.insert(pk.to_owned());
        self.load.reads += load.reads;
        self.load.writes += load.writes;
        self.load.rru += load.rru;
        self.load.wru += load.wru;
    }

    /// Shared by many wake-ups (fewer keys than a quarter of the sample), so its load per key
    /// grows with their number; otherwise one key per customer or item.
    fn shared(&self, sample: f64) -> bool {
        (self.keys.len() as f64) < sample / 4.0
    }

    fn sharded(name: &str) -> bool {
        name.contains("<shard>")
    }

    /// Keys of the class at 1,000,000 wake-ups with `shards` shards.
    fn keys_at(&self, name: &str, shards: u16) -> f64 {
        if Self::sharded(name) {
            f64::from(shards)
        } else {
            self.keys.len() as f64
        }
    }
}

type Classes = BTreeMap<(Target, String), Class>;

fn classes<'a>(
    keys: impl Iterator<Item = (&'a (&'static str, Target, String), &'a Load)>,
    due: DateTime<Utc>,
) -> Classes {
    let mut by_key: BTreeMap<(Target, String), Load> = BTreeMap::new();
    for ((_, target, pk), load) in keys {
        let entry = by_key.entry((*target, pk.clone())).or_default();
        entry.reads += load.reads;
        entry.writes += load.writes;
        entry.rru += load.rru;
        entry.wru += load.wru;
    }
    let mut classes = Classes::new();
    for ((target, pk), load) in by_key {
        let class = classes.entry((target, class_of(&pk, due))).or_default();
        class.add(&pk, &load);
        class.max_wru = class.max_wru.max(load.wru);
        class.max_rru = class.max_rru.max(load.rru);
    }
    classes
}

/// The highest wake-up rate the shared keys allow with `shards` shards, and the key that
/// sets it: per key, the class's units a wake-up over its keys, against the partition limits.
fn max_rate(classes: &Classes, sample: f64, shards: u16, without: Option<&str>) -> (f64, String) {
    let mut best = (f64::INFINITY, "none".to_owned());
    for ((target, name), class) in classes {
        if !class.shared(sample) || without.is_some_and(|prefix| name.starts_with(prefix)) {
            continue;
        }
        let keys = class.keys_at(name, shards);
        let wru = class.load.wru / sample / keys;
        let rru = class.load.rru / sample / keys;
        for (units, limit, kind) in [
            (wru, PARTITION_WRU, "writes"),
            (rru, PARTITION_RRU, "reads"),
        ] {
            if units > 0.0 && limit / units < best.0 {
                best = (
                    limit / units,
                    format!(
                        "{} `{name}` {kind} ({units:.4} units a wake-up on each of {keys} keys)",
                        target.name()
                    ),
                );
            }
        }
    }
    best
}

/// Sequential time of a stage's calls, in milliseconds, under the assumed latencies.
fn latency_ms(calls: &Calls) -> f64 {
    let sqs: u64 = calls
        .queue_sends
        .values()
        .map(|(batches, _, _)| batches)
        .sum();
    (calls.single_item() + calls.batch_get_item) as f64 * SINGLE_ITEM_MS
        + calls.query as f64 * QUERY_MS
        + calls.transact_write_items as f64 * TRANSACTION_MS
        + sqs as f64 * SQS_SEND_MS
        + calls.put_events.0 as f64 * PUT_EVENTS_MS
}

fn minutes(seconds: f64) -> String {
    if seconds.is_infinite() {
        "—".to_owned()
    } else if seconds < 600.0 {
        format!("{seconds:.0} s")
    } else {
        format!("{:.0} min", seconds / 60.0)
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let customers: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5_000);
    let sample = customers as f64;
    let template = Template::read()?;
    let dir = tempfile::tempdir()?;
    let start = Utc.with_ymd_and_hms(2026, 11, 23, 2, 0, 0).unwrap();
    // The sender's per-channel budget (600 a minute by default) would defer most of the
    // sample's messages: raise it so every send runs and its requests are seen.
    let mut settings = nhip_core::Settings::default();
    for kind in ["email", "sms", "zns", "push", "webhook"] {
        settings
            .messaging
            .send_rates
            .insert(kind.to_owned(), 1_000_000);
    }
    let recording::Bench { deps, store, clock } = recording::deps(dir.path(), start, settings)?;
    let deps = Arc::new(deps);
    let router = nhip_api::router(deps.clone());
    let call = common::admin_requests(&deps, start);
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

    let setup = Instant::now();
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
        let id = body["id"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("customer not created: {body}"))?
            .parse()?;
        entry::enroll(
            &deps,
            &version,
            id,
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
    // Entry steps: the welcome e-mail, then the 3-day wait for card.activated.
    drain(&deps, &store, false).await?;
    println!(
        "drain of journey wake-ups due in the same minute: {customers} customers waiting in `cho-kich-hoat-1` (embedded SQLite store, set up in {:.1} s)",
        setup.elapsed().as_secs_f64()
    );

    // Three days on, every wake-up is due in this minute; the last tick ran a minute ago.
    let due = start + Duration::days(3);
    clock.advance_to(due);
    let mut cursor = nhip_core::keys::scheduler_cursor().to_item();
    cursor.insert(
        "minute".into(),
        nhip_core::keys::instant(due - Duration::minutes(1)).into(),
    );
    store.inner.put(cursor, Condition::Always).await?;

    store.start("scheduler");
    let started = Instant::now();
    let report = nhip_api::tick::tick(&deps).await?;
    let tick_took = started.elapsed();
    let mut handled = drain(&deps, &store, true).await?;
    store.stop();
    handled.insert("scheduler", (report.ran as u64, tick_took));
    anyhow::ensure!(
        report.ran as u64 == customers && report.failed == 0,
        "the tick ran {} of {customers} wake-ups ({} failed)",
        report.ran,
        report.failed
    );
    let keys = store.keys();
    let items = store.items();
    let calls = store.calls();

    println!("\nwhat ran (per wake-up: one tick item, then the jobs and messages it caused)");
    println!(
        "| stage | records | per wake-up | local time | DynamoDB calls per record | queue sends per record | PutEvents per record |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (stage, (records, took)) in &handled {
        let c = calls.get(stage).cloned().unwrap_or_default();
        let per = |n: u64| n as f64 / (*records).max(1) as f64;
        let sends = c
            .queue_sends
            .iter()
            .map(|(queue, (batches, messages, _))| {
                format!(
                    "{queue}: {:.2} calls, {:.2} messages",
                    per(*batches),
                    per(*messages)
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        println!(
            "| {stage} | {records} | {:.2} | {:.2} s | {:.2}: {:.2} get, {:.2} put, {:.2} update, {:.2} delete, {:.2} query, {:.2} transaction ({:.2} writes), {:.2} batch-get; {:.2} conditions refused | {} | {:.2} ({:.2} entries) |",
            *records as f64 / sample,
            took.as_secs_f64(),
            per(c.single_item() + c.query + c.transact_write_items + c.batch_get_item),
            per(c.get_item),
            per(c.put_item),
            per(c.update_item),
            per(c.delete_item),
            per(c.query),
            per(c.transact_write_items),
            per(c.transaction_writes),
            per(c.batch_get_item),
            per(c.conditions_failed),
            if sends.is_empty() {
                "none".to_owned()
            } else {
                sends
            },
            per(c.put_events.0),
            per(c.put_events.1),
        );
    }

    // The pattern per key class, per stage and in all.
    let wake = classes(keys.iter().filter(|((s, _, _), _)| !SENDS.contains(s)), due);
    let sender = classes(keys.iter().filter(|((s, _, _), _)| SENDS.contains(s)), due);
    let everything = classes(keys.iter(), due);
    for (title, set) in [
        (
            "the wake-ups' own work (scheduler tick, journey worker)",
            &wake,
        ),
        (
            "the sends they queued (message sender, and the events consumer on the events its messages raise)",
            &sender,
        ),
    ] {
        println!("\nkey classes: {title}; per wake-up, {customers} in the sample");
        println!(
            "| where | key class | keys in the sample | scales with N | reads | read units | writes | write units | most on one key (write, read units) |"
        );
        println!("|---|---|---|---|---|---|---|---|---|");
        for ((target, name), class) in set {
            let shared = class.shared(sample);
            println!(
                "| {} | `{name}` | {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {} |",
                target.name(),
                class.keys.len(),
                if !shared {
                    "no: one key per customer or item"
                } else if Class::sharded(name) {
                    "yes: total ÷ shards"
                } else {
                    "yes: all on these keys"
                },
                class.load.reads as f64 / sample,
                class.load.rru / sample,
                class.load.writes as f64 / sample,
                class.load.wru / sample,
                if shared {
                    format!(
                        "{:.0}, {:.0} in the sample (mean {:.0}, {:.0})",
                        class.max_wru,
                        class.max_rru,
                        class.load.wru / class.keys.len() as f64,
                        class.load.rru / class.keys.len() as f64
                    )
                } else {
                    format!(
                        "{:.0}, {:.0} (its customer's one wake-up)",
                        class.max_wru, class.max_rru
                    )
                },
            );
        }
    }

    // The hottest single items of the shared keys: an item cannot be split across partitions.
    println!("\nhottest items on shared keys (write units a wake-up)");
    let mut hot: Vec<(f64, String)> = items
        .iter()
        .filter(|((_, pk, _), _)| {
            wake.get(&(Target::Table, class_of(pk, due)))
                .or_else(|| sender.get(&(Target::Table, class_of(pk, due))))
                .is_some_and(|c| c.shared(sample))
        })
        .fold(
            BTreeMap::<(bool, String, String), f64>::new(),
            |mut acc, ((stage, pk, sk), load)| {
                *acc.entry((SENDS.contains(stage), pk.clone(), sk.clone()))
                    .or_default() += load.wru;
                acc
            },
        )
        .into_iter()
        .map(|((is_sender, pk, sk), wru)| {
            (
                wru / sample,
                format!("{}`{pk}` / `{sk}`", if is_sender { "(sends) " } else { "" }),
            )
        })
        .collect();
    hot.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (units, item) in hot.iter().take(6) {
        println!(
            "  {item}: {units:.3} a wake-up, so at most {:.0} wake-ups/s on it",
            PARTITION_WRU / units
        );
    }

    // The stages' sequential latencies under the assumed call latencies.
    let per_record = |stage: &str| -> f64 {
        let records = handled.get(stage).map_or(1, |(n, _)| (*n).max(1)) as f64;
        calls.get(stage).map_or(0.0, latency_ms) / records
    };
    // The tick runs an hour's shards at once, and on each shard the deletes of a page's sent
    // steps ten at a time: its time a wake-up on one shard is its queries and sends in
    // sequence and its deletes a tenth of theirs.
    let tick_ms = {
        let records = handled.get("scheduler").map_or(1, |(n, _)| (*n).max(1)) as f64;
        calls.get("scheduler").map_or(0.0, |c| {
            let sqs: u64 = c.queue_sends.values().map(|(batches, _, _)| batches).sum();
            c.query as f64 * QUERY_MS
                + sqs as f64 * SQS_SEND_MS
                + (c.single_item() + c.batch_get_item) as f64 * SINGLE_ITEM_MS
                    / nhip_api::tick::STEP_DELETES_AT_ONCE as f64
        }) / records
    };
    let step_ms = per_record("journey-worker");
    let steps_per_wake_up = handled.get("journey-worker").map_or(0, |(n, _)| *n) as f64 / sample;
    // One tick at a time (reserved concurrency), running at most its timeout each minute, its
    // shards at once: the rate on one shard.
    let tick_rate =
        1000.0 / tick_ms * template.scheduler_instances * template.scheduler_timeout / 60.0;
    let concurrency =
        |rate: f64| rate * steps_per_wake_up * (step_ms / 1000.0) / template.steps_batch;
    // EventBridge `PutEvents` calls a wake-up makes (the journey worker's `journey.step`).
    let put_events_per_wake_up = calls
        .iter()
        .filter(|(stage, _)| !SENDS.contains(stage))
        .map(|(_, c)| c.put_events.0)
        .sum::<u64>() as f64
        / sample;
    // A customer's own keys: the most one took in its wake-up, spread over its steps.
    let burst = wake
        .iter()
        .filter(|(_, class)| !class.shared(sample))
        .map(|((target, name), class)| (class.max_wru, class.max_rru, target.name(), name.as_str()))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .unwrap_or((0.0, 0.0, "table", ""));
    let wake_up_seconds = steps_per_wake_up * step_ms / 1000.0;

    println!(
        "\nreplay: {WAKE_UPS:.0} wake-ups due in the same minute; a partition takes {PARTITION_WRU:.0} write and {PARTITION_RRU:.0} read units a second; target {TARGET_SECONDS:.0} s"
    );
    println!(
        "  keys of one customer or item: at most {:.0} write and {:.0} read units on one ({} `{}`) in a wake-up of {:.0} ms, {:.0} a second, whatever the number of wake-ups",
        burst.0,
        burst.1,
        burst.2,
        burst.3,
        wake_up_seconds * 1000.0,
        burst.0 / wake_up_seconds.max(0.001)
    );
    println!(
        "  scheduler tick: {tick_ms:.2} ms a wake-up on one shard ({QUERY_MS} ms a query page, {SQS_SEND_MS} ms a SendMessageBatch, {SINGLE_ITEM_MS} ms a delete, {} at once): {:.0} wake-ups/s a shard; {tick_rate:.0}/s a shard with {} tick at a time, each at most {} s a minute; the shards run at once (today {} of them, `DUE_SHARDS`)",
        nhip_api::tick::STEP_DELETES_AT_ONCE,
        1000.0 / tick_ms,
        template.scheduler_instances,
        template.scheduler_timeout,
        nhip_core::keys::DUE_SHARDS,
    );
    println!(
        "  journey worker: {steps_per_wake_up:.2} steps a wake-up, {step_ms:.1} ms a step in sequence ({TRANSACTION_MS} ms a transaction, {PUT_EVENTS_MS} ms a PutEvents); a batch of {} records runs them at once, so one instance moves {:.0} steps/s",
        template.steps_batch,
        template.steps_batch / (step_ms / 1000.0)
    );
    println!(
        "\n| shards | wake-ups/s the keys allow | limited by | wake-ups/s the tick allows | drain | limited by | journey-worker concurrency | PutEvents calls/s |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for shards in SHARD_COUNTS {
        let (rate, limit) = max_rate(&wake, sample, shards, None);
        let ticking = tick_rate * f64::from(shards);
        let drained = rate.min(ticking);
        let bound = if ticking < rate {
            "the tick"
        } else {
            "the keys"
        };
        println!(
            "| {shards} | {rate:.0} | {limit} | {ticking:.0} | **{}** ({drained:.0}/s) | {bound} | {:.0} | {:.0} |",
            minutes(WAKE_UPS / drained),
            concurrency(drained),
            drained * put_events_per_wake_up,
        );
    }
    let (with_sends, with_sends_limit) = max_rate(&everything, sample, 16, None);
    let (sends_rate, sends_limit) = max_rate(&sender, sample, 16, None);
    println!(
        "\n  the sends alone (message sender, events consumer): at most {sends_rate:.0} a second, limited by {sends_limit}; SendRates caps each channel lower (600 a minute unless set)"
    );
    println!(
        "  wake-ups with their sends keeping pace: at most {with_sends:.0} a second, limited by {with_sends_limit}"
    );
    for shards in SHARD_COUNTS {
        let deletes = WAKE_UPS / f64::from(shards);
        println!(
            "  the tick's deletes with {shards} shards: {deletes:.0} per gsi1 `DUE#<due hour>#<shard>` key, at least {:.0} s at {PARTITION_WRU:.0} a second",
            deletes / PARTITION_WRU
        );
    }
    println!("  {}", template.account_concurrency_note);
    let _ = store.health().await;
    Ok(())
}
