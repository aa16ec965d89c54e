//! Tickets for staff: a journey hands a warm lead or a stuck customer to Telesales, a
//! relationship manager or customer service, with a priority and a time to handle it (SLA).
//!
//! A journey's ticket step puts the ticket on the `tickets` queue ([`enqueue`]); the ticket
//! creator (function `ticket-creator`, [`handle_batch`]) opens it ([`create`]), so ticket
//! creation scales, retries and dead-letters on its own, apart from the journey worker.
//!
//! `TCK#<id>` / `TCK` holds the ticket, listed by queue on gsi1 (`TCKQ#<queue>`, newest
//! first); `CUS#<customer>` / `TCK#<id>` points to it from the customer (export, erase); the
//! customer's timeline gets `ticket.created`, which the events consumer forwards to the bus.
//! The id is derived from the cause (`journey#<enrollment>#<step>#<visit>`) and every write is
//! create-only, so a repeated step opens one ticket.

use std::sync::Arc;

use axum::extract::State;
use chrono::{DateTime, Utc};
use nhip_domain::event::DomainEvent;
use nhip_domain::ids::CustomerId;
use nhip_domain::journey::{TicketPriority, TicketQueue};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use nhip_core::auth::Principal;
use nhip_core::deps::Deps;
use nhip_core::http::{ApiError, Json};
use nhip_core::keys;
use nhip_ports::store::{Condition, Index, Query, StoreError, WriteOp};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Kind attribute of ticket items.
pub const KIND: &str = "ticket";

/// A ticket to open, as it travels on the `tickets` queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewTicket {
    /// What opened it; the same cause opens one ticket.
    pub cause: String,
    /// The customer.
    pub customer_id: CustomerId,
    /// The team.
    pub queue: TicketQueue,
    /// How urgent.
    pub priority: TicketPriority,
    /// When it should be handled by.
    pub due_at: DateTime<Utc>,
    /// What to do.
    pub title: String,
    /// Where it came from (the journey, step and enrollment).
    pub source: Value,
    /// The staff member it goes to, when known (the customer's RM).
    pub assignee: Option<String>,
}

/// A ticket as stored and listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Ticket {
    /// Id (from its cause).
    pub id: String,
    /// The customer.
    pub customer_id: String,
    /// `telesales`, `rm` or `cskh`.
    #[schema(value_type = String)]
    pub queue: TicketQueue,
    /// The team's name in Vietnamese.
    pub queue_label: String,
    /// `low`, `normal`, `high`, `urgent`.
    #[schema(value_type = String)]
    pub priority: TicketPriority,
    /// What to do.
    pub title: String,
    /// `new` (Mới) until staff take it.
    pub status: String,
    /// The status in Vietnamese.
    pub status_label: String,
    /// The staff member it goes to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    /// Where it came from.
    #[schema(value_type = Object)]
    pub source: Value,
    /// Opened (UTC).
    #[schema(value_type = String)]
    pub created_at: DateTime<Utc>,
    /// To be handled by (UTC).
    #[schema(value_type = String)]
    pub due_at: DateTime<Utc>,
    /// The outcome staff recorded when closing it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome_note: Option<String>,
    /// When it was closed (UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub closed_at: Option<DateTime<Utc>>,
    /// Optimistic-concurrency version: a status change names the one it read.
    #[serde(default = "first_version")]
    pub version: u64,
    /// Later requests of the same journey or campaign for the customer while this one was
    /// open: one ticket, with a note per request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<TicketNote>,
}

/// A later request folded into an open ticket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TicketNote {
    /// When it came (UTC).
    #[schema(value_type = String)]
    pub at: DateTime<Utc>,
    /// What it asked.
    pub text: String,
    /// What caused it (the journey step or campaign), so a redelivery adds no second note.
    pub cause: String,
}

/// The group a ticket is one-open-at-a-time in, for its customer: its journey or campaign.
fn open_group(source: &Value) -> Option<String> {
    let text = |name: &str| {
        source
            .get(name)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
    };
    match text("kind") {
        Some("journey") => text("journey").map(|key| format!("journey:{key}")),
        Some("campaign") => text("campaign").map(|id| format!("campaign:{id}")),
        _ => None,
    }
}

