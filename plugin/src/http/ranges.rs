//! A long object (or a long range of one) read as ranged GETs at once. The first GET's answer
//! gives the length, ETag and checksums; its body is read for the first range only, while the
//! next ranges are
//! asked for at once, each on condition of that ETag (`If-Match`, and the answer's own ETag
//! and Content-Range checked before a byte of it is taken). Each range's bytes go to the sink
//! at their place (`write-at`): the host holds those that come early and hashes everything in
//! order, so the whole is checked against the object's digest as one read.
//!
//! What is held is bounded: no range starts more than `concurrency` ranges past the first one
//! not yet whole, nor while the caller's writer has a megabyte waiting. A range whose body is
//! cut is asked for again from the byte it reached, `retries` times, each after the backoff a
//! request's retry waits (or the server's Retry-After), while the other ranges go on; an object
//! that changed meanwhile fails the read (the caller starts over when it can). Nothing is
//! stitched.

use wasip2::clocks::monotonic_clock;
use wasip2::io::poll::{self, Pollable};
use wasip2::io::streams::OutputStream;

use super::flight::{Flight, Head};
use super::sink::{continues, reset};
use crate::bindings::coffer::blobstore::body::{Sink, Source};
use crate::error::StoreError;
use crate::s3::{HttpResponse, Piece as Carried, Ranges, Received, check_for, content_range, header_of, same_etag};

/// How much is moved per splice.
const SPLICE: u64 = 256 * 1024;

/// The bytes an answer carries, to read in ranges.
pub(super) struct Span {
    /// Where they start in the object, and how many there are.
    base: u64,
    length: u64,
    /// The object's ETag, which every range is held to.
    etag: String,
}

/// The bytes `head` carries, when it is a whole answer or a range long enough to read in
/// ranges (and has an ETag to hold them to).
pub(super) fn worth_it(head: &Head, ranges: &Ranges<'_, Source>) -> Option<Span> {
    let piece = Carried::of(head.status, &head.headers)?;
    let length = piece.end - piece.start + 1;
    (length > ranges.threshold && length > ranges.size).then(|| Span { base: piece.start, length, etag: piece.etag.to_string() })
}

/// One range: bytes [start, end) of the object, `at` the next to arrive.
struct Piece<'a> {
    end: u64,
    at: u64,
    tries: u32,
    stage: Stage<'a>,
}

enum Stage<'a> {
    /// Not asked for yet, or to be asked for again from `at`.
    Waiting,
    /// To be asked for again from `at` once the monotonic clock reaches `until` (nanoseconds).
    Pausing { until: u64 },
    Asked(Flight<'a>),
    /// Its bytes on their way; `first` for the first range, read from the first answer, whose
    /// rest is left unread.
    Moving { head: Head, out: OutputStream, first: bool },
    Done,
}

/// What one step of a piece came to.
enum Step {
    /// Wait on this before the next step.
    Wait(Pollable),
    /// Step again (or, for a piece now waiting or done, move on).
    Again,
}

/// Reads `span`, the `length` bytes from byte `base` of the object whose first answer is
/// `head`, in ranges into `sink`: the complete answer (the first head, with all the sink
/// received), or why not. Offsets below are the sink's; the object's are `base` further.
pub(super) fn read<'a>(head: Head, sink: &Sink, ranges: &Ranges<'a, Source>, span: Span, timeout_ms: u64, shorter: bool) -> Result<HttpResponse, StoreError> {
    let Span { base, length, etag } = span;
    let (status, headers, what) = (head.status, head.headers.clone(), head.what.clone());
    reset(sink, check_for(status, &headers))?;
    let mut pieces = cut_up(length, ranges.size);
    pieces[0].stage = Stage::Moving { head, out: sink.write(), first: true };
    // The in-order stream: while it takes nothing (the caller's writer is behind), no range starts.
    let gate = sink.write();
    loop {
        let first_open = pieces.iter().position(|p| !matches!(p.stage, Stage::Done));
        let Some(first_open) = first_open else { break };
        let mut waits = Vec::new();
        let in_flight = pieces.iter().filter(|p| matches!(p.stage, Stage::Asked(_) | Stage::Moving { .. })).count();
        let mut room = (ranges.concurrency as usize).saturating_sub(in_flight);
        for piece in pieces.iter_mut().skip(first_open).take(ranges.concurrency as usize) {
            if matches!(piece.stage, Stage::Done) {
                continue;
            }
            if let Some(wake) = paused(piece) {
                waits.push(wake);
                continue;
            }
            if matches!(piece.stage, Stage::Waiting) {
                if room == 0 {
                    break;
                }
                match gate.check_write() {
                    Ok(0) => {
                        waits.push(gate.subscribe());
                        break;
                    }
                    Ok(_) => {}
                    Err(e) => return Err(StoreError::other(format!("{what}: the output: {e:?}"))),
                }
                let request = (ranges.request)(base + piece.at, base + piece.end - 1, &etag);
                piece.stage = Stage::Asked(Flight::start(&request, timeout_ms, shorter)?);
                room -= 1;
            }
            while !matches!(piece.stage, Stage::Done | Stage::Waiting | Stage::Pausing { .. }) {
                if let Step::Wait(pollable) = step(piece, sink, (base, &etag), ranges)? {
                    waits.push(pollable);
                    break;
                }
            }
        }
        if !waits.is_empty() {
            poll::poll(&waits.iter().collect::<Vec<_>>());
        }
    }
    drop(gate);
    let received = sink.received();
    if received.size != length {
        return Err(StoreError::integrity(format!("{what}: {} of its {length} bytes arrived in ranges", received.size)));
    }
    let received = Received { size: received.size, digest: received.digest };
    Ok(HttpResponse { status, headers, body: Vec::new(), received: Some(received), cut: None })
}

