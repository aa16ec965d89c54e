//! The tasks' staff routes.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use nhip_core::auth::Principal;
use nhip_core::deps::Deps;
use nhip_core::http::{ApiError, Json, ListQuery, Path};
use nhip_core::openapi::Routes;
use nhip_core::routes;
use serde::{Deserialize, Serialize};

use super::{NewTask, Period, Progress, Task, TaskError, Whose};

/// The task routes.
pub fn router() -> Routes<Arc<Deps>> {
    Routes::new()
        .routes(routes!(create_task, list_tasks))
        .routes(routes!(task_progress))
        .routes(routes!(get_task))
        .routes(routes!(complete_task))
        .routes(routes!(comment_task))
}

impl From<TaskError> for ApiError {
    fn from(error: TaskError) -> Self {
        match error {
            TaskError::NotFound => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", "No such task.")
            }
            TaskError::NotYours => ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "You give tasks to yourself and to those who report to you, and see theirs.",
            ),
            TaskError::Invalid { field, message } => nhip_core::form::invalid(field, message),
            TaskError::Stale(current) => ApiError::stale_version(current),
            TaskError::Done => ApiError::new(
                StatusCode::CONFLICT,
                "task_done",
                "The task is already done.",
            ),
            TaskError::Store(error) => error.into(),
        }
    }
}

/// `POST /v1/tasks`: give a task (to yourself, or to someone who reports to you).
#[utoipa::path(
    post,
    path = "/v1/tasks",
    tag = "tasks",
    security(("bearer" = [])),
    request_body(content = NewTask),
    responses(
        (status = 201, description = "Given.", body = Task),
        nhip_core::openapi::CreateErrors,
    )
)]
async fn create_task(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Json(request): Json<NewTask>,
) -> Result<Response, ApiError> {
    let task = super::create(&deps, &principal, &request).await?;
    Ok((StatusCode::CREATED, Json(task)).into_response())
}

/// Filters of the task list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TaskFilter {
    /// `mine` (default: to do), `given` (those I gave), `company` (admins) or `of` (those of
    /// `assignee`, someone who reports to me).
    #[param(pattern = "^(mine|given|company|of)$")]
    pub view: Option<String>,
    /// For `view=of`.
    #[param(max_length = 64)]
    pub assignee: Option<String>,
    /// `day`, `week` (default) or `month`.
    #[param(inline)]
    pub period: Option<Period>,
    /// A day of the period, `YYYY-MM-DD` (default today in Viet Nam).
    #[param(value_type = Option<String>, format = Date)]
    pub date: Option<NaiveDate>,
    /// Most tasks (1–500, default 200).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

impl nhip_core::http::ListParams for TaskFilter {
    const DEFAULT_LIMIT: u32 = 200;
    const MAX_LIMIT: u32 = 500;

    fn requested_limit(&self) -> Option<u32> {
        self.limit
    }
}

/// A period's tasks.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TaskPage {
    /// The period's first instant (UTC).
    pub from: String,
    /// The instant after it.
    pub to: String,
    /// By deadline.
    pub items: Vec<Task>,
    /// Progress per person over the period.
    pub progress: Vec<Progress>,
}

/// The list a filter asks for.
pub fn whose_of(principal: &Principal, filter: &TaskFilter) -> Result<Whose, ApiError> {
    match filter.view.as_deref().unwrap_or("mine") {
        "mine" => Ok(Whose::AssignedTo(principal.user.clone())),
        "given" => Ok(Whose::GivenBy(principal.user.clone())),
        "company" => Ok(Whose::Company),
        "of" => match &filter.assignee {
            Some(user) => Ok(Whose::AssignedTo(user.clone())),
            None => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                "view=of needs assignee.",
            )
            .field("assignee", "Chọn người.")),
        },
        _ => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            "view is mine, given, company or of.",
        )
        .field("view", "mine, given, company hoặc of")),
    }
}

