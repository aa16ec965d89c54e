//! "Khách hàng chăm sóc" (seed 003): the customers holding products in the caller's scope,
//! with the screen's filters, and per row the menu of "Hoạt động phát sinh gần nhất" (the 10
//! latest activities) and "Bổ sung lý do chưa/ngưng sử dụng". The menu opens by right-click,
//! by the row's "⋯" button, or by Shift+F10 / the context-menu key on a focused row.

use std::collections::BTreeMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{Map, json};

use nhip_core::deps::Deps;
use nhip_core::timeline;
use nhip_crm::customers::list::{self, Filters};
use nhip_crm::customers::routes::find_visible;
use nhip_crm::holdings::changes::{self, HoldingError};
use nhip_crm::holdings::{self, AppliesTo, Product, UsageReason};
use nhip_domain::customer::{Classification, Lifecycle, UsageStatus};

use crate::format;
use crate::pages::{Shell, not_found, render};
use crate::session::{Staff, store_failure};

/// The filter form as submitted: every field text, empty when unset.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CareQuery {
    name: String,
    tax_code: String,
    cccd: String,
    expires_from: String,
    expires_to: String,
    usage_status: String,
    reason: String,
    remaining_min: String,
    remaining_max: String,
    lifecycle: String,
    classification: String,
    owner: String,
    cursor: String,
}

/// A choice of a select.
pub struct Choice {
    /// Submitted value.
    pub value: String,
    /// Shown label.
    pub label: String,
    /// Whether chosen.
    pub selected: bool,
}

pub(crate) fn choices<'a>(
    options: impl IntoIterator<Item = (&'a str, &'a str)>,
    current: &str,
) -> Vec<Choice> {
    options
        .into_iter()
        .map(|(value, label)| Choice {
            value: value.to_owned(),
            label: label.to_owned(),
            selected: value == current,
        })
        .collect()
}

/// One product of a row.
pub struct ProductCell {
    /// Product name.
    pub name: String,
    /// Usage, in Vietnamese.
    pub usage: String,
    /// Reason, when not used.
    pub reason: String,
    /// Expiry, dd/mm/yyyy.
    pub expires: String,
    /// Invoices left, as a percentage.
    pub remaining: String,
}

/// One customer of the list.
pub struct CareRow {
    /// Id.
    pub id: String,
    /// Full name.
    pub name: String,
    /// MST.
    pub tax_code: String,
    /// CCCD, masked.
    pub cccd: String,
    /// Main phone.
    pub phone: String,
    /// Products held.
    pub products: Vec<ProductCell>,
    /// Lifecycle.
    pub lifecycle: &'static str,
    /// Classification.
    pub classification: &'static str,
    /// Owner.
    pub owner: String,
}

#[derive(Template)]
#[template(path = "care.html")]
struct CarePage {
    shell: Shell,
    query: CareQuery,
    usage_statuses: Vec<Choice>,
    reasons: Vec<Choice>,
    lifecycles: Vec<Choice>,
    classifications: Vec<Choice>,
    rows: Vec<CareRow>,
    problem: Option<String>,
    next: Option<String>,
}

