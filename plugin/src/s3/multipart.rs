//! Multipart upload, for puts above the tenant's threshold: CreateMultipartUpload, the parts
//! sent `part_concurrency` at a time (each with its Content-MD5, each retried on its own), then
//! CompleteMultipartUpload. When the upload cannot be finished it is aborted, so that no parts
//! are left behind to be billed.
//!
//! Where the server takes checksum headers, the upload asks for a full-object CRC-32
//! (`x-amz-checksum-type: FULL_OBJECT`): each part carries its CRC-32, the completion the CRC-32
//! of the whole object (combined from the parts' without reading them again), which the server
//! checks and keeps, so that reads check a multipart object as cheaply as any other. Where it
//! does not, the object records its part size in `x-amz-meta-coffer-part-size`, so that a read
//! can check the whole body against the object's ETag (`md5(md5(part 1) ‖ … ‖ md5(part N))-N`);
//! it records it in both cases.

use super::call::Budget;
use super::encoding::{PART_SIZE_HEADER, base64, composite_of, hex, xml_field};
use super::parts::Part;
use super::request::Payload;
use super::client::Client;
use super::platform::{Body, HttpResponse, Platform};
use crate::error::{StoreError, parse_error_body};

/// S3's largest part count.
pub const MAX_PARTS: u64 = 10_000;

impl<P: Platform> Client<P> {
    /// Uploads the source's `size` bytes in parts. With verify-after-write, a HEAD then checks
    /// the object's size and ETag, and the whole upload is made again when they are wrong and
    /// retries remain (a streamed source that has let its bytes go cannot be sent again: that
    /// put fails).
    pub(super) fn put_multipart(&self, key: &str, source: &P::Source, size: u64) -> Result<(), StoreError> {
        let path = self.object_path(key)?;
        let part_size = part_size_for(size, self.settings.part_size);
        let mut parts: Vec<Part> = (0..size.div_ceil(part_size))
            .map(|i| {
                let start = i * part_size;
                Part { number: i as usize + 1, start, len: part_size.min(size - start), digests: None }
            })
            .collect();
        // The upload's own retries: its re-sends after a failed verification count against them.
        let mut budget = Budget::default();
        loop {
            let upload_id = self.create_upload(key, part_size, self.sends_checksums(), &mut budget)?;
            // The server took the upload's checksum headers, or (`auto`) refused them just now.
            let crc32 = self.sends_checksums();
            let uploaded = self.upload_parts(key, &path, &upload_id, source, &mut parts, crc32).and_then(|part_etags| {
                let etag = self.composite_of_parts(&parts);
                let whole_crc32 = crc32.then(|| crc32_of_parts(&parts));
                self.complete_upload(key, &upload_id, &parts, &part_etags, &etag, whole_crc32).map(|()| etag)
            });
            let etag = match uploaded {
                Ok(etag) => etag,
                Err(error) => {
                    return Err(match self.abort_upload(key, &upload_id) {
                        Ok(()) => error,
                        Err(abort) => with_abort_failure(error, &upload_id, &abort),
                    });
                }
            };
            if !self.settings.verify_after_write {
                return Ok(());
            }
            let Some(problem) = self.multipart_written_wrong(key, size, &etag)? else {
                return Ok(());
            };
            self.platform.verify_failed(&problem);
            // A backend that said "completed" and kept nothing may still hold the parts.
            let _ = self.abort_upload(key, &upload_id);
            if budget.retries >= self.settings.max_retries {
                return Err(StoreError::integrity(problem));
            }
            self.retry_after(&mut budget, None, StoreError::integrity(problem))?;
        }
    }

    /// The ETag S3 gives the object of these (hashed) parts.
    fn composite_of_parts(&self, parts: &[Part]) -> String {
        composite_of(&self.platform, parts.iter().map(|p| p.digests.as_ref().map_or([0; 16], |d| d.md5)))
    }

    /// CreateMultipartUpload; the upload's id. With `checksums`, the upload is declared as
    /// keeping a full-object CRC-32, and the server then asks every part for its CRC-32.
    pub(super) fn create_upload(&self, key: &str, part_size: u64, checksums: bool, budget: &mut Budget) -> Result<String, StoreError> {
        // A 200 without an upload id (S3 may put an error inside a 200) is retried like a 5xx.
        let has_id = |r: &HttpResponse| match r.status {
            200 if xml_field(&r.body, b"UploadId").is_none() => {
                let inside = parse_error_body(&r.body);
                let what = match inside.code.is_empty() {
                    true => "no UploadId in the answer".to_string(),
                    false => format!("200 with an error inside: {} {}", inside.code, inside.message),
                };
                Err(StoreError::unavailable(format!("CreateMultipartUpload key \"{key}\": {what}")))
            }
            _ => Ok(()),
        };
        let mut checksum = Vec::new();
        if checksums {
            checksum.push(("x-amz-checksum-algorithm".to_string(), "CRC32".to_string()));
            checksum.push(("x-amz-checksum-type".to_string(), "FULL_OBJECT".to_string()));
        }
        let response = self
            .call("POST", key)
            .query("uploads", "")
            .header("content-length", "0")
            .header(PART_SIZE_HEADER, &part_size.to_string())
            .headers(checksum)
            .accept(&has_id)
            .send(budget)?;
        match response.status {
            200 => Ok(xml_field(&response.body, b"UploadId").unwrap_or_default()),
            _ => Err(self.failure(&response, "CreateMultipartUpload", key)),
        }
    }

