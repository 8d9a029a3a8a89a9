//! One tenant's blob store, as a mail server calls it: put, get (whole or a range), stat and
//! delete, each run in an instance of the tenant's own, admitted by its concurrency limit, and
//! reported by one telemetry event.

use std::ops::{Bound, RangeBounds};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{Semaphore, SemaphorePermit, mpsc};
use wasmtime::{CallHook, Store};
use wasmtime::component::Resource;

use crate::bindings;
use crate::body::{Sink, Source};
use crate::dialect::{Learned, ServerDialect};
use crate::bindings::store::{ByteRange, ObjectInfo as WitInfo};
use crate::error::{ErrorKind, StoreError};
use crate::limits::Limits;
use crate::sandbox::TenantState;
use crate::settings::TenantSettings;
use crate::telemetry::{self, CallCounts, Op, Outcome};
use crate::transport::Transport;
use crate::warm::{Warm, WarmPool};
use crate::Shared;

/// What a backend knows about a stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub size: u64,
    pub etag: String,
    pub last_modified: Option<String>,
}

/// One object of a listing: its key (without the tenant's key prefix), size, ETag and
/// Last-Modified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub key: String,
    pub size: u64,
    pub etag: String,
    pub last_modified: Option<String>,
}

/// A page of a listing, and the key the next page starts after (`None` after the last).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Page {
    pub objects: Vec<Listed>,
    pub next: Option<String>,
}

/// The pages of a listing, fetched one at a time ([`Tenant::list_all`]).
pub struct Listing {
    tenant: Tenant,
    prefix: String,
    after: Option<String>,
    done: bool,
}

impl Listing {
    /// The next page; `None` after the last. A page that fails can be asked for again.
    pub async fn next_page(&mut self) -> Option<Result<Vec<Listed>, StoreError>> {
        if self.done {
            return None;
        }
        match self.tenant.list(&self.prefix, self.after.as_deref(), crate::DEFAULT_LIST_PAGE).await {
            Ok(page) => {
                self.done = page.next.is_none();
                self.after = page.next;
                Some(Ok(page.objects))
            }
            Err(error) => Some(Err(error)),
        }
    }
}

/// A tenant's counters so far, for tests, progress bars and figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct TenantStats {
    /// Connections opened to the tenant's endpoint, by it and the tenants that share its
    /// connections (the same endpoint and TLS trust). Kept-alive connections are reused, so at
    /// steady state this stops growing.
    pub connections_opened: u64,
    /// Connections to the tenant's endpoint open now (shared likewise).
    pub connections_open: usize,
    /// Plugin instances made. Instances are kept warm for the tenant's next calls, so at steady
    /// state this grows only after a trap, a limit, a large put or a new plugin.
    pub instances_made: usize,
    /// Body bytes sent and received on the wire, retries included.
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// The largest linear memory a plugin instance of the tenant has had at the end of a call
    /// that returned: bodies never enter it, so it stays near the plugin's start whatever the
    /// blob sizes.
    pub largest_plugin_memory: u64,
}

/// One tenant's blob store. Cheap to clone, `Send + Sync`.
#[derive(Clone)]
pub struct Tenant {
    shared: Arc<Shared>,
    settings: Arc<TenantSettings>,
    /// The tenant's name for telemetry labels, shared rather than copied on every call.
    label: Arc<str>,
    transport: Arc<Transport>,
    admission: Arc<Admission>,
    warm: Arc<WarmPool>,
    /// What the tenant's calls have learned of its server.
    learned: Arc<Learned>,
}

impl Tenant {
    pub(crate) fn new(shared: Arc<Shared>, settings: TenantSettings, transport: Transport) -> Tenant {
        let limits = settings.limits();
        let warm = Arc::new(WarmPool::new(limits.concurrency, shared.idle_total.clone(), shared.idle_cap));
        shared.sweeper.register(&warm);
        Tenant {
            shared,
            label: Arc::from(settings.name()),
            settings: Arc::new(settings),
            transport: Arc::new(transport),
            admission: Arc::new(Admission::new(limits)),
            warm,
            learned: Arc::default(),
        }
    }

    /// What the tenant's calls have learned of its server so far: whether it refuses checksum
    /// headers (what `checksum = "auto"` settled on) and how far its clock is from the host's.
    pub fn server_dialect(&self) -> ServerDialect {
        self.learned.get()
    }

