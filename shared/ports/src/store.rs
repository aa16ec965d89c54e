//! The item-store port: the operations Nhịp's single-table model needs, written once and
//! implemented by DynamoDB (`nhip-aws`) and SQLite (`nhip-local`). Both adapters are run
//! against one contract suite, so the semantics spelled out here are the ones tested.
//!
//! Items are JSON objects. Every item has string `pk` and `sk` attributes; an item joins a
//! global secondary index only when it has both of that index's key attributes as strings
//! (sparse indexes, as in DynamoDB). The rules that do not depend on the backend (condition
//! evaluation, update application, size and shape validation, cursors) live here so both
//! adapters apply them identically.

use std::collections::{BTreeMap, HashSet};
use std::error::Error as StdError;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One stored item: attribute name → value.
pub type Item = Map<String, Value>;

/// Partition-key attribute of the table.
pub const PK: &str = "pk";
/// Sort-key attribute of the table.
pub const SK: &str = "sk";
/// Expiry attribute (epoch seconds); DynamoDB's TTL deletes the item some time after it.
pub const TTL: &str = "ttl";
/// An item with this string attribute joins the table's change feed when it is created (on
/// DynamoDB, the table's stream, its consumers filtering on `INSERT` and this attribute;
/// locally, the SQLite file's `feed` table): its value names the feed's consumer (`stats`).
pub const FEED: &str = "feed";
/// Largest item the store accepts, as DynamoDB counts it.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;
/// Most writes in one transaction.
pub const MAX_TRANSACTION_OPS: usize = 100;
/// Most keys in one batch get.
pub const MAX_BATCH_GET_KEYS: usize = 100;
/// Most items one query page may ask for.
pub const MAX_QUERY_LIMIT: u32 = 1000;

/// One item the change feed delivers: created, with its consumer's [`FEED`] attribute.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedRecord {
    /// Which part of the feed delivered it (a DynamoDB stream shard, `local`): records of one
    /// shard arrive in order.
    pub shard: String,
    /// Its position in the shard, zero-padded to 40 digits so positions compare as strings.
    pub seq: String,
    /// The item as created.
    pub item: Item,
}

impl FeedRecord {
    /// A record at `seq` (digits) of `shard`.
    pub fn new(shard: impl Into<String>, seq: &str, item: Item) -> Self {
        FeedRecord {
            shard: shard.into(),
            seq: format!("{seq:0>40}"),
            item,
        }
    }
}

/// The change feed read by pulling it (the local file's; on AWS, Lambda reads the table's
/// stream and hands its records to the consumer function).
#[async_trait::async_trait]
pub trait ChangeFeed: Send + Sync {
    /// The oldest records not yet acknowledged, at most `limit`, in order.
    async fn read(&self, limit: usize) -> Result<Vec<FeedRecord>, StoreError>;

    /// Acknowledges `records` (the oldest read): they are not delivered again.
    async fn acknowledge(&self, records: &[FeedRecord]) -> Result<(), StoreError>;
}

/// Work whose writes go to the store, boxed for [`CommitGroups::group`].
pub type GroupWork<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>>;

/// A store that can commit the writes of a unit of work together: the local file runs a queue
/// consumer's batch (its writes and its acknowledgement) as one transaction, one commit instead
/// of one per request. Only a matter of speed: every request keeps its own atomicity and
/// conditions, and a crash before the commit undoes the batch's acknowledgement with its
/// writes, so its messages come back and are redone. DynamoDB has nothing of the kind (`Deps.groups` is
/// `None` on AWS).
#[async_trait]
pub trait CommitGroups: Send + Sync {
    /// Runs `work` with its writes committed together.
    async fn group(&self, work: GroupWork<'_>);
}

/// The primary key of an item.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Key {
    /// Partition key, e.g. `CUS#01J…`.
    pub pk: String,
    /// Sort key, e.g. `PROFILE` or `TL#2026-11-23T08:00:00.000Z#…`.
    pub sk: String,
}

