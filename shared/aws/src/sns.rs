//! `SnsSmsChannel` and `SnsPushChannel`: SMS and app push on Amazon SNS `Publish`.
//!
//! SMS goes to the phone number directly, with `AWS.SNS.SMS.SMSType` (`Transactional` or
//! `Promotional`, which SNS routes and prices differently) and, when the message names one,
//! the registered brandname `AWS.SNS.SMS.SenderID`. Push goes to the device's platform
//! endpoint with a per-platform JSON body (`message_structure = "json"`): `default`, `GCM`
//! (an FCM HTTP v1 message with the notification and a `deep_link` data field), `APNS` and
//! `APNS_SANDBOX` (an `aps.alert` with `deep_link` beside it).
//!
//! Errors: `Throttled`, `KMSThrottling` and HTTP 429 are `Throttled`; SNS's refusals of the
//! request (`InvalidParameter`, `ParameterValueInvalid`, `EndpointDisabled`, `NotFound`,
//! `PlatformApplicationDisabled`…) are `Rejected`, with SNS's message stripped of numbers and
//! addresses; everything else is `Unavailable` with the SDK error kept whole.

use crate::lazy::Lazy;
use std::error::Error as StdError;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_sns::Client;
use aws_sdk_sns::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sns::operation::publish::PublishOutput;
use aws_sdk_sns::types::MessageAttributeValue;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use nhip_ports::channel::{
    Accepted, Channel, ChannelError, Envelope, Outgoing, OutgoingPush, OutgoingSms, SmsKind,
};
use serde_json::json;

use crate::ses::bare_code;

/// The SMS attribute choosing transactional or promotional routing.
pub const SMS_TYPE_ATTRIBUTE: &str = "AWS.SNS.SMS.SMSType";
/// The SMS attribute carrying the brandname sender id.
pub const SENDER_ID_ATTRIBUTE: &str = "AWS.SNS.SMS.SenderID";

/// SMS through SNS.
#[derive(Debug, Clone)]
pub struct SnsSmsChannel {
    client: Lazy<Client>,
}

impl SnsSmsChannel {
    /// SMS through `client`.
    pub fn new(client: Client) -> Self {
        Self::shared(crate::lazy::ready(client))
    }

    /// Through a client shared with the other SNS channel and perhaps not built yet
    /// ([`crate::lazy::sdk_client`]).
    pub fn shared(client: Lazy<Client>) -> Self {
        Self { client }
    }

    /// SMS through a client built from `sdk` (region, credentials, endpoint override).
    pub fn from_sdk_config(sdk: &SdkConfig) -> Self {
        Self::shared(crate::lazy::sdk_client(sdk, Client::new))
    }

    /// The SNS client, for setup code and tests.
    pub fn client(&self) -> &Client {
        &self.client
    }

    async fn send_sms(&self, sms: &OutgoingSms) -> Result<Accepted, ChannelError> {
        if !is_e164(&sms.to) {
            return Err(rejected("the recipient is not an E.164 phone number"));
        }
        if sms.text.is_empty() {
            return Err(rejected("an SMS has no text"));
        }
        let sms_type = match sms.kind {
            SmsKind::Transactional => "Transactional",
            SmsKind::Promotional => "Promotional",
        };
        let mut publish = self
            .client
            .publish()
            .phone_number(&sms.to)
            .message(&sms.text)
            .message_attributes(SMS_TYPE_ATTRIBUTE, string_attribute(sms_type)?);
        if let Some(sender_id) = &sms.sender_id {
            if !is_sender_id(sender_id) {
                return Err(rejected(
                    "a sender id is 1 to 11 letters and digits with at least one letter",
                ));
            }
            publish = publish.message_attributes(SENDER_ID_ATTRIBUTE, string_attribute(sender_id)?);
        }
        accepted(publish.send().await.map_err(map_error)?)
    }
}

#[async_trait]
impl Channel for SnsSmsChannel {
    fn name(&self) -> &'static str {
        "sns-sms"
    }

    async fn send(&self, envelope: &Envelope) -> Result<Accepted, ChannelError> {
        match &envelope.outgoing {
            Outgoing::Sms(sms) => self.send_sms(sms).await,
            other => Err(ChannelError::Rejected {
                reason: format!("the SNS SMS channel carries SMS, not {}", other.kind()),
            }),
        }
    }
}

/// App push through SNS platform endpoints.
#[derive(Debug, Clone)]
pub struct SnsPushChannel {
    client: Lazy<Client>,
}

impl SnsPushChannel {
    /// Push through `client`.
    pub fn new(client: Client) -> Self {
        Self::shared(crate::lazy::ready(client))
    }

    /// Through a client shared with the other SNS channel and perhaps not built yet
    /// ([`crate::lazy::sdk_client`]).
    pub fn shared(client: Lazy<Client>) -> Self {
        Self { client }
    }

    /// Push through a client built from `sdk` (region, credentials, endpoint override).
    pub fn from_sdk_config(sdk: &SdkConfig) -> Self {
        Self::shared(crate::lazy::sdk_client(sdk, Client::new))
    }

    /// The SNS client, for setup code (platform applications, endpoints) and tests.
    pub fn client(&self) -> &Client {
        &self.client
    }

