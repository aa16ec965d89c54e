//! The public intake as an anonymous caller uses it: submissions naming customers who already
//! exist (several, in different states), the double opt-in that follows, and the rate limit.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, header};
use nhip_core::auth::Role;
use serde_json::{Value, json};

use crate::support::{Answer, Api, json_request, request, wraps_api};

const LINK_SECRET: &[u8] = b"intake-tests-link-secret-of-32-bytes!!";
const PUBLIC_URL: &str = "https://nhip.example";

/// The API harness with a rate limit on the intake, and the intake's own calls.
struct Ctx {
    api: Api,
}

wraps_api!(Ctx);

impl Ctx {
    fn new(rate_per_minute: u32) -> Self {
        let mut settings = nhip_core::Settings::default();
        settings.messaging.link_secret = Some(LINK_SECRET.to_vec());
        settings.messaging.public_url = PUBLIC_URL.into();
        settings.intake_rate_per_minute = rate_per_minute;
        Self {
            api: Api::with_settings(settings),
        }
    }

    /// `token` applies `fields` of an unverified `submission` to `customer`, with the customer
    /// `version` read.
    async fn apply(
        &self,
        token: &str,
        customer: &str,
        submission: &str,
        fields: Value,
        version: &Value,
    ) -> Answer {
        let path = format!("/v1/customers/{customer}/submissions/{submission}/apply");
        let body = json!({"fields": fields, "version": version});
        self.answer("POST", &path, Some(token), Some(body)).await
    }

    /// Posts a lead as a browser at `from` would (the socket's peer address).
    async fn submit(&self, body: &Value, from: &str) -> Answer {
        let mut request = json_request("POST", "/v1/intake/leads", None, Some(body.clone()));
        let peer: SocketAddr = format!("{from}:52000").parse().unwrap();
        request.extensions_mut().insert(ConnectInfo(peer));
        self.send(request).await
    }
}

/// The fields a form could try to change, as staff read them.
fn identity(customer: &Value) -> Value {
    json!({
        "full_name": customer["full_name"],
        "given_name": customer["given_name"],
        "gender": customer["gender"],
        "birthday": customer["birthday"],
        "phones": customer["phones"],
        "emails": customer["emails"],
        "consents": customer["consents"],
        "marketing_objected": customer["marketing_objected"],
        "attribution": customer["attribution"],
    })
}

fn refusal(channel: &str) -> Value {
    json!({"channel": channel, "purpose": "marketing", "granted": false})
}

/// The first URL under the public address in a sent message.
fn link_in(entry: &nhip_local::OutboxEntry) -> String {
    let text = serde_json::to_string(&entry.envelope).unwrap();
    let start = text.find(PUBLIC_URL).expect("a link in the message");
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "/:.-_".contains(*c))
        .collect()
}

