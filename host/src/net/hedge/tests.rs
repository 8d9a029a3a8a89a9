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
        // Every get is late: each one offered is sent.
        if hedge.bound().is_some() {
            offered += 1;
            hedge.hedged(1);
        }
    }
    assert!((51..=52).contains(&offered), "{offered} hedges for 1000 gets: 5%, and a burst of two");
    assert_eq!(hedge.counts(), (1000, offered));
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
