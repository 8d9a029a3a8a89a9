//! The sandbox alone, without a server: the overhead per call, cold starts, and the memory of
//! one large put.

use std::time::{Duration, Instant};

use coffer_host::TenantSettings;

use crate::hosts::{Server, answering_host, host};
use crate::speed::pattern;

/// The sandbox alone: `calls` stats of a tenant whose requests the host answers at once
/// (instantiate, call, sign, return; no network). The p50 and p99 of a call.
pub async fn sandbox_overhead(calls: usize) -> anyhow::Result<(Duration, Duration)> {
    anyhow::ensure!(calls > 0, "--calls must be at least 1");
    // On a runtime of its own with one thread, so that what is measured is the sandbox, not
    // the wake-ups between the threads of a multi-thread runtime.
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        runtime.block_on(overhead_loop(calls))
    })
    .join()
    .expect("the overhead loop does not panic")
}

async fn overhead_loop(calls: usize) -> anyhow::Result<(Duration, Duration)> {
    let coffer = answering_host()?;
    let tenant = coffer.tenant(unreachable_tenant("b")?);
    for _ in 0..100 {
        tenant.stat("warm-up").await?;
    }
    let mut latencies = Vec::with_capacity(calls);
    for _ in 0..calls {
        let begun = Instant::now();
        let info = tenant.stat("k").await?;
        latencies.push(begun.elapsed());
        anyhow::ensure!(info.is_some(), "the host's answer did not reach the caller");
    }
    latencies.sort();
    Ok((latencies[calls / 2], latencies[calls * 99 / 100]))
}

/// Cold start with the precompiled component on disk, as medians: a new host (load the
/// artefact, link, pre-instantiate) over [`COLD_HOSTS`] hosts, and a new tenant's first call
/// (a new store and instance; the host answers at once) over [`COLD_TENANTS`] tenants, whose
/// 99th percentile and first (the first instance on a fresh host) are given too.
pub async fn cold_start() -> anyhow::Result<ColdStart> {
    drop(answering_host()?); // the artefact is in the cache from here on
    let mut hosts = Vec::with_capacity(COLD_HOSTS);
    for _ in 0..COLD_HOSTS {
        let begun = Instant::now();
        drop(answering_host()?);
        hosts.push(begun.elapsed());
    }
    let coffer = answering_host()?;
    let settings = unreachable_tenant("c")?;
    let mut tenants = Vec::with_capacity(COLD_TENANTS);
    for _ in 0..COLD_TENANTS {
        let begun = Instant::now();
        let tenant = coffer.tenant(settings.clone());
        tenant.stat("k").await?;
        tenants.push(begun.elapsed());
    }
    let tenant_first = tenants[0];
    hosts.sort();
    tenants.sort();
    Ok(ColdStart {
        tenant_first,
        host_p50: hosts[COLD_HOSTS / 2],
        tenant_p50: tenants[COLD_TENANTS / 2],
        tenant_p99: tenants[COLD_TENANTS * 99 / 100],
    })
}

/// A tenant whose requests the host answers at once (its endpoint is never reached).
fn unreachable_tenant(name: &str) -> anyhow::Result<TenantSettings> {
    let settings = TenantSettings::builder(name).bucket("b").endpoint("http://127.0.0.1:9").access_key("k").secret_key("s");
    Ok(settings.build()?)
}

/// New hosts timed by [`cold_start`].
pub const COLD_HOSTS: usize = 5;
/// New tenants timed by [`cold_start`].
pub const COLD_TENANTS: usize = 100;

/// What [`cold_start`] measured.
pub struct ColdStart {
    pub host_p50: Duration,
    /// The first tenant of a fresh host: nothing of the instance pool has been touched yet.
    pub tenant_first: Duration,
    pub tenant_p50: Duration,
    pub tenant_p99: Duration,
}

/// The host's peak resident memory during one put of `size` bytes, above what it held before
/// (Linux: the peak is reset through /proc/self/clear_refs, then read as VmHWM).
pub async fn peak_rss_of_one_put(size: usize) -> anyhow::Result<(u64, u64)> {
    let server = Server::from_env()?;
    let coffer = host()?;
    let tenant = coffer.tenant(server.tenant_settings("rss", "bench-rss/").build()?);
    tenant.put("warm-up", &[1; 1024]).await?;
    let blob = pattern(size);
    let status = |field: &str| -> anyhow::Result<u64> {
        let text = std::fs::read_to_string("/proc/self/status")?;
        let line = text.lines().find(|l| l.starts_with(field)).ok_or_else(|| anyhow::anyhow!("no {field}"))?;
        Ok(line.split_whitespace().nth(1).unwrap_or("0").parse::<u64>()? * 1024)
    };
    std::fs::write("/proc/self/clear_refs", "5")?;
    let before = status("VmRSS:")?;
    tenant.put("fifty", &blob).await?;
    let peak = status("VmHWM:")?;
    Ok((before, peak.saturating_sub(before)))
}