/// Five existing customers in different states, then a form posted in each one's name by
/// someone else: a different name, e-mail, gender and birthday, and every marketing consent.
/// The answer is the same as for a phone nobody has; no record changes; the submission is on
/// each timeline as unverified with what was sent; refusals and objections stand; the only
/// message is a double opt-in to an address already on record, and opening it grants nothing
/// until the customer confirms.
#[tokio::test]
async fn a_form_naming_existing_customers_changes_nothing_and_answers_like_any_other() {
    let ctx = Ctx::new(60);
    let mut known = Vec::new();
    for body in [
        // Lan refused marketing e-mail; SMS undecided.
        json!({"full_name": "Trần Thị Lan", "gender": "female", "birthday": "1990-01-02",
               "phones": ["0901111001"], "emails": ["lan@example.vn"], "source": "assigned",
               "consents": [refusal("email")]}),
        // Bình objected to marketing altogether.
        json!({"full_name": "Lê Văn Bình", "phones": ["0901111002"],
               "emails": ["binh@example.vn"], "source": "referral"}),
        // Cường has only a phone and has decided nothing.
        json!({"full_name": "Phạm Quốc Cường", "phones": ["0901111003"], "source": "fanpage"}),
        // Dung agreed to e-mail and refused SMS.
        json!({"full_name": "Đỗ Thị Dung", "phones": ["0901111004"],
               "emails": ["dung@example.vn"], "source": "website",
               "consents": ["email:marketing", refusal("sms")]}),
        // Em has only an e-mail, undecided.
        json!({"full_name": "Vũ Thị Em", "emails": ["em@example.vn"], "source": "website"}),
    ] {
        let created = ctx.admin_ok("POST", "/v1/customers", Some(body)).await;
        known.push(created["id"].as_str().unwrap().to_owned());
    }
    ctx.admin_ok(
        "POST",
        &format!("/v1/customers/{}/object-marketing", known[1]),
        None,
    )
    .await;
    let mut before = Vec::new();
    for id in &known {
        before.push(ctx.profile(id).await);
    }
    ctx.clock().advance(chrono::Duration::minutes(5));

    let forged = |i: usize, phone: Option<&str>, email: &str| {
        let mut body = json!({
            "full_name": "Kẻ Mạo Danh",
            "email": email,
            "gender": "male",
            "birthday": "1970-07-07",
            "consents": ["email:marketing", "sms:marketing", "zns:marketing", "sms:care"],
            "form": format!("form-{i}"),
            "utm_campaign": "gia-mao",
        });
        if let Some(phone) = phone {
            body["phone"] = json!(phone);
        }
        body
    };
    let submissions = [
        forged(0, Some("+84 901 111 001"), "attacker0@evil.example"),
        forged(1, Some("0901111002"), "attacker1@evil.example"),
        forged(2, Some("(+84) 90-111-1003"), "attacker2@evil.example"),
        forged(3, Some("0901.111.004"), "attacker3@evil.example"),
        // Em's e-mail with a phone nobody has: the phone is not added to her record.
        forged(4, Some("0909999005"), "Em@Example.VN"),
    ];
    let unknown = ctx
        .submit(
            &forged(9, Some("0908888009"), "newcomer@example.vn"),
            "203.0.113.9",
        )
        .await;
    assert_eq!(unknown.status, 202, "{}", unknown.text);
    assert_eq!(unknown.json, json!({"status": "received"}));
    for (i, body) in submissions.iter().enumerate() {
        let answer = ctx.submit(body, &format!("203.0.113.{i}")).await;
        assert_eq!(
            (answer.status, &answer.text),
            (unknown.status, &unknown.text),
            "the answer for a known customer is the answer for a new lead"
        );
        assert_eq!(answer.headers[header::CACHE_CONTROL], "no-store");
    }

    for (i, id) in known.iter().enumerate() {
        let after = ctx.profile(id).await;
        assert_eq!(identity(&after), identity(&before[i]), "customer {i}");
        assert_eq!(
            after["submissions"],
            before[i]["submissions"].as_u64().unwrap() + 1
        );
        let timeline = ctx.timeline(id).await;
        let entry = &timeline[0];
        assert_eq!(
            entry["event_type"], "lead.resubmitted",
            "customer {i}: {entry}"
        );
        assert_eq!(entry["data"]["unverified"], true, "{entry}");
        let submitted = &entry["data"]["submitted"];
        assert_eq!(submitted["full_name"], "Kẻ Mạo Danh", "{entry}");
        assert_eq!(submitted["gender"], "male", "{entry}");
        assert_eq!(submitted["birthday"], "1970-07-07", "{entry}");
        let email = if i == 4 {
            "em@example.vn".to_owned()
        } else {
            format!("attacker{i}@evil.example")
        };
        assert_eq!(submitted["email"], email.as_str(), "{entry}");
    }
    // Em's e-mail matched: the unknown phone went to no one, and no twin was created for it.
    let (status, list) = ctx
        .admin_call("GET", "/v1/customers?phone=0909999005", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(list["items"], json!([]), "{list}");

    // What waits for confirmation: undecided channels only, never for Bình (objected).
    let (ctx_ref, known_ref) = (&ctx, &known);
    let awaiting = move |i: usize| async move {
        ctx_ref.timeline(&known_ref[i]).await[0]["data"]["awaiting_confirmation"].clone()
    };
    assert_eq!(
        awaiting(0).await,
        json!(["sms:marketing", "zns:marketing", "sms:care"])
    );
    assert!(awaiting(1).await.is_null());
    assert_eq!(awaiting(3).await, json!(["zns:marketing", "sms:care"]));

    // The messages: only double opt-ins, only to addresses on record, only on a channel the
    // customer has not decided (Lan by SMS since she refused e-mail; Cường by SMS; Em by
    // e-mail; Bình and Dung none).
    ctx.drain("sends").await;
    let sent = ctx.outbox().list(100, None).await.unwrap();
    let mut recipients: Vec<&str> = sent.iter().map(|e| e.recipient()).collect();
    recipients.sort();
    assert_eq!(
        recipients,
        ["+84901111001", "+84901111003", "em@example.vn"]
    );
    for entry in &sent {
        let text = serde_json::to_string(&entry.envelope).unwrap();
        assert!(!text.contains("evil.example"), "{text}");
        assert!(text.contains("xác nhận"), "{text}");
    }

    // Lan opens the link (a tracked link to the confirmation page): nothing changes until she
    // presses the button.
    let lan_sms = sent
        .iter()
        .find(|e| e.recipient() == "+84901111001")
        .unwrap();
    let mut link = link_in(lan_sms);
    if link.contains("/t/") {
        let path = link.trim_start_matches(PUBLIC_URL).to_owned();
        let answer = ctx.answer("GET", &path, None, None).await;
        assert!((300..400).contains(&answer.status), "{}", answer.text);
        link = answer.headers[header::LOCATION]
            .to_str()
            .unwrap()
            .to_owned();
    }
    let path = link.trim_start_matches(PUBLIC_URL).to_owned();
    assert!(path.starts_with("/v1/intake/confirm/"), "{path}");
    let page = ctx.answer("GET", &path, None, None).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("<form method=\"post\""), "{}", page.text);
    assert_eq!(
        identity(&ctx.profile(&known[0]).await),
        identity(&before[0])
    );

    let confirm = || ctx.answer("POST", &path, None, None);
    let done = confirm().await;
    assert_eq!(done.status, 200, "{}", done.text);
    let lan = ctx.profile(&known[0]).await;
    assert_eq!(lan["consents"]["sms:marketing"]["granted"], true, "{lan}");
    assert_eq!(lan["consents"]["sms:marketing"]["source"], "double_opt_in");
    assert_eq!(lan["consents"]["zns:marketing"]["granted"], true, "{lan}");
    assert_eq!(
        lan["consents"]["email:marketing"]["granted"], false,
        "the refusal stands"
    );
    assert_eq!(lan["full_name"], "Trần Thị Lan");
    assert_eq!(lan["emails"], json!(["lan@example.vn"]));
    assert_eq!(
        ctx.timeline(&known[0]).await[0]["event_type"],
        "consent.confirmed"
    );
    // A link is used once; a forged one does nothing.
    assert_eq!(confirm().await.status, 404);
    let mut forged_path = path.clone();
    forged_path.pop();
    forged_path.push(if path.ends_with('A') { 'B' } else { 'A' });
    for method in ["GET", "POST"] {
        let answer = ctx.answer(method, &forged_path, None, None).await;
        assert_eq!(answer.status, 404, "{method}: {}", answer.text);
    }
    // Cường never confirmed: nothing granted.
    let cuong = ctx.profile(&known[2]).await;
    assert_eq!(identity(&cuong), identity(&before[2]));
    // Erasing him erases what was submitted in his name too.
    ctx.admin_ok(
        "POST",
        &format!("/v1/customers/{}/erase", known[2]),
        Some(json!({"reason": "Yêu cầu xoá dữ liệu", "version": cuong["version"]})),
    )
    .await;
    let items = ctx
        .deps
        .store
        .query(nhip_ports::store::Query::partition(
            nhip_ports::store::Index::Primary,
            format!("CUS#{}", known[2]),
        ))
        .await
        .unwrap()
        .items;
    let stored = serde_json::to_string(&items).unwrap();
    assert!(!stored.contains("Kẻ Mạo Danh"), "{stored}");
    assert!(!stored.contains("attacker2"), "{stored}");
}

