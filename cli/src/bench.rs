//! `coffer bench` (feature `bench`): Coffer against the native client Stalwart links (rust-s3)
//! and a plain-HTTP ceiling (hyper sending the same signed requests, signed natively with the
//! plugin's own SigV4 code), on one server, interleaved in one run. Prints a table with the
//! ratios, and with `--json FILE` writes the results and an SVG chart beside them.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use md5::Digest as _;

use coffer_host::quickack::QuickAckConnector;
use coffer_host::{Answer, Coffer, HostOptions, Interceptor, Tenant, TenantSettings};

/// Calls in flight at once, per client and case.
pub const CONCURRENCY: usize = 8;
/// The sizes measured, and their labels in case names (`put-4KiB`).
const SIZES: [(usize, &str); 2] = [(4096, "4KiB"), (1 << 20, "1MiB")];
/// The sizes `coffer bench --encrypted` measures: 1 MiB, and 1 000 000 bytes, whose sealed
/// object (344 bytes more) stays within the one 1 MiB block Garage stores it in, as the plain
/// one does; a sealed 1 MiB object takes two.
const ENCRYPTED_SIZES: [(usize, &str); 2] = [(1 << 20, "1MiB"), (1_000_000, "1MB")];

fn sizes(encrypted: bool) -> &'static [(usize, &'static str)] {
    match encrypted {
        true => &ENCRYPTED_SIZES,
        false => &SIZES,
    }
}

/// The operations measured at each size.
const OPS: [&str; 2] = ["put", "get"];
/// Rounds per case: each client runs once per round, in turn, so drift hits all alike.
const ROUNDS: u32 = 6;

/// The pooling allocator's slots for the bench's hosts; the default when unset. Fewer slots
/// reserve less address space (valgrind cannot reserve the default's terabytes).
static MAX_INSTANCES: std::sync::OnceLock<u32> = std::sync::OnceLock::new();

/// Sets the instance slots of every host the bench makes (`coffer bench --max-instances`).
pub fn set_max_instances(slots: u32) {
    let _ = MAX_INSTANCES.set(slots);
}

fn host() -> anyhow::Result<Coffer> {
    Ok(Coffer::with_options(HostOptions { max_instances: MAX_INSTANCES.get().copied(), ..Default::default() })?)
}

/// A host whose tenants' requests are answered at once, through the interceptor seam, with
/// an empty 200 (the ETag of no bytes): what is left to measure is the sandbox.
fn answering_host() -> anyhow::Result<Coffer> {
    let empty = Arc::new(Answer {
        status: 200,
        headers: vec![
            ("content-length".into(), "0".into()),
            ("etag".into(), "\"d41d8cd98f00b204e9800998ecf8427e\"".into()),
        ],
        body: Vec::new(),
    });
    let interceptor = Interceptor::new(move |_| Some(empty.clone()));
    let options = HostOptions { max_instances: MAX_INSTANCES.get().copied(), interceptor: Some(interceptor), ..Default::default() };
    Ok(Coffer::with_options(options)?)
}

/// The S3 server to measure against, from COFFER_TEST_S3_*.
pub(crate) struct Server {
    endpoint: String,
    region: String,
    bucket: String,
    access_key: String,
    secret_key: String,
}

impl Server {
    /// A tenant on this server, its keys under `prefix`.
    pub(crate) fn tenant_settings(&self, name: &str, prefix: &str) -> coffer_host::TenantSettingsBuilder {
        TenantSettings::builder(name)
            .bucket(&self.bucket)
            .region(&self.region)
            .endpoint(&self.endpoint)
            .access_key(self.access_key.as_str())
            .secret_key(self.secret_key.as_str())
            .key_prefix(prefix)
    }

    pub(crate) fn from_env() -> anyhow::Result<Server> {
        let var = |name: &str| {
            std::env::var(format!("COFFER_TEST_S3_{name}"))
                .map_err(|_| anyhow::anyhow!("set COFFER_TEST_S3_{name} (e.g. eval \"$(scripts/garage-up)\")"))
        };
        Ok(Server {
            endpoint: var("ENDPOINT")?,
            region: var("REGION").unwrap_or_else(|_| "us-east-1".into()),
            bucket: var("BUCKET").unwrap_or_else(|_| "coffer-test".into()),
            access_key: var("ACCESS_KEY")?,
            secret_key: var("SECRET_KEY")?,
        })
    }
}

