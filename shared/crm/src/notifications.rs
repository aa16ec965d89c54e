//! The bell: notifications for one staff member (a next action falling due, later an assigned
//! lead or a ticket), newest first, with an unread count kept as an atomic counter so the
//! badge costs one read. Notifying is idempotent per cause: a marker item written in the same
//! transaction makes a repeat a no-op.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use nhip_domain::ids::CustomerId;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use ulid::Ulid;

use crate::customers::list::count_new;
use nhip_core::auth::Principal;
use nhip_core::deps::Deps;
use nhip_core::http::{ApiError, Json, Path};
use nhip_core::keys;
use nhip_core::openapi::Routes;
use nhip_core::routes;
use nhip_ports::store::{Condition, Cursor, Index, Query, SortKey, StoreError, Update, WriteOp};

/// The bell's routes.
pub fn router() -> Routes<Arc<Deps>> {
    Routes::new()
        .routes(routes!(list_notifications))
        .routes(routes!(mark_read))
        .routes(routes!(mark_all_read))
}

/// What a notification says.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// One line, Vietnamese.
    pub title: String,
    /// Details.
    pub body: String,
    /// The customer it is about.
    pub customer_id: Option<CustomerId>,
    /// Where the screen should go.
    pub link: String,
}

/// Notifies `user` once per `cause`.
pub async fn notify(
    deps: &Deps,
    user: &str,
    cause: &str,
    notice: Notice,
) -> Result<(), StoreError> {
    let now = deps.clock.now();
    let id = Ulid::from_datetime(now.into()).to_string();
    let mut marker = keys::notification_marker(user, cause).to_item();
    marker.insert("kind".into(), "notification_marker".into());
    marker.insert("notification_id".into(), id.clone().into());
    let mut item = keys::notification(user, &id).to_item();
    item.insert("kind".into(), "notification".into());
    item.insert("id".into(), id.into());
    item.insert("title".into(), notice.title.into());
    item.insert("body".into(), notice.body.into());
    item.insert(
        "customer_id".into(),
        json!(notice.customer_id.map(|c| c.to_string())),
    );
    item.insert("link".into(), notice.link.into());
    item.insert("at".into(), keys::instant(now).into());
    item.insert("read".into(), false.into());
    let result = deps
        .store
        .transact(vec![
            WriteOp::Put {
                item: marker,
                condition: Condition::NotExists,
            },
            WriteOp::Put {
                item,
                condition: Condition::NotExists,
            },
            WriteOp::Update {
                key: keys::notification_counter(user),
                update: Update::new().add("unread", 1),
                condition: Condition::Always,
            },
        ])
        .await;
    match result {
        // The marker exists: this cause already notified.
        Err(StoreError::ConditionFailed { op: Some(0) }) => Ok(()),
        other => other,
    }
}

/// Unread notifications of `user`.
pub async fn unread(deps: &Deps, user: &str) -> Result<i64, StoreError> {
    Ok(deps
        .store
        .get(&keys::notification_counter(user))
        .await?
        .and_then(|item| item.get("unread")?.as_i64())
        .unwrap_or(0)
        .max(0))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListParams {
    /// Items per page, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// Where the previous page stopped.
    cursor: Option<String>,
}

impl nhip_core::http::ListParams for ListParams {
    const DEFAULT_LIMIT: u32 = 20;
    const MAX_LIMIT: u32 = 100;

    fn requested_limit(&self) -> Option<u32> {
        self.limit
    }
}

/// One notification.
#[derive(utoipa::ToSchema)]
pub struct Notification {
    /// Its id (a ULID).
    pub id: String,
    /// One line, Vietnamese.
    pub title: String,
    /// Details.
    pub body: String,
    /// The customer it is about.
    pub customer_id: Option<String>,
    /// That customer's name, joined when read (absent once the customer is gone); the title
    /// then ends with it.
    pub customer_name: Option<String>,
    /// Where the screen should go, e.g. `/v1/customers/<id>`.
    pub link: String,
    /// When it was sent, UTC.
    pub at: DateTime<Utc>,
    /// Whether the caller has read it.
    pub read: bool,
    /// When it was read.
    pub read_at: Option<DateTime<Utc>>,
}

/// One page of the caller's notifications.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct NotificationPage {
    /// Unread notifications.
    pub unread: i64,
    /// Leads in the caller's scope nobody has consulted yet.
    pub not_consulted: u64,
    /// Newest first: each notification as stored, without its keys.
    #[schema(value_type = Vec<Notification>)]
    pub items: Vec<Value>,
    /// Pass as `cursor` for the next page; absent or null on the last.
    pub next_cursor: Option<String>,
}

/// The unread count after marking one read.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Unread {
    /// Unread notifications.
    pub unread: i64,
}

/// The answer to marking everything read.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct MarkedRead {
    /// How many were marked now.
    pub marked: u64,
    /// Unread notifications (0 unless new ones arrived meanwhile).
    pub unread: i64,
}

/// `GET /v1/me/notifications`: the caller's notifications, newest first, with the unread count
/// and how many leads in their scope nobody has consulted yet ("KH mới chưa tư vấn").
#[utoipa::path(
    get,
    path = "/v1/me/notifications",
    tag = "notifications",
    security(("bearer" = [])),
    params(ListParams),
    responses(
        (status = 200, description = "One page of the caller's notifications, newest first.", body = NotificationPage),
        nhip_core::openapi::QueryErrors,
    )
)]
async fn list_notifications(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    nhip_core::http::ListQuery(params): nhip_core::http::ListQuery<ListParams>,
) -> Result<Json<NotificationPage>, ApiError> {
    let limit = nhip_core::http::ListParams::limit(&params);
    let cursor = params.cursor.map(Cursor::from_client);
    Ok(Json(page(&deps, &principal, limit, cursor).await?))
}