    /// CompleteMultipartUpload, with the whole object's CRC-32 when the parts carried theirs
    /// (`whole_crc32`). S3 may answer 200 and put an error in the body; that is retried like the
    /// 5xx it stands for. A retry after a lost answer may find the upload gone (NoSuchUpload):
    /// it is done when the object is there with the expected ETag.
    fn complete_upload(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[Part],
        part_etags: &[String],
        etag: &str,
        whole_crc32: Option<u32>,
    ) -> Result<(), StoreError> {
        let mut xml = String::from("<CompleteMultipartUpload>");
        for (part, part_etag) in parts.iter().zip(part_etags) {
            let crc = match (whole_crc32, &part.digests) {
                (Some(_), Some(d)) => format!("<ChecksumCRC32>{}</ChecksumCRC32>", base64(d.crc32.to_be_bytes())),
                _ => String::new(),
            };
            xml.push_str(&format!("<Part><PartNumber>{}</PartNumber><ETag>\"{part_etag}\"</ETag>{crc}</Part>", part.number));
        }
        xml.push_str("</CompleteMultipartUpload>");
        let sha256 = hex(&self.platform.sha256(xml.as_bytes()));
        let payload = Payload { body: Body::Bytes(xml.as_bytes()), sha256: &sha256 };
        let no_error_inside = |r: &HttpResponse| match r.status {
            200 if !parse_error_body(&r.body).code.is_empty() => {
                let inside = parse_error_body(&r.body);
                Err(StoreError::unavailable(format!(
                    "CompleteMultipartUpload key \"{key}\": 200 with an error inside: {} {}",
                    inside.code, inside.message
                )))
            }
            _ => Ok(()),
        };
        let checksum = whole_crc32.map(|crc| {
            [
                ("x-amz-checksum-crc32".to_string(), base64(crc.to_be_bytes())),
                ("x-amz-checksum-type".to_string(), "FULL_OBJECT".to_string()),
            ]
        });
        let mut budget = Budget::default();
        let response = self
            .call("POST", key)
            .query("uploadId", upload_id)
            .header("content-length", &xml.len().to_string())
            .headers(checksum.into_iter().flatten())
            .payload(payload)
            .accept(&no_error_inside)
            .send(&mut budget)?;
        match response.status {
            200 => Ok(()),
            404 if parse_error_body(&response.body).code == "NoSuchUpload" && budget.retries > 0 => {
                match self.head(key, &mut Budget::default())? {
                    Some(info) if info.etag.eq_ignore_ascii_case(etag) => Ok(()),
                    _ => Err(self.failure(&response, "CompleteMultipartUpload", key)),
                }
            }
            _ => Err(self.failure(&response, "CompleteMultipartUpload", key)),
        }
    }

    /// CompleteMultipartUpload of an upload of one part (the ETag probe's).
    pub(super) fn complete_one_part(&self, key: &str, upload_id: &str, part_etag: &str) -> Result<(), StoreError> {
        let part = Part { number: 1, start: 0, len: 0, digests: None };
        self.complete_upload(key, upload_id, &[part], &[part_etag.to_string()], "", None)
    }

    /// AbortMultipartUpload, with its own retries: the parts sent so far are dropped.
    pub(super) fn abort_upload(&self, key: &str, upload_id: &str) -> Result<(), StoreError> {
        let response = self
            .call("DELETE", key)
            .query("uploadId", upload_id)
            .header("content-length", "0")
            .send(&mut Budget::default())?;
        match response.status {
            // 404 NoSuchUpload: already gone.
            200..=299 | 404 => Ok(()),
            _ => Err(self.failure(&response, "AbortMultipartUpload", key)),
        }
    }
}

/// The part size for `len` bytes: the configured one (which the host keeps within S3's bounds),
/// raised when the object would need more than S3's 10 000 parts.
pub fn part_size_for(len: u64, configured: u64) -> u64 {
    configured.max(len.div_ceil(MAX_PARTS))
}

/// The CRC-32 of the whole object, combined from its (hashed) parts' CRC-32s and lengths.
fn crc32_of_parts(parts: &[Part]) -> u32 {
    let mut whole = crc32fast::Hasher::new();
    for part in parts {
        let crc = part.digests.as_ref().map_or(0, |d| d.crc32);
        whole.combine(&crc32fast::Hasher::new_with_initial_len(crc, part.len));
    }
    whole.finalize()
}

/// The upload's failure, and that its abort failed too (the parts stay until a lifecycle rule
/// or a later abort removes them).
fn with_abort_failure(error: StoreError, upload_id: &str, abort: &StoreError) -> StoreError {
    error.with_note(&format!(
        "(and aborting upload {upload_id} failed: {}; its parts stay until it is aborted)",
        abort.message()
    ))
}

#[cfg(test)]
mod tests;
