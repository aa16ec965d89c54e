//! The key scheme: the only place where key strings are built. docs/data-model.md holds the
//! access-pattern table these functions implement; keep the two in step.
//!
//! Prefixes are typed (`CUS#`, `PHONE#`, `EMAIL#`, `DUE#`, …); ids are ULIDs so sort-key order
//! is time order; instants in keys are RFC 3339 UTC with milliseconds (`2026-11-23T08:00:00.000Z`),
//! which also sort as time.

use chrono::{DateTime, SecondsFormat, Utc};
use nhip_domain::ids::{CustomerId, DueWorkId};

use nhip_ports::store::Key;

/// An id derived from `seed`: 128 bits of its SHA-256, in ULID form (Crockford base32). The
/// same seed gives the same id, so a redelivered request lands on the record it made before
/// (messages from their idempotency key, tickets from their cause).
pub fn derived_ulid(seed: &str) -> String {
    use sha2::{Digest as _, Sha256};
    let digest = Sha256::digest(seed.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    ulid::Ulid::from_bytes(bytes).to_string()
}

/// Shards per minute of due work. One partition takes about 1,000 writes a second, so a
/// minute bucket is spread over this many partitions (`DUE#<minute>#<shard>`): a million due
/// items in one minute drain in parallel rather than through one hot partition.
pub const DUE_SHARDS: u16 = 16;

/// Sort key of a customer's profile item.
pub const PROFILE: &str = "PROFILE";
/// Sort key of a uniqueness guard item.
pub const GUARD: &str = "GUARD";
/// Sort-key prefix of timeline entries.
pub const TIMELINE_PREFIX: &str = "TL#";

/// An instant as it appears inside keys.
pub fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A customer's profile: `CUS#<id>` / `PROFILE`.
pub fn customer(id: CustomerId) -> Key {
    Key::new(customer_pk(id), PROFILE)
}

/// The partition holding everything about one customer.
pub fn customer_pk(id: CustomerId) -> String {
    format!("CUS#{id}")
}

/// Uniqueness guard for a normalised phone number (`+84…`): `PHONE#<phone>` / `GUARD`,
/// written in the same transaction as the customer so two leads cannot share a number.
pub fn phone_guard(normalised_phone: &str) -> Key {
    Key::new(format!("PHONE#{normalised_phone}"), GUARD)
}

/// Uniqueness guard for a normalised (lower-cased) e-mail address: `EMAIL#<email>` / `GUARD`.
pub fn email_guard(normalised_email: &str) -> Key {
    Key::new(format!("EMAIL#{normalised_email}"), GUARD)
}

/// One timeline entry: `CUS#<id>` / `TL#<instant>#<entry>`. The entry part is deterministic
/// for the cause (e.g. `<source>#<event id>`), so writing the same entry twice is a no-op
/// under a create-only condition.
pub fn timeline_entry(customer: CustomerId, at: DateTime<Utc>, entry: &str) -> Key {
    Key::new(
        customer_pk(customer),
        format!("{TIMELINE_PREFIX}{}#{entry}", instant(at)),
    )
}

/// The marker that an outside event `(source, id)` is on the customer's timeline:
/// `CUS#<id>` / `EVID#<source>#<event id>`. It makes the event's identity, not its
/// timestamp, decide what is a repeat: a source posting the same event twice without
/// `occurred_at` gets two different instants but one marker.
pub fn event_identity(customer: CustomerId, source: &str, event_id: &str) -> Key {
    Key::new(customer_pk(customer), format!("EVID#{source}#{event_id}"))
}

/// Uniqueness guard for a CCCD number: `CCCD#<number>` / `GUARD`.
pub fn cccd_guard(cccd: &str) -> Key {
    Key::new(format!("CCCD#{cccd}"), GUARD)
}

/// The partition listing the customers with a tax code (MST): `MST#<code>`. Not unique: a
/// company's several contacts may share its code.
pub fn tax_code_partition(code: &str) -> String {
    format!("MST#{code}")
}

/// One customer under a tax code: `MST#<code>` / `CUS#<id>`.
pub fn tax_code_entry(code: &str, customer: CustomerId) -> Key {
    Key::new(tax_code_partition(code), customer_pk(customer))
}

/// gsi1 partition of the organisation's customers in one lifecycle: `CUSLC#<lifecycle>`.
/// Sorted by `<created>#<id>`.
pub fn customers_by_lifecycle(lifecycle: &str) -> String {
    format!("CUSLC#{lifecycle}")
}

/// gsi2 partition of one owner's customers: `CUSOWN#<user>`. Sorted by
/// `<lifecycle>#<created>#<id>`; customers without an owner are not in it.
pub fn customers_by_owner(owner: &str) -> String {
    format!("CUSOWN#{owner}")
}

/// gsi3 partition of one team's customers: `CUSTEAM#<team>`, sorted as the owner partition.
pub fn customers_by_team(team: &str) -> String {
    format!("CUSTEAM#{team}")
}

/// Sort key of a customer in the lifecycle partition: `<created>#<id>`.
pub fn customer_created_sort(created: DateTime<Utc>, id: CustomerId) -> String {
    format!("{}#{id}", instant(created))
}

/// Sort key of a customer in the owner and team partitions: `<lifecycle>#<created>#<id>`, so a
/// `begins_with(<lifecycle>#)` reads one lifecycle newest first.
pub fn customer_scoped_sort(lifecycle: &str, created: DateTime<Utc>, id: CustomerId) -> String {
    format!("{lifecycle}#{}#{id}", instant(created))
}

/// Sort-key prefix of a customer's audit entries.
pub const AUDIT_PREFIX: &str = "AUDIT#";

/// One audit entry on a customer: `CUS#<id>` / `AUDIT#<instant>#<entry>`.
pub fn audit_entry(customer: CustomerId, at: DateTime<Utc>, entry: &str) -> Key {
    Key::new(
        customer_pk(customer),
        format!("{AUDIT_PREFIX}{}#{entry}", instant(at)),
    )
}

/// Sort-key prefix of a customer's next actions.
pub const NEXT_ACTION_PREFIX: &str = "NEXT#";

/// A scheduled next action: `CUS#<id>` / `NEXT#<action id>`.
pub fn next_action(customer: CustomerId, action: &str) -> Key {
    Key::new(
        customer_pk(customer),
        format!("{NEXT_ACTION_PREFIX}{action}"),
    )
}

/// The partition of one staff member's own items: `USER#<user>`.
pub fn user_pk(user: &str) -> String {
    format!("USER#{user}")
}

/// Sort-key prefix of notifications; ids are ULIDs, so the prefix reads in time order.
pub const NOTIFICATION_PREFIX: &str = "NTF#";

/// One notification: `USER#<user>` / `NTF#<id>`.
pub fn notification(user: &str, id: &str) -> Key {
    Key::new(user_pk(user), format!("{NOTIFICATION_PREFIX}{id}"))
}

/// The marker that makes notifying once per cause idempotent: `USER#<user>` / `NTFKEY#<cause>`.
pub fn notification_marker(user: &str, cause: &str) -> Key {
    Key::new(user_pk(user), format!("NTFKEY#{cause}"))
}

/// The unread counter of one staff member: `USER#<user>` / `NTFCOUNT`.
pub fn notification_counter(user: &str) -> Key {
    Key::new(user_pk(user), "NTFCOUNT")
}

/// The due-work item itself: `DUE#<id>` / `DUE`. Its index keys (below) place it in the
/// bucket of the hour it is due.
pub fn due_work(id: DueWorkId) -> Key {
    Key::new(format!("DUE#{id}"), "DUE")
}

/// gsi1 partition of an hour's due work on one shard: `DUE#<YYYYMMDDHH>#<shard>`.
pub fn due_bucket(at: DateTime<Utc>, shard: u16) -> String {
    format!("DUE#{}#{:02}", at.format("%Y%m%d%H"), shard % DUE_SHARDS)
}

/// The start of the hour of `at`.
pub fn hour_floor(at: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::{DurationRound, TimeDelta};
    at.duration_trunc(TimeDelta::hours(1)).unwrap_or(at)
}

/// gsi1 sort key of due work: `<instant>#<id>`, so a bucket reads in due order.
pub fn due_sort(at: DateTime<Utc>, id: DueWorkId) -> String {
    format!("{}#{id}", instant(at))
}

/// The shard of a due item, spread by its id's random bits.
pub fn due_shard(id: DueWorkId) -> u16 {
    let text = id.to_string();
    let hash = text
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    (hash % u32::from(DUE_SHARDS)) as u16
}

/// The scheduler's progress marker: `SYS#scheduler` / `CURSOR`.
pub fn scheduler_cursor() -> Key {
    Key::new("SYS#scheduler", "CURSOR")
}

/// The local runner's simulated time, saved so a restart resumes where the clock was:
/// `SYS#local-clock` / `CLOCK`.
pub fn local_clock() -> Key {
    Key::new("SYS#local-clock", "CLOCK")
}

/// The item the health check reads: `SYS#health` / `HEALTH` ([`Key::health`], which the
/// adapters use).
pub fn health() -> Key {
    Key::health()
}

/// The partition holding one CSV import: its record and its rows' outcomes. The id is derived
/// from the file's SHA-256 and the importing user, so uploading the same bytes again finds it.
pub fn import_pk(import_id: &str) -> String {
    format!("IMPORT#{import_id}")
}

/// A CSV import's record (who, when, status, counts, the first errors): `IMPORT#<id>` /
/// `IMPORT`.
pub fn import(import_id: &str) -> Key {
    Key::new(import_pk(import_id), "IMPORT")
}

/// Sort-key prefix of an import's row outcomes, for reading them all in row order.
pub fn import_rows_prefix() -> &'static str {
    "ROW#"
}

