//! Investment contracts (seed 002 I): a contract is a holding of an investment product whose
//! terms (base rate, fee tier) are copied from the product's rates when it is signed, with a
//! principal in đồng, a start, a term and a maturity. It goes draft ("Chờ hiệu lực") → active
//! → settled ("tất toán") or renewed ("gia hạn"), each by an action with its own audit and
//! timeline entries. A renewal closes the contract and creates its successor in the same
//! transaction, linked both ways, at today's rates. The customer's lifecycle follows: an active
//! contract makes a customer; every contract settled makes a former customer ("KH cũ đã tất
//! toán hết HĐ").
//!
//! A contract that becomes active counts toward the bonus of its consultant (the customer's
//! owner at that moment), officially once "Đã lấy HĐ về và scan" is ticked (see [`crate::bonus`]).

use chrono::{Months, NaiveDate};
use nhip_core::auth::Principal;
use nhip_core::deps::Deps;
use nhip_core::event_types as types;
use nhip_crm::customers::model::Customer;
use nhip_crm::customers::repo::{self, SaveError};
use nhip_crm::customers::routes::{audit_item, find_visible};
use nhip_crm::holdings::changes::{HoldingWrite, prepare_writes};
use nhip_crm::holdings::{ContractTerms, Holding, HoldingStatus, ProductKind};
use nhip_domain::time::vn_date;
use nhip_ports::store::{Condition, StoreError, WriteOp};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::bonus;
use crate::rates::{self, RatesError};

/// Longest term, in months.
const MAX_TERM_MONTHS: u32 = 120;
/// Largest principal: 1 000 tỷ đồng.
const MAX_PRINCIPAL: i64 = 1_000_000_000_000;

/// A contract to sign.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignContract {
    /// The investment product's code.
    #[schema(example = "bcc-12-thang")]
    pub product: String,
    /// The principal, in đồng.
    #[schema(example = 500_000_000, minimum = 1, maximum = 1_000_000_000_000_i64)]
    pub principal: i64,
    /// The term, in months (1 to 120).
    #[schema(example = 12, minimum = 1, maximum = 120)]
    pub term_months: u32,
    /// The fee tier's code in the product's rates.
    #[schema(example = "phi-10")]
    pub fee_tier: String,
    /// First day in force (default: today in Viet Nam).
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub starts_on: Option<NaiveDate>,
    /// The contract's number.
    #[serde(default)]
    #[schema(max_length = 100)]
    pub reference: Option<String>,
    /// In force at once (`true`), or a draft to activate later (default).
    #[serde(default)]
    pub active: bool,
}

/// A renewal: the principal rolled over (default) or changed, the term and fee tier kept or
/// changed; the rate is today's.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Renewal {
    /// The contract's version read.
    pub version: u64,
    /// The new principal in đồng (default: rolled over).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1_000_000_000_000_i64)]
    pub principal: Option<i64>,
    /// The new term in months (default: the same).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 120)]
    pub term_months: Option<u32>,
    /// The new fee tier (default: the same code).
    #[serde(default)]
    pub fee_tier: Option<String>,
    /// The successor's number.
    #[serde(default)]
    #[schema(max_length = 100)]
    pub reference: Option<String>,
}

/// An action on a contract at the version read.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AtVersion {
    /// The contract's version read.
    pub version: u64,
}

/// The "Đã lấy HĐ về và scan" tick.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanTick {
    /// The contract's version read.
    pub version: u64,
    /// Ticked (`true`) or, by an admin only, unticked.
    pub scanned: bool,
}

/// Why a contract action did nothing.
#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    /// No such customer visible to the caller.
    #[error("no such customer")]
    CustomerNotFound,
    /// No such contract on that customer.
    #[error("no such contract")]
    NotFound,
    /// A field is wrong: the field and the Vietnamese message.
    #[error("{1}")]
    Invalid(String, String),
    /// The contract is not where the action starts from: the Vietnamese message.
    #[error("{0}")]
    WrongStatus(String),
    /// Only an admin may do this.
    #[error("only an admin may do this")]
    Forbidden,
    /// The contract changed since it was read.
    #[error("the contract is at version {0}")]
    Stale(u64),
    #[error(transparent)]
    Save(#[from] SaveError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<RatesError> for ContractError {
    fn from(error: RatesError) -> Self {
        match error {
            RatesError::NoProduct => ContractError::Invalid(
                "product".into(),
                "Không có sản phẩm này trong danh mục.".into(),
            ),
            RatesError::NotInvestment => ContractError::Invalid(
                "product".into(),
                "Hợp đồng chỉ ký cho sản phẩm đầu tư.".into(),
            ),
            RatesError::Store(error) => ContractError::Store(error),
            other => ContractError::Invalid("product".into(), other.to_string()),
        }
    }
}

