//! Customer lists without a Scan. Each list reads the partition that matches the caller's
//! scope and the most selective filter: an exact identifier (phone, e-mail, CCCD, tax code) is
//! one guard read; otherwise the owner (gsi2), team (gsi3) or organisation-by-lifecycle (gsi1)
//! partitions, newest first, with the created range as a sort-key condition. The remaining
//! filters apply to the items read, as DynamoDB's filter expressions do, within a read budget
//! per request; a cursor continues where the request stopped.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDate, Utc};
use nhip_domain::customer::{Classification, Lifecycle, Source, UsageStatus};
use nhip_domain::ids::CustomerId;
use nhip_domain::person::fold;
use serde::{Deserialize, Serialize};

use super::model::Customer;
use super::repo;
use nhip_core::auth::{Principal, Scope};
use nhip_core::keys;
use nhip_ports::ItemStore;
use nhip_ports::store::{Cursor, Index, Item, Query, SortKey, StoreError};

/// Store pages one list request reads at most before answering with what it found.
const PAGE_BUDGET: usize = 8;
/// Items per store page while filtering.
const STORE_PAGE: u32 = 200;
/// Largest page a client may ask for.
pub const MAX_LIMIT: u32 = 100;

/// Filters of the customer list; every one is optional and they combine with AND.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Filters {
    /// Name, with or without diacritics ("nguyen van a" finds "Nguyễn Văn A").
    pub name: Option<String>,
    /// Mobile number in any usual form.
    pub phone: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// Tax code (MST).
    pub tax_code: Option<String>,
    /// CCCD number.
    pub cccd: Option<String>,
    /// Lifecycle.
    #[param(value_type = Option<nhip_core::openapi::LifecycleSchema>)]
    pub lifecycle: Option<Lifecycle>,
    /// Classification.
    #[param(value_type = Option<nhip_core::openapi::ClassificationSchema>)]
    pub classification: Option<Classification>,
    /// Source.
    #[param(value_type = Option<nhip_core::openapi::SourceSchema>)]
    pub source: Option<Source>,
    /// Owner (user name).
    pub owner: Option<String>,
    /// Team.
    pub team: Option<String>,
    /// Tag.
    pub tag: Option<String>,
    /// Created on or after this instant.
    pub created_from: Option<DateTime<Utc>>,
    /// Created on or before this instant.
    pub created_to: Option<DateTime<Utc>>,
    /// Holds a product expiring on or after this date.
    pub expires_from: Option<NaiveDate>,
    /// Holds a product expiring on or before this date.
    pub expires_to: Option<NaiveDate>,
    /// Holds a product with this usage status.
    #[param(value_type = Option<nhip_core::openapi::UsageStatusSchema>)]
    pub usage_status: Option<UsageStatus>,
    /// Holds a product not (yet) used for this reason.
    pub reason: Option<String>,
    /// Holds a product with at least this share of invoices left (0–1).
    #[param(minimum = 0, maximum = 1)]
    pub remaining_ratio_min: Option<f64>,
    /// Holds a product with at most this share of invoices left (0–1, at least the minimum).
    #[param(minimum = 0, maximum = 1)]
    pub remaining_ratio_max: Option<f64>,
    /// `true`: only customers holding at least one product (the care list, "Khách hàng chăm
    /// sóc"); `false`: only those holding none.
    pub has_holdings: Option<bool>,
    /// Items per page, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// Where the previous page stopped.
    pub cursor: Option<String>,
}

impl nhip_core::http::ListParams for Filters {
    const DEFAULT_LIMIT: u32 = 20;
    const MAX_LIMIT: u32 = MAX_LIMIT;

    fn requested_limit(&self) -> Option<u32> {
        self.limit
    }

    fn range_problems(&self) -> Vec<(&'static str, String)> {
        use nhip_core::http::share_problem;
        let mut problems: Vec<_> = [
            share_problem("remaining_ratio_min", self.remaining_ratio_min),
            share_problem("remaining_ratio_max", self.remaining_ratio_max),
        ]
        .into_iter()
        .flatten()
        .collect();
        if let (Some(min), Some(max)) = (self.remaining_ratio_min, self.remaining_ratio_max)
            && min > max
        {
            problems.push(("remaining_ratio_min", "≤ remaining_ratio_max".to_owned()));
        }
        if let (Some(from), Some(to)) = (self.created_from, self.created_to)
            && from > to
        {
            problems.push(("created_from", "≤ created_to".to_owned()));
        }
        if let (Some(from), Some(to)) = (self.expires_from, self.expires_to)
            && from > to
        {
            problems.push(("expires_from", "≤ expires_to".to_owned()));
        }
        problems
    }
}

