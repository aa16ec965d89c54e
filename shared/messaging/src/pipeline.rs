//! The send pipeline: every message Nhịp sends to a customer (journey, reminder, staff,
//! campaign, system) is a [`SendRequest`] on the `sends` queue, and this consumer decides and
//! sends it. In order:
//!
//! 1. **Idempotency.** The message id derives from the request's idempotency key and the
//!    message item is written create-only before anything else, so a second delivery (or a
//!    second request with the same key) finds it and sends nothing. A consumer holds a lease
//!    while it decides; it marks the message `sending` before calling the provider, so a
//!    consumer that dies after that point leaves the message `uncertain` rather than sending
//!    it twice.
//! 2. **Reachability and consent**, per target in preference order: an address on the channel,
//!    `may_contact` (erasure, restriction, objection, opt-in for marketing), the suppression
//!    list (hard bounce, complaint, unsubscribe), the do-not-advertise list, and for a consent
//!    request the once-ever rule. The first target that passes is used.
//! 3. **Decree 91** for advertising: the channel's local-time window (outside it the message
//!    is deferred to the next opening, never dropped), the per-channel send rate, and the
//!    24-hour limit per address (counted across every journey and staff send). `care` is not
//!    advertising and is never held by the window or the limit.
//! 4. **Rendering** with the customer's data; `[QC]` labels and opt-out text for advertising;
//!    tracked links in SMS, ZNS and push; unsubscribe headers on e-mail.
//! 5. **Sending** through the channel port, then the decision (sent, deferred, suppressed, no
//!    consent, capped, no address, failed) recorded on the message with its reason, on the
//!    customer's timeline, in the template and campaign counters, and as a domain event.

use std::str::FromStr;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::{DateTime, Duration, Utc};
use nhip_domain::compliance::{AdChannel, AdvertisingRules, Agreement, decree_91, prune};
use nhip_domain::customer::{Consents, Purpose};
use nhip_domain::event::DomainEvent;
use nhip_domain::ids::{CustomerId, DueWorkId};
use nhip_domain::template::{Content, MergeData, Template, customer_salutation, customer_title};
use nhip_domain::time::{minute_bucket, minute_floor, vn_date};
use serde_json::{Value, json};
use tracing::instrument;

use crate::links;
use crate::model::{
    Message, MessageChannel, RequestData, SendPurpose, SendRequest, Status, SystemMessage, Target,
};
use crate::stats;
use crate::templates;
use nhip_core::consumer::{Failure, process_batch};
use nhip_core::deps::Deps;
use nhip_core::keys;
use nhip_crm::customers::model::Customer;
use nhip_crm::customers::repo;
use nhip_domain::template::escape_html;
use nhip_ports::channel::{
    Envelope, Outgoing, OutgoingEmail, OutgoingPush, OutgoingSms, OutgoingWebhook, OutgoingZns,
    SmsKind,
};
use nhip_ports::store::{Condition, Item, StoreError, Update};
use nhip_ports::{ChannelError, QueueError};

/// How long a consumer owns a message it is deciding.
const LEASE: Duration = Duration::minutes(5);
/// How long the 24-hour counters and rate items are kept.
const CAP_TTL_SECONDS: i64 = 3 * 24 * 3600;

/// What became of one send request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The message id.
    pub message_id: String,
    /// Its status now.
    pub status: Status,
    /// Why, machine-readable.
    pub reason: Option<String>,
    /// Whether this delivery found the work already done.
    pub duplicate: bool,
}

/// Why a request could not be processed now.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// Try again later (store or provider trouble, another consumer holds the lease).
    #[error("retry later: {0}")]
    Retry(String),
    /// The request itself is malformed.
    #[error("malformed send request: {0}")]
    Malformed(String),
}

impl From<StoreError> for PipelineError {
    fn from(error: StoreError) -> Self {
        if error.is_retryable() || matches!(error, StoreError::ConditionFailed { .. }) {
            PipelineError::Retry(error.to_string())
        } else {
            PipelineError::Malformed(error.to_string())
        }
    }
}

/// Checks a request before it is queued; the message is in Vietnamese-free English for logs
/// and API errors alike.
pub fn validate(request: &SendRequest) -> Result<(), String> {
    if request.idempotency_key.is_empty()
        || request.idempotency_key.len() > crate::model::MAX_IDEMPOTENCY_KEY
    {
        return Err("idempotency_key must be 1–200 bytes".into());
    }
    if CustomerId::from_str(&request.customer_id).is_err() {
        return Err("customer_id is not a customer id".into());
    }
    if request.system.is_none() && request.targets.is_empty() {
        return Err("at least one target (channel and template) is needed".into());
    }
    if request.targets.len() > MessageChannel::ALL.len() {
        return Err("at most one target per channel".into());
    }
    Ok(())
}

/// Puts requests on the `sends` queue.
pub async fn enqueue(deps: &Deps, requests: &[SendRequest]) -> Result<(), QueueError> {
    nhip_ports::queue::send_json(&*deps.queues.sends, requests, "send").await
}

