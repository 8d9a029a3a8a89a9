//! How requests reach the server: each tenant's TLS trust (through a TLS-terminating proxy whose
//! certificate a private CA signed), virtual-hosted-style addressing, and kept-alive connections
//! reused from one call to the next.

use std::time::{Duration, Instant};

use coffer_host::{ErrorKind, StoreError};
use coffer_tests::{FaultProxy, TlsProxy, blob, coffer, note, proxied_tenant, server, settings, tenant, unique_prefix};

fn tls_refusal(error: &StoreError) -> bool {
    error.kind() == ErrorKind::InvalidConfig && error.message().contains("TLS") && error.message().contains("not trusted")
}

/// A self-signed certificate (its own CA, as `openssl req -x509` makes it) in `caFile` is
/// trusted for the names it holds, as curl and OpenSSL do; another self-signed one is not.
#[tokio::test]
async fn a_self_signed_certificate_in_ca_file_is_trusted() {
    let proxy = TlsProxy::start_self_signed(&server().endpoint);
    let (pinned, _) = proxied_tenant(&proxy.endpoint, "tls-self-signed", |b| b.ca_file(&proxy.ca_file));
    pinned.put("k", b"self-signed").await.unwrap();
    assert_eq!(pinned.get("k", ..).await.unwrap().as_deref(), Some(&b"self-signed"[..]));
    let localhost = proxy.endpoint.replace("127.0.0.1", "localhost");
    let (by_name, _) = proxied_tenant(&localhost, "tls-self-signed", |b| b.ca_file(&proxy.ca_file));
    assert!(by_name.stat("k").await.unwrap().is_some(), "the certificate's DNS name is checked and passes");

    let (default, _) = proxied_tenant(&proxy.endpoint, "tls-self-signed", |b| b);
    assert!(tls_refusal(&default.stat("k").await.unwrap_err()));
    let other = TlsProxy::start_self_signed(&server().endpoint);
    let (mistaken, _) = proxied_tenant(&proxy.endpoint, "tls-self-signed", |b| b.ca_file(&other.ca_file));
    assert!(tls_refusal(&mistaken.stat("k").await.unwrap_err()), "another self-signed certificate is not trusted");
}

#[tokio::test]
async fn tls_trust_is_per_tenant_allow_invalid_certs_and_ca_file() {
    let proxy = TlsProxy::start(&server().endpoint);
    let data = blob(40_000, 7);

    // allowInvalidCerts = false (the default): the private CA is not trusted. The put fails at
    // once, saying why and what to set, and nothing reaches the server.
    let (strict, direct) = proxied_tenant(&proxy.endpoint, "tls", |b| b);
    let started = Instant::now();
    let error = strict.put("strict", &data).await.unwrap_err();
    assert!(tls_refusal(&error), "{error}");
    assert!(error.to_string().contains("caFile"), "the error says what to set: {error}");
    assert!(started.elapsed() < Duration::from_millis(500), "a refused certificate is not retried");
    assert_eq!(proxy.handshakes(), 0);
    assert_eq!(direct.get("strict", ..).await.unwrap(), None);

    // allowInvalidCerts = true: connects, and the data is on the server.
    let (lax, _) = proxied_tenant(&proxy.endpoint, "tls", |b| b.allow_invalid_certs(true));
    lax.put("lax", &data).await.unwrap();
    assert_eq!(lax.get("lax", ..).await.unwrap(), Some(data.clone()));
    assert_eq!(direct.get("lax", ..).await.unwrap(), Some(data.clone()));

    // caFile: the chain is checked against the private CA, and connects.
    let (trusting, _) = proxied_tenant(&proxy.endpoint, "tls", |b| b.ca_file(&proxy.ca_file));
    trusting.put("ca", &data).await.unwrap();
    assert_eq!(trusting.get("ca", ..).await.unwrap(), Some(data.clone()));
    assert_eq!(direct.get("ca", ..).await.unwrap(), Some(data.clone()));

    // A second tenant with the default, on the same host, after the others connected: refused.
    let (second, _) = proxied_tenant(&proxy.endpoint, "tls", |b| b);
    let error = second.get("lax", ..).await.unwrap_err();
    assert!(tls_refusal(&error), "{error}");

    // A CA file of another CA does not make this certificate trusted.
    let other = TlsProxy::start(&server().endpoint);
    let (mistaken, _) = proxied_tenant(&proxy.endpoint, "tls", |b| b.ca_file(&other.ca_file));
    let error = mistaken.get("ca", ..).await.unwrap_err();
    assert!(tls_refusal(&error), "{error}");

    // TLS connections are kept alive too: twenty more calls, no new handshake.
    let handshakes = proxy.handshakes();
    for i in 0..20 {
        assert!(trusting.stat(if i % 2 == 0 { "ca" } else { "lax" }).await.unwrap().is_some());
    }
    assert_eq!(proxy.handshakes(), handshakes, "the kept-alive TLS connection is reused");
}