/// One page of `principal`'s notifications, newest first, each titled with its customer's
/// name while the customer exists, with the unread count and the leads nobody consulted yet.
pub async fn page(
    deps: &Deps,
    principal: &Principal,
    limit: u32,
    cursor: Option<Cursor>,
) -> Result<NotificationPage, StoreError> {
    let page = deps
        .store
        .query(
            Query::partition(Index::Primary, keys::user_pk(&principal.user))
                .sk(SortKey::BeginsWith(keys::NOTIFICATION_PREFIX.into()))
                .descending()
                .limit(limit)
                .after(cursor),
        )
        .await?;
    let customers: Vec<nhip_ports::Key> = page
        .items
        .iter()
        .filter_map(|item| {
            item.get("customer_id")?
                .as_str()?
                .parse::<CustomerId>()
                .ok()
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .map(keys::customer)
        .collect();
    let names: std::collections::HashMap<String, String> = deps
        .store
        .batch_get(&customers)
        .await?
        .into_iter()
        .filter_map(|item| {
            let id = item.get("id")?.as_str()?.to_owned();
            let name = item.get("full_name")?.as_str()?.to_owned();
            Some((id, name))
        })
        .collect();
    let items: Vec<Value> = page
        .items
        .into_iter()
        .map(|mut item| {
            for attr in [Index::Primary.pk_attr(), Index::Primary.sk_attr(), "kind"] {
                item.remove(attr);
            }
            let name = item
                .get("customer_id")
                .and_then(Value::as_str)
                .and_then(|id| names.get(id));
            if let Some(name) = name {
                let title = item
                    .get("title")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let title = format!("{title}: {name}");
                item.insert("customer_name".into(), name.clone().into());
                item.insert("title".into(), title.into());
            }
            Value::Object(item)
        })
        .collect();
    Ok(NotificationPage {
        unread: unread(deps, &principal.user).await?,
        not_consulted: count_new(&*deps.store, principal).await?,
        items,
        next_cursor: page.next.as_ref().map(|c| c.as_str().to_owned()),
    })
}

async fn read_one(deps: &Deps, user: &str, id: &str) -> Result<bool, StoreError> {
    let result = deps
        .store
        .transact(vec![
            WriteOp::Update {
                key: keys::notification(user, id),
                update: Update::new()
                    .set("read", true)
                    .set("read_at", keys::instant(deps.clock.now())),
                condition: Condition::Equals("read".into(), Value::Bool(false)),
            },
            WriteOp::Update {
                key: keys::notification_counter(user),
                update: Update::new().add("unread", -1),
                condition: Condition::Exists,
            },
        ])
        .await;
    match result {
        Ok(()) => Ok(true),
        // Already read, or no such notification.
        Err(StoreError::ConditionFailed { .. }) => Ok(false),
        Err(other) => Err(other),
    }
}

/// `POST /v1/me/notifications/{id}/read`: marks one read (reading twice is harmless).
#[utoipa::path(
    post,
    path = "/v1/me/notifications/{id}/read",
    tag = "notifications",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The notification's id (a ULID).")),
    responses(
        (status = 200, description = "Read; the unread count.", body = Unread),
        nhip_core::openapi::ReadErrors,
        (status = 409, response = nhip_core::openapi::Conflict),
    )
)]
async fn mark_read(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Unread>, ApiError> {
    if id.parse::<Ulid>().is_err()
        || deps
            .store
            .get(&keys::notification(&principal.user, &id))
            .await?
            .is_none()
    {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "No such notification.",
        ));
    }
    read_one(&deps, &principal.user, &id).await?;
    Ok(Json(Unread {
        unread: unread(&deps, &principal.user).await?,
    }))
}

/// `POST /v1/me/notifications/read-all`: marks every notification of the caller read.
#[utoipa::path(
    post,
    path = "/v1/me/notifications/read-all",
    tag = "notifications",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Marked; how many, and the unread count.", body = MarkedRead),
        nhip_core::openapi::StaffErrors,
        (status = 409, response = nhip_core::openapi::Conflict),
    )
)]
async fn mark_all_read(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
) -> Result<Json<MarkedRead>, ApiError> {
    Ok(Json(mark_all(&deps, &principal.user).await?))
}

/// Marks every notification of `user` read: the use case behind the route and the console.
pub async fn mark_all(deps: &Deps, user: &str) -> Result<MarkedRead, StoreError> {
    let mut cursor = None;
    let mut marked = 0;
    loop {
        let page = deps
            .store
            .query(
                Query::partition(Index::Primary, keys::user_pk(user))
                    .sk(SortKey::BeginsWith(keys::NOTIFICATION_PREFIX.into()))
                    .limit(200)
                    .after(cursor),
            )
            .await?;
        for item in &page.items {
            if item.get("read") == Some(&Value::Bool(false))
                && let Some(id) = item.get("id").and_then(Value::as_str)
                && read_one(deps, user, id).await?
            {
                marked += 1;
            }
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    Ok(MarkedRead {
        marked,
        unread: unread(deps, user).await?,
    })
}