/// Handles one batch from the `sends` queue.
#[instrument(skip_all, fields(records = event.records.len()))]
pub async fn handle_batch(deps: &Deps, event: SqsEvent) -> SqsBatchResponse {
    process_batch(event, |record| handle_record(deps, record)).await
}

async fn handle_record(deps: &Deps, record: SqsMessage) -> Result<(), Failure> {
    let body = record.body.as_deref().unwrap_or_default();
    let request: SendRequest = match serde_json::from_str(body) {
        Ok(request) => request,
        Err(error) => {
            tracing::warn!(%error, "send body is not a send request");
            return Err(Failure::Poison);
        }
    };
    match process(deps, &request).await {
        Ok(outcome) => {
            tracing::info!(
                message_id = %outcome.message_id,
                status = outcome.status.as_str(),
                reason = outcome.reason.as_deref().unwrap_or(""),
                duplicate = outcome.duplicate,
                "send request handled"
            );
            Ok(())
        }
        Err(PipelineError::Retry(reason)) => {
            tracing::warn!(%reason, "send request will be retried");
            Err(Failure::Retryable)
        }
        Err(PipelineError::Malformed(reason)) => {
            tracing::warn!(%reason, "send request is malformed");
            Err(Failure::Poison)
        }
    }
}

/// A decision short of sending.
struct Decision {
    status: Status,
    reason: &'static str,
    text: String,
    until: Option<DateTime<Utc>>,
}

impl Decision {
    fn new(status: Status, reason: &'static str, text: impl Into<String>) -> Self {
        Self {
            status,
            reason,
            text: text.into(),
            until: None,
        }
    }

    /// The same decision, held until `until` (a deferral's release, a cap's freeing).
    fn until(mut self, until: DateTime<Utc>) -> Self {
        self.until = Some(until);
        self
    }
}

/// Decides and, when allowed, sends one request. Safe to call any number of times.
pub async fn process(deps: &Deps, request: &SendRequest) -> Result<Outcome, PipelineError> {
    validate(request).map_err(PipelineError::Malformed)?;
    let Some(mut message) = claim(deps, request).await? else {
        let current = load(deps, &request.message_id())
            .await?
            .ok_or_else(|| PipelineError::Retry("message vanished".into()))?;
        return Ok(Outcome {
            message_id: current.id,
            status: current.status,
            reason: current.reason,
            duplicate: true,
        });
    };
    let customer_id = CustomerId::from_str(&request.customer_id)
        .map_err(|_| PipelineError::Malformed("customer id".into()))?;
    let Some(customer) = repo::get(&*deps.store, customer_id).await? else {
        let decision = Decision::new(
            Status::Failed,
            "customer_not_found",
            "Không tìm thấy khách hàng.",
        );
        return finish(deps, &mut message, None, decision).await;
    };
    let rules = advertising_rules(deps).await?;
    let now = deps.clock.now();

    // 2. The first target the customer can be reached on.
    let targets = effective_targets(request);
    // The first preference's template is counted for decisions made before any is chosen.
    message.template = targets
        .first()
        .map(|t| t.template.clone())
        .filter(|t| !t.is_empty());
    let mut first_refusal: Option<Decision> = None;
    let mut chosen = None;
    for target in &targets {
        match reachable(deps, &message.id, &customer, request.purpose, target).await? {
            Ok(address) => {
                chosen = Some((target.clone(), address));
                break;
            }
            Err(decision) => {
                first_refusal.get_or_insert(decision);
            }
        }
    }
    let Some((target, address)) = chosen else {
        return finish(deps, &mut message, None, unreachable(first_refusal)).await;
    };
    message.channel = Some(target.channel);
    message.template = Some(target.template.clone()).filter(|t| !t.is_empty());

    // 3a. The advertising window.
    let ad = advertising_scope(request.purpose, target.channel);
    let agreement = customer.advertising_agreement.as_ref();
    if let Some((ad_channel, _)) = ad
        && let Some(decision) = outside_window(&rules, agreement, ad_channel, now)
    {
        return finish(deps, &mut message, Some(&target), decision).await;
    }

    // 4. Render (a template error is final: retrying renders the same).
    let rendered = match render(deps, request, &customer, &target, &address, &mut message).await {
        Ok(rendered) => rendered,
        Err(decision) => return finish(deps, &mut message, Some(&target), decision).await,
    };

    // 3b. The channel's send rate.
    if !within_rate(deps, target.channel, now).await? {
        return finish(deps, &mut message, Some(&target), rate_limited(now)).await;
    }

    // 3c. The 24-hour advertising limit for the address, reserved atomically.
    if let Some((ad_channel, cap_key)) = ad
        && let Some(frees_at) = reserve_cap(
            deps,
            &rules,
            agreement,
            ad_channel,
            cap_key,
            &address,
            &message.id,
        )
        .await?
    {
        let decision = capped(&rules, agreement, ad_channel, frees_at);
        return finish(deps, &mut message, Some(&target), decision).await;
    }

    // 5. Send: mark `sending` first, so a crash from here on is never sent again.
    message.status = Status::Sending;
    message.content = Some(stored_content(&rendered));
    save(deps, &mut message).await?;
    let envelope = Envelope {
        message_id: message.id.clone(),
        outgoing: rendered,
    };
    let channel = deps.channels.for_message(&envelope.outgoing).clone();
    match channel.send(&envelope).await {
        Ok(accepted) => {
            message.provider_id = Some(accepted.provider_id);
            message.sent_at = Some(deps.clock.now());
            let decision = Decision::new(Status::Sent, "sent", "Đã gửi.");
            finish(deps, &mut message, Some(&target), decision).await
        }
        Err(ChannelError::Rejected { reason }) => {
            tracing::warn!(%reason, channel = channel.name(), "provider rejected the message");
            let decision = Decision::new(
                Status::Failed,
                "provider_rejected",
                format!("Nhà cung cấp từ chối tin: {reason}"),
            );
            finish(deps, &mut message, Some(&target), decision).await
        }
        Err(ChannelError::Unavailable { source }) => {
            // The request may have left: never risk a second copy.
            tracing::warn!(error = %source, channel = channel.name(), "provider answer lost");
            let decision = Decision::new(
                Status::Uncertain,
                "provider_answer_lost",
                "Không nhận được trả lời của nhà cung cấp; không rõ tin đã đi chưa nên không gửi lại.",
            );
            finish(deps, &mut message, Some(&target), decision).await
        }
        Err(error) => {
            // The provider did not take it (throttled, refused for now, never reached): hand
            // the message back for the retry.
            message.status = Status::Processing;
            message.lease_until = Some(deps.clock.now());
            save(deps, &mut message).await?;
            Err(PipelineError::Retry(format!("{}: {error}", channel.name())))
        }
    }
}

