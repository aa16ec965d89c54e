//! Signing in and out. Locally staff sign in with the password of their directory record;
//! after five failed attempts a user name is locked for the rest of a 15-minute window.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use nhip_core::deps::Deps;
use nhip_crm::staff::{self, SignInError};

use crate::assets;
use crate::pages::render;
use crate::session::{self, COOKIE, ClientIp, SESSION_HOURS, SIGN_IN_COOKIE, Staff, store_failure};

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    css: String,
    csrf: String,
    next: String,
    username: String,
    error: Option<String>,
}

/// Where to go after signing in: a console path, never another site.
pub(crate) fn safe_next(next: Option<&str>) -> String {
    match next {
        // The home page after a sign-in shows the notice of leads waiting.
        Some(next)
            if next.starts_with("/app")
                && next != "/app"
                && !next.contains("//")
                && !next.contains('\\')
                && next.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            next.to_owned()
        }
        _ => "/app?welcome=1".into(),
    }
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

fn form(deps: &Deps, next: String, username: String, error: Option<String>) -> Response {
    let csrf = session::random_token();
    let page = SignInPage {
        css: assets::url("app.css"),
        csrf: csrf.clone(),
        next,
        username,
        error,
    };
    let mut response = render(&page);
    response.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(deps, SIGN_IN_COOKIE, &csrf, 3600),
    );
    response
}

/// `GET /app/sign-in`: the form (or, with an identity provider, its hosted page); a
/// signed-in visitor goes straight on.
pub async fn page(
    State(deps): State<Arc<Deps>>,
    headers: HeaderMap,
    Query(query): Query<NextQuery>,
) -> Response {
    let next = safe_next(query.next.as_deref());
    if let Some(token) = session::cookie_value(&headers, COOKIE)
        && let Ok(Some(_)) = session::load(&deps, &token).await
    {
        return Redirect::to(&next).into_response();
    }
    if let Some(provider) = &deps.identity {
        return crate::pages::hosted::send_to_provider(&deps, provider.as_ref(), &next);
    }
    form(&deps, next, String::new(), None)
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: Option<String>,
}

/// `POST /app/sign-in`: checks the password and starts a session (not with an identity
/// provider, whose hosted page takes the password).
pub async fn submit(
    State(deps): State<Arc<Deps>>,
    ClientIp(source): ClientIp,
    axum::Form(request): axum::Form<SignInForm>,
) -> Response {
    let next = safe_next(request.next.as_deref());
    if deps.identity.is_some() {
        return Redirect::to("/app/sign-in").into_response();
    }
    let now = deps.clock.now();
    match staff::sign_in(
        &*deps.store,
        &request.username,
        &request.password,
        source,
        now,
    )
    .await
    {
        Ok(signed_in) => start_session(&deps, &signed_in, next).await,
        Err(SignInError::Refused) => {
            let mut response = form(
                &deps,
                next,
                request.username,
                Some("Sai tên đăng nhập hoặc mật khẩu.".into()),
            );
            *response.status_mut() = axum::http::StatusCode::UNAUTHORIZED;
            response
        }
        Err(SignInError::Locked(seconds)) => {
            let minutes = (seconds + 59) / 60;
            let mut response = form(
                &deps,
                next,
                request.username,
                Some(format!(
                    "Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau {minutes} phút."
                )),
            );
            *response.status_mut() = axum::http::StatusCode::TOO_MANY_REQUESTS;
            response
        }
        Err(SignInError::Store(error)) => store_failure(error),
    }
}

/// Starts the session of a successful sign-in and sends the browser on (to choose a password
/// first, when theirs is temporary).
async fn start_session(deps: &Deps, signed_in: &staff::SignedIn, next: String) -> Response {
    let token = match session::start(deps, &signed_in.user, signed_in.must_change).await {
        Ok(token) => token,
        Err(error) => return store_failure(error),
    };
    tracing::info!(user = %signed_in.user.username, "console: signed in");
    let target = if signed_in.must_change {
        session::PASSWORD_PATH.to_owned()
    } else {
        next
    };
    let mut response = Redirect::to(&target).into_response();
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        session::set_cookie(deps, COOKIE, &token, SESSION_HOURS * 3600),
    );
    headers.append(
        header::SET_COOKIE,
        session::set_cookie(deps, SIGN_IN_COOKIE, "", 0),
    );
    response
}

/// `POST /app/sign-out`: ends the session and clears the cookie.
pub async fn sign_out(State(deps): State<Arc<Deps>>, headers: HeaderMap) -> Response {
    if let Some(token) = session::cookie_value(&headers, COOKIE)
        && let Err(error) = session::end(&deps, &token).await
    {
        return store_failure(error);
    }
    // With an identity provider its own session ends too, or the next visit would sign the
    // same person straight back in.
    let target = deps.identity.as_ref().map_or_else(
        || "/app/sign-in".to_owned(),
        |provider| provider.logout_url(),
    );
    let mut response = Redirect::to(&target).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(&deps, COOKIE, "", 0),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_console_paths_are_followed_after_sign_in() {
        assert_eq!(safe_next(Some("/app/care?name=a")), "/app/care?name=a");
        assert_eq!(safe_next(Some("https://evil.example")), "/app?welcome=1");
        assert_eq!(safe_next(Some("/app//evil.example")), "/app?welcome=1");
        assert_eq!(safe_next(None), "/app?welcome=1");
    }
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    css: String,
    csrf: String,
    display_name: String,
    error: Option<String>,
}

/// `GET /app/password`: choose a new password (asked at the first sign-in with a password an
/// admin set or the runner generated).
pub async fn password_page(State(deps): State<Arc<Deps>>, staff: Staff) -> Response {
    // Only a temporary password is replaced here (no current password is asked for): an
    // open session cannot be turned into a new password, and with an identity provider the
    // console keeps no passwords at all.
    if !staff.must_change || deps.identity.is_some() {
        return crate::pages::not_found();
    }
    render(&PasswordPage {
        css: assets::url("app.css"),
        csrf: staff.csrf.clone(),
        display_name: staff.user.display_name.clone(),
        error: None,
    })
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

/// `POST /app/password`: sets the new password and lets the session go on.
pub async fn change_password(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    axum::Form(form): axum::Form<PasswordForm>,
) -> Response {
    if !staff.must_change || deps.identity.is_some() {
        return crate::pages::not_found();
    }
    let refuse = |message: String| {
        let mut response = render(&PasswordPage {
            css: assets::url("app.css"),
            csrf: staff.csrf.clone(),
            display_name: staff.user.display_name.clone(),
            error: Some(message),
        });
        *response.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
        response
    };
    if form.password != form.confirm {
        return refuse("Hai lần nhập mật khẩu không khớp.".into());
    }
    let now = deps.clock.now();
    match staff::set_password(
        &*deps.store,
        &staff.user.username,
        &form.password,
        false,
        now,
    )
    .await
    {
        Ok(()) => match session::password_changed(&deps, &staff.session, now).await {
            Ok(()) => Redirect::to("/app?welcome=1").into_response(),
            Err(error) => store_failure(error),
        },
        Err(staff::DirectoryError::Invalid { message, .. }) => refuse(message),
        Err(staff::DirectoryError::Store(error)) => store_failure(error),
        Err(other) => refuse(other.to_string()),
    }
}
