//! The SQLite file of a local run: one connection in WAL mode shared by the item store and
//! the queues. Calls run on Tokio's blocking pool so async tasks never wait on disk I/O.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode};

/// How long a write waits for a lock held by another connection before it is reported as
/// throttled (the SQLite analogue of DynamoDB's throughput errors).
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS items (
    pk      TEXT NOT NULL,
    sk      TEXT NOT NULL,
    gsi1pk  TEXT,
    gsi1sk  TEXT,
    gsi2pk  TEXT,
    gsi2sk  TEXT,
    ttl     INTEGER,
    body    TEXT NOT NULL,
    PRIMARY KEY (pk, sk)
) WITHOUT ROWID;
-- Sparse like DynamoDB's GSIs: only rows with both index keys are in them.
CREATE INDEX IF NOT EXISTS items_gsi1 ON items (gsi1pk, gsi1sk, pk, sk) WHERE gsi1pk IS NOT NULL;
CREATE INDEX IF NOT EXISTS items_gsi2 ON items (gsi2pk, gsi2sk, pk, sk) WHERE gsi2pk IS NOT NULL;
CREATE INDEX IF NOT EXISTS items_ttl ON items (ttl) WHERE ttl IS NOT NULL;

CREATE TABLE IF NOT EXISTS queue_messages (
    queue          TEXT NOT NULL,
    id             TEXT NOT NULL,
    body           TEXT NOT NULL,
    attributes     TEXT NOT NULL,
    sent_at        INTEGER NOT NULL,  -- epoch milliseconds (clock time)
    visible_at     INTEGER NOT NULL,  -- epoch milliseconds (clock time)
    receive_count  INTEGER NOT NULL DEFAULT 0,
    receipt        TEXT,              -- current receipt handle while in flight
    PRIMARY KEY (queue, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS queue_visible ON queue_messages (queue, visible_at, id);
";

/// Errors opening the database file.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// SQLite refused.
    #[error("sqlite")]
    Sqlite(#[from] rusqlite::Error),
}

/// Whether SQLite gave up waiting for a lock held by another connection.
pub fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(e, _)
            if matches!(e.code, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// One SQLite database file.
#[derive(Debug)]
pub struct Database {
    conn: Mutex<Connection>,
}

impl Database {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub fn open(path: impl AsRef<Path>) -> Result<Arc<Self>, DbError> {
        Self::open_with_timeout(path, DEFAULT_BUSY_TIMEOUT)
    }

    /// As [`Database::open`], with a chosen lock wait.
    pub fn open_with_timeout(path: impl AsRef<Path>, busy: Duration) -> Result<Arc<Self>, DbError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(busy)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.execute_batch(SCHEMA)?;
        Ok(Arc::new(Self {
            conn: Mutex::new(conn),
        }))
    }

    /// Runs `f` with the connection on the blocking pool.
    pub async fn call<R, F>(self: &Arc<Self>, f: F) -> Result<R, tokio::task::JoinError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> R + Send + 'static,
    {
        let db = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            // A panic inside `f` cannot leave SQLite half-written (its transaction rolls back
            // on drop), so a poisoned lock is safe to reuse.
            let mut conn = db.conn.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut conn)
        })
        .await
    }
}
