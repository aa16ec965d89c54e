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
//! A module's routes join the document by annotating each handler and adding one line to the
//! `paths(...)` list of [`ApiDoc`]. The integration tests (`tests/openapi.rs`) walk the
//! document against the router, and the test command fuzzes the local runner with
//! schemathesis against it.

use std::borrow::Cow;
use std::sync::LazyLock;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use nhip_domain::customer::{Channel, Classification, Lifecycle, Purpose, Source, UsageStatus};
use nhip_domain::person::Gender;
use utoipa::openapi::header::Header;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};

pub use crate::http::ErrorBody;

/// The name of the staff-token security scheme, as operations name it in
/// `security(("bearer" = []))`.
pub const BEARER: &str = "bearer";

/// The document. Paths are listed by module, one line each.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Nhịp API",
        description = "Nhịp's HTTP API: the staff API (a staff JWT as `Authorization: Bearer`) and the public lead intake. Every error answers `{\"error\": {\"code\", \"message\", \"fields\"}}`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        crate::http::health, crate::http::version, serve_document,
        crate::intake::submit_lead, crate::intake::confirm_page, crate::intake::confirm_consents,
        crate::customers::routes::list_customers, crate::customers::routes::create_customer, crate::customers::routes::not_consulted, crate::customers::routes::get_customer, crate::customers::routes::update_customer, crate::customers::routes::assign_owner, crate::customers::routes::customer_timeline, crate::customers::routes::recent_activities,
        crate::customers::interactions::log_interaction,
        crate::customers::submissions::apply_submission,
        crate::next_actions::list_next_actions, crate::next_actions::schedule_next_action,
        crate::notifications::list_notifications, crate::notifications::mark_read, crate::notifications::mark_all_read,
        crate::customers::import::import_customers, crate::customers::import::import_summary, crate::customers::import::error_report,
        crate::holdings::list_products, crate::holdings::create_product, crate::holdings::get_product, crate::holdings::update_product, crate::holdings::list_reasons, crate::holdings::create_reason, crate::holdings::update_reason,
        crate::holdings::list_holdings, crate::holdings::add_holding, crate::holdings::get_holding, crate::holdings::update_holding, crate::holdings::customer_usage, crate::holdings::product_usage_report,
        crate::privacy::export, crate::privacy::erase, crate::privacy::restrict, crate::privacy::object_marketing, crate::privacy::change_consent,
        crate::telephony::incoming,
        crate::messaging::templates::list_templates, crate::messaging::templates::create_template, crate::messaging::templates::get_template, crate::messaging::templates::add_version, crate::messaging::templates::get_version, crate::messaging::templates::publish_version, crate::messaging::templates::preview_version, crate::messaging::templates::upload_attachment,
        crate::messaging::routes::send_to_customer, crate::messaging::routes::customer_messages, crate::messaging::routes::get_message, crate::messaging::routes::create_campaign, crate::messaging::routes::get_campaign, crate::messaging::routes::template_stats, crate::messaging::routes::organisation_stats,
        crate::messaging::routes::get_rules, crate::messaging::routes::put_rules, crate::messaging::routes::put_agreement, crate::messaging::routes::staff_refusal,
        crate::messaging::routes::add_do_not_advertise, crate::messaging::routes::get_do_not_advertise, crate::messaging::routes::delete_do_not_advertise, crate::messaging::routes::get_suppression, crate::messaging::routes::delete_suppression,
        crate::events_api::post_events,
        crate::journeys::definitions::list_journeys, crate::journeys::definitions::create_journey, crate::journeys::definitions::get_journey, crate::journeys::definitions::add_journey_version, crate::journeys::definitions::get_journey_version, crate::journeys::definitions::publish_journey_version, crate::journeys::definitions::list_seeds, crate::journeys::definitions::install_seed,
        crate::journeys::routes::enroll_customers, crate::journeys::routes::list_enrollments, crate::journeys::routes::customer_journeys, crate::journeys::routes::journey_stats,
        crate::tickets::list_tickets,
        crate::messaging::routes::follow_link, crate::messaging::routes::unsubscribe_page, crate::messaging::routes::unsubscribe, crate::messaging::routes::ses_over_http, crate::messaging::routes::zns_callback, crate::messaging::routes::sms_inbound,
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
    static DOCUMENT: LazyLock<utoipa::openapi::OpenApi> = LazyLock::new(ApiDoc::openapi);
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

