//! Greeting occasions: the days a customer may be sent good wishes. Their birthday, the solar
//! holidays (1/1, 8/3, 30/4, 1/5, 2/9, 20/10) and the lunar ones (Tết Nguyên Đán, Giỗ Tổ Hùng
//! Vương, Tết Trung Thu), with the date each falls on in a given year. No I/O.
//!
//! # Rules
//! - **Lunar occasions** are computed with Vietnam's lunar calendar, in UTC+07:00
//!   ([`crate::calendar`]; China's, in UTC+08:00, can put them on another day: Tết 2007 was
//!   17/02 in Viet Nam and 18/02 in China, Tết 2030 is 02/02 and 03/02, and in 1985 the months of
//!   the winter were numbered differently: Tết on 21/01 in Viet Nam, 20/02 in China): Tết is the 1st day of the 1st lunar month, Giỗ Tổ the 10th of the 3rd, Trung Thu
//!   the 15th of the 8th, never of a leap month. Each falls in the solar year of its lunar year
//!   (Tết between 21 January and 20 February), so "Tết 2027" is the lunar year that begins in
//!   2027. They are computed for the solar years of [`crate::calendar::LUNAR_YEARS`] only.
//! - **Birthdays** fall on the day and month of birth each year from the year of birth; someone
//!   born on 29 February is greeted on 28 February in years that have no 29th.
//! - **Once a year.** A greeting is sent at most once per customer, occasion and year:
//!   [`occasion_key`] names that (`tet-2027`, `birthday-2026`) for the sender to remember.
//!
//! These are days for greetings, not days off: the working calendar's public holidays and
//! compensatory days are [`crate::calendar::WorkCalendar::holidays`].

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::calendar::lunar_date;

/// A day for sending a customer good wishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Occasion {
    /// The customer's birthday.
    Birthday,
    /// Tết Dương lịch, 1 January.
    NewYear,
    /// International Women's Day, 8 March.
    WomensDay,
    /// Reunification Day, 30 April.
    Reunification,
    /// International Labour Day, 1 May.
    LabourDay,
    /// National Day, 2 September.
    NationalDay,
    /// Vietnamese Women's Day, 20 October.
    VietnameseWomensDay,
    /// Tết Nguyên Đán: the 1st day of the 1st lunar month.
    LunarNewYear,
    /// Giỗ Tổ Hùng Vương: the 10th day of the 3rd lunar month.
    HungKings,
    /// Tết Trung Thu (Mid-Autumn): the 15th day of the 8th lunar month.
    MidAutumn,
}

impl Occasion {
    /// Every occasion, the birthday first, then the holidays as they fall in the year for the
    /// solar ones.
    pub const ALL: [Occasion; 10] = [
        Occasion::Birthday,
        Occasion::NewYear,
        Occasion::WomensDay,
        Occasion::Reunification,
        Occasion::LabourDay,
        Occasion::NationalDay,
        Occasion::VietnameseWomensDay,
        Occasion::LunarNewYear,
        Occasion::HungKings,
        Occasion::MidAutumn,
    ];

    /// The wire form, as serialised: `birthday`, `new_year`, `womens_day`, `reunification`,
    /// `labour_day`, `national_day`, `vietnamese_womens_day`, `lunar_new_year`, `hung_kings`,
    /// `mid_autumn`.
    pub fn as_str(self) -> &'static str {
        match self {
            Occasion::Birthday => "birthday",
            Occasion::NewYear => "new_year",
            Occasion::WomensDay => "womens_day",
            Occasion::Reunification => "reunification",
            Occasion::LabourDay => "labour_day",
            Occasion::NationalDay => "national_day",
            Occasion::VietnameseWomensDay => "vietnamese_womens_day",
            Occasion::LunarNewYear => "lunar_new_year",
            Occasion::HungKings => "hung_kings",
            Occasion::MidAutumn => "mid_autumn",
        }
    }

    /// The Vietnamese name shown to staff.
    pub fn label(self) -> &'static str {
        match self {
            Occasion::Birthday => "Sinh nhật",
            Occasion::NewYear => "Tết Dương lịch",
            Occasion::WomensDay => "Quốc tế Phụ nữ 8/3",
            Occasion::Reunification => "Ngày Giải phóng miền Nam 30/4",
            Occasion::LabourDay => "Quốc tế Lao động 1/5",
            Occasion::NationalDay => "Quốc khánh 2/9",
            Occasion::VietnameseWomensDay => "Ngày Phụ nữ Việt Nam 20/10",
            Occasion::LunarNewYear => "Tết Nguyên Đán",
            Occasion::HungKings => "Giỗ Tổ Hùng Vương",
            Occasion::MidAutumn => "Tết Trung Thu",
        }
    }

    /// Whether its date comes from the lunar calendar: Tết, Giỗ Tổ, Trung Thu.
    pub fn is_lunar(self) -> bool {
        matches!(
            self,
            Occasion::LunarNewYear | Occasion::HungKings | Occasion::MidAutumn
        )
    }

    /// The first part of [`occasion_key`]: the wire form in kebab case, `tet` for Tết.
    fn key_prefix(self) -> &'static str {
        match self {
            Occasion::Birthday => "birthday",
            Occasion::NewYear => "new-year",
            Occasion::WomensDay => "womens-day",
            Occasion::Reunification => "reunification",
            Occasion::LabourDay => "labour-day",
            Occasion::NationalDay => "national-day",
            Occasion::VietnameseWomensDay => "vietnamese-womens-day",
            Occasion::LunarNewYear => "tet",
            Occasion::HungKings => "hung-kings",
            Occasion::MidAutumn => "mid-autumn",
        }
    }
}