fn text(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

/// The list filters the form asks for, or the first problem with them.
fn filters(query: &CareQuery) -> Result<Filters, String> {
    let date = |raw: &str, what: &str| -> Result<Option<NaiveDate>, String> {
        match text(raw) {
            None => Ok(None),
            Some(raw) => NaiveDate::parse_from_str(&raw, "%Y-%m-%d")
                .or_else(|_| NaiveDate::parse_from_str(&raw, "%d/%m/%Y"))
                .map(Some)
                .map_err(|_| format!("{what}: ngày không hợp lệ (dd/mm/yyyy).")),
        }
    };
    let percent = |raw: &str, what: &str| -> Result<Option<f64>, String> {
        match text(raw) {
            None => Ok(None),
            Some(raw) => match raw.replace(',', ".").parse::<f64>() {
                Ok(value) if (0.0..=100.0).contains(&value) => Ok(Some(value / 100.0)),
                _ => Err(format!("{what}: nhập số phần trăm từ 0 đến 100.")),
            },
        }
    };
    Ok(Filters {
        name: text(&query.name),
        tax_code: text(&query.tax_code),
        cccd: text(&query.cccd),
        expires_from: date(&query.expires_from, "Hết hạn từ ngày")?,
        expires_to: date(&query.expires_to, "Hết hạn đến ngày")?,
        usage_status: text(&query.usage_status).and_then(|s| s.parse::<UsageStatus>().ok()),
        reason: text(&query.reason),
        remaining_ratio_min: percent(&query.remaining_min, "Tỷ lệ hoá đơn còn lại từ")?,
        remaining_ratio_max: percent(&query.remaining_max, "Tỷ lệ hoá đơn còn lại đến")?,
        lifecycle: text(&query.lifecycle).and_then(|s| s.parse::<Lifecycle>().ok()),
        classification: text(&query.classification).and_then(|s| s.parse::<Classification>().ok()),
        owner: text(&query.owner),
        has_holdings: Some(true),
        limit: Some(50),
        cursor: text(&query.cursor),
        ..Filters::default()
    })
}

fn product_cells(
    customer: &nhip_crm::customers::model::Customer,
    products: &BTreeMap<String, Product>,
    reasons: &BTreeMap<String, UsageReason>,
) -> Vec<ProductCell> {
    customer
        .holdings
        .iter()
        .map(|holding| ProductCell {
            name: products
                .get(&holding.product)
                .map(|p| p.name.clone())
                .unwrap_or_else(|| holding.product.clone()),
            usage: holding
                .usage_status
                .map(|u| u.label().to_owned())
                .unwrap_or_default(),
            reason: holding
                .usage_reason
                .as_ref()
                .map(|code| reasons.get(code).map_or(code.clone(), |r| r.label.clone()))
                .unwrap_or_default(),
            expires: holding.expires_on.map(format::date).unwrap_or_default(),
            remaining: holding
                .remaining_invoice_ratio
                .map(format::percent)
                .unwrap_or_default(),
        })
        .collect()
}

/// The query string of the current filters without the cursor, for the next page's link.
fn filter_query(query: &CareQuery) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (name, value) in [
        ("name", &query.name),
        ("tax_code", &query.tax_code),
        ("cccd", &query.cccd),
        ("expires_from", &query.expires_from),
        ("expires_to", &query.expires_to),
        ("usage_status", &query.usage_status),
        ("reason", &query.reason),
        ("remaining_min", &query.remaining_min),
        ("remaining_max", &query.remaining_max),
        ("lifecycle", &query.lifecycle),
        ("classification", &query.classification),
        ("owner", &query.owner),
    ] {
        if !value.trim().is_empty() {
            serializer.append_pair(name, value.trim());
        }
    }
    serializer.finish()
}

/// The rows of a page of customers.
fn care_rows(
    customers: &[nhip_crm::customers::model::Customer],
    products: &BTreeMap<String, Product>,
    reasons: &BTreeMap<String, UsageReason>,
) -> Vec<CareRow> {
    let text = |value: Option<&str>| value.unwrap_or_default().to_owned();
    customers
        .iter()
        .map(|customer| CareRow {
            id: customer.id.to_string(),
            name: customer.full_name.clone(),
            tax_code: text(customer.tax_code.as_ref().map(|t| t.as_str())),
            cccd: customer
                .cccd
                .as_ref()
                .map(|c| c.masked())
                .unwrap_or_default(),
            phone: text(customer.phone().map(|p| p.as_str())),
            products: product_cells(customer, products, reasons),
            lifecycle: customer.lifecycle.label(),
            classification: customer.classification.map_or("", |c| c.label()),
            owner: text(customer.owner.as_deref()),
        })
        .collect()
}

/// The next page's link: the same filters and the list's cursor.
fn next_link(query: &CareQuery, cursor: &str) -> String {
    let filters = filter_query(query);
    let cursor = form_urlencoded::byte_serialize(cursor.as_bytes()).collect::<String>();
    if filters.is_empty() {
        format!("/app/care?cursor={cursor}")
    } else {
        format!("/app/care?{filters}&cursor={cursor}")
    }
}

/// `GET /app/care`.
pub async fn page(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    Query(query): Query<CareQuery>,
) -> Response {
    let shell = match Shell::load(&deps, &staff, "/app/care").await {
        Ok(shell) => shell,
        Err(response) => return response,
    };
    let (products, reasons) = match catalogue(&deps).await {
        Ok(catalogue) => catalogue,
        Err(response) => return response,
    };
    let (rows, problem, next) = match filters(&query) {
        Err(problem) => (Vec::new(), Some(problem), None),
        Ok(filters) => match list::list(&*deps.store, &staff.principal, &filters).await {
            Ok(listing) => (
                care_rows(&listing.customers, &products, &reasons),
                None,
                listing.next_cursor.map(|cursor| next_link(&query, &cursor)),
            ),
            Err(list::ListError::Invalid { field, message }) => {
                (Vec::new(), Some(format!("{field}: {message}")), None)
            }
            Err(list::ListError::Store(error)) => return store_failure(error),
        },
    };
    render(&CarePage {
        shell,
        usage_statuses: choices(
            UsageStatus::ALL.iter().map(|u| (u.as_str(), u.label())),
            &query.usage_status,
        ),
        reasons: choices(
            reasons
                .values()
                .map(|r| (r.code.as_str(), r.label.as_str())),
            &query.reason,
        ),
        lifecycles: choices(
            Lifecycle::ALL.iter().map(|l| (l.as_str(), l.label())),
            &query.lifecycle,
        ),
        classifications: choices(
            Classification::ALL.iter().map(|c| (c.as_str(), c.label())),
            &query.classification,
        ),
        query,
        rows,
        problem,
        next,
    })
}

