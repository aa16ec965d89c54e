//! The one context value every function, the local runner and the tests share: the ports,
//! built once per process and passed around as `Arc<Deps>`.

use std::sync::Arc;

use serde::Serialize;

use nhip_ports::certificates::CertificateSource;

use crate::auth::Authenticator;
use crate::cache::VersionCache;
use crate::env::SettingsError;
use nhip_ports::{BlobStore, Channel, Clock, EventBus, IdentityProvider, ItemStore, Queue};

/// The queues functions hand work to each other on.
#[derive(Clone)]
pub struct Queues {
    /// Domain events from core systems and from Nhịp itself (`events` queue).
    pub events: Arc<dyn Queue>,
    /// Send requests for the messaging pipeline (`sends` queue).
    pub sends: Arc<dyn Queue>,
    /// Journey step jobs for the journey worker (`steps` queue).
    pub steps: Arc<dyn Queue>,
    /// Tickets to open, for the ticket creator (`tickets` queue).
    pub tickets: Arc<dyn Queue>,
    /// Customer files to import, for the customer importer (`imports` queue).
    pub imports: Arc<dyn Queue>,
}

impl Queues {
    /// Every queue with its logical name, for health reports and the local consumers.
    pub fn all(&self) -> Vec<(&'static str, Arc<dyn Queue>)> {
        vec![
            ("events", self.events.clone()),
            ("sends", self.sends.clone()),
            ("steps", self.steps.clone()),
            ("tickets", self.tickets.clone()),
            ("imports", self.imports.clone()),
        ]
    }
}

/// The ways out, one per kind of message. In AWS each is its own adapter (SES v2, SNS SMS,
/// SNS push, Zalo ZNS, a signed webhook); locally every kind goes to the outbox.
#[derive(Clone)]
pub struct Channels {
    /// E-mail.
    pub email: Arc<dyn Channel>,
    /// SMS.
    pub sms: Arc<dyn Channel>,
    /// App push.
    pub push: Arc<dyn Channel>,
    /// Zalo ZNS.
    pub zns: Arc<dyn Channel>,
    /// Other OTT bridges through a signed webhook.
    pub webhook: Arc<dyn Channel>,
}

impl Channels {
    /// Every kind through one channel (the local outbox, or a test's recorder).
    pub fn uniform(channel: Arc<dyn Channel>) -> Self {
        Self {
            email: channel.clone(),
            sms: channel.clone(),
            push: channel.clone(),
            zns: channel.clone(),
            webhook: channel,
        }
    }

    /// The channel carrying `outgoing`.
    pub fn for_message(&self, outgoing: &nhip_ports::Outgoing) -> &Arc<dyn Channel> {
        use nhip_ports::Outgoing;
        match outgoing {
            Outgoing::Email(_) => &self.email,
            Outgoing::Sms(_) => &self.sms,
            Outgoing::Push(_) => &self.push,
            Outgoing::Zns(_) => &self.zns,
            Outgoing::Webhook(_) => &self.webhook,
        }
    }
}

/// What was built: reported by `GET /v1/version` and `GET /health`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct BuildInfo {
    /// Product name.
    pub name: &'static str,
    /// Crate version.
    pub version: &'static str,
    /// Git commit, when the build recorded one (`NHIP_GIT_SHA` at compile time).
    pub commit: Option<&'static str>,
    /// `debug` or `release`.
    pub profile: &'static str,
    /// Where it runs: `lambda` or `local`.
    pub runtime: &'static str,
}

impl BuildInfo {
    /// The build information of this binary, for the given runtime.
    pub fn current(runtime: &'static str) -> Self {
        Self {
            name: "nhip",
            version: env!("CARGO_PKG_VERSION"),
            commit: option_env!("NHIP_GIT_SHA"),
            profile: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            },
            runtime,
        }
    }
}

/// The ports, shared by every handler.
#[derive(Clone)]
pub struct Deps {
    /// The single-table item store.
    pub store: Arc<dyn ItemStore>,
    /// The queues.
    pub queues: Queues,
    /// The clock (system in AWS, simulated locally and in tests).
    pub clock: Arc<dyn Clock>,
    /// What is running.
    pub build: BuildInfo,
    /// Staff authentication: HS256 locally, API Gateway's verified claims in AWS.
    pub auth: Arc<Authenticator>,
    /// Tunables and secrets of the routes.
    pub settings: Settings,
    /// The ways messages leave.
    pub channels: Channels,
    /// Files kept beside the table (attachments, reports).
    pub blobs: Arc<dyn BlobStore>,
    /// Fetches SNS signing certificates (and confirms SNS subscriptions) for SNS messages
    /// that arrive over HTTP.
    pub sns_certificates: Arc<dyn CertificateSource>,
    /// Where Nhịp's own events go out to the organisation's other systems.
    pub bus: Arc<dyn EventBus>,
    /// Saved versions read so far (they never change once saved), so a journey step reads
    /// its definition once per process.
    pub versions: Arc<VersionCache>,
    /// Where the console signs staff in, when not with a password of its own (Cognito's hosted
    /// UI in AWS); `None` locally, where staff sign in with the directory's passwords.
    pub identity: Option<Arc<dyn IdentityProvider>>,
    /// The table's change feed when it is read by pulling (the local file's); `None` on AWS,
    /// where Lambda hands the stream's records to the `journey-stats` function.
    pub feed: Option<Arc<dyn nhip_ports::store::ChangeFeed>>,
    /// Commit groups of the store when it has them (the local file's): a queue consumer runs
    /// each batch as one. `None` on AWS.
    pub groups: Option<Arc<dyn nhip_ports::store::CommitGroups>>,
    /// Zalo's OAuth endpoint for the Official Account's tokens, when the Zalo app's secret key
    /// is configured; `None` locally and until it is.
    pub zalo_oauth: Option<Arc<dyn nhip_ports::zalo::ZaloOAuth>>,
}

