//! Events in from core systems: `POST /v1/events` checks a batch whole, queues it, and the
//! events consumer keeps each `(source, id)` once on the customer's timeline.

use nhip_core::auth::Role;
use serde_json::json;

use crate::support::Api;

#[tokio::test]
async fn a_batch_is_checked_whole_queued_and_kept_once() {
    let api = Api::local();
    let admin = api.admin();
    let customer = api
        .create(
            &admin,
            json!({"full_name": "Lý Thị Thu", "source": "assigned", "phones": ["0903456789"]}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let batch = json!({"source": "card-system", "events": [
        {"id": "ci-1", "type": "card.issued", "customer": {"phone": "+84 903 456 789"}, "occurred_at": "2026-11-23T02:00:00Z", "data": {"last4": "1234"}},
        {"id": "ca-1", "type": "card.activated", "customer": {"id": customer}, "data": {}},
    ]});
    // The source retries the whole batch a minute and a half later: `ca-1` has no
    // `occurred_at`, so each post stamps it with the time it arrived; its identity
    // `(card-system, ca-1)`, not that instant, decides it is the same event.
    for round in 0..2 {
        if round == 1 {
            api.advance(90);
        }
        let (status, body) = api
            .call("POST", "/v1/events", Some(&admin), Some(batch.clone()))
            .await;
        assert_eq!(status, 202, "{body}");
        assert_eq!(body["events"][0]["customer_id"], customer.as_str());
    }
    api.drain("events").await;
    let types = api.timeline_types(&customer).await;
    assert_eq!(
        types.iter().filter(|t| **t == "card.issued").count(),
        1,
        "{types:?}"
    );
    assert_eq!(
        types.iter().filter(|t| **t == "card.activated").count(),
        1,
        "{types:?}"
    );

    // One bad event: 422 naming it, nothing queued.
    let (status, body) = api
        .call("POST", "/v1/events", Some(&admin), Some(json!({"source": "card-system", "events": [
            {"id": "ok-2", "type": "card.transaction", "customer": {"id": customer}, "data": {"amount": 250000}},
            {"id": "bad", "type": "Card Issued", "customer": {"phone": "0999"}},
        ]})))
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["fields"]["events.1.type"].is_string(),
        "{body}"
    );
    assert!(
        body["error"]["fields"]["events.1.customer.phone"].is_string(),
        "{body}"
    );
    let depth = api.deps.queues.events.depth().await.unwrap();
    assert_eq!(depth.visible, 0, "nothing queued");
    // Only admins (core systems' machine clients) post events.
    let agent = api.token("an", Role::Agent, None);
    let (status, _) = api
        .call("POST", "/v1/events", Some(&agent), Some(batch))
        .await;
    assert_eq!(status, 403);
}
