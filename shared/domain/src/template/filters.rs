//! The Vietnamese Liquid filters registered next to the standard library: `vnd` (amounts in
//! đồng), `date_vn` and `datetime_vn` (dates as Vietnamese write them, in Asia/Ho_Chi_Minh) and
//! `unaccent`. Their errors name the filter, never the value it was given: the value is
//! customer data.
//!
//! The filters are written by hand rather than with `#[derive(ParseFilter)]` because the save-time
//! check registers a second flavour of the date filters that accepts its placeholder for names
//! it cannot know (see [`super::view`]); the derive only builds filters from `Default`.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use liquid_core::parser::{FilterArguments, ParameterReflection};
use liquid_core::{
    Error, Filter, FilterReflection, ParseFilter, Result, Runtime, Value, ValueView,
};

use super::sms::unaccent;
use crate::time::to_vn;

/// The filters Nhịp adds to Liquid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Vnd,
    DateVn,
    DatetimeVn,
    Unaccent,
}

impl Kind {
    const ALL: [Kind; 4] = [Kind::Vnd, Kind::DateVn, Kind::DatetimeVn, Kind::Unaccent];

    fn name(self) -> &'static str {
        match self {
            Kind::Vnd => "vnd",
            Kind::DateVn => "date_vn",
            Kind::DatetimeVn => "datetime_vn",
            Kind::Unaccent => "unaccent",
        }
    }

    fn description(self) -> &'static str {
        match self {
            Kind::Vnd => "Formats an amount in Vietnamese đồng: 1500000 → \"1.500.000 ₫\".",
            Kind::DateVn => {
                "Formats a date (YYYY-MM-DD) or an RFC 3339 instant as dd/mm/yyyy in Asia/Ho_Chi_Minh."
            }
            Kind::DatetimeVn => {
                "Formats an RFC 3339 instant as \"HH:MM dd/mm/yyyy\" in Asia/Ho_Chi_Minh."
            }
            Kind::Unaccent => "Removes Vietnamese diacritics: \"Đặng Thị Ánh\" → \"Dang Thi Anh\".",
        }
    }
}

/// One of Nhịp's filters, both its parser plug-in and the parsed filter (they take no
/// arguments). `check` marks the save-time flavour (see the module documentation).
#[derive(Debug, Clone, Copy)]
pub(super) struct VnFilter {
    kind: Kind,
    check: bool,
}

/// Every Nhịp filter, for registering on a parser; `check` for the save-time parser.
pub(super) fn all(check: bool) -> impl Iterator<Item = VnFilter> {
    Kind::ALL
        .into_iter()
        .map(move |kind| VnFilter { kind, check })
}

/// The value the save-time check gives a name it cannot know (an open namespace's key): a whole
/// number, so that arithmetic filters and `vnd` accept it; the check's date filters accept it
/// too and print [`PLACEHOLDER_DATE`]. When a field fails with it, the check tries nil instead
/// (a `for` loop needs that), which the check's filters accept as well.
pub(super) const PLACEHOLDER: i64 = 1;
/// What the check's date filters print for [`PLACEHOLDER`].
const PLACEHOLDER_DATE: &str = "01/12/2026";
/// What the check's `datetime_vn` prints for [`PLACEHOLDER`].
const PLACEHOLDER_DATETIME: &str = "09:00 01/12/2026";

impl FilterReflection for VnFilter {
    fn name(&self) -> &str {
        self.kind.name()
    }

    fn description(&self) -> &str {
        self.kind.description()
    }

    fn positional_parameters(&self) -> &'static [ParameterReflection] {
        &[]
    }

    fn keyword_parameters(&self) -> &'static [ParameterReflection] {
        &[]
    }
}

impl ParseFilter for VnFilter {
    fn parse(&self, mut arguments: FilterArguments) -> Result<Box<dyn Filter>> {
        if arguments.positional.next().is_some() || arguments.keyword.next().is_some() {
            return Err(Error::with_msg("Invalid number of arguments")
                .context("cause", "expected no arguments"));
        }
        Ok(Box::new(*self))
    }

    fn reflection(&self) -> &dyn FilterReflection {
        self
    }
}

impl fmt::Display for VnFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.name())
    }
}

