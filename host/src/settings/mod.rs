//! A tenant's settings: plain data, built in code with [`TenantSettings::builder`] (or from the
//! config file, which goes through the same builder), validated once in [`TenantSettingsBuilder::build`].
//!
//! Nothing here reads the process environment unless the tenant opts in with
//! [`ambient_credentials`](TenantSettingsBuilder::ambient_credentials), or names a `profile`
//! (read from the shared credentials file). Derived values (the endpoint's scheme and authority
//! without a default port, the virtual-host name) are computed here and nowhere else.

use std::path::PathBuf;
use std::time::Duration;

use rustls::pki_types::CertificateDer;

use crate::secrets::credentials::{self, Credentials};
use crate::secrets::env::{EnvLookup, process_env};
use crate::encryption::{self, Key, KeyRing};
use crate::sandbox::limits::{self, Limits};
use crate::secrets::secret::Secret;
use crate::net::tls::{self, Trust};
use endpoint::Endpoint;

/// The region used when a tenant names none.
pub const DEFAULT_REGION: &str = "us-east-1";
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(120);
pub const DEFAULT_MAX_RETRIES: u32 = 3;
pub const DEFAULT_MULTIPART_THRESHOLD: u64 = 16 << 20;
pub const DEFAULT_PART_SIZE: u64 = 8 << 20;
pub const DEFAULT_PART_CONCURRENCY: u32 = 4;
/// S3's bounds on a part (all but the last) and on a single PUT: 5 MiB to 5 GiB. The only
/// definition: the plugin is handed sizes already inside them.
pub const MIN_PART_SIZE: u64 = 5 << 20;
pub const MAX_PART_SIZE: u64 = 5 << 30;
/// The smallest `limits.memory` the plugin runs in.
pub const MIN_MEMORY: u64 = 16 << 20;

/// Whether a tenant's requests carry `x-amz-checksum-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Checksum {
    /// As [`Checksum::Crc32`], until the server refuses a checksum header (Backblaze B2,
    /// Cloudflare R2): the request is then sent again without it, and the tenant's requests go
    /// without from then on, as [`Checksum::None`] (logged once, at warn).
    #[default]
    Auto,
    /// Every PUT carries its CRC-32, which the server checks and keeps, and reads ask for the
    /// object's checksums; a server that refuses them fails the call.
    Crc32,
    /// No checksum header at all, `x-amz-checksum-mode` included; integrity rests on
    /// Content-MD5 and the MD5 ETag.
    None,
}

impl Checksum {
    /// `"auto"`, `"crc32"` or `"none"`, as the config file writes it.
    pub fn parse(text: &str) -> Option<Checksum> {
        match text {
            "auto" => Some(Checksum::Auto),
            "crc32" => Some(Checksum::Crc32),
            "none" => Some(Checksum::None),
            _ => None,
        }
    }
}

/// Why settings cannot be used. Each message is one line naming the field (by its config-file
/// name) and, for the file, the file and the tenant.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{origin}: {message}")]
    Parse { origin: String, message: String },
    #[error("{origin}: tenant \"{tenant}\": {field}: {message}")]
    Field { origin: String, tenant: String, field: &'static str, message: String },
    #[error("{origin}: no tenant \"{wanted}\"; tenants: {}", .known.join(", "))]
    UnknownTenant { origin: String, wanted: String, known: Vec<String> },
    #[error("{origin}: several tenants ({}); choose one with --tenant", .known.join(", "))]
    AmbiguousTenant { origin: String, known: Vec<String> },
    #[error("{origin}: no [tenants.NAME] table")]
    NoTenant { origin: String },
    #[error("{origin}: [host]: {field}: {message}")]
    HostField { origin: String, field: &'static str, message: String },
}

impl ConfigError {
    /// The config-file name of the field at fault, when one is.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            ConfigError::Field { field, .. } | ConfigError::HostField { field, .. } => Some(field),
            _ => None,
        }
    }
}

/// A tenant's settings, validated and with its secrets resolved. Built by
/// [`TenantSettings::builder`]; read through its accessors.
#[derive(Debug, Clone)]
pub struct TenantSettings {
    name: String,
    bucket: String,
    region: String,
    /// The endpoint, as given or as the region's.
    endpoint: Endpoint,
    /// Where requests go: the endpoint, with the bucket in front of its host in virtual-hosted
    /// style.
    request_endpoint: Endpoint,
    key_prefix: String,
    timeout: Duration,
    call_timeout: Duration,
    max_retries: u32,
    verify_after_write: bool,
    virtual_hosted_style: bool,
    checksum: Checksum,
    multipart_threshold: u64,
    part_size: u64,
    part_concurrency: u32,
    trust: Trust,
    limits: Limits,
    credentials: Credentials,
    encryption: Option<KeyRing>,
}