fn invalid(field: &str, message: impl Into<String>) -> ContractError {
    ContractError::Invalid(field.into(), message.into())
}

/// What an action changed: the contract, the successor of a renewal, and the customer.
#[derive(Debug, Clone)]
pub struct Changed {
    /// The contract as it now is.
    pub contract: Holding,
    /// A renewal's successor.
    pub successor: Option<Holding>,
    /// The customer after it.
    pub customer: Customer,
}

impl From<(Customer, Vec<Holding>)> for Changed {
    /// The first holding written is the contract, a second its successor.
    fn from((customer, holdings): (Customer, Vec<Holding>)) -> Self {
        let mut holdings = holdings.into_iter();
        Changed {
            contract: holdings.next().expect("an action writes its contract"),
            successor: holdings.next(),
            customer,
        }
    }
}

async fn visible(deps: &Deps, principal: &Principal, id: &str) -> Result<Customer, ContractError> {
    match find_visible(deps, principal, id).await? {
        Some(customer) if customer.erased_at.is_none() => Ok(customer),
        _ => Err(ContractError::CustomerNotFound),
    }
}

fn check_principal(field: &str, principal: i64) -> Result<(), ContractError> {
    if (1..=MAX_PRINCIPAL).contains(&principal) {
        Ok(())
    } else {
        Err(invalid(
            field,
            "Tiền gốc tính bằng đồng, từ 1 đến 1.000 tỷ.",
        ))
    }
}

fn check_term(field: &str, months: u32) -> Result<(), ContractError> {
    if (1..=MAX_TERM_MONTHS).contains(&months) {
        Ok(())
    } else {
        Err(invalid(field, "Kỳ hạn từ 1 đến 120 tháng."))
    }
}

fn check_reference(reference: Option<&String>) -> Result<Option<String>, ContractError> {
    match reference.map(|r| r.trim()) {
        None | Some("") => Ok(None),
        Some(r) if r.chars().count() <= 100 => Ok(Some(r.to_owned())),
        Some(_) => Err(invalid("reference", "Số hợp đồng tối đa 100 ký tự.")),
    }
}

/// A new contract of `product` for `customer`, at the product's rates in force.
#[allow(clippy::too_many_arguments)]
async fn new_contract(
    deps: &Deps,
    principal: &Principal,
    customer: &Customer,
    product: &str,
    amount: i64,
    term_months: u32,
    fee_tier: &str,
    starts_on: NaiveDate,
    reference: Option<String>,
) -> Result<Holding, ContractError> {
    let product = rates::investment_product(deps, product).await?;
    if !product.active {
        return Err(invalid("product", "Sản phẩm này đã ngưng kinh doanh."));
    }
    let rates = rates::in_force(deps, &product.code).await?;
    let tier = rates.rates.tier(fee_tier).ok_or_else(|| {
        let codes: Vec<&str> = rates
            .rates
            .fee_tiers
            .iter()
            .map(|t| t.code.as_str())
            .collect();
        invalid(
            "fee_tier",
            format!("Chọn một mức phí của sản phẩm: {}.", codes.join(", ")),
        )
    })?;
    let expires_on = starts_on
        .checked_add_months(Months::new(term_months))
        .ok_or_else(|| invalid("starts_on", "Ngày bắt đầu không hợp lệ."))?;
    let now = deps.clock.now();
    Ok(Holding {
        id: ulid::Ulid::from_datetime(now.into()).to_string(),
        customer_id: customer.id,
        product: product.code.clone(),
        product_kind: ProductKind::Investment,
        status: HoldingStatus::Pending,
        reference,
        starts_on: Some(starts_on),
        expires_on: Some(expires_on),
        amount: Some(amount),
        usage_status: None,
        usage_reason: None,
        remaining_invoice_ratio: None,
        attributes: Default::default(),
        settled_on: None,
        contract: Some(ContractTerms {
            rate_bp: rates.rates.base_rate_bp,
            fee_tier: tier.code.clone(),
            fee_bp: tier.fee_bp,
            rates_version: rates.version,
            term_months,
            predecessor: None,
            successor: None,
            consultant: None,
            active_on: None,
            scanned_by: None,
            scanned_at: None,
        }),
        remind_on: None,
        created_by: principal.user.clone(),
        updated_by: principal.user.clone(),
        created_at: now,
        updated_at: now,
        version: 1,
    })
}

