//! The SQLite file of a local run: one connection in WAL mode shared by the item store and
//! the queues. A statement runs on the calling task, which waits for its turn at the
//! connection asynchronously; entering and leaving a group wait for the connection in place
//! (as long as one statement).
//!
//! A queue consumer's batch runs as a group ([`Database::group`]): the statements made while it
//! lasts share one transaction, committed when the last open group ends (or once it has been
//! open [`GROUP_MAX_AGE`]). A batch of step jobs' step records, enrollment writes, wake-ups,
//! sends and acknowledgement are then one commit instead of one each (its receive commits
//! before it): one append of each page they touched to the WAL instead of one per statement.
//! A write that must apply whole ([`write`]) is its own transaction outside a group and a
//! savepoint inside one. A crash before the commit rolls the group's writes and
//! acknowledgements back together: its messages, still in flight, come back after their
//! visibility timeout and are redone idempotently.

use std::ops::Deref;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

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
    /// The checkpointer's thread could not be started.
    #[error("starting the checkpointer")]
    Thread(#[source] std::io::Error),
}

/// Whether SQLite gave up waiting for a lock held by another connection.
pub fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(e, _)
            if matches!(e.code, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

#[async_trait::async_trait]
impl nhip_ports::store::CommitGroups for Database {
    async fn group(&self, work: nhip_ports::store::GroupWork<'_>) {
        Database::group(self, work).await
    }
}

/// The longest a group's transaction stays open while groups keep overlapping: past it, the
/// next statement or group end commits it, and the next group to begin opens another.
pub const GROUP_MAX_AGE: Duration = Duration::from_millis(5);

/// One SQLite database file.
#[derive(Debug)]
pub struct Database {
    shared: Mutex<Shared>,
    /// The last group transaction committed (or rolled back), by its number.
    ended: tokio::sync::watch::Sender<u64>,
    /// Set by the checkpointer when the WAL should start over (see [`RESTART_AFTER_PAGES`]).
    restart: std::sync::atomic::AtomicBool,
    /// One turn at the connection for the tasks running statements ([`Database::call`]), fair
    /// among them (first come, first served) and awaited: a task waiting for the connection
    /// frees its thread for requests that are not at the connection yet (reading, parsing and
    /// answering). Entering and leaving a group take the lock alone, without a turn, and may
    /// get in first; entering may run the WAL's restart.
    turns: tokio::sync::Semaphore,
}

/// The connection and the groups sharing its open transaction.
#[derive(Debug)]
struct Shared {
    conn: Connection,
    /// Groups open now.
    groups: usize,
    /// When the groups' transaction began, while it is open.
    opened: Option<Instant>,
    /// The number of the last group transaction begun.
    number: u64,
}

impl Shared {
    fn enter(&mut self) {
        if self.opened.is_none() && self.conn.is_autocommit() {
            // IMMEDIATE: the write lock is taken now, so no statement of the group has to
            // upgrade a read lock later (which another process's commit could refuse).
            match run_cached(&self.conn, "BEGIN IMMEDIATE") {
                Ok(()) => {
                    self.opened = Some(Instant::now());
                    self.number += 1;
                }
                // Another process holds the lock past the busy timeout: the group runs in
                // autocommit, each statement waiting for the lock as usual.
                Err(error) => tracing::warn!(%error, "group transaction not begun"),
            }
        }
        self.groups += 1;
    }

    /// Ends a group; the transaction its last writes are in, if still open.
    fn leave(&mut self, ended: &tokio::sync::watch::Sender<u64>) -> Option<u64> {
        self.groups = self.groups.saturating_sub(1);
        if self.groups == 0 {
            self.commit(ended);
        } else {
            self.commit_if_old(ended);
        }
        self.opened.map(|_| self.number)
    }

    fn commit_if_old(&mut self, ended: &tokio::sync::watch::Sender<u64>) {
        if self.opened.is_some_and(|at| at.elapsed() >= GROUP_MAX_AGE) {
            self.commit(ended);
        }
    }

    fn commit(&mut self, ended: &tokio::sync::watch::Sender<u64>) {
        if self.opened.take().is_none() || self.conn.is_autocommit() {
            return;
        }
        if let Err(error) = run_cached(&self.conn, "COMMIT") {
            // What the groups did is lost with their receipts and acknowledgements: their
            // messages come back and are redone.
            tracing::error!(%error, "group transaction not committed; rolled back");
            let _ = run_cached(&self.conn, "ROLLBACK");
        }
        ended.send_replace(self.number);
    }
}

/// A write that must apply whole: a transaction of its own (`BEGIN IMMEDIATE`) when none is
/// open, a savepoint inside a group's transaction. Dropped without [`Write::commit`], it
/// rolls back what it did, and only that. Its statements are prepared once per connection,
/// as every other statement here.
pub struct Write<'c> {
    conn: &'c Connection,
    /// Inside a group's transaction: a savepoint.
    nested: bool,
    done: bool,
}

