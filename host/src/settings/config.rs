//! The config file (`coffer.toml`): one `[tenants.NAME]` table per tenant, with Stalwart's
//! setting names. Parsed with serde (unknown fields refused), validated once into
//! [`TenantSettings`], with errors that name the file, the tenant and the field.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::secrets::env::{EnvLookup, process_env};
use crate::net::egress::{EgressPolicy, PrivateEndpoints};
use crate::sandbox::limits::Limits;
use crate::secrets::secret::{Secret, SecretSource, readable_by_others};
use crate::settings::{Checksum, ConfigError, TenantSettings, TenantSettingsBuilder};
use crate::HostOptions;

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Settings of the whole host.
    pub host: Option<HostConfig>,
    #[serde(default)]
    pub tenants: BTreeMap<String, TenantConfig>,
}

/// `[host]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HostConfig {
    /// "allow" (the default) or "deny".
    pub private_endpoints: Option<String>,
    /// Networks allowed even with `privateEndpoints = "deny"`, e.g. "10.0.5.0/24".
    #[serde(default)]
    pub allow_networks: Vec<String>,
    /// Connections open at once to one endpoint (64 by default).
    pub max_connections_per_endpoint: Option<usize>,
    /// Connections open at once across the host (512 by default).
    pub max_connections: Option<usize>,
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
    /// Without keys or a profile, take the host's AWS_* environment or default profile.
    #[serde(default, deserialize_with = "crate::settings::lenient::bool")]
    pub ambient_credentials: Option<bool>,
    #[serde(default)]
    pub key_prefix: String,
    pub timeout: Option<String>,
    /// e.g. "2m": the bound of a whole call.
    pub call_timeout: Option<String>,
    #[serde(default, deserialize_with = "crate::settings::lenient::number")]
    pub max_retries: Option<u32>,
    #[serde(default, deserialize_with = "crate::settings::lenient::bool")]
    pub verify_after_write: Option<bool>,
    #[serde(default, deserialize_with = "crate::settings::lenient::bool")]
    pub virtual_hosted_style: Option<bool>,
    /// "auto" (the default), "crc32" or "none".
    pub checksum: Option<String>,
    #[serde(default, deserialize_with = "crate::settings::lenient::bool")]
    pub allow_invalid_certs: Option<bool>,
    pub ca_file: Option<PathBuf>,
    /// e.g. "16MiB": larger puts are multipart uploads.
    pub multipart_threshold: Option<String>,
    /// e.g. "8MiB".
    pub part_size: Option<String>,
    #[serde(default, deserialize_with = "crate::settings::lenient::number")]
    pub part_concurrency: Option<u32>,
    pub limits: Option<LimitsConfig>,
    pub encryption: Option<EncryptionConfig>,
}

/// `[tenants.NAME.encryption]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EncryptionConfig {
    /// 32 bytes, as 64 hex digits or in base64; inline, `{ env = ... }` or `{ file = ... }`.
    pub key: SecretSource,
    /// The id written in each new object's header, e.g. "2026-11".
    pub key_id: String,
    /// Keys objects sealed earlier still open with, by id.
    #[serde(default)]
    pub old_keys: BTreeMap<String, SecretSource>,
}

/// `[tenants.NAME.limits]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LimitsConfig {
    /// e.g. "256MiB".
    pub memory: Option<String>,
    /// e.g. "10s".
    pub cpu_time: Option<String>,
    #[serde(default, deserialize_with = "crate::settings::lenient::number")]
    pub concurrency: Option<usize>,
}

