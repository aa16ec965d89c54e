//! People's names and gender, the Vietnamese way. Text is NFC-normalised on the way in
//! ([`nfc`]); search folds diacritics so "Nguyen Van A" finds "Nguyễn Văn A" ([`fold`]). A
//! Vietnamese full name puts the family name first and the given name last, and people are
//! addressed by the given name with a kinship pronoun ("Anh Minh", "Chị Lan"); formal letters
//! use "Kính gửi Ông/Bà" and the full name ([`salutation`], [`formal_salutation`]).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use crate::identifiers::{IdentifierError, NameProblem};

/// A person's gender as recorded on the customer profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gender {
    /// Male (nam).
    Male,
    /// Female (nữ).
    Female,
    /// Another gender, or declined to say (khác).
    Other,
}

impl Gender {
    /// The serialised name: `male`, `female` or `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Male => "male",
            Self::Female => "female",
            Self::Other => "other",
        }
    }

    /// Reads a gender as people type it in forms and spreadsheets, ignoring case and
    /// diacritics: `male`/`m`/`nam`/`anh`/`ông`/`mr`, `female`/`f`/`nữ`/`chị`/`bà`/`mrs`/`ms`,
    /// `other`/`khác`. Returns `None` for anything else.
    pub fn parse_loose(input: &str) -> Option<Gender> {
        match fold(input).as_str() {
            "male" | "m" | "man" | "nam" | "nam gioi" | "anh" | "ong" | "mr" => Some(Self::Male),
            "female" | "f" | "woman" | "nu" | "nu gioi" | "chi" | "ba" | "mrs" | "ms" | "miss" => {
                Some(Self::Female)
            }
            "other" | "khac" => Some(Self::Other),
            _ => None,
        }
    }
}

/// Unicode NFC normalisation: the form all Vietnamese text is stored in, so that "ễ" typed as
/// one code point or as "e" plus two combining marks compares equal.
pub fn nfc(s: &str) -> String {
    s.nfc().collect()
}

/// Folds text for search: lower-case, decompose (NFD), drop combining marks, map "đ" to "d"
/// (it is a separate letter, not a "d" with a mark, so NFD leaves it alone), collapse runs of
/// whitespace to one space and trim. `fold("  Nguyễn  Văn ĐẠT ") == "nguyen van dat"`.
/// Idempotent: folding a folded string changes nothing.
pub fn fold(s: &str) -> String {
    // Lower-case first: some capitals lower-case to a letter plus a combining mark ("İ").
    let stripped: String = s
        .to_lowercase()
        .nfd()
        .filter(|c| !is_combining_mark(*c))
        .map(|c| if matches!(c, 'đ' | 'Đ') { 'd' } else { c })
        .collect();
    collapse_whitespace(&stripped)
}

