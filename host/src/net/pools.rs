//! Connections shared by endpoint, and a bounded socket count.
//!
//! Tenants with the same TLS trust (the built-in roots, the same `caFile` certificates, the same
//! `allowInvalidCerts`) share one HTTP client, and so one rustls config; inside it, connections
//! are pooled by scheme, host and port. A connection carries no tenant identity: every request
//! on it is signed by its own tenant, and the egress check runs per request against that
//! tenant's own endpoint (sandbox/state.rs), and per connection against the host's policy when its
//! name is resolved (resolver.rs). Tenants with different trust never share a client, and so
//! never a connection.
//!
//! Every connection holds a permit of its endpoint (`maxConnectionsPerEndpoint`) and one of the
//! host (`maxConnections`) until it closes: a call that needs a new connection past a cap waits
//! for one to free within its timeout, rather than failing on the process's file limit.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::client::legacy::connect::dns::GaiResolver;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use sha2::Digest as _;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower_service::Service;
use wasmtime_wasi_http::WasiBody;

use crate::net::egress::{EgressPolicy, NameResolver};
use crate::net::interceptor::Interceptor;
use crate::settings::endpoint::{default_port, pool_key};
use crate::net::quickack::QuickAckConnector;
use crate::net::tls;
use crate::net::resolver::Resolver;

/// How long an idle kept-alive connection is kept. Shorter than the idle limits S3 services
/// apply, so that a pooled connection is rarely one the server is about to close.
pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections open at once to one endpoint (scheme, host and port), by default.
pub const DEFAULT_MAX_CONNECTIONS_PER_ENDPOINT: usize = 64;
/// Connections open at once across the host, by default: below the 1024 open files systemd
/// gives a service, with room for the mail server's own.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
/// The bound of connecting (TCP and TLS) for a shared client; each attempt is also bounded by
/// its tenant's own `timeout`, whichever ends first.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) type HttpClient = Client<Capped<HttpsConnector<QuickAckConnector<HttpConnector<Resolver>>>>, WasiBody>;

/// Every shared client of the host, by trust, and the host's connection caps.
pub(crate) struct Pools {
    policy: Arc<EgressPolicy>,
    resolver: Option<NameResolver>,
    /// The embedder's, handed to each tenant's transport.
    interceptor: Option<Interceptor>,
    per_endpoint: usize,
    total: Arc<Semaphore>,
    max_total: usize,
    clients: Mutex<HashMap<TrustKey, Weak<SharedClient>>>,
}

/// One client, shared by the tenants of one trust, and its endpoints' counts and caps.
pub(crate) struct SharedClient {
    pub(crate) client: HttpClient,
    endpoints: Arc<Endpoints>,
}

/// The endpoints a shared client connects to, each with its cap and counts.
struct Endpoints {
    per_endpoint: usize,
    total: Arc<Semaphore>,
    by_authority: Mutex<HashMap<String, Arc<EndpointCounts>>>,
}

/// One endpoint of a shared client.
#[derive(Debug)]
pub(crate) struct EndpointCounts {
    permits: Arc<Semaphore>,
    /// Connections opened (attempted) so far.
    pub(crate) opened: AtomicU64,
    /// Connections open now.
    pub(crate) open: AtomicUsize,
    /// Requests sent and not yet answered: a connection opened when there are none would only
    /// wait idle (see `Capped`).
    pub(crate) in_flight: AtomicUsize,
}

/// What makes two tenants' TLS trust the same: `allowInvalidCerts` and the digest of their
/// `caFile` certificates.
#[derive(Clone, PartialEq, Eq, Hash)]
struct TrustKey {
    allow_invalid_certs: bool,
    ca_certs: [u8; 32],
}

impl TrustKey {
    fn of(trust: &tls::Trust) -> TrustKey {
        let mut digest = sha2::Sha256::new();
        for cert in &trust.ca_certs {
            digest.update((cert.len() as u64).to_be_bytes());
            digest.update(cert.as_ref());
        }
        TrustKey { allow_invalid_certs: trust.allow_invalid_certs, ca_certs: digest.finalize().into() }
    }
}

impl Pools {
    pub(crate) fn new(
        policy: Arc<EgressPolicy>,
        resolver: Option<NameResolver>,
        per_endpoint: Option<usize>,
        total: Option<usize>,
        interceptor: Option<Interceptor>,
    ) -> Pools {
        let max_total = total.unwrap_or(DEFAULT_MAX_CONNECTIONS).max(1);
        Pools {
            policy,
            resolver,
            interceptor,
            per_endpoint: per_endpoint.unwrap_or(DEFAULT_MAX_CONNECTIONS_PER_ENDPOINT).max(1),
            total: Arc::new(Semaphore::new(max_total)),
            max_total,
            clients: Mutex::default(),
        }
    }

    pub(crate) fn policy(&self) -> &Arc<EgressPolicy> {
        &self.policy
    }

    pub(crate) fn interceptor(&self) -> Option<&Interceptor> {
        self.interceptor.as_ref()
    }

