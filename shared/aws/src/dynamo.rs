//! `DynamoStore`: the item-store port on one DynamoDB table, plus [`create_table`] for
//! emulators and tests.
//!
//! Every request is validated with the shared rules of `nhip_ports::store` before it is
//! sent, so malformed requests and oversized items fail the same way (and without a request)
//! as on SQLite. Conditions and updates become DynamoDB expressions whose attribute names and
//! values are all placeholders (`#n0`, `:v0`) drawn from one counter per request, so the
//! condition and the update expression of one request never collide.

use crate::lazy::Lazy;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::error::Error as StdError;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck,
    CreateGlobalSecondaryIndexAction, Delete, GlobalSecondaryIndex, GlobalSecondaryIndexUpdate,
    IndexStatus, KeySchemaElement, KeyType, KeysAndAttributes, Projection, ProjectionType, Put,
    ReturnValue, ScalarAttributeType, TableStatus, TimeToLiveSpecification, TimeToLiveStatus,
    TransactWriteItem, Update as DynamoUpdate,
};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use nhip_ports::store::{
    self, Condition, Cursor, Index, Item, ItemStore, Key, MAX_BATCH_GET_KEYS, MAX_ITEM_BYTES, Page,
    Query, SortKey, StoreError, Update, WriteOp, item_size, validate_item, validate_key,
    validate_transaction,
};
use serde_json::Value;

/// An item as the SDK carries it (also the shape of expression attribute values).
type DynamoItem = HashMap<String, AttributeValue>;

/// Attempts at a batch get before unprocessed keys are reported as throttling.
const BATCH_GET_ATTEMPTS: u32 = 8;
/// First pause before retrying unprocessed keys; doubles on each attempt.
const BATCH_GET_BACKOFF: Duration = Duration::from_millis(25);
/// How long [`create_table`] waits for the table and its indexes to become active.
const TABLE_ACTIVE_TIMEOUT: Duration = Duration::from_secs(120);

/// The item store on one DynamoDB table (`pk`/`sk` strings, GSIs `gsi1`, `gsi2` and `gsi3`,
/// TTL on `ttl`), as created by [`create_table`] or the SAM template.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Lazy<Client>,
    table: String,
}

impl DynamoStore {
    /// A store over `table`, through `client`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self::on(crate::lazy::ready(client), table)
    }

    /// A store over `table`, through a client built from `sdk` on the first request.
    pub fn from_sdk_config(sdk: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self::on(crate::lazy::sdk_client(sdk, Client::new), table)
    }

    fn on(client: Lazy<Client>, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The DynamoDB client, for setup code and tests.
    pub fn client(&self) -> &Client {
        &self.client
    }
}

#[async_trait]
impl ItemStore for DynamoStore {
    fn backend(&self) -> &'static str {
        "dynamodb"
    }

    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        validate_key(key)?;
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_attrs(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| map_error(err, Some(key), 0))?;
        out.item.map(from_dynamo).transpose()
    }

    async fn put(&self, item: Item, condition: Condition) -> Result<(), StoreError> {
        let key = validate_item(&item)?;
        let mut expr = Expressions::default();
        let condition = expr.condition(&condition)?;
        let (names, values) = expr.into_parts();
        let size = item_size(&item);
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_dynamo(&item)?))
            .set_condition_expression(condition)
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(values)
            .send()
            .await
            .map_err(|err| map_error(err, Some(&key), size))?;
        Ok(())
    }

    async fn update(
        &self,
        key: &Key,
        update: Update,
        condition: Condition,
    ) -> Result<Item, StoreError> {
        let size = check_update(key, &update)?;
        let mut expr = Expressions::default();
        let condition = expr.condition(&condition)?;
        let update_expression = expr.update(&update)?;
        let (names, values) = expr.into_parts();
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_attrs(key)))
            .update_expression(update_expression)
            .set_condition_expression(condition)
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(values)
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|err| map_error(err, Some(key), size))?;
        match out.attributes {
            Some(attributes) => from_dynamo(attributes),
            // ALL_NEW always returns the item; an emulator that does not is answered with
            // the key alone rather than a failure after the write succeeded.
            None => Ok(key.to_item()),
        }
    }

    async fn delete(&self, key: &Key, condition: Condition) -> Result<(), StoreError> {
        validate_key(key)?;
        let mut expr = Expressions::default();
        let condition = expr.condition(&condition)?;
        let (names, values) = expr.into_parts();
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_attrs(key)))
            .set_condition_expression(condition)
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(values)
            .send()
            .await
            .map_err(|err| map_error(err, Some(key), 0))?;
        Ok(())
    }

    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        let position = query.validate()?;
        let mut expr = Expressions::default();
        let Some(key_condition) = expr.key_condition(&query) else {
            // The sort-key condition can match nothing (an empty range); DynamoDB would
            // reject it as invalid rather than answer with no items.
            return Ok(Page::default());
        };
        let (names, values) = expr.into_parts();
        let limit = query.limit as usize;
        // One item more than the page tells whether another page follows, so `next` is set
        // only when it leads somewhere.
        let wanted = limit + 1;
        let mut start = position.map(start_key);
        let mut items = Vec::with_capacity(wanted.min(128));
        loop {
            let ask = i32::try_from(wanted - items.len()).unwrap_or(i32::MAX);
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .set_index_name(query.index.name().map(str::to_owned))
                .key_condition_expression(&key_condition)
                .set_expression_attribute_names(names.clone())
                .set_expression_attribute_values(values.clone())
                .scan_index_forward(query.forward)
                .limit(ask)
                // Strongly consistent on the table; global secondary indexes only offer
                // eventually consistent reads.
                .consistent_read(query.index == Index::Primary)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|err| map_error(err, None, 0))?;
            for item in out.items.unwrap_or_default() {
                items.push(from_dynamo(item)?);
            }
            match out.last_evaluated_key {
                Some(last) if items.len() < wanted => start = Some(last),
                _ => break,
            }
        }
        let more = items.len() > limit;
        items.truncate(limit);
        let next = if more {
            items
                .last()
                .and_then(|last| Cursor::after_item(query.index, last))
        } else {
            None
        };
        Ok(Page { items, next })
    }

    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        if keys.len() > MAX_BATCH_GET_KEYS {
            return Err(StoreError::invalid(format!(
                "a batch get asks for at most {MAX_BATCH_GET_KEYS} keys"
            )));
        }
        for key in keys {
            validate_key(key)?;
        }
        // DynamoDB rejects a request naming a key twice; ask once, answer per key asked.
        let mut seen = HashSet::new();
        let mut pending: Vec<DynamoItem> = keys
            .iter()
            .filter(|key| seen.insert(*key))
            .map(key_attrs)
            .collect();
        let mut found: HashMap<Key, Item> = HashMap::with_capacity(pending.len());
        let mut attempt = 0;
        while !pending.is_empty() {
            if attempt == BATCH_GET_ATTEMPTS {
                return Err(StoreError::Throttled { source: None });
            }
            if attempt > 0 {
                tokio::time::sleep(BATCH_GET_BACKOFF * 2u32.pow(attempt - 1)).await;
            }
            attempt += 1;
            let request = KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut pending)))
                .consistent_read(true)
                .build()
                .map_err(StoreError::unavailable)?;
            let out = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(|err| map_error(err, None, 0))?;
            let responses = out
                .responses
                .and_then(|mut tables| tables.remove(&self.table))
                .unwrap_or_default();
            for item in responses {
                let item = from_dynamo(item)?;
                if let Some(key) = Key::of(&item) {
                    found.insert(key, item);
                }
            }
            pending = out
                .unprocessed_keys
                .and_then(|mut tables| tables.remove(&self.table))
                .map(|unprocessed| unprocessed.keys)
                .unwrap_or_default();
        }
        Ok(keys
            .iter()
            .filter_map(|key| found.get(key).cloned())
            .collect())
    }

    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        validate_transaction(&ops)?;
        let mut sizes = Vec::with_capacity(ops.len());
        for op in &ops {
            sizes.push(match op {
                WriteOp::Put { item, .. } => item_size(item),
                WriteOp::Update { key, update, .. } => check_update(key, update)?,
                WriteOp::Delete { .. } | WriteOp::Check { .. } => 0,
            });
        }
        let keys: Vec<Option<Key>> = ops.iter().map(WriteOp::key).collect();
        let items = ops
            .iter()
            .map(|op| self.transact_item(op))
            .collect::<Result<Vec<_>, _>>()?;
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map_err(|err| map_transaction_error(err, &keys, &sizes))?;
        Ok(())
    }

    async fn health(&self) -> Result<(), StoreError> {
        self.get(&Key::health()).await.map(|_| ())
    }
}

