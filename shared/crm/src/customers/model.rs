//! The customer record as stored: one profile item per customer (`CUS#<id>` / `PROFILE`)
//! carrying its list-index keys, so the organisation, owner and team lists are index queries.

use chrono::{DateTime, NaiveDate, Utc};
use nhip_domain::customer::{
    Attribution, Classification, Consents, Lifecycle, Source, UsageStatus,
};
use nhip_domain::identifiers::{Cccd, Cmnd, Email, Phone, TaxCode};
use nhip_domain::ids::CustomerId;
use nhip_domain::person::{Gender, fold};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use nhip_core::keys;
use nhip_ports::store::{Index, Item, StoreError};

/// Kind attribute of customer profile items.
pub const KIND: &str = "customer";

/// A customer (a lead is a customer not yet converted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    /// Time-ordered id.
    pub id: CustomerId,
    /// Full name, NFC, family name first ("Nguyễn Văn Minh").
    pub full_name: String,
    /// The name used to address them ("Minh"): derived from the full name, correctable by staff.
    pub given_name: String,
    /// Gender, when known.
    #[serde(default)]
    pub gender: Option<Gender>,
    /// Date of birth, when known.
    #[serde(default)]
    pub birthday: Option<NaiveDate>,
    /// Mobile numbers, normalised to `+84…`; the first is the main one.
    #[serde(default)]
    pub phones: Vec<Phone>,
    /// E-mail addresses, lower-cased; the first is the main one.
    #[serde(default)]
    pub emails: Vec<Email>,
    /// Citizen identity card number.
    #[serde(default)]
    pub cccd: Option<Cccd>,
    /// Old identity card number, kept as history only (not valid for transactions since 2025).
    #[serde(default)]
    pub cmnd: Option<Cmnd>,
    /// Tax code (MST).
    #[serde(default)]
    pub tax_code: Option<TaxCode>,
    /// Postal address.
    #[serde(default)]
    pub address: Option<String>,
    /// Free tags, sorted and unique.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Custom attributes set by the organisation.
    #[serde(default)]
    pub attributes: Map<String, Value>,
    /// The one consultant or agent responsible.
    #[serde(default)]
    pub owner: Option<String>,
    /// The owner's team, for managers' lists.
    #[serde(default)]
    pub team: Option<String>,
    /// Where they came from.
    pub source: Source,
    /// Campaign fields captured with a web lead.
    #[serde(default)]
    pub attribution: Attribution,
    /// Where they are in the relationship.
    pub lifecycle: Lifecycle,
    /// How promising, as staff judged.
    #[serde(default)]
    pub classification: Option<Classification>,
    /// Consents in force per channel and purpose.
    #[serde(default)]
    pub consents: Consents,
    /// The customer restricted processing of their data: nothing but storage and legal duties.
    #[serde(default)]
    pub processing_restricted: bool,
    /// The customer objected to marketing: no marketing on any channel.
    #[serde(default)]
    pub marketing_objected: bool,
    /// Products held, summarised for list filters (the holdings themselves are separate items).
    #[serde(default)]
    pub holdings: Vec<HoldingSummary>,
    /// How many times they submitted a form.
    #[serde(default)]
    pub submissions: u32,
    /// When the record was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// The first call, note or meeting logged by staff.
    #[serde(default)]
    pub first_interaction_at: Option<DateTime<Utc>>,
    /// The latest activity of any kind.
    #[serde(default)]
    pub last_activity_at: Option<DateTime<Utc>>,
    /// When the personal data was erased (anonymised) at the customer's request.
    #[serde(default)]
    pub erased_at: Option<DateTime<Utc>>,
    /// Limits or hours for advertising the customer agreed to, replacing the Decree 91
    /// defaults for them only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advertising_agreement: Option<nhip_domain::compliance::Agreement>,
    /// Optimistic-concurrency version, incremented on every change.
    pub version: u64,
}

/// What list filters need to know of one holding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HoldingSummary {
    /// The holding's id.
    pub id: String,
    /// Product code from the catalogue.
    pub product: String,
    /// Contract or subscription status (`active`, `pending`, `settled`, …).
    pub status: String,
    /// Expiry date, when it has one.
    #[serde(default)]
    pub expires_on: Option<NaiveDate>,
    /// Whether it is used.
    #[serde(default)]
    pub usage_status: Option<UsageStatus>,
    /// Why it is not (yet) used, from the admin-managed list.
    #[serde(default)]
    pub usage_reason: Option<String>,
    /// Share of invoices left, 0–1 (software subscriptions).
    #[serde(default)]
    pub remaining_invoice_ratio: Option<f64>,
}

impl Customer {
    /// The main phone, if any.
    pub fn phone(&self) -> Option<&Phone> {
        self.phones.first()
    }

    /// The main e-mail, if any.
    pub fn email(&self) -> Option<&Email> {
        self.emails.first()
    }

    /// The profile item: the record plus its keys and list-index keys.
    pub fn to_item(&self) -> Result<Item, StoreError> {
        let Value::Object(mut item) = serde_json::to_value(self)
            .map_err(|e| StoreError::invalid(format!("customer does not serialise: {e}")))?
        else {
            return Err(StoreError::invalid("customer is not an object"));
        };
        let key = keys::customer(self.id);
        item.insert(Index::Primary.pk_attr().into(), key.pk.into());
        item.insert(Index::Primary.sk_attr().into(), key.sk.into());
        item.insert("kind".into(), KIND.into());
        item.insert("name_folded".into(), fold(&self.full_name).into());
        let lifecycle = self.lifecycle.as_str();
        item.insert(
            Index::Gsi1.pk_attr().into(),
            keys::customers_by_lifecycle(lifecycle).into(),
        );
        item.insert(
            Index::Gsi1.sk_attr().into(),
            keys::customer_created_sort(self.created_at, self.id).into(),
        );
        let scoped = keys::customer_scoped_sort(lifecycle, self.created_at, self.id);
        // Sparse: a customer without an owner (or team) is only in the organisation's lists.
        if let Some(owner) = &self.owner {
            item.insert(
                Index::Gsi2.pk_attr().into(),
                keys::customers_by_owner(owner).into(),
            );
            item.insert(Index::Gsi2.sk_attr().into(), scoped.clone().into());
        }
        if let Some(team) = &self.team {
            item.insert(
                Index::Gsi3.pk_attr().into(),
                keys::customers_by_team(team).into(),
            );
            item.insert(Index::Gsi3.sk_attr().into(), scoped.into());
        }
        Ok(item)
    }

    /// The record in a profile item.
    pub fn from_item(item: Item) -> Result<Self, StoreError> {
        serde_json::from_value(Value::Object(item)).map_err(|e| {
            StoreError::invalid(format!("stored customer does not match the model: {e}"))
        })
    }
}

/// Sorted, unique, trimmed tags without empty ones.
pub fn normalise_tags(tags: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut tags: Vec<String> = tags
        .into_iter()
        .map(|t| nhip_domain::person::nfc(t.trim()))
        .filter(|t| !t.is_empty())
        .collect();
    tags.sort();
    tags.dedup();
    tags
}
