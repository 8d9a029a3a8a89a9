//! The one write core, under put and put_stream: the encryption layer seals what is sent
//! (sealed.rs), and the plugin's put reads its body from a source: the whole body in memory,
//! which can be sent again, or the caller's reader, pumped as the plugin asks, in bounded memory.

use std::future::Future;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;
use wasmtime::Store;
use wasmtime::component::Resource;

use super::error::StoreError;
use super::sealed;
use super::telemetry::CallCounts;
use crate::encryption::{self, Sealer};
use crate::sandbox::bindings;
use crate::sandbox::body::Source;
use crate::sandbox::runner::Runner;
use crate::sandbox::state::TenantState;

/// Chunks in flight between the caller's reader and the plugin's call.
const STREAM_CHUNKS: usize = 4;
/// The size of the chunks read from a caller's reader.
const READ_CHUNK: usize = 256 * 1024;

/// Puts `data`, sealed first for an encrypted tenant: one copy, which the plugin splices into
/// its requests, never into its memory.
pub(super) async fn from_memory(runner: &Runner, key: &str, data: &[u8]) -> (Result<(), StoreError>, CallCounts) {
    let body = sealed::body(&runner.settings, key, data);
    write(runner, key, Source::whole(body), std::future::ready(())).await
}

/// Puts the `len` bytes `reader` gives, sealed on the way for an encrypted tenant.
pub(super) async fn from_reader<R: AsyncRead + Unpin>(runner: &Runner, key: &str, mut reader: R, len: u64) -> (Result<(), StoreError>, CallCounts) {
    let (sender, chunks) = mpsc::channel(STREAM_CHUNKS);
    let (sealer, stored_len) = sealed::sealer(&runner.settings, key, len);
    write(runner, key, Source::streamed(stored_len, chunks), pump(&mut reader, sender, len, sealer)).await
}

/// The plugin's put of `source`, while `feed` fills it.
async fn write(runner: &Runner, key: &str, source: Source, feed: impl Future<Output = ()>) -> (Result<(), StoreError>, CallCounts) {
    let call = runner.run(key, async |plugin, store| put_body(plugin, store, key, source).await);
    tokio::pin!(call);
    tokio::pin!(feed);
    let mut feeding = true;
    loop {
        tokio::select! {
            () = &mut feed, if feeding => feeding = false,
            ended = &mut call => break ended,
        }
    }
}

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