/// One page of customers.
#[derive(Debug, Clone)]
pub struct Listing {
    /// The customers, newest first (exact-accent name matches first).
    pub customers: Vec<Customer>,
    /// Present when more may follow.
    pub next_cursor: Option<String>,
}

/// A list cursor: which partition of the plan, and where in it.
#[derive(Debug, Serialize, Deserialize)]
struct ListCursor {
    p: usize,
    c: String,
}

/// One partition to read.
#[derive(Debug, Clone)]
struct Part {
    index: Index,
    pk: String,
    sk: Option<SortKey>,
}

/// Why a list request is refused.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    /// A filter value is malformed.
    #[error("{field}: {message}")]
    Invalid {
        /// Which filter.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(field: &'static str, message: impl Into<String>) -> ListError {
    ListError::Invalid {
        field,
        message: message.into(),
    }
}

/// Whether `customer` passes every filter that is not served by the partition choice.
pub fn matches(customer: &Customer, filters: &Filters, name_query: Option<&str>) -> bool {
    if customer.erased_at.is_some() {
        return false;
    }
    if let Some(query) = name_query {
        let folded = fold(&customer.full_name);
        if !query.split(' ').all(|token| folded.contains(token)) {
            return false;
        }
    }
    if filters.lifecycle.is_some_and(|l| l != customer.lifecycle)
        || filters
            .classification
            .is_some_and(|c| Some(c) != customer.classification)
        || filters.source.is_some_and(|s| s != customer.source)
        || filters
            .owner
            .as_ref()
            .is_some_and(|o| Some(o) != customer.owner.as_ref())
        || filters
            .team
            .as_ref()
            .is_some_and(|t| Some(t) != customer.team.as_ref())
        || filters
            .tag
            .as_ref()
            .is_some_and(|t| !customer.tags.contains(t))
        || filters
            .has_holdings
            .is_some_and(|wanted| wanted == customer.holdings.is_empty())
        || filters
            .created_from
            .is_some_and(|f| customer.created_at < f)
        || filters.created_to.is_some_and(|t| customer.created_at > t)
    {
        return false;
    }
    let holding_filtered = filters.expires_from.is_some()
        || filters.expires_to.is_some()
        || filters.usage_status.is_some()
        || filters.reason.is_some()
        || filters.remaining_ratio_min.is_some()
        || filters.remaining_ratio_max.is_some();
    if !holding_filtered {
        return true;
    }
    // One holding must satisfy every holding filter at once.
    customer.holdings.iter().any(|h| {
        filters
            .expires_from
            .is_none_or(|f| h.expires_on.is_some_and(|e| e >= f))
            && filters
                .expires_to
                .is_none_or(|t| h.expires_on.is_some_and(|e| e <= t))
            && filters
                .usage_status
                .is_none_or(|s| h.usage_status == Some(s))
            && filters
                .reason
                .as_ref()
                .is_none_or(|r| h.usage_reason.as_ref() == Some(r))
            && filters
                .remaining_ratio_min
                .is_none_or(|m| h.remaining_invoice_ratio.is_some_and(|r| r >= m))
            && filters
                .remaining_ratio_max
                .is_none_or(|m| h.remaining_invoice_ratio.is_some_and(|r| r <= m))
    })
}

fn created_range(filters: &Filters, prefix: &str) -> Option<SortKey> {
    match (filters.created_from, filters.created_to) {
        (None, None) if prefix.is_empty() => None,
        (None, None) => Some(SortKey::BeginsWith(prefix.to_owned())),
        (from, to) => {
            let low = from.map(keys::instant).unwrap_or_default();
            // `~` sorts after every character of an instant or id.
            let high = to.map(keys::instant).unwrap_or_else(|| "~".into());
            Some(SortKey::Between(
                format!("{prefix}{low}"),
                format!("{prefix}{high}~"),
            ))
        }
    }
}

