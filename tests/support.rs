//! Shared test plumbing: adapters on fresh storage, the emulator endpoint, fixtures, and the
//! one HTTP harness every test calls the API through.
//!
//! # Layout
//! - Storage and adapters: [`local_deps`] (embedded adapters, frozen simulated clock, the
//!   outbox as every channel), [`local_deps_with_settings`], [`sqlite_db`], [`dynamo_store`];
//!   the emulator: [`needs_emulator!`], [`aws_sdk_config`], [`unique_name`]; fixtures under
//!   `events/`: [`fixture`], [`fixture_path`].
//! - Requests and answers: [`token_for`] (a token for any principal), [`request`] and
//!   [`json_request`] (a bearer, a JSON body), [`read`] (any router's response whole, as an
//!   [`Answer`]: status, headers, bytes, text, JSON), [`send_to`] (the API router over other
//!   deps).
//! - Queues and store: [`drain`] (one queue's consumer until the queue is empty), [`settle`]
//!   (every consumer until every queue is), [`stored_customers`].
//! - [`Api`]: `nhip_api::router` over local deps (or DynamoDB: [`Api::dynamo`]), with tokens
//!   for any principal ([`Api::token`], [`Api::admin`]), simulated time ([`Api::advance`],
//!   [`Api::clock`]), the outbox and bus, calls ([`Api::send`], [`Api::call`],
//!   [`Api::admin_call`], [`Api::admin_ok`], [`Api::post_as`]) and the steps most scenarios
//!   share (create, assign, intake, find by phone, profile, timeline, drain, settle). Suites
//!   with helpers of their own (the journey simulator, the intake, messaging and telephony
//!   tests) hold an `Api` in a wrapper that [`wraps_api!`] derefs to it, and add only those.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use axum::body::Body;
use axum::http::{HeaderMap, Request, header, request};
use axum::response::Response;
use chrono::{TimeZone, Utc};
use http_body_util::BodyExt as _;
use nhip_core::Deps;
use nhip_core::auth::{Principal, Role};
use nhip_local::{Database, LocalEventBus, Outbox, SimulatedClock, SqliteStore};
use nhip_ports::store::{Index, Query};
use serde_json::{Value, json};
use tower::ServiceExt as _;

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

// ---- The HTTP harness ---------------------------------------------------------------------

/// How long the harness's tokens last: longer than any scenario's simulated time.
const TOKEN_LIFETIME_DAYS: i64 = 400;

/// A token `deps` accepts for `user` with `role` (and `team`), issued now.
pub fn token_for(deps: &Deps, user: &str, role: Role, team: Option<&str>) -> String {
    deps.auth.issue(
        &Principal::new(user, role, team.map(str::to_owned)),
        deps.clock.now(),
        chrono::Duration::days(TOKEN_LIFETIME_DAYS),
    )
}

/// A request to `path`, with `token` as its bearer when there is one.
pub fn request(method: &str, path: &str, token: Option<&str>) -> request::Builder {
    let builder = Request::builder().method(method).uri(path);
    match token {
        Some(token) => builder.header(header::AUTHORIZATION, format!("Bearer {token}")),
        None => builder,
    }
}

/// [`request`] with `body` as JSON, or no body.
pub fn json_request(
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Request<Body> {
    let builder = request(method, path, token);
    match body {
        Some(body) => builder
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string())),
        None => builder.body(Body::empty()),
    }
    .unwrap()
}

/// What a router answered, read whole.
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub bytes: Vec<u8>,
    /// The body as text (lossy).
    pub text: String,
    /// The body as JSON; a body that is not JSON is its text as a JSON string.
    pub json: Value,
}

impl Answer {
    /// A header's value as text, if present.
    pub fn header(&self, name: impl header::AsHeaderName) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

/// Reads a response of any router (the API, a function's own router) whole.
pub async fn read(response: Response) -> Answer {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let json = serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(text.clone()));
    Answer {
        status,
        headers,
        bytes: bytes.to_vec(),
        text,
        json,
    }
}

/// Sends `request` through the API router (`nhip_api::router`) over `deps`.
pub async fn send_to(deps: Arc<Deps>, request: Request<Body>) -> Answer {
    read(nhip_api::router(deps).oneshot(request).await.unwrap()).await
}