impl Filter for VnFilter {
    fn evaluate(&self, input: &dyn ValueView, _runtime: &dyn Runtime) -> Result<Value> {
        // Never put the input in the error: it is customer data.
        let invalid =
            |cause: &str| Error::with_msg("Invalid input").context("cause", cause.to_string());
        let placeholder = self.check
            && (input.is_nil()
                || input.as_scalar().and_then(|s| s.to_integer()) == Some(PLACEHOLDER));
        let text = match self.kind {
            Kind::Vnd if placeholder => format_vnd(PLACEHOLDER),
            Kind::Vnd => format_vnd(amount(input).ok_or_else(|| invalid("amount expected"))?),
            Kind::DateVn if placeholder => PLACEHOLDER_DATE.to_string(),
            Kind::DateVn => {
                let date = scalar_text(input)
                    .and_then(|s| vn_date_of(&s))
                    .ok_or_else(|| invalid("date expected"))?;
                date.format("%d/%m/%Y").to_string()
            }
            Kind::DatetimeVn if placeholder => PLACEHOLDER_DATETIME.to_string(),
            Kind::DatetimeVn => {
                let instant = scalar_text(input)
                    .and_then(|s| parse_instant(&s))
                    .ok_or_else(|| invalid("instant expected"))?;
                to_vn(instant).format("%H:%M %d/%m/%Y").to_string()
            }
            Kind::Unaccent => unaccent(&input.to_kstr()),
        };
        Ok(Value::scalar(text))
    }
}

/// The text of a scalar input (`None` for nil, arrays and objects).
fn scalar_text(input: &dyn ValueView) -> Option<String> {
    if input.is_nil() {
        return None;
    }
    input.as_scalar().map(|s| s.to_kstr().trim().to_string())
}

/// An amount in whole đồng from an integer, a float (rounded half away from zero) or a numeric
/// string; `None` for anything else or out of range.
fn amount(input: &dyn ValueView) -> Option<i64> {
    let scalar = input.as_scalar()?;
    let float = match scalar.type_name() {
        "whole number" => return scalar.to_integer(),
        "fractional number" => scalar.to_float()?,
        "string" => {
            let text = scalar.to_kstr();
            let text = text.trim();
            if let Ok(whole) = text.parse::<i64>() {
                return Some(whole);
            }
            text.parse::<f64>().ok()?
        }
        _ => return None,
    };
    let rounded = float.round();
    // i64::MAX as f64 rounds up to 2^63, which is out of range.
    (rounded.is_finite() && rounded >= i64::MIN as f64 && rounded < i64::MAX as f64)
        .then_some(rounded as i64)
}

/// `amount` as Vietnamese write đồng: dot thousands separators, a space, `₫`:
/// `1500000` → `1.500.000 ₫`, `-1500` → `-1.500 ₫`.
pub(super) fn format_vnd(amount: i64) -> String {
    let digits = amount.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 5);
    if amount < 0 {
        out.push('-');
    }
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(digit);
    }
    out.push_str(" ₫");
    out
}

