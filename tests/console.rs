//! The staff console over HTTP (its browser suite is tests/browser): the sign-in through an
//! identity provider (code + PKCE; Cognito in AWS, a stand-in here), the first admin of an
//! empty directory, and what a session cookie and its CSRF token let through.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

use nhip_core::auth::Role;
use nhip_crm::staff::{self, UserInput};
use nhip_ports::{IdentityError, IdentityProvider};

use crate::support::{LocalDeps, local_deps};

/// A stand-in provider: it signs in `user` for the code `good-code` when the verifier matches
/// the challenge the console sent, as Cognito does.
struct StandIn {
    user: String,
    challenge: Mutex<Option<String>>,
}

#[async_trait]
impl IdentityProvider for StandIn {
    fn authorize_url(&self, state: &str, challenge: &str) -> String {
        *self.challenge.lock().unwrap() = Some(challenge.to_owned());
        format!("https://idp.example/oauth2/authorize?state={state}&code_challenge={challenge}")
    }

    async fn exchange(&self, code: &str, verifier: &str) -> Result<String, IdentityError> {
        let expected = self.challenge.lock().unwrap().clone();
        if code == "good-code"
            && expected.as_deref() == Some(&nhip_console::pages::hosted::challenge(verifier))
        {
            Ok(self.user.clone())
        } else {
            Err(IdentityError::Refused("invalid_grant".into()))
        }
    }

    fn logout_url(&self) -> String {
        "https://idp.example/logout".into()
    }
}

fn with_provider(user: &str, first_admin: Option<&str>) -> (LocalDeps, Arc<nhip_core::Deps>) {
    let local = local_deps();
    let mut deps = (*local.deps).clone();
    deps.identity = Some(Arc::new(StandIn {
        user: user.into(),
        challenge: Mutex::new(None),
    }));
    deps.settings.first_admin = first_admin.map(str::to_owned);
    let deps = Arc::new(deps);
    (local, deps)
}

struct Answer {
    status: StatusCode,
    location: String,
    cookies: Vec<String>,
    body: String,
}

async fn get(deps: &Arc<nhip_core::Deps>, uri: &str, cookie: &str) -> Answer {
    send(
        deps,
        Request::get(uri)
            .header(header::COOKIE, cookie)
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

async fn send(deps: &Arc<nhip_core::Deps>, request: Request<Body>) -> Answer {
    let response = nhip_console::router(deps.clone())
        .oneshot(request)
        .await
        .unwrap();
    let status = response.status();
    let location = response
        .headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let cookies = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect();
    let body = String::from_utf8(
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    Answer {
        status,
        location,
        cookies,
        body,
    }
}

fn cookie<'a>(answer: &'a Answer, name: &str) -> &'a str {
    answer
        .cookies
        .iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(String::as_str)
        .unwrap_or_else(|| panic!("no {name} cookie in {:?}", answer.cookies))
}

fn query_value(url: &str, name: &str) -> String {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap()
}

async fn add_user(local: &LocalDeps, username: &str, role: Role, active: bool) {
    let input = UserInput {
        username: username.into(),
        display_name: username.into(),
        role: Some(role),
        active,
        ..UserInput::default()
    };
    staff::create_user(&*local.deps.store, &input, None, local.clock_now())
        .await
        .unwrap();
}

trait Now {
    fn clock_now(&self) -> chrono::DateTime<chrono::Utc>;
}

impl Now for LocalDeps {
    fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        use nhip_ports::Clock as _;
        self.clock.now()
    }
}

/// Signs in through the provider; answers the callback's answer.
async fn through_provider(deps: &Arc<nhip_core::Deps>, code: &str, tamper_state: bool) -> Answer {
    let start = get(deps, "/app/sign-in?next=%2Fapp%2Fcare", "").await;
    assert_eq!(start.status, StatusCode::SEE_OTHER);
    assert!(
        start
            .location
            .starts_with("https://idp.example/oauth2/authorize"),
        "{}",
        start.location
    );
    let flow = cookie(&start, nhip_console::pages::hosted::FLOW_COOKIE).to_owned();
    let mut state = query_value(&start.location, "state");
    if tamper_state {
        state = "0".repeat(state.len());
    }
    get(
        deps,
        &format!("/app/auth/callback?code={code}&state={state}"),
        &flow,
    )
    .await
}

