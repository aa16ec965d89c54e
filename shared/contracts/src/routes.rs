//! The routes of contracts, rates, bonus statements, instalment plans and the reminders'
//! settings.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use nhip_core::auth::Principal;
use nhip_core::deps::Deps;
use nhip_core::http::{ApiError, Json, Path, Query};
use nhip_core::openapi::Routes;
use nhip_core::routes;
use nhip_crm::holdings::views::{CustomerBrief, HoldingView};
use nhip_domain::installment::InstalmentState;
use nhip_domain::time::vn_date;
use serde::{Deserialize, Serialize};

use crate::bonus::{self, Statement, StatementError};
use crate::contracts::{self, AtVersion, Changed, ContractError, Renewal, ScanTick, SignContract};
use crate::plans::{self, NewPayment, NewPlan, Payment, Plan, PlanError, PlanStatus};
use crate::rates::{self, Rates, RatesChange, RatesError, RatesInForce};
use crate::settings::{self, ReminderSettings, SettingsError};

/// Every route of the crate.
pub fn router() -> Routes<Arc<Deps>> {
    Routes::new()
        .routes(routes!(get_rates, put_rates))
        .routes(routes!(rates_history))
        .routes(routes!(sign_contract))
        .routes(routes!(activate_contract))
        .routes(routes!(settle_contract))
        .routes(routes!(renew_contract))
        .routes(routes!(scan_contract))
        .routes(routes!(bonus_statement))
        .routes(routes!(create_plan, list_plans))
        .routes(routes!(get_plan))
        .routes(routes!(pay_plan))
        .routes(routes!(get_reminder_settings, put_reminder_settings))
}

fn forbidden(message: &str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "forbidden", message.to_owned())
}

impl From<RatesError> for ApiError {
    fn from(error: RatesError) -> Self {
        match error {
            RatesError::Forbidden => forbidden("Only an admin changes a product's rates."),
            RatesError::NoProduct => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", "No such product.")
            }
            RatesError::NotInvestment => nhip_core::form::invalid(
                "product",
                "Lãi suất và mức phí chỉ đặt cho sản phẩm đầu tư.",
            ),
            RatesError::Invalid(field, message) => nhip_core::form::invalid(field, message),
            RatesError::Stale(current) => ApiError::stale_version(current),
            RatesError::Store(error) => error.into(),
        }
    }
}

impl From<ContractError> for ApiError {
    fn from(error: ContractError) -> Self {
        match error {
            ContractError::CustomerNotFound => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", "No such customer.")
            }
            ContractError::NotFound => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", "No such contract.")
            }
            ContractError::Invalid(field, message) => nhip_core::form::invalid(&field, message),
            ContractError::WrongStatus(message) => {
                ApiError::new(StatusCode::CONFLICT, "wrong_status", message)
            }
            ContractError::Forbidden => forbidden("Only an admin unticks a scanned contract."),
            ContractError::Stale(current) => ApiError::stale_version(current),
            ContractError::Save(error) => error.into(),
            ContractError::Store(error) => error.into(),
        }
    }
}

impl From<PlanError> for ApiError {
    fn from(error: PlanError) -> Self {
        match error {
            PlanError::CustomerNotFound => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", "No such customer.")
            }
            PlanError::NotFound => ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "No such instalment plan.",
            ),
            PlanError::Invalid(field, message) => nhip_core::form::invalid(&field, message),
            PlanError::PaidOff => ApiError::new(
                StatusCode::CONFLICT,
                "paid_off",
                "Khoản trả góp đã được trả hết.",
            ),
            PlanError::Store(error) => error.into(),
        }
    }
}

/// A new version of a product's rates.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RatesUpdate {
    /// The version read (0 while the defaults are in force).
    pub version: u64,
    /// The rates.
    pub rates: Rates,
}

