//! Read integrity: a body is data only when it is what the server promised, checked against the
//! cheapest whole-object check the answer offers. The check is chosen from the answer's head
//! ([`check_for`]) before the body arrives, so that the host hashes the bytes as they land in
//! the sink; [`check_body`] then compares what the sink received with what was promised.

use base64::Engine as _;

use super::encoding::{PART_SIZE_HEADER, hex, is_composite_etag, is_md5_etag};
use super::platform::{Check, HttpResponse, Received, header_of};
use super::settings::EtagFormula;
use crate::error::StoreError;

/// What an answer promises its body is, and how to tell.
struct Expected<'h> {
    check: Check,
    /// The promise as the answer spells it (base64 checksum, hex ETag, `hex-N`).
    value: &'h str,
    /// What the promise is, for the message.
    name: &'static str,
}

/// The digest a sink should keep of a 200 or 206 answer's body: the cheapest whole-object
/// check its head offers. A 206 is a part of the object, so no whole-object digest applies.
pub fn check_for(status: u16, headers: &[(String, String)]) -> Check {
    match status {
        200 => expected(headers).map_or(Check::None, |e| e.check),
        _ => Check::None,
    }
}

/// The full-object checksums a server may return, cheapest first: (header, check, name).
const CRCS: [(&str, Check, &str); 3] = [
    ("x-amz-checksum-crc32", Check::Crc32, "CRC-32 checksum"),
    ("x-amz-checksum-crc32c", Check::Crc32c, "CRC-32C checksum"),
    ("x-amz-checksum-crc64nvme", Check::Crc64Nvme, "CRC-64/NVME checksum"),
];
const HASHES: [(&str, Check, &str); 2] = [
    ("x-amz-checksum-sha1", Check::Sha1, "SHA-1 checksum"),
    ("x-amz-checksum-sha256", Check::Sha256, "SHA-256 checksum"),
];

/// The whole-object check an answer's head offers, cheapest first: a full-object CRC, the MD5
/// ETag, the ETag of a multipart object Coffer wrote, a full-object SHA-1 or SHA-256. A
/// composite checksum (of the parts, `...-N`) cannot be checked whole and is passed over.
fn expected(headers: &[(String, String)]) -> Option<Expected<'_>> {
    let full = |header: &str| full_object_checksum(headers, header);
    if let Some((value, check, name)) = CRCS.iter().find_map(|&(h, check, name)| Some((full(h)?, check, name))) {
        return Some(Expected { check, value, name });
    }
    let etag = header_of(headers, "etag").unwrap_or_default().trim().trim_matches('"');
    if is_md5_etag(etag) {
        return Some(Expected { check: Check::Md5, value: etag, name: "ETag (MD5)" });
    }
    // A multipart object Coffer wrote: its ETag from the MD5s of its parts.
    let part_size = header_of(headers, PART_SIZE_HEADER).and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(part_size) = part_size.filter(|&size| size > 0 && is_composite_etag(etag)) {
        return Some(Expected { check: Check::Md5OfParts(part_size), value: etag, name: "multipart ETag" });
    }
    let (value, check, name) = HASHES.iter().find_map(|&(h, check, name)| Some((full(h)?, check, name)))?;
    Some(Expected { check, value, name })
}

/// The value of checksum `header` when it is of the whole object: the answer does not call its
/// checksums COMPOSITE, and the value is not one of parts (`...-N`).
fn full_object_checksum<'h>(headers: &'h [(String, String)], header: &str) -> Option<&'h str> {
    let composite = header_of(headers, "x-amz-checksum-type").is_some_and(|t| t.trim().eq_ignore_ascii_case("COMPOSITE"));
    header_of(headers, header).map(str::trim).filter(|value| !composite && !value.contains('-') && !value.is_empty())
}

/// When the answer's head offers a checksum that cannot be checked whole (a composite one, of
/// the parts), what to say in the log: which it was, and what the body was checked against.
pub(super) fn unchecked_composite(headers: &[(String, String)], key: &str) -> Option<String> {
    let (header, value) = CRCS.iter().chain(&HASHES).find_map(|&(header, _, _)| {
        let value = header_of(headers, header)?.trim();
        (full_object_checksum(headers, header).is_none() && !value.is_empty()).then_some((header, value))
    })?;
    let instead = expected(headers).map_or("its length only", |e| e.name);
    Some(format!(
        "GET key \"{key}\": the object's {header} {value} is a checksum of its parts and cannot be checked whole; checked against {instead}"
    ))
}

/// A body is data only when it is what the server promised: as long as its Content-Length, and,
/// for a whole object (status 200), with the digest its head promised. A multipart ETag is a
/// promise only where the server forms it as AWS does: under another `formula` it is passed
/// over (the length still counts), and under an unknown one a mismatch is an integrity error
/// that [`rests_on_parts_etag`] lets the caller settle by learning the formula.
pub(super) fn check_body(response: &HttpResponse, key: &str, formula: EtagFormula) -> Result<(), StoreError> {
    let Some(received) = &response.received else {
        return Err(StoreError::other(format!("GET key \"{key}\": the body went nowhere")));
    };
    let length = response.header("content-length").and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(promised) = length.filter(|&promised| promised != received.size) {
        return Err(StoreError::integrity(format!(
            "GET key \"{key}\": Content-Length {promised} but {} bytes arrived",
            received.size
        )));
    }
    if response.status != 200 {
        return Ok(());
    }
    let Some(expected) = expected(&response.headers) else { return Ok(()) };
    if matches!(expected.check, Check::Md5OfParts(_)) && formula == EtagFormula::Other {
        return Ok(());
    }
    let actual = spelled(expected.check, received);
    if !actual.eq_ignore_ascii_case(expected.value) {
        return Err(StoreError::integrity(format!(
            "GET key \"{key}\": the bytes received have {} {actual}, the object's is {}",
            expected.name, expected.value
        )));
    }
    Ok(())
}

/// Whether a 200 answer's body is checked against a multipart ETag alone (no full-object
/// checksum came with it): then what the ETag means depends on the server's formula.
pub(super) fn rests_on_parts_etag(response: &HttpResponse) -> bool {
    response.status == 200 && expected(&response.headers).is_some_and(|e| matches!(e.check, Check::Md5OfParts(_)))
}

/// The received digest spelled as the answer spells its promise.
fn spelled(check: Check, received: &Received) -> String {
    let base64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    match check {
        Check::None => String::new(),
        Check::Crc32 | Check::Crc32c | Check::Crc64Nvme | Check::Sha1 | Check::Sha256 => base64(&received.digest),
        Check::Md5 => hex(&received.digest),
        Check::Md5OfParts(part_size) => {
            format!("{}-{}", hex(&received.digest), received.size.div_ceil(part_size).max(1))
        }
    }
}
