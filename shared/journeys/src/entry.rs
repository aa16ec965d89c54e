//! How customers enter journeys and how events reach the enrollments they concern.
//!
//! - [`enroll`]: one customer into the published version of a journey, subject to its
//!   re-entry rule, never twice at once (the `ENRON#<journey>` marker is created with the
//!   enrollment in one transaction). The enrollment id comes from what enrolled the customer
//!   (the event, the segment run, the API request), so a repeated trigger finds the same one.
//!   A journey that runs once per subject (`trigger.per`: an instalment plan, a contract) does
//!   all of this per customer and subject: the marker, the queue and the re-entry rule are the
//!   subject's, so two plans of one customer each have their enrollment.
//! - [`enroll_many`]: customers staff enroll by hand (a list or a CSV file, [`HandEntry`]), all
//!   recognised before anyone is enrolled; [`EnrollError`] says why nobody was.
//! - [`route_event`]: called by the events consumer for every event about a customer. Events
//!   the customer's active enrollments react to (goals, stops, what a waiting step waits for)
//!   become step jobs at once; then the published journeys the event type starts (`JTRIG#`)
//!   enroll the customer.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use nhip_domain::event::DomainEvent;
use nhip_domain::ids::CustomerId;
use nhip_domain::journey::{Facts, Journey, Reentry, Trigger};
use serde::Serialize;
use serde_json::{Value, json};

use crate::definitions::{self, JourneyVersion};
use crate::engine::{self, EnrollmentStatus};
use nhip_core::deps::Deps;
use nhip_core::keys;
use nhip_core::scheduler::{JobEvent, StepJob};
use nhip_crm::events_api::{CustomerRef, Resolve, resolve};
use nhip_ports::store::{Condition, Index, Key, Query, SortKey, StoreError, WriteOp};

/// What became of an attempt to enroll a customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum EnrollOutcome {
    /// A new enrollment.
    Enrolled {
        /// Its id.
        enrollment_id: String,
    },
    /// The same trigger enrolled the customer before (a repeated delivery).
    Duplicate {
        /// The enrollment it made.
        enrollment_id: String,
    },
    /// The customer is in this journey now (and the entry cannot wait: it came from the API or a
    /// segment, which say so to their caller, or the journey is entered once ever).
    AlreadyActive,
    /// The customer is in this journey now: a journey runs once per customer at a time, so this
    /// entry waits and starts when that enrollment ends (the re-entry rule applies then).
    Queued {
        /// The enrollment it will make.
        enrollment_id: String,
    },
    /// The re-entry rule does not allow another enrollment yet (or ever).
    ReentryNotAllowed,
    /// The trigger's condition does not hold for this event and customer.
    ConditionNotMet,
    /// No such customer (or erased).
    NoCustomer,
}

impl EnrollOutcome {
    /// The wire name of the result (its `result` field).
    pub fn result(&self) -> &'static str {
        match self {
            EnrollOutcome::Enrolled { .. } => "enrolled",
            EnrollOutcome::Duplicate { .. } => "duplicate",
            EnrollOutcome::AlreadyActive => "already_active",
            EnrollOutcome::Queued { .. } => "queued",
            EnrollOutcome::ReentryNotAllowed => "reentry_not_allowed",
            EnrollOutcome::ConditionNotMet => "condition_not_met",
            EnrollOutcome::NoCustomer => "no_customer",
        }
    }
}

/// What enrolls a customer.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry<'a> {
    /// A stable description of what enrolled the customer (`event:<source>#<id>`,
    /// `api:<user>:<request key>`, `segment:<run>`): the same cause finds the same enrollment.
    pub cause: &'a str,
    /// How: `event:<type>`, `segment`, `api`, `csv`.
    pub source: &'a str,
    /// The trigger event's data.
    pub trigger: Value,
    /// The holding the enrollment is about.
    pub holding: Value,
    /// The subject, in a journey that runs once per subject (the value of the trigger event's
    /// `data.<per>`); `None` otherwise, and for entries made by hand.
    pub subject: Option<String>,
    /// When the trigger happened; now when absent.
    pub since: Option<DateTime<Utc>>,
}

