//! Where an answer's body goes ([`Landing`]), and the host's sink readied for it: emptied, with
//! the check that body calls for.

use crate::bindings::coffer::blobstore::body::Sink;
use crate::bindings::coffer::blobstore::types;
use crate::error::StoreError;
use crate::s3::{Check, content_range, same_etag};

/// Empties the sink, which keeps `check` of what comes next.
pub(super) fn reset(sink: &Sink, check: Check) -> Result<(), StoreError> {
    let check = match check {
        Check::None => types::Check::None,
        Check::Crc32 => types::Check::Crc32,
        Check::Crc32c => types::Check::Crc32c,
        Check::Crc64Nvme => types::Check::Crc64nvme,
        Check::Sha1 => types::Check::Sha1,
        Check::Md5 => types::Check::Md5,
        Check::Sha256 => types::Check::Sha256,
        Check::Md5OfParts(size) => types::Check::Md5OfParts(size),
    };
    sink.reset(check)
}

/// Where an answer's body goes.
#[derive(Clone, Copy)]
pub(super) enum Landing<'s> {
    /// Into memory (an error, an XML document, an answer without a sink).
    Memory,
    /// A 200 or 206's into the sink, reset first with the check its head calls for.
    Sink(&'s Sink),
    /// A 206's that starts at byte `from` of the object with `etag`, on with the bytes the
    /// sink holds.
    After { sink: &'s Sink, from: u64, etag: &'s str },
}

/// Whether an answer's head is that of the bytes from `from` of the object with `etag`.
pub(super) fn continues(headers: &[(String, String)], from: u64, etag: &str) -> bool {
    let same = crate::s3::header_of(headers, "etag").is_some_and(|e| same_etag(e, etag));
    same && content_range(headers).is_some_and(|r| r.start == from)
}

impl<'s> Landing<'s> {
    pub(super) fn of(into: Option<&'s Sink>) -> Landing<'s> {
        into.map_or(Landing::Memory, Landing::Sink)
    }
}
