//! The messaging pipeline's tunables: sender identities, the public address of tracked links,
//! the secret that signs them, the organisation's details for templates, and per-channel send
//! rates. Read from the environment by one rule in Lambda and in the local runner.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::env::SettingsError;

/// Variable: the e-mail sender, e.g. `Ngân hàng ABC <thongbao@abc.vn>`.
pub const EMAIL_FROM_VAR: &str = "NHIP_EMAIL_FROM";
/// Variable: the registered SMS brandname.
pub const SMS_SENDER_ID_VAR: &str = "NHIP_SMS_SENDER_ID";
/// Variable: the short number customers reply to with a refusal keyword.
pub const SMS_REPLY_NUMBER_VAR: &str = "NHIP_SMS_REPLY_NUMBER";
/// Variable: the public base URL of tracked links and unsubscribe pages.
pub const PUBLIC_URL_VAR: &str = "NHIP_PUBLIC_URL";
/// Variable: the secret (≥ 32 bytes) tracked links and unsubscribe tokens are signed with.
pub const LINK_SECRET_VAR: &str = "NHIP_LINK_SECRET";
/// Variable: the link-signing secret before the last rotation (≥ 32 bytes). Links are signed
/// with `NHIP_LINK_SECRET` alone, and checked against both, so the links of messages already
/// sent keep working while the secret is rotated.
pub const LINK_SECRET_PREVIOUS_VAR: &str = "NHIP_LINK_SECRET_PREVIOUS";
/// Variable: the link-signing secret a rotation in progress is about to make current (≥ 32
/// bytes). Checked like the previous one, so every function accepts links signed with it
/// before any function signs with it.
pub const LINK_SECRET_NEXT_VAR: &str = "NHIP_LINK_SECRET_NEXT";
/// Variable: the secret (≥ 32 bytes) the Zalo OA token pair is sealed with before it is
/// stored.
pub const CREDENTIALS_KEY_VAR: &str = "NHIP_CREDENTIALS_KEY";
/// Variable: the organisation's name, as templates show it.
pub const ORG_NAME_VAR: &str = "NHIP_ORG_NAME";
/// Variable: the organisation's hotline.
pub const ORG_HOTLINE_VAR: &str = "NHIP_ORG_HOTLINE";
/// Variable: the organisation's website.
pub const ORG_WEBSITE_VAR: &str = "NHIP_ORG_WEBSITE";
/// Variable: per-channel send rates a minute, e.g. `email=600,sms=60`.
pub const SEND_RATES_VAR: &str = "NHIP_SEND_RATES";

/// Variable: the Zalo app id ZNS callbacks are signed for.
pub const ZALO_APP_ID_VAR: &str = "NHIP_ZALO_APP_ID";
/// Variable: the Zalo OA secret key ZNS callbacks are signed with.
pub const ZALO_SECRET_VAR: &str = "NHIP_ZALO_SECRET";
/// Variable: the secret (≥ 32 bytes) the SMS provider signs inbound-SMS webhooks with.
pub const SMS_INBOUND_SECRET_VAR: &str = "NHIP_SMS_INBOUND_SECRET";

/// Variable: the SNS topic whose SES events may arrive over HTTPS (`/v1/tracking/ses`).
pub const SES_EVENTS_TOPIC_VAR: &str = "NHIP_SES_EVENTS_TOPIC_ARN";
/// The app link scheme of the seed templates' deep links, allowed while
/// `NHIP_APP_LINK_SCHEMES` is unset.
pub const DEFAULT_APP_LINK_SCHEME: &str = "nhipbank";
/// Variable: the organisation's app link schemes push deep links may use (`nhipbank`).
pub const APP_LINK_SCHEMES_VAR: &str = "NHIP_APP_LINK_SCHEMES";

/// Default send rate a minute for a channel without one configured.
pub const DEFAULT_SEND_RATE_PER_MINUTE: u32 = 600;

