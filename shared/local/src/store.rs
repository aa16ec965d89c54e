//! `SqliteStore`: the item-store port on SQLite, with DynamoDB's semantics and the same keys.
//! Conditions and updates are evaluated by the shared rules in `nhip_ports::store`
//! inside one `BEGIN IMMEDIATE` transaction per call, so every operation is atomic, and a
//! transaction of writes applies all or none.

use std::sync::Arc;

use async_trait::async_trait;
use nhip_ports::store::{
    self, Condition, Cursor, Index, Item, ItemStore, Key, Page, Query, SortKey, StoreError, Update,
    WriteOp, validate_item, validate_key, validate_transaction,
};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use crate::db::{Database, Write, is_busy};

/// The item store on a local SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    db: Arc<Database>,
}

impl SqliteStore {
    /// A store over `db`.
    pub fn new(db: Arc<Database>) -> Self {
        Self { db }
    }

    /// Deletes items whose `ttl` (epoch seconds) is before `now_epoch_seconds`, as DynamoDB's
    /// TTL does in the background; returns how many went.
    pub async fn purge_expired(&self, now_epoch_seconds: i64) -> Result<usize, StoreError> {
        self.run(move |conn| {
            conn.execute(
                "DELETE FROM items WHERE ttl IS NOT NULL AND ttl < ?1",
                params![now_epoch_seconds],
            )
            .map_err(sql_error)
        })
        .await
    }

    async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.db.call(f).await
    }
}

fn sql_error(error: rusqlite::Error) -> StoreError {
    if is_busy(&error) {
        StoreError::Throttled {
            source: Some(Box::new(error)),
        }
    } else {
        StoreError::unavailable(error)
    }
}

fn immediate(conn: &mut Connection) -> Result<Write<'_>, StoreError> {
    crate::db::write(conn).map_err(sql_error)
}

fn load(conn: &Connection, key: &Key) -> Result<Option<Item>, StoreError> {
    load_body(conn, key)?.map(|b| parse(&b)).transpose()
}

/// The stored item's JSON, unparsed: a read parses it after the connection is given back.
fn load_body(conn: &Connection, key: &Key) -> Result<Option<String>, StoreError> {
    conn.prepare_cached("SELECT body FROM items WHERE pk = ?1 AND sk = ?2")
        .map_err(sql_error)?
        .query_row(params![key.pk, key.sk], |row| row.get(0))
        .optional()
        .map_err(sql_error)
}

fn parse(body: &str) -> Result<Item, StoreError> {
    serde_json::from_str(body).map_err(StoreError::unavailable)
}

/// The string value of an index key attribute, when the item has both of the index's keys.
fn index_keys(item: &Item, index: Index) -> (Option<&str>, Option<&str>) {
    let pk = item.get(index.pk_attr()).and_then(Value::as_str);
    let sk = item.get(index.sk_attr()).and_then(Value::as_str);
    match (pk, sk) {
        (Some(pk), Some(sk)) => (Some(pk), Some(sk)),
        _ => (None, None),
    }
}

/// An item with its JSON: a put serialises its item before it takes the connection, so the
/// connection is not held while it does.
struct Serialised {
    item: Item,
    body: String,
}

impl Serialised {
    fn of(item: Item) -> Result<Self, StoreError> {
        let body = serde_json::to_string(&item).map_err(StoreError::unavailable)?;
        Ok(Self { item, body })
    }
}

/// Writes `item` under `key`; an item `created` with a [`store::FEED`] attribute joins the
/// change feed in the same transaction, as DynamoDB's stream records an `INSERT`.
fn save(conn: &Connection, key: &Key, item: &Serialised, created: bool) -> Result<(), StoreError> {
    let Serialised { item, body } = item;
    let (g1pk, g1sk) = index_keys(item, Index::Gsi1);
    let (g2pk, g2sk) = index_keys(item, Index::Gsi2);
    let (g3pk, g3sk) = index_keys(item, Index::Gsi3);
    let ttl = item.get(store::TTL).and_then(Value::as_i64);
    conn.prepare_cached(
        "INSERT INTO items (pk, sk, gsi1pk, gsi1sk, gsi2pk, gsi2sk, gsi3pk, gsi3sk, ttl, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (pk, sk) DO UPDATE SET gsi1pk = excluded.gsi1pk, gsi1sk = excluded.gsi1sk,
             gsi2pk = excluded.gsi2pk, gsi2sk = excluded.gsi2sk,
             gsi3pk = excluded.gsi3pk, gsi3sk = excluded.gsi3sk, ttl = excluded.ttl,
             body = excluded.body",
    )
    .map_err(sql_error)?
    .execute(params![
        key.pk, key.sk, g1pk, g1sk, g2pk, g2sk, g3pk, g3sk, ttl, body
    ])
    .map_err(sql_error)?;
    if created && item.get(store::FEED).is_some_and(Value::is_string) {
        conn.prepare_cached("INSERT INTO feed (body) VALUES (?1)")
            .map_err(sql_error)?
            .execute(params![body])
            .map_err(sql_error)?;
    }
    Ok(())
}

