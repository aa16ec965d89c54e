//! The journey engine: enrollments and the journey worker that moves them one step at a time.
//!
//! # The enrollment
//! `CUS#<customer>` / `ENR#<journey>#<enrollment>` holds where one customer is in one journey:
//! the version it started on, the current step and whether it is still to be entered
//! (`entering`) or waiting there (`waiting`, until `wake_at` or an event), the anchors
//! conditions measure from (entry times and visit counts per step), the message each send step
//! produced (for engagement branches) and the trigger's data. `seq` counts its transitions and
//! is the optimistic-concurrency version: every change is written on condition that `seq` is
//! still what was read. `CUS#<customer>` / `ENRON#<journey>` marks the one enrollment of that
//! journey the customer is active in.
//!
//! # One step
//! A step job (`steps` queue, function `journey-worker`) names an enrollment and either the
//! `seq` it was made for (the next step is due) or an event (a goal, a stop, what a waiting
//! step listens for). The worker reads the enrollment, decides, then:
//! 1. writes the **step record** `CUS#<customer>` / `JSTEP#<enrollment>#<seq>` create-only:
//!    the idempotency item, written before any side effect, holding the decision. A
//!    redelivered job, or a timeout racing an event, finds it and replays that decision;
//! 2. performs the step's side effect under keys derived from the enrollment, step and visit
//!    (`journey#<enrollment>#<step>#<visit>`): the message id, the ticket id and the
//!    notification's cause, so repeating it adds nothing;
//! 3. writes the enrollment on condition `seq` is unchanged;
//! 4. hands on: the next step's job to the `steps` queue, or a due-work item at the wake-up
//!    time (the scheduler sends its job then). A job one behind the enrollment (a
//!    redelivery after a crash between 3 and 4) hands on again; the next job's `seq` check
//!    drops the spare.
//!
//! A step costs one read, two conditional writes and one queue send (or one due-work put), plus
//! the side effect; the counters add one update each.

use std::collections::BTreeMap;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::{DateTime, Utc};
use nhip_domain::customer::Purpose;
use nhip_domain::event::DomainEvent;
use nhip_domain::ids::{CustomerId, DueWorkId};
use nhip_domain::journey::{
    Anchors, Condition, EngagementSignal, Facts, Journey, NotifyTarget, SeenEvent, Step,
    split_branch,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tracing::instrument;

use crate::definitions::{self, JourneyVersion};
use crate::stats;
use nhip_core::consumer::{Failure, process_batch};
use nhip_core::deps::Deps;
use nhip_core::keys;
use nhip_core::scheduler::{self, JobEvent, StepJob, Work};
use nhip_core::stats::StepCause;
use nhip_crm::customers::model::Customer;
use nhip_crm::customers::repo;
use nhip_messaging::model::{
    Cause, CauseKind, MessageChannel, RequestData, SendPurpose, SendRequest, Target,
};
use nhip_messaging::pipeline;
use nhip_ports::queue::QueueError;
use nhip_ports::store::{
    Condition as StoreCondition, Index, Item, Key, Query, SortKey, StoreError,
};

/// Kind attribute of enrollment items.
pub const KIND: &str = "enrollment";
/// Kind attribute of step records.
pub const STEP_KIND: &str = "journey_step";
/// How long step records are kept (epoch-seconds TTL): a little over a year.
const STEP_RECORD_DAYS: i64 = 400;
/// Events of the customer's history read for an `event_seen` condition.
const HISTORY_LIMIT: u32 = 500;
/// How far before the enrollment an `event_seen` condition can look.
const HISTORY_BEFORE_ENROLLMENT_DAYS: i64 = 90;

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
    /// How the customer entered: `event:<type>`, `segment`, `api`, `csv`.
    pub source: String,
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
        if self.status == EnrollmentStatus::Active {
            // Active enrollments of a journey, for staff lists (sparse: ended ones leave).
            item.insert(
                "gsi3pk".into(),
                keys::journey_active(&self.journey, keys::shard_of(&self.id)).into(),
            );
            item.insert(
                "gsi3sk".into(),
                format!("{}#{}", keys::instant(self.entered_at), self.id).into(),
            );
        }
        Ok(item)
    }

    /// From a stored item.
    pub fn from_item(item: Item) -> Result<Self, StoreError> {
        nhip_core::records::from_item(item, KIND)
    }

    fn visit(&self, step: &str) -> u32 {
        self.anchors.visits.get(step).copied().unwrap_or(0)
    }

    /// Moves to `step`, to be run next.
    fn enter(&mut self, step: &str, now: DateTime<Utc>) {
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
    fn listening_since(&self) -> DateTime<Utc> {
        self.awake_since.unwrap_or(self.moved_at).min(self.moved_at)
    }

    fn job(&self) -> StepJob {
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
        source: start.source,
        entered_at: now,
        ended_at: None,
        outcome: None,
        goal: None,
    };
    enrollment.enter(&first, now);
    enrollment
}

