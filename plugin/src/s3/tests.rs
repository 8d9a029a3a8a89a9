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
        Ok(self.get(key, range, &got)?.then(|| got.bytes.take()))
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
                let check = check_for(status, &headers);
                self.reset(sink, check)?;
                let received = Received { size: body.len() as u64, digest: digest_of(check, &body) };
                *sink.bytes.borrow_mut() = body;
                Ok(HttpResponse { status, headers, body: Vec::new(), received: Some(received) })
            }
            _ => Ok(HttpResponse { status, headers, body, received: None }),
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
    }
}

fn keys() -> Keys {
    Keys { access_key_id: "AK".into(), secret_access_key: "SK".into(), session_token: None }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

#[test]
fn ranges_are_half_open_and_416_reads_as_empty() {
    let wire = Scripted::new(vec![(206, vec![], "bc"), (416, vec![], ""), (200, vec![("content-length", "3")], "")]);
    let c = client(&wire, 0);
    assert_eq!(c.get_vec("k", Some((1, Some(3)))).unwrap(), Some(b"bc".to_vec()));
    assert_eq!(c.get_vec("k", Some((99, None))).unwrap(), Some(Vec::new()));
    assert_eq!(c.get_vec("k", Some((5, Some(5)))).unwrap(), Some(Vec::new()), "empty range: HEAD only");
    let sent = wire.sent.borrow();
    assert_eq!(header(&sent[0].2, "range"), Some("bytes=1-2"));
    assert_eq!(header(&sent[1].2, "range"), Some("bytes=99-"));
    assert_eq!(sent[2].0, "HEAD");
}

#[test]
fn keys_carry_the_prefix_and_are_encoded_once() {
    let wire = Scripted::new(vec![(404, vec![], "")]);
    assert_eq!(client(&wire, 0).stat("a b/../c+d").unwrap(), None);
    assert_eq!(wire.sent.borrow()[0].1, "/mail/acme/a%20b/../c%2Bd");
}

#[test]
fn virtual_hosted_style_names_the_bucket_in_the_host_and_signs_that_host() {
    let wire = Scripted::new(vec![(404, vec![], "")]);
    // The host hands over the virtual-host name it computed.
    let settings = Settings { virtual_hosted_style: true, authority: "mail.127.0.0.1:3900".into(), ..settings(0) };
    assert_eq!(Client::new(settings, keys(), &wire).unwrap().stat("k").unwrap(), None);
    let sent = wire.sent.borrow();
    assert_eq!((sent[0].1.as_str(), sent[0].3.as_str()), ("/acme/k", "mail.127.0.0.1:3900"));
    let path_style = Scripted::new(vec![(404, vec![], "")]);
    client(&path_style, 0).stat("k").unwrap();
    let path_sent = path_style.sent.borrow();
    assert_eq!((path_sent[0].1.as_str(), path_sent[0].3.as_str()), ("/mail/acme/k", "127.0.0.1:3900"));
    let signature = |h: &[(String, String)]| header(h, "authorization").unwrap().rsplit('=').next().unwrap().to_string();
    assert_ne!(signature(&sent[0].2), signature(&path_sent[0].2), "the host and path are signed");
}

#[test]
fn put_sends_md5_and_length_and_verifies_with_head() {
    let wire = Scripted::new(vec![
        (200, vec![], ""),
        (200, vec![("content-length", "5"), ("etag", "\"5d41402abc4b2a76b9719d911017c592\"")], ""),
    ]);
    client(&wire, 0).put("k", b"hello").unwrap();
    let sent = wire.sent.borrow();
    assert_eq!(header(&sent[0].2, "content-md5"), Some("XUFAKrxLKna5cZ2REBfFkg=="));
    assert_eq!(header(&sent[0].2, "content-length"), Some("5"));
    assert!(header(&sent[0].2, "authorization").unwrap().contains("content-md5;"));
    assert!(header(&sent[0].2, "host").is_none(), "the host sets Host itself");
    assert_eq!(sent[1].0, "HEAD");
}

#[test]
fn a_put_whose_object_is_missing_is_sent_again_then_fails_as_integrity() {
    let wire = Scripted::new(vec![(200, vec![], ""), (404, vec![], ""), (200, vec![], ""), (404, vec![], "")]);
    let error = client(&wire, 1).put("k", b"hello").unwrap_err();
    assert!(matches!(error, StoreError { kind: Kind::Integrity, message: ref m, .. } if m.contains("\"k\"")), "{error:?}");
    assert_eq!(wire.sent.borrow().len(), 4);
    assert_eq!(wire.slept.borrow().len(), 1, "the PUT is sent again after a backoff");
}

#[test]
fn each_request_of_a_put_has_its_own_retries_and_re_puts_count_against_the_puts() {
    // maxRetries = 2. PUT ok; HEAD busy once (the HEAD's retry), finds nothing: PUT again (the
    // PUT's retry 1); HEAD busy twice (a new HEAD: its own two retries), finds nothing: PUT
    // again (the PUT's retry 2); HEAD finds nothing: the PUT's retries are spent.
    let (put, busy, none) = ((200, vec![], ""), (503, vec![], ""), (404, vec![], ""));
    let wire = Scripted::new(vec![
        put.clone(), busy.clone(), none.clone(),
        put.clone(), busy.clone(), busy.clone(), none.clone(),
        put.clone(), none.clone(),
    ]);
    assert!(matches!(client(&wire, 2).put("k", b"hello"), Err(StoreError { kind: Kind::Integrity, .. })));
    assert_eq!(wire.sent.borrow().len(), 9);
    assert_eq!(wire.slept.borrow().len(), 5);

    // A backend that drops every PUT: at most maxRetries + 1 attempts of PUT then HEAD.
    let answers = (0..3).flat_map(|_| [(200, vec![], ""), (404, vec![], "")]).collect();
    let liar = Scripted::new(answers);
    assert!(matches!(client(&liar, 2).put("k", b"hello"), Err(StoreError { kind: Kind::Integrity, .. })));
    assert_eq!(liar.sent.borrow().len(), 6);
}

#[test]
fn request_timeouts_are_retried_as_400_or_408() {
    let timeout = "<Error><Code>RequestTimeout</Code><Message>Your socket connection to the server was not read from or written to within the timeout period.</Message></Error>";
    let wire = Scripted::new(vec![(400, vec![], timeout), (408, vec![], ""), (200, vec![], "ok")]);
    assert_eq!(client(&wire, 2).get_vec("k", None).unwrap(), Some(b"ok".to_vec()));
    assert_eq!(wire.sent.borrow().len(), 3);
    let bad_request = Scripted::new(vec![(400, vec![], "<Error><Code>InvalidArgument</Code></Error>")]);
    assert!(matches!(client(&bad_request, 2).get_vec("k", None), Err(StoreError { kind: Kind::Other, .. })));
    assert_eq!(bad_request.sent.borrow().len(), 1, "a bad request is not retried");
}

#[test]
fn access_denied_is_not_retried_and_503_is() {
    let denied = Scripted::new(vec![(403, vec![], "<Error><Code>AccessDenied</Code></Error>")]);
    assert!(matches!(client(&denied, 3).get_vec("k", None), Err(StoreError { kind: Kind::AccessDenied, .. })));
    assert_eq!(denied.sent.borrow().len(), 1);

    let busy = Scripted::new(vec![(503, vec![], "<Error><Code>SlowDown</Code></Error>"), (200, vec![], "ok")]);
    assert_eq!(client(&busy, 3).get_vec("k", None).unwrap(), Some(b"ok".to_vec()));
    assert_eq!(busy.sent.borrow().len(), 2);
}

#[test]
fn delete_reports_whether_the_object_existed() {
    let wire = Scripted::new(vec![(404, vec![], ""), (200, vec![("content-length", "1")], ""), (204, vec![], "")]);
    let c = client(&wire, 0);
    assert!(!c.delete("k").unwrap());
    assert!(c.delete("k").unwrap());
}

#[test]
fn a_short_body_is_an_integrity_error() {
    let wire = Scripted::new(vec![(200, vec![("content-length", "10")], "abc")]);
    assert!(matches!(client(&wire, 0).get_vec("k", None), Err(StoreError { kind: Kind::Integrity, .. })));
}

#[test]
fn bad_keys_are_named() {
    let wire = Scripted::new(vec![]);
    let c = client(&wire, 0);
    assert!(matches!(c.get_vec("", None), Err(StoreError { kind: Kind::InvalidKey, .. })));
    assert!(matches!(c.put(&"x".repeat(1020), b""), Err(StoreError { kind: Kind::InvalidKey, message: m, .. }) if m.contains("1025 bytes")));
}

#[test]
fn transport_failures_are_retried_up_to_max_retries() {
    let flaky = Scripted::new(vec![(0, vec![], ""), (0, vec![], ""), (200, vec![], "ok")]);
    assert_eq!(client(&flaky, 2).get_vec("k", None).unwrap(), Some(b"ok".to_vec()));
    assert_eq!(flaky.sent.borrow().len(), 3);

    let dead = Scripted::new(vec![(0, vec![], ""), (0, vec![], "")]);
    assert!(matches!(client(&dead, 1).get_vec("k", None), Err(StoreError { kind: Kind::Timeout, .. })));
    assert_eq!(dead.sent.borrow().len(), 2);
}

#[test]
fn a_body_that_does_not_match_its_md5_etag_is_read_again_then_refused() {
    let etag = ("etag", "\"5d41402abc4b2a76b9719d911017c592\"");
    let healed = Scripted::new(vec![(200, vec![etag], "hellO"), (200, vec![etag], "hello")]);
    assert_eq!(client(&healed, 1).get_vec("k", None).unwrap(), Some(b"hello".to_vec()));
    assert_eq!(healed.sent.borrow().len(), 2);

    let broken = Scripted::new(vec![(200, vec![etag], "hellO")]);
    assert!(matches!(client(&broken, 0).get_vec("k", None), Err(StoreError { kind: Kind::Integrity, message: m, .. }) if m.contains("MD5")));

    // A range (206) is not the whole object: its MD5 is not the ETag's.
    let ranged = Scripted::new(vec![(206, vec![etag], "ell")]);
    assert_eq!(client(&ranged, 0).get_vec("k", Some((1, Some(4)))).unwrap(), Some(b"ell".to_vec()));
}

#[test]
fn retry_after_sets_the_wait_before_the_next_attempt() {
    let wire = Scripted::new(vec![(503, vec![("retry-after", "2")], "<Error><Code>SlowDown</Code></Error>"), (200, vec![], "ok")]);
    assert_eq!(client(&wire, 3).get_vec("k", None).unwrap(), Some(b"ok".to_vec()));
    assert_eq!(*wire.slept.borrow(), vec![2_000]);
}

#[test]
fn no_retry_starts_past_the_calls_bound() {
    let busy = (503, vec![("retry-after", "2")], "<Error><Code>SlowDown</Code></Error>");
    let wire = Scripted::new(vec![busy.clone(), busy.clone(), busy]);
    let settings = Settings { call_timeout_ms: 3_000, ..settings(10) };
    let error = Client::new(settings, keys(), &wire).unwrap().get_vec("k", None).unwrap_err();
    assert_eq!(error.kind, Kind::Unavailable);
    assert!(error.message.contains("callTimeout of 3s ran out"), "{}", error.message);
    assert_eq!(*wire.slept.borrow(), vec![2_000], "the second wait of 2 s would end past 3 s: no second retry");
}

#[test]
fn busy_answers_and_damaged_bodies_share_one_retry_budget() {
    let etag = ("etag", "\"5d41402abc4b2a76b9719d911017c592\"");
    let wire = Scripted::new(vec![(503, vec![], ""), (200, vec![etag], "hellO"), (200, vec![etag], "hello")]);
    assert!(matches!(client(&wire, 1).get_vec("k", None), Err(StoreError { kind: Kind::Integrity, .. })));
    assert_eq!(wire.sent.borrow().len(), 2, "maxRetries = 1 allows two attempts in all, not two per cause");
}

#[test]
fn without_an_md5_etag_the_sha256_checksum_is_checked_when_returned() {
    // sha256("hello"), base64.
    let checksum = ("x-amz-checksum-sha256", "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=");
    let multipart = ("etag", "\"5d41402abc4b2a76b9719d911017c592-2\"");
    let wire = Scripted::new(vec![(200, vec![multipart, checksum], "hellO"), (200, vec![multipart, checksum], "hello")]);
    assert_eq!(client(&wire, 1).get_vec("k", None).unwrap(), Some(b"hello".to_vec()), "the damaged body is read again");
    assert_eq!(header(&wire.sent.borrow()[0].2, "x-amz-checksum-mode"), Some("ENABLED"));

    let always_damaged = Scripted::new(vec![(200, vec![multipart, checksum], "hellO")]);
    let error = client(&always_damaged, 0).get_vec("k", None).unwrap_err();
    assert!(matches!(error, StoreError { kind: Kind::Integrity, message: ref m, .. } if m.contains("SHA-256")), "{error:?}");

    let composite = ("x-amz-checksum-sha256", "AAAA-2");
    let unknowable = Scripted::new(vec![(200, vec![multipart, composite], "hellO")]);
    assert!(client(&unknowable, 0).get_vec("k", None).is_ok(), "a composite checksum cannot be checked whole");
}

#[test]
fn puts_send_their_crc32_and_reads_check_it_first() {
    let crc = ("x-amz-checksum-crc32", "NhCmhg=="); // crc32("hello"), big-endian, base64
    let wire = Scripted::new(vec![(200, vec![], ""), (200, vec![("content-length", "5")], "")]);
    client(&wire, 0).put("k", b"hello").unwrap();
    assert_eq!(header(&wire.sent.borrow()[0].2, "x-amz-checksum-crc32"), Some("NhCmhg=="));
    assert!(header(&wire.sent.borrow()[0].2, "authorization").unwrap().contains("x-amz-checksum-crc32"), "signed");

    let without = Scripted::new(vec![(200, vec![], ""), (200, vec![("content-length", "5")], "")]);
    let settings = Settings { checksum: ChecksumMode::Never, ..settings(0) };
    Client::new(settings, keys(), &without).unwrap().put("k", b"hello").unwrap();
    assert_eq!(header(&without.sent.borrow()[0].2, "x-amz-checksum-crc32"), None, "checksum = \"none\"");
    // With checksum = "none", a GET asks for no checksum either (B2 refuses the mode header).
    let plain = Scripted::new(vec![(200, vec![("content-length", "5")], "hello")]);
    let no_checksum = Settings { checksum: ChecksumMode::Never, ..self::settings(0) };
    Client::new(no_checksum, keys(), &plain).unwrap().get_vec("k", None).unwrap();
    assert!(plain.sent.borrow()[0].2.iter().all(|(name, _)| !name.starts_with("x-amz-checksum")), "no checksum header at all");

    // A damaged body fails the CRC even where no MD5 ETag could tell.
    let multipart = ("etag", "\"5d41402abc4b2a76b9719d911017c592-2\"");
    let damaged = Scripted::new(vec![(200, vec![multipart, crc], "hellO"), (200, vec![multipart, crc], "hello")]);
    assert_eq!(client(&damaged, 1).get_vec("k", None).unwrap(), Some(b"hello".to_vec()));
    let always = Scripted::new(vec![(200, vec![multipart, crc], "hellO")]);
    let error = client(&always, 0).get_vec("k", None).unwrap_err();
    assert!(matches!(error, StoreError { kind: Kind::Integrity, message: ref m, .. } if m.contains("CRC-32")), "{error:?}");
}

#[test]
fn the_kept_signing_key_is_the_one_of_the_day_secret_and_region() {
    // Signatures of one HEAD with the key derived afresh, for comparison.
    let expected = |secret: &str, region: &str, now: u64| {
        let mut headers = vec![("host".to_string(), "127.0.0.1:3900".to_string())];
        let amz_date = sigv4::amz_date(now);
        let scope = SigningScope { amz_date: &amz_date, region, service: "s3" };
        let keys = SigningKeys { access_key_id: "AK", secret_access_key: secret, session_token: None };
        let request = S3Request { method: "HEAD", path: "/mail/acme/k", query: &[], payload_sha256: sigv4::EMPTY_PAYLOAD_SHA256 };
        sigv4::sign_s3(&request, &mut headers, &keys, &scope);
        header(&headers, "authorization").unwrap().to_string()
    };
    let day = 86_400;
    for (secret, region) in [("SK", "garage"), ("other", "garage"), ("other", "eu-west-1"), ("SK", "garage")] {
        let wire = Scripted::new(vec![(404, vec![], ""), (404, vec![], ""), (404, vec![], "")]);
        let settings = Settings { region: region.into(), ..settings(0) };
        let keys = Keys { secret_access_key: secret.into(), ..keys() };
        let client = Client::new(settings, keys, &wire).unwrap();
        // The same day twice (the kept key), then the next day (a new one).
        for (i, now) in [1_369_353_600, 1_369_353_600 + 3_600, 1_369_353_600 + day].into_iter().enumerate() {
            wire.now.set(now);
            client.stat("k").unwrap();
            let sent = header(&wire.sent.borrow()[i].2, "authorization").unwrap().to_string();
            assert_eq!(sent, expected(secret, region, now), "{secret} {region} {now}");
        }
    }
}

#[test]
fn a_multipart_completion_answered_200_with_an_error_inside_is_sent_again() {
    let data: Vec<u8> = (0..11 << 20).map(|i: u32| (i % 251) as u8).collect();
    let part_md5s: Vec<String> = data.chunks(5 << 20).map(|p| hex(&Md5::digest(p))).collect();
    let composite = {
        let joined: Vec<u8> = data.chunks(5 << 20).flat_map(|p| Md5::digest(p).to_vec()).collect();
        format!("{}-3", hex(&Md5::digest(&joined)))
    };
    let size = data.len().to_string();
    let etag = |md5: &str| format!("\"{md5}\"");
    let (e1, e2, e3, ec) = (etag(&part_md5s[0]), etag(&part_md5s[1]), etag(&part_md5s[2]), etag(&composite));
    let wire = Scripted::new(vec![
        (200, vec![], "<InitiateMultipartUploadResult><UploadId>up-1</UploadId></InitiateMultipartUploadResult>"),
        (200, vec![("etag", &e1)], ""),
        (200, vec![("etag", &e2)], ""),
        (200, vec![("etag", &e3)], ""),
        (200, vec![], "<Error><Code>InternalError</Code><Message>try again</Message></Error>"),
        (200, vec![], "<CompleteMultipartUploadResult><ETag>x</ETag></CompleteMultipartUploadResult>"),
        (200, vec![("content-length", &size), ("etag", &ec)], ""),
    ]);
    let settings = Settings { multipart_threshold: 5 << 20, part_size: 5 << 20, ..settings(3) };
    Client::new(settings, keys(), &wire).unwrap().put("big", &data).unwrap();

    let sent = wire.sent.borrow();
    let lines: Vec<String> = sent.iter().map(|(m, p, _, _)| format!("{m} {p}")).collect();
    assert_eq!(
        lines,
        [
            "POST /mail/acme/big?uploads=",
            "PUT /mail/acme/big?partNumber=1&uploadId=up-1",
            "PUT /mail/acme/big?partNumber=2&uploadId=up-1",
            "PUT /mail/acme/big?partNumber=3&uploadId=up-1",
            "POST /mail/acme/big?uploadId=up-1",
            "POST /mail/acme/big?uploadId=up-1",
            "HEAD /mail/acme/big",
        ]
    );
    assert_eq!(header(&sent[0].2, "x-amz-meta-coffer-part-size"), Some("5242880"));
    assert_eq!(header(&sent[3].2, "content-length"), Some("1048576"), "the last part is the rest");
    // A full-object CRC-32: asked for, each part's sent, the whole one sent at completion.
    assert_eq!(header(&sent[0].2, "x-amz-checksum-algorithm"), Some("CRC32"));
    assert_eq!(header(&sent[0].2, "x-amz-checksum-type"), Some("FULL_OBJECT"));
    let b64 = |crc: u32| base64::engine::general_purpose::STANDARD.encode(crc.to_be_bytes());
    assert_eq!(header(&sent[2].2, "x-amz-checksum-crc32"), Some(b64(crc32fast::hash(&data[5 << 20..10 << 20]))).as_deref());
    assert_eq!(header(&sent[4].2, "x-amz-checksum-crc32"), Some(b64(crc32fast::hash(&data))).as_deref());
    assert_eq!(header(&sent[4].2, "x-amz-checksum-type"), Some("FULL_OBJECT"));
    assert_eq!(wire.slept.borrow().len(), 1, "one backoff, before the second completion");
}

#[test]
fn a_part_that_keeps_failing_aborts_the_upload() {
    let data = vec![7u8; 6 << 20];
    let md5 = format!("\"{}\"", hex(&Md5::digest(&data[..5 << 20])));
    let busy = "<Error><Code>SlowDown</Code></Error>";
    let wire = Scripted::new(vec![
        (200, vec![], "<InitiateMultipartUploadResult><UploadId>up-2</UploadId></InitiateMultipartUploadResult>"),
        (200, vec![("etag", &md5)], ""),
        (503, vec![], busy),
        (503, vec![], busy),
        (204, vec![], ""),
    ]);
    let settings = Settings { multipart_threshold: 5 << 20, part_size: 5 << 20, ..settings(1) };
    let error = Client::new(settings, keys(), &wire).unwrap().put("big", &data).unwrap_err();
    assert!(matches!(&error, StoreError { kind: Kind::Unavailable, message: m, .. } if m.contains("SlowDown")), "{error:?}");
    let sent = wire.sent.borrow();
    assert_eq!(sent.last().map(|(m, p, _, _)| format!("{m} {p}")).as_deref(), Some("DELETE /mail/acme/big?uploadId=up-2"));
    assert_eq!(sent.len(), 5, "create, part 1, part 2 twice (maxRetries 1), abort");
}

mod fuzz;

/// B2's answer to a checksum header.
const B2_REFUSES: &str = "<Error><Code>InvalidArgument</Code><Message>Unsupported header 'x-amz-checksum-crc32' received for this API call.</Message></Error>";

#[test]
fn auto_sends_checksums_until_refused_then_goes_without_for_the_tenant() {
    let hello_md5 = "\"5d41402abc4b2a76b9719d911017c592\"";
    let wire = Scripted::new(vec![
        (400, vec![], B2_REFUSES),
        (200, vec![], ""),
        (200, vec![("content-length", "5"), ("etag", hello_md5)], ""),
        (200, vec![("content-length", "5"), ("etag", hello_md5)], "hello"),
    ]);
    // No retry is allowed, and none is spent: the refusal is the dialect's, mended at once.
    let c = client(&wire, 0);
    c.put("k", b"hello").unwrap();
    assert_eq!(c.get_vec("k", None).unwrap(), Some(b"hello".to_vec()));
    let sent = wire.sent.borrow();
    assert_eq!(header(&sent[0].2, "x-amz-checksum-crc32"), Some("NhCmhg=="));
    assert!(header(&sent[1].2, "x-amz-checksum-crc32").is_none(), "sent again without it");
    assert!(header(&sent[1].2, "content-md5").is_some(), "integrity rests on Content-MD5");
    assert!(sent[3].2.iter().all(|(name, _)| !name.starts_with("x-amz-checksum")), "the GET asks for no mode");
    assert!(wire.slept.borrow().is_empty());
    assert!(wire.dialect.get().refuses_checksum_headers, "kept for the tenant's other instances");

    // R2's 501, on a GET's mode header.
    let r2 = "<Error><Code>NotImplemented</Code><Message>Header 'x-amz-checksum-mode' with value 'ENABLED' not implemented</Message></Error>";
    let wire = Scripted::new(vec![(501, vec![], r2), (200, vec![("etag", hello_md5)], "hello")]);
    assert_eq!(client(&wire, 0).get_vec("k", None).unwrap(), Some(b"hello".to_vec()));
    assert!(header(&wire.sent.borrow()[1].2, "x-amz-checksum-mode").is_none());

    // checksum = "crc32" (always): the refusal fails the call, and is not retried (a 501 is
    // not transient).
    let always = Settings { checksum: ChecksumMode::Always, ..settings(3) };
    let wire = Scripted::new(vec![(501, vec![], r2)]);
    let error = Client::new(always, keys(), &wire).unwrap().get_vec("k", None).unwrap_err();
    assert_eq!((error.status, wire.sent.borrow().len()), (Some(501), 1));
    // A refusal of something else is not taken for one of checksums.
    let wire = Scripted::new(vec![(400, vec![], "<Error><Code>InvalidArgument</Code><Message>bad range</Message></Error>")]);
    assert!(client(&wire, 3).get_vec("k", None).is_err());
    assert_eq!(wire.sent.borrow().len(), 1);
    assert!(!wire.dialect.get().refuses_checksum_headers);
}

#[test]
fn a_multipart_upload_refused_its_checksum_goes_on_with_md5s() {
    let data: Vec<u8> = vec![7; 6 << 20];
    let wire = Scripted::new(vec![
        (400, vec![], "<Error><Code>InvalidArgument</Code><Message>Unsupported header 'x-amz-checksum-algorithm' received for this API call.</Message></Error>"),
        (200, vec![], "<InitiateMultipartUploadResult><UploadId>up-1</UploadId></InitiateMultipartUploadResult>"),
        (200, vec![], ""),
        (200, vec![], ""),
        (200, vec![], "<CompleteMultipartUploadResult/>"),
    ]);
    let settings = Settings { multipart_threshold: 5 << 20, part_size: 5 << 20, verify_after_write: false, ..settings(0) };
    Client::new(settings, keys(), &wire).unwrap().put("big", &data).unwrap();
    let sent = wire.sent.borrow();
    assert_eq!(sent.len(), 5);
    for (method, _, headers, _) in &sent[1..] {
        assert!(headers.iter().all(|(name, _)| !name.starts_with("x-amz-checksum")), "{method}");
    }
    assert!(header(&sent[2].2, "content-md5").is_some());
}

#[test]
fn a_server_whose_clock_is_an_hour_ahead_is_served_after_one_corrected_signature() {
    let wire = Scripted::new(vec![
        (403, vec![("date", "Fri, 24 May 2013 01:00:00 GMT")], "<Error><Code>RequestTimeTooSkewed</Code></Error>"),
        (200, vec![], ""),
        (200, vec![("content-length", "5")], ""),
        (404, vec![], ""),
    ]);
    // The host's clock: 2013-05-24T00:00:00Z.
    let c = client(&wire, 0);
    c.put("k", b"hello").unwrap();
    assert_eq!(c.stat("other").unwrap(), None);
    let sent = wire.sent.borrow();
    assert_eq!(header(&sent[0].2, "x-amz-date"), Some("20130524T000000Z"));
    assert_eq!(header(&sent[1].2, "x-amz-date"), Some("20130524T010000Z"), "signed again with the server's time");
    assert_eq!(header(&sent[3].2, "x-amz-date"), Some("20130524T010000Z"), "and so are the tenant's later calls");
    assert_eq!(wire.dialect.get().clock_offset_s, 3600);
    assert!(wire.slept.borrow().is_empty(), "no retry spent");
    // A 403 that is not the clock's stays a refusal, sent once.
    let denied = Scripted::new(vec![(403, vec![("date", "Fri, 24 May 2013 00:00:05 GMT")], "<Error><Code>AccessDenied</Code></Error>")]);
    assert_eq!(client(&denied, 3).stat("k").unwrap_err().kind, Kind::AccessDenied);
    assert_eq!(denied.sent.borrow().len(), 1);
}

#[test]
fn reads_check_every_full_object_checksum_and_say_when_one_is_composite() {
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let multipart = ("etag", "\"0123456789abcdef0123456789abcdef-2\"");
    for check in [Check::Crc32c, Check::Crc64Nvme, Check::Sha1, Check::Sha256] {
        let header_name = match check {
            Check::Crc32c => "x-amz-checksum-crc32c",
            Check::Crc64Nvme => "x-amz-checksum-crc64nvme",
            Check::Sha1 => "x-amz-checksum-sha1",
            _ => "x-amz-checksum-sha256",
        };
        let good = b64(&digest_of(check, b"hello"));
        let wire = Scripted::new(vec![
            (200, vec![multipart, (header_name, &good)], "hellO"),
            (200, vec![multipart, (header_name, &good)], "hello"),
        ]);
        assert_eq!(client(&wire, 1).get_vec("k", None).unwrap(), Some(b"hello".to_vec()), "{check:?}");
        assert_eq!(wire.sent.borrow().len(), 2, "{check:?}: the damaged body was read again");
    }
    // A composite checksum of parts cannot be checked whole: said, and the next check is used.
    let wire = Scripted::new(vec![(200, vec![("etag", "\"5d41402abc4b2a76b9719d911017c592\""), ("x-amz-checksum-crc32c", "AAAAAA==-2"), ("x-amz-checksum-type", "COMPOSITE")], "hello")]);
    assert_eq!(client(&wire, 0).get_vec("k", None).unwrap(), Some(b"hello".to_vec()));
    let said = wire.unchecked.borrow();
    assert!(said[0].contains("x-amz-checksum-crc32c") && said[0].contains("checked against ETag (MD5)"), "{said:?}");
}

#[test]
fn a_listing_is_a_page_of_list_objects_v2_under_the_key_prefix() {
    let page = "<ListBucketResult><IsTruncated>true</IsTruncated><Contents><Key>acme/m/1</Key><Size>3</Size><ETag>\"e1\"</ETag></Contents><Contents><Key>acme/m/2+x</Key><Size>4</Size><ETag>\"e2\"</ETag></Contents></ListBucketResult>";
    let last = "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>acme/m/3</Key><Size>5</Size><ETag>\"e3\"</ETag></Contents></ListBucketResult>";
    let wire = Scripted::new(vec![(200, vec![], page), (200, vec![], last)]);
    let c = client(&wire, 0);
    let first = c.list("m/", None, 2).unwrap();
    assert_eq!(first.objects.iter().map(|o| o.key.as_str()).collect::<Vec<_>>(), ["m/1", "m/2 x"]);
    assert_eq!(first.next.as_deref(), Some("m/2 x"));
    let second = c.list("m/", first.next.as_deref(), 5000).unwrap();
    assert_eq!((second.objects[0].key.as_str(), second.objects[0].size, second.next), ("m/3", 5, None));
    let sent = wire.sent.borrow();
    assert_eq!(sent[0].1, "/mail?encoding-type=url&list-type=2&max-keys=2&prefix=acme%2Fm%2F");
    assert_eq!(sent[1].1, "/mail?encoding-type=url&list-type=2&max-keys=1000&prefix=acme%2Fm%2F&start-after=acme%2Fm%2F2%20x");
    // A 200 with an error inside is sent again, never read as an empty page.
    let error_inside = "<Error><Code>InternalError</Code><Message>try again</Message></Error>";
    let wire = Scripted::new(vec![(200, vec![], error_inside), (200, vec![], last)]);
    assert_eq!(client(&wire, 1).list("m/", None, 10).unwrap().objects.len(), 1);
    assert_eq!(wire.sent.borrow().len(), 2);
    // A listing that stays busy says it was a listing, not a key.
    let wire = Scripted::new(vec![(503, vec![], "<Error><Code>SlowDown</Code></Error>")]);
    let busy = client(&wire, 0).list("m/", None, 10).unwrap_err();
    assert!(busy.message.starts_with("ListObjectsV2"), "{}", busy.message);
    // A key outside the prefix is the server's error, never handed back.
    let stray = "<ListBucketResult><Contents><Key>other/k</Key><Size>1</Size></Contents></ListBucketResult>";
    let wire = Scripted::new(vec![(200, vec![], stray)]);
    assert!(client(&wire, 0).list("", None, 10).unwrap_err().message.contains("outside the key prefix"));
}
