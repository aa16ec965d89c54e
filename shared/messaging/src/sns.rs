//! SNS messages that arrive over HTTP(S), and the check of their signatures.
//!
//! SNS signs every message it POSTs to an HTTP(S) subscription: an RSA PKCS#1 v1.5 signature
//! (`SignatureVersion` "1" over SHA-1, "2" over SHA-256) of a canonical "string to sign", made
//! with the private key of the certificate at `SigningCertURL`. Anyone can POST to a public
//! endpoint, so a message is trusted only when
//! 1. `SigningCertURL` is an `https://sns.<region>.amazonaws.com[.cn]/….pem` address
//!    ([`validate_cert_url`]), checked before anything is fetched;
//! 2. its `Timestamp` is at most [`MAX_AGE`] old (and not more than [`MAX_FUTURE_SKEW`] ahead):
//!    a captured message cannot be replayed later;
//! 3. the certificate, answered for that address by the deployment's [`CertificateSource`]
//!    (`nhip-sns-https`: fetched over HTTPS and cached by URL, or provisioned beforehand for a
//!    network without a route to SNS), is within its validity period and its RSA key verifies the signature of the
//!    message's string to sign ([`verify_with_cert`]).
//!
//! [`verify`] runs all three. Callers answer 403 to a forged, unsigned, stale or otherwise
//! unverifiable message (any [`SnsError`]); [`SnsError::is_transient`] singles out a failed
//! certificate download, which a caller may answer with 503 so that SNS retries.
//!
//! Messages delivered to a Lambda function by an SNS subscription are authenticated by IAM
//! (the `aws_lambda_events` SNS event); this module is for HTTP(S) subscriptions.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, TimeDelta, Utc};
use rsa::RsaPublicKey;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePublicKey;
use rsa::signature::Verifier;
use serde::{Deserialize, Serialize};

use nhip_ports::certificates::trusted_cert_url;
pub use nhip_ports::certificates::{CertificateError, CertificateSource};
use x509_cert::Certificate;
use x509_cert::der::{DecodePem, Encode};

/// How old a message's `Timestamp` may be. An HTTP(S) delivery policy's total retry time is
/// capped at 3,600 s by SNS, so anything older is a replay.
pub const MAX_AGE: TimeDelta = TimeDelta::hours(1);
/// How far ahead of our clock a message's `Timestamp` may be (clock skew).
pub const MAX_FUTURE_SKEW: TimeDelta = TimeDelta::minutes(5);

/// A boxed error kept as the source of an [`SnsError`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why an SNS message was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum SnsError {
    /// The body is not an SNS message, or lacks a field its type must carry.
    #[error("malformed SNS message: {reason}")]
    Malformed {
        /// What is wrong.
        reason: &'static str,
        /// The underlying parse error, when there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// `SignatureVersion` is missing or neither "1" nor "2".
    #[error("unsupported SNS SignatureVersion {version:?}")]
    UnsupportedVersion {
        /// The version as sent (cut to 16 characters).
        version: String,
    },
    /// `SigningCertURL` is not an SNS certificate address.
    #[error("untrusted SigningCertURL: {reason}")]
    UntrustedCertUrl {
        /// Which rule the address breaks.
        reason: &'static str,
    },
    /// The signing certificate cannot be used: unparsable, not RSA, expired or not yet valid.
    #[error("unusable SNS signing certificate: {reason}")]
    CertificateInvalid {
        /// What is wrong.
        reason: &'static str,
        /// The underlying decoding error, when there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// The signature is missing, not base64, or does not match the message.
    #[error("SNS signature does not verify: {reason}")]
    BadSignature {
        /// What is wrong.
        reason: &'static str,
        /// The underlying error, when there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// The message's `Timestamp` is older than [`MAX_AGE`] or too far in the future.
    #[error("SNS message timestamp {timestamp} is outside the accepted window")]
    Stale {
        /// The message's timestamp.
        timestamp: DateTime<Utc>,
    },
    /// The signing certificate could not be downloaded.
    #[error("could not fetch the SNS signing certificate")]
    Fetch {
        /// The transport or HTTP status error.
        #[source]
        source: BoxError,
    },
}

impl SnsError {
    /// True for a failure that says nothing about the message (the certificate download
    /// failed): a caller may answer 503 so that SNS retries. Everything else answers 403.
    pub fn is_transient(&self) -> bool {
        matches!(self, SnsError::Fetch { .. })
    }

    fn malformed(reason: &'static str) -> Self {
        SnsError::Malformed {
            reason,
            source: None,
        }
    }

    fn certificate(reason: &'static str, source: impl Into<BoxError>) -> Self {
        SnsError::CertificateInvalid {
            reason,
            source: Some(source.into()),
        }
    }
}

impl From<CertificateError> for SnsError {
    fn from(error: CertificateError) -> Self {
        match error {
            CertificateError::Untrusted { reason } => SnsError::UntrustedCertUrl { reason },
            CertificateError::Invalid { reason, source } => {
                SnsError::CertificateInvalid { reason, source }
            }
            CertificateError::Fetch { source } => SnsError::Fetch { source },
        }
    }
}

/// The `Type` of an SNS message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum SnsKind {
    /// A message published to the topic.
    Notification,
    /// Sent once when the subscription is created: visit `SubscribeURL` to confirm it.
    SubscriptionConfirmation,
    /// Sent when the subscription is deleted.
    UnsubscribeConfirmation,
}

impl SnsKind {
    /// The name SNS uses (the value of `Type`).
    pub fn as_str(self) -> &'static str {
        match self {
            SnsKind::Notification => "Notification",
            SnsKind::SubscriptionConfirmation => "SubscriptionConfirmation",
            SnsKind::UnsubscribeConfirmation => "UnsubscribeConfirmation",
        }
    }
}

