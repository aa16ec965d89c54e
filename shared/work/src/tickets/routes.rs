//! The tickets' staff routes.

use std::sync::Arc;

use axum::extract::State;
use nhip_core::auth::Principal;
use nhip_core::deps::Deps;
use nhip_core::http::{ApiError, Json, ListQuery, Path};
use nhip_core::openapi::Routes;
use nhip_core::routes;
use nhip_domain::journey::TicketQueue;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::calls::{self, CallLog, CallPlan, CallWindow};
use super::views::{self, QueueStats, StatsError, TicketView};
use super::workflow::{self, Reassign, StatusChange};
use super::{Ticket, assign};

/// The ticket routes, with the queue rules' and the working calendar's.
pub fn router() -> Routes<Arc<Deps>> {
    Routes::new()
        .routes(routes!(list_tickets))
        .routes(routes!(ticket_stats))
        .routes(routes!(get_ticket))
        .routes(routes!(change_status))
        .routes(routes!(reassign))
        .routes(routes!(plan_call))
        .routes(routes!(log_call))
        .merge(assign::router())
        .merge(crate::calendar::router())
}

/// Filters of the ticket list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TicketFilter {
    /// `queue` (a queue's, the default; needs `queue`), `mine`, `team` (the caller's team, or
    /// `team` for an admin), `overdue` (a queue's open tickets past due; needs `queue`) or
    /// `group` (a journey's or campaign's; needs `group`).
    #[param(pattern = "^(queue|mine|team|overdue|group)$")]
    pub view: Option<String>,
    /// `telesales`, `rm` or `cskh`.
    #[param(value_type = Option<nhip_core::openapi::TicketQueueSchema>, inline)]
    pub queue: Option<String>,
    /// A team's key, for `view=team`.
    #[param(max_length = 64)]
    pub team: Option<String>,
    /// `journey:<key>` or `campaign:<id>`, for `view=group`.
    #[param(max_length = 200)]
    pub group: Option<String>,
    /// Most tickets returned (1–200, default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

impl nhip_core::http::ListParams for TicketFilter {
    const DEFAULT_LIMIT: u32 = 50;
    const MAX_LIMIT: u32 = 200;

    fn requested_limit(&self) -> Option<u32> {
        self.limit
    }
}

/// A page of tickets.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TicketPage {
    /// Newest first (the overdue view: the longest overdue first).
    pub items: Vec<Ticket>,
}

fn invalid_query(field: &str, message: &str) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::BAD_REQUEST,
        "invalid_query",
        message.to_owned(),
    )
    .field(field, message)
}

/// The view a filter asks for, or why it is not one.
pub fn view_of(filter: &TicketFilter) -> Result<TicketView, ApiError> {
    let queue = || -> Result<TicketQueue, ApiError> {
        let raw = filter.queue.as_deref().unwrap_or_default();
        serde_json::from_value(json!(raw))
            .map_err(|_| invalid_query("queue", "Hàng đợi phải là telesales, rm hoặc cskh."))
    };
    match filter.view.as_deref().unwrap_or("queue") {
        "queue" => Ok(TicketView::Queue(queue()?)),
        "overdue" => Ok(TicketView::Overdue(queue()?)),
        "mine" => Ok(TicketView::Mine),
        "team" => Ok(TicketView::Team(filter.team.clone())),
        "group" => match filter.group.as_deref() {
            Some(group)
                if (group.starts_with("journey:") || group.starts_with("campaign:"))
                    && group.len() <= 200 =>
            {
                Ok(TicketView::Group(group.to_owned()))
            }
            _ => Err(invalid_query(
                "group",
                "Nhóm phải là journey:<mã> hoặc campaign:<mã>.",
            )),
        },
        _ => Err(invalid_query(
            "view",
            "Chế độ xem: queue, mine, team, overdue hoặc group.",
        )),
    }
}

/// `GET /v1/tickets`: a queue's tickets, mine, my team's, a queue's overdue ones, or a
/// journey's or campaign's, as far as the caller may see them.
#[utoipa::path(
    get,
    path = "/v1/tickets",
    tag = "tickets",
    security(("bearer" = [])),
    params(TicketFilter),
    responses(
        (status = 200, description = "The tickets.", body = TicketPage),
        nhip_core::openapi::QueryErrors,
    )
)]
pub async fn list_tickets(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    ListQuery(filter): ListQuery<TicketFilter>,
) -> Result<Json<TicketPage>, ApiError> {
    let view = view_of(&filter)?;
    let limit = nhip_core::http::ListParams::limit(&filter) as usize;
    Ok(Json(TicketPage {
        items: views::list(&deps, &principal, &view, limit).await?,
    }))
}

