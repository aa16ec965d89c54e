//! The Zalo Official Account's credentials: the OAuth endpoint that issues access tokens
//! ([`ZaloOAuth`]), and where the ZNS channel takes the token it sends with
//! ([`AccessTokens`]).
//!
//! Zalo issues an access token (valid 25 hours) with a refresh token (valid three months,
//! usable once); refreshing answers a new pair. Whoever keeps the pair must spend each refresh
//! token once, however many senders notice the expiry together.

use std::time::Duration;

use async_trait::async_trait;

/// A token pair as Zalo issued it.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedTokens {
    /// The OA access token ZNS requests carry.
    pub access_token: String,
    /// The refresh token that buys the next pair, once.
    pub refresh_token: String,
    /// How long the access token is valid from now.
    pub expires_in: Duration,
}

impl std::fmt::Debug for IssuedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedTokens")
            .field("access_token", &"<redacted>")
            .field("refresh_token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// Why Zalo's token endpoint issued no pair.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    /// Zalo refused the grant: the refresh token or code is spent, expired or unknown, or the
    /// app id or secret key is wrong. The same grant will not succeed later.
    #[error("Zalo refused the grant: {0}")]
    Refused(String),
    /// Zalo could not be reached, or answered an error of its own or something unreadable.
    #[error("Zalo's token endpoint is unavailable: {0}")]
    Unavailable(String),
    /// No app secret key is configured, so nothing can be refreshed.
    #[error("refreshing Zalo tokens is not configured: {0}")]
    NotConfigured(String),
}

/// Zalo's OAuth v4 token endpoint for an Official Account.
#[async_trait]
pub trait ZaloOAuth: Send + Sync {
    /// Spends `refresh_token` for a new pair.
    async fn refresh(&self, refresh_token: &str) -> Result<IssuedTokens, OAuthError>;

    /// Exchanges an authorization code (with its PKCE verifier) for a first pair.
    async fn exchange_code(
        &self,
        code: &str,
        code_verifier: &str,
    ) -> Result<IssuedTokens, OAuthError>;

    /// The page where an OA admin grants the app access, sending them back to
    /// `redirect_uri` with a code; `None` when the app is not configured.
    fn permission_url(
        &self,
        redirect_uri: &str,
        code_challenge: &str,
        state: &str,
    ) -> Option<String>;
}

/// Why no access token can be had now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// No pair was ever given: an admin installs one on the console's Zalo page.
    #[error("no Zalo OA token pair is installed (the console's Zalo page installs one)")]
    NotInstalled,
    /// Zalo refused the refresh token: an admin must give a new pair.
    #[error("Zalo refused the stored refresh token; an admin must install a new pair: {0}")]
    Revoked(String),
    /// The pair could not be read, refreshed or written now; later may work.
    #[error("the Zalo OA token is unavailable now: {0}")]
    Unavailable(String),
}

/// Where the ZNS channel takes the access token it sends with.
#[async_trait]
pub trait AccessTokens: Send + Sync {
    /// A token valid now, refreshed first when it is about to expire.
    async fn access_token(&self) -> Result<String, TokenError>;

    /// Zalo answered that `rejected` is invalid: a newer token, refreshing the pair unless
    /// someone already has since `rejected` was handed out.
    async fn after_rejection(&self, rejected: &str) -> Result<String, TokenError>;
}