/// Makes `contract` active today for the customer's consultant: its bonus entry's write.
fn activate_terms(
    contract: &mut Holding,
    customer: &Customer,
    today: NaiveDate,
) -> Result<Vec<WriteOp>, StoreError> {
    contract.status = HoldingStatus::Active;
    let terms = contract.contract.as_mut().expect("a contract has terms");
    terms.consultant = customer.owner.clone();
    terms.active_on = Some(today);
    Ok(bonus::entry_write(customer, contract)?
        .into_iter()
        .collect())
}

fn timeline_data(contract: &Holding) -> Value {
    let terms = contract.contract.as_ref();
    json!({
        "holding_id": contract.id,
        "product": contract.product,
        "status": contract.status,
        "reference": contract.reference,
        "principal": contract.amount,
        "starts_on": contract.starts_on,
        "expires_on": contract.expires_on,
        "rate_bp": terms.map(|t| t.rate_bp),
        "fee_tier": terms.map(|t| t.fee_tier.clone()),
        "predecessor": terms.and_then(|t| t.predecessor.clone()),
        "successor": terms.and_then(|t| t.successor.clone()),
    })
}

fn write(holding: &Holding, stored: Option<&Holding>, event_type: &'static str) -> HoldingWrite {
    HoldingWrite {
        data: timeline_data(holding),
        holding: holding.clone(),
        stored: stored.cloned(),
        event_type,
    }
}

/// Saves `writes` with the customer's profile, the audit entry and `extra` in one transaction:
/// the customer after, or `None` when the profile moved and the action must be read again.
async fn commit(
    deps: &Deps,
    principal: &Principal,
    before: &Customer,
    mut writes: Vec<HoldingWrite>,
    audit: (&str, Value),
    extra: Vec<WriteOp>,
) -> Result<Option<(Customer, Vec<Holding>)>, ContractError> {
    let now = deps.clock.now();
    let (mut after, mut ops, entries) = prepare_writes(before, &mut writes, principal, now)?;
    ops.push(WriteOp::Put {
        item: audit_item(deps, principal, before.id, audit.0, audit.1),
        condition: Condition::NotExists,
    });
    ops.extend(extra);
    match repo::save(&*deps.store, before, &mut after, ops).await {
        Ok(()) => {
            nhip_core::events::publish_entries(deps, &entries).await;
            Ok(Some((
                after,
                writes.into_iter().map(|w| w.holding).collect(),
            )))
        }
        Err(SaveError::Conflict) => Ok(None),
        Err(other) => Err(other.into()),
    }
}

/// Signs a contract for customer `customer_id`: a draft, or active at once.
pub async fn sign(
    deps: &Deps,
    principal: &Principal,
    customer_id: &str,
    request: &SignContract,
) -> Result<Changed, ContractError> {
    check_principal("principal", request.principal)?;
    check_term("term_months", request.term_months)?;
    let reference = check_reference(request.reference.as_ref())?;
    for attempt in nhip_core::retry::attempts(nhip_core::retry::IN_REQUEST) {
        attempt.pause().await;
        let before = visible(deps, principal, customer_id).await?;
        let today = vn_date(deps.clock.now());
        let mut contract = new_contract(
            deps,
            principal,
            &before,
            &request.product,
            request.principal,
            request.term_months,
            &request.fee_tier,
            request.starts_on.unwrap_or(today),
            reference.clone(),
        )
        .await?;
        let mut extra = Vec::new();
        let mut writes = vec![write(&contract, None, types::CONTRACT_SIGNED)];
        if request.active {
            extra = activate_terms(&mut contract, &before, today)?;
            writes = vec![write(&contract, None, types::CONTRACT_ACTIVATED)];
        }
        let audit = ("contract.signed", timeline_data(&contract));
        if let Some(done) = commit(deps, principal, &before, writes, audit, extra).await? {
            return Ok(Changed::from(done));
        }
    }
    Err(SaveError::Conflict.into())
}

