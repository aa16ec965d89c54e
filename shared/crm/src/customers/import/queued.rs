//! Imports run from the `imports` queue, for files too large to import within one request:
//! the console's upload is checked whole at once (encoding, columns, row count: a bad file is
//! refused before anything is stored), kept in the blob store, recorded as `queued` and put on
//! the queue; the `customer-importer` function runs it with [`super::run`] (which skips rows
//! already done, so a redelivered or cut-short job finishes the same import and never makes a
//! row twice), counting the rows done as it goes; the page polls [`progress`].

use serde::{Deserialize, Serialize};

use super::ImportError;
use super::parse;
use super::records::{DONE, ImportRecord, ImportSummary, QUEUED, import_id, load_record};
use nhip_core::auth::{Principal, Role};
use nhip_core::deps::Deps;
use nhip_ports::Blob;
use nhip_ports::queue::OutgoingMessage;
use nhip_ports::store::{Condition, StoreError};

/// The message on the `imports` queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportJob {
    /// The import's id.
    pub import_id: String,
    /// Who uploaded it: the rows are applied within their scope.
    pub user: String,
    /// Their role.
    pub role: Role,
    /// Their team.
    #[serde(default)]
    pub team: Option<String>,
}

/// Where the uploaded file is kept while it is imported.
pub fn blob_key(import_id: &str) -> String {
    format!("imports/{import_id}.csv")
}

/// Checks a file and queues its import for `principal`; answers the import's id. The same
/// bytes from the same user are the same import: queued again only while it is not done.
pub async fn enqueue(
    deps: &Deps,
    principal: &Principal,
    bytes: &[u8],
) -> Result<String, ImportError> {
    if bytes.is_empty() {
        return Err(ImportError::EmptyFile);
    }
    let file_sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes));
    let import_id = import_id(&principal.user, &file_sha256);
    if let Some(record) = load_record(deps, &import_id).await?
        && record.status == DONE
    {
        return Ok(import_id);
    }
    let text = parse::decode(bytes)?;
    let (layout, rows) = parse::parse(text)?;
    deps.blobs
        .put(
            &blob_key(&import_id),
            Blob {
                bytes: bytes.to_vec(),
                content_type: "text/csv".into(),
            },
        )
        .await
        .map_err(StoreError::unavailable)?;
    let mut record = ImportRecord::new(
        &import_id,
        &principal.user,
        file_sha256,
        bytes.len(),
        &layout,
        rows.len(),
        deps.clock.now(),
    );
    record.status = QUEUED.to_owned();
    match deps
        .store
        .put(record.to_item()?, Condition::NotExists)
        .await
    {
        // Queued (or run) before: queue it again, it resumes.
        Ok(()) | Err(StoreError::ConditionFailed { .. }) => {}
        Err(error) => return Err(error.into()),
    }
    let job = ImportJob {
        import_id: import_id.clone(),
        user: principal.user.clone(),
        role: principal.role,
        team: principal.team.clone(),
    };
    let body = serde_json::to_string(&job).expect("a job serialises");
    deps.queues
        .imports
        .send_batch(vec![OutgoingMessage::new(body).attribute("type", "import")])
        .await
        .map_err(StoreError::unavailable)?;
    tracing::info!(import = %import_id, user = %principal.user, rows = rows.len(), "customer import queued");
    Ok(import_id)
}

/// Handles one batch from the `imports` queue (the `customer-importer` function).
#[tracing::instrument(skip_all, fields(records = event.records.len()))]
pub async fn handle_batch(
    deps: &Deps,
    event: aws_lambda_events::sqs::SqsEvent,
) -> aws_lambda_events::sqs::SqsBatchResponse {
    use nhip_core::consumer::{Failure, process_batch};
    process_batch(event, |record| async move {
        let body = record.body.as_deref().unwrap_or_default();
        let job: ImportJob = serde_json::from_str(body).map_err(|error| {
            tracing::warn!(%error, "import job is malformed");
            Failure::Poison
        })?;
        let principal = Principal::new(job.user.clone(), job.role, job.team.clone());
        let blob = match deps.blobs.get(&blob_key(&job.import_id)).await {
            Ok(Some(blob)) => blob,
            Ok(None) => {
                tracing::warn!(import = %job.import_id, "the file of a queued import is gone");
                return Err(Failure::Poison);
            }
            Err(error) => {
                tracing::warn!(%error, import = %job.import_id, "reading the file of an import failed");
                return Err(Failure::Retryable);
            }
        };
        match super::run(deps, &principal, &blob.bytes).await {
            Ok(_) => Ok(()),
            Err(ImportError::Store(error)) => {
                tracing::warn!(%error, import = %job.import_id, "an import stopped part-way; it resumes");
                Err(if error.is_retryable() {
                    Failure::Retryable
                } else {
                    Failure::Poison
                })
            }
            Err(error) => {
                tracing::warn!(%error, import = %job.import_id, "a queued import was refused");
                Err(Failure::Poison)
            }
        }
    })
    .await
}

/// How far an import has got.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// `queued`, `running` or `done`.
    pub status: String,
    /// Data rows in the file.
    pub rows: u32,
    /// Rows with an outcome so far.
    pub processed: u32,
    /// The summary, once done.
    pub summary: Option<ImportSummary>,
}

/// The progress of import `id`, for its importer or an admin.
pub async fn progress(
    deps: &Deps,
    principal: &Principal,
    id: &str,
) -> Result<Progress, ImportError> {
    let record = super::report::visible_record(deps, principal, id).await?;
    let done = record.status == DONE;
    Ok(Progress {
        processed: if done {
            record.rows
        } else {
            record.processed.min(record.rows)
        },
        rows: record.rows,
        summary: done.then(|| record.summary()),
        status: record.status,
    })
}
