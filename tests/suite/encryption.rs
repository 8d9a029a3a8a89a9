//! Client-side encryption (docs/encryption.md) against the server under test: the bucket holds
//! only ciphertext, Coffer reads its plaintext back whole and ranged, every tampering fails
//! with `integrity`, keys rotate, Python's `cryptography` decrypts from the documented format,
//! and a ranged read fetches only the segments it needs.

use coffer_host::encryption::{HEADER_LEN, SEGMENT, sealed_len};
use coffer_host::{ErrorKind, Tenant};
use coffer_tests::{Fault, FaultProxy, Peer, Rule, When, builder, coffer, server, unique_prefix};

const KEY: &str = "3b1f0c7e9a5d2468ace013579bdf2468ace013579bdf02468ace13579bdf0246";
const OLD_KEY: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

/// A tenant on `endpoint` sealing with `KEY` as "2026-11", parts of 5 MiB past 5 MiB.
fn encrypted(endpoint: &str, prefix: &str) -> Tenant {
    coffer().tenant(
        builder("sealed", endpoint, prefix)
            .encryption("2026-11", KEY)
            .multipart_threshold(5 << 20)
            .part_size(5 << 20)
            .build()
            .unwrap(),
    )
}

/// Mail-like plaintext that is easy to find in the stored bytes.
fn mail(len: usize, seed: usize) -> Vec<u8> {
    let line = format!("Subject: the quarterly numbers {seed}\r\n");
    line.as_bytes().iter().copied().cycle().take(len).collect()
}

