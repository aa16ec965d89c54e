//! The pipeline's decisions short of sending, without I/O: which rules a purpose and channel
//! fall under, and the decision (status, machine reason, Vietnamese text, until when) each
//! refusal or hold becomes. The rules themselves are nhip-domain's.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use crate::model::{MessageChannel, SendPurpose, SendRequest, Status, SystemMessage, Target};
use nhip_crm::customers::model::Customer;
use nhip_domain::compliance::{AdChannel, AdvertisingRules, Agreement};
use nhip_domain::customer::{Consents, Purpose};
use nhip_domain::time::minute_floor;
use nhip_ports::store::Item;

/// A decision short of sending.
pub(super) struct Decision {
    pub(super) status: Status,
    pub(super) reason: &'static str,
    pub(super) text: String,
    pub(super) until: Option<DateTime<Utc>>,
}

impl Decision {
    pub(super) fn new(status: Status, reason: &'static str, text: impl Into<String>) -> Self {
        Self {
            status,
            reason,
            text: text.into(),
            until: None,
        }
    }

    /// The same decision, held until `until` (a deferral's release, a cap's freeing).
    pub(super) fn until(mut self, until: DateTime<Utc>) -> Self {
        self.until = Some(until);
        self
    }
}

/// The targets to try: a system message goes on the channel it names, with no template.
pub(super) fn effective_targets(request: &SendRequest) -> Vec<Target> {
    match &request.system {
        Some(SystemMessage::RefusalConfirmation { channel, .. }) => vec![Target {
            // ZNS carries only Zalo-approved templates: the confirmation goes by SMS.
            channel: match channel {
                MessageChannel::Zns => MessageChannel::Sms,
                other => *other,
            },
            template: String::new(),
            version: None,
        }],
        Some(SystemMessage::ConsentConfirmation { channel, .. }) => vec![Target {
            channel: *channel,
            template: String::new(),
            version: None,
        }],
        None => request.targets.clone(),
    }
}

/// The Decree 91 channel whose rules apply to a message channel, and the key its 24-hour
/// count is kept under. ZNS advertising follows the SMS rules (it reaches the same phone
/// number) with its own count; push and webhook bridges are outside the decree.
pub(super) fn ad_channel(channel: MessageChannel) -> Option<(AdChannel, &'static str)> {
    channel
        .advertising_channel()
        .map(|regulated| (regulated, channel.as_str()))
}

/// The Decree 91 channel and count key a send falls under: none for `care` (not
/// advertising) or for a channel outside the decree.
pub(super) fn advertising_scope(
    purpose: SendPurpose,
    channel: MessageChannel,
) -> Option<(AdChannel, &'static str)> {
    ad_channel(channel).filter(|_| purpose.is_advertising())
}

/// Outside the channel's advertising window (the customer's agreed one, else the rules'):
/// deferred to its next opening, never dropped. `None` inside it, or with no window.
pub(super) fn outside_window(
    rules: &AdvertisingRules,
    agreement: Option<&Agreement>,
    ad_channel: AdChannel,
    now: DateTime<Utc>,
) -> Option<Decision> {
    let window = rules.window(agreement, ad_channel)?;
    if window.contains(now) {
        return None;
    }
    let until = window.next_open(now);
    let decision = Decision::new(
        Status::Deferred,
        "quiet_hours",
        format!(
            "Ngoài khung giờ quảng cáo {}–{}; hoãn đến {}.",
            window.start.format("%H:%M"),
            window.end.format("%H:%M"),
            nhip_domain::time::to_vn(until).format("%H:%M %d/%m/%Y")
        ),
    );
    Some(decision.until(until))
}

/// Over the channel's send rate this minute: deferred to the next minute.
pub(super) fn rate_limited(now: DateTime<Utc>) -> Decision {
    Decision::new(
        Status::Deferred,
        "rate_limited",
        "Vượt tốc độ gửi của kênh; gửi lại phút sau.",
    )
    .until(minute_floor(now) + Duration::minutes(1))
}