/// One result row.
#[derive(Debug, Clone)]
pub struct Row {
    pub case: String,
    pub client: &'static str,
    pub ops_per_s: f64,
    pub mib_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

enum Client {
    Coffer(Tenant),
    /// The same tenant with client-side encryption (`coffer bench --encrypted`).
    Sealed(Tenant),
    RustS3(Box<s3::Bucket>),
    /// rust-s3's PUT followed by a HEAD: what Stalwart does with `verifyAfterWrite = true`.
    RustS3Verify(Box<s3::Bucket>),
    Ceiling(Ceiling),
}

impl Client {
    fn name(&self, verify: bool) -> &'static str {
        match (self, verify) {
            (Client::Coffer(_), true) => "coffer",
            (Client::Coffer(_), false) => "coffer-noverify",
            (Client::Sealed(_), _) => "coffer-encrypted",
            (Client::RustS3(_), _) => "rust-s3",
            (Client::RustS3Verify(_), _) => "rust-s3+verify",
            (Client::Ceiling(_), _) => "ceiling",
        }
    }

    async fn put(&self, key: &str, data: Vec<u8>) -> anyhow::Result<()> {
        match self {
            Client::Coffer(tenant) | Client::Sealed(tenant) => Ok(tenant.put(key, &data).await?),
            Client::RustS3(bucket) | Client::RustS3Verify(bucket) => {
                let response = bucket.put_object(key, &data).await?;
                anyhow::ensure!(response.status_code() == 200, "rust-s3 put: HTTP {}", response.status_code());
                if matches!(self, Client::RustS3Verify(_)) {
                    let (head, status) = bucket.head_object(key).await?;
                    anyhow::ensure!(status == 200, "rust-s3 head: HTTP {status}");
                    anyhow::ensure!(head.content_length == Some(data.len() as i64), "rust-s3 head: size {:?}", head.content_length);
                }
                Ok(())
            }
            Client::Ceiling(ceiling) => ceiling.put(key, data).await,
        }
    }

    async fn get(&self, key: &str) -> anyhow::Result<usize> {
        match self {
            Client::Coffer(tenant) | Client::Sealed(tenant) => Ok(tenant.get(key, ..).await?.map_or(0, |d| d.len())),
            Client::RustS3(bucket) | Client::RustS3Verify(bucket) => {
                let response = bucket.get_object(key).await?;
                anyhow::ensure!(response.status_code() == 200, "rust-s3 get: HTTP {}", response.status_code());
                Ok(response.bytes().len())
            }
            Client::Ceiling(ceiling) => ceiling.get(key).await,
        }
    }
}

/// The ceiling: a pooled hyper client sending what the plugin sends (path style, signed
/// payload, Content-MD5), signed by the plugin's SigV4 code compiled natively.
struct Ceiling {
    http: HyperClient<QuickAckConnector<HttpConnector>, Full<Bytes>>,
    server: Arc<Server>,
    authority: String,
}

impl Ceiling {
    fn new(server: Arc<Server>) -> anyhow::Result<Ceiling> {
        let authority = server.endpoint.split_once("://").map(|(_, a)| a.trim_end_matches('/').to_string()).unwrap_or_default();
        anyhow::ensure!(server.endpoint.starts_with("http://"), "the ceiling client speaks plain HTTP only");
        // The same socket treatment as Coffer's transport (no Nagle delay, prompt ACKs), so that
        // the ceiling stays a ceiling.
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let http = HyperClient::builder(TokioExecutor::new()).build(QuickAckConnector(connector));
        Ok(Ceiling { http, server, authority })
    }

    fn request(&self, method: &'static str, key: &str, body: Vec<u8>) -> http::Request<Full<Bytes>> {
        use coffer_plugin::sigv4;
        let path = format!("/{}/{key}", self.server.bucket);
        let sha256 = if body.is_empty() { sigv4::EMPTY_PAYLOAD_SHA256.to_string() } else { sigv4::sha256_hex(&body) };
        let mut headers = vec![("host".to_string(), self.authority.clone())];
        if method == "PUT" {
            headers.push(("content-length".into(), body.len().to_string()));
            headers.push(("content-md5".into(), base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(&body))));
        }
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        let amz_date = sigv4::amz_date(now);
        let scope = sigv4::SigningScope { amz_date: &amz_date, region: &self.server.region, service: "s3" };
        let keys = sigv4::SigningKeys {
            access_key_id: &self.server.access_key,
            secret_access_key: &self.server.secret_key,
            session_token: None,
        };
        let request = sigv4::S3Request { method, path: &path, query: &[], payload_sha256: &sha256 };
        sigv4::sign_s3(&request, &mut headers, &keys, &scope);
        let uri = format!("http://{}{}", self.authority, sigv4::uri_encode(&path, true));
        let mut builder = http::Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            builder = builder.header(name, value);
        }
        builder.body(Full::new(Bytes::from(body))).expect("a valid request")
    }

    async fn put(&self, key: &str, data: Vec<u8>) -> anyhow::Result<()> {
        let response = self.http.request(self.request("PUT", key, data)).await?;
        let status = response.status();
        response.into_body().collect().await?;
        anyhow::ensure!(status.is_success(), "ceiling put: HTTP {status}");
        Ok(())
    }

    async fn get(&self, key: &str) -> anyhow::Result<usize> {
        let response = self.http.request(self.request("GET", key, Vec::new())).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        anyhow::ensure!(status.is_success(), "ceiling get: HTTP {status}");
        Ok(body.len())
    }
}

