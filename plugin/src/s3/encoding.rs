//! How S3 spells what it promises of an object: ETags (an MD5, or a multipart `md5-N`), hex,
//! base64, and a field of an XML answer. Read by the integrity checks, the multipart upload and
//! the ETag-formula probe alike.

use base64::Engine as _;
use quick_xml::Reader;
use quick_xml::events::Event;

use super::platform::Platform;

/// The metadata header that records the part size of a multipart object, so that a reader
/// can check its multipart ETag.
pub const PART_SIZE_HEADER: &str = "x-amz-meta-coffer-part-size";

/// Single-part uploads have the MD5 of the body as ETag; multipart ones `md5-N`, and some
/// backends use other schemes. Only a 32-hex-digit ETag is compared.
pub fn is_md5_etag(etag: &str) -> bool {
    etag.len() == 32 && etag.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Lowercase hex, as ETags are spelled.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Standard base64 with padding, as checksum headers and Content-MD5 are spelled.
pub fn base64(bytes: impl AsRef<[u8]>) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The ETag S3 gives a multipart object: the MD5 of the parts' MD5s, then `-` and the count.
pub fn composite_of(platform: &impl Platform, md5s: impl Iterator<Item = [u8; 16]>) -> String {
    let mut joined = Vec::new();
    let mut count = 0;
    for md5 in md5s {
        joined.extend_from_slice(&md5);
        count += 1;
    }
    format!("{}-{count}", hex(&platform.md5(&joined)))
}

/// The multipart ETag `data` would have if uploaded in parts of `part_size`.
#[cfg(test)]
pub fn composite_etag(platform: &impl Platform, data: &[u8], part_size: usize) -> String {
    composite_of(platform, data.chunks(part_size.max(1)).map(|part| platform.md5(part)))
}

/// `32 hex digits-N`.
pub fn is_composite_etag(etag: &str) -> bool {
    match etag.split_once('-') {
        Some((md5, count)) => is_md5_etag(md5) && !count.is_empty() && count.bytes().all(|b| b.is_ascii_digit()),
        None => false,
    }
}

/// The text of the first element named `name` in an XML answer.
pub fn xml_field(body: &[u8], name: &[u8]) -> Option<String> {
    let mut reader = Reader::from_reader(body);
    let mut buf = Vec::new();
    let mut inside = false;
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(tag)) => inside = tag.local_name().as_ref() == name,
            Ok(Event::Text(text)) if inside => return text.xml10_content().ok().map(|t| t.into_owned()),
            Ok(Event::End(_)) => inside = false,
            Ok(Event::Eof) | Err(_) => return None,
            _ => {}
        }
        buf.clear();
    }
}
