//! The messaging records: a send request as it travels on the `sends` queue, and the message
//! it becomes (`MSG#<id>` / `MSG`), with its status and the reason for it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use nhip_core::keys;
use nhip_ports::store::{Index, Item, StoreError};

/// Kind attribute of message items.
pub const KIND: &str = "message";

pub use nhip_domain::channel::MessageChannel;

/// Why a message is sent. Only `marketing` and `consent_request` are advertising under
/// Decree 91; `care` (reminders, statements, service notices) is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SendPurpose {
    /// Service and care.
    Care,
    /// Advertising: needs consent, follows the windows, caps and labels.
    Marketing,
    /// The one registration message asking an address without advertising consent to opt in.
    ConsentRequest,
}

impl SendPurpose {
    /// Whether Decree 91's advertising rules apply.
    pub fn is_advertising(self) -> bool {
        !matches!(self, SendPurpose::Care)
    }

    /// Wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            SendPurpose::Care => "care",
            SendPurpose::Marketing => "marketing",
            SendPurpose::ConsentRequest => "consent_request",
        }
    }
}

/// What asked for the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CauseKind {
    /// A journey step.
    Journey,
    /// An installment or expiry reminder.
    Reminder,
    /// A staff member, one-off.
    Staff,
    /// A staff member's bulk send.
    Campaign,
    /// Nhịp itself (refusal confirmations).
    System,
}

/// The cause of a send: its kind, an id within it (journey step, reminder, user) and the staff
/// member when one acted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Cause {
    /// Kind.
    pub kind: CauseKind,
    /// Id within the kind.
    pub id: String,
    /// The staff member, if one acted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
}

/// One way to reach the customer: a channel and the code of a published template of that
/// channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Target {
    /// The channel.
    #[schema(value_type = nhip_core::openapi::MessageChannelSchema)]
    pub channel: MessageChannel,
    /// The template's code; its channel must be this channel.
    #[schema(example = "tra-gop-moi-email", min_length = 1)]
    pub template: String,
    /// A fixed version; the published one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, nullable = false)]
    pub version: Option<u32>,
}

/// Data merged into the template beside the customer's own.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RequestData {
    /// The holding (product, amount, due date…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holding: Option<Value>,
    /// The journey (name, step…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journey: Option<Value>,
    /// The triggering event's data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<Value>,
}

/// A request to send one message, as it travels on the `sends` queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SendRequest {
    /// The cause's own key (e.g. `journey#<enrollment>#<step>#<attempt>`): the same key never
    /// sends twice.
    pub idempotency_key: String,
    /// The customer.
    pub customer_id: String,
    /// Channels in order of preference (e.g. ZNS, then SMS): the first one the customer can be
    /// reached on is used.
    pub targets: Vec<Target>,
    /// Care, marketing or consent request.
    pub purpose: SendPurpose,
    /// What asked for it.
    pub cause: Cause,
    /// The campaign, for bulk sends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
    /// Extra merge data.
    #[serde(default)]
    pub data: RequestData,
    /// A built-in message instead of a template (refusal confirmations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<SystemMessage>,
    /// When it was asked for.
    pub requested_at: DateTime<Utc>,
    /// What must still hold when the message is about to leave (a reminder whose instalment
    /// may be paid meanwhile): checked after the claim, before rendering and sending; when it no
    /// longer holds the message ends `withdrawn` and nothing is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guard: Option<SendGuard>,
}

/// A condition on one stored item that a queued message needs to still hold when it leaves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SendGuard {
    /// The item's partition key.
    pub pk: String,
    /// The item's sort key.
    pub sk: String,
    /// The attribute tested.
    pub field: String,
    /// The test: the attribute equals a value, or is a number below one.
    pub test: GuardTest,
}

/// The test of a [`SendGuard`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GuardTest {
    /// The attribute is this text.
    Equals(String),
    /// The attribute is a number below this one (a plan's paid total below what the instalment
    /// needs).
    Below(i64),
}

impl SendGuard {
    /// Whether the guard holds for the item as stored (`None`: the item is gone, so it does
    /// not).
    pub fn holds(&self, item: Option<&nhip_ports::store::Item>) -> bool {
        let Some(value) = item.and_then(|item| item.get(&self.field)) else {
            return false;
        };
        match &self.test {
            GuardTest::Equals(expected) => value.as_str() == Some(expected.as_str()),
            GuardTest::Below(limit) => value.as_i64().is_some_and(|v| v < *limit),
        }
    }
}

