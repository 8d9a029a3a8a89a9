//! A sink filled from an input stream in the host: a response body moved into the sink frame by
//! frame, waiting between frames here, where the plugin would splice each one and wait in turn,
//! crossing into the host for both.

use wasmtime_wasi::p2::{DynInputStream, OutputStream, Pollable, StreamError};

use super::sink::SinkStream;

/// Why a fill stopped.
pub(super) enum Stopped {
    /// `limit` bytes moved.
    Limit,
    /// Reading the body stopped: closed at its end, or failed.
    Body(StreamError),
    /// The sink took no more bytes.
    Sink(StreamError),
}

/// Moves `input`'s bytes into `out` until `limit` bytes have moved, the body stops, or the sink
/// stops taking them: the bytes the sink took, and why it stopped. A streaming sink's pace is
/// kept: while the caller's writer is behind, the fill waits for it.
pub(super) async fn fill(input: &mut DynInputStream, out: &mut SinkStream, limit: u64) -> (u64, Stopped) {
    let mut moved = 0u64;
    while moved < limit {
        let permitted = match out.check_write() {
            Ok(0) => {
                out.ready().await;
                continue;
            }
            Ok(permitted) => permitted as u64,
            Err(e) => return (moved, Stopped::Sink(e)),
        };
        let bytes = match input.read(permitted.min(limit - moved) as usize) {
            Ok(bytes) if bytes.is_empty() => {
                input.ready().await;
                continue;
            }
            Ok(bytes) => bytes,
            Err(e) => return (moved, Stopped::Body(e)),
        };
        let len = bytes.len() as u64;
        if let Err(e) = out.write(bytes) {
            return (moved, Stopped::Sink(e));
        }
        moved += len;
    }
    (moved, Stopped::Limit)
}
