//! The lead inbox, "KH mới chưa tư vấn" (seed 002): the leads in the caller's scope nobody has
//! talked to yet, newest first, with their source and age; managers and admins hand them to
//! an owner picked from the staff directory.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use nhip_core::auth::Role;
use nhip_core::deps::Deps;
use nhip_crm::customers::list::{self, Filters};
use nhip_crm::customers::routes::{AssignOwner, assign};
use nhip_crm::staff;
use nhip_domain::customer::Lifecycle;

use crate::format;
use crate::pages::{Shell, api_error_page, render};
use crate::session::{Staff, store_failure};

/// A lead as listed.
pub struct LeadRow {
    /// Customer id.
    pub id: String,
    /// Full name.
    pub name: String,
    /// Main phone.
    pub phone: String,
    /// Main e-mail.
    pub email: String,
    /// Where it came from, in Vietnamese, with the campaign source when known.
    pub source: String,
    /// How long it has waited.
    pub age: String,
    /// Who owns it.
    pub owner: String,
    /// The version an assignment must name.
    pub version: u64,
}

/// A member of staff an owner may be picked from.
pub struct Assignee {
    /// User name.
    pub username: String,
    /// Shown as.
    pub label: String,
}

#[derive(Template)]
#[template(path = "leads.html")]
struct LeadsPage {
    shell: Shell,
    rows: Vec<LeadRow>,
    can_assign: bool,
    assignees: Vec<Assignee>,
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct LeadsQuery {
    cursor: Option<String>,
    assigned: Option<String>,
    error: Option<String>,
}

/// Who `staff` may hand a lead to: active users of their team (a manager), anyone active (an
/// admin).
async fn assignees(deps: &Deps, staff: &Staff) -> Result<Vec<Assignee>, Response> {
    let users = staff::users(&*deps.store).await.map_err(store_failure)?;
    Ok(users
        .into_iter()
        .filter(|user| user.active)
        .filter(|user| staff.principal.role == Role::Admin || user.team == staff.principal.team)
        .map(|user| Assignee {
            label: format!("{} ({})", user.display_name, user.username),
            username: user.username,
        })
        .collect())
}

/// A waiting lead as listed.
fn lead_row(
    customer: &nhip_crm::customers::model::Customer,
    now: chrono::DateTime<chrono::Utc>,
) -> LeadRow {
    let text = |value: Option<&str>| value.unwrap_or_default().to_owned();
    LeadRow {
        id: customer.id.to_string(),
        name: customer.full_name.clone(),
        phone: text(customer.phone().map(|p| p.as_str())),
        email: text(customer.email().map(|e| e.as_str())),
        source: match &customer.attribution.utm_source {
            Some(utm) => format!("{} · {utm}", customer.source.label()),
            None => customer.source.label().to_owned(),
        },
        age: format::age(customer.created_at, now),
        owner: text(customer.owner.as_deref()),
        version: customer.version,
    }
}

/// `GET /app/leads`.
pub async fn page(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    Query(query): Query<LeadsQuery>,
) -> Response {
    let mut shell = match Shell::load(&deps, &staff, "/app/leads").await {
        Ok(shell) => shell,
        Err(response) => return response,
    };
    // The messages are the console's own, picked by code: a link cannot put words on the page.
    if let Some(username) = &query.assigned
        && let Ok(Some(owner)) = staff::user(&*deps.store, username).await
    {
        shell = shell.flash(format!("Đã giao khách hàng cho {}.", owner.display_name));
    }
    if let Some(code) = &query.error {
        shell = shell.flash(match code.as_str() {
            "inactive" => "Chọn một nhân viên đang hoạt động.",
            "stale" => "Khách hàng vừa được người khác cập nhật; đã tải lại, hãy giao lại.",
            _ => "Không giao được khách hàng; vui lòng thử lại.",
        });
    }
    let filters = Filters {
        lifecycle: Some(Lifecycle::New),
        limit: Some(50),
        cursor: query.cursor,
        ..Filters::default()
    };
    let listing = match list::list(&*deps.store, &staff.principal, &filters).await {
        Ok(listing) => listing,
        Err(list::ListError::Store(error)) => return store_failure(error),
        Err(list::ListError::Invalid { .. }) => return Redirect::to("/app/leads").into_response(),
    };
    let now = deps.clock.now();
    let rows = listing
        .customers
        .iter()
        .map(|customer| lead_row(customer, now))
        .collect();
    let can_assign = matches!(staff.principal.role, Role::Admin | Role::Manager);
    let assignees = if can_assign {
        match assignees(&deps, &staff).await {
            Ok(assignees) => assignees,
            Err(response) => return response,
        }
    } else {
        Vec::new()
    };
    render(&LeadsPage {
        shell,
        rows,
        can_assign,
        assignees,
        next: listing.next_cursor,
    })
}

#[derive(Deserialize)]
pub struct AssignForm {
    owner: String,
    version: u64,
}

/// `POST /app/leads/{id}/assign`: hands the lead to a member of staff from the directory,
/// with their team.
pub async fn assign_owner(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<AssignForm>,
) -> Response {
    let owner = match staff::user(&*deps.store, form.owner.trim()).await {
        Ok(Some(owner)) if owner.active => owner,
        Ok(_) => return back_with_error("inactive"),
        Err(error) => return store_failure(error),
    };
    let request = AssignOwner {
        owner: owner.username.clone(),
        team: owner.team.clone(),
        version: form.version,
    };
    match assign(&deps, &staff.principal, &id, &request).await {
        Ok(_) => Redirect::to(&format!("/app/leads?assigned={}", owner.username)).into_response(),
        Err(error) if error.status.as_u16() == 409 => back_with_error("stale"),
        Err(error)
            if error.status.is_client_error()
                && error.status.as_u16() != 404
                && error.status.as_u16() != 403 =>
        {
            back_with_error("invalid")
        }
        Err(error) => api_error_page(error),
    }
}

fn back_with_error(code: &str) -> Response {
    Redirect::to(&format!("/app/leads?error={code}")).into_response()
}