fn first_version() -> u64 {
    1
}

/// Where a ticket stands: `new` until someone takes it, `in_progress` while it is worked,
/// then closed with an outcome: `won` (the customer registered), `lost` or `unreachable`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    /// Mới.
    New,
    /// Đang xử lý.
    InProgress,
    /// Thành công: the customer registered.
    Won,
    /// Không thành công.
    Lost,
    /// Không liên lạc được.
    Unreachable,
}

impl TicketStatus {
    /// Every status.
    pub const ALL: [TicketStatus; 5] = [
        TicketStatus::New,
        TicketStatus::InProgress,
        TicketStatus::Won,
        TicketStatus::Lost,
        TicketStatus::Unreachable,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            TicketStatus::New => "new",
            TicketStatus::InProgress => "in_progress",
            TicketStatus::Won => "won",
            TicketStatus::Lost => "lost",
            TicketStatus::Unreachable => "unreachable",
        }
    }

    /// What staff see.
    pub fn label(self) -> &'static str {
        match self {
            TicketStatus::New => "Mới",
            TicketStatus::InProgress => "Đang xử lý",
            TicketStatus::Won => "Thành công (đã đăng ký)",
            TicketStatus::Lost => "Không thành công",
            TicketStatus::Unreachable => "Không liên lạc được",
        }
    }

    /// Whether it is an outcome (closed).
    pub fn is_closed(self) -> bool {
        matches!(
            self,
            TicketStatus::Won | TicketStatus::Lost | TicketStatus::Unreachable
        )
    }

    fn parse(raw: &str) -> Option<Self> {
        TicketStatus::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

/// The pseudo-user whose bell is a queue's shared inbox (`queue:telesales`).
pub fn queue_inbox(queue: TicketQueue) -> String {
    format!("queue:{}", queue.as_str())
}

/// The ticket id of a cause: 128 bits of SHA-256, in ULID form.
pub fn ticket_id(cause: &str) -> String {
    nhip_core::keys::derived_ulid(&format!("ticket#{cause}"))
}

/// Puts tickets to open on the `tickets` queue.
pub async fn enqueue(
    deps: &Deps,
    tickets: &[NewTicket],
) -> Result<(), nhip_ports::queue::QueueError> {
    nhip_ports::queue::send_json(&*deps.queues.tickets, tickets, "ticket").await
}

/// Handles one batch from the `tickets` queue (the `ticket-creator` function): each record
/// opens its ticket once, however often it is delivered.
#[tracing::instrument(skip_all, fields(records = event.records.len()))]
pub async fn handle_batch(
    deps: &Deps,
    event: aws_lambda_events::sqs::SqsEvent,
) -> aws_lambda_events::sqs::SqsBatchResponse {
    use nhip_core::consumer::{Failure, process_batch};
    process_batch(event, |record| async move {
        let body = record.body.as_deref().unwrap_or_default();
        let ticket: NewTicket = serde_json::from_str(body).map_err(|error| {
            tracing::warn!(%error, "ticket request is malformed");
            Failure::Poison
        })?;
        match create(deps, ticket).await {
            Ok(fresh) => {
                tracing::info!(fresh, "ticket");
                Ok(())
            }
            Err(error) => {
                tracing::warn!(%error, "opening a ticket failed");
                Err(if error.is_retryable() {
                    Failure::Retryable
                } else {
                    Failure::Poison
                })
            }
        }
    })
    .await
}

/// Opens the ticket once. Returns whether it was new.
pub async fn create(deps: &Deps, new: NewTicket) -> Result<bool, StoreError> {
    let now = deps.clock.now();
    let id = ticket_id(&new.cause);
    let ticket = Ticket {
        id: id.clone(),
        customer_id: new.customer_id.to_string(),
        queue: new.queue,
        queue_label: new.queue.label().to_owned(),
        priority: new.priority,
        title: new.title.clone(),
        status: "new".into(),
        status_label: "Mới".into(),
        assignee: new.assignee.clone(),
        source: new.source.clone(),
        created_at: now,
        due_at: new.due_at,
        outcome_note: None,
        closed_at: None,
        version: 1,
        notes: Vec::new(),
    };
    let mut item = nhip_core::records::to_item(keys::ticket(&id), KIND, &ticket)?;
    item.insert(
        Index::Gsi1.pk_attr().into(),
        keys::ticket_queue(new.queue.as_str()).into(),
    );
    item.insert(
        Index::Gsi1.sk_attr().into(),
        format!("{}#{id}", keys::instant(now)).into(),
    );
    let mut pointer = keys::customer_ticket(new.customer_id, &id).to_item();
    pointer.insert("kind".into(), "ticket_ref".into());
    pointer.insert("ticket_id".into(), id.clone().into());
    let mut writes = vec![
        WriteOp::Put {
            item,
            condition: Condition::NotExists,
        },
        WriteOp::Put {
            item: pointer,
            condition: Condition::NotExists,
        },
    ];
    // At most one open ticket per customer per journey or campaign: the guard is created with
    // the ticket, so of two requests at once one opens it and the other adds its note.
    let group = open_group(&new.source);
    if let Some(group) = &group {
        let mut guard = keys::open_ticket(new.customer_id, group).to_item();
        guard.insert("kind".into(), "open_ticket".into());
        guard.insert("ticket_id".into(), id.clone().into());
        writes.push(WriteOp::Put {
            item: guard,
            condition: Condition::NotExists,
        });
    }
    let result = deps.store.transact(writes).await;
    let fresh = match result {
        Ok(()) => true,
        Err(StoreError::ConditionFailed { op: Some(2) }) => {
            let group = group.as_deref().unwrap_or_default();
            return add_to_open(deps, &new, group).await;
        }
        Err(StoreError::ConditionFailed { .. }) => false,
        Err(other) => return Err(other),
    };
    // Opened before (a redelivery): the steps below are each kept once, so they are done
    // again in case the first delivery stopped before them, with the ticket as stored.
    let (id, now) = if fresh {
        (id, now)
    } else {
        let Some(stored) =
            nhip_core::records::get::<Ticket>(&*deps.store, &keys::ticket(&id), KIND).await?
        else {
            return Ok(false);
        };
        (stored.id, stored.created_at)
    };
    let event = DomainEvent {
        id: format!("tck-{id}"),
        source: nhip_core::events::NHIP_SOURCE.into(),
        kind: nhip_core::event_types::TICKET_CREATED.into(),
        customer_id: Some(new.customer_id),
        occurred_at: now,
        data: json!({
            "ticket_id": id,
            "queue": new.queue,
            "queue_label": new.queue.label(),
            "priority": new.priority,
            "title": new.title,
            "due_at": keys::instant(new.due_at),
            "assignee": new.assignee,
            "source": new.source,
        }),
    };
    nhip_core::events::record(deps, &event).await?;
    if let Err(error) = nhip_core::events::publish(deps, &[event]).await {
        tracing::warn!(%error, "ticket.created not published");
    }
    if let Some(assignee) = &new.assignee {
        crate::notifications::notify(
            deps,
            assignee,
            &format!("ticket#{id}"),
            crate::notifications::Notice {
                title: new.title.clone(),
                body: format!("Ticket mới cho {}", new.queue.label()),
                customer_id: Some(new.customer_id),
                link: format!("/tickets/{id}"),
            },
        )
        .await?;
    }
    Ok(fresh)
}

/// Folds a request into the customer's open ticket of its group as a note (once per cause).
/// A guard left by a ticket closed meanwhile is cleared and the request opens a new ticket.
async fn add_to_open(deps: &Deps, new: &NewTicket, group: &str) -> Result<bool, StoreError> {
    let guard_key = keys::open_ticket(new.customer_id, group);
    for attempt in nhip_core::retry::attempts(nhip_core::retry::CONTENDED) {
        attempt.pause().await;
        let Some(open_id) = deps
            .store
            .get(&guard_key)
            .await?
            .and_then(|guard| guard.get("ticket_id")?.as_str().map(str::to_owned))
        else {
            // Closed meanwhile: open a new one.
            return Box::pin(create(deps, new.clone())).await;
        };
        let Some(mut open) =
            nhip_core::records::get::<Ticket>(&*deps.store, &keys::ticket(&open_id), KIND).await?
        else {
            return Ok(false);
        };
        if !is_open(&open) {
            let _ = deps
                .store
                .delete(
                    &guard_key,
                    Condition::Equals("ticket_id".into(), Value::from(open_id.clone())),
                )
                .await;
            continue;
        }
        if open.notes.iter().any(|n| n.cause == new.cause) {
            return Ok(false);
        }
        let read = open.version;
        open.notes.push(TicketNote {
            at: deps.clock.now(),
            text: new.title.clone(),
            cause: new.cause.clone(),
        });
        open.version += 1;
        let mut item = nhip_core::records::to_item(keys::ticket(&open_id), KIND, &open)?;
        item.insert(
            Index::Gsi1.pk_attr().into(),
            keys::ticket_queue(open.queue.as_str()).into(),
        );
        item.insert(
            Index::Gsi1.sk_attr().into(),
            format!("{}#{open_id}", keys::instant(open.created_at)).into(),
        );
        match deps.store.put(item, Condition::version_is(read)).await {
            Ok(()) => return Ok(false),
            Err(StoreError::ConditionFailed { .. }) => continue,
            Err(other) => return Err(other),
        }
    }
    Err(StoreError::TransactionConflict)
}

/// The ticket routes.
pub fn router() -> OpenApiRouter<Arc<Deps>> {
    OpenApiRouter::new()
        .routes(routes!(list_tickets))
        .routes(routes!(change_status))
}

/// A status change: the new status, the outcome note (required to close), the version read.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    /// `in_progress` (taking it: it goes to the caller if it had no assignee), or an outcome:
    /// `won`, `lost`, `unreachable`.
    pub status: TicketStatus,
    /// What happened; required to close, at most 2,000 characters.
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub note: Option<String>,
    /// The ticket's version read.
    pub version: u64,
}

