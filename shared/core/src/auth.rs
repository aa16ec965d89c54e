//! Staff authentication and the role scopes every staff route applies.
//!
//! A staff request carries a JWT. Who checks it depends on where Nhịp runs
//! ([`AuthMode`]):
//! - **HS256** (the local runner, tests, and Lambda with `NHIP_AUTH=hs256`): the function
//!   verifies `Authorization: Bearer <jwt>` itself: signature (HS256 only), issuer, and
//!   expiry against the deployment's [`Clock`](nhip_ports::Clock), so a token keeps
//!   working (or expires) in simulated time.
//! - **Gateway** (Lambda's default): the HTTP API's JWT authorizer has already verified the
//!   token before the function runs. The `api` function copies the claims it verified from
//!   the API Gateway request context into a [`VerifiedClaims`] request extension; nothing
//!   else is trusted, in particular not the `Authorization` header.
//!
//! Either way the claims map to a [`Principal`] (user, [`Role`], team) whose [`Scope`] says
//! which customers and tickets the request may touch. Handlers take `principal: Principal`
//! as an extractor; a rejection answers 401 `unauthenticated` (with `WWW-Authenticate:
//! Bearer`) or 403 `forbidden`. Tokens are never logged.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::http::ApiError;

/// The issuer HS256 tokens carry and are required to carry unless configured otherwise.
pub const DEFAULT_ISSUER: &str = "nhip-local";

/// The shortest HS256 secret accepted, in bytes (the size of the HMAC-SHA256 output).
pub const MIN_SECRET_BYTES: usize = 32;

/// Claims naming the user, in order of preference.
const USER_CLAIMS: [&str; 4] = ["nhip:user", "cognito:username", "username", "sub"];
/// Claims naming the role, in order of preference; `cognito:groups` comes after them.
const ROLE_CLAIMS: [&str; 2] = ["nhip:role", "custom:role"];
/// Cognito's group list; the first group that is a [`Role`] is the role.
const GROUPS_CLAIM: &str = "cognito:groups";
/// Claims naming the team, in order of preference.
const TEAM_CLAIMS: [&str; 2] = ["nhip:team", "custom:team"];

