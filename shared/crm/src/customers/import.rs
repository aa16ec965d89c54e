//! Bulk import of customers from a CSV file (`POST /v1/imports/customers`).
//!
//! The file is UTF-8 (a BOM is stripped), comma-, semicolon- or tab-separated (sniffed from the
//! header line: Excel in a Vietnamese locale saves with `;`), with English or Vietnamese headers
//! matched without case or diacritics ("Số điện thoại", "SĐT", "so dien thoai", "phone").
//! Every row goes through the staff create route's validation ([`routes::new_customer`]) and
//! all its problems are reported at once, by spreadsheet row number (the header is row 1) and
//! column as written in the file.
//!
//! A good row whose phone, e-mail or CCCD is already known fills what the customer lacks and
//! adds tags, never overwriting what staff entered, and only within the importer's scope;
//! otherwise it creates a customer (source `import` unless the file says otherwise, owner as
//! the create route decides). Each applied row writes, in the same transaction as the customer,
//! a `customer.imported` timeline entry and the row's outcome item (`IMPORT#<id>` /
//! `ROW#<nnnnn>`), both create-only.
//!
//! Idempotency: the import id is derived from the file's SHA-256 and the importing user. A
//! second upload of the same bytes by the same user answers 200 with the stored report and
//! writes nothing; an upload that was cut short (timeout, store outage) is finished by
//! uploading the same bytes again, skipping the rows already done. An edited file is a new
//! import, whose rows find the customers of the first one through the uniqueness guards.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use nhip_domain::customer::{Classification, Source};
use nhip_domain::ids::CustomerId;
use nhip_domain::person::{fold, nfc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::leads::UNNAMED;
use super::list;
use super::model::{Customer, normalise_tags};
use super::repo::{self, SaveError};
use super::routes;
use nhip_core::auth::Principal;
use nhip_core::deps::Deps;
use nhip_core::form::FieldErrors;
use nhip_core::http::ApiError;
use nhip_core::keys;
use nhip_core::timeline;
use nhip_ports::store::{Condition, Index, Item, Query, SortKey, StoreError, WriteOp};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Largest file accepted, in bytes.
pub const MAX_IMPORT_BYTES: usize = 5 * 1024 * 1024;

/// Most data rows in one file.
pub const MAX_IMPORT_ROWS: usize = 10_000;

/// Highest spreadsheet row number a data row may have: row keys carry five digits.
const MAX_ROW_NUMBER: usize = 99_999;

/// Longest cell accepted (the field validators are stricter; this bounds what a failed row
/// stores for the error report).
const MAX_CELL_CHARS: usize = 1_000;

/// Errors listed in the summary (all of them are in the CSV report).
const LISTED_ERRORS: usize = 500;

/// Bytes of error messages listed in the summary, keeping the import record far below the
/// store's 400 KB item limit.
const LISTED_ERROR_BYTES: usize = 150 * 1024;

/// How long an import's record and rows (which hold failed rows' personal data) are kept.
const RETENTION_DAYS: i64 = 90;

/// Kind attribute of import records.
pub const KIND: &str = "import";

/// Kind attribute of import row outcomes.
pub const ROW_KIND: &str = "import_row";

/// The import routes.
pub fn router() -> OpenApiRouter<Arc<Deps>> {
    OpenApiRouter::new()
        .routes(routes!(import_customers))
        .routes(routes!(import_summary))
        .routes(routes!(error_report))
}

// ---------------------------------------------------------------------------------------------
// Columns
// ---------------------------------------------------------------------------------------------

/// A customer field a column can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Field {
    FullName,
    Phone,
    Email,
    Gender,
    Birthday,
    Cccd,
    TaxCode,
    Address,
    Tags,
    Source,
    Owner,
    Classification,
    Consents,
}

impl Field {
    const ALL: [Field; 13] = [
        Field::FullName,
        Field::Phone,
        Field::Email,
        Field::Gender,
        Field::Birthday,
        Field::Cccd,
        Field::TaxCode,
        Field::Address,
        Field::Tags,
        Field::Source,
        Field::Owner,
        Field::Classification,
        Field::Consents,
    ];

    /// The English header.
    fn name(self) -> &'static str {
        match self {
            Field::FullName => "full_name",
            Field::Phone => "phone",
            Field::Email => "email",
            Field::Gender => "gender",
            Field::Birthday => "birthday",
            Field::Cccd => "cccd",
            Field::TaxCode => "tax_code",
            Field::Address => "address",
            Field::Tags => "tags",
            Field::Source => "source",
            Field::Owner => "owner",
            Field::Classification => "classification",
            Field::Consents => "consents",
        }
    }

    /// The usual Vietnamese header.
    fn label(self) -> &'static str {
        match self {
            Field::FullName => "Họ và tên",
            Field::Phone => "Số điện thoại",
            Field::Email => "Email",
            Field::Gender => "Giới tính",
            Field::Birthday => "Ngày sinh",
            Field::Cccd => "CCCD",
            Field::TaxCode => "Mã số thuế",
            Field::Address => "Địa chỉ",
            Field::Tags => "Nhãn",
            Field::Source => "Nguồn",
            Field::Owner => "Người phụ trách",
            Field::Classification => "Phân loại",
            Field::Consents => "Đồng ý nhận tin",
        }
    }

    /// The identifier inside a sentence ("khách hàng có số điện thoại này").
    fn noun(self) -> &'static str {
        match self {
            Field::Phone => "số điện thoại",
            Field::Email => "email",
            Field::Cccd => "số CCCD",
            other => other.label(),
        }
    }

    /// The field of a key of the create route's field errors (`phones[0]` → phone).
    fn of_error_key(key: &str) -> Option<Field> {
        Some(match key.split('[').next().unwrap_or(key) {
            "full_name" | "given_name" => Field::FullName,
            "phones" => Field::Phone,
            "emails" => Field::Email,
            "gender" => Field::Gender,
            "birthday" => Field::Birthday,
            "cccd" | "cmnd" => Field::Cccd,
            "tax_code" => Field::TaxCode,
            "address" => Field::Address,
            "tags" => Field::Tags,
            "source" => Field::Source,
            "owner" => Field::Owner,
            "classification" => Field::Classification,
            "consents" | "consent_evidence" => Field::Consents,
            _ => return None,
        })
    }
}

