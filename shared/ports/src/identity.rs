//! Sign-in through an identity provider's hosted page (OAuth 2.0 authorization code with PKCE,
//! RFC 7636): in AWS, Cognito's hosted UI. The console sends the browser to
//! [`IdentityProvider::authorize_url`] with a random `state` and the challenge of a random
//! verifier it keeps in a short-lived cookie; the provider sends the browser back with a code,
//! which [`IdentityProvider::exchange`] trades (with the verifier) for the user's verified
//! name. The console then maps that name to the staff directory, which alone decides roles.

use async_trait::async_trait;

/// Why a sign-in through the provider failed.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The provider refused the code (expired, used, or not for this verifier).
    #[error("the identity provider refused the code: {0}")]
    Refused(String),
    /// The token it answered is not one to trust: bad signature, issuer, audience, expiry.
    #[error("the identity token is not valid: {0}")]
    InvalidToken(String),
    /// The provider could not be reached or answered nonsense.
    #[error("the identity provider is unavailable: {0}")]
    Unavailable(String),
}

/// A hosted sign-in page and its token endpoint.
#[async_trait]
pub trait IdentityProvider: Send + Sync {
    /// Where to send the browser to sign in: the authorization endpoint with this client,
    /// the console's callback, `state`, and the PKCE `challenge` (S256).
    fn authorize_url(&self, state: &str, challenge: &str) -> String;

    /// Trades an authorization code and its PKCE verifier for the signed-in user's name, from
    /// an ID token whose signature, issuer, audience and expiry were checked.
    async fn exchange(&self, code: &str, verifier: &str) -> Result<String, IdentityError>;

    /// Where to send the browser after a sign-out, so the provider's own session ends too.
    fn logout_url(&self) -> String;
}
