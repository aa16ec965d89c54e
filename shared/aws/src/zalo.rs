//! `ZaloZnsChannel`: Zalo notification-service (ZNS) template messages through Zalo's HTTPS
//! API; and [`ZaloOAuthEndpoint`], Zalo's OAuth v4 endpoint that issues the Official
//! Account's tokens.
//!
//! One POST per message to the template endpoint with the Official Account's token in the
//! `access_token` header and `{"phone","template_id","template_data","tracking_id"}` as the
//! body. Zalo answers HTTP 200 with `{"error":0,"message":"Success","data":{"msg_id":"…"}}`
//! when it accepts, and a non-zero `error` with its reason otherwise.
//!
//! The token comes from an [`AccessTokens`] keeper (`nhip_messaging::zalo_tokens`), which
//! refreshes it before it expires. When Zalo still answers that the token is invalid
//! ([`INVALID_TOKEN_CODES`]), the channel asks the keeper for a newer one and sends once
//! more, never twice.
//!
//! Mapping: `error` 0 is accepted with `msg_id` as the provider id; `-32` (rate limit) and
//! HTTP 429 are `Throttled`; an invalid token after the one retry, or no token to be had now,
//! is `NotSent` (the message waits on the queue while the token is mended); any other
//! non-zero `error` (invalid phone, template or parameters…) is `Rejected` with Zalo's
//! message; HTTP 5xx and connection failures are `NotSent`; timeouts (10 s) are
//! `Unavailable`. Without a keeper, or with no pair installed, the channel refuses every
//! message and says what is missing.

use crate::lazy::Lazy;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use nhip_ports::channel::{Accepted, Channel, ChannelError, Envelope, Outgoing, OutgoingZns};
use nhip_ports::zalo::{AccessTokens, IssuedTokens, OAuthError, TokenError, ZaloOAuth};
use serde::{Deserialize, Serialize};

use crate::ses::redact_personal_data;
use crate::webhook::{HttpStatusError, REQUEST_TIMEOUT};

/// Zalo's code for "too many requests".
pub const RATE_LIMIT_CODE: i64 = -32;
/// The codes Zalo answers for an access token that is invalid or expired: `-124` from ZNS
/// (as integrations report it; Zalo's published table does not list it) and `-216` from the
/// Official Account API.
pub const INVALID_TOKEN_CODES: [i64; 2] = [-124, -216];

/// Zalo ZNS template messages.
#[derive(Clone)]
pub struct ZaloZnsChannel {
    http: Lazy<reqwest::Client>,
    endpoint: String,
    tokens: Option<Arc<dyn AccessTokens>>,
}

impl fmt::Debug for ZaloZnsChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZaloZnsChannel")
            .field("endpoint", &self.endpoint)
            .field("tokens", &self.tokens.is_some())
            .finish()
    }
}

/// Why one post did not send: the channel's answer, or Zalo did not accept the token.
enum PostFailed {
    Channel(ChannelError),
    InvalidToken(ZaloError),
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
    /// ZNS through `http` (see [`crate::webhook::http_client`]) to `endpoint` with the tokens
    /// `tokens` keeps; without a keeper every message is refused as not configured.
    pub fn new(
        http: Lazy<reqwest::Client>,
        endpoint: impl Into<String>,
        tokens: Option<Arc<dyn AccessTokens>>,
    ) -> Self {
        Self {
            http,
            endpoint: endpoint.into(),
            tokens,
        }
    }

