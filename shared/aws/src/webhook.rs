//! `WebhookChannel`: messages for other OTT bridges (Messenger, Viber, WhatsApp…) posted as
//! signed JSON to one webhook, plus the HTTP client the HTTPS channels share.
//!
//! The request body is `{"message_id","bridge","recipient","text"}`. It is signed like the
//! call centre's webhooks into Nhịp (`nhip_intake::telephony`, not a dependency of this crate): `X-Nhip-Timestamp` carries the
//! unix seconds of signing and `X-Nhip-Signature` is `sha256=` and the hex HMAC-SHA256 of
//! `"<timestamp>.<body>"` under the shared secret, so the bridge can refuse forgeries and
//! replays.
//!
//! Answers: 2xx accepts the message, with the provider id from the response's `id` field
//! when there is one and Nhịp's message id otherwise; 429 is `Throttled`; any other 4xx is
//! `Rejected`; 5xx, redirects, timeouts (10 s) and connection failures are `Unavailable`.
//! Without a configured URL and secret the channel refuses every message, naming the
//! variable.

use crate::lazy::Lazy;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use nhip_ports::channel::{Accepted, Channel, ChannelError, Envelope, Outgoing, OutgoingWebhook};
use serde::Serialize;
use sha2::Sha256;

/// How long a provider call may take, connection included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The header carrying the signing instant, unix seconds.
pub const TIMESTAMP_HEADER: &str = "X-Nhip-Timestamp";
/// The header carrying `sha256=<hex HMAC>`.
pub const SIGNATURE_HEADER: &str = "X-Nhip-Signature";

/// The HTTP client of the HTTPS channels (Zalo ZNS, the webhook): rustls, a 10 s timeout,
/// no redirects (a signed POST is not replayed to another address). Built on the first
/// message through it ([`crate::lazy`]), and shared by every clone.
///
/// # Panics
/// On first use, if the TLS backend cannot be initialised, as `reqwest::Client::new` does.
pub fn http_client() -> Lazy<reqwest::Client> {
    crate::lazy::on_first_use(|| {
        reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(REQUEST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("nhip/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the rustls TLS backend initialises")
    })
}

/// Where the webhook posts and the secret it signs with.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookTarget {
    /// The bridge's URL.
    pub url: String,
    /// The shared signing secret (at least 32 bytes, checked by the configuration).
    pub secret: Vec<u8>,
}

impl fmt::Debug for WebhookTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookTarget")
            .field("url", &self.url)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Messages for OTT bridges through one signed webhook.
#[derive(Debug, Clone)]
pub struct WebhookChannel {
    http: Lazy<reqwest::Client>,
    target: Option<WebhookTarget>,
}

/// The body posted for one message.
#[derive(Serialize)]
struct Body<'a> {
    message_id: &'a str,
    bridge: &'a str,
    recipient: &'a str,
    text: &'a str,
}

impl WebhookChannel {
    /// Posts to `target` through `http` (see [`http_client`]); with `None` every message is
    /// refused as not configured.
    pub fn new(http: Lazy<reqwest::Client>, target: Option<WebhookTarget>) -> Self {
        Self { http, target }
    }

    async fn post(
        &self,
        message_id: &str,
        message: &OutgoingWebhook,
    ) -> Result<Accepted, ChannelError> {
        let Some(target) = &self.target else {
            return Err(ChannelError::Rejected {
                reason: "the webhook channel is not configured (NHIP_WEBHOOK_URL)".into(),
            });
        };
        let body = serde_json::to_vec(&Body {
            message_id,
            bridge: &message.bridge,
            recipient: &message.recipient,
            text: &message.text,
        })
        .map_err(|e| ChannelError::NotSent {
            source: Box::new(e),
        })?;
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs()
            .to_string();
        let signature = sign(&target.secret, &timestamp, &body);
        let response = self
            .http
            .post(&target.url)
            .timeout(REQUEST_TIMEOUT)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(TIMESTAMP_HEADER, &timestamp)
            .header(SIGNATURE_HEADER, signature)
            .body(body)
            .send()
            .await
            .map_err(unavailable)?;
        let status = response.status();
        if status.is_success() {
            // The id is optional; an unreadable or non-JSON body still means accepted.
            let answer: Option<serde_json::Value> = response.json().await.ok();
            let provider_id = answer
                .as_ref()
                .and_then(|a| a.get("id"))
                .and_then(|id| match id {
                    serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
                    serde_json::Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .unwrap_or_else(|| message_id.to_owned());
            return Ok(Accepted { provider_id });
        }
        let error = HttpStatusError {
            service: "webhook",
            status: status.as_u16(),
        };
        Err(match status.as_u16() {
            429 => ChannelError::Throttled {
                source: Box::new(error),
            },
            400..=499 => ChannelError::Rejected {
                reason: format!("the webhook answered HTTP {}", status.as_u16()),
            },
            // The bridge answered an error of its own: it did not take the message.
            500..=599 => ChannelError::NotSent {
                source: Box::new(error),
            },
            _ => ChannelError::Unavailable {
                source: Box::new(error),
            },
        })
    }
}

#[async_trait]
impl Channel for WebhookChannel {
    fn name(&self) -> &'static str {
        "webhook"
    }

    async fn send(&self, envelope: &Envelope) -> Result<Accepted, ChannelError> {
        match &envelope.outgoing {
            Outgoing::Webhook(message) => self.post(&envelope.message_id, message).await,
            other => Err(ChannelError::Rejected {
                reason: format!(
                    "the webhook channel carries bridge messages, not {}",
                    other.kind()
                ),
            }),
        }
    }
}

/// `sha256=` and the hex HMAC-SHA256 of `"<timestamp>.<body>"` under `secret`: the value of
/// [`SIGNATURE_HEADER`].
pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// A provider answered with an HTTP status that is not success.
#[derive(Debug, thiserror::Error)]
#[error("{service} answered HTTP {status}")]
pub struct HttpStatusError {
    /// Which provider.
    pub service: &'static str,
    /// The status code.
    pub status: u16,
}

fn unavailable(error: reqwest::Error) -> ChannelError {
    // No connection means nothing left; any later failure leaves it unknown.
    if error.is_connect() || error.is_builder() {
        ChannelError::NotSent {
            source: Box::new(error),
        }
    } else {
        ChannelError::Unavailable {
            source: Box::new(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_the_timestamp_and_the_body_with_hmac_sha256() {
        // The vector: HMAC-SHA256(secret, "1795402800." + body), computed outside Rust. That
        // the call centre's verifier accepts it is tested where both crates meet
        // (tests/telephony.rs).
        let secret = b"a-bridge-secret-of-at-least-32-bytes";
        let body = br#"{"message_id":"01J"}"#;
        assert_eq!(
            sign(secret, "1795402800", body),
            "sha256=98f8d1a347230984884618863272838cda639025b3f53843b44bfd707339452d"
        );
    }

    #[tokio::test]
    async fn an_unconfigured_webhook_refuses_and_names_the_variable() {
        let channel = WebhookChannel::new(http_client(), None);
        let err = channel
            .send(&Envelope {
                message_id: "01J".into(),
                outgoing: Outgoing::Webhook(OutgoingWebhook {
                    bridge: "viber".into(),
                    recipient: "u1".into(),
                    text: "xin chào".into(),
                }),
            })
            .await
            .unwrap_err();
        assert!(
            matches!(&err, ChannelError::Rejected { reason } if reason.contains("NHIP_WEBHOOK_URL")),
            "{err:?}"
        );
    }
}