/// Lead submissions accepted per source address per minute, unless configured otherwise.
pub const DEFAULT_INTAKE_RATE_PER_MINUTE: u32 = 60;

/// Tunables and secrets of the routes, from the environment in Lambda and from the command
/// line or defaults locally.
#[derive(Clone, PartialEq, Eq)]
pub struct Settings {
    /// Lead submissions accepted per source address per minute (`NHIP_INTAKE_RATE_PER_MINUTE`).
    pub intake_rate_per_minute: u32,
    /// Shared secret the call centre signs its webhooks with (`NHIP_TELEPHONY_SECRET`); the
    /// telephony route refuses every call while it is unset.
    pub telephony_secret: Option<Vec<u8>>,
    /// The messaging pipeline's senders, links and rates.
    pub messaging: crate::messaging_settings::MessagingSettings,
    /// Web origins (`https://www.example-bank.vn`) whose pages may post the lead form from a
    /// browser (`NHIP_INTAKE_ALLOWED_ORIGINS`, comma-separated). Empty: no cross-origin calls.
    pub intake_allowed_origins: Vec<String>,
    /// The member of staff whose bell rings for a new lead that has no team yet (a web form,
    /// a call to the hotline) (`NHIP_INTAKE_OWNER`, a user name of the staff directory); when
    /// unset, every active admin's does. A lead with a team rings its team's manager.
    pub intake_owner: Option<String>,
    /// With sign-in through an identity provider: the one user name whose first sign-in, while
    /// the staff directory is still empty, makes them its first admin (`NHIP_FIRST_ADMIN`).
    pub first_admin: Option<String>,
    /// Whether the journey worker publishes `journey.step` to the bus, one event per step, for
    /// the organisation's other systems (`NHIP_JOURNEY_STEP_EVENTS`: `on` or `off`, the
    /// default). Nothing in Nhịp reads them, and EventBridge bills each one: as much as the
    /// step's own database work.
    pub journey_step_events: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            intake_rate_per_minute: DEFAULT_INTAKE_RATE_PER_MINUTE,
            telephony_secret: None,
            messaging: Default::default(),
            intake_allowed_origins: Vec::new(),
            intake_owner: None,
            first_admin: None,
            journey_step_events: false,
        }
    }
}

impl Settings {
    /// Variable: lead submissions accepted per source and form per minute.
    pub const INTAKE_RATE_VAR: &'static str = "NHIP_INTAKE_RATE_PER_MINUTE";
    /// Variable: the call centre's webhook secret.
    pub const TELEPHONY_SECRET_VAR: &'static str = "NHIP_TELEPHONY_SECRET";
    /// Variable: the web origins allowed to post the lead form from a browser.
    pub const INTAKE_ORIGINS_VAR: &'static str = "NHIP_INTAKE_ALLOWED_ORIGINS";
    /// Variable: whose bell rings for a new lead without a team.
    pub const INTAKE_OWNER_VAR: &'static str = "NHIP_INTAKE_OWNER";
    /// Variable: the identity provider's user who becomes the first admin.
    pub const FIRST_ADMIN_VAR: &'static str = "NHIP_FIRST_ADMIN";
    /// Variable: `on` to publish `journey.step` to the bus.
    pub const JOURNEY_STEP_EVENTS_VAR: &'static str = "NHIP_JOURNEY_STEP_EVENTS";

