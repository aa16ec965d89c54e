//! Time. Instants are stored in UTC; business rules (quiet hours, "D-5", birthdays) run in
//! Asia/Ho_Chi_Minh, which has been UTC+07:00 without daylight saving since 1975, so a fixed
//! offset is exact and needs no time-zone database.

use chrono::{DateTime, Duration, DurationRound, FixedOffset, NaiveDate, TimeZone, Utc};

/// Seconds east of UTC for Asia/Ho_Chi_Minh.
const VN_OFFSET_SECONDS: i32 = 7 * 3600;

/// The Asia/Ho_Chi_Minh offset (UTC+07:00).
pub fn vn_offset() -> FixedOffset {
    FixedOffset::east_opt(VN_OFFSET_SECONDS).expect("+07:00 is a valid offset")
}

/// `instant` as a Vietnamese wall-clock time.
pub fn to_vn(instant: DateTime<Utc>) -> DateTime<FixedOffset> {
    instant.with_timezone(&vn_offset())
}

/// The calendar date in Viet Nam at `instant`.
pub fn vn_date(instant: DateTime<Utc>) -> NaiveDate {
    to_vn(instant).date_naive()
}

/// The UTC instant of a Vietnamese wall-clock time.
pub fn from_vn(date: NaiveDate, hour: u32, minute: u32) -> Option<DateTime<Utc>> {
    let naive = date.and_hms_opt(hour, minute, 0)?;
    vn_offset()
        .from_local_datetime(&naive)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

/// `instant` truncated to its minute, the granularity of schedules.
pub fn minute_floor(instant: DateTime<Utc>) -> DateTime<Utc> {
    instant
        .duration_trunc(Duration::minutes(1))
        .unwrap_or(instant)
}

/// The minute bucket label of `instant` (UTC, `YYYYMMDDHHMM`), used in due-work keys.
/// Lexicographic order of labels is time order.
pub fn minute_bucket(instant: DateTime<Utc>) -> String {
    instant.format("%Y%m%d%H%M").to_string()
}

/// Every minute from `from` (inclusive) to `to` (inclusive), truncated to minutes.
pub fn minutes_between(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> impl Iterator<Item = DateTime<Utc>> {
    let start = minute_floor(from);
    let end = minute_floor(to);
    let count = if end < start {
        0
    } else {
        (end - start).num_minutes() + 1
    };
    (0..count).map(move |i| start + Duration::minutes(i))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn vietnam_is_seven_hours_ahead() {
        let t = Utc.with_ymd_and_hms(2026, 11, 23, 17, 30, 0).unwrap();
        assert_eq!(vn_date(t), NaiveDate::from_ymd_opt(2026, 11, 24).unwrap());
        let seven_am = from_vn(NaiveDate::from_ymd_opt(2026, 11, 24).unwrap(), 7, 0).unwrap();
        assert_eq!(
            seven_am,
            Utc.with_ymd_and_hms(2026, 11, 24, 0, 0, 0).unwrap()
        );
    }

    #[test]
    fn buckets_are_minutes() {
        let t = Utc.with_ymd_and_hms(2026, 11, 23, 8, 5, 59).unwrap();
        assert_eq!(minute_bucket(t), "202611230805");
        assert_eq!(minutes_between(t, t + Duration::seconds(61)).count(), 3);
        assert_eq!(minutes_between(t, t - Duration::hours(1)).count(), 0);
    }

    proptest! {
        #[test]
        fn bucket_order_is_time_order(a in 0i64..4_000_000_000, b in 0i64..4_000_000_000) {
            let ta = Utc.timestamp_opt(a, 0).unwrap();
            let tb = Utc.timestamp_opt(b, 0).unwrap();
            prop_assert_eq!(minute_bucket(ta).cmp(&minute_bucket(tb)), minute_floor(ta).cmp(&minute_floor(tb)));
        }
    }
}
