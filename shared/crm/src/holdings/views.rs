//! What the holding and catalogue routes answer: a holding with its Vietnamese labels, the
//! customer's new summary and lifecycle after a change, products and usage reasons. The stored [`Holding`] is not the API: a field
//! added to it appears in an answer only once it is added here.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use nhip_domain::customer::{Lifecycle, UsageStatus};
use nhip_domain::ids::CustomerId;
use serde::Serialize;
use serde_json::{Map, Value};

use super::model::*;
use crate::customers::model::{Customer, HoldingSummary};

/// The reasons of the catalogue, by code.
pub type Reasons = BTreeMap<String, UsageReason>;

/// A holding as staff see it: [`Holding`] with Vietnamese labels.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct HoldingView {
    /// Time-ordered id (a ULID).
    pub id: String,
    /// Whose: the customer's id.
    #[schema(value_type = String)]
    pub customer_id: CustomerId,
    /// Product code from the catalogue.
    pub product: String,
    /// The product's name; absent once the product left the catalogue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_name: Option<String>,
    /// The product's kind.
    pub product_kind: ProductKind,
    /// The kind in Vietnamese.
    pub product_kind_label: &'static str,
    /// Contract or subscription status.
    pub status: HoldingStatus,
    /// The status in Vietnamese.
    pub status_label: &'static str,
    /// Contract or subscription number.
    pub reference: Option<String>,
    /// First day in force.
    pub starts_on: Option<NaiveDate>,
    /// Last day in force.
    pub expires_on: Option<NaiveDate>,
    /// Amount in đồng (principal of an investment, limit of a card, price of a plan).
    pub amount: Option<i64>,
    /// Whether it is used.
    #[schema(value_type = Option<nhip_core::openapi::UsageStatusSchema>)]
    pub usage_status: Option<UsageStatus>,
    /// The usage status in Vietnamese; absent without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_status_label: Option<&'static str>,
    /// Why it is not (yet) used: a reason code.
    pub usage_reason: Option<String>,
    /// The reason in Vietnamese; absent without one or once the reason left the list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_reason_label: Option<String>,
    /// Share of invoices left, 0–1 (software subscriptions).
    pub remaining_invoice_ratio: Option<f64>,
    /// Kind-specific data (card: `last4` only; investment: rate, term, …).
    #[schema(value_type = Object)]
    pub attributes: Map<String, Value>,
    /// The Vietnamese date it became settled.
    pub settled_on: Option<NaiveDate>,
    /// An investment contract's terms as signed, its renewal chain, consultant and scanned
    /// tick; absent for other holdings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contract: Option<ContractTerms>,
    /// The date of its next expiry alert, if one is due.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remind_on: Option<NaiveDate>,
    /// Who added it.
    pub created_by: String,
    /// Who changed it last.
    pub updated_by: String,
    /// When it was added.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// Optimistic-concurrency version: send it back with a change.
    pub version: u64,
}

/// A customer's holdings.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct HoldingList {
    /// Oldest first.
    pub items: Vec<HoldingView>,
}

/// The customer after a holding changed: what the list filters and the lifecycle see.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CustomerBrief {
    /// The customer's id.
    #[schema(value_type = String)]
    pub id: CustomerId,
    /// Where they now are in the relationship.
    #[schema(value_type = nhip_core::openapi::LifecycleSchema)]
    pub lifecycle: Lifecycle,
    /// The lifecycle in Vietnamese.
    pub lifecycle_label: &'static str,
    /// Products held, summarised.
    #[schema(value_type = Vec<crate::customers::routes::HoldingSummaryView>)]
    pub holdings: Vec<HoldingSummary>,
    /// The customer's new version.
    pub version: u64,
}

/// The answer to adding or changing a holding.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct HoldingChange {
    /// The holding as it now is.
    pub holding: HoldingView,
    /// The customer's new holdings summary and lifecycle.
    pub customer: CustomerBrief,
}

impl HoldingView {
    /// The holding with the labels of its status, kind, usage status, and of its product and
    /// reason while they are in the catalogue.
    pub fn new(holding: &Holding, products: &BTreeMap<String, Product>, reasons: &Reasons) -> Self {
        Self {
            id: holding.id.clone(),
            customer_id: holding.customer_id,
            product: holding.product.clone(),
            product_name: products.get(&holding.product).map(|p| p.name.clone()),
            product_kind: holding.product_kind,
            product_kind_label: holding.product_kind.label(),
            status: holding.status,
            status_label: holding.status.label(),
            reference: holding.reference.clone(),
            starts_on: holding.starts_on,
            expires_on: holding.expires_on,
            amount: holding.amount,
            usage_status: holding.usage_status,
            usage_status_label: holding.usage_status.map(UsageStatus::label),
            usage_reason: holding.usage_reason.clone(),
            usage_reason_label: holding
                .usage_reason
                .as_ref()
                .and_then(|r| reasons.get(r))
                .map(|r| r.label.clone()),
            remaining_invoice_ratio: holding.remaining_invoice_ratio,
            attributes: holding.attributes.clone(),
            settled_on: holding.settled_on,
            contract: holding.contract.clone(),
            remind_on: holding.remind_on,
            created_by: holding.created_by.clone(),
            updated_by: holding.updated_by.clone(),
            created_at: holding.created_at,
            updated_at: holding.updated_at,
            version: holding.version,
        }
    }
}

impl From<&Customer> for CustomerBrief {
    fn from(customer: &Customer) -> Self {
        Self {
            id: customer.id,
            lifecycle: customer.lifecycle,
            lifecycle_label: customer.lifecycle.label(),
            holdings: customer.holdings.clone(),
            version: customer.version,
        }
    }
}