    /// The settings from `get` (the environment, in Lambda and in the local runner alike):
    /// `NHIP_INTAKE_RATE_PER_MINUTE` 1–1000000 (default 60), `NHIP_TELEPHONY_SECRET` at least
    /// 32 bytes when set. Blank counts as unset.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let messaging = crate::messaging_settings::MessagingSettings::from_lookup(&get)?;
        let get = |var: &str| get(var).filter(|v| !v.trim().is_empty());
        let mut settings = Settings {
            messaging,
            ..Settings::default()
        };
        if let Some(raw) = get(Self::INTAKE_RATE_VAR) {
            settings.intake_rate_per_minute = raw
                .trim()
                .parse()
                .ok()
                .filter(|rate| (1..=1_000_000).contains(rate))
                .ok_or(SettingsError {
                    var: Self::INTAKE_RATE_VAR,
                    reason: "a whole number of submissions a minute, 1 to 1000000",
                })?;
        }
        settings.intake_owner = get(Self::INTAKE_OWNER_VAR).map(|owner| owner.trim().to_owned());
        settings.first_admin = get(Self::FIRST_ADMIN_VAR).map(|name| name.trim().to_lowercase());
        if let Some(raw) = get(Self::JOURNEY_STEP_EVENTS_VAR) {
            settings.journey_step_events = match raw.trim() {
                "on" => true,
                "off" => false,
                _ => {
                    return Err(SettingsError {
                        var: Self::JOURNEY_STEP_EVENTS_VAR,
                        reason: "on or off",
                    });
                }
            };
        }
        if let Some(secret) = get(Self::TELEPHONY_SECRET_VAR) {
            if secret.len() < 32 {
                return Err(SettingsError {
                    var: Self::TELEPHONY_SECRET_VAR,
                    reason: "the shared secret must be at least 32 bytes",
                });
            }
            settings.telephony_secret = Some(secret.into_bytes());
        }
        if let Some(raw) = get(Self::INTAKE_ORIGINS_VAR) {
            for origin in raw.split(',').map(str::trim).filter(|o| !o.is_empty()) {
                if !is_origin(origin) {
                    return Err(SettingsError {
                        var: Self::INTAKE_ORIGINS_VAR,
                        reason: "comma-separated origins such as https://www.example-bank.vn \
                                 (scheme and host, an optional port, no path, no *)",
                    });
                }
                settings.intake_allowed_origins.push(origin.to_owned());
            }
        }
        Ok(settings)
    }
}

/// Whether `origin` is a web origin as browsers send it: `http(s)://host[:port]`.
fn is_origin(origin: &str) -> bool {
    let Ok(url) = url::Url::parse(origin) else {
        return false;
    };
    matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some_and(|h| !h.is_empty())
        && url.username().is_empty()
        && url.password().is_none()
        && url.query().is_none()
        && url.fragment().is_none()
        && url.origin().ascii_serialization() == origin.trim_end_matches('/')
        && !origin.ends_with('/')
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("intake_rate_per_minute", &self.intake_rate_per_minute)
            .field(
                "telephony_secret",
                &self.telephony_secret.as_ref().map(|_| "<set>"),
            )
            .field("messaging", &self.messaging)
            .field("intake_allowed_origins", &self.intake_allowed_origins)
            .field("intake_owner", &self.intake_owner)
            .field("first_admin", &self.first_admin)
            .finish()
    }
}

/// The API's state authenticates with the process's authenticator and clock.
impl crate::auth::AuthState for Arc<Deps> {
    fn authenticator(&self) -> &Authenticator {
        &self.auth
    }

    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(pairs: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        Settings::from_lookup(|var| {
            pairs
                .iter()
                .find(|(k, _)| *k == var)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn settings_default_parse_and_name_a_bad_variable() {
        assert_eq!(from(&[]).unwrap(), Settings::default());
        assert_eq!(
            from(&[(Settings::INTAKE_RATE_VAR, " ")]).unwrap(),
            Settings::default()
        );
        let set = from(&[
            (Settings::INTAKE_RATE_VAR, "120"),
            (
                Settings::TELEPHONY_SECRET_VAR,
                "a-call-centre-secret-of-32-bytes!",
            ),
        ])
        .unwrap();
        assert_eq!(set.intake_rate_per_minute, 120);
        assert!(set.telephony_secret.is_some());
        let origins = from(&[(
            Settings::INTAKE_ORIGINS_VAR,
            "https://www.example-bank.vn, http://localhost:8080",
        )])
        .unwrap();
        assert_eq!(
            origins.intake_allowed_origins,
            ["https://www.example-bank.vn", "http://localhost:8080"]
        );
        assert!(!Settings::default().journey_step_events);
        let steps = from(&[(Settings::JOURNEY_STEP_EVENTS_VAR, "on")]).unwrap();
        assert!(steps.journey_step_events);
        for (var, value) in [
            (Settings::JOURNEY_STEP_EVENTS_VAR, "yes"),
            (Settings::INTAKE_RATE_VAR, "1000001"),
            (Settings::INTAKE_RATE_VAR, "0"),
            (Settings::INTAKE_RATE_VAR, "fast"),
            (Settings::TELEPHONY_SECRET_VAR, "short"),
            (Settings::INTAKE_ORIGINS_VAR, "*"),
            (
                Settings::INTAKE_ORIGINS_VAR,
                "https://www.example-bank.vn/form",
            ),
            (Settings::INTAKE_ORIGINS_VAR, "www.example-bank.vn"),
            (Settings::INTAKE_ORIGINS_VAR, "javascript:alert(1)"),
            (Settings::INTAKE_ORIGINS_VAR, "https://www.example-bank.vn/"),
        ] {
            assert_eq!(from(&[(var, value)]).unwrap_err().var, var);
        }
    }
}
