//! The channel adapters against what receives their messages: SES v2 and SNS on moto, Zalo
//! ZNS and the OTT webhook on throwaway HTTP servers in the test.
//!
//! moto keeps what was sent (`GET /moto-api/data.json`): SES simple e-mail (source,
//! destinations, subject, the HTML body), SES raw e-mail (the whole MIME), SMS (number and
//! text) and the messages published to each platform endpoint. It does not keep SES message
//! tags, the configuration set, the text body of a simple e-mail or SMS message attributes,
//! so the AWS tests also pass their requests through a recording proxy in front of moto and
//! assert those on the wire.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use nhip_ports::channel::{
    Accepted, Attachment, Channel, ChannelError, Envelope, Outgoing, OutgoingEmail, OutgoingPush,
    OutgoingSms, OutgoingWebhook, OutgoingZns, SmsKind,
};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support;

// ---------------------------------------------------------------------------------------------
// Plumbing: moto's recorded data, a recording proxy, base64 and MIME helpers.

/// One HTTP request as the proxy or a test server saw it.
#[derive(Debug, Clone)]
struct Recorded {
    head: String,
    body: Vec<u8>,
}

impl Recorded {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }
}

type Log = Arc<Mutex<Vec<Recorded>>>;

/// `host:port` of an `http://` URL.
fn authority(url: &str) -> String {
    url.trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_owned()
}

/// Reads one HTTP/1.1 request (head and a `Content-Length` body) from `stream`; `None` when
/// the client closed the connection.
async fn read_request(stream: &mut TcpStream) -> Option<(Vec<u8>, Recorded)> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(pos) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    let body = buffer[head_end..head_end + length].to_vec();
    Some((buffer, Recorded { head, body }))
}

/// A pass-through proxy in front of moto that records every request. moto answers each
/// request with `Connection: close`, so the proxy forwards one request per connection.
async fn recording_proxy(upstream: String) -> (String, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let log: Log = Arc::default();
    let recorded = log.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut client, _)) = listener.accept().await else {
                return;
            };
            let upstream = upstream.clone();
            let recorded = recorded.clone();
            tokio::spawn(async move {
                let Some((raw, request)) = read_request(&mut client).await else {
                    return;
                };
                recorded.lock().unwrap().push(request);
                let mut server = TcpStream::connect(authority(&upstream)).await.unwrap();
                server.write_all(&raw).await.unwrap();
                let mut response = Vec::new();
                server.read_to_end(&mut response).await.unwrap();
                client.write_all(&response).await.unwrap();
                client.shutdown().await.ok();
            });
        }
    });
    (format!("http://{address}"), log)
}

/// SDK configuration for moto through a recording proxy, and the proxy's log.
async fn proxied_sdk_config() -> (aws_config::SdkConfig, Log) {
    let (proxy, log) = recording_proxy(support::aws_endpoint()).await;
    let sdk = support::aws_sdk_config()
        .await
        .to_builder()
        .endpoint_url(proxy)
        .build();
    (sdk, log)
}

/// Everything moto recorded (`GET /moto-api/data.json`).
async fn moto_data() -> Value {
    let endpoint = support::aws_endpoint();
    let host = authority(&endpoint);
    let mut stream = TcpStream::connect(&host).await.unwrap();
    let request =
        format!("GET /moto-api/data.json HTTP/1.0\r\nHost: {host}\r\nAccept: */*\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let start = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP response")
        + 4;
    assert!(
        response.starts_with(b"HTTP/1.0 200") || response.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&response[..start])
    );
    serde_json::from_slice(&response[start..]).expect("moto's data.json")
}

/// The entry of `data[service][kind]` whose `field` is `value`.
fn recorded_entry(data: &Value, service: &str, kind: &str, field: &str, value: &str) -> Value {
    data[service][kind]
        .as_array()
        .unwrap_or_else(|| panic!("moto has no {service}.{kind}: {data}"))
        .iter()
        .find(|entry| entry[field] == value)
        .unwrap_or_else(|| panic!("moto recorded no {service}.{kind} with {field} {value}"))
        .clone()
}

/// Standard base64, decoded through the port's own serde form of attachment bytes.
fn base64_decode(text: &str) -> Vec<u8> {
    let attachment: Attachment = serde_json::from_value(json!({
        "filename": "x", "content_type": "x", "bytes": text,
    }))
    .expect("valid base64");
    attachment.bytes
}