    async fn send_zns(&self, zns: &OutgoingZns) -> Result<Accepted, ChannelError> {
        let Some(tokens) = &self.tokens else {
            return Err(ChannelError::Rejected {
                reason: "Zalo ZNS is not configured (NHIP_CREDENTIALS_KEY)".into(),
            });
        };
        let phone_ok =
            (9..=15).contains(&zns.phone.len()) && zns.phone.bytes().all(|b| b.is_ascii_digit());
        if !phone_ok {
            return Err(ChannelError::Rejected {
                reason: "a ZNS phone is 9 to 15 digits with the country code, no '+'".into(),
            });
        }
        let token = tokens.access_token().await.map_err(token_unavailable)?;
        let rejected = match self.post(zns, &token).await {
            Ok(accepted) => return Ok(accepted),
            Err(PostFailed::Channel(error)) => return Err(error),
            Err(PostFailed::InvalidToken(error)) => error,
        };
        tracing::warn!(
            code = rejected.code,
            "Zalo ZNS refused the access token; refreshing it and sending once more"
        );
        let fresh = tokens
            .after_rejection(&token)
            .await
            .map_err(token_unavailable)?;
        self.post(zns, &fresh).await.map_err(|failed| match failed {
            PostFailed::Channel(error) => error,
            // Nothing left: the message waits on the queue while an admin mends the token.
            PostFailed::InvalidToken(error) => ChannelError::NotSent {
                source: Box::new(error),
            },
        })
    }

