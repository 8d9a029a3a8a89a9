//! The hosts the bench makes, and the S3 server it measures against (COFFER_TEST_S3_*).

use std::sync::Arc;

use coffer_host::{Answer, Coffer, HostOptions, Interceptor, TenantSettings};

/// The pooling allocator's slots for the bench's hosts; the default when unset. Fewer slots
/// reserve less address space (valgrind cannot reserve the default's terabytes).
static MAX_INSTANCES: std::sync::OnceLock<u32> = std::sync::OnceLock::new();

/// Sets the instance slots of every host the bench makes (`coffer-bench --max-instances`).
pub fn set_max_instances(slots: u32) {
    let _ = MAX_INSTANCES.set(slots);
}

pub(crate) fn host() -> anyhow::Result<Coffer> {
    Ok(Coffer::with_options(HostOptions { max_instances: MAX_INSTANCES.get().copied(), ..Default::default() })?)
}

/// A host whose tenants' requests are answered at once, through the interceptor seam, with
/// an empty 200 (the ETag of no bytes): what is left to measure is the sandbox.
pub(crate) fn answering_host() -> anyhow::Result<Coffer> {
    let empty = Arc::new(Answer {
        status: 200,
        headers: vec![
            ("content-length".into(), "0".into()),
            ("etag".into(), "\"d41d8cd98f00b204e9800998ecf8427e\"".into()),
        ],
        body: Vec::new(),
    });
    let interceptor = Interceptor::new(move |_| Some(empty.clone()));
    let options = HostOptions { max_instances: MAX_INSTANCES.get().copied(), interceptor: Some(interceptor), ..Default::default() };
    Ok(Coffer::with_options(options)?)
}

/// The S3 server to measure against, from COFFER_TEST_S3_*.
#[derive(Clone)]
pub(crate) struct Server {
    pub(crate) endpoint: String,
    pub(crate) region: String,
    pub(crate) bucket: String,
    pub(crate) access_key: String,
    pub(crate) secret_key: String,
}

impl Server {
    /// A tenant on this server, its keys under `prefix`.
    pub(crate) fn tenant_settings(&self, name: &str, prefix: &str) -> coffer_host::TenantSettingsBuilder {
        TenantSettings::builder(name)
            .bucket(&self.bucket)
            .region(&self.region)
            .endpoint(&self.endpoint)
            .access_key(self.access_key.as_str())
            .secret_key(self.secret_key.as_str())
            .key_prefix(prefix)
    }

    pub(crate) fn from_env() -> anyhow::Result<Server> {
        let var = |name: &str| {
            std::env::var(format!("COFFER_TEST_S3_{name}"))
                .map_err(|_| anyhow::anyhow!("set COFFER_TEST_S3_{name} (e.g. eval \"$(scripts/garage-up)\")"))
        };
        Ok(Server {
            endpoint: var("ENDPOINT")?,
            region: var("REGION").unwrap_or_else(|_| "us-east-1".into()),
            bucket: var("BUCKET").unwrap_or_else(|_| "coffer-test".into()),
            access_key: var("ACCESS_KEY")?,
            secret_key: var("SECRET_KEY")?,
        })
    }
}