#[tokio::test]
async fn a_directory_user_signs_in_through_the_provider_and_lands_where_they_were_going() {
    let (local, deps) = with_provider("lan", None);
    add_user(&local, "lan", Role::Consultant, true).await;
    let answer = through_provider(&deps, "good-code", false).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    assert_eq!(answer.location, "/app/care");
    let session = cookie(&answer, nhip_console::session::COOKIE).to_owned();
    let page = get(&deps, "/app/care", &session).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Khách hàng chăm sóc"));
    // No password form while the provider takes passwords.
    let form = send(
        &deps,
        Request::post("/app/sign-in")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, "nhip_signin=abc")
            .body(Body::from("_csrf=abc&username=lan&password=whatever-it-is"))
            .unwrap(),
    )
    .await;
    assert!(form.cookies.iter().all(|c| !c.starts_with("nhip_session=")));
}

#[tokio::test]
async fn a_wrong_state_a_refused_code_or_a_user_outside_the_directory_gets_no_session() {
    let (local, deps) = with_provider("lan", None);
    add_user(&local, "lan", Role::Consultant, true).await;
    for (code, tamper) in [("good-code", true), ("stolen-code", false)] {
        let answer = through_provider(&deps, code, tamper).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{code} {tamper}");
        assert!(
            answer
                .cookies
                .iter()
                .all(|c| !c.starts_with("nhip_session="))
        );
    }
    let (local, deps) = with_provider("hung", None);
    add_user(&local, "lan", Role::Consultant, true).await;
    add_user(&local, "hung", Role::Consultant, false).await;
    let answer = through_provider(&deps, "good-code", false).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert!(answer.body.contains("danh bạ nhân sự"));
}

#[tokio::test]
async fn only_the_configured_first_admin_may_found_an_empty_directory() {
    let (local, deps) = with_provider("someone", Some("owner"));
    let answer = through_provider(&deps, "good-code", false).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert!(staff::users(&*local.deps.store).await.unwrap().is_empty());

    let (local, deps) = with_provider("owner", Some("owner"));
    let answer = through_provider(&deps, "good-code", false).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    let users = staff::users(&*local.deps.store).await.unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(
        (users[0].username.as_str(), users[0].role),
        ("owner", Role::Admin)
    );
}

#[tokio::test]
async fn signing_out_ends_the_session_and_the_providers() {
    let (local, deps) = with_provider("lan", None);
    add_user(&local, "lan", Role::Consultant, true).await;
    let answer = through_provider(&deps, "good-code", false).await;
    let session = cookie(&answer, nhip_console::session::COOKIE).to_owned();
    let csrf = csrf_of(&get(&deps, "/app", &session).await);
    let out = send(
        &deps,
        Request::post("/app/sign-out")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, &session)
            .body(Body::from(format!("_csrf={csrf}")))
            .unwrap(),
    )
    .await;
    assert_eq!(out.location, "https://idp.example/logout");
    let after = get(&deps, "/app", &session).await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
    assert!(after.location.starts_with("/app/sign-in"));
}

#[tokio::test]
async fn twenty_guesses_at_once_get_five_tries_and_a_lock() {
    let local = local_deps();
    let store = local.deps.store.clone();
    let input = UserInput {
        username: "lan".into(),
        display_name: "Lan".into(),
        role: Some(Role::Consultant),
        active: true,
        ..UserInput::default()
    };
    staff::create_user(
        &*store,
        &input,
        Some("mat-khau-dung-2026"),
        local.clock_now(),
    )
    .await
    .unwrap();
    let guesses = (0..20).map(|i| {
        let store = store.clone();
        let now = local.clock_now();
        async move { staff::sign_in(&*store, "lan", &format!("doan-sai-{i}"), None, now).await }
    });
    let answers = futures::future::join_all(guesses).await;
    let refused = answers
        .iter()
        .filter(|a| matches!(a, Err(staff::SignInError::Refused)))
        .count();
    let locked = answers
        .iter()
        .filter(|a| matches!(a, Err(staff::SignInError::Locked(_))))
        .count();
    assert_eq!((refused, locked), (5, 15));
    // Even the right password waits for the window to end.
    let right = staff::sign_in(
        &*store,
        "lan",
        "mat-khau-dung-2026",
        None,
        local.clock_now(),
    )
    .await;
    assert!(
        matches!(right, Err(staff::SignInError::Locked(_))),
        "{right:?}"
    );
    // One source address is limited across names too (names no user could have, so the test
    // spends no time hashing).
    let source = Some("203.0.113.7".parse().unwrap());
    let mut answers = Vec::new();
    for i in 0..101 {
        answers.push(
            staff::sign_in(
                &*store,
                &format!("Không có {i}"),
                "x",
                source,
                local.clock_now(),
            )
            .await,
        );
    }
    assert!(matches!(
        answers.last(),
        Some(Err(staff::SignInError::Locked(_)))
    ));
    assert!(
        answers[..100]
            .iter()
            .all(|a| matches!(a, Err(staff::SignInError::Refused)))
    );
}