#[tokio::test]
async fn virtual_hosted_style_names_the_bucket_in_the_host() {
    let Some(vhost_endpoint) = server().virtual_host_endpoint.clone() else {
        assert!(
            std::env::var_os("COFFER_TEST_GARAGE_DIR").is_none(),
            "scripts/garage-up exports COFFER_TEST_S3_VIRTUAL_HOST_ENDPOINT; it is missing"
        );
        note(
            "virtual_hosted_style_names_the_bucket_in_the_host",
            "SKIPPED: set COFFER_TEST_S3_VIRTUAL_HOST_ENDPOINT to where the server answers BUCKET.DOMAIN (e.g. http://s3.localhost:9000)",
        );
        return;
    };
    let domain = vhost_endpoint.trim_start_matches("http://").rsplit_once(':').map_or("", |(host, _)| host).to_string();
    let data = blob(5_000, 11);
    let bucket = &server().bucket;

    // Straight to the server: stored under the bucket the host name gives.
    let (path_style, direct) = proxied_tenant(&vhost_endpoint, "vhost", |b| b);
    let (vhost, _) = proxied_tenant(&vhost_endpoint, "vhost", |b| b.virtual_hosted_style(true));
    vhost.put("mail", &data).await.unwrap();
    assert_eq!(vhost.get("mail", ..).await.unwrap(), Some(data.clone()));
    assert_eq!(direct.get("mail", ..).await.unwrap(), Some(data.clone()), "the same object in path style");
    assert_eq!(path_style.stat("mail").await.unwrap().map(|i| i.size), Some(5_000));

    // Through a recording proxy reached by the same domain: the wire shows the bucket in the host.
    let recorder = FaultProxy::start(&server().endpoint, vec![]);
    let port = recorder.endpoint.rsplit_once(':').unwrap().1.to_string();
    let (vhost, _) = proxied_tenant(&format!("http://{domain}:{port}"), "vhost", |b| b.virtual_hosted_style(true));
    assert_eq!(vhost.get("mail", ..).await.unwrap(), Some(data));
    let hosts = recorder.header_values("host");
    assert!(!hosts.is_empty() && hosts.iter().all(|h| *h == format!("{bucket}.{domain}:{port}")), "{hosts:?}");
}

