//! Reading a journey from YAML or JSON, and the error type of reading and validating.
//!
//! A parse error becomes one field error: the field's path (`steps.nhac-lan-2.wait`) when the
//! parser knows it, else `journey`, with a Vietnamese message and the line and column. The
//! parsers' own messages quote what was written (`invalid type: string "abc"`), so they are
//! never passed on: only the kind of problem and the names the schema defines are.

use std::collections::BTreeMap;

use serde::Deserialize;
use unicode_normalization::UnicodeNormalization;

use super::condition::SINCE_HINT;
use super::span::{CLOCK_HINT, SPAN_HINT};
use super::{Journey, NotifyTarget, Step};

/// Problems with a journey by field path (`key`, `start`, `steps.nhac-lan-2.next`,
/// `steps.chia-nhom.branches`, …), each a Vietnamese message naming the step. `Display` joins
/// them as `field: message; field: message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", join(.0))]
pub struct JourneyErrors(pub BTreeMap<String, String>);

fn join(errors: &BTreeMap<String, String>) -> String {
    errors
        .iter()
        .map(|(field, message)| format!("{field}: {message}"))
        .collect::<Vec<_>>()
        .join("; ")
}

impl JourneyErrors {
    /// The message for `field`, if it has a problem.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    /// The fields with problems.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// A single problem.
    pub fn one(field: impl Into<String>, message: impl Into<String>) -> Self {
        JourneyErrors(BTreeMap::from([(field.into(), message.into())]))
    }
}

/// Collects problems; one field may have several, joined by "; ".
#[derive(Debug, Default)]
pub(super) struct Problems(BTreeMap<String, Vec<String>>);

impl Problems {
    pub(super) fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        let message = message.into();
        let messages = self.0.entry(field.into()).or_default();
        if !messages.contains(&message) {
            messages.push(message);
        }
    }

    pub(super) fn finish(self) -> Result<(), JourneyErrors> {
        if self.0.is_empty() {
            return Ok(());
        }
        Err(JourneyErrors(
            self.0
                .into_iter()
                .map(|(field, messages)| (field, messages.join("; ")))
                .collect(),
        ))
    }
}

/// Reads a journey written in YAML. Anchors, aliases and merge keys (`<<`) are allowed; a key
/// written twice is refused. Text is NFC-normalised. The result is not yet validated: call
/// [`super::validate`].
pub fn parse_yaml(text: &str) -> Result<Journey, JourneyErrors> {
    let located = |error: &yaml_serde::Error| error.location().map(|l| (l.line(), l.column()));
    let mut document: yaml_serde::Value = yaml_serde::from_str(text)
        .map_err(|error| syntax_error(&error.to_string(), located(&error), "YAML"))?;
    document
        .apply_merge()
        .map_err(|error| syntax_error(&error.to_string(), located(&error), "YAML"))?;
    // Through JSON values: yaml_serde reads enums only from YAML tags (`!all`), while the
    // schema writes them as one-key maps (`all: [...]`), the same as in JSON.
    let value = serde_json::to_value(&document).map_err(|_| {
        JourneyErrors::one(
            WHOLE,
            "YAML có khoá không phải chuỗi hoặc giá trị không đọc được",
        )
    })?;
    from_value(&value, |path| locate_yaml(text, path))
}

/// Reads a journey written in JSON (the same schema as YAML). Text is NFC-normalised. The
/// result is not yet validated: call [`super::validate`].
pub fn parse_json(text: &str) -> Result<Journey, JourneyErrors> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|error| {
        let location = (error.line() > 0).then(|| (error.line(), error.column()));
        syntax_error(&error.to_string(), location, "JSON")
    })?;
    from_value(&value, |_| {
        // serde_json stops where the problem is found: the position of the field's value or
        // just after the object that holds it.
        serde_json::from_str::<Journey>(text)
            .err()
            .filter(|e| e.line() > 0)
            .map(|e| (e.line(), e.column()))
    })
}

