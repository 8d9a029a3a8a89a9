//! Coffer's host: runs the blob-store plugin (a WebAssembly component) in wasmtime, one sandbox
//! per tenant. A mail server links this crate, builds each tenant's settings in code (or reads
//! them from a config file, feature `config-file`), and calls put, get, stat and delete.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use coffer_host::{Coffer, TenantSettings};
//!
//! let coffer = Coffer::new()?; // compiles (or loads from the cache) the plugin, once
//! let settings = TenantSettings::builder("acme")
//!     .bucket("mail")
//!     .region("garage")
//!     .endpoint("http://127.0.0.1:3900")
//!     .access_key("GK31c2f218a2e44f485b94239e")
//!     .secret_key("...")
//!     .key_prefix("acme/")
//!     .build()?;
//! let tenant = coffer.tenant(settings);
//! tenant.put("hello", b"world").await?;
//! assert_eq!(tenant.get("hello", ..).await?, Some(b"world".to_vec()));
//! assert_eq!(tenant.get("hello", 1..3).await?, Some(b"or".to_vec()));
//! # Ok(()) }
//! ```

mod bindings;
mod cache;
#[cfg(feature = "config-file")]
pub mod config;
pub mod credentials;
mod body;
mod dialect;
pub mod egress;
pub mod encryption;
mod error;
mod guest_log;
#[cfg(feature = "config-file")]
mod lenient;
mod pools;
pub mod limits;
pub mod quickack;
pub mod regions;
mod sandbox;
pub mod secret;
mod settings;
pub mod stalwart;
mod telemetry;
mod tenant;
pub mod tls;
mod transport;
mod uploads;
mod warm;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

pub use dialect::{EtagFormula, ServerDialect};
pub use egress::{EgressPolicy, NameResolver, Network, PrivateEndpoints};
pub use error::{ErrorKind, HostError, StoreError};
pub use limits::Limits;
pub use secret::Secret;
pub use settings::{Checksum, ConfigError, TenantSettings, TenantSettingsBuilder};
pub use tenant::{Listed, Listing, ObjectInfo, Page, Tenant, TenantStats};
pub use uploads::{Upload, Uploads};

/// How many objects [`Tenant::list_all`] asks for per page (S3's most).
pub const DEFAULT_LIST_PAGE: u32 = 1000;

use pools::Pools;
pub use pools::{DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_ENDPOINT, POOL_IDLE_TIMEOUT};
use sandbox::TenantState;
use transport::Transport;

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
}

/// How plugin instances get their memory. Either way each instance keeps its tenant's limits
/// (linear memory, CPU per call, calls at once: [`Limits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Allocation {
    /// A pool of instance slots reserved up front (about 8 TiB of address space for the default
    /// [`DEFAULT_MAX_INSTANCES`], almost none of it backed by memory): a sandbox per call costs
    /// microseconds. It cannot start in a process with an address-space limit (`ulimit -v`,
    /// Dovecot's `vsz_limit`, systemd's `LimitAS`).
    #[default]
    Pooling,
    /// Each instance's memory is allocated when it is made, and its linear memory reserves no
    /// more than it uses (bounds-checked, moved as it grows): the host runs in a bounded
    /// address space, at the cost of some microseconds per new instance. `max_instances` does
    /// not apply.
    OnDemand,
}

pub const DEFAULT_MAX_INSTANCES: u32 = 1000;

/// The engine and the pre-instantiated plugin, built once and shared by every tenant.
#[derive(Clone)]
pub struct Coffer {
    shared: Arc<Shared>,
}

pub(crate) struct Shared {
    pub(crate) engine: Engine,
    linker: Linker<TenantState>,
    cache_dir: Option<PathBuf>,
    /// The plugin new calls instantiate, and its generation (one more at each load); a call in
    /// flight keeps the one it started with.
    pub(crate) pre: RwLock<(u64, bindings::PluginPre<TenantState>)>,
    /// Idle instances kept warm across tenants, and how many there may be.
    pub(crate) idle_total: Arc<AtomicUsize>,
    pub(crate) idle_cap: usize,
    /// Stops the epoch ticker when the last handle is dropped.
    ticking: Arc<AtomicBool>,
    /// Every tenant's warm instances, swept by the ticker for those idle too long.
    pub(crate) sweeper: Arc<warm::Sweeper>,
    /// The HTTP clients tenants share, by trust, with the operator's egress policy, the
    /// embedder's resolver and the connection caps.
    pools: Pools,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.ticking.store(false, Ordering::Relaxed);
    }
}

