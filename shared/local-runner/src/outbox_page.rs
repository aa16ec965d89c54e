//! The outbox as people and scripts see it: `/outbox` (a page listing every message the local
//! run "sent", newest first, with its full content) and `/outbox.json`. Plus the local
//! stand-in for SNS invoking the `engagement-tracker` function: `POST
//! /local/functions/engagement-tracker` takes the same SNS event payload (e.g. a fixture from
//! `events/engagement-tracker/`) and runs the same handler.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use nhip_core::Deps;
use nhip_core::http::{ApiError, ListParams, ListQuery, Query};
use nhip_local::{Outbox, OutboxEntry};
use nhip_ports::channel::Outgoing;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Clone)]
struct PageState {
    outbox: Arc<Outbox>,
    deps: Arc<Deps>,
}

/// The outbox routes.
pub fn router(outbox: Arc<Outbox>, deps: Arc<Deps>) -> Router {
    Router::new()
        .route("/outbox", get(page))
        .route("/outbox.json", get(json_list))
        .route("/local/functions/engagement-tracker", post(invoke_tracker))
        .with_state(PageState { outbox, deps })
}

/// `?limit=` (1–1,000) and `?before=<seq>`; out of range or unparsable answers the JSON error
/// body, as every route does.
#[derive(Debug, Deserialize)]
struct Listing {
    limit: Option<u32>,
    before: Option<i64>,
}

impl ListParams for Listing {
    const DEFAULT_LIMIT: u32 = 100;
    const MAX_LIMIT: u32 = 1000;

    fn requested_limit(&self) -> Option<u32> {
        self.limit
    }

    fn range_problems(&self) -> Vec<(&'static str, String)> {
        match self.before {
            Some(before) if before < 1 => vec![("before", "≥ 1".to_owned())],
            _ => Vec::new(),
        }
    }
}

fn unavailable(error: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        format!("outbox unavailable: {error}"),
    )
}

async fn json_list(
    State(state): State<PageState>,
    ListQuery(listing): ListQuery<Listing>,
) -> Result<axum::Json<Value>, ApiError> {
    let entries = state
        .outbox
        .list(listing.limit() as usize, listing.before)
        .await
        .map_err(unavailable)?;
    let next = entries.last().map(|e| e.seq).filter(|seq| *seq > 1);
    Ok(axum::Json(json!({ "items": entries, "before": next })))
}

use nhip_domain::template::escape_html as escape;

