//! Coffer's test harness: finds the S3 server to test against, or starts one, and hands the
//! suite tenants, data and an independent client.
//!
//! The server comes from COFFER_TEST_S3_ENDPOINT, _REGION, _BUCKET, _ACCESS_KEY and _SECRET_KEY.
//! Without them the suite runs against the embedded s3s-fs server and says so; with
//! COFFER_TEST_REQUIRE_S3=1 (as CI sets it) a missing server is a failure, not a fallback.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub use coffer_testkit::{Abuse, Fault, FaultProxy, HostileServer, Persona, Rule, StallProxy, TlsProxy, When};

use coffer_testkit::EmbeddedS3;
use coffer_host::{Coffer, Tenant, TenantSettings, TenantSettingsBuilder};

/// The S3 server under test.
#[derive(Debug, Clone)]
pub struct Server {
    /// What it is, for the run's output: "external (…)" or "embedded s3s-fs".
    pub kind: String,
    pub endpoint: String,
    /// Where the server answers virtual-hosted-style requests (`http://s3.localhost:PORT`):
    /// COFFER_TEST_S3_VIRTUAL_HOST_ENDPOINT, or the embedded server's; `None` when not given.
    pub virtual_host_endpoint: Option<String>,
    pub region: String,
    pub bucket: String,
    pub access_key: String,
    pub secret_key: String,
    /// Whether this is the embedded s3s-fs server, whose known quirks some tests note.
    pub embedded: bool,
    /// Which server it is, for the tests that some servers cannot show ([`skip_on`]).
    pub family: Family,
}

/// The servers the project's scripts start, by what they cannot show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// The embedded s3s-fs server.
    Embedded,
    Garage,
    LocalStack,
    CephRgw,
    /// Any other server COFFER_TEST_S3_* names.
    Other,
}

/// Whether `test` is skipped on this run's server, one of `servers`, for `why`: the skip is
/// printed past the test runner's capture as `SKIPPED`, so the run's output shows every one.
pub fn skip_on(servers: &[Family], test: &str, why: &str) -> bool {
    let skipped = servers.contains(&server().family);
    if skipped {
        let _ = writeln!(std::io::stderr(), "coffer-tests: SKIPPED on {:?}: {test}: {why}", server().family);
    }
    skipped
}

/// The server for this run, found or started once.
pub fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let server = from_env().unwrap_or_else(start_embedded);
        // Written past the test runner's capture, so every run says which server it used.
        let _ = writeln!(std::io::stderr(), "coffer-tests: S3 server: {} at {}", server.kind, server.endpoint);
        server
    })
}

/// Which server the project's scripts started, by the variable each sets (LocalStack's is
/// checked first: CI starts it after Garage, whose variable stays set; Ceph's before both).
fn external_kind() -> (&'static str, Family) {
    let set = |var: &str| std::env::var_os(var).is_some();
    if set("COFFER_TEST_CEPH_DIR") {
        ("Ceph RGW", Family::CephRgw)
    } else if set("COFFER_TEST_LOCALSTACK_DIR") {
        ("LocalStack", Family::LocalStack)
    } else if set("COFFER_TEST_GARAGE_DIR") {
        ("Garage", Family::Garage)
    } else {
        ("COFFER_TEST_S3_ENDPOINT", Family::Other)
    }
}

fn from_env() -> Option<Server> {
    let var = |name: &str| std::env::var(format!("COFFER_TEST_S3_{name}")).ok().filter(|v| !v.is_empty());
    match (var("ENDPOINT"), var("ACCESS_KEY"), var("SECRET_KEY")) {
        (Some(endpoint), Some(access_key), Some(secret_key)) => Some(Server {
            kind: format!("external ({})", external_kind().0),
            family: external_kind().1,
            endpoint,
            virtual_host_endpoint: var("VIRTUAL_HOST_ENDPOINT"),
            region: var("REGION").unwrap_or_else(|| "us-east-1".into()),
            bucket: var("BUCKET").unwrap_or_else(|| "coffer-test".into()),
            access_key,
            secret_key,
            embedded: false,
        }),
        _ => {
            assert!(
                std::env::var_os("COFFER_TEST_REQUIRE_S3").is_none(),
                "COFFER_TEST_REQUIRE_S3 is set but COFFER_TEST_S3_ENDPOINT/_ACCESS_KEY/_SECRET_KEY are not"
            );
            None
        }
    }
}

