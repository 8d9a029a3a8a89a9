//! The host's sink, readied for an answer's body: emptied, with the check that body calls for.

use crate::bindings::coffer::blobstore::body::Sink;
use crate::bindings::coffer::blobstore::types;
use crate::error::StoreError;
use crate::s3::Check;

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
