//! A get whose body broke off goes on from the byte it reached: a ranged GET of the rest, on
//! condition that the object is still the one the first bytes came from (`If-Match` its ETag,
//! and the answer's own ETag checked). The sink is not reset between the pieces, so it hashes
//! them as one body, and the whole is checked as one read. An object that changed between the
//! pieces is never stitched together: the get starts over, or fails when it cannot.
//!
//! This is what lets a get streamed to the caller's writer survive a cut connection: the bytes
//! already written stay written, and the rest follows them.

use super::call::Budget;
use super::client::Client;
use super::platform::{HttpResponse, Platform, header_of};
use super::request::Payload;
use crate::error::StoreError;
use crate::retry;

/// The bytes of the object a 206 carries: `Content-Range: bytes START-END/TOTAL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentRange {
    pub start: u64,
    /// The last byte, inclusive.
    pub end: u64,
}

/// A 206's Content-Range; `None` when it has none, or one that is not a range of bytes.
pub fn content_range(headers: &[(String, String)]) -> Option<ContentRange> {
    let value = header_of(headers, "content-range")?.trim();
    let (start, rest) = value.strip_prefix("bytes ")?.trim_start().split_once('-')?;
    let (end, _total) = rest.split_once('/')?;
    let (start, end) = (start.trim().parse().ok()?, end.trim().parse().ok()?);
    (start <= end).then_some(ContentRange { start, end })
}

/// What a 200 or 206 answer carries: the object's bytes [start, end], of the object with
/// `etag`. What a read that broke off goes on from (here), and what a long read is split into
/// ranges from (http/ranges.rs).
pub struct Piece<'h> {
    pub start: u64,
    pub end: u64,
    pub etag: &'h str,
}

impl<'h> Piece<'h> {
    /// The piece a 200 or 206 carries; `None` without an ETag to hold the rest to, or with a
    /// length its Content-Range disagrees with.
    pub fn of(status: u16, headers: &'h [(String, String)]) -> Option<Piece<'h>> {
        let etag = header_of(headers, "etag").map(str::trim).filter(|etag| !etag.is_empty())?;
        let length: u64 = header_of(headers, "content-length")?.trim().parse().ok()?;
        match status {
            200 => Some(Piece { start: 0, end: length.checked_sub(1)?, etag }),
            206 => content_range(headers).filter(|r| r.end - r.start + 1 == length).map(|r| Piece { start: r.start, end: r.end, etag }),
            _ => None,
        }
    }
}

/// The same ETag, however quoted (`W/` aside, which no S3 server sends for an object).
pub fn same_etag(a: &str, b: &str) -> bool {
    a.trim().trim_matches('"') == b.trim().trim_matches('"')
}

impl<P: Platform> Client<P> {
    /// Goes on with `broken`, a GET's answer whose body broke off, from the byte it reached,
    /// while the request's retries last: the complete answer (the first head, with all the sink
    /// received), or why not. An error that is transient lets the caller start over (a sink in
    /// memory can; a stream already written cannot, and says so).
    pub(super) fn resume(&self, key: &str, asked: &[(String, String)], sink: &P::Sink, broken: HttpResponse, budget: &mut Budget) -> Result<HttpResponse, StoreError> {
        let HttpResponse { status, headers, received, cut, .. } = broken;
        let mut error = cut.unwrap_or_else(|| StoreError::other(format!("GET key \"{key}\": a body said to be cut was not")));
        let Some(piece) = Piece::of(status, &headers) else { return Err(error) };
        let mut got = received.map_or(0, |r| r.size);
        let path = self.object_path(key)?;
        loop {
            // Nothing yet: starting over costs nothing, and checks the same.
            if got == 0 || !retry::should_retry(&error, budget.retries, self.settings.max_retries) {
                return Err(error);
            }
            self.retry_after(budget, None, error)?;
            let from = piece.start + got;
            let mut rest: Vec<(String, String)> =
                asked.iter().filter(|(name, _)| !name.eq_ignore_ascii_case("range")).cloned().collect();
            rest.push(("range".into(), format!("bytes={from}-{}", piece.end)));
            rest.push(("if-match".into(), piece.etag.to_string()));
            let request = self.request("GET", &path, &[], &rest, &Payload::empty());
            let answer = match self.platform.send_on(&request, sink, from, piece.etag, self.attempt_timeout_ms()) {
                Ok(answer) => answer,
                Err(e) => {
                    error = e;
                    continue;
                }
            };
            match (answer.received, answer.cut) {
                // More of the rest is in the sink.
                (Some(total), Some(cut)) => (got, error) = (total.size, cut),
                // All of it.
                (Some(total), None) => {
                    return Ok(HttpResponse { status, headers, body: Vec::new(), received: Some(total), cut: None });
                }
                (None, _) => match self.not_the_rest(key, &piece, from, HttpResponse { received: None, cut: None, ..answer }) {
                    Ok(again) => error = again,
                    Err(stop) => return Err(stop),
                },
            }
        }
    }

    /// Why `answer` to the rest of a read is not it: `Ok` when asking again may bring it (a
    /// 503), `Err` when the read cannot go on (the object changed or is gone, the server does
    /// not answer ranges): transient then, so that the read may start over.
    fn not_the_rest(&self, key: &str, piece: &Piece<'_>, from: u64, answer: HttpResponse) -> Result<StoreError, StoreError> {
        let etag = answer.header("etag").unwrap_or_default();
        let changed = || {
            StoreError::unavailable(format!(
                "GET key \"{key}\": the object changed while it was read (it is no longer ETag {}): its pieces are not put together",
                piece.etag
            ))
        };
        match answer.status {
            412 | 404 => Err(changed()),
            200..300 if !same_etag(etag, piece.etag) => Err(changed()),
            200..300 => Err(StoreError::unavailable(format!(
                "GET key \"{key}\": asked for bytes {from}-{}, the server answered HTTP {} {}",
                piece.end,
                answer.status,
                answer.header("content-range").unwrap_or("without a Content-Range")
            ))),
            _ => match self.transient_failure(&answer, || format!("GET key \"{key}\"")) {
                Some(transient) => Ok(transient),
                None => Err(self.failure(&answer, "GET", key)),
            },
        }
    }
}
