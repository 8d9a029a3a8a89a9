//! The host's public error: the plugin's typed error, case for case, plus failures of the
//! sandbox itself.

use crate::bindings::store::Error as WitError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("access denied: {0}")]
    AccessDenied(String),
    #[error("invalid key: {0}")]
    InvalidKey(String),
    #[error("invalid config: {0}")]
    InvalidConfig(String),
    #[error("timed out: {0}")]
    Timeout(String),
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("integrity: {0}")]
    Integrity(String),
    #[error("{0}")]
    Other(String),
    /// The plugin trapped or could not be instantiated; the host and other tenants go on.
    #[error("tenant \"{tenant}\": the plugin failed: {message}")]
    Sandbox { tenant: String, message: String },
    /// The call ran into one of the tenant's limits (memory, CPU time, concurrency); the host
    /// and other tenants go on.
    #[error("tenant \"{tenant}\": {message}")]
    LimitExceeded { tenant: String, message: String },
}

impl StoreError {
    pub(crate) fn from_wit(error: WitError) -> StoreError {
        match error {
            WitError::AccessDenied(m) => StoreError::AccessDenied(m),
            WitError::InvalidKey(m) => StoreError::InvalidKey(m),
            WitError::InvalidConfig(m) => StoreError::InvalidConfig(m),
            WitError::Timeout(m) => StoreError::Timeout(m),
            WitError::Unavailable(m) => StoreError::Unavailable(m),
            WitError::Integrity(m) => StoreError::Integrity(m),
            WitError::Other(m) => StoreError::Other(m),
        }
    }
}
