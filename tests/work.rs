//! Work management through the staff API and its use cases: tickets assigned by each queue's
//! rule (round-robin and least-loaded over a team with a disabled member), due after their SLA
//! in business hours (a weekend, Tết, a make-up Saturday), escalated to the manager when late
//! and reassigned, counted per queue; the invitation call held to Decree 91's window.

use chrono::{DateTime, TimeZone, Utc};
use nhip_core::auth::Role;
use nhip_crm::staff::{self, UserInput};
use nhip_domain::customer::Purpose;
use nhip_domain::journey::{Span, TicketPriority, TicketQueue};
use nhip_work::tickets::{self, NewTicket};
use serde_json::{Value, json};

use crate::support::Api;

/// An instant as the API writes it.
fn z(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// A Vietnamese wall-clock instant.
fn vn(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    nhip_domain::time::vn_offset()
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .unwrap()
        .with_timezone(&Utc)
}

async fn add_user(api: &Api, name: &str, role: Role, team: &str, active: bool) {
    let input = UserInput {
        username: name.into(),
        display_name: name.into(),
        role: Some(role),
        team: team.into(),
        active,
        ..UserInput::default()
    };
    staff::create_user(&*api.deps.store, &input, None, api.now())
        .await
        .unwrap();
}

/// Team `ts` managed by `quan`: `an` and `chi` active, `binh` disabled.
async fn telesales_team(api: &Api) {
    add_user(api, "quan", Role::Manager, "", true).await;
    staff::create_team(&*api.deps.store, "ts", "Telesales Hà Nội", "quan")
        .await
        .unwrap();
    let quan = staff::user(&*api.deps.store, "quan")
        .await
        .unwrap()
        .unwrap();
    let input = UserInput {
        username: "quan".into(),
        display_name: "quan".into(),
        role: Some(Role::Manager),
        team: "ts".into(),
        active: true,
        ..UserInput::default()
    };
    staff::update_user(&*api.deps.store, "quan", quan.version, &input, api.now())
        .await
        .unwrap();
    add_user(api, "an", Role::Telesales, "ts", true).await;
    add_user(api, "binh", Role::Telesales, "ts", false).await;
    add_user(api, "chi", Role::Telesales, "ts", true).await;
}

async fn set_rule(api: &Api, queue: &str, assignment: &str) {
    let (_, current) = api
        .admin_call("GET", &format!("/v1/ticket-queues/{queue}/rule"), None)
        .await;
    api.admin_ok(
        "PUT",
        &format!("/v1/ticket-queues/{queue}/rule"),
        Some(json!({"version": current["version"], "rule": {"assignment": assignment, "team": "ts"}})),
    )
    .await;
}

fn request(customer: &str, queue: TicketQueue, cause: &str, sla: Span) -> NewTicket {
    NewTicket {
        cause: cause.into(),
        customer_id: customer.parse().unwrap(),
        queue,
        priority: TicketPriority::Normal,
        sla: Some(sla),
        due_at: None,
        title: "Gọi mời đăng ký trả góp".into(),
        source: json!({"kind": "journey", "journey": format!("j-{cause}"), "step": "goi"}),
        assignee: None,
        purpose: Purpose::Care,
    }
}

async fn customer(api: &Api, n: usize) -> String {
    api.create_id(json!({
        "full_name": format!("Khách Hàng {n}"),
        "phones": [format!("09123{n:05}")],
        "source": "assigned",
    }))
    .await
}

async fn ticket_of(api: &Api, cause: &str) -> Value {
    let id = nhip_crm::tickets::ticket_id(cause);
    api.admin_get(&format!("/v1/tickets/{id}")).await
}

#[tokio::test]
async fn round_robin_and_least_loaded_skip_the_disabled_member() {
    let api = Api::local();
    telesales_team(&api).await;
    set_rule(&api, "telesales", "round_robin").await;
    let mut assignees = Vec::new();
    for n in 0..24 {
        let customer = customer(&api, n).await;
        let cause = format!("rr-{n}");
        tickets::create(
            &api.deps,
            request(
                &customer,
                TicketQueue::Telesales,
                &cause,
                Span::from_hours(4),
            ),
        )
        .await
        .unwrap();
        let ticket = ticket_of(&api, &cause).await;
        assignees.push(ticket["assignee"].as_str().unwrap().to_owned());
        assert_eq!(ticket["team"], "ts");
    }
    // In turn, never the disabled member nor the manager.
    assert_eq!(assignees.iter().filter(|a| *a == "an").count(), 12);
    assert_eq!(assignees.iter().filter(|a| *a == "chi").count(), 12);
    assert!(assignees.windows(2).all(|w| w[0] != w[1]), "{assignees:?}");

    // Least-loaded: `an` closes three of hers, so the next three go to her, then in turn.
    set_rule(&api, "cskh", "least_loaded").await;
    let an = api.token("an", Role::Telesales, Some("ts"));
    let (_, mine) = api
        .call("GET", "/v1/tickets?view=mine&limit=3", Some(&an), None)
        .await;
    for ticket in mine["items"].as_array().unwrap() {
        let (status, body) = api
            .call(
                "POST",
                &format!("/v1/tickets/{}/status", ticket["id"].as_str().unwrap()),
                Some(&an),
                Some(json!({"status": "lost", "note": "Khách không có nhu cầu", "version": ticket["version"]})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let mut least = Vec::new();
    for n in 0..5 {
        let customer = customer(&api, 100 + n).await;
        let cause = format!("ll-{n}");
        tickets::create(
            &api.deps,
            request(&customer, TicketQueue::Cskh, &cause, Span::from_hours(4)),
        )
        .await
        .unwrap();
        least.push(
            ticket_of(&api, &cause).await["assignee"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(
        least,
        ["an", "an", "an", "an", "chi"],
        "9 open for an, 12 for chi first"
    );
}

#[tokio::test]
async fn sla_counts_business_hours_across_a_weekend_tet_and_a_make_up_saturday() {
    let api = Api::local();
    // The government's decision for early 2027, as an admin enters it: Saturday 9 January is
    // worked in exchange for Monday 4 January.
    let (_, calendar) = api
        .admin_call("GET", "/v1/settings/work-calendar", None)
        .await;
    let mut edited = calendar["calendar"].clone();
    edited["days_off"] = json!(["2027-01-04"]);
    edited["working_days"] = json!(["2027-01-09"]);
    api.admin_ok(
        "PUT",
        "/v1/settings/work-calendar",
        Some(json!({"version": calendar["version"], "calendar": edited})),
    )
    .await;
    let customer = customer(&api, 1).await;
    let cases = [
        // Friday 15:00 + 4 working hours: two on Friday, two on Monday morning.
        (
            vn(2026, 11, 27, 15, 0),
            Span::from_hours(4),
            vn(2026, 11, 30, 10, 0),
        ),
        // A day's SLA: the same time the next working day (1 January, the weekend and the
        // Monday given for the make-up Saturday are off).
        (
            vn(2026, 12, 31, 10, 0),
            Span::from_days(1),
            vn(2027, 1, 5, 10, 0),
        ),
        // Friday 8 January 16:00 + 2h: one on Friday, one on the make-up Saturday.
        (
            vn(2027, 1, 8, 16, 0),
            Span::from_hours(2),
            vn(2027, 1, 9, 9, 0),
        ),
        // Lunch is not working time: 11:00 + 2h is 14:00.
        (
            vn(2027, 1, 12, 11, 0),
            Span::from_hours(2),
            vn(2027, 1, 12, 14, 0),
        ),
        // Thursday 16:00 before Tết 2027 (lunar new year on Saturday 6 February): Friday 5
        // (the eve) to Tuesday 9 are off, and Wednesday 10 and Thursday 11 make up for the
        // weekend days of Tết.
        (
            vn(2027, 2, 4, 16, 0),
            Span::from_hours(4),
            vn(2027, 2, 12, 11, 0),
        ),
    ];
    for (n, (at, sla, due)) in cases.into_iter().enumerate() {
        api.clock().advance_to(at);
        let cause = format!("sla-{n}");
        tickets::create(&api.deps, request(&customer, TicketQueue::Rm, &cause, sla))
            .await
            .unwrap();
        let ticket = ticket_of(&api, &cause).await;
        assert_eq!(
            ticket["due_at"].as_str().unwrap(),
            z(due),
            "case {n} opened {at}"
        );
    }
}

#[tokio::test]
async fn an_overdue_ticket_rings_the_managers_bell_and_is_reassigned() {
    let api = Api::local();
    telesales_team(&api).await;
    set_rule(&api, "telesales", "round_robin").await;
    let customer = customer(&api, 7).await;
    // Monday 09:00, one working hour.
    tickets::create(
        &api.deps,
        request(
            &customer,
            TicketQueue::Telesales,
            "late",
            Span::from_hours(1),
        ),
    )
    .await
    .unwrap();
    let ticket = ticket_of(&api, "late").await;
    assert_eq!(ticket["assignee"], "an");
    assert_eq!(ticket["due_at"], z(vn(2026, 11, 23, 10, 0)));
    let quan = api.token("quan", Role::Manager, Some("ts"));
    let bell = |token: String| {
        let api = &api;
        async move {
            let (status, body) = api
                .call("GET", "/v1/me/notifications", Some(&token), None)
                .await;
            assert_eq!(status, 200, "{body}");
            body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["title"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    // Not due yet: nothing.
    api.clock().advance_to(vn(2026, 11, 23, 9, 59));
    nhip_api::tick::tick(&api.deps).await.unwrap();
    assert!(bell(quan.clone()).await.is_empty());
    // Due: the manager hears, once however often the tick runs.
    api.clock().advance_to(vn(2026, 11, 23, 10, 1));
    nhip_api::tick::tick(&api.deps).await.unwrap();
    nhip_api::tick::tick(&api.deps).await.unwrap();
    assert_eq!(
        bell(quan.clone()).await,
        ["Phiếu quá hạn: Gọi mời đăng ký trả góp: Khách Hàng 7"]
    );
    let (_, overdue) = api
        .call(
            "GET",
            "/v1/tickets?view=overdue&queue=telesales",
            Some(&quan),
            None,
        )
        .await;
    assert_eq!(overdue["items"].as_array().unwrap().len(), 1, "{overdue}");
    let ticket = ticket_of(&api, "late").await;
    assert!(ticket["escalated_at"].is_string());
    // A telesales member may not reassign; the manager may, to an active member only.
    let an = api.token("an", Role::Telesales, Some("ts"));
    let path = format!("/v1/tickets/{}/assignee", ticket["id"].as_str().unwrap());
    let (status, body) = api
        .call(
            "POST",
            &path,
            Some(&an),
            Some(json!({"assignee": "chi", "version": ticket["version"]})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    let (status, body) = api
        .call(
            "POST",
            &path,
            Some(&quan),
            Some(json!({"assignee": "binh", "version": ticket["version"]})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = api
        .call(
            "POST",
            &path,
            Some(&quan),
            Some(json!({"assignee": "chi", "version": ticket["version"]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["assignee"], "chi");
    let chi = api.token("chi", Role::Telesales, Some("ts"));
    assert_eq!(
        bell(chi.clone()).await,
        ["Gọi mời đăng ký trả góp: Khách Hàng 7"]
    );
    // Closed late: out of the overdue view, counted late.
    let (status, body) = api
        .call(
            "POST",
            &format!("/v1/tickets/{}/status", body["id"].as_str().unwrap()),
            Some(&chi),
            Some(json!({"status": "won", "note": "Khách đã đăng ký", "version": body["version"]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, overdue) = api
        .call(
            "GET",
            "/v1/tickets?view=overdue&queue=telesales",
            Some(&quan),
            None,
        )
        .await;
    assert!(overdue["items"].as_array().unwrap().is_empty(), "{overdue}");
    let (status, stats) = api
        .call("GET", "/v1/tickets/stats", Some(&quan), None)
        .await;
    assert_eq!(status, 200, "{stats}");
    let telesales = &stats["queues"][0];
    assert_eq!(telesales["queue"], "telesales");
    assert_eq!(telesales["by_status"]["won"], 1);
    assert_eq!(telesales["escalated"], 1);
    assert_eq!(telesales["closed_late"], 1);
    assert_eq!(telesales["sla_compliance_percent"], 0.0);
    let (status, _) = api.call("GET", "/v1/tickets/stats", Some(&an), None).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn an_invitation_call_keeps_to_decree_91() {
    let api = Api::local();
    let customer = customer(&api, 9).await;
    let mut invite = request(&customer, TicketQueue::Telesales, "moi", Span::from_days(2));
    invite.purpose = Purpose::Marketing;
    tickets::create(&api.deps, invite).await.unwrap();
    let ticket = ticket_of(&api, "moi").await;
    let id = ticket["id"].as_str().unwrap().to_owned();
    let plan = |at: DateTime<Utc>, version: &Value| {
        let api = &api;
        let id = id.clone();
        let version = version.clone();
        async move {
            api.admin_call(
                "POST",
                &format!("/v1/tickets/{id}/call-plan"),
                Some(json!({"at": z(at), "version": version})),
            )
            .await
        }
    };
    // Friday 17:30 is after the window: offered Monday 08:00.
    api.clock().advance_to(vn(2026, 11, 27, 16, 0));
    let (status, body) = plan(vn(2026, 11, 27, 17, 30), &ticket["version"]).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "outside_call_window");
    assert_eq!(
        body["error"]["fields"]["next_allowed_at"],
        z(vn(2026, 11, 30, 8, 0))
    );
    // The agent sees the same.
    api.clock().advance_to(vn(2026, 11, 27, 17, 30));
    let detail = api.admin_get(&format!("/v1/tickets/{id}")).await;
    assert_eq!(
        detail["next_call"],
        json!({"call": "from", "at": z(vn(2026, 11, 30, 8, 0))})
    );
    let (status, body) = plan(vn(2026, 11, 30, 9, 0), &ticket["version"]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["call_at"], z(vn(2026, 11, 30, 9, 0)));
    // Monday 09:00 the call is made and logged: the ticket is taken, the timeline has it, and
    // the number's advertising call of 24 hours is used.
    api.clock().advance_to(vn(2026, 11, 30, 9, 5));
    let (status, body) = api
        .admin_call(
            "POST",
            &format!("/v1/tickets/{id}/calls"),
            Some(json!({"outcome": "callback_requested", "duration_seconds": 120, "notes": "Khách hẹn gọi lại chiều mai"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "in_progress");
    let timeline = api
        .admin_get(&format!("/v1/customers/{customer}/timeline"))
        .await;
    assert!(
        timeline["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event_type"] == "interaction.call" && e["data"]["ticket_id"] == id),
        "{timeline}"
    );
    let (status, body) = plan(vn(2026, 11, 30, 15, 0), &body["version"]).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["error"]["fields"]["next_allowed_at"],
        z(vn(2026, 12, 1, 9, 5))
    );
    // On the do-not-call list: never.
    let (status, body) = api
        .admin_call(
            "POST",
            "/v1/do-not-advertise",
            Some(json!({"numbers": ["0912300009"]})),
        )
        .await;
    assert!((200..300).contains(&status), "{body}");
    let ticket = ticket_of(&api, "moi").await;
    let (status, body) = plan(vn(2026, 12, 2, 9, 0), &ticket["version"]).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("do_not_call")),
        "{body}"
    );
}