/// Enrolls `customer` in `version` of its journey. A journey runs once per customer at a time:
/// an event that would enroll a customer already in it is queued ([`EnrollOutcome::Queued`])
/// and starts when the running enrollment ends; the API and segments are told
/// [`EnrollOutcome::AlreadyActive`] instead.
pub async fn enroll(
    deps: &Deps,
    version: &JourneyVersion,
    customer: CustomerId,
    entry: Entry<'_>,
) -> Result<EnrollOutcome, StoreError> {
    enroll_or_queue(deps, version, customer, entry, true).await
}

/// Most customers enrolled by hand at once.
pub const MAX_ENROLL: usize = 1000;

/// How staff enrolled customers by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandSource {
    /// A list through the API.
    Api,
    /// A CSV file.
    Csv,
}

impl HandSource {
    /// The enrollments' `source`.
    pub fn as_str(self) -> &'static str {
        match self {
            HandSource::Api => "api",
            HandSource::Csv => "csv",
        }
    }
}

/// Customers staff enroll by hand: 1 to [`MAX_ENROLL`] of them.
#[derive(Debug)]
pub struct HandEntry {
    customers: Vec<CustomerRef>,
    request_key: String,
    holding: Value,
    source: HandSource,
}

impl HandEntry {
    /// `customers` (each by id, phone, e-mail or CCCD) sent as `source` under `request_key`
    /// (the same key enrolls nobody twice), about `holding` (`null` when none).
    pub fn new(
        customers: Vec<CustomerRef>,
        request_key: String,
        holding: Value,
        source: HandSource,
    ) -> Result<Self, EnrollError> {
        if customers.is_empty() || customers.len() > MAX_ENROLL {
            return Err(EnrollError::CustomerCount(customers.len()));
        }
        Ok(HandEntry {
            customers,
            request_key,
            holding,
            source,
        })
    }
}

/// Why customers enrolled by hand were not: nobody was.
#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    /// Fewer than one customer, or more than [`MAX_ENROLL`].
    #[error("1 to {MAX_ENROLL} customers are enrolled at a time, not {0}")]
    CustomerCount(usize),
    /// No such journey (or its published version is gone).
    #[error("no journey {0:?}")]
    JourneyNotFound(String),
    /// The journey has no published version yet.
    #[error("journey {0:?} is not published")]
    NotPublished(String),
    /// Customers not recognised, by field (`customers.<i>`, `customers.<i>.<field>`), in
    /// Vietnamese.
    #[error("customers not recognised: {0:?}")]
    Unrecognised(BTreeMap<String, String>),
    /// The store failed.
    #[error("the store failed")]
    Store(#[from] StoreError),
}

/// Enrolls the customers of `entry` in the published version of `journey` for staff member
/// `user`. Every customer is recognised first: when one is not, nobody is enrolled. Each
/// customer's outcome, in request order; the enrollments' cause is
/// `<source>:<user>:<request key>`, so the same request enrolls nobody twice.
pub async fn enroll_many(
    deps: &Deps,
    journey: &str,
    user: &str,
    entry: HandEntry,
) -> Result<Vec<(CustomerId, EnrollOutcome)>, EnrollError> {
    let version = published(deps, journey).await?;
    let mut problems = BTreeMap::new();
    let mut customers = Vec::with_capacity(entry.customers.len());
    for (i, reference) in entry.customers.iter().enumerate() {
        match resolve(deps, reference).await {
            Ok(Some(id)) => customers.push(id),
            Ok(None) => {
                problems.insert(
                    format!("customers.{i}"),
                    "Không tìm thấy khách hàng này.".to_owned(),
                );
            }
            Err(Resolve::Invalid(field, message)) => {
                problems.insert(format!("customers.{i}.{field}"), message);
            }
            Err(Resolve::Store(error)) => return Err(error.into()),
        }
    }
    if !problems.is_empty() {
        return Err(EnrollError::Unrecognised(problems));
    }
    let source = entry.source.as_str();
    let cause = format!("{source}:{user}:{}", entry.request_key);
    let mut outcomes = Vec::with_capacity(customers.len());
    for customer in customers {
        let outcome = enroll(
            deps,
            &version,
            customer,
            Entry {
                cause: &cause,
                source,
                trigger: Value::Null,
                holding: entry.holding.clone(),
                subject: None,
                since: None,
            },
        )
        .await?;
        outcomes.push((customer, outcome));
    }
    Ok(outcomes)
}

