//! Glue to the channels: a template or a system message rendered with the customer's data
//! into what the channel port sends, with the advertising labels, opt-out, tracked links and
//! unsubscribe headers; and what of it is kept on the message.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::links;
use crate::model::{Message, MessageChannel, SendRequest, Status, SystemMessage, Target};
use crate::templates;
use nhip_core::deps::Deps;
use nhip_crm::customers::model::Customer;
use nhip_domain::template::escape_html;
use nhip_domain::template::{Content, Template};
use nhip_ports::channel::{
    Outgoing, OutgoingEmail, OutgoingPush, OutgoingSms, OutgoingWebhook, OutgoingZns, SmsKind,
};

use super::checks::*;
use super::decide::*;

/// What is kept of the sent content: everything but attachment bytes (kept in the blob store
/// already), so a message item stays far below the store's item size.
pub(super) fn stored_content(outgoing: &Outgoing) -> Value {
    let mut value = serde_json::to_value(outgoing).expect("outgoing serialises");
    if let Some(attachments) = value.get_mut("attachments").and_then(Value::as_array_mut) {
        for attachment in attachments {
            let size = attachment
                .get("bytes")
                .and_then(Value::as_str)
                .map_or(0, |b| {
                    b.len() / 4 * 3 - b.bytes().rev().take_while(|c| *c == b'=').count()
                });
            if let Some(object) = attachment.as_object_mut() {
                object.remove("bytes");
                object.insert("size".into(), json!(size));
            }
        }
    }
    value
}

