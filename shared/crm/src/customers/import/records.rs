//! What an import stores: its record (`IMPORT#<id>` / `IMPORT`) with the summary the routes
//! answer, and each row's outcome (`IMPORT#<id>` / `ROW#<nnnnn>`), kept 90 days.

use chrono::{DateTime, Duration, Utc};
use nhip_domain::ids::CustomerId;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{KIND, ROW_KIND};
use nhip_core::deps::Deps;
use nhip_core::keys;
use nhip_ports::store::{Index, Item, Query, SortKey, StoreError};

/// Errors listed in the summary (all of them are in the CSV report).
const LISTED_ERRORS: usize = 500;

/// Bytes of error messages listed in the summary, keeping the import record far below the
/// store's 400 KB item limit.
const LISTED_ERROR_BYTES: usize = 150 * 1024;

/// How long an import's record and rows (which hold failed rows' personal data) are kept.
const RETENTION_DAYS: i64 = 90;

/// One problem of a failed row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Problem {
    /// The column's header as written in the file; `None` for the row as a whole.
    pub(super) column: Option<String>,
    /// In Vietnamese.
    pub(super) message: String,
}

/// What happened to a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum Outcome {
    Created,
    Updated,
    Failed,
}

impl Outcome {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Updated => "updated",
            Outcome::Failed => "failed",
        }
    }
}

/// A row's outcome as stored under `IMPORT#<id>` / `ROW#<nnnnn>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct RowRecord {
    pub(super) row: u32,
    pub(super) outcome: Outcome,
    /// The customer created or updated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) customer_id: Option<CustomerId>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) errors: Vec<Problem>,
    /// A failed row's cells in the report's columns, for the error report. Applied rows keep
    /// no personal data here: it is on the customer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) values: Vec<String>,
}

impl RowRecord {
    pub(super) fn applied(row: u32, outcome: Outcome, customer: CustomerId) -> Self {
        Self {
            row,
            outcome,
            customer_id: Some(customer),
            errors: Vec::new(),
            values: Vec::new(),
        }
    }

    pub(super) fn to_item(&self, import_id: &str, ttl: i64) -> Result<Item, StoreError> {
        let mut item = to_object(self)?;
        let key = keys::import_row(import_id, self.row);
        item.insert(Index::Primary.pk_attr().into(), key.pk.into());
        item.insert(Index::Primary.sk_attr().into(), key.sk.into());
        item.insert("kind".into(), ROW_KIND.into());
        item.insert("ttl".into(), ttl.into());
        Ok(item)
    }
}

/// One problem of a failed row, in the summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RowError {
    /// The row as a spreadsheet numbers it (the header is row 1).
    pub row: u32,
    /// The column's header as written in the file; `null` for the row as a whole.
    pub column: Option<String>,
    /// What is wrong, in Vietnamese.
    pub message: String,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ImportSummary {
    /// The import's id (32 hex digits), derived from the file's SHA-256 and the importing user.
    pub import_id: String,
    /// `done`; `running` while a run is under way or after one was cut short (upload the same
    /// file again to finish it).
    pub status: String,
    /// Data rows in the file (blank rows not counted).
    pub rows: u32,
    /// Rows that created a customer.
    pub created: u32,
    /// Rows that updated the customer their phone, e-mail or CCCD belongs to.
    pub updated: u32,
    /// Rows not imported; they are in the error report.
    pub failed: u32,
    /// The errors in row order, at most 500 (all of them are in the report).
    pub errors: Vec<RowError>,
    /// Whether `errors` was cut short.
    pub errors_truncated: bool,
    /// The failed rows as CSV, with their errors: `/v1/imports/customers/<id>/errors.csv`.
    pub report_url: String,
}

/// An import as stored under `IMPORT#<id>` / `IMPORT`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct ImportRecord {
    pub(super) import_id: String,
    /// Who imported it: only they and admins may read it.
    pub(super) user: String,
    pub(super) file_sha256: String,
    pub(super) bytes: usize,
    /// The report's columns, as written in the file.
    pub(super) headers: Vec<String>,
    /// `running` until every row has an outcome, then `done`.
    pub(super) status: String,
    /// Also the instant of the rows' timeline entries, so a resumed run writes the same keys.
    pub(super) started_at: DateTime<Utc>,
    #[serde(default)]
    pub(super) finished_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub(super) rows: u32,
    /// Rows with an outcome so far, counted while a queued import runs (for its progress bar).
    #[serde(default)]
    pub(super) processed: u32,
    #[serde(default)]
    pub(super) created: u32,
    #[serde(default)]
    pub(super) updated: u32,
    #[serde(default)]
    pub(super) failed: u32,
    /// The first errors (all of them are in the CSV report).
    #[serde(default)]
    pub(super) errors: Vec<RowError>,
    #[serde(default)]
    pub(super) errors_truncated: bool,
}

pub(super) const QUEUED: &str = "queued";
pub(super) const RUNNING: &str = "running";
pub(super) const DONE: &str = "done";

