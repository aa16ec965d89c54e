//! Finding which field of a journey document fails to read. serde says what is wrong but not
//! where; each part of the document is read again on its own, deeper and deeper, and the
//! deepest part that fails names the field (`steps.nhac-lan-2.wait.duration`).

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::condition::{Condition, Op, Since};
use super::segment::SegmentFilter;
use super::span::{ClockTime, Span, Weekday};
use super::wait::WaitFor;
use super::{
    EngagementSignal, Goal, MessageChannel, NotifyTarget, Reentry, SendTarget, SplitBranch, Step,
    StopRule, TicketPriority, TicketQueue, Trigger,
};
use crate::customer::{Classification, Lifecycle, Purpose, Source, UsageStatus};

/// The error of reading `value` as `T`, if any.
fn fails<T: DeserializeOwned>(value: &Value) -> Option<serde_json::Error> {
    T::deserialize(value).err()
}

/// What a field holds, for reading it alone.
#[derive(Clone, Copy)]
enum Kind {
    /// A value read as it is.
    Leaf(fn(&Value) -> Option<serde_json::Error>),
    /// An object whose fields are probed in turn.
    Object(fn(&Value) -> Option<serde_json::Error>),
    /// A list of objects.
    List(fn(&Value) -> Option<serde_json::Error>),
    /// A condition (a one-key map, possibly nested).
    Condition,
}

/// The kind of each field name used anywhere in the schema. A name means the same thing
/// wherever it appears, except `lifecycle`, which is a condition's key inside conditions.
fn kind_of_field(name: &str) -> Option<Kind> {
    Some(match name {
        "key" | "name" | "description" | "start" | "event" | "next" | "yes" | "no" | "on_event"
        | "on_timeout" | "message_step" | "title" | "template" | "outcome" | "label" | "field"
        | "path" | "step" | "has" | "owner" | "team" | "tag" | "reason" | "type" | "kind"
        | "per" => Kind::Leaf(fails::<String>),
        "every" | "interval" | "timeout" | "within" | "sla" | "duration" | "max" => {
            Kind::Leaf(fails::<Span>)
        }
        "time" => Kind::Leaf(fails::<ClockTime>),
        "weekdays" => Kind::Leaf(fails::<Vec<Weekday>>),
        "offset_days" => Kind::Leaf(fails::<i32>),
        "purpose" => Kind::Leaf(fails::<Purpose>),
        "signal" => Kind::Leaf(fails::<EngagementSignal>),
        "queue" => Kind::Leaf(fails::<TicketQueue>),
        "priority" => Kind::Leaf(fails::<TicketPriority>),
        "to" => Kind::Leaf(fails::<NotifyTarget>),
        "lifecycle" => Kind::Leaf(fails::<Lifecycle>),
        "classification" => Kind::Leaf(fails::<Classification>),
        "source" => Kind::Leaf(fails::<Source>),
        "usage_status" => Kind::Leaf(fails::<UsageStatus>),
        "created_from" | "created_to" => Kind::Leaf(fails::<chrono::DateTime<chrono::Utc>>),
        "expires_from" | "expires_to" => Kind::Leaf(fails::<chrono::NaiveDate>),
        "remaining_ratio_min" | "remaining_ratio_max" => Kind::Leaf(fails::<f64>),
        "created_before_days" | "created_within_days" | "cap" | "min_count" | "min" => {
            Kind::Leaf(fails::<u32>)
        }
        "percent" => Kind::Leaf(fails::<u8>),
        "channel" => Kind::Leaf(fails::<MessageChannel>),
        "since" => Kind::Leaf(fails::<Since>),
        "op" => Kind::Leaf(fails::<Op>),
        "is" => Kind::Leaf(fails::<Vec<Lifecycle>>),
        "attributes" => Kind::Leaf(fails::<BTreeMap<String, Value>>),
        "add_tags" | "remove_tags" => Kind::Leaf(fails::<Vec<String>>),
        "trigger" => Kind::Object(fails::<Trigger>),
        "reentry" => Kind::Object(fails::<Reentry>),
        "wait" => Kind::Object(fails::<WaitFor>),
        "filter" => Kind::Object(fails::<SegmentFilter>),
        "goals" => Kind::List(fails::<Goal>),
        "stops" => Kind::List(fails::<StopRule>),
        "targets" => Kind::List(fails::<SendTarget>),
        "branches" => Kind::List(fails::<SplitBranch>),
        "condition" | "when" => Kind::Condition,
        _ => return None,
    })
}

/// The deepest failing part of a journey document and its error; `None` when no single part
/// fails (the problem is at the top: a missing or unknown field).
pub(super) fn journey(value: &Value) -> Option<(String, serde_json::Error)> {
    let object = value.as_object()?;
    if let Some(steps) = object.get("steps") {
        let Some(steps) = steps.as_object() else {
            return fails::<BTreeMap<String, Step>>(steps).map(|e| ("steps".to_owned(), e));
        };
        for (id, step) in steps {
            if let Some(error) = fails::<Step>(step) {
                let path = format!("steps.{id}");
                return Some(deeper(&path, step, error));
            }
        }
    }
    fields(None, object)
}