/// What is kept of the sent content: everything but attachment bytes (kept in the blob store
/// already), so a message item stays far below the store's item size.
fn stored_content(outgoing: &Outgoing) -> Value {
    let mut value = serde_json::to_value(outgoing).expect("outgoing serialises");
    if let Some(attachments) = value.get_mut("attachments").and_then(Value::as_array_mut) {
        for attachment in attachments {
            let size = attachment
                .get("bytes")
                .and_then(Value::as_str)
                .map_or(0, |b| {
                    b.len() / 4 * 3 - b.bytes().rev().take_while(|c| *c == b'=').count()
                });
            if let Some(object) = attachment.as_object_mut() {
                object.remove("bytes");
                object.insert("size".into(), json!(size));
            }
        }
    }
    value
}

/// The targets to try: a system message goes on the channel it names, with no template.
fn effective_targets(request: &SendRequest) -> Vec<Target> {
    match &request.system {
        Some(SystemMessage::RefusalConfirmation { channel, .. }) => vec![Target {
            // ZNS carries only Zalo-approved templates: the confirmation goes by SMS.
            channel: match channel {
                MessageChannel::Zns => MessageChannel::Sms,
                other => *other,
            },
            template: String::new(),
            version: None,
        }],
        Some(SystemMessage::ConsentConfirmation { channel, .. }) => vec![Target {
            channel: *channel,
            template: String::new(),
            version: None,
        }],
        None => request.targets.clone(),
    }
}

/// The Decree 91 channel whose rules apply to a message channel, and the key its 24-hour
/// count is kept under. ZNS advertising follows the SMS rules (it reaches the same phone
/// number) with its own count; push and webhook bridges are outside the decree.
fn ad_channel(channel: MessageChannel) -> Option<(AdChannel, &'static str)> {
    match channel {
        MessageChannel::Email => Some((AdChannel::Email, "email")),
        MessageChannel::Sms => Some((AdChannel::Sms, "sms")),
        MessageChannel::Zns => Some((AdChannel::Sms, "zns")),
        MessageChannel::Push | MessageChannel::Webhook => None,
    }
}

/// The Decree 91 channel and count key a send falls under: none for `care` (not
/// advertising) or for a channel outside the decree.
fn advertising_scope(
    purpose: SendPurpose,
    channel: MessageChannel,
) -> Option<(AdChannel, &'static str)> {
    ad_channel(channel).filter(|_| purpose.is_advertising())
}

/// Outside the channel's advertising window (the customer's agreed one, else the rules'):
/// deferred to its next opening, never dropped. `None` inside it, or with no window.
fn outside_window(
    rules: &AdvertisingRules,
    agreement: Option<&Agreement>,
    ad_channel: AdChannel,
    now: DateTime<Utc>,
) -> Option<Decision> {
    let window = rules.window(agreement, ad_channel)?;
    if window.contains(now) {
        return None;
    }
    let until = window.next_open(now);
    let decision = Decision::new(
        Status::Deferred,
        "quiet_hours",
        format!(
            "Ngoài khung giờ quảng cáo {}–{}; hoãn đến {}.",
            window.start.format("%H:%M"),
            window.end.format("%H:%M"),
            nhip_domain::time::to_vn(until).format("%H:%M %d/%m/%Y")
        ),
    );
    Some(decision.until(until))
}