/// The stored item a condition is checked against. Conditions on existence alone need no
/// parsed item: an empty one stands for it.
fn stored_for(
    conn: &Connection,
    key: &Key,
    condition: &Condition,
) -> Result<Option<Item>, StoreError> {
    if condition_needs_attributes(condition) {
        return load(conn, key);
    }
    let exists = conn
        .prepare_cached("SELECT 1 FROM items WHERE pk = ?1 AND sk = ?2")
        .map_err(sql_error)?
        .exists(params![key.pk, key.sk])
        .map_err(sql_error)?;
    Ok(exists.then(Item::new))
}

fn condition_needs_attributes(condition: &Condition) -> bool {
    match condition {
        Condition::Always | Condition::Exists | Condition::NotExists => false,
        Condition::All(all) => all.iter().any(condition_needs_attributes),
        _ => true,
    }
}

fn remove(conn: &Connection, key: &Key) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM items WHERE pk = ?1 AND sk = ?2")
        .map_err(sql_error)?
        .execute(params![key.pk, key.sk])
        .map_err(sql_error)?;
    Ok(())
}

fn check(
    condition: &Condition,
    current: Option<&Item>,
    op: Option<usize>,
) -> Result<(), StoreError> {
    if condition.holds(current) {
        Ok(())
    } else {
        Err(StoreError::ConditionFailed { op })
    }
}

/// Applies an update to the stored item, checking the result still fits.
fn updated(key: &Key, update: &Update, current: Option<&Item>) -> Result<Item, StoreError> {
    let item = update.apply(key, current)?;
    validate_item(&item)?;
    Ok(item)
}

