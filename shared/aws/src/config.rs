//! Configuration from the environment, the AWS SDK configuration built from it, and the one
//! place a Lambda function assembles its [`Deps`] on AWS.

use std::sync::Arc;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use nhip_app::auth::{AuthMode, Authenticator, DEFAULT_ISSUER, JwtSecret};
use nhip_app::ports::SystemClock;
use nhip_app::{BuildInfo, Deps, Queues};

use crate::dynamo::DynamoStore;
use crate::sqs::SqsQueue;

/// The table holding every item.
pub const TABLE_VAR: &str = "NHIP_TABLE";
/// The URL of the `events` queue.
pub const EVENTS_QUEUE_URL_VAR: &str = "NHIP_EVENTS_QUEUE_URL";
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
    /// AWS region (`AWS_REGION`, else `AWS_DEFAULT_REGION`).
    pub region: String,
    /// Endpoint override for an emulator such as moto (`NHIP_AWS_ENDPOINT`); `None` in AWS.
    pub endpoint: Option<String>,
    /// Staff authentication (`NHIP_AUTH`, `NHIP_JWT_SECRET`, `NHIP_JWT_ISSUER`). The secret's
    /// `Debug` is redacted.
    pub auth: AuthMode,
    /// Route tunables and secrets (`NHIP_INTAKE_RATE_PER_MINUTE`, `NHIP_TELEPHONY_SECRET`).
    pub settings: nhip_app::Settings,
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

        Ok(Self {
            table,
            events_queue_url,
            region,
            endpoint,
            auth,
            settings,
        })
    }
}

/// The route settings (`NHIP_INTAKE_RATE_PER_MINUTE`, `NHIP_TELEPHONY_SECRET`), read by the
/// one rule the local runner uses too.
fn settings(get: &impl Fn(&str) -> Option<String>) -> Result<nhip_app::Settings, ConfigError> {
    nhip_app::Settings::from_lookup(get).map_err(|e| ConfigError::Invalid {
        var: e.var,
        reason: e.reason.to_owned(),
    })
}

/// Variable: lead submissions accepted per source and form per minute.
pub const INTAKE_RATE_VAR: &str = nhip_app::Settings::INTAKE_RATE_VAR;
/// Variable: the call centre's webhook secret.
pub const TELEPHONY_SECRET_VAR: &str = nhip_app::Settings::TELEPHONY_SECRET_VAR;

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
/// Credentials come from the default chain (the Lambda role in AWS; for an emulator set
/// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` to any values).
pub async fn sdk_config(config: &Config) -> SdkConfig {
    let mut loader =
        aws_config::defaults(BehaviorVersion::latest()).region(Region::new(config.region.clone()));
    if let Some(endpoint) = &config.endpoint {
        loader = loader.endpoint_url(endpoint.clone());
    }
    loader.load().await
}

/// For a function's `main`: reads the configuration and builds the ports once. A missing
/// or malformed variable ends the process with a message naming it, which Lambda reports as
/// an init error with that message in the function's log.
pub async fn deps_from_env_or_exit(runtime: &'static str) -> Deps {
    match Config::from_env() {
        Ok(config) => build_deps(&config, runtime).await,
        Err(error) => {
            eprintln!("nhip: cannot start: {error}");
            std::process::exit(2);
        }
    }
}

/// The ports on AWS: the DynamoDB store, the SQS `events` queue, the system clock. Built once
/// per Lambda execution environment.
pub async fn build_deps(config: &Config, runtime: &'static str) -> Deps {
    let sdk = sdk_config(config).await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), config.table.clone());
    let events = SqsQueue::new(
        aws_sdk_sqs::Client::new(&sdk),
        "events",
        config.events_queue_url.clone(),
    );
    Deps {
        store: Arc::new(store),
        queues: Queues {
            events: Arc::new(events),
        },
        clock: Arc::new(SystemClock),
        build: BuildInfo::current(runtime),
        auth: Arc::new(Authenticator::new(config.auth.clone())),
        settings: config.settings.clone(),
    }
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
        for var in ["NHIP_TABLE", "NHIP_EVENTS_QUEUE_URL", "AWS_REGION"] {
            let err = read(&with(&[(var, "")])).unwrap_err();
            assert_eq!(err, ConfigError::Missing { var: var_name(var) });
            assert!(err.to_string().contains(var), "{err}");
        }
    }

    fn var_name(var: &str) -> &'static str {
        [TABLE_VAR, EVENTS_QUEUE_URL_VAR, REGION_VAR]
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
    fn the_queue_url_must_be_http() {
        for bad in [
            "sqs.ap-southeast-1.amazonaws.com/1/q",
            "ftp://host/q",
            "https://",
            "http:// spaced/q",
        ] {
            assert_eq!(
                invalid_var(read(&with(&[("NHIP_EVENTS_QUEUE_URL", bad)]))),
                "NHIP_EVENTS_QUEUE_URL",
                "{bad}"
            );
        }
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
    async fn the_sdk_config_uses_region_and_endpoint() {
        let mut config = read(GOOD).unwrap();
        config.endpoint = Some("http://127.0.0.1:5000".into());
        let sdk = sdk_config(&config).await;
        assert_eq!(sdk.region().map(|r| r.as_ref()), Some("ap-southeast-1"));
        assert_eq!(sdk.endpoint_url(), Some("http://127.0.0.1:5000"));
    }
}
