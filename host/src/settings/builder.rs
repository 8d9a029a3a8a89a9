//! The builder's setters: one per setting, named after the config file's field in snake_case,
//! each at its default until set. checks.rs validates them all at once.

use std::path::PathBuf;

use super::{CaSource, TenantSettingsBuilder, record};
use crate::sandbox::limits::Limits;
use crate::secrets::secret::Secret;

impl TenantSettingsBuilder {
    pub(super) fn new(name: String) -> Self {
        TenantSettingsBuilder {
            name,
            origin: "settings".into(),
            record: record::defaults(),
            endpoint: None,
            access_key: None,
            secret_key: None,
            session_token: None,
            profile: None,
            ambient_credentials: false,
            allow_invalid_certs: false,
            hedge_reads: true,
            ca: None,
            limits: Limits::default(),
            encryption_key_id: None,
            encryption_key: None,
            old_encryption_keys: Vec::new(),
        }
    }

    /// What errors name as the settings' origin (the config file's path); "settings" by default.
    #[cfg(feature = "config-file")]
    pub(crate) fn origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = origin.into();
        self
    }

    /// A custom S3-compatible endpoint, `scheme://host[:port]`.
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }
    pub fn access_key(mut self, access_key: impl Into<Secret>) -> Self {
        self.access_key = Some(access_key.into());
        self
    }
    pub fn secret_key(mut self, secret_key: impl Into<Secret>) -> Self {
        self.secret_key = Some(secret_key.into());
        self
    }
    /// An STS session token (`sessionToken`, or Stalwart's `securityToken`).
    pub fn session_token(mut self, token: impl Into<Secret>) -> Self {
        self.session_token = Some(token.into());
        self
    }
    /// Take the keys (and token) from this profile of the shared credentials file.
    pub fn profile(mut self, profile: impl Into<String>) -> Self {
        self.profile = Some(profile.into());
        self
    }
    /// Without keys or a profile, use the host's `AWS_*` environment, then the profile
    /// `AWS_PROFILE` names (else `default`). Off by default: a tenant never borrows the host's
    /// credentials unless it is told to.
    pub fn ambient_credentials(mut self, allowed: bool) -> Self {
        self.ambient_credentials = allowed;
        self
    }
    /// Accept any TLS certificate from this tenant's endpoint. Default false; prefer `ca_pem`.
    pub fn allow_invalid_certs(mut self, allow: bool) -> Self {
        self.allow_invalid_certs = allow;
        self
    }
    /// Send a get's GET once more when its answer is late past a bound learned from the
    /// tenant's recent first-byte times, at most 5% more GETs (docs/reliability.md). Default true.
    pub fn hedge_reads(mut self, hedge: bool) -> Self {
        self.hedge_reads = hedge;
        self
    }
    /// PEM certificates of CAs this tenant trusts besides the built-in web roots.
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca = Some(CaSource::Pem(pem.into()));
        self
    }
    /// A PEM file of CAs this tenant trusts besides the built-in web roots, read by `build`.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca = Some(CaSource::File(path.into()));
        self
    }
    /// The sandbox's limits (memory, CPU time, concurrency).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
    /// One of the limits changed, as the config file gives them.
    #[cfg(feature = "config-file")]
    pub(crate) fn with_limits(mut self, change: impl FnOnce(&mut Limits)) -> Self {
        change(&mut self.limits);
        self
    }

    /// Client-side encryption (docs/encryption.md): new objects are sealed with `key` (32
    /// bytes, as 64 hex digits or in base64) under the id `key_id` (1 to 32 letters, digits,
    /// `.`, `_`, `-`), which is written in each object's header.
    pub fn encryption(mut self, key_id: impl Into<String>, key: impl Into<Secret>) -> Self {
        self.encryption_key_id = Some(key_id.into());
        self.encryption_key = Some(key.into());
        self
    }
    /// The id half of [`encryption`](Self::encryption), as the config file gives it: one key
    /// at a time.
    #[cfg(feature = "config-file")]
    pub(crate) fn encryption_key_id(mut self, key_id: String) -> Self {
        self.encryption_key_id = Some(key_id);
        self
    }
    /// The key half of [`encryption`](Self::encryption).
    #[cfg(feature = "config-file")]
    pub(crate) fn encryption_key(mut self, key: Secret) -> Self {
        self.encryption_key = Some(key);
        self
    }

    /// A key objects sealed earlier still open with; never used to seal.
    pub fn old_encryption_key(mut self, key_id: impl Into<String>, key: impl Into<Secret>) -> Self {
        self.old_encryption_keys.push((key_id.into(), key.into()));
        self
    }
}