#[async_trait]
impl ItemStore for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        validate_key(key)?;
        let key = key.clone();
        self.run(move |conn| load_body(conn, &key))
            .await?
            .map(|b| parse(&b))
            .transpose()
    }

    async fn put(&self, item: Item, condition: Condition) -> Result<(), StoreError> {
        let key = validate_item(&item)?;
        let item = Serialised::of(item)?;
        self.run(move |conn| {
            let tx = immediate(conn)?;
            let found = stored_for(&tx, &key, &condition)?;
            check(&condition, found.as_ref(), None)?;
            save(&tx, &key, &item, found.is_none())?;
            tx.commit().map_err(sql_error)
        })
        .await
    }

    async fn update(
        &self,
        key: &Key,
        update: Update,
        condition: Condition,
    ) -> Result<Item, StoreError> {
        validate_key(key)?;
        update.validate()?;
        let key = key.clone();
        self.run(move |conn| {
            let tx = immediate(conn)?;
            let current = load(&tx, &key)?;
            check(&condition, current.as_ref(), None)?;
            let item = Serialised::of(updated(&key, &update, current.as_ref())?)?;
            save(&tx, &key, &item, current.is_none())?;
            tx.commit().map_err(sql_error)?;
            Ok(item.item)
        })
        .await
    }

    async fn delete(&self, key: &Key, condition: Condition) -> Result<(), StoreError> {
        validate_key(key)?;
        let key = key.clone();
        self.run(move |conn| {
            let tx = immediate(conn)?;
            check(
                &condition,
                stored_for(&tx, &key, &condition)?.as_ref(),
                None,
            )?;
            remove(&tx, &key)?;
            tx.commit().map_err(sql_error)
        })
        .await
    }

    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        let position = query.validate()?;
        let (sql, args) = query_sql(&query, position.as_ref());
        let bodies = self
            .run(move |conn| query_bodies(conn, &sql, &args))
            .await?;
        page(&query, &bodies)
    }

    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        if keys.len() > store::MAX_BATCH_GET_KEYS {
            return Err(StoreError::invalid(format!(
                "a batch get asks for at most {} keys",
                store::MAX_BATCH_GET_KEYS
            )));
        }
        for key in keys {
            validate_key(key)?;
        }
        let keys = keys.to_vec();
        let bodies = self
            .run(move |conn| {
                let mut bodies = Vec::with_capacity(keys.len());
                for key in &keys {
                    bodies.extend(load_body(conn, key)?);
                }
                Ok(bodies)
            })
            .await?;
        bodies.iter().map(|b| parse(b)).collect()
    }

    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        validate_transaction(&ops)?;
        // The puts' items are serialised before the connection is taken.
        let ops = ops
            .into_iter()
            .map(|op| match op {
                WriteOp::Put { item, condition } => Ok(Op::Put(Serialised::of(item)?, condition)),
                other => Ok(Op::Other(other)),
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.run(move |conn| {
            let tx = immediate(conn)?;
            // Check every condition against the state before the transaction, as DynamoDB
            // does, then write; any failure drops `tx`, which rolls everything back.
            let mut writes = Vec::with_capacity(ops.len());
            for (i, op) in ops.into_iter().enumerate() {
                match op {
                    Op::Put(item, condition) => {
                        let key = Key::of(&item.item).expect("validated");
                        let found = stored_for(&tx, &key, &condition)?;
                        check(&condition, found.as_ref(), Some(i))?;
                        writes.push((key, Some((item, found.is_none()))));
                    }
                    Op::Other(WriteOp::Put { .. }) => unreachable!("puts are serialised above"),
                    Op::Other(WriteOp::Update {
                        key,
                        update,
                        condition,
                    }) => {
                        let current = load(&tx, &key)?;
                        check(&condition, current.as_ref(), Some(i))?;
                        let item = Serialised::of(updated(&key, &update, current.as_ref())?)?;
                        writes.push((key, Some((item, current.is_none()))));
                    }
                    Op::Other(WriteOp::Delete { key, condition }) => {
                        check(
                            &condition,
                            stored_for(&tx, &key, &condition)?.as_ref(),
                            Some(i),
                        )?;
                        writes.push((key, None));
                    }
                    Op::Other(WriteOp::Check { key, condition }) => {
                        check(
                            &condition,
                            stored_for(&tx, &key, &condition)?.as_ref(),
                            Some(i),
                        )?;
                    }
                }
            }
            for (key, item) in &writes {
                match item {
                    Some((item, created)) => save(&tx, key, item, *created)?,
                    None => remove(&tx, key)?,
                }
            }
            tx.commit().map_err(sql_error)
        })
        .await
    }

    async fn health(&self) -> Result<(), StoreError> {
        self.run(|conn| {
            conn.query_row("SELECT 1", [], |_| Ok(()))
                .map_err(sql_error)
        })
        .await
    }
}

/// A transaction's operation, its put's item already serialised.
enum Op {
    Put(Serialised, Condition),
    Other(WriteOp),
}

