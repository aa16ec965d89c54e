//! Bulk import of customers from a CSV file (`POST /v1/imports/customers`).
//!
//! The file is UTF-8 (a BOM is stripped), comma-, semicolon- or tab-separated (sniffed from the
//! header line: Excel in a Vietnamese locale saves with `;`), with English or Vietnamese headers
//! matched without case or diacritics ("Số điện thoại", "SĐT", "so dien thoai", "phone").
//! Every row goes through the staff create route's validation
//! ([`routes::new_customer`](super::routes::new_customer)) and all its problems are reported at
//! once, by spreadsheet row number (the header is row 1) and column as written in the file.
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
//!
//! # Layout
//! - [`columns`]: the fields a column can hold, the accepted English and Vietnamese headers,
//!   and a file's column layout (unknown, repeated and missing columns are refused).
//! - [`parse`]: the file's bytes to rows (encoding, delimiter, row limits), and one row to a
//!   validated customer, or its problems.
//! - [`records`]: what is stored: the import record with its summary, each row's outcome,
//!   the import id.
//! - [`apply`]: the import use case ([`run`]): each row created or merged into the customer
//!   its identifiers lead to, retrying lost races, its outcome stored; resuming a cut-short run.
//! - [`report`]: reading an import back: its summary, and the failed rows as a CSV people fix
//!   in Excel and import again.
//! - [`routes`]: the thin HTTP handlers and the mapping of [`ImportError`] to HTTP answers.

use nhip_ports::store::StoreError;

mod apply;
mod columns;
mod parse;
pub mod queued;
mod records;
mod report;
mod routes;

pub use apply::{Imported, run};
pub use records::{ImportSummary, RowError};
pub use report::{error_report, summary};
pub use routes::router;

/// Largest file accepted, in bytes.
pub const MAX_IMPORT_BYTES: usize = 5 * 1024 * 1024;

/// Most data rows in one file.
pub const MAX_IMPORT_ROWS: usize = 10_000;

/// Kind attribute of import records.
pub const KIND: &str = "import";

/// Kind attribute of import row outcomes.
pub const ROW_KIND: &str = "import_row";

/// Why an import, or reading one back, was refused. Problems of single rows are not errors:
/// they are the rows' outcomes, in the summary and the error report.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// No bytes, or no header line.
    #[error("the file is empty")]
    EmptyFile,
    /// Not UTF-8: the first bad byte, its offset in the file and its line.
    #[error("the file is not UTF-8: byte 0x{byte:02X} at offset {offset} (line {line})")]
    InvalidEncoding {
        byte: u8,
        offset: usize,
        line: usize,
    },
    /// The CSV does not parse.
    #[error("the file is not valid CSV near line {line}")]
    InvalidCsv {
        line: u64,
        #[source]
        source: csv::Error,
    },
    /// More than [`MAX_IMPORT_ROWS`] data rows, or a row number beyond five digits.
    #[error("the file has more than {MAX_IMPORT_ROWS} rows")]
    TooManyRows,
    /// A header and no data rows.
    #[error("the file has no data rows")]
    NoRows,
    /// Headers that name no field, as written.
    #[error("unknown columns: {0:?}")]
    UnknownColumns(Vec<String>),
    /// Headers that repeat a field already present, as written.
    #[error("repeated columns: {0:?}")]
    DuplicateColumns(Vec<String>),
    /// No name column.
    #[error("the file has no name column")]
    MissingNameColumn,
    /// No phone, e-mail or CCCD column to recognise known customers by.
    #[error("the file has no phone, e-mail or CCCD column")]
    MissingIdentifierColumn,
    /// No such import, or not the caller's.
    #[error("no such import")]
    NotFound,
    /// The error report could not be written.
    #[error("writing the error report failed")]
    Report(#[source] csv::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}
