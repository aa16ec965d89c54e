//! The API's OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` annotations
//! and served, without a token, at `GET /v1/openapi.json`.
//!
//! Staff operations carry the `bearer` security requirement (a staff JWT); the public ones
//! (`/health`, `/v1/version`, `/v1/openapi.json`, `/v1/intake/leads` and its double opt-in
//! page `/v1/intake/confirm/{token}`, and the call centre's
//! HMAC-signed `/v1/telephony/incoming`) carry none. Every error
//! answer is an [`ErrorBody`]; the shared error responses are components referenced by
//! status, and the domain's enumerations (which live in `nhip-domain`, without utoipa) are
//! schemas built from the domain's own lists of values, so the document cannot drift from them.
//!
//! A route joins the document where it joins the router: each feature's router registers its
//! annotated handlers with `utoipa_axum::routes!`, which takes the method and path from the
//! handler's `#[utoipa::path]`, so a route is declared once. The integration tests (`tests/openapi.rs`) walk the
//! document against the router, and the test command fuzzes the local runner with
//! schemathesis against it.

use std::sync::LazyLock;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use nhip_core::openapi::{
    BEARER, BadRequest, Conflict, ErrorBody, Forbidden, NotFound, PayloadTooLarge, RateLimited,
    Unauthenticated, Unavailable, UnsupportedMediaType, ValidationFailed,
};

/// The document's frame: title, shared components, tags. The operations come from the
/// routers ([`crate::router`]), where each route is declared once.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Nhịp API",
        description = "Nhịp's HTTP API: the staff API (a staff JWT as `Authorization: Bearer`) and the public lead intake. Every error answers `{\"error\": {\"code\", \"message\", \"fields\"}}`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    components(
        schemas(ErrorBody),
        responses(
            BadRequest, Unauthenticated, Forbidden, NotFound, Conflict, PayloadTooLarge,
            UnsupportedMediaType, ValidationFailed, RateLimited, Unavailable
        )
    ),
    modifiers(&Document),
    tags(
        (name = "system", description = "Health, version and this document."),
        (name = "intake", description = "Public lead intake: website forms and landing pages."),
        (name = "customers", description = "Customers and leads, scoped by the caller's role."),
        (name = "interactions", description = "Calls, notes and meetings logged with a customer."),
        (name = "next-actions", description = "Next calls, SMS, e-mails and meetings scheduled with a customer."),
        (name = "notifications", description = "The bell: the caller's notifications."),
        (name = "catalogue", description = "The products customers hold and the reasons a product is not (yet) used: admins write them, all staff read them."),
        (name = "holdings", description = "The products a customer holds, and how they are used."),
        (name = "privacy", description = "Personal-data rights (Law 91/2025/QH15, Decree 356/2025): export, erasure, restriction, objection, consent."),
        (name = "telephony", description = "The call centre's incoming-call webhook: HMAC-signed, no staff token."),
        (name = "messaging", description = "Templates, sends through the pipeline (consent, suppression, Decree 91), campaigns, statistics, advertising rules and lists."),
        (name = "journeys", description = "Journeys as versioned data (YAML or JSON): checked when saved, frozen when published; the seed journeys; enrollments by hand or CSV; statistics per version and step."),
        (name = "contracts", description = "Investment contracts (sign, activate, settle, renew, the scanned tick), products' rates kept by admins, consultants' bonus statements, instalment plans and payments, the reminders' settings."),
        (name = "tickets", description = "Tickets for Telesales, relationship managers and customer service, opened by journeys."),
        (name = "events", description = "Events in from the organisation's core systems: batches of up to 100, idempotent on the system's event id."),
        (name = "tracking", description = "Public engagement routes, no staff token: tracked links, unsubscribe pages, SES events over SNS (signature-verified), ZNS callbacks, inbound SMS."),
    )
)]
pub struct ApiDoc;

/// Sets what the derive cannot: the version, and the bearer scheme the staff operations name.
struct Document;