/// The published version of `journey`.
async fn published(deps: &Deps, journey: &str) -> Result<JourneyVersion, EnrollError> {
    let not_found = || EnrollError::JourneyNotFound(journey.to_owned());
    let meta = definitions::meta(deps, journey)
        .await?
        .ok_or_else(not_found)?;
    let number = meta
        .published_version
        .ok_or_else(|| EnrollError::NotPublished(journey.to_owned()))?;
    definitions::version(deps, journey, number)
        .await?
        .ok_or_else(not_found)
}

async fn enroll_or_queue(
    deps: &Deps,
    version: &JourneyVersion,
    customer: CustomerId,
    entry: Entry<'_>,
    may_queue: bool,
) -> Result<EnrollOutcome, StoreError> {
    let queueable = may_queue
        && entry.source.starts_with("event:")
        && !matches!(version.definition.reentry, Reentry::Once);
    let waiting = queueable.then(|| entry.clone());
    let Entry {
        cause,
        source,
        trigger,
        holding,
        subject,
        since,
    } = entry;
    let now = deps.clock.now();
    let journey = &version.definition;
    let id = engine::enrollment_id(&version.key, version.number, customer, cause);
    let mut previous = engine::of_customer(deps, customer, Some(&version.key)).await?;
    if let Some(same) = previous.iter().find(|e| e.id == id) {
        // A repeated trigger: hand the enrollment on again in case the first delivery stopped
        // between writing it and queueing its first step.
        if same.seq == 0 {
            engine::hand_on(deps, same).await?;
        }
        return Ok(EnrollOutcome::Duplicate { enrollment_id: id });
    }
    // A journey run once per subject is, for each subject, what a journey is for a customer.
    previous.retain(|e| e.subject == subject);
    if previous
        .iter()
        .any(|e| e.status == EnrollmentStatus::Active)
    {
        return match waiting {
            Some(entry) => queue_entry(deps, version, customer, &id, entry).await,
            None => Ok(EnrollOutcome::AlreadyActive),
        };
    }
    let starts: Vec<DateTime<Utc>> = previous.iter().map(|e| e.entered_at).collect();
    if !journey.reentry.allows(&starts, now) {
        return Ok(EnrollOutcome::ReentryNotAllowed);
    }
    match nhip_crm::customers::repo::get(&*deps.store, customer).await? {
        Some(c) if c.erased_at.is_none() => {}
        _ => return Ok(EnrollOutcome::NoCustomer),
    }
    let enrollment = engine::new_enrollment(
        version,
        customer,
        engine::Start {
            id: id.clone(),
            source: source.to_owned(),
            trigger,
            holding,
            subject: subject.clone(),
            since: since.unwrap_or(now),
        },
        now,
    );
    let mut guard = keys::enrollment_guard(customer, &version.key, subject.as_deref()).to_item();
    guard.insert("kind".into(), "enrollment_guard".into());
    guard.insert("enrollment_id".into(), id.clone().into());
    let result = deps
        .store
        .transact(vec![
            WriteOp::Put {
                item: guard,
                condition: Condition::NotExists,
            },
            WriteOp::Put {
                item: enrollment.to_item()?,
                condition: Condition::NotExists,
            },
        ])
        .await;
    match result {
        Ok(()) => {}
        Err(StoreError::ConditionFailed { op: Some(1) }) => {
            return Ok(EnrollOutcome::Duplicate { enrollment_id: id });
        }
        Err(StoreError::ConditionFailed { .. }) => {
            return match waiting {
                Some(entry) => queue_entry(deps, version, customer, &id, entry).await,
                None => Ok(EnrollOutcome::AlreadyActive),
            };
        }
        Err(other) => return Err(other),
    }
    let mut event = DomainEvent {
        id: format!("enr-{id}-start"),
        source: nhip_core::events::NHIP_SOURCE.into(),
        kind: nhip_core::event_types::JOURNEY_ENTERED.into(),
        customer_id: Some(customer),
        occurred_at: now,
        data: json!({
            "journey": version.key,
            "journey_name": journey.name,
            "journey_version": version.number,
            "enrollment_id": id,
            "source": source,
        }),
    };
    if let Some(subject) = &subject {
        event.data["subject"] = subject.clone().into();
    }
    if let Err(error) = nhip_core::events::publish(deps, &[event]).await {
        tracing::warn!(%error, "journey.entered not published");
    }
    engine::hand_on(deps, &enrollment).await?;
    Ok(EnrollOutcome::Enrolled { enrollment_id: id })
}

