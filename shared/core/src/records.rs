//! Typed records ↔ stored items: a record serialises to the item's attributes, plus its key
//! and a `kind` attribute; reading back ignores the key and index attributes. Written once for
//! every repository that stores plain serde records (catalogue, holdings, templates, journeys),
//! with the one way to read a small partition whole.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use nhip_ports::store::{Condition, Index, Item, ItemStore, Key, Query, SortKey, StoreError};

/// The item holding `value` under `key`, marked with `kind`.
pub fn to_item<T: Serialize>(key: Key, kind: &str, value: &T) -> Result<Item, StoreError> {
    let Value::Object(mut item) = serde_json::to_value(value)
        .map_err(|e| StoreError::invalid(format!("{kind} does not serialise: {e}")))?
    else {
        return Err(StoreError::invalid(format!("{kind} is not an object")));
    };
    item.insert("pk".into(), key.pk.into());
    item.insert("sk".into(), key.sk.into());
    item.insert("kind".into(), kind.into());
    Ok(item)
}

/// The record a stored item holds (its key and index attributes left aside).
pub fn from_item<T: DeserializeOwned>(mut item: Item, kind: &str) -> Result<T, StoreError> {
    for index in Index::ALL {
        item.remove(index.pk_attr());
        item.remove(index.sk_attr());
    }
    serde_json::from_value(Value::Object(item))
        .map_err(|e| StoreError::invalid(format!("stored {kind} does not match the model: {e}")))
}

/// The record stored under `key`, if any.
pub async fn get<T: DeserializeOwned>(
    store: &dyn ItemStore,
    key: &Key,
    kind: &str,
) -> Result<Option<T>, StoreError> {
    store
        .get(key)
        .await?
        .map(|item| from_item(item, kind))
        .transpose()
}

/// Pages of 1,000 items read at most from one small partition (a catalogue, a customer's
/// holdings, the templates, the journeys) before giving up on the rest.
pub const MAX_PAGES: usize = 10;

/// Every item of a small partition of `index` (optionally under a sort-key prefix), in
/// sort-key order, at most [`MAX_PAGES`] pages.
pub async fn read_partition(
    store: &dyn ItemStore,
    index: Index,
    pk: &str,
    prefix: Option<&str>,
) -> Result<Vec<Item>, StoreError> {
    let mut items = Vec::new();
    let mut cursor = None;
    for _ in 0..MAX_PAGES {
        let mut query = Query::partition(index, pk).limit(1000).after(cursor);
        if let Some(prefix) = prefix {
            query = query.sk(SortKey::BeginsWith(prefix.to_owned()));
        }
        let page = store.query(query).await?;
        items.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    Ok(items)
}

/// A setting an admin keeps (`{<field>: value, version, changed_by, changed_at}` under `key`):
/// the value and its version, `None` while none is stored.
pub async fn get_setting<T: DeserializeOwned>(
    store: &dyn ItemStore,
    key: &Key,
    field: &str,
) -> Result<Option<(T, u64)>, StoreError> {
    let Some(item) = store.get(key).await? else {
        return Ok(None);
    };
    let version = item
        .get("version")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0);
    let value = item
        .get(field)
        .cloned()
        .and_then(|v| serde_json::from_value(v).ok())
        .ok_or_else(|| StoreError::invalid(format!("the stored {field} is malformed")))?;
    Ok(Some((value, version)))
}

/// Replaces a setting if it is still at `version` (0: none stored yet). `Ok(Ok(new version))`
/// when written, `Ok(Err(current version))` when someone changed it since it was read.
pub async fn put_setting<T: Serialize>(
    store: &dyn ItemStore,
    key: Key,
    field: &str,
    value: &T,
    version: u64,
    by: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Result<u64, u64>, StoreError> {
    let mut item = key.to_item();
    item.insert(
        field.into(),
        serde_json::to_value(value)
            .map_err(|e| StoreError::invalid(format!("{field} does not serialise: {e}")))?,
    );
    item.insert("version".into(), (version + 1).into());
    item.insert("changed_by".into(), by.into());
    item.insert("changed_at".into(), crate::keys::instant(now).into());
    let condition = if version == 0 {
        Condition::NotExists
    } else {
        Condition::version_is(version)
    };
    match store.put(item, condition).await {
        Ok(()) => Ok(Ok(version + 1)),
        Err(StoreError::ConditionFailed { .. }) => {
            let current = store
                .get(&key)
                .await?
                .and_then(|i| i.get("version").and_then(serde_json::Value::as_u64))
                .unwrap_or(0);
            Ok(Err(current))
        }
        Err(other) => Err(other),
    }
}