/// An instant in RFC 3339 (`2026-11-23T18:30:00Z`, also with a space for the `T`) or as Liquid
/// prints its own date-times (`2026-11-23 18:30:00 +0000`).
fn parse_instant(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S %z"))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The Vietnam date of `text`: a calendar date (`2026-11-23`) as is, an instant converted to
/// Asia/Ho_Chi_Minh.
fn vn_date_of(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .or_else(|| parse_instant(text).map(crate::time::vn_date))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parser(check: bool) -> liquid::Parser {
        all(check)
            .fold(liquid::ParserBuilder::with_stdlib(), |b, f| b.filter(f))
            .build()
            .expect("parser builds")
    }

    fn run(source: &str, input: serde_json::Value) -> std::result::Result<String, String> {
        run_with(false, source, input)
    }

    fn run_with(
        check: bool,
        source: &str,
        input: serde_json::Value,
    ) -> std::result::Result<String, String> {
        let template = parser(check).parse(source).map_err(|e| e.to_string())?;
        let globals = liquid::to_object(&serde_json::json!({ "x": input })).expect("object");
        template.render(&globals).map_err(|e| e.to_string())
    }

    #[test]
    fn vnd_formats_dong() {
        use serde_json::json;
        for (input, expected) in [
            (json!(0), "0 ₫"),
            (json!(999), "999 ₫"),
            (json!(1000), "1.000 ₫"),
            (json!(1000000), "1.000.000 ₫"),
            (json!(-1500), "-1.500 ₫"),
            (json!(3250000), "3.250.000 ₫"),
            (json!("1500000"), "1.500.000 ₫"),
            (json!(" 42 "), "42 ₫"),
            (json!(1234.5), "1.235 ₫"),
            (json!(-0.4), "0 ₫"),
            (json!("99999.5"), "100.000 ₫"),
            (json!(i64::MIN), "-9.223.372.036.854.775.808 ₫"),
        ] {
            assert_eq!(
                run("{{ x | vnd }}", input.clone()).as_deref(),
                Ok(expected),
                "{input}"
            );
        }
    }

    #[test]
    fn vnd_rejects_what_is_not_a_number_without_echoing_it() {
        use serde_json::json;
        for input in [
            json!("một triệu"),
            json!(null),
            json!(true),
            json!([1]),
            json!(1e300),
        ] {
            let error = run("{{ x | vnd }}", input.clone()).expect_err("not an amount");
            assert!(error.contains("filter=vnd"), "{error}");
        }
        assert!(parser(false).parse("{{ x | vnd: 2 }}").is_err());
    }

    #[test]
    fn date_vn_reads_dates_and_instants_in_vietnam() {
        use serde_json::json;
        for (input, expected) in [
            ("2026-11-23", "23/11/2026"),
            ("2026-11-23T18:30:00Z", "24/11/2026"),
            ("2026-11-23T16:59:59Z", "23/11/2026"),
            ("2026-11-23T08:00:00+07:00", "23/11/2026"),
            ("2026-11-23 18:30:00 +0000", "24/11/2026"),
        ] {
            assert_eq!(
                run("{{ x | date_vn }}", json!(input)).as_deref(),
                Ok(expected)
            );
        }
        for input in [
            json!("23/11/2026"),
            json!("mai"),
            json!(null),
            json!(20261123),
        ] {
            assert!(run("{{ x | date_vn }}", input).is_err());
        }
    }

    #[test]
    fn datetime_vn_shows_vietnam_wall_clock() {
        use serde_json::json;
        assert_eq!(
            run("{{ x | datetime_vn }}", json!("2026-11-23T18:30:00Z")).as_deref(),
            Ok("01:30 24/11/2026")
        );
        assert_eq!(
            run("{{ x | datetime_vn }}", json!("2026-11-23T09:05:00+07:00")).as_deref(),
            Ok("09:05 23/11/2026")
        );
        assert!(run("{{ x | datetime_vn }}", json!("2026-11-23")).is_err());
    }

    #[test]
    fn the_check_flavour_accepts_its_placeholder_only() {
        use serde_json::json;
        let placeholder = json!(PLACEHOLDER);
        assert_eq!(
            run_with(true, "{{ x | date_vn }}", placeholder.clone()).as_deref(),
            Ok(PLACEHOLDER_DATE)
        );
        assert_eq!(
            run_with(true, "{{ x | datetime_vn }}", placeholder.clone()).as_deref(),
            Ok(PLACEHOLDER_DATETIME)
        );
        assert_eq!(
            run_with(true, "{{ x | vnd }}-{{ x | date_vn }}", json!(null)).as_deref(),
            Ok("1 ₫-01/12/2026")
        );
        assert!(run("{{ x | date_vn }}", placeholder).is_err());
        assert!(run_with(true, "{{ x | date_vn }}", json!("mai")).is_err());
    }

    #[test]
    fn unaccent_filter() {
        assert_eq!(
            run("{{ x | unaccent }}", serde_json::json!("Đặng Thị Ánh")).as_deref(),
            Ok("Dang Thi Anh")
        );
        assert_eq!(
            run("{{ x | unaccent }}", serde_json::json!(null)).as_deref(),
            Ok("")
        );
    }

    proptest! {
        #[test]
        fn vnd_round_trips(n in any::<i64>()) {
            let text = format_vnd(n);
            let digits: String = text.trim_end_matches(" ₫").chars().filter(|c| *c != '.').collect();
            prop_assert_eq!(digits.parse::<i64>().ok(), Some(n));
            // Groups of three after the first.
            let body = text.trim_end_matches(" ₫").trim_start_matches('-');
            let groups: Vec<&str> = body.split('.').collect();
            prop_assert!(!groups[0].is_empty() && groups[0].len() <= 3);
            prop_assert!(groups[1..].iter().all(|g| g.len() == 3));
        }
    }
}
