//! Journeys as data: the definition a marketer writes in YAML or JSON (one schema for both),
//! checked when it is saved, and the pure rules the journey engine calls while customers move
//! through it. Each saved definition is one version; enrollments keep the version they started
//! on, so a definition is never edited in place.
//!
//! # Layout
//! - this file: the model ([`Journey`], [`Trigger`], [`Reentry`], [`Goal`], [`StopRule`],
//!   [`Step`] and its parts) and the lookups the engine uses ([`Journey::step`],
//!   [`Journey::goal_for`], [`Journey::stop_for`], [`Journey::listens_for`]), with the
//!   subject of a journey that runs once per instalment plan or contract rather than once per
//!   customer ([`Journey::per`], [`Journey::subject_of`], [`Journey::concerns`]).
//! - `span`: lengths of time (`3d`, `2h 30m`), local times (`09:00`), weekdays.
//! - `condition`: [`Condition`] and its evaluation against [`Facts`], [`SeenEvent`]s and
//!   [`Anchors`].
//! - `wait`: [`WaitFor`] and the instant a wait ends ([`WaitFor::until`]).
//! - `segment`: the customer-list filter of a segment trigger ([`SegmentFilter`]).
//! - `split`: the deterministic A/B split ([`split_branch`]).
//! - `validate`: the save-time checks ([`validate`]): references, templates, reachability,
//!   loops without a wait, unbounded waits, split percentages, event types, a way to the end.
//! - `parse`: [`parse_yaml`], [`parse_json`] and [`JourneyErrors`], field paths with Vietnamese
//!   messages that never repeat the values written; `probe` finds the field that fails.
//! - `seeds`: the journeys shipped with Nhịp (`shared/domain/journeys/*.yaml`).
//!
//! # A journey in YAML
//! ```yaml
//! key: chao-mung
//! name: Chào mừng khách hàng mới
//! trigger: { type: event, event: customer.created }
//! goals:
//!   - { name: Đã kích hoạt, event: card.activated }
//! start: gui-chao-mung
//! steps:
//!   gui-chao-mung:
//!     type: send
//!     purpose: care
//!     targets: [{ channel: email, template: chao-mung-email }]
//!     next: cho-3-ngay
//!   cho-3-ngay: { type: wait, wait: { kind: duration, duration: 3d }, next: ket-thuc }
//!   ket-thuc: { type: exit }
//! ```

mod condition;
mod parse;
mod probe;
mod seeds;
mod segment;
mod span;
mod split;
mod validate;
mod wait;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use condition::{Anchors, Condition, Facts, Op, SeenEvent, Since};
pub use parse::{JourneyErrors, parse_json, parse_yaml};
pub use seeds::{SEED_TEMPLATES, SEEDS, Seed, SeedTemplate, seed_templates};
pub use segment::SegmentFilter;
pub use span::{ClockTime, ClockTimeError, Span, SpanError, Weekday};
pub use split::split_branch;
pub use validate::{MAX_WAIT, TemplateLookup, validate};
pub use wait::WaitFor;

pub use crate::channel::MessageChannel;
use crate::customer::{Lifecycle, Purpose};

/// The longest subject (the value of a per-subject journey's `trigger.per` field), in
/// characters.
pub const MAX_SUBJECT: usize = 128;

/// One journey definition: how customers enter, the steps they go through and what counts as
/// success.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Journey {
    /// Stable slug (`a-z`, `0-9`, `-`; 2–64 characters), e.g. `the-moi-kich-hoat`.
    pub key: String,
    /// The Vietnamese name staff see.
    pub name: String,
    /// What the journey is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// How customers enter.
    pub trigger: Trigger,
    /// Whether a customer may enter again after an earlier enrollment (default: once).
    #[serde(default)]
    pub reentry: Reentry,
    /// Reaching any ends the enrollment as converted, wherever it is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub goals: Vec<Goal>,
    /// Reaching any ends the enrollment without conversion (an opt-out, a closed account).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stops: Vec<StopRule>,
    /// The id of the first step.
    pub start: String,
    /// The steps by id (a slug, 1–64 characters).
    pub steps: BTreeMap<String, Step>,
}

