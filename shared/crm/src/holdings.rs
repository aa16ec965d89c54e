//! # Layout
//! The products customers hold, and the admin-managed lists they are chosen from.
//! - Catalogue: products (`CATALOG#PRODUCT` / `<code>`: BCC and other investment products,
//!   cards, installment plans, software subscriptions) and the reasons a product is not (yet)
//!   used (`CATALOG#REASON` / `<code>`, "Lý do chưa/ngưng sử dụng"). Admins write them; every
//!   authenticated staff member reads them. Each list is one Query on one small partition.
//! - Holdings: one item per product a customer holds, in the customer's partition
//!   (`CUS#<id>` / `HOLD#<ulid>`). Every holding write also rewrites the holding's summary on
//!   the customer's profile ([`HoldingSummary`], which the list filters read) in the same
//!   transaction, with the profile's optimistic version, and moves the lifecycle: an `active`
//!   holding makes a lead a customer; a customer whose holdings are all settled or cancelled,
//!   at least one settled, becomes `former` ("KH cũ đã tất toán").
//! - Usage: the product-usage summary per customer (bought, using, pending, stopped, usage
//!   rate; per product kind too) and the report of it over the caller's customer list.
//!
//! Holding attributes may carry card data: only the last four digits are accepted (anything
//! that looks like a full card number is refused), and attributes are never logged.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use nhip_domain::customer::{Lifecycle, UsageStatus};
use nhip_domain::ids::CustomerId;
use nhip_domain::person::nfc;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use ulid::Ulid;

use crate::customers::list::{self, Filters, ListError};
use crate::customers::model::{Customer, HoldingSummary};
use crate::customers::repo::{self, SaveError};
use crate::customers::routes::{audit, load_visible};
use nhip_core::auth::Principal;
use nhip_core::deps::Deps;
use nhip_core::form::{FieldErrors, parse_date, text};
use nhip_core::http::{ApiError, Json, Path, Query as QueryParams};
use nhip_core::keys;
use nhip_core::records::{from_item, read_partition, to_item};
use nhip_core::timeline;
use nhip_ports::ItemStore;
use nhip_ports::store::{Condition, Index, Item, StoreError, WriteOp};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Kind attribute of catalogue product items.
pub const PRODUCT_KIND: &str = "catalogue_product";
/// Kind attribute of usage-reason items.
pub const REASON_KIND: &str = "usage_reason";
/// Kind attribute of holding items.
pub const HOLDING_KIND: &str = "holding";

/// Attempts when a concurrent change to the customer wins the race.
const ATTEMPTS: usize = 3;
/// Most attributes on one holding.
const MAX_ATTRIBUTES: usize = 30;
/// Largest amount accepted, in đồng: the largest integer a JavaScript client reads exactly.
const MAX_AMOUNT: i64 = 9_007_199_254_740_991;

/// The catalogue, holdings, usage and report routes.
pub fn router() -> OpenApiRouter<Arc<Deps>> {
    OpenApiRouter::new()
        .routes(routes!(list_products, create_product))
        .routes(routes!(get_product, update_product))
        .routes(routes!(list_reasons, create_reason))
        .routes(routes!(update_reason))
        .routes(routes!(list_holdings, add_holding))
        .routes(routes!(get_holding, update_holding))
        .routes(routes!(customer_usage))
        .routes(routes!(product_usage_report))
}

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

            fn expected() -> String {
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
    /// Whether a holding may move from `self` to `next` (admins may correct any status).
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

// ---------------------------------------------------------------------------------------
// Storage

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

async fn product(store: &dyn ItemStore, code: &str) -> Result<Option<Product>, StoreError> {
    store
        .get(&keys::catalogue_product(code))
        .await?
        .map(|item| from_item(item, PRODUCT_KIND))
        .transpose()
}

async fn reason(store: &dyn ItemStore, code: &str) -> Result<Option<UsageReason>, StoreError> {
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

async fn holding(
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

// ---------------------------------------------------------------------------------------
// Request parsing

fn reject_unknown(body: &Map<String, Value>, allowed: &[&str], errors: &mut FieldErrors) {
    for field in body.keys() {
        if !allowed.contains(&field.as_str()) {
            errors.add(field, "Trường không được hỗ trợ.");
        }
    }
}

/// A slug: trimmed, lower-cased, 2–64 of `a-z`, `0-9` and inner hyphens.
fn normalise_code(raw: &str) -> Option<String> {
    let code = raw.trim().to_ascii_lowercase();
    let valid = (2..=64).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !code.starts_with('-')
        && !code.ends_with('-');
    valid.then_some(code)
}

fn required_code(body: &Map<String, Value>, errors: &mut FieldErrors) -> Option<String> {
    match text(body, "code", errors) {
        None => {
            errors.add("code", "Vui lòng nhập mã.");
            None
        }
        Some(raw) => {
            let code = normalise_code(&raw);
            if code.is_none() {
                errors.add(
                    "code",
                    "Mã gồm 2–64 ký tự: chữ thường không dấu, số và dấu gạch ngang.",
                );
            }
            code
        }
    }
}

/// A line of text: NFC, 1–`max` characters, no control characters.
fn label_text(
    body: &Map<String, Value>,
    field: &str,
    max: usize,
    errors: &mut FieldErrors,
) -> Option<String> {
    let value = text(body, field, errors)?;
    if value.chars().count() > max {
        errors.add(field, format!("Tối đa {max} ký tự."));
        return None;
    }
    if value.chars().any(char::is_control) {
        errors.add(field, "Có ký tự không hợp lệ.");
        return None;
    }
    Some(value)
}

fn boolean(body: &Map<String, Value>, field: &str, errors: &mut FieldErrors) -> Option<bool> {
    match body.get(field)? {
        Value::Bool(b) => Some(*b),
        _ => {
            errors.add(field, "Cần true hoặc false.");
            None
        }
    }
}

fn enumerated<T>(
    body: &Map<String, Value>,
    field: &str,
    errors: &mut FieldErrors,
    parse: fn(&str) -> Option<T>,
    expected: String,
) -> Option<T> {
    let raw = text(body, field, errors)?;
    let value = parse(&raw);
    if value.is_none() {
        errors.add(
            field,
            format!("Giá trị không hợp lệ; chọn một trong: {expected}."),
        );
    }
    value
}

fn attribute_schema(
    body: &Map<String, Value>,
    errors: &mut FieldErrors,
) -> Option<BTreeMap<String, AttributeHint>> {
    match body.get("attribute_schema")? {
        Value::Null => Some(BTreeMap::new()),
        Value::Object(hints) if hints.len() <= MAX_ATTRIBUTES => {
            let mut schema = BTreeMap::new();
            for (name, hint) in hints {
                let field = format!("attribute_schema.{name}");
                if !valid_attribute_name(name) {
                    errors.add(
                        &field,
                        "Tên thuộc tính: 1–64 ký tự chữ không dấu, số, _ hoặc -.",
                    );
                    continue;
                }
                match serde_json::from_value::<AttributeHint>(hint.clone()) {
                    Ok(hint) if hint.label.as_ref().is_none_or(|l| l.chars().count() <= 100) => {
                        let label = hint.label.map(|l| nfc(l.trim()));
                        schema.insert(name.clone(), AttributeHint { label, ..hint });
                    }
                    _ => errors.add(
                        &field,
                        format!(
                            "Cần {{\"type\": …, \"label\": …, \"required\": …}}; type là một trong: {}.",
                            HintType::expected()
                        ),
                    ),
                }
            }
            Some(schema)
        }
        _ => {
            errors.add(
                "attribute_schema",
                format!("Cần một đối tượng JSON, tối đa {MAX_ATTRIBUTES} thuộc tính."),
            );
            None
        }
    }
}

fn valid_attribute_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

// ---------------------------------------------------------------------------------------
// Card numbers

/// Whether `digits` (ASCII digits only) passes the Luhn check.
fn luhn(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Whether `text` holds something that looks like a full card number (PAN): a run of 13–19
/// digits, possibly grouped by single spaces or hyphens, that passes the Luhn check. Card
/// data is sensitive under Decree 356/2025; only the last four digits may be kept.
pub fn looks_like_card_number(text: &str) -> bool {
    let is_pan = |digits: &str| (13..=19).contains(&digits.len()) && luhn(digits);
    let mut digits = String::new();
    let mut after_separator = false;
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            after_separator = false;
        } else if (c == ' ' || c == '-') && !digits.is_empty() && !after_separator {
            after_separator = true;
        } else {
            if is_pan(&digits) {
                return true;
            }
            digits.clear();
            after_separator = false;
        }
    }
    is_pan(&digits)
}

fn card_number_rejected(field: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "card_number_not_allowed",
        "A full card number may not be stored; keep only its last four digits.",
    )
    .field(
        field,
        "Không được lưu số thẻ đầy đủ; chỉ lưu 4 số cuối (ví dụ \"last4\": \"1234\").",
    )
}

/// The first field holding what looks like a full card number, if any.
fn card_number_field(body: &Map<String, Value>) -> Option<String> {
    if let Some(Value::String(reference)) = body.get("reference")
        && looks_like_card_number(reference)
    {
        return Some("reference".into());
    }
    let Some(Value::Object(attributes)) = body.get("attributes") else {
        return None;
    };
    attributes.iter().find_map(|(name, value)| {
        let suspicious = looks_like_card_number(name)
            || match value {
                Value::String(s) => looks_like_card_number(s),
                Value::Number(n) => looks_like_card_number(&n.to_string()),
                Value::Array(_) | Value::Object(_) => looks_like_card_number(&value.to_string()),
                _ => false,
            };
        suspicious.then(|| format!("attributes.{name}"))
    })
}

// ---------------------------------------------------------------------------------------
// Catalogue routes

fn product_view(product: &Product) -> Value {
    let mut value = json!(product);
    if let Some(fields) = value.as_object_mut() {
        fields.remove("product_kind");
        fields.insert("kind".into(), json!(product.kind));
        fields.insert("kind_label".into(), json!(product.kind.label()));
    }
    value
}

fn reason_view(reason: &UsageReason) -> Value {
    let mut value = json!(reason);
    value["applies_to_label"] = json!(reason.applies_to.label());
    value
}

/// Filters of the catalogue lists.
#[derive(Debug, Default, Deserialize)]
struct CatalogueParams {
    /// Only active (`true`) or inactive (`false`) entries.
    active: Option<bool>,
    /// Products: only this kind.
    kind: Option<String>,
    /// Reasons: only those that may explain this usage status (`not_yet_using`, `stopped`).
    usage_status: Option<String>,
}

fn invalid_filter(field: &str, message: String) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_filter",
        format!("The filter '{field}' is not valid."),
    )
    .field(field, message)
}

