//! The S3 operations a blob store needs (GetObject, PutObject, DeleteObject, HeadObject), built
//! and signed here and sent through a [`Platform`], so that everything but the wire is testable
//! natively.

use base64::Engine as _;
use md5::{Digest, Md5};

use crate::error::{StoreError, classify, parse_error_body};
use crate::retry;
use crate::sigv4::{self, S3Request, SigningKeys, SigningScope};

/// S3's limit on an object key, prefix included, in bytes of UTF-8.
pub const MAX_KEY_BYTES: usize = 1024;

/// What the plugin is given by the host for one tenant.
pub struct Settings {
    pub bucket: String,
    pub region: String,
    pub endpoint: String,
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
}

/// An S3 client for one tenant's bucket.
pub struct Client<P> {
    settings: Settings,
    keys: Keys,
    scheme: String,
    authority: String,
    platform: P,
    /// The signing key of the day it was derived for (`yyyymmdd`): it depends on the secret,
    /// the day, the region and the service, and all but the day are the client's own.
    day_key: std::sync::Mutex<Option<(String, [u8; 32])>>,
}

impl<P: Platform> Client<P> {
    pub fn new(settings: Settings, keys: Keys, platform: P) -> Result<Self, StoreError> {
        let (scheme, authority) = split_endpoint(&settings.endpoint)?;
        if settings.bucket.is_empty() {
            return Err(StoreError::InvalidConfig("bucket is empty".into()));
        }
        let authority = match settings.virtual_hosted_style {
            true => format!("{}.{authority}", settings.bucket),
            false => authority,
        };
        Ok(Client { settings, keys, scheme, authority, platform, day_key: Default::default() })
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
        // Ask for the object's checksums too, for objects whose ETag is not an MD5.
        headers.push(("x-amz-checksum-mode".into(), "ENABLED".into()));
        let response = self.call("GET", key, &[], &headers, &Payload::empty(), intact, &mut Budget::default())?;
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
            let response = self.call("PUT", key, &[], &headers, &payload, accept_any, &mut budget)?;
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
            if budget.retries >= self.settings.max_retries {
                return Err(StoreError::Integrity(problem));
            }
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
        let headers = vec![("content-length".to_string(), "0".to_string())];
        let response = self.call("DELETE", key, &[], &headers, &Payload::empty(), accept_any, &mut budget)?;
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
        let response = self.call("HEAD", key, &[], &[], &Payload::empty(), accept_any, budget)?;
        match response.status {
            200 => {
                let size = response
                    .header("content-length")
                    .and_then(|v| v.trim().parse().ok())
                    .ok_or_else(|| StoreError::Other(format!("HEAD key \"{key}\": no Content-Length")))?;
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

    /// Sends one signed request for `key`, retrying with backoff while the call's `budget`
    /// lasts: transient failures (network errors, timeouts, 5xx, 408, 429, SlowDown,
    /// RequestTimeout, InternalError...), and answers `accept` refuses (a damaged body). Returns
    /// the response otherwise, whatever its status.
    fn call(
        &self,
        method: &'static str,
        key: &str,
        query: &[(String, String)],
        extra_headers: &[(String, String)],
        payload: &Payload<'_>,
        accept: impl Fn(&HttpResponse) -> Result<(), StoreError>,
        budget: &mut Budget,
    ) -> Result<HttpResponse, StoreError> {
        let path = self.object_path(key)?;
        loop {
            let request = self.request(method, &path, query, extra_headers, payload);
            let outcome = self.platform.send(&request, self.settings.timeout_ms);
            let (error, retry_after, retry) = match outcome {
                Ok(response) => match self.transient_failure(&response, method, key) {
                    Some(error) => {
                        let retry_after = response.header("retry-after").map(str::to_string);
                        let retry = retry::should_retry(&error, budget.retries, self.settings.max_retries);
                        (error, retry_after, retry)
                    }
                    None => match accept(&response) {
                        Ok(()) => return Ok(response),
                        Err(refused) => (refused, None, budget.retries < self.settings.max_retries),
                    },
                },
                // The network failed (refused, reset, timed out): as transient as a 503.
                Err(error) => {
                    let retry = retry::should_retry(&error, budget.retries, self.settings.max_retries);
                    (error, None, retry)
                }
            };
            if !retry {
                return Err(error);
            }
            self.back_off(budget, retry_after.as_deref());
        }
    }

    /// The error an answer means when it is worth another try (503 SlowDown, 500, 429, 408, 400
    /// RequestTimeout...); `None` for a success or an answer that retrying will not change.
    fn transient_failure(&self, response: &HttpResponse, method: &str, key: &str) -> Option<StoreError> {
        if response.status < 400 || response.status == 404 || response.status == 416 {
            return None;
        }
        Some(self.failure(response, method, key)).filter(StoreError::is_transient)
    }

    /// Waits before the next retry and counts it.
    fn back_off(&self, budget: &mut Budget, retry_after: Option<&str>) {
        let delay = retry::delay_ms(budget.retries, self.platform.random_u64(), retry_after);
        self.platform.sleep_ms(delay);
        budget.retries += 1;
    }

    /// One signed request, ready to send.
    fn request<'s>(
        &'s self,
        method: &'static str,
        path: &str,
        query: &[(String, String)],
        extra_headers: &[(String, String)],
        payload: &Payload<'s>,
    ) -> HttpRequest<'s> {
        let mut headers = Vec::with_capacity(extra_headers.len() + 5);
        headers.push(("host".to_string(), self.authority.clone()));
        headers.extend_from_slice(extra_headers);
        let amz_date = sigv4::amz_date(self.platform.unix_time());
        let scope = SigningScope { amz_date: &amz_date, region: &self.settings.region, service: "s3" };
        let keys = SigningKeys {
            access_key_id: &self.keys.access_key_id,
            secret_access_key: &self.keys.secret_access_key,
            session_token: self.keys.session_token.as_deref(),
        };
        let request = S3Request { method, path, query, payload_sha256: payload.sha256 };
        sigv4::sign_s3_with_key(&request, &mut headers, &keys, &scope, &self.day_key(&scope));
        // The host header is set by the host from the authority; it was only needed for signing.
        headers.retain(|(name, _)| name != "host");
        let mut path_and_query = sigv4::uri_encode(path, true);
        if !query.is_empty() {
            path_and_query.push('?');
            path_and_query.push_str(&sigv4::canonical_query(query));
        }
        HttpRequest { method, scheme: &self.scheme, authority: &self.authority, path_and_query, headers, body: payload.bytes }
    }

    /// The signing key of `scope`'s day, derived once a day and kept with the client (which the
    /// guest keeps for its instance's later calls; an instance never serves another tenant).
    fn day_key(&self, scope: &SigningScope<'_>) -> [u8; 32] {
        let mut kept = self.day_key.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match kept.as_ref() {
            Some((date, key)) if date == scope.date() => *key,
            _ => {
                let key = sigv4::signing_key(&self.keys.secret_access_key, scope);
                *kept = Some((scope.date().to_string(), key));
                key
            }
        }
    }

    /// `/bucket/prefix+key` (or `/prefix+key` in virtual-hosted style), validated.
    fn object_path(&self, key: &str) -> Result<String, StoreError> {
        if key.is_empty() {
            return Err(StoreError::InvalidKey("the key is empty".into()));
        }
        let full_len = self.settings.key_prefix.len() + key.len();
        if full_len > MAX_KEY_BYTES {
            return Err(StoreError::InvalidKey(format!(
                "key \"{}…\" is {full_len} bytes with its prefix; S3 allows {MAX_KEY_BYTES}",
                key.chars().take(40).collect::<String>()
            )));
        }
        let prefix = &self.settings.key_prefix;
        Ok(match self.settings.virtual_hosted_style {
            true => format!("/{prefix}{key}"),
            false => format!("/{}/{prefix}{key}", self.settings.bucket),
        })
    }

    fn failure(&self, response: &HttpResponse, method: &str, key: &str) -> StoreError {
        let body = parse_error_body(&response.body);
        classify(response.status, &body, &format!("{method} key \"{key}\""), &self.settings.bucket)
    }
}

/// Splits `scheme://authority` and drops a port that is the scheme's default, since the host
/// sends the authority as the Host header and the signature must match it.
pub fn split_endpoint(endpoint: &str) -> Result<(String, String), StoreError> {
    let bad = || StoreError::InvalidConfig(format!("endpoint \"{endpoint}\" is not scheme://host[:port]"));
    let (scheme, rest) = endpoint.split_once("://").ok_or_else(bad)?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(bad());
    }
    let authority = rest.trim_end_matches('/');
    if authority.is_empty() || authority.contains('/') || authority.contains('@') {
        return Err(bad());
    }
    let default_port = if scheme == "http" { ":80" } else { ":443" };
    let authority = authority.strip_suffix(default_port).unwrap_or(authority).to_ascii_lowercase();
    Ok((scheme, authority))
}

