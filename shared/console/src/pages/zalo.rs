//! "Zalo OA" (admins only): the Official Account's token pair Nhịp keeps for ZNS. The page
//! shows when the access and refresh tokens expire, the last refresh and the last failure; an
//! admin installs a pair by hand (from Zalo's API Explorer), or connects the OA through Zalo's
//! authorization-code flow with PKCE (when the Zalo app's id and secret key are configured).
//! The tokens themselves are never shown. Others get the not-found page.

use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use nhip_core::deps::Deps;
use nhip_messaging::zalo_tokens::{InstallError, TokenStatus, ZaloTokens};
use nhip_ports::zalo::IssuedTokens;

use crate::format;
use crate::pages::admin::admin_only;
use crate::pages::hosted::Flow;
use crate::pages::{Shell, problem_of, redirect_with_problem, render};
use crate::session::{Staff, store_failure};

/// The page's path.
pub const PAGE: &str = "/app/admin/zalo";
/// Where Zalo sends the admin back with a code; register `<public URL>` + this in the Zalo
/// app's settings.
pub const CALLBACK: &str = "/app/admin/zalo/callback";
/// The cookie carrying `state` and the PKCE verifier while the admin is at Zalo.
const FLOW_COOKIE: &str = "nhip_zalo_flow";

/// Said when no credentials key is configured.
const NO_KEY: &str = "Chưa cấu hình khoá niêm phong NHIP_CREDENTIALS_KEY nên không lưu được token.";

/// The pair as the page shows it.
pub struct PairView {
    pub state: &'static str,
    pub healthy: bool,
    pub access_expires: String,
    pub refresh_expires: String,
    pub refreshed: String,
    pub refreshes: u64,
    pub installed: String,
    pub failure: String,
}

