//! The reminders' settings, kept by admins: the instalment ladder (default D-5, D-1, D0, D+1,
//! D+3), the channels reminders and greetings go on in order of preference (a customer whose
//! `preferred_channel` attribute names one of them gets it first), and whether birthday and
//! holiday greetings are sent. Each kind of reminder uses the templates `<kind>-<channel>`
//! (`nhac-tra-gop-sms`, …): the product ships them, admins edit them like any template.

use nhip_core::auth::Principal;
use nhip_core::deps::Deps;
use nhip_core::keys;
use nhip_domain::channel::MessageChannel;
use nhip_domain::ladder::Ladder;
use nhip_ports::store::StoreError;
use serde::{Deserialize, Serialize};

/// The field the settings item keeps them in.
const FIELD: &str = "reminders";

/// The reminders' settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReminderSettings {
    /// The instalment ladder: days from the due date (-5 = D-5, 0 = D0, 3 = D+3).
    #[schema(example = json!([-5, -1, 0, 1, 3]))]
    pub instalment_ladder: Vec<i32>,
    /// Channels in order of preference.
    #[schema(value_type = Vec<nhip_core::openapi::MessageChannelSchema>)]
    pub channels: Vec<MessageChannel>,
    /// Whether birthday and holiday greetings are sent.
    pub greetings: bool,
}

impl Default for ReminderSettings {
    fn default() -> Self {
        ReminderSettings {
            instalment_ladder: Ladder::instalment_default().offsets().to_vec(),
            channels: vec![MessageChannel::Sms, MessageChannel::Email],
            greetings: true,
        }
    }
}

impl ReminderSettings {
    /// The instalment ladder (the default if the stored one is somehow invalid).
    pub fn instalment_ladder(&self) -> Ladder {
        Ladder::new(self.instalment_ladder.clone()).unwrap_or_else(|_| Ladder::instalment_default())
    }

    /// The first problem: `(field, message)`.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        Ladder::new(self.instalment_ladder.clone())
            .map_err(|e| ("instalment_ladder", e.to_string()))?;
        if self.channels.is_empty() || self.channels.len() > 3 {
            return Err(("channels", "Chọn từ 1 đến 3 kênh.".into()));
        }
        let mut seen = self.channels.clone();
        seen.sort();
        seen.dedup();
        if seen.len() != self.channels.len() {
            return Err(("channels", "Mỗi kênh một lần.".into()));
        }
        if self.channels.iter().any(|c| {
            !matches!(
                c,
                MessageChannel::Sms | MessageChannel::Email | MessageChannel::Zns
            )
        }) {
            return Err((
                "channels",
                "Nhắc nhở và lời chúc đi qua SMS, email hoặc ZNS.".into(),
            ));
        }
        Ok(())
    }
}

/// The settings in force and their version (0: the defaults).
pub async fn in_force(deps: &Deps) -> Result<(ReminderSettings, u64), StoreError> {
    Ok(
        nhip_core::records::get_setting(&*deps.store, &keys::reminder_settings(), FIELD)
            .await?
            .unwrap_or_default(),
    )
}

/// Why settings were not saved.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// Not an admin.
    #[error("only an admin changes the reminders")]
    Forbidden,
    /// A value is wrong.
    #[error("{1}")]
    Invalid(&'static str, String),
    /// Changed since read.
    #[error("the settings are at version {0}")]
    Stale(u64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Saves the settings if still at `version` (admins only).
pub async fn save(
    deps: &Deps,
    principal: &Principal,
    settings: &ReminderSettings,
    version: u64,
) -> Result<u64, SettingsError> {
    if !principal.is_admin() {
        return Err(SettingsError::Forbidden);
    }
    settings
        .check()
        .map_err(|(field, message)| SettingsError::Invalid(field, message))?;
    nhip_core::records::put_setting(
        &*deps.store,
        keys::reminder_settings(),
        FIELD,
        settings,
        version,
        &principal.user,
        deps.clock.now(),
    )
    .await?
    .map_err(SettingsError::Stale)
}