/// An SNS message as POSTed to an HTTP(S) subscription (the JSON body), field names as SNS
/// sends them. The `…Url` spellings of Lambda's SNS records are accepted too.
///
/// `Timestamp` is kept as sent: the signature covers its exact text. `Debug` shows the size of
/// `Message` and `Subject`, not their text: an SES record names the recipient.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct SnsMessage {
    /// `Type`.
    #[serde(rename = "Type")]
    pub kind: SnsKind,
    /// `MessageId`: unique per published message (SNS may deliver it more than once).
    pub message_id: String,
    /// `Token` (confirmations only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// `TopicArn`.
    pub topic_arn: String,
    /// `Subject`, when the publisher gave one (notifications only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// `Message`: the payload (for SES events, their JSON record as a string).
    #[schema(
        example = r#"{"eventType":"Delivery","mail":{"timestamp":"2026-11-23T08:15:30.123Z","messageId":"0100019ab3c4d5e6-nhip-example","destination":["khachhang@example.com"]},"delivery":{"timestamp":"2026-11-23T08:15:31.456Z","recipients":["khachhang@example.com"]}}"#
    )]
    pub message: String,
    /// `Timestamp` (ISO 8601, UTC), as sent.
    #[schema(format = DateTime)]
    pub timestamp: String,
    /// `SignatureVersion`: "1" (SHA-1) or "2" (SHA-256); empty when missing.
    #[serde(default)]
    #[schema(pattern = "^[12]?$")]
    pub signature_version: String,
    /// `Signature`, base64; empty when missing.
    #[serde(default)]
    pub signature: String,
    /// `SigningCertURL`; empty when missing.
    #[serde(rename = "SigningCertURL", alias = "SigningCertUrl", default)]
    pub signing_cert_url: String,
    /// `SubscribeURL` (confirmations only).
    #[serde(
        rename = "SubscribeURL",
        alias = "SubscribeUrl",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub subscribe_url: Option<String>,
    /// `UnsubscribeURL` (notifications).
    #[serde(
        rename = "UnsubscribeURL",
        alias = "UnsubscribeUrl",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub unsubscribe_url: Option<String>,
}

impl std::fmt::Debug for SnsMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let size = |text: &str| format!("<{} bytes>", text.len());
        f.debug_struct("SnsMessage")
            .field("kind", &self.kind)
            .field("message_id", &self.message_id)
            .field("topic_arn", &self.topic_arn)
            .field("subject", &self.subject.as_deref().map(size))
            .field("message", &size(&self.message))
            .field("timestamp", &self.timestamp)
            .field("signature_version", &self.signature_version)
            .field("signing_cert_url", &self.signing_cert_url)
            .finish_non_exhaustive()
    }
}

impl SnsMessage {
    /// Parses the JSON body of an SNS HTTP(S) delivery.
    pub fn from_json(body: &str) -> Result<Self, SnsError> {
        serde_json::from_str(body).map_err(|error| SnsError::Malformed {
            reason: "the body is not an SNS message",
            source: Some(Box::new(error)),
        })
    }

