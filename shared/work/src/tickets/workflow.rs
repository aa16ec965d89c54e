//! A ticket's workflow: `new` → `in_progress` (taken) → `won` (the customer registered) /
//! `lost` / `unreachable`, each close with an outcome note; reassignment by a manager or an
//! admin. Every change is a versioned write with the queue's counters and the members' loads
//! in the same transaction, and an event on the customer's timeline and the bus.

use chrono::{DateTime, Utc};
use nhip_core::auth::{Principal, Role};
use nhip_core::deps::Deps;
use nhip_core::http::ApiError;
use nhip_core::keys;
use nhip_crm::tickets::{self, Ticket, TicketStatus, open_group, status_of};
use nhip_domain::event::DomainEvent;
use nhip_domain::ids::CustomerId;
use nhip_ports::store::{Condition, StoreError, WriteOp};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{count, load};

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

/// Why a ticket was not changed.
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
    /// Reassigning is for the team's manager and admins.
    #[error("only a manager or an admin reassigns")]
    Forbidden,
    /// The new assignee is not an active member of staff.
    #[error("no such active member of staff")]
    UnknownAssignee,
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
            StatusError::Forbidden => ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "Only a manager or an admin reassigns a ticket.",
            ),
            StatusError::UnknownAssignee => nhip_core::form::invalid(
                "assignee",
                "Chọn một nhân sự đang hoạt động trong danh bạ.",
            ),
            StatusError::Store(error) => error.into(),
        }
    }
}

/// Ticket `id` as `principal` may see it (its customer in their scope, or assigned to them).
pub async fn visible(deps: &Deps, principal: &Principal, id: &str) -> Result<Ticket, StatusError> {
    let ticket = tickets::get(deps, id).await?.ok_or(StatusError::NotFound)?;
    let mut seen = tickets::visible_tickets(deps, principal, vec![ticket]).await?;
    seen.pop().ok_or(StatusError::NotFound)
}

/// The versioned write of a changed ticket (read at `read`).
pub(crate) fn write(ticket: &Ticket, read: u64) -> Result<WriteOp, StoreError> {
    Ok(WriteOp::Put {
        item: tickets::to_item(ticket)?,
        condition: Condition::version_is(read),
    })
}

/// Runs a ticket's transaction; its first write is the ticket's, so a failed condition there
/// means someone changed it since it was read.
pub(crate) async fn commit(
    deps: &Deps,
    writes: Vec<WriteOp>,
    read: u64,
) -> Result<(), StatusError> {
    match deps.store.transact(writes).await {
        Ok(()) => Ok(()),
        Err(StoreError::ConditionFailed { op: Some(0) }) => Err(StatusError::Stale(read + 1)),
        Err(other) => Err(other.into()),
    }
}

/// Records `kind` for the ticket on its customer's timeline and publishes it.
pub(crate) async fn announce(
    deps: &Deps,
    ticket: &Ticket,
    kind: &str,
    at: DateTime<Utc>,
    data: Value,
) -> Result<(), StoreError> {
    let event = DomainEvent {
        id: format!("tck-{}-{}-{}", ticket.id, ticket.version, kind),
        source: nhip_core::events::NHIP_SOURCE.into(),
        kind: kind.to_owned(),
        customer_id: ticket.customer_id.parse().ok(),
        occurred_at: at,
        data,
    };
    nhip_core::events::record(deps, &event).await?;
    if let Err(error) = nhip_core::events::publish_recorded(deps, &[event]).await {
        tracing::warn!(%error, kind, "ticket event not published");
    }
    Ok(())
}