/// One row's outcome in an import (created or updated customer, or the errors and the
/// original cells of a failed row): `IMPORT#<id>` / `ROW#<row, 5 digits>`. The row number is
/// the spreadsheet's (the header is row 1), zero-padded so the rows sort in file order. Written
/// create-only in the same transaction as the customer, so a row is applied at most once.
pub fn import_row(import_id: &str, row: u32) -> Key {
    Key::new(
        import_pk(import_id),
        format!("{}{row:05}", import_rows_prefix()),
    )
}

/// Sort-key prefix of a customer's holdings.
pub const HOLDING_PREFIX: &str = "HOLD#";

/// One product a customer holds: `CUS#<id>` / `HOLD#<holding ulid>`, in the customer's own
/// partition so their holdings are one Query (`begins_with(sk, "HOLD#")`) in creation order.
pub fn holding(customer: CustomerId, holding: &str) -> Key {
    Key::new(customer_pk(customer), format!("{HOLDING_PREFIX}{holding}"))
}

/// The partition of the product catalogue: every product under one key, listed by one Query.
pub const CATALOG_PRODUCTS: &str = "CATALOG#PRODUCT";

/// One catalogue product: `CATALOG#PRODUCT` / `<code>`.
pub fn catalogue_product(code: &str) -> Key {
    Key::new(CATALOG_PRODUCTS, code)
}