/// What a header means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Meaning {
    /// A customer field.
    Field(Field),
    /// A column kept in the error report but not imported ("STT", the row counter).
    Ignored,
    /// A column of an earlier error report ("Dòng", "Lỗi"): dropped, so a corrected report
    /// can be imported as it is.
    Report,
}

/// Accepted headers, folded (see [`header_key`]).
const HEADERS: &[(&str, Meaning)] = &[
    ("full name", Meaning::Field(Field::FullName)),
    ("name", Meaning::Field(Field::FullName)),
    ("ho va ten", Meaning::Field(Field::FullName)),
    ("ho ten", Meaning::Field(Field::FullName)),
    ("ten khach hang", Meaning::Field(Field::FullName)),
    ("ho va ten khach hang", Meaning::Field(Field::FullName)),
    ("phone", Meaning::Field(Field::Phone)),
    ("so dien thoai", Meaning::Field(Field::Phone)),
    ("sdt", Meaning::Field(Field::Phone)),
    ("dien thoai", Meaning::Field(Field::Phone)),
    ("di dong", Meaning::Field(Field::Phone)),
    ("so di dong", Meaning::Field(Field::Phone)),
    ("email", Meaning::Field(Field::Email)),
    ("e mail", Meaning::Field(Field::Email)),
    ("thu dien tu", Meaning::Field(Field::Email)),
    ("gender", Meaning::Field(Field::Gender)),
    ("gioi tinh", Meaning::Field(Field::Gender)),
    ("birthday", Meaning::Field(Field::Birthday)),
    ("date of birth", Meaning::Field(Field::Birthday)),
    ("ngay sinh", Meaning::Field(Field::Birthday)),
    ("cccd", Meaning::Field(Field::Cccd)),
    ("cccd/cmt", Meaning::Field(Field::Cccd)),
    ("cccd/cmnd", Meaning::Field(Field::Cccd)),
    ("so cccd", Meaning::Field(Field::Cccd)),
    ("can cuoc cong dan", Meaning::Field(Field::Cccd)),
    ("tax code", Meaning::Field(Field::TaxCode)),
    ("ma so thue", Meaning::Field(Field::TaxCode)),
    ("mst", Meaning::Field(Field::TaxCode)),
    ("address", Meaning::Field(Field::Address)),
    ("dia chi", Meaning::Field(Field::Address)),
    ("tags", Meaning::Field(Field::Tags)),
    ("tag", Meaning::Field(Field::Tags)),
    ("nhan", Meaning::Field(Field::Tags)),
    ("source", Meaning::Field(Field::Source)),
    ("nguon", Meaning::Field(Field::Source)),
    ("nguon khach hang", Meaning::Field(Field::Source)),
    ("owner", Meaning::Field(Field::Owner)),
    ("nguoi phu trach", Meaning::Field(Field::Owner)),
    ("classification", Meaning::Field(Field::Classification)),
    ("phan loai", Meaning::Field(Field::Classification)),
    ("consents", Meaning::Field(Field::Consents)),
    ("dong y nhan tin", Meaning::Field(Field::Consents)),
    ("stt", Meaning::Ignored),
    ("dong", Meaning::Report),
    ("loi", Meaning::Report),
];

/// A header folded for matching: trimmed, without a trailing `*` or `:` (required-field marks),
/// `_` and `-` as spaces, diacritics and case folded, spaces around `/` removed.
fn header_key(raw: &str) -> String {
    let trimmed = raw
        .trim()
        .trim_end_matches(['*', ':'])
        .replace(['_', '-'], " ");
    fold(&trimmed).replace(" /", "/").replace("/ ", "/")
}

fn meaning(header: &str) -> Option<Meaning> {
    let key = header_key(header);
    HEADERS
        .iter()
        .find(|(alias, _)| *alias == key)
        .map(|(_, meaning)| *meaning)
}

/// The columns of a file.
#[derive(Debug, Clone)]
struct Layout {
    /// Per column: the field it holds, if it is imported.
    fields: Vec<Option<Field>>,
    /// Per column: the header as written (NFC, trimmed).
    headers: Vec<String>,
    /// The columns repeated in the error report: every named column but an earlier report's.
    report: Vec<usize>,
}