/// Over the channel's send rate this minute: deferred to the next minute.
fn rate_limited(now: DateTime<Utc>) -> Decision {
    Decision::new(
        Status::Deferred,
        "rate_limited",
        "Vượt tốc độ gửi của kênh; gửi lại phút sau.",
    )
    .until(minute_floor(now) + Duration::minutes(1))
}

/// The 24-hour advertising limit for the address is reached until `frees_at`.
fn capped(
    rules: &AdvertisingRules,
    agreement: Option<&Agreement>,
    ad_channel: AdChannel,
    frees_at: DateTime<Utc>,
) -> Decision {
    let limit = rules.limit(agreement, ad_channel).unwrap_or_default();
    Decision::new(
        Status::Capped,
        "daily_limit",
        format!(
            "Đã đủ {limit} tin quảng cáo qua {} trong 24 giờ tới địa chỉ này.",
            ad_channel.label()
        ),
    )
    .until(frees_at)
}

/// No target passed: the first target's refusal explains it, or there was no target.
fn unreachable(first_refusal: Option<Decision>) -> Decision {
    first_refusal.unwrap_or_else(|| {
        Decision::new(Status::NoAddress, "no_target", "Không có kênh nào để gửi.")
    })
}

/// The counter a decision adds to: a deferral counts once (its first time), and a message
/// still on its way counts nothing yet.
fn counter(status: Status, first_deferral: bool) -> Option<&'static str> {
    match status {
        Status::Deferred if first_deferral => Some("deferred"),
        Status::Deferred | Status::Processing | Status::Sending => None,
        other => Some(other.as_str()),
    }
}

/// Creates the message item, or takes over one whose deferral or lease has run out. `None`
/// when another delivery already did (or is doing) the work.
async fn claim(deps: &Deps, request: &SendRequest) -> Result<Option<Message>, PipelineError> {
    let now = deps.clock.now();
    let id = request.message_id();
    let message = Message {
        id: id.clone(),
        customer_id: request.customer_id.clone(),
        request: request.clone(),
        status: Status::Processing,
        reason: None,
        reason_text: None,
        channel: None,
        template: None,
        template_version: None,
        content: None,
        sms_segments: None,
        links: Vec::new(),
        provider_id: None,
        defer_until: None,
        lease_until: Some(now + LEASE),
        engagement: Default::default(),
        created_at: now,
        updated_at: now,
        sent_at: None,
        version: 1,
    };
    match deps
        .store
        .put(message.to_item()?, Condition::NotExists)
        .await
    {
        Ok(()) => return Ok(Some(message)),
        Err(StoreError::ConditionFailed { .. }) => {}
        Err(other) => return Err(other.into()),
    }
    let Some(mut current) = load(deps, &id).await? else {
        return Err(PipelineError::Retry("message vanished".into()));
    };
    let lease_over = current.lease_until.is_none_or(|until| until <= now);
    match current.status {
        status if status.is_final() => Ok(None),
        Status::Deferred if current.defer_until.is_some_and(|until| until <= now) => {
            take_over(deps, &mut current, now).await
        }
        Status::Deferred => Ok(None),
        Status::Processing if lease_over => take_over(deps, &mut current, now).await,
        Status::Sending if lease_over => {
            // The provider may or may not have taken it: never risk a second copy.
            let decision = Decision::new(
                Status::Uncertain,
                "consumer_lost",
                "Không rõ tin đã rời hệ thống hay chưa; không gửi lại.",
            );
            let channel = current.channel;
            let target = channel.map(|channel| Target {
                channel,
                template: current.template.clone().unwrap_or_default(),
                version: current.template_version,
            });
            finish(deps, &mut current, target.as_ref(), decision).await?;
            Ok(None)
        }
        _ => Err(PipelineError::Retry(
            "another consumer holds the message".into(),
        )),
    }
}

async fn take_over(
    deps: &Deps,
    current: &mut Message,
    now: DateTime<Utc>,
) -> Result<Option<Message>, PipelineError> {
    current.status = Status::Processing;
    current.lease_until = Some(now + LEASE);
    let before = current.version;
    current.version += 1;
    current.updated_at = now;
    match deps
        .store
        .put(current.to_item()?, Condition::version_is(before))
        .await
    {
        Ok(()) => Ok(Some(current.clone())),
        // Another delivery took it first.
        Err(StoreError::ConditionFailed { .. }) => Ok(None),
        Err(other) => Err(other.into()),
    }
}

/// The message `id`, if stored.
pub async fn load(deps: &Deps, id: &str) -> Result<Option<Message>, StoreError> {
    deps.store
        .get(&keys::message(id))
        .await?
        .map(Message::from_item)
        .transpose()
}