async fn stream(tenant: &Tenant, key: &str, range: (std::ops::Bound<u64>, std::ops::Bound<u64>)) -> Vec<u8> {
    let mut out = Vec::new();
    tenant.get_stream(key, range, &mut out).await.unwrap().unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bucket_holds_only_ciphertext_and_coffer_reads_it_back_whole_and_ranged() {
    use std::ops::Bound::{Excluded, Included, Unbounded};
    let prefix = unique_prefix("encrypted");
    let tenant = encrypted(&server().endpoint, &prefix);
    let s = SEGMENT;
    // Empty, small, around one segment, several, and two multipart ones (from memory, streamed).
    let sizes = [0, 1, 4096, s - 1, s, s + 1, 3 * s + 17, (6 << 20) + 5, (7 << 20) + 3];
    for (i, &len) in sizes.iter().enumerate() {
        let key = format!("m/{i}");
        let plain = mail(len, i);
        match i % 2 {
            0 => tenant.put(&key, &plain).await.unwrap(),
            _ => tenant.put_stream(&key, &plain[..], len as u64).await.unwrap(),
        }
        assert_eq!(tenant.get(&key, ..).await.unwrap().unwrap(), plain, "{len}");
        assert_eq!(stream(&tenant, &key, (Unbounded, Unbounded)).await, plain, "{len}");
        assert_eq!(tenant.stat(&key).await.unwrap().unwrap().size, len as u64, "stat gives the blob's size");

        // What the provider holds: a Coffer header, the sealed length, no plaintext.
        let raw = Peer::get(&format!("{prefix}{key}")).unwrap();
        assert_eq!(raw.len() as u64, sealed_len(len as u64));
        assert_eq!(&raw[..7], b"COFFERE");
        assert!(!raw.windows(9).any(|w| w == b"quarterly"), "plaintext in the stored object of {len} bytes");

        // Ranges across segment boundaries, at the ends, past the end.
        let len64 = len as u64;
        let ranges = [
            (0, Some(1)),
            (s as u64 - 3, Some(s as u64 + 3)),
            (s as u64, Some(2 * s as u64 + 1)),
            (len64 / 2, None),
            (len64.saturating_sub(2), Some(len64 + 100)),
            (len64, None),
        ];
        for (start, end) in ranges {
            let want_end = end.unwrap_or(len64).min(len64);
            let want = if start >= want_end { Vec::new() } else { plain[start as usize..want_end as usize].to_vec() };
            let bounds = (Included(start), end.map_or(Unbounded, Excluded));
            assert_eq!(tenant.get(&key, bounds).await.unwrap().unwrap(), want, "{len}: {start}..{end:?}");
            assert_eq!(stream(&tenant, &key, bounds).await, want, "{len} streamed: {start}..{end:?}");
        }
        // The independent decryption, from docs/encryption.md, of a few of them.
        if [0, 3 * s + 17, (6 << 20) + 5].contains(&len) {
            let decrypted = Peer::decrypt(&format!("{prefix}{key}"), &raw, &[("2026-11", KEY)]).unwrap();
            assert!(decrypted == plain, "Python's cryptography decrypts the {len}-byte object");
        }
    }
    let mut listing = tenant.list_all("m/");
    let mut listed = Vec::new();
    while let Some(page) = listing.next_page().await {
        listed.extend(page.unwrap().into_iter().map(|o| o.size));
    }
    listed.sort();
    let mut expected: Vec<u64> = sizes.iter().map(|&l| l as u64).collect();
    expected.sort();
    assert_eq!(listed, expected, "a listing gives the blobs' sizes");
    assert_eq!(tenant.get("m/absent", ..).await.unwrap(), None);
    assert_eq!(tenant.get("m/absent", 10..20).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tampering_fails_with_integrity_and_never_returns_wrong_bytes() {
    let prefix = unique_prefix("tampered");
    let tenant = encrypted(&server().endpoint, &prefix);
    let plain = mail(3 * SEGMENT + 100, 1);
    tenant.put("t", &plain).await.unwrap();
    let full = format!("{prefix}t");
    let raw = Peer::get(&full).unwrap();
    let seg = SEGMENT + 16;
    let segment = |i: usize| raw[HEADER_LEN + i * seg..(HEADER_LEN + (i + 1) * seg).min(raw.len())].to_vec();
    let with_segments = |order: &[usize]| {
        let mut out = raw[..HEADER_LEN].to_vec();
        order.iter().for_each(|&i| out.extend(segment(i)));
        out
    };
    let mut flipped = raw.clone();
    flipped[HEADER_LEN + SEGMENT + 40] ^= 0x20;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("a flipped byte", flipped),
        ("truncated at a segment boundary", raw[..HEADER_LEN + 3 * seg].to_vec()),
        ("truncated inside a segment", raw[..raw.len() - 50].to_vec()),
        ("a segment dropped", with_segments(&[0, 2, 3])),
        ("two segments swapped", with_segments(&[0, 2, 1, 3])),
    ];
    let refused = |what: &str, result: Result<Option<Vec<u8>>, coffer_host::StoreError>| match result {
        Err(e) => assert_eq!(e.kind(), ErrorKind::Integrity, "{what}: {e}"),
        Ok(got) => panic!("{what}: read {:?} bytes", got.map(|g| g.len())),
    };
    for (what, stored) in &cases {
        Peer::put(&full, stored);
        refused(what, tenant.get("t", ..).await);
        // A range over the damage (segment 1 or 2, or the end) fails too.
        refused(what, tenant.get("t", SEGMENT as u64..(3 * SEGMENT as u64 + 100)).await);
        let mut out = Vec::new();
        let streamed = tenant.get_stream("t", .., &mut out).await;
        assert_eq!(streamed.map_err(|e| e.kind()), Err(ErrorKind::Integrity), "{what} streamed");
        assert!(plain.starts_with(&out), "{what}: only authenticated bytes were handed on");
    }
    // The object copied, whole and intact, to another name.
    Peer::put(&format!("{prefix}elsewhere"), &raw);
    refused("copied to another name", tenant.get("elsewhere", ..).await);
    // A plaintext object where a sealed one is expected.
    Peer::put(&format!("{prefix}plain"), b"not sealed at all");
    refused("a plaintext object", tenant.get("plain", ..).await);
    // The intact object put back reads again.
    Peer::put(&full, &raw);
    assert_eq!(tenant.get("t", ..).await.unwrap().unwrap(), plain);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_rotate_both_ways_and_a_missing_key_is_named() {
    let prefix = unique_prefix("rotation");
    let with = |b: coffer_host::TenantSettingsBuilder| coffer().tenant(b.build().unwrap());
    let before = with(builder("r", &server().endpoint, &prefix).encryption("2026-05", OLD_KEY));
    let after = with(builder("r", &server().endpoint, &prefix).encryption("2026-11", KEY).old_encryption_key("2026-05", OLD_KEY));
    before.put("old", b"sealed with the May key").await.unwrap();
    after.put("new", b"sealed with the November key").await.unwrap();
    // New writes use keyId; objects under an old key read while it is in oldKeys.
    assert_eq!(&Peer::get(&format!("{prefix}new")).unwrap()[56..63], b"2026-11");
    assert_eq!(after.get("old", ..).await.unwrap().unwrap(), b"sealed with the May key");
    assert_eq!(after.get("old", 7..10).await.unwrap().unwrap(), b"wit");
    // Without the key: a clear error naming the key id, never garbage.
    let error = before.get("new", ..).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidConfig, "{error}");
    assert!(error.to_string().contains("\"2026-11\""), "{error}");
    let dropped = with(builder("r", &server().endpoint, &prefix).encryption("2026-11", KEY));
    let error = dropped.get("old", 0..5).await.unwrap_err();
    assert!(error.to_string().contains("\"2026-05\"") && error.to_string().contains("oldKeys"), "{error}");
    // Both keys decrypt independently too.
    let raw = Peer::get(&format!("{prefix}old")).unwrap();
    let both = [("2026-11", KEY), ("2026-05", OLD_KEY)];
    assert_eq!(Peer::decrypt(&format!("{prefix}old"), &raw, &both).unwrap(), b"sealed with the May key");
    // A wrong key under the right id is refused by the decryption, not read as garbage.
    let wrong = with(builder("r", &server().endpoint, &prefix).encryption("2026-11", OLD_KEY));
    assert_eq!(wrong.get("new", ..).await.unwrap_err().kind(), ErrorKind::Integrity);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ranged_read_fetches_the_header_and_the_covering_segments_only() {
    let proxy = FaultProxy::start(&server().endpoint, vec![]);
    let prefix = unique_prefix("sealed-range");
    let tenant = encrypted(&proxy.endpoint, &prefix);
    let len = 50usize << 20;
    let plain = coffer_tests::blob(len, 50);
    tenant.put_stream("big", &plain[..], len as u64).await.unwrap();
    // 4 KiB from the middle.
    let middle = (len / 2) as u64;
    let before = proxy.answer_body_bytes();
    let got = tenant.get("big", middle..middle + 4096).await.unwrap().unwrap();
    let fetched = proxy.answer_body_bytes() - before;
    assert_eq!(got, &plain[middle as usize..middle as usize + 4096]);
    assert!(
        fetched <= 4096 + SEGMENT as u64,
        "fetched {fetched} bytes for 4 KiB: more than the range and one segment"
    );
    assert_eq!(fetched, HEADER_LEN as u64 + SEGMENT as u64 + 16, "the header and one sealed segment");
    // Straddling a segment boundary: the two segments that hold it.
    let before = proxy.answer_body_bytes();
    let at = middle - 2048;
    assert_eq!(tenant.get("big", at..at + 4096).await.unwrap().unwrap(), &plain[at as usize..at as usize + 4096]);
    assert_eq!(proxy.answer_body_bytes() - before, HEADER_LEN as u64 + 2 * (SEGMENT as u64 + 16));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encrypted_tenant_rides_out_the_fault_modes() {
    // The first try of each key's PUT (each part's too) gets a 500, and the first GET of each
    // key is reset: retries resend the same ciphertext, verify-after-write checks it, reads
    // open it. (A stream's GET cut after bytes were handed on goes on from there, as for any
    // tenant: streams.rs.)
    let prefix = unique_prefix("sealed-faults");
    let proxy = FaultProxy::start(
        &server().endpoint,
        vec![
            Rule::new(Fault::InternalError, "PUT", When::FirstTriesOfKey(1)),
            Rule::new(Fault::ResetBeforeResponse, "GET", When::FirstTriesOfKey(1)),
        ],
    );
    let tenant = encrypted(&proxy.endpoint, &prefix);
    let plain = mail(300_000, 7);
    tenant.put("f", &plain).await.unwrap();
    let big = mail((6 << 20) + 1, 8);
    tenant.put_stream("g", &big[..], big.len() as u64).await.unwrap();
    assert_eq!(stream(&tenant, "g", (std::ops::Bound::Unbounded, std::ops::Bound::Unbounded)).await, big);
    assert!(proxy.injected(Fault::InternalError) >= 2 && proxy.injected(Fault::ResetBeforeResponse) >= 1);
    // A read from memory reset midway is tried again whole.
    let midway = FaultProxy::start(&server().endpoint, vec![Rule::new(Fault::ResetMidBody, "GET", When::First(1))]);
    let reader = encrypted(&midway.endpoint, &prefix);
    assert_eq!(reader.get("f", ..).await.unwrap().unwrap(), plain);
    assert_eq!(midway.injected(Fault::ResetMidBody), 1);
}

/// `coffer ARGS` in `dir`: its exit code and its output.
fn coffer_cli(dir: &std::path::Path, args: &[&str]) -> (Option<i32>, String) {
    let out = std::process::Command::new(coffer_tests::coffer_bin()).args(args).current_dir(dir).output().unwrap();
    (out.status.code(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn rewrap_seals_old_objects_with_the_new_key_and_cp_fills_an_encrypted_tenant() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let prefix = unique_prefix("rewrap");
    let plain_prefix = unique_prefix("rewrap-plain");
    let old = coffer().tenant(builder("old", &server().endpoint, &prefix).encryption("2026-05", OLD_KEY).build().unwrap());
    let blobs: Vec<(String, Vec<u8>)> = (0..30).map(|i| (format!("mail/{i:02}"), mail(i * 9000, i))).collect();
    runtime.block_on(async {
        for (key, data) in &blobs {
            old.put(key, data).await.unwrap();
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "{}{}",
        coffer_tests::tenant_toml(
            "t",
            &prefix,
            &format!("[tenants.t.encryption]\nkey = \"{KEY}\"\nkeyId = \"2026-11\"\noldKeys = {{ \"2026-05\" = \"{OLD_KEY}\" }}")
        ),
        coffer_tests::tenant_toml("plain", &plain_prefix, "")
    );
    let file = dir.path().join("coffer.toml");
    std::fs::write(&file, config).unwrap();
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();

    let (code, output) = coffer_cli(dir.path(), &["--tenant", "t", "rewrap"]);
    assert_eq!(code, Some(0), "{output}");
    assert!(output.contains("rewrapped 30 objects") && output.contains("failed 0"), "{output}");
    let (code, output) = coffer_cli(dir.path(), &["--tenant", "t", "rewrap"]);
    assert_eq!(code, Some(0), "{output}");
    assert!(output.contains("rewrapped 0 objects") && output.contains("skipped 30"), "{output}");
    // The old key can go: every object opens with the new one alone, and is sealed with it.
    let new_only = coffer().tenant(builder("new", &server().endpoint, &prefix).encryption("2026-11", KEY).build().unwrap());
    runtime.block_on(async {
        for (key, data) in &blobs {
            assert_eq!(&new_only.get(key, ..).await.unwrap().unwrap(), data, "{key}");
            assert_eq!(new_only.sealed_with(key).await.unwrap().as_deref(), Some("2026-11"));
        }
    });

    // Plain blobs copied into the encrypted tenant; a second run with --size-only copies none.
    let plain = coffer().tenant(builder("plain", &server().endpoint, &plain_prefix).build().unwrap());
    runtime.block_on(async {
        for i in 0..5 {
            plain.put(&format!("inbox/{i}"), &mail(70_000 + i, i)).await.unwrap();
        }
    });
    let (code, output) = coffer_cli(dir.path(), &["cp", "--from", "plain", "--to", "t", "inbox/"]);
    assert_eq!(code, Some(0), "{output}");
    assert!(output.contains("copied 5 objects") && output.contains("--size-only"), "{output}");
    let (code, output) = coffer_cli(dir.path(), &["cp", "--from", "plain", "--to", "t", "--size-only", "inbox/"]);
    assert_eq!(code, Some(0), "{output}");
    assert!(output.contains("copied 0 objects") && output.contains("skipped 5"), "{output}");
    runtime.block_on(async {
        for i in 0..5 {
            let key = format!("inbox/{i}");
            assert_eq!(new_only.get(&key, ..).await.unwrap().unwrap(), mail(70_000 + i, i));
            let raw = Peer::get(&format!("{prefix}{key}")).unwrap();
            assert!(!raw.windows(9).any(|w| w == b"quarterly"));
        }
    });
}