impl Layout {
    fn from_header(record: &csv::StringRecord) -> Result<Self, ApiError> {
        let mut layout = Layout {
            fields: Vec::new(),
            headers: Vec::new(),
            report: Vec::new(),
        };
        let mut unknown = Vec::new();
        let mut duplicates = Vec::new();
        for (index, raw) in record.iter().enumerate() {
            let written = nfc(raw.trim());
            let meaning = if written.is_empty() {
                // An unnamed column (often an empty one a spreadsheet left behind): not read.
                None
            } else {
                match meaning(&written) {
                    None => {
                        unknown.push(written.clone());
                        None
                    }
                    Some(meaning) => Some(meaning),
                }
            };
            let field = match meaning {
                Some(Meaning::Field(field)) => {
                    if layout.fields.contains(&Some(field)) {
                        duplicates.push(written.clone());
                    }
                    Some(field)
                }
                _ => None,
            };
            if !written.is_empty() && meaning != Some(Meaning::Report) {
                layout.report.push(index);
            }
            layout.fields.push(field);
            layout.headers.push(written);
        }
        if !unknown.is_empty() {
            let mut error = ApiError::new(
                StatusCode::BAD_REQUEST,
                "unknown_columns",
                format!(
                    "Unknown columns: {}. Accepted: {}, or their Vietnamese names ({}).",
                    quoted(&unknown),
                    Field::ALL.map(Field::name).join(", "),
                    Field::ALL.map(Field::label).join(", "),
                ),
            );
            for header in unknown {
                error = error.field(header, "Cột không được hỗ trợ.");
            }
            return Err(error);
        }
        if !duplicates.is_empty() {
            let mut error = ApiError::new(
                StatusCode::BAD_REQUEST,
                "duplicate_columns",
                format!(
                    "These columns repeat a field already present: {}.",
                    quoted(&duplicates)
                ),
            );
            for header in duplicates {
                error = error.field(header, "Cột bị lặp lại.");
            }
            return Err(error);
        }
        if layout.column(Field::FullName).is_none() {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "missing_column",
                "The file has no name column (full_name, \"Họ và tên\", \"Họ tên\" or \"Tên khách hàng\").",
            )
            .field("full_name", "Thiếu cột Họ và tên."));
        }
        if [Field::Phone, Field::Email, Field::Cccd]
            .iter()
            .all(|f| layout.column(*f).is_none())
        {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "missing_column",
                "The file needs a phone, e-mail or CCCD column to recognise customers already known.",
            )
            .field(
                "phone",
                "Cần cột Số điện thoại, Email hoặc CCCD để nhận diện khách hàng.",
            ));
        }
        Ok(layout)
    }

    fn column(&self, field: Field) -> Option<usize> {
        self.fields.iter().position(|f| *f == Some(field))
    }

    /// The header of a field's column as written, for error entries.
    fn header(&self, field: Option<Field>) -> Option<String> {
        field
            .and_then(|f| self.column(f))
            .map(|i| self.headers[i].clone())
    }
}

fn quoted(items: &[String]) -> String {
    items
        .iter()
        .map(|h| format!("\"{h}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------------------------------------
// Reading the file
// ---------------------------------------------------------------------------------------------

/// One data row.
#[derive(Debug, Clone)]
struct Row {
    /// As a spreadsheet numbers it: the header is row 1.
    number: u32,
    /// The cells as written.
    cells: Vec<String>,
}

/// The file as text: UTF-8 without its BOM, or a 400 naming the first bad byte and its line.
fn decode(bytes: &[u8]) -> Result<&str, ApiError> {
    const BOM: &[u8] = b"\xEF\xBB\xBF";
    let (offset, body) = match bytes.strip_prefix(BOM) {
        Some(rest) => (BOM.len(), rest),
        None => (0, bytes),
    };
    std::str::from_utf8(body).map_err(|e| {
        let at = e.valid_up_to();
        let line = body[..at].iter().filter(|b| **b == b'\n').count() + 1;
        let byte = body[at];
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_encoding",
            format!(
                "The file is not UTF-8: byte 0x{byte:02X} at offset {} (line {line}). Save it as \
                 \"CSV UTF-8\".",
                offset + at
            ),
        )
        .field(
            "file",
            format!(
                "Tệp không phải UTF-8 (byte 0x{byte:02X} ở dòng {line}). Trong Excel, chọn Lưu \
                 thành \"CSV UTF-8 (Comma delimited)\"."
            ),
        )
    })
}

/// The separator of the header line: `,`, `;` (Excel in a Vietnamese locale) or tab, whichever
/// occurs most outside quotes; `,` on a tie.
fn delimiter(text: &str) -> u8 {
    let first = text.lines().next().unwrap_or_default();
    let mut quoted = false;
    let mut counts = [(b',', 0usize), (b';', 0), (b'\t', 0)];
    for c in first.bytes() {
        if c == b'"' {
            quoted = !quoted;
        } else if !quoted && let Some(entry) = counts.iter_mut().find(|(d, _)| *d == c) {
            entry.1 += 1;
        }
    }
    let mut best = counts[0];
    for entry in &counts[1..] {
        if entry.1 > best.1 {
            best = *entry;
        }
    }
    best.0
}

fn invalid_csv(error: &csv::Error) -> ApiError {
    let line = error.position().map(|p| p.line()).unwrap_or_default();
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_csv",
        format!("The file is not valid CSV near line {line}."),
    )
    .field("file", format!("Tệp CSV bị lỗi định dạng gần dòng {line}."))
}

fn too_many_rows() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_many_rows",
        format!("A file holds at most {MAX_IMPORT_ROWS} rows; split it into several files."),
    )
    .field(
        "file",
        format!("Tối đa {MAX_IMPORT_ROWS} dòng mỗi tệp; vui lòng chia thành nhiều tệp."),
    )
}

