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

#[tokio::test]
async fn a_task_reminds_needs_a_completion_comment_and_tells_the_assigner() {
    let api = Api::local();
    telesales_team(&api).await;
    let quan = api.token("quan", Role::Manager, Some("ts"));
    let an = api.token("an", Role::Telesales, Some("ts"));
    let chi = api.token("chi", Role::Telesales, Some("ts"));
    let bell = |token: String| {
        let api = &api;
        async move {
            let (_, body) = api
                .call("GET", "/v1/me/notifications", Some(&token), None)
                .await;
            body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| {
                    format!(
                        "{} | {}",
                        n["title"].as_str().unwrap(),
                        n["body"].as_str().unwrap()
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    // The manager gives `an` a task due Wednesday 17:00, reminded two hours before.
    let (status, task) = api
        .call(
            "POST",
            "/v1/tasks",
            Some(&quan),
            Some(json!({
                "title": "Gọi lại 20 khách chưa kích hoạt thẻ",
                "description": "Danh sách trong báo cáo tuần",
                "assignee": "an",
                "deadline": z(vn(2026, 11, 25, 17, 0)),
                "priority": "high",
                "remind_minutes": 120,
            })),
        )
        .await;
    assert_eq!(status, 201, "{task}");
    assert_eq!(task["status"], "open");
    assert_eq!(
        bell(an.clone()).await,
        ["Gọi lại 20 khách chưa kích hoạt thẻ | quan giao việc cho bạn"]
    );
    // A member may not give a peer a task, nor see the peer's.
    let (status, _) = api
        .call(
            "POST",
            "/v1/tasks",
            Some(&chi),
            Some(json!({"title": "Việc của an", "assignee": "an", "deadline": z(vn(2026, 11, 26, 9, 0))})),
        )
        .await;
    assert_eq!(status, 403);
    let id = task["id"].as_str().unwrap();
    let (status, _) = api
        .call("GET", &format!("/v1/tasks/{id}"), Some(&chi), None)
        .await;
    assert_eq!(status, 404);
    // The reminder: nothing at 14:59 on Wednesday, the bell at 15:00, once.
    api.clock().advance_to(vn(2026, 11, 25, 14, 59));
    nhip_api::tick::tick(&api.deps).await.unwrap();
    assert_eq!(bell(an.clone()).await.len(), 1);
    api.clock().advance_to(vn(2026, 11, 25, 15, 0));
    nhip_api::tick::tick(&api.deps).await.unwrap();
    nhip_api::tick::tick(&api.deps).await.unwrap();
    let rung = bell(an.clone()).await;
    assert_eq!(rung.len(), 2, "{rung:?}");
    assert_eq!(
        rung[0],
        "Gọi lại 20 khách chưa kích hoạt thẻ | Sắp đến hạn: 17:00 25/11/2026"
    );
    // A comment rings the other side.
    let (status, _) = api
        .call(
            "POST",
            &format!("/v1/tasks/{id}/comments"),
            Some(&an),
            Some(json!({"text": "Đã gọi 12 khách"})),
        )
        .await;
    assert_eq!(status, 200);
    // "Đã hoàn thành" needs its comment; then the manager hears (newest first).
    api.advance(60);
    let task = api.admin_get(&format!("/v1/tasks/{id}")).await;
    let (status, body) = api
        .call(
            "POST",
            &format!("/v1/tasks/{id}/complete"),
            Some(&an),
            Some(json!({"comment": "  ", "version": task["version"]})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["fields"]["comment"].is_string()),
        (422, true),
        "{body}"
    );
    let (status, body) = api
        .call(
            "POST",
            &format!("/v1/tasks/{id}/complete"),
            Some(&an),
            Some(json!({"comment": "Đã gọi đủ 20 khách, 7 khách kích hoạt", "version": task["version"]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status_label"], "Đã hoàn thành");
    assert_eq!(
        bell(quan.clone()).await,
        [
            "Gọi lại 20 khách chưa kích hoạt thẻ | an đã hoàn thành: Đã gọi đủ 20 khách, 7 khách kích hoạt",
            "Gọi lại 20 khách chưa kích hoạt thẻ | an: Đã gọi 12 khách",
        ]
    );
    let (status, _) = api
        .call(
            "POST",
            &format!("/v1/tasks/{id}/complete"),
            Some(&an),
            Some(json!({"comment": "Lần nữa", "version": body["version"]})),
        )
        .await;
    assert_eq!(status, 409);
}

#[tokio::test]
async fn the_week_view_crosses_a_month_and_counts_each_persons_progress() {
    let api = Api::local();
    telesales_team(&api).await;
    let quan = api.token("quan", Role::Manager, Some("ts"));
    // Monday 30/11 to Sunday 6/12: tasks on 30/11, 1/12 and 6/12 are in; 29/11 and 7/12 not.
    let give = |assignee: &'static str, at: DateTime<Utc>, title: &'static str| {
        let api = &api;
        let quan = quan.clone();
        async move {
            let (status, body) = api
                .call(
                    "POST",
                    "/v1/tasks",
                    Some(&quan),
                    Some(json!({"title": title, "assignee": assignee, "deadline": z(at), "remind_minutes": 0})),
                )
                .await;
            assert_eq!(status, 201, "{body}");
            body
        }
    };
    give("an", vn(2026, 11, 29, 10, 0), "Chủ nhật trước").await;
    let monday = give("an", vn(2026, 11, 30, 9, 0), "Thứ hai").await;
    give("chi", vn(2026, 12, 1, 9, 0), "Thứ ba, tháng mới").await;
    give("an", vn(2026, 12, 6, 23, 0), "Chủ nhật").await;
    give("an", vn(2026, 12, 7, 8, 0), "Tuần sau").await;
    let an = api.token("an", Role::Telesales, Some("ts"));
    let (status, _) = api
        .call(
            "POST",
            &format!("/v1/tasks/{}/complete", monday["id"].as_str().unwrap()),
            Some(&an),
            Some(json!({"comment": "Xong", "version": monday["version"]})),
        )
        .await;
    assert_eq!(status, 200);
    // Wednesday 2/12: the Tuesday task is overdue.
    api.clock().advance_to(vn(2026, 12, 2, 12, 0));
    let (status, week) = api
        .call(
            "GET",
            "/v1/tasks?view=given&period=week&date=2026-12-02",
            Some(&quan),
            None,
        )
        .await;
    assert_eq!(status, 200, "{week}");
    let titles: Vec<&str> = week["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Thứ hai", "Thứ ba, tháng mới", "Chủ nhật"]);
    assert_eq!(
        week["progress"],
        json!([
            {"assignee": "an", "done": 1, "open": 1, "overdue": 0},
            {"assignee": "chi", "done": 0, "open": 0, "overdue": 1},
        ])
    );
    // The month of November holds only the two November tasks; a day one.
    let (_, month) = api
        .call(
            "GET",
            "/v1/tasks?view=given&period=month&date=2026-11-15",
            Some(&quan),
            None,
        )
        .await;
    assert_eq!(month["items"].as_array().unwrap().len(), 2);
    let (_, day) = api
        .call(
            "GET",
            "/v1/tasks?view=of&assignee=an&period=day&date=2026-12-06",
            Some(&quan),
            None,
        )
        .await;
    assert_eq!(day["items"][0]["title"], "Chủ nhật");
    // An agent reads their own; the company view is for admins.
    let (status, _) = api
        .call("GET", "/v1/tasks?view=company", Some(&quan), None)
        .await;
    assert_eq!(status, 403);
    let company = api
        .admin_get("/v1/tasks?view=company&period=month&date=2026-12-01")
        .await;
    assert_eq!(company["items"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn next_actions_are_completed_rescheduled_and_cancelled_on_the_agenda() {
    let api = Api::local();
    let lan = api.token("lan", Role::Consultant, Some("hn"));
    let customer = api
        .create_assigned(
            json!({"full_name": "Đặng Thu Hà", "phones": ["0912555666"], "source": "assigned"}),
            "lan",
            "hn",
        )
        .await;
    let schedule = |at: DateTime<Utc>, note: &'static str| {
        let api = &api;
        let lan = lan.clone();
        let customer = customer.clone();
        async move {
            let (status, body) = api
                .call(
                    "POST",
                    &format!("/v1/customers/{customer}/next-actions"),
                    Some(&lan),
                    Some(json!({"type": "call", "at": z(at), "note": note})),
                )
                .await;
            assert_eq!(status, 201, "{body}");
            body["id"].as_str().unwrap().to_owned()
        }
    };
    let first = schedule(vn(2026, 11, 23, 10, 0), "Gọi tư vấn").await;
    let second = schedule(vn(2026, 11, 24, 9, 0), "Hẹn gặp").await;
    let third = schedule(vn(2026, 11, 26, 15, 0), "Nhắc hồ sơ").await;
    let act = |action: String, what: &'static str, body: Value| {
        let api = &api;
        let lan = lan.clone();
        let customer = customer.clone();
        async move {
            api.call(
                "POST",
                &format!("/v1/customers/{customer}/next-actions/{action}/{what}"),
                Some(&lan),
                Some(body),
            )
            .await
        }
    };
    // The first is done, with the call logged in the same step.
    let (status, body) = act(
        first.clone(),
        "complete",
        json!({"interaction": {"type": "call", "direction": "outbound", "outcome": "answered", "notes": "Khách đồng ý mở thẻ"}}),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let (status, _) = act(first.clone(), "cancel", json!({})).await;
    assert_eq!(status, 409);
    // The second moves to Wednesday 10:00; the third is cancelled.
    let (status, body) = act(
        second.clone(),
        "reschedule",
        json!({"at": z(vn(2026, 11, 25, 10, 0))}),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let (status, _) = act(third.clone(), "cancel", json!({})).await;
    assert_eq!(status, 204);
    // At its old time the moved action rings nobody; at its new time it does.
    let bell = || async {
        let (_, body) = api
            .call("GET", "/v1/me/notifications", Some(&lan), None)
            .await;
        body["items"].as_array().unwrap().len()
    };
    api.clock().advance_to(vn(2026, 11, 24, 9, 1));
    nhip_api::tick::tick(&api.deps).await.unwrap();
    assert_eq!(bell().await, 0);
    api.clock().advance_to(vn(2026, 11, 25, 10, 1));
    nhip_api::tick::tick(&api.deps).await.unwrap();
    assert_eq!(bell().await, 1);
    api.clock().advance_to(vn(2026, 11, 26, 15, 1));
    nhip_api::tick::tick(&api.deps).await.unwrap();
    assert_eq!(bell().await, 1, "the cancelled action rings nobody");
    // The week's agenda: the moved one is overdue (not done), the others closed.
    let (status, agenda) = api
        .call(
            "GET",
            "/v1/me/agenda?period=week&date=2026-11-23",
            Some(&lan),
            None,
        )
        .await;
    assert_eq!(status, 200, "{agenda}");
    let seen: Vec<String> = agenda["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            format!(
                "{} {} {}",
                a["action"]["note"].as_str().unwrap(),
                a["action"]["status"].as_str().unwrap(),
                a["overdue"]
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            "Gọi tư vấn done false",
            "Hẹn gặp due true",
            "Nhắc hồ sơ cancelled false"
        ]
    );
    let timeline = api
        .admin_get(&format!("/v1/customers/{customer}/timeline"))
        .await;
    let types: Vec<&str> = timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    for expected in [
        "interaction.call",
        "next_action.done",
        "next_action.rescheduled",
        "next_action.cancelled",
    ] {
        assert!(types.contains(&expected), "{types:?}");
    }
}

#[tokio::test]
async fn work_routes_refuse_callers_outside_their_scope() {
    let api = Api::local();
    telesales_team(&api).await;
    set_rule(&api, "telesales", "round_robin").await;
    let outsider = api.token("lan", Role::Consultant, Some("hn"));
    let other_manager = api.token("hung", Role::Manager, Some("hn"));
    let customer = customer(&api, 5).await;
    let mut invite = request(
        &customer,
        TicketQueue::Telesales,
        "scope",
        Span::from_hours(4),
    );
    invite.purpose = Purpose::Marketing;
    tickets::create(&api.deps, invite).await.unwrap();
    let ticket = ticket_of(&api, "scope").await;
    let id = ticket["id"].as_str().unwrap();
    let version = ticket["version"].clone();
    // A consultant of another team sees nothing of the ticket, and changes nothing.
    for (method, path, body) in [
        ("GET", format!("/v1/tickets/{id}"), None),
        (
            "POST",
            format!("/v1/tickets/{id}/status"),
            Some(json!({"status": "in_progress", "version": version})),
        ),
        (
            "POST",
            format!("/v1/tickets/{id}/calls"),
            Some(json!({"outcome": "answered"})),
        ),
        (
            "POST",
            format!("/v1/tickets/{id}/call-plan"),
            Some(json!({"at": z(vn(2026, 11, 24, 9, 0)), "version": version})),
        ),
    ] {
        let (status, answer) = api.call(method, &path, Some(&outsider), body).await;
        assert_eq!(status, 404, "{method} {path}: {answer}");
    }
    // Another team's manager may not reassign it either.
    let (status, _) = api
        .call(
            "POST",
            &format!("/v1/tickets/{id}/assignee"),
            Some(&other_manager),
            Some(json!({"assignee": "chi", "version": version})),
        )
        .await;
    assert_eq!(status, 404);
    // Only an admin sets a queue's rule or the working calendar.
    let (status, _) = api
        .call(
            "PUT",
            "/v1/ticket-queues/rm/rule",
            Some(&other_manager),
            Some(json!({"version": 0, "rule": {"assignment": "queue"}})),
        )
        .await;
    assert_eq!(status, 403);
    let (_, calendar) = api
        .admin_call("GET", "/v1/settings/work-calendar", None)
        .await;
    let (status, _) = api
        .call(
            "PUT",
            "/v1/settings/work-calendar",
            Some(&other_manager),
            Some(json!({"version": calendar["version"], "calendar": calendar["calendar"]})),
        )
        .await;
    assert_eq!(status, 403);
    // A misspelt calendar field is refused, not dropped.
    let (status, body) = api
        .admin_call(
            "PUT",
            "/v1/settings/work-calendar",
            Some(json!({"version": calendar["version"], "calendar": {"days_of": ["2027-01-04"]}})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    // Someone else's next actions: not found.
    let owned = api
        .create_assigned(
            json!({"full_name": "Kiều Văn Nam", "phones": ["0912666777"], "source": "assigned"}),
            "an",
            "ts",
        )
        .await;
    let an = api.token("an", Role::Telesales, Some("ts"));
    let (_, action) = api
        .call(
            "POST",
            &format!("/v1/customers/{owned}/next-actions"),
            Some(&an),
            Some(json!({"type": "call", "at": z(vn(2026, 11, 24, 9, 0))})),
        )
        .await;
    let action = action["id"].as_str().unwrap();
    for what in ["complete", "cancel"] {
        let (status, _) = api
            .call(
                "POST",
                &format!("/v1/customers/{owned}/next-actions/{action}/{what}"),
                Some(&outsider),
                Some(json!({})),
            )
            .await;
        assert_eq!(status, 404, "{what}");
    }
    let (status, _) = api
        .call(
            "POST",
            &format!("/v1/customers/{owned}/next-actions/{action}/reschedule"),
            Some(&outsider),
            Some(json!({"at": z(vn(2026, 11, 25, 9, 0))})),
        )
        .await;
    assert_eq!(status, 404);
    // And their agenda is their own.
    let (_, agenda) = api
        .call(
            "GET",
            "/v1/me/agenda?date=2026-11-24",
            Some(&outsider),
            None,
        )
        .await;
    assert!(agenda["actions"].as_array().unwrap().is_empty(), "{agenda}");
}