    /// The message's `Timestamp`.
    pub fn sent_at(&self) -> Result<DateTime<Utc>, SnsError> {
        DateTime::parse_from_rfc3339(&self.timestamp)
            .map(|at| at.with_timezone(&Utc))
            .map_err(|error| SnsError::Malformed {
                reason: "Timestamp is not an ISO 8601 instant",
                source: Some(Box::new(error)),
            })
    }
}

/// The canonical string SNS signs: for a notification `Message`, `MessageId`, `Subject` (only
/// when present), `Timestamp`, `TopicArn`, `Type`; for a (un)subscribe confirmation
/// `Message`, `MessageId`, `SubscribeURL`, `Timestamp`, `Token`, `TopicArn`, `Type`; each as
/// `"<name>\n<value>\n"`.
pub fn string_to_sign(msg: &SnsMessage) -> Result<String, SnsError> {
    let mut fields: Vec<(&str, &str)> =
        vec![("Message", &msg.message), ("MessageId", &msg.message_id)];
    match msg.kind {
        SnsKind::Notification => {
            if let Some(subject) = &msg.subject {
                fields.push(("Subject", subject));
            }
            fields.push(("Timestamp", &msg.timestamp));
        }
        SnsKind::SubscriptionConfirmation | SnsKind::UnsubscribeConfirmation => {
            let subscribe_url = msg
                .subscribe_url
                .as_deref()
                .ok_or_else(|| SnsError::malformed("a confirmation without SubscribeURL"))?;
            let token = msg
                .token
                .as_deref()
                .ok_or_else(|| SnsError::malformed("a confirmation without Token"))?;
            fields.push(("SubscribeURL", subscribe_url));
            fields.push(("Timestamp", &msg.timestamp));
            fields.push(("Token", token));
        }
    }
    fields.push(("TopicArn", &msg.topic_arn));
    fields.push(("Type", msg.kind.as_str()));

    let mut out = String::with_capacity(fields.iter().map(|(n, v)| n.len() + v.len() + 2).sum());
    for (name, value) in fields {
        out.push_str(name);
        out.push('\n');
        out.push_str(value);
        out.push('\n');
    }
    Ok(out)
}

/// Checks that `url` is an SNS signing-certificate address: `https`, host exactly
/// `sns.<region>.amazonaws.com` or `sns.<region>.amazonaws.com.cn`, no user info, no port
/// other than 443, no query or fragment, a path ending in `.pem`.
pub fn validate_cert_url(url: &str) -> Result<(), SnsError> {
    trusted_cert_url(url).map(|_| ()).map_err(SnsError::from)
}

/// Rejects a message whose `Timestamp` is older than [`MAX_AGE`] or more than
/// [`MAX_FUTURE_SKEW`] ahead of `now`.
pub fn check_fresh(msg: &SnsMessage, now: DateTime<Utc>) -> Result<(), SnsError> {
    let sent_at = msg.sent_at()?;
    if now.signed_duration_since(sent_at) > MAX_AGE
        || sent_at.signed_duration_since(now) > MAX_FUTURE_SKEW
    {
        return Err(SnsError::Stale { timestamp: sent_at });
    }
    Ok(())
}

/// Verifies `msg` against the signing certificate `cert_pem` (already fetched from its
/// trusted `SigningCertURL`) at instant `now`: the message is fresh ([`check_fresh`]), the
/// certificate is valid at `now` and holds an RSA key, and the signature (version "1":
/// PKCS#1 v1.5 with SHA-1, "2": with SHA-256) matches [`string_to_sign`].
///
/// The URL is not checked here; [`verify`] does that before fetching.
pub fn verify_with_cert(
    msg: &SnsMessage,
    cert_pem: &str,
    now: DateTime<Utc>,
) -> Result<(), SnsError> {
    let version = SignatureVersion::of(msg)?;
    check_fresh(msg, now)?;
    let signature = decode_signature(&msg.signature)?;
    let public_key = certificate_key(cert_pem, now)?;
    let signed = string_to_sign(msg)?;
    let outcome = match version {
        SignatureVersion::Sha1 => {
            VerifyingKey::<sha1::Sha1>::new(public_key).verify(signed.as_bytes(), &signature)
        }
        SignatureVersion::Sha256 => {
            VerifyingKey::<sha2::Sha256>::new(public_key).verify(signed.as_bytes(), &signature)
        }
    };
    outcome.map_err(|error| SnsError::BadSignature {
        reason: "does not match the message",
        source: Some(Box::new(error)),
    })
}

