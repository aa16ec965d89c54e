//! Vietnam's working calendar: which days are worked, the working hours of a working day, and
//! the time arithmetic that service levels need ("4 working hours", "2 working days") and the
//! advertising-call window ("08:00–17:00 on working days"). As data an admin can inspect and
//! edit ([`WorkCalendar`], default: the usual office week) and pure queries. No I/O.
//!
//! # The legal rules
//! The Labour Code 2019 (Bộ luật Lao động số 45/2019/QH14, in force since 2021-01-01) sets the
//! public holidays on full pay, Article 112, clause 1 (Điều 112 khoản 1):
//! - **Tết Dương lịch**: 1 day, 1 January.
//! - **Tết Âm lịch** (Tết Nguyên đán): 5 days. The Prime Minister fixes the exact days each year
//!   (Điều 112 khoản 3); the usual choice, computed here, is the last day of the lunar year (the
//!   eve, the 29th or 30th of the 12th lunar month) and the 1st to the 4th of the 1st lunar
//!   month.
//! - **Ngày Chiến thắng**: 1 day, 30 April (named here "Ngày Giải phóng miền Nam, thống nhất đất
//!   nước").
//! - **Ngày Quốc tế Lao động**: 1 day, 1 May.
//! - **Quốc khánh**: 2 days, 2 September and an adjacent day before or after, which the Prime
//!   Minister chooses; computed here as 1 September.
//! - **Giỗ Tổ Hùng Vương**: 1 day, the 10th of the 3rd lunar month.
//!
//! And Article 111, clause 3 (Điều 111 khoản 3): a public holiday that falls on the weekly rest
//! day gives the next working day off instead (nghỉ bù). Computed here as: each holiday date
//! that falls on a [`WorkCalendar::weekend`] day gives one compensatory day, the first later day
//! that is neither a weekend day, nor a holiday, nor already taken by an earlier compensation
//! (so Saturday 29/4/2023, Giỗ Tổ, and Sunday 30/4/2023 give Tuesday 2/5 and Wednesday 3/5,
//! since Monday 1/5 is itself a holiday).
//!
//! Each year the government also publishes its decision for the civil service (the exact Tết
//! days, bridge days, make-up Saturdays), which banks and most companies follow. That decision
//! is data: its extra days off go in [`WorkCalendar::days_off`], its make-up working days (ngày
//! làm bù) and any computed day it does not give off go in [`WorkCalendar::working_days`], which
//! win over everything else. The same goes for a Quốc khánh on 2–3 September instead of 1–2
//! September, and for days off the law gains later (the Politburo's Resolution 80-NQ/TW means 24
//! November, Ngày Văn hóa Việt Nam, to become a paid day off; until Article 112 says so, it is
//! not computed here).
//!
//! # Lunar dates
//! Vietnam's lunar calendar is computed for UTC+07:00 (meridian 105°E), China's for UTC+08:00,
//! and a new moon close to midnight puts them a day apart: Tết 2007 was 17 February in Viet Nam
//! and 18 February in China. The conversion is Hồ Ngọc Đức's algorithm ([`amlich_core`]) with a
//! time zone of 7, computed for the years 1900 to 2199 only ([`LUNAR_YEARS`]); outside them, only
//! the solar holidays are computed.
//!
//! # Time
//! Instants are UTC; days and hours are Vietnamese wall-clock time (fixed UTC+07:00, see
//! [`crate::time`]). Working periods are half-open like [`LocalWindow`]: with 08:00–12:00, 12:00
//! itself is lunch. Searches for the next working time give up after [`SEARCH_DAYS`] days
//! without any (a calendar with every day off), returning `None`.

use std::collections::BTreeSet;
use std::ops::RangeInclusive;

use amlich_core::lunar::convert_lunar_to_solar;
use chrono::{
    DateTime, Datelike, Days, Duration, NaiveDate, NaiveTime, TimeZone, Timelike, Utc, Weekday,
};
use serde::{Deserialize, Serialize};

use crate::compliance::{LocalWindow, hm};
use crate::time::{to_vn, vn_date, vn_offset};

/// The most dates [`WorkCalendar::days_off`] and [`WorkCalendar::working_days`] may each hold.
pub const MAX_DATES: usize = 1000;

/// How many days after the day of an instant a search looks for working time before it gives
/// up and returns `None`.
pub const SEARCH_DAYS: u32 = 400;

/// The lunar years whose Tết and Giỗ Tổ are computed: the range the lunar algorithm is known to
/// be accurate for.
pub const LUNAR_YEARS: RangeInclusive<i32> = 1900..=2199;

/// The name of 1 January's holiday.
pub const NEW_YEAR: &str = "Tết Dương lịch";
/// The name of the five days of the lunar new year.
pub const LUNAR_NEW_YEAR: &str = "Tết Nguyên đán";
/// The name of the 10th of the 3rd lunar month's holiday.
pub const HUNG_KINGS: &str = "Giỗ Tổ Hùng Vương";
/// The name of 30 April's holiday.
pub const REUNIFICATION_DAY: &str = "Ngày Giải phóng miền Nam, thống nhất đất nước";
/// The name of 1 May's holiday.
pub const LABOUR_DAY: &str = "Ngày Quốc tế Lao động";
/// The name of the two days of 1 and 2 September.
pub const NATIONAL_DAY: &str = "Quốc khánh";
/// The name of a compensatory day for a holiday that fell on a weekend day.
pub const COMPENSATION: &str = "Nghỉ bù";

/// Vietnam's time zone for the lunar algorithm, in hours east of UTC.
const LUNAR_TIME_ZONE: f64 = 7.0;

/// How far after a holiday its compensatory day is looked for.
const COMPENSATION_SEARCH_DAYS: u64 = 31;

/// The morning period of the usual office day.
const MORNING: LocalWindow = LocalWindow {
    start: hm(8, 0),
    end: hm(12, 0),
};

/// The afternoon period of the usual office day, after the lunch break.
const AFTERNOON: LocalWindow = LocalWindow {
    start: hm(13, 0),
    end: hm(17, 0),
};

/// Every day of the week, Monday first.
const WEEK: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

