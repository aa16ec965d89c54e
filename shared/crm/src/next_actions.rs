//! Next actions ("Đặt lịch làm việc"): a consultant schedules the next call, SMS, e-mail or
//! meeting with a customer; when it is due, the customer's owner gets a notification (the
//! bell). Each next action is an item in the customer's partition (`CUS#<id>` /
//! `NEXT#<action id>`) plus a due-work item the scheduler fires; the item is also on gsi2
//! under `AGENDA#<who scheduled it>`, sorted by when it is due, so a staff member's agenda
//! ("Lịch làm việc") across customers is one range read. A next action is completed (the
//! interaction logged in the same step when asked), rescheduled or cancelled.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use nhip_domain::ids::{CustomerId, DueWorkId};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::customers::repo;
use crate::customers::routes::load_visible;
use crate::notifications;
use nhip_core::auth::Principal;
use nhip_core::deps::Deps;
use nhip_core::http::{ApiError, Json, Path};
use nhip_core::keys;
use nhip_core::openapi::Routes;
use nhip_core::routes;
use nhip_core::scheduler::{self, Work};
use nhip_core::timeline;
use nhip_ports::store::{Condition, Index, Query, SortKey, StoreError, Update, WriteOp};

/// The next-action routes.
pub fn router() -> Routes<Arc<Deps>> {
    Routes::new()
        .routes(routes!(list_next_actions, schedule_next_action))
        .routes(routes!(complete_next_action))
        .routes(routes!(reschedule_next_action))
        .routes(routes!(cancel_next_action))
}

/// What the consultant will do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Call the customer.
    Call,
    /// Send an SMS.
    Sms,
    /// Send an e-mail.
    Email,
    /// Meet.
    Meeting,
}

impl ActionKind {
    /// Vietnamese label for the bell.
    pub fn label(self) -> &'static str {
        match self {
            ActionKind::Call => "Gọi điện",
            ActionKind::Sms => "Nhắn tin SMS",
            ActionKind::Email => "Gửi email",
            ActionKind::Meeting => "Gặp mặt",
        }
    }
}

/// A next action to schedule.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNextAction {
    /// Call, SMS, e-mail or meeting.
    #[serde(rename = "type")]
    pub kind: ActionKind,
    /// When (UTC or with an offset, e.g. `2026-11-24T09:00:00+07:00`).
    pub at: DateTime<Utc>,
    /// What to do.
    #[serde(default)]
    pub note: Option<String>,
}

/// A scheduled next action, as answered and listed (and stored, with its keys).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct NextAction {
    /// The action's id (a ULID).
    pub id: String,
    /// Call, SMS, e-mail or meeting.
    #[serde(rename = "type")]
    #[schema(rename = "type")]
    pub kind: ActionKind,
    /// The kind in Vietnamese.
    #[schema(example = "Gọi điện")]
    pub label: &'static str,
    /// When it is due, UTC (the key scheme's instant: milliseconds, `Z`).
    #[schema(value_type = DateTime<Utc>)]
    pub at: String,
    /// What to do.
    pub note: Option<String>,
    /// Who scheduled it.
    pub scheduled_by: String,
    /// `scheduled`, then `due` once it fell due and the owner was notified; `done` or
    /// `cancelled` once staff said so.
    #[schema(pattern = "^(scheduled|due|done|cancelled)$", example = "scheduled")]
    pub status: String,
}

/// A customer's next actions.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct NextActionList {
    /// Soonest first: each action as stored (it may carry when it fell due), without its keys.
    #[schema(value_type = Vec<NextAction>)]
    pub items: Vec<Value>,
}

/// `POST /v1/customers/{id}/next-actions`: 201 with the scheduled action.
#[utoipa::path(
    post,
    path = "/v1/customers/{id}/next-actions",
    tag = "next-actions",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The customer's id (a ULID).")),
    request_body(content = NewNextAction),
    responses(
        (status = 201, description = "Scheduled.", body = NextAction),
        nhip_core::openapi::ChangeErrors,
    )
)]
async fn schedule_next_action(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
    Json(request): Json<NewNextAction>,
) -> Result<Response, ApiError> {
    let customer = load_visible(&deps, &principal, &id).await?;
    let action = schedule(&deps, &principal, customer.id, &request).await?;
    Ok((StatusCode::CREATED, Json(action)).into_response())
}