/// Writes the message under optimistic concurrency; a lost race is `Retry`.
async fn save(deps: &Deps, message: &mut Message) -> Result<(), PipelineError> {
    let before = message.version;
    message.version += 1;
    message.updated_at = deps.clock.now();
    deps.store
        .put(message.to_item()?, Condition::version_is(before))
        .await
        .map_err(PipelineError::from)
}

/// Records a decision: on the message, the timeline, the counters and as an event. A
/// deferral also schedules the message's release.
async fn finish(
    deps: &Deps,
    message: &mut Message,
    target: Option<&Target>,
    decision: Decision,
) -> Result<Outcome, PipelineError> {
    let now = deps.clock.now();
    let first_deferral = decision.status == Status::Deferred && message.defer_until.is_none();
    message.status = decision.status;
    message.reason = Some(decision.reason.to_owned());
    message.reason_text = Some(decision.text.clone());
    message.lease_until = None;
    if let Some(target) = target {
        message.channel = Some(target.channel);
    }
    if decision.status == Status::Deferred {
        message.defer_until = decision.until;
    }
    // The release is scheduled before the deferral is saved: if the save fails, the request
    // is retried and decided again, and a release finding nothing deferred does nothing.
    if let (Status::Deferred, Some(until)) = (decision.status, decision.until) {
        let work = nhip_core::scheduler::Work::SendMessage {
            message_id: message.id.clone(),
        };
        let op = nhip_core::scheduler::schedule(DueWorkId::new_at(now), until, now, &work);
        let nhip_ports::WriteOp::Put { item, condition } = op else {
            unreachable!("scheduling is a put");
        };
        deps.store.put(item, condition).await?;
    }
    save(deps, message).await?;
    if let Some(counter) = counter(decision.status, first_deferral) {
        stats::count(deps, message, counter).await?;
    }
    let event = DomainEvent {
        id: format!(
            "msg-{}-{}-{}",
            message.id,
            decision.status.as_str(),
            message.version
        ),
        source: nhip_core::events::NHIP_SOURCE.into(),
        kind: decision.status.event_type().into(),
        customer_id: message.customer_id.parse().ok(),
        occurred_at: now,
        data: json!({
            "message_id": message.id,
            "channel": message.channel,
            "template": message.template,
            "template_version": message.template_version,
            "purpose": message.request.purpose,
            "cause": message.request.cause,
            "campaign": message.request.campaign,
            "status": decision.status,
            "status_label": decision.status.label(),
            "reason": decision.reason,
            "reason_text": decision.text,
            "until": decision.until,
        }),
    };
    nhip_core::events::record(deps, &event).await?;
    if let Err(error) = nhip_core::events::publish(deps, std::slice::from_ref(&event)).await {
        // The decision is stored and on the timeline; journeys learn of it when the events
        // queue is back (a transactional outbox is on the roadmap).
        tracing::warn!(%error, "message event not published");
    }
    Ok(Outcome {
        message_id: message.id.clone(),
        status: message.status,
        reason: message.reason.clone(),
        duplicate: false,
    })
}

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
fn address_of(customer: &Customer, channel: MessageChannel) -> Option<String> {
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

/// What a customer's record says about contacting them.
struct Contact<'a> {
    consents: &'a Consents,
    processing_restricted: bool,
    marketing_objected: bool,
    erased: bool,
}

impl<'a> From<&'a Customer> for Contact<'a> {
    fn from(customer: &'a Customer) -> Self {
        Self {
            consents: &customer.consents,
            processing_restricted: customer.processing_restricted,
            marketing_objected: customer.marketing_objected,
            erased: customer.erased_at.is_some(),
        }
    }
}

/// The consent rule for a purpose on a channel: `None` when it may go, else the refusal.
/// Marketing and consent requests are judged as marketing, care as care; a consent request
/// goes only to someone who has never decided: not to an opt-in (pointless) and never to a
/// refusal.
fn consent_decision(
    contact: &Contact,
    purpose: SendPurpose,
    channel: MessageChannel,
) -> Option<Decision> {
    let consent_channel = channel.consent_channel();
    let may_contact = |purpose| {
        nhip_domain::customer::may_contact(
            contact.consents,
            contact.processing_restricted,
            contact.marketing_objected,
            contact.erased,
            consent_channel,
            purpose,
        )
        .map_err(|refusal| refusal.code())
    };
    let check = match purpose {
        SendPurpose::ConsentRequest => may_contact(Purpose::Care).and_then(|()| {
            match contact.consents.get(consent_channel, Purpose::Marketing) {
                None => Ok(()),
                Some(record) if record.granted => Err("already_consented"),
                Some(_) => Err("refused"),
            }
        }),
        SendPurpose::Marketing => may_contact(Purpose::Marketing),
        SendPurpose::Care => may_contact(Purpose::Care),
    };
    check.err().map(|code| {
        Decision::new(
            Status::NoConsent,
            consent_reason(code),
            format!("Không được gửi qua {channel}: {}.", consent_text(code)),
        )
    })
}

