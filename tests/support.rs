//! Shared test plumbing: adapters on fresh storage, the emulator endpoint, fixtures.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use nhip_core::Deps;
use nhip_local::{Database, LocalEventBus, Outbox, SimulatedClock, SqliteStore};

/// Set by the test command: a missing emulator is then a failure, not a skip.
const REQUIRE_EMULATOR_VAR: &str = "NHIP_TEST_REQUIRE_EMULATOR";

/// Whether a test of the AWS adapters must skip: true (after saying so on stderr) when no
/// emulator was started, as under a plain `cargo test`. The test command starts one and sets
/// `NHIP_TEST_REQUIRE_EMULATOR=1`, so there an absent emulator fails the test instead.
pub fn skip_without_emulator(test: &str) -> bool {
    if std::env::var("NHIP_TEST_AWS_ENDPOINT").is_ok_and(|v| !v.is_empty()) {
        return false;
    }
    if std::env::var(REQUIRE_EMULATOR_VAR).is_ok_and(|v| v == "1") {
        panic!("{test}: NHIP_TEST_AWS_ENDPOINT is not set, and {REQUIRE_EMULATOR_VAR}=1");
    }
    eprintln!(
        "skipped {test}: no AWS emulator (NHIP_TEST_AWS_ENDPOINT is not set); the test command \
         in README.md (scripts/test.sh) starts one and runs it"
    );
    true
}

/// Returns from the calling test when there is no emulator (see [`skip_without_emulator`]).
macro_rules! needs_emulator {
    () => {
        if $crate::support::skip_without_emulator(module_path!()) {
            return;
        }
    };
}
pub(crate) use needs_emulator;

/// The emulator endpoint the test command started (moto's server mode).
pub fn aws_endpoint() -> String {
    std::env::var("NHIP_TEST_AWS_ENDPOINT").expect(
        "NHIP_TEST_AWS_ENDPOINT is not set: run the test command from README.md \
         (scripts/test.sh), which starts the AWS emulator and sets it",
    )
}

/// SDK configuration pointing at the emulator with dummy credentials.
pub async fn aws_sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("ap-southeast-1"))
        .endpoint_url(aws_endpoint())
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "nhip-tests",
        ))
        .load()
        .await
}

/// A name no other test uses, for tables and queues on the shared emulator.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{}", ulid::Ulid::new().to_string().to_lowercase())
}

/// A fresh SQLite file in a temporary folder that lives as long as the returned guard.
pub fn sqlite_db() -> (Arc<Database>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Database::open(dir.path().join("nhip.db")).expect("open sqlite");
    (db, dir)
}

/// The start of simulated time in tests: Monday 23 November 2026, 09:00 in Viet Nam.
pub fn test_epoch() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 2, 0, 0).unwrap()
}

/// Deps on the embedded adapters, with a frozen simulated clock.
pub struct LocalDeps {
    pub deps: Arc<Deps>,
    /// The simulated clock inside `deps`, to move time on.
    pub clock: Arc<SimulatedClock>,
    /// The outbox every channel of `deps` sends to.
    pub outbox: Arc<Outbox>,
    /// The event bus of `deps`, to read what was published.
    pub bus: Arc<LocalEventBus>,
    _dir: tempfile::TempDir,
}

pub fn local_deps() -> LocalDeps {
    let (db, dir) = sqlite_db();
    let clock = Arc::new(SimulatedClock::frozen(test_epoch()));
    let outbox = Arc::new(Outbox::new(db.clone(), None, clock.clone()));
    let (deps, bus) = nhip_local_runner::embedded::Embedded {
        db: db.clone(),
        store: Arc::new(SqliteStore::new(db)),
        clock: clock.clone(),
        outbox: outbox.clone(),
        blobs: dir.path().join("blobs"),
        auth: nhip_core::auth::Authenticator::hs256(
            nhip_core::auth::JwtSecret::new(&b"nhip-tests-signing-secret-of-32-bytes"[..])
                .expect("a long enough test secret"),
        ),
        settings: nhip_core::Settings::default(),
        sns_certificates: Arc::new(
            nhip_sns_https::HttpsCertificates::new().expect("an HTTPS client"),
        ),
        max_receives: Some(5),
        runtime: "test",
    }
    .deps();
    let deps = Arc::new(deps);
    LocalDeps {
        deps,
        clock,
        outbox,
        bus,
        _dir: dir,
    }
}

/// Deps on the embedded adapters like [`local_deps`], with these settings (e.g. a telephony
/// secret).
pub fn local_deps_with_settings(settings: nhip_core::Settings) -> LocalDeps {
    let mut local = local_deps();
    let mut deps = (*local.deps).clone();
    deps.settings = settings;
    local.deps = Arc::new(deps);
    local
}

/// The path of a fixture under `events/`.
pub fn fixture_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("events")
        .join(relative)
}

/// A fixture under `events/`, parsed.
pub fn fixture<T: serde::de::DeserializeOwned>(relative: &str) -> T {
    let path = fixture_path(relative);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}
