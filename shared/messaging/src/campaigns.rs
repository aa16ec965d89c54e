//! Campaigns: one template to a filtered audience (or everyone in the caller's scope, when
//! said so), previewed by a dry run or queued through the pipeline, and the report of one
//! campaign with its counters and its messages' results.
//!
//! The stored campaign is `CMP#<id>` / `CAMPAIGN`, listed newest first on gsi2 under
//! `CAMPAIGNS`. A campaign request's `idempotency_key` fixes the campaign id, and each send's
//! key is the campaign and the customer, so a replayed request queues only what is missing.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::{Cause, CauseKind, Message, RequestData, SendPurpose, SendRequest, Target};
use crate::pipeline;
use crate::stats::{self, Stats};
use crate::targets::{self, TargetError};
use nhip_core::auth::{Principal, Role};
use nhip_core::deps::Deps;
use nhip_core::keys;
use nhip_crm::customers::list::{self, Filters};
use nhip_ports::QueueError;
use nhip_ports::store::{Condition, Index, Item, Query, StoreError};

/// Kind attribute of campaign items.
pub const KIND: &str = "campaign";
/// Most customers one campaign request queues.
pub const MAX_CAMPAIGN_AUDIENCE: usize = 5_000;
/// Longest campaign name, in characters.
pub const MAX_NAME: usize = 200;

/// Why a campaign cannot be previewed, queued or shown. The texts are the ones staff read.
#[derive(Debug, thiserror::Error)]
pub enum CampaignError {
    /// Only admins and managers send in bulk.
    #[error("Chỉ quản trị viên và quản lý được gửi hàng loạt.")]
    MayNotSend,
    /// Only admins and managers read campaigns.
    #[error("Chỉ quản trị viên và quản lý xem chiến dịch.")]
    MayNotRead,
    /// No such campaign, or not one of the caller's (a manager sees their own).
    #[error("Không tìm thấy chiến dịch.")]
    NotFound,
    /// The name is empty or too long.
    #[error("Tên chiến dịch từ 1 đến 200 ký tự.")]
    Name,
    /// The targets do not match the catalogue.
    #[error(transparent)]
    Targets(#[from] TargetError),
    /// `filters` is not a JSON object.
    #[error("Bộ lọc phải là một đối tượng JSON.")]
    FiltersNotObject,
    /// `filters` does not read as the customer list's filters.
    #[error("Bộ lọc không hợp lệ: {0}")]
    FiltersMalformed(String),
    /// A filter key the customer list does not know (it would widen the audience).
    #[error("Bộ lọc không có trường «{0}».")]
    UnknownFilter(String),
    /// `limit` or `cursor` given as a filter.
    #[error("Bộ lọc không nhận limit hay cursor.")]
    FilterPaging,
    /// The customer list refused a filter value.
    #[error("{0}")]
    FilterRejected(String),
    /// No filter and no `"audience": "all"`.
    #[error(
        "Bộ lọc trống: chiến dịch sẽ gửi cho mọi khách hàng trong phạm vi của bạn. \
         Ghi \"audience\": \"all\" để xác nhận, hoặc thêm bộ lọc."
    )]
    EveryoneUnconfirmed,
    /// A filter together with `"audience": "all"`.
    #[error("\"audience\": \"all\" gửi cho mọi khách hàng; bỏ nó đi khi đã có bộ lọc.")]
    EveryoneAndFilters,
    /// The idempotency key is empty or too long.
    #[error("Khoá từ 1 đến 200 ký tự.")]
    IdempotencyKey,
    /// More customers than one campaign may queue.
    #[error("Quá 5.000 khách hàng; chia nhỏ chiến dịch bằng bộ lọc.")]
    AudienceTooLarge,
    /// The `sends` queue did not take the requests; the same request again sends nobody twice.
    #[error("Hàng đợi gửi tin đang bận; gửi lại cùng yêu cầu sẽ không gửi trùng.")]
    QueueUnavailable(#[source] QueueError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl CampaignError {
    /// The request field a validation error is about, if it is one.
    pub fn field(&self) -> Option<String> {
        Some(match self {
            CampaignError::Name => "name".into(),
            CampaignError::Targets(TargetError::Store(_)) => return None,
            CampaignError::Targets(error) => error.field(),
            CampaignError::FiltersNotObject
            | CampaignError::FiltersMalformed(_)
            | CampaignError::FilterPaging
            | CampaignError::FilterRejected(_)
            | CampaignError::AudienceTooLarge => "filters".into(),
            CampaignError::UnknownFilter(key) => format!("filters.{key}"),
            CampaignError::EveryoneUnconfirmed | CampaignError::EveryoneAndFilters => {
                "audience".into()
            }
            CampaignError::IdempotencyKey => "idempotency_key".into(),
            CampaignError::MayNotSend
            | CampaignError::MayNotRead
            | CampaignError::NotFound
            | CampaignError::QueueUnavailable(_)
            | CampaignError::Store(_) => return None,
        })
    }
}

