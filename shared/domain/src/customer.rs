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
        /// Other OTT apps (Messenger, Viber, WhatsApp) through a bridge.
        Ott = "ott", "OTT (Messenger, Viber, WhatsApp)";
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

/// Why a message may not be sent to a customer (see [`may_contact`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The personal data was erased at the customer's request: there is nobody to contact.
    #[error("the customer's personal data was erased")]
    Erased,
    /// The customer restricted processing of their data: nothing but storage and legal
    /// duties, so no message of any purpose.
    #[error("the customer restricted processing of their data")]
    ProcessingRestricted,
    /// The customer objected to marketing: no marketing on any channel, whatever the consents.
    #[error("the customer objected to marketing")]
    MarketingObjected,
    /// Marketing needs an opt-in on the channel, and there is none in force.
    #[error("no marketing consent in force on {channel}")]
    NoMarketingConsent {
        /// The channel asked about.
        channel: Channel,
    },
    /// The customer explicitly withdrew care messages on the channel.
    #[error("care messages on {channel} were withdrawn")]
    CareWithdrawn {
        /// The channel asked about.
        channel: Channel,
    },
}

impl Refusal {
    /// The machine-readable reason: `erased`, `processing_restricted`, `marketing_objected`,
    /// `no_marketing_consent` or `care_withdrawn`.
    pub fn code(self) -> &'static str {
        match self {
            Refusal::Erased => "erased",
            Refusal::ProcessingRestricted => "processing_restricted",
            Refusal::MarketingObjected => "marketing_objected",
            Refusal::NoMarketingConsent { .. } => "no_marketing_consent",
            Refusal::CareWithdrawn { .. } => "care_withdrawn",
        }
    }
}

/// Whether a `purpose` message may go to a customer on `channel` now, under the Personal Data
/// Protection Law 91/2025/QH15 and Decree 356/2025. Checked in this order:
/// - an erased customer is never contacted;
/// - restricted processing stops every message, care included (only storage and legal duties
///   remain);
/// - marketing needs no objection on record (an objection covers every channel, applied at
///   once although the law allows 72 hours) and an opt-in in force on that channel;
/// - care (service) messages follow the contract and need no opt-in, but an explicit
///   withdrawal of care messages on a channel is honoured.
pub fn may_contact(
    consents: &Consents,
    processing_restricted: bool,
    marketing_objected: bool,
    erased: bool,
    channel: Channel,
    purpose: Purpose,
) -> Result<(), Refusal> {
    if erased {
        return Err(Refusal::Erased);
    }
    if processing_restricted {
        return Err(Refusal::ProcessingRestricted);
    }
    match purpose {
        Purpose::Marketing if marketing_objected => Err(Refusal::MarketingObjected),
        Purpose::Marketing if !consents.allows(channel, purpose) => {
            Err(Refusal::NoMarketingConsent { channel })
        }
        Purpose::Marketing => Ok(()),
        Purpose::Care => match consents.get(channel, purpose) {
            Some(record) if !record.granted => Err(Refusal::CareWithdrawn { channel }),
            _ => Ok(()),
        },
    }
}

#[cfg(test)]
mod may_contact_tests {
    use super::*;
    use chrono::TimeZone;

    fn consents(decisions: &[(Channel, Purpose, bool)]) -> Consents {
        let mut consents = Consents::default();
        for (i, (channel, purpose, granted)) in decisions.iter().enumerate() {
            consents.record(ConsentRecord {
                channel: *channel,
                purpose: *purpose,
                granted: *granted,
                source: "staff".into(),
                at: Utc.with_ymd_and_hms(2026, 1, 2, 3, i as u32, 0).unwrap(),
                evidence: "call".into(),
            });
        }
        consents
    }

    #[test]
    fn marketing_needs_an_opt_in_on_that_channel() {
        let c = consents(&[(Channel::Email, Purpose::Marketing, true)]);
        assert_eq!(
            may_contact(&c, false, false, false, Channel::Email, Purpose::Marketing),
            Ok(())
        );
        assert_eq!(
            may_contact(&c, false, false, false, Channel::Sms, Purpose::Marketing),
            Err(Refusal::NoMarketingConsent {
                channel: Channel::Sms
            })
        );
        let withdrawn = consents(&[
            (Channel::Email, Purpose::Marketing, true),
            (Channel::Email, Purpose::Marketing, false),
        ]);
        assert!(
            may_contact(
                &withdrawn,
                false,
                false,
                false,
                Channel::Email,
                Purpose::Marketing
            )
            .is_err()
        );
    }

    #[test]
    fn an_objection_stops_marketing_everywhere_but_not_care() {
        let c = consents(&[
            (Channel::Email, Purpose::Marketing, true),
            (Channel::Zns, Purpose::Marketing, true),
        ]);
        for channel in Channel::ALL {
            assert_eq!(
                may_contact(&c, false, true, false, *channel, Purpose::Marketing),
                Err(Refusal::MarketingObjected)
            );
            assert_eq!(
                may_contact(&c, false, true, false, *channel, Purpose::Care),
                Ok(())
            );
        }
    }

    #[test]
    fn care_needs_no_opt_in_but_honours_a_withdrawal() {
        let none = Consents::default();
        assert_eq!(
            may_contact(&none, false, false, false, Channel::Sms, Purpose::Care),
            Ok(())
        );
        let withdrawn = consents(&[(Channel::Sms, Purpose::Care, false)]);
        assert_eq!(
            may_contact(&withdrawn, false, false, false, Channel::Sms, Purpose::Care),
            Err(Refusal::CareWithdrawn {
                channel: Channel::Sms
            })
        );
        assert_eq!(
            may_contact(
                &withdrawn,
                false,
                false,
                false,
                Channel::Email,
                Purpose::Care
            ),
            Ok(())
        );
    }

    #[test]
    fn restriction_and_erasure_stop_every_message() {
        let c = consents(&[
            (Channel::Email, Purpose::Marketing, true),
            (Channel::Email, Purpose::Care, true),
        ]);
        for purpose in Purpose::ALL {
            assert_eq!(
                may_contact(&c, true, false, false, Channel::Email, *purpose),
                Err(Refusal::ProcessingRestricted)
            );
            assert_eq!(
                may_contact(&c, true, true, true, Channel::Email, *purpose),
                Err(Refusal::Erased)
            );
        }
        assert_eq!(Refusal::Erased.code(), "erased");
        assert_eq!(
            Refusal::NoMarketingConsent {
                channel: Channel::Sms
            }
            .to_string(),
            "no marketing consent in force on sms"
        );
    }
}
