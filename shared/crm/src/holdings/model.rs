//! The catalogue's and holdings' records: products, usage reasons, holdings, their wire
//! enums with Vietnamese labels, and the holding lifecycle rules.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use nhip_domain::customer::UsageStatus;
use nhip_domain::ids::CustomerId;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::customers::model::HoldingSummary;

/// A plain enum with a snake_case wire form and a Vietnamese label.
macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $wire:literal, $label:literal;)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            /// Every value, in display order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire form.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire,)+ }
            }

            /// The Vietnamese label staff see.
            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label,)+ }
            }

            /// The value with this wire form.
            pub fn parse(raw: &str) -> Option<Self> {
                match raw.trim() {
                    $($wire => Some($name::$variant),)+
                    _ => None,
                }
            }

            pub(crate) fn expected() -> String {
                [$($wire),+].join(", ")
            }
        }
    };
}

wire_enum! {
    /// What sort of product: decides which attributes make sense and groups the usage summary.
    ProductKind {
        /// Investment contracts (BCC and the like).
        Investment = "investment", "Đầu tư";
        /// Payment cards.
        Card = "card", "Thẻ";
        /// Installment plans.
        InstallmentPlan = "installment_plan", "Trả góp";
        /// Software subscriptions (invoices, accounting).
        SoftwareSubscription = "software_subscription", "Phần mềm thuê bao";
        /// Anything else.
        Other = "other", "Khác";
    }
}

wire_enum! {
    /// Where a holding's contract or subscription stands.
    HoldingStatus {
        /// Signed or bought, not in force yet.
        Pending = "pending", "Chờ hiệu lực";
        /// In force.
        Active = "active", "Đang hiệu lực";
        /// Settled: paid out and closed ("tất toán").
        Settled = "settled", "Đã tất toán";
        /// Cancelled before or during its term.
        Cancelled = "cancelled", "Đã huỷ";
        /// Renewed ("gia hạn"): closed, its successor contract carries it on.
        Renewed = "renewed", "Đã gia hạn";
    }
}

wire_enum! {
    /// Which usage statuses a reason may explain.
    AppliesTo {
        /// Bought, not yet used.
        NotYetUsing = "not_yet_using", "Chưa sử dụng";
        /// Stopped using.
        Stopped = "stopped", "Ngưng sử dụng";
        /// Either.
        Both = "both", "Chưa sử dụng và ngưng sử dụng";
    }
}

impl AppliesTo {
    /// Whether a reason with this scope may explain `status`.
    pub fn covers(self, status: UsageStatus) -> bool {
        match (self, status) {
            (_, UsageStatus::Using) => false,
            (AppliesTo::Both, _) => true,
            (AppliesTo::NotYetUsing, s) => s == UsageStatus::NotYetUsing,
            (AppliesTo::Stopped, s) => s == UsageStatus::Stopped,
        }
    }
}

impl HoldingStatus {
    /// Whether a holding may move from `self` to `next` (admins may correct any status but
    /// `renewed`, which only a renewal sets).
    pub fn may_become(self, next: HoldingStatus) -> bool {
        use HoldingStatus::*;
        self == next
            || matches!(
                (self, next),
                (Pending, Active) | (Pending, Cancelled) | (Active, Settled) | (Active, Cancelled)
            )
    }
}

wire_enum! {
    /// The type an attribute hint asks for.
    HintType {
        /// Free text.
        Text = "text", "Chữ";
        /// Any number.
        Number = "number", "Số";
        /// A whole number.
        Integer = "integer", "Số nguyên";
        /// A date, `YYYY-MM-DD` or `DD/MM/YYYY`.
        Date = "date", "Ngày";
        /// Yes or no.
        Boolean = "boolean", "Có/không";
        /// Exactly four digits: the last digits of a card number.
        Last4 = "last4", "4 số cuối";
    }
}

/// A hint about one kind-specific attribute of a product's holdings, for forms and checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeHint {
    /// What the form shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The value's type; a holding's value must have it.
    #[serde(rename = "type")]
    pub value_type: HintType,
    /// Whether every holding of the product must carry it.
    #[serde(default)]
    pub required: bool,
}

/// A product of the catalogue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Product {
    /// Slug, unique: lower-case letters, digits and hyphens (`bcc-12-thang`).
    pub code: String,
    /// Name, in Vietnamese (NFC).
    pub name: String,
    /// What sort of product; fixed once created. Stored as `product_kind`: `kind` is the
    /// item-type attribute of every item in the table; the API calls it `kind`.
    #[serde(rename = "product_kind")]
    pub kind: ProductKind,
    /// Whether new holdings may be added.
    pub active: bool,
    /// A longer description.
    #[serde(default)]
    pub description: Option<String>,
    /// Hints on the kind-specific attributes of its holdings, by attribute name.
    #[serde(default)]
    pub attribute_schema: BTreeMap<String, AttributeHint>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// Optimistic-concurrency version.
    pub version: u64,
}

/// A reason a product is not yet used or stopped being used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageReason {
    /// Slug, unique.
    pub code: String,
    /// What staff see and choose from, in Vietnamese.
    pub label: String,
    /// Which usage statuses it explains.
    pub applies_to: AppliesTo,
    /// Whether it may be chosen.
    pub active: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// Optimistic-concurrency version.
    pub version: u64,
}

