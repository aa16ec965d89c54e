//! Cognito's hosted UI as the console's [`IdentityProvider`]: the authorization code flow with
//! PKCE for a public app client (no client secret), the ID token checked against the user
//! pool's published keys (RS256, issuer, audience = the app client, expiry, `token_use` = `id`).
//! The keys are fetched once and again only when a token names a key id not seen yet (Cognito
//! rotates by adding a key first).

use async_trait::async_trait;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio::sync::RwLock;
use url::Url;

use nhip_ports::identity::{IdentityError, IdentityProvider};

/// The hosted UI of one user pool and app client.
pub struct CognitoHostedUi {
    domain: Url,
    client_id: String,
    issuer: String,
    callback: String,
    signed_out: String,
    /// Built on the first sign-in, not at start ([`crate::lazy`]).
    http: std::sync::LazyLock<reqwest::Client>,
    keys: RwLock<Option<JwkSet>>,
}

/// What configures it: the hosted UI's domain (`https://nhip-prod.auth.ap-southeast-1.amazoncognito.com`),
/// the app client id, the pool's issuer (`https://cognito-idp.<region>.amazonaws.com/<pool id>`)
/// and the console's public base URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CognitoConfig {
    /// The hosted UI's base URL.
    pub domain: String,
    /// The app client id.
    pub client_id: String,
    /// The user pool's issuer URL.
    pub issuer: String,
    /// The console's public base URL (`https://crm.example-bank.vn`).
    pub public_url: String,
}

/// A configuration that cannot work.
#[derive(Debug, thiserror::Error)]
#[error("Cognito sign-in: {0}")]
pub struct CognitoConfigError(&'static str);

#[derive(Deserialize)]
struct TokenAnswer {
    id_token: String,
}

impl CognitoHostedUi {
    /// The provider for `config`; the addresses must be absolute https URLs (http is allowed
    /// for loopback, as the tests' stand-in provider uses).
    pub fn new(config: &CognitoConfig) -> Result<Self, CognitoConfigError> {
        let secure = |raw: &str| {
            Url::parse(raw).ok().filter(|url| {
                url.scheme() == "https"
                    || (url.scheme() == "http"
                        && url
                            .host_str()
                            .is_some_and(|h| h == "127.0.0.1" || h == "localhost"))
            })
        };
        let domain = secure(config.domain.trim_end_matches('/')).ok_or(CognitoConfigError(
            "the hosted UI domain must be an https URL",
        ))?;
        secure(&config.issuer).ok_or(CognitoConfigError("the issuer must be an https URL"))?;
        let public = secure(config.public_url.trim_end_matches('/'))
            .ok_or(CognitoConfigError("the public URL must be an https URL"))?;
        if config.client_id.trim().is_empty() {
            return Err(CognitoConfigError("the app client id is empty"));
        }
        let base = public.as_str().trim_end_matches('/').to_owned();
        Ok(Self {
            domain,
            client_id: config.client_id.trim().to_owned(),
            issuer: config.issuer.trim_end_matches('/').to_owned(),
            callback: format!("{base}/app/auth/callback"),
            signed_out: format!("{base}/app/sign-in"),
            http: std::sync::LazyLock::new(|| {
                reqwest::Client::builder()
                    .timeout(std::time::Duration::from_secs(10))
                    .build()
                    .expect("the rustls TLS backend initialises")
            }),
            keys: RwLock::new(None),
        })
    }

    fn endpoint(&self, path: &str) -> Url {
        let mut url = self.domain.clone();
        url.set_path(path);
        url
    }

    async fn fetch_keys(&self) -> Result<JwkSet, IdentityError> {
        let url = format!("{}/.well-known/jwks.json", self.issuer);
        let response = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| IdentityError::Unavailable(format!("fetching the keys: {e}")))?;
        if !response.status().is_success() {
            return Err(IdentityError::Unavailable(format!(
                "the keys answered {}",
                response.status()
            )));
        }
        response
            .json::<JwkSet>()
            .await
            .map_err(|e| IdentityError::Unavailable(format!("the keys are not a JWK set: {e}")))
    }

    /// The key with id `kid`, fetching the set again once if it is not known yet.
    async fn key(&self, kid: &str) -> Result<DecodingKey, IdentityError> {
        if let Some(set) = self.keys.read().await.as_ref()
            && let Some(jwk) = set.find(kid)
        {
            return DecodingKey::from_jwk(jwk)
                .map_err(|e| IdentityError::InvalidToken(format!("unusable key: {e}")));
        }
        let set = self.fetch_keys().await?;
        let key = set
            .find(kid)
            .map(DecodingKey::from_jwk)
            .transpose()
            .map_err(|e| IdentityError::InvalidToken(format!("unusable key: {e}")))?;
        *self.keys.write().await = Some(set);
        key.ok_or_else(|| IdentityError::InvalidToken("signed by an unknown key".into()))
    }

    /// The user name an ID token names, once it is verified.
    async fn verify(&self, token: &str) -> Result<String, IdentityError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| IdentityError::InvalidToken(e.to_string()))?;
        if header.alg != Algorithm::RS256 {
            return Err(IdentityError::InvalidToken("not signed with RS256".into()));
        }
        let kid = header
            .kid
            .ok_or_else(|| IdentityError::InvalidToken("no key id".into()))?;
        let key = self.key(&kid).await?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[self.issuer.as_str()]);
        validation.set_audience(&[self.client_id.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
            .map_err(|e| IdentityError::InvalidToken(e.to_string()))?
            .claims;
        if claims.get("token_use").and_then(Value::as_str) != Some("id") {
            return Err(IdentityError::InvalidToken("not an ID token".into()));
        }
        claims
            .get("cognito:username")
            .and_then(Value::as_str)
            .filter(|name| !name.trim().is_empty())
            .map(|name| name.trim().to_lowercase())
            .ok_or_else(|| IdentityError::InvalidToken("names no user".into()))
    }
}