/// `length` bytes as pieces of `size`, none asked for yet.
fn cut_up<'a>(length: u64, size: u64) -> Vec<Piece<'a>> {
    let piece = |i: u64| Piece { end: ((i + 1) * size).min(length), at: i * size, tries: 0, stage: Stage::Waiting };
    (0..length.div_ceil(size)).map(piece).collect()
}

/// When `piece` waits out a retry's pause: what wakes it then. A pause that is over leaves the
/// piece waiting to be asked for again.
fn paused(piece: &mut Piece<'_>) -> Option<Pollable> {
    let Stage::Pausing { until } = piece.stage else { return None };
    if monotonic_clock::now() < until {
        return Some(monotonic_clock::subscribe_instant(until));
    }
    piece.stage = Stage::Waiting;
    None
}

/// Moves `piece` on as far as it goes without waiting.
fn step(piece: &mut Piece<'_>, sink: &Sink, (base, etag): (u64, &str), ranges: &Ranges<'_, Source>) -> Result<Step, StoreError> {
    match std::mem::replace(&mut piece.stage, Stage::Done) {
        stage @ (Stage::Waiting | Stage::Pausing { .. } | Stage::Done) => {
            piece.stage = stage;
            Ok(Step::Again)
        }
        Stage::Asked(flight) if !flight.answered() => {
            let pollable = flight.waiting_on();
            piece.stage = Stage::Asked(flight);
            Ok(Step::Wait(pollable))
        }
        Stage::Asked(flight) => match flight.head() {
            Ok(head) if head.status == 206 && continues(&head.headers, base + piece.at, etag) => {
                let ends_right = content_range(&head.headers).is_some_and(|r| r.end + 1 == base + piece.end);
                if !ends_right {
                    return Err(StoreError::integrity(format!("{}: the range answered is not the one asked for", head.what)));
                }
                piece.stage = Stage::Moving { out: sink.write_at(piece.at), head, first: false };
                Ok(Step::Again)
            }
            Ok(head) if (200..300).contains(&head.status) && header_of(&head.headers, "etag").is_some_and(|e| same_etag(e, etag)) => {
                Err(StoreError::unavailable(format!("{}: HTTP {} to a ranged GET: the server did not answer the range", head.what, head.status)))
            }
            Ok(head) if matches!(head.status, 412 | 404) || (200..300).contains(&head.status) => Err(StoreError::unavailable(format!(
                "{}: the object changed while it was read in ranges (it is no longer ETag {etag}): its ranges are not put together",
                head.what
            ))),
            Ok(head) => {
                let error = StoreError::unavailable(format!("{}: HTTP {} to a range", head.what, head.status));
                again(piece, ranges, error, header_of(&head.headers, "retry-after"))
            }
            Err(e) => again(piece, ranges, e, None),
        },
        Stage::Moving { head, out, first } => moving(piece, head, out, first, ranges),
    }
}

/// Splices what `head`'s body has now into `out`. The first range is read from the first
/// answer, whose rest is left unread; a range's own answer is read to its end.
fn moving(piece: &mut Piece<'_>, head: Head, out: OutputStream, first: bool, ranges: &Ranges<'_, Source>) -> Result<Step, StoreError> {
    loop {
        if first && piece.at == piece.end {
            return Ok(Step::Again);
        }
        let permit = match out.check_write() {
            Ok(0) => {
                let pollable = out.subscribe();
                piece.stage = Stage::Moving { head, out, first };
                return Ok(Step::Wait(pollable));
            }
            Ok(permit) => permit,
            Err(e) => return Err(head.failed(e)),
        };
        // One byte past the range's end, to find its answer's end (or a body that runs past it).
        let asked = permit.min(SPLICE).min(piece.end - piece.at + u64::from(!first));
        match out.splice(&head.stream, asked) {
            Ok(0) => {
                let pollable = head.stream.subscribe();
                piece.stage = Stage::Moving { head, out, first };
                return Ok(Step::Wait(pollable));
            }
            Ok(n) => {
                piece.at += n;
                if piece.at > piece.end {
                    return Err(StoreError::integrity(format!("{}: the range's body runs past its end", head.what)));
                }
            }
            Err(e) => {
                return match head.stopped(e, &out, piece.at, piece.end)? {
                    None => Ok(Step::Again),
                    Some(cut) => again(piece, ranges, cut, None),
                };
            }
        }
    }
}

/// `piece` is asked for again from the byte it reached, after the wait `ranges` sets for its
/// retry (the server's `retry_after` heeded), while its retries and the call's bound last.
fn again(piece: &mut Piece<'_>, ranges: &Ranges<'_, Source>, error: StoreError, retry_after: Option<&str>) -> Result<Step, StoreError> {
    if piece.tries >= ranges.retries || !error.is_transient() {
        return Err(error);
    }
    let wait_ms = (ranges.pause)(piece.tries, retry_after, error)?;
    piece.tries += 1;
    piece.stage = Stage::Pausing { until: monotonic_clock::now().saturating_add(wait_ms.saturating_mul(1_000_000)) };
    Ok(Step::Again)
}
