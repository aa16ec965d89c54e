//! The OpenAPI document against the router it describes: it is served without a token and
//! parses, it lists every annotated route, every operation in it is routed (never the
//! router's 404 fallback or 405) and answers a status and content type it documents, its
//! security requirements match what the routes enforce, and request bodies and query strings
//! that do not parse answer the documented error body rather than axum's plain text.

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt as _;
use nhip_app::auth::Role;
use serde_json::{Value, json};
use tower::ServiceExt as _;

use crate::customers::Api;

/// Every operation the annotated handlers serve, as `METHOD path`.
const ANNOTATED: &[&str] = &[
    "GET /health",
    "GET /v1/version",
    "GET /v1/openapi.json",
    "POST /v1/intake/leads",
    "GET /v1/customers",
    "POST /v1/customers",
    "GET /v1/customers/not-consulted",
    "GET /v1/customers/{id}",
    "PATCH /v1/customers/{id}",
    "POST /v1/customers/{id}/owner",
    "GET /v1/customers/{id}/timeline",
    "GET /v1/customers/{id}/activities",
    "POST /v1/customers/{id}/interactions",
    "GET /v1/customers/{id}/next-actions",
    "POST /v1/customers/{id}/next-actions",
    "GET /v1/me/notifications",
    "POST /v1/me/notifications/{id}/read",
    "POST /v1/me/notifications/read-all",
];

/// The operations anyone may call; every other one needs a staff token. (The call centre's
/// webhook, once documented, belongs here too: it is signed, not a staff call.)
const PUBLIC: &[&str] = &[
    "GET /health",
    "GET /v1/version",
    "GET /v1/openapi.json",
    "POST /v1/intake/leads",
];

struct Answer {
    status: StatusCode,
    content_type: Option<String>,
    challenge: Option<String>,
    body: Value,
}

async fn send(api: &Api, request: Request<Body>) -> Answer {
    let response = nhip_app::http::router(api.deps.clone())
        .oneshot(request)
        .await
        .unwrap();
    let status = response.status();
    let text = |name| {
        response
            .headers()
            .get(name)
            .map(|v: &header::HeaderValue| v.to_str().unwrap().to_owned())
    };
    let content_type = text(header::CONTENT_TYPE);
    let challenge = text(header::WWW_AUTHENTICATE);
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Answer {
        status,
        content_type,
        challenge,
        body,
    }
}

fn request(method: &str, uri: &str, token: Option<&str>) -> axum::http::request::Builder {
    let mut builder = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    builder
}

async fn served_document(api: &Api) -> Value {
    let answer = send(
        api,
        request("GET", "/v1/openapi.json", None)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.content_type.as_deref(), Some("application/json"));
    assert!(answer.body.is_object(), "{}", answer.body);
    answer.body
}

/// `(METHOD path, operation)` for every operation in the document.
fn operations(doc: &Value) -> Vec<(String, Value)> {
    let mut all = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().unwrap() {
            all.push((
                format!("{} {path}", method.to_uppercase()),
                operation.clone(),
            ));
        }
    }
    all
}

/// `path` with `{id}` set to `id` and any other parameter to `0`.
fn fill(path: &str, id: &str) -> String {
    let mut filled = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        let end = start + rest[start..].find('}').expect("a closing brace");
        filled.push_str(&rest[..start]);
        filled.push_str(if &rest[start..=end] == "{id}" {
            id
        } else {
            "0"
        });
        rest = &rest[end + 1..];
    }
    filled.push_str(rest);
    filled
}

/// A body the operation accepts in shape (its handler may still refuse the values).
fn body_for(operation: &str) -> Option<Value> {
    let body = match operation {
        "POST /v1/intake/leads" => json!({"full_name": "Lê Thị Hoa", "phone": "0987654321"}),
        "POST /v1/customers" => json!({"full_name": "Phạm Quốc Bảo", "source": "referral"}),
        "PATCH /v1/customers/{id}" => json!({"version": 1, "tags": ["vip"]}),
        "POST /v1/customers/{id}/owner" => json!({"owner": "lan", "version": 2}),
        "POST /v1/customers/{id}/interactions" => {
            json!({"type": "call", "direction": "outbound", "outcome": "answered"})
        }
        "POST /v1/customers/{id}/next-actions" => {
            json!({"type": "call", "at": "2026-11-24T02:00:00Z", "note": "Gọi lại"})
        }
        _ => return None,
    };
    Some(body)
}