fn collapse_whitespace(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A person's full name as written: NFC, trimmed, runs of whitespace collapsed to one space,
/// 1–100 characters, containing at least one letter and no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PersonName(String);

impl PersonName {
    /// The longest accepted name, in characters.
    pub const MAX_CHARS: usize = 100;

    /// Normalises and validates a full name.
    pub fn parse(input: &str) -> Result<Self, IdentifierError> {
        let err = |problem| Err(IdentifierError::InvalidName(problem));
        let name = collapse_whitespace(&nfc(input));
        if name.is_empty() {
            return err(NameProblem::Empty);
        }
        if name.chars().any(char::is_control) {
            return err(NameProblem::ControlCharacters);
        }
        if name.chars().count() > Self::MAX_CHARS {
            return err(NameProblem::TooLong);
        }
        if !name.chars().any(char::is_alphabetic) {
            return err(NameProblem::NoLetters);
        }
        Ok(Self(name))
    }

    /// The full name as normalised, family name first, e.g. `Nguyễn Văn Minh`.
    pub fn full(&self) -> &str {
        &self.0
    }

    /// The name folded for search, e.g. `nguyen van minh` (see [`fold`]).
    pub fn folded(&self) -> String {
        fold(&self.0)
    }

    /// The given name used to address the person: the last word, since Vietnamese names put
    /// the family name first ("Nguyễn Văn Minh" → "Minh"). A single word is returned as is.
    pub fn default_given_name(&self) -> &str {
        self.0.rsplit(' ').next().unwrap_or(&self.0)
    }
}

impl FromStr for PersonName {
    type Err = IdentifierError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for PersonName {
    type Error = IdentifierError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<PersonName> for String {
    fn from(name: PersonName) -> String {
        name.0
    }
}

impl fmt::Display for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A name argument cleaned for greetings: NFC, whitespace collapsed, `None` when blank.
fn clean_name(name: Option<&str>) -> Option<String> {
    name.map(|n| collapse_whitespace(&nfc(n)))
        .filter(|n| !n.is_empty())
}

/// The everyday greeting for messages: "Anh Minh" (male), "Chị Lan" (female), the given name
/// alone when the gender is other or unknown, and "Quý khách" when the name is unknown.
pub fn salutation(gender: Option<Gender>, given_name: Option<&str>) -> String {
    match (gender, clean_name(given_name)) {
        (_, None) => "Quý khách".to_string(),
        (Some(Gender::Male), Some(name)) => format!("Anh {name}"),
        (Some(Gender::Female), Some(name)) => format!("Chị {name}"),
        (Some(Gender::Other) | None, Some(name)) => name,
    }
}

/// The formal greeting for letters and statements: "Kính gửi Ông <full>" (male),
/// "Kính gửi Bà <full>" (female), "Kính gửi Quý khách <full>" when the gender is other or
/// unknown, and "Kính gửi Quý khách" when the name is unknown.
pub fn formal_salutation(gender: Option<Gender>, full_name: Option<&str>) -> String {
    match (gender, clean_name(full_name)) {
        (_, None) => "Kính gửi Quý khách".to_string(),
        (Some(Gender::Male), Some(name)) => format!("Kính gửi Ông {name}"),
        (Some(Gender::Female), Some(name)) => format!("Kính gửi Bà {name}"),
        (Some(Gender::Other) | None, Some(name)) => format!("Kính gửi Quý khách {name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn gender_serde_is_snake_case() {
        for (g, s) in [
            (Gender::Male, "\"male\""),
            (Gender::Female, "\"female\""),
            (Gender::Other, "\"other\""),
        ] {
            assert_eq!(serde_json::to_string(&g).unwrap(), s);
            assert_eq!(serde_json::from_str::<Gender>(s).unwrap(), g);
            assert_eq!(format!("\"{}\"", g.as_str()), s);
        }
        assert!(serde_json::from_str::<Gender>("\"Male\"").is_err());
    }

    #[test]
    fn gender_parse_loose_reads_vietnamese() {
        for input in [
            "male",
            "Male",
            "M",
            "nam",
            "NAM",
            "Nam giới",
            "anh",
            "Anh",
            "ông",
            "Ông",
            "ONG",
        ] {
            assert_eq!(Gender::parse_loose(input), Some(Gender::Male), "{input}");
        }
        for input in [
            "female", "F", "nữ", "Nữ", "NỮ", "nu", "chị", "Chi", "bà", "Bà", " ba ", "Ms",
        ] {
            assert_eq!(Gender::parse_loose(input), Some(Gender::Female), "{input}");
        }
        for input in ["other", "khác", "Khac", "KHÁC"] {
            assert_eq!(Gender::parse_loose(input), Some(Gender::Other), "{input}");
        }
        // "Nữ" typed in decomposed form (NFD) still reads as female.
        assert_eq!(Gender::parse_loose("nu\u{303}"), Some(Gender::Female));
        for input in ["", "x", "em", "unknown", "namnu"] {
            assert_eq!(Gender::parse_loose(input), None, "{input}");
        }
    }

    #[test]
    fn nfc_composes() {
        let decomposed = "Nguye\u{302}\u{303}n";
        assert_eq!(nfc(decomposed), "Nguyễn");
        assert_eq!(nfc("Nguyễn").chars().count(), 6);
    }

    #[test]
    fn fold_strips_diacritics_case_and_spacing() {
        assert_eq!(fold("  Nguyễn  Văn ĐẠT "), "nguyen van dat");
        assert_eq!(fold("Đặng Thị Ánh Tuyết"), "dang thi anh tuyet");
        assert_eq!(fold("Nguye\u{302}\u{303}n\tvăn\n\u{a0}A"), "nguyen van a");
        assert_eq!(fold("Bùi Hữu Nghĩa"), "bui huu nghia");
        assert_eq!(fold("Ơ Ư ơ ư Ă â Ê ô"), "o u o u a a e o");
        assert_eq!(fold("İstanbul"), "istanbul");
        assert_eq!(fold(""), "");
    }

    proptest! {
        #[test]
        fn fold_is_idempotent(s in any::<String>()) {
            let once = fold(&s);
            prop_assert_eq!(fold(&once), once);
        }

        #[test]
        fn fold_is_idempotent_on_vietnamese(s in "[ a-zA-ZàáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵĐÂĂÊÔƠƯ\t]{0,40}") {
            let once = fold(&s);
            prop_assert_eq!(fold(&once), once.clone());
            prop_assert!(once.is_ascii(), "{}", once);
        }
    }

    #[test]
    fn person_name_normalises() {
        let n = PersonName::parse("  Nguye\u{302}\u{303}n   Văn\tMinh ").unwrap();
        assert_eq!(n.full(), "Nguyễn Văn Minh");
        assert_eq!(n.to_string(), "Nguyễn Văn Minh");
        assert_eq!(n.folded(), "nguyen van minh");
        assert_eq!(n.default_given_name(), "Minh");
        assert_eq!(
            PersonName::parse("Lan").unwrap().default_given_name(),
            "Lan"
        );
        assert_eq!(
            PersonName::parse("Nguyễn Thị Minh Khai")
                .unwrap()
                .default_given_name(),
            "Khai"
        );
        assert!(PersonName::parse("Trần Văn 2").is_ok());
        assert!(PersonName::parse(&"a".repeat(100)).is_ok());
    }

    #[test]
    fn person_name_rejects() {
        for (input, problem) in [
            ("", NameProblem::Empty),
            (" \t\n ", NameProblem::Empty),
            ("Nguyễn\u{0}Minh", NameProblem::ControlCharacters),
            ("Nguyễn\u{7}", NameProblem::ControlCharacters),
            ("0912345678", NameProblem::NoLetters),
            ("123 456", NameProblem::NoLetters),
            ("--- ...", NameProblem::NoLetters),
        ] {
            let err = PersonName::parse(input).unwrap_err();
            assert_eq!(err, IdentifierError::InvalidName(problem), "{input:?}");
            assert_eq!(err.code(), "invalid_name");
            assert!(err.to_string().starts_with("Họ tên không hợp lệ: "));
        }
        assert_eq!(
            PersonName::parse(&"ễ".repeat(101)).unwrap_err(),
            IdentifierError::InvalidName(NameProblem::TooLong)
        );
    }

    #[test]
    fn person_name_serde() {
        let n = PersonName::parse("Trần  Thị Lan").unwrap();
        let json = serde_json::to_string(&n).unwrap();
        assert_eq!(json, "\"Trần Thị Lan\"");
        assert_eq!(serde_json::from_str::<PersonName>(&json).unwrap(), n);
        assert_eq!(
            serde_json::from_str::<PersonName>("\"  Trần Thị Lan \"").unwrap(),
            n
        );
        assert!(serde_json::from_str::<PersonName>("\"12345\"").is_err());
        assert!(serde_json::from_str::<PersonName>("\"\"").is_err());
    }

    #[test]
    fn salutations() {
        assert_eq!(salutation(Some(Gender::Male), Some("Minh")), "Anh Minh");
        assert_eq!(salutation(Some(Gender::Female), Some("Lan")), "Chị Lan");
        assert_eq!(salutation(Some(Gender::Other), Some("Minh")), "Minh");
        assert_eq!(salutation(None, Some(" Minh ")), "Minh");
        assert_eq!(salutation(Some(Gender::Male), None), "Quý khách");
        assert_eq!(salutation(Some(Gender::Female), Some("  ")), "Quý khách");
        assert_eq!(salutation(None, None), "Quý khách");

        let full = Some("Nguyễn Văn Minh");
        assert_eq!(
            formal_salutation(Some(Gender::Male), full),
            "Kính gửi Ông Nguyễn Văn Minh"
        );
        assert_eq!(
            formal_salutation(Some(Gender::Female), Some("Trần Thị Lan")),
            "Kính gửi Bà Trần Thị Lan"
        );
        assert_eq!(
            formal_salutation(None, full),
            "Kính gửi Quý khách Nguyễn Văn Minh"
        );
        assert_eq!(
            formal_salutation(Some(Gender::Male), None),
            "Kính gửi Quý khách"
        );
        assert_eq!(formal_salutation(None, Some("")), "Kính gửi Quý khách");

        let name = PersonName::parse("Lê Hoàng Nam").unwrap();
        assert_eq!(
            salutation(Some(Gender::Male), Some(name.default_given_name())),
            "Anh Nam"
        );
    }
}