/// A parsed config file and where it came from.
#[derive(Debug)]
pub struct Config {
    pub origin: String,
    /// Relative paths in the file (`caFile`, `{ file = ... }` secrets) are taken from here: the
    /// file's folder, or the current one for text that came from no file.
    pub base_dir: PathBuf,
    pub file: ConfigFile,
    /// What is wrong but not fatal (a file with inline secrets that others can read), also
    /// logged as warnings when the file is loaded.
    pub warnings: Vec<String>,
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        let mut config = Config::parse(&text, &path.display().to_string())?;
        config.base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let inline = |s: &Option<SecretSource>| matches!(s, Some(SecretSource::Inline(_)));
        let holds_secrets = config.file.tenants.values().any(|t| {
            [&t.access_key, &t.secret_key, &t.session_token, &t.security_token].into_iter().any(inline)
                || t.encryption.as_ref().is_some_and(|e| {
                    matches!(e.key, SecretSource::Inline(_)) || e.old_keys.values().any(|k| matches!(k, SecretSource::Inline(_)))
                })
        });
        if let Some(warning) = holds_secrets.then(|| readable_by_others(path)).flatten() {
            tracing::warn!(target: "coffer_host::config", "{warning}");
            config.warnings.push(warning);
        }
        Ok(config)
    }

    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let file = toml::from_str(text).map_err(|e: toml::de::Error| ConfigError::Parse {
            origin: origin.to_string(),
            message: format!("{}{}{}", field_at(text, e.span()), e.message(), location(text, e.span())),
        })?;
        Ok(Config { origin: origin.to_string(), base_dir: PathBuf::new(), file, warnings: Vec::new() })
    }

    /// One tenant's settings from key/value pairs with the config file's names (a mail
    /// server's own settings store, the C library's `coffer_settings_set`): a dot nests
    /// (`secretKey.env`, `limits.memory`, `encryption.oldKeys.k1`), every value is a string,
    /// and the pairs go through the same table and checks as the file's `[tenants.NAME]`.
    pub fn tenant_from_pairs<'a>(
        name: &str,
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<TenantSettings, ConfigError> {
        let origin = format!("the settings of tenant \"{name}\"");
        let bad = |message: String| ConfigError::Parse { origin: origin.clone(), message };
        let mut table = toml::Table::new();
        for (key, value) in pairs {
            let mut at = &mut table;
            let mut names = key.split('.').peekable();
            while let Some(part) = names.next() {
                if names.peek().is_none() {
                    at.insert(part.to_string(), toml::Value::String(value.to_string()));
                    break;
                }
                let inner = at.entry(part.to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
                at = inner.as_table_mut().ok_or_else(|| bad(format!("{key}: {part} is a value, not a table")))?;
            }
        }
        // As a config file's text, so that an error names the field as the file's do.
        let mut tenants = toml::Table::new();
        tenants.insert(name.to_string(), toml::Value::Table(table));
        let mut file = toml::Table::new();
        file.insert("tenants".to_string(), toml::Value::Table(tenants));
        let text = toml::to_string(&file).map_err(|e| bad(e.to_string()))?;
        Config::parse(&text, &origin)?.tenant(Some(name))
    }

    /// The host's egress policy, from the `[host]` table (the default without one).
    pub fn egress(&self) -> Result<EgressPolicy, ConfigError> {
        let host = self.file.host.clone().unwrap_or_default();
        let bad = |field, message: String| ConfigError::HostField { origin: self.origin.clone(), field, message };
        let private_endpoints = match host.private_endpoints.as_deref() {
            None | Some("allow") => PrivateEndpoints::Allow,
            Some("deny") => PrivateEndpoints::Deny,
            Some(other) => return Err(bad("privateEndpoints", format!("\"{other}\" is neither \"allow\" nor \"deny\""))),
        };
        let allow_networks =
            host.allow_networks.iter().map(|n| n.parse()).collect::<Result<_, String>>().map_err(|m| bad("allowNetworks", m))?;
        Ok(EgressPolicy { private_endpoints, allow_networks })
    }

    /// The host's options from the `[host]` table: the egress policy and the connection caps
    /// (the rest of [`HostOptions`] is the embedder's).
    pub fn host_options(&self) -> Result<HostOptions, ConfigError> {
        let host = self.file.host.clone().unwrap_or_default();
        let bad = |field, message: String| ConfigError::HostField { origin: self.origin.clone(), field, message };
        let at_least_one = |field, value: Option<usize>| match value {
            Some(0) => Err(bad(field, "must be at least 1".to_string())),
            other => Ok(other),
        };
        Ok(HostOptions {
            egress: self.egress()?,
            max_connections_per_endpoint: at_least_one("maxConnectionsPerEndpoint", host.max_connections_per_endpoint)?,
            max_connections: at_least_one("maxConnections", host.max_connections)?,
            ..Default::default()
        })
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
        validate(&self.origin, &self.base_dir, &name, &self.file.tenants[&name], &process_env)
    }

    /// The tenant `template` with `suffix` appended to its key prefix, as a tenant of its own
    /// named `TEMPLATE:SUFFIX`: one config entry serving many (a mail server's domains sharing a
    /// bucket and keys), each still its own sandbox. The suffix may not climb out of the prefix.
    pub fn tenant_from_template(&self, template: &str, suffix: &str) -> Result<TenantSettings, ConfigError> {
        let mut tenant = match self.file.tenants.get(template) {
            Some(tenant) => tenant.clone(),
            None => {
                let known = self.file.tenants.keys().cloned().collect();
                return Err(ConfigError::UnknownTenant { origin: self.origin.clone(), wanted: template.into(), known });
            }
        };
        let name = format!("{template}:{suffix}");
        if suffix.is_empty() || suffix.split('/').any(|part| part == ".." || part == ".") || suffix.starts_with('/') {
            let message = format!("the key prefix suffix \"{suffix}\" is empty, absolute, or climbs out with . or ..");
            return Err(ConfigError::Field { origin: self.origin.clone(), tenant: name, field: "keyPrefix", message });
        }
        tenant.key_prefix.push_str(suffix);
        validate(&self.origin, &self.base_dir, &name, &tenant, &process_env)
    }

    /// Every tenant, each validated on its own: one bad tenant does not stop the others.
    pub fn tenants(&self) -> BTreeMap<String, Result<TenantSettings, ConfigError>> {
        self.file
            .tenants
            .iter()
            .map(|(name, tenant)| (name.clone(), validate(&self.origin, &self.base_dir, name, tenant, &process_env)))
            .collect()
    }
}