/// A customer and a notification to point `{id}` at, so every operation reaches its handler's
/// real work rather than its own 404.
async fn fixtures(api: &Api, admin: &str) -> (String, String) {
    let customer = api
        .create(
            admin,
            json!({"full_name": "Đỗ Minh Châu", "source": "fanpage", "phones": ["0901234567"]}),
        )
        .await;
    let customer_id = customer["id"].as_str().unwrap().to_owned();
    let (status, action) = api
        .call(
            "POST",
            &format!("/v1/customers/{customer_id}/next-actions"),
            Some(admin),
            Some(json!({"type": "sms", "at": "2026-11-23T03:00:00Z"})),
        )
        .await;
    assert_eq!(status, 201, "{action}");
    api.advance(2 * 3600);
    nhip_app::scheduler::tick(&api.deps).await.unwrap();
    let (status, bell) = api
        .call("GET", "/v1/me/notifications", Some(admin), None)
        .await;
    assert_eq!(status, 200, "{bell}");
    let notification_id = bell["items"][0]["id"]
        .as_str()
        .expect("a notification")
        .to_owned();
    (customer_id, notification_id)
}

#[tokio::test]
async fn the_served_document_lists_every_annotated_route() {
    let api = Api::local();
    let doc = served_document(&api).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert_eq!(doc["info"]["title"], "Nhịp API");
    let documented: BTreeSet<String> = operations(&doc).into_iter().map(|(op, _)| op).collect();
    for operation in ANNOTATED {
        assert!(
            documented.contains(*operation),
            "{operation} is not in the document"
        );
    }
    // Operation ids are unique (clients generate method names from them).
    let ids: Vec<String> = operations(&doc)
        .iter()
        .map(|(_, op)| op["operationId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        ids.len(),
        ids.iter().collect::<BTreeSet<_>>().len(),
        "{ids:?}"
    );
    // Every `$ref` points at a component that exists.
    let text = doc.to_string();
    for reference in text.split("\"$ref\":\"").skip(1) {
        let target = &reference[..reference.find('"').unwrap()];
        let pointer = target.trim_start_matches('#');
        assert!(doc.pointer(pointer).is_some(), "dangling {target}");
    }
}

#[tokio::test]
async fn every_documented_operation_is_routed_and_answers_as_documented() {
    let api = Api::local();
    let admin = api.token("root", Role::Admin, None);
    let doc = served_document(&api).await;
    let (customer_id, notification_id) = fixtures(&api, &admin).await;
    for (operation, spec) in operations(&doc) {
        let (method, path) = operation.split_once(' ').unwrap();
        let id = if path.starts_with("/v1/me/notifications/") {
            &notification_id
        } else {
            &customer_id
        };
        let uri = fill(path, id);
        let token = (!PUBLIC.contains(&operation.as_str())).then_some(admin.as_str());
        let builder = request(method, &uri, token);
        let request = match body_for(&operation) {
            Some(mut body) => {
                if body.get("version").is_some() {
                    // Earlier operations changed the customer: send the version it has now.
                    let (_, now) = api
                        .call(
                            "GET",
                            &format!("/v1/customers/{customer_id}"),
                            Some(&admin),
                            None,
                        )
                        .await;
                    body["version"] = now["version"].clone();
                }
                builder
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(body.to_string()))
            }
            None => builder.body(Body::empty()),
        }
        .unwrap();
        let answer = send(&api, request).await;
        let fallback = answer.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("No route for"));
        assert!(
            answer.status != StatusCode::METHOD_NOT_ALLOWED
                && !(answer.status == StatusCode::NOT_FOUND && fallback),
            "{operation} is documented but not routed: {} {}",
            answer.status,
            answer.body
        );
        // The operations listed here get fitting requests; others need only be routed.
        assert!(
            answer.status.is_success() || !ANNOTATED.contains(&operation.as_str()),
            "{operation} with a fitting request: {} {}",
            answer.status,
            answer.body
        );
        let status = answer.status.as_str();
        assert!(
            spec["responses"][status].is_object(),
            "{operation} answered {status}, which it does not document"
        );
        assert_eq!(
            answer.content_type.as_deref(),
            Some("application/json"),
            "{operation}"
        );
    }
}

