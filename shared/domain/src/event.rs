//! The domain-event envelope. Events come from the organisation's core systems (card issued,
//! installment registered, …) and from Nhịp itself (lead.created, message.opened, …); they
//! travel on the events queue and land on the customer's timeline.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::CustomerId;

/// Longest accepted event id, source or type, in bytes.
const MAX_NAME_LEN: usize = 128;

/// One domain event. `(source, id)` identifies it: delivering the same pair twice is the same
/// event, which is what makes every consumer idempotent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DomainEvent {
    /// The producer's own id for the event (a client event id), unique within `source`.
    pub id: String,
    /// Who produced it: `nhip` for Nhịp's own events, otherwise a system name such as `core-banking`.
    pub source: String,
    /// Dotted lower-case type, e.g. `card.issued`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The customer the event is about, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<CustomerId>,
    /// When it happened at the source (UTC).
    pub occurred_at: DateTime<Utc>,
    /// Event-specific payload.
    #[serde(default)]
    pub data: serde_json::Value,
}

/// Field-level problems with an event; empty when it is valid.
pub type FieldErrors = BTreeMap<&'static str, String>;

impl DomainEvent {
    /// Checks the envelope's fields, naming each one that is wrong.
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut errors = FieldErrors::new();
        if let Err(e) = check_name(&self.id, |c| c.is_ascii_graphic()) {
            errors.insert("id", e);
        }
        if let Err(e) = check_name(&self.source, |c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.')
        }) {
            errors.insert("source", e);
        }
        if !is_event_type(&self.kind) {
            errors.insert(
                "type",
                "must be dotted lower-case words such as 'card.issued'".to_owned(),
            );
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

fn check_name(value: &str, allowed: impl Fn(char) -> bool) -> Result<(), String> {
    if value.is_empty() {
        return Err("must not be empty".to_owned());
    }
    if value.len() > MAX_NAME_LEN {
        return Err(format!("must be at most {MAX_NAME_LEN} characters"));
    }
    if !value.chars().all(allowed) {
        return Err("contains characters that are not allowed".to_owned());
    }
    Ok(())
}

/// `card.issued`, `message.opened`, `installment.payment_received`: two or more dot-separated
/// words of lower-case ASCII letters, digits and underscores, each starting with a letter.
pub fn is_event_type(kind: &str) -> bool {
    kind.len() <= MAX_NAME_LEN
        && kind.split('.').count() >= 2
        && kind.split('.').all(|word| {
            word.starts_with(|c: char| c.is_ascii_lowercase())
                && word
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str) -> DomainEvent {
        DomainEvent {
            id: "evt-1".into(),
            source: "core-banking".into(),
            kind: kind.into(),
            customer_id: None,
            occurred_at: Utc::now(),
            data: serde_json::Value::Null,
        }
    }

    #[test]
    fn event_types_are_dotted_lower_case() {
        for ok in [
            "card.issued",
            "installment.payment_received",
            "message.opened2",
        ] {
            assert!(is_event_type(ok), "{ok}");
        }
        for bad in [
            "card",
            "Card.Issued",
            "card..issued",
            ".card",
            "card.1st",
            "",
        ] {
            assert!(!is_event_type(bad), "{bad}");
        }
    }

    #[test]
    fn validation_names_each_bad_field() {
        let mut e = event("Card Issued");
        e.id = String::new();
        e.source = "Core Banking".into();
        let errors = e.validate().unwrap_err();
        assert_eq!(
            errors.keys().copied().collect::<Vec<_>>(),
            ["id", "source", "type"]
        );
        assert!(event("card.issued").validate().is_ok());
    }

    #[test]
    fn envelope_uses_type_on_the_wire() {
        let json = serde_json::to_value(event("card.issued")).unwrap();
        assert_eq!(json["type"], "card.issued");
        assert!(json.get("customer_id").is_none());
    }
}
