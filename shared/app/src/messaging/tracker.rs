//! The `engagement-tracker` function's handler: SES events published by the configuration
//! set to an SNS topic, which invokes the function with an `SnsEvent`. Lambda invocations by
//! SNS are authenticated by AWS, so no signature check is needed here (SNS messages arriving
//! over HTTP are verified in `routes::ses_over_http`). Each record is keyed by its SNS message
//! id, so a redelivered notification is recorded once.

use aws_lambda_events::sns::SnsEvent;
use serde::Serialize;
use tracing::instrument;

use crate::deps::Deps;
use crate::messaging::ses_events;
use crate::messaging::tracking::{self, Recorded};
use crate::ports::store::StoreError;

/// What one invocation did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TrackerReport {
    /// Signals recorded.
    pub recorded: usize,
    /// Notifications seen before.
    pub duplicates: usize,
    /// Events about messages Nhịp did not send (or no longer knows).
    pub unknown: usize,
    /// Records that are not SES events (logged and skipped: retrying cannot fix them).
    pub malformed: usize,
}

/// Records every SES event in the SNS batch. A store failure fails the invocation, so SNS
/// (and the function's on-failure destination) retries it; recording is idempotent.
#[instrument(skip_all, fields(records = event.records.len()))]
pub async fn handle_sns(deps: &Deps, event: SnsEvent) -> Result<TrackerReport, StoreError> {
    let mut report = TrackerReport::default();
    for record in event.records {
        let parsed = match ses_events::parse(&record.sns.message) {
            Ok(parsed) => parsed,
            Err(error) => {
                tracing::warn!(%error, sns_message_id = %record.sns.message_id, "not an SES event");
                report.malformed += 1;
                continue;
            }
        };
        match tracking::record_ses(deps, &parsed, &record.sns.message_id).await? {
            Recorded::Added { .. } => report.recorded += 1,
            Recorded::Duplicate => report.duplicates += 1,
            Recorded::UnknownMessage => report.unknown += 1,
        }
    }
    tracing::info!(?report, "SES events handled");
    Ok(report)
}
