//! A response body sent in pieces, with a pause between them, that may end in an error: how
//! the fault proxy and the personas answer.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame};

/// A response body sent in pieces, with a pause between them, that may end in an error (the
/// connection is then closed with the body short of its Content-Length).
pub struct Pieces {
    pieces: VecDeque<Bytes>,
    gap: Duration,
    pause: Option<Pin<Box<tokio::time::Sleep>>>,
    then_fail: bool,
    /// The pause before the failure has been taken.
    paused_before_failing: bool,
    size: u64,
}

/// How long a body cut short waits after its last piece before it fails, so that the piece
/// reaches the client: without it the server drops its unsent buffer with the connection, and
/// the "mid-body" cut would deliver no body at all.
const PAUSE_BEFORE_FAILING: Duration = Duration::from_millis(20);

impl Pieces {
    pub(crate) fn whole(bytes: Bytes) -> Pieces {
        let size = bytes.len() as u64;
        Pieces {
            pieces: VecDeque::from([bytes]),
            gap: Duration::ZERO,
            pause: None,
            then_fail: false,
            paused_before_failing: false,
            size,
        }
    }

    /// `part` of a body of `whole` bytes, then an error.
    pub(crate) fn cut_short(part: Bytes, whole: usize) -> Pieces {
        Pieces { then_fail: true, size: whole as u64, ..Pieces::whole(part) }
    }

    pub(crate) fn trickle(bytes: Bytes, piece: usize, gap: Duration) -> Pieces {
        let size = bytes.len() as u64;
        let pieces = (0..bytes.len()).step_by(piece).map(|at| bytes.slice(at..(at + piece).min(bytes.len()))).collect();
        Pieces { pieces, gap, pause: None, then_fail: false, paused_before_failing: false, size }
    }
}

impl Body for Pieces {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        if let Some(pause) = self.pause.as_mut() {
            if pause.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.pause = None;
        }
        match self.pieces.pop_front() {
            Some(piece) => {
                if !self.gap.is_zero() && !self.pieces.is_empty() {
                    self.pause = Some(Box::pin(tokio::time::sleep(self.gap)));
                }
                Poll::Ready(Some(Ok(Frame::data(piece))))
            }
            None if self.then_fail && !self.paused_before_failing => {
                self.paused_before_failing = true;
                let mut pause = Box::pin(tokio::time::sleep(PAUSE_BEFORE_FAILING));
                let _ = pause.as_mut().poll(cx);
                self.pause = Some(pause);
                Poll::Pending
            }
            None if self.then_fail => {
                Poll::Ready(Some(Err(std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "cut short"))))
            }
            None => Poll::Ready(None),
        }
    }

    fn size_hint(&self) -> http_body::SizeHint {
        // A body cut short still promises its whole size: the head keeps the server's
        // Content-Length (hyper uses this hint only when the head has none).
        http_body::SizeHint::with_exact(self.size)
    }
}