/// Who a campaign goes to.
#[derive(Debug, Clone, PartialEq)]
pub enum Audience {
    /// Everyone in the caller's scope, said explicitly.
    Everyone,
    /// The customers the list's filters select.
    Filtered(Box<Filters>),
}

/// A campaign request as staff sent it, before its checks.
#[derive(Debug, Clone)]
pub struct CampaignRequest {
    /// Name staff see.
    pub name: String,
    /// Channels with their template, in order of preference.
    pub targets: Vec<Target>,
    /// Care, marketing or consent request.
    pub purpose: SendPurpose,
    /// The customer-list filters, as sent.
    pub filters: Value,
    /// `"audience": "all"` was said: everyone in the caller's scope.
    pub everyone: bool,
    /// The caller's key for the campaign.
    pub idempotency_key: Option<String>,
    /// Only count.
    pub dry_run: bool,
}

/// A campaign request that passed its own checks (the targets are checked against the
/// catalogue by [`create`]).
#[derive(Debug, Clone)]
pub struct NewCampaign {
    /// The name, trimmed and NFC-normalised.
    pub name: String,
    /// Channels with their template, in order of preference.
    pub targets: Vec<Target>,
    /// Care, marketing or consent request.
    pub purpose: SendPurpose,
    /// Who.
    pub audience: Audience,
    /// The filters as sent, kept on the campaign and echoed.
    pub filters: Value,
    /// The caller's key for the campaign (1–200 bytes).
    pub idempotency_key: Option<String>,
    /// Only count.
    pub dry_run: bool,
}

impl NewCampaign {
    /// Checks the parts of a campaign request that need nothing stored, in the order they are
    /// reported: the name, the filters, the audience, the idempotency key.
    pub fn new(
        name: &str,
        targets: Vec<Target>,
        purpose: SendPurpose,
        filters: Value,
        everyone: bool,
        idempotency_key: Option<String>,
        dry_run: bool,
    ) -> Result<Self, CampaignError> {
        let name = checked_name(name)?;
        let parsed = campaign_filters(&filters)?;
        let audience = match (parsed == Filters::default(), everyone) {
            (true, false) => return Err(CampaignError::EveryoneUnconfirmed),
            (false, true) => return Err(CampaignError::EveryoneAndFilters),
            (true, true) => Audience::Everyone,
            (false, false) => Audience::Filtered(Box::new(parsed)),
        };
        if idempotency_key
            .as_ref()
            .is_some_and(|key| key.is_empty() || key.len() > 200)
        {
            return Err(CampaignError::IdempotencyKey);
        }
        Ok(Self {
            name: nhip_domain::person::nfc(name),
            targets,
            purpose,
            audience,
            filters,
            idempotency_key,
            dry_run,
        })
    }
}

impl TryFrom<CampaignRequest> for NewCampaign {
    type Error = CampaignError;

    fn try_from(request: CampaignRequest) -> Result<Self, Self::Error> {
        NewCampaign::new(
            &request.name,
            request.targets,
            request.purpose,
            request.filters,
            request.everyone,
            request.idempotency_key,
            request.dry_run,
        )
    }
}

/// The name, trimmed: 1–200 characters.
fn checked_name(name: &str) -> Result<&str, CampaignError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(CampaignError::Name);
    }
    Ok(name)
}