impl Write<'_> {
    /// Applies the write (commits the transaction, releases the savepoint).
    pub fn commit(mut self) -> rusqlite::Result<()> {
        self.done = true;
        run_cached(self.conn, if self.nested { "RELEASE w" } else { "COMMIT" })
    }
}

impl Drop for Write<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let undone = if self.nested {
            run_cached(self.conn, "ROLLBACK TO w").and_then(|()| run_cached(self.conn, "RELEASE w"))
        } else {
            run_cached(self.conn, "ROLLBACK")
        };
        if let Err(error) = undone {
            tracing::error!(%error, "a refused write was not rolled back");
        }
    }
}

impl Deref for Write<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn
    }
}

/// Runs a statement without parameters or rows on its cached plan.
fn run_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// Starts a write that must apply whole (see [`Write`]).
pub fn write(conn: &mut Connection) -> rusqlite::Result<Write<'_>> {
    let nested = !conn.is_autocommit();
    run_cached(
        conn,
        if nested {
            "SAVEPOINT w"
        } else {
            "BEGIN IMMEDIATE"
        },
    )?;
    Ok(Write {
        conn,
        nested,
        done: false,
    })
}

/// Ends a group when dropped before it ended itself (its work failed, panicked or was
/// dropped): nothing waits for the commit then.
struct GroupGuard<'d> {
    db: &'d Database,
    left: bool,
}

impl Drop for GroupGuard<'_> {
    fn drop(&mut self) {
        if !self.left {
            self.db.lock().leave(&self.db.ended);
        }
    }
}

impl Database {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub fn open(path: impl AsRef<Path>) -> Result<Arc<Self>, DbError> {
        Self::open_with_timeout(path, DEFAULT_BUSY_TIMEOUT)
    }

    /// As [`Database::open`], with a chosen lock wait.
    pub fn open_with_timeout(path: impl AsRef<Path>, busy: Duration) -> Result<Arc<Self>, DbError> {
        let mut conn = Connection::open(path.as_ref())?;
        conn.busy_timeout(busy)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // Reads from memory rather than through read(2), and room for every statement the
        // adapters prepare (each is prepared once per connection). The page cache stays at
        // SQLite's default (2 MB): reads come from the mapping, and every commit walks the
        // cache's hash table (`pcache1TruncateUnsafe`), which a 64 MB cache made 14 % of a
        // journey step's time.
        conn.pragma_update(None, "mmap_size", 256 * 1024 * 1024)?;
        // Checkpoints (copying the WAL's pages back into the file, and its fsync) run on a
        // thread of their own with its own connection (`checkpoints`), so no request waits
        // for one: inline, every 1,000 pages, they took 15 % of a journey step's time and
        // stalled whatever statement crossed the mark. The connection's own automatic
        // checkpoint stays as a backstop, far out (50,000 pages, about 200 MB).
        conn.pragma_update(None, "wal_autocheckpoint", 50_000)?;
        // What the WAL file keeps after the writer restarts it: twice what it holds when the
        // checkpointer asks for the restart (4 KB pages), so the restart does not shorten the
        // file it is about to write again. Shortening it to 64 MB, a few MB past where the
        // restart starts, freed those blocks every time: up to 10 ms of a restart every
        // request waits for (`strace` under the heaviest intake).
        conn.pragma_update(None, "journal_size_limit", 2 * RESTART_AFTER_PAGES * 4096)?;
        // Every statement stays prepared: a query's shape and its page size (written into its
        // text) make a few hundred at most.
        conn.set_prepared_statement_cache_capacity(512);
        // One write transaction, so two processes opening an old file at once do not both
        // try to add the same columns: the second waits, then finds them there.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(TABLES)?;
        migrate(&tx)?;
        tx.commit()?;
        let db = Arc::new(Self {
            shared: Mutex::new(Shared {
                conn,
                groups: 0,
                opened: None,
                number: 0,
            }),
            ended: tokio::sync::watch::Sender::new(0),
            restart: std::sync::atomic::AtomicBool::new(false),
            turns: tokio::sync::Semaphore::new(1),
        });
        checkpoints(path.as_ref(), Arc::downgrade(&db))?;
        Ok(db)
    }

