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

mod peer;
mod server;

pub use peer::Peer;
pub use server::{Family, Server, server, skip_on};
pub use coffer_testkit::{Abuse, Fault, FaultProxy, HostileServer, Persona, Rule, StallProxy, TlsProxy, When};

use coffer_host::{Coffer, Tenant, TenantSettings, TenantSettingsBuilder};

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
