//! "Phiếu": the telesales, RM and customer-service (CSKH) tickets the journeys open, as the
//! API scopes them (a caller sees the tickets of the customers in their scope, those assigned
//! to them, and a manager those of their team). The list has the queue, "Của tôi", "Nhóm tôi"
//! and "Quá hạn" views and, for managers and admins, the counts and SLA compliance per queue.
//! A ticket's page is where the agent works it: the next allowed call time (an invitation call
//! keeps to Decree 91), logging a call, planning one, taking and closing it with the outcome;
//! managers reassign it there.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use nhip_core::auth::Role;
use nhip_core::deps::Deps;
use nhip_crm::customers::repo;
use nhip_domain::customer::Purpose;
use nhip_domain::ids::CustomerId;
use nhip_domain::journey::{TicketPriority, TicketQueue};
use nhip_work::tickets::{self, TicketView, calls, views};

use crate::format;
use crate::pages::care::Choice;
use crate::pages::{Shell, form_problem, problem_of, redirect_with_problem, render};
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
    /// An invitation call (Decree 91 applies).
    pub invitation: bool,
}

/// A queue's counts as shown.
pub struct StatsRow {
    /// The queue's name.
    pub label: String,
    /// New.
    pub new: i64,
    /// In progress.
    pub in_progress: i64,
    /// Won.
    pub won: i64,
    /// Lost or unreachable.
    pub not_won: i64,
    /// Escalated.
    pub escalated: i64,
    /// SLA compliance, or a dash.
    pub compliance: String,
}

#[derive(Template)]
#[template(path = "tickets.html")]
struct TicketsPage {
    shell: Shell,
    views: Vec<Choice>,
    queues: Vec<Choice>,
    view: &'static str,
    queue: &'static str,
    heading: String,
    rows: Vec<TicketRow>,
    stats: Vec<StatsRow>,
    journeys: Vec<Choice>,
}

#[derive(Deserialize)]
pub struct TicketsQuery {
    queue: Option<String>,
    view: Option<String>,
    done: Option<String>,
    journey: Option<String>,
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
                invitation: ticket.purpose == Purpose::Marketing,
            }
        })
        .collect()
}

async fn rows_of(deps: &Deps, found: &[tickets::Ticket]) -> Result<Vec<TicketRow>, Response> {
    let ids = found
        .iter()
        .filter_map(|t| t.customer_id.parse::<CustomerId>().ok());
    let names = repo::names(&*deps.store, ids)
        .await
        .map_err(store_failure)?;
    Ok(ticket_rows(found, &names, deps.clock.now()))
}

const VIEWS: [(&str, &str); 5] = [
    ("queue", "Hàng đợi"),
    ("mine", "Của tôi"),
    ("team", "Nhóm tôi"),
    ("overdue", "Quá hạn"),
    ("group", "Theo hành trình"),
];

/// The flash of a ticket action's outcome code; the messages are the console's own.
fn done_message(code: &str) -> &'static str {
    match code {
        "saved" => "Đã cập nhật phiếu.",
        "call" => "Đã ghi cuộc gọi vào lịch sử khách hàng.",
        "planned" => "Đã hẹn gọi; lịch hẹn có trong Lịch làm việc.",
        "reassigned" => "Đã chuyển phiếu.",
        "note" => "Ghi kết quả xử lý khi đóng phiếu.",
        "stale" => "Phiếu vừa được người khác cập nhật; đã tải lại.",
        "closed" => "Phiếu đã đóng, không đổi được trạng thái.",
        "forbidden" => "Chỉ quản lý hoặc quản trị được chuyển phiếu.",
        _ => "Không cập nhật được phiếu.",
    }
}

/// The journeys to pick for the "Theo hành trình" view, the one shown selected.
async fn journey_choices(deps: &Deps, shown: &str) -> Result<Vec<Choice>, Response> {
    let found = nhip_journeys::definitions::headers(deps)
        .await
        .map_err(store_failure)?;
    Ok(found
        .into_iter()
        .map(|j| Choice {
            selected: j.key == shown,
            label: format!("{} ({})", j.name, j.key),
            value: j.key,
        })
        .collect())
}

