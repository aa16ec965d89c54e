//! The catalogue routes: products and usage reasons. Admins write them, all staff read them.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use nhip_domain::customer::UsageStatus;
use serde::Deserialize;
use serde_json::{Map, Value};

use nhip_core::auth::Principal;
use nhip_core::deps::Deps;
use nhip_core::form::{FieldErrors, text};
use nhip_core::http::{ApiError, Json, Path, Query as QueryParams};
use nhip_core::keys;
use nhip_core::records::to_item;
use nhip_ports::store::{Condition, Item, StoreError};

use super::access::invalid_filter;
use super::fields::*;
use super::model::*;
use super::repo::*;
use super::schemas::*;
use super::views::{ProductList, ProductView, ReasonList, ReasonView};
use super::{PRODUCT_KIND, REASON_KIND};

/// Filters of the catalogue lists.
#[derive(Debug, Default, Deserialize)]
pub(super) struct CatalogueParams {
    /// Only active (`true`) or inactive (`false`) entries.
    active: Option<bool>,
    /// Products: only this kind.
    kind: Option<String>,
    /// Reasons: only those that may explain this usage status (`not_yet_using`, `stopped`).
    usage_status: Option<String>,
}

/// `GET /v1/catalogue/products`: every product, by code (`?active=true`, `?kind=card`).
#[utoipa::path(
    get,
    path = "/v1/catalogue/products",
    tag = "catalogue",
    security(("bearer" = [])),
    params(
        ("active" = Option<bool>, Query, description = "Only active (`true`) or inactive (`false`) entries."),
        ("kind" = Option<ProductKind>, Query, description = "Only products of this kind."),
    ),
    responses(
        (status = 200, description = "Every product in the catalogue passing the filters, by code.", body = ProductList),
        nhip_core::openapi::QueryErrors,
    )
)]
pub(super) async fn list_products(
    State(deps): State<Arc<Deps>>,
    _principal: Principal,
    QueryParams(params): QueryParams<CatalogueParams>,
) -> Result<Json<ProductList>, ApiError> {
    let kind = match &params.kind {
        None => None,
        Some(raw) => Some(ProductKind::parse(raw).ok_or_else(|| {
            invalid_filter("kind", format!("one of: {}", ProductKind::expected()))
        })?),
    };
    let items = products(&*deps.store)
        .await?
        .values()
        .filter(|p| params.active.is_none_or(|a| p.active == a))
        .filter(|p| kind.is_none_or(|k| p.kind == k))
        .map(ProductView::from)
        .collect();
    Ok(Json(ProductList { items }))
}

/// `GET /v1/catalogue/products/{code}`: one product.
#[utoipa::path(
    get,
    path = "/v1/catalogue/products/{code}",
    tag = "catalogue",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "The product's code (a slug; matched case-insensitively).")),
    responses(
        (status = 200, description = "The product.", body = ProductView),
        nhip_core::openapi::QueryOneErrors,
    )
)]
pub(super) async fn get_product(
    State(deps): State<Arc<Deps>>,
    _principal: Principal,
    Path(code): Path<String>,
) -> Result<Json<ProductView>, ApiError> {
    let found = match normalise_code(&code) {
        Some(code) => product(&*deps.store, &code).await?,
        None => None,
    };
    let product = found.ok_or_else(no_product)?;
    Ok(Json(ProductView::from(&product)))
}

pub(super) fn no_product() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "No such product.")
}

pub(super) fn no_reason() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "No such usage reason.")
}

pub(super) fn duplicate_code(what: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "duplicate",
        format!("A {what} with this code already exists."),
    )
    .field("code", "Mã này đã được dùng.")
}

/// Writes a new catalogue entry create-only: 409 `duplicate` when the code is taken.
pub(super) async fn create_only(deps: &Deps, item: Item, what: &str) -> Result<(), ApiError> {
    match deps.store.put(item, Condition::NotExists).await {
        Ok(()) => Ok(()),
        Err(StoreError::ConditionFailed { .. }) => Err(duplicate_code(what)),
        Err(other) => Err(other.into()),
    }
}

