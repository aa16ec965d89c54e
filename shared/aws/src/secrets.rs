//! Secrets kept in AWS Secrets Manager, read once when a function starts.
//!
//! A function's environment names a secret by its ARN (`NHIP_LINK_SECRET_ARN`), never its
//! value; `nhip-wiring` reads every secret the function names, all at once, before it reads
//! the rest of its configuration, and the values stay in the process. A version stage picks
//! which version: `AWSCURRENT` for the value in use, `AWSPREVIOUS` for the one before the last
//! rotation, `AWSPENDING` for the one a rotation is about to make current.

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};

/// The value in use.
pub const CURRENT: &str = "AWSCURRENT";
/// The value before the last rotation.
pub const PREVIOUS: &str = "AWSPREVIOUS";
/// The value a rotation in progress will make current.
pub const PENDING: &str = "AWSPENDING";

/// A secret could not be read.
#[derive(Debug, thiserror::Error)]
#[error("reading secret {arn} ({stage}): {reason}")]
pub struct SecretError {
    /// The secret's ARN.
    pub arn: String,
    /// The version stage asked for.
    pub stage: String,
    /// What went wrong.
    pub reason: String,
}

/// Reads secrets from Secrets Manager.
#[derive(Debug, Clone)]
pub struct SecretsManager {
    client: Client,
}

impl SecretsManager {
    /// A reader through a client built from `sdk`.
    pub fn from_sdk_config(sdk: &aws_config::SdkConfig) -> Self {
        Self {
            client: Client::new(sdk),
        }
    }

    /// The text of the version of `arn` at `stage`; `None` when the secret has no version
    /// there (no previous value before a first rotation, no value set yet).
    pub async fn read(&self, arn: &str, stage: &str) -> Result<Option<String>, SecretError> {
        let failed = |reason: String| SecretError {
            arn: arn.to_owned(),
            stage: stage.to_owned(),
            reason,
        };
        match self
            .client
            .get_secret_value()
            .secret_id(arn)
            .version_stage(stage)
            .send()
            .await
        {
            Ok(answer) => match (answer.secret_string, answer.secret_binary) {
                (Some(text), _) => Ok(Some(text)),
                (None, Some(_)) => Err(failed(
                    "the secret holds binary data; Nhịp's secrets are text".into(),
                )),
                (None, None) => Ok(None),
            },
            Err(SdkError::ServiceError(error))
                if error.err().code() == Some("ResourceNotFoundException") && stage != CURRENT =>
            {
                Ok(None)
            }
            Err(SdkError::ServiceError(error)) => Err(failed(format!(
                "{}: {}",
                error.err().code().unwrap_or("error"),
                error.err().message().unwrap_or_default()
            ))),
            Err(error) => Err(failed(error.to_string())),
        }
    }
}
