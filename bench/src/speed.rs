//! The speed run: every client on every case, interleaved in rounds on one server.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use coffer_host::Tenant;

use crate::clients::{Ceiling, Client, Row};
use crate::hosts::{Server, host};

/// Calls in flight at once, per client and case.
pub const CONCURRENCY: usize = 8;
/// The sizes measured, and their labels in case names (`put-4KiB`).
const SIZES: [(usize, &str); 2] = [(4096, "4KiB"), (1 << 20, "1MiB")];
/// The sizes `coffer-bench --encrypted` measures: 1 MiB, and 1 000 000 bytes, whose sealed
/// object (344 bytes more) stays within the one 1 MiB block Garage stores it in, as the plain
/// one does; a sealed 1 MiB object takes two.
const ENCRYPTED_SIZES: [(usize, &str); 2] = [(1 << 20, "1MiB"), (1_000_000, "1MB")];

pub(crate) fn sizes(encrypted: bool) -> &'static [(usize, &'static str)] {
    match encrypted {
        true => &ENCRYPTED_SIZES,
        false => &SIZES,
    }
}

/// The operations measured at each size.
const OPS: [&str; 2] = ["put", "get"];
/// Rounds per case: each client runs once per round, in turn, so drift hits all alike.
const ROUNDS: u32 = 6;



/// Refuses a case name that is not one of the bench's (`--case`), naming the ones there are.
pub fn check_cases(only: &[String], encrypted: bool) -> anyhow::Result<()> {
    let cases: Vec<String> = sizes(encrypted).iter().flat_map(|(_, label)| OPS.map(|op| format!("{op}-{label}"))).collect();
    match only.iter().find(|case| !cases.contains(case)) {
        Some(unknown) => anyhow::bail!("--case: no case \"{unknown}\"; the cases are {}", cases.join(", ")),
        None => Ok(()),
    }
}

/// Runs every case (or those named in `only`, e.g. "get-1MiB") for every client (or those named
/// in `only_clients`), `per_case` in all per (case, client), and returns the rows.
///
/// With `encrypted`, the clients are Coffer and the same tenant with client-side encryption,
/// and every object written has bytes of its own: a store that keeps one copy of identical
/// blocks (Garage does) would otherwise store the plain tenant's puts for free, and never the
/// sealed ones, which differ each time.
pub async fn run(per_case: Duration, only: &[String], only_clients: &[String], encrypted: bool) -> anyhow::Result<Vec<Row>> {
    check_cases(only, encrypted)?;
    let wanted = |case: &str| only.is_empty() || only.iter().any(|c| c == case);
    let server = Arc::new(Server::from_env()?);
    let run_id = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis();
    let prefix = format!("bench-{run_id}/");
    let coffer = host()?;
    let clients = clients(&coffer, &server, &prefix, encrypted)?;
    let names: Vec<&str> = clients.iter().map(|(client, verify, _)| client.name(*verify)).collect();
    if let Some(unknown) = only_clients.iter().find(|c| !names.contains(&c.as_str())) {
        anyhow::bail!("--client: no client \"{unknown}\"; the clients are {}", names.join(", "));
    }
    let chosen = |name: &str| only_clients.is_empty() || only_clients.iter().any(|c| c == name);

    let mut rows = Vec::new();
    for &(size, label) in sizes(encrypted) {
        let data = Arc::new(pattern(size));
        if wanted(&format!("get-{label}")) {
            // Objects for the GET case, written once through Coffer (and sealed, for the
            // encrypted tenant, under a prefix of its own).
            for i in 0..CONCURRENCY {
                let body = stamped(&data, encrypted.then_some(i as u64));
                clients[0].0.put(&format!("get-{label}-{i}"), body.clone()).await?;
                for (client, ..) in clients.iter().filter(|(c, ..)| matches!(**c, Client::Sealed(_))) {
                    client.put(&format!("get-{label}-{i}"), body.clone()).await?;
                }
            }
        }
        for op in OPS {
            if !wanted(&format!("{op}-{label}")) {
                continue;
            }
            let mut samples: Vec<(Vec<Duration>, Duration)> = vec![(Vec::new(), Duration::ZERO); clients.len()];
            let hedged_before: Vec<(u64, u64)> = clients.iter().map(|(client, ..)| client.hedged_gets()).collect();
            for round in 0..ROUNDS as usize {
                // Each round starts one client further on: none always follows the same one.
                for n in (0..clients.len()).map(|i| (i + round) % clients.len()) {
                    let (client, verify, key_prefix) = &clients[n];
                    if !runs(client, op) || !chosen(client.name(*verify)) {
                        continue;
                    }
                    let (latencies, took) =
                        measure(client.clone(), op, label, key_prefix.clone(), data.clone(), per_case / ROUNDS, encrypted).await?;
                    samples[n].0.extend(latencies);
                    samples[n].1 += took;
                }
            }
            if op == "get" {
                print_hedges(&format!("{op}-{label}"), &clients, &hedged_before, &samples);
            }
            rows.extend(clients.iter().zip(samples).filter_map(|((client, verify, _), (latencies, took))| {
                row(format!("{op}-{label}"), client.name(*verify), size, latencies, took)
            }));
        }
    }
    Ok(rows)
}

/// Whether `client` runs `op`: rust-s3+verify's GET is rust-s3's, and ceiling+check's PUT the
/// ceiling's, so neither is run again.
fn runs(client: &Client, op: &str) -> bool {
    match op {
        "get" => !matches!(client, Client::RustS3Verify(_)),
        _ => !matches!(client, Client::Ceiling(c) if c.check),
    }
}

