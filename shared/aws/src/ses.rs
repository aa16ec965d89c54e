//! `SesChannel`: the e-mail channel on Amazon SES v2 (`SendEmail`).
//!
//! A plain e-mail (subject, HTML and text) goes as SES "simple" content. One with attachments
//! or extra headers (`List-Unsubscribe`, `List-Unsubscribe-Post`) is built here as raw MIME
//! with `mail-builder` (multipart/alternative text and HTML inside multipart/mixed, subjects
//! and display names RFC 2047-encoded so Vietnamese survives every mail client) and goes as
//! SES "raw" content.
//!
//! Every e-mail carries the message tag `nhip_message=<message id>`, which SES copies into
//! its delivery, bounce, complaint, open and click events, and, when configured, the
//! configuration set that publishes those events.
//!
//! Errors: throttling and sending-quota codes (and HTTP 429) are `Throttled`; SES's refusals
//! of this message or this account (`MessageRejected`, `MailFromDomainNotVerified`,
//! `BadRequest`, `AccountSuspended`, `SendingPaused`…) are `Rejected`, with SES's message
//! stripped of addresses and numbers; everything else (dispatch failures, timeouts, 5xx) is
//! `Unavailable` with the SDK error kept whole.

use crate::lazy::Lazy;
use std::error::Error as StdError;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{
    Body, Content, Destination, EmailContent, Message, MessageTag, RawMessage,
};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address;
use mail_builder::headers::raw::Raw;
use mail_builder::headers::text::Text;
use nhip_ports::channel::{Accepted, Channel, ChannelError, Envelope, Outgoing, OutgoingEmail};

/// The message tag every e-mail carries, whose value is Nhịp's message id.
pub const MESSAGE_TAG: &str = "nhip_message";

/// Headers an e-mail's extra headers may not set: the adapter writes them itself.
const RESERVED_HEADERS: &[&str] = &[
    "from",
    "to",
    "cc",
    "bcc",
    "subject",
    "date",
    "message-id",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "sender",
    "return-path",
];

/// E-mail through SES v2.
#[derive(Debug, Clone)]
pub struct SesChannel {
    client: Lazy<Client>,
    configuration_set: Option<String>,
}

impl SesChannel {
    /// E-mail through `client`, published through `configuration_set` when given (SES event
    /// publishing, open and click tracking).
    pub fn new(client: Client, configuration_set: Option<String>) -> Self {
        Self::on(crate::lazy::ready(client), configuration_set)
    }

    fn on(client: Lazy<Client>, configuration_set: Option<String>) -> Self {
        Self {
            client,
            configuration_set,
        }
    }

    /// E-mail through a client built from `sdk` (region, credentials, endpoint override).
    pub fn from_sdk_config(sdk: &SdkConfig, configuration_set: Option<String>) -> Self {
        Self::on(crate::lazy::sdk_client(sdk, Client::new), configuration_set)
    }

    /// The SES v2 client, for setup code (verifying identities) and tests.
    pub fn client(&self) -> &Client {
        &self.client
    }

    async fn send_email(
        &self,
        message_id: &str,
        email: &OutgoingEmail,
    ) -> Result<Accepted, ChannelError> {
        let content = if email.attachments.is_empty() && email.headers.is_empty() {
            simple_content(email)?
        } else {
            raw_content(email)?
        };
        let tag = MessageTag::builder()
            .name(MESSAGE_TAG)
            .value(tag_value(message_id))
            .build()
            .map_err(unavailable)?;
        let out = self
            .client
            .send_email()
            .from_email_address(encode_mailbox(&email.from)?)
            .destination(Destination::builder().to_addresses(&email.to).build())
            .content(content)
            .email_tags(tag)
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await
            .map_err(map_error)?;
        let provider_id = out.message_id.ok_or_else(|| {
            unavailable(MalformedResponse(
                "SES accepted an e-mail without a message id",
            ))
        })?;
        Ok(Accepted { provider_id })
    }
}