/// Messages Nhịp writes itself, with no advertising in them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "system", rename_all = "snake_case")]
pub enum SystemMessage {
    /// Confirms a refusal of advertising: when it was received and that sending stopped.
    RefusalConfirmation {
        /// When the refusal was received.
        received_at: DateTime<Utc>,
        /// The channel advertising stopped on.
        #[schema(value_type = nhip_core::openapi::MessageChannelSchema)]
        channel: MessageChannel,
    },
    /// Asks a known customer to confirm consents that an anonymous form asked for in their
    /// name (double opt-in): nothing is granted until they open `url` and confirm.
    ConsentConfirmation {
        /// The channel it goes on (e-mail or SMS, to the address already on record).
        #[schema(value_type = nhip_core::openapi::MessageChannelSchema)]
        channel: MessageChannel,
        /// The signed confirmation page.
        url: String,
        /// What would be granted, `channel:purpose`.
        consents: Vec<String>,
    },
}

/// How a refusal of advertising reached staff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefusalVia {
    /// On a call.
    Call,
    /// In a reply to an e-mail.
    EmailReply,
    /// In a reply SMS.
    SmsReply,
    /// In person.
    InPerson,
}

impl RefusalVia {
    /// Every way, in the order staff pick them.
    pub const ALL: [RefusalVia; 4] = [
        RefusalVia::Call,
        RefusalVia::EmailReply,
        RefusalVia::SmsReply,
        RefusalVia::InPerson,
    ];

    /// Wire form.
    pub const fn as_str(self) -> &'static str {
        match self {
            RefusalVia::Call => "call",
            RefusalVia::EmailReply => "email_reply",
            RefusalVia::SmsReply => "sms_reply",
            RefusalVia::InPerson => "in_person",
        }
    }
}

/// A way of refusal staff do not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Chọn call, email_reply, sms_reply hoặc in_person.")]
pub struct UnknownRefusalVia;

impl std::str::FromStr for RefusalVia {
    type Err = UnknownRefusalVia;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        RefusalVia::ALL
            .into_iter()
            .find(|via| via.as_str() == text)
            .ok_or(UnknownRefusalVia)
    }
}

/// Longest idempotency key.
pub const MAX_IDEMPOTENCY_KEY: usize = 200;

impl SendRequest {
    /// The message id this request becomes: derived from the idempotency key (128 bits of its
    /// SHA-256, Crockford base32), so every delivery of the request, and any request with the
    /// same key, lands on the one message item.
    pub fn message_id(&self) -> String {
        message_id_for(&self.idempotency_key)
    }
}

/// The message id of an idempotency key.
pub fn message_id_for(idempotency_key: &str) -> String {
    keys::derived_ulid(idempotency_key)
}

/// Where a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Claimed by a consumer, being decided.
    Processing,
    /// Handed to the provider; the answer is awaited.
    Sending,
    /// The provider accepted it.
    Sent,
    /// Held until a window opens or the rate allows; re-driven then.
    Deferred,
    /// The address is suppressed (hard bounce, complaint, unsubscribe, do-not-advertise list).
    Suppressed,
    /// No consent (or an objection, restriction, erasure) for this channel and purpose.
    NoConsent,
    /// The 24-hour advertising limit for the address is reached.
    Capped,
    /// The customer cannot be reached on any of the request's channels.
    NoAddress,
    /// Could not be sent (template error, provider rejection).
    Failed,
    /// A consumer died after handing it to the provider: whether it left is unknown, and it
    /// is not sent again.
    Uncertain,
    /// No longer needed when its turn came (its guard failed: the instalment was paid, the
    /// contract renewed); nothing was sent.
    Withdrawn,
}

impl Status {
    /// Wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Processing => "processing",
            Status::Sending => "sending",
            Status::Sent => "sent",
            Status::Deferred => "deferred",
            Status::Suppressed => "suppressed",
            Status::NoConsent => "no_consent",
            Status::Capped => "capped",
            Status::NoAddress => "no_address",
            Status::Failed => "failed",
            Status::Uncertain => "uncertain",
            Status::Withdrawn => "withdrawn",
        }
    }

    /// The label staff see.
    pub fn label(self) -> &'static str {
        match self {
            Status::Processing => "Đang xử lý",
            Status::Sending => "Đang gửi",
            Status::Sent => "Đã gửi",
            Status::Deferred => "Hoãn gửi",
            Status::Suppressed => "Bị chặn",
            Status::NoConsent => "Chưa có đồng ý",
            Status::Capped => "Vượt giới hạn",
            Status::NoAddress => "Không có địa chỉ liên lạc",
            Status::Failed => "Gửi lỗi",
            Status::Uncertain => "Chưa rõ kết quả",
            Status::Withdrawn => "Không còn cần gửi",
        }
    }

    /// Whether nothing more will happen to the message on the send side.
    pub fn is_final(self) -> bool {
        !matches!(
            self,
            Status::Processing | Status::Sending | Status::Deferred
        )
    }

    /// The domain event recording this decision (`message.sent`, `message.deferred`, …).
    pub fn event_type(self) -> &'static str {
        match self {
            Status::Processing | Status::Sending => nhip_core::event_types::MESSAGE_PROCESSING,
            Status::Sent => nhip_core::event_types::MESSAGE_SENT,
            Status::Deferred => nhip_core::event_types::MESSAGE_DEFERRED,
            Status::Suppressed => nhip_core::event_types::MESSAGE_SUPPRESSED,
            Status::NoConsent => nhip_core::event_types::MESSAGE_NO_CONSENT,
            Status::Capped => nhip_core::event_types::MESSAGE_CAPPED,
            Status::NoAddress => nhip_core::event_types::MESSAGE_NO_ADDRESS,
            Status::Failed => nhip_core::event_types::MESSAGE_FAILED,
            Status::Uncertain => nhip_core::event_types::MESSAGE_UNCERTAIN,
            Status::Withdrawn => nhip_core::event_types::MESSAGE_WITHDRAWN,
        }
    }
}

