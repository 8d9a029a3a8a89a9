//! A proxy that caps each connection's rate from the server, as a provider caps one
//! connection far below its link: TCP in both directions, the server's bytes paced to
//! `bytes_per_s` on each connection (a burst of one read at most), the client's passed at once.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::listen::accept_on_own_thread;

/// How much is read from the server at a time.
const READ: usize = 64 * 1024;

/// The proxy, for as long as the process runs.
pub struct RateProxy {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

impl RateProxy {
    /// Caps every connection through it to `upstream` (`http://host:port`) at `bytes_per_s`
    /// from the server.
    pub fn start(upstream: &str, bytes_per_s: u64) -> RateProxy {
        let upstream = upstream.trim_start_matches("http://").trim_end_matches('/').to_string();
        let addr = accept_on_own_thread(move |client| serve(client, upstream.clone(), bytes_per_s));
        RateProxy { endpoint: format!("http://{addr}") }
    }
}

async fn serve(client: TcpStream, upstream: String, bytes_per_s: u64) {
    let Ok(server) = TcpStream::connect(&upstream).await else { return };
    let _ = server.set_nodelay(true);
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let up = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
        let _ = server_write.shutdown().await;
    });
    let mut buf = vec![0u8; READ];
    // When the next byte may go: a byte costs 1/rate seconds, and time not used is not saved up.
    let mut next = Instant::now();
    loop {
        let n = match server_read.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        next = next.max(Instant::now());
        tokio::time::sleep_until(next).await;
        if client_write.write_all(&buf[..n]).await.is_err() {
            break;
        }
        next += Duration::from_secs_f64(n as f64 / bytes_per_s as f64);
    }
    let _ = client_write.shutdown().await;
    up.abort();
}
