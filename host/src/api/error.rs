//! The host's public errors: [`StoreError`] for a call (the plugin's WIT error, kind, status and
//! S3 code kept, plus failures of the sandbox itself), and [`HostError`] for setting a host up.

use std::fmt;


/// What kind of failure a call met. Match on this, not on the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The backend refused the credentials or the signature. Retrying will not help.
    AccessDenied,
    /// The key cannot be stored (empty, too long, refused by the backend).
    InvalidKey,
    /// The tenant's settings are unusable (missing bucket, wrong region, untrusted certificate...).
    InvalidConfig,
    /// An attempt did not complete within the tenant's timeout, retries spent.
    Timeout,
    /// The backend or the network is unavailable (5xx, SlowDown, refused or reset), retries spent.
    Unavailable,
    /// The bytes read or written are not what was sent or what the backend promised.
    Integrity,
    /// The call ran into one of the tenant's limits (memory, CPU time, concurrency).
    LimitExceeded,
    /// The plugin trapped or could not be instantiated; the host and other tenants go on.
    Sandbox,
    /// Anything else.
    Other,
}

impl ErrorKind {
    /// A short name, as in logs and metrics labels: `access_denied`, `timeout`...
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::AccessDenied => "access_denied",
            ErrorKind::InvalidKey => "invalid_key",
            ErrorKind::InvalidConfig => "invalid_config",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Integrity => "integrity",
            ErrorKind::LimitExceeded => "limit_exceeded",
            ErrorKind::Sandbox => "sandbox",
            ErrorKind::Other => "other",
        }
    }

    /// How the message is introduced when the error is shown.
    fn heading(self) -> &'static str {
        match self {
            ErrorKind::AccessDenied => "access denied",
            ErrorKind::InvalidKey => "invalid key",
            ErrorKind::InvalidConfig => "invalid config",
            ErrorKind::Timeout => "timed out",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Integrity => "integrity",
            ErrorKind::LimitExceeded => "limit exceeded",
            ErrorKind::Sandbox => "the plugin failed",
            ErrorKind::Other => "error",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a call failed: its kind, a one-line message naming the operation and the key (never a
/// secret), and the HTTP status and S3 error code of the answer that decided it, when there was
/// one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError {
    kind: ErrorKind,
    message: String,
    status: Option<u16>,
    s3_code: Option<String>,
    tenant: Option<String>,
}

impl StoreError {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> StoreError {
        StoreError { kind, message: message.into(), status: None, s3_code: None, tenant: None }
    }

    /// A failure of the host around the call (a limit, a trap), for tenant `tenant`.
    pub(crate) fn of_tenant(kind: ErrorKind, tenant: &str, message: impl Into<String>) -> StoreError {
        StoreError { tenant: Some(tenant.to_string()), ..StoreError::new(kind, message) }
    }

    /// Why an encrypted object of tenant `tenant` did not open.
    pub(crate) fn broken(tenant: &str, key: &str, broken: crate::encryption::Broken) -> StoreError {
        use crate::encryption::Broken;
        let (kind, message) = match broken {
            Broken::Integrity(m) => (ErrorKind::Integrity, m),
            Broken::MissingKey(m) => (ErrorKind::InvalidConfig, m),
        };
        StoreError::of_tenant(kind, tenant, format!("key \"{key}\": {message}"))
    }

    /// The plugin's failure, as the server answered it (sandbox/bindings.rs maps the WIT's).
    pub(crate) fn answered(kind: ErrorKind, message: String, status: Option<u16>, s3_code: Option<String>) -> StoreError {
        StoreError { kind, message, status, s3_code, tenant: None }
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// What went wrong, without the kind: `GET key "a": HTTP 403 SignatureDoesNotMatch: ...`.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The HTTP status of the answer that decided the failure, when there was one.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// The S3 error code of that answer (`NoSuchBucket`, `SlowDown`, `InvalidDigest`...), when
    /// it had one.
    pub fn s3_code(&self) -> Option<&str> {
        self.s3_code.as_deref()
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.tenant, self.kind) {
            (Some(tenant), ErrorKind::Sandbox) => write!(f, "tenant \"{tenant}\": the plugin failed: {}", self.message),
            (Some(tenant), _) => write!(f, "tenant \"{tenant}\": {}", self.message),
            (None, ErrorKind::Other) => f.write_str(&self.message),
            (None, kind) => write!(f, "{}: {}", kind.heading(), self.message),
        }
    }
}

impl std::error::Error for StoreError {}

/// Why a host could not be set up, or a plugin loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    /// The engine could not be made with these options (e.g. the instance pool's address space).
    #[error("the wasmtime engine: {0:#}")]
    Engine(anyhow::Error),
    /// The component did not compile, or does not export and import what Coffer's world says.
    #[error("the plugin component: {0:#}")]
    Plugin(anyhow::Error),
}
