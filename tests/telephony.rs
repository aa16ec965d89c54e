//! The call centre's incoming-call webhook: HMAC-signed, idempotent per call, answering the
//! caller's card or creating a lead for an unknown number.

use axum::body::Body;
use axum::http::header;
use nhip_core::Settings;
use nhip_core::webhook::{SIGNATURE_HEADER, TIMESTAMP_HEADER, sign};
use serde_json::{Value, json};

use crate::support::{Api, request, stored_customers, wraps_api};

const SECRET: &[u8] = b"call-centre-shared-secret-for-tests";

/// The API harness with the webhook's own calls.
struct Harness {
    api: Api,
}

wraps_api!(Harness);

impl Harness {
    fn with_secret() -> Self {
        Self {
            api: Api::with_settings(Settings {
                telephony_secret: Some(SECRET.to_vec()),
                ..Settings::default()
            }),
        }
    }

    fn without_secret() -> Self {
        Self { api: Api::local() }
    }

    /// A webhook call with the given headers (`None` leaves a header out).
    async fn post(
        &self,
        body: &str,
        timestamp: Option<String>,
        signature: Option<String>,
    ) -> (u16, Value) {
        let mut request = request("POST", "/v1/telephony/incoming", None)
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(timestamp) = timestamp {
            request = request.header(TIMESTAMP_HEADER, timestamp);
        }
        if let Some(signature) = signature {
            request = request.header(SIGNATURE_HEADER, signature);
        }
        self.raw(request.body(Body::from(body.to_owned())).unwrap())
            .await
    }

    /// A correctly signed call, signed now.
    async fn signed(&self, body: &Value) -> (u16, Value) {
        let body = body.to_string();
        let timestamp = self.now().timestamp().to_string();
        let signature = sign(SECRET, &timestamp, body.as_bytes());
        self.post(&body, Some(timestamp), Some(signature)).await
    }

    async fn customers(&self) -> usize {
        stored_customers(&self.deps).await.len()
    }
}

#[tokio::test]
async fn a_known_caller_gets_their_card_and_the_call_is_recorded_once() {
    let h = Harness::with_secret();
    let (status, created) = h
        .admin_call(
            "POST",
            "/v1/customers",
            Some(json!({
                "full_name": "Trần Thị Lan", "gender": "female", "phones": ["0901000001"],
                "source": "referral", "owner": "an", "classification": "potential",
            })),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();

    // The caller's number as the switchboard writes it.
    let call = json!({"call_id": "CALL-0001", "caller": "+84 901 000 001", "hotline": "1900 1234"});
    let (status, card) = h.signed(&call).await;
    assert_eq!(status, 200, "{card}");
    assert_eq!(card["id"], json!(id));
    assert_eq!(card["created"], false);
    assert_eq!(card["full_name"], "Trần Thị Lan");
    assert_eq!(card["given_name"], "Lan");
    assert_eq!(card["salutation"], "Chị Lan");
    assert_eq!(card["owner"], "an");
    assert_eq!(card["lifecycle"], "new");
    assert_eq!(card["lifecycle_label"], "KH mới chưa tư vấn");
    assert_eq!(card["classification"], "potential");
    assert_eq!(card["open_tickets"], json!([]));
    let activities = card["recent_activities"].as_array().unwrap();
    assert_eq!(activities[0]["event_type"], "call.incoming");
    assert_eq!(activities[0]["action"], "Cuộc gọi đến");
    assert_eq!(activities[0]["data"]["call_id"], "CALL-0001");

    // The call centre retries the same call: same card, nothing new on the timeline.
    let (status, again) = h.signed(&call).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["id"], json!(id));
    assert_eq!(
        h.timeline_types(&id).await,
        ["call.incoming", "customer.created"]
    );

    // A later call is a new entry; the card shows the last five activities at most.
    for i in 2..=7 {
        h.clock().advance(chrono::Duration::minutes(1));
        let (status, card) = h
            .signed(&json!({"call_id": format!("CALL-000{i}"), "caller": "0901000001"}))
            .await;
        assert_eq!(status, 200, "{card}");
        assert!(card["recent_activities"].as_array().unwrap().len() <= 5);
        assert_eq!(
            card["recent_activities"][0]["data"]["call_id"],
            format!("CALL-000{i}")
        );
    }
    assert_eq!(h.timeline_types(&id).await.len(), 8);
    assert_eq!(h.customers().await, 1);
}

