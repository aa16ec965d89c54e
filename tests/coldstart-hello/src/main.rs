//! lambda_runtime's hello world, the baseline `scripts/coldstart.sh` measures every function's
//! init against: the default tracing subscriber, then the runtime's loop, with no
//! configuration, no SDK and no HTTP client of its own.

use lambda_runtime::{Error, LambdaEvent, run, service_fn, tracing};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    run(service_fn(|event: LambdaEvent<Value>| async move {
        let name = event.payload["name"].as_str().unwrap_or("world").to_owned();
        Ok::<_, Error>(json!({ "message": format!("hello {name}") }))
    }))
    .await
}