/// How customers enter a journey. Tagged by `type`. Staff may always enroll customers by hand;
/// `manual` says that is the only way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Trigger {
    /// An event about the customer, e.g. `card.issued`, optionally filtered.
    Event {
        /// The dotted event type.
        event: String,
        /// A test on the event (`event.…`) and the customer.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        when: Option<Condition>,
        /// A field of the event's `data` (`plan_id`, `holding_id`): the journey then runs once
        /// per customer **and value of that field** (the enrollment's subject: an instalment
        /// plan, a contract) instead of once per customer. See [`Journey::subject_of`] and
        /// [`Journey::concerns`].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        per: Option<String>,
    },
    /// A saved customer-list filter evaluated on a schedule; each customer matching it enters
    /// (subject to [`Reentry`]).
    Segment {
        /// Which customers.
        filter: SegmentFilter,
        /// How often it is evaluated (at least 1 hour).
        every: Span,
    },
    /// By API only: one customer, a list or a CSV file. (Written `{type: manual}`; a struct
    /// variant, so a field written beside `type`, such as `per`, is refused rather than
    /// ignored.)
    Manual {},
}

/// Whether a customer may enter again. Tagged by `type`. A customer is never in two
/// enrollments of one journey at once, whatever this says (of a journey that runs per subject,
/// never in two about the same subject; the rule counts that subject's enrollments).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Reentry {
    /// Once ever.
    #[default]
    Once,
    /// Again once `interval` has passed since the previous enrollment started.
    OncePer {
        /// The least time between two enrollments.
        interval: Span,
    },
    /// Again whenever triggered, at most `cap` enrollments in all when given.
    Unlimited {
        /// The most enrollments a customer may have.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cap: Option<u32>,
    },
}

impl Reentry {
    /// Whether a customer whose earlier enrollments started at `previous` may enter at `now`.
    pub fn allows(&self, previous: &[DateTime<Utc>], now: DateTime<Utc>) -> bool {
        match self {
            Reentry::Once => previous.is_empty(),
            Reentry::OncePer { interval } => previous.iter().all(|started| {
                started
                    .checked_add_signed(interval.to_delta())
                    .is_some_and(|again| again <= now)
            }),
            Reentry::Unlimited { cap } => {
                cap.is_none_or(|cap| u32::try_from(previous.len()).is_ok_and(|count| count < cap))
            }
        }
    }
}

/// A conversion: when the event arrives (and `when` holds), the enrollment ends as converted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Goal {
    /// The name staff see in reports, e.g. "Đã đăng ký trả góp".
    pub name: String,
    /// The dotted event type, e.g. `installment.registered`.
    pub event: String,
    /// A test on the event (`event.…`) and the customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<Condition>,
}

/// An end without conversion: when the event arrives (and `when` holds), the enrollment ends
/// with `outcome`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StopRule {
    /// The name staff see, e.g. "Từ chối nhận email".
    pub name: String,
    /// The dotted event type, e.g. `consent.refused`.
    pub event: String,
    /// A test on the event (`event.…`) and the customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<Condition>,
    /// The outcome recorded (a slug), e.g. `tu-choi`; `stopped` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
}

/// One channel of a send step and the template used on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendTarget {
    /// The channel.
    pub channel: MessageChannel,
    /// The template's code; its channel must be `channel`.
    pub template: String,
}

/// The signal a [`Step::BranchEngagement`] waits for on the message of its send step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EngagementSignal {
    /// Opened (a click counts as an open: images may be blocked).
    Opened,
    /// A link clicked.
    Clicked,
    /// Delivered to the recipient.
    Delivered,
}

impl EngagementSignal {
    /// The message events that satisfy the signal.
    pub fn event_types(self) -> &'static [&'static str] {
        match self {
            EngagementSignal::Opened => &["message.opened", "message.clicked"],
            EngagementSignal::Clicked => &["message.clicked"],
            EngagementSignal::Delivered => &["message.delivered"],
        }
    }
}

