//! The `scheduler` Lambda, invoked every minute by an EventBridge schedule: runs the due work
//! (next actions falling due, later journey steps and reminders) in the minute buckets up to
//! now. A failed run is retried by the next minute's invocation from the saved cursor.

use std::sync::Arc;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use lambda_runtime::{Error, LambdaEvent, run, service_fn, tracing};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let deps = Arc::new(nhip_aws::config::deps_from_env_or_exit("lambda").await);
    run(service_fn(
        move |_: LambdaEvent<EventBridgeEvent<serde_json::Value>>| {
            let deps = deps.clone();
            async move {
                let report = nhip_app::scheduler::tick(&deps).await?;
                tracing::info!(
                    hours = report.hours,
                    ran = report.ran,
                    failed = report.failed,
                    "tick"
                );
                Ok::<_, Error>(report)
            }
        },
    ))
    .await
}
