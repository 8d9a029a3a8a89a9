//! The builder's setters: one per setting, named after the config file's field in snake_case,
//! each at its default until set. checks.rs validates them all at once.

use std::path::PathBuf;
use std::time::Duration;

use super::{
    CaSource, Checksum, DEFAULT_CALL_TIMEOUT, DEFAULT_MAX_RETRIES, DEFAULT_MULTIPART_THRESHOLD, DEFAULT_PART_CONCURRENCY,
    DEFAULT_PART_SIZE, DEFAULT_TIMEOUT, TenantSettingsBuilder,
};
use crate::sandbox::limits::Limits;
use crate::secrets::secret::Secret;

impl TenantSettingsBuilder {
    pub(super) fn new(name: String) -> Self {
        TenantSettingsBuilder {
            name,
            origin: "settings".into(),
            bucket: None,
            region: None,
            endpoint: None,
            access_key: None,
            secret_key: None,
            session_token: None,
            profile: None,
            ambient_credentials: false,
            key_prefix: String::new(),
            timeout: DEFAULT_TIMEOUT,
            call_timeout: DEFAULT_CALL_TIMEOUT,
            max_retries: DEFAULT_MAX_RETRIES,
            verify_after_write: true,
            virtual_hosted_style: false,
            checksum: Checksum::default(),
            allow_invalid_certs: false,
            ca: None,
            multipart_threshold: DEFAULT_MULTIPART_THRESHOLD,
            part_size: DEFAULT_PART_SIZE,
            part_concurrency: DEFAULT_PART_CONCURRENCY,
            limits: Limits::default(),
            encryption: None,
            old_encryption_keys: Vec::new(),
        }
    }

    /// What errors name as the settings' origin (the config file's path); "settings" by default.
    #[cfg(feature = "config-file")]
    pub(crate) fn origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = origin.into();
        self
    }

    /// The bucket (required).
    pub fn bucket(mut self, bucket: impl Into<String>) -> Self {
        self.bucket = Some(bucket.into());
        self
    }
    /// The SigV4 signing region. Without an endpoint, a well-known AWS region that picks AWS's
    /// endpoint; with one, any name ("garage", "auto"). Default `us-east-1`.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
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
    /// Prepended as is to every key.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }
    /// The bound of one request attempt. Default 30 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
    /// The bound of a whole call, its attempts, retries and backoff included: no call lasts
    /// longer. Default 2 min; at least `timeout`.
    pub fn call_timeout(mut self, call_timeout: Duration) -> Self {
        self.call_timeout = call_timeout;
        self
    }
    /// Retries of a transient failure. Default 3.
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }
    /// HEAD after every PUT, the put sent again or failed when the object is not as sent.
    /// Default true.
    pub fn verify_after_write(mut self, verify: bool) -> Self {
        self.verify_after_write = verify;
        self
    }
    /// Address the bucket as `bucket.host` rather than `host/bucket`. Default false.
    pub fn virtual_hosted_style(mut self, virtual_hosted: bool) -> Self {
        self.virtual_hosted_style = virtual_hosted;
        self
    }
    pub fn checksum(mut self, checksum: Checksum) -> Self {
        self.checksum = checksum;
        self
    }
    /// Accept any TLS certificate from this tenant's endpoint. Default false; prefer `ca_pem`.
    pub fn allow_invalid_certs(mut self, allow: bool) -> Self {
        self.allow_invalid_certs = allow;
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
    /// Puts of more bytes than this are multipart uploads (5 MiB to 5 GiB). Default 16 MiB.
    pub fn multipart_threshold(mut self, bytes: u64) -> Self {
        self.multipart_threshold = bytes;
        self
    }
    /// The size of each part but the last (5 MiB to 5 GiB). Default 8 MiB.
    pub fn part_size(mut self, bytes: u64) -> Self {
        self.part_size = bytes;
        self
    }
    /// Parts of one upload sent at once (1 to 64). Default 4.
    pub fn part_concurrency(mut self, parts: u32) -> Self {
        self.part_concurrency = parts;
        self
    }
    /// The sandbox's limits (memory, CPU time, concurrency).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Client-side encryption (docs/encryption.md): new objects are sealed with `key` (32
    /// bytes, as 64 hex digits or in base64) under the id `key_id` (1 to 32 letters, digits,
    /// `.`, `_`, `-`), which is written in each object's header.
    pub fn encryption(mut self, key_id: impl Into<String>, key: impl Into<Secret>) -> Self {
        self.encryption = Some((key_id.into(), key.into()));
        self
    }

    /// A key objects sealed earlier still open with; never used to seal.
    pub fn old_encryption_key(mut self, key_id: impl Into<String>, key: impl Into<Secret>) -> Self {
        self.old_encryption_keys.push((key_id.into(), key.into()));
        self
    }
}
