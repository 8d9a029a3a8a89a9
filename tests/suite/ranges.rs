//! Long objects read as ranged GETs at once: the first range from the whole GET's answer, the
//! rest each held to its ETag, written in order, the whole checked as one read. Through the
//! fault proxy in front of the real server.

use std::time::{Duration, Instant};

use coffer_host::TenantSettingsBuilder;
use coffer_tests::{Fault, FaultProxy, Rule, When, blob, proxied_tenant, server};

use crate::streams::Replacing;

const MIB: usize = 1 << 20;

/// Reads of more than 8 MiB in ranges of 1 MiB, 4 at once.
fn in_ranges(b: TenantSettingsBuilder) -> TenantSettingsBuilder {
    // Not hedged: the test counts the GETs.
    b.ranged_read_threshold(8 * MIB as u64).range_size(MIB as u64).range_concurrency(4).max_retries(3).hedge_reads(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_object_is_read_in_ranges_at_once_held_to_its_etag_and_checked_whole() {
    let proxy = FaultProxy::start(&server().endpoint, vec![]);
    let (store, direct) = proxied_tenant(&proxy.endpoint, "ranges", in_ranges);
    let data = blob(20 * MIB + 5, 90);
    direct.put("big", &data).await.unwrap();
    let etag = direct.stat("big").await.unwrap().unwrap().etag;
    assert!(store.get("big", ..).await.unwrap().unwrap() == data);
    assert_eq!(proxy.requests("GET"), 21, "the whole GET, then 20 ranges of 1 MiB");
    assert!(proxy.most_at_once() >= 2, "ranges were read at once: at most {} in flight", proxy.most_at_once());
    let held_to = proxy.header_values("if-match");
    assert_eq!(held_to.len(), 20);
    assert!(held_to.iter().all(|value| value.trim_matches('"') == etag.trim_matches('"')), "{held_to:?} for {etag}");

    let mut out = Vec::new();
    assert_eq!(store.get_stream("big", .., &mut out).await.unwrap(), Some(data.len() as u64));
    assert!(out == data, "streamed in order");
    // At the threshold, and a range as long: one GET each.
    let small = blob(8 * MIB, 91);
    direct.put("small", &small).await.unwrap();
    let before = proxy.requests("GET");
    assert!(store.get("small", ..).await.unwrap().unwrap() == small);
    assert!(store.get("big", 5..8 * MIB as u64 + 5).await.unwrap().unwrap() == data[5..8 * MIB + 5]);
    assert_eq!(proxy.requests("GET") - before, 2);
    // A longer range is read in ranges too, from where it starts.
    let before = proxy.requests("GET");
    let span = 3 * MIB as u64 + 7..15 * MIB as u64 + 3;
    let mut out = Vec::new();
    assert_eq!(store.get_stream("big", span.clone(), &mut out).await.unwrap(), Some(span.end - span.start));
    assert!(out == data[span.start as usize..span.end as usize]);
    assert_eq!(proxy.requests("GET") - before, 12, "the ranged GET, then 11 more of 1 MiB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_or_damaged_range_is_read_again_and_never_answered_as_data() {
    let data = blob(12 * MIB, 92);
    // The whole GET and the first two ranges cut midway: each range is asked for again from
    // the byte it reached.
    let cut = FaultProxy::start(&server().endpoint, vec![Rule::new(Fault::Truncate, "GET", When::First(3))]);
    let (store, direct) = proxied_tenant(&cut.endpoint, "ranges-faults", in_ranges);
    direct.put("k", &data).await.unwrap();
    let mut out = Vec::new();
    assert_eq!(store.get_stream("k", .., &mut out).await.unwrap(), Some(data.len() as u64));
    assert!(out == data);
    assert_eq!(cut.injected(Fault::Truncate), 3);

    // A flipped byte in a range: the whole's digest does not match. A get into memory reads
    // the object again; one streamed to a writer fails.
    let flipped = FaultProxy::start(&server().endpoint, vec![Rule::new(Fault::FlipByte, "GET", When::First(3))]);
    let (store, _) = proxied_tenant(&flipped.endpoint, "ranges-faults", in_ranges);
    assert!(store.get("k", ..).await.unwrap().unwrap() == data, "read again whole");
    assert!(flipped.injected(Fault::FlipByte) >= 1);
    let always = FaultProxy::start(&server().endpoint, vec![Rule::new(Fault::FlipByte, "GET", When::Always)]);
    let (store, _) = proxied_tenant(&always.endpoint, "ranges-faults", in_ranges);
    let error = store.get("k", ..).await.unwrap_err();
    assert_eq!(error.kind(), coffer_host::ErrorKind::Integrity, "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_range_the_server_slows_down_is_asked_for_again_after_the_wait_it_asks_for() {
    let data = blob(12 * MIB, 96);
    // The whole GET passes; the next two, ranges, are refused with SlowDown and Retry-After: 1.
    let rules = vec![Rule::new(Fault::SlowDownRetryAfter(1), "GET", When::Between { skip: 1, count: 2 })];
    let proxy = FaultProxy::start(&server().endpoint, rules);
    let (store, direct) = proxied_tenant(&proxy.endpoint, "ranges-slowdown", in_ranges);
    direct.put("k", &data).await.unwrap();
    let started = Instant::now();
    assert!(store.get("k", ..).await.unwrap().unwrap() == data);
    let took = started.elapsed();
    assert_eq!(proxy.injected(Fault::SlowDownRetryAfter(1)), 2);
    assert_eq!(proxy.requests("GET"), 14, "the whole GET, 11 ranges, and the 2 refused asked for again");
    assert!(took >= Duration::from_secs(1), "the refused ranges waited the second the server asked for: {took:?}");

    // A wait that would outlast the call's bound is not begun: the read fails at once, and
    // says which bound ran out.
    let rules = vec![Rule::new(Fault::SlowDownRetryAfter(5), "GET", When::After(1))];
    let proxy = FaultProxy::start(&server().endpoint, rules);
    let (store, direct) = proxied_tenant(&proxy.endpoint, "ranges-slowdown", |b| in_ranges(b).timeout(Duration::from_secs(2)).call_timeout(Duration::from_secs(3)));
    direct.put("k", &data).await.unwrap();
    let started = Instant::now();
    let error = store.get("k", ..).await.unwrap_err();
    assert!(error.message().contains("callTimeout"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(3), "failed before the bound, not at it: {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_replaced_while_read_in_ranges_is_never_stitched_together() {
    let data = blob(24 * MIB, 93);
    let proxy = FaultProxy::start(&server().endpoint, vec![]);
    let (store, direct) = proxied_tenant(&proxy.endpoint, "ranges-replaced", in_ranges);
    direct.put("k", &data).await.unwrap();
    // The writer holds its first bytes until the object is replaced; the ranges asked for after
    // that find another ETag.
    let replaced = blob(24 * MIB, 94);
    let mut out = Replacing { replace: Some(Box::pin(direct.put("k", &replaced))), out: Vec::new() };
    let error = store.get_stream("k", .., &mut out).await.unwrap_err();
    assert!(error.message().contains("changed while it was read"), "{error}");
    assert!(out.out.len() < data.len() && data.starts_with(&out.out), "only the first object's bytes, {} of them", out.out.len());
    // A get into memory starts over, and reads the new object whole.
    assert!(store.get("k", ..).await.unwrap().unwrap() == replaced);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encrypted_tenants_long_object_is_read_in_ranges_and_opened_whole() {
    let key = "5e".repeat(32);
    let proxy = FaultProxy::start(&server().endpoint, vec![]);
    let (store, _) = proxied_tenant(&proxy.endpoint, "ranges-sealed", |b| in_ranges(b).encryption("k1", key.as_str()));
    let data = blob(12 * MIB + 3, 95);
    store.put("sealed", &data).await.unwrap();
    let before = proxy.requests("GET");
    assert!(store.get("sealed", ..).await.unwrap().unwrap() == data);
    assert!(proxy.requests("GET") - before > 2, "the sealed object was read in ranges");
    let span = MIB as u64 + 11..11 * MIB as u64 + 5;
    let mut out = Vec::new();
    assert_eq!(store.get_stream("sealed", span.clone(), &mut out).await.unwrap(), Some(span.end - span.start));
    assert!(out == data[span.start as usize..span.end as usize], "a long range, opened segment by segment");
}