#[async_trait]
impl Channel for SesChannel {
    fn name(&self) -> &'static str {
        "ses"
    }

    async fn send(&self, envelope: &Envelope) -> Result<Accepted, ChannelError> {
        match &envelope.outgoing {
            Outgoing::Email(email) => self.send_email(&envelope.message_id, email).await,
            other => Err(ChannelError::Rejected {
                reason: format!("the SES channel carries e-mail, not {}", other.kind()),
            }),
        }
    }
}

/// Subject, HTML and text as SES simple content, all UTF-8.
fn simple_content(email: &OutgoingEmail) -> Result<EmailContent, ChannelError> {
    let utf8 = |data: &str| {
        Content::builder()
            .data(data)
            .charset("UTF-8")
            .build()
            .map_err(unavailable)
    };
    let mut body = Body::builder();
    if !email.html.is_empty() {
        body = body.html(utf8(&email.html)?);
    }
    if !email.text.is_empty() || email.html.is_empty() {
        body = body.text(utf8(&email.text)?);
    }
    let message = Message::builder()
        .subject(utf8(&email.subject)?)
        .body(body.build())
        .build();
    Ok(EmailContent::builder().simple(message).build())
}

/// The whole e-mail as raw MIME, for SES raw content.
fn raw_content(email: &OutgoingEmail) -> Result<EmailContent, ChannelError> {
    let mime = build_mime(email)?;
    let raw = RawMessage::builder()
        .data(Blob::new(mime))
        .build()
        .map_err(unavailable)?;
    Ok(EmailContent::builder().raw(raw).build())
}

/// The raw MIME of `email`: `From`, `To`, an encoded `Subject`, the extra headers, then
/// multipart/alternative (text, HTML) with the attachments beside it in multipart/mixed.
pub fn build_mime(email: &OutgoingEmail) -> Result<Vec<u8>, ChannelError> {
    // mail-builder 0.4 puts encoded display names inside quotes, which RFC 2047 forbids and
    // strict clients show verbatim; the sender is written here instead.
    let from = encode_mailbox(&email.from)?;
    let (_, to_address) = parse_mailbox(&email.to)?;
    let mut builder = MessageBuilder::new()
        .header("From", Raw::new(from))
        .to(Address::new_address(None::<&str>, to_address))
        .subject(Text::new(email.subject.as_str()))
        .text_body(email.text.as_str())
        .html_body(email.html.as_str());
    for (name, value) in &email.headers {
        check_header(name, value)?;
        builder = if value.is_ascii() {
            builder.header(name.as_str(), Raw::new(value.as_str()))
        } else {
            builder.header(name.as_str(), Text::new(value.as_str()))
        };
    }
    for attachment in &email.attachments {
        if attachment.filename.is_empty()
            || attachment
                .filename
                .chars()
                .any(|c| c.is_control() || c == '"')
        {
            return Err(rejected(
                "an attachment's file name is empty or has control characters",
            ));
        }
        if !is_mime_type(&attachment.content_type) {
            return Err(rejected("an attachment's content type is not a MIME type"));
        }
        builder = builder.attachment(
            attachment.content_type.as_str(),
            attachment.filename.as_str(),
            attachment.bytes.as_slice(),
        );
    }
    builder.write_to_vec().map_err(unavailable)
}

/// An extra header must have a token name that is not one the adapter writes, and a value
/// without line breaks (which would inject headers).
fn check_header(name: &str, value: &str) -> Result<(), ChannelError> {
    let token = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !token {
        return Err(rejected("an extra header's name is not a header token"));
    }
    if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(ChannelError::Rejected {
            reason: format!("the {name} header is written by the adapter, not an extra header"),
        });
    }
    if value.chars().any(|c| c == '\r' || c == '\n' || c == '\0') {
        return Err(ChannelError::Rejected {
            reason: format!("the {name} header's value has a line break"),
        });
    }
    Ok(())
}