/// The 24-hour advertising limit for the address is reached until `frees_at`.
pub(super) fn capped(
    rules: &AdvertisingRules,
    agreement: Option<&Agreement>,
    ad_channel: AdChannel,
    frees_at: DateTime<Utc>,
) -> Decision {
    let limit = rules.limit(agreement, ad_channel).unwrap_or_default();
    Decision::new(
        Status::Capped,
        "daily_limit",
        format!(
            "Đã đủ {limit} tin quảng cáo qua {} trong 24 giờ tới địa chỉ này.",
            ad_channel.label()
        ),
    )
    .until(frees_at)
}

/// No target passed: the first target's refusal explains it, or there was no target.
pub(super) fn unreachable(first_refusal: Option<Decision>) -> Decision {
    first_refusal.unwrap_or_else(|| {
        Decision::new(Status::NoAddress, "no_target", "Không có kênh nào để gửi.")
    })
}

/// The counter a decision adds to: a deferral counts once (its first time), and a message
/// still on its way counts nothing yet.
pub(super) fn counter(status: Status, first_deferral: bool) -> Option<&'static str> {
    match status {
        Status::Deferred if first_deferral => Some("deferred"),
        Status::Deferred | Status::Processing | Status::Sending => None,
        other => Some(other.as_str()),
    }
}

/// What a customer's record says about contacting them.
pub(super) struct Contact<'a> {
    pub(super) consents: &'a Consents,
    pub(super) processing_restricted: bool,
    pub(super) marketing_objected: bool,
    pub(super) erased: bool,
}

impl<'a> From<&'a Customer> for Contact<'a> {
    fn from(customer: &'a Customer) -> Self {
        Self {
            consents: &customer.consents,
            processing_restricted: customer.processing_restricted,
            marketing_objected: customer.marketing_objected,
            erased: customer.erased_at.is_some(),
        }
    }
}

/// The consent rule for a purpose on a channel: `None` when it may go, else the refusal.
/// Marketing and consent requests are judged as marketing, care as care; a consent request
/// goes only to someone who has never decided: not to an opt-in (pointless) and never to a
/// refusal.
pub(super) fn consent_decision(
    contact: &Contact,
    purpose: SendPurpose,
    channel: MessageChannel,
) -> Option<Decision> {
    let consent_channel = channel.consent_channel();
    let may_contact = |purpose| {
        nhip_domain::customer::may_contact(
            contact.consents,
            contact.processing_restricted,
            contact.marketing_objected,
            contact.erased,
            consent_channel,
            purpose,
        )
        .map_err(|refusal| refusal.code())
    };
    let check = match purpose {
        SendPurpose::ConsentRequest => may_contact(Purpose::Care).and_then(|()| {
            match contact.consents.get(consent_channel, Purpose::Marketing) {
                None => Ok(()),
                Some(record) if record.granted => Err("already_consented"),
                Some(_) => Err("refused"),
            }
        }),
        SendPurpose::Marketing => may_contact(Purpose::Marketing),
        SendPurpose::Care => may_contact(Purpose::Care),
    };
    check.err().map(|code| {
        Decision::new(
            Status::NoConsent,
            consent_reason(code),
            format!("Không được gửi qua {channel}: {}.", consent_text(code)),
        )
    })
}

/// An entry of the suppression list for the address: `scope` `all` stops every message,
/// `advertising` only advertising.
pub(super) fn suppression_decision(suppression: &Item, purpose: SendPurpose) -> Option<Decision> {
    let scope = suppression
        .get("scope")
        .and_then(Value::as_str)
        .unwrap_or("all");
    if scope != "all" && !purpose.is_advertising() {
        return None;
    }
    let reason = suppression
        .get("reason")
        .and_then(Value::as_str)
        .unwrap_or("suppressed");
    Some(Decision::new(
        Status::Suppressed,
        suppression_reason(reason),
        format!(
            "Địa chỉ nằm trong danh sách chặn ({}).",
            suppression_text(reason)
        ),
    ))
}

