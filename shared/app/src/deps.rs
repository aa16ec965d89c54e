//! The one context value every function, the local runner and the tests share: the ports,
//! built once per process and passed around as `Arc<Deps>`.

use std::sync::Arc;

use serde::Serialize;

use crate::auth::Authenticator;
use crate::ports::{Clock, ItemStore, Queue};

/// The queues functions hand work to each other on.
#[derive(Clone)]
pub struct Queues {
    /// Domain events from core systems and from Nhịp itself (`events` queue).
    pub events: Arc<dyn Queue>,
}

impl Queues {
    /// Every queue with its logical name, for health reports and the local consumers.
    pub fn all(&self) -> Vec<(&'static str, Arc<dyn Queue>)> {
        vec![("events", self.events.clone())]
    }
}

/// What was built: reported by `GET /v1/version` and `GET /health`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct BuildInfo {
    /// Product name.
    pub name: &'static str,
    /// Crate version.
    pub version: &'static str,
    /// Git commit, when the build recorded one (`NHIP_GIT_SHA` at compile time).
    pub commit: Option<&'static str>,
    /// `debug` or `release`.
    pub profile: &'static str,
    /// Where it runs: `lambda` or `local`.
    pub runtime: &'static str,
}

impl BuildInfo {
    /// The build information of this binary, for the given runtime.
    pub fn current(runtime: &'static str) -> Self {
        Self {
            name: "nhip",
            version: env!("CARGO_PKG_VERSION"),
            commit: option_env!("NHIP_GIT_SHA"),
            profile: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            },
            runtime,
        }
    }
}

/// The ports, shared by every handler.
#[derive(Clone)]
pub struct Deps {
    /// The single-table item store.
    pub store: Arc<dyn ItemStore>,
    /// The queues.
    pub queues: Queues,
    /// The clock (system in AWS, simulated locally and in tests).
    pub clock: Arc<dyn Clock>,
    /// What is running.
    pub build: BuildInfo,
    /// Staff authentication: HS256 locally, API Gateway's verified claims in AWS.
    pub auth: Arc<Authenticator>,
    /// Tunables and secrets of the routes.
    pub settings: Settings,
}

/// Tunables and secrets of the routes, from the environment in Lambda and from the command
/// line or defaults locally.
#[derive(Clone, PartialEq, Eq)]
pub struct Settings {
    /// Lead submissions accepted per source and form per minute (`NHIP_INTAKE_RATE_PER_MINUTE`).
    pub intake_rate_per_minute: u32,
    /// Shared secret the call centre signs its webhooks with (`NHIP_TELEPHONY_SECRET`); the
    /// telephony route refuses every call while it is unset.
    pub telephony_secret: Option<Vec<u8>>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            intake_rate_per_minute: crate::intake::DEFAULT_RATE_PER_MINUTE,
            telephony_secret: None,
        }
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("intake_rate_per_minute", &self.intake_rate_per_minute)
            .field(
                "telephony_secret",
                &self.telephony_secret.as_ref().map(|_| "<set>"),
            )
            .finish()
    }
}