    pub fn settings(&self) -> &TenantSettings {
        &self.settings
    }

    pub fn stats(&self) -> TenantStats {
        let (bytes_sent, bytes_received) = self.transport.bytes_moved();
        TenantStats {
            connections_opened: self.transport.connections_opened(),
            connections_open: self.transport.connections_open(),
            instances_made: self.warm.made(),
            largest_plugin_memory: self.warm.largest_memory(),
            bytes_sent,
            bytes_received,
        }
    }

    /// The object's bytes, or those of `range`; `None` when it does not exist. `..` reads the
    /// whole object in one plain GET (so does `0..u64::MAX`, Stalwart's "whole blob"); `a..b`
    /// reads `[a, b)`, `a..` from `a` to the end. An end past the size reads to the end; a start
    /// at or past the size reads no bytes.
    pub async fn get(&self, key: &str, range: impl RangeBounds<u64>) -> Result<Option<Vec<u8>>, StoreError> {
        let range = byte_range(&range);
        let started = Instant::now();
        let (result, counts) = self
            .run(key, async |plugin, store| {
                let work = store.data().meter.host_work();
                let sink = store.data_mut().table().push(Sink::memory(work))?;
                let found = plugin.call_get(&mut *store, key, range, Resource::new_borrow(sink.rep())).await;
                let sink = store.data_mut().table().delete(sink)?;
                Ok(found?.map(|found| found.then(|| sink.take())))
            })
            .await;
        let bytes = result.as_ref().map_or(0, |data| data.as_ref().map_or(0, |d| d.len() as u64));
        self.report(Op::Get, key, bytes, started, counts, outcome(&result, Option::is_some));
        result
    }

    /// Writes the object's bytes, or those of `range` (as for [`Tenant::get`]), to `writer` as
    /// they arrive, in bounded memory: how many bytes were written, or `None` when the object
    /// does not exist (nothing is written then).
    ///
    /// The bytes are checked as they pass, against the object's digest where the server gave
    /// one; the check can only conclude at the end. So on an error the output may hold some
    /// bytes, damaged ones included: discard it and get again. A get that failed before its
    /// first byte was written is retried within the call like any other; once bytes are out, it
    /// is not.
    pub async fn get_stream<W: AsyncWrite + Unpin>(
        &self,
        key: &str,
        range: impl RangeBounds<u64>,
        writer: &mut W,
    ) -> Result<Option<u64>, StoreError> {
        let range = byte_range(&range);
        let started = Instant::now();
        let (sender, mut chunks) = mpsc::channel::<Bytes>(STREAM_CHUNKS);
        let call = self.run(key, async move |plugin, store| {
            let work = store.data().meter.host_work();
            let sink = store.data_mut().table().push(Sink::streaming(sender, work))?;
            let found = plugin.call_get(&mut *store, key, range, Resource::new_borrow(sink.rep())).await;
            store.data_mut().table().delete(sink)?;
            found
        });
        tokio::pin!(call);
        let mut written = 0u64;
        let mut write_failed = None;
        let (mut result, counts) = loop {
            tokio::select! {
                biased;
                Some(chunk) = chunks.recv(), if write_failed.is_none() => {
                    match writer.write_all(&chunk).await {
                        Ok(()) => written += chunk.len() as u64,
                        Err(e) => {
                            // The plugin's next write fails, and the call ends.
                            write_failed = Some(e);
                            chunks.close();
                        }
                    }
                }
                ended = &mut call => break ended,
            }
        };
        // What the plugin wrote before its call returned.
        while let (None, Ok(chunk)) = (&write_failed, chunks.try_recv()) {
            match writer.write_all(&chunk).await {
                Ok(()) => written += chunk.len() as u64,
                Err(e) => write_failed = Some(e),
            }
        }
        if write_failed.is_none() && matches!(result, Ok(true)) {
            write_failed = writer.flush().await.err();
        }
        if let Some(e) = write_failed {
            result = Err(StoreError::of_tenant(ErrorKind::Other, self.settings.name(), format!("key \"{key}\": writing the output: {e}")));
        }
        let result = result.map(|found| found.then_some(written));
        self.report(Op::Get, key, written, started, counts, outcome(&result, Option::is_some));
        result
    }