    /// The client for `trust` (made when no tenant holds one), and the endpoint `authority`
    /// (`scheme://host:port`) of it.
    pub(crate) fn client_for(&self, trust: &tls::Trust, authority: &str) -> (Arc<SharedClient>, Arc<EndpointCounts>) {
        let key = TrustKey::of(trust);
        let mut clients = self.clients.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let shared = match clients.get(&key).and_then(Weak::upgrade) {
            Some(shared) => shared,
            None => {
                clients.retain(|_, weak| weak.strong_count() > 0);
                let shared = Arc::new(self.build(trust));
                clients.insert(key, Arc::downgrade(&shared));
                shared
            }
        };
        let endpoint = shared.endpoints.get(authority);
        (shared, endpoint)
    }

    /// Connections open now across the host.
    pub(crate) fn open_connections(&self) -> usize {
        self.max_total - self.total.available_permits()
    }

    fn build(&self, trust: &tls::Trust) -> SharedClient {
        let resolver = Resolver::new(GaiResolver::new(), self.resolver.clone(), self.policy.clone());
        let mut http = HttpConnector::new_with_resolver(resolver);
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls::client_config(trust))
            .https_or_http()
            .enable_http1()
            .wrap_connector(QuickAckConnector(http));
        let endpoints = Arc::new(Endpoints {
            per_endpoint: self.per_endpoint,
            total: self.total.clone(),
            by_authority: Mutex::default(),
        });
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .pool_max_idle_per_host(self.per_endpoint)
            .build(Capped { inner: https, endpoints: endpoints.clone() });
        SharedClient { client, endpoints }
    }
}

impl Endpoints {
    fn get(&self, authority: &str) -> Arc<EndpointCounts> {
        let mut by_authority = self.by_authority.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        by_authority
            .entry(authority.to_ascii_lowercase())
            .or_insert_with(|| {
                Arc::new(EndpointCounts {
                    permits: Arc::new(Semaphore::new(self.per_endpoint)),
                    opened: AtomicU64::new(0),
                    open: AtomicUsize::new(0),
                    in_flight: AtomicUsize::new(0),
                })
            })
            .clone()
    }
}

/// The pool key of the URI a connector is handed: its endpoint's ([`Endpoint::pool_key`](crate::settings::endpoint::Endpoint::pool_key)).
fn endpoint_key(uri: &http::Uri) -> String {
    let scheme = uri.scheme_str().unwrap_or("http");
    let port = uri.port_u16().unwrap_or(default_port(scheme));
    pool_key(scheme, uri.host().unwrap_or_default(), port)
}

/// A connector that opens a connection only with a permit of its endpoint and one of the host,
/// held until the connection closes.
///
/// hyper races a request's wait for an idle connection against opening a new one, and when the
/// idle one wins, lets the opening go on in the background to fill the pool. Past the cap those
/// openings queue for permits, and would each open a connection as one frees, long after the
/// load is gone. So an opening waits for its permits at most `CONNECT_TIMEOUT`, and gives them
/// back unused when, by the time it has them, no request to its endpoint is in flight.
#[derive(Clone)]
pub(crate) struct Capped<C> {
    inner: C,
    endpoints: Arc<Endpoints>,
}

type Connecting<T> = Pin<Box<dyn Future<Output = Result<T, BoxError>> + Send>>;
type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl<C> Service<http::Uri> for Capped<C>
where
    C: Service<http::Uri> + Clone + Send + 'static,
    C::Future: Send,
    C::Response: Send,
    C::Error: Into<BoxError>,
{
    type Response = Held<C::Response>;
    type Error = BoxError;
    type Future = Connecting<Held<C::Response>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let endpoint = self.endpoints.get(&endpoint_key(&uri));
        let total = self.endpoints.total.clone();
        // The inner connector was made ready by poll_ready: take that one, leave a fresh clone.
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        Box::pin(async move {
            let permits = async {
                let own = endpoint.permits.clone().acquire_owned().await?;
                Ok::<_, tokio::sync::AcquireError>((own, total.acquire_owned().await?))
            };
            let (own, host) = match tokio::time::timeout(CONNECT_TIMEOUT, permits).await {
                Ok(Ok(permits)) => permits,
                Ok(Err(closed)) => return Err(Box::new(closed) as BoxError),
                Err(_) => return Err("no connection freed within the connect timeout".into()),
            };
            if endpoint.in_flight.load(Ordering::Relaxed) == 0 {
                return Err("no request waits for this connection any more".into());
            }
            endpoint.opened.fetch_add(1, Ordering::Relaxed);
            let io = inner.call(uri).await.map_err(Into::into)?;
            endpoint.open.fetch_add(1, Ordering::Relaxed);
            Ok(Held { io, _permits: (own, host), endpoint })
        })
    }
}

/// A connection and the permits it holds; closing it gives them back.
pub(crate) struct Held<T> {
    io: T,
    _permits: (OwnedSemaphorePermit, OwnedSemaphorePermit),
    endpoint: Arc<EndpointCounts>,
}

impl<T> Drop for Held<T> {
    fn drop(&mut self) {
        self.endpoint.open.fetch_sub(1, Ordering::Relaxed);
    }
}

impl<T: Connection> Connection for Held<T> {
    fn connected(&self) -> Connected {
        self.io.connected()
    }
}

impl<T: hyper::rt::Read + Unpin> hyper::rt::Read for Held<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<Result<(), std::io::Error>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: hyper::rt::Write + Unpin> hyper::rt::Write for Held<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<Result<usize, std::io::Error>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), std::io::Error>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), std::io::Error>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<Result<usize, std::io::Error>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
}

#[cfg(test)]
mod tests;
