//! The `journey-stats` Lambda, on the table's DynamoDB stream (filtered to items created with
//! `feed: stats`: step records and new enrollments): folds each batch into the journey
//! counters (`nhip_journeys::stats::fold_stream`). A failed batch fails the invocation, and
//! Lambda delivers the same batch again; its markers keep it from counting twice.

use std::sync::Arc;

use aws_lambda_events::dynamodb::Event;
use lambda_runtime::{Error, LambdaEvent, run, service_fn, tracing};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let deps = Arc::new(nhip_wiring::deps_from_env_or_exit("lambda").await);
    run(service_fn(move |event: LambdaEvent<Event>| {
        let deps = deps.clone();
        async move {
            let counted = nhip_journeys::stats::fold_stream(&deps, event.payload).await?;
            tracing::debug!(counted, "journey counters folded");
            Ok::<(), Error>(())
        }
    }))
    .await
}
