//! Advertising compliance: the rules Vietnam sets for advertising by SMS, e-mail and phone call,
//! as data an admin can inspect ([`AdvertisingRules`], preset [`decree_91`]) and pure checks.
//!
//! # The legal rule
//! Decree 91/2020/NĐ-CP on combating spam messages, spam e-mails and spam calls (Nghị định
//! 91/2020/NĐ-CP về chống tin nhắn rác, thư điện tử rác, cuộc gọi rác; in force since
//! 2020-10-01), Article 13 (Điều 13), says how an advertiser may send to someone who agreed to
//! receive advertising:
//! - **How many**: at most 3 advertising SMS to one phone number, 3 advertising e-mails to one
//!   address and 1 advertising call to one phone number within 24 hours.
//! - **When**: SMS only from 07:00 to 22:00 and calls only from 08:00 to 17:00, local time.
//!   E-mail has no time window.
//! - **Unless otherwise agreed**: both the counts and the hours give way to a different
//!   agreement with the recipient ("trừ trường hợp có thỏa thuận khác với người sử dụng"). An
//!   [`Agreement`] records one, with its evidence, and overrides the preset for that customer
//!   only.
//! - **Labelled and refusable**: an advertising SMS starts with the label `[QC]` or `[AD]` and
//!   says how to refuse further advertising (a keyword to a reply number); an advertising e-mail
//!   carries the label in its subject and a way to refuse (an unsubscribe link). A refusal must
//!   be honoured.
//!
//! # How this module reads it
//! - "Within 24 hours" is a sliding window, not a calendar day: a send counts while it lies in
//!   `(now − 24h, now]` ([`prune`]). The caller passes the advertising sends to *this address on
//!   this channel* from every campaign, because the limit is per advertiser and recipient, not
//!   per campaign. Care and transactional messages (reminders, OTPs, receipts) are not
//!   advertising and are not counted.
//! - Hours are wall-clock time in Asia/Ho_Chi_Minh (fixed UTC+07:00, see [`crate::time`]) and
//!   half-open: an SMS at 22:00:00 is late, one at 21:59:59 is on time.
//! - A message outside its window is deferred to the next opening ([`AdVerdict::Deferred`]) and
//!   a capped one to the instant the count drops below the limit ([`AdVerdict::Capped`]); neither
//!   is ever dropped. The caller re-checks at that instant, since a capped message may free up
//!   outside the window.
//!
//! Not here: whether the customer agreed to advertising at all and the national Do-Not-Call
//! list ("Danh sách không quảng cáo") are conditions checked before these rules (see
//! [`crate::customer::Consents`]); recording a refusal once [`AdvertisingRules::is_refusal`]
//! recognises one is the caller's job.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Duration, NaiveTime, Timelike, Utc};
use serde::{Deserialize, Serialize};

use crate::person::fold;
use crate::time::to_vn;

/// The placeholder in [`AdvertisingRules::sms_opt_out`] replaced by the reply number.
pub const REPLY_NUMBER_PLACEHOLDER: &str = "{reply_number}";

/// The placeholder in [`AdvertisingRules::email_opt_out_text`] replaced by the unsubscribe link.
pub const UNSUBSCRIBE_URL_PLACEHOLDER: &str = "{unsubscribe_url}";

/// The advertising labels the Decree names. Either one already at the start of a text counts as
/// labelled, whatever the configured label.
const KNOWN_LABELS: [&str; 2] = ["[QC]", "[AD]"];

/// The length of the counting window.
fn day() -> Duration {
    Duration::days(1)
}

/// `instant + 24h`, saturating at the end of representable time.
fn day_after(instant: DateTime<Utc>) -> DateTime<Utc> {
    instant
        .checked_add_signed(day())
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The channels Decree 91 regulates for advertising.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdChannel {
    /// Text message (tin nhắn), brandname or not.
    Sms,
    /// E-mail (thư điện tử).
    Email,
    /// Voice call (cuộc gọi), including telesales by staff.
    Call,
}

impl AdChannel {
    /// Every channel, in order.
    pub const ALL: [AdChannel; 3] = [Self::Sms, Self::Email, Self::Call];

    /// The serialised name: `sms`, `email` or `call`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sms => "sms",
            Self::Email => "email",
            Self::Call => "call",
        }
    }

    /// The Vietnamese name shown to admins: "Tin nhắn SMS", "Thư điện tử", "Cuộc gọi".
    pub fn label(self) -> &'static str {
        match self {
            Self::Sms => "Tin nhắn SMS",
            Self::Email => "Thư điện tử",
            Self::Call => "Cuộc gọi",
        }
    }
}

impl fmt::Display for AdChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why rules, an agreement or a window were rejected. `field()` names the offending field as a
/// path (`windows.sms`, `limits_per_24h.call`, `sms_opt_out`, …) for the API error body's
/// `fields`; `Display` is a Vietnamese sentence for the admin, starting with that path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ComplianceError {
    /// A time that is not `HH:MM`.
    #[error("{field}: giờ \"{value}\" không hợp lệ, cần dạng HH:MM (ví dụ 07:00)")]
    InvalidTime {
        /// The field holding the time.
        field: String,
        /// The text given (an hour of the day, never personal data).
        value: String,
    },
    /// A window boundary with seconds: windows are set in whole minutes.
    #[error("{field}: giờ phải tròn phút (dạng HH:MM)")]
    TimeNotWholeMinute {
        /// The window's field.
        field: String,
    },
    /// A window whose start is not before its end.
    #[error("{field}: giờ bắt đầu phải trước giờ kết thúc (không hỗ trợ khung giờ qua nửa đêm)")]
    WindowNotOrdered {
        /// The window's field.
        field: String,
    },
    /// A limit of 0 per 24 hours.
    #[error("{field}: giới hạn trong 24 giờ phải từ 1 trở lên")]
    LimitTooLow {
        /// The limit's field.
        field: String,
    },
    /// A required text left empty.
    #[error("{field}: không được để trống")]
    Empty {
        /// The empty field.
        field: String,
    },
    /// An opt-out text without the placeholder the sender fills in.
    #[error("{field}: thiếu chỗ điền {placeholder}")]
    MissingPlaceholder {
        /// The opt-out field.
        field: String,
        /// The missing placeholder, e.g. `{reply_number}`.
        placeholder: &'static str,
    },
}