impl Coffer {
    /// A host running the plugin built with it, with the default cache.
    pub fn new() -> Result<Coffer, HostError> {
        Coffer::with_options(HostOptions::default())
    }

    pub fn with_options(options: HostOptions) -> Result<Coffer, HostError> {
        let max_instances = options.max_instances.unwrap_or(DEFAULT_MAX_INSTANCES);
        let engine = engine(max_instances, options.allocation).map_err(HostError::Engine)?;
        let linker = linker(&engine).map_err(HostError::Engine)?;
        let sweeper = Arc::new(warm::Sweeper::default());
        let ticking = start_epoch_ticker(&engine, sweeper.clone());
        let cache_dir = options.cache_dir.or_else(cache::default_dir);
        let wasm = options.component.as_deref().unwrap_or(PLUGIN_WASM);
        let pre = prepare(&engine, &linker, wasm, cache_dir.as_deref()).map_err(HostError::Plugin)?;
        // At most half the slots idle, so that calls always find room.
        let idle_cap = max_instances as usize / 2;
        let idle_total = Arc::new(AtomicUsize::new(0));
        let pre = RwLock::new((0, pre));
        let pools = Pools::new(
            Arc::new(options.egress),
            options.resolver,
            options.max_connections_per_endpoint,
            options.max_connections,
        );
        let shared = Shared { engine, linker, cache_dir, pre, idle_total, idle_cap, ticking, sweeper, pools };
        Ok(Coffer { shared: Arc::new(shared) })
    }

    /// A handle on one tenant's store. Cheap to clone; each call runs in an instance of the
    /// tenant's own.
    pub fn tenant(&self, settings: TenantSettings) -> Tenant {
        let endpoint = format!("{}://{}", settings.scheme(), settings.request_authority());
        let endpoint = endpoint.parse().unwrap_or_default();
        let transport = Transport::new(settings.name(), settings.trust(), &endpoint, &self.shared.pools);
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

    /// A tenant whose requests are answered at once by the host, never sent: for measuring the
    /// sandbox alone (`coffer bench`).
    #[cfg(feature = "bench")]
    pub fn tenant_answered_at_once(&self, settings: TenantSettings) -> Tenant {
        let transport = Transport::answering_at_once(settings.name());
        Tenant::new(self.shared.clone(), settings, transport)
    }

    /// Loads another plugin (a new version) for every tenant, without stopping: calls in
    /// flight finish on the plugin they started with, and later calls use the new one. The
    /// component must export the same world; when it does not, nothing changes.
    pub fn load_plugin(&self, wasm: &[u8]) -> Result<(), HostError> {
        let shared = &self.shared;
        let pre = prepare(&shared.engine, &shared.linker, wasm, shared.cache_dir.as_deref()).map_err(HostError::Plugin)?;
        let mut current = shared.pre.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        *current = (current.0 + 1, pre);
        Ok(())
    }
}

/// The engine: epoch interruption for the CPU limit, and the pooling allocator so that a
/// sandbox per call costs microseconds, or (bounded) instances allocated on demand with linear
/// memories that reserve only what they use.
fn engine(max_instances: u32, allocation: Allocation) -> anyhow::Result<Engine> {
    let mut config = wasmtime::Config::new();
    config.epoch_interruption(true);
    match allocation {
        Allocation::Pooling => {
            let mut pool = PoolingAllocationConfig::default();
            pool.total_component_instances(max_instances)
                .total_core_instances(max_instances.saturating_mul(4))
                .total_memories(max_instances.saturating_mul(2))
                .total_tables(max_instances.saturating_mul(4))
                .total_stacks(max_instances);
            config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        }
        Allocation::OnDemand => {
            config
                .allocation_strategy(InstanceAllocationStrategy::OnDemand)
                .memory_reservation(0)
                .memory_guard_size(0)
                .memory_reservation_for_growth(1 << 20)
                // One compiling thread: each of cranelift's would reserve address space of its own.
                .parallel_compilation(false);
        }
    }
    Ok(Engine::new(&config)?)
}

/// The WASI interfaces the plugin imports, and no other: wasi:io, the two clocks, random, and
/// wasi:cli's stdio, environment and exit (which Rust's std links; the environment is empty and
/// stdio goes to the log). Not wasi:filesystem nor wasi:sockets: a component that imports them
/// fails to load, with an error that names the import.
fn link_wasi(l: &mut Linker<TenantState>) -> anyhow::Result<()> {
    use wasmtime_wasi::cli::{WasiCli, WasiCliView};
    use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView};
    use wasmtime_wasi::p2::bindings::{cli, clocks, io, random};
    use wasmtime_wasi::random::{WasiRandom, WasiRandomView};

