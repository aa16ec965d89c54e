//! Reading the catalogue and holdings from the store (one Query per list).

use std::collections::BTreeMap;

use nhip_domain::ids::CustomerId;

use nhip_core::keys;
use nhip_core::records::{from_item, read_partition};
use nhip_ports::ItemStore;
use nhip_ports::store::{Index, StoreError};

use super::model::*;
use super::{HOLDING_KIND, PRODUCT_KIND, REASON_KIND};

/// The product catalogue, by code.
pub async fn products(store: &dyn ItemStore) -> Result<BTreeMap<String, Product>, StoreError> {
    read_partition(store, Index::Primary, keys::CATALOG_PRODUCTS, None)
        .await?
        .into_iter()
        .map(|item| from_item::<Product>(item, PRODUCT_KIND).map(|p| (p.code.clone(), p)))
        .collect()
}

/// The usage reasons, by code.
pub async fn reasons(store: &dyn ItemStore) -> Result<BTreeMap<String, UsageReason>, StoreError> {
    read_partition(store, Index::Primary, keys::CATALOG_REASONS, None)
        .await?
        .into_iter()
        .map(|item| from_item::<UsageReason>(item, REASON_KIND).map(|r| (r.code.clone(), r)))
        .collect()
}

/// One catalogue product, by its normalised code.
pub async fn product(store: &dyn ItemStore, code: &str) -> Result<Option<Product>, StoreError> {
    store
        .get(&keys::catalogue_product(code))
        .await?
        .map(|item| from_item(item, PRODUCT_KIND))
        .transpose()
}

pub(super) async fn reason(
    store: &dyn ItemStore,
    code: &str,
) -> Result<Option<UsageReason>, StoreError> {
    store
        .get(&keys::usage_reason(code))
        .await?
        .map(|item| from_item(item, REASON_KIND))
        .transpose()
}

/// A customer's holdings, oldest first.
pub async fn holdings_of(
    store: &dyn ItemStore,
    customer: CustomerId,
) -> Result<Vec<Holding>, StoreError> {
    read_partition(
        store,
        Index::Primary,
        &keys::customer_pk(customer),
        Some(keys::HOLDING_PREFIX),
    )
    .await?
    .into_iter()
    .map(|item| from_item(item, HOLDING_KIND))
    .collect()
}

/// One holding of a customer.
pub async fn holding(
    store: &dyn ItemStore,
    customer: CustomerId,
    id: &str,
) -> Result<Option<Holding>, StoreError> {
    store
        .get(&keys::holding(customer, id))
        .await?
        .map(|item| from_item(item, HOLDING_KIND))
        .transpose()
}