/// Why a calendar was rejected. `field()` names the offending field as a path (`hours.1`,
/// `weekend`, `days_off`, …) for the API error body's `fields`; `Display` is a Vietnamese
/// sentence for the admin, starting with that path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CalendarError {
    /// A required list left empty.
    #[error("{field}: không được để trống")]
    Empty {
        /// The empty field.
        field: String,
    },
    /// A period boundary with seconds: periods are set in whole minutes.
    #[error("{field}: giờ phải tròn phút (dạng HH:MM)")]
    TimeNotWholeMinute {
        /// The period's field.
        field: String,
    },
    /// A period whose start is not before its end.
    #[error("{field}: giờ bắt đầu phải trước giờ kết thúc (không hỗ trợ khung giờ qua nửa đêm)")]
    WindowNotOrdered {
        /// The period's field.
        field: String,
    },
    /// A period that starts before the one listed before it.
    #[error("{field}: các khung giờ làm việc phải xếp theo thứ tự trong ngày")]
    HoursNotOrdered {
        /// The period's field.
        field: String,
    },
    /// A period that starts before the one listed before it ends.
    #[error("{field}: khung giờ làm việc chồng lên khung giờ trước")]
    HoursOverlap {
        /// The period's field.
        field: String,
    },
    /// Every day of the week is a weekend day.
    #[error("{field}: phải còn ít nhất một ngày làm việc trong tuần")]
    NoWorkingWeekday {
        /// The weekend's field.
        field: String,
    },
    /// More dates than [`MAX_DATES`].
    #[error("{field}: tối đa {max} ngày")]
    TooManyDates {
        /// The list's field.
        field: String,
        /// The most dates allowed.
        max: usize,
    },
    /// A date that is both a day off and a make-up working day.
    #[error("{field}: ngày {date} vừa là ngày nghỉ vừa là ngày làm bù")]
    DateConflict {
        /// The make-up days' field.
        field: String,
        /// The date in both lists.
        date: NaiveDate,
    },
}

impl CalendarError {
    /// The machine-readable reason, stable for API clients: `empty`, `time_not_whole_minute`,
    /// `window_not_ordered`, `hours_not_ordered`, `hours_overlap`, `no_working_weekday`,
    /// `too_many_dates` or `date_conflict`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty { .. } => "empty",
            Self::TimeNotWholeMinute { .. } => "time_not_whole_minute",
            Self::WindowNotOrdered { .. } => "window_not_ordered",
            Self::HoursNotOrdered { .. } => "hours_not_ordered",
            Self::HoursOverlap { .. } => "hours_overlap",
            Self::NoWorkingWeekday { .. } => "no_working_weekday",
            Self::TooManyDates { .. } => "too_many_dates",
            Self::DateConflict { .. } => "date_conflict",
        }
    }

    /// The path of the offending field.
    pub fn field(&self) -> &str {
        match self {
            Self::Empty { field }
            | Self::TimeNotWholeMinute { field }
            | Self::WindowNotOrdered { field }
            | Self::HoursNotOrdered { field }
            | Self::HoursOverlap { field }
            | Self::NoWorkingWeekday { field }
            | Self::TooManyDates { field, .. }
            | Self::DateConflict { field, .. } => field,
        }
    }
}

/// The days and hours worked, in Vietnamese local time: data an admin can inspect and edit
/// (then [`WorkCalendar::validate`]). The default is the usual office calendar: 08:00–12:00 and
/// 13:00–17:00, Monday to Friday, with the statutory holidays. Missing fields read as the
/// default's, so `{"days_off": ["2026-01-02"]}` is the office calendar with one more day off.
///
/// A day is worked when it is in `working_days`; otherwise when it is not in `days_off`, not a
/// statutory holiday or compensatory day (when `statutory`), and not a `weekend` day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkCalendar {
    /// The working periods of a working day, in order and not overlapping, e.g. `[{"start":
    /// "08:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}]`. A period cannot reach
    /// midnight: 23:59 is the latest end.
    pub hours: Vec<LocalWindow>,
    /// The days of the week not worked, serialised `"Mon"` to `"Sun"` (full English names are
    /// read too).
    pub weekend: Vec<Weekday>,
    /// Further dates off, serialised `"YYYY-MM-DD"`: the government's yearly decision (the
    /// exact Tết days, bridge days), the company's own days off.
    pub days_off: BTreeSet<NaiveDate>,
    /// Make-up working days (ngày làm bù), serialised `"YYYY-MM-DD"`: worked even when a
    /// weekend day, a day off or a statutory holiday.
    pub working_days: BTreeSet<NaiveDate>,
    /// Whether the Labour Code's public holidays and their compensatory days are computed for
    /// every year ([`WorkCalendar::holidays`]).
    pub statutory: bool,
}

impl Default for WorkCalendar {
    fn default() -> Self {
        Self {
            hours: vec![MORNING, AFTERNOON],
            weekend: vec![Weekday::Sat, Weekday::Sun],
            days_off: BTreeSet::new(),
            working_days: BTreeSet::new(),
            statutory: true,
        }
    }
}

impl WorkCalendar {
    /// Checks an admin's edit of the calendar: at least one period; each in whole minutes with
    /// its start before its end; periods in order without overlap (one may start where the
    /// previous ends); at least one weekday worked; at most [`MAX_DATES`] dates in each list;
    /// no date both off and worked. Reports the first problem found.
    pub fn validate(&self) -> Result<(), CalendarError> {
        if self.hours.is_empty() {
            return Err(CalendarError::Empty {
                field: "hours".to_owned(),
            });
        }
        let mut previous: Option<&LocalWindow> = None;
        for (i, period) in self.hours.iter().enumerate() {
            let field = format!("hours.{i}");
            let whole_minute = |t: NaiveTime| t.second() == 0 && t.nanosecond() == 0;
            if !whole_minute(period.start) || !whole_minute(period.end) {
                return Err(CalendarError::TimeNotWholeMinute { field });
            }
            if period.start >= period.end {
                return Err(CalendarError::WindowNotOrdered { field });
            }
            if let Some(previous) = previous {
                if period.start < previous.start {
                    return Err(CalendarError::HoursNotOrdered { field });
                }
                if period.start < previous.end {
                    return Err(CalendarError::HoursOverlap { field });
                }
            }
            previous = Some(period);
        }
        if WEEK.iter().all(|day| self.weekend.contains(day)) {
            return Err(CalendarError::NoWorkingWeekday {
                field: "weekend".to_owned(),
            });
        }
        for (field, dates) in [
            ("days_off", &self.days_off),
            ("working_days", &self.working_days),
        ] {
            if dates.len() > MAX_DATES {
                return Err(CalendarError::TooManyDates {
                    field: field.to_owned(),
                    max: MAX_DATES,
                });
            }
        }
        match self.days_off.intersection(&self.working_days).next() {
            Some(date) => Err(CalendarError::DateConflict {
                field: "working_days".to_owned(),
                date: *date,
            }),
            None => Ok(()),
        }
    }