#[async_trait]
impl IdentityProvider for CognitoHostedUi {
    fn authorize_url(&self, state: &str, challenge: &str) -> String {
        let mut url = self.endpoint("/oauth2/authorize");
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", &self.callback)
            .append_pair("scope", "openid profile email")
            .append_pair("state", state)
            .append_pair("code_challenge_method", "S256")
            .append_pair("code_challenge", challenge);
        url.into()
    }

    async fn exchange(&self, code: &str, verifier: &str) -> Result<String, IdentityError> {
        let response = self
            .http
            .post(self.endpoint("/oauth2/token"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("client_id", self.client_id.as_str()),
                ("code", code),
                ("redirect_uri", self.callback.as_str()),
                ("code_verifier", verifier),
            ])
            .send()
            .await
            .map_err(|e| IdentityError::Unavailable(format!("the token endpoint: {e}")))?;
        let status = response.status();
        if status.is_client_error() {
            let body = response.text().await.unwrap_or_default();
            return Err(IdentityError::Refused(body.chars().take(200).collect()));
        }
        if !status.is_success() {
            return Err(IdentityError::Unavailable(format!(
                "the token endpoint answered {status}"
            )));
        }
        let answer = response
            .json::<TokenAnswer>()
            .await
            .map_err(|e| IdentityError::Unavailable(format!("no ID token: {e}")))?;
        self.verify(&answer.id_token).await
    }

