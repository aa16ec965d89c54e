//! Contracts and schedules through the staff API and the daily reminders run: rates only an
//! admin changes (audited, applying to the next contract only), a renewal chain and the
//! customer's lifecycle, the bonus counted officially after the scanned tick, an instalment
//! plan's ladder stopping at payment (at 07:59, and while a reminder is queued), expiry alerts,
//! birthday and holiday greetings once per occasion, and callers outside their scope.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use nhip_contracts::reminders;
use nhip_core::auth::Role;
use serde_json::{Value, json};

use crate::support::Api;

/// A Vietnamese wall-clock instant.
fn vn(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    nhip_domain::time::vn_offset()
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .unwrap()
        .with_timezone(&Utc)
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

async fn investment_product(api: &Api) {
    api.admin_ok(
        "POST",
        "/v1/catalogue/products",
        Some(json!({"code": "bcc-12-thang", "name": "BCC 12 tháng", "kind": "investment"})),
    )
    .await;
}

/// A customer owned by consultant `lan`, with SMS care consent.
async fn lans_customer(api: &Api, n: usize) -> String {
    api.create_assigned(
        json!({
            "full_name": format!("Trần Thị Mai {n}"),
            "phones": [format!("09187{n:05}")],
            "source": "assigned",
            "consents": ["sms:care"],
            "birthday": "1990-12-05",
        }),
        "lan",
        "tu-van",
    )
    .await
}

async fn sign(api: &Api, token: &str, customer: &str, body: Value) -> (u16, Value) {
    api.call(
        "POST",
        &format!("/v1/customers/{customer}/contracts"),
        Some(token),
        Some(body),
    )
    .await
}

fn contract(amount: i64) -> Value {
    json!({"product": "bcc-12-thang", "principal": amount, "term_months": 12, "fee_tier": "phi-10", "active": true})
}

#[tokio::test]
async fn only_an_admin_changes_rates_and_contracts_keep_the_rate_they_were_signed_at() {
    let api = Api::local();
    investment_product(&api).await;
    let lan = api.token("lan", Role::Consultant, Some("tu-van"));
    let customer = lans_customer(&api, 1).await;
    let (status, before) = sign(&api, &lan, &customer, contract(500_000_000)).await;
    assert_eq!(status, 201, "{before}");
    assert_eq!(before["contract"]["contract"]["rate_bp"], 600);
    assert_eq!(before["contract"]["contract"]["fee_bp"], 1000);

    let rates = "/v1/catalogue/products/bcc-12-thang/rates";
    let new_rates = json!({"version": 0, "rates": {"base_rate_bp": 650, "fee_tiers": [
        {"code": "phi-10", "label": "Phí 10%", "fee_bp": 1000},
        {"code": "phi-20", "label": "Phí 20%", "fee_bp": 2000},
    ]}});
    let (status, refused) = api
        .call("PUT", rates, Some(&lan), Some(new_rates.clone()))
        .await;
    assert_eq!(status, 403, "{refused}");
    assert_eq!(refused["error"]["code"], "forbidden");
    let manager = api.token("quang", Role::Manager, Some("tu-van"));
    assert_eq!(
        api.call("PUT", rates, Some(&manager), Some(new_rates.clone()))
            .await
            .0,
        403
    );
    let unchanged = api.admin_get(rates).await;
    assert_eq!(unchanged["version"], 0);
    assert_eq!(unchanged["rates"]["base_rate_bp"], 600);

    api.advance(60);
    let changed = api.admin_ok("PUT", rates, Some(new_rates.clone())).await;
    assert_eq!(changed["version"], 1);
    assert_eq!(changed["changed_by"], "root");
    // A second write at the old version is stale: nothing changes.
    assert_eq!(api.admin_call("PUT", rates, Some(new_rates)).await.0, 409);
    let history = api.admin_get(&format!("{rates}/history")).await;
    let items = history["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["changed_by"], "root");
    assert_eq!(items[0]["old"]["base_rate_bp"], 600);
    assert_eq!(items[0]["new"]["base_rate_bp"], 650);

    let (_, after) = sign(&api, &lan, &customer, contract(300_000_000)).await;
    assert_eq!(after["contract"]["contract"]["rate_bp"], 650);
    assert_eq!(after["contract"]["contract"]["rates_version"], 1);
    let first = before["contract"]["id"].as_str().unwrap();
    let kept = api
        .admin_get(&format!("/v1/customers/{customer}/holdings/{first}"))
        .await;
    assert_eq!(
        kept["contract"]["rate_bp"], 600,
        "signed before: keeps its rate"
    );

    // No rate by hand on a contract, whoever writes it.
    let (status, refused) = api
        .call(
            "PATCH",
            &format!("/v1/customers/{customer}/holdings/{first}"),
            Some(&lan),
            Some(json!({"version": kept["version"], "attributes": {"lai_suat": 9}})),
        )
        .await;
    assert_eq!(status, 422, "{refused}");
    assert!(refused["error"]["fields"]["attributes.lai_suat"].is_string());
    // Nor a settlement by editing the status.
    let (status, _) = api
        .call(
            "PATCH",
            &format!("/v1/customers/{customer}/holdings/{first}"),
            Some(&lan),
            Some(json!({"version": kept["version"], "status": "settled"})),
        )
        .await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn a_renewal_links_two_contracts_and_settling_the_last_makes_a_former_customer() {
    let api = Api::local();
    investment_product(&api).await;
    let lan = api.token("lan", Role::Consultant, Some("tu-van"));
    let customer = lans_customer(&api, 2).await;
    assert_eq!(api.profile(&customer).await["lifecycle"], "new");
    let (_, signed) = sign(
        &api,
        &lan,
        &customer,
        json!({"product": "bcc-12-thang", "principal": 200_000_000, "term_months": 6, "fee_tier": "phi-20", "reference": "HD-001"}),
    )
    .await;
    assert_eq!(signed["contract"]["status"], "pending");
    assert_eq!(signed["customer"]["lifecycle"], "new");
    let id = signed["contract"]["id"].as_str().unwrap().to_owned();
    let path = |action: &str| format!("/v1/customers/{customer}/contracts/{id}/{action}");
    let (status, wrong) = api
        .call(
            "POST",
            &path("settle"),
            Some(&lan),
            Some(json!({"version": 1})),
        )
        .await;
    assert_eq!(status, 409, "a draft is not settled: {wrong}");
    let (status, active) = api
        .call(
            "POST",
            &path("activate"),
            Some(&lan),
            Some(json!({"version": 1})),
        )
        .await;
    assert_eq!(status, 200, "{active}");
    assert_eq!(active["customer"]["lifecycle"], "customer");
    assert_eq!(active["contract"]["contract"]["consultant"], "lan");

    let (status, renewed) = api
        .call(
            "POST",
            &path("renew"),
            Some(&lan),
            Some(json!({"version": 2, "principal": 250_000_000, "reference": "HD-002"})),
        )
        .await;
    assert_eq!(status, 200, "{renewed}");
    let successor = renewed["successor"].clone();
    let successor_id = successor["id"].as_str().unwrap().to_owned();
    assert_eq!(renewed["contract"]["status"], "renewed");
    assert_eq!(
        renewed["contract"]["contract"]["successor"],
        successor_id.as_str()
    );
    assert_eq!(successor["contract"]["predecessor"], id.as_str());
    assert_eq!(successor["status"], "active");
    assert_eq!(successor["amount"], 250_000_000);
    assert_eq!(successor["starts_on"], renewed["contract"]["expires_on"]);
    assert_eq!(successor["contract"]["fee_tier"], "phi-20");
    assert_eq!(renewed["customer"]["lifecycle"], "customer");
    // Renewed once: again is refused, nothing changes.
    let (status, _) = api
        .call(
            "POST",
            &path("renew"),
            Some(&lan),
            Some(json!({"version": 3})),
        )
        .await;
    assert_eq!(status, 409);

    let (status, settled) = api
        .call(
            "POST",
            &format!("/v1/customers/{customer}/contracts/{successor_id}/settle"),
            Some(&lan),
            Some(json!({"version": 1})),
        )
        .await;
    assert_eq!(status, 200, "{settled}");
    assert_eq!(settled["customer"]["lifecycle"], "former");
    let types = api.timeline_types(&customer).await;
    for expected in [
        "contract.signed",
        "contract.activated",
        "contract.renewed",
        "contract.settled",
        "customer.lifecycle_changed",
    ] {
        assert!(
            types.iter().any(|t| t == expected),
            "{expected} in {types:?}"
        );
    }
    let audit = nhip_core::records::read_partition(
        &*api.deps.store,
        nhip_ports::store::Index::Primary,
        &format!("CUS#{customer}"),
        Some(nhip_core::keys::AUDIT_PREFIX),
    )
    .await
    .unwrap();
    let actions: Vec<&str> = audit.iter().filter_map(|e| e["action"].as_str()).collect();
    for expected in [
        "contract.signed",
        "contract.activated",
        "contract.renewed",
        "contract.settled",
        "customer.lifecycle_changed",
    ] {
        assert!(
            types.iter().any(|t| t == expected),
            "{expected} in {types:?}"
        );
    }
    for expected in [
        "contract.signed",
        "contract.activated",
        "contract.renewed",
        "contract.settled",
    ] {
        assert!(
            actions.contains(&expected),
            "{expected} audited: {actions:?}"
        );
    }
}

#[tokio::test]
async fn the_bonus_counts_officially_only_after_the_scanned_tick() {
    let api = Api::local();
    investment_product(&api).await;
    let lan = api.token("lan", Role::Consultant, Some("tu-van"));
    let other = api.token("hoa", Role::Consultant, Some("tu-van"));
    let mut contracts = Vec::new();
    for n in 0..3 {
        let customer = lans_customer(&api, 10 + n).await;
        let (_, signed) = sign(
            &api,
            &lan,
            &customer,
            contract(100_000_000 * (n as i64 + 1)),
        )
        .await;
        contracts.push((
            customer,
            signed["contract"]["id"].as_str().unwrap().to_owned(),
        ));
    }
    let statement = "/v1/bonus-statement?consultant=lan&month=2026-11";
    let (_, before) = api.call("GET", statement, Some(&lan), None).await;
    assert_eq!(
        before["counted"],
        json!({"contracts": 3, "principal": 600_000_000})
    );
    assert_eq!(before["official"], json!({"contracts": 0, "principal": 0}));

    let (customer, id) = &contracts[1];
    let (status, ticked) = api
        .call(
            "POST",
            &format!("/v1/customers/{customer}/contracts/{id}/scan"),
            Some(&lan),
            Some(json!({"version": 1, "scanned": true})),
        )
        .await;
    assert_eq!(status, 200, "{ticked}");
    assert_eq!(ticked["contract"]["contract"]["scanned_by"], "lan");
    let (_, after) = api.call("GET", statement, Some(&lan), None).await;
    assert_eq!(
        after["official"],
        json!({"contracts": 1, "principal": 200_000_000})
    );
    // Unticking is an admin's; another consultant does not see lan's statement.
    let (status, _) = api
        .call(
            "POST",
            &format!("/v1/customers/{customer}/contracts/{id}/scan"),
            Some(&lan),
            Some(json!({"version": 2, "scanned": false})),
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(api.call("GET", statement, Some(&other), None).await.0, 403);
    assert_eq!(api.admin_get(statement).await["official"]["contracts"], 1);
    // hoa cannot sign on, or read the plans of, lan's customer.
    assert_eq!(sign(&api, &other, customer, contract(1)).await.0, 404);
    let plans = format!("/v1/customers/{customer}/installment-plans");
    assert_eq!(api.call("GET", &plans, Some(&other), None).await.0, 404);
}

/// Messages of a customer, as the admin lists them.
async fn messages(api: &Api, customer: &str) -> Vec<Value> {
    api.admin_get(&format!("/v1/customers/{customer}/messages"))
        .await["items"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn the_instalment_ladder_stops_at_payment_even_at_0759_and_while_queued() {
    let api = Api::local();
    let customer = lans_customer(&api, 20).await;
    let plan = api
        .admin_ok(
            "POST",
            &format!("/v1/customers/{customer}/installment-plans"),
            Some(json!({"principal": 12_000_000, "months": 3, "method": "flat", "rate_bp": 199, "first_due": "2026-12-10"})),
        )
        .await;
    let total: i64 = plan["instalments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["amount"].as_i64().unwrap())
        .sum();
    assert_eq!(total, plan["total"].as_i64().unwrap());
    assert_eq!(total, 12_000_000 + 238_800);
    assert_eq!(
        plan["remind_on"], "2026-12-05",
        "D-5 of the first instalment"
    );
    let first = plan["instalments"][0]["amount"].as_i64().unwrap();
    let plan_id = plan["id"].as_str().unwrap().to_owned();
    let pay = format!("/v1/customers/{customer}/installment-plans/{plan_id}/payments");

    // D-5 at 08:00: one reminder, sent once however often the run repeats.
    api.clock().advance_to(vn(2026, 12, 5, 8, 0));
    let report = reminders::run(&api.deps, day(2026, 12, 5)).await.unwrap();
    assert_eq!(report.instalments, 1);
    reminders::run(&api.deps, day(2026, 12, 5)).await.unwrap();
    api.settle().await;
    let sent = messages(&api, &customer).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["status"], "sent");
    assert_eq!(api.outbox().list(1000, None).await.unwrap().len(), 1);

    // D-1 07:59: the first instalment is paid, so the 08:00 run finds nothing for it.
    api.clock().advance_to(vn(2026, 12, 9, 7, 59));
    let paid = api
        .admin_ok(
            "POST",
            &pay,
            Some(json!({"amount": first, "payment_id": "PT-1"})),
        )
        .await;
    assert_eq!(paid["instalments"][0]["state"], "paid");
    assert_eq!(
        paid["remind_on"], "2027-01-05",
        "on to the second instalment's D-5"
    );
    // The same receipt again is recorded once.
    let again = api
        .admin_ok(
            "POST",
            &pay,
            Some(json!({"amount": first, "payment_id": "PT-1"})),
        )
        .await;
    assert_eq!(again["paid_total"], paid["paid_total"]);
    api.clock().advance_to(vn(2026, 12, 9, 8, 0));
    for date in [day(2026, 12, 9), day(2026, 12, 10), day(2026, 12, 11)] {
        assert_eq!(
            reminders::run(&api.deps, date).await.unwrap().instalments,
            0
        );
    }
    api.settle().await;
    assert_eq!(messages(&api, &customer).await.len(), 1);

    // The second instalment's D-5 is queued; a payment arrives before it is sent.
    api.clock().advance_to(vn(2027, 1, 5, 8, 0));
    let before = api
        .admin_get(&format!(
            "/v1/customers/{customer}/installment-plans/{plan_id}"
        ))
        .await;
    assert_eq!(before["remind_on"], "2027-01-05", "{before}");
    let report = reminders::run(&api.deps, day(2027, 1, 5)).await.unwrap();
    assert_eq!(report.instalments, 1, "{report:?}");
    let event = json!({"source": "core-banking", "events": [{"id": "core-pay-2", "type": "payment.received",
        "customer": {"id": customer}, "occurred_at": "2027-01-05T01:00:30Z",
        "data": {"plan_id": plan_id, "amount": 4_079_600}}]});
    api.admin_ok("POST", "/v1/events", Some(event)).await;
    api.drain("events").await;
    api.settle().await;
    let all = messages(&api, &customer).await;
    let withdrawn: Vec<&Value> = all.iter().filter(|m| m["status"] == "withdrawn").collect();
    assert_eq!(withdrawn.len(), 1, "{all:?}");
    assert_eq!(
        api.outbox().list(1000, None).await.unwrap().len(),
        1,
        "nothing more sent"
    );
    let plan = api
        .admin_get(&format!(
            "/v1/customers/{customer}/installment-plans/{plan_id}"
        ))
        .await;
    assert_eq!(plan["instalments"][1]["state"], "paid");
}

#[tokio::test]
async fn greetings_go_once_per_occasion_to_every_customer() {
    let api = Api::local();
    investment_product(&api).await;
    let lan = api.token("lan", Role::Consultant, Some("tu-van"));
    let mut customers = Vec::new();
    for n in 0..22 {
        let customer = lans_customer(&api, 30 + n).await;
        sign(&api, &lan, &customer, contract(10_000_000)).await;
        customers.push(customer);
    }
    // A lead is not greeted.
    api.create_id(json!({"full_name": "Lê Văn Lead", "phones": ["0977000111"], "source": "assigned", "consents": ["sms:care"], "birthday": "1991-12-05"})).await;

    // 5 December: everyone's birthday here.
    api.clock().advance_to(vn(2026, 12, 5, 8, 0));
    let report = reminders::run(&api.deps, day(2026, 12, 5)).await.unwrap();
    assert_eq!(report.greetings, 22);
    reminders::run(&api.deps, day(2026, 12, 5)).await.unwrap();
    api.settle().await;
    assert_eq!(api.outbox().list(1000, None).await.unwrap().len(), 22);

    // Tết Đinh Mùi: Saturday 6 February 2027 in Viet Nam's lunar calendar.
    api.clock().advance_to(vn(2027, 2, 6, 8, 0));
    assert_eq!(
        reminders::run(&api.deps, day(2027, 2, 5))
            .await
            .unwrap()
            .greetings,
        0
    );
    let report = reminders::run(&api.deps, day(2027, 2, 6)).await.unwrap();
    assert_eq!(report.greetings, 22);
    reminders::run(&api.deps, day(2027, 2, 6)).await.unwrap();
    api.settle().await;
    let sent = api.outbox().list(1000, None).await.unwrap();
    assert_eq!(sent.len(), 44);
    let tet = messages(&api, &customers[0]).await;
    assert_eq!(tet.len(), 2);
}

#[tokio::test]
async fn an_expiring_contract_alerts_the_customer_and_the_consultant_until_renewed() {
    let api = Api::local();
    investment_product(&api).await;
    let lan = api.token("lan", Role::Consultant, Some("tu-van"));
    let customer = lans_customer(&api, 60).await;
    let (_, signed) = sign(
        &api,
        &lan,
        &customer,
        json!({"product": "bcc-12-thang", "principal": 100_000_000, "term_months": 1, "fee_tier": "phi-10", "active": true, "reference": "HD-060"}),
    )
    .await;
    // Signed Monday 23/11 09:00, maturing 23/12: D-30 is over, so D-7 comes first.
    assert_eq!(signed["contract"]["expires_on"], "2026-12-23");
    assert_eq!(signed["contract"]["remind_on"], "2026-12-16");
    api.clock().advance_to(vn(2026, 12, 16, 8, 0));
    let report = reminders::run(&api.deps, day(2026, 12, 16)).await.unwrap();
    assert_eq!(report.expiries, 1);
    api.settle().await;
    let sent = messages(&api, &customer).await;
    assert_eq!(sent.len(), 1);
    let bell = api
        .call("GET", "/v1/me/notifications", Some(&lan), None)
        .await
        .1;
    let titles: Vec<&str> = bell["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["title"].as_str())
        .collect();
    assert!(
        titles.iter().any(|t| t.contains("sắp đáo hạn")),
        "{titles:?}"
    );
    let id = signed["contract"]["id"].as_str().unwrap();
    let current = api
        .admin_get(&format!("/v1/customers/{customer}/holdings/{id}"))
        .await;
    assert_eq!(current["remind_on"], "2026-12-22", "on to D-1");
    let (status, renewed) = api
        .call(
            "POST",
            &format!("/v1/customers/{customer}/contracts/{id}/renew"),
            Some(&lan),
            Some(json!({"version": current["version"]})),
        )
        .await;
    assert_eq!(status, 200, "{renewed}");
    assert!(renewed["contract"]["remind_on"].is_null());
    api.clock().advance_to(vn(2026, 12, 22, 8, 0));
    assert_eq!(
        reminders::run(&api.deps, day(2026, 12, 22))
            .await
            .unwrap()
            .expiries,
        0
    );
}

#[tokio::test]
async fn the_reminders_function_runs_the_day_of_its_schedule_event_once() {
    let api = Api::local();
    let payload: Value = crate::support::fixture("reminders/daily.json");
    assert_eq!(payload["detail"], "{}");
    let customer = lans_customer(&api, 70).await;
    let plan = api
        .admin_ok(
            "POST",
            &format!("/v1/customers/{customer}/installment-plans"),
            Some(json!({"principal": 6_000_000, "months": 2, "method": "reducing_balance", "rate_bp": 1800, "first_due": "2026-12-10"})),
        )
        .await;
    let id = plan["id"].as_str().unwrap();
    api.clock().advance_to(vn(2026, 12, 5, 8, 0));
    let report = reminders::handle_invocation(&api.deps, &payload)
        .await
        .unwrap();
    assert_eq!(report.date, "2026-12-05");
    assert_eq!(report.instalments, 1, "{report:?}");
    let again = reminders::handle_invocation(&api.deps, &payload)
        .await
        .unwrap();
    assert_eq!(again.instalments, 0, "the pointer moved on: {again:?}");
    let plan = api
        .admin_get(&format!("/v1/customers/{customer}/installment-plans/{id}"))
        .await;
    assert_eq!(plan["remind_on"], "2026-12-09", "D-1");
    api.settle().await;
    assert_eq!(messages(&api, &customer).await.len(), 1);
}

#[tokio::test]
async fn settling_the_last_contract_stops_the_customers_care_journey() {
    let api = Api::local();
    investment_product(&api).await;
    let care = json!({
        "key": "cham-soc-nha-dau-tu", "name": "Chăm sóc nhà đầu tư",
        "trigger": {"type": "event", "event": "contract.activated"},
        "stops": [{"name": "Đã tất toán hết hợp đồng", "event": "customer.lifecycle_changed",
                   "when": {"attribute": {"path": "event.to", "op": "eq", "value": "former"}},
                   "outcome": "tat-toan"}],
        "start": "cho",
        "steps": {
            "cho": {"type": "wait", "wait": {"kind": "duration", "duration": "30d"}, "next": "het"},
            "het": {"type": "exit"},
        },
    });
    api.admin_ok("POST", "/v1/journeys?publish=true", Some(care))
        .await;
    let lan = api.token("lan", Role::Consultant, Some("tu-van"));
    let customer = lans_customer(&api, 80).await;
    let (_, signed) = sign(&api, &lan, &customer, contract(100_000_000)).await;
    api.settle().await;
    let journeys = api
        .admin_get(&format!("/v1/customers/{customer}/journeys"))
        .await;
    assert_eq!(journeys["items"][0]["status"], "active", "{journeys}");
    let id = signed["contract"]["id"].as_str().unwrap();
    let (status, settled) = api
        .call(
            "POST",
            &format!("/v1/customers/{customer}/contracts/{id}/settle"),
            Some(&lan),
            Some(json!({"version": 1})),
        )
        .await;
    assert_eq!(status, 200, "{settled}");
    assert_eq!(settled["customer"]["lifecycle"], "former");
    api.settle().await;
    let journeys = api
        .admin_get(&format!("/v1/customers/{customer}/journeys"))
        .await;
    assert_eq!(journeys["items"][0]["status"], "stopped", "{journeys}");
    assert_eq!(journeys["items"][0]["outcome"], "tat-toan", "{journeys}");
}

#[tokio::test]
async fn a_software_subscription_is_alerted_thirty_days_before_it_ends() {
    let api = Api::local();
    api.admin_ok(
        "POST",
        "/v1/catalogue/products",
        Some(json!({"code": "hoa-don-dien-tu", "name": "Hoá đơn điện tử", "kind": "software_subscription"})),
    )
    .await;
    let customer = lans_customer(&api, 90).await;
    let added = api
        .admin_ok(
            "POST",
            &format!("/v1/customers/{customer}/holdings"),
            Some(
                json!({"product": "hoa-don-dien-tu", "status": "active", "reference": "HDDT-090",
                        "starts_on": "2026-01-15", "expires_on": "2027-01-15"}),
            ),
        )
        .await;
    assert_eq!(added["holding"]["remind_on"], "2026-12-16", "D-30");
    api.clock().advance_to(vn(2026, 12, 16, 8, 0));
    let report = reminders::run(&api.deps, day(2026, 12, 16)).await.unwrap();
    assert_eq!(report.expiries, 1);
    api.settle().await;
    let sent = messages(&api, &customer).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["template"], "het-han-thue-bao-sms");
    let id = added["holding"]["id"].as_str().unwrap();
    let now = api
        .admin_get(&format!("/v1/customers/{customer}/holdings/{id}"))
        .await;
    assert_eq!(now["remind_on"], "2027-01-08", "on to D-7");
}
