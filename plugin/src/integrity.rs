//! Read integrity: a body is data only when it is what the server promised, checked against the
//! cheapest whole-object check the answer offers.

use base64::Engine as _;

use super::{HttpResponse, Platform, multipart};
use crate::error::StoreError;

/// A body is data only when it is what the server promised: as long as its Content-Length, and,
/// for a whole single-part object (status 200 with an MD5 ETag), with that MD5.
pub(super) fn check_body(platform: &impl Platform, response: &HttpResponse, key: &str) -> Result<(), StoreError> {
    let length = response.header("content-length").and_then(|v| v.trim().parse::<usize>().ok());
    if let Some(promised) = length.filter(|&promised| promised != response.body.len()) {
        return Err(StoreError::integrity(format!(
            "GET key \"{key}\": Content-Length {promised} but {} bytes arrived",
            response.body.len()
        )));
    }
    if response.status != 200 {
        return Ok(());
    }
    // The object's full CRC-32, kept by the server since its PUT: the cheapest whole check.
    let full_object = response.header("x-amz-checksum-type").is_none_or(|t| t.eq_ignore_ascii_case("FULL_OBJECT"));
    if let Some(expected) = response.header("x-amz-checksum-crc32").map(str::trim).filter(|c| full_object && !c.contains('-')) {
        let actual = base64::engine::general_purpose::STANDARD.encode(platform.crc32(&response.body).to_be_bytes());
        if actual != expected {
            return Err(StoreError::integrity(format!(
                "GET key \"{key}\": the bytes received have CRC-32 {actual}, the object's checksum is {expected}"
            )));
        }
        return Ok(());
    }
    let etag = response.header("etag").unwrap_or_default().trim_matches('"');
    if is_md5_etag(etag) {
        let md5 = hex(&platform.md5(&response.body));
        if !md5.eq_ignore_ascii_case(etag) {
            return Err(StoreError::integrity(format!(
                "GET key \"{key}\": the bytes received have MD5 {md5}, the object's ETag is {etag}"
            )));
        }
        return Ok(());
    }
    // A multipart object Coffer wrote: its ETag from the MD5s of its parts.
    let part_size = response.header(multipart::PART_SIZE_HEADER).and_then(|v| v.trim().parse::<usize>().ok());
    if let Some(part_size) = part_size.filter(|&size| size > 0 && multipart::is_composite_etag(etag)) {
        let actual = multipart::composite_etag(platform, &response.body, part_size);
        if !actual.eq_ignore_ascii_case(etag) {
            return Err(StoreError::integrity(format!(
                "GET key \"{key}\": the bytes received have multipart ETag {actual}, the object's is {etag}"
            )));
        }
        return Ok(());
    }
    // No MD5 to go by (multipart, SSE-KMS...): the object's full SHA-256 checksum, when the
    // server returns one (composite checksums of parts, `...-N`, cannot be checked whole).
    if let Some(expected) = response.header("x-amz-checksum-sha256").map(str::trim).filter(|c| !c.contains('-')) {
        let actual = base64::engine::general_purpose::STANDARD.encode(platform.sha256(&response.body));
        if actual != expected {
            return Err(StoreError::integrity(format!(
                "GET key \"{key}\": the bytes received have SHA-256 {actual}, the object's checksum is {expected}"
            )));
        }
    }
    Ok(())
}

/// Single-part uploads have the MD5 of the body as ETag; multipart ones `md5-N`, and some
/// backends use other schemes. Only a 32-hex-digit ETag is compared.
pub(super) fn is_md5_etag(etag: &str) -> bool {
    etag.len() == 32 && etag.bytes().all(|b| b.is_ascii_hexdigit())
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
