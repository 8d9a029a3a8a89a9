//! The only file that touches wasi-http (and the wasi clocks and randomness, and the host's
//! digests): a [`Platform`] for the S3 client.

use wasip2::clocks::{monotonic_clock, wall_clock};
use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, FutureIncomingResponse, IncomingBody, Method, OutgoingBody, OutgoingRequest, Scheme,
    http_error_code,
};
use wasip2::io::poll::{self, Pollable};
use wasip2::io::streams::{InputStream, OutputStream, StreamError};

use crate::bindings::coffer::blobstore::{digest, telemetry};
use crate::error::StoreError;
use crate::s3::{HttpRequest, HttpResponse, Platform};

/// How much of the response body is asked for per read.
const READ_CHUNK: u64 = 256 * 1024;

pub struct WasiPlatform;

impl Platform for WasiPlatform {
    fn send(&self, request: &HttpRequest<'_>, timeout_ms: u64) -> Result<HttpResponse, StoreError> {
        let mut flight = Flight::start(request, timeout_ms)?;
        while !flight.feed()? {
            flight.waiting_on().block();
        }
        flight.land()
    }

    /// The requests go out together: each body is fed as its stream takes bytes, waiting on all
    /// the streams at once, then the answers are read in turn (the host has been receiving them
    /// all the while).
    fn send_many(&self, requests: &[HttpRequest<'_>], timeout_ms: u64) -> Vec<Result<HttpResponse, StoreError>> {
        let mut flights: Vec<Result<Flight<'_>, StoreError>> =
            requests.iter().map(|request| Flight::start(request, timeout_ms)).collect();
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
        flights.into_iter().map(|flight| flight.and_then(Flight::land)).collect()
    }

    fn unix_time(&self) -> u64 {
        wall_clock::now().seconds
    }

    fn sleep_ms(&self, ms: u64) {
        monotonic_clock::subscribe_duration(ms.saturating_mul(1_000_000)).block();
    }

    fn random_u64(&self) -> u64 {
        wasip2::random::random::get_random_u64()
    }

    fn md5(&self, data: &[u8]) -> [u8; 16] {
        digest::md5(data).try_into().expect("the host's MD5 has 16 bytes")
    }

    fn sha256(&self, data: &[u8]) -> [u8; 32] {
        digest::sha256(data).try_into().expect("the host's SHA-256 has 32 bytes")
    }

    fn crc32(&self, data: &[u8]) -> u32 {
        digest::crc32(data)
    }

    fn retrying(&self, error: &StoreError) {
        telemetry::retrying(&error.message);
    }

    fn verify_failed(&self, problem: &str) {
        telemetry::verify_failed(problem);
    }
}

/// One request on its way, in the four steps of the wire: 1. the head ([`Flight::start`]),
/// 2. the body and 3. its finish ([`Flight::feed`]), 4. the answer ([`Flight::land`]).
struct Flight<'a> {
    what: String,
    started: u64,
    timeout_ns: u64,
    /// The body's stream and the body (the stream is dropped before the body is finished).
    body: Option<(OutputStream, OutgoingBody)>,
    rest: &'a [u8],
    /// The whole body is written and its flush asked for.
    flushing: bool,
    pending: FutureIncomingResponse,
}

impl<'a> Flight<'a> {
    /// 1. Sends the head: method, URL, headers, and the attempt's timeouts.
    fn start(request: &HttpRequest<'a>, timeout_ms: u64) -> Result<Flight<'a>, StoreError> {
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
        // No request options: the host bounds every attempt (connect, first byte, between bytes,
        // to the last byte) by the tenant's timeout, which is `timeout_ms`; asking for it again
        // would cost four calls across the boundary per request.
        let timeout_ns = timeout_ms.saturating_mul(1_000_000);
        let body = outgoing.body().map_err(|()| refused("body"))?;
        let pending = outgoing_handler::handle(outgoing, None).map_err(|e| transport(&what, e))?;
        if request.body.is_empty() {
            OutgoingBody::finish(body, None).map_err(|e| transport(&what, e))?;
            return Ok(Flight { what, started, timeout_ns, body: None, rest: &[], flushing: false, pending });
        }
        let stream = body.write().map_err(|()| StoreError::other(format!("{what}: no body stream")))?;
        Ok(Flight { what, started, timeout_ns, body: Some((stream, body)), rest: request.body, flushing: false, pending })
    }

    /// 2. Writes as much of the body as the stream takes now; `true` once all of it is written
    /// and 3. the body finished.
    fn feed(&mut self) -> Result<bool, StoreError> {
        let Some((stream, _)) = &self.body else { return Ok(true) };
        let failed = |e: String| StoreError::unavailable(format!("{}: writing the body: {e}", self.what));
        while !self.rest.is_empty() {
            let permitted = stream.check_write().map_err(stream_error).map_err(failed)? as usize;
            if permitted == 0 {
                return Ok(false);
            }
            let n = permitted.min(self.rest.len());
            stream.write(&self.rest[..n]).map_err(stream_error).map_err(failed)?;
            self.rest = &self.rest[n..];
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
        match &self.body {
            Some((stream, _)) => stream.subscribe(),
            None => self.pending.subscribe(),
        }
    }

    /// 4. Waits for the answer's head, then reads its body to the end.
    fn land(self) -> Result<HttpResponse, StoreError> {
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
        let capacity = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse::<usize>().ok())
            .unwrap_or(0);
        let body = {
            let stream = incoming.stream().map_err(|()| StoreError::other(format!("{what}: no response stream")))?;
            read_all(&stream, capacity).map_err(|e| {
                let timed_out = monotonic_clock::now().saturating_sub(self.started) >= self.timeout_ns;
                body_error(&format!("{what}: reading the body"), e, timed_out)
            })?
        };
        let _trailers = IncomingBody::finish(incoming);
        Ok(HttpResponse { status, headers, body })
    }
}

fn read_all(stream: &InputStream, capacity: usize) -> Result<Vec<u8>, StreamError> {
    let mut body = Vec::with_capacity(capacity);
    loop {
        match stream.blocking_read(READ_CHUNK) {
            Ok(chunk) => body.extend_from_slice(&chunk),
            Err(StreamError::Closed) => return Ok(body),
            Err(e) => return Err(e),
        }
    }
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
        ErrorCode::HttpRequestDenied => {
            StoreError::invalid_config(format!("{what}: the host denied the request (not this tenant's endpoint)"))
        }
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
