//! Secrets Manager through `nhip_aws::secrets` and `nhip_wiring::with_secrets`, on the
//! emulator: a function's environment naming its secrets by ARN comes out with their values,
//! the link secret's previous and pending versions included once a rotation has made them.

use std::collections::HashMap;

use aws_sdk_secretsmanager::Client;
use nhip_aws::secrets::{CURRENT, PENDING, PREVIOUS, SecretsManager};

use crate::support;

async fn secret(client: &Client, value: &str) -> String {
    client
        .create_secret()
        .name(support::unique_name("nhip-secret"))
        .secret_string(value)
        .send()
        .await
        .expect("creating a secret on the emulator")
        .arn
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_read_by_arn_with_the_versions_a_rotation_makes() {
    support::needs_emulator!();
    let sdk = support::aws_sdk_config().await;
    let client = Client::new(&sdk);
    let reader = SecretsManager::from_sdk_config(&sdk);
    let first = "first-link-secret-of-at-least-32-bytes";
    let second = "second-link-secret-of-at-least-32-bytes";
    let link = secret(&client, first).await;
    let key = secret(&client, "credentials-key-of-at-least-32-bytes").await;
    let zalo = secret(&client, "unset").await;

    assert_eq!(
        reader.read(&link, CURRENT).await.unwrap().as_deref(),
        Some(first)
    );
    assert_eq!(
        reader.read(&link, PREVIOUS).await.unwrap(),
        None,
        "no rotation yet"
    );
    assert_eq!(reader.read(&link, PENDING).await.unwrap(), None);
    let missing = format!("{link}-missing");
    let error = reader.read(&missing, CURRENT).await.unwrap_err();
    assert!(error.to_string().contains("ResourceNotFound"), "{error}");

    let env = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    let named = env(&[
        ("NHIP_LINK_SECRET_ARN", &link),
        ("NHIP_CREDENTIALS_KEY_ARN", &key),
        ("NHIP_ZALO_SECRET_ARN", &zalo),
        ("NHIP_TABLE", "nhip"),
    ]);
    let read = nhip_wiring::with_secrets(named.clone(), &reader)
        .await
        .unwrap();
    assert_eq!(read["NHIP_LINK_SECRET"], first);
    assert_eq!(
        read["NHIP_CREDENTIALS_KEY"],
        "credentials-key-of-at-least-32-bytes"
    );
    assert!(!read.contains_key("NHIP_LINK_SECRET_PREVIOUS"));
    assert!(
        !read.contains_key("NHIP_ZALO_SECRET"),
        "a secret holding 'unset' is unset"
    );
    assert_eq!(read["NHIP_TABLE"], "nhip");

    // Rotation, first step: the new value is pending; every function accepts it.
    let pending = client
        .put_secret_value()
        .secret_id(&link)
        .secret_string(second)
        .version_stages(PENDING)
        .send()
        .await
        .unwrap()
        .version_id
        .unwrap();
    let read = nhip_wiring::with_secrets(named.clone(), &reader)
        .await
        .unwrap();
    assert_eq!(
        read["NHIP_LINK_SECRET"], first,
        "still signing with the first"
    );
    assert_eq!(read["NHIP_LINK_SECRET_NEXT"], second);

    // Second step: the pending value becomes current, the first one previous.
    let current = client
        .describe_secret()
        .secret_id(&link)
        .send()
        .await
        .unwrap()
        .version_ids_to_stages
        .unwrap()
        .into_iter()
        .find(|(_, stages)| stages.iter().any(|s| s == CURRENT))
        .map(|(id, _)| id)
        .unwrap();
    client
        .update_secret_version_stage()
        .secret_id(&link)
        .version_stage(CURRENT)
        .move_to_version_id(&pending)
        .remove_from_version_id(&current)
        .send()
        .await
        .unwrap();
    client
        .update_secret_version_stage()
        .secret_id(&link)
        .version_stage(PENDING)
        .remove_from_version_id(&pending)
        .send()
        .await
        .unwrap();
    let read = nhip_wiring::with_secrets(named, &reader).await.unwrap();
    assert_eq!(read["NHIP_LINK_SECRET"], second);
    assert_eq!(read["NHIP_LINK_SECRET_PREVIOUS"], first);
    assert!(!read.contains_key("NHIP_LINK_SECRET_NEXT"));
}