impl Key {
    /// A key from its two parts.
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sk: sk.into(),
        }
    }

    /// The key of `item`, if it has string `pk` and `sk` attributes.
    pub fn of(item: &Item) -> Option<Self> {
        Some(Self::new(item.get(PK)?.as_str()?, item.get(SK)?.as_str()?))
    }

    /// The item an adapter's health check reads (`SYS#health` / `HEALTH`; it need not exist):
    /// a read that proves the table answers.
    pub fn health() -> Self {
        Self::new("SYS#health", "HEALTH")
    }

    /// An item holding just this key, to add attributes to.
    pub fn to_item(&self) -> Item {
        let mut item = Item::new();
        item.insert(PK.into(), Value::String(self.pk.clone()));
        item.insert(SK.into(), Value::String(self.sk.clone()));
        item
    }
}

/// Where a query runs: the table itself or one of its global secondary indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Index {
    /// The table's own `pk`/`sk`.
    Primary,
    /// `gsi1` on `gsi1pk`/`gsi1sk`: due work by time bucket, lookups by secondary attribute.
    Gsi1,
    /// `gsi2` on `gsi2pk`/`gsi2sk`: owner- and status-scoped lists.
    Gsi2,
    /// `gsi3` on `gsi3pk`/`gsi3sk`: a third list partition per item (e.g. customers by team).
    Gsi3,
}

impl Index {
    /// Every index, the table first.
    pub const ALL: [Index; 4] = [Index::Primary, Index::Gsi1, Index::Gsi2, Index::Gsi3];

    /// The global secondary indexes, without the table.
    pub const SECONDARY: [Index; 3] = [Index::Gsi1, Index::Gsi2, Index::Gsi3];

    /// The index name in DynamoDB, `None` for the table.
    pub fn name(self) -> Option<&'static str> {
        match self {
            Index::Primary => None,
            Index::Gsi1 => Some("gsi1"),
            Index::Gsi2 => Some("gsi2"),
            Index::Gsi3 => Some("gsi3"),
        }
    }

    /// The partition-key attribute of this index.
    pub fn pk_attr(self) -> &'static str {
        match self {
            Index::Primary => PK,
            Index::Gsi1 => "gsi1pk",
            Index::Gsi2 => "gsi2pk",
            Index::Gsi3 => "gsi3pk",
        }
    }

    /// The sort-key attribute of this index.
    pub fn sk_attr(self) -> &'static str {
        match self {
            Index::Primary => SK,
            Index::Gsi1 => "gsi1sk",
            Index::Gsi2 => "gsi2sk",
            Index::Gsi3 => "gsi3sk",
        }
    }

    /// The attributes that position an item in this index: its own keys, then the table's.
    pub fn cursor_attrs(self) -> &'static [&'static str] {
        match self {
            Index::Primary => &[PK, SK],
            Index::Gsi1 => &["gsi1pk", "gsi1sk", PK, SK],
            Index::Gsi2 => &["gsi2pk", "gsi2sk", PK, SK],
            Index::Gsi3 => &["gsi3pk", "gsi3sk", PK, SK],
        }
    }
}

/// A condition on the item currently stored under a key, checked atomically with a write.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// No condition.
    Always,
    /// An item with this key exists.
    Exists,
    /// No item with this key exists (create-only).
    NotExists,
    /// The item exists and its attribute equals the value (e.g. `version` = 3).
    Equals(String, Value),
    /// The item exists and has this attribute.
    HasAttr(String),
    /// The item lacks this attribute (true when there is no item).
    LacksAttr(String),
    /// Every condition holds.
    All(Vec<Condition>),
}

impl Condition {
    /// Optimistic concurrency: the stored `version` is `version`.
    pub fn version_is(version: u64) -> Self {
        Condition::Equals("version".into(), Value::from(version))
    }

    /// Whether the condition holds for `current` (the stored item, if any).
    pub fn holds(&self, current: Option<&Item>) -> bool {
        match self {
            Condition::Always => true,
            Condition::Exists => current.is_some(),
            Condition::NotExists => current.is_none(),
            Condition::Equals(attr, value) => current
                .and_then(|item| item.get(attr))
                .is_some_and(|stored| values_equal(stored, value)),
            Condition::HasAttr(attr) => current.is_some_and(|item| item.contains_key(attr)),
            Condition::LacksAttr(attr) => !current.is_some_and(|item| item.contains_key(attr)),
            Condition::All(all) => all.iter().all(|c| c.holds(current)),
        }
    }
}

/// Numbers compare by value (DynamoDB stores `3` and `3.0` as the same number).
fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        },
        _ => a == b,
    }
}

