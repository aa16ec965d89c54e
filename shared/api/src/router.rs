//! The routers: every feature's routes merged over one `Deps`, with the fallbacks and the
//! body limit. The `api` function serves [`staff_router`]; the intake and tracking functions
//! serve their public routes; the local runner serves [`router`], all of them together. The
//! same route lists make the OpenAPI document ([`crate::openapi::document`]), so a route
//! cannot be served without being documented, nor documented without being served.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use nhip_core::deps::Deps;
use nhip_core::http::{MAX_BODY_BYTES, method_not_allowed, not_found};

/// The API's routes over `deps`: the staff API and the public routes (in AWS the intake and
/// tracking routes are served by their own functions, without the staff authorizer).
pub fn router(deps: Arc<Deps>) -> Router {
    staff_router(deps.clone())
        .merge(nhip_intake::forms::router(deps.clone()))
        .merge(nhip_messaging::routes::public(deps))
}

/// The staff API (the `api` function): every route but `/health`, `/v1/version` and
/// `/v1/openapi.json` needs a staff token.
pub fn staff_router(deps: Arc<Deps>) -> Router {
    let (routes, _) = staff_routes().split_for_parts();
    routes
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(deps)
}

/// The staff routes with their operations.
pub fn staff_routes() -> OpenApiRouter<Arc<Deps>> {
    OpenApiRouter::new()
        .routes(routes!(crate::system::health))
        .routes(routes!(crate::system::version))
        .routes(routes!(crate::openapi::serve_document))
        .merge(nhip_crm::customers::routes::router())
        .merge(nhip_crm::customers::interactions::router())
        .merge(nhip_crm::customers::submissions::router())
        .merge(nhip_crm::customers::import::router())
        .merge(nhip_crm::holdings::router())
        .merge(nhip_crm::privacy::router())
        .merge(nhip_crm::next_actions::router())
        .merge(nhip_crm::notifications::router())
        .merge(nhip_messaging::templates::router())
        .merge(nhip_messaging::routes::router())
        .merge(nhip_crm::events_api::router())
        .merge(nhip_journeys::definitions::router())
        .merge(nhip_journeys::routes::router())
        .merge(nhip_crm::tickets::router())
}

/// The public routes with their operations: the lead form (answering CORS for `origins`), the
/// double opt-in page, the call centre's webhook, tracked links, unsubscribe pages and the
/// providers' callbacks.
pub fn public_routes(origins: &[String]) -> OpenApiRouter<Arc<Deps>> {
    nhip_intake::forms::routes(origins).merge(nhip_messaging::routes::public_routes())
}