/// Why a next action could not be scheduled.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// `at` is in the past (a minute of clock skew is forgiven).
    #[error("a next action is scheduled in the future")]
    InPast,
    /// The note is longer than 1,000 characters.
    #[error("the note is too long")]
    NoteTooLong,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ScheduleError> for ApiError {
    fn from(error: ScheduleError) -> Self {
        let invalid = |message: &'static str, field: &str, problem: &str| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                message,
            )
            .field(field, problem)
        };
        match error {
            ScheduleError::InPast => invalid(
                "A next action is scheduled in the future.",
                "at",
                "Thời điểm phải ở tương lai.",
            ),
            ScheduleError::NoteTooLong => {
                invalid("The note is too long.", "note", "Tối đa 1000 ký tự.")
            }
            ScheduleError::Store(error) => error.into(),
        }
    }
}

/// Schedules a next action with `customer` for `principal`: the action item, its due work
/// and its timeline entry in one transaction.
pub async fn schedule(
    deps: &Deps,
    principal: &Principal,
    customer: CustomerId,
    request: &NewNextAction,
) -> Result<NextAction, ScheduleError> {
    let now = deps.clock.now();
    if request.at < now - chrono::Duration::minutes(1) {
        return Err(ScheduleError::InPast);
    }
    if request
        .note
        .as_ref()
        .is_some_and(|n| n.chars().count() > 1000)
    {
        return Err(ScheduleError::NoteTooLong);
    }
    let due_id = DueWorkId::new_at(now);
    let action_id = due_id.to_string();
    let action = NextAction {
        id: action_id.clone(),
        kind: request.kind,
        label: request.kind.label(),
        at: keys::instant(request.at),
        note: request.note.clone(),
        scheduled_by: principal.user.clone(),
        status: "scheduled".into(),
    };
    let data = json!(action);
    let mut item = keys::next_action(customer, &action_id).to_item();
    item.insert("kind".into(), "next_action".into());
    if let Value::Object(fields) = &data {
        item.extend(fields.clone());
    }
    item.insert("customer_id".into(), customer.to_string().into());
    place_on_agenda(&mut item, &principal.user, request.at, &action_id);
    let entry = timeline::Entry {
        customer,
        at: now,
        cause: format!("next#{action_id}"),
        event_type: nhip_core::event_types::NEXT_ACTION_SCHEDULED.into(),
        source: "staff_api".into(),
        actor: Some(principal.user.clone()),
        data,
    };
    let work = Work::NextAction {
        customer_id: customer.to_string(),
        action_id: action_id.clone(),
    };
    deps.store
        .transact(vec![
            WriteOp::Put {
                item,
                condition: Condition::NotExists,
            },
            scheduler::schedule(due_id, request.at, now, &work),
            entry.write(now),
        ])
        .await?;
    Ok(action)
}

