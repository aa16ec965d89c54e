//! # Layout
//! Configuration from the environment, the AWS SDK configuration built from it, and the one
//! place a Lambda function assembles its [`Deps`] on AWS: every function's `main` calls
//! [`deps_from_env_or_exit`]. It sits above both the use cases (`nhip-core` … `nhip-api`) and the adapters
//! (`nhip-aws`), which therefore need not know each other.

use std::collections::HashMap;
use std::sync::Arc;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::{
    RuntimeComponents, RuntimeComponentsBuilder,
};
use aws_smithy_runtime_api::client::runtime_plugin::RuntimePlugin;
use nhip_core::auth::{AuthMode, Authenticator, DEFAULT_ISSUER, JwtSecret};
use nhip_core::{BuildInfo, Channels, Deps, Queues};
use nhip_messaging::zalo_tokens::{SealKey, ZaloTokens};
use nhip_ports::zalo::{AccessTokens, ZaloOAuth};
use nhip_ports::{Clock, ItemStore, SystemClock};

use nhip_aws::dynamo::DynamoStore;
use nhip_aws::eventbridge::EventBridgeBus;
use nhip_aws::s3::S3BlobStore;
use nhip_aws::ses::SesChannel;
use nhip_aws::sns::{SnsPushChannel, SnsSmsChannel};
use nhip_aws::sqs::SqsQueue;
use nhip_aws::webhook::{WebhookChannel, WebhookTarget};
use nhip_aws::zalo::{ZaloOAuthEndpoint, ZaloZnsChannel};

/// The table holding every item.
pub const TABLE_VAR: &str = "NHIP_TABLE";
/// The URL of the `events` queue.
pub const EVENTS_QUEUE_URL_VAR: &str = "NHIP_EVENTS_QUEUE_URL";
/// The URL of the `sends` queue.
pub const SENDS_QUEUE_URL_VAR: &str = "NHIP_SENDS_QUEUE_URL";
/// The URL of the `steps` queue (journey step jobs for the journey worker).
pub const STEPS_QUEUE_URL_VAR: &str = "NHIP_STEPS_QUEUE_URL";
/// The URL of the `tickets` queue (tickets to open, for the ticket creator).
pub const TICKETS_QUEUE_URL_VAR: &str = "NHIP_TICKETS_QUEUE_URL";
/// Variable: the `imports` queue URL.
pub const IMPORTS_QUEUE_URL_VAR: &str = "NHIP_IMPORTS_QUEUE_URL";
/// The EventBridge bus Nhịp's own events are published on: its name or ARN.
pub const EVENT_BUS_NAME_VAR: &str = "NHIP_EVENT_BUS_NAME";
/// The S3 bucket blobs (template attachments, reports) are kept in.
pub const BLOB_BUCKET_VAR: &str = "NHIP_BLOB_BUCKET";
/// The SES configuration set e-mail is sent with (event publishing, open and click
/// tracking); optional.
pub const SES_CONFIGURATION_SET_VAR: &str = "NHIP_SES_CONFIGURATION_SET";
/// The Zalo app's secret key, which refreshes the Official Account's tokens (not the OA
/// secret key that signs callbacks); without it the stored pair is used until it expires.
pub const ZALO_APP_SECRET_VAR: &str = "NHIP_ZALO_APP_SECRET";
/// Zalo's OAuth v4 base for Official Accounts; [`nhip_aws::zalo::DEFAULT_OAUTH_BASE`] when
/// unset.
pub const ZALO_OAUTH_URL_VAR: &str = "NHIP_ZALO_OAUTH_URL";
/// Zalo's ZNS template-message endpoint; [`DEFAULT_ZNS_ENDPOINT`] when unset.
pub const ZNS_ENDPOINT_VAR: &str = "NHIP_ZNS_ENDPOINT";
/// The default of [`ZNS_ENDPOINT_VAR`].
pub const DEFAULT_ZNS_ENDPOINT: &str = "https://business.openapi.zalo.me/message/template";
/// The URL messages for other OTT bridges are posted to; the webhook channel refuses every
/// message while it is unset.
pub const WEBHOOK_URL_VAR: &str = "NHIP_WEBHOOK_URL";
/// The secret (at least 32 bytes) webhook posts are signed with; required with
/// [`WEBHOOK_URL_VAR`].
pub const WEBHOOK_SECRET_VAR: &str = "NHIP_WEBHOOK_SECRET";
/// Shortest webhook signing secret accepted, in bytes.
pub const MIN_WEBHOOK_SECRET_BYTES: usize = 32;
/// The region, as the Lambda runtime sets it.
pub const REGION_VAR: &str = "AWS_REGION";
/// The region, as the AWS CLI and older tools set it; read when [`REGION_VAR`] is absent.
pub const DEFAULT_REGION_VAR: &str = "AWS_DEFAULT_REGION";
/// An endpoint override for every AWS service, for emulators (e.g. `http://127.0.0.1:5000`).
pub const ENDPOINT_VAR: &str = "NHIP_AWS_ENDPOINT";
/// How staff requests are authenticated: `gateway` (the default: API Gateway's JWT authorizer
/// verified the token) or `hs256` (the function verifies it with [`JWT_SECRET_VAR`]).
pub const AUTH_VAR: &str = "NHIP_AUTH";
/// The HS256 signing secret, at least 32 bytes; required when [`AUTH_VAR`] is `hs256`.
pub const JWT_SECRET_VAR: &str = "NHIP_JWT_SECRET";
/// The `iss` HS256 tokens must carry; `nhip-local` when unset.
pub const JWT_ISSUER_VAR: &str = "NHIP_JWT_ISSUER";

/// Where the adapters find their AWS resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// DynamoDB table name (`NHIP_TABLE`).
    pub table: String,
    /// URL of the `events` SQS queue (`NHIP_EVENTS_QUEUE_URL`).
    pub events_queue_url: String,
    /// URL of the `sends` SQS queue (`NHIP_SENDS_QUEUE_URL`).
    pub sends_queue_url: String,
    /// URL of the `steps` SQS queue (`NHIP_STEPS_QUEUE_URL`).
    pub steps_queue_url: String,
    /// URL of the `tickets` SQS queue (`NHIP_TICKETS_QUEUE_URL`).
    pub tickets_queue_url: String,
    /// URL of the `imports` SQS queue (`NHIP_IMPORTS_QUEUE_URL`).
    pub imports_queue_url: String,
    /// The EventBridge bus Nhịp's events go out on, by name or ARN (`NHIP_EVENT_BUS_NAME`).
    pub event_bus_name: String,
    /// S3 bucket of the blob store (`NHIP_BLOB_BUCKET`).
    pub blob_bucket: String,
    /// SES configuration set for outgoing e-mail (`NHIP_SES_CONFIGURATION_SET`), if any.
    pub ses_configuration_set: Option<String>,
    /// Zalo ZNS and the Official Account's token refresh (`NHIP_ZNS_ENDPOINT`,
    /// `NHIP_ZALO_OAUTH_URL`, `NHIP_ZALO_APP_SECRET`).
    pub zns: ZnsConfig,
    /// The OTT bridge webhook (`NHIP_WEBHOOK_URL`, `NHIP_WEBHOOK_SECRET`), if configured.
    pub webhook: Option<WebhookConfig>,
    /// AWS region (`AWS_REGION`, else `AWS_DEFAULT_REGION`).
    pub region: String,
    /// Endpoint override for an emulator such as moto (`NHIP_AWS_ENDPOINT`); `None` in AWS.
    pub endpoint: Option<String>,
    /// Staff authentication (`NHIP_AUTH`, `NHIP_JWT_SECRET`, `NHIP_JWT_ISSUER`). The secret's
    /// `Debug` is redacted.
    pub auth: AuthMode,
    /// Route tunables and secrets (`NHIP_INTAKE_RATE_PER_MINUTE`, `NHIP_TELEPHONY_SECRET`).
    pub settings: nhip_core::Settings,
    /// SNS signing certificates provisioned beforehand (`NHIP_SNS_CERTIFICATE_DIR`), for a
    /// network with no route to SNS; `None` downloads them.
    pub sns_certificate_dir: Option<std::path::PathBuf>,
    /// The console's sign-in through Cognito's hosted UI (`NHIP_COGNITO_DOMAIN`,
    /// `NHIP_COGNITO_CLIENT_ID`, `NHIP_COGNITO_ISSUER`, with `NHIP_PUBLIC_URL`): all or none.
    pub cognito: Option<nhip_aws::cognito::CognitoConfig>,
}

