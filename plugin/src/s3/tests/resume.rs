//! A GET whose body broke off goes on from the byte it reached, held to the same object, and
//! the pieces are checked as one body.

use super::*;

const ETAG: (&str, &str) = ("etag", "\"5eb63bbbe01eeed093cb22bb8f5acdc3\""); // md5("hello world")
const WHOLE: (&str, &str) = ("content-length", "11");

#[test]
fn a_cut_body_goes_on_from_where_it_stopped_held_to_its_etag() {
    let wire = Scripted::new(vec![
        (200, vec![ETAG, WHOLE, ("x-scripted-cut", "5")], "hello world"),
        (206, vec![ETAG, ("content-length", "6"), ("content-range", "bytes 5-10/11")], " world"),
    ]);
    assert_eq!(client(&wire, 3).get_vec("k", None).unwrap(), Some(b"hello world".to_vec()));
    let sent = wire.sent.borrow();
    assert_eq!(sent.len(), 2);
    assert_eq!(header(&sent[1].2, "range"), Some("bytes=5-10"));
    assert_eq!(header(&sent[1].2, "if-match"), Some(ETAG.1));
    assert!(header(&sent[1].2, "authorization").unwrap().contains("if-match;range"), "both are signed");
}

#[test]
fn the_pieces_are_checked_as_one_body() {
    // The second piece is damaged: the MD5 of the whole does not match, and the read starts over.
    let wire = Scripted::new(vec![
        (200, vec![ETAG, WHOLE, ("x-scripted-cut", "5")], "hello world"),
        (206, vec![ETAG, ("content-length", "6"), ("content-range", "bytes 5-10/11")], " worlD"),
        (200, vec![ETAG, WHOLE], "hello world"),
    ]);
    assert_eq!(client(&wire, 3).get_vec("k", None).unwrap(), Some(b"hello world".to_vec()));
    assert_eq!(header(&wire.sent.borrow()[2].2, "range"), None, "started over, whole");

    let always = Scripted::new(vec![
        (200, vec![ETAG, WHOLE, ("x-scripted-cut", "5")], "hello world"),
        (206, vec![ETAG, ("content-length", "6"), ("content-range", "bytes 5-10/11")], " worlD"),
    ]);
    let error = client(&always, 1).get_vec("k", None).unwrap_err();
    assert!(matches!(error, StoreError { kind: Kind::Integrity, .. }), "{error:?}");
}

#[test]
fn an_object_that_changed_between_the_pieces_is_read_again_whole_never_stitched() {
    let other = ("etag", "\"00000000000000000000000000000000\"");
    // The server honours If-Match: 412.
    let refused = Scripted::new(vec![
        (200, vec![ETAG, WHOLE, ("x-scripted-cut", "5")], "hello world"),
        (412, vec![], "<Error><Code>PreconditionFailed</Code></Error>"),
        (200, vec![WHOLE], "HELLO WORLD"),
    ]);
    assert_eq!(client(&refused, 3).get_vec("k", None).unwrap(), Some(b"HELLO WORLD".to_vec()));
    // A server that ignores If-Match answers the new object's bytes: its ETag gives it away.
    let ignored = Scripted::new(vec![
        (200, vec![ETAG, WHOLE, ("x-scripted-cut", "5")], "hello world"),
        (206, vec![other, ("content-length", "6"), ("content-range", "bytes 5-10/11")], " WORLD"),
        (200, vec![WHOLE], "HELLO WORLD"),
    ]);
    assert_eq!(client(&ignored, 3).get_vec("k", None).unwrap(), Some(b"HELLO WORLD".to_vec()));
    // Gone meanwhile: the read starts over and finds nothing.
    let gone = Scripted::new(vec![
        (200, vec![ETAG, WHOLE, ("x-scripted-cut", "5")], "hello world"),
        (404, vec![], "<Error><Code>NoSuchKey</Code></Error>"),
        (404, vec![], "<Error><Code>NoSuchKey</Code></Error>"),
    ]);
    assert_eq!(client(&gone, 3).get_vec("k", None).unwrap(), None);
}

#[test]
fn a_range_goes_on_within_itself_and_a_server_that_ignores_ranges_is_read_again() {
    let wire = Scripted::new(vec![
        (206, vec![ETAG, ("content-length", "7"), ("content-range", "bytes 2-8/11"), ("x-scripted-cut", "3")], "llo wor"),
        (206, vec![ETAG, ("content-length", "4"), ("content-range", "bytes 5-8/11")], " wor"),
    ]);
    assert_eq!(client(&wire, 3).get_vec("k", Some((2, Some(9)))).unwrap(), Some(b"llo wor".to_vec()));
    assert_eq!(header(&wire.sent.borrow()[1].2, "range"), Some("bytes=5-8"));

    let ignores = Scripted::new(vec![
        (200, vec![ETAG, WHOLE, ("x-scripted-cut", "5")], "hello world"),
        (200, vec![ETAG, WHOLE], "hello world"),
        (200, vec![ETAG, WHOLE], "hello world"),
    ]);
    assert_eq!(client(&ignores, 3).get_vec("k", None).unwrap(), Some(b"hello world".to_vec()));
    assert_eq!(ignores.sent.borrow().len(), 3, "the 200 to the ranged GET is not taken as the rest");
}

#[test]
fn without_an_etag_a_cut_read_starts_over_and_each_piece_spends_a_retry() {
    let no_etag = Scripted::new(vec![(200, vec![WHOLE, ("x-scripted-cut", "5")], "hello world"), (200, vec![WHOLE], "hello world")]);
    assert_eq!(client(&no_etag, 3).get_vec("k", None).unwrap(), Some(b"hello world".to_vec()));
    assert_eq!(header(&no_etag.sent.borrow()[1].2, "range"), None);

    let cut_twice = Scripted::new(vec![
        (200, vec![ETAG, WHOLE, ("x-scripted-cut", "5")], "hello world"),
        (206, vec![ETAG, ("content-length", "6"), ("content-range", "bytes 5-10/11"), ("x-scripted-cut", "2")], " world"),
    ]);
    let error = client(&cut_twice, 1).get_vec("k", None).unwrap_err();
    assert!(matches!(error, StoreError { kind: Kind::Unavailable, ref message, .. } if message.contains("scripted cut")), "{error:?}");
    assert_eq!(cut_twice.sent.borrow().len(), 2, "one retry: one piece more");
}
