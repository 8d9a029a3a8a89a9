//! `coffer-bench --tenants N`: many tenants on one endpoint (the server of COFFER_TEST_S3_*),
//! each a key prefix of its own in one bucket, as a hosting provider runs them. Measures the
//! host's resident memory once the tenants are built, after each has made one put and one get,
//! and once they are idle, the most connections open at once, the open sockets 20 s after the last call, the
//! errors, and the first call's latency of a new tenant. docs/sandbox.md has the figures.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use coffer_host::{Coffer, HostOptions, Tenant};

use crate::hosts::Server;

/// What the run measured.
#[derive(Default)]
pub struct Figures {
    pub tenants: usize,
    pub rss_start: u64,
    pub rss_built: u64,
    /// After the calls; `None` with `build_only`.
    pub rss_called: Option<u64>,
    /// 35 s after the last call, when idle connections and instances are gone, and the
    /// allocator has handed back what it kept of freed memory.
    pub rss_idle: Option<u64>,
    pub most_open: usize,
    pub sockets_after_idle: usize,
    pub errors: usize,
    pub first_call_p50: Duration,
    pub first_call_p99: Duration,
    pub calls_elapsed: Duration,
}

pub async fn run(count: usize, build_only: bool) -> anyhow::Result<Figures> {
    let server = Server::from_env()?;
    let coffer = Coffer::with_options(HostOptions::default())?;
    // The plugin compiled and the first instance made, so that what follows is the tenants'.
    let warm = coffer.tenant(server.tenant_settings("warm", "bench-scale/warm/").build()?);
    warm.put("k", b"warm").await?;
    drop(warm);
    let rss_start = rss()?;
    let run = std::process::id();
    let tenants: Vec<_> = (0..count)
        .map(|i| Ok(coffer.tenant(server.tenant_settings(&format!("t{i}"), &format!("bench-scale/{run}/{i}/")).build()?)))
        .collect::<anyhow::Result<_>>()?;
    let rss_built = rss()?;
    let mut figures = Figures { tenants: count, rss_start, rss_built, ..Figures::default() };
    if build_only {
        return Ok(figures);
    }

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
    let tenants = Arc::new(tenants);
    let started = Instant::now();
    let (mut first_calls, errors) = call_each(&tenants).await?;
    figures.calls_elapsed = started.elapsed();
    done.store(true, Ordering::Relaxed);
    sampler.await?;
    first_calls.sort();
    figures.first_call_p50 = first_calls[first_calls.len() / 2];
    figures.first_call_p99 = first_calls[first_calls.len() * 99 / 100];
    figures.rss_called = Some(rss()?);
    figures.most_open = most.load(Ordering::Relaxed);
    figures.errors = errors;
    tokio::time::sleep(Duration::from_secs(20)).await;
    figures.sockets_after_idle = sockets()?;
    tokio::time::sleep(Duration::from_secs(15)).await;
    // What the allocator keeps of freed memory is handed back first: what is left is held.
    // SAFETY: malloc_trim only returns the allocator's free memory to the system.
    unsafe { libc::malloc_trim(0) };
    figures.rss_idle = Some(rss()?);
    Ok(figures)
}

/// One put and one get for every tenant, 128 tenants at a time: each tenant's first call's
/// latency, and how many tenants' calls failed. The tenants stay alive for what is measured next.
async fn call_each(tenants: &Arc<Vec<Tenant>>) -> anyhow::Result<(Vec<Duration>, usize)> {
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..128)
        .map(|_| {
            let (tenants, next, errors) = (tenants.clone(), next.clone(), errors.clone());
            tokio::spawn(async move {
                let mut first_calls = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(tenant) = tenants.get(i) else { return first_calls };
                    let begun = Instant::now();
                    let put = tenant.put("mail", b"a message of a tenant").await;
                    first_calls.push(begun.elapsed());
                    let got = tenant.get("mail", ..).await;
                    if put.is_err() || !matches!(got, Ok(Some(_))) {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    let mut first_calls = Vec::with_capacity(tenants.len());
    for worker in workers {
        first_calls.extend(worker.await?);
    }
    Ok((first_calls, errors.load(Ordering::Relaxed)))
}

impl std::fmt::Display for Figures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mib = |b: u64| b as f64 / (1u64 << 20) as f64;
        let per_tenant = |b: u64| (b.saturating_sub(self.rss_start)) as f64 / 1024.0 / self.tenants as f64;
        writeln!(f, "tenants: {}", self.tenants)?;
        writeln!(f, "RSS before the tenants: {:.1} MiB", mib(self.rss_start))?;
        writeln!(f, "RSS once built: {:.1} MiB ({:.2} KiB per tenant)", mib(self.rss_built), per_tenant(self.rss_built))?;
        if let Some(called) = self.rss_called {
            writeln!(f, "RSS after one put and one get each: {:.1} MiB ({:.2} KiB per tenant)", mib(called), per_tenant(called))?;
            writeln!(f, "calls: {} in {:.1?}, {} errors", 2 * self.tenants, self.calls_elapsed, self.errors)?;
            writeln!(
                f,
                "each tenant's first call (a put, 128 tenants calling at once): p50 {:.2?}, p99 {:.2?}",
                self.first_call_p50, self.first_call_p99
            )?;
            writeln!(f, "connections open at once: at most {}", self.most_open)?;
            writeln!(f, "open sockets 20 s after the last call: {}", self.sockets_after_idle)?;
            if let Some(idle) = self.rss_idle {
                writeln!(f, "RSS 35 s after the last call (malloc_trim'd): {:.1} MiB ({:.2} KiB per tenant)", mib(idle), per_tenant(idle))?;
            }
        }
        Ok(())
    }
}

/// The process's resident memory (Linux).
fn rss() -> anyhow::Result<u64> {
    let text = std::fs::read_to_string("/proc/self/status")?;
    let line = text.lines().find(|l| l.starts_with("VmRSS:")).ok_or_else(|| anyhow::anyhow!("no VmRSS"))?;
    Ok(line.split_whitespace().nth(1).unwrap_or("0").parse::<u64>()? * 1024)
}

/// The process's open sockets (Linux).
fn sockets() -> anyhow::Result<usize> {
    let mut count = 0;
    for entry in std::fs::read_dir("/proc/self/fd")? {
        if std::fs::read_link(entry?.path()).is_ok_and(|target| target.to_string_lossy().starts_with("socket:")) {
            count += 1;
        }
    }
    Ok(count)
}