/// The messaging settings.
#[derive(Clone, PartialEq, Eq)]
pub struct MessagingSettings {
    /// The e-mail sender.
    pub email_from: String,
    /// The SMS brandname, if registered.
    pub sms_sender_id: Option<String>,
    /// The number refusal replies go to, named in every advertising SMS.
    pub sms_reply_number: String,
    /// Base URL (no trailing slash) of `/t/{token}` and `/u/{token}`.
    pub public_url: String,
    /// The link-signing secret; without it no tracked link or unsubscribe link can be made,
    /// and messages needing one are refused with a clear reason.
    pub link_secret: Option<Vec<u8>>,
    /// The link-signing secret before the last rotation: tokens it signed are still accepted
    /// ([`MessagingSettings::open_signed`]); nothing new is signed with it.
    pub link_secret_previous: Option<Vec<u8>>,
    /// The link-signing secret a rotation will make current next: tokens it signed are
    /// accepted, nothing is signed with it yet.
    pub link_secret_next: Option<Vec<u8>>,
    /// The secret the Zalo OA token pair is sealed with (`NHIP_CREDENTIALS_KEY`); without it
    /// no pair can be installed or read, and ZNS refuses every message.
    pub credentials_key: Option<Vec<u8>>,
    /// The organisation as templates show it (`organisation.name`, `.hotline`, `.website`).
    pub organisation: Organisation,
    /// Sends a minute per channel kind (`email`, `sms`, `zns`, `push`, `webhook`).
    pub send_rates: BTreeMap<String, u32>,
    /// The Zalo app id of ZNS callbacks; callbacks are refused while unset.
    pub zalo_app_id: Option<String>,
    /// The Zalo OA secret of ZNS callbacks.
    pub zalo_secret: Option<String>,
    /// The inbound-SMS webhook secret; the route refuses every call while it is unset.
    pub sms_inbound_secret: Option<Vec<u8>>,
    /// The one SNS topic SES events over HTTPS may come from; every SNS account's messages
    /// are signed by the same certificates, so the topic is what makes them ours. The route
    /// refuses everything while it is unset.
    pub ses_events_topic_arn: Option<String>,
    /// The organisation's app link schemes (`nhipbank` for `nhipbank://the/kich-hoat`) a
    /// push notification's deep link may use besides http and https; [`DEFAULT_APP_LINK_SCHEME`]
    /// unless configured.
    pub app_link_schemes: Vec<String>,
}

/// The organisation's details merged into templates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Organisation {
    /// Name, e.g. `Ngân hàng TMCP ABC`.
    pub name: String,
    /// Hotline, e.g. `1900 1234`.
    pub hotline: String,
    /// Website, e.g. `https://abc.vn`.
    pub website: String,
}

impl Default for MessagingSettings {
    fn default() -> Self {
        Self {
            email_from: "Nhịp <thongbao@nhip.local>".into(),
            sms_sender_id: None,
            sms_reply_number: "8088".into(),
            public_url: "http://127.0.0.1:3000".into(),
            link_secret: None,
            link_secret_previous: None,
            link_secret_next: None,
            credentials_key: None,
            organisation: Organisation {
                name: "Nhịp".into(),
                hotline: "1900 0000".into(),
                website: "https://nhip.local".into(),
            },
            send_rates: BTreeMap::new(),
            zalo_app_id: None,
            zalo_secret: None,
            sms_inbound_secret: None,
            ses_events_topic_arn: None,
            app_link_schemes: vec![DEFAULT_APP_LINK_SCHEME.to_owned()],
        }
    }
}

impl MessagingSettings {
    /// Sends a minute allowed on a channel kind.
    pub fn send_rate(&self, kind: &str) -> u32 {
        self.send_rates
            .get(kind)
            .copied()
            .unwrap_or(DEFAULT_SEND_RATE_PER_MINUTE)
    }