/// `GET /v1/catalogue/products`: every product, by code (`?active=true`, `?kind=card`).
#[utoipa::path(
    get,
    path = "/v1/catalogue/products",
    tag = "catalogue",
    security(("bearer" = [])),
    params(
        ("active" = Option<bool>, Query, description = "Only active (`true`) or inactive (`false`) entries."),
        ("kind" = Option<ProductKind>, Query, description = "Only products of this kind."),
    ),
    responses(
        (status = 200, description = "Every product in the catalogue passing the filters, by code.", body = ProductList),
        (status = 400, response = nhip_core::openapi::BadRequest),
        (status = 401, response = nhip_core::openapi::Unauthenticated),
        (status = 403, response = nhip_core::openapi::Forbidden),
        (status = 503, response = nhip_core::openapi::Unavailable),
    )
)]
async fn list_products(
    State(deps): State<Arc<Deps>>,
    _principal: Principal,
    QueryParams(params): QueryParams<CatalogueParams>,
) -> Result<Json<Value>, ApiError> {
    let kind = match &params.kind {
        None => None,
        Some(raw) => Some(ProductKind::parse(raw).ok_or_else(|| {
            invalid_filter("kind", format!("one of: {}", ProductKind::expected()))
        })?),
    };
    let items: Vec<Value> = products(&*deps.store)
        .await?
        .values()
        .filter(|p| params.active.is_none_or(|a| p.active == a))
        .filter(|p| kind.is_none_or(|k| p.kind == k))
        .map(product_view)
        .collect();
    Ok(Json(json!({ "items": items })))
}

/// `GET /v1/catalogue/products/{code}`: one product.
#[utoipa::path(
    get,
    path = "/v1/catalogue/products/{code}",
    tag = "catalogue",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "The product's code (a slug; matched case-insensitively).")),
    responses(
        (status = 200, description = "The product.", body = ProductView),
        (status = 400, response = nhip_core::openapi::BadRequest),
        (status = 401, response = nhip_core::openapi::Unauthenticated),
        (status = 403, response = nhip_core::openapi::Forbidden),
        (status = 404, response = nhip_core::openapi::NotFound),
        (status = 503, response = nhip_core::openapi::Unavailable),
    )
)]
async fn get_product(
    State(deps): State<Arc<Deps>>,
    _principal: Principal,
    Path(code): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let found = match normalise_code(&code) {
        Some(code) => product(&*deps.store, &code).await?,
        None => None,
    };
    let product = found.ok_or_else(no_product)?;
    Ok(Json(product_view(&product)))
}

fn no_product() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "No such product.")
}

fn no_reason() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "No such usage reason.")
}

fn duplicate_code(what: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "duplicate",
        format!("A {what} with this code already exists."),
    )
    .field("code", "Mã này đã được dùng.")
}

/// Writes a new catalogue entry create-only: 409 `duplicate` when the code is taken.
async fn create_only(deps: &Deps, item: Item, what: &str) -> Result<(), ApiError> {
    match deps.store.put(item, Condition::NotExists).await {
        Ok(()) => Ok(()),
        Err(StoreError::ConditionFailed { .. }) => Err(duplicate_code(what)),
        Err(other) => Err(other.into()),
    }
}

/// `POST /v1/catalogue/products` (admin): `code`, `name`, `kind`, optional `active` (default
/// true), `description`, `attribute_schema`. 201 with the product.
#[utoipa::path(
    post,
    path = "/v1/catalogue/products",
    tag = "catalogue",
    security(("bearer" = [])),
    request_body(content = ProductInput, description = "The new product; admins only."),
    responses(
        (status = 201, description = "Created: the product.", body = ProductView),
        (status = 400, response = nhip_core::openapi::BadRequest),
        (status = 401, response = nhip_core::openapi::Unauthenticated),
        (status = 403, response = nhip_core::openapi::Forbidden),
        (status = 409, description = "A product with this code already exists (`duplicate`).", body = nhip_core::openapi::ErrorBody),
        (status = 413, response = nhip_core::openapi::PayloadTooLarge),
        (status = 415, response = nhip_core::openapi::UnsupportedMediaType),
        (status = 422, response = nhip_core::openapi::ValidationFailed),
        (status = 503, response = nhip_core::openapi::Unavailable),
    )
)]
async fn create_product(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    principal.require_admin()?;
    let body = nhip_core::http::json_object(body)?;
    let mut errors = FieldErrors::default();
    reject_unknown(
        &body,
        &[
            "code",
            "name",
            "kind",
            "active",
            "description",
            "attribute_schema",
        ],
        &mut errors,
    );
    let code = required_code(&body, &mut errors);
    let name = label_text(&body, "name", 200, &mut errors);
    if name.is_none() {
        errors.add("name", "Vui lòng nhập tên sản phẩm.");
    }
    let kind = enumerated(
        &body,
        "kind",
        &mut errors,
        ProductKind::parse,
        ProductKind::expected(),
    );
    if kind.is_none() {
        errors.add("kind", "Vui lòng chọn loại sản phẩm.");
    }
    let active = boolean(&body, "active", &mut errors).unwrap_or(true);
    let description = label_text_multiline(&body, "description", 2000, &mut errors);
    let schema = attribute_schema(&body, &mut errors).unwrap_or_default();
    errors.into_result()?;
    let (Some(code), Some(name), Some(kind)) = (code, name, kind) else {
        unreachable!("missing fields are field errors");
    };
    let now = deps.clock.now();
    let product = Product {
        code,
        name,
        kind,
        active,
        description,
        attribute_schema: schema,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let item = to_item(
        keys::catalogue_product(&product.code),
        PRODUCT_KIND,
        &product,
    )?;
    create_only(&deps, item, "product").await?;
    Ok((StatusCode::CREATED, Json(product_view(&product))).into_response())
}

fn label_text_multiline(
    body: &Map<String, Value>,
    field: &str,
    max: usize,
    errors: &mut FieldErrors,
) -> Option<String> {
    let value = text(body, field, errors)?;
    if value.chars().count() > max {
        errors.add(field, format!("Tối đa {max} ký tự."));
        return None;
    }
    Some(value)
}

/// `PATCH /v1/catalogue/products/{code}` (admin): `version` plus any of `name`, `active`,
/// `description`, `attribute_schema`. The code and the kind are fixed.
#[utoipa::path(
    patch,
    path = "/v1/catalogue/products/{code}",
    tag = "catalogue",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "The product's code (a slug; matched case-insensitively).")),
    request_body(content = ProductPatch, description = "The fields to change and the `version` read; admins only."),
    responses(
        (status = 200, description = "Changed: the product as it now is.", body = ProductView),
        (status = 400, response = nhip_core::openapi::BadRequest),
        (status = 401, response = nhip_core::openapi::Unauthenticated),
        (status = 403, response = nhip_core::openapi::Forbidden),
        (status = 404, response = nhip_core::openapi::NotFound),
        (status = 409, response = nhip_core::openapi::Conflict),
        (status = 413, response = nhip_core::openapi::PayloadTooLarge),
        (status = 415, response = nhip_core::openapi::UnsupportedMediaType),
        (status = 422, response = nhip_core::openapi::ValidationFailed),
        (status = 503, response = nhip_core::openapi::Unavailable),
    )
)]
async fn update_product(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(code): Path<String>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    principal.require_admin()?;
    let body = nhip_core::http::json_object(body)?;
    let version = nhip_core::http::required_version(&body)?;
    let code = normalise_code(&code).ok_or_else(no_product)?;
    let before = product(&*deps.store, &code).await?.ok_or_else(no_product)?;
    if before.version != version {
        return Err(ApiError::stale_version(before.version));
    }
    let mut errors = FieldErrors::default();
    reject_unknown(
        &body,
        &[
            "version",
            "name",
            "active",
            "description",
            "attribute_schema",
            "kind",
            "code",
        ],
        &mut errors,
    );
    let mut after = before.clone();
    if body
        .get("code")
        .is_some_and(|c| c.as_str() != Some(code.as_str()))
    {
        errors.add("code", "Không thể đổi mã sản phẩm.");
    }
    if let Some(kind) = body.get("kind")
        && kind.as_str() != Some(before.kind.as_str())
    {
        errors.add("kind", "Không thể đổi loại sản phẩm; hãy tạo sản phẩm mới.");
    }
    if body.contains_key("name") {
        match label_text(&body, "name", 200, &mut errors) {
            Some(name) => after.name = name,
            None => errors.add("name", "Vui lòng nhập tên sản phẩm."),
        }
    }
    if let Some(active) = boolean(&body, "active", &mut errors) {
        after.active = active;
    }
    if body.contains_key("description") {
        after.description = label_text_multiline(&body, "description", 2000, &mut errors);
    }
    if let Some(schema) = attribute_schema(&body, &mut errors) {
        after.attribute_schema = schema;
    }
    errors.into_result()?;
    after.updated_at = deps.clock.now();
    after.version = before.version + 1;
    let item = to_item(keys::catalogue_product(&after.code), PRODUCT_KIND, &after)?;
    deps.store
        .put(item, Condition::version_is(before.version))
        .await?;
    Ok(Json(product_view(&after)))
}