/// Renders the chosen target into what the channel sends, with labels, opt-out, tracked
/// links and headers. A failure is final and explained.
pub(super) async fn render(
    deps: &Deps,
    request: &SendRequest,
    customer: &Customer,
    target: &Target,
    address: &str,
    message: &mut Message,
) -> Result<Outgoing, Decision> {
    let settings = &deps.settings.messaging;
    let secret = settings.link_secret.as_deref();
    let unsubscribe_url = secret.map(|secret| {
        format!(
            "{}/u/{}",
            settings.public_url,
            links::unsubscribe_token(secret, &message.id)
        )
    });
    let failed = |reason: &'static str, text: String| Decision::new(Status::Failed, reason, text);
    let content = match &request.system {
        Some(SystemMessage::RefusalConfirmation {
            received_at,
            channel,
        }) => refusal_confirmation(deps, *received_at, *channel),
        Some(SystemMessage::ConsentConfirmation {
            channel,
            url,
            consents,
        }) => consent_confirmation(deps, *channel, url, consents),
        None => {
            let version = templates::for_send(deps, &target.template, target.version)
                .await
                .map_err(|e| failed("template_missing", format!("Không có mẫu tin: {e}.")))?;
            message.template = Some(version.code.clone());
            message.template_version = Some(version.number);
            if version.content.channel() != target.channel.as_str() {
                return Err(failed(
                    "template_channel_mismatch",
                    format!(
                        "Mẫu {} dành cho kênh {}, không phải {}.",
                        version.code,
                        version.content.channel(),
                        target.channel
                    ),
                ));
            }
            if let Content::Zns { tag, .. } = &version.content
                && request.purpose.is_advertising()
                && !tag.allows_marketing()
            {
                return Err(failed(
                    "zns_tag_not_promotion",
                    format!(
                        "Mẫu ZNS gắn nhãn “{}” không được dùng để quảng cáo.",
                        tag.label()
                    ),
                ));
            }
            let compiled = Template::compile(&version.content)
                .map_err(|e| failed("template_invalid", format!("Mẫu tin lỗi: {e}")))?;
            let data = templates::merge_data(
                deps,
                customer,
                &request.data,
                Some((&message.id, unsubscribe_url.clone())),
            );
            let rendered = compiled
                .render(&data)
                .map_err(|e| failed("render_failed", format!("Không tạo được nội dung: {e}")))?;
            // What customer data put into a link is checked as the template's own links were
            // when it was saved: a `javascript:` or `data:` link is never sent.
            nhip_domain::template::links::check(&rendered, &settings.app_link_schemes)
                .map_err(|e| failed("unsafe_link", format!("Không gửi: {e}")))?;
            rendered
        }
    };
    let advertising = request.purpose.is_advertising();
    let rules = if advertising {
        Some(
            advertising_rules(deps)
                .await
                .map_err(|e| failed("rules_unavailable", e.to_string()))?,
        )
    } else {
        None
    };
    let tracked = |text: &str, links: &mut Vec<String>| match secret {
        Some(secret) => links::rewrite(text, &settings.public_url, secret, &message.id, links),
        None => text.to_owned(),
    };
    let mut new_links = Vec::new();
    let outgoing = match content {
        Content::Email {
            subject,
            html,
            text,
            attachments,
        } => {
            let (mut subject, mut html, mut text) = (subject, html, text);
            let mut headers = Vec::new();
            if let Some(rules) = &rules {
                let Some(url) = &unsubscribe_url else {
                    return Err(failed(
                        "link_secret_missing",
                        "Chưa cấu hình NHIP_LINK_SECRET nên không tạo được liên kết từ chối; \
                         không gửi thư quảng cáo."
                            .into(),
                    ));
                };
                subject = rules.label_email_subject(&subject);
                let opt_out = rules.email_opt_out(url);
                text = format!("{text}\n\n{opt_out}");
                html = format!(
                    "{html}\n<p style=\"font-size:12px;color:#666\">{}</p>",
                    escape_html(&opt_out).replace(
                        &escape_html(url),
                        &format!("<a href=\"{0}\">{0}</a>", escape_html(url))
                    )
                );
            }
            if let Some(url) = &unsubscribe_url {
                headers.push(("List-Unsubscribe".to_owned(), format!("<{url}>")));
                headers.push((
                    "List-Unsubscribe-Post".to_owned(),
                    "List-Unsubscribe=One-Click".to_owned(),
                ));
            }
            let mut files = Vec::new();
            for attachment in attachments {
                let blob = deps
                    .blobs
                    .get(&attachment.blob_key)
                    .await
                    .map_err(|e| failed("attachment_unavailable", e.to_string()))?
                    .ok_or_else(|| {
                        failed(
                            "attachment_missing",
                            format!("Không tìm thấy tệp đính kèm {}.", attachment.filename),
                        )
                    })?;
                files.push(nhip_ports::channel::Attachment {
                    filename: attachment.filename,
                    content_type: attachment.content_type,
                    bytes: blob.bytes,
                });
            }
            Outgoing::Email(OutgoingEmail {
                from: settings.email_from.clone(),
                to: address.to_owned(),
                subject,
                html,
                text,
                attachments: files,
                headers,
            })
        }
        Content::Sms { text, .. } => {
            let mut text = tracked(&text, &mut new_links);
            if let Some(rules) = &rules {
                text = rules.label_sms(&text, &settings.sms_reply_number);
            }
            message.sms_segments = Some(json!(nhip_domain::template::sms_segments(&text)));
            Outgoing::Sms(OutgoingSms {
                to: address.to_owned(),
                text,
                sender_id: settings.sms_sender_id.clone(),
                kind: if advertising {
                    SmsKind::Promotional
                } else {
                    SmsKind::Transactional
                },
            })
        }
        Content::Zns {
            template_id,
            params,
            ..
        } => Outgoing::Zns(OutgoingZns {
            phone: address.trim_start_matches('+').to_owned(),
            template_id,
            params: params
                .into_iter()
                .map(|(k, v)| (k, tracked(&v, &mut new_links)))
                .collect(),
            tracking_id: message.id.clone(),
        }),
        Content::Push {
            title,
            body,
            deep_link,
        } => Outgoing::Push(OutgoingPush {
            endpoint: address.to_owned(),
            title,
            body: tracked(&body, &mut new_links),
            deep_link,
        }),
        Content::Webhook { text } => Outgoing::Webhook(OutgoingWebhook {
            bridge: customer
                .attributes
                .get("ott_bridge")
                .and_then(Value::as_str)
                .unwrap_or("ott")
                .to_owned(),
            recipient: address.to_owned(),
            text: tracked(&text, &mut new_links),
        }),
    };
    message.links = new_links;
    Ok(outgoing)
}

