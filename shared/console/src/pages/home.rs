//! The home page (with the "KH mới chưa tư vấn" notice shown on sign-in, seed 002) and the
//! bell's list of notifications.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::Value;

use nhip_core::deps::Deps;

use crate::format;
use crate::pages::{Shell, render};
use crate::session::{Staff, store_failure};

/// A notification as listed.
pub struct NoticeRow {
    /// One line.
    pub title: String,
    /// Details.
    pub body: String,
    /// Where it leads in the console.
    pub href: String,
    /// When, dd/mm/yyyy hh:mm.
    pub at: String,
    /// Not read yet.
    pub unread: bool,
}

fn notice_rows(items: &[Value]) -> Vec<NoticeRow> {
    items
        .iter()
        .map(|item| {
            let text = |name: &str| item.get(name).and_then(Value::as_str).unwrap_or_default();
            let href = match item.get("customer_id").and_then(Value::as_str) {
                Some(id) => format!("/app/customers/{id}"),
                None => "/app/notifications".into(),
            };
            let at = chrono::DateTime::parse_from_rfc3339(text("at"))
                .map(|at| format::date_time(at.to_utc()))
                .unwrap_or_default();
            NoticeRow {
                title: text("title").to_owned(),
                body: text("body").to_owned(),
                href,
                at,
                unread: item.get("read") == Some(&Value::Bool(false)),
            }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    shell: Shell,
    welcome: bool,
    notices: Vec<NoticeRow>,
}

#[derive(Deserialize)]
pub struct HomeQuery {
    welcome: Option<String>,
}

/// `GET /app`: the notice of leads waiting and the latest notifications.
pub async fn page(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    Query(query): Query<HomeQuery>,
) -> Response {
    let shell = match Shell::load(&deps, &staff, "/app").await {
        Ok(shell) => shell,
        Err(response) => return response,
    };
    let page = match nhip_crm::notifications::page(&deps, &staff.principal, 5, None).await {
        Ok(page) => page,
        Err(error) => return store_failure(error),
    };
    render(&HomePage {
        welcome: query.welcome.is_some() && shell.new_leads > 0,
        shell,
        notices: notice_rows(&page.items),
    })
}

#[derive(Template)]
#[template(path = "notifications.html")]
struct NotificationsPage {
    shell: Shell,
    notices: Vec<NoticeRow>,
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct PageQuery {
    cursor: Option<String>,
}

/// `GET /app/notifications`: the bell's notifications, newest first.
pub async fn notifications(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    Query(query): Query<PageQuery>,
) -> Response {
    let shell = match Shell::load(&deps, &staff, "/app/notifications").await {
        Ok(shell) => shell,
        Err(response) => return response,
    };
    let cursor = query.cursor.map(nhip_ports::store::Cursor::from_client);
    let page = match nhip_crm::notifications::page(&deps, &staff.principal, 50, cursor).await {
        Ok(page) => page,
        Err(error) => return store_failure(error),
    };
    render(&NotificationsPage {
        shell,
        notices: notice_rows(&page.items),
        next: page.next_cursor,
    })
}

/// `POST /app/notifications/read`: marks them all read.
pub async fn mark_all_read(State(deps): State<Arc<Deps>>, staff: Staff) -> Response {
    match nhip_crm::notifications::mark_all(&deps, &staff.user.username).await {
        Ok(_) => Redirect::to("/app/notifications").into_response(),
        Err(error) => store_failure(error),
    }
}
