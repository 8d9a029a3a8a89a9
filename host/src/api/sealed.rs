//! Encryption as a layer over the tenant's reads and writes (encryption/ has the format). The
//! cores (read.rs, write.rs) and the listings ask it what to fetch and how to open it, what to
//! send, and what size a stored object shows; for a tenant without `[encryption]` it answers
//! "as they are", with no request. Every decision that depends on the tenant's keys is here;
//! `Tenant::sealed_with` only refuses a tenant that has none.

use bytes::Bytes;

use super::error::StoreError;
use super::fetch::Memory;
use super::telemetry::CallCounts;
use crate::encryption::{self, Header, Opener, Sealer};
use crate::sandbox::bindings::store::ByteRange;
use crate::sandbox::runner::Runner;
use crate::settings::TenantSettings;

/// What a read fetches, and how.
pub(super) enum ReadPlan {
    /// The object does not exist.
    Missing,
    /// The range holds no byte of the object.
    Nothing,
    /// These stored bytes (the whole object for `None`), opened by the opener when there is one.
    Fetch { stored: Option<ByteRange>, opener: Option<Opener> },
}

/// What a read of `range` fetches. An encrypted object is opened whole as it passes, or for a
/// range, its header is read first (one ranged GET), and then only the segments that cover
/// the range.
pub(super) async fn plan_read(runner: &Runner, key: &str, range: Option<ByteRange>) -> (Result<ReadPlan, StoreError>, CallCounts) {
    let settings = &runner.settings;
    let Some(keys) = settings.encryption() else {
        return (Ok(ReadPlan::Fetch { stored: range, opener: None }), CallCounts::default());
    };
    let name = object_name(settings, key);
    let Some(range) = range else {
        return (Ok(ReadPlan::Fetch { stored: None, opener: Some(Opener::whole(keys, &name)) }), CallCounts::default());
    };
    let (header, counts) = header(runner, key).await;
    let planned = header.and_then(|header| {
        let Some(header) = header else { return Ok(ReadPlan::Missing) };
        let Some(plan) = header.plan(range.start, range.end) else { return Ok(ReadPlan::Nothing) };
        let opener = Opener::ranged(keys, &name, header, plan).map_err(|b| StoreError::broken(settings.name(), key, b))?;
        let stored = ByteRange { start: plan.stored.0, end: Some(plan.stored.1) };
        Ok(ReadPlan::Fetch { stored: Some(stored), opener: Some(opener) })
    });
    (planned, counts)
}

/// The body a put of `data` sends: `data` itself, or sealed.
pub(super) fn body(settings: &TenantSettings, key: &str, data: &[u8]) -> Bytes {
    match settings.encryption() {
        Some(keys) => Bytes::from(encryption::seal(keys, &object_name(settings, key), data)),
        None => Bytes::copy_from_slice(data),
    }
}

/// For a streamed put of `len` bytes: the sealer its chunks pass through, and the size of the
/// object stored.
pub(super) fn sealer(settings: &TenantSettings, key: &str, len: u64) -> (Option<Sealer>, u64) {
    match settings.encryption() {
        Some(keys) => (Some(Sealer::new(keys, &object_name(settings, key), len)), encryption::sealed_len(len)),
        None => (None, len),
    }
}

/// The size of the blob an object of `stored` bytes holds: for an encrypted tenant, its
/// plaintext's (an object that cannot be one Coffer sealed keeps its stored size).
pub(super) fn plain_size(settings: &TenantSettings, stored: u64) -> u64 {
    match settings.encryption() {
        Some(_) => encryption::plain_len(stored).unwrap_or(stored),
        None => stored,
    }
}

/// An encrypted object's header, read by a ranged GET of its first bytes; `None` when the
/// object does not exist.
pub(super) async fn header(runner: &Runner, key: &str) -> (Result<Option<Header>, StoreError>, CallCounts) {
    let first = ByteRange { start: 0, end: Some(encryption::HEADER_LEN as u64) };
    let (stored, counts) = Memory.fetch_stored(runner, key, first).await;
    let name = runner.settings.name();
    let header = stored.and_then(|s| s.map(|s| Header::decode(&s).map_err(|b| StoreError::broken(name, key, b))).transpose());
    (header, counts)
}

/// The object's name in the bucket, which an encrypted object is bound to.
fn object_name(settings: &TenantSettings, key: &str) -> String {
    format!("{}{key}", settings.key_prefix())
}