/// `GET /v1/customers/{id}/next-actions`: scheduled and done, soonest first.
#[utoipa::path(
    get,
    path = "/v1/customers/{id}/next-actions",
    tag = "next-actions",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The customer's id (a ULID).")),
    responses(
        (status = 200, description = "Scheduled and done, soonest first.", body = NextActionList),
        nhip_core::openapi::ReadErrors,
    )
)]
async fn list_next_actions(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<NextActionList>, ApiError> {
    let customer = load_visible(&deps, &principal, &id).await?;
    Ok(Json(NextActionList {
        items: of_customer(&deps, customer.id).await?,
    }))
}

/// A customer's next actions, scheduled and done, soonest first, each as stored without its
/// keys.
pub async fn of_customer(deps: &Deps, customer: CustomerId) -> Result<Vec<Value>, StoreError> {
    let page = deps
        .store
        .query(
            Query::partition(Index::Primary, keys::customer_pk(customer))
                .sk(SortKey::BeginsWith(keys::NEXT_ACTION_PREFIX.into()))
                .limit(200),
        )
        .await?;
    let mut items: Vec<Value> = page
        .items
        .into_iter()
        .map(|item| Value::Object(as_listed(item)))
        .collect();
    items.sort_by(|a, b| a["at"].as_str().cmp(&b["at"].as_str()));
    Ok(items)
}

/// Fires a due next action: marks it due and notifies the customer's owner (or, with no
/// owner, whoever scheduled it). Keyed by the due item's id, so firing twice notifies once.
pub async fn fire(
    deps: &Deps,
    due: DueWorkId,
    customer_id: &str,
    action_id: &str,
) -> Result<(), StoreError> {
    let Ok(customer_id) = customer_id.parse::<CustomerId>() else {
        return Err(StoreError::invalid(
            "next action with a malformed customer id",
        ));
    };
    let key = keys::next_action(customer_id, action_id);
    let Some(action) = deps.store.get(&key).await? else {
        // Erased with the customer: nothing to remind anyone of.
        return Ok(());
    };
    // Done, cancelled, or rescheduled to later (its new due item fires then): nothing now.
    let still_scheduled = action.get("status").and_then(Value::as_str) == Some("scheduled");
    let due_now = action
        .get("at")
        .and_then(Value::as_str)
        .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
        .is_none_or(|at| at.to_utc() <= deps.clock.now() + chrono::Duration::minutes(1));
    if !still_scheduled || !due_now {
        return Ok(());
    }
    let customer = repo::get(&*deps.store, customer_id).await?;
    let recipient = customer
        .as_ref()
        .and_then(|c| c.owner.clone())
        .or_else(|| action.get("scheduled_by")?.as_str().map(str::to_owned));
    if let (Some(recipient), Some(customer)) = (recipient, customer.as_ref())
        && customer.erased_at.is_none()
    {
        let text = |name: &str| action.get(name).and_then(Value::as_str).unwrap_or_default();
        // The customer's name is joined when the bell is read, never stored in the user's
        // partition, where erasing the customer could not reach it.
        let title = text("label").to_owned();
        notifications::notify(
            deps,
            &recipient,
            &format!("due#{due}"),
            notifications::Notice {
                title,
                body: text("note").to_owned(),
                customer_id: Some(customer.id),
                link: format!("/v1/customers/{}", customer.id),
            },
        )
        .await?;
    }
    match deps
        .store
        .update(&key, Update::new().set("status", "due"), Condition::Exists)
        .await
    {
        Ok(_) | Err(StoreError::ConditionFailed { .. }) => Ok(()),
        Err(other) => Err(other),
    }
}

/// A next action as listed: its fields without its keys and index attributes.
fn as_listed(mut item: nhip_ports::store::Item) -> nhip_ports::store::Item {
    for attr in [
        Index::Primary.pk_attr(),
        Index::Primary.sk_attr(),
        Index::Gsi2.pk_attr(),
        Index::Gsi2.sk_attr(),
        "kind",
        "customer_id",
    ] {
        item.remove(attr);
    }
    item
}

/// The condition of a change to a next action: it is there, neither done nor cancelled.
fn still_open() -> Condition {
    Condition::All(vec![
        Condition::Exists,
        Condition::LacksAttr("closed_at".into()),
    ])
}

fn place_on_agenda(
    item: &mut nhip_ports::store::Item,
    user: &str,
    at: DateTime<Utc>,
    action_id: &str,
) {
    item.insert(Index::Gsi2.pk_attr().into(), keys::agenda(user).into());
    item.insert(
        Index::Gsi2.sk_attr().into(),
        format!("{}#{action_id}", keys::instant(at)).into(),
    );
}

/// One next action on a staff member's agenda.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AgendaAction {
    /// The customer.
    pub customer_id: String,
    /// The action as stored (`id`, `type`, `label`, `at`, `note`, `status`).
    #[schema(value_type = NextAction)]
    pub action: Value,
    /// Still to do and past its time.
    pub overdue: bool,
}