/// `GET /v1/catalogue/products/{code}/rates`: an investment product's rates in force.
#[utoipa::path(
    get,
    path = "/v1/catalogue/products/{code}/rates",
    tag = "contracts",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "The investment product's code.")),
    responses(
        (status = 200, description = "The rates in force.", body = RatesInForce),
        nhip_core::openapi::QueryOneErrors,
        (status = 422, description = "Not an investment product.", body = nhip_core::openapi::ErrorBody),
    )
)]
async fn get_rates(
    State(deps): State<Arc<Deps>>,
    _principal: Principal,
    Path(code): Path<String>,
) -> Result<Json<RatesInForce>, ApiError> {
    let product = rates::investment_product(&deps, &code).await?;
    Ok(Json(rates::in_force(&deps, &product.code).await?))
}

/// `PUT /v1/catalogue/products/{code}/rates` (admin): new rates, for contracts signed from now.
#[utoipa::path(
    put,
    path = "/v1/catalogue/products/{code}/rates",
    tag = "contracts",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "The investment product's code.")),
    request_body(content = RatesUpdate),
    responses(
        (status = 200, description = "The rates now in force.", body = RatesInForce),
        nhip_core::openapi::ChangeErrors,
    )
)]
async fn put_rates(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(code): Path<String>,
    Json(update): Json<RatesUpdate>,
) -> Result<Json<RatesInForce>, ApiError> {
    Ok(Json(
        rates::change(&deps, &principal, &code, update.version, update.rates).await?,
    ))
}

/// The changes of a product's rates.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RatesHistory {
    /// Newest first.
    pub items: Vec<RatesChange>,
}

/// `GET /v1/catalogue/products/{code}/rates/history`: who changed the rates, when, old → new.
#[utoipa::path(
    get,
    path = "/v1/catalogue/products/{code}/rates/history",
    tag = "contracts",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "The investment product's code.")),
    responses(
        (status = 200, description = "Every change, newest first.", body = RatesHistory),
        nhip_core::openapi::QueryOneErrors,
        (status = 422, description = "Not an investment product.", body = nhip_core::openapi::ErrorBody),
    )
)]
async fn rates_history(
    State(deps): State<Arc<Deps>>,
    _principal: Principal,
    Path(code): Path<String>,
) -> Result<Json<RatesHistory>, ApiError> {
    let product = rates::investment_product(&deps, &code).await?;
    Ok(Json(RatesHistory {
        items: rates::history(&deps, &product.code).await?,
    }))
}

/// A contract action's answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ContractChange {
    /// The contract as it now is.
    pub contract: HoldingView,
    /// A renewal's successor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub successor: Option<HoldingView>,
    /// The customer's lifecycle and holdings after it.
    pub customer: CustomerBrief,
}

async fn change_view(deps: &Deps, changed: Changed) -> Result<ContractChange, ApiError> {
    let products = nhip_crm::holdings::products(&*deps.store).await?;
    let reasons = nhip_crm::holdings::reasons(&*deps.store).await?;
    Ok(ContractChange {
        contract: HoldingView::new(&changed.contract, &products, &reasons),
        successor: changed
            .successor
            .as_ref()
            .map(|s| HoldingView::new(s, &products, &reasons)),
        customer: CustomerBrief::from(&changed.customer),
    })
}

/// `POST /v1/customers/{id}/contracts`: sign an investment contract at the product's rates.
#[utoipa::path(
    post,
    path = "/v1/customers/{id}/contracts",
    tag = "contracts",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The customer's id.")),
    request_body(content = SignContract),
    responses(
        (status = 201, description = "Signed.", body = ContractChange),
        nhip_core::openapi::CreateErrors,
    )
)]
async fn sign_contract(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
    Json(request): Json<SignContract>,
) -> Result<Response, ApiError> {
    let changed = contracts::sign(&deps, &principal, &id, &request).await?;
    Ok((
        StatusCode::CREATED,
        Json(change_view(&deps, changed).await?),
    )
        .into_response())
}

/// `POST /v1/customers/{id}/contracts/{contract}/activate`: a draft comes into force.
#[utoipa::path(
    post,
    path = "/v1/customers/{id}/contracts/{contract}/activate",
    tag = "contracts",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "The customer's id."),
        ("contract" = String, Path, description = "The contract's id."),
    ),
    request_body(content = AtVersion),
    responses(
        (status = 200, description = "Active.", body = ContractChange),
        nhip_core::openapi::ChangeErrors,
    )
)]
async fn activate_contract(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path((id, contract)): Path<(String, String)>,
    Json(request): Json<AtVersion>,
) -> Result<Json<ContractChange>, ApiError> {
    let changed = contracts::activate(&deps, &principal, &id, &contract, request.version).await?;
    Ok(Json(change_view(&deps, changed).await?))
}