/// `per` written on a segment or manual trigger.
const PER_ONLY_ON_EVENTS: &str = "per chỉ dùng với điều kiện bắt đầu là sự kiện (type: event): mỗi giá trị của trường đó trong dữ liệu sự kiện có một lần tham gia riêng";

/// The field key of a problem that has no better place.
const WHOLE: &str = "journey";

/// A problem found while reading the text itself (syntax, a repeated key).
fn syntax_error(raw: &str, location: Option<(usize, usize)>, format: &str) -> JourneyErrors {
    let (path, message) = split_path(raw);
    let mut text = describe(message, format);
    if let Some((line, column)) = location {
        text.push_str(&format!(" (dòng {line}, cột {column})"));
    }
    JourneyErrors::one(path.unwrap_or(WHOLE), text)
}

/// The journey in `value`, or the problem: the deepest field that fails on its own, its
/// message, and where it is in the text (`locate`).
fn from_value(
    value: &serde_json::Value,
    locate: impl Fn(&str) -> Option<(usize, usize)>,
) -> Result<Journey, JourneyErrors> {
    let error = match Journey::deserialize(value) {
        Ok(journey) => return Ok(normalized(journey)),
        Err(error) => error,
    };
    let (path, error) = super::probe::journey(value).unwrap_or((String::new(), error));
    let raw = error.to_string();
    let (path, message) = super::probe::refine(path, &raw, value);
    let mut text = if path == "trigger.per" && message.starts_with("unknown field `per`") {
        PER_ONLY_ON_EVENTS.to_owned()
    } else {
        describe(&message, "")
    };
    if let Some((line, column)) = locate(&path) {
        text.push_str(&format!(" (dòng {line}, cột {column})"));
    }
    let field = if path.is_empty() {
        WHOLE.to_owned()
    } else {
        path
    };
    Err(JourneyErrors::one(field, text))
}

/// `(path, message)` of a yaml_serde message (`steps: duplicate entry … at line 3 …`); other
/// messages have no path. The location suffix is dropped (it is reported separately).
fn split_path(raw: &str) -> (Option<&str>, &str) {
    let message = raw.split(" at line ").next().unwrap_or(raw);
    match message.split_once(": ") {
        Some((path, rest))
            if !path.is_empty()
                && path
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.[]?".contains(c)) =>
        {
            (Some(path), rest)
        }
        _ => (None, message),
    }
}

/// Whether a message is one of Nhịp's own (Vietnamese, quoting nothing), which pass as they are.
fn is_ours(message: &str) -> bool {
    [SPAN_HINT, CLOCK_HINT, SINCE_HINT].contains(&message)
}

/// The line and column (1-based) of the node at `path` in YAML `text`, found by reading keys
/// and list items by their indentation (block style) or within a line (flow style). Best
/// effort: the deepest part of the path it can find.
fn locate_yaml(text: &str, path: &str) -> Option<(usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found: Option<(usize, usize)> = None;
    // The line of the current node, where its own content starts, and its indentation.
    let mut line = 0usize;
    let mut from_column = 0usize;
    let mut indent: Option<usize> = None;
    for segment in super::probe::segments(path) {
        let hit = match segment {
            super::probe::Segment::Key(key) => find_key(&lines, line, from_column, indent, key),
            super::probe::Segment::Index(index) => find_item(&lines, line, indent, index),
        };
        let Some((at_line, column, content_indent)) = hit else {
            break;
        };
        found = Some((at_line + 1, column + 1));
        line = at_line;
        from_column = column + 1;
        indent = Some(content_indent);
    }
    found
}

