//! The `engagement-tracker` Lambda: SES events (send, delivery, bounce, complaint, open,
//! click…) that the configuration set publishes to an SNS topic, recorded on the messages,
//! the suppression list and customers' timelines. A store failure fails the invocation, so
//! Lambda retries it and then hands it to the on-failure destination; recording is idempotent.

use std::sync::Arc;

use aws_lambda_events::sns::SnsEvent;
use lambda_runtime::{Diagnostic, Error, LambdaEvent, run, service_fn, tracing};
use nhip_ports::store::StoreError;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let deps = Arc::new(nhip_wiring::deps_from_env_or_exit("lambda").await);
    // Without the topic's ARN the tracker could not tell the SES events topic from any other:
    // it refuses to start rather than believe every SNS record.
    if deps.settings.messaging.ses_events_topic_arn.is_none() {
        eprintln!(
            "nhip: cannot start: {} is not set (the SES events topic this function trusts)",
            nhip_core::messaging_settings::SES_EVENTS_TOPIC_VAR
        );
        std::process::exit(2);
    }
    run(service_fn(move |event: LambdaEvent<SnsEvent>| {
        let deps = deps.clone();
        async move {
            nhip_messaging::tracker::handle_sns(&deps, event.payload)
                .await
                .map_err(failed)
        }
    }))
    .await
}

/// The invocation's error, typed so retryable store trouble (throttling, unavailability)
/// stands apart from the rest in logs and on-failure records.
fn failed(error: StoreError) -> Diagnostic {
    let retryable = error.is_retryable();
    tracing::error!(%error, retryable, "SES events not recorded; the invocation fails");
    Diagnostic {
        error_type: if retryable {
            "StoreError.Retryable"
        } else {
            "StoreError"
        }
        .into(),
        error_message: error.to_string(),
    }
}
