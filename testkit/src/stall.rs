//! A TCP proxy in front of the real server that forwards every request and never forwards an
//! answer: each attempt stalls until the client gives up. It counts the connections it takes.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

pub struct StallProxy {
    pub endpoint: String,
    connections: Arc<AtomicUsize>,
}

impl StallProxy {
    /// Starts a proxy on 127.0.0.1 for `upstream` (`http://host:port`).
    pub fn start(upstream: &str) -> StallProxy {
        let upstream = upstream.trim_start_matches("http://").trim_end_matches('/').to_string();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = connections.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                counter.fetch_add(1, Ordering::SeqCst);
                let upstream = upstream.clone();
                std::thread::spawn(move || stall(client, &upstream));
            }
        });
        StallProxy { endpoint, connections }
    }

    /// Connections taken so far: one per request attempt.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// Forwards the client's bytes to the server, and drops the server's answer.
fn stall(mut client: TcpStream, upstream: &str) {
    let Ok(mut server) = TcpStream::connect(upstream) else { return };
    let mut buf = [0u8; 16 * 1024];
    loop {
        match client.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if std::io::Write::write_all(&mut server, &buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}