/// The header and the data rows. Rows whose cells are all blank (a spreadsheet's empty rows)
/// are skipped but keep their numbers; blank lines are ignored.
fn parse(text: &str) -> Result<(Layout, Vec<Row>), ApiError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter(text))
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let header = match records.next() {
        Some(record) => record.map_err(|e| invalid_csv(&e))?,
        None => return Err(empty_file()),
    };
    let layout = Layout::from_header(&header)?;
    let mut rows = Vec::new();
    for (index, record) in records.enumerate() {
        let record = record.map_err(|e| invalid_csv(&e))?;
        if record.iter().all(|cell| cell.trim().is_empty()) {
            continue;
        }
        let number = index + 2;
        if rows.len() == MAX_IMPORT_ROWS || number > MAX_ROW_NUMBER {
            return Err(too_many_rows());
        }
        rows.push(Row {
            number: u32::try_from(number).map_err(|_| too_many_rows())?,
            cells: record.iter().map(str::to_owned).collect(),
        });
    }
    if rows.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "no_rows",
            "The file has a header but no data rows.",
        )
        .field("file", "Tệp chưa có dòng dữ liệu nào."));
    }
    Ok((layout, rows))
}

fn empty_file() -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "empty_file", "The file is empty.")
        .field("file", "Tệp rỗng.")
}

// ---------------------------------------------------------------------------------------------
// Stored records
// ---------------------------------------------------------------------------------------------

/// One problem of a failed row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Problem {
    /// The column's header as written in the file; `None` for the row as a whole.
    column: Option<String>,
    /// In Vietnamese.
    message: String,
}

/// What happened to a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Outcome {
    Created,
    Updated,
    Failed,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Updated => "updated",
            Outcome::Failed => "failed",
        }
    }
}

/// A row's outcome as stored under `IMPORT#<id>` / `ROW#<nnnnn>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct RowRecord {
    row: u32,
    outcome: Outcome,
    /// The customer created or updated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    customer_id: Option<CustomerId>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    errors: Vec<Problem>,
    /// A failed row's cells in the report's columns, for the error report. Applied rows keep
    /// no personal data here: it is on the customer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    values: Vec<String>,
}

impl RowRecord {
    fn applied(row: u32, outcome: Outcome, customer: CustomerId) -> Self {
        Self {
            row,
            outcome,
            customer_id: Some(customer),
            errors: Vec::new(),
            values: Vec::new(),
        }
    }

    fn to_item(&self, import_id: &str, ttl: i64) -> Result<Item, StoreError> {
        let mut item = to_object(self)?;
        let key = keys::import_row(import_id, self.row);
        item.insert("pk".into(), key.pk.into());
        item.insert("sk".into(), key.sk.into());
        item.insert("kind".into(), ROW_KIND.into());
        item.insert("ttl".into(), ttl.into());
        Ok(item)
    }
}

/// One problem of a failed row, in the summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RowError {
    /// The row as a spreadsheet numbers it (the header is row 1).
    pub row: u32,
    /// The column's header as written in the file; `null` for the row as a whole.
    pub column: Option<String>,
    /// What is wrong, in Vietnamese.
    pub message: String,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ImportSummary {
    /// The import's id (32 hex digits), derived from the file's SHA-256 and the importing user.
    pub import_id: String,
    /// `done`; `running` while a run is under way or after one was cut short (upload the same
    /// file again to finish it).
    pub status: String,
    /// Data rows in the file (blank rows not counted).
    pub rows: u32,
    /// Rows that created a customer.
    pub created: u32,
    /// Rows that updated the customer their phone, e-mail or CCCD belongs to.
    pub updated: u32,
    /// Rows not imported; they are in the error report.
    pub failed: u32,
    /// The errors in row order, at most 500 (all of them are in the report).
    pub errors: Vec<RowError>,
    /// Whether `errors` was cut short.
    pub errors_truncated: bool,
    /// The failed rows as CSV, with their errors: `/v1/imports/customers/<id>/errors.csv`.
    pub report_url: String,
}

/// An import as stored under `IMPORT#<id>` / `IMPORT`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ImportRecord {
    import_id: String,
    /// Who imported it: only they and admins may read it.
    user: String,
    file_sha256: String,
    bytes: usize,
    /// The report's columns, as written in the file.
    headers: Vec<String>,
    /// `running` until every row has an outcome, then `done`.
    status: String,
    /// Also the instant of the rows' timeline entries, so a resumed run writes the same keys.
    started_at: DateTime<Utc>,
    #[serde(default)]
    finished_at: Option<DateTime<Utc>>,
    #[serde(default)]
    rows: u32,
    #[serde(default)]
    created: u32,
    #[serde(default)]
    updated: u32,
    #[serde(default)]
    failed: u32,
    /// The first errors (all of them are in the CSV report).
    #[serde(default)]
    errors: Vec<RowError>,
    #[serde(default)]
    errors_truncated: bool,
}

const RUNNING: &str = "running";
const DONE: &str = "done";

impl ImportRecord {
    fn to_item(&self) -> Result<Item, StoreError> {
        let mut item = to_object(self)?;
        let key = keys::import(&self.import_id);
        item.insert("pk".into(), key.pk.into());
        item.insert("sk".into(), key.sk.into());
        item.insert("kind".into(), KIND.into());
        item.insert("ttl".into(), self.ttl().into());
        Ok(item)
    }

    fn ttl(&self) -> i64 {
        (self.started_at + Duration::days(RETENTION_DAYS)).timestamp()
    }

    /// The answer of the import routes.
    fn summary(&self) -> ImportSummary {
        ImportSummary {
            import_id: self.import_id.clone(),
            status: self.status.clone(),
            rows: self.rows,
            created: self.created,
            updated: self.updated,
            failed: self.failed,
            errors: self.errors.clone(),
            errors_truncated: self.errors_truncated,
            report_url: format!("/v1/imports/customers/{}/errors.csv", self.import_id),
        }
    }

