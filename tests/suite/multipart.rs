//! Large blobs: puts above `multipartThreshold` go in parts, several at once, and read back whole
//! (also by boto3); a part that keeps failing aborts the upload and leaves no parts behind; a
//! part that fails once is sent again; a completion the backend lies about is caught by the
//! verifying HEAD; a damaged read of a multipart object is never returned. Through the fault
//! proxy in front of the real server.

use std::time::Duration;

use coffer_host::{Checksum, ErrorKind, EtagFormula, TenantSettingsBuilder};
use coffer_tests::{Fault, FaultProxy, Peer, Persona, Rule, When, blob, note, proxied_tenant, server};

/// Parts of 5 MiB (S3's smallest), four at a time, above 5 MiB.
fn small_parts(b: TenantSettingsBuilder) -> TenantSettingsBuilder {
    b.multipart_threshold(5 * MIB as u64).part_size(5 * MIB as u64).part_concurrency(4).timeout(Duration::from_secs(5))
}
const MIB: usize = 1 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_puts_go_in_parts_at_once_and_read_back_whole() {
    let proxy = FaultProxy::start(&server().endpoint, vec![]);
    let (store, direct) = proxied_tenant(&proxy.endpoint, "multipart-whole", small_parts);
    let data = blob(17 * MIB + 123, 61);
    store.put("big", &data).await.unwrap();

    let (posts, puts) = (proxy.requests("POST"), proxy.requests("PUT"));
    assert_eq!((posts, puts), (2, 4), "create + complete, and 4 parts (5+5+5+2 MiB)");
    assert!(proxy.most_at_once() >= 2, "parts go out together (at most {} at once)", proxy.most_at_once());

    let info = direct.stat("big").await.unwrap().expect("the object is there");
    assert_eq!(info.size, data.len() as u64);
    assert!(info.etag.ends_with("-4"), "a 4-part ETag, got {}", info.etag);
    assert!(direct.get("big", ..).await.unwrap().unwrap() == data, "Coffer reads it back whole");
    let across = 5 * MIB as u64 - 10..10 * MIB as u64 + 10;
    let part = direct.get("big", across.clone()).await.unwrap().unwrap();
    assert!(part == data[across.start as usize..across.end as usize], "a range across part boundaries");
    let prefix = &store.settings().key_prefix();
    assert!(Peer::get(&format!("{prefix}big")).unwrap() == data, "boto3 reads it back whole");

    // At the threshold exactly: one PUT.
    store.put("at-threshold", &blob(5 * MIB, 62)).await.unwrap();
    assert_eq!(proxy.requests("POST"), posts, "5 MiB is not above the threshold");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_part_that_keeps_failing_aborts_the_upload_and_leaves_no_parts() {
    let rules = vec![Rule::new(Fault::InternalError, "PUT", When::Always).on_query("partNumber=3&")];
    let proxy = FaultProxy::start(&server().endpoint, rules);
    let (store, direct) = proxied_tenant(&proxy.endpoint, "multipart-abort", |b| small_parts(b).max_retries(2));
    let error = store.put("doomed", &blob(16 * MIB, 63)).await.unwrap_err();
    assert!(error.kind() == ErrorKind::Unavailable && error.s3_code() == Some("InternalError"), "{error:?}");
    assert_eq!(proxy.injected(Fault::InternalError), 3, "part 3 was tried 1 + maxRetries times");
    assert_eq!(proxy.requests("DELETE"), 1, "the upload was aborted");
    assert_eq!(direct.stat("doomed").await.unwrap(), None, "no object");
    no_upload_left(&store, "multipart-abort");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parts_that_fail_once_are_sent_again() {
    let rules = vec![
        Rule::new(Fault::SlowDown, "PUT", When::First(2)).on_query("partNumber="),
        Rule::new(Fault::ResetBeforeResponse, "PUT", When::First(1)).on_query("partNumber="),
    ];
    let proxy = FaultProxy::start(&server().endpoint, rules);
    let (store, direct) = proxied_tenant(&proxy.endpoint, "multipart-retry", small_parts);
    let data = blob(12 * MIB, 64);
    store.put("bumpy", &data).await.unwrap();
    assert_eq!(proxy.injected_total(), 3);
    assert_eq!(proxy.requests("PUT"), 3 + 3, "three parts, three of them sent again");
    assert!(direct.get("bumpy", ..).await.unwrap().unwrap() == data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completion_the_backend_lies_about_is_caught_and_the_upload_made_again() {
    // 200 to the first CompleteMultipartUpload, nothing forwarded: the object never appears.
    let rules = vec![Rule::new(Fault::Lie, "POST", When::First(1)).on_query("uploadId=")];
    let proxy = FaultProxy::start(&server().endpoint, rules);
    let (store, direct) = proxied_tenant(&proxy.endpoint, "multipart-lie", small_parts);
    let data = blob(11 * MIB, 65);
    store.put("lied", &data).await.unwrap();
    assert_eq!(proxy.injected(Fault::Lie), 1);
    assert_eq!(proxy.requests("POST"), 4, "two uploads, each created and completed");
    assert!(direct.get("lied", ..).await.unwrap().unwrap() == data);
    no_upload_left(&store, "multipart-lie");

    // Without the verifying HEAD the lie goes through: the put says done and nothing is there.
    let rules = vec![Rule::new(Fault::Lie, "POST", When::Always).on_query("uploadId=")];
    let proxy = FaultProxy::start(&server().endpoint, rules);
    let (store, direct) = proxied_tenant(&proxy.endpoint, "multipart-lie-unverified", |b| small_parts(b).verify_after_write(false));
    store.put("lost", &blob(11 * MIB, 66)).await.unwrap();
    assert_eq!(direct.stat("lost").await.unwrap(), None, "unverified, the lie loses the blob");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_reads_of_a_multipart_object_are_never_returned() {
    // Written with checksums (the default), the object keeps a full-object CRC-32; written
    // without (`checksum = "none"`), its ETag of part MD5s is checked with the part size it
    // recorded.
    let none = |b: TenantSettingsBuilder| small_parts(b).checksum(Checksum::None);
    type With = fn(TenantSettingsBuilder) -> TenantSettingsBuilder;
    let cases: [(&str, With, &str); 2] =
        [("multipart-read", small_parts, "CRC-32 checksum"), ("multipart-read-md5", none, "multipart ETag")];
    for (test, with, caught_by) in cases {
        let (writer, _) = proxied_tenant(&server().endpoint, test, with);
        let data = blob(11 * MIB, 67);
        writer.put("read", &data).await.unwrap();
        let prefix = writer.settings().key_prefix().to_string();
        let settings = |proxy: &FaultProxy| with(coffer_tests::builder("t", &proxy.endpoint, &prefix)).build().unwrap();

        let once = FaultProxy::start(&server().endpoint, vec![Rule::new(Fault::FlipByte, "GET", When::First(1))]);
        let reader = coffer_tests::coffer().tenant(settings(&once));
        assert!(reader.get("read", ..).await.unwrap().unwrap() == data, "{test}: read again after the damaged body");
        assert_eq!(once.injected(Fault::FlipByte), 1);

        let always = FaultProxy::start(&server().endpoint, vec![Rule::new(Fault::FlipByte, "GET", When::Always)]);
        let reader = coffer_tests::coffer().tenant(settings(&always));
        let error = reader.get("read", ..).await.unwrap_err();
        // A server that keeps no checksums (s3s-fs, Ceph RGW) leaves the multipart ETag to catch it.
        let caught_by = match Peer::checksums(&format!("{prefix}read")).contains("ChecksumCRC32=") {
            true => caught_by,
            false => {
                note(test, "the server kept no full-object CRC-32: the damage is caught by the multipart ETag");
                "multipart ETag"
            }
        };
        assert!(error.kind() == ErrorKind::Integrity && error.message().contains(caught_by), "{test}: {error:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_with_another_multipart_etag_formula_has_every_valid_blob_served() {
    // Its multipart ETags are not AWS's: a put is verified by its size (each part was checked on
    // the way in by its Content-MD5), a read by the full-object CRC-32 where the server kept
    // one, else by its length. Neither is ever refused as damaged.
    let none = |b: TenantSettingsBuilder| small_parts(b).checksum(Checksum::None);
    let proxy = FaultProxy::start_as(&server().endpoint, Persona::OtherEtagFormula, vec![]);
    let (writer, _) = proxied_tenant(&proxy.endpoint, "other-formula", none);
    let data = blob(12 * MIB, 68);
    writer.put("blob", &data).await.unwrap();
    assert_eq!(writer.server_dialect().multipart_etag, EtagFormula::Other);
    assert!(writer.get("blob", ..).await.unwrap().unwrap() == data, "the writer reads it back");

    // A tenant that has not learned it (another process, say): its first read asks, and is served.
    let prefix = writer.settings().key_prefix().to_string();
    let reader = coffer_tests::coffer().tenant(none(coffer_tests::builder("t", &proxy.endpoint, &prefix)).build().unwrap());
    assert!(reader.get("blob", ..).await.unwrap().unwrap() == data, "a new tenant reads it");
    assert_eq!(reader.server_dialect().multipart_etag, EtagFormula::Other);
    assert!(Peer::list(&format!("{prefix}.coffer/")).is_empty(), "the probe leaves nothing behind");

    // The same server without the persona: AWS's formula, learned from the verifying HEAD.
    let (aws, _) = proxied_tenant(&server().endpoint, "aws-formula", none);
    aws.put("blob", &data).await.unwrap();
    assert_eq!(aws.server_dialect().multipart_etag, EtagFormula::Aws);

    // Where the server keeps a full-object CRC-32, damage is still caught under another formula.
    let (with_crc, _) = proxied_tenant(&proxy.endpoint, "other-formula-crc", small_parts);
    with_crc.put("blob", &data).await.unwrap();
    let prefix = with_crc.settings().key_prefix().to_string();
    if !Peer::checksums(&format!("{prefix}blob")).contains("ChecksumCRC32=") {
        note("other-formula", "this server keeps no full-object CRC-32: under another ETag formula a read is checked by its length alone");
        return;
    }
    let rules = vec![Rule::new(Fault::FlipByte, "GET", When::Always)];
    let flipping = FaultProxy::start_as(&server().endpoint, Persona::OtherEtagFormula, rules);
    let reader = coffer_tests::coffer().tenant(small_parts(coffer_tests::builder("t", &flipping.endpoint, &prefix)).build().unwrap());
    let error = reader.get("blob", ..).await.unwrap_err();
    assert!(error.kind() == ErrorKind::Integrity && error.message().contains("CRC-32"), "{error:?}");
}

/// No multipart upload of the tenant's is left in progress (its parts would be kept, and billed).
fn no_upload_left(store: &coffer_host::Tenant, test: &str) {
    if server().embedded {
        note(test, "the embedded s3s-fs server cannot list uploads in progress (ListMultipartUploads); checked on Garage");
        return;
    }
    let prefix = &store.settings().key_prefix();
    assert_eq!(Peer::uploads_in_progress(prefix), 0, "an upload was left in progress under {prefix}");
}
