//! The `api` Lambda: Nhịp's HTTP API (the axum router in `nhip_app::http`), served by
//! lambda_http behind the API Gateway HTTP API.

use std::sync::Arc;

use lambda_http::request::RequestContext;
use lambda_http::tower::ServiceBuilder;
use lambda_http::{Request, run, tracing};
use nhip_app::auth::VerifiedClaims;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tracing::init_default_subscriber();
    let deps = Arc::new(nhip_aws::config::deps_from_env_or_exit("lambda").await);
    let app = ServiceBuilder::new()
        .map_request(copy_verified_claims)
        .service(nhip_app::http::router(deps));
    run(app).await
}

/// Hands the claims API Gateway's JWT authorizer verified (request context,
/// `authorizer.jwt.claims`) to the `Principal` extractor as a [`VerifiedClaims`] extension.
/// Only the request context counts: headers are the client's and are never read here.
fn copy_verified_claims(mut request: Request) -> Request {
    let claims = match request.extensions().get::<RequestContext>() {
        Some(RequestContext::ApiGatewayV2(context)) => context
            .authorizer
            .as_ref()
            .and_then(|authorizer| authorizer.jwt.as_ref())
            .map(|jwt| jwt.claims.clone())
            .filter(|claims| !claims.is_empty()),
        #[allow(unreachable_patterns)] // other contexts exist when lambda_http has more features
        _ => None,
    };
    // A client cannot smuggle this in: extensions never come from the wire.
    request.extensions_mut().remove::<VerifiedClaims>();
    if let Some(claims) = claims {
        request
            .extensions_mut()
            .insert(claims.into_iter().collect::<VerifiedClaims>());
    }
    request
}
