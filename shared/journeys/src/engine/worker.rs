//! The journey worker: reads a step job's enrollment, records the decision in the step
//! record before any side effect, performs the step, writes the enrollment under its `seq`
//! condition and hands it on; with the end of an enrollment, the release of its
//! `ENRON#<journey>` marker and the events it publishes (`journey.step`, the end).

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::{DateTime, Utc};
use nhip_domain::event::DomainEvent;
use nhip_domain::ids::{CustomerId, DueWorkId};
use nhip_domain::journey::{Journey, Step};
use serde_json::{Value, json};
use tracing::instrument;

use super::decision::{Context, Decision, StoreLookups};
use super::effects::effects;
use super::enrollment::{Enrollment, EnrollmentStatus, Phase};
use crate::definitions;
use crate::stats;
use nhip_core::consumer::{Failure, process_batch};
use nhip_core::deps::Deps;
use nhip_core::keys;
use nhip_core::scheduler::{self, StepJob, Work};
use nhip_crm::customers::repo;
use nhip_ports::queue::QueueError;
use nhip_ports::store::{Condition as StoreCondition, Item, Key, StoreError};

/// Kind attribute of step records.
pub const STEP_KIND: &str = "journey_step";
/// How long step records are kept (epoch-seconds TTL): a little over a year.
const STEP_RECORD_DAYS: i64 = 400;

/// Puts step jobs on the `steps` queue (batches of 10).
pub async fn enqueue(deps: &Deps, jobs: &[StepJob]) -> Result<(), QueueError> {
    nhip_ports::queue::send_json(&*deps.queues.steps, jobs, "journey_step").await
}

/// Handles one batch from the `steps` queue (the `journey-worker` function).
#[instrument(skip_all, fields(records = event.records.len()))]
pub async fn handle_batch(deps: &Deps, event: SqsEvent) -> SqsBatchResponse {
    process_batch(event, |record| handle_record(deps, record)).await
}

async fn handle_record(deps: &Deps, record: SqsMessage) -> Result<(), Failure> {
    let body = record.body.as_deref().unwrap_or_default();
    let job: StepJob = match serde_json::from_str(body) {
        Ok(job) => job,
        Err(error) => {
            tracing::warn!(%error, "step job is malformed");
            return Err(Failure::Poison);
        }
    };
    match run(deps, &job).await {
        Ok(outcome) => {
            tracing::debug!(journey = %job.journey, enrollment = %job.enrollment_id, ?outcome, "step job");
            Ok(())
        }
        Err(error) => {
            tracing::warn!(%error, journey = %job.journey, enrollment = %job.enrollment_id, "step failed");
            Err(if error.is_retryable() {
                Failure::Retryable
            } else {
                Failure::Poison
            })
        }
    }
}

/// What one job did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// The enrollment moved (to `step`, or ended).
    Moved {
        /// Where it is now.
        step: String,
        /// Its phase now.
        phase: Phase,
    },
    /// Already done by an earlier delivery: handed on again.
    HandedOnAgain,
    /// Nothing to do (stale job, ended enrollment, an event the step ignores, not yet due).
    Nothing,
    /// Another worker moved it meanwhile.
    Raced,
}

/// Steps one job runs one after another before it hands the enrollment on through the queue:
/// the steps between two waits cost one read, and a journey whose steps never wait still
/// frees its worker after this many.
pub const CHAIN: usize = 8;

/// What names a job on the enrollment it moved (`seq:<n>`, `event:<id>`).
fn token(job: &StepJob) -> String {
    match (&job.event, job.seq) {
        (Some(event), _) => format!("event:{}", event.id),
        (None, Some(seq)) => format!("seq:{seq}"),
        (None, None) => "job".to_owned(),
    }
}