/// Why a ticket's status was not changed.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// No such ticket, or not the caller's to see.
    #[error("no such ticket")]
    NotFound,
    /// The ticket was changed since it was read.
    #[error("the ticket is at version {0}")]
    Stale(u64),
    /// Not a step its workflow allows (a closed ticket stays closed; a ticket cannot go back
    /// to `new`).
    #[error("{from} cannot become {to}")]
    NotAllowed {
        /// Its status.
        from: String,
        /// The status asked for.
        to: &'static str,
    },
    /// Closing without saying what happened, or a note too long.
    #[error("the outcome note is missing or too long")]
    Note,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<StatusError> for ApiError {
    fn from(error: StatusError) -> Self {
        use axum::http::StatusCode;
        match error {
            StatusError::NotFound => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", "No such ticket.")
            }
            StatusError::Stale(current) => ApiError::stale_version(current),
            StatusError::NotAllowed { from, to } => ApiError::new(
                StatusCode::CONFLICT,
                "status_not_allowed",
                format!("A {from} ticket cannot become {to}."),
            )
            .field(
                "status",
                "Phiếu đã đóng, hoặc không thể quay lại trạng thái này.",
            ),
            StatusError::Note => nhip_core::form::invalid(
                "note",
                "Ghi kết quả xử lý (tối đa 2000 ký tự) khi đóng phiếu.",
            ),
            StatusError::Store(error) => error.into(),
        }
    }
}

