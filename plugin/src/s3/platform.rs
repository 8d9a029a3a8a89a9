//! What the client needs from its surroundings, and the shapes it trades with them: requests,
//! answers, bodies and the digests the host keeps of them. The wasi-http side is http.rs; the
//! unit tests script their own.

use md5::{Digest, Md5};

use crate::error::StoreError;
use crate::sigv4;

use super::settings::Dialect;

/// Which digest a sink keeps of the bytes it receives (the WIT's `check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    None,
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Md5,
    Sha256,
    /// The MD5 of the MD5s of each run of this many bytes.
    Md5OfParts(u64),
}

/// The digests of a run of a source's bytes, computed by the host.
pub struct Digests {
    pub md5: [u8; 16],
    pub sha256: [u8; 32],
    pub crc32: u32,
}

/// What a sink received: how many bytes, and the digest its [`Check`] asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub size: u64,
    pub digest: Vec<u8>,
}

/// A request body: none, bytes of the plugin's own (a small XML document), or a run of the
/// put's source, which the platform moves without copying it into the plugin.
pub enum Body<'a, S: ?Sized> {
    Empty,
    Bytes(&'a [u8]),
    Source { source: &'a S, start: u64, len: u64 },
}

impl<S: ?Sized> Clone for Body<'_, S> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<S: ?Sized> Copy for Body<'_, S> {}

impl<S: ?Sized> Body<'_, S> {
    pub fn len(&self) -> u64 {
        match self {
            Body::Empty => 0,
            Body::Bytes(bytes) => bytes.len() as u64,
            Body::Source { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One HTTP request as the transport sends it.
pub struct HttpRequest<'a, S: ?Sized> {
    pub method: &'static str,
    pub scheme: &'a str,
    pub authority: &'a str,
    pub path_and_query: String,
    pub headers: Vec<(String, String)>,
    pub body: Body<'a, S>,
}

/// How a GET into a sink may be sent ([`Platform::send_get`]).
pub struct GetHow<'a, S: ?Sized> {
    /// Sent once more when its answer has not begun after this many microseconds.
    pub hedge_after_us: Option<u64>,
    /// A long whole answer read in ranges.
    pub ranges: Option<Ranges<'a, S>>,
}

/// A long object read as ranged GETs at once.
pub struct Ranges<'a, S: ?Sized> {
    /// A whole answer longer than this is read in ranges.
    pub threshold: u64,
    /// Bytes per range.
    pub size: u64,
    /// Ranges read at once.
    pub concurrency: u32,
    /// Retries of each range.
    pub retries: u32,
    /// Before retry `n` (0 for the first) of a range after `error`, with the server's
    /// Retry-After if it sent one: how long to wait first, in milliseconds, the retry counted;
    /// or `error`, when the call's bound would run out before the retry could start.
    #[allow(clippy::type_complexity)]
    pub pause: &'a dyn Fn(u32, Option<&str>, StoreError) -> Result<u64, StoreError>,
    /// The signed GET of bytes [start, end] (inclusive) of the object whose ETag is `etag`.
    #[allow(clippy::type_complexity)]
    pub request: &'a dyn Fn(u64, u64, &str) -> HttpRequest<'a, S>,
}

/// One HTTP response. A body the call routes to a sink (a GET's 200 or 206) is not here: the
/// sink has it, and `received` says what arrived. Any other body is read in full, up to
/// [`MAX_ANSWER_BYTES`].
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub received: Option<Received>,
    /// The body going to the sink broke off (the connection was cut, or stalled past the
    /// timeout) after `received`: why. The call goes on from there (resume.rs).
    pub cut: Option<StoreError>,
}

/// The most of an answer's body the plugin reads into its memory (errors, XML documents):
/// anything longer is refused rather than read.
pub const MAX_ANSWER_BYTES: usize = 1 << 20;

impl HttpResponse {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        header_of(&self.headers, name)
    }
}