    /// Reads the variables through `get` (blank counts as unset).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let get = |var: &str| get(var).filter(|v| !v.trim().is_empty());
        let mut settings = Self::default();
        if let Some(from) = get(EMAIL_FROM_VAR) {
            if !from.contains('@') {
                return Err(SettingsError {
                    var: EMAIL_FROM_VAR,
                    reason: "an e-mail address, optionally with a display name",
                });
            }
            settings.email_from = from.trim().to_owned();
        }
        if let Some(id) = get(SMS_SENDER_ID_VAR) {
            let id = id.trim();
            if id.len() > 11 || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Err(SettingsError {
                    var: SMS_SENDER_ID_VAR,
                    reason: "a brandname of at most 11 letters, digits or '-'",
                });
            }
            settings.sms_sender_id = Some(id.to_owned());
        }
        if let Some(number) = get(SMS_REPLY_NUMBER_VAR) {
            settings.sms_reply_number = number.trim().to_owned();
        }
        if let Some(url) = get(PUBLIC_URL_VAR) {
            let url = url.trim().trim_end_matches('/');
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(SettingsError {
                    var: PUBLIC_URL_VAR,
                    reason: "an http(s) URL such as https://nhip.abc.vn",
                });
            }
            settings.public_url = url.to_owned();
        }
        settings.link_secret = secret_of(
            &get,
            LINK_SECRET_VAR,
            "the link-signing secret must be at least 32 bytes",
        )?;
        for (var, slot) in [
            (LINK_SECRET_PREVIOUS_VAR, &mut settings.link_secret_previous),
            (LINK_SECRET_NEXT_VAR, &mut settings.link_secret_next),
        ] {
            *slot = secret_of(&get, var, "a link-signing secret must be at least 32 bytes")?;
            if slot.is_some() && settings.link_secret.is_none() {
                return Err(SettingsError {
                    var,
                    reason: "another link-signing secret needs the current one (NHIP_LINK_SECRET)",
                });
            }
        }
        settings.credentials_key = secret_of(
            &get,
            CREDENTIALS_KEY_VAR,
            "the credentials key must be at least 32 bytes",
        )?;
        if let Some(name) = get(ORG_NAME_VAR) {
            settings.organisation.name = name.trim().to_owned();
        }
        if let Some(hotline) = get(ORG_HOTLINE_VAR) {
            settings.organisation.hotline = hotline.trim().to_owned();
        }
        if let Some(website) = get(ORG_WEBSITE_VAR) {
            settings.organisation.website = website.trim().to_owned();
        }
        if let Some(arn) = get(SES_EVENTS_TOPIC_VAR) {
            let arn = arn.trim();
            if !arn.starts_with("arn:aws") || arn.split(':').count() != 6 {
                return Err(SettingsError {
                    var: SES_EVENTS_TOPIC_VAR,
                    reason: "an SNS topic ARN such as arn:aws:sns:ap-southeast-1:123456789012:nhip-ses-events",
                });
            }
            settings.ses_events_topic_arn = Some(arn.to_owned());
        }
        if let Some(raw) = get(APP_LINK_SCHEMES_VAR) {
            settings.app_link_schemes.clear();
            for scheme in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let scheme = scheme.trim_end_matches("://").trim_end_matches(':');
                let valid = nhip_domain::template::links::scheme_of(&format!("{scheme}:"))
                    .is_some_and(|parsed| parsed == scheme.to_ascii_lowercase());
                let dangerous = ["javascript", "data", "vbscript", "file", "blob"]
                    .contains(&scheme.to_ascii_lowercase().as_str());
                if !valid || dangerous {
                    return Err(SettingsError {
                        var: APP_LINK_SCHEMES_VAR,
                        reason: "comma-separated app link schemes such as nhipbank (letters, \
                                 digits, + - .; never javascript, data, vbscript, file or blob)",
                    });
                }
                settings.app_link_schemes.push(scheme.to_ascii_lowercase());
            }
        }
        settings.zalo_app_id = get(ZALO_APP_ID_VAR).map(|v| v.trim().to_owned());
        settings.zalo_secret = get(ZALO_SECRET_VAR);
        settings.sms_inbound_secret = secret_of(
            &get,
            SMS_INBOUND_SECRET_VAR,
            "the inbound-SMS secret must be at least 32 bytes",
        )?;
        if let Some(rates) = get(SEND_RATES_VAR) {
            for pair in rates.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let parsed = pair.split_once('=').and_then(|(kind, rate)| {
                    let kind = kind.trim();
                    let rate: u32 = rate.trim().parse().ok()?;
                    (["email", "sms", "zns", "push", "webhook"].contains(&kind)
                        && (1..=1_000_000).contains(&rate))
                    .then(|| (kind.to_owned(), rate))
                });
                let Some((kind, rate)) = parsed else {
                    return Err(SettingsError {
                        var: SEND_RATES_VAR,
                        reason: "comma-separated kind=rate pairs, kinds email, sms, zns, push, \
                                 webhook, rates 1 to 1000000 a minute",
                    });
                };
                settings.send_rates.insert(kind, rate);
            }
        }
        Ok(settings)
    }
}

