//! The `ticket-creator` Lambda: tickets to open from the `tickets` queue (a journey's ticket
//! step for Telesales, an RM or customer service), each opened once however often it is
//! delivered, reporting the records to retry as `batchItemFailures`.

use std::sync::Arc;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent, run, service_fn, tracing};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let deps = Arc::new(nhip_wiring::deps_from_env_or_exit("lambda").await);
    run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let deps = deps.clone();
        async move {
            Ok::<SqsBatchResponse, Error>(
                nhip_work::tickets::handle_batch(&deps, event.payload).await,
            )
        }
    }))
    .await
}
