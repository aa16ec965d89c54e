//! Engagement tracking: every signal that comes back about a message — SES events (delivery,
//! open, click, bounce, complaint, reject, delay, rendering failure), clicks on tracked links,
//! ZNS delivery callbacks, unsubscribes and refusal replies — is appended to the message's
//! history, put on the customer's timeline, counted once per message in the template and
//! campaign statistics, and published as a domain event (`message.opened`, …) for journeys.
//!
//! Recording is idempotent: the history item and the timeline entry are keyed by the signal's
//! cause (the SNS notification id, the link, the ZNS message), written create-only; counters
//! move only when the message's `engagement` map gains the signal for the first time, under
//! optimistic concurrency. Hard bounces and complaints suppress the address; an unsubscribe or
//! a refusal reply withdraws advertising consent at once and sends exactly one confirmation.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use nhip_domain::customer::{ConsentRecord, Purpose};
use nhip_domain::event::DomainEvent;
use nhip_domain::ids::CustomerId;
use serde_json::{Value, json};

use crate::links;
use crate::model::{
    Cause, CauseKind, Message, MessageChannel, SendPurpose, SendRequest, SystemMessage,
};
use crate::pipeline::{self, channel_family};
use crate::ses_events::{SesEvent, SesSignal};
use crate::stats;
use nhip_core::deps::Deps;
use nhip_core::keys;
use nhip_crm::customers::repo::{self, SaveError};
use nhip_ports::store::{Condition, Index, Query, StoreError, Update};

/// A signal arrived for a message whose send is still being recorded.
#[derive(Debug, thiserror::Error)]
#[error("the message's send is still being recorded; retry the signal")]
pub struct SendNotRecordedYet;

/// A signal about a sent message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// The provider accepted it (SES `Send`): history only.
    Accepted,
    /// Delivered to the recipient's server or phone.
    Delivered,
    /// Opened (e-mail pixel).
    Opened,
    /// A link was clicked.
    Clicked,
    /// Permanent bounce: the address does not exist.
    Bounced,
    /// Temporary bounce: history only.
    SoftBounced,
    /// Marked as spam.
    Complained,
    /// The provider refused it after accepting (SES `Reject`).
    Rejected,
    /// Delivery is delayed.
    Delayed,
    /// SES could not render it.
    RenderingFailed,
    /// The recipient unsubscribed.
    Unsubscribed,
    /// The recipient's mailbox provider reports the message was marked "not spam" (an SES
    /// complaint with `complaintFeedbackType` `not-spam`): history only, never a suppression.
    MarkedNotSpam,
}

impl Signal {
    /// The counter and `engagement` name; `None` for signals that are not counted.
    pub fn counter(self) -> Option<&'static str> {
        match self {
            Signal::Delivered => Some("delivered"),
            Signal::Opened => Some("opened"),
            Signal::Clicked => Some("clicked"),
            Signal::Bounced => Some("bounced"),
            Signal::Complained => Some("complained"),
            Signal::Unsubscribed => Some("unsubscribed"),
            _ => None,
        }
    }

    /// The domain event type.
    pub fn event_type(self) -> &'static str {
        match self {
            Signal::Accepted => nhip_core::event_types::MESSAGE_ACCEPTED,
            Signal::Delivered => nhip_core::event_types::MESSAGE_DELIVERED,
            Signal::Opened => nhip_core::event_types::MESSAGE_OPENED,
            Signal::Clicked => nhip_core::event_types::MESSAGE_CLICKED,
            Signal::Bounced => nhip_core::event_types::MESSAGE_BOUNCED,
            Signal::SoftBounced => nhip_core::event_types::MESSAGE_SOFT_BOUNCED,
            Signal::Complained => nhip_core::event_types::MESSAGE_COMPLAINED,
            Signal::Rejected => nhip_core::event_types::MESSAGE_REJECTED,
            Signal::Delayed => nhip_core::event_types::MESSAGE_DELAYED,
            Signal::RenderingFailed => nhip_core::event_types::MESSAGE_RENDERING_FAILED,
            Signal::Unsubscribed => nhip_core::event_types::MESSAGE_UNSUBSCRIBED,
            Signal::MarkedNotSpam => nhip_core::event_types::MESSAGE_MARKED_NOT_SPAM,
        }
    }

    fn name(self) -> &'static str {
        self.event_type().trim_start_matches("message.")
    }
}