/// Verifies an SNS message end to end: the version is supported, `SigningCertURL` is an SNS
/// address, the message is fresh, and the signature verifies with the certificate `source`
/// answers for that address. Cheap checks run first, so a forged or replayed message costs
/// no download.
pub async fn verify(
    msg: &SnsMessage,
    source: &dyn CertificateSource,
    now: DateTime<Utc>,
) -> Result<(), SnsError> {
    SignatureVersion::of(msg)?;
    validate_cert_url(&msg.signing_cert_url)?;
    check_fresh(msg, now)?;
    if msg.signature.is_empty() {
        return Err(unsigned());
    }
    let pem = source.pem(&msg.signing_cert_url).await?;
    verify_with_cert(msg, &pem, now)
}

#[derive(Debug, Clone, Copy)]
enum SignatureVersion {
    Sha1,
    Sha256,
}

impl SignatureVersion {
    fn of(msg: &SnsMessage) -> Result<Self, SnsError> {
        match msg.signature_version.as_str() {
            "1" => Ok(SignatureVersion::Sha1),
            "2" => Ok(SignatureVersion::Sha256),
            other => Err(SnsError::UnsupportedVersion {
                version: other.chars().take(16).collect(),
            }),
        }
    }
}

fn unsigned() -> SnsError {
    SnsError::BadSignature {
        reason: "the message carries no signature",
        source: None,
    }
}

fn decode_signature(encoded: &str) -> Result<Signature, SnsError> {
    if encoded.is_empty() {
        return Err(unsigned());
    }
    let bytes = BASE64
        .decode(encoded)
        .map_err(|error| SnsError::BadSignature {
            reason: "not base64",
            source: Some(Box::new(error)),
        })?;
    Signature::try_from(bytes.as_slice()).map_err(|error| SnsError::BadSignature {
        reason: "not an RSA signature",
        source: Some(Box::new(error)),
    })
}

/// The RSA public key of the PEM certificate, if the certificate is valid at `now`.
fn certificate_key(cert_pem: &str, now: DateTime<Utc>) -> Result<RsaPublicKey, SnsError> {
    let cert = Certificate::from_pem(cert_pem.as_bytes())
        .map_err(|error| SnsError::certificate("not a PEM X.509 certificate", error))?;
    let validity = &cert.tbs_certificate.validity;
    let not_before = instant(validity.not_before.to_unix_duration())?;
    let not_after = instant(validity.not_after.to_unix_duration())?;
    if now < not_before {
        return Err(SnsError::CertificateInvalid {
            reason: "not valid yet",
            source: None,
        });
    }
    if now > not_after {
        return Err(SnsError::CertificateInvalid {
            reason: "expired",
            source: None,
        });
    }
    let spki = cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|error| SnsError::certificate("unreadable public key", error))?;
    RsaPublicKey::from_public_key_der(&spki)
        .map_err(|error| SnsError::certificate("not an RSA public key", error))
}