impl ComplianceError {
    /// The machine-readable reason, stable for API clients: `invalid_time`,
    /// `time_not_whole_minute`, `window_not_ordered`, `limit_too_low`, `empty` or
    /// `missing_placeholder`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidTime { .. } => "invalid_time",
            Self::TimeNotWholeMinute { .. } => "time_not_whole_minute",
            Self::WindowNotOrdered { .. } => "window_not_ordered",
            Self::LimitTooLow { .. } => "limit_too_low",
            Self::Empty { .. } => "empty",
            Self::MissingPlaceholder { .. } => "missing_placeholder",
        }
    }

    /// The path of the offending field.
    pub fn field(&self) -> &str {
        match self {
            Self::InvalidTime { field, .. }
            | Self::TimeNotWholeMinute { field }
            | Self::WindowNotOrdered { field }
            | Self::LimitTooLow { field }
            | Self::Empty { field }
            | Self::MissingPlaceholder { field, .. } => field,
        }
    }
}

/// A daily window of local time in Asia/Ho_Chi_Minh, `[start, end)` with `start < end` (no
/// windows across midnight), in whole minutes. Serialised as `{"start": "07:00", "end":
/// "22:00"}`; deserialising checks the same rules as [`LocalWindow::new`]. The fields are public
/// for reading; a window built by hand with `start >= end` contains no instant at all (so
/// [`AdvertisingRules::check`] would defer day after day), which
/// [`AdvertisingRules::validate`] and [`Agreement::validate`] reject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "WindowText", into = "WindowText")]
pub struct LocalWindow {
    /// The first local minute inside the window.
    pub start: NaiveTime,
    /// The first local minute after the window.
    pub end: NaiveTime,
}

/// The serialised form of a [`LocalWindow`].
#[derive(Serialize, Deserialize)]
struct WindowText {
    start: String,
    end: String,
}

impl From<LocalWindow> for WindowText {
    fn from(window: LocalWindow) -> Self {
        Self {
            start: window.start.format("%H:%M").to_string(),
            end: window.end.format("%H:%M").to_string(),
        }
    }
}

impl TryFrom<WindowText> for LocalWindow {
    type Error = ComplianceError;
    fn try_from(text: WindowText) -> Result<Self, Self::Error> {
        let parse = |field: &str, value: &str| {
            NaiveTime::parse_from_str(value.trim(), "%H:%M").map_err(|_| {
                ComplianceError::InvalidTime {
                    field: field.to_owned(),
                    value: value.to_owned(),
                }
            })
        };
        Self::new(parse("start", &text.start)?, parse("end", &text.end)?)
    }
}

impl LocalWindow {
    /// A window from `start` (inclusive) to `end` (exclusive). Both must be whole minutes and
    /// `start` before `end`; errors name the field `window`.
    pub fn new(start: NaiveTime, end: NaiveTime) -> Result<Self, ComplianceError> {
        let window = Self { start, end };
        window.check("window")?;
        Ok(window)
    }

    /// Checks the invariants, naming `field` in the error.
    fn check(&self, field: &str) -> Result<(), ComplianceError> {
        let whole_minute = |t: NaiveTime| t.second() == 0 && t.nanosecond() == 0;
        if !whole_minute(self.start) || !whole_minute(self.end) {
            return Err(ComplianceError::TimeNotWholeMinute {
                field: field.to_owned(),
            });
        }
        if self.start >= self.end {
            return Err(ComplianceError::WindowNotOrdered {
                field: field.to_owned(),
            });
        }
        Ok(())
    }

    /// Whether `at` falls inside the window, in Vietnamese local time.
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        let t = local_time(at);
        self.start <= t && t < self.end
    }

    /// `at` itself when inside; otherwise the next opening instant: today's `start` (local date)
    /// when `at` is before it, else tomorrow's. Always in `[at, at + 24h)` (saturating at the end
    /// of representable time).
    pub fn next_open(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        if self.contains(at) {
            return at;
        }
        let t = local_time(at);
        // Vietnam has no daylight saving, so "tomorrow at start" is always 24h after "today at
        // start" and the wait is plain time-of-day arithmetic.
        let wait = if t < self.start {
            self.start - t
        } else {
            day() - (t - self.start)
        };
        at.checked_add_signed(wait)
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}

/// The local time of day at `instant`, with a leap second read as the second before it.
fn local_time(instant: DateTime<Utc>) -> NaiveTime {
    let t = to_vn(instant).time();
    t.with_nanosecond(t.nanosecond() % 1_000_000_000)
        .unwrap_or(t)
}

/// The advertising rules in force: data an admin can inspect and edit (then
/// [`AdvertisingRules::validate`]), starting from the preset [`decree_91`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdvertisingRules {
    /// The preset's name, e.g. "VN Decree 91".
    pub name: String,
    /// The legal reference, e.g. "Nghị định 91/2020/NĐ-CP, Điều 13".
    pub reference: String,
    /// A short Vietnamese summary of the rules for the admin screen.
    #[serde(default)]
    pub summary: String,
    /// The local-time window per channel; a channel without one may be used at any hour.
    pub windows: BTreeMap<AdChannel, LocalWindow>,
    /// The most advertising sends to one address per channel in any 24 hours; a channel
    /// without one is not counted.
    pub limits_per_24h: BTreeMap<AdChannel, u32>,
    /// The label an advertising SMS starts with, e.g. `[QC]`.
    pub sms_label: String,
    /// The label an advertising e-mail's subject starts with, e.g. `[QC]`.
    pub email_subject_label: String,
    /// The SMS opt-out sentence with a `{reply_number}` placeholder. Keep it unaccented: one
    /// accented letter makes the whole SMS UCS-2, 70 characters a segment instead of 160.
    pub sms_opt_out: String,
    /// The e-mail opt-out sentence with an `{unsubscribe_url}` placeholder.
    pub email_opt_out_text: String,
    /// Whole replies that refuse further advertising, compared as [`AdvertisingRules::is_refusal`]
    /// describes (so "Huỷ" and "HUY" are the same keyword).
    pub refusal_keywords: Vec<String>,
}

