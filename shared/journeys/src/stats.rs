//! Journey counters per version and per step, in one partition per version
//! (`STAT#JRN#<journey>:<version>`, sort key `ALL` or `STEP#<step>`), so the statistics page is
//! one query.
//!
//! The engine's counters (entered, waiting now, converted, exited, stopped, ticketed) are
//! derived, never added to on the step's path: each step record carries what its transition
//! changes ([`deltas`], attribute `counts`), and a new enrollment counts as entered. Both items
//! are created with `feed: stats`, so they reach [`fold`] through the table's change feed (the
//! DynamoDB stream; locally the SQLite file's `feed` table), which adds a batch's records to
//! each counter item in one conditional update. The item keeps, per feed shard, the position
//! of the last record folded into it (`fed_<shard>`), and the update is conditional on that
//! mark, so a redelivered batch adds nothing twice, and a failure before the update loses
//! nothing (the feed delivers the batch again). A step record is written once per enrollment
//! and `seq`, so a redelivered step job cannot count twice either.
//!
//! The messaging pipeline and the tracker add the message counters (sent, delivered, opened,
//! clicked, not sent, errors) of messages whose cause is a journey step.

use std::collections::BTreeMap;

use nhip_domain::journey::{Journey, Step};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::engine::{Enrollment, EnrollmentStatus, Phase};
use nhip_core::deps::Deps;
use nhip_core::keys;
use nhip_ports::store::{Condition, FEED, FeedRecord, Index, Item, Key, StoreError, Update};

/// The counters, in display order.
pub const COUNTERS: [&str; 12] = [
    "entered",
    "waiting",
    "sent",
    "delivered",
    "opened",
    "clicked",
    "not_sent",
    "converted",
    "exited",
    "stopped",
    "ticketed",
    "errors",
];

/// The change feed consumer that folds into these counters (`feed` attribute's value).
pub const FEED_CONSUMER: &str = "stats";

/// How long a shard's mark is kept after its last record: a DynamoDB stream keeps records
/// for 24 hours, so a shard silent for two days has closed.
const SHARD_MARK_DAYS: i64 = 2;

/// One change to a counter: the step (`None`: the version's totals), the counter, the amount.
pub type Delta = (Option<String>, &'static str, i64);

/// What a transition from `before` to `after` changes in the counters.
pub fn deltas(before: &Enrollment, after: &Enrollment, journey: &Journey) -> Vec<Delta> {
    let mut changes: Vec<Delta> = Vec::new();
    let mut both = |step: &str, counter: &'static str, amount: i64| {
        changes.push((None, counter, amount));
        changes.push((Some(step.to_owned()), counter, amount));
    };
    if before.phase == Phase::Waiting && after.phase != Phase::Waiting {
        both(&before.step, "waiting", -1);
    }
    if after.phase == Phase::Waiting && before.phase != Phase::Waiting {
        both(&after.step, "waiting", 1);
    }
    if before.phase == Phase::Entering
        && after.status == EnrollmentStatus::Active
        && matches!(journey.step(&before.step), Some(Step::Ticket { .. }))
    {
        both(&before.step, "ticketed", 1);
    }
    let ended = match after.status {
        EnrollmentStatus::Active => None,
        EnrollmentStatus::Converted => Some("converted"),
        EnrollmentStatus::Exited => Some("exited"),
        EnrollmentStatus::Stopped => Some("stopped"),
    };
    if let Some(counter) = ended {
        both(&after.step, counter, 1);
    }
    if after.phase == Phase::Entering {
        changes.push((Some(after.step.clone()), "entered", 1));
    }
    changes
}

/// The `counts` attribute of a step record.
pub fn counts_attribute(changes: &[Delta]) -> Value {
    Value::Array(
        changes
            .iter()
            .map(|(step, counter, amount)| json!([step, counter, amount]))
            .collect(),
    )
}

/// The changes a feed record makes: (step, counter, amount).
type Changes = Vec<(Option<String>, String, i64)>;