/// Changes to one item's top-level attributes. Applied to a missing item, it creates one (as
/// DynamoDB's UpdateItem does); guard against that with [`Condition::Exists`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Update {
    /// Attributes to set.
    pub set: Vec<(String, Value)>,
    /// Attributes to remove.
    pub remove: Vec<String>,
    /// Atomic counters: add the amount, starting from 0 when the attribute is absent.
    pub add: Vec<(String, i64)>,
}

impl Update {
    /// An empty update.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also set `attr` to `value`.
    pub fn set(mut self, attr: impl Into<String>, value: impl Into<Value>) -> Self {
        self.set.push((attr.into(), value.into()));
        self
    }

    /// Also remove `attr`.
    pub fn remove(mut self, attr: impl Into<String>) -> Self {
        self.remove.push(attr.into());
        self
    }

    /// Also add `amount` to the counter `attr`.
    pub fn add(mut self, attr: impl Into<String>, amount: i64) -> Self {
        self.add.push((attr.into(), amount));
        self
    }

    /// Checks that the update names each attribute once, leaves the key alone and does something.
    pub fn validate(&self) -> Result<(), StoreError> {
        let names = self
            .set
            .iter()
            .map(|(a, _)| a)
            .chain(&self.remove)
            .chain(self.add.iter().map(|(a, _)| a));
        let mut seen = HashSet::new();
        for name in names {
            if name == PK || name == SK {
                return Err(StoreError::invalid(format!(
                    "an update may not change '{name}'"
                )));
            }
            if name.is_empty() {
                return Err(StoreError::invalid("an attribute name is empty"));
            }
            if !seen.insert(name) {
                return Err(StoreError::invalid(format!(
                    "attribute '{name}' appears twice in one update"
                )));
            }
        }
        if seen.is_empty() {
            return Err(StoreError::invalid("an update must change something"));
        }
        Ok(())
    }

    /// The item after applying this update to `current` (or to an empty item under `key`).
    pub fn apply(&self, key: &Key, current: Option<&Item>) -> Result<Item, StoreError> {
        let mut item = current.cloned().unwrap_or_else(|| key.to_item());
        for (attr, value) in &self.set {
            item.insert(attr.clone(), value.clone());
        }
        for attr in &self.remove {
            item.remove(attr);
        }
        for (attr, amount) in &self.add {
            let start = match item.get(attr) {
                None => 0,
                Some(Value::Number(n)) => n.as_i64().ok_or_else(|| {
                    StoreError::invalid(format!("counter '{attr}' is not an integer"))
                })?,
                Some(_) => {
                    return Err(StoreError::invalid(format!(
                        "cannot add to '{attr}': it is not a number"
                    )));
                }
            };
            let total = start
                .checked_add(*amount)
                .ok_or_else(|| StoreError::invalid(format!("counter '{attr}' would overflow")))?;
            item.insert(attr.clone(), Value::from(total));
        }
        Ok(item)
    }
}

/// A condition on the sort key of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortKey {
    /// Sort key equals the value.
    Eq(String),
    /// Sort key starts with the prefix.
    BeginsWith(String),
    /// Sort key lies between the two values, both included.
    Between(String, String),
}

impl SortKey {
    /// Whether `sk` satisfies the condition (byte-wise order, as DynamoDB compares strings).
    pub fn matches(&self, sk: &str) -> bool {
        match self {
            SortKey::Eq(v) => sk == v,
            SortKey::BeginsWith(prefix) => sk.starts_with(prefix.as_str()),
            SortKey::Between(lo, hi) => lo.as_str() <= sk && sk <= hi.as_str(),
        }
    }
}

/// One query: the items of one partition of an index, in sort-key order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The table or a global secondary index.
    pub index: Index,
    /// The partition-key value to read.
    pub pk: String,
    /// An optional condition on the sort key.
    pub sk: Option<SortKey>,
    /// Ascending (`true`) or descending sort-key order.
    pub forward: bool,
    /// Most items in the page, 1 to [`MAX_QUERY_LIMIT`].
    pub limit: u32,
    /// Where the previous page stopped.
    pub cursor: Option<Cursor>,
}

impl Query {
    /// The first 100 items of partition `pk` of `index`, ascending.
    pub fn partition(index: Index, pk: impl Into<String>) -> Self {
        Self {
            index,
            pk: pk.into(),
            sk: None,
            forward: true,
            limit: 100,
            cursor: None,
        }
    }

    /// Restricts the sort key.
    pub fn sk(mut self, condition: SortKey) -> Self {
        self.sk = Some(condition);
        self
    }

