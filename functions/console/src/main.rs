//! The `console` Lambda: the staff console's pages (`nhip_console`), served by lambda_http
//! behind the API Gateway HTTP API at `/` and `/app/…`. Its pages are outside the API's JWT
//! authorizer: staff sign in through Cognito's hosted UI and the console keeps its own session
//! cookie. The staff API is the `api` function's; the console is a function of its own so
//! that neither builds the other's routes when it starts (docs/performance.md, "Lambda cold
//! start").

use std::sync::Arc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let deps = Arc::new(nhip_wiring::deps_from_env_or_exit("lambda").await);
    lambda_http::run(nhip_console::router(deps)).await
}