/// What a feed record changes: the journey, its version and the deltas; `None` for a record of
/// another consumer or another kind.
fn changes_of(item: &Item) -> Option<(String, u32, Changes)> {
    if item.get(FEED).and_then(Value::as_str) != Some(FEED_CONSUMER) {
        return None;
    }
    let journey = item.get("journey")?.as_str()?.to_owned();
    let version = u32::try_from(item.get("journey_version")?.as_u64()?).ok()?;
    let changes = match item.get("kind").and_then(Value::as_str)? {
        crate::engine::KIND => {
            let step = item.get("step")?.as_str()?.to_owned();
            vec![
                (None, "entered".to_owned(), 1),
                (Some(step), "entered".to_owned(), 1),
            ]
        }
        crate::engine::STEP_KIND => item
            .get("counts")?
            .as_array()?
            .iter()
            .filter_map(|change| {
                let step = match change.get(0)? {
                    Value::Null => None,
                    Value::String(step) => Some(step.clone()),
                    _ => return None,
                };
                let counter = change.get(1)?.as_str()?;
                COUNTERS.contains(&counter).then_some(())?;
                Some((step, counter.to_owned(), change.get(2)?.as_i64()?))
            })
            .collect(),
        _ => return None,
    };
    Some((journey, version, changes))
}

/// What a batch of feed records adds to one counter item.
#[derive(Default)]
struct Tally {
    step: Option<String>,
    /// (shard, position, counter, amount), in feed order.
    entries: Vec<(String, String, String, i64)>,
}

/// Folds a batch of feed records into the counters: one read and one conditional update per
/// counter item the batch touches. Records of other consumers are skipped. Returns how many
/// records counted.
pub async fn fold(deps: &Deps, records: &[FeedRecord]) -> Result<usize, StoreError> {
    let mut tallies: BTreeMap<Key, Tally> = BTreeMap::new();
    let mut counted = 0;
    for record in records {
        let Some((journey, version, changes)) = changes_of(&record.item) else {
            continue;
        };
        counted += 1;
        for (step, counter, amount) in changes {
            let key = keys::journey_stats(&journey, version, step.as_deref());
            let tally = tallies.entry(key).or_insert_with(|| Tally {
                step: step.clone(),
                entries: Vec::new(),
            });
            tally
                .entries
                .push((record.shard.clone(), record.seq.clone(), counter, amount));
        }
    }
    for (key, tally) in &tallies {
        fold_into(deps, key, tally).await?;
    }
    Ok(counted)
}

/// How long the marker of a folded stream batch is kept: a stream keeps its records (and
/// Lambda retries a batch) for 24 hours.
const BATCH_MARKER_DAYS: i64 = 3;

/// Folds one batch of the table's DynamoDB stream (the `journey-stats` function): the stream's
/// shards are not named in the records Lambda hands over, so instead of per-shard marks each
/// counter item's update goes in one transaction with a marker of the batch (`FOLD#<batch>#…`,
/// create-only, from the records' event ids). Lambda retries a failed batch whole, so a retried
/// batch finds its markers and adds nothing twice; a failure adds nothing (the transaction).
pub async fn fold_stream(
    deps: &Deps,
    event: aws_lambda_events::dynamodb::Event,
) -> Result<usize, StoreError> {
    use sha2::Digest;
    let mut hash = sha2::Sha256::new();
    let mut records = Vec::with_capacity(event.records.len());
    for record in event.records {
        hash.update(record.event_id.as_bytes());
        hash.update(b"\n");
        if record.event_name != "INSERT" {
            continue;
        }
        let item: Item = serde_dynamo::from_item(record.change.new_image)
            .map_err(|e| StoreError::invalid(format!("stream record: {e}")))?;
        records.push(FeedRecord::new(
            "stream",
            &record.change.sequence_number.unwrap_or_default(),
            item,
        ));
    }
    let batch = hex::encode(&hash.finalize()[..16]);
    let mut counted = 0;
    let mut sums: BTreeMap<Key, (Option<String>, BTreeMap<String, i64>)> = BTreeMap::new();
    for record in &records {
        let Some((journey, version, changes)) = changes_of(&record.item) else {
            continue;
        };
        counted += 1;
        for (step, counter, amount) in changes {
            let key = keys::journey_stats(&journey, version, step.as_deref());
            let entry = sums
                .entry(key)
                .or_insert_with(|| (step.clone(), BTreeMap::new()));
            *entry.1.entry(counter).or_default() += amount;
        }
    }
    let expires = (deps.clock.now() + chrono::Duration::days(BATCH_MARKER_DAYS)).timestamp();
    for (key, (step, counters)) in sums {
        let mut marker = Key::new(key.pk.clone(), format!("FOLD#{batch}#{}", key.sk)).to_item();
        marker.insert("kind".into(), "journey_stats_fold".into());
        marker.insert(nhip_ports::store::TTL.into(), expires.into());
        let mut update = Update::new().set("kind", "journey_stats");
        if let Some(step) = &step {
            update = update.set("step", step.as_str());
        }
        for (counter, amount) in counters {
            update = update.add(counter, amount);
        }
        match deps
            .store
            .transact(vec![
                nhip_ports::store::WriteOp::Put {
                    item: marker,
                    condition: Condition::NotExists,
                },
                nhip_ports::store::WriteOp::Update {
                    key,
                    update,
                    condition: Condition::Always,
                },
            ])
            .await
        {
            // Folded by an earlier delivery of this batch.
            Ok(()) | Err(StoreError::ConditionFailed { op: Some(0) }) => {}
            Err(other) => return Err(other),
        }
    }
    Ok(counted)
}