    /// Newest (largest sort key) first.
    pub fn descending(mut self) -> Self {
        self.forward = false;
        self
    }

    /// Sets the page size.
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = limit;
        self
    }

    /// Continues after a previous page.
    pub fn after(mut self, cursor: Option<Cursor>) -> Self {
        self.cursor = cursor;
        self
    }

    /// Checks the limit and decodes the cursor into the position it names.
    pub fn validate(&self) -> Result<Option<BTreeMap<String, String>>, StoreError> {
        if self.limit == 0 || self.limit > MAX_QUERY_LIMIT {
            return Err(StoreError::invalid(format!(
                "limit must be between 1 and {MAX_QUERY_LIMIT}"
            )));
        }
        if self.pk.is_empty() {
            return Err(StoreError::invalid("the partition key of a query is empty"));
        }
        let Some(cursor) = &self.cursor else {
            return Ok(None);
        };
        let position = cursor.decode(self.index, &self.pk)?;
        // DynamoDB rejects a start key outside the sort-key condition; reject it the same way
        // on every backend, as a cursor made for another query.
        if let Some(condition) = &self.sk
            && !condition.matches(&position[self.index.sk_attr()])
        {
            return Err(StoreError::InvalidCursor {
                reason: "made for another query".to_owned(),
            });
        }
        Ok(Some(position))
    }
}

/// One page of query results.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    /// The items, in the query's order.
    pub items: Vec<Item>,
    /// Present when more items follow; pass it to the next query.
    pub next: Option<Cursor>,
}

/// An opaque pagination cursor: the position of the last item of a page. Clients hand it back
/// unchanged; a cursor that was altered, or that belongs to another query, is rejected with
/// [`StoreError::InvalidCursor`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Cursor(String);

impl Cursor {
    /// Wraps a cursor string received from a client.
    pub fn from_client(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The string to hand to the client.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The cursor after `item` in `index`. `None` if the item lacks a key attribute of the index.
    pub fn after_item(index: Index, item: &Item) -> Option<Self> {
        let mut position = BTreeMap::new();
        for attr in index.cursor_attrs() {
            position.insert(*attr, item.get(*attr)?.as_str()?);
        }
        let json = serde_json::to_vec(&position).ok()?;
        Some(Self(URL_SAFE_NO_PAD.encode(json)))
    }

    /// The position this cursor names, checked against the query it is used with.
    pub fn decode(&self, index: Index, pk: &str) -> Result<BTreeMap<String, String>, StoreError> {
        let bad = |reason: &str| StoreError::InvalidCursor {
            reason: reason.to_owned(),
        };
        let bytes = URL_SAFE_NO_PAD
            .decode(self.0.as_bytes())
            .map_err(|_| bad("not base64url"))?;
        let position: BTreeMap<String, String> =
            serde_json::from_slice(&bytes).map_err(|_| bad("not a cursor"))?;
        let expected = index.cursor_attrs();
        if position.len() != expected.len() || !expected.iter().all(|a| position.contains_key(*a)) {
            return Err(bad("made for another index"));
        }
        if position[index.pk_attr()] != pk {
            return Err(bad("made for another partition"));
        }
        if position.values().any(|v| v.is_empty() || v.len() > 2048) {
            return Err(bad("holds an impossible key"));
        }
        Ok(position)
    }
}

/// One write of a transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteOp {
    /// Put the whole item if the condition holds.
    Put {
        /// The new item, with its key.
        item: Item,
        /// Checked against the item it replaces.
        condition: Condition,
    },
    /// Update the item if the condition holds.
    Update {
        /// Which item.
        key: Key,
        /// The change.
        update: Update,
        /// Checked against the current item.
        condition: Condition,
    },
    /// Delete the item if the condition holds.
    Delete {
        /// Which item.
        key: Key,
        /// Checked against the current item.
        condition: Condition,
    },
    /// Write nothing, but fail the transaction unless the condition holds.
    Check {
        /// Which item.
        key: Key,
        /// Checked against the current item.
        condition: Condition,
    },
}

impl WriteOp {
    /// The key this operation touches, if it is well formed.
    pub fn key(&self) -> Option<Key> {
        match self {
            WriteOp::Put { item, .. } => Key::of(item),
            WriteOp::Update { key, .. }
            | WriteOp::Delete { key, .. }
            | WriteOp::Check { key, .. } => Some(key.clone()),
        }
    }
}

