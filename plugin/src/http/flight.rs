//! One request on the wire: its head, its body handed over as the stream takes it, and its
//! answer, whose body is spliced into the host's sink or read into memory.

use wasip2::clocks::monotonic_clock;
use wasip2::http::outgoing_handler;
use wasip2::http::types::{Fields, FutureIncomingResponse, IncomingBody, IncomingResponse, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme};
use wasip2::io::poll::Pollable;
use wasip2::io::streams::{InputStream, OutputStream, StreamError};

use super::errors::{body_error, body_failure, stream_error, transport};
use super::sink::{Landing, continues, reset};
use crate::bindings::coffer::blobstore::body::{FillEnd, Sink, Source};
use crate::error::StoreError;
use crate::s3::{Body, HttpRequest, HttpResponse, MAX_ANSWER_BYTES, Received, check_for};

/// How much of an answer's body (one in memory) is asked for per read.
const READ_CHUNK: u64 = 256 * 1024;

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

pub(super) struct Flight<'a> {
    what: String,
    /// A HEAD's: its answer has no body to take.
    bodiless: bool,
    /// Its answer is known to be in (a poll said so): it is asked for without waiting.
    answer_known: bool,
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
    pub(super) fn start(request: &HttpRequest<'a, Source>, timeout_ms: u64, shorter: bool) -> Result<Flight<'a>, StoreError> {
        let mut what = String::with_capacity(request.method.len() + 1 + request.path_and_query.len());
        for part in [request.method, " ", &request.path_and_query] {
            what.push_str(part);
        }
        let bodiless = request.method == "HEAD";
        let started = monotonic_clock::now();
        let fields: Vec<(String, Vec<u8>)> =
            request.headers.iter().map(|(n, v)| (n.clone(), v.as_bytes().to_vec())).collect();
        let headers = Fields::from_list(&fields)
            .map_err(|e| StoreError::other(format!("{what}: header refused: {e:?}")))?;
        let outgoing = OutgoingRequest::new(headers);
        let method = match request.method {
            // A new request's method is GET (wasi:http's outgoing-request): one call fewer.
            "GET" => None,
            "PUT" => Some(Method::Put),
            "POST" => Some(Method::Post),
            "HEAD" => Some(Method::Head),
            "DELETE" => Some(Method::Delete),
            other => Some(Method::Other(other.to_string())),
        };
        let scheme = if request.scheme == "https" { Scheme::Https } else { Scheme::Http };
        let refused = |part: &str| StoreError::invalid_config(format!("{what}: the {part} is refused"));
        if let Some(method) = method {
            outgoing.set_method(&method).map_err(|()| refused("method"))?;
        }
        outgoing.set_scheme(Some(&scheme)).map_err(|()| refused("scheme"))?;
        outgoing.set_authority(Some(request.authority)).map_err(|()| refused("authority"))?;
        outgoing.set_path_with_query(Some(&request.path_and_query)).map_err(|()| refused("path"))?;
        // The host bounds every attempt (connect, first byte, between bytes, to the last byte)
        // by the tenant's timeout.
        let timeout_ns = timeout_ms.saturating_mul(1_000_000);
        // A request without a body asks for none: wasi-http sends it empty, two calls fewer.
        let body = (!request.body.is_empty()).then(|| outgoing.body().map_err(|()| refused("body"))).transpose()?;
        // Options only for an attempt that must end sooner than the tenant's timeout (the call's
        // bound is near): otherwise the host's bound is the same, and asking costs calls.
        let options = shorter.then(|| {
            let options = RequestOptions::new();
            let ns = Some(timeout_ns);
            let _ = (options.set_connect_timeout(ns), options.set_first_byte_timeout(ns), options.set_between_bytes_timeout(ns));
            options
        });
        let pending = outgoing_handler::handle(outgoing, options).map_err(|e| transport(&what, e))?;
        let Some(body) = body else {
            return Ok(Flight { what, bodiless, answer_known: false, started, timeout_ns, body: None, rest: Rest::Bytes(&[]), flushing: false, pending });
        };
        let rest = match request.body {
            Body::Empty => Rest::Bytes(&[]),
            Body::Bytes(bytes) => Rest::Bytes(bytes),
            Body::Source { source, start, len } => Rest::Spliced { input: source.read(start, len)?, left: len, starved: false },
        };
        let stream = body.write().map_err(|()| StoreError::other(format!("{what}: no body stream")))?;
        Ok(Flight { what, bodiless, answer_known: false, started, timeout_ns, body: Some((stream, body)), rest, flushing: false, pending })
    }

    /// 2. Writes as much of the body as the stream takes now; `true` once all of it is written
    /// and 3. the body finished.
    pub(super) fn feed(&mut self) -> Result<bool, StoreError> {
        let Some((stream, _)) = &self.body else { return Ok(true) };
        while !self.rest.is_done() {
            match hand_over(stream, &mut self.rest, &self.what)? {
                Handed::More => {}
                Handed::Wait => return Ok(false),
                Handed::HostClosed => {
                    self.body = None;
                    return Ok(true);
                }
            }
        }
        self.finish_body()
    }

    /// 3. Every byte is handed over: flush without blocking, so that the other requests of a
    /// send_many go on being fed meanwhile. The flush is done when the stream takes writes
    /// again; a host that closed the stream since has taken every byte.
    fn finish_body(&mut self) -> Result<bool, StoreError> {
        let Some((stream, _)) = &self.body else { return Ok(true) };
        let failed = |e: String| StoreError::unavailable(format!("{}: writing the body: {e}", self.what));
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
    pub(super) fn waiting_on(&self) -> Pollable {
        match (&self.body, &self.rest) {
            (Some(_), Rest::Spliced { input, starved: true, .. }) => input.subscribe(),
            (Some((stream, _)), _) => stream.subscribe(),
            (None, _) => self.pending.subscribe(),
        }
    }

    /// Whether the answer's head is in (or the request failed): [`Flight::head`] will not wait.
    pub(super) fn answered(&self) -> bool {
        self.pending.subscribe().ready()
    }

    /// The answer is in (the caller polled [`Flight::waiting_on`] after the body was fed):
    /// asking for it need not wait first, three calls fewer.
    pub(super) fn answer_in(mut self) -> Self {
        self.answer_known = true;
        self
    }

    /// 4. Waits for the answer: its status, its headers, and the response, its body untaken.
    fn answer(&self) -> Result<Answer, StoreError> {
        let what = &self.what;
        // The answer is seldom in at once (the network is between): waiting first costs one call
        // fewer than asking first, unless it is known to be in.
        let mut known = self.answer_known;
        let response = loop {
            if !known {
                self.pending.subscribe().block();
            }
            if let Some(result) = self.pending.get() {
                break result;
            }
            known = false;
        };
        let response = response
            .map_err(|()| StoreError::other(format!("{what}: response taken twice")))?
            .map_err(|e| transport(what, e))?;
        let headers = response
            .headers()
            .entries()
            .into_iter()
            .map(|(n, v)| (n, String::from_utf8(v).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())))
            .collect::<Vec<_>>();
        Ok((response.status(), headers, response))
    }

    /// 4. Waits for the answer's head.
    pub(super) fn head(self) -> Result<Head, StoreError> {
        let (status, headers, response) = self.answer()?;
        let what = self.what;
        let incoming = response.consume().map_err(|()| StoreError::other(format!("{what}: no response body")))?;
        let stream = incoming.stream().map_err(|()| StoreError::other(format!("{what}: no response stream")))?;
        Ok(Head { what, status, headers, started: self.started, timeout_ns: self.timeout_ns, stream, incoming })
    }

    /// 4. Waits for the answer's head, then takes its body to the end: into the sink as
    /// `landing` says when it is the success the sink waits for, otherwise into memory. A
    /// HEAD's answer has no body (RFC 9110, 9.3.2): the response is dropped untaken, which
    /// saves the host six calls.
    pub(super) fn land(self, landing: Landing<'_>) -> Result<HttpResponse, StoreError> {
        if self.bodiless {
            let (status, headers, _response) = self.answer()?;
            return Ok(HttpResponse { status, headers, body: Vec::new(), received: None, cut: None });
        }
        self.head()?.land(landing)
    }
}

