//! The only module that touches wasi-http (and the wasi clocks and randomness, and the bodies the
//! host holds): a [`Platform`] for the S3 client. A put's bytes go from the host's source to
//! the request with `splice`, and a get's from the response to the host's sink with the sink's
//! `fill` (or `splice`, a range's): the host moves them, and they never enter this plugin's
//! memory.
//!
//! flight.rs is one request on the wire; errors.rs names what went wrong on it; ranges.rs reads a
//! long object as ranged GETs at once; sink.rs says where an answer's body goes, and readies the
//! host's sink for it.

mod errors;
mod flight;
mod ranges;
mod sink;

use wasip2::clocks::{monotonic_clock, wall_clock};
use wasip2::io::poll;

use crate::bindings::coffer::blobstore::body::{Sink, Source};
use crate::bindings::coffer::blobstore::{config, telemetry};
use crate::error::StoreError;
use crate::s3::{Check, Dialect, Digests, EtagFormula, GetHow, HttpRequest, HttpResponse, Platform};
use flight::Flight;
use sink::{Landing, reset};

pub struct WasiPlatform {
    /// The tenant's timeout, which the host applies to every attempt; an attempt asked to end
    /// sooner (the call's bound is near) says so in its request options.
    pub timeout_ms: u64,
}

/// A GET (no body), sent once more when its answer has not begun after `after_us`: the one
/// whose answer begins first. The other is dropped, and the host cancels it.
fn race<'a>(request: &HttpRequest<'a, Source>, timeout_ms: u64, shorter: bool, after_us: u64) -> Result<Flight<'a>, StoreError> {
    let first = Flight::start(request, timeout_ms, shorter)?;
    let late = monotonic_clock::subscribe_duration(after_us.saturating_mul(1_000));
    let begun = first.waiting_on();
    let ready = poll::poll(&[&begun, &late]);
    drop((begun, late));
    if ready.contains(&0) {
        return Ok(first.answer_in());
    }
    let Ok(second) = Flight::start(request, timeout_ms, shorter) else { return Ok(first) };
    let (one, two) = (first.waiting_on(), second.waiting_on());
    let ready = poll::poll(&[&one, &two]);
    drop((one, two));
    let won = !ready.contains(&0);
    telemetry::hedged(won);
    Ok(if won { second } else { first }.answer_in())
}

impl WasiPlatform {
    /// One request, sent and answered, its body landing as `landing` says.
    fn fly(&self, request: &HttpRequest<'_, Source>, landing: Landing<'_>, timeout_ms: u64) -> Result<HttpResponse, StoreError> {
        let mut flight = Flight::start(request, timeout_ms, timeout_ms < self.timeout_ms)?;
        while !flight.feed()? {
            flight.waiting_on().block();
        }
        flight.land(landing)
    }
}

impl Platform for WasiPlatform {
    type Source = Source;
    type Sink = Sink;

    fn send(&self, request: &HttpRequest<'_, Source>, into: Option<&Sink>, timeout_ms: u64) -> Result<HttpResponse, StoreError> {
        self.fly(request, Landing::of(into), timeout_ms)
    }

    fn send_get(&self, request: &HttpRequest<'_, Source>, sink: &Sink, timeout_ms: u64, how: &GetHow<'_, Source>) -> Result<HttpResponse, StoreError> {
        let shorter = timeout_ms < self.timeout_ms;
        let flight = match how.hedge_after_us {
            Some(after_us) => race(request, timeout_ms, shorter, after_us)?,
            None => Flight::start(request, timeout_ms, shorter)?,
        };
        let Some(ranges) = &how.ranges else { return flight.land(Landing::Sink(sink)) };
        let head = flight.head()?;
        match ranges::worth_it(&head, ranges) {
            Some(span) => ranges::read(head, sink, ranges, span, timeout_ms, shorter),
            None => head.land(Landing::Sink(sink)),
        }
    }

    fn send_on(&self, request: &HttpRequest<'_, Source>, sink: &Sink, from: u64, etag: &str, timeout_ms: u64) -> Result<HttpResponse, StoreError> {
        self.fly(request, Landing::After { sink, from, etag }, timeout_ms)
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
        flights.into_iter().map(|flight| flight.and_then(|flight| flight.land(Landing::Memory))).collect()
    }

    fn size(&self, source: &Source) -> u64 {
        source.size()
    }

    fn digests(&self, source: &Source, start: u64, len: u64) -> Result<Digests, StoreError> {
        let d = source.digests(start, len)?;
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