/// `GET /v1/catalogue/usage-reasons`: every reason, by code (`?active=true`,
/// `?usage_status=stopped` for those that may explain that status).
#[utoipa::path(
    get,
    path = "/v1/catalogue/usage-reasons",
    tag = "catalogue",
    security(("bearer" = [])),
    params(
        ("active" = Option<bool>, Query, description = "Only active (`true`) or inactive (`false`) entries."),
        ("usage_status" = Option<nhip_core::openapi::UsageStatusSchema>, Query, description = "Only reasons that may explain this usage status (none explains `using`)."),
    ),
    responses(
        (status = 200, description = "Every usage reason passing the filters, by code.", body = ReasonList),
        (status = 400, response = nhip_core::openapi::BadRequest),
        (status = 401, response = nhip_core::openapi::Unauthenticated),
        (status = 403, response = nhip_core::openapi::Forbidden),
        (status = 503, response = nhip_core::openapi::Unavailable),
    )
)]
async fn list_reasons(
    State(deps): State<Arc<Deps>>,
    _principal: Principal,
    QueryParams(params): QueryParams<CatalogueParams>,
) -> Result<Json<Value>, ApiError> {
    let status = match &params.usage_status {
        None => None,
        Some(raw) => Some(
            raw.parse::<UsageStatus>()
                .map_err(|e| invalid_filter("usage_status", e.to_string()))?,
        ),
    };
    let items: Vec<Value> = reasons(&*deps.store)
        .await?
        .values()
        .filter(|r| params.active.is_none_or(|a| r.active == a))
        .filter(|r| status.is_none_or(|s| r.applies_to.covers(s)))
        .map(reason_view)
        .collect();
    Ok(Json(json!({ "items": items })))
}

/// `POST /v1/catalogue/usage-reasons` (admin): `code`, `label`, `applies_to`
/// (`not_yet_using`, `stopped`, `both`), optional `active` (default true).
#[utoipa::path(
    post,
    path = "/v1/catalogue/usage-reasons",
    tag = "catalogue",
    security(("bearer" = [])),
    request_body(content = ReasonInput, description = "The new reason; admins only."),
    responses(
        (status = 201, description = "Created: the reason.", body = ReasonView),
        (status = 400, response = nhip_core::openapi::BadRequest),
        (status = 401, response = nhip_core::openapi::Unauthenticated),
        (status = 403, response = nhip_core::openapi::Forbidden),
        (status = 409, description = "A reason with this code already exists (`duplicate`).", body = nhip_core::openapi::ErrorBody),
        (status = 413, response = nhip_core::openapi::PayloadTooLarge),
        (status = 415, response = nhip_core::openapi::UnsupportedMediaType),
        (status = 422, response = nhip_core::openapi::ValidationFailed),
        (status = 503, response = nhip_core::openapi::Unavailable),
    )
)]
async fn create_reason(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    principal.require_admin()?;
    let body = nhip_core::http::json_object(body)?;
    let mut errors = FieldErrors::default();
    reject_unknown(
        &body,
        &["code", "label", "applies_to", "active"],
        &mut errors,
    );
    let code = required_code(&body, &mut errors);
    let label = label_text(&body, "label", 200, &mut errors);
    if label.is_none() {
        errors.add("label", "Vui lòng nhập nội dung lý do.");
    }
    let applies_to = enumerated(
        &body,
        "applies_to",
        &mut errors,
        AppliesTo::parse,
        AppliesTo::expected(),
    );
    if applies_to.is_none() {
        errors.add(
            "applies_to",
            "Vui lòng chọn: not_yet_using, stopped hoặc both.",
        );
    }
    let active = boolean(&body, "active", &mut errors).unwrap_or(true);
    errors.into_result()?;
    let (Some(code), Some(label), Some(applies_to)) = (code, label, applies_to) else {
        unreachable!("missing fields are field errors");
    };
    let now = deps.clock.now();
    let reason = UsageReason {
        code,
        label,
        applies_to,
        active,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let item = to_item(keys::usage_reason(&reason.code), REASON_KIND, &reason)?;
    create_only(&deps, item, "usage reason").await?;
    Ok((StatusCode::CREATED, Json(reason_view(&reason))).into_response())
}

/// `PATCH /v1/catalogue/usage-reasons/{code}` (admin): `version` plus any of `label`,
/// `applies_to`, `active`. Holdings already carrying a reason keep it.
#[utoipa::path(
    patch,
    path = "/v1/catalogue/usage-reasons/{code}",
    tag = "catalogue",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "The reason's code (a slug; matched case-insensitively).")),
    request_body(content = ReasonPatch, description = "The fields to change and the `version` read; admins only."),
    responses(
        (status = 200, description = "Changed: the reason as it now is.", body = ReasonView),
        (status = 400, response = nhip_core::openapi::BadRequest),
        (status = 401, response = nhip_core::openapi::Unauthenticated),
        (status = 403, response = nhip_core::openapi::Forbidden),
        (status = 404, response = nhip_core::openapi::NotFound),
        (status = 409, response = nhip_core::openapi::Conflict),
        (status = 413, response = nhip_core::openapi::PayloadTooLarge),
        (status = 415, response = nhip_core::openapi::UnsupportedMediaType),
        (status = 422, response = nhip_core::openapi::ValidationFailed),
        (status = 503, response = nhip_core::openapi::Unavailable),
    )
)]
async fn update_reason(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(code): Path<String>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    principal.require_admin()?;
    let body = nhip_core::http::json_object(body)?;
    let version = nhip_core::http::required_version(&body)?;
    let code = normalise_code(&code).ok_or_else(no_reason)?;
    let before = reason(&*deps.store, &code).await?.ok_or_else(no_reason)?;
    if before.version != version {
        return Err(ApiError::stale_version(before.version));
    }
    let mut errors = FieldErrors::default();
    reject_unknown(
        &body,
        &["version", "label", "applies_to", "active", "code"],
        &mut errors,
    );
    if body
        .get("code")
        .is_some_and(|c| c.as_str() != Some(code.as_str()))
    {
        errors.add("code", "Không thể đổi mã lý do.");
    }
    let mut after = before.clone();
    if body.contains_key("label") {
        match label_text(&body, "label", 200, &mut errors) {
            Some(label) => after.label = label,
            None => errors.add("label", "Vui lòng nhập nội dung lý do."),
        }
    }
    if let Some(applies_to) = enumerated(
        &body,
        "applies_to",
        &mut errors,
        AppliesTo::parse,
        AppliesTo::expected(),
    ) {
        after.applies_to = applies_to;
    }
    if let Some(active) = boolean(&body, "active", &mut errors) {
        after.active = active;
    }
    errors.into_result()?;
    after.updated_at = deps.clock.now();
    after.version = before.version + 1;
    let item = to_item(keys::usage_reason(&after.code), REASON_KIND, &after)?;
    deps.store
        .put(item, Condition::version_is(before.version))
        .await?;
    Ok(Json(reason_view(&after)))
}