/// Variable: the hosted UI's base URL.
pub const COGNITO_DOMAIN_VAR: &str = "NHIP_COGNITO_DOMAIN";
/// Variable: the console's app client id.
pub const COGNITO_CLIENT_ID_VAR: &str = "NHIP_COGNITO_CLIENT_ID";
/// Variable: the staff user pool's issuer URL.
pub const COGNITO_ISSUER_VAR: &str = "NHIP_COGNITO_ISSUER";

/// The console's Cognito sign-in: every variable or none.
fn cognito(
    get: &impl Fn(&str) -> Option<String>,
    public_url: &str,
) -> Result<Option<nhip_aws::cognito::CognitoConfig>, ConfigError> {
    let values = [
        COGNITO_DOMAIN_VAR,
        COGNITO_CLIENT_ID_VAR,
        COGNITO_ISSUER_VAR,
    ]
    .map(|var| (var, get(var)));
    if values.iter().all(|(_, value)| value.is_none()) {
        return Ok(None);
    }
    if let Some((var, _)) = values.iter().find(|(_, value)| value.is_none()) {
        return Err(ConfigError::Invalid {
            var,
            reason: format!(
                "the console's Cognito sign-in needs {COGNITO_DOMAIN_VAR}, {COGNITO_CLIENT_ID_VAR} and {COGNITO_ISSUER_VAR} together"
            ),
        });
    }
    let [(_, domain), (_, client_id), (_, issuer)] = values;
    let config = nhip_aws::cognito::CognitoConfig {
        domain: domain.unwrap_or_default(),
        client_id: client_id.unwrap_or_default(),
        issuer: issuer.unwrap_or_default(),
        public_url: public_url.to_owned(),
    };
    nhip_aws::cognito::CognitoHostedUi::new(&config).map_err(|error| ConfigError::Invalid {
        var: COGNITO_DOMAIN_VAR,
        reason: error.to_string(),
    })?;
    Ok(Some(config))
}

/// A secret read from the environment; its `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the adapter that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Zalo ZNS settings. The access token itself is not configuration: Nhịp keeps the token
/// pair in the table (`nhip_messaging::zalo_tokens`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZnsConfig {
    /// The template-message endpoint (`NHIP_ZNS_ENDPOINT`).
    pub endpoint: String,
    /// Zalo's OAuth v4 base (`NHIP_ZALO_OAUTH_URL`).
    pub oauth_url: String,
    /// The Zalo app's secret key (`NHIP_ZALO_APP_SECRET`), with the app id
    /// (`NHIP_ZALO_APP_ID`) required beside it; without it tokens are not refreshed.
    pub app_secret: Option<SecretString>,
}

/// The OTT bridge webhook's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    /// Where messages are posted (`NHIP_WEBHOOK_URL`).
    pub url: String,
    /// The signing secret, at least 32 bytes (`NHIP_WEBHOOK_SECRET`).
    pub secret: SecretString,
}

/// A configuration variable is missing or malformed. The message names the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is unset or empty.
    #[error("environment variable {var} is not set")]
    Missing {
        /// The variable's name.
        var: &'static str,
    },
    /// A variable is set to something unusable.
    #[error("environment variable {var} is invalid: {reason}")]
    Invalid {
        /// The variable's name.
        var: &'static str,
        /// What is wrong with its value.
        reason: String,
    },
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (variable name → value), so tests need not
    /// touch the process environment. Empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |var: &str| lookup(var).filter(|v| !v.trim().is_empty());
        let required = |var: &'static str| get(var).ok_or(ConfigError::Missing { var });

        let table = required(TABLE_VAR)?;
        check_table_name(&table)?;

        let events_queue_url = required(EVENTS_QUEUE_URL_VAR)?;
        check_http_url(EVENTS_QUEUE_URL_VAR, &events_queue_url)?;

        let sends_queue_url = required(SENDS_QUEUE_URL_VAR)?;
        check_http_url(SENDS_QUEUE_URL_VAR, &sends_queue_url)?;

        let steps_queue_url = required(STEPS_QUEUE_URL_VAR)?;
        check_http_url(STEPS_QUEUE_URL_VAR, &steps_queue_url)?;

        let tickets_queue_url = required(TICKETS_QUEUE_URL_VAR)?;
        check_http_url(TICKETS_QUEUE_URL_VAR, &tickets_queue_url)?;

        let imports_queue_url = required(IMPORTS_QUEUE_URL_VAR)?;
        check_http_url(IMPORTS_QUEUE_URL_VAR, &imports_queue_url)?;

        let event_bus_name = required(EVENT_BUS_NAME_VAR)?;
        check_event_bus_name(&event_bus_name)?;

        let blob_bucket = required(BLOB_BUCKET_VAR)?;
        check_bucket_name(&blob_bucket)?;

        let ses_configuration_set = get(SES_CONFIGURATION_SET_VAR);
        if let Some(set) = &ses_configuration_set {
            check_configuration_set(set)?;
        }

        let zns_endpoint = get(ZNS_ENDPOINT_VAR).unwrap_or_else(|| DEFAULT_ZNS_ENDPOINT.to_owned());
        check_http_url(ZNS_ENDPOINT_VAR, &zns_endpoint)?;
        let oauth_url = get(ZALO_OAUTH_URL_VAR)
            .unwrap_or_else(|| nhip_aws::zalo::DEFAULT_OAUTH_BASE.to_owned());
        check_http_url(ZALO_OAUTH_URL_VAR, &oauth_url)?;
        let app_secret = get(ZALO_APP_SECRET_VAR);
        if let Some(secret) = &app_secret {
            check_header_value(ZALO_APP_SECRET_VAR, secret)?;
            if get(nhip_core::messaging_settings::ZALO_APP_ID_VAR).is_none() {
                // Not worth stopping every channel for: refreshing waits for the app id.
                eprintln!(
                    "nhip: {ZALO_APP_SECRET_VAR} is set without NHIP_ZALO_APP_ID: Zalo OA tokens are not refreshed until it is"
                );
            }
        }
        let zns = ZnsConfig {
            endpoint: zns_endpoint,
            oauth_url,
            app_secret: app_secret.map(SecretString),
        };

        let webhook = webhook(&get)?;

        let region = get(REGION_VAR)
            .or_else(|| get(DEFAULT_REGION_VAR))
            .ok_or(ConfigError::Missing { var: REGION_VAR })?;
        if region.chars().any(char::is_whitespace) {
            return Err(ConfigError::Invalid {
                var: REGION_VAR,
                reason: "a region name has no spaces".into(),
            });
        }

        let endpoint = get(ENDPOINT_VAR);
        if let Some(endpoint) = &endpoint {
            check_http_url(ENDPOINT_VAR, endpoint)?;
        }

        let auth = auth_mode(&get)?;
        let settings = settings(&get)?;
        let sns_certificate_dir = nhip_sns_https::provisioned_dir(get);
        let cognito = cognito(&get, &settings.messaging.public_url)?;

        Ok(Self {
            table,
            events_queue_url,
            sends_queue_url,
            steps_queue_url,
            tickets_queue_url,
            imports_queue_url,
            event_bus_name,
            blob_bucket,
            ses_configuration_set,
            zns,
            webhook,
            region,
            endpoint,
            auth,
            settings,
            sns_certificate_dir,
            cognito,
        })
    }
}