type Catalogue = (BTreeMap<String, Product>, BTreeMap<String, UsageReason>);

async fn catalogue(deps: &Deps) -> Result<Catalogue, Response> {
    let products = holdings::products(&*deps.store)
        .await
        .map_err(store_failure)?;
    let reasons = holdings::reasons(&*deps.store)
        .await
        .map_err(store_failure)?;
    Ok((products, reasons))
}

/// One activity as listed: time, action, screen ("Thời gian", "Hành động thực hiện", "Màn
/// hình thực hiện").
pub struct ActivityRow {
    /// dd/mm/yyyy hh:mm.
    pub at: String,
    /// The action in Vietnamese.
    pub action: String,
    /// Where it was done.
    pub source: String,
    /// Who did it.
    pub actor: String,
    /// What was said or noted (interactions: notes and the customer's feedback).
    pub detail: String,
}

/// The details worth a line: an interaction's notes, feedback and length.
fn detail(data: &serde_json::Value) -> String {
    let text = |name: &str| {
        data.get(name)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
    };
    let mut parts = Vec::new();
    if let Some(seconds) = data
        .get("duration_seconds")
        .and_then(serde_json::Value::as_u64)
    {
        parts.push(format!("{} phút", seconds.div_ceil(60)));
    }
    for (label, name) in [("", "notes"), ("Khách: ", "feedback"), ("", "note")] {
        let value = text(name);
        if !value.is_empty() {
            parts.push(format!("{label}{value}"));
        }
    }
    parts.join(" · ")
}

/// Activities as rows.
pub fn activity_rows(items: &[timeline::Activity]) -> Vec<ActivityRow> {
    items
        .iter()
        .map(|activity| ActivityRow {
            at: chrono::DateTime::parse_from_rfc3339(&activity.at)
                .map(|at| format::date_time(at.to_utc()))
                .unwrap_or_else(|_| activity.at.clone()),
            action: activity.action.clone(),
            source: screen_label(&activity.source),
            actor: activity.actor.clone().unwrap_or_default(),
            detail: detail(&activity.data),
        })
        .collect()
}

/// Where an activity was done, in Vietnamese.
fn screen_label(source: &str) -> String {
    match source {
        "staff_api" | "console" => "Màn hình nhân viên",
        "intake" | "website_form" => "Form đăng ký trên website",
        "journey" | "journeys" => "Hành trình tự động",
        "messaging" => "Gửi tin",
        "telephony" => "Tổng đài",
        "import" => "Nhập từ tệp",
        "events" => "Hệ thống lõi",
        other => other,
    }
    .to_owned()
}

#[derive(Template)]
#[template(path = "activities.html")]
struct ActivitiesPanel {
    name: String,
    id: String,
    rows: Vec<ActivityRow>,
}

#[derive(Template)]
#[template(path = "activities_page.html")]
struct ActivitiesPage {
    shell: Shell,
    panel: ActivitiesPanel,
}

/// `GET /app/customers/{id}/activities`: the 10 latest activities, as a panel for htmx or a
/// page of its own.
pub async fn activities(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let customer = match find_visible(&deps, &staff.principal, &id).await {
        Ok(Some(customer)) if customer.erased_at.is_none() => customer,
        Ok(_) => return not_found(),
        Err(error) => return store_failure(error),
    };
    let items = match timeline::page(&*deps.store, customer.id, timeline::RECENT, None).await {
        Ok((items, _)) => items,
        Err(error) => return store_failure(error),
    };
    let panel = ActivitiesPanel {
        name: customer.full_name.clone(),
        id: customer.id.to_string(),
        rows: activity_rows(&items),
    };
    if headers.contains_key("hx-request") {
        return render(&panel);
    }
    match Shell::load(&deps, &staff, "/app/care").await {
        Ok(shell) => render(&ActivitiesPage { shell, panel }),
        Err(response) => response,
    }
}

/// A holding whose reason may be supplied.
pub struct ReasonTarget {
    /// Holding id.
    pub id: String,
    /// Product name.
    pub product: String,
    /// Usage, in Vietnamese.
    pub usage: String,
    /// `not_yet_using` or `stopped`.
    pub usage_value: String,
    /// Version to name.
    pub version: u64,
    /// Reasons that may explain this usage.
    pub reasons: Vec<Choice>,
}

