//! "Công việc" (seed 002 IV): the tasks I am to do, those I gave, or the company's (admins),
//! by day, week or month with each person's progress; giving a task to myself or to someone
//! who reports to me; a task's page with its comments and "Đã hoàn thành".

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Duration, NaiveDate};
use serde::Deserialize;

use nhip_core::auth::Role;
use nhip_core::deps::Deps;
use nhip_work::tasks::{self, Period, Progress, Task, TaskError, Whose};

use crate::format;
use crate::pages::care::Choice;
use crate::pages::{Shell, problem_of, redirect_with_problem, render};
use crate::session::{Staff, store_failure};

/// A task as listed.
pub struct TaskRow {
    /// Its id.
    pub id: String,
    /// What to do.
    pub title: String,
    /// Who does it.
    pub assignee: String,
    /// Who gave it.
    pub assigner: String,
    /// By when.
    pub deadline: String,
    /// The day it is due, as a heading.
    pub day: String,
    /// Priority in Vietnamese.
    pub priority: &'static str,
    /// Status in Vietnamese.
    pub status: String,
    /// Open past its deadline.
    pub overdue: bool,
}

/// A task as a row of a list.
pub fn task_row(task: &Task, now: chrono::DateTime<chrono::Utc>) -> TaskRow {
    TaskRow {
        id: task.id.clone(),
        title: task.title.clone(),
        assignee: task.assignee.clone(),
        assigner: task.assigner.clone(),
        deadline: format::date_time(task.deadline),
        day: day_heading(nhip_domain::time::vn_date(task.deadline)),
        priority: task.priority.label(),
        status: task.status_label.clone(),
        overdue: task.is_overdue(now),
    }
}

/// "Thứ Hai 30/11/2026".
pub fn day_heading(date: NaiveDate) -> String {
    use chrono::Datelike;
    let name = match date.weekday() {
        chrono::Weekday::Mon => "Thứ Hai",
        chrono::Weekday::Tue => "Thứ Ba",
        chrono::Weekday::Wed => "Thứ Tư",
        chrono::Weekday::Thu => "Thứ Năm",
        chrono::Weekday::Fri => "Thứ Sáu",
        chrono::Weekday::Sat => "Thứ Bảy",
        chrono::Weekday::Sun => "Chủ Nhật",
    };
    format!("{name} {}", format::date(date))
}

#[derive(Template)]
#[template(path = "tasks.html")]
struct TasksPage {
    shell: Shell,
    views: Vec<Choice>,
    periods: Vec<Choice>,
    view: String,
    period: &'static str,
    date: String,
    range: String,
    previous: String,
    next: String,
    rows: Vec<TaskRow>,
    progress: Vec<Progress>,
    assignees: Vec<Choice>,
    problem: String,
    person: String,
    customer: String,
}

/// The query of the list.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TasksQuery {
    view: String,
    period: String,
    date: String,
    done: String,
    problem: String,
    seal: String,
    assignee: String,
    customer: String,
}

/// The period a query asks for, its name, and the day it holds.
pub fn period_of(raw: &str, date: &str, today: NaiveDate) -> (Period, &'static str, NaiveDate) {
    let (period, name) = match raw {
        "day" => (Period::Day, "day"),
        "month" => (Period::Month, "month"),
        _ => (Period::Week, "week"),
    };
    let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap_or(today);
    (period, name, date)
}

/// The day before and after the period, for the arrows.
pub fn neighbours(period: Period, date: NaiveDate) -> (NaiveDate, NaiveDate) {
    let step = match period {
        Period::Day => Duration::days(1),
        Period::Week => Duration::days(7),
        Period::Month => Duration::days(31),
    };
    let (from, to) = tasks::period(period, date);
    let first = nhip_domain::time::vn_date(from);
    let after = nhip_domain::time::vn_date(to);
    match period {
        Period::Month => (first - Duration::days(1), after),
        _ => (date - step, date + step),
    }
}

/// The list a query asks for, and its tab.
fn whose_of(query: &TasksQuery, principal: &nhip_core::auth::Principal) -> (&'static str, Whose) {
    match query.view.as_str() {
        "given" => ("given", Whose::GivenBy(principal.user.clone())),
        "company" if principal.role == Role::Admin => ("company", Whose::Company),
        "of" if !query.assignee.is_empty() => ("of", Whose::AssignedTo(query.assignee.clone())),
        _ => ("mine", Whose::AssignedTo(principal.user.clone())),
    }
}