/// A campaign as stored (without its keys).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Campaign {
    /// Id (a ULID, or derived from the caller's idempotency key).
    pub id: String,
    /// Name staff see.
    pub name: String,
    /// Channels with their template, in order of preference.
    pub targets: Vec<Target>,
    /// Care, marketing or consent request.
    pub purpose: SendPurpose,
    /// The customer-list filters as sent (`null` for everyone).
    pub filters: Value,
    /// Who created it.
    pub created_by: String,
    /// Created (RFC 3339, milliseconds, UTC).
    pub created_at: String,
    /// How many customers it went to.
    pub audience: usize,
}

impl Campaign {
    /// The stored item, listed on gsi2 under `CAMPAIGNS`, newest first.
    pub fn to_item(&self) -> Result<Item, StoreError> {
        let Value::Object(fields) = serde_json::to_value(self)
            .map_err(|e| StoreError::invalid(format!("campaign does not serialise: {e}")))?
        else {
            return Err(StoreError::invalid("campaign is not an object"));
        };
        let mut item = keys::campaign(&self.id).to_item();
        item.extend(fields);
        item.insert("kind".into(), KIND.into());
        item.insert(Index::Gsi2.pk_attr().into(), keys::CAMPAIGNS.into());
        item.insert(
            Index::Gsi2.sk_attr().into(),
            format!("{}#{}", self.created_at, self.id).into(),
        );
        Ok(item)
    }

    /// The campaign in a stored item.
    pub fn from_item(item: Item) -> Result<Self, StoreError> {
        nhip_core::records::from_item(item, KIND)
    }
}

/// What a campaign request did.
#[derive(Debug, Clone)]
pub enum Created {
    /// A dry run: nothing stored or queued.
    Preview {
        /// The name, trimmed and NFC-normalised.
        name: String,
        /// Care, marketing or consent request.
        purpose: SendPurpose,
        /// The filters as sent.
        filters: Value,
        /// How many customers it would go to.
        audience: usize,
    },
    /// Stored (or found, for a replay) and queued.
    Queued {
        /// The campaign.
        campaign: Campaign,
        /// How many send requests were queued.
        queued: usize,
    },
}

/// Whether `principal` may send in bulk.
pub fn may_send(principal: &Principal) -> Result<(), CampaignError> {
    if matches!(principal.role, Role::Admin | Role::Manager) {
        Ok(())
    } else {
        Err(CampaignError::MayNotSend)
    }
}

/// Previews or queues a campaign: every customer in the caller's scope the audience selects
/// (at most [`MAX_CAMPAIGN_AUDIENCE`]) gets one send request. The request's problems are
/// reported in this order: the caller's role, the name, the targets against the catalogue,
/// the filters, the audience, the idempotency key.
pub async fn create(
    deps: &Deps,
    principal: &Principal,
    request: CampaignRequest,
) -> Result<Created, CampaignError> {
    may_send(principal)?;
    checked_name(&request.name)?;
    targets::check(deps, &request.targets).await?;
    let campaign = NewCampaign::try_from(request)?;
    let now = deps.clock.now();
    let id = match &campaign.idempotency_key {
        Some(key) => crate::model::message_id_for(&format!("campaign#{}#{key}", principal.user)),
        None => ulid::Ulid::from_datetime(now.into()).to_string(),
    };
    let audience = audience(deps, principal, &campaign.audience).await?;
    if campaign.dry_run {
        return Ok(Created::Preview {
            name: campaign.name,
            purpose: campaign.purpose,
            filters: campaign.filters,
            audience: audience.len(),
        });
    }
    let stored = Campaign {
        id: id.clone(),
        name: campaign.name,
        targets: campaign.targets,
        purpose: campaign.purpose,
        filters: campaign.filters,
        created_by: principal.user.clone(),
        created_at: keys::instant(now),
        audience: audience.len(),
    };
    // A replayed request finds its campaign and queues again: each send's key is the
    // campaign and the customer, so nobody gets it twice.
    match deps
        .store
        .put(stored.to_item()?, Condition::NotExists)
        .await
    {
        Ok(()) | Err(StoreError::ConditionFailed { .. }) => {}
        Err(other) => return Err(other.into()),
    }
    let requests: Vec<SendRequest> = audience
        .iter()
        .map(|customer| SendRequest {
            idempotency_key: format!("campaign#{id}#{customer}"),
            customer_id: customer.to_string(),
            targets: stored.targets.clone(),
            purpose: stored.purpose,
            cause: Cause {
                kind: CauseKind::Campaign,
                id: id.clone(),
                actor: Some(principal.user.clone()),
            },
            campaign: Some(id.clone()),
            data: RequestData::default(),
            system: None,
            requested_at: now,
            guard: None,
        })
        .collect();
    pipeline::enqueue(deps, &requests)
        .await
        .map_err(CampaignError::QueueUnavailable)?;
    Ok(Created::Queued {
        campaign: stored,
        queued: requests.len(),
    })
}

