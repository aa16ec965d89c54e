//! The message item's life: claimed create-only (or taken over when its deferral or lease ran
//! out), saved under optimistic concurrency, and a decision recorded on the message, the
//! counters, the timeline and as an event.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use crate::model::{Message, SendRequest, Status, Target};
use crate::stats;
use nhip_core::deps::Deps;
use nhip_core::keys;
use nhip_domain::event::DomainEvent;
use nhip_domain::ids::DueWorkId;
use nhip_ports::store::{Condition, StoreError};

use super::decide::*;
use super::{Outcome, PipelineError};

/// How long a consumer owns a message it is deciding.
pub(super) const LEASE: Duration = Duration::minutes(5);

/// Creates the message item, or takes over one whose deferral or lease has run out. `None`
/// when another delivery already did (or is doing) the work.
pub(super) async fn claim(
    deps: &Deps,
    request: &SendRequest,
) -> Result<Option<Message>, PipelineError> {
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

pub(super) async fn take_over(
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
pub(super) async fn save(deps: &Deps, message: &mut Message) -> Result<(), PipelineError> {
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
pub(super) async fn finish(
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
    if let Err(error) =
        nhip_core::events::publish_recorded(deps, std::slice::from_ref(&event)).await
    {
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