/// The partition of the usage reasons ("Lý do chưa/ngưng sử dụng"), listed by one Query.
pub const CATALOG_REASONS: &str = "CATALOG#REASON";

/// One usage reason: `CATALOG#REASON` / `<code>`.
pub fn usage_reason(code: &str) -> Key {
    Key::new(CATALOG_REASONS, code)
}

/// Sort-key prefix of the incoming-call markers in a customer's partition.
pub const INCOMING_CALL_PREFIX: &str = "CALL#";

/// The marker of one incoming call recorded on a customer: `CUS#<id>` / `CALL#<call id>`,
/// written create-only with the call's timeline entry, so a retried webhook for the same
/// call adds nothing.
pub fn incoming_call(customer: CustomerId, call_id: &str) -> Key {
    Key::new(
        customer_pk(customer),
        format!("{INCOMING_CALL_PREFIX}{call_id}"),
    )
}

/// A message template's partition: `TPL#<code>`, holding `META` and its versions.
pub fn template_pk(code: &str) -> String {
    format!("TPL#{code}")
}

/// A template's header item (name, channel, published version).
pub fn template(code: &str) -> Key {
    Key::new(template_pk(code), "META")
}

/// One version of a template: `TPL#<code>` / `V#<version, 6 digits>`, so versions sort.
pub fn template_version(code: &str, version: u32) -> Key {
    Key::new(template_pk(code), format!("V#{version:06}"))
}

/// The gsi2 partition listing every template.
pub const TEMPLATES: &str = "TEMPLATES";

/// A message: `MSG#<id>` / `MSG`. Its id derives from the send's idempotency key, so this
/// item is also the idempotency record: a redelivered send finds it and sends nothing.
pub fn message(id: &str) -> Key {
    Key::new(message_pk(id), "MSG")
}