/// Who the caller may give a task to: themselves, and (managers, admins) those who report to
/// them.
async fn assignees(deps: &Deps, staff: &Staff) -> Result<Vec<Choice>, Response> {
    let users = nhip_crm::staff::users(&*deps.store)
        .await
        .map_err(store_failure)?;
    let mut choices = Vec::new();
    for user in users.into_iter().filter(|u| u.active) {
        let mine = tasks::may_assign(deps, &staff.principal, &user.username)
            .await
            .map_err(store_failure)?;
        if mine {
            choices.push(Choice {
                selected: user.username == staff.principal.user,
                label: format!("{} ({})", user.display_name, user.username),
                value: user.username,
            });
        }
    }
    Ok(choices)
}

fn choices(options: &[(&str, &str)], chosen: &str) -> Vec<Choice> {
    options
        .iter()
        .map(|(value, label)| Choice {
            value: (*value).to_owned(),
            label: (*label).to_owned(),
            selected: *value == chosen,
        })
        .collect()
}

/// `GET /app/tasks?view=mine|given|company&period=day|week|month&date=YYYY-MM-DD`.
pub async fn page(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    Query(query): Query<TasksQuery>,
) -> Response {
    let mut shell = match Shell::load(&deps, &staff, "/app/tasks").await {
        Ok(shell) => shell,
        Err(response) => return response,
    };
    if query.done == "created" {
        shell = shell.flash("Đã giao việc.");
    }
    let now = deps.clock.now();
    let (period, period_name, date) =
        period_of(&query.period, &query.date, nhip_domain::time::vn_date(now));
    let admin = staff.principal.role == Role::Admin;
    let (view, whose) = whose_of(&query, &staff.principal);
    let (from, to) = tasks::period(period, date);
    let found = match tasks::list(&deps, &staff.principal, &whose, from, to, 500).await {
        Ok(found) => found,
        Err(TaskError::Store(error)) => return store_failure(error),
        Err(_) => Vec::new(),
    };
    let assignees = match assignees(&deps, &staff).await {
        Ok(choices) => choices,
        Err(response) => return response,
    };
    let (previous, next) = neighbours(period, date);
    let mut views = vec![("mine", "Việc của tôi"), ("given", "Việc tôi giao")];
    if admin {
        views.push(("company", "Toàn công ty"));
    }
    let last_day = nhip_domain::time::vn_date(to - Duration::seconds(1));
    render(&TasksPage {
        shell,
        views: choices(&views, view),
        periods: choices(
            &[("day", "Ngày"), ("week", "Tuần"), ("month", "Tháng")],
            period_name,
        ),
        view: view.to_owned(),
        period: period_name,
        date: date.to_string(),
        range: format!(
            "{} – {}",
            format::date(nhip_domain::time::vn_date(from)),
            format::date(last_day)
        ),
        previous: previous.to_string(),
        next: next.to_string(),
        progress: tasks::progress(&found, now),
        rows: found.iter().map(|t| task_row(t, now)).collect(),
        assignees,
        problem: problem_of(&staff, &query.problem, &query.seal),
        person: query.assignee,
        customer: query.customer,
    })
}

/// The form giving a task.
#[derive(Deserialize)]
pub struct NewTaskForm {
    title: String,
    #[serde(default)]
    description: String,
    assignee: String,
    date: String,
    #[serde(default)]
    time: String,
    #[serde(default)]
    priority: String,
    #[serde(default)]
    remind_minutes: String,
    #[serde(default)]
    customer_id: String,
}

fn back_to_list(staff: &Staff, problem: &str) -> Response {
    redirect_with_problem(staff, "/app/tasks?view=given", problem)
}

/// `POST /app/tasks`: gives a task.
pub async fn create(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    axum::Form(form): axum::Form<NewTaskForm>,
) -> Response {
    let deadline = match format::parse_local(&form.date, &form.time) {
        Ok(at) => at,
        Err(problem) => return back_to_list(&staff, &problem),
    };
    let remind = match form.remind_minutes.trim() {
        "" => None,
        raw => match raw.parse::<u32>() {
            Ok(minutes) => Some(minutes),
            Err(_) => return back_to_list(&staff, "Nhắc trước: nhập số phút."),
        },
    };
    let priority = match form.priority.as_str() {
        "low" => tasks::Priority::Low,
        "high" => tasks::Priority::High,
        _ => tasks::Priority::Normal,
    };
    let new = tasks::NewTask {
        title: form.title,
        description: form.description,
        customer_id: Some(form.customer_id.trim().to_owned()).filter(|c| !c.is_empty()),
        assignee: form.assignee,
        deadline,
        priority,
        remind_minutes: remind,
    };
    match tasks::create(&deps, &staff.principal, &new).await {
        Ok(task) => {
            let date = nhip_domain::time::vn_date(task.deadline);
            Redirect::to(&format!("/app/tasks?view=given&date={date}&done=created")).into_response()
        }
        Err(TaskError::Store(error)) => store_failure(error),
        Err(TaskError::Invalid { message, .. }) => back_to_list(&staff, message),
        Err(_) => back_to_list(
            &staff,
            "Bạn chỉ giao việc cho mình và người báo cáo cho bạn.",
        ),
    }
}