/// Kind attribute of a queued entry ([`keys::queued_entry`]).
const QUEUED_ENTRY_KIND: &str = "queued_entry";

/// Keeps an entry that found the customer already in the journey, to start when that
/// enrollment ends. If it ended meanwhile (its end found no queue), the entry starts now.
async fn queue_entry(
    deps: &Deps,
    version: &JourneyVersion,
    customer: CustomerId,
    id: &str,
    entry: Entry<'_>,
) -> Result<EnrollOutcome, StoreError> {
    let now = deps.clock.now();
    let at = entry.since.unwrap_or(now);
    let subject = entry.subject.clone();
    let mut item = keys::queued_entry(customer, &version.key, subject.as_deref(), at, id).to_item();
    for (name, value) in [
        ("kind", Value::from(QUEUED_ENTRY_KIND)),
        ("journey", version.key.clone().into()),
        ("version", version.number.into()),
        ("enrollment_id", id.into()),
        ("cause", entry.cause.into()),
        ("source", entry.source.into()),
        ("trigger", entry.trigger),
        ("holding", entry.holding),
        ("subject", entry.subject.map_or(Value::Null, Value::from)),
        ("occurred_at", keys::instant(at).into()),
        ("queued_at", keys::instant(now).into()),
    ] {
        item.insert(name.into(), value);
    }
    match deps.store.put(item, Condition::NotExists).await {
        Ok(()) | Err(StoreError::ConditionFailed { .. }) => {}
        Err(other) => return Err(other),
    }
    tracing::info!(journey = %version.key, enrollment_id = id, "entry queued behind the active enrollment");
    if deps
        .store
        .get(&keys::enrollment_guard(
            customer,
            &version.key,
            subject.as_deref(),
        ))
        .await?
        .is_none()
    {
        start_queued(deps, customer, &version.key, subject.as_deref()).await?;
    }
    Ok(EnrollOutcome::Queued {
        enrollment_id: id.to_owned(),
    })
}