#[tokio::test]
async fn a_password_set_by_an_admin_ends_the_users_open_sessions() {
    let (local, deps) = with_provider("lan", None);
    add_user(&local, "lan", Role::Consultant, true).await;
    let answer = through_provider(&deps, "good-code", false).await;
    let session = cookie(&answer, nhip_console::session::COOKIE).to_owned();
    assert_eq!(get(&deps, "/app", &session).await.status, StatusCode::OK);
    local.clock.advance(chrono::Duration::minutes(5));
    staff::set_password(
        &*local.deps.store,
        "lan",
        "mat-khau-moi-2026",
        true,
        local.clock_now(),
    )
    .await
    .unwrap();
    let after = get(&deps, "/app", &session).await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
    assert!(
        after.location.starts_with("/app/sign-in"),
        "{}",
        after.location
    );
}

#[tokio::test]
async fn a_post_acts_only_in_the_session_its_csrf_token_was_checked_against() {
    let (local, deps) = with_provider("lan", None);
    add_user(&local, "lan", Role::Consultant, true).await;
    let answer = through_provider(&deps, "good-code", false).await;
    let session = cookie(&answer, nhip_console::session::COOKIE).to_owned();
    // No token: refused before any page runs.
    let post = send(
        &deps,
        Request::post("/app/notifications/read")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, &session)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(post.status, StatusCode::FORBIDDEN);
    // The changing-password page is for a temporary password only.
    assert_eq!(
        get(&deps, "/app/password", &session).await.status,
        StatusCode::NOT_FOUND
    );
}

/// A stand-in of Zalo's OAuth endpoint: it issues a pair for the code `zalo-code` when the
/// verifier matches the challenge the console sent.
#[derive(Default)]
struct ZaloStandIn {
    challenge: Mutex<Option<String>>,
    exchanges: Mutex<u32>,
}

#[async_trait]
impl nhip_ports::zalo::ZaloOAuth for ZaloStandIn {
    async fn refresh(
        &self,
        _: &str,
    ) -> Result<nhip_ports::zalo::IssuedTokens, nhip_ports::zalo::OAuthError> {
        Err(nhip_ports::zalo::OAuthError::Unavailable(
            "not in this test".into(),
        ))
    }

    async fn exchange_code(
        &self,
        code: &str,
        verifier: &str,
    ) -> Result<nhip_ports::zalo::IssuedTokens, nhip_ports::zalo::OAuthError> {
        *self.exchanges.lock().unwrap() += 1;
        let expected = self.challenge.lock().unwrap().clone();
        if code == "zalo-code"
            && expected.as_deref() == Some(&nhip_console::pages::hosted::challenge(verifier))
        {
            Ok(nhip_ports::zalo::IssuedTokens {
                access_token: "zalo-access-1".into(),
                refresh_token: "zalo-refresh-1".into(),
                expires_in: std::time::Duration::from_secs(90_000),
            })
        } else {
            Err(nhip_ports::zalo::OAuthError::Refused("invalid code".into()))
        }
    }

    fn permission_url(&self, redirect_uri: &str, challenge: &str, state: &str) -> Option<String> {
        *self.challenge.lock().unwrap() = Some(challenge.to_owned());
        let mut url = url::Url::parse("https://oauth.zaloapp.com/v4/oa/permission").unwrap();
        url.query_pairs_mut()
            .append_pair("app_id", "4321")
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("code_challenge", challenge)
            .append_pair("state", state);
        Some(url.into())
    }
}

