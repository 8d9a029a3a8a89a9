//! One sandbox per tenant: a hostile plugin (tests/hostile-plugin, built from the same WIT) tries to get
//! out or to bring the host down, while another tenant's calls go on; limits; what the config
//! interface tells each tenant; loading a new plugin with calls in flight.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use coffer_host::{Coffer, ErrorKind, HostOptions, Limits, StoreError, Tenant, TenantSettings};
use coffer_tests::{
    FaultProxy, blob, builder, coffer_bin, hostile_wasm, hostile_wasm_with, server, tenant, tenant_toml, unique_prefix,
};

/// A host running the hostile plugin.
fn hostile_host() -> &'static Coffer {
    static HOST: OnceLock<Coffer> = OnceLock::new();
    HOST.get_or_init(|| {
        Coffer::with_options(HostOptions { component: Some(hostile_wasm().to_vec()), ..Default::default() })
            .expect("the hostile plugin loads")
    })
}

/// A tenant of the hostile plugin, with `limits`.
fn hostile_tenant(name: &str, limits: Limits) -> Tenant {
    hostile_host().tenant(builder(name, &server().endpoint, &unique_prefix(name)).limits(limits).build().unwrap())
}

/// Whether `result` failed with `kind` and a message (tenant included) containing `text`.
fn failed<T>(result: &Result<T, StoreError>, kind: ErrorKind, text: &str) -> bool {
    matches!(result, Err(e) if e.kind() == kind && e.to_string().contains(text))
}

