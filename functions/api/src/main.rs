//! The `api` Lambda: Nhịp's staff API (`nhip_api::staff_router`), served by lambda_http behind
//! the API Gateway HTTP API. The public routes are not here: the HTTP API sends them to
//! `lead-intake` and `tracking-api`, and the staff console's pages to `console`
//! (template.yaml). Every request first has the claims the JWT authorizer verified copied from
//! its request context (`nhip_core::auth::with_gateway_claims`).

use std::sync::Arc;

use lambda_http::tower::ServiceBuilder;
use lambda_http::{run, tracing};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    tracing::init_default_subscriber();
    let deps = Arc::new(nhip_wiring::deps_from_env_or_exit("lambda").await);
    let app = ServiceBuilder::new()
        .map_request(nhip_core::auth::with_gateway_claims)
        .service(nhip_api::staff_router(deps));
    run(app).await
}
