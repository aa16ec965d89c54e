//! The holding routes: a customer's holdings, added and changed with the profile's summary and
//! lifecycle in the same transaction.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::customers::routes::audit;
use nhip_core::auth::Principal;
use nhip_core::deps::Deps;
use nhip_core::http::{ApiError, Json, Path};

use super::access::{load_customer, no_holding, parse_holding_id};
use super::changes::{self, HoldingError};
use super::fields::*;
use super::repo::*;
use super::schemas::*;
use super::views::{HoldingChange, HoldingList, HoldingView};
/// `GET /v1/customers/{id}/holdings`: the customer's holdings, oldest first, with labels.
/// Audited: holdings may carry card and investment data.
#[utoipa::path(
    get,
    path = "/v1/customers/{id}/holdings",
    tag = "holdings",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The customer's id (a ULID).")),
    responses(
        (status = 200, description = "The customer's holdings, oldest first, with labels; the read is audited.", body = HoldingList),
        nhip_core::openapi::QueryOneErrors,
        (status = 409, response = nhip_core::openapi::Conflict),
    )
)]
pub(super) async fn list_holdings(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<HoldingList>, ApiError> {
    let customer = load_customer(&deps, &principal, &id).await?;
    let holdings = holdings_of(&*deps.store, customer.id).await?;
    let (products, reasons) = (products(&*deps.store).await?, reasons(&*deps.store).await?);
    audit(&deps, &principal, customer.id, "holdings.read", json!({})).await?;
    let items = holdings
        .iter()
        .map(|h| HoldingView::new(h, &products, &reasons))
        .collect();
    Ok(Json(HoldingList { items }))
}

/// `GET /v1/customers/{id}/holdings/{holding_id}`: one holding. Audited.
#[utoipa::path(
    get,
    path = "/v1/customers/{id}/holdings/{holding_id}",
    tag = "holdings",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The customer's id (a ULID)."), ("holding_id" = String, Path, description = "The holding's id (a ULID).")),
    responses(
        (status = 200, description = "The holding, with labels; the read is audited.", body = HoldingView),
        nhip_core::openapi::QueryOneErrors,
        (status = 409, response = nhip_core::openapi::Conflict),
    )
)]
pub(super) async fn get_holding(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path((id, holding_id)): Path<(String, String)>,
) -> Result<Json<HoldingView>, ApiError> {
    let customer = load_customer(&deps, &principal, &id).await?;
    let holding_id = parse_holding_id(&holding_id)?;
    let holding = holding(&*deps.store, customer.id, &holding_id)
        .await?
        .ok_or_else(no_holding)?;
    let (products, reasons) = (products(&*deps.store).await?, reasons(&*deps.store).await?);
    audit(
        &deps,
        &principal,
        customer.id,
        "holding.read",
        json!({"holding_id": holding.id}),
    )
    .await?;
    Ok(Json(HoldingView::new(&holding, &products, &reasons)))
}

/// `POST /v1/customers/{id}/holdings`: `product` (an active catalogue code) and `status`
/// required; `reference`, `starts_on`, `expires_on`, `amount` (đồng), `usage_status`,
/// `usage_reason` (an active reason for that status), `remaining_invoice_ratio` (0–1),
/// `attributes` optional. 201 with the holding and the customer's new summary and lifecycle.
#[utoipa::path(
    post,
    path = "/v1/customers/{id}/holdings",
    tag = "holdings",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The customer's id (a ULID).")),
    request_body(content = HoldingInput, description = "The product held and its contract; `product` and `status` are required."),
    responses(
        (status = 201, description = "Added: the holding, and the customer's new holdings summary and lifecycle.", body = HoldingChange),
        nhip_core::openapi::QueryOneErrors,
        (status = 409, response = nhip_core::openapi::Conflict),
        (status = 413, response = nhip_core::openapi::PayloadTooLarge),
        (status = 415, response = nhip_core::openapi::UnsupportedMediaType),
        (status = 422, description = "Well-formed but invalid (`validation_failed`, with `fields`), or it holds what looks like a full card number (`card_number_not_allowed`): only the last four digits may be kept.", body = nhip_core::openapi::ErrorBody),
    )
)]
pub(super) async fn add_holding(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    let body = nhip_core::http::json_object(body)?;
    let change = changes::add(&deps, &principal, &id, &body).await?;
    Ok((StatusCode::CREATED, Json(change)).into_response())
}

/// `PATCH /v1/customers/{id}/holdings/{holding_id}`: the holding's `version` plus any field
/// but `product` — renewing (a later `expires_on`), settling (`status: settled`), recording
/// why it is not used ("Bổ sung lý do chưa/ngưng sử dụng"). 409 when the version is stale.
#[utoipa::path(
    patch,
    path = "/v1/customers/{id}/holdings/{holding_id}",
    tag = "holdings",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The customer's id (a ULID)."), ("holding_id" = String, Path, description = "The holding's id (a ULID).")),
    request_body(content = HoldingPatch, description = "The fields to change and the holding's `version` read."),
    responses(
        (status = 200, description = "Changed: the holding, and the customer's new holdings summary and lifecycle.", body = HoldingChange),
        nhip_core::openapi::QueryOneErrors,
        (status = 409, response = nhip_core::openapi::Conflict),
        (status = 413, response = nhip_core::openapi::PayloadTooLarge),
        (status = 415, response = nhip_core::openapi::UnsupportedMediaType),
        (status = 422, description = "Well-formed but invalid (`validation_failed`, with `fields`), or it holds what looks like a full card number (`card_number_not_allowed`): only the last four digits may be kept.", body = nhip_core::openapi::ErrorBody),
    )
)]
pub(super) async fn update_holding(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path((id, holding_id)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Result<Json<HoldingChange>, ApiError> {
    let body = nhip_core::http::json_object(body)?;
    let version = nhip_core::http::required_version(&body)?;
    let change = changes::update(&deps, &principal, &id, &holding_id, version, &body).await?;
    Ok(Json(change))
}

impl From<HoldingError> for ApiError {
    fn from(error: HoldingError) -> Self {
        match error {
            HoldingError::CustomerNotFound => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", "No such customer.")
            }
            HoldingError::HoldingNotFound => no_holding(),
            HoldingError::CardNumber(field) => card_number_rejected(&field),
            HoldingError::Invalid(errors) => errors.into_error(),
            HoldingError::StaleVersion { current } => ApiError::stale_version(current),
            HoldingError::Save(error) => error.into(),
            HoldingError::Store(error) => error.into(),
        }
    }
}
