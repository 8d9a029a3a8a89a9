//! A get's body: where the bytes the plugin splices from a response go, in memory or on to the
//! caller's writer, hashed as they pass, in order. Bytes may also arrive ahead of their turn
//! (a large object read in parallel ranges, `write-at`): they are held here until the bytes
//! before them are in.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::{Notify, mpsc};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError, StreamResult};

use super::hasher::Hasher;

/// How many bytes a sink's stream takes per write.
const SINK_PERMIT: usize = 1 << 20;
/// Bytes on their way to the caller's writer past which the in-order stream takes no more
/// until the writer catches up.
const QUEUED_BYTES: u64 = 1 << 20;

/// Where a get's bytes go: into memory (a get answering a `Vec<u8>`), or to the caller's
/// writer as they come. It hashes what it receives with the check the plugin asked for.
pub struct Sink {
    state: Arc<Mutex<SinkState>>,
    /// The way to the caller's writer, for a streaming sink.
    out: Option<Outbound>,
}

/// Bytes on their way to the caller's writer: the channel, and how many bytes are in it.
#[derive(Clone)]
pub struct Outbound {
    sender: mpsc::UnboundedSender<Bytes>,
    queue: Arc<Queue>,
}

/// How many bytes wait in the channel to the caller's writer; the writer's side takes them off.
#[derive(Default)]
pub struct Queue {
    bytes: AtomicU64,
    taken: Notify,
}

impl Queue {
    /// The writer's side took `n` bytes off the channel.
    pub fn took(&self, n: usize) {
        self.bytes.fetch_sub(n as u64, Ordering::AcqRel);
        self.taken.notify_waiters();
    }
}

impl Outbound {
    pub fn new(sender: mpsc::UnboundedSender<Bytes>, queue: Arc<Queue>) -> Outbound {
        Outbound { sender, queue }
    }

    fn send(&self, bytes: Bytes) -> StreamResult<()> {
        let n = bytes.len() as u64;
        self.sender.send(bytes).map_err(|_| StreamError::LastOperationFailed(wasmtime::format_err!("the output was closed")))?;
        self.queue.bytes.fetch_add(n, Ordering::AcqRel);
        Ok(())
    }

    fn full(&self) -> bool {
        self.queue.bytes.load(Ordering::Acquire) >= QUEUED_BYTES
    }
}

/// Nanoseconds of hashing done for the call, counted against its CPU limit.
pub type Work = Arc<AtomicU64>;

struct SinkState {
    hasher: Hasher,
    /// Bytes received in order.
    size: u64,
    /// The bytes received, for a sink in memory.
    chunks: Vec<Bytes>,
    /// Bytes that arrived ahead of their turn, by where they start.
    held: BTreeMap<u64, Bytes>,
    /// Bytes have gone to the caller's writer (a streaming sink cannot start over).
    written: bool,
    work: Work,
}

impl SinkState {
    /// `bytes`, which come next in order: hashed, and kept or sent on.
    fn take(&mut self, bytes: Bytes, out: Option<&Outbound>) -> StreamResult<()> {
        let hashing = Instant::now();
        self.hasher.update(&bytes);
        self.work.fetch_add(hashing.elapsed().as_nanos() as u64, Ordering::Relaxed);
        self.size += bytes.len() as u64;
        match out {
            None => self.chunks.push(bytes),
            Some(out) => {
                self.written = true;
                out.send(bytes)?;
            }
        }
        Ok(())
    }

    /// `bytes` that start at `at`: taken now when they come next, else held; then whatever
    /// held bytes come next.
    fn arrive(&mut self, at: u64, bytes: Bytes, out: Option<&Outbound>) -> StreamResult<()> {
        if at < self.size {
            return Err(StreamError::trap("bytes written over bytes already received"));
        }
        match at == self.size {
            true => self.take(bytes, out)?,
            false => {
                self.held.insert(at, bytes);
            }
        }
        while let Some(entry) = self.held.first_entry().filter(|e| *e.key() == self.size) {
            let next = entry.remove();
            self.take(next, out)?;
        }
        Ok(())
    }
}

impl Sink {
    /// A sink that keeps the bytes in memory; its hashing time is added to `work`.
    pub fn memory(work: Work) -> Sink {
        Sink::new(None, work)
    }

    /// A sink that sends the bytes on `out` as they come; its hashing time is added to `work`.
    pub fn streaming(out: Outbound, work: Work) -> Sink {
        Sink::new(Some(out), work)
    }

    fn new(out: Option<Outbound>, work: Work) -> Sink {
        let state = SinkState { hasher: Hasher::None, size: 0, chunks: Vec::new(), held: BTreeMap::new(), written: false, work };
        Sink { state: Arc::new(Mutex::new(state)), out }
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
        state.held.clear();
        Ok(())
    }

    /// How many bytes were received in order, and their digest.
    pub(super) fn received(&self) -> (u64, Vec<u8>) {
        let state = lock(&self.state);
        (state.size, state.hasher.digest())
    }

    /// The output stream the plugin writes the bytes to, in order.
    pub(super) fn stream(&self) -> SinkStream {
        SinkStream { state: self.state.clone(), out: self.out.clone(), at: None }
    }

    /// An output stream for the bytes from `offset` on, which may come before the bytes ahead
    /// of them: held until those are in.
    pub(super) fn stream_at(&self, offset: u64) -> SinkStream {
        SinkStream { state: self.state.clone(), out: self.out.clone(), at: Some(offset) }
    }
}

/// The output stream a sink hands the plugin.
pub(super) struct SinkStream {
    state: Arc<Mutex<SinkState>>,
    out: Option<Outbound>,
    /// Where this stream's next byte goes, for a stream of bytes ahead (`write-at`); `None`
    /// for the in-order stream.
    at: Option<u64>,
}

impl OutputStream for SinkStream {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        let mut state = lock(&self.state);
        match &mut self.at {
            None => {
                let next = state.size;
                state.arrive(next, bytes, self.out.as_ref())
            }
            Some(at) => {
                let start = *at;
                *at += bytes.len() as u64;
                state.arrive(start, bytes, self.out.as_ref())
            }
        }
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        match &self.out {
            None => Ok(SINK_PERMIT),
            Some(out) if out.sender.is_closed() => {
                Err(StreamError::LastOperationFailed(wasmtime::format_err!("the output was closed")))
            }
            // The stream of bytes ahead is bounded by the ranges the plugin has in flight.
            Some(out) if self.at.is_none() && out.full() => Ok(0),
            Some(_) => Ok(SINK_PERMIT),
        }
    }
}

#[async_trait::async_trait]
impl Pollable for SinkStream {
    async fn ready(&mut self) {
        let Some(out) = &self.out else { return };
        loop {
            let taken = out.queue.taken.notified();
            // Room in the channel, or a closed one: either way a write can be tried.
            if self.at.is_some() || !out.full() || out.sender.is_closed() {
                return;
            }
            taken.await;
        }
    }
}

fn lock(state: &Mutex<SinkState>) -> std::sync::MutexGuard<'_, SinkState> {
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