    fn logout_url(&self) -> String {
        let mut url = self.endpoint("/logout");
        url.query_pairs_mut()
            .append_pair("client_id", &self.client_id)
            .append_pair("logout_uri", &self.signed_out);
        url.into()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::extract::State;
    use axum::routing::{get, post};
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;

    use super::*;

    const KEY_DER: &[u8] = include_bytes!("../testdata/identity-test-key.der");
    const KEY_N: &str = include_str!("../testdata/identity-test-key.n");

    type Shared = (Arc<Mutex<String>>, Arc<Mutex<Vec<String>>>);

    /// A stand-in for Cognito on loopback: the token endpoint answers the ID token set in
    /// `token` for the one code and verifier it expects (recording every form posted), and
    /// the pool's key set holds the test key as `k1`.
    struct StandIn {
        provider: CognitoHostedUi,
        token: Arc<Mutex<String>>,
        posts: Arc<Mutex<Vec<String>>>,
    }

    async fn stand_in() -> StandIn {
        let token = Arc::new(Mutex::new(String::new()));
        let posts = Arc::new(Mutex::new(Vec::new()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new()
            .route(
                "/oauth2/token",
                post(
                    |State((token, posts)): State<Shared>, body: String| async move {
                        posts.lock().unwrap().push(body.clone());
                        if body.contains("code=good-code")
                            && body.contains("code_verifier=the-verifier")
                        {
                            let token = token.lock().unwrap().clone();
                            (
                                axum::http::StatusCode::OK,
                                axum::Json(json!({"id_token": token})),
                            )
                        } else {
                            (
                                axum::http::StatusCode::BAD_REQUEST,
                                axum::Json(json!({"error": "invalid_grant"})),
                            )
                        }
                    },
                ),
            )
            .route(
                "/pool/.well-known/jwks.json",
                get(|| async {
                    axum::Json(json!({"keys": [{"kty": "RSA", "alg": "RS256", "use": "sig",
                        "kid": "k1", "n": KEY_N.trim(), "e": "AQAB"}]}))
                }),
            )
            .with_state((token.clone(), posts.clone()));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let provider = CognitoHostedUi::new(&CognitoConfig {
            domain: base.clone(),
            client_id: "console-client".into(),
            issuer: format!("{base}/pool"),
            public_url: "http://127.0.0.1:3000".into(),
        })
        .unwrap();
        StandIn {
            provider,
            token,
            posts,
        }
    }

    impl StandIn {
        /// Makes the token endpoint answer an ID token with `claims` over the defaults (this
        /// pool, this client, valid an hour, an ID token for `Lan`), signed with key `kid`.
        fn answers(&self, kid: &str, claims: Value) {
            let mut all = json!({
                "iss": self.provider.issuer, "aud": "console-client",
                "exp": chrono::Utc::now().timestamp() + 3600, "token_use": "id",
                "cognito:username": "Lan",
            });
            for (name, value) in claims.as_object().unwrap() {
                all[name] = value.clone();
            }
            let mut header = Header::new(Algorithm::RS256);
            header.kid = Some(kid.into());
            *self.token.lock().unwrap() =
                jsonwebtoken::encode(&header, &all, &EncodingKey::from_rsa_der(KEY_DER)).unwrap();
        }
    }

    #[tokio::test]
    async fn a_code_and_its_verifier_are_traded_for_the_verified_user_name() {
        let stand = stand_in().await;
        stand.answers("k1", json!({}));
        let user = stand
            .provider
            .exchange("good-code", "the-verifier")
            .await
            .unwrap();
        assert_eq!(user, "lan");
        let posted = stand.posts.lock().unwrap()[0].clone();
        for part in [
            "grant_type=authorization_code",
            "client_id=console-client",
            "code_verifier=the-verifier",
            "redirect_uri=http%3A%2F%2F127.0.0.1%3A3000%2Fapp%2Fauth%2Fcallback",
        ] {
            assert!(posted.contains(part), "{part} not in {posted}");
        }
    }

    #[tokio::test]
    async fn a_code_with_another_verifier_is_refused() {
        let stand = stand_in().await;
        stand.answers("k1", json!({}));
        let refused = stand.provider.exchange("good-code", "stolen").await;
        assert!(
            matches!(refused, Err(IdentityError::Refused(_))),
            "{refused:?}"
        );
    }

    #[tokio::test]
    async fn tokens_for_another_client_pool_use_or_time_or_key_are_refused() {
        let stand = stand_in().await;
        for (kid, claims) in [
            ("k1", json!({"aud": "another-client"})),
            (
                "k1",
                json!({"iss": "https://cognito-idp.ap-southeast-1.amazonaws.com/other"}),
            ),
            ("k1", json!({"token_use": "access"})),
            ("k1", json!({"exp": chrono::Utc::now().timestamp() - 600})),
            ("k1", json!({"cognito:username": " "})),
            ("k2", json!({})),
        ] {
            stand.answers(kid, claims.clone());
            let refused = stand.provider.exchange("good-code", "the-verifier").await;
            assert!(
                matches!(refused, Err(IdentityError::InvalidToken(_))),
                "{kid} {claims}: {refused:?}"
            );
        }
    }

    #[tokio::test]
    async fn the_browser_is_sent_with_state_and_an_s256_challenge() {
        let stand = stand_in().await;
        let url = Url::parse(&stand.provider.authorize_url("st4te", "ch4llenge")).unwrap();
        assert_eq!(url.path(), "/oauth2/authorize");
        let pairs: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(pairs["response_type"], "code");
        assert_eq!(pairs["client_id"], "console-client");
        assert_eq!(pairs["state"], "st4te");
        assert_eq!(pairs["code_challenge"], "ch4llenge");
        assert_eq!(pairs["code_challenge_method"], "S256");
        assert_eq!(
            pairs["redirect_uri"],
            "http://127.0.0.1:3000/app/auth/callback"
        );
        let logout = Url::parse(&stand.provider.logout_url()).unwrap();
        assert_eq!(logout.path(), "/logout");
        assert!(
            logout
                .query()
                .unwrap()
                .contains("logout_uri=http%3A%2F%2F127.0.0.1%3A3000%2Fapp%2Fsign-in")
        );
    }

    #[test]
    fn a_plain_http_address_other_than_loopback_is_refused() {
        let config = CognitoConfig {
            domain: "http://nhip.auth.example".into(),
            client_id: "c".into(),
            issuer: "https://cognito-idp.ap-southeast-1.amazonaws.com/p".into(),
            public_url: "https://crm.example".into(),
        };
        assert!(CognitoHostedUi::new(&config).is_err());
    }
}