/// What a staff user is allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, and the only role that may change rates, fees and template defaults.
    Admin,
    /// Their team's customers and tickets.
    Manager,
    /// Their own customers and tickets.
    Consultant,
    /// Their own customers and tickets (a reseller's agent).
    Agent,
    /// Their own customers and tickets.
    Telesales,
    /// Relationship manager: their own customers and tickets.
    Rm,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 6] = [
        Role::Admin,
        Role::Manager,
        Role::Consultant,
        Role::Agent,
        Role::Telesales,
        Role::Rm,
    ];

    /// The role's name in tokens and JSON: `admin`, `manager`, `consultant`, `agent`,
    /// `telesales`, `rm`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Manager => "manager",
            Role::Consultant => "consultant",
            Role::Agent => "agent",
            Role::Telesales => "telesales",
            Role::Rm => "rm",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not one of [`Role::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}: expected admin, manager, consultant, agent, telesales or rm")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    /// Accepts the names of [`Role::as_str`], ignoring ASCII case and surrounding spaces
    /// (Cognito group names are often capitalised).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.trim();
        Role::ALL
            .into_iter()
            .find(|role| role.as_str().eq_ignore_ascii_case(name))
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

/// Who is calling: the authenticated staff user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// The user's name (`nhip:user`, `cognito:username`, `username` or `sub`).
    pub user: String,
    /// What they may do.
    pub role: Role,
    /// Their team, if any (`nhip:team` or `custom:team`).
    pub team: Option<String>,
}

/// Which records a principal may see.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Every record (admin).
    All,
    /// Records of this team (a manager's).
    Team(String),
    /// Records owned by this user.
    Owner(String),
}

impl Principal {
    /// A principal; an empty team counts as none.
    pub fn new(user: impl Into<String>, role: Role, team: Option<String>) -> Self {
        Self {
            user: user.into(),
            role,
            team: team.filter(|t| !t.trim().is_empty()),
        }
    }

    /// The records this principal may see: admin → all; manager → their team (a manager
    /// without a team only their own); everyone else → their own.
    pub fn scope(&self) -> Scope {
        match (self.role, &self.team) {
            (Role::Admin, _) => Scope::All,
            (Role::Manager, Some(team)) => Scope::Team(team.clone()),
            _ => Scope::Owner(self.user.clone()),
        }
    }

    /// Whether a record with this owner and team is in [`Self::scope`]: exactly the records a
    /// list filtered by the scope returns, so a list and a single read agree. An unowned
    /// record is visible to admin, and to a manager only if its team is theirs.
    pub fn can_see(&self, owner: Option<&str>, team: Option<&str>) -> bool {
        match self.scope() {
            Scope::All => true,
            Scope::Team(mine) => team == Some(mine.as_str()),
            Scope::Owner(me) => owner == Some(me.as_str()),
        }
    }

    /// Whether this is an admin.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// `Ok` for an admin, else the 403 `forbidden` error, for admin-only routes (rates,
    /// fees, template defaults).
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "Only an admin may do this.",
            ))
        }
    }

    /// Maps token claims to a principal. User: `nhip:user`, `cognito:username`, `username`
    /// or `sub`. Role: `nhip:role`, `custom:role`, or the first of `cognito:groups` that is a
    /// role (a JSON array, or API Gateway's flattened `"[a b]"` string). Team: `nhip:team` or
    /// `custom:team`. Claims that are present but empty count as absent.
    pub fn from_claims(claims: &Map<String, Value>) -> Result<Self, AuthError> {
        let user = first_string(claims, &USER_CLAIMS).ok_or(AuthError::NoUser)?;
        let role = match first_string(claims, &ROLE_CLAIMS) {
            Some(name) => name
                .parse::<Role>()
                .map_err(|UnknownRole(name)| AuthError::UnknownRole(name))?,
            None => {
                let groups = groups(claims.get(GROUPS_CLAIM));
                groups
                    .iter()
                    .find_map(|group| group.parse::<Role>().ok())
                    .ok_or(AuthError::NoRole)?
            }
        };
        let team = first_string(claims, &TEAM_CLAIMS).map(str::to_owned);
        Ok(Principal::new(user, role, team))
    }
}

/// The first of `names` whose claim is a non-empty string.
fn first_string<'a>(claims: &'a Map<String, Value>, names: &[&str]) -> Option<&'a str> {
    names.iter().find_map(|name| match claims.get(*name) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim()),
        _ => None,
    })
}

/// Cognito groups: a JSON array of strings, or the string API Gateway makes of an array
/// claim (`"[admin manager]"`; commas and quotes tolerated).
fn groups(claim: Option<&Value>) -> Vec<String> {
    match claim {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Value::String(text)) => text
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .split(|c: char| c.is_whitespace() || c == ',')
            .map(|group| group.trim_matches('"'))
            .filter(|group| !group.is_empty())
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// The claims API Gateway's JWT authorizer verified, copied by the `api` function from the
/// request context into the request's extensions. In [`AuthMode::Gateway`] this is the only
/// source of identity.
#[derive(Clone, Default, PartialEq)]
pub struct VerifiedClaims(pub Map<String, Value>);

impl fmt::Debug for VerifiedClaims {
    // Claims may hold an e-mail address or phone number: show only their names.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("VerifiedClaims")
            .field(&self.0.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl FromIterator<(String, String)> for VerifiedClaims {
    /// From API Gateway's claim map, where every value is a string.
    fn from_iter<I: IntoIterator<Item = (String, String)>>(claims: I) -> Self {
        Self(
            claims
                .into_iter()
                .map(|(name, value)| (name, Value::String(value)))
                .collect(),
        )
    }
}

/// Hands the claims API Gateway's JWT authorizer verified (HTTP API payload v2, request
/// context `authorizer.jwt.claims`) to the [`Principal`] extractor as a [`VerifiedClaims`]
/// extension: the `api` function maps every request through this before the router. Only the
/// request context counts: headers are the client's and are never read here, and any
/// `VerifiedClaims` already on the request is removed first (extensions never come from the
/// wire, but the guarantee should not depend on it).
pub fn with_gateway_claims(mut request: lambda_http::Request) -> lambda_http::Request {
    use lambda_http::request::RequestContext;
    let claims = match request.extensions().get::<RequestContext>() {
        Some(RequestContext::ApiGatewayV2(context)) => context
            .authorizer
            .as_ref()
            .and_then(|authorizer| authorizer.jwt.as_ref())
            .map(|jwt| jwt.claims.clone())
            .filter(|claims| !claims.is_empty()),
        #[allow(unreachable_patterns)] // other contexts exist when lambda_http has more features
        _ => None,
    };
    request.extensions_mut().remove::<VerifiedClaims>();
    if let Some(claims) = claims {
        request
            .extensions_mut()
            .insert(claims.into_iter().collect::<VerifiedClaims>());
    }
    request
}

/// An HS256 signing secret, at least [`MIN_SECRET_BYTES`] long. Its `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct JwtSecret(Vec<u8>);

/// A secret shorter than [`MIN_SECRET_BYTES`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a JWT secret must be at least {MIN_SECRET_BYTES} bytes long, this one has {0}")]
pub struct WeakSecret(pub usize);

impl JwtSecret {
    /// Checks the length.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, WeakSecret> {
        let bytes = bytes.into();
        if bytes.len() < MIN_SECRET_BYTES {
            return Err(WeakSecret(bytes.len()));
        }
        Ok(Self(bytes))
    }

    /// The secret's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for JwtSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JwtSecret(<{} bytes>)", self.0.len())
    }
}

