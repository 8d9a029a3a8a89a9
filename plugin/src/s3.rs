//! The S3 operations a blob store needs (GetObject, PutObject, DeleteObject, HeadObject) over a
//! [`Platform`], so that everything but the wire is testable natively. Each job has a file:
//! requests are built and signed in request.rs, sent and retried by the one driver in call.rs,
//! read bodies checked in integrity.rs, large puts uploaded in multipart.rs.

use base64::Engine as _;
use md5::{Digest, Md5};

pub use integrity::check_for;
pub use list::{Listed, MAX_PAGE, Page};
pub use uploads::{Upload, UploadPage};

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
    /// The bound of a whole call, retries and backoff included.
    pub call_timeout_ms: u64,
    pub max_retries: u32,
    pub verify_after_write: bool,
    /// `bucket.host/key` rather than `host/bucket/key`.
    pub virtual_hosted_style: bool,
    /// Whether requests carry `x-amz-checksum-*` headers.
    pub checksum: ChecksumMode,
    /// A put of more bytes than this is a multipart upload.
    pub multipart_threshold: u64,
    /// The size of each part but the last.
    pub part_size: u64,
    /// How many parts of one upload are sent at once.
    pub part_concurrency: u32,
}

/// Whether requests carry `x-amz-checksum-*` headers (the WIT's `checksum-mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumMode {
    /// They do until the server refuses one; then the tenant's requests go without.
    Auto,
    /// They always do.
    Always,
    /// They never do, `x-amz-checksum-mode` included.
    Never,
}

/// What the tenant's calls have learned about its server (the WIT's `dialect`), kept by the
/// host for all of the tenant's instances.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dialect {
    /// The server refused an `x-amz-checksum-*` header.
    pub refuses_checksum_headers: bool,
    /// The server's clock minus the host's, in seconds.
    pub clock_offset_s: i64,
    /// How the server forms a multipart object's ETag.
    pub multipart_etag: EtagFormula,
}

/// How a server forms a multipart object's ETag (the WIT's `etag-formula`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum EtagFormula {
    /// Not seen yet.
    #[default]
    Unknown,
    /// AWS's: the MD5 of the parts' MD5s, then `-N`.
    Aws,
    /// Another: a multipart ETag checks nothing.
    Other,
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

/// Which digest a sink keeps of the bytes it receives (the WIT's `check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    None,
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Md5,
    Sha256,
    /// The MD5 of the MD5s of each run of this many bytes.
    Md5OfParts(u64),
}

/// The digests of a run of a source's bytes, computed by the host.
pub struct Digests {
    pub md5: [u8; 16],
    pub sha256: [u8; 32],
    pub crc32: u32,
}

/// What a sink received: how many bytes, and the digest its [`Check`] asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub size: u64,
    pub digest: Vec<u8>,
}

