//! The enrollment model: where one customer is in one journey ([`Enrollment`], its
//! [`EnrollmentStatus`] and [`Phase`]), how it starts ([`Start`], [`new_enrollment`],
//! [`enrollment_id`]), its stored item and the reads of enrollments: a customer's
//! ([`of_customer`]) and a journey's active ones as a staff member sees them
//! ([`active_of_journey`]).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use nhip_domain::ids::CustomerId;
use nhip_domain::journey::Anchors;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::definitions::JourneyVersion;
use nhip_core::auth::Principal;
use nhip_core::deps::Deps;
use nhip_core::keys;
use nhip_core::scheduler::StepJob;
use nhip_ports::store::{Index, Item, Query, StoreError};

/// Kind attribute of enrollment items.
pub const KIND: &str = "enrollment";

/// Where an enrollment is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EnrollmentStatus {
    /// Moving through the journey.
    Active,
    /// Reached a goal.
    Converted,
    /// Reached an exit step.
    Exited,
    /// Ended by a stop rule (an opt-out, a closed card) or because the customer is gone.
    Stopped,
}

impl EnrollmentStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            EnrollmentStatus::Active => "active",
            EnrollmentStatus::Converted => "converted",
            EnrollmentStatus::Exited => "exited",
            EnrollmentStatus::Stopped => "stopped",
        }
    }

    /// The Vietnamese label staff see.
    pub fn label(self) -> &'static str {
        match self {
            EnrollmentStatus::Active => "Đang trong hành trình",
            EnrollmentStatus::Converted => "Đạt mục tiêu",
            EnrollmentStatus::Exited => "Đã kết thúc",
            EnrollmentStatus::Stopped => "Đã dừng",
        }
    }
}

/// Whether the current step is still to be run or is waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// The step's job is on the queue.
    Entering,
    /// The step waits for `wake_at` or an event.
    Waiting,
    /// The enrollment has ended.
    Done,
}

/// One customer's way through one journey.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Enrollment {
    /// Id (128 bits of SHA-256 of what enrolled it, so a repeated trigger finds it).
    pub id: String,
    /// The journey's key.
    pub journey: String,
    /// The version it runs on.
    pub journey_version: u32,
    /// The customer.
    pub customer_id: String,
    /// Where it is.
    pub status: EnrollmentStatus,
    /// The current step (the last one, once ended).
    pub step: String,
    /// Whether the current step is to be run or waiting.
    pub phase: Phase,
    /// Transitions so far; the optimistic-concurrency version.
    #[serde(rename = "version")]
    pub seq: u64,
    /// When a waiting step times out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub wake_at: Option<DateTime<Utc>>,
    /// When the current step was chosen.
    #[schema(value_type = String)]
    pub moved_at: DateTime<Utc>,
    /// When the enrollment last stopped waiting (or entered): the steps since then ran one
    /// after another, so an event from this instant on reaches the next step that waits for
    /// it even if it arrived while those steps were still queued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub awake_since: Option<DateTime<Utc>>,
    /// Entry times and visit counts per step.
    #[schema(value_type = Object)]
    pub anchors: Anchors,
    /// The message each send step produced (its last visit).
    #[serde(default)]
    pub messages: BTreeMap<String, String>,
    /// The holding the enrollment is about, if any (`null` when none).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub holding: Value,
    /// The data of the event that enrolled the customer (`null` when enrolled by hand).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub trigger: Value,
    /// What the enrollment is about, in a journey that runs once per subject
    /// (`trigger.per`): the value of that field in the trigger event's data (an instalment
    /// plan's id, a contract's). Only that subject's events move it. Absent in a journey that
    /// runs once per customer, and for an enrollment made by hand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// How the customer entered: `event:<type>`, `segment`, `api`, `csv`.
    pub source: String,
    /// The job whose run wrote this state (`seq:<n>`, `event:<id>`): delivered again, it
    /// hands the enrollment on again instead of deciding anew.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moved_by: Option<String>,
    /// Entered (UTC).
    #[schema(value_type = String)]
    pub entered_at: DateTime<Utc>,
    /// Ended (UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub ended_at: Option<DateTime<Utc>>,
    /// How it ended: the exit step's or stop rule's outcome, or `converted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// The goal reached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goal: Option<String>,
}