/// Moves ticket `id` along its workflow for `principal` (who must see it: its customer in
/// their scope, or assigned to them), if it is still at `change.version`. Taking it assigns it
/// to the caller when it had no assignee. A closing outcome is put on the customer's timeline
/// and published (`ticket.won`, `ticket.lost`, `ticket.unreachable`), so a journey waiting for
/// the ticket's outcome, or whose goal is `ticket.won`, hears it.
pub async fn change(
    deps: &Deps,
    principal: &Principal,
    id: &str,
    change: &StatusChange,
) -> Result<Ticket, StatusError> {
    let Some(mut ticket) =
        nhip_core::records::get::<Ticket>(&*deps.store, &keys::ticket(id), KIND).await?
    else {
        return Err(StatusError::NotFound);
    };
    if visible_tickets(deps, principal, vec![ticket.clone()])
        .await?
        .is_empty()
    {
        return Err(StatusError::NotFound);
    }
    if ticket.version != change.version {
        return Err(StatusError::Stale(ticket.version));
    }
    let from = TicketStatus::parse(&ticket.status).unwrap_or(TicketStatus::New);
    let allowed = !from.is_closed() && change.status != TicketStatus::New && from != change.status;
    if !allowed {
        return Err(StatusError::NotAllowed {
            from: ticket.status.clone(),
            to: change.status.as_str(),
        });
    }
    let note = change
        .note
        .as_deref()
        .map(|n| nhip_domain::person::nfc(n.trim()))
        .filter(|n| !n.is_empty());
    if note.as_ref().is_some_and(|n| n.chars().count() > 2000)
        || (change.status.is_closed() && note.is_none())
    {
        return Err(StatusError::Note);
    }
    let now = deps.clock.now();
    let read = ticket.version;
    ticket.status = change.status.as_str().to_owned();
    ticket.status_label = change.status.label().to_owned();
    ticket.version += 1;
    if change.status == TicketStatus::InProgress && ticket.assignee.is_none() {
        ticket.assignee = Some(principal.user.clone());
    }
    if change.status.is_closed() {
        ticket.outcome_note = note.clone();
        ticket.closed_at = Some(now);
    }
    let mut item = nhip_core::records::to_item(keys::ticket(id), KIND, &ticket)?;
    item.insert(
        Index::Gsi1.pk_attr().into(),
        keys::ticket_queue(ticket.queue.as_str()).into(),
    );
    item.insert(
        Index::Gsi1.sk_attr().into(),
        format!("{}#{id}", keys::instant(ticket.created_at)).into(),
    );
    let mut writes = vec![WriteOp::Put {
        item,
        condition: Condition::version_is(read),
    }];
    // Closed, it no longer holds its group's place: the next request opens a new ticket.
    if let (true, Some(group), Ok(customer)) = (
        change.status.is_closed(),
        open_group(&ticket.source),
        ticket.customer_id.parse::<CustomerId>(),
    ) {
        writes.push(WriteOp::Delete {
            key: keys::open_ticket(customer, &group),
            condition: Condition::Always,
        });
    }
    match deps.store.transact(writes).await {
        Ok(()) => {}
        Err(StoreError::ConditionFailed { op: Some(0) }) => {
            return Err(StatusError::Stale(read + 1));
        }
        Err(other) => return Err(other.into()),
    }
    let event = DomainEvent {
        id: format!("tck-{id}-{}", ticket.version),
        source: nhip_core::events::NHIP_SOURCE.into(),
        kind: format!("ticket.{}", change.status.as_str()),
        customer_id: ticket.customer_id.parse().ok(),
        occurred_at: now,
        data: json!({
            "ticket_id": id,
            "queue": ticket.queue,
            "status": ticket.status,
            "status_label": ticket.status_label,
            "note": note,
            "by": principal.user,
            "source": ticket.source,
        }),
    };
    nhip_core::events::record(deps, &event).await?;
    if let Err(error) = nhip_core::events::publish(deps, &[event]).await {
        tracing::warn!(%error, "ticket status change not published");
    }
    Ok(ticket)
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
    nhip_core::http::Path(id): nhip_core::http::Path<String>,
    Json(request): Json<StatusChange>,
) -> Result<Json<Ticket>, ApiError> {
    Ok(Json(change(&deps, &principal, &id, &request).await?))
}

