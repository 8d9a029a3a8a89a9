use md5::Digest;

use super::*;
use crate::s3::parts::PartDigests;
use crate::s3::encoding::{composite_etag, is_composite_etag};

struct Native;
impl Platform for Native {
    type Source = [u8];
    type Sink = ();
    fn send(&self, _: &crate::s3::HttpRequest<'_, [u8]>, _: Option<&()>, _: u64) -> Result<HttpResponse, StoreError> {
        unreachable!("no wire here")
    }
    fn send_on(&self, _: &crate::s3::HttpRequest<'_, [u8]>, _: &(), _: u64, _: &str, _: u64) -> Result<HttpResponse, StoreError> {
        unreachable!("no wire here")
    }
    fn size(&self, source: &[u8]) -> u64 {
        source.len() as u64
    }
    fn digests(&self, _: &[u8], _: u64, _: u64) -> Result<crate::s3::Digests, StoreError> {
        unreachable!("no source here")
    }
    fn reset(&self, _: &(), _: crate::s3::Check) -> Result<(), StoreError> {
        Ok(())
    }
    fn unix_time(&self) -> u64 {
        0
    }
    fn sleep_ms(&self, _: u64) {}
    fn now_ms(&self) -> u64 {
        0
    }
    fn random_u64(&self) -> u64 {
        0
    }
}

#[test]
fn parts_are_the_configured_size_unless_s3s_part_count_forces_larger() {
    assert_eq!(part_size_for(50 << 20, 8 << 20), 8 << 20);
    let huge = 200u64 << 30;
    assert!(huge.div_ceil(part_size_for(huge, 8 << 20)) <= MAX_PARTS);
}

#[test]
fn the_composite_etag_is_the_md5_of_the_part_md5s_and_the_count() {
    // Two parts, "a" * 3 and "b": md5(md5("aaa") ‖ md5("b")), as S3 and Garage compute it.
    let etag = composite_etag(&Native, b"aaab", 3);
    let joined = [md5::Md5::digest(b"aaa").as_slice(), md5::Md5::digest(b"b").as_slice()].concat();
    assert_eq!(etag, format!("{}-2", hex(&md5::Md5::digest(&joined))));
    assert!(is_composite_etag(&etag));
    assert!(!is_composite_etag("d41d8cd98f00b204e9800998ecf8427e"));
    assert!(!is_composite_etag("d41d8cd98f00b204e9800998ecf8427e-"));
    assert!(!is_composite_etag("xyz-2"));
}

#[test]
fn the_whole_crc32_is_combined_from_the_parts() {
    let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let parts: Vec<Part> = data
        .chunks(3000)
        .enumerate()
        .map(|(i, chunk)| Part {
            number: i + 1,
            start: i as u64 * 3000,
            len: chunk.len() as u64,
            digests: Some(PartDigests { md5: [0; 16], sha256: String::new(), crc32: crc32fast::hash(chunk) }),
        })
        .collect();
    assert_eq!(parts.len(), 4);
    assert_eq!(crc32_of_parts(&parts), crc32fast::hash(&data));
}

#[test]
fn the_upload_id_is_read_from_the_answer() {
    let body = br#"<?xml version="1.0"?><InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>abc-123</UploadId></InitiateMultipartUploadResult>"#;
    assert_eq!(xml_field(body, b"UploadId").as_deref(), Some("abc-123"));
    assert_eq!(xml_field(b"<Error><Code>X</Code></Error>", b"UploadId"), None);
}
