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

/// CPU time the process has used, in seconds (user and system, every thread), from /proc
/// (Linux clock ticks, 100 a second).
#[allow(dead_code)]
pub fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command's closing parenthesis; utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// USD per million, as docs/performance.md lists them with their sources.
#[allow(dead_code)]
pub struct Prices {
    pub wru: f64,
    pub rru: f64,
    pub sqs: f64,
    pub lambda_request: f64,
    pub http_api: f64,
}

#[allow(dead_code)]
impl Prices {
    /// ap-southeast-1, on-demand (DynamoDB at the nearest sourced Region's price, Tokyo's; HTTP
    /// API requests at us-east-1's).
    pub const SINGAPORE: Prices = Prices {
        wru: 0.715,
        rru: 0.143,
        sqs: 0.40,
        lambda_request: 0.20,
        http_api: 1.00,
    };
}

/// A builder of JSON requests signed as an admin (`root`) with a token issued at `now`.
#[allow(dead_code)]
pub fn admin_requests(
    deps: &Deps,
    now: DateTime<Utc>,
) -> impl Fn(&str, &str, serde_json::Value) -> axum::http::Request<axum::body::Body> {
    let admin = deps.auth.issue(
        &nhip_core::auth::Principal::new("root", nhip_core::auth::Role::Admin, None),
        now,
        chrono::Duration::days(1),
    );
    move |method: &str, path: &str, body: serde_json::Value| {
        axum::http::Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {admin}"))
            .header("content-type", "application/json")
            .body(axum::body::Body::from(body.to_string()))
            .expect("a request")
    }
}

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
    /// Prints every request's operation and key to stderr while set.
    pub trace: std::sync::atomic::AtomicBool,
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
        self.note("get", &key.pk, &key.sk);
        self.gets.fetch_add(1, Ordering::Relaxed);
        let item = self.inner.get(key).await?;
        let bytes = item.as_ref().map_or(0, size);
        self.rru.fetch_add(units(bytes, 4096), Ordering::Relaxed);
        Ok(item)
    }
    async fn put(&self, item: Item, condition: Condition) -> Result<(), StoreError> {
        self.note_item("put", &item);
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
        self.note("update", &key.pk, &key.sk);
        self.writes.fetch_add(1, Ordering::Relaxed);
        let result = self.inner.update(key, update, condition).await;
        let bytes = result.as_ref().map_or(0, size);
        self.wru.fetch_add(units(bytes, 1024), Ordering::Relaxed);
        result
    }
    async fn delete(&self, key: &Key, condition: Condition) -> Result<(), StoreError> {
        self.note("delete", &key.pk, &key.sk);
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.wru.fetch_add(1, Ordering::Relaxed);
        self.inner.delete(key, condition).await
    }
    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        if self.trace.load(Ordering::Relaxed) {
            eprintln!("query {:?}", query);
        }
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
        if self.trace.load(Ordering::Relaxed) {
            for op in &ops {
                match op {
                    WriteOp::Put { item, .. } => self.note_item("transact put", item),
                    other => eprintln!("transact {other:?}"),
                }
            }
        }
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
    fn note(&self, op: &str, pk: &str, sk: &str) {
        if self.trace.load(Ordering::Relaxed) {
            eprintln!("{op} {pk} / {sk}");
        }
    }

    fn note_item(&self, op: &str, item: &Item) {
        if self.trace.load(Ordering::Relaxed) {
            let field = |name: &str| item.get(name).and_then(|v| v.as_str()).unwrap_or("");
            eprintln!(
                "{op} {} / {} ({} bytes)",
                field("pk"),
                field("sk"),
                size(item)
            );
        }
    }

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
    #[allow(dead_code)]
    pub fn requests(&self) -> u64 {
        self.gets.load(Ordering::Relaxed)
            + self.queries.load(Ordering::Relaxed)
            + self.writes.load(Ordering::Relaxed)
    }
}

