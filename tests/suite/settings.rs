//! Settings that reach the server: Stalwart's object layout, credentials from a profile or the
//! environment. Each test fails if the setting were ignored.

use std::process::Command;

use coffer_host::{Checksum, ErrorKind, TenantSettingsBuilder};
use coffer_tests::{Fault, FaultProxy, Peer, Rule, When, blob, coffer_bin, proxied_tenant, server, unique_prefix};

/// A config for the server under test without keys, so they must come from elsewhere.
fn keyless_config(prefix: &str, extra: &str) -> String {
    let s = server();
    format!(
        "[tenants.t]\nbucket = \"{}\"\nregion = \"{}\"\nendpoint = \"{}\"\nkeyPrefix = \"{prefix}\"\n{extra}\n",
        s.bucket, s.region, s.endpoint
    )
}

fn coffer_in(dir: &std::path::Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(coffer_bin());
    cmd.args(args).current_dir(dir);
    for var in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE"] {
        cmd.env_remove(var);
    }
    cmd.env("HOME", dir);
    cmd
}

#[test]
fn stalwart_layout_is_shared_with_an_independent_client() {
    let prefix = unique_prefix("stalwart-layout");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("coffer.toml"), coffer_tests::tenant_toml("t", &prefix, "")).unwrap();

    // A blob written by "Stalwart" (boto3 with Python's base32), read by Coffer with --hex-key.
    let hash = blob(32, 31);
    let name = Peer::stalwart_name(&hash);
    assert_eq!(name.len(), 52);
    assert_eq!(name, coffer_host::stalwart::object_name(&hash));
    let data = blob(4096, 32);
    Peer::put(&format!("{prefix}{name}"), &data);
    let out = coffer_in(dir.path(), &["--hex-key", "get", &hex::encode(&hash)]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.stdout, data);

    // And the reverse: what Coffer stores with --hex-key is where Stalwart looks.
    let other = blob(32, 33);
    let mut child = coffer_in(dir.path(), &["--hex-key", "put", &hex::encode(&other)])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"stalwart blob").unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(Peer::get(&format!("{prefix}{}", Peer::stalwart_name(&other))).as_deref(), Some(&b"stalwart blob"[..]));

    let bad = coffer_in(dir.path(), &["--hex-key", "get", "not-hex"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn credentials_from_a_profile_and_from_the_environment_reach_the_server() {
    let s = server();
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("credentials");
    std::fs::write(
        &creds,
        format!(
            "[mail]\naws_access_key_id = {}\naws_secret_access_key = {}\n[wrong]\naws_access_key_id = {}\naws_secret_access_key = not-it\n",
            s.access_key, s.secret_key, s.access_key
        ),
    )
    .unwrap();
    let prefix = unique_prefix("credentials");

    std::fs::write(dir.path().join("coffer.toml"), keyless_config(&prefix, "profile = \"mail\"")).unwrap();
    let put = coffer_in(dir.path(), &["put", "from-profile", "credentials"])
        .env("AWS_SHARED_CREDENTIALS_FILE", &creds)
        .output()
        .unwrap();
    assert!(put.status.success(), "{}", String::from_utf8_lossy(&put.stderr));
    assert!(Peer::get(&format!("{prefix}from-profile")).is_some());

    // The profile really is what signs: the wrong one is refused.
    std::fs::write(dir.path().join("coffer.toml"), keyless_config(&prefix, "profile = \"wrong\"")).unwrap();
    let refused = coffer_in(dir.path(), &["stat", "from-profile"])
        .env("AWS_SHARED_CREDENTIALS_FILE", &creds)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    assert!(!String::from_utf8_lossy(&refused.stderr).contains("not-it"), "no secret in errors");

    // Without keys or profile, the host's AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY are not
    // borrowed, even though they would work: a config error names the tenant.
    std::fs::write(dir.path().join("coffer.toml"), keyless_config(&prefix, "")).unwrap();
    let with_host_keys = |args: &[&str]| {
        coffer_in(dir.path(), args)
            .env("AWS_ACCESS_KEY_ID", &s.access_key)
            .env("AWS_SECRET_ACCESS_KEY", &s.secret_key)
            .output()
            .unwrap()
    };
    let refused = with_host_keys(&["stat", "from-profile"]);
    assert_eq!(refused.status.code(), Some(2), "{}", String::from_utf8_lossy(&refused.stderr));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("tenant \"t\"") && said.contains("accessKey") && said.contains("ambientCredentials"), "{said}");

    // With ambientCredentials = true, the tenant takes them, and they reach the server.
    std::fs::write(dir.path().join("coffer.toml"), keyless_config(&prefix, "ambientCredentials = true")).unwrap();
    let stat = with_host_keys(&["stat", "from-profile"]);
    assert!(stat.status.success(), "{}", String::from_utf8_lossy(&stat.stderr));

    // And with nothing anywhere, a config error that says where it looked.
    let nothing = coffer_in(dir.path(), &["stat", "from-profile"]).output().unwrap();
    assert_eq!(nothing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&nothing.stderr).contains("ambientCredentials"));
}