/// Runs one step job: the step it names and the ones after it that need no wait (up to
/// [`CHAIN`]), each decided and recorded in its step record, then the enrollment written once
/// under its `seq` condition and handed on.
pub async fn run(deps: &Deps, job: &StepJob) -> Result<JobOutcome, StoreError> {
    let Ok(customer_id) = job.customer_id.parse::<CustomerId>() else {
        return Err(StoreError::invalid("step job with a malformed customer id"));
    };
    let key = keys::enrollment(customer_id, &job.journey, &job.enrollment_id);
    let Some(item) = deps.store.get(&key).await? else {
        // Erased with its customer.
        return Ok(JobOutcome::Nothing);
    };
    let enrollment = Enrollment::from_item(item)?;
    if enrollment.status != EnrollmentStatus::Active {
        // Ended: a redelivery after a crash between the end and its marker's release
        // releases it now (conditional on this enrollment, so harmless otherwise).
        release_guard(deps, &enrollment).await?;
        return Ok(JobOutcome::Nothing);
    }
    let token = token(job);
    if enrollment.moved_by.as_deref() == Some(token.as_str())
        || (enrollment.moved_by.is_none() && job.seq.is_some_and(|s| s + 1 == enrollment.seq))
    {
        // This job's run wrote the enrollment; delivered again, it may have stopped before the
        // hand-on (the second rule: enrollments written before `moved_by` was kept).
        hand_on(deps, &enrollment).await?;
        return Ok(JobOutcome::HandedOnAgain);
    }
    if job.seq.is_some_and(|seq| seq != enrollment.seq) {
        return Ok(JobOutcome::Nothing);
    }
    let Some(version) =
        definitions::cached_version(deps, &enrollment.journey, enrollment.journey_version).await?
    else {
        return Err(StoreError::invalid(
            "enrollment on a journey version that does not exist",
        ));
    };
    let journey = &version.definition;
    let now = deps.clock.now();
    let mut current = enrollment.clone();
    let mut event = job.event.as_ref();
    let mut steps: Vec<(Enrollment, Decision)> = Vec::new();
    while steps.len() < CHAIN {
        // The customer a ticket, an update or a notification is about (`Some(None)`: gone).
        let customer = match needs_customer(journey, &current, event) {
            true => Some(customer_for(deps, customer_id).await?),
            false => None,
        };
        let gone = matches!(customer, Some(None));
        let Some(decision) = decide(deps, &current, journey, customer_id, event, gone, now).await?
        else {
            if steps.is_empty() {
                return Ok(JobOutcome::Nothing);
            }
            break;
        };
        let decision = match decision {
            Decided::Recorded(decision) => decision,
            Decided::Early => {
                // A wake-up that came early (the scheduler's clock ahead of this one's): its
                // due-work item is gone, so schedule it again.
                hand_on(deps, &current).await?;
                return Ok(JobOutcome::Nothing);
            }
        };
        let mut next = current.clone();
        if current.phase == Phase::Entering
            && event.is_none()
            && let Some(step) = journey.step(&current.step)
        {
            let customer = customer.flatten();
            effects(deps, &mut next, journey, step, customer.as_ref(), now).await?;
        }
        apply(&mut next, &decision, now);
        next.seq = current.seq + 1;
        steps.push((current, decision));
        current = next;
        event = None;
        if current.phase != Phase::Entering {
            break;
        }
    }
    commit(deps, &enrollment, current, token, &steps, now).await
}

/// What deciding one step gave.
enum Decided {
    /// Its decision, recorded (now, or by an earlier delivery of the same job).
    Recorded(Decision),
    /// A wake-up before its time.
    Early,
}

