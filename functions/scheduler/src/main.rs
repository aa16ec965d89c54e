//! The `scheduler` Lambda, invoked every minute by an EventBridge schedule: runs the due work
//! (next actions falling due, later journey steps and reminders) in the minute buckets up to
//! now. A failed run is retried by the next minute's invocation from the saved cursor. The
//! payload is taken as any JSON (`nhip_api::tick::handle_invocation`): the schedule's
//! default event, a rule's event or a custom input all run the same tick.

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, run, service_fn, tracing};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let deps = Arc::new(nhip_wiring::deps_from_env_or_exit("lambda").await);
    run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let deps = deps.clone();
        async move {
            let report = nhip_api::tick::handle_invocation(&deps, &event.payload).await?;
            Ok::<_, Error>(report)
        }
    }))
    .await
}