/// A message as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Id (from the idempotency key).
    pub id: String,
    /// The customer.
    pub customer_id: String,
    /// The request, kept whole so a deferred message can be re-driven.
    pub request: SendRequest,
    /// Where it is.
    pub status: Status,
    /// Machine-readable reason for the status (`quiet_hours`, `hard_bounce`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The reason in Vietnamese.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_text: Option<String>,
    /// The channel chosen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<MessageChannel>,
    /// The template and version rendered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// The version rendered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_version: Option<u32>,
    /// What was sent, in full (`ports::Outgoing` as JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Value>,
    /// SMS segments, for SMS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_segments: Option<Value>,
    /// Original URLs of the tracked links, by index.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<String>,
    /// The provider's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<String>,
    /// When a deferred message may go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defer_until: Option<DateTime<Utc>>,
    /// Until when the claiming consumer owns it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_until: Option<DateTime<Utc>>,
    /// Engagement so far: signal name → first time seen (`delivered`, `opened`, `clicked`,
    /// `bounced`, `complained`, `unsubscribed`).
    #[serde(default)]
    pub engagement: BTreeMap<String, DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
    /// When it was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<DateTime<Utc>>,
    /// Optimistic-concurrency version.
    pub version: u64,
}

impl Message {
    /// The stored item, with its index keys: by provider id (gsi1) once sent, by customer
    /// (gsi2) and by campaign (gsi3).
    pub fn to_item(&self) -> Result<Item, StoreError> {
        let Value::Object(mut item) = serde_json::to_value(self)
            .map_err(|e| StoreError::invalid(format!("message does not serialise: {e}")))?
        else {
            return Err(StoreError::invalid("message is not an object"));
        };
        let key = keys::message(&self.id);
        item.insert("pk".into(), key.pk.into());
        item.insert("sk".into(), key.sk.into());
        item.insert("kind".into(), KIND.into());
        if let Some(provider_id) = &self.provider_id {
            item.insert(
                Index::Gsi1.pk_attr().into(),
                keys::message_by_provider_id(provider_id).into(),
            );
            item.insert(Index::Gsi1.sk_attr().into(), "MSG".into());
        }
        item.insert(
            Index::Gsi2.pk_attr().into(),
            keys::messages_of_customer(&self.customer_id).into(),
        );
        let sort = format!("{}#{}", keys::instant(self.created_at), self.id);
        item.insert(Index::Gsi2.sk_attr().into(), sort.clone().into());
        if let Some(campaign) = &self.request.campaign {
            item.insert(
                Index::Gsi3.pk_attr().into(),
                keys::messages_of_campaign(campaign).into(),
            );
            item.insert(Index::Gsi3.sk_attr().into(), sort.into());
        }
        Ok(item)
    }

    /// The message in a stored item.
    pub fn from_item(item: Item) -> Result<Self, StoreError> {
        nhip_core::records::from_item(item, KIND)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn message_ids_follow_the_idempotency_key() {
        let a = message_id_for("journey#e1#s2#1");
        assert_eq!(a, message_id_for("journey#e1#s2#1"));
        assert_ne!(a, message_id_for("journey#e1#s2#2"));
        assert_eq!(a.len(), 26);
    }

    #[test]
    fn refusal_ways_read_their_wire_forms_only() {
        for via in RefusalVia::ALL {
            assert_eq!(via.as_str().parse::<RefusalVia>(), Ok(via));
            assert_eq!(json!(via), json!(via.as_str()));
        }
        assert_eq!("phone".parse::<RefusalVia>(), Err(UnknownRefusalVia));
        assert_eq!("Call".parse::<RefusalVia>(), Err(UnknownRefusalVia));
    }

    #[test]
    fn only_processing_sending_and_deferred_are_open() {
        for status in [Status::Processing, Status::Sending, Status::Deferred] {
            assert!(!status.is_final());
        }
        assert!(Status::Sent.is_final());
        assert!(Status::Uncertain.is_final());
    }
}
