//! An overdue ticket: when its due time passes (the due-work item its opening scheduled) and
//! it is still open, it is marked escalated, listed among its queue's overdue tickets, and the
//! team's manager's bell rings (the assignee's manager when the team has none, the admins when
//! nobody manages it) so they can reassign it. Firing twice escalates once.

use nhip_core::deps::Deps;
use nhip_core::keys;
use nhip_crm::staff;
use nhip_crm::tickets::{self, Ticket};
use nhip_ports::store::{Condition, StoreError, WriteOp};
use serde_json::json;

use super::count;
use super::workflow::{StatusError, announce, commit, write};

/// Escalates ticket `id` if it is open, past due and not escalated yet.
pub async fn fire(deps: &Deps, id: &str) -> Result<(), StoreError> {
    for attempt in nhip_core::retry::attempts(nhip_core::retry::CONTENDED) {
        attempt.pause().await;
        let Some(mut ticket) = tickets::get(deps, id).await? else {
            // Erased with its customer.
            return Ok(());
        };
        let now = deps.clock.now();
        if !tickets::is_open(&ticket) || ticket.due_at > now {
            return Ok(());
        }
        if ticket.escalated_at.is_some() {
            // Escalated by an earlier run that may have stopped before the bell: each step
            // below is kept once.
            return tell_manager(deps, &ticket).await;
        }
        let read = ticket.version;
        ticket.escalated_at = Some(now);
        ticket.version += 1;
        let mut pointer = keys::overdue_ticket(ticket.queue.as_str(), ticket.due_at, id).to_item();
        pointer.insert("kind".into(), "overdue_ticket".into());
        pointer.insert("ticket_id".into(), id.into());
        let writes = vec![
            write(&ticket, read)?,
            WriteOp::Put {
                item: pointer,
                condition: Condition::Always,
            },
            count(ticket.queue.as_str(), &[("escalated", 1)]),
        ];
        match commit(deps, writes, read).await {
            Ok(()) => {}
            Err(StatusError::Stale(_)) => continue,
            Err(StatusError::Store(error)) => return Err(error),
            Err(other) => return Err(StoreError::invalid(other.to_string())),
        }
        return tell_manager(deps, &ticket).await;
    }
    Err(StoreError::TransactionConflict)
}

/// Who hears of an overdue ticket: the manager of its team, else the assignee's manager, else
/// the active admins.
pub async fn managers_of(deps: &Deps, ticket: &Ticket) -> Result<Vec<String>, StoreError> {
    let store = &*deps.store;
    if let Some(team) = &ticket.team
        && let Some(manager) = staff::team(store, team).await?.and_then(|t| t.manager)
        && staff::user(store, &manager)
            .await?
            .is_some_and(|u| u.active)
    {
        return Ok(vec![manager]);
    }
    if let Some(assignee) = &ticket.assignee
        && let Some(manager) = staff::user(store, assignee).await?.and_then(|u| u.manager)
        && staff::user(store, &manager)
            .await?
            .is_some_and(|u| u.active)
    {
        return Ok(vec![manager]);
    }
    staff::lead_watchers(store, None, None).await
}

async fn tell_manager(deps: &Deps, ticket: &Ticket) -> Result<(), StoreError> {
    let at = ticket.escalated_at.unwrap_or_else(|| deps.clock.now());
    announce(
        deps,
        ticket,
        nhip_core::event_types::TICKET_ESCALATED,
        at,
        json!({
            "ticket_id": ticket.id,
            "queue": ticket.queue,
            "assignee": ticket.assignee,
            "due_at": keys::instant(ticket.due_at),
        }),
    )
    .await?;
    let who = ticket
        .assignee
        .clone()
        .unwrap_or_else(|| "chưa có người nhận".into());
    for manager in managers_of(deps, ticket).await? {
        nhip_crm::notifications::notify(
            deps,
            &manager,
            &format!("overdue#{}", ticket.id),
            nhip_crm::notifications::Notice {
                title: format!("Phiếu quá hạn: {}", ticket.title),
                body: format!("{} · {who}", ticket.queue.label()),
                customer_id: ticket.customer_id.parse().ok(),
                link: format!("/app/tickets/{}", ticket.id),
            },
        )
        .await?;
    }
    Ok(())
}
