//! The object calls: get (checked against what the server promised), put (verified after
//! the write), delete, and stat.

use super::call::Budget;
use super::client::{Client, ObjectInfo};
use super::encoding::{base64, hex, is_md5_etag};
use super::integrity::{self, check_body};
use super::platform::{Body, Check, HttpResponse, Platform};
use super::request::Payload;
use super::settings::EtagFormula;
use crate::error::{StoreError, parse_error_body};

impl<P: Platform> Client<P> {
    /// Writes the object's bytes, or those of the half-open range [start, end), into `into`:
    /// `true`, or `false` when the object does not exist. A body found damaged is read again
    /// within the call's retries, the sink reset each time; it is never answered as data. A
    /// first attempt whose answer has not begun after `hedge_after_us` is sent once more.
    pub fn get(&self, key: &str, range: Option<(u64, Option<u64>)>, into: &P::Sink, hedge_after_us: Option<u64>) -> Result<bool, StoreError> {
        self.begin_call();
        let mut headers = Vec::new();
        if let Some((start, end)) = range {
            match end {
                Some(end) if end <= start => {
                    // Nothing to read: answer for existence alone.
                    return Ok(self.head(key, &mut Budget::default())?.is_some());
                }
                Some(end) => headers.push(("range".into(), format!("bytes={start}-{}", end - 1))),
                None => headers.push(("range".into(), format!("bytes={start}-"))),
            }
        }
        let intact = |response: &HttpResponse| match response.status {
            200 | 206 => self.intact(response, key),
            _ => Ok(()),
        };
        // Ask for the object's checksums too, for objects whose ETag is not an MD5; but send no
        // x-amz-checksum-* header at all to a provider that refuses them (Backblaze B2 refuses
        // the mode too).
        if self.sends_checksums() {
            headers.push(("x-amz-checksum-mode".into(), "ENABLED".into()));
        }
        let response =
            self.call("GET", key).headers(headers).sink(into).hedge(hedge_after_us).ranged().accept(&intact).send(&mut Budget::default())?;
        match response.status {
            200 => {
                if let Some(reason) = integrity::unchecked_composite(&response.headers, key) {
                    self.platform.unchecked(&reason);
                }
                if integrity::rests_on_parts_etag(&response) && self.dialect().multipart_etag == EtagFormula::Other {
                    self.platform.unchecked(&format!(
                        "GET key \"{key}\": the server's multipart ETags are not AWS's formula and it kept no full-object checksum: checked against its length only"
                    ));
                }
                Ok(true)
            }
            206 => Ok(true),
            404 if is_missing_key(&response) => Ok(false),
            // The range starts at or past the end: the object exists, and holds no such bytes.
            416 => self.platform.reset(into, Check::None).map(|()| true),
            _ => Err(self.failure(&response, "GET", key)),
        }
    }

    /// [`check_body`] with the server's multipart ETag formula: a whole read that matches no
    /// multipart ETag while the formula is unknown asks the server for it first, so that an
    /// ETag of another formula is never taken for damage.
    fn intact(&self, response: &HttpResponse, key: &str) -> Result<(), StoreError> {
        let formula = self.dialect().multipart_etag;
        match check_body(response, key, formula) {
            Err(_) if formula == EtagFormula::Unknown && integrity::rests_on_parts_etag(response) => {
                check_body(response, key, self.etag_formula())
            }
            checked => checked,
        }
    }

