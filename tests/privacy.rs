//! Personal-data rights through the staff routes: export, erasure, restriction, objection to
//! marketing and consent withdrawal (Law 91/2025/QH15, Decree 356/2025).

use nhip_core::auth::Role;
use nhip_core::keys;
use nhip_crm::customers::{Customer, repo};
use nhip_domain::customer::{Channel, Purpose, Refusal, may_contact};
use nhip_domain::ids::CustomerId;
use nhip_ports::store::{Index, Item, Key, Query, SortKey};
use serde_json::{Value, json};

use crate::support::Api;

const PHONE: &str = "0912345678";

async fn stored(api: &Api, id: &str) -> Customer {
    let id: CustomerId = id.parse().unwrap();
    repo::get(&*api.deps.store, id).await.unwrap().unwrap()
}

fn contact(customer: &Customer, channel: Channel, purpose: Purpose) -> Result<(), Refusal> {
    may_contact(
        &customer.consents,
        customer.processing_restricted,
        customer.marketing_objected,
        customer.erased_at.is_some(),
        channel,
        purpose,
    )
}

async fn partition(api: &Api, id: &str, prefix: &str) -> Vec<Item> {
    api.deps
        .store
        .query(
            Query::partition(Index::Primary, format!("CUS#{id}"))
                .sk(SortKey::BeginsWith(prefix.to_owned()))
                .limit(1000),
        )
        .await
        .unwrap()
        .items
}

async fn audit_actions(api: &Api, id: &str) -> Vec<String> {
    partition(api, id, keys::AUDIT_PREFIX)
        .await
        .iter()
        .map(|i| i["action"].as_str().unwrap().to_owned())
        .collect()
}

fn types(entries: &[Value]) -> Vec<&str> {
    entries
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect()
}

