//! Message templates: the content of a message per channel written in Liquid, compiled once,
//! checked when saved and rendered per customer.
//!
//! - [`Content`] holds a template's source per channel, and the rendered message in the same shape.
//! - [`Template::compile`] parses every field; [`Template::check`] also renders against
//!   [`MergeData::sample`] so an unknown name (`{{ khach.ten }}`, `{{ customer.nmae }}`) or a
//!   channel limit is caught when the template is saved, not when it is sent;
//!   [`Template::render`] renders for real and is strict: a name missing from the data fails
//!   the message rather than sending it half-filled.
//! - In the `html` part of an e-mail every string of the data is HTML-escaped first, so customer
//!   data never injects markup while the template's own HTML stays.
//! - Filters added to Liquid's standard library: `vnd` (`1.500.000 ₫`), `date_vn` (`24/11/2026`),
//!   `datetime_vn` (`01:30 24/11/2026`, Asia/Ho_Chi_Minh) and `unaccent`.
//! - [`sms_segments`] counts SMS segments as carriers bill them (accented Vietnamese is UCS-2, 70
//!   characters a segment); [`unaccent`] gives the unaccented form for brandname SMS.
//! - [`customer_title`] and [`customer_salutation`] build "Anh Minh", "Bà Lan", "Quý khách".
//!
//! Errors are [`TemplateErrors`]: Vietnamese messages by field that name the variable or filter
//! and never quote customer data.

mod address;
mod errors;
mod filters;
pub mod links;
mod sms;
mod view;

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::sync::LazyLock;

use liquid_core::ObjectView;
use serde::{Deserialize, Serialize};

pub use address::{SENIOR_AGE, customer_salutation, customer_title};
pub use errors::TemplateErrors;
pub use sms::{SmsEncoding, SmsSegments, sms_segments, unaccent};
pub use view::escape_html;

use errors::{Problems, Stage};
use view::{CheckView, Escape, Misses, Placeholder};

/// Zalo's tag on a ZNS template: Zalo only lets promotion-tagged templates carry advertising.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ZnsTag {
    /// Transaction notices (tag 1, "Giao dịch").
    Transaction,
    /// Customer care (tag 2, "Chăm sóc khách hàng").
    CustomerCare,
    /// After-sales and promotion (tag 3, "Hậu mãi"): the only tag allowed advertising.
    Promotion,
}

impl ZnsTag {
    /// The name Zalo's console shows.
    pub fn label(self) -> &'static str {
        match self {
            ZnsTag::Transaction => "Giao dịch",
            ZnsTag::CustomerCare => "Chăm sóc khách hàng",
            ZnsTag::Promotion => "Hậu mãi",
        }
    }

    /// Whether a template with this tag may carry marketing content: only [`ZnsTag::Promotion`].
    pub fn allows_marketing(self) -> bool {
        matches!(self, ZnsTag::Promotion)
    }
}

/// A file attached to an e-mail template (kept in the blob store; not rendered).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentRef {
    /// The file name the recipient sees.
    pub filename: String,
    /// Its MIME type, e.g. `application/pdf`.
    pub content_type: String,
    /// Where the blob store keeps it.
    pub blob_key: String,
}

/// A template's content per channel. The same shape holds the Liquid source and the rendered
/// output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "channel", rename_all = "snake_case", deny_unknown_fields)]
pub enum Content {
    /// An e-mail: subject, HTML and plain-text bodies, attachments.
    Email {
        /// One line; a newline after rendering is refused (header injection).
        subject: String,
        /// The HTML body; data strings are HTML-escaped when rendered.
        html: String,
        /// The plain-text body.
        text: String,
        /// Files attached as they are.
        #[serde(default)]
        attachments: Vec<AttachmentRef>,
    },
    /// An SMS (brandname).
    Sms {
        /// The message; must not be empty once rendered.
        text: String,
        /// Send without diacritics (GSM-7, 160 characters a segment instead of 70).
        #[serde(default)]
        unaccented: bool,
    },
    /// A Zalo notification: a template registered with Zalo and its parameters.
    Zns {
        /// Zalo's id of the registered template; copied, not rendered.
        template_id: String,
        /// Zalo's tag of that template; copied.
        tag: ZnsTag,
        /// Parameter name → Liquid; at most [`ZNS_MAX_CHARS`] characters rendered in all.
        params: BTreeMap<String, String>,
    },
    /// An app push notification.
    Push {
        /// The title line.
        title: String,
        /// The body.
        body: String,
        /// Where tapping leads; rendered, and dropped when it renders empty.
        #[serde(default)]
        deep_link: Option<String>,
    },
    /// A message posted to a webhook (chat tools, partner systems).
    Webhook {
        /// The text posted.
        text: String,
    },
}