// ---------------------------------------------------------------------------------------
// Holdings

/// Fields of a holding staff set on creation; all but `product` may change later.
const HOLDING_FIELDS: &[&str] = &[
    "product",
    "status",
    "reference",
    "starts_on",
    "expires_on",
    "amount",
    "usage_status",
    "usage_reason",
    "remaining_invoice_ratio",
    "attributes",
];

fn holding_view(
    holding: &Holding,
    products: &BTreeMap<String, Product>,
    reasons: &Reasons,
) -> Value {
    let mut value = json!(holding);
    value["status_label"] = json!(holding.status.label());
    value["product_kind_label"] = json!(holding.product_kind.label());
    if let Some(product) = products.get(&holding.product) {
        value["product_name"] = json!(product.name);
    }
    if let Some(status) = holding.usage_status {
        value["usage_status_label"] = json!(status.label());
    }
    if let Some(reason) = holding.usage_reason.as_ref().and_then(|r| reasons.get(r)) {
        value["usage_reason_label"] = json!(reason.label);
    }
    value
}

type Reasons = BTreeMap<String, UsageReason>;

fn optional_date(
    body: &Map<String, Value>,
    field: &str,
    errors: &mut FieldErrors,
) -> Option<Option<NaiveDate>> {
    if !body.contains_key(field) {
        return None;
    }
    match text(body, field, errors) {
        None => Some(None),
        Some(raw) => match parse_date(&raw) {
            Some(date) => Some(Some(date)),
            None => {
                errors.add(field, "Ngày cần dạng YYYY-MM-DD hoặc DD/MM/YYYY.");
                None
            }
        },
    }
}

/// Applies the holding fields present in `body` (all but `product`) to `holding`, checking
/// each and then the whole. Absent fields stay; `null` clears an optional one. `attributes`
/// merges: a key set to `null` is removed. The reason is checked against the catalogue when
/// the usage status or the reason changes (a reason deactivated later stays where it is).
fn apply_holding_fields(
    holding: &mut Holding,
    body: &Map<String, Value>,
    product: &Product,
    reasons: &Reasons,
    enforce_transitions: bool,
    errors: &mut FieldErrors,
) {
    let before = holding.clone();
    if let Some(status) = enumerated(
        body,
        "status",
        errors,
        HoldingStatus::parse,
        HoldingStatus::expected(),
    ) {
        if enforce_transitions && !before.status.may_become(status) {
            errors.add(
                "status",
                format!(
                    "Không thể chuyển từ \"{}\" sang \"{}\".",
                    before.status.label(),
                    status.label()
                ),
            );
        }
        holding.status = status;
    } else if body.get("status").is_some_and(Value::is_null) {
        errors.add("status", "Vui lòng chọn trạng thái.");
    }
    if body.contains_key("reference") {
        holding.reference = label_text(body, "reference", 100, errors);
    }
    if let Some(date) = optional_date(body, "starts_on", errors) {
        holding.starts_on = date;
    }
    if let Some(date) = optional_date(body, "expires_on", errors) {
        holding.expires_on = date;
    }
    if let (Some(start), Some(end)) = (holding.starts_on, holding.expires_on)
        && end < start
    {
        errors.add("expires_on", "Ngày hết hạn phải sau ngày bắt đầu.");
    }
    match body.get("amount") {
        None => {}
        Some(Value::Null) => holding.amount = None,
        Some(value) => match value.as_i64() {
            Some(amount) if (0..=MAX_AMOUNT).contains(&amount) => holding.amount = Some(amount),
            _ => errors.add("amount", "Số tiền tính bằng đồng: một số nguyên không âm."),
        },
    }
    match body.get("remaining_invoice_ratio") {
        None => {}
        Some(Value::Null) => holding.remaining_invoice_ratio = None,
        Some(value) => match value.as_f64() {
            Some(ratio) if (0.0..=1.0).contains(&ratio) => {
                holding.remaining_invoice_ratio = Some(ratio);
            }
            _ => errors.add(
                "remaining_invoice_ratio",
                "Tỷ lệ hoá đơn còn lại là một số từ 0 đến 1.",
            ),
        },
    }
    let usage_given = body.contains_key("usage_status");
    let reason_given = body.contains_key("usage_reason");
    if usage_given {
        holding.usage_status = match body.get("usage_status") {
            Some(Value::Null) => None,
            _ => match text(body, "usage_status", errors).map(|raw| raw.parse::<UsageStatus>()) {
                Some(Ok(status)) => Some(status),
                Some(Err(e)) => {
                    errors.add("usage_status", e.to_string());
                    before.usage_status
                }
                None => None,
            },
        };
    }
    if reason_given {
        holding.usage_reason = match body.get("usage_reason") {
            Some(Value::Null) => None,
            _ => match text(body, "usage_reason", errors) {
                None => None,
                Some(raw) => match normalise_code(&raw) {
                    Some(code) => Some(code),
                    None => {
                        errors.add("usage_reason", "Mã lý do không hợp lệ.");
                        None
                    }
                },
            },
        };
    } else if usage_given && holding.usage_status != before.usage_status {
        // The old reason explained the old status: keep it only if it explains the new one.
        let still_applies = holding.usage_status.is_some_and(|s| {
            holding
                .usage_reason
                .as_ref()
                .and_then(|r| reasons.get(r))
                .is_some_and(|r| r.applies_to.covers(s))
        });
        if !still_applies {
            holding.usage_reason = None;
        }
    }
    if reason_given && let Some(code) = &holding.usage_reason {
        match (holding.usage_status, reasons.get(code)) {
            (None | Some(UsageStatus::Using), _) => errors.add(
                "usage_reason",
                "Chỉ ghi lý do khi trạng thái sử dụng là \"Chưa sử dụng\" hoặc \"Ngưng sử dụng\".",
            ),
            (_, None) => errors.add("usage_reason", "Không có lý do này trong danh mục."),
            (_, Some(reason)) if !reason.active => {
                errors.add("usage_reason", "Lý do này đã ngưng áp dụng.");
            }
            (Some(status), Some(reason)) if !reason.applies_to.covers(status) => errors.add(
                "usage_reason",
                format!(
                    "Lý do này không áp dụng cho trạng thái \"{}\".",
                    status.label()
                ),
            ),
            _ => {}
        }
    }
    match body.get("attributes") {
        None => {}
        Some(Value::Null) => holding.attributes = Map::new(),
        Some(Value::Object(changes)) => {
            for (name, value) in changes {
                let field = format!("attributes.{name}");
                if !valid_attribute_name(name) {
                    errors.add(
                        &field,
                        "Tên thuộc tính: 1–64 ký tự chữ không dấu, số, _ hoặc -.",
                    );
                    continue;
                }
                match value {
                    Value::Null => {
                        holding.attributes.remove(name);
                    }
                    Value::String(s) if s.chars().count() <= 500 => {
                        holding
                            .attributes
                            .insert(name.clone(), Value::String(nfc(s.trim())));
                    }
                    Value::Bool(_) | Value::Number(_) => {
                        holding.attributes.insert(name.clone(), value.clone());
                    }
                    _ => errors.add(
                        &field,
                        "Giá trị là chữ (tối đa 500 ký tự), số hoặc true/false.",
                    ),
                }
            }
            if holding.attributes.len() > MAX_ATTRIBUTES {
                errors.add("attributes", format!("Tối đa {MAX_ATTRIBUTES} thuộc tính."));
            }
        }
        Some(_) => errors.add("attributes", "Cần một đối tượng JSON."),
    }
    check_attributes(holding, product, errors);
}

