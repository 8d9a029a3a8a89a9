//! The parts of a multipart upload: each hashed by the host when it is first sent, sent
//! `part_concurrency` at a time with its Content-MD5 (and CRC-32), each retried on its own, and
//! its ETag checked against its MD5.

use std::collections::VecDeque;

use super::client::Client;
use super::encoding::{base64, hex, is_md5_etag};
use super::platform::{Body, HttpResponse, Platform};
use super::request::Payload;
use crate::error::StoreError;
use crate::retry;

/// One part: where its bytes lie in the source, and, once hashed, their digests. A part is
/// hashed when it is first sent, so that a source streamed from the caller is read part by part.
pub(super) struct Part {
    pub(super) number: usize,
    pub(super) start: u64,
    pub(super) len: u64,
    pub(super) digests: Option<PartDigests>,
}

pub(super) struct PartDigests {
    pub(super) md5: [u8; 16],
    /// Hex, for the signature.
    pub(super) sha256: String,
    pub(super) crc32: u32,
}

impl<P: Platform> Client<P> {
    /// Sends every part, `part_concurrency` at a time, each with its CRC-32 when `crc32`; each
    /// part is retried on its own, up to `max_retries` times. The part ETags, in part order.
    pub(super) fn upload_parts(
        &self,
        key: &str,
        path: &str,
        upload_id: &str,
        source: &P::Source,
        parts: &mut [Part],
        crc32: bool,
    ) -> Result<Vec<String>, StoreError> {
        let at_once = self.settings.part_concurrency.max(1) as usize;
        let mut etags = vec![String::new(); parts.len()];
        // (part index, retries used)
        let mut to_send: VecDeque<(usize, u32)> = (0..parts.len()).map(|i| (i, 0)).collect();
        while !to_send.is_empty() {
            let batch: Vec<(usize, u32)> = to_send.drain(..at_once.min(to_send.len())).collect();
            if let Some(retries) = batch.iter().map(|&(_, r)| r).filter(|&r| r > 0).max() {
                self.platform.sleep_ms(retry::delay_ms(retries - 1, self.platform.random_u64(), None));
            }
            for &(i, _) in &batch {
                self.hash(source, &mut parts[i])?;
            }
            let answers = self.send_batch(path, upload_id, source, parts, &batch, crc32);
            for ((i, retries), answer) in batch.into_iter().zip(answers) {
                let error = match self.part_etag(key, &parts[i], answer) {
                    Ok(etag) => {
                        etags[i] = etag;
                        continue;
                    }
                    Err(error) => error,
                };
                if !retry::should_retry(&error, retries, self.settings.max_retries) {
                    return Err(error);
                }
                self.time_for(retry::backoff_ms(retries, 0), error)?;
                to_send.push_back((i, retries + 1));
            }
            // Every part before the first one not yet stored is done with: a streamed source
            // lets those bytes go.
            let first_pending = etags.iter().position(String::is_empty).map_or(u64::MAX, |i| parts[i].start);
            self.platform.release(source, first_pending);
        }
        Ok(etags)
    }

    /// The batch's parts sent at once, each with its own query, headers and body.
    fn send_batch(
        &self,
        path: &str,
        upload_id: &str,
        source: &P::Source,
        parts: &[Part],
        batch: &[(usize, u32)],
        crc32: bool,
    ) -> Vec<Result<HttpResponse, StoreError>> {
        let queries: Vec<[(String, String); 2]> = batch
            .iter()
            .map(|&(i, _)| [("partNumber".to_string(), parts[i].number.to_string()), ("uploadId".to_string(), upload_id.to_string())])
            .collect();
        let headers: Vec<Vec<(String, String)>> = batch.iter().map(|&(i, _)| part_headers(&parts[i], crc32)).collect();
        let payloads: Vec<Payload<'_, P::Source>> = batch
            .iter()
            .map(|&(i, _)| Payload {
                body: Body::Source { source, start: parts[i].start, len: parts[i].len },
                sha256: &parts[i].digests.as_ref().expect("hashed before it is sent").sha256,
            })
            .collect();
        let requests: Vec<_> =
            (0..batch.len()).map(|j| self.request("PUT", path, &queries[j], &headers[j], &payloads[j])).collect();
        self.platform.send_many(&requests, self.attempt_timeout_ms())
    }

    /// The part's digests, from the host, unless it has them (a part sent again).
    fn hash(&self, source: &P::Source, part: &mut Part) -> Result<(), StoreError> {
        if part.digests.is_none() {
            let d = self.platform.digests(source, part.start, part.len)?;
            part.digests = Some(PartDigests { md5: d.md5, sha256: hex(&d.sha256), crc32: d.crc32 });
        }
        Ok(())
    }

    /// The ETag the server stored the part under, or why the part is to be sent again or the
    /// upload failed: an answer other than 2xx, or an MD5 ETag that is not the part's MD5.
    fn part_etag(&self, key: &str, part: &Part, answer: Result<HttpResponse, StoreError>) -> Result<String, StoreError> {
        let response = answer?;
        if !(200..300).contains(&response.status) {
            return Err(self.failure(&response, "UploadPart", key));
        }
        let etag = response.header("etag").unwrap_or_default().trim_matches('"').to_string();
        let md5 = hex(&part.digests.as_ref().expect("hashed before it was sent").md5);
        if !is_md5_etag(&etag) || etag.eq_ignore_ascii_case(&md5) {
            return Ok(etag);
        }
        let what = format!("UploadPart {} of key \"{key}\"", part.number);
        Err(StoreError::unavailable(format!("{what}: sent MD5 {md5} but the server kept {etag}")))
    }
}

/// A part's headers: its length, its MD5 and, with `crc32`, its CRC-32.
fn part_headers(part: &Part, crc32: bool) -> Vec<(String, String)> {
    let digests = part.digests.as_ref().expect("hashed before it is sent");
    let mut headers = vec![("content-length".to_string(), part.len.to_string()), ("content-md5".to_string(), base64(digests.md5))];
    if crc32 {
        headers.push(("x-amz-checksum-crc32".to_string(), base64(digests.crc32.to_be_bytes())));
    }
    headers
}
