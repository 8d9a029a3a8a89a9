//! The config file (`coffer.toml`): one `[tenants.NAME]` table per tenant, with Stalwart's
//! setting names. A tenant's keys are read through the table in keys.rs, which names each
//! key's kind and the builder's setter it feeds; the builder checks them once, into
//! [`TenantSettings`]. Errors name the file, the tenant and the field.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Value;

use crate::secrets::env::{EnvLookup, process_env};
use crate::net::egress::{EgressPolicy, PrivateEndpoints};
use crate::secrets::secret::{SecretSource, readable_by_others};
use crate::settings::{ConfigError, TenantSettings};
use crate::HostOptions;

mod keys;
pub use keys::TenantTable;
use keys::{KEYS, Read, Resolve};

/// The file as written: `[host]`, and each tenant's keys.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    host: Option<HostConfig>,
    #[serde(default)]
    tenants: BTreeMap<String, toml::Table>,
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

/// A parsed config file and where it came from.
#[derive(Debug)]
pub struct Config {
    pub origin: String,
    /// Relative paths in the file (`caFile`, `{ file = ... }` secrets) are taken from here: the
    /// file's folder, or the current one for text that came from no file.
    pub base_dir: PathBuf,
    /// `[host]`, as written.
    pub host: HostConfig,
    /// Each tenant's keys, read.
    pub tenants: BTreeMap<String, TenantTable>,
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
        let holds_secrets = config.tenants.values().any(TenantTable::holds_inline_secrets);
        if let Some(warning) = holds_secrets.then(|| readable_by_others(path)).flatten() {
            tracing::warn!(target: "coffer_host::config", "{warning}");
            config.warnings.push(warning);
        }
        Ok(config)
    }

    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let file: ConfigFile = toml::from_str(text).map_err(|e: toml::de::Error| ConfigError::Parse {
            origin: origin.to_string(),
            message: format!("{}{}{}", field_at(text, e.span()), e.message(), location(text, e.span())),
        })?;
        let mut tenants = BTreeMap::new();
        for (name, written) in file.tenants {
            let mut table = TenantTable::default();
            for (key, value) in &written {
                table.read(key, value).map_err(|(field, message)| {
                    let line = line_of(text, &name, &field).map(|line| format!(" (line {line})")).unwrap_or_default();
                    refusal(origin, &name, &field, format!("{message}{line}"))
                })?;
            }
            if table.get("bucket").is_none() {
                return Err(refusal(origin, &name, "bucket", "is required".into()));
            }
            tenants.insert(name, table);
        }
        let host = file.host.unwrap_or_default();
        Ok(Config { origin: origin.to_string(), base_dir: PathBuf::new(), host, tenants, warnings: Vec::new() })
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
        let host = &self.host;
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
        let host = &self.host;
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
        let known: Vec<String> = self.tenants.keys().cloned().collect();
        let origin = self.origin.clone();
        let name = match wanted {
            Some(name) if self.tenants.contains_key(name) => name.to_string(),
            Some(name) => return Err(ConfigError::UnknownTenant { origin, wanted: name.into(), known }),
            None if known.len() == 1 => known[0].clone(),
            None if known.is_empty() => return Err(ConfigError::NoTenant { origin }),
            None => return Err(ConfigError::AmbiguousTenant { origin, known }),
        };
        validate(&self.origin, &self.base_dir, &name, &self.tenants[&name], &process_env)
    }

    /// The tenant `template` with `suffix` appended to its key prefix, as a tenant of its own
    /// named `TEMPLATE:SUFFIX`: one config entry serving many (a mail server's domains sharing a
    /// bucket and keys), each still its own sandbox. The suffix may not climb out of the prefix.
    pub fn tenant_from_template(&self, template: &str, suffix: &str) -> Result<TenantSettings, ConfigError> {
        let mut tenant = match self.tenants.get(template) {
            Some(tenant) => tenant.clone(),
            None => {
                let known = self.tenants.keys().cloned().collect();
                return Err(ConfigError::UnknownTenant { origin: self.origin.clone(), wanted: template.into(), known });
            }
        };
        let name = format!("{template}:{suffix}");
        if suffix.is_empty() || suffix.split('/').any(|part| part == ".." || part == ".") || suffix.starts_with('/') {
            let message = format!("the key prefix suffix \"{suffix}\" is empty, absolute, or climbs out with . or ..");
            return Err(ConfigError::Field { origin: self.origin.clone(), tenant: name, field: "keyPrefix", message });
        }
        let prefix = match tenant.get("keyPrefix") {
            Some(Read::Text(prefix)) => format!("{prefix}{suffix}"),
            _ => suffix.to_string(),
        };
        tenant.read("keyPrefix", &Value::String(prefix)).map_err(|(field, message)| refusal(&self.origin, &name, &field, message))?;
        validate(&self.origin, &self.base_dir, &name, &tenant, &process_env)
    }

    /// Every tenant, each validated on its own: one bad tenant does not stop the others.
    pub fn tenants(&self) -> BTreeMap<String, Result<TenantSettings, ConfigError>> {
        self.tenants
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

/// The line `tenant`'s key `field` is written on (`limits.memory` under `[tenants.T.limits]`,
/// or as a dotted key), when it can be found.
fn line_of(text: &str, tenant: &str, field: &str) -> Option<usize> {
    let mut table = String::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.starts_with('[') {
            table = line.trim_matches(|c| c == '[' || c == ']').replace(['"', ' '], "");
            continue;
        }
        let Some((key, _)) = line.split_once('=') else { continue };
        let Some(inside) = table.strip_prefix("tenants.").and_then(|t| t.strip_prefix(tenant)) else { continue };
        let (Some(inside), key) = (inside.strip_prefix('.').or(inside.is_empty().then_some("")), key.replace(' ', "")) else {
            continue;
        };
        let full = if inside.is_empty() { key } else { format!("{inside}.{key}") };
        if full == field {
            return Some(number + 1);
        }
    }
    None
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
    let simple = |k: &str| !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
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

/// A key's value refused: the field named as the builder's errors name it when the key is
/// one of the table's.
fn refusal(origin: &str, tenant: &str, field: &str, message: String) -> ConfigError {
    match KEYS.iter().find(|key| key.name == field) {
        Some(key) => ConfigError::Field { origin: origin.into(), tenant: tenant.into(), field: key.name, message },
        None => ConfigError::Parse { origin: origin.into(), message: format!("tenant \"{tenant}\": {field}: {message}") },
    }
}

/// One tenant's table through the settings builder: secrets resolved (`env` standing for the
/// host's environment), relative paths taken from `base_dir`, every value checked.
pub fn validate(
    origin: &str,
    base_dir: &Path,
    name: &str,
    table: &TenantTable,
    env: EnvLookup<'_>,
) -> Result<TenantSettings, ConfigError> {
    let field = |field, message| ConfigError::Field { origin: origin.into(), tenant: name.into(), field, message };
    let secret = |key: &'static str, source: &SecretSource| {
        source.in_dir(base_dir).resolve_with(env).map_err(|e| field(key, e.to_string()))
    };
    let path = |path: &PathBuf| base_dir.join(path);
    let b = TenantSettings::builder(name).origin(origin);
    table.apply(b, &Resolve { secret: &secret, path: &path, refuse: &field })?.build_with_env(env)
}

#[cfg(test)]
mod tests;