/// Why a store operation failed. The first four are distinct on purpose: callers react to
/// each differently (report a conflict, retry, reject the input, back off).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A condition did not hold; nothing was written. In a transaction, `op` is the index of
    /// the first operation whose condition failed.
    #[error("condition failed{}", op.map(|i| format!(" on operation {i}")).unwrap_or_default())]
    ConditionFailed {
        /// The failing operation of a transaction.
        op: Option<usize>,
    },
    /// Another transaction was writing the same item at the same moment; nothing was written.
    /// Safe to retry.
    #[error("transaction conflicted with a concurrent write")]
    TransactionConflict,
    /// The item would exceed the store's item size limit; nothing was written.
    #[error("item {key:?} is {size} bytes, over the {limit}-byte limit")]
    ItemTooLarge {
        /// The oversized item's key.
        key: Option<Key>,
        /// Its size as DynamoDB counts it.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The backend is rejecting requests for now; back off and retry.
    #[error("store throttled the request")]
    Throttled {
        /// What the backend said.
        #[source]
        source: Option<Box<dyn StdError + Send + Sync>>,
    },
    /// A pagination cursor was malformed or belongs to another query.
    #[error("invalid pagination cursor: {reason}")]
    InvalidCursor {
        /// What was wrong with it.
        reason: String,
    },
    /// The request itself is malformed (missing key, too many operations, …).
    #[error("invalid store request: {reason}")]
    Invalid {
        /// What was wrong with it.
        reason: String,
    },
    /// The backend failed or could not be reached.
    #[error("store unavailable")]
    Unavailable {
        /// The underlying error, kept whole.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
}

impl StoreError {
    /// An [`StoreError::Invalid`] with this reason.
    pub fn invalid(reason: impl Into<String>) -> Self {
        StoreError::Invalid {
            reason: reason.into(),
        }
    }

    /// An [`StoreError::Unavailable`] wrapping `source`.
    pub fn unavailable(source: impl StdError + Send + Sync + 'static) -> Self {
        StoreError::Unavailable {
            source: Box::new(source),
        }
    }

    /// Whether trying the same request again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            StoreError::TransactionConflict
                | StoreError::Throttled { .. }
                | StoreError::Unavailable { .. }
        )
    }
}

/// The item store. See the module documentation for the semantics every adapter keeps.
#[async_trait]
pub trait ItemStore: Send + Sync {
    /// Short backend name for health reports and metrics (`sqlite`, `dynamodb`).
    fn backend(&self) -> &'static str;

    /// The item under `key`, if any (strongly consistent).
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError>;

    /// Writes `item` whole, replacing any item under its key, if `condition` holds.
    async fn put(&self, item: Item, condition: Condition) -> Result<(), StoreError>;

    /// Applies `update` if `condition` holds; returns the item as stored afterwards.
    async fn update(
        &self,
        key: &Key,
        update: Update,
        condition: Condition,
    ) -> Result<Item, StoreError>;

    /// Deletes the item under `key` if `condition` holds. Deleting a missing item with
    /// [`Condition::Always`] succeeds.
    async fn delete(&self, key: &Key, condition: Condition) -> Result<(), StoreError>;

    /// One page of a partition of an index.
    async fn query(&self, query: Query) -> Result<Page, StoreError>;

    /// The items under up to [`MAX_BATCH_GET_KEYS`] keys, in the order asked, missing ones left out.
    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError>;

    /// Up to [`MAX_TRANSACTION_OPS`] writes on distinct items, applied all or none.
    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError>;

    /// Whether the backend answers.
    async fn health(&self) -> Result<(), StoreError>;
}

/// Checks an item before it is written: string key attributes, string index keys, the size limit.
pub fn validate_item(item: &Item) -> Result<Key, StoreError> {
    let key = Key::of(item)
        .ok_or_else(|| StoreError::invalid("an item needs string 'pk' and 'sk' attributes"))?;
    validate_key(&key)?;
    for index in Index::SECONDARY {
        for attr in [index.pk_attr(), index.sk_attr()] {
            match item.get(attr) {
                None => {}
                // DynamoDB rejects an empty string as an index key value.
                Some(Value::String(s)) if !s.is_empty() => {}
                Some(_) => {
                    return Err(StoreError::invalid(format!(
                        "index key attribute '{attr}' must be a non-empty string"
                    )));
                }
            }
        }
    }
    if let Some(ttl) = item.get(TTL)
        && !ttl.is_u64()
    {
        return Err(StoreError::invalid("'ttl' must be epoch seconds"));
    }
    let size = item_size(item);
    if size > MAX_ITEM_BYTES {
        return Err(StoreError::ItemTooLarge {
            key: Some(key),
            size,
            limit: MAX_ITEM_BYTES,
        });
    }
    Ok(key)
}

