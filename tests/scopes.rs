//! The scope matrix beyond the customer record: messages, journeys and tickets, called by
//! every role of two teams. A caller sees what belongs to the customers in their scope (admin:
//! all; manager: their team; everyone else: the customers they own) and, for a ticket assigned
//! to them, that ticket and its customer; everything else answers 404 or is absent from lists,
//! and the admin-only routes answer 403 to every other role.

use nhip_core::auth::Role;
use nhip_domain::journey::{TicketPriority, TicketQueue};
use serde_json::{Value, json};

use crate::support::Api;

const CARD_JOURNEY: &str = "the-moi-kich-hoat";

struct World {
    api: Api,
    /// Owned by `an` of team `hn`.
    a1: String,
    /// Owned by `binh` of team `hcm`.
    b1: String,
    /// The welcome e-mail of each.
    message_a1: String,
    message_b1: String,
    /// a1's telesales ticket, assigned to `cuong` (an agent of `hn` who does not own a1).
    ticket_a1: String,
    /// b1's telesales ticket, unassigned.
    ticket_b1: String,
}

async fn world() -> World {
    let api = Api::local();
    let admin = api.admin();
    let (status, body) = api
        .call(
            "POST",
            &format!("/v1/journeys/seeds/{CARD_JOURNEY}/install"),
            Some(&admin),
            None,
        )
        .await;
    assert!(status == 200 || status == 201, "{status} {body}");
    let mut ids = Vec::new();
    for (name, owner, team, phone, email) in [
        ("Trần Thị Lan", "an", "hn", "0901000001", "lan@example.vn"),
        (
            "Lê Văn Bình",
            "binh",
            "hcm",
            "0901000003",
            "binh@example.vn",
        ),
    ] {
        let id = api
            .create_assigned(
                json!({"full_name": name, "phones": [phone], "emails": [email],
                       "source": "referral", "owner": owner, "consents": ["email:care"]}),
                owner,
                team,
            )
            .await;
        ids.push(id);
    }
    let events: Vec<Value> = ids
        .iter()
        .map(|id| json!({"id": format!("issued-{id}"), "type": "card.issued", "customer": {"id": id}}))
        .collect();
    let (status, body) = api
        .call(
            "POST",
            "/v1/events",
            Some(&admin),
            Some(json!({"source": "core-banking", "events": events})),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    api.settle().await;
    let mut messages = Vec::new();
    for id in &ids {
        let (status, list) = api
            .call(
                "GET",
                &format!("/v1/customers/{id}/messages"),
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(status, 200, "{list}");
        messages.push(
            list["items"][0]["id"]
                .as_str()
                .expect("a welcome e-mail")
                .to_owned(),
        );
    }
    let mut tickets = Vec::new();
    for (id, assignee) in [(&ids[0], Some("cuong")), (&ids[1], None)] {
        let cause = format!("scope-test#{id}");
        nhip_work::tickets::create(
            &api.deps,
            nhip_crm::tickets::NewTicket {
                cause: cause.clone(),
                customer_id: id.parse().unwrap(),
                queue: TicketQueue::Telesales,
                priority: TicketPriority::High,
                sla: None,
                due_at: Some(api.deps.clock.now() + chrono::Duration::days(1)),
                purpose: nhip_domain::customer::Purpose::Care,
                title: "Gọi khách quan tâm thẻ".into(),
                source: json!({"test": "scopes"}),
                assignee: assignee.map(str::to_owned),
            },
        )
        .await
        .unwrap();
        tickets.push(nhip_crm::tickets::ticket_id(&cause));
    }
    World {
        a1: ids[0].clone(),
        b1: ids[1].clone(),
        message_a1: messages[0].clone(),
        message_b1: messages[1].clone(),
        ticket_a1: tickets[0].clone(),
        ticket_b1: tickets[1].clone(),
        api,
    }
}

fn ids_in(list: &Value, field: &str) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap_or_else(|| panic!("a list: {list}"))
        .iter()
        .map(|item| item[field].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn messages_journeys_and_tickets_follow_the_customer_scopes_for_every_role() {
    let w = world().await;
    let api = &w.api;
    // (who, role, team, sees a1, sees b1)
    let principals = [
        ("root", Role::Admin, None, true, true),
        ("mai", Role::Manager, Some("hn"), true, false),
        ("hoa", Role::Manager, Some("hcm"), false, true),
        ("an", Role::Consultant, Some("hn"), true, false),
        ("an", Role::Agent, Some("hn"), true, false),
        // Not a1's owner, but the assignee of a1's open ticket: works that customer.
        ("cuong", Role::Agent, Some("hn"), true, false),
        ("binh", Role::Telesales, Some("hcm"), false, true),
        ("dung", Role::Rm, Some("hcm"), false, false),
        ("lan", Role::Consultant, Some("hn"), false, false),
    ];
    for (user, role, team, sees_a1, sees_b1) in principals {
        let token = api.token(user, role, team);
        let who = format!("{user}/{role:?}");
        for (id, message, allowed) in [
            (&w.a1, &w.message_a1, sees_a1),
            (&w.b1, &w.message_b1, sees_b1),
        ] {
            for path in [
                format!("/v1/customers/{id}"),
                format!("/v1/customers/{id}/timeline"),
                format!("/v1/customers/{id}/messages"),
                format!("/v1/customers/{id}/journeys"),
                format!("/v1/messages/{message}"),
            ] {
                let (status, body) = api.call("GET", &path, Some(&token), None).await;
                let expected = if allowed { 200 } else { 404 };
                assert_eq!(status, expected, "{who} GET {path}: {body}");
                if !allowed {
                    assert_eq!(body["error"]["code"], "not_found", "{who} {path}");
                }
            }
        }

        // The journey's active enrollments: only those of customers in scope.
        let (status, list) = api
            .call(
                "GET",
                &format!("/v1/journeys/{CARD_JOURNEY}/enrollments"),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(status, 200, "{who}: {list}");
        // (The assignee of a ticket works that customer; journey lists stay by scope.)
        let a1_in_scope = sees_a1 && user != "cuong";
        let enrolled = ids_in(&list, "customer_id");
        assert_eq!(enrolled.contains(&w.a1), a1_in_scope, "{who}: {enrolled:?}");
        assert_eq!(enrolled.contains(&w.b1), sees_b1, "{who}: {enrolled:?}");
        assert_eq!(
            enrolled.len(),
            usize::from(a1_in_scope) + usize::from(sees_b1),
            "{who}"
        );

        // The telesales queue: the tickets of customers in scope, and one's own.
        let (status, list) = api
            .call("GET", "/v1/tickets?queue=telesales", Some(&token), None)
            .await;
        assert_eq!(status, 200, "{who}: {list}");
        let tickets = ids_in(&list, "id");
        assert_eq!(
            tickets.contains(&w.ticket_a1),
            sees_a1,
            "{who}: {tickets:?}"
        );
        assert_eq!(
            tickets.contains(&w.ticket_b1),
            sees_b1,
            "{who}: {tickets:?}"
        );
        for ticket in list["items"].as_array().unwrap() {
            assert!(
                [&w.a1, &w.b1].contains(&&ticket["customer_id"].as_str().unwrap().to_owned()),
                "{ticket}"
            );
        }
    }
}

#[tokio::test]
async fn admin_only_routes_answer_403_to_every_other_role_and_change_nothing() {
    let w = world().await;
    let api = &w.api;
    let roles = [
        ("mai", Role::Manager, Some("hn")),
        ("an", Role::Consultant, Some("hn")),
        ("cuong", Role::Agent, Some("hn")),
        ("binh", Role::Telesales, Some("hcm")),
        ("dung", Role::Rm, Some("hcm")),
    ];
    let calls: Vec<(&str, String, Option<Value>)> = vec![
        (
            "POST",
            format!("/v1/journeys/{CARD_JOURNEY}/enrollments"),
            Some(json!({"customers": [w.a1]})),
        ),
        (
            "POST",
            "/v1/events".into(),
            Some(json!({"source": "core-banking", "events": [
                {"id": "x-1", "type": "card.activated", "customer": {"id": w.a1}}]})),
        ),
        (
            "POST",
            "/v1/journeys/seeds/tra-gop-moi/install".into(),
            None,
        ),
    ];
    for (user, role, team) in roles {
        let token = api.token(user, role, team);
        for (method, path, body) in &calls {
            let (status, answer) = api.call(method, path, Some(&token), body.clone()).await;
            assert_eq!(status, 403, "{user}/{role:?} {method} {path}: {answer}");
            assert_eq!(answer["error"]["code"], "forbidden", "{answer}");
        }
    }
    // A manager may run a campaign, to the customers of their team only; a consultant may not.
    let preview = |token: String| async move {
        api.call(
            "POST",
            "/v1/campaigns",
            Some(&token),
            Some(
                json!({"name": "Chăm sóc", "purpose": "care", "audience": "all", "dry_run": true,
                        "targets": [{"channel": "email", "template": "the-moi-chao-mung-email"}]}),
            ),
        )
        .await
    };
    let (status, answer) = preview(api.token("mai", Role::Manager, Some("hn"))).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["audience"], 1, "only a1 is in team hn: {answer}");
    let (status, _) = preview(api.token("an", Role::Consultant, Some("hn"))).await;
    assert_eq!(status, 403);
    api.settle().await;
    let (_, list) = api
        .call("GET", "/v1/journeys", Some(&api.admin()), None)
        .await;
    let keys: Vec<_> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["key"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(keys, [CARD_JOURNEY], "no seed installed by a non-admin");
    let (_, timeline) = api
        .call(
            "GET",
            &format!("/v1/customers/{}/timeline", w.a1),
            Some(&api.admin()),
            None,
        )
        .await;
    assert!(
        !timeline.to_string().contains("card.activated"),
        "no event accepted from a non-admin"
    );
}