#[tokio::test]
async fn an_unknown_caller_becomes_a_lead_once() {
    let h = Harness::with_secret();
    let call =
        json!({"call_id": "c-42", "caller": "0987654321", "started_at": "2026-11-23T01:59:30Z"});
    let (status, card) = h.signed(&call).await;
    assert_eq!(status, 201, "{card}");
    assert_eq!(card["created"], true);
    assert_eq!(card["salutation"], "Quý khách");
    assert_eq!(card["lifecycle"], "new");
    assert_eq!(card["open_tickets"], json!([]));
    let id = card["id"].as_str().unwrap().to_owned();
    assert_eq!(card["recent_activities"][0]["event_type"], "lead.created");

    // Retried webhook deliveries of the same call.
    for _ in 0..2 {
        h.clock().advance(chrono::Duration::seconds(20));
        let (status, again) = h.signed(&call).await;
        assert_eq!(status, 200, "{again}");
        assert_eq!(again["id"], json!(id));
        assert_eq!(again["created"], false);
    }
    assert_eq!(h.customers().await, 1);
    assert_eq!(h.timeline_types(&id).await, ["lead.created"]);

    let customer = h.profile(&id).await;
    assert_eq!(customer["source"], "incoming_call");
    assert_eq!(customer["source_label"], "Gọi đến tổng đài");
    assert_eq!(customer["phones"], json!(["+84987654321"]));
    let timeline = h.timeline(&id).await;
    assert_eq!(timeline[0]["source"], "telephony");
    assert_eq!(timeline[0]["data"]["call_id"], "c-42");

    // Another call from the same number is recorded on the lead.
    let (status, card) = h
        .signed(&json!({"call_id": "c-43", "caller": "0987654321"}))
        .await;
    assert_eq!(status, 200, "{card}");
    assert_eq!(
        h.timeline_types(&id).await,
        ["call.incoming", "lead.created"]
    );
}

#[tokio::test]
async fn forged_stale_or_unsigned_calls_are_refused_and_store_nothing() {
    let h = Harness::with_secret();
    let body = json!({"call_id": "c-1", "caller": "0987654321"}).to_string();
    let now = h.deps.clock.now().timestamp();
    let good_ts = now.to_string();
    let stale_ts = (now - 301).to_string();
    let future_ts = (now + 301).to_string();
    let cases = [
        // Signed with another secret.
        (
            Some(good_ts.clone()),
            Some(sign(b"not-the-secret", &good_ts, body.as_bytes())),
        ),
        // The signature of another body.
        (
            Some(good_ts.clone()),
            Some(sign(SECRET, &good_ts, b"{\"call_id\":\"c-2\"}")),
        ),
        // Signed for another instant than the header says.
        (
            Some((now - 1).to_string()),
            Some(sign(SECRET, &good_ts, body.as_bytes())),
        ),
        // Replays: validly signed, too old or too far ahead.
        (
            Some(stale_ts.clone()),
            Some(sign(SECRET, &stale_ts, body.as_bytes())),
        ),
        (
            Some(future_ts.clone()),
            Some(sign(SECRET, &future_ts, body.as_bytes())),
        ),
        // Missing or malformed headers.
        (None, Some(sign(SECRET, &good_ts, body.as_bytes()))),
        (Some(good_ts.clone()), None),
        (Some(good_ts.clone()), Some("sha256=not-hex".to_owned())),
        (
            Some(good_ts.clone()),
            Some(sign(SECRET, &good_ts, body.as_bytes()).replace("sha256=", "")),
        ),
        (
            Some("yesterday".to_owned()),
            Some(sign(SECRET, "yesterday", body.as_bytes())),
        ),
    ];
    for (i, (timestamp, signature)) in cases.into_iter().enumerate() {
        let (status, answer) = h.post(&body, timestamp, signature).await;
        assert_eq!(status, 401, "case {i}: {answer}");
        assert_eq!(answer["error"]["code"], "invalid_signature", "case {i}");
    }
    assert_eq!(h.customers().await, 0);
    assert_eq!(h.deps.queues.events.depth().await.unwrap().visible, 0);

    // Within five minutes either way is accepted (clock skew).
    let skewed = (now - 299).to_string();
    let (status, answer) = h
        .post(
            &body,
            Some(skewed.clone()),
            Some(sign(SECRET, &skewed, body.as_bytes())),
        )
        .await;
    assert_eq!(status, 201, "{answer}");
}

