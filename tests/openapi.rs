//! The OpenAPI document against the router it describes: it is served without a token and
//! parses, it lists every annotated route, every operation in it is routed (never the
//! router's 404 fallback or 405) and answers a status and content type it documents, its
//! security requirements match what the routes enforce, and request bodies and query strings
//! that do not parse answer the documented error body rather than axum's plain text.

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::header;
use nhip_core::auth::Role;
use serde_json::{Value, json};

use crate::support::{Api, request, send_to};

/// The operations this walk gives a fitting request (its fixtures make their ids), as
/// `METHOD path`: each must succeed. The others need only be routed and answer as documented;
/// schemathesis reaches every operation with a 2xx.
const FITTING: &[&str] = &[
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
    "POST /v1/imports/customers",
    "GET /v1/imports/customers/{id}",
    "GET /v1/imports/customers/{id}/errors.csv",
    "GET /v1/catalogue/products",
    "POST /v1/catalogue/products",
    "GET /v1/catalogue/products/{code}",
    "PATCH /v1/catalogue/products/{code}",
    "GET /v1/catalogue/usage-reasons",
    "POST /v1/catalogue/usage-reasons",
    "PATCH /v1/catalogue/usage-reasons/{code}",
    "GET /v1/customers/{id}/holdings",
    "POST /v1/customers/{id}/holdings",
    "GET /v1/customers/{id}/holdings/{holding_id}",
    "PATCH /v1/customers/{id}/holdings/{holding_id}",
    "GET /v1/customers/{id}/usage",
    "GET /v1/reports/product-usage",
    "GET /v1/customers/{id}/export",
    "POST /v1/customers/{id}/erase",
    "POST /v1/customers/{id}/restrict",
    "POST /v1/customers/{id}/object-marketing",
    "POST /v1/customers/{id}/consents",
    "POST /v1/telephony/incoming",
];

/// The operations anyone may call; every other one needs a staff token. The call centre's
/// webhook is among them: it is HMAC-signed, not a staff call.
const PUBLIC: &[&str] = &[
    "GET /health",
    "GET /v1/version",
    "GET /v1/openapi.json",
    "POST /v1/intake/leads",
    "GET /v1/intake/confirm/{token}",
    "POST /v1/intake/confirm/{token}",
    "POST /v1/telephony/incoming",
    "GET /t/{token}",
    "GET /u/{token}",
    "POST /u/{token}",
    "POST /v1/tracking/ses",
    "POST /v1/tracking/zns",
    "POST /v1/tracking/sms-inbound",
];

/// The call centre's shared secret in the walk (the local deps have none: the webhook then
/// answers 503 `not_configured`).
const TELEPHONY_SECRET: &[u8] = b"call-centre-secret-for-the-openapi-walk";

/// A customer file to import: one row imported, one failed (so the error report has a row).
const IMPORT_CSV: &str = "Họ và tên,Số điện thoại\r\nTrương Văn Nam,0977123456\r\nKhông số,\r\n";

async fn served_document(api: &Api) -> Value {
    let answer = api.answer("GET", "/v1/openapi.json", None, None).await;
    assert_eq!(answer.status, 200, "{}", answer.json);
    assert_eq!(
        answer.header(header::CONTENT_TYPE),
        Some("application/json")
    );
    assert!(answer.json.is_object(), "{}", answer.json);
    answer.json
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
        "POST /v1/catalogue/products" => {
            json!({"code": "the-tin-dung", "name": "Thẻ tín dụng", "kind": "card"})
        }
        "PATCH /v1/catalogue/products/{code}" => {
            json!({"version": 1, "name": "Hợp đồng BCC 12 tháng (2026)"})
        }
        "POST /v1/catalogue/usage-reasons" => {
            json!({"code": "het-han-muc", "label": "Hết hạn mức", "applies_to": "stopped"})
        }
        "PATCH /v1/catalogue/usage-reasons/{code}" => {
            json!({"version": 1, "label": "Chưa có nhu cầu sử dụng"})
        }
        "POST /v1/customers/{id}/holdings" => {
            json!({"product": "bcc-12-thang", "status": "pending"})
        }
        "PATCH /v1/customers/{id}/holdings/{holding_id}" => {
            json!({"version": 1, "reference": "BCC-2026-0002"})
        }
        "POST /v1/customers/{id}/erase" => {
            json!({"reason": "Khách yêu cầu xoá dữ liệu qua tổng đài", "version": 1})
        }
        "POST /v1/customers/{id}/restrict" => json!({"restricted": false, "version": 1}),
        "POST /v1/customers/{id}/object-marketing" => json!({"evidence": "Khách gọi tổng đài"}),
        "POST /v1/customers/{id}/consents" => json!({
            "channel": "sms", "purpose": "care", "granted": true,
            "evidence": "Khách đồng ý qua điện thoại"
        }),
        "POST /v1/telephony/incoming" => json!({"call_id": "walk-1", "caller": "0934567890"}),
        _ => return None,
    };
    Some(body)
}