/// Kind-specific rules and the product's hints on the holding's attributes.
fn check_attributes(holding: &Holding, product: &Product, errors: &mut FieldErrors) {
    let four_digits = |v: &Value| {
        v.as_str()
            .is_some_and(|s| s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit()))
    };
    if holding.product_kind == ProductKind::Card
        && let Some(last4) = holding.attributes.get("last4")
        && !four_digits(last4)
    {
        errors.add(
            "attributes.last4",
            "Cần đúng 4 chữ số cuối của thẻ, dạng chuỗi.",
        );
    }
    for (name, hint) in &product.attribute_schema {
        let field = format!("attributes.{name}");
        let Some(value) = holding.attributes.get(name) else {
            if hint.required {
                errors.add(&field, "Thuộc tính bắt buộc của sản phẩm này.");
            }
            continue;
        };
        let fits = match hint.value_type {
            HintType::Text => value.is_string(),
            HintType::Number => value.is_number(),
            HintType::Integer => value.is_i64() || value.is_u64(),
            HintType::Date => value.as_str().and_then(parse_date).is_some(),
            HintType::Boolean => value.is_boolean(),
            HintType::Last4 => four_digits(value),
        };
        if !fits {
            errors.add(
                &field,
                format!("Cần giá trị kiểu \"{}\".", hint.value_type.label()),
            );
        }
    }
}

/// The lifecycle a customer moves to once their holdings are `holdings`: an `active` holding
/// makes a lead (or a former customer who signs again) a customer; a customer whose holdings
/// are all settled or cancelled, at least one settled, becomes `former`.
pub fn lifecycle_after(current: Lifecycle, holdings: &[HoldingSummary]) -> Lifecycle {
    let is = |h: &HoldingSummary, s: HoldingStatus| h.status == s.as_str();
    let any_active = holdings.iter().any(|h| is(h, HoldingStatus::Active));
    let all_closed = holdings
        .iter()
        .all(|h| is(h, HoldingStatus::Settled) || is(h, HoldingStatus::Cancelled));
    let any_settled = holdings.iter().any(|h| is(h, HoldingStatus::Settled));
    match current {
        Lifecycle::New | Lifecycle::Consulting | Lifecycle::Former if any_active => {
            Lifecycle::Customer
        }
        Lifecycle::Customer if all_closed && any_settled => Lifecycle::Former,
        other => other,
    }
}

/// The profile after a holding changed: its summary replaced (or added), the lifecycle moved.
fn profile_with(before: &Customer, holding: &Holding, now: DateTime<Utc>) -> Customer {
    let mut after = before.clone();
    let summary = holding.summary();
    match after.holdings.iter_mut().find(|h| h.id == holding.id) {
        Some(existing) => *existing = summary,
        None => after.holdings.push(summary),
    }
    after.lifecycle = lifecycle_after(before.lifecycle, &after.holdings);
    after.updated_at = now;
    after.last_activity_at = Some(before.last_activity_at.map_or(now, |last| last.max(now)));
    after
}

/// The writes that go with a holding change: the holding (create-only, or conditional on the
/// version read), its timeline entry, a lifecycle entry when the lifecycle moved, and checks
/// that the product and a newly chosen reason are still active when the transaction commits.
#[allow(clippy::too_many_arguments)]
fn holding_writes(
    before_customer: &Customer,
    after_customer: &Customer,
    holding: &Holding,
    previous_version: Option<u64>,
    event_type: &str,
    data: Value,
    principal: &Principal,
    check_reason: bool,
    now: DateTime<Utc>,
) -> Result<(Vec<WriteOp>, Vec<timeline::Entry>), StoreError> {
    let key = keys::holding(holding.customer_id, &holding.id);
    let mut ops = vec![WriteOp::Put {
        item: to_item(key, HOLDING_KIND, holding)?,
        condition: match previous_version {
            None => Condition::NotExists,
            Some(version) => Condition::version_is(version),
        },
    }];
    let cause = format!("holding#{}#v{}", holding.id, holding.version);
    let entry = |event_type: &str, cause: String, data: Value| timeline::Entry {
        customer: holding.customer_id,
        at: now,
        cause,
        event_type: event_type.to_owned(),
        source: "staff_api".into(),
        actor: Some(principal.user.clone()),
        data,
    };
    let mut entries = vec![entry(event_type, cause.clone(), data)];
    if after_customer.lifecycle != before_customer.lifecycle {
        entries.push(entry(
            "customer.lifecycle_changed",
            format!("{cause}#lifecycle"),
            json!({
                "from": before_customer.lifecycle,
                "to": after_customer.lifecycle,
                "to_label": after_customer.lifecycle.label(),
                "holding_id": holding.id,
            }),
        ));
    }
    ops.extend(entries.iter().map(|e| e.write(now)));
    if previous_version.is_none() {
        ops.push(WriteOp::Check {
            key: keys::catalogue_product(&holding.product),
            condition: Condition::Equals("active".into(), Value::Bool(true)),
        });
    }
    if check_reason && let Some(reason) = &holding.usage_reason {
        ops.push(WriteOp::Check {
            key: keys::usage_reason(reason),
            condition: Condition::Equals("active".into(), Value::Bool(true)),
        });
    }
    Ok((ops, entries))
}

/// What the timeline records of a holding: never its attributes (they may hold card data).
fn timeline_data(holding: &Holding, changed: Option<Vec<&String>>) -> Value {
    let mut data = json!({
        "holding_id": holding.id,
        "product": holding.product,
        "status": holding.status,
        "usage_status": holding.usage_status,
        "usage_reason": holding.usage_reason,
        "expires_on": holding.expires_on,
    });
    if let Some(changed) = changed {
        data["fields"] = json!(changed);
    }
    data
}

fn customer_brief(customer: &Customer) -> Value {
    json!({
        "id": customer.id,
        "lifecycle": customer.lifecycle,
        "lifecycle_label": customer.lifecycle.label(),
        "holdings": customer.holdings,
        "version": customer.version,
    })
}

fn no_holding() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "No such holding.")
}

/// The customer, visible to the caller and not erased.
async fn load_customer(deps: &Deps, principal: &Principal, id: &str) -> Result<Customer, ApiError> {
    let customer = load_visible(deps, principal, id).await?;
    if customer.erased_at.is_some() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "No such customer.",
        ));
    }
    Ok(customer)
}

/// `GET /v1/customers/{id}/holdings`: the customer's holdings, oldest first, with labels.
/// Audited: holdings may carry card and investment data.
#[utoipa::path(
    get,
    path = "/v1/customers/{id}/holdings",
    tag = "holdings",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The customer's id (a ULID).")),
    responses(
        (status = 200, description = "The customer's holdings, oldest first, with labels; the read is audited.", body = HoldingList),
        (status = 400, response = nhip_core::openapi::BadRequest),
        (status = 401, response = nhip_core::openapi::Unauthenticated),
        (status = 403, response = nhip_core::openapi::Forbidden),
        (status = 404, response = nhip_core::openapi::NotFound),
        (status = 409, response = nhip_core::openapi::Conflict),
        (status = 503, response = nhip_core::openapi::Unavailable),
    )
)]
async fn list_holdings(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let customer = load_customer(&deps, &principal, &id).await?;
    let holdings = holdings_of(&*deps.store, customer.id).await?;
    let (products, reasons) = (products(&*deps.store).await?, reasons(&*deps.store).await?);
    audit(&deps, &principal, customer.id, "holdings.read", json!({})).await?;
    let items: Vec<Value> = holdings
        .iter()
        .map(|h| holding_view(h, &products, &reasons))
        .collect();
    Ok(Json(json!({ "items": items })))
}