/// What recording a signal did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// Recorded; `first` when the message had not had this signal before.
    Added {
        /// The message.
        message_id: String,
        /// First of its kind for the message.
        first: bool,
    },
    /// This very signal was recorded before (a redelivery).
    Duplicate,
    /// No message matches (not sent by Nhịp, or erased).
    UnknownMessage,
}

/// The message a provider id belongs to.
pub async fn by_provider_id(deps: &Deps, provider_id: &str) -> Result<Option<Message>, StoreError> {
    let page = deps
        .store
        .query(Query::partition(Index::Gsi1, keys::message_by_provider_id(provider_id)).limit(1))
        .await?;
    page.items
        .into_iter()
        .next()
        .map(Message::from_item)
        .transpose()
}

/// Records an SES event (from SNS, over Lambda or HTTP). `cause` identifies the notification
/// (the SNS message id), so a redelivered notification is kept once.
///
/// The signal is keyed by the SES event's own identity ([`ses_identity`]), not by the SNS
/// envelope that carried it: the same event delivered in two notifications (SNS retried, or
/// both the Lambda and the HTTPS subscription got it) is recorded once.
pub async fn record_ses(deps: &Deps, event: &SesEvent) -> Result<Recorded, StoreError> {
    let mut message = None;
    if let Some(id) = &event.nhip_message_id {
        // The tag is ours; while the send is being recorded the provider id may not be
        // stored yet (`record` then asks for a retry).
        message = pipeline::load(deps, id).await?.filter(|m| {
            m.provider_id
                .as_deref()
                .is_none_or(|p| p == event.provider_message_id)
        });
    }
    if message.is_none() {
        message = by_provider_id(deps, &event.provider_message_id).await?;
    }
    let Some(message) = message else {
        return Ok(Recorded::UnknownMessage);
    };
    let (signal, details) = match &event.signal {
        SesSignal::Send => (Signal::Accepted, json!({})),
        SesSignal::Delivery => (Signal::Delivered, json!({})),
        SesSignal::Open => (Signal::Opened, json!({})),
        SesSignal::Click { link } => (Signal::Clicked, json!({ "link": link })),
        SesSignal::Bounce {
            permanent: true,
            sub_type,
        } => (Signal::Bounced, json!({ "sub_type": sub_type })),
        SesSignal::Bounce { sub_type, .. } => {
            (Signal::SoftBounced, json!({ "sub_type": sub_type }))
        }
        // "not-spam" is a complaint report that says the opposite: the recipient marked the
        // message as wanted. It must never suppress the address.
        SesSignal::Complaint { feedback_type } if feedback_type.as_deref() == Some("not-spam") => (
            Signal::MarkedNotSpam,
            json!({ "feedback_type": feedback_type }),
        ),
        SesSignal::Complaint { feedback_type } => (
            Signal::Complained,
            json!({ "feedback_type": feedback_type }),
        ),
        SesSignal::Reject { reason } => (Signal::Rejected, json!({ "reason": reason })),
        SesSignal::DeliveryDelay { delay_type } => {
            (Signal::Delayed, json!({ "delay_type": delay_type }))
        }
        SesSignal::RenderingFailure { error } => {
            (Signal::RenderingFailed, json!({ "error": error }))
        }
    };
    record(
        deps,
        message,
        signal,
        event.at,
        &ses_identity(event),
        details,
    )
    .await
}

/// An SES event's identity: its e-mail (SES `mail.messageId`), its type, its own timestamp and
/// what sets events of one type apart (a click's link, a bounce's or complaint's kind). Two deliveries of one event share it; two clicks or two opens at
/// different instants do not.
pub fn ses_identity(event: &SesEvent) -> String {
    use sha2::{Digest, Sha256};
    // What tells two events of one type and instant apart: the link clicked, the kind of
    // bounce or of complaint report.
    let detail = match &event.signal {
        SesSignal::Click { link } => link.clone(),
        SesSignal::Bounce {
            permanent,
            sub_type,
        } => format!("{permanent}/{sub_type:?}"),
        SesSignal::Complaint { feedback_type } => format!("{feedback_type:?}"),
        _ => String::new(),
    };
    let digest = Sha256::new()
        .chain_update(event.provider_message_id.as_bytes())
        .chain_update([0])
        .chain_update(event.signal.name().as_bytes())
        .chain_update([0])
        .chain_update(keys::instant(event.at).as_bytes())
        .chain_update([0])
        .chain_update(detail.as_bytes())
        .finalize();
    format!("ses-{}", hex::encode(&digest[..12]))
}

