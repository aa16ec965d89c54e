//! The `reminders` Lambda, invoked daily at 08:00 Asia/Ho_Chi_Minh by an EventBridge schedule:
//! queues the day's instalment reminders, contract and subscription expiry alerts, and
//! birthday and holiday greetings (`nhip_contracts::reminders`). Any payload runs the same day;
//! a repeated run sends nothing twice.

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, run, service_fn, tracing};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let deps = Arc::new(nhip_wiring::deps_from_env_or_exit("lambda").await);
    run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let deps = deps.clone();
        async move {
            let report =
                nhip_contracts::reminders::handle_invocation(&deps, &event.payload).await?;
            Ok::<_, Error>(report)
        }
    }))
    .await
}
