//! Admin: the product catalogue and the usage reasons staff pick from ("Bổ sung lý do
//! chưa/ngưng sử dụng"). Only an admin sees these pages.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use nhip_core::auth::Role;
use nhip_core::deps::Deps;
use nhip_core::http::ApiError;
use nhip_crm::holdings::{self, AppliesTo, ProductKind, catalogue};

use crate::pages::care::Choice;
use crate::pages::{Shell, form_problem, not_found, render};
use crate::session::{Staff, store_failure};

/// A product as listed.
pub struct ProductRow {
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Kind, in Vietnamese.
    pub kind: &'static str,
    /// May new holdings be added.
    pub active: bool,
}

/// A reason as listed.
pub struct ReasonRow {
    /// Code.
    pub code: String,
    /// What staff see.
    pub label: String,
    /// Which usage it explains.
    pub applies_to: &'static str,
    /// May it be chosen.
    pub active: bool,
}

/// The two forms' values.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CatalogueForm {
    code: String,
    name: String,
    kind: String,
    label: String,
    applies_to: String,
}

#[derive(Template)]
#[template(path = "catalogue.html")]
struct CataloguePage {
    shell: Shell,
    products: Vec<ProductRow>,
    reasons: Vec<ReasonRow>,
    kinds: Vec<Choice>,
    scopes: Vec<Choice>,
    form: CatalogueForm,
    product_problem: Option<String>,
    reason_problem: Option<String>,
}

fn choices<T: Copy>(
    all: &[T],
    value: fn(T) -> &'static str,
    label: fn(T) -> &'static str,
    current: &str,
) -> Vec<Choice> {
    all.iter()
        .map(|item| Choice {
            value: value(*item).to_owned(),
            label: label(*item).to_owned(),
            selected: value(*item) == current,
        })
        .collect()
}

async fn show(
    deps: &Deps,
    staff: &Staff,
    form: CatalogueForm,
    product_problem: Option<String>,
    reason_problem: Option<String>,
) -> Response {
    if staff.principal.role != Role::Admin {
        return not_found();
    }
    let shell = match Shell::load(deps, staff, "/app/admin/catalogue").await {
        Ok(shell) => shell,
        Err(response) => return response,
    };
    let (products, reasons) = match (
        holdings::products(&*deps.store).await,
        holdings::reasons(&*deps.store).await,
    ) {
        (Ok(products), Ok(reasons)) => (products, reasons),
        (Err(error), _) | (_, Err(error)) => return store_failure(error),
    };
    let status = if product_problem.is_some() || reason_problem.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = CataloguePage {
        shell,
        products: products
            .values()
            .map(|p| ProductRow {
                code: p.code.clone(),
                name: p.name.clone(),
                kind: p.kind.label(),
                active: p.active,
            })
            .collect(),
        reasons: reasons
            .values()
            .map(|r| ReasonRow {
                code: r.code.clone(),
                label: r.label.clone(),
                applies_to: r.applies_to.label(),
                active: r.active,
            })
            .collect(),
        kinds: choices(
            ProductKind::ALL,
            ProductKind::as_str,
            ProductKind::label,
            &form.kind,
        ),
        scopes: choices(
            AppliesTo::ALL,
            AppliesTo::as_str,
            AppliesTo::label,
            &form.applies_to,
        ),
        form,
        product_problem,
        reason_problem,
    };
    (status, render(&page)).into_response()
}

/// `GET /app/admin/catalogue`.
pub async fn page(State(deps): State<Arc<Deps>>, staff: Staff) -> Response {
    show(&deps, &staff, CatalogueForm::default(), None, None).await
}

fn body(pairs: &[(&str, &str)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), json!(value.trim())))
        .collect()
}

/// `POST /app/admin/catalogue/products`: adds a product.
pub async fn add_product(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    axum::Form(form): axum::Form<CatalogueForm>,
) -> Response {
    if staff.principal.role != Role::Admin {
        return not_found();
    }
    let request = body(&[
        ("code", &form.code),
        ("name", &form.name),
        ("kind", &form.kind),
    ]);
    match catalogue::new_product(&deps, &request).await {
        Ok(_) => Redirect::to("/app/admin/catalogue").into_response(),
        Err(error) => {
            let error = ApiError::from(error);
            if error.status.is_server_error() {
                return crate::pages::api_error_page(error);
            }
            show(&deps, &staff, form, Some(form_problem(&error)), None).await
        }
    }
}

/// `POST /app/admin/catalogue/reasons`: adds a usage reason.
pub async fn add_reason(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    axum::Form(form): axum::Form<CatalogueForm>,
) -> Response {
    if staff.principal.role != Role::Admin {
        return not_found();
    }
    let request = body(&[
        ("code", &form.code),
        ("label", &form.label),
        ("applies_to", &form.applies_to),
    ]);
    match catalogue::new_reason(&deps, &request).await {
        Ok(_) => Redirect::to("/app/admin/catalogue").into_response(),
        Err(error) if error.status.is_server_error() => crate::pages::api_error_page(error),
        Err(error) => show(&deps, &staff, form, None, Some(form_problem(&error))).await,
    }
}
