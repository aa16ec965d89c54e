//! The clock port. Everything that asks "what time is it" goes through it, so the local
//! runner and the tests can run a 30-day journey in simulated time.

use chrono::{DateTime, Utc};

/// A source of the current instant.
pub trait Clock: Send + Sync {
    /// The current instant, UTC.
    fn now(&self) -> DateTime<Utc>;
}

/// The machine's clock, used in AWS.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
