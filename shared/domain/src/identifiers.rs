//! Vietnamese identifiers that validate on parse: a mobile phone number ([`Phone`]), an e-mail
//! address ([`Email`]), the citizen identity card number ([`Cccd`]), the old identity card
//! number ([`Cmnd`]) and the tax code ([`TaxCode`]). Each type only exists in its normalised
//! form, so code holding one never re-validates. `Display` and `as_str()` give the full
//! normalised value (for storage and for the person's own screens); `Debug` and `masked()` hide
//! the middle, because these values must never be logged in full (DESIGN §6). Rejections are an
//! [`IdentifierError`] with a machine-readable `code()` and a Vietnamese message for the form,
//! which never repeats the rejected input.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::person::Gender;

/// Why an identifier was rejected. `code()` is the machine-readable reason for API error
/// bodies; `Display` is a Vietnamese sentence for the person filling in the form. Neither ever
/// contains the full rejected value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentifierError {
    /// Not a Vietnamese mobile number in any accepted form.
    #[error("Số điện thoại di động không hợp lệ: {0}")]
    InvalidPhone(PhoneProblem),
    /// An 11-digit mobile number from before the 2018 renumbering to 10 digits.
    #[error("{}", old_prefix_message(.old_prefix, .new_prefix))]
    OldPhonePrefix {
        /// The old four-digit network prefix, e.g. `0168`.
        old_prefix: String,
        /// The three-digit prefix that replaced it, e.g. `038`, when the mapping is known.
        new_prefix: Option<&'static str>,
    },
    /// Not an e-mail address this platform accepts.
    #[error("Địa chỉ email không hợp lệ: {0}")]
    InvalidEmail(EmailProblem),
    /// Not a well-formed citizen identity card (CCCD) number.
    #[error("Số CCCD không hợp lệ: {0}")]
    InvalidCccd(CccdProblem),
    /// A well-formed CCCD number that contradicts the birthday or gender given with it.
    #[error("Số CCCD không khớp với {0} đã khai, vui lòng kiểm tra lại")]
    CccdMismatch(CccdMismatch),
    /// Not a well-formed old identity card (CMND) number.
    #[error("Số CMND không hợp lệ: cần 9 hoặc 12 chữ số")]
    InvalidCmnd,
    /// Not a valid tax code (mã số thuế).
    #[error("Mã số thuế không hợp lệ: {0}")]
    InvalidTaxCode(TaxCodeProblem),
    /// Not an acceptable person's name.
    #[error("Họ tên không hợp lệ: {0}")]
    InvalidName(NameProblem),
}

impl IdentifierError {
    /// The machine-readable reason, stable for API clients: `invalid_phone`,
    /// `old_phone_prefix`, `invalid_email`, `invalid_cccd`, `cccd_mismatch`, `invalid_cmnd`,
    /// `invalid_tax_code` or `invalid_name`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidPhone(_) => "invalid_phone",
            Self::OldPhonePrefix { .. } => "old_phone_prefix",
            Self::InvalidEmail(_) => "invalid_email",
            Self::InvalidCccd(_) => "invalid_cccd",
            Self::CccdMismatch(_) => "cccd_mismatch",
            Self::InvalidCmnd => "invalid_cmnd",
            Self::InvalidTaxCode(_) => "invalid_tax_code",
            Self::InvalidName(_) => "invalid_name",
        }
    }
}

fn old_prefix_message(old_prefix: &str, new_prefix: &Option<&'static str>) -> String {
    let head = "Số điện thoại 11 số không còn sử dụng: từ năm 2018 các mạng di động đã chuyển \
                sang số 10 chữ số";
    match new_prefix {
        Some(new) => format!("{head}, đầu số {old_prefix} nay là {new} (giữ nguyên 7 số cuối)"),
        None => format!("{head}, vui lòng nhập số mới 10 chữ số"),
    }
}

/// What is wrong with a phone number (see [`IdentifierError::InvalidPhone`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PhoneProblem {
    /// Nothing was entered.
    Empty,
    /// Wrong length or characters.
    Format,
    /// A number with a country code other than +84.
    Foreign,
    /// A fixed-line (landline) number.
    Landline,
    /// Ten digits, but the three-digit prefix (e.g. `095`) is not assigned to a mobile network.
    UnknownPrefix {
        /// The national prefix, e.g. `095`.
        prefix: String,
    },
}

impl fmt::Display for PhoneProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("chưa nhập số điện thoại"),
            Self::Format => f.write_str("cần 10 số, bắt đầu bằng 0 (ví dụ 0912345678)"),
            Self::Foreign => f.write_str("chỉ nhận số di động Việt Nam (mã quốc gia +84)"),
            Self::Landline => {
                f.write_str("đây là số máy bàn, cần số di động 10 số (ví dụ 0912345678)")
            }
            Self::UnknownPrefix { prefix } => {
                write!(
                    f,
                    "đầu số {prefix} không phải đầu số di động đang được cấp tại Việt Nam"
                )
            }
        }
    }
}

/// What is wrong with an e-mail address (see [`IdentifierError::InvalidEmail`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EmailProblem {
    /// Nothing was entered.
    Empty,
    /// Longer than 254 characters.
    TooLong,
    /// Contains a space or other whitespace inside.
    Whitespace,
    /// Contains accented letters or other non-ASCII characters.
    NonAscii,
    /// No `@`.
    MissingAt,
    /// More than one `@`.
    MultipleAt,
    /// Nothing before the `@`.
    EmptyLocal,
    /// More than 64 characters before the `@`.
    LocalTooLong,
    /// A character not allowed before the `@`, or a misplaced dot.
    InvalidLocal,
    /// Nothing after the `@`.
    MissingDomain,
    /// The domain has no dot (e.g. `gmail` instead of `gmail.com`).
    DomainWithoutDot,
    /// A domain label is empty, too long, starts or ends with `-`, or has invalid characters.
    InvalidDomain,
}

impl fmt::Display for EmailProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "chưa nhập địa chỉ email",
            Self::TooLong => "dài quá 254 ký tự",
            Self::Whitespace => "không được chứa khoảng trắng",
            Self::NonAscii => "không được chứa chữ có dấu hoặc ký tự đặc biệt",
            Self::MissingAt => "thiếu ký tự @ (ví dụ ten@example.vn)",
            Self::MultipleAt => "chỉ được có một ký tự @",
            Self::EmptyLocal => "thiếu phần tên trước ký tự @",
            Self::LocalTooLong => "phần trước ký tự @ dài quá 64 ký tự",
            Self::InvalidLocal => {
                "phần trước ký tự @ có ký tự không được phép hoặc dấu chấm sai vị trí"
            }
            Self::MissingDomain => "thiếu tên miền sau ký tự @ (ví dụ example.vn)",
            Self::DomainWithoutDot => "tên miền sau ký tự @ phải có dấu chấm (ví dụ example.vn)",
            Self::InvalidDomain => "tên miền sau ký tự @ không hợp lệ",
        })
    }
}

/// What is wrong with a CCCD number (see [`IdentifierError::InvalidCccd`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CccdProblem {
    /// Not exactly 12 digits.
    Format,
    /// The first three digits are not a province code from circular 07/2016/TT-BCA.
    UnknownProvince {
        /// The three-digit code found, e.g. `003`.
        code: String,
    },
}

