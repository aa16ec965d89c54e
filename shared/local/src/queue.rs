//! `LocalQueue`: a durable at-least-once queue in the local SQLite file, keeping SQS's
//! contract (visibility timeout, receive count, redrive to a dead-letter queue) so consumers
//! behave the same locally and on Lambda. Time comes from the shared clock, so a simulated
//! clock also moves delays and visibility timeouts.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use nhip_ports::Clock;
use nhip_ports::queue::{self, OutgoingMessage, Queue, QueueDepth, QueueError, ReceivedMessage};
use rusqlite::{Connection, params};
use ulid::Ulid;

use crate::db::{Database, is_busy};

/// How often an empty long poll looks again.
const POLL_INTERVAL: Duration = Duration::from_millis(25);
/// Longest long poll, as in SQS.
const MAX_WAIT: Duration = Duration::from_secs(20);

/// Where messages go after too many receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redrive {
    /// The dead-letter queue's name.
    pub dead_letter_queue: String,
    /// Receives allowed before a message is moved there.
    pub max_receives: u32,
}

/// One durable local queue.
#[derive(Clone)]
pub struct LocalQueue {
    db: Arc<Database>,
    name: String,
    clock: Arc<dyn Clock>,
    redrive: Option<Redrive>,
}

impl std::fmt::Debug for LocalQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalQueue")
            .field("name", &self.name)
            .field("redrive", &self.redrive)
            .finish()
    }
}

impl LocalQueue {
    /// The queue `name` in `db`, its time read from `clock`.
    pub fn new(db: Arc<Database>, name: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        Self {
            db,
            name: name.into(),
            clock,
            redrive: None,
        }
    }

    /// Moves messages to `<name>-dlq` once received `max_receives` times without a delete.
    pub fn with_dead_letter_queue(mut self, max_receives: u32) -> Self {
        self.redrive = Some(Redrive {
            dead_letter_queue: format!("{}-dlq", self.name),
            max_receives: max_receives.max(1),
        });
        self
    }

    /// The dead-letter queue of this queue, if it has one.
    pub fn dead_letter_queue(&self) -> Option<LocalQueue> {
        self.redrive.as_ref().map(|r| {
            LocalQueue::new(
                self.db.clone(),
                r.dead_letter_queue.clone(),
                self.clock.clone(),
            )
        })
    }

    fn now_ms(&self) -> i64 {
        self.clock.now().timestamp_millis()
    }

    async fn run<T, F>(&self, f: F) -> Result<T, QueueError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, rusqlite::Error> + Send + 'static,
    {
        match self.db.call(f).await {
            Ok(value) => Ok(value),
            Err(e) if is_busy(&e) => Err(QueueError::Throttled {
                source: Box::new(e),
            }),
            Err(e) => Err(QueueError::unavailable(e)),
        }
    }

    async fn receive_once(
        &self,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        let now = self.now_ms();
        let hidden_until = now + visibility.as_millis() as i64;
        let name = self.name.clone();
        let redrive = self.redrive.clone();
        self.run(move |conn| {
            let tx = crate::db::write(conn)?;
            let mut received = Vec::new();
            loop {
                let candidates: Vec<(String, String, String, i64, u32)> = {
                    // `+?1` and the limit in the text keep the statement prepared once: see
                    // `store::run_query`.
                    let mut select = tx.prepare_cached(&format!(
                        "SELECT id, body, attributes, sent_at, receive_count FROM queue_messages
                         WHERE queue = +?1 AND visible_at <= ?2 ORDER BY visible_at, id LIMIT {}",
                        max - received.len()
                    ))?;
                    select
                        .query_map(params![name, now], |r| {
                            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                        })?
                        .collect::<Result<_, _>>()?
                };
                if candidates.is_empty() {
                    break;
                }
                for (id, body, attributes, sent_at, count) in candidates {
                    if let Some(r) = redrive.as_ref().filter(|r| count >= r.max_receives) {
                        // Received max_receives times and still not deleted: dead-letter it.
                        tx.prepare_cached(
                            "UPDATE queue_messages SET queue = ?1, visible_at = ?2,
                                 receive_count = 0, receipt = NULL WHERE queue = ?3 AND id = ?4",
                        )?
                        .execute(params![
                            r.dead_letter_queue,
                            now,
                            name,
                            id
                        ])?;
                        continue;
                    }
                    let receipt = format!("{id}:{}", Ulid::new());
                    tx.prepare_cached(
                        "UPDATE queue_messages SET visible_at = ?1, receive_count = ?2,
                             receipt = ?3 WHERE queue = ?4 AND id = ?5",
                    )?
                    .execute(params![
                        hidden_until,
                        count + 1,
                        receipt,
                        name,
                        id
                    ])?;
                    received.push(ReceivedMessage {
                        message_id: id,
                        receipt_handle: receipt,
                        body,
                        attributes: serde_json::from_str(&attributes).unwrap_or_default(),
                        receive_count: count + 1,
                        sent_at: millis(sent_at),
                    });
                }
                if received.len() >= max {
                    break;
                }
            }
            tx.commit()?;
            Ok(received)
        })
        .await
    }
}

