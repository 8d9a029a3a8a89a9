//! The only file that touches wasi-http (and the wasi clocks and randomness, and the bodies the
//! host holds): a [`Platform`] for the S3 client. A put's bytes go from the host's source to
//! the request with `splice`, and a get's from the response to the host's sink the same way:
//! the host moves them, and they never enter this plugin's memory.

use wasip2::clocks::{monotonic_clock, wall_clock};
use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, FutureIncomingResponse, IncomingBody, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
    http_error_code,
};
use wasip2::io::poll::{self, Pollable};
use wasip2::io::streams::{InputStream, OutputStream, StreamError};

use crate::bindings::coffer::blobstore::body::{Sink, Source};
use crate::bindings::coffer::blobstore::{config, telemetry, types};
use crate::error::{Kind, StoreError};
use crate::s3::{Body, Check, Dialect, Digests, EtagFormula, HttpRequest, HttpResponse, MAX_ANSWER_BYTES, Platform, Received, check_for};

/// How much of an answer's body is asked for per read, or moved per splice.
const READ_CHUNK: u64 = 256 * 1024;

pub struct WasiPlatform {
    /// The tenant's timeout, which the host applies to every attempt; an attempt asked to end
    /// sooner (the call's bound is near) says so in its request options.
    pub timeout_ms: u64,
}

impl Platform for WasiPlatform {
    type Source = Source;
    type Sink = Sink;

    fn send(&self, request: &HttpRequest<'_, Source>, into: Option<&Sink>, timeout_ms: u64) -> Result<HttpResponse, StoreError> {
        let mut flight = Flight::start(request, timeout_ms, timeout_ms < self.timeout_ms)?;
        while !flight.feed()? {
            flight.waiting_on().block();
        }
        flight.land(into)
    }

    /// The requests go out together: each body is fed as its stream takes bytes, waiting on all
    /// the streams at once, then the answers are read in turn (the host has been receiving them
    /// all the while).
    fn send_many(&self, requests: &[HttpRequest<'_, Source>], timeout_ms: u64) -> Vec<Result<HttpResponse, StoreError>> {
        let mut flights: Vec<Result<Flight<'_>, StoreError>> =
            requests.iter().map(|request| Flight::start(request, timeout_ms, timeout_ms < self.timeout_ms)).collect();
        let mut fed = vec![false; flights.len()];
        loop {
            let mut waiting = Vec::new();
            for (slot, done) in flights.iter_mut().zip(fed.iter_mut()) {
                let Ok(flight) = slot else { continue };
                if *done {
                    continue;
                }
                match flight.feed() {
                    Ok(true) => *done = true,
                    Ok(false) => waiting.push(flight.waiting_on()),
                    Err(error) => *slot = Err(error),
                }
            }
            if waiting.is_empty() {
                break;
            }
            poll::poll(&waiting.iter().collect::<Vec<_>>());
        }
        flights.into_iter().map(|flight| flight.and_then(|flight| flight.land(None))).collect()
    }

    fn size(&self, source: &Source) -> u64 {
        source.size()
    }

    fn digests(&self, source: &Source, start: u64, len: u64) -> Result<Digests, StoreError> {
        let d = source.digests(start, len).map_err(from_wit)?;
        let md5 = d.md5.try_into().map_err(|_| StoreError::other("the host's MD5 is not 16 bytes"))?;
        let sha256 = d.sha256.try_into().map_err(|_| StoreError::other("the host's SHA-256 is not 32 bytes"))?;
        Ok(Digests { md5, sha256, crc32: d.crc32 })
    }

    fn release(&self, source: &Source, offset: u64) {
        source.release(offset);
    }

    fn reset(&self, sink: &Sink, check: Check) -> Result<(), StoreError> {
        reset(sink, check)
    }

    fn unix_time(&self) -> u64 {
        wall_clock::now().seconds
    }

    fn now_ms(&self) -> u64 {
        monotonic_clock::now() / 1_000_000
    }

    fn sleep_ms(&self, ms: u64) {
        monotonic_clock::subscribe_duration(ms.saturating_mul(1_000_000)).block();
    }

    fn random_u64(&self) -> u64 {
        wasip2::random::random::get_random_u64()
    }

    fn retrying(&self, error: &StoreError) {
        telemetry::retrying(&error.message);
    }

    fn verify_failed(&self, problem: &str) {
        telemetry::verify_failed(problem);
    }

    fn unchecked(&self, reason: &str) {
        telemetry::unchecked(reason);
    }

    fn dialect(&self) -> Dialect {
        let d = config::get_dialect();
        let multipart_etag = match d.multipart_etag {
            config::EtagFormula::Unknown => EtagFormula::Unknown,
            config::EtagFormula::Aws => EtagFormula::Aws,
            config::EtagFormula::Other => EtagFormula::Other,
        };
        Dialect { refuses_checksum_headers: d.refuses_checksum_headers, clock_offset_s: d.clock_offset_s, multipart_etag }
    }

    fn set_dialect(&self, d: Dialect) {
        config::set_dialect(config::Dialect {
            refuses_checksum_headers: d.refuses_checksum_headers,
            clock_offset_s: d.clock_offset_s,
            multipart_etag: match d.multipart_etag {
                EtagFormula::Unknown => config::EtagFormula::Unknown,
                EtagFormula::Aws => config::EtagFormula::Aws,
                EtagFormula::Other => config::EtagFormula::Other,
            },
        });
    }
}

/// One request on its way, in the four steps of the wire: 1. the head ([`Flight::start`]),
/// 2. the body and 3. its finish ([`Flight::feed`]), 4. the answer ([`Flight::land`]).
/// What is left of a request body to hand over.
enum Rest<'a> {
    /// Bytes of the plugin's own, written.
    Bytes(&'a [u8]),
    /// A run of the host's source, spliced: `left` bytes still to come from `input`.
    Spliced { input: InputStream, left: u64, starved: bool },
}

impl Rest<'_> {
    fn is_done(&self) -> bool {
        match self {
            Rest::Bytes(bytes) => bytes.is_empty(),
            Rest::Spliced { left, .. } => *left == 0,
        }
    }
}

