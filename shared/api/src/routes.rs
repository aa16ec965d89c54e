//! The route lists: every feature's routes, each declared once with its operation, merged
//! into the staff list and the public list. The served routers ([`crate::router`]) and the
//! OpenAPI document ([`crate::openapi`]) are both made from these lists, so a route cannot be
//! served without being documented, nor documented without being served.

use std::sync::Arc;

use nhip_core::openapi::Routes;
use nhip_core::routes;

use nhip_core::deps::Deps;

/// The staff routes with their operations.
pub fn staff_routes() -> Routes<Arc<Deps>> {
    Routes::new()
        .routes(routes!(crate::system::health))
        .routes(routes!(crate::system::version))
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
        .merge(nhip_work::tickets::router())
        .merge(nhip_work::tasks::router())
        .merge(nhip_work::agenda::router())
        .merge(nhip_contracts::router())
}

/// The public routes with their operations: the lead form (answering CORS for `origins`), the
/// double opt-in page, the call centre's webhook, tracked links, unsubscribe pages and the
/// providers' callbacks.
pub fn public_routes(origins: &[String]) -> Routes<Arc<Deps>> {
    nhip_intake::forms::routes(origins).merge(nhip_messaging::routes::public_routes())
}
