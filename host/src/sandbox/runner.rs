//! A tenant's sandbox, as its calls use it: each call admitted by the tenant's concurrency
//! limit, run in an instance of the tenant's own (one kept warm, or one made from the prepared
//! plugin in a Store that holds only the tenant's state), metered against its limits, and the
//! instance dropped after a trap or a limit.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{Semaphore, SemaphorePermit};
use wasmtime::{CallHook, Store};

use crate::api::dialect::Learned;
use crate::api::error::{ErrorKind, StoreError};
use crate::api::telemetry::CallCounts;
use crate::net::transport::Transport;
use crate::sandbox::bindings;
use crate::sandbox::engine::Shared;
use crate::sandbox::limits::Limits;
use crate::sandbox::state::TenantState;
use crate::sandbox::warm::{Warm, WarmPool};
use crate::settings::TenantSettings;

/// One tenant's sandbox: its settings, its transport, its warm instances, what its calls have
/// learned of its server, and its admission.
pub(crate) struct Runner {
    shared: Arc<Shared>,
    pub(crate) settings: Arc<TenantSettings>,
    pub(crate) transport: Arc<Transport>,
    pub(crate) warm: Arc<WarmPool>,
    /// What the tenant's calls have learned of its server.
    pub(crate) learned: Arc<Learned>,
    admission: Admission,
}

impl Runner {
    pub(crate) fn new(shared: Arc<Shared>, settings: TenantSettings, transport: Transport) -> Runner {
        let limits = settings.limits();
        let warm = Arc::new(WarmPool::new(limits.concurrency, shared.idle_total.clone(), shared.idle_cap));
        shared.sweeper.register(&warm);
        Runner {
            shared,
            settings: Arc::new(settings),
            transport: Arc::new(transport),
            warm,
            learned: Arc::default(),
            admission: Admission::new(limits),
        }
    }

    /// Runs one call of the plugin's store interface in an instance of the tenant's, admitted
    /// by its concurrency limit: the outcome, and what the call counted on its way.
    pub(crate) async fn run<T>(
        &self,
        key: &str,
        call: impl AsyncFnOnce(
            &bindings::store::Guest,
            &mut Store<TenantState>,
        ) -> wasmtime::Result<Result<T, bindings::store::Error>>,
    ) -> (Result<T, StoreError>, CallCounts) {
        let _slot = match self.admission.enter(self.settings.name()).await {
            Ok(slot) => slot,
            Err(refused) => return (Err(refused), CallCounts::default()),
        };
        let mut warm = match self.instance().await {
            Ok(warm) => warm,
            Err(failed) => return (Err(failed), CallCounts::default()),
        };
        let Warm { store, plugin, .. } = &mut warm;
        let result = call(plugin.coffer_blobstore_store(), store).await;
        let counts = warm.store.data_mut().take_counts();
        self.transport.hedge.hedged(counts.hedged, counts.hedges_won);
        (self.finish(warm, key, result), counts)
    }

    /// How long a get's GET may wait for its answer before it is sent once more, in
    /// microseconds; `None` when hedging is off, too little is known, or the share of extra
    /// GETs is spent (net/hedge.rs).
    pub(crate) fn hedge_after_us(&self) -> Option<u64> {
        if !self.settings.hedge_reads() {
            return None;
        }
        let bound = self.transport.hedge.bound()?;
        Some(u64::try_from(bound.as_micros()).unwrap_or(u64::MAX).max(1))
    }

    /// An instance for one call: one of the tenant's kept warm, or a new Store holding only
    /// this tenant's state with the plugin instantiated in it. Its CPU is counted from zero.
    async fn instance(&self) -> Result<Warm, StoreError> {
        let (generation, pre) = self.shared.pre.read().unwrap_or_else(|p| p.into_inner()).clone();
        let mut warm = match self.warm.take(generation) {
            Some(warm) => warm,
            None => {
                let state = TenantState::new(self.settings.clone(), self.transport.clone(), self.learned.clone());
                let mut store = Store::new(&self.shared.engine, state);
                store.limiter(|state| &mut state.meter);
                store.epoch_deadline_callback(|mut context| context.data_mut().meter.tick());
                // Time in the host is not the guest's: each return from the host moves the
                // guest's deadline to the next epoch, so only epochs that pass while the guest
                // runs are counted (see limits.rs).
                store.call_hook(|mut context, hook| {
                    if matches!(hook, CallHook::ReturningFromHost) {
                        context.set_epoch_deadline(1);
                    }
                    Ok(())
                });
                let plugin = pre.instantiate_async(&mut store).await.map_err(|e| {
                    StoreError::of_tenant(ErrorKind::Sandbox, self.settings.name(), format!("{e:#}"))
                })?;
                self.warm.made_one();
                Warm { store, plugin, generation, calls: 0, idle_since: std::time::Instant::now() }
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
        let tenant = self.settings.name();
        let exceeded = warm.store.data().meter.exceeded.as_ref().map(ToString::to_string);
        let outcome = match result {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(StoreError::from(error)),
            Err(_) if exceeded.is_some() => Err(StoreError::of_tenant(
                ErrorKind::LimitExceeded,
                tenant,
                format!("key \"{key}\": {}", exceeded.unwrap_or_default()),
            )),
            Err(trap) => Err(StoreError::of_tenant(ErrorKind::Sandbox, tenant, format!("key \"{key}\": {trap:#}"))),
        };
        let broken = matches!(&outcome, Err(e) if matches!(e.kind(), ErrorKind::Sandbox | ErrorKind::LimitExceeded));
        if !broken {
            let generation = self.shared.pre.read().unwrap_or_else(|p| p.into_inner()).0;
            self.warm.give_back(warm, generation);
        }
        outcome
    }
}

/// A tenant's concurrency limit: `concurrency` calls run, up to `queue` wait, more are refused.
struct Admission {
    slots: Semaphore,
    waiting: AtomicUsize,
    limits: Limits,
}

impl Admission {
    fn new(limits: Limits) -> Admission {
        Admission { slots: Semaphore::new(limits.concurrency), waiting: AtomicUsize::new(0), limits }
    }

    async fn enter(&self, tenant: &str) -> Result<SemaphorePermit<'_>, StoreError> {
        if let Ok(permit) = self.slots.try_acquire() {
            return Ok(permit);
        }
        let waiting = self.waiting.fetch_add(1, Ordering::SeqCst);
        let _leave = Leave(&self.waiting);
        if waiting >= self.limits.queue() {
            let message = format!(
                "concurrency limit: {} calls in flight and {} waiting; call refused",
                self.limits.concurrency,
                self.limits.queue()
            );
            return Err(StoreError::of_tenant(ErrorKind::LimitExceeded, tenant, message));
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
