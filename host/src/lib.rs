//! Coffer's host: runs the blob-store plugin (a WebAssembly component) in wasmtime, one sandbox
//! per tenant.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let coffer = coffer_host::Coffer::new()?;               // compiles (or loads) the plugin once
//! let config = coffer_host::config::Config::load("coffer.toml".as_ref())?;
//! let tenant = coffer.tenant(config.tenant(Some("acme"))?);
//! tenant.put("hello", b"world".to_vec()).await?;
//! assert_eq!(tenant.get("hello", None).await?, Some(b"world".to_vec()));
//! # Ok(()) }
//! ```

#[cfg(feature = "bench")]
pub mod bench;
mod bindings;
mod cache;
mod digest;
pub mod config;
pub mod credentials;
pub mod embedded;
pub mod regions;
mod error;
mod guest_log;
pub mod limits;
pub mod secret;
pub mod stalwart;
mod tenant;
pub mod tls;
mod transport;
mod warm;

use std::ops::Range;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use tokio::sync::{Semaphore, SemaphorePermit};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};

use bindings::store::{ByteRange, ObjectInfo as WitInfo};
pub use config::TenantSettings;
pub use error::StoreError;
use tenant::TenantState;
use transport::Transport;
use warm::{Warm, WarmPool};

/// The plugin built with this host (see build.rs).
pub const PLUGIN_WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/coffer_plugin.wasm"));

/// What a backend knows about a stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub size: u64,
    pub etag: String,
    pub last_modified: Option<String>,
}

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
}

pub const DEFAULT_MAX_INSTANCES: u32 = 1000;

/// The engine and the pre-instantiated plugin, built once and shared by every tenant.
#[derive(Clone)]
pub struct Coffer {
    shared: Arc<Shared>,
}

struct Shared {
    engine: Engine,
    linker: Linker<TenantState>,
    cache_dir: Option<PathBuf>,
    /// The plugin new calls instantiate, and its generation (one more at each load); a call in
    /// flight keeps the one it started with.
    pre: RwLock<(u64, bindings::PluginPre<TenantState>)>,
    /// Idle instances kept warm across tenants, and how many there may be.
    idle_total: Arc<AtomicUsize>,
    idle_cap: usize,
    /// Stops the epoch ticker when the last handle is dropped.
    ticking: Arc<AtomicBool>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.ticking.store(false, Ordering::Relaxed);
    }
}

impl Coffer {
    /// A host running the plugin built with it, with the default cache.
    pub fn new() -> anyhow::Result<Coffer> {
        Coffer::with_options(HostOptions::default())
    }

    pub fn with_options(options: HostOptions) -> anyhow::Result<Coffer> {
        let max_instances = options.max_instances.unwrap_or(DEFAULT_MAX_INSTANCES);
        let engine = engine(max_instances)?;
        let ticking = start_epoch_ticker(&engine);
        let mut linker = Linker::<TenantState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        bindings::config::add_to_linker::<TenantState, HasSelf<TenantState>>(&mut linker, |state| state)?;
        digest::add_to_linker(&mut linker)?;
        let cache_dir = options.cache_dir.or_else(cache::default_dir);
        let wasm = options.component.as_deref().unwrap_or(PLUGIN_WASM);
        let pre = RwLock::new((0, prepare(&engine, &linker, wasm, cache_dir.as_deref())?));
        // At most half the slots idle, so that calls always find room.
        let idle_cap = max_instances as usize / 2;
        let idle_total = Arc::new(AtomicUsize::new(0));
        Ok(Coffer { shared: Arc::new(Shared { engine, linker, cache_dir, pre, idle_total, idle_cap, ticking }) })
    }

    /// A handle on one tenant's store. Cheap to clone; each call runs in an instance of the
    /// tenant's own (see [`warm`]).
    pub fn tenant(&self, settings: TenantSettings) -> Tenant {
        let transport = Transport::new(&settings.name, &settings.trust, settings.timeout);
        self.tenant_with(settings, transport)
    }

    fn tenant_with(&self, settings: TenantSettings, transport: Transport) -> Tenant {
        let admission = Arc::new(Admission::new(settings.limits));
        let shared = self.shared.clone();
        let warm = Arc::new(WarmPool::new(settings.limits.concurrency, shared.idle_total.clone(), shared.idle_cap));
        Tenant { shared, settings: Arc::new(settings), transport: Arc::new(transport), admission, warm }
    }

