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
    let home = get(&deps, "/app", &session).await;
    let csrf = home
        .body
        .split("name=\"_csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
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