#[derive(Template)]
#[template(path = "task.html")]
struct TaskPage {
    shell: Shell,
    task: TaskRow,
    description: String,
    version: u64,
    open: bool,
    is_assignee: bool,
    completion: String,
    completed: String,
    comments: Vec<(String, String, String)>,
    problem: String,
    customer_id: String,
    customer: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TaskQuery {
    done: String,
    problem: String,
    seal: String,
}

/// `GET /app/tasks/{id}`.
pub async fn detail(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    Path(id): Path<String>,
    Query(query): Query<TaskQuery>,
) -> Response {
    let mut shell = match Shell::load(&deps, &staff, "/app/tasks").await {
        Ok(shell) => shell,
        Err(response) => return response,
    };
    match query.done.as_str() {
        "completed" => shell = shell.flash("Đã hoàn thành công việc."),
        "commented" => shell = shell.flash("Đã gửi bình luận."),
        _ => {}
    }
    let task = match tasks::visible(&deps, &staff.principal, &id).await {
        Ok(task) => task,
        Err(TaskError::Store(error)) => return store_failure(error),
        Err(_) => return crate::pages::not_found(),
    };
    let now = deps.clock.now();
    let customer = match tasks::customer_of(&task) {
        Some(id) => match nhip_crm::customers::repo::names(&*deps.store, [id]).await {
            Ok(names) => names.get(&id).cloned().unwrap_or_default(),
            Err(error) => return store_failure(error),
        },
        None => String::new(),
    };
    render(&TaskPage {
        shell,
        task: task_row(&task, now),
        description: task.description.clone(),
        version: task.version,
        open: task.status == tasks::TaskStatus::Open,
        is_assignee: task.assignee == staff.principal.user,
        completion: task.completion_comment.clone().unwrap_or_default(),
        completed: task.completed_at.map(format::date_time).unwrap_or_default(),
        comments: task
            .comments
            .iter()
            .map(|c| (format::date_time(c.at), c.by.clone(), c.text.clone()))
            .collect(),
        problem: problem_of(&staff, &query.problem, &query.seal),
        customer_id: task.customer_id.clone().unwrap_or_default(),
        customer,
    })
}

fn back_to_task(staff: &Staff, id: &str, done: &str, problem: &str) -> Response {
    redirect_with_problem(staff, &format!("/app/tasks/{id}?done={done}"), problem)
}

fn task_failure(staff: &Staff, id: &str, error: TaskError) -> Response {
    match error {
        TaskError::Store(error) => store_failure(error),
        TaskError::NotFound => crate::pages::not_found(),
        TaskError::Invalid { message, .. } => back_to_task(staff, id, "", message),
        TaskError::Stale(_) => {
            back_to_task(staff, id, "", "Công việc vừa được cập nhật; đã tải lại.")
        }
        TaskError::Done => back_to_task(staff, id, "", "Công việc đã hoàn thành."),
        TaskError::NotYours => {
            back_to_task(staff, id, "", "Chỉ người được giao đánh dấu hoàn thành.")
        }
    }
}

#[derive(Deserialize)]
pub struct CompleteForm {
    #[serde(default)]
    comment: String,
    version: u64,
}

/// `POST /app/tasks/{id}/complete`: "Đã hoàn thành", with its comment.
pub async fn complete(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<CompleteForm>,
) -> Response {
    match tasks::complete(&deps, &staff.principal, &id, &form.comment, form.version).await {
        Ok(_) => back_to_task(&staff, &id, "completed", ""),
        Err(error) => task_failure(&staff, &id, error),
    }
}

#[derive(Deserialize)]
pub struct CommentForm {
    #[serde(default)]
    text: String,
}

/// `POST /app/tasks/{id}/comments`.
pub async fn comment(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<CommentForm>,
) -> Response {
    match tasks::comment(&deps, &staff.principal, &id, &form.text).await {
        Ok(_) => back_to_task(&staff, &id, "commented", ""),
        Err(error) => task_failure(&staff, &id, error),
    }
}