    /// A tenant whose requests are answered at once by the host, never sent: for measuring the
    /// sandbox alone (`coffer bench`).
    #[cfg(feature = "bench")]
    pub fn tenant_answered_at_once(&self, settings: TenantSettings) -> Tenant {
        let transport = Transport::answering_at_once(&settings.name);
        self.tenant_with(settings, transport)
    }

    /// Loads another plugin (a new version) for every tenant, without stopping: calls in
    /// flight finish on the plugin they started with, and later calls use the new one. The
    /// component must export the same world; when it does not, nothing changes.
    pub fn load_plugin(&self, wasm: &[u8]) -> anyhow::Result<()> {
        let shared = &self.shared;
        let pre = prepare(&shared.engine, &shared.linker, wasm, shared.cache_dir.as_deref())?;
        let mut current = shared.pre.write().unwrap();
        *current = (current.0 + 1, pre);
        Ok(())
    }
}

/// The engine: epoch interruption for the CPU limit, and the pooling allocator so that a
/// sandbox per call costs microseconds.
fn engine(max_instances: u32) -> anyhow::Result<Engine> {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(max_instances)
        .total_core_instances(max_instances.saturating_mul(4))
        .total_memories(max_instances.saturating_mul(2))
        .total_tables(max_instances.saturating_mul(4))
        .total_stacks(max_instances);
    let mut config = wasmtime::Config::new();
    config.epoch_interruption(true).allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Ok(Engine::new(&config)?)
}