/// The confirmation of a refusal: when it was received and that advertising stopped. No
/// advertising in it, and no template to edit it into one.
pub(super) fn refusal_confirmation(
    deps: &Deps,
    received_at: DateTime<Utc>,
    channel: MessageChannel,
) -> Content {
    let organisation = &deps.settings.messaging.organisation.name;
    let when = nhip_domain::time::to_vn(received_at).format("%H:%M ngày %d/%m/%Y");
    let via = match channel {
        MessageChannel::Email => "thư điện tử",
        MessageChannel::Sms => "SMS",
        MessageChannel::Zns => "Zalo",
        MessageChannel::Push => "thông báo ứng dụng",
        MessageChannel::Webhook => "ứng dụng nhắn tin",
    };
    let sentence = format!(
        "{organisation} đã nhận yêu cầu từ chối nhận quảng cáo qua {via} của Quý khách lúc \
         {when}. Chúng tôi đã ngừng gửi quảng cáo qua kênh này."
    );
    system_content(
        channel,
        "Xác nhận từ chối nhận thư quảng cáo",
        "Xác nhận từ chối quảng cáo",
        sentence,
    )
}

/// The double opt-in request: what was asked for in the customer's name and the link that
/// confirms it. Nothing is granted unless they confirm.
pub(super) fn consent_confirmation(
    deps: &Deps,
    channel: MessageChannel,
    url: &str,
    consents: &[String],
) -> Content {
    let organisation = &deps.settings.messaging.organisation.name;
    let sentence = format!(
        "{organisation} nhận được đăng ký nhận tin ({}) mang thông tin liên hệ của Quý khách. \
         Nếu đúng là Quý khách, vui lòng xác nhận tại {url} (hiệu lực 7 ngày). Nếu không, xin \
         bỏ qua tin này: chúng tôi không thay đổi gì.",
        consents.join(", ")
    );
    system_content(
        channel,
        "Xác nhận đăng ký nhận tin",
        "Xác nhận đăng ký nhận tin",
        sentence,
    )
}

/// A message Nhịp writes itself, one sentence, in the channel's shape: an e-mail with
/// `subject` (the sentence as text and as escaped HTML), a push with `title`, a text message
/// on SMS and ZNS, plain text to a webhook.
fn system_content(
    channel: MessageChannel,
    subject: &str,
    title: &str,
    sentence: String,
) -> Content {
    match channel {
        MessageChannel::Email => Content::Email {
            subject: subject.into(),
            html: format!("<p>{}</p>", escape_html(&sentence)),
            text: sentence,
            attachments: Vec::new(),
        },
        MessageChannel::Push => Content::Push {
            title: title.into(),
            body: sentence,
            deep_link: None,
        },
        MessageChannel::Webhook => Content::Webhook { text: sentence },
        MessageChannel::Sms | MessageChannel::Zns => Content::Sms {
            text: sentence,
            unaccented: false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nhip_ports::channel::OutgoingEmail;

    #[test]
    fn stored_content_keeps_attachment_sizes_not_bytes() {
        let outgoing = Outgoing::Email(OutgoingEmail {
            from: "a@example.vn".into(),
            to: "b@example.vn".into(),
            subject: "s".into(),
            html: "<p>h</p>".into(),
            text: "h".into(),
            attachments: vec![nhip_ports::channel::Attachment {
                filename: "bieu-phi.pdf".into(),
                content_type: "application/pdf".into(),
                bytes: b"hello".to_vec(),
            }],
            headers: Vec::new(),
        });
        let stored = stored_content(&outgoing);
        let attachment = &stored["attachments"][0];
        assert_eq!(attachment["size"], 5);
        assert_eq!(attachment["filename"], "bieu-phi.pdf");
        assert!(attachment.get("bytes").is_none(), "{stored}");
    }
}
