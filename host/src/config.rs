//! The config file (`coffer.toml`): one `[tenants.NAME]` table per tenant, with Stalwart's
//! setting names. Parsed with serde (unknown fields refused), validated once into
//! [`TenantSettings`], with errors that name the file, the tenant and the field.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::credentials::{self, EnvLookup};
use crate::regions;
use crate::secret::{Secret, SecretError, SecretSource};
use crate::limits::{self, Limits};
use crate::tls::{self, Trust};

/// The region used when a tenant names none.
pub const DEFAULT_REGION: &str = "us-east-1";
pub const DEFAULT_TIMEOUT: &str = "30s";
pub const DEFAULT_MAX_RETRIES: u32 = 3;
pub const DEFAULT_MULTIPART_THRESHOLD: u64 = 16 << 20;
pub const DEFAULT_PART_SIZE: u64 = 8 << 20;
pub const DEFAULT_PART_CONCURRENCY: u32 = 4;
/// S3's bounds: parts of 5 MiB to 5 GiB (but the last), single PUTs of at most 5 GiB.
const MIN_PART_SIZE: u64 = 5 << 20;
const MAX_PART_SIZE: u64 = 5 << 30;

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    pub tenants: BTreeMap<String, TenantConfig>,
}

/// One tenant as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TenantConfig {
    pub bucket: String,
    pub region: Option<String>,
    pub endpoint: Option<String>,
    pub access_key: Option<SecretSource>,
    pub secret_key: Option<SecretSource>,
    pub session_token: Option<SecretSource>,
    pub security_token: Option<SecretSource>,
    pub profile: Option<String>,
    #[serde(default)]
    pub key_prefix: String,
    pub timeout: Option<String>,
    pub max_retries: Option<u32>,
    pub verify_after_write: Option<bool>,
    pub virtual_hosted_style: Option<bool>,
    /// "crc32" (the default) or "none".
    pub checksum: Option<String>,
    pub allow_invalid_certs: Option<bool>,
    pub ca_file: Option<PathBuf>,
    /// e.g. "16MiB": larger puts are multipart uploads.
    pub multipart_threshold: Option<String>,
    /// e.g. "8MiB".
    pub part_size: Option<String>,
    pub part_concurrency: Option<u32>,
    pub limits: Option<LimitsConfig>,
}

/// `[tenants.NAME.limits]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LimitsConfig {
    /// e.g. "256MiB".
    pub memory: Option<String>,
    /// e.g. "10s".
    pub cpu_time: Option<String>,
    pub concurrency: Option<usize>,
}

/// A tenant's settings, validated and with its secrets resolved.
#[derive(Debug, Clone)]
pub struct TenantSettings {
    pub name: String,
    pub bucket: String,
    pub region: String,
    /// `scheme://authority`, no path, no default port.
    pub endpoint: String,
    pub scheme: String,
    pub authority: String,
    pub key_prefix: String,
    pub timeout: Duration,
    pub max_retries: u32,
    pub verify_after_write: bool,
    /// `bucket.host/key` rather than `host/bucket/key`.
    pub virtual_hosted_style: bool,
    /// Send each PUT's CRC-32 (`checksum = "crc32"`).
    pub put_checksum: bool,
    /// Puts of more bytes than this are multipart uploads.
    pub multipart_threshold: u64,
    /// The size of each part but the last.
    pub part_size: u64,
    /// Parts of one upload sent at once.
    pub part_concurrency: u32,
    /// Which TLS servers the tenant trusts.
    pub trust: Trust,
    /// The sandbox's limits.
    pub limits: Limits,
    pub access_key_id: Secret,
    pub secret_access_key: Secret,
    pub session_token: Option<Secret>,
}