/// A customer of consultant "an" (team "hn") who arrived through a form with a message and
/// consents, then was called (notes and feedback) and completed by staff. Returns its id.
async fn customer_with_history(api: &Api) -> String {
    let (status, lead) = api
        .intake(json!({
            "full_name": "Nguyễn Văn Minh",
            "phone": PHONE,
            "email": "minh.nguyen@example.vn",
            "gender": "male",
            "consents": ["email:marketing", "sms:marketing", "sms:care"],
            "consent_text": "Tôi đồng ý nhận thông tin khuyến mãi",
            "form": "dang-ky-tra-gop",
            "page": "https://example.vn/tra-gop?email=minh.nguyen@example.vn",
            "message": "Tôi đang nợ thẻ tín dụng 50 triệu",
        }))
        .await;
    assert_eq!(status, 202, "{lead}");
    let id = api.id_of_phone(PHONE).await;
    let admin = api.admin();
    let (status, assigned) = api
        .call(
            "POST",
            &format!("/v1/customers/{id}/owner"),
            Some(&admin),
            Some(json!({"owner": "an", "team": "hn", "version": 1})),
        )
        .await;
    assert_eq!(status, 200, "{assigned}");
    api.advance(60);
    let (status, logged) = api
        .call(
            "POST",
            &format!("/v1/customers/{id}/interactions"),
            Some(&api.token("an", Role::Consultant, Some("hn"))),
            Some(json!({
                "type": "call", "direction": "outbound", "outcome": "answered",
                "duration_seconds": 180,
                "notes": "Khách hỏi về khoản vay mua nhà ở Cầu Giấy",
                "feedback": "Lãi suất cao quá",
            })),
        )
        .await;
    assert_eq!(status, 201, "{logged}");
    let version = logged["customer"]["version"].clone();
    api.advance(60);
    let (status, updated) = api
        .call(
            "PATCH",
            &format!("/v1/customers/{id}"),
            Some(&admin),
            Some(json!({
                "version": version,
                "cccd": "001090123456",
                "birthday": "1990-05-01",
                "tax_code": "0100112437",
                "address": "12 Phố Huế, Hai Bà Trưng, Hà Nội",
                "tags": ["vip"],
                "attributes": {"thu_nhap": "30 triệu"},
            })),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    api.advance(60);
    id
}

#[tokio::test]
async fn an_export_holds_profile_consents_timeline_and_every_audited_read() {
    let api = Api::local();
    let id = customer_with_history(&api).await;
    // Every full-record read by staff is audited, whoever reads.
    for token in [
        api.admin(),
        api.token("mai", Role::Manager, Some("hn")),
        api.token("an", Role::Consultant, Some("hn")),
    ] {
        let (status, _) = api
            .call("GET", &format!("/v1/customers/{id}"), Some(&token), None)
            .await;
        assert_eq!(status, 200);
        api.advance(1);
    }
    // Out of scope: 404, and nothing is exported or audited.
    let stranger = api.token("binh", Role::Consultant, Some("hcm"));
    let (status, _) = api
        .call(
            "GET",
            &format!("/v1/customers/{id}/export"),
            Some(&stranger),
            None,
        )
        .await;
    assert_eq!(status, 404);

    let consultant = api.token("an", Role::Consultant, Some("hn"));
    let (status, export) = api
        .call(
            "GET",
            &format!("/v1/customers/{id}/export"),
            Some(&consultant),
            None,
        )
        .await;
    assert_eq!(status, 200, "{export}");
    assert_eq!(export["format"], "nhip.personal-data-export/1");
    assert_eq!(export["exported_by"], "an");
    let profile = &export["customer"];
    assert_eq!(profile["full_name"], "Nguyễn Văn Minh");
    assert_eq!(profile["phones"], json!(["+84912345678"]));
    assert_eq!(profile["cccd"], "001090123456");
    assert_eq!(profile["address"], "12 Phố Huế, Hai Bà Trưng, Hà Nội");
    assert_eq!(profile["lifecycle_label"], "KH đang tư vấn");

    let consents = export["consents"].as_array().unwrap();
    assert_eq!(consents.len(), 3);
    assert!(consents.iter().all(|c| {
        c["evidence"]
            .as_str()
            .is_some_and(|e| e.contains("dang-ky-tra-gop"))
    }));

    let entries = export["timeline"].as_array().unwrap();
    let kinds = types(entries);
    for expected in [
        "lead.created",
        "customer.assigned",
        "interaction.call",
        "customer.updated",
        "privacy.exported",
    ] {
        assert!(kinds.contains(&expected), "{expected} in {kinds:?}");
    }
    let call = entries
        .iter()
        .find(|e| e["event_type"] == "interaction.call")
        .unwrap();
    assert_eq!(call["action"], "Gọi điện");
    assert_eq!(call["data"]["feedback"], "Lãi suất cao quá");
    assert!(call.get("pk").is_none() && call.get("sk").is_none());

    let audit = export["audit"].as_array().unwrap();
    let reads: Vec<&str> = audit
        .iter()
        .filter(|a| a["action"] == "read")
        .map(|a| a["user"].as_str().unwrap())
        .collect();
    assert_eq!(reads, ["root", "mai", "an"]);
    assert!(
        audit
            .iter()
            .any(|a| a["action"] == "privacy.exported" && a["user"] == "an")
    );
    assert_eq!(export["holdings"], json!([]));
}

#[tokio::test]
async fn only_an_admin_or_the_customers_manager_may_erase() {
    let api = Api::local();
    let id = customer_with_history(&api).await;
    let before = stored(&api, &id).await;
    let body =
        json!({"reason": "Khách yêu cầu xoá dữ liệu qua tổng đài", "version": before.version});
    for (token, expected) in [
        (api.token("an", Role::Consultant, Some("hn")), 403),
        (api.token("an", Role::Agent, Some("hn")), 403),
        (api.token("an", Role::Telesales, Some("hn")), 403),
        (api.token("hoa", Role::Manager, Some("hcm")), 404),
    ] {
        let (status, answer) = api
            .call(
                "POST",
                &format!("/v1/customers/{id}/erase"),
                Some(&token),
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, expected, "{answer}");
    }
    assert_eq!(stored(&api, &id).await, before, "nothing changed");
    assert!(
        !audit_actions(&api, &id)
            .await
            .iter()
            .any(|a| a.starts_with("privacy"))
    );

    let manager = api.token("mai", Role::Manager, Some("hn"));
    let (status, answer) = api
        .call(
            "POST",
            &format!("/v1/customers/{id}/erase"),
            Some(&manager),
            Some(json!({"reason": " ", "version": before.version})),
        )
        .await;
    assert_eq!(status, 422, "{answer}");
    assert!(answer["error"]["fields"]["reason"].is_string());
    let (status, answer) = api
        .call(
            "POST",
            &format!("/v1/customers/{id}/erase"),
            Some(&manager),
            Some(json!({"reason": "Khách yêu cầu", "version": before.version - 1})),
        )
        .await;
    assert_eq!(status, 409, "{answer}");
    let (status, answer) = api
        .call(
            "POST",
            &format!("/v1/customers/{id}/erase"),
            Some(&manager),
            Some(body),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["customer"]["full_name"], "Đã xoá");
}

#[tokio::test]
async fn erasure_anonymises_frees_the_identifiers_and_keeps_audit_and_statistics() {
    let api = Api::local();
    let id = customer_with_history(&api).await;
    let admin = api.admin();
    let (_, read) = api
        .call("GET", &format!("/v1/customers/{id}"), Some(&admin), None)
        .await;
    let before = stored(&api, &id).await;
    assert_eq!(before.lifecycle.as_str(), "consulting");

    let (status, answer) = api
        .call(
            "POST",
            &format!("/v1/customers/{id}/erase"),
            Some(&admin),
            Some(
                json!({"reason": "Đơn yêu cầu xoá dữ liệu ngày 20/11", "version": read["version"]}),
            ),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["tax_code_kept"], false);

    // GET answers the anonymised record.
    let (status, erased) = api
        .call("GET", &format!("/v1/customers/{id}"), Some(&admin), None)
        .await;
    assert_eq!(status, 200, "{erased}");
    assert_eq!(erased["full_name"], "Đã xoá");
    assert_eq!(erased["given_name"], "");
    for field in ["phones", "emails", "tags"] {
        assert_eq!(erased[field], json!([]), "{field}");
    }
    for field in ["cccd", "cmnd", "tax_code", "address", "birthday", "gender"] {
        assert!(erased[field].is_null(), "{field}: {}", erased[field]);
    }
    assert_eq!(erased["attributes"], json!({}));
    assert_eq!(erased["lifecycle"], "consulting", "lifecycle unchanged");
    assert_eq!(erased["owner"], "an");
    assert!(erased["erased_at"].is_string());
    let consents = erased["consents"].as_object().unwrap();
    assert_eq!(consents.len(), 3);
    assert!(consents.values().all(|c| c["granted"] == false));
    assert!(
        !erased.to_string().contains("Tôi đồng ý"),
        "old evidence gone"
    );

    let customer = stored(&api, &id).await;
    for purpose in Purpose::ALL {
        assert_eq!(
            contact(&customer, Channel::Sms, *purpose),
            Err(Refusal::Erased)
        );
    }

    // Guards and the tax-code entry are gone: the identifiers are free again.
    for key in [
        keys::phone_guard("+84912345678"),
        keys::email_guard("minh.nguyen@example.vn"),
        keys::cccd_guard("001090123456"),
        keys::tax_code_entry("0100112437", customer.id),
    ] {
        assert!(api.deps.store.get(&key).await.unwrap().is_none(), "{key:?}");
    }

    // Out of every list.
    let (_, list) = api.call("GET", "/v1/customers", Some(&admin), None).await;
    assert_eq!(list["items"], json!([]), "{list}");
    let (_, list) = api
        .call("GET", "/v1/customers?phone=0912345678", Some(&admin), None)
        .await;
    assert_eq!(list["items"], json!([]), "{list}");

    // The timeline keeps types, times and actors, without the personal text.
    let entries = api.timeline(&id).await;
    let kinds = types(&entries);
    for expected in [
        "lead.created",
        "customer.assigned",
        "interaction.call",
        "customer.updated",
        "privacy.erased",
    ] {
        assert!(kinds.contains(&expected), "{expected} in {kinds:?}");
    }
    let call = entries
        .iter()
        .find(|e| e["event_type"] == "interaction.call")
        .unwrap();
    assert_eq!(call["actor"], "an");
    assert_eq!(call["data"]["outcome"], "answered");
    assert_eq!(call["data"]["duration_seconds"], 180);
    assert!(call["data"].get("notes").is_none() && call["data"].get("feedback").is_none());
    let lead = entries
        .iter()
        .find(|e| e["event_type"] == "lead.created")
        .unwrap();
    assert!(lead["data"].get("message").is_none(), "{lead}");
    assert_eq!(lead["data"]["source"], "website_form");
    assert_eq!(
        lead["data"]["attribution"],
        json!({"form": "dang-ky-tra-gop"})
    );
    assert_eq!(erased["attribution"], json!({"form": "dang-ky-tra-gop"}));
    let all = serde_json::to_string(&entries).unwrap();
    for secret in [
        "50 triệu",
        "Cầu Giấy",
        "Lãi suất",
        "0912345678",
        "+84912345678",
    ] {
        assert!(!all.contains(secret), "{secret} left in the timeline");
    }

    // The audit trail is kept, with who erased and why.
    let audit = partition(&api, &id, keys::AUDIT_PREFIX).await;
    assert!(audit.iter().any(|a| a["action"] == "read"));
    let erasure = audit
        .iter()
        .find(|a| a["action"] == "privacy.erased")
        .unwrap();
    assert_eq!(erasure["user"], "root");
    assert_eq!(
        erasure["data"]["reason"],
        "Đơn yêu cầu xoá dữ liệu ngày 20/11"
    );

    // A new lead with the old phone is a new customer.
    let (status, fresh) = api
        .intake(json!({"full_name": "Trần Thị Lan", "phone": PHONE}))
        .await;
    assert_eq!(status, 202, "{fresh}");
    assert_ne!(api.id_of_phone(PHONE).await, id);
    assert_eq!(stored(&api, &id).await.full_name, "Đã xoá");

    // Asking again finishes nothing new and changes nothing.
    let (status, again) = api
        .call(
            "POST",
            &format!("/v1/customers/{id}/erase"),
            Some(&admin),
            Some(json!({"reason": "Lặp lại", "version": 0})),
        )
        .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["redacted_items"], 0);
    // Nothing more may be recorded on an erased customer.
    let (status, answer) = api
        .call(
            "POST",
            &format!("/v1/customers/{id}/consents"),
            Some(&admin),
            Some(json!({"channel": "sms", "purpose": "care", "granted": true, "evidence": "x"})),
        )
        .await;
    assert_eq!(status, 409, "{answer}");
}

