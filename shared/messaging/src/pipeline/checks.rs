//! The checks that read or count in the store: the rules in force, a customer's address on a
//! channel and whether they may be reached there (consent, suppression, do-not-advertise, the
//! once-ever consent request), the channel's send rate and the address's 24-hour count.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::model::{MessageChannel, SendPurpose, Status, Target};
use nhip_core::deps::Deps;
use nhip_core::keys;
use nhip_crm::customers::model::Customer;
use nhip_domain::compliance::{AdChannel, AdvertisingRules, Agreement, decree_91, prune};
use nhip_domain::time::minute_bucket;
use nhip_ports::store::{Condition, Item, StoreError, Update};

use super::PipelineError;
use super::decide::*;

/// How long the 24-hour counters and rate items are kept.
pub(super) const CAP_TTL_SECONDS: i64 = 3 * 24 * 3600;

/// The advertising rules in force: the admin's edit if saved, else the Decree 91 preset.
pub async fn advertising_rules(deps: &Deps) -> Result<AdvertisingRules, StoreError> {
    let Some(item) = deps.store.get(&keys::advertising_rules()).await? else {
        return Ok(decree_91());
    };
    item.get("rules")
        .cloned()
        .and_then(|rules| serde_json::from_value(rules).ok())
        .ok_or_else(|| StoreError::invalid("stored advertising rules are malformed"))
}

/// The normalised address for suppression and counting on a channel.
pub(super) fn address_of(customer: &Customer, channel: MessageChannel) -> Option<String> {
    match channel {
        MessageChannel::Email => customer.email().map(|e| e.as_str().to_owned()),
        MessageChannel::Sms | MessageChannel::Zns => {
            customer.phone().map(|p| p.as_str().to_owned())
        }
        MessageChannel::Push => customer
            .attributes
            .get("push_endpoint")
            .and_then(Value::as_str)
            .map(str::to_owned),
        MessageChannel::Webhook => customer
            .attributes
            .get("ott_id")
            .and_then(Value::as_str)
            .map(str::to_owned),
    }
}

/// Whether the customer may get this purpose on this target's channel now; the address when so.
pub(super) async fn reachable(
    deps: &Deps,
    message_id: &str,
    customer: &Customer,
    purpose: SendPurpose,
    target: &Target,
) -> Result<Result<String, Decision>, StoreError> {
    let channel = target.channel;
    let Some(address) = address_of(customer, channel) else {
        return Ok(Err(Decision::new(
            Status::NoAddress,
            "no_address",
            format!("Khách hàng chưa có địa chỉ nhận qua {channel}."),
        )));
    };
    if let Some(decision) = consent_decision(&Contact::from(customer), purpose, channel) {
        return Ok(Err(decision));
    }
    if let Some(item) = deps
        .store
        .get(&keys::suppression(channel_family(channel), &address))
        .await?
        && let Some(decision) = suppression_decision(&item, purpose)
    {
        return Ok(Err(decision));
    }
    if do_not_advertise_applies(purpose, channel)
        && deps
            .store
            .get(&keys::do_not_advertise(&address))
            .await?
            .is_some()
    {
        return Ok(Err(Decision::new(
            Status::Suppressed,
            "do_not_advertise",
            "Số điện thoại nằm trong danh sách không nhận quảng cáo.",
        )));
    }
    if purpose == SendPurpose::ConsentRequest {
        // Once ever per address: the guard names the message that holds it, so the same
        // message coming back (deferred, retried) still goes, and no other ever does.
        let key = keys::consent_request(channel_family(channel), &address);
        let mut item = key.to_item();
        item.insert("customer_id".into(), customer.id.to_string().into());
        item.insert("message_id".into(), message_id.into());
        match deps.store.put(item, Condition::NotExists).await {
            Ok(()) => {}
            Err(StoreError::ConditionFailed { .. })
                if deps.store.get(&key).await?.is_some_and(|held| {
                    held.get("message_id").and_then(Value::as_str) == Some(message_id)
                }) => {}
            Err(StoreError::ConditionFailed { .. }) => {
                return Ok(Err(Decision::new(
                    Status::NoConsent,
                    "consent_request_already_sent",
                    "Địa chỉ này đã nhận tin mời đăng ký một lần; không gửi thêm.",
                )));
            }
            Err(other) => return Err(other),
        }
    }
    Ok(Ok(address))
}

/// SMS and ZNS reach the same phone number: their suppressions are shared.
pub fn channel_family(channel: MessageChannel) -> &'static str {
    match channel {
        MessageChannel::Email => "email",
        MessageChannel::Sms | MessageChannel::Zns => "phone",
        MessageChannel::Push => "push",
        MessageChannel::Webhook => "ott",
    }
}