/// The customer and their contract `holding_id` at `version`.
async fn contract_at(
    deps: &Deps,
    principal: &Principal,
    customer_id: &str,
    holding_id: &str,
    version: u64,
) -> Result<(Customer, Holding), ContractError> {
    let customer = visible(deps, principal, customer_id).await?;
    let id = holding_id
        .parse::<ulid::Ulid>()
        .map_err(|_| ContractError::NotFound)?
        .to_string();
    let contract = nhip_crm::holdings::repo::holding(&*deps.store, customer.id, &id)
        .await?
        .filter(|h| h.contract.is_some())
        .ok_or(ContractError::NotFound)?;
    if contract.version != version {
        return Err(ContractError::Stale(contract.version));
    }
    Ok((customer, contract))
}

fn moved_on(contract: &Holding, deps: &Deps, principal: &Principal) -> Holding {
    let mut next = contract.clone();
    next.version += 1;
    next.updated_at = deps.clock.now();
    next.updated_by = principal.user.clone();
    next
}

fn expect_status(
    contract: &Holding,
    status: HoldingStatus,
    action: &str,
) -> Result<(), ContractError> {
    if contract.status == status {
        Ok(())
    } else {
        Err(ContractError::WrongStatus(format!(
            "Chỉ {action} hợp đồng \"{}\"; hợp đồng này đang \"{}\".",
            status.label(),
            contract.status.label()
        )))
    }
}

/// One contract moving from status `from` by `event_type` (also the audit action): read at
/// `version`, changed by `apply` (which answers the writes that go with it), committed with the
/// profile, retried when the profile moved.
#[allow(clippy::too_many_arguments)]
async fn transition(
    deps: &Deps,
    principal: &Principal,
    customer_id: &str,
    holding_id: &str,
    version: u64,
    from: HoldingStatus,
    action: &str,
    event_type: &'static str,
    apply: impl Fn(&mut Holding, &Customer, NaiveDate) -> Result<Vec<WriteOp>, StoreError>,
) -> Result<Changed, ContractError> {
    for attempt in nhip_core::retry::attempts(nhip_core::retry::IN_REQUEST) {
        attempt.pause().await;
        let (before, stored) =
            contract_at(deps, principal, customer_id, holding_id, version).await?;
        expect_status(&stored, from, action)?;
        let mut contract = moved_on(&stored, deps, principal);
        let extra = apply(&mut contract, &before, vn_date(deps.clock.now()))?;
        let writes = vec![write(&contract, Some(&stored), event_type)];
        let audit = (event_type, timeline_data(&contract));
        if let Some(done) = commit(deps, principal, &before, writes, audit, extra).await? {
            return Ok(Changed::from(done));
        }
    }
    Err(SaveError::Conflict.into())
}

/// Activates a draft contract: it counts toward its consultant's bonus from today.
pub async fn activate(
    deps: &Deps,
    principal: &Principal,
    customer_id: &str,
    holding_id: &str,
    version: u64,
) -> Result<Changed, ContractError> {
    let (from, event) = (HoldingStatus::Pending, types::CONTRACT_ACTIVATED);
    transition(
        deps,
        principal,
        customer_id,
        holding_id,
        version,
        from,
        "kích hoạt",
        event,
        activate_terms,
    )
    .await
}

/// Settles an active contract today ("tất toán").
pub async fn settle(
    deps: &Deps,
    principal: &Principal,
    customer_id: &str,
    holding_id: &str,
    version: u64,
) -> Result<Changed, ContractError> {
    let (from, event) = (HoldingStatus::Active, types::CONTRACT_SETTLED);
    transition(
        deps,
        principal,
        customer_id,
        holding_id,
        version,
        from,
        "tất toán",
        event,
        |contract, _, today| {
            contract.status = HoldingStatus::Settled;
            contract.settled_on = Some(today);
            Ok(Vec::new())
        },
    )
    .await
}

