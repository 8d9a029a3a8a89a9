//! Property tests of every parser the plugin runs on what a server answers, and on the keys a
//! caller passes: any input ends in a value or in an error that says what was wrong, never in
//! a panic. CI runs proptest's default 256 cases per property; the long pass sets
//! `PROPTEST_CASES` (see docs/testing.md).

use proptest::prelude::*;

use super::*;
use crate::error::{classify, parse_error_body};
use crate::retry;

/// Pieces of what S3 servers answer: the tags and names S3 uses, and XML's awkward corners.
const XML_PIECES: &[&str] = &[
    "<Error>", "</Error>", "<Code>", "</Code>", "<Message>", "</Message>", "<UploadId>", "</UploadId>",
    "<?xml version=\"1.0\"?>", "<![CDATA[", "]]>", "&amp;&lt;&#x0;&#65;&bogus;", "<a b='c' d=\"e\"/>",
];

/// Header values a broken or hostile server might send, besides generated ones.
const ODD_VALUES: &[&str] = &["", "18446744073709551616", " 5 "];

/// The headers a GET or HEAD is judged on, and some it is not.
const ANSWER_HEADERS: &[&str] = &[
    "content-length", "etag", "x-amz-checksum-crc32", "x-amz-checksum-crc32c", "x-amz-checksum-crc64nvme",
    "x-amz-checksum-sha1", "x-amz-checksum-sha256", "x-amz-checksum-type", "x-amz-meta-coffer-part-size",
    "retry-after", "last-modified", "content-range", "date",
];

/// Text that looks like what S3 servers answer, taken apart: XML-ish pieces, names S3 uses,
/// and anything at all.
fn xmlish() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        proptest::sample::select(XML_PIECES).prop_map(str::to_string),
        "[^<>]{0,12}",
        any::<String>(),
    ];
    prop_oneof![
        proptest::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat().into_bytes()),
        proptest::collection::vec(any::<u8>(), 0..256),
    ]
}

/// Header values as a broken or hostile server might send them.
fn header_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9]{0,25}",
        "-?[0-9]{1,22}",
        "\"?[0-9a-f]{32}(-[0-9]{0,6})?\"?",
        "[A-Za-z0-9+/=]{0,48}",
        proptest::sample::select(ODD_VALUES).prop_map(str::to_string),
    ]
}

fn answer_headers() -> impl Strategy<Value = Vec<(String, String)>> {
    let name = proptest::sample::select(ANSWER_HEADERS).prop_map(str::to_string);
    proptest::collection::vec((name, header_value()), 0..8)
}

proptest! {
    #[test]
    fn fuzz_error_bodies_parse_and_classify(status in 100u16..600, body in xmlish()) {
        let parsed = parse_error_body(&body);
        let error = classify(status, &parsed, "GET key \"k\"", "mail");
        prop_assert!(error.message.contains("GET key \"k\""), "{}", error.message);
    }

    #[test]
    fn fuzz_xml_fields(body in xmlish()) {
        let _ = encoding::xml_field(&body, b"UploadId");
    }

    #[test]
    fn fuzz_answer_heads_and_bodies_are_judged(
        status in prop_oneof![Just(200u16), Just(206u16), 100u16..600],
        headers in answer_headers(),
        size in 0u64..4096,
        digest in proptest::collection::vec(any::<u8>(), 0..40),
    ) {
        let check = check_for(status, &headers);
        let response = HttpResponse { status, headers, body: Vec::new(), received: Some(Received { size, digest }), cut: None };
        for formula in [EtagFormula::Unknown, EtagFormula::Aws, EtagFormula::Other] {
            if let Err(error) = integrity::check_body(&response, "k", formula) {
                prop_assert!(error.message.contains("GET key \"k\""), "{}", error.message);
            }
        }
        prop_assert!(status == 200 || check == Check::None);
    }

    /// Any answer is read for the server's dialect without a panic, and a clock offset comes
    /// only from a 403 with a date.
    #[test]
    fn fuzz_dialect_answers(status in 100u16..600, body in xmlish(), date in header_value(), now in any::<u32>()) {
        let _ = crate::dialect::refuses_checksum_headers(status, &body);
        let code = parse_error_body(&body).code;
        let offset = crate::dialect::clock_offset(status, &code, Some(&date), u64::from(now), 0);
        prop_assert!(offset.is_none() || status == 403);
    }

    #[test]
    fn fuzz_retry_after_never_waits_past_the_cap(attempt in any::<u32>(), random in any::<u64>(), after in header_value()) {
        prop_assert!(retry::delay_ms(attempt, random, Some(&after)) <= retry::MAX_DELAY_MS);
    }

    /// Any key is signed and sent, or refused as a bad key; a HEAD answer with any headers is
    /// an object, or an error that says what is missing.
    #[test]
    fn fuzz_keys_and_head_answers(key in any::<String>(), headers in answer_headers()) {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let wire = Scripted::new(vec![(200, headers, "")]);
        match client(&wire, 0).stat(&key) {
            Ok(info) => prop_assert!(info.is_some()),
            Err(error) => prop_assert!(
                error.kind == Kind::InvalidKey || error.message.contains("Content-Length"),
                "{}", error.message
            ),
        }
    }

    /// A listing answered with anything: a page, or an error naming the call.
    #[test]
    fn fuzz_list_answers(body in xmlish(), status in prop_oneof![Just(200u16), 100u16..600]) {
        let body = String::from_utf8_lossy(&body).into_owned();
        let wire = Scripted::new(vec![(status, vec![], body.as_str()); 4]);
        match client(&wire, 2).list("p/", None, 10) {
            Ok(page) => prop_assert!(page.objects.iter().all(|o| !o.key.is_empty())),
            Err(error) => prop_assert!(error.message.contains("ListObjectsV2") || error.message.contains("key"), "{}", error.message),
        }
    }

    /// A multipart start answered with anything: an upload id, or an error naming the call.
    #[test]
    fn fuzz_multipart_answers(body in xmlish(), status in prop_oneof![Just(200u16), 100u16..600]) {
        let settings = Settings { multipart_threshold: 8, part_size: 8, ..settings(0) };
        let body = String::from_utf8_lossy(&body).into_owned();
        // Create, then (if an id came) a part, the completion and an abort, all answered alike.
        let wire = Scripted::new(vec![(status, vec![], body.as_str()); 8]);
        if let Err(error) = Client::new(settings, keys(), &wire).unwrap().put("k", b"0123456789") {
            prop_assert!(!error.message.is_empty());
        }
    }
}