/// Decides the step `at` is at, for `event` or (none) its own job, and records the decision
/// in the step record before any side effect; a decision recorded before for the same job is
/// replayed. `None`: nothing to do (another job decided this step, or the step ignores it).
/// A step about a customer who is `gone` stops the enrollment.
async fn decide(
    deps: &Deps,
    at: &Enrollment,
    journey: &Journey,
    customer_id: CustomerId,
    event: Option<&nhip_core::scheduler::JobEvent>,
    gone: bool,
    now: DateTime<Utc>,
) -> Result<Option<Decided>, StoreError> {
    let record_key = keys::journey_step(customer_id, &at.id, at.seq);
    let event_id = event.map(|e| e.id.as_str());
    let decision = if gone {
        Decision::End {
            status: EnrollmentStatus::Stopped,
            outcome: "khach-hang-khong-con".into(),
            goal: None,
        }
    } else {
        let lookups = StoreLookups::new(deps, customer_id);
        Context::new(lookups, at, journey, now)
            .decide(event)
            .await?
    };
    if decision == Decision::Ignore {
        // A redelivery whose first delivery recorded a decision (and then failed before the
        // enrollment write) replays it, whatever the facts say now.
        if let Some(record) = deps.store.get(&record_key).await?
            && let Some(decision) = recorded(&record, event_id)?
        {
            return Ok(Some(Decided::Recorded(decision)));
        }
        let early = event.is_none()
            && at.phase == Phase::Waiting
            && at.wake_at.is_some_and(|wake| wake > now);
        return Ok(early.then_some(Decided::Early));
    }
    let mut after = at.clone();
    apply(&mut after, &decision, now);
    let mut record = record_key.to_item();
    record.insert("kind".into(), STEP_KIND.into());
    record.insert("enrollment_id".into(), at.id.clone().into());
    record.insert("journey".into(), at.journey.clone().into());
    record.insert("journey_version".into(), at.journey_version.into());
    record.insert("step".into(), at.step.clone().into());
    record.insert("seq".into(), at.seq.into());
    record.insert("at".into(), keys::instant(now).into());
    record.insert("event_id".into(), json!(event_id));
    record.insert("event_type".into(), json!(event.map(|e| &e.kind)));
    record.insert(
        "decision".into(),
        serde_json::to_value(&decision).expect("a decision serialises"),
    );
    // What the transition changes in the journey's counters, folded through the change feed.
    record.insert(
        "counts".into(),
        stats::counts_attribute(&stats::deltas(at, &after, journey)),
    );
    record.insert(nhip_ports::store::FEED.into(), stats::FEED_CONSUMER.into());
    record.insert(
        "ttl".into(),
        (now + chrono::Duration::days(STEP_RECORD_DAYS))
            .timestamp()
            .into(),
    );
    match deps.store.put(record, StoreCondition::NotExists).await {
        Ok(()) => Ok(Some(Decided::Recorded(decision))),
        Err(StoreError::ConditionFailed { .. }) => {
            // Decided before: by this job (a redelivery), whose decision is replayed as it
            // was, or by another (an event racing a timeout), which moves the enrollment: a
            // step job is then stale, an event is tried again later.
            let record = deps.store.get(&record_key).await?.unwrap_or_default();
            match recorded(&record, event_id)? {
                Some(decision) => Ok(Some(Decided::Recorded(decision))),
                None if event.is_some() => Err(StoreError::TransactionConflict),
                None => Ok(None),
            }
        }
        Err(other) => Err(other),
    }
}

/// Whether entering the step needs the customer (a ticket, an update, a notification).
fn needs_customer(
    journey: &Journey,
    at: &Enrollment,
    event: Option<&nhip_core::scheduler::JobEvent>,
) -> bool {
    at.phase == Phase::Entering
        && event.is_none()
        && matches!(
            journey.step(&at.step),
            Some(Step::Ticket { .. } | Step::Update { .. } | Step::Notify { .. })
        )
}

/// The customer (not erased) a ticket, an update or a notification step is about; sends need
/// none here, the pipeline reads the customer (and refuses an erased one).
async fn customer_for(
    deps: &Deps,
    customer_id: CustomerId,
) -> Result<Option<nhip_crm::customers::model::Customer>, StoreError> {
    Ok(repo::get(&*deps.store, customer_id)
        .await?
        .filter(|c| c.erased_at.is_none()))
}

/// The decision of a step record, if the record was written for the same job (the same
/// event, or no event).
fn recorded(record: &Item, event: Option<&str>) -> Result<Option<Decision>, StoreError> {
    if record.get("event_id").and_then(Value::as_str) != event {
        return Ok(None);
    }
    serde_json::from_value(record.get("decision").cloned().unwrap_or_default())
        .map(Some)
        .map_err(|e| StoreError::invalid(format!("step record: {e}")))
}