/// Starts the oldest entry waiting in `journey` for `customer` (about `subject`, in a journey
/// that runs once per subject), now that nobody is in it: the entry is deleted once it enrolled
/// the customer, or once the journey refuses it (its re-entry rule, its condition, an
/// unpublished version), and the next one is tried. Safe to run twice at once: the enrollment
/// id comes from the entry's cause and the marker admits one.
pub async fn start_queued(
    deps: &Deps,
    customer: CustomerId,
    journey: &str,
    subject: Option<&str>,
) -> Result<(), StoreError> {
    // A bound, so a long queue of refused entries cannot hold the caller: the rest start at the
    // next enrollment's end.
    for _ in 0..10 {
        let page = deps
            .store
            .query(
                Query::partition(Index::Primary, keys::customer_pk(customer))
                    .sk(SortKey::BeginsWith(keys::queued_entries_prefix(
                        journey, subject,
                    )))
                    .limit(1),
            )
            .await?;
        let Some(item) = page.items.into_iter().next() else {
            return Ok(());
        };
        let Some(key) = Key::of(&item) else {
            return Ok(());
        };
        let text = |name: &str| item.get(name).and_then(Value::as_str).unwrap_or_default();
        let number = item
            .get("version")
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or_default();
        let outcome = match definitions::cached_version(deps, journey, number).await? {
            Some(version) => Some(
                Box::pin(enroll_or_queue(
                    deps,
                    &version,
                    customer,
                    Entry {
                        cause: text("cause"),
                        source: text("source"),
                        trigger: item.get("trigger").cloned().unwrap_or_default(),
                        holding: item.get("holding").cloned().unwrap_or_default(),
                        subject: subject.map(str::to_owned),
                        // The wait was the journey's rule, not the customer's: the journey
                        // starts from now, its waits counted from its own entry.
                        since: None,
                    },
                    false,
                ))
                .await?,
            ),
            None => None,
        };
        match &outcome {
            // Someone else's entry got in first: this one waits for that enrollment's end.
            Some(EnrollOutcome::AlreadyActive) => return Ok(()),
            Some(EnrollOutcome::Enrolled { .. } | EnrollOutcome::Duplicate { .. }) => {}
            refused => tracing::warn!(
                journey,
                enrollment_id = text("enrollment_id"),
                outcome = ?refused,
                "queued entry refused by the journey when its turn came"
            ),
        }
        match deps.store.delete(&key, Condition::Always).await {
            Ok(()) | Err(StoreError::ConditionFailed { .. }) => {}
            Err(other) => return Err(other),
        }
        if matches!(
            outcome,
            Some(EnrollOutcome::Enrolled { .. } | EnrollOutcome::Duplicate { .. })
        ) {
            return Ok(());
        }
    }
    Ok(())
}

/// Routes an event about a customer: to the customer's active enrollments that react to its
/// type, then into the journeys it starts. Returns the number of enrollments it reached and
/// the number it started.
pub async fn route_event(deps: &Deps, event: &DomainEvent) -> Result<(usize, usize), StoreError> {
    let Some(customer) = event.customer_id else {
        return Ok((0, 0));
    };
    let mut jobs = Vec::new();
    for enrollment in engine::of_customer(deps, customer, None).await? {
        if enrollment.status != EnrollmentStatus::Active
            || event.occurred_at < enrollment.started_at()
        {
            continue;
        }
        let Some(version) =
            definitions::cached_version(deps, &enrollment.journey, enrollment.journey_version)
                .await?
        else {
            continue;
        };
        if version
            .definition
            .event_types()
            .contains(event.kind.as_str())
        {
            jobs.push(StepJob {
                customer_id: enrollment.customer_id.clone(),
                journey: enrollment.journey.clone(),
                enrollment_id: enrollment.id.clone(),
                seq: None,
                event: Some(JobEvent::of(event)),
            });
        }
    }
    let reached = jobs.len();
    if !jobs.is_empty() {
        engine::enqueue(deps, &jobs)
            .await
            .map_err(StoreError::unavailable)?;
    }
    let mut started = 0;
    let triggers = deps
        .store
        .query(Query::partition(
            Index::Primary,
            keys::journey_trigger(&event.kind, "").pk,
        ))
        .await?;
    for item in triggers.items {
        let (Some(key), Some(number)) = (
            item.get("journey").and_then(Value::as_str),
            item.get("version")
                .and_then(Value::as_u64)
                .and_then(|n| u32::try_from(n).ok()),
        ) else {
            continue;
        };
        let Some(version) = definitions::cached_version(deps, key, number).await? else {
            continue;
        };
        if !trigger_holds(deps, &version.definition, customer, event).await? {
            continue;
        }
        let subject = version.definition.subject_of(&event.data);
        if let Some(per) = version.definition.per()
            && subject.is_none()
        {
            // Once per subject, and this event names none: it cannot say which enrollment it
            // would be, so it makes none.
            tracing::warn!(journey = key, per, event_id = %event.id, "trigger event names no subject: nobody enrolled");
            continue;
        }
        let holding = event.data.get("holding").cloned().unwrap_or(Value::Null);
        let outcome = enroll(
            deps,
            &version,
            customer,
            Entry {
                cause: &format!("event:{}#{}", event.source, event.id),
                source: &format!("event:{}", event.kind),
                trigger: event.data.clone(),
                holding,
                subject,
                since: Some(event.occurred_at),
            },
        )
        .await?;
        if matches!(outcome, EnrollOutcome::Enrolled { .. }) {
            started += 1;
        }
    }
    Ok((reached, started))
}