#[test]
fn no_secret_appears_in_errors_or_trace_logs_from_any_source() {
    let s = server();
    let dir = tempfile::tempdir().unwrap();
    let file_secret = dir.path().join("secret");
    std::fs::write(&file_secret, "file-secret-4a7c1e\n").unwrap();
    let creds = dir.path().join("credentials");
    std::fs::write(&creds, "[p]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = profile-secret-93b2\naws_session_token = profile-token-5d1e\n").unwrap();
    let prefix = unique_prefix("redaction");
    let base = keyless_config(&prefix, "");
    // One config per secret source; each signs with a wrong secret, so every call fails and
    // logs and errors are as talkative as they get.
    let cases = [
        (format!("{base}accessKey = \"{}\"\nsecretKey = \"inline-secret-0f3a\"\nsessionToken = \"inline-token-77c2\"\n", s.access_key), vec![]),
        (format!("{base}accessKey = \"{}\"\nsecretKey = {{ env = \"COFFER_RT_SECRET\" }}\nsecurityToken = {{ env = \"COFFER_RT_TOKEN\" }}\n", s.access_key), vec![]),
        (format!("{base}accessKey = \"{}\"\nsecretKey = {{ file = \"{}\" }}\n", s.access_key, file_secret.display()), vec![]),
        (format!("{base}profile = \"p\"\n"), vec![("AWS_SHARED_CREDENTIALS_FILE", creds.display().to_string())]),
        (format!("{base}ambientCredentials = true\n"), vec![("AWS_ACCESS_KEY_ID", s.access_key.clone()), ("AWS_SECRET_ACCESS_KEY", "environment-secret-61f0".into()), ("AWS_SESSION_TOKEN", "environment-token-2b9d".into())]),
    ];
    let secrets = [
        "inline-secret-0f3a", "inline-token-77c2", "env-secret-c3d9", "env-token-8e41", "file-secret-4a7c1e",
        "profile-secret-93b2", "profile-token-5d1e", "environment-secret-61f0", "environment-token-2b9d",
    ];
    for (config, env) in cases {
        std::fs::write(dir.path().join("coffer.toml"), &config).unwrap();
        for args in [&["stat", "k"][..], &["put", "k", "coffer.toml"][..]] {
            let mut cmd = coffer_in(dir.path(), args);
            cmd.env("COFFER_LOG", "trace").env("COFFER_RT_SECRET", "env-secret-c3d9").env("COFFER_RT_TOKEN", "env-token-8e41");
            for (k, v) in &env {
                cmd.env(k, v);
            }
            let out = cmd.output().unwrap();
            assert_eq!(out.status.code(), Some(1), "a wrong secret fails: {}", String::from_utf8_lossy(&out.stderr));
            let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            assert!(text.len() > 200, "trace logging is on: {text}");
            for secret in secrets {
                assert!(!text.contains(secret), "{secret} leaked with config:\n{config}\n{text}");
            }
        }
    }
}

#[tokio::test]
async fn timeout_bounds_each_attempt_and_max_retries_the_number_of_attempts() {
    use std::time::{Duration, Instant};
    let proxy = coffer_tests::StallProxy::start(&server().endpoint);
    let (store, _) = proxied_tenant(&proxy.endpoint, "stalled", |b| b.timeout(Duration::from_millis(700)).max_retries(2));
    let started = Instant::now();
    let error = store.get("k", ..).await.unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error}");
    assert_eq!(proxy.connections(), 3, "maxRetries = 2: one attempt and two retries");
    // Three attempts of 700 ms, plus at most 100 + 200 ms of backoff, plus slack; the default
    // 30 s timeout would blow far past this.
    assert!(elapsed >= Duration::from_millis(3 * 700), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(3 * 700 + 300 + 1500), "{elapsed:?}");

    let once = coffer_tests::StallProxy::start(&server().endpoint);
    let (store, _) = proxied_tenant(&once.endpoint, "stalled", |b| b.timeout(Duration::from_millis(300)).max_retries(0));
    assert_eq!(store.put("k", b"x").await.unwrap_err().kind(), ErrorKind::Timeout);
    assert_eq!(once.connections(), 1, "maxRetries = 0: no retry");
}