/// `POST /v1/customers/{id}/contracts/{contract}/settle`: settle ("tất toán") today.
#[utoipa::path(
    post,
    path = "/v1/customers/{id}/contracts/{contract}/settle",
    tag = "contracts",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "The customer's id."),
        ("contract" = String, Path, description = "The contract's id."),
    ),
    request_body(content = AtVersion),
    responses(
        (status = 200, description = "Settled.", body = ContractChange),
        nhip_core::openapi::ChangeErrors,
    )
)]
async fn settle_contract(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path((id, contract)): Path<(String, String)>,
    Json(request): Json<AtVersion>,
) -> Result<Json<ContractChange>, ApiError> {
    let changed = contracts::settle(&deps, &principal, &id, &contract, request.version).await?;
    Ok(Json(change_view(&deps, changed).await?))
}

/// `POST /v1/customers/{id}/contracts/{contract}/renew`: renew ("gia hạn") into a successor.
#[utoipa::path(
    post,
    path = "/v1/customers/{id}/contracts/{contract}/renew",
    tag = "contracts",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "The customer's id."),
        ("contract" = String, Path, description = "The contract's id."),
    ),
    request_body(content = Renewal),
    responses(
        (status = 200, description = "Renewed: the contract and its successor.", body = ContractChange),
        nhip_core::openapi::ChangeErrors,
    )
)]
async fn renew_contract(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path((id, contract)): Path<(String, String)>,
    Json(request): Json<Renewal>,
) -> Result<Json<ContractChange>, ApiError> {
    let changed = contracts::renew(&deps, &principal, &id, &contract, &request).await?;
    Ok(Json(change_view(&deps, changed).await?))
}

/// `POST /v1/customers/{id}/contracts/{contract}/scan`: tick "Đã lấy HĐ về và scan".
#[utoipa::path(
    post,
    path = "/v1/customers/{id}/contracts/{contract}/scan",
    tag = "contracts",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "The customer's id."),
        ("contract" = String, Path, description = "The contract's id."),
    ),
    request_body(content = ScanTick),
    responses(
        (status = 200, description = "Ticked (or unticked by an admin).", body = ContractChange),
        nhip_core::openapi::ChangeErrors,
    )
)]
async fn scan_contract(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path((id, contract)): Path<(String, String)>,
    Json(request): Json<ScanTick>,
) -> Result<Json<ContractChange>, ApiError> {
    let changed = contracts::scan(&deps, &principal, &id, &contract, &request).await?;
    Ok(Json(change_view(&deps, changed).await?))
}

/// Which statement.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatementQuery {
    /// The consultant (default: the caller).
    #[param(max_length = 64)]
    pub consultant: Option<String>,
    /// `YYYY-MM` (default: this month in Viet Nam).
    #[param(pattern = "^[0-9]{4}-[0-9]{2}$")]
    pub month: Option<String>,
}

/// `GET /v1/bonus-statement`: a consultant's contracts of a month, counted and official.
#[utoipa::path(
    get,
    path = "/v1/bonus-statement",
    tag = "contracts",
    security(("bearer" = [])),
    params(StatementQuery),
    responses(
        (status = 200, description = "The statement.", body = Statement),
        nhip_core::openapi::QueryErrors,
        (status = 403, description = "Not the consultant, their manager or an admin.", body = nhip_core::openapi::ErrorBody),
    )
)]
async fn bonus_statement(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Query(query): Query<StatementQuery>,
) -> Result<Json<Statement>, ApiError> {
    let consultant = query.consultant.unwrap_or_else(|| principal.user.clone());
    let month = query
        .month
        .unwrap_or_else(|| bonus::month_of(vn_date(deps.clock.now())));
    match bonus::statement(&deps, &principal, &consultant, &month).await {
        Ok(statement) => Ok(Json(statement)),
        Err(StatementError::Forbidden) => Err(forbidden(
            "A statement is for its consultant, their manager and admins.",
        )),
        Err(StatementError::Month) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            "The month is YYYY-MM.",
        )
        .field("month", "Tháng dạng YYYY-MM.")),
        Err(StatementError::Store(error)) => Err(error.into()),
    }
}