impl fmt::Display for CccdProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Format => f.write_str("cần đúng 12 chữ số"),
            Self::UnknownProvince { code } => write!(
                f,
                "3 số đầu ({code}) không phải mã tỉnh, thành phố nơi đăng ký khai sinh"
            ),
        }
    }
}

/// Which declared fact a CCCD number contradicts (see [`IdentifierError::CccdMismatch`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CccdMismatch {
    /// The birthday's year differs from the year encoded in digits 4–6.
    BirthYear,
    /// The gender differs from the one encoded in digit 4.
    Gender,
}

impl fmt::Display for CccdMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::BirthYear => "năm sinh",
            Self::Gender => "giới tính",
        })
    }
}

/// What is wrong with a tax code (see [`IdentifierError::InvalidTaxCode`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TaxCodeProblem {
    /// Not 10, 12 or 13 digits (or 10 digits, a dash and 3 digits).
    Format,
    /// The 10th digit does not match the check digit of the first nine.
    CheckDigit,
    /// The branch suffix is `000`; branches are numbered 001–999.
    BranchSuffix,
    /// A 12-digit personal tax code that is not a valid personal identification number.
    Personal,
}

impl fmt::Display for TaxCodeProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Format => {
                "cần 10 chữ số (doanh nghiệp), 10 chữ số kèm 3 số chi nhánh (ví dụ \
                 0100109106-001) hoặc 12 chữ số (cá nhân, theo số CCCD)"
            }
            Self::CheckDigit => "chữ số kiểm tra không đúng, vui lòng kiểm tra lại",
            Self::BranchSuffix => "3 số chi nhánh phải từ 001 đến 999",
            Self::Personal => "mã số thuế cá nhân 12 số phải là số CCCD hợp lệ",
        })
    }
}

/// What is wrong with a person's name (see [`IdentifierError::InvalidName`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NameProblem {
    /// Nothing but whitespace was entered.
    Empty,
    /// Longer than 100 characters.
    TooLong,
    /// Contains control characters.
    ControlCharacters,
    /// Contains no letter at all (e.g. only digits).
    NoLetters,
}

impl fmt::Display for NameProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "chưa nhập họ tên",
            Self::TooLong => "dài quá 100 ký tự",
            Self::ControlCharacters => "có ký tự điều khiển không hợp lệ",
            Self::NoLetters => "phải có chữ cái, không được chỉ gồm chữ số",
        })
    }
}

/// The shared surface of every identifier newtype: parse on `FromStr`/`TryFrom<String>`,
/// serialise as the normalised string, print the masked form under `Debug`.
macro_rules! identifier_text {
    ($name:ident) => {
        impl $name {
            /// The normalised form. This is the full value: never log it (use `masked()`).
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = IdentifierError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdentifierError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple(stringify!($name))
                    .field(&self.masked())
                    .finish()
            }
        }
    };
}

/// `first` leading and `last` trailing characters of an ASCII string, the rest as `*`.
fn mask_ascii(s: &str, first: usize, last: usize) -> String {
    let len = s.len();
    if first + last >= len {
        return "*".repeat(len);
    }
    format!(
        "{}{}{}",
        &s[..first],
        "*".repeat(len - first - last),
        &s[len - last..]
    )
}

// ---------------------------------------------------------------------------------------------
// Phone
// ---------------------------------------------------------------------------------------------

/// Ten-digit mobile prefixes in use since the 2018 renumbering, with the network that was
/// assigned each one. Sources: the Ministry of Information and Communications' 2018
/// conversion table (11 → 10 digits), the operators' long-standing 09x/08x ranges, and
/// Google libphonenumber's Vietnamese metadata for the later assignments (052 Vietnamobile,
/// 055 Wintel (launched as Reddi), 087 iTel).
pub const MOBILE_PREFIXES: &[(&str, &str)] = &[
    ("032", "Viettel"),
    ("033", "Viettel"),
    ("034", "Viettel"),
    ("035", "Viettel"),
    ("036", "Viettel"),
    ("037", "Viettel"),
    ("038", "Viettel"),
    ("039", "Viettel"),
    ("052", "Vietnamobile"),
    ("055", "Wintel"),
    ("056", "Vietnamobile"),
    ("058", "Vietnamobile"),
    ("059", "Gmobile"),
    ("070", "MobiFone"),
    ("076", "MobiFone"),
    ("077", "MobiFone"),
    ("078", "MobiFone"),
    ("079", "MobiFone"),
    ("081", "VinaPhone"),
    ("082", "VinaPhone"),
    ("083", "VinaPhone"),
    ("084", "VinaPhone"),
    ("085", "VinaPhone"),
    ("086", "Viettel"),
    ("087", "iTel"),
    ("088", "VinaPhone"),
    ("089", "MobiFone"),
    ("090", "MobiFone"),
    ("091", "VinaPhone"),
    ("092", "Vietnamobile"),
    ("093", "MobiFone"),
    ("094", "VinaPhone"),
    ("096", "Viettel"),
    ("097", "Viettel"),
    ("098", "Viettel"),
    ("099", "Gmobile"),
];

/// The 2018 conversion of 11-digit mobile prefixes to 10 digits (the last seven digits were
/// kept). Parallel dialling ran from 15 September 2018; the old numbers stopped working in 2019.
pub const OLD_MOBILE_PREFIXES: &[(&str, &str)] = &[
    // MobiFone
    ("0120", "070"),
    ("0121", "079"),
    ("0122", "077"),
    ("0126", "076"),
    ("0128", "078"),
    // VinaPhone
    ("0123", "083"),
    ("0124", "084"),
    ("0125", "085"),
    ("0127", "081"),
    ("0129", "082"),
    // Viettel
    ("0162", "032"),
    ("0163", "033"),
    ("0164", "034"),
    ("0165", "035"),
    ("0166", "036"),
    ("0167", "037"),
    ("0168", "038"),
    ("0169", "039"),
    // Vietnamobile
    ("0186", "056"),
    ("0188", "058"),
    // Gmobile
    ("0199", "059"),
];

fn mobile_carrier(national_prefix: &str) -> Option<&'static str> {
    MOBILE_PREFIXES
        .iter()
        .find(|(prefix, _)| *prefix == national_prefix)
        .map(|(_, carrier)| *carrier)
}

/// A Vietnamese mobile number, stored in E.164 form (`+84` and nine digits).
///
/// Accepts the usual ways people write it: `0912345678`, `0912 345 678`, `091.234.5678`,
/// `(091) 234-5678`, `+84 912 345 678`, `84912345678`, `+84 (0) 912345678`, `0084912345678`,
/// `(+84) 91-234-5678`, `(84) 912 345 678` (spaces, dots, dashes and parentheses anywhere),
/// and the nine digits alone (`912345678`, as spreadsheets that drop the leading zero produce).
/// Only prefixes in [`MOBILE_PREFIXES`] are accepted; landlines and pre-2018 11-digit numbers
/// are rejected, the latter with the replacement prefix when known.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

identifier_text!(Phone);