/// What a queue wrapper is shown of each batch sent, before it goes on.
type SendHook = Box<dyn Fn(&[nhip_ports::queue::OutgoingMessage]) + Send + Sync>;

/// A queue that passes every call on to `inner`, counting the messages sent, and shows each
/// batch sent to its hook first (the drain bench records them by stage and queue).
#[allow(dead_code)]
pub struct CountingQueue {
    pub inner: Arc<dyn nhip_ports::Queue>,
    pub sent: AtomicU64,
    hook: Option<SendHook>,
}

#[allow(dead_code)]
impl CountingQueue {
    /// `inner`, counted.
    pub fn new(inner: Arc<dyn nhip_ports::Queue>) -> Self {
        Self {
            inner,
            sent: AtomicU64::new(0),
            hook: None,
        }
    }

    /// `inner`, counted, each batch shown to `hook` first.
    pub fn with_hook(inner: Arc<dyn nhip_ports::Queue>, hook: SendHook) -> Self {
        Self {
            hook: Some(hook),
            ..Self::new(inner)
        }
    }
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
        if let Some(hook) = &self.hook {
            hook(&messages);
        }
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

/// A store, queues and bus that record every request by the partition it lands on (the table's
/// and each index's), with the capacity DynamoDB would bill for it; only the drain bench reads
/// them (`benches/drain.rs`).
#[allow(dead_code)]
pub mod recording {
    use std::collections::{BTreeMap, HashMap};
    use std::path::Path;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use nhip_domain::event::DomainEvent;
    use nhip_ports::bus::{BusError, EventBus};
    use nhip_ports::queue::{OutgoingMessage, Queue};
    use nhip_ports::store::{Index, item_size};

    /// Where a request lands: the table or one of its global secondary indexes.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub enum Target {
        Table,
        Gsi1,
        Gsi2,
        Gsi3,
    }

    impl Target {
        pub const INDEXES: [(Target, Index); 3] = [
            (Target::Gsi1, Index::Gsi1),
            (Target::Gsi2, Index::Gsi2),
            (Target::Gsi3, Index::Gsi3),
        ];

        pub fn of(index: Index) -> Self {
            match index {
                Index::Primary => Target::Table,
                Index::Gsi1 => Target::Gsi1,
                Index::Gsi2 => Target::Gsi2,
                Index::Gsi3 => Target::Gsi3,
            }
        }