/// Builds a whole-minute time at compile time.
pub(crate) const fn hm(hour: u32, minute: u32) -> NaiveTime {
    match NaiveTime::from_hms_opt(hour, minute, 0) {
        Some(t) => t,
        None => panic!("not a time of day"),
    }
}

const SMS_WINDOW: LocalWindow = LocalWindow {
    start: hm(7, 0),
    end: hm(22, 0),
};

const CALL_WINDOW: LocalWindow = LocalWindow {
    start: hm(8, 0),
    end: hm(17, 0),
};

/// The "VN Decree 91" preset: SMS 07:00–22:00 and at most 3 per phone number, e-mail at any
/// hour and at most 3 per address, calls 08:00–17:00 and at most 1 per phone number, all per
/// 24 hours; `[QC]` labels; unaccented SMS opt-out; refusal keywords TC, HUY, TU CHOI, STOP and
/// KHONG, each also followed by "QC" as people often reply.
pub fn decree_91() -> AdvertisingRules {
    AdvertisingRules {
        name: "VN Decree 91".to_owned(),
        reference: "Nghị định 91/2020/NĐ-CP, Điều 13".to_owned(),
        summary: "Mỗi người nhận, trong 24 giờ: tối đa 3 tin nhắn, 3 thư điện tử và 1 cuộc gọi \
                  quảng cáo. Tin nhắn chỉ gửi từ 7h đến 22h, cuộc gọi từ 8h đến 17h, trừ khi có \
                  thỏa thuận khác với người nhận. Tin nhắn bắt đầu bằng nhãn [QC], thư có nhãn \
                  [QC] ở tiêu đề, kèm cách từ chối nhận quảng cáo."
            .to_owned(),
        windows: BTreeMap::from([(AdChannel::Sms, SMS_WINDOW), (AdChannel::Call, CALL_WINDOW)]),
        limits_per_24h: BTreeMap::from([
            (AdChannel::Sms, 3),
            (AdChannel::Email, 3),
            (AdChannel::Call, 1),
        ]),
        sms_label: "[QC]".to_owned(),
        email_subject_label: "[QC]".to_owned(),
        sms_opt_out: "Tu choi QC soan TC gui {reply_number}".to_owned(),
        email_opt_out_text:
            "Quý khách không muốn nhận thư quảng cáo? Từ chối tại: {unsubscribe_url}".to_owned(),
        refusal_keywords: ["TC", "HUY", "TU CHOI", "STOP", "KHONG"]
            .into_iter()
            .flat_map(|k| [k.to_owned(), format!("{k} QC")])
            .collect(),
    }
}

/// A customer's recorded agreement to other limits or hours (the Decree's "unless otherwise
/// agreed"). Each entry replaces the preset's for that channel, for this customer only; a
/// channel it does not mention keeps the preset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agreement {
    /// Agreed sends per 24 hours, per channel.
    #[serde(default)]
    pub limits_per_24h: BTreeMap<AdChannel, u32>,
    /// Agreed local-time windows, per channel.
    #[serde(default)]
    pub windows: BTreeMap<AdChannel, LocalWindow>,
    /// When the customer agreed.
    pub agreed_at: DateTime<Utc>,
    /// What proves it: the form and its text, the call recording, the staff member.
    pub evidence: String,
}

impl Agreement {
    /// Checks an agreement before recording it: windows valid, limits ≥ 1, evidence given.
    /// Field paths start with `agreement.`.
    pub fn validate(&self) -> Result<(), ComplianceError> {
        check_windows("agreement.windows", &self.windows)?;
        check_limits("agreement.limits_per_24h", &self.limits_per_24h)?;
        non_empty("agreement.evidence", &self.evidence)
    }
}

fn check_windows(
    prefix: &str,
    windows: &BTreeMap<AdChannel, LocalWindow>,
) -> Result<(), ComplianceError> {
    windows
        .iter()
        .try_for_each(|(channel, window)| window.check(&format!("{prefix}.{channel}")))
}

fn check_limits(prefix: &str, limits: &BTreeMap<AdChannel, u32>) -> Result<(), ComplianceError> {
    match limits.iter().find(|(_, limit)| **limit == 0) {
        Some((channel, _)) => Err(ComplianceError::LimitTooLow {
            field: format!("{prefix}.{channel}"),
        }),
        None => Ok(()),
    }
}

fn non_empty(field: &str, value: &str) -> Result<(), ComplianceError> {
    if value.trim().is_empty() {
        return Err(ComplianceError::Empty {
            field: field.to_owned(),
        });
    }
    Ok(())
}

fn has_placeholder(
    field: &str,
    value: &str,
    placeholder: &'static str,
) -> Result<(), ComplianceError> {
    non_empty(field, value)?;
    if !value.contains(placeholder) {
        return Err(ComplianceError::MissingPlaceholder {
            field: field.to_owned(),
            placeholder,
        });
    }
    Ok(())
}