    /// The connection, waiting for it. A panic inside a statement cannot leave SQLite
    /// half-written (its transaction or savepoint rolls back on drop), so a poisoned lock is
    /// safe to reuse.
    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `work` as a group: its statements, and those other tasks make meanwhile, share one
    /// transaction, committed when the last open group ends or once it has been open
    /// [`GROUP_MAX_AGE`]. The group returns after the commit of its writes, so whatever it
    /// acknowledges (an HTTP answer) is on disk as before. Entering and leaving wait for the
    /// connection as a statement does (microseconds).
    pub async fn group<F: std::future::Future>(&self, work: F) -> F::Output {
        {
            let mut shared = self.lock();
            restart_if_asked(&mut shared, &self.restart);
            shared.enter();
        }
        let mut guard = GroupGuard {
            db: self,
            left: false,
        };
        let out = work.await;
        guard.left = true;
        let open = self.lock().leave(&self.ended);
        if let Some(number) = open {
            self.committed(number).await;
        }
        out
    }

    /// Waits until the group transaction `number` has ended: the last group of it to end
    /// commits it, or, when one of them lasts, the first waiter to wait [`GROUP_MAX_AGE`].
    async fn committed(&self, number: u64) {
        let mut ended = self.ended.subscribe();
        loop {
            if *ended.borrow_and_update() >= number {
                return;
            }
            if tokio::time::timeout(GROUP_MAX_AGE, ended.changed())
                .await
                .is_err()
            {
                let mut shared = self.lock();
                if shared.number == number {
                    shared.commit(&self.ended);
                }
            }
        }
    }

    /// Runs `f` with the connection, on the calling task. A task that finds the connection
    /// taken waits for its turn (one at a time, first come first served) without holding a
    /// thread, then runs its statement where it is: a statement on a prepared, cached plan
    /// takes microseconds, less than handing it to another thread and back, which the blocking
    /// pool did before (two thread switches a statement, a fifth of the runner's time under
    /// the heaviest intake).
    /// A panic inside `f` unwinds the calling task (its transaction or savepoint rolls back).
    pub async fn call<R, F>(&self, f: F) -> R
    where
        F: FnOnce(&mut Connection) -> R,
    {
        let _turn = match self.turns.try_acquire() {
            Ok(turn) => turn,
            Err(_) => self
                .turns
                .acquire()
                .await
                .expect("the turns are never closed"),
        };
        run(&mut self.lock(), &self.ended, &self.restart, f)
    }
}