impl DynamoStore {
    /// One operation of a TransactWriteItems request.
    fn transact_item(&self, op: &WriteOp) -> Result<TransactWriteItem, StoreError> {
        let mut expr = Expressions::default();
        let item = match op {
            WriteOp::Put { item, condition } => {
                let condition = expr.condition(condition)?;
                let (names, values) = expr.into_parts();
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(to_dynamo(item)?))
                    .set_condition_expression(condition)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .build()
                    .map_err(StoreError::unavailable)?;
                TransactWriteItem::builder().put(put).build()
            }
            WriteOp::Update {
                key,
                update,
                condition,
            } => {
                let condition = expr.condition(condition)?;
                let update_expression = expr.update(update)?;
                let (names, values) = expr.into_parts();
                let update = DynamoUpdate::builder()
                    .table_name(&self.table)
                    .set_key(Some(key_attrs(key)))
                    .update_expression(update_expression)
                    .set_condition_expression(condition)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .build()
                    .map_err(StoreError::unavailable)?;
                TransactWriteItem::builder().update(update).build()
            }
            WriteOp::Delete { key, condition } => {
                let condition = expr.condition(condition)?;
                let (names, values) = expr.into_parts();
                let delete = Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(key_attrs(key)))
                    .set_condition_expression(condition)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .build()
                    .map_err(StoreError::unavailable)?;
                TransactWriteItem::builder().delete(delete).build()
            }
            WriteOp::Check { key, condition } => {
                // A condition check must carry an expression; "no condition" becomes one
                // that always holds, keeping the operation (and the positions of the
                // cancellation reasons) in place.
                let condition = expr.condition(condition)?.unwrap_or_else(|| {
                    format!(
                        "attribute_exists({pk}) OR attribute_not_exists({pk})",
                        pk = store::PK
                    )
                });
                let (names, values) = expr.into_parts();
                let check = ConditionCheck::builder()
                    .table_name(&self.table)
                    .set_key(Some(key_attrs(key)))
                    .condition_expression(condition)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .build()
                    .map_err(StoreError::unavailable)?;
                TransactWriteItem::builder().condition_check(check).build()
            }
        };
        Ok(item)
    }
}

/// Checks an update before it is sent, as SQLite checks the updated item: the key, the update
/// itself, and the attributes it sets (index keys must be strings, `ttl` epoch seconds).
/// Returns a lower bound of the updated item's size; an update whose own attributes already
/// exceed the item size limit is rejected here.
fn check_update(key: &Key, update: &Update) -> Result<usize, StoreError> {
    validate_key(key)?;
    update.validate()?;
    // Every attribute the update writes ends up in the item, so this partial item is a
    // lower bound of the result (counters counted at their smallest size, 0).
    let mut partial = key.to_item();
    for (attr, value) in &update.set {
        partial.insert(attr.clone(), value.clone());
    }
    for (attr, _) in &update.add {
        partial.insert(attr.clone(), Value::from(0));
    }
    validate_item(&partial)?;
    Ok(item_size(&partial))
}