impl TenantSettings {
    /// Settings for the tenant `name` (used in logs, errors and telemetry), with every field at
    /// its default; `bucket` is required.
    pub fn builder(name: impl Into<String>) -> TenantSettingsBuilder {
        TenantSettingsBuilder::new(name.into())
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn bucket(&self) -> &str {
        &self.bucket
    }
    pub fn region(&self) -> &str {
        &self.region
    }
    /// `scheme://authority`, no path, no default port.
    pub fn endpoint(&self) -> String {
        self.endpoint.to_string()
    }
    pub fn scheme(&self) -> &str {
        self.endpoint.scheme()
    }
    /// The endpoint's `host[:port]`, without the scheme's default port.
    pub fn authority(&self) -> &str {
        self.endpoint.authority()
    }
    /// The authority requests go to: the endpoint's, with the bucket in front of it in
    /// virtual-hosted style.
    pub fn request_authority(&self) -> &str {
        self.request_endpoint.authority()
    }
    /// Where requests go (scheme, host, port and pool key): the endpoint, with the bucket in
    /// front of its host in virtual-hosted style.
    pub fn request_endpoint(&self) -> &Endpoint {
        &self.request_endpoint
    }
    pub fn key_prefix(&self) -> &str {
        &self.key_prefix
    }
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
    /// The bound of a whole call, retries and backoff included.
    pub fn call_timeout(&self) -> Duration {
        self.call_timeout
    }

    pub fn max_retries(&self) -> u32 {
        self.max_retries
    }
    /// The keys the tenant's blobs are sealed with, when client-side encryption is set
    /// (docs/encryption.md).
    pub fn encryption(&self) -> Option<&KeyRing> {
        self.encryption.as_ref()
    }

    pub fn verify_after_write(&self) -> bool {
        self.verify_after_write
    }
    pub fn virtual_hosted_style(&self) -> bool {
        self.virtual_hosted_style
    }
    pub fn checksum(&self) -> Checksum {
        self.checksum
    }
    pub fn multipart_threshold(&self) -> u64 {
        self.multipart_threshold
    }
    pub fn part_size(&self) -> u64 {
        self.part_size
    }
    pub fn part_concurrency(&self) -> u32 {
        self.part_concurrency
    }
    pub fn limits(&self) -> Limits {
        self.limits
    }
    pub fn allow_invalid_certs(&self) -> bool {
        self.trust.allow_invalid_certs
    }
    /// The tenant's TLS trust (the built-in roots, its `caFile`, `allowInvalidCerts`).
    pub fn trust(&self) -> &Trust {
        &self.trust
    }
    pub(crate) fn credentials(&self) -> &Credentials {
        &self.credentials
    }
    /// Where the credentials came from ("the settings", "profile \"mail\" in /path", ...).
    pub fn credentials_source(&self) -> &str {
        &self.credentials.source
    }
}

/// Where a tenant's private CA comes from.
#[derive(Debug, Clone)]
enum CaSource {
    Pem(Vec<u8>),
    File(PathBuf),
}

/// Builds [`TenantSettings`]: one setter per setting, named after the config field in
/// snake_case; [`build`](Self::build) validates them all at once.
#[derive(Debug, Clone)]
#[must_use]
pub struct TenantSettingsBuilder {
    name: String,
    origin: String,
    bucket: Option<String>,
    region: Option<String>,
    endpoint: Option<String>,
    access_key: Option<Secret>,
    secret_key: Option<Secret>,
    session_token: Option<Secret>,
    profile: Option<String>,
    ambient_credentials: bool,
    key_prefix: String,
    timeout: Duration,
    call_timeout: Duration,
    max_retries: u32,
    verify_after_write: bool,
    virtual_hosted_style: bool,
    checksum: Checksum,
    allow_invalid_certs: bool,
    ca: Option<CaSource>,
    multipart_threshold: u64,
    part_size: u64,
    part_concurrency: u32,
    limits: Limits,
    /// The key id and key new objects are sealed with, and older keys still read.
    encryption: Option<(String, Secret)>,
    old_encryption_keys: Vec<(String, Secret)>,
}

impl TenantSettingsBuilder {
    fn new(name: String) -> Self {
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

    /// Validates every setting and resolves the credentials.
    pub fn build(self) -> Result<TenantSettings, ConfigError> {
        self.build_with_env(&process_env)
    }

    /// The scheme and authority requests go to (the endpoint's, or the AWS region's), and the
    /// authority with the bucket in front in virtual-hosted style.
    fn resolved_endpoint(&self, bucket: &str, region: &str) -> Result<(Endpoint, Endpoint), (&'static str, String)> {
        let endpoint = match &self.endpoint {
            Some(endpoint) => endpoint.clone(),
            None if regions::is_known(region) => regions::aws_endpoint(region),
            None => {
                let nearest = regions::nearest(region);
                return Err((
                    "region",
                    format!("\"{region}\" is not an AWS region; did you mean \"{nearest}\"? (for another S3 service, set endpoint too)"),
                ));
            }
        };
        let endpoint = Endpoint::parse(&endpoint).map_err(|m| ("endpoint", m))?;
        if self.virtual_hosted_style {
            check_bucket_as_host_name(bucket).map_err(|m| ("virtualHostedStyle", m))?;
        }
        let request_endpoint = match self.virtual_hosted_style {
            true => endpoint.with_bucket(bucket),
            false => endpoint.clone(),
        };
        Ok((endpoint, request_endpoint))
    }

    /// The time bounds and the part sizes within what works and what S3 allows.
    fn check_bounds(&self) -> Result<(), (&'static str, String)> {
        if self.timeout.is_zero() {
            return Err(("timeout", "must be more than zero".into()));
        }
        if self.call_timeout < self.timeout {
            return Err((
                "callTimeout",
                format!(
                    "{} is shorter than timeout ({}): a call could not make one whole attempt",
                    humantime::format_duration(self.call_timeout),
                    humantime::format_duration(self.timeout)
                ),
            ));
        }
        for (name, size) in [("multipartThreshold", self.multipart_threshold), ("partSize", self.part_size)] {
            if !(MIN_PART_SIZE..=MAX_PART_SIZE).contains(&size) {
                return Err((name, format!("{} is outside S3's bounds, 5MiB to 5GiB", bytesize::ByteSize(size))));
            }
        }
        if !(1..=64).contains(&self.part_concurrency) {
            return Err(("partConcurrency", format!("{} is not between 1 and 64", self.part_concurrency)));
        }
        Ok(())
    }

    /// The TLS trust: the tenant's own CA certificates, read and parsed now.
    fn trust(&self) -> Result<Trust, (&'static str, String)> {
        let ca_certs = match &self.ca {
            None => Vec::new(),
            Some(CaSource::File(path)) => tls::load_ca_file(path).map_err(|m| ("caFile", m))?,
            Some(CaSource::Pem(pem)) => tls::parse_ca_pem(pem, "caPem").map_err(|m| ("caPem", m))?,
        };
        Ok(Trust {
            allow_invalid_certs: self.allow_invalid_certs,
            ca_file: match &self.ca {
                Some(CaSource::File(path)) => Some(path.clone()),
                _ => None,
            },
            ca_certs: ca_certs.into_iter().map(CertificateDer::into_owned).collect(),
        })
    }

    /// [`build`](Self::build), with `env` standing for the host's environment (read only for a
    /// profile's file and for ambient credentials).
    pub(crate) fn build_with_env(self, env: EnvLookup<'_>) -> Result<TenantSettings, ConfigError> {
        let field = |field: &'static str, message: String| ConfigError::Field {
            origin: self.origin.clone(),
            tenant: self.name.clone(),
            field,
            message,
        };
        let bucket = self.bucket.clone().unwrap_or_default();
        if bucket.is_empty() {
            return Err(field("bucket", "must not be empty".into()));
        }
        let region = self.region.clone().unwrap_or_else(|| DEFAULT_REGION.to_string());
        if region.is_empty() {
            return Err(field("region", "must not be empty".into()));
        }
        let (endpoint, request_endpoint) = self.resolved_endpoint(&bucket, &region).map_err(|(f, m)| field(f, m))?;
        self.check_bounds().map_err(|(f, m)| field(f, m))?;
        check_limits(&self.limits).map_err(|(f, m)| field(f, m))?;
        let trust = self.trust().map_err(|(f, m)| field(f, m))?;
        let encryption = self.key_ring().map_err(|(f, m)| field(f, m))?;
        let mut credentials = self.credentials(env).map_err(|(f, m)| field(f, m))?;
        // A token set in the settings wins over one found with the keys.
        if let Some(token) = self.session_token {
            credentials.session_token = Some(token);
        }
        Ok(TenantSettings {
            name: self.name,
            bucket,
            region,
            endpoint,
            request_endpoint,
            key_prefix: self.key_prefix,
            timeout: self.timeout,
            call_timeout: self.call_timeout,
            max_retries: self.max_retries,
            verify_after_write: self.verify_after_write,
            virtual_hosted_style: self.virtual_hosted_style,
            checksum: self.checksum,
            multipart_threshold: self.multipart_threshold,
            part_size: self.part_size,
            part_concurrency: self.part_concurrency,
            trust,
            limits: self.limits,
            credentials,
            encryption,
        })
    }