/// Counts one send against the channel's budget for this minute.
pub(super) async fn within_rate(
    deps: &Deps,
    channel: MessageChannel,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let key = keys::send_rate(channel.as_str(), &minute_bucket(now));
    let item = deps
        .store
        .update(
            &key,
            Update::new()
                .add("count", 1)
                .set("ttl", now.timestamp() + 180),
            Condition::Always,
        )
        .await?;
    let count = item.get("count").and_then(Value::as_u64).unwrap_or(0);
    Ok(count <= u64::from(deps.settings.messaging.send_rate(channel.as_str())))
}

/// Reserves a place in the address's 24-hour advertising count; `Some(frees_at)` when full.
/// The count is one item per address and channel holding the recent send instants, changed
/// under optimistic concurrency, so racing consumers cannot both take the last place.
pub(super) async fn reserve_cap(
    deps: &Deps,
    rules: &AdvertisingRules,
    agreement: Option<&Agreement>,
    ad_channel: AdChannel,
    cap_key: &str,
    address: &str,
    message_id: &str,
) -> Result<Option<DateTime<Utc>>, PipelineError> {
    let now = deps.clock.now();
    let key = keys::advertising_cap(cap_key, address);
    for attempt in nhip_core::retry::attempts(nhip_core::retry::CONTENDED) {
        attempt.pause().await;
        let current = deps.store.get(&key).await?;
        let version = current
            .as_ref()
            .and_then(|item| item.get("version"))
            .and_then(Value::as_u64);
        let entries: Vec<CapEntry> = current
            .as_ref()
            .and_then(|item| item.get("sends"))
            .and_then(|sends| serde_json::from_value(sends.clone()).ok())
            .unwrap_or_default();
        // A message counted before (a retry after its place was taken) keeps its place.
        if entries.iter().any(|entry| entry.message == message_id) {
            return Ok(None);
        }
        let recent: Vec<DateTime<Utc>> = entries.iter().map(|entry| entry.at).collect();
        match rules.check(agreement, ad_channel, now, &prune(&recent, now)) {
            nhip_domain::compliance::AdVerdict::Capped { frees_at } => return Ok(Some(frees_at)),
            nhip_domain::compliance::AdVerdict::Deferred { .. }
            | nhip_domain::compliance::AdVerdict::Allowed => {}
        }
        // Keep everything younger than 24 hours, including instants a consumer with a clock
        // slightly ahead wrote.
        let mut sends: Vec<CapEntry> = entries
            .into_iter()
            .filter(|entry| entry.at > now - Duration::hours(24))
            .collect();
        sends.push(CapEntry {
            at: now,
            message: message_id.to_owned(),
        });
        let mut item: Item = key.to_item();
        item.insert("sends".into(), json!(sends));
        item.insert("version".into(), json!(version.unwrap_or(0) + 1));
        item.insert("ttl".into(), json!(now.timestamp() + CAP_TTL_SECONDS));
        let condition = match version {
            Some(version) => Condition::version_is(version),
            None => Condition::NotExists,
        };
        match deps.store.put(item, condition).await {
            Ok(()) => return Ok(None),
            Err(StoreError::ConditionFailed { .. }) => continue,
            Err(other) => return Err(other.into()),
        }
    }
    Err(PipelineError::Retry(
        "the advertising count is contended".into(),
    ))
}

/// One advertising send counted against an address.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct CapEntry {
    at: DateTime<Utc>,
    message: String,
}

/// The advertising calls counted against `phone` in the last 24 hours (any order).
pub async fn advertising_calls(deps: &Deps, phone: &str) -> Result<Vec<DateTime<Utc>>, StoreError> {
    let entries: Vec<CapEntry> = deps
        .store
        .get(&keys::advertising_cap(CALL_CAP, phone))
        .await?
        .and_then(|item| item.get("sends").cloned())
        .and_then(|sends| serde_json::from_value(sends).ok())
        .unwrap_or_default();
    Ok(prune(
        &entries.iter().map(|e| e.at).collect::<Vec<_>>(),
        deps.clock.now(),
    ))
}

/// Counts one advertising (invitation) call to `phone`, once per `call_id`, against Decree
/// 91's one call per number per 24 hours: `Some(frees_at)` when that call was already used.
pub async fn count_advertising_call(
    deps: &Deps,
    agreement: Option<&Agreement>,
    phone: &str,
    call_id: &str,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let rules = advertising_rules(deps).await?;
    reserve_cap(
        deps,
        &rules,
        agreement,
        AdChannel::Call,
        CALL_CAP,
        phone,
        call_id,
    )
    .await
    .map_err(|error| match error {
        PipelineError::Retry(_) => StoreError::TransactionConflict,
        PipelineError::Malformed(why) => StoreError::invalid(why),
    })
}

/// Whether `phone` is on the do-not-advertise (do-not-call) list.
pub async fn on_do_not_call_list(deps: &Deps, phone: &str) -> Result<bool, StoreError> {
    Ok(deps
        .store
        .get(&keys::do_not_advertise(phone))
        .await?
        .is_some())
}

/// The count key of advertising calls.
const CALL_CAP: &str = "call";