/// The list a view tab asks for, and the page's heading.
fn view_and_heading(view: &str, queue: TicketQueue, journey: &str) -> (TicketView, String) {
    match view {
        "group" => (
            TicketView::Group(format!("journey:{journey}")),
            format!("Phiếu theo hành trình {journey}"),
        ),
        "mine" => (TicketView::Mine, "Phiếu của tôi".to_owned()),
        "team" => (TicketView::Team(None), "Phiếu của nhóm tôi".to_owned()),
        "overdue" => (
            TicketView::Overdue(queue),
            format!("Phiếu quá hạn: {}", queue.label()),
        ),
        _ => (
            TicketView::Queue(queue),
            format!("Phiếu: {}", queue.label()),
        ),
    }
}

/// `GET /app/tickets?view=queue|mine|team|overdue&queue=telesales|rm|cskh`.
pub async fn page(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    Query(query): Query<TicketsQuery>,
) -> Response {
    let mut shell = match Shell::load(&deps, &staff, "/app/tickets").await {
        Ok(shell) => shell,
        Err(response) => return response,
    };
    if let Some(code) = &query.done {
        shell = shell.flash(done_message(code));
    }
    let queue = TicketQueue::ALL
        .into_iter()
        .find(|q| Some(q.as_str()) == query.queue.as_deref())
        .unwrap_or(TicketQueue::Telesales);
    let view = VIEWS
        .into_iter()
        .map(|(v, _)| v)
        .find(|v| Some(*v) == query.view.as_deref())
        .unwrap_or("queue");
    let journey = query.journey.clone().unwrap_or_default();
    let (wanted, heading) = view_and_heading(view, queue, &journey);
    let journeys = match journey_choices(&deps, &journey).await {
        Ok(choices) => choices,
        Err(response) => return response,
    };
    let rows = match listed_rows(&deps, &staff, &wanted).await {
        Ok(rows) => rows,
        Err(response) => return response,
    };
    let stats = match stats_rows(&deps, &staff.principal).await {
        Ok(stats) => stats,
        Err(response) => return response,
    };
    let choice = |value: &str, label: &str, selected: bool| Choice {
        value: value.to_owned(),
        label: label.to_owned(),
        selected,
    };
    render(&TicketsPage {
        shell,
        views: VIEWS
            .into_iter()
            .map(|(v, l)| choice(v, l, v == view))
            .collect(),
        queues: TicketQueue::ALL
            .into_iter()
            .map(|q| choice(q.as_str(), q.label(), q == queue))
            .collect(),
        view,
        queue: queue.as_str(),
        heading,
        rows,
        stats,
        journeys,
    })
}

/// The rows of a list the caller may see.
async fn listed_rows(
    deps: &Deps,
    staff: &Staff,
    wanted: &TicketView,
) -> Result<Vec<TicketRow>, Response> {
    let found = tickets::list(deps, &staff.principal, wanted, 100)
        .await
        .map_err(store_failure)?;
    rows_of(deps, &found).await
}

/// Each queue's counts for a manager or an admin; none for anyone else.
async fn stats_rows(
    deps: &Deps,
    principal: &nhip_core::auth::Principal,
) -> Result<Vec<StatsRow>, Response> {
    let queues = match views::stats(deps, principal).await {
        Ok(queues) => queues,
        Err(views::StatsError::Forbidden) => return Ok(Vec::new()),
        Err(views::StatsError::Store(error)) => return Err(store_failure(error)),
    };
    Ok(queues
        .into_iter()
        .map(|q| {
            let n = |s: &str| q.by_status.get(s).and_then(|v| v.as_i64()).unwrap_or(0);
            StatsRow {
                label: q.queue_label.clone(),
                new: n("new"),
                in_progress: n("in_progress"),
                won: n("won"),
                not_won: n("lost") + n("unreachable"),
                escalated: q.escalated,
                compliance: q
                    .sla_compliance_percent
                    .map_or_else(|| "—".into(), |p| format::percent(p / 100.0)),
            }
        })
        .collect())
}

/// When the agent may call, as the ticket's page says it, and whether calling is barred.
async fn next_call_text(deps: &Deps, ticket: &tickets::Ticket) -> Result<(String, bool), Response> {
    let now = deps.clock.now();
    Ok(match calls::next_allowed(deps, ticket, now).await {
        Ok(calls::CallWindow::From { at }) if at <= now => ("Có thể gọi ngay".to_owned(), false),
        Ok(calls::CallWindow::From { at }) => (format::date_time(at), false),
        Ok(calls::CallWindow::Never { reason }) => (
            if reason == "do_not_call" {
                "Không được gọi: số trong danh sách không nhận cuộc gọi quảng cáo".to_owned()
            } else {
                "Không gọi được: khách chưa có số di động".to_owned()
            },
            true,
        ),
        Err(error) => return Err(store_failure(error)),
    })
}

