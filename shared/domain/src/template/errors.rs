//! Template problems per field, in Vietnamese, for the people who write templates. Liquid's own
//! error text is never passed on: besides being English, it quotes the values a filter or a
//! comparison was given, and those are customer data. Only names taken from the template (the
//! variable, the filter, the tag, a line and column, the tag being rendered as the template
//! wrote it) are read out of it.

use std::collections::BTreeMap;

use super::CUSTOMER_FIELDS;

/// Problems found in a template, by field path (`subject`, `html`, `text`, `params.so_tien`,
/// `template_id`, …) with a Vietnamese message that names the field's variable or filter and
/// never the data. `Display` joins them as `field: message; field: message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", join(.0))]
pub struct TemplateErrors(pub BTreeMap<String, String>);

fn join(errors: &BTreeMap<String, String>) -> String {
    errors
        .iter()
        .map(|(field, message)| format!("{field}: {message}"))
        .collect::<Vec<_>>()
        .join("; ")
}

impl TemplateErrors {
    /// The message for `field`, if it has a problem.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }
}

/// Collects problems while compiling or rendering; one field may have several, joined by "; ".
#[derive(Debug, Default)]
pub(super) struct Problems(BTreeMap<String, Vec<String>>);

impl Problems {
    pub(super) fn add(&mut self, field: &str, message: String) {
        let messages = self.0.entry(field.to_string()).or_default();
        if !messages.contains(&message) {
            messages.push(message);
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The problems as the public error, or `None` when there are none.
    pub(super) fn into_errors(self) -> Option<TemplateErrors> {
        (!self.is_empty()).then(|| {
            TemplateErrors(
                self.0
                    .into_iter()
                    .map(|(field, messages)| (field, messages.join("; ")))
                    .collect(),
            )
        })
    }

    /// `value` when nothing went wrong. `value` is `None` only when a field failed, which has
    /// added a problem; the fallback message is for a broken invariant.
    pub(super) fn finish<T>(self, value: Option<T>) -> Result<T, TemplateErrors> {
        match (self.into_errors(), value) {
            (Some(errors), _) => Err(errors),
            (None, Some(value)) => Ok(value),
            (None, None) => Err(TemplateErrors(BTreeMap::from([(
                "template".to_string(),
                "Không xử lý được mẫu".to_string(),
            )]))),
        }
    }
}

/// Who is asking: the save-time check (an unknown name is the template's fault) or a real send
/// (the name is missing from this customer's data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stage {
    Check,
    Send,
}

/// The value of a `key=value` context line in a Liquid error's text.
fn context<'t>(text: &'t str, key: &str) -> Option<&'t str> {
    text.lines().find_map(|line| {
        line.trim_start()
            .strip_prefix(key)
            .and_then(|rest| rest.strip_prefix('='))
    })
}

/// `name` when it reads as a template name (letters, digits, `_`, `-`, `.`, `[`, `]`, at most
/// 100 characters), so nothing else that Liquid put in its message can leak out.
fn template_name(name: &str) -> Option<&str> {
    let name = name.trim();
    let ok = !name.is_empty()
        && name.chars().count() <= 100
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '[' | ']'));
    ok.then_some(name)
}

/// The filter's name from a `filter=` context line (the line holds the filter as written, with
/// its arguments).
fn filter_name(text: &str) -> Option<&str> {
    context(text, "filter")
        .and_then(|f| f.split([':', ' ']).next())
        .and_then(template_name)
}

/// A Vietnamese message for a Liquid syntax error.
pub(super) fn describe_parse_error(error: &liquid::Error) -> String {
    let text = error.to_string();
    if let Some(name) = context(&text, "requested filter").and_then(template_name) {
        return format!("Bộ lọc `{name}` không tồn tại");
    }
    if text.contains("Unknown tag.")
        && let Some(name) = context(&text, "requested").and_then(template_name)
    {
        return format!("Thẻ `{name}` không tồn tại");
    }
    if text.contains("Filter parsing error")
        && let Some(name) = filter_name(&text)
    {
        return format!("Tham số của bộ lọc `{name}` không hợp lệ");
    }
    // pest marks the position as ` --> line:column`.
    let position = text.split_once("--> ").and_then(|(_, rest)| {
        let (line, rest) = rest.split_once(':')?;
        let column: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let line: u32 = line.trim().parse().ok()?;
        let column: u32 = column.parse().ok()?;
        Some((line, column))
    });
    match position {
        Some((line, column)) => {
            format!("Cú pháp Liquid không hợp lệ ở dòng {line}, cột {column}")
        }
        None => "Cú pháp Liquid không hợp lệ".to_string(),
    }
}