fn mark_attr(shard: &str) -> String {
    format!("fed_{shard}")
}

/// A mark's position and when it was written (`<position>|<epoch seconds>`).
fn read_mark(value: &Value) -> Option<(&str, i64)> {
    let (position, at) = value.as_str()?.split_once('|')?;
    Some((position, at.parse().ok()?))
}

/// Adds a tally's records that are past the item's marks, moving the marks, on condition the
/// marks are still what was read.
async fn fold_into(deps: &Deps, key: &Key, tally: &Tally) -> Result<(), StoreError> {
    for attempt in nhip_core::retry::attempts(nhip_core::retry::CONTENDED) {
        attempt.pause().await;
        let stored = deps.store.get(key).await?.unwrap_or_default();
        let mark = |shard: &str| {
            stored
                .get(&mark_attr(shard))
                .and_then(read_mark)
                .map(|(position, _)| position.to_owned())
        };
        let mut sums: BTreeMap<&str, i64> = BTreeMap::new();
        let mut last: BTreeMap<&str, &str> = BTreeMap::new();
        for (shard, position, counter, amount) in &tally.entries {
            if mark(shard).is_some_and(|folded| position.as_str() <= folded.as_str()) {
                continue;
            }
            *sums.entry(counter).or_default() += amount;
            let latest = last.entry(shard).or_default();
            if *latest < position.as_str() {
                *latest = position;
            }
        }
        if last.is_empty() {
            return Ok(());
        }
        let now = deps.clock.now().timestamp();
        let mut update = Update::new().set("kind", "journey_stats");
        if let Some(step) = &tally.step {
            update = update.set("step", step.as_str());
        }
        for (counter, amount) in sums {
            update = update.add(counter, amount);
        }
        let mut conditions = Vec::new();
        for (shard, position) in &last {
            let attr = mark_attr(shard);
            conditions.push(match stored.get(&attr) {
                Some(value) => Condition::Equals(attr.clone(), value.clone()),
                None => Condition::LacksAttr(attr.clone()),
            });
            update = update.set(attr, format!("{position}|{now}"));
        }
        // Marks of shards that closed long ago go (a table's stream rolls its shards).
        for (attr, value) in &stored {
            let Some(shard) = attr.strip_prefix("fed_") else {
                continue;
            };
            if !last.contains_key(shard)
                && read_mark(value).is_some_and(|(_, at)| at < now - SHARD_MARK_DAYS * 24 * 3600)
            {
                update = update.remove(attr.as_str());
                conditions.push(Condition::Equals(attr.clone(), value.clone()));
            }
        }
        match deps
            .store
            .update(key, update, Condition::All(conditions))
            .await
        {
            Ok(_) => return Ok(()),
            Err(StoreError::ConditionFailed { .. }) => continue,
            Err(other) => return Err(other),
        }
    }
    Err(StoreError::TransactionConflict)
}

/// One row of the statistics: counts and rates.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StatsRow {
    /// The step id; absent for the version's totals.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// The step's type (`send`, `wait`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The step's type in Vietnamese.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Counters by name: every counter (`entered`, `waiting`, `sent`, … `errors`), zero when
    /// none.
    #[schema(value_type = BTreeMap<String, i64>)]
    pub counts: Map<String, Value>,
    /// Rates: `conversion` (converted / entered), `delivery` (delivered / sent), `open` and
    /// `click` (over delivered, or sent when nothing reported delivery), `ticket`, `error`;
    /// `null` when the whole is zero.
    #[schema(value_type = BTreeMap<String, Option<f64>>)]
    pub rates: Map<String, Value>,
}