/// Whether the do-not-advertise list (phone numbers) applies: advertising by SMS or ZNS.
pub(super) fn do_not_advertise_applies(purpose: SendPurpose, channel: MessageChannel) -> bool {
    purpose.is_advertising() && matches!(channel, MessageChannel::Sms | MessageChannel::Zns)
}

pub(super) fn consent_reason(code: &str) -> &'static str {
    match code {
        "erased" => "erased",
        "processing_restricted" => "processing_restricted",
        "marketing_objected" => "marketing_objected",
        "no_marketing_consent" => "no_marketing_consent",
        "care_withdrawn" => "care_withdrawn",
        "already_consented" => "already_consented",
        "refused" => "refused",
        _ => "no_consent",
    }
}

pub(super) fn consent_text(code: &str) -> &'static str {
    match code {
        "erased" => "dữ liệu cá nhân đã bị xoá",
        "processing_restricted" => "khách hàng hạn chế xử lý dữ liệu",
        "marketing_objected" => "khách hàng phản đối tiếp thị",
        "no_marketing_consent" => "chưa có đồng ý nhận quảng cáo",
        "care_withdrawn" => "khách hàng đã từ chối tin chăm sóc",
        "already_consented" => "khách hàng đã đồng ý nhận quảng cáo",
        "refused" => "khách hàng đã từ chối nhận quảng cáo",
        _ => "chưa có đồng ý",
    }
}

pub(super) fn suppression_reason(reason: &str) -> &'static str {
    match reason {
        "hard_bounce" => "hard_bounce",
        "complaint" => "complaint",
        "unsubscribe" => "unsubscribed",
        "refusal" => "refused",
        _ => "suppressed",
    }
}

pub(super) fn suppression_text(reason: &str) -> &'static str {
    match reason {
        "hard_bounce" => "địa chỉ không tồn tại",
        "complaint" => "khách hàng đánh dấu thư rác",
        "unsubscribe" => "khách hàng huỷ đăng ký",
        "refusal" => "khách hàng từ chối quảng cáo",
        _ => "chặn thủ công",
    }
}

#[cfg(test)]
mod tests {
    //! The pipeline's own combinations of the rules: which purpose and channel fall under
    //! which rule, and the decision (status, reason, text, until) each refusal or hold
    //! becomes. The rules themselves (windows, caps, `may_contact`) are tested in nhip-domain.

    use chrono::{NaiveDate, TimeZone};
    use nhip_domain::customer::{Channel, ConsentRecord};
    use nhip_domain::time::from_vn;
    use serde_json::json;

    use super::*;
    use crate::model::{Cause, CauseKind, RequestData};
    use nhip_domain::compliance::decree_91;

    fn vn(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
        from_vn(
            NaiveDate::from_ymd_opt(2026, 12, day).unwrap(),
            hour,
            minute,
        )
        .unwrap()
    }

    fn consents(decisions: &[(Channel, Purpose, bool)]) -> Consents {
        let mut consents = Consents::default();
        for (i, (channel, purpose, granted)) in decisions.iter().enumerate() {
            consents.record(ConsentRecord {
                channel: *channel,
                purpose: *purpose,
                granted: *granted,
                source: "staff".into(),
                at: Utc.with_ymd_and_hms(2026, 1, 2, 3, i as u32, 0).unwrap(),
                evidence: String::new(),
            });
        }
        consents
    }