/// How staff requests are authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMode {
    /// API Gateway's JWT authorizer verified the token; trust only [`VerifiedClaims`].
    Gateway,
    /// Verify `Authorization: Bearer` tokens signed HS256 with `secret` and carrying `iss =
    /// issuer`.
    Hs256 {
        /// The shared signing secret.
        secret: JwtSecret,
        /// The required `iss` claim ([`DEFAULT_ISSUER`] unless configured otherwise).
        issuer: String,
    },
}

/// Why a request was not authenticated (401) or not authorised (403).
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header.
    #[error("no Authorization header")]
    MissingToken,
    /// An `Authorization` header that is not one `Bearer <token>`.
    #[error("the Authorization header is not a bearer token")]
    MalformedHeader,
    /// Bad signature, algorithm other than HS256, wrong issuer, garbled token.
    #[error("the token was rejected")]
    InvalidToken(#[source] jsonwebtoken::errors::Error),
    /// A registered claim is missing or not a number.
    #[error("the token's {0} claim is missing or not a number")]
    InvalidClaim(&'static str),
    /// `exp` is not after the current (possibly simulated) time.
    #[error("the token has expired")]
    Expired,
    /// `nbf` is after the current time.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// No claim names the user.
    #[error("the token names no user")]
    NoUser,
    /// Gateway mode, but the request carries no claims verified by API Gateway.
    #[error("no claims verified by the API gateway")]
    NoVerifiedClaims,
    /// The role claim names no known role (403).
    #[error("unknown role {0:?}")]
    UnknownRole(String),
    /// No role claim, and no Cognito group that is a role (403).
    #[error("the token grants no role")]
    NoRole,
}

impl AuthError {
    /// 401 when the caller is not (validly) authenticated, 403 when they are but their role
    /// is not one Nhịp knows.
    pub fn status(&self) -> StatusCode {
        match self {
            AuthError::UnknownRole(_) | AuthError::NoRole => StatusCode::FORBIDDEN,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    fn client_message(&self) -> String {
        match self {
            AuthError::MissingToken | AuthError::NoVerifiedClaims => {
                "Sign in: this request needs a bearer token.".into()
            }
            AuthError::MalformedHeader => {
                "The Authorization header must be 'Bearer <token>'.".into()
            }
            AuthError::Expired => "The token has expired; sign in again.".into(),
            AuthError::NotYetValid => "The token is not valid yet.".into(),
            AuthError::InvalidToken(_) | AuthError::InvalidClaim(_) | AuthError::NoUser => {
                "The token is not valid.".into()
            }
            AuthError::UnknownRole(role) => format!(
                "The role {role:?} is not one of admin, manager, consultant, agent, telesales, rm."
            ),
            AuthError::NoRole => "The token grants no role.".into(),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        let status = error.status();
        let code = if status == StatusCode::FORBIDDEN {
            "forbidden"
        } else {
            "unauthenticated"
        };
        ApiError::new(status, code, error.client_message())
    }
}

impl IntoResponse for AuthError {
    /// The error body, plus `WWW-Authenticate: Bearer …` on a 401 (RFC 6750 §3).
    fn into_response(self) -> Response {
        let challenge = match &self {
            AuthError::MissingToken | AuthError::NoVerifiedClaims => Some(r#"Bearer realm="nhip""#),
            AuthError::MalformedHeader => Some(r#"Bearer realm="nhip", error="invalid_request""#),
            _ if self.status() == StatusCode::UNAUTHORIZED => {
                Some(r#"Bearer realm="nhip", error="invalid_token""#)
            }
            _ => None,
        };
        let mut response = ApiError::from(self).into_response();
        if let Some(challenge) = challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}

/// Verifies staff credentials (and, in HS256 mode, issues tokens). One per process, held in
/// `Deps::auth`.
pub struct Authenticator {
    mode: Mode,
}

enum Mode {
    Gateway,
    Hs256(Box<Hs256>),
}

struct Hs256 {
    encoding: EncodingKey,
    decoding: DecodingKey,
    issuer: String,
    validation: Validation,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.mode {
            Mode::Gateway => f.write_str("Authenticator::Gateway"),
            Mode::Hs256(hs) => f
                .debug_struct("Authenticator::Hs256")
                .field("issuer", &hs.issuer)
                .finish_non_exhaustive(),
        }
    }
}

/// The claims of an issued token.
#[derive(Serialize)]
struct IssuedClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    #[serde(rename = "nhip:user")]
    user: &'a str,
    #[serde(rename = "nhip:role")]
    role: Role,
    #[serde(rename = "nhip:team", skip_serializing_if = "Option::is_none")]
    team: Option<&'a str>,
    iat: i64,
    exp: i64,
}

impl Authenticator {
    /// An authenticator for `mode`.
    pub fn new(mode: AuthMode) -> Self {
        match mode {
            AuthMode::Gateway => Self::gateway(),
            AuthMode::Hs256 { secret, issuer } => Self::hs256_with_issuer(secret, issuer),
        }
    }

    /// Gateway mode: trust only the claims API Gateway's authorizer verified.
    pub fn gateway() -> Self {
        Self {
            mode: Mode::Gateway,
        }
    }

    /// HS256 mode with the [`DEFAULT_ISSUER`].
    pub fn hs256(secret: JwtSecret) -> Self {
        Self::hs256_with_issuer(secret, DEFAULT_ISSUER.to_owned())
    }

    /// HS256 mode requiring `iss = issuer`.
    pub fn hs256_with_issuer(secret: JwtSecret, issuer: String) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is checked against the deployment's clock (simulated locally), not the
        // machine's, so the crate's own time checks are off; `exp` must still be present.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims = HashSet::from(["exp".to_owned(), "iss".to_owned()]);
        validation.set_issuer(&[issuer.as_str()]);
        Self {
            mode: Mode::Hs256(Box::new(Hs256 {
                encoding: EncodingKey::from_secret(secret.as_bytes()),
                decoding: DecodingKey::from_secret(secret.as_bytes()),
                issuer,
                validation,
            })),
        }
    }

    /// `gateway` or `hs256`.
    pub fn mode_name(&self) -> &'static str {
        match self.mode {
            Mode::Gateway => "gateway",
            Mode::Hs256(_) => "hs256",
        }
    }

    /// A token for `principal`, valid from `now` for `ttl` (HS256 mode: the token command
    /// and tests).
    ///
    /// # Panics
    /// In gateway mode, where tokens come from the identity provider (Cognito), never from
    /// Nhịp.
    pub fn issue(&self, principal: &Principal, now: DateTime<Utc>, ttl: Duration) -> String {
        let Mode::Hs256(hs) = &self.mode else {
            panic!("Authenticator::issue: gateway mode does not issue tokens");
        };
        let claims = IssuedClaims {
            iss: &hs.issuer,
            sub: &principal.user,
            user: &principal.user,
            role: principal.role,
            team: principal.team.as_deref(),
            iat: now.timestamp(),
            exp: (now + ttl).timestamp(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &hs.encoding)
            .expect("HS256 signing of plain claims cannot fail")
    }

    /// Authenticates a request from its headers and extensions at `now`.
    pub fn authenticate(
        &self,
        headers: &HeaderMap,
        extensions: &Extensions,
        now: DateTime<Utc>,
    ) -> Result<Principal, AuthError> {
        match &self.mode {
            Mode::Gateway => {
                let claims = extensions
                    .get::<VerifiedClaims>()
                    .ok_or(AuthError::NoVerifiedClaims)?;
                Principal::from_claims(&claims.0)
            }
            Mode::Hs256(_) => self.verify(bearer_token(headers)?, now),
        }
    }

    /// Verifies an HS256 token at `now`. In gateway mode every token is rejected: only the
    /// authorizer's claims count there.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<Principal, AuthError> {
        let Mode::Hs256(hs) = &self.mode else {
            return Err(AuthError::NoVerifiedClaims);
        };
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &hs.decoding, &hs.validation)
            .map_err(AuthError::InvalidToken)?;
        let claims = data.claims;
        let now = now.timestamp();
        let exp = numeric_claim(&claims, "exp")?.ok_or(AuthError::InvalidClaim("exp"))?;
        // RFC 7519 §4.1.4: not accepted on or after the expiry.
        if now >= exp {
            return Err(AuthError::Expired);
        }
        if numeric_claim(&claims, "nbf")?.is_some_and(|nbf| now < nbf) {
            return Err(AuthError::NotYetValid);
        }
        Principal::from_claims(&claims)
    }
}

/// A NumericDate claim in whole seconds; `Ok(None)` when absent.
fn numeric_claim(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<i64>, AuthError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.is_finite())
                    .map(|f| f.floor() as i64)
            })
            .map(Some)
            .ok_or(AuthError::InvalidClaim(name)),
        Some(_) => Err(AuthError::InvalidClaim(name)),
    }
}

