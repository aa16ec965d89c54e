//! `LocalEventBus`: the event-bus port on the local SQLite file. Nothing else listens locally,
//! so published events are kept in a table (newest last) for the local runner to show at
//! `/local/events-out` and for tests to read.

use std::sync::Arc;

use async_trait::async_trait;
use nhip_domain::event::DomainEvent;
use nhip_ports::bus::{BusError, EventBus, MAX_BATCH};
use rusqlite::params;

use crate::db::Database;

/// The local event bus.
#[derive(Clone)]
pub struct LocalEventBus {
    db: Arc<Database>,
}

impl LocalEventBus {
    /// A bus keeping its events in `db`.
    pub fn new(db: Arc<Database>) -> Self {
        Self { db }
    }

    /// The last `limit` events published, oldest first.
    pub async fn recent(&self, limit: usize) -> Result<Vec<DomainEvent>, BusError> {
        let limit = limit.clamp(1, 10_000) as i64;
        let rows = self
            .db
            .call(move |conn| -> rusqlite::Result<Vec<String>> {
                let mut statement = conn.prepare(
                    "SELECT body FROM (SELECT seq, body FROM events_out ORDER BY seq DESC LIMIT ?1)
                     ORDER BY seq",
                )?;
                let rows = statement
                    .query_map(params![limit], |row| row.get(0))?
                    .collect::<rusqlite::Result<Vec<String>>>()?;
                Ok(rows)
            })
            .await
            .map_err(unavailable)?;
        Ok(rows
            .iter()
            .filter_map(|body| serde_json::from_str(body).ok())
            .collect())
    }
}

fn unavailable(error: impl std::error::Error + Send + Sync + 'static) -> BusError {
    BusError::Unavailable {
        source: Box::new(error),
    }
}

#[async_trait]
impl EventBus for LocalEventBus {
    fn backend(&self) -> &'static str {
        "local"
    }

    async fn publish(&self, events: &[DomainEvent]) -> Result<(), BusError> {
        if events.len() > MAX_BATCH {
            return Err(BusError::PartiallyPublished {
                failed: events.len() - MAX_BATCH,
                total: events.len(),
            });
        }
        let bodies: Vec<(String, String, String)> = events
            .iter()
            .map(|e| {
                (
                    e.source.clone(),
                    e.id.clone(),
                    serde_json::to_string(e).expect("a domain event serialises"),
                )
            })
            .collect();
        self.db
            .call(move |conn| -> rusqlite::Result<()> {
                let tx = crate::db::write(conn)?;
                for (source, id, body) in bodies {
                    // At least once, kept once: a republished event is ignored.
                    tx.execute(
                        "INSERT OR IGNORE INTO events_out (source, id, body) VALUES (?1, ?2, ?3)",
                        params![source, id, body],
                    )?;
                }
                tx.commit()
            })
            .await
            .map_err(unavailable)
    }
}
