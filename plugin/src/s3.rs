//! The S3 operations a blob store needs (GetObject, PutObject, DeleteObject, HeadObject) over a
//! [`Platform`], so that everything but the wire is testable natively. Each job has a file:
//! requests are built and signed in request.rs, sent and retried by the one driver in call.rs,
//! read bodies checked in integrity.rs, large puts uploaded in multipart.rs.

use base64::Engine as _;
use md5::{Digest, Md5};

use crate::error::{StoreError, classify, parse_error_body};
use crate::sigv4;
use call::Budget;
use integrity::{check_body, hex, is_md5_etag};
use request::Payload;

/// S3's limit on an object key, prefix included, in bytes of UTF-8.
pub const MAX_KEY_BYTES: usize = 1024;

/// What the plugin is given by the host for one tenant.
pub struct Settings {
    pub bucket: String,
    pub region: String,
    /// "http" or "https".
    pub scheme: String,
    /// Where requests go, normalised by the host: `host[:port]` without a default port, with
    /// the bucket in front in virtual-hosted style.
    pub authority: String,
    pub key_prefix: String,
    pub timeout_ms: u64,
    pub max_retries: u32,
    pub verify_after_write: bool,
    /// `bucket.host/key` rather than `host/bucket/key`.
    pub virtual_hosted_style: bool,
    /// Send each PUT's CRC-32 as x-amz-checksum-crc32.
    pub put_checksum: bool,
    /// A put of more bytes than this is a multipart upload.
    pub multipart_threshold: u64,
    /// The size of each part but the last.
    pub part_size: u64,
    /// How many parts of one upload are sent at once.
    pub part_concurrency: u32,
}

/// The tenant's credentials. No Debug: they are never printed.
pub struct Keys {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

/// What the store knows about an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub size: u64,
    pub etag: String,
    pub last_modified: Option<String>,
}

/// One HTTP request as the transport sends it.
pub struct HttpRequest<'a> {
    pub method: &'static str,
    pub scheme: &'a str,
    pub authority: &'a str,
    pub path_and_query: String,
    pub headers: Vec<(String, String)>,
    pub body: &'a [u8],
}