impl Enrollment {
    /// The stored item.
    pub fn to_item(&self) -> Result<Item, StoreError> {
        let customer: CustomerId = self
            .customer_id
            .parse()
            .map_err(|_| StoreError::invalid("enrollment with a malformed customer id"))?;
        let mut item = nhip_core::records::to_item(
            keys::enrollment(customer, &self.journey, &self.id),
            KIND,
            self,
        )?;
        // Its creation counts as entered (`stats::fold`, through the change feed).
        item.insert(
            nhip_ports::store::FEED.into(),
            crate::stats::FEED_CONSUMER.into(),
        );
        if self.status == EnrollmentStatus::Active {
            // Active enrollments of a journey, for staff lists (sparse: ended ones leave).
            item.insert(
                Index::Gsi3.pk_attr().into(),
                keys::journey_active(&self.journey, keys::shard_of(&self.id)).into(),
            );
            item.insert(
                Index::Gsi3.sk_attr().into(),
                format!("{}#{}", keys::instant(self.entered_at), self.id).into(),
            );
        }
        Ok(item)
    }

    /// From a stored item.
    pub fn from_item(item: Item) -> Result<Self, StoreError> {
        nhip_core::records::from_item(item, KIND)
    }

    pub(super) fn visit(&self, step: &str) -> u32 {
        self.anchors.visits.get(step).copied().unwrap_or(0)
    }

    /// Moves to `step`, to be run next.
    pub(super) fn enter(&mut self, step: &str, now: DateTime<Utc>) {
        self.step = step.to_owned();
        self.phase = Phase::Entering;
        self.wake_at = None;
        self.moved_at = now;
        self.anchors.step_entered.insert(step.to_owned(), now);
        *self.anchors.visits.entry(step.to_owned()).or_insert(0) += 1;
    }

    /// When the enrollment counts as started for its events: the trigger's instant when an
    /// event enrolled the customer (a goal reached while the trigger was queued counts), else
    /// its entry.
    pub fn started_at(&self) -> DateTime<Utc> {
        self.anchors.enrolled_at.min(self.entered_at)
    }

    /// From when events count for the step it is at (see `awake_since`).
    pub(super) fn listening_since(&self) -> DateTime<Utc> {
        self.awake_since.unwrap_or(self.moved_at).min(self.moved_at)
    }

    pub(super) fn job(&self) -> StepJob {
        StepJob {
            customer_id: self.customer_id.clone(),
            journey: self.journey.clone(),
            enrollment_id: self.id.clone(),
            seq: Some(self.seq),
            event: None,
        }
    }
}

/// The enrollment id of `customer` in `version` of `journey`, for what enrolled them (a cause
/// such as `event:<source>#<id>`, `segment:<instant>`, `api:<user>:<request key>`): 128 bits of
/// SHA-256, in ULID form. One cause often enrolls many customers (a CSV, a segment run), so the
/// customer is part of the id: each gets an enrollment of their own, and the same cause for the
/// same customer finds the same one.
pub fn enrollment_id(journey: &str, version: u32, customer: CustomerId, cause: &str) -> String {
    nhip_messaging::model::message_id_for(&format!(
        "enroll#{journey}#v{version}#{customer}#{cause}"
    ))
}

/// How a customer enters: the enrollment's id and what it starts with.
#[derive(Debug, Clone, PartialEq)]
pub struct Start {
    /// The enrollment id ([`enrollment_id`]).
    pub id: String,
    /// `event:<type>`, `segment`, `api`, `csv`.
    pub source: String,
    /// The data of the event that enrolled the customer.
    pub trigger: Value,
    /// The holding the enrollment is about.
    pub holding: Value,
    /// The subject, in a journey that runs once per subject ([`Enrollment::subject`]).
    pub subject: Option<String>,
    /// When what enrolled the customer happened (the trigger event's instant; now otherwise).
    pub since: DateTime<Utc>,
}

