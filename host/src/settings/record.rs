//! The settings the plugin is given: the WIT's `config.settings` record (wit/coffer.wit),
//! declared there once. The builder writes it field by field, checks.rs fills in where requests
//! go, and every instance of the tenant is handed the same record, built once.
//!
//! Each of these settings has its setter, its default, its check and its getter here, and
//! nowhere else on the host's side: a new one is a field in the WIT, its four lines here, a
//! row in config.rs's table of keys, and the plugin's use of it (docs/architecture.md).

use std::time::Duration;

use super::{Checksum, DEFAULT_REGION, MAX_PART_SIZE, MIN_PART_SIZE, TenantSettings, TenantSettingsBuilder};
use crate::sandbox::bindings::config::{ChecksumMode, Settings as Record};

/// Every setting at its default; bucket, scheme and authority are filled by the builder.
pub(super) fn defaults() -> Record {
    Record {
        bucket: String::new(),
        region: DEFAULT_REGION.into(),
        scheme: String::new(),
        authority: String::new(),
        key_prefix: String::new(),
        timeout_ms: 30_000,
        call_timeout_ms: 120_000,
        max_retries: 3,
        verify_after_write: true,
        virtual_hosted_style: false,
        checksum: ChecksumMode::Auto,
        multipart_threshold: 16 << 20,
        part_size: 8 << 20,
        part_concurrency: 4,
        ranged_read_threshold: 16 << 20,
        range_size: 4 << 20,
        range_concurrency: 8,
    }
}

/// The record's bounds; an error names the field at fault.
pub(super) fn check(r: &Record) -> Result<(), (&'static str, String)> {
    if r.timeout_ms == 0 {
        return Err(("timeout", "must be at least 1ms".into()));
    }
    if r.call_timeout_ms < r.timeout_ms {
        let (call, one) = (millis(r.call_timeout_ms), millis(r.timeout_ms));
        let (call, one) = (humantime::format_duration(call), humantime::format_duration(one));
        return Err(("callTimeout", format!("{call} is shorter than timeout ({one}): a call could not make one whole attempt")));
    }
    for (name, size) in [("multipartThreshold", r.multipart_threshold), ("partSize", r.part_size)] {
        if !(MIN_PART_SIZE..=MAX_PART_SIZE).contains(&size) {
            return Err((name, format!("{} is outside S3's bounds, 5MiB to 5GiB", bytesize::ByteSize(size))));
        }
    }
    if !(1..=64).contains(&r.part_concurrency) {
        return Err(("partConcurrency", format!("{} is not between 1 and 64", r.part_concurrency)));
    }
    if !(MIN_RANGE_SIZE..=MAX_PART_SIZE).contains(&r.range_size) {
        return Err(("rangeSize", format!("{} is not between 1MiB and 5GiB", bytesize::ByteSize(r.range_size))));
    }
    if !(1..=64).contains(&r.range_concurrency) {
        return Err(("rangeConcurrency", format!("{} is not between 1 and 64", r.range_concurrency)));
    }
    Ok(())
}

/// The smallest range a get is read in.
const MIN_RANGE_SIZE: u64 = 1 << 20;