/// An answer's status and headers, and the response, its body untaken.
type Answer = (u16, Vec<(String, String)>, IncomingResponse);

/// An answer's head, its body still to read.
pub(super) struct Head {
    pub(super) what: String,
    pub(super) status: u16,
    pub(super) headers: Vec<(String, String)>,
    started: u64,
    timeout_ns: u64,
    /// The body's stream, dropped before the body (fields drop in order).
    pub(super) stream: InputStream,
    incoming: IncomingBody,
}

impl Head {
    /// What a failure reading the body means: a timeout at or past the attempt's bound, the
    /// network otherwise.
    pub(super) fn failed(&self, e: StreamError) -> StoreError {
        body_error(&format!("{}: reading the body", self.what), e, self.timed_out())
    }

    /// The same, for a failure the host described (`fill`).
    fn failed_with(&self, detail: String) -> StoreError {
        body_failure(&format!("{}: reading the body", self.what), detail, self.timed_out())
    }

    fn timed_out(&self) -> bool {
        monotonic_clock::now().saturating_sub(self.started) >= self.timeout_ns
    }

    /// What a splice of this body into `out` that failed with `e` at byte `at` of the `end`
    /// its head promised means: the body's end (`None`); a cut the read goes on from (the
    /// network broke off, or the body closed early); or `Err`, the sink no longer taking bytes
    /// (the caller's writer failed, and the host says why).
    pub(super) fn stopped(&self, e: StreamError, out: &OutputStream, at: u64, end: u64) -> Result<Option<StoreError>, StoreError> {
        match e {
            StreamError::Closed => Ok(self.ended(at, end)),
            e if out.check_write().is_err() => Err(self.failed(e)),
            e => Ok(Some(self.failed(e))),
        }
    }

    /// The body closed at byte `at` of the `end` promised: `None` at the end, else a cut.
    fn ended(&self, at: u64, end: u64) -> Option<StoreError> {
        (at < end).then(|| StoreError::unavailable(format!("{}: the body ended at byte {at} of {end}", self.what)))
    }

