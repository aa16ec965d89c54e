//! Reminder ladders: the days around a due date on which a customer is reminded, as day
//! offsets from it. `-5` is five days before (D-5), `0` the due date itself (D0), `3` three days
//! after (D+3). An instalment's reminders default to D-5, D-1, D0, D+1 and D+3
//! ([`Ladder::instalment_default`]); a card's or a document's expiry to D-30, D-7 and D-1
//! ([`Ladder::expiry_default`]). No I/O.
//!
//! # Rules
//! A ladder has 1 to [`MAX_STEPS`] offsets, each within [`MAX_OFFSET`] days of the due date,
//! in ascending order without repeats; it is serialised as a plain JSON array (`[-5, -1, 0]`)
//! and checked again when read. Staff type it in the console as text ([`Ladder::parse`]):
//! `D-5, D-1, D0, D+1, D+3`, or the bare numbers `-5 -1 0 1 3`, separated by commas or spaces;
//! the order typed is kept, so it must already be ascending. Offsets are calendar days, not
//! working days: moving a reminder off a weekend or holiday is the sender's business.

use std::fmt;

use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};

/// The most offsets a ladder may hold.
pub const MAX_STEPS: usize = 10;

/// The furthest an offset may be from the due date, in days, before or after.
pub const MAX_OFFSET: i32 = 90;

/// Why a ladder was rejected; `Display` is a Vietnamese sentence for the staff member.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LadderError {
    /// No offset at all.
    #[error("Lịch nhắc phải có ít nhất một mốc")]
    Empty,
    /// More than [`MAX_STEPS`] offsets.
    #[error("Lịch nhắc có tối đa {max} mốc (nhận {count})")]
    TooMany {
        /// How many offsets were given.
        count: usize,
        /// The most allowed.
        max: usize,
    },
    /// An offset further than [`MAX_OFFSET`] days from the due date.
    #[error("Mốc {label} quá xa ngày đến hạn: chỉ được trong khoảng D-90 đến D+90")]
    OutOfRange {
        /// The offset's label, e.g. `D+120`.
        label: String,
    },
    /// An offset not after the one before it: out of order or repeated.
    #[error("Các mốc phải tăng dần và không trùng nhau: {label} đứng sau {previous}")]
    NotAscending {
        /// The offset's label.
        label: String,
        /// The label of the offset before it.
        previous: String,
    },
    /// Text that is not an offset, when parsing.
    #[error("Không hiểu mốc \"{token}\": hãy viết dạng D-5, D0, D+3 hoặc -5, 0, 3")]
    Invalid {
        /// The text not understood.
        token: String,
    },
}

/// The days on which reminders go out, as offsets from a due date, in days: ascending, unique,
/// 1 to [`MAX_STEPS`] of them, each within [`MAX_OFFSET`] days.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "Vec<i32>", into = "Vec<i32>")]
pub struct Ladder(Vec<i32>);

impl Ladder {
    /// A ladder of `offsets`, checked against the rules of the module documentation; the first
    /// problem found is reported.
    pub fn new(offsets: Vec<i32>) -> Result<Ladder, LadderError> {
        if offsets.is_empty() {
            return Err(LadderError::Empty);
        }
        if offsets.len() > MAX_STEPS {
            return Err(LadderError::TooMany {
                count: offsets.len(),
                max: MAX_STEPS,
            });
        }
        if let Some(offset) = offsets
            .iter()
            .find(|o| !(-MAX_OFFSET..=MAX_OFFSET).contains(*o))
        {
            return Err(LadderError::OutOfRange {
                label: Ladder::label(*offset),
            });
        }
        if let Some(pair) = offsets.windows(2).find(|pair| pair[0] >= pair[1]) {
            return Err(LadderError::NotAscending {
                label: Ladder::label(pair[1]),
                previous: Ladder::label(pair[0]),
            });
        }
        Ok(Ladder(offsets))
    }

    /// A ladder from the console's text, e.g. `D-5, D-1, D0, D+1, D+3`: offsets separated by
    /// commas, semicolons or spaces, each `D` (or `d`) followed by a signed number, or a bare
    /// signed number (`-5`, `0`, `3`, `+3`). Then checked as [`Ladder::new`] does.
    pub fn parse(text: &str) -> Result<Ladder, LadderError> {
        let offsets = text
            .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
            .filter(|token| !token.is_empty())
            .map(parse_offset)
            .collect::<Result<Vec<i32>, LadderError>>()?;
        Ladder::new(offsets)
    }

    /// The default for instalments: D-5, D-1, D0, D+1, D+3.
    pub fn instalment_default() -> Ladder {
        Ladder(vec![-5, -1, 0, 1, 3])
    }

    /// The default for expiries (a card, an identity document, a term deposit): D-30, D-7,
    /// D-1.
    pub fn expiry_default() -> Ladder {
        Ladder(vec![-30, -7, -1])
    }

    /// The offsets, ascending.
    pub fn offsets(&self) -> &[i32] {
        &self.0
    }

    /// Each offset with its calendar date for a due date of `due_on`, in order; an offset whose
    /// date is beyond chrono's range is left out.
    pub fn dates(&self, due_on: NaiveDate) -> Vec<(i32, NaiveDate)> {
        self.0
            .iter()
            .filter_map(|&offset| {
                let days = Days::new(u64::from(offset.unsigned_abs()));
                let date = if offset < 0 {
                    due_on.checked_sub_days(days)
                } else {
                    due_on.checked_add_days(days)
                };
                date.map(|date| (offset, date))
            })
            .collect()
    }

