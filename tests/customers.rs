//! The customer core through its HTTP routes: lead intake and its dedupe, the staff API and its
//! authorization matrix, lists and search, interactions moving a lead to consulting.

use std::sync::Arc;

use nhip_core::auth::Role;
use serde_json::{Value, json};

use crate::support::{Api, stored_customers};

fn lead(phone: &str) -> Value {
    json!({
        "full_name": "Nguyễn Văn Minh",
        "phone": phone,
        "email": "minh.nguyen@example.vn",
        "gender": "male",
        "source": "website_form",
        "consents": ["email:marketing", "sms:care"],
        "form": "dang-ky-tra-gop",
        "utm_source": "facebook",
        "utm_campaign": "tra-gop-0-lai",
    })
}

/// Every message on the events queue, taken (hidden for 30 simulated seconds).
async fn queued_events(api: &Api) -> Vec<nhip_ports::ReceivedMessage> {
    crate::support::receive_all(&*api.deps.queues.events, std::time::Duration::from_secs(30)).await
}

#[tokio::test]
async fn a_lead_is_created_then_a_repeat_in_another_format_is_recorded_on_it() {
    let api = Api::local();
    let (status, first) = api.intake(lead("0912345678")).await;
    assert_eq!(status, 202, "{first}");
    assert_eq!(first, json!({"status": "received"}));
    api.advance(60);

    // The same person posts a plain HTML form, number written the international way.
    let form = "full_name=Nguy%E1%BB%85n+V%C4%83n+Minh&phone=%2B84+912+345+678&source=website_form\
                &consents=zns%3Amarketing&form=dang-ky-nhan-tin";
    let (status, second) = api
        .post_as(
            "/v1/intake/leads",
            None,
            "application/x-www-form-urlencoded",
            form,
        )
        .await;
    assert_eq!(status, 202, "{second}");
    assert_eq!(second, first, "the same answer for a known phone");
    assert_eq!(stored_customers(&api.deps).await.len(), 1);

    let id = &api.id_of_phone("0912345678").await;
    let admin = api.admin();
    let (_, customer) = api
        .call("GET", &format!("/v1/customers/{id}"), Some(&admin), None)
        .await;
    assert_eq!(customer["phones"], json!(["+84912345678"]));
    assert_eq!(customer["emails"], json!(["minh.nguyen@example.vn"]));
    assert_eq!(customer["given_name"], "Minh");
    assert_eq!(customer["lifecycle"], "new");
    assert_eq!(customer["submissions"], 2);
    assert_eq!(customer["attribution"]["utm_campaign"], "tra-gop-0-lai");
    assert_eq!(customer["consents"]["email:marketing"]["granted"], true);
    // The repeat is anonymous: its consent waits for the customer's confirmation.
    assert!(
        customer["consents"]["zns:marketing"].is_null(),
        "{customer}"
    );
    assert!(
        customer["consents"]["email:marketing"]["evidence"]
            .as_str()
            .unwrap()
            .contains("dang-ky-tra-gop")
    );

    let types = api.timeline_types(id).await;
    assert_eq!(types, ["lead.resubmitted", "lead.created"]);

    // Both events are on the queue for journeys; recording them again adds no timeline entry.
    let messages = queued_events(&api).await;
    assert_eq!(messages.len(), 2);
    for message in &messages {
        let event: nhip_domain::event::DomainEvent = serde_json::from_str(&message.body).unwrap();
        let outcome = nhip_core::events::record(&api.deps, &event).await.unwrap();
        assert_eq!(outcome, nhip_core::events::Recorded::Duplicate);
        assert!(!message.body.contains("0912345678") && !message.body.contains("+8491"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_duplicate_submissions_leave_one_customer() {
    concurrent_duplicates(Api::local()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_duplicate_submissions_leave_one_customer_on_dynamodb() {
    crate::support::needs_emulator!();
    concurrent_duplicates(Api::dynamo().await).await;
}

/// The same dedupe, one submission after another, on DynamoDB: the guards, the lifecycle
/// index and the phone lookup behave as on SQLite.
#[tokio::test]
async fn repeat_submissions_in_every_format_leave_one_customer_on_dynamodb() {
    crate::support::needs_emulator!();
    let api = Api::dynamo().await;
    let mut statuses = Vec::new();
    for phone in PHONE_FORMATS {
        let mut body = lead(phone);
        body.as_object_mut().unwrap().remove("email");
        let (status, answer) = api.intake(body).await;
        assert_eq!(answer, json!({"status": "received"}));
        statuses.push(status);
    }
    assert!(statuses.iter().all(|s| *s == 202), "{statuses:?}");
    assert_eq!(stored_customers(&api.deps).await.len(), 1);
    let ids = std::collections::BTreeSet::from([api.id_of_phone("0912345678").await]);
    let (_, list) = api
        .call(
            "GET",
            "/v1/customers?phone=0912%20345%20678",
            Some(&api.admin()),
            None,
        )
        .await;
    assert_eq!(list["items"][0]["id"], ids.iter().next().unwrap().as_str());
    assert_eq!(list["items"][0]["phone"], "+84912345678");
}

const PHONE_FORMATS: [&str; 8] = [
    "0912345678",
    "+84912345678",
    "84912345678",
    "0912 345 678",
    "091.234.5678",
    "+84 912 345 678",
    "(091) 234-5678",
    "0912-345-678",
];

async fn concurrent_duplicates(api: Api) {
    let api = Arc::new(api);
    let formats = PHONE_FORMATS;
    let submissions = formats.iter().map(|phone| {
        let api = api.clone();
        let mut body = lead(phone);
        body.as_object_mut().unwrap().remove("email");
        tokio::spawn(async move { api.intake(body).await })
    });
    let results = futures::future::join_all(submissions).await;
    for result in results {
        let (status, body) = result.unwrap();
        assert_eq!(status, 202, "{body}");
    }
    assert_eq!(stored_customers(&api.deps).await.len(), 1);
    let id = api.id_of_phone("0912345678").await;
    let (_, customer) = api
        .call(
            "GET",
            &format!("/v1/customers/{id}"),
            Some(&api.admin()),
            None,
        )
        .await;
    assert_eq!(customer["submissions"], formats.len());
}

#[tokio::test]
async fn rejected_submissions_answer_field_errors_and_store_nothing() {
    let api = Api::local();
    let cases: Vec<(Value, u16, &str)> = vec![
        (
            json!({"phone": "0912345678", "source": "website_form"}),
            422,
            "full_name",
        ),
        (
            json!({"full_name": "Lan", "phone": "0123456", "source": "website_form"}),
            422,
            "phone",
        ),
        (
            json!({"full_name": "Lan", "phone": "01683456789"}),
            422,
            "phone",
        ),
        (
            json!({"full_name": "Lan", "email": "lan@", "source": "website_form"}),
            422,
            "email",
        ),
        (
            json!({"full_name": "Lan", "source": "website_form"}),
            422,
            "phone",
        ),
        (
            json!({"full_name": "Lan", "phone": "0912345678", "source": "tivi"}),
            422,
            "source",
        ),
        (
            json!({"full_name": "Lan", "phone": "0912345678", "consents": ["fax:marketing"]}),
            422,
            "consents",
        ),
        (
            json!({"full_name": "Lan", "phone": "0912345678", "homepage": "http://spam"}),
            422,
            "homepage",
        ),
        (
            json!({"full_name": "Lan", "phone": "0912345678", "birthday": "31/02/1990"}),
            422,
            "birthday",
        ),
    ];
    for (body, status, field) in cases {
        let (got, answer) = api.intake(body.clone()).await;
        assert_eq!(got, status, "{body} → {answer}");
        assert!(
            answer["error"]["fields"][field].is_string(),
            "{body} → {answer}"
        );
        assert!(answer["error"]["code"].is_string());
    }
    let big = json!({"full_name": "Lan", "phone": "0912345678", "message": "x".repeat(20_000)});
    let (status, answer) = api.intake(big).await;
    assert_eq!(status, 413, "{answer}");
    assert_eq!(
        api.post_as("/v1/intake/leads", None, "text/plain", "hello")
            .await
            .0,
        415
    );
    assert_eq!(
        api.post_as("/v1/intake/leads", None, "application/json", "{not json")
            .await
            .0,
        400
    );
    assert_eq!(stored_customers(&api.deps).await.len(), 0);
    let depth = api.deps.queues.events.depth().await.unwrap();
    assert_eq!(depth.visible, 0, "no event published");
}

#[tokio::test]
async fn a_source_over_its_rate_limit_gets_429() {
    let api = Api::local();
    let limit = api.deps.settings.intake_rate_per_minute;
    for i in 0..limit {
        let mut body = lead(&format!("09123{i:05}"));
        body["email"] = json!(format!("lead{i}@example.vn"));
        let (status, body) = api.intake(body).await;
        assert!(status == 202, "{status} {body}");
    }
    let (status, body) = api.intake(lead("0987654321")).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "rate_limited");
}

/// The customers of the authorization matrix: two agents of team "hn", one of team "hcm".
struct Fixture {
    api: Api,
    a1: String,
    b1: String,
}

async fn fixture() -> Fixture {
    let api = Api::local();
    let mut ids = Vec::new();
    for (name, owner, team, phone) in [
        ("Trần Thị Lan", "an", "hn", "0901000001"),
        ("Lê Văn Bình", "binh", "hcm", "0901000003"),
    ] {
        let id = api
            .create_assigned(
                json!({"full_name": name, "phones": [phone], "source": "referral", "owner": owner}),
                owner,
                team,
            )
            .await;
        ids.push(id);
    }
    Fixture {
        a1: ids[0].clone(),
        b1: ids[1].clone(),
        api,
    }
}

#[tokio::test]
async fn every_route_and_role_respects_the_scope() {
    let f = fixture().await;
    let api = &f.api;
    // (who, may see a1 (an/hn), may see b1 (binh/hcm), may assign)
    let principals = [
        ("root", Role::Admin, None, true, true, true),
        ("mai", Role::Manager, Some("hn"), true, false, true),
        ("hoa", Role::Manager, Some("hcm"), false, true, true),
        ("an", Role::Consultant, Some("hn"), true, false, false),
        ("an", Role::Agent, Some("hn"), true, false, false),
        ("cuong", Role::Agent, Some("hn"), false, false, false),
        ("binh", Role::Telesales, Some("hcm"), false, true, false),
        ("dung", Role::Rm, Some("hcm"), false, false, false),
    ];
    for (user, role, team, sees_a1, sees_b1, assigns) in principals {
        let token = api.token(user, role, team);
        for (id, allowed) in [(&f.a1, sees_a1), (&f.b1, sees_b1)] {
            let who = format!("{user}/{role:?} on {id}");
            let (_, before) = api
                .call(
                    "GET",
                    &format!("/v1/customers/{id}"),
                    Some(&api.admin()),
                    None,
                )
                .await;
            let version = before["version"].clone();
            let reads = [
                format!("/v1/customers/{id}"),
                format!("/v1/customers/{id}/timeline"),
                format!("/v1/customers/{id}/activities"),
                format!("/v1/customers/{id}/next-actions"),
                format!("/v1/customers/{id}/holdings"),
                format!("/v1/customers/{id}/usage"),
                format!("/v1/customers/{id}/export"),
            ];
            for path in &reads {
                let (status, body) = api.call("GET", path, Some(&token), None).await;
                let expected = if allowed { 200 } else { 404 };
                assert_eq!(status, expected, "{who} GET {path}: {body}");
            }
            let writes = [
                (
                    "PATCH",
                    format!("/v1/customers/{id}"),
                    json!({"version": version, "classification": "urgent"}),
                    200,
                ),
                (
                    "POST",
                    format!("/v1/customers/{id}/interactions"),
                    json!({"type": "note", "notes": "Đã gửi tài liệu"}),
                    201,
                ),
                (
                    "POST",
                    format!("/v1/customers/{id}/next-actions"),
                    json!({"type": "call", "at": "2026-12-01T09:00:00+07:00"}),
                    201,
                ),
                (
                    "POST",
                    format!("/v1/customers/{id}/restrict"),
                    json!({"restricted": false, "version": version}),
                    200,
                ),
                (
                    "POST",
                    format!("/v1/customers/{id}/consents"),
                    json!({"channel": "sms", "purpose": "marketing", "granted": false,
                           "evidence": "Khách từ chối qua điện thoại"}),
                    200,
                ),
                (
                    "POST",
                    format!("/v1/customers/{id}/owner"),
                    json!({"owner": before["owner"], "version": version}),
                    if assigns { 200 } else { 403 },
                ),
            ];
            for (method, path, body, ok) in writes {
                let (_, current) = api
                    .call(
                        "GET",
                        &format!("/v1/customers/{id}"),
                        Some(&api.admin()),
                        None,
                    )
                    .await;
                let mut body = body;
                if body.get("version").is_some() {
                    body["version"] = current["version"].clone();
                }
                let (status, answer) = api.call(method, &path, Some(&token), Some(body)).await;
                if allowed {
                    assert_eq!(status, ok, "{who} {method} {path}: {answer}");
                } else {
                    assert_eq!(status, 404, "{who} {method} {path}: {answer}");
                }
                let (_, after) = api
                    .call(
                        "GET",
                        &format!("/v1/customers/{id}"),
                        Some(&api.admin()),
                        None,
                    )
                    .await;
                if status >= 400 {
                    assert_eq!(
                        after["version"], current["version"],
                        "{who}: nothing changed"
                    );
                }
            }
        }
        // Lists hold exactly what the scope covers.
        let (status, list) = api.call("GET", "/v1/customers", Some(&token), None).await;
        assert_eq!(status, 200, "{list}");
        let listed: Vec<&str> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap())
            .collect();
        assert_eq!(listed.contains(&f.a1.as_str()), sees_a1, "{user} list");
        assert_eq!(listed.contains(&f.b1.as_str()), sees_b1, "{user} list");
    }
    // No token, a garbled one: 401.
    let (status, body) = api.call("GET", "/v1/customers", None, None).await;
    assert_eq!(status, 401, "{body}");
    let (status, _) = api.call("GET", "/v1/customers", Some("x.y.z"), None).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn search_ignores_diacritics_and_ranks_exact_accents_first() {
    let api = Api::local();
    let admin = api.admin();
    for (name, phone) in [
        ("Nguyên Văn An", "0902000001"),
        ("Nguyễn Văn An", "0902000002"),
        ("Trần Thị Lan", "0902000003"),
        ("NGUYỄN VĂN ANH", "0902000004"),
    ] {
        api.create(
            &admin,
            json!({"full_name": name, "phones": [phone], "source": "website"}),
        )
        .await;
    }
    let names = |list: &Value| -> Vec<String> {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["full_name"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, list) = api
        .call(
            "GET",
            "/v1/customers?name=nguyen%20van%20an",
            Some(&admin),
            None,
        )
        .await;
    let found = names(&list);
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(!found.contains(&"Trần Thị Lan".to_owned()));
    let (_, list) = api
        .call(
            "GET",
            "/v1/customers?name=Nguy%E1%BB%85n%20V%C4%83n%20An",
            Some(&admin),
            None,
        )
        .await;
    let found = names(&list);
    // Both spellings with "ễ" come before "Nguyên", whatever their age.
    assert_eq!(found.len(), 3, "{found:?}");
    assert_eq!(found[2], "Nguyên Văn An", "{found:?}");
    let (_, list) = api
        .call("GET", "/v1/customers?name=LAN", Some(&admin), None)
        .await;
    assert_eq!(names(&list), ["Trần Thị Lan"]);
    let (_, list) = api
        .call(
            "GET",
            "/v1/customers?phone=%2B84902000003",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(names(&list), ["Trần Thị Lan"]);
}

#[tokio::test]
async fn lists_page_through_every_lifecycle_without_repeats() {
    let api = Api::local();
    let admin = api.admin();
    for i in 0..25 {
        let lifecycle = ["new", "consulting", "customer", "former"][i % 4];
        api.create(
            &admin,
            json!({"full_name": format!("Khách {i}"), "phones": [format!("09030{:05}", i)],
                   "source": "other", "lifecycle": lifecycle}),
        )
        .await;
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            None => "/v1/customers?limit=10".to_owned(),
            Some(c) => format!("/v1/customers?limit=10&cursor={c}"),
        };
        let (status, page) = api.call("GET", &path, Some(&admin), None).await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        for item in page["items"].as_array().unwrap() {
            assert!(
                seen.insert(item["id"].as_str().unwrap().to_owned()),
                "repeat"
            );
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        assert!(pages < 10);
    }
    assert_eq!(seen.len(), 25);
    let (status, bad) = api
        .call("GET", "/v1/customers?cursor=garbage", Some(&admin), None)
        .await;
    assert_eq!(status, 400, "{bad}");
}

#[tokio::test]
async fn a_first_call_moves_a_new_lead_to_consulting() {
    let api = Api::local();
    let (status, _) = api.intake(lead("0934567890")).await;
    assert_eq!(status, 202);
    let id = api.id_of_phone("0934567890").await;
    let admin = api.admin();
    let (_, new) = api
        .call("GET", "/v1/customers/not-consulted", Some(&admin), None)
        .await;
    assert_eq!(new["count"], 1, "{new}");
    assert_eq!(new["label"], "KH mới chưa tư vấn");
    assert_eq!(new["items"][0]["id"], id.as_str());
    api.advance(3600);

    let (status, logged) = api
        .call(
            "POST",
            &format!("/v1/customers/{id}/interactions"),
            Some(&admin),
            Some(json!({
                "type": "call", "direction": "outbound", "duration_seconds": 240,
                "outcome": "answered", "notes": "Tư vấn gói trả góp 12 tháng",
                "feedback": "Quan tâm, hẹn gọi lại", "classification": "potential"
            })),
        )
        .await;
    assert_eq!(status, 201, "{logged}");
    assert_eq!(logged["customer"]["lifecycle"], "consulting");
    assert_eq!(logged["customer"]["classification"], "potential");

    let (_, new) = api
        .call("GET", "/v1/customers/not-consulted", Some(&admin), None)
        .await;
    assert_eq!(new["count"], 0);
    assert_eq!(new["items"], json!([]));
    let (_, recent) = api
        .call(
            "GET",
            &format!("/v1/customers/{id}/activities"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(recent["items"][0]["action"], "Gọi điện");
    assert_eq!(recent["items"][0]["actor"], "root");
    assert_eq!(recent["items"][1]["action"], "Đăng ký mới");
    assert_eq!(recent["items"][1]["source"], "website_form");
}

#[tokio::test]
async fn a_stale_version_is_a_conflict_and_changes_nothing() {
    let api = Api::local();
    let admin = api.admin();
    let created = api
        .create(
            &admin,
            json!({"full_name": "Phạm Thu Hà", "phones": ["0977000111"], "source": "fanpage"}),
        )
        .await;
    let id = created["id"].as_str().unwrap();
    let path = format!("/v1/customers/{id}");
    let (status, updated) = api
        .call(
            "PATCH",
            &path,
            Some(&admin),
            Some(json!({"version": 1, "tags": ["vip"]})),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["version"], 2);
    let (status, conflict) = api
        .call(
            "PATCH",
            &path,
            Some(&admin),
            Some(json!({"version": 1, "tags": ["lost"]})),
        )
        .await;
    assert_eq!(status, 409, "{conflict}");
    assert_eq!(conflict["error"]["code"], "conflict");
    let (_, current) = api.call("GET", &path, Some(&admin), None).await;
    assert_eq!(current["tags"], json!(["vip"]));
    // A phone another customer holds: 409 duplicate, nothing changed.
    api.create(
        &admin,
        json!({"full_name": "Đỗ Minh", "phones": ["0977000222"], "source": "other"}),
    )
    .await;
    let (status, dup) = api
        .call(
            "PATCH",
            &path,
            Some(&admin),
            Some(json!({"version": 2, "phones": ["0977000111", "0977 000 222"]})),
        )
        .await;
    assert_eq!(status, 409, "{dup}");
    assert_eq!(dup["error"]["code"], "duplicate");
    let (_, current) = api.call("GET", &path, Some(&admin), None).await;
    assert_eq!(current["phones"], json!(["+84977000111"]));
    assert_eq!(current["version"], 2);
}

/// A form whose bytes are not UTF-8 once percent-decoded is refused like the same bytes sent
/// as JSON, and nothing is stored; a query string likewise.
#[tokio::test]
async fn a_form_that_is_not_utf8_is_refused_and_stores_nothing() {
    let api = Api::local();
    let forms: [&[u8]; 3] = [
        b"full_name=Nguy%E1%BB+Lan&phone=0912345678",
        b"full_name=Lan&phone=0912345678&message=%FF%FE",
        b"full_name=L\xe1n&phone=0912345678",
    ];
    for form in forms {
        let (status, body) = api
            .post_as(
                "/v1/intake/leads",
                None,
                "application/x-www-form-urlencoded",
                form.to_vec(),
            )
            .await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"]["code"], "invalid_form_encoding", "{body}");
        assert!(body["error"]["fields"].is_object(), "{body}");
    }
    // The same bytes as JSON are refused too.
    assert_eq!(
        api.post_as(
            "/v1/intake/leads",
            None,
            "application/json",
            b"{\"full_name\":\"L\xe1n\",\"phone\":\"0912345678\"}".to_vec(),
        )
        .await
        .0,
        400
    );
    assert_eq!(stored_customers(&api.deps).await.len(), 0);
    assert_eq!(api.deps.queues.events.depth().await.unwrap().visible, 0);

    let (status, body) = api
        .call("GET", "/v1/customers?name=Lan%FF", Some(&api.admin()), None)
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "invalid_query", "{body}");
}

/// Staff entering a phone or e-mail that another customer holds learn whose it is only when
/// their scope covers that customer; a consultant of another team learns only that it cannot
/// be used (no customer id, no "belongs to").
#[tokio::test]
async fn a_taken_phone_names_its_customer_only_to_callers_who_may_see_it() {
    let f = fixture().await;
    let api = &f.api;
    let (_, b1) = api
        .call(
            "GET",
            &format!("/v1/customers/{}", f.b1),
            Some(&api.admin()),
            None,
        )
        .await;
    let bodies = [
        json!({"full_name": "Phạm Văn Nam", "phones": ["0901000001"], "source": "referral"}),
        json!({"full_name": "Phạm Văn Nam", "phones": ["+84 901 000 003"], "source": "referral"}),
    ];
    let holders = [&f.a1, &f.b1];
    // (caller, sees a1 (an/hn), sees b1 (binh/hcm))
    let callers = [
        ("root", Role::Admin, None, true, true),
        ("mai", Role::Manager, Some("hn"), true, false),
        ("hoa", Role::Manager, Some("hcm"), false, true),
        ("cuong", Role::Consultant, Some("hn"), false, false),
        ("binh", Role::Telesales, Some("hcm"), false, true),
    ];
    for (user, role, team, sees_a1, sees_b1) in callers {
        let token = api.token(user, role, team);
        for ((body, holder), sees) in bodies.iter().zip(holders).zip([sees_a1, sees_b1]) {
            let (status, answer) = api
                .call("POST", "/v1/customers", Some(&token), Some(body.clone()))
                .await;
            let who = format!("{user}/{role:?} → {holder}: {answer}");
            assert_eq!(status, 409, "{who}");
            let text = answer.to_string();
            if sees {
                assert_eq!(answer["error"]["code"], "duplicate", "{who}");
                assert!(text.contains(holder.as_str()), "{who}");
            } else {
                assert_eq!(answer["error"]["code"], "identifier_unavailable", "{who}");
                assert!(answer["error"]["fields"]["phone"].is_string(), "{who}");
                assert!(!text.contains(holder.as_str()), "{who}");
                assert!(!text.contains("belongs"), "{who}");
            }
        }
    }
    // Changing one's own customer to another's phone answers the same way.
    let token = api.token("an", Role::Consultant, Some("hn"));
    let (_, a1) = api
        .call(
            "GET",
            &format!("/v1/customers/{}", f.a1),
            Some(&token),
            None,
        )
        .await;
    let (status, answer) = api
        .call(
            "PATCH",
            &format!("/v1/customers/{}", f.a1),
            Some(&token),
            Some(json!({"phones": ["0901000001", "0901000003"], "version": a1["version"]})),
        )
        .await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(
        answer["error"]["code"], "identifier_unavailable",
        "{answer}"
    );
    assert!(!answer.to_string().contains(f.b1.as_str()), "{answer}");
    let (_, after) = api
        .call(
            "GET",
            &format!("/v1/customers/{}", f.b1),
            Some(&api.admin()),
            None,
        )
        .await;
    assert_eq!(after["version"], b1["version"]);
}

/// Every list route checks its parameters the same way: a `limit` outside the documented
/// range (or not a number) and a share outside 0–1 are refused with the JSON error body, never
/// clamped or ignored; the documented bounds themselves are accepted.
#[tokio::test]
async fn every_list_route_refuses_parameters_outside_their_range_with_the_error_body() {
    let api = Api::local();
    let admin = api.admin();
    let customer = api
        .create(
            &admin,
            json!({"full_name": "Hồ Văn Tâm", "phones": ["0907000001"], "source": "referral"}),
        )
        .await;
    let id = customer["id"].as_str().unwrap();
    // (path, its largest limit, whether it answers 200 here at that limit)
    let routes = [
        ("/v1/customers?".to_owned(), 100, true),
        ("/v1/customers/not-consulted?".to_owned(), 100, true),
        ("/v1/reports/product-usage?".to_owned(), 100, true),
        (format!("/v1/customers/{id}/timeline?"), 100, true),
        (format!("/v1/customers/{id}/messages?"), 100, true),
        ("/v1/me/notifications?".to_owned(), 100, true),
        ("/v1/tickets?queue=telesales&".to_owned(), 200, true),
        (
            "/v1/journeys/no-such-journey/enrollments?".to_owned(),
            500,
            false,
        ),
    ];
    for (path, max, answers) in &routes {
        for bad in ["0".to_owned(), (max + 1).to_string(), "100000".to_owned()] {
            let (status, body) = api
                .call("GET", &format!("{path}limit={bad}"), Some(&admin), None)
                .await;
            assert_eq!(status, 400, "{path}limit={bad}: {body}");
            assert_eq!(
                body["error"]["code"], "invalid_query",
                "{path}limit={bad}: {body}"
            );
            assert_eq!(
                body["error"]["fields"]["limit"],
                format!("1–{max}"),
                "{path}limit={bad}: {body}"
            );
        }
        let (status, body) = api
            .call("GET", &format!("{path}limit=lots"), Some(&admin), None)
            .await;
        assert_eq!(status, 400, "{path}limit=lots: {body}");
        assert_eq!(body["error"]["code"], "invalid_query", "{body}");
        if *answers {
            for good in [1, *max] {
                let (status, body) = api
                    .call("GET", &format!("{path}limit={good}"), Some(&admin), None)
                    .await;
                assert_eq!(status, 200, "{path}limit={good}: {body}");
            }
        }
    }
    for path in ["/v1/customers", "/v1/reports/product-usage"] {
        for (query, field) in [
            ("remaining_ratio_min=1.5", "remaining_ratio_min"),
            ("remaining_ratio_max=-0.1", "remaining_ratio_max"),
            (
                "remaining_ratio_min=0.8&remaining_ratio_max=0.2",
                "remaining_ratio_min",
            ),
            (
                "created_from=2026-11-23T00:00:00Z&created_to=2026-11-01T00:00:00Z",
                "created_from",
            ),
        ] {
            let (status, body) = api
                .call("GET", &format!("{path}?{query}"), Some(&admin), None)
                .await;
            assert_eq!(status, 400, "{path}?{query}: {body}");
            assert!(
                body["error"]["fields"][field].is_string(),
                "{path}?{query}: {body}"
            );
        }
        let (status, body) = api
            .call(
                "GET",
                &format!("{path}?remaining_ratio_min=0&remaining_ratio_max=1"),
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(status, 200, "{path}: {body}");
    }
}

/// Every lead's `lead.created` entry is committed in the lead's own transaction, so the
/// events queue carries it marked as recorded: each mark is true (recording again finds the
/// entry), the consumer routes all of them to the bus, and each customer keeps one entry.
#[tokio::test]
async fn twenty_five_leads_are_queued_as_recorded_and_each_keeps_one_timeline_entry() {
    let api = Api::local();
    let phones: Vec<String> = (0..25).map(|n| format!("09123450{n:02}")).collect();
    for (n, phone) in phones.iter().enumerate() {
        let mut body = lead(phone);
        body["email"] = json!(format!("khach{n}@example.vn"));
        let (status, answer) = api.intake(body).await;
        assert_eq!(status, 202, "{answer}");
    }
    let messages = queued_events(&api).await;
    assert_eq!(messages.len(), 25);
    for message in &messages {
        assert_eq!(
            message
                .attributes
                .get(nhip_core::events::RECORDED_ATTRIBUTE)
                .map(String::as_str),
            Some("timeline")
        );
        let event: nhip_domain::event::DomainEvent = serde_json::from_str(&message.body).unwrap();
        let outcome = nhip_core::events::record(&api.deps, &event).await.unwrap();
        assert_eq!(
            outcome,
            nhip_core::events::Recorded::Duplicate,
            "the mark is true"
        );
    }
    api.advance(60);
    assert_eq!(api.drain("events").await, 25);
    let published = api.bus().recent(100).await.unwrap();
    let created = published
        .iter()
        .filter(|e| e.kind == "lead.created")
        .count();
    assert_eq!(created, 25, "every lead reached the bus");
    for phone in &phones {
        let id = api.id_of_phone(phone).await;
        assert_eq!(api.timeline_types(&id).await, ["lead.created"]);
    }
}
