//! Next actions fall due through the scheduler and ring the owner's bell once.

use nhip_core::auth::Role;
use serde_json::json;

use crate::support::Api;

#[tokio::test]
async fn a_due_next_action_notifies_the_owner_once() {
    let api = Api::local();
    let an = api.token("an", Role::Consultant, Some("hn"));
    let created = api
        .create(
            &an,
            json!({"full_name": "Võ Thị Hạnh", "phones": ["0933111222"], "source": "referral"}),
        )
        .await;
    let id = created["id"].as_str().unwrap();
    // Tomorrow 09:00 in Viet Nam.
    let (status, action) = api
        .call(
            "POST",
            &format!("/v1/customers/{id}/next-actions"),
            Some(&an),
            Some(json!({"type": "call", "at": "2026-11-24T09:00:00+07:00", "note": "Gọi lại tư vấn BCC"})),
        )
        .await;
    assert_eq!(status, 201, "{action}");
    assert_eq!(action["status"], "scheduled");

    // Nothing is due yet.
    let report = nhip_api::tick::tick(&api.deps).await.unwrap();
    assert_eq!(report.ran, 0);
    let (_, bell) = api
        .call("GET", "/v1/me/notifications", Some(&an), None)
        .await;
    assert_eq!(bell["unread"], 0, "{bell}");

    // A day later the tick fires it; a second tick (or a retried one) rings nothing more.
    api.advance(24 * 3600);
    let report = nhip_api::tick::tick(&api.deps).await.unwrap();
    assert_eq!(report.ran, 1, "{report:?}");
    assert!(
        (24..=26).contains(&report.hours),
        "caught up on a day, an hour bucket at a time: {report:?}"
    );
    let again = nhip_api::tick::tick(&api.deps).await.unwrap();
    assert_eq!(again.ran, 0);
    let an = api.token("an", Role::Consultant, Some("hn"));
    let admin = api.admin();
    let (_, bell) = api
        .call("GET", "/v1/me/notifications", Some(&an), None)
        .await;
    assert_eq!(bell["unread"], 1, "{bell}");
    assert_eq!(bell["items"][0]["title"], "Gọi điện: Võ Thị Hạnh");
    assert_eq!(bell["items"][0]["body"], "Gọi lại tư vấn BCC");
    assert_eq!(bell["not_consulted"], 1);
    let (_, actions) = api
        .call(
            "GET",
            &format!("/v1/customers/{id}/next-actions"),
            Some(&an),
            None,
        )
        .await;
    assert_eq!(actions["items"][0]["status"], "due");

    // Firing the same due work again (a redelivery) notifies nobody twice.
    let due: nhip_domain::ids::DueWorkId = action["id"].as_str().unwrap().parse().unwrap();
    nhip_crm::next_actions::fire(&api.deps, due, id, action["id"].as_str().unwrap())
        .await
        .unwrap();
    let (_, bell) = api
        .call("GET", "/v1/me/notifications", Some(&an), None)
        .await;
    assert_eq!(bell["unread"], 1);
    assert_eq!(bell["items"].as_array().unwrap().len(), 1);

    // Reading it clears the badge; reading twice is harmless; another user cannot see it.
    let nid = bell["items"][0]["id"].as_str().unwrap();
    for _ in 0..2 {
        let (status, read) = api
            .call(
                "POST",
                &format!("/v1/me/notifications/{nid}/read"),
                Some(&an),
                None,
            )
            .await;
        assert_eq!(status, 200, "{read}");
        assert_eq!(read["unread"], 0);
    }
    let (status, _) = api
        .call(
            "POST",
            &format!("/v1/me/notifications/{nid}/read"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 404);
    // Another consultant cannot schedule on this customer.
    let cuong = api.token("cuong", Role::Consultant, Some("hn"));
    let (status, _) = api
        .call(
            "POST",
            &format!("/v1/customers/{id}/next-actions"),
            Some(&cuong),
            Some(json!({"type": "sms", "at": "2026-11-30T09:00:00+07:00"})),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_next_action_in_the_past_is_refused() {
    let api = Api::local();
    let admin = api.admin();
    let created = api
        .create(
            &admin,
            json!({"full_name": "Hồ Văn Nam", "phones": ["0933111333"], "source": "other"}),
        )
        .await;
    let id = created["id"].as_str().unwrap();
    let (status, body) = api
        .call(
            "POST",
            &format!("/v1/customers/{id}/next-actions"),
            Some(&admin),
            Some(json!({"type": "email", "at": "2020-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["fields"]["at"].is_string());
}