        pub fn name(self) -> &'static str {
            match self {
                Target::Table => "table",
                Target::Gsi1 => "gsi1",
                Target::Gsi2 => "gsi2",
                Target::Gsi3 => "gsi3",
            }
        }
    }

    /// What one partition key (of the table or an index) received.
    #[derive(Debug, Clone, Default, PartialEq)]
    pub struct Load {
        /// Read requests (a query page, a get, a batch-get key).
        pub reads: u64,
        /// Writes (a put, update or delete, each write of a transaction, each index write).
        pub writes: u64,
        /// Read request units.
        pub rru: f64,
        /// Write request units.
        pub wru: f64,
    }

    impl Load {
        fn read(&mut self, rru: f64) {
            self.reads += 1;
            self.rru += rru;
        }

        fn write(&mut self, wru: f64) {
            self.writes += 1;
            self.wru += wru;
        }
    }

    /// The requests one stage made, as DynamoDB, SQS and EventBridge calls.
    #[derive(Debug, Clone, Default, PartialEq)]
    pub struct Calls {
        pub get_item: u64,
        pub batch_get_item: u64,
        pub put_item: u64,
        pub update_item: u64,
        pub delete_item: u64,
        pub query: u64,
        pub transact_write_items: u64,
        /// Writes inside those transactions.
        pub transaction_writes: u64,
        /// Conditional writes refused (billed all the same).
        pub conditions_failed: u64,
        /// `SendMessageBatch` calls, messages and 64 KB payload chunks, by queue.
        pub queue_sends: BTreeMap<String, (u64, u64, u64)>,
        /// `PutEvents` calls and entries.
        pub put_events: (u64, u64),
    }

    impl Calls {
        /// DynamoDB requests that are one item each (get, put, update, delete).
        pub fn single_item(&self) -> u64 {
            self.get_item + self.put_item + self.update_item + self.delete_item
        }
    }

    /// Write request units of an item of `size` bytes: one per KB started.
    pub fn wru(size: usize) -> f64 {
        size.div_ceil(1024).max(1) as f64
    }

    /// Read request units of a strongly consistent read of `size` bytes: one per 4 KB started.
    pub fn rru(size: usize) -> f64 {
        size.div_ceil(4096).max(1) as f64
    }

    type KeyLoads = HashMap<(&'static str, Target, String), Load>;
    type ItemLoads = HashMap<(&'static str, String, String), Load>;

    /// The store that records. Item sizes are DynamoDB's (`nhip_ports::store::item_size`:
    /// attribute names plus values); an index entry is billed at the item's size (every index
    /// projects all attributes). The image before a write is read from SQLite unrecorded.
    pub struct Recording {
        pub inner: SqliteStore,
        on: AtomicBool,
        stage: Mutex<&'static str>,
        keys: Mutex<KeyLoads>,
        items: Mutex<ItemLoads>,
        calls: Mutex<BTreeMap<&'static str, Calls>>,
    }

    impl Recording {
        pub fn new(inner: SqliteStore) -> Self {
            Self {
                inner,
                on: AtomicBool::new(false),
                stage: Mutex::new("setup"),
                keys: Mutex::default(),
                items: Mutex::default(),
                calls: Mutex::default(),
            }
        }

        /// Starts recording afresh, the requests from now on going to `stage`.
        pub fn start(&self, stage: &'static str) {
            self.keys.lock().unwrap().clear();
            self.items.lock().unwrap().clear();
            self.calls.lock().unwrap().clear();
            self.set_stage(stage);
            self.on.store(true, Ordering::Relaxed);
        }

        /// Records what follows under `stage`.
        pub fn set_stage(&self, stage: &'static str) {
            *self.stage.lock().unwrap() = stage;
        }

        /// Stops recording.
        pub fn stop(&self) {
            self.on.store(false, Ordering::Relaxed);
        }

        /// Load per `(stage, target, partition key)`.
        pub fn keys(&self) -> KeyLoads {
            self.keys.lock().unwrap().clone()
        }

        /// Load per `(stage, partition key, sort key)` of the table's items.
        pub fn items(&self) -> ItemLoads {
            self.items.lock().unwrap().clone()
        }

        /// Calls per stage.
        pub fn calls(&self) -> BTreeMap<&'static str, Calls> {
            self.calls.lock().unwrap().clone()
        }

        fn recording(&self) -> Option<&'static str> {
            self.on
                .load(Ordering::Relaxed)
                .then(|| *self.stage.lock().unwrap())
        }

        fn call(&self, stage: &'static str, f: impl FnOnce(&mut Calls)) {
            f(self.calls.lock().unwrap().entry(stage).or_default());
        }

        fn read(&self, stage: &'static str, target: Target, pk: &str, rru: f64) {
            self.keys
                .lock()
                .unwrap()
                .entry((stage, target, pk.to_owned()))
                .or_default()
                .read(rru);
        }

        fn write_key(&self, stage: &'static str, target: Target, pk: &str, wru: f64) {
            self.keys
                .lock()
                .unwrap()
                .entry((stage, target, pk.to_owned()))
                .or_default()
                .write(wru);
        }

        /// One write of an item, `before` and `after` it (`None`: absent), `factor` 2 in a
        /// transaction: the table's partition, and every index entry it adds, changes or
        /// removes (an entry moving between index partitions writes both).
        fn write(
            &self,
            stage: &'static str,
            key: &Key,
            before: Option<&Item>,
            after: Option<&Item>,
            factor: f64,
        ) {
            let size_before = before.map_or(0, item_size);
            let size_after = after.map_or(0, item_size);
            let units = wru(size_before.max(size_after)) * factor;
            self.write_key(stage, Target::Table, &key.pk, units);
            self.items
                .lock()
                .unwrap()
                .entry((stage, key.pk.clone(), key.sk.clone()))
                .or_default()
                .write(units);
            for (target, index) in Target::INDEXES {
                let pk_of = |item: Option<&Item>| {
                    item.and_then(|i| i.get(index.pk_attr()))
                        .and_then(serde_json::Value::as_str)
                        .map(str::to_owned)
                };
                match (pk_of(before), pk_of(after)) {
                    (Some(old), Some(new)) if old == new => {
                        self.write_key(stage, target, &new, wru(size_after));
                    }
                    (old, new) => {
                        if let Some(old) = old {
                            self.write_key(stage, target, &old, wru(size_before));
                        }
                        if let Some(new) = new {
                            self.write_key(stage, target, &new, wru(size_after));
                        }
                    }
                }
            }
        }

        /// A refused conditional write: billed on the table at the existing item's size.
        fn refused(&self, stage: &'static str, key: &Key, before: Option<&Item>, factor: f64) {
            let units = wru(before.map_or(0, item_size)) * factor;
            self.write_key(stage, Target::Table, &key.pk, units);
            self.call(stage, |c| c.conditions_failed += 1);
        }

        async fn image(&self, key: &Key) -> Result<Option<Item>, StoreError> {
            self.inner.get(key).await
        }
    }

    fn condition_failed<T>(result: &Result<T, StoreError>) -> bool {
        matches!(result, Err(StoreError::ConditionFailed { .. }))
    }

    #[async_trait]
    impl ItemStore for Recording {
        fn backend(&self) -> &'static str {
            "sqlite (recorded)"
        }
        async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
            let found = self.inner.get(key).await?;
            if let Some(stage) = self.recording() {
                self.call(stage, |c| c.get_item += 1);
                self.read(
                    stage,
                    Target::Table,
                    &key.pk,
                    rru(found.as_ref().map_or(0, item_size)),
                );
            }
            Ok(found)
        }
        async fn put(&self, item: Item, condition: Condition) -> Result<(), StoreError> {
            let Some(stage) = self.recording() else {
                return self.inner.put(item, condition).await;
            };
            let key = Key::of(&item).ok_or_else(|| StoreError::invalid("item without a key"))?;
            let before = self.image(&key).await?;
            let written = item.clone();
            let result = self.inner.put(item, condition).await;
            self.call(stage, |c| c.put_item += 1);
            match &result {
                Ok(()) => self.write(stage, &key, before.as_ref(), Some(&written), 1.0),
                Err(_) if condition_failed(&result) => {
                    self.refused(stage, &key, before.as_ref(), 1.0)
                }
                Err(_) => {}
            }
            result
        }
        async fn update(
            &self,
            key: &Key,
            update: Update,
            condition: Condition,
        ) -> Result<Item, StoreError> {
            let Some(stage) = self.recording() else {
                return self.inner.update(key, update, condition).await;
            };
            let before = self.image(key).await?;
            let result = self.inner.update(key, update, condition).await;
            self.call(stage, |c| c.update_item += 1);
            match &result {
                Ok(after) => self.write(stage, key, before.as_ref(), Some(after), 1.0),
                Err(_) if condition_failed(&result) => {
                    self.refused(stage, key, before.as_ref(), 1.0)
                }
                Err(_) => {}
            }
            result
        }
        async fn delete(&self, key: &Key, condition: Condition) -> Result<(), StoreError> {
            let Some(stage) = self.recording() else {
                return self.inner.delete(key, condition).await;
            };
            let before = self.image(key).await?;
            let result = self.inner.delete(key, condition).await;
            self.call(stage, |c| c.delete_item += 1);
            match &result {
                Ok(()) => self.write(stage, key, before.as_ref(), None, 1.0),
                Err(_) if condition_failed(&result) => {
                    self.refused(stage, key, before.as_ref(), 1.0)
                }
                Err(_) => {}
            }
            result
        }
        async fn query(&self, query: Query) -> Result<Page, StoreError> {
            let target = Target::of(query.index);
            let pk = query.pk.clone();
            let page = self.inner.query(query).await?;
            if let Some(stage) = self.recording() {
                self.call(stage, |c| c.query += 1);
                // A query is billed on the total size it returns; index reads are eventually
                // consistent (half price), the table's strongly consistent.
                let size: usize = page.items.iter().map(item_size).sum();
                let factor = if target == Target::Table { 1.0 } else { 0.5 };
                self.read(stage, target, &pk, rru(size) * factor);
            }
            Ok(page)
        }
        async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
            let found = self.inner.batch_get(keys).await?;
            if let Some(stage) = self.recording() {
                self.call(stage, |c| c.batch_get_item += 1);
                for key in keys {
                    let size = found
                        .iter()
                        .find(|item| Key::of(item).as_ref() == Some(key))
                        .map_or(0, item_size);
                    self.read(stage, Target::Table, &key.pk, rru(size));
                }
            }
            Ok(found)
        }
        async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
            let Some(stage) = self.recording() else {
                return self.inner.transact(ops).await;
            };
            let mut befores = Vec::with_capacity(ops.len());
            for op in &ops {
                let key = op
                    .key()
                    .ok_or_else(|| StoreError::invalid("write without a key"))?;
                let before = self.image(&key).await?;
                befores.push((key, before));
            }
            let shapes: Vec<_> = ops
                .iter()
                .map(|op| match op {
                    WriteOp::Put { item, .. } => Some(Some(item.clone())),
                    WriteOp::Update { .. } => Some(None),
                    WriteOp::Delete { .. } => None,
                    WriteOp::Check { .. } => None,
                })
                .collect();
            let checks: Vec<bool> = ops
                .iter()
                .map(|op| matches!(op, WriteOp::Check { .. }))
                .collect();
            let result = self.inner.transact(ops).await;
            self.call(stage, |c| {
                c.transact_write_items += 1;
                c.transaction_writes += checks.iter().filter(|check| !**check).count() as u64;
            });
            for (((key, before), shape), check) in befores.iter().zip(shapes).zip(checks) {
                if check {
                    // A condition check is a transactional read: two read units per 4 KB.
                    self.read(
                        stage,
                        Target::Table,
                        &key.pk,
                        2.0 * rru(before.as_ref().map_or(0, item_size)),
                    );
                    continue;
                }
                match &result {
                    Ok(()) => {
                        let after = match shape {
                            Some(Some(item)) => Some(item),
                            Some(None) => self.image(key).await?,
                            None => None,
                        };
                        self.write(stage, key, before.as_ref(), after.as_ref(), 2.0);
                    }
                    Err(_) => self.refused(stage, key, before.as_ref(), 2.0),
                }
            }
            result
        }
        async fn health(&self) -> Result<(), StoreError> {
            self.inner.health().await
        }
    }

    /// A hook that records a queue's sends, by queue, under the store's stage.
    fn record_sends(queue: &str, recorder: Arc<Recording>) -> SendHook {
        let name = queue.to_owned();
        Box::new(move |messages: &[OutgoingMessage]| {
            let Some(stage) = recorder.recording() else {
                return;
            };
            let bytes: usize = messages
                .iter()
                .map(|m| {
                    m.body.len()
                        + m.attributes
                            .iter()
                            .map(|(k, v)| k.len() + v.len())
                            .sum::<usize>()
                })
                .sum();
            let count = messages.len() as u64;
            recorder.call(stage, |c| {
                let sent = c.queue_sends.entry(name.clone()).or_default();
                sent.0 += 1;
                sent.1 += count;
                sent.2 += bytes.div_ceil(64 * 1024).max(1) as u64;
            });
        })
    }

    /// An event bus whose `PutEvents` calls are recorded under the store's stage.
    pub struct RecordingBus {
        pub inner: Arc<dyn EventBus>,
        pub recorder: Arc<Recording>,
    }

    #[async_trait]
    impl EventBus for RecordingBus {
        fn backend(&self) -> &'static str {
            self.inner.backend()
        }
        async fn publish(&self, events: &[DomainEvent]) -> Result<(), BusError> {
            if let Some(stage) = self.recorder.recording() {
                let count = events.len() as u64;
                self.recorder.call(stage, |c| {
                    c.put_events.0 += 1;
                    c.put_events.1 += count;
                });
            }
            self.inner.publish(events).await
        }
    }

    /// What [`deps`] builds.
    pub struct Bench {
        pub deps: Deps,
        pub store: Arc<Recording>,
        pub clock: Arc<SimulatedClock>,
    }

    /// Deps on the embedded adapters in `dir` with `settings`, the store, queues and bus
    /// recorded, the clock frozen at `now`.
    pub fn deps(
        dir: &Path,
        now: DateTime<Utc>,
        settings: nhip_core::Settings,
    ) -> anyhow::Result<Bench> {
        let db = Database::open(dir.join("bench.db"))?;
        let clock = Arc::new(SimulatedClock::frozen(now));
        let store = Arc::new(Recording::new(SqliteStore::new(db.clone())));
        let mut deps = embedded(dir, db, store.clone(), clock.clone(), settings)?;
        let wrap = |queue: &mut Arc<dyn Queue>| {
            let hook = record_sends(queue.name(), store.clone());
            *queue = Arc::new(CountingQueue::with_hook(queue.clone(), hook));
        };
        wrap(&mut deps.queues.events);
        wrap(&mut deps.queues.sends);
        wrap(&mut deps.queues.steps);
        wrap(&mut deps.queues.tickets);
        wrap(&mut deps.queues.imports);
        deps.bus = Arc::new(RecordingBus {
            inner: deps.bus.clone(),
            recorder: store.clone(),
        });
        Ok(Bench { deps, store, clock })
    }
}

