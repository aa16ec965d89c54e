//! # Layout
//! The local runner: one process hosting every Nhịp function on the embedded default
//! (SQLite store, durable local queues, a ticker standing in for EventBridge schedules, a
//! simulated clock). `nhip-local` (main.rs) parses the command line; tests call [`start`].
//! - [`consumers`]: the stand-in for Lambda's SQS event-source mapping: receive, invoke the
//!   same handler the Lambda function runs, delete what succeeded.
//! - [`schedules`]: the stand-in for EventBridge schedules, ticking on the simulated clock.
//! - [`routes`]: local-only routes (the simulated clock), merged into the API router.
//! - [`journeys_page`]: the journeys' statistics at `/journeys`, and the seed journeys
//!   installed as demo data at start.
//! - [`outbox_page`]: the outbox at `/outbox` and `/outbox.json`, and the local stand-in for
//!   SNS invoking the engagement tracker.

pub mod consumers;
pub mod embedded;
pub mod journeys_page;
pub mod listener;
pub mod outbox_page;
pub mod routes;
pub mod schedules;

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use nhip_core::Deps;
use nhip_core::auth::{Authenticator, JwtSecret};
use nhip_core::keys;
use nhip_local::{Database, Outbox, SimulatedClock, SqliteStore};
use nhip_ports::{Clock, Condition, ItemStore};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Receives before a message is moved to its queue's dead-letter queue (as in template.yaml).
pub const MAX_RECEIVES: u32 = 5;

/// The staff-token signing secret, when set (at least 32 bytes); else [`JWT_SECRET_FILE`].
pub const JWT_SECRET_VAR: &str = "NHIP_JWT_SECRET";
/// The file in the data folder holding the generated signing secret (mode 0600).
pub const JWT_SECRET_FILE: &str = "jwt-secret";

/// How to run.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// Where the HTTP API listens (`127.0.0.1:0` picks a free port).
    pub addr: SocketAddr,
    /// Folder holding the SQLite file.
    pub data_dir: PathBuf,
    /// Simulated seconds per real second (1 = real time).
    pub speed: f64,
    /// Simulated start instant; now when absent.
    pub start_at: Option<DateTime<Utc>>,
    /// The seed journeys installed at start as demo data, with their templates.
    pub seeds: Seeds,
}

/// Which seed journeys the runner installs at start (those already installed are kept).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Seeds {
    /// Every seed journey (the default: the README's walk-throughs use them).
    #[default]
    All,
    /// Only these keys; none for an empty platform (installable later with
    /// `POST /v1/journeys/seeds/{key}/install`).
    Only(Vec<String>),
}

impl std::str::FromStr for Seeds {
    type Err = String;

    /// `all`, `none`, or seed journey keys separated by commas; an unknown key is an error
    /// naming the known ones.
    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim() {
            "all" => return Ok(Seeds::All),
            "none" | "" => return Ok(Seeds::Only(Vec::new())),
            _ => {}
        }
        let known = journeys_page::seed_keys();
        let keys: Vec<String> = text.split(',').map(|key| key.trim().to_owned()).collect();
        match keys.iter().find(|key| !known.contains(key)) {
            Some(unknown) => Err(format!(
                "no seed journey {unknown:?}: the seeds are {} (or all, none)",
                known.join(", ")
            )),
            None => Ok(Seeds::Only(keys)),
        }
    }
}

/// A running local platform.
pub struct Runner {
    /// The ports every function uses.
    pub deps: Arc<Deps>,
    /// The simulated clock, to advance in demos and tests.
    pub clock: Arc<SimulatedClock>,
    /// Where the API listens.
    pub addr: SocketAddr,
    /// The first admin's one-time password, when this start created the directory's first
    /// user (`admin`); shown once.
    pub first_admin_password: Option<String>,
    stop: watch::Sender<bool>,
    tasks: JoinSet<anyhow::Result<()>>,
}