/// The verdict on one advertising message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum AdVerdict {
    /// Send now.
    Allowed,
    /// Outside the channel's window: send at `until` (the next opening), never drop.
    Deferred {
        /// The next opening of the window.
        until: DateTime<Utc>,
    },
    /// The 24-hour limit is reached for this address: `frees_at` is when a counted send leaves
    /// the window so that one more fits (the oldest, when the count is exactly the limit).
    Capped {
        /// When one more send fits the limit.
        frees_at: DateTime<Utc>,
    },
}

impl AdVerdict {
    /// Whether the message may be sent now.
    pub fn is_allowed(self) -> bool {
        matches!(self, Self::Allowed)
    }

    /// When to send or re-check: `now` when allowed, else `until` or `frees_at`.
    pub fn retry_at(self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Self::Allowed => now,
            Self::Deferred { until } => until,
            Self::Capped { frees_at } => frees_at,
        }
    }
}

impl AdvertisingRules {
    /// The verdict on sending one advertising message on `channel` at `now`, given `recent`:
    /// the earlier advertising sends to this address on this channel, in any order (older or
    /// later ones are ignored). The window is checked first (→ [`AdVerdict::Deferred`]), then
    /// the number of `recent` sends in `(now − 24h, now]` against the limit
    /// (→ [`AdVerdict::Capped`]). The customer's agreement, when given, replaces the window
    /// and/or limit of that channel. Rules and agreements are assumed validated; otherwise the
    /// verdict errs on the side of not sending (a limit of 0 caps every send, 24 hours at a
    /// time; a window with `start >= end` never opens).
    pub fn check(
        &self,
        agreement: Option<&Agreement>,
        channel: AdChannel,
        now: DateTime<Utc>,
        recent: &[DateTime<Utc>],
    ) -> AdVerdict {
        if let Some(window) = self.window(agreement, channel)
            && !window.contains(now)
        {
            return AdVerdict::Deferred {
                until: window.next_open(now),
            };
        }
        if let Some(limit) = self.limit(agreement, channel) {
            let counted = prune(recent, now);
            let limit = usize::try_from(limit).unwrap_or(usize::MAX);
            if counted.len() >= limit {
                // One more fits once `len - limit + 1` sends have left the window, i.e. 24h
                // after the send at index `len - limit` (the oldest when len == limit; later
                // when an agreement lowered the limit below what was already sent).
                let frees_at = counted
                    .get(counted.len() - limit)
                    .map_or_else(|| day_after(now), |t| day_after(*t));
                return AdVerdict::Capped { frees_at };
            }
        }
        AdVerdict::Allowed
    }

    /// The window in force for `channel`: the agreement's when it sets one, else the rules'.
    /// `None` means any hour.
    pub fn window(&self, agreement: Option<&Agreement>, channel: AdChannel) -> Option<LocalWindow> {
        agreement
            .and_then(|a| a.windows.get(&channel))
            .or_else(|| self.windows.get(&channel))
            .copied()
    }

    /// The limit per 24 hours in force for `channel`: the agreement's when it sets one, else
    /// the rules'. `None` means not counted.
    pub fn limit(&self, agreement: Option<&Agreement>, channel: AdChannel) -> Option<u32> {
        agreement
            .and_then(|a| a.limits_per_24h.get(&channel))
            .or_else(|| self.limits_per_24h.get(&channel))
            .copied()
    }

    /// The SMS as sent: trimmed, the label first unless the text already starts with the
    /// configured label, `[QC]` or `[AD]` (any case; the existing label is upper-cased), and
    /// the opt-out sentence with `reply_number` filled in last unless the text already contains
    /// it. Idempotent: labelling twice is labelling once.
    pub fn label_sms(&self, text: &str, reply_number: &str) -> String {
        let labelled = with_label(text.trim(), self.sms_label.trim());
        let opt_out = self
            .sms_opt_out
            .replace(REPLY_NUMBER_PLACEHOLDER, reply_number);
        let opt_out = opt_out.trim();
        if opt_out.is_empty() || labelled.contains(opt_out) {
            return labelled;
        }
        join_words(&labelled, opt_out)
    }

    /// The e-mail subject as sent: trimmed, with the label first unless it already starts with
    /// the configured label, `[QC]` or `[AD]` (any case; upper-cased). Idempotent.
    pub fn label_email_subject(&self, subject: &str) -> String {
        with_label(subject.trim(), self.email_subject_label.trim())
    }

    /// The e-mail opt-out sentence with `unsubscribe_url` filled in.
    pub fn email_opt_out(&self, unsubscribe_url: &str) -> String {
        self.email_opt_out_text
            .replace(UNSUBSCRIBE_URL_PLACEHOLDER, unsubscribe_url)
    }

    /// Whether an inbound SMS reply refuses further advertising. The reply and each keyword
    /// are compared whole after the same normalisation: diacritics folded (đ→d), upper-cased,
    /// punctuation and symbols read as spaces, whitespace collapsed and trimmed. So "tc",
    /// " Huỷ ", "TỪ CHỐI", "Stop!" and "tc qc" are refusals with the preset, while "TC abc"
    /// and "không biết" are not: a keyword inside a longer sentence is not a clear refusal, and
    /// matching it would unsubscribe people who wrote something else. Such replies should reach
    /// a person.
    pub fn is_refusal(&self, reply: &str) -> bool {
        let reply = refusal_form(reply);
        !reply.is_empty()
            && self
                .refusal_keywords
                .iter()
                .any(|keyword| refusal_form(keyword) == reply)
    }