    /// The statutory days off of `year`, by date, with their Vietnamese names ([`NEW_YEAR`],
    /// [`LUNAR_NEW_YEAR`], [`HUNG_KINGS`], [`REUNIFICATION_DAY`], [`LABOUR_DAY`],
    /// [`NATIONAL_DAY`], [`COMPENSATION`]): the Labour Code's holidays as the module
    /// documentation reads them, and a compensatory day for each that falls on a `weekend` day.
    /// Two holidays on one date are both listed. Empty when `statutory` is off; `days_off` and
    /// `working_days` are not applied.
    pub fn holidays(&self, year: i32) -> Vec<(NaiveDate, &'static str)> {
        if !self.statutory {
            return Vec::new();
        }
        let mut days = statutory_days(year);
        let dates: BTreeSet<NaiveDate> = days.iter().map(|(date, _)| *date).collect();
        let mut compensation = BTreeSet::new();
        for date in dates.iter().filter(|date| self.is_weekend(**date)) {
            let free = (1..=COMPENSATION_SEARCH_DAYS)
                .filter_map(|n| date.checked_add_days(Days::new(n)))
                .find(|day| {
                    !self.is_weekend(*day) && !dates.contains(day) && !compensation.contains(day)
                });
            compensation.extend(free);
        }
        days.extend(compensation.into_iter().map(|date| (date, COMPENSATION)));
        days.sort_by_key(|(date, _)| *date);
        days
    }

    /// Whether `date` is worked: a make-up working day always is; otherwise a day off, a
    /// statutory holiday or compensatory day, or a weekend day is not.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        DayRules::new(self).is_working(date)
    }

    /// Whether `at` is working time: a working day, inside one of its periods.
    pub fn is_working_time(&self, at: DateTime<Utc>) -> bool {
        self.hours.iter().any(|period| period.contains(at)) && self.is_working_day(vn_date(at))
    }

    /// `at` itself when it is working time, else the start of the next working period
    /// (after lunch, the next morning, after weekends and holidays). `None` when there is no
    /// working time within [`SEARCH_DAYS`] days.
    pub fn next_working_time(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.periods_after(at).next().map(|(start, _)| start)
    }

    /// The instant when `duration` of working time has elapsed after `at`: the due time of a
    /// service level in working hours. The clock runs only in working time, so 4 working hours
    /// from Friday 16:00 are due Monday 11:00, and from 19:00 the clock starts the next working
    /// morning. When the duration ends exactly at the end of a period, that end is the answer
    /// (12:00, not 13:00). A zero or negative duration is due at `at`. `None` when the clock
    /// finds no working time within [`SEARCH_DAYS`] days.
    pub fn add_working(&self, at: DateTime<Utc>, duration: Duration) -> Option<DateTime<Utc>> {
        let mut left = duration;
        if left <= Duration::zero() {
            return Some(at);
        }
        for (start, end) in self.periods_after(at) {
            let length = end - start;
            if left <= length {
                return Some(start + left);
            }
            left -= length;
        }
        None
    }

    /// The same local time of day `days` working days later: the due time of a service level
    /// in working days. The clock starts at [`WorkCalendar::next_working_time`] of `at`, so a
    /// request of Friday 10:00 with 1 working day is due Monday 10:00, and one of Saturday
    /// 10:00 or Friday 19:00 is due Tuesday 08:00 (a whole working day after Monday 08:00). If
    /// that time of day is not working time on the day reached, the next working time after it.
    /// `None` when a working day is more than [`SEARCH_DAYS`] days away.
    pub fn add_working_days(&self, at: DateTime<Utc>, days: u32) -> Option<DateTime<Utc>> {
        let start = to_vn(self.next_working_time(at)?);
        let (mut date, time) = (start.date_naive(), start.time());
        let mut rules = DayRules::new(self);
        for _ in 0..days {
            date = (1..=u64::from(SEARCH_DAYS))
                .filter_map(|n| date.checked_add_days(Days::new(n)))
                .find(|day| rules.is_working(*day))?;
        }
        self.next_working_time(local_instant(date, time)?)
    }

    /// The working time elapsed from `from` to `to`: how long a ticket has been open in working
    /// hours, for service-level reports. Zero when `to` is not after `from`. The inverse of
    /// [`WorkCalendar::add_working`]: `working_between(at, add_working(at, d)) == d`. Takes time
    /// in proportion to the days between the two instants.
    pub fn working_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
        if to <= from {
            return Duration::zero();
        }
        Periods::new(self, from, vn_date(to), u32::MAX)
            .take_while(|(start, _)| *start < to)
            .map(|(start, end)| end.min(to) - start)
            .sum()
    }

    /// Whether `at` is on a working day and inside `window` (such as the advertising-call
    /// window 08:00–17:00). The working periods do not matter: the window may span lunch.
    pub fn in_window(&self, at: DateTime<Utc>, window: LocalWindow) -> bool {
        window.contains(at) && self.is_working_day(vn_date(at))
    }

    /// The first instant from `at` on that is on a working day and inside `window`: `at` itself
    /// when [`WorkCalendar::in_window`], else the window's start on the next working day that
    /// still has it ahead. A call asked for at 17:30 on Friday, with the window 08:00–17:00, is
    /// offered at 08:00 on Monday, or on Tuesday when Monday is a holiday. `None` when no working
    /// day within [`SEARCH_DAYS`] days has the window (a window with its start not before its
    /// end never opens).
    pub fn next_window_opening(
        &self,
        at: DateTime<Utc>,
        window: LocalWindow,
    ) -> Option<DateTime<Utc>> {
        if self.in_window(at, window) {
            return Some(at);
        }
        let mut rules = DayRules::new(self);
        let first = vn_date(at);
        (0..=u64::from(SEARCH_DAYS))
            .filter_map(|n| first.checked_add_days(Days::new(n)))
            .filter(|date| rules.is_working(*date))
            .find_map(|date| {
                let open = local_instant(date, window.start)?.max(at);
                (open < local_instant(date, window.end)?).then_some(open)
            })
    }

    /// Whether `date` falls on a weekend day.
    fn is_weekend(&self, date: NaiveDate) -> bool {
        self.weekend.contains(&date.weekday())
    }

    /// The working periods from `at` on, the first one cut to start at `at`.
    fn periods_after(&self, at: DateTime<Utc>) -> Periods<'_> {
        Periods::new(self, at, NaiveDate::MAX, SEARCH_DAYS + 1)
    }
}