/// `user`'s next actions due in `[from, to)`, soonest first (at most `limit`).
pub async fn agenda(
    deps: &Deps,
    user: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<AgendaAction>, StoreError> {
    let page = deps
        .store
        .query(
            Query::partition(Index::Gsi2, keys::agenda(user))
                .sk(SortKey::Between(keys::instant(from), keys::instant(to)))
                .limit(limit),
        )
        .await?;
    let now = deps.clock.now();
    Ok(page
        .items
        .into_iter()
        .filter_map(|item| {
            let customer_id = item.get("customer_id")?.as_str()?.to_owned();
            let item = as_listed(item);
            let at = item
                .get("at")
                .and_then(Value::as_str)
                .and_then(|at| DateTime::parse_from_rfc3339(at).ok())?
                .to_utc();
            if at < from || at >= to {
                return None;
            }
            let open = matches!(
                item.get("status").and_then(Value::as_str),
                Some("scheduled" | "due")
            );
            Some(AgendaAction {
                customer_id,
                overdue: open && at < now,
                action: Value::Object(item),
            })
        })
        .collect())
}

/// Why a next action could not be changed.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// No such action on the customer.
    #[error("no such next action")]
    NotFound,
    /// Done or cancelled already.
    #[error("the next action is {0}")]
    Closed(String),
    /// A new time in the past.
    #[error("a next action is scheduled in the future")]
    InPast,
    /// The interaction logged with the completion was refused.
    #[error("{}", .0.message)]
    Interaction(ApiError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ChangeError> for ApiError {
    fn from(error: ChangeError) -> Self {
        match error {
            ChangeError::NotFound => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", "No such next action.")
            }
            ChangeError::Closed(status) => ApiError::new(
                StatusCode::CONFLICT,
                "next_action_closed",
                format!("The next action is {status}."),
            ),
            ChangeError::InPast => ScheduleError::InPast.into(),
            ChangeError::Interaction(error) => error,
            ChangeError::Store(error) => error.into(),
        }
    }
}

/// The action, if it is still to do (scheduled or due), with its stored item.
async fn open_action(
    deps: &Deps,
    customer: CustomerId,
    action_id: &str,
) -> Result<nhip_ports::store::Item, ChangeError> {
    let item = deps
        .store
        .get(&keys::next_action(customer, action_id))
        .await?
        .ok_or(ChangeError::NotFound)?;
    match item.get("status").and_then(Value::as_str) {
        Some("scheduled" | "due") => Ok(item),
        other => Err(ChangeError::Closed(other.unwrap_or("closed").to_owned())),
    }
}

/// Changes an open action's status (and more `fields`), with its timeline entry.
async fn close_action(
    deps: &Deps,
    principal: &Principal,
    customer: CustomerId,
    action_id: &str,
    status: &str,
    event_type: &str,
    extra: Value,
) -> Result<(), ChangeError> {
    let now = deps.clock.now();
    let entry = timeline::Entry {
        customer,
        at: now,
        cause: format!("next#{action_id}#{status}"),
        event_type: event_type.into(),
        source: "staff_api".into(),
        actor: Some(principal.user.clone()),
        data: json!({"action_id": action_id, "status": status, "details": extra}),
    };
    let result = deps
        .store
        .transact(vec![
            WriteOp::Update {
                key: keys::next_action(customer, action_id),
                update: Update::new()
                    .set("status", status)
                    .set(format!("{status}_at"), keys::instant(now))
                    .set(format!("{status}_by"), principal.user.clone())
                    .set("closed_at", keys::instant(now)),
                condition: still_open(),
            },
            entry.write(now),
        ])
        .await;
    match result {
        Ok(()) => Ok(()),
        Err(StoreError::ConditionFailed { .. }) => Err(ChangeError::Closed("changed".into())),
        Err(other) => Err(other.into()),
    }
}

/// Completes a next action of a customer `principal` may see; `log` logs the interaction
/// (the call made, the meeting held) in the same step.
pub async fn complete(
    deps: &Deps,
    principal: &Principal,
    customer: &str,
    action_id: &str,
    log: Option<&crate::customers::interactions::NewInteraction>,
) -> Result<(), ChangeError> {
    let visible = load_visible(deps, principal, customer)
        .await
        .map_err(|_| ChangeError::NotFound)?;
    open_action(deps, visible.id, action_id).await?;
    if let Some(log) = log {
        crate::customers::interactions::log(deps, principal, customer, log)
            .await
            .map_err(ChangeError::Interaction)?;
    }
    close_action(
        deps,
        principal,
        visible.id,
        action_id,
        "done",
        nhip_core::event_types::NEXT_ACTION_DONE,
        json!({"logged": log.is_some()}),
    )
    .await
}

/// Cancels a next action.
pub async fn cancel(
    deps: &Deps,
    principal: &Principal,
    customer: &str,
    action_id: &str,
) -> Result<(), ChangeError> {
    let visible = load_visible(deps, principal, customer)
        .await
        .map_err(|_| ChangeError::NotFound)?;
    open_action(deps, visible.id, action_id).await?;
    close_action(
        deps,
        principal,
        visible.id,
        action_id,
        "cancelled",
        nhip_core::event_types::NEXT_ACTION_CANCELLED,
        Value::Null,
    )
    .await
}

/// Moves a next action to `at` (in the future): a new due item fires then; the old one finds
/// it moved and does nothing.
pub async fn reschedule(
    deps: &Deps,
    principal: &Principal,
    customer: &str,
    action_id: &str,
    at: DateTime<Utc>,
) -> Result<(), ChangeError> {
    let now = deps.clock.now();
    if at < now - chrono::Duration::minutes(1) {
        return Err(ChangeError::InPast);
    }
    let visible = load_visible(deps, principal, customer)
        .await
        .map_err(|_| ChangeError::NotFound)?;
    let item = open_action(deps, visible.id, action_id).await?;
    let owner = item
        .get(Index::Gsi2.pk_attr())
        .and_then(Value::as_str)
        .and_then(|pk| pk.strip_prefix("AGENDA#"))
        .or_else(|| item.get("scheduled_by").and_then(Value::as_str))
        .unwrap_or(principal.user.as_str())
        .to_owned();
    let before = item.get("at").cloned().unwrap_or(Value::Null);
    let mut moved = nhip_ports::store::Item::new();
    place_on_agenda(&mut moved, &owner, at, action_id);
    let mut update = Update::new()
        .set("at", keys::instant(at))
        .set("status", "scheduled");
    for (name, value) in moved {
        update = update.set(name, value);
    }
    let work = Work::NextAction {
        customer_id: visible.id.to_string(),
        action_id: action_id.to_owned(),
    };
    let entry = timeline::Entry {
        customer: visible.id,
        at: now,
        cause: format!("next#{action_id}#moved#{}", keys::instant(at)),
        event_type: nhip_core::event_types::NEXT_ACTION_RESCHEDULED.into(),
        source: "staff_api".into(),
        actor: Some(principal.user.clone()),
        data: json!({"action_id": action_id, "from": before, "to": keys::instant(at)}),
    };
    let result = deps
        .store
        .transact(vec![
            WriteOp::Update {
                key: keys::next_action(visible.id, action_id),
                update,
                condition: still_open(),
            },
            scheduler::schedule(
                scheduler::derived_id(at, &format!("next#{action_id}")),
                at,
                now,
                &work,
            ),
            entry.write(now),
        ])
        .await;
    match result {
        Ok(()) => Ok(()),
        Err(StoreError::ConditionFailed { op: Some(0) }) => {
            Err(ChangeError::Closed("changed".into()))
        }
        // The same move asked twice: already there.
        Err(StoreError::ConditionFailed { .. }) => Ok(()),
        Err(other) => Err(other.into()),
    }
}

/// Completing a next action: optionally, the interaction to log with it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteAction {
    /// The interaction (the call made, the meeting held) to log in the same step.
    #[serde(default)]
    pub interaction: Option<crate::customers::interactions::NewInteraction>,
}

