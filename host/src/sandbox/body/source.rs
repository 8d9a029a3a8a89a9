//! A put's body: the bytes the plugin splices into its request, in memory or streamed from
//! the caller.

use std::collections::VecDeque;

use bytes::Bytes;
use tokio::sync::mpsc;
use wasmtime_wasi::p2::{InputStream, Pollable, StreamError, StreamResult};

/// A put's bytes: all in memory (a put from a slice), or streamed from the caller, who sends
/// them in chunks; a streamed source keeps only the chunks the plugin has not released.
pub struct Source {
    pub(super) size: u64,
    /// Contiguous chunks from `window_start` to `arrived`.
    window: VecDeque<Bytes>,
    window_start: u64,
    arrived: u64,
    /// Chunks still to come, for a streamed source.
    incoming: Option<mpsc::Receiver<std::io::Result<Bytes>>>,
}

impl Source {
    /// A source of bytes already in memory.
    pub fn whole(bytes: Bytes) -> Source {
        let size = bytes.len() as u64;
        Source { size, window: VecDeque::from([bytes]), window_start: 0, arrived: size, incoming: None }
    }

    /// A source of `size` bytes that arrive in chunks on `incoming`.
    pub fn streamed(size: u64, incoming: mpsc::Receiver<std::io::Result<Bytes>>) -> Source {
        Source { size, window: VecDeque::new(), window_start: 0, arrived: 0, incoming: Some(incoming) }
    }

    /// Bytes [start, start + len), as slices of the chunks that hold them, waiting for a
    /// streamed source's chunks to arrive.
    pub(super) async fn range(&mut self, start: u64, len: u64) -> Result<Vec<Bytes>, String> {
        let end = start.checked_add(len).filter(|&end| end <= self.size).ok_or_else(|| {
            format!("bytes {start}..{start}+{len} are past the body's end ({} bytes)", self.size)
        })?;
        if start < self.window_start {
            return Err(format!("bytes from {start} were already let go: a streamed put cannot send them again"));
        }
        while self.arrived < end {
            let Some(incoming) = self.incoming.as_mut() else { break };
            match incoming.recv().await {
                Some(Ok(chunk)) => {
                    self.arrived += chunk.len() as u64;
                    self.window.push_back(chunk);
                }
                Some(Err(e)) => return Err(format!("reading the body to put: {e}")),
                None => {
                    return Err(format!(
                        "the body to put ended after {} of the {} bytes promised",
                        self.arrived, self.size
                    ));
                }
            }
        }
        let mut slices = Vec::new();
        let mut at = self.window_start;
        for chunk in &self.window {
            let chunk_end = at + chunk.len() as u64;
            if chunk_end > start && at < end {
                let from = start.saturating_sub(at) as usize;
                let to = (end.min(chunk_end) - at) as usize;
                slices.push(chunk.slice(from..to));
            }
            at = chunk_end;
        }
        Ok(slices)
    }

    /// A streamed source lets go of the chunks wholly before `offset`; one in memory keeps all,
    /// so that a put found missing by verify-after-write can be sent again.
    pub(super) fn release(&mut self, offset: u64) {
        if self.incoming.is_none() {
            return;
        }
        while let Some(front) = self.window.front() {
            let front_end = self.window_start + front.len() as u64;
            if front_end > offset {
                break;
            }
            self.window_start = front_end;
            self.window.pop_front();
        }
    }
}

/// An input stream over slices of a source: what the plugin splices into a request body.
pub(super) struct Slices(pub(super) VecDeque<Bytes>);

impl InputStream for Slices {
    fn read(&mut self, size: usize) -> StreamResult<Bytes> {
        let Some(front) = self.0.front_mut() else { return Err(StreamError::Closed) };
        let chunk = if front.len() <= size { self.0.pop_front().unwrap_or_default() } else { front.split_to(size) };
        Ok(chunk)
    }
}

#[async_trait::async_trait]
impl Pollable for Slices {
    async fn ready(&mut self) {}
}