/// `POST /v1/catalogue/products` (admin): `code`, `name`, `kind`, optional `active` (default
/// true), `description`, `attribute_schema`. 201 with the product.
#[utoipa::path(
    post,
    path = "/v1/catalogue/products",
    tag = "catalogue",
    security(("bearer" = [])),
    request_body(content = ProductInput, description = "The new product; admins only."),
    responses(
        (status = 201, description = "Created: the product.", body = ProductView),
        nhip_core::openapi::CreateErrors,
        (status = 409, description = "A product with this code already exists (`duplicate`).", body = nhip_core::openapi::ErrorBody),
    )
)]
pub(super) async fn create_product(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    principal.require_admin()?;
    let body = nhip_core::http::json_object(body)?;
    let product = new_product(&deps, &body).await?;
    Ok((StatusCode::CREATED, Json(ProductView::from(&product))).into_response())
}

pub(super) fn label_text_multiline(
    body: &Map<String, Value>,
    field: &str,
    max: usize,
    errors: &mut FieldErrors,
) -> Option<String> {
    let value = text(body, field, errors)?;
    if value.chars().count() > max {
        errors.add(field, format!("Tối đa {max} ký tự."));
        return None;
    }
    Some(value)
}

/// `PATCH /v1/catalogue/products/{code}` (admin): `version` plus any of `name`, `active`,
/// `description`, `attribute_schema`. The code and the kind are fixed.
#[utoipa::path(
    patch,
    path = "/v1/catalogue/products/{code}",
    tag = "catalogue",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "The product's code (a slug; matched case-insensitively).")),
    request_body(content = ProductPatch, description = "The fields to change and the `version` read; admins only."),
    responses(
        (status = 200, description = "Changed: the product as it now is.", body = ProductView),
        nhip_core::openapi::ChangeErrors,
    )
)]
pub(super) async fn update_product(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(code): Path<String>,
    Json(body): Json<Value>,
) -> Result<Json<ProductView>, ApiError> {
    principal.require_admin()?;
    let body = nhip_core::http::json_object(body)?;
    let version = nhip_core::http::required_version(&body)?;
    let product = change_product(&deps, &code, version, &body).await?;
    Ok(Json(ProductView::from(&product)))
}

/// `GET /v1/catalogue/usage-reasons`: every reason, by code (`?active=true`,
/// `?usage_status=stopped` for those that may explain that status).
#[utoipa::path(
    get,
    path = "/v1/catalogue/usage-reasons",
    tag = "catalogue",
    security(("bearer" = [])),
    params(
        ("active" = Option<bool>, Query, description = "Only active (`true`) or inactive (`false`) entries."),
        ("usage_status" = Option<nhip_core::openapi::UsageStatusSchema>, Query, description = "Only reasons that may explain this usage status (none explains `using`)."),
    ),
    responses(
        (status = 200, description = "Every usage reason passing the filters, by code.", body = ReasonList),
        nhip_core::openapi::QueryErrors,
    )
)]
pub(super) async fn list_reasons(
    State(deps): State<Arc<Deps>>,
    _principal: Principal,
    QueryParams(params): QueryParams<CatalogueParams>,
) -> Result<Json<ReasonList>, ApiError> {
    let status = match &params.usage_status {
        None => None,
        Some(raw) => Some(
            raw.parse::<UsageStatus>()
                .map_err(|e| invalid_filter("usage_status", e.to_string()))?,
        ),
    };
    let items = reasons(&*deps.store)
        .await?
        .values()
        .filter(|r| params.active.is_none_or(|a| r.active == a))
        .filter(|r| status.is_none_or(|s| r.applies_to.covers(s)))
        .map(ReasonView::from)
        .collect();
    Ok(Json(ReasonList { items }))
}

/// `POST /v1/catalogue/usage-reasons` (admin): `code`, `label`, `applies_to`
/// (`not_yet_using`, `stopped`, `both`), optional `active` (default true).
#[utoipa::path(
    post,
    path = "/v1/catalogue/usage-reasons",
    tag = "catalogue",
    security(("bearer" = [])),
    request_body(content = ReasonInput, description = "The new reason; admins only."),
    responses(
        (status = 201, description = "Created: the reason.", body = ReasonView),
        nhip_core::openapi::CreateErrors,
        (status = 409, description = "A reason with this code already exists (`duplicate`).", body = nhip_core::openapi::ErrorBody),
    )
)]
pub(super) async fn create_reason(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    principal.require_admin()?;
    let body = nhip_core::http::json_object(body)?;
    let reason = new_reason(&deps, &body).await?;
    Ok((StatusCode::CREATED, Json(ReasonView::from(&reason))).into_response())
}