/// Records `signal` on `message`.
pub async fn record(
    deps: &Deps,
    mut message: Message,
    signal: Signal,
    at: DateTime<Utc>,
    cause: &str,
    details: Value,
) -> Result<Recorded, StoreError> {
    let now = deps.clock.now();
    if matches!(
        message.status,
        crate::model::Status::Processing | crate::model::Status::Sending
    ) {
        // The signal overtook the pipeline recording the send: recording it now would race
        // that write. The caller retries (SNS, Zalo and Lambda all redeliver).
        return Err(StoreError::unavailable(SendNotRecordedYet));
    }
    // Suppression first: it is idempotent, and it is the effect that protects the sender.
    if matches!(signal, Signal::Bounced | Signal::Complained)
        && let Some(address) = recipient(&message)
    {
        let reason = if signal == Signal::Bounced {
            "hard_bounce"
        } else {
            "complaint"
        };
        suppress(
            deps,
            message.channel.unwrap_or(MessageChannel::Email),
            &address,
            reason,
            "all",
            &message.id,
            now,
        )
        .await?;
    }
    let mut history = keys::message_signal(&message.id, at, cause).to_item();
    history.insert("kind".into(), "message_signal".into());
    history.insert("signal".into(), signal.name().into());
    history.insert("at".into(), keys::instant(at).into());
    history.insert("recorded_at".into(), keys::instant(now).into());
    history.insert("details".into(), details.clone());
    let fresh = match deps.store.put(history, Condition::NotExists).await {
        Ok(()) => true,
        Err(StoreError::ConditionFailed { .. }) => false,
        Err(other) => return Err(other),
    };
    let event = DomainEvent {
        id: format!("sig-{}-{cause}", message.id),
        source: nhip_core::events::NHIP_SOURCE.into(),
        kind: signal.event_type().into(),
        customer_id: CustomerId::from_str(&message.customer_id).ok(),
        occurred_at: at,
        data: json!({
            "message_id": message.id,
            "channel": message.channel,
            "template": message.template,
            "campaign": message.request.campaign,
            "cause": message.request.cause,
            "details": details,
        }),
    };
    nhip_core::events::record(deps, &event).await?;
    // The first signal of its kind moves the counters.
    let mut first = false;
    if let Some(counter) = signal.counter() {
        for attempt in nhip_core::retry::attempts(nhip_core::retry::IN_BATCH) {
            attempt.pause().await;
            if message.engagement.contains_key(counter) {
                break;
            }
            let before = message.version;
            message.engagement.insert(counter.to_owned(), at);
            message.version += 1;
            match deps
                .store
                .update(
                    &keys::message(&message.id),
                    Update::new()
                        .set("engagement", json!(message.engagement))
                        .set("version", message.version),
                    Condition::version_is(before),
                )
                .await
            {
                Ok(_) => {
                    first = true;
                    stats::count(deps, &message, counter).await?;
                    break;
                }
                Err(StoreError::ConditionFailed { .. }) => {
                    match pipeline::load(deps, &message.id).await? {
                        Some(current) => message = current,
                        None => break,
                    }
                }
                Err(other) => return Err(other),
            }
        }
    }
    if !fresh && !first {
        return Ok(Recorded::Duplicate);
    }
    if let Err(error) =
        nhip_core::events::publish_recorded(deps, std::slice::from_ref(&event)).await
    {
        tracing::warn!(%error, "signal event not published");
    }
    Ok(Recorded::Added {
        message_id: message.id,
        first,
    })
}

/// The address a sent message went to, normalised as suppressions key it.
fn recipient(message: &Message) -> Option<String> {
    let content = message.content.as_ref()?;
    let field = match content.get("type")?.as_str()? {
        "email" => "to",
        "sms" => "to",
        "zns" => "phone",
        "push" => "endpoint",
        _ => "recipient",
    };
    let raw = content.get(field)?.as_str()?;
    Some(match content.get("type")?.as_str()? {
        "zns" => format!("+{raw}"),
        _ => raw.to_owned(),
    })
}

