//! What staff look at: a queue's tickets, mine, my team's, a queue's overdue ones, a journey's
//! or campaign's; and per queue the counts per status and the SLA compliance. Every list reads
//! one index partition (the team's, one per member), newest first, and keeps what the caller
//! may see; the counts are counters kept with each change, never a scan.

use nhip_core::auth::{Principal, Role};
use nhip_core::deps::Deps;
use nhip_core::keys;
use nhip_crm::tickets::{self, KIND, Ticket, TicketStatus};
use nhip_domain::journey::TicketQueue;
use nhip_ports::store::{Index, Query, StoreError};
use serde::Serialize;
use serde_json::Value;

/// Pages of an index read for one list answer (each up to the requested limit).
const MAX_PAGES_PER_LIST: usize = 10;

/// A list of tickets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TicketView {
    /// A queue's, newest first.
    Queue(TicketQueue),
    /// Assigned to the caller.
    Mine,
    /// Assigned to the members of a team (the caller's when `None`).
    Team(Option<String>),
    /// A queue's open tickets past their due time, the longest overdue first.
    Overdue(TicketQueue),
    /// A journey's (`journey:<key>`) or campaign's (`campaign:<id>`).
    Group(String),
}

/// Up to `limit` tickets of `view` that `principal` may see.
pub async fn list(
    deps: &Deps,
    principal: &Principal,
    view: &TicketView,
    limit: usize,
) -> Result<Vec<Ticket>, StoreError> {
    match view {
        TicketView::Queue(queue) => {
            read(
                deps,
                principal,
                Index::Gsi1,
                keys::ticket_queue(queue.as_str()),
                limit,
            )
            .await
        }
        TicketView::Mine => {
            read(
                deps,
                principal,
                Index::Gsi2,
                keys::tickets_of_assignee(&principal.user),
                limit,
            )
            .await
        }
        TicketView::Group(group) => {
            read(
                deps,
                principal,
                Index::Gsi3,
                keys::tickets_of_group(group),
                limit,
            )
            .await
        }
        TicketView::Team(team) => team_tickets(deps, principal, team.as_deref(), limit).await,
        TicketView::Overdue(queue) => overdue(deps, principal, *queue, limit).await,
    }
}

/// Reads an index partition newest first, a page at a time, until `limit` visible tickets.
async fn read(
    deps: &Deps,
    principal: &Principal,
    index: Index,
    partition: String,
    limit: usize,
) -> Result<Vec<Ticket>, StoreError> {
    let mut items = Vec::new();
    let mut cursor = None;
    for _ in 0..MAX_PAGES_PER_LIST {
        let page = deps
            .store
            .query(
                Query::partition(index, partition.clone())
                    .descending()
                    .limit(limit as u32)
                    .after(cursor.take()),
            )
            .await?;
        let found = page
            .items
            .into_iter()
            .map(|item| nhip_core::records::from_item(item, KIND))
            .collect::<Result<Vec<Ticket>, _>>()?;
        let visible = tickets::visible_tickets(deps, principal, found).await?;
        items.extend(visible.into_iter().take(limit - items.len()));
        match page.next {
            Some(next) if items.len() < limit => cursor = Some(next),
            _ => break,
        }
    }
    Ok(items)
}

/// The tickets of a team's members, newest first: each member's list, merged.
async fn team_tickets(
    deps: &Deps,
    principal: &Principal,
    team: Option<&str>,
    limit: usize,
) -> Result<Vec<Ticket>, StoreError> {
    let Some(team) = team.or(principal.team.as_deref()) else {
        return Ok(Vec::new());
    };
    // A manager or member sees their own team's; an admin any.
    if !principal.is_admin() && principal.team.as_deref() != Some(team) {
        return Ok(Vec::new());
    }
    let members = nhip_crm::staff::users(&*deps.store)
        .await?
        .into_iter()
        .filter(|u| u.team.as_deref() == Some(team));
    let mut all = Vec::new();
    for member in members {
        let partition = keys::tickets_of_assignee(&member.username);
        all.extend(read(deps, principal, Index::Gsi2, partition, limit).await?);
    }
    all.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
    all.truncate(limit);
    Ok(all)
}

