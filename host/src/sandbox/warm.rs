//! Instances kept warm: after a call that returned normally, its instance (and Store) may serve
//! the same tenant's next call, which then skips instantiation and the page faults of fresh
//! memory. An instance is never shared between tenants, and is dropped rather than kept when
//! its call trapped or hit a limit, when its memory grew past [`KEEP_MEMORY`] (or half the
//! tenant's memory limit, so that a kept instance leaves a call room to grow), after
//! [`MAX_CALLS`] calls, or when a new plugin was loaded since it was made. An instance idle
//! for [`IDLE_LIFETIME`] is dropped (by the [`Sweeper`]), so that a tenant that has not called
//! for a while holds none.

use std::sync::{Arc, Mutex, Weak};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use wasmtime::Store;

use crate::sandbox::bindings;
use crate::sandbox::state::TenantState;

/// An instance whose linear memory grew past this (a large put) is not kept.
pub const KEEP_MEMORY: u64 = 16 << 20;
/// An instance serves at most this many calls, so that whatever a plugin leaks is bounded.
pub const MAX_CALLS: u32 = 10_000;
/// Idle instances kept per tenant, at most.
pub const KEEP_PER_TENANT: usize = 8;
/// An instance idle this long is dropped.
pub const IDLE_LIFETIME: Duration = Duration::from_secs(30);

/// One instance and its Store, with the plugin generation it was made from.
pub struct Warm {
    pub store: Store<TenantState>,
    pub plugin: bindings::Plugin,
    pub generation: u64,
    pub calls: u32,
    /// When it was last given back.
    pub idle_since: Instant,
}

/// A tenant's idle instances.
pub struct WarmPool {
    idle: Mutex<Vec<Warm>>,
    keep: usize,
    /// Idle instances across the host, and how many there may be: they hold pooling-allocator
    /// slots that calls need.
    idle_total: Arc<AtomicUsize>,
    idle_cap: usize,
    /// Instances made for the tenant so far.
    made: AtomicUsize,
    /// The largest linear memory an instance of the tenant has had at the end of a call.
    largest_memory: AtomicU64,
}

impl WarmPool {
    pub fn new(concurrency: usize, idle_total: Arc<AtomicUsize>, idle_cap: usize) -> WarmPool {
        WarmPool {
            idle: Mutex::new(Vec::new()),
            keep: concurrency.min(KEEP_PER_TENANT),
            idle_total,
            idle_cap,
            made: AtomicUsize::new(0),
            largest_memory: AtomicU64::new(0),
        }
    }

    /// An idle instance of plugin `generation`, if one is kept; older ones are dropped.
    pub fn take(&self, generation: u64) -> Option<Warm> {
        let mut idle = self.idle.lock().unwrap();
        while let Some(warm) = idle.pop() {
            self.idle_total.fetch_sub(1, Ordering::SeqCst);
            if warm.generation == generation {
                return Some(warm);
            }
        }
        None
    }

    /// Counts an instance made for the tenant.
    pub fn made_one(&self) {
        self.made.fetch_add(1, Ordering::SeqCst);
    }

    /// Instances made for the tenant so far.
    pub fn made(&self) -> usize {
        self.made.load(Ordering::SeqCst)
    }

    /// The largest linear memory an instance of the tenant has had at the end of a call.
    pub fn largest_memory(&self) -> u64 {
        self.largest_memory.load(Ordering::SeqCst)
    }

    /// Keeps `warm` for a later call when it may be kept (see the module's comment) and there
    /// is room: at most `keep` for the tenant, `idle_cap` across the host.
    pub fn give_back(&self, warm: Warm, generation: u64) {
        let meter = &warm.store.data().meter;
        self.largest_memory.fetch_max(meter.memory, Ordering::SeqCst);
        let grown = meter.memory > KEEP_MEMORY.min(meter.memory_limit() / 2);
        let spent = warm.calls >= MAX_CALLS || meter.exceeded.is_some() || grown;
        if spent || warm.generation != generation {
            return;
        }
        let mut idle = self.idle.lock().unwrap();
        if idle.len() >= self.keep {
            return;
        }
        if self.idle_total.fetch_add(1, Ordering::SeqCst) >= self.idle_cap {
            self.idle_total.fetch_sub(1, Ordering::SeqCst);
            return;
        }
        idle.push(Warm { idle_since: Instant::now(), ..warm });
    }

    /// Drops the instances idle since before `now - IDLE_LIFETIME`; how many.
    fn drop_expired(&self, now: Instant) -> usize {
        let mut idle = self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let before = idle.len();
        idle.retain(|warm| now.saturating_duration_since(warm.idle_since) < IDLE_LIFETIME);
        let dropped = before - idle.len();
        self.idle_total.fetch_sub(dropped, Ordering::SeqCst);
        dropped
    }
}

/// Every tenant's warm pool, swept now and then for instances idle too long.
#[derive(Default)]
pub struct Sweeper {
    pools: Mutex<Vec<Weak<WarmPool>>>,
}

impl Sweeper {
    pub fn register(&self, pool: &Arc<WarmPool>) {
        self.pools.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(Arc::downgrade(pool));
    }

    /// Drops the instances idle too long, and forgets the pools of tenants gone; how many
    /// instances were dropped.
    pub fn sweep(&self, now: Instant) -> usize {
        let mut dropped = 0;
        self.pools.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).retain(|pool| match pool.upgrade() {
            Some(pool) => {
                dropped += pool.drop_expired(now);
                true
            }
            None => false,
        });
        dropped
    }
}

impl Drop for WarmPool {
    fn drop(&mut self) {
        let idle = self.idle.get_mut().map(|idle| idle.len()).unwrap_or(0);
        self.idle_total.fetch_sub(idle, Ordering::SeqCst);
    }
}
