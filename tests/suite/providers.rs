//! Every provider's dialect (docs/providers.md): personas of B2, R2, Google Cloud Storage's XML
//! API and AWS, played by the fault proxy in front of the real server, each served with the
//! default settings; a server whose clock is an hour ahead; reads that check each checksum kind
//! another client may have stored; and retries counted per request.

use coffer_host::{ErrorKind, Tenant};
use coffer_tests::{Family, Fault, FaultProxy, Peer, Persona, Rule, When, blob, proxied_tenant, server};

/// Stalwart's sequence (put, get, ranged get, stat, delete, get after delete) and a multipart
/// put of 17 MiB (over the default 16 MiB threshold, so parts of 8, 8 and 1 MiB), read back.
async fn stalwart_sequence(store: &Tenant, what: &str) {
    let mail = blob(70_000, 61);
    store.put("mail", &mail).await.unwrap_or_else(|e| panic!("{what}: put: {e}"));
    assert_eq!(store.get("mail", ..).await.unwrap().as_deref(), Some(&mail[..]), "{what}: get");
    assert_eq!(store.get("mail", 100..2000).await.unwrap().as_deref(), Some(&mail[100..2000]), "{what}: ranged get");
    assert_eq!(store.stat("mail").await.unwrap().map(|i| i.size), Some(70_000), "{what}: stat");
    assert!(store.delete("mail").await.unwrap(), "{what}: delete");
    assert_eq!(store.get("mail", ..).await.unwrap(), None, "{what}: get after delete");

    let big = blob(17 << 20, 62);
    store.put("big", &big).await.unwrap_or_else(|e| panic!("{what}: multipart put: {e}"));
    assert!(store.get("big", ..).await.unwrap().as_deref() == Some(&big[..]), "{what}: multipart get");
    assert!(store.delete("big").await.unwrap());
}

#[tokio::test]
async fn each_providers_persona_is_served_with_the_default_settings() {
    for persona in [Persona::B2, Persona::R2, Persona::GcsXml, Persona::Aws] {
        let what = format!("{persona:?}");
        let proxy = FaultProxy::start_as(&server().endpoint, persona, vec![]);
        let (store, _) = proxied_tenant(&proxy.endpoint, "persona", |b| b);
        stalwart_sequence(&store, &what).await;
        let dialect = store.server_dialect();
        match persona {
            // Refused once, on the first checksum header, then never sent again.
            Persona::B2 | Persona::R2 => {
                assert_eq!(proxy.refused_by_persona(), 1, "{what}");
                assert!(dialect.refuses_checksum_headers, "{what}");
            }
            // Coffer gives every POST a Content-Length: nothing to refuse.
            Persona::GcsXml => assert_eq!(proxy.refused_by_persona(), 0, "{what}"),
            // The completion's 200-with-error was sent again.
            _ => {
                assert_eq!(proxy.refused_by_persona(), 1, "{what}");
                assert!(!dialect.refuses_checksum_headers, "{what}");
            }
        }
    }
}

#[tokio::test]
async fn checksum_auto_learns_once_per_tenant_and_keeps_integrity_on_md5() {
    // B2 refuses; a tenant with several instances (concurrent calls) learns it once, and the
    // MD5 ETag still catches a damaged read.
    let proxy = FaultProxy::start_as(&server().endpoint, Persona::B2, vec![Rule::new(Fault::FlipByte, "GET", When::First(1))]);
    let (store, direct) = proxied_tenant(&proxy.endpoint, "auto-once", |b| b);
    let data = blob(50_000, 63);
    store.put("first", &data).await.unwrap();
    assert_eq!(proxy.refused_by_persona(), 1);
    let puts = (0..8).map(|i| {
        let store = store.clone();
        let data = data.clone();
        async move { store.put(&format!("k{i}"), &data).await }
    });
    for put in futures_join(puts).await {
        put.unwrap();
    }
    assert_eq!(proxy.refused_by_persona(), 1, "no instance of the tenant sends a checksum header again");
    assert!(proxy.header_values("x-amz-checksum-crc32").len() == 1, "only the first PUT carried one");
    // The flipped byte: caught by the MD5 ETag, read again.
    assert_eq!(store.get("first", ..).await.unwrap().as_deref(), Some(&data[..]));
    assert_eq!(proxy.injected(Fault::FlipByte), 1);
    // Another tenant on the same host, straight to Garage, still sends checksums.
    assert!(!direct.server_dialect().refuses_checksum_headers);
}

/// Runs the futures at once, each on its own task.
async fn futures_join<F: std::future::Future + Send + 'static>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let tasks: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.unwrap());
    }
    out
}

#[tokio::test]
async fn parts_are_equal_sized_but_the_last() {
    // The R2 persona refuses a completion with unequal parts; a part size that does not divide
    // the object still passes, because only the last part is short.
    let proxy = FaultProxy::start_as(&server().endpoint, Persona::R2, vec![]);
    let (store, _) = proxied_tenant(&proxy.endpoint, "equal-parts", |b| {
        b.multipart_threshold(5 << 20).part_size(5 << 20).checksum(coffer_host::Checksum::None)
    });
    let data = blob((13 << 20) + 12_345, 64);
    store.put("big", &data).await.unwrap();
    assert_eq!(proxy.refused_by_persona(), 0, "no part was refused");
    let lengths = proxy.header_values("content-length");
    let part = (5u64 << 20).to_string();
    assert_eq!(lengths.iter().filter(|l| **l == part).count(), 2, "{lengths:?}");
    assert!(store.get("big", ..).await.unwrap().as_deref() == Some(&data[..]));
}