impl Content {
    /// The channel's wire name: `email`, `sms`, `zns`, `push` or `webhook`.
    pub fn channel(&self) -> &'static str {
        match self {
            Content::Email { .. } => "email",
            Content::Sms { .. } => "sms",
            Content::Zns { .. } => "zns",
            Content::Push { .. } => "push",
            Content::Webhook { .. } => "webhook",
        }
    }
}

/// The customer fields a template may use, always present in [`MergeData::customer`] (null
/// when unknown): `title` is [`customer_title`], `salutation` [`customer_salutation`], `gender`
/// `male`/`female`/`other`, `birthday` `YYYY-MM-DD`, `tags` an array, `attributes` an object of
/// the firm's own fields (any key), `owner` the staff member in charge as
/// `{id, name, phone, email}`.
pub const CUSTOMER_FIELDS: &[&str] = &[
    "id",
    "full_name",
    "given_name",
    "title",
    "salutation",
    "gender",
    "birthday",
    "phone",
    "email",
    "lifecycle",
    "tags",
    "attributes",
    "owner",
];

/// Most characters of a rendered ZNS message (the sum of its parameter values).
pub const ZNS_MAX_CHARS: usize = 400;

/// Most bytes one rendered field may take; a template looping past it fails instead of filling
/// the memory of the function rendering it.
pub const MAX_RENDERED_BYTES: usize = 1024 * 1024;

/// The data merged into a template. Every namespace is a JSON object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MergeData {
    /// The customer: see [`CUSTOMER_FIELDS`].
    pub customer: serde_json::Value,
    /// The product or contract the message is about; open: any keys (`product`, `amount`,
    /// `due_date`, …). `None` when the message is not about one.
    pub holding: Option<serde_json::Value>,
    /// The journey sending the message; open.
    pub journey: Option<serde_json::Value>,
    /// The event that triggered it; open.
    pub event: Option<serde_json::Value>,
    /// The message itself: `id`, `unsubscribe_url`.
    pub message: serde_json::Value,
    /// The sending firm: `name`, `hotline`, `website`.
    pub organisation: serde_json::Value,
}

impl MergeData {
    /// Realistic Vietnamese sample data (an instalment loan customer), used by
    /// [`Template::check`] and for previews. Its customer has exactly [`CUSTOMER_FIELDS`].
    pub fn sample() -> MergeData {
        use serde_json::json;
        MergeData {
            customer: json!({
                "id": "01JD6Q4ZK8N3V5W7X9Y1Z2A3B4",
                "full_name": "Nguyễn Văn Minh",
                "given_name": "Minh",
                "title": "Anh",
                "salutation": "Anh Minh",
                "gender": "male",
                "birthday": "1988-04-12",
                "phone": "0912345678",
                "email": "minh.nguyen@example.vn",
                "lifecycle": "customer",
                "tags": ["vip", "tra_gop"],
                "attributes": {
                    "cif": "CIF00123456",
                    "branch": "Chi nhánh Hoàn Kiếm",
                },
                // The staff member who owns the customer, as the customer record names them.
                "owner": "thu.tran",
            }),
            holding: Some(json!({
                "product": "Vay tiêu dùng trả góp",
                "contract_no": "HD-2026-000123",
                "amount": 3250000,
                "due_date": "2026-12-05",
                "installment_no": 7,
                "installments_total": 24,
                "outstanding": 52000000,
                "days_left": 5,
            })),
            journey: Some(json!({
                "id": "01JD6Q4ZK8N3V5W7X9Y1Z2A3B6",
                "name": "Nhắc hạn trả góp",
                "step": "D-5",
            })),
            event: Some(json!({
                "type": "installment.due",
                "occurred_at": "2026-11-30T02:00:00Z",
                "occasion": "Tết Nguyên Đán",
            })),
            message: json!({
                "id": "01JD6Q4ZK8N3V5W7X9Y1Z2A3B7",
                "unsubscribe_url": "https://nhip.example.vn/u/01JD6Q4ZK8N3V5W7X9Y1Z2A3B7",
            }),
            organisation: json!({
                "name": "Công ty Tài chính Ví Dụ",
                "hotline": "1900 1234",
                "website": "https://vidu.example.vn",
            }),
        }
    }
}

