//! "Hợp đồng & trả góp" of one customer: their investment contracts with the renewal chain and
//! the actions (sign at the rates in force, activate, settle, renew, tick "Đã lấy HĐ về và
//! scan"), and their instalment plans with the schedule, what each instalment stands at, the
//! next reminder, and the payments entered. Every action goes through the same use cases as the
//! API; a refusal comes back on the page.

use std::collections::BTreeMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;

use nhip_contracts::contracts::{self, Renewal, ScanTick, SignContract};
use nhip_contracts::plans::{self, NewPayment, NewPlan, Plan};
use nhip_contracts::rates;
use nhip_core::deps::Deps;
use nhip_core::http::ApiError;
use nhip_crm::customers::model::Customer;
use nhip_crm::holdings::{Holding, Product, ProductKind};
use nhip_domain::installment::Method;
use nhip_domain::time::vn_date;

use crate::format;
use crate::pages::care::Choice;
use crate::pages::{
    Shell, api_error_page, form_problem, problem_of, redirect_with_problem, render,
};
use crate::session::{Staff, store_failure};

/// Basis points as staff read them: `6,50%`.
pub fn basis_points(bp: u32) -> String {
    format!("{},{:02}%", bp / 100, bp % 100)
}

/// A percentage typed as `6,5` or `6.5` (a `%` allowed), in basis points.
pub fn parse_percent(raw: &str) -> Option<u32> {
    let cleaned = raw.trim().trim_end_matches('%').trim().replace(',', ".");
    let value: f64 = cleaned.parse().ok()?;
    (0.0..=100.0)
        .contains(&value)
        .then(|| (value * 100.0).round() as u32)
}

/// An amount typed with dots, spaces or `₫` (`12.000.000`), in đồng.
pub fn parse_money(raw: &str) -> Option<i64> {
    raw.replace(['.', ' ', '₫', ','], "").parse().ok()
}

/// One contract as the page lists it.
pub struct ContractRow {
    pub id: String,
    pub reference: String,
    pub product: String,
    pub principal: String,
    pub rate: String,
    pub fee: String,
    pub term: String,
    pub starts: String,
    pub maturity: String,
    pub status: &'static str,
    pub status_label: &'static str,
    pub consultant: String,
    pub scanned: String,
    pub predecessor: Option<(String, String)>,
    pub successor: Option<(String, String)>,
    pub next_alert: String,
    pub version: u64,
}

/// One instalment as the page lists it.
pub struct InstalmentRow {
    pub seq: u32,
    pub due: String,
    pub amount: String,
    pub paid: String,
    pub outstanding: String,
    pub state: &'static str,
    pub state_label: &'static str,
}

/// One plan as the page shows it.
pub struct PlanBlock {
    pub id: String,
    pub title: String,
    pub total: String,
    pub paid: String,
    pub outstanding: String,
    pub status_label: &'static str,
    pub paid_off: bool,
    pub next_reminder: String,
    pub rows: Vec<InstalmentRow>,
    pub payments: Vec<(String, String, String)>,
}

