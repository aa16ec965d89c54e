//! The decision of one step job: given the enrollment, its journey version and the job (a
//! due step, a wake-up or an event), what the enrollment does ([`Decision`]): go to a step,
//! wait, end, or nothing. The deciding is pure rules over the definition; what it reads besides
//! the enrollment (the customer, the customer's history, a message's engagement) comes through
//! [`Lookups`], the store's in the worker ([`StoreLookups`]), and is read only when a rule
//! needs it.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use nhip_domain::ids::CustomerId;
use nhip_domain::journey::{
    Condition, EngagementSignal, Facts, Journey, SeenEvent, Step, split_branch,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::enrollment::{Enrollment, EnrollmentStatus, Phase};
use nhip_core::deps::Deps;
use nhip_core::keys;
use nhip_core::scheduler::JobEvent;
use nhip_crm::customers::repo;
use nhip_messaging::model::RequestData;
use nhip_messaging::pipeline;
use nhip_ports::store::{Index, Query, SortKey, StoreError};

/// Events of the customer's history read for an `event_seen` condition.
const HISTORY_LIMIT: u32 = 500;
/// How far before the enrollment an `event_seen` condition can look.
const HISTORY_BEFORE_ENROLLMENT_DAYS: i64 = 90;
/// Recent events a `wait_for_event` step looks through when it is entered.
const RECENT_EVENTS_LIMIT: u32 = 100;

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

/// What a decision reads besides the enrollment and the definition: the store in the worker
/// ([`StoreLookups`]), memory in the unit tests.
pub(super) trait Lookups {
    /// The customer as conditions see it (the template view); `null` when there is none.
    async fn customer(&self) -> Result<Value, StoreError>;

    /// The customer's events from `from`, newest first, at most `limit`.
    async fn events_since(
        &self,
        from: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<SeenEvent>, StoreError>;

    /// The engagement the message `id` shows (`delivered`, `opened`, `clicked`); none when
    /// there is no such message.
    async fn engagement(&self, id: &str) -> Result<BTreeSet<String>, StoreError>;
}

/// The store's answers to a decision's questions about one customer.
pub(super) struct StoreLookups<'a> {
    deps: &'a Deps,
    customer_id: CustomerId,
}

impl<'a> StoreLookups<'a> {
    /// The lookups of `customer_id`.
    pub(super) fn new(deps: &'a Deps, customer_id: CustomerId) -> Self {
        StoreLookups { deps, customer_id }
    }
}

impl Lookups for StoreLookups<'_> {
    async fn customer(&self) -> Result<Value, StoreError> {
        let customer = repo::get(&*self.deps.store, self.customer_id).await?;
        Ok(customer
            .map(|c| {
                nhip_messaging::templates::merge_data(self.deps, &c, &RequestData::default(), None)
                    .customer
            })
            .unwrap_or(Value::Null))
    }

    async fn events_since(
        &self,
        from: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<SeenEvent>, StoreError> {
        events_since(self.deps, self.customer_id, from, limit).await
    }

    async fn engagement(&self, id: &str) -> Result<BTreeSet<String>, StoreError> {
        Ok(pipeline::load(self.deps, id)
            .await?
            .map(|message| message.engagement.into_keys().collect())
            .unwrap_or_default())
    }
}

/// What a decision is made with.
pub(super) struct Context<'a, L> {
    lookups: L,
    enrollment: &'a Enrollment,
    journey: &'a Journey,
    now: DateTime<Utc>,
    customer: Option<Value>,
    history: Option<Vec<SeenEvent>>,
}

impl<'a, L: Lookups> Context<'a, L> {
    /// Deciding for `enrollment` on `journey` (its version's definition) at `now`.
    pub(super) fn new(
        lookups: L,
        enrollment: &'a Enrollment,
        journey: &'a Journey,
        now: DateTime<Utc>,
    ) -> Self {
        Context {
            lookups,
            enrollment,
            journey,
            now,
            customer: None,
            history: None,
        }
    }

    /// The customer as conditions see it (the template view), read once.
    async fn customer(&mut self) -> Result<Value, StoreError> {
        if self.customer.is_none() {
            self.customer = Some(self.lookups.customer().await?);
        }
        Ok(self.customer.clone().unwrap_or(Value::Null))
    }

    async fn facts(&mut self, event: Value) -> Result<Facts, StoreError> {
        Ok(Facts {
            customer: self.customer().await?,
            holding: self.enrollment.holding.clone(),
            event,
            enrolled_at: self.enrollment.entered_at,
        })
    }

