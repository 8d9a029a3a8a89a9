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

use crate::sandbox::bindings;
use crate::sandbox::body::{Sink, Source};
use crate::api::dialect::{Learned, ServerDialect};
use crate::sandbox::bindings::store::{ByteRange, ObjectInfo as WitInfo};
use crate::encryption::{self, Broken, Header, KeyRing, Opener, Sealer};
use crate::api::error::{ErrorKind, StoreError};
use crate::sandbox::limits::Limits;
use crate::sandbox::state::TenantState;
use crate::settings::TenantSettings;
use crate::api::telemetry::{self, CallCounts, Op, Outcome};
use crate::net::transport::Transport;
use crate::sandbox::warm::{Warm, WarmPool};
use crate::sandbox::engine::Shared;

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
        let (result, counts) = match self.settings.encryption() {
            None => self.get_stored(key, range).await,
            Some(keys) => self.get_sealed(keys, key, range).await,
        };
        let bytes = result.as_ref().map_or(0, |data| data.as_ref().map_or(0, |d| d.len() as u64));
        self.report(Op::Get, key, bytes, started, counts, outcome(&result, Option::is_some));
        result
    }

    /// The stored bytes of the object, or of `range`, in memory.
    async fn get_stored(&self, key: &str, range: Option<ByteRange>) -> (Result<Option<Vec<u8>>, StoreError>, CallCounts) {
        self.run(key, async |plugin, store| {
            let work = store.data().meter.host_work();
            let sink = store.data_mut().table().push(Sink::memory(work))?;
            let found = plugin.call_get(&mut *store, key, range, Resource::new_borrow(sink.rep())).await;
            let sink = store.data_mut().table().delete(sink)?;
            Ok(found?.map(|found| found.then(|| sink.take())))
        })
        .await
    }

    /// An encrypted tenant's get: the whole object opened, or the header and then only the
    /// segments that cover `range`.
    async fn get_sealed(&self, keys: &KeyRing, key: &str, range: Option<ByteRange>) -> (Result<Option<Vec<u8>>, StoreError>, CallCounts) {
        let name = self.object_name(key);
        let Some(range) = range else {
            let (stored, counts) = self.get_stored(key, None).await;
            let opened = stored.and_then(|s| s.map(|s| encryption::open(keys, &name, s).map_err(|b| self.broken(key, b))).transpose());
            return (opened, counts);
        };
        let (planned, mut counts) = self.plan_range(keys, key, &name, range).await;
        let (stored_range, mut opener) = match planned {
            Ok(Planned::Read(stored_range, opener)) => (stored_range, opener),
            Ok(Planned::Nothing) => return (Ok(Some(Vec::new())), counts),
            Ok(Planned::Missing) => return (Ok(None), counts),
            Err(e) => return (Err(e), counts),
        };
        let (stored, more) = self.get_stored(key, Some(stored_range)).await;
        counts.add(&more);
        let opened = stored.and_then(|stored| {
            let Some(stored) = stored else { return Ok(None) };
            let mut out = Vec::new();
            opener.push(&stored, &mut out).and_then(|()| opener.finish()).map_err(|b| self.broken(key, b))?;
            Ok(Some(out))
        });
        (opened, counts)
    }

    /// For a ranged read of an encrypted object: its header, read first, and from it the stored
    /// bytes that hold `range` and the opener for them.
    async fn plan_range(&self, keys: &KeyRing, key: &str, name: &str, range: ByteRange) -> (Result<Planned, StoreError>, CallCounts) {
        let (header, counts) = self.sealed_header(key).await;
        let planned = header.and_then(|header| {
            let Some(header) = header else { return Ok(Planned::Missing) };
            let Some(plan) = header.plan(range.start, range.end) else { return Ok(Planned::Nothing) };
            let opener = Opener::ranged(keys, name, header, plan).map_err(|b| self.broken(key, b))?;
            Ok(Planned::Read(ByteRange { start: plan.stored.0, end: Some(plan.stored.1) }, Box::new(opener)))
        });
        (planned, counts)
    }

    /// For an encrypted tenant: the id of the key the object was sealed with, read from its
    /// header (a GET of its first 88 bytes); `None` when it does not exist. `coffer rewrap`
    /// seals again, with the current key, the objects this names an older key for.
    pub async fn sealed_with(&self, key: &str) -> Result<Option<String>, StoreError> {
        if self.settings.encryption().is_none() {
            return Err(StoreError::of_tenant(ErrorKind::InvalidConfig, self.settings.name(), "the tenant has no [encryption]"));
        }
        let started = Instant::now();
        let (header, counts) = self.sealed_header(key).await;
        let bytes = if matches!(header, Ok(Some(_))) { encryption::HEADER_LEN as u64 } else { 0 };
        self.report(Op::Get, key, bytes, started, counts, outcome(&header, Option::is_some));
        header.map(|h| h.map(|h| h.key_id))
    }

    /// An encrypted object's header, read by a ranged GET of its first bytes.
    async fn sealed_header(&self, key: &str) -> (Result<Option<Header>, StoreError>, CallCounts) {
        let first = ByteRange { start: 0, end: Some(encryption::HEADER_LEN as u64) };
        let (stored, counts) = self.get_stored(key, Some(first)).await;
        let header = stored.and_then(|s| s.map(|s| Header::decode(&s).map_err(|b| self.broken(key, b))).transpose());
        (header, counts)
    }

    /// The object's name in the bucket, which an encrypted object is bound to.
    fn object_name(&self, key: &str) -> String {
        format!("{}{key}", self.settings.key_prefix())
    }

    /// Why an encrypted object did not open, as the call's error.
    fn broken(&self, key: &str, broken: Broken) -> StoreError {
        let (kind, message) = match broken {
            Broken::Integrity(m) => (ErrorKind::Integrity, m),
            Broken::MissingKey(m) => (ErrorKind::InvalidConfig, m),
        };
        StoreError::of_tenant(kind, self.settings.name(), format!("key \"{key}\": {message}"))
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
        let (result, counts) = match self.settings.encryption() {
            None => self.stream_stored(key, range, writer, None).await,
            Some(keys) => {
                let name = self.object_name(key);
                match range {
                    None => self.stream_stored(key, None, writer, Some(Opener::whole(keys, &name))).await,
                    Some(range) => {
                        let (planned, mut counts) = self.plan_range(keys, key, &name, range).await;
                        match planned {
                            Ok(Planned::Read(stored_range, opener)) => {
                                let (result, more) = self.stream_stored(key, Some(stored_range), writer, Some(*opener)).await;
                                counts.add(&more);
                                (result, counts)
                            }
                            Ok(Planned::Nothing) => (Ok(Some(0)), counts),
                            Ok(Planned::Missing) => (Ok(None), counts),
                            Err(e) => (Err(e), counts),
                        }
                    }
                }
            }
        };
        let written = result.as_ref().map_or(0, |w| w.unwrap_or(0));
        self.report(Op::Get, key, written, started, counts, outcome(&result, Option::is_some));
        result
    }

    /// Streams the stored bytes of the object (or of `range`) to `writer`, opened by `opener`
    /// on the way for an encrypted tenant: how many bytes were written.
    async fn stream_stored<W: AsyncWrite + Unpin>(
        &self,
        key: &str,
        range: Option<ByteRange>,
        writer: &mut W,
        opener: Option<Opener>,
    ) -> (Result<Option<u64>, StoreError>, CallCounts) {
        let (sender, mut chunks) = mpsc::channel::<Bytes>(STREAM_CHUNKS);
        let call = self.run(key, async move |plugin, store| {
            let work = store.data().meter.host_work();
            let sink = store.data_mut().table().push(Sink::streaming(sender, work))?;
            let found = plugin.call_get(&mut *store, key, range, Resource::new_borrow(sink.rep())).await;
            store.data_mut().table().delete(sink)?;
            found
        });
        tokio::pin!(call);
        let mut output = Output { writer, opener, plain: Vec::new(), written: 0 };
        let mut failed: Option<StoreError> = None;
        let (mut result, counts) = loop {
            tokio::select! {
                biased;
                Some(chunk) = chunks.recv(), if failed.is_none() => {
                    if let Err(e) = output.take(&chunk).await {
                        failed = Some(self.refused(key, e));
                        // The plugin's next write fails, and the call ends.
                        chunks.close();
                    }
                }
                ended = &mut call => break ended,
            }
        };
        // What the plugin wrote before its call returned.
        while let (None, Ok(chunk)) = (&failed, chunks.try_recv()) {
            failed = output.take(&chunk).await.err().map(|e| self.refused(key, e));
        }
        if failed.is_none() && matches!(result, Ok(true)) {
            failed = output.finish().await.err().map(|e| self.refused(key, e));
        }
        if let Some(e) = failed {
            result = Err(e);
        }
        (result.map(|found| found.then_some(output.written)), counts)
    }

    /// A get's output that did not take its bytes, as the call's error.
    fn refused(&self, key: &str, refused: Refused) -> StoreError {
        match refused {
            Refused::Broken(broken) => self.broken(key, broken),
            Refused::Write(e) => self.output_failed(key, e),
        }
    }

    fn output_failed(&self, key: &str, e: std::io::Error) -> StoreError {
        StoreError::of_tenant(ErrorKind::Other, self.settings.name(), format!("key \"{key}\": writing the output: {e}"))
    }

    /// Creates or replaces the object. Once this returns Ok, the object is readable (with
    /// `verify_after_write`, the default, a HEAD has found it with the size and MD5 sent).
    pub async fn put(&self, key: &str, data: &[u8]) -> Result<(), StoreError> {
        let started = Instant::now();
        // The one copy: the body the plugin splices into its requests, never into its memory
        // (sealed on the way for an encrypted tenant).
        let body = match self.settings.encryption() {
            Some(keys) => Bytes::from(encryption::seal(keys, &self.object_name(key), data)),
            None => Bytes::copy_from_slice(data),
        };
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
        let sealer = self.settings.encryption().map(|keys| Sealer::new(keys, &self.object_name(key), len));
        let stored_len = sealer.as_ref().map_or(len, |_| encryption::sealed_len(len));
        let call = self.run(key, async |plugin, store| put_body(plugin, store, key, Source::streamed(stored_len, chunks)).await);
        tokio::pin!(call);
        let pump = pump(&mut reader, sender, len, sealer);
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
            info.map(|i| ObjectInfo { size: self.plain_size(i.size), etag: i.etag, last_modified: i.last_modified })
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
                .map(|o| Listed { key: o.key, size: self.plain_size(o.size), etag: o.etag, last_modified: o.last_modified })
                .collect(),
            next: page.next,
        })
    }

    /// The size of the blob an object of `stored` bytes holds: for an encrypted tenant, its
    /// plaintext's (an object that cannot be one Coffer sealed keeps its stored size).
    fn plain_size(&self, stored: u64) -> u64 {
        match self.settings.encryption() {
            Some(_) => encryption::plain_len(stored).unwrap_or(stored),
            None => stored,
        }
    }

    /// Every object whose key starts with `prefix`, page after page.
    pub fn list_all(&self, prefix: &str) -> Listing {
        Listing { tenant: self.clone(), prefix: prefix.to_string(), after: None, done: false }
    }

    /// Runs one call of the plugin's store interface in an instance of this tenant's, admitted
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
    pub(crate) fn report(&self, op: Op, key: &str, bytes: u64, started: Instant, counts: CallCounts, outcome: Outcome) {
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

/// What a ranged read of an encrypted object fetches after its header.
enum Planned {
    /// The object does not exist.
    Missing,
    /// The range holds no byte of the object.
    Nothing,
    /// These stored bytes, opened by this opener.
    Read(ByteRange, Box<Opener>),
}

/// Where a streamed get's bytes go: the caller's writer, through the opener of an encrypted
/// tenant, which hands on a segment only once it has authenticated.
struct Output<'w, W> {
    writer: &'w mut W,
    opener: Option<Opener>,
    plain: Vec<u8>,
    written: u64,
}