fn millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// The message id inside a receipt handle (`<id>:<receipt>`).
fn split_receipt(handle: &str) -> Result<(String, String), QueueError> {
    let (id, _) = handle
        .split_once(':')
        .ok_or(QueueError::ReceiptNotCurrent)?;
    Ok((id.to_owned(), handle.to_owned()))
}

#[async_trait]
impl Queue for LocalQueue {
    fn name(&self) -> &str {
        &self.name
    }

    async fn send_batch(&self, messages: Vec<OutgoingMessage>) -> Result<Vec<String>, QueueError> {
        queue::validate_batch(&messages)?;
        let now = self.now_ms();
        let name = self.name.clone();
        self.run(move |conn| {
            let tx = crate::db::write(conn)?;
            let mut ids = Vec::with_capacity(messages.len());
            for message in messages {
                let id = Ulid::new().to_string();
                let attributes = serde_json::to_string(&message.attributes)
                    .expect("a string map always serialises");
                tx.prepare_cached(
                    "INSERT INTO queue_messages (queue, id, body, attributes, sent_at, visible_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![
                    name,
                    id,
                    message.body,
                    attributes,
                    now,
                    now + message.delay.as_millis() as i64
                ])?;
                ids.push(id);
            }
            tx.commit()?;
            Ok(ids)
        })
        .await
    }

    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        queue::validate_receive(max, visibility)?;
        let deadline = tokio::time::Instant::now() + wait.min(MAX_WAIT);
        loop {
            let received = self.receive_once(max, visibility).await?;
            if !received.is_empty() || tokio::time::Instant::now() >= deadline {
                return Ok(received);
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    async fn delete(&self, receipt_handle: &str) -> Result<(), QueueError> {
        let (id, receipt) = split_receipt(receipt_handle)?;
        let name = self.name.clone();
        // As in SQS, a stale receipt (the message was received again since) deletes nothing
        // and is not an error; deleting twice is fine.
        self.run(move |conn| {
            conn.prepare_cached(
                "DELETE FROM queue_messages WHERE queue = ?1 AND id = ?2 AND receipt = ?3",
            )?
            .execute(params![name, id, receipt])
        })
        .await?;
        Ok(())
    }

    async fn delete_batch(&self, receipt_handles: &[String]) -> Result<(), QueueError> {
        let handles = receipt_handles
            .iter()
            .map(|h| split_receipt(h))
            .collect::<Result<Vec<_>, _>>()?;
        let name = self.name.clone();
        self.run(move |conn| {
            let tx = crate::db::write(conn)?;
            for (id, receipt) in &handles {
                tx.prepare_cached(
                    "DELETE FROM queue_messages WHERE queue = ?1 AND id = ?2 AND receipt = ?3",
                )?
                .execute(params![name, id, receipt])?;
            }
            tx.commit()
        })
        .await
    }

    async fn change_visibility(
        &self,
        receipt_handle: &str,
        timeout: Duration,
    ) -> Result<(), QueueError> {
        queue::validate_visibility(timeout)?;
        let (id, receipt) = split_receipt(receipt_handle)?;
        let now = self.now_ms();
        let until = now + timeout.as_millis() as i64;
        let name = self.name.clone();
        let changed = self
            .run(move |conn| {
                conn.execute(
                    "UPDATE queue_messages SET visible_at = ?1
                     WHERE queue = ?2 AND id = ?3 AND receipt = ?4 AND visible_at > ?5",
                    params![until, name, id, receipt, now],
                )
            })
            .await?;
        if changed == 0 {
            return Err(QueueError::ReceiptNotCurrent);
        }
        Ok(())
    }

    async fn depth(&self) -> Result<QueueDepth, QueueError> {
        let now = self.now_ms();
        let name = self.name.clone();
        self.run(move |conn| {
            conn.query_row(
                "SELECT
                     COALESCE(SUM(visible_at <= ?2), 0),
                     COALESCE(SUM(visible_at > ?2 AND receipt IS NOT NULL), 0),
                     COALESCE(SUM(visible_at > ?2 AND receipt IS NULL), 0)
                 FROM queue_messages WHERE queue = ?1",
                params![name, now],
                |r| {
                    Ok(QueueDepth {
                        visible: r.get::<_, i64>(0)? as u64,
                        in_flight: r.get::<_, i64>(1)? as u64,
                        delayed: r.get::<_, i64>(2)? as u64,
                    })
                },
            )
        })
        .await
    }
}