    /// Creates or replaces the object. Once this returns Ok, the object is readable (with
    /// `verify_after_write`, the default, a HEAD has found it with the size and MD5 sent).
    pub async fn put(&self, key: &str, data: &[u8]) -> Result<(), StoreError> {
        let started = Instant::now();
        // The one copy: the body the plugin splices into its requests, never into its memory.
        let body = Bytes::copy_from_slice(data);
        let (result, counts) = self.run(key, async |plugin, store| put_body(plugin, store, key, Source::whole(body)).await).await;
        self.report(Op::Put, key, data.len() as u64, started, counts, outcome(&result, |_| true));
        result
    }

    /// Creates or replaces the object with the `len` bytes `reader` gives, in bounded memory:
    /// the bytes are read as the upload needs them (a part at a time for each part in flight;
    /// the whole body when it is at most the multipart threshold). Once this returns Ok, the
    /// object is readable, as for [`Tenant::put`]. A reader that ends before `len` bytes fails
    /// the put; bytes after `len` are not read.
    ///
    /// Parts are read once: a multipart upload that verify-after-write finds wrong cannot be
    /// sent again from a reader, so that put fails, where a put from memory would retry.
    pub async fn put_stream<R: AsyncRead + Unpin>(&self, key: &str, mut reader: R, len: u64) -> Result<(), StoreError> {
        let started = Instant::now();
        let (sender, chunks) = mpsc::channel(STREAM_CHUNKS);
        let call = self.run(key, async |plugin, store| put_body(plugin, store, key, Source::streamed(len, chunks)).await);
        tokio::pin!(call);
        let pump = pump(&mut reader, sender, len);
        tokio::pin!(pump);
        let mut pumping = true;
        let (result, counts) = loop {
            tokio::select! {
                () = &mut pump, if pumping => pumping = false,
                ended = &mut call => break ended,
            }
        };
        self.report(Op::Put, key, len, started, counts, outcome(&result, |_| true));
        result
    }

    /// Deletes the object; `true` when it existed.
    pub async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        let started = Instant::now();
        let (result, counts) = self.run(key, async |plugin, store| plugin.call_delete(store, key).await).await;
        self.report(Op::Delete, key, 0, started, counts, outcome(&result, |existed| *existed));
        result
    }

    /// Size, ETag and Last-Modified of the object; `None` when it does not exist.
    pub async fn stat(&self, key: &str) -> Result<Option<ObjectInfo>, StoreError> {
        let started = Instant::now();
        let (result, counts) = self.run(key, async |plugin, store| plugin.call_stat(store, key).await).await;
        self.report(Op::Stat, key, 0, started, counts, outcome(&result, Option::is_some));
        result.map(|info: Option<WitInfo>| {
            info.map(|i| ObjectInfo { size: i.size, etag: i.etag, last_modified: i.last_modified })
        })
    }

    /// One page of the objects whose keys start with `prefix`, after the key `start_after`, at
    /// most `max` (1000 at most): ListObjectsV2, keys without the tenant's key prefix.
    pub async fn list(&self, prefix: &str, start_after: Option<&str>, max: u32) -> Result<Page, StoreError> {
        let started = Instant::now();
        let (result, counts) =
            self.run(prefix, async |plugin, store| plugin.call_list(store, prefix, start_after, max).await).await;
        let listed = result.as_ref().map_or(0, |p: &bindings::types::Page| p.objects.len() as u64);
        self.report(Op::List, prefix, listed, started, counts, outcome(&result, |_| true));
        result.map(|page| Page {
            objects: page
                .objects
                .into_iter()
                .map(|o| Listed { key: o.key, size: o.size, etag: o.etag, last_modified: o.last_modified })
                .collect(),
            next: page.next,
        })
    }

    /// Every object whose key starts with `prefix`, page after page.
    pub fn list_all(&self, prefix: &str) -> Listing {
        Listing { tenant: self.clone(), prefix: prefix.to_string(), after: None, done: false }
    }

    /// Runs one call of the plugin's store interface in an instance of this tenant's, admitted
    /// by its concurrency limit: the outcome, and what the call counted on its way.
    async fn run<T>(
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
        let mut warm = match self.sandbox().await {
            Ok(warm) => warm,
            Err(failed) => return (Err(failed), CallCounts::default()),
        };
        let Warm { store, plugin, .. } = &mut warm;
        let result = call(plugin.coffer_blobstore_store(), store).await;
        let counts = warm.store.data_mut().take_counts();
        (self.finish(warm, key, result), counts)
    }

    /// The call's telemetry event and metrics.
    fn report(&self, op: Op, key: &str, bytes: u64, started: Instant, counts: CallCounts, outcome: Outcome) {
        telemetry::record(&self.label, op, key, bytes, counts, started.elapsed(), outcome);
    }

    /// An instance for one call: one of the tenant's kept warm, or a new Store holding only
    /// this tenant's state with the plugin instantiated in it. Its CPU is counted from zero.
    async fn sandbox(&self) -> Result<Warm, StoreError> {
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
            Ok(Err(error)) => Err(StoreError::from_wit(error)),
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

/// Chunks in flight between a stream and the plugin's call.
const STREAM_CHUNKS: usize = 4;
/// The size of the chunks read from a caller's reader.
const READ_CHUNK: usize = 256 * 1024;

/// The plugin's put of `source`, which lives in the instance's table for the call.
async fn put_body(
    plugin: &bindings::store::Guest,
    store: &mut Store<TenantState>,
    key: &str,
    source: Source,
) -> wasmtime::Result<Result<(), bindings::store::Error>> {
    let source = store.data_mut().table().push(source)?;
    let done = plugin.call_put(&mut *store, key, Resource::new_borrow(source.rep())).await;
    store.data_mut().table().delete(source)?;
    done
}

/// Reads `len` bytes from `reader` in chunks onto `chunks`, until they are read, the reader
/// ends or fails (sent on, for the source to report), or the call stops listening.
async fn pump<R: AsyncRead + Unpin>(reader: &mut R, chunks: mpsc::Sender<std::io::Result<Bytes>>, len: u64) {
    let mut left = len;
    while left > 0 {
        let want = READ_CHUNK.min(usize::try_from(left).unwrap_or(usize::MAX));
        let mut chunk = BytesMut::with_capacity(want);
        while chunk.len() < want {
            match (&mut *reader).take((want - chunk.len()) as u64).read_buf(&mut chunk).await {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    let _ = chunks.send(Err(e)).await;
                    return;
                }
            }
        }
        if chunk.is_empty() {
            // The reader ended early: the source says so when the plugin asks for more.
            return;
        }
        left -= chunk.len() as u64;
        if chunks.send(Ok(chunk.freeze())).await.is_err() {
            return;
        }
    }
}

