//! The channel port: how a rendered message leaves Nhịp. Each channel kind (e-mail, SMS, push,
//! Zalo ZNS, webhook bridges) has a real adapter in `nhip-aws` (SES v2, SNS, Zalo's HTTPS API,
//! a signed webhook) and, locally, the outbox in `nhip-local`, which records every send with
//! its full content instead of delivering it.
//!
//! An adapter sends exactly what it is given: consent, quiet hours, caps, labels and
//! idempotency are the send pipeline's job (`messaging::pipeline`), decided before a channel is
//! called.

use std::collections::BTreeMap;
use std::error::Error as StdError;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// A file sent with an e-mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// The name the recipient sees, e.g. `bieu-phi.pdf`.
    pub filename: String,
    /// MIME type, e.g. `application/pdf`.
    pub content_type: String,
    /// The bytes.
    #[serde(with = "base64_bytes")]
    pub bytes: Vec<u8>,
}

/// An e-mail, fully rendered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingEmail {
    /// Sender, e.g. `Ngân hàng ABC <thongbao@abc.vn>`.
    pub from: String,
    /// Recipient address.
    pub to: String,
    /// Subject line (labels already applied).
    pub subject: String,
    /// HTML body (customer data escaped).
    pub html: String,
    /// Plain-text body.
    pub text: String,
    /// Files to attach; with any, the adapter sends raw MIME.
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    /// Extra headers, e.g. `List-Unsubscribe` and `List-Unsubscribe-Post`.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
}

/// Whether an SMS is transactional (care) or promotional (advertising): SNS routes and prices
/// them differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmsKind {
    /// Care and service messages.
    Transactional,
    /// Advertising.
    Promotional,
}

/// An SMS, fully rendered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingSms {
    /// Recipient in E.164, e.g. `+84912345678`.
    pub to: String,
    /// The text (labels, opt-out and tracked links already applied).
    pub text: String,
    /// The registered brandname sender id, e.g. `NHIPBANK`.
    pub sender_id: Option<String>,
    /// Transactional or promotional.
    pub kind: SmsKind,
}

/// An app push notification, fully rendered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingPush {
    /// The device's platform endpoint (an SNS endpoint ARN in AWS).
    pub endpoint: String,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// Where a tap opens the app, e.g. `nhipbank://the/kich-hoat`.
    pub deep_link: Option<String>,
}

/// A Zalo notification-service message: a template approved by Zalo, filled with parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingZns {
    /// Recipient phone in Zalo's form, e.g. `84912345678`.
    pub phone: String,
    /// The Zalo template id.
    pub template_id: String,
    /// Template parameters, rendered.
    pub params: BTreeMap<String, String>,
    /// Our reference, echoed in Zalo's delivery callbacks.
    pub tracking_id: String,
}

/// A message for another OTT bridge (Messenger, Viber, WhatsApp…) posted to a signed webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingWebhook {
    /// The bridge's name, e.g. `viber`.
    pub bridge: String,
    /// The recipient as the bridge knows them (a phone or a bridge user id).
    pub recipient: String,
    /// The text.
    pub text: String,
}

/// A rendered message of any kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Outgoing {
    /// E-mail.
    Email(OutgoingEmail),
    /// SMS.
    Sms(OutgoingSms),
    /// Push.
    Push(OutgoingPush),
    /// Zalo ZNS.
    Zns(OutgoingZns),
    /// Webhook bridge.
    Webhook(OutgoingWebhook),
}

impl Outgoing {
    /// The kind's name: `email`, `sms`, `push`, `zns` or `webhook`.
    pub fn kind(&self) -> &'static str {
        match self {
            Outgoing::Email(_) => "email",
            Outgoing::Sms(_) => "sms",
            Outgoing::Push(_) => "push",
            Outgoing::Zns(_) => "zns",
            Outgoing::Webhook(_) => "webhook",
        }
    }
}

/// A message handed to a channel: our id for it and its content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// Nhịp's message id (a ULID); adapters pass it to the provider as a tag or reference
    /// where the provider allows, so delivery signals can be traced back.
    pub message_id: String,
    /// What to send.
    pub outgoing: Outgoing,
}

/// What the provider said when it accepted a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accepted {
    /// The provider's id for the message (SES message id, SNS message id, Zalo msg_id…),
    /// which its delivery signals carry.
    pub provider_id: String,
}

/// Why a channel did not accept a message.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// The provider refused this message and will refuse it again (invalid or unverified
    /// address, content rejected, a kind this channel does not carry). Not retried.
    #[error("the provider rejected the message: {reason}")]
    Rejected {
        /// What the provider said (never the recipient's address).
        reason: String,
    },
    /// The provider is limiting our rate: retry later.
    #[error("the provider throttled the request")]
    Throttled {
        /// The underlying error, kept whole.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
    /// The provider did not take the message, and it is known not to have left: the
    /// connection was never made, or the provider answered with an error of its own (5xx).
    /// Retried.
    #[error("the provider did not take the message")]
    NotSent {
        /// The underlying error, kept whole.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
    /// Whether the provider took the message is unknown: the request may have left and the
    /// answer been lost (a timeout, a connection dropped mid-request). Never retried
    /// automatically: the pipeline records the message as `uncertain` rather than risk a
    /// second copy.
    #[error("the provider's answer was lost")]
    Unavailable {
        /// The underlying error, kept whole.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
}

impl ChannelError {
    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, ChannelError::Rejected { .. })
    }
}

/// One way out. An adapter carries one kind (or, for the local outbox, every kind) and answers
/// `Rejected` for a kind it does not carry.
#[async_trait]
pub trait Channel: Send + Sync {
    /// The adapter's name for logs and health: `ses`, `sns-sms`, `sns-push`, `zalo-zns`,
    /// `webhook`, `outbox`.
    fn name(&self) -> &'static str;

    /// Sends one message.
    async fn send(&self, envelope: &Envelope) -> Result<Accepted, ChannelError>;
}

mod base64_bytes {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}