/// One instalment as staff see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InstalmentView {
    /// 1-based.
    pub seq: u32,
    /// Due date.
    #[schema(value_type = String, format = Date)]
    pub due_on: NaiveDate,
    /// Principal part, in đồng.
    pub principal: i64,
    /// Fee share or interest, in đồng.
    pub charge: i64,
    /// What is due, in đồng.
    pub amount: i64,
    /// Paid toward it.
    pub paid: i64,
    /// Still to pay.
    pub outstanding: i64,
    /// `paid`, `partial`, `due`, `overdue` or `upcoming`.
    #[schema(value_type = String)]
    pub state: InstalmentState,
    /// The state in Vietnamese.
    pub state_label: &'static str,
}

/// A plan as staff see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PlanView {
    /// Its id.
    pub id: String,
    /// Whose.
    pub customer_id: String,
    /// The product.
    pub product: Option<String>,
    /// The contract's number.
    pub reference: Option<String>,
    /// The principal, in đồng.
    pub principal: i64,
    /// Months.
    pub months: u32,
    /// `flat` or `reducing_balance`.
    pub method: String,
    /// The method in Vietnamese.
    pub method_label: &'static str,
    /// Basis points: the flat fee, or the annual rate.
    pub rate_bp: u32,
    /// What the customer owes in all.
    pub total: i64,
    /// Paid so far.
    pub paid_total: i64,
    /// Still to pay.
    pub outstanding: i64,
    /// `active` or `paid_off`.
    pub status: PlanStatus,
    /// The status in Vietnamese.
    pub status_label: &'static str,
    /// The next reminder's date.
    #[schema(value_type = Option<String>, format = Date)]
    pub remind_on: Option<NaiveDate>,
    /// The schedule with each instalment's standing today.
    pub instalments: Vec<InstalmentView>,
    /// The payments, oldest first.
    pub payments: Vec<Payment>,
    /// Optimistic-concurrency version.
    pub version: u64,
}

/// A plan's view on `today`.
pub fn plan_view(plan: &Plan, today: NaiveDate) -> PlanView {
    let instalments = plan
        .standing(today)
        .into_iter()
        .zip(&plan.schedule)
        .map(|(s, i)| InstalmentView {
            seq: s.seq,
            due_on: s.due_on,
            principal: i.principal,
            charge: i.charge,
            amount: s.amount,
            paid: s.paid,
            outstanding: s.outstanding,
            state: s.state,
            state_label: s.state.label(),
        })
        .collect();
    let total = plan.total();
    PlanView {
        id: plan.id.clone(),
        customer_id: plan.customer_id.clone(),
        product: plan.product.clone(),
        reference: plan.reference.clone(),
        principal: plan.terms.principal,
        months: plan.terms.months,
        method: plan.terms.method.as_str().to_owned(),
        method_label: plan.terms.method.label(),
        rate_bp: plan.terms.rate_bp,
        total,
        paid_total: plan.paid_total,
        outstanding: (total - plan.paid_total).max(0),
        status: plan.status,
        status_label: plan.status.label(),
        remind_on: plan.remind_on,
        instalments,
        payments: plan.payments.clone(),
        version: plan.version,
    }
}

/// `POST /v1/customers/{id}/installment-plans`: set up an instalment plan.
#[utoipa::path(
    post,
    path = "/v1/customers/{id}/installment-plans",
    tag = "contracts",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The customer's id.")),
    request_body(content = NewPlan),
    responses(
        (status = 201, description = "Set up, with its schedule.", body = PlanView),
        nhip_core::openapi::CreateErrors,
    )
)]
async fn create_plan(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
    Json(request): Json<NewPlan>,
) -> Result<Response, ApiError> {
    let plan = plans::create(&deps, &principal, &id, &request).await?;
    let today = vn_date(deps.clock.now());
    Ok((StatusCode::CREATED, Json(plan_view(&plan, today))).into_response())
}

/// A customer's plans.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PlanList {
    /// Oldest first.
    pub items: Vec<PlanView>,
}

