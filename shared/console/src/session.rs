//! Console sessions, CSRF protection and the security headers of every page.
//!
//! A session is a random 256-bit token in an HttpOnly, SameSite=Lax cookie (Secure when
//! served by Lambda, always over HTTPS); the table keeps only its SHA-256, with the user, a
//! CSRF token and the expiry ([`SESSION_HOURS`] on the deployment's clock, simulated locally).
//! Every request maps the session to its user in the staff directory again, so a disabled user
//! or a changed role takes effect at the next click.
//!
//! Every state-changing request (anything but GET and HEAD) must carry the session's CSRF
//! token: the `_csrf` field of a form, or the `X-CSRF-Token` header htmx sends. A request whose
//! `Origin` is another site's is refused before that. The sign-in form, which has no session
//! yet, carries a token matched against a short-lived pre-session cookie instead.

use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Duration, Utc};
use cookie::{Cookie, SameSite};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use nhip_core::auth::Principal;
use nhip_core::deps::Deps;
use nhip_core::keys;
use nhip_crm::staff::{self, StaffUser};
use nhip_ports::store::{Condition, StoreError};

/// The session cookie.
pub const COOKIE: &str = "nhip_session";
/// The sign-in form's pre-session cookie (its CSRF token).
pub const SIGN_IN_COOKIE: &str = "nhip_signin";
/// How long a session lasts: a working day.
pub const SESSION_HOURS: i64 = 12;
/// Where a user whose password someone else set chooses their own.
pub const PASSWORD_PATH: &str = "/app/password";
/// The largest form body the console reads (a CSV import).
pub const MAX_FORM_BYTES: usize = 8 * 1024 * 1024;
/// The form field carrying the CSRF token.
pub const CSRF_FIELD: &str = "_csrf";
/// The header htmx sends the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The Content-Security-Policy of every console answer: scripts and styles only from the
/// console's own files (no inline script, no eval), no framing.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// A fresh random token, hex (256 bits).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system provides randomness");
    hex::encode(bytes)
}

fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A stored session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The SHA-256 of the cookie.
    pub hash: String,
    /// The user signed in.
    pub username: String,
    /// The token state-changing requests must carry.
    pub csrf: String,
    /// When it ends.
    pub expires_at: DateTime<Utc>,
    /// The user signed in with a password someone else set: every page asks for a new one.
    pub must_change: bool,
    /// When it started (or the user last chose their password in it).
    pub created_at: DateTime<Utc>,
}

/// Starts a session for `user`; answers the cookie's value.
pub async fn start(deps: &Deps, user: &StaffUser, must_change: bool) -> Result<String, StoreError> {
    let token = random_token();
    let now = deps.clock.now();
    let expires_at = now + Duration::hours(SESSION_HOURS);
    let mut item = keys::console_session(&digest(&token)).to_item();
    item.insert("kind".into(), "console_session".into());
    item.insert("username".into(), user.username.clone().into());
    item.insert("csrf".into(), random_token().into());
    item.insert("created_at".into(), keys::instant(now).into());
    item.insert("expires_at".into(), keys::instant(expires_at).into());
    item.insert("ttl".into(), expires_at.timestamp().into());
    item.insert("must_change".into(), must_change.into());
    deps.store.put(item, Condition::NotExists).await?;
    Ok(token)
}

/// Records that the session's user chose their own password at `now`: this session goes on
/// (the others of the user ended with the old password).
pub async fn password_changed(
    deps: &Deps,
    session_hash: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    deps.store
        .update(
            &keys::console_session(session_hash),
            nhip_ports::store::Update::new()
                .set("must_change", false)
                .set("created_at", keys::instant(now)),
            Condition::Exists,
        )
        .await
        .map(|_| ())
}

/// Ends the session with this cookie value (nothing if there is none).
pub async fn end(deps: &Deps, token: &str) -> Result<(), StoreError> {
    deps.store
        .delete(&keys::console_session(&digest(token)), Condition::Always)
        .await
}