/// Why a config cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{origin}: {message}")]
    Parse { origin: String, message: String },
    #[error("{origin}: tenant \"{tenant}\": {field}: {message}")]
    Field { origin: String, tenant: String, field: &'static str, message: String },
    #[error("{origin}: tenant \"{tenant}\": {field}: {source}")]
    Secret { origin: String, tenant: String, field: &'static str, source: SecretError },
    #[error("{origin}: no tenant \"{wanted}\"; tenants: {}", .known.join(", "))]
    UnknownTenant { origin: String, wanted: String, known: Vec<String> },
    #[error("{origin}: several tenants ({}); choose one with --tenant", .known.join(", "))]
    AmbiguousTenant { origin: String, known: Vec<String> },
    #[error("{origin}: no [tenants.NAME] table")]
    NoTenant { origin: String },
}

/// A parsed config file and where it came from.
#[derive(Debug)]
pub struct Config {
    pub origin: String,
    pub file: ConfigFile,
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        Config::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let file = toml::from_str(text).map_err(|e: toml::de::Error| ConfigError::Parse {
            origin: origin.to_string(),
            message: e.message().to_string() + &location(text, e.span()),
        })?;
        Ok(Config { origin: origin.to_string(), file })
    }

    /// The tenant named `wanted`, or the only one when none is named.
    pub fn tenant(&self, wanted: Option<&str>) -> Result<TenantSettings, ConfigError> {
        let known: Vec<String> = self.file.tenants.keys().cloned().collect();
        let origin = self.origin.clone();
        let name = match wanted {
            Some(name) if self.file.tenants.contains_key(name) => name.to_string(),
            Some(name) => return Err(ConfigError::UnknownTenant { origin, wanted: name.into(), known }),
            None if known.len() == 1 => known[0].clone(),
            None if known.is_empty() => return Err(ConfigError::NoTenant { origin }),
            None => return Err(ConfigError::AmbiguousTenant { origin, known }),
        };
        validate(&self.origin, &name, &self.file.tenants[&name], &credentials::process_env)
    }

    /// Every tenant, each validated on its own: one bad tenant does not stop the others.
    pub fn tenants(&self) -> BTreeMap<String, Result<TenantSettings, ConfigError>> {
        self.file
            .tenants
            .iter()
            .map(|(name, tenant)| (name.clone(), validate(&self.origin, name, tenant, &credentials::process_env)))
            .collect()
    }
}

fn location(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    match span {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!(" (line {line})")
        }
        None => String::new(),
    }
}

/// Checks one tenant and resolves its secrets, reading the host's environment through `env`.
pub fn validate(origin: &str, name: &str, t: &TenantConfig, env: EnvLookup<'_>) -> Result<TenantSettings, ConfigError> {
    let field_error = |field: &'static str, message: String| ConfigError::Field {
        origin: origin.to_string(),
        tenant: name.to_string(),
        field,
        message,
    };
    let secret = |field: &'static str, source: &SecretSource| {
        source.resolve_with(env).map_err(|source| ConfigError::Secret {
            origin: origin.to_string(),
            tenant: name.to_string(),
            field,
            source,
        })
    };

    if t.bucket.is_empty() {
        return Err(field_error("bucket", "must not be empty".into()));
    }
    let region = t.region.clone().unwrap_or_else(|| DEFAULT_REGION.to_string());
    if region.is_empty() {
        return Err(field_error("region", "must not be empty".into()));
    }
    let endpoint = match &t.endpoint {
        Some(endpoint) => endpoint.clone(),
        None if regions::is_known(&region) => regions::aws_endpoint(&region),
        None => {
            return Err(field_error(
                "region",
                format!(
                    "\"{region}\" is not an AWS region; did you mean \"{}\"? (for another S3 service, set endpoint too)",
                    regions::nearest(&region)
                ),
            ));
        }
    };
    let (scheme, authority) = parse_endpoint(&endpoint).map_err(|m| field_error("endpoint", m))?;
    let virtual_hosted_style = t.virtual_hosted_style.unwrap_or(false);
    if virtual_hosted_style {
        check_bucket_as_host_name(&t.bucket).map_err(|m| field_error("virtualHostedStyle", m))?;
    }
    let put_checksum = match t.checksum.as_deref() {
        None | Some("crc32") => true,
        Some("none") => false,
        Some(other) => return Err(field_error("checksum", format!("\"{other}\" is not \"crc32\" or \"none\""))),
    };
    let trust = Trust {
        allow_invalid_certs: t.allow_invalid_certs.unwrap_or(false),
        ca_certs: match &t.ca_file {
            Some(path) => tls::load_ca_file(path).map_err(|m| field_error("caFile", m))?,
            None => Vec::new(),
        },
        ca_file: t.ca_file.clone(),
    };

    let timeout_text = t.timeout.as_deref().unwrap_or(DEFAULT_TIMEOUT);
    let timeout = humantime::parse_duration(timeout_text)
        .map_err(|e| field_error("timeout", format!("\"{timeout_text}\" is not a duration ({e}); e.g. \"30s\"")))?;
    if timeout.is_zero() {
        return Err(field_error("timeout", "must be more than zero".into()));
    }

    let size = |field: &'static str, text: Option<&String>, default: u64| -> Result<u64, ConfigError> {
        let Some(text) = text else { return Ok(default) };
        let size: bytesize::ByteSize =
            text.parse().map_err(|e| field_error(field, format!("\"{text}\" is not a size ({e}); e.g. \"16MiB\"")))?;
        if !(MIN_PART_SIZE..=MAX_PART_SIZE).contains(&size.as_u64()) {
            return Err(field_error(field, format!("\"{text}\" is outside S3's bounds, 5MiB to 5GiB")));
        }
        Ok(size.as_u64())
    };
    let multipart_threshold = size("multipartThreshold", t.multipart_threshold.as_ref(), DEFAULT_MULTIPART_THRESHOLD)?;
    let part_size = size("partSize", t.part_size.as_ref(), DEFAULT_PART_SIZE)?;
    let part_concurrency = t.part_concurrency.unwrap_or(DEFAULT_PART_CONCURRENCY);
    if !(1..=64).contains(&part_concurrency) {
        return Err(field_error("partConcurrency", format!("{part_concurrency} is not between 1 and 64")));
    }

    let limits = parse_limits(t.limits.as_ref().cloned().unwrap_or_default()).map_err(|(f, m)| field_error(f, m))?;

    let found = match (&t.access_key, &t.secret_key) {
        (Some(access), Some(secret_key)) => credentials::Credentials {
            access_key_id: secret("accessKey", access)?,
            secret_access_key: secret("secretKey", secret_key)?,
            session_token: None,
            source: "the config".into(),
        },
        (Some(_), None) => return Err(field_error("secretKey", "is required with accessKey".into())),
        (None, Some(_)) => return Err(field_error("accessKey", "is required with secretKey".into())),
        (None, None) => match &t.profile {
            Some(profile) => credentials::from_profile(profile, env).map_err(|m| field_error("profile", m))?,
            None => match credentials::from_environment(env) {
                Some(found) => found,
                None => credentials::from_profile(&credentials::default_profile(env), env).map_err(|m| {
                    field_error(
                        "accessKey",
                        format!("not in the config, nor in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, nor a profile: {m}"),
                    )
                })?,
            },
        },
    };
    // A token set in the config wins over one found with the keys.
    let session_token = match (&t.session_token, &t.security_token) {
        (Some(source), _) => Some(secret("sessionToken", source)?),
        (None, Some(source)) => Some(secret("securityToken", source)?),
        (None, None) => found.session_token,
    };
    let (access_key_id, secret_access_key) = (found.access_key_id, found.secret_access_key);

    Ok(TenantSettings {
        name: name.to_string(),
        bucket: t.bucket.clone(),
        region,
        endpoint: format!("{scheme}://{authority}"),
        scheme,
        authority,
        key_prefix: t.key_prefix.clone(),
        timeout,
        max_retries: t.max_retries.unwrap_or(DEFAULT_MAX_RETRIES),
        verify_after_write: t.verify_after_write.unwrap_or(true),
        virtual_hosted_style,
        put_checksum,
        multipart_threshold,
        part_size,
        part_concurrency,
        trust,
        limits,
        access_key_id,
        secret_access_key,
        session_token,
    })
}

