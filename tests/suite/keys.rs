//! Keys S3 clients get wrong: reserved characters, unicode, dot segments, the longest key.

use coffer_tests::{blob, note, server, tenant};

/// The keys every test here stores, reads, lists and deletes.
pub const AWKWARD_KEYS: &[&str] = &[
    "with space",
    "plus+sign",
    "equals=sign",
    "amp&ersand",
    "per%cent",
    "til~de",
    "question?mark",
    "hash#mark",
    "ünïcödé/日本語/emoji-📬",
    "a/b/../c",
    "x/./y",
    "double//slash",
    "all of them: +=&%~?#ü/../. mixed",
];

#[tokio::test]
async fn awkward_keys_round_trip() {
    let (store, _) = tenant("keys");
    for (i, key) in AWKWARD_KEYS.iter().enumerate() {
        let data = blob(64 + i, i as u64);
        store.put(key, &data).await.unwrap_or_else(|e| panic!("put {key:?}: {e}"));
        assert_eq!(store.get(key, ..).await.unwrap(), Some(data), "get {key:?}");
        assert_eq!(store.stat(key).await.unwrap().map(|i| i.size), Some(64 + i as u64), "stat {key:?}");
    }
    // Dot segments are keys, not paths: a/b/../c is not a/c.
    if server().embedded {
        note("awkward_keys_round_trip", "s3s-fs stores objects as files and folds a/b/../c into a/c; not checked here");
    } else {
        assert_eq!(store.get("a/c", ..).await.unwrap(), None, "a/b/../c was not normalised into a/c");
    }
    for key in AWKWARD_KEYS {
        assert!(store.delete(key).await.unwrap(), "delete {key:?}");
        assert_eq!(store.get(key, ..).await.unwrap(), None, "{key:?} is gone");
    }
}

#[tokio::test]
async fn the_longest_key_fits_and_one_more_byte_is_refused() {
    let (store, prefix) = tenant("long-key");
    let len = 1024 - prefix.len();
    let key: String = (0..len).map(|i| if i % 200 == 199 { '/' } else { 'k' }).collect();
    assert_eq!(prefix.len() + key.len(), 1024);
    let put = store.put(&key, b"long").await;
    if server().embedded {
        // s3s-fs keeps an object as a file beside metadata files whose names outgrow the
        // filesystem's limits for keys this long: it answers 500. What matters here is that
        // Coffer reports that failure and claims nothing; real S3 servers take the key.
        let error = put.expect_err("s3s-fs is known to refuse 1024-byte keys");
        assert_eq!(error.kind(), coffer_host::ErrorKind::Unavailable, "{error}");
        note("the_longest_key_fits", "on s3s-fs the 1024-byte key is checked to fail cleanly, not to round-trip");
    } else {
        put.unwrap();
        assert_eq!(store.get(&key, ..).await.unwrap(), Some(b"long".to_vec()));
        assert!(store.delete(&key).await.unwrap());
    }

    let too_long = format!("{key}k");
    let error = store.put(&too_long, b"x").await.unwrap_err();
    assert!(error.kind() == coffer_host::ErrorKind::InvalidKey && error.message().contains("1025"), "{error}");
}

#[tokio::test]
async fn an_empty_key_is_refused() {
    let (store, _) = tenant("empty-key");
    assert_eq!(store.put("", b"x").await.unwrap_err().kind(), coffer_host::ErrorKind::InvalidKey);
}
