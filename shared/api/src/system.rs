//! The system routes: `GET /health` (the store and every queue answer) and `GET /v1/version`
//! (what is running). Neither needs a token.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use nhip_core::deps::{BuildInfo, Deps};
use nhip_core::http::Json;
use nhip_ports::QueueDepth;

/// Whether a component answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ComponentStatus {
    /// It answered.
    Ok,
    /// It did not; `error` says why.
    Error,
}

/// Whether the whole deployment answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    /// The store and every queue answered.
    Ok,
    /// A component did not answer.
    Degraded,
}

/// One component in [`HealthReport`].
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ComponentHealth {
    /// Whether it answered.
    pub status: ComponentStatus,
    /// The store's backend (`sqlite`, `dynamodb`); absent for queues.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "sqlite")]
    pub backend: Option<&'static str>,
    /// A queue's depth; absent for the store and for a queue that did not answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub depth: Option<DepthView>,
    /// Why it did not answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A queue's approximate message counts in [`ComponentHealth`].
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
pub struct DepthView {
    /// Ready to be received.
    pub visible: u64,
    /// Received and not yet deleted.
    pub in_flight: u64,
    /// Sent with a delay that has not run out.
    pub delayed: u64,
}

impl From<QueueDepth> for DepthView {
    fn from(depth: QueueDepth) -> Self {
        let QueueDepth {
            visible,
            in_flight,
            delayed,
        } = depth;
        Self {
            visible,
            in_flight,
            delayed,
        }
    }
}

/// The body of `GET /health`, 200 and 503 alike.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HealthReport {
    /// `ok`, or `degraded` when a component did not answer.
    pub status: HealthStatus,
    /// The running version.
    #[schema(value_type = String, example = "0.1.0")]
    pub version: &'static str,
    /// The deployment's (possibly simulated) time, UTC.
    #[schema(format = DateTime)]
    pub time: String,
    /// The item store.
    pub store: ComponentHealth,
    /// Every queue, by name.
    #[schema(value_type = BTreeMap<String, ComponentHealth>)]
    pub queues: BTreeMap<&'static str, ComponentHealth>,
}

/// `GET /health`: 200 `{"status":"ok", …}` when the store and every queue answer, 503
/// `{"status":"degraded", …}` naming the component that did not.
#[utoipa::path(
    get,
    path = "/health",
    tag = "system",
    responses(
        (status = 200, description = "The store and every queue answered.", body = HealthReport),
        (status = 503, description = "A component did not answer; the body names it.", body = HealthReport),
    )
)]
pub async fn health(State(deps): State<Arc<Deps>>) -> Response {
    let store = match deps.store.health().await {
        Ok(()) => ComponentHealth {
            status: ComponentStatus::Ok,
            backend: Some(deps.store.backend()),
            depth: None,
            error: None,
        },
        Err(e) => ComponentHealth {
            status: ComponentStatus::Error,
            backend: Some(deps.store.backend()),
            depth: None,
            error: Some(e.to_string()),
        },
    };
    let mut all_ok = store.status == ComponentStatus::Ok;
    let mut queues = BTreeMap::new();
    for (name, queue) in deps.queues.all() {
        let component = match queue.depth().await {
            Ok(depth) => ComponentHealth {
                status: ComponentStatus::Ok,
                backend: None,
                depth: Some(depth.into()),
                error: None,
            },
            Err(e) => {
                all_ok = false;
                ComponentHealth {
                    status: ComponentStatus::Error,
                    backend: None,
                    depth: None,
                    error: Some(e.to_string()),
                }
            }
        };
        queues.insert(name, component);
    }
    let (status, health) = if all_ok {
        (StatusCode::OK, HealthStatus::Ok)
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, HealthStatus::Degraded)
    };
    let body = HealthReport {
        status: health,
        version: deps.build.version,
        time: nhip_core::keys::instant(deps.clock.now()),
        store,
        queues,
    };
    (status, axum::Json(body)).into_response()
}

/// `GET /v1/version`: what is running.
#[utoipa::path(
    get,
    path = "/v1/version",
    tag = "system",
    responses((status = 200, description = "What is running.", body = BuildInfo))
)]
pub async fn version(State(deps): State<Arc<Deps>>) -> Json<BuildInfo> {
    Json(deps.build.clone())
}
