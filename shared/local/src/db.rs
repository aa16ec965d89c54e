//! The SQLite file of a local run: one connection in WAL mode shared by the item store and
//! the queues. Calls run on Tokio's blocking pool so async tasks never wait on disk I/O.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nhip_ports::store::Index;
use rusqlite::{Connection, ErrorCode, TransactionBehavior};

/// How long a write waits for a lock held by another connection before it is reported as
/// throttled (the SQLite analogue of DynamoDB's throughput errors).
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The tables. A file made by an earlier version may lack later columns of `items`;
/// [`migrate`] adds them before the indexes over them are created.
const TABLES: &str = "
CREATE TABLE IF NOT EXISTS items (
    pk      TEXT NOT NULL,
    sk      TEXT NOT NULL,
    gsi1pk  TEXT,
    gsi1sk  TEXT,
    gsi2pk  TEXT,
    gsi2sk  TEXT,
    gsi3pk  TEXT,
    gsi3sk  TEXT,
    ttl     INTEGER,
    body    TEXT NOT NULL,
    PRIMARY KEY (pk, sk)
) WITHOUT ROWID;
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

CREATE TABLE IF NOT EXISTS outbox (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id   TEXT NOT NULL,
    provider_id  TEXT NOT NULL UNIQUE,
    kind         TEXT NOT NULL,
    recipient    TEXT NOT NULL,
    envelope     TEXT NOT NULL,   -- the whole Envelope as JSON
    sent_at      INTEGER NOT NULL -- epoch milliseconds (clock time)
);
CREATE INDEX IF NOT EXISTS outbox_message ON outbox (message_id);

