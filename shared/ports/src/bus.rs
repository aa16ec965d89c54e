//! The event-bus port: Nhịp's own domain events (journey.entered, journey.step, message.*,
//! journey.converted, …) published for the organisation's other systems. EventBridge
//! `PutEvents` in AWS (`nhip-aws`), a table in the local SQLite file (`nhip-local`).

use std::error::Error as StdError;

use async_trait::async_trait;
use nhip_domain::event::DomainEvent;

/// Most events one `PutEvents` call carries.
pub const MAX_BATCH: usize = 10;

/// Why publishing failed.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// Some events of the batch were refused; the rest went. Publishing is at least once:
    /// send the batch again (receivers key events by `(source, id)`).
    #[error("{failed} of {total} events were not published")]
    PartiallyPublished {
        /// How many failed.
        failed: usize,
        /// How many were in the batch.
        total: usize,
    },
    /// The bus failed or could not be reached.
    #[error("event bus unavailable")]
    Unavailable {
        /// The underlying error, kept whole.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
}

/// Where Nhịp's events go out.
#[async_trait]
pub trait EventBus: Send + Sync {
    /// The backend's name: `eventbridge` or `local`.
    fn backend(&self) -> &'static str;

    /// Publishes events, at most [`MAX_BATCH`] a call (callers chunk; adapters refuse more).
    async fn publish(&self, events: &[DomainEvent]) -> Result<(), BusError>;
}

/// Publishes any number of events in batches of [`MAX_BATCH`].
pub async fn publish_all(bus: &dyn EventBus, events: &[DomainEvent]) -> Result<(), BusError> {
    for chunk in events.chunks(MAX_BATCH) {
        bus.publish(chunk).await?;
    }
    Ok(())
}
