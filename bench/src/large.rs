//! `coffer-bench --large`: one large get (256 MiB by default) through a proxy that caps each
//! connection at 25 MB/s (the test kit's RateProxy, as a provider caps one connection), then on
//! the server itself: Coffer (long objects in ranges, the default, streamed to a writer that
//! drops the bytes), Coffer in one GET (`rangedReadThreshold = 0`), rust-s3 (streamed to such
//! a writer) and the ceiling (one plain GET), interleaved, the median of the runs.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use coffer_host::Tenant;
use coffer_testkit::RateProxy;

use crate::clients::Ceiling;
use crate::hosts::{Server, host};
use crate::speed::pattern;

/// Each connection's cap through the proxy, in bytes per second.
const CAP: u64 = 25_000_000;

enum Getter {
    Coffer(Tenant),
    RustS3(Box<s3::Bucket>),
    Ceiling(Box<Ceiling>),
}

/// The clients, on `through`, the object under `prefix`; Coffer in ranges past `threshold`
/// bytes (`None`: the setting's default).
fn getters(through: &Server, prefix: &str, threshold: Option<u64>) -> anyhow::Result<Vec<(&'static str, Getter)>> {
    let coffer = host()?;
    let tenant = |name: &str, threshold: Option<u64>| -> anyhow::Result<Tenant> {
        let settings = through.tenant_settings(name, prefix);
        Ok(coffer.tenant(match threshold {
            Some(bytes) => settings.ranged_read_threshold(bytes),
            None => settings,
        }.build()?))
    };
    let region = s3::Region::Custom { region: through.region.clone(), endpoint: through.endpoint.clone() };
    let credentials = s3::creds::Credentials::new(Some(&through.access_key), Some(&through.secret_key), None, None, None)?;
    let bucket = s3::Bucket::new(&through.bucket, region, credentials)?.with_path_style();
    Ok(vec![
        ("coffer", Getter::Coffer(tenant("large", threshold)?)),
        ("coffer-one-get", Getter::Coffer(tenant("large-one-get", Some(0))?)),
        ("rust-s3", Getter::RustS3(bucket)),
        ("ceiling", Getter::Ceiling(Box::new(Ceiling::new(Arc::new(through.clone()))?))),
    ])
}

impl Getter {
    /// Gets the object, and says how many bytes came.
    async fn get(&self, prefix: &str) -> anyhow::Result<u64> {
        match self {
            Getter::Coffer(tenant) => Ok(tenant.get_stream("large", .., &mut tokio::io::sink()).await?.unwrap_or(0)),
            Getter::RustS3(bucket) => {
                let mut counted = Counted(0);
                let status = bucket.get_object_to_writer(format!("{prefix}large"), &mut counted).await?;
                anyhow::ensure!(status == 200, "rust-s3 get: HTTP {status}");
                Ok(counted.0)
            }
            Getter::Ceiling(ceiling) => Ok(ceiling.get(&format!("{prefix}large")).await? as u64),
        }
    }
}

/// A writer that counts what it drops.
struct Counted(u64);

impl tokio::io::AsyncWrite for Counted {
    fn poll_write(mut self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>, buf: &[u8]) -> std::task::Poll<std::io::Result<usize>> {
        self.0 += buf.len() as u64;
        std::task::Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// The process's resident memory now, and its peak since the last reset, in bytes.
fn rss(field: &str) -> anyhow::Result<u64> {
    let text = std::fs::read_to_string("/proc/self/status")?;
    let line = text.lines().find(|l| l.starts_with(field)).ok_or_else(|| anyhow::anyhow!("no {field}"))?;
    Ok(line.split_whitespace().nth(1).unwrap_or("0").parse::<u64>()? * 1024)
}

/// A get of `mib` MiB, capped and uncapped, `runs` times each, Coffer in ranges past
/// `threshold_mib` (`None`: the default): the tables.
pub async fn run(mib: usize, runs: usize, threshold_mib: Option<u64>) -> anyhow::Result<String> {
    let server = Server::from_env()?;
    let run_id = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis();
    let prefix = format!("bench-large-{run_id}/");
    let size = mib << 20;
    host()?.tenant(server.tenant_settings("large-put", &prefix).build()?).put("large", &pattern(size)).await?;
    let capped = RateProxy::start(&server.endpoint, CAP);
    let mut out = String::new();
    for (label, endpoint) in [(format!("each connection capped at {} MB/s", CAP / 1_000_000), capped.endpoint.clone()), ("uncapped".to_string(), server.endpoint.clone())] {
        let through = Server { endpoint, ..server.clone() };
        let getters = getters(&through, &prefix, threshold_mib.map(|t| t << 20))?;
        let mut times: Vec<Vec<Duration>> = vec![Vec::new(); getters.len()];
        let mut peak = 0u64;
        for _ in 0..runs {
            for ((name, getter), times) in getters.iter().zip(&mut times) {
                std::fs::write("/proc/self/clear_refs", "5")?;
                let before = rss("VmRSS:")?;
                let started = Instant::now();
                anyhow::ensure!(getter.get(&prefix).await? == size as u64, "{name}: a get of the wrong size");
                times.push(started.elapsed());
                if *name == "coffer" {
                    peak = peak.max(rss("VmHWM:")?.saturating_sub(before));
                }
            }
        }
        out += &table(&label, mib, &getters, &mut times, peak);
    }
    Ok(out)
}

fn table(label: &str, mib: usize, getters: &[(&'static str, Getter)], times: &mut [Vec<Duration>], peak: u64) -> String {
    let rate = |times: &mut Vec<Duration>| {
        times.sort();
        mib as f64 / times[times.len() / 2].as_secs_f64()
    };
    let rates: Vec<f64> = times.iter_mut().map(rate).collect();
    let of = |name: &str| getters.iter().position(|(n, _)| *n == name).map(|i| rates[i]);
    let mut out = format!(
        "{mib} MiB get, {label} (median of {}):\n{:<16} {:>9} {:>9} {:>10} {:>10}\n",
        times[0].len(),
        "client", "MiB/s", "seconds", "/rust-s3", "/ceiling"
    );
    for ((name, _), rate) in getters.iter().zip(&rates) {
        let ratio = |base: Option<f64>| base.map_or("-".to_string(), |base| format!("{:.2}x", rate / base));
        out += &format!("{:<16} {:>9.1} {:>9.2} {:>10} {:>10}\n", name, rate, mib as f64 / rate, ratio(of("rust-s3")), ratio(of("ceiling")));
    }
    out += &format!("coffer's peak memory during its get: {:.0} MiB above what it held before\n\n", peak as f64 / (1u64 << 20) as f64);
    out
}