#[tokio::test]
async fn a_customer_holding_a_contract_keeps_the_tax_code_when_erased() {
    let api = Api::local();
    let id = customer_with_history(&api).await;
    // A holding in the customer's partition (a contract under accounting retention).
    let mut holding = Key::new(format!("CUS#{id}"), "HOLD#01KAHOLDING0000000000000000").to_item();
    holding.insert("kind".into(), json!("holding"));
    holding.insert("product".into(), json!("bcc"));
    holding.insert("status".into(), json!("active"));
    api.deps
        .store
        .put(holding, nhip_ports::Condition::NotExists)
        .await
        .unwrap();
    let version = stored(&api, &id).await.version;
    let (status, answer) = api
        .call(
            "POST",
            &format!("/v1/customers/{id}/erase"),
            Some(&api.admin()),
            Some(json!({"reason": "Khách yêu cầu", "version": version})),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["tax_code_kept"], true);
    let customer = stored(&api, &id).await;
    assert_eq!(customer.tax_code.unwrap().as_str(), "0100112437");
    assert!(customer.phones.is_empty() && customer.cccd.is_none());
    assert!(
        api.deps
            .store
            .get(&keys::phone_guard("+84912345678"))
            .await
            .unwrap()
            .is_none()
    );

    let (status, export) = api
        .call(
            "GET",
            &format!("/v1/customers/{id}/export"),
            Some(&api.admin()),
            None,
        )
        .await;
    assert_eq!(status, 200, "{export}");
    assert_eq!(export["holdings"][0]["product"], "bcc");
    assert_eq!(export["customer"]["full_name"], "Đã xoá");
}

