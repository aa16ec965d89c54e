//! "Lãi suất & phí" (admins only, seed 002 I): each investment product's base rate and fee
//! tiers, changed here for contracts signed from then on, with every change listed (who, when,
//! old → new). Others get the not-found page; the API answers them 403.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;

use nhip_contracts::rates::{self, FeeTier, Rates, RatesChange, RatesError};
use nhip_core::deps::Deps;
use nhip_core::http::ApiError;
use nhip_crm::holdings::ProductKind;

use crate::format;
use crate::pages::admin::admin_only;
use crate::pages::contracts::{basis_points, parse_percent};
use crate::pages::{
    Shell, api_error_page, form_problem, problem_of, redirect_with_problem, render,
};
use crate::session::{Staff, store_failure};

/// One product's rates as the page shows them.
pub struct ProductRates {
    pub code: String,
    pub name: String,
    pub base_rate: String,
    pub base_rate_input: String,
    pub tiers: String,
    pub tiers_input: String,
    pub version: u64,
    pub changed: String,
    pub history: Vec<(String, String, String)>,
}

#[derive(Template)]
#[template(path = "rates.html")]
struct RatesPage {
    shell: Shell,
    products: Vec<ProductRates>,
    problem: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RatesQuery {
    done: String,
    problem: String,
    seal: String,
}

fn tiers_text(rates: &Rates) -> String {
    rates
        .fee_tiers
        .iter()
        .map(|t| format!("{} ({})", t.label, basis_points(t.fee_bp)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn change_line(change: &RatesChange) -> (String, String, String) {
    (
        format::date_time(change.changed_at),
        change.changed_by.clone(),
        format!(
            "lãi {} → {}; phí {} → {}",
            basis_points(change.old.base_rate_bp),
            basis_points(change.new.base_rate_bp),
            tiers_text(&change.old),
            tiers_text(&change.new)
        ),
    )
}

async fn product_rates(deps: &Deps) -> Result<Vec<ProductRates>, Response> {
    let products = nhip_crm::holdings::products(&*deps.store)
        .await
        .map_err(store_failure)?;
    let mut shown = Vec::new();
    for product in products
        .values()
        .filter(|p| p.kind == ProductKind::Investment)
    {
        let current = rates::in_force(deps, &product.code)
            .await
            .map_err(store_failure)?;
        let history = rates::history(deps, &product.code)
            .await
            .map_err(store_failure)?;
        let r = &current.rates;
        shown.push(ProductRates {
            code: product.code.clone(),
            name: product.name.clone(),
            base_rate: basis_points(r.base_rate_bp),
            base_rate_input: basis_points(r.base_rate_bp)
                .trim_end_matches('%')
                .to_owned(),
            tiers: tiers_text(r),
            tiers_input: r
                .fee_tiers
                .iter()
                .map(|t| {
                    format!(
                        "{} | {} | {}",
                        t.code,
                        t.label,
                        basis_points(t.fee_bp).trim_end_matches('%')
                    )
                })
                .collect::<Vec<_>>()
                .join("\n"),
            version: current.version,
            changed: match (&current.changed_by, current.changed_at) {
                (Some(by), Some(at)) => format!("{by}, {}", format::date_time(at)),
                _ => "mặc định của sản phẩm".into(),
            },
            history: history.iter().map(change_line).collect(),
        });
    }
    Ok(shown)
}

/// `GET /app/admin/rates`.
pub async fn page(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    Query(query): Query<RatesQuery>,
) -> Response {
    if let Err(response) = admin_only(&staff) {
        return response;
    }
    let mut shell = match Shell::load(&deps, &staff, "/app/admin/rates").await {
        Ok(shell) => shell,
        Err(response) => return response,
    };
    if query.done == "saved" {
        shell = shell.flash("Đã lưu. Hợp đồng ký từ bây giờ dùng mức mới.");
    }
    let products = match product_rates(&deps).await {
        Ok(products) => products,
        Err(response) => return response,
    };
    render(&RatesPage {
        shell,
        products,
        problem: problem_of(&staff, &query.problem, &query.seal),
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RatesForm {
    base_rate: String,
    tiers: String,
    version: u64,
}

/// Fee tiers typed one a line: `mã | tên | phần trăm`.
fn parse_tiers(raw: &str) -> Result<Vec<FeeTier>, String> {
    raw.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| {
            let parts: Vec<&str> = line.split('|').map(str::trim).collect();
            match parts.as_slice() {
                [code, label, percent] => Ok(FeeTier {
                    code: (*code).to_owned(),
                    label: (*label).to_owned(),
                    fee_bp: parse_percent(percent)
                        .ok_or_else(|| format!("Mức phí không hợp lệ: {line}"))?,
                }),
                _ => Err(format!("Mỗi dòng: mã | tên | phần trăm ({line}).")),
            }
        })
        .collect()
}

/// `POST /app/admin/rates/{product}`: new rates for the contracts signed from now on.
pub async fn save(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    Path(product): Path<String>,
    axum::Form(form): axum::Form<RatesForm>,
) -> Response {
    let back = |problem: &str| {
        let done = if problem.is_empty() {
            "?done=saved"
        } else {
            ""
        };
        redirect_with_problem(&staff, &format!("/app/admin/rates{done}"), problem)
    };
    if let Err(response) = admin_only(&staff) {
        return response;
    }
    let Some(base_rate_bp) = parse_percent(&form.base_rate) else {
        return back("Lãi suất cơ bản: một tỷ lệ phần trăm, ví dụ 6,5.");
    };
    let fee_tiers = match parse_tiers(&form.tiers) {
        Ok(tiers) => tiers,
        Err(problem) => return back(&problem),
    };
    let rates = Rates {
        base_rate_bp,
        fee_tiers,
    };
    match rates::change(&deps, &staff.principal, &product, form.version, rates).await {
        Ok(_) => back(""),
        Err(RatesError::Store(error)) => store_failure(error),
        Err(error) => {
            let error = ApiError::from(error);
            if error.status.is_client_error() {
                back(&form_problem(&error))
            } else {
                api_error_page(error)
            }
        }
    }
}