/// `GET /v1/customers/{id}/holdings/{holding_id}`: one holding. Audited.
#[utoipa::path(
    get,
    path = "/v1/customers/{id}/holdings/{holding_id}",
    tag = "holdings",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The customer's id (a ULID)."), ("holding_id" = String, Path, description = "The holding's id (a ULID).")),
    responses(
        (status = 200, description = "The holding, with labels; the read is audited.", body = HoldingView),
        (status = 400, response = nhip_core::openapi::BadRequest),
        (status = 401, response = nhip_core::openapi::Unauthenticated),
        (status = 403, response = nhip_core::openapi::Forbidden),
        (status = 404, response = nhip_core::openapi::NotFound),
        (status = 409, response = nhip_core::openapi::Conflict),
        (status = 503, response = nhip_core::openapi::Unavailable),
    )
)]
async fn get_holding(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path((id, holding_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let customer = load_customer(&deps, &principal, &id).await?;
    let holding_id = parse_holding_id(&holding_id)?;
    let holding = holding(&*deps.store, customer.id, &holding_id)
        .await?
        .ok_or_else(no_holding)?;
    let (products, reasons) = (products(&*deps.store).await?, reasons(&*deps.store).await?);
    audit(
        &deps,
        &principal,
        customer.id,
        "holding.read",
        json!({"holding_id": holding.id}),
    )
    .await?;
    Ok(Json(holding_view(&holding, &products, &reasons)))
}

fn parse_holding_id(raw: &str) -> Result<String, ApiError> {
    raw.parse::<Ulid>()
        .map(|id| id.to_string())
        .map_err(|_| no_holding())
}

/// `POST /v1/customers/{id}/holdings`: `product` (an active catalogue code) and `status`
/// required; `reference`, `starts_on`, `expires_on`, `amount` (đồng), `usage_status`,
/// `usage_reason` (an active reason for that status), `remaining_invoice_ratio` (0–1),
/// `attributes` optional. 201 with the holding and the customer's new summary and lifecycle.
#[utoipa::path(
    post,
    path = "/v1/customers/{id}/holdings",
    tag = "holdings",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The customer's id (a ULID).")),
    request_body(content = HoldingInput, description = "The product held and its contract; `product` and `status` are required."),
    responses(
        (status = 201, description = "Added: the holding, and the customer's new holdings summary and lifecycle.", body = HoldingChange),
        (status = 400, response = nhip_core::openapi::BadRequest),
        (status = 401, response = nhip_core::openapi::Unauthenticated),
        (status = 403, response = nhip_core::openapi::Forbidden),
        (status = 404, response = nhip_core::openapi::NotFound),
        (status = 409, response = nhip_core::openapi::Conflict),
        (status = 413, response = nhip_core::openapi::PayloadTooLarge),
        (status = 415, response = nhip_core::openapi::UnsupportedMediaType),
        (status = 422, description = "Well-formed but invalid (`validation_failed`, with `fields`), or it holds what looks like a full card number (`card_number_not_allowed`): only the last four digits may be kept.", body = nhip_core::openapi::ErrorBody),
        (status = 503, response = nhip_core::openapi::Unavailable),
    )
)]
async fn add_holding(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    let body = nhip_core::http::json_object(body)?;
    if let Some(field) = card_number_field(&body) {
        return Err(card_number_rejected(&field));
    }
    let now = deps.clock.now();
    let holding_id = Ulid::from_datetime(now.into()).to_string();
    for _ in 0..ATTEMPTS {
        let before = load_customer(&deps, &principal, &id).await?;
        let mut errors = FieldErrors::default();
        reject_unknown(&body, HOLDING_FIELDS, &mut errors);
        if !body.contains_key("status") {
            errors.add("status", "Vui lòng chọn trạng thái.");
        }
        let product = match text(&body, "product", &mut errors).map(|raw| normalise_code(&raw)) {
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
            return Err(errors
                .into_result()
                .expect_err("a missing product is a field error"));
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
        errors.into_result()?;
        if holding.status == HoldingStatus::Settled {
            holding.settled_on = Some(nhip_domain::time::vn_date(now));
        }
        let mut after = profile_with(&before, &holding, now);
        let (ops, entries) = holding_writes(
            &before,
            &after,
            &holding,
            None,
            "holding.added",
            timeline_data(&holding, None),
            &principal,
            true,
            now,
        )?;
        match repo::save(&*deps.store, &before, &mut after, ops).await {
            Ok(()) => {
                timeline::publish(&deps, &entries).await;
                let view = holding_view(
                    &holding,
                    &BTreeMap::from([(product.code.clone(), product)]),
                    &reasons,
                );
                return Ok((
                    StatusCode::CREATED,
                    Json(json!({"holding": view, "customer": customer_brief(&after)})),
                )
                    .into_response());
            }
            Err(SaveError::Conflict) => continue,
            Err(other) => return Err(other.into()),
        }
    }
    Err(SaveError::Conflict.into())
}

/// `PATCH /v1/customers/{id}/holdings/{holding_id}`: the holding's `version` plus any field
/// but `product` — renewing (a later `expires_on`), settling (`status: settled`), recording
/// why it is not used ("Bổ sung lý do chưa/ngưng sử dụng"). 409 when the version is stale.
#[utoipa::path(
    patch,
    path = "/v1/customers/{id}/holdings/{holding_id}",
    tag = "holdings",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The customer's id (a ULID)."), ("holding_id" = String, Path, description = "The holding's id (a ULID).")),
    request_body(content = HoldingPatch, description = "The fields to change and the holding's `version` read."),
    responses(
        (status = 200, description = "Changed: the holding, and the customer's new holdings summary and lifecycle.", body = HoldingChange),
        (status = 400, response = nhip_core::openapi::BadRequest),
        (status = 401, response = nhip_core::openapi::Unauthenticated),
        (status = 403, response = nhip_core::openapi::Forbidden),
        (status = 404, response = nhip_core::openapi::NotFound),
        (status = 409, response = nhip_core::openapi::Conflict),
        (status = 413, response = nhip_core::openapi::PayloadTooLarge),
        (status = 415, response = nhip_core::openapi::UnsupportedMediaType),
        (status = 422, description = "Well-formed but invalid (`validation_failed`, with `fields`), or it holds what looks like a full card number (`card_number_not_allowed`): only the last four digits may be kept.", body = nhip_core::openapi::ErrorBody),
        (status = 503, response = nhip_core::openapi::Unavailable),
    )
)]
async fn update_holding(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path((id, holding_id)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    let body = nhip_core::http::json_object(body)?;
    let version = nhip_core::http::required_version(&body)?;
    if let Some(field) = card_number_field(&body) {
        return Err(card_number_rejected(&field));
    }
    let holding_id = parse_holding_id(&holding_id)?;
    let now = deps.clock.now();
    for _ in 0..ATTEMPTS {
        let before = load_customer(&deps, &principal, &id).await?;
        let current = holding(&*deps.store, before.id, &holding_id)
            .await?
            .ok_or_else(no_holding)?;
        if current.version != version {
            return Err(ApiError::stale_version(current.version));
        }
        let mut errors = FieldErrors::default();
        let mut allowed = HOLDING_FIELDS.to_vec();
        allowed.push("version");
        reject_unknown(&body, &allowed, &mut errors);
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
            &body,
            &product,
            &reasons,
            !principal.is_admin(),
            &mut errors,
        );
        errors.into_result()?;
        if holding.status != current.status {
            holding.settled_on =
                (holding.status == HoldingStatus::Settled).then(|| nhip_domain::time::vn_date(now));
        }
        holding.version = current.version + 1;
        holding.updated_at = now;
        holding.updated_by = principal.user.clone();
        let changed: Vec<&String> = body.keys().filter(|k| *k != "version").collect();
        let mut after = profile_with(&before, &holding, now);
        let reason_changed = holding.usage_reason != current.usage_reason;
        let (ops, entries) = holding_writes(
            &before,
            &after,
            &holding,
            Some(current.version),
            "holding.updated",
            timeline_data(&holding, Some(changed)),
            &principal,
            reason_changed,
            now,
        )?;
        match repo::save(&*deps.store, &before, &mut after, ops).await {
            Ok(()) => {
                timeline::publish(&deps, &entries).await;
                return Ok(Json(json!({
                    "holding": holding_view(&holding, &products, &reasons),
                    "customer": customer_brief(&after),
                })));
            }
            Err(SaveError::Conflict) => continue,
            Err(other) => return Err(other.into()),
        }
    }
    Err(SaveError::Conflict.into())
}

// ---------------------------------------------------------------------------------------
// Usage

/// How a set of holdings is used. Cancelled holdings count nowhere.
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
    for holding in holdings
        .iter()
        .filter(|h| h.status != HoldingStatus::Cancelled.as_str())
    {
        let kind = products
            .get(&holding.product)
            .map_or(ProductKind::Other, |p| p.kind);
        total.count(holding);
        by_kind.entry(kind).or_default().count(holding);
    }
    (total, by_kind)
}