/// Where `key:` is: first within the current line after `from_column` (flow style), then on
/// the following lines indented deeper than `indent` (block style). Returns the line, the
/// column and the indentation of the key's content.
fn find_key(
    lines: &[&str],
    line: usize,
    from_column: usize,
    indent: Option<usize>,
    key: &str,
) -> Option<(usize, usize, usize)> {
    let written = [format!("{key}:"), format!("\"{key}\":")];
    if indent.is_some()
        && let Some(current) = lines.get(line)
    {
        let rest = current.get(from_column..).unwrap_or("");
        for pattern in &written {
            if let Some(at) = rest.find(pattern.as_str()) {
                let before = rest[..at].chars().last();
                if before.is_none_or(|c| c == '{' || c == ',' || c == ' ' || c == '-') {
                    return Some((line, from_column + at, from_column + at));
                }
            }
        }
    }
    let start = if indent.is_some() { line + 1 } else { 0 };
    for (number, text) in lines.iter().enumerate().skip(start) {
        let trimmed = text.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        // A list item's first key sits after its dash.
        let mut column = text.len() - trimmed.len();
        let mut content = trimmed;
        while let Some(after) = content.strip_prefix("- ") {
            let inner = after.trim_start();
            column += content.len() - inner.len();
            content = inner;
        }
        if indent.is_some_and(|parent| text.len() - trimmed.len() <= parent) {
            return None;
        }
        if written.iter().any(|p| content.starts_with(p.as_str())) {
            return Some((number, column, column));
        }
    }
    None
}

/// Where item `index` of the list under the current node is (block style `- ` lines).
fn find_item(
    lines: &[&str],
    line: usize,
    indent: Option<usize>,
    index: usize,
) -> Option<(usize, usize, usize)> {
    let mut item_indent = None;
    let mut count = 0;
    for (number, text) in lines.iter().enumerate().skip(line + 1) {
        let trimmed = text.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let own = text.len() - trimmed.len();
        if indent.is_some_and(|parent| own < parent) || item_indent.is_some_and(|i| own < i) {
            return None;
        }
        if !trimmed.starts_with("- ") || item_indent.is_some_and(|i| own != i) {
            continue;
        }
        item_indent = Some(own);
        if count == index {
            return Some((number, own, own));
        }
        count += 1;
    }
    None
}

/// A Vietnamese sentence for a parser message, keeping only schema names.
fn describe(message: &str, format: &str) -> String {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let expected = expected_names(rest);
        return match (backticked(rest), expected.is_empty()) {
            (Some(name), false) => {
                format!("trường \"{name}\" không có trong mẫu này; các trường hợp lệ: {expected}")
            }
            (Some(name), true) => format!("trường \"{name}\" không có trong mẫu này"),
            (None, _) => "có trường không có trong mẫu này".to_owned(),
        };
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        return match backticked(rest) {
            Some(name) => format!("thiếu trường bắt buộc \"{name}\""),
            None => "thiếu trường bắt buộc".to_owned(),
        };
    }
    if let Some(rest) = message.strip_prefix("duplicate field `") {
        return match backticked(rest) {
            Some(name) => format!("trường \"{name}\" bị lặp lại"),
            None => "có trường bị lặp lại".to_owned(),
        };
    }
    if let Some(rest) = message.strip_prefix("duplicate entry") {
        // Keys are the schema's or step ids: named when they look like one.
        let key = rest
            .strip_prefix(" with key \"")
            .and_then(|k| k.strip_suffix('"'))
            .filter(|k| is_plain_name(k));
        return match key {
            Some(key) => format!("khoá \"{key}\" bị viết hai lần (ví dụ hai bước cùng mã)"),
            None => "có khoá bị viết hai lần (ví dụ hai bước cùng mã)".to_owned(),
        };
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        // The variant is what was written: only the accepted ones are named.
        let expected = expected_names(rest);
        return if expected.is_empty() {
            "giá trị không hợp lệ".to_owned()
        } else {
            format!("giá trị không hợp lệ; chọn một trong: {expected}")
        };
    }
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        // `invalid type: string "abc", expected a sequence`: keep the kinds only.
        let found = kind_of(rest);
        let expected = match rest.rsplit_once(", expected ") {
            // Nhịp's own parsers say what they expect in Vietnamese.
            Some((_, e)) if is_ours(e) => return e.to_owned(),
            Some((_, e)) => expected_kind(e),
            None => "giá trị khác",
        };
        return format!("sai kiểu dữ liệu: cần {expected}, nhưng đây là {found}");
    }
    if message.starts_with("invalid value: ") || message.starts_with("invalid length ") {
        return "giá trị không hợp lệ".to_owned();
    }
    if message.starts_with("data did not match any variant") {
        return "giá trị không khớp với kiểu nào được hỗ trợ".to_owned();
    }
    if is_ours(message) {
        return message.to_owned();
    }
    if message.starts_with("EOF while parsing") || message.contains("end of stream") {
        return format!("{format} bị cắt cụt: thiếu phần cuối")
            .trim_start()
            .to_owned();
    }
    if format.is_empty() {
        return "giá trị không hợp lệ".to_owned();
    }
    format!("cú pháp {format} không hợp lệ")
}