/// A message's partition, holding the message and its history.
pub fn message_pk(id: &str) -> String {
    format!("MSG#{id}")
}

/// One signal in a message's history, keyed by its cause so a redelivered signal is kept once.
pub fn message_signal(id: &str, at: DateTime<Utc>, cause: &str) -> Key {
    Key::new(message_pk(id), format!("EV#{}#{cause}", instant(at)))
}

/// The gsi1 partition finding a message by its provider's id (SES, SNS, Zalo).
pub fn message_by_provider_id(provider_id: &str) -> String {
    format!("PMSG#{provider_id}")
}

/// The gsi2 partition of a customer's messages, newest last by `created#id`.
pub fn messages_of_customer(customer: &str) -> String {
    format!("CUSMSG#{customer}")
}

/// The gsi3 partition of a campaign's messages.
pub fn messages_of_campaign(campaign: &str) -> String {
    format!("CMPMSG#{campaign}")
}

/// A bulk send (campaign): `CMP#<id>` / `CMP`.
pub fn campaign(id: &str) -> Key {
    Key::new(format!("CMP#{id}"), "CMP")
}

/// The gsi2 partition listing campaigns.
pub const CAMPAIGNS: &str = "CAMPAIGNS";

/// Message counters of a template (`TPL`) or campaign (`CMP`): `STAT#<scope>#<id>` / `ALL`.
pub fn message_stats(scope: &str, id: &str) -> Key {
    Key::new(format!("STAT#{scope}#{id}"), "ALL")
}

/// A suppressed address (hard bounce, complaint, unsubscribe): `SUP#<channel>#<address>`.
pub fn suppression(channel: &str, address: &str) -> Key {
    Key::new(format!("SUP#{channel}#{address}"), "SUP")
}

/// A number on the do-not-advertise list: `DNC#<E.164 number>`.
pub fn do_not_advertise(phone: &str) -> Key {
    Key::new(format!("DNC#{phone}"), "DNC")
}

/// The gsi2 partition listing the do-not-advertise numbers.
pub const DO_NOT_ADVERTISE: &str = "DNC";

/// Advertising sends to one address in the last 24 hours: `ADCAP#<channel>#<address>`.
pub fn advertising_cap(channel: &str, address: &str) -> Key {
    Key::new(format!("ADCAP#{channel}#{address}"), "CAP")
}

/// The one consent-request message an address may ever get: `CONSENTREQ#<channel>#<address>`.
pub fn consent_request(channel: &str, address: &str) -> Key {
    Key::new(format!("CONSENTREQ#{channel}#{address}"), "SENT")
}

/// The advertising rules in force (the Decree 91 preset, or the admin's edit of it).
pub fn advertising_rules() -> Key {
    Key::new("CFG#advertising", "RULES")
}

/// A channel's send budget for one minute: `RATE#send#<kind>` / `<minute>`.
pub fn send_rate(kind: &str, minute: &str) -> Key {
    Key::new(format!("RATE#send#{kind}"), minute.to_owned())
}

/// An anonymous form's submissions from one source address in one minute:
/// `RATE#intake#ip#<address>` / `<minute>`.
pub fn intake_rate_by_address(address: &str, minute: &str) -> Key {
    Key::new(format!("RATE#intake#ip#{address}"), minute.to_owned())
}

/// An anonymous form's submissions naming one phone or e-mail in one hour:
/// `RATE#intake#contact#<hash of the contact>` / `<hour>` (the hash keeps the number out of
/// the key).
pub fn intake_rate_by_contact(contact_hash: &str, hour: &str) -> Key {
    Key::new(
        format!("RATE#intake#contact#{contact_hash}"),
        hour.to_owned(),
    )
}

/// Consents asked for on an anonymous form for a known customer, waiting for the customer to
/// confirm them through the signed link sent to their stored address:
/// `CUS#<id>` / `OPTIN#<request id>` (`ttl` 7 days).
pub fn pending_consents(customer: CustomerId, request: &str) -> Key {
    Key::new(customer_pk(customer), format!("OPTIN#{request}"))
}

/// A tracked link's click record, once per message and link.
pub fn link_click(message_id: &str, link: usize) -> Key {
    Key::new(message_pk(message_id), format!("CLICK#{link:03}"))
}

