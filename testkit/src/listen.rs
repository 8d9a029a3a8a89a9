//! A listener of the kit's own: each server and proxy accepts on a thread and runtime of its
//! own, so that it outlives the test (and the test's runtime) that started it.

/// Accepts connections on a free port of 127.0.0.1 on a thread and runtime of its own (each
/// test has its own runtime, which would take a proxy down with it), handing each to `serve`.
/// Returns the address.
pub fn accept_on_own_thread<F, Fut>(serve: F) -> std::net::SocketAddr
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            while let Ok((socket, _)) = listener.accept().await {
                // As a server's front end does: without it, an answer's last small segment
                // waits on the client's delayed ACK (40 ms).
                let _ = socket.set_nodelay(true);
                tokio::spawn(serve(socket));
            }
        });
    });
    rx.recv().unwrap()
}
