//! The import use case: each row of a parsed file created as a customer or merged into the one
//! its phone, e-mail or CCCD leads to, retrying lost races, with its outcome stored in the same
//! transaction; a cut-short run of the same file resumes where it stopped.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use nhip_domain::ids::CustomerId;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::super::leads::UNNAMED;
use super::super::list;
use super::super::model::{Customer, normalise_tags};
use super::super::repo::{self, SaveError};
use super::ImportError;
use super::columns::{Field, Layout};
use super::parse::{self, MAX_CELL_CHARS, Row, RowProblem};
use super::records::{
    DONE, ImportRecord, ImportSummary, Outcome, Problem, RUNNING, RowRecord, from_item, import_id,
    load_record, stored_rows,
};
use nhip_core::auth::Principal;
use nhip_core::deps::Deps;
use nhip_core::keys;
use nhip_core::timeline;
use nhip_ports::store::{Condition, StoreError, Update, WriteOp};

/// What an upload did.
#[derive(Debug, Clone, PartialEq)]
pub enum Imported {
    /// The file was imported (or a cut-short run of it finished): its summary.
    Ran(ImportSummary),
    /// The same user already imported the same bytes: the stored summary; nothing was re-run.
    AlreadyDone(ImportSummary),
}

/// Imports a CSV file's bytes for `principal`. Problems of single rows are in the summary;
/// an error refuses the whole file (or the store failed part-way: uploading the same bytes
/// again finishes the run).
pub async fn run(
    deps: &Deps,
    principal: &Principal,
    bytes: &[u8],
) -> Result<Imported, ImportError> {
    if bytes.is_empty() {
        return Err(ImportError::EmptyFile);
    }
    let file_sha256 = hex::encode(Sha256::digest(bytes));
    let import_id = import_id(&principal.user, &file_sha256);
    if let Some(record) = load_record(deps, &import_id).await?
        && record.status == DONE
    {
        return Ok(Imported::AlreadyDone(record.summary()));
    }
    let text = parse::decode(bytes)?;
    let (layout, rows) = parse::parse(text)?;

    let now = deps.clock.now();
    let mut record = ImportRecord::new(
        &import_id,
        &principal.user,
        file_sha256,
        bytes.len(),
        &layout,
        rows.len(),
        now,
    );
    match deps
        .store
        .put(record.to_item()?, Condition::NotExists)
        .await
    {
        Ok(()) => {}
        // An earlier run of this file stopped part-way (or runs now), or it was queued:
        // continue it, with its start instant so the rows' timeline keys are the same.
        Err(StoreError::ConditionFailed { .. }) => {
            if let Some(existing) = load_record(deps, &import_id).await? {
                record.started_at = existing.started_at;
                if existing.status != RUNNING {
                    deps.store
                        .update(
                            &keys::import(&import_id),
                            Update::new().set("status", RUNNING),
                            Condition::Exists,
                        )
                        .await?;
                }
            }
        }
        Err(error) => return Err(error.into()),
    }

    let mut done: BTreeMap<u32, RowRecord> = stored_rows(deps, &import_id)
        .await?
        .into_iter()
        .map(|r| (r.row, r))
        .collect();
    let run = Run {
        deps,
        principal,
        import_id: &import_id,
        started_at: record.started_at,
        ttl: record.ttl(),
        layout: &layout,
    };
    let mut outcomes = Vec::with_capacity(rows.len());
    for row in &rows {
        let outcome = match done.remove(&row.number) {
            Some(outcome) => outcome,
            None => run.row(row).await?,
        };
        outcomes.push(outcome);
        // The progress a page polls: one small write every PROGRESS_EVERY rows.
        if outcomes.len() % PROGRESS_EVERY == 0 {
            deps.store
                .update(
                    &keys::import(&import_id),
                    Update::new().set("processed", outcomes.len() as u64),
                    Condition::Exists,
                )
                .await?;
        }
    }
    record.summarise(&outcomes);
    record.processed = record.rows;
    record.status = DONE.to_owned();
    record.finished_at = Some(deps.clock.now());
    deps.store.put(record.to_item()?, Condition::Always).await?;
    tracing::info!(
        import = %import_id,
        user = %principal.user,
        rows = record.rows,
        created = record.created,
        updated = record.updated,
        failed = record.failed,
        "customer import finished"
    );
    Ok(Imported::Ran(record.summary()))
}

