//! # Layout
//! The products customers hold, and the admin-managed lists they are chosen from.
//! - Catalogue: products (`CATALOG#PRODUCT` / `<code>`: BCC and other investment products,
//!   cards, installment plans, software subscriptions) and the reasons a product is not (yet)
//!   used (`CATALOG#REASON` / `<code>`, "Lý do chưa/ngưng sử dụng"). Admins write them; every
//!   authenticated staff member reads them. Each list is one Query on one small partition.
//! - Holdings: one item per product a customer holds, in the customer's partition
//!   (`CUS#<id>` / `HOLD#<ulid>`). Every holding write also rewrites the holding's summary on
//!   the customer's profile ([`HoldingSummary`], which the list filters read) in the same
//!   transaction, with the profile's optimistic version, and moves the lifecycle: an `active`
//!   holding makes a lead a customer; a customer whose holdings are all settled or cancelled,
//!   at least one settled, becomes `former` ("KH cũ đã tất toán").
//! - Usage: the product-usage summary per customer (bought, using, pending, stopped, usage
//!   rate; per product kind too) and the report of it over the caller's customer list.
//!
//! Holding attributes may carry card data: only the last four digits are accepted (anything
//! that looks like a full card number is refused), and attributes are never logged.
//!
//! Modules: [`model`] (records, enums, lifecycle rules), [`repo`] (reads), [`fields`] (body
//! reading, card numbers), [`changes`] (the use cases adding and changing a holding, with
//! [`HoldingError`](changes::HoldingError)), [`views`] (what the holding routes answer),
//! [`apply`] (what a change does: fields read onto the holding, the customer's lifecycle and
//! profile after it, the writes), [`access`] (the customer visible to the caller, the answers
//! when something is not there), [`catalogue`], [`routes`] (holding handlers), [`usage`] (its
//! routes; the counting is in [`model`]), [`schemas`] (the request bodies' shapes for the
//! document).

use std::sync::Arc;

use nhip_core::deps::Deps;
use nhip_core::openapi::Routes;
use nhip_core::routes;

pub mod access;
pub mod apply;
pub mod catalogue;
pub mod changes;
pub mod fields;
pub mod model;
pub mod reminder;
pub mod repo;
pub mod routes;
pub mod schemas;
pub mod usage;
pub mod views;

pub use model::*;
pub use repo::{holdings_of, products, reasons};

/// Kind attribute of catalogue product items.
pub const PRODUCT_KIND: &str = "catalogue_product";
/// Kind attribute of usage-reason items.
pub const REASON_KIND: &str = "usage_reason";
/// Kind attribute of holding items.
pub const HOLDING_KIND: &str = "holding";

/// Most attributes on one holding.
const MAX_ATTRIBUTES: usize = 30;
/// Largest amount accepted, in đồng: the largest integer a JavaScript client reads exactly.
const MAX_AMOUNT: i64 = 9_007_199_254_740_991;

/// The catalogue, holdings, usage and report routes.
pub fn router() -> Routes<Arc<Deps>> {
    Routes::new()
        .routes(routes!(catalogue::list_products, catalogue::create_product))
        .routes(routes!(catalogue::get_product, catalogue::update_product))
        .routes(routes!(catalogue::list_reasons, catalogue::create_reason))
        .routes(routes!(catalogue::update_reason))
        .routes(routes!(routes::list_holdings, routes::add_holding))
        .routes(routes!(routes::get_holding, routes::update_holding))
        .routes(routes!(usage::customer_usage))
        .routes(routes!(usage::product_usage_report))
}

#[cfg(test)]
mod tests {
    use nhip_domain::customer::{Lifecycle, UsageStatus};
    use ulid::Ulid;

    use super::apply::lifecycle_after;
    use super::*;
    use crate::customers::model::HoldingSummary;

    fn summary(status: &str) -> HoldingSummary {
        HoldingSummary {
            id: Ulid::new().to_string(),
            product: "bcc".into(),
            status: status.into(),
            expires_on: None,
            usage_status: None,
            usage_reason: None,
            remaining_invoice_ratio: None,
        }
    }

    #[test]
    fn lifecycle_follows_holdings() {
        use Lifecycle::*;
        assert_eq!(lifecycle_after(New, &[summary("pending")]), New);
        assert_eq!(lifecycle_after(Consulting, &[summary("active")]), Customer);
        assert_eq!(
            lifecycle_after(Customer, &[summary("settled"), summary("cancelled")]),
            Former
        );
        assert_eq!(
            lifecycle_after(Customer, &[summary("settled"), summary("active")]),
            Customer
        );
        assert_eq!(lifecycle_after(Customer, &[summary("cancelled")]), Customer);
        assert_eq!(
            lifecycle_after(Former, &[summary("settled"), summary("active")]),
            Customer
        );
    }

    #[test]
    fn reasons_cover_their_statuses() {
        assert!(AppliesTo::Both.covers(UsageStatus::Stopped));
        assert!(!AppliesTo::Both.covers(UsageStatus::Using));
        assert!(!AppliesTo::Stopped.covers(UsageStatus::NotYetUsing));
        assert!(HoldingStatus::Pending.may_become(HoldingStatus::Active));
        assert!(!HoldingStatus::Settled.may_become(HoldingStatus::Active));
    }
}
