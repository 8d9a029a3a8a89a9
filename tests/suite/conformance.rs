//! Stalwart's own blob-store sequence, and the edges of get/put/delete/stat.

use coffer_tests::{blob, tenant};

/// put; get whole; get a range; delete returns true; get returns none.
async fn stalwart_sequence(test: &str, size: usize, range: std::ops::Range<u64>) {
    let (store, _) = tenant(test);
    let data = blob(size, size as u64);
    let key = "blob";
    store.put(key, &data).await.unwrap();
    let whole = store.get(key, ..).await.unwrap().expect("the blob is there");
    assert!(whole == data, "get returned other bytes ({} vs {} bytes)", whole.len(), data.len());
    let part = store.get(key, range.clone()).await.unwrap().expect("the blob is there");
    assert!(part == data[range.start as usize..range.end as usize], "the range {range:?} differs");
    assert!(store.delete(key).await.unwrap(), "delete of an existing blob returns true");
    assert_eq!(store.get(key, ..).await.unwrap(), None, "the blob is gone after delete");
}

#[tokio::test]
async fn stalwart_sequence_small_blob() {
    stalwart_sequence("stalwart-small", 1000, 11..57).await;
}

#[tokio::test]
async fn stalwart_sequence_50_mib_blob() {
    stalwart_sequence("stalwart-50mib", 50 * 1024 * 1024, 3_000_111..4_000_999).await;
}

#[tokio::test]
async fn empty_blob_round_trips() {
    let (store, _) = tenant("empty");
    store.put("empty", b"").await.unwrap();
    assert_eq!(store.get("empty", ..).await.unwrap(), Some(Vec::new()));
    assert_eq!(store.stat("empty").await.unwrap().unwrap().size, 0);
    assert_eq!(store.get("empty", 0..10).await.unwrap(), Some(Vec::new()));
}

#[tokio::test]
async fn overwrite_replaces_the_bytes() {
    let (store, _) = tenant("overwrite");
    store.put("k", &blob(5000, 1)).await.unwrap();
    store.put("k", &blob(300, 2)).await.unwrap();
    assert_eq!(store.get("k", ..).await.unwrap(), Some(blob(300, 2)));
    assert_eq!(store.stat("k").await.unwrap().unwrap().size, 300);
}

#[tokio::test]
async fn missing_keys_are_none_and_false_not_errors() {
    let (store, _) = tenant("missing");
    assert_eq!(store.get("nope", ..).await.unwrap(), None);
    assert_eq!(store.get("nope", 0..4).await.unwrap(), None);
    assert_eq!(store.stat("nope").await.unwrap(), None);
    assert!(!store.delete("nope").await.unwrap(), "delete of a missing key returns false");
}

#[tokio::test]
async fn ranges_past_the_end() {
    let (store, _) = tenant("ranges");
    let data = blob(100, 3);
    store.put("k", &data).await.unwrap();
    assert_eq!(store.get("k", 90..1000).await.unwrap(), Some(data[90..].to_vec()), "an end past the size reads to the end");
    assert_eq!(store.get("k", 100..200).await.unwrap(), Some(Vec::new()), "a start at the size reads nothing");
    assert_eq!(store.get("k", 500..600).await.unwrap(), Some(Vec::new()), "a start past the size reads nothing");
    assert_eq!(store.get("k", 7..7).await.unwrap(), Some(Vec::new()), "an empty range reads nothing");
    assert_eq!(store.get("k", 95..).await.unwrap(), Some(data[95..].to_vec()), "an open range reads to the end");
    assert_eq!(store.get("k", 0..1).await.unwrap(), Some(data[..1].to_vec()));
}

#[tokio::test]
async fn stat_reports_size_and_md5_etag() {
    let (store, _) = tenant("stat");
    store.put("k", b"hello").await.unwrap();
    let info = store.stat("k").await.unwrap().unwrap();
    assert_eq!(info.size, 5);
    assert_eq!(info.etag, "5d41402abc4b2a76b9719d911017c592", "a single-part ETag is the body's MD5");
    assert!(info.last_modified.is_some());
}
