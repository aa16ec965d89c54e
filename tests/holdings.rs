//! The holdings routes end to end: the admin-managed catalogue (products, usage reasons),
//! holdings on a customer with their profile summary and the list filters reading it, the
//! lifecycle they move, the product-usage summary and report, scopes and stale versions.

use nhip_core::auth::Role;
use serde_json::{Value, json};

use crate::support::Api;

const BCC: &str = "bcc-12-thang";
const INVOICE: &str = "hoa-don-dien-tu";
const CARD: &str = "the-tin-dung";
const NOT_INSTALLED: &str = "chua-cai-dat";
const SWITCHED: &str = "chuyen-nha-cung-cap";
const NO_NEED: &str = "khong-co-nhu-cau";

/// Products and reasons every scenario uses.
async fn catalogue(api: &Api) {
    let admin = api.admin();
    for product in [
        json!({"code": BCC, "name": "Hợp đồng hợp tác kinh doanh (BCC) 12 tháng",
               "kind": "investment",
               "attribute_schema": {"term_months": {"type": "integer", "label": "Kỳ hạn (tháng)"}}}),
        json!({"code": INVOICE, "name": "Hoá đơn điện tử", "kind": "software_subscription"}),
        json!({"code": CARD, "name": "Thẻ tín dụng Hạng Vàng", "kind": "card",
               "attribute_schema": {"last4": {"type": "last4", "label": "4 số cuối", "required": true}}}),
    ] {
        let (status, body) = api
            .call(
                "POST",
                "/v1/catalogue/products",
                Some(&admin),
                Some(product),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    for reason in [
        json!({"code": NOT_INSTALLED, "label": "Chưa cài đặt phần mềm", "applies_to": "not_yet_using"}),
        json!({"code": SWITCHED, "label": "Chuyển sang nhà cung cấp khác", "applies_to": "stopped"}),
        json!({"code": NO_NEED, "label": "Không còn nhu cầu", "applies_to": "both"}),
    ] {
        let (status, body) = api
            .call(
                "POST",
                "/v1/catalogue/usage-reasons",
                Some(&admin),
                Some(reason),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
}

/// A customer created (and so owned) by `token`'s user.
async fn customer(api: &Api, token: &str, name: &str, phone: &str) -> String {
    let created = api
        .create(
            token,
            json!({"full_name": name, "phones": [phone], "source": "assigned"}),
        )
        .await;
    created["id"].as_str().unwrap().to_owned()
}

async fn add(api: &Api, token: &str, customer: &str, body: Value) -> (u16, Value) {
    api.call(
        "POST",
        &format!("/v1/customers/{customer}/holdings"),
        Some(token),
        Some(body),
    )
    .await
}

async fn added(api: &Api, token: &str, customer: &str, body: Value) -> Value {
    let (status, answer) = add(api, token, customer, body).await;
    assert_eq!(status, 201, "{answer}");
    answer
}

async fn holdings(api: &Api, customer: &str) -> Vec<Value> {
    let body = api
        .admin_get(&format!("/v1/customers/{customer}/holdings"))
        .await;
    body["items"].as_array().unwrap().clone()
}

async fn listed_names(api: &Api, token: &str, query: &str) -> Vec<String> {
    let (status, body) = api
        .call("GET", &format!("/v1/customers?{query}"), Some(token), None)
        .await;
    assert_eq!(status, 200, "{query}: {body}");
    let mut names: Vec<String> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["full_name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn only_admins_write_the_catalogue_and_everyone_reads_it() {
    let api = Api::local();
    catalogue(&api).await;
    let products_before = api
        .call("GET", "/v1/catalogue/products", Some(&api.admin()), None)
        .await
        .1;
    let reasons_before = api
        .call(
            "GET",
            "/v1/catalogue/usage-reasons",
            Some(&api.admin()),
            None,
        )
        .await
        .1;
    for (user, role) in [
        ("mai", Role::Manager),
        ("an", Role::Consultant),
        ("cuong", Role::Agent),
    ] {
        let token = api.token(user, role, Some("hn"));
        let writes = [
            (
                "POST",
                "/v1/catalogue/products".to_owned(),
                json!({"code": "moi", "name": "Sản phẩm mới", "kind": "other"}),
            ),
            (
                "PATCH",
                format!("/v1/catalogue/products/{BCC}"),
                json!({"version": 1, "active": false}),
            ),
            (
                "POST",
                "/v1/catalogue/usage-reasons".to_owned(),
                json!({"code": "ly-do-moi", "label": "Lý do mới", "applies_to": "both"}),
            ),
            (
                "PATCH",
                format!("/v1/catalogue/usage-reasons/{NO_NEED}"),
                json!({"version": 1, "label": "Đổi tên"}),
            ),
        ];
        for (method, path, body) in writes {
            let (status, answer) = api.call(method, &path, Some(&token), Some(body)).await;
            assert_eq!(status, 403, "{user} {method} {path}: {answer}");
            assert_eq!(answer["error"]["code"], "forbidden");
        }
        let (status, products) = api
            .call("GET", "/v1/catalogue/products", Some(&token), None)
            .await;
        assert_eq!(status, 200, "{products}");
        assert_eq!(products, products_before, "nothing changed");
        let (status, reasons) = api
            .call("GET", "/v1/catalogue/usage-reasons", Some(&token), None)
            .await;
        assert_eq!(status, 200, "{reasons}");
        assert_eq!(reasons, reasons_before, "nothing changed");
    }
    assert_eq!(products_before["items"].as_array().unwrap().len(), 3);
    let bcc = &products_before["items"][0];
    assert_eq!(bcc["code"], BCC);
    assert_eq!(bcc["kind_label"], "Đầu tư");
    assert_eq!(bcc["active"], true);
    let (status, _) = api.call("GET", "/v1/catalogue/products", None, None).await;
    assert_eq!(status, 401);

    // The admin: a taken code is a conflict, a stale version too, the kind is fixed.
    let admin = api.admin();
    let (status, dup) = api
        .call(
            "POST",
            "/v1/catalogue/products",
            Some(&admin),
            Some(json!({"code": "BCC-12-THANG", "name": "Trùng", "kind": "investment"})),
        )
        .await;
    assert_eq!(status, 409, "{dup}");
    assert_eq!(dup["error"]["code"], "duplicate");
    let (status, bad) = api
        .call(
            "POST",
            "/v1/catalogue/products",
            Some(&admin),
            Some(json!({"code": "có dấu", "kind": "vàng"})),
        )
        .await;
    assert_eq!(status, 422, "{bad}");
    for field in ["code", "name", "kind"] {
        assert!(bad["error"]["fields"][field].is_string(), "{field}: {bad}");
    }
    let path = format!("/v1/catalogue/usage-reasons/{NO_NEED}");
    let (status, renamed) = api
        .call(
            "PATCH",
            &path,
            Some(&admin),
            Some(json!({"version": 1, "label": "Khách không còn nhu cầu"})),
        )
        .await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(renamed["version"], 2);
    let (status, stale) = api
        .call(
            "PATCH",
            &path,
            Some(&admin),
            Some(json!({"version": 1, "active": false})),
        )
        .await;
    assert_eq!(status, 409, "{stale}");
    let (status, kind) = api
        .call(
            "PATCH",
            &format!("/v1/catalogue/products/{BCC}"),
            Some(&admin),
            Some(json!({"version": 1, "kind": "card"})),
        )
        .await;
    assert_eq!(status, 422, "{kind}");
    let (_, stopped_reasons) = api
        .call(
            "GET",
            "/v1/catalogue/usage-reasons?usage_status=stopped&active=true",
            Some(&admin),
            None,
        )
        .await;
    let codes: Vec<&str> = stopped_reasons["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, [SWITCHED, NO_NEED]);
}

#[tokio::test]
async fn holdings_feed_the_profile_summary_and_the_list_filters() {
    let api = Api::local();
    catalogue(&api).await;
    let agent = api.token("an", Role::Agent, Some("hn"));
    let lan = customer(&api, &agent, "Trần Thị Lan", "0901000001").await;
    let binh = customer(&api, &agent, "Lê Văn Bình", "0901000002").await;
    let chi = customer(&api, &agent, "Phạm Thu Chi", "0901000003").await;

    // Lan stopped using her invoices (few left); Bình has not started; Chi uses hers.
    let lan_holding = added(
        &api,
        &agent,
        &lan,
        json!({"product": INVOICE, "status": "active", "starts_on": "2026-01-01",
               "expires_on": "2026-12-31", "usage_status": "stopped", "usage_reason": SWITCHED,
               "remaining_invoice_ratio": 0.15, "amount": 3_500_000}),
    )
    .await;
    assert_eq!(lan_holding["holding"]["status_label"], "Đang hiệu lực");
    assert_eq!(
        lan_holding["holding"]["usage_status_label"],
        "Ngưng sử dụng"
    );
    assert_eq!(
        lan_holding["holding"]["usage_reason_label"],
        "Chuyển sang nhà cung cấp khác"
    );
    let binh_holding = added(
        &api,
        &agent,
        &binh,
        json!({"product": INVOICE, "status": "active", "starts_on": "01/06/2026",
               "expires_on": "31/05/2027", "usage_status": "not_yet_using",
               "remaining_invoice_ratio": 1.0}),
    )
    .await;
    added(
        &api,
        &agent,
        &chi,
        json!({"product": INVOICE, "status": "active", "expires_on": "2027-03-31",
               "usage_status": "using", "remaining_invoice_ratio": 0.6}),
    )
    .await;

    let lan_profile = api.profile(&lan).await;
    let summary = &lan_profile["holdings"][0];
    assert_eq!(summary["id"], lan_holding["holding"]["id"]);
    assert_eq!(summary["product"], INVOICE);
    assert_eq!(summary["status"], "active");
    assert_eq!(summary["expires_on"], "2026-12-31");
    assert_eq!(summary["usage_status"], "stopped");
    assert_eq!(summary["usage_reason"], SWITCHED);
    assert_eq!(summary["remaining_invoice_ratio"], 0.15);
    assert_eq!(lan_profile["version"], lan_holding["customer"]["version"]);
    let stored = holdings(&api, &lan).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["amount"], 3_500_000);
    assert_eq!(stored[0]["product_name"], "Hoá đơn điện tử");
    assert!(
        api.timeline_types(&lan)
            .await
            .contains(&"holding.added".to_owned())
    );

    let stopped = format!("usage_status=stopped&reason={SWITCHED}");
    assert_eq!(listed_names(&api, &agent, &stopped).await, ["Trần Thị Lan"]);
    assert_eq!(
        listed_names(&api, &agent, "usage_status=not_yet_using").await,
        ["Lê Văn Bình"]
    );
    assert_eq!(
        listed_names(
            &api,
            &agent,
            "expires_from=2027-01-01&expires_to=2027-06-30"
        )
        .await,
        ["Lê Văn Bình", "Phạm Thu Chi"]
    );
    assert_eq!(
        listed_names(&api, &agent, "expires_to=2026-12-31").await,
        ["Trần Thị Lan"]
    );
    assert_eq!(
        listed_names(&api, &agent, "remaining_ratio_max=0.2").await,
        ["Trần Thị Lan"]
    );
    assert_eq!(
        listed_names(&api, &agent, "remaining_ratio_min=0.5&usage_status=using").await,
        ["Phạm Thu Chi"]
    );

    // "Bổ sung lý do chưa/ngưng sử dụng": Bình's reason, recorded later, is filterable at once.
    api.advance(60);
    let path = format!(
        "/v1/customers/{binh}/holdings/{}",
        binh_holding["holding"]["id"].as_str().unwrap()
    );
    let (status, updated) = api
        .call(
            "PATCH",
            &path,
            Some(&agent),
            Some(json!({"version": 1, "usage_reason": NOT_INSTALLED})),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["holding"]["version"], 2);
    assert_eq!(
        updated["holding"]["usage_reason_label"],
        "Chưa cài đặt phần mềm"
    );
    assert_eq!(
        listed_names(&api, &agent, &format!("reason={NOT_INSTALLED}")).await,
        ["Lê Văn Bình"]
    );
    assert_eq!(api.timeline_types(&binh).await[0], "holding.updated");

    // Lan starts again: the reason goes with the old status, and she leaves the filter.
    let path = format!(
        "/v1/customers/{lan}/holdings/{}",
        lan_holding["holding"]["id"].as_str().unwrap()
    );
    let (status, using) = api
        .call(
            "PATCH",
            &path,
            Some(&agent),
            Some(json!({"version": 1, "usage_status": "using", "remaining_invoice_ratio": 0.9})),
        )
        .await;
    assert_eq!(status, 200, "{using}");
    assert_eq!(using["holding"]["usage_reason"], Value::Null);
    assert!(listed_names(&api, &agent, &stopped).await.is_empty());
    assert!(
        listed_names(&api, &agent, "remaining_ratio_max=0.2")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn inactive_products_and_reasons_and_misplaced_reasons_are_rejected() {
    let api = Api::local();
    catalogue(&api).await;
    let admin = api.admin();
    let agent = api.token("an", Role::Agent, Some("hn"));
    let id = customer(&api, &agent, "Đỗ Minh Tâm", "0902000001").await;
    let (status, body) = api
        .call(
            "PATCH",
            &format!("/v1/catalogue/usage-reasons/{NO_NEED}"),
            Some(&admin),
            Some(json!({"version": 1, "active": false})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = api
        .call(
            "PATCH",
            &format!("/v1/catalogue/products/{BCC}"),
            Some(&admin),
            Some(json!({"version": 1, "active": false})),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let cases = [
        (json!({"product": BCC, "status": "active"}), "product"),
        (
            json!({"product": "khong-ton-tai", "status": "active"}),
            "product",
        ),
        (
            json!({"product": INVOICE, "status": "active", "usage_status": "stopped",
                   "usage_reason": NO_NEED}),
            "usage_reason",
        ),
        (
            json!({"product": INVOICE, "status": "active", "usage_status": "using",
                   "usage_reason": SWITCHED}),
            "usage_reason",
        ),
        (
            json!({"product": INVOICE, "status": "active", "usage_status": "not_yet_using",
                   "usage_reason": SWITCHED}),
            "usage_reason",
        ),
        (
            json!({"product": INVOICE, "status": "active", "usage_reason": NOT_INSTALLED}),
            "usage_reason",
        ),
        (
            json!({"product": INVOICE, "status": "active", "remaining_invoice_ratio": 1.5}),
            "remaining_invoice_ratio",
        ),
        (
            json!({"product": INVOICE, "status": "active", "amount": 1000.5}),
            "amount",
        ),
        (
            json!({"product": INVOICE, "status": "active", "starts_on": "2026-06-01",
                   "expires_on": "2026-01-01"}),
            "expires_on",
        ),
        (json!({"product": INVOICE, "status": "open"}), "status"),
        (json!({"product": INVOICE}), "status"),
        (
            json!({"product": CARD, "status": "active"}),
            "attributes.last4",
        ),
    ];
    for (body, field) in cases {
        let (status, answer) = add(&api, &agent, &id, body.clone()).await;
        assert_eq!(status, 422, "{body} → {answer}");
        assert!(
            answer["error"]["fields"][field].is_string(),
            "{body} → {answer}"
        );
    }
    assert!(holdings(&api, &id).await.is_empty());
    let after = api.profile(&id).await;
    assert_eq!(after["holdings"], json!([]));
    assert_eq!(after["version"], 1);

    // A reason on a holding that is in use is refused on a change too.
    let created = added(
        &api,
        &agent,
        &id,
        json!({"product": INVOICE, "status": "active", "usage_status": "using"}),
    )
    .await;
    let path = format!(
        "/v1/customers/{id}/holdings/{}",
        created["holding"]["id"].as_str().unwrap()
    );
    let (status, answer) = api
        .call(
            "PATCH",
            &path,
            Some(&agent),
            Some(json!({"version": 1, "usage_reason": SWITCHED})),
        )
        .await;
    assert_eq!(status, 422, "{answer}");
    assert!(answer["error"]["fields"]["usage_reason"].is_string());
    let (status, answer) = api
        .call(
            "PATCH",
            &path,
            Some(&agent),
            Some(json!({"version": 1, "product": BCC})),
        )
        .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(holdings(&api, &id).await[0]["version"], 1);
}

#[tokio::test]
async fn a_full_card_number_is_refused_and_only_last_digits_are_kept() {
    let api = Api::local();
    catalogue(&api).await;
    let agent = api.token("an", Role::Agent, Some("hn"));
    let id = customer(&api, &agent, "Vũ Thị Hồng", "0903000001").await;
    for attributes in [
        json!({"last4": "1111", "card_number": "4111111111111111"}),
        json!({"last4": "0004", "ghi_chu": "số thẻ 5500 0000 0000 0004"}),
        json!({"last4": "1111", "pan": 4111111111111111u64}),
    ] {
        let (status, answer) = add(
            &api,
            &agent,
            &id,
            json!({"product": CARD, "status": "active", "attributes": attributes}),
        )
        .await;
        assert_eq!(status, 422, "{answer}");
        assert_eq!(answer["error"]["code"], "card_number_not_allowed");
        let text = answer.to_string();
        assert!(!text.contains("4111111111111111") && !text.contains("5500 0000"));
    }
    let (status, answer) = add(
        &api,
        &agent,
        &id,
        json!({"product": CARD, "status": "active", "reference": "4111-1111-1111-1111"}),
    )
    .await;
    assert_eq!(status, 422, "{answer}");
    assert!(answer["error"]["fields"]["reference"].is_string());
    let (status, answer) = add(
        &api,
        &agent,
        &id,
        json!({"product": CARD, "status": "active", "attributes": {"last4": "41111"}}),
    )
    .await;
    assert_eq!(status, 422, "{answer}");
    assert!(holdings(&api, &id).await.is_empty());
    assert!(
        !api.timeline_types(&id)
            .await
            .contains(&"holding.added".to_owned())
    );

    let card = added(
        &api,
        &agent,
        &id,
        json!({"product": CARD, "status": "active", "amount": 50_000_000,
               "attributes": {"last4": "1111", "hang_the": "Vàng"}}),
    )
    .await;
    assert_eq!(card["holding"]["attributes"]["last4"], "1111");
    assert_eq!(card["holding"]["product_kind"], "card");
    // A change cannot sneak one in either.
    let path = format!(
        "/v1/customers/{id}/holdings/{}",
        card["holding"]["id"].as_str().unwrap()
    );
    let (status, answer) = api
        .call(
            "PATCH",
            &path,
            Some(&agent),
            Some(json!({"version": 1, "attributes": {"so_the": "4111 1111 1111 1111"}})),
        )
        .await;
    assert_eq!(status, 422, "{answer}");
    let stored = holdings(&api, &id).await;
    assert_eq!(
        stored[0]["attributes"],
        json!({"last4": "1111", "hang_the": "Vàng"})
    );
}

#[tokio::test]
async fn an_active_holding_makes_a_customer_and_settling_everything_a_former_one() {
    let api = Api::local();
    catalogue(&api).await;
    let consultant = api.token("an", Role::Consultant, Some("hn"));
    let id = customer(&api, &consultant, "Hoàng Văn Nam", "0904000001").await;
    assert_eq!(api.profile(&id).await["lifecycle"], "new");

    let first = added(
        &api,
        &consultant,
        &id,
        json!({"product": BCC, "status": "pending", "amount": 500_000_000,
               "starts_on": "2026-12-01", "expires_on": "2027-11-30",
               "attributes": {"term_months": 12}}),
    )
    .await;
    assert_eq!(
        first["customer"]["lifecycle"], "new",
        "a pending contract changes nothing"
    );
    let first_path = format!(
        "/v1/customers/{id}/holdings/{}",
        first["holding"]["id"].as_str().unwrap()
    );
    api.advance(3600);
    let (status, active) = api
        .call(
            "PATCH",
            &first_path,
            Some(&consultant),
            Some(json!({"version": 1, "status": "active"})),
        )
        .await;
    assert_eq!(status, 200, "{active}");
    assert_eq!(active["customer"]["lifecycle"], "customer");
    assert_eq!(active["customer"]["lifecycle_label"], "Khách hàng");
    let types = api.timeline_types(&id).await;
    assert!(
        types.contains(&"customer.lifecycle_changed".to_owned()),
        "{types:?}"
    );

    let second = added(
        &api,
        &consultant,
        &id,
        json!({"product": BCC, "status": "active", "amount": 200_000_000,
               "expires_on": "2027-12-31"}),
    )
    .await;
    let second_path = format!(
        "/v1/customers/{id}/holdings/{}",
        second["holding"]["id"].as_str().unwrap()
    );
    api.advance(3600);
    // Settle the first: one still active, so still a customer.
    let (status, settled) = api
        .call(
            "PATCH",
            &first_path,
            Some(&consultant),
            Some(json!({"version": 2, "status": "settled"})),
        )
        .await;
    assert_eq!(status, 200, "{settled}");
    assert_eq!(settled["holding"]["status_label"], "Đã tất toán");
    assert_eq!(settled["holding"]["settled_on"], "2026-11-23");
    assert_eq!(settled["customer"]["lifecycle"], "customer");
    // A settled contract does not come back (except by an admin's correction).
    let (status, answer) = api
        .call(
            "PATCH",
            &first_path,
            Some(&consultant),
            Some(json!({"version": 3, "status": "active"})),
        )
        .await;
    assert_eq!(status, 422, "{answer}");
    // Cancel the second: everything settled or cancelled, one settled → former.
    let (status, cancelled) = api
        .call(
            "PATCH",
            &second_path,
            Some(&consultant),
            Some(json!({"version": 1, "status": "cancelled"})),
        )
        .await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["customer"]["lifecycle"], "former");
    assert_eq!(
        cancelled["customer"]["lifecycle_label"],
        "KH cũ đã tất toán"
    );
    let former = api.profile(&id).await;
    assert_eq!(former["lifecycle"], "former");
    let admin = api.admin();
    let (_, list) = api
        .call("GET", "/v1/customers?lifecycle=former", Some(&admin), None)
        .await;
    assert_eq!(list["items"][0]["id"], id.as_str());
    // Renewing with a new contract makes them a customer again.
    let again = added(
        &api,
        &consultant,
        &id,
        json!({"product": BCC, "status": "active", "expires_on": "2028-01-31"}),
    )
    .await;
    assert_eq!(again["customer"]["lifecycle"], "customer");
}

#[tokio::test]
async fn the_usage_summary_counts_each_status_per_customer_and_kind() {
    let api = Api::local();
    catalogue(&api).await;
    let agent = api.token("an", Role::Agent, Some("hn"));
    let other = api.token("cuong", Role::Agent, Some("hn"));
    let id = customer(&api, &agent, "Công ty TNHH Sao Mai", "0905000001").await;
    let idle = customer(&api, &agent, "Ngô Bảo Châu", "0905000002").await;
    let not_mine = customer(&api, &other, "Lý Thị Hoa", "0905000003").await;
    for (product, usage) in [
        (INVOICE, json!("using")),
        (INVOICE, json!("using")),
        (INVOICE, json!("not_yet_using")),
        (INVOICE, json!("stopped")),
        (BCC, Value::Null),
    ] {
        added(
            &api,
            &agent,
            &id,
            json!({"product": product, "status": "active", "usage_status": usage}),
        )
        .await;
    }
    added(
        &api,
        &agent,
        &id,
        json!({"product": INVOICE, "status": "cancelled", "usage_status": "using"}),
    )
    .await;
    added(
        &api,
        &other,
        &not_mine,
        json!({"product": INVOICE, "status": "active", "usage_status": "using"}),
    )
    .await;

    let (status, usage) = api
        .call(
            "GET",
            &format!("/v1/customers/{id}/usage"),
            Some(&agent),
            None,
        )
        .await;
    assert_eq!(status, 200, "{usage}");
    assert_eq!(
        usage["bought"], 5,
        "cancelled holdings are not counted: {usage}"
    );
    assert_eq!(usage["using"], 2);
    assert_eq!(usage["pending"], 1);
    assert_eq!(usage["stopped"], 1);
    assert_eq!(usage["usage_rate"], 0.4);
    let kinds = usage["by_kind"].as_array().unwrap();
    assert_eq!(kinds.len(), 2, "{usage}");
    assert_eq!(kinds[0]["kind"], "investment");
    assert_eq!(kinds[0]["bought"], 1);
    assert_eq!(kinds[0]["usage_rate"], 0.0);
    assert_eq!(kinds[1]["kind"], "software_subscription");
    assert_eq!(kinds[1]["kind_label"], "Phần mềm thuê bao");
    assert_eq!(kinds[1]["bought"], 4);
    assert_eq!(kinds[1]["usage_rate"], 0.5);
    let (_, none) = api
        .call(
            "GET",
            &format!("/v1/customers/{idle}/usage"),
            Some(&agent),
            None,
        )
        .await;
    assert_eq!(none["bought"], 0);
    assert_eq!(none["usage_rate"], 0.0);

    // The report: the agent's customers only, one row each, paged like the list.
    let (status, report) = api
        .call("GET", "/v1/reports/product-usage", Some(&agent), None)
        .await;
    assert_eq!(status, 200, "{report}");
    let rows = report["items"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{report}");
    let row = rows
        .iter()
        .find(|r| r["customer_id"] == id.as_str())
        .unwrap();
    assert_eq!(
        (
            &row["bought"],
            &row["using"],
            &row["pending"],
            &row["stopped"]
        ),
        (&json!(5), &json!(2), &json!(1), &json!(1))
    );
    assert_eq!(row["usage_rate"], 0.4);
    assert!(rows.iter().all(|r| r["customer_id"] != not_mine.as_str()));
    let (_, page) = api
        .call(
            "GET",
            "/v1/reports/product-usage?limit=1",
            Some(&agent),
            None,
        )
        .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert!(page["next_cursor"].is_string(), "{page}");
    let (_, filtered) = api
        .call(
            "GET",
            "/v1/reports/product-usage?usage_status=stopped",
            Some(&agent),
            None,
        )
        .await;
    assert_eq!(filtered["items"].as_array().unwrap().len(), 1);
    let (_, everyone) = api
        .call("GET", "/v1/reports/product-usage", Some(&api.admin()), None)
        .await;
    assert_eq!(everyone["items"].as_array().unwrap().len(), 3);
    let (status, _) = api
        .call(
            "GET",
            "/v1/reports/product-usage?limit=0",
            Some(&agent),
            None,
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn an_agent_cannot_read_or_change_another_agents_holdings() {
    let api = Api::local();
    catalogue(&api).await;
    let an = api.token("an", Role::Agent, Some("hn"));
    let cuong = api.token("cuong", Role::Agent, Some("hn"));
    let id = customer(&api, &an, "Bùi Thị Thu", "0906000001").await;
    let holding = added(
        &api,
        &an,
        &id,
        json!({"product": INVOICE, "status": "active", "usage_status": "stopped"}),
    )
    .await;
    let holding_path = format!(
        "/v1/customers/{id}/holdings/{}",
        holding["holding"]["id"].as_str().unwrap()
    );
    let before = api.profile(&id).await;
    let timeline_before = api.timeline_types(&id).await;

    for path in [
        format!("/v1/customers/{id}/holdings"),
        holding_path.clone(),
        format!("/v1/customers/{id}/usage"),
    ] {
        let (status, body) = api.call("GET", &path, Some(&cuong), None).await;
        assert_eq!(status, 404, "GET {path}: {body}");
    }
    let (status, body) = add(
        &api,
        &cuong,
        &id,
        json!({"product": INVOICE, "status": "active"}),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = api
        .call(
            "PATCH",
            &holding_path,
            Some(&cuong),
            Some(json!({"version": 1, "usage_reason": SWITCHED})),
        )
        .await;
    assert_eq!(status, 404, "{body}");

    assert_eq!(api.profile(&id).await, before, "nothing changed");
    assert_eq!(api.timeline_types(&id).await, timeline_before);
    let stored = holdings(&api, &id).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["version"], 1);
    assert_eq!(stored[0]["usage_reason"], Value::Null);
    // The team's manager sees it; the other team's does not.
    let mai = api.token("mai", Role::Manager, Some("hn"));
    let hoa = api.token("hoa", Role::Manager, Some("hcm"));
    let path = format!("/v1/customers/{id}/holdings");
    assert_eq!(api.call("GET", &path, Some(&mai), None).await.0, 200);
    assert_eq!(api.call("GET", &path, Some(&hoa), None).await.0, 404);
    let (status, _) = api
        .call(
            "GET",
            &format!("/v1/customers/{id}/holdings/not-a-ulid"),
            Some(&an),
            None,
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_stale_holding_version_is_a_conflict_and_changes_nothing() {
    let api = Api::local();
    catalogue(&api).await;
    let agent = api.token("an", Role::Agent, Some("hn"));
    let id = customer(&api, &agent, "Đặng Quốc Huy", "0907000001").await;
    let holding = added(
        &api,
        &agent,
        &id,
        json!({"product": INVOICE, "status": "active", "expires_on": "2027-01-31",
               "usage_status": "not_yet_using"}),
    )
    .await;
    let path = format!(
        "/v1/customers/{id}/holdings/{}",
        holding["holding"]["id"].as_str().unwrap()
    );
    // Renewal: the expiry moves a year on.
    let (status, renewed) = api
        .call(
            "PATCH",
            &path,
            Some(&agent),
            Some(json!({"version": 1, "expires_on": "2028-01-31"})),
        )
        .await;
    assert_eq!(status, 200, "{renewed}");
    let profile_version = api.profile(&id).await["version"].clone();
    let (status, conflict) = api
        .call(
            "PATCH",
            &path,
            Some(&agent),
            Some(json!({"version": 1, "usage_status": "stopped", "usage_reason": SWITCHED})),
        )
        .await;
    assert_eq!(status, 409, "{conflict}");
    assert_eq!(conflict["error"]["code"], "conflict");
    let (status, missing) = api
        .call(
            "PATCH",
            &path,
            Some(&agent),
            Some(json!({"usage_status": "stopped"})),
        )
        .await;
    assert_eq!(status, 422, "{missing}");
    let stored = holdings(&api, &id).await;
    assert_eq!(stored[0]["version"], 2);
    assert_eq!(stored[0]["usage_status"], "not_yet_using");
    assert_eq!(stored[0]["expires_on"], "2028-01-31");
    let after = api.profile(&id).await;
    assert_eq!(after["version"], profile_version);
    assert_eq!(after["holdings"][0]["expires_on"], "2028-01-31");
    assert_eq!(after["holdings"][0]["usage_status"], "not_yet_using");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn concurrent_holdings_on_one_customer_all_reach_its_summary() {
    let api = std::sync::Arc::new(Api::local());
    catalogue(&api).await;
    let agent = api.token("an", Role::Agent, Some("hn"));
    let id = customer(&api, &agent, "Tạ Minh Khoa", "0908000001").await;
    let adds = (0..3).map(|i| {
        let (api, agent, id) = (api.clone(), agent.clone(), id.clone());
        tokio::spawn(async move {
            add(
                &api,
                &agent,
                &id,
                json!({"product": INVOICE, "status": "active", "reference": format!("HD-{i}")}),
            )
            .await
        })
    });
    for result in futures::future::join_all(adds).await {
        let (status, body) = result.unwrap();
        assert_eq!(status, 201, "{body}");
    }
    let stored = holdings(&api, &id).await;
    assert_eq!(stored.len(), 3);
    let after = api.profile(&id).await;
    let mut summarised: Vec<&str> = after["holdings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap())
        .collect();
    let mut held: Vec<&str> = stored.iter().map(|h| h["id"].as_str().unwrap()).collect();
    summarised.sort();
    held.sort();
    assert_eq!(summarised, held);
    assert_eq!(after["lifecycle"], "customer");
}