#[derive(Template)]
#[template(path = "zalo.html")]
struct ZaloPage {
    shell: Shell,
    pair: Option<PairView>,
    can_refresh: bool,
    can_seal: bool,
    callback_url: String,
    problem: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ZaloQuery {
    done: String,
    problem: String,
    seal: String,
}

fn view(status: &TokenStatus) -> PairView {
    let state = if status.revoked {
        "Zalo từ chối refresh token: cần cài cặp token mới"
    } else if status.failures > 0 {
        "Làm mới đang lỗi, sẽ thử lại"
    } else {
        "Đang hoạt động"
    };
    PairView {
        state,
        healthy: !status.revoked && status.failures == 0,
        access_expires: format::date_time(status.access_expires_at),
        refresh_expires: format::date_time(status.refresh_expires_at),
        refreshed: status
            .refreshed_at
            .map_or_else(|| "chưa lần nào".into(), format::date_time),
        refreshes: status.refreshes,
        installed: format!(
            "{}, {}",
            status.installed_by,
            format::date_time(status.installed_at)
        ),
        failure: match (&status.last_error, status.last_error_at) {
            (Some(error), Some(at)) => format!(
                "{} lần liên tiếp; lần cuối {}: {error}",
                status.failures,
                format::date_time(at)
            ),
            _ => String::new(),
        },
    }
}

/// `GET /app/admin/zalo`.
pub async fn page(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    Query(query): Query<ZaloQuery>,
) -> Response {
    if let Err(response) = admin_only(&staff) {
        return response;
    }
    let mut shell = match Shell::load(&deps, &staff, PAGE).await {
        Ok(shell) => shell,
        Err(response) => return response,
    };
    match query.done.as_str() {
        "installed" => shell = shell.flash("Đã cài cặp token. ZNS gửi bằng token này từ bây giờ."),
        "connected" => shell = shell.flash("Đã kết nối Zalo OA. ZNS gửi bằng token Zalo vừa cấp."),
        _ => {}
    }
    let tokens = ZaloTokens::from_deps(&deps);
    let status = match tokens.status().await {
        Ok(status) => status,
        Err(error) => return store_failure(error),
    };
    render(&ZaloPage {
        shell,
        pair: status.as_ref().map(view),
        can_refresh: tokens.can_refresh(),
        can_seal: deps.settings.messaging.credentials_key.is_some(),
        callback_url: format!("{}{CALLBACK}", deps.settings.messaging.public_url),
        problem: problem_of(&staff, &query.problem, &query.seal),
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PairForm {
    access_token: String,
    refresh_token: String,
    expires_hours: String,
}

/// `POST /app/admin/zalo/tokens`: a pair given by hand replaces the stored one.
pub async fn install(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    axum::Form(form): axum::Form<PairForm>,
) -> Response {
    if let Err(response) = admin_only(&staff) {
        return response;
    }
    let back = |problem: &str| redirect_with_problem(&staff, PAGE, problem);
    let hours = match form.expires_hours.trim() {
        "" => 25,
        text => match text.parse::<u64>() {
            Ok(hours) if (1..=2160).contains(&hours) => hours,
            _ => return back("Access token còn hiệu lực: số giờ từ 1 đến 2160 (Zalo cấp 25 giờ)."),
        },
    };
    let tokens = IssuedTokens {
        access_token: form.access_token.trim().to_owned(),
        refresh_token: form.refresh_token.trim().to_owned(),
        expires_in: Duration::from_secs(hours * 3600),
    };
    installed(&deps, &staff, &tokens, "installed").await
}

/// Stores `tokens` for `staff` and returns to the page with `done`, or with the problem.
async fn installed(deps: &Deps, staff: &Staff, tokens: &IssuedTokens, done: &str) -> Response {
    match ZaloTokens::from_deps(deps)
        .install(tokens, &staff.principal.user)
        .await
    {
        Ok(_) => {
            tracing::info!(by = %staff.principal.user, "console: a Zalo OA token pair was installed");
            Redirect::to(&format!("{PAGE}?done={done}")).into_response()
        }
        Err(InstallError::Store(error)) => store_failure(error),
        Err(InstallError::Invalid(problem)) => {
            redirect_with_problem(staff, PAGE, &format!("Cặp token không hợp lệ: {problem}."))
        }
        Err(InstallError::NoKey) => redirect_with_problem(staff, PAGE, NO_KEY),
    }
}

/// `POST /app/admin/zalo/connect`: to Zalo's permission page, with a fresh `state` and the
/// S256 challenge of a fresh verifier kept in a short-lived cookie.
pub async fn connect(State(deps): State<Arc<Deps>>, staff: Staff) -> Response {
    if let Err(response) = admin_only(&staff) {
        return response;
    }
    if deps.settings.messaging.credentials_key.is_none() {
        // Zalo's code would be traded for a pair that cannot be stored.
        return redirect_with_problem(&staff, PAGE, NO_KEY);
    }
    let flow = Flow::start(PAGE);
    let redirect_uri = format!("{}{CALLBACK}", deps.settings.messaging.public_url);
    let Some(url) = deps
        .zalo_oauth
        .as_ref()
        .and_then(|oauth| oauth.permission_url(&redirect_uri, &flow.challenge(), &flow.state))
    else {
        return redirect_with_problem(
            &staff,
            PAGE,
            "Chưa cấu hình ứng dụng Zalo (NHIP_ZALO_APP_ID và App secret key).",
        );
    };
    let mut response = Redirect::to(&url).into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, flow.cookie(&deps, FLOW_COOKIE));
    response
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Callback {
    code: String,
    state: String,
}

/// `GET /app/admin/zalo/callback`: Zalo's answer; the code is traded (with the verifier)
/// for a first pair, which is installed.
pub async fn callback(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    headers: HeaderMap,
    Query(callback): Query<Callback>,
) -> Response {
    if let Err(response) = admin_only(&staff) {
        return response;
    }
    let back = |problem: &str| {
        let mut response = redirect_with_problem(&staff, PAGE, problem);
        response
            .headers_mut()
            .append(header::SET_COOKIE, Flow::clear(&deps, FLOW_COOKIE));
        response
    };
    let Some(flow) =
        Flow::from_cookie(&headers, FLOW_COOKIE).filter(|flow| flow.matches(&callback.state))
    else {
        return back("Phiên kết nối Zalo đã hết hạn hoặc không khớp. Vui lòng kết nối lại.");
    };
    if callback.code.is_empty() {
        return back("Zalo không cấp quyền cho ứng dụng. Vui lòng kết nối lại.");
    }
    let Some(oauth) = deps.zalo_oauth.clone() else {
        return back("Chưa cấu hình ứng dụng Zalo (NHIP_ZALO_APP_ID và App secret key).");
    };
    let tokens = match oauth.exchange_code(&callback.code, &flow.verifier).await {
        Ok(tokens) => tokens,
        Err(error) => {
            tracing::warn!(%error, "console: Zalo did not trade the authorization code");
            return back(&format!("Zalo không cấp token: {error}"));
        }
    };
    let mut response = installed(&deps, &staff, &tokens, "connected").await;
    response
        .headers_mut()
        .append(header::SET_COOKIE, Flow::clear(&deps, FLOW_COOKIE));
    response
}