    /// Checks an admin's edit of the rules: name, reference and labels non-empty; every window
    /// valid; every limit ≥ 1; both opt-out texts present with their placeholder; at least one
    /// refusal keyword and none empty. Reports the first problem found. It does not compare
    /// the rules with the Decree: a preset may be stricter, and a looser one is the admin's
    /// recorded decision.
    pub fn validate(&self) -> Result<(), ComplianceError> {
        non_empty("name", &self.name)?;
        non_empty("reference", &self.reference)?;
        check_windows("windows", &self.windows)?;
        check_limits("limits_per_24h", &self.limits_per_24h)?;
        non_empty("sms_label", &self.sms_label)?;
        non_empty("email_subject_label", &self.email_subject_label)?;
        has_placeholder("sms_opt_out", &self.sms_opt_out, REPLY_NUMBER_PLACEHOLDER)?;
        has_placeholder(
            "email_opt_out_text",
            &self.email_opt_out_text,
            UNSUBSCRIBE_URL_PLACEHOLDER,
        )?;
        if self.refusal_keywords.is_empty() {
            return Err(ComplianceError::Empty {
                field: "refusal_keywords".to_owned(),
            });
        }
        match self
            .refusal_keywords
            .iter()
            .position(|k| refusal_form(k).is_empty())
        {
            Some(i) => Err(ComplianceError::Empty {
                field: format!("refusal_keywords.{i}"),
            }),
            None => Ok(()),
        }
    }
}

/// `text` starting with a label: an existing known label (any case) is upper-cased in place,
/// otherwise `label` and a space are put first. `text` is already trimmed.
fn with_label(text: &str, label: &str) -> String {
    for known in std::iter::once(label).chain(KNOWN_LABELS) {
        if known.is_empty() {
            continue;
        }
        if let Some((head, rest)) = text.split_at_checked(known.len())
            && head.eq_ignore_ascii_case(known)
        {
            return format!("{known}{rest}");
        }
    }
    join_words(label, text)
}

/// `a` and `b` joined by one space, or whichever is non-empty.
fn join_words(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_owned(),
        (_, true) => a.to_owned(),
        _ => format!("{a} {b}"),
    }
}

/// The form replies and refusal keywords are compared in.
fn refusal_form(text: &str) -> String {
    let spaced: String = fold(text)
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    spaced
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_uppercase()
}