/// The route settings (`NHIP_INTAKE_RATE_PER_MINUTE`, `NHIP_TELEPHONY_SECRET`), read by the
/// one rule the local runner uses too.
fn settings(get: &impl Fn(&str) -> Option<String>) -> Result<nhip_core::Settings, ConfigError> {
    nhip_core::Settings::from_lookup(get).map_err(|e| ConfigError::Invalid {
        var: e.var,
        reason: e.reason.to_owned(),
    })
}

/// Variable: lead submissions accepted per source and form per minute.
pub const INTAKE_RATE_VAR: &str = nhip_core::Settings::INTAKE_RATE_VAR;
/// Variable: the call centre's webhook secret.
pub const TELEPHONY_SECRET_VAR: &str = nhip_core::Settings::TELEPHONY_SECRET_VAR;

/// `NHIP_AUTH`: `gateway` when unset; `hs256` needs `NHIP_JWT_SECRET` (≥ 32 bytes) and takes
/// `NHIP_JWT_ISSUER` when set.
fn auth_mode(get: &impl Fn(&str) -> Option<String>) -> Result<AuthMode, ConfigError> {
    let mode = get(AUTH_VAR).map(|mode| mode.trim().to_ascii_lowercase());
    match mode.as_deref() {
        None | Some("gateway") => Ok(AuthMode::Gateway),
        Some("hs256") => {
            let secret = get(JWT_SECRET_VAR).ok_or(ConfigError::Missing {
                var: JWT_SECRET_VAR,
            })?;
            let secret =
                JwtSecret::new(secret.into_bytes()).map_err(|weak| ConfigError::Invalid {
                    var: JWT_SECRET_VAR,
                    reason: weak.to_string(),
                })?;
            let issuer = get(JWT_ISSUER_VAR).unwrap_or_else(|| DEFAULT_ISSUER.to_owned());
            if issuer.trim() != issuer {
                return Err(ConfigError::Invalid {
                    var: JWT_ISSUER_VAR,
                    reason: "an issuer has no surrounding spaces".into(),
                });
            }
            Ok(AuthMode::Hs256 { secret, issuer })
        }
        Some(other) => Err(ConfigError::Invalid {
            var: AUTH_VAR,
            reason: format!("expected 'gateway' or 'hs256', got {other:?}"),
        }),
    }
}

/// `NHIP_WEBHOOK_URL` with `NHIP_WEBHOOK_SECRET` (≥ 32 bytes), or neither. A secret without a
/// URL leaves the channel unconfigured.
fn webhook(get: &impl Fn(&str) -> Option<String>) -> Result<Option<WebhookConfig>, ConfigError> {
    let Some(url) = get(WEBHOOK_URL_VAR) else {
        return Ok(None);
    };
    check_http_url(WEBHOOK_URL_VAR, &url)?;
    let secret = get(WEBHOOK_SECRET_VAR).ok_or(ConfigError::Missing {
        var: WEBHOOK_SECRET_VAR,
    })?;
    if secret.len() < MIN_WEBHOOK_SECRET_BYTES {
        return Err(ConfigError::Invalid {
            var: WEBHOOK_SECRET_VAR,
            reason: format!("the signing secret must be at least {MIN_WEBHOOK_SECRET_BYTES} bytes"),
        });
    }
    Ok(Some(WebhookConfig {
        url,
        secret: SecretString(secret),
    }))
}

/// S3's rule for new buckets: 3 to 63 characters of `a-z 0-9 . -`, starting and ending with a
/// letter or digit, no `..`.
fn check_bucket_name(bucket: &str) -> Result<(), ConfigError> {
    let ok = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-'))
        && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric())
        && !bucket.contains("..");
    if ok {
        Ok(())
    } else {
        Err(ConfigError::Invalid {
            var: BLOB_BUCKET_VAR,
            reason: "a bucket name is 3 to 63 characters of a-z, 0-9, '.' and '-', starting \
                     and ending with a letter or digit"
                .into(),
        })
    }
}

/// EventBridge's rule for `EventBusName`: a name of 1 to 256 characters of
/// `A-Z a-z 0-9 . - _ /`, or the bus's ARN (`arn:<partition>:events:<region>:<account>:event-bus/<name>`).
fn check_event_bus_name(bus: &str) -> Result<(), ConfigError> {
    let is_name = |name: &str| {
        (1..=256).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'/'))
    };
    let ok = match bus.strip_prefix("arn:") {
        None => is_name(bus),
        Some(rest) => {
            let parts: Vec<&str> = rest.splitn(5, ':').collect();
            matches!(parts.as_slice(), [partition, "events", region, account, resource]
                if partition.starts_with("aws")
                    && !region.is_empty()
                    && account.len() == 12
                    && account.bytes().all(|b| b.is_ascii_digit())
                    && resource.strip_prefix("event-bus/").is_some_and(is_name))
                && bus.len() <= 1600
        }
    };
    if ok {
        Ok(())
    } else {
        Err(ConfigError::Invalid {
            var: EVENT_BUS_NAME_VAR,
            reason: "expected an event bus name (1 to 256 characters of A-Z, a-z, 0-9, '.', \
                     '-', '_' and '/') or an event bus ARN"
                .into(),
        })
    }
}

/// SES's rule: 1 to 64 characters of `A-Z a-z 0-9 _ -`.
fn check_configuration_set(name: &str) -> Result<(), ConfigError> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(ConfigError::Invalid {
            var: SES_CONFIGURATION_SET_VAR,
            reason: "a configuration set name is 1 to 64 characters of A-Z, a-z, 0-9, '_' and '-'"
                .into(),
        })
    }
}

/// A value sent as an HTTP header: visible ASCII only.
fn check_header_value(var: &'static str, value: &str) -> Result<(), ConfigError> {
    if value.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(ConfigError::Invalid {
            var,
            reason: "expected visible ASCII characters only".into(),
        })
    }
}

/// DynamoDB's rule: 3 to 255 characters of `A-Z a-z 0-9 _ - .`.
fn check_table_name(table: &str) -> Result<(), ConfigError> {
    let invalid = |reason: &str| ConfigError::Invalid {
        var: TABLE_VAR,
        reason: reason.into(),
    };
    if !(3..=255).contains(&table.len()) {
        return Err(invalid("a table name is 3 to 255 characters long"));
    }
    if !table
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(invalid(
            "a table name uses only A-Z, a-z, 0-9, '_', '-' and '.'",
        ));
    }
    Ok(())
}

/// An `http://` or `https://` URL with a host and no whitespace.
fn check_http_url(var: &'static str, url: &str) -> Result<(), ConfigError> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or_default());
    let ok = matches!(host, Some(h) if !h.is_empty() && !h.starts_with(':'))
        && !url.chars().any(char::is_whitespace);
    if ok {
        Ok(())
    } else {
        Err(ConfigError::Invalid {
            var,
            reason: format!("expected an http(s) URL, got {url:?}"),
        })
    }
}

