//! What an answer says about the server's dialect, beyond success or failure: that it refuses
//! checksum headers (Backblaze B2, Cloudflare R2), or that it refused the request's date because
//! the host's clock is off. Pure functions of the answer; call.rs acts on them.

use crate::error::parse_error_body;

/// How far the host's clock may be from the server's before a refused request is put down to
/// it: SigV4 servers refuse past 15 minutes; 5 leaves room for the request's own travel.
pub const SKEW_TOLERANCE_S: i64 = 5 * 60;

/// Headers that only carry checksums: `x-amz-checksum-*` (the values, the mode, the algorithm
/// and type of a multipart upload) and `x-amz-sdk-checksum-*`.
pub fn is_checksum_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.starts_with("x-amz-checksum-") || name.starts_with("x-amz-sdk-checksum-")
}

/// Whether an answer refuses the request for a checksum header: a 400 or 501 whose error names
/// one, and that is not about a digest not matching (a damaged body is not a refused header).
/// B2: `400 InvalidArgument: Unsupported header 'x-amz-checksum-crc32' received for this
/// API call.`; R2: `501 NotImplemented: Header 'x-amz-checksum-crc32' with value '…' not
/// implemented`.
pub fn refuses_checksum_headers(status: u16, body: &[u8]) -> bool {
    if status != 400 && status != 501 {
        return false;
    }
    let error = parse_error_body(body);
    if DIGEST_MISMATCHES.contains(&error.code.as_str()) {
        return false;
    }
    let text = format!("{} {}", error.code, error.message).to_ascii_lowercase();
    text.contains("x-amz-checksum-") || text.contains("x-amz-sdk-checksum-")
}

/// The codes of a body that did not match its digests.
const DIGEST_MISMATCHES: [&str; 3] = ["BadDigest", "InvalidDigest", "XAmzContentChecksumMismatch"];

/// The server's clock minus the host's, in seconds, when a 403 was the host's clock's fault:
/// its code is `RequestTimeTooSkewed`, or its `Date` is further than [`SKEW_TOLERANCE_S`] from
/// the time the request was signed with (`host_now + offset_s`). `None` when it was not, when
/// the answer has no date to go by, or when the offset already in use is the one it gives.
pub fn clock_offset(status: u16, s3_code: &str, date: Option<&str>, host_now: u64, offset_s: i64) -> Option<i64> {
    if status != 403 {
        return None;
    }
    let server_now = date.and_then(unix_seconds)?;
    let offset = server_now - host_now as i64;
    let skewed = s3_code == "RequestTimeTooSkewed" || (offset - offset_s).abs() > SKEW_TOLERANCE_S;
    (skewed && offset != offset_s).then_some(offset)
}

/// Seconds since the Unix epoch of an HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`).
fn unix_seconds(date: &str) -> Option<i64> {
    let time = httpdate::parse_http_date(date.trim()).ok()?;
    Some(time.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs() as i64)
}

#[cfg(test)]
mod tests;