/// Starts the embedded server on a thread of its own, with a runtime that lives for the whole
/// run (each test has its own runtime, which would otherwise take the server down with it).
fn start_embedded() -> Server {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().expect("a runtime for the embedded server");
        runtime.block_on(async move {
            let s3 = EmbeddedS3::start("coffer-test").await.expect("the embedded s3s-fs server starts");
            tx.send(Server {
                kind: "embedded s3s-fs (set COFFER_TEST_S3_* to test a real server)".into(),
                endpoint: s3.endpoint.clone(),
                virtual_host_endpoint: Some(s3.virtual_host_endpoint.clone()),
                region: s3.region.clone(),
                bucket: s3.bucket.clone(),
                access_key: s3.access_key.clone(),
                secret_key: s3.secret_key.clone(),
                embedded: true,
                family: Family::Embedded,
            })
            .unwrap();
            std::future::pending::<()>().await;
            drop(s3);
        });
    });
    rx.recv().expect("the embedded server reports its address")
}

/// Prints a note past the test runner's capture, so that what a run could not check on this
/// server shows in its output even when the test passes.
pub fn note(test: &str, message: &str) {
    let _ = writeln!(std::io::stderr(), "coffer-tests: note: {test}: {message}");
}

/// The host, with the plugin compiled once for the whole run.
pub fn coffer() -> &'static Coffer {
    static COFFER: OnceLock<Coffer> = OnceLock::new();
    COFFER.get_or_init(|| Coffer::new().expect("the plugin loads"))
}

/// A key prefix no other run or test shares: `run-<pid>-<nanos>/<test>/`.
pub fn unique_prefix(test: &str) -> String {
    static RUN: OnceLock<String> = OnceLock::new();
    let run = RUN.get_or_init(|| {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        format!("run-{}-{nanos}", std::process::id())
    });
    format!("{run}/{test}/")
}

/// The config text of a tenant on the server under test, with `extra` lines appended: for the
/// tests of the config file and of the CLI.
pub fn tenant_toml(name: &str, prefix: &str, extra: &str) -> String {
    let s = server();
    format!(
        "[tenants.{name}]\nbucket = \"{}\"\nregion = \"{}\"\nendpoint = \"{}\"\naccessKey = \"{}\"\nsecretKey = \"{}\"\nkeyPrefix = \"{prefix}\"\n{extra}\n",
        s.bucket, s.region, s.endpoint, s.access_key, s.secret_key
    )
}

/// A tenant on the server under test at `endpoint` (the server's own, or a proxy in front of
/// it), built in code: no config file, nothing from the environment.
pub fn builder(name: &str, endpoint: &str, prefix: &str) -> TenantSettingsBuilder {
    let s = server();
    TenantSettings::builder(name)
        .bucket(&s.bucket)
        .region(&s.region)
        .endpoint(endpoint)
        .access_key(s.access_key.as_str())
        .secret_key(s.secret_key.as_str())
        .key_prefix(prefix)
}

/// Settings of a tenant on the server under test, changed by `with`.
pub fn settings(prefix: &str, with: impl FnOnce(TenantSettingsBuilder) -> TenantSettingsBuilder) -> TenantSettings {
    with(builder("test", &server().endpoint, prefix)).build().unwrap()
}

/// A tenant on the server under test whose keys live under a prefix of its own.
pub fn tenant(test: &str) -> (Tenant, String) {
    let prefix = unique_prefix(test);
    (coffer().tenant(settings(&prefix, |b| b)), prefix)
}