fn is_mime_type(content_type: &str) -> bool {
    let mut parts = content_type.splitn(2, '/');
    let token = |s: Option<&str>| {
        s.is_some_and(|s| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
        })
    };
    token(parts.next()) && token(parts.next())
}

/// `Name <address>` or `address` split into an optional display name and the address.
fn parse_mailbox(mailbox: &str) -> Result<(Option<&str>, &str), ChannelError> {
    let mailbox = mailbox.trim();
    let (name, address) = match mailbox.strip_suffix('>').and_then(|m| m.rsplit_once('<')) {
        Some((name, address)) => {
            let name = name.trim().trim_matches('"').trim();
            ((!name.is_empty()).then_some(name), address.trim())
        }
        None => (None, mailbox),
    };
    let valid = address
        .split_once('@')
        .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
        && !address
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"'));
    if !valid {
        return Err(rejected("an address is not of the form name@domain"));
    }
    if name.is_some_and(|n| n.chars().any(|c| c.is_control())) {
        return Err(rejected("a display name has control characters"));
    }
    Ok((name, address))
}

/// The sender as SES's `FromEmailAddress` and the raw `From` header take it: a non-ASCII
/// display name as RFC 2047 encoded words (`=?UTF-8?B?…?=`, each within the 75-character
/// limit and split between characters, never inside quotes), an ASCII one quoted.
fn encode_mailbox(mailbox: &str) -> Result<String, ChannelError> {
    Ok(match parse_mailbox(mailbox)? {
        (None, address) => address.to_owned(),
        (Some(name), address) if name.is_ascii() => {
            let escaped = name.replace('\\', "\\\\").replace('"', "\\\"");
            format!("\"{escaped}\" <{address}>")
        }
        (Some(name), address) => format!("{} <{address}>", encoded_words(name)),
    })
}

/// `text` as RFC 2047 base64 encoded words of at most 45 bytes of UTF-8 each (60 characters
/// of base64, 72 with the markers), separated by spaces, which decoders drop between words.
fn encoded_words(text: &str) -> String {
    const CHUNK: usize = 45;
    let mut words = Vec::new();
    let mut start = 0;
    let mut end = 0;
    for (i, c) in text.char_indices() {
        if i + c.len_utf8() - start > CHUNK {
            words.push(&text[start..end]);
            start = i;
        }
        end = i + c.len_utf8();
    }
    words.push(&text[start..end]);
    words
        .iter()
        .map(|w| format!("=?UTF-8?B?{}?=", BASE64.encode(w.as_bytes())))
        .collect::<Vec<_>>()
        .join(" ")
}

/// SES tag values allow only `A-Z a-z 0-9 _ - . @`, at most 256 characters; anything else
/// becomes `_` (a ULID passes unchanged).
fn tag_value(message_id: &str) -> String {
    let value: String = message_id
        .chars()
        .take(256)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '@') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if value.is_empty() { "_".into() } else { value }
}

fn rejected(reason: &str) -> ChannelError {
    ChannelError::Rejected {
        reason: reason.to_owned(),
    }
}

fn unavailable(error: impl StdError + Send + Sync + 'static) -> ChannelError {
    ChannelError::Unavailable {
        source: Box::new(error),
    }
}