/// An entry of the suppression list for the address: `scope` `all` stops every message,
/// `advertising` only advertising.
fn suppression_decision(suppression: &Item, purpose: SendPurpose) -> Option<Decision> {
    let scope = suppression
        .get("scope")
        .and_then(Value::as_str)
        .unwrap_or("all");
    if scope != "all" && !purpose.is_advertising() {
        return None;
    }
    let reason = suppression
        .get("reason")
        .and_then(Value::as_str)
        .unwrap_or("suppressed");
    Some(Decision::new(
        Status::Suppressed,
        suppression_reason(reason),
        format!(
            "Địa chỉ nằm trong danh sách chặn ({}).",
            suppression_text(reason)
        ),
    ))
}

/// Whether the do-not-advertise list (phone numbers) applies: advertising by SMS or ZNS.
fn do_not_advertise_applies(purpose: SendPurpose, channel: MessageChannel) -> bool {
    purpose.is_advertising() && matches!(channel, MessageChannel::Sms | MessageChannel::Zns)
}

/// Whether the customer may get this purpose on this target's channel now; the address when so.
async fn reachable(
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

fn consent_reason(code: &str) -> &'static str {
    match code {
        "erased" => "erased",
        "processing_restricted" => "processing_restricted",
        "marketing_objected" => "marketing_objected",
        "no_marketing_consent" => "no_marketing_consent",
        "care_withdrawn" => "care_withdrawn",
        "already_consented" => "already_consented",
        "refused" => "refused",
        _ => "no_consent",
    }
}

fn consent_text(code: &str) -> &'static str {
    match code {
        "erased" => "dữ liệu cá nhân đã bị xoá",
        "processing_restricted" => "khách hàng hạn chế xử lý dữ liệu",
        "marketing_objected" => "khách hàng phản đối tiếp thị",
        "no_marketing_consent" => "chưa có đồng ý nhận quảng cáo",
        "care_withdrawn" => "khách hàng đã từ chối tin chăm sóc",
        "already_consented" => "khách hàng đã đồng ý nhận quảng cáo",
        "refused" => "khách hàng đã từ chối nhận quảng cáo",
        _ => "chưa có đồng ý",
    }
}

fn suppression_reason(reason: &str) -> &'static str {
    match reason {
        "hard_bounce" => "hard_bounce",
        "complaint" => "complaint",
        "unsubscribe" => "unsubscribed",
        "refusal" => "refused",
        _ => "suppressed",
    }
}

fn suppression_text(reason: &str) -> &'static str {
    match reason {
        "hard_bounce" => "địa chỉ không tồn tại",
        "complaint" => "khách hàng đánh dấu thư rác",
        "unsubscribe" => "khách hàng huỷ đăng ký",
        "refusal" => "khách hàng từ chối quảng cáo",
        _ => "chặn thủ công",
    }
}

/// The data a template sees for this customer.
pub fn merge_data(
    deps: &Deps,
    customer: &Customer,
    data: &RequestData,
    message: Option<(&str, Option<String>)>,
) -> MergeData {
    let today = vn_date(deps.clock.now());
    let title = customer_title(customer.gender, customer.birthday, today);
    let given = (!customer.given_name.trim().is_empty()).then_some(customer.given_name.as_str());
    let salutation = customer_salutation(title, given);
    let organisation = &deps.settings.messaging.organisation;
    MergeData {
        customer: json!({
            "id": customer.id.to_string(),
            "full_name": customer.full_name,
            "given_name": customer.given_name,
            "title": title,
            "salutation": salutation,
            "gender": customer.gender,
            "birthday": customer.birthday.map(|d| d.to_string()),
            "phone": customer.phone().map(|p| p.national()),
            "email": customer.email().map(|e| e.as_str().to_owned()),
            "lifecycle": customer.lifecycle.as_str(),
            "tags": customer.tags,
            "attributes": customer.attributes,
            "owner": customer.owner,
        }),
        holding: data.holding.clone(),
        journey: data.journey.clone(),
        event: data.event.clone(),
        message: json!({
            "id": message.as_ref().map(|(id, _)| *id),
            "unsubscribe_url": message.and_then(|(_, url)| url),
        }),
        organisation: json!({
            "name": organisation.name,
            "hotline": organisation.hotline,
            "website": organisation.website,
        }),
    }
}