/// Runs the consumer of the queue `name` (`events`, `sends`, `steps`, `tickets`) as Lambda's
/// SQS trigger would, until the queue is empty; returns how many messages it delivered.
pub async fn drain(deps: &Arc<Deps>, name: &str) -> usize {
    let consumers = nhip_local_runner::consumers::all(deps);
    let consumer = consumers
        .iter()
        .find(|c| c.queue_name() == name)
        .unwrap_or_else(|| panic!("a consumer of the {name} queue"));
    let (_, queue) = deps
        .queues
        .all()
        .into_iter()
        .find(|(queue, _)| *queue == name)
        .unwrap_or_else(|| panic!("a queue named {name}"));
    let mut delivered = 0;
    loop {
        let messages = queue
            .receive(10, StdDuration::from_secs(30), StdDuration::ZERO)
            .await
            .unwrap();
        if messages.is_empty() {
            return delivered;
        }
        delivered += messages.len();
        consumer.deliver(messages).await;
    }
}

/// Every message visible on `queue` now, received in pages of 10 and hidden for `hidden`
/// (simulated time) without being deleted.
pub async fn receive_all(
    queue: &dyn nhip_ports::Queue,
    hidden: StdDuration,
) -> Vec<nhip_ports::ReceivedMessage> {
    let mut messages = Vec::new();
    loop {
        let page = queue.receive(10, hidden, StdDuration::ZERO).await.unwrap();
        if page.is_empty() {
            return messages;
        }
        messages.extend(page);
    }
}

/// Runs every consumer until every queue is empty, and folds the change feed into the journey
/// counters.
pub async fn settle(deps: &Arc<Deps>) {
    for _ in 0..1000 {
        let mut delivered = 0;
        for (name, _) in deps.queues.all() {
            delivered += drain(deps, name).await;
        }
        nhip_local_runner::consumers::fold_feed(deps).await.unwrap();
        if delivered == 0 {
            return;
        }
    }
    panic!("queues never settled");
}

/// Every customer profile in the store, whatever its lifecycle.
pub async fn stored_customers(deps: &Deps) -> Vec<nhip_ports::store::Item> {
    let mut all = Vec::new();
    for lifecycle in ["new", "consulting", "customer", "former"] {
        let page = deps
            .store
            .query(Query::partition(Index::Gsi1, format!("CUSLC#{lifecycle}")).limit(1000))
            .await
            .unwrap();
        all.extend(page.items);
    }
    all
}

/// A store on a fresh table of the emulator, named after `prefix`.
pub async fn dynamo_store(prefix: &str) -> nhip_aws::dynamo::DynamoStore {
    let config = aws_sdk_config().await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let table = unique_name(prefix);
    nhip_aws::dynamo::create_table(&client, &table)
        .await
        .expect("creating the table on the emulator");
    nhip_aws::dynamo::DynamoStore::new(client, table)
}

/// Makes a suite's wrapper of the harness (a struct with an `api: Api` field and its own
/// steps) usable as the [`Api`] it holds.
macro_rules! wraps_api {
    ($wrapper:ty) => {
        impl std::ops::Deref for $wrapper {
            type Target = $crate::support::Api;

            fn deref(&self) -> &Self::Target {
                &self.api
            }
        }
    };
}
pub(crate) use wraps_api;

/// The API router (`nhip_api::router`) over embedded deps with a simulated clock, called as
/// any principal.
pub struct Api {
    /// What the router runs on; a test may replace it (other settings, other adapters).
    pub deps: Arc<Deps>,
    local: LocalDeps,
}

impl Api {
    pub fn local() -> Self {
        Self::on(local_deps())
    }

    /// The API with these settings (secrets, public address, rates).
    pub fn with_settings(settings: nhip_core::Settings) -> Self {
        Self::on(local_deps_with_settings(settings))
    }

    /// The same API over DynamoDB (the emulator the test command starts), with the events
    /// queue and clock of a local run.
    pub async fn dynamo() -> Self {
        let mut api = Self::local();
        let mut deps = (*api.deps).clone();
        deps.store = Arc::new(dynamo_store("nhip-customers").await);
        api.deps = Arc::new(deps);
        api
    }

    fn on(local: LocalDeps) -> Self {
        Self {
            deps: local.deps.clone(),
            local,
        }
    }

    /// The simulated clock of the deps.
    pub fn clock(&self) -> &SimulatedClock {
        &self.local.clock
    }

    /// The outbox every channel sends to.
    pub fn outbox(&self) -> &Outbox {
        &self.local.outbox
    }

    /// The event bus, to read what was published.
    pub fn bus(&self) -> &LocalEventBus {
        &self.local.bus
    }

    pub fn now(&self) -> chrono::DateTime<Utc> {
        self.deps.clock.now()
    }

    /// Moves simulated time on by `seconds`.
    pub fn advance(&self, seconds: i64) {
        self.clock().advance(chrono::Duration::seconds(seconds));
    }

