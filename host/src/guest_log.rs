//! The guest's stdout and stderr: each line goes to the host's log under the tenant's name
//! (target `coffer_host::guest`), never to the host's own terminal.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// One of a tenant's output streams.
#[derive(Clone)]
pub struct GuestLog {
    tenant: Arc<str>,
    stream: &'static str,
}

impl GuestLog {
    pub fn new(tenant: &str, stream: &'static str) -> GuestLog {
        GuestLog { tenant: tenant.into(), stream }
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
        for line in String::from_utf8_lossy(buf).lines().filter(|l| !l.trim().is_empty()) {
            tracing::warn!(target: "coffer_host::guest", tenant = %self.tenant, stream = self.stream, "{line}");
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