/// The AWS SDK configuration for `config`: its region and, when set, its endpoint override.
/// Credentials come from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`
/// when they are set (the Lambda role in AWS; for an emulator set them to any values), and
/// from the SDK's default chain otherwise (a profile, web identity, a container or IMDS). Every client built from it
/// shares one HTTP client, [`TlsOnFirstRequest`].
pub async fn sdk_config(config: &Config) -> SdkConfig {
    sdk_config_for(&config.region, config.endpoint.as_deref()).await
}

/// [`sdk_config`] from the region and endpoint override alone, before the rest of the
/// configuration is read (the secrets it needs come through this).
async fn sdk_config_for(region: &str, endpoint: Option<&str>) -> SdkConfig {
    let version = BehaviorVersion::latest();
    let mut loader = aws_config::defaults(version).region(Region::new(region.to_owned()));
    if credentials_in_environment() {
        // What the default chain would find first anyway (Lambda hands a function its role's
        // credentials in these variables), without building the rest of the chain at start:
        // its web-identity and profile providers construct an STS client.
        loader = loader.credentials_provider(
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        );
    }
    if let Some(http) = TlsOnFirstRequest::sdk_default(version) {
        loader = loader.http_client(http);
    }
    if let Some(endpoint) = endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    loader.load().await
}

/// Whether the environment holds an access key and its secret, the first place the SDK's
/// default credential chain looks.
fn credentials_in_environment() -> bool {
    ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
        .iter()
        .all(|name| std::env::var(name).is_ok_and(|value| !value.trim().is_empty()))
}

/// The SDK's own default HTTPS client (hyper 1, rustls, the system's root certificates), shared
/// by every SDK client of the function and set up on its first request rather than at start.
///
/// Left to itself, the SDK builds a whole TLS connector as each client is constructed, so that
/// the system's root certificates load at start: it reads them once per process, but parses
/// every one of them again for each client. With the six clients of [`build_deps`] that was
/// most of a function's init beyond lambda_runtime's own (docs/performance.md, "Lambda cold
/// start"). This wrapper passes every request to the same default client and leaves out that
/// check at construction, so the certificates are read and parsed once, by the first request,
/// and the connector is then cached for every client alike (one per timeout setting).
#[derive(Debug)]
pub struct TlsOnFirstRequest(SharedHttpClient);

impl TlsOnFirstRequest {
    /// The SDK's default HTTPS client for `version`, wrapped; `None` if this build of the SDK
    /// has none (then each client falls back to the SDK's own choice, as before).
    pub fn sdk_default(version: BehaviorVersion) -> Option<SharedHttpClient> {
        let plugin = aws_smithy_runtime::client::defaults::default_http_client_plugin_v2(version)?;
        let components = plugin.runtime_components(&RuntimeComponentsBuilder::new("nhip-wiring"));
        let inner = components.http_client()?;
        Some(SharedHttpClient::new(Self(inner)))
    }
}

impl HttpClient for TlsOnFirstRequest {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.0.http_connector(settings, components)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.0.connector_metadata()
    }
}

/// For a function's `main`: reads the configuration and builds the ports once. A missing
/// or malformed variable ends the process with a message naming it, which Lambda reports as
/// an init error with that message in the function's log.
///
/// Secrets named by ARN (`NHIP_LINK_SECRET_ARN`…, see [`SECRET_VARS`]) are read from Secrets
/// Manager first, all at once; a secret that cannot be read stops the start the same way.
pub async fn deps_from_env_or_exit(runtime: &'static str) -> Deps {
    let exit = |error: ConfigError| -> ! {
        eprintln!("nhip: cannot start: {error}");
        std::process::exit(2);
    };
    let env: HashMap<String, String> = std::env::vars().collect();
    let (env, sdk) = if names_secrets(&env) {
        let region = env_value(&env, REGION_VAR)
            .or_else(|| env_value(&env, DEFAULT_REGION_VAR))
            .unwrap_or_else(|| exit(ConfigError::Missing { var: REGION_VAR }));
        let sdk = sdk_config_for(&region, env_value(&env, ENDPOINT_VAR).as_deref()).await;
        let reader = nhip_aws::secrets::SecretsManager::from_sdk_config(&sdk);
        let env = with_secrets(env, &reader).await.unwrap_or_else(|e| exit(e));
        (env, Some(sdk))
    } else {
        (env, None)
    };
    let config = Config::from_lookup(|name| env.get(name).cloned()).unwrap_or_else(|e| exit(e));
    let sdk = match sdk {
        Some(sdk) => sdk,
        None => sdk_config(&config).await,
    };
    build_deps_on(&config, sdk, runtime)
}

/// The variables that hold secrets. In AWS each is given as `<VAR>_ARN`, the ARN of a Secrets
/// Manager secret, read when the function starts ([`deps_from_env_or_exit`]); the value
/// itself in `<VAR>` is for the local runner and the emulator tests.
pub const SECRET_VARS: &[&str] = &[
    JWT_SECRET_VAR,
    nhip_core::messaging_settings::LINK_SECRET_VAR,
    TELEPHONY_SECRET_VAR,
    WEBHOOK_SECRET_VAR,
    nhip_core::messaging_settings::ZALO_SECRET_VAR,
    ZALO_APP_SECRET_VAR,
    nhip_core::messaging_settings::SMS_INBOUND_SECRET_VAR,
    nhip_core::messaging_settings::CREDENTIALS_KEY_VAR,
];

/// What a secret a provider issues (Zalo's) holds until an admin puts its value: read as no
/// value. CloudFormation cannot create a secret without one.
pub const UNSET_SECRET: &str = "unset";

/// The suffix of the variable naming a secret's ARN.
pub const ARN_SUFFIX: &str = "_ARN";

/// Secrets read from another version of a secret: the link-signing secret before the last
/// rotation (`AWSPREVIOUS`) and the one a rotation is about to make current (`AWSPENDING`).
const STAGED_SECRETS: &[(&str, &str, &str)] = &[
    (
        nhip_core::messaging_settings::LINK_SECRET_PREVIOUS_VAR,
        nhip_core::messaging_settings::LINK_SECRET_VAR,
        nhip_aws::secrets::PREVIOUS,
    ),
    (
        nhip_core::messaging_settings::LINK_SECRET_NEXT_VAR,
        nhip_core::messaging_settings::LINK_SECRET_VAR,
        nhip_aws::secrets::PENDING,
    ),
];

fn env_value(env: &HashMap<String, String>, var: &str) -> Option<String> {
    env.get(var)
        .filter(|value| !value.trim().is_empty())
        .cloned()
}

fn names_secrets(env: &HashMap<String, String>) -> bool {
    SECRET_VARS
        .iter()
        .any(|var| env_value(env, &format!("{var}{ARN_SUFFIX}")).is_some())
}

/// Where a secret's value is read from.
#[async_trait::async_trait]
pub trait SecretSource: Sync {
    /// The text of `arn` at version `stage`; `None` if it has no such version.
    async fn read(
        &self,
        arn: &str,
        stage: &str,
    ) -> Result<Option<String>, nhip_aws::secrets::SecretError>;
}

#[async_trait::async_trait]
impl SecretSource for nhip_aws::secrets::SecretsManager {
    async fn read(
        &self,
        arn: &str,
        stage: &str,
    ) -> Result<Option<String>, nhip_aws::secrets::SecretError> {
        nhip_aws::secrets::SecretsManager::read(self, arn, stage).await
    }
}

