//! Where a read's bytes go: into memory, where a failed attempt can be sent again whole, or on
//! to the caller's writer as they arrive, in bounded memory. Either fetches stored bytes, opened
//! on the way when the encryption layer (sealed.rs) hands it an opener.

use std::sync::Arc;

use bytes::Bytes;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use wasmtime::component::Resource;

use super::error::{ErrorKind, StoreError};
use super::telemetry::CallCounts;
use crate::encryption::{Broken, Opener};
use crate::sandbox::bindings::store::ByteRange;
use crate::sandbox::body::Sink;
use crate::sandbox::body::sink::{Outbound, Queue};
use crate::sandbox::runner::Runner;

/// Where a read's bytes go, and what the read gives.
pub(super) trait Output {
    /// The bytes (in memory), or how many were written (to a writer).
    type Got;
    /// What a read of no bytes gives.
    fn nothing(&self) -> Self::Got;
    /// Fetches the stored bytes of `stored` (the whole object for `None`), opened by `opener`
    /// on the way for an encrypted tenant; `None` when the object does not exist.
    async fn fetch(self, runner: &Runner, key: &str, stored: Option<ByteRange>, opener: Option<Opener>)
        -> (Result<Option<Self::Got>, StoreError>, CallCounts);
}

/// Into memory: the sink keeps what the plugin writes, and a failed attempt's bytes are
/// dropped when it is sent again.
pub(super) struct Memory;

impl Memory {
    /// The stored bytes of `range`, as they are (an encrypted object's header).
    pub(super) async fn fetch_stored(self, runner: &Runner, key: &str, range: ByteRange) -> (Result<Option<Vec<u8>>, StoreError>, CallCounts) {
        self.fetch(runner, key, Some(range), None).await
    }
}

impl Output for Memory {
    type Got = Vec<u8>;

    fn nothing(&self) -> Vec<u8> {
        Vec::new()
    }

    async fn fetch(self, runner: &Runner, key: &str, stored: Option<ByteRange>, opener: Option<Opener>) -> (Result<Option<Vec<u8>>, StoreError>, CallCounts) {
        let hedge = runner.hedge_after_us();
        let (result, counts) = runner
            .run(key, async |plugin, store| {
                let work = store.data().meter.host_work();
                let sink = store.data_mut().table().push(Sink::memory(work))?;
                let found = plugin.call_get(&mut *store, key, stored, Resource::new_borrow(sink.rep()), hedge).await;
                let sink = store.data_mut().table().delete(sink)?;
                Ok(found?.map(|found| found.then(|| sink.take())))
            })
            .await;
        let opened = match opener {
            None => result,
            Some(opener) => result.and_then(|s| s.map(|s| opener.open_all(s).map_err(|b| StoreError::broken(runner.settings.name(), key, b))).transpose()),
        };
        (opened, counts)
    }
}

/// On to the caller's writer as the bytes arrive: once some are out, a failed read is not
/// sent again.
pub(super) struct Writer<'w, W>(pub &'w mut W);

impl<W: AsyncWrite + Unpin> Output for Writer<'_, W> {
    type Got = u64;

    fn nothing(&self) -> u64 {
        0
    }

    async fn fetch(self, runner: &Runner, key: &str, stored: Option<ByteRange>, opener: Option<Opener>) -> (Result<Option<u64>, StoreError>, CallCounts) {
        // The sink stops taking bytes in order while a megabyte is on its way (sink.rs).
        let (sender, mut chunks) = mpsc::unbounded_channel::<Bytes>();
        let queue = Arc::new(Queue::default());
        let outbound = Outbound::new(sender, queue.clone());
        let hedge = runner.hedge_after_us();
        let call = runner.run(key, async move |plugin, store| {
            let work = store.data().meter.host_work();
            let sink = store.data_mut().table().push(Sink::streaming(outbound, work))?;
            let found = plugin.call_get(&mut *store, key, stored, Resource::new_borrow(sink.rep()), hedge).await;
            store.data_mut().table().delete(sink)?;
            found
        });
        tokio::pin!(call);
        let mut output = Opened { writer: self.0, opener, plain: Vec::new(), written: 0 };
        let mut failed: Option<StoreError> = None;
        let (mut result, counts) = loop {
            tokio::select! {
                biased;
                Some(chunk) = chunks.recv(), if failed.is_none() => {
                    queue.took(chunk.len());
                    if let Err(e) = output.take(&chunk).await {
                        failed = Some(refused(runner, key, e));
                        // The plugin's next write fails, and the call ends.
                        chunks.close();
                    }
                }
                ended = &mut call => break ended,
            }
        };
        // What the plugin wrote before its call returned.
        while let (None, Ok(chunk)) = (&failed, chunks.try_recv()) {
            failed = output.take(&chunk).await.err().map(|e| refused(runner, key, e));
        }
        if failed.is_none() && matches!(result, Ok(true)) {
            failed = output.finish().await.err().map(|e| refused(runner, key, e));
        }
        if let Some(e) = failed {
            result = Err(e);
        }
        (result.map(|found| found.then_some(output.written)), counts)
    }
}

/// A writer's bytes, through the opener of an encrypted tenant, which hands on a segment only
/// once it has authenticated.
struct Opened<'w, W> {
    writer: &'w mut W,
    opener: Option<Opener>,
    plain: Vec<u8>,
    written: u64,
}

/// Why a writer did not take a read's bytes.
enum Refused {
    Broken(Broken),
    Write(std::io::Error),
}

impl<W: AsyncWrite + Unpin> Opened<'_, W> {
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

/// A writer that did not take a read's bytes, as the call's error.
fn refused(runner: &Runner, key: &str, refused: Refused) -> StoreError {
    let tenant = runner.settings.name();
    match refused {
        Refused::Broken(broken) => StoreError::broken(tenant, key, broken),
        Refused::Write(e) => StoreError::of_tenant(ErrorKind::Other, tenant, format!("key \"{key}\": writing the output: {e}")),
    }
}