/// A journey version's statistics.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct JourneyStats {
    /// The journey's key.
    pub journey: String,
    /// The version.
    pub version: u32,
    /// The version's totals.
    pub totals: StatsRow,
    /// Every step in definition order (sorted by id), counted or not.
    pub steps: Vec<StatsRow>,
}

fn row(item: Option<&Map<String, Value>>) -> (Map<String, Value>, Map<String, Value>) {
    let value = |name: &str| {
        item.and_then(|i| i.get(name))
            .and_then(Value::as_i64)
            .unwrap_or(0)
            .max(0)
    };
    let mut counts = Map::new();
    for name in COUNTERS {
        counts.insert(name.into(), value(name).into());
    }
    let rate = |part: i64, whole: i64| -> Value {
        if whole == 0 {
            Value::Null
        } else {
            // Four decimals: 0.4286.
            Value::from((part as f64 / whole as f64 * 10_000.0).round() / 10_000.0)
        }
    };
    let reached = if value("delivered") > 0 {
        value("delivered")
    } else {
        value("sent")
    };
    let mut rates = Map::new();
    rates.insert(
        "conversion".into(),
        rate(value("converted"), value("entered")),
    );
    rates.insert("delivery".into(), rate(value("delivered"), value("sent")));
    rates.insert("open".into(), rate(value("opened"), reached));
    rates.insert("click".into(), rate(value("clicked"), reached));
    rates.insert("ticket".into(), rate(value("ticketed"), value("entered")));
    rates.insert("error".into(), rate(value("errors"), value("entered")));
    (counts, rates)
}

/// The statistics of one version of a journey.
pub async fn read(
    deps: &Deps,
    key: &str,
    version: u32,
    journey: &Journey,
) -> Result<JourneyStats, StoreError> {
    let items = nhip_core::records::read_partition(
        &*deps.store,
        Index::Primary,
        &keys::journey_stats_pk(key, version),
        None,
    )
    .await?;
    let by_sk: BTreeMap<String, Map<String, Value>> = items
        .into_iter()
        .filter_map(|item| Some((Key::of(&item)?.sk, item)))
        .collect();
    let counted = |step: Option<&str>| by_sk.get(&keys::journey_stats(key, version, step).sk);
    let (counts, rates) = row(counted(None));
    let totals = StatsRow {
        step: None,
        kind: None,
        label: None,
        counts,
        rates,
    };
    let steps = journey
        .steps
        .iter()
        .map(|(id, step)| {
            let (counts, rates) = row(counted(Some(id)));
            StatsRow {
                step: Some(id.clone()),
                kind: Some(step.kind().to_owned()),
                label: Some(step.label().to_owned()),
                counts,
                rates,
            }
        })
        .collect();
    Ok(JourneyStats {
        journey: key.to_owned(),
        version,
        totals,
        steps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_counts_every_counter_and_rates_what_has_a_whole() {
        let mut item = Map::new();
        item.insert("entered".into(), 7.into());
        item.insert("converted".into(), 3.into());
        item.insert("sent".into(), 4.into());
        let (counts, rates) = row(Some(&item));
        assert_eq!(counts.len(), COUNTERS.len());
        assert_eq!(counts["entered"], 7);
        assert_eq!(counts["clicked"], 0);
        assert_eq!(rates["conversion"], 0.4286);
        assert_eq!(rates["open"], 0.0);
        assert_eq!(rates["delivery"], 0.0);
        let (_, none) = row(None);
        assert!(none["conversion"].is_null());
    }

    #[test]
    fn a_row_documents_counts_as_integers_and_rates_as_nullable_numbers() {
        let schema = serde_json::to_value(<StatsRow as utoipa::PartialSchema>::schema()).unwrap();
        let counts = &schema["properties"]["counts"];
        assert_eq!(counts["type"], "object");
        assert_eq!(counts["additionalProperties"]["type"], "integer");
        let rates = &schema["properties"]["rates"];
        assert_eq!(rates["type"], "object");
        assert_eq!(
            rates["additionalProperties"]["type"],
            serde_json::json!(["number", "null"])
        );
    }
}