/// The team a ticket goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketQueue {
    /// Telesales.
    Telesales,
    /// Relationship managers.
    Rm,
    /// Customer service (chăm sóc khách hàng).
    Cskh,
}

impl TicketQueue {
    /// Every queue.
    pub const ALL: [TicketQueue; 3] = [TicketQueue::Telesales, TicketQueue::Rm, TicketQueue::Cskh];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            TicketQueue::Telesales => "telesales",
            TicketQueue::Rm => "rm",
            TicketQueue::Cskh => "cskh",
        }
    }

    /// The Vietnamese name staff see.
    pub fn label(self) -> &'static str {
        match self {
            TicketQueue::Telesales => "Telesales",
            TicketQueue::Rm => "Chuyên viên quan hệ khách hàng (RM)",
            TicketQueue::Cskh => "Chăm sóc khách hàng",
        }
    }
}

/// How urgent a ticket is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketPriority {
    /// Thấp.
    Low,
    /// Bình thường.
    Normal,
    /// Cao.
    High,
    /// Khẩn.
    Urgent,
}

/// Who a notify step tells: `owner`, `{user: <user name>}` or `{queue: <queue>}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum NotifyTarget {
    /// The customer's owner (consultant, agent, RM).
    Owner,
    /// One staff member, by user name.
    User(String),
    /// Everyone on a queue.
    Queue(TicketQueue),
}

/// One arm of a [`Step::Split`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitBranch {
    /// Share of enrollments, 1–100; the arms add up to 100.
    pub percent: u8,
    /// The step the arm goes to (an exit with outcome `holdout` for a control group).
    pub next: String,
    /// The name in reports, e.g. "Nhóm đối chứng".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// One step. Tagged by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Send one message: the first target the customer can be reached on is used.
    Send {
        /// Channels and templates in order of preference (ZNS, then SMS).
        targets: Vec<SendTarget>,
        /// Care or marketing (marketing needs consent and follows Decree 91).
        purpose: Purpose,
        /// The next step.
        next: String,
    },
    /// Wait, then go on.
    Wait {
        /// How long.
        wait: WaitFor,
        /// The next step.
        next: String,
    },
    /// Wait for an event that arrives after the step is entered, at most `timeout`.
    WaitForEvent {
        /// The dotted event type.
        event: String,
        /// A test on the event (`event.…`) and the customer.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        when: Option<Condition>,
        /// The longest wait.
        timeout: Span,
        /// Where to go when the event arrives.
        on_event: String,
        /// Where to go when it has not arrived by the timeout.
        on_timeout: String,
    },
    /// Go to `yes` as soon as the message sent by `message_step` shows `signal` (at once when
    /// it already has), or to `no` once `within` has passed since that send.
    BranchEngagement {
        /// A send step on the way to this one.
        message_step: String,
        /// What counts as engagement.
        signal: EngagementSignal,
        /// How long after the send to wait for it.
        within: Span,
        /// Engaged.
        yes: String,
        /// Not engaged in time.
        no: String,
    },
    /// Go to `yes` when the condition holds, else `no`.
    BranchCondition {
        /// The test.
        condition: Condition,
        /// When it holds.
        yes: String,
        /// When it does not.
        no: String,
    },
    /// Split enrollments between arms by percentage, the same arm on every redelivery.
    Split {
        /// At least two arms adding up to 100.
        branches: Vec<SplitBranch>,
    },
    /// Open a ticket for staff (telesales, RM, customer service).
    Ticket {
        /// The team.
        queue: TicketQueue,
        /// How urgent.
        #[serde(default = "normal_priority")]
        priority: TicketPriority,
        /// Time to handle it.
        sla: Span,
        /// The ticket's title.
        title: String,
        /// `care` (default), or `marketing` for an invitation call: the agent may then call
        /// only as Decree 91 allows advertising calls.
        #[serde(default = "care_purpose")]
        purpose: Purpose,
        /// The next step (a journey that needs the outcome waits for `ticket.closed`).
        next: String,
    },
    /// Change the customer's record.
    Update {
        /// Custom attributes to set (`null` removes one).
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        attributes: BTreeMap<String, Value>,
        /// The lifecycle to move to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lifecycle: Option<Lifecycle>,
        /// Tags to add.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        add_tags: Vec<String>,
        /// Tags to remove.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        remove_tags: Vec<String>,
        /// The next step.
        next: String,
    },
    /// Tell staff (the bell in the staff app).
    Notify {
        /// Who.
        to: NotifyTarget,
        /// What they read.
        title: String,
        /// The next step.
        next: String,
    },
    /// End the enrollment.
    Exit {
        /// The outcome recorded (a slug, e.g. `holdout`, `ticket-created`); `completed` when
        /// absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        outcome: Option<String>,
    },
}

