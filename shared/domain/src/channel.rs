//! The one enumeration of the ways a message leaves Nhịp, and how each maps onto the other
//! sets of channels the rules speak of: the channel a consent is recorded for
//! ([`crate::customer::Channel`], which also has calls) and the channel Decree 91 regulates
//! ([`crate::compliance::AdChannel`], e-mail, text messages and calls). Templates, journey
//! send steps, send requests and messages all name their channel with [`MessageChannel`].

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::compliance::AdChannel;
use crate::customer::Channel;

/// A way a message can leave, each with its own template shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageChannel {
    /// E-mail (SES).
    Email,
    /// SMS, brandname (SNS).
    Sms,
    /// Zalo ZNS.
    Zns,
    /// App push through platform endpoints (SNS).
    Push,
    /// Another OTT bridge through a signed webhook.
    Webhook,
}

impl MessageChannel {
    /// Every channel.
    pub const ALL: [MessageChannel; 5] = [
        MessageChannel::Email,
        MessageChannel::Sms,
        MessageChannel::Zns,
        MessageChannel::Push,
        MessageChannel::Webhook,
    ];

    /// Wire form, as templates and journeys name it.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageChannel::Email => "email",
            MessageChannel::Sms => "sms",
            MessageChannel::Zns => "zns",
            MessageChannel::Push => "push",
            MessageChannel::Webhook => "webhook",
        }
    }

    /// The channel consents are recorded for.
    pub fn consent_channel(self) -> Channel {
        match self {
            MessageChannel::Email => Channel::Email,
            MessageChannel::Sms => Channel::Sms,
            MessageChannel::Zns => Channel::Zns,
            MessageChannel::Push => Channel::Push,
            MessageChannel::Webhook => Channel::Ott,
        }
    }

    /// The Decree 91 channel whose rules apply to advertising on this channel: ZNS reaches
    /// the same phone number as a text message and follows its rules; push and webhook
    /// bridges are outside the decree.
    pub fn advertising_channel(self) -> Option<AdChannel> {
        match self {
            MessageChannel::Email => Some(AdChannel::Email),
            MessageChannel::Sms | MessageChannel::Zns => Some(AdChannel::Sms),
            MessageChannel::Push | MessageChannel::Webhook => None,
        }
    }
}

impl fmt::Display for MessageChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_form_is_the_serialised_form() {
        for channel in MessageChannel::ALL {
            assert_eq!(
                serde_json::to_value(channel).unwrap(),
                serde_json::Value::from(channel.as_str())
            );
        }
    }

    #[test]
    fn zns_advertising_follows_the_text_message_rules_and_bridges_are_outside_the_decree() {
        assert_eq!(
            MessageChannel::Zns.advertising_channel(),
            Some(AdChannel::Sms)
        );
        assert_eq!(
            MessageChannel::Email.advertising_channel(),
            Some(AdChannel::Email)
        );
        assert_eq!(MessageChannel::Push.advertising_channel(), None);
        assert_eq!(MessageChannel::Webhook.consent_channel(), Channel::Ott);
    }
}