#[tokio::test]
async fn security_requirements_match_what_the_routes_enforce() {
    let api = Api::local();
    let doc = served_document(&api).await;
    let bearer = json!([{"bearer": []}]);
    let mut public = BTreeSet::new();
    for (operation, spec) in operations(&doc) {
        let (method, path) = operation.split_once(' ').unwrap();
        let uri = fill(path, "01KAQ3V2J5N8W6Y4X0Z9B7C1D3");
        let builder = request(method, &uri, None);
        let request = match body_for(&operation) {
            Some(body) => builder
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string())),
            None => builder.body(Body::empty()),
        }
        .unwrap();
        let answer = send(&api, request).await;
        if spec["security"] == bearer {
            assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{operation}");
            assert_eq!(
                answer.body["error"]["code"], "unauthenticated",
                "{operation}"
            );
            assert!(
                answer.challenge.is_some_and(|c| c.starts_with("Bearer")),
                "{operation}"
            );
            assert!(spec["responses"]["401"].is_object(), "{operation}");
            assert!(spec["responses"]["403"].is_object(), "{operation}");
        } else {
            assert!(spec.get("security").is_none(), "{operation}: {spec}");
            assert!(
                answer.challenge.is_none() && answer.body["error"]["code"] != "unauthenticated",
                "{operation} asks for a staff token but documents none"
            );
            public.insert(operation);
        }
    }
    let expected: BTreeSet<String> = PUBLIC.iter().map(|op| op.to_string()).collect();
    assert_eq!(public, expected);
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}

#[tokio::test]
async fn bodies_and_query_strings_that_do_not_parse_answer_the_error_body() {
    let api = Api::local();
    let admin = api.admin();
    let customer = api
        .create(
            &admin,
            json!({"full_name": "Vũ Thị Mai", "source": "website"}),
        )
        .await;
    let interactions = format!(
        "/v1/customers/{}/interactions",
        customer["id"].as_str().unwrap()
    );
    let post = |content_type: &'static str, body: &'static str| {
        request("POST", &interactions, Some(&admin))
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .unwrap()
    };
    let cases = [
        (post("application/json", "{\"type\": "), 400, "invalid_json"),
        (
            post("text/plain", "{\"type\": \"note\"}"),
            415,
            "unsupported_media_type",
        ),
        (
            post("application/json", "{\"type\": \"fax\"}"),
            422,
            "validation_failed",
        ),
        (
            post("application/json", "{\"type\": \"note\", \"x\": 1}"),
            422,
            "validation_failed",
        ),
        (
            request("POST", &interactions, Some(&admin))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(format!(
                    "{{\"type\": \"note\", \"notes\": \"{}\"}}",
                    "x".repeat(nhip_app::http::MAX_BODY_BYTES)
                )))
                .unwrap(),
            413,
            "body_too_large",
        ),
        (
            request("GET", "/v1/customers?limit=many", Some(&admin))
                .body(Body::empty())
                .unwrap(),
            400,
            "invalid_query",
        ),
        (
            request("GET", "/v1/me/notifications?limit=-1", Some(&admin))
                .body(Body::empty())
                .unwrap(),
            400,
            "invalid_query",
        ),
    ];
    for (request, status, code) in cases {
        let what = format!("{} {}", request.method(), request.uri());
        let answer = send(&api, request).await;
        assert_eq!(answer.status.as_u16(), status, "{what}: {}", answer.body);
        assert_eq!(
            answer.content_type.as_deref(),
            Some("application/json"),
            "{what}"
        );
        assert_eq!(
            answer.body["error"]["code"], code,
            "{what}: {}",
            answer.body
        );
        assert!(answer.body["error"]["message"].is_string(), "{what}");
    }
}