/// The Labour Code's holidays of `year` before compensation, by date.
fn statutory_days(year: i32) -> Vec<(NaiveDate, &'static str)> {
    let mut days = Vec::with_capacity(12);
    for (month, day, name) in [
        (1, 1, NEW_YEAR),
        (4, 30, REUNIFICATION_DAY),
        (5, 1, LABOUR_DAY),
        (9, 1, NATIONAL_DAY),
        (9, 2, NATIONAL_DAY),
    ] {
        days.extend(NaiveDate::from_ymd_opt(year, month, day).map(|date| (date, name)));
    }
    if let Some(new_year) = lunar_date(year, 1, 1) {
        // The eve (the last day of the 12th month, whether the 29th or the 30th) and the 1st to
        // the 4th: the lunar new year always falls between 21 January and 20 February, so all
        // five are in `year`.
        let tet = new_year
            .pred_opt()
            .into_iter()
            .chain((0..4).filter_map(|n| new_year.checked_add_days(Days::new(n))));
        days.extend(tet.map(|date| (date, LUNAR_NEW_YEAR)));
    }
    days.extend(lunar_date(year, 3, 10).map(|date| (date, HUNG_KINGS)));
    days.sort_by_key(|(date, _)| *date);
    days
}

/// The solar date of a lunar `day` of the (not leap) lunar `month` of lunar `year`, in Vietnam's
/// time zone; `None` outside [`LUNAR_YEARS`].
pub(crate) fn lunar_date(year: i32, month: i32, day: i32) -> Option<NaiveDate> {
    if !LUNAR_YEARS.contains(&year) {
        return None;
    }
    let (d, m, y) = convert_lunar_to_solar(day, month, year, false, LUNAR_TIME_ZONE);
    NaiveDate::from_ymd_opt(y, u32::try_from(m).ok()?, u32::try_from(d).ok()?)
}

/// The UTC instant of a Vietnamese wall-clock date and time.
fn local_instant(date: NaiveDate, time: NaiveTime) -> Option<DateTime<Utc>> {
    vn_offset()
        .from_local_datetime(&date.and_time(time))
        .single()
        .map(|t| t.with_timezone(&Utc))
}

/// [`WorkCalendar::is_working_day`] for many dates, computing each year's holidays once.
struct DayRules<'a> {
    calendar: &'a WorkCalendar,
    /// The year of `holidays`.
    year: Option<i32>,
    /// The statutory days off of `year` (compensation included), sorted.
    holidays: Vec<NaiveDate>,
}

impl<'a> DayRules<'a> {
    fn new(calendar: &'a WorkCalendar) -> Self {
        Self {
            calendar,
            year: None,
            holidays: Vec::new(),
        }
    }

    fn is_working(&mut self, date: NaiveDate) -> bool {
        let calendar = self.calendar;
        if calendar.working_days.contains(&date) {
            return true;
        }
        if calendar.days_off.contains(&date) {
            return false;
        }
        if calendar.statutory {
            // Compensatory days never leave their holiday's year: the last holiday of a year is
            // 2 September.
            if self.year != Some(date.year()) {
                self.year = Some(date.year());
                self.holidays = calendar
                    .holidays(date.year())
                    .into_iter()
                    .map(|(day, _)| day)
                    .collect();
            }
            if self.holidays.binary_search(&date).is_ok() {
                return false;
            }
        }
        !calendar.is_weekend(date)
    }
}

/// The working periods from an instant on, day by day, as `[start, end)` UTC instants, the
/// first one cut to start at that instant. It ends after the day `last`, or once `max_idle`
/// days in a row gave no period.
struct Periods<'a> {
    rules: DayRules<'a>,
    from: DateTime<Utc>,
    /// The next day to look at.
    date: Option<NaiveDate>,
    last: NaiveDate,
    /// The days looked at since the last period given.
    idle: u32,
    max_idle: u32,
    /// The periods of the day last looked at, not given yet.
    pending: std::vec::IntoIter<(DateTime<Utc>, DateTime<Utc>)>,
}

impl<'a> Periods<'a> {
    fn new(
        calendar: &'a WorkCalendar,
        from: DateTime<Utc>,
        last: NaiveDate,
        max_idle: u32,
    ) -> Self {
        Self {
            rules: DayRules::new(calendar),
            from,
            date: Some(vn_date(from)),
            last,
            idle: 0,
            max_idle,
            pending: Vec::new().into_iter(),
        }
    }
}