/// A journey's partition: `JRN#<key>`, holding `META` and its versions.
pub fn journey_pk(key: &str) -> String {
    format!("JRN#{key}")
}

/// A journey's header item.
pub fn journey(key: &str) -> Key {
    Key::new(journey_pk(key), "META")
}

/// One version of a journey: `JRN#<key>` / `V#<000001>`.
pub fn journey_version(key: &str, version: u32) -> Key {
    Key::new(journey_pk(key), format!("V#{version:06}"))
}

/// The gsi2 partition listing every journey.
pub const JOURNEYS: &str = "JOURNEYS";

/// A published journey started by an event type: `JTRIG#<event type>` / `<journey key>`.
pub fn journey_trigger(event_type: &str, journey: &str) -> Key {
    Key::new(format!("JTRIG#{event_type}"), journey.to_owned())
}

/// Prefix of a customer's enrollments: `CUS#<id>` / `ENR#<journey>#<enrollment>`.
pub const ENROLLMENT_PREFIX: &str = "ENR#";

/// One enrollment of a customer in a journey.
pub fn enrollment(customer: CustomerId, journey: &str, id: &str) -> Key {
    Key::new(
        customer_pk(customer),
        format!("{ENROLLMENT_PREFIX}{journey}#{id}"),
    )
}

/// The marker of the customer's one active enrollment in a journey: `CUS#<id>` /
/// `ENRON#<journey>`, written create-only with the enrollment, deleted when it ends. A journey
/// that runs once per subject (an instalment plan, a contract: `trigger.per`) marks each
/// subject's: `ENRON#<journey>#<subject>` (subjects hold no `#`; journey keys are slugs).
pub fn enrollment_guard(customer: CustomerId, journey: &str, subject: Option<&str>) -> Key {
    let sk = match subject {
        Some(subject) => format!("ENRON#{journey}#{subject}"),
        None => format!("ENRON#{journey}"),
    };
    Key::new(customer_pk(customer), sk)
}

/// An entry waiting for the customer's active enrollment in a journey to end (a journey runs
/// once per customer at a time): `CUS#<id>` / `ENRQ#<journey>#<instant>#<enrollment>`, oldest
/// first, written create-only, deleted when the entry starts (or is refused by the journey's
/// re-entry rule then). An entry about a subject waits for that subject's enrollment alone:
/// `ENRQS#<journey>#<subject>#<instant>#<enrollment>`.
pub fn queued_entry(
    customer: CustomerId,
    journey: &str,
    subject: Option<&str>,
    at: DateTime<Utc>,
    id: &str,
) -> Key {
    Key::new(
        customer_pk(customer),
        format!(
            "{}{}#{id}",
            queued_entries_prefix(journey, subject),
            instant(at)
        ),
    )
}

/// The sort-key prefix of the entries waiting in `journey` ([`queued_entry`]), about
/// `subject` when given. The two forms never share a prefix (`ENRQ#` and `ENRQS#`), and one
/// subject's is not the prefix of another's (subjects hold no `#`).
pub fn queued_entries_prefix(journey: &str, subject: Option<&str>) -> String {
    match subject {
        Some(subject) => format!("ENRQS#{journey}#{subject}#"),
        None => format!("ENRQ#{journey}#"),
    }
}

/// The record of one step of an enrollment: `CUS#<id>` / `JSTEP#<enrollment>#<seq>`.
pub fn journey_step(customer: CustomerId, enrollment: &str, seq: u64) -> Key {
    Key::new(
        customer_pk(customer),
        format!("JSTEP#{enrollment}#{seq:08}"),
    )
}

/// Shards of a journey's active-enrollment list: every step rewrites its enrollment, so one
/// index partition per journey would take every step's write at campaign scale.
pub const JOURNEY_ACTIVE_SHARDS: u16 = 16;

/// The gsi3 partition of a journey's active enrollments on one shard: `JACT#<journey>#<nn>`.
pub fn journey_active(journey: &str, shard: u16) -> String {
    format!("JACT#{journey}#{:02}", shard % JOURNEY_ACTIVE_SHARDS)
}

/// The shard of an id (FNV-1a of its text).
pub fn shard_of(id: &str) -> u16 {
    let hash = id.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    (hash % u32::from(JOURNEY_ACTIVE_SHARDS)) as u16
}

