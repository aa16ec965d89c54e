//! The `tracking-api` Lambda: Nhịp's public tracking routes, without staff login — tracked
//! links (`GET /t/{token}`), unsubscribe pages (`GET|POST /u/{token}`), SES events over SNS
//! HTTPS (`POST /v1/tracking/ses`), Zalo ZNS callbacks (`POST /v1/tracking/zns`) and inbound
//! SMS (`POST /v1/tracking/sms-inbound`). Each route checks its own token or signature.

use std::sync::Arc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let deps = Arc::new(nhip_wiring::deps_from_env_or_exit("lambda").await);
    lambda_http::run(nhip_messaging::routes::public(deps)).await
}