/// One HTTP response, body read in full.
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// What the client needs from its surroundings: the wire, the time, sleep and randomness.
pub trait Platform {
    /// Sends one request within `timeout_ms` (connect and first byte included).
    fn send(&self, request: &HttpRequest<'_>, timeout_ms: u64) -> Result<HttpResponse, StoreError>;
    /// Sends the requests at the same time, each within `timeout_ms`; one answer per request,
    /// in order. One request failing does not stop the others.
    fn send_many(&self, requests: &[HttpRequest<'_>], timeout_ms: u64) -> Vec<Result<HttpResponse, StoreError>> {
        requests.iter().map(|request| self.send(request, timeout_ms)).collect()
    }
    /// Seconds since the Unix epoch.
    fn unix_time(&self) -> u64;
    fn sleep_ms(&self, ms: u64);
    fn random_u64(&self) -> u64;
    /// The MD5 of `data`; the component asks the host, which hashes natively.
    fn md5(&self, data: &[u8]) -> [u8; 16] {
        Md5::digest(data).into()
    }
    /// The SHA-256 of `data`; the component asks the host, which hashes natively.
    fn sha256(&self, data: &[u8]) -> [u8; 32] {
        sigv4::sha256(data)
    }
    /// The CRC-32 (IEEE) of `data`; the component asks the host.
    fn crc32(&self, data: &[u8]) -> u32 {
        crc32fast::hash(data)
    }
    /// A request is about to be sent again after `error` (for the host's telemetry).
    fn retrying(&self, _error: &StoreError) {}
    /// Verify-after-write found the object not as sent (for the host's telemetry).
    fn verify_failed(&self, _problem: &str) {}
}

/// An S3 client for one tenant's bucket.
pub struct Client<P> {
    settings: Settings,
    keys: Keys,
    platform: P,
    /// The signing key of the day it was derived for (`yyyymmdd`): it depends on the secret,
    /// the day, the region and the service, and all but the day are the client's own.
    day_key: std::sync::Mutex<Option<(String, [u8; 32])>>,
}

impl<P: Platform> Client<P> {
    pub fn new(settings: Settings, keys: Keys, platform: P) -> Result<Self, StoreError> {
        if settings.bucket.is_empty() || settings.authority.is_empty() {
            return Err(StoreError::invalid_config("the bucket or the endpoint is empty"));
        }
        Ok(Client { settings, keys, platform, day_key: Default::default() })
    }

    /// The object's bytes, or those of the half-open range [start, end); `None` when it does
    /// not exist.
    pub fn get(&self, key: &str, range: Option<(u64, Option<u64>)>) -> Result<Option<Vec<u8>>, StoreError> {
        let mut headers = Vec::new();
        if let Some((start, end)) = range {
            match end {
                Some(end) if end <= start => {
                    // Nothing to read: answer for existence alone.
                    return Ok(self.head(key, &mut Budget::default())?.map(|_| Vec::new()));
                }
                Some(end) => headers.push(("range".into(), format!("bytes={start}-{}", end - 1))),
                None => headers.push(("range".into(), format!("bytes={start}-"))),
            }
        }
        // Bytes damaged on the way are read again within the call's retries; never returned.
        let intact = |response: &HttpResponse| match response.status {
            200 | 206 => check_body(&self.platform, response, key),
            _ => Ok(()),
        };
        // Ask for the object's checksums too, for objects whose ETag is not an MD5; but with
        // `checksum = "none"` send no x-amz-checksum-* header at all, since providers that refuse
        // one (Backblaze B2) refuse the mode too.
        if self.settings.put_checksum {
            headers.push(("x-amz-checksum-mode".into(), "ENABLED".into()));
        }
        let response = self.call("GET", key).headers(headers).accept(&intact).send(&mut Budget::default())?;
        match response.status {
            200 | 206 => Ok(Some(response.body)),
            404 if is_missing_key(&response) => Ok(None),
            // The range starts at or past the end: the object exists, and holds no such bytes.
            416 => Ok(Some(Vec::new())),
            _ => Err(self.failure(&response, "GET", key)),
        }
    }

    /// Creates or replaces the object. With verify-after-write, a HEAD then checks that the
    /// object is there with the size and MD5 sent; when it is not, the PUT is sent again (after
    /// a backoff) while retries remain, and the put fails with an integrity error when they are
    /// spent. Transient failures of the PUT and of the HEAD draw on the same budget, so a put
    /// makes at most `max_retries + 1` attempts of PUT then HEAD.
    pub fn put(&self, key: &str, data: &[u8]) -> Result<(), StoreError> {
        if data.len() as u64 > self.settings.multipart_threshold {
            return self.put_multipart(key, data);
        }
        let md5 = self.platform.md5(data);
        let md5_hex = hex(&md5);
        let mut headers = vec![
            ("content-length".to_string(), data.len().to_string()),
            ("content-md5".to_string(), base64::engine::general_purpose::STANDARD.encode(md5)),
        ];
        if self.settings.put_checksum {
            let crc = self.platform.crc32(data).to_be_bytes();
            headers.push(("x-amz-checksum-crc32".to_string(), base64::engine::general_purpose::STANDARD.encode(crc)));
        }
        let sha256 = hex(&self.platform.sha256(data));
        let payload = Payload { bytes: data, sha256: &sha256 };
        let mut budget = Budget::default();
        loop {
            let response = self.call("PUT", key).headers(headers.clone()).payload(payload).send(&mut budget)?;
            if !(200..300).contains(&response.status) {
                return Err(self.failure(&response, "PUT", key));
            }
            if !self.settings.verify_after_write {
                return Ok(());
            }
            let Some(problem) = self.written_wrong("PUT", key, data.len() as u64, &md5_hex, is_md5_etag, &mut budget)?
            else {
                return Ok(());
            };
            self.platform.verify_failed(&problem);
            if budget.retries >= self.settings.max_retries {
                return Err(StoreError::integrity(problem));
            }
            self.platform.retrying(&StoreError::integrity(problem));
            self.back_off(&mut budget, None);
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
        budget: &mut Budget,
    ) -> Result<Option<String>, StoreError> {
        Ok(match self.head(key, budget)? {
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
        let mut budget = Budget::default();
        if self.head(key, &mut budget)?.is_none() {
            return Ok(false);
        }
        // Some servers (s3s) refuse a DELETE without a Content-Length.
        let response = self.call("DELETE", key).header("content-length", "0").send(&mut budget)?;
        match response.status {
            200..=299 => Ok(true),
            404 if is_missing_key(&response) => Ok(false),
            _ => Err(self.failure(&response, "DELETE", key)),
        }
    }

    /// Size, ETag and Last-Modified of the object; `None` when it does not exist.
    pub fn stat(&self, key: &str) -> Result<Option<ObjectInfo>, StoreError> {
        self.head(key, &mut Budget::default())
    }

    fn head(&self, key: &str, budget: &mut Budget) -> Result<Option<ObjectInfo>, StoreError> {
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

    fn failure(&self, response: &HttpResponse, method: &str, key: &str) -> StoreError {
        let body = parse_error_body(&response.body);
        classify(response.status, &body, &format!("{method} key \"{key}\""), &self.settings.bucket)
    }
}

/// A 404 with no body (HEAD) or NoSuchKey means the key is missing; NoSuchBucket is an error.
fn is_missing_key(response: &HttpResponse) -> bool {
    parse_error_body(&response.body).code != "NoSuchBucket"
}

#[path = "call.rs"]
mod call;
#[path = "integrity.rs"]
mod integrity;
#[path = "multipart.rs"]
mod multipart;
#[path = "request.rs"]
mod request;

#[cfg(test)]
#[path = "s3_tests.rs"]
mod tests;
