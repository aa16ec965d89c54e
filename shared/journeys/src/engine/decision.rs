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
            .map(|c| pipeline::merge_data(self.deps, &c, &RequestData::default(), None).customer)
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