fn usage_view(customer: &Customer, products: &BTreeMap<String, Product>) -> Value {
    let (total, by_kind) = usage(&customer.holdings, products);
    let kinds: Vec<Value> = by_kind
        .iter()
        .map(|(kind, usage)| {
            let mut row = json!(usage);
            row["kind"] = json!(kind);
            row["kind_label"] = json!(kind.label());
            row
        })
        .collect();
    let mut value = json!(total);
    value["customer_id"] = json!(customer.id);
    value["full_name"] = json!(customer.full_name);
    value["owner"] = json!(customer.owner);
    value["lifecycle"] = json!(customer.lifecycle);
    value["by_kind"] = json!(kinds);
    value
}

/// `GET /v1/customers/{id}/usage`: the customer's product usage (bought, using, pending,
/// stopped, usage rate), overall and per product kind. Read from the profile's summary.
#[utoipa::path(
    get,
    path = "/v1/customers/{id}/usage",
    tag = "holdings",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The customer's id (a ULID).")),
    responses(
        (status = 200, description = "The customer's product usage, overall and per product kind.", body = CustomerUsage),
        (status = 400, response = nhip_core::openapi::BadRequest),
        (status = 401, response = nhip_core::openapi::Unauthenticated),
        (status = 403, response = nhip_core::openapi::Forbidden),
        (status = 404, response = nhip_core::openapi::NotFound),
        (status = 503, response = nhip_core::openapi::Unavailable),
    )
)]
async fn customer_usage(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let customer = load_customer(&deps, &principal, &id).await?;
    let products = products(&*deps.store).await?;
    Ok(Json(usage_view(&customer, &products)))
}

/// `GET /v1/reports/product-usage`: one row per customer of the caller's list (same scope,
/// filters and paging as `GET /v1/customers`) with their product usage ("Báo cáo sử dụng sản
/// phẩm của khách hàng").
#[utoipa::path(
    get,
    path = "/v1/reports/product-usage",
    tag = "holdings",
    security(("bearer" = [])),
    params(Filters),
    responses(
        (status = 200, description = "One page of the customers in the caller's scope passing the filters, each with their product usage.", body = UsageReport),
        (status = 400, response = nhip_core::openapi::BadRequest),
        (status = 401, response = nhip_core::openapi::Unauthenticated),
        (status = 403, response = nhip_core::openapi::Forbidden),
        (status = 503, response = nhip_core::openapi::Unavailable),
    )
)]
async fn product_usage_report(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    nhip_core::http::ListQuery(filters): nhip_core::http::ListQuery<Filters>,
) -> Result<Json<Value>, ApiError> {
    let listing = list::list(&*deps.store, &principal, &filters)
        .await
        .map_err(|error| match error {
            ListError::Invalid { field, message } => invalid_filter(field, message),
            ListError::Store(e) => e.into(),
        })?;
    let products = products(&*deps.store).await?;
    let items: Vec<Value> = listing
        .customers
        .iter()
        .map(|c| usage_view(c, &products))
        .collect();
    Ok(Json(
        json!({"items": items, "next_cursor": listing.next_cursor}),
    ))
}

// ---------------------------------------------------------------------------------------
// Schemas of the bodies above, for the OpenAPI document. The routes build their answers with
// `product_view`, `reason_view`, `holding_view`, `customer_brief` and `usage_view`, and read
// their bodies as JSON objects checked field by field; these structs document those shapes.

/// A product as staff see it: [`Product`] with its kind's Vietnamese label.
#[derive(utoipa::ToSchema)]
pub struct ProductView {
    /// Slug, unique: lower-case letters, digits and hyphens.
    #[schema(example = "bcc-12-thang")]
    pub code: String,
    /// Name, in Vietnamese.
    pub name: String,
    /// What sort of product; fixed once created.
    pub kind: ProductKind,
    /// The kind in Vietnamese.
    pub kind_label: String,
    /// Whether new holdings may be added.
    pub active: bool,
    /// A longer description.
    pub description: Option<String>,
    /// Hints on the kind-specific attributes of its holdings, by attribute name.
    pub attribute_schema: BTreeMap<String, AttributeHintView>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// Optimistic-concurrency version: send it back with a change.
    pub version: u64,
}

/// The attribute hints of a product as requests give them: at most 30, by name (1–64 of
/// `A-Z`, `a-z`, `0-9`, `_`, `-`), the names stated as the schema's `propertyNames`.
fn attribute_hints_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(
            "Hints on the kind-specific attributes of its holdings, by attribute name.",
        ))
        .max_properties(Some(30))
        .property_names(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^[A-Za-z0-9_-]{1,64}$")),
        ))
        .additional_properties(Some(AdditionalProperties::RefOr(
            utoipa::openapi::Ref::from_schema_name("AttributeHintView").into(),
        )))
        .build()
}

/// A hint about one kind-specific attribute of a product's holdings ([`AttributeHint`]).
#[derive(Deserialize, utoipa::ToSchema)]
pub struct AttributeHintView {
    /// What the form shows, at most 100 characters.
    #[schema(max_length = 100)]
    pub label: Option<String>,
    /// The value's type; a holding's value must have it.
    #[serde(rename = "type")]
    pub value_type: HintType,
    /// Whether every holding of the product must carry it (default `false`).
    #[serde(default)]
    pub required: bool,
}

/// The product catalogue.
#[derive(utoipa::ToSchema)]
pub struct ProductList {
    /// By code.
    pub items: Vec<ProductView>,
}

/// A new product. Fields not listed are refused.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductInput {
    /// Slug, unique: 2–64 lower-case letters, digits and inner hyphens.
    #[schema(
        example = "bcc-12-thang",
        pattern = "^[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]$",
        min_length = 2,
        max_length = 64
    )]
    pub code: String,
    /// Name, in Vietnamese, at most 200 characters.
    #[schema(
        example = "Hợp đồng BCC 12 tháng",
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub name: String,
    /// What sort of product; fixed once created.
    pub kind: ProductKind,
    /// Whether new holdings may be added (default `true`).
    #[schema(nullable = false)]
    pub active: Option<bool>,
    /// A longer description, at most 2,000 characters.
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    /// Hints on the kind-specific attributes of its holdings (at most 30), by attribute name
    /// (1–64 of `A-Z`, `a-z`, `0-9`, `_`, `-`).
    #[schema(schema_with = attribute_hints_schema)]
    pub attribute_schema: Option<BTreeMap<String, AttributeHintView>>,
}

/// A change to a product: the version read and the fields to change. The code and the kind
/// are fixed (sending them unchanged is accepted); fields not listed are refused.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductPatch {
    /// The version read; a different stored version answers 409.
    pub version: u64,
    /// Name, in Vietnamese, at most 200 characters.
    #[schema(
        nullable = false,
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub name: Option<String>,
    /// Whether new holdings may be added.
    #[schema(nullable = false)]
    pub active: Option<bool>,
    /// A longer description, at most 2,000 characters; `null` clears it.
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    /// Replaces the attribute hints; `null` clears them.
    #[schema(schema_with = attribute_hints_schema)]
    pub attribute_schema: Option<BTreeMap<String, AttributeHintView>>,
}

/// A usage reason as staff see it: [`UsageReason`] with its scope's Vietnamese label.
#[derive(utoipa::ToSchema)]
pub struct ReasonView {
    /// Slug, unique.
    #[schema(example = "chua-co-nhu-cau")]
    pub code: String,
    /// What staff see and choose from, in Vietnamese.
    pub label: String,
    /// Which usage statuses it explains.
    pub applies_to: AppliesTo,
    /// The scope in Vietnamese.
    pub applies_to_label: String,
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
#[derive(utoipa::ToSchema)]
pub struct ReasonList {
    /// By code.
    pub items: Vec<ReasonView>,
}

/// A new usage reason. Fields not listed are refused.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonInput {
    /// Slug, unique: 2–64 lower-case letters, digits and inner hyphens.
    #[schema(
        example = "chua-co-nhu-cau",
        pattern = "^[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]$",
        min_length = 2,
        max_length = 64
    )]
    pub code: String,
    /// What staff see, in Vietnamese, at most 200 characters.
    #[schema(
        example = "Chưa có nhu cầu",
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub label: String,
    /// Which usage statuses it explains.
    pub applies_to: AppliesTo,
    /// Whether it may be chosen (default `true`).
    #[schema(nullable = false)]
    pub active: Option<bool>,
}

/// A change to a usage reason: the version read and the fields to change. The code is fixed
/// (sending it unchanged is accepted); fields not listed are refused. Holdings already
/// carrying the reason keep it.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonPatch {
    /// The version read; a different stored version answers 409.
    pub version: u64,
    /// What staff see, in Vietnamese, at most 200 characters.
    #[schema(
        nullable = false,
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub label: Option<String>,
    /// Which usage statuses it explains.
    pub applies_to: Option<AppliesTo>,
    /// Whether it may be chosen.
    #[schema(nullable = false)]
    pub active: Option<bool>,
}