/// A queue's escalated open tickets, the longest overdue first.
async fn overdue(
    deps: &Deps,
    principal: &Principal,
    queue: TicketQueue,
    limit: usize,
) -> Result<Vec<Ticket>, StoreError> {
    let mut items = Vec::new();
    let mut cursor = None;
    for _ in 0..MAX_PAGES_PER_LIST {
        let page = deps
            .store
            .query(
                Query::partition(Index::Primary, keys::overdue_tickets(queue.as_str()))
                    .limit(limit as u32)
                    .after(cursor.take()),
            )
            .await?;
        let ids: Vec<_> = page
            .items
            .iter()
            .filter_map(|p| p.get("ticket_id").and_then(Value::as_str).map(keys::ticket))
            .collect();
        let mut found = Vec::new();
        for item in deps.store.batch_get(&ids).await? {
            let ticket: Ticket = nhip_core::records::from_item(item, KIND)?;
            if tickets::is_open(&ticket) {
                found.push(ticket);
            }
        }
        found.sort_by(|a, b| (a.due_at, &a.id).cmp(&(b.due_at, &b.id)));
        let visible = tickets::visible_tickets(deps, principal, found).await?;
        items.extend(visible.into_iter().take(limit - items.len()));
        match page.next {
            Some(next) if items.len() < limit => cursor = Some(next),
            _ => break,
        }
    }
    Ok(items)
}

/// A queue's counts.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct QueueStats {
    /// The queue.
    pub queue: String,
    /// Its name in Vietnamese.
    pub queue_label: String,
    /// Tickets per status now (`new`, `in_progress`, `won`, `lost`, `unreachable`).
    #[schema(value_type = Object)]
    pub by_status: serde_json::Map<String, Value>,
    /// Tickets opened.
    pub opened: i64,
    /// Open tickets (new and in progress).
    pub open: i64,
    /// Tickets that went past their due time open (escalated).
    pub escalated: i64,
    /// Closed by their due time.
    pub closed_on_time: i64,
    /// Closed after it.
    pub closed_late: i64,
    /// Closed on time among the closed, in percent (absent while none is closed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sla_compliance_percent: Option<f64>,
}

/// Why the counts were refused.
#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    /// The counts are for managers and admins.
    #[error("only a manager or an admin reads the counts")]
    Forbidden,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Every queue's counts, for a manager or an admin.
pub async fn stats(deps: &Deps, principal: &Principal) -> Result<Vec<QueueStats>, StatsError> {
    if !matches!(principal.role, Role::Admin | Role::Manager) {
        return Err(StatsError::Forbidden);
    }
    let keys: Vec<_> = TicketQueue::ALL
        .iter()
        .map(|q| keys::ticket_stats(q.as_str()))
        .collect();
    let items = deps.store.batch_get(&keys).await?;
    Ok(TicketQueue::ALL
        .iter()
        .map(|queue| {
            let key = keys::ticket_stats(queue.as_str());
            let item = items
                .iter()
                .find(|i| nhip_ports::store::Key::of(i).as_ref() == Some(&key));
            let number = |name: &str| {
                item.and_then(|i| i.get(name))
                    .and_then(Value::as_i64)
                    .unwrap_or(0)
                    .max(0)
            };
            let by_status: serde_json::Map<String, Value> = TicketStatus::ALL
                .iter()
                .map(|s| (s.as_str().to_owned(), number(s.as_str()).into()))
                .collect();
            let (on_time, late) = (number("closed_on_time"), number("closed_late"));
            QueueStats {
                queue: queue.as_str().into(),
                queue_label: queue.label().into(),
                opened: number("opened"),
                open: number("new") + number("in_progress"),
                escalated: number("escalated"),
                closed_on_time: on_time,
                closed_late: late,
                sla_compliance_percent: (on_time + late > 0)
                    .then(|| (on_time as f64) * 100.0 / ((on_time + late) as f64)),
                by_status,
            }
        })
        .collect())
}