/// The parser for real renders: Liquid's standard library and Nhịp's filters.
static PARSER: LazyLock<liquid::Parser> = LazyLock::new(|| parser(false));
/// The parser for the save-time check, whose date filters accept the check's placeholder.
static CHECK_PARSER: LazyLock<liquid::Parser> = LazyLock::new(|| parser(true));

fn parser(check: bool) -> liquid::Parser {
    filters::all(check)
        .fold(liquid::ParserBuilder::with_stdlib(), |builder, filter| {
            builder.filter(filter)
        })
        .build()
        // Building only fails compiling partials, and there are none.
        .expect("the Liquid parser builds")
}

/// A compiled template (all Liquid parsed once). `Send + Sync`: compile once, render many.
pub struct Template {
    parts: Parts,
}

/// [`Content`] with every Liquid field parsed.
enum Parts {
    Email {
        subject: liquid::Template,
        html: liquid::Template,
        text: liquid::Template,
        attachments: Vec<AttachmentRef>,
    },
    Sms {
        text: liquid::Template,
        unaccented: bool,
    },
    Zns {
        template_id: String,
        tag: ZnsTag,
        params: BTreeMap<String, liquid::Template>,
    },
    Push {
        title: liquid::Template,
        body: liquid::Template,
        deep_link: Option<liquid::Template>,
    },
    Webhook {
        text: liquid::Template,
    },
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let channel = match &self.parts {
            Parts::Email { .. } => "email",
            Parts::Sms { .. } => "sms",
            Parts::Zns { .. } => "zns",
            Parts::Push { .. } => "push",
            Parts::Webhook { .. } => "webhook",
        };
        f.debug_struct("Template")
            .field("channel", &channel)
            .finish_non_exhaustive()
    }
}

impl Template {
    /// Parses every field; a syntax error is reported per field. A ZNS template also needs a
    /// `template_id` and non-blank parameter names.
    pub fn compile(content: &Content) -> Result<Template, TemplateErrors> {
        compile_with(content, &PARSER).map(|parts| Template { parts })
    }

    /// Save-time check: compile, then render against [`MergeData::sample`] where `customer.*`
    /// (the [`CUSTOMER_FIELDS`] and any `customer.attributes.*`),
    /// `organisation.{name,hotline,website}` and `message.{id,unsubscribe_url}` are the only
    /// known names and `holding.*`, `journey.*`, `event.*`, `customer.attributes.*` accept any
    /// key. Any other name, even one only tested by `{% if %}`, is an error naming the field
    /// and the variable. The channel limits apply to the sample rendering.
    ///
    /// A key of an open namespace that the sample lacks reads as the number `1` (nil when that
    /// fails the field, e.g. in a `for` loop). Only the branches the sample takes are rendered,
    /// so a name inside a branch the sample skips is not seen.
    pub fn check(content: &Content) -> Result<Template, TemplateErrors> {
        check_rendering(content).map(|(template, _)| template)
    }

    /// What [`Template::check`] rendered: the content against [`MergeData::sample`], with keys
    /// of the open namespaces the sample lacks shown as `1` (`01/12/2026` through the date
    /// filters). For previews in the template editor.
    pub fn preview(content: &Content) -> Result<Content, TemplateErrors> {
        check_rendering(content).map(|(_, preview)| preview)
    }

    /// Renders for real. Strict: a variable absent from `data` is an error (never a
    /// half-rendered message); a name present with a null value renders empty, so
    /// `{{ customer.email | default: "…" }}` works. Returns the rendered [`Content`] (same
    /// variant; attachments, `template_id` and `tag` copied), NFC-normalised, with the channel
    /// rules applied: e-mail `html` rendered from HTML-escaped data, a one-line subject, a
    /// non-empty SMS (unaccented when asked), ZNS parameters within [`ZNS_MAX_CHARS`].
    pub fn render(&self, data: &MergeData) -> Result<Content, TemplateErrors> {
        let plain = view::globals(data, Escape::None);
        let html =
            matches!(self.parts, Parts::Email { .. }).then(|| view::globals(data, Escape::Html));
        let html: &dyn ObjectView = match &html {
            Some(html) => html,
            None => &plain,
        };
        let mut renderer = Renderer {
            stage: Stage::Send,
            misses: None,
            views: vec![[&plain, html]],
            problems: Problems::default(),
        };
        renderer.content(&self.parts)
    }
}