/// Opens the data folder, builds the adapters once, and starts the API, the queue consumers
/// and the schedules.
pub async fn start(config: RunnerConfig) -> anyhow::Result<Runner> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data folder {}", config.data_dir.display()))?;
    let db_path = config.data_dir.join("nhip.db");
    let db = Database::open(&db_path).with_context(|| format!("opening {}", db_path.display()))?;
    let store = Arc::new(SqliteStore::new(db.clone()));
    // Queue and schedule timestamps in the file are simulated time: resume from where the
    // clock was when the runner last stopped, never earlier, or retries would be stranded.
    let saved = saved_clock(&store).await?;
    let requested = config.start_at.unwrap_or_else(Utc::now);
    let start_at = saved.map_or(requested, |saved| saved.max(requested));
    if saved.is_some_and(|saved| saved > requested) {
        tracing::info!(resumed = %start_at, "simulated clock resumes where it stopped");
    }
    let clock = Arc::new(SimulatedClock::running(start_at, config.speed));
    let store = Arc::new(SqliteStore::new(db.clone()));
    let secret = jwt_secret(&config.data_dir)?;
    let outbox = Arc::new(Outbox::new(
        db.clone(),
        Some(config.data_dir.join("outbox")),
        clock.clone(),
    ));
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .with_context(|| format!("binding {}", config.addr))?;
    let addr = listener.local_addr()?;
    let mut settings = local_settings()?;
    if settings.messaging.link_secret.is_none() {
        settings.messaging.link_secret = Some(link_secret(&config.data_dir)?);
    }
    if settings.messaging.credentials_key.is_none() {
        settings.messaging.credentials_key = Some(credentials_key(&config.data_dir)?);
    }
    if std::env::var_os(nhip_core::messaging_settings::PUBLIC_URL_VAR).is_none() {
        settings.messaging.public_url = format!("http://{addr}");
    }
    let (deps, _) = embedded::Embedded {
        db: db.clone(),
        store: store.clone(),
        clock: clock.clone(),
        outbox: outbox.clone(),
        blobs: config.data_dir.join("blobs"),
        auth: Authenticator::hs256(secret),
        settings,
        sns_certificates: Arc::new(
            nhip_sns_https::HttpsCertificates::from_env(|var| std::env::var(var).ok())
                .context(nhip_sns_https::CERTIFICATE_DIR_VAR)?,
        ),
        max_receives: Some(MAX_RECEIVES),
        runtime: "local",
    }
    .deps();
    let deps = Arc::new(deps);

    let (stop, stopped) = watch::channel(false);
    let mut tasks = JoinSet::new();

    let first_admin_password = nhip_crm::staff::bootstrap_admin(&*deps.store, clock.now())
        .await
        .context("creating the first admin")?;
    let app = nhip_api::router(deps.clone())
        .merge(nhip_console::router(deps.clone()))
        .merge(routes::router(clock.clone()))
        .merge(outbox_page::router(outbox.clone(), deps.clone()))
        .merge(journeys_page::router(deps.clone()))
        .layer(axum::middleware::from_fn_with_state(
            db.clone(),
            group_writes,
        ));
    let seeded = journeys_page::install_seeds(&deps, &config.seeds).await?;
    if !seeded.is_empty() {
        tracing::info!(journeys = ?seeded, "seed journeys installed");
    }
    let mut api_stop = stopped.clone();
    tasks.spawn(async move {
        // The peer address reaches the routes (the intake's rate limit is keyed by it), and
        // hyper's own parse-error answers get the JSON error body.
        crate::listener::serve(
            crate::listener::JsonErrorListener(listener),
            app,
            async move {
                let _ = api_stop.wait_for(|s| *s).await;
            },
        )
        .await
        .context("serving the API")
    });
    for consumer in consumers::all(&deps) {
        tasks.spawn(consumer.run(stopped.clone()));
    }
    tasks.spawn(consumers::run_feed(deps.clone(), stopped.clone()));
    tasks.spawn(keep_clock(store.clone(), clock.clone(), stopped.clone()));
    tasks.spawn(schedules::run(
        schedules::all(store),
        deps.clone(),
        stopped.clone(),
    ));
    tracing::info!(%addr, data = %db_path.display(), speed = config.speed, "Nhịp is running");
    Ok(Runner {
        deps,
        clock,
        addr,
        first_admin_password,
        stop,
        tasks,
    })
}

/// The route settings from the same variables, by the same rule, as the Lambda functions.
fn local_settings() -> anyhow::Result<nhip_core::Settings> {
    Ok(nhip_core::Settings::from_lookup(|var| {
        std::env::var(var).ok()
    })?)
}

/// The simulated time the runner saved in its store when it last ran, if it did.
pub async fn saved_clock(store: &SqliteStore) -> anyhow::Result<Option<DateTime<Utc>>> {
    let item = store.get(&keys::local_clock()).await?;
    Ok(item
        .and_then(|item| item.get("now")?.as_str().map(str::to_owned))
        .and_then(|now| DateTime::parse_from_rfc3339(&now).ok())
        .map(|now| now.with_timezone(&Utc)))
}