/// How often the checkpointer looks at the WAL.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);
/// WAL pages past which the writer restarts the WAL. Copying pages back never blocks the
/// writer, but a WAL written without pause only starts over from its beginning when the
/// writer finds it wholly copied back; past this size the writer makes it so, between two
/// transactions, where it waits for no other writer (only the few pages written since the
/// last copy, and an fsync). Every request waits while it does: 8 ms (p50) on the test
/// machine, 1.3 times a second under the heaviest lead intake, once the checkpointer has
/// flushed what it copied ([`FLUSH_ROUNDS`]). A WAL two or four times larger made the
/// restarts rarer but the intake's p99 worse, not better: every page read looks the WAL's
/// index up, and the index grows with the WAL.
const RESTART_AFTER_PAGES: i64 = 16_384;
/// Pages still to copy back at which the checkpointer asks for the restart.
const RESTART_BEHIND_PAGES: i64 = 256;
/// Rounds of copying and flushing the checkpointer makes before it asks for the restart.
const FLUSH_ROUNDS: usize = 2;
/// Copying passes the checkpointer makes to get there before it asks anyway.
const CATCH_UP_PASSES: usize = 8;

/// Starts the file's checkpointer: a thread with its own connection that copies the WAL back
/// into the file every [`CHECKPOINT_EVERY`] without blocking the writer (`PASSIVE`), and asks
/// the writer to restart the WAL once it has grown past [`RESTART_AFTER_PAGES`]. It ends
/// within one period of the database's last handle being dropped.
fn checkpoints(path: &Path, db: std::sync::Weak<Database>) -> Result<(), DbError> {
    let conn = Connection::open(path)?;
    let file = path.to_owned();
    let mut wal = file.clone().into_os_string();
    wal.push("-wal");
    let wal = std::path::PathBuf::from(wal);
    conn.busy_timeout(DEFAULT_BUSY_TIMEOUT)?;
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    std::thread::Builder::new()
        .name("nhip-checkpoint".into())
        .spawn(move || {
            loop {
                std::thread::sleep(CHECKPOINT_EVERY);
                if db.strong_count() == 0 {
                    return;
                }
                let passive = || {
                    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
                        Ok((row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
                    })
                };
                match passive() {
                    Ok((log, copied)) if log > RESTART_AFTER_PAGES => {
                        // The writer's restart copies what is still behind, and every request
                        // waits while it does: copy back until little is (a few passes; the
                        // writer goes on meanwhile), then ask.
                        let mut behind = log - copied;
                        for _ in 0..CATCH_UP_PASSES {
                            if behind <= RESTART_BEHIND_PAGES {
                                break;
                            }
                            match passive() {
                                Ok((log, copied)) => behind = log - copied,
                                Err(_) => break,
                            }
                        }
                        // The copies above went to the file without an fsync (SQLite syncs
                        // it only when a checkpoint copies everything), and the writer's
                        // restart is such a checkpoint: it would flush all of them, and the
                        // WAL written since the last copy, while every request waits. Flushed
                        // here, they leave it the last few pages. The flushes take tens of
                        // milliseconds under load, and the writer goes on meanwhile: a second
                        // round copies and flushes what it wrote during the first.
                        for round in 0..FLUSH_ROUNDS {
                            if round > 0 && passive().is_err() {
                                break;
                            }
                            for path in [&file, &wal] {
                                if let Err(error) =
                                    std::fs::File::open(path).and_then(|f| f.sync_data())
                                {
                                    tracing::warn!(%error, path = %path.display(), "flushing failed");
                                }
                            }
                        }
                        if let Some(db) = db.upgrade() {
                            db.restart.store(true, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "checkpoint failed"),
                }
            }
        })
        .map_err(DbError::Thread)?;
    Ok(())
}

/// Runs a statement's closure; a group transaction open too long is committed after it.
fn run<R>(
    shared: &mut Shared,
    ended: &tokio::sync::watch::Sender<u64>,
    restart: &std::sync::atomic::AtomicBool,
    f: impl FnOnce(&mut Connection) -> R,
) -> R {
    let out = f(&mut shared.conn);
    shared.commit_if_old(ended);
    restart_if_asked(shared, restart);
    out
}

/// Restarts the WAL when the checkpointer asked for it and no transaction is open.
fn restart_if_asked(shared: &mut Shared, restart: &std::sync::atomic::AtomicBool) {
    if shared.conn.is_autocommit() && restart.swap(false, std::sync::atomic::Ordering::Relaxed) {
        let started = std::time::Instant::now();
        match shared
            .conn
            .query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()))
        {
            Ok(()) => tracing::debug!(
                micros = started.elapsed().as_micros() as u64,
                "WAL restarted"
            ),
            Err(error) => tracing::warn!(%error, "WAL not restarted"),
        }
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

    /// What another connection (another process) sees of item `n`.
    fn seen_elsewhere(path: &Path, n: i64) -> bool {
        let conn = Connection::open(path).unwrap();
        conn.query_row(
            "SELECT count(*) FROM items WHERE pk = ?1",
            params![format!("G#{n}")],
            |row| row.get::<_, i64>(0),
        )
        .unwrap()
            == 1
    }

    fn item(n: i64) -> nhip_ports::store::Item {
        json!({"pk": format!("G#{n}"), "sk": "X", "n": n})
            .as_object()
            .unwrap()
            .clone()
    }

    #[tokio::test]
    async fn a_group_commits_its_writes_together_and_a_refused_write_alone_rolls_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nhip.db");
        let db = Database::open(&path).unwrap();
        let store = SqliteStore::new(db.clone());
        store.put(item(2), Condition::Always).await.unwrap();
        let refused = db
            .group(async {
                store.put(item(1), Condition::Always).await.unwrap();
                // Inside the group, before its commit: this process sees the write, another
                // connection does not yet.
                assert!(store.get(&Key::new("G#1", "X")).await.unwrap().is_some());
                assert!(!seen_elsewhere(&path, 1));
                // A refused conditional write in the group changes nothing and keeps the rest.
                let mut changed = item(2);
                changed.insert("n".into(), 20.into());
                let refused = store.put(changed, Condition::NotExists).await;
                store
                    .transact(vec![
                        nhip_ports::store::WriteOp::Put {
                            item: item(3),
                            condition: Condition::Always,
                        },
                        nhip_ports::store::WriteOp::Check {
                            key: Key::new("G#9", "X"),
                            condition: Condition::Exists,
                        },
                    ])
                    .await
                    .unwrap_err();
                refused
            })
            .await;
        assert!(refused.is_err());
        // The group returned after its commit.
        assert!(seen_elsewhere(&path, 1));
        assert!(
            !seen_elsewhere(&path, 3),
            "the refused transaction rolled back"
        );
        let two = store.get(&Key::new("G#2", "X")).await.unwrap().unwrap();
        assert_eq!(two["n"], 2);
    }

    #[tokio::test]
    async fn overlapping_groups_commit_and_a_group_dropped_midway_keeps_what_it_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nhip.db");
        let db = Database::open(&path).unwrap();
        let store = Arc::new(SqliteStore::new(db.clone()));
        // Twenty groups at once on a multi-task runtime: each answers after its writes are
        // on disk, whoever commits them.
        let mut tasks = tokio::task::JoinSet::new();
        for n in 10..30 {
            let (db, store, path) = (db.clone(), store.clone(), path.clone());
            tasks.spawn(async move {
                db.group(async {
                    store.put(item(n), Condition::Always).await.unwrap();
                    tokio::task::yield_now().await;
                })
                .await;
                assert!(seen_elsewhere(&path, n), "{n} answered before its commit");
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.unwrap();
        }
        // A group whose work never finishes (dropped by a timeout, as a cancelled request is).
        let dropped = tokio::time::timeout(
            Duration::from_millis(50),
            db.group(async {
                store.put(item(40), Condition::Always).await.unwrap();
                std::future::pending::<()>().await;
            }),
        )
        .await;
        assert!(dropped.is_err());
        assert!(seen_elsewhere(&path, 40));
        // No transaction is left open: another connection can write.
        let other = Connection::open(&path).unwrap();
        other.busy_timeout(Duration::from_millis(100)).unwrap();
        other
            .execute("INSERT INTO feed (body) VALUES ('{}')", [])
            .unwrap();
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