fn csrf_of(page: &Answer) -> String {
    page.body
        .split("name=\"_csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned()
}

async fn post_form(deps: &Arc<nhip_core::Deps>, uri: &str, cookie: &str, form: &str) -> Answer {
    send(
        deps,
        Request::post(uri)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, cookie)
            .body(Body::from(form.to_owned()))
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn an_admin_connects_the_zalo_oa_through_zalos_code_flow_and_no_one_else_can() {
    let (local, deps) = with_provider("an", None);
    add_user(&local, "an", Role::Admin, true).await;
    add_user(&local, "lan", Role::Consultant, true).await;
    let zalo = Arc::new(ZaloStandIn::default());
    let mut with_zalo = (*deps).clone();
    with_zalo.zalo_oauth = Some(zalo.clone());
    with_zalo.settings.messaging.credentials_key =
        Some(b"console-tests-credentials-key-of-32-bytes".to_vec());
    let deps = Arc::new(with_zalo);
    let keeper = || nhip_messaging::zalo_tokens::ZaloTokens::from_deps(&deps);
    let session = cookie(
        &through_provider(&deps, "good-code", false).await,
        nhip_console::session::COOKIE,
    )
    .to_owned();
    let page = get(&deps, "/app/admin/zalo", &session).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Chưa cài token"), "{}", page.body);
    assert!(page.body.contains("Tự làm mới: bật"));
    let csrf = csrf_of(&page);

    let connect = |deps: Arc<nhip_core::Deps>, session: String, csrf: String| async move {
        let answer = post_form(
            &deps,
            "/app/admin/zalo/connect",
            &session,
            &format!("_csrf={csrf}"),
        )
        .await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        answer
    };
    let start = connect(deps.clone(), session.clone(), csrf.clone()).await;
    assert!(
        start
            .location
            .starts_with("https://oauth.zaloapp.com/v4/oa/permission?")
    );
    assert_eq!(
        query_value(&start.location, "redirect_uri"),
        format!(
            "{}/app/admin/zalo/callback",
            deps.settings.messaging.public_url
        )
    );
    let flow = cookie(&start, "nhip_zalo_flow").to_owned();
    let state = query_value(&start.location, "state");
    let both = format!("{session}; {flow}");

    // A state that is not the one sent, or no flow cookie: nothing is traded or stored.
    for (query, cookies) in [
        (
            format!("code=zalo-code&state={}", "0".repeat(state.len())),
            both.as_str(),
        ),
        (format!("code=zalo-code&state={state}"), session.as_str()),
    ] {
        let back = get(&deps, &format!("/app/admin/zalo/callback?{query}"), cookies).await;
        assert_eq!(back.status, StatusCode::SEE_OTHER);
        assert!(
            back.location.starts_with("/app/admin/zalo?problem="),
            "{}",
            back.location
        );
    }
    assert_eq!(*zalo.exchanges.lock().unwrap(), 0);
    assert_eq!(keeper().status().await.unwrap(), None);

    // A code Zalo refuses: the page says so, nothing is stored.
    let back = get(
        &deps,
        &format!("/app/admin/zalo/callback?code=other&state={state}"),
        &both,
    )
    .await;
    assert!(
        back.location.starts_with("/app/admin/zalo?problem="),
        "{}",
        back.location
    );
    assert_eq!(keeper().status().await.unwrap(), None);

    let start = connect(deps.clone(), session.clone(), csrf.clone()).await;
    let flow = cookie(&start, "nhip_zalo_flow").to_owned();
    let state = query_value(&start.location, "state");
    let back = get(
        &deps,
        &format!("/app/admin/zalo/callback?code=zalo-code&state={state}&oa_id=99"),
        &format!("{session}; {flow}"),
    )
    .await;
    assert_eq!(back.location, "/app/admin/zalo?done=connected");
    assert_eq!(cookie(&back, "nhip_zalo_flow"), "nhip_zalo_flow=");
    let status = keeper().status().await.unwrap().unwrap();
    assert_eq!(status.installed_by, "an");
    let page = get(&deps, "/app/admin/zalo?done=connected", &session).await;
    assert!(page.body.contains("Đang hoạt động"));
    assert!(!page.body.contains("zalo-access-1") && !page.body.contains("zalo-refresh-1"));

    // A consultant reaches none of it.
    let mut as_lan = (*deps).clone();
    as_lan.identity = Some(Arc::new(StandIn {
        user: "lan".into(),
        challenge: Mutex::new(None),
    }));
    let as_lan = Arc::new(as_lan);
    let lan = cookie(
        &through_provider(&as_lan, "good-code", false).await,
        nhip_console::session::COOKIE,
    )
    .to_owned();
    let home = get(&as_lan, "/app", &lan).await;
    assert!(!home.body.contains("Zalo OA"));
    let lan_csrf = csrf_of(&home);
    assert_eq!(
        get(&as_lan, "/app/admin/zalo", &lan).await.status,
        StatusCode::NOT_FOUND
    );
    for path in ["/app/admin/zalo/connect", "/app/admin/zalo/tokens"] {
        let answer = post_form(
            &as_lan,
            path,
            &lan,
            &format!("_csrf={lan_csrf}&access_token=a&refresh_token=b"),
        )
        .await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
    }
    let callback = get(
        &as_lan,
        &format!("/app/admin/zalo/callback?code=zalo-code&state={state}"),
        &lan,
    )
    .await;
    assert_eq!(callback.status, StatusCode::NOT_FOUND);
    assert_eq!(keeper().status().await.unwrap().unwrap().installed_by, "an");
}