/// The partitions a list reads, in order, for this caller and these filters.
fn plan(principal: &Principal, filters: &Filters) -> Vec<Part> {
    let lifecycles: Vec<Lifecycle> = match filters.lifecycle {
        Some(l) => vec![l],
        None => Lifecycle::ALL.to_vec(),
    };
    let scoped = |index: Index, pk: String| -> Vec<Part> {
        lifecycles
            .iter()
            .map(|l| Part {
                index,
                pk: pk.clone(),
                sk: created_range(filters, &format!("{}#", l.as_str())),
            })
            .collect()
    };
    match principal.scope() {
        Scope::Owner(user) => match &filters.owner {
            Some(owner) if *owner != user => Vec::new(),
            _ => scoped(Index::Gsi2, keys::customers_by_owner(&user)),
        },
        // Items outside the manager's team are dropped by the scope check after reading.
        Scope::Team(team) => match &filters.owner {
            Some(owner) => scoped(Index::Gsi2, keys::customers_by_owner(owner)),
            None => scoped(Index::Gsi3, keys::customers_by_team(&team)),
        },
        Scope::All => match (&filters.owner, &filters.team) {
            (Some(owner), _) => scoped(Index::Gsi2, keys::customers_by_owner(owner)),
            (None, Some(team)) => scoped(Index::Gsi3, keys::customers_by_team(team)),
            (None, None) => lifecycles
                .iter()
                .map(|l| Part {
                    index: Index::Gsi1,
                    pk: keys::customers_by_lifecycle(l.as_str()),
                    sk: created_range(filters, ""),
                })
                .collect(),
        },
    }
}

fn decode_cursor(raw: &str) -> Result<ListCursor, ListError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(raw.as_bytes())
        .map_err(|_| invalid("cursor", "not a cursor of this list"))?;
    serde_json::from_slice(&bytes).map_err(|_| invalid("cursor", "not a cursor of this list"))
}

fn encode_cursor(cursor: &ListCursor) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(cursor).expect("a cursor serialises"))
}