/// Adds a usage reason from `body` (`code`, `label`, `applies_to`, optional `active`): the use
/// case behind the route and the console. The caller's role is the route's to check.
pub async fn new_reason(deps: &Deps, body: &Map<String, Value>) -> Result<UsageReason, ApiError> {
    let mut errors = FieldErrors::default();
    reject_unknown(
        body,
        &["code", "label", "applies_to", "active"],
        &mut errors,
    );
    let code = required_code(body, &mut errors);
    let label = label_text(body, "label", 200, &mut errors);
    if label.is_none() {
        errors.add("label", "Vui lòng nhập nội dung lý do.");
    }
    let applies_to = enumerated(
        body,
        "applies_to",
        &mut errors,
        AppliesTo::parse,
        AppliesTo::expected(),
    );
    if applies_to.is_none() {
        errors.add(
            "applies_to",
            "Vui lòng chọn: not_yet_using, stopped hoặc both.",
        );
    }
    let active = boolean(body, "active", &mut errors).unwrap_or(true);
    errors.into_result()?;
    let (Some(code), Some(label), Some(applies_to)) = (code, label, applies_to) else {
        unreachable!("missing fields are field errors");
    };
    let now = deps.clock.now();
    let reason = UsageReason {
        code,
        label,
        applies_to,
        active,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let item = to_item(keys::usage_reason(&reason.code), REASON_KIND, &reason)?;
    create_only(deps, item, "usage reason").await?;
    Ok(reason)
}

/// `PATCH /v1/catalogue/usage-reasons/{code}` (admin): `version` plus any of `label`,
/// `applies_to`, `active`. Holdings already carrying a reason keep it.
#[utoipa::path(
    patch,
    path = "/v1/catalogue/usage-reasons/{code}",
    tag = "catalogue",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "The reason's code (a slug; matched case-insensitively).")),
    request_body(content = ReasonPatch, description = "The fields to change and the `version` read; admins only."),
    responses(
        (status = 200, description = "Changed: the reason as it now is.", body = ReasonView),
        nhip_core::openapi::ChangeErrors,
    )
)]
pub(super) async fn update_reason(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(code): Path<String>,
    Json(body): Json<Value>,
) -> Result<Json<ReasonView>, ApiError> {
    principal.require_admin()?;
    let body = nhip_core::http::json_object(body)?;
    let version = nhip_core::http::required_version(&body)?;
    let code = normalise_code(&code).ok_or_else(no_reason)?;
    let before = reason(&*deps.store, &code).await?.ok_or_else(no_reason)?;
    if before.version != version {
        return Err(ApiError::stale_version(before.version));
    }
    let mut errors = FieldErrors::default();
    reject_unknown(
        &body,
        &["version", "label", "applies_to", "active", "code"],
        &mut errors,
    );
    if body
        .get("code")
        .is_some_and(|c| c.as_str() != Some(code.as_str()))
    {
        errors.add("code", "Không thể đổi mã lý do.");
    }
    let mut after = before.clone();
    if body.contains_key("label") {
        match label_text(&body, "label", 200, &mut errors) {
            Some(label) => after.label = label,
            None => errors.add("label", "Vui lòng nhập nội dung lý do."),
        }
    }
    if let Some(applies_to) = enumerated(
        &body,
        "applies_to",
        &mut errors,
        AppliesTo::parse,
        AppliesTo::expected(),
    ) {
        after.applies_to = applies_to;
    }
    if let Some(active) = boolean(&body, "active", &mut errors) {
        after.active = active;
    }
    errors.into_result()?;
    after.updated_at = deps.clock.now();
    after.version = before.version + 1;
    let item = to_item(keys::usage_reason(&after.code), REASON_KIND, &after)?;
    deps.store
        .put(item, Condition::version_is(before.version))
        .await?;
    Ok(Json(ReasonView::from(&after)))
}