fn care_purpose() -> Purpose {
    Purpose::Care
}

fn normal_priority() -> TicketPriority {
    TicketPriority::Normal
}

impl Step {
    /// The wire name of the step's type.
    pub fn kind(&self) -> &'static str {
        match self {
            Step::Send { .. } => "send",
            Step::Wait { .. } => "wait",
            Step::WaitForEvent { .. } => "wait_for_event",
            Step::BranchEngagement { .. } => "branch_engagement",
            Step::BranchCondition { .. } => "branch_condition",
            Step::Split { .. } => "split",
            Step::Ticket { .. } => "ticket",
            Step::Update { .. } => "update",
            Step::Notify { .. } => "notify",
            Step::Exit { .. } => "exit",
        }
    }

    /// The Vietnamese name of the step's type.
    pub fn label(&self) -> &'static str {
        match self {
            Step::Send { .. } => "Gửi tin",
            Step::Wait { .. } => "Chờ",
            Step::WaitForEvent { .. } => "Chờ sự kiện",
            Step::BranchEngagement { .. } => "Rẽ nhánh theo tương tác",
            Step::BranchCondition { .. } => "Rẽ nhánh theo điều kiện",
            Step::Split { .. } => "Chia nhóm",
            Step::Ticket { .. } => "Tạo ticket",
            Step::Update { .. } => "Cập nhật khách hàng",
            Step::Notify { .. } => "Thông báo nhân viên",
            Step::Exit { .. } => "Kết thúc",
        }
    }

    /// The steps this one can go to, each with the field naming it (`next`, `yes`,
    /// `branches[1].next`, …), in field order.
    pub fn successors(&self) -> Vec<(String, &str)> {
        fn field<'s>(name: &str, id: &'s str) -> (String, &'s str) {
            (name.to_owned(), id)
        }
        match self {
            Step::Send { next, .. }
            | Step::Wait { next, .. }
            | Step::Ticket { next, .. }
            | Step::Update { next, .. }
            | Step::Notify { next, .. } => vec![field("next", next)],
            Step::WaitForEvent {
                on_event,
                on_timeout,
                ..
            } => vec![field("on_event", on_event), field("on_timeout", on_timeout)],
            Step::BranchEngagement { yes, no, .. } | Step::BranchCondition { yes, no, .. } => {
                vec![field("yes", yes), field("no", no)]
            }
            Step::Split { branches } => branches
                .iter()
                .enumerate()
                .map(|(i, b)| (format!("branches[{i}].next"), b.next.as_str()))
                .collect(),
            Step::Exit { .. } => Vec::new(),
        }
    }
}

