//! The keys of a tenant's table, `[tenants.NAME]`: each key's name, the kind of value it takes
//! and the builder's setter it feeds. A tenant's table is read through this table and nothing
//! else; what the values mean is checked once, by the builder (checks.rs, record.rs).
//!
//! Numbers and booleans are taken from TOML's own types or from strings, since a mail server's
//! settings store (Stalwart's, a C caller's key/value pairs) keeps every value as a string:
//! `maxRetries = 3` and `maxRetries = "3"` mean the same.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use toml::Value;

use crate::secrets::secret::{Secret, SecretSource};
use crate::settings::regions::edit_distance;
use crate::settings::{Checksum, TenantSettingsBuilder as B};

/// A key of a tenant's table.
pub(crate) struct Key {
    /// As the file writes it; a dot names a key of a table inside (`limits.memory`).
    pub name: &'static str,
    pub kind: Kind,
}

/// What a key's value is, and the builder's setter it goes to.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    Text(fn(B, String) -> B),
    /// One of the words listed.
    Word(&'static [&'static str], fn(B, &str) -> B),
    Bool(fn(B, bool) -> B),
    Number(fn(B, u32) -> B),
    /// A size such as the example.
    Size(&'static str, fn(B, u64) -> B),
    /// A duration such as the example.
    Duration(&'static str, fn(B, Duration) -> B),
    /// A path, relative to the config file's folder.
    Path(fn(B, PathBuf) -> B),
    /// A secret: inline, `{ env = ... }` or `{ file = ... }`.
    Secret(fn(B, Secret) -> B),
    /// A table of secrets by id.
    Secrets(fn(B, String, Secret) -> B),
}

/// Every key, in the order they are given to the builder: `securityToken` before
/// `sessionToken`, so that the second wins when both are set.
pub(crate) const KEYS: &[Key] = &[
    Key { name: "bucket", kind: Kind::Text(|b, v| b.bucket(v)) },
    Key { name: "region", kind: Kind::Text(|b, v| b.region(v)) },
    Key { name: "endpoint", kind: Kind::Text(|b, v| b.endpoint(v)) },
    Key { name: "accessKey", kind: Kind::Secret(|b, v| b.access_key(v)) },
    Key { name: "secretKey", kind: Kind::Secret(|b, v| b.secret_key(v)) },
    Key { name: "securityToken", kind: Kind::Secret(|b, v| b.session_token(v)) },
    Key { name: "sessionToken", kind: Kind::Secret(|b, v| b.session_token(v)) },
    Key { name: "profile", kind: Kind::Text(|b, v| b.profile(v)) },
    Key { name: "ambientCredentials", kind: Kind::Bool(|b, v| b.ambient_credentials(v)) },
    Key { name: "keyPrefix", kind: Kind::Text(|b, v| b.key_prefix(v)) },
    Key { name: "timeout", kind: Kind::Duration("30s", |b, v| b.timeout(v)) },
    Key { name: "callTimeout", kind: Kind::Duration("2m", |b, v| b.call_timeout(v)) },
    Key { name: "maxRetries", kind: Kind::Number(|b, v| b.max_retries(v)) },
    Key { name: "verifyAfterWrite", kind: Kind::Bool(|b, v| b.verify_after_write(v)) },
    Key { name: "virtualHostedStyle", kind: Kind::Bool(|b, v| b.virtual_hosted_style(v)) },
    Key {
        name: "checksum",
        kind: Kind::Word(&["auto", "crc32", "none"], |b, v| b.checksum(Checksum::parse(v).unwrap_or_default())),
    },
    Key { name: "allowInvalidCerts", kind: Kind::Bool(|b, v| b.allow_invalid_certs(v)) },
    Key { name: "hedgeReads", kind: Kind::Bool(|b, v| b.hedge_reads(v)) },
    Key { name: "caFile", kind: Kind::Path(|b, v| b.ca_file(v)) },
    Key { name: "multipartThreshold", kind: Kind::Size("16MiB", |b, v| b.multipart_threshold(v)) },
    Key { name: "partSize", kind: Kind::Size("8MiB", |b, v| b.part_size(v)) },
    Key { name: "partConcurrency", kind: Kind::Number(|b, v| b.part_concurrency(v)) },
    Key { name: "rangedReadThreshold", kind: Kind::Size("16MiB", |b, v| b.ranged_read_threshold(v)) },
    Key { name: "rangeSize", kind: Kind::Size("4MiB", |b, v| b.range_size(v)) },
    Key { name: "rangeConcurrency", kind: Kind::Number(|b, v| b.range_concurrency(v)) },
    Key { name: "limits.memory", kind: Kind::Size("256MiB", |b, v| b.with_limits(|l| l.memory = v)) },
    Key { name: "limits.cpuTime", kind: Kind::Duration("10s", |b, v| b.with_limits(|l| l.cpu_time = v)) },
    Key { name: "limits.concurrency", kind: Kind::Number(|b, v| b.with_limits(|l| l.concurrency = v as usize)) },
    Key { name: "encryption.keyId", kind: Kind::Text(|b, v| b.encryption_key_id(v)) },
    Key { name: "encryption.key", kind: Kind::Secret(|b, v| b.encryption_key(v)) },
    Key { name: "encryption.oldKeys", kind: Kind::Secrets(|b, id, v| b.old_encryption_key(id, v)) },
];

/// A value read from the file as its key's type, not yet resolved. When the tenant's settings
/// are built, words, sizes and durations are parsed from their text, secrets read and paths
/// joined to the file's folder: one tenant's bad value does not stop the file's others.
#[derive(Clone)]
pub(crate) enum Read {
    /// Text, a word, a size or a duration, as written.
    Text(String),
    Bool(bool),
    Number(u32),
    Path(PathBuf),
    Secret(SecretSource),
    Secrets(BTreeMap<String, SecretSource>),
}

/// A tenant's table as read: each key's value, of its kind. Debug shows the keys only.
#[derive(Clone, Default)]
pub struct TenantTable {
    values: BTreeMap<&'static str, Read>,
}

impl fmt::Debug for TenantTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.values.keys()).finish()
    }
}

