//! SES event-publishing records (a v2 configuration set's event destination publishes them to
//! an SNS topic; each SNS `Message` is one record), reduced to the delivery signal Nhịp keeps.
//!
//! A record names the e-mail by SES's `mail.messageId`, and by ours through the message tag
//! `nhip_message` set when sending. Only what the timeline and the reports need is kept:
//! recipients' addresses, user agents, IP addresses, headers and diagnostic codes are never
//! read into [`SesEvent`] (personal data), only how many recipients an event concerns.
//!
//! `Subscription` records (SES-managed subscription preferences, which Nhịp does not use) and
//! any type SES may add later answer [`SesEventError::Unsupported`]: acknowledge and drop them.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;

/// The message tag carrying Nhịp's message id (a ULID).
pub const NHIP_MESSAGE_TAG: &str = "nhip_message";

/// One SES event, reduced to what Nhịp keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SesEvent {
    /// SES's id of the e-mail (`mail.messageId`), as answered by `SendEmail`.
    pub provider_message_id: String,
    /// Nhịp's id of the message, from the `nhip_message` tag (absent on mail sent otherwise).
    pub nhip_message_id: Option<String>,
    /// When the event happened: its own timestamp, else when the e-mail was sent.
    pub at: DateTime<Utc>,
    /// How many recipients the event concerns (bounced, complained, delivered, delayed), or
    /// the e-mail's recipient count for events that name none.
    pub recipient_count: usize,
    /// What happened.
    pub signal: SesSignal,
}

/// What happened to an e-mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SesSignal {
    /// SES accepted the send request.
    Send,
    /// The recipient's mail server accepted the e-mail.
    Delivery,
    /// The e-mail bounced; `permanent` for a hard bounce (stop mailing the address).
    Bounce {
        /// `bounceType` was `Permanent` (not `Transient` or `Undetermined`).
        permanent: bool,
        /// `bounceSubType`, e.g. `General`, `NoEmail`, `Suppressed`, `MailboxFull`.
        sub_type: String,
    },
    /// The recipient marked the e-mail as spam.
    Complaint {
        /// `complaintFeedbackType` (e.g. `abuse`), when the mailbox provider sent one.
        feedback_type: Option<String>,
    },
    /// SES refused to send the e-mail (e.g. a virus).
    Reject {
        /// `reject.reason`.
        reason: String,
    },
    /// The recipient opened the e-mail (its images loaded).
    Open,
    /// The recipient clicked a tracked link.
    Click {
        /// The link's target as written in the e-mail.
        link: String,
    },
    /// Delivery is delayed; SES keeps trying.
    DeliveryDelay {
        /// `deliveryDelay.delayType`, e.g. `MailboxFull`, `TransientCommunicationFailure`.
        delay_type: String,
    },
    /// A template could not be rendered; nothing was sent.
    RenderingFailure {
        /// `failure.errorMessage`.
        error: String,
    },
}

impl SesSignal {
    /// The signal's name on timelines and in reports.
    pub fn name(&self) -> &'static str {
        match self {
            SesSignal::Send => "send",
            SesSignal::Delivery => "delivery",
            SesSignal::Bounce { .. } => "bounce",
            SesSignal::Complaint { .. } => "complaint",
            SesSignal::Reject { .. } => "reject",
            SesSignal::Open => "open",
            SesSignal::Click { .. } => "click",
            SesSignal::DeliveryDelay { .. } => "delivery_delay",
            SesSignal::RenderingFailure { .. } => "rendering_failure",
        }
    }
}