-- Items created with a `feed` attribute, in order, until their consumer has folded them (the
-- local stand-in for the table's DynamoDB stream).
CREATE TABLE IF NOT EXISTS feed (
    seq   INTEGER PRIMARY KEY AUTOINCREMENT,
    body  TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS events_out (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    source  TEXT NOT NULL,
    id      TEXT NOT NULL,
    body    TEXT NOT NULL,
    UNIQUE (source, id)
);
";

/// Brings `items` up to date with the store port's indexes: for each global secondary index,
/// adds its key columns when the file predates them, fills them from the items already stored
/// (an item joins the index only with both keys as non-empty strings, as when DynamoDB builds
/// a new index over existing items), then creates the sparse index over them.
fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    let columns = conn
        .prepare("SELECT name FROM pragma_table_info('items')")?
        .query_map([], |row| row.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for index in Index::SECONDARY {
        let (name, pk, sk) = (
            index.name().expect("a secondary index has a name"),
            index.pk_attr(),
            index.sk_attr(),
        );
        let missing: Vec<&str> = [pk, sk]
            .into_iter()
            .filter(|column| !columns.iter().any(|c| c == column))
            .collect();
        if !missing.is_empty() {
            for column in &missing {
                conn.execute_batch(&format!("ALTER TABLE items ADD COLUMN {column} TEXT"))?;
            }
            let filled = conn.execute(
                &format!(
                    "UPDATE items SET {pk} = json_extract(body, '$.{pk}'),
                         {sk} = json_extract(body, '$.{sk}')
                     WHERE json_type(body, '$.{pk}') = 'text'
                       AND json_type(body, '$.{sk}') = 'text'
                       AND json_extract(body, '$.{pk}') <> ''
                       AND json_extract(body, '$.{sk}') <> ''"
                ),
                [],
            )?;
            tracing::info!(index = name, items = filled, "added index columns to items");
        }
        // Sparse like DynamoDB's GSIs: only rows with both index keys are in them.
        conn.execute_batch(&format!(
            "CREATE INDEX IF NOT EXISTS items_{name} ON items ({pk}, {sk}, pk, sk)
             WHERE {pk} IS NOT NULL"
        ))?;
    }
    Ok(())
}

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
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(busy)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // Reads from memory rather than through read(2), a page cache of 64 MiB, and room for
        // every statement the adapters prepare (each is prepared once per connection).
        conn.pragma_update(None, "mmap_size", 256 * 1024 * 1024)?;
        conn.pragma_update(None, "cache_size", -64 * 1024)?;
        conn.set_prepared_statement_cache_capacity(128);
        // One write transaction, so two processes opening an old file at once do not both
        // try to add the same columns: the second waits, then finds them there.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(TABLES)?;
        migrate(&tx)?;
        tx.commit()?;
        Ok(Arc::new(Self {
            conn: Mutex::new(conn),
        }))
    }

    /// Runs `f` with the connection: on the calling task when the connection is free (a
    /// statement on a prepared, cached plan takes microseconds, less than handing it to another
    /// thread and back), else on the blocking pool, where waiting for the lock blocks no
    /// async task.
    pub async fn call<R, F>(self: &Arc<Self>, f: F) -> Result<R, tokio::task::JoinError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> R + Send + 'static,
    {
        match self.conn.try_lock() {
            Ok(mut conn) => return Ok(f(&mut conn)),
            // As below: a panic inside `f` rolled its transaction back.
            Err(std::sync::TryLockError::Poisoned(poisoned)) => {
                return Ok(f(&mut poisoned.into_inner()));
            }
            Err(std::sync::TryLockError::WouldBlock) => {}
        }
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

#[cfg(test)]
mod tests {
    use nhip_ports::store::{Condition, Index, ItemStore, Key, Query, Update};
    use rusqlite::params;
    use serde_json::{Value, json};

    use super::*;
    use crate::SqliteStore;

    /// The schema of files made before `gsi3` existed, as those versions wrote it.
    const SCHEMA_BEFORE_GSI3: &str = "
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
    CREATE INDEX IF NOT EXISTS items_gsi1 ON items (gsi1pk, gsi1sk, pk, sk) WHERE gsi1pk IS NOT NULL;
    CREATE INDEX IF NOT EXISTS items_gsi2 ON items (gsi2pk, gsi2sk, pk, sk) WHERE gsi2pk IS NOT NULL;
    CREATE INDEX IF NOT EXISTS items_ttl ON items (ttl) WHERE ttl IS NOT NULL;
    CREATE TABLE IF NOT EXISTS queue_messages (
        queue          TEXT NOT NULL,
        id             TEXT NOT NULL,
        body           TEXT NOT NULL,
        attributes     TEXT NOT NULL,
        sent_at        INTEGER NOT NULL,
        visible_at     INTEGER NOT NULL,
        receive_count  INTEGER NOT NULL DEFAULT 0,
        receipt        TEXT,
        PRIMARY KEY (queue, id)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS queue_visible ON queue_messages (queue, visible_at, id);
    ";

    /// Writes a file as a version without `gsi3` did: its `gsi3pk`/`gsi3sk` attributes, where
    /// items had them, live only in the JSON body.
    fn write_old_file(path: &Path) {
        let conn = Connection::open(path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.execute_batch(SCHEMA_BEFORE_GSI3).unwrap();
        let items = [
            json!({"pk": "CUS#1", "sk": "PROFILE", "n": 1, "gsi1pk": "LIFECYCLE#lead", "gsi1sk": "CUS#1",
                   "gsi3pk": "TEAM#north", "gsi3sk": "2026-11-02T00:00:00.000Z#CUS#1"}),
            json!({"pk": "CUS#2", "sk": "PROFILE", "n": 2, "gsi1pk": "LIFECYCLE#lead", "gsi1sk": "CUS#2",
                   "gsi3pk": "TEAM#north", "gsi3sk": "2026-11-01T00:00:00.000Z#CUS#2"}),
            json!({"pk": "CUS#3", "sk": "PROFILE", "n": 3, "gsi3pk": "TEAM#north"}),
            json!({"pk": "CUS#4", "sk": "PROFILE", "n": 4, "gsi3pk": 5, "gsi3sk": "x"}),
            json!({"pk": "CUS#5", "sk": "PROFILE", "n": 5, "gsi3pk": "", "gsi3sk": "x"}),
            json!({"pk": "CUS#6", "sk": "PROFILE", "n": 6, "gsi3pk": "TEAM#south", "gsi3sk": "a", "ttl": 4_000_000_000u64}),
        ];
        for item in items {
            let text = |attr: &str| item.get(attr).and_then(Value::as_str).map(str::to_owned);
            conn.execute(
                "INSERT INTO items (pk, sk, gsi1pk, gsi1sk, gsi2pk, gsi2sk, ttl, body)
                 VALUES (?1, ?2, ?3, ?4, NULL, NULL, ?5, ?6)",
                params![
                    text("pk"),
                    text("sk"),
                    text("gsi1pk"),
                    text("gsi1sk"),
                    item.get("ttl").and_then(Value::as_i64),
                    item.to_string()
                ],
            )
            .unwrap();
        }
        conn.execute(
            "INSERT INTO queue_messages (queue, id, body, attributes, sent_at, visible_at)
             VALUES ('events', 'm1', '{}', '{}', 0, 0)",
            [],
        )
        .unwrap();
    }

    fn numbers(items: &[nhip_ports::store::Item]) -> Vec<i64> {
        items.iter().map(|i| i["n"].as_i64().unwrap()).collect()
    }

    async fn all(store: &SqliteStore, query: Query) -> Vec<i64> {
        let (mut seen, mut cursor) = (Vec::new(), None);
        loop {
            let page = store.query(query.clone().after(cursor)).await.unwrap();
            seen.extend(numbers(&page.items));
            match page.next {
                Some(next) => cursor = Some(next),
                None => return seen,
            }
        }
    }

    #[tokio::test]
    async fn a_file_from_before_gsi3_gains_the_index_and_keeps_its_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nhip.db");
        write_old_file(&path);

        let db = Database::open(&path).unwrap();
        {
            let check = Connection::open(&path).unwrap();
            let columns: Vec<String> = check
                .prepare("SELECT name FROM pragma_table_info('items')")
                .unwrap()
                .query_map([], |row| row.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert!(columns.iter().any(|c| c == "gsi3pk") && columns.iter().any(|c| c == "gsi3sk"));
            let plan: Vec<String> = check
                .prepare(
                    "EXPLAIN QUERY PLAN SELECT body FROM items WHERE gsi3pk = ?
                     ORDER BY gsi3sk ASC, pk ASC, sk ASC LIMIT ?",
                )
                .unwrap()
                .query_map(params!["TEAM#north", 10], |row| row.get(3))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert!(
                plan.iter().any(|step| step.contains("items_gsi3")),
                "{plan:?}"
            );
            let queued: i64 = check
                .query_row("SELECT count(*) FROM queue_messages", [], |row| row.get(0))
                .unwrap();
            assert_eq!(queued, 1);
            let indexed: i64 = check
                .query_row(
                    "SELECT count(*) FROM items WHERE gsi3pk IS NOT NULL OR gsi3sk IS NOT NULL",
                    [],
                    |row| row.get(0),
                )
                .unwrap();
            assert_eq!(indexed, 3, "CUS#1, CUS#2 and CUS#6");
        }
        let store = SqliteStore::new(db);

        // The old data and the old indexes.
        let profile = store
            .get(&Key::new("CUS#4", "PROFILE"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(profile["gsi3pk"], 5);
        let leads = all(&store, Query::partition(Index::Gsi1, "LIFECYCLE#lead")).await;
        assert_eq!(leads, vec![1, 2]);

        // Backfilled from the bodies: only items with both keys as non-empty strings.
        let north = Query::partition(Index::Gsi3, "TEAM#north").limit(1);
        assert_eq!(all(&store, north.clone()).await, vec![2, 1]);
        assert_eq!(all(&store, north.clone().descending()).await, vec![1, 2]);
        let south = all(&store, Query::partition(Index::Gsi3, "TEAM#south")).await;
        assert_eq!(south, vec![6]);
        assert!(
            all(&store, Query::partition(Index::Gsi3, "5"))
                .await
                .is_empty()
        );

        // New writes keep the index up to date.
        store
            .update(
                &Key::new("CUS#3", "PROFILE"),
                Update::new().set("gsi3sk", "2026-11-03T00:00:00.000Z#CUS#3"),
                Condition::Exists,
            )
            .await
            .unwrap();
        store
            .update(
                &Key::new("CUS#6", "PROFILE"),
                Update::new().set("gsi3pk", "TEAM#north"),
                Condition::Exists,
            )
            .await
            .unwrap();
        assert_eq!(all(&store, north.clone()).await, vec![2, 1, 3, 6]);
        assert!(
            all(&store, Query::partition(Index::Gsi3, "TEAM#south"))
                .await
                .is_empty()
        );
        drop(store);

        // Opening again finds nothing left to change.
        let store = SqliteStore::new(Database::open(&path).unwrap());
        assert_eq!(all(&store, north).await, vec![2, 1, 3, 6]);
        assert_eq!(store.purge_expired(0).await.unwrap(), 0);
    }

    #[test]
    fn a_new_file_has_every_index() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nhip.db");
        drop(Database::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        for index in Index::SECONDARY {
            let name = format!("items_{}", index.name().unwrap());
            let found: i64 = conn
                .query_row(
                    "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = ?1",
                    params![name],
                    |row| row.get(0),
                )
                .unwrap();
            assert_eq!(found, 1, "{name}");
        }
    }
}