/// The secret staff tokens are signed with: `NHIP_JWT_SECRET` when set, else the one in
/// `<data_dir>/jwt-secret`, generated (32 random bytes, hex) on first use. The runner and
/// `nhip-local token` both call this, so tokens survive restarts and the two agree.
pub fn jwt_secret(data_dir: &Path) -> anyhow::Result<JwtSecret> {
    if let Some(secret) = std::env::var_os(JWT_SECRET_VAR).filter(|s| !s.is_empty()) {
        let secret = secret
            .into_string()
            .map_err(|_| anyhow::anyhow!("{JWT_SECRET_VAR} is not valid UTF-8"))?;
        return JwtSecret::new(secret.into_bytes()).context(JWT_SECRET_VAR);
    }
    let path = data_dir.join(JWT_SECRET_FILE);
    if !path.exists() {
        create_secret_file(data_dir, &path)?;
    }
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    JwtSecret::new(text.trim().as_bytes()).with_context(|| path.display().to_string())
}

/// The secret tracked links and unsubscribe tokens are signed with: `NHIP_LINK_SECRET` when
/// set, else the one in `<data_dir>/link-secret`, generated on first use, so links in the
/// outbox keep working across restarts.
pub fn link_secret(data_dir: &Path) -> anyhow::Result<Vec<u8>> {
    kept_secret(data_dir, LINK_SECRET_FILE)
}

/// The key the Zalo OA token pair is sealed with: `NHIP_CREDENTIALS_KEY` when set (read with
/// the other settings), else the one in `<data_dir>/credentials-key`, generated on first use,
/// so a pair installed on the console's Zalo OA page still opens after a restart.
pub fn credentials_key(data_dir: &Path) -> anyhow::Result<Vec<u8>> {
    kept_secret(data_dir, CREDENTIALS_KEY_FILE)
}

/// The secret in `<data_dir>/<file>`, generated there on first use.
fn kept_secret(data_dir: &Path, file: &str) -> anyhow::Result<Vec<u8>> {
    let path = data_dir.join(file);
    if !path.exists() {
        create_secret_file(data_dir, &path)?;
    }
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text.trim().as_bytes().to_vec())
}

/// File of the local credentials key in the data folder.
pub const CREDENTIALS_KEY_FILE: &str = "credentials-key";

/// File of the local link-signing secret in the data folder.
pub const LINK_SECRET_FILE: &str = "link-secret";

/// Writes a fresh secret beside `path` and links it into place, so a concurrent reader never
/// sees a half-written file and two processes racing both end up with the same secret.
fn create_secret_file(data_dir: &Path, path: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating data folder {}", data_dir.display()))?;
    let mut random = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut urandom| std::io::Read::read_exact(&mut urandom, &mut random))
        .context("reading /dev/urandom for a local secret")?;
    let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
    // The temporary name says nothing about the secret: process id and a timestamp.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("secret");
    let temp = data_dir.join(format!("{name}.{}-{nanos}.tmp", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options
        .open(&temp)
        .and_then(|mut file| {
            file.write_all(hex.as_bytes())?;
            file.write_all(b"\n")?;
            file.sync_all()
        })
        .with_context(|| format!("writing {}", temp.display()));
    let linked = written.and_then(|()| match std::fs::hard_link(&temp, path) {
        Ok(()) => Ok(true),
        // Someone else created it first: theirs is the secret.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
    });
    let _ = std::fs::remove_file(&temp);
    if linked? {
        tracing::info!(path = %path.display(), "generated a local secret");
    }
    Ok(())
}

/// Saves the simulated time every second and once more on shutdown.
async fn keep_clock(
    store: Arc<SqliteStore>,
    clock: Arc<SimulatedClock>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    loop {
        // Read before the time is taken: a stop that comes while the write is under way is
        // seen on the next round, which writes the time again, so the last write is the last
        // time.
        let stopping = *stop.borrow_and_update();
        let mut item = keys::local_clock().to_item();
        item.insert("now".into(), keys::instant(clock.now()).into());
        store.put(item, Condition::Always).await?;
        if stopping {
            return Ok(());
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            _ = stop.changed() => {}
        }
    }
}

impl Runner {
    /// Stops accepting requests, lets consumers finish the batch in hand (anything not
    /// acknowledged stays in the queue file and is delivered after a restart), and waits.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        while let Some(done) = self.tasks.join_next().await {
            done.context("a runner task panicked")??;
        }
        Ok(())
    }

    /// Waits until a task fails (they only end on shutdown), returning its error.
    pub async fn wait_for_failure(&mut self) -> anyhow::Result<()> {
        match self.tasks.join_next().await {
            Some(done) => done.context("a runner task panicked")?,
            None => Ok(()),
        }
    }
}

/// A request that may write (any method but GET, HEAD and OPTIONS) runs as one commit group on
/// the file: its writes, and those of the requests and batches running meanwhile, commit
/// together before it is answered (`nhip_local::db`). The runner's router has this layer.
pub async fn group_writes(
    axum::extract::State(db): axum::extract::State<Arc<Database>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::Method;
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return next.run(request).await;
    }
    db.group(next.run(request)).await
}
