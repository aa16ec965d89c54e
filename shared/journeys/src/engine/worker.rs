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

/// Runs one step job.
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
    if let Some(seq) = job.seq {
        if seq + 1 == enrollment.seq {
            hand_on(deps, &enrollment).await?;
            return Ok(JobOutcome::HandedOnAgain);
        }
        if seq != enrollment.seq {
            return Ok(JobOutcome::Nothing);
        }
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
    let record_key = keys::journey_step(customer_id, &enrollment.id, enrollment.seq);
    let job_event = job.event.as_ref().map(|e| e.id.clone());
    let decision = {
        let lookups = StoreLookups::new(deps, customer_id);
        let mut context = Context::new(lookups, &enrollment, journey, now);
        let decision = context.decide(job.event.as_ref()).await?;
        if decision == Decision::Ignore {
            // A redelivery whose first delivery recorded a decision (and then failed before
            // the enrollment write) replays it, whatever the facts say now.
            if let Some(record) = deps.store.get(&record_key).await?
                && let Some(decision) = recorded(&record, job_event.as_deref())?
            {
                return finish_step(deps, job, enrollment, journey, customer_id, decision, now)
                    .await;
            }
            // A wake-up that came early (the scheduler's clock ahead of this one's): its
            // due-work item is gone, so schedule it again.
            if job.event.is_none()
                && enrollment.phase == Phase::Waiting
                && enrollment.wake_at.is_some_and(|at| at > now)
            {
                hand_on(deps, &enrollment).await?;
            }
            return Ok(JobOutcome::Nothing);
        }
        let mut record = record_key.to_item();
        record.insert("kind".into(), STEP_KIND.into());
        record.insert("enrollment_id".into(), enrollment.id.clone().into());
        record.insert("journey".into(), enrollment.journey.clone().into());
        record.insert("step".into(), enrollment.step.clone().into());
        record.insert("seq".into(), enrollment.seq.into());
        record.insert("at".into(), keys::instant(now).into());
        record.insert("event_id".into(), json!(job_event));
        record.insert(
            "event_type".into(),
            json!(job.event.as_ref().map(|e| &e.kind)),
        );
        record.insert(
            "decision".into(),
            serde_json::to_value(&decision).expect("a decision serialises"),
        );
        record.insert(
            "ttl".into(),
            (now + chrono::Duration::days(STEP_RECORD_DAYS))
                .timestamp()
                .into(),
        );
        match deps.store.put(record, StoreCondition::NotExists).await {
            Ok(()) => decision,
            Err(StoreError::ConditionFailed { .. }) => {
                // Decided before: by this job (a redelivery), whose decision is replayed as
                // it was, or by another (an event racing a timeout), which moves the
                // enrollment: a step job is then stale, an event is tried again later.
                let record = deps.store.get(&record_key).await?.unwrap_or_default();
                match recorded(&record, job_event.as_deref())? {
                    Some(decision) => decision,
                    None if job.event.is_some() => return Err(StoreError::TransactionConflict),
                    None => return Ok(JobOutcome::Nothing),
                }
            }
            Err(other) => return Err(other),
        }
    };
    finish_step(deps, job, enrollment, journey, customer_id, decision, now).await
}

/// Performs a decided step: its side effect (when the step is run now, not when a wait ends),
/// then the enrollment write and the hand-on.
async fn finish_step(
    deps: &Deps,
    job: &StepJob,
    enrollment: Enrollment,
    journey: &Journey,
    customer_id: CustomerId,
    decision: Decision,
    now: DateTime<Utc>,
) -> Result<JobOutcome, StoreError> {
    if decision == Decision::Ignore {
        return Ok(JobOutcome::Nothing);
    }
    let mut after = enrollment.clone();
    if enrollment.phase == Phase::Entering
        && job.event.is_none()
        && let Some(step) = journey.step(&enrollment.step)
    {
        // Sends need no customer here: the pipeline reads it (and refuses an erased one).
        let customer = match step {
            Step::Ticket { .. } | Step::Update { .. } | Step::Notify { .. } => {
                let found = repo::get(&*deps.store, customer_id).await?;
                match found.filter(|c| c.erased_at.is_none()) {
                    Some(customer) => Some(customer),
                    None => return finish_gone(deps, enrollment, journey, now).await,
                }
            }
            _ => None,
        };
        effects(deps, &mut after, journey, step, customer.as_ref(), now).await?;
    }
    apply(&mut after, &decision, now);
    commit(deps, &enrollment, after, journey, &decision, now).await
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

/// Writes the moved enrollment and hands on.
async fn commit(
    deps: &Deps,
    before: &Enrollment,
    mut after: Enrollment,
    journey: &Journey,
    decision: &Decision,
    now: DateTime<Utc>,
) -> Result<JobOutcome, StoreError> {
    after.seq = before.seq + 1;
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
    // again (a job one seq behind) or releases the marker (an ended enrollment).
    hand_on(deps, &after).await?;
    if after.status != EnrollmentStatus::Active {
        release_guard(deps, &after).await?;
        publish_end(deps, &after, now).await;
    }
    publish_step(deps, before, decision, now).await;
    if let Err(error) = stats::transition(deps, before, &after, journey).await {
        // The step is done; only its count is lost (known limit, see docs/journeys.md).
        tracing::warn!(%error, "journey counters not updated");
    }
    Ok(JobOutcome::Moved {
        step: after.step.clone(),
        phase: after.phase,
    })
}

/// Ends an enrollment whose customer was erased.
async fn finish_gone(
    deps: &Deps,
    enrollment: Enrollment,
    journey: &Journey,
    now: DateTime<Utc>,
) -> Result<JobOutcome, StoreError> {
    let decision = Decision::End {
        status: EnrollmentStatus::Stopped,
        outcome: "khach-hang-khong-con".into(),
        goal: None,
    };
    let mut after = enrollment.clone();
    apply(&mut after, &decision, now);
    commit(deps, &enrollment, after, journey, &decision, now).await
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

/// Publishes `journey.step` to the bus for the organisation's other systems (not on the
/// timeline: steps are many; the enrollment's step records hold them).
async fn publish_step(deps: &Deps, before: &Enrollment, decision: &Decision, now: DateTime<Utc>) {
    let event = DomainEvent {
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
    };
    if let Err(error) = nhip_ports::bus::publish_all(&*deps.bus, &[event]).await {
        tracing::warn!(%error, "journey.step not published");
    }
}
