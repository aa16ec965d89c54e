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
//!
//! # Layout
//! - this module: the queue consumer, the request checks and the order of the decisions
//!   ([`process`]), and the release of deferred messages.
//! - `decide`: the decisions short of sending, without I/O (and their unit tests).
//! - `checks`: the checks that read or count in the store (rules, reachability, rate, cap).
//! - `record`: the message item: claim, save, and a decision recorded everywhere it shows.
//! - `render`: templates and system messages rendered into what each channel sends.

use std::str::FromStr;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use tracing::instrument;

use crate::model::{MessageChannel, SendRequest, Status};
use nhip_core::consumer::{Failure, process_batch};
use nhip_core::deps::Deps;
use nhip_crm::customers::repo;
use nhip_domain::ids::CustomerId;
use nhip_ports::channel::Envelope;
use nhip_ports::store::StoreError;
use nhip_ports::{ChannelError, QueueError};

mod checks;
mod decide;
mod record;
mod render;

pub use checks::{
    advertising_calls, advertising_rules, channel_family, count_advertising_call,
    on_do_not_call_list,
};
pub use record::load;

use checks::*;
use decide::*;
use record::*;
use render::*;

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
    if let Some(guard) = &request.guard {
        let item = deps
            .store
            .get(&nhip_ports::store::Key::new(
                guard.pk.clone(),
                guard.sk.clone(),
            ))
            .await?;
        if !guard.holds(item.as_ref()) {
            let decision = Decision::new(
                Status::Withdrawn,
                "no_longer_due",
                "Không còn cần gửi: khoản đã được thanh toán hoặc hợp đồng đã thay đổi.",
            );
            return finish(deps, &mut message, None, decision).await;
        }
    }
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
