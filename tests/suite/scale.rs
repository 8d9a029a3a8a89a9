//! Ten thousand tenants on one host (docs/sandbox.md): tenants of one endpoint and one trust
//! share its connections, the host's socket count stays under its caps, idle connections close;
//! tenants of different trust never share a connection.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use coffer_host::{Coffer, HostOptions, POOL_IDLE_TIMEOUT};
use coffer_tests::{FaultProxy, builder, in_parallel, note, server, unique_prefix};

/// How many tenants: 10 000, or `COFFER_SCALE_TENANTS` (the long pass, docs/sandbox.md).
fn tenant_count() -> usize {
    std::env::var("COFFER_SCALE_TENANTS").ok().and_then(|n| n.parse().ok()).unwrap_or(10_000)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_tenants_share_a_bounded_set_of_connections() {
    if coffer_tests::skip_on(&[coffer_tests::Family::Embedded], "ten_thousand_tenants_share_a_bounded_set_of_connections", "a figure of throughput, not conformance: measured against Garage (CI's Garage pass, or COFFER_TEST_S3_* naming a real server)") {
        return;
    }
    let count = tenant_count();
    // A host of its own, so that its socket count is this test's alone.
    let coffer = Coffer::with_options(HostOptions::default()).unwrap();
    let prefix = unique_prefix("scale");
    let tenants: Arc<Vec<_>> = Arc::new(
        (0..count)
            .map(|i| coffer.tenant(builder(&format!("scale-{i}"), &server().endpoint, &format!("{prefix}{i}/")).build().unwrap()))
            .collect(),
    );

    // The most connections open at once, sampled while the calls run.
    let (most, done) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicBool::new(false)));
    let sampler = {
        let (coffer, most, done) = (coffer.clone(), most.clone(), done.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                most.fetch_max(coffer.open_connections(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    let started = Instant::now();
    let calls = {
        let tenants = tenants.clone();
        in_parallel(count, 128, move |i| {
            let tenant = tenants[i].clone();
            async move {
                let mail = format!("mail of tenant {i}");
                tenant.put("mail", mail.as_bytes()).await.map_err(|e| e.to_string())?;
                match tenant.get("mail", ..).await.map_err(|e| e.to_string())? {
                    Some(read) if read == mail.as_bytes() => Ok(()),
                    other => Err(format!("tenant {i} read {other:?}")),
                }
            }
        })
        .await
    };
    done.store(true, Ordering::Relaxed);
    sampler.await.unwrap();
    let errors: Vec<_> = calls.iter().filter_map(|r| r.as_ref().err()).collect();
    let most = most.load(Ordering::Relaxed);
    note(
        "scale",
        &format!("{count} tenants, one put and one get each, in {:.1?}: at most {most} connections open, {} errors", started.elapsed(), errors.len()),
    );
    assert!(errors.is_empty(), "{} calls failed, the first: {}", errors.len(), errors[0]);
    assert!(most <= coffer_host::DEFAULT_MAX_CONNECTIONS_PER_ENDPOINT, "{most} connections open at once");
    let opened = tenants[0].stats().connections_opened;
    assert!(opened <= 4 * coffer_host::DEFAULT_MAX_CONNECTIONS_PER_ENDPOINT as u64, "{opened} connections opened in all");

    // Idle, the connections close and the count drops back; so do the warm instances.
    let idle = Instant::now();
    while (coffer.open_connections() > 0 || coffer.idle_instances() > 0) && idle.elapsed() < Duration::from_secs(45) {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(coffer.open_connections(), 0, "connections still open {:?} after the last call", idle.elapsed());
    assert_eq!(coffer.idle_instances(), 0, "instances still warm {:?} after the last call", idle.elapsed());
    note("scale", &format!("connections closed and instances dropped within {:.0?} of the last call (idle timeout {POOL_IDLE_TIMEOUT:?})", idle.elapsed()));
}

#[tokio::test]
async fn tenants_of_different_trust_never_share_a_connection() {
    let proxy = FaultProxy::start(&server().endpoint, vec![]);
    let coffer = Coffer::with_options(HostOptions::default()).unwrap();
    let on = |name: &str, with: fn(coffer_host::TenantSettingsBuilder) -> coffer_host::TenantSettingsBuilder| {
        coffer.tenant(with(builder(name, &proxy.endpoint, &unique_prefix(name))).build().unwrap())
    };
    let a = on("trust-a", |b| b);
    let same = on("trust-same", |b| b);
    let other = on("trust-other", |b| b.allow_invalid_certs(true));
    for store in [&a, &same, &other, &a, &same, &other] {
        store.put("k", b"x").await.unwrap();
    }
    // One connection for the two tenants of one trust (kept alive between their calls), one
    // of its own for the other trust: two in all.
    assert_eq!(a.stats().connections_opened, 1);
    assert_eq!(same.stats().connections_opened, 1, "the same connections as a's");
    assert_eq!(other.stats().connections_opened, 1, "a connection of its own");
    assert_eq!(coffer.open_connections(), 2);
}