    fn contact(consents: &Consents) -> Contact<'_> {
        Contact {
            consents,
            processing_restricted: false,
            marketing_objected: false,
            erased: false,
        }
    }

    /// The reason of a refusal, `None` when the send may go.
    fn consent_reason_of(
        contact: &Contact,
        purpose: SendPurpose,
        channel: MessageChannel,
    ) -> Option<&'static str> {
        consent_decision(contact, purpose, channel).map(|decision| {
            assert_eq!(decision.status, Status::NoConsent);
            decision.reason
        })
    }

    #[test]
    fn care_is_never_advertising_and_push_and_bridges_are_outside_the_decree() {
        for channel in MessageChannel::ALL {
            assert_eq!(
                advertising_scope(SendPurpose::Care, channel),
                None,
                "{channel}"
            );
        }
        assert_eq!(
            advertising_scope(SendPurpose::Marketing, MessageChannel::Email),
            Some((AdChannel::Email, "email"))
        );
        assert_eq!(
            advertising_scope(SendPurpose::ConsentRequest, MessageChannel::Sms),
            Some((AdChannel::Sms, "sms"))
        );
        // ZNS reaches the phone: the SMS window and limit, counted apart from SMS.
        assert_eq!(
            advertising_scope(SendPurpose::Marketing, MessageChannel::Zns),
            Some((AdChannel::Sms, "zns"))
        );
        assert_eq!(
            advertising_scope(SendPurpose::Marketing, MessageChannel::Push),
            None
        );
        assert_eq!(
            advertising_scope(SendPurpose::Marketing, MessageChannel::Webhook),
            None
        );
    }

    #[test]
    fn advertising_outside_the_window_is_deferred_to_its_opening_with_the_reason() {
        let rules = decree_91();
        let decision = outside_window(&rules, None, AdChannel::Sms, vn(6, 22, 30))
            .expect("22:30 is outside the SMS window");
        assert_eq!(decision.status, Status::Deferred);
        assert_eq!(decision.reason, "quiet_hours");
        assert_eq!(decision.until, Some(vn(7, 7, 0)));
        assert_eq!(
            decision.text,
            "Ngoài khung giờ quảng cáo 07:00–22:00; hoãn đến 07:00 07/12/2026."
        );
        assert!(outside_window(&rules, None, AdChannel::Sms, vn(6, 21, 59)).is_none());
        // The preset has no e-mail window: e-mail is held only by its limit.
        assert!(outside_window(&rules, None, AdChannel::Email, vn(6, 23, 0)).is_none());
    }

    #[test]
    fn an_agreed_window_replaces_the_preset_for_that_customer() {
        let rules = decree_91();
        let agreement: Agreement =
            serde_json::from_value(json!({"windows": {"sms": {"start": "06:00", "end": "23:00"}}, "agreed_at": "2026-03-01T03:00:00Z", "evidence": "Cuộc gọi ghi âm số 123"}))
                .unwrap();
        assert!(outside_window(&rules, Some(&agreement), AdChannel::Sms, vn(6, 22, 30)).is_none());
        let early = outside_window(&rules, Some(&agreement), AdChannel::Sms, vn(6, 5, 0)).unwrap();
        assert_eq!(early.until, Some(vn(6, 6, 0)));
    }

    #[test]
    fn over_the_rate_waits_for_the_next_minute() {
        let now = vn(6, 10, 15) + Duration::seconds(42);
        let decision = rate_limited(now);
        assert_eq!(
            (decision.status, decision.reason, decision.until),
            (Status::Deferred, "rate_limited", Some(vn(6, 10, 16)))
        );
    }

    #[test]
    fn capped_names_the_limit_in_force_and_when_a_place_frees() {
        let rules = decree_91();
        let frees_at = vn(7, 9, 0);
        let decision = capped(&rules, None, AdChannel::Email, frees_at);
        assert_eq!(decision.status, Status::Capped);
        assert_eq!(decision.reason, "daily_limit");
        assert_eq!(decision.until, Some(frees_at));
        assert_eq!(
            decision.text,
            "Đã đủ 3 tin quảng cáo qua Thư điện tử trong 24 giờ tới địa chỉ này."
        );
        let agreement: Agreement =
            serde_json::from_value(json!({"limits_per_24h": {"email": 5}, "agreed_at": "2026-03-01T03:00:00Z", "evidence": "Cuộc gọi ghi âm số 123"})).unwrap();
        let decision = capped(&rules, Some(&agreement), AdChannel::Email, frees_at);
        assert!(
            decision.text.starts_with("Đã đủ 5 tin"),
            "{}",
            decision.text
        );
    }

    #[test]
    fn care_needs_no_opt_in_but_marketing_does_on_that_very_channel() {
        let email_only = consents(&[(Channel::Email, Purpose::Marketing, true)]);
        let email = contact(&email_only);
        assert_eq!(
            consent_reason_of(&email, SendPurpose::Care, MessageChannel::Sms),
            None
        );
        assert_eq!(
            consent_reason_of(&email, SendPurpose::Marketing, MessageChannel::Email),
            None
        );
        assert_eq!(
            consent_reason_of(&email, SendPurpose::Marketing, MessageChannel::Sms),
            Some("no_marketing_consent")
        );
        // ZNS has its own consent, not SMS's.
        let sms_only = consents(&[(Channel::Sms, Purpose::Marketing, true)]);
        assert_eq!(
            consent_reason_of(
                &contact(&sms_only),
                SendPurpose::Marketing,
                MessageChannel::Zns
            ),
            Some("no_marketing_consent")
        );
        let decision =
            consent_decision(&email, SendPurpose::Marketing, MessageChannel::Sms).unwrap();
        assert_eq!(
            decision.text,
            "Không được gửi qua sms: chưa có đồng ý nhận quảng cáo."
        );
    }

    #[test]
    fn a_consent_request_goes_only_to_someone_who_never_decided() {
        let none = Consents::default();
        assert_eq!(
            consent_reason_of(
                &contact(&none),
                SendPurpose::ConsentRequest,
                MessageChannel::Email
            ),
            None
        );
        let opted_in = consents(&[(Channel::Email, Purpose::Marketing, true)]);
        assert_eq!(
            consent_reason_of(
                &contact(&opted_in),
                SendPurpose::ConsentRequest,
                MessageChannel::Email
            ),
            Some("already_consented")
        );
        let refused = consents(&[(Channel::Email, Purpose::Marketing, false)]);
        assert_eq!(
            consent_reason_of(
                &contact(&refused),
                SendPurpose::ConsentRequest,
                MessageChannel::Email
            ),
            Some("refused")
        );
        // It is judged as care first: a withdrawal of care messages stops it too.
        let no_care = consents(&[(Channel::Email, Purpose::Care, false)]);
        assert_eq!(
            consent_reason_of(
                &contact(&no_care),
                SendPurpose::ConsentRequest,
                MessageChannel::Email
            ),
            Some("care_withdrawn")
        );
    }

    #[test]
    fn erasure_restriction_and_objection_stop_what_they_cover() {
        let opted_in = consents(&[(Channel::Sms, Purpose::Marketing, true)]);
        let erased = Contact {
            erased: true,
            ..contact(&opted_in)
        };
        assert_eq!(
            consent_reason_of(&erased, SendPurpose::Care, MessageChannel::Sms),
            Some("erased")
        );
        let restricted = Contact {
            processing_restricted: true,
            ..contact(&opted_in)
        };
        assert_eq!(
            consent_reason_of(&restricted, SendPurpose::Care, MessageChannel::Sms),
            Some("processing_restricted")
        );
        let objected = Contact {
            marketing_objected: true,
            ..contact(&opted_in)
        };
        assert_eq!(
            consent_reason_of(&objected, SendPurpose::Marketing, MessageChannel::Sms),
            Some("marketing_objected")
        );
        assert_eq!(
            consent_reason_of(&objected, SendPurpose::Care, MessageChannel::Sms),
            None
        );
    }

    fn suppression(fields: Value) -> Item {
        let Value::Object(item) = fields else {
            unreachable!()
        };
        item
    }

    #[test]
    fn a_suppression_for_advertising_lets_care_through() {
        let refusal = suppression(json!({"reason": "refusal", "scope": "advertising"}));
        assert!(suppression_decision(&refusal, SendPurpose::Care).is_none());
        let decision = suppression_decision(&refusal, SendPurpose::Marketing).unwrap();
        assert_eq!(
            (decision.status, decision.reason),
            (Status::Suppressed, "refused")
        );
        assert_eq!(
            decision.text,
            "Địa chỉ nằm trong danh sách chặn (khách hàng từ chối quảng cáo)."
        );
        assert!(suppression_decision(&refusal, SendPurpose::ConsentRequest).is_some());
    }

    #[test]
    fn a_suppression_for_all_or_without_a_scope_stops_care_too() {
        let bounce = suppression(json!({"reason": "hard_bounce", "scope": "all"}));
        let decision = suppression_decision(&bounce, SendPurpose::Care).unwrap();
        assert_eq!(decision.reason, "hard_bounce");
        let unscoped = suppression(json!({"reason": "unsubscribe"}));
        assert_eq!(
            suppression_decision(&unscoped, SendPurpose::Care).map(|d| d.reason),
            Some("unsubscribed")
        );
        let bare = suppression(json!({}));
        assert_eq!(
            suppression_decision(&bare, SendPurpose::Care).map(|d| d.reason),
            Some("suppressed")
        );
    }

    #[test]
    fn the_do_not_advertise_list_covers_advertising_to_phones_only() {
        assert!(do_not_advertise_applies(
            SendPurpose::Marketing,
            MessageChannel::Sms
        ));
        assert!(do_not_advertise_applies(
            SendPurpose::Marketing,
            MessageChannel::Zns
        ));
        assert!(do_not_advertise_applies(
            SendPurpose::ConsentRequest,
            MessageChannel::Sms
        ));
        assert!(!do_not_advertise_applies(
            SendPurpose::Care,
            MessageChannel::Sms
        ));
        assert!(!do_not_advertise_applies(
            SendPurpose::Marketing,
            MessageChannel::Email
        ));
        assert!(!do_not_advertise_applies(
            SendPurpose::Marketing,
            MessageChannel::Push
        ));
    }

    #[test]
    fn with_no_target_left_the_first_refusal_explains_why() {
        let first = Decision::new(Status::NoConsent, "no_marketing_consent", "x");
        let decision = unreachable(Some(first));
        assert_eq!(
            (decision.status, decision.reason),
            (Status::NoConsent, "no_marketing_consent")
        );
        let decision = unreachable(None);
        assert_eq!(
            (decision.status, decision.reason),
            (Status::NoAddress, "no_target")
        );
    }

    #[test]
    fn a_deferral_counts_once_and_an_open_message_not_at_all() {
        assert_eq!(counter(Status::Deferred, true), Some("deferred"));
        assert_eq!(counter(Status::Deferred, false), None);
        assert_eq!(counter(Status::Processing, false), None);
        assert_eq!(counter(Status::Sending, false), None);
        assert_eq!(counter(Status::Sent, false), Some("sent"));
        assert_eq!(counter(Status::NoConsent, false), Some("no_consent"));
        assert_eq!(counter(Status::Capped, false), Some("capped"));
    }

    fn request(system: Option<SystemMessage>) -> SendRequest {
        SendRequest {
            idempotency_key: "k".into(),
            customer_id: "01JAAAAAAAAAAAAAAAAAAAAAAA".into(),
            targets: vec![Target {
                channel: MessageChannel::Zns,
                template: "zns-nhac-no".into(),
                version: None,
            }],
            purpose: SendPurpose::Care,
            cause: Cause {
                kind: CauseKind::System,
                id: "x".into(),
                actor: None,
            },
            campaign: None,
            data: RequestData::default(),
            system,
            requested_at: vn(6, 9, 0),
            guard: None,
        }
    }

    #[test]
    fn a_refusal_confirmation_on_zns_goes_by_sms_without_a_template() {
        let confirmation = request(Some(SystemMessage::RefusalConfirmation {
            received_at: vn(6, 9, 0),
            channel: MessageChannel::Zns,
        }));
        assert_eq!(
            effective_targets(&confirmation),
            [Target {
                channel: MessageChannel::Sms,
                template: String::new(),
                version: None
            }]
        );
        let plain = request(None);
        assert_eq!(effective_targets(&plain), plain.targets);
    }
}
