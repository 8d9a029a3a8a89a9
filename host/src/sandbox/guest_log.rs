//! The guest's stdout and stderr: each line goes to the host's log under the tenant's name
//! (target `coffer_host::guest`), never to the host's own terminal.
//!
//! A guest writes a line in pieces (Rust's unbuffered stderr writes each argument of an
//! `eprintln!` on its own, and a panic message in several), so the pieces are gathered until a
//! newline. A line longer than [`MAX_LINE`] is logged in parts, so a guest cannot grow the
//! host's memory by never ending one; what is left when the instance goes is logged then.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// The longest line kept before it is logged unfinished.
const MAX_LINE: usize = 4096;

/// One of a tenant's output streams. Clones share the unfinished line.
#[derive(Clone)]
pub struct GuestLog {
    lines: Arc<Lines>,
}

struct Lines {
    tenant: Arc<str>,
    stream: &'static str,
    unfinished: Mutex<Vec<u8>>,
}

impl GuestLog {
    pub fn new(tenant: &str, stream: &'static str) -> GuestLog {
        GuestLog { lines: Arc::new(Lines { tenant: tenant.into(), stream, unfinished: Mutex::new(Vec::new()) }) }
    }
}

impl Lines {
    fn write(&self, mut buf: &[u8]) {
        let mut unfinished = self.unfinished.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        while !buf.is_empty() {
            let room = MAX_LINE - unfinished.len();
            match buf.iter().take(room).position(|&b| b == b'\n') {
                Some(end) => {
                    unfinished.extend_from_slice(&buf[..end]);
                    self.log(&unfinished);
                    unfinished.clear();
                    buf = &buf[end + 1..];
                }
                None if buf.len() >= room => {
                    unfinished.extend_from_slice(&buf[..room]);
                    self.log(&unfinished);
                    unfinished.clear();
                    buf = &buf[room..];
                }
                None => {
                    unfinished.extend_from_slice(buf);
                    buf = &[];
                }
            }
        }
    }

    fn log(&self, line: &[u8]) {
        let line = String::from_utf8_lossy(line);
        let line = line.trim_end();
        if !line.trim().is_empty() {
            tracing::warn!(target: "coffer_host::guest", tenant = %self.tenant, stream = self.stream, "{line}");
        }
    }
}

impl Drop for Lines {
    fn drop(&mut self) {
        let unfinished = std::mem::take(self.unfinished.get_mut().unwrap_or_else(|poisoned| poisoned.into_inner()));
        self.log(&unfinished);
    }
}

impl IsTerminal for GuestLog {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestLog {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl AsyncWrite for GuestLog {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        self.lines.write(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests;
