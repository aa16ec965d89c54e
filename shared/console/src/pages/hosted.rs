//! Sign-in through an identity provider's hosted page (Cognito in AWS): the authorization code
//! flow with PKCE. The browser leaves with a random `state` and the S256 challenge of a random
//! verifier, both kept in a short-lived HttpOnly cookie; it comes back to the callback with a
//! code, which is traded (with the verifier) for a verified user name. That name must be an
//! active user of the staff directory, which alone gives the role and team; while the
//! directory is empty, only the configured first admin (`NHIP_FIRST_ADMIN`) may come in, and
//! becomes its first admin.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use nhip_core::deps::Deps;
use nhip_crm::staff;
use nhip_ports::IdentityProvider;

use crate::pages::error_page;
use crate::pages::sign_in::safe_next;
use crate::session::{self, COOKIE, SESSION_HOURS, store_failure};

/// The cookie carrying `state`, the PKCE verifier and where to go after.
pub const FLOW_COOKIE: &str = "nhip_signin_flow";
/// How long a sign-in at the provider may take.
const FLOW_SECONDS: i64 = 600;

/// The PKCE S256 challenge of `verifier`.
pub fn challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// An authorization-code flow with PKCE under way, kept in a short-lived HttpOnly cookie
/// between leaving for the provider and its callback: the `state` sent, the verifier whose
/// challenge was sent, and where to go after. The console's sign-in and its Zalo OA
/// connection both use it, each under a cookie of its own.
pub struct Flow {
    /// The `state` sent; the callback must bring it back.
    pub state: String,
    /// The PKCE verifier, traded with the code.
    pub verifier: String,
    /// Where to go once done.
    pub next: String,
}

impl Flow {
    /// A new flow with a fresh `state` and verifier.
    pub fn start(next: &str) -> Self {
        Self {
            state: session::random_token(),
            verifier: session::random_token(),
            next: next.to_owned(),
        }
    }

    /// The S256 challenge sent to the provider.
    pub fn challenge(&self) -> String {
        challenge(&self.verifier)
    }

    /// The cookie `name` keeping the flow.
    pub fn cookie(&self, deps: &Deps, name: &str) -> HeaderValue {
        let flow = form_urlencoded::Serializer::new(String::new())
            .append_pair("s", &self.state)
            .append_pair("v", &self.verifier)
            .append_pair("n", &self.next)
            .finish();
        session::set_cookie(deps, name, &flow, FLOW_SECONDS)
    }

    /// The flow the request's cookie `name` keeps, if a whole one.
    pub fn from_cookie(headers: &HeaderMap, name: &str) -> Option<Self> {
        let flow = session::cookie_value(headers, name)?;
        let value = |key: &str| {
            form_urlencoded::parse(flow.as_bytes())
                .find(|(k, _)| k == key)
                .map(|(_, value)| value.into_owned())
        };
        Some(Self {
            state: value("s").filter(|s| !s.is_empty())?,
            verifier: value("v").filter(|v| !v.is_empty())?,
            next: value("n").unwrap_or_default(),
        })
    }

    /// Whether `returned` is the `state` sent (compared in constant time).
    pub fn matches(&self, returned: &str) -> bool {
        session::tokens_match(returned, &self.state)
    }

    /// The cookie `name` emptied, once the flow is over.
    pub fn clear(deps: &Deps, name: &str) -> HeaderValue {
        session::set_cookie(deps, name, "", 0)
    }
}

/// Sends the browser to the provider's sign-in page.
pub fn send_to_provider(deps: &Deps, provider: &dyn IdentityProvider, next: &str) -> Response {
    let flow = Flow::start(next);
    let mut response =
        Redirect::to(&provider.authorize_url(&flow.state, &flow.challenge())).into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, flow.cookie(deps, FLOW_COOKIE));
    response
}

#[derive(Deserialize)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

fn refused(message: &str) -> Response {
    error_page(StatusCode::FORBIDDEN, "Không đăng nhập được", message)
}

