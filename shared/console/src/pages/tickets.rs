//! "Phiếu": the telesales, RM and customer-service (CSKH) queues the journeys fill, scoped as
//! the API is: a caller sees the tickets of the customers in their scope and those assigned
//! to them.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;

use nhip_core::deps::Deps;
use nhip_crm::customers::repo;
use nhip_crm::tickets;
use nhip_domain::ids::CustomerId;
use nhip_domain::journey::{TicketPriority, TicketQueue};

use crate::format;
use crate::pages::care::Choice;
use crate::pages::{Shell, render};
use crate::session::{Staff, store_failure};

/// A ticket as listed.
pub struct TicketRow {
    /// The customer's id, when it is still there.
    pub customer_id: String,
    /// The customer's name.
    pub customer: String,
    /// What to do.
    pub title: String,
    /// Priority, in Vietnamese.
    pub priority: &'static str,
    /// Status, in Vietnamese.
    pub status: String,
    /// Who it goes to.
    pub assignee: String,
    /// To be handled by.
    pub due: String,
    /// Past its due time.
    pub overdue: bool,
    /// Opened.
    pub created: String,
}

#[derive(Template)]
#[template(path = "tickets.html")]
struct TicketsPage {
    shell: Shell,
    queues: Vec<Choice>,
    queue_label: &'static str,
    rows: Vec<TicketRow>,
}

#[derive(Deserialize)]
pub struct TicketsQuery {
    queue: Option<String>,
}

fn priority_label(priority: TicketPriority) -> &'static str {
    match priority {
        TicketPriority::Low => "Thấp",
        TicketPriority::Normal => "Bình thường",
        TicketPriority::High => "Cao",
        TicketPriority::Urgent => "Khẩn",
    }
}

/// Tickets as rows, each named by its customer while the customer is there.
fn ticket_rows(
    tickets: &[tickets::Ticket],
    names: &std::collections::HashMap<CustomerId, String>,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<TicketRow> {
    tickets
        .iter()
        .map(|ticket| {
            let name = ticket
                .customer_id
                .parse::<CustomerId>()
                .ok()
                .and_then(|id| names.get(&id).cloned());
            TicketRow {
                customer_id: if name.is_some() {
                    ticket.customer_id.clone()
                } else {
                    String::new()
                },
                customer: name.unwrap_or_else(|| "(đã xoá)".into()),
                title: ticket.title.clone(),
                priority: priority_label(ticket.priority),
                status: ticket.status_label.clone(),
                assignee: ticket.assignee.clone().unwrap_or_default(),
                due: format::date_time(ticket.due_at),
                overdue: tickets::is_open(ticket) && ticket.due_at < now,
                created: format::date_time(ticket.created_at),
            }
        })
        .collect()
}

/// `GET /app/tickets?queue=telesales|rm|cskh`.
pub async fn page(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    Query(query): Query<TicketsQuery>,
) -> Response {
    let shell = match Shell::load(&deps, &staff, "/app/tickets").await {
        Ok(shell) => shell,
        Err(response) => return response,
    };
    let queue = TicketQueue::ALL
        .into_iter()
        .find(|q| Some(q.as_str()) == query.queue.as_deref())
        .unwrap_or(TicketQueue::Telesales);
    let tickets = match tickets::queue_tickets(&deps, &staff.principal, queue, 100).await {
        Ok(tickets) => tickets,
        Err(error) => return store_failure(error),
    };
    let ids = tickets
        .iter()
        .filter_map(|t| t.customer_id.parse::<CustomerId>().ok());
    let names = match repo::names(&*deps.store, ids).await {
        Ok(names) => names,
        Err(error) => return store_failure(error),
    };
    let rows = ticket_rows(&tickets, &names, deps.clock.now());
    render(&TicketsPage {
        shell,
        queues: TicketQueue::ALL
            .into_iter()
            .map(|q| Choice {
                value: q.as_str().to_owned(),
                label: q.label().to_owned(),
                selected: q == queue,
            })
            .collect(),
        queue_label: queue.label(),
        rows,
    })
}
