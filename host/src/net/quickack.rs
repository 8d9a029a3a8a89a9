//! Prompt ACKs on kept-alive connections (Linux `TCP_QUICKACK`).
//!
//! Hyper-based S3 servers (Garage, s3s) write a small response's head and body in two writes
//! with Nagle's algorithm on: the body waits for the ACK of the head. On a connection that has
//! already served a response, the client's kernel is back in delayed-ACK mode and holds that
//! ACK about 40 ms, so a 4 KiB GET on a pooled connection took 44 ms instead of half a
//! millisecond. The kernel leaves quick-ACK mode on its own, so the flag is set again before
//! each read, where it takes effect. Writes need nothing: the connector sets `TCP_NODELAY`.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tower_service::Service;

/// Wraps a connector of plain TCP streams (hyper-util's `HttpConnector`) so that every read on
/// its connections acknowledges at once.
#[derive(Clone, Debug)]
pub struct QuickAckConnector<C>(pub C);

/// A TCP connection that asks for a prompt ACK before each read.
#[derive(Debug)]
pub struct QuickAck(TokioIo<TcpStream>);

type Connecting<E> = Pin<Box<dyn Future<Output = Result<QuickAck, E>> + Send>>;

impl<C> Service<http::Uri> for QuickAckConnector<C>
where
    C: Service<http::Uri, Response = TokioIo<TcpStream>>,
    C::Future: Send + 'static,
{
    type Response = QuickAck;
    type Error = C::Error;
    type Future = Connecting<C::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let connecting = self.0.call(uri);
        Box::pin(async move { connecting.await.map(QuickAck) })
    }
}

impl Read for QuickAck {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: ReadBufCursor<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        quick_ack(this.0.inner());
        Pin::new(&mut this.0).poll_read(cx, buf)
    }
}

impl Write for QuickAck {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write_vectored(cx, bufs)
    }
}

impl Connection for QuickAck {
    fn connected(&self) -> Connected {
        self.0.connected()
    }
}

#[cfg(target_os = "linux")]
fn quick_ack(stream: &TcpStream) {
    // Best effort: a socket that refuses it just keeps the kernel's default.
    let _ = socket2::SockRef::from(stream).set_tcp_quickack(true);
}

#[cfg(not(target_os = "linux"))]
fn quick_ack(_: &TcpStream) {}