    /// The customer's events from 90 days before the enrollment, newest 500, read once.
    async fn history(&mut self) -> Result<Vec<SeenEvent>, StoreError> {
        if self.history.is_none() {
            let from =
                self.enrollment.entered_at - chrono::Duration::days(HISTORY_BEFORE_ENROLLMENT_DAYS);
            self.history = Some(self.lookups.events_since(from, HISTORY_LIMIT).await?);
        }
        Ok(self.history.clone().unwrap_or_default())
    }

    /// Whether `condition` holds, looking at the event `data` (the trigger's for a branch).
    async fn holds(&mut self, condition: &Condition, data: Value) -> Result<bool, StoreError> {
        let facts = self.facts(data).await?;
        let history = if needs_history(condition) {
            self.history().await?
        } else {
            Vec::new()
        };
        Ok(condition.holds(&facts, &history, self.now, &self.enrollment.anchors))
    }

    /// Whether an event's `data` passes a wait's `when` (always, without one).
    async fn event_matches(
        &mut self,
        when: Option<&Condition>,
        data: &Value,
    ) -> Result<bool, StoreError> {
        match when {
            Some(when) => self.holds(when, data.clone()).await,
            None => Ok(true),
        }
    }

    /// Decides what the enrollment does for this job.
    pub(super) async fn decide(
        &mut self,
        event: Option<&JobEvent>,
    ) -> Result<Decision, StoreError> {
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
        // In a journey that runs once per subject, goals, stops and waits hear only the events
        // that name the enrollment's own subject (an engagement branch follows its message).
        let ours = self
            .journey
            .concerns(self.enrollment.subject.as_deref(), &event.data);
        if ours && let Some(goal) = self.journey.goal_for(&event.kind, &facts) {
            return Ok(Decision::End {
                status: EnrollmentStatus::Converted,
                outcome: "converted".into(),
                goal: Some(goal.name.clone()),
            });
        }
        if ours && let Some(stop) = self.journey.stop_for(&event.kind, &facts) {
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
            } if ours
                && *kind == event.kind
                && self.event_matches(when.as_ref(), &event.data).await? =>
            {
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
                let recent = self
                    .lookups
                    .events_since(since, RECENT_EVENTS_LIMIT)
                    .await?;
                let mut seen = None;
                let (journey, subject) = (self.journey, self.enrollment.subject.as_deref());
                // Oldest first: the first matching event (of the enrollment's own subject) is
                // the one the wait takes.
                for candidate in recent.iter().rev().filter(|e| {
                    e.kind == *event && e.at >= since && journey.concerns(subject, &e.data)
                }) {
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
                if self
                    .holds(condition, self.enrollment.trigger.clone())
                    .await?
                {
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
        let engagement = self.lookups.engagement(id).await?;
        Ok(shows(signal, &engagement))
    }
}

/// Whether a message with this engagement shows `signal`: a click counts as an open (images
/// may be blocked), an open or a click as a delivery.
fn shows(signal: EngagementSignal, engagement: &BTreeSet<String>) -> bool {
    let has = |name: &str| engagement.contains(name);
    match signal {
        EngagementSignal::Opened => has("opened") || has("clicked"),
        EngagementSignal::Clicked => has("clicked"),
        EngagementSignal::Delivered => has("delivered") || has("opened") || has("clicked"),
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::{Duration, TimeZone};
    use nhip_domain::journey::parse_yaml;
    use serde_json::json;

    use super::super::enrollment::{Start, new_enrollment};
    use super::*;
    use crate::definitions::JourneyVersion;

    /// A journey with one step of each deciding kind; its steps need not form one path.
    const JOURNEY: &str = r#"
key: thu-nghiem
name: Thử nghiệm
trigger: { type: manual }
goals:
  - { name: Đã kích hoạt, event: card.activated }
stops:
  - { name: Từ chối nhận tin, event: consent.refused, outcome: tu-choi }
start: cho-3-ngay
steps:
  cho-3-ngay: { type: wait, wait: { kind: duration, duration: 3d }, next: hang-khach }
  hang-khach:
    type: branch_condition
    condition: { attribute: { path: customer.attributes.hang, op: eq, value: vang } }
    yes: chia-nhom
    no: ket-thuc
  doi-giao-dich:
    type: wait_for_event
    event: card.transaction
    when: { attribute: { path: event.amount, op: gte, value: 1000000 } }
    timeout: 2d
    on_event: cam-on
    on_timeout: nhac-lai
  chia-nhom:
    type: split
    branches:
      - { percent: 50, next: nhom-a, label: Nhóm A }
      - { percent: 50, next: doi-chung }
  gui-loi-chao:
    type: send
    purpose: care
    targets: [{ channel: email, template: loi-chao }]
    next: da-mo
  da-mo:
    type: branch_engagement
    message_step: gui-loi-chao
    signal: opened
    within: 1d
    yes: cam-on
    no: nhac-lai
  cam-on: { type: exit, outcome: da-giao-dich }
  nhac-lai: { type: exit }
  ket-thuc: { type: exit, outcome: khong-phu-hop }
"#;

    /// The customer, their timeline and their messages' engagement, from memory.
    #[derive(Default)]
    struct Fake {
        customer: Value,
        events: Vec<SeenEvent>,
        engagement: BTreeMap<String, BTreeSet<String>>,
    }

    impl Lookups for &Fake {
        async fn customer(&self) -> Result<Value, StoreError> {
            Ok(self.customer.clone())
        }

        async fn events_since(
            &self,
            from: DateTime<Utc>,
            limit: u32,
        ) -> Result<Vec<SeenEvent>, StoreError> {
            let mut found: Vec<SeenEvent> = self
                .events
                .iter()
                .filter(|e| e.at >= from)
                .cloned()
                .collect();
            found.sort_by_key(|e| std::cmp::Reverse(e.at));
            found.truncate(limit as usize);
            Ok(found)
        }

        async fn engagement(&self, id: &str) -> Result<BTreeSet<String>, StoreError> {
            Ok(self.engagement.get(id).cloned().unwrap_or_default())
        }
    }

    fn entered_at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 2, 0, 0).unwrap()
    }

    fn journey() -> Journey {
        parse_yaml(JOURNEY).expect("the test journey parses")
    }

    /// An enrollment entered at [`entered_at`] with id `id`, moved to `step` at `moved`.
    fn enrollment_at(id: &str, step: &str, moved: DateTime<Utc>) -> Enrollment {
        let version = JourneyVersion {
            key: "thu-nghiem".into(),
            number: 1,
            definition: journey(),
            created_at: entered_at(),
            created_by: "admin".into(),
        };
        let customer = CustomerId::new_at(entered_at());
        let start = Start {
            id: id.into(),
            source: "api".into(),
            trigger: Value::Null,
            holding: Value::Null,
            subject: None,
            since: entered_at(),
        };
        let mut enrollment = new_enrollment(&version, customer, start, entered_at());
        if step != enrollment.step || moved != entered_at() {
            enrollment.enter(step, moved);
        }
        enrollment
    }

    /// The same enrollment waiting at its step until `until`.
    fn waiting(mut enrollment: Enrollment, until: DateTime<Utc>) -> Enrollment {
        enrollment.phase = Phase::Waiting;
        enrollment.wake_at = Some(until);
        enrollment
    }

    async fn decide(
        fake: &Fake,
        enrollment: &Enrollment,
        now: DateTime<Utc>,
        event: Option<&JobEvent>,
    ) -> Decision {
        let journey = journey();
        Context::new(fake, enrollment, &journey, now)
            .decide(event)
            .await
            .expect("memory answers")
    }

    fn event(kind: &str, at: DateTime<Utc>, data: Value) -> JobEvent {
        JobEvent {
            id: format!("test#{kind}#{}", at.timestamp()),
            kind: kind.into(),
            at,
            data,
        }
    }

    fn seen(kind: &str, at: DateTime<Utc>, data: Value) -> SeenEvent {
        SeenEvent {
            kind: kind.into(),
            at,
            data,
        }
    }

    #[tokio::test]
    async fn a_wait_waits_its_duration_then_goes_on_and_an_early_wake_up_is_ignored() {
        let fake = Fake::default();
        let start = entered_at();
        let entered = enrollment_at("enr-1", "cho-3-ngay", start);
        assert_eq!(
            decide(&fake, &entered, start, None).await,
            Decision::Wait {
                until: start + Duration::days(3)
            }
        );
        let asleep = waiting(entered, start + Duration::days(3));
        assert_eq!(
            decide(&fake, &asleep, start + Duration::days(2), None).await,
            Decision::Ignore
        );
        assert_eq!(
            decide(&fake, &asleep, start + Duration::days(3), None).await,
            go("hang-khach", "next")
        );
    }

    #[tokio::test]
    async fn a_condition_branch_goes_yes_when_it_holds_and_no_when_it_does_not() {
        let at = entered_at() + Duration::days(3);
        let enrollment = enrollment_at("enr-2", "hang-khach", at);
        let gold = Fake {
            customer: json!({"attributes": {"hang": "vang"}}),
            ..Fake::default()
        };
        assert_eq!(
            decide(&gold, &enrollment, at, None).await,
            go("chia-nhom", "yes")
        );
        let silver = Fake {
            customer: json!({"attributes": {"hang": "bac"}}),
            ..Fake::default()
        };
        assert_eq!(
            decide(&silver, &enrollment, at, None).await,
            go("ket-thuc", "no")
        );
        // A customer who is gone is seen as `null`: the condition does not hold.
        assert_eq!(
            decide(&Fake::default(), &enrollment, at, None).await,
            go("ket-thuc", "no")
        );
    }

    #[tokio::test]
    async fn a_split_sends_each_enrollment_to_one_arm_by_its_label_or_index() {
        let fake = Fake::default();
        let at = entered_at();
        let mut arms = BTreeMap::new();
        for n in 0..40 {
            let enrollment = enrollment_at(&format!("enr-split-{n}"), "chia-nhom", at);
            let decision = decide(&fake, &enrollment, at, None).await;
            let expected = match split_branch(&enrollment.id, "chia-nhom", &split_arms()) {
                0 => go("nhom-a", "Nhóm A"),
                _ => go("doi-chung", "branches[1]"),
            };
            assert_eq!(decision, expected, "{}", enrollment.id);
            // A redelivery takes the same arm.
            assert_eq!(decide(&fake, &enrollment, at, None).await, decision);
            let Decision::Go { to, .. } = decision else {
                unreachable!()
            };
            *arms.entry(to).or_insert(0) += 1;
        }
        assert_eq!(arms.len(), 2, "both arms are used: {arms:?}");
    }

    fn split_arms() -> Vec<nhip_domain::journey::SplitBranch> {
        match journey().step("chia-nhom") {
            Some(Step::Split { branches }) => branches.clone(),
            other => panic!("not a split: {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_wait_for_an_event_takes_a_matching_event_and_times_out_without_one() {
        let at = entered_at() + Duration::hours(1);
        let entered = enrollment_at("enr-3", "doi-giao-dich", at);
        let small = seen(
            "card.transaction",
            at + Duration::minutes(1),
            json!({"amount": 50_000}),
        );
        let large = seen(
            "card.transaction",
            at + Duration::minutes(2),
            json!({"amount": 2_000_000}),
        );
        // On entry, a matching event that came while the step was queued counts; one that does
        // not pass `when` does not.
        let with_large = Fake {
            events: vec![small.clone(), large.clone()],
            ..Fake::default()
        };
        assert_eq!(
            decide(&with_large, &entered, at + Duration::minutes(3), None).await,
            go_after("cam-on", "on_event", large.at)
        );
        let only_small = Fake {
            events: vec![small],
            ..Fake::default()
        };
        assert_eq!(
            decide(&only_small, &entered, at + Duration::minutes(3), None).await,
            Decision::Wait {
                until: at + Duration::minutes(3) + Duration::days(2)
            }
        );
        // Waiting: the event moves it on, another type is ignored, the timeout takes
        // `on_timeout`.
        let asleep = waiting(entered, at + Duration::days(2));
        let now = at + Duration::hours(5);
        let paid = event(
            "card.transaction",
            at + Duration::hours(4),
            json!({"amount": 1_000_000}),
        );
        assert_eq!(
            decide(&Fake::default(), &asleep, now, Some(&paid)).await,
            go_after("cam-on", "on_event", paid.at)
        );
        let other = event("card.statement", at + Duration::hours(4), Value::Null);
        assert_eq!(
            decide(&Fake::default(), &asleep, now, Some(&other)).await,
            Decision::Ignore
        );
        assert_eq!(
            decide(&Fake::default(), &asleep, at + Duration::days(2), None).await,
            go("nhac-lai", "on_timeout")
        );
    }

    #[tokio::test]
    async fn an_engagement_branch_follows_the_message_it_watches() {
        let sent_at = entered_at();
        let mut enrollment = enrollment_at("enr-4", "gui-loi-chao", sent_at);
        enrollment
            .messages
            .insert("gui-loi-chao".into(), "msg-1".into());
        enrollment.enter("da-mo", sent_at + Duration::minutes(1));
        let now = sent_at + Duration::hours(2);
        let clicked = Fake {
            engagement: BTreeMap::from([(
                "msg-1".to_owned(),
                BTreeSet::from(["delivered".to_owned(), "clicked".to_owned()]),
            )]),
            ..Fake::default()
        };
        // A click counts as an open.
        assert_eq!(
            decide(&clicked, &enrollment, now, None).await,
            go("cam-on", "yes")
        );
        let delivered = Fake {
            engagement: BTreeMap::from([(
                "msg-1".to_owned(),
                BTreeSet::from(["delivered".to_owned()]),
            )]),
            ..Fake::default()
        };
        assert_eq!(
            decide(&delivered, &enrollment, now, None).await,
            Decision::Wait {
                until: sent_at + Duration::days(1)
            }
        );
        let asleep = waiting(enrollment, sent_at + Duration::days(1));
        let opened = event(
            "message.opened",
            now + Duration::hours(1),
            json!({"message_id": "msg-1"}),
        );
        let someone_elses = event(
            "message.opened",
            now + Duration::hours(1),
            json!({"message_id": "msg-2"}),
        );
        assert_eq!(
            decide(&delivered, &asleep, now + Duration::hours(2), Some(&opened)).await,
            go_after("cam-on", "yes", opened.at)
        );
        assert_eq!(
            decide(
                &delivered,
                &asleep,
                now + Duration::hours(2),
                Some(&someone_elses)
            )
            .await,
            Decision::Ignore
        );
        assert_eq!(
            decide(&delivered, &asleep, sent_at + Duration::days(1), None).await,
            go("nhac-lai", "no")
        );
    }

    #[tokio::test]
    async fn a_goal_converts_a_stop_stops_and_an_event_from_before_the_enrollment_is_ignored() {
        let fake = Fake::default();
        let at = entered_at();
        // Anywhere in the journey, waiting or not.
        let entered = enrollment_at("enr-5", "hang-khach", at);
        let asleep = waiting(
            enrollment_at("enr-6", "cho-3-ngay", at),
            at + Duration::days(3),
        );
        let activated = event("card.activated", at + Duration::hours(1), json!({}));
        let refused = event("consent.refused", at + Duration::hours(1), json!({}));
        for enrollment in [&entered, &asleep] {
            assert_eq!(
                decide(&fake, enrollment, at + Duration::hours(2), Some(&activated)).await,
                Decision::End {
                    status: EnrollmentStatus::Converted,
                    outcome: "converted".into(),
                    goal: Some("Đã kích hoạt".into()),
                }
            );
            assert_eq!(
                decide(&fake, enrollment, at + Duration::hours(2), Some(&refused)).await,
                Decision::End {
                    status: EnrollmentStatus::Stopped,
                    outcome: "tu-choi".into(),
                    goal: None,
                }
            );
        }
        let before = event("card.activated", at - Duration::hours(1), json!({}));
        assert_eq!(
            decide(&fake, &asleep, at + Duration::hours(2), Some(&before)).await,
            Decision::Ignore
        );
    }

    /// A journey entered on `installment.due` once per instalment plan.
    const PER_PLAN: &str = r#"
key: nhac-ky
name: Nhắc kỳ trả góp
trigger: { type: event, event: installment.due, per: plan_id }
goals:
  - { name: Đã trả hết, event: installment.paid_off }
stops:
  - { name: Huỷ trả góp, event: installment.cancelled, outcome: huy }
start: doi-thanh-toan
steps:
  doi-thanh-toan:
    type: wait_for_event
    event: installment.payment_received
    timeout: 5d
    on_event: cam-on
    on_timeout: het-han
  cam-on: { type: exit, outcome: da-thanh-toan }
  het-han: { type: exit }
"#;

    #[tokio::test]
    async fn an_enrollment_per_plan_hears_only_the_events_of_its_own_plan() {
        let journey = parse_yaml(PER_PLAN).expect("the per-plan journey parses");
        let version = JourneyVersion {
            key: journey.key.clone(),
            number: 1,
            definition: journey.clone(),
            created_at: entered_at(),
            created_by: "admin".into(),
        };
        let at = entered_at();
        let start = Start {
            id: "enr-plan-a".into(),
            source: "event:installment.due".into(),
            trigger: json!({"plan_id": "PLAN-A", "rung": "D-5"}),
            holding: Value::Null,
            subject: journey.subject_of(&json!({"plan_id": "PLAN-A"})),
            since: at,
        };
        let entered = new_enrollment(&version, CustomerId::new_at(at), start, at);
        assert_eq!(entered.subject.as_deref(), Some("PLAN-A"));
        let decide = async |fake: &Fake, enrollment: &Enrollment, event: Option<&JobEvent>| {
            Context::new(fake, enrollment, &journey, at + Duration::hours(1))
                .decide(event)
                .await
                .expect("memory answers")
        };
        let of = |plan: &str| json!({ "plan_id": plan, "amount": 1_500_000 });

        // On entry, another plan's payment (or one naming no plan) on the timeline does not
        // end the wait; its own plan's does.
        let paid_b = seen("installment.payment_received", at, of("PLAN-B"));
        let paid_unnamed = seen("installment.payment_received", at, json!({}));
        let paid_a = seen(
            "installment.payment_received",
            at + Duration::minutes(1),
            of("PLAN-A"),
        );
        let others = Fake {
            events: vec![paid_b.clone(), paid_unnamed.clone()],
            ..Fake::default()
        };
        assert_eq!(
            decide(&others, &entered, None).await,
            Decision::Wait {
                until: at + Duration::hours(1) + Duration::days(5)
            }
        );
        let with_own = Fake {
            events: vec![paid_b, paid_unnamed, paid_a.clone()],
            ..Fake::default()
        };
        assert_eq!(
            decide(&with_own, &entered, None).await,
            go_after("cam-on", "on_event", paid_a.at)
        );

        // Waiting, and at any step for goals and stops: only events naming plan A move it.
        let asleep = waiting(entered, at + Duration::days(5));
        let fake = Fake::default();
        let when = at + Duration::minutes(30);
        for kind in [
            "installment.payment_received",
            "installment.paid_off",
            "installment.cancelled",
        ] {
            for data in [
                of("PLAN-B"),
                json!({}),
                json!({"plan_id": {"id": "PLAN-A"}}),
            ] {
                assert_eq!(
                    decide(&fake, &asleep, Some(&event(kind, when, data.clone()))).await,
                    Decision::Ignore,
                    "{kind} {data}"
                );
            }
        }
        assert_eq!(
            decide(
                &fake,
                &asleep,
                Some(&event("installment.payment_received", when, of("PLAN-A")))
            )
            .await,
            go_after("cam-on", "on_event", when)
        );
        assert_eq!(
            decide(
                &fake,
                &asleep,
                Some(&event("installment.paid_off", when, of("PLAN-A")))
            )
            .await,
            Decision::End {
                status: EnrollmentStatus::Converted,
                outcome: "converted".into(),
                goal: Some("Đã trả hết".into()),
            }
        );
        assert_eq!(
            decide(
                &fake,
                &asleep,
                Some(&event("installment.cancelled", when, of("PLAN-A")))
            )
            .await,
            Decision::End {
                status: EnrollmentStatus::Stopped,
                outcome: "huy".into(),
                goal: None,
            }
        );
    }

    #[tokio::test]
    async fn an_exit_ends_the_journey_with_its_outcome_and_a_missing_step_stops_it() {
        let fake = Fake::default();
        let at = entered_at();
        assert_eq!(
            decide(&fake, &enrollment_at("enr-7", "ket-thuc", at), at, None).await,
            Decision::End {
                status: EnrollmentStatus::Exited,
                outcome: "khong-phu-hop".into(),
                goal: None,
            }
        );
        assert_eq!(
            decide(&fake, &enrollment_at("enr-8", "nhac-lai", at), at, None).await,
            Decision::End {
                status: EnrollmentStatus::Exited,
                outcome: "completed".into(),
                goal: None,
            }
        );
        assert_eq!(
            decide(&fake, &enrollment_at("enr-9", "da-xoa", at), at, None).await,
            Decision::End {
                status: EnrollmentStatus::Stopped,
                outcome: "buoc-khong-ton-tai".into(),
                goal: None,
            }
        );
        // An ended enrollment does nothing more.
        let mut done = enrollment_at("enr-10", "ket-thuc", at);
        done.phase = Phase::Done;
        assert_eq!(decide(&fake, &done, at, None).await, Decision::Ignore);
    }

    #[test]
    fn history_is_read_only_for_conditions_that_look_at_events() {
        let seen: Condition =
            serde_json::from_value(json!({"not": {"event_seen": {"event": "card.transaction"}}}))
                .unwrap();
        let tag: Condition =
            serde_json::from_value(json!({"any": [{"tag": {"has": "vip"}}]})).unwrap();
        assert!(needs_history(&seen));
        assert!(!needs_history(&tag));
    }
}
