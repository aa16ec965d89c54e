//! Typed records ↔ stored items: a record serialises to the item's attributes, plus its key
//! and a `kind` attribute; reading back ignores the key and index attributes. Written once for
//! every repository that stores plain serde records (catalogue, holdings, templates, journeys).

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::ports::store::{Index, Item, Key, StoreError};

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