    /// Counts and the first errors, from every row's outcome in row order.
    fn summarise(&mut self, outcomes: &[RowRecord]) {
        self.rows = count(outcomes.len());
        self.created = count(
            outcomes
                .iter()
                .filter(|o| o.outcome == Outcome::Created)
                .count(),
        );
        self.updated = count(
            outcomes
                .iter()
                .filter(|o| o.outcome == Outcome::Updated)
                .count(),
        );
        self.failed = count(
            outcomes
                .iter()
                .filter(|o| o.outcome == Outcome::Failed)
                .count(),
        );
        self.errors.clear();
        self.errors_truncated = false;
        let mut bytes = 0;
        for outcome in outcomes {
            for problem in &outcome.errors {
                bytes += problem.message.len() + problem.column.as_ref().map_or(0, String::len);
                if self.errors.len() == LISTED_ERRORS || bytes > LISTED_ERROR_BYTES {
                    self.errors_truncated = true;
                    return;
                }
                self.errors.push(RowError {
                    row: outcome.row,
                    column: problem.column.clone(),
                    message: problem.message.clone(),
                });
            }
        }
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn to_object(value: &impl Serialize) -> Result<Item, StoreError> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(StoreError::invalid("an import record is not an object")),
        Err(e) => Err(StoreError::invalid(format!(
            "an import record does not serialise: {e}"
        ))),
    }
}

fn from_item<T: serde::de::DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_json::from_value(Value::Object(item)).map_err(|e| {
        StoreError::invalid(format!(
            "stored import record does not match the model: {e}"
        ))
    })
}

async fn load_record(deps: &Deps, import_id: &str) -> Result<Option<ImportRecord>, StoreError> {
    deps.store
        .get(&keys::import(import_id))
        .await?
        .map(from_item)
        .transpose()
}

/// Every row outcome stored for an import, in row order.
async fn stored_rows(deps: &Deps, import_id: &str) -> Result<Vec<RowRecord>, StoreError> {
    let mut rows = Vec::new();
    let mut cursor = None;
    loop {
        let page = deps
            .store
            .query(
                Query::partition(Index::Primary, keys::import_pk(import_id))
                    .sk(SortKey::BeginsWith(keys::import_rows_prefix().into()))
                    .limit(1000)
                    .after(cursor),
            )
            .await?;
        for item in page.items {
            rows.push(from_item(item)?);
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(rows),
        }
    }
}

/// The import id: the file's SHA-256 and the user, hashed again (128 bits, hex), so the same
/// bytes uploaded by the same user are the same import.
fn import_id(user: &str, file_sha256: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(b"nhip-import\0");
    hash.update(user.as_bytes());
    hash.update(b"\0");
    hash.update(file_sha256.as_bytes());
    hex::encode(&hash.finalize()[..16])
}

// ---------------------------------------------------------------------------------------------
// Rows
// ---------------------------------------------------------------------------------------------

/// What every row of one run shares.
struct Run<'a> {
    deps: &'a Deps,
    principal: &'a Principal,
    import_id: &'a str,
    started_at: DateTime<Utc>,
    ttl: i64,
    layout: &'a Layout,
}

/// A source or classification as written: its wire value or its Vietnamese label, folded.
fn resolve<T: Copy>(
    cell: &str,
    all: &[T],
    wire: fn(T) -> &'static str,
    label: fn(T) -> &'static str,
) -> Option<T> {
    let key = fold(cell).replace(' ', "_");
    all.iter()
        .copied()
        .find(|v| fold(wire(*v)) == key || fold(label(*v)).replace(' ', "_") == key)
}

fn choices<T: Copy>(
    all: &[T],
    wire: fn(T) -> &'static str,
    label: fn(T) -> &'static str,
) -> String {
    let labels: Vec<&str> = all.iter().map(|v| label(*v)).collect();
    let wires: Vec<&str> = all.iter().map(|v| wire(*v)).collect();
    format!("{} (hoặc {})", labels.join(", "), wires.join(", "))
}

/// Splits a list cell on `;` or `,`.
fn split_list(cell: &str) -> Value {
    Value::Array(
        cell.split([';', ','])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| Value::String(s.to_owned()))
            .collect(),
    )
}

/// Nine digits in a CCCD/CMT column: an old identity card (CMND) number.
fn is_cmnd(cell: &str) -> bool {
    let digits: Vec<char> = cell.chars().filter(|c| !c.is_whitespace()).collect();
    digits.len() == 9 && digits.iter().all(char::is_ascii_digit)
}

