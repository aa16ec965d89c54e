//! Reading an import file: its bytes to rows (UTF-8, the sniffed delimiter, the row limits),
//! and one row to the customer it describes, validated as the staff create route validates, or
//! every problem it has.

use chrono::{DateTime, Utc};
use nhip_domain::customer::{Classification, Source};
use nhip_domain::person::fold;
use serde_json::{Map, Value, json};

use super::super::model::Customer;
use super::super::routes;
use super::columns::{Field, Layout};
use super::{ImportError, MAX_IMPORT_ROWS};
use nhip_core::auth::Principal;
use nhip_core::form::FieldErrors;

/// Highest spreadsheet row number a data row may have: row keys carry five digits.
const MAX_ROW_NUMBER: usize = 99_999;

/// Longest cell accepted (the field validators are stricter; this bounds what a failed row
/// stores for the error report).
pub(super) const MAX_CELL_CHARS: usize = 1_000;

/// One data row.
#[derive(Debug, Clone)]
pub(super) struct Row {
    /// As a spreadsheet numbers it: the header is row 1.
    pub(super) number: u32,
    /// The cells as written.
    pub(super) cells: Vec<String>,
}

/// The file as text: UTF-8 without its BOM, or the first bad byte and its line.
pub(super) fn decode(bytes: &[u8]) -> Result<&str, ImportError> {
    const BOM: &[u8] = b"\xEF\xBB\xBF";
    let (offset, body) = match bytes.strip_prefix(BOM) {
        Some(rest) => (BOM.len(), rest),
        None => (0, bytes),
    };
    std::str::from_utf8(body).map_err(|e| {
        let at = e.valid_up_to();
        ImportError::InvalidEncoding {
            byte: body[at],
            offset: offset + at,
            line: body[..at].iter().filter(|b| **b == b'\n').count() + 1,
        }
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

fn invalid_csv(source: csv::Error) -> ImportError {
    let line = source.position().map(|p| p.line()).unwrap_or_default();
    ImportError::InvalidCsv { line, source }
}

/// The header and the data rows. Rows whose cells are all blank (a spreadsheet's empty rows)
/// are skipped but keep their numbers; blank lines are ignored.
pub(super) fn parse(text: &str) -> Result<(Layout, Vec<Row>), ImportError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter(text))
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let header = match records.next() {
        Some(record) => record.map_err(invalid_csv)?,
        None => return Err(ImportError::EmptyFile),
    };
    let layout = Layout::from_header(&header)?;
    let mut rows = Vec::new();
    for (index, record) in records.enumerate() {
        let record = record.map_err(invalid_csv)?;
        if record.iter().all(|cell| cell.trim().is_empty()) {
            continue;
        }
        let number = index + 2;
        if rows.len() == MAX_IMPORT_ROWS || number > MAX_ROW_NUMBER {
            return Err(ImportError::TooManyRows);
        }
        rows.push(Row {
            number: u32::try_from(number).map_err(|_| ImportError::TooManyRows)?,
            cells: record.iter().map(str::to_owned).collect(),
        });
    }
    if rows.is_empty() {
        return Err(ImportError::NoRows);
    }
    Ok((layout, rows))
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

/// A problem of a row: the column it is in (`None` for the row as a whole) and what to fix,
/// in Vietnamese.
pub(super) type RowProblem = (Option<Field>, String);

/// A valid row: the customer it describes, and whether it named an owner.
pub(super) struct Candidate {
    pub(super) customer: Customer,
    pub(super) names_owner: bool,
}

/// Validates one row as the staff create route validates its body, with the problems only a
/// file can have (cells too long, unknown sources, extra cells, no identifier at all).
pub(super) fn validate(
    layout: &Layout,
    import_id: &str,
    principal: &Principal,
    now: DateTime<Utc>,
    row: &Row,
) -> Result<Candidate, Vec<RowProblem>> {
    let mut problems = Vec::new();
    let body = body(layout, import_id, row, &mut problems);
    let mut errors = FieldErrors::default();
    let candidate = routes::new_customer(&body, principal, now, "import", &mut errors);
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
            .find(|f| layout.column(*f).is_some());
        problems.push((
            column,
            "Cần số điện thoại, email hoặc số CCCD để nhận diện khách hàng.".to_owned(),
        ));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Candidate {
        customer: candidate,
        names_owner: body.contains_key("owner"),
    })
}

/// The row as the create route's JSON body, plus the problems only a file can have.
fn body(
    layout: &Layout,
    import_id: &str,
    row: &Row,
    problems: &mut Vec<RowProblem>,
) -> Map<String, Value> {
    let mut body = Map::new();
    for (index, field) in layout.fields.iter().enumerate() {
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
        json!(format!("import {}, dòng {}", import_id, row.number)),
    );
    let width = layout.fields.len();
    if row.cells.iter().skip(width).any(|c| !c.trim().is_empty()) {
        problems.push((
            None,
            format!("Dòng có nhiều ô hơn số cột tiêu đề ({width})."),
        ));
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(
            matches!(
                error,
                ImportError::InvalidEncoding {
                    byte: 0xEA,
                    line: 2,
                    ..
                }
            ),
            "{error:?}"
        );
        let error = nhip_core::http::ApiError::from(error);
        assert_eq!(error.code, "invalid_encoding");
        assert!(error.message.contains("0xEA"), "{}", error.message);
        assert!(error.message.contains("line 2"), "{}", error.message);
        assert_eq!(decode(b"\xEF\xBB\xBFa,b").unwrap(), "a,b");
    }
}