/// Moves ticket `id` along its workflow for `principal` (who must see it), if it is still at
/// `change.version`. Taking it assigns it to the caller when it had no assignee. A close
/// frees the customer's place for the journey or campaign, records whether the SLA was met,
/// and publishes the outcome (`ticket.won`, `ticket.lost`, `ticket.unreachable`) and
/// `ticket.closed` (with `status`): a journey whose goal is `ticket.won` converts, and one
/// waiting for `ticket.closed` branches on the outcome.
pub async fn change(
    deps: &Deps,
    principal: &Principal,
    id: &str,
    change: &StatusChange,
) -> Result<Ticket, StatusError> {
    let mut ticket = visible(deps, principal, id).await?;
    if ticket.version != change.version {
        return Err(StatusError::Stale(ticket.version));
    }
    let from = status_of(&ticket);
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
    let taken_by_caller = change.status == TicketStatus::InProgress && ticket.assignee.is_none();
    if taken_by_caller {
        ticket.assignee = Some(principal.user.clone());
        if ticket.team.is_none() {
            ticket.team = principal.team.clone();
        }
    }
    let queue = ticket.queue.as_str();
    let mut counters = vec![(from.as_str(), -1), (change.status.as_str(), 1)];
    if change.status.is_closed() {
        let met = now <= ticket.due_at;
        ticket.outcome_note = note.clone();
        ticket.closed_at = Some(now);
        ticket.sla_met = Some(met);
        counters.push((if met { "closed_on_time" } else { "closed_late" }, 1));
    }
    let mut writes = vec![write(&ticket, read)?, count(queue, &counters)];
    if taken_by_caller {
        writes.push(load(&principal.user, 1));
    }
    if change.status.is_closed() {
        if let Some(assignee) = &ticket.assignee {
            writes.push(load(assignee, -1));
        }
        if let Some(escalated) = ticket.escalated_at.is_some().then_some(ticket.due_at) {
            writes.push(WriteOp::Delete {
                key: keys::overdue_ticket(queue, escalated, &ticket.id),
                condition: Condition::Always,
            });
        }
        // Closed, it no longer holds its group's place: the next request opens a new ticket.
        if let (Some(group), Ok(customer)) = (
            open_group(&ticket.source),
            ticket.customer_id.parse::<CustomerId>(),
        ) {
            writes.push(WriteOp::Delete {
                key: keys::open_ticket(customer, &group),
                condition: Condition::Always,
            });
        }
    }
    commit(deps, writes, read).await?;
    let data = json!({
        "ticket_id": id,
        "queue": ticket.queue,
        "status": ticket.status,
        "status_label": ticket.status_label,
        "note": note,
        "by": principal.user,
        "sla_met": ticket.sla_met,
        "source": ticket.source,
    });
    announce(
        deps,
        &ticket,
        &format!("ticket.{}", change.status.as_str()),
        now,
        data.clone(),
    )
    .await?;
    if change.status.is_closed() {
        announce(
            deps,
            &ticket,
            nhip_core::event_types::TICKET_CLOSED,
            now,
            data,
        )
        .await?;
    }
    Ok(ticket)
}

/// A reassignment: the new assignee and the version read.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reassign {
    /// The user name of an active member of staff.
    #[schema(max_length = 64)]
    pub assignee: String,
    /// The ticket's version read.
    pub version: u64,
}

/// Gives open ticket `id` to another active member of staff: the team's manager or an admin
/// does it (an overdue ticket's manager was told by the bell). The new assignee's bell rings.
pub async fn reassign(
    deps: &Deps,
    principal: &Principal,
    id: &str,
    request: &Reassign,
) -> Result<Ticket, StatusError> {
    if !matches!(principal.role, Role::Admin | Role::Manager) {
        return Err(StatusError::Forbidden);
    }
    let mut ticket = visible(deps, principal, id).await?;
    if ticket.version != request.version {
        return Err(StatusError::Stale(ticket.version));
    }
    if !tickets::is_open(&ticket) {
        return Err(StatusError::NotAllowed {
            from: ticket.status.clone(),
            to: "reassigned",
        });
    }
    let user = nhip_crm::staff::user(&*deps.store, &request.assignee)
        .await?
        .filter(|u| u.active)
        .ok_or(StatusError::UnknownAssignee)?;
    if ticket.assignee.as_deref() == Some(user.username.as_str()) {
        return Ok(ticket);
    }
    let read = ticket.version;
    let before = ticket.assignee.replace(user.username.clone());
    ticket.team = user.team.clone().or(ticket.team);
    ticket.version += 1;
    let mut writes = vec![write(&ticket, read)?, load(&user.username, 1)];
    if let Some(before) = &before {
        writes.push(load(before, -1));
    }
    commit(deps, writes, read).await?;
    let now = deps.clock.now();
    announce(
        deps,
        &ticket,
        nhip_core::event_types::TICKET_REASSIGNED,
        now,
        json!({"ticket_id": id, "from": before, "to": user.username, "by": principal.user}),
    )
    .await?;
    nhip_crm::notifications::notify(
        deps,
        &user.username,
        &format!("ticket#{id}#to#{}#{}", user.username, ticket.version),
        nhip_crm::notifications::Notice {
            title: ticket.title.clone(),
            body: format!("{} chuyển phiếu cho bạn", principal.user),
            customer_id: ticket.customer_id.parse().ok(),
            link: format!("/app/tickets/{id}"),
        },
    )
    .await?;
    Ok(ticket)
}
