use std::time::Duration;

use super::*;

#[test]
fn no_bound_until_enough_is_known_then_the_98th_percentile_or_twice_the_median() {
    let hedge = Hedge::default();
    for _ in 0..MIN_SAMPLES - 1 {
        hedge.record(Duration::from_millis(1));
    }
    assert_eq!(hedge.bound(), None, "too little known");
    hedge.record(Duration::from_millis(1));
    assert_eq!(hedge.bound(), Some(Duration::from_millis(2)), "all alike: twice the median");

    // Spread: 90 waits of 10 ms and 10 of 100 ms; the 98th percentile binds.
    let times: Vec<u32> = [10_000; 90].into_iter().chain([100_000; 10]).collect();
    assert_eq!(bound_of(&times), Duration::from_millis(100));
    // 1..=100 ms: twice the median (51 ms) is past the 98th percentile (99 ms).
    let times: Vec<u32> = (1..=100).map(|ms| ms * 1000).collect();
    assert_eq!(bound_of(&times), Duration::from_millis(102));
}

#[test]
fn hedges_stay_within_their_share_of_the_gets() {
    let hedge = Hedge::default();
    for _ in 0..WINDOW {
        hedge.record(Duration::from_millis(1));
    }
    let mut offered = 0;
    for _ in 0..1000 {
        // Every get is late: each one offered is sent, and wins.
        if hedge.bound().is_some() {
            offered += 1;
            hedge.hedged(1, 1);
        }
    }
    assert!((51..=52).contains(&offered), "{offered} hedges for 1000 gets: 5%, and a burst of two");
    assert_eq!(hedge.counts(), (1000, offered, offered));
}

/// `gets` gets, one in [`LATE_ONE_IN`] late: each late one that is offered a hedge sends it,
/// which wins as `wins` says of the hedges sent before it. How many were sent.
fn offer(hedge: &Hedge, gets: u32, wins: impl Fn(u64) -> bool) -> u64 {
    let mut sent = 0;
    for get in 0..gets {
        if hedge.bound().is_some() && get % LATE_ONE_IN == 0 {
            hedge.hedged(1, u32::from(wins(sent)));
            sent += 1;
        }
    }
    sent
}

/// One get in this many is late (4%: within the share).
const LATE_ONE_IN: u32 = 25;

#[test]
fn hedges_that_do_not_win_back_off_to_probes_and_come_back_when_they_win() {
    let hedge = Hedge::default();
    for _ in 0..WINDOW {
        hedge.record(Duration::from_millis(1));
    }
    let late = u64::from(8000 / LATE_ONE_IN);
    // One hedge in six wins (a server late for everyone): after the first outcomes, only one
    // get in PROBE_EVERY is offered one.
    let sent = offer(&hedge, 8000, |n| n % 6 == 0);
    assert!(sent < late / 4, "{sent} hedges for {late} late gets: backed off");
    assert!(sent > late / PROBE_EVERY / 2, "{sent} hedges for {late} late gets: probes go on");
    // One in three wins: the probes bring hedging back, and every late get is hedged again.
    offer(&hedge, 8000, |n| n % 3 == 0);
    assert!(hedge.lock().pays());
    let sent = offer(&hedge, 8000, |n| n % 3 == 0);
    assert!(sent > late * 9 / 10, "{sent} hedges for {late} late gets, while one hedge in three wins");
    // They stop winning, then win again: the probes bring hedging back.
    offer(&hedge, 8000, |_| false);
    assert!(!hedge.lock().pays());
    offer(&hedge, 8000, |_| true);
    assert!(hedge.lock().pays());
}

#[test]
fn the_ring_forgets_old_times() {
    let hedge = Hedge::default();
    for _ in 0..WINDOW {
        hedge.record(Duration::from_millis(100));
    }
    for _ in 0..WINDOW {
        hedge.record(Duration::from_millis(1));
    }
    assert_eq!(hedge.bound(), Some(Duration::from_millis(2)));
}