/// A request body: none, bytes of the plugin's own (a small XML document), or a run of the
/// put's source, which the platform moves without copying it into the plugin.
pub enum Body<'a, S: ?Sized> {
    Empty,
    Bytes(&'a [u8]),
    Source { source: &'a S, start: u64, len: u64 },
}

impl<S: ?Sized> Clone for Body<'_, S> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<S: ?Sized> Copy for Body<'_, S> {}

impl<S: ?Sized> Body<'_, S> {
    pub fn len(&self) -> u64 {
        match self {
            Body::Empty => 0,
            Body::Bytes(bytes) => bytes.len() as u64,
            Body::Source { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One HTTP request as the transport sends it.
pub struct HttpRequest<'a, S: ?Sized> {
    pub method: &'static str,
    pub scheme: &'a str,
    pub authority: &'a str,
    pub path_and_query: String,
    pub headers: Vec<(String, String)>,
    pub body: Body<'a, S>,
}

/// One HTTP response. A body the call routes to a sink (a GET's 200 or 206) is not here: the
/// sink has it, and `received` says what arrived. Any other body is read in full, up to
/// [`MAX_ANSWER_BYTES`].
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub received: Option<Received>,
}

/// The most of an answer's body the plugin reads into its memory (errors, XML documents):
/// anything longer is refused rather than read.
pub const MAX_ANSWER_BYTES: usize = 1 << 20;

impl HttpResponse {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        header_of(&self.headers, name)
    }
}

/// The first value of header `name` (case-insensitive) in `headers`.
pub fn header_of<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// What the client needs from its surroundings: the wire, the bodies the host holds, the time,
/// sleep and randomness.
pub trait Platform {
    /// The body of a put.
    type Source: ?Sized;
    /// Where a get's bytes go.
    type Sink: ?Sized;

    /// Sends one request within `timeout_ms` (connect and first byte included). With `into`,
    /// a 200 or 206 answer's body goes into that sink, reset first with the check the answer's
    /// head calls for ([`integrity::check_for`]).
    fn send(
        &self,
        request: &HttpRequest<'_, Self::Source>,
        into: Option<&Self::Sink>,
        timeout_ms: u64,
    ) -> Result<HttpResponse, StoreError>;
    /// Sends the requests at the same time, each within `timeout_ms`; one answer per request,
    /// in order. One request failing does not stop the others.
    fn send_many(
        &self,
        requests: &[HttpRequest<'_, Self::Source>],
        timeout_ms: u64,
    ) -> Vec<Result<HttpResponse, StoreError>> {
        requests.iter().map(|request| self.send(request, None, timeout_ms)).collect()
    }
    /// The source's length in bytes.
    fn size(&self, source: &Self::Source) -> u64;
    /// The digests of the source's bytes [start, start + len), hashed by the host.
    fn digests(&self, source: &Self::Source, start: u64, len: u64) -> Result<Digests, StoreError>;
    /// The source's bytes before `offset` will not be asked for again.
    fn release(&self, _source: &Self::Source, _offset: u64) {}
    /// Empties the sink, which keeps `check` of what it receives next.
    fn reset(&self, sink: &Self::Sink, check: Check) -> Result<(), StoreError>;
    /// Seconds since the Unix epoch.
    fn unix_time(&self) -> u64;
    /// Milliseconds on a clock that only goes forward (for the call's bound).
    fn now_ms(&self) -> u64;
    fn sleep_ms(&self, ms: u64);
    fn random_u64(&self) -> u64;
    /// The MD5 of a few bytes of the plugin's own (part MD5s joined).
    fn md5(&self, data: &[u8]) -> [u8; 16] {
        Md5::digest(data).into()
    }
    /// The SHA-256 of a few bytes of the plugin's own (an XML document).
    fn sha256(&self, data: &[u8]) -> [u8; 32] {
        sigv4::sha256(data)
    }
    /// A request is about to be sent again after `error` (for the host's telemetry).
    fn retrying(&self, _error: &StoreError) {}
    /// Verify-after-write found the object not as sent (for the host's telemetry).
    fn verify_failed(&self, _problem: &str) {}
    /// A read could not be checked against a digest the server gave (for the host's log).
    fn unchecked(&self, _reason: &str) {}
    /// What the tenant's calls have learned of its server so far (kept by the host).
    fn dialect(&self) -> Dialect {
        Dialect::default()
    }
    /// Records what a call learned, for the tenant's later calls.
    fn set_dialect(&self, _dialect: Dialect) {}
}

/// An S3 client for one tenant's bucket.
pub struct Client<P> {
    settings: Settings,
    keys: Keys,
    platform: P,
    /// The signing key of the day it was derived for (`yyyymmdd`): it depends on the secret,
    /// the day, the region and the service, and all but the day are the client's own.
    day_key: std::sync::Mutex<Option<(String, [u8; 32])>>,
    /// When the public call in progress started (`now_ms`); the instance runs one at a time.
    call_started_ms: std::sync::atomic::AtomicU64,
    /// What the tenant's calls have learned of its server, as of this call.
    dialect: std::sync::Mutex<Dialect>,
}

impl<P: Platform> Client<P> {
    pub fn new(settings: Settings, keys: Keys, platform: P) -> Result<Self, StoreError> {
        if settings.bucket.is_empty() || settings.authority.is_empty() {
            return Err(StoreError::invalid_config("the bucket or the endpoint is empty"));
        }
        Ok(Client {
            settings,
            keys,
            platform,
            day_key: Default::default(),
            call_started_ms: Default::default(),
            dialect: Default::default(),
        })
    }

    /// Whether this call's requests carry `x-amz-checksum-*` headers: always or never as the
    /// tenant's `checksum` says, or, with `auto`, until the server has refused one.
    pub(super) fn sends_checksums(&self) -> bool {
        match self.settings.checksum {
            ChecksumMode::Always => true,
            ChecksumMode::Never => false,
            ChecksumMode::Auto => !self.dialect().refuses_checksum_headers,
        }
    }

    pub(super) fn dialect(&self) -> Dialect {
        *self.dialect.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Keeps what a request learned, here and with the host for the tenant's other instances.
    pub(super) fn learn(&self, dialect: Dialect) {
        *self.dialect.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = dialect;
        self.platform.set_dialect(dialect);
    }

    /// Writes the object's bytes, or those of the half-open range [start, end), into `into`:
    /// `true`, or `false` when the object does not exist. A body found damaged is read again
    /// within the call's retries, the sink reset each time; it is never answered as data.
    pub fn get(&self, key: &str, range: Option<(u64, Option<u64>)>, into: &P::Sink) -> Result<bool, StoreError> {
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
            self.call("GET", key).headers(headers).sink(into).accept(&intact).send(&mut Budget::default())?;
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
            ("content-md5".to_string(), base64::engine::general_purpose::STANDARD.encode(digests.md5)),
        ];
        if self.sends_checksums() {
            let crc = digests.crc32.to_be_bytes();
            headers.push(("x-amz-checksum-crc32".to_string(), base64::engine::general_purpose::STANDARD.encode(crc)));
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
#[path = "etag_formula.rs"]
mod etag_formula;
#[path = "integrity.rs"]
mod integrity;
#[path = "list.rs"]
mod list;
#[path = "multipart.rs"]
mod multipart;
#[path = "request.rs"]
mod request;
#[path = "uploads.rs"]
mod uploads;

#[cfg(test)]
#[path = "s3_tests.rs"]
mod tests;