    async fn send_push(&self, push: &OutgoingPush) -> Result<Accepted, ChannelError> {
        if !push.endpoint.starts_with("arn:") {
            return Err(rejected("a push endpoint is an SNS platform endpoint ARN"));
        }
        let out = self
            .client
            .publish()
            .target_arn(&push.endpoint)
            .message_structure("json")
            .message(push_message(push))
            .send()
            .await
            .map_err(map_error)?;
        accepted(out)
    }
}

#[async_trait]
impl Channel for SnsPushChannel {
    fn name(&self) -> &'static str {
        "sns-push"
    }

    async fn send(&self, envelope: &Envelope) -> Result<Accepted, ChannelError> {
        match &envelope.outgoing {
            Outgoing::Push(push) => self.send_push(push).await,
            other => Err(ChannelError::Rejected {
                reason: format!("the SNS push channel carries push, not {}", other.kind()),
            }),
        }
    }
}

/// The JSON `Publish` message for a push: one payload per platform, each itself a JSON string.
pub fn push_message(push: &OutgoingPush) -> String {
    let mut data = serde_json::Map::new();
    if let Some(link) = &push.deep_link {
        data.insert("deep_link".into(), link.clone().into());
    }
    let fcm = json!({
        "fcmV1Message": {
            "message": {
                "notification": { "title": push.title, "body": push.body },
                "data": data,
            }
        }
    });
    let mut apns = json!({
        "aps": {
            "alert": { "title": push.title, "body": push.body },
            "sound": "default",
        }
    });
    if let Some(link) = &push.deep_link {
        apns["deep_link"] = link.clone().into();
    }
    json!({
        "default": push.body,
        "GCM": fcm.to_string(),
        "APNS": apns.to_string(),
        "APNS_SANDBOX": apns.to_string(),
    })
    .to_string()
}

/// `+` and 8 to 15 digits.
fn is_e164(number: &str) -> bool {
    number.strip_prefix('+').is_some_and(|digits| {
        (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
    })
}

/// SNS's rule for sender ids: 1 to 11 ASCII letters and digits, at least one letter.
fn is_sender_id(sender_id: &str) -> bool {
    (1..=11).contains(&sender_id.len())
        && sender_id.bytes().all(|b| b.is_ascii_alphanumeric())
        && sender_id.bytes().any(|b| b.is_ascii_alphabetic())
}

fn string_attribute(value: &str) -> Result<MessageAttributeValue, ChannelError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| ChannelError::Unavailable {
            source: Box::new(e),
        })
}

fn accepted(out: PublishOutput) -> Result<Accepted, ChannelError> {
    out.message_id
        .map(|provider_id| Accepted { provider_id })
        .ok_or_else(|| ChannelError::Unavailable {
            source: Box::new(MalformedResponse(
                "SNS accepted a message without a message id",
            )),
        })
}

fn rejected(reason: &str) -> ChannelError {
    ChannelError::Rejected {
        reason: reason.to_owned(),
    }
}

/// An SNS answer that lacks something it always carries.
#[derive(Debug, thiserror::Error)]
#[error("malformed SNS response: {0}")]
struct MalformedResponse(&'static str);

/// Codes with which SNS refuses this request for good.
fn is_rejection_code(code: &str) -> bool {
    matches!(
        bare_code(code),
        "InvalidParameter"
            | "ParameterValueInvalid"
            | "InvalidParameterValue"
            | "EndpointDisabled"
            | "NotFound"
            | "PlatformApplicationDisabled"
            | "Validation"
            | "OptedOut"
    )
}

fn map_error<E>(err: SdkError<E, HttpResponse>) -> ChannelError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    crate::ses::channel_error("SNS", err, |code| {
        if is_rejection_code(code) {
            crate::ses::CodeKind::Rejection
        } else {
            crate::ses::CodeKind::Other
        }
    })
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    #[test]
    fn push_bodies_carry_every_platform_and_the_deep_link() {
        let message = push_message(&OutgoingPush {
            endpoint: "arn:aws:sns:ap-southeast-1:123456789012:endpoint/GCM/app/1".into(),
            title: "Thẻ đã sẵn sàng".into(),
            body: "Kích hoạt ngay".into(),
            deep_link: Some("nhipbank://the/kich-hoat".into()),
        });
        let outer: Value = serde_json::from_str(&message).unwrap();
        assert_eq!(outer["default"], "Kích hoạt ngay");
        let gcm: Value = serde_json::from_str(outer["GCM"].as_str().unwrap()).unwrap();
        assert_eq!(
            gcm["fcmV1Message"]["message"]["notification"]["title"],
            "Thẻ đã sẵn sàng"
        );
        assert_eq!(
            gcm["fcmV1Message"]["message"]["data"]["deep_link"],
            "nhipbank://the/kich-hoat"
        );
        let apns: Value = serde_json::from_str(outer["APNS"].as_str().unwrap()).unwrap();
        assert_eq!(apns["aps"]["alert"]["body"], "Kích hoạt ngay");
        assert_eq!(apns["deep_link"], "nhipbank://the/kich-hoat");
    }

    #[test]
    fn numbers_and_sender_ids_are_checked() {
        assert!(is_e164("+84912345678"));
        for bad in ["84912345678", "+84 912", "+84", "+849123456789012345"] {
            assert!(!is_e164(bad), "{bad}");
        }
        assert!(is_sender_id("NHIPBANK"));
        for bad in ["", "123456", "NHIP-BANK", "NHIPBANKVIETNAM"] {
            assert!(!is_sender_id(bad), "{bad}");
        }
    }
}