/// The token of the one `Authorization: Bearer <token>` header.
fn bearer_token(headers: &HeaderMap) -> Result<&str, AuthError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let value = values.next().ok_or(AuthError::MissingToken)?;
    if values.next().is_some() {
        return Err(AuthError::MalformedHeader);
    }
    let value = value.to_str().map_err(|_| AuthError::MalformedHeader)?;
    let (scheme, token) = value
        .trim()
        .split_once(' ')
        .ok_or(AuthError::MalformedHeader)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.contains(' ') {
        return Err(AuthError::MalformedHeader);
    }
    Ok(token)
}

/// A state the [`Principal`] extractor can authenticate with: `Arc<Deps>` in the API (`crate::deps`).
pub trait AuthState: Send + Sync {
    /// The process's authenticator.
    fn authenticator(&self) -> &Authenticator;
    /// The current instant (simulated locally).
    fn now(&self) -> DateTime<Utc>;
}

impl<S: AuthState> FromRequestParts<S> for Principal {
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let result =
            state
                .authenticator()
                .authenticate(&parts.headers, &parts.extensions, state.now());
        match &result {
            // The reason only: never the token or the claims.
            Err(error) => tracing::info!(
                reason = %error,
                source = ?std::error::Error::source(error).map(ToString::to_string),
                status = error.status().as_u16(),
                "staff request rejected"
            ),
            Ok(principal) => {
                tracing::debug!(user = %principal.user, role = %principal.role, "staff request authenticated")
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use axum::http::Request;
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef-test";

    fn epoch() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 2, 0, 0).unwrap()
    }