/// Why a get's output did not take its bytes.
enum Refused {
    Broken(Broken),
    Write(std::io::Error),
}

impl<W: AsyncWrite + Unpin> Output<'_, W> {
    /// Hands on a chunk of the stored bytes.
    async fn take(&mut self, chunk: &[u8]) -> Result<(), Refused> {
        let out = match self.opener.as_mut() {
            None => chunk,
            Some(opener) => {
                self.plain.clear();
                opener.push(chunk, &mut self.plain).map_err(Refused::Broken)?;
                &self.plain[..]
            }
        };
        self.writer.write_all(out).await.map_err(Refused::Write)?;
        self.written += out.len() as u64;
        Ok(())
    }

    /// After the last byte: every segment was there, and the writer is flushed.
    async fn finish(&mut self) -> Result<(), Refused> {
        if let Some(opener) = &self.opener {
            opener.finish().map_err(Refused::Broken)?;
        }
        self.writer.flush().await.map_err(Refused::Write)
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
/// ends or fails (sent on, for the source to report), or the call stops listening. With a
/// `sealer`, what goes on is the sealed object: its header, then each chunk's segments (a
/// chunk is a whole number of segments, but the last).
async fn pump<R: AsyncRead + Unpin>(
    reader: &mut R,
    chunks: mpsc::Sender<std::io::Result<Bytes>>,
    len: u64,
    mut sealer: Option<Sealer>,
) {
    if let Some(sealer) = sealer.as_mut() {
        let mut first = sealer.header().to_vec();
        if len == 0 {
            sealer.push(&[], &mut first);
        }
        if chunks.send(Ok(Bytes::from(first))).await.is_err() {
            return;
        }
    }
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
        let chunk = match sealer.as_mut() {
            None => chunk.freeze(),
            Some(sealer) => {
                let mut sealed = Vec::with_capacity(chunk.len() + (chunk.len() / encryption::SEGMENT + 1) * encryption::TAG);
                sealer.push(&chunk, &mut sealed);
                Bytes::from(sealed)
            }
        };
        if chunks.send(Ok(chunk)).await.is_err() {
            return;
        }
    }
}

/// How a call ended, for telemetry: `found` tells an answer about an object that was there.
pub(crate) fn outcome<T>(result: &Result<T, StoreError>, found: impl Fn(&T) -> bool) -> Outcome {
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
        let r = |range: Option<crate::sandbox::bindings::store::ByteRange>| range.map(|r| (r.start, r.end));
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