/// A request body and its SHA-256, hashed once however often it is sent.
struct Payload<'a> {
    bytes: &'a [u8],
    sha256: &'a str,
}

impl<'a> Payload<'a> {
    fn empty() -> Payload<'static> {
        Payload { bytes: &[], sha256: sigv4::EMPTY_PAYLOAD_SHA256 }
    }
}

/// For calls whose every non-transient answer is to be looked at by the caller.
fn accept_any(_: &HttpResponse) -> Result<(), StoreError> {
    Ok(())
}

/// The retries one public call has used, shared by every request it sends.
#[derive(Default)]
struct Budget {
    retries: u32,
}

/// A 404 with no body (HEAD) or NoSuchKey means the key is missing; NoSuchBucket is an error.
fn is_missing_key(response: &HttpResponse) -> bool {
    parse_error_body(&response.body).code != "NoSuchBucket"
}

/// A body is data only when it is what the server promised: as long as its Content-Length, and,
/// for a whole single-part object (status 200 with an MD5 ETag), with that MD5.
fn check_body(platform: &impl Platform, response: &HttpResponse, key: &str) -> Result<(), StoreError> {
    let length = response.header("content-length").and_then(|v| v.trim().parse::<usize>().ok());
    if let Some(promised) = length.filter(|&promised| promised != response.body.len()) {
        return Err(StoreError::Integrity(format!(
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
            return Err(StoreError::Integrity(format!(
                "GET key \"{key}\": the bytes received have CRC-32 {actual}, the object's checksum is {expected}"
            )));
        }
        return Ok(());
    }
    let etag = response.header("etag").unwrap_or_default().trim_matches('"');
    if is_md5_etag(etag) {
        let md5 = hex(&platform.md5(&response.body));
        if !md5.eq_ignore_ascii_case(etag) {
            return Err(StoreError::Integrity(format!(
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
            return Err(StoreError::Integrity(format!(
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
            return Err(StoreError::Integrity(format!(
                "GET key \"{key}\": the bytes received have SHA-256 {actual}, the object's checksum is {expected}"
            )));
        }
    }
    Ok(())
}

/// Single-part uploads have the MD5 of the body as ETag; multipart ones `md5-N`, and some
/// backends use other schemes. Only a 32-hex-digit ETag is compared.
fn is_md5_etag(etag: &str) -> bool {
    etag.len() == 32 && etag.bytes().all(|b| b.is_ascii_hexdigit())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[path = "multipart.rs"]
mod multipart;

#[cfg(test)]
#[path = "s3_tests.rs"]
mod tests;
