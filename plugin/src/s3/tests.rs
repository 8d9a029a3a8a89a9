//! Request building and answer mapping, over a scripted transport. The wire itself is tested
//! against real S3 servers by the harness in tests/.

use base64::Engine as _;
use md5::{Digest, Md5};

use super::*;
use crate::error::StoreError;
use encoding::hex;
use crate::error::Kind;
use crate::sigv4::{self, S3Request, SigningKeys, SigningScope};
use std::cell::{Cell, RefCell};

type Headers = Vec<(String, String)>;
/// An answer to play: status, headers, body.
type Answer = (u16, Headers, Vec<u8>);
/// A request as sent: method, path and query, headers, authority.
type Sent = (String, String, Headers, String);

struct Scripted {
    answers: RefCell<Vec<Answer>>,
    sent: RefCell<Vec<Sent>>,
    slept: RefCell<Vec<u64>>,
    /// The clock, in Unix seconds.
    now: Cell<u64>,
    /// What the tenant's calls learned, kept as the host keeps it.
    dialect: Cell<Dialect>,
    /// What the plugin said it could not check.
    unchecked: RefCell<Vec<String>>,
}

impl Scripted {
    #[allow(clippy::type_complexity)]
    fn new(answers: Vec<(u16, Vec<(&str, &str)>, &str)>) -> Self {
        let answers = answers
            .into_iter()
            .rev()
            .map(|(s, h, b)| {
                (s, h.into_iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(), b.as_bytes().to_vec())
            })
            .collect();
        Scripted {
            answers: RefCell::new(answers),
            sent: RefCell::new(Vec::new()),
            slept: RefCell::new(Vec::new()),
            now: Cell::new(1_369_353_600),
            dialect: Cell::new(Dialect::default()),
            unchecked: RefCell::new(Vec::new()),
        }
    }
}

/// A sink of the test's own: the bytes, and the digest the last reset asked for.
#[derive(Default)]
struct Got {
    bytes: RefCell<Vec<u8>>,
    check: Cell<Option<Check>>,
}

/// The digest `check` asks for, computed natively.
fn digest_of(check: Check, bytes: &[u8]) -> Vec<u8> {
    use md5::Digest as _;
    match check {
        Check::None => Vec::new(),
        Check::Crc32 => crc32fast::hash(bytes).to_be_bytes().to_vec(),
        Check::Crc32c => (crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32Iscsi, bytes) as u32).to_be_bytes().to_vec(),
        Check::Crc64Nvme => crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Nvme, bytes).to_be_bytes().to_vec(),
        Check::Sha1 => sha1::Sha1::digest(bytes).to_vec(),
        Check::Md5 => md5::Md5::digest(bytes).to_vec(),
        Check::Sha256 => crate::sigv4::sha256(bytes).to_vec(),
        Check::Md5OfParts(size) => {
            let joined: Vec<u8> = bytes.chunks(size as usize).flat_map(|part| md5::Md5::digest(part).to_vec()).collect();
            md5::Md5::digest(&joined).to_vec()
        }
    }
}

/// `get` into a fresh sink: the bytes, or `None` when the object does not exist.
trait GetVec {
    fn get_vec(&self, key: &str, range: Option<(u64, Option<u64>)>) -> Result<Option<Vec<u8>>, StoreError>;
}

impl GetVec for Client<&Scripted> {
    fn get_vec(&self, key: &str, range: Option<(u64, Option<u64>)>) -> Result<Option<Vec<u8>>, StoreError> {
        let got = Got::default();
        Ok(self.get(key, range, &got, None)?.then(|| got.bytes.take()))
    }
}

impl Platform for &Scripted {
    type Source = [u8];
    type Sink = Got;

    fn size(&self, source: &[u8]) -> u64 {
        source.len() as u64
    }

    fn digests(&self, source: &[u8], start: u64, len: u64) -> Result<Digests, StoreError> {
        use md5::Digest as _;
        let bytes = &source[start as usize..(start + len) as usize];
        Ok(Digests { md5: md5::Md5::digest(bytes).into(), sha256: crate::sigv4::sha256(bytes), crc32: crc32fast::hash(bytes) })
    }

