//! The HTTP surface: one axum `Router`, served by `lambda_http` in Lambda and by a TCP
//! listener in the local runner. Errors always have the body
//! `{"error": {"code": "...", "message": "...", "fields": {...}}}`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{Value, json};

use crate::deps::Deps;
use crate::ports::store::StoreError;

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The API's routes over `deps`: the staff API and the public intake routes (in AWS the
/// intake routes are served by their own function, without the staff authorizer).
pub fn router(deps: Arc<Deps>) -> Router {
    staff_router(deps.clone()).merge(crate::intake::router(deps))
}

/// The staff API (the `api` function): every route but `/health` and `/v1/version` needs a
/// staff token.
pub fn staff_router(deps: Arc<Deps>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/v1/version", get(version))
        .merge(crate::customers::routes::router())
        .merge(crate::customers::interactions::router())
        .merge(crate::customers::import::router())
        .merge(crate::holdings::router())
        .merge(crate::privacy::router())
        .merge(crate::next_actions::router())
        .merge(crate::notifications::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(deps)
}

/// An error answered to an HTTP client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Machine-readable code, e.g. `not_found`, `conflict`.
    pub code: &'static str,
    /// A sentence for people.
    pub message: String,
    /// Per-field problems, for validation errors.
    pub fields: BTreeMap<String, String>,
    /// Seconds to wait before retrying, sent as `Retry-After` (rate limits, 503s).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error without field details.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            fields: BTreeMap::new(),
            retry_after: None,
        }
    }

    /// Adds a field-level problem.
    pub fn field(mut self, name: impl Into<String>, problem: impl Into<String>) -> Self {
        self.fields.insert(name.into(), problem.into());
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({"code": self.code, "message": self.message});
        if !self.fields.is_empty() {
            error["fields"] = json!(self.fields);
        }
        let mut response = (self.status, Json(json!({ "error": error }))).into_response();
        let retry_after = self
            .retry_after
            .or((self.status == StatusCode::SERVICE_UNAVAILABLE).then_some(1));
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match &error {
            StoreError::ConditionFailed { .. } | StoreError::TransactionConflict => ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                "The record was changed by someone else; reload it and try again.",
            ),
            StoreError::InvalidCursor { .. } => ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_cursor",
                "The pagination cursor is not valid for this list; start again from the first page.",
            )
            .field("cursor", error.to_string()),
            StoreError::ItemTooLarge { .. } => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                "The record would be larger than the store allows.",
            ),
            StoreError::Invalid { reason } => {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", reason.clone())
            }
            StoreError::Throttled { .. } | StoreError::Unavailable { .. } => {
                tracing::error!(error = %error, source = ?std::error::Error::source(&error), "store failure");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "The service is busy; try again in a moment.",
                )
            }
        }
    }
}

#[derive(Serialize)]
struct ComponentHealth {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    backend: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    depth: Option<crate::ports::QueueDepth>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// `GET /health`: 200 `{"status":"ok", …}` when the store and every queue answer, 503
/// `{"status":"degraded", …}` naming the component that did not.
async fn health(State(deps): State<Arc<Deps>>) -> Response {
    let store = match deps.store.health().await {
        Ok(()) => ComponentHealth {
            status: "ok",
            backend: Some(deps.store.backend()),
            depth: None,
            error: None,
        },
        Err(e) => ComponentHealth {
            status: "error",
            backend: Some(deps.store.backend()),
            depth: None,
            error: Some(e.to_string()),
        },
    };
    let mut all_ok = store.status == "ok";
    let mut queues = BTreeMap::new();
    for (name, queue) in deps.queues.all() {
        let component = match queue.depth().await {
            Ok(depth) => ComponentHealth {
                status: "ok",
                backend: None,
                depth: Some(depth),
                error: None,
            },
            Err(e) => {
                all_ok = false;
                ComponentHealth {
                    status: "error",
                    backend: None,
                    depth: None,
                    error: Some(e.to_string()),
                }
            }
        };
        queues.insert(name, component);
    }
    let status = if all_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if all_ok { "ok" } else { "degraded" },
        "version": deps.build.version,
        "time": crate::keys::instant(deps.clock.now()),
        "store": store,
        "queues": queues,
    });
    (status, Json(body)).into_response()
}

/// `GET /v1/version`: what is running.
async fn version(State(deps): State<Arc<Deps>>) -> Json<Value> {
    Json(json!(deps.build))
}

async fn not_found(request: Request) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("No route for {} {}", request.method(), request.uri().path()),
    )
}

async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "{} is not allowed on {}",
            request.method(),
            request.uri().path()
        ),
    )
}