/// `callTimeout` bounds the whole call: with ten retries allowed, a stalling server still ends
/// the call when the bound runs out, the last attempt cut short to fit, and the error says so.
#[tokio::test]
async fn call_timeout_bounds_the_whole_call_whatever_the_retries() {
    use std::time::{Duration, Instant};
    let proxy = coffer_tests::StallProxy::start(&server().endpoint);
    let bounded = |b: coffer_host::TenantSettingsBuilder| {
        b.timeout(Duration::from_millis(1000)).max_retries(10).call_timeout(Duration::from_millis(2500))
    };
    let (store, _) = proxied_tenant(&proxy.endpoint, "call-timeout", bounded);
    let started = Instant::now();
    let error = store.get("k", ..).await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(error.message().contains("callTimeout of 2.5s ran out"), "{error}");
    assert!(elapsed >= Duration::from_millis(2000), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(2500 + 400), "no call lasts past callTimeout (and a margin): {elapsed:?}");
    assert!(proxy.connections() <= 3, "{} attempts", proxy.connections());
}

#[tokio::test]
async fn verify_after_write_catches_a_backend_that_drops_a_put() {
    let data = blob(10_000, 41);

    // On (the default): the dropped PUT is seen by the HEAD and sent again; the data is there.
    let liar = FaultProxy::start(&server().endpoint, vec![Rule::new(Fault::Lie, "PUT", When::First(1))]);
    let (store, direct) = proxied_tenant(&liar.endpoint, "verify-on", |b| b.max_retries(2));
    store.put("mail", &data).await.unwrap();
    assert_eq!(liar.injected(Fault::Lie), 1);
    assert_eq!(direct.get("mail", ..).await.unwrap(), Some(data.clone()), "readable from the server itself");

    // On, with no retry left: the put fails, saying what was seen, instead of claiming success.
    let liar = FaultProxy::start(&server().endpoint, vec![Rule::new(Fault::Lie, "PUT", When::Always)]);
    let (store, direct) = proxied_tenant(&liar.endpoint, "verify-on-no-retry", |b| b.max_retries(0));
    let error = store.put("mail", &data).await.unwrap_err();
    assert!(error.kind() == ErrorKind::Integrity && error.message().contains("mail") && error.message().contains("HEAD"), "{error}");
    assert_eq!(direct.get("mail", ..).await.unwrap(), None);

    // Off: the lie goes unnoticed and the write is lost. This is the failure the check exists for.
    let liar = FaultProxy::start(&server().endpoint, vec![Rule::new(Fault::Lie, "PUT", When::First(1))]);
    let (store, direct) = proxied_tenant(&liar.endpoint, "verify-off", |b| b.verify_after_write(false));
    store.put("mail", &data).await.unwrap();
    assert_eq!(liar.injected(Fault::Lie), 1);
    assert_eq!(liar.requests("HEAD"), 0, "nothing checks");
    assert_eq!(direct.get("mail", ..).await.unwrap(), None, "without verification the acknowledged write is lost");
}

#[tokio::test]
async fn session_tokens_are_sent_and_session_token_wins_over_security_token() {
    // Both of Stalwart's names, through the config file: sessionToken wins over securityToken.
    for (extra, expected) in [
        ("sessionToken = \"session-tok-1\"", "session-tok-1"),
        ("securityToken = \"security-tok-2\"", "security-tok-2"),
        ("sessionToken = \"session-tok-3\"\nsecurityToken = \"security-tok-4\"", "session-tok-3"),
    ] {
        // No lies: the proxy forwards and records. (Garage accepts and ignores session tokens.)
        let recorder = FaultProxy::start(&server().endpoint, vec![]);
        let text = coffer_tests::tenant_toml("t", &coffer_tests::unique_prefix("tokens"), extra)
            .replace(&server().endpoint, &recorder.endpoint);
        let settings = coffer_host::config::Config::parse(&text, "t").unwrap().tenant(None).unwrap();
        let store = coffer_tests::coffer().tenant(settings);
        store.put("k", b"x").await.unwrap();
        let tokens = recorder.header_values("x-amz-security-token");
        assert!(!tokens.is_empty() && tokens.iter().all(|t| t == expected), "{extra}: {tokens:?}");
    }
    let recorder = FaultProxy::start(&server().endpoint, vec![]);
    let (store, _) = proxied_tenant(&recorder.endpoint, "tokens", |b| b);
    store.stat("k").await.unwrap();
    assert!(recorder.header_values("x-amz-security-token").is_empty(), "no token, no header");
}

