//! `coffer-bench --tail`: the tail of 4 KiB gets through a proxy that holds back 1 GET in 50
//! for 2 s (the test kit's fault proxy, in front of the server of COFFER_TEST_S3_*), for Coffer
//! with hedged reads, Coffer without, and rust-s3, interleaved in rounds on one proxy.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use coffer_testkit::{Fault, FaultProxy, Rule, When};

use crate::clients::Client;
use crate::hosts::{Server, host};
use crate::speed::pattern;

/// How long a held-back GET waits, and how many are held back.
const HELD_MS: u32 = 2000;
const HELD_SHARE: f64 = 0.02;
/// Gets each Coffer tenant makes before the measured ones, to learn its bound from.
const WARM_UP: usize = 40;
const ROUNDS: usize = 5;
const SIZE: usize = 4096;

/// One client's gets through the proxy.
struct Tail {
    client: &'static str,
    latencies: Vec<Duration>,
    held: usize,
    /// GETs sent again, and of those the ones that answered first.
    extra: u64,
    won: u64,
}

/// `gets` gets per client, and the table.
pub async fn run(gets: usize) -> anyhow::Result<String> {
    let server = Server::from_env()?;
    let proxy = FaultProxy::start(&server.endpoint, vec![Rule::new(Fault::Delay(HELD_MS), "GET", When::Ratio(HELD_SHARE))]);
    let through = Server { endpoint: proxy.endpoint.clone(), ..server };
    let run_id = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis();
    let prefix = format!("bench-tail-{run_id}/");
    let coffer = host()?;
    let hedged = coffer.tenant(through.tenant_settings("tail", &prefix).build()?);
    let plain = coffer.tenant(through.tenant_settings("tail-unhedged", &prefix).hedge_reads(false).build()?);
    hedged.put("k", &pattern(SIZE)).await?;
    let region = s3::Region::Custom { region: through.region.clone(), endpoint: through.endpoint.clone() };
    let credentials = s3::creds::Credentials::new(Some(&through.access_key), Some(&through.secret_key), None, None, None)?;
    let bucket = s3::Bucket::new(&through.bucket, region, credentials)?.with_path_style();
    let clients = [
        ("coffer", Client::Coffer(hedged)),
        ("coffer-unhedged", Client::Coffer(plain)),
        ("rust-s3", Client::RustS3(bucket)),
    ];
    for (_, client) in &clients[..2] {
        for _ in 0..WARM_UP {
            client.get("k").await?;
        }
    }
    let key = |name: &str| if name == "rust-s3" { format!("{prefix}k") } else { "k".to_string() };
    let mut tails: Vec<Tail> = clients.iter().map(|(client, _)| Tail { client, latencies: Vec::new(), held: 0, extra: 0, won: 0 }).collect();
    for _ in 0..ROUNDS {
        for ((name, client), tail) in clients.iter().zip(&mut tails) {
            let (held, before) = (proxy.injected(Fault::Delay(HELD_MS)), client.hedged_gets());
            for _ in 0..gets / ROUNDS {
                let started = Instant::now();
                anyhow::ensure!(client.get(&key(name)).await? == SIZE, "{name}: a get of the wrong size");
                tail.latencies.push(started.elapsed());
            }
            tail.held += proxy.injected(Fault::Delay(HELD_MS)) - held;
            let after = client.hedged_gets();
            tail.extra += after.0 - before.0;
            tail.won += after.1 - before.1;
        }
    }
    Ok(table(&mut tails))
}

fn table(tails: &mut [Tail]) -> String {
    let mut out = format!(
        "4 KiB gets through a proxy holding back 1 GET in {} for {HELD_MS} ms\n{:<16} {:>6} {:>6} {:>8} {:>8} {:>8} {:>9} {:>12} {:>6} {:>10}\n",
        (1.0 / HELD_SHARE) as u32,
        "client", "gets", "held", "p50 ms", "p99 ms", "max ms", "p99/p50", "extra GETs", "won", "p99/rust-s3"
    );
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let p99_of = |latencies: &[Duration]| latencies[(latencies.len() * 99 / 100).min(latencies.len() - 1)];
    for tail in tails.iter_mut() {
        tail.latencies.sort();
    }
    let rust_s3 = tails.iter().find(|t| t.client == "rust-s3").map(|t| ms(p99_of(&t.latencies)));
    for tail in tails.iter() {
        let (p50, p99) = (ms(tail.latencies[tail.latencies.len() / 2]), ms(p99_of(&tail.latencies)));
        let max = ms(*tail.latencies.last().expect("gets were made"));
        let gets = tail.latencies.len();
        out += &format!(
            "{:<16} {:>6} {:>6} {:>8.2} {:>8.2} {:>8.1} {:>8.1}x {:>6} {:>4.1}% {:>6} {:>9.3}x\n",
            tail.client,
            gets,
            tail.held,
            p50,
            p99,
            max,
            p99 / p50,
            tail.extra,
            tail.extra as f64 * 100.0 / gets as f64,
            tail.won,
            rust_s3.map_or(f64::NAN, |base| p99 / base)
        );
    }
    out
}
