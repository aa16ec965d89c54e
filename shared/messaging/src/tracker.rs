//! The `engagement-tracker` function's handler: SES events published by the configuration
//! set to an SNS topic, which invokes the function with an `SnsEvent`. Lambda invocations by
//! SNS are authenticated by AWS, so no signature check is needed here (SNS messages arriving
//! over HTTP are verified in `routes::ses_over_http`); but only records from the configured
//! SES events topic (`NHIP_SES_EVENTS_TOPIC_ARN`) are believed, so a message published to any
//! other topic the function might be subscribed to cannot forge a bounce or a complaint. Each
//! signal is keyed by the SES event's own identity, so a redelivered notification, or the
//! same event in a second envelope, is recorded once.

use aws_lambda_events::sns::SnsEvent;
use serde::Serialize;
use tracing::instrument;

use crate::ses_events;
use crate::tracking::{self, Recorded};
use nhip_core::deps::Deps;
use nhip_ports::store::StoreError;

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
    /// Records from a topic other than the configured SES events topic (logged and skipped).
    pub foreign: usize,
}

/// Records every SES event in the SNS batch. A store failure fails the invocation, so SNS
/// (and the function's on-failure destination) retries it; recording is idempotent.
#[instrument(skip_all, fields(records = event.records.len()))]
pub async fn handle_sns(deps: &Deps, event: SnsEvent) -> Result<TrackerReport, StoreError> {
    let mut report = TrackerReport::default();
    let topic = deps.settings.messaging.ses_events_topic_arn.as_deref();
    for record in event.records {
        if let Some(topic) = topic
            && record.sns.topic_arn != topic
        {
            tracing::warn!(
                sns_message_id = %record.sns.message_id,
                topic_arn = %record.sns.topic_arn,
                "an SNS record from another topic: not an SES event of this deployment"
            );
            report.foreign += 1;
            continue;
        }
        let parsed = match ses_events::parse(&record.sns.message) {
            Ok(parsed) => parsed,
            Err(error) => {
                tracing::warn!(%error, sns_message_id = %record.sns.message_id, "not an SES event");
                report.malformed += 1;
                continue;
            }
        };
        match tracking::record_ses(deps, &parsed).await? {
            Recorded::Added { .. } => report.recorded += 1,
            Recorded::Duplicate => report.duplicates += 1,
            Recorded::UnknownMessage => report.unknown += 1,
        }
    }
    tracing::info!(?report, "SES events handled");
    Ok(report)
}
