//! The holding use cases: adding a holding to a customer and changing one, each with the
//! customer's holdings summary and lifecycle in the same transaction, retried when the profile
//! moved underneath. They answer [`HoldingError`]; the routes turn it into HTTP.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use ulid::Ulid;

use crate::customers::model::Customer;
use crate::customers::repo::{self, SaveError};
use crate::customers::routes::find_visible;
use nhip_core::auth::Principal;
use nhip_core::deps::Deps;
use nhip_core::form::{FieldErrors, text};
use nhip_ports::store::StoreError;

use super::apply::{
    HOLDING_FIELDS, apply_holding_fields, holding_writes, profile_with, timeline_data,
};
use super::fields::*;
use super::model::*;
use super::repo::*;
use super::views::{CustomerBrief, HoldingChange, HoldingView};

/// Why a holding could not be added or changed.
#[derive(Debug, thiserror::Error)]
pub enum HoldingError {
    /// No such customer, not visible to the caller, or erased.
    #[error("no such customer")]
    CustomerNotFound,
    /// No such holding on that customer.
    #[error("no such holding")]
    HoldingNotFound,
    /// A field holds what looks like a full card number: only the last four digits may be kept.
    #[error("the field {0} holds what looks like a full card number")]
    CardNumber(String),
    /// Problems with the fields, in Vietnamese, by field.
    #[error("the holding is not valid: {0:?}")]
    Invalid(FieldErrors),
    /// The holding changed since the caller read it.
    #[error("the holding is at version {current}")]
    StaleVersion { current: u64 },
    /// The profile could not be saved (it kept moving, or the store failed).
    #[error(transparent)]
    Save(#[from] SaveError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The customer, visible to the caller and not erased.
async fn customer(deps: &Deps, principal: &Principal, id: &str) -> Result<Customer, HoldingError> {
    match find_visible(deps, principal, id).await? {
        Some(customer) if customer.erased_at.is_none() => Ok(customer),
        _ => Err(HoldingError::CustomerNotFound),
    }
}

/// Adds a holding to customer `customer_id` from `body` (`product` and `status` required; see
/// [`HOLDING_FIELDS`]): the holding, and the customer's new summary and lifecycle.
pub async fn add(
    deps: &Deps,
    principal: &Principal,
    customer_id: &str,
    body: &Map<String, Value>,
) -> Result<HoldingChange, HoldingError> {
    if let Some(field) = card_number_field(body) {
        return Err(HoldingError::CardNumber(field));
    }
    let now = deps.clock.now();
    let holding_id = Ulid::from_datetime(now.into()).to_string();
    for attempt in nhip_core::retry::attempts(nhip_core::retry::IN_REQUEST) {
        attempt.pause().await;
        let before = customer(deps, principal, customer_id).await?;
        let mut errors = FieldErrors::default();
        reject_unknown(body, HOLDING_FIELDS, &mut errors);
        if !body.contains_key("status") {
            errors.add("status", "Vui lòng chọn trạng thái.");
        }
        let product = match text(body, "product", &mut errors).map(|raw| normalise_code(&raw)) {
            None => {
                errors.add("product", "Vui lòng chọn sản phẩm.");
                None
            }
            Some(None) => {
                errors.add("product", "Không có sản phẩm này trong danh mục.");
                None
            }
            Some(Some(code)) => match self::product(&*deps.store, &code).await? {
                None => {
                    errors.add("product", "Không có sản phẩm này trong danh mục.");
                    None
                }
                Some(p) if !p.active => {
                    errors.add("product", "Sản phẩm này đã ngưng kinh doanh.");
                    None
                }
                Some(p) => Some(p),
            },
        };
        let Some(product) = product else {
            return Err(HoldingError::Invalid(errors));
        };
        let reasons = reasons(&*deps.store).await?;
        let mut holding = Holding {
            id: holding_id.clone(),
            customer_id: before.id,
            product: product.code.clone(),
            product_kind: product.kind,
            status: HoldingStatus::Pending,
            reference: None,
            starts_on: None,
            expires_on: None,
            amount: None,
            usage_status: None,
            usage_reason: None,
            remaining_invoice_ratio: None,
            attributes: Map::new(),
            settled_on: None,
            contract: None,
            remind_on: None,
            created_by: principal.user.clone(),
            updated_by: principal.user.clone(),
            created_at: now,
            updated_at: now,
            version: 1,
        };
        let mut fields = body.clone();
        fields.remove("product");
        // A new holding may start in any status (a contract entered after it was settled).
        apply_holding_fields(
            &mut holding,
            &fields,
            &product,
            &reasons,
            false,
            &mut errors,
        );
        if !errors.0.is_empty() {
            return Err(HoldingError::Invalid(errors));
        }
        if holding.status == HoldingStatus::Settled {
            holding.settled_on = Some(nhip_domain::time::vn_date(now));
        }
        let pointer = super::reminder::repoint(None, &mut holding, now);
        let mut after = profile_with(&before, &holding, now);
        let (mut ops, entries) = holding_writes(
            &before,
            &after,
            &holding,
            None,
            nhip_core::event_types::HOLDING_ADDED,
            timeline_data(&holding, None),
            principal,
            true,
            now,
        )?;
        ops.extend(pointer);
        match repo::save(&*deps.store, &before, &mut after, ops).await {
            Ok(()) => {
                nhip_core::events::publish_entries(deps, &entries).await;
                let products = BTreeMap::from([(product.code.clone(), product)]);
                return Ok(HoldingChange {
                    holding: HoldingView::new(&holding, &products, &reasons),
                    customer: CustomerBrief::from(&after),
                });
            }
            Err(SaveError::Conflict) => continue,
            Err(other) => return Err(other.into()),
        }
    }
    Err(SaveError::Conflict.into())
}

/// Changes holding `holding_id` of customer `customer_id` with the fields present in `body`
/// (any but `product`), if it is still at `version`: the holding, and the customer's new
/// summary and lifecycle.
pub async fn update(
    deps: &Deps,
    principal: &Principal,
    customer_id: &str,
    holding_id: &str,
    version: u64,
    body: &Map<String, Value>,
) -> Result<HoldingChange, HoldingError> {
    if let Some(field) = card_number_field(body) {
        return Err(HoldingError::CardNumber(field));
    }
    let holding_id = holding_id
        .parse::<Ulid>()
        .map_err(|_| HoldingError::HoldingNotFound)?
        .to_string();
    let now = deps.clock.now();
    for attempt in nhip_core::retry::attempts(nhip_core::retry::IN_REQUEST) {
        attempt.pause().await;
        let before = customer(deps, principal, customer_id).await?;
        let current = holding(&*deps.store, before.id, &holding_id)
            .await?
            .ok_or(HoldingError::HoldingNotFound)?;
        if current.version != version {
            return Err(HoldingError::StaleVersion {
                current: current.version,
            });
        }
        let mut errors = FieldErrors::default();
        let mut allowed = HOLDING_FIELDS.to_vec();
        allowed.push("version");
        reject_unknown(body, &allowed, &mut errors);
        if body.contains_key("product") {
            errors.add("product", "Không thể đổi sản phẩm; hãy thêm sản phẩm mới.");
        }
        let products = products(&*deps.store).await?;
        let reasons = reasons(&*deps.store).await?;
        // A product removed from the catalogue keeps its holdings editable, without hints.
        let product = products.get(&current.product).cloned().unwrap_or(Product {
            code: current.product.clone(),
            name: current.product.clone(),
            kind: current.product_kind,
            active: false,
            description: None,
            attribute_schema: BTreeMap::new(),
            created_at: current.created_at,
            updated_at: current.created_at,
            version: 0,
        });
        let mut holding = current.clone();
        // Admins may correct any status; others follow the contract's course.
        apply_holding_fields(
            &mut holding,
            body,
            &product,
            &reasons,
            !principal.is_admin(),
            &mut errors,
        );
        if !errors.0.is_empty() {
            return Err(HoldingError::Invalid(errors));
        }
        if holding.status != current.status {
            holding.settled_on =
                (holding.status == HoldingStatus::Settled).then(|| nhip_domain::time::vn_date(now));
        }
        holding.version = current.version + 1;
        holding.updated_at = now;
        holding.updated_by = principal.user.clone();
        let changed: Vec<&String> = body.keys().filter(|k| *k != "version").collect();
        let pointer = super::reminder::repoint(Some(&current), &mut holding, now);
        let mut after = profile_with(&before, &holding, now);
        let reason_changed = holding.usage_reason != current.usage_reason;
        let (mut ops, entries) = holding_writes(
            &before,
            &after,
            &holding,
            Some(current.version),
            nhip_core::event_types::HOLDING_UPDATED,
            timeline_data(&holding, Some(changed)),
            principal,
            reason_changed,
            now,
        )?;
        ops.extend(pointer);
        match repo::save(&*deps.store, &before, &mut after, ops).await {
            Ok(()) => {
                nhip_core::events::publish_entries(deps, &entries).await;
                return Ok(HoldingChange {
                    holding: HoldingView::new(&holding, &products, &reasons),
                    customer: CustomerBrief::from(&after),
                });
            }
            Err(SaveError::Conflict) => continue,
            Err(other) => return Err(other.into()),
        }
    }
    Err(SaveError::Conflict.into())
}

/// One holding written by a use case beyond the holding routes (the contract actions): the
/// holding as it will be, as it is stored (`None` when new), and its timeline entry.
#[derive(Debug, Clone)]
pub struct HoldingWrite {
    /// The holding to write (its version already moved on when it changes).
    pub holding: Holding,
    /// The stored holding it replaces.
    pub stored: Option<Holding>,
    /// The timeline entry's event type (`contract.renewed`, …).
    pub event_type: &'static str,
    /// The timeline entry's data.
    pub data: Value,
}

/// The profile after `writes` and every write that goes with them in one transaction: each
/// holding (create-only or on its stored version) with its expiry-alert pointer moved and its
/// timeline entry, and one lifecycle entry when the lifecycle moved. The caller saves the
/// profile with [`repo::save`] and publishes the entries once it committed.
pub fn prepare_writes(
    before: &Customer,
    writes: &mut [HoldingWrite],
    principal: &Principal,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<
    (
        Customer,
        Vec<nhip_ports::store::WriteOp>,
        Vec<nhip_core::timeline::Entry>,
    ),
    StoreError,
> {
    let mut after = before.clone();
    let mut ops = Vec::new();
    for write in writes.iter_mut() {
        ops.extend(super::reminder::repoint(
            write.stored.as_ref(),
            &mut write.holding,
            now,
        ));
        after = profile_with(&after, &write.holding, now);
    }
    after.lifecycle = super::apply::lifecycle_after(before.lifecycle, &after.holdings);
    let mut entries = Vec::new();
    for (n, write) in writes.iter().enumerate() {
        // The lifecycle entry goes with the first write only.
        let lifecycle_before = if n == 0 { before } else { &after };
        let (writes_ops, written) = holding_writes(
            lifecycle_before,
            &after,
            &write.holding,
            write.stored.as_ref().map(|h| h.version),
            write.event_type,
            write.data.clone(),
            principal,
            false,
            now,
        )?;
        ops.extend(writes_ops);
        entries.extend(written);
    }
    Ok((after, ops, entries))
}
