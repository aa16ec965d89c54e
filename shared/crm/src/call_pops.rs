//! The incoming-call pop-up: when the call centre reports a call and names the extension that
//! rang, the staff member with that extension (the directory) gets the caller on their screen.
//! A pop is one item in their partition, `USER#<user>` / `CALLPOP#<call id>` (create-only, so
//! a retried webhook pops once), marked handled when they log the call and deleted when they
//! close it; the console polls for the newest one. It expires after a day, answered or not.

use chrono::{DateTime, Utc};
use nhip_core::deps::Deps;
use nhip_core::keys;
use nhip_domain::ids::CustomerId;
use nhip_ports::store::{Condition, Index, Query, SortKey, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Pops older than this are not shown (the call is long over).
pub const SHOWN_FOR_MINUTES: i64 = 30;
/// How long a pop is kept.
const TTL_SECONDS: i64 = 24 * 3600;

/// A call waiting on someone's screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pop {
    /// The call centre's id of the call.
    pub call_id: String,
    /// The caller's record.
    pub customer_id: String,
    /// The caller was unknown: the call made them a lead, whose name the agent fills in.
    pub created: bool,
    /// The caller's number as received (normalised).
    pub phone: String,
    /// When the call came.
    pub at: DateTime<Utc>,
    /// The agent logged it: off the screen, and the caller stays visible to them for the rest
    /// of [`SHOWN_FOR_MINUTES`].
    #[serde(default)]
    pub handled: bool,
}

/// The active staff member whose call-centre extension is `extension`, if any.
pub async fn user_of_extension(deps: &Deps, extension: &str) -> Result<Option<String>, StoreError> {
    Ok(crate::staff::users(&*deps.store)
        .await?
        .into_iter()
        .find(|u| u.active && u.extension.as_deref() == Some(extension))
        .map(|u| u.username))
}

/// Puts the call on `user`'s screen (once per call).
pub async fn push(
    deps: &Deps,
    user: &str,
    customer: CustomerId,
    call_id: &str,
    phone: &str,
    created: bool,
) -> Result<(), StoreError> {
    let now = deps.clock.now();
    let pop = Pop {
        call_id: call_id.to_owned(),
        customer_id: customer.to_string(),
        created,
        phone: phone.to_owned(),
        at: now,
        handled: false,
    };
    let mut item = nhip_core::records::to_item(keys::call_pop(user, call_id), "call_pop", &pop)?;
    item.insert("ttl".into(), json!(now.timestamp() + TTL_SECONDS));
    match deps.store.put(item, Condition::NotExists).await {
        Ok(()) | Err(StoreError::ConditionFailed { .. }) => Ok(()),
        Err(other) => Err(other),
    }
}

/// The newest call waiting on `user`'s screen, if one came in the last
/// [`SHOWN_FOR_MINUTES`].
pub async fn newest(deps: &Deps, user: &str) -> Result<Option<Pop>, StoreError> {
    let page = deps
        .store
        .query(
            Query::partition(Index::Primary, keys::user_pk(user))
                .sk(SortKey::BeginsWith(keys::CALL_POP_PREFIX.into()))
                .limit(50),
        )
        .await?;
    let since = deps.clock.now() - chrono::Duration::minutes(SHOWN_FOR_MINUTES);
    Ok(page
        .items
        .into_iter()
        .filter_map(|item| nhip_core::records::from_item::<Pop>(item, "call_pop").ok())
        .filter(|pop| pop.at >= since && !pop.handled)
        .max_by_key(|pop| pop.at))
}

/// Whether a call from `customer` is on `user`'s screen now.
pub async fn on_screen(deps: &Deps, user: &str, customer: CustomerId) -> Result<bool, StoreError> {
    let page = deps
        .store
        .query(
            Query::partition(Index::Primary, keys::user_pk(user))
                .sk(SortKey::BeginsWith(keys::CALL_POP_PREFIX.into()))
                .limit(50),
        )
        .await?;
    let since = deps.clock.now() - chrono::Duration::minutes(SHOWN_FOR_MINUTES);
    let id = customer.to_string();
    Ok(page
        .items
        .into_iter()
        .filter_map(|item| nhip_core::records::from_item::<Pop>(item, "call_pop").ok())
        .any(|pop| pop.customer_id == id && pop.at >= since))
}

/// The pop of `call_id` on `user`'s screen, if it is there.
pub async fn get(deps: &Deps, user: &str, call_id: &str) -> Result<Option<Pop>, StoreError> {
    nhip_core::records::get(&*deps.store, &keys::call_pop(user, call_id), "call_pop").await
}

/// The call was logged: off `user`'s screen, its caller still theirs to see for a while.
pub async fn handled(deps: &Deps, user: &str, call_id: &str) -> Result<(), StoreError> {
    match deps
        .store
        .update(
            &keys::call_pop(user, call_id),
            nhip_ports::store::Update::new().set("handled", true),
            Condition::Exists,
        )
        .await
    {
        Ok(_) | Err(StoreError::ConditionFailed { .. }) => Ok(()),
        Err(other) => Err(other),
    }
}

/// Takes the call off `user`'s screen.
pub async fn clear(deps: &Deps, user: &str, call_id: &str) -> Result<(), StoreError> {
    deps.store
        .delete(&keys::call_pop(user, call_id), Condition::Always)
        .await
}

/// Why the agent's action on a pop was refused.
#[derive(Debug, thiserror::Error)]
pub enum PopError {
    /// The call is not (or no longer) on the caller's screen.
    #[error("no such call on your screen")]
    NotFound,
    /// The name typed is not a name.
    #[error("{0}")]
    Name(String),
    /// Someone changed the caller's record meanwhile.
    #[error("the record changed")]
    Conflict,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The agent who took the call makes its unknown caller their lead: the name they typed, with
/// them as owner (and their team) when the lead had none. The pop on their screen is what
/// entitles them, even before the lead is in their scope.
pub async fn take_lead(
    deps: &Deps,
    principal: &nhip_core::auth::Principal,
    call_id: &str,
    full_name: &str,
) -> Result<CustomerId, PopError> {
    let pop = get(deps, &principal.user, call_id)
        .await?
        .filter(|pop| !pop.handled)
        .ok_or(PopError::NotFound)?;
    let name = nhip_domain::person::PersonName::parse(full_name)
        .map_err(|e| PopError::Name(e.to_string()))?;
    let id: CustomerId = pop.customer_id.parse().map_err(|_| PopError::NotFound)?;
    let before = crate::customers::repo::get(&*deps.store, id)
        .await?
        .ok_or(PopError::NotFound)?;
    let now = deps.clock.now();
    let mut after = before.clone();
    after.full_name = name.full().to_owned();
    after.given_name = name.default_given_name().to_owned();
    if after.owner.is_none() {
        after.owner = Some(principal.user.clone());
        after.team = after.team.clone().or_else(|| principal.team.clone());
    }
    after.updated_at = now;
    let entry = nhip_core::timeline::Entry {
        customer: id,
        at: now,
        cause: format!("callpop#{call_id}"),
        event_type: nhip_core::event_types::CUSTOMER_UPDATED.into(),
        source: "console".into(),
        actor: Some(principal.user.clone()),
        data: json!({"call_id": call_id, "full_name": after.full_name, "owner": after.owner}),
    };
    match crate::customers::repo::save(&*deps.store, &before, &mut after, vec![entry.write(now)])
        .await
    {
        Ok(()) => Ok(id),
        Err(crate::customers::repo::SaveError::Conflict) => Err(PopError::Conflict),
        Err(other) => Err(StoreError::invalid(other.to_string()).into()),
    }
}
