//! "Lịch làm việc": my next actions across customers and my tasks, by day or week, the overdue
//! flagged; a next action is completed (with the call or meeting logged in the same step),
//! moved to another time, or cancelled here.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use chrono::Duration;
use serde::Deserialize;
use serde_json::Value;

use nhip_core::deps::Deps;
use nhip_crm::customers::interactions::{Direction, Kind, NewInteraction};
use nhip_crm::customers::repo;
use nhip_crm::next_actions::{self, ChangeError};
use nhip_domain::ids::CustomerId;
use nhip_work::agenda;

use crate::format;
use crate::pages::care::Choice;
use crate::pages::tasks::{TaskRow, day_heading, neighbours, period_of};
use crate::pages::{Shell, form_problem, problem_of, redirect_with_problem, render};
use crate::session::{Staff, store_failure};

/// A next action on the agenda.
pub struct ActionRow {
    /// The customer's id.
    pub customer_id: String,
    /// The customer's name.
    pub customer: String,
    /// The action's id.
    pub id: String,
    /// Call, SMS, e-mail, meeting (Vietnamese).
    pub label: String,
    /// When.
    pub at: String,
    /// The day, as a heading.
    pub day: String,
    /// What to do.
    pub note: String,
    /// Still to do.
    pub open: bool,
    /// Status in Vietnamese.
    pub status: &'static str,
    /// Still to do and past its time.
    pub overdue: bool,
}

#[derive(Template)]
#[template(path = "agenda.html")]
struct AgendaPage {
    shell: Shell,
    periods: Vec<Choice>,
    period: &'static str,
    date: String,
    range: String,
    previous: String,
    next: String,
    actions: Vec<ActionRow>,
    tasks: Vec<TaskRow>,
    problem: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct AgendaQuery {
    period: String,
    date: String,
    done: String,
    problem: String,
    seal: String,
}

fn status_label(status: &str) -> &'static str {
    match status {
        "done" => "Đã xong",
        "cancelled" => "Đã huỷ",
        "due" => "Đến hạn",
        _ => "Đã hẹn",
    }
}

async fn action_rows(
    deps: &Deps,
    found: &[next_actions::AgendaAction],
) -> Result<Vec<ActionRow>, Response> {
    let ids = found
        .iter()
        .filter_map(|a| a.customer_id.parse::<CustomerId>().ok());
    let names = repo::names(&*deps.store, ids)
        .await
        .map_err(store_failure)?;
    Ok(found
        .iter()
        .map(|a| {
            let text = |name: &str| {
                a.action
                    .get(name)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
            };
            let at = chrono::DateTime::parse_from_rfc3339(text("at"))
                .map(|t| t.to_utc())
                .ok();
            ActionRow {
                customer: a
                    .customer_id
                    .parse::<CustomerId>()
                    .ok()
                    .and_then(|id| names.get(&id).cloned())
                    .unwrap_or_else(|| "(đã xoá)".into()),
                customer_id: a.customer_id.clone(),
                id: text("id").to_owned(),
                label: text("label").to_owned(),
                at: at.map(format::date_time).unwrap_or_default(),
                day: at
                    .map(|t| day_heading(nhip_domain::time::vn_date(t)))
                    .unwrap_or_default(),
                note: text("note").to_owned(),
                open: matches!(text("status"), "scheduled" | "due"),
                status: status_label(text("status")),
                overdue: a.overdue,
            }
        })
        .collect())
}

