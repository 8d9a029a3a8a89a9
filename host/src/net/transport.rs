//! How a tenant's requests reach its endpoint: through the HTTP client the tenant shares with
//! the tenants of the same TLS trust (pools.rs: connections pooled by endpoint, capped per
//! endpoint and per host), with prompt ACKs and no Nagle delay on its sockets (see quickack.rs),
//! its own timeout on the whole attempt and every gap between body bytes, and `*.localhost`
//! names resolved to loopback (RFC 6761) so virtual-hosted style works on a test machine. Every
//! address it would connect to passes the host's egress policy first (egress.rs, resolver.rs): each name
//! lookup's answers, and an endpoint written as an address. The counts of connections opened
//! and open are kept per endpoint for tests and figures.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use wasmtime_wasi_http::{Error as HttpError, WasiBody};

use crate::net::egress::{EgressPolicy, Refused};
use crate::net::hedge::Hedge;
use crate::net::interceptor::{Answer, Interceptor};
use crate::net::pools::{EndpointCounts, Pools, SharedClient};
use crate::net::tls;
use crate::settings;

/// One tenant's way to its endpoint: the shared client of its trust, its endpoint's counts, and
/// its own byte counts.
pub struct Transport {
    tenant: String,
    policy: Arc<EgressPolicy>,
    shared: Arc<SharedClient>,
    endpoint: Arc<EndpointCounts>,
    /// The embedder's, which may answer a request instead of the server.
    interceptor: Option<Interceptor>,
    /// Body bytes sent and received so far, for progress reports.
    sent: Arc<AtomicU64>,
    received: Arc<AtomicU64>,
    /// The tenant's first-byte times, which bound when a late read is sent again.
    pub(crate) hedge: Hedge,
}

impl Transport {
    /// A tenant's transport to `endpoint`: the client of its trust, shared with the other
    /// tenants of that trust.
    pub(crate) fn new(tenant: &str, trust: &tls::Trust, endpoint: &settings::endpoint::Endpoint, pools: &Pools) -> Transport {
        let (shared, endpoint) = pools.client_for(trust, &endpoint.pool_key());
        Transport {
            tenant: tenant.to_string(),
            policy: pools.policy().clone(),
            shared,
            endpoint,
            interceptor: pools.interceptor().cloned(),
            sent: Arc::default(),
            received: Arc::default(),
            hedge: Hedge::default(),
        }
    }

    /// Body bytes sent and received so far (request bodies, response bodies).
    pub fn bytes_moved(&self) -> (u64, u64) {
        (self.sent.load(Ordering::Relaxed), self.received.load(Ordering::Relaxed))
    }

    /// How many connections have been opened (attempted) to the tenant's endpoint so far, by
    /// it and the tenants that share its connections.
    pub fn connections_opened(&self) -> u64 {
        self.endpoint.opened.load(Ordering::Relaxed)
    }

    /// How many connections to the tenant's endpoint are open now (shared with the tenants of
    /// the same trust).
    pub fn connections_open(&self) -> usize {
        self.endpoint.open.load(Ordering::Relaxed)
    }

    /// Sends one request, the whole attempt bounded by `attempt`: connect, TLS, the request
    /// body, the server's wait and the response body to its last byte. `between_bytes` bounds
    /// each gap in the response body as well.
    pub async fn send(
        &self,
        request: http::Request<WasiBody>,
        attempt: Duration,
        between_bytes: Duration,
    ) -> Result<http::Response<WasiBody>, HttpError> {
        if let Some(answer) = self.interceptor.as_ref().and_then(|i| i.answer(&request)) {
            return Ok(as_response(answer));
        }
        // An endpoint written as an address is connected to without a lookup: check it here.
        let literal = request.uri().host().and_then(|h| h.trim_start_matches('[').trim_end_matches(']').parse().ok());
        if let Some(refused) = literal.and_then(|ip| self.policy.check(ip).err()) {
            tracing::warn!(target: "coffer_host::transport", tenant = %self.tenant, uri = %request.uri(), "outgoing request denied: {refused}");
            return Err(HttpError::HttpRequestDenied);
        }
        let started = tokio::time::Instant::now();
        let deadline = started + attempt;
        // An object's GET (a listing's has a query): its wait for the answer teaches the hedge.
        let object_get = request.method() == http::Method::GET && request.uri().query().is_none();
        let sent = self.sent.clone();
        let request = request.map(|body| Counted { inner: body, bytes: sent }.boxed_unsync());
        // Counted as in flight until its answer's head arrives: while some are, a connection
        // the pool opens will be used (pools.rs, `Capped`).
        let in_flight = InFlight::count(&self.endpoint);
        let answered = tokio::time::timeout_at(deadline, self.shared.client.request(request)).await;
        drop(in_flight);
        let response = match answered {
            Ok(Ok(response)) => {
                if object_get {
                    self.hedge.record(started.elapsed());
                }
                response
            }
            Ok(Err(error)) => return Err(self.classify(&error)),
            Err(_) => return Err(HttpError::ConnectionReadTimeout),
        };
        let received = self.received.clone();
        Ok(response.map(|body| Counted { inner: Bounded::new(body, between_bytes, deadline), bytes: received }.boxed_unsync()))
    }

