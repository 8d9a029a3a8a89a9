//! Load: 50 tenants x 8 concurrent callers for 60 s against the server, mixed put, get, stat
//! and delete, each caller checking every answer against what it wrote. No error, no lost
//! write, the host's memory bounded. The figures are printed (`figure: load`) and kept in
//! docs/sandbox.md. COFFER_TEST_LOAD_SECS shortens or lengthens the run (default 60).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use coffer_tests::{blob, coffer, in_parallel, note, settings, unique_prefix};

const TENANTS: usize = 50;
const CALLERS: usize = 8;
/// Keys per caller: it cycles through them, so objects are overwritten, read, and deleted.
const KEYS: u64 = 16;
const BLOB: usize = 4096;

#[derive(Default)]
struct Tally {
    ops: u64,
    errors: Vec<String>,
    latencies: Vec<Duration>,
    /// What this caller's keys hold now: key → seed of its bytes.
    model: HashMap<String, u64>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_tenants_under_load_lose_nothing() {
    if coffer_tests::skip_on(&[coffer_tests::Family::Embedded], "fifty_tenants_under_load_lose_nothing", "a figure of throughput, not conformance: measured against Garage (CI's Garage pass, or COFFER_TEST_S3_* naming a real server)") {
        return;
    }
    let secs = std::env::var("COFFER_TEST_LOAD_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(60);
    let tenants: Arc<Vec<_>> = Arc::new(
        (0..TENANTS).map(|t| Arc::new(coffer().tenant(settings(&unique_prefix(&format!("load-{t}")), |b| b)))).collect(),
    );

    let stop = Arc::new(AtomicBool::new(false));
    let peak_rss = Arc::new(AtomicU64::new(rss_bytes()));
    let sampler = {
        let (stop, peak) = (stop.clone(), peak_rss.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(rss_bytes(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let rss_before = rss_bytes();

    let started = Instant::now();
    let deadline = started + Duration::from_secs(secs);
    let mut callers = Vec::new();
    for (t, tenant) in tenants.iter().enumerate() {
        for c in 0..CALLERS {
            let tenant = tenant.clone();
            callers.push(tokio::spawn(async move { call_until(&tenant, (t * CALLERS + c) as u64, deadline).await }));
        }
    }
    let mut tallies = Vec::new();
    for caller in callers {
        tallies.push(caller.await.unwrap());
    }
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    sampler.await.unwrap();

    // Every write that stands, read back.
    let standing: Vec<_> = tallies
        .iter()
        .enumerate()
        .flat_map(|(n, tally)| tally.model.iter().map(move |(key, seed)| (n / CALLERS, key.clone(), *seed)))
        .collect();
    let standing = Arc::new(standing);
    let found = {
        let (tenants, standing) = (tenants.clone(), standing.clone());
        in_parallel(standing.len(), CALLERS * 4, move |i| {
            let (tenants, standing) = (tenants.clone(), standing.clone());
            async move {
                let (t, key, seed) = &standing[i];
                tenants[*t].get(key, ..).await.ok().flatten() == Some(blob(BLOB, *seed))
            }
        })
        .await
    };
    let lost = found.iter().filter(|found| !**found).count();

    let ops: u64 = tallies.iter().map(|t| t.ops).sum();
    let errors: Vec<&String> = tallies.iter().flat_map(|t| &t.errors).collect();
    let mut latencies: Vec<Duration> = tallies.iter().flat_map(|t| t.latencies.iter().copied()).collect();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    // The tenants share one endpoint and one trust, and so their connections: the count is the
    // endpoint's, the same for each.
    let connections = tenants[0].stats().connections_opened;
    let mib = |b: u64| b as f64 / (1u64 << 20) as f64;
    let peak = peak_rss.load(Ordering::Relaxed);
    note(
        "figure: load",
        &format!(
            "{TENANTS} tenants x {CALLERS} callers, {:.0} s, mixed put/get/stat/delete of {BLOB} B: {ops} calls, {:.0} calls/s, \
             p50 {:.1} ms, p99 {:.1} ms, {} errors, {lost} lost, {connections} connections opened in all, \
             RSS {:.0} MiB before, peak {:.0} MiB (the whole test process)",
            elapsed.as_secs_f64(),
            ops as f64 / elapsed.as_secs_f64(),
            at(0.5).as_secs_f64() * 1000.0,
            at(0.99).as_secs_f64() * 1000.0,
            errors.len(),
            mib(rss_before),
            mib(peak),
        ),
    );
    assert!(errors.is_empty(), "{} errors, the first: {:?}", errors.len(), errors.iter().take(5).collect::<Vec<_>>());
    assert_eq!(lost, 0, "writes lost");
    assert!(ops >= (TENANTS * CALLERS * 10) as u64, "hardly any calls made it: {ops}");
    // Kept-alive connections are reused, shared by the tenants, and capped per endpoint: 400
    // callers share at most 64 connections at once; far fewer opened than one per ten calls.
    assert!(connections * 10 <= ops, "{connections} connections for {ops} calls");
    assert!(tenants[0].stats().connections_open <= coffer_host::DEFAULT_MAX_CONNECTIONS_PER_ENDPOINT);
    // Memory stays bounded: far below what 400 sandboxes at their 256 MiB limit could take.
    assert!(peak - rss_before.min(peak) < 2048 << 20, "RSS grew by {:.0} MiB", mib(peak - rss_before.min(peak)));
}

/// One caller's loop: put, get, stat, delete over its own keys, checking each answer.
async fn call_until(tenant: &coffer_host::Tenant, caller: u64, deadline: Instant) -> Tally {
    let mut tally = Tally::default();
    let mut i: u64 = 0;
    while Instant::now() < deadline {
        // Three calls per key, four kinds of call: every key sees every kind, in turn.
        let key = format!("c{caller}-k{}", (i / 3) % KEYS);
        let started = Instant::now();
        let outcome = match i % 4 {
            0 => {
                let seed = caller << 32 | i;
                let result = tenant.put(&key, &blob(BLOB, seed)).await.map(|()| None);
                if result.is_ok() {
                    tally.model.insert(key.clone(), seed);
                }
                result
            }
            1 => tenant.get(&key, ..).await.map(|read| {
                let expected = tally.model.get(&key).map(|seed| blob(BLOB, *seed));
                (read != expected).then(|| format!("get {key}: not what was written"))
            }),
            2 => tenant.stat(&key).await.map(|info| {
                let expected = tally.model.get(&key).map(|_| BLOB as u64);
                (info.map(|i| i.size) != expected).then(|| format!("stat {key}: wrong size"))
            }),
            _ => tenant.delete(&key).await.map(|existed| {
                let expected = tally.model.remove(&key).is_some();
                (existed != expected).then(|| format!("delete {key}: existed = {existed}"))
            }),
        };
        tally.latencies.push(started.elapsed());
        match outcome {
            Ok(None) => {}
            Ok(Some(wrong)) => tally.errors.push(wrong),
            Err(e) => tally.errors.push(e.to_string()),
        }
        tally.ops += 1;
        i += 1;
    }
    tally
}

/// The process's resident set, from /proc (0 where there is none).
fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<u64>().ok()))
        .map_or(0, |kb| kb * 1024)
}