/// The first field of `object` that fails alone, as deep as it goes.
fn fields(
    parent: Option<&str>,
    object: &Map<String, Value>,
) -> Option<(String, serde_json::Error)> {
    for (name, value) in object {
        if parent.is_none() && name == "steps" {
            continue;
        }
        let path = parent.map_or_else(|| name.clone(), |p| format!("{p}.{name}"));
        let Some(kind) = kind_of_field(name) else {
            continue;
        };
        let found = match kind {
            Kind::Leaf(read) => read(value).map(|e| (path, e)),
            Kind::Object(read) => read(value).map(|e| deeper(&path, value, e)),
            Kind::List(read) => list(&path, value, read),
            Kind::Condition => condition(&path, value),
        };
        if found.is_some() {
            return found;
        }
    }
    None
}

/// `value` failed with `error` at `path`: a field inside it may fail on its own.
fn deeper(path: &str, value: &Value, error: serde_json::Error) -> (String, serde_json::Error) {
    value
        .as_object()
        .and_then(|object| fields(Some(path), object))
        .unwrap_or_else(|| (path.to_owned(), error))
}

/// The first item of a list that fails, as deep as it goes.
fn list(
    path: &str,
    value: &Value,
    read: fn(&Value) -> Option<serde_json::Error>,
) -> Option<(String, serde_json::Error)> {
    let Some(items) = value.as_array() else {
        return fails::<Vec<Value>>(value).map(|e| (path.to_owned(), e));
    };
    items
        .iter()
        .enumerate()
        .find_map(|(i, item)| read(item).map(|error| deeper(&format!("{path}[{i}]"), item, error)))
}

/// The deepest failing part of a condition.
fn condition(path: &str, value: &Value) -> Option<(String, serde_json::Error)> {
    let error = fails::<Condition>(value)?;
    let Some((key, inner)) = value
        .as_object()
        .filter(|o| o.len() == 1)
        .and_then(|o| o.iter().next())
    else {
        return Some((path.to_owned(), error));
    };
    let here = format!("{path}.{key}");
    let found = match key.as_str() {
        "all" | "any" => inner.as_array().and_then(|items| {
            items
                .iter()
                .enumerate()
                .find_map(|(i, item)| condition(&format!("{here}[{i}]"), item))
        }),
        "not" => condition(&here, inner),
        // `lifecycle` inside a condition is `{is: [...]}`, not a lifecycle value.
        "lifecycle" => inner
            .get("is")
            .and_then(|is| fails::<Vec<Lifecycle>>(is).map(|e| (format!("{here}.is"), e))),
        "attribute" | "event_seen" | "tag" | "visits" => inner
            .as_object()
            .and_then(|object| fields(Some(&here), object)),
        _ => None,
    };
    Some(found.unwrap_or((
        if is_variant(key) {
            here
        } else {
            path.to_owned()
        },
        error,
    )))
}

/// Whether `key` names a kind of condition.
fn is_variant(key: &str) -> bool {
    matches!(
        key,
        "all" | "any" | "not" | "attribute" | "event_seen" | "lifecycle" | "tag" | "visits"
    )
}

/// A missing or unknown field, or an unknown `type`/`kind`, is placed on that field: the
/// path a form shows the message next to.
pub(super) fn refine(path: String, raw: &str, value: &Value) -> (String, String) {
    let join = |name: &str| {
        if path.is_empty() {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    for prefix in ["missing field `", "unknown field `"] {
        if let Some(name) = raw.strip_prefix(prefix).and_then(|r| r.split('`').next())
            && !name.is_empty()
            && name.len() <= 64
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return (join(name), raw.to_owned());
        }
    }
    if raw.starts_with("unknown variant `") {
        let node = segments(&path).try_fold(value, |node, segment| match segment {
            Segment::Key(key) => node.get(key),
            Segment::Index(index) => node.get(index),
        });
        for tag in ["type", "kind"] {
            if node.is_some_and(|n| n.get(tag).is_some()) {
                return (join(tag), raw.to_owned());
            }
        }
    }
    (path, raw.to_owned())
}

/// One part of a field path.
pub(super) enum Segment<'a> {
    /// A map key.
    Key(&'a str),
    /// A list index.
    Index(usize),
}

/// The parts of `steps.a.targets[0].template`: `steps`, `a`, `targets`, `0`, `template`.
/// Step ids have no dots or brackets (they are slugs).
pub(super) fn segments(path: &str) -> impl Iterator<Item = Segment<'_>> {
    path.split('.')
        .filter(|part| !part.is_empty())
        .flat_map(|part| {
            let mut pieces = part.split('[');
            let key = pieces.next().filter(|k| !k.is_empty()).map(Segment::Key);
            key.into_iter().chain(pieces.filter_map(|index| {
                index
                    .strip_suffix(']')
                    .and_then(|i| i.parse().ok())
                    .map(Segment::Index)
            }))
        })
}