/// How a call ended, for telemetry: `found` tells an answer about an object that was there.
fn outcome<T>(result: &Result<T, StoreError>, found: impl Fn(&T) -> bool) -> Outcome {
    match result {
        Ok(value) if found(value) => Outcome::Ok,
        Ok(_) => Outcome::NotFound,
        Err(error) => Outcome::Failed(error.kind()),
    }
}

/// `..`, `a..b`, `a..`, `a..=b` as the WIT's half-open range; `None` for the whole object.
pub(crate) fn byte_range(range: &impl RangeBounds<u64>) -> Option<ByteRange> {
    let start = match range.start_bound() {
        Bound::Included(&s) => s,
        Bound::Excluded(&s) => s.saturating_add(1),
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(&e) => Some(e.saturating_add(1)),
        Bound::Excluded(&e) => Some(e),
        Bound::Unbounded => None,
    };
    match (start, end) {
        // The whole object: a plain GET, checked whole.
        (0, None | Some(u64::MAX)) => None,
        (start, Some(u64::MAX)) => Some(ByteRange { start, end: None }),
        (start, end) => Some(ByteRange { start, end }),
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

#[cfg(test)]
mod tests {
    use super::byte_range;

    #[test]
    fn ranges_map_to_the_wit_and_whole_reads_are_plain() {
        let r = |range: Option<crate::bindings::store::ByteRange>| range.map(|r| (r.start, r.end));
        assert_eq!(r(byte_range(&..)), None);
        assert_eq!(r(byte_range(&(0..u64::MAX))), None, "Stalwart's whole blob is one plain GET");
        assert_eq!(r(byte_range(&(0..))), None);
        assert_eq!(r(byte_range(&(11..57))), Some((11, Some(57))));
        assert_eq!(r(byte_range(&(11..=56))), Some((11, Some(57))));
        assert_eq!(r(byte_range(&(1000..))), Some((1000, None)));
        assert_eq!(r(byte_range(&(5..u64::MAX))), Some((5, None)));
        assert_eq!(r(byte_range(&(..10))), Some((0, Some(10))));
    }
}