fn instant(since_epoch: Duration) -> Result<DateTime<Utc>, SnsError> {
    i64::try_from(since_epoch.as_secs())
        .ok()
        .and_then(|secs| DateTime::from_timestamp(secs, 0))
        .ok_or(SnsError::CertificateInvalid {
            reason: "validity period out of range",
            source: None,
        })
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use rsa::RsaPrivateKey;
    use rsa::pkcs1::EncodeRsaPublicKey;
    use rsa::pkcs1v15::SigningKey;
    use rsa::rand_core::{CryptoRng, RngCore};
    use rsa::signature::{SignatureEncoding, Signer};
    use sha2::Digest;

    use std::collections::HashMap;

    use async_trait::async_trait;

    use super::*;

    const CERT_URL: &str = "https://sns.ap-southeast-1.amazonaws.com/SimpleNotificationService-0123456789abcdef0123456789abcdef.pem";

    fn now() -> DateTime<Utc> {
        "2026-11-23T08:30:00Z".parse().expect("test instant")
    }

    /// A deterministic CSPRNG stand-in (SHA-256 in counter mode): keys are the same on every
    /// run and no entropy source is needed.
    struct CounterRng {
        counter: u64,
        block: [u8; 32],
        used: usize,
    }

    impl CounterRng {
        fn new() -> Self {
            Self {
                counter: 0,
                block: [0; 32],
                used: 32,
            }
        }
    }

    impl RngCore for CounterRng {
        fn next_u32(&mut self) -> u32 {
            let mut b = [0; 4];
            self.fill_bytes(&mut b);
            u32::from_le_bytes(b)
        }
        fn next_u64(&mut self) -> u64 {
            let mut b = [0; 8];
            self.fill_bytes(&mut b);
            u64::from_le_bytes(b)
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            for byte in dest {
                if self.used == self.block.len() {
                    let mut hasher = sha2::Sha256::new();
                    hasher.update(b"nhip sns test key");
                    hasher.update(self.counter.to_le_bytes());
                    self.block = hasher.finalize().into();
                    self.counter += 1;
                    self.used = 0;
                }
                *byte = self.block[self.used];
                self.used += 1;
            }
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rsa::rand_core::Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }

    impl CryptoRng for CounterRng {}

    /// Lets rcgen sign the test certificate with an `rsa` key (no ring or aws-lc needed).
    struct RsaSigner {
        key: RsaPrivateKey,
        public_pkcs1: Vec<u8>,
    }

    impl rcgen::PublicKeyData for RsaSigner {
        fn der_bytes(&self) -> &[u8] {
            &self.public_pkcs1
        }
        fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
            &rcgen::PKCS_RSA_SHA256
        }
    }

    impl rcgen::SigningKey for RsaSigner {
        fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
            Ok(SigningKey::<sha2::Sha256>::new(self.key.clone())
                .sign(msg)
                .to_vec())
        }
    }

    struct TestPki {
        signer: RsaSigner,
        cert_pem: String,
    }

    /// One key for the whole test binary: RSA key generation is slow in a debug build.
    fn pki() -> &'static TestPki {
        static PKI: OnceLock<TestPki> = OnceLock::new();
        PKI.get_or_init(|| {
            let key = RsaPrivateKey::new(&mut CounterRng::new(), 2048).expect("test key");
            let public_pkcs1 = key
                .to_public_key()
                .to_pkcs1_der()
                .expect("public key DER")
                .as_bytes()
                .to_vec();
            let signer = RsaSigner { key, public_pkcs1 };
            let cert_pem = certificate(&signer, (2026, 1, 1), (2027, 1, 1));
            TestPki { signer, cert_pem }
        })
    }

    fn certificate(signer: &RsaSigner, from: (i32, u8, u8), until: (i32, u8, u8)) -> String {
        let mut params = rcgen::CertificateParams::new(vec!["sns.amazonaws.com".to_owned()])
            .expect("certificate params");
        params.serial_number = Some(rcgen::SerialNumber::from(0x5e_0001_u64));
        params.not_before = rcgen::date_time_ymd(from.0, from.1, from.2);
        params.not_after = rcgen::date_time_ymd(until.0, until.1, until.2);
        params.self_signed(signer).expect("self-signed").pem()
    }

    fn notification(subject: Option<&str>) -> SnsMessage {
        SnsMessage {
            kind: SnsKind::Notification,
            message_id: "5b1e7f0c-6f0e-5a8a-9d3c-2f4b6a8c0e11".to_owned(),
            token: None,
            topic_arn: "arn:aws:sns:ap-southeast-1:123456789012:nhip-ses-events".to_owned(),
            subject: subject.map(str::to_owned),
            message: r#"{"eventType":"Delivery","mail":{"messageId":"x"}}"#.to_owned(),
            timestamp: "2026-11-23T08:15:31.456Z".to_owned(),
            signature_version: String::new(),
            signature: String::new(),
            signing_cert_url: CERT_URL.to_owned(),
            subscribe_url: None,
            unsubscribe_url: Some(
                "https://sns.ap-southeast-1.amazonaws.com/?Action=Unsubscribe".to_owned(),
            ),
        }
    }

    fn sign(mut msg: SnsMessage, version: &str) -> SnsMessage {
        let key = pki().signer.key.clone();
        let data = string_to_sign(&msg).expect("string to sign");
        let signature = match version {
            "1" => SigningKey::<sha1::Sha1>::new(key)
                .sign(data.as_bytes())
                .to_vec(),
            _ => SigningKey::<sha2::Sha256>::new(key)
                .sign(data.as_bytes())
                .to_vec(),
        };
        msg.signature_version = version.to_owned();
        msg.signature = BASE64.encode(signature);
        msg
    }

    #[test]
    fn string_to_sign_of_a_notification_without_subject() {
        let msg = notification(None);
        assert_eq!(
            string_to_sign(&msg).unwrap(),
            "Message\n{\"eventType\":\"Delivery\",\"mail\":{\"messageId\":\"x\"}}\n\
             MessageId\n5b1e7f0c-6f0e-5a8a-9d3c-2f4b6a8c0e11\n\
             Timestamp\n2026-11-23T08:15:31.456Z\n\
             TopicArn\narn:aws:sns:ap-southeast-1:123456789012:nhip-ses-events\n\
             Type\nNotification\n"
        );
    }

    #[test]
    fn string_to_sign_puts_the_subject_between_message_id_and_timestamp() {
        let msg = notification(Some("Amazon SES Email Event Notification"));
        assert_eq!(
            string_to_sign(&msg).unwrap(),
            "Message\n{\"eventType\":\"Delivery\",\"mail\":{\"messageId\":\"x\"}}\n\
             MessageId\n5b1e7f0c-6f0e-5a8a-9d3c-2f4b6a8c0e11\n\
             Subject\nAmazon SES Email Event Notification\n\
             Timestamp\n2026-11-23T08:15:31.456Z\n\
             TopicArn\narn:aws:sns:ap-southeast-1:123456789012:nhip-ses-events\n\
             Type\nNotification\n"
        );
    }

    const CONFIRMATION: &str = r#"{
        "Type" : "SubscriptionConfirmation",
        "MessageId" : "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
        "Token" : "2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92768dd60a747ba6f3beb71854e285d6ad02428b09ceece29417f1f02d609c582afbacc99c583a916b9981dd2728f4ae6fdb82efd087cc3b7849e05798d2d2785c03b0879594eeac82c01f235d0e717736",
        "TopicArn" : "arn:aws:sns:ap-southeast-1:123456789012:nhip-ses-events",
        "Message" : "You have chosen to subscribe to the topic arn:aws:sns:ap-southeast-1:123456789012:nhip-ses-events.\nTo confirm the subscription, visit the SubscribeURL included in this message.",
        "SubscribeURL" : "https://sns.ap-southeast-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:ap-southeast-1:123456789012:nhip-ses-events&Token=2336412f37",
        "Timestamp" : "2026-11-23T08:00:00.000Z",
        "SignatureVersion" : "1",
        "Signature" : "EXAMPLEpH+DcEwjAPg8O9mY8dReBSwksfg2S7WKQcikcNKWLQjwu6A4VbeS0QHVCkhRS7fUQvi2egU3N858fiTDN6bkkOxYDVrY0Ad8L10Hs3zH81mtnPk5uvvolIC1CXGu43obcgFxeL3khZl8IKvO61GWB6jI9b5+gLPoBc1Q=",
        "SigningCertURL" : "https://sns.ap-southeast-1.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem"
    }"#;

    #[test]
    fn string_to_sign_of_a_confirmation() {
        let msg = SnsMessage::from_json(CONFIRMATION).expect("confirmation parses");
        assert_eq!(msg.kind, SnsKind::SubscriptionConfirmation);
        let expected = format!(
            "Message\n{}\nMessageId\n{}\nSubscribeURL\n{}\nTimestamp\n{}\nToken\n{}\n\
             TopicArn\n{}\nType\nSubscriptionConfirmation\n",
            msg.message,
            msg.message_id,
            msg.subscribe_url.as_deref().unwrap(),
            msg.timestamp,
            msg.token.as_deref().unwrap(),
            msg.topic_arn,
        );
        assert_eq!(string_to_sign(&msg).unwrap(), expected);
        // The JSON escape `\n` in Message is a real newline in the string to sign.
        assert!(expected.contains("nhip-ses-events.\nTo confirm"));
    }

    #[test]
    fn a_confirmation_without_token_is_malformed() {
        let mut msg = SnsMessage::from_json(CONFIRMATION).unwrap();
        msg.token = None;
        assert!(matches!(
            string_to_sign(&msg),
            Err(SnsError::Malformed { .. })
        ));
    }

    #[test]
    fn signature_versions_1_and_2_verify() {
        for version in ["1", "2"] {
            let msg = sign(notification(None), version);
            verify_with_cert(&msg, &pki().cert_pem, now())
                .unwrap_or_else(|e| panic!("version {version}: {e}"));
            let with_subject = sign(notification(Some("Thông báo")), version);
            verify_with_cert(&with_subject, &pki().cert_pem, now()).unwrap();
        }
    }

    #[test]
    fn a_changed_message_does_not_verify() {
        for version in ["1", "2"] {
            let mut msg = sign(notification(None), version);
            msg.message = msg.message.replacen("Delivery", "Dalivery", 1);
            assert!(matches!(
                verify_with_cert(&msg, &pki().cert_pem, now()),
                Err(SnsError::BadSignature {
                    source: Some(_),
                    ..
                })
            ));
        }
    }

    #[test]
    fn a_signature_of_the_other_version_does_not_verify() {
        let mut msg = sign(notification(None), "1");
        msg.signature_version = "2".to_owned();
        assert!(matches!(
            verify_with_cert(&msg, &pki().cert_pem, now()),
            Err(SnsError::BadSignature { .. })
        ));
    }

    #[test]
    fn an_unsigned_message_is_rejected() {
        let mut msg = sign(notification(None), "2");
        msg.signature.clear();
        assert!(matches!(
            verify_with_cert(&msg, &pki().cert_pem, now()),
            Err(SnsError::BadSignature { source: None, .. })
        ));
        msg.signature = "not base64!".to_owned();
        assert!(matches!(
            verify_with_cert(&msg, &pki().cert_pem, now()),
            Err(SnsError::BadSignature { .. })
        ));
    }

    #[test]
    fn unknown_or_missing_versions_are_unsupported() {
        let mut msg = sign(notification(None), "2");
        for version in ["3", "", "02", " 2"] {
            msg.signature_version = version.to_owned();
            assert!(matches!(
                verify_with_cert(&msg, &pki().cert_pem, now()),
                Err(SnsError::UnsupportedVersion { .. })
            ));
        }
    }

    #[test]
    fn a_stale_or_future_message_is_rejected() {
        let mut old = notification(None);
        old.timestamp = "2026-11-23T07:29:59.999Z".to_owned();
        let old = sign(old, "2");
        assert!(matches!(
            verify_with_cert(&old, &pki().cert_pem, now()),
            Err(SnsError::Stale { .. })
        ));
        let mut future = notification(None);
        future.timestamp = "2026-11-23T08:40:00.000Z".to_owned();
        let future = sign(future, "2");
        assert!(matches!(
            verify_with_cert(&future, &pki().cert_pem, now()),
            Err(SnsError::Stale { .. })
        ));
        let mut garbage = notification(None);
        garbage.timestamp = "yesterday".to_owned();
        assert!(matches!(
            check_fresh(&garbage, now()),
            Err(SnsError::Malformed { .. })
        ));
    }

    #[test]
    fn an_expired_or_foreign_certificate_is_rejected() {
        let msg = sign(notification(None), "2");
        let expired = certificate(&pki().signer, (2025, 1, 1), (2026, 11, 1));
        assert!(matches!(
            verify_with_cert(&msg, &expired, now()),
            Err(SnsError::CertificateInvalid {
                reason: "expired",
                ..
            })
        ));
        let early = certificate(&pki().signer, (2026, 12, 1), (2027, 12, 1));
        assert!(matches!(
            verify_with_cert(&msg, &early, now()),
            Err(SnsError::CertificateInvalid { .. })
        ));
        assert!(matches!(
            verify_with_cert(
                &msg,
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                now()
            ),
            Err(SnsError::CertificateInvalid { .. })
        ));
    }

    #[test]
    fn cert_urls() {
        let trusted = [
            CERT_URL,
            "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-9c6465fa7f48f5cacd23014631ec1136.pem",
            "https://sns.us-gov-west-1.amazonaws.com/SimpleNotificationService-a.pem",
            "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-b.pem",
            "https://sns.ap-southeast-1.amazonaws.com:443/x.pem",
        ];
        for url in trusted {
            assert!(validate_cert_url(url).is_ok(), "{url} should be trusted");
        }
        let untrusted = [
            "",
            "http://sns.us-east-1.amazonaws.com/x.pem",
            "https://sns.us-east-1.amazonaws.com.evil.com/x.pem",
            "https://evil.com/sns.us-east-1.amazonaws.com/x.pem",
            "https://sns.us-east-1.amazonaws.com@evil.com/x.pem",
            "https://user:pass@sns.us-east-1.amazonaws.com/x.pem",
            "https://sns.us-east-1.amazonaws.com:8443/x.pem",
            "https://sns.us-east-1.amazonaws.com./x.pem",
            "https://evilsns.us-east-1.amazonaws.com/x.pem",
            "https://sns.evil.amazonaws.com/x.pem",
            "https://sns.us-east-1.evil.amazonaws.com/x.pem",
            "https://sqs.us-east-1.amazonaws.com/x.pem",
            "https://sns.us-east-1.amazonaws.com/x.pem?a=.pem",
            "https://sns.us-east-1.amazonaws.com/x.pem#frag",
            "https://sns.us-east-1.amazonaws.com/x.txt",
            "https://sns.us-east-1.amazonaws.com/.pem",
            "https://sns.us-east-1.amazonaws.com",
            "https://sns.us-east-1.amazonaws.com\t.evil.com/x.pem",
            "https://sns.us-east-1.amazonaws.com%2eevil.com/x.pem",
            "https://sns.us-east-1.amazonaws.co\u{ad}m/x.pem",
            "https://52.94.0.1/x.pem",
            "file:///etc/sns.us-east-1.amazonaws.com.pem",
            "//sns.us-east-1.amazonaws.com/x.pem",
        ];
        for url in untrusted {
            assert!(
                matches!(
                    validate_cert_url(url),
                    Err(SnsError::UntrustedCertUrl { .. })
                ),
                "{url:?} should be refused"
            );
        }
    }

    /// Answers certificates from a map and counts the calls.
    struct StubCertificates {
        pems: HashMap<String, String>,
        calls: AtomicUsize,
    }

    impl StubCertificates {
        fn new() -> Self {
            let pems = HashMap::from([(CERT_URL.to_owned(), pki().cert_pem.clone())]);
            Self {
                pems,
                calls: AtomicUsize::new(0),
            }
        }
    }

    #[async_trait]
    impl CertificateSource for StubCertificates {
        async fn pem(&self, url: &str) -> Result<String, CertificateError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            trusted_cert_url(url)?;
            self.pems
                .get(url)
                .cloned()
                .ok_or_else(|| CertificateError::Fetch {
                    source: "404 Not Found".into(),
                })
        }

        async fn confirm(&self, subscribe_url: &str) -> Result<(), CertificateError> {
            nhip_ports::certificates::trusted_subscribe_url(subscribe_url).map(|_| ())
        }
    }

    #[tokio::test]
    async fn verify_fetches_the_certificate_and_checks_everything() {
        let source = StubCertificates::new();
        let msg = sign(notification(None), "2");
        verify(&msg, &source, now()).await.expect("genuine message");
        assert_eq!(source.calls.load(Ordering::SeqCst), 1);

        let mut forged = msg.clone();
        forged.message.push(' ');
        assert!(matches!(
            verify(&forged, &source, now()).await,
            Err(SnsError::BadSignature { .. })
        ));

        let mut elsewhere = msg.clone();
        elsewhere.signing_cert_url =
            "https://sns.ap-southeast-1.amazonaws.com.evil.com/x.pem".to_owned();
        let mut unsigned = msg.clone();
        unsigned.signature.clear();
        let mut v3 = msg.clone();
        v3.signature_version = "3".to_owned();
        let calls = source.calls.load(Ordering::SeqCst);
        assert!(matches!(
            verify(&elsewhere, &source, now()).await,
            Err(SnsError::UntrustedCertUrl { .. })
        ));
        assert!(matches!(
            verify(&msg, &source, now() + TimeDelta::hours(2)).await,
            Err(SnsError::Stale { .. })
        ));
        assert!(matches!(
            verify(&unsigned, &source, now()).await,
            Err(SnsError::BadSignature { .. })
        ));
        assert!(matches!(
            verify(&v3, &source, now()).await,
            Err(SnsError::UnsupportedVersion { .. })
        ));
        assert_eq!(
            source.calls.load(Ordering::SeqCst),
            calls,
            "cheap checks run before any download"
        );

        let mut unknown = msg.clone();
        unknown.signing_cert_url =
            "https://sns.ap-southeast-1.amazonaws.com/SimpleNotificationService-unknown.pem"
                .to_owned();
        let error = verify(&unknown, &source, now()).await.unwrap_err();
        assert!(error.is_transient(), "{error}");
    }

    #[test]
    fn parses_an_http_delivery_and_a_lambda_record_alike() {
        let http = SnsMessage::from_json(
            r#"{"Type":"Notification","MessageId":"m","TopicArn":"t","Message":"{}","Timestamp":"2026-11-23T08:15:31.456Z","SignatureVersion":"1","Signature":"c2ln","SigningCertURL":"u","UnsubscribeURL":"x"}"#,
        )
        .unwrap();
        let lambda = SnsMessage::from_json(
            r#"{"Type":"Notification","MessageId":"m","TopicArn":"t","Subject":null,"Message":"{}","Timestamp":"2026-11-23T08:15:31.456Z","SignatureVersion":"1","Signature":"c2ln","SigningCertUrl":"u","UnsubscribeUrl":"x","MessageAttributes":{}}"#,
        )
        .unwrap();
        assert_eq!(http, lambda);
        assert!(format!("{http:?}").contains(r#"message: "<2 bytes>""#));
        assert!(matches!(
            SnsMessage::from_json(r#"{"Type":"Surprise"}"#),
            Err(SnsError::Malformed { .. })
        ));
    }
}
