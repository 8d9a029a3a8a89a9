//! One tenant's blob store, as a mail server calls it: put, get (whole or a range), stat and
//! delete, each run in an instance of the tenant's own, admitted by its concurrency limit, and
//! reported by one telemetry event.

use std::ops::{Bound, RangeBounds};
use std::sync::Arc;
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncWrite};

use super::dialect::ServerDialect;
use super::error::{ErrorKind, StoreError};
use super::objects::{Listed, ObjectInfo, Page, TenantStats};
use super::fetch::{Memory, Writer};
use super::read::read;
use super::sealed;
use super::write;
use super::telemetry::{self, CallCounts, Op, Outcome};
use crate::net::transport::Transport;
use crate::sandbox::bindings;
use crate::sandbox::bindings::store::{ByteRange, ObjectInfo as WitInfo};
use crate::sandbox::engine::Shared;
use crate::sandbox::runner::Runner;
use crate::settings::TenantSettings;

/// The pages of a listing, fetched one at a time ([`Tenant::list_all`]).
pub struct Listing {
    tenant: Tenant,
    prefix: String,
    after: Option<String>,
    done: bool,
}

impl Listing {
    /// The next page; `None` after the last. A page that fails can be asked for again.
    pub async fn next_page(&mut self) -> Option<Result<Vec<Listed>, StoreError>> {
        if self.done {
            return None;
        }
        match self.tenant.list(&self.prefix, self.after.as_deref(), crate::DEFAULT_LIST_PAGE).await {
            Ok(page) => {
                self.done = page.next.is_none();
                self.after = page.next;
                Some(Ok(page.objects))
            }
            Err(error) => Some(Err(error)),
        }
    }
}

/// One tenant's blob store. Cheap to clone, `Send + Sync`.
#[derive(Clone)]
pub struct Tenant {
    /// The tenant's sandbox: settings, transport, warm instances, admission.
    pub(super) runner: Arc<Runner>,
    /// The tenant's name for telemetry labels, shared rather than copied on every call.
    label: Arc<str>,
}

impl Tenant {
    pub(crate) fn new(shared: Arc<Shared>, settings: TenantSettings, transport: Transport) -> Tenant {
        let label = Arc::from(settings.name());
        Tenant { runner: Arc::new(Runner::new(shared, settings, transport)), label }
    }

    /// What the tenant's calls have learned of its server so far: whether it refuses checksum
    /// headers (what `checksum = "auto"` settled on) and how far its clock is from the host's.
    pub fn server_dialect(&self) -> ServerDialect {
        self.runner.learned.get()
    }

    pub fn settings(&self) -> &TenantSettings {
        &self.runner.settings
    }

    pub fn stats(&self) -> TenantStats {
        let (bytes_sent, bytes_received) = self.runner.transport.bytes_moved();
        let (_, hedged_gets, hedges_won) = self.runner.transport.hedge.counts();
        TenantStats {
            connections_opened: self.runner.transport.connections_opened(),
            connections_open: self.runner.transport.connections_open(),
            instances_made: self.runner.warm.made(),
            largest_plugin_memory: self.runner.warm.largest_memory(),
            bytes_sent,
            bytes_received,
            hedged_gets,
            hedges_won,
        }
    }

    /// The object's bytes, or those of `range`; `None` when it does not exist. `..` reads the
    /// whole object in one plain GET (so does `0..u64::MAX`, Stalwart's "whole blob"); `a..b`
    /// reads `[a, b)`, `a..` from `a` to the end. An end past the size reads to the end; a start
    /// at or past the size reads no bytes.
    pub async fn get(&self, key: &str, range: impl RangeBounds<u64>) -> Result<Option<Vec<u8>>, StoreError> {
        let started = Instant::now();
        let (result, counts) = read(&self.runner, key, byte_range(&range), Memory).await;
        let bytes = result.as_ref().map_or(0, |data| data.as_ref().map_or(0, |d| d.len() as u64));
        self.report(Op::Get, key, bytes, started, counts, outcome(&result, Option::is_some));
        result
    }

    /// Writes the object's bytes, or those of `range` (as for [`Tenant::get`]), to `writer` as
    /// they arrive, in bounded memory: how many bytes were written, or `None` when the object
    /// does not exist (nothing is written then).
    ///
    /// The bytes are checked as they pass, against the object's digest where the server gave
    /// one; the check can only conclude at the end. So on an error the output may hold some
    /// bytes, damaged ones included: discard it and get again. A get that failed before its
    /// first byte was written is retried within the call like any other; once bytes are out, it
    /// is not.
    pub async fn get_stream<W: AsyncWrite + Unpin>(
        &self,
        key: &str,
        range: impl RangeBounds<u64>,
        writer: &mut W,
    ) -> Result<Option<u64>, StoreError> {
        let started = Instant::now();
        let (result, counts) = read(&self.runner, key, byte_range(&range), Writer(writer)).await;
        let written = result.as_ref().map_or(0, |w| w.unwrap_or(0));
        self.report(Op::Get, key, written, started, counts, outcome(&result, Option::is_some));
        result
    }

    /// Creates or replaces the object. Once this returns Ok, the object is readable (with
    /// `verify_after_write`, the default, a HEAD has found it with the size and MD5 sent).
    pub async fn put(&self, key: &str, data: &[u8]) -> Result<(), StoreError> {
        let started = Instant::now();
        let (result, counts) = write::from_memory(&self.runner, key, data).await;
        self.report(Op::Put, key, data.len() as u64, started, counts, outcome(&result, |_| true));
        result
    }

