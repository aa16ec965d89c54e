//! Typed records ↔ stored items: a record serialises to the item's attributes, plus its key
//! and a `kind` attribute; reading back ignores the key and index attributes. Written once for
//! every repository that stores plain serde records (catalogue, holdings, templates, journeys),
//! with the one way to read a small partition whole.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use nhip_ports::store::{Index, Item, ItemStore, Key, Query, SortKey, StoreError};

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
