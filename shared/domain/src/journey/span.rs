//! The small value types of a journey definition: lengths of time written like `3d` or
//! `2h 30m` ([`Span`]), local times of day written `HH:MM` ([`ClockTime`]) and days of the week
//! ([`Weekday`]). Each parses with a Vietnamese message that never repeats what was written.

use std::fmt;
use std::str::FromStr;

use chrono::{NaiveTime, TimeDelta, Timelike};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// Seconds in a day.
const DAY: u64 = 86_400;

/// The units a [`Span`] may be written in. Months and years are refused because their length
/// varies (humantime would read `1M` as 30.44 days), and so are units below a second.
const UNITS: &[&str] = &[
    "s", "sec", "secs", "second", "seconds", "m", "min", "mins", "minute", "minutes", "h", "hr",
    "hrs", "hour", "hours", "d", "day", "days", "w", "wk", "wks", "week", "weeks",
];

/// The message for a length of time that does not parse.
pub(super) const SPAN_HINT: &str =
    "thời lượng không hợp lệ: viết như \"3d\", \"2h 30m\" hoặc \"1w\" (đơn vị w, d, h, m, s)";

/// The message for a time of day that does not parse.
pub(super) const CLOCK_HINT: &str = "giờ không hợp lệ: viết dạng HH:MM, ví dụ \"09:00\"";

/// A length of time in whole seconds, written the way marketers write it: `30d`, `2h 30m`,
/// `1w`, `45m` (units `w`, `d`, `h`, `m`, `s` and their long forms; no months or years).
/// Serialised in canonical form with the largest units first (`1w` is written back as `7d`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span(u64);

impl Span {
    /// A span of `seconds`.
    pub const fn from_secs(seconds: u64) -> Self {
        Span(seconds)
    }

    /// A span of `minutes`.
    pub const fn from_minutes(minutes: u64) -> Self {
        Span(minutes.saturating_mul(60))
    }

    /// A span of `hours`.
    pub const fn from_hours(hours: u64) -> Self {
        Span(hours.saturating_mul(3600))
    }

    /// A span of `days` (24-hour days: Asia/Ho_Chi_Minh has no daylight saving).
    pub const fn from_days(days: u64) -> Self {
        Span(days.saturating_mul(DAY))
    }

    /// The length in seconds.
    pub const fn as_secs(self) -> u64 {
        self.0
    }

    /// Whether the span is empty.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// As a chrono duration, saturating at chrono's largest.
    pub fn to_delta(self) -> TimeDelta {
        i64::try_from(self.0)
            .ok()
            .and_then(TimeDelta::try_seconds)
            .unwrap_or(TimeDelta::MAX)
    }
}

/// A length of time that does not parse; `Display` says how to write one, in Vietnamese.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{SPAN_HINT}")]
pub struct SpanError;

impl FromStr for Span {
    type Err = SpanError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.is_empty() || text.len() > 64 {
            return Err(SpanError);
        }
        // humantime alone would accept months, years and sub-second units: check the words first.
        let mut word = String::new();
        for c in text.chars().chain(std::iter::once(' ')) {
            if c.is_ascii_alphabetic() {
                word.push(c);
            } else {
                if !word.is_empty() && !UNITS.contains(&word.as_str()) {
                    return Err(SpanError);
                }
                word.clear();
                if !(c.is_ascii_digit() || c == ' ') {
                    return Err(SpanError);
                }
            }
        }
        let parsed = humantime::parse_duration(text).map_err(|_| SpanError)?;
        Ok(Span(parsed.as_secs()))
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("0s");
        }
        let parts = [
            (self.0 / DAY, "d"),
            (self.0 % DAY / 3600, "h"),
            (self.0 % 3600 / 60, "m"),
            (self.0 % 60, "s"),
        ];
        let mut first = true;
        for (value, unit) in parts {
            if value > 0 {
                if !first {
                    f.write_str(" ")?;
                }
                write!(f, "{value}{unit}")?;
                first = false;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Span({self})")
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(FromStrVisitor::<Span>::new(SPAN_HINT))
    }
}

/// A wall-clock time of day in Asia/Ho_Chi_Minh, in whole minutes, written `HH:MM`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClockTime(NaiveTime);

impl ClockTime {
    /// `hour:minute`, when both are in range.
    pub fn new(hour: u32, minute: u32) -> Option<Self> {
        NaiveTime::from_hms_opt(hour, minute, 0).map(ClockTime)
    }

    /// The hour, 0–23.
    pub fn hour(self) -> u32 {
        self.0.hour()
    }

    /// The minute, 0–59.
    pub fn minute(self) -> u32 {
        self.0.minute()
    }
}

/// A time of day that is not `HH:MM`; `Display` says how to write one, in Vietnamese.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{CLOCK_HINT}")]
pub struct ClockTimeError;

impl FromStr for ClockTime {
    type Err = ClockTimeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bytes = text.trim().as_bytes();
        let digit = |i: usize| {
            bytes
                .get(i)
                .filter(|b| b.is_ascii_digit())
                .map(|b| u32::from(b - b'0'))
        };
        if bytes.len() != 5 || bytes[2] != b':' {
            return Err(ClockTimeError);
        }
        match (digit(0), digit(1), digit(3), digit(4)) {
            (Some(h1), Some(h2), Some(m1), Some(m2)) => {
                ClockTime::new(h1 * 10 + h2, m1 * 10 + m2).ok_or(ClockTimeError)
            }
            _ => Err(ClockTimeError),
        }
    }
}

impl fmt::Display for ClockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.hour(), self.minute())
    }
}

impl fmt::Debug for ClockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClockTime({self})")
    }
}

impl Serialize for ClockTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ClockTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(FromStrVisitor::<ClockTime>::new(CLOCK_HINT))
    }
}

/// A day of the week, written `mon` … `sun`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Weekday {
    /// Thứ Hai.
    Mon,
    /// Thứ Ba.
    Tue,
    /// Thứ Tư.
    Wed,
    /// Thứ Năm.
    Thu,
    /// Thứ Sáu.
    Fri,
    /// Thứ Bảy.
    Sat,
    /// Chủ nhật.
    Sun,
}

impl Weekday {
    /// The chrono weekday.
    pub fn to_chrono(self) -> chrono::Weekday {
        match self {
            Weekday::Mon => chrono::Weekday::Mon,
            Weekday::Tue => chrono::Weekday::Tue,
            Weekday::Wed => chrono::Weekday::Wed,
            Weekday::Thu => chrono::Weekday::Thu,
            Weekday::Fri => chrono::Weekday::Fri,
            Weekday::Sat => chrono::Weekday::Sat,
            Weekday::Sun => chrono::Weekday::Sun,
        }
    }
}

/// Deserialises a string through `FromStr`, reporting `hint` (never the text) when it fails.
struct FromStrVisitor<T> {
    hint: &'static str,
    target: std::marker::PhantomData<T>,
}

impl<T> FromStrVisitor<T> {
    fn new(hint: &'static str) -> Self {
        FromStrVisitor {
            hint,
            target: std::marker::PhantomData,
        }
    }
}

impl<T: FromStr> de::Visitor<'_> for FromStrVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.hint)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<T, E> {
        text.parse().map_err(|_| E::custom(self.hint))
    }

    // Anything that is not text (a bare number such as `3`, a list) gets the same hint.
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<T, E> {
        Err(E::custom(self.hint))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<T, E> {
        Err(E::custom(self.hint))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<T, E> {
        Err(E::custom(self.hint))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<T, E> {
        Err(E::custom(self.hint))
    }
}