/// One product a customer holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Holding {
    /// Time-ordered id.
    pub id: String,
    /// Whose.
    pub customer_id: CustomerId,
    /// Product code from the catalogue.
    pub product: String,
    /// The product's kind (fixed for a product, copied for the usage summary).
    pub product_kind: ProductKind,
    /// Contract or subscription status.
    pub status: HoldingStatus,
    /// Contract or subscription number.
    #[serde(default)]
    pub reference: Option<String>,
    /// First day in force.
    #[serde(default)]
    pub starts_on: Option<NaiveDate>,
    /// Last day in force.
    #[serde(default)]
    pub expires_on: Option<NaiveDate>,
    /// Amount in đồng (principal of an investment, limit of a card, price of a plan).
    #[serde(default)]
    pub amount: Option<i64>,
    /// Whether it is used.
    #[serde(default)]
    pub usage_status: Option<UsageStatus>,
    /// Why it is not (yet) used: a reason code.
    #[serde(default)]
    pub usage_reason: Option<String>,
    /// Share of invoices left, 0–1 (software subscriptions).
    #[serde(default)]
    pub remaining_invoice_ratio: Option<f64>,
    /// Kind-specific data (card: `last4` only; investment: rate, term, …). Never logged.
    #[serde(default)]
    pub attributes: Map<String, Value>,
    /// The Vietnamese date it became settled.
    #[serde(default)]
    pub settled_on: Option<NaiveDate>,
    /// An investment contract's terms, fixed at signing from the product's rates (never set
    /// from a request body: the contract actions write them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract: Option<ContractTerms>,
    /// The date of its next expiry alert, where its reminder pointer sits (kept by the writes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remind_on: Option<NaiveDate>,
    /// Who added it.
    pub created_by: String,
    /// Who changed it last.
    pub updated_by: String,
    /// When it was added.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// Optimistic-concurrency version.
    pub version: u64,
}

/// What an investment contract carries beyond a holding: its terms as signed, its place in a
/// renewal chain, its consultant (for the bonus) and the "Đã lấy HĐ về và scan" tick.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ContractTerms {
    /// The base rate at signing, in basis points a year (600 = 6 %).
    pub rate_bp: u32,
    /// The fee tier chosen at signing (its code in the product's rates).
    pub fee_tier: String,
    /// That tier's fee at signing, in basis points (1000 = 10 %).
    pub fee_bp: u32,
    /// The rates' version the terms were taken from.
    pub rates_version: u64,
    /// Term in months.
    pub term_months: u32,
    /// The contract it renews.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predecessor: Option<String>,
    /// The contract that renewed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub successor: Option<String>,
    /// The consultant it counts for: the customer's owner when it became active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consultant: Option<String>,
    /// The Vietnamese date it became active (its bonus month).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_on: Option<NaiveDate>,
    /// Who ticked "Đã lấy HĐ về và scan".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scanned_by: Option<String>,
    /// When.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scanned_at: Option<DateTime<Utc>>,
}

impl Holding {
    /// What the profile keeps of it for the list filters.
    pub fn summary(&self) -> HoldingSummary {
        HoldingSummary {
            id: self.id.clone(),
            product: self.product.clone(),
            status: self.status.as_str().to_owned(),
            expires_on: self.expires_on,
            usage_status: self.usage_status,
            usage_reason: self.usage_reason.clone(),
            remaining_invoice_ratio: self.remaining_invoice_ratio,
        }
    }
}

/// How a set of holdings is used. Cancelled and renewed holdings count nowhere (a renewed
/// contract's successor counts instead).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Usage {
    /// Holdings bought (every holding but cancelled ones).
    pub bought: u32,
    /// In use.
    pub using: u32,
    /// Bought, not yet used ("chờ sử dụng").
    pub pending: u32,
    /// Stopped.
    pub stopped: u32,
    /// `using / bought`, 0 when nothing was bought; rounded to 4 decimals.
    pub usage_rate: f64,
}

impl Usage {
    fn count(&mut self, holding: &HoldingSummary) {
        self.bought += 1;
        match holding.usage_status {
            Some(UsageStatus::Using) => self.using += 1,
            Some(UsageStatus::NotYetUsing) => self.pending += 1,
            Some(UsageStatus::Stopped) => self.stopped += 1,
            None => {}
        }
        self.usage_rate = if self.bought == 0 {
            0.0
        } else {
            (f64::from(self.using) / f64::from(self.bought) * 10_000.0).round() / 10_000.0
        };
    }
}

/// The usage of one customer's holdings: overall and per product kind (kinds from the
/// catalogue; a product no longer in it counts as `other`).
pub fn usage(
    holdings: &[HoldingSummary],
    products: &BTreeMap<String, Product>,
) -> (Usage, BTreeMap<ProductKind, Usage>) {
    let mut total = Usage::default();
    let mut by_kind: BTreeMap<ProductKind, Usage> = BTreeMap::new();
    for holding in holdings.iter().filter(|h| {
        h.status != HoldingStatus::Cancelled.as_str() && h.status != HoldingStatus::Renewed.as_str()
    }) {
        let kind = products
            .get(&holding.product)
            .map_or(ProductKind::Other, |p| p.kind);
        total.count(holding);
        by_kind.entry(kind).or_default().count(holding);
    }
    (total, by_kind)
}