    /// The encryption keys, each parsed; the field at fault otherwise.
    fn key_ring(&self) -> Result<Option<KeyRing>, (&'static str, String)> {
        let Some((id, key)) = &self.encryption else {
            return match self.old_encryption_keys.first() {
                Some((old, _)) => Err(("encryption.keyId", format!("is not set, but oldKeys (\"{old}\") is: set the key new objects are sealed with"))),
                None => Ok(None),
            };
        };
        encryption::check_key_id(id).map_err(|m| ("encryption.keyId", m))?;
        let current = Key::parse(key.expose()).map_err(|m| ("encryption.key", m))?;
        let mut old = Vec::new();
        for (old_id, key) in &self.old_encryption_keys {
            encryption::check_key_id(old_id).map_err(|m| ("encryption.oldKeys", m))?;
            if old_id == id {
                return Err(("encryption.oldKeys", format!("\"{old_id}\" is also keyId: an id names one key")));
            }
            old.push((old_id.clone(), Key::parse(key.expose()).map_err(|m| ("encryption.oldKeys", format!("\"{old_id}\" {m}")))?));
        }
        Ok(Some(KeyRing::new(id, current, old)))
    }

    /// The tenant's own keys, else its profile, else (only when it opted in) the host's.
    fn credentials(&self, env: EnvLookup<'_>) -> Result<Credentials, (&'static str, String)> {
        match (&self.access_key, &self.secret_key) {
            (Some(access), Some(secret)) => Ok(Credentials {
                access_key_id: access.clone(),
                secret_access_key: secret.clone(),
                session_token: None,
                source: "the settings".into(),
            }),
            (Some(_), None) => Err(("secretKey", "is required with accessKey".into())),
            (None, Some(_)) => Err(("accessKey", "is required with secretKey".into())),
            (None, None) => match (&self.profile, self.ambient_credentials) {
                (Some(profile), _) => credentials::from_profile(profile, env).map_err(|m| ("profile", m)),
                (None, true) => match credentials::from_environment(env) {
                    Some(found) => Ok(found),
                    None => credentials::from_profile(&credentials::default_profile(env), env).map_err(|m| {
                        ("ambientCredentials", format!("no AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY in the host's environment, nor a profile: {m}"))
                    }),
                },
                (None, false) => Err((
                    "accessKey",
                    "no credentials: set accessKey and secretKey, or profile (the host's AWS_* environment and \
                     default profile are used only with ambientCredentials = true)"
                        .into(),
                )),
            },
        }
    }
}

/// The limits' bounds; an error names the field (`limits.memory`...).
fn check_limits(limits: &Limits) -> Result<(), (&'static str, String)> {
    if limits.memory < MIN_MEMORY {
        let shown = bytesize::ByteSize(limits.memory);
        return Err(("limits.memory", format!("{shown} is too small: the plugin needs at least 16MiB")));
    }
    if limits.cpu_time < limits::TICK {
        let shown = humantime::format_duration(limits.cpu_time);
        return Err(("limits.cpuTime", format!("{shown} is shorter than the {:?} the CPU is counted in", limits::TICK)));
    }
    if limits.concurrency == 0 {
        return Err(("limits.concurrency", "must be at least 1".into()));
    }
    Ok(())
}

/// In virtual-hosted style the bucket is a DNS label in front of the endpoint's host.
fn check_bucket_as_host_name(bucket: &str) -> Result<(), String> {
    let label_ok = |l: &str| {
        !l.is_empty()
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    if bucket.len() > 63 || !bucket.split('.').all(label_ok) {
        return Err(format!(
            "bucket \"{bucket}\" cannot be a host name (lower-case letters, digits, '-' and '.' only); use path style"
        ));
    }
    Ok(())
}

#[cfg(feature = "config-file")]
pub mod config;
#[cfg(feature = "config-file")]
mod lenient;
pub mod endpoint;
pub mod regions;

#[cfg(test)]
mod tests;