/// The customers an audience selects in the caller's scope, page after page.
async fn audience(
    deps: &Deps,
    principal: &Principal,
    audience: &Audience,
) -> Result<Vec<nhip_domain::ids::CustomerId>, CampaignError> {
    let mut filters = match audience {
        Audience::Everyone => Filters::default(),
        Audience::Filtered(filters) => (**filters).clone(),
    };
    filters.limit = Some(list::MAX_LIMIT);
    let mut customers = Vec::new();
    loop {
        let page = list::list(&*deps.store, principal, &filters)
            .await
            .map_err(|e| match e {
                list::ListError::Store(error) => CampaignError::Store(error),
                other => CampaignError::FilterRejected(other.to_string()),
            })?;
        customers.extend(page.customers.into_iter().map(|c| c.id));
        if customers.len() > MAX_CAMPAIGN_AUDIENCE {
            return Err(CampaignError::AudienceTooLarge);
        }
        match page.next_cursor {
            Some(cursor) => filters.cursor = Some(cursor),
            None => break,
        }
    }
    Ok(customers)
}

/// A campaign's filters: the customer-list filters as a JSON object. A key the list does not
/// know (a misspelling such as `lifecyle`) is refused naming it, never ignored: ignoring it
/// would widen the audience. `limit` and `cursor` are the list's paging, not filters.
fn campaign_filters(raw: &Value) -> Result<Filters, CampaignError> {
    if raw.is_null() {
        return Ok(Filters::default());
    }
    if !raw.is_object() {
        return Err(CampaignError::FiltersNotObject);
    }
    let mut unknown = Vec::new();
    let filters: Filters = serde_ignored::deserialize(raw.clone(), |path| {
        unknown.push(path.to_string());
    })
    .map_err(|e| CampaignError::FiltersMalformed(e.to_string()))?;
    if let Some(key) = unknown.into_iter().next() {
        return Err(CampaignError::UnknownFilter(key));
    }
    if filters.limit.is_some() || filters.cursor.is_some() {
        return Err(CampaignError::FilterPaging);
    }
    Ok(filters)
}

/// A campaign with its counters and its messages.
#[derive(Debug, Clone)]
pub struct Report {
    /// The campaign.
    pub campaign: Campaign,
    /// Its counters and rates.
    pub stats: Stats,
    /// Its messages (the first 1,000).
    pub messages: Vec<Message>,
}