/// Why an SES record was not turned into an [`SesEvent`].
#[derive(Debug, thiserror::Error)]
pub enum SesEventError {
    /// Not JSON, or not shaped like an SES event record.
    #[error("not an SES event record")]
    Json(#[from] serde_json::Error),
    /// An event type Nhịp does not handle (`Subscription`, or one SES added later): not an
    /// error of the sender, acknowledge and drop.
    #[error("SES event type {event_type:?} is not handled")]
    Unsupported {
        /// The `eventType` as sent (cut to 32 characters).
        event_type: String,
    },
    /// The record lacks the object or field its type must carry.
    #[error("SES {event_type} record lacks `{field}`")]
    Missing {
        /// The record's type.
        event_type: &'static str,
        /// The missing field.
        field: &'static str,
    },
    /// A timestamp is not an ISO 8601 instant.
    #[error("SES record has an unreadable `{field}`")]
    Timestamp {
        /// Which timestamp.
        field: &'static str,
        /// The parse error.
        #[source]
        source: chrono::ParseError,
    },
}

/// Parses one SES event record (the `Message` of the SNS notification).
pub fn parse(json: &str) -> Result<SesEvent, SesEventError> {
    let raw: RawEvent = serde_json::from_str(json)?;
    let event_type = raw.event_type.as_deref().unwrap_or_default();
    let mail_at = instant(&raw.mail.timestamp, "mail.timestamp")?;
    let destination_count = raw.mail.destination.len();

    let (signal, at, recipient_count) = match event_type {
        "Send" => (SesSignal::Send, None, destination_count),
        "Delivery" => {
            let delivery = required(raw.delivery, "Delivery", "delivery")?;
            let count = delivery.recipients.len();
            (
                SesSignal::Delivery,
                delivery.timestamp.map(|t| (t, "delivery.timestamp")),
                count,
            )
        }
        "Bounce" => {
            let bounce = required(raw.bounce, "Bounce", "bounce")?;
            let signal = SesSignal::Bounce {
                permanent: bounce.bounce_type.as_deref() == Some("Permanent"),
                sub_type: bounce.bounce_sub_type.unwrap_or_default(),
            };
            let count = bounce.bounced_recipients.len();
            (
                signal,
                bounce.timestamp.map(|t| (t, "bounce.timestamp")),
                count,
            )
        }
        "Complaint" => {
            let complaint = required(raw.complaint, "Complaint", "complaint")?;
            let signal = SesSignal::Complaint {
                feedback_type: complaint.complaint_feedback_type,
            };
            let count = complaint.complained_recipients.len();
            (
                signal,
                complaint.timestamp.map(|t| (t, "complaint.timestamp")),
                count,
            )
        }
        "Reject" => {
            let reject = required(raw.reject, "Reject", "reject")?;
            let signal = SesSignal::Reject {
                reason: reject.reason.unwrap_or_default(),
            };
            (signal, None, destination_count)
        }
        "Open" => {
            let open = required(raw.open, "Open", "open")?;
            (
                SesSignal::Open,
                open.timestamp.map(|t| (t, "open.timestamp")),
                destination_count,
            )
        }
        "Click" => {
            let click = required(raw.click, "Click", "click")?;
            let link = required(click.link, "Click", "click.link")?;
            (
                SesSignal::Click { link },
                click.timestamp.map(|t| (t, "click.timestamp")),
                destination_count,
            )
        }
        "DeliveryDelay" => {
            let delay = required(raw.delivery_delay, "DeliveryDelay", "deliveryDelay")?;
            let signal = SesSignal::DeliveryDelay {
                delay_type: delay.delay_type.unwrap_or_default(),
            };
            let count = delay.delayed_recipients.len();
            (
                signal,
                delay.timestamp.map(|t| (t, "deliveryDelay.timestamp")),
                count,
            )
        }
        "Rendering Failure" => {
            let failure = required(raw.failure, "Rendering Failure", "failure")?;
            let signal = SesSignal::RenderingFailure {
                error: failure.error_message.unwrap_or_default(),
            };
            (signal, None, destination_count)
        }
        other => {
            return Err(SesEventError::Unsupported {
                event_type: other.chars().take(32).collect(),
            });
        }
    };

    let at = match at {
        Some((text, field)) => instant(&text, field)?,
        None => mail_at,
    };
    let nhip_message_id = raw
        .mail
        .tags
        .get(NHIP_MESSAGE_TAG)
        .and_then(|values| values.first())
        .filter(|id| !id.is_empty())
        .cloned();
    Ok(SesEvent {
        provider_message_id: raw.mail.message_id,
        nhip_message_id,
        at,
        recipient_count,
        signal,
    })
}

fn required<T>(
    value: Option<T>,
    event_type: &'static str,
    field: &'static str,
) -> Result<T, SesEventError> {
    value.ok_or(SesEventError::Missing { event_type, field })
}

fn instant(text: &str, field: &'static str) -> Result<DateTime<Utc>, SesEventError> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|source| SesEventError::Timestamp { field, source })
}

// The wire shapes. Only the fields read are declared: serde skips the rest (addresses,
// headers, user agents, IPs) without keeping them. Lists of recipients are read as opaque
// values and only counted.

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEvent {
    // Records of identity notifications (no configuration set) name it `notificationType`.
    #[serde(alias = "notificationType")]
    event_type: Option<String>,
    mail: RawMail,
    delivery: Option<RawDelivery>,
    bounce: Option<RawBounce>,
    complaint: Option<RawComplaint>,
    reject: Option<RawReject>,
    open: Option<RawTimed>,
    click: Option<RawClick>,
    delivery_delay: Option<RawDeliveryDelay>,
    failure: Option<RawFailure>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMail {
    timestamp: String,
    message_id: String,
    #[serde(default)]
    destination: Vec<serde::de::IgnoredAny>,
    #[serde(default)]
    tags: HashMap<String, Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDelivery {
    timestamp: Option<String>,
    #[serde(default)]
    recipients: Vec<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBounce {
    bounce_type: Option<String>,
    bounce_sub_type: Option<String>,
    #[serde(default)]
    bounced_recipients: Vec<serde::de::IgnoredAny>,
    timestamp: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawComplaint {
    complaint_feedback_type: Option<String>,
    #[serde(default)]
    complained_recipients: Vec<serde::de::IgnoredAny>,
    timestamp: Option<String>,
}

#[derive(Deserialize)]
struct RawReject {
    reason: Option<String>,
}

#[derive(Deserialize)]
struct RawTimed {
    timestamp: Option<String>,
}

#[derive(Deserialize)]
struct RawClick {
    link: Option<String>,
    timestamp: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDeliveryDelay {
    delay_type: Option<String>,
    #[serde(default)]
    delayed_recipients: Vec<serde::de::IgnoredAny>,
    timestamp: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawFailure {
    error_message: Option<String>,
}

#[cfg(test)]
mod tests {
    use aws_lambda_events::event::sns::SnsEvent;

    use super::*;

    const PROVIDER_ID: &str = "0100019ab3c4d5e6-nhip-fixture-0000-000000000000-000000";
    const NHIP_ID: &str = "01KAQ3V2J5N8W6Y4X0Z9B7C1D3";

    macro_rules! fixture {
        ($name:literal) => {
            (
                $name,
                include_str!(concat!("../../../events/engagement-tracker/", $name)),
            )
        };
    }

    /// Every fixture with the signal and instant it must parse to.
    fn fixtures() -> Vec<(&'static str, &'static str, SesSignal, &'static str, usize)> {
        let expectations = [
            (
                fixture!("ses-send.json"),
                SesSignal::Send,
                "2026-11-23T08:15:30.123Z",
                1,
            ),
            (
                fixture!("ses-delivery.json"),
                SesSignal::Delivery,
                "2026-11-23T08:15:32.871Z",
                1,
            ),
            (
                fixture!("ses-bounce-permanent.json"),
                SesSignal::Bounce {
                    permanent: true,
                    sub_type: "General".into(),
                },
                "2026-11-23T08:15:33.402Z",
                1,
            ),
            (
                fixture!("ses-bounce-transient.json"),
                SesSignal::Bounce {
                    permanent: false,
                    sub_type: "MailboxFull".into(),
                },
                "2026-11-23T20:16:05.220Z",
                1,
            ),
            (
                fixture!("ses-complaint.json"),
                SesSignal::Complaint {
                    feedback_type: Some("abuse".into()),
                },
                "2026-11-24T01:02:03.004Z",
                1,
            ),
            (
                fixture!("ses-reject.json"),
                SesSignal::Reject {
                    reason: "Bad content".into(),
                },
                "2026-11-23T08:15:30.123Z",
                1,
            ),
            (
                fixture!("ses-open.json"),
                SesSignal::Open,
                "2026-11-23T12:41:07.339Z",
                1,
            ),
            (
                fixture!("ses-click.json"),
                SesSignal::Click {
                    link: "https://nhip.example/uu-dai/tra-gop?utm_source=email".into(),
                },
                "2026-11-23T12:42:19.905Z",
                1,
            ),
            (
                fixture!("ses-delivery-delay.json"),
                SesSignal::DeliveryDelay {
                    delay_type: "MailboxFull".into(),
                },
                "2026-11-23T09:15:41.118Z",
                1,
            ),
            (
                fixture!("ses-rendering-failure.json"),
                SesSignal::RenderingFailure {
                    error: "Attribute 'ten_goi' is not present in the rendering data.".into(),
                },
                "2026-11-23T08:15:30.123Z",
                1,
            ),
        ];
        expectations
            .into_iter()
            .map(|((name, text), signal, at, count)| (name, text, signal, at, count))
            .collect()
    }

    #[test]
    fn every_fixture_is_a_lambda_sns_event_carrying_its_ses_record() {
        let fixtures = fixtures();
        assert_eq!(fixtures.len(), 10);
        for (name, text, signal, at, count) in fixtures {
            let event: SnsEvent =
                serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(event.records.len(), 1, "{name}");
            let record = &event.records[0];
            assert_eq!(record.event_source, "aws:sns", "{name}");
            assert_eq!(
                record.sns.topic_arn,
                "arn:aws:sns:ap-southeast-1:123456789012:nhip-ses-events"
            );
            assert!(
                super::super::sns::validate_cert_url(&record.sns.signing_cert_url).is_ok(),
                "{name}"
            );
            let parsed = parse(&record.sns.message).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(parsed.provider_message_id, PROVIDER_ID, "{name}");
            assert_eq!(parsed.nhip_message_id.as_deref(), Some(NHIP_ID), "{name}");
            assert_eq!(parsed.signal, signal, "{name}");
            assert_eq!(parsed.at, at.parse::<DateTime<Utc>>().unwrap(), "{name}");
            assert_eq!(parsed.recipient_count, count, "{name}");
            assert!(
                record.sns.timestamp >= parsed.at,
                "{name}: SNS publishes after the event"
            );
            let file_stem = name.trim_end_matches(".json").trim_start_matches("ses-");
            assert!(
                file_stem.starts_with(&parsed.signal.name().replace('_', "-")),
                "{name} holds a {} event",
                parsed.signal.name()
            );
        }
    }

    #[test]
    fn parsed_events_keep_no_address_user_agent_or_ip() {
        for (name, text, ..) in fixtures() {
            let event: SnsEvent = serde_json::from_str(text).unwrap();
            let parsed = parse(&event.records[0].sns.message).unwrap();
            let shown = format!("{parsed:?}");
            for personal in ["khachhang@example.com", "@", "Mozilla", "203.0.113."] {
                assert!(
                    !shown.contains(personal),
                    "{name} keeps {personal}: {shown}"
                );
            }
        }
    }

    fn record(event_type: &str, body: &str) -> String {
        format!(
            r#"{{"eventType":"{event_type}","mail":{{"timestamp":"2026-11-23T08:15:30.123Z","messageId":"m-1","destination":["a@example.com","b@example.com"],"tags":{{}}}}{body}}}"#
        )
    }

    #[test]
    fn falls_back_to_the_mail_timestamp_and_tolerates_missing_tags() {
        let event = parse(&record("Open", r#","open":{}"#)).unwrap();
        assert_eq!(event.signal, SesSignal::Open);
        assert_eq!(
            event.at,
            "2026-11-23T08:15:30.123Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(event.nhip_message_id, None);
        assert_eq!(event.recipient_count, 2);
        let untagged = r#"{"eventType":"Send","mail":{"timestamp":"2026-11-23T08:15:30Z","messageId":"m-2"},"send":{}}"#;
        let event = parse(untagged).unwrap();
        assert_eq!(event.nhip_message_id, None);
        assert_eq!(event.recipient_count, 0);
    }

    #[test]
    fn undetermined_and_transient_bounces_are_not_permanent() {
        for bounce_type in ["Transient", "Undetermined"] {
            let body = format!(
                r#","bounce":{{"bounceType":"{bounce_type}","bounceSubType":"General","bouncedRecipients":[{{"emailAddress":"a@example.com"}}],"timestamp":"2026-11-23T08:16:00Z"}}"#
            );
            let event = parse(&record("Bounce", &body)).unwrap();
            assert_eq!(
                event.signal,
                SesSignal::Bounce {
                    permanent: false,
                    sub_type: "General".into()
                }
            );
            assert_eq!(event.recipient_count, 1);
        }
    }

    #[test]
    fn identity_notifications_use_notification_type() {
        let json = r#"{"notificationType":"Complaint","mail":{"timestamp":"2026-11-23T08:15:30Z","messageId":"m-3","destination":["a@example.com"]},"complaint":{"complainedRecipients":[{"emailAddress":"a@example.com"}],"timestamp":"2026-11-23T09:00:00Z"}}"#;
        let event = parse(json).unwrap();
        assert_eq!(
            event.signal,
            SesSignal::Complaint {
                feedback_type: None
            }
        );
        assert_eq!(event.signal.name(), "complaint");
    }

    #[test]
    fn subscription_and_unknown_types_are_unsupported() {
        for event_type in ["Subscription", "Teleport", ""] {
            let error = parse(&record(event_type, r#","subscription":{}"#)).unwrap_err();
            assert!(
                matches!(error, SesEventError::Unsupported { .. }),
                "{event_type}: {error}"
            );
        }
    }

    #[test]
    fn broken_records_are_errors() {
        assert!(matches!(parse("not json"), Err(SesEventError::Json(_))));
        assert!(matches!(
            parse(r#"{"eventType":"Delivery"}"#),
            Err(SesEventError::Json(_))
        ));
        assert!(matches!(
            parse(&record("Bounce", "")),
            Err(SesEventError::Missing {
                field: "bounce",
                ..
            })
        ));
        assert!(matches!(
            parse(&record(
                "Click",
                r#","click":{"timestamp":"2026-11-23T09:00:00Z"}"#
            )),
            Err(SesEventError::Missing {
                field: "click.link",
                ..
            })
        ));
        assert!(matches!(
            parse(&record("Open", r#","open":{"timestamp":"tomorrow"}"#)),
            Err(SesEventError::Timestamp {
                field: "open.timestamp",
                ..
            })
        ));
    }

    #[test]
    fn signal_names() {
        let names: Vec<&str> = fixtures().iter().map(|f| f.2.name()).collect();
        assert_eq!(
            names,
            [
                "send",
                "delivery",
                "bounce",
                "bounce",
                "complaint",
                "reject",
                "open",
                "click",
                "delivery_delay",
                "rendering_failure"
            ]
        );
    }
}
