//! Messaging over HTTP. Staff routes (behind the staff token): send one message or a campaign
//! through the pipeline, read messages with their history, statistics per template and
//! campaign, the advertising rules, a customer's agreement to other limits, the
//! do-not-advertise list, suppressions, and refusals entered by staff. Public routes (no staff
//! token; each checks its own signature): tracked links `/t/{token}`, unsubscribe pages
//! `/u/{token}`, SES events over SNS HTTP, Zalo ZNS delivery callbacks and inbound SMS.
//! - [`sends`]: one message to a customer; a customer's messages; one message's history.
//! - [`campaigns`]: campaigns and the statistics of templates, campaigns and the organisation.
//! - [`compliance`]: advertising rules, agreements, refusals, do-not-advertise, suppressions.
//! - [`public`]: the public routes.

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;

use nhip_core::deps::Deps;
use nhip_core::http::ApiError;
use nhip_core::openapi::Routes;
use nhip_core::routes;

pub mod campaigns;
pub mod compliance;
pub mod public;
pub mod sends;

pub use compliance::REFUSAL_VIA;

/// Most numbers in one do-not-advertise upload.
pub const MAX_DNC_BATCH: usize = 10_000;

/// The staff routes.
pub fn router() -> Routes<Arc<Deps>> {
    Routes::new()
        .routes(routes!(sends::customer_messages, sends::send_to_customer))
        .routes(routes!(sends::get_message))
        .routes(routes!(campaigns::create_campaign))
        .routes(routes!(campaigns::get_campaign))
        .routes(routes!(campaigns::template_stats))
        .routes(routes!(campaigns::organisation_stats))
        .routes(routes!(compliance::get_rules, compliance::put_rules))
        .routes(routes!(compliance::put_agreement))
        .routes(routes!(compliance::staff_refusal))
        .routes(routes!(compliance::add_do_not_advertise))
        .routes(routes!(
            compliance::get_do_not_advertise,
            compliance::delete_do_not_advertise
        ))
        .routes(routes!(
            compliance::get_suppression,
            compliance::delete_suppression
        ))
}

/// Largest body the public tracking routes accept (an SNS message is at most 256 KB).
pub const MAX_PUBLIC_BODY: usize = 300 * 1024;

/// The public routes, served without a staff token (the `tracking-api` function in AWS).
pub fn public(deps: Arc<Deps>) -> Router {
    public_routes().into_router().with_state(deps)
}

/// The public routes with their operations, for the document and [`public`].
pub fn public_routes() -> Routes<Arc<Deps>> {
    Routes::new()
        .routes(routes!(public::follow_link))
        .routes(routes!(public::unsubscribe_page, public::unsubscribe))
        .routes(routes!(public::ses_over_http))
        .routes(routes!(public::zns_callback))
        .routes(routes!(public::sms_inbound))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_PUBLIC_BODY))
}

fn not_found(what: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("Không tìm thấy {what}."),
    )
}

fn unprocessable(field: &str, message: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        message.to_owned(),
    )
    .field(field, message)
}

impl From<crate::targets::TargetError> for ApiError {
    fn from(error: crate::targets::TargetError) -> Self {
        match error {
            crate::targets::TargetError::Store(error) => error.into(),
            other => unprocessable(&other.field(), &other.to_string()),
        }
    }
}
