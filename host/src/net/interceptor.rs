//! A seam before the network, as Spin's outbound interceptor: a function of the embedder's
//! that sees each request a tenant's plugin is about to send, after the sandbox's checks,
//! and may answer it itself. Nothing it answers is sent. `coffer bench` measures the sandbox
//! alone through it; a test can stand a double up in front of a tenant with it.

use std::fmt;
use std::sync::Arc;

/// A request about to be sent: its method, where it goes and its headers (the signature's
/// included), read in place. Its body is not offered.
pub struct Outgoing<'a> {
    method: &'a http::Method,
    uri: &'a http::Uri,
    headers: &'a http::HeaderMap,
}

impl Outgoing<'_> {
    pub fn method(&self) -> &str {
        self.method.as_str()
    }

    /// `host[:port]`.
    pub fn authority(&self) -> &str {
        self.uri.authority().map_or("", |a| a.as_str())
    }

    /// `/bucket/key?query` (path style) or `/key?query` (virtual-hosted style).
    pub fn path_and_query(&self) -> &str {
        self.uri.path_and_query().map_or("/", |p| p.as_str())
    }

    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers.get(name).map(|v| v.as_bytes())
    }
}

/// The answer an interceptor gives instead of the server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// What an [`Interceptor`] calls: `None` lets the request go to the server. The answer is
/// shared, so that one made once can be given to every request at no cost.
pub type Intercept = dyn Fn(&Outgoing<'_>) -> Option<Arc<Answer>> + Send + Sync;

/// Set in [`crate::HostOptions`]: every tenant's requests pass it.
#[derive(Clone)]
pub struct Interceptor(pub Arc<Intercept>);

impl Interceptor {
    pub fn new(intercept: impl Fn(&Outgoing<'_>) -> Option<Arc<Answer>> + Send + Sync + 'static) -> Interceptor {
        Interceptor(Arc::new(intercept))
    }

    /// The answer for `request`, when the interceptor gives one.
    pub(crate) fn answer<B>(&self, request: &http::Request<B>) -> Option<Arc<Answer>> {
        (self.0)(&Outgoing { method: request.method(), uri: request.uri(), headers: request.headers() })
    }
}

impl fmt::Debug for Interceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Interceptor(..)")
    }
}