fn card(entry: &OutboxEntry) -> String {
    let (kind, head, body) = match &entry.envelope.outgoing {
        Outgoing::Email(m) => (
            "E-mail",
            format!("<b>{}</b>", escape(&m.subject)),
            format!(
                "<details open><summary>HTML</summary><iframe sandbox srcdoc=\"{}\"></iframe></details>\
                 <details><summary>Văn bản</summary><pre>{}</pre></details>{}{}",
                escape(&m.html),
                escape(&m.text),
                if m.attachments.is_empty() {
                    String::new()
                } else {
                    format!(
                        "<p>Đính kèm: {}</p>",
                        m.attachments
                            .iter()
                            .map(|a| format!("{} ({} byte)", escape(&a.filename), a.bytes.len()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                },
                m.headers
                    .iter()
                    .map(|(k, v)| format!("<code>{}: {}</code><br>", escape(k), escape(v)))
                    .collect::<String>()
            ),
        ),
        Outgoing::Sms(m) => {
            let segments = nhip_domain::template::sms_segments(&m.text);
            (
                "SMS",
                format!(
                    "{:?} · {} phần ({:?})",
                    m.kind, segments.segments, segments.encoding
                ),
                format!("<pre>{}</pre>", escape(&m.text)),
            )
        }
        Outgoing::Zns(m) => (
            "Zalo ZNS",
            format!("mẫu {}", escape(&m.template_id)),
            format!(
                "<pre>{}</pre>",
                escape(&serde_json::to_string_pretty(&m.params).unwrap_or_default())
            ),
        ),
        Outgoing::Push(m) => (
            "Push",
            format!("<b>{}</b>", escape(&m.title)),
            format!(
                "<pre>{}</pre>{}",
                escape(&m.body),
                m.deep_link
                    .as_deref()
                    .map(|l| format!("<code>{}</code>", escape(l)))
                    .unwrap_or_default()
            ),
        ),
        Outgoing::Webhook(m) => (
            "OTT",
            escape(&m.bridge),
            format!("<pre>{}</pre>", escape(&m.text)),
        ),
    };
    format!(
        "<article><header>#{} · {} · {} → <code>{}</code> · {}<br>\
         <small>message <code>{}</code> · provider <code>{}</code></small></header>{}</article>",
        entry.seq,
        kind,
        nhip_domain::time::to_vn(entry.sent_at).format("%H:%M:%S %d/%m/%Y"),
        escape(entry.recipient()),
        head,
        escape(&entry.envelope.message_id),
        escape(&entry.provider_id),
        body
    )
}

async fn page(
    State(state): State<PageState>,
    ListQuery(listing): ListQuery<Listing>,
) -> Result<Response, ApiError> {
    let entries = state
        .outbox
        .list(listing.limit.unwrap_or(50) as usize, listing.before)
        .await
        .map_err(unavailable)?;
    let cards: String = entries.iter().map(card).collect();
    let more = entries
        .last()
        .filter(|e| e.seq > 1)
        .map(|e| format!("<p><a href=\"/outbox?before={}\">Cũ hơn →</a></p>", e.seq))
        .unwrap_or_default();
    let html = format!(
        "<!doctype html><html lang=\"vi\"><head><meta charset=\"utf-8\"><title>Hộp thư đi — Nhịp</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}\
         article{{border:1px solid #ddd;border-radius:6px;padding:.8rem;margin:.8rem 0}}\
         iframe{{width:100%;height:18rem;border:1px solid #eee}}pre{{white-space:pre-wrap}}</style></head>\
         <body><h1>Hộp thư đi (outbox)</h1><p>Mọi tin Nhịp gửi khi chạy cục bộ, mới nhất trước. \
         JSON: <a href=\"/outbox.json\">/outbox.json</a>.</p>{}{}</body></html>",
        if cards.is_empty() {
            "<p>Chưa có tin nào.</p>".to_owned()
        } else {
            cards
        },
        more
    );
    Ok((StatusCode::OK, Html(html)).into_response())
}

/// Re-aiming a fixture: `provider_id` replaces each SES event's `mail.messageId` (the id the
/// outbox gave the message), and `stamp=now` sets every SES timestamp to the simulated clock,
/// so `events/engagement-tracker/*.json` can be posted unchanged.
#[derive(Debug, Deserialize)]
struct Aim {
    provider_id: Option<String>,
    stamp: Option<String>,
}

fn stamp(value: &mut Value, now: &str) {
    match value {
        Value::Object(map) => {
            for (key, field) in map.iter_mut() {
                if key == "timestamp" && field.is_string() {
                    *field = Value::from(now);
                } else {
                    stamp(field, now);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| stamp(item, now)),
        _ => {}
    }
}

async fn invoke_tracker(
    State(state): State<PageState>,
    Query(aim): Query<Aim>,
    body: axum::body::Bytes,
) -> Result<axum::Json<Value>, ApiError> {
    let bad = |message: String| ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", message);
    let mut event: aws_lambda_events::sns::SnsEvent =
        serde_json::from_slice(&body).map_err(|e| bad(format!("not an SNS event: {e}")))?;
    let now = nhip_core::keys::instant(nhip_ports::Clock::now(&*state.deps.clock));
    for record in &mut event.records {
        let mut ses: Value = serde_json::from_str(&record.sns.message)
            .map_err(|e| bad(format!("an SNS record's Message is not JSON: {e}")))?;
        if let Some(id) = &aim.provider_id {
            ses["mail"]["messageId"] = Value::from(id.as_str());
        }
        if aim.stamp.as_deref() == Some("now") {
            stamp(&mut ses, &now);
        }
        record.sns.message = ses.to_string();
    }
    let report = nhip_messaging::tracker::handle_sns(&state.deps, event)
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                e.to_string(),
            )
        })?;
    Ok(axum::Json(json!(report)))
}