    fn hs256() -> Authenticator {
        Authenticator::hs256(JwtSecret::new(SECRET).unwrap())
    }

    /// A fixed clock and an authenticator: what the extractor needs from `Deps`.
    struct TestState {
        auth: Authenticator,
        now: DateTime<Utc>,
    }

    impl AuthState for TestState {
        fn authenticator(&self) -> &Authenticator {
            &self.auth
        }
        fn now(&self) -> DateTime<Utc> {
            self.now
        }
    }

    fn parts(authorization: Option<&str>) -> Parts {
        let mut request = Request::builder().uri("/v1/customers");
        if let Some(value) = authorization {
            request = request.header(header::AUTHORIZATION, value);
        }
        request.body(()).unwrap().into_parts().0
    }

    async fn extract(state: &TestState, mut parts: Parts) -> Result<Principal, AuthError> {
        Principal::from_request_parts(&mut parts, state).await
    }

    fn lan() -> Principal {
        Principal::new("lan", Role::Manager, Some("hn-1".into()))
    }

    /// Signs arbitrary claims with `alg` and `secret`, for tokens Nhịp would never issue.
    fn sign(claims: Value, alg: Algorithm, secret: &[u8]) -> String {
        jsonwebtoken::encode(
            &Header::new(alg),
            &claims,
            &EncodingKey::from_secret(secret),
        )
        .unwrap()
    }

