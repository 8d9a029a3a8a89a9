//! Failures a mail server must see clearly: wrong credentials, a missing bucket, a dead
//! endpoint. Each is matched on its kind, HTTP status and S3 code, not on its message.

use std::time::{Duration, Instant};

use coffer_host::ErrorKind;
use coffer_tests::{builder, coffer, note, server, settings, unique_prefix};

#[tokio::test]
async fn a_wrong_secret_is_access_denied_at_once() {
    let settings = settings(&unique_prefix("wrong-secret"), |b| b.max_retries(10).secret_key("not-the-secret"));
    let store = coffer().tenant(settings);
    let started = Instant::now();
    for result in [store.put("k", b"x").await.map(|_| ()), store.get("k", ..).await.map(|_| ())] {
        let error = result.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::AccessDenied, "{error}");
        assert_eq!(error.status(), Some(403), "{error}");
        if !server().embedded {
            // AWS and MinIO say SignatureDoesNotMatch; Garage says AccessDenied.
            assert!(matches!(error.s3_code(), Some("SignatureDoesNotMatch" | "AccessDenied")), "{error}");
        }
    }
    // Ten retries with backoff would take seconds; refused signatures are never retried.
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn a_missing_bucket_is_named() {
    let settings = builder("t", &server().endpoint, "").bucket("coffer-no-such-bucket").build().unwrap();
    let store = coffer().tenant(settings);
    if server().embedded {
        // s3s-fs answers a missing bucket like a missing key, and creates it on the first PUT.
        note("a_missing_bucket_is_named", "s3s-fs does not report missing buckets; checked on real servers only");
        return;
    }
    for result in [store.get("k", ..).await.map(|_| ()), store.put("k", b"x").await] {
        let error = result.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidConfig, "{error}");
        assert!(error.message().contains("coffer-no-such-bucket"), "{error}");
        assert_eq!((error.status(), error.s3_code()), (Some(404), Some("NoSuchBucket")), "{error}");
    }
}

#[tokio::test]
async fn a_dead_endpoint_is_unavailable_after_its_retries() {
    // A port nothing listens on: connection refused, retried, then reported.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let store = coffer().tenant(builder("t", &dead, "").max_retries(1).build().unwrap());
    let error = store.get("k", ..).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unavailable, "{error}");
    // No answer came: there is no status and no S3 code to report.
    assert_eq!((error.status(), error.s3_code()), (None, None), "{error}");
}