    /// Creates or replaces the object with the source's bytes. With verify-after-write, a HEAD
    /// then checks that the object is there with the size and MD5 sent; when it is not, the
    /// PUT is sent again (after a backoff) while the PUT's retries remain, and the put fails
    /// with an integrity error when they are spent. Each request has its own `max_retries`: the
    /// PUT (its re-sends after a failed verification included) and each verifying HEAD.
    pub fn put(&self, key: &str, source: &P::Source) -> Result<(), StoreError> {
        self.begin_call();
        // The key is checked before the source is read.
        self.object_path(key)?;
        let size = self.platform.size(source);
        if size > self.settings.multipart_threshold {
            return self.put_multipart(key, source, size);
        }
        let digests = self.platform.digests(source, 0, size)?;
        let md5_hex = hex(&digests.md5);
        let mut headers = vec![
            ("content-length".to_string(), size.to_string()),
            ("content-md5".to_string(), base64(digests.md5)),
        ];
        if self.sends_checksums() {
            let crc = digests.crc32.to_be_bytes();
            headers.push(("x-amz-checksum-crc32".to_string(), base64(crc)));
        }
        let sha256 = hex(&digests.sha256);
        let payload = Payload { body: Body::Source { source, start: 0, len: size }, sha256: &sha256 };
        let mut budget = Budget::default();
        loop {
            let response = self.call("PUT", key).headers(headers.clone()).payload(payload).send(&mut budget)?;
            if !(200..300).contains(&response.status) {
                return Err(self.failure(&response, "PUT", key));
            }
            if !self.settings.verify_after_write {
                return Ok(());
            }
            let Some(problem) = self.written_wrong("PUT", key, size, &md5_hex, is_md5_etag)? else {
                return Ok(());
            };
            self.platform.verify_failed(&problem);
            if budget.retries >= self.settings.max_retries {
                return Err(StoreError::integrity(problem));
            }
            self.retry_after(&mut budget, None, StoreError::integrity(problem))?;
        }
    }

    /// Verify-after-write: what a HEAD finds wrong with the object a `write` ("PUT", "multipart
    /// upload") just stored, or `None` when it is there with `size` bytes and, if the server's
    /// ETag is of the kind `comparable` recognises, the `etag` sent.
    fn written_wrong(
        &self,
        write: &str,
        key: &str,
        size: u64,
        etag: &str,
        comparable: fn(&str) -> bool,
    ) -> Result<Option<String>, StoreError> {
        Ok(match self.head(key, &mut Budget::default())? {
            None => Some(format!("{write} of key \"{key}\" succeeded but a HEAD finds no object")),
            Some(info) if info.size != size => {
                Some(format!("{write} of key \"{key}\" sent {size} bytes but the stored object has {}", info.size))
            }
            Some(info) if comparable(&info.etag) && !info.etag.eq_ignore_ascii_case(etag) => {
                Some(format!("{write} of key \"{key}\" sent ETag {etag} but the stored object's is {}", info.etag))
            }
            Some(_) => None,
        })
    }

    /// Deletes the object; `true` when it existed before.
    pub fn delete(&self, key: &str) -> Result<bool, StoreError> {
        self.begin_call();
        if self.head(key, &mut Budget::default())?.is_none() {
            return Ok(false);
        }
        // Some servers (s3s) refuse a DELETE without a Content-Length.
        let response = self.call("DELETE", key).header("content-length", "0").send(&mut Budget::default())?;
        match response.status {
            200..=299 => Ok(true),
            404 if is_missing_key(&response) => Ok(false),
            _ => Err(self.failure(&response, "DELETE", key)),
        }
    }

    /// Size, ETag and Last-Modified of the object; `None` when it does not exist.
    pub fn stat(&self, key: &str) -> Result<Option<ObjectInfo>, StoreError> {
        self.begin_call();
        self.head(key, &mut Budget::default())
    }

    pub(super) fn head(&self, key: &str, budget: &mut Budget) -> Result<Option<ObjectInfo>, StoreError> {
        let response = self.call("HEAD", key).send(budget)?;
        match response.status {
            200 => {
                let size = response
                    .header("content-length")
                    .and_then(|v| v.trim().parse().ok())
                    .ok_or_else(|| StoreError::other(format!("HEAD key \"{key}\": no Content-Length")))?;
                Ok(Some(ObjectInfo {
                    size,
                    etag: response.header("etag").unwrap_or_default().trim_matches('"').to_string(),
                    last_modified: response.header("last-modified").map(str::to_string),
                }))
            }
            404 => Ok(None),
            _ => Err(self.failure(&response, "HEAD", key)),
        }
    }
}

/// A 404 with no body (HEAD) or NoSuchKey means the key is missing; NoSuchBucket is an error.
fn is_missing_key(response: &HttpResponse) -> bool {
    parse_error_body(&response.body).code != "NoSuchBucket"
}