/// Staff apply what an anonymous form said once they have checked it with the customer: only
/// a caller whose scope covers the customer, only the fields chosen, through the same checks as
/// an edit (another customer's e-mail is refused and nothing changes), once; the consents the
/// form asked for are never granted this way.
#[tokio::test]
async fn staff_apply_an_unverified_submission_once_and_only_in_scope() {
    let ctx = Ctx::new(60);
    let lan = ctx
        .admin_ok(
            "POST",
            "/v1/customers",
            Some(
                json!({"full_name": "Trần Thị Lan", "phones": ["0901111001"],
                        "emails": ["lan@example.vn"], "source": "assigned"}),
            ),
        )
        .await;
    let lan = lan["id"].as_str().unwrap().to_owned();
    ctx.admin_ok(
        "POST",
        &format!("/v1/customers/{lan}/owner"),
        Some(json!({"owner": "an", "team": "hn", "version": 1})),
    )
    .await;
    // Another customer, outside the consultant's scope, holding an e-mail a form will quote.
    ctx.admin_ok(
        "POST",
        "/v1/customers",
        Some(
            json!({"full_name": "Lê Văn Khác", "emails": ["khac@example.vn"],
                    "source": "referral"}),
        ),
    )
    .await;
    let owner = ctx.token("an", Role::Consultant, Some("hn"));
    let colleague = ctx.token("binh", Role::Consultant, Some("hn"));
    let other_manager = ctx.token("cuong", Role::Manager, Some("hcm"));

    let form = |email: &str, gender: &str| {
        json!({"full_name": "Trần Thị Lan Anh", "phone": "0901 111 001", "email": email,
               "gender": gender, "birthday": "1990-01-02", "consents": ["email:marketing"]})
    };
    ctx.clock().advance(chrono::Duration::minutes(5));
    assert_eq!(
        ctx.submit(&form("lan.moi@example.vn", "female"), "203.0.113.5")
            .await
            .status,
        202
    );
    let entry = ctx.timeline(&lan).await[0].clone();
    assert_eq!(entry["event_type"], "lead.resubmitted", "{entry}");
    let submission = entry["data"]["submission"].as_str().unwrap().to_owned();
    let before = ctx.profile(&lan).await;

    // Callers outside the scope: as if there were no such customer; nothing changes.
    for token in [&colleague, &other_manager] {
        let answer = ctx
            .apply(
                token,
                &lan,
                &submission,
                json!(["email"]),
                &before["version"],
            )
            .await;
        assert_eq!(answer.status, 404, "{}", answer.text);
        assert_eq!(answer.json["error"]["code"], "not_found");
    }
    // A stale version, an unknown submission.
    let answer = ctx
        .apply(&owner, &lan, &submission, json!(["email"]), &json!(1))
        .await;
    assert_eq!(
        (answer.status, &answer.json["error"]["code"]),
        (409, &json!("conflict")),
        "{}",
        answer.text
    );
    let unknown = ulid::Ulid::new().to_string();
    let answer = ctx
        .apply(&owner, &lan, &unknown, json!(null), &before["version"])
        .await;
    assert_eq!(answer.status, 404, "{}", answer.text);
    assert_eq!(identity(&ctx.profile(&lan).await), identity(&before));

    ctx.clock().advance(chrono::Duration::minutes(5));
    // The owner applies the new e-mail and the name; the gender stays, the consent waits.
    let answer = ctx
        .apply(
            &owner,
            &lan,
            &submission,
            json!(["email", "full_name"]),
            &before["version"],
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.json["applied"], json!(["full_name", "email"]));
    let after = ctx.profile(&lan).await;
    assert_eq!(after["full_name"], "Trần Thị Lan Anh");
    assert_eq!(after["given_name"], "Anh");
    assert_eq!(
        after["emails"],
        json!(["lan@example.vn", "lan.moi@example.vn"])
    );
    assert_eq!(after["gender"], before["gender"]);
    assert_eq!(
        after["consents"], before["consents"],
        "no consent from staff"
    );
    let applied = ctx.timeline(&lan).await[0].clone();
    assert_eq!(
        applied["event_type"], "lead.resubmission_applied",
        "{applied}"
    );
    assert_eq!(applied["actor"], "an");
    assert_eq!(applied["data"]["submission"], submission.as_str());

    // Once only.
    let answer = ctx
        .apply(
            &owner,
            &lan,
            &submission,
            json!(["gender"]),
            &after["version"],
        )
        .await;
    assert_eq!(answer.status, 409, "{}", answer.text);
    assert_eq!(answer.json["error"]["code"], "already_applied");

    // A form quoting another customer's e-mail: refused without naming whose it is, nothing
    // changes, and the submission can still be applied without the e-mail.
    ctx.clock().advance(chrono::Duration::minutes(5));
    assert_eq!(
        ctx.submit(&form("khac@example.vn", "male"), "203.0.113.6")
            .await
            .status,
        202
    );
    let second = ctx.timeline(&lan).await[0]["data"]["submission"]
        .as_str()
        .unwrap()
        .to_owned();
    let after = ctx.profile(&lan).await;
    let answer = ctx
        .apply(&owner, &lan, &second, json!(null), &after["version"])
        .await;
    assert_eq!(answer.status, 409, "{}", answer.text);
    assert_eq!(answer.json["error"]["code"], "identifier_unavailable");
    assert!(!answer.text.contains("Khác"), "{}", answer.text);
    assert_eq!(identity(&ctx.profile(&lan).await), identity(&after));
    let answer = ctx
        .apply(&owner, &lan, &second, json!(["gender"]), &after["version"])
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(ctx.profile(&lan).await["gender"], "male");
}

