//! Scheduler benchmark on the embedded store: `cargo bench -p nhip-tests --bench scheduler`
//! (`-- <idle> <due>` to change the sizes; defaults 1,000,000 and 1,000).
//!
//! It schedules `idle` items spread over the next 30 days (enrollments waiting) and `due`
//! items due in the current minute, then runs one scheduler tick and reports what the tick
//! read and wrote, counted at the store port, and how long it took. The figures in
//! docs/performance.md come from this command.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use async_trait::async_trait;
use chrono::{Duration, TimeZone, Utc};
use nhip_app::ports::store::{
    Condition, Item, ItemStore, Key, Page, Query, StoreError, Update, WriteOp,
};
use nhip_app::scheduler::{Work, schedule};
use nhip_app::{BuildInfo, Channels, Deps, Queues};
use nhip_domain::ids::DueWorkId;
use nhip_local::{
    Database, FolderBlobStore, LocalEventBus, LocalQueue, Outbox, SimulatedClock, SqliteStore,
};

/// Counts the requests each store operation makes, and the items queries return.
struct Counting {
    inner: SqliteStore,
    gets: AtomicU64,
    writes: AtomicU64,
    queries: AtomicU64,
    items_read: AtomicU64,
}

#[async_trait]
impl ItemStore for Counting {
    fn backend(&self) -> &'static str {
        "sqlite (counted)"
    }
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.gets.fetch_add(1, Ordering::Relaxed);
        self.inner.get(key).await
    }
    async fn put(&self, item: Item, condition: Condition) -> Result<(), StoreError> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.inner.put(item, condition).await
    }
    async fn update(
        &self,
        key: &Key,
        update: Update,
        condition: Condition,
    ) -> Result<Item, StoreError> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.inner.update(key, update, condition).await
    }
    async fn delete(&self, key: &Key, condition: Condition) -> Result<(), StoreError> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.inner.delete(key, condition).await
    }
    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        self.queries.fetch_add(1, Ordering::Relaxed);
        let page = self.inner.query(query).await?;
        self.items_read
            .fetch_add(page.items.len() as u64, Ordering::Relaxed);
        Ok(page)
    }
    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        self.gets.fetch_add(keys.len() as u64, Ordering::Relaxed);
        self.inner.batch_get(keys).await
    }
    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        self.writes.fetch_add(ops.len() as u64, Ordering::Relaxed);
        self.inner.transact(ops).await
    }
    async fn health(&self) -> Result<(), StoreError> {
        self.inner.health().await
    }
}

impl Counting {
    fn reset(&self) {
        for counter in [&self.gets, &self.writes, &self.queries, &self.items_read] {
            counter.store(0, Ordering::Relaxed);
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let idle = args.first().copied().unwrap_or(1_000_000);
    let due = args.get(1).copied().unwrap_or(1_000);
    let dir = tempfile::tempdir()?;
    let db = Database::open(dir.path().join("bench.db"))?;
    // 09:00 in Viet Nam, on the minute.
    let now = Utc.with_ymd_and_hms(2026, 11, 23, 2, 0, 0).unwrap();
    let clock = Arc::new(SimulatedClock::frozen(now));
    let store = Arc::new(Counting {
        inner: SqliteStore::new(db.clone()),
        gets: AtomicU64::new(0),
        writes: AtomicU64::new(0),
        queries: AtomicU64::new(0),
        items_read: AtomicU64::new(0),
    });
    let deps = Deps {
        store: store.clone(),
        queues: Queues {
            events: Arc::new(LocalQueue::new(db.clone(), "events", clock.clone())),
            sends: Arc::new(LocalQueue::new(db.clone(), "sends", clock.clone())),
            steps: Arc::new(LocalQueue::new(db.clone(), "steps", clock.clone())),
        },
        clock: clock.clone(),
        build: BuildInfo::current("bench"),
        auth: Arc::new(nhip_app::auth::Authenticator::hs256(
            nhip_app::auth::JwtSecret::new(&b"nhip-bench-signing-secret-of-32-bytes"[..])?,
        )),
        settings: nhip_app::Settings::default(),
        channels: Channels::uniform(Arc::new(Outbox::new(db.clone(), None, clock.clone()))),
        blobs: Arc::new(FolderBlobStore::new(dir.path().join("blobs"))),
        sns_certificates: Arc::new(nhip_app::messaging::sns::HttpsCertificates::new()?),
        bus: Arc::new(LocalEventBus::new(db.clone())),
    };

    // Idle work over the next 30 days, written 100 to a transaction.
    let loading = Instant::now();
    let span = 30 * 24 * 60 * 60;
    let mut ops = Vec::with_capacity(100);
    for i in 0..idle {
        let at = now + Duration::minutes(2) + Duration::seconds((i * 7919) as i64 % span);
        let work = Work::SendMessage {
            message_id: format!("idle-{i}"),
        };
        ops.push(schedule(DueWorkId::new_at(at), at, now, &work));
        if ops.len() == 100 {
            store.inner.transact(std::mem::take(&mut ops)).await?;
        }
    }
    for i in 0..due {
        let at = now - Duration::seconds((i % 50) as i64);
        let work = Work::SendMessage {
            message_id: format!("due-{i}"),
        };
        ops.push(schedule(DueWorkId::new_at(at), at, now, &work));
        if ops.len() == 100 {
            store.inner.transact(std::mem::take(&mut ops)).await?;
        }
    }
    if !ops.is_empty() {
        store.inner.transact(ops).await?;
    }
    let loaded = loading.elapsed();

    // The first tick after the last one: the cursor sits at this minute.
    let mut cursor = nhip_app::keys::scheduler_cursor().to_item();
    cursor.insert("minute".into(), nhip_app::keys::instant(now).into());
    store.inner.put(cursor, Condition::Always).await?;
    store.reset();
    let started = Instant::now();
    let report = nhip_app::scheduler::tick(&deps).await?;
    let took = started.elapsed();
    println!("scheduler tick with {idle} idle items and {due} due (embedded SQLite store)");
    println!("  loaded in {:.1} s", loaded.as_secs_f64());
    println!(
        "  tick: {} hour bucket(s) read, {} ran, {} failed, in {:.1} ms",
        report.hours,
        report.ran,
        report.failed,
        took.as_secs_f64() * 1000.0
    );
    println!(
        "  store requests: {} queries returning {} items, {} gets, {} writes",
        store.queries.load(Ordering::Relaxed),
        store.items_read.load(Ordering::Relaxed),
        store.gets.load(Ordering::Relaxed),
        store.writes.load(Ordering::Relaxed),
    );
    println!(
        "  per due item: {:.2} requests; idle items read: {}",
        (store.queries.load(Ordering::Relaxed)
            + store.gets.load(Ordering::Relaxed)
            + store.writes.load(Ordering::Relaxed)) as f64
            / due.max(1) as f64,
        store.items_read.load(Ordering::Relaxed).saturating_sub(due)
    );
    Ok(())
}
