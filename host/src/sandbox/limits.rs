//! A tenant's sandbox limits: the plugin's linear memory per instance, the CPU a single call may
//! burn in the guest, and how many of the tenant's calls run at once. Enforced per Store, so a
//! call that hits one fails for its tenant alone.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use wasmtime::{ResourceLimiter, UpdateDeadline};

/// The epoch tick: the engine's epoch advances this often, and the CPU limit is checked at
/// each tick while the guest runs.
pub const TICK: Duration = Duration::from_millis(10);

pub const DEFAULT_MEMORY: u64 = 256 << 20;
pub const DEFAULT_CPU_TIME: Duration = Duration::from_secs(10);
pub const DEFAULT_CONCURRENCY: usize = 64;
/// Calls that may wait for a free slot, per slot; more are refused at once.
pub const QUEUE_PER_SLOT: usize = 4;

/// A tenant's limits, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of linear memory the plugin may have, per instance.
    pub memory: u64,
    /// CPU a single call may use in the guest. Waits on the network are not counted.
    pub cpu_time: Duration,
    /// Calls of this tenant in flight at once.
    pub concurrency: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { memory: DEFAULT_MEMORY, cpu_time: DEFAULT_CPU_TIME, concurrency: DEFAULT_CONCURRENCY }
    }
}

impl Limits {
    /// Calls that may wait for a slot before more are refused.
    pub fn queue(&self) -> usize {
        self.concurrency * QUEUE_PER_SLOT
    }
}

/// Which limit a call ran into, for the error its tenant gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exceeded {
    Memory { limit: u64, asked: u64 },
    CpuTime { limit: Duration },
}

impl std::fmt::Display for Exceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exceeded::Memory { limit, asked } => {
                write!(f, "memory limit of {} exceeded (the plugin asked for {})", mib(*limit), mib(*asked))
            }
            Exceeded::CpuTime { limit } => {
                write!(f, "CPU time limit of {} exceeded in the plugin", humantime::format_duration(*limit))
            }
        }
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
}

/// The meter of an instance: memory growth checked against the limit, and the CPU a call
/// costs: the time the guest itself runs, plus the hashing it has the host do on its behalf.
///
/// The guest's time is sampled: the engine's epoch advances every [`TICK`], and each return from
/// the host sets the guest's deadline to the next epoch (the store's call hook), so a tick is
/// counted only when an epoch passes while the guest runs. A wait on the network, however long,
/// counts for nothing, so a blob that takes minutes to arrive is not cut off by the CPU limit;
/// and no clock is read on the way across the boundary.
#[derive(Debug)]
pub struct Meter {
    limits: Limits,
    ticks: u64,
    /// Nanoseconds of host work done for this call (hashing), shared with its bodies.
    host_work: Arc<AtomicU64>,
    /// The instance's linear memory, in bytes.
    pub memory: u64,
    pub exceeded: Option<Exceeded>,
}

impl Meter {
    pub fn new(limits: Limits) -> Meter {
        Meter { limits, ticks: 0, host_work: Arc::default(), memory: 0, exceeded: None }
    }

    /// The memory limit.
    pub fn memory_limit(&self) -> u64 {
        self.limits.memory
    }

    /// A new call on the same instance: its CPU is counted from zero.
    pub fn start_call(&mut self) {
        self.ticks = 0;
        self.host_work.store(0, Ordering::Relaxed);
        self.exceeded = None;
    }

    /// Where the host adds the nanoseconds of work it does for the call (hashing a body), for
    /// the bodies that outlive a borrow of the meter.
    pub fn host_work(&self) -> Arc<AtomicU64> {
        self.host_work.clone()
    }

    /// Counts `work` the host did for the call against its CPU limit.
    pub fn add_host_work(&self, work: Duration) {
        self.host_work.fetch_add(work.as_nanos() as u64, Ordering::Relaxed);
    }

    /// The CPU the call has cost so far, as counted.
    pub fn spent(&self) -> Duration {
        TICK * self.ticks as u32 + Duration::from_nanos(self.host_work.load(Ordering::Relaxed))
    }

    /// Called when an epoch passes while the guest runs.
    pub fn tick(&mut self) -> wasmtime::Result<UpdateDeadline> {
        self.ticks += 1;
        if self.spent() > self.limits.cpu_time {
            let exceeded = Exceeded::CpuTime { limit: self.limits.cpu_time };
            self.exceeded = Some(exceeded.clone());
            return Err(wasmtime::format_err!("{exceeded}"));
        }
        // Yield, so that a guest that computes for long does not hold the executor's thread.
        Ok(UpdateDeadline::Yield(1))
    }
}

impl ResourceLimiter for Meter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired as u64 > self.limits.memory {
            let exceeded = Exceeded::Memory { limit: self.limits.memory, asked: desired as u64 };
            self.exceeded = Some(exceeded.clone());
            return Err(wasmtime::format_err!("{exceeded}"));
        }
        self.memory = desired as u64;
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

#[cfg(test)]
mod tests;
