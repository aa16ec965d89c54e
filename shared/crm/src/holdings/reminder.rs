//! Expiry alerts' pointers: an active investment contract or software subscription with a
//! maturity has one reminder pointer (`REMIND#<date>` / `HOLD#<customer>#<holding>`) on the
//! date of its next alert (D-30, D-7, D-1 before `expires_on`), written in the same transaction
//! as the holding. The daily reminders run (at 08:00 in Viet Nam) reads only that day's
//! partition; after an alert it moves the pointer to the next rung, and a holding that is
//! settled, renewed, cancelled or changed moves or drops its pointer with the change.

use chrono::{DateTime, Days, NaiveDate, Utc};
use nhip_domain::ladder::Ladder;
use nhip_domain::time::{to_vn, vn_date};
use nhip_ports::store::{Condition, Item, WriteOp};
use serde_json::Value;

use nhip_core::keys;

use super::model::{Holding, HoldingStatus, ProductKind};

/// The hour (Viet Nam) the daily reminders run.
pub const RUN_HOUR: u32 = 8;

/// The first day whose reminders run is still to come at `now`: today before 08:00, else
/// tomorrow. A pointer is never placed on a day whose run is over.
pub fn first_run_day(now: DateTime<Utc>) -> NaiveDate {
    use chrono::Timelike;
    let today = vn_date(now);
    if to_vn(now).hour() < RUN_HOUR {
        today
    } else {
        today + Days::new(1)
    }
}

/// The kinds whose maturity is alerted: investment contracts and software subscriptions.
pub fn alerts_expiry(kind: ProductKind) -> bool {
    matches!(
        kind,
        ProductKind::Investment | ProductKind::SoftwareSubscription
    )
}

/// The date of a holding's next expiry alert on or after `from`, if it is active, alerted and
/// has a maturity.
pub fn next_alert(holding: &Holding, from: NaiveDate) -> Option<NaiveDate> {
    if holding.status != HoldingStatus::Active || !alerts_expiry(holding.product_kind) {
        return None;
    }
    let expires = holding.expires_on?;
    Ladder::expiry_default()
        .dates(expires)
        .into_iter()
        .map(|(_, date)| date)
        .find(|date| *date >= from)
}

/// The pointer's sort key for a holding.
pub fn pointer_ref(holding: &Holding) -> String {
    format!("HOLD#{}#{}", holding.customer_id, holding.id)
}

/// A pointer item on `date` for `what` (`HOLD#…` or `PLAN#…`).
pub fn pointer_item(date: NaiveDate, what: &str, customer: &str) -> Item {
    let mut item = keys::reminder(date, what).to_item();
    item.insert("kind".into(), "reminder_pointer".into());
    item.insert("customer_id".into(), Value::String(customer.to_owned()));
    item
}

/// Moves a pointer from `previous` to `next` (either may be absent): the writes, none when it
/// stays put.
pub fn move_pointer(
    previous: Option<NaiveDate>,
    next: Option<NaiveDate>,
    what: &str,
    customer: &str,
) -> Vec<WriteOp> {
    if previous == next {
        return Vec::new();
    }
    let mut ops = Vec::new();
    if let Some(old) = previous {
        ops.push(WriteOp::Delete {
            key: keys::reminder(old, what),
            condition: Condition::Always,
        });
    }
    if let Some(new) = next {
        ops.push(WriteOp::Put {
            item: pointer_item(new, what, customer),
            condition: Condition::Always,
        });
    }
    ops
}

/// Sets `holding.remind_on` to its next alert from `now` on and answers the pointer writes
/// (from where the stored holding had it).
pub fn repoint(
    stored: Option<&Holding>,
    holding: &mut Holding,
    now: DateTime<Utc>,
) -> Vec<WriteOp> {
    let previous = stored.and_then(|h| h.remind_on);
    holding.remind_on = next_alert(holding, first_run_day(now));
    move_pointer(
        previous,
        holding.remind_on,
        &pointer_ref(holding),
        &holding.customer_id.to_string(),
    )
}
