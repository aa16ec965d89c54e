//! The incoming-call pop-up. Every console page polls `/app/calls/pop` each second (htmx); when
//! a call rang the signed-in staff member's extension, the answer is the caller's card (name,
//! how to greet them, stage, the last activities) with "Ghi cuộc gọi này" in one click; for an
//! unknown number, whose call made a lead, the card offers "Tạo khách hàng tiềm năng" with the
//! number filled in. The card stops the polling until it is dealt with.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use nhip_core::deps::Deps;
use nhip_crm::call_pops::{self, PopError};
use nhip_crm::customers::interactions::{self, CallOutcome, Direction, Kind, NewInteraction};
use nhip_crm::customers::repo;
use nhip_domain::person::salutation;

use crate::format;
use crate::pages::care::{ActivityRow, activity_rows};
use crate::pages::render;
use crate::session::{Staff, store_failure};

#[derive(Template)]
#[template(path = "call_pop.html")]
struct CallPop {
    csrf: String,
    call_id: String,
    customer_id: String,
    created: bool,
    name: String,
    greeting: String,
    phone: String,
    stage: String,
    at: String,
    activities: Vec<ActivityRow>,
    tickets: Vec<(String, String, String)>,
}

/// `GET /app/calls/pop`: the newest call waiting on my screen, or 204 (nothing to show).
pub async fn pop(State(deps): State<Arc<Deps>>, staff: Staff) -> Response {
    let waiting = match call_pops::newest(&deps, &staff.principal.user).await {
        Ok(Some(pop)) => pop,
        Ok(None) => return StatusCode::NO_CONTENT.into_response(),
        Err(error) => return store_failure(error),
    };
    let Ok(id) = waiting.customer_id.parse() else {
        return StatusCode::NO_CONTENT.into_response();
    };
    let customer = match repo::get(&*deps.store, id).await {
        Ok(Some(customer)) => customer,
        Ok(None) => return StatusCode::NO_CONTENT.into_response(),
        Err(error) => return store_failure(error),
    };
    let activities = match nhip_core::timeline::page(&*deps.store, id, 5, None).await {
        Ok((items, _)) => activity_rows(&items),
        Err(error) => return store_failure(error),
    };
    let tickets = match nhip_crm::tickets::open_of_customer(&deps, id).await {
        Ok(open) => open
            .into_iter()
            .map(|t| (t.id, t.title, t.status_label))
            .collect(),
        Err(error) => return store_failure(error),
    };
    let given = (!customer.given_name.is_empty()).then_some(customer.given_name.as_str());
    render(&CallPop {
        csrf: staff.csrf.clone(),
        call_id: waiting.call_id.clone(),
        customer_id: waiting.customer_id.clone(),
        created: waiting.created,
        name: customer.full_name.clone(),
        greeting: salutation(customer.gender, given),
        phone: waiting.phone.clone(),
        stage: customer.lifecycle.label().to_owned(),
        at: format::date_time(waiting.at),
        activities,
        tickets,
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CallForm {
    notes: String,
    full_name: String,
}

fn inbound(notes: &str) -> NewInteraction {
    NewInteraction {
        kind: Kind::Call,
        at: None,
        direction: Some(Direction::Inbound),
        duration_seconds: None,
        outcome: Some(CallOutcome::Answered),
        notes: Some(notes.trim().to_owned()).filter(|n| !n.is_empty()),
        feedback: None,
        classification: None,
        ticket_id: None,
    }
}

/// Logs the call on the caller and takes it off the screen; to the caller's 360.
async fn log_and_clear(
    deps: &Deps,
    staff: &Staff,
    call_id: &str,
    customer: &str,
    notes: &str,
) -> Response {
    if let Err(error) = interactions::log(deps, &staff.principal, customer, &inbound(notes)).await {
        return crate::pages::api_error_page(error);
    }
    if let Err(error) = call_pops::handled(deps, &staff.principal.user, call_id).await {
        return store_failure(error);
    }
    Redirect::to(&format!("/app/customers/{customer}?done=call")).into_response()
}

/// `POST /app/calls/{call}/log`: "Ghi cuộc gọi này".
pub async fn log(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    Path(call_id): Path<String>,
    axum::Form(form): axum::Form<CallForm>,
) -> Response {
    match call_pops::get(&deps, &staff.principal.user, &call_id).await {
        Ok(Some(pop)) if !pop.handled => {
            log_and_clear(&deps, &staff, &call_id, &pop.customer_id, &form.notes).await
        }
        Ok(_) => crate::pages::not_found(),
        Err(error) => store_failure(error),
    }
}

/// `POST /app/calls/{call}/lead`: "Tạo khách hàng tiềm năng" for an unknown caller: the name,
/// the agent as owner, the call logged.
pub async fn lead(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    Path(call_id): Path<String>,
    axum::Form(form): axum::Form<CallForm>,
) -> Response {
    match call_pops::take_lead(&deps, &staff.principal, &call_id, &form.full_name).await {
        Ok(customer) => {
            log_and_clear(&deps, &staff, &call_id, &customer.to_string(), &form.notes).await
        }
        Err(PopError::NotFound) => crate::pages::not_found(),
        Err(PopError::Store(error)) => store_failure(error),
        Err(PopError::Name(_) | PopError::Conflict) => crate::pages::error_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Chưa tạo được khách hàng",
            "Họ tên không hợp lệ, hoặc hồ sơ vừa được người khác cập nhật. Quay lại và thử lại.",
        ),
    }
}

/// `POST /app/calls/{call}/dismiss`: "Đóng" without logging.
pub async fn dismiss(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    Path(call_id): Path<String>,
) -> Response {
    match call_pops::clear(&deps, &staff.principal.user, &call_id).await {
        Ok(()) => Redirect::to("/app").into_response(),
        Err(error) => store_failure(error),
    }
}