impl Iterator for Periods<'_> {
    type Item = (DateTime<Utc>, DateTime<Utc>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(period) = self.pending.next() {
                self.idle = 0;
                return Some(period);
            }
            let date = self.date.filter(|date| *date <= self.last)?;
            if self.idle >= self.max_idle {
                return None;
            }
            self.idle = self.idle.saturating_add(1);
            self.date = date.succ_opt();
            if !self.rules.is_working(date) {
                continue;
            }
            let from = self.from;
            self.pending = self
                .rules
                .calendar
                .hours
                .iter()
                .filter_map(|period| {
                    Some((
                        local_instant(date, period.start)?,
                        local_instant(date, period.end)?,
                    ))
                })
                .filter(|(start, end)| start < end && *end > from)
                .map(|(start, end)| (start.max(from), end))
                .collect::<Vec<_>>()
                .into_iter();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::from_vn;
    use proptest::prelude::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// The instant of a Vietnamese wall-clock time.
    fn vn(y: i32, m: u32, d: u32, hour: u32, minute: u32) -> DateTime<Utc> {
        from_vn(date(y, m, d), hour, minute).unwrap()
    }

    fn hours(n: i64) -> Duration {
        Duration::hours(n)
    }

    fn office() -> WorkCalendar {
        WorkCalendar::default()
    }

    const CALL_WINDOW: LocalWindow = LocalWindow {
        start: hm(8, 0),
        end: hm(17, 0),
    };

    #[test]
    fn the_default_is_the_office_week() {
        let calendar = office();
        assert_eq!(calendar.validate(), Ok(()));
        assert_eq!(calendar.hours, [MORNING, AFTERNOON]);
        assert_eq!(calendar.weekend, [Weekday::Sat, Weekday::Sun]);
        assert!(calendar.statutory);
        assert!(calendar.days_off.is_empty() && calendar.working_days.is_empty());
        // Monday 9 March 2026 to Sunday 15 March: five working days.
        let worked: Vec<_> = (9..=15)
            .map(|d| calendar.is_working_day(date(2026, 3, d)))
            .collect();
        assert_eq!(worked, [true, true, true, true, true, false, false]);
    }

    #[test]
    fn the_statutory_year_2026() {
        let days = office().holidays(2026);
        let expected = [
            (date(2026, 1, 1), NEW_YEAR),
            (date(2026, 2, 16), LUNAR_NEW_YEAR),
            (date(2026, 2, 17), LUNAR_NEW_YEAR),
            (date(2026, 2, 18), LUNAR_NEW_YEAR),
            (date(2026, 2, 19), LUNAR_NEW_YEAR),
            (date(2026, 2, 20), LUNAR_NEW_YEAR),
            // Giỗ Tổ is a Sunday: Monday is off instead.
            (date(2026, 4, 26), HUNG_KINGS),
            (date(2026, 4, 27), COMPENSATION),
            (date(2026, 4, 30), REUNIFICATION_DAY),
            (date(2026, 5, 1), LABOUR_DAY),
            (date(2026, 9, 1), NATIONAL_DAY),
            (date(2026, 9, 2), NATIONAL_DAY),
        ];
        assert_eq!(days, expected);
        assert_eq!(date(2026, 4, 26).weekday(), Weekday::Sun);
        // The lunar new year of Bính Ngọ is Tuesday 17 February 2026.
        assert_eq!(lunar_date(2026, 1, 1), Some(date(2026, 2, 17)));
        for (day, _) in expected {
            assert!(!office().is_working_day(day), "{day}");
        }
        assert!(office().is_working_day(date(2026, 4, 28)));
        assert!(office().is_working_day(date(2026, 2, 13)));
    }

    #[test]
    fn compensation_skips_weekends_holidays_and_days_already_taken() {
        let days = office().holidays(2023);
        let compensation: Vec<_> = days
            .iter()
            .filter(|(_, name)| *name == COMPENSATION)
            .map(|(day, _)| *day)
            .collect();
        // 1/1 on Sunday: Monday 2/1. The lunar new year (Sunday 22/1) and its eve (Saturday
        // 21/1): the first days after Tết, 26 and 27/1. Giỗ Tổ on Saturday 29/4 and 30/4 on
        // Sunday: Monday 1/5 is a holiday itself, so Tuesday 2/5 and Wednesday 3/5. Quốc khánh
        // 2/9 on Saturday: Monday 4/9, Sunday 3/9 being a weekend day.
        assert_eq!(
            compensation,
            [
                date(2023, 1, 2),
                date(2023, 1, 26),
                date(2023, 1, 27),
                date(2023, 5, 2),
                date(2023, 5, 3),
                date(2023, 9, 4)
            ]
        );
        assert!(days.contains(&(date(2023, 4, 29), HUNG_KINGS)));
        // With Sunday the only rest day, Saturday holidays are not compensated.
        let six_days = WorkCalendar {
            weekend: vec![Weekday::Sun],
            ..office()
        };
        let compensation: Vec<_> = six_days
            .holidays(2023)
            .into_iter()
            .filter(|(_, name)| *name == COMPENSATION)
            .map(|(day, _)| day)
            .collect();
        assert_eq!(
            compensation,
            [date(2023, 1, 2), date(2023, 1, 26), date(2023, 5, 2)]
        );
    }

    #[test]
    fn lunar_dates_are_vietnams_in_utc_plus_7() {
        // A new moon just before midnight in Viet Nam is just after it in China.
        assert_eq!(lunar_date(2007, 1, 1), Some(date(2007, 2, 17)));
        assert_eq!(
            convert_lunar_to_solar(1, 1, 2007, false, 8.0),
            (18, 2, 2007)
        );
        let tet: Vec<_> = office()
            .holidays(2007)
            .into_iter()
            .filter(|(_, name)| *name == LUNAR_NEW_YEAR)
            .map(|(day, _)| day)
            .collect();
        assert_eq!(tet, (16..=20).map(|d| date(2007, 2, d)).collect::<Vec<_>>());
        // 1985: a new moon on either side of midnight moved the leap month, and Tết was a month
        // apart.
        assert_eq!(lunar_date(1985, 1, 1), Some(date(1985, 1, 21)));
        assert_eq!(
            convert_lunar_to_solar(1, 1, 1985, false, 8.0),
            (20, 2, 1985)
        );
        // Outside the computed years only the solar holidays are listed.
        let old: Vec<_> = office()
            .holidays(1800)
            .into_iter()
            .map(|(_, n)| n)
            .collect();
        assert!(!old.contains(&LUNAR_NEW_YEAR) && old.contains(&NEW_YEAR));
    }

    #[test]
    fn make_up_days_win_over_days_off_holidays_and_weekends() {
        let calendar = WorkCalendar {
            days_off: BTreeSet::from([date(2026, 1, 2), date(2026, 3, 11)]),
            working_days: BTreeSet::from([date(2026, 1, 10), date(2026, 9, 1)]),
            ..office()
        };
        assert_eq!(calendar.validate(), Ok(()));
        assert!(!calendar.is_working_day(date(2026, 1, 2)), "a day off");
        assert!(!calendar.is_working_day(date(2026, 3, 11)), "a day off");
        assert!(
            calendar.is_working_day(date(2026, 1, 10)),
            "a make-up Saturday"
        );
        assert!(
            calendar.is_working_day(date(2026, 9, 1)),
            "a holiday worked"
        );
        assert!(!calendar.is_working_day(date(2026, 9, 2)), "Quốc khánh");
        assert!(!calendar.is_working_day(date(2026, 1, 11)), "Sunday");
        // Without the statutory holidays, Tết is an ordinary week.
        let plain = WorkCalendar {
            statutory: false,
            ..office()
        };
        assert!(plain.holidays(2026).is_empty());
        assert!(plain.is_working_day(date(2026, 2, 17)));
    }

    #[test]
    fn working_time_skips_lunch_evenings_weekends_and_holidays() {
        let calendar = office();
        let next = |at| calendar.next_working_time(at).unwrap();
        // Inside: itself.
        assert_eq!(next(vn(2026, 3, 10, 9, 30)), vn(2026, 3, 10, 9, 30));
        assert!(calendar.is_working_time(vn(2026, 3, 10, 8, 0)));
        // Lunch (12:00 itself included), early morning, evening.
        assert!(!calendar.is_working_time(vn(2026, 3, 10, 12, 0)));
        assert_eq!(next(vn(2026, 3, 10, 12, 0)), vn(2026, 3, 10, 13, 0));
        assert_eq!(next(vn(2026, 3, 10, 6, 15)), vn(2026, 3, 10, 8, 0));
        assert_eq!(next(vn(2026, 3, 10, 17, 0)), vn(2026, 3, 11, 8, 0));
        // Friday evening to Monday; Tết to the Monday after.
        assert_eq!(next(vn(2026, 3, 13, 18, 0)), vn(2026, 3, 16, 8, 0));
        assert_eq!(next(vn(2026, 2, 13, 17, 30)), vn(2026, 2, 23, 8, 0));
        assert!(!calendar.is_working_time(vn(2026, 2, 18, 9, 0)));
        // 23:30 UTC is 06:30 in Viet Nam the next day.
        let late_utc = Utc.with_ymd_and_hms(2026, 3, 9, 23, 30, 0).unwrap();
        assert_eq!(next(late_utc), vn(2026, 3, 10, 8, 0));
    }

    #[test]
    fn a_service_level_over_a_weekend() {
        let calendar = office();
        let due = |at, h| calendar.add_working(at, hours(h)).unwrap();
        // Friday 13 March 2026: 2 hours on Friday, 2 on Monday.
        assert_eq!(due(vn(2026, 3, 13, 15, 0), 4), vn(2026, 3, 16, 10, 0));
        assert_eq!(due(vn(2026, 3, 13, 16, 0), 4), vn(2026, 3, 16, 11, 0));
        // Opened in the evening: the clock starts the next working morning.
        assert_eq!(due(vn(2026, 3, 10, 19, 0), 4), vn(2026, 3, 11, 12, 0));
        // Lunch is skipped, and a duration ending with a period ends at its end.
        assert_eq!(due(vn(2026, 3, 10, 11, 0), 2), vn(2026, 3, 10, 14, 0));
        assert_eq!(due(vn(2026, 3, 10, 8, 0), 4), vn(2026, 3, 10, 12, 0));
        assert_eq!(due(vn(2026, 3, 10, 8, 0), 8), vn(2026, 3, 10, 17, 0));
        // Nothing to wait for.
        assert_eq!(due(vn(2026, 3, 14, 10, 0), 0), vn(2026, 3, 14, 10, 0));
        assert_eq!(due(vn(2026, 3, 14, 10, 0), -3), vn(2026, 3, 14, 10, 0));
        let minutes = calendar
            .add_working(vn(2026, 3, 10, 11, 45), Duration::minutes(30))
            .unwrap();
        assert_eq!(minutes, vn(2026, 3, 10, 13, 15));
    }

    #[test]
    fn a_service_level_across_tet_2026() {
        // Opened Friday 13/2/2026 at 16:00: one hour that day, then Tết (16–20/2) and the
        // weekend (21–22/2); three hours on Monday 23/2.
        let opened = vn(2026, 2, 13, 16, 0);
        let due = office().add_working(opened, hours(4)).unwrap();
        assert_eq!(due, vn(2026, 2, 23, 11, 0));
        assert_eq!(office().working_between(opened, due), hours(4));
        assert_eq!(
            office().add_working_days(opened, 1),
            Some(vn(2026, 2, 23, 16, 0))
        );
    }

    #[test]
    fn a_make_up_saturday_brings_a_due_time_forward() {
        // Friday 2/1/2026 off in exchange for Saturday 10/1.
        let swapped = WorkCalendar {
            days_off: BTreeSet::from([date(2026, 1, 2)]),
            working_days: BTreeSet::from([date(2026, 1, 10)]),
            ..office()
        };
        let opened = vn(2026, 1, 9, 16, 0);
        assert_eq!(
            office().add_working(opened, hours(4)),
            Some(vn(2026, 1, 12, 11, 0))
        );
        assert_eq!(
            swapped.add_working(opened, hours(4)),
            Some(vn(2026, 1, 10, 11, 0))
        );
        // Opened on New Year's Eve: 1/1 is a holiday, and 2/1 now too.
        let eve = vn(2025, 12, 31, 16, 0);
        assert_eq!(
            office().add_working(eve, hours(4)),
            Some(vn(2026, 1, 2, 11, 0))
        );
        assert_eq!(
            swapped.add_working(eve, hours(4)),
            Some(vn(2026, 1, 5, 11, 0))
        );
    }

    #[test]
    fn the_governments_tet_decision_as_data() {
        // Tết Ất Tỵ 2025: the computed days are 28/1–1/2, Saturday 1/2 giving Monday 3/2. Say
        // the decision gives Monday 27/1 off instead of 3/2 (9 days off, 25/1–2/2).
        let computed: Vec<_> = office()
            .holidays(2025)
            .into_iter()
            .filter(|(day, _)| day.month() <= 2)
            .collect();
        assert_eq!(
            computed,
            [
                (date(2025, 1, 1), NEW_YEAR),
                (date(2025, 1, 28), LUNAR_NEW_YEAR),
                (date(2025, 1, 29), LUNAR_NEW_YEAR),
                (date(2025, 1, 30), LUNAR_NEW_YEAR),
                (date(2025, 1, 31), LUNAR_NEW_YEAR),
                (date(2025, 2, 1), LUNAR_NEW_YEAR),
                (date(2025, 2, 3), COMPENSATION),
            ]
        );
        let decided = WorkCalendar {
            days_off: BTreeSet::from([date(2025, 1, 27)]),
            working_days: BTreeSet::from([date(2025, 2, 3)]),
            ..office()
        };
        assert_eq!(
            decided.next_working_time(vn(2025, 1, 24, 17, 0)),
            Some(vn(2025, 2, 3, 8, 0))
        );
    }

    #[test]
    fn working_days_keep_the_time_of_day() {
        let calendar = office();
        let due = |at, days| calendar.add_working_days(at, days).unwrap();
        // Tuesday 10/3/2026 10:00.
        assert_eq!(due(vn(2026, 3, 10, 10, 0), 0), vn(2026, 3, 10, 10, 0));
        assert_eq!(due(vn(2026, 3, 10, 10, 0), 2), vn(2026, 3, 12, 10, 0));
        // Friday to Monday, Friday to the Tuesday after the Giỗ Tổ compensation.
        assert_eq!(due(vn(2026, 3, 13, 10, 0), 1), vn(2026, 3, 16, 10, 0));
        assert_eq!(due(vn(2026, 4, 24, 14, 30), 1), vn(2026, 4, 28, 14, 30));
        // Outside working time the clock starts at the next working time.
        assert_eq!(due(vn(2026, 3, 13, 19, 0), 1), vn(2026, 3, 17, 8, 0));
        assert_eq!(due(vn(2026, 3, 14, 10, 0), 1), vn(2026, 3, 17, 8, 0));
        assert_eq!(due(vn(2026, 3, 13, 12, 30), 1), vn(2026, 3, 16, 13, 0));
        // Opened on the compensatory Monday 27/4/2026: the clock starts Tuesday 28/4 at 08:00,
        // and ten working days skip 30/4–1/5 and two weekends (29/4, 4–8/5, 11–14/5).
        assert_eq!(due(vn(2026, 4, 27, 9, 0), 10), vn(2026, 5, 14, 8, 0));
        assert_eq!(due(vn(2026, 4, 29, 9, 0), 1), vn(2026, 5, 4, 9, 0));
    }

    #[test]
    fn working_between_counts_working_time_only() {
        let calendar = office();
        let between = |from, to| calendar.working_between(from, to);
        assert_eq!(
            between(vn(2026, 3, 10, 8, 0), vn(2026, 3, 10, 17, 0)),
            hours(8)
        );
        assert_eq!(
            between(vn(2026, 3, 10, 11, 30), vn(2026, 3, 10, 13, 30)),
            Duration::minutes(60)
        );
        // A whole week with Tết: 13/2 (Friday) to 23/2 is one working day.
        assert_eq!(
            between(vn(2026, 2, 13, 0, 0), vn(2026, 2, 23, 0, 0)),
            hours(8)
        );
        // Backwards or empty: nothing.
        assert_eq!(
            between(vn(2026, 3, 10, 17, 0), vn(2026, 3, 10, 8, 0)),
            Duration::zero()
        );
        assert_eq!(
            between(vn(2026, 3, 14, 0, 0), vn(2026, 3, 16, 0, 0)),
            Duration::zero()
        );
        // A year of the office calendar in 2026: 261 weekdays, 11 of them statutory days off
        // (1/1, 16–20/2, 27/4 for Giỗ Tổ on Sunday 26/4, 30/4, 1/5, 1/9 and 2/9).
        assert_eq!(
            between(vn(2026, 1, 1, 0, 0), vn(2027, 1, 1, 0, 0)),
            hours(8 * 250)
        );
    }

    #[test]
    fn call_windows_open_on_working_days() {
        let calendar = office();
        let open = |at| calendar.next_window_opening(at, CALL_WINDOW).unwrap();
        // Lunch is no break for the call window.
        assert!(calendar.in_window(vn(2026, 3, 10, 12, 30), CALL_WINDOW));
        assert!(!calendar.in_window(vn(2026, 3, 14, 10, 0), CALL_WINDOW));
        assert_eq!(open(vn(2026, 3, 10, 12, 30)), vn(2026, 3, 10, 12, 30));
        assert_eq!(open(vn(2026, 3, 10, 7, 0)), vn(2026, 3, 10, 8, 0));
        // Friday 17:30 to Monday 08:00, or Tuesday when Monday is a day off.
        assert_eq!(open(vn(2026, 3, 13, 17, 30)), vn(2026, 3, 16, 8, 0));
        assert_eq!(open(vn(2026, 4, 24, 17, 30)), vn(2026, 4, 28, 8, 0));
        // A Saturday worked opens the window too.
        let make_up = WorkCalendar {
            working_days: BTreeSet::from([date(2026, 3, 14)]),
            ..office()
        };
        assert_eq!(
            make_up.next_window_opening(vn(2026, 3, 13, 17, 30), CALL_WINDOW),
            Some(vn(2026, 3, 14, 8, 0))
        );
        // A window that never opens.
        let never = LocalWindow {
            start: hm(9, 0),
            end: hm(9, 0),
        };
        assert_eq!(
            calendar.next_window_opening(vn(2026, 3, 10, 7, 0), never),
            None
        );
    }

    #[test]
    fn searches_give_up_on_a_calendar_without_working_time() {
        let first = date(2026, 3, 1);
        let closed = WorkCalendar {
            days_off: (0..500)
                .filter_map(|n| first.checked_add_days(Days::new(n)))
                .collect(),
            ..office()
        };
        let at = vn(2026, 3, 2, 9, 0);
        assert_eq!(closed.next_working_time(at), None);
        assert_eq!(closed.add_working(at, hours(1)), None);
        assert_eq!(closed.add_working_days(at, 1), None);
        assert_eq!(closed.next_window_opening(at, CALL_WINDOW), None);
        assert_eq!(
            closed.working_between(at, vn(2027, 3, 2, 9, 0)),
            Duration::zero()
        );
        // It reopens after the 500 days, on Wednesday 14/7/2027: a longer span counts that time.
        assert_eq!(
            closed.working_between(at, vn(2027, 7, 15, 17, 0)),
            hours(16)
        );
        let no_hours = WorkCalendar {
            hours: Vec::new(),
            ..office()
        };
        assert_eq!(no_hours.next_working_time(at), None);
    }

    #[test]
    fn the_default_round_trips_and_shows_dates_and_times_as_text() {
        let calendar = office();
        let json = serde_json::to_value(&calendar).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "hours": [
                    {"start": "08:00", "end": "12:00"},
                    {"start": "13:00", "end": "17:00"}
                ],
                "weekend": ["Sat", "Sun"],
                "days_off": [],
                "working_days": [],
                "statutory": true
            })
        );
        let back: WorkCalendar = serde_json::from_value(json).unwrap();
        assert_eq!(back, calendar);
    }

    #[test]
    fn a_calendar_reads_from_json_with_defaults() {
        let calendar: WorkCalendar = serde_json::from_value(serde_json::json!({
            "hours": [{"start": "07:30", "end": "11:30"}, {"start": "13:00", "end": "16:30"}],
            "weekend": ["Sunday"],
            "days_off": ["2026-02-14", "2026-02-21"],
            "working_days": ["2026-02-28"]
        }))
        .unwrap();
        assert_eq!(calendar.validate(), Ok(()));
        assert!(calendar.statutory);
        assert_eq!(calendar.weekend, [Weekday::Sun]);
        assert_eq!(calendar.hours[0].start, hm(7, 30));
        assert!(calendar.days_off.contains(&date(2026, 2, 21)));
        assert_eq!(
            serde_json::to_value(&calendar).unwrap()["days_off"],
            serde_json::json!(["2026-02-14", "2026-02-21"])
        );
        let empty: WorkCalendar = serde_json::from_value(serde_json::json!({})).unwrap();
        assert_eq!(empty, office());
        for bad in [
            serde_json::json!({"hours": [{"start": "12:00", "end": "08:00"}]}),
            serde_json::json!({"days_off": ["02/01/2026"]}),
            serde_json::json!({"weekend": ["Caturday"]}),
        ] {
            assert!(
                serde_json::from_value::<WorkCalendar>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn validate_names_the_broken_field() {
        type Edit = fn(&mut WorkCalendar);
        fn window(start: NaiveTime, end: NaiveTime) -> LocalWindow {
            LocalWindow { start, end }
        }
        let cases: [(Edit, &str, &str); 8] = [
            (|c| c.hours.clear(), "hours", "empty"),
            (
                |c| c.hours[1].end = NaiveTime::from_hms_opt(17, 0, 30).unwrap(),
                "hours.1",
                "time_not_whole_minute",
            ),
            (
                |c| c.hours[0] = window(hm(12, 0), hm(8, 0)),
                "hours.0",
                "window_not_ordered",
            ),
            (|c| c.hours.reverse(), "hours.1", "hours_not_ordered"),
            (
                |c| c.hours[1] = window(hm(11, 0), hm(17, 0)),
                "hours.1",
                "hours_overlap",
            ),
            (
                |c| c.weekend = WEEK.to_vec(),
                "weekend",
                "no_working_weekday",
            ),
            (
                |c| {
                    let first = date(2026, 1, 1);
                    c.days_off = (0..=1000)
                        .filter_map(|n| first.checked_add_days(Days::new(n)))
                        .collect();
                },
                "days_off",
                "too_many_dates",
            ),
            (
                |c| {
                    c.days_off.insert(date(2026, 1, 10));
                    c.working_days.insert(date(2026, 1, 10));
                },
                "working_days",
                "date_conflict",
            ),
        ];
        for (edit, field, code) in cases {
            let mut calendar = office();
            edit(&mut calendar);
            let error = calendar.validate().unwrap_err();
            assert_eq!((error.field(), error.code()), (field, code), "{error}");
            assert!(error.to_string().starts_with(field), "{error}");
        }
        // Touching periods are fine, and exactly MAX_DATES dates.
        let mut touching = office();
        touching.hours[1] = window(hm(12, 0), hm(17, 0));
        let first = date(2026, 1, 1);
        touching.working_days = (0..1000)
            .filter_map(|n| first.checked_add_days(Days::new(n)))
            .collect();
        assert_eq!(touching.validate(), Ok(()));
    }

    #[test]
    fn error_messages_are_vietnamese() {
        let conflict = CalendarError::DateConflict {
            field: "working_days".into(),
            date: date(2026, 1, 10),
        };
        assert_eq!(
            conflict.to_string(),
            "working_days: ngày 2026-01-10 vừa là ngày nghỉ vừa là ngày làm bù"
        );
        assert_eq!(
            CalendarError::TooManyDates {
                field: "days_off".into(),
                max: MAX_DATES
            }
            .to_string(),
            "days_off: tối đa 1000 ngày"
        );
    }

    fn any_instant() -> impl Strategy<Value = DateTime<Utc>> {
        // 2020 to 2035, to the second.
        (1_577_836_800i64..2_082_758_400).prop_map(|s| Utc.timestamp_opt(s, 0).unwrap())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn working_between_inverts_add_working(
            at in any_instant(),
            seconds in 0i64..200 * 3600,
        ) {
            let calendar = office();
            let start = calendar.next_working_time(at).unwrap();
            let duration = Duration::seconds(seconds);
            let due = calendar.add_working(start, duration).unwrap();
            prop_assert_eq!(calendar.working_between(start, due), duration);
            // From `at` itself too: time before the first period does not count.
            prop_assert_eq!(calendar.add_working(at, duration).unwrap(), if seconds == 0 { at } else { due });
            prop_assert!(seconds == 0 || calendar.is_working_time(due - Duration::seconds(1)));
        }

        #[test]
        fn next_working_time_is_the_next_instant_of_working_time(at in any_instant()) {
            let calendar = office();
            let next = calendar.next_working_time(at).unwrap();
            prop_assert!(next >= at);
            prop_assert!(calendar.is_working_time(next), "{next}");
            if calendar.is_working_time(at) {
                prop_assert_eq!(next, at);
            } else {
                prop_assert_eq!(calendar.working_between(at, next), Duration::zero());
                prop_assert!(!calendar.is_working_time(next - Duration::seconds(1)));
            }
        }

        #[test]
        fn window_openings_are_inside_the_window_on_working_days(at in any_instant()) {
            let calendar = office();
            let open = calendar.next_window_opening(at, CALL_WINDOW).unwrap();
            prop_assert!(open >= at);
            prop_assert!(calendar.in_window(open, CALL_WINDOW));
            prop_assert!(open == at || !calendar.in_window(open - Duration::seconds(1), CALL_WINDOW));
        }
    }
}