/// The attribute-name and -value placeholders of one request.
#[derive(Default)]
struct Expressions {
    names: HashMap<String, String>,
    placeholders: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Expressions {
    /// The placeholder of an attribute name (`#n<i>`), one per distinct name.
    fn name(&mut self, attr: &str) -> Result<String, StoreError> {
        if attr.is_empty() {
            return Err(StoreError::invalid("an attribute name is empty"));
        }
        if let Some(placeholder) = self.placeholders.get(attr) {
            return Ok(placeholder.clone());
        }
        let placeholder = format!("#n{}", self.names.len());
        self.names.insert(placeholder.clone(), attr.to_owned());
        self.placeholders
            .insert(attr.to_owned(), placeholder.clone());
        Ok(placeholder)
    }

    /// The placeholder of a value (`:v<i>`), one per use.
    fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), value);
        placeholder
    }

    fn json(&mut self, value: &Value) -> Result<String, StoreError> {
        let value = serde_dynamo::to_attribute_value(value).map_err(StoreError::unavailable)?;
        Ok(self.value(value))
    }

    /// The condition expression, `None` when the condition always holds.
    fn condition(&mut self, condition: &Condition) -> Result<Option<String>, StoreError> {
        Ok(match condition {
            Condition::Always => None,
            // `pk` is in every item, so its presence is the item's.
            Condition::Exists => Some(format!("attribute_exists({})", store::PK)),
            Condition::NotExists => Some(format!("attribute_not_exists({})", store::PK)),
            Condition::Equals(attr, value) => {
                let name = self.name(attr)?;
                let value = self.json(value)?;
                Some(format!("{name} = {value}"))
            }
            Condition::HasAttr(attr) => Some(format!("attribute_exists({})", self.name(attr)?)),
            Condition::LacksAttr(attr) => {
                Some(format!("attribute_not_exists({})", self.name(attr)?))
            }
            Condition::All(parts) => {
                let mut rendered = Vec::with_capacity(parts.len());
                for part in parts {
                    rendered.extend(self.condition(part)?);
                }
                match rendered.len() {
                    0 => None,
                    1 => rendered.pop(),
                    _ => Some(
                        rendered
                            .iter()
                            .map(|c| format!("({c})"))
                            .collect::<Vec<_>>()
                            .join(" AND "),
                    ),
                }
            }
        })
    }

    /// The update expression: `SET … REMOVE … ADD …`.
    fn update(&mut self, update: &Update) -> Result<String, StoreError> {
        let mut clauses = Vec::with_capacity(3);
        if !update.set.is_empty() {
            let mut parts = Vec::with_capacity(update.set.len());
            for (attr, value) in &update.set {
                parts.push(format!("{} = {}", self.name(attr)?, self.json(value)?));
            }
            clauses.push(format!("SET {}", parts.join(", ")));
        }
        if !update.remove.is_empty() {
            let parts = update
                .remove
                .iter()
                .map(|attr| self.name(attr))
                .collect::<Result<Vec<_>, _>>()?;
            clauses.push(format!("REMOVE {}", parts.join(", ")));
        }
        if !update.add.is_empty() {
            let mut parts = Vec::with_capacity(update.add.len());
            for (attr, amount) in &update.add {
                let name = self.name(attr)?;
                let value = self.value(AttributeValue::N(amount.to_string()));
                parts.push(format!("{name} {value}"));
            }
            clauses.push(format!("ADD {}", parts.join(", ")));
        }
        Ok(clauses.join(" "))
    }

    /// The key condition of a query, `None` when its sort-key range is empty.
    fn key_condition(&mut self, query: &Query) -> Option<String> {
        let pk = self.name(query.index.pk_attr()).ok()?;
        let pk_value = self.value(AttributeValue::S(query.pk.clone()));
        let partition = format!("{pk} = {pk_value}");
        let sk_attr = query.index.sk_attr();
        let mut s = |v: &str| self.value(AttributeValue::S(v.to_owned()));
        // DynamoDB rejects empty strings in key conditions; no stored key is empty, so an
        // empty bound is either no bound at all or a range that holds nothing.
        let sort = match &query.sk {
            None => None,
            Some(SortKey::Eq(v)) if v.is_empty() => return None,
            Some(SortKey::Eq(v)) => Some(format!("#sk = {}", s(v))),
            Some(SortKey::BeginsWith(prefix)) if prefix.is_empty() => None,
            Some(SortKey::BeginsWith(prefix)) => Some(format!("begins_with(#sk, {})", s(prefix))),
            Some(SortKey::Between(lo, hi)) if lo > hi || hi.is_empty() => return None,
            Some(SortKey::Between(lo, hi)) if lo.is_empty() => Some(format!("#sk <= {}", s(hi))),
            Some(SortKey::Between(lo, hi)) => {
                let (lo, hi) = (s(lo), s(hi));
                Some(format!("#sk BETWEEN {lo} AND {hi}"))
            }
        };
        Some(match sort {
            None => partition,
            Some(sort) => {
                let sk = self.name(sk_attr).ok()?;
                format!("{partition} AND {}", sort.replace("#sk", &sk))
            }
        })
    }

    /// The name and value maps, `None` when empty (DynamoDB rejects empty maps).
    fn into_parts(self) -> (Option<HashMap<String, String>>, Option<DynamoItem>) {
        let names = (!self.names.is_empty()).then_some(self.names);
        let values = (!self.values.is_empty()).then_some(self.values);
        (names, values)
    }
}

/// The key of an item as DynamoDB takes it.
fn key_attrs(key: &Key) -> DynamoItem {
    HashMap::from([
        (store::PK.to_owned(), AttributeValue::S(key.pk.clone())),
        (store::SK.to_owned(), AttributeValue::S(key.sk.clone())),
    ])
}

/// The `ExclusiveStartKey` of a decoded cursor (every position attribute is a string).
fn start_key(position: BTreeMap<String, String>) -> DynamoItem {
    position
        .into_iter()
        .map(|(attr, value)| (attr, AttributeValue::S(value)))
        .collect()
}

fn to_dynamo(item: &Item) -> Result<DynamoItem, StoreError> {
    serde_dynamo::to_item(item).map_err(StoreError::unavailable)
}

fn from_dynamo(item: DynamoItem) -> Result<Item, StoreError> {
    serde_dynamo::from_item(item).map_err(StoreError::unavailable)
}

/// Error codes DynamoDB uses when it sheds load.
fn is_throttling(code: &str) -> bool {
    matches!(
        code,
        "ProvisionedThroughputExceededException"
            | "ThrottlingException"
            | "RequestLimitExceeded"
            | "ThrottlingError"
            | "ProvisionedThroughputExceeded"
    )
}

/// Whether a validation message is DynamoDB's item-size complaint ("Item size has exceeded
/// the maximum allowed size", "Item size to update has exceeded …").
fn is_item_size_message(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    message.contains("item size") || message.contains("maximum allowed size")
}

fn too_large(key: Option<&Key>, size: usize) -> StoreError {
    StoreError::ItemTooLarge {
        key: key.cloned(),
        // DynamoDB counts a little differently from our estimate (and does not say by how
        // much it is over), so report at least one byte over the limit.
        size: size.max(MAX_ITEM_BYTES + 1),
        limit: MAX_ITEM_BYTES,
    }
}

