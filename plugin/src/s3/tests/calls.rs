//! Requests as built and answers as mapped: ranges, keys, addressing, puts verified, retries
//! and their budget.

use super::*;

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
