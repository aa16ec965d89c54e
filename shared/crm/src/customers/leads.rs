//! Leads arriving by themselves (website forms, incoming calls, imports): find the customer by
//! normalised phone or e-mail, or create one. A repeat arrival updates the existing customer
//! and adds a timeline entry instead of creating a twin; two arrivals racing on the same phone
//! number both end on one customer, because the second one's guard write fails and it retries
//! as a repeat.
//!
//! An anonymous arrival (a public web form) proves nothing about who sent it: for a phone or
//! e-mail that is already a customer it changes none of the stored fields and grants nothing.
//! What was submitted is kept on the timeline entry, marked unverified, for staff to apply
//! ([`super::submissions`]); consents asked for wait (`OPTIN#` items, see docs/data-model.md)
//! until the customer confirms them through a signed link sent to the address already on
//! record (double opt-in).

use chrono::{DateTime, NaiveDate, Utc};
use nhip_domain::customer::{Attribution, ConsentRecord, Consents, Lifecycle, Source};
use nhip_domain::event::DomainEvent;
use nhip_domain::identifiers::{Email, Phone};
use nhip_domain::ids::CustomerId;
use nhip_domain::person::{Gender, PersonName};
use serde_json::{Value, json};
use ulid::Ulid;

use super::model::Customer;
use super::repo::{self, SaveError};
use nhip_core::deps::Deps;
use nhip_core::keys;
use nhip_core::timeline;
use nhip_ports::store::{Condition, StoreError, WriteOp};

/// A validated lead.
#[derive(Debug, Clone)]
pub struct Lead {
    /// The name given.
    pub name: Option<PersonName>,
    /// Gender, when given.
    pub gender: Option<Gender>,
    /// Birthday, when given.
    pub birthday: Option<NaiveDate>,
    /// Mobile number, when given.
    pub phone: Option<Phone>,
    /// E-mail, when given.
    pub email: Option<Email>,
    /// Where it came from.
    pub source: Source,
    /// Campaign fields.
    pub attribution: Attribution,
    /// Consent decisions made with this submission.
    pub consents: Vec<ConsentRecord>,
    /// A message the person wrote, if any.
    pub message: Option<String>,
    /// The "screen" it came through, for the timeline: `website_form`, `telephony`, `import`.
    pub via: &'static str,
    /// Extra details for the timeline entry and the event (call id, import row, …).
    pub details: Value,
    /// Whether nothing vouches for the sender (a public form): then a known customer's record
    /// is left as it is and the submission is recorded as unverified.
    pub anonymous: bool,
}

/// Consents an anonymous submission asked for on a known customer, stored until the customer
/// confirms them (`CUS#<id>` / `OPTIN#<request>`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PendingConsents {
    /// The request's id (the submission's event id).
    pub id: String,
    /// The customer.
    pub customer: CustomerId,
    /// The consents to grant on confirmation, as the form gave them.
    pub consents: Vec<ConsentRecord>,
}

/// How long a double opt-in link stays valid.
pub const PENDING_CONSENT_DAYS: i64 = 7;

impl PendingConsents {
    fn write(&self, now: DateTime<Utc>) -> WriteOp {
        let mut item = keys::pending_consents(self.customer, &self.id).to_item();
        item.insert("kind".into(), json!("pending_consents"));
        item.insert(
            "consents".into(),
            serde_json::to_value(&self.consents).expect("consents serialise"),
        );
        item.insert(
            "ttl".into(),
            json!((now + chrono::Duration::days(PENDING_CONSENT_DAYS)).timestamp()),
        );
        WriteOp::Put {
            item,
            condition: Condition::NotExists,
        }
    }
}

/// What an arrival did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A new customer.
    Created,
    /// An existing customer, updated.
    Resubmitted,
}

/// Placeholder name of a caller or contact who has not given one yet.
pub const UNNAMED: &str = "Khách chưa có tên";

/// The customer a phone or e-mail belongs to, phone first.
pub async fn find(
    deps: &Deps,
    phone: Option<&Phone>,
    email: Option<&Email>,
) -> Result<Option<CustomerId>, StoreError> {
    if let Some(phone) = phone
        && let Some(id) =
            repo::guard_owner(&*deps.store, &keys::phone_guard(phone.as_str())).await?
    {
        return Ok(Some(id));
    }
    if let Some(email) = email
        && let Some(id) =
            repo::guard_owner(&*deps.store, &keys::email_guard(email.as_str())).await?
    {
        return Ok(Some(id));
    }
    Ok(None)
}