/// The date of a holiday `occasion` in the solar `year`: the fixed day for a solar one, the
/// lunar day of the lunar year that falls in `year` for a lunar one (Vietnam's calendar,
/// UTC+07:00). `None` for [`Occasion::Birthday`], for a lunar one outside
/// [`crate::calendar::LUNAR_YEARS`], and for a year chrono cannot represent.
pub fn holiday_date(occasion: Occasion, year: i32) -> Option<NaiveDate> {
    let solar = |month, day| NaiveDate::from_ymd_opt(year, month, day);
    match occasion {
        Occasion::Birthday => None,
        Occasion::NewYear => solar(1, 1),
        Occasion::WomensDay => solar(3, 8),
        Occasion::Reunification => solar(4, 30),
        Occasion::LabourDay => solar(5, 1),
        Occasion::NationalDay => solar(9, 2),
        Occasion::VietnameseWomensDay => solar(10, 20),
        Occasion::LunarNewYear => lunar_date(year, 1, 1),
        Occasion::HungKings => lunar_date(year, 3, 10),
        Occasion::MidAutumn => lunar_date(year, 8, 15),
    }
}

/// The holiday occasions falling on `date`, in the order of [`Occasion::ALL`]; never
/// [`Occasion::Birthday`]. Usually none or one, but a lunar holiday can share a date with a
/// solar one.
pub fn holidays_on(date: NaiveDate) -> Vec<Occasion> {
    Occasion::ALL
        .into_iter()
        .filter(|occasion| holiday_date(*occasion, date.year()) == Some(date))
        .collect()
}

/// The birthday in `year` of someone born on `birth`: the same day and month, 28 February for a
/// 29 February birth in a year without one. `None` before the year of birth and for a year
/// chrono cannot represent.
pub fn birthday_in(birth: NaiveDate, year: i32) -> Option<NaiveDate> {
    if year < birth.year() {
        return None;
    }
    NaiveDate::from_ymd_opt(year, birth.month(), birth.day())
        .or_else(|| NaiveDate::from_ymd_opt(year, birth.month(), birth.day() - 1))
}