/// Renews an active contract: it becomes `renewed`, and its successor, active from its
/// maturity (or today, when it has none or it passed), takes today's rates.
pub async fn renew(
    deps: &Deps,
    principal: &Principal,
    customer_id: &str,
    holding_id: &str,
    request: &Renewal,
) -> Result<Changed, ContractError> {
    if let Some(amount) = request.principal {
        check_principal("principal", amount)?;
    }
    if let Some(months) = request.term_months {
        check_term("term_months", months)?;
    }
    let reference = check_reference(request.reference.as_ref())?;
    for attempt in nhip_core::retry::attempts(nhip_core::retry::IN_REQUEST) {
        attempt.pause().await;
        let (before, stored) =
            contract_at(deps, principal, customer_id, holding_id, request.version).await?;
        expect_status(&stored, HoldingStatus::Active, "gia hạn")?;
        let terms = stored.contract.clone().expect("a contract has terms");
        let today = vn_date(deps.clock.now());
        let mut successor = new_contract(
            deps,
            principal,
            &before,
            &stored.product,
            request.principal.or(stored.amount).unwrap_or(1),
            request.term_months.unwrap_or(terms.term_months),
            request.fee_tier.as_deref().unwrap_or(&terms.fee_tier),
            stored.expires_on.filter(|d| *d >= today).unwrap_or(today),
            reference.clone(),
        )
        .await?;
        let extra = activate_terms(&mut successor, &before, today)?;
        let mut contract = moved_on(&stored, deps, principal);
        contract.status = HoldingStatus::Renewed;
        if let Some(t) = contract.contract.as_mut() {
            t.successor = Some(successor.id.clone());
        }
        if let Some(t) = successor.contract.as_mut() {
            t.predecessor = Some(contract.id.clone());
        }
        let writes = vec![
            write(&contract, Some(&stored), types::CONTRACT_RENEWED),
            write(&successor, None, types::CONTRACT_ACTIVATED),
        ];
        let audit = (
            "contract.renewed",
            json!({"from": timeline_data(&contract), "to": timeline_data(&successor)}),
        );
        if let Some(done) = commit(deps, principal, &before, writes, audit, extra).await? {
            return Ok(Changed::from(done));
        }
    }
    Err(SaveError::Conflict.into())
}

/// Ticks (or, for an admin, unticks) "Đã lấy HĐ về và scan": from then the contract counts
/// officially toward its consultant's bonus.
pub async fn scan(
    deps: &Deps,
    principal: &Principal,
    customer_id: &str,
    holding_id: &str,
    request: &ScanTick,
) -> Result<Changed, ContractError> {
    if !request.scanned && !principal.is_admin() {
        return Err(ContractError::Forbidden);
    }
    for attempt in nhip_core::retry::attempts(nhip_core::retry::IN_REQUEST) {
        attempt.pause().await;
        let (before, stored) =
            contract_at(deps, principal, customer_id, holding_id, request.version).await?;
        let terms = stored.contract.as_ref().expect("a contract has terms");
        if terms.scanned_at.is_some() == request.scanned {
            return Err(ContractError::WrongStatus(if request.scanned {
                "Hợp đồng đã được tích \"Đã lấy HĐ về và scan\".".into()
            } else {
                "Hợp đồng chưa được tích \"Đã lấy HĐ về và scan\".".into()
            }));
        }
        let mut contract = moved_on(&stored, deps, principal);
        let now = deps.clock.now();
        if let Some(t) = contract.contract.as_mut() {
            t.scanned_by = request.scanned.then(|| principal.user.clone());
            t.scanned_at = request.scanned.then_some(now);
        }
        let extra: Vec<WriteOp> = bonus::entry_write(&before, &contract)?
            .into_iter()
            .collect();
        let writes = vec![write(&contract, Some(&stored), types::CONTRACT_SCANNED)];
        let audit = (
            "contract.scanned",
            json!({"holding_id": contract.id, "scanned": request.scanned}),
        );
        if let Some(done) = commit(deps, principal, &before, writes, audit, extra).await? {
            return Ok(Changed::from(done));
        }
    }
    Err(SaveError::Conflict.into())
}
