//! Streamed gets and puts: a get's bytes on to the caller's writer as they arrive, a put's
//! from the caller's reader as the plugin asks, in bounded memory.

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use wasmtime::component::Resource;

use super::error::{ErrorKind, StoreError};
use super::telemetry::CallCounts;
use super::tenant::{Tenant, put_body};
use crate::encryption::{self, Broken, Opener, Sealer};
use crate::sandbox::bindings::store::ByteRange;
use crate::sandbox::body::{Sink, Source};

/// Chunks in flight between a stream and the plugin's call.
const STREAM_CHUNKS: usize = 4;
/// The size of the chunks read from a caller's reader.
const READ_CHUNK: usize = 256 * 1024;

impl Tenant {
    /// Streams the stored bytes of the object (or of `range`) to `writer`, opened by `opener`
    /// on the way for an encrypted tenant: how many bytes were written.
    pub(super) async fn stream_stored<W: AsyncWrite + Unpin>(
        &self,
        key: &str,
        range: Option<ByteRange>,
        writer: &mut W,
        opener: Option<Opener>,
    ) -> (Result<Option<u64>, StoreError>, CallCounts) {
        let (sender, mut chunks) = mpsc::channel::<Bytes>(STREAM_CHUNKS);
        let call = self.runner.run(key, async move |plugin, store| {
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
        StoreError::of_tenant(ErrorKind::Other, self.settings().name(), format!("key \"{key}\": writing the output: {e}"))
    }

    /// A put of the `len` bytes `reader` gives, pumped to the plugin's source as it asks,
    /// sealed on the way for an encrypted tenant.
    pub(super) async fn put_streamed<R: AsyncRead + Unpin>(&self, key: &str, mut reader: R, len: u64) -> (Result<(), StoreError>, CallCounts) {
        let (sender, chunks) = mpsc::channel(STREAM_CHUNKS);
        let sealer = self.settings().encryption().map(|keys| Sealer::new(keys, &self.object_name(key), len));
        let stored_len = sealer.as_ref().map_or(len, |_| encryption::sealed_len(len));
        let call = self.runner.run(key, async |plugin, store| put_body(plugin, store, key, Source::streamed(stored_len, chunks)).await);
        tokio::pin!(call);
        let pump = pump(&mut reader, sender, len, sealer);
        tokio::pin!(pump);
        let mut pumping = true;
        loop {
            tokio::select! {
                () = &mut pump, if pumping => pumping = false,
                ended = &mut call => break ended,
            }
        }
    }
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
