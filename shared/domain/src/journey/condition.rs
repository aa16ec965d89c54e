//! Conditions: what a branch, a trigger, a goal or a waited-for event tests, and how they are
//! evaluated against what the engine knows about one enrollment ([`Facts`], the customer's
//! recent events as [`SeenEvent`]s, and the enrollment's [`Anchors`]).
//!
//! In YAML a condition is a one-key map:
//! ```yaml
//! all:
//!   - lifecycle: { is: [consulting] }
//!   - attribute: { path: customer.attributes.han_muc, op: gte, value: 50000000 }
//!   - not:
//!       event_seen: { event: card.transaction, since: "event:card.activated", within: 30d }
//! ```

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use serde_json::Value;

use super::span::Span;
use crate::customer::Lifecycle;

/// What the engine knows about the customer of one enrollment when it evaluates a rule. Each
/// object is `null` when there is none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Facts {
    /// The customer as templates see it: `lifecycle`, `tags`, `birthday` (`YYYY-MM-DD`),
    /// `attributes` (the organisation's own fields), …
    #[serde(default)]
    pub customer: Value,
    /// The holding (card, installment plan, contract) the enrollment is about: `due_date`,
    /// `expires_on`, …
    #[serde(default)]
    pub holding: Value,
    /// The data of the event being looked at: the trigger, a goal's or a waited-for event.
    #[serde(default)]
    pub event: Value,
    /// When the enrollment started.
    pub enrolled_at: DateTime<Utc>,
}

impl Facts {
    /// Facts with only an enrollment time.
    pub fn new(enrolled_at: DateTime<Utc>) -> Self {
        Facts {
            customer: Value::Null,
            holding: Value::Null,
            event: Value::Null,
            enrolled_at,
        }
    }

    /// The same facts looking at another event's data.
    pub fn with_event(&self, event: Value) -> Self {
        Facts {
            event,
            ..self.clone()
        }
    }

    /// The value at a dotted path (`customer.attributes.han_muc`, `holding.due_date`,
    /// `event.amount`, `enrolled_at`); a number segment indexes an array. `None` when any part
    /// is missing.
    pub fn lookup(&self, path: &str) -> Option<Value> {
        Scope::of(self).lookup(path).map(Lookup::into_owned)
    }
}

/// One event in the customer's history, as the engine passes it to [`Condition::holds`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeenEvent {
    /// Its dotted type, e.g. `card.transaction`.
    pub kind: String,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Its payload.
    #[serde(default)]
    pub data: Value,
}

/// The instants an enrollment's conditions can be measured from.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Anchors {
    /// When the enrollment started.
    pub enrolled_at: DateTime<Utc>,
    /// When each step was last entered, by step id.
    #[serde(default)]
    pub step_entered: BTreeMap<String, DateTime<Utc>>,
    /// The first time each event type was seen since the enrollment started.
    #[serde(default)]
    pub first_event: BTreeMap<String, DateTime<Utc>>,
    /// How many times each step has been entered in this enrollment, by step id (loop caps).
    #[serde(default)]
    pub visits: BTreeMap<String, u32>,
}

impl Anchors {
    /// Anchors of an enrollment that has just started.
    pub fn new(enrolled_at: DateTime<Utc>) -> Self {
        Anchors {
            enrolled_at,
            ..Anchors::default()
        }
    }
}

/// A comparison of [`Condition::Attribute`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Equal (numbers by value: `1` equals `1.0`).
    Eq,
    /// Not equal; a missing value is not equal to anything.
    Ne,
    /// Greater than: numbers by value, text in byte order (so ISO dates compare as dates).
    Gt,
    /// Greater than or equal.
    Gte,
    /// Less than.
    Lt,
    /// Less than or equal.
    Lte,
    /// Present and not null; takes no `value`.
    Exists,
    /// Equal to one of the `value` list.
    In,
    /// A list holding `value`, or text containing it.
    Contains,
}

impl Op {
    /// The wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Ne => "ne",
            Op::Gt => "gt",
            Op::Gte => "gte",
            Op::Lt => "lt",
            Op::Lte => "lte",
            Op::Exists => "exists",
            Op::In => "in",
            Op::Contains => "contains",
        }
    }
}

/// Where an [`Condition::EventSeen`] window starts. Written `enrolled`, `step:<step id>` or
/// `event:<event type>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Since {
    /// When the enrollment started.
    Enrolled,
    /// When the enrollment last entered this step.
    Step(String),
    /// The first time this event type was seen in the enrollment.
    Event(String),
}

/// The message for a `since` that does not parse.
pub(super) const SINCE_HINT: &str = "mốc thời gian không hợp lệ: viết \"enrolled\", \"step:<mã bước>\" hoặc \"event:<loại sự kiện>\"";

