//! The customer model. A lead is a customer not yet converted: one record follows a person from
//! the first form they fill in (`new`, "KH mới chưa tư vấn") through consulting to customer, and
//! to `former` once every contract is settled ("KH cũ đã tất toán"), a group of its own for
//! separate care and marketing. The words a Vietnamese user sees are in `label()`.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Implements `FromStr`, `Display`, `as_str`, `label` (Vietnamese) and `ALL` for a plain enum
/// whose wire form is snake_case.
macro_rules! labelled_enum {
    ($(#[$doc:meta])* $name:ident, $what:literal { $($(#[$vdoc:meta])* $variant:ident = $wire:literal, $label:literal;)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            /// Every value, in display order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire form (snake_case).
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire,)+ }
            }

            /// The Vietnamese label staff see.
            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label,)+ }
            }

            /// The accepted wire forms, for error messages.
            pub fn expected() -> String {
                [$($wire),+].join(", ")
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s.trim() {
                    $($wire => Ok($name::$variant),)+
                    _ => Err(UnknownValue { what: $what, expected: Self::expected() }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// A value outside an enumeration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what}; expected one of: {expected}")]
pub struct UnknownValue {
    /// What was being parsed, e.g. `lifecycle`.
    pub what: &'static str,
    /// The accepted values.
    pub expected: String,
}

labelled_enum! {
    /// Where a customer is in their relationship with the firm.
    Lifecycle, "lifecycle" {
        /// Arrived, nobody has talked to them yet.
        New = "new", "KH mới chưa tư vấn";
        /// A consultant is in touch.
        Consulting = "consulting", "KH đang tư vấn";
        /// Holds at least one product or contract.
        Customer = "customer", "Khách hàng";
        /// Settled every contract; kept as its own group for separate care.
        Former = "former", "KH cũ đã tất toán";
    }
}

labelled_enum! {
    /// How promising a lead is, set by staff.
    Classification, "classification" {
        /// Needs attention now.
        Urgent = "urgent", "Gấp";
        /// Worth pursuing.
        Potential = "potential", "Tiềm năng";
        /// Not worth pursuing.
        NotPotential = "not_potential", "Không tiềm năng";
    }
}

labelled_enum! {
    /// Where a customer came from. The first five are entered by staff, the last three arrive
    /// by themselves.
    Source, "source" {
        /// Handed to a consultant ("khách được giao").
        Assigned = "assigned", "Khách được giao";
        /// The firm's Facebook fanpage.
        Fanpage = "fanpage", "Fanpage";
        /// The website, entered by staff.
        Website = "website", "Website";
        /// Referred by someone.
        Referral = "referral", "Giới thiệu";
        /// Anything else.
        Other = "other", "Khác";
        /// A form on the website or a landing page, posted to the intake endpoint.
        WebsiteForm = "website_form", "Đăng ký qua website";
        /// Called the hotline.
        IncomingCall = "incoming_call", "Gọi đến tổng đài";
        /// A CSV import.
        Import = "import", "Nhập từ tệp";
    }
}

impl Source {
    /// Whether the record arrived without staff typing it in.
    pub fn is_automatic(self) -> bool {
        matches!(
            self,
            Source::WebsiteForm | Source::IncomingCall | Source::Import
        )
    }
}

labelled_enum! {
    /// A channel Nhịp can reach a customer on.
    Channel, "channel" {
        /// E-mail.
        Email = "email", "Email";
        /// SMS (brandname).
        Sms = "sms", "SMS";
        /// Zalo notification service.
        Zns = "zns", "Zalo ZNS";
        /// App push notification.
        Push = "push", "Thông báo ứng dụng";
        /// Phone call.
        Call = "call", "Gọi điện";
    }
}

labelled_enum! {
    /// Why a message is sent: marketing needs opt-in; care (service) messages follow the contract.
    Purpose, "purpose" {
        /// Offers, campaigns, newsletters.
        Marketing = "marketing", "Tiếp thị";
        /// Service and care: reminders, reports, greetings.
        Care = "care", "Chăm sóc";
    }
}

/// One consent decision, as given, with its evidence. The latest decision per channel and
/// purpose is the one in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsentRecord {
    /// The channel consented to.
    pub channel: Channel,
    /// What for.
    pub purpose: Purpose,
    /// Given (`true`) or withdrawn (`false`).
    pub granted: bool,
    /// Where it was given: `website_form`, `staff`, `import`, `unsubscribe_link`, …
    pub source: String,
    /// When it was given.
    pub at: DateTime<Utc>,
    /// What proves it: the form and page, the checkbox text, the staff member and call.
    pub evidence: String,
}

/// The consents in force, keyed `<channel>:<purpose>`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Consents(pub BTreeMap<String, ConsentRecord>);

impl Consents {
    fn key(channel: Channel, purpose: Purpose) -> String {
        format!("{channel}:{purpose}")
    }

    /// Records a decision, replacing an older one for the same channel and purpose. A record
    /// older than the one in force is ignored (forms can arrive out of order).
    pub fn record(&mut self, record: ConsentRecord) {
        let key = Self::key(record.channel, record.purpose);
        match self.0.get(&key) {
            Some(current) if current.at > record.at => {}
            _ => {
                self.0.insert(key, record);
            }
        }
    }

    /// Whether the customer agreed to `purpose` messages on `channel`.
    pub fn allows(&self, channel: Channel, purpose: Purpose) -> bool {
        self.0
            .get(&Self::key(channel, purpose))
            .is_some_and(|r| r.granted)
    }

    /// The decision in force, if any.
    pub fn get(&self, channel: Channel, purpose: Purpose) -> Option<&ConsentRecord> {
        self.0.get(&Self::key(channel, purpose))
    }
}

/// Campaign and page fields captured with a web lead.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribution {
    /// `utm_source`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm_source: Option<String>,
    /// `utm_medium`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm_medium: Option<String>,
    /// `utm_campaign`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm_campaign: Option<String>,
    /// `utm_term`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm_term: Option<String>,
    /// `utm_content`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm_content: Option<String>,
    /// The page the form was on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
    /// The referring page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referrer: Option<String>,
    /// Which form (e.g. `dang-ky-nhan-tin`, `dang-ky-dau-tu`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form: Option<String>,
}

impl Attribution {
    /// Whether nothing was captured.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

labelled_enum! {
    /// Whether a customer uses a product they hold (reseller customer care).
    UsageStatus, "usage status" {
        /// In use.
        Using = "using", "Đang sử dụng";
        /// Bought, not yet activated.
        NotYetUsing = "not_yet_using", "Chưa sử dụng";
        /// Stopped using.
        Stopped = "stopped", "Ngưng sử dụng";
    }
}

/// The lifecycle a `new` lead moves to on its first interaction: the consultant has now talked
/// to them, so they leave the "not yet consulted" list.
pub fn after_first_interaction(current: Lifecycle) -> Lifecycle {
    match current {
        Lifecycle::New => Lifecycle::Consulting,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn enums_parse_their_wire_form_and_show_vietnamese_labels() {
        for lifecycle in Lifecycle::ALL {
            assert_eq!(lifecycle.as_str().parse::<Lifecycle>(), Ok(*lifecycle));
        }
        assert_eq!(Lifecycle::New.label(), "KH mới chưa tư vấn");
        assert_eq!(
            "not_potential".parse::<Classification>(),
            Ok(Classification::NotPotential)
        );
        let error = "hot".parse::<Classification>().unwrap_err();
        assert!(
            error
                .to_string()
                .contains("urgent, potential, not_potential")
        );
        assert!(Source::IncomingCall.is_automatic());
        assert!(!Source::Fanpage.is_automatic());
        assert_eq!(
            serde_json::to_string(&Source::WebsiteForm).unwrap(),
            "\"website_form\""
        );
    }

    #[test]
    fn the_latest_consent_decision_wins_and_late_arrivals_do_not_undo_it() {
        let at = |h| Utc.with_ymd_and_hms(2026, 11, 23, h, 0, 0).unwrap();
        let record = |granted, h| ConsentRecord {
            channel: Channel::Email,
            purpose: Purpose::Marketing,
            granted,
            source: "website_form".into(),
            at: at(h),
            evidence: "checkbox".into(),
        };
        let mut consents = Consents::default();
        assert!(!consents.allows(Channel::Email, Purpose::Marketing));
        consents.record(record(true, 1));
        assert!(consents.allows(Channel::Email, Purpose::Marketing));
        consents.record(record(false, 3));
        consents.record(record(true, 2));
        assert!(!consents.allows(Channel::Email, Purpose::Marketing));
        assert!(!consents.allows(Channel::Sms, Purpose::Marketing));
    }

    #[test]
    fn only_new_leads_move_on_first_interaction() {
        assert_eq!(
            after_first_interaction(Lifecycle::New),
            Lifecycle::Consulting
        );
        assert_eq!(
            after_first_interaction(Lifecycle::Customer),
            Lifecycle::Customer
        );
    }
}