/// The message for a name the template uses that the check does not know, with the names it
/// could have meant.
pub(super) fn unknown_name(name: &str) -> String {
    let known = match name.split('.').next() {
        Some("customer") => format!(
            "customer có: {}; trường riêng dùng customer.attributes.*",
            CUSTOMER_FIELDS.join(", ")
        ),
        Some("organisation") => "organisation có: name, hotline, website".to_string(),
        Some("message") => "message có: id, unsubscribe_url".to_string(),
        _ => {
            "dùng customer.*, holding.*, journey.*, event.*, message.*, organisation.*".to_string()
        }
    };
    format!("Biến `{name}` không tồn tại ({known})")
}

/// A Vietnamese message for a failed render. `overflowed` when the output hit the size cap.
pub(super) fn describe_render_error(
    error: &liquid::Error,
    overflowed: bool,
    stage: Stage,
    max_bytes: usize,
) -> String {
    if overflowed {
        return format!("Nội dung sau khi hiển thị dài quá {max_bytes} byte");
    }
    let text = error.to_string();
    let first = text.lines().next().unwrap_or_default();
    let variable = if first.ends_with("Unknown variable") {
        context(&text, "requested variable")
            .and_then(template_name)
            .map(str::to_string)
    } else if first.ends_with("Unknown index") {
        match (
            context(&text, "variable").and_then(template_name),
            context(&text, "requested index").and_then(template_name),
        ) {
            (Some(parent), Some(index)) => Some(format!("{parent}.{index}")),
            _ => None,
        }
    } else {
        None
    };
    if let Some(variable) = variable {
        return match stage {
            Stage::Check => unknown_name(&variable),
            Stage::Send => format!("Thiếu dữ liệu cho biến `{variable}`"),
        };
    }
    if first.ends_with("Unknown variable") || first.ends_with("Unknown index") {
        return match stage {
            Stage::Check => "Mẫu dùng một biến không tồn tại".to_string(),
            Stage::Send => "Thiếu dữ liệu cho một biến của mẫu".to_string(),
        };
    }
    if let Some(filter) = filter_name(&text) {
        return format!("Giá trị đưa vào bộ lọc `{filter}` không hợp lệ");
    }
    if first.contains("Expected array") {
        return "Vòng lặp `for` cần một danh sách".to_string();
    }
    // The innermost `from:` line naming a tag or an output is what was being rendered, as the
    // template wrote it.
    match text
        .lines()
        .filter_map(|line| line.strip_prefix("from: "))
        .map(str::trim)
        .find(|from| from.starts_with("{%") || from.starts_with("{{"))
        .filter(|from| from.chars().count() <= 120)
    {
        Some(from) => format!("Không hiển thị được đoạn `{from}`"),
        None => "Không hiển thị được mẫu".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_joins_fields() {
        let errors = TemplateErrors(BTreeMap::from([
            ("subject".to_string(), "a".to_string()),
            ("html".to_string(), "b".to_string()),
        ]));
        assert_eq!(errors.to_string(), "html: b; subject: a");
        assert_eq!(errors.get("html"), Some("b"));
        assert_eq!(errors.get("text"), None);
    }

    #[test]
    fn template_names_refuse_anything_else() {
        assert_eq!(template_name("customer.nmae"), Some("customer.nmae"));
        assert_eq!(template_name("số_tiền"), Some("số_tiền"));
        assert_eq!(template_name("Nguyễn Văn Minh"), None);
        assert_eq!(template_name("a@b.vn"), None);
        assert_eq!(template_name(""), None);
        assert_eq!(template_name(&"a".repeat(101)), None);
    }

    #[test]
    fn problems_deduplicate_and_join() {
        let mut problems = Problems::default();
        problems.add("text", "x".to_string());
        problems.add("text", "x".to_string());
        problems.add("text", "y".to_string());
        let errors = problems.into_errors().expect("errors");
        assert_eq!(errors.get("text"), Some("x; y"));
        assert_eq!(Problems::default().finish(Some(1)), Ok(1));
    }
}
