//! How a customer uses the products they hold, and the report of it over a customer list.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use nhip_domain::customer::UsageStatus;
use serde::Serialize;

use crate::customers::list::{self, Filters, ListError};
use crate::customers::model::HoldingSummary;
use nhip_core::auth::Principal;
use nhip_core::deps::Deps;
use nhip_core::http::{ApiError, Json, Path};

use super::catalogue::invalid_filter;
use super::model::*;
use super::repo::*;
use super::routes::load_customer;
use super::views::{CustomerUsage, UsageReport};

/// How a set of holdings is used. Cancelled holdings count nowhere.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Usage {
    /// Holdings bought (every holding but cancelled ones).
    pub bought: u32,
    /// In use.
    pub using: u32,
    /// Bought, not yet used ("chờ sử dụng").
    pub pending: u32,
    /// Stopped.
    pub stopped: u32,
    /// `using / bought`, 0 when nothing was bought; rounded to 4 decimals.
    pub usage_rate: f64,
}

impl Usage {
    fn count(&mut self, holding: &HoldingSummary) {
        self.bought += 1;
        match holding.usage_status {
            Some(UsageStatus::Using) => self.using += 1,
            Some(UsageStatus::NotYetUsing) => self.pending += 1,
            Some(UsageStatus::Stopped) => self.stopped += 1,
            None => {}
        }
        self.usage_rate = if self.bought == 0 {
            0.0
        } else {
            (f64::from(self.using) / f64::from(self.bought) * 10_000.0).round() / 10_000.0
        };
    }
}

/// The usage of one customer's holdings: overall and per product kind (kinds from the
/// catalogue; a product no longer in it counts as `other`).
pub fn usage(
    holdings: &[HoldingSummary],
    products: &BTreeMap<String, Product>,
) -> (Usage, BTreeMap<ProductKind, Usage>) {
    let mut total = Usage::default();
    let mut by_kind: BTreeMap<ProductKind, Usage> = BTreeMap::new();
    for holding in holdings
        .iter()
        .filter(|h| h.status != HoldingStatus::Cancelled.as_str())
    {
        let kind = products
            .get(&holding.product)
            .map_or(ProductKind::Other, |p| p.kind);
        total.count(holding);
        by_kind.entry(kind).or_default().count(holding);
    }
    (total, by_kind)
}

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
        (status = 400, response = nhip_core::openapi::BadRequest),
        (status = 401, response = nhip_core::openapi::Unauthenticated),
        (status = 403, response = nhip_core::openapi::Forbidden),
        (status = 404, response = nhip_core::openapi::NotFound),
        (status = 503, response = nhip_core::openapi::Unavailable),
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
        (status = 400, response = nhip_core::openapi::BadRequest),
        (status = 401, response = nhip_core::openapi::Unauthenticated),
        (status = 403, response = nhip_core::openapi::Forbidden),
        (status = 503, response = nhip_core::openapi::Unavailable),
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
