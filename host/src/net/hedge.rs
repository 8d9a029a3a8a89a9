//! When a tenant's read is late enough to be sent again ("The Tail at Scale", Dean and
//! Barroso): the bound is learned from the tenant's own recent first-byte times, and the extra
//! GETs it may cost are capped at a share of its GETs.
//!
//! The transport records how long each object GET waited for its answer's head; a get asks
//! for the bound before it starts, and the plugin sends the same GET once more when the first
//! has not begun by then. The bound is the 98th percentile of the last [`WINDOW`] waits, and
//! at least twice their median: where waits are spread (a provider's), about one GET in fifty
//! is late by it when nothing is wrong, which leaves most of the share for the GETs that stall;
//! where they are tight (a server nearby), fewer are. The budget makes the share a ceiling: a
//! hedge is offered only while the hedges sent stay within [`SHARE_PERCENT`] of the gets asked
//! for (plus a burst of two).

use std::sync::Mutex;
use std::time::Duration;

/// How many recent first-byte times the bound is learned from.
const WINDOW: usize = 128;
/// Fewer times than this, and there is no bound yet: nothing is hedged.
const MIN_SAMPLES: usize = 32;
/// The most extra GETs hedging may cost, in percent of the gets.
const SHARE_PERCENT: u64 = 5;
/// The bound is worked out again after this many new times (sorting every get would cost more
/// than it learns).
const RELEARN_EVERY: u32 = 16;

/// A tenant's recent first-byte times and the hedges they led to.
#[derive(Default)]
pub(crate) struct Hedge {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// First-byte times in microseconds, a ring.
    recent: Vec<u32>,
    next: usize,
    /// Times recorded since the bound was last worked out.
    since: u32,
    bound: Option<Duration>,
    /// Gets that asked for the bound, and hedges sent.
    gets: u64,
    hedged: u64,
}

impl Hedge {
    /// An object GET's answer began after `waited`.
    pub(crate) fn record(&self, waited: Duration) {
        let mut state = self.lock();
        let micros = u32::try_from(waited.as_micros()).unwrap_or(u32::MAX);
        if state.recent.len() < WINDOW {
            state.recent.push(micros);
        } else {
            let at = state.next;
            state.recent[at] = micros;
        }
        state.next = (state.next + 1) % WINDOW;
        state.since += 1;
        if state.recent.len() >= MIN_SAMPLES && (state.bound.is_none() || state.since >= RELEARN_EVERY) {
            state.since = 0;
            state.bound = Some(bound_of(&state.recent));
        }
    }

    /// The bound for a get about to start, counted as one: `None` while too little is known
    /// or the share of extra GETs is spent.
    pub(crate) fn bound(&self) -> Option<Duration> {
        let mut state = self.lock();
        state.gets += 1;
        let within = (state.hedged + 1) * 100 <= state.gets * SHARE_PERCENT + 200;
        state.bound.filter(|_| within)
    }

    /// The plugin sent `count` hedges.
    pub(crate) fn hedged(&self, count: u32) {
        if count > 0 {
            self.lock().hedged += u64::from(count);
        }
    }

    /// Gets counted, and hedges sent, so far.
    pub(crate) fn counts(&self) -> (u64, u64) {
        let state = self.lock();
        (state.gets, state.hedged)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The 98th percentile of `times` (microseconds), and at least twice their median.
fn bound_of(times: &[u32]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort_unstable();
    let at = |percent: usize| sorted[(sorted.len() * percent / 100).min(sorted.len() - 1)];
    let micros = at(98).max(at(50).saturating_mul(2)).max(1);
    Duration::from_micros(u64::from(micros))
}

#[cfg(test)]
mod tests;