/// What the walk points path parameters at, so every operation reaches its handler's real
/// work rather than its own 404.
struct Fixtures {
    customer: String,
    notification: String,
    /// A second customer, for the erasure (the others go on with the first).
    erased: String,
    product: String,
    reason: String,
    holding: String,
    import: String,
}

impl Fixtures {
    /// `path` with each parameter set to its fixture.
    fn fill(&self, path: &str) -> String {
        let id = if path.starts_with("/v1/me/notifications/") {
            &self.notification
        } else if path.starts_with("/v1/imports/") {
            &self.import
        } else if path.ends_with("/erase") {
            &self.erased
        } else {
            &self.customer
        };
        let code = if path.contains("/usage-reasons/") {
            &self.reason
        } else {
            &self.product
        };
        path.replace("{id}", id)
            .replace("{code}", code)
            .replace("{holding_id}", &self.holding)
            .replace("{number}", "1")
            .replace("{token}", "0123456789abcdef")
            .replace("{family}", "email")
            .replace("{address}", "khach@example.vn")
            .replace("{phone}", "0912345678")
    }

    /// Where the record an operation changes is read, for its current `version`.
    fn versioned(&self, operation: &str) -> String {
        let (_, path) = operation.split_once(' ').unwrap();
        if path.starts_with("/v1/customers/{id}/holdings/")
            || path.starts_with("/v1/catalogue/products/")
        {
            self.fill(path)
        } else if path.starts_with("/v1/catalogue/usage-reasons/") {
            "/v1/catalogue/usage-reasons".to_owned()
        } else {
            let customer = if path.ends_with("/erase") {
                &self.erased
            } else {
                &self.customer
            };
            format!("/v1/customers/{customer}")
        }
    }
}

async fn created(api: &Api, admin: &str, path: &str, body: Value) -> Value {
    let (status, answer) = api.call("POST", path, Some(admin), Some(body)).await;
    assert!(status == 201, "POST {path}: {status} {answer}");
    answer
}