/// The sends that count at `now`: those in `(now − 24h, now]`, sorted oldest first. A send
/// exactly 24 hours old no longer counts; one after `now` does not count yet.
pub fn prune(recent: &[DateTime<Utc>], now: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let since = now.checked_sub_signed(day());
    let mut kept: Vec<DateTime<Utc>> = recent
        .iter()
        .copied()
        .filter(|t| *t <= now && since.is_none_or(|since| *t > since))
        .collect();
    kept.sort_unstable();
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::from_vn;
    use chrono::{NaiveDate, TimeZone};
    use proptest::prelude::*;

    fn date(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, d).unwrap()
    }

    /// Local wall-clock time on 2026-03-`d`.
    fn vn(d: u32, hour: u32, minute: u32) -> DateTime<Utc> {
        from_vn(date(d), hour, minute).unwrap()
    }

    fn utc(d: u32, hour: u32, minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, d, hour, minute, 0).unwrap()
    }

    fn hours(h: i64) -> Duration {
        Duration::hours(h)
    }

    fn sms(now: DateTime<Utc>) -> AdVerdict {
        decree_91().check(None, AdChannel::Sms, now, &[])
    }

    #[test]
    fn sms_at_22_30_waits_for_07_00_next_morning() {
        assert_eq!(
            sms(vn(10, 22, 30)),
            AdVerdict::Deferred {
                until: utc(11, 0, 0)
            }
        );
    }

    #[test]
    fn sms_at_06_59_waits_for_07_00_the_same_day() {
        assert_eq!(
            sms(vn(10, 6, 59)),
            AdVerdict::Deferred {
                until: utc(10, 0, 0)
            }
        );
        // Just after local midnight, which is still the previous UTC day.
        assert_eq!(
            sms(vn(10, 0, 30)),
            AdVerdict::Deferred {
                until: utc(10, 0, 0)
            }
        );
    }

    #[test]
    fn sms_window_is_half_open() {
        assert_eq!(sms(vn(10, 7, 0)), AdVerdict::Allowed);
        assert_eq!(sms(vn(10, 21, 59)), AdVerdict::Allowed);
        assert_eq!(
            sms(vn(10, 21, 59) + Duration::seconds(59)),
            AdVerdict::Allowed
        );
        assert_eq!(
            sms(vn(10, 22, 0)),
            AdVerdict::Deferred {
                until: utc(11, 0, 0)
            }
        );
    }

    #[test]
    fn email_is_never_deferred() {
        let rules = decree_91();
        assert_eq!(rules.window(None, AdChannel::Email), None);
        for hour in 0..24 {
            assert_eq!(
                rules.check(None, AdChannel::Email, vn(10, hour, 30), &[]),
                AdVerdict::Allowed
            );
        }
    }

    #[test]
    fn calls_only_from_08_to_17() {
        let rules = decree_91();
        let call = |now| rules.check(None, AdChannel::Call, now, &[]);
        assert_eq!(
            call(vn(10, 7, 59)),
            AdVerdict::Deferred {
                until: utc(10, 1, 0)
            }
        );
        assert_eq!(call(vn(10, 8, 0)), AdVerdict::Allowed);
        assert_eq!(call(vn(10, 16, 59)), AdVerdict::Allowed);
        assert_eq!(
            call(vn(10, 17, 0)),
            AdVerdict::Deferred {
                until: utc(11, 1, 0)
            }
        );
    }

    #[test]
    fn fourth_email_in_24_hours_is_capped_until_the_first_is_a_day_old() {
        let rules = decree_91();
        let first = vn(10, 9, 0);
        let sent = [first + hours(2), first, first + hours(1)];
        let email = |now| rules.check(None, AdChannel::Email, now, &sent);
        assert_eq!(
            email(first + hours(3)),
            AdVerdict::Capped {
                frees_at: first + hours(24)
            }
        );
        assert_eq!(
            email(first + hours(24) - Duration::seconds(1)),
            AdVerdict::Capped {
                frees_at: first + hours(24)
            }
        );
        assert_eq!(email(first + hours(24)), AdVerdict::Allowed);
        // Two sends still count, one more fits.
        assert_eq!(email(first + hours(25)), AdVerdict::Allowed);
    }

    #[test]
    fn limits_per_channel() {
        let rules = decree_91();
        let now = vn(10, 15, 0);
        let one = [now - hours(1)];
        let three = [now - hours(1), now - hours(2), now - hours(3)];
        assert!(rules.check(None, AdChannel::Sms, now, &one).is_allowed());
        assert_eq!(
            rules.check(None, AdChannel::Sms, now, &three),
            AdVerdict::Capped {
                frees_at: now + hours(21)
            }
        );
        assert_eq!(
            rules.check(None, AdChannel::Call, now, &one),
            AdVerdict::Capped {
                frees_at: now + hours(23)
            }
        );
        // Older and later sends do not count.
        let stale = [now - hours(24), now - hours(30), now + hours(1)];
        assert!(rules.check(None, AdChannel::Call, now, &stale).is_allowed());
    }

    #[test]
    fn window_is_checked_before_the_limit() {
        let rules = decree_91();
        let now = vn(10, 23, 0);
        let three = [now - hours(1), now - hours(2), now - hours(3)];
        assert_eq!(
            rules.check(None, AdChannel::Sms, now, &three),
            AdVerdict::Deferred {
                until: utc(11, 0, 0)
            }
        );
    }

    fn agreement() -> Agreement {
        Agreement {
            limits_per_24h: BTreeMap::from([(AdChannel::Sms, 5)]),
            windows: BTreeMap::from([(
                AdChannel::Call,
                LocalWindow::new(hm(18, 0), hm(20, 30)).unwrap(),
            )]),
            agreed_at: utc(1, 3, 0),
            evidence: "Phiếu đăng ký ngày 01/03/2026, mục 4".to_owned(),
        }
    }

    #[test]
    fn an_agreement_replaces_the_limit_of_its_channel() {
        let rules = decree_91();
        let agreed = agreement();
        let now = vn(10, 12, 0);
        let sent: Vec<_> = (1..=4).map(|h| now - hours(h)).collect();
        assert_eq!(rules.limit(Some(&agreed), AdChannel::Sms), Some(5));
        assert!(
            rules
                .check(Some(&agreed), AdChannel::Sms, now, &sent)
                .is_allowed()
        );
        assert!(!rules.check(None, AdChannel::Sms, now, &sent).is_allowed());
        let mut five = sent.clone();
        five.push(now - hours(5));
        assert_eq!(
            rules.check(Some(&agreed), AdChannel::Sms, now, &five),
            AdVerdict::Capped {
                frees_at: now + hours(19)
            }
        );
        // The SMS window and the other channels' limits stay the preset's.
        assert_eq!(
            rules.window(Some(&agreed), AdChannel::Sms),
            Some(SMS_WINDOW)
        );
        assert_eq!(rules.limit(Some(&agreed), AdChannel::Email), Some(3));
    }

    #[test]
    fn an_agreement_replaces_the_window_of_its_channel() {
        let rules = decree_91();
        let agreed = agreement();
        let call = |now| rules.check(Some(&agreed), AdChannel::Call, now, &[]);
        assert_eq!(
            call(vn(10, 10, 0)),
            AdVerdict::Deferred {
                until: utc(10, 11, 0)
            }
        );
        assert_eq!(call(vn(10, 19, 0)), AdVerdict::Allowed);
        assert_eq!(
            call(vn(10, 20, 30)),
            AdVerdict::Deferred {
                until: utc(11, 11, 0)
            }
        );
        assert_eq!(rules.limit(Some(&agreed), AdChannel::Call), Some(1));
    }

    #[test]
    fn a_lowered_limit_frees_up_when_enough_sends_have_aged() {
        let rules = decree_91();
        let agreed = Agreement {
            limits_per_24h: BTreeMap::from([(AdChannel::Email, 2)]),
            ..agreement()
        };
        let now = vn(10, 12, 0);
        let sent = [now - hours(3), now - hours(5), now - hours(4)];
        // Two of three must leave: the second oldest (now − 4h) leaves at now + 20h.
        assert_eq!(
            rules.check(Some(&agreed), AdChannel::Email, now, &sent),
            AdVerdict::Capped {
                frees_at: now + hours(20)
            }
        );
    }

    #[test]
    fn verdict_retry_instant_and_serde() {
        let now = utc(10, 5, 0);
        assert_eq!(AdVerdict::Allowed.retry_at(now), now);
        let capped = AdVerdict::Capped {
            frees_at: utc(11, 0, 0),
        };
        assert_eq!(capped.retry_at(now), utc(11, 0, 0));
        assert_eq!(
            serde_json::to_value(capped).unwrap(),
            serde_json::json!({"verdict": "capped", "frees_at": "2026-03-11T00:00:00Z"})
        );
        assert_eq!(
            serde_json::to_value(AdVerdict::Allowed).unwrap(),
            serde_json::json!({"verdict": "allowed"})
        );
    }

    #[test]
    fn sms_labels_and_opt_out() {
        let rules = decree_91();
        let once = rules.label_sms("  Ưu đãi vay 0% lãi suất tháng đầu. ", "9029");
        assert_eq!(
            once,
            "[QC] Ưu đãi vay 0% lãi suất tháng đầu. Tu choi QC soan TC gui 9029"
        );
        assert_eq!(rules.label_sms(&once, "9029"), once);
        assert_eq!(
            rules.label_sms("[AD] Uu dai", "9029"),
            "[AD] Uu dai Tu choi QC soan TC gui 9029"
        );
        assert_eq!(
            rules.label_sms("[qc]Uu dai. Tu choi QC soan TC gui 9029 nhe", "9029"),
            "[QC]Uu dai. Tu choi QC soan TC gui 9029 nhe"
        );
        assert_eq!(
            rules.label_sms("", "9029"),
            "[QC] Tu choi QC soan TC gui 9029"
        );
        // Another reply number is another sentence.
        assert!(
            rules
                .label_sms(&once, "8088")
                .ends_with("gui 9029 Tu choi QC soan TC gui 8088")
        );
    }

    #[test]
    fn email_subject_label_and_opt_out() {
        let rules = decree_91();
        let subject = rules.label_email_subject(" Lãi suất tiết kiệm mới ");
        assert_eq!(subject, "[QC] Lãi suất tiết kiệm mới");
        assert_eq!(rules.label_email_subject(&subject), subject);
        assert_eq!(rules.label_email_subject("[ad] Tin mới"), "[AD] Tin mới");
        assert_eq!(
            rules.email_opt_out("https://nhip.vn/u/abc"),
            "Quý khách không muốn nhận thư quảng cáo? Từ chối tại: https://nhip.vn/u/abc"
        );
    }

    #[test]
    fn refusals() {
        let rules = decree_91();
        let table = [
            ("TC", true),
            ("tc", true),
            (" Huỷ ", true),
            ("HỦY", true),
            ("huy", true),
            ("TỪ CHỐI", true),
            ("tu   choi", true),
            ("Stop!", true),
            ("stop.", true),
            ("Không", true),
            ("tc qc", true),
            ("Từ chối QC", true),
            ("TC abc", false),
            ("không biết", false),
            ("OK", false),
            ("", false),
            ("  ", false),
            ("!!!", false),
            ("TCC", false),
        ];
        for (reply, refusal) in table {
            assert_eq!(rules.is_refusal(reply), refusal, "{reply:?}");
        }
    }

    #[test]
    fn the_preset_round_trips_and_shows_times_as_hh_mm() {
        let rules = decree_91();
        let json = serde_json::to_value(&rules).unwrap();
        assert_eq!(
            json["windows"]["sms"],
            serde_json::json!({"start": "07:00", "end": "22:00"})
        );
        assert_eq!(json["windows"]["call"]["end"], "17:00");
        assert_eq!(json["limits_per_24h"]["call"], 1);
        assert!(json["windows"].get("email").is_none());
        let back: AdvertisingRules = serde_json::from_value(json).unwrap();
        assert_eq!(back, rules);
    }

    #[test]
    fn windows_are_checked_on_the_way_in() {
        let read = |json| serde_json::from_value::<LocalWindow>(json);
        assert_eq!(
            read(serde_json::json!({"start": "7:30", "end": "21:00"})).unwrap(),
            LocalWindow::new(hm(7, 30), hm(21, 0)).unwrap()
        );
        for bad in [
            serde_json::json!({"start": "22:00", "end": "07:00"}),
            serde_json::json!({"start": "07:00", "end": "07:00"}),
            serde_json::json!({"start": "7h", "end": "22:00"}),
            serde_json::json!({"start": "07:00", "end": "24:00"}),
        ] {
            assert!(read(bad.clone()).is_err(), "{bad}");
        }
        assert_eq!(
            LocalWindow::new(hm(22, 0), hm(7, 0)),
            Err(ComplianceError::WindowNotOrdered {
                field: "window".into()
            })
        );
        let with_seconds = NaiveTime::from_hms_opt(7, 0, 30).unwrap();
        assert_eq!(
            LocalWindow::new(with_seconds, hm(22, 0)).map_err(|e| e.code()),
            Err("time_not_whole_minute")
        );
    }

    #[test]
    fn agreements_read_with_defaults_and_validate() {
        let agreed: Agreement = serde_json::from_value(serde_json::json!({
            "agreed_at": "2026-03-01T03:00:00Z",
            "evidence": "Cuộc gọi ghi âm số 123",
        }))
        .unwrap();
        assert!(agreed.limits_per_24h.is_empty() && agreed.windows.is_empty());
        assert_eq!(agreed.validate(), Ok(()));
        assert_eq!(agreement().validate(), Ok(()));
        let zero = Agreement {
            limits_per_24h: BTreeMap::from([(AdChannel::Email, 0)]),
            ..agreement()
        };
        assert_eq!(
            zero.validate().unwrap_err().field(),
            "agreement.limits_per_24h.email"
        );
        let unproven = Agreement {
            evidence: " ".into(),
            ..agreement()
        };
        assert_eq!(
            unproven.validate().unwrap_err().field(),
            "agreement.evidence"
        );
    }

    #[test]
    fn validate_names_the_broken_field() {
        assert_eq!(decree_91().validate(), Ok(()));
        type Edit = fn(&mut AdvertisingRules);
        let cases: [(Edit, &str, &str); 9] = [
            (|r| r.name.clear(), "name", "empty"),
            (
                |r| {
                    r.windows.insert(
                        AdChannel::Sms,
                        LocalWindow {
                            start: hm(22, 0),
                            end: hm(7, 0),
                        },
                    );
                },
                "windows.sms",
                "window_not_ordered",
            ),
            (
                |r| {
                    r.limits_per_24h.insert(AdChannel::Call, 0);
                },
                "limits_per_24h.call",
                "limit_too_low",
            ),
            (|r| r.sms_label = " ".into(), "sms_label", "empty"),
            (
                |r| r.email_subject_label.clear(),
                "email_subject_label",
                "empty",
            ),
            (
                |r| r.sms_opt_out = "Tu choi QC soan TC".into(),
                "sms_opt_out",
                "missing_placeholder",
            ),
            (
                |r| r.email_opt_out_text = "Từ chối tại đây".into(),
                "email_opt_out_text",
                "missing_placeholder",
            ),
            (|r| r.refusal_keywords.clear(), "refusal_keywords", "empty"),
            (
                |r| r.refusal_keywords.push("?!".into()),
                "refusal_keywords.10",
                "empty",
            ),
        ];
        for (edit, field, code) in cases {
            let mut rules = decree_91();
            edit(&mut rules);
            let error = rules.validate().unwrap_err();
            assert_eq!((error.field(), error.code()), (field, code), "{error}");
            assert!(error.to_string().starts_with(field), "{error}");
        }
    }

    #[test]
    fn error_messages_are_vietnamese() {
        let error = ComplianceError::MissingPlaceholder {
            field: "sms_opt_out".into(),
            placeholder: REPLY_NUMBER_PLACEHOLDER,
        };
        assert_eq!(
            error.to_string(),
            "sms_opt_out: thiếu chỗ điền {reply_number}"
        );
        assert_eq!(
            ComplianceError::LimitTooLow {
                field: "limits_per_24h.sms".into()
            }
            .to_string(),
            "limits_per_24h.sms: giới hạn trong 24 giờ phải từ 1 trở lên"
        );
    }

    #[test]
    fn prune_keeps_the_last_24_hours_sorted() {
        let now = utc(10, 12, 0);
        let recent = [
            now - hours(2),
            now + hours(1),
            now - hours(24),
            now,
            now - hours(23),
            now - hours(48),
        ];
        assert_eq!(
            prune(&recent, now),
            vec![now - hours(23), now - hours(2), now]
        );
        assert!(prune(&[], now).is_empty());
    }

    #[test]
    fn channels_name_themselves() {
        let names: Vec<_> = AdChannel::ALL
            .iter()
            .map(|c| (c.as_str(), c.label()))
            .collect();
        assert_eq!(
            names,
            [
                ("sms", "Tin nhắn SMS"),
                ("email", "Thư điện tử"),
                ("call", "Cuộc gọi")
            ]
        );
        assert_eq!(serde_json::to_value(AdChannel::Email).unwrap(), "email");
    }

    fn any_instant() -> impl Strategy<Value = DateTime<Utc>> {
        (0i64..4_000_000_000, 0u32..1_000_000_000)
            .prop_map(|(s, ns)| Utc.timestamp_opt(s, ns).unwrap())
    }

    fn any_window() -> impl Strategy<Value = LocalWindow> {
        (0u32..1440)
            .prop_flat_map(|start| (Just(start), start + 1..=1440))
            .prop_map(|(start, end)| {
                let at = |m: u32| {
                    if m == 1440 {
                        hm(23, 59)
                    } else {
                        hm(m / 60, m % 60)
                    }
                };
                LocalWindow {
                    start: at(start),
                    end: at(end),
                }
            })
            .prop_filter("start < end", |w| w.start < w.end)
    }

    fn any_agreement() -> impl Strategy<Value = Option<Agreement>> {
        proptest::option::of(
            (
                proptest::collection::btree_map(
                    prop_oneof![
                        Just(AdChannel::Sms),
                        Just(AdChannel::Email),
                        Just(AdChannel::Call)
                    ],
                    1u32..10,
                    0..3,
                ),
                proptest::collection::btree_map(
                    prop_oneof![Just(AdChannel::Sms), Just(AdChannel::Call)],
                    any_window(),
                    0..2,
                ),
            )
                .prop_map(|(limits_per_24h, windows)| Agreement {
                    limits_per_24h,
                    windows,
                    agreed_at: utc(1, 0, 0),
                    evidence: "form".into(),
                }),
        )
    }

    proptest! {
        #[test]
        fn next_open_is_the_next_instant_inside(window in any_window(), at in any_instant()) {
            let open = window.next_open(at);
            prop_assert!(open >= at);
            prop_assert!(open < at + hours(24));
            prop_assert!(window.contains(open), "{open} outside {window:?}");
            if window.contains(at) {
                prop_assert_eq!(open, at);
            } else {
                // Nothing between `at` and the opening is inside: the opening is a window start.
                prop_assert_eq!(local_time(open), window.start);
                prop_assert!(!window.contains(open - Duration::nanoseconds(1)));
            }
        }

        #[test]
        fn nothing_sent_is_never_capped(
            agreed in any_agreement(),
            channel in prop_oneof![Just(AdChannel::Sms), Just(AdChannel::Email), Just(AdChannel::Call)],
            now in any_instant(),
        ) {
            let verdict = decree_91().check(agreed.as_ref(), channel, now, &[]);
            prop_assert!(!matches!(verdict, AdVerdict::Capped { .. }), "{verdict:?}");
            prop_assert!(verdict.retry_at(now) >= now);
        }

        #[test]
        fn capped_frees_up_at_frees_at(
            now in any_instant(),
            ages in proptest::collection::vec(1i64..86_400, 0..6),
        ) {
            let rules = decree_91();
            let recent: Vec<_> = ages.iter().map(|s| now - Duration::seconds(*s)).collect();
            if let AdVerdict::Capped { frees_at } = rules.check(None, AdChannel::Email, now, &recent) {
                prop_assert!(frees_at > now);
                prop_assert!(rules.check(None, AdChannel::Email, frees_at, &recent).is_allowed());
                prop_assert!(!rules
                    .check(None, AdChannel::Email, frees_at - Duration::nanoseconds(1), &recent)
                    .is_allowed());
            } else {
                prop_assert!(prune(&recent, now).len() < 3);
            }
        }

        #[test]
        fn labelling_is_idempotent(text in "\\PC{0,40}", subject in "(\\[(qc|QC|ad|Ad)\\])?\\PC{0,20}") {
            let rules = decree_91();
            for input in [&text, &subject] {
                let sms = rules.label_sms(input, "9029");
                prop_assert_eq!(rules.label_sms(&sms, "9029"), sms.clone());
                prop_assert!(sms.starts_with("[QC]") || sms.starts_with("[AD]"));
                prop_assert!(sms.ends_with("Tu choi QC soan TC gui 9029") || input.contains("gui 9029"));
                let labelled = rules.label_email_subject(input);
                prop_assert_eq!(rules.label_email_subject(&labelled), labelled.clone());
            }
        }
    }
}