/// Compiles `content` with `parser`.
fn compile_with(content: &Content, parser: &liquid::Parser) -> Result<Parts, TemplateErrors> {
    let mut problems = Problems::default();
    let mut parse = |field: &str, source: &str| match parser.parse(source) {
        Ok(template) => Some(template),
        Err(error) => {
            problems.add(field, errors::describe_parse_error(&error));
            None
        }
    };
    let parts = match content {
        Content::Email {
            subject,
            html,
            text,
            attachments,
        } => {
            let subject = parse("subject", subject);
            let html = parse("html", html);
            let text = parse("text", text);
            (|| {
                Some(Parts::Email {
                    subject: subject?,
                    html: html?,
                    text: text?,
                    attachments: attachments.clone(),
                })
            })()
        }
        Content::Sms { text, unaccented } => parse("text", text).map(|text| Parts::Sms {
            text,
            unaccented: *unaccented,
        }),
        Content::Zns {
            template_id,
            tag,
            params,
        } => {
            let mut parsed = BTreeMap::new();
            let mut complete = true;
            for (name, source) in params {
                match parse(&format!("params.{name}"), source) {
                    Some(template) => {
                        parsed.insert(name.clone(), template);
                    }
                    None => complete = false,
                }
            }
            if params.keys().any(|name| name.trim().is_empty()) {
                problems.add("params", "Tên tham số ZNS không được để trống".to_string());
            }
            if template_id.trim().is_empty() {
                problems.add(
                    "template_id",
                    "Chưa có mã mẫu ZNS (template_id)".to_string(),
                );
            }
            complete.then(|| Parts::Zns {
                template_id: template_id.clone(),
                tag: *tag,
                params: parsed,
            })
        }
        Content::Push {
            title,
            body,
            deep_link,
        } => {
            let title = parse("title", title);
            let body = parse("body", body);
            let deep_link = deep_link.as_deref().map(|link| parse("deep_link", link));
            (|| {
                Some(Parts::Push {
                    title: title?,
                    body: body?,
                    deep_link: match deep_link {
                        Some(link) => Some(link?),
                        None => None,
                    },
                })
            })()
        }
        Content::Webhook { text } => parse("text", text).map(|text| Parts::Webhook { text }),
    };
    problems.finish(parts)
}

/// Compiles `content` for real and for the check, renders the check against the sample.
fn check_rendering(content: &Content) -> Result<(Template, Content), TemplateErrors> {
    let template = Template::compile(content)?;
    let checking = compile_with(content, &CHECK_PARSER)?;
    let sample = MergeData::sample();
    let misses = Misses::default();
    let view = |escape, placeholder| CheckView::new(&sample, escape, placeholder, &misses);
    let numbers = [
        view(Escape::None, Placeholder::Number),
        view(Escape::Html, Placeholder::Number),
    ];
    let nothing = [
        view(Escape::None, Placeholder::Nothing),
        view(Escape::Html, Placeholder::Nothing),
    ];
    let mut renderer = Renderer {
        stage: Stage::Check,
        misses: Some(&misses),
        views: vec![
            [numbers[0].as_object(), numbers[1].as_object()],
            [nothing[0].as_object(), nothing[1].as_object()],
        ],
        problems: Problems::default(),
    };
    let preview = renderer.content(&checking)?;
    Ok((template, preview))
}

/// A field's output, capped at [`MAX_RENDERED_BYTES`].
#[derive(Default)]
struct CappedOutput {
    bytes: Vec<u8>,
    overflowed: bool,
}