    /// Takes the body to the end: into the sink as `landing` says when it is the success the
    /// sink waits for, otherwise into memory.
    pub(super) fn land(self, landing: Landing<'_>) -> Result<HttpResponse, StoreError> {
        let (what, status, headers) = (&self.what, self.status, &self.headers);
        let success = status == 200 || status == 206;
        let (body, received, cut) = match landing {
            Landing::Sink(sink) if success => {
                reset(sink, check_for(status, headers))?;
                let (received, cut) = into_sink(sink, &self)?;
                (Vec::new(), Some(received), cut)
            }
            Landing::After { sink, from, etag } if status == 206 && continues(headers, from, etag) => {
                let (received, cut) = into_sink(sink, &self)?;
                (Vec::new(), Some(received), cut)
            }
            // Not the rest that was asked for: its body is not read.
            Landing::After { .. } if (200..300).contains(&status) => (Vec::new(), None, None),
            _ => (read_all(&self.stream, headers).map_err(|e| match e {
                Some(e) => self.failed(e),
                None => StoreError::unavailable(format!(
                    "{what}: HTTP {status}: the answer's body is longer than {MAX_ANSWER_BYTES} bytes"
                )),
            })?, None, None),
        };
        // Dropped, not finished: S3 sends no trailers, and finishing would cost two calls.
        let Head { status, headers, stream, incoming, .. } = self;
        drop((stream, incoming));
        Ok(HttpResponse { status, headers, body, received, cut })
    }
}

/// What handing over a piece of a request body came to.
enum Handed {
    /// Bytes went; more may.
    More,
    /// The stream takes nothing now, or the source has nothing yet: wait ([`Flight::waiting_on`]).
    Wait,
    /// The host stopped taking the body (the request failed: a connection refused, the egress
    /// policy): the answer says why ([`Flight::land`]).
    HostClosed,
}

/// Hands over as much of `rest` as `stream` takes in one write or splice.
fn hand_over(stream: &OutputStream, rest: &mut Rest<'_>, what: &str) -> Result<Handed, StoreError> {
    let failed = |e: String| StoreError::unavailable(format!("{what}: writing the body: {e}"));
    // A closed body stream, before every byte is in, is the host having stopped taking the body.
    let permitted = match stream.check_write() {
        Err(StreamError::Closed) => return Ok(Handed::HostClosed),
        other => other.map_err(stream_error).map_err(failed)?,
    };
    if permitted == 0 {
        return Ok(Handed::Wait);
    }
    match rest {
        Rest::Bytes(bytes) => {
            let n = (permitted as usize).min(bytes.len());
            match stream.write(&bytes[..n]) {
                Err(StreamError::Closed) => return Ok(Handed::HostClosed),
                other => other.map_err(stream_error).map_err(failed)?,
            }
            *bytes = &bytes[n..];
            Ok(Handed::More)
        }
        Rest::Spliced { input, left, starved } => {
            let moved = match stream.splice(input, permitted.min(*left)) {
                Ok(moved) => moved,
                // Closed: either side may be. The body stream closed is the host having stopped
                // taking the body; the source cannot tell, since the splice may have read its
                // last bytes before the write found the body closed.
                Err(StreamError::Closed) if matches!(stream.check_write(), Err(StreamError::Closed)) => return Ok(Handed::HostClosed),
                Err(StreamError::Closed) => return Err(StoreError::other(format!("{what}: the body ended {left} bytes short"))),
                Err(e) => return Err(failed(stream_error(e))),
            };
            *left -= moved;
            *starved = moved == 0;
            Ok(if moved == 0 { Handed::Wait } else { Handed::More })
        }
    }
}

/// A 200 or 206's body moved into the sink by the host in one call (`fill`), the sink hashing
/// the bytes as they land: what it received in all, and why the body broke off when it did.
fn into_sink(sink: &Sink, head: &Head) -> Result<(Received, Option<StoreError>), StoreError> {
    let (what, status) = (&head.what, head.status);
    // S3 always says how long an object's body is; without it a hostile server could stream
    // into the sink for as long as the attempt lasts.
    let promised = crate::s3::header_of(&head.headers, "content-length")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .ok_or_else(|| StoreError::unavailable(format!("{what}: HTTP {status} without a Content-Length")))?;
    // One byte more than promised is asked for, so that a longer body shows.
    let filled = sink.fill(&head.stream, promised + 1);
    if filled.moved > promised {
        return Err(StoreError::integrity(format!("{what}: the body runs past its Content-Length of {promised} bytes")));
    }
    let cut = match filled.end {
        FillEnd::Closed | FillEnd::Limit => head.ended(filled.moved, promised),
        FillEnd::Failed(detail) => Some(head.failed_with(detail)),
        // The caller's writer failed: the host says why.
        FillEnd::Sink(why) => return Err(StoreError::unavailable(format!("{what}: the sink took no more bytes: {why}"))),
    };
    let r = sink.received();
    Ok((Received { size: r.size, digest: r.digest }, cut))
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
