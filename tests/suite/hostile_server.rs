//! A server that lies in every way (tests/src/hostile_server.rs), for every call: each ends in
//! a clear error (or, for a read, in what the server said when nothing could check it) within
//! the tenant's timeout and retries, never hangs, never panics, never reports a put done (the
//! server stores nothing), and the host's memory stays bounded.

use std::time::{Duration, Instant};

use coffer_host::{ErrorKind, Tenant};
use coffer_tests::{Abuse, HostileServer, builder, coffer, note};

const MIB: usize = 1 << 20;

/// The peak resident memory of this process since the last reset (Linux: VmHWM, reset through
/// /proc/self/clear_refs), in bytes.
fn peak_rss(reset: bool) -> u64 {
    if reset {
        let _ = std::fs::write("/proc/self/clear_refs", "5");
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
    kib.unwrap_or(0) * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_lie_ends_in_a_clear_error_within_the_timeout_and_bounded_memory() {
    let timeout = Duration::from_secs(1);
    // Two attempts of at most the timeout each, the backoff between, and a margin; a multipart
    // put makes a few calls (start, a part, the abort), each bounded so.
    let bound = Duration::from_secs(12);
    let before = peak_rss(true);
    let mut table = Vec::new();
    for abuse in Abuse::ALL {
        let server = HostileServer::start(abuse);
        let settings = builder("liar", &server.endpoint, "p/")
            .timeout(timeout)
            .max_retries(1)
            .multipart_threshold(5 * MIB as u64)
            .part_size(5 * MIB as u64)
            .build()
            .unwrap();
        let tenant = coffer().tenant(settings);
        let large = vec![7u8; 6 * MIB];
        let mut outcomes = Vec::new();
        for op in ["put", "put-multipart", "get", "get-range", "stat", "delete"] {
            let started = Instant::now();
            let outcome = call(&tenant, op, &large).await;
            let took = started.elapsed();
            assert!(took < bound, "{abuse:?} {op}: {took:?}");
            if let Err((kind, message)) = &outcome {
                assert!(!matches!(kind, ErrorKind::Sandbox | ErrorKind::LimitExceeded), "{abuse:?} {op}: {kind:?} {message}");
                assert!(!message.is_empty(), "{abuse:?} {op}");
            }
            if op.starts_with("put") {
                assert!(outcome.is_err(), "{abuse:?} {op}: a put acknowledged by a server that stores nothing");
            }
            let shown = match &outcome {
                Ok(what) => what.clone(),
                Err((kind, _)) => kind.as_str().to_string(),
            };
            outcomes.push(format!("{op} {shown} {:.1}s", took.as_secs_f64()));
        }
        assert!(server.requests() > 0, "{abuse:?}: the calls reached the server");
        table.push(format!("{abuse:?}: {}", outcomes.join(", ")));
    }
    let growth = peak_rss(false).saturating_sub(before);
    for line in &table {
        note("hostile-server", line);
    }
    note("hostile-server", &format!("figure: hostile server: peak RSS {} MiB above the test's start", growth >> 20));
    // The 6 MiB blob each case puts, the plugin's instances, and the bodies read up to 1 MiB.
    assert!(growth < 256 << 20, "memory grew by {} MiB", growth >> 20);
}

/// One call; `Ok` says what came back, `Err` the error's kind and message.
async fn call(tenant: &Tenant, op: &str, large: &[u8]) -> Result<String, (ErrorKind, String)> {
    let err = |e: coffer_host::StoreError| (e.kind(), e.message().to_string());
    match op {
        "put" => tenant.put("k", b"small").await.map(|()| "stored".into()).map_err(err),
        "put-multipart" => tenant.put("big", large).await.map(|()| "stored".into()).map_err(err),
        "get" => tenant.get("k", ..).await.map(|d| format!("{:?} bytes", d.map(|d| d.len()))).map_err(err),
        "get-range" => tenant.get("k", 2..5).await.map(|d| format!("{:?} bytes", d.map(|d| d.len()))).map_err(err),
        "stat" => tenant.stat("k").await.map(|i| format!("{:?}", i.map(|i| i.size))).map_err(err),
        _ => tenant.delete("k").await.map(|existed| format!("existed {existed}")).map_err(err),
    }
}
