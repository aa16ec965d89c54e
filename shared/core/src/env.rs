//! Settings read from the environment (in Lambda and in the local runner alike): the error
//! that names the variable at fault.

/// A route setting from the environment is unusable. The message names the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {var} is invalid: {reason}")]
pub struct SettingsError {
    /// The variable's name.
    pub var: &'static str,
    /// What is wrong with its value.
    pub reason: &'static str,
}
