//! The builder's checks: every setting validated at once, the endpoint resolved, the CA
//! certificates read, the keys and the credentials found. An error names the field.

use rustls::pki_types::CertificateDer;

use super::endpoint::Endpoint;
use super::regions;
use super::{CaSource, ConfigError, MIN_MEMORY, TenantSettings, TenantSettingsBuilder, record};
use crate::encryption::{self, Key, KeyRing};
use crate::net::tls::{self, Trust};
use crate::sandbox::limits::{self, Limits};
use crate::secrets::credentials::{self, Credentials};
use crate::secrets::env::{EnvLookup, process_env};

impl TenantSettingsBuilder {
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
        if self.record.virtual_hosted_style {
            check_bucket_as_host_name(bucket).map_err(|m| ("virtualHostedStyle", m))?;
        }
        let request_endpoint = match self.record.virtual_hosted_style {
            true => endpoint.with_bucket(bucket),
            false => endpoint.clone(),
        };
        Ok((endpoint, request_endpoint))
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
        let mut record = self.record.clone();
        if record.bucket.is_empty() {
            return Err(field("bucket", "must not be empty".into()));
        }
        if record.region.is_empty() {
            return Err(field("region", "must not be empty".into()));
        }
        let (endpoint, request_endpoint) = self.resolved_endpoint(&record.bucket, &record.region).map_err(|(f, m)| field(f, m))?;
        record::check(&record).map_err(|(f, m)| field(f, m))?;
        check_limits(&self.limits).map_err(|(f, m)| field(f, m))?;
        let trust = self.trust().map_err(|(f, m)| field(f, m))?;
        let encryption = self.key_ring().map_err(|(f, m)| field(f, m))?;
        let mut credentials = self.credentials(env).map_err(|(f, m)| field(f, m))?;
        // A token set in the settings wins over one found with the keys.
        if let Some(token) = self.session_token {
            credentials.session_token = Some(token);
        }
        // Where requests go, as the plugin is told: the host lets them reach nothing else.
        record.scheme = request_endpoint.scheme().to_string();
        record.authority = request_endpoint.authority().to_string();
        Ok(TenantSettings {
            name: self.name,
            record,
            endpoint,
            request_endpoint,
            trust,
            limits: self.limits,
            hedge_reads: self.hedge_reads,
            credentials,
            encryption,
        })
    }

    /// The encryption keys, each parsed; the field at fault otherwise.
    fn key_ring(&self) -> Result<Option<KeyRing>, (&'static str, String)> {
        let (id, key) = match (&self.encryption_key_id, &self.encryption_key) {
            (Some(id), Some(key)) => (id, key),
            (None, Some(_)) => return Err(("encryption.keyId", "is required with key".into())),
            (Some(_), None) => return Err(("encryption.key", "is required with keyId".into())),
            (None, None) => {
                return match self.old_encryption_keys.first() {
                    Some((old, _)) => Err(("encryption.keyId", format!("is not set, but oldKeys (\"{old}\") is: set the key new objects are sealed with"))),
                    None => Ok(None),
                };
            }
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