#[derive(Template)]
#[template(path = "reason.html")]
struct ReasonPanel {
    csrf: String,
    name: String,
    id: String,
    targets: Vec<ReasonTarget>,
    problem: Option<String>,
}

#[derive(Template)]
#[template(path = "reason_page.html")]
struct ReasonPage {
    shell: Shell,
    panel: ReasonPanel,
}

async fn reason_panel(
    deps: &Deps,
    staff: &Staff,
    id: &str,
    problem: Option<String>,
) -> Result<ReasonPanel, Response> {
    let customer = match find_visible(deps, &staff.principal, id).await {
        Ok(Some(customer)) if customer.erased_at.is_none() => customer,
        Ok(_) => return Err(not_found()),
        Err(error) => return Err(store_failure(error)),
    };
    let (products, reasons) = catalogue(deps).await?;
    let held = holdings::holdings_of(&*deps.store, customer.id)
        .await
        .map_err(store_failure)?;
    let targets = held
        .into_iter()
        .filter(|h| {
            matches!(
                h.usage_status,
                Some(UsageStatus::NotYetUsing | UsageStatus::Stopped)
            )
        })
        .map(|holding| {
            let usage = holding.usage_status.unwrap_or(UsageStatus::NotYetUsing);
            let current = holding.usage_reason.clone().unwrap_or_default();
            ReasonTarget {
                id: holding.id.clone(),
                product: products
                    .get(&holding.product)
                    .map_or(holding.product.clone(), |p| p.name.clone()),
                usage: usage.label().to_owned(),
                usage_value: usage.as_str().to_owned(),
                version: holding.version,
                reasons: choices(
                    reasons
                        .values()
                        .filter(|r| r.active && applies(r.applies_to, usage))
                        .map(|r| (r.code.as_str(), r.label.as_str())),
                    &current,
                ),
            }
        })
        .collect();
    Ok(ReasonPanel {
        csrf: staff.csrf.clone(),
        name: customer.full_name.clone(),
        id: customer.id.to_string(),
        targets,
        problem,
    })
}

fn applies(scope: AppliesTo, usage: UsageStatus) -> bool {
    scope.covers(usage)
}

async fn reason_response(
    deps: &Deps,
    staff: &Staff,
    headers: &HeaderMap,
    id: &str,
    problem: Option<String>,
) -> Response {
    let panel = match reason_panel(deps, staff, id, problem).await {
        Ok(panel) => panel,
        Err(response) => return response,
    };
    if headers.contains_key("hx-request") {
        return render(&panel);
    }
    match Shell::load(deps, staff, "/app/care").await {
        Ok(shell) => render(&ReasonPage { shell, panel }),
        Err(response) => response,
    }
}

/// `GET /app/customers/{id}/reason`: "Bổ sung lý do chưa/ngưng sử dụng" for each product the
/// customer does not (yet) use.
pub async fn reason_form(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    reason_response(&deps, &staff, &headers, &id, None).await
}

#[derive(Deserialize)]
pub struct ReasonForm {
    holding: String,
    version: u64,
    reason: String,
}

/// `POST /app/customers/{id}/reason`: saves the reason picked for one product.
pub async fn save_reason(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    headers: HeaderMap,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<ReasonForm>,
) -> Response {
    let mut body = Map::new();
    body.insert("usage_reason".into(), json!(form.reason.trim()));
    let problem = match changes::update(
        &deps,
        &staff.principal,
        &id,
        &form.holding,
        form.version,
        &body,
    )
    .await
    {
        Ok(_) => {
            if headers.contains_key("hx-request") {
                return reason_response(&deps, &staff, &headers, &id, Some("Đã lưu lý do.".into()))
                    .await;
            }
            return Redirect::to(&format!("/app/customers/{id}/reason")).into_response();
        }
        Err(HoldingError::CustomerNotFound | HoldingError::HoldingNotFound) => return not_found(),
        Err(HoldingError::StaleVersion { .. }) => {
            "Sản phẩm vừa được người khác cập nhật; đã tải lại, hãy chọn lại.".to_owned()
        }
        Err(HoldingError::Invalid(errors)) => errors
            .into_error()
            .fields
            .into_values()
            .next()
            .unwrap_or_else(|| "Lý do không hợp lệ.".into()),
        Err(HoldingError::Store(error)) => return store_failure(error),
        Err(other) => {
            tracing::warn!(error = %other, "console: a usage reason was not saved");
            "Không lưu được lý do; vui lòng thử lại.".to_owned()
        }
    };
    let mut response = reason_response(&deps, &staff, &headers, &id, Some(problem)).await;
    // htmx swaps only 2xx answers: the panel shows the problem; a plain form is told 422.
    if !headers.contains_key("hx-request") && response.status().is_success() {
        *response.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    response
}