/// Maps an SDK error of a single-item operation (or a query or batch get) to the port's error.
/// `key` and `size` describe the item written, for [`StoreError::ItemTooLarge`].
fn map_error<E>(err: SdkError<E, HttpResponse>, key: Option<&Key>, size: usize) -> StoreError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    let code = err.code().unwrap_or_default();
    let message = err.message().unwrap_or_default();
    match code {
        "ConditionalCheckFailedException" => StoreError::ConditionFailed { op: None },
        "TransactionConflictException" => StoreError::TransactionConflict,
        code if is_throttling(code) => StoreError::Throttled {
            source: Some(Box::new(err)),
        },
        "ValidationException" if is_item_size_message(message) => too_large(key, size),
        // ADD on an attribute that is not a number: the request, not the backend, is wrong
        // (SQLite reports the same update as invalid).
        "ValidationException" if message.contains("incorrect data type") => {
            StoreError::invalid(format!("DynamoDB rejected the update: {message}"))
        }
        _ => StoreError::Unavailable {
            source: Box::new(err),
        },
    }
}

/// Maps a TransactWriteItems error, reading the per-operation cancellation reasons.
fn map_transaction_error(
    err: SdkError<TransactWriteItemsError, HttpResponse>,
    keys: &[Option<Key>],
    sizes: &[usize],
) -> StoreError {
    let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
        err.as_service_error()
    else {
        // An oversized item can also be refused up front with a plain ValidationException
        // (moto does so); it names no operation, so the key is known only for a single one.
        let (key, size) = match (keys, sizes) {
            ([key], [size]) => (key.as_ref(), *size),
            _ => (None, 0),
        };
        return map_error(err, key, size);
    };
    let mut reasons: Vec<(String, String)> = cancelled
        .cancellation_reasons()
        .iter()
        .map(|r| {
            (
                r.code().unwrap_or("None").to_owned(),
                r.message().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    if reasons.is_empty() {
        // Without structured reasons, DynamoDB's message still lists them:
        // "Transaction cancelled, please refer cancellation reasons for specific reasons
        // [None, ConditionalCheckFailed]".
        reasons = reasons_in_message(cancelled.message().unwrap_or_default());
    }
    let position = |wanted: &dyn Fn(&str, &str) -> bool| {
        reasons
            .iter()
            .position(|(code, message)| wanted(code, message))
    };
    if let Some(op) = position(&|code, _| code == "ConditionalCheckFailed") {
        return StoreError::ConditionFailed { op: Some(op) };
    }
    if position(&|code, _| code == "TransactionConflict").is_some() {
        return StoreError::TransactionConflict;
    }
    if position(&|code, _| is_throttling(code)).is_some() {
        return StoreError::Throttled {
            source: Some(Box::new(err)),
        };
    }
    if let Some(op) =
        position(&|code, message| code == "ValidationError" && is_item_size_message(message))
    {
        let key = keys.get(op).and_then(Option::as_ref);
        return too_large(key, sizes.get(op).copied().unwrap_or_default());
    }
    StoreError::Unavailable {
        source: Box::new(err),
    }
}

/// The reason codes listed at the end of a cancellation message, in operation order.
fn reasons_in_message(message: &str) -> Vec<(String, String)> {
    let Some(list) = message
        .rfind('[')
        .and_then(|start| message[start + 1..].split_once(']'))
        .map(|(list, _)| list)
    else {
        return Vec::new();
    };
    list.split(',')
        .map(|code| (code.trim().to_owned(), String::new()))
        .collect()
}

/// Creates the table for emulators and tests: `pk`/`sk` strings, `gsi1`, `gsi2` and `gsi3` on
/// `gsiNpk`/`gsiNsk` (all attributes projected), on-demand billing, TTL on `ttl`. Succeeds if
/// the table already exists, adding any index a table made by an earlier version lacks, and
/// waits until the table and every index are active. An emulator that does not support TTL is
/// tolerated with a warning.
pub async fn create_table(client: &Client, table: &str) -> Result<(), StoreError> {
    let mut request = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key_element(store::PK, KeyType::Hash)?)
        .key_schema(key_element(store::SK, KeyType::Range)?);
    for index in Index::ALL {
        request = request
            .attribute_definitions(string_attr(index.pk_attr())?)
            .attribute_definitions(string_attr(index.sk_attr())?);
    }
    for index in Index::SECONDARY {
        let (name, key_schema) = index_schema(index)?;
        let gsi = GlobalSecondaryIndex::builder()
            .index_name(name)
            .set_key_schema(Some(key_schema))
            .projection(project_all())
            .build()
            .map_err(StoreError::unavailable)?;
        request = request.global_secondary_indexes(gsi);
    }
    match request.send().await {
        Ok(_) => tracing::info!(table, "created table"),
        Err(err) if err.code() == Some("ResourceInUseException") => {
            tracing::debug!(table, "table already exists");
        }
        Err(err) => return Err(map_error(err, None, 0)),
    }
    wait_until_active(client, table).await?;
    add_missing_indexes(client, table).await?;
    enable_ttl(client, table).await;
    Ok(())
}

fn string_attr(name: &str) -> Result<AttributeDefinition, StoreError> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(StoreError::unavailable)
}

fn key_element(name: &str, key_type: KeyType) -> Result<KeySchemaElement, StoreError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .map_err(StoreError::unavailable)
}

fn project_all() -> Projection {
    Projection::builder()
        .projection_type(ProjectionType::All)
        .build()
}

/// The name and key schema of a global secondary index.
fn index_schema(index: Index) -> Result<(&'static str, Vec<KeySchemaElement>), StoreError> {
    let name = index
        .name()
        .ok_or_else(|| StoreError::invalid("the table is not a secondary index"))?;
    Ok((
        name,
        vec![
            key_element(index.pk_attr(), KeyType::Hash)?,
            key_element(index.sk_attr(), KeyType::Range)?,
        ],
    ))
}