    struct HasTable;
    impl wasmtime::component::HasData for HasTable {
        type Data<'a> = &'a mut wasmtime::component::ResourceTable;
    }
    io::error::add_to_linker::<_, HasTable>(l, TenantState::table)?;
    io::poll::add_to_linker::<_, HasTable>(l, TenantState::table)?;
    io::streams::add_to_linker::<_, HasTable>(l, TenantState::table)?;
    clocks::wall_clock::add_to_linker::<_, WasiClocks>(l, TenantState::clocks)?;
    clocks::monotonic_clock::add_to_linker::<_, WasiClocks>(l, TenantState::clocks)?;
    random::random::add_to_linker::<_, WasiRandom>(l, TenantState::random)?;
    cli::exit::add_to_linker::<_, WasiCli>(l, TenantState::cli)?;
    cli::environment::add_to_linker::<_, WasiCli>(l, TenantState::cli)?;
    cli::stdin::add_to_linker::<_, WasiCli>(l, TenantState::cli)?;
    cli::stdout::add_to_linker::<_, WasiCli>(l, TenantState::cli)?;
    cli::stderr::add_to_linker::<_, WasiCli>(l, TenantState::cli)?;
    cli::terminal_input::add_to_linker::<_, WasiCli>(l, TenantState::cli)?;
    cli::terminal_output::add_to_linker::<_, WasiCli>(l, TenantState::cli)?;
    cli::terminal_stdin::add_to_linker::<_, WasiCli>(l, TenantState::cli)?;
    cli::terminal_stdout::add_to_linker::<_, WasiCli>(l, TenantState::cli)?;
    cli::terminal_stderr::add_to_linker::<_, WasiCli>(l, TenantState::cli)?;
    Ok(())
}

/// What a plugin may import: the WASI it needs (no files, environment or sockets), wasi:http
/// through the tenant's egress policy, and Coffer's config, body and telemetry interfaces.
fn linker(engine: &Engine) -> anyhow::Result<Linker<TenantState>> {
    let mut linker = Linker::<TenantState>::new(engine);
    link_wasi(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    bindings::config::add_to_linker::<TenantState, HasSelf<TenantState>>(&mut linker, |state| state)?;
    bindings::telemetry::add_to_linker::<TenantState, HasSelf<TenantState>>(&mut linker, |state| state)?;
    bindings::body::add_to_linker::<TenantState, HasSelf<TenantState>>(&mut linker, |state| state)?;
    Ok(linker)
}

/// Advances the engine's epoch every [`limits::TICK`] until the flag is cleared.
fn start_epoch_ticker(engine: &Engine, sweeper: Arc<warm::Sweeper>) -> Arc<AtomicBool> {
    let ticking = Arc::new(AtomicBool::new(true));
    let (engine, flag) = (engine.clone(), ticking.clone());
    std::thread::Builder::new()
        .name("coffer-epoch".into())
        .spawn(move || {
            let mut last_sweep = std::time::Instant::now();
            while flag.load(Ordering::Relaxed) {
                std::thread::sleep(limits::TICK);
                engine.increment_epoch();
                // Once a second, the instances idle too long are dropped.
                if last_sweep.elapsed() >= std::time::Duration::from_secs(1) {
                    last_sweep = std::time::Instant::now();
                    sweeper.sweep(last_sweep);
                }
            }
        })
        .expect("a thread for the epoch ticker");
    ticking
}

/// The component, compiled (or loaded from the cache) and linked, ready to instantiate.
fn prepare(
    engine: &Engine,
    linker: &Linker<TenantState>,
    wasm: &[u8],
    cache_dir: Option<&std::path::Path>,
) -> anyhow::Result<bindings::PluginPre<TenantState>> {
    let component: Component = cache::load_or_compile(engine, wasm, cache_dir)?;
    Ok(bindings::PluginPre::new(linker.instantiate_pre(&component)?)?)
}

#[cfg(test)]
mod tests {
    /// A mail server shares one host and its tenants across threads and tasks.
    #[test]
    fn handles_are_send_and_sync() {
        fn shared_across_threads<T: Send + Sync + Clone + 'static>() {}
        shared_across_threads::<super::Coffer>();
        shared_across_threads::<super::Tenant>();
    }
}