/// Renders the chosen target into what the channel sends, with labels, opt-out, tracked
/// links and headers. A failure is final and explained.
async fn render(
    deps: &Deps,
    request: &SendRequest,
    customer: &Customer,
    target: &Target,
    address: &str,
    message: &mut Message,
) -> Result<Outgoing, Decision> {
    let settings = &deps.settings.messaging;
    let secret = settings.link_secret.as_deref();
    let unsubscribe_url = secret.map(|secret| {
        format!(
            "{}/u/{}",
            settings.public_url,
            links::unsubscribe_token(secret, &message.id)
        )
    });
    let failed = |reason: &'static str, text: String| Decision::new(Status::Failed, reason, text);
    let content = match &request.system {
        Some(SystemMessage::RefusalConfirmation {
            received_at,
            channel,
        }) => refusal_confirmation(deps, *received_at, *channel),
        Some(SystemMessage::ConsentConfirmation {
            channel,
            url,
            consents,
        }) => consent_confirmation(deps, *channel, url, consents),
        None => {
            let version = templates::for_send(deps, &target.template, target.version)
                .await
                .map_err(|e| failed("template_missing", format!("Không có mẫu tin: {e}.")))?;
            message.template = Some(version.code.clone());
            message.template_version = Some(version.number);
            if version.content.channel() != target.channel.as_str() {
                return Err(failed(
                    "template_channel_mismatch",
                    format!(
                        "Mẫu {} dành cho kênh {}, không phải {}.",
                        version.code,
                        version.content.channel(),
                        target.channel
                    ),
                ));
            }
            if let Content::Zns { tag, .. } = &version.content
                && request.purpose.is_advertising()
                && !tag.allows_marketing()
            {
                return Err(failed(
                    "zns_tag_not_promotion",
                    format!(
                        "Mẫu ZNS gắn nhãn “{}” không được dùng để quảng cáo.",
                        tag.label()
                    ),
                ));
            }
            let compiled = Template::compile(&version.content)
                .map_err(|e| failed("template_invalid", format!("Mẫu tin lỗi: {e}")))?;
            let data = merge_data(
                deps,
                customer,
                &request.data,
                Some((&message.id, unsubscribe_url.clone())),
            );
            let rendered = compiled
                .render(&data)
                .map_err(|e| failed("render_failed", format!("Không tạo được nội dung: {e}")))?;
            // What customer data put into a link is checked as the template's own links were
            // when it was saved: a `javascript:` or `data:` link is never sent.
            nhip_domain::template::links::check(&rendered, &settings.app_link_schemes)
                .map_err(|e| failed("unsafe_link", format!("Không gửi: {e}")))?;
            rendered
        }
    };
    let advertising = request.purpose.is_advertising();
    let rules = if advertising {
        Some(
            advertising_rules(deps)
                .await
                .map_err(|e| failed("rules_unavailable", e.to_string()))?,
        )
    } else {
        None
    };
    let tracked = |text: &str, links: &mut Vec<String>| match secret {
        Some(secret) => links::rewrite(text, &settings.public_url, secret, &message.id, links),
        None => text.to_owned(),
    };
    let mut new_links = Vec::new();
    let outgoing = match content {
        Content::Email {
            subject,
            html,
            text,
            attachments,
        } => {
            let (mut subject, mut html, mut text) = (subject, html, text);
            let mut headers = Vec::new();
            if let Some(rules) = &rules {
                let Some(url) = &unsubscribe_url else {
                    return Err(failed(
                        "link_secret_missing",
                        "Chưa cấu hình NHIP_LINK_SECRET nên không tạo được liên kết từ chối; \
                         không gửi thư quảng cáo."
                            .into(),
                    ));
                };
                subject = rules.label_email_subject(&subject);
                let opt_out = rules.email_opt_out(url);
                text = format!("{text}\n\n{opt_out}");
                html = format!(
                    "{html}\n<p style=\"font-size:12px;color:#666\">{}</p>",
                    escape_html(&opt_out).replace(
                        &escape_html(url),
                        &format!("<a href=\"{0}\">{0}</a>", escape_html(url))
                    )
                );
            }
            if let Some(url) = &unsubscribe_url {
                headers.push(("List-Unsubscribe".to_owned(), format!("<{url}>")));
                headers.push((
                    "List-Unsubscribe-Post".to_owned(),
                    "List-Unsubscribe=One-Click".to_owned(),
                ));
            }
            let mut files = Vec::new();
            for attachment in attachments {
                let blob = deps
                    .blobs
                    .get(&attachment.blob_key)
                    .await
                    .map_err(|e| failed("attachment_unavailable", e.to_string()))?
                    .ok_or_else(|| {
                        failed(
                            "attachment_missing",
                            format!("Không tìm thấy tệp đính kèm {}.", attachment.filename),
                        )
                    })?;
                files.push(nhip_ports::channel::Attachment {
                    filename: attachment.filename,
                    content_type: attachment.content_type,
                    bytes: blob.bytes,
                });
            }
            Outgoing::Email(OutgoingEmail {
                from: settings.email_from.clone(),
                to: address.to_owned(),
                subject,
                html,
                text,
                attachments: files,
                headers,
            })
        }
        Content::Sms { text, .. } => {
            let mut text = tracked(&text, &mut new_links);
            if let Some(rules) = &rules {
                text = rules.label_sms(&text, &settings.sms_reply_number);
            }
            message.sms_segments = Some(json!(nhip_domain::template::sms_segments(&text)));
            Outgoing::Sms(OutgoingSms {
                to: address.to_owned(),
                text,
                sender_id: settings.sms_sender_id.clone(),
                kind: if advertising {
                    SmsKind::Promotional
                } else {
                    SmsKind::Transactional
                },
            })
        }
        Content::Zns {
            template_id,
            params,
            ..
        } => Outgoing::Zns(OutgoingZns {
            phone: address.trim_start_matches('+').to_owned(),
            template_id,
            params: params
                .into_iter()
                .map(|(k, v)| (k, tracked(&v, &mut new_links)))
                .collect(),
            tracking_id: message.id.clone(),
        }),
        Content::Push {
            title,
            body,
            deep_link,
        } => Outgoing::Push(OutgoingPush {
            endpoint: address.to_owned(),
            title,
            body: tracked(&body, &mut new_links),
            deep_link,
        }),
        Content::Webhook { text } => Outgoing::Webhook(OutgoingWebhook {
            bridge: customer
                .attributes
                .get("ott_bridge")
                .and_then(Value::as_str)
                .unwrap_or("ott")
                .to_owned(),
            recipient: address.to_owned(),
            text: tracked(&text, &mut new_links),
        }),
    };
    message.links = new_links;
    Ok(outgoing)
}