/// Puts an address on the suppression list (`scope` `all` or `advertising`).
#[allow(clippy::too_many_arguments)]
pub async fn suppress(
    deps: &Deps,
    channel: MessageChannel,
    address: &str,
    reason: &str,
    scope: &str,
    message_id: &str,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut item = keys::suppression(channel_family(channel), address).to_item();
    item.insert("kind".into(), "suppression".into());
    item.insert("reason".into(), reason.into());
    item.insert("scope".into(), scope.into());
    item.insert("message_id".into(), message_id.into());
    item.insert("at".into(), keys::instant(at).into());
    // A broader suppression must not be narrowed by a later, narrower one.
    let condition = if scope == "all" {
        Condition::Always
    } else {
        Condition::LacksAttr("scope".into())
    };
    match deps.store.put(item, condition).await {
        Ok(()) | Err(StoreError::ConditionFailed { .. }) => Ok(()),
        Err(other) => Err(other),
    }
}

/// A click on a tracked link: records it once per message and link, and answers the
/// original URL to redirect to. `None` when the token is forged or the message unknown.
pub async fn click(deps: &Deps, token: &str) -> Result<Option<String>, StoreError> {
    let Some((message_id, index)) = deps
        .settings
        .messaging
        .open_signed(|secret| links::open_link_token(secret, token))
    else {
        return Ok(None);
    };
    let Some(message) = pipeline::load(deps, &message_id).await? else {
        return Ok(None);
    };
    let Some(url) = message.links.get(index).cloned() else {
        return Ok(None);
    };
    let now = deps.clock.now();
    let guard = keys::link_click(&message_id, index);
    let mut item = guard.to_item();
    item.insert("first_at".into(), keys::instant(now).into());
    item.insert("clicks".into(), 1.into());
    let stored = match deps.store.put(item.clone(), Condition::NotExists).await {
        Ok(()) => item,
        Err(StoreError::ConditionFailed { .. }) => {
            deps.store
                .update(&guard, Update::new().add("clicks", 1), Condition::Exists)
                .await?
        }
        Err(other) => return Err(other),
    };
    // The first click is recorded (once: `record` is keyed by the link); until that has
    // worked, every later click tries again. The person is redirected either way.
    if !stored.contains_key("recorded") {
        let first_at = stored
            .get("first_at")
            .and_then(Value::as_str)
            .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
            .map_or(now, |at| at.with_timezone(&Utc));
        let recorded = record(
            deps,
            message,
            Signal::Clicked,
            first_at,
            &format!("link-{index}"),
            json!({ "link": url }),
        )
        .await;
        match recorded {
            Ok(_) => {
                deps.store
                    .update(
                        &guard,
                        Update::new().set("recorded", true),
                        Condition::Exists,
                    )
                    .await?;
            }
            Err(error) => tracing::warn!(%error, "click not recorded yet; the next click retries"),
        }
    }
    Ok(Some(url))
}

/// What a refusal did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Advertising stopped now; the confirmation is on its way.
    Stopped,
    /// It had already stopped: no second confirmation.
    AlreadyStopped,
    /// No such customer.
    UnknownCustomer,
}

