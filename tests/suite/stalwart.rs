//! Stalwart's blob operations (host/examples/stalwart.rs) against the server under test: the
//! names are Stalwart's, a whole-blob read (`0..usize::MAX`) is one plain GET, and boto3 finds
//! the objects where Stalwart would.

#[path = "../../host/examples/stalwart.rs"]
mod adapter;

use adapter::CofferBlobStore;
use coffer_tests::{FaultProxy, Peer, blob, proxied_tenant, server};

#[tokio::test]
async fn stalwarts_blob_operations_through_the_adapter() {
    let recorder = FaultProxy::start(&server().endpoint, vec![]);
    let (tenant, _) = proxied_tenant(&recorder.endpoint, "stalwart-adapter", |b| b);
    let prefix = tenant.settings().key_prefix().to_string();
    let store = CofferBlobStore::new(tenant);
    let key = blob(32, 41); // a BLAKE3-sized key
    let data = blob(10_000, 42);

    store.put_blob(&key, &data).await.unwrap();
    let name = Peer::stalwart_name(&key);
    assert_eq!(Peer::get(&format!("{prefix}{name}")).as_deref(), Some(&data[..]), "boto3 finds it under Stalwart's name");

    let gets_before = recorder.requests("GET");
    let ranges_before = recorder.header_values("range").len();
    assert_eq!(store.get_blob(&key, 0..usize::MAX).await.unwrap().as_deref(), Some(&data[..]));
    assert_eq!(recorder.requests("GET") - gets_before, 1, "a whole blob is one GET");
    assert_eq!(recorder.header_values("range").len(), ranges_before, "and a plain one, with no Range header");

    assert_eq!(store.get_blob(&key, 100..200).await.unwrap().as_deref(), Some(&data[100..200]));
    assert_eq!(store.get_blob(&key, 9_990..usize::MAX).await.unwrap().as_deref(), Some(&data[9_990..]));
    assert!(store.delete_blob(&key).await.unwrap());
    assert!(!store.delete_blob(&key).await.unwrap(), "a second delete finds nothing");
    assert_eq!(store.get_blob(&key, 0..usize::MAX).await.unwrap(), None);
}