/// Whether an event trigger's `when` holds for this event and customer.
async fn trigger_holds(
    deps: &Deps,
    journey: &Journey,
    customer: CustomerId,
    event: &DomainEvent,
) -> Result<bool, StoreError> {
    let Trigger::Event {
        event: kind, when, ..
    } = &journey.trigger
    else {
        return Ok(false);
    };
    if *kind != event.kind {
        return Ok(false);
    }
    let Some(when) = when else {
        return Ok(true);
    };
    let Some(found) = nhip_crm::customers::repo::get(&*deps.store, customer).await? else {
        return Ok(false);
    };
    let view =
        nhip_messaging::templates::merge_data(deps, &found, &Default::default(), None).customer;
    let now = deps.clock.now();
    let facts = Facts {
        customer: view,
        holding: event.data.get("holding").cloned().unwrap_or(Value::Null),
        event: event.data.clone(),
        enrolled_at: now,
    };
    // The history is read only when the condition looks at it.
    let history = if engine::needs_history(when) {
        engine::events_since(deps, customer, now - chrono::Duration::days(90), 500).await?
    } else {
        Vec::new()
    };
    Ok(when.holds(
        &facts,
        &history,
        now,
        &nhip_domain::journey::Anchors::new(now),
    ))
}

/// Customers one segment evaluation enrolls at most; the rest wait for the next evaluation.
pub const SEGMENT_RUN_LIMIT: u32 = 10_000;
/// Customer-list pages (of 100) one due item of an evaluation reads; the evaluation goes on in
/// a follow-up item, so a tick never spends long on one segment.
pub const SEGMENT_PAGES_PER_ITEM: usize = 3;

use crate::definitions::{SegmentProgress, schedule_segment, schedule_segment_part};

