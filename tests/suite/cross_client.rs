//! What Coffer writes another S3 client (boto3) reads byte for byte, and the reverse, for
//! every awkward key.

use coffer_tests::{Peer, blob, tenant};

use crate::keys::AWKWARD_KEYS;

#[tokio::test]
async fn boto3_reads_what_coffer_writes() {
    let (store, prefix) = tenant("coffer-to-boto3");
    for (i, key) in AWKWARD_KEYS.iter().chain(&["plain/key"]).enumerate() {
        let data = blob(1000 + i, 100 + i as u64);
        store.put(key, &data).await.unwrap();
        let read = Peer::get(&format!("{prefix}{key}"));
        assert!(read.as_deref() == Some(&data[..]), "boto3 read other bytes for {key:?}");
    }
}

#[tokio::test]
async fn coffer_reads_what_boto3_writes() {
    let (store, prefix) = tenant("boto3-to-coffer");
    for (i, key) in AWKWARD_KEYS.iter().chain(&["plain/key"]).enumerate() {
        let data = blob(2000 + i, 200 + i as u64);
        Peer::put(&format!("{prefix}{key}"), &data);
        let read = store.get(key, ..).await.unwrap();
        assert!(read.as_deref() == Some(&data[..]), "Coffer read other bytes for {key:?}");
        assert!(store.delete(key).await.unwrap());
        assert_eq!(Peer::get(&format!("{prefix}{key}")), None, "boto3 still sees {key:?} after Coffer's delete");
    }
}

#[tokio::test]
async fn a_large_blob_crosses_both_ways() {
    let (store, prefix) = tenant("cross-large");
    let data = blob(8 * 1024 * 1024 + 3, 77);
    store.put("large", &data).await.unwrap();
    assert!(Peer::get(&format!("{prefix}large")).as_deref() == Some(&data[..]));
    Peer::put(&format!("{prefix}large-back"), &data);
    assert!(store.get("large-back", 1_000_000..5_000_001).await.unwrap().as_deref() == Some(&data[1_000_000..5_000_001]));
}