/// What a step decided. Stored in the step record, so every replay does the same.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// Go to this step now.
    Go {
        /// The next step.
        to: String,
        /// Why (`next`, `yes`, `no`, `on_event`, `on_timeout`, a split arm's label).
        because: String,
        /// When the event that moved it happened: later events count from just after it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after_event: Option<DateTime<Utc>>,
    },
    /// Stay at the step until `until` (or an event).
    Wait {
        /// The timeout.
        until: DateTime<Utc>,
    },
    /// End the enrollment.
    End {
        /// How.
        status: EnrollmentStatus,
        /// The outcome slug.
        outcome: String,
        /// The goal's name, when converted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        goal: Option<String>,
    },
    /// Nothing to do (an event the step does not wait for, a wake-up not yet due).
    Ignore,
}

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
        let mut context = Context::new(deps, &enrollment, journey, customer_id, now);
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
            &keys::enrollment_guard(customer, &enrollment.journey),
            StoreCondition::Equals("enrollment_id".into(), enrollment.id.clone().into()),
        )
        .await
    {
        Ok(()) | Err(StoreError::ConditionFailed { .. }) => {}
        Err(other) => return Err(other),
    }
    // The customer may be let in again: an entry that waited for this one starts now.
    crate::entry::start_queued(deps, customer, &enrollment.journey).await
}