    /// Creates or replaces the object with the `len` bytes `reader` gives, in bounded memory:
    /// the bytes are read as the upload needs them (a part at a time for each part in flight;
    /// the whole body when it is at most the multipart threshold). Once this returns Ok, the
    /// object is readable, as for [`Tenant::put`]. A reader that ends before `len` bytes fails
    /// the put; bytes after `len` are not read.
    ///
    /// Parts are read once: a multipart upload that verify-after-write finds wrong cannot be
    /// sent again from a reader, so that put fails, where a put from memory would retry.
    pub async fn put_stream<R: AsyncRead + Unpin>(&self, key: &str, reader: R, len: u64) -> Result<(), StoreError> {
        let started = Instant::now();
        let (result, counts) = write::from_reader(&self.runner, key, reader, len).await;
        self.report(Op::Put, key, len, started, counts, outcome(&result, |_| true));
        result
    }

    /// Deletes the object; `true` when it existed.
    pub async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        let started = Instant::now();
        let (result, counts) = self.runner.run(key, async |plugin, store| plugin.call_delete(store, key).await).await;
        self.report(Op::Delete, key, 0, started, counts, outcome(&result, |existed| *existed));
        result
    }

    /// Size, ETag and Last-Modified of the object; `None` when it does not exist.
    pub async fn stat(&self, key: &str) -> Result<Option<ObjectInfo>, StoreError> {
        let started = Instant::now();
        let (result, counts) = self.runner.run(key, async |plugin, store| plugin.call_stat(store, key).await).await;
        self.report(Op::Stat, key, 0, started, counts, outcome(&result, Option::is_some));
        result.map(|info: Option<WitInfo>| {
            info.map(|i| ObjectInfo { size: sealed::plain_size(self.settings(), i.size), etag: i.etag, last_modified: i.last_modified })
        })
    }

    /// One page of the objects whose keys start with `prefix`, after the key `start_after`, at
    /// most `max` (1000 at most): ListObjectsV2, keys without the tenant's key prefix.
    pub async fn list(&self, prefix: &str, start_after: Option<&str>, max: u32) -> Result<Page, StoreError> {
        let started = Instant::now();
        let (result, counts) =
            self.runner.run(prefix, async |plugin, store| plugin.call_list(store, prefix, start_after, max).await).await;
        let listed = result.as_ref().map_or(0, |p: &bindings::types::Page| p.objects.len() as u64);
        self.report(Op::List, prefix, listed, started, counts, outcome(&result, |_| true));
        result.map(|page| Page {
            objects: page
                .objects
                .into_iter()
                .map(|o| Listed { key: o.key, size: sealed::plain_size(self.settings(), o.size), etag: o.etag, last_modified: o.last_modified })
                .collect(),
            next: page.next,
        })
    }

    /// For an encrypted tenant: the id of the key the object was sealed with, read from its
    /// header (a GET of its first 88 bytes); `None` when it does not exist. `coffer rewrap`
    /// seals again, with the current key, the objects this names an older key for.
    pub async fn sealed_with(&self, key: &str) -> Result<Option<String>, StoreError> {
        if self.settings().encryption().is_none() {
            return Err(StoreError::of_tenant(ErrorKind::InvalidConfig, self.settings().name(), "the tenant has no [encryption]"));
        }
        let started = Instant::now();
        let (header, counts) = sealed::header(&self.runner, key).await;
        let bytes = if matches!(header, Ok(Some(_))) { crate::encryption::HEADER_LEN as u64 } else { 0 };
        self.report(Op::Get, key, bytes, started, counts, outcome(&header, Option::is_some));
        header.map(|h| h.map(|h| h.key_id))
    }

    /// Every object whose key starts with `prefix`, page after page.
    pub fn list_all(&self, prefix: &str) -> Listing {
        Listing { tenant: self.clone(), prefix: prefix.to_string(), after: None, done: false }
    }

    /// The call's telemetry event and metrics.
    pub(crate) fn report(&self, op: Op, key: &str, bytes: u64, started: Instant, counts: CallCounts, outcome: Outcome) {
        telemetry::record(&self.label, op, key, bytes, counts, started.elapsed(), outcome);
    }

}

/// How a call ended, for telemetry: `found` tells an answer about an object that was there.
pub(crate) fn outcome<T>(result: &Result<T, StoreError>, found: impl Fn(&T) -> bool) -> Outcome {
    match result {
        Ok(value) if found(value) => Outcome::Ok,
        Ok(_) => Outcome::NotFound,
        Err(error) => Outcome::Failed(error.kind()),
    }
}

/// `..`, `a..b`, `a..`, `a..=b` as the WIT's half-open range; `None` for the whole object.
pub(crate) fn byte_range(range: &impl RangeBounds<u64>) -> Option<ByteRange> {
    let start = match range.start_bound() {
        Bound::Included(&s) => s,
        Bound::Excluded(&s) => s.saturating_add(1),
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(&e) => Some(e.saturating_add(1)),
        Bound::Excluded(&e) => Some(e),
        Bound::Unbounded => None,
    };
    match (start, end) {
        // The whole object: a plain GET, checked whole.
        (0, None | Some(u64::MAX)) => None,
        (start, Some(u64::MAX)) => Some(ByteRange { start, end: None }),
        (start, end) => Some(ByteRange { start, end }),
    }
}

#[cfg(test)]
mod tests;