/// `GET /app/auth/callback`: the provider's answer.
pub async fn callback(
    State(deps): State<Arc<Deps>>,
    headers: HeaderMap,
    Query(callback): Query<Callback>,
) -> Response {
    let Some(provider) = deps.identity.clone() else {
        return crate::pages::not_found();
    };
    let flow = Flow::from_cookie(&headers, FLOW_COOKIE);
    let next = flow.as_ref().map(|f| f.next.clone());
    let username = match signed_in_name(provider.as_ref(), flow, callback).await {
        Ok(username) => username,
        Err(response) => return response,
    };
    let user = match directory_user(&deps, &username).await {
        Ok(user) => user,
        Err(response) => return response,
    };
    let token = match session::start(&deps, &user, false).await {
        Ok(token) => token,
        Err(error) => return store_failure(error),
    };
    tracing::info!(user = %user.username, "console: signed in through the identity provider");
    let mut response = Redirect::to(&safe_next(next.as_deref())).into_response();
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        session::set_cookie(&deps, COOKIE, &token, SESSION_HOURS * 3600),
    );
    headers.append(header::SET_COOKIE, Flow::clear(&deps, FLOW_COOKIE));
    response
}

/// The user name the provider vouches for, once the returned `state` matches the one sent
/// and the code is traded with the verifier kept.
async fn signed_in_name(
    provider: &dyn IdentityProvider,
    flow: Option<Flow>,
    callback: Callback,
) -> Result<String, Response> {
    let Some(flow) = flow else {
        return Err(refused(
            "Phiên đăng nhập đã hết hạn. Vui lòng đăng nhập lại.",
        ));
    };
    if callback.error.is_some() {
        return Err(refused(
            "Trang đăng nhập đã từ chối. Vui lòng đăng nhập lại.",
        ));
    }
    let (Some(code), Some(returned)) = (callback.code, callback.state) else {
        return Err(refused("Thiếu mã đăng nhập. Vui lòng đăng nhập lại."));
    };
    if !flow.matches(&returned) {
        return Err(refused(
            "Phiên đăng nhập không khớp. Vui lòng đăng nhập lại.",
        ));
    }
    provider
        .exchange(&code, &flow.verifier)
        .await
        .map_err(|error| {
            tracing::warn!(%error, "console: the identity provider's sign-in failed");
            refused("Không xác minh được đăng nhập. Vui lòng đăng nhập lại.")
        })
}

/// The active directory user of that name; while the directory is empty, the configured first
/// admin is added as its first admin.
async fn directory_user(deps: &Deps, username: &str) -> Result<staff::StaffUser, Response> {
    let mut user = staff::user(&*deps.store, username)
        .await
        .map_err(store_failure)?;
    if user.is_none() && deps.settings.first_admin.as_deref() == Some(username) {
        let now = deps.clock.now();
        user = match staff::bootstrap_first_admin(&*deps.store, username, now).await {
            Ok(user) => user,
            Err(staff::DirectoryError::Store(error)) => return Err(store_failure(error)),
            Err(error) => {
                tracing::error!(%error, "console: the first admin could not be added");
                None
            }
        };
    }
    user.filter(|user| user.active).ok_or_else(|| {
        tracing::info!(user = %username, "console: signed in at the provider, not in the directory");
        refused(
            "Tài khoản này chưa có (hoặc đã bị khoá) trong danh bạ nhân sự của Nhịp. Liên hệ quản trị viên.",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::challenge;

    #[test]
    fn the_challenge_is_the_unpadded_base64url_sha256_of_the_verifier() {
        // Computed apart: base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip("=").
        assert_eq!(
            challenge("dBjftJeZ4CVP-mJ0kzy2CqV6Q9eG2Ycjy1K3R0DlIJY"),
            "XGP-6VoPBWlA7s7PtRrZit7aornVmASceLOt-6Zb7gY"
        );
    }
}