    async fn response_of(error: AuthError) -> (StatusCode, Option<String>, Value) {
        use http_body_util::BodyExt;
        let response = error.into_response();
        let status = response.status();
        let challenge = response
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap().to_owned());
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, challenge, serde_json::from_slice(&body).unwrap())
    }

    async fn assert_unauthenticated(error: AuthError) {
        let (status, challenge, body) = response_of(error).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(challenge.unwrap().starts_with("Bearer "));
        assert_eq!(body["error"]["code"], "unauthenticated");
        assert!(body["error"]["message"].as_str().is_some());
    }

    #[tokio::test]
    async fn a_valid_token_yields_its_principal() {
        let state = TestState {
            auth: hs256(),
            now: epoch(),
        };
        let token = state.auth.issue(&lan(), epoch(), Duration::hours(1));
        let principal = extract(&state, parts(Some(&format!("Bearer {token}"))))
            .await
            .unwrap();
        assert_eq!(principal, lan());
        // The scheme is case-insensitive.
        let principal = extract(&state, parts(Some(&format!("bearer {token}"))))
            .await
            .unwrap();
        assert_eq!(principal.user, "lan");
    }

    #[tokio::test]
    async fn expiry_follows_the_simulated_clock() {
        let auth = hs256();
        // Issued in the simulated future: the machine's clock would call it not yet issued,
        // the deployment's clock is what counts.
        let future = epoch() + Duration::days(400);
        let token = auth.issue(&lan(), future, Duration::hours(1));
        let header = format!("Bearer {token}");
        let at = |now| TestState { auth: hs256(), now };
        assert!(extract(&at(future), parts(Some(&header))).await.is_ok());
        assert!(
            extract(&at(future + Duration::minutes(59)), parts(Some(&header)))
                .await
                .is_ok()
        );
        let error = extract(&at(future + Duration::hours(1)), parts(Some(&header)))
            .await
            .unwrap_err();
        assert!(matches!(error, AuthError::Expired), "{error:?}");
        assert_unauthenticated(error).await;
    }

    #[tokio::test]
    async fn a_token_signed_with_another_secret_is_rejected() {
        let state = TestState {
            auth: hs256(),
            now: epoch(),
        };
        let other = Authenticator::hs256(JwtSecret::new([7u8; 32]).unwrap());
        let token = other.issue(&lan(), epoch(), Duration::hours(1));
        let error = extract(&state, parts(Some(&format!("Bearer {token}"))))
            .await
            .unwrap_err();
        assert!(matches!(error, AuthError::InvalidToken(_)), "{error:?}");
        assert_unauthenticated(error).await;
    }

    #[tokio::test]
    async fn other_algorithms_are_rejected() {
        let state = TestState {
            auth: hs256(),
            now: epoch(),
        };
        let claims = json!({
            "iss": DEFAULT_ISSUER, "sub": "lan", "nhip:role": "admin",
            "exp": (epoch() + Duration::hours(1)).timestamp(),
        });
        // HS512 with the right secret.
        let hs512 = sign(claims.clone(), Algorithm::HS512, SECRET);
        // `alg: none`, unsigned.
        let b64 = |v: &Value| {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        let none = format!(
            "{}.{}.",
            b64(&json!({"alg": "none", "typ": "JWT"})),
            b64(&claims)
        );
        // The right signature but the header claims `none`.
        let good = sign(claims.clone(), Algorithm::HS256, SECRET);
        let signature = good.rsplit('.').next().unwrap();
        let none_signed = format!("{none}{signature}");
        for token in [hs512, none, none_signed] {
            let error = extract(&state, parts(Some(&format!("Bearer {token}"))))
                .await
                .unwrap_err();
            assert!(matches!(error, AuthError::InvalidToken(_)), "{error:?}");
            assert_unauthenticated(error).await;
        }
        // The same claims signed HS256 pass, so the algorithm was the only problem.
        assert!(
            extract(&state, parts(Some(&format!("Bearer {good}"))))
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn issuer_and_expiry_are_required() {
        let state = TestState {
            auth: hs256(),
            now: epoch(),
        };
        let exp = (epoch() + Duration::hours(1)).timestamp();
        let cases = [
            json!({"iss": "someone-else", "sub": "lan", "nhip:role": "admin", "exp": exp}),
            json!({"sub": "lan", "nhip:role": "admin", "exp": exp}),
            json!({"iss": DEFAULT_ISSUER, "sub": "lan", "nhip:role": "admin"}),
            json!({"iss": DEFAULT_ISSUER, "sub": "lan", "nhip:role": "admin", "exp": "soon"}),
            json!({"iss": DEFAULT_ISSUER, "nhip:role": "admin", "exp": exp}),
        ];
        for claims in cases {
            let token = sign(claims.clone(), Algorithm::HS256, SECRET);
            let error = extract(&state, parts(Some(&format!("Bearer {token}"))))
                .await
                .unwrap_err();
            assert_eq!(
                error.status(),
                StatusCode::UNAUTHORIZED,
                "{claims}: {error:?}"
            );
        }
        // A configured issuer replaces the default.
        let custom = Authenticator::new(AuthMode::Hs256 {
            secret: JwtSecret::new(SECRET).unwrap(),
            issuer: "https://idp.example.vn".into(),
        });
        let token = sign(
            json!({"iss": "https://idp.example.vn", "sub": "lan", "nhip:role": "admin", "exp": exp}),
            Algorithm::HS256,
            SECRET,
        );
        assert!(custom.verify(&token, epoch()).is_ok());
        assert!(hs256().verify(&token, epoch()).is_err());
    }

    #[tokio::test]
    async fn a_missing_header_is_unauthenticated() {
        let state = TestState {
            auth: hs256(),
            now: epoch(),
        };
        let error = extract(&state, parts(None)).await.unwrap_err();
        assert!(matches!(error, AuthError::MissingToken), "{error:?}");
        let (_, challenge, _) = response_of(AuthError::MissingToken).await;
        assert_eq!(challenge.as_deref(), Some(r#"Bearer realm="nhip""#));
        assert_unauthenticated(error).await;
    }

    #[tokio::test]
    async fn malformed_headers_are_unauthenticated() {
        let state = TestState {
            auth: hs256(),
            now: epoch(),
        };
        let token = state.auth.issue(&lan(), epoch(), Duration::hours(1));
        for header in [
            token.clone(),
            format!("Basic {token}"),
            "Bearer".to_owned(),
            "Bearer ".to_owned(),
            format!("Bearer {token} extra"),
        ] {
            let error = extract(&state, parts(Some(&header))).await.unwrap_err();
            assert!(
                matches!(error, AuthError::MalformedHeader),
                "{header}: {error:?}"
            );
            assert_unauthenticated(error).await;
        }
        for garbled in ["Bearer not-a-jwt", "Bearer a.b.c", "Bearer ...."] {
            let error = extract(&state, parts(Some(garbled))).await.unwrap_err();
            assert!(
                matches!(error, AuthError::InvalidToken(_)),
                "{garbled}: {error:?}"
            );
            assert_unauthenticated(error).await;
        }
        // Two Authorization headers: ambiguous, rejected.
        let mut two = parts(Some(&format!("Bearer {token}")));
        two.headers.append(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
        assert!(matches!(
            extract(&state, two).await.unwrap_err(),
            AuthError::MalformedHeader
        ));
    }

    #[tokio::test]
    async fn an_unknown_role_is_forbidden() {
        let state = TestState {
            auth: hs256(),
            now: epoch(),
        };
        let exp = (epoch() + Duration::hours(1)).timestamp();
        let unknown = sign(
            json!({"iss": DEFAULT_ISSUER, "sub": "lan", "nhip:role": "superuser", "exp": exp}),
            Algorithm::HS256,
            SECRET,
        );
        let no_role = sign(
            json!({"iss": DEFAULT_ISSUER, "sub": "lan", "cognito:groups": ["staff"], "exp": exp}),
            Algorithm::HS256,
            SECRET,
        );
        for token in [unknown, no_role] {
            let error = extract(&state, parts(Some(&format!("Bearer {token}"))))
                .await
                .unwrap_err();
            let (status, challenge, body) = response_of(error).await;
            assert_eq!(status, StatusCode::FORBIDDEN);
            assert_eq!(challenge, None);
            assert_eq!(body["error"]["code"], "forbidden");
        }
    }

    #[tokio::test]
    async fn gateway_mode_trusts_only_the_verified_claims() {
        let state = TestState {
            auth: Authenticator::gateway(),
            now: epoch(),
        };
        // A perfectly good HS256 token counts for nothing in gateway mode.
        let token = hs256().issue(&lan(), epoch(), Duration::hours(1));
        let error = extract(&state, parts(Some(&format!("Bearer {token}"))))
            .await
            .unwrap_err();
        assert!(matches!(error, AuthError::NoVerifiedClaims), "{error:?}");
        assert_unauthenticated(error).await;

        // Claims as API Gateway passes them: every value a string, arrays flattened.
        let mut with_claims = parts(None);
        with_claims.extensions.insert(
            [
                ("sub", "6f1c-uuid"),
                ("cognito:username", "minh"),
                ("cognito:groups", "[Staff Telesales]"),
                ("custom:team", "hcm-2"),
                ("email", "minh@example.vn"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect::<VerifiedClaims>(),
        );
        let principal = extract(&state, with_claims).await.unwrap();
        assert_eq!(
            principal,
            Principal::new("minh", Role::Telesales, Some("hcm-2".into()))
        );

        let mut no_role = parts(None);
        no_role.extensions.insert(VerifiedClaims(
            json!({"sub": "x"}).as_object().unwrap().clone(),
        ));
        let error = extract(&state, no_role).await.unwrap_err();
        assert_eq!(error.status(), StatusCode::FORBIDDEN);
    }

    #[test]
    fn claims_map_in_order_of_preference() {
        let claims = |v: Value| v.as_object().unwrap().clone();
        let p = Principal::from_claims(&claims(json!({
            "sub": "uuid", "username": "u", "cognito:username": "cu", "nhip:user": "nu",
            "cognito:groups": ["admin"], "custom:role": "agent", "nhip:role": "rm",
            "custom:team": "ct", "nhip:team": "nt",
        })))
        .unwrap();
        assert_eq!(p, Principal::new("nu", Role::Rm, Some("nt".into())));
        let p = Principal::from_claims(&claims(json!({
            "sub": "uuid", "custom:role": "Agent", "custom:team": "ct",
        })))
        .unwrap();
        assert_eq!(p, Principal::new("uuid", Role::Agent, Some("ct".into())));
        let p = Principal::from_claims(&claims(json!({
            "sub": "uuid", "username": "u", "cognito:groups": ["staff", "consultant", "admin"],
        })))
        .unwrap();
        assert_eq!(p, Principal::new("u", Role::Consultant, None));
        // Empty strings count as absent.
        let p = Principal::from_claims(&claims(json!({
            "nhip:user": "", "sub": "s", "nhip:role": "admin", "nhip:team": " ",
        })))
        .unwrap();
        assert_eq!(p, Principal::new("s", Role::Admin, None));
        assert!(matches!(
            Principal::from_claims(&claims(json!({"nhip:role": "admin"}))),
            Err(AuthError::NoUser)
        ));
    }

    #[test]
    fn roles_parse_and_serialise_in_snake_case() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
            assert_eq!(serde_json::to_value(role).unwrap(), json!(role.as_str()));
            assert_eq!(
                serde_json::from_value::<Role>(json!(role.as_str())).unwrap(),
                role
            );
        }
        assert_eq!("RM".parse::<Role>().unwrap(), Role::Rm);
        assert_eq!(" Admin ".parse::<Role>().unwrap(), Role::Admin);
        assert!("root".parse::<Role>().is_err());
        assert!("".parse::<Role>().is_err());
    }

    #[test]
    fn scope_and_visibility_for_every_role() {
        let me = "me";
        let team = "t1";
        // (owner, team) of a record, as the routes see it.
        let records: [(Option<&str>, Option<&str>); 6] = [
            (Some(me), Some(team)),
            (Some(me), None),
            (Some("other"), Some(team)),
            (Some("other"), Some("t2")),
            (None, Some(team)),
            (None, None),
        ];
        for role in Role::ALL {
            let with_team = Principal::new(me, role, Some(team.into()));
            let without_team = Principal::new(me, role, None);
            assert_eq!(with_team.is_admin(), role == Role::Admin);
            assert_eq!(with_team.require_admin().is_ok(), role == Role::Admin);
            let (expected_scope, expected_without) = match role {
                Role::Admin => (Scope::All, Scope::All),
                Role::Manager => (Scope::Team(team.into()), Scope::Owner(me.into())),
                _ => (Scope::Owner(me.into()), Scope::Owner(me.into())),
            };
            assert_eq!(with_team.scope(), expected_scope, "{role}");
            assert_eq!(without_team.scope(), expected_without, "{role}");
            let visible: Vec<bool> = records
                .iter()
                .map(|(o, t)| with_team.can_see(*o, *t))
                .collect();
            let expected = match role {
                Role::Admin => vec![true; 6],
                Role::Manager => vec![true, false, true, false, true, false],
                _ => vec![true, true, false, false, false, false],
            };
            assert_eq!(visible, expected, "{role} with a team");
            let visible: Vec<bool> = records
                .iter()
                .map(|(o, t)| without_team.can_see(*o, *t))
                .collect();
            let expected = match role {
                Role::Admin => vec![true; 6],
                _ => vec![true, true, false, false, false, false],
            };
            assert_eq!(visible, expected, "{role} without a team");
        }
    }

    #[test]
    fn secrets_are_checked_and_never_printed() {
        assert_eq!(JwtSecret::new(vec![1u8; 31]), Err(WeakSecret(31)));
        let secret = JwtSecret::new(SECRET).unwrap();
        let printed = format!("{secret:?} {:?}", hs256());
        assert!(!printed.contains("0123456789abcdef"), "{printed}");
        let claims: VerifiedClaims = [("email".to_owned(), "a@b.vn".to_owned())]
            .into_iter()
            .collect();
        assert!(!format!("{claims:?}").contains("a@b.vn"));
    }

    #[test]
    #[should_panic(expected = "gateway mode")]
    fn gateway_mode_issues_no_tokens() {
        Authenticator::gateway().issue(&lan(), epoch(), Duration::hours(1));
    }
}
