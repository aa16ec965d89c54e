//! The `lead-intake` Lambda: Nhịp's public routes, without staff login — website forms and
//! landing pages posting leads (`POST /v1/intake/leads`) and the call centre's signed
//! incoming-call webhook (`POST /v1/telephony/incoming`).

use std::sync::Arc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let deps = Arc::new(nhip_wiring::deps_from_env_or_exit("lambda").await);
    lambda_http::run(nhip_intake::forms::router(deps)).await
}