/// Adds, one at a time as DynamoDB requires, each global secondary index the existing table
/// lacks (a table created before the index was introduced), waiting for each to become active.
async fn add_missing_indexes(client: &Client, table: &str) -> Result<(), StoreError> {
    let out = client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map_err(|err| map_error(err, None, 0))?;
    let existing: HashSet<String> = out
        .table
        .as_ref()
        .map(|t| t.global_secondary_indexes())
        .unwrap_or_default()
        .iter()
        .filter_map(|gsi| gsi.index_name().map(str::to_owned))
        .collect();
    for index in Index::SECONDARY {
        let (name, key_schema) = index_schema(index)?;
        if existing.contains(name) {
            continue;
        }
        let create = CreateGlobalSecondaryIndexAction::builder()
            .index_name(name)
            .set_key_schema(Some(key_schema))
            .projection(project_all())
            .build()
            .map_err(StoreError::unavailable)?;
        client
            .update_table()
            .table_name(table)
            .attribute_definitions(string_attr(index.pk_attr())?)
            .attribute_definitions(string_attr(index.sk_attr())?)
            .global_secondary_index_updates(
                GlobalSecondaryIndexUpdate::builder().create(create).build(),
            )
            .send()
            .await
            .map_err(|err| map_error(err, None, 0))?;
        tracing::info!(table, index = name, "added a missing index to the table");
        wait_until_active(client, table).await?;
    }
    Ok(())
}

