//! Instalment plans (seeds 000, 001: "trả góp"): a principal in đồng over a tenor in months, by
//! a flat conversion fee or on the reducing balance, give a schedule of due dates and amounts
//! exact to the đồng ([`nhip_domain::installment`] states the rounding rule). Payments, from
//! `payment.received` events or entered by staff, are applied oldest instalment first, a
//! partial payment carried to the next; each is recorded once by its id.
//!
//! Each active plan has one reminder pointer (`REMIND#<date>` / `PLAN#<customer>#<plan>`) on
//! the date of its next reminder on the instalment ladder (default D-5, D-1, D0, D+1, D+3) of
//! any instalment not yet paid. A payment moves it in the same transaction, so a payment at
//! 07:59 takes the plan out of the 08:00 run; a reminder already queued carries a guard (the
//! plan's paid total still below what its instalment needs) the send pipeline checks just
//! before sending.
//!
//! Storage: `CUS#<id>` / `PLAN#<ulid>` (terms, schedule, paid total, payments) and one
//! `CUS#<id>` / `PAY#<plan>#<payment id>` marker per payment.

use chrono::{DateTime, NaiveDate, Utc};
use nhip_core::auth::Principal;
use nhip_core::deps::Deps;
use nhip_core::event_types as types;
use nhip_core::keys;
use nhip_core::timeline::Entry;
use nhip_crm::customers::model::Customer;
use nhip_crm::customers::routes::find_visible;
use nhip_crm::holdings::reminder::{first_run_day, move_pointer};
use nhip_domain::event::DomainEvent;
use nhip_domain::installment::{self, Instalment, Method, Standing, Terms};
use nhip_domain::ladder::Ladder;
use nhip_domain::time::vn_date;
use nhip_ports::store::{Condition, Index, StoreError, WriteOp};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The source of the events Nhịp raises from plan entries (their timeline causes are
/// `plan#…`): the payment consumer never records those again.
pub const PLAN_SOURCE: &str = "plan";

/// Kind attribute of plan items.
pub const PLAN_KIND: &str = "instalment_plan";
/// Most payments one plan keeps.
const MAX_PAYMENTS: usize = 500;

/// Where a plan is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlanStatus {
    /// Instalments still to pay.
    Active,
    /// Everything paid.
    PaidOff,
}

impl PlanStatus {
    /// The label staff see.
    pub fn label(self) -> &'static str {
        match self {
            PlanStatus::Active => "Đang trả góp",
            PlanStatus::PaidOff => "Đã trả hết",
        }
    }
}

/// One payment recorded against a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Payment {
    /// Its id at its source (`<source>#<event id>`, or the one staff gave).
    pub id: String,
    /// In đồng.
    pub amount: i64,
    /// The Vietnamese date it was paid.
    #[schema(value_type = String, format = Date)]
    pub paid_on: NaiveDate,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
    /// The staff member who entered it, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// An instalment plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Time-ordered id.
    pub id: String,
    /// Whose.
    pub customer_id: String,
    /// The product, when it is one of the catalogue's.
    #[serde(default)]
    pub product: Option<String>,
    /// The contract's number.
    #[serde(default)]
    pub reference: Option<String>,
    /// Its terms.
    pub terms: Terms,
    /// Its schedule.
    pub schedule: Vec<Instalment>,
    /// Paid so far, in đồng.
    pub paid_total: i64,
    /// The payments, oldest first.
    pub payments: Vec<Payment>,
    /// Where it is.
    pub status: PlanStatus,
    /// The date of its next reminder, where its pointer sits.
    #[serde(default)]
    pub remind_on: Option<NaiveDate>,
    /// Who set it up.
    pub created_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Optimistic-concurrency version.
    pub version: u64,
}

impl Plan {
    /// What the customer owes in all.
    pub fn total(&self) -> i64 {
        self.schedule.iter().map(|i| i.amount).sum()
    }

    /// Each instalment's standing on `today`.
    pub fn standing(&self, today: NaiveDate) -> Vec<Standing> {
        installment::standing(&self.schedule, self.paid_total, today)
    }

    /// What instalment `seq` needs paid in all (through it) to be paid.
    pub fn paid_through(&self, seq: u32) -> i64 {
        self.schedule
            .iter()
            .take_while(|i| i.seq <= seq)
            .map(|i| i.amount)
            .sum()
    }

    /// The pointer's sort key.
    pub fn pointer_ref(&self) -> String {
        format!("PLAN#{}#{}", self.customer_id, self.id)
    }