/// A journey version's counters: `STAT#JRN#<journey>:<version>` with sort key `ALL` (the
/// version) or `STEP#<step>` (one step).
pub fn journey_stats(journey: &str, version: u32, step: Option<&str>) -> Key {
    Key::new(
        journey_stats_pk(journey, version),
        step.map_or_else(|| "ALL".to_owned(), |s| format!("STEP#{s}")),
    )
}

/// The partition of a journey version's counters.
pub fn journey_stats_pk(journey: &str, version: u32) -> String {
    format!("STAT#JRN#{journey}:{version}")
}

/// A ticket: `TCK#<id>` / `TCK`.
pub fn ticket(id: &str) -> Key {
    Key::new(format!("TCK#{id}"), "TCK")
}

/// The gsi1 partition of a ticket queue's tickets: `TCKQ#<queue>`.
pub fn ticket_queue(queue: &str) -> String {
    format!("TCKQ#{queue}")
}

/// The gsi2 partition of the tickets assigned to a staff member: `TCKU#<user>`.
pub fn tickets_of_assignee(user: &str) -> String {
    format!("TCKU#{user}")
}

/// The gsi3 partition of a journey's or campaign's tickets: `TCKG#<group>`.
pub fn tickets_of_group(group: &str) -> String {
    format!("TCKG#{group}")
}

/// The partition of a queue's overdue open tickets: `TCKLATE#<queue>`, a pointer per ticket
/// sorted by due time, written when the ticket escalates and deleted when it closes.
pub fn overdue_tickets(queue: &str) -> String {
    format!("TCKLATE#{queue}")
}

/// An overdue ticket's pointer: `TCKLATE#<queue>` / `<due>#<id>`.
pub fn overdue_ticket(queue: &str, due: DateTime<Utc>, ticket: &str) -> Key {
    Key::new(overdue_tickets(queue), format!("{}#{ticket}", instant(due)))
}

/// A queue's ticket counters (per status, closed on time and late, escalated):
/// `STAT#TCK#<queue>` / `COUNTS`.
pub fn ticket_stats(queue: &str) -> Key {
    Key::new(format!("STAT#TCK#{queue}"), "COUNTS")
}

/// A queue's assignment rule: `CFG#tickets` / `QUEUE#<queue>`.
pub fn ticket_queue_rule(queue: &str) -> Key {
    Key::new("CFG#tickets", format!("QUEUE#{queue}"))
}

/// A queue's round-robin turn counter: `CFG#tickets` / `TURN#<queue>`.
pub fn ticket_queue_turn(queue: &str) -> Key {
    Key::new("CFG#tickets", format!("TURN#{queue}"))
}

/// A staff member's open-ticket count, for least-loaded assignment: `USER#<user>` /
/// `TCKLOAD`.
pub fn ticket_load(user: &str) -> Key {
    Key::new(user_pk(user), "TCKLOAD")
}

/// A task: `TASK#<id>` / `TASK`.
pub fn task(id: &str) -> Key {
    Key::new(format!("TASK#{id}"), "TASK")
}

/// The gsi1 partition of the tasks a staff member is to do: `TASKA#<user>`, sorted by
/// deadline.
pub fn tasks_of_assignee(user: &str) -> String {
    format!("TASKA#{user}")
}

/// The gsi2 partition of the tasks a staff member gave: `TASKB#<user>`, sorted by deadline.
pub fn tasks_by_assigner(user: &str) -> String {
    format!("TASKB#{user}")
}

/// The gsi3 partition of every task of the company, sorted by deadline (admins' view).
pub const ALL_TASKS: &str = "TASKS";

/// The gsi2 partition of a staff member's next actions across customers (the agenda):
/// `AGENDA#<user>`, sorted by when they are due.
pub fn agenda(user: &str) -> String {
    format!("AGENDA#{user}")
}

/// Prefix of a staff member's pending incoming-call pop-ups: `USER#<user>` / `CALLPOP#<call>`.
pub const CALL_POP_PREFIX: &str = "CALLPOP#";

/// An incoming call waiting on the screen of the staff member whose extension rang.
pub fn call_pop(user: &str, call_id: &str) -> Key {
    Key::new(user_pk(user), format!("{CALL_POP_PREFIX}{call_id}"))
}