/// The active staff a manager or admin may give the ticket to; nobody for anyone else.
async fn reassign_choices(
    deps: &Deps,
    principal: &nhip_core::auth::Principal,
    ticket: &tickets::Ticket,
) -> Result<Vec<Choice>, Response> {
    if !matches!(principal.role, Role::Admin | Role::Manager) {
        return Ok(Vec::new());
    }
    let users = nhip_crm::staff::users(&*deps.store)
        .await
        .map_err(store_failure)?;
    Ok(users
        .into_iter()
        .filter(|u| u.active)
        .map(|u| Choice {
            selected: ticket.assignee.as_deref() == Some(u.username.as_str()),
            label: format!("{} ({})", u.display_name, u.username),
            value: u.username,
        })
        .collect())
}

#[derive(Template)]
#[template(path = "ticket.html")]
struct TicketPage {
    shell: Shell,
    row: TicketRow,
    queue_label: String,
    team: String,
    call_at: String,
    next_call: String,
    call_blocked: bool,
    notes: Vec<(String, String)>,
    can_reassign: bool,
    staff: Vec<Choice>,
    problem: String,
}

#[derive(Deserialize)]
pub struct TicketQuery {
    done: Option<String>,
    problem: Option<String>,
    seal: Option<String>,
}

/// `GET /app/tickets/{id}`: the ticket, where the agent works it.
pub async fn detail(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    Path(id): Path<String>,
    Query(query): Query<TicketQuery>,
) -> Response {
    let mut shell = match Shell::load(&deps, &staff, "/app/tickets").await {
        Ok(shell) => shell,
        Err(response) => return response,
    };
    if let Some(code) = &query.done {
        shell = shell.flash(done_message(code));
    }
    let ticket = match tickets::workflow::visible(&deps, &staff.principal, &id).await {
        Ok(ticket) => ticket,
        Err(tickets::StatusError::Store(error)) => return store_failure(error),
        Err(_) => return crate::pages::not_found(),
    };
    let (next_call, call_blocked) = match next_call_text(&deps, &ticket).await {
        Ok(text) => text,
        Err(response) => return response,
    };
    let can_reassign = matches!(staff.principal.role, Role::Admin | Role::Manager);
    let directory = match reassign_choices(&deps, &staff.principal, &ticket).await {
        Ok(choices) => choices,
        Err(response) => return response,
    };
    let rows = match rows_of(&deps, std::slice::from_ref(&ticket)).await {
        Ok(rows) => rows,
        Err(response) => return response,
    };
    let Some(row) = rows.into_iter().next() else {
        return crate::pages::not_found();
    };
    render(&TicketPage {
        shell,
        row,
        queue_label: ticket.queue_label.clone(),
        team: ticket.team.clone().unwrap_or_default(),
        call_at: ticket.call_at.map(format::date_time).unwrap_or_default(),
        next_call,
        call_blocked,
        notes: ticket
            .notes
            .iter()
            .map(|n| (format::date_time(n.at), n.text.clone()))
            .collect(),
        can_reassign,
        staff: directory,
        problem: problem_of(
            &staff,
            query.problem.as_deref().unwrap_or_default(),
            query.seal.as_deref().unwrap_or_default(),
        ),
    })
}

fn back(id: &str, code: &str) -> Response {
    Redirect::to(&format!("/app/tickets/{id}?done={code}")).into_response()
}

fn back_with_problem(staff: &Staff, id: &str, problem: &str) -> Response {
    redirect_with_problem(staff, &format!("/app/tickets/{id}?done=problem"), problem)
}

#[derive(Deserialize)]
pub struct StatusForm {
    status: String,
    #[serde(default)]
    note: String,
    version: u64,
    #[serde(default)]
    queue: String,
    #[serde(default)]
    from: String,
}