/// Every queue's counts.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StatsPage {
    /// One per queue.
    pub queues: Vec<QueueStats>,
}

/// `GET /v1/tickets/stats` (managers and admins): per queue, the tickets per status, the
/// escalated ones and the SLA compliance.
#[utoipa::path(
    get,
    path = "/v1/tickets/stats",
    tag = "tickets",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The counts.", body = StatsPage),
        nhip_core::openapi::StaffErrors,
    )
)]
async fn ticket_stats(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
) -> Result<Json<StatsPage>, ApiError> {
    match views::stats(&deps, &principal).await {
        Ok(queues) => Ok(Json(StatsPage { queues })),
        Err(StatsError::Forbidden) => Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "forbidden",
            "Only a manager or an admin reads the ticket counts.",
        )),
        Err(StatsError::Store(error)) => Err(error.into()),
    }
}

/// A ticket with when its customer may be called.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TicketDetail {
    /// The ticket.
    #[serde(flatten)]
    pub ticket: Ticket,
    /// When the agent may call now or next (an invitation call follows Decree 91).
    pub next_call: CallWindow,
}

/// `GET /v1/tickets/{id}`: the ticket, and when its customer may be called next.
#[utoipa::path(
    get,
    path = "/v1/tickets/{id}",
    tag = "tickets",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The ticket's id.")),
    responses(
        (status = 200, description = "The ticket.", body = TicketDetail),
        nhip_core::openapi::ReadErrors,
    )
)]
async fn get_ticket(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<TicketDetail>, ApiError> {
    let ticket = workflow::visible(&deps, &principal, &id).await?;
    let next_call = calls::next_allowed(&deps, &ticket, deps.clock.now()).await?;
    Ok(Json(TicketDetail { ticket, next_call }))
}

/// `POST /v1/tickets/{id}/status`: take a ticket (`in_progress`) or close it with its outcome.
#[utoipa::path(
    post,
    path = "/v1/tickets/{id}/status",
    tag = "tickets",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The ticket's id.")),
    request_body(content = StatusChange),
    responses(
        (status = 200, description = "Changed: the ticket as it now is.", body = Ticket),
        nhip_core::openapi::ChangeErrors,
    )
)]
async fn change_status(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
    Json(request): Json<StatusChange>,
) -> Result<Json<Ticket>, ApiError> {
    Ok(Json(
        workflow::change(&deps, &principal, &id, &request).await?,
    ))
}

/// `POST /v1/tickets/{id}/assignee` (managers and admins): give an open ticket to another
/// active member of staff.
#[utoipa::path(
    post,
    path = "/v1/tickets/{id}/assignee",
    tag = "tickets",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The ticket's id.")),
    request_body(content = Reassign),
    responses(
        (status = 200, description = "Reassigned: the ticket as it now is.", body = Ticket),
        nhip_core::openapi::ChangeErrors,
    )
)]
async fn reassign(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
    Json(request): Json<Reassign>,
) -> Result<Json<Ticket>, ApiError> {
    Ok(Json(
        workflow::reassign(&deps, &principal, &id, &request).await?,
    ))
}

/// `POST /v1/tickets/{id}/call-plan`: plan the call; an invitation call outside what Decree 91
/// allows answers 422 `outside_call_window` with `next_allowed_at`.
#[utoipa::path(
    post,
    path = "/v1/tickets/{id}/call-plan",
    tag = "tickets",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The ticket's id.")),
    request_body(content = CallPlan),
    responses(
        (status = 200, description = "Planned: the ticket as it now is.", body = Ticket),
        nhip_core::openapi::ChangeErrors,
    )
)]
async fn plan_call(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
    Json(request): Json<CallPlan>,
) -> Result<Json<Ticket>, ApiError> {
    Ok(Json(calls::plan(&deps, &principal, &id, &request).await?))
}

/// `POST /v1/tickets/{id}/calls`: log a call made on the ticket (on the customer's timeline);
/// a new ticket is taken by the caller.
#[utoipa::path(
    post,
    path = "/v1/tickets/{id}/calls",
    tag = "tickets",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The ticket's id.")),
    request_body(content = CallLog),
    responses(
        (status = 200, description = "Logged: the ticket as it now is.", body = Ticket),
        nhip_core::openapi::ChangeErrors,
    )
)]
async fn log_call(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
    Json(request): Json<CallLog>,
) -> Result<Json<Ticket>, ApiError> {
    Ok(Json(
        calls::log_call(&deps, &principal, &id, &request).await?,
    ))
}
