//! Zalo ZNS delivery webhooks: the signature Zalo puts on each call, and the
//! `user_received_message` event (a ZNS message reached the customer's phone).
//!
//! Zalo signs a webhook call with the header
//! `X-ZEvent-Signature: mac=<hex of SHA-256(app_id + raw body + timestamp + OA secret key)>`,
//! where `timestamp` is the `timestamp` field of the JSON body ([`event_timestamp`]) and the
//! OA secret key is the Official Account's (not the app's) secret. This is a plain SHA-256 of
//! the concatenation, not an HMAC. The formula is the one Zalo's Official Account webhook
//! guide gives, as quoted by integrators; check it against the Zalo developer console when
//! the webhook is registered.
//!
//! The body is hashed exactly as received: parse it only after the signature verifies.
//! Recipient ids (`recipient.id` is the customer's phone number for ZNS) are never read.

use chrono::{DateTime, Utc};
use hmac::digest::CtOutput;
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-zevent-signature";
/// The event a ZNS delivery report carries.
pub const DELIVERY_EVENT: &str = "user_received_message";

/// Why a Zalo webhook signature was refused (answer 401 / 403 and store nothing).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ZaloSignatureError {
    /// No signature header, or an empty one.
    #[error("missing X-ZEvent-Signature")]
    Missing,
    /// The header is not `mac=<64 hex digits>`.
    #[error("malformed X-ZEvent-Signature")]
    Malformed,
    /// The signature does not match the body.
    #[error("X-ZEvent-Signature does not match")]
    Mismatch,
}