/// `env` with the value of every secret it names by ARN in place of the ARN, read through
/// `source` all at once. A variable given both ways is refused, as is a secret that cannot
/// be read; a version that does not exist (no previous value before a first rotation) is
/// left unset.
pub async fn with_secrets(
    mut env: HashMap<String, String>,
    source: &dyn SecretSource,
) -> Result<HashMap<String, String>, ConfigError> {
    let mut wanted: Vec<(&'static str, String, &'static str)> = Vec::new();
    for var in SECRET_VARS {
        let Some(arn) = env_value(&env, &format!("{var}{ARN_SUFFIX}")) else {
            continue;
        };
        wanted.push((var, arn.clone(), nhip_aws::secrets::CURRENT));
        for (staged, of, stage) in STAGED_SECRETS {
            if of == var {
                wanted.push((staged, arn.clone(), stage));
            }
        }
    }
    for (var, _, _) in &wanted {
        if env_value(&env, var).is_some() {
            return Err(ConfigError::Invalid {
                var,
                reason: "set from its secret's ARN and given a value as well; give one".into(),
            });
        }
    }
    let reads =
        futures::future::join_all(wanted.iter().map(|(_, arn, stage)| source.read(arn, stage)))
            .await;
    for ((var, _, _), read) in wanted.iter().zip(reads) {
        match read {
            // A value put from a file or a terminal often ends in a newline.
            Ok(Some(value)) if value.trim() != UNSET_SECRET => {
                env.insert((*var).to_owned(), value.trim().to_owned());
            }
            Ok(_) => {}
            Err(error) => {
                return Err(ConfigError::Invalid {
                    var,
                    reason: error.to_string(),
                });
            }
        }
    }
    Ok(env)
}

/// The SNS signing-certificate source: downloads, and the folder provisioned beforehand, if
/// any. A folder that does not hold certificates stops the start (exit status 2).
fn sns_certificates(config: &Config) -> nhip_sns_https::HttpsCertificates {
    let dir = config.sns_certificate_dir.as_deref();
    nhip_sns_https::HttpsCertificates::with_folder(dir).unwrap_or_else(|error| {
        eprintln!(
            "nhip: cannot start: {} {}: {error}",
            nhip_sns_https::CERTIFICATE_DIR_VAR,
            dir.map(|d| d.display().to_string()).unwrap_or_default()
        );
        std::process::exit(2);
    })
}

/// The ports on AWS: the DynamoDB store, the SQS `events`, `sends` and `steps` queues, the
/// channels (SES v2, SNS SMS, SNS push, Zalo ZNS, the signed webhook), the S3 blob store, the
/// EventBridge bus, the system clock. Built once per Lambda execution environment. A channel whose configuration is
/// absent still exists and refuses every message, naming the missing variable.
pub async fn build_deps(config: &Config, runtime: &'static str) -> Deps {
    build_deps_on(config, sdk_config(config).await, runtime)
}

/// [`build_deps`] on an SDK configuration built already.
fn build_deps_on(config: &Config, sdk: SdkConfig, runtime: &'static str) -> Deps {
    // Every client is built on its first request (`nhip_aws::lazy`): a function builds only
    // the clients it uses, and none at start.
    let store: Arc<dyn ItemStore> =
        Arc::new(DynamoStore::from_sdk_config(&sdk, config.table.clone()));
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let sqs = nhip_aws::lazy::sdk_client(&sdk, aws_sdk_sqs::Client::new);
    let events = SqsQueue::shared(sqs.clone(), "events", config.events_queue_url.clone());
    let sends = SqsQueue::shared(sqs.clone(), "sends", config.sends_queue_url.clone());
    let steps = SqsQueue::shared(sqs.clone(), "steps", config.steps_queue_url.clone());
    let tickets = SqsQueue::shared(sqs.clone(), "tickets", config.tickets_queue_url.clone());
    let imports = SqsQueue::shared(sqs, "imports", config.imports_queue_url.clone());
    let sns = nhip_aws::lazy::sdk_client(&sdk, aws_sdk_sns::Client::new);
    let http = nhip_aws::webhook::http_client();
    let zalo_oauth = zalo_oauth(config, &http);
    let zalo_tokens = config
        .settings
        .messaging
        .credentials_key
        .as_deref()
        .and_then(SealKey::derive)
        .map(|key| {
            Arc::new(ZaloTokens::new(
                store.clone(),
                clock.clone(),
                zalo_oauth.clone(),
                Some(key),
            )) as Arc<dyn AccessTokens>
        });
    let channels = Channels {
        email: Arc::new(SesChannel::from_sdk_config(
            &sdk,
            config.ses_configuration_set.clone(),
        )),
        sms: Arc::new(SnsSmsChannel::shared(sns.clone())),
        push: Arc::new(SnsPushChannel::shared(sns)),
        zns: Arc::new(ZaloZnsChannel::new(
            http.clone(),
            config.zns.endpoint.clone(),
            zalo_tokens,
        )),
        webhook: Arc::new(WebhookChannel::new(
            http,
            config.webhook.as_ref().map(|w| WebhookTarget {
                url: w.url.clone(),
                secret: w.secret.expose().as_bytes().to_vec(),
            }),
        )),
    };
    let blobs = S3BlobStore::from_sdk_config(&sdk, config.blob_bucket.clone());
    Deps {
        store,
        queues: Queues {
            events: Arc::new(events),
            sends: Arc::new(sends),
            steps: Arc::new(steps),
            tickets: Arc::new(tickets),
            imports: Arc::new(imports),
        },
        channels,
        blobs: Arc::new(blobs),
        clock,
        build: BuildInfo::current(runtime),
        auth: Arc::new(Authenticator::new(config.auth.clone())),
        settings: config.settings.clone(),
        sns_certificates: Arc::new(sns_certificates(config)),
        bus: Arc::new(EventBridgeBus::from_sdk_config(
            &sdk,
            config.event_bus_name.clone(),
        )),
        versions: Default::default(),
        identity: config.cognito.as_ref().map(|cognito| {
            let provider = nhip_aws::cognito::CognitoHostedUi::new(cognito)
                .expect("checked when the configuration was read");
            Arc::new(provider) as Arc<dyn nhip_ports::IdentityProvider>
        }),
        feed: None,
        groups: None,
        zalo_oauth,
    }
}

