//! The `message-sender` Lambda: send requests from the `sends` queue through the messaging
//! pipeline (idempotency, consent, suppression, Decree 91, rendering, the channel), reporting
//! the records to retry as `batchItemFailures`.

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
                nhip_messaging::pipeline::handle_batch(&deps, event.payload).await,
            )
        }
    }))
    .await
}
