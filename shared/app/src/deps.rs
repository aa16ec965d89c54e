//! The one context value every function, the local runner and the tests share: the ports,
//! built once per process and passed around as `Arc<Deps>`.

use std::sync::Arc;

use serde::Serialize;

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
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
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
}