/// Rows between two writes of an import's progress.
const PROGRESS_EVERY: usize = 25;

/// What every row of one run shares.
struct Run<'a> {
    deps: &'a Deps,
    principal: &'a Principal,
    import_id: &'a str,
    started_at: DateTime<Utc>,
    ttl: i64,
    layout: &'a Layout,
}

impl Run<'_> {
    /// Validates and applies one row; its outcome is stored whatever it is.
    async fn row(&self, row: &Row) -> Result<RowRecord, StoreError> {
        let now = self.deps.clock.now();
        match parse::validate(self.layout, self.import_id, self.principal, now, row) {
            Ok(candidate) => {
                self.apply(row, candidate.customer, candidate.names_owner, now)
                    .await
            }
            Err(problems) => self.fail(row, problems).await,
        }
    }

    /// Creates the customer or merges into the one its identifiers lead to, retrying lost races.
    async fn apply(
        &self,
        row: &Row,
        candidate: Customer,
        names_owner: bool,
        now: DateTime<Utc>,
    ) -> Result<RowRecord, StoreError> {
        let store = &*self.deps.store;
        for attempt in nhip_core::retry::attempts(nhip_core::retry::IN_BATCH) {
            // After a lost race the winner may have been this same row (a concurrent upload
            // of the same file): its outcome is the answer, without waiting.
            if attempt.is_retry() {
                if let Some(stored) = self.stored(row.number).await? {
                    return Ok(stored);
                }
                attempt.pause().await;
            }
            let matches = matches(store, &candidate).await?;
            let first = matches.first().copied();
            if let Some((first_field, first_id)) = first
                && let Some((field, _)) = matches.iter().find(|(_, id)| *id != first_id)
            {
                let message = format!(
                    "{} này thuộc một khách hàng khác với khách hàng có {} trong dòng.",
                    capitalise(field.noun()),
                    first_field.noun()
                );
                return self.fail(row, vec![(Some(*field), message)]).await;
            }
            let result = match first {
                None => {
                    let record = RowRecord::applied(row.number, Outcome::Created, candidate.id);
                    let fields = present_fields(&candidate);
                    let extra = self.writes(&record, now, fields)?;
                    repo::create(store, &candidate, extra)
                        .await
                        .map(|()| record)
                }
                Some((field, id)) => {
                    let Some(before) = repo::get(store, id).await? else {
                        // A guard whose customer is gone: an erase in progress. Try again.
                        continue;
                    };
                    if !list::visible(self.principal, &before) {
                        let message = if before.owner.is_some() {
                            format!(
                                "Khách hàng có {} này thuộc người phụ trách khác; không thể cập nhật từ tệp của bạn.",
                                field.noun()
                            )
                        } else {
                            format!(
                                "Khách hàng có {} này chưa được giao cho bạn; nhờ quản lý giao khách trước khi nhập.",
                                field.noun()
                            )
                        };
                        return self.fail(row, vec![(Some(field), message)]).await;
                    }
                    if before.processing_restricted {
                        let message = "Khách hàng đã yêu cầu hạn chế xử lý dữ liệu cá nhân; không cập nhật từ tệp.";
                        return self
                            .fail(row, vec![(Some(field), message.to_owned())])
                            .await;
                    }
                    let mut after = before.clone();
                    let filled = match merge(&mut after, &candidate, names_owner, now) {
                        Ok(filled) => filled,
                        Err(problem) => return self.fail(row, vec![problem]).await,
                    };
                    let record = RowRecord::applied(row.number, Outcome::Updated, id);
                    let extra = self.writes(&record, now, filled)?;
                    repo::save(store, &before, &mut after, extra)
                        .await
                        .map(|()| record)
                }
            };
            match result {
                Ok(record) => return Ok(record),
                // Lost a race (a version moved, or a guard appeared): look again.
                Err(SaveError::Conflict | SaveError::Taken { .. }) => {}
                Err(SaveError::Store(error)) => return Err(error),
            }
        }
        let message = "Khách hàng đang được cập nhật đồng thời; vui lòng nhập lại dòng này.";
        self.fail(row, vec![(None, message.to_owned())]).await
    }

    /// The writes that commit with an applied row: its timeline entry and its outcome, both
    /// create-only under keys derived from the import and the row.
    fn writes(
        &self,
        record: &RowRecord,
        now: DateTime<Utc>,
        fields: Vec<&'static str>,
    ) -> Result<Vec<WriteOp>, StoreError> {
        let customer = record
            .customer_id
            .ok_or_else(|| StoreError::invalid("an applied row names its customer"))?;
        let entry = timeline::Entry {
            customer,
            at: self.started_at,
            cause: format!("import#{}#{:05}", self.import_id, record.row),
            event_type: nhip_core::event_types::CUSTOMER_IMPORTED.to_owned(),
            source: "import".to_owned(),
            actor: Some(self.principal.user.clone()),
            data: json!({
                "import_id": self.import_id,
                "row": record.row,
                "outcome": record.outcome.as_str(),
                "fields": fields,
            }),
        };
        Ok(vec![
            entry.write(now),
            WriteOp::Put {
                item: record.to_item(self.import_id, self.ttl)?,
                condition: Condition::NotExists,
            },
        ])
    }

    /// Stores a failed row with its cells (for the error report) and returns its outcome; if
    /// the row already has an outcome (a concurrent run of the same file), that one.
    async fn fail(
        &self,
        row: &Row,
        mut problems: Vec<RowProblem>,
    ) -> Result<RowRecord, StoreError> {
        // In the file's column order, the row-wide problems last.
        problems.sort_by_key(|(field, _)| {
            field
                .and_then(|f| self.layout.column(f))
                .unwrap_or(usize::MAX)
        });
        let record = RowRecord {
            row: row.number,
            outcome: Outcome::Failed,
            customer_id: None,
            errors: problems
                .into_iter()
                .map(|(field, message)| Problem {
                    column: self.layout.header(field),
                    message,
                })
                .collect(),
            values: self
                .layout
                .report
                .iter()
                .map(|i| {
                    let cell = row.cells.get(*i).map(String::as_str).unwrap_or_default();
                    cell.chars().take(MAX_CELL_CHARS).collect()
                })
                .collect(),
        };
        let item = record.to_item(self.import_id, self.ttl)?;
        match self.deps.store.put(item, Condition::NotExists).await {
            Ok(()) => Ok(record),
            Err(StoreError::ConditionFailed { .. }) => {
                Ok(self.stored(row.number).await?.unwrap_or(record))
            }
            Err(error) => Err(error),
        }
    }

    async fn stored(&self, row: u32) -> Result<Option<RowRecord>, StoreError> {
        self.deps
            .store
            .get(&keys::import_row(self.import_id, row))
            .await?
            .map(from_item)
            .transpose()
    }
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The customers the row's identifiers already belong to, phone first.
async fn matches(
    store: &dyn nhip_ports::ItemStore,
    candidate: &Customer,
) -> Result<Vec<(Field, CustomerId)>, StoreError> {
    let mut guards = Vec::new();
    for phone in &candidate.phones {
        guards.push((Field::Phone, keys::phone_guard(phone.as_str())));
    }
    for email in &candidate.emails {
        guards.push((Field::Email, keys::email_guard(email.as_str())));
    }
    if let Some(cccd) = &candidate.cccd {
        guards.push((Field::Cccd, keys::cccd_guard(cccd.as_str())));
    }
    let mut found = Vec::new();
    for (field, key) in guards {
        if let Some(id) = repo::guard_owner(store, &key).await? {
            found.push((field, id));
        }
    }
    Ok(found)
}

