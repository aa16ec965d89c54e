//! A customer's timeline: every form, call, note, meeting, message and external event, newest
//! first, in the customer's own partition (`CUS#<id>` / `TL#<instant>#<entry>`). Entries are
//! written create-only under a key derived from their cause, so a retried write leaves one.

use chrono::{DateTime, Utc};
use nhip_domain::ids::CustomerId;
use serde::Serialize;
use serde_json::{Value, json};

use crate::keys;
use nhip_ports::ItemStore;
use nhip_ports::store::{Condition, Cursor, Index, Item, Key, Query, SortKey, StoreError, WriteOp};

/// Kind attribute of timeline items.
pub const KIND: &str = "timeline";

/// Entries in "the most recent activities" view (seed: "10 hoạt động phát sinh gần nhất").
pub const RECENT: u32 = 10;

/// One entry to write.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Whose timeline.
    pub customer: CustomerId,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// The cause, unique for the customer and instant (e.g. `nhip#<event id>`).
    pub cause: String,
    /// Dotted type, e.g. `lead.created`, `interaction.call`.
    pub event_type: String,
    /// Where it happened (the "screen": `website_form`, `staff_api`, `telephony`, `import`, a
    /// core system's name).
    pub source: String,
    /// The staff member who did it, if one did.
    pub actor: Option<String>,
    /// Details.
    pub data: Value,
}

impl Entry {
    /// Where the entry is kept: the customer's partition, by instant and cause.
    pub fn key(&self) -> Key {
        keys::timeline_entry(self.customer, self.at, &self.cause)
    }

    /// The stored item.
    pub fn to_item(&self, recorded_at: DateTime<Utc>) -> Item {
        let mut item = self.key().to_item();
        item.insert("kind".into(), KIND.into());
        item.insert("event_type".into(), self.event_type.clone().into());
        item.insert("source".into(), self.source.clone().into());
        item.insert("occurred_at".into(), keys::instant(self.at).into());
        item.insert("recorded_at".into(), keys::instant(recorded_at).into());
        if let Some(actor) = &self.actor {
            item.insert("actor".into(), actor.clone().into());
        }
        item.insert("data".into(), self.data.clone());
        item
    }

    /// The create-only write of this entry, for a transaction.
    pub fn write(&self, recorded_at: DateTime<Utc>) -> WriteOp {
        WriteOp::Put {
            item: self.to_item(recorded_at),
            condition: Condition::NotExists,
        }
    }

    /// The entry as a domain event for the events queue (journeys hear it). Its cause
    /// `<source>#<id>` becomes the event's source and id, so the events consumer maps it back
    /// to this very entry and records nothing twice.
    pub fn as_event(&self) -> Option<nhip_domain::event::DomainEvent> {
        let (source, id) = self.cause.split_once('#')?;
        Some(nhip_domain::event::DomainEvent {
            id: id.to_owned(),
            source: source.to_owned(),
            kind: self.event_type.clone(),
            customer_id: Some(self.customer),
            occurred_at: self.at,
            data: self.data.clone(),
        })
    }
}

/// One entry as staff see it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Activity {
    /// When it happened (UTC).
    pub at: String,
    /// Dotted type.
    pub event_type: String,
    /// The action, in Vietnamese ("Hành động thực hiện").
    pub action: String,
    /// Where it happened ("Màn hình thực hiện").
    pub source: String,
    /// Who did it, when a staff member did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// Details.
    pub data: Value,
}

/// The Vietnamese label of an event type, for the activity views; a type from a core system
/// that Nhịp does not know is shown as it is.
pub fn action_label(event_type: &str) -> String {
    crate::event_types::label(event_type)
        .map(str::to_owned)
        .unwrap_or_else(|| event_type.to_owned())
}

fn activity(item: &Item) -> Activity {
    let text = |name: &str| {
        item.get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let event_type = text("event_type");
    Activity {
        at: text("occurred_at"),
        action: action_label(&event_type),
        event_type,
        source: text("source"),
        actor: item.get("actor").and_then(Value::as_str).map(str::to_owned),
        data: item.get("data").cloned().unwrap_or(json!({})),
    }
}

/// One page of a customer's timeline, newest first.
pub async fn page(
    store: &dyn ItemStore,
    customer: CustomerId,
    limit: u32,
    cursor: Option<Cursor>,
) -> Result<(Vec<Activity>, Option<Cursor>), StoreError> {
    let page = store
        .query(
            Query::partition(Index::Primary, keys::customer_pk(customer))
                .sk(SortKey::BeginsWith(keys::TIMELINE_PREFIX.into()))
                .descending()
                .limit(limit)
                .after(cursor),
        )
        .await?;
    Ok((page.items.iter().map(activity).collect(), page.next))
}