/// The limit follows the source address and the phone, which the client cannot choose: a new
/// `form` value per request does not buy a new budget, another address has its own, and one
/// phone has its own hourly budget across addresses.
#[tokio::test]
async fn the_intake_rate_limit_follows_the_address_and_the_phone_not_the_form() {
    let ctx = Ctx::new(5);
    let lead = |i: usize| {
        json!({"full_name": "Nguyễn Văn Minh", "phone": format!("09123{i:05}"),
               "form": format!("form-{i}"), "source": "website_form"})
    };
    for i in 0..5 {
        let answer = ctx.submit(&lead(i), "198.51.100.7").await;
        assert_eq!(answer.status, 202, "{}", answer.text);
    }
    let answer = ctx.submit(&lead(5), "198.51.100.7").await;
    assert_eq!(
        answer.status, 429,
        "a new form value is no new budget: {}",
        answer.text
    );
    assert_eq!(answer.json["error"]["code"], "rate_limited");
    assert!(answer.headers.contains_key(header::RETRY_AFTER));
    let answer = ctx.submit(&lead(6), "198.51.100.8").await;
    assert_eq!(
        answer.status, 202,
        "another address has its own budget: {}",
        answer.text
    );

    // One phone from many addresses: ten an hour.
    for i in 0..nhip_intake::forms::RATE_PER_CONTACT_PER_HOUR {
        let answer = ctx.submit(&lead(7), &format!("192.0.2.{i}")).await;
        assert_eq!(answer.status, 202, "{i}: {}", answer.text);
    }
    let answer = ctx.submit(&lead(7), "192.0.2.200").await;
    assert_eq!(answer.status, 429, "{}", answer.text);
    ctx.clock().advance(chrono::Duration::hours(1));
    assert_eq!(ctx.submit(&lead(7), "192.0.2.200").await.status, 202);
}