    pub fn token(&self, user: &str, role: Role, team: Option<&str>) -> String {
        token_for(&self.deps, user, role, team)
    }

    pub fn admin(&self) -> String {
        self.token("root", Role::Admin, None)
    }

    /// Sends `request` through the router.
    pub async fn send(&self, request: Request<Body>) -> Answer {
        send_to(self.deps.clone(), request).await
    }

    /// Sends `request` through the router: its status and JSON body.
    pub async fn raw(&self, request: Request<Body>) -> (u16, Value) {
        let answer = self.send(request).await;
        (answer.status, answer.json)
    }

    /// A call with `token` (none: anonymous) and a JSON body, whatever it answers.
    pub async fn answer(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        self.send(json_request(method, path, token, body)).await
    }

    /// [`Api::answer`]'s status and JSON body.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.raw(json_request(method, path, token, body)).await
    }

    /// A call as the admin, whatever it answers.
    pub async fn admin_call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call(method, path, Some(&self.admin()), body).await
    }

    /// A call as the admin, which must succeed (2xx); its body.
    pub async fn admin_ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, answer) = self.admin_call(method, path, body).await;
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {answer}"
        );
        answer
    }

    /// A GET as the admin, which must answer 200; its body.
    pub async fn admin_get(&self, path: &str) -> Value {
        let (status, answer) = self.admin_call("GET", path, None).await;
        assert_eq!(status, 200, "GET {path}: {answer}");
        answer
    }

    /// A POST of `body` as `content_type` (a form, CSV, YAML, …) with `token` (none:
    /// anonymous), whatever it answers.
    pub async fn post_as(
        &self,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: impl Into<Body>,
    ) -> (u16, Value) {
        let request = request("POST", path, token)
            .header(header::CONTENT_TYPE, content_type)
            .body(body.into())
            .unwrap();
        self.raw(request).await
    }

    pub async fn intake(&self, body: Value) -> (u16, Value) {
        self.call("POST", "/v1/intake/leads", None, Some(body))
            .await
    }

    /// Creates a customer as `token`'s user; its body.
    pub async fn create(&self, token: &str, body: Value) -> Value {
        let (status, created) = self
            .call("POST", "/v1/customers", Some(token), Some(body))
            .await;
        assert_eq!(status, 201, "{created}");
        created
    }

    /// Creates a customer as the admin; its id.
    pub async fn create_id(&self, body: Value) -> String {
        let created = self.create(&self.admin(), body).await;
        created["id"].as_str().unwrap().to_owned()
    }

    /// Creates a customer (as an admin) and assigns it to `owner` of `team`; returns its id.
    pub async fn create_assigned(&self, body: Value, owner: &str, team: &str) -> String {
        let admin = self.admin();
        let created = self.create(&admin, body).await;
        let id = created["id"].as_str().unwrap().to_owned();
        let (status, assigned) = self
            .call(
                "POST",
                &format!("/v1/customers/{id}/owner"),
                Some(&admin),
                Some(json!({"owner": owner, "team": team, "version": created["version"]})),
            )
            .await;
        assert_eq!(status, 200, "{assigned}");
        id
    }

    /// The id of the customer holding `phone`, as an admin finds it (the public intake
    /// never answers with one).
    pub async fn id_of_phone(&self, phone: &str) -> String {
        let phone = nhip_domain::identifiers::Phone::parse(phone).unwrap();
        let path = format!("/v1/customers?phone=%2B{}", &phone.as_str()[1..]);
        let list = self.admin_get(&path).await;
        list["items"][0]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no customer holds {phone:?}: {list}"))
            .to_owned()
    }

    /// The customer's profile, as an admin reads it.
    pub async fn profile(&self, id: &str) -> Value {
        self.admin_get(&format!("/v1/customers/{id}")).await
    }

    /// The customer's timeline (its first 100 entries, newest first), as an admin reads it.
    pub async fn timeline(&self, id: &str) -> Vec<Value> {
        let path = format!("/v1/customers/{id}/timeline?limit=100");
        let page = self.admin_get(&path).await;
        page["items"].as_array().unwrap().clone()
    }

    /// The event types of the customer's timeline, newest first.
    pub async fn timeline_types(&self, id: &str) -> Vec<String> {
        self.timeline(id)
            .await
            .iter()
            .map(|e| e["event_type"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Runs the consumer of the queue `name` until it is empty (see [`drain`]).
    pub async fn drain(&self, name: &str) -> usize {
        drain(&self.deps, name).await
    }

    /// Runs every consumer until every queue is empty.
    pub async fn settle(&self) {
        settle(&self.deps).await
    }
}