/// Refuses a case name that is not one of the bench's (`--case`), naming the ones there are.
pub fn check_cases(only: &[String], encrypted: bool) -> anyhow::Result<()> {
    let cases: Vec<String> = sizes(encrypted).iter().flat_map(|(_, label)| OPS.map(|op| format!("{op}-{label}"))).collect();
    match only.iter().find(|case| !cases.contains(case)) {
        Some(unknown) => anyhow::bail!("--case: no case \"{unknown}\"; the cases are {}", cases.join(", ")),
        None => Ok(()),
    }
}

/// Runs every case (or those named in `only`, e.g. "get-1MiB") for every client, `per_case` in
/// all per (case, client), and returns the rows.
///
/// With `encrypted`, the clients are Coffer and the same tenant with client-side encryption,
/// and every object written has bytes of its own: a store that keeps one copy of identical
/// blocks (Garage does) would otherwise store the plain tenant's puts for free, and never the
/// sealed ones, which differ each time.
pub async fn run(per_case: Duration, only: &[String], encrypted: bool) -> anyhow::Result<Vec<Row>> {
    check_cases(only, encrypted)?;
    let wanted = |case: &str| only.is_empty() || only.iter().any(|c| c == case);
    let server = Arc::new(Server::from_env()?);
    let run_id = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis();
    let prefix = format!("bench-{run_id}/");
    let coffer = host()?;
    let tenant = |verify: bool| -> anyhow::Result<Tenant> {
        Ok(coffer.tenant(server.tenant_settings("bench", &prefix).verify_after_write(verify).build()?))
    };
    let region = s3::Region::Custom { region: server.region.clone(), endpoint: server.endpoint.clone() };
    let credentials = s3::creds::Credentials::new(Some(&server.access_key), Some(&server.secret_key), None, None, None)?;
    let bucket = s3::Bucket::new(&server.bucket, region, credentials)?.with_path_style();
    let sealed = || -> anyhow::Result<Tenant> {
        let key = "5e".repeat(32);
        let settings = server.tenant_settings("bench-sealed", &format!("{prefix}sealed/")).encryption("bench", key.as_str());
        Ok(coffer.tenant(settings.build()?))
    };
    // rust-s3 and the ceiling name the same objects with the prefix written out.
    let clients: Vec<(Arc<Client>, bool, String)> = if encrypted {
        vec![(Arc::new(Client::Coffer(tenant(true)?)), true, String::new()), (Arc::new(Client::Sealed(sealed()?)), true, String::new())]
    } else { vec![
        (Arc::new(Client::Coffer(tenant(true)?)), true, String::new()),
        (Arc::new(Client::Coffer(tenant(false)?)), false, String::new()),
        (Arc::new(Client::RustS3(bucket.clone())), true, prefix.clone()),
        (Arc::new(Client::RustS3Verify(bucket)), true, prefix.clone()),
        (Arc::new(Client::Ceiling(Ceiling::new(server.clone())?)), true, prefix.clone()),
    ] };

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
            for _ in 0..ROUNDS {
                for (n, (client, _, key_prefix)) in clients.iter().enumerate() {
                    if op == "get" && matches!(**client, Client::RustS3Verify(_)) {
                        continue; // its GET is rust-s3's
                    }
                    let (latencies, took) =
                        measure(client.clone(), op, label, key_prefix.clone(), data.clone(), per_case / ROUNDS, encrypted).await?;
                    samples[n].0.extend(latencies);
                    samples[n].1 += took;
                }
            }
            for ((client, verify, _), (mut latencies, took)) in clients.iter().zip(samples) {
                if latencies.is_empty() {
                    continue;
                }
                latencies.sort();
                let ops = latencies.len() as f64 / took.as_secs_f64();
                let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
                rows.push(Row {
                    case: format!("{op}-{label}"),
                    client: client.name(*verify),
                    ops_per_s: ops,
                    mib_per_s: ops * size as f64 / (1u64 << 20) as f64,
                    p50_ms: at(0.5).as_secs_f64() * 1000.0,
                    p99_ms: at(0.99).as_secs_f64() * 1000.0,
                });
            }
        }
    }
    Ok(rows)
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
fn stamped(data: &[u8], stamp: Option<u64>) -> Vec<u8> {
    let mut body = data.to_vec();
    if let Some(stamp) = stamp {
        let n = body.len().min(8);
        body[..n].copy_from_slice(&stamp.to_le_bytes()[..n]);
    }
    body
}

