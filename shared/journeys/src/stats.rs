//! Journey counters per version and per step, in one partition per version
//! (`STAT#JRN#<journey>:<version>`, sort key `ALL` or `STEP#<step>`), so the statistics page is
//! one query. The engine adds to them after each transition it wrote (entered, waiting now,
//! converted, exited, stopped, ticketed); the messaging pipeline and the tracker add the
//! message counters (sent, delivered, opened, clicked, not sent, errors) of messages whose
//! cause is a journey step.

use std::collections::BTreeMap;

use nhip_domain::journey::{Journey, Step};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::engine::{Enrollment, EnrollmentStatus, Phase};
use nhip_core::deps::Deps;
use nhip_core::keys;
use nhip_ports::store::{Index, Key, StoreError};

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

/// Counts a new enrollment.
pub async fn entered(deps: &Deps, enrollment: &Enrollment) -> Result<(), StoreError> {
    add(
        deps,
        &enrollment.journey,
        enrollment.journey_version,
        &[(None, "entered", 1), (Some(&enrollment.step), "entered", 1)],
    )
    .await
}

/// Counts one transition from `before` to `after`.
pub async fn transition(
    deps: &Deps,
    before: &Enrollment,
    after: &Enrollment,
    journey: &Journey,
) -> Result<(), StoreError> {
    let mut changes: Vec<(Option<&str>, &str, i64)> = Vec::new();
    if before.phase == Phase::Waiting && after.phase != Phase::Waiting {
        changes.push((None, "waiting", -1));
        changes.push((Some(&before.step), "waiting", -1));
    }
    if after.phase == Phase::Waiting && before.phase != Phase::Waiting {
        changes.push((None, "waiting", 1));
        changes.push((Some(&after.step), "waiting", 1));
    }
    if after.phase == Phase::Entering {
        changes.push((Some(&after.step), "entered", 1));
    }
    if before.phase == Phase::Entering
        && after.status == EnrollmentStatus::Active
        && matches!(journey.step(&before.step), Some(Step::Ticket { .. }))
    {
        changes.push((None, "ticketed", 1));
        changes.push((Some(&before.step), "ticketed", 1));
    }
    let ended = match after.status {
        EnrollmentStatus::Active => None,
        EnrollmentStatus::Converted => Some("converted"),
        EnrollmentStatus::Exited => Some("exited"),
        EnrollmentStatus::Stopped => Some("stopped"),
    };
    if let Some(counter) = ended {
        changes.push((None, counter, 1));
        changes.push((Some(&after.step), counter, 1));
    }
    add(deps, &before.journey, before.journey_version, &changes).await
}

async fn add(
    deps: &Deps,
    journey: &str,
    version: u32,
    changes: &[(Option<&str>, &str, i64)],
) -> Result<(), StoreError> {
    nhip_core::stats::add_to_journey(deps, journey, version, changes).await
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
