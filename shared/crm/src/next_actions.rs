//! Next actions ("Đặt lịch làm việc"): a consultant schedules the next call, SMS, e-mail or
//! meeting with a customer; when it is due, the customer's owner gets a notification (the
//! bell). Each next action is an item in the customer's partition (`CUS#<id>` /
//! `NEXT#<action id>`) plus a due-work item the scheduler fires.

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
use nhip_core::scheduler::{self, Work};
use nhip_core::timeline;
use nhip_ports::store::{Condition, Index, Query, SortKey, StoreError, Update, WriteOp};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The next-action routes.
pub fn router() -> OpenApiRouter<Arc<Deps>> {
    OpenApiRouter::new().routes(routes!(list_next_actions, schedule_next_action))
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
    /// `scheduled`, then `due` once it fell due and the owner was notified.
    #[schema(pattern = "^(scheduled|due)$", example = "scheduled")]
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
        .map(|mut item| {
            for attr in [Index::Primary.pk_attr(), Index::Primary.sk_attr(), "kind"] {
                item.remove(attr);
            }
            Value::Object(item)
        })
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