impl Phone {
    /// Parses and normalises a mobile number written in any accepted form.
    pub fn parse(input: &str) -> Result<Self, IdentifierError> {
        let phone_error = IdentifierError::InvalidPhone;
        let input = input.trim();
        if input.is_empty() {
            return Err(phone_error(PhoneProblem::Empty));
        }
        if input.chars().count() > 32 {
            return Err(phone_error(PhoneProblem::Format));
        }

        let mut plus = false;
        let mut digits = String::with_capacity(16);
        for c in input.chars() {
            match c {
                '0'..='9' => digits.push(c),
                // "+84 …", "(+84) …": one plus sign, before any digit.
                '+' if !plus && digits.is_empty() => plus = true,
                '.' | '-' | '\u{2013}' | '(' | ')' => {}
                c if c.is_whitespace() => {}
                _ => return Err(phone_error(PhoneProblem::Format)),
            }
        }

        // Strip the country code or the trunk 0 to get the national significant number.
        let international = if plus {
            Some(digits.as_str())
        } else {
            digits.strip_prefix("00")
        };
        let (national, bare) = match international {
            Some(rest) => {
                let rest = rest
                    .strip_prefix("84")
                    .ok_or(phone_error(PhoneProblem::Foreign))?;
                // "+84 (0) 912…": a trunk 0 written after the country code.
                (rest.strip_prefix('0').unwrap_or(rest), false)
            }
            None => {
                if let Some(rest) = digits.strip_prefix('0') {
                    (rest, false)
                } else if digits.len() >= 11 && digits.starts_with("84") {
                    let rest = &digits[2..];
                    (rest.strip_prefix('0').unwrap_or(rest), false)
                } else {
                    (digits.as_str(), true)
                }
            }
        };

        match national.len() {
            9 => {
                let prefix = format!("0{}", &national[..2]);
                if mobile_carrier(&prefix).is_some() {
                    Ok(Self(format!("+84{national}")))
                } else if bare {
                    Err(phone_error(PhoneProblem::Format))
                } else {
                    Err(phone_error(PhoneProblem::UnknownPrefix { prefix }))
                }
            }
            10 if national.starts_with('1') => {
                let old_prefix = format!("0{}", &national[..3]);
                let new_prefix = OLD_MOBILE_PREFIXES
                    .iter()
                    .find(|(old, _)| *old == old_prefix)
                    .map(|(_, new)| *new);
                Err(IdentifierError::OldPhonePrefix {
                    old_prefix,
                    new_prefix,
                })
            }
            // Landlines are 0 + 10 digits starting 2 (e.g. 024 3xxx xxxx) since 2017.
            10 if national.starts_with('2') => Err(phone_error(PhoneProblem::Landline)),
            _ => Err(phone_error(PhoneProblem::Format)),
        }
    }

    /// The number as dialled inside Vietnam, e.g. `0912345678`. Full value: never log it.
    pub fn national(&self) -> String {
        format!("0{}", &self.0[3..])
    }

    /// The network the number's prefix was assigned to (`Viettel`, `VinaPhone`, `MobiFone`,
    /// `Vietnamobile`, `Gmobile`, `iTel`, `Wintel`). Since mobile number portability
    /// (November 2018) a subscriber may have moved to another network keeping the number, so
    /// this is the original network, not necessarily the current one.
    pub fn carrier(&self) -> &'static str {
        mobile_carrier(&self.national()[..3]).unwrap_or("")
    }

    /// The national form with the middle four digits hidden, e.g. `091****678`.
    pub fn masked(&self) -> String {
        mask_ascii(&self.national(), 3, 3)
    }
}

// ---------------------------------------------------------------------------------------------
// Email
// ---------------------------------------------------------------------------------------------

/// An e-mail address, trimmed and lower-cased.
///
/// Pragmatic rather than RFC 5321-complete: ASCII only, no quoted local parts, no IP-literal
/// domains; the local part uses letters, digits and ``!#$%&'*+-/=?^_`{|}~`` with dots only
/// between other characters; the domain has at least two labels of letters, digits and inner
/// hyphens, and a top-level label that is not all digits.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

identifier_text!(Email);

impl Email {
    /// Parses, trims and lower-cases an e-mail address.
    pub fn parse(input: &str) -> Result<Self, IdentifierError> {
        let err = |problem| Err(IdentifierError::InvalidEmail(problem));
        let s = input.trim();
        if s.is_empty() {
            return err(EmailProblem::Empty);
        }
        if s.chars().any(char::is_whitespace) {
            return err(EmailProblem::Whitespace);
        }
        if !s.is_ascii() {
            return err(EmailProblem::NonAscii);
        }
        if s.len() > 254 {
            return err(EmailProblem::TooLong);
        }
        let s = s.to_ascii_lowercase();
        let mut parts = s.split('@');
        let local = parts.next().unwrap_or_default();
        let Some(domain) = parts.next() else {
            return err(EmailProblem::MissingAt);
        };
        if parts.next().is_some() {
            return err(EmailProblem::MultipleAt);
        }
        if local.is_empty() {
            return err(EmailProblem::EmptyLocal);
        }
        if local.len() > 64 {
            return err(EmailProblem::LocalTooLong);
        }
        if !valid_local_part(local) {
            return err(EmailProblem::InvalidLocal);
        }
        if domain.is_empty() {
            return err(EmailProblem::MissingDomain);
        }
        if !domain.contains('.') {
            return err(EmailProblem::DomainWithoutDot);
        }
        if !valid_domain(domain) {
            return err(EmailProblem::InvalidDomain);
        }
        Ok(Self(s))
    }

    /// The domain part, e.g. `example.vn`.
    pub fn domain(&self) -> &str {
        self.0.rsplit('@').next().unwrap_or_default()
    }

    /// The first character of the local part, `***`, then the domain, e.g. `l***@example.vn`.
    /// The length of the local part is not revealed.
    pub fn masked(&self) -> String {
        let first = self.0.chars().next().unwrap_or('*');
        format!("{first}***@{}", self.domain())
    }
}

fn valid_local_part(local: &str) -> bool {
    const SPECIALS: &str = "!#$%&'*+-/=?^_`{|}~";
    !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || SPECIALS.contains(c))
}

fn valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |label: &&str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    let top_level_ok = labels
        .last()
        .is_some_and(|tld| !tld.chars().all(|c| c.is_ascii_digit()));
    domain.len() <= 253 && labels.len() >= 2 && labels.iter().all(label_ok) && top_level_ok
}

// ---------------------------------------------------------------------------------------------
// CCCD
// ---------------------------------------------------------------------------------------------

/// Province codes for the place of birth registration, digits 1–3 of a personal identification
/// number (appendix of circular 07/2016/TT-BCA, 63 provinces). The 2025 merger of provinces did
/// not renumber people, so these remain the codes found on cards.
pub const CCCD_PROVINCES: &[(&str, &str)] = &[
    ("001", "Hà Nội"),
    ("002", "Hà Giang"),
    ("004", "Cao Bằng"),
    ("006", "Bắc Kạn"),
    ("008", "Tuyên Quang"),
    ("010", "Lào Cai"),
    ("011", "Điện Biên"),
    ("012", "Lai Châu"),
    ("014", "Sơn La"),
    ("015", "Yên Bái"),
    ("017", "Hòa Bình"),
    ("019", "Thái Nguyên"),
    ("020", "Lạng Sơn"),
    ("022", "Quảng Ninh"),
    ("024", "Bắc Giang"),
    ("025", "Phú Thọ"),
    ("026", "Vĩnh Phúc"),
    ("027", "Bắc Ninh"),
    ("030", "Hải Dương"),
    ("031", "Hải Phòng"),
    ("033", "Hưng Yên"),
    ("034", "Thái Bình"),
    ("035", "Hà Nam"),
    ("036", "Nam Định"),
    ("037", "Ninh Bình"),
    ("038", "Thanh Hóa"),
    ("040", "Nghệ An"),
    ("042", "Hà Tĩnh"),
    ("044", "Quảng Bình"),
    ("045", "Quảng Trị"),
    ("046", "Thừa Thiên Huế"),
    ("048", "Đà Nẵng"),
    ("049", "Quảng Nam"),
    ("051", "Quảng Ngãi"),
    ("052", "Bình Định"),
    ("054", "Phú Yên"),
    ("056", "Khánh Hòa"),
    ("058", "Ninh Thuận"),
    ("060", "Bình Thuận"),
    ("062", "Kon Tum"),
    ("064", "Gia Lai"),
    ("066", "Đắk Lắk"),
    ("067", "Đắk Nông"),
    ("068", "Lâm Đồng"),
    ("070", "Bình Phước"),
    ("072", "Tây Ninh"),
    ("074", "Bình Dương"),
    ("075", "Đồng Nai"),
    ("077", "Bà Rịa - Vũng Tàu"),
    ("079", "Hồ Chí Minh"),
    ("080", "Long An"),
    ("082", "Tiền Giang"),
    ("083", "Bến Tre"),
    ("084", "Trà Vinh"),
    ("086", "Vĩnh Long"),
    ("087", "Đồng Tháp"),
    ("089", "An Giang"),
    ("091", "Kiên Giang"),
    ("092", "Cần Thơ"),
    ("093", "Hậu Giang"),
    ("094", "Sóc Trăng"),
    ("095", "Bạc Liêu"),
    ("096", "Cà Mau"),
];