/// A refusal of advertising on `channel` (unsubscribe link, reply SMS, a call entered by
/// staff, an e-mail reply): withdraws marketing consent on that channel at once, suppresses
/// advertising to the address, and sends exactly one confirmation saying when it was received
/// and that sending stopped.
pub async fn refuse(
    deps: &Deps,
    customer_id: CustomerId,
    channel: MessageChannel,
    via: &str,
    actor: Option<&str>,
    message_id: Option<&str>,
) -> Result<Refused, StoreError> {
    let now = deps.clock.now();
    let consent_channel = channel.consent_channel();
    for attempt in nhip_core::retry::attempts(nhip_core::retry::IN_BATCH) {
        attempt.pause().await;
        let Some(before) = repo::get(&*deps.store, customer_id).await? else {
            return Ok(Refused::UnknownCustomer);
        };
        if let Some(earlier) = before
            .consents
            .get(consent_channel, Purpose::Marketing)
            .filter(|r| !r.granted && r.source.starts_with("refusal"))
        {
            // Stopped before. Its follow-ups are repeated, keyed by the first refusal's time:
            // if they failed then, they happen now; if not, the suppression is rewritten as
            // it was and the confirmation request finds its message already sent.
            follow_up(deps, &before, channel, via, actor, message_id, earlier.at).await?;
            return Ok(Refused::AlreadyStopped);
        }
        let mut after = before.clone();
        after.consents.record(ConsentRecord {
            channel: consent_channel,
            purpose: Purpose::Marketing,
            granted: false,
            source: format!("refusal_{via}"),
            at: now,
            evidence: match (actor, message_id) {
                (Some(actor), _) => format!("entered by {actor}"),
                (None, Some(message)) => format!("message {message}"),
                (None, None) => via.to_owned(),
            },
        });
        after.updated_at = now;
        let entry = nhip_core::timeline::Entry {
            customer: customer_id,
            at: now,
            cause: format!("refusal#{channel}#{}", keys::instant(now)),
            event_type: nhip_core::event_types::CONSENT_REFUSED.into(),
            source: via.to_owned(),
            actor: actor.map(str::to_owned),
            data: json!({ "channel": channel, "via": via, "message_id": message_id }),
        };
        match repo::save(&*deps.store, &before, &mut after, vec![entry.write(now)]).await {
            Ok(()) => {}
            Err(SaveError::Conflict) => continue,
            Err(SaveError::Store(error)) => return Err(error),
            Err(SaveError::Taken { .. }) => {
                return Err(StoreError::invalid("refusal changed identifiers"));
            }
        }
        follow_up(deps, &after, channel, via, actor, message_id, now).await?;
        return Ok(Refused::Stopped);
    }
    Err(StoreError::invalid(
        "the customer is changing too fast to record the refusal",
    ))
}

/// After a refusal received at `refused_at`: advertising to the address is suppressed, and the
/// one confirmation is requested (its idempotency key is the refusal's, so asking again never
/// sends a second).
async fn follow_up(
    deps: &Deps,
    customer: &nhip_crm::customers::model::Customer,
    channel: MessageChannel,
    via: &str,
    actor: Option<&str>,
    message_id: Option<&str>,
    refused_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let address = match channel {
        MessageChannel::Email => customer.email().map(|e| e.as_str().to_owned()),
        MessageChannel::Sms | MessageChannel::Zns => {
            customer.phone().map(|p| p.as_str().to_owned())
        }
        _ => None,
    };
    if let Some(address) = address {
        suppress(
            deps,
            channel,
            &address,
            "refusal",
            "advertising",
            message_id.unwrap_or("-"),
            refused_at,
        )
        .await?;
    }
    let confirmation = SendRequest {
        idempotency_key: format!(
            "refusal-confirmation#{}#{channel}#{}",
            customer.id,
            keys::instant(refused_at)
        ),
        customer_id: customer.id.to_string(),
        targets: Vec::new(),
        purpose: SendPurpose::Care,
        cause: Cause {
            kind: CauseKind::System,
            id: format!("refusal-{via}"),
            actor: actor.map(str::to_owned),
        },
        campaign: None,
        data: Default::default(),
        system: Some(SystemMessage::RefusalConfirmation {
            received_at: refused_at,
            channel,
        }),
        requested_at: deps.clock.now(),
        guard: None,
    };
    pipeline::enqueue(deps, &[confirmation])
        .await
        .map_err(StoreError::unavailable)
}

/// An unsubscribe through a message's token (one-click POST or the landing page's button).
pub async fn unsubscribe(deps: &Deps, token: &str) -> Result<Option<Refused>, StoreError> {
    let Some(message_id) = deps
        .settings
        .messaging
        .open_signed(|secret| links::open_unsubscribe_token(secret, token))
    else {
        return Ok(None);
    };
    let Some(message) = pipeline::load(deps, &message_id).await? else {
        return Ok(None);
    };
    let Ok(customer) = CustomerId::from_str(&message.customer_id) else {
        return Ok(None);
    };
    let channel = message.channel.unwrap_or(MessageChannel::Email);
    let outcome = refuse(
        deps,
        customer,
        channel,
        "unsubscribe_link",
        None,
        Some(&message_id),
    )
    .await?;
    let now = deps.clock.now();
    record(
        deps,
        message,
        Signal::Unsubscribed,
        now,
        "unsubscribe",
        json!({}),
    )
    .await?;
    Ok(Some(outcome))
}