/// Filters of the ticket list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TicketFilter {
    /// `telesales`, `rm` or `cskh`.
    #[param(value_type = nhip_core::openapi::TicketQueueSchema, inline)]
    pub queue: String,
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
    /// Newest first.
    pub items: Vec<Ticket>,
}

/// `GET /v1/tickets?queue=`: a queue's tickets, newest first.
#[utoipa::path(
    get,
    path = "/v1/tickets",
    tag = "tickets",
    security(("bearer" = [])),
    params(TicketFilter),
    responses(
        (status = 200, description = "The queue's tickets.", body = TicketPage),
        nhip_core::openapi::QueryErrors,
    )
)]
pub async fn list_tickets(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    nhip_core::http::ListQuery(filter): nhip_core::http::ListQuery<TicketFilter>,
) -> Result<Json<TicketPage>, ApiError> {
    let queue: TicketQueue = serde_json::from_value(json!(filter.queue)).map_err(|_| {
        ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "invalid_query",
            "Hàng đợi phải là telesales, rm hoặc cskh.",
        )
        .field("queue", "telesales, rm hoặc cskh")
    })?;
    let limit = nhip_core::http::ListParams::limit(&filter) as usize;
    Ok(Json(TicketPage {
        items: queue_tickets(&deps, &principal, queue, limit).await?,
    }))
}

