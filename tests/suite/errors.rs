//! Failures a mail server must see clearly: wrong credentials, a missing bucket, a dead endpoint.

use std::time::{Duration, Instant};

use coffer_host::StoreError;
use coffer_host::config::Config;
use coffer_tests::{coffer, note, server, settings, tenant_toml, unique_prefix};

#[tokio::test]
async fn a_wrong_secret_is_access_denied_at_once() {
    let mut settings = settings(&unique_prefix("wrong-secret"), "maxRetries = 10");
    settings.secret_access_key = coffer_host::secret::Secret::new("not-the-secret");
    let store = coffer().tenant(settings);
    let started = Instant::now();
    for result in [store.put("k", b"x".to_vec()).await.map(|_| ()), store.get("k", None).await.map(|_| ())] {
        assert!(matches!(result, Err(StoreError::AccessDenied(_))), "{result:?}");
    }
    // Ten retries with backoff would take seconds; refused signatures are never retried.
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn a_missing_bucket_is_named() {
    let s = server();
    let text = tenant_toml("t", "", "").replace(&format!("bucket = \"{}\"", s.bucket), "bucket = \"coffer-no-such-bucket\"");
    let store = coffer().tenant(Config::parse(&text, "t").unwrap().tenant(None).unwrap());
    if server().embedded {
        // s3s-fs answers a missing bucket like a missing key, and creates it on the first PUT.
        note("a_missing_bucket_is_named", "s3s-fs does not report missing buckets; checked on real servers only");
        return;
    }
    for result in [store.get("k", None).await.map(|_| ()), store.put("k", b"x".to_vec()).await] {
        let error = result.unwrap_err();
        assert!(matches!(error, StoreError::InvalidConfig(ref m) if m.contains("coffer-no-such-bucket")), "{error}");
    }
}

#[tokio::test]
async fn a_dead_endpoint_is_unavailable_after_its_retries() {
    // A port nothing listens on: connection refused, retried, then reported.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let text = tenant_toml("t", "", "maxRetries = 1").replace(&server().endpoint, &dead);
    let store = coffer().tenant(Config::parse(&text, "t").unwrap().tenant(None).unwrap());
    let error = store.get("k", None).await.unwrap_err();
    assert!(matches!(error, StoreError::Unavailable(_)), "{error}");
}