/// The working calendar in force (hours, days off, make-up working days): `CFG#calendar` /
/// `CALENDAR`.
pub fn work_calendar() -> Key {
    Key::new("CFG#calendar", "CALENDAR")
}

/// Prefix of a customer's ticket references: `CUS#<id>` / `TCK#<ticket>`.
pub fn customer_ticket(customer: CustomerId, ticket: &str) -> Key {
    Key::new(customer_pk(customer), format!("TCK#{ticket}"))
}

/// The customer's one open ticket of a journey or campaign (`group`, e.g. `journey:<key>`):
/// `CUS#<id>` / `TCKOPEN#<group>`, holding the ticket's id; created with the ticket, deleted
/// when it closes.
pub fn open_ticket(customer: CustomerId, group: &str) -> Key {
    Key::new(customer_pk(customer), format!("TCKOPEN#{group}"))
}

/// The staff directory's partition: users and teams, small enough to read whole.
pub const STAFF_PK: &str = "STAFF";
/// Sort-key prefix of the directory's users.
pub const STAFF_USER_PREFIX: &str = "USER#";
/// Sort-key prefix of the directory's teams.
pub const STAFF_TEAM_PREFIX: &str = "TEAM#";

/// A member of staff: `STAFF` / `USER#<username>`.
pub fn staff_user(username: &str) -> Key {
    Key::new(STAFF_PK, format!("{STAFF_USER_PREFIX}{username}"))
}

/// A team: `STAFF` / `TEAM#<key>`.
pub fn staff_team(key: &str) -> Key {
    Key::new(STAFF_PK, format!("{STAFF_TEAM_PREFIX}{key}"))
}

/// A staff member's password hash, apart from their directory record: `USER#<username>` /
/// `PASSWORD`.
pub fn staff_password(username: &str) -> Key {
    Key::new(user_pk(username), "PASSWORD")
}

/// Failed sign-ins of one user name in one window: `USER#<username>` / `SIGNIN#<window>`
/// (`ttl` a day after the window).
pub fn sign_in_attempts(username: &str, window: i64) -> Key {
    Key::new(user_pk(username), format!("SIGNIN#{window}"))
}

/// Sign-in attempts from one source address in one window: `SIGNINIP#<address>` /
/// `W#<window>` (`ttl` a day after the window).
pub fn sign_in_source(address: &str, window: i64) -> Key {
    Key::new(format!("SIGNINIP#{address}"), format!("W#{window}"))
}

/// A console session, by the SHA-256 of its cookie (the cookie itself is never stored):
/// `SESSION#<hex>` / `SESSION` (`ttl` at its expiry).
pub fn console_session(token_hash: &str) -> Key {
    Key::new(format!("SESSION#{token_hash}"), "SESSION")
}

/// A reminder pointer: `REMIND#<YYYY-MM-DD>` / `<what>`, where `<what>` is
/// `HOLD#<customer>#<holding>` (an expiry alert) or `PLAN#<customer>#<plan>` (an instalment
/// reminder). Each contract, subscription and plan has at most one, on the date of its next
/// reminder; the daily reminders run reads only today's partition.
pub fn reminder(date: chrono::NaiveDate, what: &str) -> Key {
    Key::new(reminder_pk(date), what)
}

/// The partition of one day's reminder pointers.
pub fn reminder_pk(date: chrono::NaiveDate) -> String {
    format!("REMIND#{}", date.format("%Y-%m-%d"))
}

/// A birthday pointer: `BDAY#<MM-DD>` / `<customer>`, kept by every profile write.
pub fn birthday(month_day: &str, customer: CustomerId) -> Key {
    Key::new(birthday_pk(month_day), customer.to_string())
}

/// The partition of the customers born on one day of the year (`MM-DD`).
pub fn birthday_pk(month_day: &str) -> String {
    format!("BDAY#{month_day}")
}

/// A product's rates in force (base rate, fee tiers): `RATES#<code>` / `CURRENT`.
pub fn product_rates(code: &str) -> Key {
    Key::new(format!("RATES#{code}"), "CURRENT")
}

/// One change of a product's rates: `RATES#<code>` / `HIST#<instant>#<version>`.
pub fn product_rates_change(code: &str, at: DateTime<Utc>, version: u64) -> Key {
    Key::new(
        format!("RATES#{code}"),
        format!("HIST#{}#{version:08}", instant(at)),
    )
}

