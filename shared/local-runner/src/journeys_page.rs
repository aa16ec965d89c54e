//! The journeys as a marketer watches them locally: `/journeys`, one table per journey with its
//! published version's counters per step (entered, waiting now, sent, delivered, opened,
//! clicked, not sent, converted, exited, stopped, ticketed, errors) and the version's rates,
//! refreshed every five seconds. The same figures are at `GET /v1/journeys/{key}/stats`.
//!
//! Also the demo data: at start the runner installs the seed journeys (with their Vietnamese
//! templates) that are not there yet.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use nhip_core::Deps;
use nhip_core::auth::{Principal, Role};
use nhip_core::http::ApiError;
use nhip_core::keys;
use nhip_journeys::{definitions, stats};
use nhip_ports::store::Index;
use serde_json::Value;

/// The `/journeys` page.
pub fn router(deps: Arc<Deps>) -> Router {
    Router::new().route("/journeys", get(page)).with_state(deps)
}

/// The seed journeys' keys, in the order they are installed.
pub fn seed_keys() -> Vec<String> {
    nhip_domain::journey::SEEDS
        .iter()
        .filter_map(|seed| seed.parse().ok().map(|journey| journey.key))
        .collect()
}

/// Installs the seed journeys `which` names that are not installed yet; returns the keys
/// installed.
pub async fn install_seeds(deps: &Deps, which: &crate::Seeds) -> anyhow::Result<Vec<String>> {
    let system = Principal::new("nhip", Role::Admin, None);
    let mut installed = Vec::new();
    for seed in nhip_domain::journey::SEEDS {
        let journey = seed
            .parse()
            .map_err(|e| anyhow::anyhow!("a seed journey does not parse: {e:?}"))?;
        if let crate::Seeds::Only(keys) = which
            && !keys.contains(&journey.key)
        {
            continue;
        }
        if definitions::meta(deps, &journey.key).await?.is_some() {
            continue;
        }
        definitions::install_seed_journey(deps, &system, &journey.key)
            .await
            .map_err(|e| anyhow::anyhow!("installing {}: {}", journey.key, e.message))?;
        installed.push(journey.key);
    }
    Ok(installed)
}

use nhip_domain::template::escape_html as escape;

fn count(row: &stats::StatsRow, name: &str) -> String {
    row.counts
        .get(name)
        .and_then(Value::as_i64)
        .unwrap_or(0)
        .to_string()
}

fn percent(row: &stats::StatsRow, name: &str) -> String {
    row.rates
        .get(name)
        .and_then(Value::as_f64)
        .map_or_else(|| "–".to_owned(), |r| format!("{:.1}%", r * 100.0))
}

const COLUMNS: [(&str, &str); 12] = [
    ("entered", "Vào"),
    ("waiting", "Đang chờ"),
    ("sent", "Đã gửi"),
    ("delivered", "Đã đến"),
    ("opened", "Đã mở"),
    ("clicked", "Đã nhấn"),
    ("not_sent", "Không gửi"),
    ("converted", "Đạt mục tiêu"),
    ("exited", "Kết thúc"),
    ("stopped", "Dừng"),
    ("ticketed", "Ticket"),
    ("errors", "Lỗi"),
];

async fn page(State(deps): State<Arc<Deps>>) -> Result<Response, ApiError> {
    let headers: String = COLUMNS
        .iter()
        .map(|(_, label)| format!("<th>{label}</th>"))
        .collect();
    let mut sections = String::new();
    let items =
        nhip_core::records::read_partition(&*deps.store, Index::Gsi2, keys::JOURNEYS, None).await?;
    for item in items {
        let Ok(meta) =
            nhip_core::records::from_item::<definitions::JourneyMeta>(item, definitions::KIND)
        else {
            continue;
        };
        let Some(number) = meta.published_version else {
            continue;
        };
        let Some(version) = definitions::version(&deps, &meta.key, number).await? else {
            continue;
        };
        let figures = stats::read(&deps, &meta.key, number, &version.definition).await?;
        let row = |name: &str, label: &str, r: &stats::StatsRow| {
            let cells: String = COLUMNS
                .iter()
                .map(|(counter, _)| format!("<td>{}</td>", count(r, counter)))
                .collect();
            format!(
                "<tr><td><code>{}</code></td><td>{}</td>{cells}</tr>",
                escape(name),
                escape(label)
            )
        };
        let mut rows = row("tổng", "Cả phiên bản", &figures.totals);
        for step in &figures.steps {
            rows.push_str(&row(
                step.step.as_deref().unwrap_or_default(),
                step.label.as_deref().unwrap_or_default(),
                step,
            ));
        }
        let t = &figures.totals;
        sections.push_str(&format!(
            "<section><h2>{} <small>({}, phiên bản {number})</small></h2>\
             <p>Tỷ lệ chuyển đổi {} · mở {} · nhấn {} · ticket {} · lỗi {}</p>\
             <table><thead><tr><th>Bước</th><th>Loại</th>{headers}</tr></thead><tbody>{rows}</tbody></table>\
             <p><a href=\"/v1/journeys/{}/stats\">JSON</a> (cần token nhân viên)</p></section>",
            escape(&version.definition.name),
            escape(&meta.key),
            percent(t, "conversion"),
            percent(t, "open"),
            percent(t, "click"),
            percent(t, "ticket"),
            percent(t, "error"),
            escape(&meta.key),
        ));
    }
    let now =
        nhip_domain::time::to_vn(nhip_ports::Clock::now(&*deps.clock)).format("%d/%m/%Y %H:%M");
    let html = format!(
        "<!doctype html><html lang=\"vi\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"5\"><title>Hành trình — Nhịp</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:80rem;margin:2rem auto;padding:0 1rem}}\
         table{{border-collapse:collapse;width:100%;font-size:.9rem}}td,th{{border:1px solid #ddd;padding:.3rem .5rem;text-align:right}}\
         td:first-child,td:nth-child(2),th:first-child,th:nth-child(2){{text-align:left}}tbody tr:first-child{{font-weight:bold;background:#f6f6f6}}</style></head>\
         <body><h1>Hành trình</h1><p>Giờ mô phỏng: {now}. Trang tự làm mới mỗi 5 giây; \
         hộp thư đi: <a href=\"/outbox\">/outbox</a>.</p>{}</body></html>",
        if sections.is_empty() {
            "<p>Chưa có hành trình nào được xuất bản.</p>".to_owned()
        } else {
            sections
        }
    );
    Ok((StatusCode::OK, Html(html)).into_response())
}
