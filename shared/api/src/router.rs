//! The served routers: the route lists of [`crate::routes`] and the document's own route over
//! one `Deps`, with the fallbacks and the body limit. The `api` function serves
//! [`staff_router`]; the intake and tracking functions serve their public routes; the local
//! runner serves [`router`], all of them together.

use std::sync::Arc;

use axum::Router;

use nhip_core::deps::Deps;
use nhip_core::http::{not_found, with_api_defaults};

/// The API's routes over `deps`: the staff API and the public routes (in AWS the intake and
/// tracking routes are served by their own functions, without the staff authorizer).
pub fn router(deps: Arc<Deps>) -> Router {
    staff_router(deps.clone())
        .merge(nhip_intake::forms::router(deps.clone()))
        .merge(nhip_messaging::routes::public(deps))
}

/// The staff API (the `api` function): every route but `/health`, `/v1/version` and
/// `/v1/openapi.json` needs a staff token. Its body limit and 405 answer are put around the
/// whole router once ([`with_api_defaults`]), not around each route.
pub fn staff_router(deps: Arc<Deps>) -> Router {
    with_api_defaults(
        crate::routes::staff_routes()
            .merge(crate::openapi::document_route())
            .into_router()
            .fallback(not_found)
            .with_state(deps),
    )
}
