//! Message counters per template and per campaign: sent, delivered, opened, clicked, bounced,
//! complained, unsubscribed, deferred, suppressed, no consent, capped, failed. Each is added
//! once per message, when the message first reaches that state (the pipeline and the tracker
//! guard the "first"), with an atomic ADD on `STAT#TPL#<code>` / `STAT#CMP#<id>`.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

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

/// Message counters with their rates.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Stats {
    /// Each counter, 0 when nothing was counted: sent, delivered, opened, clicked, bounced,
    /// complained, unsubscribed, deferred, suppressed, no_consent, capped, no_address, failed.
    #[schema(example = json!({"sent": 12, "delivered": 11, "opened": 5}))]
    pub counts: BTreeMap<String, u64>,
    /// Delivered, opened, clicked, bounced, complained and unsubscribed over `sent` (4 decimal
    /// places); `null` while nothing was sent.
    #[schema(example = json!({"delivered": 0.9167, "opened": 0.4167}))]
    pub rates: BTreeMap<String, Option<f64>>,
}

/// The counters of a template (`TPL`) or campaign (`CMP`), with rates over `sent`.
pub async fn read(deps: &Deps, scope: &str, id: &str) -> Result<Stats, StoreError> {
    let item = deps
        .store
        .get(&keys::message_stats(scope, id))
        .await?
        .unwrap_or_default();
    let value = |name: &str| item.get(name).and_then(Value::as_u64).unwrap_or(0);
    let counts = COUNTERS
        .iter()
        .map(|name| ((*name).to_owned(), value(name)))
        .collect();
    let sent = value("sent");
    let rate = |name: &str| {
        (sent != 0).then(|| {
            let ratio = value(name) as f64 / sent as f64;
            (ratio * 10_000.0).round() / 10_000.0
        })
    };
    let rates = [
        "delivered",
        "opened",
        "clicked",
        "bounced",
        "complained",
        "unsubscribed",
    ]
    .into_iter()
    .map(|name| (name.to_owned(), rate(name)))
    .collect();
    Ok(Stats { counts, rates })
}