/// `GET /app/agenda?period=day|week&date=YYYY-MM-DD`.
pub async fn page(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    Query(query): Query<AgendaQuery>,
) -> Response {
    let mut shell = match Shell::load(&deps, &staff, "/app/agenda").await {
        Ok(shell) => shell,
        Err(response) => return response,
    };
    match query.done.as_str() {
        "done" => shell = shell.flash("Đã hoàn thành lịch hẹn."),
        "moved" => shell = shell.flash("Đã dời lịch hẹn."),
        "cancelled" => shell = shell.flash("Đã huỷ lịch hẹn."),
        _ => {}
    }
    let now = deps.clock.now();
    let (period, name, date) =
        period_of(&query.period, &query.date, nhip_domain::time::vn_date(now));
    let (period, name) = match period {
        nhip_work::tasks::Period::Month => (nhip_work::tasks::Period::Week, "week"),
        other => (other, name),
    };
    let found = match agenda::of(&deps, &staff.principal, period, date).await {
        Ok(found) => found,
        Err(error) => return store_failure(error),
    };
    let actions = match action_rows(&deps, &found.actions).await {
        Ok(rows) => rows,
        Err(response) => return response,
    };
    let (previous, next) = neighbours(period, date);
    let last = nhip_domain::time::vn_date(found.to - Duration::seconds(1));
    render(&AgendaPage {
        shell,
        periods: [("day", "Ngày"), ("week", "Tuần")]
            .into_iter()
            .map(|(value, label)| Choice {
                value: value.into(),
                label: label.into(),
                selected: value == name,
            })
            .collect(),
        period: name,
        date: date.to_string(),
        range: format!(
            "{} – {}",
            format::date(nhip_domain::time::vn_date(found.from)),
            format::date(last)
        ),
        previous: previous.to_string(),
        next: next.to_string(),
        actions,
        tasks: found
            .tasks
            .iter()
            .map(|t| crate::pages::tasks::task_row(t, now))
            .collect(),
        problem: problem_of(&staff, &query.problem, &query.seal),
    })
}

/// Where the agenda's forms go back to.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ActionForm {
    period: String,
    date: String,
    log_call: String,
    outcome: String,
    notes: String,
    new_date: String,
    new_time: String,
}

fn back(staff: &Staff, form: &ActionForm, done: &str, problem: &str) -> Response {
    let path = format!(
        "/app/agenda?period={}&date={}&done={done}",
        encoded(&form.period),
        encoded(&form.date)
    );
    redirect_with_problem(staff, &path, problem)
}

fn encoded(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn failure(staff: &Staff, form: &ActionForm, error: ChangeError) -> Response {
    match error {
        ChangeError::Store(error) => store_failure(error),
        ChangeError::NotFound => crate::pages::not_found(),
        ChangeError::Closed(_) => back(staff, form, "", "Lịch hẹn đã xong hoặc đã huỷ."),
        ChangeError::InPast => back(staff, form, "", "Thời điểm mới phải ở tương lai."),
        ChangeError::Interaction(error) => back(staff, form, "", &form_problem(&error)),
    }
}

/// `POST /app/agenda/{customer}/{action}/{what}`: `complete` (with the call logged when
/// ticked), `reschedule` or `cancel`.
pub async fn act(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    Path((customer, action, what)): Path<(String, String, String)>,
    axum::Form(form): axum::Form<ActionForm>,
) -> Response {
    let principal = &staff.principal;
    let (result, done) = match what.as_str() {
        "complete" => {
            let call = (!form.log_call.is_empty()).then(|| NewInteraction {
                kind: Kind::Call,
                at: None,
                direction: Some(Direction::Outbound),
                duration_seconds: None,
                outcome: serde_json::from_value(serde_json::json!(form.outcome)).ok(),
                notes: Some(form.notes.trim().to_owned()).filter(|n| !n.is_empty()),
                feedback: None,
                classification: None,
                ticket_id: None,
            });
            let result =
                next_actions::complete(&deps, principal, &customer, &action, call.as_ref()).await;
            (result, "done")
        }
        "reschedule" => match format::parse_local(&form.new_date, &form.new_time) {
            Ok(at) => (
                next_actions::reschedule(&deps, principal, &customer, &action, at).await,
                "moved",
            ),
            Err(problem) => return back(&staff, &form, "", &problem),
        },
        "cancel" => (
            next_actions::cancel(&deps, principal, &customer, &action).await,
            "cancelled",
        ),
        _ => return crate::pages::not_found(),
    };
    match result {
        Ok(()) => back(&staff, &form, done, ""),
        Err(error) => failure(&staff, &form, error),
    }
}