/// The campaign `id` with its counters and messages, for an admin or its manager.
pub async fn report(deps: &Deps, principal: &Principal, id: &str) -> Result<Report, CampaignError> {
    if !matches!(principal.role, Role::Admin | Role::Manager) {
        return Err(CampaignError::MayNotRead);
    }
    if id.len() != 26 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(CampaignError::NotFound);
    }
    let item = deps
        .store
        .get(&keys::campaign(id))
        .await?
        .ok_or(CampaignError::NotFound)?;
    let campaign = Campaign::from_item(item)?;
    if principal.role == Role::Manager && campaign.created_by != principal.user {
        return Err(CampaignError::NotFound);
    }
    let page = deps
        .store
        .query(Query::partition(Index::Gsi3, keys::messages_of_campaign(id)).limit(1000))
        .await?;
    let messages = page
        .items
        .into_iter()
        .map(Message::from_item)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Report {
        stats: stats::read(deps, "CMP", id).await?,
        campaign,
        messages,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::model::MessageChannel;

    fn new(filters: Value, everyone: bool) -> Result<NewCampaign, CampaignError> {
        NewCampaign::new(
            "  Ưu đãi tháng 12 ",
            vec![Target {
                channel: MessageChannel::Email,
                template: "cmp-email".into(),
                version: None,
            }],
            SendPurpose::Marketing,
            filters,
            everyone,
            None,
            false,
        )
    }

    fn refused(filters: Value, everyone: bool) -> (Option<String>, String) {
        let error = new(filters, everyone).expect_err("refused");
        (error.field(), error.to_string())
    }

    #[test]
    fn everyone_must_be_said_and_never_together_with_a_filter() {
        for empty in [Value::Null, json!({})] {
            assert_eq!(refused(empty.clone(), false).0.as_deref(), Some("audience"));
            let campaign = new(empty, true).unwrap();
            assert_eq!(campaign.audience, Audience::Everyone);
        }
        let (field, message) = refused(json!({"source": "assigned"}), true);
        assert_eq!(field.as_deref(), Some("audience"));
        assert!(message.starts_with("\"audience\": \"all\""), "{message}");
        let campaign = new(json!({"source": "assigned"}), false).unwrap();
        assert!(matches!(campaign.audience, Audience::Filtered(_)));
        // The filters are kept as sent, to be stored and echoed.
        assert_eq!(campaign.filters, json!({"source": "assigned"}));
    }

    #[test]
    fn a_filter_the_list_does_not_know_is_named_never_ignored() {
        assert_eq!(
            refused(json!({"lifecyle": "new"}), false),
            (
                Some("filters.lifecyle".into()),
                "Bộ lọc không có trường «lifecyle».".into()
            )
        );
        assert_eq!(
            refused(json!({"source": "assigned", "limit": 5}), false).1,
            "Bộ lọc không nhận limit hay cursor."
        );
        assert_eq!(
            refused(json!(["source"]), false),
            (
                Some("filters".into()),
                "Bộ lọc phải là một đối tượng JSON.".into()
            )
        );
        let (field, message) = refused(json!({"lifecycle": "sometimes"}), false);
        assert_eq!(field.as_deref(), Some("filters"));
        assert!(message.starts_with("Bộ lọc không hợp lệ: "), "{message}");
    }

    #[test]
    fn the_name_is_trimmed_and_bounded_and_checked_first() {
        let campaign = new(Value::Null, true).unwrap();
        assert_eq!(campaign.name, "Ưu đãi tháng 12");
        let long = "a".repeat(MAX_NAME + 1);
        let error = NewCampaign::new(
            &long,
            Vec::new(),
            SendPurpose::Care,
            json!({"lifecyle": "new"}),
            false,
            None,
            false,
        )
        .unwrap_err();
        assert_eq!(error.field().as_deref(), Some("name"));
        assert!(matches!(
            NewCampaign::new(
                " ",
                Vec::new(),
                SendPurpose::Care,
                Value::Null,
                true,
                None,
                false
            ),
            Err(CampaignError::Name)
        ));
    }

    #[test]
    fn the_idempotency_key_is_one_to_two_hundred_bytes() {
        let with_key = |key: &str| {
            NewCampaign::new(
                "x",
                Vec::new(),
                SendPurpose::Care,
                Value::Null,
                true,
                Some(key.to_owned()),
                false,
            )
        };
        assert!(matches!(with_key(""), Err(CampaignError::IdempotencyKey)));
        assert!(matches!(
            with_key(&"k".repeat(201)),
            Err(CampaignError::IdempotencyKey)
        ));
        assert!(with_key(&"k".repeat(200)).is_ok());
    }

    #[test]
    fn stored_campaigns_read_back_without_their_keys() {
        let campaign = Campaign {
            id: "01JEXAMPLE0000000000000000".into(),
            name: "Ưu đãi".into(),
            targets: Vec::new(),
            purpose: SendPurpose::Marketing,
            filters: Value::Null,
            created_by: "u1".into(),
            created_at: "2026-12-06T02:00:00.000Z".into(),
            audience: 2,
        };
        let item = campaign.to_item().unwrap();
        assert_eq!(item["kind"], KIND);
        assert_eq!(
            item[Index::Gsi2.sk_attr()],
            "2026-12-06T02:00:00.000Z#01JEXAMPLE0000000000000000"
        );
        assert_eq!(Campaign::from_item(item).unwrap(), campaign);
    }
}