async fn wait_until_active(client: &Client, table: &str) -> Result<(), StoreError> {
    let deadline = tokio::time::Instant::now() + TABLE_ACTIVE_TIMEOUT;
    loop {
        let out = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|err| map_error(err, None, 0))?;
        let description = out.table;
        let table_active = description
            .as_ref()
            .and_then(|t| t.table_status.as_ref())
            .is_none_or(|status| *status == TableStatus::Active);
        let indexes_active = description
            .as_ref()
            .map(|t| t.global_secondary_indexes())
            .unwrap_or_default()
            .iter()
            .all(|gsi| {
                gsi.index_status
                    .as_ref()
                    .is_none_or(|status| *status == IndexStatus::Active)
            });
        if table_active && indexes_active {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(StoreError::Unavailable {
                source: format!(
                    "table {table} did not become active within {TABLE_ACTIVE_TIMEOUT:?}"
                )
                .into(),
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn enable_ttl(client: &Client, table: &str) {
    let current = client
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await;
    if let Ok(out) = &current
        && let Some(description) = &out.time_to_live_description
        && description.attribute_name() == Some(store::TTL)
        && matches!(
            description.time_to_live_status(),
            Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
        )
    {
        return;
    }
    let specification = match TimeToLiveSpecification::builder()
        .enabled(true)
        .attribute_name(store::TTL)
        .build()
    {
        Ok(specification) => specification,
        Err(err) => {
            tracing::warn!(table, error = %err, "could not describe TTL");
            return;
        }
    };
    if let Err(err) = client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(specification)
        .send()
        .await
    {
        tracing::warn!(
            table,
            error = %aws_smithy_types::error::display::DisplayErrorContext(&err),
            "could not enable TTL on attribute 'ttl'; expired items will not be deleted"
        );
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
    use aws_smithy_runtime_api::client::http::{
        HttpConnector, HttpConnectorFuture, SharedHttpConnector, http_client_fn,
    };
    use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::retry::RetryConfig;
    use serde_json::json;

    use super::*;

    /// Answers the requests with canned responses in turn (the last one repeating), counts
    /// them and keeps their bodies.
    #[derive(Debug, Clone)]
    struct Canned {
        responses: Arc<Vec<(u16, &'static str)>>,
        calls: Arc<AtomicUsize>,
        requests: Arc<std::sync::Mutex<Vec<String>>>,
    }

    impl HttpConnector for Canned {
        fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
            let call = self.calls.fetch_add(1, Ordering::SeqCst);
            let body = request.body().bytes().unwrap_or_default();
            self.requests
                .lock()
                .unwrap()
                .push(String::from_utf8_lossy(body).into_owned());
            let (status, body) = self.responses[call.min(self.responses.len() - 1)];
            let mut response = HttpResponse::new(
                StatusCode::try_from(status).expect("a valid status"),
                SdkBody::from(body),
            );
            response
                .headers_mut()
                .insert("content-type", "application/x-amz-json-1.0");
            HttpConnectorFuture::ready(Ok(response))
        }
    }

    /// A store whose requests get `responses` in turn, with retries off; and the connector,
    /// to count and read the requests.
    fn scripted(responses: Vec<(u16, &'static str)>) -> (DynamoStore, Canned) {
        let connector = Canned {
            responses: Arc::new(responses),
            calls: Arc::default(),
            requests: Arc::default(),
        };
        let http = connector.clone();
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("ap-southeast-1"))
            .credentials_provider(Credentials::new("AKID", "SECRET", None, None, "test"))
            .endpoint_url("http://127.0.0.1:9")
            .retry_config(RetryConfig::disabled())
            .http_client(http_client_fn(move |_, _| {
                SharedHttpConnector::new(http.clone())
            }))
            .build();
        (
            DynamoStore::new(Client::from_conf(config), "nhip-test"),
            connector,
        )
    }

    /// A store whose every request gets `status` and `body`; and the count of requests.
    fn canned(status: u16, body: &'static str) -> (DynamoStore, Arc<AtomicUsize>) {
        let (store, connector) = scripted(vec![(status, body)]);
        (store, connector.calls)
    }

    fn item(value: Value) -> Item {
        value.as_object().expect("an object").clone()
    }

    fn put_op(pk: &str) -> WriteOp {
        WriteOp::Put {
            item: item(json!({"pk": pk, "sk": "S"})),
            condition: Condition::NotExists,
        }
    }

    const THROTTLED: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"The level of configured provisioned throughput for the table was exceeded."}"#;

    #[tokio::test]
    async fn throttling_is_reported_as_throttled_with_its_source() {
        let (store, calls) = canned(400, THROTTLED);
        let err = store
            .put(item(json!({"pk": "A", "sk": "B"})), Condition::Always)
            .await
            .unwrap_err();
        let StoreError::Throttled {
            source: Some(source),
        } = &err
        else {
            panic!("expected Throttled, got {err:?}");
        };
        assert!(format!("{source:?}").contains("ProvisionedThroughputExceeded"));
        assert!(err.is_retryable());
        assert_eq!(calls.load(Ordering::SeqCst), 1, "retries are off");

        let (store, _) = canned(
            400,
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate exceeded"}"#,
        );
        assert!(matches!(
            store.get(&Key::new("A", "B")).await,
            Err(StoreError::Throttled { .. })
        ));
    }

    #[tokio::test]
    async fn a_failed_condition_is_condition_failed() {
        let (store, _) = canned(
            400,
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed"}"#,
        );
        let err = store
            .put(item(json!({"pk": "A", "sk": "B"})), Condition::NotExists)
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::ConditionFailed { op: None }),
            "{err:?}"
        );
        let err = store
            .update(
                &Key::new("A", "B"),
                Update::new().add("n", 1),
                Condition::Exists,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::ConditionFailed { op: None }),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn cancellation_reasons_name_the_failing_operation() {
        let (store, _) = canned(
            400,
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","Message":"Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed]","CancellationReasons":[{"Code":"None"},{"Code":"ConditionalCheckFailed","Message":"The conditional request failed"}]}"#,
        );
        let err = store
            .transact(vec![put_op("A"), put_op("B")])
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::ConditionFailed { op: Some(1) }),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn cancellation_reasons_are_read_from_the_message_when_absent() {
        let (store, _) = canned(
            400,
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","Message":"Transaction cancelled, please refer cancellation reasons for specific reasons [None, None, ConditionalCheckFailed]"}"#,
        );
        let err = store
            .transact(vec![put_op("A"), put_op("B"), put_op("C")])
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::ConditionFailed { op: Some(2) }),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn a_conflicting_transaction_is_transaction_conflict() {
        let (store, _) = canned(
            400,
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","Message":"Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict]","CancellationReasons":[{"Code":"TransactionConflict","Message":"Transaction is ongoing for the item"}]}"#,
        );
        let err = store.transact(vec![put_op("A")]).await.unwrap_err();
        assert!(matches!(err, StoreError::TransactionConflict), "{err:?}");

        let (store, _) = canned(
            400,
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionConflictException","message":"Transaction is ongoing for the item"}"#,
        );
        let err = store
            .update(
                &Key::new("A", "B"),
                Update::new().add("n", 1),
                Condition::Always,
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::TransactionConflict), "{err:?}");
    }

    #[tokio::test]
    async fn throttled_and_oversized_transactions() {
        let (store, _) = canned(
            400,
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","Message":"Transaction cancelled","CancellationReasons":[{"Code":"None"},{"Code":"ThrottlingError","Message":"Throughput exceeds the current capacity for one or more global secondary indexes."}]}"#,
        );
        let err = store
            .transact(vec![put_op("A"), put_op("B")])
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Throttled { source: Some(_) }),
            "{err:?}"
        );

        let (store, _) = canned(
            400,
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","Message":"Transaction cancelled","CancellationReasons":[{"Code":"None"},{"Code":"ValidationError","Message":"Item size to update has exceeded the maximum allowed size"}]}"#,
        );
        let err = store
            .transact(vec![
                put_op("A"),
                WriteOp::Update {
                    key: Key::new("B", "S"),
                    update: Update::new().set("blob", "x"),
                    condition: Condition::Always,
                },
            ])
            .await
            .unwrap_err();
        match err {
            StoreError::ItemTooLarge { key, size, limit } => {
                assert_eq!(key, Some(Key::new("B", "S")));
                assert!(size > limit);
            }
            other => panic!("expected ItemTooLarge, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn an_oversized_update_reported_by_dynamodb_is_item_too_large() {
        let (store, _) = canned(
            400,
            r#"{"__type":"com.amazon.coral.validate#ValidationException","message":"Item size to update has exceeded the maximum allowed size"}"#,
        );
        let err = store
            .update(
                &Key::new("A", "B"),
                Update::new().set("x", "y"),
                Condition::Always,
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::ItemTooLarge { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn other_failures_keep_the_sdk_error() {
        let (store, _) = canned(
            500,
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"boom"}"#,
        );
        let err = store.get(&Key::new("A", "B")).await.unwrap_err();
        let StoreError::Unavailable { source } = &err else {
            panic!("expected Unavailable, got {err:?}");
        };
        assert!(
            source
                .downcast_ref::<SdkError<aws_sdk_dynamodb::operation::get_item::GetItemError, HttpResponse>>()
                .is_some(),
            "the SDK error is the source: {source:?}"
        );
    }

    #[tokio::test]
    async fn invalid_requests_are_rejected_before_any_call() {
        let (store, calls) = canned(500, "{}");
        let big = item(json!({"pk": "A", "sk": "B", "blob": "x".repeat(MAX_ITEM_BYTES)}));
        assert!(matches!(
            store.put(big, Condition::Always).await,
            Err(StoreError::ItemTooLarge { .. })
        ));
        assert!(matches!(
            store
                .update(
                    &Key::new("A", "B"),
                    Update::new().set("blob", "x".repeat(MAX_ITEM_BYTES)),
                    Condition::Always
                )
                .await,
            Err(StoreError::ItemTooLarge { .. })
        ));
        assert!(matches!(
            store
                .update(
                    &Key::new("A", "B"),
                    Update::new().set("gsi1pk", 3),
                    Condition::Always
                )
                .await,
            Err(StoreError::Invalid { .. })
        ));
        assert!(matches!(
            store
                .update(&Key::new("A", "B"), Update::new(), Condition::Always)
                .await,
            Err(StoreError::Invalid { .. })
        ));
        assert!(matches!(
            store.put(item(json!({"pk": "A"})), Condition::Always).await,
            Err(StoreError::Invalid { .. })
        ));
        assert!(matches!(
            store.transact(vec![]).await,
            Err(StoreError::Invalid { .. })
        ));
        let keys: Vec<Key> = (0..101).map(|i| Key::new(format!("K{i}"), "S")).collect();
        assert!(matches!(
            store.batch_get(&keys).await,
            Err(StoreError::Invalid { .. })
        ));
        assert_eq!(store.batch_get(&[]).await.unwrap(), Vec::<Item>::new());
        let bad_cursor = Query::partition(Index::Gsi1, "G").after(Some(Cursor::from_client("!!")));
        assert!(matches!(
            store.query(bad_cursor).await,
            Err(StoreError::InvalidCursor { .. })
        ));
        let empty_range =
            Query::partition(Index::Primary, "P").sk(SortKey::Between("b".into(), "a".into()));
        assert_eq!(store.query(empty_range).await.unwrap(), Page::default());
        assert_eq!(calls.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn queries_read_on_past_short_pages_and_ask_for_one_more() {
        let (store, connector) = scripted(vec![
            (
                200,
                r#"{"Count":1,"ScannedCount":1,"Items":[{"pk":{"S":"D#1"},"sk":{"S":"DUE"},"gsi1pk":{"S":"B"},"gsi1sk":{"S":"1"}}],"LastEvaluatedKey":{"pk":{"S":"D#1"},"sk":{"S":"DUE"},"gsi1pk":{"S":"B"},"gsi1sk":{"S":"1"}}}"#,
            ),
            (
                200,
                r#"{"Count":2,"ScannedCount":2,"Items":[{"pk":{"S":"D#2"},"sk":{"S":"DUE"},"gsi1pk":{"S":"B"},"gsi1sk":{"S":"2"}},{"pk":{"S":"D#3"},"sk":{"S":"DUE"},"gsi1pk":{"S":"B"},"gsi1sk":{"S":"3"}}],"LastEvaluatedKey":{"pk":{"S":"D#3"},"sk":{"S":"DUE"},"gsi1pk":{"S":"B"},"gsi1sk":{"S":"3"}}}"#,
            ),
        ]);
        let page = store
            .query(Query::partition(Index::Gsi1, "B").limit(2))
            .await
            .unwrap();
        let pks: Vec<_> = page
            .items
            .iter()
            .map(|i| i["pk"].as_str().unwrap())
            .collect();
        assert_eq!(pks, ["D#1", "D#2"]);
        let next = page.next.expect("a third item exists");
        assert_eq!(next.decode(Index::Gsi1, "B").unwrap()["pk"], "D#2");

        let requests = connector.requests.lock().unwrap().clone();
        assert_eq!(requests.len(), 2, "stops once limit + 1 items are in");
        let first: Value = serde_json::from_str(&requests[0]).unwrap();
        assert_eq!(first["Limit"], 3);
        assert_eq!(first["IndexName"], "gsi1");
        assert_eq!(first.get("ConsistentRead"), Some(&json!(false)));
        let second: Value = serde_json::from_str(&requests[1]).unwrap();
        assert_eq!(second["Limit"], 2);
        assert_eq!(second["ExclusiveStartKey"]["pk"]["S"], "D#1");
    }

    const TWO_INDEXES: &str = r#"{"Table":{"TableName":"nhip-test","TableStatus":"ACTIVE","GlobalSecondaryIndexes":[{"IndexName":"gsi1","IndexStatus":"ACTIVE"},{"IndexName":"gsi2","IndexStatus":"ACTIVE"}]}}"#;
    const THREE_INDEXES: &str = r#"{"Table":{"TableName":"nhip-test","TableStatus":"ACTIVE","GlobalSecondaryIndexes":[{"IndexName":"gsi1","IndexStatus":"ACTIVE"},{"IndexName":"gsi2","IndexStatus":"ACTIVE"},{"IndexName":"gsi3","IndexStatus":"ACTIVE"}]}}"#;
    const TTL_ENABLED: &str =
        r#"{"TimeToLiveDescription":{"AttributeName":"ttl","TimeToLiveStatus":"ENABLED"}}"#;

    fn attribute_names(request: &Value) -> Vec<&str> {
        request["AttributeDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["AttributeName"].as_str().unwrap())
            .collect()
    }

    #[tokio::test]
    async fn create_table_defines_every_secondary_index() {
        let (store, connector) = scripted(vec![
            (200, r#"{"TableDescription":{"TableName":"nhip-test"}}"#),
            (200, THREE_INDEXES),
            (200, THREE_INDEXES),
            (200, TTL_ENABLED),
        ]);
        create_table(store.client(), "nhip-test").await.unwrap();
        let requests = connector.requests.lock().unwrap().clone();
        assert_eq!(
            requests.len(),
            4,
            "create, wait, look for missing indexes, TTL"
        );
        let create: Value = serde_json::from_str(&requests[0]).unwrap();
        assert_eq!(
            attribute_names(&create),
            [
                "pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "gsi3pk", "gsi3sk"
            ]
        );
        let indexes = create["GlobalSecondaryIndexes"].as_array().unwrap();
        assert_eq!(indexes.len(), 3);
        for (gsi, n) in indexes.iter().zip(1..) {
            assert_eq!(gsi["IndexName"], format!("gsi{n}"));
            assert_eq!(
                gsi["KeySchema"],
                json!([
                    {"AttributeName": format!("gsi{n}pk"), "KeyType": "HASH"},
                    {"AttributeName": format!("gsi{n}sk"), "KeyType": "RANGE"},
                ])
            );
            assert_eq!(gsi["Projection"], json!({"ProjectionType": "ALL"}));
        }
    }

    #[tokio::test]
    async fn create_table_adds_an_index_an_older_table_lacks() {
        let (store, connector) = scripted(vec![
            (
                400,
                r#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceInUseException","message":"Table already exists"}"#,
            ),
            (200, TWO_INDEXES),
            (200, TWO_INDEXES),
            (200, r#"{"TableDescription":{"TableName":"nhip-test"}}"#),
            (
                200,
                r#"{"Table":{"TableName":"nhip-test","TableStatus":"ACTIVE","GlobalSecondaryIndexes":[{"IndexName":"gsi1","IndexStatus":"ACTIVE"},{"IndexName":"gsi2","IndexStatus":"ACTIVE"},{"IndexName":"gsi3","IndexStatus":"CREATING"}]}}"#,
            ),
            (200, THREE_INDEXES),
            (200, TTL_ENABLED),
        ]);
        create_table(store.client(), "nhip-test").await.unwrap();
        let requests = connector.requests.lock().unwrap().clone();
        assert_eq!(
            requests.len(),
            7,
            "waits until the new index is active: {requests:#?}"
        );
        let update: Value = serde_json::from_str(&requests[3]).unwrap();
        assert_eq!(attribute_names(&update), ["gsi3pk", "gsi3sk"]);
        let updates = update["GlobalSecondaryIndexUpdates"].as_array().unwrap();
        assert_eq!(updates.len(), 1, "one index per UpdateTable");
        assert_eq!(updates[0]["Create"]["IndexName"], "gsi3");
        assert_eq!(
            updates[0]["Create"]["KeySchema"][0]["AttributeName"],
            "gsi3pk"
        );
        assert_eq!(updates[0]["Create"]["Projection"]["ProjectionType"], "ALL");
    }

    #[tokio::test]
    async fn batch_get_retries_unprocessed_keys_and_keeps_the_order_asked() {
        let (store, connector) = scripted(vec![
            (
                200,
                r#"{"Responses":{"nhip-test":[{"pk":{"S":"B"},"sk":{"S":"S"}}]},"UnprocessedKeys":{"nhip-test":{"Keys":[{"pk":{"S":"A"},"sk":{"S":"S"}}],"ConsistentRead":true}}}"#,
            ),
            (
                200,
                r#"{"Responses":{"nhip-test":[{"pk":{"S":"A"},"sk":{"S":"S"},"n":{"N":"1"}}]},"UnprocessedKeys":{}}"#,
            ),
        ]);
        let keys = [
            Key::new("A", "S"),
            Key::new("missing", "S"),
            Key::new("B", "S"),
            Key::new("A", "S"),
        ];
        let items = store.batch_get(&keys).await.unwrap();
        let got: Vec<_> = items.iter().map(|i| Key::of(i).unwrap()).collect();
        assert_eq!(
            got,
            [Key::new("A", "S"), Key::new("B", "S"), Key::new("A", "S")]
        );
        let requests = connector.requests.lock().unwrap().clone();
        assert_eq!(requests.len(), 2);
        let first: Value = serde_json::from_str(&requests[0]).unwrap();
        let asked = &first["RequestItems"]["nhip-test"];
        assert_eq!(
            asked["Keys"].as_array().unwrap().len(),
            3,
            "each key asked once"
        );
        assert_eq!(asked["ConsistentRead"], true);
    }

    #[test]
    fn conditions_and_updates_share_one_set_of_placeholders() {
        let mut expr = Expressions::default();
        let condition = Condition::All(vec![
            Condition::Always,
            Condition::Exists,
            Condition::version_is(3),
            Condition::All(vec![]),
            Condition::LacksAttr("deleted".into()),
        ]);
        let condition = expr.condition(&condition).unwrap().unwrap();
        assert_eq!(
            condition,
            "(attribute_exists(pk)) AND (#n0 = :v0) AND (attribute_not_exists(#n1))"
        );
        let update = Update::new()
            .set("version", 4)
            .set("name", "Lan")
            .remove("old")
            .add("opens", 1);
        assert_eq!(
            expr.update(&update).unwrap(),
            "SET #n0 = :v1, #n2 = :v2 REMOVE #n3 ADD #n4 :v3"
        );
        let (names, values) = expr.into_parts();
        let names = names.unwrap();
        assert_eq!(names["#n0"], "version");
        assert_eq!(names["#n4"], "opens");
        let values = values.unwrap();
        assert_eq!(values[":v0"], AttributeValue::N("3".into()));
        assert_eq!(values[":v3"], AttributeValue::N("1".into()));
        assert_eq!(values.len(), 4);
    }

    #[test]
    fn conditions_that_always_hold_render_nothing() {
        let mut expr = Expressions::default();
        assert_eq!(expr.condition(&Condition::Always).unwrap(), None);
        assert_eq!(
            expr.condition(&Condition::All(vec![
                Condition::Always,
                Condition::All(vec![])
            ]))
            .unwrap(),
            None
        );
        assert_eq!(
            expr.condition(&Condition::All(vec![Condition::NotExists]))
                .unwrap()
                .as_deref(),
            Some("attribute_not_exists(pk)")
        );
        assert_eq!(expr.into_parts(), (None, None));
    }

    #[test]
    fn key_conditions_name_the_index_keys() {
        let query = Query::partition(Index::Gsi1, "DUE#202611230805#03")
            .sk(SortKey::BeginsWith("2026".into()));
        let mut expr = Expressions::default();
        assert_eq!(
            expr.key_condition(&query).unwrap(),
            "#n0 = :v0 AND begins_with(#n1, :v1)"
        );
        let (names, _) = expr.into_parts();
        let names = names.unwrap();
        assert_eq!(
            (names["#n0"].as_str(), names["#n1"].as_str()),
            ("gsi1pk", "gsi1sk")
        );

        let team = Query::partition(Index::Gsi3, "TEAM#north").sk(SortKey::Eq("x".into()));
        let mut expr = Expressions::default();
        assert_eq!(
            expr.key_condition(&team).unwrap(),
            "#n0 = :v0 AND #n1 = :v1"
        );
        let names = expr.into_parts().0.unwrap();
        assert_eq!(
            (names["#n0"].as_str(), names["#n1"].as_str()),
            ("gsi3pk", "gsi3sk")
        );

        let between =
            Query::partition(Index::Gsi2, "X").sk(SortKey::Between("a".into(), "b".into()));
        assert_eq!(
            Expressions::default().key_condition(&between).unwrap(),
            "#n0 = :v0 AND #n1 BETWEEN :v1 AND :v2"
        );
        let eq = Query::partition(Index::Primary, "X").sk(SortKey::Eq("PROFILE".into()));
        assert_eq!(
            Expressions::default().key_condition(&eq).unwrap(),
            "#n0 = :v0 AND #n1 = :v1"
        );
        let everything =
            Query::partition(Index::Primary, "X").sk(SortKey::BeginsWith(String::new()));
        assert_eq!(
            Expressions::default().key_condition(&everything).unwrap(),
            "#n0 = :v0"
        );
    }

    #[test]
    fn reasons_are_parsed_from_messages() {
        assert_eq!(
            reasons_in_message("Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed]")
                .into_iter()
                .map(|(code, _)| code)
                .collect::<Vec<_>>(),
            ["None", "ConditionalCheckFailed"]
        );
        assert!(reasons_in_message("no list here").is_empty());
    }

    #[test]
    fn items_round_trip_through_attribute_values() {
        let original = item(json!({
            "pk": "CUS#1", "sk": "PROFILE", "name": "Nguyễn Văn A", "version": 3,
            "score": 1.5, "tags": ["a", "b"], "address": {"city": "Hà Nội"}, "note": null,
            "active": true, "ttl": 1_900_000_000u64
        }));
        let back = from_dynamo(to_dynamo(&original).unwrap()).unwrap();
        assert_eq!(back, original);
    }
}