/// The text between the first pair of backticks at the start of `rest` (which follows an
/// opening backtick), when it is a plausible schema name.
fn backticked(rest: &str) -> Option<&str> {
    let name = rest.split('`').next()?;
    is_plain_name(name).then_some(name)
}

/// A schema name or step id: short, lower-case ASCII letters, digits, `_` and `-`.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// The names after "expected one of" / "expected", which are the schema's own.
fn expected_names(rest: &str) -> String {
    let Some((_, expected)) = rest.rsplit_once("expected ") else {
        return String::new();
    };
    expected
        .split('`')
        .skip(1)
        .step_by(2)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The kind of value serde found, without the value.
fn kind_of(rest: &str) -> &'static str {
    let found = rest.split(", expected ").next().unwrap_or("");
    match found.split_whitespace().next().unwrap_or("") {
        "string" | "character" => "một chuỗi",
        "integer" | "floating" => "một số",
        "boolean" => "đúng/sai",
        "sequence" => "một danh sách",
        "map" => "một bảng khoá–giá trị",
        "unit" | "null" => "giá trị rỗng",
        _ => "giá trị khác",
    }
}

/// The kind serde expected, in Vietnamese.
fn expected_kind(expected: &str) -> &'static str {
    let e = expected.trim();
    if e.contains("sequence") || e.starts_with("a list") {
        "một danh sách"
    } else if e.contains("string") || e.contains("char") {
        "một chuỗi"
    } else if e.starts_with('u') || e.starts_with('i') || e.contains("integer") {
        "một số nguyên"
    } else if e.starts_with('f') || e.contains("number") {
        "một số"
    } else if e.contains("bool") {
        "đúng/sai"
    } else if e.contains("map") || e.contains("struct") || e.contains("enum") {
        "một bảng khoá–giá trị"
    } else {
        "giá trị khác"
    }
}

/// The journey with its staff-facing text in NFC (forms and editors send either form).
fn normalized(mut journey: Journey) -> Journey {
    let nfc = |text: &mut String| *text = text.nfc().collect();
    nfc(&mut journey.name);
    if let Some(description) = journey.description.as_mut() {
        nfc(description);
    }
    journey.goals.iter_mut().for_each(|g| nfc(&mut g.name));
    journey.stops.iter_mut().for_each(|s| nfc(&mut s.name));
    for step in journey.steps.values_mut() {
        match step {
            Step::Ticket { title, .. } => nfc(title),
            Step::Notify { title, to, .. } => {
                nfc(title);
                if let NotifyTarget::User(name) = to {
                    nfc(name);
                }
            }
            Step::Split { branches } => branches
                .iter_mut()
                .filter_map(|b| b.label.as_mut())
                .for_each(nfc),
            Step::Update {
                add_tags,
                remove_tags,
                ..
            } => add_tags.iter_mut().chain(remove_tags).for_each(nfc),
            _ => {}
        }
    }
    journey
}