/// What [`upsert`] did.
#[derive(Debug, Clone)]
pub struct Upserted {
    /// The customer as stored.
    pub customer: Customer,
    /// Created or resubmitted.
    pub outcome: Outcome,
    /// The event to publish.
    pub event: DomainEvent,
    /// Consents an anonymous submission asked for on a known customer, waiting for the
    /// customer's confirmation.
    pub pending: Option<PendingConsents>,
}

/// Creates or updates the customer for `lead`, writes its timeline entry in the same
/// transaction, and returns the customer with the event to publish.
pub async fn upsert(deps: &Deps, lead: &Lead) -> Result<Upserted, SaveError> {
    let now = deps.clock.now();
    let event_id = Ulid::from_datetime(now.into()).to_string();
    // Identifiers that turned out to belong to someone else: left off the merged record.
    let mut foreign_phone = false;
    let mut foreign_email = false;
    for attempt in nhip_core::retry::attempts(nhip_core::retry::CONTENDED) {
        attempt.pause().await;
        let existing = find(
            deps,
            lead.phone.as_ref().filter(|_| !foreign_phone),
            lead.email.as_ref().filter(|_| !foreign_email),
        )
        .await?;
        let result = match existing {
            None => {
                let customer = new_customer(lead, now);
                let entry = entry(lead, customer.id, now, &event_id, Outcome::Created);
                repo::create(&*deps.store, &customer, vec![entry.write(now)])
                    .await
                    .map(|()| (customer, Outcome::Created, None))
            }
            Some(id) if lead.anonymous => {
                let Some(before) = repo::get(&*deps.store, id).await? else {
                    continue;
                };
                let mut after = before.clone();
                count_submission(&mut after, now);
                let pending = pending_consents(&before, lead, &event_id);
                let mut entry = entry(lead, id, now, &event_id, Outcome::Resubmitted);
                entry.data["unverified"] = json!(true);
                entry.data["submitted"] = submitted(lead);
                // What staff name to apply it (`POST …/submissions/{submission}/apply`).
                entry.data["submission"] = json!(event_id);
                if let Some(pending) = &pending {
                    entry.data["awaiting_confirmation"] = json!(
                        pending
                            .consents
                            .iter()
                            .map(consent_pair)
                            .collect::<Vec<_>>()
                    );
                }
                let mut writes = vec![entry.write(now)];
                writes.extend(pending.iter().map(|p| p.write(now)));
                repo::save(&*deps.store, &before, &mut after, writes)
                    .await
                    .map(|()| (after, Outcome::Resubmitted, pending))
            }
            Some(id) => {
                let Some(before) = repo::get(&*deps.store, id).await? else {
                    // A guard whose customer is gone: an erase in progress. Try again.
                    continue;
                };
                let mut after = before.clone();
                merge(&mut after, lead, now, foreign_phone, foreign_email);
                let entry = entry(lead, id, now, &event_id, Outcome::Resubmitted);
                repo::save(&*deps.store, &before, &mut after, vec![entry.write(now)])
                    .await
                    .map(|()| (after, Outcome::Resubmitted, None))
            }
        };
        match result {
            Ok((customer, outcome, pending)) => {
                let mut event = event(lead, &customer, outcome, now, event_id);
                if lead.anonymous && outcome == Outcome::Resubmitted {
                    event.data["unverified"] = json!(true);
                }
                return Ok(Upserted {
                    customer,
                    outcome,
                    event,
                    pending,
                });
            }
            // Lost a race: on the next attempt the guard leads to the winner.
            Err(SaveError::Conflict) => {}
            Err(SaveError::Taken { field, .. }) => match (field, existing) {
                // Merging into an existing customer: the other identifier is someone else's.
                ("phone", Some(_)) => foreign_phone = true,
                ("email", Some(_)) => foreign_email = true,
                _ => {}
            },
            Err(other) => return Err(other),
        }
    }
    Err(SaveError::Conflict)
}