/// `GET /v1/customers/{id}/installment-plans`: a customer's plans with their standing.
#[utoipa::path(
    get,
    path = "/v1/customers/{id}/installment-plans",
    tag = "contracts",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The customer's id.")),
    responses(
        (status = 200, description = "The plans.", body = PlanList),
        nhip_core::openapi::QueryOneErrors,
    )
)]
async fn list_plans(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<PlanList>, ApiError> {
    let today = vn_date(deps.clock.now());
    let items = plans::list(&deps, &principal, &id)
        .await?
        .iter()
        .map(|p| plan_view(p, today))
        .collect();
    Ok(Json(PlanList { items }))
}

/// `GET /v1/customers/{id}/installment-plans/{plan}`: one plan.
#[utoipa::path(
    get,
    path = "/v1/customers/{id}/installment-plans/{plan}",
    tag = "contracts",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "The customer's id."),
        ("plan" = String, Path, description = "The plan's id."),
    ),
    responses(
        (status = 200, description = "The plan.", body = PlanView),
        nhip_core::openapi::QueryOneErrors,
    )
)]
async fn get_plan(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path((id, plan)): Path<(String, String)>,
) -> Result<Json<PlanView>, ApiError> {
    let plan = plans::get(&deps, &principal, &id, &plan).await?;
    Ok(Json(plan_view(&plan, vn_date(deps.clock.now()))))
}

/// `POST /v1/customers/{id}/installment-plans/{plan}/payments`: record a payment.
#[utoipa::path(
    post,
    path = "/v1/customers/{id}/installment-plans/{plan}/payments",
    tag = "contracts",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "The customer's id."),
        ("plan" = String, Path, description = "The plan's id."),
    ),
    request_body(content = NewPayment),
    responses(
        (status = 200, description = "Recorded (once per receipt number): the plan.", body = PlanView),
        nhip_core::openapi::ChangeErrors,
    )
)]
async fn pay_plan(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path((id, plan)): Path<(String, String)>,
    Json(request): Json<NewPayment>,
) -> Result<Json<PlanView>, ApiError> {
    let plan = plans::pay(&deps, &principal, &id, &plan, &request).await?;
    Ok(Json(plan_view(&plan, vn_date(deps.clock.now()))))
}

/// The reminders' settings and their version.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReminderSettingsView {
    /// The settings.
    pub settings: ReminderSettings,
    /// Their version (0: the defaults).
    pub version: u64,
}

/// `GET /v1/settings/reminders`: the instalment ladder, channels and greetings.
#[utoipa::path(
    get,
    path = "/v1/settings/reminders",
    tag = "contracts",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The settings in force.", body = ReminderSettingsView),
        nhip_core::openapi::QueryErrors,
    )
)]
async fn get_reminder_settings(
    State(deps): State<Arc<Deps>>,
    _principal: Principal,
) -> Result<Json<ReminderSettingsView>, ApiError> {
    let (settings, version) = settings::in_force(&deps).await?;
    Ok(Json(ReminderSettingsView { settings, version }))
}

/// `PUT /v1/settings/reminders` (admin): new settings at the version read.
#[utoipa::path(
    put,
    path = "/v1/settings/reminders",
    tag = "contracts",
    security(("bearer" = [])),
    request_body(content = ReminderSettingsView),
    responses(
        (status = 200, description = "Saved.", body = ReminderSettingsView),
        nhip_core::openapi::ChangeErrors,
    )
)]
async fn put_reminder_settings(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Json(body): Json<ReminderSettingsView>,
) -> Result<Json<ReminderSettingsView>, ApiError> {
    match settings::save(&deps, &principal, &body.settings, body.version).await {
        Ok(version) => Ok(Json(ReminderSettingsView {
            settings: body.settings,
            version,
        })),
        Err(SettingsError::Forbidden) => Err(forbidden("Only an admin changes the reminders.")),
        Err(SettingsError::Invalid(field, message)) => {
            Err(nhip_core::form::invalid(field, message))
        }
        Err(SettingsError::Stale(current)) => Err(ApiError::stale_version(current)),
        Err(SettingsError::Store(error)) => Err(error.into()),
    }
}