/// Part of one evaluation of a segment trigger: while `number` is still the published version,
/// the customers the filter (resolved at `at`) finds are offered to [`enroll`] (the re-entry
/// rule decides), [`SEGMENT_PAGES_PER_ITEM`] pages at a time. A follow-up item goes on where
/// this one stopped; the last schedules the next evaluation `every` after `at`. Running a part
/// again (a retried tick) enrolls nobody twice: the cause is the evaluation's instant.
pub async fn run_segment(
    deps: &Deps,
    key: &str,
    number: u32,
    at: DateTime<Utc>,
    progress: SegmentProgress,
) -> Result<(), StoreError> {
    let Some(meta) = definitions::meta(deps, key).await? else {
        return Ok(());
    };
    if meta.published_version != Some(number) {
        // Another version took over; its own evaluations run.
        return Ok(());
    }
    let Some(version) = definitions::version(deps, key, number).await? else {
        return Ok(());
    };
    let Trigger::Segment { filter, every } = &version.definition.trigger else {
        return Ok(());
    };
    let now = deps.clock.now();
    let mut filters: nhip_crm::customers::list::Filters =
        serde_json::from_value(serde_json::to_value(filter.resolve(at)).unwrap_or_default())
            .map_err(|e| StoreError::invalid(format!("segment filter: {e}")))?;
    filters.limit = Some(nhip_crm::customers::list::MAX_LIMIT);
    filters.cursor = progress.cursor.clone();
    let system = nhip_core::auth::Principal::new("nhip", nhip_core::auth::Role::Admin, None);
    let cause = format!("segment:{}", keys::instant(at));
    let mut seen = progress.seen;
    let mut enrolled = 0;
    let mut next_cursor = None;
    for _ in 0..SEGMENT_PAGES_PER_ITEM {
        let page = nhip_crm::customers::list::list(&*deps.store, &system, &filters)
            .await
            .map_err(|e| match e {
                nhip_crm::customers::list::ListError::Store(error) => error,
                other => StoreError::invalid(format!("segment filter: {other}")),
            })?;
        for customer in &page.customers {
            seen += 1;
            let outcome = enroll(
                deps,
                &version,
                customer.id,
                Entry {
                    cause: &cause,
                    source: "segment",
                    trigger: Value::Null,
                    holding: Value::Null,
                    subject: None,
                    since: None,
                },
            )
            .await?;
            if matches!(outcome, EnrollOutcome::Enrolled { .. }) {
                enrolled += 1;
            }
        }
        next_cursor = page.next_cursor.filter(|_| seen < SEGMENT_RUN_LIMIT);
        match &next_cursor {
            Some(next) => filters.cursor = Some(next.clone()),
            None => break,
        }
    }
    tracing::info!(
        journey = key,
        version = number,
        seen,
        enrolled,
        "segment evaluated"
    );
    let op = match next_cursor {
        // More to read: a follow-up item, due just after this tick's range.
        Some(cursor) => schedule_segment_part(
            &version,
            at,
            SegmentProgress {
                cursor: Some(cursor),
                seen,
            },
            now + chrono::Duration::seconds(1),
            now,
        ),
        None => schedule_segment(&version, at + every.to_delta(), now),
    };
    if let Some(WriteOp::Put { item, condition }) = op {
        match deps.store.put(item, condition).await {
            Ok(()) | Err(StoreError::ConditionFailed { .. }) => {}
            Err(other) => return Err(other),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outcome_names_its_result_as_it_is_written() {
        let id = || "01J0000000000000000000000".to_owned();
        for outcome in [
            EnrollOutcome::Enrolled {
                enrollment_id: id(),
            },
            EnrollOutcome::Duplicate {
                enrollment_id: id(),
            },
            EnrollOutcome::AlreadyActive,
            EnrollOutcome::Queued {
                enrollment_id: id(),
            },
            EnrollOutcome::ReentryNotAllowed,
            EnrollOutcome::ConditionNotMet,
            EnrollOutcome::NoCustomer,
        ] {
            let written = serde_json::to_value(&outcome).unwrap();
            assert_eq!(written["result"], outcome.result(), "{outcome:?}");
        }
    }

    #[test]
    fn a_hand_entry_takes_one_to_a_thousand_customers() {
        let refs = |n: usize| (0..n).map(|_| CustomerRef::default()).collect::<Vec<_>>();
        let entry = |n| HandEntry::new(refs(n), "k".into(), Value::Null, HandSource::Api);
        assert!(matches!(entry(0), Err(EnrollError::CustomerCount(0))));
        assert!(entry(1).is_ok());
        assert!(entry(MAX_ENROLL).is_ok());
        assert!(matches!(
            entry(MAX_ENROLL + 1),
            Err(EnrollError::CustomerCount(1001))
        ));
    }
}
