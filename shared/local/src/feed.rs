//! `LocalFeed`: the change feed of the local SQLite file, the stand-in for the table's
//! DynamoDB stream. The item store appends an item created with a `feed` attribute in the
//! same transaction that creates it ([`nhip_ports::store::FEED`]); the local runner reads the
//! oldest records, hands them to their consumer and acknowledges them, so a record is
//! delivered again only when its consumer failed (or the process stopped) before that.

use std::sync::Arc;

use async_trait::async_trait;
use nhip_ports::store::{ChangeFeed, FeedRecord, StoreError};
use rusqlite::params;

use crate::db::Database;

/// The shard name of the local feed (one shard: records arrive in the order written).
pub const SHARD: &str = "local";

/// The local file's change feed.
#[derive(Debug, Clone)]
pub struct LocalFeed {
    db: Arc<Database>,
}

impl LocalFeed {
    /// The feed of `db`.
    pub fn new(db: Arc<Database>) -> Self {
        Self { db }
    }
}

#[async_trait]
impl ChangeFeed for LocalFeed {
    async fn read(&self, limit: usize) -> Result<Vec<FeedRecord>, StoreError> {
        let limit = limit.clamp(1, 10_000) as i64;
        let rows = self
            .db
            .call(move |conn| -> rusqlite::Result<Vec<(i64, String)>> {
                // The limit in the text, not bound: see `store::run_query`.
                conn.prepare_cached(&format!(
                    "SELECT seq, body FROM feed ORDER BY seq LIMIT {limit}"
                ))?
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect()
            })
            .await
            .map_err(StoreError::unavailable)?;
        rows.into_iter()
            .map(|(seq, body)| {
                let item = serde_json::from_str(&body).map_err(StoreError::unavailable)?;
                Ok(FeedRecord::new(SHARD, &seq.to_string(), item))
            })
            .collect()
    }

    async fn acknowledge(&self, records: &[FeedRecord]) -> Result<(), StoreError> {
        let Some(last) = records.iter().map(|r| r.seq.as_str()).max() else {
            return Ok(());
        };
        let upto: i64 = last
            .trim_start_matches('0')
            .parse()
            .map_err(|_| StoreError::invalid("a local feed position is a number"))?;
        self.db
            .call(move |conn| {
                conn.prepare_cached("DELETE FROM feed WHERE seq <= ?1")?
                    .execute(params![upto])
            })
            .await
            .map_err(StoreError::unavailable)?;
        Ok(())
    }
}
