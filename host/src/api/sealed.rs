//! An encrypted tenant's reads: the whole object opened, or its header read first and then
//! only the segments that cover a range (encryption/ has the format).

use std::time::Instant;

use tokio::io::AsyncWrite;

use super::error::{ErrorKind, StoreError};
use super::telemetry::{CallCounts, Op};
use super::tenant::{Tenant, outcome};
use crate::encryption::{self, Broken, Header, KeyRing, Opener};
use crate::sandbox::bindings::store::ByteRange;

impl Tenant {
    /// An encrypted tenant's get: the whole object opened, or the header and then only the
    /// segments that cover `range`.
    pub(super) async fn get_sealed(&self, keys: &KeyRing, key: &str, range: Option<ByteRange>) -> (Result<Option<Vec<u8>>, StoreError>, CallCounts) {
        let name = self.object_name(key);
        let Some(range) = range else {
            let (stored, counts) = self.get_stored(key, None).await;
            let opened = stored.and_then(|s| s.map(|s| encryption::open(keys, &name, s).map_err(|b| self.broken(key, b))).transpose());
            return (opened, counts);
        };
        let (planned, mut counts) = self.plan_range(keys, key, &name, range).await;
        let (stored_range, mut opener) = match planned {
            Ok(Planned::Read(stored_range, opener)) => (stored_range, opener),
            Ok(Planned::Nothing) => return (Ok(Some(Vec::new())), counts),
            Ok(Planned::Missing) => return (Ok(None), counts),
            Err(e) => return (Err(e), counts),
        };
        let (stored, more) = self.get_stored(key, Some(stored_range)).await;
        counts.add(&more);
        let opened = stored.and_then(|stored| {
            let Some(stored) = stored else { return Ok(None) };
            let mut out = Vec::new();
            opener.push(&stored, &mut out).and_then(|()| opener.finish()).map_err(|b| self.broken(key, b))?;
            Ok(Some(out))
        });
        (opened, counts)
    }

    /// For a ranged read of an encrypted object: its header, read first, and from it the stored
    /// bytes that hold `range` and the opener for them.
    async fn plan_range(&self, keys: &KeyRing, key: &str, name: &str, range: ByteRange) -> (Result<Planned, StoreError>, CallCounts) {
        let (header, counts) = self.sealed_header(key).await;
        let planned = header.and_then(|header| {
            let Some(header) = header else { return Ok(Planned::Missing) };
            let Some(plan) = header.plan(range.start, range.end) else { return Ok(Planned::Nothing) };
            let opener = Opener::ranged(keys, name, header, plan).map_err(|b| self.broken(key, b))?;
            Ok(Planned::Read(ByteRange { start: plan.stored.0, end: Some(plan.stored.1) }, Box::new(opener)))
        });
        (planned, counts)
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
        let (stored, counts) = self.get_stored(key, Some(first)).await;
        let header = stored.and_then(|s| s.map(|s| Header::decode(&s).map_err(|b| self.broken(key, b))).transpose());
        (header, counts)
    }

    /// The object's name in the bucket, which an encrypted object is bound to.
    pub(super) fn object_name(&self, key: &str) -> String {
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

    /// An encrypted tenant's streamed get: the whole object opened as it passes, or the header
    /// and then only the segments that cover `range`.
    pub(super) async fn stream_sealed<W: AsyncWrite + Unpin>(
        &self,
        keys: &KeyRing,
        key: &str,
        range: Option<ByteRange>,
        writer: &mut W,
    ) -> (Result<Option<u64>, StoreError>, CallCounts) {
        let name = self.object_name(key);
        let Some(range) = range else {
            return self.stream_stored(key, None, writer, Some(Opener::whole(keys, &name))).await;
        };
        let (planned, mut counts) = self.plan_range(keys, key, &name, range).await;
        match planned {
            Ok(Planned::Read(stored_range, opener)) => {
                let (result, more) = self.stream_stored(key, Some(stored_range), writer, Some(*opener)).await;
                counts.add(&more);
                (result, counts)
            }
            Ok(Planned::Nothing) => (Ok(Some(0)), counts),
            Ok(Planned::Missing) => (Ok(None), counts),
            Err(e) => (Err(e), counts),
        }
    }
}

/// What a ranged read of an encrypted object fetches after its header.
enum Planned {
    /// The object does not exist.
    Missing,
    /// The range holds no byte of the object.
    Nothing,
    /// These stored bytes, opened by this opener.
    Read(ByteRange, Box<Opener>),
}