fn new_customer(lead: &Lead, now: DateTime<Utc>) -> Customer {
    let (full_name, given_name) = match &lead.name {
        Some(name) => (name.full().to_owned(), name.default_given_name().to_owned()),
        None => (UNNAMED.to_owned(), String::new()),
    };
    let mut consents = Consents::default();
    for record in &lead.consents {
        consents.record(record.clone());
    }
    Customer {
        id: CustomerId::new_at(now),
        full_name,
        given_name,
        gender: lead.gender,
        birthday: lead.birthday,
        phones: lead.phone.iter().cloned().collect(),
        emails: lead.email.iter().cloned().collect(),
        cccd: None,
        cmnd: None,
        tax_code: None,
        address: None,
        tags: Vec::new(),
        attributes: Default::default(),
        owner: None,
        team: None,
        source: lead.source,
        attribution: lead.attribution.clone(),
        lifecycle: Lifecycle::New,
        classification: None,
        consents,
        processing_restricted: false,
        marketing_objected: false,
        holdings: Vec::new(),
        submissions: 1,
        created_at: now,
        updated_at: now,
        first_interaction_at: None,
        last_activity_at: Some(now),
        erased_at: None,
        advertising_agreement: None,
        version: 1,
    }
}

/// Fills what the existing record lacks; never overwrites what staff entered.
fn merge(
    customer: &mut Customer,
    lead: &Lead,
    now: DateTime<Utc>,
    foreign_phone: bool,
    foreign_email: bool,
) {
    if let Some(name) = &lead.name
        && customer.full_name == UNNAMED
    {
        customer.full_name = name.full().to_owned();
        customer.given_name = name.default_given_name().to_owned();
    }
    customer.gender = customer.gender.or(lead.gender);
    customer.birthday = customer.birthday.or(lead.birthday);
    if let Some(phone) = &lead.phone
        && !foreign_phone
        && !customer.phones.contains(phone)
    {
        customer.phones.push(phone.clone());
    }
    if let Some(email) = &lead.email
        && !foreign_email
        && !customer.emails.contains(email)
    {
        customer.emails.push(email.clone());
    }
    if customer.attribution.is_empty() {
        customer.attribution = lead.attribution.clone();
    }
    for record in &lead.consents {
        customer.consents.record(record.clone());
    }
    customer.submissions += 1;
    customer.updated_at = now;
    customer.last_activity_at = Some(now);
}

/// A known customer's record after an anonymous submission: only the counters move.
fn count_submission(customer: &mut Customer, now: DateTime<Utc>) {
    customer.submissions += 1;
    customer.updated_at = now;
    customer.last_activity_at = Some(now);
}

/// The consents an anonymous submission may ask the customer to confirm: grants on channels
/// where the customer has decided nothing yet. A refusal stays a refusal, and nothing is
/// asked of a customer who objected to marketing or restricted processing.
fn pending_consents(customer: &Customer, lead: &Lead, id: &str) -> Option<PendingConsents> {
    if customer.marketing_objected || customer.processing_restricted {
        return None;
    }
    let consents: Vec<ConsentRecord> = lead
        .consents
        .iter()
        .filter(|c| c.granted && customer.consents.get(c.channel, c.purpose).is_none())
        .cloned()
        .collect();
    (!consents.is_empty()).then(|| PendingConsents {
        id: id.to_owned(),
        customer: customer.id,
        consents,
    })
}

/// `channel:purpose`.
pub fn consent_pair(record: &ConsentRecord) -> String {
    format!("{}:{}", record.channel, record.purpose)
}

/// What an anonymous submission said, for staff to check and apply by hand. Staff read it on
/// the customer's timeline; it never reaches the event bus.
fn submitted(lead: &Lead) -> Value {
    json!({
        "full_name": lead.name.as_ref().map(|n| n.full().to_owned()),
        "phone": lead.phone,
        "email": lead.email,
        "gender": lead.gender,
        "birthday": lead.birthday,
        "consents": lead
            .consents
            .iter()
            .map(|c| json!({"channel": c.channel, "purpose": c.purpose, "granted": c.granted}))
            .collect::<Vec<_>>(),
    })
}