/// One page of the customers `principal` may see that pass `filters`.
pub async fn list(
    store: &dyn ItemStore,
    principal: &Principal,
    filters: &Filters,
) -> Result<Listing, ListError> {
    let limit = filters.limit.unwrap_or(20);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(invalid(
            "limit",
            format!("must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let name_query = filters.name.as_deref().map(fold).filter(|q| !q.is_empty());
    if let Some(ids) = exact_lookup(store, filters).await? {
        let keys: Vec<_> = ids.into_iter().take(100).map(keys::customer).collect();
        let mut customers = Vec::new();
        for item in store.batch_get(&keys).await? {
            let customer = Customer::from_item(item)?;
            if visible(principal, &customer) && matches(&customer, filters, name_query.as_deref()) {
                customers.push(customer);
            }
        }
        customers.sort_by_key(|c| std::cmp::Reverse(c.created_at));
        customers.truncate(limit as usize);
        return Ok(Listing {
            customers,
            next_cursor: None,
        });
    }
    let parts = plan(principal, filters);
    let (mut p, mut cursor) = match &filters.cursor {
        None => (0, None),
        Some(raw) => {
            let decoded = decode_cursor(raw)?;
            if decoded.p >= parts.len() {
                return Err(invalid("cursor", "not a cursor of this list"));
            }
            (
                decoded.p,
                (!decoded.c.is_empty()).then(|| Cursor::from_client(decoded.c)),
            )
        }
    };
    let mut customers = Vec::new();
    let mut pages = 0;
    while p < parts.len() {
        if pages == PAGE_BUDGET {
            let next = cursor.map(|c| {
                encode_cursor(&ListCursor {
                    p,
                    c: c.as_str().to_owned(),
                })
            });
            return Ok(finish(customers, next, name_query.as_deref(), filters));
        }
        pages += 1;
        let part = &parts[p];
        let mut query = Query::partition(part.index, part.pk.clone())
            .descending()
            .limit(STORE_PAGE)
            .after(cursor.take());
        query.sk = part.sk.clone();
        let page = store.query(query).await?;
        let count = page.items.len();
        for (i, item) in page.items.into_iter().enumerate() {
            let position = Cursor::after_item(part.index, &item);
            let customer = Customer::from_item(item)?;
            if visible(principal, &customer) && matches(&customer, filters, name_query.as_deref()) {
                customers.push(customer);
                if customers.len() == limit as usize {
                    let more = i + 1 < count || page.next.is_some() || p + 1 < parts.len();
                    let next = if i + 1 < count || page.next.is_some() {
                        position.map(|c| ListCursor {
                            p,
                            c: c.as_str().to_owned(),
                        })
                    } else {
                        // The partition is done: continue with the next one from its start.
                        (p + 1 < parts.len()).then(|| ListCursor {
                            p: p + 1,
                            c: String::new(),
                        })
                    };
                    let next = next.filter(|_| more).map(|c| encode_cursor(&c));
                    return Ok(finish(customers, next, name_query.as_deref(), filters));
                }
            }
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => {
                p += 1;
                cursor = None;
            }
        }
    }
    Ok(finish(customers, None, name_query.as_deref(), filters))
}

fn finish(
    mut customers: Vec<Customer>,
    next_cursor: Option<String>,
    name_query: Option<&str>,
    filters: &Filters,
) -> Listing {
    // Exact-accent matches first ("Nguyễn" before "Nguyên" when the query was "Nguyễn").
    if name_query.is_some()
        && let Some(raw) = &filters.name
    {
        let wanted = nhip_domain::person::nfc(raw.trim()).to_lowercase();
        customers.sort_by_key(|c| !c.full_name.to_lowercase().contains(&wanted));
    }
    Listing {
        customers,
        next_cursor,
    }
}

/// Whether the caller's scope covers this customer.
pub fn visible(principal: &Principal, customer: &Customer) -> bool {
    principal.can_see(customer.owner.as_deref(), customer.team.as_deref())
}

/// Of `ids`, those of customers `principal` may see (not erased, in scope), read in batches.
/// For lists of other records (tickets, enrollments) that name their customer.
pub async fn visible_ids(
    store: &dyn ItemStore,
    principal: &Principal,
    ids: impl IntoIterator<Item = CustomerId>,
) -> Result<std::collections::HashSet<CustomerId>, StoreError> {
    let mut ids: Vec<CustomerId> = ids.into_iter().collect();
    ids.sort();
    ids.dedup();
    let keys: Vec<_> = ids.iter().map(|id| keys::customer(*id)).collect();
    let mut seen = std::collections::HashSet::new();
    for item in store.batch_get(&keys).await? {
        let customer = Customer::from_item(item)?;
        if customer.erased_at.is_none() && visible(principal, &customer) {
            seen.insert(customer.id);
        }
    }
    Ok(seen)
}

/// Ids from an exact identifier filter, when one is given.
async fn exact_lookup(
    store: &dyn ItemStore,
    filters: &Filters,
) -> Result<Option<Vec<CustomerId>>, ListError> {
    use nhip_domain::identifiers::{Cccd, Email, Phone, TaxCode};
    let guard = if let Some(raw) = &filters.phone {
        let phone = Phone::parse(raw).map_err(|e| invalid("phone", e.to_string()))?;
        Some(keys::phone_guard(phone.as_str()))
    } else if let Some(raw) = &filters.email {
        let email = Email::parse(raw).map_err(|e| invalid("email", e.to_string()))?;
        Some(keys::email_guard(email.as_str()))
    } else if let Some(raw) = &filters.cccd {
        let cccd = Cccd::parse(raw).map_err(|e| invalid("cccd", e.to_string()))?;
        Some(keys::cccd_guard(cccd.as_str()))
    } else {
        None
    };
    if let Some(guard) = guard {
        return Ok(Some(
            repo::guard_owner(store, &guard)
                .await?
                .into_iter()
                .collect(),
        ));
    }
    if let Some(raw) = &filters.tax_code {
        let code = TaxCode::parse(raw).map_err(|e| invalid("tax_code", e.to_string()))?;
        return Ok(Some(repo::by_tax_code(store, code.as_str()).await?));
    }
    Ok(None)
}

/// How many customers in the caller's scope are `new` (not yet consulted): the bell's count.
pub async fn count_new(store: &dyn ItemStore, principal: &Principal) -> Result<u64, StoreError> {
    count_new_up_to(store, principal, u64::MAX).await
}

/// [`count_new`], but reading no further once `cap` are counted: what a page shows on every
/// render ("1000+"), at a bounded cost however many leads wait.
pub async fn count_new_up_to(
    store: &dyn ItemStore,
    principal: &Principal,
    cap: u64,
) -> Result<u64, StoreError> {
    let filters = Filters {
        lifecycle: Some(Lifecycle::New),
        ..Filters::default()
    };
    let mut count = 0;
    for part in plan(principal, &filters) {
        let mut cursor = None;
        loop {
            let mut query = Query::partition(part.index, part.pk.clone())
                .limit(1000)
                .after(cursor);
            query.sk = part.sk.clone();
            let page = store.query(query).await?;
            count += page
                .items
                .into_iter()
                .filter_map(|item: Item| Customer::from_item(item).ok())
                .filter(|c| visible(principal, c) && c.erased_at.is_none())
                .count() as u64;
            if count >= cap {
                return Ok(cap);
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    Ok(count)
}