/// `GET /v1/tasks`: a day's, week's or month's tasks, mine, given by me, of someone who reports
/// to me, or the company's (admins), with the progress per person.
#[utoipa::path(
    get,
    path = "/v1/tasks",
    tag = "tasks",
    security(("bearer" = [])),
    params(TaskFilter),
    responses(
        (status = 200, description = "The period's tasks.", body = TaskPage),
        nhip_core::openapi::QueryErrors,
    )
)]
async fn list_tasks(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    ListQuery(filter): ListQuery<TaskFilter>,
) -> Result<Json<TaskPage>, ApiError> {
    let whose = whose_of(&principal, &filter)?;
    let now = deps.clock.now();
    let date = filter
        .date
        .unwrap_or_else(|| nhip_domain::time::vn_date(now));
    let (from, to) = super::period(filter.period.unwrap_or(Period::Week), date);
    let limit = nhip_core::http::ListParams::limit(&filter) as usize;
    let items = super::list(&deps, &principal, &whose, from, to, limit).await?;
    Ok(Json(TaskPage {
        from: nhip_core::keys::instant(from),
        to: nhip_core::keys::instant(to),
        progress: super::progress(&items, now),
        items,
    }))
}

/// `GET /v1/tasks/progress`: progress per person over a period, for the tasks I gave (a
/// manager) or the company's (admins).
#[utoipa::path(
    get,
    path = "/v1/tasks/progress",
    tag = "tasks",
    security(("bearer" = [])),
    params(TaskFilter),
    responses(
        (status = 200, description = "Per person.", body = Vec<Progress>),
        nhip_core::openapi::QueryErrors,
    )
)]
async fn task_progress(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    ListQuery(filter): ListQuery<TaskFilter>,
) -> Result<Json<Vec<Progress>>, ApiError> {
    let whose = whose_of(&principal, &filter)?;
    let now = deps.clock.now();
    let date = filter
        .date
        .unwrap_or_else(|| nhip_domain::time::vn_date(now));
    let (from, to) = super::period(filter.period.unwrap_or(Period::Month), date);
    let items = super::list(&deps, &principal, &whose, from, to, 500).await?;
    Ok(Json(super::progress(&items, now)))
}

/// `GET /v1/tasks/{id}`.
#[utoipa::path(
    get,
    path = "/v1/tasks/{id}",
    tag = "tasks",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The task's id.")),
    responses(
        (status = 200, description = "The task.", body = Task),
        nhip_core::openapi::ReadErrors,
    )
)]
async fn get_task(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Task>, ApiError> {
    Ok(Json(super::visible(&deps, &principal, &id).await?))
}

/// "Đã hoàn thành": the completion comment and the version read.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Completion {
    /// What was done (required, at most 5,000 characters).
    #[schema(min_length = 1, max_length = 5000)]
    pub comment: String,
    /// The task's version read.
    pub version: u64,
}

/// `POST /v1/tasks/{id}/complete`: the assignee marks it done; the assigner's bell rings.
#[utoipa::path(
    post,
    path = "/v1/tasks/{id}/complete",
    tag = "tasks",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The task's id.")),
    request_body(content = Completion),
    responses(
        (status = 200, description = "Done.", body = Task),
        nhip_core::openapi::ChangeErrors,
    )
)]
async fn complete_task(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
    Json(request): Json<Completion>,
) -> Result<Json<Task>, ApiError> {
    let task = super::complete(&deps, &principal, &id, &request.comment, request.version).await?;
    Ok(Json(task))
}

/// A comment.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewComment {
    /// 1–5,000 characters.
    #[schema(min_length = 1, max_length = 5000)]
    pub text: String,
}

/// `POST /v1/tasks/{id}/comments`: comment; the other side's bell rings.
#[utoipa::path(
    post,
    path = "/v1/tasks/{id}/comments",
    tag = "tasks",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The task's id.")),
    request_body(content = NewComment),
    responses(
        (status = 200, description = "Commented: the task as it now is.", body = Task),
        nhip_core::openapi::ChangeErrors,
    )
)]
async fn comment_task(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
    Json(request): Json<NewComment>,
) -> Result<Json<Task>, ApiError> {
    Ok(Json(
        super::comment(&deps, &principal, &id, &request.text).await?,
    ))
}
