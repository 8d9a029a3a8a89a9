//! A get's body: where the bytes the plugin splices from a response go, in memory or on to the
//! caller's writer, hashed as they pass.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::mpsc;
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError, StreamResult};

use super::hasher::Hasher;

/// How many bytes a sink's stream takes per write.
const SINK_PERMIT: usize = 1 << 20;

/// Where a get's bytes go: into memory (a get answering a `Vec<u8>`), or to the caller's
/// writer as they come. It hashes what it receives with the check the plugin asked for.
pub struct Sink {
    state: Arc<Mutex<SinkState>>,
    /// The channel to the caller's writer, for a streaming sink.
    sender: Option<mpsc::Sender<Bytes>>,
}

/// Nanoseconds of hashing done for the call, counted against its CPU limit.
pub type Work = Arc<AtomicU64>;

struct SinkState {
    hasher: Hasher,
    size: u64,
    /// The bytes received, for a sink in memory.
    chunks: Vec<Bytes>,
    /// Bytes have gone to the caller's writer (a streaming sink cannot start over).
    written: bool,
    work: Work,
}

impl Sink {
    /// A sink that keeps the bytes in memory; its hashing time is added to `work`.
    pub fn memory(work: Work) -> Sink {
        Sink::new(None, work)
    }

    /// A sink that sends the bytes on `to` as they come; its hashing time is added to `work`.
    pub fn streaming(to: mpsc::Sender<Bytes>, work: Work) -> Sink {
        Sink::new(Some(to), work)
    }

    fn new(sender: Option<mpsc::Sender<Bytes>>, work: Work) -> Sink {
        let state = SinkState { hasher: Hasher::None, size: 0, chunks: Vec::new(), written: false, work };
        Sink { state: Arc::new(Mutex::new(state)), sender }
    }

    /// The bytes received, for a sink in memory.
    pub fn take(&self) -> Vec<u8> {
        let chunks = std::mem::take(&mut lock(&self.state).chunks);
        match <[Bytes; 1]>::try_from(chunks) {
            Ok([only]) => Vec::from(only),
            Err(chunks) => chunks.concat(),
        }
    }

    /// Empties the sink, which hashes what it receives next with `hasher`.
    pub(super) fn reset(&self, hasher: Hasher) -> Result<(), String> {
        let mut state = lock(&self.state);
        if state.written {
            return Err(format!(
                "{} bytes were already written to the output, which cannot take them back: \
                 the get cannot start over (discard the output and get again)",
                state.size
            ));
        }
        state.hasher = hasher;
        state.size = 0;
        state.chunks.clear();
        Ok(())
    }

    /// How many bytes were received, and their digest.
    pub(super) fn received(&self) -> (u64, Vec<u8>) {
        let state = lock(&self.state);
        (state.size, state.hasher.digest())
    }

    /// The output stream the plugin writes the bytes to.
    pub(super) fn stream(&self) -> SinkStream {
        SinkStream { state: self.state.clone(), sender: self.sender.clone() }
    }
}

/// The output stream a sink hands the plugin.
pub(super) struct SinkStream {
    state: Arc<Mutex<SinkState>>,
    sender: Option<mpsc::Sender<Bytes>>,
}

impl OutputStream for SinkStream {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        let mut state = lock(&self.state);
        let hashing = Instant::now();
        state.hasher.update(&bytes);
        state.work.fetch_add(hashing.elapsed().as_nanos() as u64, Ordering::Relaxed);
        state.size += bytes.len() as u64;
        match &self.sender {
            None => state.chunks.push(bytes),
            Some(sender) => {
                state.written = true;
                sender.try_send(bytes).map_err(|e| match e {
                    mpsc::error::TrySendError::Full(_) => StreamError::trap("write exceeded the permit"),
                    mpsc::error::TrySendError::Closed(_) => {
                        StreamError::LastOperationFailed(wasmtime::format_err!("the output was closed"))
                    }
                })?;
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        match &self.sender {
            None => Ok(SINK_PERMIT),
            Some(sender) if sender.is_closed() => {
                Err(StreamError::LastOperationFailed(wasmtime::format_err!("the output was closed")))
            }
            Some(sender) if sender.capacity() == 0 => Ok(0),
            Some(_) => Ok(SINK_PERMIT),
        }
    }
}

#[async_trait::async_trait]
impl Pollable for SinkStream {
    async fn ready(&mut self) {
        if let Some(sender) = &self.sender {
            // A free slot, or a closed channel: either way a write can be tried.
            let _ = sender.reserve().await;
        }
    }
}

fn lock(state: &Mutex<SinkState>) -> std::sync::MutexGuard<'_, SinkState> {
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
