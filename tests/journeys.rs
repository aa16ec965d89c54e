//! Journey definitions through their routes: YAML or JSON, checked on save with the step
//! named, versions frozen, publishing indexed by trigger, the seed journeys installed with
//! their Vietnamese templates.

use nhip_core::auth::Role;
use serde_json::{Value, json};

use crate::support::Api;

const WELCOME: &str = r#"
key: chao-mung-the
name: Chào mừng chủ thẻ
trigger: { type: event, event: card.issued }
goals: [{ name: Đã kích hoạt, event: card.activated }]
start: gui
steps:
  gui: { type: send, purpose: care, targets: [{ channel: email, template: chao-mung-email }], next: cho }
  cho: { type: wait_for_event, event: card.activated, timeout: 3d, on_event: het, on_timeout: het }
  het: { type: exit }
"#;

#[tokio::test]
async fn journeys_are_checked_on_save_versioned_and_published() {
    let api = Api::local();
    let admin = api.admin();
    // The template does not exist yet: 422 naming the step.
    let (status, body) = api
        .post_as("/v1/journeys", Some(&admin), "application/yaml", WELCOME)
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "journey_invalid");
    let fields = body["error"]["fields"].as_object().unwrap();
    assert!(fields.keys().any(|k| k.starts_with("steps.gui")), "{body}");
    let (status, _) = api
        .call("POST", "/v1/templates", Some(&admin), Some(json!({"code": "chao-mung-email", "name": "Chào mừng", "publish": true,
            "content": {"channel": "email", "subject": "Chào mừng {{ customer.salutation }}", "html": "<p>Chào mừng</p>", "text": "Chào mừng"}})))
        .await;
    assert_eq!(status, 201);
    // A step that leads nowhere.
    let broken = WELCOME.replace("on_timeout: het", "on_timeout: khong-co");
    let (status, body) = api
        .post_as(
            "/v1/journeys",
            Some(&admin),
            "application/yaml",
            broken.clone(),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["fields"]["steps.cho.on_timeout"]
            .as_str()
            .unwrap()
            .contains("cho"),
        "{body}"
    );

    let (status, meta) = api
        .post_as("/v1/journeys", Some(&admin), "application/yaml", WELCOME)
        .await;
    assert_eq!(status, 201, "{meta}");
    assert_eq!(
        (
            meta["latest_version"].as_u64(),
            meta["published_version"].as_u64()
        ),
        (Some(1), None)
    );
    let (status, _) = api
        .post_as("/v1/journeys", Some(&admin), "application/yaml", WELCOME)
        .await;
    assert_eq!(status, 409, "the key is taken");
    // Version 2 in JSON, based on the header read.
    let mut second: Value =
        serde_json::to_value(nhip_domain::journey::parse_yaml(WELCOME).unwrap()).unwrap();
    second["name"] = json!("Chào mừng chủ thẻ (2)");
    let (status, body) = api
        .post_as(
            "/v1/journeys/chao-mung-the/versions?based_on=9",
            Some(&admin),
            "application/json",
            second.to_string(),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    let (status, meta) = api
        .post_as(
            "/v1/journeys/chao-mung-the/versions?based_on=1&publish=true",
            Some(&admin),
            "application/json",
            second.to_string(),
        )
        .await;
    assert_eq!(status, 201, "{meta}");
    assert_eq!(
        (
            meta["latest_version"].as_u64(),
            meta["published_version"].as_u64()
        ),
        (Some(2), Some(2))
    );
    assert_eq!(meta["trigger_event"], "card.issued");
    let trigger = api
        .deps
        .store
        .get(&nhip_core::keys::journey_trigger(
            "card.issued",
            "chao-mung-the",
        ))
        .await
        .unwrap();
    assert_eq!(trigger.unwrap()["version"], 2);
    // Publishing version 1 again; version 1 is unchanged and readable as YAML.
    let (status, meta) = api
        .call(
            "POST",
            "/v1/journeys/chao-mung-the/versions/1/publish",
            Some(&admin),
            Some(json!({"version": meta["version"]})),
        )
        .await;
    assert_eq!(
        (status, meta["published_version"].as_u64()),
        (200, Some(1)),
        "{meta}"
    );
    let answer = api
        .answer(
            "GET",
            "/v1/journeys/chao-mung-the/versions/1?format=yaml",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(answer.status, 200);
    let yaml = String::from_utf8(answer.bytes).unwrap();
    assert_eq!(
        nhip_domain::journey::parse_yaml(&yaml).unwrap().name,
        "Chào mừng chủ thẻ"
    );
    // Only admins write journeys.
    let manager = api.token("m", Role::Manager, Some("hn"));
    let (status, _) = api
        .post_as("/v1/journeys", Some(&manager), "application/yaml", WELCOME)
        .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn the_seed_journeys_install_with_their_templates() {
    let api = Api::local();
    let admin = api.admin();
    let (_, seeds) = api
        .call("GET", "/v1/journeys/seeds", Some(&admin), None)
        .await;
    let keys: Vec<&str> = seeds["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys.len(), 3, "{seeds}");
    for key in ["the-moi-kich-hoat", "tra-gop-moi", "nuoi-duong-lead"] {
        assert!(keys.contains(&key), "{keys:?}");
        let (status, installed) = api
            .call(
                "POST",
                &format!("/v1/journeys/seeds/{key}/install"),
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(status, 201, "{key}: {installed}");
        assert_eq!(installed["journey"]["published_version"], 1);
        assert!(
            !installed["templates_created"]
                .as_array()
                .unwrap()
                .is_empty()
        );
        let (status, _) = api
            .call(
                "POST",
                &format!("/v1/journeys/seeds/{key}/install"),
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(status, 409);
    }
    let (_, template) = api
        .call(
            "GET",
            "/v1/templates/the-moi-uu-dai-chi-tieu-email",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(template["published_version"], 1, "{template}");
    let (status, _) = api
        .call(
            "POST",
            "/v1/journeys/seeds/khong-co/install",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 404);
}