#[tokio::test]
async fn a_server_an_hour_ahead_is_served_after_one_corrected_signature() {
    // The persona plays a skewed clock in front of the real server; a server that checks a
    // request's date against its own (correct) clock refuses the corrected signature.
    let why = "the server checks request dates against its own clock, which the persona in front of it cannot move";
    if coffer_tests::skip_on(&[Family::Embedded, Family::CephRgw], "clock-ahead", why) {
        return;
    }
    let proxy = FaultProxy::start_as(&server().endpoint, Persona::ClockAhead(3600), vec![]);
    let (store, _) = proxied_tenant(&proxy.endpoint, "clock-ahead", |b| b.max_retries(0));
    store.put("k", b"on time").await.unwrap();
    assert_eq!(proxy.refused_by_persona(), 1, "one refusal, then signed with the server's time");
    let offset = store.server_dialect().clock_offset_s;
    assert!((3590..=3610).contains(&offset), "{offset}");
    assert_eq!(store.get("k", ..).await.unwrap().as_deref(), Some(&b"on time"[..]));
    assert!(store.delete("k").await.unwrap());
    assert_eq!(proxy.refused_by_persona(), 1, "the tenant's later calls start corrected");
}

#[tokio::test]
async fn reads_check_each_checksum_kind_another_client_stored() {
    let why = "Ceph RGW 16 keeps none of the checksums boto3 sends: with the ETag hidden, no check is left to show";
    if coffer_tests::skip_on(&[Family::CephRgw], "checksum-kinds", why) {
        return;
    }
    // boto3 stores the object with each algorithm; the proxy hides the ETag, so that only the
    // checksum can tell, and flips a byte of the first read: Coffer reads again.
    for algorithm in ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"] {
        let proxy = FaultProxy::start_as(
            &server().endpoint,
            Persona::NoEtag,
            vec![Rule::new(Fault::FlipByte, "GET", When::First(1))],
        );
        let (store, _) = proxied_tenant(&proxy.endpoint, "checksum-kinds", |b| b.max_retries(1));
        let prefix = store.settings().key_prefix().to_string();
        let data = blob(30_000, 65);
        Peer::put_with_checksum(&format!("{prefix}obj"), &data, algorithm);
        assert_eq!(store.get("obj", ..).await.unwrap().as_deref(), Some(&data[..]), "{algorithm}");
        assert_eq!(proxy.injected(Fault::FlipByte), 1, "{algorithm}: the first read was damaged");
        assert_eq!(proxy.requests("GET"), 2, "{algorithm}: caught by the checksum, read again");
    }
}

#[tokio::test]
async fn a_multipart_upload_keeps_a_full_object_crc32_that_reads_check() {
    let why = "the server keeps no checksums (s3s-fs stores none for a multipart upload; Ceph RGW 16 ignores them): reads check multipart objects by their ETag instead (the multipart module)";
    if coffer_tests::skip_on(&[Family::Embedded, Family::CephRgw], "full-object", why) {
        return;
    }
    let (store, _) = proxied_tenant(&server().endpoint, "full-object", |b| b);
    let prefix = store.settings().key_prefix().to_string();
    let data = blob(17 << 20, 66);
    store.put("big", &data).await.unwrap();
    let checksums = Peer::checksums(&format!("{prefix}big"));
    assert!(checksums.contains("ChecksumType=FULL_OBJECT") && checksums.contains("ChecksumCRC32="), "{checksums}");
    // Without the ETag (and so without the part-size check), a damaged read is caught by it.
    let proxy = FaultProxy::start_as(&server().endpoint, Persona::NoEtag, vec![Rule::new(Fault::FlipByte, "GET", When::First(1))]);
    let (via_proxy, _) = proxied_tenant(&proxy.endpoint, "full-object", |b| b.key_prefix(&prefix));
    assert!(via_proxy.get("big", ..).await.unwrap().as_deref() == Some(&data[..]));
    assert_eq!(proxy.requests("GET"), 2);
}

#[tokio::test]
async fn max_retries_counts_per_request() {
    // maxRetries = 1: the PUT meets one 503 and so does its verifying HEAD. One budget for the
    // call would fail the put; Stalwart's count, per request, lets it through.
    let proxy = FaultProxy::start(
        &server().endpoint,
        vec![Rule::new(Fault::SlowDown, "PUT", When::First(1)), Rule::new(Fault::SlowDown, "HEAD", When::First(1))],
    );
    let (store, _) = proxied_tenant(&proxy.endpoint, "per-request", |b| b.max_retries(1));
    store.put("k", b"twice busy").await.unwrap();
    assert_eq!(proxy.injected(Fault::SlowDown), 2);
    // Two 503s on one request are one too many.
    let proxy = FaultProxy::start(&server().endpoint, vec![Rule::new(Fault::SlowDown, "PUT", When::First(2))]);
    let (store, _) = proxied_tenant(&proxy.endpoint, "per-request", |b| b.max_retries(1));
    assert_eq!(store.put("k", b"x").await.unwrap_err().kind(), ErrorKind::Unavailable);
}
