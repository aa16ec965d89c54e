//! The agenda, "Lịch làm việc": a staff member's next actions across customers and the tasks
//! they are to do, for a day or a week, the overdue ones flagged.

use std::sync::Arc;

use axum::extract::State;
use chrono::{DateTime, NaiveDate, Utc};
use nhip_core::auth::Principal;
use nhip_core::deps::Deps;
use nhip_core::http::{ApiError, Json, ListQuery};
use nhip_core::openapi::Routes;
use nhip_core::routes;
use nhip_crm::next_actions::{self, AgendaAction};
use nhip_ports::store::StoreError;
use serde::{Deserialize, Serialize};

use crate::tasks::{self, Period, Task, TaskError, Whose};

/// Items of one agenda read, of each kind.
const MAX_ITEMS: u32 = 500;

/// A period of someone's work.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Agenda {
    /// The period's first instant.
    #[schema(value_type = String)]
    pub from: DateTime<Utc>,
    /// The instant after it.
    #[schema(value_type = String)]
    pub to: DateTime<Utc>,
    /// Next actions across customers, soonest first.
    pub actions: Vec<AgendaAction>,
    /// Tasks to do, by deadline.
    pub tasks: Vec<Task>,
}

/// `principal`'s agenda over the day or week holding `date`.
pub async fn of(
    deps: &Deps,
    principal: &Principal,
    period: Period,
    date: NaiveDate,
) -> Result<Agenda, StoreError> {
    let (from, to) = tasks::period(period, date);
    let actions = next_actions::agenda(deps, &principal.user, from, to, MAX_ITEMS).await?;
    let tasks = match tasks::list(
        deps,
        principal,
        &Whose::AssignedTo(principal.user.clone()),
        from,
        to,
        MAX_ITEMS as usize,
    )
    .await
    {
        Ok(tasks) => tasks,
        Err(TaskError::Store(error)) => return Err(error),
        Err(_) => Vec::new(),
    };
    Ok(Agenda {
        from,
        to,
        actions,
        tasks,
    })
}

/// The agenda route.
pub fn router() -> Routes<Arc<Deps>> {
    Routes::new().routes(routes!(my_agenda))
}

/// The period asked for.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AgendaQuery {
    /// `day` or `week` (default) or `month`.
    #[param(inline)]
    pub period: Option<Period>,
    /// A day of it, `YYYY-MM-DD` (default today in Viet Nam).
    #[param(value_type = Option<String>, format = Date)]
    pub date: Option<NaiveDate>,
}

impl nhip_core::http::ListParams for AgendaQuery {
    const DEFAULT_LIMIT: u32 = MAX_ITEMS;
    const MAX_LIMIT: u32 = MAX_ITEMS;

    fn requested_limit(&self) -> Option<u32> {
        None
    }
}

/// `GET /v1/me/agenda`: my next actions and tasks over a day or a week.
#[utoipa::path(
    get,
    path = "/v1/me/agenda",
    tag = "tasks",
    security(("bearer" = [])),
    params(AgendaQuery),
    responses(
        (status = 200, description = "The period's work.", body = Agenda),
        nhip_core::openapi::QueryErrors,
    )
)]
async fn my_agenda(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    ListQuery(query): ListQuery<AgendaQuery>,
) -> Result<Json<Agenda>, ApiError> {
    let date = query
        .date
        .unwrap_or_else(|| nhip_domain::time::vn_date(deps.clock.now()));
    let period = query.period.unwrap_or(Period::Week);
    Ok(Json(of(&deps, &principal, period, date).await?))
}