#[tokio::test]
async fn a_damaged_get_body_is_read_again_and_never_returned() {
    let data = blob(100_000, 51);
    let (_, direct) = proxied_tenant(&server().endpoint, "damaged-get", |b| b);
    direct.put("mail", &data).await.unwrap();
    let via = |proxy: &FaultProxy, with: fn(TenantSettingsBuilder) -> TenantSettingsBuilder| {
        proxied_tenant(&proxy.endpoint, "damaged-get", with).0
    };

    let flips_once = FaultProxy::start(&server().endpoint, vec![Rule::new(Fault::FlipByte, "GET", When::First(1))]);
    let read = via(&flips_once, |b| b.max_retries(2)).get("mail", ..).await.unwrap();
    assert_eq!(flips_once.injected(Fault::FlipByte), 1, "the proxy did damage a body");
    assert!(read.as_deref() == Some(&data[..]), "the damaged body was returned as data");

    let flips_always = FaultProxy::start(&server().endpoint, vec![Rule::new(Fault::FlipByte, "GET", When::Always)]);
    let error = via(&flips_always, |b| b.max_retries(1)).get("mail", ..).await.unwrap_err();
    assert_eq!(flips_always.injected(Fault::FlipByte), 2, "one read and one retry");
    // Written with its CRC-32 (`checksum` defaults to "auto", which sends it): the checksum the server kept
    // catches it; a server that keeps none (Ceph RGW 16) leaves it to the MD5 ETag.
    let kept = coffer_tests::Peer::checksums(&format!("{}mail", direct.settings().key_prefix())).contains("ChecksumCRC32=");
    let caught_by = if kept { "CRC-32" } else { "ETag (MD5)" };
    assert!(error.kind() == ErrorKind::Integrity && error.message().contains(caught_by), "{error}");

    // Written without (`checksum = "none"`): the MD5 ETag catches it.
    let (_, plain) = proxied_tenant(&server().endpoint, "damaged-get", |b| b.checksum(Checksum::None));
    plain.put("plain", &data).await.unwrap();
    let error = via(&flips_always, |b| b.max_retries(0).checksum(Checksum::None)).get("plain", ..).await.unwrap_err();
    assert!(error.kind() == ErrorKind::Integrity && error.message().contains("MD5"), "{error}");
}

#[tokio::test]
async fn checksum_none_sends_no_checksum_header_at_all() {
    let checksum_headers = |proxy: &FaultProxy| -> Vec<String> {
        let names = proxy.header_names();
        names.into_iter().filter(|n| n.starts_with("x-amz-checksum") || n.starts_with("x-amz-sdk-checksum")).collect()
    };
    let calls = async |store: &coffer_host::Tenant| {
        store.put("k", b"hello").await.unwrap();
        assert_eq!(store.get("k", ..).await.unwrap().as_deref(), Some(&b"hello"[..]));
        assert_eq!(store.get("k", 1..3).await.unwrap().as_deref(), Some(&b"el"[..]));
        assert!(store.stat("k").await.unwrap().is_some());
        assert!(store.delete("k").await.unwrap());
    };
    // The default sends the CRC-32 and asks for checksums (so this test can tell)...
    let default = FaultProxy::start(&server().endpoint, vec![]);
    calls(&proxied_tenant(&default.endpoint, "checksum-default", |b| b).0).await;
    assert_eq!(checksum_headers(&default), ["x-amz-checksum-crc32", "x-amz-checksum-mode"]);
    // ...and `checksum = "none"` sends no x-amz-checksum-* header, the mode on reads included.
    let none = FaultProxy::start(&server().endpoint, vec![]);
    calls(&proxied_tenant(&none.endpoint, "checksum-none", |b| b.checksum(Checksum::None)).0).await;
    assert!(checksum_headers(&none).is_empty(), "{:?}", checksum_headers(&none));
}