/// A product as staff see it: [`Product`] with its kind's Vietnamese label.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ProductView {
    /// Slug, unique: lower-case letters, digits and hyphens.
    #[schema(example = "bcc-12-thang")]
    pub code: String,
    /// Name, in Vietnamese.
    pub name: String,
    /// What sort of product; fixed once created.
    pub kind: ProductKind,
    /// The kind in Vietnamese.
    pub kind_label: &'static str,
    /// Whether new holdings may be added.
    pub active: bool,
    /// A longer description.
    pub description: Option<String>,
    /// Hints on the kind-specific attributes of its holdings, by attribute name.
    #[schema(value_type = BTreeMap<String, super::schemas::AttributeHintView>)]
    pub attribute_schema: BTreeMap<String, AttributeHint>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// Optimistic-concurrency version: send it back with a change.
    pub version: u64,
}

/// The product catalogue.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ProductList {
    /// By code.
    pub items: Vec<ProductView>,
}

/// A usage reason as staff see it: [`UsageReason`] with its scope's Vietnamese label.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ReasonView {
    /// Slug, unique.
    #[schema(example = "chua-co-nhu-cau")]
    pub code: String,
    /// What staff see and choose from, in Vietnamese.
    pub label: String,
    /// Which usage statuses it explains.
    pub applies_to: AppliesTo,
    /// The scope in Vietnamese.
    pub applies_to_label: &'static str,
    /// Whether it may be chosen.
    pub active: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// Optimistic-concurrency version: send it back with a change.
    pub version: u64,
}

/// The usage reasons.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ReasonList {
    /// By code.
    pub items: Vec<ReasonView>,
}

impl From<&Product> for ProductView {
    fn from(product: &Product) -> Self {
        Self {
            code: product.code.clone(),
            name: product.name.clone(),
            kind: product.kind,
            kind_label: product.kind.label(),
            active: product.active,
            description: product.description.clone(),
            attribute_schema: product.attribute_schema.clone(),
            created_at: product.created_at,
            updated_at: product.updated_at,
            version: product.version,
        }
    }
}

impl From<&UsageReason> for ReasonView {
    fn from(reason: &UsageReason) -> Self {
        Self {
            code: reason.code.clone(),
            label: reason.label.clone(),
            applies_to: reason.applies_to,
            applies_to_label: reason.applies_to.label(),
            active: reason.active,
            created_at: reason.created_at,
            updated_at: reason.updated_at,
            version: reason.version,
        }
    }
}

/// How a set of holdings is used ([`Usage`]). Cancelled holdings count nowhere.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct KindUsage {
    /// The product kind.
    pub kind: ProductKind,
    /// The kind in Vietnamese.
    pub kind_label: &'static str,
    /// Holdings bought (every holding but cancelled ones).
    pub bought: u32,
    /// In use.
    pub using: u32,
    /// Bought, not yet used.
    pub pending: u32,
    /// Stopped.
    pub stopped: u32,
    /// `using / bought`, 0 when nothing was bought; 4 decimals.
    #[schema(minimum = 0, maximum = 1)]
    pub usage_rate: f64,
}

/// One customer's product usage: overall, and per product kind.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CustomerUsage {
    /// The customer's id.
    #[schema(value_type = String)]
    pub customer_id: CustomerId,
    /// Full name.
    pub full_name: String,
    /// The responsible consultant or agent.
    pub owner: Option<String>,
    /// Where they are in the relationship.
    #[schema(value_type = nhip_core::openapi::LifecycleSchema)]
    pub lifecycle: Lifecycle,
    /// Holdings bought (every holding but cancelled ones).
    pub bought: u32,
    /// In use.
    pub using: u32,
    /// Bought, not yet used.
    pub pending: u32,
    /// Stopped.
    pub stopped: u32,
    /// `using / bought`, 0 when nothing was bought; 4 decimals.
    #[schema(minimum = 0, maximum = 1)]
    pub usage_rate: f64,
    /// The same per product kind (a product no longer in the catalogue counts as `other`).
    pub by_kind: Vec<KindUsage>,
}

/// One page of the product-usage report.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct UsageReport {
    /// One row per customer, in the customer list's order.
    pub items: Vec<CustomerUsage>,
    /// Pass as `cursor` for the next page; absent or null on the last.
    pub next_cursor: Option<String>,
}

impl KindUsage {
    fn new(kind: ProductKind, usage: &super::model::Usage) -> Self {
        Self {
            kind,
            kind_label: kind.label(),
            bought: usage.bought,
            using: usage.using,
            pending: usage.pending,
            stopped: usage.stopped,
            usage_rate: usage.usage_rate,
        }
    }
}

impl CustomerUsage {
    /// The usage of `customer`'s holdings, kinds from the catalogue's `products`.
    pub fn new(customer: &Customer, products: &BTreeMap<String, Product>) -> Self {
        let (total, by_kind) = super::model::usage(&customer.holdings, products);
        Self {
            customer_id: customer.id,
            full_name: customer.full_name.clone(),
            owner: customer.owner.clone(),
            lifecycle: customer.lifecycle,
            bought: total.bought,
            using: total.using,
            pending: total.pending,
            stopped: total.stopped,
            usage_rate: total.usage_rate,
            by_kind: by_kind
                .iter()
                .map(|(kind, usage)| KindUsage::new(*kind, usage))
                .collect(),
        }
    }
}