fn location(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    match span {
        Some(span) => {
            let before = &text.as_bytes()[..span.start.min(text.len())];
            let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
            format!(" (line {line})")
        }
        None => String::new(),
    }
}

/// Where a value the file's types refuse sits, for the message: `tenant "acme": maxRetries: `
/// (or `[host]: allowNetworks: `), from the `key = value` line of `span` and the table above
/// it. Empty when the error is not on such a line (a syntax error).
fn field_at(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    let Some(span) = span else { return String::new() };
    let bytes = text.as_bytes();
    let at = span.start.min(bytes.len());
    let line_start = bytes[..at].iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let line_end = bytes[at..].iter().position(|&b| b == b'\n').map_or(bytes.len(), |i| at + i);
    let line = String::from_utf8_lossy(&bytes[line_start..line_end]);
    let Some((key, _)) = line.split_once('=') else { return String::new() };
    let key = key.trim();
    let simple = |k: &str| !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !simple(key) {
        return String::new();
    }
    let above = String::from_utf8_lossy(&bytes[..line_start]);
    let table = above.lines().rev().map(str::trim).find(|l| l.starts_with('[')).unwrap_or_default();
    let table = table.trim_start_matches('[').trim_end_matches(']').trim();
    match table.strip_prefix("tenants.") {
        Some(rest) => {
            let (tenant, sub) = rest.split_once('.').map_or((rest, None), |(t, s)| (t, Some(s)));
            let tenant = tenant.trim_matches('"');
            match sub {
                Some(sub) => format!("tenant \"{tenant}\": {sub}.{key}: "),
                None => format!("tenant \"{tenant}\": {key}: "),
            }
        }
        None if table.is_empty() => format!("{key}: "),
        None => format!("[{table}]: {key}: "),
    }
}

/// One tenant's table through the settings builder: secrets resolved (`env` standing for the
/// host's environment), durations and sizes parsed, relative paths taken from `base_dir`.
pub fn validate(
    origin: &str,
    base_dir: &Path,
    name: &str,
    t: &TenantConfig,
    env: EnvLookup<'_>,
) -> Result<TenantSettings, ConfigError> {
    let read = Reader { origin, base_dir, tenant: name, env };
    let b = TenantSettings::builder(name).origin(origin).bucket(&t.bucket).key_prefix(&t.key_prefix);
    let b = read.where_and_who(b, t)?;
    let b = read.how(b, t)?;
    let b = read.limits_and_encryption(b, t)?;
    b.build_with_env(env)
}

/// Reads a tenant's file values into the builder; each error names the field.
struct Reader<'a> {
    origin: &'a str,
    base_dir: &'a Path,
    tenant: &'a str,
    env: EnvLookup<'a>,
}