/// Customers, a notification, a product, a reason, a holding and an import.
async fn fixtures(api: &Api, admin: &str) -> Fixtures {
    let (customer, notification) = customer_and_notification(api, admin).await;
    let erased = api
        .create(
            admin,
            json!({"full_name": "Hà Thu Trang", "source": "referral", "phones": ["0938111222"]}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let product = created(
        api,
        admin,
        "/v1/catalogue/products",
        json!({"code": "bcc-12-thang", "name": "Hợp đồng BCC 12 tháng", "kind": "investment"}),
    )
    .await["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let reason = created(
        api,
        admin,
        "/v1/catalogue/usage-reasons",
        json!({"code": "chua-co-nhu-cau", "label": "Chưa có nhu cầu", "applies_to": "both"}),
    )
    .await["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let holding = created(
        api,
        admin,
        &format!("/v1/customers/{customer}/holdings"),
        json!({"product": product, "status": "active", "reference": "BCC-2026-0001", "amount": 100_000_000}),
    )
    .await["holding"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, summary) = api
        .post_as("/v1/imports/customers", Some(admin), "text/csv", IMPORT_CSV)
        .await;
    assert_eq!(status, 201, "{summary}");
    assert_eq!(summary["failed"], 1, "{summary}");
    let import = summary["import_id"].as_str().unwrap().to_owned();
    Fixtures {
        customer,
        notification,
        erased,
        product,
        reason,
        holding,
        import,
    }
}

/// A customer and a notification.
async fn customer_and_notification(api: &Api, admin: &str) -> (String, String) {
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
    nhip_api::tick::tick(&api.deps).await.unwrap();
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
async fn the_served_document_is_the_one_the_routers_make() {
    let api = Api::local();
    let doc = served_document(&api).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert_eq!(doc["info"]["title"], "Nhịp API");
    // The routers and the document come from the same route lists (utoipa_axum::routes!), so
    // the served document is exactly what the api crate builds; each public operation is in it.
    assert_eq!(
        doc,
        serde_json::to_value(nhip_api::openapi::document()).unwrap()
    );
    let documented: BTreeSet<String> = operations(&doc).into_iter().map(|(op, _)| op).collect();
    for operation in PUBLIC {
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

/// The route lists are built two ways (`nhip_core::routes!`): to serve, with each handler's
/// path and methods alone, and for the document, with its operation. Both give the same
/// routes, method for method.
#[test]
fn the_routes_served_are_the_routes_documented() {
    fn routes(document: &Value) -> BTreeSet<String> {
        let mut routes = BTreeSet::new();
        for (path, item) in document["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                routes.insert(format!("{method} {path}"));
            }
        }
        routes
    }
    let served = |lists: fn() -> Value| routes(&lists());
    let staff = || serde_json::to_value(nhip_api::routes::staff_routes().into_openapi()).unwrap();
    let public =
        || serde_json::to_value(nhip_api::routes::public_routes(&[]).into_openapi()).unwrap();
    for (name, lists) in [("staff", staff as fn() -> Value), ("public", public)] {
        assert!(!nhip_core::openapi::documenting());
        let documented = routes(&nhip_core::openapi::documented(lists));
        assert!(documented.len() >= 10, "{name}: {documented:?}");
        assert_eq!(served(lists), documented, "{name}");
        // Built to serve, no operation carries its documentation.
        assert!(!lists().to_string().contains("operationId"), "{name}");
        assert!(
            nhip_core::openapi::documented(lists)
                .to_string()
                .contains("operationId")
        );
    }
}

#[tokio::test]
async fn every_documented_operation_is_routed_and_answers_as_documented() {
    let api = Api::local();
    let admin = api.token("root", Role::Admin, None);
    let doc = served_document(&api).await;
    let fixtures = fixtures(&api, &admin).await;
    // The webhook's router: the same store and clock, with the call centre's secret.
    let signed = std::sync::Arc::new(nhip_core::Deps {
        settings: nhip_core::Settings {
            telephony_secret: Some(TELEPHONY_SECRET.to_vec()),
            ..nhip_core::Settings::default()
        },
        ..(*api.deps).clone()
    });
    for (operation, spec) in operations(&doc) {
        let (method, path) = operation.split_once(' ').unwrap();
        let uri = fixtures.fill(path);
        let token = (!PUBLIC.contains(&operation.as_str())).then_some(admin.as_str());
        let builder = request(method, &uri, token);
        let request = match body_for(&operation) {
            Some(mut body) => {
                if body.get("version").is_some() {
                    // Earlier operations changed the record: send the version it has now.
                    let (_, now) = api
                        .call("GET", &fixtures.versioned(&operation), Some(&admin), None)
                        .await;
                    let now = match now["items"].as_array() {
                        Some(items) => items
                            .iter()
                            .find(|item| item["code"] == fixtures.reason.as_str())
                            .expect("the reason")
                            .clone(),
                        None => now,
                    };
                    body["version"] = now["version"].clone();
                }
                let body = body.to_string();
                let builder = if path == "/v1/telephony/incoming" {
                    let timestamp = api.deps.clock.now().timestamp().to_string();
                    let signature =
                        nhip_core::webhook::sign(TELEPHONY_SECRET, &timestamp, body.as_bytes());
                    builder
                        .header(nhip_core::webhook::TIMESTAMP_HEADER, timestamp)
                        .header(nhip_core::webhook::SIGNATURE_HEADER, signature)
                } else {
                    builder
                };
                builder
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(body))
            }
            None if operation == "POST /v1/imports/customers" => builder
                .header(header::CONTENT_TYPE, "text/csv")
                .body(Body::from(IMPORT_CSV)),
            None => builder.body(Body::empty()),
        }
        .unwrap();
        let answer = if path == "/v1/telephony/incoming" {
            send_to(signed.clone(), request).await
        } else {
            api.send(request).await
        };
        let fallback = answer.json["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("No route for"));
        assert!(
            answer.status != 405 && !(answer.status == 404 && fallback),
            "{operation} is documented but not routed: {} {}",
            answer.status,
            answer.json
        );
        // The operations listed here get fitting requests; others need only be routed.
        assert!(
            (200..300).contains(&answer.status) || !FITTING.contains(&operation.as_str()),
            "{operation} with a fitting request: {} {}",
            answer.status,
            answer.json
        );
        let status = answer.status.to_string();
        let response = &spec["responses"][&status];
        assert!(
            response.is_object(),
            "{operation} answered {status}, which it does not document"
        );
        // The answer's media type is one the response documents (a shared error response
        // through its component).
        let response = match response["$ref"].as_str() {
            Some(target) => doc.pointer(target.trim_start_matches('#')).unwrap(),
            None => response,
        };
        let media_type = answer
            .header(header::CONTENT_TYPE)
            .and_then(|c| c.split(';').next())
            .map(str::trim)
            .unwrap_or_default();
        assert!(
            response["content"][media_type].is_object(),
            "{operation} answered {status} as {:?}, which it does not document",
            answer.header(header::CONTENT_TYPE)
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
        let answer = api.send(request).await;
        if spec["security"] == bearer {
            assert_eq!(answer.status, 401, "{operation}");
            assert_eq!(
                answer.json["error"]["code"], "unauthenticated",
                "{operation}"
            );
            assert!(
                answer
                    .header(header::WWW_AUTHENTICATE)
                    .is_some_and(|c| c.starts_with("Bearer")),
                "{operation}"
            );
            assert!(spec["responses"]["401"].is_object(), "{operation}");
            assert!(spec["responses"]["403"].is_object(), "{operation}");
        } else {
            assert!(spec.get("security").is_none(), "{operation}: {spec}");
            assert!(
                answer.header(header::WWW_AUTHENTICATE).is_none()
                    && answer.json["error"]["code"] != "unauthenticated",
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
                    "x".repeat(nhip_core::http::MAX_BODY_BYTES)
                )))
                .unwrap(),
            413,
            "body_too_large",
        ),
        (
            request("DELETE", "/v1/customers", Some(&admin))
                .body(Body::empty())
                .unwrap(),
            405,
            "method_not_allowed",
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
        let answer = api.send(request).await;
        assert_eq!(answer.status, status, "{what}: {}", answer.json);
        assert_eq!(
            answer.header(header::CONTENT_TYPE),
            Some("application/json"),
            "{what}"
        );
        assert_eq!(
            answer.json["error"]["code"], code,
            "{what}: {}",
            answer.json
        );
        assert!(answer.json["error"]["message"].is_string(), "{what}");
        if status == 405 {
            // The methods the path has, as axum names them.
            let allow = answer.header(header::ALLOW).unwrap_or_default();
            assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
            assert_eq!(
                answer.json["error"]["message"],
                "DELETE is not allowed on /v1/customers"
            );
        }
    }
    // HEAD on a path only POSTed to: the error's headers, its length, and no body.
    let answer = api
        .send(
            request("HEAD", "/v1/events", Some(&admin))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(answer.status, 405);
    assert_eq!(answer.header(header::ALLOW), Some("POST"));
    assert_eq!(
        answer.header(header::CONTENT_TYPE),
        Some("application/json")
    );
    let length: usize = answer
        .header(header::CONTENT_LENGTH)
        .unwrap()
        .parse()
        .unwrap();
    assert!(length > 0);
    assert!(answer.bytes.is_empty(), "{}", answer.text);
}

/// Found by schemathesis: a required choice sent as `null` or blank used to reach an
/// `unreachable!` (the connection dropped); it is a field error like a missing one.
#[tokio::test]
async fn required_choices_sent_empty_are_field_errors() {
    let api = Api::local();
    let admin = api.admin();
    for (path, body, field) in [
        (
            "/v1/catalogue/products",
            json!({"code": "bcc-6-thang", "name": "BCC 6 tháng", "kind": null}),
            "kind",
        ),
        (
            "/v1/catalogue/products",
            json!({"code": "bcc-6-thang", "name": "BCC 6 tháng", "kind": " "}),
            "kind",
        ),
        (
            "/v1/catalogue/usage-reasons",
            json!({"code": "chua-co-nhu-cau", "label": "Chưa có nhu cầu", "applies_to": null}),
            "applies_to",
        ),
        (
            "/v1/catalogue/usage-reasons",
            json!({"code": "chua-co-nhu-cau", "label": "Chưa có nhu cầu", "applies_to": ""}),
            "applies_to",
        ),
    ] {
        let (status, answer) = api
            .call("POST", path, Some(&admin), Some(body.clone()))
            .await;
        assert_eq!(status, 422, "{body} → {answer}");
        assert!(answer["error"]["fields"][field].is_string(), "{answer}");
    }
}