/// Writes the moved enrollment (once for the steps run) and hands on.
async fn commit(
    deps: &Deps,
    before: &Enrollment,
    mut after: Enrollment,
    token: String,
    steps: &[(Enrollment, Decision)],
    now: DateTime<Utc>,
) -> Result<JobOutcome, StoreError> {
    after.moved_by = Some(token);
    match deps
        .store
        .put(after.to_item()?, StoreCondition::version_is(before.seq))
        .await
    {
        Ok(()) => {}
        Err(StoreError::ConditionFailed { .. }) => return Ok(JobOutcome::Raced),
        Err(other) => return Err(other),
    }
    // What keeps the enrollment moving comes first; a redelivery after a crash here hands on
    // again (the job named in `moved_by`) or releases the marker (an ended enrollment).
    hand_on(deps, &after).await?;
    if after.status != EnrollmentStatus::Active {
        release_guard(deps, &after).await?;
        publish_end(deps, &after, now).await;
    }
    publish_steps(deps, steps, now).await;
    Ok(JobOutcome::Moved {
        step: after.step.clone(),
        phase: after.phase,
    })
}

/// Applies a decision to the enrollment.
fn apply(enrollment: &mut Enrollment, decision: &Decision, now: DateTime<Utc>) {
    match decision {
        Decision::Go {
            to, after_event, ..
        } => {
            if let Some(at) = after_event {
                // The event is used: the next wait listens from just after it.
                enrollment.awake_since = Some(*at + chrono::Duration::milliseconds(1));
            } else if enrollment.phase == Phase::Waiting {
                enrollment.awake_since = Some(now);
            }
            enrollment.enter(to, now);
        }
        Decision::Wait { until } => {
            enrollment.phase = Phase::Waiting;
            enrollment.wake_at = Some(*until);
        }
        Decision::End {
            status,
            outcome,
            goal,
        } => {
            enrollment.status = *status;
            enrollment.phase = Phase::Done;
            enrollment.wake_at = None;
            enrollment.ended_at = Some(now);
            enrollment.outcome = Some(outcome.clone());
            enrollment.goal = goal.clone();
        }
        Decision::Ignore => {}
    }
}

/// Hands an enrollment on from where it is: the job of a step to run, the due work of a wait.
/// Idempotent: a second job is dropped by its `seq`, a second due-work item is refused.
pub async fn hand_on(deps: &Deps, enrollment: &Enrollment) -> Result<(), StoreError> {
    match enrollment.phase {
        Phase::Entering => enqueue(deps, &[enrollment.job()])
            .await
            .map_err(StoreError::unavailable),
        Phase::Waiting => {
            let Some(until) = enrollment.wake_at else {
                return Ok(());
            };
            let id = wake_up_id(enrollment, until);
            let work = Work::JourneyStep {
                job: enrollment.job(),
            };
            let now = deps.clock.now();
            let nhip_ports::store::WriteOp::Put { item, condition } =
                scheduler::schedule(id, until, now, &work)
            else {
                unreachable!("schedule is a put");
            };
            let key = Key::of(&item);
            let ours = item.get("work").cloned();
            match deps.store.put(item, condition).await {
                Ok(()) => Ok(()),
                Err(StoreError::ConditionFailed { .. }) => {
                    // The id comes from the enrollment and its seq, so the item there is this
                    // very wake-up written before (a redelivery). Anything else would silently
                    // lose a customer's next step: fail loudly instead (retried, then the DLQ).
                    let existing = match &key {
                        Some(key) => deps.store.get(key).await?,
                        None => None,
                    };
                    match existing {
                        Some(found) if found.get("work") != ours.as_ref() => {
                            tracing::error!(
                                enrollment_id = %enrollment.id,
                                seq = enrollment.seq,
                                "wake-up id taken by other work"
                            );
                            Err(StoreError::invalid(format!(
                                "wake-up {} of enrollment {} collides with other due work",
                                id, enrollment.id
                            )))
                        }
                        _ => Ok(()),
                    }
                }
                Err(other) => Err(other),
            }
        }
        Phase::Done => Ok(()),
    }
}

