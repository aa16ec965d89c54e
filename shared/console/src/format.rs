//! How the console writes dates, times and money for Vietnamese staff: dd/mm/yyyy, times in
//! Asia/Ho_Chi_Minh, `1.250.000 ₫`.

use chrono::{DateTime, NaiveDate, Utc};
use nhip_domain::time::to_vn;

/// `06/12/2026`.
pub fn date(date: NaiveDate) -> String {
    date.format("%d/%m/%Y").to_string()
}

/// `06/12/2026 14:05` in Vietnam's time.
pub fn date_time(at: DateTime<Utc>) -> String {
    to_vn(at).format("%d/%m/%Y %H:%M").to_string()
}

/// An amount in đồng with dots between thousands: `1.250.000 ₫`.
pub fn money(amount: i64) -> String {
    let digits = amount.unsigned_abs().to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3 + 4);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push('.');
        }
        grouped.push(digit);
    }
    let sign = if amount < 0 { "-" } else { "" };
    format!("{sign}{grouped} ₫")
}

/// How long ago, in Vietnamese: `vừa xong`, `15 phút`, `3 giờ`, `2 ngày`.
pub fn age(since: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let minutes = (now - since).num_minutes().max(0);
    match minutes {
        0 => "vừa xong".into(),
        1..=59 => format!("{minutes} phút"),
        60..=1439 => format!("{} giờ", minutes / 60),
        _ => format!("{} ngày", minutes / 1440),
    }
}

/// A share (0–1) as a percentage: `35%`.
pub fn percent(share: f64) -> String {
    format!("{:.0}%", share * 100.0)
}

/// A date typed as `dd/mm/yyyy` (or `yyyy-mm-dd`, as a date picker sends it).
pub fn parse_date(raw: &str) -> Option<NaiveDate> {
    let raw = raw.trim();
    NaiveDate::parse_from_str(raw, "%d/%m/%Y")
        .or_else(|_| NaiveDate::parse_from_str(raw, "%Y-%m-%d"))
        .ok()
}

/// A Vietnamese wall-clock date and time typed in a form (`dd/mm/yyyy`, `hh:mm`; 09:00 when
/// the time is left empty), as an instant; the problem in Vietnamese otherwise.
pub fn parse_local(date: &str, time: &str) -> Result<DateTime<Utc>, String> {
    use chrono::TimeZone;
    let date = parse_date(date).ok_or("Ngày hẹn không hợp lệ (dd/mm/yyyy).")?;
    let time = match time.trim() {
        "" => chrono::NaiveTime::from_hms_opt(9, 0, 0).expect("09:00 is a time"),
        raw => chrono::NaiveTime::parse_from_str(raw, "%H:%M")
            .map_err(|_| "Giờ hẹn không hợp lệ (hh:mm).")?,
    };
    nhip_domain::time::vn_offset()
        .from_local_datetime(&date.and_time(time))
        .single()
        .map(|at| at.to_utc())
        .ok_or_else(|| "Giờ hẹn không hợp lệ.".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_groups_thousands_with_dots() {
        assert_eq!(money(1_250_000), "1.250.000 ₫");
        assert_eq!(money(999), "999 ₫");
        assert_eq!(money(1000), "1.000 ₫");
        assert_eq!(money(0), "0 ₫");
        assert_eq!(money(-50_000), "-50.000 ₫");
    }

    #[test]
    fn times_are_shown_in_vietnam() {
        let at = DateTime::parse_from_rfc3339("2026-12-05T17:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(date_time(at), "06/12/2026 00:30");
    }
}