/// The live session of this cookie value, if any.
pub async fn load(deps: &Deps, token: &str) -> Result<Option<Session>, StoreError> {
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let hash = digest(token);
    let Some(item) = deps.store.get(&keys::console_session(&hash)).await? else {
        return Ok(None);
    };
    let text = |name: &str| item.get(name).and_then(Value::as_str).map(str::to_owned);
    let instant = |name: &str| {
        text(name)
            .and_then(|at| DateTime::parse_from_rfc3339(&at).ok())
            .map(|at| at.with_timezone(&Utc))
    };
    match (
        text("username"),
        text("csrf"),
        instant("expires_at"),
        instant("created_at"),
    ) {
        (Some(username), Some(csrf), Some(expires_at), Some(created_at))
            if expires_at > deps.clock.now() =>
        {
            Ok(Some(Session {
                hash,
                username,
                csrf,
                expires_at,
                must_change: item.get("must_change") == Some(&Value::Bool(true)),
                created_at,
            }))
        }
        _ => Ok(None),
    }
}

/// The value of cookie `name` on the request.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == name)
        .map(|cookie| cookie.value().to_owned())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, path `/`, Secure in Lambda; `max_age` in
/// seconds (0 clears it).
pub fn set_cookie(deps: &Deps, name: &str, value: &str, max_age: i64) -> HeaderValue {
    let cookie = Cookie::build((name.to_owned(), value.to_owned()))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(deps.build.runtime == "lambda")
        .max_age(cookie::time::Duration::seconds(max_age))
        .build();
    HeaderValue::from_str(&cookie.to_string()).expect("a cookie of hex and names is a header")
}

/// The signed-in member of staff: their directory record, the principal they act as (their
/// role and team, with the same scopes as the API), and their session's CSRF token.
#[derive(Debug, Clone)]
pub struct Staff {
    /// Their directory record.
    pub user: StaffUser,
    /// Who they act as.
    pub principal: Principal,
    /// The CSRF token forms must carry.
    pub csrf: String,
    /// The session's key (the SHA-256 of its cookie).
    pub session: String,
    /// Signed in with a password someone else set, not yet replaced.
    pub must_change: bool,
}

/// Why a page needs a sign-in first: the browser is sent to the sign-in page (htmx is told
/// with `HX-Redirect`), and comes back where it was going after.
pub struct SignInFirst {
    next: String,
    htmx: bool,
}

impl IntoResponse for SignInFirst {
    fn into_response(self) -> Response {
        let target = format!(
            "/app/sign-in?next={}",
            form_urlencoded::byte_serialize(self.next.as_bytes()).collect::<String>()
        );
        if self.htmx {
            let mut response = StatusCode::NO_CONTENT.into_response();
            if let Ok(value) = HeaderValue::from_str(&target) {
                response.headers_mut().insert("hx-redirect", value);
            }
            response
        } else {
            Redirect::to(&target).into_response()
        }
    }
}

impl FromRequestParts<Arc<Deps>> for Staff {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        deps: &Arc<Deps>,
    ) -> Result<Self, Self::Rejection> {
        let next = match parts.method {
            Method::GET => parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_else(|| "/app".into()),
            _ => "/app".into(),
        };
        let sign_in = || {
            SignInFirst {
                next: next.clone(),
                htmx: parts.headers.contains_key("hx-request"),
            }
            .into_response()
        };
        // A state-changing request acts only in the session the CSRF guard checked its
        // token against; a page read finds its session by the cookie.
        let changes_state = !matches!(parts.method, Method::GET | Method::HEAD);
        let session = match parts.extensions.get::<Session>() {
            Some(session) => Some(session.clone()),
            None if changes_state => None,
            None => match cookie_value(&parts.headers, COOKIE) {
                Some(token) => load(deps, &token).await.map_err(store_failure)?,
                None => None,
            },
        };
        let Some(session) = session else {
            return Err(sign_in());
        };
        if session.must_change && parts.uri.path() != PASSWORD_PATH {
            return Err(Redirect::to(PASSWORD_PATH).into_response());
        }
        match staff::user(&*deps.store, &session.username)
            .await
            .map_err(store_failure)?
        {
            // A password set since the session began (reset by an admin, changed elsewhere)
            // ends it.
            Some(user)
                if user.active
                    && user
                        .sessions_after
                        .is_none_or(|after| session.created_at >= after) =>
            {
                Ok(Staff {
                    principal: user.principal(),
                    user,
                    csrf: session.csrf,
                    session: session.hash,
                    must_change: session.must_change,
                })
            }
            _ => Err(sign_in()),
        }
    }
}