/// Checks a key: both parts non-empty and within DynamoDB's key size limits.
pub fn validate_key(key: &Key) -> Result<(), StoreError> {
    if key.pk.is_empty() || key.sk.is_empty() {
        return Err(StoreError::invalid("key attributes must not be empty"));
    }
    if key.pk.len() > 2048 || key.sk.len() > 1024 {
        return Err(StoreError::invalid("key attribute too long"));
    }
    Ok(())
}

/// Checks a transaction: 1 to 100 operations, well-formed, each on a different item.
pub fn validate_transaction(ops: &[WriteOp]) -> Result<(), StoreError> {
    if ops.is_empty() || ops.len() > MAX_TRANSACTION_OPS {
        return Err(StoreError::invalid(format!(
            "a transaction holds 1 to {MAX_TRANSACTION_OPS} operations, not {}",
            ops.len()
        )));
    }
    let mut keys = HashSet::new();
    for op in ops {
        let key = match op {
            WriteOp::Put { item, .. } => validate_item(item)?,
            WriteOp::Update { key, update, .. } => {
                update.validate()?;
                validate_key(key)?;
                key.clone()
            }
            WriteOp::Delete { key, .. } | WriteOp::Check { key, .. } => {
                validate_key(key)?;
                key.clone()
            }
        };
        if !keys.insert(key) {
            return Err(StoreError::invalid(
                "a transaction may not touch the same item twice",
            ));
        }
    }
    Ok(())
}

/// The size of an item as DynamoDB bills and limits it: attribute-name bytes plus value bytes.
pub fn item_size(item: &Item) -> usize {
    item.iter()
        .map(|(name, value)| name.len() + value_size(value))
        .sum()
}

