//! Typed identifiers. Every entity id is a ULID, so sorting ids sorts by creation time and
//! an id embeds the millisecond it was minted.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ulid::Ulid;

/// An identifier string that is not a valid ULID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{value}' is not a valid {kind} id (expected a 26-character ULID)")]
pub struct InvalidId {
    /// What kind of id was expected, e.g. `customer`.
    pub kind: &'static str,
    /// The rejected input, cut to 40 characters.
    pub value: String,
}

macro_rules! ulid_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(Ulid);

        impl $name {
            /// Mints a new id stamped with `at`.
            pub fn new_at(at: DateTime<Utc>) -> Self {
                Self(Ulid::from_datetime(at.into()))
            }

            /// The id holding this ULID (e.g. one derived from a hash, for idempotent writes).
            pub fn from_ulid(ulid: Ulid) -> Self {
                Self(ulid)
            }

            /// The instant embedded in the id, to the millisecond.
            pub fn created_at(&self) -> DateTime<Utc> {
                DateTime::<Utc>::from(self.0.datetime())
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ulid::from_string(s.trim()).map(Self).map_err(|_| InvalidId {
                    kind: $kind,
                    value: s.chars().take(40).collect(),
                })
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidId;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                s.parse()
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.to_string()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
    };
}

ulid_id!(
    /// A customer (a lead is a customer not yet converted).
    CustomerId,
    "customer"
);
ulid_id!(
    /// An entry on a customer's timeline.
    TimelineEntryId,
    "timeline entry"
);
ulid_id!(
    /// A unit of work scheduled for a future instant.
    DueWorkId,
    "due work"
);

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn ids_round_trip_and_carry_their_time() {
        let at = Utc.with_ymd_and_hms(2026, 11, 23, 8, 0, 0).unwrap();
        let id = CustomerId::new_at(at);
        let parsed: CustomerId = id.to_string().parse().unwrap();
        assert_eq!(parsed, id);
        assert_eq!(parsed.created_at(), at);
    }

    #[test]
    fn invalid_ids_are_rejected_with_their_kind() {
        let err = "not-a-ulid".parse::<CustomerId>().unwrap_err();
        assert_eq!(err.kind, "customer");
        assert!(err.to_string().contains("not-a-ulid"));
        assert!(serde_json::from_str::<CustomerId>("\"x\"").is_err());
    }

    #[test]
    fn later_ids_sort_after_earlier_ones() {
        let a = CustomerId::new_at(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap());
        let b = CustomerId::new_at(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 1).unwrap());
        assert!(a.to_string() < b.to_string());
    }
}