/// Publishes `journey.converted`, `journey.exited` or `journey.stopped` on the events queue
/// (the timeline records it; the events consumer forwards it to the bus).
async fn publish_end(deps: &Deps, enrollment: &Enrollment, now: DateTime<Utc>) {
    let kind = match enrollment.status {
        EnrollmentStatus::Converted => nhip_core::event_types::JOURNEY_CONVERTED,
        EnrollmentStatus::Stopped => nhip_core::event_types::JOURNEY_STOPPED,
        _ => nhip_core::event_types::JOURNEY_EXITED,
    };
    let event = DomainEvent {
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

/// Runs the side effect of entering `step`: a send, a ticket, an update, a notification.
async fn effects(
    deps: &Deps,
    enrollment: &mut Enrollment,
    journey: &Journey,
    step: &Step,
    customer: Option<&Customer>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let visit = enrollment.visit(&enrollment.step);
    let cause_key = format!("journey#{}#{}#{}", enrollment.id, enrollment.step, visit);
    match step {
        Step::Send {
            targets, purpose, ..
        } => {
            let request = SendRequest {
                idempotency_key: cause_key,
                customer_id: enrollment.customer_id.clone(),
                targets: targets
                    .iter()
                    .filter_map(|t| {
                        Some(Target {
                            channel: serde_json::from_value::<MessageChannel>(json!(
                                t.channel.as_str()
                            ))
                            .ok()?,
                            template: t.template.clone(),
                            version: None,
                        })
                    })
                    .collect(),
                purpose: match purpose {
                    Purpose::Marketing => SendPurpose::Marketing,
                    Purpose::Care => SendPurpose::Care,
                },
                cause: Cause {
                    kind: CauseKind::Journey,
                    id: StepCause::new(
                        &enrollment.journey,
                        enrollment.journey_version,
                        &enrollment.step,
                    )
                    .to_string(),
                    actor: None,
                },
                campaign: None,
                data: RequestData {
                    holding: (!enrollment.holding.is_null()).then(|| enrollment.holding.clone()),
                    journey: Some(json!({
                        "key": enrollment.journey,
                        "name": journey.name,
                        "version": enrollment.journey_version,
                        "step": enrollment.step,
                        "enrollment_id": enrollment.id,
                    })),
                    event: (!enrollment.trigger.is_null()).then(|| enrollment.trigger.clone()),
                },
                system: None,
                requested_at: now,
            };
            let id = request.message_id();
            pipeline::enqueue(deps, &[request])
                .await
                .map_err(StoreError::unavailable)?;
            enrollment.messages.insert(enrollment.step.clone(), id);
        }
        Step::Ticket {
            queue,
            priority,
            sla,
            title,
            ..
        } => {
            let Some(customer) = customer else {
                return Ok(());
            };
            let ticket = nhip_crm::tickets::NewTicket {
                cause: cause_key,
                customer_id: customer.id,
                queue: *queue,
                priority: *priority,
                due_at: now + sla.to_delta(),
                title: title.clone(),
                source: json!({
                    "kind": "journey",
                    "journey": enrollment.journey,
                    "journey_version": enrollment.journey_version,
                    "step": enrollment.step,
                    "enrollment_id": enrollment.id,
                }),
                assignee: match queue {
                    nhip_domain::journey::TicketQueue::Rm => customer.owner.clone(),
                    _ => None,
                },
            };
            nhip_crm::tickets::enqueue(deps, &[ticket])
                .await
                .map_err(StoreError::unavailable)?;
        }
        Step::Update {
            attributes,
            lifecycle,
            add_tags,
            remove_tags,
            ..
        } => {
            let Some(customer) = customer else {
                return Ok(());
            };
            update_customer(
                deps,
                customer,
                &cause_key,
                Changes {
                    attributes,
                    lifecycle: *lifecycle,
                    add_tags,
                    remove_tags,
                },
            )
            .await?;
        }
        Step::Notify { to, title, .. } => {
            let Some(customer) = customer else {
                return Ok(());
            };
            let recipient = match to {
                NotifyTarget::Owner => customer.owner.clone(),
                NotifyTarget::User(user) => Some(user.clone()),
                NotifyTarget::Queue(queue) => Some(nhip_crm::tickets::queue_inbox(*queue)),
            };
            if let Some(recipient) = recipient {
                nhip_crm::notifications::notify(
                    deps,
                    &recipient,
                    &cause_key,
                    nhip_crm::notifications::Notice {
                        title: title.clone(),
                        body: format!("Hành trình: {}", journey.name),
                        customer_id: Some(customer.id),
                        link: format!("/customers/{}", customer.id),
                    },
                )
                .await?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// The changes of an update step.
struct Changes<'a> {
    attributes: &'a BTreeMap<String, Value>,
    lifecycle: Option<nhip_domain::customer::Lifecycle>,
    add_tags: &'a [String],
    remove_tags: &'a [String],
}

/// Applies an update step to the customer, retrying a concurrent change. Applying it twice
/// leaves the same record. A lifecycle change is recorded and published as
/// `customer.lifecycle_changed` (other journeys' goals listen for it), keyed by the step.
async fn update_customer(
    deps: &Deps,
    customer: &Customer,
    cause: &str,
    changes: Changes<'_>,
) -> Result<(), StoreError> {
    let mut before = customer.clone();
    for attempt in nhip_core::retry::attempts() {
        attempt.pause().await;
        let mut after = before.clone();
        for (name, value) in changes.attributes {
            if value.is_null() {
                after.attributes.remove(name);
            } else {
                after.attributes.insert(name.clone(), value.clone());
            }
        }
        if let Some(lifecycle) = changes.lifecycle {
            after.lifecycle = lifecycle;
        }
        let mut tags = after.tags.clone();
        tags.extend(changes.add_tags.iter().cloned());
        tags.retain(|t| !changes.remove_tags.contains(t));
        after.tags = nhip_crm::customers::model::normalise_tags(tags);
        if after == before {
            return Ok(());
        }
        let now = deps.clock.now();
        after.updated_at = now;
        let change = (before.lifecycle != after.lifecycle).then(|| nhip_core::timeline::Entry {
            customer: customer.id,
            at: now,
            cause: cause.to_owned(),
            event_type: nhip_core::event_types::CUSTOMER_LIFECYCLE_CHANGED.into(),
            source: "journey".into(),
            actor: None,
            data: json!({"from": before.lifecycle, "to": after.lifecycle}),
        });
        let writes = change.iter().map(|c| c.write(now)).collect();
        match repo::save(&*deps.store, &before, &mut after, writes).await {
            Ok(()) => {
                if let Some(event) = change
                    .as_ref()
                    .and_then(nhip_core::timeline::Entry::as_event)
                    && let Err(error) = nhip_core::events::publish(deps, &[event]).await
                {
                    tracing::warn!(%error, "customer.lifecycle_changed not published");
                }
                return Ok(());
            }
            Err(repo::SaveError::Store(error)) => return Err(error),
            Err(_) => {
                let Some(fresh) = repo::get(&*deps.store, customer.id).await? else {
                    return Ok(());
                };
                before = fresh;
            }
        }
    }
    Err(StoreError::TransactionConflict)
}

/// What a decision is made with.
struct Context<'a> {
    deps: &'a Deps,
    enrollment: &'a Enrollment,
    journey: &'a Journey,
    customer_id: CustomerId,
    now: DateTime<Utc>,
    customer: Option<Option<Value>>,
    history: Option<Vec<SeenEvent>>,
}

impl<'a> Context<'a> {
    fn new(
        deps: &'a Deps,
        enrollment: &'a Enrollment,
        journey: &'a Journey,
        customer_id: CustomerId,
        now: DateTime<Utc>,
    ) -> Self {
        Context {
            deps,
            enrollment,
            journey,
            customer_id,
            now,
            customer: None,
            history: None,
        }
    }

    /// The customer as conditions see it (the template view), read once.
    async fn customer(&mut self) -> Result<Value, StoreError> {
        if self.customer.is_none() {
            let customer = repo::get(&*self.deps.store, self.customer_id).await?;
            self.customer = Some(customer.map(|c| {
                pipeline::merge_data(self.deps, &c, &RequestData::default(), None).customer
            }));
        }
        Ok(self.customer.clone().flatten().unwrap_or(Value::Null))
    }

    async fn facts(&mut self, event: Value) -> Result<Facts, StoreError> {
        Ok(Facts {
            customer: self.customer().await?,
            holding: self.enrollment.holding.clone(),
            event,
            enrolled_at: self.enrollment.entered_at,
        })
    }

    /// The customer's events from 90 days before the enrollment, newest 500.
    async fn history(&mut self) -> Result<Vec<SeenEvent>, StoreError> {
        if self.history.is_none() {
            let from =
                self.enrollment.entered_at - chrono::Duration::days(HISTORY_BEFORE_ENROLLMENT_DAYS);
            self.history =
                Some(events_since(self.deps, self.customer_id, from, HISTORY_LIMIT).await?);
        }
        Ok(self.history.clone().unwrap_or_default())
    }

    async fn holds(&mut self, condition: &Condition) -> Result<bool, StoreError> {
        let facts = self.facts(self.enrollment.trigger.clone()).await?;
        let history = if needs_history(condition) {
            self.history().await?
        } else {
            Vec::new()
        };
        Ok(condition.holds(&facts, &history, self.now, &self.enrollment.anchors))
    }

    /// Decides what the enrollment does for this job.
    async fn decide(&mut self, event: Option<&JobEvent>) -> Result<Decision, StoreError> {
        let Some(step) = self.journey.step(&self.enrollment.step) else {
            return Ok(Decision::End {
                status: EnrollmentStatus::Stopped,
                outcome: "buoc-khong-ton-tai".into(),
                goal: None,
            });
        };
        if let Some(event) = event {
            return self.on_event(step, event).await;
        }
        match self.enrollment.phase {
            Phase::Entering => self.on_enter(step).await,
            Phase::Waiting => {
                if self.enrollment.wake_at.is_some_and(|at| at > self.now) {
                    return Ok(Decision::Ignore);
                }
                self.on_timeout(step).await
            }
            Phase::Done => Ok(Decision::Ignore),
        }
    }

    async fn on_event(&mut self, step: &Step, event: &JobEvent) -> Result<Decision, StoreError> {
        if event.at < self.enrollment.started_at() {
            return Ok(Decision::Ignore);
        }
        let facts = self.facts(event.data.clone()).await?;
        if let Some(goal) = self.journey.goal_for(&event.kind, &facts) {
            return Ok(Decision::End {
                status: EnrollmentStatus::Converted,
                outcome: "converted".into(),
                goal: Some(goal.name.clone()),
            });
        }
        if let Some(stop) = self.journey.stop_for(&event.kind, &facts) {
            return Ok(Decision::End {
                status: EnrollmentStatus::Stopped,
                outcome: stop.outcome.clone().unwrap_or_else(|| "stopped".into()),
                goal: None,
            });
        }
        if self.enrollment.phase != Phase::Waiting || event.at < self.enrollment.listening_since() {
            return Ok(Decision::Ignore);
        }
        Ok(match step {
            Step::WaitForEvent {
                event: kind,
                when,
                on_event,
                ..
            } if *kind == event.kind && self.event_matches(when.as_ref(), &event.data).await? => {
                go_after(on_event, "on_event", event.at)
            }
            Step::BranchEngagement {
                message_step,
                signal,
                yes,
                ..
            } if signal.event_types().contains(&event.kind.as_str())
                && self
                    .enrollment
                    .messages
                    .get(message_step)
                    .map(String::as_str)
                    == event.data.get("message_id").and_then(Value::as_str) =>
            {
                go_after(yes, "yes", event.at)
            }
            _ => Decision::Ignore,
        })
    }

    async fn event_matches(
        &mut self,
        when: Option<&Condition>,
        data: &Value,
    ) -> Result<bool, StoreError> {
        let Some(when) = when else {
            return Ok(true);
        };
        let facts = self.facts(data.clone()).await?;
        let history = if needs_history(when) {
            self.history().await?
        } else {
            Vec::new()
        };
        Ok(when.holds(&facts, &history, self.now, &self.enrollment.anchors))
    }

    async fn on_enter(&mut self, step: &Step) -> Result<Decision, StoreError> {
        Ok(match step {
            Step::Send { next, .. }
            | Step::Ticket { next, .. }
            | Step::Update { next, .. }
            | Step::Notify { next, .. } => go(next, "next"),
            Step::Wait { wait, next } => {
                let facts = self.facts(self.enrollment.trigger.clone()).await?;
                let until = wait.until(self.now, &facts);
                if until <= self.now {
                    go(next, "next")
                } else {
                    Decision::Wait { until }
                }
            }
            Step::WaitForEvent {
                event,
                when,
                timeout,
                on_event,
                ..
            } => {
                // An event that arrived while this step or the ones before it since the last
                // wait were still queued counts.
                let since = self.enrollment.listening_since();
                let recent = events_since(self.deps, self.customer_id, since, 100).await?;
                let mut seen = None;
                // Oldest first: the first matching event is the one the wait takes.
                for candidate in recent
                    .iter()
                    .rev()
                    .filter(|e| e.kind == *event && e.at >= since)
                {
                    if self.event_matches(when.as_ref(), &candidate.data).await? {
                        seen = Some(candidate.at);
                        break;
                    }
                }
                if let Some(at) = seen {
                    go_after(on_event, "on_event", at)
                } else {
                    Decision::Wait {
                        until: self.now + timeout.to_delta(),
                    }
                }
            }
            Step::BranchEngagement {
                message_step,
                signal,
                within,
                yes,
                no,
            } => {
                if self.engaged(message_step, *signal).await? {
                    go(yes, "yes")
                } else {
                    let sent = self
                        .enrollment
                        .anchors
                        .step_entered
                        .get(message_step)
                        .copied()
                        .unwrap_or(self.now);
                    let deadline = sent + within.to_delta();
                    if deadline <= self.now {
                        go(no, "no")
                    } else {
                        Decision::Wait { until: deadline }
                    }
                }
            }
            Step::BranchCondition { condition, yes, no } => {
                if self.holds(condition).await? {
                    go(yes, "yes")
                } else {
                    go(no, "no")
                }
            }
            Step::Split { branches } => {
                let arm = split_branch(&self.enrollment.id, &self.enrollment.step, branches);
                let branch = &branches[arm.min(branches.len().saturating_sub(1))];
                go(
                    &branch.next,
                    branch
                        .label
                        .as_deref()
                        .unwrap_or(&format!("branches[{arm}]")),
                )
            }
            Step::Exit { outcome } => Decision::End {
                status: EnrollmentStatus::Exited,
                outcome: outcome.clone().unwrap_or_else(|| "completed".into()),
                goal: None,
            },
        })
    }

    async fn on_timeout(&mut self, step: &Step) -> Result<Decision, StoreError> {
        Ok(match step {
            Step::Wait { next, .. } => go(next, "next"),
            Step::WaitForEvent { on_timeout, .. } => go(on_timeout, "on_timeout"),
            Step::BranchEngagement {
                message_step,
                signal,
                yes,
                no,
                ..
            } => {
                // The signal may have come without its event reaching the enrollment.
                if self.engaged(message_step, *signal).await? {
                    go(yes, "yes")
                } else {
                    go(no, "no")
                }
            }
            // Other steps never wait.
            _ => Decision::Ignore,
        })
    }

    /// Whether the message of `message_step` shows `signal`.
    async fn engaged(
        &mut self,
        message_step: &str,
        signal: EngagementSignal,
    ) -> Result<bool, StoreError> {
        let Some(id) = self.enrollment.messages.get(message_step) else {
            return Ok(false);
        };
        let Some(message) = pipeline::load(self.deps, id).await? else {
            return Ok(false);
        };
        let has = |name: &str| message.engagement.contains_key(name);
        Ok(match signal {
            EngagementSignal::Opened => has("opened") || has("clicked"),
            EngagementSignal::Clicked => has("clicked"),
            EngagementSignal::Delivered => has("delivered") || has("opened") || has("clicked"),
        })
    }
}

fn go(to: &str, because: &str) -> Decision {
    Decision::Go {
        to: to.to_owned(),
        because: because.to_owned(),
        after_event: None,
    }
}

/// Moving on because of an event that happened at `at`.
fn go_after(to: &str, because: &str, at: DateTime<Utc>) -> Decision {
    Decision::Go {
        to: to.to_owned(),
        because: because.to_owned(),
        after_event: Some(at),
    }
}

/// Whether evaluating the condition needs the customer's event history.
pub(crate) fn needs_history(condition: &Condition) -> bool {
    match condition {
        Condition::All(all) | Condition::Any(all) => all.iter().any(needs_history),
        Condition::Not(inner) => needs_history(inner),
        Condition::EventSeen { .. } => true,
        _ => false,
    }
}

/// The customer's events on the timeline from `from`, newest first, at most `limit`.
pub async fn events_since(
    deps: &Deps,
    customer: CustomerId,
    from: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<SeenEvent>, StoreError> {
    let page = deps
        .store
        .query(
            Query::partition(Index::Primary, keys::customer_pk(customer))
                .sk(SortKey::Between(
                    format!("{}{}", keys::TIMELINE_PREFIX, keys::instant(from)),
                    format!("{}~", keys::TIMELINE_PREFIX),
                ))
                .descending()
                .limit(limit),
        )
        .await?;
    Ok(page
        .items
        .into_iter()
        .filter_map(|item| {
            let text = |name: &str| item.get(name).and_then(Value::as_str).map(str::to_owned);
            Some(SeenEvent {
                kind: text("event_type")?,
                at: DateTime::parse_from_rfc3339(&text("occurred_at")?)
                    .ok()?
                    .with_timezone(&Utc),
                data: item.get("data").cloned().unwrap_or_default(),
            })
        })
        .collect())
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