    /// The date of the next reminder on `ladder` on or after `from`: the first rung of an
    /// instalment not yet fully paid.
    pub fn next_reminder(&self, ladder: &Ladder, from: NaiveDate) -> Option<NaiveDate> {
        if self.status != PlanStatus::Active {
            return None;
        }
        self.standing(from)
            .iter()
            .filter(|s| s.outstanding > 0)
            .flat_map(|s| ladder.dates(s.due_on))
            .map(|(_, date)| date)
            .filter(|date| *date >= from)
            .min()
    }
}

/// A plan to set up.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPlan {
    /// The principal, in đồng.
    #[schema(example = 12_000_000, minimum = 1, maximum = 100_000_000_000_i64)]
    pub principal: i64,
    /// The tenor in months (1 to 120).
    #[schema(example = 6, minimum = 1, maximum = 120)]
    pub months: u32,
    /// `flat` (a one-off conversion fee spread over the instalments) or `reducing_balance`.
    #[schema(value_type = String, example = "flat")]
    pub method: Method,
    /// Flat: the conversion fee in basis points of the principal (199 = 1,99 %); reducing
    /// balance: the annual rate in basis points.
    #[schema(example = 199, maximum = 10000)]
    pub rate_bp: u32,
    /// The first instalment's due date.
    #[schema(value_type = String, format = Date, example = "2027-01-05")]
    pub first_due: NaiveDate,
    /// The product, if one of the catalogue's.
    #[serde(default)]
    pub product: Option<String>,
    /// The contract's number.
    #[serde(default)]
    #[schema(max_length = 100)]
    pub reference: Option<String>,
}

/// A payment staff enter.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPayment {
    /// In đồng.
    #[schema(example = 2_039_800, minimum = 1)]
    pub amount: i64,
    /// The day it was paid (default today).
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub paid_on: Option<NaiveDate>,
    /// Its receipt's number: a payment entered twice with the same one is recorded once.
    #[serde(default)]
    #[schema(max_length = 100)]
    pub payment_id: Option<String>,
}

/// Why a plan or payment was refused.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// No such customer visible to the caller.
    #[error("no such customer")]
    CustomerNotFound,
    /// No such plan.
    #[error("no such plan")]
    NotFound,
    /// A field is wrong.
    #[error("{1}")]
    Invalid(String, String),
    /// The plan is paid off.
    #[error("the plan is paid off")]
    PaidOff,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The instalment ladder in force.
pub async fn ladder(deps: &Deps) -> Result<Ladder, StoreError> {
    Ok(crate::settings::in_force(deps).await?.0.instalment_ladder())
}

async fn visible(deps: &Deps, principal: &Principal, id: &str) -> Result<Customer, PlanError> {
    match find_visible(deps, principal, id).await? {
        Some(customer) if customer.erased_at.is_none() => Ok(customer),
        _ => Err(PlanError::CustomerNotFound),
    }
}

/// The writes of a plan at `version` (0: new) with its pointer moved from `previous`.
fn plan_writes(
    plan: &Plan,
    previous: Option<NaiveDate>,
    version: u64,
) -> Result<Vec<WriteOp>, StoreError> {
    let key = keys::instalment_plan(
        plan.customer_id
            .parse()
            .map_err(|_| StoreError::invalid("plan customer"))?,
        &plan.id,
    );
    let mut ops = vec![WriteOp::Put {
        item: nhip_core::records::to_item(key, PLAN_KIND, plan)?,
        condition: if version == 0 {
            Condition::NotExists
        } else {
            Condition::version_is(version)
        },
    }];
    ops.extend(move_pointer(
        previous,
        plan.remind_on,
        &plan.pointer_ref(),
        &plan.customer_id,
    ));
    Ok(ops)
}

fn entry(
    plan: &Plan,
    at: DateTime<Utc>,
    cause: String,
    event_type: &str,
    actor: Option<&str>,
    data: serde_json::Value,
) -> Entry {
    Entry {
        customer: plan
            .customer_id
            .parse()
            .expect("a plan's customer id parses"),
        at,
        cause,
        event_type: event_type.to_owned(),
        source: if actor.is_some() {
            "staff_api"
        } else {
            "reminders"
        }
        .to_owned(),
        actor: actor.map(str::to_owned),
        data,
    }
}