/// The fields a new customer got from its row, for the timeline.
fn present_fields(customer: &Customer) -> Vec<&'static str> {
    let mut fields = vec!["full_name"];
    let present = [
        ("gender", customer.gender.is_some()),
        ("birthday", customer.birthday.is_some()),
        ("phones", !customer.phones.is_empty()),
        ("emails", !customer.emails.is_empty()),
        ("cccd", customer.cccd.is_some()),
        ("cmnd", customer.cmnd.is_some()),
        ("tax_code", customer.tax_code.is_some()),
        ("address", customer.address.is_some()),
        ("tags", !customer.tags.is_empty()),
        ("classification", customer.classification.is_some()),
        ("consents", !customer.consents.0.is_empty()),
    ];
    fields.extend(present.iter().filter(|(_, p)| *p).map(|(f, _)| *f));
    fields
}

/// Fills what `customer` lacks from the row's `candidate`, adds its identifiers, tags and the
/// consents the customer has no decision on, and names the owner only when the row named one
/// and the customer has none. Never overwrites: what staff entered wins, and so does a
/// consent decision already recorded (an old spreadsheet must not undo a withdrawal). Returns
/// the fields filled, or the problem the merged record would have.
fn merge(
    customer: &mut Customer,
    candidate: &Customer,
    names_owner: bool,
    now: DateTime<Utc>,
) -> Result<Vec<&'static str>, RowProblem> {
    let mut filled = Vec::new();
    if customer.full_name == UNNAMED && candidate.full_name != UNNAMED {
        customer.full_name = candidate.full_name.clone();
        customer.given_name = candidate.given_name.clone();
        filled.push("full_name");
    }
    fn fill<T: Clone>(
        slot: &mut Option<T>,
        value: &Option<T>,
        name: &'static str,
        filled: &mut Vec<&'static str>,
    ) {
        if slot.is_none() && value.is_some() {
            *slot = value.clone();
            filled.push(name);
        }
    }
    fill(
        &mut customer.gender,
        &candidate.gender,
        "gender",
        &mut filled,
    );
    fill(
        &mut customer.birthday,
        &candidate.birthday,
        "birthday",
        &mut filled,
    );
    fill(&mut customer.cccd, &candidate.cccd, "cccd", &mut filled);
    fill(&mut customer.cmnd, &candidate.cmnd, "cmnd", &mut filled);
    fill(
        &mut customer.tax_code,
        &candidate.tax_code,
        "tax_code",
        &mut filled,
    );
    fill(
        &mut customer.address,
        &candidate.address,
        "address",
        &mut filled,
    );
    fill(
        &mut customer.classification,
        &candidate.classification,
        "classification",
        &mut filled,
    );
    for phone in &candidate.phones {
        if !customer.phones.contains(phone) {
            customer.phones.push(phone.clone());
            push_once(&mut filled, "phones");
        }
    }
    for email in &candidate.emails {
        if !customer.emails.contains(email) {
            customer.emails.push(email.clone());
            push_once(&mut filled, "emails");
        }
    }
    let tags = normalise_tags(customer.tags.iter().chain(&candidate.tags).cloned());
    if tags != customer.tags {
        if tags.len() > 50 {
            return Err((
                Some(Field::Tags),
                "Khách hàng sẽ có quá 50 nhãn; bớt nhãn trong tệp.".to_owned(),
            ));
        }
        customer.tags = tags;
        filled.push("tags");
    }
    for (key, record) in &candidate.consents.0 {
        if !customer.consents.0.contains_key(key) {
            customer.consents.record(record.clone());
            push_once(&mut filled, "consents");
        }
    }
    if names_owner && customer.owner.is_none() && candidate.owner.is_some() {
        customer.owner = candidate.owner.clone();
        customer.team = candidate.team.clone();
        filled.push("owner");
    }
    if let Some(cccd) = &customer.cccd
        && let Err(e) = cccd.check_consistency(customer.birthday, customer.gender)
    {
        return Err((Some(Field::Cccd), e.to_string()));
    }
    if !filled.is_empty() {
        customer.updated_at = now;
    }
    Ok(filled)
}

fn push_once(fields: &mut Vec<&'static str>, name: &'static str) {
    if !fields.contains(&name) {
        fields.push(name);
    }
}
