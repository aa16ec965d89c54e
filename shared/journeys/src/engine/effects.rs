//! The side effect of entering a step: a send through the messaging pipeline, a ticket, an
//! update of the customer's record, a notification to staff. Each is keyed by the enrollment,
//! the step and the visit (`journey#<enrollment>#<step>#<visit>`), so repeating it adds
//! nothing.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use nhip_domain::customer::Purpose;
use nhip_domain::journey::{Journey, NotifyTarget, Step};
use serde_json::{Value, json};

use super::enrollment::Enrollment;
use nhip_core::deps::Deps;
use nhip_core::stats::StepCause;
use nhip_crm::customers::model::Customer;
use nhip_crm::customers::repo;
use nhip_messaging::model::{
    Cause, CauseKind, MessageChannel, RequestData, SendPurpose, SendRequest, Target,
};
use nhip_messaging::pipeline;
use nhip_ports::store::StoreError;

/// Runs the side effect of entering `step`: a send, a ticket, an update, a notification.
pub(super) async fn effects(
    deps: &Deps,
    enrollment: &mut Enrollment,
    journey: &Journey,
    step: &Step,
    customer: Option<&Customer>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let visit = enrollment.visit(&enrollment.step);
    let cause_key = format!("journey#{}#{}#{}", enrollment.id, enrollment.step, visit);
    match step {
        Step::Send {
            targets, purpose, ..
        } => {
            let request = SendRequest {
                idempotency_key: cause_key,
                customer_id: enrollment.customer_id.clone(),
                targets: targets
                    .iter()
                    .filter_map(|t| {
                        Some(Target {
                            channel: serde_json::from_value::<MessageChannel>(json!(
                                t.channel.as_str()
                            ))
                            .ok()?,
                            template: t.template.clone(),
                            version: None,
                        })
                    })
                    .collect(),
                purpose: match purpose {
                    Purpose::Marketing => SendPurpose::Marketing,
                    Purpose::Care => SendPurpose::Care,
                },
                cause: Cause {
                    kind: CauseKind::Journey,
                    id: StepCause::new(
                        &enrollment.journey,
                        enrollment.journey_version,
                        &enrollment.step,
                    )
                    .to_string(),
                    actor: None,
                },
                campaign: None,
                data: RequestData {
                    holding: (!enrollment.holding.is_null()).then(|| enrollment.holding.clone()),
                    journey: Some(json!({
                        "key": enrollment.journey,
                        "name": journey.name,
                        "version": enrollment.journey_version,
                        "step": enrollment.step,
                        "enrollment_id": enrollment.id,
                    })),
                    event: (!enrollment.trigger.is_null()).then(|| enrollment.trigger.clone()),
                },
                system: None,
                requested_at: now,
                guard: None,
            };
            let id = request.message_id();
            pipeline::enqueue(deps, &[request])
                .await
                .map_err(StoreError::unavailable)?;
            enrollment.messages.insert(enrollment.step.clone(), id);
        }
        Step::Ticket {
            queue,
            priority,
            sla,
            title,
            purpose,
            ..
        } => {
            let Some(customer) = customer else {
                return Ok(());
            };
            let ticket = nhip_crm::tickets::NewTicket {
                cause: cause_key,
                customer_id: customer.id,
                queue: *queue,
                priority: *priority,
                sla: Some(*sla),
                due_at: None,
                title: title.clone(),
                source: json!({
                    "kind": "journey",
                    "journey": enrollment.journey,
                    "journey_version": enrollment.journey_version,
                    "step": enrollment.step,
                    "enrollment_id": enrollment.id,
                }),
                // The queue's rule decides (the customer's RM for the RM queue by default).
                assignee: None,
                purpose: *purpose,
            };
            nhip_crm::tickets::enqueue(deps, &[ticket])
                .await
                .map_err(StoreError::unavailable)?;
        }
        Step::Update {
            attributes,
            lifecycle,
            add_tags,
            remove_tags,
            ..
        } => {
            let Some(customer) = customer else {
                return Ok(());
            };
            update_customer(
                deps,
                customer,
                &cause_key,
                Changes {
                    attributes,
                    lifecycle: *lifecycle,
                    add_tags,
                    remove_tags,
                },
            )
            .await?;
        }
        Step::Notify { to, title, .. } => {
            let Some(customer) = customer else {
                return Ok(());
            };
            let recipient = match to {
                NotifyTarget::Owner => customer.owner.clone(),
                NotifyTarget::User(user) => Some(user.clone()),
                NotifyTarget::Queue(queue) => Some(nhip_crm::tickets::queue_inbox(*queue)),
            };
            if let Some(recipient) = recipient {
                nhip_crm::notifications::notify(
                    deps,
                    &recipient,
                    &cause_key,
                    nhip_crm::notifications::Notice {
                        title: title.clone(),
                        body: format!("Hành trình: {}", journey.name),
                        customer_id: Some(customer.id),
                        link: format!("/customers/{}", customer.id),
                    },
                )
                .await?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// The changes of an update step.
struct Changes<'a> {
    attributes: &'a BTreeMap<String, Value>,
    lifecycle: Option<nhip_domain::customer::Lifecycle>,
    add_tags: &'a [String],
    remove_tags: &'a [String],
}

/// Applies an update step to the customer, retrying a concurrent change. Applying it twice
/// leaves the same record. A lifecycle change is recorded and published as
/// `customer.lifecycle_changed` (other journeys' goals listen for it), keyed by the step.
async fn update_customer(
    deps: &Deps,
    customer: &Customer,
    cause: &str,
    changes: Changes<'_>,
) -> Result<(), StoreError> {
    let mut before = customer.clone();
    for attempt in nhip_core::retry::attempts(nhip_core::retry::IN_BATCH) {
        attempt.pause().await;
        let mut after = before.clone();
        for (name, value) in changes.attributes {
            if value.is_null() {
                after.attributes.remove(name);
            } else {
                after.attributes.insert(name.clone(), value.clone());
            }
        }
        if let Some(lifecycle) = changes.lifecycle {
            after.lifecycle = lifecycle;
        }
        let mut tags = after.tags.clone();
        tags.extend(changes.add_tags.iter().cloned());
        tags.retain(|t| !changes.remove_tags.contains(t));
        after.tags = nhip_crm::customers::model::normalise_tags(tags);
        if after == before {
            return Ok(());
        }
        let now = deps.clock.now();
        after.updated_at = now;
        let change = (before.lifecycle != after.lifecycle).then(|| nhip_core::timeline::Entry {
            customer: customer.id,
            at: now,
            cause: cause.to_owned(),
            event_type: nhip_core::event_types::CUSTOMER_LIFECYCLE_CHANGED.into(),
            source: "journey".into(),
            actor: None,
            data: json!({"from": before.lifecycle, "to": after.lifecycle}),
        });
        let writes = change.iter().map(|c| c.write(now)).collect();
        match repo::save(&*deps.store, &before, &mut after, writes).await {
            Ok(()) => {
                if let Some(event) = change
                    .as_ref()
                    .and_then(nhip_core::timeline::Entry::as_event)
                    && let Err(error) = nhip_core::events::publish(deps, &[event]).await
                {
                    tracing::warn!(%error, "customer.lifecycle_changed not published");
                }
                return Ok(());
            }
            Err(repo::SaveError::Store(error)) => return Err(error),
            Err(_) => {
                let Some(fresh) = repo::get(&*deps.store, customer.id).await? else {
                    return Ok(());
                };
                before = fresh;
            }
        }
    }
    Err(StoreError::TransactionConflict)
}