/// Sets up a plan for customer `customer_id`.
pub async fn create(
    deps: &Deps,
    principal: &Principal,
    customer_id: &str,
    request: &NewPlan,
) -> Result<Plan, PlanError> {
    let customer = visible(deps, principal, customer_id).await?;
    let terms = Terms {
        principal: request.principal,
        months: request.months,
        method: request.method,
        rate_bp: request.rate_bp,
        first_due: request.first_due,
    };
    let schedule = installment::schedule(&terms)
        .map_err(|e| PlanError::Invalid(e.field().to_owned(), e.to_string()))?;
    let product = match &request.product {
        None => None,
        Some(raw) => {
            let code = nhip_crm::holdings::fields::normalise_code(raw);
            let found = match &code {
                Some(code) => nhip_crm::holdings::repo::product(&*deps.store, code).await?,
                None => None,
            };
            Some(found.map(|p| p.code).ok_or_else(|| {
                PlanError::Invalid(
                    "product".into(),
                    "Không có sản phẩm này trong danh mục.".into(),
                )
            })?)
        }
    };
    let reference = match request.reference.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(r) if r.chars().count() <= 100 => Some(r.to_owned()),
        Some(_) => {
            return Err(PlanError::Invalid(
                "reference".into(),
                "Số hợp đồng tối đa 100 ký tự.".into(),
            ));
        }
    };
    let now = deps.clock.now();
    let mut plan = Plan {
        id: ulid::Ulid::from_datetime(now.into()).to_string(),
        customer_id: customer.id.to_string(),
        product,
        reference,
        terms,
        schedule,
        paid_total: 0,
        payments: Vec::new(),
        status: PlanStatus::Active,
        remind_on: None,
        created_by: principal.user.clone(),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    plan.remind_on = plan.next_reminder(&ladder(deps).await?, first_run_day(now));
    let mut ops = plan_writes(&plan, None, 0)?;
    let registered = entry(
        &plan,
        now,
        format!("{PLAN_SOURCE}#{}", plan.id),
        types::INSTALLMENT_REGISTERED,
        Some(&principal.user),
        json!({"plan_id": plan.id, "principal": plan.terms.principal, "months": plan.terms.months, "method": plan.terms.method, "total": plan.total()}),
    );
    ops.push(registered.write(now));
    deps.store.transact(ops).await?;
    nhip_core::events::publish_entries(deps, std::slice::from_ref(&registered)).await;
    Ok(plan)
}

/// A customer's plans, oldest first.
pub async fn plans_of(deps: &Deps, customer: &Customer) -> Result<Vec<Plan>, StoreError> {
    nhip_core::records::read_partition(
        &*deps.store,
        Index::Primary,
        &keys::customer_pk(customer.id),
        Some(keys::PLAN_PREFIX),
    )
    .await?
    .into_iter()
    .map(|item| nhip_core::records::from_item(item, PLAN_KIND))
    .collect()
}

/// The plans of customer `customer_id`, as visible to the caller.
pub async fn list(
    deps: &Deps,
    principal: &Principal,
    customer_id: &str,
) -> Result<Vec<Plan>, PlanError> {
    let customer = visible(deps, principal, customer_id).await?;
    Ok(plans_of(deps, &customer).await?)
}

/// One plan as stored.
pub async fn load(deps: &Deps, customer: &str, plan_id: &str) -> Result<Option<Plan>, StoreError> {
    let (Ok(customer), Ok(plan_id)) = (customer.parse(), plan_id.parse::<ulid::Ulid>()) else {
        return Ok(None);
    };
    deps.store
        .get(&keys::instalment_plan(customer, &plan_id.to_string()))
        .await?
        .map(|item| nhip_core::records::from_item(item, PLAN_KIND))
        .transpose()
}

/// Plan `plan_id` of customer `customer_id`, as visible to the caller.
pub async fn get(
    deps: &Deps,
    principal: &Principal,
    customer_id: &str,
    plan_id: &str,
) -> Result<Plan, PlanError> {
    let customer = visible(deps, principal, customer_id).await?;
    load(deps, &customer.id.to_string(), plan_id)
        .await?
        .ok_or(PlanError::NotFound)
}

/// Staff enter a payment.
pub async fn pay(
    deps: &Deps,
    principal: &Principal,
    customer_id: &str,
    plan_id: &str,
    request: &NewPayment,
) -> Result<Plan, PlanError> {
    let customer = visible(deps, principal, customer_id).await?;
    let now = deps.clock.now();
    let id = match request.payment_id.as_deref().map(str::trim) {
        None | Some("") => format!("staff#{}", ulid::Ulid::from_datetime(now.into())),
        Some(r) if r.chars().count() <= 100 => format!("staff#{r}"),
        Some(_) => {
            return Err(PlanError::Invalid(
                "payment_id".into(),
                "Số chứng từ tối đa 100 ký tự.".into(),
            ));
        }
    };
    let payment = Payment {
        id,
        amount: request.amount,
        paid_on: request.paid_on.unwrap_or_else(|| vn_date(now)),
        recorded_at: now,
        by: Some(principal.user.clone()),
    };
    record(deps, &customer.id.to_string(), plan_id, payment).await
}