#[tokio::test]
async fn restriction_objection_and_withdrawal_take_effect_at_once() {
    let api = Api::local();
    let id = customer_with_history(&api).await;
    let consultant = api.token("an", Role::Consultant, Some("hn"));
    let customer = stored(&api, &id).await;
    assert_eq!(
        contact(&customer, Channel::Email, Purpose::Marketing),
        Ok(())
    );
    assert_eq!(contact(&customer, Channel::Sms, Purpose::Marketing), Ok(()));

    // Withdrawing one consent.
    let (status, answer) = api
        .call(
            "POST",
            &format!("/v1/customers/{id}/consents"),
            Some(&consultant),
            Some(json!({
                "channel": "email", "purpose": "marketing", "granted": false,
                "evidence": "Khách gọi tổng đài ngày 23/11 yêu cầu ngừng email",
            })),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let customer = stored(&api, &id).await;
    assert_eq!(
        contact(&customer, Channel::Email, Purpose::Marketing),
        Err(Refusal::NoMarketingConsent {
            channel: Channel::Email
        })
    );
    assert_eq!(contact(&customer, Channel::Sms, Purpose::Marketing), Ok(()));
    let record = customer
        .consents
        .get(Channel::Email, Purpose::Marketing)
        .unwrap();
    assert!(
        record.evidence.contains("\"by\":\"an\""),
        "{}",
        record.evidence
    );
    assert!(record.evidence.contains("ngừng email"));

    // Bad requests change nothing.
    for body in [
        json!({"channel": "fax", "purpose": "marketing", "granted": false, "evidence": "x"}),
        json!({"channel": "sms", "purpose": "marketing", "granted": false, "evidence": ""}),
        json!({"channel": "sms", "purpose": "marketing", "granted": false}),
    ] {
        let (status, answer) = api
            .call(
                "POST",
                &format!("/v1/customers/{id}/consents"),
                Some(&consultant),
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, 422, "{body} → {answer}");
    }
    assert_eq!(stored(&api, &id).await, customer);

    api.advance(1);
    // Objecting to marketing: every channel at once, care unaffected.
    let (status, answer) = api
        .call(
            "POST",
            &format!("/v1/customers/{id}/object-marketing"),
            Some(&consultant),
            None,
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["marketing_objected"], true);
    let customer = stored(&api, &id).await;
    for channel in Channel::ALL {
        assert_eq!(
            contact(&customer, *channel, Purpose::Marketing),
            Err(Refusal::MarketingObjected)
        );
    }
    assert!(!customer.consents.allows(Channel::Sms, Purpose::Marketing));
    assert_eq!(contact(&customer, Channel::Sms, Purpose::Care), Ok(()));
    let (status, answer) = api
        .call(
            "POST",
            &format!("/v1/customers/{id}/consents"),
            Some(&consultant),
            Some(
                json!({"channel": "sms", "purpose": "marketing", "granted": true, "evidence": "x"}),
            ),
        )
        .await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(answer["error"]["code"], "marketing_objected");

    api.advance(1);
    // Restricting processing: no message of any purpose.
    let (status, answer) = api
        .call(
            "POST",
            &format!("/v1/customers/{id}/restrict"),
            Some(&consultant),
            Some(json!({"restricted": true, "version": customer.version - 1})),
        )
        .await;
    assert_eq!(status, 409, "{answer}");
    let (status, answer) = api
        .call(
            "POST",
            &format!("/v1/customers/{id}/restrict"),
            Some(&consultant),
            Some(json!({"restricted": true, "version": customer.version})),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let customer = stored(&api, &id).await;
    assert!(customer.processing_restricted);
    assert_eq!(
        contact(&customer, Channel::Sms, Purpose::Care),
        Err(Refusal::ProcessingRestricted)
    );
    // Out of scope: 404.
    let (status, _) = api
        .call(
            "POST",
            &format!("/v1/customers/{id}/restrict"),
            Some(&api.token("binh", Role::Consultant, Some("hcm"))),
            Some(json!({"restricted": false, "version": customer.version})),
        )
        .await;
    assert_eq!(status, 404);
    api.advance(1);
    // Lifting it.
    let (status, _) = api
        .call(
            "POST",
            &format!("/v1/customers/{id}/restrict"),
            Some(&consultant),
            Some(json!({"restricted": false, "version": customer.version})),
        )
        .await;
    assert_eq!(status, 200);
    let customer = stored(&api, &id).await;
    assert_eq!(contact(&customer, Channel::Sms, Purpose::Care), Ok(()));

    // Each change is on the timeline and in the audit trail.
    let entries = api.timeline(&id).await;
    let kinds = types(&entries);
    assert_eq!(
        kinds[..4],
        [
            "privacy.restricted",
            "privacy.restricted",
            "privacy.objected",
            "consent.changed"
        ]
    );
    assert_eq!(entries[3]["actor"], "an");
    assert_eq!(entries[3]["action"], "Thay đổi đồng ý");
    let actions = audit_actions(&api, &id).await;
    for expected in ["consent.changed", "privacy.objected", "privacy.restricted"] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected} in {actions:?}"
        );
    }
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "privacy.restricted")
            .count(),
        2
    );
}