    /// The wasi-http error for a failed request, the full story logged under the tenant's name.
    fn classify(&self, error: &hyper_util::client::legacy::Error) -> HttpError {
        let story = chain(error);
        let code = code_for(error);
        if matches!(code, HttpError::TlsCertificateError | HttpError::TlsProtocolError | HttpError::TlsAlertReceived { .. }) {
            tracing::warn!(target: "coffer_host::transport", tenant = %self.tenant, "TLS with the endpoint failed: {story}");
        } else if matches!(code, HttpError::HttpRequestDenied) {
            tracing::warn!(target: "coffer_host::transport", tenant = %self.tenant, "outgoing connection denied: {story}");
        } else {
            tracing::debug!(target: "coffer_host::transport", tenant = %self.tenant, "request failed: {story}");
        }
        code
    }
}

/// An interceptor's answer as the server's would be.
fn as_response(answer: Arc<Answer>) -> http::Response<WasiBody> {
    // An empty body is boxed without an allocation.
    let body = match answer.body.is_empty() {
        true => http_body_util::Empty::new().map_err(|never: std::convert::Infallible| match never {}).boxed_unsync(),
        false => http_body_util::Full::new(Bytes::copy_from_slice(&answer.body))
            .map_err(|never: std::convert::Infallible| match never {})
            .boxed_unsync(),
    };
    // The parts set in place: the builder would move them through a closure per header.
    let mut response = http::Response::new(body);
    let parts = http::StatusCode::from_u16(answer.status).map_err(|e| e.to_string()).and_then(|status| {
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.reserve(answer.headers.len());
        for (name, value) in &answer.headers {
            let name = http::HeaderName::from_bytes(name.as_bytes()).map_err(|e| e.to_string())?;
            headers.append(name, http::HeaderValue::from_str(value).map_err(|e| e.to_string())?);
        }
        Ok(())
    });
    match parts {
        Ok(()) => response,
        Err(e) => {
            tracing::warn!(target: "coffer_host::transport", "an interceptor's answer is not a valid response ({e}): answered 502");
            let empty = http_body_util::Empty::new().map_err(|never: std::convert::Infallible| match never {});
            http::Response::builder().status(502).body(empty.boxed_unsync()).expect("a valid response")
        }
    }
}

fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut story = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        story.push_str(": ");
        story.push_str(&cause.to_string());
        source = cause.source();
    }
    story
}

fn code_for(error: &hyper_util::client::legacy::Error) -> HttpError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if cause.downcast_ref::<Refused>().is_some() {
            return HttpError::HttpRequestDenied;
        }
        if let Some(tls) = cause.downcast_ref::<rustls::Error>() {
            return match tls {
                rustls::Error::InvalidCertificate(_) => HttpError::TlsCertificateError,
                rustls::Error::AlertReceived(alert) => HttpError::TlsAlertReceived {
                    alert_id: Some(u8::from(*alert)),
                    alert_message: Some(format!("{alert:?}")),
                },
                _ => HttpError::TlsProtocolError,
            };
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            match io.kind() {
                ConnectionRefused => return HttpError::ConnectionRefused,
                TimedOut => return HttpError::ConnectionTimeout,
                ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof => {
                    return HttpError::ConnectionTerminated;
                }
                _ => {}
            }
        }
        if let Some(hyper) = cause.downcast_ref::<hyper::Error>() {
            if hyper.is_incomplete_message() {
                return HttpError::ConnectionTerminated;
            }
            if hyper.is_timeout() {
                return HttpError::ConnectionReadTimeout;
            }
        }
        source = next_cause(cause);
    }
    HttpError::InternalError(Some(chain(error)))
}

/// The error under `error`. An io::Error's source() skips the error it wraps (rustls's arrives
/// that way, twice wrapped): look inside it instead.
fn next_cause<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a (dyn std::error::Error + 'static)> {
    match error.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
        Some(inner) => Some(inner),
        None => error.source(),
    }
}

/// A response body bounded as a whole (it must end by the attempt's deadline) and in each gap
/// between its frames, so a server that trickles cannot stretch an attempt.
struct Bounded {
    body: hyper::body::Incoming,
    gap: Duration,
    end: tokio::time::Instant,
    /// The sooner of the next gap's end and `end`.
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl Bounded {
    fn new(body: hyper::body::Incoming, gap: Duration, end: tokio::time::Instant) -> Bounded {
        let first = (tokio::time::Instant::now() + gap).min(end);
        Bounded { body, gap, end, deadline: Box::pin(tokio::time::sleep_until(first)) }
    }
}

impl Body for Bounded {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        match Pin::new(&mut self.body).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let next = (tokio::time::Instant::now() + self.gap).min(self.end);
                self.deadline.as_mut().reset(next);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(error))) if error.is_incomplete_message() => {
                Poll::Ready(Some(Err(HttpError::HttpResponseIncomplete)))
            }
            Poll::Ready(Some(Err(error))) => Poll::Ready(Some(Err(HttpError::Hyper(error)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match self.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(HttpError::ConnectionReadTimeout))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A request in flight to an endpoint, counted while it lives.
struct InFlight<'a>(&'a EndpointCounts);

impl<'a> InFlight<'a> {
    fn count(endpoint: &'a EndpointCounts) -> InFlight<'a> {
        endpoint.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(endpoint)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A body that counts the data bytes that pass through it.
struct Counted<B> {
    inner: B,
    bytes: Arc<AtomicU64>,
}

impl<B: Body<Data = Bytes> + Unpin> Body for Counted<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            self.bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
