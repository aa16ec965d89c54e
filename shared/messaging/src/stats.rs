//! Message counters per template and per campaign: sent, delivered, opened, clicked, bounced,
//! complained, unsubscribed, deferred, suppressed, no consent, capped, failed. Each is added
//! once per message, when the message first reaches that state (the pipeline and the tracker
//! guard the "first"), with an atomic ADD on `STAT#TPL#<code>` / `STAT#CMP#<id>`.

use serde_json::{Map, Value};

use crate::model::Message;
use nhip_core::deps::Deps;
use nhip_core::keys;
use nhip_core::stats::StepCause;
use nhip_ports::store::{Condition, StoreError, Update};

/// The counters, in display order.
pub const COUNTERS: [&str; 13] = [
    "sent",
    "delivered",
    "opened",
    "clicked",
    "bounced",
    "complained",
    "unsubscribed",
    "deferred",
    "suppressed",
    "no_consent",
    "capped",
    "no_address",
    "failed",
];

/// The organisation-wide counters' scope and id (every message, every cause).
pub const ALL: (&str, &str) = ("ALL", "messages");

/// Adds one to `counter` for the whole organisation and the message's template and campaign.
pub async fn count(deps: &Deps, message: &Message, counter: &str) -> Result<(), StoreError> {
    let mut keys = vec![keys::message_stats(ALL.0, ALL.1)];
    if let Some(template) = &message.template {
        keys.push(keys::message_stats("TPL", template));
    }
    if let Some(campaign) = &message.request.campaign {
        keys.push(keys::message_stats("CMP", campaign));
    }
    for key in keys {
        deps.store
            .update(&key, Update::new().add(counter, 1), Condition::Always)
            .await?;
    }
    if message.request.cause.kind == crate::model::CauseKind::Journey {
        count_for_journey(deps, &message.request.cause.id, counter).await?;
    }
    Ok(())
}

/// The journey counter a message counter moves, if any.
fn journey_counter(counter: &str) -> Option<&'static str> {
    Some(match counter {
        "sent" => "sent",
        "delivered" => "delivered",
        "opened" => "opened",
        "clicked" => "clicked",
        "suppressed" | "no_consent" | "capped" | "no_address" => "not_sent",
        "failed" => "errors",
        _ => return None,
    })
}

/// Adds a message counter to the journey version and step of the message's cause.
async fn count_for_journey(deps: &Deps, cause_id: &str, counter: &str) -> Result<(), StoreError> {
    let Some(counter) = journey_counter(counter) else {
        return Ok(());
    };
    let Ok(cause) = cause_id.parse::<StepCause>() else {
        tracing::warn!(
            cause = cause_id,
            "a journey message whose cause is not a journey step"
        );
        return Ok(());
    };
    let step = Some(cause.step.as_str());
    nhip_core::stats::add_to_journey(
        deps,
        &cause.journey,
        cause.version,
        &[(None, counter, 1), (step, counter, 1)],
    )
    .await
}

/// The counters of a template (`TPL`) or campaign (`CMP`), with rates over `sent`.
pub async fn read(deps: &Deps, scope: &str, id: &str) -> Result<Value, StoreError> {
    let item = deps
        .store
        .get(&keys::message_stats(scope, id))
        .await?
        .unwrap_or_default();
    let value = |name: &str| item.get(name).and_then(Value::as_u64).unwrap_or(0);
    let mut counts = Map::new();
    for name in COUNTERS {
        counts.insert(name.into(), value(name).into());
    }
    let sent = value("sent");
    let rate = |name: &str| {
        if sent == 0 {
            Value::Null
        } else {
            let ratio = value(name) as f64 / sent as f64;
            Value::from((ratio * 10_000.0).round() / 10_000.0)
        }
    };
    let mut rates = Map::new();
    for name in [
        "delivered",
        "opened",
        "clicked",
        "bounced",
        "complained",
        "unsubscribed",
    ] {
        rates.insert(name.into(), rate(name));
    }
    Ok(serde_json::json!({ "counts": counts, "rates": rates }))
}
