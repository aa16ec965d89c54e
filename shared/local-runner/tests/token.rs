//! `nhip-local token` against a runner on the same data folder: the token it prints is
//! accepted by the runner's `Principal` extractor, dated by the runner's simulated clock.

use std::path::Path;
use std::process::Command;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Duration, Utc};
use http_body_util::BodyExt;
use nhip_core::auth::{Principal, Role};
use nhip_local_runner::{JWT_SECRET_FILE, Runner, RunnerConfig, start};
use nhip_ports::Clock;
use serde_json::Value;
use tower::ServiceExt;

fn config(dir: &Path, start_at: Option<DateTime<Utc>>) -> RunnerConfig {
    RunnerConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.to_path_buf(),
        speed: 0.0,
        seeds: Default::default(),
        start_at,
    }
}

/// Runs `nhip-local token …` on `dir` and returns what it printed on stdout.
fn token_command(dir: &Path, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_nhip-local"))
        .arg("token")
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("NHIP_JWT_SECRET")
        .env_remove("NHIP_DATA_DIR")
        .env_remove("RUST_LOG")
        .output()
        .expect("running nhip-local token");
    assert!(
        output.status.success(),
        "nhip-local token failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// `GET /whoami` through the `Principal` extractor, on the runner's own `Deps`.
async fn whoami(runner: &Runner, token: Option<&str>) -> (StatusCode, Value) {
    let app = Router::new()
        .route(
            "/whoami",
            get(|principal: Principal| async move { Json(principal) }),
        )
        .with_state(runner.deps.clone());
    let mut request = Request::builder().uri("/whoami");
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let response = app
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_command_is_accepted_by_a_runner_on_the_same_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    // A runner whose simulated clock is 400 days ahead of real time stops and saves it; a
    // token dated by the machine's clock (720 hours) would already be expired there.
    // Whole seconds: the runner saves its clock to the millisecond.
    let ahead = DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap() + Duration::days(400);
    start(config(dir.path(), Some(ahead)))
        .await
        .unwrap()
        .shutdown()
        .await
        .unwrap();

    let printed = token_command(
        dir.path(),
        &["--user", "lan", "--role", "manager", "--team", "hn-1"],
    );
    // Only the token, so `TOKEN=$(nhip-local token …)` works.
    assert_eq!(printed.lines().count(), 1, "{printed:?}");
    let token = printed.trim_end();
    assert_eq!(token.split('.').count(), 3, "{token}");

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(JWT_SECRET_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the secret file is private");
    }

    // Restarted on the same folder: same secret, clock resumed where it stopped.
    let runner = start(config(dir.path(), None)).await.unwrap();
    assert!(runner.clock.now() >= ahead);
    let (status, body) = whoami(&runner, Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        serde_json::from_value::<Principal>(body).unwrap(),
        Principal::new("lan", Role::Manager, Some("hn-1".into()))
    );

    let (status, body) = whoami(&runner, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "unauthenticated");

    // The default lifetime is 720 hours of simulated time.
    runner.clock.advance(Duration::hours(719));
    assert_eq!(whoami(&runner, Some(token)).await.0, StatusCode::OK);
    runner.clock.advance(Duration::hours(1));
    let (status, body) = whoami(&runner, Some(token)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    runner.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_for_another_data_dir_is_rejected() {
    let ours = tempfile::tempdir().unwrap();
    let theirs = tempfile::tempdir().unwrap();
    // A folder no runner has run on (a forgotten --data-dir): refused, no secret made.
    let refused = Command::new(env!("CARGO_BIN_EXE_nhip-local"))
        .args(["token", "--user", "an", "--role", "admin", "--data-dir"])
        .arg(theirs.path())
        .env_remove("NHIP_JWT_SECRET")
        .env_remove("NHIP_DATA_DIR")
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(refused.stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--data-dir"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(!theirs.path().join(JWT_SECRET_FILE).exists());
    // Another runner's folder: its token is refused by ours.
    let other = start(config(theirs.path(), None)).await.unwrap();
    other.shutdown().await.unwrap();
    let token = token_command(theirs.path(), &["--user", "an", "--role", "admin"]);
    let runner = start(config(ours.path(), None)).await.unwrap();
    let (status, body) = whoami(&runner, Some(token.trim_end())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let own = token_command(
        ours.path(),
        &["--user", "an", "--role", "admin", "--ttl-hours", "1"],
    );
    assert_eq!(
        whoami(&runner, Some(own.trim_end())).await.0,
        StatusCode::OK
    );
    runner.shutdown().await.unwrap();
}