fn entry(
    lead: &Lead,
    customer: CustomerId,
    now: DateTime<Utc>,
    event_id: &str,
    outcome: Outcome,
) -> timeline::Entry {
    timeline::Entry {
        customer,
        at: now,
        // The same key the events consumer derives for the published event (source `nhip`),
        // so recording the event later finds this entry and writes nothing.
        cause: format!("nhip#{event_id}"),
        event_type: event_type(outcome).to_owned(),
        source: lead.via.to_owned(),
        actor: None,
        data: event_data(lead),
    }
}

fn event_type(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Created => nhip_core::event_types::LEAD_CREATED,
        Outcome::Resubmitted => nhip_core::event_types::LEAD_RESUBMITTED,
    }
}

/// What the event and timeline carry: the channel and campaign, never the contact details
/// (consumers read the customer when they need them).
fn event_data(lead: &Lead) -> Value {
    let consents: Vec<Value> = lead
        .consents
        .iter()
        .map(|c| json!({"channel": c.channel, "purpose": c.purpose, "granted": c.granted}))
        .collect();
    let mut data = json!({
        "source": lead.source,
        "via": lead.via,
        "attribution": lead.attribution,
        "consents": consents,
    });
    if let Some(message) = &lead.message {
        data["message"] = json!(message);
    }
    if let (Value::Object(data), Value::Object(details)) = (&mut data, &lead.details) {
        for (k, v) in details {
            data.insert(k.clone(), v.clone());
        }
    }
    data
}

fn event(
    lead: &Lead,
    customer: &Customer,
    outcome: Outcome,
    now: DateTime<Utc>,
    event_id: String,
) -> DomainEvent {
    DomainEvent {
        id: event_id,
        source: nhip_core::events::NHIP_SOURCE.to_owned(),
        kind: event_type(outcome).to_owned(),
        customer_id: Some(customer.id),
        occurred_at: now,
        data: event_data(lead),
    }
}

/// The customer confirmed, through the signed link, the consents an anonymous submission
/// asked for: grants those still undecided (a refusal made since stays), drops the request and
/// records the confirmation on the timeline, in one transaction. `None` when the request is
/// unknown, used or expired, or the customer is gone.
pub async fn confirm_pending(
    deps: &Deps,
    customer: CustomerId,
    request: &str,
) -> Result<Option<Vec<String>>, SaveError> {
    let now = deps.clock.now();
    let key = keys::pending_consents(customer, request);
    for attempt in nhip_core::retry::attempts(nhip_core::retry::CONTENDED) {
        attempt.pause().await;
        let Some(item) = deps.store.get(&key).await? else {
            return Ok(None);
        };
        // DynamoDB removes expired items lazily: an expired request is as good as gone.
        if item
            .get("ttl")
            .and_then(Value::as_i64)
            .is_some_and(|ttl| ttl <= now.timestamp())
        {
            return Ok(None);
        }
        let consents: Vec<ConsentRecord> = item
            .get("consents")
            .cloned()
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default();
        let Some(before) = repo::get(&*deps.store, customer)
            .await?
            .filter(|c| c.erased_at.is_none())
        else {
            return Ok(None);
        };
        let mut after = before.clone();
        let mut granted = Vec::new();
        for record in consents {
            let refused = after
                .consents
                .get(record.channel, record.purpose)
                .is_some_and(|c| !c.granted);
            let objected = record.purpose == nhip_domain::customer::Purpose::Marketing
                && (after.marketing_objected || after.processing_restricted);
            if refused || objected {
                continue;
            }
            granted.push(consent_pair(&record));
            after.consents.record(ConsentRecord {
                source: "double_opt_in".to_owned(),
                at: now,
                evidence: json!({"request": request, "form": record.evidence}).to_string(),
                ..record
            });
        }
        after.updated_at = now;
        let entry = timeline::Entry {
            customer,
            at: now,
            cause: format!("optin#{request}"),
            event_type: nhip_core::event_types::CONSENT_CONFIRMED.to_owned(),
            source: "consent_link".to_owned(),
            actor: None,
            data: json!({"request": request, "granted": granted}),
        };
        let delete = WriteOp::Delete {
            key: key.clone(),
            condition: Condition::Exists,
        };
        match repo::save(
            &*deps.store,
            &before,
            &mut after,
            vec![entry.write(now), delete],
        )
        .await
        {
            Ok(()) => return Ok(Some(granted)),
            Err(SaveError::Conflict) => {}
            Err(other) => return Err(other),
        }
    }
    Err(SaveError::Conflict)
}