/// Standard base64 of `bytes`, through the same serde form.
fn base64_encode(bytes: &[u8]) -> String {
    let attachment = Attachment {
        filename: "x".into(),
        content_type: "x".into(),
        bytes: bytes.to_vec(),
    };
    serde_json::to_value(attachment).unwrap()["bytes"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Quoted-printable (body or `Q` word form) decoded.
fn quoted_printable_decode(text: &str, underscore_is_space: bool) -> Vec<u8> {
    let text = text.replace("=\r\n", "");
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'=' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            }
            b'_' if underscore_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// The value of header `name` in the head of `mime`, unfolded.
fn mime_header(mime: &str, name: &str) -> Option<String> {
    let head = &mime[..mime.find("\r\n\r\n").unwrap_or(mime.len())];
    let unfolded = head.replace("\r\n\t", " ").replace("\r\n ", " ");
    unfolded.split("\r\n").find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
    })
}

/// A header value with its RFC 2047 encoded words decoded (whitespace between adjacent words
/// dropped, as the RFC says).
fn decode_words(value: &str) -> String {
    let mut out = Vec::new();
    let mut pending_space = Vec::new();
    for token in value.split(' ') {
        let word = token
            .strip_prefix("=?")
            .and_then(|t| t.strip_suffix("?="))
            .and_then(|t| {
                let mut parts = t.splitn(3, '?');
                Some((parts.next()?, parts.next()?, parts.next()?))
            });
        match word {
            Some((charset, encoding, text)) => {
                assert!(charset.eq_ignore_ascii_case("utf-8"), "{charset}");
                if encoding.eq_ignore_ascii_case("B") {
                    out.extend(base64_decode(text));
                } else {
                    out.extend(quoted_printable_decode(text, true));
                }
                pending_space.clear();
            }
            None => {
                if !out.is_empty() {
                    out.append(&mut pending_space);
                    out.push(b' ');
                }
                out.extend(token.as_bytes());
            }
        }
    }
    String::from_utf8(out).unwrap().trim().to_owned()
}

/// The decoded body of the first MIME part whose `Content-Type` starts with `content_type`.
fn mime_part(mime: &str, content_type: &str) -> Vec<u8> {
    let marker = format!("Content-Type: {content_type}");
    let start = mime
        .find(&marker)
        .unwrap_or_else(|| panic!("no {content_type} part in:\n{mime}"));
    let part = &mime[start..];
    let body_start = part.find("\r\n\r\n").unwrap() + 4;
    let headers = &part[..body_start];
    let body = &part[body_start..];
    let body = &body[..body.find("\r\n--").unwrap_or(body.len())];
    let encoding = headers
        .split("\r\n")
        .find_map(|l| l.strip_prefix("Content-Transfer-Encoding: "))
        .unwrap_or("7bit")
        .to_ascii_lowercase();
    match encoding.as_str() {
        "base64" => base64_decode(&body.replace("\r\n", "")),
        "quoted-printable" => quoted_printable_decode(body, false),
        _ => body.as_bytes().to_vec(),
    }
}

