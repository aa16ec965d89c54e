//! The columns of an import file: the customer fields a column can hold, the accepted headers
//! (English or Vietnamese, matched without case or diacritics) and a file's layout.

use nhip_domain::person::{fold, nfc};

use super::ImportError;
/// A customer field a column can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Field {
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
    pub(super) const ALL: [Field; 13] = [
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
    pub(super) fn name(self) -> &'static str {
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
    pub(super) fn label(self) -> &'static str {
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
    pub(super) fn noun(self) -> &'static str {
        match self {
            Field::Phone => "số điện thoại",
            Field::Email => "email",
            Field::Cccd => "số CCCD",
            other => other.label(),
        }
    }

    /// The field of a key of the create route's field errors (`phones[0]` → phone).
    pub(super) fn of_error_key(key: &str) -> Option<Field> {
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
pub(super) enum Meaning {
    /// A customer field.
    Field(Field),
    /// A column kept in the error report but not imported ("STT", the row counter).
    Ignored,
    /// A column of an earlier error report ("Dòng", "Lỗi"): dropped, so a corrected report
    /// can be imported as it is.
    Report,
}

/// Accepted headers, folded (see [`header_key`]).
pub(super) const HEADERS: &[(&str, Meaning)] = &[
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
pub(super) fn header_key(raw: &str) -> String {
    let trimmed = raw
        .trim()
        .trim_end_matches(['*', ':'])
        .replace(['_', '-'], " ");
    fold(&trimmed).replace(" /", "/").replace("/ ", "/")
}

pub(super) fn meaning(header: &str) -> Option<Meaning> {
    let key = header_key(header);
    HEADERS
        .iter()
        .find(|(alias, _)| *alias == key)
        .map(|(_, meaning)| *meaning)
}

/// The columns of a file.
#[derive(Debug, Clone)]
pub(super) struct Layout {
    /// Per column: the field it holds, if it is imported.
    pub(super) fields: Vec<Option<Field>>,
    /// Per column: the header as written (NFC, trimmed).
    pub(super) headers: Vec<String>,
    /// The columns repeated in the error report: every named column but an earlier report's.
    pub(super) report: Vec<usize>,
}

impl Layout {
    pub(super) fn from_header(record: &csv::StringRecord) -> Result<Self, ImportError> {
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
            return Err(ImportError::UnknownColumns(unknown));
        }
        if !duplicates.is_empty() {
            return Err(ImportError::DuplicateColumns(duplicates));
        }
        if layout.column(Field::FullName).is_none() {
            return Err(ImportError::MissingNameColumn);
        }
        if [Field::Phone, Field::Email, Field::Cccd]
            .iter()
            .all(|f| layout.column(*f).is_none())
        {
            return Err(ImportError::MissingIdentifierColumn);
        }
        Ok(layout)
    }

    pub(super) fn column(&self, field: Field) -> Option<usize> {
        self.fields.iter().position(|f| *f == Some(field))
    }

    /// The header of a field's column as written, for error entries.
    pub(super) fn header(&self, field: Option<Field>) -> Option<String> {
        field
            .and_then(|f| self.column(f))
            .map(|i| self.headers[i].clone())
    }
}

pub(super) fn quoted(items: &[String]) -> String {
    items
        .iter()
        .map(|h| format!("\"{h}\""))
        .collect::<Vec<_>>()
        .join(", ")
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
}