struct Flight<'a> {
    what: String,
    started: u64,
    timeout_ns: u64,
    /// The body's stream and the body (the stream is dropped before the body is finished).
    body: Option<(OutputStream, OutgoingBody)>,
    rest: Rest<'a>,
    /// The whole body is written and its flush asked for.
    flushing: bool,
    pending: FutureIncomingResponse,
}

impl<'a> Flight<'a> {
    /// 1. Sends the head: method, URL, headers, and the attempt's timeouts.
    fn start(request: &HttpRequest<'a, Source>, timeout_ms: u64, shorter: bool) -> Result<Flight<'a>, StoreError> {
        let what = format!("{} {}", request.method, request.path_and_query);
        let started = monotonic_clock::now();
        let fields: Vec<(String, Vec<u8>)> =
            request.headers.iter().map(|(n, v)| (n.clone(), v.as_bytes().to_vec())).collect();
        let headers = Fields::from_list(&fields)
            .map_err(|e| StoreError::other(format!("{what}: header refused: {e:?}")))?;
        let outgoing = OutgoingRequest::new(headers);
        let method = match request.method {
            "GET" => Method::Get,
            "PUT" => Method::Put,
            "POST" => Method::Post,
            "HEAD" => Method::Head,
            "DELETE" => Method::Delete,
            other => Method::Other(other.to_string()),
        };
        let scheme = if request.scheme == "https" { Scheme::Https } else { Scheme::Http };
        let refused = |part: &str| StoreError::invalid_config(format!("{what}: the {part} is refused"));
        outgoing.set_method(&method).map_err(|()| refused("method"))?;
        outgoing.set_scheme(Some(&scheme)).map_err(|()| refused("scheme"))?;
        outgoing.set_authority(Some(request.authority)).map_err(|()| refused("authority"))?;
        outgoing.set_path_with_query(Some(&request.path_and_query)).map_err(|()| refused("path"))?;
        // The host bounds every attempt (connect, first byte, between bytes, to the last byte)
        // by the tenant's timeout.
        let timeout_ns = timeout_ms.saturating_mul(1_000_000);
        let body = outgoing.body().map_err(|()| refused("body"))?;
        // Options only for an attempt that must end sooner than the tenant's timeout (the call's
        // bound is near): otherwise the host's bound is the same, and asking costs calls.
        let options = shorter.then(|| {
            let options = RequestOptions::new();
            let ns = Some(timeout_ns);
            let _ = (options.set_connect_timeout(ns), options.set_first_byte_timeout(ns), options.set_between_bytes_timeout(ns));
            options
        });
        let pending = outgoing_handler::handle(outgoing, options).map_err(|e| transport(&what, e))?;
        let rest = match request.body {
            Body::Empty => None,
            Body::Bytes(bytes) => Some(Rest::Bytes(bytes)).filter(|_| !bytes.is_empty()),
            Body::Source { len: 0, .. } => None,
            Body::Source { source, start, len } => {
                let input = source.read(start, len).map_err(from_wit)?;
                Some(Rest::Spliced { input, left: len, starved: false })
            }
        };
        let Some(rest) = rest else {
            OutgoingBody::finish(body, None).map_err(|e| transport(&what, e))?;
            return Ok(Flight { what, started, timeout_ns, body: None, rest: Rest::Bytes(&[]), flushing: false, pending });
        };
        let stream = body.write().map_err(|()| StoreError::other(format!("{what}: no body stream")))?;
        Ok(Flight { what, started, timeout_ns, body: Some((stream, body)), rest, flushing: false, pending })
    }

    /// 2. Writes as much of the body as the stream takes now; `true` once all of it is written
    /// and 3. the body finished.
    fn feed(&mut self) -> Result<bool, StoreError> {
        let Some((stream, _)) = &self.body else { return Ok(true) };
        let failed = |e: String| StoreError::unavailable(format!("{}: writing the body: {e}", self.what));
        let mut host_closed = false;
        while !self.rest.is_done() {
            // A closed body stream, before every byte is in, is the host having stopped taking
            // the body (the request failed: a connection refused, the egress policy): the
            // answer says why (`land`).
            let permitted = match stream.check_write() {
                Err(StreamError::Closed) => {
                    host_closed = true;
                    break;
                }
                other => other.map_err(stream_error).map_err(failed)?,
            };
            if permitted == 0 {
                return Ok(false);
            }
            match &mut self.rest {
                Rest::Bytes(bytes) => {
                    let n = (permitted as usize).min(bytes.len());
                    match stream.write(&bytes[..n]) {
                        Err(StreamError::Closed) => {
                            host_closed = true;
                            break;
                        }
                        other => other.map_err(stream_error).map_err(failed)?,
                    }
                    *bytes = &bytes[n..];
                }
                Rest::Spliced { input, left, starved } => {
                    let moved = match stream.splice(input, permitted.min(*left)) {
                        Ok(moved) => moved,
                        // Closed: either side may be. The body stream closed is the host having
                        // stopped taking the body; the source cannot tell, since the splice may
                        // have read its last bytes before the write found the body closed.
                        Err(StreamError::Closed) if matches!(stream.check_write(), Err(StreamError::Closed)) => {
                            host_closed = true;
                            break;
                        }
                        Err(StreamError::Closed) => {
                            return Err(StoreError::other(format!("{}: the body ended {left} bytes short", self.what)));
                        }
                        Err(e) => return Err(failed(stream_error(e))),
                    };
                    *left -= moved;
                    *starved = moved == 0;
                    if moved == 0 {
                        return Ok(false);
                    }
                }
            }
        }
        if host_closed {
            self.body = None;
            return Ok(true);
        }
        // Every byte is handed over: flush without blocking, so that the other requests of a
        // send_many go on being fed meanwhile. The flush is done when the stream takes writes
        // again; a host that closed the stream since has taken every byte.
        if !self.flushing {
            match stream.flush() {
                Ok(()) | Err(StreamError::Closed) => self.flushing = true,
                Err(e) => return Err(failed(stream_error(e))),
            }
        }
        match stream.check_write() {
            Ok(0) => return Ok(false),
            Ok(_) | Err(StreamError::Closed) => {}
            Err(e) => return Err(failed(stream_error(e))),
        }
        let (stream, body) = self.body.take().expect("checked above");
        drop(stream);
        OutgoingBody::finish(body, None).map_err(|e| transport(&self.what, e))?;
        Ok(true)
    }

    /// What to wait on before feeding more of the body.
    fn waiting_on(&self) -> Pollable {
        match (&self.body, &self.rest) {
            (Some(_), Rest::Spliced { input, starved: true, .. }) => input.subscribe(),
            (Some((stream, _)), _) => stream.subscribe(),
            (None, _) => self.pending.subscribe(),
        }
    }

    /// 4. Waits for the answer's head, then takes its body to the end: into the sink for a 200
    /// or 206 when there is one, otherwise into memory.
    fn land(self, into: Option<&Sink>) -> Result<HttpResponse, StoreError> {
        let what = &self.what;
        let response = loop {
            match self.pending.get() {
                Some(result) => break result,
                None => self.pending.subscribe().block(),
            }
        };
        let response = response
            .map_err(|()| StoreError::other(format!("{what}: response taken twice")))?
            .map_err(|e| transport(what, e))?;
        let status = response.status();
        let headers = response
            .headers()
            .entries()
            .into_iter()
            .map(|(n, v)| (n, String::from_utf8_lossy(&v).into_owned()))
            .collect::<Vec<_>>();
        let incoming = response.consume().map_err(|()| StoreError::other(format!("{what}: no response body")))?;
        let stream = incoming.stream().map_err(|()| StoreError::other(format!("{what}: no response stream")))?;
        let failed = |e| {
            let timed_out = monotonic_clock::now().saturating_sub(self.started) >= self.timeout_ns;
            body_error(&format!("{what}: reading the body"), e, timed_out)
        };
        let (body, received) = match into {
            Some(sink) if status == 200 || status == 206 => {
                // S3 always says how long an object's body is; without it a hostile server
                // could stream into the sink for as long as the attempt lasts.
                let promised = crate::s3::header_of(&headers, "content-length")
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .ok_or_else(|| StoreError::unavailable(format!("{what}: HTTP {status} without a Content-Length")))?;
                let check = check_for(status, &headers);
                reset(sink, check)?;
                let out = sink.write();
                let mut moved = 0u64;
                loop {
                    match out.blocking_splice(&stream, READ_CHUNK.min(promised - moved + 1)) {
                        Ok(n) => moved += n,
                        Err(StreamError::Closed) => break,
                        Err(e) => return Err(failed(e)),
                    }
                    if moved > promised {
                        return Err(StoreError::integrity(format!(
                            "{what}: the body runs past its Content-Length of {promised} bytes"
                        )));
                    }
                }
                drop(out);
                let r = sink.received();
                (Vec::new(), Some(Received { size: r.size, digest: r.digest }))
            }
            _ => (read_all(&stream, &headers).map_err(|e| match e {
                Some(e) => failed(e),
                None => StoreError::unavailable(format!(
                    "{what}: HTTP {status}: the answer's body is longer than {MAX_ANSWER_BYTES} bytes"
                )),
            })?, None),
        };
        drop(stream);
        let _trailers = IncomingBody::finish(incoming);
        Ok(HttpResponse { status, headers, body, received })
    }
}

/// Empties the sink, which keeps `check` of what comes next.
fn reset(sink: &Sink, check: Check) -> Result<(), StoreError> {
    let check = match check {
        Check::None => types::Check::None,
        Check::Crc32 => types::Check::Crc32,
        Check::Crc32c => types::Check::Crc32c,
        Check::Crc64Nvme => types::Check::Crc64nvme,
        Check::Sha1 => types::Check::Sha1,
        Check::Md5 => types::Check::Md5,
        Check::Sha256 => types::Check::Sha256,
        Check::Md5OfParts(size) => types::Check::Md5OfParts(size),
    };
    sink.reset(check).map_err(from_wit)
}

/// The whole body, up to [`MAX_ANSWER_BYTES`]: `Err(None)` when it is longer.
fn read_all(stream: &InputStream, headers: &[(String, String)]) -> Result<Vec<u8>, Option<StreamError>> {
    let promised = crate::s3::header_of(headers, "content-length").and_then(|v| v.trim().parse::<usize>().ok());
    let mut body = Vec::with_capacity(promised.unwrap_or(0).min(MAX_ANSWER_BYTES));
    loop {
        match stream.blocking_read(READ_CHUNK) {
            Ok(chunk) if body.len() + chunk.len() > MAX_ANSWER_BYTES => return Err(None),
            Ok(chunk) => body.extend_from_slice(&chunk),
            Err(StreamError::Closed) => return Ok(body),
            Err(e) => return Err(Some(e)),
        }
    }
}

/// An error the host answered (a source or sink that failed), as the plugin's own.
fn from_wit(error: types::Error) -> StoreError {
    let kind = match error.kind {
        types::ErrorKind::AccessDenied => Kind::AccessDenied,
        types::ErrorKind::InvalidKey => Kind::InvalidKey,
        types::ErrorKind::InvalidConfig => Kind::InvalidConfig,
        types::ErrorKind::Timeout => Kind::Timeout,
        types::ErrorKind::Unavailable => Kind::Unavailable,
        types::ErrorKind::Integrity => Kind::Integrity,
        types::ErrorKind::Other => Kind::Other,
    };
    StoreError { kind, message: error.message, status: error.status, s3_code: error.s3_code }
}

/// A failure while reading a response body: a timeout is a timeout, the rest is the network.
/// The host's body errors carry no wasi-http error code (`http-error-code` answers none for
/// them), so an error at or past the attempt's timeout is taken for the timeout it is.
fn body_error(what: &str, e: StreamError, timed_out: bool) -> StoreError {
    let detail = match e {
        StreamError::LastOperationFailed(err) => match http_error_code(&err) {
            Some(code) => return transport(what, code),
            None => err.to_debug_string(),
        },
        StreamError::Closed => "the stream was closed".to_string(),
    };
    match timed_out {
        true => StoreError::timeout(format!("{what}: {detail}")),
        false => StoreError::unavailable(format!("{what}: {detail}")),
    }
}

fn stream_error(e: StreamError) -> String {
    match e {
        StreamError::Closed => "the stream was closed".to_string(),
        StreamError::LastOperationFailed(err) => err.to_debug_string(),
    }
}

/// A transport failure, named for what it means to the caller.
fn transport(what: &str, code: ErrorCode) -> StoreError {
    match code {
        ErrorCode::ConnectionTimeout | ErrorCode::ConnectionReadTimeout | ErrorCode::ConnectionWriteTimeout
        | ErrorCode::HttpResponseTimeout | ErrorCode::DnsTimeout => {
            StoreError::timeout(format!("{what}: {code:?}"))
        }
        ErrorCode::HttpRequestDenied => StoreError::invalid_config(format!(
            "{what}: the host denied the request: not this tenant's endpoint, or an address the \
             host's egress policy refuses (the host's log names it)"
        )),
        ErrorCode::TlsCertificateError => StoreError::invalid_config(format!(
            "{what}: TLS: the endpoint's certificate is not trusted \
             (caFile trusts a private CA; allowInvalidCerts turns the check off)"
        )),
        ErrorCode::TlsProtocolError | ErrorCode::TlsAlertReceived(_) => {
            StoreError::invalid_config(format!("{what}: TLS failed: {code:?}"))
        }
        ErrorCode::DnsError(_) | ErrorCode::DestinationNotFound => {
            StoreError::invalid_config(format!("{what}: the endpoint's host is unknown: {code:?}"))
        }
        _ => StoreError::unavailable(format!("{what}: {code:?}")),
    }
}