/// Zalo's OAuth endpoint for the Official Account's tokens, when the app's secret key is
/// configured (its app id is then required, [`Config::from_lookup`]).
fn zalo_oauth(
    config: &Config,
    http: &nhip_aws::lazy::Lazy<reqwest::Client>,
) -> Option<Arc<dyn ZaloOAuth>> {
    let secret = config.zns.app_secret.as_ref()?;
    let app_id = config.settings.messaging.zalo_app_id.as_ref()?;
    Some(Arc::new(ZaloOAuthEndpoint::new(
        http.clone(),
        config.zns.oauth_url.clone(),
        app_id.clone(),
        secret.expose(),
    )))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    const GOOD: &[(&str, &str)] = &[
        ("NHIP_TABLE", "nhip-prod.v1"),
        (
            "NHIP_EVENTS_QUEUE_URL",
            "https://sqs.ap-southeast-1.amazonaws.com/123456789012/nhip-events",
        ),
        (
            "NHIP_SENDS_QUEUE_URL",
            "https://sqs.ap-southeast-1.amazonaws.com/123456789012/nhip-sends",
        ),
        (
            "NHIP_STEPS_QUEUE_URL",
            "https://sqs.ap-southeast-1.amazonaws.com/123456789012/nhip-steps",
        ),
        (
            "NHIP_TICKETS_QUEUE_URL",
            "https://sqs.ap-southeast-1.amazonaws.com/123456789012/nhip-tickets",
        ),
        (
            "NHIP_IMPORTS_QUEUE_URL",
            "https://sqs.ap-southeast-1.amazonaws.com/123456789012/nhip-imports",
        ),
        ("NHIP_EVENT_BUS_NAME", "nhip-prod-events"),
        ("NHIP_BLOB_BUCKET", "nhip-prod-blobs"),
        ("AWS_REGION", "ap-southeast-1"),
    ];

    fn with<'a>(overrides: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut pairs: Vec<_> = GOOD
            .iter()
            .filter(|(k, _)| !overrides.iter().any(|(o, _)| o == k))
            .copied()
            .collect();
        pairs.extend(overrides.iter().filter(|(_, v)| !v.is_empty()).copied());
        pairs
    }

    fn read(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_lookup(env(pairs))
    }

    #[test]
    fn reads_a_complete_environment() {
        let config = read(GOOD).unwrap();
        assert_eq!(config.table, "nhip-prod.v1");
        assert_eq!(config.region, "ap-southeast-1");
        assert_eq!(config.endpoint, None);
        let emulated = read(&with(&[("NHIP_AWS_ENDPOINT", "http://127.0.0.1:5000")])).unwrap();
        assert_eq!(emulated.endpoint.as_deref(), Some("http://127.0.0.1:5000"));
    }

    #[test]
    fn the_consoles_cognito_sign_in_is_configured_whole_or_not_at_all() {
        assert_eq!(read(GOOD).unwrap().cognito, None);
        let cognito = [
            (
                "NHIP_COGNITO_DOMAIN",
                "https://nhip-prod-123.auth.ap-southeast-1.amazoncognito.com",
            ),
            ("NHIP_COGNITO_CLIENT_ID", "3abc"),
            (
                "NHIP_COGNITO_ISSUER",
                "https://cognito-idp.ap-southeast-1.amazonaws.com/ap-southeast-1_X",
            ),
            ("NHIP_PUBLIC_URL", "https://crm.example-bank.vn"),
        ];
        let config = read(&with(&cognito)).unwrap().cognito.unwrap();
        assert_eq!(config.client_id, "3abc");
        assert_eq!(config.public_url, "https://crm.example-bank.vn");
        let partial = read(&with(&cognito[1..])).unwrap_err();
        assert!(
            partial.to_string().contains("NHIP_COGNITO_DOMAIN"),
            "{partial}"
        );
        let plain = read(&with(&[
            ("NHIP_COGNITO_DOMAIN", "http://nhip.auth.example"),
            ("NHIP_COGNITO_CLIENT_ID", "3abc"),
            (
                "NHIP_COGNITO_ISSUER",
                "https://cognito-idp.ap-southeast-1.amazonaws.com/p",
            ),
            ("NHIP_PUBLIC_URL", "https://crm.example-bank.vn"),
        ]));
        assert!(plain.is_err());
    }

    #[test]
    fn falls_back_to_the_default_region() {
        let config = read(&with(&[
            ("AWS_REGION", ""),
            ("AWS_DEFAULT_REGION", "us-east-1"),
        ]))
        .unwrap();
        assert_eq!(config.region, "us-east-1");
    }

    #[test]
    fn a_missing_variable_is_named() {
        for var in [
            "NHIP_TABLE",
            "NHIP_EVENTS_QUEUE_URL",
            "NHIP_SENDS_QUEUE_URL",
            "NHIP_STEPS_QUEUE_URL",
            "NHIP_TICKETS_QUEUE_URL",
            "NHIP_IMPORTS_QUEUE_URL",
            "NHIP_EVENT_BUS_NAME",
            "NHIP_BLOB_BUCKET",
            "AWS_REGION",
        ] {
            let err = read(&with(&[(var, "")])).unwrap_err();
            assert_eq!(err, ConfigError::Missing { var: var_name(var) });
            assert!(err.to_string().contains(var), "{err}");
        }
    }

    fn var_name(var: &str) -> &'static str {
        [
            TABLE_VAR,
            EVENTS_QUEUE_URL_VAR,
            SENDS_QUEUE_URL_VAR,
            STEPS_QUEUE_URL_VAR,
            TICKETS_QUEUE_URL_VAR,
            IMPORTS_QUEUE_URL_VAR,
            EVENT_BUS_NAME_VAR,
            BLOB_BUCKET_VAR,
            REGION_VAR,
        ]
        .into_iter()
        .find(|v| *v == var)
        .unwrap()
    }

    fn invalid_var(result: Result<Config, ConfigError>) -> &'static str {
        match result {
            Err(err @ ConfigError::Invalid { var, .. }) => {
                assert!(err.to_string().contains(var), "{err}");
                var
            }
            other => panic!("expected an invalid variable, got {other:?}"),
        }
    }

    #[test]
    fn table_names_follow_dynamodb_rules() {
        let long = "x".repeat(256);
        for bad in ["ab", "has space", "tên-bảng", long.as_str()] {
            assert_eq!(
                invalid_var(read(&with(&[("NHIP_TABLE", bad)]))),
                "NHIP_TABLE",
                "{bad}"
            );
        }
        assert!(read(&with(&[("NHIP_TABLE", "a_b")])).is_ok());
    }

    #[test]
    fn the_queue_urls_must_be_http() {
        for var in [
            "NHIP_EVENTS_QUEUE_URL",
            "NHIP_SENDS_QUEUE_URL",
            "NHIP_STEPS_QUEUE_URL",
            "NHIP_TICKETS_QUEUE_URL",
            "NHIP_IMPORTS_QUEUE_URL",
        ] {
            for bad in [
                "sqs.ap-southeast-1.amazonaws.com/1/q",
                "ftp://host/q",
                "https://",
                "http:// spaced/q",
            ] {
                assert_eq!(invalid_var(read(&with(&[(var, bad)]))), var, "{bad}");
            }
        }
        let config = read(GOOD).unwrap();
        assert!(config.sends_queue_url.ends_with("/nhip-sends"));
        assert!(config.steps_queue_url.ends_with("/nhip-steps"));
        assert!(config.tickets_queue_url.ends_with("/nhip-tickets"));
    }

    #[test]
    fn the_event_bus_is_a_name_or_an_arn() {
        assert_eq!(read(GOOD).unwrap().event_bus_name, "nhip-prod-events");
        for good in [
            "default",
            "nhip/prod.events_1",
            "arn:aws:events:ap-southeast-1:123456789012:event-bus/nhip-prod-events",
        ] {
            assert_eq!(
                read(&with(&[("NHIP_EVENT_BUS_NAME", good)]))
                    .unwrap()
                    .event_bus_name,
                good
            );
        }
        let long = "e".repeat(257);
        for bad in [
            "has space",
            "bus:name",
            "tên-bus",
            long.as_str(),
            "arn:aws:sqs:ap-southeast-1:123456789012:nhip-events",
            "arn:aws:events:ap-southeast-1:1234:event-bus/nhip",
            "arn:aws:events:ap-southeast-1:123456789012:rule/nhip",
        ] {
            assert_eq!(
                invalid_var(read(&with(&[("NHIP_EVENT_BUS_NAME", bad)]))),
                "NHIP_EVENT_BUS_NAME",
                "{bad}"
            );
        }
    }

    #[test]
    fn bucket_names_follow_s3_rules() {
        assert_eq!(read(GOOD).unwrap().blob_bucket, "nhip-prod-blobs");
        let long = "b".repeat(64);
        for bad in [
            "ab",
            "Upper-Case",
            "-leading",
            "trailing-",
            "two..dots",
            "under_score",
            long.as_str(),
        ] {
            assert_eq!(
                invalid_var(read(&with(&[("NHIP_BLOB_BUCKET", bad)]))),
                "NHIP_BLOB_BUCKET",
                "{bad}"
            );
        }
    }

    #[test]
    fn channel_settings_are_optional() {
        let config = read(GOOD).unwrap();
        assert_eq!(config.ses_configuration_set, None);
        assert_eq!(config.zns.endpoint, DEFAULT_ZNS_ENDPOINT);
        assert_eq!(config.zns.app_secret, None);
        assert_eq!(config.zns.oauth_url, nhip_aws::zalo::DEFAULT_OAUTH_BASE);
        assert_eq!(config.webhook, None);
    }

    #[test]
    fn channel_settings_are_read_and_checked() {
        let secret = "w".repeat(32);
        let config = read(&with(&[
            ("NHIP_SES_CONFIGURATION_SET", "nhip-tracking"),
            ("NHIP_ZALO_APP_SECRET", "zalo-oa-token"),
            ("NHIP_ZALO_APP_ID", "4321"),
            ("NHIP_ZALO_OAUTH_URL", "http://127.0.0.1:9000/v4/oa"),
            ("NHIP_ZNS_ENDPOINT", "http://127.0.0.1:9000/zns"),
            ("NHIP_WEBHOOK_URL", "https://bridge.example.vn/nhip"),
            ("NHIP_WEBHOOK_SECRET", &secret),
        ]))
        .unwrap();
        assert_eq!(
            config.ses_configuration_set.as_deref(),
            Some("nhip-tracking")
        );
        assert_eq!(config.zns.endpoint, "http://127.0.0.1:9000/zns");
        assert_eq!(
            config.zns.app_secret.as_ref().map(SecretString::expose),
            Some("zalo-oa-token")
        );
        assert_eq!(config.zns.oauth_url, "http://127.0.0.1:9000/v4/oa");
        let webhook = config.webhook.as_ref().unwrap();
        assert_eq!(webhook.url, "https://bridge.example.vn/nhip");
        assert_eq!(webhook.secret.expose(), secret);
        let printed = format!("{config:?}");
        assert!(
            !printed.contains("zalo-oa-token") && !printed.contains(&secret),
            "secrets are never printed: {printed}"
        );

        assert_eq!(
            invalid_var(read(&with(&[("NHIP_SES_CONFIGURATION_SET", "has space")]))),
            "NHIP_SES_CONFIGURATION_SET"
        );
        assert_eq!(
            invalid_var(read(&with(&[(
                "NHIP_ZNS_ENDPOINT",
                "business.openapi.zalo.me"
            )]))),
            "NHIP_ZNS_ENDPOINT"
        );
        assert_eq!(
            invalid_var(read(&with(&[
                ("NHIP_ZALO_APP_SECRET", "tok en"),
                ("NHIP_ZALO_APP_ID", "4321")
            ]))),
            "NHIP_ZALO_APP_SECRET"
        );
        // Without the app id the app secret waits: nothing is refreshed, nothing stops.
        let waiting = read(&with(&[("NHIP_ZALO_APP_SECRET", "secret-without-app")])).unwrap();
        assert!(waiting.zns.app_secret.is_some());
        assert_eq!(waiting.settings.messaging.zalo_app_id, None);
        assert_eq!(
            read(&with(&[(
                "NHIP_WEBHOOK_URL",
                "https://bridge.example.vn/nhip"
            )]))
            .unwrap_err(),
            ConfigError::Missing {
                var: WEBHOOK_SECRET_VAR
            }
        );
        assert_eq!(
            invalid_var(read(&with(&[
                ("NHIP_WEBHOOK_URL", "https://bridge.example.vn/nhip"),
                ("NHIP_WEBHOOK_SECRET", "short"),
            ]))),
            "NHIP_WEBHOOK_SECRET"
        );
        assert_eq!(
            invalid_var(read(&with(&[
                ("NHIP_WEBHOOK_URL", "bridge.example.vn"),
                ("NHIP_WEBHOOK_SECRET", &secret),
            ]))),
            "NHIP_WEBHOOK_URL"
        );
        // A secret alone leaves the channel unconfigured.
        assert_eq!(
            read(&with(&[("NHIP_WEBHOOK_SECRET", &secret)]))
                .unwrap()
                .webhook,
            None
        );
    }

    #[tokio::test]
    async fn unconfigured_channels_refuse_and_name_their_variable() {
        use nhip_ports::channel::{Envelope, Outgoing, OutgoingZns};
        let mut config = read(GOOD).unwrap();
        config.endpoint = Some("http://127.0.0.1:9".into());
        let deps = build_deps(&config, "test").await;
        let zns = Envelope {
            message_id: "01JD3ZK5X8Q2W7M4N6P9R1T3V5".into(),
            outgoing: Outgoing::Zns(OutgoingZns {
                phone: "84912345678".into(),
                template_id: "2001".into(),
                params: Default::default(),
                tracking_id: "01JD3ZK5X8Q2W7M4N6P9R1T3V5".into(),
            }),
        };
        let err = deps.channels.zns.send(&zns).await.unwrap_err();
        assert!(
            format!("{err:?}").contains("NHIP_CREDENTIALS_KEY") && !err.is_retryable(),
            "{err}"
        );
        assert_eq!(deps.channels.email.name(), "ses");
        assert_eq!(deps.channels.sms.name(), "sns-sms");
        assert_eq!(deps.channels.push.name(), "sns-push");
        assert_eq!(deps.channels.webhook.name(), "webhook");
        assert_eq!(deps.blobs.backend(), "s3");
        assert_eq!(deps.queues.sends.name(), "sends");
        assert_eq!(deps.queues.steps.name(), "steps");
        assert_eq!(deps.bus.backend(), "eventbridge");
    }

    /// Secrets Manager as a map of (ARN, stage) to value, counting its reads.
    struct Secrets(HashMap<(String, String), String>, std::sync::Mutex<usize>);

    #[async_trait::async_trait]
    impl SecretSource for Secrets {
        async fn read(
            &self,
            arn: &str,
            stage: &str,
        ) -> Result<Option<String>, nhip_aws::secrets::SecretError> {
            *self.1.lock().unwrap() += 1;
            if arn.ends_with(":broken") {
                return Err(nhip_aws::secrets::SecretError {
                    arn: arn.into(),
                    stage: stage.into(),
                    reason: "AccessDeniedException".into(),
                });
            }
            Ok(self.0.get(&(arn.to_owned(), stage.to_owned())).cloned())
        }
    }

    #[tokio::test]
    async fn secrets_named_by_arn_are_read_with_the_link_secrets_other_stages() {
        let link = "arn:aws:secretsmanager:ap-southeast-1:123456789012:secret:nhip-link";
        let key = "arn:aws:secretsmanager:ap-southeast-1:123456789012:secret:nhip-key";
        let zalo = "arn:aws:secretsmanager:ap-southeast-1:123456789012:secret:nhip-zalo";
        let source = Secrets(
            HashMap::from([
                ((link.into(), "AWSCURRENT".into()), "l".repeat(40)),
                ((link.into(), "AWSPREVIOUS".into()), "p".repeat(40)),
                (
                    (key.into(), "AWSCURRENT".into()),
                    format!("{}\n", "k".repeat(40)),
                ),
                ((zalo.into(), "AWSCURRENT".into()), "unset".into()),
            ]),
            Default::default(),
        );
        let env: HashMap<String, String> = with(&[
            ("NHIP_LINK_SECRET_ARN", link),
            ("NHIP_CREDENTIALS_KEY_ARN", key),
            ("NHIP_ZALO_SECRET_ARN", zalo),
        ])
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert!(names_secrets(&env));
        let resolved = with_secrets(env.clone(), &source).await.unwrap();
        // Current, previous and pending of the link secret; the key's and Zalo's current.
        assert_eq!(*source.1.lock().unwrap(), 5);
        assert_eq!(
            resolved.get("NHIP_ZALO_SECRET"),
            None,
            "a secret not put yet is unset"
        );
        let config = Config::from_lookup(|name| resolved.get(name).cloned()).unwrap();
        let messaging = &config.settings.messaging;
        assert_eq!(
            messaging.link_secret.as_deref(),
            Some("l".repeat(40).as_bytes())
        );
        assert_eq!(
            messaging.link_secret_previous.as_deref(),
            Some("p".repeat(40).as_bytes())
        );
        assert_eq!(messaging.link_secret_next, None, "no rotation in progress");
        assert_eq!(
            messaging.credentials_key.as_deref(),
            Some("k".repeat(40).as_bytes())
        );

        let mut both = env.clone();
        both.insert("NHIP_LINK_SECRET".into(), "v".repeat(40));
        let error = with_secrets(both, &source).await.unwrap_err();
        assert_eq!(invalid_var(Err(error)), "NHIP_LINK_SECRET");
        let mut broken = env.clone();
        broken.insert("NHIP_CREDENTIALS_KEY_ARN".into(), format!("{key}:broken"));
        let error = with_secrets(broken, &source).await.unwrap_err();
        assert!(error.to_string().contains("AccessDenied"), "{error}");
        assert_eq!(invalid_var(Err(error)), "NHIP_CREDENTIALS_KEY");
        assert!(!names_secrets(
            &GOOD
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        ));
    }

    #[test]
    fn the_endpoint_must_be_http() {
        for bad in ["127.0.0.1:5000", "tcp://127.0.0.1:5000", "http://"] {
            assert_eq!(
                invalid_var(read(&with(&[("NHIP_AWS_ENDPOINT", bad)]))),
                "NHIP_AWS_ENDPOINT",
                "{bad}"
            );
        }
    }

    #[test]
    fn the_region_must_be_one_word() {
        assert_eq!(
            invalid_var(read(&with(&[("AWS_REGION", "ap southeast")]))),
            "AWS_REGION"
        );
    }

    #[test]
    fn staff_auth_defaults_to_the_gateway() {
        assert_eq!(read(GOOD).unwrap().auth, AuthMode::Gateway);
        assert_eq!(
            read(&with(&[("NHIP_AUTH", "gateway")])).unwrap().auth,
            AuthMode::Gateway
        );
        // A secret alone does not switch the mode.
        let secret = "s".repeat(32);
        assert_eq!(
            read(&with(&[("NHIP_JWT_SECRET", &secret)])).unwrap().auth,
            AuthMode::Gateway
        );
    }

    #[test]
    fn hs256_needs_a_long_enough_secret() {
        let secret = "0123456789abcdef0123456789abcdef";
        let config = read(&with(&[
            ("NHIP_AUTH", "HS256"),
            ("NHIP_JWT_SECRET", secret),
        ]))
        .unwrap();
        assert_eq!(
            config.auth,
            AuthMode::Hs256 {
                secret: JwtSecret::new(secret).unwrap(),
                issuer: DEFAULT_ISSUER.into(),
            }
        );
        assert!(
            !format!("{config:?}").contains(secret),
            "the secret is never printed"
        );

        let err = read(&with(&[("NHIP_AUTH", "hs256")])).unwrap_err();
        assert_eq!(
            err,
            ConfigError::Missing {
                var: JWT_SECRET_VAR
            }
        );
        assert!(err.to_string().contains("NHIP_JWT_SECRET"), "{err}");

        assert_eq!(
            invalid_var(read(&with(&[
                ("NHIP_AUTH", "hs256"),
                ("NHIP_JWT_SECRET", "too-short"),
            ]))),
            "NHIP_JWT_SECRET"
        );
        let custom = read(&with(&[
            ("NHIP_AUTH", "hs256"),
            ("NHIP_JWT_SECRET", secret),
            ("NHIP_JWT_ISSUER", "https://idp.example.vn"),
        ]))
        .unwrap();
        assert!(
            matches!(custom.auth, AuthMode::Hs256 { issuer, .. } if issuer == "https://idp.example.vn")
        );
    }

    #[test]
    fn an_unknown_auth_mode_is_named() {
        assert_eq!(
            invalid_var(read(&with(&[("NHIP_AUTH", "cognito")]))),
            "NHIP_AUTH"
        );
    }

    #[tokio::test]
    async fn the_clients_share_one_http_client_that_carries_their_requests() {
        use std::io::{Read, Write};
        // A stand-in for SQS on loopback: reads one request and answers a client error that
        // the SDK does not retry.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut buf = [0; 4096];
            // The head, then as much body as it announces.
            let complete = |request: &[u8]| {
                let text = String::from_utf8_lossy(request).to_ascii_lowercase();
                text.split_once("\r\n\r\n").is_some_and(|(head, body)| {
                    let length = head
                        .lines()
                        .find_map(|line| line.strip_prefix("content-length:"))
                        .and_then(|n| n.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    body.len() >= length
                })
            };
            while !complete(&request) {
                let n = socket.read(&mut buf).unwrap();
                assert!(n > 0, "the client closed before its request was complete");
                request.extend_from_slice(&buf[..n]);
            }
            let body = r#"{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"none"}"#;
            write!(
                socket,
                "HTTP/1.1 400 Bad Request\r\ncontent-type: application/x-amz-json-1.0\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
            .unwrap();
            String::from_utf8_lossy(&request).into_owned()
        });
        let mut config = read(GOOD).unwrap();
        config.endpoint = Some(format!("http://{addr}"));
        let sdk = sdk_config(&config).await;
        assert!(
            sdk.http_client().is_some(),
            "one HTTP client for every SDK client"
        );
        let sqs = aws_sdk_sqs::Client::from_conf(
            aws_sdk_sqs::config::Builder::from(&sdk)
                .credentials_provider(aws_sdk_sqs::config::Credentials::new(
                    "AKIDTEST", "secret", None, None, "test",
                ))
                .build(),
        );
        let error = sqs
            .get_queue_url()
            .queue_name("nhip-events")
            .send()
            .await
            .unwrap_err();
        let request = server.join().unwrap();
        assert!(request.starts_with("POST / HTTP/1.1"), "{request}");
        // The stand-in's answer came back through the shared client.
        assert_eq!(
            error.raw_response().map(|r| r.status().as_u16()),
            Some(400),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn the_sdk_config_uses_region_and_endpoint() {
        let mut config = read(GOOD).unwrap();
        config.endpoint = Some("http://127.0.0.1:5000".into());
        let sdk = sdk_config(&config).await;
        assert_eq!(sdk.region().map(|r| r.as_ref()), Some("ap-southeast-1"));
        assert_eq!(sdk.endpoint_url(), Some("http://127.0.0.1:5000"));
    }
}
