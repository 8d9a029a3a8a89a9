//! A tenant's settings: plain data, built in code with [`TenantSettings::builder`] (or from the
//! config file, which goes through the same builder), validated once in [`TenantSettingsBuilder::build`].
//!
//! Nothing here reads the process environment unless the tenant opts in with
//! [`ambient_credentials`](TenantSettingsBuilder::ambient_credentials), or names a `profile`
//! (read from the shared credentials file). Derived values (the endpoint's scheme and authority
//! without a default port, the virtual-host name) are computed here and nowhere else.
//!
//! This file holds the types; record.rs the settings the plugin is given (the WIT's record,
//! with their setters, checks and getters), builder.rs the host's own setters, checks.rs the
//! checks, endpoint.rs the endpoint, config.rs the file.

use std::path::PathBuf;

use crate::secrets::credentials::Credentials;
use crate::encryption::KeyRing;
use crate::sandbox::limits::Limits;
use crate::secrets::secret::Secret;
use crate::net::tls::Trust;
use crate::sandbox::bindings::config::Settings as Record;
use endpoint::Endpoint;

/// The region used when a tenant names none.
pub const DEFAULT_REGION: &str = "us-east-1";
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
    /// What the plugin is given (record.rs): bucket, region, where requests go, time bounds,
    /// checks, parts.
    record: Record,
    /// The endpoint, as given or as the region's.
    endpoint: Endpoint,
    /// Where requests go: the endpoint, with the bucket in front of its host in virtual-hosted
    /// style.
    request_endpoint: Endpoint,
    trust: Trust,
    limits: Limits,
    /// A late GET is sent once more (net/hedge.rs).
    hedge_reads: bool,
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
    /// The keys the tenant's blobs are sealed with, when client-side encryption is set
    /// (docs/encryption.md).
    pub fn encryption(&self) -> Option<&KeyRing> {
        self.encryption.as_ref()
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }
    pub fn allow_invalid_certs(&self) -> bool {
        self.trust.allow_invalid_certs
    }
    /// Whether a late GET is sent once more (`hedgeReads`).
    pub fn hedge_reads(&self) -> bool {
        self.hedge_reads
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
    /// The plugin's settings as set so far (record.rs).
    record: Record,
    endpoint: Option<String>,
    access_key: Option<Secret>,
    secret_key: Option<Secret>,
    session_token: Option<Secret>,
    profile: Option<String>,
    ambient_credentials: bool,
    allow_invalid_certs: bool,
    hedge_reads: bool,
    ca: Option<CaSource>,
    limits: Limits,
    /// The key id and key new objects are sealed with, and older keys still read.
    encryption_key_id: Option<String>,
    encryption_key: Option<Secret>,
    old_encryption_keys: Vec<(String, Secret)>,
}


#[cfg(feature = "config-file")]
pub mod config;
pub mod endpoint;
pub mod regions;
mod builder;
mod checks;
mod record;

#[cfg(test)]
mod tests;
