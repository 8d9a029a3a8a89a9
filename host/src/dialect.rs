//! What a tenant's calls have learned of its server (the WIT's `dialect`): that it refuses
//! checksum headers, and how far its clock is from the host's. Each of the tenant's instances
//! starts its calls from it, so a lesson is paid for once per tenant, not once per instance;
//! each change is logged once, at warn, with the tenant's name.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

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
}

/// The tenant's [`ServerDialect`], shared by its instances.
#[derive(Debug, Default)]
pub(crate) struct Learned {
    refuses_checksum_headers: AtomicBool,
    clock_offset_s: AtomicI64,
}

impl Learned {
    pub(crate) fn get(&self) -> ServerDialect {
        ServerDialect {
            refuses_checksum_headers: self.refuses_checksum_headers.load(Ordering::Relaxed),
            clock_offset_s: self.clock_offset_s.load(Ordering::Relaxed),
        }
    }

    /// Keeps what a call learned, and logs what changed.
    pub(crate) fn set(&self, tenant: &str, learned: ServerDialect) {
        if learned.refuses_checksum_headers && !self.refuses_checksum_headers.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                tenant,
                "the server refused an x-amz-checksum-* header: this tenant's requests go without them from now on \
                 (integrity rests on Content-MD5 and the MD5 ETag); set checksum = \"none\" to start that way"
            );
        }
        let offset = learned.clock_offset_s;
        if self.clock_offset_s.swap(offset, Ordering::Relaxed) != offset {
            tracing::warn!(
                tenant,
                clock_offset_s = offset,
                "the server refused a request for its date: its clock is {offset} s from this host's, and this \
                 tenant's requests are signed with the server's time from now on; check the host's clock (NTP)"
            );
        }
    }
}