/// Why a catalogue entry could not be created or changed.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    /// No product with that code.
    #[error("no such product")]
    NoProduct,
    /// An entry (`product`, `usage reason`) with that code already exists.
    #[error("a {0} with this code already exists")]
    Duplicate(&'static str),
    /// The entry changed since the caller read it.
    #[error("the entry is at version {current}")]
    StaleVersion { current: u64 },
    /// Problems with the fields, in Vietnamese, by field.
    #[error("the entry is not valid: {0:?}")]
    Invalid(FieldErrors),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<CatalogueError> for ApiError {
    fn from(error: CatalogueError) -> Self {
        match error {
            CatalogueError::NoProduct => no_product(),
            CatalogueError::Duplicate(what) => duplicate_code(what),
            CatalogueError::StaleVersion { current } => ApiError::stale_version(current),
            CatalogueError::Invalid(errors) => errors.into_error(),
            CatalogueError::Store(error) => error.into(),
        }
    }
}

/// Adds a product to the catalogue from `body` (`code`, `name`, `kind`; optional `active`,
/// `description`, `attribute_schema`), create-only.
pub async fn new_product(
    deps: &Deps,
    body: &Map<String, Value>,
) -> Result<Product, CatalogueError> {
    let mut errors = FieldErrors::default();
    reject_unknown(
        body,
        &[
            "code",
            "name",
            "kind",
            "active",
            "description",
            "attribute_schema",
        ],
        &mut errors,
    );
    let code = required_code(body, &mut errors);
    let name = label_text(body, "name", 200, &mut errors);
    if name.is_none() {
        errors.add("name", "Vui lòng nhập tên sản phẩm.");
    }
    let kind = enumerated(
        body,
        "kind",
        &mut errors,
        ProductKind::parse,
        ProductKind::expected(),
    );
    if kind.is_none() {
        errors.add("kind", "Vui lòng chọn loại sản phẩm.");
    }
    let active = boolean(body, "active", &mut errors).unwrap_or(true);
    let description = label_text_multiline(body, "description", 2000, &mut errors);
    let schema = attribute_schema(body, &mut errors).unwrap_or_default();
    if !errors.0.is_empty() {
        return Err(CatalogueError::Invalid(errors));
    }
    let (Some(code), Some(name), Some(kind)) = (code, name, kind) else {
        unreachable!("missing fields are field errors");
    };
    let now = deps.clock.now();
    let product = Product {
        code,
        name,
        kind,
        active,
        description,
        attribute_schema: schema,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let item = to_item(
        keys::catalogue_product(&product.code),
        PRODUCT_KIND,
        &product,
    )?;
    match deps.store.put(item, Condition::NotExists).await {
        Ok(()) => Ok(product),
        Err(StoreError::ConditionFailed { .. }) => Err(CatalogueError::Duplicate("product")),
        Err(other) => Err(other.into()),
    }
}

/// Changes product `code` with the fields present in `body` (any of `name`, `active`,
/// `description`, `attribute_schema`; the code and the kind are fixed), if it is still at
/// `version`.
pub async fn change_product(
    deps: &Deps,
    code: &str,
    version: u64,
    body: &Map<String, Value>,
) -> Result<Product, CatalogueError> {
    let code = normalise_code(code).ok_or(CatalogueError::NoProduct)?;
    let before = product(&*deps.store, &code)
        .await?
        .ok_or(CatalogueError::NoProduct)?;
    if before.version != version {
        return Err(CatalogueError::StaleVersion {
            current: before.version,
        });
    }
    let mut errors = FieldErrors::default();
    reject_unknown(
        body,
        &[
            "version",
            "name",
            "active",
            "description",
            "attribute_schema",
            "kind",
            "code",
        ],
        &mut errors,
    );
    let mut after = before.clone();
    if body
        .get("code")
        .is_some_and(|c| c.as_str() != Some(code.as_str()))
    {
        errors.add("code", "Không thể đổi mã sản phẩm.");
    }
    if let Some(kind) = body.get("kind")
        && kind.as_str() != Some(before.kind.as_str())
    {
        errors.add("kind", "Không thể đổi loại sản phẩm; hãy tạo sản phẩm mới.");
    }
    if body.contains_key("name") {
        match label_text(body, "name", 200, &mut errors) {
            Some(name) => after.name = name,
            None => errors.add("name", "Vui lòng nhập tên sản phẩm."),
        }
    }
    if let Some(active) = boolean(body, "active", &mut errors) {
        after.active = active;
    }
    if body.contains_key("description") {
        after.description = label_text_multiline(body, "description", 2000, &mut errors);
    }
    if let Some(schema) = attribute_schema(body, &mut errors) {
        after.attribute_schema = schema;
    }
    if !errors.0.is_empty() {
        return Err(CatalogueError::Invalid(errors));
    }
    after.updated_at = deps.clock.now();
    after.version = before.version + 1;
    let item = to_item(keys::catalogue_product(&after.code), PRODUCT_KIND, &after)?;
    deps.store
        .put(item, Condition::version_is(before.version))
        .await?;
    Ok(after)
}