impl TenantSettings {
    /// The authority requests go to: the endpoint's, with the bucket in front of it in
    /// virtual-hosted style.
    pub fn request_authority(&self) -> String {
        match self.virtual_hosted_style {
            true => format!("{}.{}", self.bucket, self.authority),
            false => self.authority.clone(),
        }
    }
}

/// `[limits]` with its defaults; an error names the field (`limits.memory`...).
fn parse_limits(l: LimitsConfig) -> Result<Limits, (&'static str, String)> {
    let mut limits = Limits::default();
    if let Some(text) = &l.memory {
        let size: bytesize::ByteSize =
            text.parse().map_err(|e| ("limits.memory", format!("\"{text}\" is not a size ({e}); e.g. \"256MiB\"")))?;
        if size.as_u64() < 16 << 20 {
            return Err(("limits.memory", format!("\"{text}\" is too small: the plugin needs at least 16MiB")));
        }
        limits.memory = size.as_u64();
    }
    if let Some(text) = &l.cpu_time {
        limits.cpu_time = humantime::parse_duration(text)
            .map_err(|e| ("limits.cpuTime", format!("\"{text}\" is not a duration ({e}); e.g. \"10s\"")))?;
        if limits.cpu_time < limits::TICK {
            return Err(("limits.cpuTime", format!("\"{text}\" is shorter than the {:?} the CPU is counted in", limits::TICK)));
        }
    }
    if let Some(concurrency) = l.concurrency {
        if concurrency == 0 {
            return Err(("limits.concurrency", "must be at least 1".into()));
        }
        limits.concurrency = concurrency;
    }
    Ok(limits)
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

/// `scheme://host[:port]` → (scheme, authority without the scheme's default port).
fn parse_endpoint(endpoint: &str) -> Result<(String, String), String> {
    let url = url::Url::parse(endpoint).map_err(|e| format!("\"{endpoint}\" is not a URL ({e})"))?;
    let scheme = url.scheme().to_string();
    if scheme != "http" && scheme != "https" {
        return Err(format!("\"{endpoint}\": the scheme must be http or https"));
    }
    if url.path() != "/" || url.query().is_some() || !url.username().is_empty() {
        return Err(format!("\"{endpoint}\": give only scheme://host[:port], no path, query or user"));
    }
    let host = url.host_str().ok_or_else(|| format!("\"{endpoint}\" has no host"))?;
    let authority = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    };
    Ok((scheme, authority))
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