/// Why a webhook body is not a ZNS delivery report.
#[derive(Debug, thiserror::Error)]
pub enum ZnsEventError {
    /// Not JSON, or not shaped like a Zalo event.
    #[error("not a Zalo webhook event")]
    Json(#[from] serde_json::Error),
    /// Another event (a follow, a user message, …): not a delivery report.
    #[error("Zalo event {event_name:?} is not a ZNS delivery report")]
    OtherEvent {
        /// The `event_name` as sent (cut to 64 characters).
        event_name: String,
    },
    /// A required field is missing or empty.
    #[error("Zalo event lacks `{0}`")]
    Missing(&'static str),
    /// A time is not a count of milliseconds since the epoch.
    #[error("Zalo event has an unreadable `{0}`")]
    BadTime(&'static str),
}

/// Checks `X-ZEvent-Signature` (`header`) against the raw `body`, constant time:
/// `mac=` followed by the hex SHA-256 of `app_id + body + timestamp + secret`, where `secret`
/// is the OA secret key and `timestamp` the body's `timestamp` field as sent. The `mac=`
/// prefix is optional and hex digits may be in either case.
pub fn verify_zalo_signature(
    app_id: &str,
    secret: &str,
    body: &str,
    timestamp: &str,
    header: &str,
) -> Result<(), ZaloSignatureError> {
    let header = header.trim();
    if header.is_empty() {
        return Err(ZaloSignatureError::Missing);
    }
    let hex_mac = match header.get(..4) {
        Some(prefix) if prefix.eq_ignore_ascii_case("mac=") => header[4..].trim(),
        _ => header,
    };
    let mut provided = [0u8; 32];
    hex::decode_to_slice(hex_mac, &mut provided).map_err(|_| ZaloSignatureError::Malformed)?;

    let expected = mac(app_id, secret, body, timestamp);
    // CtOutput compares in constant time (subtle), so the check leaks no prefix length.
    if CtOutput::<Sha256>::new(expected) == CtOutput::<Sha256>::new(provided.into()) {
        Ok(())
    } else {
        Err(ZaloSignatureError::Mismatch)
    }
}

/// The `X-ZEvent-Signature` value for a body (what Zalo sends; for tests and the local
/// simulator).
pub fn sign(app_id: &str, secret: &str, body: &str, timestamp: &str) -> String {
    format!("mac={}", hex::encode(mac(app_id, secret, body, timestamp)))
}

fn mac(app_id: &str, secret: &str, body: &str, timestamp: &str) -> sha2::digest::Output<Sha256> {
    Sha256::new()
        .chain_update(app_id.as_bytes())
        .chain_update(body.as_bytes())
        .chain_update(timestamp.as_bytes())
        .chain_update(secret.as_bytes())
        .finalize()
}

/// The body's `timestamp` field exactly as it enters the signature (Zalo sends milliseconds
/// as a string; a number is rendered as its digits).
pub fn event_timestamp(body: &str) -> Result<String, ZnsEventError> {
    #[derive(Deserialize)]
    struct Stamped {
        timestamp: Option<Millis>,
    }
    let stamped: Stamped = serde_json::from_str(body)?;
    match stamped.timestamp {
        Some(Millis::Text(text)) if !text.is_empty() => Ok(text),
        Some(Millis::Number(n)) => Ok(n.to_string()),
        _ => Err(ZnsEventError::Missing("timestamp")),
    }
}

/// A ZNS message reached the customer's phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZnsDelivery {
    /// Zalo's id of the message (answered when it was sent).
    pub msg_id: String,
    /// Our id passed as `tracking_id` when sending, if any.
    pub tracking_id: Option<String>,
    /// When it was delivered (`message.delivery_time`, else the event's `timestamp`).
    pub delivered_at: DateTime<Utc>,
}

/// Parses a `user_received_message` webhook body (verify its signature first).
pub fn parse_zns_delivery(body: &str) -> Result<ZnsDelivery, ZnsEventError> {
    let raw: ZaloEvent = serde_json::from_str(body)?;
    if raw.event_name != DELIVERY_EVENT {
        return Err(ZnsEventError::OtherEvent {
            event_name: raw.event_name.chars().take(64).collect(),
        });
    }
    let message = raw.message.ok_or(ZnsEventError::Missing("message"))?;
    let msg_id = message
        .msg_id
        .filter(|id| !id.is_empty())
        .ok_or(ZnsEventError::Missing("message.msg_id"))?;
    let delivered_at = match (message.delivery_time, raw.timestamp) {
        (Some(at), _) => at.instant("message.delivery_time")?,
        (None, Some(at)) => at.instant("timestamp")?,
        (None, None) => return Err(ZnsEventError::Missing("message.delivery_time")),
    };
    Ok(ZnsDelivery {
        msg_id,
        tracking_id: message.tracking_id.filter(|id| !id.is_empty()),
        delivered_at,
    })
}

/// Milliseconds since the epoch, as a string (what Zalo sends) or a number.
#[derive(Deserialize)]
#[serde(untagged)]
enum Millis {
    Text(String),
    Number(i64),
}

impl Millis {
    fn instant(&self, field: &'static str) -> Result<DateTime<Utc>, ZnsEventError> {
        let millis = match self {
            Millis::Text(text) => text
                .trim()
                .parse::<i64>()
                .map_err(|_| ZnsEventError::BadTime(field))?,
            Millis::Number(n) => *n,
        };
        DateTime::from_timestamp_millis(millis).ok_or(ZnsEventError::BadTime(field))
    }
}

/// A Zalo webhook call, as read after its signature verifies (the request body of
/// `POST /v1/tracking/zns`). Only the fields read are declared: `app_id`, `sender` and
/// `recipient` are skipped unread. The document states what a delivery report needs (an
/// event without them is answered 400 `invalid_body`).
#[derive(Deserialize, utoipa::ToSchema)]
pub struct ZaloEvent {
    /// The event; only `user_received_message` (a ZNS delivery report) is recorded.
    #[schema(pattern = "^user_received_message$", example = "user_received_message")]
    event_name: String,
    /// When Zalo sent the call, milliseconds since the epoch as digits; it enters the
    /// signature as sent.
    #[schema(value_type = String, required = true, pattern = "^[0-9]{1,15}$", example = "1795421733102")]
    timestamp: Option<Millis>,
    /// The message.
    #[schema(value_type = ZaloEventMessage, required = true)]
    message: Option<ZaloEventMessage>,
}

/// The `message` of a Zalo delivery report.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct ZaloEventMessage {
    /// Zalo's id of the message.
    #[schema(value_type = String, required = true, min_length = 1, example = "a3f1c9e2b7d84e6f9a0b1c2d3e4f5a6b")]
    msg_id: Option<String>,
    /// When the phone received it, milliseconds since the epoch as digits.
    #[schema(value_type = Option<String>, pattern = "^[0-9]{1,15}$", example = "1795421732871")]
    delivery_time: Option<Millis>,
    /// Nhịp's message id, passed as `tracking_id` when sending.
    #[schema(example = "01KAQ3V2J5N8W6Y4X0Z9B7C1D3")]
    tracking_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP_ID: &str = "4325126985412871245";
    const SECRET: &str = "oa-secret-key-for-tests";
    const BODY: &str = r#"{"app_id":"4325126985412871245","sender":{"id":"579745863508352884"},"recipient":{"id":"84912345678"},"event_name":"user_received_message","message":{"delivery_time":"1795421732871","msg_id":"a3f1c9e2b7d84e6f9a0b1c2d3e4f5a6b","tracking_id":"01KAQ3V2J5N8W6Y4X0Z9B7C1D3"},"timestamp":"1795421733102"}"#;

    #[test]
    fn the_signature_is_sha256_of_app_id_body_timestamp_secret() {
        let timestamp = event_timestamp(BODY).unwrap();
        assert_eq!(timestamp, "1795421733102");
        let concatenated = format!("{APP_ID}{BODY}{timestamp}{SECRET}");
        let header = format!(
            "mac={}",
            hex::encode(Sha256::digest(concatenated.as_bytes()))
        );
        assert_eq!(sign(APP_ID, SECRET, BODY, &timestamp), header);
        assert_eq!(
            verify_zalo_signature(APP_ID, SECRET, BODY, &timestamp, &header),
            Ok(())
        );
        // Bare hex, upper case and surrounding spaces are accepted too.
        let bare = header.trim_start_matches("mac=").to_ascii_uppercase();
        assert_eq!(
            verify_zalo_signature(APP_ID, SECRET, BODY, &timestamp, &format!(" MAC={bare} ")),
            Ok(())
        );
        assert_eq!(
            verify_zalo_signature(APP_ID, SECRET, BODY, &timestamp, &bare),
            Ok(())
        );
    }

    #[test]
    fn a_known_vector() {
        // app_id "a", body "{}", timestamp "1", secret "s": sha256("a{}1s").
        let header = "mac=07d54e356874159312132f9f5c768d906c557cbf5eb091e142e8e41472bcee7f";
        assert_eq!(sign("a", "s", "{}", "1"), header);
        assert_eq!(verify_zalo_signature("a", "s", "{}", "1", header), Ok(()));
    }

    #[test]
    fn forged_or_broken_signatures_are_refused() {
        let timestamp = event_timestamp(BODY).unwrap();
        let good = sign(APP_ID, SECRET, BODY, &timestamp);
        let tampered = BODY.replace("1795421732871", "1795421732872");
        assert_eq!(
            verify_zalo_signature(APP_ID, SECRET, &tampered, &timestamp, &good),
            Err(ZaloSignatureError::Mismatch)
        );
        assert_eq!(
            verify_zalo_signature(APP_ID, "wrong-secret", BODY, &timestamp, &good),
            Err(ZaloSignatureError::Mismatch)
        );
        assert_eq!(
            verify_zalo_signature("other-app", SECRET, BODY, &timestamp, &good),
            Err(ZaloSignatureError::Mismatch)
        );
        assert_eq!(
            verify_zalo_signature(APP_ID, SECRET, BODY, "1795421799999", &good),
            Err(ZaloSignatureError::Mismatch)
        );
        assert_eq!(
            verify_zalo_signature(APP_ID, SECRET, BODY, &timestamp, ""),
            Err(ZaloSignatureError::Missing)
        );
        for malformed in ["mac=", "mac=zz", &good[..good.len() - 2], "mac=é", "é"] {
            assert_eq!(
                verify_zalo_signature(APP_ID, SECRET, BODY, &timestamp, malformed),
                Err(ZaloSignatureError::Malformed),
                "{malformed}"
            );
        }
    }

    #[test]
    fn parses_a_delivery_report() {
        let delivery = parse_zns_delivery(BODY).unwrap();
        assert_eq!(
            delivery,
            ZnsDelivery {
                msg_id: "a3f1c9e2b7d84e6f9a0b1c2d3e4f5a6b".into(),
                tracking_id: Some("01KAQ3V2J5N8W6Y4X0Z9B7C1D3".into()),
                delivered_at: "2026-11-23T08:15:32.871Z".parse().unwrap(),
            }
        );
        assert!(!format!("{delivery:?}").contains("84912345678"));
    }

    #[test]
    fn numbers_and_missing_delivery_time_are_tolerated() {
        let body = r#"{"event_name":"user_received_message","timestamp":1795421733102,"message":{"msg_id":"m1"}}"#;
        assert_eq!(event_timestamp(body).unwrap(), "1795421733102");
        let delivery = parse_zns_delivery(body).unwrap();
        assert_eq!(delivery.tracking_id, None);
        assert_eq!(
            delivery.delivered_at,
            "2026-11-23T08:15:33.102Z".parse::<DateTime<Utc>>().unwrap()
        );
    }

    #[test]
    fn other_events_and_broken_bodies_are_errors() {
        assert!(matches!(
            parse_zns_delivery(r#"{"event_name":"follow","timestamp":"1"}"#),
            Err(ZnsEventError::OtherEvent { .. })
        ));
        assert!(matches!(
            parse_zns_delivery(
                r#"{"event_name":"user_received_message","message":{"delivery_time":"1"}}"#
            ),
            Err(ZnsEventError::Missing("message.msg_id"))
        ));
        assert!(matches!(
            parse_zns_delivery(
                r#"{"event_name":"user_received_message","message":{"msg_id":"m","delivery_time":"soon"}}"#
            ),
            Err(ZnsEventError::BadTime("message.delivery_time"))
        ));
        assert!(matches!(
            parse_zns_delivery(
                r#"{"event_name":"user_received_message","message":{"msg_id":"m"}}"#
            ),
            Err(ZnsEventError::Missing(_))
        ));
        assert!(matches!(
            parse_zns_delivery("<html>"),
            Err(ZnsEventError::Json(_))
        ));
        assert!(matches!(
            event_timestamp("{}"),
            Err(ZnsEventError::Missing("timestamp"))
        ));
    }
}