impl Run<'_> {
    /// The row as the create route's JSON body, plus the problems only a file can have.
    fn body(&self, row: &Row, problems: &mut Vec<(Option<Field>, String)>) -> Map<String, Value> {
        let mut body = Map::new();
        for (index, field) in self.layout.fields.iter().enumerate() {
            let Some(field) = *field else { continue };
            let cell = row.cells.get(index).map(|c| c.trim()).unwrap_or_default();
            if cell.is_empty() {
                continue;
            }
            if cell.chars().count() > MAX_CELL_CHARS {
                problems.push((Some(field), format!("Tối đa {MAX_CELL_CHARS} ký tự.")));
                continue;
            }
            let (name, value) = match field {
                Field::FullName => ("full_name", json!(cell)),
                Field::Phone => ("phones", json!([cell])),
                Field::Email => ("emails", json!([cell])),
                Field::Gender => ("gender", json!(cell)),
                Field::Birthday => ("birthday", json!(cell)),
                Field::Cccd if is_cmnd(cell) => ("cmnd", json!(cell)),
                Field::Cccd => ("cccd", json!(cell)),
                Field::TaxCode => ("tax_code", json!(cell)),
                Field::Address => ("address", json!(cell)),
                Field::Tags => ("tags", split_list(cell)),
                Field::Owner => ("owner", json!(cell)),
                Field::Consents => ("consents", split_list(cell)),
                Field::Source => match resolve(cell, Source::ALL, Source::as_str, Source::label) {
                    Some(source) => ("source", json!(source)),
                    None => {
                        problems.push((
                            Some(field),
                            format!(
                                "Nguồn không hợp lệ; chọn một trong: {}.",
                                choices(Source::ALL, Source::as_str, Source::label)
                            ),
                        ));
                        continue;
                    }
                },
                Field::Classification => match resolve(
                    cell,
                    Classification::ALL,
                    Classification::as_str,
                    Classification::label,
                ) {
                    Some(class) => ("classification", json!(class)),
                    None => {
                        problems.push((
                            Some(field),
                            format!(
                                "Phân loại không hợp lệ; chọn một trong: {}.",
                                choices(
                                    Classification::ALL,
                                    Classification::as_str,
                                    Classification::label
                                )
                            ),
                        ));
                        continue;
                    }
                },
            };
            body.insert(name.into(), value);
        }
        if !body.contains_key("source") {
            body.insert("source".into(), json!(Source::Import));
        }
        body.insert(
            "consent_evidence".into(),
            json!(format!("import {}, dòng {}", self.import_id, row.number)),
        );
        let width = self.layout.fields.len();
        if row.cells.iter().skip(width).any(|c| !c.trim().is_empty()) {
            problems.push((
                None,
                format!("Dòng có nhiều ô hơn số cột tiêu đề ({width})."),
            ));
        }
        body
    }

    /// Validates and applies one row; its outcome is stored whatever it is.
    async fn row(&self, row: &Row) -> Result<RowRecord, ApiError> {
        let now = self.deps.clock.now();
        let mut problems = Vec::new();
        let body = self.body(row, &mut problems);
        let mut errors = FieldErrors::default();
        let candidate = routes::new_customer(&body, self.principal, now, "import", &mut errors);
        for (key, message) in errors.0 {
            problems.push((Field::of_error_key(&key), message));
        }
        if problems.is_empty()
            && candidate.phones.is_empty()
            && candidate.emails.is_empty()
            && candidate.cccd.is_none()
        {
            let column = [Field::Phone, Field::Email, Field::Cccd]
                .into_iter()
                .find(|f| self.layout.column(*f).is_some());
            problems.push((
                column,
                "Cần số điện thoại, email hoặc số CCCD để nhận diện khách hàng.".to_owned(),
            ));
        }
        if !problems.is_empty() {
            return self.fail(row, problems).await;
        }
        let names_owner = body.contains_key("owner");
        self.apply(row, candidate, names_owner, now).await
    }

    /// Creates the customer or merges into the one its identifiers lead to, retrying lost races.
    async fn apply(
        &self,
        row: &Row,
        candidate: Customer,
        names_owner: bool,
        now: DateTime<Utc>,
    ) -> Result<RowRecord, ApiError> {
        let store = &*self.deps.store;
        for attempt in nhip_core::retry::attempts() {
            attempt.pause().await;
            // After a lost race the winner may have been this same row (a concurrent upload
            // of the same file): its outcome is the answer.
            if attempt.is_retry()
                && let Some(stored) = self.stored(row.number).await?
            {
                return Ok(stored);
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
                Err(SaveError::Store(error)) => return Err(error.into()),
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
        mut problems: Vec<(Option<Field>, String)>,
    ) -> Result<RowRecord, ApiError> {
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
            Err(error) => Err(error.into()),
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
) -> Result<Vec<&'static str>, (Option<Field>, String)> {
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

// ---------------------------------------------------------------------------------------------
// Routes
// ---------------------------------------------------------------------------------------------

/// Content types a CSV upload may carry (Windows browsers label `.csv` files as Excel's).
const CSV_TYPES: &[&str] = &[
    "text/csv",
    "application/csv",
    "text/plain",
    "application/vnd.ms-excel",
];

/// `POST /v1/imports/customers`: imports a CSV file. 201 with the summary; 200 with the
/// stored summary when the same user already imported the same bytes.
#[utoipa::path(
    post,
    path = "/v1/imports/customers",
    tag = "customers",
    security(("bearer" = [])),
    request_body(
        content = String,
        content_type = "text/csv",
        description = "A UTF-8 CSV file (BOM optional; `,`, `;` or tab separated), at most 5 MB and 10,000 rows. Headers in English (full_name, phone, email, gender, birthday, cccd, tax_code, address, tags, source, owner, classification, consents) or Vietnamese (Họ và tên, Số điện thoại, …); a name column and a phone, e-mail or CCCD column are required.",
        example = json!("full_name,phone,email\nNguyễn Văn Minh,0912345001,minh.nguyen@example.vn\nLê Thị Hoa,0912345002,\n")
    ),
    responses(
        (status = 201, description = "Imported, row by row: the summary.", body = ImportSummary),
        (status = 200, description = "This user already imported these bytes: the stored summary; nothing is re-run.", body = ImportSummary),
        (status = 400, response = nhip_core::openapi::BadRequest),
        (status = 401, response = nhip_core::openapi::Unauthenticated),
        (status = 403, response = nhip_core::openapi::Forbidden),
        (status = 413, response = nhip_core::openapi::PayloadTooLarge),
        (status = 415, response = nhip_core::openapi::UnsupportedMediaType),
        (status = 503, response = nhip_core::openapi::Unavailable),
    )
)]
async fn import_customers(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if !CSV_TYPES.contains(&content_type.as_str()) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send the file as text/csv (UTF-8).",
        ));
    }
    // Read here with the import's own limit: the router's default body limit is for JSON.
    let bytes = axum::body::to_bytes(body, MAX_IMPORT_BYTES)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("The file is larger than {MAX_IMPORT_BYTES} bytes; split it."),
            )
            .field("file", "Tệp lớn hơn 5 MB; vui lòng chia thành nhiều tệp.")
        })?;
    if bytes.is_empty() {
        return Err(empty_file());
    }
    let file_sha256 = hex::encode(Sha256::digest(&bytes));
    let import_id = import_id(&principal.user, &file_sha256);
    if let Some(record) = load_record(&deps, &import_id).await?
        && record.status == DONE
    {
        return Ok((StatusCode::OK, Json(record.summary())).into_response());
    }
    let text = decode(&bytes)?;
    let (layout, rows) = parse(text)?;

    let now = deps.clock.now();
    let mut record = ImportRecord {
        import_id: import_id.clone(),
        user: principal.user.clone(),
        file_sha256,
        bytes: bytes.len(),
        headers: layout
            .report
            .iter()
            .map(|i| layout.headers[*i].clone())
            .collect(),
        status: RUNNING.to_owned(),
        started_at: now,
        finished_at: None,
        rows: count(rows.len()),
        created: 0,
        updated: 0,
        failed: 0,
        errors: Vec::new(),
        errors_truncated: false,
    };
    match deps
        .store
        .put(record.to_item()?, Condition::NotExists)
        .await
    {
        Ok(()) => {}
        // An earlier run of this file stopped part-way (or runs now): continue it, with its
        // start instant so the rows' timeline keys are the same.
        Err(StoreError::ConditionFailed { .. }) => {
            if let Some(existing) = load_record(&deps, &import_id).await? {
                record.started_at = existing.started_at;
            }
        }
        Err(error) => return Err(error.into()),
    }

    let mut done: BTreeMap<u32, RowRecord> = stored_rows(&deps, &import_id)
        .await?
        .into_iter()
        .map(|r| (r.row, r))
        .collect();
    let run = Run {
        deps: &deps,
        principal: &principal,
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
    }
    record.summarise(&outcomes);
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
    Ok((StatusCode::CREATED, Json(record.summary())).into_response())
}