/// `var`'s value as a secret of at least 32 bytes (`reason` when shorter); `None` when unset.
fn secret_of(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    reason: &'static str,
) -> Result<Option<Vec<u8>>, SettingsError> {
    match get(var) {
        Some(secret) if secret.len() < 32 => Err(SettingsError { var, reason }),
        other => Ok(other.map(String::into_bytes)),
    }
}

impl MessagingSettings {
    /// What `open` finds in a signed token, checked with the current link-signing secret and
    /// then with the previous and next ones (during a rotation); `None` without a secret.
    pub fn open_signed<T>(&self, open: impl Fn(&[u8]) -> Option<T>) -> Option<T> {
        self.link_secret
            .iter()
            .chain(&self.link_secret_previous)
            .chain(&self.link_secret_next)
            .find_map(|secret| open(secret))
    }
}

impl std::fmt::Debug for MessagingSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessagingSettings")
            .field("email_from", &self.email_from)
            .field("sms_sender_id", &self.sms_sender_id)
            .field("sms_reply_number", &self.sms_reply_number)
            .field("public_url", &self.public_url)
            .field("link_secret", &self.link_secret.as_ref().map(|_| "<set>"))
            .field(
                "link_secret_previous",
                &self.link_secret_previous.as_ref().map(|_| "<set>"),
            )
            .field(
                "link_secret_next",
                &self.link_secret_next.as_ref().map(|_| "<set>"),
            )
            .field(
                "credentials_key",
                &self.credentials_key.as_ref().map(|_| "<set>"),
            )
            .field("organisation", &self.organisation)
            .field("send_rates", &self.send_rates)
            .field("zalo_app_id", &self.zalo_app_id)
            .field("ses_events_topic_arn", &self.ses_events_topic_arn)
            .field("app_link_schemes", &self.app_link_schemes)
            .field("zalo_secret", &self.zalo_secret.as_ref().map(|_| "<set>"))
            .field(
                "sms_inbound_secret",
                &self.sms_inbound_secret.as_ref().map(|_| "<set>"),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(pairs: &[(&str, &str)]) -> Result<MessagingSettings, SettingsError> {
        MessagingSettings::from_lookup(|var| {
            pairs
                .iter()
                .find(|(k, _)| *k == var)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn messaging_settings_parse_and_name_a_bad_variable() {
        assert_eq!(from(&[]).unwrap(), MessagingSettings::default());
        let set = from(&[
            (SEND_RATES_VAR, "email=1200, sms=60"),
            (PUBLIC_URL_VAR, "https://nhip.abc.vn/"),
            (SMS_SENDER_ID_VAR, "ABCBANK"),
        ])
        .unwrap();
        assert_eq!(set.send_rate("email"), 1200);
        assert_eq!(set.send_rate("sms"), 60);
        assert_eq!(set.send_rate("zns"), DEFAULT_SEND_RATE_PER_MINUTE);
        assert_eq!(set.public_url, "https://nhip.abc.vn");
        for (var, value) in [
            (SEND_RATES_VAR, "fax=3"),
            (SEND_RATES_VAR, "sms=0"),
            (PUBLIC_URL_VAR, "nhip.abc.vn"),
            (LINK_SECRET_VAR, "short"),
            (LINK_SECRET_PREVIOUS_VAR, "short"),
            (
                LINK_SECRET_PREVIOUS_VAR,
                "a previous secret of at least 32 bytes, alone",
            ),
            (
                LINK_SECRET_NEXT_VAR,
                "a next secret of at least 32 bytes, alone",
            ),
            (CREDENTIALS_KEY_VAR, "short"),
            (EMAIL_FROM_VAR, "no address"),
            (SMS_SENDER_ID_VAR, "A BRAND NAME TOO LONG"),
        ] {
            assert_eq!(from(&[(var, value)]).unwrap_err().var, var);
        }
    }
}