/// `POST /v1/customers/{id}/next-actions/{action}/complete`.
#[utoipa::path(
    post,
    path = "/v1/customers/{id}/next-actions/{action}/complete",
    tag = "next-actions",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "The customer's id (a ULID)."),
        ("action" = String, Path, description = "The next action's id."),
    ),
    request_body(content = CompleteAction),
    responses(
        (status = 204, description = "Done."),
        nhip_core::openapi::ChangeErrors,
    )
)]
async fn complete_next_action(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path((id, action)): Path<(String, String)>,
    Json(request): Json<CompleteAction>,
) -> Result<StatusCode, ApiError> {
    complete(
        &deps,
        &principal,
        &id,
        &action,
        request.interaction.as_ref(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new time for a next action.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RescheduleAction {
    /// When (in the future).
    #[schema(value_type = String)]
    pub at: DateTime<Utc>,
}

/// `POST /v1/customers/{id}/next-actions/{action}/reschedule`.
#[utoipa::path(
    post,
    path = "/v1/customers/{id}/next-actions/{action}/reschedule",
    tag = "next-actions",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "The customer's id (a ULID)."),
        ("action" = String, Path, description = "The next action's id."),
    ),
    request_body(content = RescheduleAction),
    responses(
        (status = 204, description = "Moved."),
        nhip_core::openapi::ChangeErrors,
    )
)]
async fn reschedule_next_action(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path((id, action)): Path<(String, String)>,
    Json(request): Json<RescheduleAction>,
) -> Result<StatusCode, ApiError> {
    reschedule(&deps, &principal, &id, &action, request.at).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/customers/{id}/next-actions/{action}/cancel`.
#[utoipa::path(
    post,
    path = "/v1/customers/{id}/next-actions/{action}/cancel",
    tag = "next-actions",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "The customer's id (a ULID)."),
        ("action" = String, Path, description = "The next action's id."),
    ),
    responses(
        (status = 204, description = "Cancelled."),
        nhip_core::openapi::ChangeErrors,
    )
)]
async fn cancel_next_action(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path((id, action)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    cancel(&deps, &principal, &id, &action).await?;
    Ok(StatusCode::NO_CONTENT)
}
