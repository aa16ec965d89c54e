//! The `customer-importer` Lambda: customer files queued by the console on the `imports`
//! queue, each run to the end (a redelivered or cut-short job resumes the same import and
//! never makes a row twice), reporting the records to retry as `batchItemFailures`.

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
                nhip_crm::customers::import::queued::handle_batch(&deps, event.payload).await,
            )
        }
    }))
    .await
}