/// A holding as staff see it: [`Holding`] with Vietnamese labels.
#[derive(utoipa::ToSchema)]
pub struct HoldingView {
    /// Time-ordered id (a ULID).
    pub id: String,
    /// Whose: the customer's id.
    pub customer_id: String,
    /// Product code from the catalogue.
    pub product: String,
    /// The product's name; absent once the product left the catalogue.
    pub product_name: Option<String>,
    /// The product's kind.
    pub product_kind: ProductKind,
    /// The kind in Vietnamese.
    pub product_kind_label: String,
    /// Contract or subscription status.
    pub status: HoldingStatus,
    /// The status in Vietnamese.
    pub status_label: String,
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
    pub usage_status_label: Option<String>,
    /// Why it is not (yet) used: a reason code.
    pub usage_reason: Option<String>,
    /// The reason in Vietnamese; absent without one or once the reason left the list.
    pub usage_reason_label: Option<String>,
    /// Share of invoices left, 0–1 (software subscriptions).
    pub remaining_invoice_ratio: Option<f64>,
    /// Kind-specific data (card: `last4` only; investment: rate, term, …).
    #[schema(value_type = Object)]
    pub attributes: Map<String, Value>,
    /// The Vietnamese date it became settled.
    pub settled_on: Option<NaiveDate>,
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
#[derive(utoipa::ToSchema)]
pub struct HoldingList {
    /// Oldest first.
    pub items: Vec<HoldingView>,
}

/// The customer after a holding changed: what the list filters and the lifecycle see.
#[derive(utoipa::ToSchema)]
pub struct CustomerBrief {
    /// The customer's id.
    pub id: String,
    /// Where they now are in the relationship.
    #[schema(value_type = nhip_core::openapi::LifecycleSchema)]
    pub lifecycle: String,
    /// The lifecycle in Vietnamese.
    pub lifecycle_label: String,
    /// Products held, summarised.
    pub holdings: Vec<crate::customers::routes::HoldingSummaryView>,
    /// The customer's new version.
    pub version: u64,
}

/// The answer to adding or changing a holding.
#[derive(utoipa::ToSchema)]
pub struct HoldingChange {
    /// The holding as it now is.
    pub holding: HoldingView,
    /// The customer's new holdings summary and lifecycle.
    pub customer: CustomerBrief,
}

/// A new holding. Fields not listed are refused; `null` leaves an optional one empty.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldingInput {
    /// An active product's code.
    #[schema(example = "bcc-12-thang")]
    pub product: String,
    /// Contract or subscription status; a new holding may start in any.
    pub status: HoldingStatus,
    /// Contract or subscription number, at most 100 characters; never a full card number.
    #[schema(max_length = 100)]
    pub reference: Option<String>,
    /// First day in force, `YYYY-MM-DD` or `DD/MM/YYYY`.
    #[schema(example = "2026-01-15")]
    pub starts_on: Option<String>,
    /// Last day in force, `YYYY-MM-DD` or `DD/MM/YYYY`, not before `starts_on`.
    #[schema(example = "2027-01-15")]
    pub expires_on: Option<String>,
    /// Amount in đồng, a whole number from 0 to 2^53 − 1.
    #[schema(minimum = 0, maximum = 9007199254740991_i64)]
    pub amount: Option<i64>,
    /// Whether it is used.
    #[schema(value_type = Option<nhip_core::openapi::UsageStatusSchema>)]
    pub usage_status: Option<UsageStatus>,
    /// Why it is not (yet) used: an active reason for that usage status.
    pub usage_reason: Option<String>,
    /// Share of invoices left, 0–1 (software subscriptions).
    #[schema(minimum = 0, maximum = 1)]
    pub remaining_invoice_ratio: Option<f64>,
    /// Kind-specific data, at most 30 entries: text (at most 500 characters), numbers or
    /// booleans; a card keeps only `last4`. Checked against the product's hints.
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<Map<String, Value>>,
}

/// A change to a holding: its version read and the fields to change (any but `product`).
/// `null` clears an optional field; `attributes` merges, a key set to `null` is removed.
/// Staff follow the contract's course (`pending` → `active` or `cancelled`, `active` →
/// `settled` or `cancelled`); admins may correct any status.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldingPatch {
    /// The holding's version read; a different stored version answers 409.
    pub version: u64,
    /// Contract or subscription status.
    #[schema(nullable = false)]
    pub status: Option<HoldingStatus>,
    /// Contract or subscription number, at most 100 characters; never a full card number.
    #[schema(max_length = 100)]
    pub reference: Option<String>,
    /// First day in force, `YYYY-MM-DD` or `DD/MM/YYYY`.
    pub starts_on: Option<String>,
    /// Last day in force, `YYYY-MM-DD` or `DD/MM/YYYY`: a later one renews.
    pub expires_on: Option<String>,
    /// Amount in đồng, a whole number from 0 to 2^53 − 1.
    #[schema(minimum = 0, maximum = 9007199254740991_i64)]
    pub amount: Option<i64>,
    /// Whether it is used.
    #[schema(value_type = Option<nhip_core::openapi::UsageStatusSchema>)]
    pub usage_status: Option<UsageStatus>,
    /// Why it is not (yet) used: an active reason for that usage status.
    pub usage_reason: Option<String>,
    /// Share of invoices left, 0–1.
    #[schema(minimum = 0, maximum = 1)]
    pub remaining_invoice_ratio: Option<f64>,
    /// Attribute changes, merged into the holding's; a key set to `null` is removed.
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<Map<String, Value>>,
}

/// How a set of holdings is used ([`Usage`]). Cancelled holdings count nowhere.
#[derive(utoipa::ToSchema)]
pub struct KindUsage {
    /// The product kind.
    pub kind: ProductKind,
    /// The kind in Vietnamese.
    pub kind_label: String,
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
#[derive(utoipa::ToSchema)]
pub struct CustomerUsage {
    /// The customer's id.
    pub customer_id: String,
    /// Full name.
    pub full_name: String,
    /// The responsible consultant or agent.
    pub owner: Option<String>,
    /// Where they are in the relationship.
    #[schema(value_type = nhip_core::openapi::LifecycleSchema)]
    pub lifecycle: String,
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
#[derive(utoipa::ToSchema)]
pub struct UsageReport {
    /// One row per customer, in the customer list's order.
    pub items: Vec<CustomerUsage>,
    /// Pass as `cursor` for the next page; absent or null on the last.
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_card_numbers_are_recognised_and_last_digits_are_not() {
        for pan in [
            "4111111111111111",
            "4111 1111 1111 1111",
            "4111-1111-1111-1111",
            "thẻ 5500 0000 0000 0004 của khách",
            "378282246310005",
        ] {
            assert!(looks_like_card_number(pan), "{pan}");
        }
        for other in [
            "1111",
            "4111111111111112",
            "0912345678",
            "HĐ-2026-000123",
            "4111  1111 1111 1111",
        ] {
            assert!(!looks_like_card_number(other), "{other}");
        }
    }

    fn summary(status: &str) -> HoldingSummary {
        HoldingSummary {
            id: Ulid::new().to_string(),
            product: "bcc".into(),
            status: status.into(),
            expires_on: None,
            usage_status: None,
            usage_reason: None,
            remaining_invoice_ratio: None,
        }
    }

    #[test]
    fn lifecycle_follows_holdings() {
        use Lifecycle::*;
        assert_eq!(lifecycle_after(New, &[summary("pending")]), New);
        assert_eq!(lifecycle_after(Consulting, &[summary("active")]), Customer);
        assert_eq!(
            lifecycle_after(Customer, &[summary("settled"), summary("cancelled")]),
            Former
        );
        assert_eq!(
            lifecycle_after(Customer, &[summary("settled"), summary("active")]),
            Customer
        );
        assert_eq!(lifecycle_after(Customer, &[summary("cancelled")]), Customer);
        assert_eq!(
            lifecycle_after(Former, &[summary("settled"), summary("active")]),
            Customer
        );
    }

    #[test]
    fn reasons_cover_their_statuses() {
        assert!(AppliesTo::Both.covers(UsageStatus::Stopped));
        assert!(!AppliesTo::Both.covers(UsageStatus::Using));
        assert!(!AppliesTo::Stopped.covers(UsageStatus::NotYetUsing));
        assert!(HoldingStatus::Pending.may_become(HoldingStatus::Active));
        assert!(!HoldingStatus::Settled.may_become(HoldingStatus::Active));
    }
}