fn province_name(code: &str) -> Option<&'static str> {
    CCCD_PROVINCES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, name)| *name)
}

/// Removes whitespace and returns the digits, or `None` when anything else is present.
fn digits_only(input: &str) -> Option<String> {
    let compact: String = input.chars().filter(|c| !c.is_whitespace()).collect();
    compact
        .chars()
        .all(|c| c.is_ascii_digit())
        .then_some(compact)
}

/// A citizen identity card (căn cước công dân) number: the 12-digit personal identification
/// number. Digits 1–3 are the province of birth registration, digit 4 the century and gender
/// (0/1 male/female born 1900–1999, 2/3 2000–2099, 4/5 2100–2199, 6/7 2200–2299,
/// 8/9 2300–2399), digits 5–6 the last two digits of the birth year, digits 7–12 random.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Cccd(String);

identifier_text!(Cccd);

impl Cccd {
    /// Parses a CCCD number; spaces in the input are removed.
    pub fn parse(input: &str) -> Result<Self, IdentifierError> {
        let digits = digits_only(input)
            .filter(|d| d.len() == 12)
            .ok_or(IdentifierError::InvalidCccd(CccdProblem::Format))?;
        if province_name(&digits[..3]).is_none() {
            return Err(IdentifierError::InvalidCccd(CccdProblem::UnknownProvince {
                code: digits[..3].to_string(),
            }));
        }
        Ok(Self(digits))
    }

    /// The three-digit province code, e.g. `001`.
    pub fn province_code(&self) -> &str {
        &self.0[..3]
    }

    /// The province where the birth was registered, e.g. `Hà Nội` (pre-2025 province names).
    pub fn province_name(&self) -> &'static str {
        province_name(self.province_code()).unwrap_or("")
    }

    fn century_gender_digit(&self) -> u8 {
        self.0.as_bytes()[3] - b'0'
    }

    /// The gender encoded in digit 4 (even: male, odd: female).
    pub fn gender(&self) -> Gender {
        if self.century_gender_digit().is_multiple_of(2) {
            Gender::Male
        } else {
            Gender::Female
        }
    }

    /// The birth year encoded in digits 4–6, e.g. 1990 for `0010900…`.
    pub fn birth_year(&self) -> i32 {
        let century = 1900 + i32::from(self.century_gender_digit() / 2) * 100;
        let year: i32 = self.0[4..6].parse().unwrap_or_default();
        century + year
    }

    /// Checks the number against a declared birthday and gender; either may be unknown, and
    /// [`Gender::Other`] is not compared.
    pub fn check_consistency(
        &self,
        birthday: Option<NaiveDate>,
        gender: Option<Gender>,
    ) -> Result<(), IdentifierError> {
        if let Some(birthday) = birthday
            && birthday.year() != self.birth_year()
        {
            return Err(IdentifierError::CccdMismatch(CccdMismatch::BirthYear));
        }
        if let Some(gender @ (Gender::Male | Gender::Female)) = gender
            && gender != self.gender()
        {
            return Err(IdentifierError::CccdMismatch(CccdMismatch::Gender));
        }
        Ok(())
    }

    /// The province code and the last three digits, e.g. `001******789`.
    pub fn masked(&self) -> String {
        mask_ascii(&self.0, 3, 3)
    }
}

// ---------------------------------------------------------------------------------------------
// CMND
// ---------------------------------------------------------------------------------------------

/// An old identity card (chứng minh nhân dân) number, 9 or 12 digits.
///
/// Kept only as a historical field (to match records from before the CCCD): CMND cards are no
/// longer valid for transactions since 1 January 2025 (Identity Law 2023). Never use it to
/// identify a customer today; use [`Cccd`].
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Cmnd(String);

identifier_text!(Cmnd);

impl Cmnd {
    /// Parses a CMND number; spaces in the input are removed.
    pub fn parse(input: &str) -> Result<Self, IdentifierError> {
        digits_only(input)
            .filter(|d| d.len() == 9 || d.len() == 12)
            .map(Self)
            .ok_or(IdentifierError::InvalidCmnd)
    }

    /// All but the last three digits hidden, e.g. `******789`.
    pub fn masked(&self) -> String {
        mask_ascii(&self.0, 0, 3)
    }
}

// ---------------------------------------------------------------------------------------------
// Tax code
// ---------------------------------------------------------------------------------------------

/// Which form a [`TaxCode`] has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaxCodeKind {
    /// Ten digits with a check digit: an enterprise or organisation (or an individual's code
    /// issued before personal codes moved to the CCCD number).
    Enterprise,
    /// An enterprise's ten digits, a dash and a three-digit branch or dependent-unit number.
    Branch,
    /// Twelve digits: an individual's personal identification (CCCD) number, used as the
    /// personal tax code since 1 July 2025.
    Personal,
}

/// The check digit for the first nine digits of a tax code, or `None` when the computation
/// gives 10 (such codes are never issued).
fn tax_check_digit(first_nine: &[u8]) -> Option<u8> {
    const WEIGHTS: [u32; 9] = [31, 29, 23, 19, 17, 13, 7, 5, 3];
    let sum: u32 = first_nine
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    let check = 10 - sum % 11;
    u8::try_from(check).ok().filter(|c| *c < 10)
}

fn check_enterprise_code(ten: &str) -> Result<(), IdentifierError> {
    let bytes = ten.as_bytes();
    // Digits 3–9 are a sequence number starting at 0000001.
    if &ten[2..9] == "0000000" {
        return Err(IdentifierError::InvalidTaxCode(TaxCodeProblem::Format));
    }
    match tax_check_digit(&bytes[..9]) {
        Some(check) if check == bytes[9] - b'0' => Ok(()),
        _ => Err(IdentifierError::InvalidTaxCode(TaxCodeProblem::CheckDigit)),
    }
}

/// A Vietnamese tax code (mã số thuế, MST): an enterprise's 10 digits (`0100109106`), a
/// branch's 10 + 3 digits normalised with a dash (`0100109106-001`), or an individual's
/// 12-digit personal identification number.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TaxCode(String);