#[derive(Template)]
#[template(path = "contracts.html")]
struct ContractsPage {
    shell: Shell,
    customer_id: String,
    customer_name: String,
    contracts: Vec<ContractRow>,
    offers: Vec<Choice>,
    methods: Vec<Choice>,
    plans: Vec<PlanBlock>,
    problem: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PageQuery {
    done: String,
    problem: String,
    seal: String,
}

async fn visible(deps: &Deps, staff: &Staff, id: &str) -> Result<Customer, Response> {
    match nhip_crm::customers::routes::find_visible(deps, &staff.principal, id).await {
        Ok(Some(customer)) if customer.erased_at.is_none() => Ok(customer),
        Ok(_) => Err(crate::pages::not_found()),
        Err(error) => Err(store_failure(error)),
    }
}

fn reference_of(holding: &Holding) -> String {
    holding
        .reference
        .clone()
        .unwrap_or_else(|| format!("HĐ …{}", &holding.id[holding.id.len() - 6..]))
}

fn contract_row(h: &Holding, all: &[Holding], products: &BTreeMap<String, Product>) -> ContractRow {
    let terms = h.contract.as_ref().expect("contracts only");
    let link = |id: &Option<String>| {
        id.as_ref().map(|id| {
            let name = all
                .iter()
                .find(|o| &o.id == id)
                .map_or_else(|| id.clone(), reference_of);
            (id.clone(), name)
        })
    };
    ContractRow {
        id: h.id.clone(),
        reference: reference_of(h),
        product: products
            .get(&h.product)
            .map_or(h.product.clone(), |p| p.name.clone()),
        principal: h.amount.map(format::money).unwrap_or_default(),
        rate: basis_points(terms.rate_bp),
        fee: basis_points(terms.fee_bp),
        term: format!("{} tháng", terms.term_months),
        starts: h.starts_on.map(format::date).unwrap_or_default(),
        maturity: h.expires_on.map(format::date).unwrap_or_default(),
        status: h.status.as_str(),
        status_label: h.status.label(),
        consultant: terms.consultant.clone().unwrap_or_default(),
        scanned: match (&terms.scanned_by, terms.scanned_at) {
            (Some(by), Some(at)) => format!("{by}, {}", format::date_time(at)),
            _ => String::new(),
        },
        predecessor: link(&terms.predecessor),
        successor: link(&terms.successor),
        next_alert: h.remind_on.map(format::date).unwrap_or_default(),
        version: h.version,
    }
}

fn plan_block(plan: &Plan, today: chrono::NaiveDate) -> PlanBlock {
    let rate = match plan.terms.method {
        Method::Flat => format!("phí {}", basis_points(plan.terms.rate_bp)),
        Method::ReducingBalance => format!("lãi {}/năm", basis_points(plan.terms.rate_bp)),
    };
    let total = plan.total();
    PlanBlock {
        id: plan.id.clone(),
        title: format!(
            "{} · {} tháng · {} {}",
            format::money(plan.terms.principal),
            plan.terms.months,
            plan.terms.method.label(),
            rate
        ),
        total: format::money(total),
        paid: format::money(plan.paid_total),
        outstanding: format::money((total - plan.paid_total).max(0)),
        status_label: plan.status.label(),
        paid_off: plan.status == plans::PlanStatus::PaidOff,
        next_reminder: plan.remind_on.map(format::date).unwrap_or_default(),
        rows: plan
            .standing(today)
            .into_iter()
            .map(|s| InstalmentRow {
                seq: s.seq,
                due: format::date(s.due_on),
                amount: format::money(s.amount),
                paid: format::money(s.paid),
                outstanding: format::money(s.outstanding),
                state: s.state.as_str(),
                state_label: s.state.label(),
            })
            .collect(),
        payments: plan
            .payments
            .iter()
            .map(|p| {
                (
                    format::date(p.paid_on),
                    format::money(p.amount),
                    p.id.trim_start_matches("staff#").to_owned(),
                )
            })
            .collect(),
    }
}

/// The product and fee-tier pairs a contract may be signed at, each with its rate in force.
async fn offers(
    deps: &Deps,
    products: &BTreeMap<String, Product>,
) -> Result<Vec<Choice>, Response> {
    let mut offers = Vec::new();
    for product in products
        .values()
        .filter(|p| p.kind == ProductKind::Investment && p.active)
    {
        let rates = rates::in_force(deps, &product.code)
            .await
            .map_err(store_failure)?;
        for tier in &rates.rates.fee_tiers {
            offers.push(Choice {
                value: format!("{}|{}", product.code, tier.code),
                label: format!(
                    "{} · lãi {} · {}",
                    product.name,
                    basis_points(rates.rates.base_rate_bp),
                    tier.label
                ),
                selected: false,
            });
        }
    }
    Ok(offers)
}

/// `GET /app/customers/{id}/contracts`.
pub async fn page(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    Path(id): Path<String>,
    Query(query): Query<PageQuery>,
) -> Response {
    let customer = match visible(&deps, &staff, &id).await {
        Ok(customer) => customer,
        Err(response) => return response,
    };
    let (mut shell, holdings, products, plans) = match load(&deps, &staff, &customer).await {
        Ok(loaded) => loaded,
        Err(response) => return response,
    };
    if !query.done.is_empty() {
        shell = shell.flash("Đã lưu.");
    }
    let offers = match offers(&deps, &products).await {
        Ok(offers) => offers,
        Err(response) => return response,
    };
    let today = vn_date(deps.clock.now());
    let contracts = holdings.iter().filter(|h| h.contract.is_some());
    render(&ContractsPage {
        shell,
        customer_id: customer.id.to_string(),
        customer_name: customer.full_name.clone(),
        contracts: contracts
            .map(|h| contract_row(h, &holdings, &products))
            .collect(),
        offers,
        methods: Method::ALL
            .iter()
            .map(|m| Choice {
                value: m.as_str().into(),
                label: m.label().into(),
                selected: false,
            })
            .collect(),
        plans: plans.iter().map(|p| plan_block(p, today)).collect(),
        problem: problem_of(&staff, &query.problem, &query.seal),
    })
}

type Loaded = (Shell, Vec<Holding>, BTreeMap<String, Product>, Vec<Plan>);

async fn load(deps: &Deps, staff: &Staff, customer: &Customer) -> Result<Loaded, Response> {
    let shell = Shell::load(deps, staff, "/app/care").await?;
    let holdings = nhip_crm::holdings::holdings_of(&*deps.store, customer.id)
        .await
        .map_err(store_failure)?;
    let products = nhip_crm::holdings::products(&*deps.store)
        .await
        .map_err(store_failure)?;
    let plans = plans::plans_of(deps, customer)
        .await
        .map_err(store_failure)?;
    Ok((shell, holdings, products, plans))
}

/// Back to the page, with the problem when there is one.
fn back(staff: &Staff, id: &str, problem: &str) -> Response {
    let done = if problem.is_empty() {
        "?done=saved"
    } else {
        ""
    };
    redirect_with_problem(
        staff,
        &format!("/app/customers/{id}/contracts{done}"),
        problem,
    )
}

/// Back with what a use case answered: a refusal on the page, anything else its own page.
fn answered<T>(staff: &Staff, id: &str, result: Result<T, ApiError>) -> Response {
    match result {
        Ok(_) => back(staff, id, ""),
        Err(error)
            if error.status.is_client_error()
                && error.status != axum::http::StatusCode::NOT_FOUND =>
        {
            back(staff, id, &form_problem(&error))
        }
        Err(error) => api_error_page(error),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SignForm {
    offer: String,
    principal: String,
    term_months: String,
    starts_on: String,
    reference: String,
    active: String,
}

/// `POST /app/customers/{id}/contracts`: sign a contract at the rates in force.
pub async fn sign(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<SignForm>,
) -> Response {
    let Some((product, tier)) = form.offer.split_once('|') else {
        return back(&staff, &id, "Chọn sản phẩm và mức phí.");
    };
    let Some(principal) = parse_money(&form.principal) else {
        return back(&staff, &id, "Tiền gốc: nhập số tiền (đồng).");
    };
    let Ok(term_months) = form.term_months.trim().parse() else {
        return back(&staff, &id, "Kỳ hạn: số tháng.");
    };
    let starts_on = match form.starts_on.trim() {
        "" => None,
        raw => match format::parse_date(raw) {
            Some(date) => Some(date),
            None => return back(&staff, &id, "Ngày bắt đầu không hợp lệ (dd/mm/yyyy)."),
        },
    };
    let request = SignContract {
        product: product.to_owned(),
        principal,
        term_months,
        fee_tier: tier.to_owned(),
        starts_on,
        reference: Some(form.reference.clone()),
        active: !form.active.is_empty(),
    };
    let result = contracts::sign(&deps, &staff.principal, &id, &request).await;
    answered(&staff, &id, result.map_err(ApiError::from))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ActionForm {
    version: u64,
    principal: String,
    term_months: String,
    reference: String,
}

/// `POST /app/customers/{id}/contracts/{contract}/{action}`: activate, settle, renew, scan or
/// (admins) unscan.
pub async fn act(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    Path((id, contract, action)): Path<(String, String, String)>,
    axum::Form(form): axum::Form<ActionForm>,
) -> Response {
    let principal = &staff.principal;
    let result = match action.as_str() {
        "activate" => contracts::activate(&deps, principal, &id, &contract, form.version).await,
        "settle" => contracts::settle(&deps, principal, &id, &contract, form.version).await,
        "scan" | "unscan" => {
            let tick = ScanTick {
                version: form.version,
                scanned: action == "scan",
            };
            contracts::scan(&deps, principal, &id, &contract, &tick).await
        }
        "renew" => {
            let renewal = match renewal(&form) {
                Ok(renewal) => renewal,
                Err(problem) => return back(&staff, &id, problem),
            };
            contracts::renew(&deps, principal, &id, &contract, &renewal).await
        }
        _ => return crate::pages::not_found(),
    };
    answered(&staff, &id, result.map_err(ApiError::from))
}

fn renewal(form: &ActionForm) -> Result<Renewal, &'static str> {
    let principal = match form.principal.trim() {
        "" => None,
        raw => Some(parse_money(raw).ok_or("Tiền gốc mới: nhập số tiền (đồng).")?),
    };
    let term_months = match form.term_months.trim() {
        "" => None,
        raw => Some(raw.parse().map_err(|_| "Kỳ hạn mới: số tháng.")?),
    };
    Ok(Renewal {
        version: form.version,
        principal,
        term_months,
        fee_tier: None,
        reference: Some(form.reference.clone()).filter(|r| !r.trim().is_empty()),
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PlanForm {
    principal: String,
    months: String,
    method: String,
    rate: String,
    first_due: String,
    reference: String,
}

/// `POST /app/customers/{id}/plans`: set up an instalment plan.
pub async fn create_plan(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<PlanForm>,
) -> Response {
    let (Some(principal), Ok(months)) = (parse_money(&form.principal), form.months.trim().parse())
    else {
        return back(&staff, &id, "Nhập số tiền (đồng) và số tháng.");
    };
    let Some(method) = Method::ALL.into_iter().find(|m| m.as_str() == form.method) else {
        return back(&staff, &id, "Chọn cách tính.");
    };
    let Some(rate_bp) = parse_percent(&form.rate) else {
        return back(
            &staff,
            &id,
            "Phí hoặc lãi suất: một tỷ lệ phần trăm, ví dụ 1,99.",
        );
    };
    let Some(first_due) = format::parse_date(&form.first_due) else {
        return back(
            &staff,
            &id,
            "Ngày đến hạn kỳ đầu không hợp lệ (dd/mm/yyyy).",
        );
    };
    let request = NewPlan {
        principal,
        months,
        method,
        rate_bp,
        first_due,
        product: None,
        reference: Some(form.reference.clone()).filter(|r| !r.trim().is_empty()),
    };
    let result = plans::create(&deps, &staff.principal, &id, &request).await;
    answered(&staff, &id, result.map_err(ApiError::from))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PaymentForm {
    amount: String,
    payment_id: String,
}

/// `POST /app/customers/{id}/plans/{plan}/payments`: enter a payment.
pub async fn pay(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    Path((id, plan)): Path<(String, String)>,
    axum::Form(form): axum::Form<PaymentForm>,
) -> Response {
    let Some(amount) = parse_money(&form.amount) else {
        return back(&staff, &id, "Số tiền: nhập số tiền (đồng).");
    };
    let request = NewPayment {
        amount,
        paid_on: None,
        payment_id: Some(form.payment_id.clone()).filter(|r| !r.trim().is_empty()),
    };
    let result = plans::pay(&deps, &staff.principal, &id, &plan, &request).await;
    answered(&staff, &id, result.map_err(ApiError::from))
}
