//! Message counters per template and per campaign: sent, delivered, opened, clicked, bounced,
//! complained, unsubscribed, deferred, suppressed, no consent, capped, failed. Each is added
//! once per message, when the message first reaches that state (the pipeline and the tracker
//! guard the "first"), with an atomic ADD on `STAT#TPL#<code>` / `STAT#CMP#<id>`.

use serde_json::{Map, Value};

use crate::deps::Deps;
use crate::keys;
use crate::messaging::model::Message;
use crate::ports::store::{Condition, StoreError, Update};

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
    if message.request.cause.kind == crate::messaging::model::CauseKind::Journey {
        crate::journeys::stats::count_message(deps, &message.request.cause.id, counter).await?;
    }
    Ok(())
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
