//! Schemas of the holding and catalogue request bodies, for the OpenAPI document. The routes
//! read their bodies as JSON objects checked field by field (a patch tells an absent field
//! from a `null` one, and every problem is reported at once, by field); these structs document
//! those shapes. The answers are real types, in [`views`](super::views).

use std::collections::BTreeMap;

use nhip_domain::customer::UsageStatus;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::model::*;

/// The attribute hints of a product as requests give them: at most 30, by name (1–64 of
/// `A-Z`, `a-z`, `0-9`, `_`, `-`), the names stated as the schema's `propertyNames`.
pub(super) fn attribute_hints_schema() -> utoipa::openapi::schema::Object {
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
