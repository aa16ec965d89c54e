//! "Phiếu": the telesales, RM and customer-service (CSKH) queues the journeys fill, scoped as
//! the API is: a caller sees the tickets of the customers in their scope and those assigned
//! to them.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
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
    /// Its id, for the status form.
    pub id: String,
    /// The version the status form names.
    pub version: u64,
    /// Still to be worked: the status form is offered.
    pub open: bool,
    /// The outcome recorded when it was closed.
    pub outcome: String,
    /// Later requests folded into it while it was open.
    pub later: usize,
}

#[derive(Template)]
#[template(path = "tickets.html")]
struct TicketsPage {
    shell: Shell,
    queues: Vec<Choice>,
    queue: &'static str,
    queue_label: &'static str,
    rows: Vec<TicketRow>,
}

#[derive(Deserialize)]
pub struct TicketsQuery {
    queue: Option<String>,
    done: Option<String>,
}

#[derive(Deserialize)]
pub struct StatusForm {
    status: String,
    #[serde(default)]
    note: String,
    version: u64,
    #[serde(default)]
    queue: String,
}

/// `POST /app/tickets/{id}/status`: takes the ticket, or closes it with its outcome.
pub async fn change_status(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    axum::extract::Path(id): axum::extract::Path<String>,
    axum::Form(form): axum::Form<StatusForm>,
) -> Response {
    let queue = TicketQueue::ALL
        .into_iter()
        .find(|q| q.as_str() == form.queue)
        .unwrap_or(TicketQueue::Telesales);
    let status = serde_json::from_value(serde_json::json!(form.status));
    let code = match status {
        Err(_) => "invalid",
        Ok(status) => {
            let change = tickets::StatusChange {
                status,
                note: Some(form.note.clone()),
                version: form.version,
            };
            match tickets::change(&deps, &staff.principal, &id, &change).await {
                Ok(_) => "saved",
                Err(tickets::StatusError::NotFound) => return crate::pages::not_found(),
                Err(tickets::StatusError::Store(error)) => return store_failure(error),
                Err(tickets::StatusError::Note) => "note",
                Err(tickets::StatusError::Stale(_)) => "stale",
                Err(tickets::StatusError::NotAllowed { .. }) => "closed",
            }
        }
    };
    axum::response::Redirect::to(&format!(
        "/app/tickets?queue={}&done={code}",
        queue.as_str()
    ))
    .into_response()
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
                id: ticket.id.clone(),
                version: ticket.version,
                open: tickets::is_open(ticket),
                outcome: ticket.outcome_note.clone().unwrap_or_default(),
                later: ticket.notes.len(),
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
    let mut shell = match Shell::load(&deps, &staff, "/app/tickets").await {
        Ok(shell) => shell,
        Err(response) => return response,
    };
    // The messages are the console's own, picked by code.
    if let Some(code) = &query.done {
        shell = shell.flash(match code.as_str() {
            "saved" => "Đã cập nhật phiếu.",
            "note" => "Ghi kết quả xử lý khi đóng phiếu.",
            "stale" => "Phiếu vừa được người khác cập nhật; đã tải lại.",
            "closed" => "Phiếu đã đóng, không đổi được trạng thái.",
            _ => "Không cập nhật được phiếu.",
        });
    }
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
        queue: queue.as_str(),
        queue_label: queue.label(),
        rows,
    })
}
