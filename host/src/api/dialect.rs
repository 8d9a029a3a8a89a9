//! What a tenant's calls have learned of its server (the WIT's `dialect`): that it refuses
//! checksum headers, how far its clock is from the host's, and how it forms multipart ETags. Each of the tenant's instances
//! starts its calls from it, so a lesson is paid for once per tenant, not once per instance;
//! each change is logged once, at warn, with the tenant's name.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, Ordering};

/// What the tenant's server has shown of itself so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ServerDialect {
    /// It refused an `x-amz-checksum-*` header (with `checksum = "auto"`): the tenant's requests
    /// go without them, integrity resting on Content-MD5 and the MD5 ETag.
    pub refuses_checksum_headers: bool,
    /// Its clock minus the host's, in seconds, once it refused a request for its date; the
    /// tenant's requests are signed with the host's time plus this.
    pub clock_offset_s: i64,
    /// How it forms a multipart object's ETag, once an upload or a probe has shown it.
    pub multipart_etag: EtagFormula,
}

/// How a server forms a multipart object's ETag (the WIT's `etag-formula`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum EtagFormula {
    /// Not seen yet.
    #[default]
    Unknown,
    /// AWS's (`md5(md5(part 1) ‖ … ‖ md5(part N))-N`): whole reads of a multipart object are
    /// checked against its ETag.
    Aws,
    /// Another: a multipart object is checked against its full-object CRC-32 where the server
    /// kept one, else its size; its ETag checks nothing.
    Other,
}

impl EtagFormula {
    fn from_u8(value: u8) -> EtagFormula {
        match value {
            1 => EtagFormula::Aws,
            2 => EtagFormula::Other,
            _ => EtagFormula::Unknown,
        }
    }

    fn as_u8(self) -> u8 {
        match self {
            EtagFormula::Unknown => 0,
            EtagFormula::Aws => 1,
            EtagFormula::Other => 2,
        }
    }
}

/// The tenant's [`ServerDialect`], shared by its instances.
#[derive(Debug, Default)]
pub(crate) struct Learned {
    refuses_checksum_headers: AtomicBool,
    clock_offset_s: AtomicI64,
    multipart_etag: AtomicU8,
}

impl Learned {
    pub(crate) fn get(&self) -> ServerDialect {
        ServerDialect {
            refuses_checksum_headers: self.refuses_checksum_headers.load(Ordering::Relaxed),
            clock_offset_s: self.clock_offset_s.load(Ordering::Relaxed),
            multipart_etag: EtagFormula::from_u8(self.multipart_etag.load(Ordering::Relaxed)),
        }
    }

    /// Keeps what a call learned, and logs what changed.
    pub(crate) fn set(&self, tenant: &str, learned: ServerDialect) {
        if learned.refuses_checksum_headers && !self.refuses_checksum_headers.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                target: "coffer_host::dialect",
                tenant,
                "the server refused an x-amz-checksum-* header: this tenant's requests go without them from now on \
                 (integrity rests on Content-MD5 and the MD5 ETag); set checksum = \"none\" to start that way"
            );
        }
        let formula = learned.multipart_etag;
        let before = EtagFormula::from_u8(self.multipart_etag.swap(formula.as_u8(), Ordering::Relaxed));
        if formula == EtagFormula::Other && before != formula {
            tracing::warn!(
                target: "coffer_host::dialect",
                tenant,
                "the server's multipart ETags do not follow AWS's formula: this tenant's multipart objects are \
                 checked against their full-object CRC-32 where the server keeps one, else their size"
            );
        }
        let offset = learned.clock_offset_s;
        if self.clock_offset_s.swap(offset, Ordering::Relaxed) != offset {
            tracing::warn!(
                target: "coffer_host::dialect",
                tenant,
                clock_offset_s = offset,
                "the server refused a request for its date: its clock is {offset} s from this host's, and this \
                 tenant's requests are signed with the server's time from now on; check the host's clock (NTP)"
            );
        }
    }
}