/// The due-work id of an enrollment's wake-up, from the enrollment and its `seq`, so handing
/// on twice writes one item.
fn wake_up_id(enrollment: &Enrollment, until: DateTime<Utc>) -> DueWorkId {
    scheduler::derived_id(until, &format!("wake#{}#{}", enrollment.id, enrollment.seq))
}

async fn release_guard(deps: &Deps, enrollment: &Enrollment) -> Result<(), StoreError> {
    let Ok(customer) = enrollment.customer_id.parse::<CustomerId>() else {
        return Ok(());
    };
    match deps
        .store
        .delete(
            &keys::enrollment_guard(customer, &enrollment.journey, enrollment.subject.as_deref()),
            StoreCondition::Equals("enrollment_id".into(), enrollment.id.clone().into()),
        )
        .await
    {
        Ok(()) | Err(StoreError::ConditionFailed { .. }) => {}
        Err(other) => return Err(other),
    }
    // The customer (about this subject) may be let in again: an entry that waited for this one
    // starts now.
    crate::entry::start_queued(
        deps,
        customer,
        &enrollment.journey,
        enrollment.subject.as_deref(),
    )
    .await
}

/// Publishes `journey.converted`, `journey.exited` or `journey.stopped` on the events queue
/// (the timeline records it; the events consumer forwards it to the bus).
async fn publish_end(deps: &Deps, enrollment: &Enrollment, now: DateTime<Utc>) {
    let kind = match enrollment.status {
        EnrollmentStatus::Converted => nhip_core::event_types::JOURNEY_CONVERTED,
        EnrollmentStatus::Stopped => nhip_core::event_types::JOURNEY_STOPPED,
        _ => nhip_core::event_types::JOURNEY_EXITED,
    };
    let mut event = DomainEvent {
        id: format!("enr-{}-end", enrollment.id),
        source: nhip_core::events::NHIP_SOURCE.into(),
        kind: kind.into(),
        customer_id: enrollment.customer_id.parse().ok(),
        occurred_at: now,
        data: json!({
            "journey": enrollment.journey,
            "journey_version": enrollment.journey_version,
            "enrollment_id": enrollment.id,
            "outcome": enrollment.outcome,
            "goal": enrollment.goal,
            "last_step": enrollment.step,
        }),
    };
    if let Some(subject) = &enrollment.subject {
        event.data["subject"] = subject.clone().into();
    }
    if let Err(error) = nhip_core::events::publish(deps, &[event]).await {
        tracing::warn!(%error, "journey end not published");
    }
}

/// Publishes `journey.step` to the bus for the organisation's other systems, one event per
/// step run, when the settings ask for it (not on the timeline: steps are many; the
/// enrollment's step records hold them, and reach any reader through the table's stream).
async fn publish_steps(deps: &Deps, steps: &[(Enrollment, Decision)], now: DateTime<Utc>) {
    if !deps.settings.journey_step_events {
        return;
    }
    let events: Vec<DomainEvent> = steps
        .iter()
        .map(|(before, decision)| DomainEvent {
            id: format!("enr-{}-{}", before.id, before.seq),
            source: nhip_core::events::NHIP_SOURCE.into(),
            kind: nhip_core::event_types::JOURNEY_STEP.into(),
            customer_id: before.customer_id.parse().ok(),
            occurred_at: now,
            data: json!({
                "journey": before.journey,
                "journey_version": before.journey_version,
                "enrollment_id": before.id,
                "step": before.step,
                "seq": before.seq,
                "decision": decision,
            }),
        })
        .collect();
    if let Err(error) = nhip_ports::bus::publish_all(&*deps.bus, &events).await {
        tracing::warn!(%error, "journey.step not published");
    }
}
