//! Stalwart's blob store on Coffer: the three operations Stalwart's `BlobStore` backend calls
//! (`get_blob`, `put_blob`, `delete_blob`), with Stalwart's object names
//! (`keyPrefix + base32(key)`), so a server that switches to Coffer finds the blobs it wrote.
//!
//! ```sh
//! eval "$(scripts/garage-up)"     # or any S3 server, named by COFFER_TEST_S3_*
//! cargo run -p coffer-host --example stalwart
//! ```
//!
//! The test suite runs this adapter against the server under test (tests/suite/stalwart.rs).

use std::ops::Range;

use coffer_host::{StoreError, Tenant, stalwart};

/// Stalwart's blob operations on one tenant.
pub struct CofferBlobStore {
    tenant: Tenant,
}

impl CofferBlobStore {
    pub fn new(tenant: Tenant) -> Self {
        CofferBlobStore { tenant }
    }

    /// The blob's bytes in `range`, or `None` when it does not exist. Stalwart asks for a whole
    /// blob as `0..usize::MAX`: that is one plain GET, checked whole.
    pub async fn get_blob(&self, key: &[u8], range: Range<usize>) -> Result<Option<Vec<u8>>, StoreError> {
        let name = stalwart::object_name(key);
        let (start, end) = (range.start as u64, range.end as u64);
        match (start, range.end) {
            (0, usize::MAX) => self.tenant.get(&name, ..).await,
            (start, usize::MAX) => self.tenant.get(&name, start..).await,
            _ => self.tenant.get(&name, start..end).await,
        }
    }

    /// Stores the blob; once this returns Ok it is readable.
    pub async fn put_blob(&self, key: &[u8], data: &[u8]) -> Result<(), StoreError> {
        self.tenant.put(&stalwart::object_name(key), data).await
    }

    /// Deletes the blob; `true` when it existed.
    pub async fn delete_blob(&self, key: &[u8]) -> Result<bool, StoreError> {
        self.tenant.delete(&stalwart::object_name(key)).await
    }
}

#[allow(dead_code)] // the suite includes this file for the adapter alone
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let var = |name: &str| std::env::var(format!("COFFER_TEST_S3_{name}")).map_err(|_| format!("set COFFER_TEST_S3_{name}"));
    let settings = coffer_host::TenantSettings::builder("stalwart")
        .bucket(var("BUCKET")?)
        .region(var("REGION")?)
        .endpoint(var("ENDPOINT")?)
        .access_key(var("ACCESS_KEY")?)
        .secret_key(var("SECRET_KEY")?)
        .key_prefix("stalwart-example/")
        .build()?;
    let store = CofferBlobStore::new(coffer_host::Coffer::new()?.tenant(settings));
    let key = [7u8; 32]; // Stalwart's keys are BLAKE3 hashes
    store.put_blob(&key, b"a message body").await?;
    assert_eq!(store.get_blob(&key, 0..usize::MAX).await?.as_deref(), Some(&b"a message body"[..]));
    assert_eq!(store.get_blob(&key, 2..9).await?.as_deref(), Some(&b"message"[..]));
    assert!(store.delete_blob(&key).await?);
    println!("put, get whole, get 2..9 and delete of {} passed", stalwart::object_name(&key));
    Ok(())
}