    /// How staff write an offset: `D-5`, `D0`, `D+1`.
    pub fn label(offset: i32) -> String {
        if offset > 0 {
            format!("D+{offset}")
        } else {
            format!("D{offset}")
        }
    }
}

impl fmt::Display for Ladder {
    /// The labels separated by commas, `D-5, D-1, D0`: text [`Ladder::parse`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let labels: Vec<String> = self.0.iter().map(|o| Ladder::label(*o)).collect();
        f.write_str(&labels.join(", "))
    }
}

impl TryFrom<Vec<i32>> for Ladder {
    type Error = LadderError;

    fn try_from(offsets: Vec<i32>) -> Result<Self, Self::Error> {
        Ladder::new(offsets)
    }
}

impl From<Ladder> for Vec<i32> {
    fn from(ladder: Ladder) -> Self {
        ladder.0
    }
}

/// One offset of the console's text: `D-5`, `d+3`, `D0`, `-5`, `3`; a minus sign (−) reads as
/// a hyphen.
fn parse_offset(token: &str) -> Result<i32, LadderError> {
    let normalised = token.replace('\u{2212}', "-");
    let number = normalised
        .strip_prefix(['D', 'd'])
        .unwrap_or(normalised.as_str());
    number.parse::<i32>().map_err(|_| LadderError::Invalid {
        token: token.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(year: i32, month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(year, month, day).unwrap()
    }

    #[test]
    fn the_defaults() {
        assert_eq!(Ladder::instalment_default().offsets(), [-5, -1, 0, 1, 3]);
        assert_eq!(Ladder::expiry_default().offsets(), [-30, -7, -1]);
        for ladder in [Ladder::instalment_default(), Ladder::expiry_default()] {
            assert_eq!(Ladder::new(ladder.offsets().to_vec()), Ok(ladder));
        }
    }

    #[test]
    fn labels_and_display() {
        assert_eq!(Ladder::label(-5), "D-5");
        assert_eq!(Ladder::label(0), "D0");
        assert_eq!(Ladder::label(1), "D+1");
        let ladder = Ladder::instalment_default();
        assert_eq!(ladder.to_string(), "D-5, D-1, D0, D+1, D+3");
        assert_eq!(Ladder::parse(&ladder.to_string()), Ok(ladder));
    }

    #[test]
    fn dates_cross_months_and_years() {
        let dates = Ladder::instalment_default().dates(date(2026, 3, 1));
        assert_eq!(
            dates,
            [
                (-5, date(2026, 2, 24)),
                (-1, date(2026, 2, 28)),
                (0, date(2026, 3, 1)),
                (1, date(2026, 3, 2)),
                (3, date(2026, 3, 4)),
            ]
        );
        let expiry = Ladder::expiry_default().dates(date(2027, 1, 15));
        assert_eq!(expiry[0], (-30, date(2026, 12, 16)));
        // Beyond chrono's range: left out.
        assert_eq!(Ladder::instalment_default().dates(NaiveDate::MAX).len(), 3);
    }

    #[test]
    fn the_console_text_in_its_forms() {
        let expected = Ladder::instalment_default();
        for text in [
            "D-5, D-1, D0, D+1, D+3",
            "-5 -1 0 1 3",
            "d-5,d-1,d0,d+1,d+3",
            "D−5; −1  D0 +1, 3",
            "  D-5 ,, D-1 D0 D1 D3 ",
        ] {
            assert_eq!(Ladder::parse(text), Ok(expected.clone()), "{text}");
        }
        for (text, token) in [
            ("D-5, D, D0", "D"),
            ("D-5, x3", "x3"),
            ("D--5", "D--5"),
            ("DD5", "DD5"),
            ("D+ 5", "D+"),
            ("D-99999999999", "D-99999999999"),
        ] {
            assert_eq!(
                Ladder::parse(text),
                Err(LadderError::Invalid {
                    token: token.into()
                }),
                "{text}"
            );
        }
        assert_eq!(Ladder::parse(" , "), Err(LadderError::Empty));
    }

    #[test]
    fn rules_are_checked_with_vietnamese_messages() {
        assert_eq!(Ladder::new(vec![]), Err(LadderError::Empty));
        let eleven: Vec<i32> = (0..11).collect();
        assert_eq!(
            Ladder::new(eleven),
            Err(LadderError::TooMany { count: 11, max: 10 })
        );
        assert!(Ladder::new((0..10).collect()).is_ok());
        assert!(Ladder::new(vec![-90, 90]).is_ok());
        let far = Ladder::new(vec![-91]).unwrap_err();
        assert_eq!(
            far.to_string(),
            "Mốc D-91 quá xa ngày đến hạn: chỉ được trong khoảng D-90 đến D+90"
        );
        let repeated = Ladder::parse("D-1, D0, D0").unwrap_err();
        assert_eq!(
            repeated.to_string(),
            "Các mốc phải tăng dần và không trùng nhau: D0 đứng sau D0"
        );
        assert!(matches!(
            Ladder::parse("D0 D-1"),
            Err(LadderError::NotAscending { .. })
        ));
        assert!(matches!(
            Ladder::new(vec![i32::MIN]),
            Err(LadderError::OutOfRange { .. })
        ));
    }

    #[test]
    fn serialised_as_a_plain_array_and_checked_when_read() {
        let ladder = Ladder::instalment_default();
        let json = serde_json::to_value(&ladder).unwrap();
        assert_eq!(json, serde_json::json!([-5, -1, 0, 1, 3]));
        assert_eq!(serde_json::from_value::<Ladder>(json).unwrap(), ladder);
        for bad in [
            serde_json::json!([]),
            serde_json::json!([3, 1]),
            serde_json::json!([200]),
        ] {
            assert!(
                serde_json::from_value::<Ladder>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }
}