impl Modify for Document {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        openapi.info.version = env!("CARGO_PKG_VERSION").to_owned();
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A staff token: HS256 signed by the deployment (locally `nhip-local token \
                         --user U --role R`), or a Cognito token verified by API Gateway.",
                    ))
                    .build(),
            ),
        );
    }
}

/// The document, built once.
pub fn document() -> &'static utoipa::openapi::OpenApi {
    // The route lists are built documented here only (`nhip_core::routes!`): built to serve,
    // they carry paths and methods alone.
    static DOCUMENT: LazyLock<utoipa::openapi::OpenApi> = LazyLock::new(|| {
        nhip_core::openapi::documented(|| {
            let mut document = ApiDoc::openapi();
            document.merge(crate::routes::staff_routes().into_openapi());
            document.merge(document_route().into_openapi());
            // The origins only decide CORS headers, which the document does not describe.
            document.merge(crate::routes::public_routes(&[]).into_openapi());
            document
        })
    });
    &DOCUMENT
}

/// The document as served.
fn document_json() -> &'static str {
    static JSON: LazyLock<String> = LazyLock::new(|| {
        document()
            .to_json()
            .expect("the OpenAPI document serialises")
    });
    &JSON
}

/// The document's own route, which the staff router serves.
pub fn document_route() -> nhip_core::openapi::Routes<std::sync::Arc<nhip_core::deps::Deps>> {
    nhip_core::openapi::Routes::new().routes(nhip_core::routes!(serve_document))
}

/// `GET /v1/openapi.json`: this document. Public: it describes the API, not its data.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "system",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document of this API.", content_type = "application/json", body = Object),
    )
)]
pub async fn serve_document() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        document_json(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use nhip_domain::customer::Source;

    use super::*;

    fn as_json() -> Value {
        serde_json::from_str(document_json()).unwrap()
    }

    #[test]
    fn the_document_names_itself_and_the_bearer_scheme() {
        let doc = as_json();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
        assert_eq!(doc["info"]["title"], "Nhịp API");
        assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
        let scheme = &doc["components"]["securitySchemes"][BEARER];
        assert_eq!(
            (&scheme["type"], &scheme["scheme"], &scheme["bearerFormat"]),
            (&json!("http"), &json!("bearer"), &json!("JWT"))
        );
    }

    #[test]
    fn domain_enums_list_the_domain_values() {
        let doc = as_json();
        let values = |name: &str| doc["components"]["schemas"][name]["enum"].clone();
        assert_eq!(
            values("Lifecycle"),
            json!(["new", "consulting", "customer", "former"])
        );
        assert_eq!(values("Gender"), json!(["male", "female", "other"]));
        let intake = values("IntakeSource");
        assert!(intake.as_array().unwrap().contains(&json!("website_form")));
        assert!(!intake.as_array().unwrap().contains(&json!("import")));
        assert_eq!(
            values("Source").as_array().unwrap().len(),
            Source::ALL.len(),
        );
    }

    #[test]
    fn every_error_answer_has_the_error_body() {
        let doc = as_json();
        let error_ref = json!({"$ref": "#/components/schemas/ErrorBody"});
        for (name, response) in doc["components"]["responses"].as_object().unwrap() {
            assert_eq!(
                response["content"]["application/json"]["schema"], error_ref,
                "{name}"
            );
        }
        // Every 4xx of every operation is the error body, directly or through a component.
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                for (status, response) in operation["responses"].as_object().unwrap() {
                    // The pages people open from a message (tracked links, unsubscribe, the
                    // double opt-in confirmation) answer a page in Vietnamese, not JSON.
                    let page = (path.starts_with("/t/")
                        || path.starts_with("/u/")
                        || path.starts_with("/v1/intake/confirm/"))
                        && response["content"]["text/html"].is_object();
                    if status.starts_with('4') && !page {
                        let direct = &response["content"]["application/json"]["schema"];
                        assert!(
                            *direct == error_ref
                                || response["$ref"]
                                    .as_str()
                                    .is_some_and(|r| r.starts_with("#/components/responses/")),
                            "{method} {path} {status}: {response}"
                        );
                    }
                }
            }
        }
    }
}