impl FromStr for Since {
    type Err = &'static str;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text == "enrolled" {
            return Ok(Since::Enrolled);
        }
        match text.split_once(':') {
            Some(("step", id)) if !id.trim().is_empty() => Ok(Since::Step(id.trim().to_owned())),
            Some(("event", kind)) if !kind.trim().is_empty() => {
                Ok(Since::Event(kind.trim().to_owned()))
            }
            _ => Err(SINCE_HINT),
        }
    }
}

impl fmt::Display for Since {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Since::Enrolled => f.write_str("enrolled"),
            Since::Step(id) => write!(f, "step:{id}"),
            Since::Event(kind) => write!(f, "event:{kind}"),
        }
    }
}

impl Serialize for Since {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Since {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = Since;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(SINCE_HINT)
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Since, E> {
                text.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

/// A test on an enrollment's facts and history. Externally tagged: `{all: [...]}`,
/// `{not: {...}}`, `{attribute: {path, op, value}}`, `{event_seen: {...}}`,
/// `{lifecycle: {is: [...]}}`, `{tag: {has: ...}}`, `{visits: {step, min}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// Every condition holds (true when empty).
    All(Vec<Condition>),
    /// At least one condition holds (false when empty).
    Any(Vec<Condition>),
    /// The condition does not hold.
    Not(Box<Condition>),
    /// A value of the facts compared with `value`.
    Attribute {
        /// `customer.…`, `holding.…` or `event.…` (the event being looked at).
        path: String,
        /// The comparison.
        op: Op,
        /// What to compare with; absent for `exists`, a list for `in`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<Value>,
    },
    /// The customer had at least `min_count` events of type `event` (matching `when`) in a
    /// window: from `since` for `within` (or until now), or the last `within` when there is no
    /// `since`, or ever. A `since` that has not happened yet makes the condition false.
    EventSeen {
        /// The event type, e.g. `card.transaction`.
        event: String,
        /// How long the window lasts.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        within: Option<Span>,
        /// Where the window starts.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: Option<Since>,
        /// How many events are needed (default 1).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min_count: Option<u32>,
        /// A test on each event; `event.…` paths read that event's data.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        when: Option<Box<Condition>>,
    },
    /// The customer's lifecycle is one of these.
    Lifecycle {
        /// The accepted lifecycles.
        is: Vec<Lifecycle>,
    },
    /// The customer has this tag.
    Tag {
        /// The tag.
        has: String,
    },
    /// The enrollment entered `step` at least `min` times: the cap of a loop.
    Visits {
        /// The step counted.
        step: String,
        /// How many entries make it hold.
        min: u32,
    },
}

impl Condition {
    /// Whether the condition holds for these facts, this event history (the engine passes the
    /// customer's events it has kept, any order) and these anchors, at `now`.
    pub fn holds(
        &self,
        facts: &Facts,
        events: &[SeenEvent],
        now: DateTime<Utc>,
        anchors: &Anchors,
    ) -> bool {
        let context = Context {
            events,
            now,
            anchors,
        };
        context.holds(self, Scope::of(facts))
    }
}

/// What a condition is evaluated with, apart from the facts (which change inside `event_seen`).
struct Context<'a> {
    events: &'a [SeenEvent],
    now: DateTime<Utc>,
    anchors: &'a Anchors,
}

/// The facts as borrowed parts, so `event_seen` can look at each event without copying.
#[derive(Clone, Copy)]
struct Scope<'a> {
    customer: &'a Value,
    holding: &'a Value,
    event: &'a Value,
    enrolled_at: DateTime<Utc>,
}

/// A looked-up value: most are borrowed; `enrolled_at` is made on the spot.
enum Lookup<'a> {
    Borrowed(&'a Value),
    Owned(Value),
}

impl Lookup<'_> {
    fn value(&self) -> &Value {
        match self {
            Lookup::Borrowed(v) => v,
            Lookup::Owned(v) => v,
        }
    }

    fn into_owned(self) -> Value {
        match self {
            Lookup::Borrowed(v) => v.clone(),
            Lookup::Owned(v) => v,
        }
    }
}

impl<'a> Scope<'a> {
    fn of(facts: &'a Facts) -> Self {
        Scope {
            customer: &facts.customer,
            holding: &facts.holding,
            event: &facts.event,
            enrolled_at: facts.enrolled_at,
        }
    }