/// A tenant whose endpoint is `endpoint` (a proxy in front of the server under test), changed
/// by `with`, and one with the same settings and prefix that talks to the server directly.
pub fn proxied_tenant(
    endpoint: &str,
    test: &str,
    with: impl Fn(TenantSettingsBuilder) -> TenantSettingsBuilder,
) -> (Tenant, Tenant) {
    let prefix = unique_prefix(test);
    let direct = coffer().tenant(with(builder("t", &server().endpoint, &prefix)).build().unwrap());
    let proxied = coffer().tenant(with(builder("t", endpoint, &prefix)).build().unwrap());
    (proxied, direct)
}

/// Runs `call(i)` for every i in 0..count, `callers` calls in flight at once; the results in
/// index order.
pub async fn in_parallel<T, F, Fut>(count: usize, callers: usize, call: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = T> + Send,
{
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let call = std::sync::Arc::new(call);
    let callers: Vec<_> = (0..callers)
        .map(|_| {
            let (next, call) = (next.clone(), call.clone());
            tokio::spawn(async move {
                let mut done = Vec::new();
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if i >= count {
                        return done;
                    }
                    done.push((i, call(i).await));
                }
            })
        })
        .collect();
    let mut results = Vec::with_capacity(count);
    for caller in callers {
        results.extend(caller.await.unwrap());
    }
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, result)| result).collect()
}

/// `len` bytes, different for every seed, cheap to make (xorshift).
pub fn blob(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// The boto3 client of tests/peer, against the server under test.
pub struct Peer;

impl Peer {
    fn command(op: &str, full_key: &str, file: &Path) -> Command {
        let s = server();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("peer/s3peer.py");
        let mut cmd = Command::new("python3");
        cmd.arg(script).args([op, full_key]).arg(file);
        cmd.env("COFFER_PEER_ENDPOINT", &s.endpoint)
            .env("COFFER_PEER_REGION", &s.region)
            .env("COFFER_PEER_BUCKET", &s.bucket)
            .env("COFFER_PEER_ACCESS_KEY", &s.access_key)
            .env("COFFER_PEER_SECRET_KEY", &s.secret_key);
        cmd
    }

    fn run(mut cmd: Command, what: &str) -> std::process::Output {
        let output = cmd.output().unwrap_or_else(|e| panic!("running python3 for the boto3 peer: {e}"));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !stderr.contains("No module named 'boto3'"),
            "the independent client needs boto3: `python3 -m pip install boto3` (scripts/test does it)"
        );
        assert!(output.status.success() || output.status.code() == Some(3), "{what} failed: {stderr}");
        output
    }

    /// Stores `data` under the full object key (prefix included), as another S3 client would.
    pub fn put(full_key: &str, data: &[u8]) {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), data).unwrap();
        Peer::run(Peer::command("put", full_key, file.path()), &format!("boto3 put {full_key:?}"));
    }

    /// Stores `data` under the full object key with boto3's checksum `algorithm` (`CRC32C`...),
    /// which the server checks and keeps.
    pub fn put_with_checksum(full_key: &str, data: &[u8], algorithm: &str) {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), data).unwrap();
        let what = format!("boto3 put {full_key:?} with {algorithm}");
        Peer::run(Peer::command(&format!("put-{algorithm}"), full_key, file.path()), &what);
    }

    /// The object's checksum fields as boto3's HEAD gives them (`ChecksumCRC32=… ChecksumType=…`).
    pub fn checksums(full_key: &str) -> String {
        let output = Peer::run(Peer::command("checksums", full_key, Path::new("-")), "boto3 head_object checksums");
        String::from_utf8(output.stdout).unwrap().trim().to_string()
    }

    /// The full keys under `prefix`, as boto3 lists them (every page), in its order.
    pub fn list(prefix: &str) -> Vec<String> {
        let output = Peer::run(Peer::command("list", prefix, Path::new("-")), "boto3 list_objects_v2");
        String::from_utf8(output.stdout).unwrap().lines().map(str::to_string).collect()
    }

    /// Stalwart's object name for `key`, computed by Python's base64 module (not by Coffer).
    pub fn stalwart_name(key: &[u8]) -> String {
        let output = Peer::run(Peer::command("stalwart-name", &hex::encode(key), Path::new("-")), "stalwart-name");
        String::from_utf8(output.stdout).unwrap().trim().to_string()
    }

    /// How many multipart uploads under `prefix` are in progress (their parts kept, unbilled
    /// only once aborted or completed).
    pub fn uploads_in_progress(prefix: &str) -> usize {
        let output = Peer::run(Peer::command("uploads", prefix, Path::new("-")), "boto3 list_multipart_uploads");
        String::from_utf8(output.stdout).unwrap().trim().parse().unwrap()
    }

    /// Decrypts `stored`, the object `full_key` of an encrypted tenant, with Python's
    /// `cryptography` from docs/encryption.md alone (tests/peer/coffer_decrypt.py), given its
    /// keys as (id, hex): the plaintext, or the script's error.
    pub fn decrypt(full_key: &str, stored: &[u8], keys: &[(&str, &str)]) -> Result<Vec<u8>, String> {
        use std::io::Write as _;
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("peer/coffer_decrypt.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(full_key)
            .args(keys.iter().map(|(id, key)| format!("{id}={key}")))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("running python3 for the independent decryption: {e}"));
        let mut stdin = child.stdin.take().unwrap();
        let stored = stored.to_vec();
        let feeding = std::thread::spawn(move || stdin.write_all(&stored));
        let output = child.wait_with_output().unwrap();
        feeding.join().unwrap().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).to_string();
        assert!(
            !stderr.contains("No module named 'cryptography'"),
            "the independent decryption needs cryptography: `python3 -m pip install cryptography` (scripts/test does it)"
        );
        match output.status.success() {
            true => Ok(output.stdout),
            false => Err(stderr),
        }
    }

    /// Reads the full object key with boto3; `None` when it does not exist.
    pub fn get(full_key: &str) -> Option<Vec<u8>> {
        let file = tempfile::NamedTempFile::new().unwrap();
        let output = Peer::run(Peer::command("get", full_key, file.path()), &format!("boto3 get {full_key:?}"));
        (output.status.code() == Some(0)).then(|| std::fs::read(file.path()).unwrap())
    }
}