fn millis(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// A duration in whole milliseconds, as the WIT carries it.
fn as_millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl TenantSettingsBuilder {
    /// The bucket (required).
    pub fn bucket(mut self, bucket: impl Into<String>) -> Self {
        self.record.bucket = bucket.into();
        self
    }
    /// The SigV4 signing region. Without an endpoint, a well-known AWS region that picks AWS's
    /// endpoint; with one, any name ("garage", "auto"). Default `us-east-1`.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.record.region = region.into();
        self
    }
    /// Prepended as is to every key.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.record.key_prefix = prefix.into();
        self
    }
    /// The bound of one request attempt, counted in whole milliseconds. Default 30 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.record.timeout_ms = as_millis(timeout);
        self
    }
    /// The bound of a whole call, its attempts, retries and backoff included: no call lasts
    /// longer. Default 2 min; at least `timeout`.
    pub fn call_timeout(mut self, call_timeout: Duration) -> Self {
        self.record.call_timeout_ms = as_millis(call_timeout);
        self
    }
    /// Retries of a transient failure. Default 3.
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.record.max_retries = retries;
        self
    }
    /// HEAD after every PUT, the put sent again or failed when the object is not as sent.
    /// Default true.
    pub fn verify_after_write(mut self, verify: bool) -> Self {
        self.record.verify_after_write = verify;
        self
    }
    /// Address the bucket as `bucket.host` rather than `host/bucket`. Default false.
    pub fn virtual_hosted_style(mut self, virtual_hosted: bool) -> Self {
        self.record.virtual_hosted_style = virtual_hosted;
        self
    }
    /// Whether requests carry `x-amz-checksum-*` headers. Default [`Checksum::Auto`].
    pub fn checksum(mut self, checksum: Checksum) -> Self {
        self.record.checksum = match checksum {
            Checksum::Auto => ChecksumMode::Auto,
            Checksum::Crc32 => ChecksumMode::Always,
            Checksum::None => ChecksumMode::Never,
        };
        self
    }
    /// Puts of more bytes than this are multipart uploads (5 MiB to 5 GiB). Default 16 MiB.
    pub fn multipart_threshold(mut self, bytes: u64) -> Self {
        self.record.multipart_threshold = bytes;
        self
    }
    /// The size of each part but the last (5 MiB to 5 GiB). Default 8 MiB.
    pub fn part_size(mut self, bytes: u64) -> Self {
        self.record.part_size = bytes;
        self
    }
    /// Parts of one upload sent at once (1 to 64). Default 4.
    pub fn part_concurrency(mut self, parts: u32) -> Self {
        self.record.part_concurrency = parts;
        self
    }
    /// A get (of an object or a range of one) longer than this is read as ranged GETs at
    /// once; 0 never.
    /// Default 16 MiB (measured: docs/speed.md, "Large blobs in parallel ranges").
    pub fn ranged_read_threshold(mut self, bytes: u64) -> Self {
        self.record.ranged_read_threshold = bytes;
        self
    }
    /// The size of each of those ranges (1 MiB to 5 GiB). Default 4 MiB.
    pub fn range_size(mut self, bytes: u64) -> Self {
        self.record.range_size = bytes;
        self
    }
    /// Ranges of one get read at once (1 to 64). Default 8.
    pub fn range_concurrency(mut self, ranges: u32) -> Self {
        self.record.range_concurrency = ranges;
        self
    }
}

impl TenantSettings {
    /// The record every instance of the tenant is handed.
    pub(crate) fn record(&self) -> &Record {
        &self.record
    }
    pub fn bucket(&self) -> &str {
        &self.record.bucket
    }
    pub fn region(&self) -> &str {
        &self.record.region
    }
    pub fn key_prefix(&self) -> &str {
        &self.record.key_prefix
    }
    pub fn timeout(&self) -> Duration {
        millis(self.record.timeout_ms)
    }
    /// The bound of a whole call, retries and backoff included.
    pub fn call_timeout(&self) -> Duration {
        millis(self.record.call_timeout_ms)
    }
    pub fn max_retries(&self) -> u32 {
        self.record.max_retries
    }
    pub fn verify_after_write(&self) -> bool {
        self.record.verify_after_write
    }
    pub fn virtual_hosted_style(&self) -> bool {
        self.record.virtual_hosted_style
    }
    pub fn checksum(&self) -> Checksum {
        match self.record.checksum {
            ChecksumMode::Auto => Checksum::Auto,
            ChecksumMode::Always => Checksum::Crc32,
            ChecksumMode::Never => Checksum::None,
        }
    }
    pub fn multipart_threshold(&self) -> u64 {
        self.record.multipart_threshold
    }
    pub fn part_size(&self) -> u64 {
        self.record.part_size
    }
    pub fn part_concurrency(&self) -> u32 {
        self.record.part_concurrency
    }
    pub fn ranged_read_threshold(&self) -> u64 {
        self.record.ranged_read_threshold
    }
    pub fn range_size(&self) -> u64 {
        self.record.range_size
    }
    pub fn range_concurrency(&self) -> u32 {
        self.record.range_concurrency
    }
}