/// The two AEADs the issue names, measured alone: MiB/s sealing 64 MiB in 64 KiB segments
/// (Coffer's segment size), on one core, best of three.
pub fn aead_throughput() -> Vec<(&'static str, f64)> {
    use aes_gcm::aead::{AeadInPlace, KeyInit};
    let total = 64usize << 20;
    let segment = vec![7u8; coffer_host::encryption::SEGMENT];
    let time = |seal: &mut dyn FnMut(u64, &mut [u8])| {
        let mut best = f64::MAX;
        let mut buffer = segment.clone();
        for _ in 0..3 {
            let started = Instant::now();
            for index in 0..(total / segment.len()) as u64 {
                seal(index, &mut buffer);
            }
            best = best.min(started.elapsed().as_secs_f64());
        }
        total as f64 / (1u64 << 20) as f64 / best
    };
    let aes = aes_gcm::Aes256Gcm::new(&[1u8; 32].into());
    let chacha = chacha20poly1305::ChaCha20Poly1305::new(&[1u8; 32].into());
    let nonce = |index: u64| {
        let mut n = [0u8; 12];
        n[..8].copy_from_slice(&index.to_be_bytes());
        n
    };
    let aes_rate = time(&mut |i, buf| {
        aes.encrypt_in_place_detached(&nonce(i).into(), b"aad", buf).unwrap();
    });
    let chacha_rate = time(&mut |i, buf| {
        chacha.encrypt_in_place_detached(&nonce(i).into(), b"aad", buf).unwrap();
    });
    let ring_key = ring::aead::LessSafeKey::new(ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, &[1u8; 32]).unwrap());
    let ring_rate = time(&mut |i, buf| {
        let nonce = ring::aead::Nonce::assume_unique_for_key(nonce(i));
        let _tag = ring_key.seal_in_place_separate_tag(nonce, ring::aead::Aad::from(b"aad"), buf).unwrap();
    });
    let ring_chacha = ring::aead::LessSafeKey::new(ring::aead::UnboundKey::new(&ring::aead::CHACHA20_POLY1305, &[1u8; 32]).unwrap());
    let ring_chacha_rate = time(&mut |i, buf| {
        let nonce = ring::aead::Nonce::assume_unique_for_key(nonce(i));
        let _tag = ring_chacha.seal_in_place_separate_tag(nonce, ring::aead::Aad::from(b"aad"), buf).unwrap();
    });
    vec![("AES-256-GCM (aes-gcm)", aes_rate), ("ChaCha20-Poly1305 (chacha20poly1305)", chacha_rate), ("AES-256-GCM (ring, what Coffer uses)", ring_rate), ("ChaCha20-Poly1305 (ring)", ring_chacha_rate)]
}

fn pattern(size: usize) -> Vec<u8> {
    (0..size).map(|i| (i * 31 % 251) as u8).collect()
}

/// The client a row is judged against: Coffer (verifying its writes, as Stalwart's default
/// does) against rust-s3 followed by a HEAD on puts, everything else against plain rust-s3.
fn baseline(row: &Row) -> &'static str {
    match (row.client, row.case.starts_with("put")) {
        ("coffer-encrypted", _) => "coffer",
        ("coffer", true) => "rust-s3+verify",
        _ => "rust-s3",
    }
}

/// `row`'s ops/s divided by `client`'s in the same case.
fn ratio_to(rows: &[Row], row: &Row, client: &str) -> Option<f64> {
    let base = rows.iter().find(|r| r.case == row.case && r.client == client)?.ops_per_s;
    (base > 0.0).then(|| row.ops_per_s / base)
}