/// Why a key or its value was refused: the key's full name and what is wrong.
pub(crate) type Refusal = (String, String);

impl TenantTable {
    /// Reads one key's `value`: `name` is its full name (`limits.memory`). A table that holds
    /// keys (`limits`, `encryption`) is read key by key.
    pub(crate) fn read(&mut self, name: &str, value: &Value) -> Result<(), Refusal> {
        if let Some(key) = KEYS.iter().find(|key| key.name == name) {
            let read = read_value(key.kind, value).map_err(|message| (name.to_string(), message))?;
            self.values.insert(key.name, read);
            return Ok(());
        }
        let inner = format!("{name}.");
        match value {
            Value::Table(table) if KEYS.iter().any(|key| key.name.starts_with(&inner)) => {
                table.iter().try_for_each(|(key, value)| self.read(&format!("{inner}{key}"), value))
            }
            _ => Err((name.to_string(), unknown(name))),
        }
    }

    /// The value of `name`, when the table has one.
    pub(crate) fn get(&self, name: &str) -> Option<&Read> {
        self.values.get(name)
    }

    /// Takes `name`'s value out.
    #[cfg(test)]
    pub(crate) fn remove(&mut self, name: &str) -> Option<Read> {
        self.values.remove(name)
    }

    /// Gives every value to the builder, in [`KEYS`]' order; `resolve` reads a secret or a
    /// path, and names the field of a value refused, where the tenant's settings are built.
    pub(crate) fn apply<E>(&self, mut b: B, resolve: &Resolve<'_, E>) -> Result<B, E> {
        for key in KEYS {
            let Some(read) = self.values.get(key.name) else { continue };
            let refuse = |message| (resolve.refuse)(key.name, message);
            b = match (key.kind, read) {
                (Kind::Text(set), Read::Text(v)) => set(b, v.clone()),
                (Kind::Word(words, set), Read::Text(v)) => set(b, word(words, v.trim()).map_err(refuse)?),
                (Kind::Size(example, set), Read::Text(v)) => set(b, size(example, v.trim()).map_err(refuse)?),
                (Kind::Duration(example, set), Read::Text(v)) => set(b, duration(example, v.trim()).map_err(refuse)?),
                (Kind::Bool(set), Read::Bool(v)) => set(b, *v),
                (Kind::Number(set), Read::Number(v)) => set(b, *v),
                (Kind::Path(set), Read::Path(v)) => set(b, (resolve.path)(v)),
                (Kind::Secret(set), Read::Secret(v)) => set(b, (resolve.secret)(key.name, v)?),
                (Kind::Secrets(set), Read::Secrets(v)) => {
                    for (id, source) in v {
                        b = set(b, id.clone(), (resolve.secret)(key.name, source)?);
                    }
                    b
                }
                // read_value gives each key a value of its kind: a mismatch is this table's
                // bug, refused by name rather than dropped.
                _ => return Err(refuse("a value of another kind than this key takes".to_string())),
            };
        }
        Ok(b)
    }

