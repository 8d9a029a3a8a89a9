//! Where a tenant's credentials come from when its settings do not give the keys, resolved by
//! the settings builder once per tenant. In order:
//!
//! 1. `accessKey` / `secretKey` (and `sessionToken` / `securityToken`) in the tenant's settings;
//! 2. the tenant's `profile` in the shared credentials file;
//! 3. only with `ambientCredentials = true`: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
//!    AWS_SESSION_TOKEN from the host's environment, then the profile AWS_PROFILE names, else
//!    `default`. Without the opt-in a tenant never borrows the host's credentials.
//!
//! The shared credentials file is AWS_SHARED_CREDENTIALS_FILE, else `~/.aws/credentials`: INI
//! sections `[NAME]` with `aws_access_key_id`, `aws_secret_access_key`, `aws_session_token`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::secrets::env::EnvLookup;
use crate::secrets::secret::Secret;

/// A set of credentials, wherever it came from.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub access_key_id: Secret,
    pub secret_access_key: Secret,
    pub session_token: Option<Secret>,
    /// Where they were found, for messages: "the settings", "profile \"x\" in /path", ...
    pub source: String,
}

/// The credentials of profile `name` (steps 2 and 3).
pub fn from_profile(name: &str, env: EnvLookup<'_>) -> Result<Credentials, String> {
    let path = shared_credentials_file(env).ok_or("no credentials file: set AWS_SHARED_CREDENTIALS_FILE or HOME")?;
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let sections = parse_ini(&text);
    let section = sections
        .get(name)
        .ok_or_else(|| format!("no profile [{name}] in {}", path.display()))?;
    let field = |key: &str| section.get(key).filter(|v| !v.is_empty()).cloned();
    let missing = |key: &str| format!("profile [{name}] in {} has no {key}", path.display());
    Ok(Credentials {
        access_key_id: Secret::new(field("aws_access_key_id").ok_or_else(|| missing("aws_access_key_id"))?),
        secret_access_key: Secret::new(field("aws_secret_access_key").ok_or_else(|| missing("aws_secret_access_key"))?),
        session_token: field("aws_session_token").map(Secret::new),
        source: format!("profile \"{name}\" in {}", path.display()),
    })
}

/// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (step 3, opted in), when both are set.
pub fn from_environment(env: EnvLookup<'_>) -> Option<Credentials> {
    Some(Credentials {
        access_key_id: Secret::new(env("AWS_ACCESS_KEY_ID")?),
        secret_access_key: Secret::new(env("AWS_SECRET_ACCESS_KEY")?),
        session_token: env("AWS_SESSION_TOKEN").map(Secret::new),
        source: "the AWS_* environment variables".into(),
    })
}

/// The profile step 3 falls back to: AWS_PROFILE, else `default`.
pub fn default_profile(env: EnvLookup<'_>) -> String {
    env("AWS_PROFILE").unwrap_or_else(|| "default".into())
}

fn shared_credentials_file(env: EnvLookup<'_>) -> Option<PathBuf> {
    env("AWS_SHARED_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|home| PathBuf::from(home).join(".aws/credentials")))
}

/// `[section]` and `key = value` lines; `#` and `;` start comments.
fn parse_ini(text: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut sections: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.trim().strip_prefix("profile ").unwrap_or(name.trim()).trim().to_string();
            sections.entry(name.clone()).or_default();
            current = Some(name);
        } else if let (Some(section), Some((key, value))) = (&current, line.split_once('=')) {
            sections.get_mut(section).unwrap().insert(key.trim().to_ascii_lowercase(), value.trim().to_string());
        }
    }
    sections
}

#[cfg(test)]
mod tests;