#[tokio::test]
async fn erasing_more_identifiers_than_one_transaction_holds_frees_them_all() {
    let api = Api::local();
    let admin = api.admin();
    let phones: Vec<String> = (0..60).map(|i| format!("0912{i:06}")).collect();
    let emails: Vec<String> = (0..60).map(|i| format!("lan{i}@example.vn")).collect();
    let created = api
        .create(
            &admin,
            json!({"full_name": "Trần Thị Lan", "phones": phones, "source": "referral"}),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let (status, updated) = api
        .call(
            "PATCH",
            &format!("/v1/customers/{id}"),
            Some(&admin),
            Some(json!({"emails": emails, "version": created["version"]})),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    let (status, answer) = api
        .call(
            "POST",
            &format!("/v1/customers/{id}/erase"),
            Some(&admin),
            Some(json!({"reason": "Khách yêu cầu", "version": updated["version"]})),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let customer = stored(&api, &id).await;
    assert!(customer.phones.is_empty() && customer.emails.is_empty());
    assert_eq!(customer.full_name, "Đã xoá");
    for phone in &phones {
        let normalised = format!("+84{}", &phone[1..]);
        assert!(
            api.deps
                .store
                .get(&keys::phone_guard(&normalised))
                .await
                .unwrap()
                .is_none()
        );
    }
    for email in &emails {
        assert!(
            api.deps
                .store
                .get(&keys::email_guard(email))
                .await
                .unwrap()
                .is_none()
        );
    }
}