/// Up to `limit` tickets of `queue` that `principal` may see (those of the customers in their
/// scope, and those assigned to them), newest first: the use case behind the route and the
/// console.
pub async fn queue_tickets(
    deps: &Deps,
    principal: &Principal,
    queue: TicketQueue,
    limit: usize,
) -> Result<Vec<Ticket>, StoreError> {
    let mut items = Vec::new();
    let mut cursor = None;
    // A caller sees the tickets of the customers in their scope and those assigned to them;
    // the queue is read a page at a time until the answer is full or the queue ends.
    for _ in 0..MAX_PAGES_PER_LIST {
        let page = deps
            .store
            .query(
                Query::partition(Index::Gsi1, keys::ticket_queue(queue.as_str()))
                    .descending()
                    .limit(limit as u32)
                    .after(cursor.take()),
            )
            .await?;
        let tickets = page
            .items
            .into_iter()
            .map(|item| nhip_core::records::from_item(item, KIND))
            .collect::<Result<Vec<Ticket>, _>>()?;
        let visible = visible_tickets(deps, principal, tickets).await?;
        items.extend(visible.into_iter().take(limit - items.len()));
        match page.next {
            Some(next) if items.len() < limit => cursor = Some(next),
            _ => break,
        }
    }
    Ok(items)
}

/// Pages of a queue read for one list answer (each up to the requested limit).
const MAX_PAGES_PER_LIST: usize = 10;

/// Whether a ticket is still to be worked (its assignee may see its customer).
pub fn is_open(ticket: &Ticket) -> bool {
    TicketStatus::parse(&ticket.status).is_none_or(|status| !status.is_closed())
}

/// The tickets `principal` may see: those whose customer is in their scope, and those
/// assigned to them. Customers are read in one batch.
async fn visible_tickets(
    deps: &Deps,
    principal: &Principal,
    tickets: Vec<Ticket>,
) -> Result<Vec<Ticket>, StoreError> {
    if principal.is_admin() || tickets.is_empty() {
        return Ok(tickets);
    }
    let in_scope = crate::customers::list::visible_ids(
        &*deps.store,
        principal,
        tickets.iter().filter_map(|t| t.customer_id.parse().ok()),
    )
    .await?;
    Ok(tickets
        .into_iter()
        .filter(|t| {
            t.customer_id
                .parse::<CustomerId>()
                .is_ok_and(|id| in_scope.contains(&id))
                || (is_open(t) && t.assignee.as_deref() == Some(principal.user.as_str()))
        })
        .collect())
}

/// Whether `user` is the assignee of an open ticket on `customer`: such a user may work that
/// customer (see and record the call) although the customer is outside their scope.
pub async fn is_assignee(
    deps: &Deps,
    customer: CustomerId,
    user: &str,
) -> Result<bool, StoreError> {
    let refs = deps
        .store
        .query(
            Query::partition(Index::Primary, keys::customer_pk(customer))
                .sk(nhip_ports::store::SortKey::BeginsWith("TCK#".into())),
        )
        .await?;
    let keys: Vec<_> = refs
        .items
        .iter()
        .filter_map(|item| item.get("ticket_id")?.as_str().map(keys::ticket))
        .collect();
    if keys.is_empty() {
        return Ok(false);
    }
    for item in deps.store.batch_get(&keys).await? {
        let ticket: Ticket = nhip_core::records::from_item(item, KIND)?;
        if is_open(&ticket) && ticket.assignee.as_deref() == Some(user) {
            return Ok(true);
        }
    }
    Ok(false)
}
