//! The customer repository, written once over the item store. Creating or changing a customer
//! writes its profile and its uniqueness guards (phone, e-mail, CCCD) in one transaction, so
//! two records can never share a phone number even when two submissions race.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use nhip_domain::ids::CustomerId;
use serde_json::Value;

use super::model::Customer;
use nhip_core::http::ApiError;
use nhip_core::keys;
use nhip_ports::ItemStore;
use nhip_ports::store::{Condition, Item, Key, StoreError, WriteOp};

/// Why a customer could not be saved.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// A phone, e-mail or CCCD already belongs to another customer; nothing was written.
    #[error("{field} already belongs to customer {owner}")]
    Taken {
        /// `phone`, `email` or `cccd`.
        field: &'static str,
        /// The customer holding it.
        owner: CustomerId,
    },
    /// The record changed since it was read (version mismatch) or a racing write won;
    /// nothing was written. Read again and retry.
    #[error("the customer was changed concurrently")]
    Conflict,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One uniqueness guard a customer holds.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Guard {
    field: &'static str,
    key: Key,
}

fn guards(customer: &Customer) -> BTreeSet<Guard> {
    let mut guards = BTreeSet::new();
    for phone in &customer.phones {
        guards.insert(Guard {
            field: "phone",
            key: keys::phone_guard(phone.as_str()),
        });
    }
    for email in &customer.emails {
        guards.insert(Guard {
            field: "email",
            key: keys::email_guard(email.as_str()),
        });
    }
    if let Some(cccd) = &customer.cccd {
        guards.insert(Guard {
            field: "cccd",
            key: keys::cccd_guard(cccd.as_str()),
        });
    }
    guards
}

/// The profile's shared index entries, kept in step with it by every write: one per tax code
/// (a company's contacts share it) and the birthday pointer (`BDAY#<MM-DD>`, read by the daily
/// greetings run; not for an erased profile).
fn tax_entries(customer: &Customer) -> BTreeSet<Key> {
    let mut entries: BTreeSet<Key> = customer
        .tax_code
        .iter()
        .map(|code| keys::tax_code_entry(code.as_str(), customer.id))
        .collect();
    if let Some(birthday) = customer.birthday
        && customer.erased_at.is_none()
    {
        let month_day = birthday.format("%m-%d").to_string();
        entries.insert(keys::birthday(&month_day, customer.id));
    }
    entries
}

fn guard_item(guard: &Guard, customer: CustomerId) -> Item {
    let mut item = guard.key.to_item();
    item.insert("kind".into(), "guard".into());
    item.insert("field".into(), guard.field.into());
    item.insert("customer_id".into(), customer.to_string().into());
    item
}

fn owned_by(customer: CustomerId) -> Condition {
    Condition::Equals("customer_id".into(), Value::from(customer.to_string()))
}

/// The customer with this id, if any.
pub async fn get(store: &dyn ItemStore, id: CustomerId) -> Result<Option<Customer>, StoreError> {
    store
        .get(&keys::customer(id))
        .await?
        .map(Customer::from_item)
        .transpose()
}

/// The customer a guard item points at.
pub async fn guard_owner(
    store: &dyn ItemStore,
    key: &Key,
) -> Result<Option<CustomerId>, StoreError> {
    Ok(store
        .get(key)
        .await?
        .and_then(|item| item.get("customer_id")?.as_str()?.parse().ok()))
}

/// Writes a new customer with its guards and any `extra` writes (e.g. its first timeline
/// entry), all or nothing.
pub async fn create(
    store: &dyn ItemStore,
    customer: &Customer,
    extra: Vec<WriteOp>,
) -> Result<(), SaveError> {
    let guards = guards(customer);
    let mut ops = vec![WriteOp::Put {
        item: customer.to_item()?,
        condition: Condition::NotExists,
    }];
    for guard in &guards {
        ops.push(WriteOp::Put {
            item: guard_item(guard, customer.id),
            condition: Condition::NotExists,
        });
    }
    for key in tax_entries(customer) {
        ops.push(WriteOp::Put {
            item: tax_entry_item(&key, customer.id),
            condition: Condition::Always,
        });
    }
    ops.extend(extra);
    match store.transact(ops).await {
        Ok(()) => Ok(()),
        Err(StoreError::ConditionFailed { .. } | StoreError::TransactionConflict) => {
            Err(explain_failure(store, customer.id, guards.iter()).await?)
        }
        Err(other) => Err(other.into()),
    }
}

fn tax_entry_item(key: &Key, customer: CustomerId) -> Item {
    let mut item = key.to_item();
    let kind = if key.pk.starts_with("BDAY#") {
        "birthday"
    } else {
        "tax_code"
    };
    item.insert("kind".into(), kind.into());
    item.insert("customer_id".into(), customer.to_string().into());
    item
}

