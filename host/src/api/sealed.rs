//! Encryption as a layer over the tenant's reads and writes (encryption/ has the format). The
//! cores (read.rs, write.rs) ask it what to fetch and how to open it, what to send, and what
//! size a stored object shows; for a tenant without `[encryption]` it answers "as they are",
//! with no request. Every decision that depends on the tenant's keys is here.

use std::time::Instant;

use bytes::Bytes;

use super::error::{ErrorKind, StoreError};
use super::read::Memory;
use super::telemetry::{CallCounts, Op};
use super::tenant::{Tenant, outcome};
use crate::encryption::{self, Broken, Header, Opener, Sealer};
use crate::sandbox::bindings::store::ByteRange;

/// What a read fetches, and how.
pub(super) enum ReadPlan {
    /// The object does not exist.
    Missing,
    /// The range holds no byte of the object.
    Nothing,
    /// These stored bytes (the whole object for `None`), opened by the opener when there is one.
    Fetch { stored: Option<ByteRange>, opener: Option<Opener> },
}

impl Tenant {
    /// What a read of `range` fetches. An encrypted object is opened whole as it passes, or
    /// for a range, its header is read first (one ranged GET), and then only the segments
    /// that cover the range.
    pub(super) async fn plan_read(&self, key: &str, range: Option<ByteRange>) -> (Result<ReadPlan, StoreError>, CallCounts) {
        let Some(keys) = self.settings().encryption() else {
            return (Ok(ReadPlan::Fetch { stored: range, opener: None }), CallCounts::default());
        };
        let name = self.object_name(key);
        let Some(range) = range else {
            return (Ok(ReadPlan::Fetch { stored: None, opener: Some(Opener::whole(keys, &name)) }), CallCounts::default());
        };
        let (header, counts) = self.sealed_header(key).await;
        let planned = header.and_then(|header| {
            let Some(header) = header else { return Ok(ReadPlan::Missing) };
            let Some(plan) = header.plan(range.start, range.end) else { return Ok(ReadPlan::Nothing) };
            let opener = Opener::ranged(keys, &name, header, plan).map_err(|b| self.broken(key, b))?;
            let stored = ByteRange { start: plan.stored.0, end: Some(plan.stored.1) };
            Ok(ReadPlan::Fetch { stored: Some(stored), opener: Some(opener) })
        });
        (planned, counts)
    }

    /// The body a put of `data` sends: `data` itself, or sealed.
    pub(super) fn sealed_body(&self, key: &str, data: &[u8]) -> Bytes {
        match self.settings().encryption() {
            Some(keys) => Bytes::from(encryption::seal(keys, &self.object_name(key), data)),
            None => Bytes::copy_from_slice(data),
        }
    }

    /// For a streamed put of `len` bytes: the sealer its chunks pass through, and the size of
    /// the object stored.
    pub(super) fn sealer(&self, key: &str, len: u64) -> (Option<Sealer>, u64) {
        match self.settings().encryption() {
            Some(keys) => (Some(Sealer::new(keys, &self.object_name(key), len)), encryption::sealed_len(len)),
            None => (None, len),
        }
    }

    /// The size of the blob an object of `stored` bytes holds: for an encrypted tenant, its
    /// plaintext's (an object that cannot be one Coffer sealed keeps its stored size).
    pub(super) fn plain_size(&self, stored: u64) -> u64 {
        match self.settings().encryption() {
            Some(_) => encryption::plain_len(stored).unwrap_or(stored),
            None => stored,
        }
    }

    /// For an encrypted tenant: the id of the key the object was sealed with, read from its
    /// header (a GET of its first 88 bytes); `None` when it does not exist. `coffer rewrap`
    /// seals again, with the current key, the objects this names an older key for.
    pub async fn sealed_with(&self, key: &str) -> Result<Option<String>, StoreError> {
        if self.settings().encryption().is_none() {
            return Err(StoreError::of_tenant(ErrorKind::InvalidConfig, self.settings().name(), "the tenant has no [encryption]"));
        }
        let started = Instant::now();
        let (header, counts) = self.sealed_header(key).await;
        let bytes = if matches!(header, Ok(Some(_))) { encryption::HEADER_LEN as u64 } else { 0 };
        self.report(Op::Get, key, bytes, started, counts, outcome(&header, Option::is_some));
        header.map(|h| h.map(|h| h.key_id))
    }

    /// An encrypted object's header, read by a ranged GET of its first bytes.
    async fn sealed_header(&self, key: &str) -> (Result<Option<Header>, StoreError>, CallCounts) {
        let first = ByteRange { start: 0, end: Some(encryption::HEADER_LEN as u64) };
        let (stored, counts) = Memory.fetch_stored(self, key, first).await;
        let header = stored.and_then(|s| s.map(|s| Header::decode(&s).map_err(|b| self.broken(key, b))).transpose());
        (header, counts)
    }

    /// The object's name in the bucket, which an encrypted object is bound to.
    fn object_name(&self, key: &str) -> String {
        format!("{}{key}", self.settings().key_prefix())
    }

    /// Why an encrypted object did not open, as the call's error.
    pub(super) fn broken(&self, key: &str, broken: Broken) -> StoreError {
        let (kind, message) = match broken {
            Broken::Integrity(m) => (ErrorKind::Integrity, m),
            Broken::MissingKey(m) => (ErrorKind::InvalidConfig, m),
        };
        StoreError::of_tenant(kind, self.settings().name(), format!("key \"{key}\": {message}"))
    }
}
