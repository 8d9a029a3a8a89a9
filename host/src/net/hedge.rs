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
//!
//! A hedge pays only when it wins: when the GET it doubles has stalled, so that the second
//! answers first. When the server is late for everyone (a saturated CPU, a queue), the first
//! answers first and the hedge was one more GET, and one more connection, for nothing. So the
//! outcomes of the last [`OUTCOMES`] hedges are kept: while fewer than one in [`PAYS_ONE_IN`]
//! of them won, only one get in [`PROBE_EVERY`] is offered a hedge, enough to notice when
//! hedges win again.

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
/// How many of the latest hedges' outcomes say whether hedging pays (at most 32: a bit each).
const OUTCOMES: u32 = 16;
/// Hedging pays while at least one in this many of the latest hedges won (or fewer than half
/// of [`OUTCOMES`] are known).
const PAYS_ONE_IN: u32 = 4;
/// While hedging does not pay, one get in this many is offered a hedge.
const PROBE_EVERY: u64 = 8;

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
    /// Gets that asked for the bound, hedges sent, and hedges that won.
    gets: u64,
    hedged: u64,
    won: u64,
    /// The latest hedges' outcomes, a bit each (1: won), the newest lowest; `known` of them.
    outcomes: u32,
    known: u32,
}

impl State {
    /// Whether enough of the latest hedges won for hedging to pay.
    fn pays(&self) -> bool {
        let wins = (self.outcomes & ((1u64 << self.known) - 1) as u32).count_ones();
        self.known < OUTCOMES / 2 || wins * PAYS_ONE_IN >= self.known
    }

    fn outcome(&mut self, won: bool) {
        self.outcomes = (self.outcomes << 1) | u32::from(won);
        self.known = (self.known + 1).min(OUTCOMES);
    }
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

    /// The bound for a get about to start, counted as one: `None` while too little is known,
    /// the share of extra GETs is spent, or hedges do not pay and this get is not a probe.
    pub(crate) fn bound(&self) -> Option<Duration> {
        let mut state = self.lock();
        state.gets += 1;
        let within = (state.hedged + 1) * 100 <= state.gets * SHARE_PERCENT + 200;
        let offered = state.pays() || state.gets.is_multiple_of(PROBE_EVERY);
        state.bound.filter(|_| within && offered)
    }

    /// The plugin sent `count` hedges, of which `won` answered first.
    pub(crate) fn hedged(&self, count: u32, won: u32) {
        if count == 0 {
            return;
        }
        let mut state = self.lock();
        state.hedged += u64::from(count);
        state.won += u64::from(won.min(count));
        for at in 0..count.min(OUTCOMES) {
            state.outcome(at < won);
        }
    }

    /// Gets counted, hedges sent, and hedges that won, so far.
    pub(crate) fn counts(&self) -> (u64, u64, u64) {
        let state = self.lock();
        (state.gets, state.hedged, state.won)
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