/// What [`deps`] builds.
pub struct Bench {
    /// The deps.
    pub deps: Deps,
    /// Their store, counted.
    pub store: Arc<Counting>,
    /// The file under it.
    #[allow(dead_code)]
    pub db: Arc<Database>,
}

/// Deps on the embedded adapters in `dir`, their store counted, the clock frozen at `now`.
#[allow(dead_code)]
pub fn deps(dir: &Path, now: DateTime<Utc>) -> anyhow::Result<Bench> {
    deps_with(dir, now, nhip_core::Settings::default())
}

/// [`deps`] with `settings`.
pub fn deps_with(
    dir: &Path,
    now: DateTime<Utc>,
    settings: nhip_core::Settings,
) -> anyhow::Result<Bench> {
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
        trace: Default::default(),
    });
    let deps = embedded(dir, db.clone(), store.clone(), clock, settings)?;
    Ok(Bench { deps, store, db })
}

/// Deps on the embedded adapters on `db`, around `store`.
fn embedded(
    dir: &Path,
    db: Arc<Database>,
    store: Arc<dyn ItemStore>,
    clock: Arc<SimulatedClock>,
    settings: nhip_core::Settings,
) -> anyhow::Result<Deps> {
    let (deps, _) = nhip_local_runner::embedded::Embedded {
        db: db.clone(),
        store,
        clock: clock.clone(),
        outbox: Arc::new(Outbox::new(db.clone(), None, clock.clone())),
        blobs: dir.join("blobs"),
        auth: nhip_core::auth::Authenticator::hs256(nhip_core::auth::JwtSecret::new(
            &b"nhip-bench-signing-secret-of-32-bytes"[..],
        )?),
        settings,
        sns_certificates: Arc::new(nhip_sns_https::HttpsCertificates::new()?),
        max_receives: None,
        runtime: "bench",
    }
    .deps();
    Ok(deps)
}
