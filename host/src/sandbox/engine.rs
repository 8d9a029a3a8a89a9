//! The sandbox's shared parts, built once per host: the wasmtime engine (with its allocator
//! and the epoch ticker that enforces the CPU limit), the linker that decides what a plugin
//! may import, and the pre-instantiated plugin every tenant's instances are made from.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::state::TenantState;
use super::body::host::BodyData;
use super::config_host::ConfigData;
use super::telemetry_host::TelemetryData;
use super::{bindings, cache, limits, warm};
use crate::api::error::HostError;
use crate::net::pools::Pools;

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

/// The engine and the pre-instantiated plugin, shared by every tenant of a host.
pub(crate) struct Shared {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<TenantState>,
    pub(crate) cache_dir: Option<PathBuf>,
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
    pub(crate) pools: Pools,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.ticking.store(false, Ordering::Relaxed);
    }
}

impl Shared {
    /// Builds the engine for `max_instances` instances, links and prepares `wasm` (from
    /// `cache_dir` when compiled before), and starts the epoch ticker.
    pub(crate) fn start(
        max_instances: u32,
        allocation: Allocation,
        wasm: &[u8],
        cache_dir: Option<PathBuf>,
        pools: Pools,
    ) -> Result<Shared, HostError> {
        let engine = engine(max_instances, allocation).map_err(HostError::Engine)?;
        let linker = linker(&engine).map_err(HostError::Engine)?;
        let sweeper = Arc::new(warm::Sweeper::default());
        let ticking = start_epoch_ticker(&engine, sweeper.clone());
        let cache_dir = cache_dir.or_else(cache::default_dir);
        let pre = prepare(&engine, &linker, wasm, cache_dir.as_deref()).map_err(HostError::Plugin)?;
        // At most half the slots idle, so that calls always find room.
        let idle_cap = max_instances as usize / 2;
        let idle_total = Arc::new(AtomicUsize::new(0));
        let pre = RwLock::new((0, pre));
        Ok(Shared { engine, linker, cache_dir, pre, idle_total, idle_cap, ticking, sweeper, pools })
    }

    /// Prepares another plugin for the calls that start from now on; calls in flight keep the
    /// one they started with. When it does not load, nothing changes.
    pub(crate) fn load_plugin(&self, wasm: &[u8]) -> Result<(), HostError> {
        let pre = prepare(&self.engine, &self.linker, wasm, self.cache_dir.as_deref()).map_err(HostError::Plugin)?;
        let mut current = self.pre.write().unwrap_or_else(|poisoned| poisoned.into_inner());
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
    bindings::config::add_to_linker::<TenantState, ConfigData>(&mut linker, TenantState::config)?;
    bindings::telemetry::add_to_linker::<TenantState, TelemetryData>(&mut linker, TenantState::telemetry)?;
    bindings::body::add_to_linker::<TenantState, BodyData>(&mut linker, TenantState::body)?;
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
    cache_dir: Option<&Path>,
) -> anyhow::Result<bindings::PluginPre<TenantState>> {
    let component: Component = cache::load_or_compile(engine, wasm, cache_dir)?;
    Ok(bindings::PluginPre::new(linker.instantiate_pre(&component)?)?)
}