/// The hostile test plugin (tests/hostile-plugin), built for wasm32-wasip2 once per run beside the
/// real plugin (in `<target>/plugin`, so they share compiled dependencies).
pub fn hostile_wasm() -> &'static [u8] {
    static WASM: OnceLock<Vec<u8>> = OnceLock::new();
    WASM.get_or_init(|| build_hostile(None))
}

/// The hostile plugin built with a cargo feature of its own (`filesystem`, `sockets`): an
/// import the host must refuse to load.
pub fn hostile_wasm_with(feature: &str) -> Vec<u8> {
    build_hostile(Some(feature))
}

fn build_hostile(feature: Option<&str>) -> Vec<u8> {
    // The builds share one output file: build and read it one at a time.
    static BUILDING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = BUILDING.lock().unwrap_or_else(|p| p.into_inner());
    let exe = std::env::current_exe().unwrap();
    let target_dir = exe.parent().unwrap().parent().unwrap().parent().unwrap().join("plugin");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap())
        .args(["build", "--quiet", "--locked", "-p", "coffer-hostile-plugin", "--target", "wasm32-wasip2"])
        .args(["--profile", "release-plugin", "--target-dir"])
        .arg(&target_dir);
    if let Some(feature) = feature {
        build.args(["--features", feature]);
    }
    let status = build.status().expect("running cargo to build the hostile plugin");
    assert!(status.success(), "building the hostile plugin ({feature:?}) failed");
    std::fs::read(target_dir.join("wasm32-wasip2/release-plugin/coffer_hostile_plugin.wasm")).unwrap()
}

/// The `coffer` binary, built (once per run, a no-op when it is fresh) beside this test binary.
pub fn coffer_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().unwrap().parent().unwrap();
        let target_dir = profile_dir.parent().unwrap();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap())
            .args(["build", "--quiet", "-p", "coffer-cli", "--bin", "coffer", "--target-dir"])
            .arg(target_dir);
        if profile_dir.file_name() == Some("release".as_ref()) {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("running cargo to build the coffer binary");
        assert!(status.success(), "building the coffer binary failed");
        profile_dir.join("coffer")
    })
    .clone()
}