/// An SES answer that lacks something it always carries.
#[derive(Debug, thiserror::Error)]
#[error("malformed SES response: {0}")]
struct MalformedResponse(&'static str);

/// An error code without the `Exception` suffix the REST-JSON protocol adds.
pub(crate) fn bare_code(code: &str) -> &str {
    code.strip_suffix("Exception").unwrap_or(code)
}

/// Codes AWS services use when they shed load.
pub(crate) fn is_throttling_code(code: &str) -> bool {
    matches!(
        bare_code(code),
        "TooManyRequests"
            | "Throttling"
            | "Throttled"
            | "RequestThrottled"
            | "SlowDown"
            | "KMSThrottling"
    )
}

/// Codes with which SES refuses this message or this account for good.
fn is_rejection_code(code: &str) -> bool {
    matches!(
        bare_code(code),
        "MessageRejected"
            | "MailFromDomainNotVerified"
            | "BadRequest"
            | "AccountSuspended"
            | "SendingPaused"
            | "InvalidParameterValue"
            | "InvalidParameter"
            | "ConfigurationSetDoesNotExist"
    )
}

/// Whether the HTTP answer behind `err` was 429 Too Many Requests.
pub(crate) fn is_http_429<E>(err: &SdkError<E, HttpResponse>) -> bool {
    err.raw_response()
        .is_some_and(|response| response.status().as_u16() == 429)
}

/// `text` with anything that looks like an e-mail address or a phone number replaced, so a
/// provider's message can go into an error or a log. Providers echo recipients in some
/// refusals (SES's sandbox names unverified recipients; SNS names invalid numbers).
pub(crate) fn redact_personal_data(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            let digits = word.chars().filter(char::is_ascii_digit).count();
            if word.contains('@') {
                "<address>"
            } else if digits >= 7 {
                "<number>"
            } else {
                word
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn map_error<E>(err: SdkError<E, HttpResponse>) -> ChannelError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    channel_error("SES", err, |code| {
        if is_rejection_code(code) {
            CodeKind::Rejection
        } else if bare_code(code) == "LimitExceeded" {
            CodeKind::Throttling
        } else {
            CodeKind::Other
        }
    })
}

/// How a provider's error code reads, beyond the throttling codes every service shares.
pub(crate) enum CodeKind {
    /// The provider refuses this message for good.
    Rejection,
    /// The provider limits our rate.
    Throttling,
    /// Anything else.
    Other,
}

/// Maps an SDK error of `service` to the channel port's error: throttling → `Throttled`, a
/// rejection code → `Rejected` (the provider's message without addresses or numbers), another
/// error answer or a request never built → `NotSent`, and a dispatch failure, timeout or
/// unreadable answer → `Unavailable` (whether it went is unknown).
pub(crate) fn channel_error<E>(
    service: &'static str,
    err: SdkError<E, HttpResponse>,
    kind: impl Fn(&str) -> CodeKind,
) -> ChannelError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    let code = err.code().map(str::to_owned);
    let kind = code.as_deref().map(kind);
    let throttled = code.as_deref().is_some_and(is_throttling_code)
        || matches!(kind, Some(CodeKind::Throttling))
        || is_http_429(&err);
    if throttled {
        return ChannelError::Throttled {
            source: Box::new(err),
        };
    }
    if let (Some(code), Some(CodeKind::Rejection)) = (code.as_deref(), kind) {
        let message = err.message().map(redact_personal_data).unwrap_or_default();
        tracing::warn!(code, service, "the provider refused a message");
        return ChannelError::Rejected {
            reason: if message.is_empty() {
                format!("{service}: {}", bare_code(code))
            } else {
                format!("{service}: {}: {message}", bare_code(code))
            },
        };
    }
    // An error answer, or a request that could not even be built, means the provider did not
    // take the message; a dispatch failure, timeout or unreadable answer leaves it unknown.
    if matches!(
        err,
        SdkError::ServiceError(_) | SdkError::ConstructionFailure(_)
    ) {
        ChannelError::NotSent {
            source: Box::new(err),
        }
    } else {
        ChannelError::Unavailable {
            source: Box::new(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use nhip_ports::channel::Attachment;

    use super::*;

    fn email() -> OutgoingEmail {
        OutgoingEmail {
            from: "Ngân hàng ABC <thongbao@abc.vn>".into(),
            to: "khach@example.vn".into(),
            subject: "Thẻ tín dụng của Quý khách đã sẵn sàng".into(),
            html: "<p>Kính gửi Anh Minh</p>".into(),
            text: "Kính gửi Anh Minh".into(),
            attachments: vec![Attachment {
                filename: "bieu-phi.pdf".into(),
                content_type: "application/pdf".into(),
                bytes: b"%PDF-1.4 fake".to_vec(),
            }],
            headers: vec![
                (
                    "List-Unsubscribe".into(),
                    "<https://nhip.example.vn/u/abc>, <mailto:unsub@abc.vn>".into(),
                ),
                (
                    "List-Unsubscribe-Post".into(),
                    "List-Unsubscribe=One-Click".into(),
                ),
            ],
        }
    }

    #[test]
    fn raw_mime_encodes_vietnamese_and_carries_headers_and_attachments() {
        let mime = String::from_utf8(build_mime(&email()).unwrap()).unwrap();
        assert!(mime.is_ascii(), "the MIME is 7-bit clean:\n{mime}");
        assert!(mime.contains("Subject: =?utf-8?"), "{mime}");
        assert!(
            mime.contains("From: =?UTF-8?B?TmfDom4gaMOgbmcgQUJD?= <thongbao@abc.vn>"),
            "{mime}"
        );
        assert!(mime.contains("List-Unsubscribe: <https://nhip.example.vn/u/abc>"));
        assert!(mime.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
        assert!(mime.contains("multipart/mixed"));
        assert!(mime.contains("multipart/alternative"));
        assert!(mime.contains("bieu-phi.pdf"));
    }

    #[test]
    fn injected_or_reserved_headers_are_refused() {
        for (name, value) in [
            ("X-Evil", "a\r\nBcc: x@y.z"),
            ("Bcc", "x@y.z"),
            ("Bad Name", "v"),
        ] {
            let mut email = email();
            email.headers = vec![(name.into(), value.into())];
            assert!(
                matches!(build_mime(&email), Err(ChannelError::Rejected { .. })),
                "{name}"
            );
        }
    }

    #[test]
    fn senders_are_encoded_for_ses() {
        assert_eq!(encode_mailbox("a@b.vn").unwrap(), "a@b.vn");
        assert_eq!(
            encode_mailbox("Nhip Bank <a@b.vn>").unwrap(),
            "\"Nhip Bank\" <a@b.vn>"
        );
        let encoded = encode_mailbox("Ngân hàng <a@b.vn>").unwrap();
        assert!(encoded.starts_with("=?UTF-8?B?") && encoded.ends_with("?= <a@b.vn>"));
        assert!(encode_mailbox("no-at-sign").is_err());
        let long = "Ngân hàng Thương mại Cổ phần Nhịp Việt Nam chi nhánh Hà Nội";
        let encoded = encode_mailbox(&format!("{long} <a@b.vn>")).unwrap();
        let words: Vec<&str> = encoded.trim_end_matches(" <a@b.vn>").split(' ').collect();
        assert!(words.len() > 1, "{encoded}");
        let mut decoded = Vec::new();
        for word in words {
            assert!(word.len() <= 75, "{word}");
            let b64 = word
                .strip_prefix("=?UTF-8?B?")
                .and_then(|w| w.strip_suffix("?="))
                .unwrap();
            decoded.extend(BASE64.decode(b64).unwrap());
        }
        assert_eq!(String::from_utf8(decoded).unwrap(), long);
    }

    #[test]
    fn tag_values_keep_to_the_allowed_characters() {
        assert_eq!(
            tag_value("01JD3ZK5X8Q2W7M4N6P9R1T3V5"),
            "01JD3ZK5X8Q2W7M4N6P9R1T3V5"
        );
        assert_eq!(tag_value("a b/c"), "a_b_c");
        assert_eq!(tag_value(""), "_");
    }

    #[test]
    fn provider_messages_lose_addresses_and_numbers() {
        assert_eq!(
            redact_personal_data("identities failed the check: khach@example.vn, +84912345678"),
            "identities failed the check: <address> <number>"
        );
    }
}