impl io::Write for CappedOutput {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.bytes.len() + buf.len() > MAX_RENDERED_BYTES {
            self.overflowed = true;
            return Err(io::Error::other("rendered field too long"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Which data view a field is rendered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Data {
    Plain = 0,
    HtmlEscaped = 1,
}

/// Renders fields and applies the channel rules, collecting problems by field.
struct Renderer<'v> {
    stage: Stage,
    /// The check's record of unknown names, drained after each field.
    misses: Option<&'v Misses>,
    /// The data as `[plain, HTML-escaped]` views. A real render has one pair; the check has a
    /// second, tried on a field the first fails (see [`view::Placeholder`]).
    views: Vec<[&'v dyn ObjectView; 2]>,
    problems: Problems,
}

impl Renderer<'_> {
    /// One field, NFC-normalised; `None` (and a problem) when it fails.
    fn field(&mut self, field: &str, template: &liquid::Template, data: Data) -> Option<String> {
        let mut rendered = None;
        let mut first_error = None;
        for views in &self.views {
            let mut output = CappedOutput::default();
            match template.render_to(&mut output, views[data as usize]) {
                Ok(()) => {
                    // Liquid writes only UTF-8: its inputs are strings.
                    let text = String::from_utf8_lossy(&output.bytes);
                    rendered = Some(crate::person::nfc(&text));
                    break;
                }
                Err(error) => {
                    first_error.get_or_insert_with(|| {
                        errors::describe_render_error(
                            &error,
                            output.overflowed,
                            self.stage,
                            MAX_RENDERED_BYTES,
                        )
                    });
                }
            }
        }
        if let (None, Some(message)) = (&rendered, first_error) {
            self.problems.add(field, message);
        }
        if let Some(misses) = self.misses {
            for name in misses.borrow_mut().drain(..) {
                self.problems.add(field, errors::unknown_name(&name));
            }
        }
        rendered
    }

    /// Renders every field of `parts` and applies the channel rules.
    fn content(&mut self, parts: &Parts) -> Result<Content, TemplateErrors> {
        use Data::{HtmlEscaped, Plain};
        let content = match parts {
            Parts::Email {
                subject,
                html,
                text,
                attachments,
            } => {
                let subject = self
                    .field("subject", subject, Plain)
                    .map(|s| s.trim().to_string());
                if subject.as_ref().is_some_and(|s| s.contains(['\r', '\n'])) {
                    self.problems.add(
                        "subject",
                        "Tiêu đề không được xuống dòng sau khi hiển thị".to_string(),
                    );
                }
                let html = self.field("html", html, HtmlEscaped);
                let text = self.field("text", text, Plain);
                (|| {
                    Some(Content::Email {
                        subject: subject?,
                        html: html?,
                        text: text?,
                        attachments: attachments.clone(),
                    })
                })()
            }
            Parts::Sms { text, unaccented } => {
                let text = self.field("text", text, Plain).map(|text| {
                    let text = text.trim();
                    if *unaccented {
                        unaccent(text)
                    } else {
                        text.to_string()
                    }
                });
                if text.as_ref().is_some_and(String::is_empty) {
                    self.problems
                        .add("text", "Tin nhắn trống sau khi hiển thị".to_string());
                }
                text.map(|text| Content::Sms {
                    text,
                    unaccented: *unaccented,
                })
            }
            Parts::Zns {
                template_id,
                tag,
                params,
            } => {
                let mut rendered = BTreeMap::new();
                let mut complete = true;
                for (name, template) in params {
                    match self.field(&format!("params.{name}"), template, Plain) {
                        Some(value) => {
                            rendered.insert(name.clone(), value.trim().to_string());
                        }
                        None => complete = false,
                    }
                }
                let total: usize = rendered.values().map(|v| v.chars().count()).sum();
                if total > ZNS_MAX_CHARS {
                    self.problems.add(
                        "params",
                        format!(
                            "Các tham số ZNS dài {total} ký tự sau khi hiển thị, quá giới hạn \
                             {ZNS_MAX_CHARS} ký tự"
                        ),
                    );
                }
                complete.then(|| Content::Zns {
                    template_id: template_id.clone(),
                    tag: *tag,
                    params: rendered,
                })
            }
            Parts::Push {
                title,
                body,
                deep_link,
            } => {
                let title = self
                    .field("title", title, Plain)
                    .map(|s| s.trim().to_string());
                let body = self
                    .field("body", body, Plain)
                    .map(|s| s.trim().to_string());
                let deep_link = deep_link.as_ref().map(|link| {
                    self.field("deep_link", link, Plain)
                        .map(|s| s.trim().to_string())
                });
                (|| {
                    Some(Content::Push {
                        title: title?,
                        body: body?,
                        deep_link: match deep_link {
                            Some(link) => Some(link?).filter(|l| !l.is_empty()),
                            None => None,
                        },
                    })
                })()
            }
            Parts::Webhook { text } => self
                .field("text", text, Plain)
                .map(|text| Content::Webhook { text }),
        };
        std::mem::take(&mut self.problems).finish(content)
    }
}

#[cfg(test)]
mod tests;
