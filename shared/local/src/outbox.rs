//! The outbox: the local stand-in for SES, SNS, Zalo ZNS and webhook bridges. It accepts
//! every kind of message and records it whole (rendered content, headers, attachments) in the
//! SQLite file, and as one JSON file per message in a folder, instead of delivering it. The
//! local runner shows it at `/outbox` (a page) and `/outbox.json`.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use nhip_ports::Clock;
use nhip_ports::channel::{Accepted, Channel, ChannelError, Envelope, Outgoing};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::db::Database;

/// One recorded message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutboxEntry {
    /// Position in the outbox (1, 2, …).
    pub seq: i64,
    /// The id the outbox answered with, as SES's message id would be.
    pub provider_id: String,
    /// When it was "sent" (clock time).
    pub sent_at: DateTime<Utc>,
    /// What was sent.
    pub envelope: Envelope,
}

impl OutboxEntry {
    /// The recipient: address, number, endpoint or bridge user.
    pub fn recipient(&self) -> &str {
        recipient(&self.envelope.outgoing)
    }
}

fn recipient(outgoing: &Outgoing) -> &str {
    match outgoing {
        Outgoing::Email(m) => &m.to,
        Outgoing::Sms(m) => &m.to,
        Outgoing::Push(m) => &m.endpoint,
        Outgoing::Zns(m) => &m.phone,
        Outgoing::Webhook(m) => &m.recipient,
    }
}

/// Why the outbox failed.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// SQLite refused.
    #[error("outbox storage failed")]
    Sqlite(#[from] rusqlite::Error),
}

/// The local channel for every kind of message.
#[derive(Clone)]
pub struct Outbox {
    db: Arc<Database>,
    folder: Option<PathBuf>,
    clock: Arc<dyn Clock>,
}

impl Outbox {
    /// An outbox in `db`, also writing each message to `folder` when given.
    pub fn new(db: Arc<Database>, folder: Option<PathBuf>, clock: Arc<dyn Clock>) -> Self {
        Self { db, folder, clock }
    }

    /// The most recent `limit` messages, newest first, optionally only those before `before`.
    pub async fn list(
        &self,
        limit: usize,
        before: Option<i64>,
    ) -> Result<Vec<OutboxEntry>, OutboxError> {
        let limit = limit.clamp(1, 1000) as i64;
        let before = before.unwrap_or(i64::MAX);
        self.select(
            "WHERE seq < ?1 ORDER BY seq DESC LIMIT ?2",
            vec![before.into(), limit.into()],
        )
        .await
    }

    /// Every message recorded for one Nhịp message id (more than one would be a double send).
    pub async fn for_message(&self, message_id: &str) -> Result<Vec<OutboxEntry>, OutboxError> {
        self.select(
            "WHERE message_id = +?1 ORDER BY seq",
            vec![message_id.to_owned().into()],
        )
        .await
    }

    /// The entries a `WHERE … ORDER BY …` tail selects.
    async fn select(
        &self,
        tail: &'static str,
        values: Vec<rusqlite::types::Value>,
    ) -> Result<Vec<OutboxEntry>, OutboxError> {
        let rows = self
            .db
            .call(move |conn| -> rusqlite::Result<Vec<Row>> {
                let mut statement = conn.prepare(&format!(
                    "SELECT seq, provider_id, sent_at, envelope FROM outbox {tail}"
                ))?;
                let rows = statement
                    .query_map(rusqlite::params_from_iter(values), |row| {
                        Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(rows)
            })
            .await?;
        Ok(rows.into_iter().filter_map(entry).collect())
    }

    /// One message by the id the outbox answered with.
    pub async fn get(&self, provider_id: &str) -> Result<Option<OutboxEntry>, OutboxError> {
        let provider_id = provider_id.to_owned();
        let row = self
            .db
            .call(move |conn| {
                conn.query_row(
                    "SELECT seq, provider_id, sent_at, envelope FROM outbox WHERE provider_id = ?1",
                    params![provider_id],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
                )
                .optional()
            })
            .await?;
        Ok(row.and_then(entry))
    }
}

/// One outbox row: sequence, provider id, sent-at millis, envelope JSON.
type Row = (i64, String, i64, String);

fn entry((seq, provider_id, sent_at, envelope): Row) -> Option<OutboxEntry> {
    let envelope = match serde_json::from_str(&envelope) {
        Ok(envelope) => envelope,
        Err(error) => {
            // Written by a version with another message shape: shown nowhere, said here.
            tracing::warn!(seq, %error, "outbox entry is unreadable");
            return None;
        }
    };
    Some(OutboxEntry {
        seq,
        provider_id,
        sent_at: Utc.timestamp_millis_opt(sent_at).single()?,
        envelope,
    })
}

#[async_trait]
impl Channel for Outbox {
    fn name(&self) -> &'static str {
        "outbox"
    }

    async fn send(&self, envelope: &Envelope) -> Result<Accepted, ChannelError> {
        let provider_id = format!("outbox-{}", ulid::Ulid::new());
        let sent_at = self.clock.now();
        let body = serde_json::to_string(envelope).map_err(|e| ChannelError::Rejected {
            reason: format!("the message does not serialise: {e}"),
        })?;
        let (message_id, kind, to) = (
            envelope.message_id.clone(),
            envelope.outgoing.kind(),
            recipient(&envelope.outgoing).to_owned(),
        );
        let (id, stored) = (provider_id.clone(), body.clone());
        let seq = self
            .db
            .call(move |conn| -> rusqlite::Result<i64> {
                conn.execute(
                    "INSERT INTO outbox (message_id, provider_id, kind, recipient, envelope, sent_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![message_id, id, kind, to, stored, sent_at.timestamp_millis()],
                )?;
                Ok(conn.last_insert_rowid())
            })
            .await
            .map_err(|e| ChannelError::Unavailable { source: e.into() })?;
        if let Some(folder) = &self.folder {
            // The file is a convenience copy; the table is the record.
            let path = folder.join(format!(
                "{seq:06}-{}-{}.json",
                envelope.outgoing.kind(),
                envelope.message_id
            ));
            let write = std::fs::create_dir_all(folder).and_then(|()| std::fs::write(&path, body));
            if let Err(error) = write {
                tracing::warn!(%error, path = %path.display(), "outbox file not written");
            }
        }
        Ok(Accepted { provider_id })
    }
}
