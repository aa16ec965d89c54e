//! Consultants' bonus (seed 002 IV): each customer has one consultant (their owner); a contract
//! that becomes active counts toward that consultant's bonus in the month it became active, and
//! officially only once "Đã lấy HĐ về và scan" is ticked. Each counted contract has an entry
//! `BONUS#<consultant>#<YYYY-MM>` / `<contract>`, written with the contract's activation and
//! rewritten with its tick, so a month's statement is one Query.

use chrono::{DateTime, NaiveDate, Utc};
use nhip_core::auth::Principal;
use nhip_core::deps::Deps;
use nhip_core::keys;
use nhip_crm::customers::model::Customer;
use nhip_crm::holdings::Holding;
use nhip_ports::store::{Condition, Index, StoreError, WriteOp};
use serde::{Deserialize, Serialize};

/// One contract on a consultant's statement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BonusEntry {
    /// The contract (holding) id.
    pub contract_id: String,
    /// The customer.
    pub customer_id: String,
    /// The customer's name when it counted.
    pub customer_name: String,
    /// The product.
    pub product: String,
    /// The contract's number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// The principal, in đồng.
    pub principal: i64,
    /// The Vietnamese date it became active.
    #[schema(value_type = String, format = Date)]
    pub active_on: NaiveDate,
    /// Whether it renews an earlier contract.
    pub renewal: bool,
    /// Who ticked "Đã lấy HĐ về và scan".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scanned_by: Option<String>,
    /// When; absent until then (counted, not yet official).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scanned_at: Option<DateTime<Utc>>,
}

/// Totals of a statement.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Totals {
    /// Contracts.
    pub contracts: u32,
    /// Their principal, in đồng.
    pub principal: i64,
}

/// A consultant's statement for a month: every contract counted, and those official.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Statement {
    /// The consultant.
    pub consultant: String,
    /// `YYYY-MM`.
    pub month: String,
    /// Contracts that became active in the month, oldest first.
    pub items: Vec<BonusEntry>,
    /// Counted: every active contract ("Tính thưởng").
    pub counted: Totals,
    /// Official: those with "Đã lấy HĐ về và scan" ticked ("Thưởng chính thức").
    pub official: Totals,
}

/// The month (`YYYY-MM`) of a date.
pub fn month_of(date: NaiveDate) -> String {
    date.format("%Y-%m").to_string()
}

/// The write of a contract's bonus entry, once it has a consultant and an activation date.
pub fn entry_write(customer: &Customer, contract: &Holding) -> Result<Option<WriteOp>, StoreError> {
    let Some(terms) = &contract.contract else {
        return Ok(None);
    };
    let (Some(consultant), Some(active_on)) = (&terms.consultant, terms.active_on) else {
        return Ok(None);
    };
    let entry = BonusEntry {
        contract_id: contract.id.clone(),
        customer_id: customer.id.to_string(),
        customer_name: customer.full_name.clone(),
        product: contract.product.clone(),
        reference: contract.reference.clone(),
        principal: contract.amount.unwrap_or(0),
        active_on,
        renewal: terms.predecessor.is_some(),
        scanned_by: terms.scanned_by.clone(),
        scanned_at: terms.scanned_at,
    };
    let key = keys::bonus_entry(consultant, &month_of(active_on), &contract.id);
    Ok(Some(WriteOp::Put {
        item: nhip_core::records::to_item(key, "bonus_entry", &entry)?,
        condition: Condition::Always,
    }))
}

/// Why a statement is not shown.
#[derive(Debug, thiserror::Error)]
pub enum StatementError {
    /// Not the consultant, their manager or an admin.
    #[error("not yours to see")]
    Forbidden,
    /// The month is not `YYYY-MM`.
    #[error("the month is not YYYY-MM")]
    Month,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// `consultant`'s statement for `month` (`YYYY-MM`): for themselves, their manager and admins.
pub async fn statement(
    deps: &Deps,
    principal: &Principal,
    consultant: &str,
    month: &str,
) -> Result<Statement, StatementError> {
    if NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").is_err() || month.len() != 7 {
        return Err(StatementError::Month);
    }
    if !nhip_crm::staff::oversees(&*deps.store, principal, consultant).await? {
        return Err(StatementError::Forbidden);
    }
    let items: Vec<BonusEntry> = nhip_core::records::read_partition(
        &*deps.store,
        Index::Primary,
        &keys::bonus_pk(consultant, month),
        None,
    )
    .await?
    .into_iter()
    .map(|item| nhip_core::records::from_item(item, "bonus_entry"))
    .collect::<Result<_, _>>()?;
    let mut items = items;
    items.sort_by(|a, b| (a.active_on, &a.contract_id).cmp(&(b.active_on, &b.contract_id)));
    let mut counted = Totals::default();
    let mut official = Totals::default();
    for entry in &items {
        counted.contracts += 1;
        counted.principal += entry.principal;
        if entry.scanned_at.is_some() {
            official.contracts += 1;
            official.principal += entry.principal;
        }
    }
    Ok(Statement {
        consultant: consultant.to_owned(),
        month: month.to_owned(),
        items,
        counted,
        official,
    })
}