/// Records `payment` on plan `plan_id` once (a payment with an id already recorded leaves the
/// plan as it is): the paid total, the plan's status, its pointer, the timeline.
pub async fn record(
    deps: &Deps,
    customer_id: &str,
    plan_id: &str,
    payment: Payment,
) -> Result<Plan, PlanError> {
    if !(1..=installment::MAX_PRINCIPAL * 2).contains(&payment.amount) {
        return Err(PlanError::Invalid(
            "amount".into(),
            "Số tiền tính bằng đồng: một số nguyên dương.".into(),
        ));
    }
    for attempt in nhip_core::retry::attempts(nhip_core::retry::IN_REQUEST) {
        attempt.pause().await;
        let stored = load(deps, customer_id, plan_id)
            .await?
            .ok_or(PlanError::NotFound)?;
        let marker = keys::plan_payment(
            stored
                .customer_id
                .parse()
                .map_err(|_| PlanError::NotFound)?,
            &stored.id,
            &payment.id,
        );
        if deps.store.get(&marker).await?.is_some() {
            return Ok(stored);
        }
        if stored.status == PlanStatus::PaidOff {
            return Err(PlanError::PaidOff);
        }
        if stored.payments.len() >= MAX_PAYMENTS {
            return Err(PlanError::Invalid(
                "amount".into(),
                format!("Một khoản trả góp ghi tối đa {MAX_PAYMENTS} lần thanh toán."),
            ));
        }
        let now = deps.clock.now();
        let mut plan = stored.clone();
        plan.paid_total += payment.amount;
        plan.payments.push(payment.clone());
        plan.version += 1;
        plan.updated_at = now;
        if plan.paid_total >= plan.total() {
            plan.status = PlanStatus::PaidOff;
        }
        plan.remind_on = plan.next_reminder(&ladder(deps).await?, first_run_day(now));
        let mut ops = plan_writes(&plan, stored.remind_on, stored.version)?;
        let mut marker_item = marker.to_item();
        marker_item.insert("kind".into(), "plan_payment".into());
        marker_item.insert("amount".into(), payment.amount.into());
        ops.push(WriteOp::Put {
            item: marker_item,
            condition: Condition::NotExists,
        });
        let mut entries = vec![entry(
            &plan,
            now,
            format!("{PLAN_SOURCE}#{}#pay#{}", plan.id, payment.id),
            types::INSTALLMENT_PAYMENT_RECEIVED,
            payment.by.as_deref(),
            json!({"plan_id": plan.id, "amount": payment.amount, "paid_on": payment.paid_on, "paid_total": plan.paid_total, "total": plan.total()}),
        )];
        if plan.status == PlanStatus::PaidOff {
            entries.push(entry(
                &plan,
                now,
                format!("{PLAN_SOURCE}#{}#paid_off", plan.id),
                types::INSTALLMENT_PAID_OFF,
                payment.by.as_deref(),
                json!({"plan_id": plan.id, "total": plan.total()}),
            ));
        }
        ops.extend(entries.iter().map(|e| e.write(now)));
        match deps.store.transact(ops).await {
            Ok(()) => {
                nhip_core::events::publish_entries(deps, &entries).await;
                return Ok(plan);
            }
            Err(StoreError::ConditionFailed { .. } | StoreError::TransactionConflict) => continue,
            Err(other) => return Err(other.into()),
        }
    }
    Err(PlanError::Store(StoreError::TransactionConflict))
}

/// A payment from the organisation's systems: `payment.received` (or
/// `installment.payment_received`) with `data.plan_id` and `data.amount` in đồng, recorded once
/// by its `(source, id)`. Nhịp's own entries of staff payments are not recorded again; an event
/// naming no plan of the customer, or no amount, is logged and left on the timeline.
pub async fn on_event(deps: &Deps, event: &DomainEvent) -> Result<(), StoreError> {
    if event.source == nhip_core::events::NHIP_SOURCE
        || event.source == PLAN_SOURCE
        || !matches!(
            event.kind.as_str(),
            types::PAYMENT_RECEIVED | types::INSTALLMENT_PAYMENT_RECEIVED
        )
    {
        return Ok(());
    }
    let (Some(customer), Some(plan_id), Some(amount)) = (
        event.customer_id.map(|c| c.to_string()),
        event.data.get("plan_id").and_then(|v| v.as_str()),
        event.data.get("amount").and_then(|v| v.as_i64()),
    ) else {
        tracing::warn!(event_type = %event.kind, "payment event without customer, plan_id or amount");
        return Ok(());
    };
    let payment = Payment {
        id: format!("{}#{}", event.source, event.id),
        amount,
        paid_on: vn_date(event.occurred_at),
        recorded_at: deps.clock.now(),
        by: None,
    };
    match record(deps, &customer, plan_id, payment).await {
        Ok(_) => Ok(()),
        Err(PlanError::Store(error)) => Err(error),
        Err(other) => {
            tracing::warn!(error = %other, "payment event not recorded");
            Ok(())
        }
    }
}