/// The key of a greeting for `occasion` on `date`, unique per occasion and solar year
/// (`tet-2027`, `birthday-2026`, `mid-autumn-2026`): with the customer's id, what makes a
/// greeting go out at most once a year.
pub fn occasion_key(occasion: Occasion, date: NaiveDate) -> String {
    format!("{}-{}", occasion.key_prefix(), date.year())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(year: i32, month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(year, month, day).unwrap()
    }

    #[test]
    fn tet_2024_to_2035() {
        // 2030 is Vietnam's date: the new moon falls at about 23:07 in UTC+07:00 on 2/2 (00:07
        // on 3/2 in China, whose Tết is 3/2/2030).
        let known = [
            date(2024, 2, 10),
            date(2025, 1, 29),
            date(2026, 2, 17),
            date(2027, 2, 6),
            date(2028, 1, 26),
            date(2029, 2, 13),
            date(2030, 2, 2),
            date(2031, 1, 23),
            date(2032, 2, 11),
            date(2033, 1, 31),
            date(2034, 2, 19),
            date(2035, 2, 8),
        ];
        for tet in known {
            assert_eq!(
                holiday_date(Occasion::LunarNewYear, tet.year()),
                Some(tet),
                "{tet}"
            );
        }
    }

    #[test]
    fn tet_is_vietnams_where_the_calendars_part() {
        // China's Tết: 20/2/1985 (a month later: the two calendars numbered the lunar months of
        // the winter of 1984–85 differently), 18/2/2007 and 3/2/2030 (a new moon just before
        // midnight in Viet Nam).
        assert_eq!(
            holiday_date(Occasion::LunarNewYear, 1985),
            Some(date(1985, 1, 21))
        );
        assert_eq!(
            holiday_date(Occasion::LunarNewYear, 2007),
            Some(date(2007, 2, 17))
        );
        assert_eq!(
            holiday_date(Occasion::LunarNewYear, 2030),
            Some(date(2030, 2, 2))
        );
    }

    #[test]
    fn hung_kings_and_mid_autumn() {
        let hung_kings = [
            date(2023, 4, 29),
            date(2024, 4, 18),
            date(2025, 4, 7),
            date(2026, 4, 26),
        ];
        for day in hung_kings {
            assert_eq!(holiday_date(Occasion::HungKings, day.year()), Some(day));
        }
        let mid_autumn = [
            date(2023, 9, 29),
            date(2024, 9, 17),
            date(2025, 10, 6),
            date(2026, 9, 25),
        ];
        for day in mid_autumn {
            assert_eq!(holiday_date(Occasion::MidAutumn, day.year()), Some(day));
        }
    }

    #[test]
    fn solar_holidays_and_the_limits_of_the_lunar_calendar() {
        assert_eq!(
            holiday_date(Occasion::VietnameseWomensDay, 2026),
            Some(date(2026, 10, 20))
        );
        assert_eq!(
            holiday_date(Occasion::NationalDay, 2026),
            Some(date(2026, 9, 2))
        );
        assert_eq!(holiday_date(Occasion::Birthday, 2026), None);
        assert_eq!(holiday_date(Occasion::LunarNewYear, 1899), None);
        assert_eq!(holiday_date(Occasion::MidAutumn, 2200), None);
        assert_eq!(
            holiday_date(Occasion::NewYear, 2200),
            Some(date(2200, 1, 1))
        );
    }

    #[test]
    fn holidays_on_a_date() {
        assert_eq!(holidays_on(date(2026, 3, 8)), [Occasion::WomensDay]);
        assert_eq!(holidays_on(date(2026, 2, 17)), [Occasion::LunarNewYear]);
        assert_eq!(holidays_on(date(2027, 2, 6)), [Occasion::LunarNewYear]);
        assert_eq!(holidays_on(date(2026, 4, 26)), [Occasion::HungKings]);
        assert_eq!(holidays_on(date(2026, 2, 18)), []);
        // Every holiday of a year is found on its own date.
        for occasion in Occasion::ALL
            .into_iter()
            .filter(|o| *o != Occasion::Birthday)
        {
            let day = holiday_date(occasion, 2030).unwrap();
            assert!(holidays_on(day).contains(&occasion), "{occasion:?}");
        }
    }

    #[test]
    fn birthdays_on_29_february() {
        let leapling = date(2000, 2, 29);
        assert_eq!(birthday_in(leapling, 2026), Some(date(2026, 2, 28)));
        assert_eq!(birthday_in(leapling, 2028), Some(date(2028, 2, 29)));
        assert_eq!(birthday_in(leapling, 2000), Some(leapling));
        assert_eq!(birthday_in(leapling, 1999), None);
        assert_eq!(
            birthday_in(date(1990, 12, 31), 2026),
            Some(date(2026, 12, 31))
        );
    }

    #[test]
    fn keys_once_per_occasion_and_year() {
        assert_eq!(
            occasion_key(Occasion::LunarNewYear, date(2027, 2, 6)),
            "tet-2027"
        );
        assert_eq!(
            occasion_key(Occasion::Birthday, date(2026, 5, 4)),
            "birthday-2026"
        );
        assert_eq!(
            occasion_key(Occasion::VietnameseWomensDay, date(2026, 10, 20)),
            "vietnamese-womens-day-2026"
        );
        let keys: std::collections::BTreeSet<String> = Occasion::ALL
            .into_iter()
            .map(|o| occasion_key(o, date(2026, 1, 1)))
            .collect();
        assert_eq!(keys.len(), Occasion::ALL.len());
    }

    #[test]
    fn wire_forms_labels_and_lunar_flags() {
        for occasion in Occasion::ALL {
            assert_eq!(
                serde_json::to_value(occasion).unwrap(),
                serde_json::Value::from(occasion.as_str())
            );
            // A lunar holiday moves in the solar calendar from one year to the next.
            let day_and_month = |year| holiday_date(occasion, year).map(|d| (d.day(), d.month()));
            if occasion != Occasion::Birthday {
                assert_eq!(
                    occasion.is_lunar(),
                    day_and_month(2025) != day_and_month(2026),
                    "{occasion:?}"
                );
            }
        }
        assert_eq!(Occasion::LunarNewYear.label(), "Tết Nguyên Đán");
        assert_eq!(Occasion::WomensDay.label(), "Quốc tế Phụ nữ 8/3");
    }
}