impl ImportRecord {
    /// A new import's record, `running`, before any row has an outcome.
    pub(super) fn new(
        import_id: &str,
        user: &str,
        file_sha256: String,
        bytes: usize,
        layout: &super::columns::Layout,
        rows: usize,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            import_id: import_id.to_owned(),
            user: user.to_owned(),
            file_sha256,
            bytes,
            headers: layout
                .report
                .iter()
                .map(|i| layout.headers[*i].clone())
                .collect(),
            status: RUNNING.to_owned(),
            started_at: now,
            finished_at: None,
            rows: count(rows),
            processed: 0,
            created: 0,
            updated: 0,
            failed: 0,
            errors: Vec::new(),
            errors_truncated: false,
        }
    }

    pub(super) fn to_item(&self) -> Result<Item, StoreError> {
        let mut item = to_object(self)?;
        let key = keys::import(&self.import_id);
        item.insert(Index::Primary.pk_attr().into(), key.pk.into());
        item.insert(Index::Primary.sk_attr().into(), key.sk.into());
        item.insert("kind".into(), KIND.into());
        item.insert("ttl".into(), self.ttl().into());
        Ok(item)
    }

    pub(super) fn ttl(&self) -> i64 {
        (self.started_at + Duration::days(RETENTION_DAYS)).timestamp()
    }

    /// The answer of the import routes.
    pub(super) fn summary(&self) -> ImportSummary {
        ImportSummary {
            import_id: self.import_id.clone(),
            status: self.status.clone(),
            rows: self.rows,
            created: self.created,
            updated: self.updated,
            failed: self.failed,
            errors: self.errors.clone(),
            errors_truncated: self.errors_truncated,
            report_url: format!("/v1/imports/customers/{}/errors.csv", self.import_id),
        }
    }

    /// Counts and the first errors, from every row's outcome in row order.
    pub(super) fn summarise(&mut self, outcomes: &[RowRecord]) {
        self.rows = count(outcomes.len());
        self.created = count(
            outcomes
                .iter()
                .filter(|o| o.outcome == Outcome::Created)
                .count(),
        );
        self.updated = count(
            outcomes
                .iter()
                .filter(|o| o.outcome == Outcome::Updated)
                .count(),
        );
        self.failed = count(
            outcomes
                .iter()
                .filter(|o| o.outcome == Outcome::Failed)
                .count(),
        );
        self.errors.clear();
        self.errors_truncated = false;
        let mut bytes = 0;
        for outcome in outcomes {
            for problem in &outcome.errors {
                bytes += problem.message.len() + problem.column.as_ref().map_or(0, String::len);
                if self.errors.len() == LISTED_ERRORS || bytes > LISTED_ERROR_BYTES {
                    self.errors_truncated = true;
                    return;
                }
                self.errors.push(RowError {
                    row: outcome.row,
                    column: problem.column.clone(),
                    message: problem.message.clone(),
                });
            }
        }
    }
}

pub(super) fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

pub(super) fn to_object(value: &impl Serialize) -> Result<Item, StoreError> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(StoreError::invalid("an import record is not an object")),
        Err(e) => Err(StoreError::invalid(format!(
            "an import record does not serialise: {e}"
        ))),
    }
}

pub(super) fn from_item<T: serde::de::DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_json::from_value(Value::Object(item)).map_err(|e| {
        StoreError::invalid(format!(
            "stored import record does not match the model: {e}"
        ))
    })
}

pub(super) async fn load_record(
    deps: &Deps,
    import_id: &str,
) -> Result<Option<ImportRecord>, StoreError> {
    deps.store
        .get(&keys::import(import_id))
        .await?
        .map(from_item)
        .transpose()
}

/// Every row outcome stored for an import, in row order.
pub(super) async fn stored_rows(
    deps: &Deps,
    import_id: &str,
) -> Result<Vec<RowRecord>, StoreError> {
    let mut rows = Vec::new();
    let mut cursor = None;
    loop {
        let page = deps
            .store
            .query(
                Query::partition(Index::Primary, keys::import_pk(import_id))
                    .sk(SortKey::BeginsWith(keys::import_rows_prefix().into()))
                    .limit(1000)
                    .after(cursor),
            )
            .await?;
        for item in page.items {
            rows.push(from_item(item)?);
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(rows),
        }
    }
}

/// The import id: the file's SHA-256 and the user, hashed again (128 bits, hex), so the same
/// bytes uploaded by the same user are the same import.
pub(super) fn import_id(user: &str, file_sha256: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(b"nhip-import\0");
    hash.update(user.as_bytes());
    hash.update(b"\0");
    hash.update(file_sha256.as_bytes());
    hex::encode(&hash.finalize()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_import_id_depends_on_file_and_user() {
        let a = import_id("lan", "abc");
        assert_eq!(a.len(), 32);
        assert_eq!(a, import_id("lan", "abc"));
        assert_ne!(a, import_id("hoa", "abc"));
        assert_ne!(a, import_id("lan", "abd"));
    }
}
