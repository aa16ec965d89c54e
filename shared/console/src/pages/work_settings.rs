//! "Phiếu & lịch" (admins): how each ticket queue assigns its tickets, and the working calendar
//! SLAs and call windows count on: this year's public holidays as computed (Tết and Giỗ Tổ by
//! the lunar calendar), and the government's days off and make-up working days, entered one
//! date a line.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use chrono::{Datelike, NaiveDate};
use serde::Deserialize;

use nhip_core::deps::Deps;
use nhip_domain::calendar::WorkCalendar;
use nhip_domain::journey::TicketQueue;
use nhip_work::tickets::assign::{self, Assignment, QueueRule, RuleError, RuleInput};

use crate::format;
use crate::pages::admin::admin_only;
use crate::pages::care::Choice;
use crate::pages::{Shell, problem_of, redirect_with_problem, render};
use crate::session::{Staff, store_failure};

/// A queue's rule as the form shows it.
pub struct QueueRow {
    /// The queue's wire name.
    pub queue: &'static str,
    /// Its name.
    pub label: &'static str,
    /// The assignments, the current one selected.
    pub assignments: Vec<Choice>,
    /// The teams, the current one selected.
    pub teams: Vec<Choice>,
    /// The rule's version.
    pub version: u64,
}

#[derive(Template)]
#[template(path = "work_settings.html")]
struct SettingsPage {
    shell: Shell,
    queues: Vec<QueueRow>,
    year: i32,
    holidays: Vec<(String, &'static str)>,
    days_off: String,
    working_days: String,
    calendar_version: u64,
    problem: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SettingsQuery {
    done: String,
    problem: String,
    seal: String,
}

const ASSIGNMENTS: [Assignment; 4] = [
    Assignment::Owner,
    Assignment::RoundRobin,
    Assignment::LeastLoaded,
    Assignment::Queue,
];

fn wire(assignment: Assignment) -> &'static str {
    match assignment {
        Assignment::Owner => "owner",
        Assignment::RoundRobin => "round_robin",
        Assignment::LeastLoaded => "least_loaded",
        Assignment::Queue => "queue",
    }
}

async fn queue_rows(deps: &Deps) -> Result<Vec<QueueRow>, Response> {
    let teams = nhip_crm::staff::teams(&*deps.store)
        .await
        .map_err(store_failure)?;
    let mut rows = Vec::new();
    for queue in TicketQueue::ALL {
        let (rule, version) = assign::rule(deps, queue).await.map_err(store_failure)?;
        let mut team_choices = vec![Choice {
            value: String::new(),
            label: "(không)".into(),
            selected: rule.team.is_none(),
        }];
        team_choices.extend(teams.iter().map(|t| Choice {
            value: t.key.clone(),
            label: t.name.clone(),
            selected: rule.team.as_deref() == Some(t.key.as_str()),
        }));
        rows.push(QueueRow {
            queue: queue.as_str(),
            label: queue.label(),
            assignments: ASSIGNMENTS
                .iter()
                .map(|a| Choice {
                    value: wire(*a).into(),
                    label: a.label().into(),
                    selected: *a == rule.assignment,
                })
                .collect(),
            teams: team_choices,
            version,
        });
    }
    Ok(rows)
}

fn dates(set: &std::collections::BTreeSet<NaiveDate>) -> String {
    set.iter()
        .map(|d| format::date(*d))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `GET /app/admin/work`.
pub async fn page(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    Query(query): Query<SettingsQuery>,
) -> Response {
    if let Err(response) = admin_only(&staff) {
        return response;
    }
    let mut shell = match Shell::load(&deps, &staff, "/app/admin/work").await {
        Ok(shell) => shell,
        Err(response) => return response,
    };
    if query.done == "saved" {
        shell = shell.flash("Đã lưu.");
    }
    let queues = match queue_rows(&deps).await {
        Ok(rows) => rows,
        Err(response) => return response,
    };
    let (calendar, version) = match nhip_work::calendar::stored_or_default(&deps).await {
        Ok(found) => found,
        Err(error) => return store_failure(error),
    };
    let year = nhip_domain::time::vn_date(deps.clock.now()).year();
    render(&SettingsPage {
        shell,
        queues,
        year,
        holidays: calendar
            .holidays(year)
            .into_iter()
            .map(|(d, name)| (format::date(d), name))
            .collect(),
        days_off: dates(&calendar.days_off),
        working_days: dates(&calendar.working_days),
        calendar_version: version,
        problem: problem_of(&staff, &query.problem, &query.seal),
    })
}

fn back(staff: &Staff, problem: &str) -> Response {
    let done = if problem.is_empty() { "saved" } else { "" };
    redirect_with_problem(staff, &format!("/app/admin/work?done={done}"), problem)
}

#[derive(Deserialize)]
pub struct RuleForm {
    assignment: String,
    #[serde(default)]
    team: String,
    version: u64,
}

/// `POST /app/admin/work/queues/{queue}`: a queue's rule.
pub async fn save_rule(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    Path(queue): Path<String>,
    axum::Form(form): axum::Form<RuleForm>,
) -> Response {
    if let Err(response) = admin_only(&staff) {
        return response;
    }
    let Some(queue) = TicketQueue::ALL.into_iter().find(|q| q.as_str() == queue) else {
        return crate::pages::not_found();
    };
    let Some(assignment) = ASSIGNMENTS
        .into_iter()
        .find(|a| wire(*a) == form.assignment)
    else {
        return back(&staff, "Chọn cách chia phiếu.");
    };
    let input = RuleInput {
        version: form.version,
        rule: QueueRule {
            assignment,
            team: Some(form.team.trim().to_owned()).filter(|t| !t.is_empty()),
        },
    };
    match assign::save_rule(&deps, &staff.principal, queue, &input).await {
        Ok(_) => back(&staff, ""),
        Err(RuleError::Store(error)) => store_failure(error),
        Err(RuleError::Team) => back(
            &staff,
            "Chia lần lượt hoặc theo tải cần một nhóm có trong danh bạ.",
        ),
        Err(RuleError::Stale(_)) => back(&staff, "Quy tắc vừa được người khác đổi; đã tải lại."),
    }
}

#[derive(Deserialize)]
pub struct CalendarForm {
    #[serde(default)]
    days_off: String,
    #[serde(default)]
    working_days: String,
    version: u64,
}

fn parse_dates(raw: &str) -> Result<std::collections::BTreeSet<NaiveDate>, String> {
    raw.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            format::parse_date(l).ok_or_else(|| format!("Ngày không hợp lệ: {l} (dd/mm/yyyy)."))
        })
        .collect()
}

/// `POST /app/admin/work/calendar`: this year's days off and make-up working days.
pub async fn save_calendar(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    axum::Form(form): axum::Form<CalendarForm>,
) -> Response {
    if let Err(response) = admin_only(&staff) {
        return response;
    }
    let (days_off, working_days) =
        match (parse_dates(&form.days_off), parse_dates(&form.working_days)) {
            (Ok(off), Ok(worked)) => (off, worked),
            (Err(problem), _) | (_, Err(problem)) => return back(&staff, &problem),
        };
    let calendar = match nhip_work::calendar::stored_or_default(&deps).await {
        Ok((current, _)) => WorkCalendar {
            days_off,
            working_days,
            ..current
        },
        Err(error) => return store_failure(error),
    };
    match nhip_work::calendar::save(&deps, &staff.principal, &calendar, form.version).await {
        Ok(_) => back(&staff, ""),
        Err(nhip_work::calendar::SaveError::Store(error)) => store_failure(error),
        Err(nhip_work::calendar::SaveError::Invalid(_, problem)) => back(&staff, &problem),
        Err(nhip_work::calendar::SaveError::Stale(_)) => {
            back(&staff, "Lịch vừa được người khác đổi; đã tải lại.")
        }
    }
}