    fn reset(&self, sink: &Got, check: Check) -> Result<(), StoreError> {
        sink.bytes.borrow_mut().clear();
        sink.check.set(Some(check));
        Ok(())
    }

    fn send(&self, request: &HttpRequest<'_, [u8]>, into: Option<&Got>, _timeout_ms: u64) -> Result<HttpResponse, StoreError> {
        self.sent.borrow_mut().push((
            request.method.to_string(),
            request.path_and_query.clone(),
            request.headers.clone(),
            request.authority.to_string(),
        ));
        let (status, headers, body) = self.answers.borrow_mut().pop().expect("an answer is scripted");
        match status {
            // Status 0 scripts a transport failure: the attempt timed out.
            0 => Err(StoreError::timeout("scripted timeout")),
            200 | 206 if into.is_some() => {
                let sink = into.expect("checked");
                self.reset(sink, check_for(status, &headers))?;
                Ok(land(sink, status, headers, body))
            }
            _ => Ok(HttpResponse { status, headers, body, received: None, cut: None }),
        }
    }
    fn send_on(&self, request: &HttpRequest<'_, [u8]>, sink: &Got, from: u64, etag: &str, timeout_ms: u64) -> Result<HttpResponse, StoreError> {
        let answer = self.send(request, None, timeout_ms)?;
        let continues = content_range(&answer.headers).is_some_and(|r| r.start == from)
            && answer.header("etag").is_some_and(|e| same_etag(e, etag));
        match answer.status {
            206 if continues => Ok(land(sink, answer.status, answer.headers, answer.body)),
            200..300 => Ok(HttpResponse { body: Vec::new(), ..answer }),
            _ => Ok(answer),
        }
    }
    fn unix_time(&self) -> u64 {
        self.now.get()
    }
    fn sleep_ms(&self, ms: u64) {
        self.slept.borrow_mut().push(ms);
    }
    /// Time passes only in the backoff's sleeps.
    fn now_ms(&self) -> u64 {
        self.slept.borrow().iter().sum()
    }
    fn random_u64(&self) -> u64 {
        7
    }
    fn dialect(&self) -> Dialect {
        self.dialect.get()
    }
    fn set_dialect(&self, dialect: Dialect) {
        self.dialect.set(dialect);
    }
    fn unchecked(&self, reason: &str) {
        self.unchecked.borrow_mut().push(reason.to_string());
    }
}

/// A 200 or 206's body added to the sink: all of it, or, when the answer's scripted
/// `x-scripted-cut` header says so, its first bytes and then a cut.
fn land(sink: &Got, status: u16, headers: Headers, body: Vec<u8>) -> HttpResponse {
    let cut_at = header(&headers, "x-scripted-cut").and_then(|n| n.parse::<usize>().ok());
    let arrived = &body[..cut_at.unwrap_or(body.len()).min(body.len())];
    sink.bytes.borrow_mut().extend_from_slice(arrived);
    let all = sink.bytes.borrow();
    let received = Received { size: all.len() as u64, digest: digest_of(sink.check.get().unwrap_or(Check::None), &all) };
    let cut = cut_at.map(|_| StoreError::unavailable("scripted cut"));
    HttpResponse { status, headers, body: Vec::new(), received: Some(received), cut }
}

fn client(platform: &Scripted, max_retries: u32) -> Client<&Scripted> {
    Client::new(settings(max_retries), keys(), platform).unwrap()
}

fn settings(max_retries: u32) -> Settings {
    Settings {
        bucket: "mail".into(),
        region: "garage".into(),
        scheme: "http".into(),
        authority: "127.0.0.1:3900".into(),
        key_prefix: "acme/".into(),
        timeout_ms: 1000,
        call_timeout_ms: 120_000,
        max_retries,
        verify_after_write: true,
        virtual_hosted_style: false,
        checksum: ChecksumMode::Auto,
        multipart_threshold: 16 << 20,
        part_size: 8 << 20,
        part_concurrency: 4,
        ranged_read_threshold: 0,
        range_size: 4 << 20,
        range_concurrency: 8,
    }
}

fn keys() -> Keys {
    Keys { access_key_id: "AK".into(), secret_access_key: "SK".into(), session_token: None }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

mod calls;
mod checks;
mod fuzz;
mod resume;
mod servers;