/// The import, if the caller imported it or is an admin; 404 otherwise, as if it did not exist.
async fn visible_record(
    deps: &Deps,
    principal: &Principal,
    id: &str,
) -> Result<ImportRecord, ApiError> {
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, "not_found", "No such import.");
    if id.len() != 32
        || !id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(not_found());
    }
    match load_record(deps, id).await? {
        Some(record) if record.user == principal.user || principal.is_admin() => Ok(record),
        _ => Err(not_found()),
    }
}

/// `GET /v1/imports/customers/{id}`: the import's summary.
#[utoipa::path(
    get,
    path = "/v1/imports/customers/{id}",
    tag = "customers",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The import's id.")),
    responses(
        (status = 200, description = "The summary; only the importer and admins may read it.", body = ImportSummary),
        (status = 401, response = nhip_core::openapi::Unauthenticated),
        (status = 403, response = nhip_core::openapi::Forbidden),
        (status = 404, response = nhip_core::openapi::NotFound),
        (status = 503, response = nhip_core::openapi::Unavailable),
    )
)]
async fn import_summary(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<ImportSummary>, ApiError> {
    let record = visible_record(&deps, &principal, &id).await?;
    Ok(Json(record.summary()))
}

/// A cell as it goes into a file people open in Excel: text that Excel would run as a formula
/// (`=…`, `@…`, `+cmd…`) gets a leading apostrophe, which Excel shows as text and does not
/// save back. Phone numbers (`+84 912…`) stay as they are.
fn spreadsheet_safe(cell: &str) -> String {
    let risky = match cell.chars().next() {
        Some('=' | '@' | '\t' | '\r') => true,
        Some('+' | '-') => !cell[1..]
            .chars()
            .all(|c| c.is_ascii_digit() || " .()-".contains(c)),
        _ => false,
    };
    if risky {
        format!("'{cell}")
    } else {
        cell.to_owned()
    }
}

/// `GET /v1/imports/customers/{id}/errors.csv`: the failed rows as a UTF-8 CSV with a BOM (so
/// Excel reads the Vietnamese), in the file's columns plus "Dòng" (the row number) and "Lỗi"
/// (what to fix). Fixed, it can be imported again as it is.
#[utoipa::path(
    get,
    path = "/v1/imports/customers/{id}/errors.csv",
    tag = "customers",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The import's id.")),
    responses(
        (status = 200, description = "The failed rows: UTF-8 with a BOM, the file's columns plus \"Dòng\" and \"Lỗi\".", content_type = "text/csv", body = String),
        (status = 401, response = nhip_core::openapi::Unauthenticated),
        (status = 403, response = nhip_core::openapi::Forbidden),
        (status = 404, response = nhip_core::openapi::NotFound),
        (status = 503, response = nhip_core::openapi::Unavailable),
    )
)]
async fn error_report(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let record = visible_record(&deps, &principal, &id).await?;
    let rows = stored_rows(&deps, &record.import_id).await?;
    let write_failed = |e: csv::Error| {
        tracing::error!(error = %e, "writing an import's error report failed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "The report could not be written.",
        )
    };
    let mut writer = csv::WriterBuilder::new()
        .flexible(true)
        .terminator(csv::Terminator::CRLF)
        .from_writer(b"\xEF\xBB\xBF".to_vec());
    let mut header: Vec<&str> = record.headers.iter().map(String::as_str).collect();
    header.extend(["Dòng", "Lỗi"]);
    writer.write_record(&header).map_err(write_failed)?;
    for row in rows.iter().filter(|r| r.outcome == Outcome::Failed) {
        let mut cells: Vec<String> = (0..record.headers.len())
            .map(|i| spreadsheet_safe(row.values.get(i).map(String::as_str).unwrap_or_default()))
            .collect();
        cells.push(row.row.to_string());
        let problems: Vec<String> = row
            .errors
            .iter()
            .map(|p| match &p.column {
                Some(column) => format!("{column}: {}", p.message),
                None => p.message.clone(),
            })
            .collect();
        cells.push(spreadsheet_safe(&problems.join("; ")));
        writer.write_record(&cells).map_err(write_failed)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| write_failed(csv::Error::from(e.into_error())))?;
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(value) = HeaderValue::from_str(&format!(
        "attachment; filename=\"nhap-khach-hang-{}-loi.csv\"",
        record.import_id
    )) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    // Personal data: never kept by a shared cache.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vietnamese_and_english_headers_fold_to_one_field() {
        for (header, field) in [
            ("Họ và tên", Field::FullName),
            ("  HỌ TÊN * ", Field::FullName),
            ("Tên khách hàng", Field::FullName),
            ("full_name", Field::FullName),
            ("Số điện thoại", Field::Phone),
            ("SĐT", Field::Phone),
            ("sdt", Field::Phone),
            ("Điện thoại", Field::Phone),
            ("E-mail", Field::Email),
            ("Ngày sinh", Field::Birthday),
            ("CCCD / CMT", Field::Cccd),
            ("Số CCCD", Field::Cccd),
            ("MST", Field::TaxCode),
            ("Mã số thuế", Field::TaxCode),
            ("Nhãn", Field::Tags),
            ("Người phụ trách", Field::Owner),
            ("Phân loại", Field::Classification),
            ("Đồng ý nhận tin", Field::Consents),
            ("tax_code", Field::TaxCode),
        ] {
            assert_eq!(meaning(header), Some(Meaning::Field(field)), "{header}");
        }
        // "Nguồn" (source) and "Người" differ only by a letter: no accidental match.
        assert_eq!(meaning("Nguồn"), Some(Meaning::Field(Field::Source)));
        assert_eq!(meaning("STT"), Some(Meaning::Ignored));
        assert_eq!(meaning("Lỗi"), Some(Meaning::Report));
        assert_eq!(meaning("Ghi chú"), None);
    }

    #[test]
    fn sources_and_classes_read_values_and_labels() {
        let source = |s| resolve(s, Source::ALL, Source::as_str, Source::label);
        assert_eq!(source("Giới thiệu"), Some(Source::Referral));
        assert_eq!(source("gioi thieu"), Some(Source::Referral));
        assert_eq!(source("website_form"), Some(Source::WebsiteForm));
        assert_eq!(source("Đăng ký qua website"), Some(Source::WebsiteForm));
        assert_eq!(source("tivi"), None);
        let class = |s| {
            resolve(
                s,
                Classification::ALL,
                Classification::as_str,
                Classification::label,
            )
        };
        assert_eq!(class("Không tiềm năng"), Some(Classification::NotPotential));
        assert_eq!(class("not_potential"), Some(Classification::NotPotential));
        assert_eq!(class("Gấp"), Some(Classification::Urgent));
    }

    #[test]
    fn the_delimiter_is_sniffed_from_the_header() {
        assert_eq!(delimiter("a,b,c\n1;2,3"), b',');
        assert_eq!(delimiter("Họ và tên;SĐT;\"Nhãn, khác\"\n"), b';');
        assert_eq!(delimiter("a\tb\tc"), b'\t');
        assert_eq!(delimiter("name"), b',');
    }

    #[test]
    fn invalid_utf8_names_its_byte_and_line() {
        let error = decode(b"ho ten,sdt\nNguy\xEAn,0912345678\n").unwrap_err();
        assert_eq!(error.code, "invalid_encoding");
        assert!(error.message.contains("0xEA"), "{}", error.message);
        assert!(error.message.contains("line 2"), "{}", error.message);
        assert_eq!(decode(b"\xEF\xBB\xBFa,b").unwrap(), "a,b");
    }

    #[test]
    fn formulas_are_neutralised_but_phone_numbers_are_not() {
        assert_eq!(spreadsheet_safe("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(
            spreadsheet_safe("+cmd|' /C calc'!A0"),
            "'+cmd|' /C calc'!A0"
        );
        assert_eq!(spreadsheet_safe("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(spreadsheet_safe("+84 912 345 678"), "+84 912 345 678");
        assert_eq!(spreadsheet_safe("Nguyễn Văn An"), "Nguyễn Văn An");
    }

    #[test]
    fn the_import_id_depends_on_file_and_user() {
        let a = import_id("lan", "abc");
        assert_eq!(a.len(), 32);
        assert_eq!(a, import_id("lan", "abc"));
        assert_ne!(a, import_id("hoa", "abc"));
        assert_ne!(a, import_id("lan", "abd"));
    }
}
