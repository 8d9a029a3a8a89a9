//! The host a mail server holds: [`Coffer`], built once from [`HostOptions`], hands out a
//! [`Tenant`] per tenant's settings.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::error::HostError;
use super::tenant::Tenant;
use crate::net::egress::{EgressPolicy, NameResolver};
use crate::net::interceptor::Interceptor;
use crate::net::pools::Pools;
use crate::net::transport::Transport;
use crate::sandbox::engine::{Allocation, DEFAULT_MAX_INSTANCES, Shared};
use crate::settings::TenantSettings;

/// The plugin built with this host (see build.rs).
pub const PLUGIN_WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/coffer_plugin.wasm"));

/// How to set the host up.
#[derive(Debug, Clone, Default)]
pub struct HostOptions {
    /// The component to run; the plugin built with this host when `None`.
    pub component: Option<Vec<u8>>,
    /// Where precompiled components are kept; `$XDG_CACHE_HOME/coffer` (or `~/.cache/coffer`)
    /// when `None`. When it cannot be written, the component is compiled in memory each start.
    pub cache_dir: Option<PathBuf>,
    /// Plugin instances alive at once across all tenants (the pooling allocator's slots);
    /// [`DEFAULT_MAX_INSTANCES`] when `None`. A call that finds none free fails.
    pub max_instances: Option<u32>,
    /// Where tenants' requests may go: by default anywhere but the cloud metadata addresses.
    /// Set `private_endpoints: PrivateEndpoints::Deny` when tenants bring their own settings.
    pub egress: EgressPolicy,
    /// Resolves endpoint names instead of the system's resolver; the system's when `None`.
    pub resolver: Option<NameResolver>,
    /// Connections open at once to one endpoint (scheme, host and port), shared by the tenants
    /// that reach it with the same TLS trust; [`DEFAULT_MAX_CONNECTIONS_PER_ENDPOINT`] when
    /// `None`. A call that needs another waits for one to free, within its timeout.
    pub max_connections_per_endpoint: Option<usize>,
    /// Connections open at once across the host; [`DEFAULT_MAX_CONNECTIONS`] when `None`.
    pub max_connections: Option<usize>,
    /// How plugin instances get their memory: [`Allocation::Pooling`] by default.
    pub allocation: Allocation,
    /// Sees each request a tenant's plugin is about to send, after the sandbox's checks, and
    /// may answer it instead of the server (`coffer bench` measures the sandbox alone so).
    /// `None`: every request is sent.
    pub interceptor: Option<Interceptor>,
}

/// The engine and the pre-instantiated plugin, built once and shared by every tenant.
#[derive(Clone)]
pub struct Coffer {
    shared: Arc<Shared>,
}
impl Coffer {
    /// A host running the plugin built with it, with the default cache.
    pub fn new() -> Result<Coffer, HostError> {
        Coffer::with_options(HostOptions::default())
    }

    pub fn with_options(options: HostOptions) -> Result<Coffer, HostError> {
        let max_instances = options.max_instances.unwrap_or(DEFAULT_MAX_INSTANCES);
        let wasm = options.component.as_deref().unwrap_or(PLUGIN_WASM);
        let pools = Pools::new(
            Arc::new(options.egress),
            options.resolver,
            options.max_connections_per_endpoint,
            options.max_connections,
            options.interceptor,
        );
        let shared = Shared::start(max_instances, options.allocation, wasm, options.cache_dir, pools)?;
        Ok(Coffer { shared: Arc::new(shared) })
    }

    /// A handle on one tenant's store. Cheap to clone; each call runs in an instance of the
    /// tenant's own.
    pub fn tenant(&self, settings: TenantSettings) -> Tenant {
        let transport = Transport::new(settings.name(), settings.trust(), settings.request_endpoint(), &self.shared.pools);
        Tenant::new(self.shared.clone(), settings, transport)
    }

    /// Connections open now across the host, every tenant's (at most `max_connections`).
    pub fn open_connections(&self) -> usize {
        self.shared.pools.open_connections()
    }

    /// Plugin instances kept warm now across the host, every tenant's: each is dropped after
    /// its tenant's next call takes it, or once idle for 30 s.
    pub fn idle_instances(&self) -> usize {
        self.shared.idle_total.load(Ordering::SeqCst)
    }

    /// Loads another plugin (a new version) for every tenant, without stopping: calls in
    /// flight finish on the plugin they started with, and later calls use the new one. The
    /// component must export the same world; when it does not, nothing changes.
    pub fn load_plugin(&self, wasm: &[u8]) -> Result<(), HostError> {
        self.shared.load_plugin(wasm)
    }
}

#[cfg(test)]
mod tests;
