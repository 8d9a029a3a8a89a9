//! An HTTP proxy in front of the real server. It records the request headers it sees, answers
//! `200 OK` to the first N PUTs without forwarding them (the bytes are dropped, as some backends
//! do under load), flips a byte in the bodies of the first M successful GETs, and forwards every
//! other request unchanged, Host header included, so signatures still match.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};

pub struct LyingProxy {
    pub endpoint: String,
    lies_left: Arc<AtomicUsize>,
    lies_told: Arc<AtomicUsize>,
    corruptions_left: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<(String, String)>>>,
}

type Seen = Arc<Mutex<Vec<(String, String)>>>;

impl LyingProxy {
    /// Starts a proxy for `upstream` (`http://host:port`) that drops the first `lies` PUTs.
    pub fn start(upstream: &str, lies: usize) -> LyingProxy {
        LyingProxy::start_with(upstream, lies, 0)
    }

    /// A proxy that also flips one byte in the bodies of the first `corruptions` 200 GETs.
    pub fn start_with(upstream: &str, lies: usize, corruptions: usize) -> LyingProxy {
        let upstream = upstream.trim_end_matches('/').to_string();
        let lies_left = Arc::new(AtomicUsize::new(lies));
        let lies_told = Arc::new(AtomicUsize::new(0));
        let corruptions_left = Arc::new(AtomicUsize::new(corruptions));
        let seen: Seen = Arc::default();
        let faults = Faults { lies_left: lies_left.clone(), lies_told: lies_told.clone(), corruptions_left: corruptions_left.clone() };
        let headers = seen.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(format!("http://{}", listener.local_addr().unwrap())).unwrap();
                let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
                loop {
                    let Ok((socket, _)) = listener.accept().await else { return };
                    let (client, upstream, faults, headers) =
                        (client.clone(), upstream.clone(), faults.clone(), headers.clone());
                    tokio::spawn(async move {
                        let service = service_fn(move |request: Request<Incoming>| {
                            let (client, upstream, faults) = (client.clone(), upstream.clone(), faults.clone());
                            record(&request, &headers);
                            async move { Ok::<_, Infallible>(answer(request, &client, &upstream, &faults).await) }
                        });
                        let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(socket), service).await;
                    });
                }
            });
        });
        LyingProxy { endpoint: rx.recv().unwrap(), lies_left, lies_told, corruptions_left, seen }
    }

    /// How many more GET bodies will be damaged.
    pub fn corruptions_left(&self) -> usize {
        self.corruptions_left.load(Ordering::SeqCst)
    }

    /// Every value of header `name` in the requests received so far.
    pub fn header_values(&self, name: &str) -> Vec<String> {
        self.seen.lock().unwrap().iter().filter(|(n, _)| n == name).map(|(_, v)| v.clone()).collect()
    }

    /// PUTs answered 200 and dropped so far.
    pub fn lies_told(&self) -> usize {
        self.lies_told.load(Ordering::SeqCst)
    }

    /// How many more PUTs will be dropped.
    pub fn lies_left(&self) -> usize {
        self.lies_left.load(Ordering::SeqCst)
    }
}

/// The proxy's faults, shared by its connections.
#[derive(Clone)]
struct Faults {
    lies_left: Arc<AtomicUsize>,
    lies_told: Arc<AtomicUsize>,
    corruptions_left: Arc<AtomicUsize>,
}

/// Takes one from `counter` when it is above zero.
fn take_one(counter: &AtomicUsize) -> bool {
    counter.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
}

fn record(request: &Request<Incoming>, seen: &Seen) {
    let mut seen = seen.lock().unwrap();
    for (name, value) in request.headers() {
        seen.push((name.as_str().to_string(), value.to_str().unwrap_or_default().to_string()));
    }
}

async fn answer(
    request: Request<Incoming>,
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    upstream: &str,
    faults: &Faults,
) -> Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let is_get = parts.method == http::Method::GET;
    if parts.method == http::Method::PUT && take_one(&faults.lies_left) {
        faults.lies_told.fetch_add(1, Ordering::SeqCst);
        return Response::new(Full::new(Bytes::new()));
    }
    let uri = format!("{upstream}{}", parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"));
    let mut forward = Request::builder().method(parts.method).uri(uri);
    for (name, value) in &parts.headers {
        forward = forward.header(name, value);
    }
    match client.request(forward.body(Full::new(body)).unwrap()).await {
        Ok(response) => {
            let (parts, body) = response.into_parts();
            let mut body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            if is_get && parts.status == 200 && !body.is_empty() && take_one(&faults.corruptions_left) {
                let mut damaged = body.to_vec();
                let middle = damaged.len() / 2;
                damaged[middle] ^= 0x01;
                body = Bytes::from(damaged);
            }
            Response::from_parts(parts, Full::new(body))
        }
        Err(e) => Response::builder().status(502).body(Full::new(Bytes::from(e.to_string()))).unwrap(),
    }
}