    /// Whether a secret is written in the file itself.
    pub(crate) fn holds_inline_secrets(&self) -> bool {
        self.values.values().any(|read| match read {
            Read::Secret(source) => matches!(source, SecretSource::Inline(_)),
            Read::Secrets(sources) => sources.values().any(|s| matches!(s, SecretSource::Inline(_))),
            _ => false,
        })
    }
}

/// How a tenant's secrets and paths are resolved when its settings are built, and how a
/// value refused then is told.
pub(crate) struct Resolve<'a, E> {
    pub secret: &'a dyn Fn(&'static str, &SecretSource) -> Result<Secret, E>,
    pub path: &'a dyn Fn(&PathBuf) -> PathBuf,
    pub refuse: &'a dyn Fn(&'static str, String) -> E,
}

fn word<'w>(words: &[&str], word: &'w str) -> Result<&'w str, String> {
    if words.contains(&word) {
        return Ok(word);
    }
    let listed: Vec<String> = words.iter().map(|w| format!("\"{w}\"")).collect();
    Err(format!("\"{word}\" is not one of {}", listed.join(", ")))
}

fn size(example: &str, text: &str) -> Result<u64, String> {
    let size = text.parse::<bytesize::ByteSize>();
    Ok(size.map_err(|e| format!("\"{text}\" is not a size ({e}); e.g. \"{example}\""))?.as_u64())
}

fn duration(example: &str, text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|e| format!("\"{text}\" is not a duration ({e}); e.g. \"{example}\""))
}

/// `value` read as `kind` takes it, or why not: its type only, what the text says is read
/// when the tenant's settings are built.
fn read_value(kind: Kind, value: &Value) -> Result<Read, String> {
    let text = || match value {
        Value::String(text) => Ok(text.clone()),
        other => Err(format!("{other} is not a string")),
    };
    Ok(match kind {
        Kind::Text(_) | Kind::Word(..) | Kind::Size(..) | Kind::Duration(..) => Read::Text(text()?),
        Kind::Bool(_) => Read::Bool(match value {
            Value::Boolean(b) => *b,
            Value::String(text) if text.trim() == "true" => true,
            Value::String(text) if text.trim() == "false" => false,
            other => return Err(format!("{other} is neither true nor false")),
        }),
        Kind::Number(_) => Read::Number(match value {
            Value::Integer(i) => u32::try_from(*i).map_err(|_| format!("{i} is not a whole number from 0 to {}", u32::MAX))?,
            Value::String(text) => text.trim().parse().map_err(|_| format!("\"{text}\" is not a whole number"))?,
            other => return Err(format!("{other} is not a whole number")),
        }),
        Kind::Path(_) => Read::Path(PathBuf::from(text()?)),
        Kind::Secret(_) => Read::Secret(secret(value)?),
        Kind::Secrets(_) => match value {
            Value::Table(table) => {
                let read = table.iter().map(|(id, v)| Ok((id.clone(), secret(v).map_err(|m| format!("\"{id}\": {m}"))?)));
                Read::Secrets(read.collect::<Result<_, String>>()?)
            }
            other => return Err(format!("{other} is not a table of keys by id")),
        },
    })
}

fn secret(value: &Value) -> Result<SecretSource, String> {
    // The error would show an inline value; say what is expected instead.
    value.clone().try_into().map_err(|_| "is not a string, { env = \"NAME\" } or { file = \"PATH\" }".to_string())
}

/// The message for a key no tenant has, with the nearest one.
fn unknown(name: &str) -> String {
    let nearest = KEYS.iter().map(|key| key.name).min_by_key(|key| edit_distance(name, key)).unwrap_or("bucket");
    format!("is not a setting; did you mean \"{nearest}\"? (docs/configuration.md lists them)")
}