/// In Lambda the address is API Gateway's `requestContext.http.sourceIp` (the fixture's), not
/// a header the client sends.
#[tokio::test]
async fn in_lambda_the_limit_is_keyed_by_the_gateway_source_ip() {
    let ctx = Ctx::new(3);
    let request: lambda_http::request::LambdaRequest =
        crate::support::fixture("lead-intake/website-form.json");
    let request: lambda_http::http::Request<lambda_http::Body> = request.into();
    let (parts, body) = request.into_parts();
    let body = body.to_vec();
    let from = |ip: &str, forwarded: &str| {
        let mut parts = parts.clone();
        if let Some(lambda_http::request::RequestContext::ApiGatewayV2(context)) =
            parts
                .extensions
                .get_mut::<lambda_http::request::RequestContext>()
        {
            context.http.source_ip = Some(ip.to_owned());
        }
        parts
            .headers
            .insert("x-forwarded-for", forwarded.parse().unwrap());
        Request::from_parts(parts, Body::from(body.clone()))
    };
    for i in 0..3 {
        let answer = ctx.send(from("203.0.113.77", &format!("10.0.0.{i}"))).await;
        assert_eq!(answer.status, 202, "{}", answer.text);
    }
    let answer = ctx.send(from("203.0.113.77", "10.9.9.9")).await;
    assert_eq!(
        answer.status, 429,
        "X-Forwarded-For is not trusted: {}",
        answer.text
    );
    let answer = ctx.send(from("203.0.113.78", "10.9.9.9")).await;
    assert_eq!(answer.status, 202, "{}", answer.text);
}

