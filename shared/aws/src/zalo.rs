//! `ZaloZnsChannel`: Zalo notification-service (ZNS) template messages through Zalo's HTTPS
//! API.
//!
//! One POST per message to the template endpoint with the Official Account's token in the
//! `access_token` header and `{"phone","template_id","template_data","tracking_id"}` as the
//! body. Zalo answers HTTP 200 with `{"error":0,"message":"Success","data":{"msg_id":"…"}}`
//! when it accepts, and a non-zero `error` with its reason otherwise.
//!
//! Mapping: `error` 0 is accepted with `msg_id` as the provider id; `-32` (rate limit) and
//! HTTP 429 are `Throttled`; any other non-zero `error` (invalid phone, template or
//! parameters, `-124` token invalid or expired…) is `Rejected` with Zalo's message; HTTP 5xx,
//! timeouts (10 s) and connection failures are `Unavailable`. Without an access token the
//! channel refuses every message, naming the variable.

use crate::lazy::Lazy;
use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use nhip_ports::channel::{Accepted, Channel, ChannelError, Envelope, Outgoing, OutgoingZns};
use serde::{Deserialize, Serialize};

use crate::ses::redact_personal_data;
use crate::webhook::{HttpStatusError, REQUEST_TIMEOUT};

/// Zalo's code for "too many requests".
pub const RATE_LIMIT_CODE: i64 = -32;

/// Zalo ZNS template messages.
#[derive(Clone)]
pub struct ZaloZnsChannel {
    http: Lazy<reqwest::Client>,
    endpoint: String,
    access_token: Option<String>,
}

impl fmt::Debug for ZaloZnsChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZaloZnsChannel")
            .field("endpoint", &self.endpoint)
            .field(
                "access_token",
                &self.access_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// The request body.
#[derive(Serialize)]
struct Request<'a> {
    phone: &'a str,
    template_id: &'a str,
    template_data: &'a BTreeMap<String, String>,
    tracking_id: &'a str,
}

/// Zalo's answer.
#[derive(Deserialize)]
struct Answer {
    error: i64,
    #[serde(default)]
    message: String,
    #[serde(default)]
    data: Option<AnswerData>,
}

#[derive(Deserialize)]
struct AnswerData {
    #[serde(default)]
    msg_id: Option<String>,
}

/// Zalo refused or limited a request: its code and message (addresses and numbers removed).
#[derive(Debug, thiserror::Error)]
#[error("Zalo ZNS error {code}: {message}")]
pub struct ZaloError {
    /// Zalo's error code.
    pub code: i64,
    /// Zalo's message.
    pub message: String,
}

/// Zalo answered something other than its JSON envelope.
#[derive(Debug, thiserror::Error)]
#[error("malformed Zalo ZNS response: {0}")]
struct MalformedResponse(&'static str);

impl ZaloZnsChannel {
    /// ZNS through `http` (see [`crate::webhook::http_client`]) to `endpoint` with
    /// `access_token`; without a token every message is refused as not configured.
    pub fn new(
        http: Lazy<reqwest::Client>,
        endpoint: impl Into<String>,
        access_token: Option<String>,
    ) -> Self {
        Self {
            http,
            endpoint: endpoint.into(),
            access_token,
        }
    }

    async fn send_zns(&self, zns: &OutgoingZns) -> Result<Accepted, ChannelError> {
        let Some(token) = &self.access_token else {
            return Err(ChannelError::Rejected {
                reason: "Zalo ZNS is not configured (NHIP_ZNS_ACCESS_TOKEN)".into(),
            });
        };
        let phone_ok =
            (9..=15).contains(&zns.phone.len()) && zns.phone.bytes().all(|b| b.is_ascii_digit());
        if !phone_ok {
            return Err(ChannelError::Rejected {
                reason: "a ZNS phone is 9 to 15 digits with the country code, no '+'".into(),
            });
        }
        let response = self
            .http
            .post(&self.endpoint)
            .timeout(REQUEST_TIMEOUT)
            .header("access_token", token)
            .json(&Request {
                phone: &zns.phone,
                template_id: &zns.template_id,
                template_data: &zns.params,
                tracking_id: &zns.tracking_id,
            })
            .send()
            .await
            .map_err(request_failed)?;
        let status = response.status().as_u16();
        let http_error = HttpStatusError {
            service: "Zalo ZNS",
            status,
        };
        if status == 429 {
            return Err(ChannelError::Throttled {
                source: Box::new(http_error),
            });
        }
        if status >= 500 {
            // Zalo answered an error of its own: it did not take the message.
            return Err(ChannelError::NotSent {
                source: Box::new(http_error),
            });
        }
        if (300..400).contains(&status) {
            return Err(unknown(http_error));
        }
        let bytes = response.bytes().await.map_err(unknown)?;
        let answer: Answer = match serde_json::from_slice(&bytes) {
            Ok(answer) => answer,
            Err(_) if status >= 400 => {
                return Err(ChannelError::Rejected {
                    reason: format!("Zalo ZNS answered HTTP {status}"),
                });
            }
            Err(e) => return Err(unknown(e)),
        };
        match answer.error {
            0 => answer
                .data
                .and_then(|d| d.msg_id)
                .filter(|id| !id.is_empty())
                .map(|provider_id| Accepted { provider_id })
                .ok_or_else(|| unknown(MalformedResponse("success without a msg_id"))),
            code => {
                let error = ZaloError {
                    code,
                    message: redact_personal_data(&answer.message),
                };
                tracing::warn!(code, "Zalo ZNS refused a message");
                Err(if code == RATE_LIMIT_CODE {
                    ChannelError::Throttled {
                        source: Box::new(error),
                    }
                } else {
                    ChannelError::Rejected {
                        reason: error.to_string(),
                    }
                })
            }
        }
    }
}

#[async_trait]
impl Channel for ZaloZnsChannel {
    fn name(&self) -> &'static str {
        "zalo-zns"
    }

    async fn send(&self, envelope: &Envelope) -> Result<Accepted, ChannelError> {
        match &envelope.outgoing {
            Outgoing::Zns(zns) => self.send_zns(zns).await,
            other => Err(ChannelError::Rejected {
                reason: format!("the Zalo ZNS channel carries ZNS, not {}", other.kind()),
            }),
        }
    }
}

/// Whether Zalo took the message is unknown.
fn unknown(error: impl std::error::Error + Send + Sync + 'static) -> ChannelError {
    ChannelError::Unavailable {
        source: Box::new(error),
    }
}

fn request_failed(error: reqwest::Error) -> ChannelError {
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
