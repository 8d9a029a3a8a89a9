//! Hedged reads: a get whose answer is late past the bound learned from the tenant's own
//! first-byte times is sent once more, the first answer taken and the other cancelled, within
//! a twentieth of the gets: the 99th percentile no longer waits out a stall. Through the fault proxy, which holds back 1 GET in 50 for 2 s, in
//! front of the real server.

use std::time::{Duration, Instant};

use coffer_host::Tenant;
use coffer_tests::{Fault, FaultProxy, Rule, When, blob, note, proxied_tenant, server};

const HELD: u32 = 2000;
const GETS: usize = 400;

/// The times of `count` gets of `key`, each checked, sorted.
async fn times(tenant: &Tenant, key: &str, want: &[u8], count: usize) -> Vec<Duration> {
    let mut times = Vec::with_capacity(count);
    for _ in 0..count {
        let started = Instant::now();
        assert!(tenant.get(key, ..).await.unwrap().unwrap() == want);
        times.push(started.elapsed());
    }
    times.sort();
    times
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_get_is_sent_once_more_and_a_stall_no_longer_sets_the_tail() {
    let proxy = FaultProxy::start(&server().endpoint, vec![Rule::new(Fault::Delay(HELD), "GET", When::Ratio(0.02))]);
    let (hedged, direct) = proxied_tenant(&proxy.endpoint, "hedging", |b| b);
    let data = blob(4096, 81);
    direct.put("k", &data).await.unwrap();
    // The bound is learned first, from the tenant's own gets.
    times(&hedged, "k", &data, 40).await;
    let held_before = proxy.injected(Fault::Delay(HELD));
    let p99 = times(&hedged, "k", &data, GETS).await[GETS * 99 / 100];
    let held = proxy.injected(Fault::Delay(HELD)) - held_before;
    let (sent, won) = (hedged.stats().hedged_gets, hedged.stats().hedges_won);
    note("hedging", &format!("figure: {GETS} gets, {held} held back {HELD} ms: p99 {p99:?} with hedging, {sent} GETs sent again, {won} answered first"));
    assert!(held >= 1, "the proxy held back no GET: the test shows nothing");
    assert!(p99 < Duration::from_millis(u64::from(HELD) / 2), "held-back GETs set the tail: p99 {p99:?}");
    assert!(sent >= 1 && sent <= (GETS as u64 + 40) / 20 + 2, "{sent} GETs sent again for {} gets", GETS + 40);
    // A held-back GET's hedge answers first: the outcomes say hedging pays, and it goes on.
    assert!(won >= 1 && won <= sent, "{won} of {sent} hedges answered first");

    // Without hedging, a held-back GET is waited out.
    let (plain, direct) = proxied_tenant(&proxy.endpoint, "hedging", |b| b.hedge_reads(false));
    direct.put("k", &data).await.unwrap();
    let held_before = proxy.injected(Fault::Delay(HELD));
    let slowest = *times(&plain, "k", &data, GETS / 2).await.last().unwrap();
    assert!(proxy.injected(Fault::Delay(HELD)) > held_before, "the proxy held back no GET: the test shows nothing");
    assert!(slowest >= Duration::from_millis(u64::from(HELD)), "{slowest:?}");
    assert_eq!(plain.stats().hedged_gets, 0, "hedgeReads = false");
}
