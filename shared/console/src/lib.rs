//! Nhịp's staff console: the pages consultants, agents, managers and admins work in all day,
//! served by the `console` function in AWS (its own router, beside the `api` function's) and,
//! with the API in one router, by `nhip-local` at `http://127.0.0.1:3000/`. Pages are rendered on the server with askama
//! (compile-checked templates) and made faster with htmx (vendored, pinned); every form also
//! works as a plain form without JavaScript. Pages call the CRM's use cases with the signed-in
//! staff member's principal, so the console applies exactly the API's scopes.

// A page that cannot go on answers the page that says why (not found, sign in, the store is
// busy): `Result<_, Response>` is the natural shape, once per request, and boxing the 128-byte
// response would buy nothing.
#![allow(clippy::result_large_err)]

pub mod assets;
pub mod format;
pub mod pages;
pub mod session;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::response::Redirect;
use axum::routing::{get, post};

use nhip_core::deps::Deps;

use pages::{
    admin, agenda, bonus, calls, care, catalogue, contracts, customer, home, hosted, import, leads,
    privacy, rates, reminders, search, sign_in, tasks, tickets, work_settings, zalo,
};

/// The console's routes over `deps`: `/` opens onto the console, everything else lives under
/// `/app`.
pub fn router(deps: Arc<Deps>) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/app") }))
        .route("/app", get(home::page))
        .route("/app/assets/{file}", get(assets::serve))
        .route("/app/sign-in", get(sign_in::page).post(sign_in::submit))
        .route("/app/sign-out", post(sign_in::sign_out))
        .route("/app/auth/callback", get(hosted::callback))
        .route(
            session::PASSWORD_PATH,
            get(sign_in::password_page).post(sign_in::change_password),
        )
        .route("/app/bell", get(pages::bell))
        .route("/app/notifications", get(home::notifications))
        .route("/app/notifications/read", post(home::mark_all_read))
        .route("/app/search", get(search::page))
        .route("/app/leads", get(leads::page))
        .route("/app/leads/{id}/assign", post(leads::assign_owner))
        .route("/app/care", get(care::page))
        .route("/app/customers/{id}", get(customer::page))
        .route("/app/customers/{id}/profile", post(customer::save_profile))
        .route(
            "/app/customers/{id}/interactions",
            post(customer::log_interaction),
        )
        .route("/app/customers/{id}/activities", get(care::activities))
        .route("/app/customers/{id}/holdings", post(customer::add_holding))
        .route(
            "/app/customers/{id}/reason",
            get(care::reason_form).post(care::save_reason),
        )
        .route(
            "/app/customers/{id}/privacy/{action}",
            get(privacy::confirm).post(privacy::carry_out),
        )
        .route("/app/tickets", get(tickets::page))
        .route("/app/tickets/{id}", get(tickets::detail))
        .route("/app/tickets/{id}/status", post(tickets::change_status))
        .route("/app/tickets/{id}/calls", post(tickets::log_call))
        .route("/app/tickets/{id}/call-plan", post(tickets::plan_call))
        .route("/app/tickets/{id}/assignee", post(tickets::reassign))
        .route("/app/calls/pop", get(calls::pop))
        .route("/app/calls/{call}/log", post(calls::log))
        .route("/app/calls/{call}/lead", post(calls::lead))
        .route("/app/calls/{call}/dismiss", post(calls::dismiss))
        .route("/app/agenda", get(agenda::page))
        .route("/app/agenda/{customer}/{action}/{what}", post(agenda::act))
        .route("/app/tasks", get(tasks::page).post(tasks::create))
        .route("/app/tasks/{id}", get(tasks::detail))
        .route("/app/tasks/{id}/complete", post(tasks::complete))
        .route("/app/tasks/{id}/comments", post(tasks::comment))
        .route("/app/import", get(import::page).post(import::upload))
        .route("/app/import/{id}", get(import::status))
        .route("/app/import/{id}/errors.csv", get(import::errors))
        .route("/app/admin/catalogue", get(catalogue::page))
        .route(
            "/app/admin/catalogue/products",
            post(catalogue::add_product),
        )
        .route("/app/admin/catalogue/reasons", post(catalogue::add_reason))
        .route(
            "/app/admin/users",
            get(admin::users).post(admin::create_user),
        )
        .route(
            "/app/admin/users/{username}",
            get(admin::edit_user).post(admin::update_user),
        )
        .route(
            "/app/admin/teams",
            get(admin::teams).post(admin::create_team),
        )
        .route("/app/admin/work", get(work_settings::page))
        .route("/app/admin/rates", get(rates::page))
        .route(zalo::PAGE, get(zalo::page))
        .route("/app/admin/zalo/tokens", post(zalo::install))
        .route("/app/admin/zalo/connect", post(zalo::connect))
        .route(zalo::CALLBACK, get(zalo::callback))
        .route("/app/admin/rates/{product}", post(rates::save))
        .route(
            "/app/admin/reminders",
            get(reminders::page).post(reminders::save),
        )
        .route(
            "/app/admin/reminders/templates/{code}",
            post(reminders::save_template),
        )
        .route("/app/bonus", get(bonus::page))
        .route(
            "/app/customers/{id}/contracts",
            get(contracts::page).post(contracts::sign),
        )
        .route(
            "/app/customers/{id}/contracts/{contract}/{action}",
            post(contracts::act),
        )
        .route("/app/customers/{id}/plans", post(contracts::create_plan))
        .route(
            "/app/customers/{id}/plans/{plan}/payments",
            post(contracts::pay),
        )
        .route(
            "/app/admin/work/queues/{queue}",
            post(work_settings::save_rule),
        )
        .route(
            "/app/admin/work/calendar",
            post(work_settings::save_calendar),
        )
        .route("/app/{*rest}", get(pages::fallback).post(pages::fallback))
        .layer(axum::middleware::from_fn_with_state(
            deps.clone(),
            session::guard,
        ))
        .layer(DefaultBodyLimit::max(session::MAX_FORM_BYTES))
        .with_state(deps)
}