identifier_text!(TaxCode);

impl TaxCode {
    /// Parses a tax code. Spaces and dots are ignored; a branch code may be written with or
    /// without its dash (`0100109106-001`, `0100109106001`).
    pub fn parse(input: &str) -> Result<Self, IdentifierError> {
        let format_error = IdentifierError::InvalidTaxCode(TaxCodeProblem::Format);
        let compact: String = input
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '.')
            .collect();
        let (main, branch) = match compact.split_once('-') {
            Some((main, branch)) => (main, Some(branch)),
            None => (compact.as_str(), None),
        };
        let all_digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
        if !all_digits(main) || branch.is_some_and(|b| !all_digits(b)) {
            return Err(format_error);
        }
        let (ten, suffix) = match (main.len(), branch) {
            (10, None) => (main, None),
            (10, Some(b)) if b.len() == 3 => (main, Some(b)),
            (13, None) => (&main[..10], Some(&main[10..])),
            (12, None) => {
                return Cccd::parse(main)
                    .map(|_| Self(main.to_string()))
                    .map_err(|_| IdentifierError::InvalidTaxCode(TaxCodeProblem::Personal));
            }
            _ => return Err(format_error),
        };
        check_enterprise_code(ten)?;
        match suffix {
            None => Ok(Self(ten.to_string())),
            Some("000") => Err(IdentifierError::InvalidTaxCode(
                TaxCodeProblem::BranchSuffix,
            )),
            Some(suffix) => Ok(Self(format!("{ten}-{suffix}"))),
        }
    }

    /// Which form the code has.
    pub fn kind(&self) -> TaxCodeKind {
        match self.0.len() {
            10 => TaxCodeKind::Enterprise,
            12 => TaxCodeKind::Personal,
            _ => TaxCodeKind::Branch,
        }
    }

    /// For a branch, the head office's ten-digit code; `None` for the other kinds.
    pub fn parent(&self) -> Option<TaxCode> {
        (self.kind() == TaxCodeKind::Branch).then(|| Self(self.0[..10].to_string()))
    }

    /// For a personal code, the CCCD number it is; `None` for the other kinds.
    pub fn personal_id(&self) -> Option<Cccd> {
        (self.kind() == TaxCodeKind::Personal).then(|| Cccd(self.0.clone()))
    }

    /// The first and last three digits of the ten-digit (or twelve-digit) number with the
    /// middle hidden, keeping a branch suffix: `010****106`, `010****106-001`, `001******789`.
    pub fn masked(&self) -> String {
        match self.0.split_once('-') {
            Some((ten, suffix)) => format!("{}-{suffix}", mask_ascii(ten, 3, 3)),
            None => mask_ascii(&self.0, 3, 3),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn phone(s: &str) -> Phone {
        Phone::parse(s).unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
    }

    // ----- phone ------------------------------------------------------------------------------

    #[test]
    fn phone_accepts_every_documented_input_form() {
        for input in [
            "0912345678",
            "0912 345 678",
            "091.234.5678",
            "(091) 234-5678",
            "+84 912 345 678",
            "84912345678",
            "+84 (0) 912345678",
            "+84912345678",
            "0084 912 345 678",
            "912345678",
            "  0912-345-678\t",
            "840912345678",
        ] {
            let p = phone(input);
            assert_eq!(p.as_str(), "+84912345678", "{input}");
            assert_eq!(p.to_string(), "+84912345678");
            assert_eq!(p.national(), "0912345678");
            assert_eq!(p.carrier(), "VinaPhone");
        }
    }

    #[test]
    fn phone_knows_every_prefix_family() {
        let samples = [
            // Viettel
            ("0861234567", "Viettel"),
            ("0961234567", "Viettel"),
            ("0971234567", "Viettel"),
            ("0981234567", "Viettel"),
            ("0321234567", "Viettel"),
            ("0351234567", "Viettel"),
            ("0391234567", "Viettel"),
            // VinaPhone
            ("0881234567", "VinaPhone"),
            ("0911234567", "VinaPhone"),
            ("0941234567", "VinaPhone"),
            ("0811234567", "VinaPhone"),
            ("0831234567", "VinaPhone"),
            ("0851234567", "VinaPhone"),
            // MobiFone
            ("0891234567", "MobiFone"),
            ("0901234567", "MobiFone"),
            ("0931234567", "MobiFone"),
            ("0701234567", "MobiFone"),
            ("0761234567", "MobiFone"),
            ("0791234567", "MobiFone"),
            // Vietnamobile
            ("0921234567", "Vietnamobile"),
            ("0521234567", "Vietnamobile"),
            ("0561234567", "Vietnamobile"),
            ("0581234567", "Vietnamobile"),
            // Gmobile
            ("0991234567", "Gmobile"),
            ("0591234567", "Gmobile"),
            // MVNOs
            ("0871234567", "iTel"),
            ("0551234567", "Wintel"),
        ];
        for (input, carrier) in samples {
            let p = phone(input);
            assert_eq!(p.carrier(), carrier, "{input}");
            assert_eq!(p.national(), input);
        }
        // Every listed prefix parses and reports its carrier.
        for (prefix, carrier) in MOBILE_PREFIXES {
            assert_eq!(phone(&format!("{prefix}1234567")).carrier(), *carrier);
        }
    }

    #[test]
    fn phone_rejects_unassigned_prefixes_landlines_and_bad_shapes() {
        let unknown = |prefix: &str| PhoneProblem::UnknownPrefix {
            prefix: prefix.into(),
        };
        for (input, expected) in [
            ("0951234567", unknown("095")),
            ("0311234567", unknown("031")),
            ("0711234567", unknown("071")),
            ("0801234567", unknown("080")),
            ("+84 51 234 5678", unknown("051")),
            ("024 3825 1234", PhoneProblem::Landline),
            ("+84 28 3822 1234", PhoneProblem::Landline),
            ("+1 415 555 0100", PhoneProblem::Foreign),
            ("", PhoneProblem::Empty),
            ("   ", PhoneProblem::Empty),
            ("091234567", PhoneProblem::Format),
            ("09123456789", PhoneProblem::Format),
            ("0912a45678", PhoneProblem::Format),
            ("09123+45678", PhoneProblem::Format),
            ("+84", PhoneProblem::Format),
            ("123456789", PhoneProblem::Format),
            ("0912345678 ext 12", PhoneProblem::Format),
        ] {
            let err = Phone::parse(input).unwrap_err();
            assert_eq!(err, IdentifierError::InvalidPhone(expected), "{input:?}");
            assert_eq!(err.code(), "invalid_phone");
        }
        let msg = Phone::parse("0912a45678").unwrap_err().to_string();
        assert_eq!(
            msg,
            "Số điện thoại di động không hợp lệ: cần 10 số, bắt đầu bằng 0 (ví dụ 0912345678)"
        );
    }

    #[test]
    fn phone_rejects_old_eleven_digit_numbers_naming_the_new_prefix() {
        for (input, old, new) in [
            ("01681234567", "0168", Some("038")),
            ("0123 456 7890", "0123", Some("083")),
            ("+84 120 123 4567", "0120", Some("070")),
            ("841991234567", "0199", Some("059")),
            ("01881234567", "0188", Some("058")),
            ("01291234567", "0129", Some("082")),
            ("01101234567", "0110", None),
        ] {
            let err = Phone::parse(input).unwrap_err();
            assert_eq!(
                err,
                IdentifierError::OldPhonePrefix {
                    old_prefix: old.into(),
                    new_prefix: new
                },
                "{input}"
            );
            assert_eq!(err.code(), "old_phone_prefix");
            let msg = err.to_string();
            assert!(msg.contains("10 chữ số"), "{msg}");
            if let Some(new) = new {
                assert!(msg.contains(&format!("đầu số {old} nay là {new}")), "{msg}");
            }
            assert!(!msg.contains("1234567"), "message leaks the number: {msg}");
        }
        // Every old prefix maps to a current one of the same family.
        for (_, new) in OLD_MOBILE_PREFIXES {
            assert!(mobile_carrier(new).is_some(), "{new}");
        }
    }

    #[test]
    fn phone_masking_hides_the_middle() {
        let p = phone("0912345678");
        assert_eq!(p.masked(), "091****678");
        assert_eq!(format!("{p:?}"), "Phone(\"091****678\")");
        assert!(!format!("{p:?}").contains("2345"));
    }

    #[test]
    fn phone_serde_round_trip_and_rejection() {
        let p = phone("0912 345 678");
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, "\"+84912345678\"");
        assert_eq!(serde_json::from_str::<Phone>(&json).unwrap(), p);
        assert_eq!(
            serde_json::from_str::<Phone>("\"091.234.5678\"").unwrap(),
            p
        );
        assert!(serde_json::from_str::<Phone>("\"01681234567\"").is_err());
        assert!(serde_json::from_str::<Phone>("\"0951234567\"").is_err());
        assert_eq!("0912345678".parse::<Phone>().unwrap(), p);
        assert_eq!(Phone::try_from("84912345678".to_string()).unwrap(), p);
        assert_eq!(String::from(p), "+84912345678");
    }

    proptest! {
        #[test]
        fn phone_every_input_form_normalises_alike(
            index in 0..MOBILE_PREFIXES.len(),
            rest in 0u32..10_000_000,
        ) {
            let prefix = &MOBILE_PREFIXES[index].0[1..]; // two digits after the trunk 0
            let sub = format!("{prefix}{rest:07}"); // nine-digit subscriber number
            let expected = format!("+84{sub}");
            let forms = [
                format!("0{sub}"),
                format!("0{} {} {}", &sub[..3], &sub[3..6], &sub[6..]),
                format!("0{}.{}.{}", &sub[..2], &sub[2..5], &sub[5..]),
                format!("(0{}) {}-{}", &sub[..2], &sub[2..5], &sub[5..]),
                format!("+84 {} {} {}", &sub[..3], &sub[3..6], &sub[6..]),
                format!("84{sub}"),
                format!("+84 (0) {sub}"),
                format!("+84{sub}"),
                format!("0084{sub}"),
                sub.clone(),
            ];
            for form in &forms {
                let parsed = Phone::parse(form);
                prop_assert!(parsed.is_ok(), "{form}: {parsed:?}");
                let parsed = parsed.unwrap();
                prop_assert_eq!(parsed.as_str(), expected.as_str());
                prop_assert_eq!(parsed.carrier(), MOBILE_PREFIXES[index].1);
                let reparsed = Phone::parse(parsed.as_str()).unwrap();
                prop_assert_eq!(reparsed, parsed);
            }
        }
    }

    /// How a Vietnamese form may write the country or trunk prefix of a mobile number.
    const WRITTEN_PREFIXES: [&str; 11] = [
        "0", "84", "84 ", "+84", "+84 ", "(+84) ", "(84) ", "+84 (0)", "0084 ", "(+84)", "+84-",
    ];

    /// One nine-digit subscriber number written the way people write it: a prefix, then the
    /// digits in groups with spaces, dots or dashes, the first group maybe in parentheses.
    fn written_phone() -> impl Strategy<Value = (String, String)> {
        (
            0..MOBILE_PREFIXES.len(),
            0u32..10_000_000,
            0..WRITTEN_PREFIXES.len(),
            proptest::collection::vec(
                (
                    1usize..=4,
                    prop::sample::select(vec!["", " ", ".", "-", "\u{2013}", "  "]),
                ),
                1..6,
            ),
            any::<bool>(),
        )
            .prop_map(|(index, rest, prefix, groups, paren)| {
                let sub = format!("{}{rest:07}", &MOBILE_PREFIXES[index].0[1..]);
                let mut written = WRITTEN_PREFIXES[prefix].to_owned();
                let mut at = 0;
                for (i, (len, separator)) in groups.iter().enumerate() {
                    if at >= sub.len() {
                        break;
                    }
                    let end = if i + 1 == groups.len() {
                        sub.len()
                    } else {
                        (at + len).min(sub.len())
                    };
                    let group = &sub[at..end];
                    if i == 0 && paren {
                        written.push_str(&format!("({group})"));
                    } else {
                        written.push_str(group);
                    }
                    written.push_str(if end < sub.len() { separator } else { "" });
                    at = end;
                }
                written.push_str(&sub[at..]);
                (written, format!("+84{sub}"))
            })
    }

    proptest! {
        #[test]
        fn phone_written_forms_of_one_number_normalise_alike((written, expected) in written_phone()) {
            let parsed = Phone::parse(&written);
            prop_assert!(parsed.is_ok(), "{written:?}: {parsed:?}");
            let parsed = parsed.unwrap();
            prop_assert_eq!(parsed.as_str(), expected.as_str());
        }

        #[test]
        fn phone_junk_around_a_written_number_is_refused(
            (written, _) in written_phone(),
            junk in prop::sample::select(vec!["a", "x", "#", "*", "/", "++", "=", "_", ",", "đ", "1"]),
            at in 0usize..40,
        ) {
            let at = written.char_indices().map(|(i, _)| i).nth(at % written.chars().count()).unwrap_or(0);
            let mut spoiled = written.clone();
            spoiled.insert_str(at, junk);
            // A stray extra digit makes ten national digits: refused as well.
            let parsed = Phone::parse(&spoiled);
            prop_assert!(parsed.is_err(), "{spoiled:?} was accepted as {parsed:?}");
        }
    }

    #[test]
    fn phone_accepts_the_plus_inside_parentheses() {
        for form in [
            "(+84) 91-234-5678",
            "(84) 912 345 678",
            "(+84)912.345.678",
            "+84-912-345-678",
        ] {
            assert_eq!(
                Phone::parse(form).unwrap().as_str(),
                "+84912345678",
                "{form}"
            );
        }
        for junk in [
            "(+84) 91-234-567",
            "8+4 912 345 678",
            "(+84) +912345678",
            "+84 912 345 6789",
            "0912 345 67a",
        ] {
            assert!(Phone::parse(junk).is_err(), "{junk}");
        }
    }

    // ----- e-mail -----------------------------------------------------------------------------

    #[test]
    fn email_accepts_and_normalises() {
        for (input, expected) in [
            ("  Lan.Nguyen@Example.VN ", "lan.nguyen@example.vn"),
            ("a@b.co", "a@b.co"),
            ("minh+crm@mail.fpt.com.vn", "minh+crm@mail.fpt.com.vn"),
            (
                "o'brien_1@xn--bcher-kva.example",
                "o'brien_1@xn--bcher-kva.example",
            ),
            ("x@sub-domain.example.com", "x@sub-domain.example.com"),
        ] {
            assert_eq!(Email::parse(input).unwrap().as_str(), expected);
        }
    }

    #[test]
    fn email_rejects_with_a_reason() {
        let long_local = format!("{}@example.vn", "a".repeat(65));
        let long_total = format!("a@{}.vn", "b".repeat(60).repeat(5));
        for (input, problem) in [
            ("", EmailProblem::Empty),
            ("lan nguyen@example.vn", EmailProblem::Whitespace),
            ("nguyễn@example.vn", EmailProblem::NonAscii),
            ("lan.example.vn", EmailProblem::MissingAt),
            ("lan@@example.vn", EmailProblem::MultipleAt),
            ("lan@x@example.vn", EmailProblem::MultipleAt),
            ("@example.vn", EmailProblem::EmptyLocal),
            (long_local.as_str(), EmailProblem::LocalTooLong),
            (long_total.as_str(), EmailProblem::TooLong),
            (".lan@example.vn", EmailProblem::InvalidLocal),
            ("lan.@example.vn", EmailProblem::InvalidLocal),
            ("lan..nguyen@example.vn", EmailProblem::InvalidLocal),
            ("\"lan\"@example.vn", EmailProblem::InvalidLocal),
            ("lan(x)@example.vn", EmailProblem::InvalidLocal),
            ("lan@", EmailProblem::MissingDomain),
            ("lan@localhost", EmailProblem::DomainWithoutDot),
            ("lan@example..vn", EmailProblem::InvalidDomain),
            ("lan@.example.vn", EmailProblem::InvalidDomain),
            ("lan@example.vn.", EmailProblem::InvalidDomain),
            ("lan@-example.vn", EmailProblem::InvalidDomain),
            ("lan@example-.vn", EmailProblem::InvalidDomain),
            ("lan@exa_mple.vn", EmailProblem::InvalidDomain),
            ("lan@[10.0.0.1]", EmailProblem::InvalidDomain),
            ("lan@10.0.0.1", EmailProblem::InvalidDomain),
        ] {
            let err = Email::parse(input).unwrap_err();
            assert_eq!(err, IdentifierError::InvalidEmail(problem), "{input:?}");
            assert_eq!(err.code(), "invalid_email");
            assert!(err.to_string().starts_with("Địa chỉ email không hợp lệ: "));
        }
        let label64 = format!("lan@{}.vn", "a".repeat(64));
        assert!(Email::parse(&label64).is_err());
    }

    #[test]
    fn email_masking_and_serde() {
        let e = Email::parse("Lan.Nguyen@Example.VN").unwrap();
        assert_eq!(e.masked(), "l***@example.vn");
        assert_eq!(e.domain(), "example.vn");
        assert_eq!(format!("{e:?}"), "Email(\"l***@example.vn\")");
        assert!(!format!("{e:?}").contains("nguyen"));
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(json, "\"lan.nguyen@example.vn\"");
        assert_eq!(serde_json::from_str::<Email>(&json).unwrap(), e);
        assert!(serde_json::from_str::<Email>("\"not-an-email\"").is_err());
    }

    // ----- CCCD -------------------------------------------------------------------------------

    #[test]
    fn cccd_decodes_province_gender_and_year() {
        let c = Cccd::parse("001 090 123456").unwrap();
        assert_eq!(c.as_str(), "001090123456");
        assert_eq!(c.province_code(), "001");
        assert_eq!(c.province_name(), "Hà Nội");
        assert_eq!(c.gender(), Gender::Male);
        assert_eq!(c.birth_year(), 1990);

        let c = Cccd::parse("079305001234").unwrap();
        assert_eq!(c.province_name(), "Hồ Chí Minh");
        assert_eq!(c.gender(), Gender::Female);
        assert_eq!(c.birth_year(), 2005);

        let c = Cccd::parse("096199000001").unwrap();
        assert_eq!(c.province_name(), "Cà Mau");
        assert_eq!(c.birth_year(), 1999);
        assert_eq!(c.gender(), Gender::Female);

        for (digit, year, gender) in [
            ('0', 1900, Gender::Male),
            ('1', 1900, Gender::Female),
            ('2', 2000, Gender::Male),
            ('3', 2000, Gender::Female),
            ('4', 2100, Gender::Male),
            ('5', 2100, Gender::Female),
            ('6', 2200, Gender::Male),
            ('7', 2200, Gender::Female),
            ('8', 2300, Gender::Male),
            ('9', 2300, Gender::Female),
        ] {
            let c = Cccd::parse(&format!("048{digit}00123456")).unwrap();
            assert_eq!((c.birth_year(), c.gender()), (year, gender), "{digit}");
        }
    }

    #[test]
    fn cccd_province_table_is_the_63_codes() {
        assert_eq!(CCCD_PROVINCES.len(), 63);
        let mut codes: Vec<&str> = CCCD_PROVINCES.iter().map(|(c, _)| *c).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), 63);
        assert_eq!(codes.first(), Some(&"001"));
        assert_eq!(codes.last(), Some(&"096"));
    }

    #[test]
    fn cccd_rejects_bad_shapes_and_provinces() {
        for input in [
            "",
            "00109012345",
            "0010901234567",
            "00109012345a",
            "001-090-123456",
        ] {
            let err = Cccd::parse(input).unwrap_err();
            assert_eq!(
                err,
                IdentifierError::InvalidCccd(CccdProblem::Format),
                "{input}"
            );
            assert_eq!(err.code(), "invalid_cccd");
        }
        for code in ["000", "003", "097", "100", "999"] {
            let err = Cccd::parse(&format!("{code}090123456")).unwrap_err();
            assert_eq!(
                err,
                IdentifierError::InvalidCccd(CccdProblem::UnknownProvince { code: code.into() })
            );
            assert!(!err.to_string().contains("090123456"));
        }
    }

    #[test]
    fn cccd_consistency_with_birthday_and_gender() {
        let c = Cccd::parse("001090123456").unwrap(); // male, 1990
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day);
        assert_eq!(c.check_consistency(None, None), Ok(()));
        assert_eq!(
            c.check_consistency(d(1990, 5, 17), Some(Gender::Male)),
            Ok(())
        );
        assert_eq!(
            c.check_consistency(d(1990, 1, 1), Some(Gender::Other)),
            Ok(())
        );
        // Same two year digits, wrong century.
        let err = c.check_consistency(d(2090, 5, 17), None).unwrap_err();
        assert_eq!(err, IdentifierError::CccdMismatch(CccdMismatch::BirthYear));
        assert_eq!(err.code(), "cccd_mismatch");
        let err = c
            .check_consistency(d(1991, 5, 17), Some(Gender::Male))
            .unwrap_err();
        assert_eq!(err, IdentifierError::CccdMismatch(CccdMismatch::BirthYear));
        let err = c.check_consistency(None, Some(Gender::Female)).unwrap_err();
        assert_eq!(err, IdentifierError::CccdMismatch(CccdMismatch::Gender));
        assert_eq!(
            err.to_string(),
            "Số CCCD không khớp với giới tính đã khai, vui lòng kiểm tra lại"
        );

        // Born 2001, female: century digit 3.
        let c = Cccd::parse("031301000007").unwrap();
        assert_eq!(
            c.check_consistency(d(2001, 12, 31), Some(Gender::Female)),
            Ok(())
        );
        assert!(c.check_consistency(d(1901, 12, 31), None).is_err());
        assert!(c.check_consistency(None, Some(Gender::Male)).is_err());
    }

    #[test]
    fn cccd_masking_and_serde() {
        let c = Cccd::parse("001090123456").unwrap();
        assert_eq!(c.masked(), "001******456");
        assert_eq!(format!("{c:?}"), "Cccd(\"001******456\")");
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(json, "\"001090123456\"");
        assert_eq!(serde_json::from_str::<Cccd>(&json).unwrap(), c);
        assert!(serde_json::from_str::<Cccd>("\"003090123456\"").is_err());
    }

    // ----- CMND -------------------------------------------------------------------------------

    #[test]
    fn cmnd_accepts_9_or_12_digits() {
        assert_eq!(Cmnd::parse("012 345 678").unwrap().as_str(), "012345678");
        assert_eq!(
            Cmnd::parse("001090123456").unwrap().as_str(),
            "001090123456"
        );
        for input in ["", "01234567", "0123456789", "01234567a", "0123456789012"] {
            let err = Cmnd::parse(input).unwrap_err();
            assert_eq!(err, IdentifierError::InvalidCmnd);
            assert_eq!(err.code(), "invalid_cmnd");
        }
        let c = Cmnd::parse("012345678").unwrap();
        assert_eq!(c.masked(), "******678");
        assert_eq!(format!("{c:?}"), "Cmnd(\"******678\")");
        assert_eq!(serde_json::to_string(&c).unwrap(), "\"012345678\"");
        assert!(serde_json::from_str::<Cmnd>("\"12345\"").is_err());
    }

    // ----- tax code ---------------------------------------------------------------------------

    /// Published tax codes of real enterprises; each was checked to pass the check digit rule.
    const REAL_TAX_CODES: &[&str] = &[
        "0100109106", // Viettel (Tập đoàn Công nghiệp - Viễn thông Quân đội)
        "0101243150", // MISA JSC
        "0100112437", // Vietcombank
        "0300588569", // Vinamilk
        "0100233488", // python-stdnum's documented valid sample
    ];

    #[test]
    fn tax_code_real_enterprise_codes_pass() {
        for code in REAL_TAX_CODES {
            let t = TaxCode::parse(code).unwrap_or_else(|e| panic!("{code}: {e}"));
            assert_eq!(t.kind(), TaxCodeKind::Enterprise);
            assert_eq!(t.as_str(), *code);
        }
        assert_eq!(
            TaxCode::parse("01.00.112.437").unwrap().as_str(),
            "0100112437"
        );
    }

    #[test]
    fn tax_code_wrong_check_digit_fails() {
        for code in REAL_TAX_CODES {
            let (body, check) = code.split_at(9);
            let check: u8 = check.parse().unwrap();
            for wrong in (0..10).filter(|d| *d != check) {
                let err = TaxCode::parse(&format!("{body}{wrong}")).unwrap_err();
                assert_eq!(
                    err,
                    IdentifierError::InvalidTaxCode(TaxCodeProblem::CheckDigit)
                );
                assert_eq!(err.code(), "invalid_tax_code");
            }
        }
    }

    #[test]
    fn tax_code_whose_check_computes_to_ten_is_never_valid() {
        // Find a nine-digit body whose weighted sum is ≡ 0 (mod 11): its check would be 10.
        let body = (1..10_000_000u32)
            .map(|n| format!("01{n:07}"))
            .find(|b| tax_check_digit(b.as_bytes()).is_none())
            .unwrap();
        for d in 0..10 {
            assert!(TaxCode::parse(&format!("{body}{d}")).is_err(), "{body}{d}");
        }
        assert_eq!(tax_check_digit(b"010010910"), Some(6));
    }

    #[test]
    fn tax_code_branch_forms() {
        for input in [
            "0100109106-001",
            "0100109106001",
            "0100109106 - 001",
            "0100109106-999",
        ] {
            let t = TaxCode::parse(input).unwrap();
            assert_eq!(t.kind(), TaxCodeKind::Branch, "{input}");
            assert!(t.as_str().starts_with("0100109106-"));
            assert_eq!(t.parent().unwrap().as_str(), "0100109106");
        }
        assert_eq!(
            TaxCode::parse("0100109106001").unwrap().as_str(),
            "0100109106-001"
        );
        assert_eq!(
            TaxCode::parse("0100109106-000").unwrap_err(),
            IdentifierError::InvalidTaxCode(TaxCodeProblem::BranchSuffix)
        );
        assert_eq!(
            TaxCode::parse("0100109107-001").unwrap_err(),
            IdentifierError::InvalidTaxCode(TaxCodeProblem::CheckDigit)
        );
        for input in [
            "0100109106-01",
            "0100109106-0001",
            "0100109106-00a",
            "0100109106--001",
        ] {
            assert_eq!(
                TaxCode::parse(input).unwrap_err(),
                IdentifierError::InvalidTaxCode(TaxCodeProblem::Format),
                "{input}"
            );
        }
    }

    #[test]
    fn tax_code_personal_is_a_cccd_number() {
        let t = TaxCode::parse("001 090 123456").unwrap();
        assert_eq!(t.kind(), TaxCodeKind::Personal);
        assert_eq!(t.as_str(), "001090123456");
        assert_eq!(t.personal_id().unwrap().birth_year(), 1990);
        assert!(t.parent().is_none());
        assert_eq!(
            TaxCode::parse("003090123456").unwrap_err(),
            IdentifierError::InvalidTaxCode(TaxCodeProblem::Personal)
        );
    }

    #[test]
    fn tax_code_rejects_other_shapes() {
        for input in [
            "",
            "123",
            "01001091",
            "01001091061",
            "0100000000",
            "A100109106",
        ] {
            assert_eq!(
                TaxCode::parse(input).unwrap_err(),
                IdentifierError::InvalidTaxCode(TaxCodeProblem::Format),
                "{input}"
            );
        }
    }

    #[test]
    fn tax_code_masking_and_serde() {
        let t = TaxCode::parse("0100109106").unwrap();
        assert_eq!(t.masked(), "010****106");
        assert_eq!(
            TaxCode::parse("0100109106001").unwrap().masked(),
            "010****106-001"
        );
        assert_eq!(
            TaxCode::parse("001090123456").unwrap().masked(),
            "001******456"
        );
        assert_eq!(format!("{t:?}"), "TaxCode(\"010****106\")");
        let b = TaxCode::parse("0100109106001").unwrap();
        let json = serde_json::to_string(&b).unwrap();
        assert_eq!(json, "\"0100109106-001\"");
        assert_eq!(serde_json::from_str::<TaxCode>(&json).unwrap(), b);
        assert!(serde_json::from_str::<TaxCode>("\"0100109107\"").is_err());
        assert_eq!(
            serde_json::to_string(&TaxCodeKind::Branch).unwrap(),
            "\"branch\""
        );
    }

    // ----- errors -----------------------------------------------------------------------------

    #[test]
    fn messages_are_vietnamese_and_never_echo_the_input() {
        type Parse = fn(&str) -> Option<IdentifierError>;
        let inputs: [(&str, Parse); 5] = [
            ("0951239876", |s| Phone::parse(s).err()),
            ("lan..nguyen@example.vn", |s| Email::parse(s).err()),
            ("003090123456", |s| Cccd::parse(s).err()),
            ("0100109107", |s| TaxCode::parse(s).err()),
            ("01234567", |s| Cmnd::parse(s).err()),
        ];
        for (input, parse) in inputs {
            let msg = parse(input).unwrap().to_string();
            assert!(!msg.contains(input), "{msg}");
            assert!(!msg.contains(&input[3..]), "{msg}");
            assert!(!msg.is_ascii(), "not Vietnamese: {msg}");
        }
    }
}