/// After a failed write: which guard is held by someone else, if that is why.
async fn explain_failure<'a>(
    store: &dyn ItemStore,
    id: CustomerId,
    guards: impl Iterator<Item = &'a Guard>,
) -> Result<SaveError, StoreError> {
    for guard in guards {
        if let Some(owner) = guard_owner(store, &guard.key).await?
            && owner != id
        {
            return Ok(SaveError::Taken {
                field: guard.field,
                owner,
            });
        }
    }
    Ok(SaveError::Conflict)
}

/// Replaces `before` by `after` if nobody changed it meanwhile (its version is still
/// `before.version`), moving guards for identifiers that were added or removed. Sets
/// `after.version`. `extra` writes (timeline entries, audit entries) commit with it.
pub async fn save(
    store: &dyn ItemStore,
    before: &Customer,
    after: &mut Customer,
    extra: Vec<WriteOp>,
) -> Result<(), SaveError> {
    after.version = before.version + 1;
    let profile = WriteOp::Put {
        item: after.to_item()?,
        condition: Condition::version_is(before.version),
    };
    let old_guards = guards(before);
    let new_guards = guards(after);
    let old_tax = tax_entries(before);
    let new_tax = tax_entries(after);
    let mut ops = vec![profile];
    for removed in old_guards.difference(&new_guards) {
        ops.push(WriteOp::Delete {
            key: removed.key.clone(),
            condition: owned_by(after.id),
        });
    }
    let added: Vec<&Guard> = new_guards.difference(&old_guards).collect();
    for guard in &added {
        ops.push(WriteOp::Put {
            item: guard_item(guard, after.id),
            condition: Condition::NotExists,
        });
    }
    for key in old_tax.difference(&new_tax) {
        ops.push(WriteOp::Delete {
            key: key.clone(),
            condition: Condition::Always,
        });
    }
    for key in new_tax.difference(&old_tax) {
        ops.push(WriteOp::Put {
            item: tax_entry_item(key, after.id),
            condition: Condition::Always,
        });
    }
    ops.extend(extra);
    let result = if ops.len() == 1 {
        let Some(WriteOp::Put { item, condition }) = ops.pop() else {
            unreachable!("the profile write is always first");
        };
        store.put(item, condition).await
    } else {
        store.transact(ops).await
    };
    match result {
        Ok(()) => Ok(()),
        Err(StoreError::ConditionFailed { .. } | StoreError::TransactionConflict) => {
            Err(explain_failure(store, after.id, added.into_iter()).await?)
        }
        Err(other) => Err(other.into()),
    }
}

/// The customers holding a tax code (a company's contacts may share one).
pub async fn by_tax_code(store: &dyn ItemStore, code: &str) -> Result<Vec<CustomerId>, StoreError> {
    use nhip_ports::store::{Index, Query};
    let page = store
        .query(Query::partition(Index::Primary, keys::tax_code_partition(code)).limit(100))
        .await?;
    Ok(page
        .items
        .iter()
        .filter_map(|item| item.get("customer_id")?.as_str()?.parse().ok())
        .collect())
}

/// The HTTP answer to a failed save.
pub fn save_error(error: SaveError) -> ApiError {
    match error {
        SaveError::Taken { field, .. } => ApiError::new(
            StatusCode::CONFLICT,
            "duplicate",
            format!("The {field} already belongs to another customer."),
        )
        .field(field, "already belongs to another customer"),
        SaveError::Conflict => ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "The record was changed by someone else; reload it and try again.",
        ),
        SaveError::Store(error) => ApiError::from(error),
    }
}

impl From<SaveError> for ApiError {
    fn from(error: SaveError) -> Self {
        save_error(error)
    }
}

/// The names of the customers `ids` that exist and are not erased, by id, in batches: for
/// lists of other records (tickets) that name their customer.
pub async fn names(
    store: &dyn ItemStore,
    ids: impl IntoIterator<Item = CustomerId>,
) -> Result<std::collections::HashMap<CustomerId, String>, StoreError> {
    let mut ids: Vec<CustomerId> = ids.into_iter().collect();
    ids.sort();
    ids.dedup();
    let mut names = std::collections::HashMap::new();
    for chunk in ids.chunks(nhip_ports::store::MAX_BATCH_GET_KEYS) {
        let keys: Vec<_> = chunk.iter().map(|id| keys::customer(*id)).collect();
        for item in store.batch_get(&keys).await? {
            let customer = Customer::from_item(item)?;
            if customer.erased_at.is_none() {
                names.insert(customer.id, customer.full_name);
            }
        }
    }
    Ok(names)
}