/// Advances the engine's epoch every [`limits::TICK`] until the flag is cleared.
fn start_epoch_ticker(engine: &Engine) -> Arc<AtomicBool> {
    let ticking = Arc::new(AtomicBool::new(true));
    let (engine, flag) = (engine.clone(), ticking.clone());
    std::thread::Builder::new()
        .name("coffer-epoch".into())
        .spawn(move || {
            while flag.load(Ordering::Relaxed) {
                std::thread::sleep(limits::TICK);
                engine.increment_epoch();
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

/// A tenant's concurrency limit: `concurrency` calls run, up to `queue` wait, more are refused.
struct Admission {
    slots: Semaphore,
    waiting: AtomicUsize,
    limits: limits::Limits,
}

impl Admission {
    fn new(limits: limits::Limits) -> Admission {
        Admission { slots: Semaphore::new(limits.concurrency), waiting: AtomicUsize::new(0), limits }
    }

    async fn enter(&self, tenant: &str) -> Result<SemaphorePermit<'_>, StoreError> {
        if let Ok(permit) = self.slots.try_acquire() {
            return Ok(permit);
        }
        let waiting = self.waiting.fetch_add(1, Ordering::SeqCst);
        let _leave = Leave(&self.waiting);
        if waiting >= self.limits.queue() {
            return Err(StoreError::LimitExceeded {
                tenant: tenant.to_string(),
                message: format!(
                    "concurrency limit: {} calls in flight and {} waiting; call refused",
                    self.limits.concurrency,
                    self.limits.queue()
                ),
            });
        }
        Ok(self.slots.acquire().await.expect("the semaphore is never closed"))
    }
}

struct Leave<'a>(&'a AtomicUsize);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One tenant's blob store.
#[derive(Clone)]
pub struct Tenant {
    shared: Arc<Shared>,
    settings: Arc<TenantSettings>,
    transport: Arc<Transport>,
    admission: Arc<Admission>,
    warm: Arc<WarmPool>,
}

impl Tenant {
    pub fn settings(&self) -> &TenantSettings {
        &self.settings
    }

    /// Body bytes this tenant has sent and received so far, retries included: for progress
    /// reports.
    pub fn bytes_moved(&self) -> (u64, u64) {
        self.transport.bytes_moved()
    }

    /// How many connections this tenant has opened so far. Kept-alive connections are reused
    /// across calls, so at steady state this stops growing.
    pub fn connections_opened(&self) -> u64 {
        self.transport.connections_opened()
    }

    /// How many plugin instances this tenant has made so far: instances are kept warm for the
    /// tenant's next calls, so at steady state this grows only after a trap, a limit, a large
    /// put or a new plugin.
    pub fn instances_made(&self) -> usize {
        self.warm.made()
    }

    /// The object's bytes, or those of `range` (half-open); `None` when it does not exist.
    /// An end past the size reads to the end; a start at or past the size reads no bytes.
    pub async fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(key, range.map(|r| ByteRange { start: r.start, end: Some(r.end) })).await
    }

    /// The object's bytes from `start` to its end; `None` when it does not exist.
    pub async fn get_from(&self, key: &str, start: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(key, Some(ByteRange { start, end: None })).await
    }

    async fn read(&self, key: &str, range: Option<ByteRange>) -> Result<Option<Vec<u8>>, StoreError> {
        let _slot = self.admission.enter(&self.settings.name).await?;
        let mut warm = self.sandbox().await?;
        let result = warm.plugin.coffer_blobstore_store().call_get(&mut warm.store, key, range).await;
        self.finish(warm, key, result)
    }

    /// Creates or replaces the object. Once this returns Ok, the object is readable.
    pub async fn put(&self, key: &str, data: Vec<u8>) -> Result<(), StoreError> {
        let _slot = self.admission.enter(&self.settings.name).await?;
        let mut warm = self.sandbox().await?;
        let result = warm.plugin.coffer_blobstore_store().call_put(&mut warm.store, key, &data).await;
        self.finish(warm, key, result)
    }

    /// Deletes the object; `true` when it existed.
    pub async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        let _slot = self.admission.enter(&self.settings.name).await?;
        let mut warm = self.sandbox().await?;
        let result = warm.plugin.coffer_blobstore_store().call_delete(&mut warm.store, key).await;
        self.finish(warm, key, result)
    }

    /// Size and ETag of the object; `None` when it does not exist.
    pub async fn stat(&self, key: &str) -> Result<Option<ObjectInfo>, StoreError> {
        let _slot = self.admission.enter(&self.settings.name).await?;
        let mut warm = self.sandbox().await?;
        let result = warm.plugin.coffer_blobstore_store().call_stat(&mut warm.store, key).await;
        let info: Option<WitInfo> = self.finish(warm, key, result)?;
        Ok(info.map(|i| ObjectInfo { size: i.size, etag: i.etag, last_modified: i.last_modified }))
    }

    /// An instance for one call: one of the tenant's kept warm, or a new Store holding only
    /// this tenant's state with the plugin instantiated in it. Its CPU is counted from zero.
    async fn sandbox(&self) -> Result<Warm, StoreError> {
        let (generation, pre) = self.shared.pre.read().unwrap().clone();
        let mut warm = match self.warm.take(generation) {
            Some(warm) => warm,
            None => {
                let state = TenantState::new(self.settings.clone(), self.transport.clone());
                let mut store = Store::new(&self.shared.engine, state);
                store.limiter(|state| &mut state.meter);
                store.epoch_deadline_callback(|mut context| context.data_mut().meter.tick());
                let plugin = pre.instantiate_async(&mut store).await.map_err(|e| StoreError::Sandbox {
                    tenant: self.settings.name.clone(),
                    message: format!("{e:#}"),
                })?;
                self.warm.made_one();
                Warm { store, plugin, generation, calls: 0 }
            }
        };
        warm.store.data_mut().meter.start_call();
        warm.store.set_epoch_deadline(1);
        warm.calls += 1;
        Ok(warm)
    }

    /// The call's outcome. An instance whose call returned (whatever it answered) may be kept
    /// for the tenant's next call; one that trapped or hit a limit is dropped.
    fn finish<T>(
        &self,
        warm: Warm,
        key: &str,
        result: wasmtime::Result<Result<T, bindings::store::Error>>,
    ) -> Result<T, StoreError> {
        let store = &warm.store;
        let outcome = match result {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(StoreError::from_wit(error)),
            Err(_) if store.data().meter.exceeded.is_some() => Err(StoreError::LimitExceeded {
                tenant: self.settings.name.clone(),
                message: format!("key \"{key}\": {}", store.data().meter.exceeded.as_ref().unwrap()),
            }),
            Err(trap) => Err(StoreError::Sandbox {
                tenant: self.settings.name.clone(),
                message: format!("key \"{key}\": {trap:#}"),
            }),
        };
        if !matches!(outcome, Err(StoreError::Sandbox { .. } | StoreError::LimitExceeded { .. })) {
            let generation = self.shared.pre.read().unwrap().0;
            self.warm.give_back(warm, generation);
        }
        outcome
    }
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