    /// One POST of `zns` with `token`.
    async fn post(&self, zns: &OutgoingZns, token: &str) -> Result<Accepted, PostFailed> {
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
            .map_err(|e| PostFailed::Channel(request_failed(e)))?;
        let status = response.status().as_u16();
        let http_error = HttpStatusError {
            service: "Zalo ZNS",
            status,
        };
        if status == 429 {
            return Err(PostFailed::Channel(ChannelError::Throttled {
                source: Box::new(http_error),
            }));
        }
        if status >= 500 {
            // Zalo answered an error of its own: it did not take the message.
            return Err(PostFailed::Channel(ChannelError::NotSent {
                source: Box::new(http_error),
            }));
        }
        if (300..400).contains(&status) {
            return Err(PostFailed::Channel(unknown(http_error)));
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|e| PostFailed::Channel(unknown(e)))?;
        let answer: Answer = match serde_json::from_slice(&bytes) {
            Ok(answer) => answer,
            Err(_) if status >= 400 => {
                return Err(PostFailed::Channel(ChannelError::Rejected {
                    reason: format!("Zalo ZNS answered HTTP {status}"),
                }));
            }
            Err(e) => return Err(PostFailed::Channel(unknown(e))),
        };
        match answer.error {
            0 => answer
                .data
                .and_then(|d| d.msg_id)
                .filter(|id| !id.is_empty())
                .map(|provider_id| Accepted { provider_id })
                .ok_or_else(|| {
                    PostFailed::Channel(unknown(MalformedResponse("success without a msg_id")))
                }),
            code => {
                let error = ZaloError {
                    code,
                    message: redact_personal_data(&answer.message),
                };
                if INVALID_TOKEN_CODES.contains(&code) {
                    return Err(PostFailed::InvalidToken(error));
                }
                tracing::warn!(code, "Zalo ZNS refused a message");
                Err(PostFailed::Channel(if code == RATE_LIMIT_CODE {
                    ChannelError::Throttled {
                        source: Box::new(error),
                    }
                } else {
                    ChannelError::Rejected {
                        reason: error.to_string(),
                    }
                }))
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

/// No token to send with: nothing installed is a refusal (as an unconfigured channel's);
/// anything else leaves the message on the queue for later.
fn token_unavailable(error: TokenError) -> ChannelError {
    match error {
        TokenError::NotInstalled => ChannelError::Rejected {
            reason: format!("Zalo ZNS: {error}"),
        },
        other => ChannelError::NotSent {
            source: Box::new(other),
        },
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

/// The default of Zalo's OAuth v4 base for Official Accounts (`…/access_token`,
/// `…/permission`).
pub const DEFAULT_OAUTH_BASE: &str = "https://oauth.zaloapp.com/v4/oa";

/// How long an access token lasts when Zalo's answer does not say (25 hours).
const DEFAULT_EXPIRES_IN: Duration = Duration::from_secs(90_000);

/// Zalo's OAuth v4 token endpoint for an Official Account: a form POST to
/// `<base>/access_token` with the app's secret key in the `secret_key` header. Zalo answers a
/// new pair as `{"access_token","refresh_token","expires_in"}` (`expires_in` in seconds, as a
/// string), and a refusal as `{"error": <non-zero>, "error_name", "error_description"}`, often
/// with HTTP 200; so only an answer holding both tokens counts as issued.
#[derive(Clone)]
pub struct ZaloOAuthEndpoint {
    http: Lazy<reqwest::Client>,
    base: String,
    app_id: String,
    secret_key: String,
}

impl fmt::Debug for ZaloOAuthEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZaloOAuthEndpoint")
            .field("base", &self.base)
            .field("app_id", &self.app_id)
            .field("secret_key", &"<redacted>")
            .finish()
    }
}

#[derive(Deserialize)]
struct TokenAnswer {
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
    #[serde(default)]
    error: Option<serde_json::Value>,
    #[serde(default)]
    error_name: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

impl ZaloOAuthEndpoint {
    /// Zalo's OAuth under `base` (see [`DEFAULT_OAUTH_BASE`]) for app `app_id` with its
    /// secret key.
    pub fn new(
        http: Lazy<reqwest::Client>,
        base: impl Into<String>,
        app_id: impl Into<String>,
        secret_key: impl Into<String>,
    ) -> Self {
        Self {
            http,
            base: base.into().trim_end_matches('/').to_owned(),
            app_id: app_id.into(),
            secret_key: secret_key.into(),
        }
    }

    async fn grant(&self, form: &[(&str, &str)]) -> Result<IssuedTokens, OAuthError> {
        let response = self
            .http
            .post(format!("{}/access_token", self.base))
            .timeout(REQUEST_TIMEOUT)
            .header("secret_key", &self.secret_key)
            .form(form)
            .send()
            .await
            .map_err(|e| OAuthError::Unavailable(e.without_url().to_string()))?;
        let status = response.status().as_u16();
        if status == 429 || status >= 500 || (300..400).contains(&status) {
            return Err(OAuthError::Unavailable(format!(
                "Zalo's token endpoint answered HTTP {status}"
            )));
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|e| OAuthError::Unavailable(e.without_url().to_string()))?;
        let answer: TokenAnswer = serde_json::from_slice(&bytes).map_err(|_| {
            OAuthError::Unavailable(format!(
                "Zalo's token endpoint answered HTTP {status} without its JSON"
            ))
        })?;
        let expires_in = match &answer.expires_in {
            Some(serde_json::Value::String(text)) => text.trim().parse::<u64>().ok(),
            Some(serde_json::Value::Number(number)) => number.as_u64(),
            _ => None,
        }
        .filter(|seconds| *seconds > 0)
        .map_or(DEFAULT_EXPIRES_IN, Duration::from_secs);
        match (answer.access_token, answer.refresh_token) {
            (Some(access_token), Some(refresh_token))
                if !access_token.is_empty() && !refresh_token.is_empty() =>
            {
                Ok(IssuedTokens {
                    access_token,
                    refresh_token,
                    expires_in,
                })
            }
            _ => {
                let code = answer
                    .error
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| format!("HTTP {status}"));
                let reason = [answer.error_name, answer.error_description, answer.message]
                    .into_iter()
                    .flatten()
                    .filter(|text| !text.is_empty())
                    .collect::<Vec<_>>()
                    .join(": ");
                Err(OAuthError::Refused(format!(
                    "error {code}{}{}",
                    if reason.is_empty() { "" } else { " " },
                    redact_personal_data(&reason)
                )))
            }
        }
    }
}

#[async_trait]
impl ZaloOAuth for ZaloOAuthEndpoint {
    async fn refresh(&self, refresh_token: &str) -> Result<IssuedTokens, OAuthError> {
        self.grant(&[
            ("app_id", &self.app_id),
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ])
        .await
    }

    async fn exchange_code(
        &self,
        code: &str,
        code_verifier: &str,
    ) -> Result<IssuedTokens, OAuthError> {
        self.grant(&[
            ("app_id", &self.app_id),
            ("grant_type", "authorization_code"),
            ("code", code),
            ("code_verifier", code_verifier),
        ])
        .await
    }

    fn permission_url(
        &self,
        redirect_uri: &str,
        code_challenge: &str,
        state: &str,
    ) -> Option<String> {
        let mut url = url::Url::parse(&format!("{}/permission", self.base)).ok()?;
        url.query_pairs_mut()
            .append_pair("app_id", &self.app_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("code_challenge", code_challenge)
            .append_pair("state", state);
        Some(url.into())
    }
}