/// The caller's address: API Gateway's `sourceIp` in Lambda, the socket's peer locally (never
/// a header the client wrote).
pub struct ClientIp(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(nhip_core::http::client_ip(&parts.extensions)))
    }
}

/// The page answered when the store fails: 503, try again.
pub fn store_failure(error: StoreError) -> Response {
    tracing::error!(%error, "console: the store failed");
    crate::pages::error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Hệ thống đang bận",
        "Không đọc được dữ liệu lúc này. Vui lòng thử lại sau ít phút.",
    )
}

fn refused(message: &str) -> Response {
    crate::pages::error_page(StatusCode::FORBIDDEN, "Yêu cầu bị từ chối", message)
}

/// Whether the request's `Origin`, when it has one, is this site.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    origin
        .split_once("://")
        .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host))
}

/// The CSRF token a state-changing request carries: the header, the `_csrf` query parameter
/// (multipart uploads), or the `_csrf` field of a url-encoded form.
fn carried_token(parts: &Parts, body: &[u8]) -> Option<String> {
    if let Some(value) = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()) {
        return Some(value.to_owned());
    }
    let from_pairs = |bytes: &[u8]| {
        form_urlencoded::parse(bytes)
            .find(|(name, _)| name == CSRF_FIELD)
            .map(|(_, value)| value.into_owned())
    };
    if let Some(query) = parts.uri.query()
        && let Some(token) = from_pairs(query.as_bytes())
    {
        return Some(token);
    }
    let form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    form.then(|| from_pairs(body)).flatten()
}

/// Whether two tokens are equal, in time that does not depend on where they differ.
pub(crate) fn tokens_match(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The console's middleware: refuses a state-changing request without the right CSRF token
/// (or from another site), hands the session it loaded to the [`Staff`] extractor, and adds
/// the security headers to every answer.
pub async fn guard(State(deps): State<Arc<Deps>>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let changes_state = !matches!(parts.method, Method::GET | Method::HEAD);
    let request = if changes_state {
        if !same_origin(&parts.headers) {
            return with_headers(refused("Yêu cầu đến từ một trang khác."));
        }
        let Ok(bytes) = to_bytes(body, MAX_FORM_BYTES).await else {
            return with_headers(crate::pages::error_page(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Tệp quá lớn",
                "Nội dung gửi lên vượt quá 8 MB.",
            ));
        };
        let carried = carried_token(&parts, &bytes);
        let expected = if parts.uri.path() == "/app/sign-in" {
            cookie_value(&parts.headers, SIGN_IN_COOKIE)
        } else {
            let session = match cookie_value(&parts.headers, COOKIE) {
                Some(token) => match load(&deps, &token).await {
                    Ok(session) => session,
                    Err(error) => return with_headers(store_failure(error)),
                },
                None => None,
            };
            let csrf = session.as_ref().map(|s| s.csrf.clone());
            if let Some(session) = session {
                parts.extensions.insert(session);
            }
            csrf
        };
        match (carried, expected) {
            (Some(carried), Some(expected)) if tokens_match(&carried, &expected) => {}
            (_, None) if parts.uri.path() != "/app/sign-in" => {
                // No session: the page's own extractor sends the browser to sign in.
            }
            _ => {
                return with_headers(refused(
                    "Phiên làm việc đã hết hạn hoặc biểu mẫu không hợp lệ. Tải lại trang và thử lại.",
                ));
            }
        }
        Request::from_parts(parts, Body::from(bytes))
    } else {
        Request::from_parts(parts, body)
    };
    with_headers(next.run(request).await)
}

/// The security headers of every console answer.
fn with_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        assert!(tokens_match("abc", "abc"));
        assert!(!tokens_match("abc", "abd"));
        assert!(!tokens_match("abc", "ab"));
    }

    #[test]
    fn another_sites_origin_is_not_ours() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:3000"));
        assert!(same_origin(&headers));
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:3000"),
        );
        assert!(same_origin(&headers));
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(!same_origin(&headers));
    }
}
