//! What the benchmarks share: a store wrapper counting the requests each operation makes, and
//! deps on the embedded adapters around it with a frozen simulated clock.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use nhip_core::Deps;
use nhip_local::{Database, Outbox, SimulatedClock, SqliteStore};
use nhip_ports::store::{
    Condition, Item, ItemStore, Key, Page, Query, StoreError, Update, WriteOp,
};

/// Counts the requests each store operation makes, the items queries return, and the
/// DynamoDB capacity units they would be billed: a write request unit per started KB of the
/// item written (two for an item in a transaction), a read request unit per started 4 KB read
/// (strongly consistent), an item's size taken as its JSON's length (a little above
/// DynamoDB's, which counts names and values without the punctuation).
pub struct Counting {
    pub inner: SqliteStore,
    pub gets: AtomicU64,
    pub writes: AtomicU64,
    pub queries: AtomicU64,
    pub items_read: AtomicU64,
    pub wru: AtomicU64,
    pub rru: AtomicU64,
}

/// The JSON length of an item.
fn size(item: &Item) -> u64 {
    serde_json::to_vec(item).map_or(0, |b| b.len() as u64)
}

/// Units of `unit` bytes an item of `bytes` takes (at least one).
fn units(bytes: u64, unit: u64) -> u64 {
    bytes.div_ceil(unit).max(1)
}

#[async_trait]
impl ItemStore for Counting {
    fn backend(&self) -> &'static str {
        "sqlite (counted)"
    }
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.gets.fetch_add(1, Ordering::Relaxed);
        let item = self.inner.get(key).await?;
        let bytes = item.as_ref().map_or(0, size);
        self.rru.fetch_add(units(bytes, 4096), Ordering::Relaxed);
        Ok(item)
    }
    async fn put(&self, item: Item, condition: Condition) -> Result<(), StoreError> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.wru
            .fetch_add(units(size(&item), 1024), Ordering::Relaxed);
        self.inner.put(item, condition).await
    }
    async fn update(
        &self,
        key: &Key,
        update: Update,
        condition: Condition,
    ) -> Result<Item, StoreError> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        let result = self.inner.update(key, update, condition).await;
        let bytes = result.as_ref().map_or(0, size);
        self.wru.fetch_add(units(bytes, 1024), Ordering::Relaxed);
        result
    }
    async fn delete(&self, key: &Key, condition: Condition) -> Result<(), StoreError> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.wru.fetch_add(1, Ordering::Relaxed);
        self.inner.delete(key, condition).await
    }
    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        self.queries.fetch_add(1, Ordering::Relaxed);
        let page = self.inner.query(query).await?;
        self.items_read
            .fetch_add(page.items.len() as u64, Ordering::Relaxed);
        let bytes: u64 = page.items.iter().map(size).sum();
        self.rru.fetch_add(units(bytes, 4096), Ordering::Relaxed);
        Ok(page)
    }
    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        self.gets.fetch_add(keys.len() as u64, Ordering::Relaxed);
        let items = self.inner.batch_get(keys).await?;
        let read: u64 = items.iter().map(|i| units(size(i), 4096)).sum();
        let missing = (keys.len() - items.len()) as u64;
        self.rru.fetch_add(read + missing, Ordering::Relaxed);
        Ok(items)
    }
    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        self.writes.fetch_add(ops.len() as u64, Ordering::Relaxed);
        let wru: u64 = ops
            .iter()
            .map(|op| match op {
                WriteOp::Put { item, .. } => 2 * units(size(item), 1024),
                _ => 2,
            })
            .sum();
        self.wru.fetch_add(wru, Ordering::Relaxed);
        self.inner.transact(ops).await
    }
    async fn health(&self) -> Result<(), StoreError> {
        self.inner.health().await
    }
}

impl Counting {
    /// Zeroes every counter.
    pub fn reset(&self) {
        for counter in [
            &self.gets,
            &self.writes,
            &self.queries,
            &self.items_read,
            &self.wru,
            &self.rru,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
    }

    /// Gets, queries and writes so far.
    pub fn requests(&self) -> u64 {
        self.gets.load(Ordering::Relaxed)
            + self.queries.load(Ordering::Relaxed)
            + self.writes.load(Ordering::Relaxed)
    }
}

/// Counts the messages sent to a queue (the journeys bench's; each bench compiles this file).
#[allow(dead_code)]
pub struct CountingQueue {
    pub inner: Arc<dyn nhip_ports::Queue>,
    pub sent: AtomicU64,
}

#[async_trait]
impl nhip_ports::Queue for CountingQueue {
    fn name(&self) -> &str {
        self.inner.name()
    }
    async fn send_batch(
        &self,
        messages: Vec<nhip_ports::queue::OutgoingMessage>,
    ) -> Result<Vec<String>, nhip_ports::queue::QueueError> {
        self.sent
            .fetch_add(messages.len() as u64, Ordering::Relaxed);
        self.inner.send_batch(messages).await
    }
    async fn receive(
        &self,
        max: usize,
        visibility: std::time::Duration,
        wait: std::time::Duration,
    ) -> Result<Vec<nhip_ports::ReceivedMessage>, nhip_ports::queue::QueueError> {
        self.inner.receive(max, visibility, wait).await
    }
    async fn delete(&self, receipt: &str) -> Result<(), nhip_ports::queue::QueueError> {
        self.inner.delete(receipt).await
    }
    async fn delete_batch(&self, receipts: &[String]) -> Result<(), nhip_ports::queue::QueueError> {
        self.inner.delete_batch(receipts).await
    }
    async fn change_visibility(
        &self,
        receipt: &str,
        timeout: std::time::Duration,
    ) -> Result<(), nhip_ports::queue::QueueError> {
        self.inner.change_visibility(receipt, timeout).await
    }
    async fn depth(&self) -> Result<nhip_ports::queue::QueueDepth, nhip_ports::queue::QueueError> {
        self.inner.depth().await
    }
}

/// What [`deps`] builds.
pub struct Bench {
    /// The deps.
    pub deps: Deps,
    /// Their store, counted.
    pub store: Arc<Counting>,
}

/// Deps on the embedded adapters in `dir`, their store counted, the clock frozen at `now`.
pub fn deps(dir: &Path, now: DateTime<Utc>) -> anyhow::Result<Bench> {
    let db = Database::open(dir.join("bench.db"))?;
    let clock = Arc::new(SimulatedClock::frozen(now));
    let store = Arc::new(Counting {
        inner: SqliteStore::new(db.clone()),
        gets: AtomicU64::new(0),
        writes: AtomicU64::new(0),
        queries: AtomicU64::new(0),
        items_read: AtomicU64::new(0),
        wru: AtomicU64::new(0),
        rru: AtomicU64::new(0),
    });
    let (deps, _) = nhip_local_runner::embedded::Embedded {
        db: db.clone(),
        store: store.clone(),
        clock: clock.clone(),
        outbox: Arc::new(Outbox::new(db.clone(), None, clock.clone())),
        blobs: dir.join("blobs"),
        auth: nhip_core::auth::Authenticator::hs256(nhip_core::auth::JwtSecret::new(
            &b"nhip-bench-signing-secret-of-32-bytes"[..],
        )?),
        settings: nhip_core::Settings::default(),
        sns_certificates: Arc::new(nhip_sns_https::HttpsCertificates::new()?),
        max_receives: None,
        runtime: "bench",
    }
    .deps();
    Ok(Bench { deps, store })
}