// ---------------------------------------------------------------------------------------------
// Error responses shared by the operations, as `(status = 404, response = NotFound)`.

fn error_response(
    description: &str,
    headers: &[(&str, Type, &str)],
) -> RefOr<utoipa::openapi::Response> {
    let mut response = ResponseBuilder::new().description(description).content(
        "application/json",
        Content::new(Some(Ref::from_schema_name(ErrorBody::name()))),
    );
    for (name, ty, about) in headers {
        let mut header = Header::new(ObjectBuilder::new().schema_type(ty.clone()));
        header.description = Some((*about).to_owned());
        response = response.header(*name, header);
    }
    response.build().into()
}

macro_rules! error_responses {
    ($($(#[$doc:meta])* $name:ident: $description:literal $([$header:literal, $ty:expr, $about:literal])*;)+) => {
        $(
            $(#[$doc])*
            pub struct $name;

            impl<'r> utoipa::ToResponse<'r> for $name {
                fn response() -> (&'r str, RefOr<utoipa::openapi::Response>) {
                    (stringify!($name), error_response($description, &[$(($header, $ty, $about)),*]))
                }
            }
        )+
    };
}

error_responses! {
    /// 400: a malformed request (`invalid_json`, `invalid_body`, `invalid_query`,
    /// `invalid_filter`, `invalid_cursor`, `invalid_request`).
    BadRequest: "The request is malformed: JSON that does not parse, a body that is not an object, a query parameter or filter that does not parse or is outside its documented range (`limit`, shares 0–1), a cursor from another list, or a value the store refuses (`invalid_json`, `invalid_body`, `invalid_query`, `invalid_filter`, `invalid_cursor`, `invalid_request`).";
    /// 401 `unauthenticated`, with a `WWW-Authenticate: Bearer` challenge.
    Unauthenticated: "No valid staff token (`unauthenticated`): missing, malformed, expired, or not signed by this deployment."
        ["WWW-Authenticate", Type::String, "The bearer challenge (RFC 6750), e.g. `Bearer realm=\"nhip\", error=\"invalid_token\"`."];
    /// 403 `forbidden`.
    Forbidden: "The token is valid but its role is unknown, or the role may not do this (`forbidden`).";
    /// 404 `not_found`.
    NotFound: "No such record, or it is outside the caller's scope (`not_found`): the two are indistinguishable.";
    /// 409 `conflict` or `duplicate`.
    Conflict: "The record changed since it was read, or an identifier already belongs to another customer (`conflict`, `duplicate`).";
    /// 413 `body_too_large` or `too_large`.
    PayloadTooLarge: "The body, or the record it would make, is too large (`body_too_large`, `too_large`).";
    /// 415 `unsupported_media_type`.
    UnsupportedMediaType: "The body's Content-Type is not one the operation accepts (`unsupported_media_type`).";
    /// 422 `validation_failed` (or `rejected`), with per-field problems.
    ValidationFailed: "Well-formed but invalid (`validation_failed`; `rejected` for a bot-filled form): `fields` names each problem, in Vietnamese.";
    /// 429 `rate_limited`, with `Retry-After`.
    RateLimited: "Too many submissions from this source and form this minute (`rate_limited`)."
        ["Retry-After", Type::Integer, "Seconds until the next minute, when submissions are accepted again."];
    /// 503 `unavailable`, with `Retry-After`.
    Unavailable: "The store or a queue is busy or unreachable; nothing was changed, or retrying is safe (`unavailable`)."
        ["Retry-After", Type::Integer, "Seconds to wait before retrying."];
}

// ---------------------------------------------------------------------------------------------
// The domain's enumerations, as string schemas listing the domain's own wire forms. Fields
// name them with `#[schema(value_type = crate::openapi::LifecycleSchema)]`.

macro_rules! domain_enum {
    ($(#[$doc:meta])* $marker:ident, $name:literal, $description:literal, $values:expr) => {
        $(#[$doc])*
        pub struct $marker;

        impl PartialSchema for $marker {
            fn schema() -> RefOr<Schema> {
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some($description))
                    .enum_values(Some($values))
                    .into()
            }
        }

        impl ToSchema for $marker {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }
        }
    };
}

domain_enum!(
    /// [`Lifecycle`]'s wire forms.
    LifecycleSchema,
    "Lifecycle",
    "Where a customer is: `new` (not yet consulted), `consulting`, `customer`, `former` (settled every contract).",
    Lifecycle::ALL.iter().map(|v| v.as_str())
);
domain_enum!(
    /// [`Source`]'s wire forms.
    SourceSchema,
    "Source",
    "Where a customer came from.",
    Source::ALL.iter().map(|v| v.as_str())
);
domain_enum!(
    /// The sources a public form may name: every [`Source`] but `import` and `incoming_call`
    /// (`crate::intake::validate_lead` refuses those).
    IntakeSourceSchema,
    "IntakeSource",
    "Where a web lead came from (default `website_form`).",
    Source::ALL
        .iter()
        .filter(|v| !matches!(v, Source::Import | Source::IncomingCall))
        .map(|v| v.as_str())
);
domain_enum!(
    /// [`Classification`]'s wire forms.
    ClassificationSchema,
    "Classification",
    "How promising a lead is, as staff judged.",
    Classification::ALL.iter().map(|v| v.as_str())
);
domain_enum!(
    /// [`Gender`]'s wire forms.
    GenderSchema,
    "Gender",
    "Gender as recorded. Requests also accept the usual Vietnamese and English forms (`nam`, `nữ`, `khác`, `m`, `f`, …).",
    GENDERS.iter().map(|v| v.as_str())
);
domain_enum!(
    /// [`UsageStatus`]'s wire forms.
    UsageStatusSchema,
    "UsageStatus",
    "Whether a customer uses a product they hold.",
    UsageStatus::ALL.iter().map(|v| v.as_str())
);
domain_enum!(
    /// [`Channel`]'s wire forms.
    ChannelSchema,
    "Channel",
    "A channel Nhịp can reach a customer on.",
    Channel::ALL.iter().map(|v| v.as_str())
);
domain_enum!(
    /// [`Purpose`]'s wire forms.
    PurposeSchema,
    "Purpose",
    "Why a message is sent: marketing needs opt-in, care follows the contract.",
    Purpose::ALL.iter().map(|v| v.as_str())
);

domain_enum!(
    /// A consent as forms send it: `<channel>:<purpose>`, every [`Channel`] with every
    /// [`Purpose`].
    ConsentPairSchema,
    "ConsentPair",
    "A consent given: `<channel>:<purpose>`.",
    Channel::ALL
        .iter()
        .flat_map(|channel| {
            Purpose::ALL
                .iter()
                .map(move |purpose| format!("{channel}:{purpose}"))
        })
);
domain_enum!(
    /// [`TicketQueue`]'s wire forms.
    TicketQueueSchema,
    "TicketQueue",
    "A ticket queue: `telesales`, `rm` (relationship managers), `cskh` (customer service).",
    nhip_domain::journey::TicketQueue::ALL.iter().map(|v| v.as_str())
);
domain_enum!(
    /// [`crate::messaging::model::MessageChannel`]'s wire forms.
    MessageChannelSchema,
    "MessageChannel",
    "A channel a message leaves on.",
    crate::messaging::model::MessageChannel::ALL.iter().map(|v| v.as_str())
);
domain_enum!(
    /// [`crate::messaging::model::SendPurpose`]'s wire forms.
    SendPurposeSchema,
    "SendPurpose",
    "Why a message is sent: `care` (service, not advertising), `marketing`, `consent_request` (the one message asking to opt in).",
    ["care", "marketing", "consent_request"]
);
domain_enum!(
    /// A campaign's explicit audience.
    CampaignAudienceSchema,
    "CampaignAudience",
    "`all`: every customer in the caller's scope.",
    ["all"]
);
domain_enum!(
    /// How a refusal reached staff.
    RefusalViaSchema,
    "RefusalVia",
    "How the refusal came: on a call, in an e-mail or SMS reply, in person.",
    crate::messaging::routes::REFUSAL_VIA
);
domain_enum!(
    /// How a journey version is answered.
    JourneyFormatSchema,
    "JourneyFormat",
    "`json` (default) or `yaml` (the definition as YAML text).",
    ["json", "yaml"]
);

const _: fn(crate::messaging::model::SendPurpose) = |purpose| {
    use crate::messaging::model::SendPurpose;
    match purpose {
        SendPurpose::Care | SendPurpose::Marketing | SendPurpose::ConsentRequest => {}
    }
};

/// Every [`Gender`] (the domain has no list of them); the match fails to compile when one is
/// added, so this list cannot fall behind.
const GENDERS: [Gender; 3] = [Gender::Male, Gender::Female, Gender::Other];
const _: fn(Gender) = |gender| match gender {
    Gender::Male | Gender::Female | Gender::Other => {}
};

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

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
