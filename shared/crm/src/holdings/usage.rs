//! How a customer uses the products they hold, and the report of it over a customer list.

use std::sync::Arc;

use axum::extract::State;

use crate::customers::list::{self, Filters, ListError};
use nhip_core::auth::Principal;
use nhip_core::deps::Deps;
use nhip_core::http::{ApiError, Json, Path};

use super::access::{invalid_filter, load_customer};
use super::repo::*;
use super::views::{CustomerUsage, UsageReport};

/// `GET /v1/customers/{id}/usage`: the customer's product usage (bought, using, pending,
/// stopped, usage rate), overall and per product kind. Read from the profile's summary.
#[utoipa::path(
    get,
    path = "/v1/customers/{id}/usage",
    tag = "holdings",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The customer's id (a ULID).")),
    responses(
        (status = 200, description = "The customer's product usage, overall and per product kind.", body = CustomerUsage),
        nhip_core::openapi::QueryOneErrors,
    )
)]
pub(super) async fn customer_usage(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<CustomerUsage>, ApiError> {
    let customer = load_customer(&deps, &principal, &id).await?;
    let products = products(&*deps.store).await?;
    Ok(Json(CustomerUsage::new(&customer, &products)))
}

/// `GET /v1/reports/product-usage`: one row per customer of the caller's list (same scope,
/// filters and paging as `GET /v1/customers`) with their product usage ("Báo cáo sử dụng sản
/// phẩm của khách hàng").
#[utoipa::path(
    get,
    path = "/v1/reports/product-usage",
    tag = "holdings",
    security(("bearer" = [])),
    params(Filters),
    responses(
        (status = 200, description = "One page of the customers in the caller's scope passing the filters, each with their product usage.", body = UsageReport),
        nhip_core::openapi::QueryErrors,
    )
)]
pub(super) async fn product_usage_report(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    nhip_core::http::ListQuery(filters): nhip_core::http::ListQuery<Filters>,
) -> Result<Json<UsageReport>, ApiError> {
    let listing = list::list(&*deps.store, &principal, &filters)
        .await
        .map_err(|error| match error {
            ListError::Invalid { field, message } => invalid_filter(field, message),
            ListError::Store(e) => e.into(),
        })?;
    let products = products(&*deps.store).await?;
    let items = listing
        .customers
        .iter()
        .map(|c| CustomerUsage::new(c, &products))
        .collect();
    Ok(Json(UsageReport {
        items,
        next_cursor: listing.next_cursor,
    }))
}
