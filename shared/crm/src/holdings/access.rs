//! Reaching a customer's holdings: the customer visible to the caller and not erased, a
//! holding's id, and the answers when either is not there or a filter does not parse.

use axum::http::StatusCode;
use ulid::Ulid;

use crate::customers::model::Customer;
use crate::customers::routes::load_visible;
use nhip_core::auth::Principal;
use nhip_core::deps::Deps;
use nhip_core::http::ApiError;

/// 404: no such holding on this customer.
pub(super) fn no_holding() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "No such holding.")
}

/// The customer, visible to the caller and not erased.
pub(super) async fn load_customer(
    deps: &Deps,
    principal: &Principal,
    id: &str,
) -> Result<Customer, ApiError> {
    let customer = load_visible(deps, principal, id).await?;
    if customer.erased_at.is_some() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "No such customer.",
        ));
    }
    Ok(customer)
}

/// A holding's id as written in a path (a ULID, upper case), or 404.
pub(super) fn parse_holding_id(raw: &str) -> Result<String, ApiError> {
    raw.parse::<Ulid>()
        .map(|id| id.to_string())
        .map_err(|_| no_holding())
}

/// 400 `invalid_filter` naming the filter at fault.
pub(super) fn invalid_filter(field: &str, message: String) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_filter",
        format!("The filter '{field}' is not valid."),
    )
    .field(field, message)
}
