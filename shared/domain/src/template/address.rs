//! How a message addresses the customer: the kinship title chosen from gender and age ("Anh",
//! "Chị" for younger customers, "Ông", "Bà" from 50) and the greeting built from it
//! ("Anh Minh", "Bà Lan", "Quý khách" when the given name is unknown).

use chrono::{Datelike, NaiveDate};

use crate::person::{Gender, nfc};

/// The age from which a customer is addressed as "Ông"/"Bà" rather than "Anh"/"Chị".
pub const SENIOR_AGE: i32 = 50;

/// Whole years from `birthday` to `today`; negative when the birthday is in the future.
fn age_on(birthday: NaiveDate, today: NaiveDate) -> i32 {
    let years = today.year() - birthday.year();
    if (today.month(), today.day()) < (birthday.month(), birthday.day()) {
        years - 1
    } else {
        years
    }
}

/// Title used to address a customer from gender and age on `today` (a Vietnam date):
/// from 50 "Ông" (male) / "Bà" (female); younger, or birthday unknown, "Anh" / "Chị"; when the
/// gender is other or unknown "Ông/Bà" from 50, otherwise "Anh/Chị".
pub fn customer_title(
    gender: Option<Gender>,
    birthday: Option<NaiveDate>,
    today: NaiveDate,
) -> &'static str {
    let senior = birthday.is_some_and(|b| age_on(b, today) >= SENIOR_AGE);
    match (gender, senior) {
        (Some(Gender::Male), true) => "Ông",
        (Some(Gender::Female), true) => "Bà",
        (Some(Gender::Other) | None, true) => "Ông/Bà",
        (Some(Gender::Male), false) => "Anh",
        (Some(Gender::Female), false) => "Chị",
        (Some(Gender::Other) | None, false) => "Anh/Chị",
    }
}

/// The greeting: the title then the given name, "Anh Minh", "Bà Lan", "Anh/Chị Minh"; the given
/// name alone when the title is blank; "Quý khách" when the given name is unknown or blank.
/// Both are NFC-normalised and their whitespace collapsed.
pub fn customer_salutation(title: &str, given_name: Option<&str>) -> String {
    let clean = |s: &str| nfc(s).split_whitespace().collect::<Vec<_>>().join(" ");
    let name = given_name.map(clean).unwrap_or_default();
    let title = clean(title);
    match (title.is_empty(), name.is_empty()) {
        (_, true) => "Quý khách".to_string(),
        (true, false) => name,
        (false, false) => format!("{title} {name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid test date")
    }

    #[test]
    fn title_table() {
        let today = date(2026, 11, 23);
        let fifty_today = Some(date(1976, 11, 23));
        let fifty_tomorrow = Some(date(1976, 11, 24));
        let young = Some(date(1995, 3, 1));
        let future = Some(date(2030, 1, 1));
        let cases = [
            (Some(Gender::Male), fifty_today, "Ông"),
            (Some(Gender::Female), fifty_today, "Bà"),
            (Some(Gender::Other), fifty_today, "Ông/Bà"),
            (None, fifty_today, "Ông/Bà"),
            (Some(Gender::Male), fifty_tomorrow, "Anh"),
            (Some(Gender::Female), fifty_tomorrow, "Chị"),
            (None, fifty_tomorrow, "Anh/Chị"),
            (Some(Gender::Male), young, "Anh"),
            (Some(Gender::Female), young, "Chị"),
            (Some(Gender::Other), young, "Anh/Chị"),
            (Some(Gender::Male), None, "Anh"),
            (Some(Gender::Female), None, "Chị"),
            (None, None, "Anh/Chị"),
            (Some(Gender::Female), future, "Chị"),
        ];
        for (gender, birthday, expected) in cases {
            assert_eq!(
                customer_title(gender, birthday, today),
                expected,
                "{gender:?} {birthday:?}"
            );
        }
    }

    #[test]
    fn leap_day_birthdays_age_on_the_first_of_march() {
        let born = Some(date(1976, 2, 29));
        assert_eq!(
            customer_title(Some(Gender::Male), born, date(2026, 2, 28)),
            "Anh"
        );
        assert_eq!(
            customer_title(Some(Gender::Male), born, date(2026, 3, 1)),
            "Ông"
        );
    }

    #[test]
    fn salutations() {
        assert_eq!(customer_salutation("Anh", Some("Minh")), "Anh Minh");
        assert_eq!(customer_salutation("Bà", Some(" Lan ")), "Bà Lan");
        assert_eq!(customer_salutation("Anh/Chị", Some("Minh")), "Anh/Chị Minh");
        assert_eq!(
            customer_salutation("Chị", Some("Minh  Khai")),
            "Chị Minh Khai"
        );
        assert_eq!(customer_salutation("Anh", None), "Quý khách");
        assert_eq!(customer_salutation("Anh", Some("  ")), "Quý khách");
        assert_eq!(customer_salutation("", Some("Minh")), "Minh");
        // Decomposed input comes out composed.
        assert_eq!(
            customer_salutation("Chị", Some("Nguye\u{302}\u{303}n")),
            "Chị Nguyễn"
        );
    }
}
