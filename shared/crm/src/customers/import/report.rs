//! Reading an import back: its summary, and its failed rows as a CSV file people open in Excel,
//! fix and import again.

use super::ImportError;
use super::records::{ImportRecord, ImportSummary, Outcome, load_record, stored_rows};
use nhip_core::auth::Principal;
use nhip_core::deps::Deps;

/// The failed rows of an import, as a CSV file.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorReport {
    /// The import's id, for the file's name.
    pub import_id: String,
    /// UTF-8 with a BOM, CRLF line ends.
    pub csv: Vec<u8>,
}

/// The import, if the caller imported it or is an admin; `NotFound` otherwise, as if it did not
/// exist.
pub(super) async fn visible_record(
    deps: &Deps,
    principal: &Principal,
    id: &str,
) -> Result<ImportRecord, ImportError> {
    if id.len() != 32
        || !id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(ImportError::NotFound);
    }
    match load_record(deps, id).await? {
        Some(record) if record.user == principal.user || principal.is_admin() => Ok(record),
        _ => Err(ImportError::NotFound),
    }
}

/// The summary of import `id`, for its importer or an admin.
pub async fn summary(
    deps: &Deps,
    principal: &Principal,
    id: &str,
) -> Result<ImportSummary, ImportError> {
    Ok(visible_record(deps, principal, id).await?.summary())
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

/// The failed rows of import `id`, for its importer or an admin: UTF-8 with a BOM (so Excel
/// reads the Vietnamese), in the file's columns plus "Dòng" (the row number) and "Lỗi" (what
/// to fix). Fixed, it can be imported again as it is.
pub async fn error_report(
    deps: &Deps,
    principal: &Principal,
    id: &str,
) -> Result<ErrorReport, ImportError> {
    let record = visible_record(deps, principal, id).await?;
    let rows = stored_rows(deps, &record.import_id).await?;
    let mut writer = csv::WriterBuilder::new()
        .flexible(true)
        .terminator(csv::Terminator::CRLF)
        .from_writer(b"\xEF\xBB\xBF".to_vec());
    // The headers are the uploader's text too, and an admin may open another's report.
    let mut header: Vec<String> = record.headers.iter().map(|h| spreadsheet_safe(h)).collect();
    header.extend(["Dòng".to_owned(), "Lỗi".to_owned()]);
    writer.write_record(&header).map_err(ImportError::Report)?;
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
        writer.write_record(&cells).map_err(ImportError::Report)?;
    }
    let csv = writer
        .into_inner()
        .map_err(|e| ImportError::Report(csv::Error::from(e.into_error())))?;
    Ok(ErrorReport {
        import_id: record.import_id,
        csv,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