#[tokio::test]
async fn malformed_calls_and_non_mobile_callers_are_rejected() {
    let h = Harness::with_secret();
    for (body, status, field) in [
        (
            json!({"call_id": "c-1", "caller": "02438253456"}),
            422,
            Some("caller"),
        ),
        (
            json!({"call_id": "c-1", "caller": "+14155550100"}),
            422,
            Some("caller"),
        ),
        (
            json!({"call_id": "c-1", "caller": "12345"}),
            422,
            Some("caller"),
        ),
        (
            json!({"call_id": "", "caller": "0987654321"}),
            422,
            Some("call_id"),
        ),
        (
            json!({"call_id": "c 1", "caller": "0987654321"}),
            422,
            Some("call_id"),
        ),
        (json!({"caller": "0987654321"}), 422, None),
    ] {
        let (got, answer) = h.signed(&body).await;
        assert_eq!(got, status, "{body} → {answer}");
        if let Some(field) = field {
            assert!(answer["error"]["fields"][field].is_string(), "{answer}");
        }
        assert!(!answer.to_string().contains("02438253456"));
    }
    assert_eq!(h.customers().await, 0);
}

#[tokio::test]
async fn without_a_configured_secret_every_call_is_refused() {
    let h = Harness::without_secret();
    let body = json!({"call_id": "c-1", "caller": "0987654321"}).to_string();
    let ts = h.deps.clock.now().timestamp().to_string();
    for secret in [SECRET, b"".as_slice()] {
        let (status, answer) = h
            .post(
                &body,
                Some(ts.clone()),
                Some(sign(secret, &ts, body.as_bytes())),
            )
            .await;
        assert_eq!(status, 503, "{answer}");
        assert_eq!(answer["error"]["code"], "not_configured");
    }
    assert_eq!(h.customers().await, 0);
}

/// The OTT bridge webhook (nhip-aws) signs with the scheme the call centre's webhook verifies
/// (nhip-core): the two crates do not depend on each other, so the check lives here.
#[test]
fn the_webhook_channel_signs_as_the_telephony_webhook_verifies() {
    let body = br#"{"message_id":"01J","text":"xin chao"}"#;
    let now = chrono::DateTime::from_timestamp(1_795_402_800, 0).unwrap();
    let mut headers = axum::http::HeaderMap::new();
    headers.insert(TIMESTAMP_HEADER, "1795402800".parse().unwrap());
    headers.insert(
        SIGNATURE_HEADER,
        nhip_aws::webhook::sign(SECRET, "1795402800", body)
            .parse()
            .unwrap(),
    );
    assert!(nhip_core::webhook::verify(SECRET, &headers, body, now).is_ok());
    assert_eq!(
        nhip_aws::webhook::sign(SECRET, "1795402800", body),
        sign(SECRET, "1795402800", body)
    );
    let mut altered = body.to_vec();
    altered.push(b' ');
    assert!(nhip_core::webhook::verify(SECRET, &headers, &altered, now).is_err());
}

