//! How long a `wait` step waits ([`WaitFor`]) and the instant it ends ([`WaitFor::until`]).
//! Local times and dates are Asia/Ho_Chi_Minh (fixed +07:00, see [`crate::time`]).

use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::condition::Facts;
use super::span::{ClockTime, Span, Weekday};
use crate::time::{from_vn, vn_date};

/// How long a `wait` step waits. Tagged by `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum WaitFor {
    /// A fixed length of time.
    Duration {
        /// How long, more than zero and at most 400 days.
        duration: Span,
    },
    /// The next time the local clock shows `time` (strictly after now), on one of `weekdays`
    /// when given: never more than 7 days.
    UntilLocalTime {
        /// The local time of day.
        time: ClockTime,
        /// The days allowed; every day when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        weekdays: Option<Vec<Weekday>>,
    },
    /// `offset_days` from a date in the facts, at `time` local: `holding.due_date` with
    /// `offset_days: -3` is three days before the due date. A date already past ends the wait
    /// at once; `customer.birthday` means the next birthday. When the date is missing, or
    /// further than `max`, the wait ends after `max`.
    UntilDate {
        /// `customer.…`, `holding.…`, `event.…` (a `YYYY-MM-DD` date or an RFC 3339 instant) or
        /// `enrolled_at`.
        field: String,
        /// Days added to the date (negative: before it).
        #[serde(default)]
        offset_days: i32,
        /// The local time of day.
        time: ClockTime,
        /// The longest the wait may last.
        max: Span,
    },
}

impl WaitFor {
    /// The instant the wait entered at `now` ends. Never before `now`; never later than
    /// `now + 400 days` for a validated journey.
    pub fn until(&self, now: DateTime<Utc>, facts: &Facts) -> DateTime<Utc> {
        match self {
            WaitFor::Duration { duration } => after(now, *duration),
            WaitFor::UntilLocalTime { time, weekdays } => {
                next_local_time(now, *time, weekdays.as_deref())
            }
            WaitFor::UntilDate {
                field,
                offset_days,
                time,
                max,
            } => {
                let limit = after(now, *max);
                let target = facts.lookup(field).and_then(|value| {
                    let date = date_of(&value)?;
                    if field == "customer.birthday" {
                        next_anniversary(date, *offset_days, *time, now)
                    } else {
                        at_local(shift(date, *offset_days)?, *time)
                    }
                });
                match target {
                    Some(target) => target.clamp(now, limit),
                    None => limit,
                }
            }
        }
    }
}

/// `now + span`, saturating.
fn after(now: DateTime<Utc>, span: Span) -> DateTime<Utc> {
    now.checked_add_signed(span.to_delta())
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The first local `time` strictly after `now` on an allowed weekday (within 7 days; an empty
/// list of weekdays, which validation refuses, waits 7 days).
fn next_local_time(
    now: DateTime<Utc>,
    time: ClockTime,
    weekdays: Option<&[Weekday]>,
) -> DateTime<Utc> {
    let today = vn_date(now);
    (0..=7u64)
        .filter_map(|offset| today.checked_add_days(Days::new(offset)))
        .filter(|date| {
            weekdays.is_none_or(|days| days.iter().any(|d| d.to_chrono() == date.weekday()))
        })
        .filter_map(|date| at_local(date, time))
        .find(|candidate| *candidate > now)
        .unwrap_or_else(|| after(now, Span::from_days(7)))
}

/// The UTC instant of `time` on local `date`.
fn at_local(date: NaiveDate, time: ClockTime) -> Option<DateTime<Utc>> {
    from_vn(date, time.hour(), time.minute())
}

/// `date` moved by `days`.
fn shift(date: NaiveDate, days: i32) -> Option<NaiveDate> {
    let magnitude = Days::new(u64::from(days.unsigned_abs()));
    if days >= 0 {
        date.checked_add_days(magnitude)
    } else {
        date.checked_sub_days(magnitude)
    }
}

/// A date from a fact: `YYYY-MM-DD`, or an RFC 3339 instant read as its local date.
fn date_of(value: &Value) -> Option<NaiveDate> {
    let text = value.as_str()?;
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .or_else(|| {
            DateTime::parse_from_rfc3339(text)
                .ok()
                .map(|t| vn_date(t.with_timezone(&Utc)))
        })
}

/// The first yearly recurrence of `birthday` (29 February falls on 28 February in other
/// years), moved by `offset_days` and at `time`, strictly after `now`.
fn next_anniversary(
    birthday: NaiveDate,
    offset_days: i32,
    time: ClockTime,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let year = vn_date(now).year();
    // The year before counts too: a negative offset can move next January's birthday into
    // this December, a positive one last December's into this January.
    (year - 1..=year + 2)
        .filter_map(|y| {
            NaiveDate::from_ymd_opt(y, birthday.month(), birthday.day())
                .or_else(|| NaiveDate::from_ymd_opt(y, birthday.month(), birthday.day() - 1))
        })
        .filter_map(|date| at_local(shift(date, offset_days)?, time))
        .find(|candidate| *candidate > now)
}