/// API Gateway hands a non-JSON body to the function base64-encoded (`isBase64Encoded`): the
/// form arrives decoded and is stored exactly as the plain fixture's.
#[tokio::test]
async fn a_base64_encoded_form_from_api_gateway_is_read_as_the_form_it_carries() {
    let mut leads = Vec::new();
    for fixture in [
        "lead-intake/website-form.json",
        "lead-intake/website-form-base64.json",
    ] {
        let ctx = Ctx::new(60);
        let raw: Value = crate::support::fixture(fixture);
        let request: lambda_http::request::LambdaRequest = crate::support::fixture(fixture);
        let request: lambda_http::http::Request<lambda_http::Body> = request.into();
        let (parts, body) = request.into_parts();
        let answer = ctx
            .send(Request::from_parts(parts, Body::from(body.to_vec())))
            .await;
        assert_eq!(answer.status, 202, "{fixture}: {}", answer.text);
        let list = ctx
            .admin_ok("GET", "/v1/customers?phone=0987654321", None)
            .await;
        let id = list["items"][0]["id"]
            .as_str()
            .expect("the lead")
            .to_owned();
        let customer = ctx.profile(&id).await;
        assert_eq!(customer["full_name"], "Nguyễn Thị Mai", "{fixture}");
        leads.push((raw["isBase64Encoded"].clone(), identity(&customer)));
    }
    assert_eq!(leads[0].0, false);
    assert_eq!(leads[1].0, true);
    assert_eq!(leads[0].1, leads[1].1);
}

/// The bank's website posts the form with `fetch` from its own origin: the preflight and the
/// post carry CORS headers for the configured origins only, and the staff API carries none.
#[tokio::test]
async fn the_lead_form_may_be_posted_from_a_configured_web_origin_only() {
    let mut ctx = Ctx::new(60);
    let mut deps = (*ctx.deps).clone();
    deps.settings.intake_allowed_origins = vec!["https://www.example-bank.vn".into()];
    ctx.api.deps = Arc::new(deps);
    let preflight = |origin: &str| {
        Request::builder()
            .method("OPTIONS")
            .uri("/v1/intake/leads")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "content-type")
            .body(Body::empty())
            .unwrap()
    };
    let allowed = ctx.send(preflight("https://www.example-bank.vn")).await;
    assert!(allowed.status < 300, "{} {}", allowed.status, allowed.text);
    assert_eq!(
        allowed.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://www.example-bank.vn"
    );
    assert!(
        allowed.headers[header::ACCESS_CONTROL_ALLOW_METHODS]
            .to_str()
            .unwrap()
            .contains("POST")
    );
    assert!(
        !allowed
            .headers
            .contains_key(header::ACCESS_CONTROL_ALLOW_CREDENTIALS)
    );
    let other = ctx.send(preflight("https://phishing.example")).await;
    assert!(
        !other
            .headers
            .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN),
        "{:?}",
        other.headers
    );

    let post = |origin: &str| {
        Request::builder()
            .method("POST")
            .uri("/v1/intake/leads")
            .header(header::ORIGIN, origin)
            .header(header::CONTENT_TYPE, "application/json")
            .extension(ConnectInfo(SocketAddr::from(([198, 51, 100, 9], 40000))))
            .body(Body::from(
                json!({"full_name": "Đỗ Văn Hải", "phone": "0912000111", "source": "website_form"})
                    .to_string(),
            ))
            .unwrap()
    };
    let answer = ctx.send(post("https://www.example-bank.vn")).await;
    assert_eq!(answer.status, 202, "{}", answer.text);
    assert_eq!(
        answer.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://www.example-bank.vn"
    );
    // The staff API is not opened to the website.
    let staff = ctx
        .send(
            request("GET", "/v1/customers", Some(&ctx.admin()))
                .header(header::ORIGIN, "https://www.example-bank.vn")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(staff.status, 200);
    assert!(
        !staff
            .headers
            .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN)
    );
    // Without configured origins (the default), nobody gets CORS headers.
    let plain = Ctx::new(60);
    let answer = plain.send(preflight("https://www.example-bank.vn")).await;
    assert!(
        !answer
            .headers
            .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN)
    );
}