fn value_size(value: &Value) -> usize {
    match value {
        Value::String(s) => s.len(),
        // Numbers: about one byte per two significant digits, plus one.
        Value::Number(n) => {
            let digits = n.to_string().chars().filter(char::is_ascii_digit).count();
            digits.div_ceil(2) + 1
        }
        Value::Bool(_) | Value::Null => 1,
        Value::Array(values) => 3 + values.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        Value::Object(map) => {
            3 + map
                .iter()
                .map(|(k, v)| 1 + k.len() + value_size(v))
                .sum::<usize>()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(v: Value) -> Item {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn conditions_evaluate_against_the_stored_item() {
        let stored = item(json!({"pk": "A", "sk": "B", "version": 3, "name": "Lan"}));
        assert!(Condition::Exists.holds(Some(&stored)));
        assert!(!Condition::NotExists.holds(Some(&stored)));
        assert!(Condition::NotExists.holds(None));
        assert!(Condition::version_is(3).holds(Some(&stored)));
        assert!(Condition::Equals("version".into(), json!(3.0)).holds(Some(&stored)));
        assert!(!Condition::version_is(2).holds(Some(&stored)));
        assert!(!Condition::version_is(3).holds(None));
        assert!(Condition::LacksAttr("phone".into()).holds(Some(&stored)));
        assert!(Condition::LacksAttr("phone".into()).holds(None));
        assert!(!Condition::HasAttr("phone".into()).holds(None));
        assert!(
            !Condition::All(vec![Condition::Exists, Condition::version_is(4)]).holds(Some(&stored))
        );
    }

    #[test]
    fn updates_set_remove_and_count() {
        let key = Key::new("A", "B");
        let stored = item(json!({"pk": "A", "sk": "B", "n": 1, "old": true}));
        let update = Update::new()
            .set("name", "Minh")
            .remove("old")
            .add("n", 2)
            .add("m", -1);
        let after = update.apply(&key, Some(&stored)).unwrap();
        assert_eq!(
            Value::Object(after),
            json!({"pk": "A", "sk": "B", "n": 3, "m": -1, "name": "Minh"})
        );
        let created = Update::new().add("n", 1).apply(&key, None).unwrap();
        assert_eq!(
            Value::Object(created),
            json!({"pk": "A", "sk": "B", "n": 1})
        );
    }

    #[test]
    fn malformed_updates_are_rejected() {
        assert!(Update::new().validate().is_err());
        assert!(Update::new().set("pk", "X").validate().is_err());
        assert!(Update::new().set("a", 1).remove("a").validate().is_err());
        let not_number = item(json!({"pk": "A", "sk": "B", "n": "x"}));
        assert!(
            Update::new()
                .add("n", 1)
                .apply(&Key::new("A", "B"), Some(&not_number))
                .is_err()
        );
    }

    #[test]
    fn items_are_sized_like_dynamodb() {
        let small = item(json!({"pk": "A", "sk": "B"}));
        assert_eq!(item_size(&small), 6);
        let big = item(json!({"pk": "A", "sk": "B", "blob": "x".repeat(MAX_ITEM_BYTES)}));
        assert!(matches!(
            validate_item(&big),
            Err(StoreError::ItemTooLarge { .. })
        ));
    }

    #[test]
    fn transactions_reject_repeated_items_and_bad_sizes() {
        let put = WriteOp::Put {
            item: item(json!({"pk": "A", "sk": "B"})),
            condition: Condition::Always,
        };
        let check = WriteOp::Check {
            key: Key::new("A", "B"),
            condition: Condition::Exists,
        };
        assert!(validate_transaction(std::slice::from_ref(&put)).is_ok());
        assert!(validate_transaction(&[put.clone(), check]).is_err());
        assert!(validate_transaction(&[]).is_err());
        assert!(validate_transaction(&vec![put; 101]).is_err());
    }

    #[test]
    fn cursors_are_bound_to_their_index_and_partition() {
        let stored = item(json!({"pk": "A", "sk": "B", "gsi1pk": "G", "gsi1sk": "S"}));
        let cursor = Cursor::after_item(Index::Gsi1, &stored).unwrap();
        assert_eq!(cursor.decode(Index::Gsi1, "G").unwrap()["sk"], "B");
        for (index, pk) in [
            (Index::Gsi1, "other"),
            (Index::Primary, "A"),
            (Index::Gsi2, "G"),
            (Index::Gsi3, "G"),
        ] {
            assert!(matches!(
                cursor.decode(index, pk),
                Err(StoreError::InvalidCursor { .. })
            ));
        }
        for garbage in ["", "!!!", "e30", "bm90IGpzb24"] {
            assert!(
                Cursor::from_client(garbage)
                    .decode(Index::Primary, "A")
                    .is_err()
            );
        }
        assert!(Cursor::after_item(Index::Gsi2, &stored).is_none());
        assert!(Cursor::after_item(Index::Gsi3, &stored).is_none());
    }

    #[test]
    fn every_secondary_index_has_its_own_attributes() {
        let mut attrs = HashSet::new();
        for index in Index::ALL {
            assert!(attrs.insert(index.pk_attr()) && attrs.insert(index.sk_attr()));
            assert_eq!(index.name().is_none(), index == Index::Primary);
            assert_eq!(
                index.cursor_attrs()[..2],
                [index.pk_attr(), index.sk_attr()]
            );
        }
        assert_eq!(Index::ALL[1..], Index::SECONDARY);
        assert_eq!(Index::Gsi3.name(), Some("gsi3"));
        assert_eq!(
            (Index::Gsi3.pk_attr(), Index::Gsi3.sk_attr()),
            ("gsi3pk", "gsi3sk")
        );
    }

    #[test]
    fn index_keys_must_be_non_empty_strings_on_every_index() {
        for index in Index::SECONDARY {
            for attr in [index.pk_attr(), index.sk_attr()] {
                for bad in [json!(5), json!(""), json!(null), json!(["a"])] {
                    let mut wrong = item(json!({"pk": "A", "sk": "B"}));
                    wrong.insert(attr.to_owned(), bad.clone());
                    assert!(
                        matches!(validate_item(&wrong), Err(StoreError::Invalid { .. })),
                        "{attr} = {bad}"
                    );
                }
            }
            let mut good = item(json!({"pk": "A", "sk": "B"}));
            good.insert(index.pk_attr().to_owned(), json!("P"));
            assert!(validate_item(&good).is_ok(), "one key alone keeps it out");
        }
    }
}