/// The first value of header `name` (case-insensitive) in `headers`.
pub fn header_of<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// What the client needs from its surroundings: the wire, the bodies the host holds, the time,
/// sleep and randomness.
pub trait Platform {
    /// The body of a put.
    type Source: ?Sized;
    /// Where a get's bytes go.
    type Sink: ?Sized;

    /// Sends one request within `timeout_ms` (connect and first byte included). With `into`,
    /// a 200 or 206 answer's body goes into that sink, reset first with the check the answer's
    /// head calls for ([`integrity::check_for`]).
    fn send(
        &self,
        request: &HttpRequest<'_, Self::Source>,
        into: Option<&Self::Sink>,
        timeout_ms: u64,
    ) -> Result<HttpResponse, StoreError>;
    /// Sends the requests at the same time, each within `timeout_ms`; one answer per request,
    /// in order. One request failing does not stop the others.
    fn send_many(
        &self,
        requests: &[HttpRequest<'_, Self::Source>],
        timeout_ms: u64,
    ) -> Vec<Result<HttpResponse, StoreError>> {
        requests.iter().map(|request| self.send(request, None, timeout_ms)).collect()
    }
    /// Sends a GET into `sink` as [`Platform::send`] does, and as `how` says: when its answer
    /// has not begun after `hedge_after_us`, sends it once more, takes the first answer and
    /// cancels the other; a whole answer longer than the ranges' threshold is read as ranged
    /// GETs at once, written to the sink in order. A platform may do neither.
    fn send_get(&self, request: &HttpRequest<'_, Self::Source>, sink: &Self::Sink, timeout_ms: u64, _how: &GetHow<'_, Self::Source>)
        -> Result<HttpResponse, StoreError> {
        self.send(request, Some(sink), timeout_ms)
    }
    /// Sends a ranged GET whose answer goes on with the sink's bytes: a 206 whose Content-Range
    /// starts at byte `from`, of the object with ETag `etag`, is added to what the sink holds,
    /// hashed on from where it stopped (the sink is not reset). Any other success is not taken
    /// into the sink: its body is left unread, and `received` is `None`.
    fn send_on(&self, request: &HttpRequest<'_, Self::Source>, sink: &Self::Sink, from: u64, etag: &str, timeout_ms: u64)
        -> Result<HttpResponse, StoreError>;
    /// The source's length in bytes.
    fn size(&self, source: &Self::Source) -> u64;
    /// The digests of the source's bytes [start, start + len), hashed by the host.
    fn digests(&self, source: &Self::Source, start: u64, len: u64) -> Result<Digests, StoreError>;
    /// The source's bytes before `offset` will not be asked for again.
    fn release(&self, _source: &Self::Source, _offset: u64) {}
    /// Empties the sink, which keeps `check` of what it receives next.
    fn reset(&self, sink: &Self::Sink, check: Check) -> Result<(), StoreError>;
    /// Seconds since the Unix epoch.
    fn unix_time(&self) -> u64;
    /// Milliseconds on a clock that only goes forward (for the call's bound).
    fn now_ms(&self) -> u64;
    fn sleep_ms(&self, ms: u64);
    fn random_u64(&self) -> u64;
    /// The MD5 of a few bytes of the plugin's own (part MD5s joined).
    fn md5(&self, data: &[u8]) -> [u8; 16] {
        Md5::digest(data).into()
    }
    /// The SHA-256 of a few bytes of the plugin's own (an XML document).
    fn sha256(&self, data: &[u8]) -> [u8; 32] {
        sigv4::sha256(data)
    }
    /// A request is about to be sent again after `error` (for the host's telemetry).
    fn retrying(&self, _error: &StoreError) {}
    /// Verify-after-write found the object not as sent (for the host's telemetry).
    fn verify_failed(&self, _problem: &str) {}
    /// A read could not be checked against a digest the server gave (for the host's log).
    fn unchecked(&self, _reason: &str) {}
    /// What the tenant's calls have learned of its server so far (kept by the host).
    fn dialect(&self) -> Dialect {
        Dialect::default()
    }
    /// Records what a call learned, for the tenant's later calls.
    fn set_dialect(&self, _dialect: Dialect) {}
}