#[tokio::test]
async fn kept_alive_connections_are_reused_across_calls() {
    // Not hedged: a hedged GET opens a connection for its second request, by design
    // (hedging.rs), and this test counts the connections that calls at steady state open.
    let store = coffer().tenant(settings(&unique_prefix("pooling"), |b| b.hedge_reads(false)));
    let data = blob(4096, 5);
    // Warm up: eight calls at once open up to eight connections.
    let warm: Vec<_> = (0..8).map(|i| {
        let store = store.clone();
        let data = data.clone();
        tokio::spawn(async move { store.put(&format!("k{i}"), &data).await })
    }).collect();
    for call in warm {
        call.await.unwrap().unwrap();
    }

    // Sequential calls at steady state: no new connection at all.
    let before = store.stats().connections_opened;
    let mut requests = 0;
    for i in 0..50 {
        let key = format!("k{}", i % 8);
        store.put(&key, &data).await.unwrap(); // PUT + verifying HEAD
        assert_eq!(store.get(&key, ..).await.unwrap().map(|d| d.len()), Some(4096));
        requests += 3;
    }
    let sequential = store.stats().connections_opened - before;

    // Eight callers at once, as a mail server delivers.
    let before = store.stats().connections_opened;
    let callers: Vec<_> = (0..8).map(|c| {
        let store = store.clone();
        let data = data.clone();
        tokio::spawn(async move {
            for i in 0..25 {
                let key = format!("k{c}-{i}");
                store.put(&key, &data).await.unwrap();
                store.get(&key, ..).await.unwrap().unwrap();
            }
        })
    }).collect();
    for caller in callers {
        caller.await.unwrap();
    }
    let concurrent = store.stats().connections_opened - before;
    let concurrent_requests = 8 * 25 * 3;
    note(
        "figure: connections",
        &format!(
            "new connections per request at steady state: {sequential}/{requests} sequential, \
             {concurrent}/{concurrent_requests} with 8 callers ({} total opened)",
            store.stats().connections_opened
        ),
    );
    assert_eq!(sequential, 0, "sequential calls reuse the kept-alive connection");
    assert!(concurrent <= 8, "8 callers need at most 8 more connections, opened {concurrent}");
}

#[tokio::test]
async fn body_bytes_moved_are_counted_for_progress_reports() {
    let (store, _) = tenant("bytes-moved");
    let data = blob(3 << 20, 9);
    let before = store.stats();
    store.put("big", &data).await.unwrap();
    assert!(store.stats().bytes_sent - before.bytes_sent >= data.len() as u64);
    assert_eq!(store.get("big", ..).await.unwrap().map(|d| d.len()), Some(data.len()));
    assert!(store.stats().bytes_received - before.bytes_received >= data.len() as u64);
}

/// The embedder's interceptor sees each request after the sandbox's checks, signed, and what
/// it answers is the server's answer: nothing it answers is sent. What it lets pass is.
#[tokio::test]
async fn an_interceptor_answers_in_place_of_the_server_and_lets_the_rest_pass() {
    use coffer_host::{Answer, Coffer, HostOptions, Interceptor};
    use std::sync::{Arc, Mutex};
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let interceptor = Interceptor::new(move |request| {
        let signed = request.header("authorization").is_some_and(|a| a.starts_with(b"AWS4-HMAC-SHA256 "));
        log.lock().unwrap().push((request.method().to_string(), request.path_and_query().to_string(), signed));
        // HEADs of "intercepted" are answered here; everything else goes to the server.
        (request.method() == "HEAD" && request.path_and_query().ends_with("/intercepted")).then(|| {
            Arc::new(Answer {
                status: 200,
                headers: vec![("content-length".into(), "7".into()), ("etag".into(), "\"0123456789abcdef0123456789abcdef\"".into())],
                body: Vec::new(),
            })
        })
    });
    let host = Coffer::with_options(HostOptions { interceptor: Some(interceptor), ..Default::default() }).unwrap();
    let prefix = coffer_tests::unique_prefix("intercepted");
    let tenant = host.tenant(coffer_tests::builder("intercept", &server().endpoint, &prefix).build().unwrap());
    let info = tenant.stat("intercepted").await.unwrap().expect("the interceptor's answer");
    assert_eq!((info.size, info.etag.as_str()), (7, "0123456789abcdef0123456789abcdef"));
    assert_eq!(tenant.stat("not-intercepted").await.unwrap(), None, "the server's answer: no such key");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen.iter().all(|(method, _, signed)| method == "HEAD" && *signed), "{seen:?}");
    assert!(seen[0].1.ends_with(&format!("{prefix}intercepted")), "{seen:?}");
}