/// Sort-key prefix of a customer's instalment plans.
pub const PLAN_PREFIX: &str = "PLAN#";

/// An instalment plan: `CUS#<id>` / `PLAN#<plan ulid>`.
pub fn instalment_plan(customer: CustomerId, plan: &str) -> Key {
    Key::new(customer_pk(customer), format!("{PLAN_PREFIX}{plan}"))
}

/// A payment recorded against a plan, by its source's id (a payment delivered twice is
/// recorded once): `CUS#<id>` / `PAY#<plan>#<payment>`.
pub fn plan_payment(customer: CustomerId, plan: &str, payment: &str) -> Key {
    Key::new(customer_pk(customer), format!("PAY#{plan}#{payment}"))
}

/// A contract counted toward a consultant's bonus in a month: `BONUS#<user>#<YYYY-MM>` /
/// `<holding>`.
pub fn bonus_entry(user: &str, month: &str, holding: &str) -> Key {
    Key::new(bonus_pk(user, month), holding)
}

/// The partition of a consultant's bonus entries for a month.
pub fn bonus_pk(user: &str, month: &str) -> String {
    format!("BONUS#{user}#{month}")
}

/// The reminders settings (instalment ladder, templates): `SETTING#REMINDERS` / `SETTING`.
pub fn reminder_settings() -> Key {
    Key::new("SETTING#REMINDERS", "SETTING")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn timeline_keys_sort_by_time() {
        let c = CustomerId::new_at(Utc::now());
        let early = timeline_entry(c, Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(), "a");
        let late = timeline_entry(c, Utc.with_ymd_and_hms(2026, 11, 2, 3, 4, 5).unwrap(), "a");
        assert_eq!(early.pk, late.pk);
        assert!(early.sk < late.sk);
        assert_eq!(early.sk, "TL#2026-01-02T03:04:05.000Z#a");
    }

    #[test]
    fn due_buckets_are_sharded_hours() {
        let at = Utc.with_ymd_and_hms(2026, 11, 23, 8, 5, 30).unwrap();
        assert_eq!(due_bucket(at, 3), "DUE#2026112308#03");
        assert_eq!(due_bucket(at, DUE_SHARDS + 3), "DUE#2026112308#03");
        assert_eq!(instant(hour_floor(at)), "2026-11-23T08:00:00.000Z");
        let shards: std::collections::HashSet<_> = (0..2000)
            .map(|i| due_shard(DueWorkId::new_at(at + chrono::Duration::milliseconds(i))))
            .collect();
        assert_eq!(
            shards.len(),
            usize::from(DUE_SHARDS),
            "ids spread over every shard"
        );
    }

    #[test]
    fn guards_are_per_value() {
        assert_eq!(phone_guard("+84912345678").pk, "PHONE#+84912345678");
        assert_eq!(email_guard("lan@example.vn").sk, GUARD);
    }

    #[test]
    fn a_journey_run_per_subject_marks_and_queues_each_subject_apart() {
        let c = CustomerId::new_at(Utc::now());
        assert_eq!(enrollment_guard(c, "nhac-ky", None).sk, "ENRON#nhac-ky");
        assert_eq!(
            enrollment_guard(c, "nhac-ky", Some("PLAN1")).sk,
            "ENRON#nhac-ky#PLAN1"
        );
        let at = Utc.with_ymd_and_hms(2026, 11, 23, 8, 0, 0).unwrap();
        let whole = queued_entries_prefix("nhac-ky", None);
        let one = queued_entries_prefix("nhac-ky", Some("PLAN1"));
        let other = queued_entries_prefix("nhac-ky", Some("PLAN12"));
        let entry = queued_entry(c, "nhac-ky", Some("PLAN1"), at, "E").sk;
        assert_eq!(entry, "ENRQS#nhac-ky#PLAN1#2026-11-23T08:00:00.000Z#E");
        assert!(entry.starts_with(&one));
        assert!(!entry.starts_with(&whole) && !entry.starts_with(&other));
        assert!(
            queued_entry(c, "nhac-ky", None, at, "E")
                .sk
                .starts_with(&whole)
        );
        assert!(!whole.starts_with(ENROLLMENT_PREFIX) && !one.starts_with(ENROLLMENT_PREFIX));
    }
}