#[tokio::test]
async fn the_extension_that_rang_gets_the_caller_on_screen_once() {
    let h = Harness::with_secret();
    let store = &*h.deps.store;
    for (name, extension, active) in [("hoa", "101", true), ("minh", "102", false)] {
        let input = nhip_crm::staff::UserInput {
            username: name.into(),
            display_name: name.into(),
            role: Some(nhip_core::auth::Role::Consultant),
            extension: extension.into(),
            active,
            ..Default::default()
        };
        nhip_crm::staff::create_user(store, &input, None, h.now())
            .await
            .unwrap();
    }
    let other = h
        .admin_call(
            "POST",
            "/v1/customers",
            Some(json!({"full_name": "Phan Văn Khôi", "phones": ["0901000077"], "source": "referral", "owner": "lan"})),
        )
        .await
        .1;
    let hoa = nhip_core::auth::Principal::new("hoa", nhip_core::auth::Role::Consultant, None);
    let id = other["id"].as_str().unwrap();
    // Before the call, the customer is not hers to see.
    let token = h.token("hoa", nhip_core::auth::Role::Consultant, None);
    let (status, _) = h
        .call("GET", &format!("/v1/customers/{id}"), Some(&token), None)
        .await;
    assert_eq!(status, 404);
    // The customer has an open ticket: the card names it.
    nhip_work::tickets::create(
        &h.deps,
        nhip_crm::tickets::NewTicket {
            cause: "telephony-card".into(),
            customer_id: id.parse().unwrap(),
            queue: nhip_domain::journey::TicketQueue::Cskh,
            priority: nhip_domain::journey::TicketPriority::High,
            sla: None,
            due_at: Some(h.now() + chrono::Duration::hours(4)),
            title: "Khách báo mất thẻ".into(),
            source: json!({"kind": "journey", "journey": "mat-the", "step": "phieu"}),
            assignee: None,
            purpose: nhip_domain::customer::Purpose::Care,
        },
    )
    .await
    .unwrap();
    // The call rings 101, twice delivered: one pop.
    let call = json!({"call_id": "cc-77", "caller": "0901000077", "extension": "101"});
    for _ in 0..2 {
        let (status, card) = h.signed(&call).await;
        assert_eq!(status, 200, "{card}");
        assert_eq!(
            card["open_tickets"][0]["title"], "Khách báo mất thẻ",
            "{card}"
        );
        assert_eq!(card["open_tickets"][0]["status"], "new");
    }
    let pop = nhip_crm::call_pops::newest(&h.deps, "hoa")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (pop.call_id.as_str(), pop.customer_id.as_str(), pop.created),
        ("cc-77", id, false)
    );
    // While it is on her screen she sees the caller, and logs the call.
    let (status, _) = h
        .call("GET", &format!("/v1/customers/{id}"), Some(&token), None)
        .await;
    assert_eq!(status, 200);
    nhip_crm::call_pops::handled(&h.deps, "hoa", "cc-77")
        .await
        .unwrap();
    assert!(
        nhip_crm::call_pops::newest(&h.deps, "hoa")
            .await
            .unwrap()
            .is_none()
    );
    // Half an hour later the caller is no longer hers.
    h.advance(31 * 60);
    assert!(
        !nhip_crm::call_pops::on_screen(&h.deps, "hoa", id.parse().unwrap())
            .await
            .unwrap()
    );
    // A disabled member's extension pops nothing; an unknown one neither; a malformed one is 422.
    let (status, _) = h
        .signed(&json!({"call_id": "cc-78", "caller": "0901000077", "extension": "102"}))
        .await;
    assert_eq!(status, 200);
    assert!(
        nhip_crm::call_pops::newest(&h.deps, "minh")
            .await
            .unwrap()
            .is_none()
    );
    let (status, body) = h
        .signed(&json!({"call_id": "cc-79", "caller": "0901000077", "extension": "10a"}))
        .await;
    assert_eq!(
        (status, body["error"]["fields"]["extension"].is_string()),
        (422, true),
        "{body}"
    );
    // An unknown number: its lead pops as created, and the agent names it and owns it.
    let (status, card) = h
        .signed(&json!({"call_id": "cc-80", "caller": "0901000088", "extension": "101"}))
        .await;
    assert_eq!(status, 201, "{card}");
    let pop = nhip_crm::call_pops::newest(&h.deps, "hoa")
        .await
        .unwrap()
        .unwrap();
    assert!(pop.created);
    let lead = nhip_crm::call_pops::take_lead(&h.deps, &hoa, "cc-80", "Đỗ Thị Hường")
        .await
        .unwrap();
    let stored = h.admin_get(&format!("/v1/customers/{lead}")).await;
    assert_eq!(
        (stored["full_name"].as_str(), stored["owner"].as_str()),
        (Some("Đỗ Thị Hường"), Some("hoa"))
    );
}