    fn lookup(&self, path: &str) -> Option<Lookup<'a>> {
        let mut parts = path.split('.');
        let root = match parts.next()? {
            "customer" => self.customer,
            "holding" => self.holding,
            "event" => self.event,
            "enrolled_at" if path == "enrolled_at" => {
                return Some(Lookup::Owned(Value::String(self.enrolled_at.to_rfc3339())));
            }
            _ => return None,
        };
        let mut current = root;
        for part in parts {
            current = match current {
                Value::Object(map) => map.get(part)?,
                Value::Array(items) => items.get(part.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        (!current.is_null()).then_some(Lookup::Borrowed(current))
    }
}

impl Context<'_> {
    fn holds(&self, condition: &Condition, scope: Scope<'_>) -> bool {
        match condition {
            Condition::All(all) => all.iter().all(|c| self.holds(c, scope)),
            Condition::Any(any) => any.iter().any(|c| self.holds(c, scope)),
            Condition::Not(inner) => !self.holds(inner, scope),
            Condition::Attribute { path, op, value } => {
                let actual = scope.lookup(path);
                compare(actual.as_ref().map(Lookup::value), *op, value.as_ref())
            }
            Condition::EventSeen {
                event,
                within,
                since,
                min_count,
                when,
            } => self.event_seen(event, *within, since.as_ref(), *min_count, when, scope),
            Condition::Lifecycle { is } => scope
                .customer
                .get("lifecycle")
                .and_then(Value::as_str)
                .and_then(|l| l.parse::<Lifecycle>().ok())
                .is_some_and(|l| is.contains(&l)),
            Condition::Tag { has } => scope
                .customer
                .get("tags")
                .and_then(Value::as_array)
                .is_some_and(|tags| tags.iter().any(|t| t.as_str() == Some(has))),
            Condition::Visits { step, min } => {
                self.anchors.visits.get(step).copied().unwrap_or(0) >= *min
            }
        }
    }

    fn event_seen(
        &self,
        kind: &str,
        within: Option<Span>,
        since: Option<&Since>,
        min_count: Option<u32>,
        when: &Option<Box<Condition>>,
        scope: Scope<'_>,
    ) -> bool {
        let (from, to) = match (since, within) {
            (Some(since), within) => {
                let Some(anchor) = self.anchor(since) else {
                    return false;
                };
                let to = within.map_or(self.now, |w| {
                    anchor
                        .checked_add_signed(w.to_delta())
                        .unwrap_or(DateTime::<Utc>::MAX_UTC)
                        .min(self.now)
                });
                (anchor, to)
            }
            (None, Some(within)) => (
                self.now
                    .checked_sub_signed(within.to_delta())
                    .unwrap_or(DateTime::<Utc>::MIN_UTC),
                self.now,
            ),
            (None, None) => (DateTime::<Utc>::MIN_UTC, self.now),
        };
        let needed = usize::try_from(min_count.unwrap_or(1)).unwrap_or(usize::MAX);
        self.events
            .iter()
            .filter(|e| e.kind == kind && e.at >= from && e.at <= to)
            .filter(|e| {
                when.as_deref().is_none_or(|w| {
                    self.holds(
                        w,
                        Scope {
                            event: &e.data,
                            ..scope
                        },
                    )
                })
            })
            .take(needed)
            .count()
            >= needed
    }

    fn anchor(&self, since: &Since) -> Option<DateTime<Utc>> {
        match since {
            Since::Enrolled => Some(self.anchors.enrolled_at),
            Since::Step(id) => self.anchors.step_entered.get(id).copied(),
            Since::Event(kind) => self.anchors.first_event.get(kind).copied().or_else(|| {
                // Not kept as an anchor: the earliest such event since the enrollment started.
                self.events
                    .iter()
                    .filter(|e| &e.kind == kind && e.at >= self.anchors.enrolled_at)
                    .map(|e| e.at)
                    .min()
            }),
        }
    }
}

/// `actual op expected`; a missing `actual` only satisfies `ne`.
fn compare(actual: Option<&Value>, op: Op, expected: Option<&Value>) -> bool {
    let Some(actual) = actual else {
        return op == Op::Ne;
    };
    match (op, expected) {
        (Op::Exists, _) => true,
        (Op::Eq, Some(expected)) => equal(actual, expected),
        (Op::Ne, Some(expected)) => !equal(actual, expected),
        (Op::Ne, None) => true,
        (Op::Gt, Some(e)) => order(actual, e) == Some(Ordering::Greater),
        (Op::Gte, Some(e)) => matches!(order(actual, e), Some(Ordering::Greater | Ordering::Equal)),
        (Op::Lt, Some(e)) => order(actual, e) == Some(Ordering::Less),
        (Op::Lte, Some(e)) => matches!(order(actual, e), Some(Ordering::Less | Ordering::Equal)),
        (Op::In, Some(Value::Array(options))) => options.iter().any(|o| equal(actual, o)),
        (Op::Contains, Some(expected)) => match (actual, expected) {
            (Value::Array(items), _) => items.iter().any(|i| equal(i, expected)),
            (Value::String(text), Value::String(part)) => text.contains(part.as_str()),
            _ => false,
        },
        _ => false,
    }
}

/// JSON equality, with numbers compared by value.
fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(_), Value::Number(_)) => order(a, b) == Some(Ordering::Equal),
        _ => a == b,
    }
}

/// Numbers by value (exactly when both are integers), text in byte order; otherwise unordered.
fn order(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if let (Some(x), Some(y)) = (x.as_i64(), y.as_i64()) {
                Some(x.cmp(&y))
            } else if let (Some(x), Some(y)) = (x.as_u64(), y.as_u64()) {
                Some(x.cmp(&y))
            } else {
                x.as_f64()?.partial_cmp(&y.as_f64()?)
            }
        }
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}
