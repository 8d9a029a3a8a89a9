//! Secrets: where they come from in the config, a value type that never prints itself and is
//! wiped from memory when dropped, and the warning ssh gives for a secret file others can read.

use std::fmt;
use std::path::{Path, PathBuf};

use zeroize::{Zeroize, Zeroizing};

/// A secret value. Debug and Display print `******`; the value is reached only by
/// [`Secret::expose`], which the host calls when it hands the plugin its credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Secret {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Secret {
        Secret(value.to_string())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(******)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("******")
    }
}

/// Where a secret setting takes its value: inline, `{ env = "VAR" }` or `{ file = "/path" }`.
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(feature = "config-file", derive(serde::Deserialize), serde(untagged, deny_unknown_fields))]
pub enum SecretSource {
    Inline(String),
    Env { env: String },
    File { file: PathBuf },
}

impl Drop for SecretSource {
    fn drop(&mut self) {
        if let SecretSource::Inline(value) = self {
            value.zeroize();
        }
    }
}

impl fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Inline(_) => f.write_str("Inline(******)"),
            SecretSource::Env { env } => write!(f, "Env({env})"),
            SecretSource::File { file } => write!(f, "File({})", file.display()),
        }
    }
}

/// Why a secret could not be read. Names the variable or the path, never a value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("environment variable {0} is not set")]
    MissingEnv(String),
    #[error("cannot read {path}: {source}")]
    File { path: PathBuf, source: std::io::Error },
}

impl SecretSource {
    /// The same source, a relative file path taken from `dir` (the config file's folder).
    pub fn in_dir(&self, dir: &std::path::Path) -> SecretSource {
        match self {
            SecretSource::File { file } if file.is_relative() => SecretSource::File { file: dir.join(file) },
            other => other.clone(),
        }
    }

    /// Reads the value: the variable from the host's environment, the file with one trailing
    /// newline trimmed. (Tenants resolve theirs with `resolve_with`, at load time.)
    #[cfg(test)]
    pub fn resolve(&self) -> Result<Secret, SecretError> {
        self.resolve_with(&crate::secrets::env::process_env)
    }

    /// [`SecretSource::resolve`] with `env` standing for the host's environment.
    pub fn resolve_with(&self, env: crate::secrets::env::EnvLookup<'_>) -> Result<Secret, SecretError> {
        match self {
            SecretSource::Inline(value) => Ok(Secret::new(value.clone())),
            SecretSource::Env { env: var } => env(var).map(Secret::new).ok_or_else(|| SecretError::MissingEnv(var.clone())),
            SecretSource::File { file } => {
                let text = Zeroizing::new(
                    std::fs::read_to_string(file).map_err(|source| SecretError::File { path: file.clone(), source })?,
                );
                if let Some(warning) = readable_by_others(file) {
                    tracing::warn!(target: "coffer_host::secret", "{warning}");
                }
                let value = text.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t)).unwrap_or(&text);
                Ok(Secret::new(value))
            }
        }
    }
}

/// The warning ssh gives for a private key: `path` holds secrets and users other than its
/// owner can read it (group or others have read permission). `None` when only its owner can,
/// or off Unix.
pub fn readable_by_others(path: &Path) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
        if mode & 0o044 != 0 {
            return Some(format!(
                "{} holds secrets and is readable by other users (mode {mode:03o}); run: chmod 600 {}",
                path.display(),
                path.display()
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    None
}

#[cfg(test)]
mod tests;
