//! Journey counters, in one partition per journey version (`STAT#JRN#<journey>:<version>`,
//! sort key `ALL` or `STEP#<step>`), added with atomic ADDs. The journey engine adds the
//! enrollment counters (entered, waiting, converted, …); the messaging pipeline and tracker add
//! the message counters of messages whose cause is a journey step ([`StepCause`]). Reading
//! them is the journeys feature's.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::deps::Deps;
use crate::keys;
use nhip_ports::store::{Condition, StoreError, Update};

/// The cause of a journey step's messages, written `<journey>:<version>:<step>` as the
/// message's cause id. Journey keys and step ids are slugs without `:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepCause {
    /// The journey's key.
    pub journey: String,
    /// The published version the enrollment follows.
    pub version: u32,
    /// The step's id.
    pub step: String,
}

impl StepCause {
    /// The cause of `step` in `journey`'s `version`.
    pub fn new(journey: &str, version: u32, step: &str) -> Self {
        Self {
            journey: journey.to_owned(),
            version,
            step: step.to_owned(),
        }
    }
}

impl fmt::Display for StepCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.journey, self.version, self.step)
    }
}

/// A cause id that is not `<journey>:<version>:<step>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a journey step cause: {0:?}")]
pub struct NotAStepCause(pub String);

impl FromStr for StepCause {
    type Err = NotAStepCause;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let wrong = || NotAStepCause(raw.to_owned());
        let mut parts = raw.splitn(3, ':');
        let journey = parts.next().filter(|p| !p.is_empty()).ok_or_else(wrong)?;
        let version = parts
            .next()
            .and_then(|p| p.parse().ok())
            .ok_or_else(wrong)?;
        let step = parts.next().filter(|p| !p.is_empty()).ok_or_else(wrong)?;
        Ok(Self::new(journey, version, step))
    }
}

/// Adds `amount` to each `(step, counter, amount)` of `journey`'s `version`: `None` is the
/// version's totals. One update per item.
pub async fn add_to_journey(
    deps: &Deps,
    journey: &str,
    version: u32,
    changes: &[(Option<&str>, &str, i64)],
) -> Result<(), StoreError> {
    let mut per_item: BTreeMap<Option<&str>, Update> = BTreeMap::new();
    for (step, counter, amount) in changes {
        let update = per_item.remove(step).unwrap_or_default();
        per_item.insert(*step, update.add(*counter, *amount));
    }
    for (step, update) in per_item {
        let mut update = update.set("kind", "journey_stats");
        if let Some(step) = step {
            update = update.set("step", step);
        }
        deps.store
            .update(
                &keys::journey_stats(journey, version, step),
                update,
                Condition::Always,
            )
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_cause_reads_back_what_it_writes_and_refuses_anything_else() {
        let cause = StepCause::new("tra-gop-moi", 3, "nhac-lai");
        assert_eq!(cause.to_string(), "tra-gop-moi:3:nhac-lai");
        assert_eq!(cause.to_string().parse::<StepCause>().unwrap(), cause);
        for wrong in [
            "",
            "tra-gop-moi",
            "tra-gop-moi:x:step",
            "tra-gop-moi:3",
            "tra-gop-moi:3:",
            ":3:s",
        ] {
            assert!(wrong.parse::<StepCause>().is_err(), "{wrong}");
        }
    }
}