/// The JSON of the items a query's statement returns, unparsed.
fn query_bodies(conn: &Connection, sql: &str, args: &[String]) -> Result<Vec<String>, StoreError> {
    let mut statement = conn.prepare_cached(sql).map_err(sql_error)?;
    let params: Vec<&dyn rusqlite::ToSql> =
        args.iter().map(|a| a as &dyn rusqlite::ToSql).collect();
    statement
        .query_map(params.as_slice(), |row| row.get::<_, String>(0))
        .map_err(sql_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(sql_error)
}

/// The page of a query from its statement's rows (one more than the limit tells whether
/// another page follows).
fn page(query: &Query, bodies: &[String]) -> Result<Page, StoreError> {
    let limit = query.limit as usize;
    let more = bodies.len() > limit;
    let items = bodies[..bodies.len().min(limit)]
        .iter()
        .map(|b| parse(b))
        .collect::<Result<Vec<_>, _>>()?;
    let next = if more {
        items
            .last()
            .and_then(|last| Cursor::after_item(query.index, last))
    } else {
        None
    };
    Ok(Page { items, next })
}

/// The statement of a query and the values bound to it, in order.
fn query_sql(
    query: &Query,
    position: Option<&std::collections::BTreeMap<String, String>>,
) -> (String, Vec<String>) {
    let (pk_col, sk_col) = (query.index.pk_attr(), query.index.sk_attr());
    // A secondary index is partial (`WHERE <pk> IS NOT NULL`). Said in the query, the planner
    // sees the index applies from the text alone; left to be implied by `<pk> = ?`, it reads
    // the bound value to prove it and marks the plan to be prepared again whenever that value
    // changes: every query on an index was re-prepared.
    //
    // The partition is compared with `+?`, the bound value under a unary plus, which the
    // planner treats as any value. Compared with a bare `?` under an `ORDER BY`, it reads the
    // bound value to plan the order, and the statement is prepared again each time it is taken
    // from the cache (whose clearing of the bindings marks such a plan stale): every query.
    let mut sql = if query.index == Index::Primary {
        format!("SELECT body FROM items WHERE {pk_col} = +?")
    } else {
        format!("SELECT body FROM items WHERE {pk_col} IS NOT NULL AND {pk_col} = +?")
    };
    let mut args: Vec<String> = vec![query.pk.clone()];
    match &query.sk {
        None => {}
        Some(SortKey::Eq(v)) => {
            sql += &format!(" AND {sk_col} = ?");
            args.push(v.clone());
        }
        Some(SortKey::BeginsWith(prefix)) => {
            sql += &format!(" AND {sk_col} >= ? AND substr({sk_col}, 1, length(?)) = ?");
            args.extend([prefix.clone(), prefix.clone(), prefix.clone()]);
            // The end of the prefix's range (the prefix followed by the highest code point),
            // so a scan never walks the keys after the prefix; a descending page that resumes
            // after a cursor has the cursor as its tighter end instead.
            if query.forward || position.is_none() {
                sql += &format!(" AND {sk_col} < ?");
                args.push(format!("{prefix}\u{10FFFF}"));
            }
        }
        Some(SortKey::Between(lo, hi)) => {
            sql += &format!(" AND {sk_col} BETWEEN ? AND ?");
            args.extend([lo.clone(), hi.clone()]);
        }
    }
    let (cmp, dir) = if query.forward {
        (">", "ASC")
    } else {
        ("<", "DESC")
    };
    if let Some(position) = position {
        // Resume strictly after the cursor's item, ties on the index sort key broken by the
        // table key (as the index itself is ordered).
        if query.index == Index::Primary {
            sql += &format!(" AND sk {cmp} ?");
            args.push(position[store::SK].clone());
        } else {
            sql += &format!(" AND ({sk_col}, pk, sk) {cmp} (?, ?, ?)");
            args.extend([
                position[sk_col].clone(),
                position[store::PK].clone(),
                position[store::SK].clone(),
            ]);
        }
    }
    // One extra row tells whether another page follows. The limit is written into the text:
    // bound, SQLite plans with its value too, and a statement bound with another value
    // (pages of 1, 100, 1,000…) is prepared again.
    let fetch = i64::from(query.limit) + 1;
    sql += &if query.index == Index::Primary {
        format!(" ORDER BY sk {dir} LIMIT {fetch}")
    } else {
        format!(" ORDER BY {sk_col} {dir}, pk {dir}, sk {dir} LIMIT {fetch}")
    };
    (sql, args)
}

#[cfg(test)]
mod tests {
    use nhip_ports::store::{Index, ItemStore, Query, SortKey};
    use rusqlite::StatementStatus;
    use serde_json::json;

    use super::*;

    /// A query's statement is prepared once and kept, whichever partition it reads: SQLite
    /// prepares again any statement whose plan read a bound value, each time it leaves the
    /// cache, which made every query of the store a parse and a plan.
    #[tokio::test]
    async fn a_query_stays_prepared_whatever_partition_it_reads() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path().join("t.db")).unwrap();
        let store = SqliteStore::new(db.clone());
        for i in 0..30 {
            let item = serde_json::from_value(json!({
                "pk": format!("CUS#{i}"), "sk": format!("ENR#{i}"),
                "gsi1pk": format!("DUE#{}", i % 3), "gsi1sk": format!("{i:03}"),
            }))
            .unwrap();
            store.put(item, Condition::Always).await.unwrap();
        }
        let queries = |i: usize| {
            [
                Query::partition(Index::Primary, format!("CUS#{i}"))
                    .sk(SortKey::BeginsWith("ENR#".into()))
                    .limit(100),
                Query::partition(Index::Primary, format!("CUS#{i}")).limit(100),
                Query::partition(Index::Gsi1, format!("DUE#{}", i % 3))
                    .sk(SortKey::Between("000".into(), "999".into()))
                    .limit(100),
            ]
        };
        for i in 0..30 {
            for query in queries(i) {
                let page = store.query(query).await.unwrap();
                assert!(!page.items.is_empty());
            }
        }
        let reprepared = db
            .call(move |conn| {
                queries(0)
                    .iter()
                    .map(|query| {
                        let (sql, _) = query_sql(query, None);
                        conn.prepare_cached(&sql)
                            .unwrap()
                            .get_status(StatementStatus::RePrepare)
                    })
                    .collect::<Vec<_>>()
            })
            .await;
        assert_eq!(reprepared, [0, 0, 0], "statements prepared again");
    }
}