/// The confirmation of a refusal: when it was received and that advertising stopped. No
/// advertising in it, and no template to edit it into one.
fn refusal_confirmation(
    deps: &Deps,
    received_at: DateTime<Utc>,
    channel: MessageChannel,
) -> Content {
    let organisation = &deps.settings.messaging.organisation.name;
    let when = nhip_domain::time::to_vn(received_at).format("%H:%M ngày %d/%m/%Y");
    let via = match channel {
        MessageChannel::Email => "thư điện tử",
        MessageChannel::Sms => "SMS",
        MessageChannel::Zns => "Zalo",
        MessageChannel::Push => "thông báo ứng dụng",
        MessageChannel::Webhook => "ứng dụng nhắn tin",
    };
    let sentence = format!(
        "{organisation} đã nhận yêu cầu từ chối nhận quảng cáo qua {via} của Quý khách lúc \
         {when}. Chúng tôi đã ngừng gửi quảng cáo qua kênh này."
    );
    match channel {
        MessageChannel::Email => Content::Email {
            subject: "Xác nhận từ chối nhận thư quảng cáo".into(),
            html: format!("<p>{}</p>", escape_html(&sentence)),
            text: sentence,
            attachments: Vec::new(),
        },
        MessageChannel::Push => Content::Push {
            title: "Xác nhận từ chối quảng cáo".into(),
            body: sentence,
            deep_link: None,
        },
        MessageChannel::Webhook => Content::Webhook { text: sentence },
        MessageChannel::Sms | MessageChannel::Zns => Content::Sms {
            text: sentence,
            unaccented: false,
        },
    }
}

/// The double opt-in request: what was asked for in the customer's name and the link that
/// confirms it. Nothing is granted unless they confirm.
fn consent_confirmation(
    deps: &Deps,
    channel: MessageChannel,
    url: &str,
    consents: &[String],
) -> Content {
    let organisation = &deps.settings.messaging.organisation.name;
    let sentence = format!(
        "{organisation} nhận được đăng ký nhận tin ({}) mang thông tin liên hệ của Quý khách. \
         Nếu đúng là Quý khách, vui lòng xác nhận tại {url} (hiệu lực 7 ngày). Nếu không, xin \
         bỏ qua tin này: chúng tôi không thay đổi gì.",
        consents.join(", ")
    );
    match channel {
        MessageChannel::Email => Content::Email {
            subject: "Xác nhận đăng ký nhận tin".into(),
            html: format!("<p>{}</p>", escape_html(&sentence)),
            text: sentence,
            attachments: Vec::new(),
        },
        MessageChannel::Push => Content::Push {
            title: "Xác nhận đăng ký nhận tin".into(),
            body: sentence,
            deep_link: None,
        },
        MessageChannel::Webhook => Content::Webhook { text: sentence },
        MessageChannel::Sms | MessageChannel::Zns => Content::Sms {
            text: sentence,
            unaccented: false,
        },
    }
}

/// Counts one send against the channel's budget for this minute.
async fn within_rate(
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
async fn reserve_cap(
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
    for attempt in nhip_core::retry::attempts() {
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
struct CapEntry {
    at: DateTime<Utc>,
    message: String,
}

/// Due work: a deferred message's time has come; put its request back on the queue.
pub async fn release(deps: &Deps, message_id: &str) -> Result<(), StoreError> {
    let Some(message) = load(deps, message_id).await? else {
        return Ok(());
    };
    if message.status != Status::Deferred {
        return Ok(());
    }
    enqueue(deps, std::slice::from_ref(&message.request))
        .await
        .map_err(StoreError::unavailable)
}