/// Hedged reads cost GETs the rows do not show: how many each Coffer tenant sent in the case
/// `case`, from its counts `before` it, and how many answered first.
fn print_hedges(case: &str, clients: &[(Arc<Client>, bool, String)], before: &[(u64, u64)], samples: &[(Vec<Duration>, Duration)]) {
    for ((client, verify, _), (before, (latencies, _))) in clients.iter().zip(before.iter().zip(samples)) {
        if latencies.is_empty() || !matches!(**client, Client::Coffer(_)) {
            continue;
        }
        let (hedged, won) = client.hedged_gets();
        let (hedged, won) = (hedged - before.0, won - before.1);
        let share = hedged as f64 * 100.0 / latencies.len() as f64;
        let name = client.name(*verify);
        println!("{case} {name}: {hedged} GETs hedged ({share:.1}% of {} gets), {won} of them answered first", latencies.len());
    }
}

/// The clients measured, each with whether it verifies its puts and the prefix its keys are
/// written with: rust-s3 and the ceiling name the same objects with the prefix written out.
fn clients(coffer: &coffer_host::Coffer, server: &Arc<Server>, prefix: &str, encrypted: bool) -> anyhow::Result<Vec<(Arc<Client>, bool, String)>> {
    let tenant = |verify: bool| -> anyhow::Result<Tenant> {
        Ok(coffer.tenant(server.tenant_settings("bench", prefix).verify_after_write(verify).build()?))
    };
    let sealed = || -> anyhow::Result<Tenant> {
        let key = "5e".repeat(32);
        let settings = server.tenant_settings("bench-sealed", &format!("{prefix}sealed/")).encryption("bench", key.as_str());
        Ok(coffer.tenant(settings.build()?))
    };
    if encrypted {
        return Ok(vec![(Arc::new(Client::Coffer(tenant(true)?)), true, String::new()), (Arc::new(Client::Sealed(sealed()?)), true, String::new())]);
    }
    let region = s3::Region::Custom { region: server.region.clone(), endpoint: server.endpoint.clone() };
    let credentials = s3::creds::Credentials::new(Some(&server.access_key), Some(&server.secret_key), None, None, None)?;
    let bucket = s3::Bucket::new(&server.bucket, region, credentials)?.with_path_style();
    Ok(vec![
        (Arc::new(Client::Coffer(tenant(true)?)), true, String::new()),
        (Arc::new(Client::Coffer(tenant(false)?)), false, String::new()),
        (Arc::new(Client::RustS3(bucket.clone())), true, prefix.to_string()),
        (Arc::new(Client::RustS3Verify(bucket)), true, prefix.to_string()),
        (Arc::new(Client::Ceiling(Box::new(Ceiling::new(server.clone())?))), true, prefix.to_string()),
        (Arc::new(Client::Ceiling(Box::new(Ceiling::checking(server.clone())?))), true, prefix.to_string()),
    ])
}

/// A client's row for a case: its rate and latencies, from every call's latency and the time
/// the calls took; `None` for a client that did not run the case.
fn row(case: String, client: &'static str, size: usize, mut latencies: Vec<Duration>, took: Duration) -> Option<Row> {
    if latencies.is_empty() {
        return None;
    }
    latencies.sort();
    let ops = latencies.len() as f64 / took.as_secs_f64();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    Some(Row {
        case,
        client,
        ops_per_s: ops,
        mib_per_s: ops * size as f64 / (1u64 << 20) as f64,
        p50_ms: at(0.5).as_secs_f64() * 1000.0,
        p99_ms: at(0.99).as_secs_f64() * 1000.0,
    })
}

/// CONCURRENCY callers doing `op` for `length`; every latency, and the time it all took.
async fn measure(
    client: Arc<Client>,
    op: &'static str,
    label: &'static str,
    key_prefix: String,
    data: Arc<Vec<u8>>,
    length: Duration,
    unique: bool,
) -> anyhow::Result<(Vec<Duration>, Duration)> {
    static STAMP: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1 << 32);
    let started = Instant::now();
    let callers: Vec<_> = (0..CONCURRENCY)
        .map(|c| {
            let (client, key_prefix, data) = (client.clone(), key_prefix.clone(), data.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut i = 0;
                while started.elapsed() < length {
                    let begun = Instant::now();
                    match op {
                        "put" => {
                            let stamp = unique.then(|| STAMP.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
                            client.put(&format!("{key_prefix}put-{label}-{c}-{}", i % 4), stamped(&data, stamp)).await?
                        }
                        _ => {
                            let read = client.get(&format!("{key_prefix}get-{label}-{c}")).await?;
                            anyhow::ensure!(read == data.len(), "read {read} bytes of {}", data.len());
                        }
                    }
                    latencies.push(begun.elapsed());
                    i += 1;
                }
                anyhow::Ok(latencies)
            })
        })
        .collect();
    let mut all = Vec::new();
    for caller in callers {
        all.extend(caller.await??);
    }
    Ok((all, started.elapsed()))
}

/// A copy of `data` (the copy every put makes), its first 8 bytes replaced by `stamp` if given.
pub(crate) fn stamped(data: &[u8], stamp: Option<u64>) -> Vec<u8> {
    let mut body = data.to_vec();
    if let Some(stamp) = stamp {
        let n = body.len().min(8);
        body[..n].copy_from_slice(&stamp.to_le_bytes()[..n]);
    }
    body
}

pub(crate) fn pattern(size: usize) -> Vec<u8> {
    (0..size).map(|i| (i * 31 % 251) as u8).collect()
}