/// `POST /app/tickets/{id}/status`: takes the ticket, or closes it with its outcome; back to
/// the ticket, or to the list it was changed from.
pub async fn change_status(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<StatusForm>,
) -> Response {
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
                Err(_) => "invalid",
            }
        }
    };
    if form.from == "detail" {
        return back(&id, code);
    }
    let queue = TicketQueue::ALL
        .into_iter()
        .find(|q| q.as_str() == form.queue)
        .unwrap_or(TicketQueue::Telesales);
    Redirect::to(&format!(
        "/app/tickets?queue={}&done={code}",
        queue.as_str()
    ))
    .into_response()
}

#[derive(Deserialize)]
pub struct CallForm {
    outcome: String,
    #[serde(default)]
    duration_minutes: String,
    #[serde(default)]
    notes: String,
}

/// `POST /app/tickets/{id}/calls`: logs a call made on the ticket.
pub async fn log_call(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<CallForm>,
) -> Response {
    let duration = match form.duration_minutes.trim() {
        "" => None,
        raw => match raw.replace(',', ".").parse::<f64>() {
            Ok(minutes) if (0.0..=1440.0).contains(&minutes) => {
                Some((minutes * 60.0).round() as u32)
            }
            _ => return back_with_problem(&staff, &id, "Thời lượng: nhập số phút."),
        },
    };
    let Ok(outcome) = serde_json::from_value(serde_json::json!(form.outcome)) else {
        return back_with_problem(&staff, &id, "Chọn kết quả cuộc gọi.");
    };
    let call = calls::CallLog {
        outcome,
        duration_seconds: duration,
        notes: Some(form.notes.trim().to_owned()).filter(|n| !n.is_empty()),
    };
    match calls::log_call(&deps, &staff.principal, &id, &call).await {
        Ok(_) => back(&id, "call"),
        Err(error) => call_failure(&staff, &id, error),
    }
}

fn call_failure(staff: &Staff, id: &str, error: calls::CallError) -> Response {
    match error {
        calls::CallError::Ticket(tickets::StatusError::NotFound) => crate::pages::not_found(),
        calls::CallError::Ticket(tickets::StatusError::Store(error)) => store_failure(error),
        calls::CallError::Ticket(tickets::StatusError::Stale(_)) => back(id, "stale"),
        calls::CallError::Ticket(tickets::StatusError::NotAllowed { .. }) => back(id, "closed"),
        other => {
            let error: nhip_core::http::ApiError = other.into();
            let problem = error
                .fields
                .get("at")
                .cloned()
                .unwrap_or_else(|| form_problem(&error));
            back_with_problem(staff, id, &problem)
        }
    }
}

#[derive(Deserialize)]
pub struct PlanForm {
    date: String,
    #[serde(default)]
    time: String,
    version: u64,
}

/// `POST /app/tickets/{id}/call-plan`: plans the call (refused outside what Decree 91 allows
/// for an invitation call, with the earliest allowed time).
pub async fn plan_call(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<PlanForm>,
) -> Response {
    let at = match format::parse_local(&form.date, &form.time) {
        Ok(at) => at,
        Err(problem) => return back_with_problem(&staff, &id, &problem),
    };
    let plan = calls::CallPlan {
        at,
        version: form.version,
    };
    match calls::plan(&deps, &staff.principal, &id, &plan).await {
        Ok(_) => back(&id, "planned"),
        Err(error) => call_failure(&staff, &id, error),
    }
}

#[derive(Deserialize)]
pub struct ReassignForm {
    assignee: String,
    version: u64,
}

/// `POST /app/tickets/{id}/assignee`: a manager or admin gives the ticket to someone else.
pub async fn reassign(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<ReassignForm>,
) -> Response {
    let request = tickets::workflow::Reassign {
        assignee: form.assignee,
        version: form.version,
    };
    match tickets::workflow::reassign(&deps, &staff.principal, &id, &request).await {
        Ok(_) => back(&id, "reassigned"),
        Err(tickets::StatusError::NotFound) => crate::pages::not_found(),
        Err(tickets::StatusError::Store(error)) => store_failure(error),
        Err(tickets::StatusError::Forbidden) => back(&id, "forbidden"),
        Err(tickets::StatusError::Stale(_)) => back(&id, "stale"),
        Err(tickets::StatusError::NotAllowed { .. }) => back(&id, "closed"),
        Err(_) => back_with_problem(&staff, &id, "Chọn một nhân sự đang hoạt động."),
    }
}