/// A new enrollment of `customer` at the start of `version`.
pub fn new_enrollment(
    version: &JourneyVersion,
    customer: CustomerId,
    start: Start,
    now: DateTime<Utc>,
) -> Enrollment {
    let first = version.definition.start.clone();
    // An event trigger's instant (never later than now): events from then on count.
    let since = start.since.min(now);
    let mut enrollment = Enrollment {
        id: start.id,
        journey: version.key.clone(),
        journey_version: version.number,
        customer_id: customer.to_string(),
        status: EnrollmentStatus::Active,
        step: first.clone(),
        phase: Phase::Entering,
        seq: 0,
        wake_at: None,
        moved_at: now,
        awake_since: Some(since),
        anchors: Anchors::new(since),
        messages: BTreeMap::new(),
        holding: start.holding,
        trigger: start.trigger,
        subject: start.subject,
        source: start.source,
        moved_by: None,
        entered_at: now,
        ended_at: None,
        outcome: None,
        goal: None,
    };
    enrollment.enter(&first, now);
    enrollment
}

/// Every enrollment of a customer (active and ended), read from its partition.
pub async fn of_customer(
    deps: &Deps,
    customer: CustomerId,
    journey: Option<&str>,
) -> Result<Vec<Enrollment>, StoreError> {
    let prefix = match journey {
        Some(journey) => format!("{}{journey}#", keys::ENROLLMENT_PREFIX),
        None => keys::ENROLLMENT_PREFIX.to_owned(),
    };
    let items = nhip_core::records::read_partition(
        &*deps.store,
        Index::Primary,
        &keys::customer_pk(customer),
        Some(&prefix),
    )
    .await?;
    items.into_iter().map(Enrollment::from_item).collect()
}

/// Pages of one shard of a journey's active list read for one answer.
const MAX_PAGES_PER_SHARD: usize = 10;

/// The newest `limit` active enrollments of `journey` that `principal` may see: an admin sees
/// all, anyone else those of the customers in their scope. The list is sharded
/// ([`keys::JOURNEY_ACTIVE_SHARDS`]); each shard is read newest first, on (a bounded number of
/// pages) until it has `limit` visible ones or ends, and the pages are merged.
pub async fn active_of_journey(
    deps: &Deps,
    principal: &Principal,
    journey: &str,
    limit: u32,
) -> Result<Vec<Enrollment>, StoreError> {
    let mut items = Vec::new();
    for shard in 0..keys::JOURNEY_ACTIVE_SHARDS {
        let mut cursor = None;
        let mut kept = 0;
        for _ in 0..MAX_PAGES_PER_SHARD {
            let found = deps
                .store
                .query(
                    Query::partition(Index::Gsi3, keys::journey_active(journey, shard))
                        .descending()
                        .limit(limit)
                        .after(cursor.take()),
                )
                .await?;
            let page = found
                .items
                .into_iter()
                .map(Enrollment::from_item)
                .collect::<Result<Vec<_>, _>>()?;
            let page = visible(deps, principal, page).await?;
            kept += page.len();
            items.extend(page);
            match found.next {
                Some(next) if kept < limit as usize => cursor = Some(next),
                _ => break,
            }
        }
    }
    items.sort_by_key(|e| std::cmp::Reverse((e.entered_at, e.id.clone())));
    items.truncate(limit as usize);
    Ok(items)
}

/// The enrollments of `page` whose customers `principal` may see.
async fn visible(
    deps: &Deps,
    principal: &Principal,
    page: Vec<Enrollment>,
) -> Result<Vec<Enrollment>, StoreError> {
    if principal.is_admin() {
        return Ok(page);
    }
    let seen = nhip_crm::customers::list::visible_ids(
        &*deps.store,
        principal,
        page.iter().filter_map(|e| e.customer_id.parse().ok()),
    )
    .await?;
    Ok(page
        .into_iter()
        .filter(|e| {
            e.customer_id
                .parse::<CustomerId>()
                .is_ok_and(|id| seen.contains(&id))
        })
        .collect())
}