async fn ask(tenant: &Tenant, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
    tenant.get(key, ..).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_escape_is_contained_while_another_tenant_goes_on() {
    let hostile = hostile_tenant("hostile", Limits { memory: 64 << 20, cpu_time: Duration::from_secs(1), ..Limits::default() });

    // The neighbour: a tenant of the real plugin, putting and reading while the attacks run.
    let (neighbour, _) = tenant("sandbox-neighbour");
    let neighbour_calls = tokio::spawn(async move {
        let mut failures = Vec::new();
        let started = Instant::now();
        let mut i = 0u64;
        while started.elapsed() < Duration::from_secs(3) || i < 20 {
            let data = blob(8192, i);
            if let Err(e) = neighbour.put(&format!("n{i}"), &data).await {
                failures.push(e.to_string());
            }
            match neighbour.get(&format!("n{i}"), ..).await {
                Ok(Some(read)) if read == data => {}
                other => failures.push(format!("{other:?}").chars().take(200).collect()),
            }
            i += 1;
        }
        (i, failures)
    });

    let attacks: [&'static str; 9] = [
        "fetch:http://example.com/",
        "fetch:http://169.254.169.254/latest/meta-data/",
        "fetch:http://10.0.0.1:9000/",
        "fetch:http://127.0.0.1:22/",
        "read-env",
        "spin",
        "memory-bomb",
        "panic",
        "huge-response",
    ];
    let calls: Vec<_> = attacks
        .into_iter()
        .map(|attack| {
            let hostile = hostile.clone();
            tokio::spawn(async move {
                let started = Instant::now();
                (ask(&hostile, attack).await, started.elapsed())
            })
        })
        .collect();
    let mut results = Vec::new();
    for (attack, call) in attacks.iter().zip(calls) {
        let (result, took) = call.await.expect("the host survives every attack");
        results.push((*attack, result, took));
    }

    for (attack, result, took) in &results {
        let shown = format!("{attack}: {result:?}").chars().take(300).collect::<String>();
        match *attack {
            a if a.starts_with("fetch:") => {
                assert!(failed(result, ErrorKind::Other, "HttpRequestDenied"), "{shown}");
            }
            "read-env" => assert_eq!(result.as_ref().unwrap().as_deref(), Some(&b""[..]), "{shown}"),
            "spin" => {
                assert!(failed(result, ErrorKind::LimitExceeded, "CPU time limit of 1s"), "{shown}");
                assert!(*took < Duration::from_secs(5), "{attack} took {took:?}");
            }
            "memory-bomb" => {
                assert!(failed(result, ErrorKind::LimitExceeded, "memory limit of 64.0 MiB"), "{shown}");
            }
            "panic" | "huge-response" => {
                assert!(failed(result, ErrorKind::Sandbox, "tenant \"hostile\""), "{shown}");
            }
            _ => unreachable!(),
        }
    }

    let (neighbour_done, failures) = neighbour_calls.await.unwrap();
    assert!(failures.is_empty(), "the neighbour's calls failed: {failures:?}");
    assert!(neighbour_done >= 20);
    // And the hostile tenant itself still gets served after all that.
    assert_eq!(ask(&hostile, "nothing").await.unwrap(), None);
}

#[tokio::test]
async fn tenants_see_only_their_own_settings_and_endpoint() {
    // Tenant A: the server under test. Tenant B: other keys, another bucket, behind a proxy on
    // another port, so its endpoint differs from A's.
    let proxy = FaultProxy::start(&server().endpoint, vec![]);
    let a = hostile_host().tenant(builder("a", &server().endpoint, "a/").build().unwrap());
    let b = TenantSettings::builder("b")
        .bucket("bucket-of-b")
        .region("garage")
        .endpoint(&proxy.endpoint)
        .access_key("GKTENANTB")
        .secret_key("secret-of-tenant-b")
        .key_prefix("b/");
    let b = hostile_host().tenant(b.build().unwrap());

    let seen = String::from_utf8(ask(&b, "config").await.unwrap().unwrap()).unwrap();
    assert!(seen.contains("bucket=bucket-of-b") && seen.contains("secret=secret-of-tenant-b"), "{seen}");
    for of_a in [&server().secret_key, &server().access_key, &server().bucket, &server().endpoint] {
        assert!(!seen.contains(of_a.as_str()), "tenant b saw tenant a's {of_a}");
    }

    // B cannot reach A's endpoint; A can (so the refusal is about B, not about the request).
    // A goes first, so that a kept-alive connection to its endpoint waits in the client B
    // shares with it (the same trust): B's request is refused all the same, per request.
    let to_a = format!("fetch:{}/", server().endpoint);
    assert!(ask(&a, &to_a).await.unwrap().unwrap().starts_with(b"status "));
    let error = ask(&b, &to_a).await.unwrap_err();
    assert!(error.kind() == ErrorKind::Other && error.message().contains("HttpRequestDenied"), "{error}");
    assert!(ask(&a, &to_a).await.unwrap().unwrap().starts_with(b"status "));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_is_limited_per_tenant_with_a_bounded_queue() {
    // One call at a time, four may wait (the queue is 4 per slot): of ten spinning calls at
    // once, five are served one after the other and five are refused at once.
    let spinner = hostile_tenant("spinner", Limits { cpu_time: Duration::from_millis(200), concurrency: 1, ..Limits::default() });
    let calls: Vec<_> = (0..10)
        .map(|_| {
            let spinner = spinner.clone();
            tokio::spawn(async move { ask(&spinner, "spin").await })
        })
        .collect();
    let mut refused = 0;
    let mut stopped = 0;
    for call in calls {
        match call.await.unwrap() {
            r if failed(&r, ErrorKind::LimitExceeded, "concurrency limit") => refused += 1,
            r if failed(&r, ErrorKind::LimitExceeded, "CPU time") => stopped += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((stopped, refused), (5, 5));
}

#[tokio::test]
async fn the_guests_output_goes_to_the_log_under_its_tenants_name() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("coffer.toml");
    std::fs::write(&config, tenant_toml("loud", &unique_prefix("loud"), "")).unwrap();
    let wasm = dir.path().join("hostile.wasm");
    std::fs::write(&wasm, hostile_wasm()).unwrap();
    let run = |key: &str| {
        std::process::Command::new(coffer_bin())
            .arg("--config")
            .arg(&config)
            .arg("--plugin")
            .arg(&wasm)
            .args(["get", key])
            .arg(dir.path().join("out"))
            .env_remove("COFFER_LOG")
            .output()
            .unwrap()
    };
    let printed = run("print");
    let stderr = String::from_utf8_lossy(&printed.stderr);
    assert!(printed.status.success(), "{stderr}");
    assert!(stderr.contains("hostile plugin says hello on stdout") && stderr.contains("loud"), "{stderr}");
    assert!(stderr.lines().any(|l| l.contains("hostile plugin counts 1 2 3 on stderr")), "{stderr}");
    let panicked = run("panic");
    let stderr = String::from_utf8_lossy(&panicked.stderr);
    assert_eq!(panicked.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("hostile plugin panics on purpose") && stderr.contains("loud"), "{stderr}");
    // The panic's first line whole, not in the pieces the guest wrote it in.
    assert!(stderr.lines().any(|l| l.contains("panicked at") && l.contains("lib.rs")), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_plugin_version_loads_without_dropping_calls_in_flight() {
    let cache = tempfile::tempdir().unwrap();
    let host = Coffer::with_options(HostOptions { cache_dir: Some(cache.path().to_path_buf()), ..Default::default() }).unwrap();
    let store = Arc::new(host.tenant(coffer_tests::settings(&unique_prefix("reload"), |b| b)));
    // Each caller goes on until the new version is loaded, and for two calls after.
    let loaded = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let callers: Vec<_> = (0..8)
        .map(|c| {
            let (store, loaded) = (store.clone(), loaded.clone());
            tokio::spawn(async move {
                let (mut done, mut after) = (0, 0);
                let started = Instant::now();
                while after < 2 && started.elapsed() < Duration::from_secs(60) {
                    let seen = loaded.load(std::sync::atomic::Ordering::SeqCst);
                    let data = blob(4096, c * 1000 + done);
                    store.put(&format!("c{c}-{done}"), &data).await.unwrap();
                    assert_eq!(store.get(&format!("c{c}-{done}"), ..).await.unwrap(), Some(data));
                    done += 1;
                    after += u64::from(seen);
                }
                done
            })
        })
        .collect();
    // The same plugin with a custom section added: another component, as a new version is.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut next_version = coffer_host::PLUGIN_WASM.to_vec();
    next_version.extend_from_slice(&custom_section("coffer-version", b"next"));
    host.load_plugin(&next_version).unwrap();
    loaded.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut calls = 0;
    for caller in callers {
        calls += caller.await.expect("no call in flight failed");
    }
    assert!(calls > 8);
    // Each version was compiled once and cached under its own key.
    let artefacts = std::fs::read_dir(cache.path()).unwrap().filter(|e| e.as_ref().unwrap().path().extension() == Some("cwasm".as_ref())).count();
    assert_eq!(artefacts, 2);
    // Instances of the old version were dropped, not reused, once the new one was loaded.
    assert!(store.stats().instances_made > 8, "{} instances for 8 callers across two versions", store.stats().instances_made);
    // A component that is not a plugin is refused, and the running one stays.
    assert!(host.load_plugin(b"\0asm not a component").is_err());
    assert_eq!(store.stat("c0-0").await.unwrap().map(|i| i.size), Some(4096));
}

/// A WebAssembly custom section: id 0, size, name, payload.
fn custom_section(name: &str, payload: &[u8]) -> Vec<u8> {
    let leb = |mut n: usize| {
        let mut out = Vec::new();
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            out.push(if n == 0 { byte } else { byte | 0x80 });
            if n == 0 {
                return out;
            }
        }
    };
    let mut body = leb(name.len());
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(payload);
    let mut section = vec![0u8];
    section.extend(leb(body.len()));
    section.extend(body);
    section
}

#[tokio::test]
async fn an_instance_serves_only_its_tenant_and_is_dropped_after_a_trap_or_growth() {
    let count = |tenant: Tenant| async move {
        let answer = tenant.get("count", ..).await.unwrap().unwrap();
        String::from_utf8(answer).unwrap().parse::<u32>().unwrap()
    };
    let a = hostile_tenant("warm-a", Limits::default());
    let b = hostile_tenant("warm-b", Limits::default());
    for expected in 1..=5 {
        assert_eq!(count(a.clone()).await, expected, "one instance serves the tenant's calls in turn");
    }
    assert_eq!(a.stats().instances_made, 1);
    assert_eq!(count(b.clone()).await, 1, "another tenant never gets that instance, nor its state");

    // A trap drops the instance: the next call starts afresh.
    assert!(failed(&a.get("panic", ..).await, ErrorKind::Sandbox, "panic"));
    assert_eq!(count(a.clone()).await, 1);
    assert_eq!(a.stats().instances_made, 2);

    // So does memory grown past 16 MiB (the call itself succeeds).
    assert_eq!(a.get("grow", ..).await.unwrap(), Some(vec![1]));
    assert_eq!(count(a.clone()).await, 1);
    assert_eq!(a.stats().instances_made, 3);

    // And the real plugin keeps one instance for a run of ordinary calls.
    let (real, _) = tenant("warm-real");
    for _ in 0..20 {
        real.stat("nothing").await.unwrap();
    }
    assert_eq!(real.stats().instances_made, 1);
}

/// The host links only the WASI the real plugin imports: a plugin that imports wasi:filesystem
/// (to read the host's files) or wasi:sockets (a raw TCP connect to the tenant's own endpoint
/// on the loopback, a name lookup), around wasi:http and its egress check, does not load, and
/// the error names the import. A running host refuses it as a new version too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_that_imports_files_or_sockets_is_refused_at_load() {
    let running = Coffer::new().unwrap();
    for (feature, import) in [("filesystem", "wasi:filesystem/"), ("sockets", "wasi:sockets/")] {
        let wasm = hostile_wasm_with(feature);
        let refused = Coffer::with_options(HostOptions { component: Some(wasm.clone()), ..Default::default() });
        let error = refused.err().unwrap_or_else(|| panic!("a plugin importing {import} loaded")).to_string();
        assert!(error.contains(import), "{feature}: {error}");
        let error = running.load_plugin(&wasm).unwrap_err().to_string();
        assert!(error.contains(import), "{feature}: {error}");
    }
    // The base hostile plugin, which imports neither, loads (the refusal is the import's).
    assert!(Coffer::with_options(HostOptions { component: Some(hostile_wasm().to_vec()), ..Default::default() }).is_ok());
}