impl Reader<'_> {
    fn field(&self, field: &'static str, message: String) -> ConfigError {
        ConfigError::Field { origin: self.origin.to_string(), tenant: self.tenant.to_string(), field, message }
    }

    fn secret(&self, name: &'static str, source: &SecretSource) -> Result<Secret, ConfigError> {
        source.in_dir(self.base_dir).resolve_with(self.env).map_err(|e| self.field(name, e.to_string()))
    }

    fn duration(&self, name: &'static str, text: &str, example: &str) -> Result<Duration, ConfigError> {
        humantime::parse_duration(text)
            .map_err(|e| self.field(name, format!("\"{text}\" is not a duration ({e}); e.g. \"{example}\"")))
    }

    fn size(&self, name: &'static str, text: &str, example: &str) -> Result<u64, ConfigError> {
        text.parse::<bytesize::ByteSize>()
            .map(|size| size.as_u64())
            .map_err(|e| self.field(name, format!("\"{text}\" is not a size ({e}); e.g. \"{example}\"")))
    }

    /// The endpoint and the credentials.
    fn where_and_who(&self, mut b: TenantSettingsBuilder, t: &TenantConfig) -> Result<TenantSettingsBuilder, ConfigError> {
        if let Some(region) = &t.region {
            b = b.region(region);
        }
        if let Some(endpoint) = &t.endpoint {
            b = b.endpoint(endpoint);
        }
        if let Some(source) = &t.access_key {
            b = b.access_key(self.secret("accessKey", source)?);
        }
        if let Some(source) = &t.secret_key {
            b = b.secret_key(self.secret("secretKey", source)?);
        }
        // `sessionToken` wins when both are set; `securityToken` is Stalwart's other name.
        match (&t.session_token, &t.security_token) {
            (Some(source), _) => b = b.session_token(self.secret("sessionToken", source)?),
            (None, Some(source)) => b = b.session_token(self.secret("securityToken", source)?),
            (None, None) => {}
        }
        if let Some(profile) = &t.profile {
            b = b.profile(profile);
        }
        Ok(b.ambient_credentials(t.ambient_credentials.unwrap_or(false)))
    }

    /// How requests are made: time bounds, retries, checks, TLS trust, parts.
    fn how(&self, mut b: TenantSettingsBuilder, t: &TenantConfig) -> Result<TenantSettingsBuilder, ConfigError> {
        if let Some(text) = &t.timeout {
            b = b.timeout(self.duration("timeout", text, "30s")?);
        }
        if let Some(text) = &t.call_timeout {
            b = b.call_timeout(self.duration("callTimeout", text, "2m")?);
        }
        if let Some(retries) = t.max_retries {
            b = b.max_retries(retries);
        }
        if let Some(verify) = t.verify_after_write {
            b = b.verify_after_write(verify);
        }
        if let Some(virtual_hosted) = t.virtual_hosted_style {
            b = b.virtual_hosted_style(virtual_hosted);
        }
        if let Some(text) = &t.checksum {
            let checksum = Checksum::parse(text)
                .ok_or_else(|| self.field("checksum", format!("\"{text}\" is not \"auto\", \"crc32\" or \"none\"")))?;
            b = b.checksum(checksum);
        }
        if let Some(allow) = t.allow_invalid_certs {
            b = b.allow_invalid_certs(allow);
        }
        if let Some(path) = &t.ca_file {
            b = b.ca_file(self.base_dir.join(path));
        }
        if let Some(text) = &t.multipart_threshold {
            b = b.multipart_threshold(self.size("multipartThreshold", text, "16MiB")?);
        }
        if let Some(text) = &t.part_size {
            b = b.part_size(self.size("partSize", text, "8MiB")?);
        }
        if let Some(parts) = t.part_concurrency {
            b = b.part_concurrency(parts);
        }
        Ok(b)
    }

    /// The sandbox's limits, and client-side encryption.
    fn limits_and_encryption(&self, mut b: TenantSettingsBuilder, t: &TenantConfig) -> Result<TenantSettingsBuilder, ConfigError> {
        if let Some(l) = &t.limits {
            let mut limits = Limits::default();
            if let Some(text) = &l.memory {
                limits.memory = self.size("limits.memory", text, "256MiB")?;
            }
            if let Some(text) = &l.cpu_time {
                limits.cpu_time = self.duration("limits.cpuTime", text, "10s")?;
            }
            if let Some(concurrency) = l.concurrency {
                limits.concurrency = concurrency;
            }
            b = b.limits(limits);
        }
        if let Some(e) = &t.encryption {
            b = b.encryption(&e.key_id, self.secret("encryption.key", &e.key)?);
            for (id, source) in &e.old_keys {
                b = b.old_encryption_key(id, self.secret("encryption.oldKeys", source)?);
            }
        }
        Ok(b)
    }
}

#[cfg(test)]
mod tests;
