//! The providers' signed callbacks over HTTP: SES events delivered by an SNS HTTPS
//! subscription, and Zalo ZNS delivery events. Each is checked (configured, from the right
//! sender, signature) before anything is recorded; a callback about a message Nhịp does not
//! know is answered as not recorded, not refused.

use serde_json::{Value, json};

use crate::ses_events::SesEventError;
use crate::sns::{SnsError, SnsKind, SnsMessage};
use crate::zalo::{ZaloSignatureError, ZnsEventError};
use crate::{pipeline, tracking};
use nhip_core::deps::Deps;
use nhip_ports::certificates::CertificateError;
use nhip_ports::store::StoreError;

/// Why a callback was refused. The texts are answered to the provider (in English).
#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    /// No SES events topic is configured, so no SNS message can be trusted.
    #[error("SES events over HTTPS are not configured (NHIP_SES_EVENTS_TOPIC_ARN).")]
    SesNotConfigured,
    /// No Zalo app id or secret is configured.
    #[error("Zalo callbacks are not configured.")]
    ZaloNotConfigured,
    /// The body is not UTF-8.
    #[error("The body is not UTF-8.")]
    NotUtf8,
    /// The body is not an SNS message.
    #[error("The body is not an SNS message.")]
    NotSns(#[source] serde_json::Error),
    /// The SNS message comes from another topic.
    #[error("The SNS message is not from Nhịp's SES events topic.")]
    OtherTopic,
    /// The SNS signature does not verify (forged, unsigned, stale).
    #[error("The SNS signature does not verify.")]
    SnsSignature(#[source] SnsError),
    /// The SNS notification does not carry an SES event.
    #[error("The notification is not an SES event.")]
    NotSesEvent(#[source] SesEventError),
    /// The subscription could not be confirmed (SNS unreachable).
    #[error("Could not confirm the subscription.")]
    Confirmation(#[source] CertificateError),
    /// The Zalo signature does not verify.
    #[error("The Zalo signature does not verify.")]
    ZaloSignature(#[source] ZaloSignatureError),
    /// The Zalo event is not a ZNS delivery.
    #[error("Not a ZNS delivery event.")]
    NotZnsDelivery(#[source] ZnsEventError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What an SNS message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SesOutcome {
    /// An SES event: whether it was about a Nhịp message (and so recorded).
    Event {
        /// Recorded on a message.
        recorded: bool,
    },
    /// The subscription was confirmed.
    Confirmed,
    /// An unsubscribe confirmation: nothing to do.
    Ignored,
}

/// An SNS message posted by the SES events topic's HTTPS subscription: verified, then an SES
/// event is recorded or a subscription confirmed.
pub async fn ses_over_http(deps: &Deps, body: &[u8]) -> Result<SesOutcome, CallbackError> {
    let Some(topic) = deps.settings.messaging.ses_events_topic_arn.as_deref() else {
        return Err(CallbackError::SesNotConfigured);
    };
    let text = std::str::from_utf8(body).map_err(|_| CallbackError::NotUtf8)?;
    let message: SnsMessage = serde_json::from_str(text).map_err(CallbackError::NotSns)?;
    if message.topic_arn != topic {
        return Err(CallbackError::OtherTopic);
    }
    let now = deps.clock.now();
    crate::sns::verify(&message, &*deps.sns_certificates, now)
        .await
        .map_err(|error| {
            tracing::warn!(%error, "SNS message rejected");
            CallbackError::SnsSignature(error)
        })?;
    match message.kind {
        SnsKind::Notification => {
            let event =
                crate::ses_events::parse(&message.message).map_err(CallbackError::NotSesEvent)?;
            let outcome = tracking::record_ses(deps, &event).await?;
            Ok(SesOutcome::Event {
                recorded: !matches!(outcome, tracking::Recorded::UnknownMessage),
            })
        }
        SnsKind::SubscriptionConfirmation => {
            let url = message.subscribe_url.clone().unwrap_or_default();
            deps.sns_certificates
                .confirm(&url)
                .await
                .map_err(CallbackError::Confirmation)?;
            Ok(SesOutcome::Confirmed)
        }
        SnsKind::UnsubscribeConfirmation => Ok(SesOutcome::Ignored),
    }
}

/// Zalo's delivery callback, signed with `X-ZEvent-Signature` over the body and its
/// timestamp: the message it names (by Nhịp's tracking id, else Zalo's message id) is marked
/// delivered. `Ok(false)` when no Nhịp message matches.
pub async fn zns_delivery(
    deps: &Deps,
    signature: &str,
    body: &[u8],
) -> Result<bool, CallbackError> {
    let settings = &deps.settings.messaging;
    let (Some(app_id), Some(secret)) = (&settings.zalo_app_id, &settings.zalo_secret) else {
        return Err(CallbackError::ZaloNotConfigured);
    };
    let text = std::str::from_utf8(body).map_err(|_| CallbackError::NotUtf8)?;
    crate::zalo::verify_zalo_signature(app_id, secret, text, &zalo_timestamp(text), signature)
        .map_err(CallbackError::ZaloSignature)?;
    let delivery = crate::zalo::parse_zns_delivery(text).map_err(CallbackError::NotZnsDelivery)?;
    let message = match &delivery.tracking_id {
        Some(id) => pipeline::load(deps, id).await?,
        None => None,
    };
    let message = match message {
        Some(message) => Some(message),
        None => tracking::by_provider_id(deps, &delivery.msg_id).await?,
    };
    let Some(message) = message else {
        return Ok(false);
    };
    tracking::record(
        deps,
        message,
        tracking::Signal::Delivered,
        delivery.delivered_at,
        &format!("zns-{}", delivery.msg_id),
        json!({}),
    )
    .await?;
    Ok(true)
}

/// The `timestamp` the Zalo signature covers, as text (Zalo sends it as a string or a
/// number); empty when absent, which no valid signature covers.
fn zalo_timestamp(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| {
            v.get("timestamp").and_then(|t| {
                t.as_str()
                    .map(str::to_owned)
                    .or_else(|| t.as_u64().map(|n| n.to_string()))
            })
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::zalo_timestamp;

    #[test]
    fn the_signed_timestamp_is_read_as_text_or_number() {
        assert_eq!(
            zalo_timestamp(r#"{"timestamp": "1733472000000"}"#),
            "1733472000000"
        );
        assert_eq!(
            zalo_timestamp(r#"{"timestamp": 1733472000000}"#),
            "1733472000000"
        );
        assert_eq!(zalo_timestamp(r#"{"event_name": "x"}"#), "");
        assert_eq!(zalo_timestamp("not json"), "");
    }
}