impl Journey {
    /// The step with this id.
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.get(id)
    }

    /// The first goal that `event_type` with these facts (`facts.event` is the event's data)
    /// reaches. A goal's condition sees no event history.
    pub fn goal_for(&self, event_type: &str, facts: &Facts) -> Option<&Goal> {
        self.goals
            .iter()
            .find(|g| g.event == event_type && matches_without_history(g.when.as_ref(), facts))
    }

    /// The first stop rule that `event_type` with these facts reaches.
    pub fn stop_for(&self, event_type: &str, facts: &Facts) -> Option<&StopRule> {
        self.stops
            .iter()
            .find(|s| s.event == event_type && matches_without_history(s.when.as_ref(), facts))
    }

    /// The event types that wake an enrollment waiting at `step_id`: the event of a
    /// `wait_for_event`, the message events of a `branch_engagement`; empty for any other step.
    pub fn listens_for(&self, step_id: &str) -> Vec<&str> {
        match self.step(step_id) {
            Some(Step::WaitForEvent { event, .. }) => vec![event.as_str()],
            Some(Step::BranchEngagement { signal, .. }) => signal.event_types().to_vec(),
            _ => Vec::new(),
        }
    }

    /// Every event type the journey reacts to: its trigger, goals, stop rules and waiting
    /// steps. The engine routes only these to the journey's enrollments.
    pub fn event_types(&self) -> BTreeSet<&str> {
        let mut types = BTreeSet::new();
        if let Trigger::Event { event, .. } = &self.trigger {
            types.insert(event.as_str());
        }
        types.extend(self.goals.iter().map(|g| g.event.as_str()));
        types.extend(self.stops.iter().map(|s| s.event.as_str()));
        for id in self.steps.keys() {
            types.extend(self.listens_for(id));
        }
        types
    }

    /// The field of the trigger event's `data` that names each enrollment's subject, when the
    /// journey runs once per subject (`trigger.per`) rather than once per customer.
    pub fn per(&self) -> Option<&str> {
        match &self.trigger {
            Trigger::Event { per, .. } => per.as_deref(),
            _ => None,
        }
    }

    /// The subject an event with this `data` names for this journey: the value of its
    /// `data.<per>` field, when the journey runs per subject and the value is usable in keys
    /// (a string of 1–[`MAX_SUBJECT`] characters without `#` or control characters, or an
    /// integer, written in decimal). `None` for a journey that runs per customer, and for an
    /// event without such a value: that event names no subject.
    pub fn subject_of(&self, data: &Value) -> Option<String> {
        let value = data.get(self.per()?)?;
        let text = match value {
            Value::String(text) => text.clone(),
            Value::Number(number) if number.is_i64() || number.is_u64() => number.to_string(),
            _ => return None,
        };
        let usable = !text.trim().is_empty()
            && text.chars().count() <= MAX_SUBJECT
            && !text.chars().any(|c| c == '#' || c.is_control());
        usable.then_some(text)
    }

    /// Whether an event with this `data` concerns an enrollment about `subject` (`None`: an
    /// enrollment about no subject in particular). Always, for a journey that runs per
    /// customer. For a journey that runs per subject, only when the event names that very
    /// subject: an `installment.paid_off` of plan A never converts, stops or wakes the
    /// enrollment of plan B, and an event naming no subject moves none of the subjects'
    /// enrollments (it cannot say which plan it is about; converting or waking them all would
    /// count a payment or send a reminder for a plan it is not about).
    pub fn concerns(&self, subject: Option<&str>, data: &Value) -> bool {
        self.per().is_none() || self.subject_of(data).as_deref() == subject
    }

    /// Every template the journey sends, with the step that sends it.
    pub fn templates(&self) -> Vec<(&str, &SendTarget)> {
        self.steps
            .iter()
            .flat_map(|(id, step)| match step {
                Step::Send { targets, .. } => targets.iter().map(|t| (id.as_str(), t)).collect(),
                _ => Vec::new(),
            })
            .collect()
    }

    /// The definition as YAML, enums written as maps (`{all: [...]}`) the way it is read.
    pub fn to_yaml(&self) -> String {
        // Through JSON values: yaml_serde would write externally tagged enums as YAML tags.
        serde_json::to_value(self)
            .ok()
            .and_then(|value| yaml_serde::to_string(&value).ok())
            .unwrap_or_default()
    }
}

/// A goal or stop condition, evaluated on the facts alone (validation keeps history-based
/// conditions out of them).
fn matches_without_history(when: Option<&Condition>, facts: &Facts) -> bool {
    when.is_none_or(|c| {
        c.holds(
            facts,
            &[],
            facts.enrolled_at,
            &Anchors::new(facts.enrolled_at),
        )
    })
}