/// The table, with each client's ops/s as a ratio to its baseline, to rust-s3's and to the
/// ceiling's.
pub fn table(rows: &[Row]) -> String {
    let mut out = format!(
        "{:<10} {:<16} {:>10} {:>9} {:>8} {:>8} {:>21} {:>10} {:>10}\n",
        "case", "client", "ops/s", "MiB/s", "p50 ms", "p99 ms", "/baseline", "/rust-s3", "/ceiling"
    );
    let shown = |r: Option<f64>| r.map_or("-".to_string(), |r| format!("{r:.2}x"));
    for row in rows {
        out += &format!(
            "{:<10} {:<16} {:>10.1} {:>9.1} {:>8.2} {:>8.2} {:>21} {:>10} {:>10}\n",
            row.case,
            row.client,
            row.ops_per_s,
            row.mib_per_s,
            row.p50_ms,
            row.p99_ms,
            format!("{} {}", shown(ratio_to(rows, row, baseline(row))), baseline(row)),
            shown(ratio_to(rows, row, "rust-s3")),
            shown(ratio_to(rows, row, "ceiling"))
        );
    }
    out
}

/// The results as a JSON array, and an SVG chart of ops/s relative to rust-s3 beside it.
pub fn write_json_and_chart(rows: &[Row], path: &Path) -> anyhow::Result<()> {
    let objects: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "  {{\"case\": \"{}\", \"client\": \"{}\", \"ops_per_s\": {:.3}, \"mib_per_s\": {:.3}, \"p50_ms\": {:.3}, \"p99_ms\": {:.3}, \"baseline\": \"{}\", \"vs_baseline\": {}, \"vs_rust_s3\": {}, \"vs_ceiling\": {}}}",
                r.case, r.client, r.ops_per_s, r.mib_per_s, r.p50_ms, r.p99_ms, baseline(r),
                json_ratio(ratio_to(rows, r, baseline(r))),
                json_ratio(ratio_to(rows, r, "rust-s3")),
                json_ratio(ratio_to(rows, r, "ceiling"))
            )
        })
        .collect();
    std::fs::write(path, format!("[\n{}\n]\n", objects.join(",\n")))?;
    std::fs::write(path.with_extension("svg"), chart(rows))?;
    Ok(())
}

fn json_ratio(ratio: Option<f64>) -> String {
    ratio.map_or("null".to_string(), |r| format!("{r:.3}"))
}

/// Grouped bars: for each case, each client's ops/s divided by rust-s3's (the line at 1.0).
fn chart(rows: &[Row]) -> String {
    let mut cases: Vec<&str> = rows.iter().map(|r| r.case.as_str()).collect();
    cases.dedup();
    let mut clients: Vec<&str> = rows.iter().map(|r| r.client).collect();
    clients.sort();
    clients.dedup();
    let colours = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1"];
    let ratio = |case: &str, client: &str| {
        let of = |c: &str| rows.iter().find(|r| r.case == case && r.client == c).map(|r| r.ops_per_s);
        match (of(client), of("rust-s3")) {
            (Some(v), Some(base)) if base > 0.0 => v / base,
            _ => 0.0,
        }
    };
    let top = rows.iter().map(|r| ratio(&r.case, r.client)).fold(1.5f64, f64::max).ceil();
    let (width, height, left, bottom, top_pad) = (760.0, 360.0, 50.0, 60.0, 30.0);
    let plot_h = height - bottom - top_pad;
    let group_w = (width - left - 20.0) / cases.len() as f64;
    let bar_w = group_w * 0.8 / clients.len() as f64;
    let y = |v: f64| top_pad + plot_h * (1.0 - v / top);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <text x=\"{left}\" y=\"18\">ops/s relative to rust-s3 ({CONCURRENCY} concurrent)</text>\n"
    );
    for (g, case) in cases.iter().enumerate() {
        let x0 = left + g as f64 * group_w + group_w * 0.1;
        for (c, client) in clients.iter().enumerate() {
            let v = ratio(case, client);
            let x = x0 + c as f64 * bar_w;
            svg += &format!(
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\"><title>{client}: {v:.2}x</title></rect>\n",
                y(v),
                bar_w * 0.9,
                (y(0.0) - y(v)).max(0.0),
                colours[c % colours.len()]
            );
        }
        svg += &format!("<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{case}</text>\n", x0 + group_w * 0.4, height - bottom + 18.0);
    }
    svg += &format!("<line x1=\"{left}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"black\" stroke-dasharray=\"4\"/>\n", width - 20.0, y(1.0), y(1.0));
    svg += &format!("<text x=\"4\" y=\"{:.1}\">1.0x</text>\n", y(1.0) + 4.0);
    for (c, client) in clients.iter().enumerate() {
        let x = left + c as f64 * 150.0;
        svg += &format!(
            "<rect x=\"{x}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"{}\" y=\"{:.1}\">{client}</text>\n",
            height - 22.0,
            colours[c % colours.len()],
            x + 14.0,
            height - 13.0
        );
    }
    svg + "</svg>\n"
}

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