/// `application/x-www-form-urlencoded` decoded into pairs (the SNS query protocol).
fn form(body: &[u8]) -> BTreeMap<String, String> {
    let decode = |s: &str| {
        let s = s.replace('+', " ");
        let bytes = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' && i + 2 < bytes.len() {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    };
    std::str::from_utf8(body)
        .unwrap()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// The SNS message attributes of a `Publish` form, by name.
fn message_attributes(form: &BTreeMap<String, String>) -> BTreeMap<String, (String, String)> {
    let mut attributes = BTreeMap::new();
    for n in 1.. {
        let prefix = format!("MessageAttributes.entry.{n}");
        let Some(name) = form.get(&format!("{prefix}.Name")) else {
            break;
        };
        attributes.insert(
            name.clone(),
            (
                form[&format!("{prefix}.Value.DataType")].clone(),
                form[&format!("{prefix}.Value.StringValue")].clone(),
            ),
        );
    }
    attributes
}

/// The recorded requests whose body contains `needle`.
fn requests_with(log: &Log, needle: &str) -> Vec<Recorded> {
    log.lock()
        .unwrap()
        .iter()
        .filter(|r| String::from_utf8_lossy(&r.body).contains(needle))
        .cloned()
        .collect()
}

fn message_id() -> String {
    ulid::Ulid::new().to_string()
}

fn envelope(outgoing: Outgoing) -> Envelope {
    Envelope {
        message_id: message_id(),
        outgoing,
    }
}

fn rejection(result: Result<Accepted, ChannelError>) -> String {
    match result {
        Err(ChannelError::Rejected { reason }) => reason,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

fn sms(to: &str) -> OutgoingSms {
    OutgoingSms {
        to: to.into(),
        text: "Nhịp: thẻ của Quý khách đã sẵn sàng.".into(),
        sender_id: None,
        kind: SmsKind::Transactional,
    }
}

fn zns(template_id: &str) -> Outgoing {
    Outgoing::Zns(OutgoingZns {
        phone: "84912345678".into(),
        template_id: template_id.into(),
        params: BTreeMap::from([
            ("customer_name".to_owned(), "Nguyễn Văn A".to_owned()),
            ("due_date".to_owned(), "28/11/2026".to_owned()),
        ]),
        tracking_id: "01JD3ZK5X8Q2W7M4N6P9R1T3V5".into(),
    })
}

// ---------------------------------------------------------------------------------------------
// SES v2 on moto.

/// A sender address verified in moto for this test only.
async fn verified_sender(channel: &nhip_aws::SesChannel) -> String {
    let sender = format!("thongbao-{}@nhip-test.vn", message_id().to_lowercase());
    channel
        .client()
        .create_email_identity()
        .email_identity(&sender)
        .send()
        .await
        .expect("verifying the sender on the emulator");
    sender
}

fn email(from: String) -> OutgoingEmail {
    OutgoingEmail {
        from,
        to: "khach.hang@example.vn".into(),
        subject: "Thẻ tín dụng của Quý khách đã sẵn sàng để kích hoạt".into(),
        html: "<p>Kính gửi Anh Minh,</p><p>Thẻ đã sẵn sàng.</p>".into(),
        text: "Kính gửi Anh Minh, thẻ đã sẵn sàng.".into(),
        attachments: vec![],
        headers: vec![],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ses_sends_simple_email_tagged_with_the_message_id() {
    crate::support::needs_emulator!();
    let (sdk, log) = proxied_sdk_config().await;
    let channel = nhip_aws::SesChannel::from_sdk_config(&sdk, Some("nhip-tracking".into()));
    assert_eq!(channel.name(), "ses");
    let sender = verified_sender(&channel).await;
    let outgoing = email(format!("Ngân hàng Nhịp <{sender}>"));
    let envelope = envelope(Outgoing::Email(outgoing.clone()));

    let accepted = channel.send(&envelope).await.unwrap();
    assert!(!accepted.provider_id.is_empty());

    let data = moto_data().await;
    let message = recorded_entry(&data, "ses", "Message", "id", &accepted.provider_id);
    assert_eq!(message["subject"], outgoing.subject);
    assert_eq!(message["body"], outgoing.html, "moto keeps the HTML body");
    assert_eq!(message["destinations"]["ToAddresses"], json!([outgoing.to]));
    let source = message["source"].as_str().unwrap();
    assert!(source.ends_with(&format!(" <{sender}>")), "{source}");
    assert_eq!(
        decode_words(source.trim_end_matches(&format!(" <{sender}>"))),
        "Ngân hàng Nhịp"
    );
    assert!(
        !data["ses"]["RawMessage"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == accepted.provider_id.as_str()),
        "without attachments or headers the e-mail is simple, not raw"
    );

    // What moto does not keep, on the wire: the text body, the tag, the configuration set.
    let sent = requests_with(&log, &envelope.message_id);
    assert_eq!(sent.len(), 1, "one SendEmail carries the message id");
    let request: Value = serde_json::from_slice(&sent[0].body).unwrap();
    assert!(sent[0].head.starts_with("POST /v2/email/outbound-emails"));
    let simple = &request["Content"]["Simple"];
    assert_eq!(simple["Body"]["Text"]["Data"], outgoing.text);
    assert_eq!(simple["Body"]["Text"]["Charset"], "UTF-8");
    assert_eq!(simple["Subject"]["Charset"], "UTF-8");
    assert_eq!(
        request["EmailTags"],
        json!([{"Name": "nhip_message", "Value": envelope.message_id}])
    );
    assert_eq!(request["ConfigurationSetName"], "nhip-tracking");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ses_sends_raw_mime_with_attachments_and_unsubscribe_headers() {
    crate::support::needs_emulator!();
    let (sdk, log) = proxied_sdk_config().await;
    let channel = nhip_aws::SesChannel::from_sdk_config(&sdk, None);
    let sender = verified_sender(&channel).await;
    let brochure: Vec<u8> = b"%PDF-1.4\n"
        .iter()
        .copied()
        .chain((0..=255u8).cycle().take(3000))
        .collect();
    let mut outgoing = email(format!("Ngân hàng Nhịp <{sender}>"));
    outgoing.attachments = vec![Attachment {
        filename: "bieu-phi.pdf".into(),
        content_type: "application/pdf".into(),
        bytes: brochure.clone(),
    }];
    outgoing.headers = vec![
        (
            "List-Unsubscribe".into(),
            "<https://nhip.example.vn/u/01JD3ZK5X8>, <mailto:unsubscribe@nhip-test.vn>".into(),
        ),
        (
            "List-Unsubscribe-Post".into(),
            "List-Unsubscribe=One-Click".into(),
        ),
    ];
    let envelope = envelope(Outgoing::Email(outgoing.clone()));

    let accepted = channel.send(&envelope).await.unwrap();

    let data = moto_data().await;
    let raw = recorded_entry(&data, "ses", "RawMessage", "id", &accepted.provider_id);
    assert!(
        raw["destinations"]
            .as_array()
            .unwrap()
            .contains(&json!(outgoing.to))
    );
    let mime = raw["raw_data"].as_str().unwrap();
    assert!(mime.is_ascii(), "7-bit clean MIME");
    assert_eq!(
        decode_words(&mime_header(mime, "Subject").unwrap()),
        outgoing.subject
    );
    let from = mime_header(mime, "From").unwrap();
    assert!(
        !from.contains('"'),
        "encoded words are never quoted: {from}"
    );
    assert_eq!(
        decode_words(&from),
        format!("Ngân hàng Nhịp <{sender}>"),
        "{from}"
    );
    assert_eq!(
        mime_header(mime, "List-Unsubscribe").unwrap(),
        "<https://nhip.example.vn/u/01JD3ZK5X8>, <mailto:unsubscribe@nhip-test.vn>"
    );
    assert_eq!(
        mime_header(mime, "List-Unsubscribe-Post").unwrap(),
        "List-Unsubscribe=One-Click"
    );
    assert!(
        mime_header(mime, "Content-Type")
            .unwrap()
            .starts_with("multipart/mixed")
    );
    assert!(mime.contains("Content-Type: multipart/alternative"));
    assert_eq!(
        String::from_utf8(mime_part(mime, "text/plain")).unwrap(),
        outgoing.text
    );
    assert_eq!(
        String::from_utf8(mime_part(mime, "text/html")).unwrap(),
        outgoing.html
    );
    assert!(mime.contains("Content-Disposition: attachment; filename=\"bieu-phi.pdf\""));
    assert_eq!(mime_part(mime, "application/pdf"), brochure);
    // The attachment's base64 in the MIME is the same as the standard encoding.
    assert!(mime.replace("\r\n", "").contains(&base64_encode(&brochure)));

    let sent = requests_with(&log, &envelope.message_id);
    assert_eq!(sent.len(), 1);
    let request: Value = serde_json::from_slice(&sent[0].body).unwrap();
    assert!(request["Content"]["Raw"]["Data"].is_string());
    assert_eq!(
        request["EmailTags"],
        json!([{"Name": "nhip_message", "Value": envelope.message_id}])
    );
    assert!(request.get("ConfigurationSetName").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ses_rejects_an_unverified_sender_without_naming_the_recipient() {
    crate::support::needs_emulator!();
    let sdk = support::aws_sdk_config().await;
    let channel = nhip_aws::SesChannel::from_sdk_config(&sdk, None);
    let sender = format!("chua-xac-minh-{}@nhip-test.vn", message_id().to_lowercase());

    let simple = envelope(Outgoing::Email(email(sender.clone())));
    let reason = rejection(channel.send(&simple).await);
    assert!(reason.contains("MessageRejected"), "{reason}");
    assert!(!reason.contains('@'), "no address in the reason: {reason}");

    let mut with_attachment = email(sender);
    with_attachment.attachments = vec![Attachment {
        filename: "a.txt".into(),
        content_type: "text/plain".into(),
        bytes: b"x".to_vec(),
    }];
    let reason = rejection(
        channel
            .send(&envelope(Outgoing::Email(with_attachment)))
            .await,
    );
    assert!(reason.contains("MessageRejected"), "{reason}");
    assert!(!reason.contains('@'), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ses_refuses_other_kinds_and_malformed_e_mail_before_calling_ses() {
    crate::support::needs_emulator!();
    let (sdk, log) = proxied_sdk_config().await;
    let channel = nhip_aws::SesChannel::from_sdk_config(&sdk, None);
    rejection(
        channel
            .send(&envelope(Outgoing::Sms(sms("+84912345678"))))
            .await,
    );
    rejection(
        channel
            .send(&envelope(Outgoing::Email(email("no-address".into()))))
            .await,
    );
    let mut injected = email("a@nhip-test.vn".into());
    injected.headers = vec![("X-Note".into(), "a\r\nBcc: someone@example.vn".into())];
    rejection(channel.send(&envelope(Outgoing::Email(injected))).await);
    assert!(log.lock().unwrap().is_empty(), "nothing reached SES");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ses_reports_an_unreachable_endpoint_as_unavailable() {
    crate::support::needs_emulator!();
    let sdk = support::aws_sdk_config()
        .await
        .to_builder()
        .endpoint_url(closed_port_url().await)
        .build();
    let channel = nhip_aws::SesChannel::from_sdk_config(&sdk, None);
    let result = channel
        .send(&envelope(Outgoing::Email(email("a@nhip-test.vn".into()))))
        .await;
    assert!(
        matches!(&result, Err(ChannelError::Unavailable { .. })),
        "{result:?}"
    );
}

/// A loopback URL nothing listens on.
async fn closed_port_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{address}")
}

// ---------------------------------------------------------------------------------------------
// SNS SMS and push on moto.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sns_sends_sms_with_type_and_sender_id() {
    crate::support::needs_emulator!();
    let (sdk, log) = proxied_sdk_config().await;
    let channel = nhip_aws::SnsSmsChannel::from_sdk_config(&sdk);
    assert_eq!(channel.name(), "sns-sms");

    let mut branded = sms("+84912345678");
    branded.sender_id = Some("NHIPBANK".into());
    branded.text = format!("{} Ma {}", branded.text, message_id());
    let accepted = channel
        .send(&envelope(Outgoing::Sms(branded.clone())))
        .await
        .unwrap();

    let mut promotional = sms("+84987654321");
    promotional.kind = SmsKind::Promotional;
    promotional.text = format!("Uu dai thang 11 {}", message_id());
    let accepted_promotional = channel
        .send(&envelope(Outgoing::Sms(promotional.clone())))
        .await
        .unwrap();

    let data = moto_data().await;
    let recorded = recorded_entry(&data, "sns", "SMS", "message_id", &accepted.provider_id);
    assert_eq!(recorded["phone_number"], branded.to);
    assert_eq!(recorded["message"], branded.text);
    let recorded = recorded_entry(
        &data,
        "sns",
        "SMS",
        "message_id",
        &accepted_promotional.provider_id,
    );
    assert_eq!(recorded["phone_number"], promotional.to);
    assert_eq!(recorded["message"], promotional.text);

    // moto does not keep SMS attributes: read them off the wire.
    let publishes: Vec<BTreeMap<String, String>> = log
        .lock()
        .unwrap()
        .iter()
        .map(|r| form(&r.body))
        .filter(|f| f.get("Action").map(String::as_str) == Some("Publish"))
        .collect();
    let find = |text: &str| {
        publishes
            .iter()
            .find(|f| f.get("Message").map(String::as_str) == Some(text))
            .unwrap_or_else(|| panic!("no Publish of {text:?}: {publishes:?}"))
            .clone()
    };
    let branded_form = find(&branded.text);
    assert_eq!(branded_form["PhoneNumber"], branded.to);
    assert_eq!(
        message_attributes(&branded_form),
        BTreeMap::from([
            (
                "AWS.SNS.SMS.SMSType".to_owned(),
                ("String".to_owned(), "Transactional".to_owned())
            ),
            (
                "AWS.SNS.SMS.SenderID".to_owned(),
                ("String".to_owned(), "NHIPBANK".to_owned())
            ),
        ])
    );
    let promotional_form = find(&promotional.text);
    assert_eq!(
        message_attributes(&promotional_form),
        BTreeMap::from([(
            "AWS.SNS.SMS.SMSType".to_owned(),
            ("String".to_owned(), "Promotional".to_owned())
        )])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sns_sms_refuses_bad_numbers_sender_ids_and_other_kinds() {
    crate::support::needs_emulator!();
    let (sdk, log) = proxied_sdk_config().await;
    let channel = nhip_aws::SnsSmsChannel::from_sdk_config(&sdk);
    for number in ["0912345678", "+84 912 345 678", "+84"] {
        let reason = rejection(channel.send(&envelope(Outgoing::Sms(sms(number)))).await);
        assert!(!reason.contains("912"), "no number in the reason: {reason}");
    }
    let mut bad_sender = sms("+84912345678");
    bad_sender.sender_id = Some("NHIP-BANK-VIETNAM".into());
    rejection(channel.send(&envelope(Outgoing::Sms(bad_sender))).await);
    rejection(channel.send(&envelope(zns("2001"))).await);
    assert!(log.lock().unwrap().is_empty(), "nothing reached SNS");
}

/// A GCM platform application and one device endpoint in moto: the endpoint's ARN.
async fn push_endpoint(channel: &nhip_aws::SnsPushChannel) -> String {
    let application = channel
        .client()
        .create_platform_application()
        .name(format!("nhip-app-{}", message_id().to_lowercase()))
        .platform("GCM")
        .attributes("PlatformCredential", "fcm-service-account-json")
        .send()
        .await
        .expect("creating the platform application")
        .platform_application_arn
        .expect("an application ARN");
    channel
        .client()
        .create_platform_endpoint()
        .platform_application_arn(application)
        .token(format!("fcm-device-token-{}", message_id()))
        .send()
        .await
        .expect("creating the endpoint")
        .endpoint_arn
        .expect("an endpoint ARN")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sns_publishes_push_to_a_platform_endpoint() {
    crate::support::needs_emulator!();
    let sdk = support::aws_sdk_config().await;
    let channel = nhip_aws::SnsPushChannel::from_sdk_config(&sdk);
    assert_eq!(channel.name(), "sns-push");
    let endpoint = push_endpoint(&channel).await;
    let push = OutgoingPush {
        endpoint: endpoint.clone(),
        title: "Thẻ đã sẵn sàng".into(),
        body: "Chạm để kích hoạt thẻ tín dụng".into(),
        deep_link: Some("nhipbank://the/kich-hoat".into()),
    };

    let accepted = channel
        .send(&envelope(Outgoing::Push(push.clone())))
        .await
        .unwrap();

    let data = moto_data().await;
    let recorded = recorded_entry(&data, "sns", "PlatformEndpoint", "arn", &endpoint);
    let message = recorded["messages"][&accepted.provider_id]
        .as_str()
        .unwrap_or_else(|| {
            panic!(
                "no message {} at the endpoint: {recorded}",
                accepted.provider_id
            )
        });
    let message: Value = serde_json::from_str(message).unwrap();
    assert_eq!(message["default"], push.body);
    let gcm: Value = serde_json::from_str(message["GCM"].as_str().unwrap()).unwrap();
    let fcm = &gcm["fcmV1Message"]["message"];
    assert_eq!(fcm["notification"]["title"], push.title);
    assert_eq!(fcm["notification"]["body"], push.body);
    assert_eq!(fcm["data"]["deep_link"], "nhipbank://the/kich-hoat");
    let apns: Value = serde_json::from_str(message["APNS"].as_str().unwrap()).unwrap();
    assert_eq!(apns["aps"]["alert"]["title"], push.title);
    assert_eq!(apns["deep_link"], "nhipbank://the/kich-hoat");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sns_push_to_a_disabled_or_missing_endpoint_is_rejected() {
    crate::support::needs_emulator!();
    let sdk = support::aws_sdk_config().await;
    let channel = nhip_aws::SnsPushChannel::from_sdk_config(&sdk);
    let endpoint = push_endpoint(&channel).await;
    channel
        .client()
        .set_endpoint_attributes()
        .endpoint_arn(&endpoint)
        .attributes("Enabled", "false")
        .send()
        .await
        .expect("disabling the endpoint");
    let push = |endpoint: String| {
        envelope(Outgoing::Push(OutgoingPush {
            endpoint,
            title: "t".into(),
            body: "b".into(),
            deep_link: None,
        }))
    };
    let reason = rejection(channel.send(&push(endpoint.clone())).await);
    assert!(reason.contains("EndpointDisabled"), "{reason}");
    let missing = format!("{endpoint}-missing");
    let reason = rejection(channel.send(&push(missing)).await);
    assert!(reason.contains("NotFound"), "{reason}");
    rejection(channel.send(&push("not-an-arn".into())).await);
}

// ---------------------------------------------------------------------------------------------
// Zalo ZNS and the webhook on test servers.

/// A throwaway HTTP server on loopback that records every request and answers with
/// `answer(recorded request)`. Returns its base URL and the log.
async fn test_server(answer: fn(&Recorded) -> (StatusCode, String)) -> (String, Log) {
    #[derive(Clone)]
    struct Server {
        log: Log,
        answer: fn(&Recorded) -> (StatusCode, String),
    }
    async fn handle(
        State(server): State<Server>,
        headers: HeaderMap,
        body: Bytes,
    ) -> impl IntoResponse {
        let head = headers
            .iter()
            .map(|(n, v)| format!("{}: {}\r\n", n, v.to_str().unwrap_or_default()))
            .collect::<String>();
        let recorded = Recorded {
            head,
            body: body.to_vec(),
        };
        let (status, body) = (server.answer)(&recorded);
        server.log.lock().unwrap().push(recorded);
        (status, [("content-type", "application/json")], body)
    }
    let log: Log = Arc::default();
    let app = axum::Router::new()
        .route("/{*path}", post(handle))
        .with_state(Server {
            log: log.clone(),
            answer,
        });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{address}"), log)
}

/// Zalo as the tests need it: the template id chooses the answer.
fn zalo_answer(request: &Recorded) -> (StatusCode, String) {
    let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
    let ok = |code: StatusCode, value: Value| (code, value.to_string());
    match body["template_id"].as_str().unwrap_or_default() {
        "ok" => ok(
            StatusCode::OK,
            json!({"error": 0, "message": "Success", "data": {"msg_id": "zalo-msg-1", "sent_time": "1795402800000"}}),
        ),
        "token" => ok(
            StatusCode::OK,
            json!({"error": -124, "message": "Access token is invalid or expired"}),
        ),
        "template" => ok(
            StatusCode::OK,
            json!({"error": -1123, "message": "Template data is invalid for phone 84912345678"}),
        ),
        "rate" => ok(
            StatusCode::OK,
            json!({"error": -32, "message": "Request exceeds rate limit"}),
        ),
        "http429" => ok(StatusCode::TOO_MANY_REQUESTS, json!({})),
        "http500" => ok(StatusCode::INTERNAL_SERVER_ERROR, json!({})),
        "http400" => (StatusCode::BAD_REQUEST, "bad request".into()),
        "garbage" => (StatusCode::OK, "<html>maintenance</html>".into()),
        _ => ok(
            StatusCode::OK,
            json!({"error": 0, "message": "Success", "data": {}}),
        ),
    }
}

/// One access token, whatever Zalo says of it (the keeper itself is tested in
/// `contract::zalo`).
struct FixedToken(&'static str);

#[async_trait::async_trait]
impl nhip_ports::zalo::AccessTokens for FixedToken {
    async fn access_token(&self) -> Result<String, nhip_ports::zalo::TokenError> {
        Ok(self.0.to_owned())
    }

    async fn after_rejection(&self, _: &str) -> Result<String, nhip_ports::zalo::TokenError> {
        Ok(self.0.to_owned())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zalo_sends_template_messages_and_maps_its_answers() {
    let (url, log) = test_server(zalo_answer).await;
    let endpoint = format!("{url}/message/template");
    let channel = nhip_aws::ZaloZnsChannel::new(
        nhip_aws::webhook::http_client(),
        endpoint,
        Some(Arc::new(FixedToken("oa-access-token"))),
    );
    assert_eq!(channel.name(), "zalo-zns");

    let accepted = channel.send(&envelope(zns("ok"))).await.unwrap();
    assert_eq!(accepted.provider_id, "zalo-msg-1");
    let request = log.lock().unwrap()[0].clone();
    assert_eq!(
        request.header("access_token").as_deref(),
        Some("oa-access-token")
    );
    assert_eq!(
        request.header("content-type").as_deref(),
        Some("application/json")
    );
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(
        body,
        json!({
            "phone": "84912345678",
            "template_id": "ok",
            "template_data": {"customer_name": "Nguyễn Văn A", "due_date": "28/11/2026"},
            "tracking_id": "01JD3ZK5X8Q2W7M4N6P9R1T3V5",
        })
    );

    // A token Zalo calls invalid: the keeper is asked for another and the message is sent
    // once more; a second refusal leaves it on the queue for later.
    let before = log.lock().unwrap().len();
    let result = channel.send(&envelope(zns("token"))).await;
    assert!(
        matches!(&result, Err(ChannelError::NotSent { source }) if source.to_string().contains("-124")),
        "{result:?}"
    );
    assert_eq!(
        log.lock().unwrap().len(),
        before + 2,
        "sent twice, never three times"
    );
    let reason = rejection(channel.send(&envelope(zns("template"))).await);
    assert!(reason.contains("-1123"), "{reason}");
    assert!(
        !reason.contains("84912345678"),
        "no number in the reason: {reason}"
    );
    let reason = rejection(channel.send(&envelope(zns("http400"))).await);
    assert!(reason.contains("400"), "{reason}");

    for throttled in ["rate", "http429"] {
        let result = channel.send(&envelope(zns(throttled))).await;
        assert!(
            matches!(&result, Err(ChannelError::Throttled { .. })),
            "{throttled}: {result:?}"
        );
    }
    // Zalo's own 5xx: it did not take the message (retried).
    let result = channel.send(&envelope(zns("http500"))).await;
    assert!(
        matches!(&result, Err(ChannelError::NotSent { .. })),
        "{result:?}"
    );
    // An answer that cannot be read: whether it went is unknown (never retried).
    for unknown in ["garbage", "no-msg-id"] {
        let result = channel.send(&envelope(zns(unknown))).await;
        assert!(
            matches!(&result, Err(ChannelError::Unavailable { .. })),
            "{unknown}: {result:?}"
        );
    }

    // Refused before any request: another kind, a malformed phone.
    let sent = log.lock().unwrap().len();
    rejection(
        channel
            .send(&envelope(Outgoing::Sms(sms("+84912345678"))))
            .await,
    );
    let mut plus = zns("ok");
    if let Outgoing::Zns(z) = &mut plus {
        z.phone = "+84912345678".into();
    }
    rejection(channel.send(&envelope(plus)).await);
    assert_eq!(log.lock().unwrap().len(), sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zalo_unconfigured_or_unreachable() {
    let unconfigured = nhip_aws::ZaloZnsChannel::new(
        nhip_aws::webhook::http_client(),
        "https://business.openapi.zalo.me/message/template",
        None,
    );
    let reason = rejection(unconfigured.send(&envelope(zns("ok"))).await);
    assert!(reason.contains("NHIP_CREDENTIALS_KEY"), "{reason}");

    let unreachable = nhip_aws::ZaloZnsChannel::new(
        nhip_aws::webhook::http_client(),
        format!("{}/message/template", closed_port_url().await),
        Some(Arc::new(FixedToken("oa-access-token"))),
    );
    assert!(!format!("{unreachable:?}").contains("oa-access-token"));
    let result = unreachable.send(&envelope(zns("ok"))).await;
    assert!(
        matches!(&result, Err(ChannelError::NotSent { .. })),
        "{result:?}"
    );
}

/// The bridge as the tests need it: the recipient chooses the answer.
fn bridge_answer(request: &Recorded) -> (StatusCode, String) {
    let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
    match body["recipient"].as_str().unwrap_or_default() {
        "with-id" => (StatusCode::OK, json!({"id": "viber-123"}).to_string()),
        "without-id" => (StatusCode::ACCEPTED, String::new()),
        "throttle" => (StatusCode::TOO_MANY_REQUESTS, String::new()),
        "bad" => (StatusCode::UNPROCESSABLE_ENTITY, String::new()),
        _ => (StatusCode::SERVICE_UNAVAILABLE, String::new()),
    }
}

fn bridge_message(recipient: &str) -> Outgoing {
    Outgoing::Webhook(OutgoingWebhook {
        bridge: "viber".into(),
        recipient: recipient.into(),
        text: "Xin chào Anh Minh, thẻ của anh đã sẵn sàng.".into(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_posts_signed_messages_and_maps_the_answers() {
    let secret = b"bridge-shared-secret-of-at-least-32-bytes".to_vec();
    let (url, log) = test_server(bridge_answer).await;
    let channel = nhip_aws::WebhookChannel::new(
        nhip_aws::webhook::http_client(),
        Some(nhip_aws::WebhookTarget {
            url: format!("{url}/nhip/messages"),
            secret: secret.clone(),
        }),
    );
    assert_eq!(channel.name(), "webhook");

    let with_id = envelope(bridge_message("with-id"));
    let accepted = channel.send(&with_id).await.unwrap();
    assert_eq!(accepted.provider_id, "viber-123");
    let without_id = envelope(bridge_message("without-id"));
    let accepted = channel.send(&without_id).await.unwrap();
    assert_eq!(accepted.provider_id, without_id.message_id);

    let request = log.lock().unwrap()[0].clone();
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(
        body,
        json!({
            "message_id": with_id.message_id,
            "bridge": "viber",
            "recipient": "with-id",
            "text": "Xin chào Anh Minh, thẻ của anh đã sẵn sàng.",
        })
    );
    let timestamp = request.header("x-nhip-timestamp").expect("a timestamp");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((now - timestamp.parse::<i64>().unwrap()).abs() <= 60);
    // The receiving side checks it exactly as Nhịp checks the call centre's webhooks.
    assert_eq!(
        request.header("x-nhip-signature").unwrap(),
        nhip_core::webhook::sign(&secret, &timestamp, &request.body)
    );
    assert_ne!(
        request.header("x-nhip-signature").unwrap(),
        nhip_core::webhook::sign(
            b"another-secret-of-at-least-32-bytes!!",
            &timestamp,
            &request.body
        )
    );

    let result = channel.send(&envelope(bridge_message("throttle"))).await;
    assert!(
        matches!(&result, Err(ChannelError::Throttled { .. })),
        "{result:?}"
    );
    let reason = rejection(channel.send(&envelope(bridge_message("bad"))).await);
    assert!(reason.contains("422"), "{reason}");
    let result = channel.send(&envelope(bridge_message("down"))).await;
    assert!(
        matches!(&result, Err(ChannelError::NotSent { .. })),
        "{result:?}"
    );

    let sent = log.lock().unwrap().len();
    rejection(channel.send(&envelope(zns("ok"))).await);
    assert_eq!(
        log.lock().unwrap().len(),
        sent,
        "other kinds are refused unsent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_unconfigured_or_unreachable() {
    let unconfigured = nhip_aws::WebhookChannel::new(nhip_aws::webhook::http_client(), None);
    let reason = rejection(
        unconfigured
            .send(&envelope(bridge_message("with-id")))
            .await,
    );
    assert!(reason.contains("NHIP_WEBHOOK_URL"), "{reason}");

    let target = nhip_aws::WebhookTarget {
        url: closed_port_url().await,
        secret: b"bridge-shared-secret-of-at-least-32-bytes".to_vec(),
    };
    assert!(!format!("{target:?}").contains("bridge-shared-secret"));
    let unreachable = nhip_aws::WebhookChannel::new(nhip_aws::webhook::http_client(), Some(target));
    let result = unreachable.send(&envelope(bridge_message("with-id"))).await;
    assert!(
        matches!(&result, Err(ChannelError::NotSent { .. })),
        "{result:?}"
    );
}
