use super::*;

const DENIED: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match &amp; so on</Message><RequestId>1</RequestId></Error>"#;

#[test]
fn parses_code_and_message_with_entities() {
    let body = parse_error_body(DENIED.as_bytes());
    assert_eq!(body.code, "SignatureDoesNotMatch");
    assert_eq!(body.message, "The request signature we calculated does not match & so on");
}

#[test]
fn empty_and_garbage_bodies_give_empty_fields() {
    assert_eq!(parse_error_body(b""), S3ErrorBody::default());
    assert_eq!(parse_error_body(b"not xml <<").code, "");
}

#[test]
fn statuses_and_codes_map_to_meanings() {
    let code = |c: &str| S3ErrorBody { code: c.into(), message: String::new() };
    let none = S3ErrorBody::default();
    assert!({ let e = classify(403, &parse_error_body(DENIED.as_bytes()), "GET", "b"); e.kind == Kind::AccessDenied && { let m = &e.message; m.contains("SignatureDoesNotMatch") } });
    assert!(classify(403, &none, "HEAD", "b").kind == Kind::AccessDenied);
    assert!({ let e = classify(404, &code("NoSuchBucket"), "GET", "mail"); e.kind == Kind::InvalidConfig && { let m = &e.message; m.contains("\"mail\"") } });
    assert!(classify(503, &code("SlowDown"), "PUT", "b").kind == Kind::Unavailable);
    assert!(classify(500, &none, "PUT", "b").kind == Kind::Unavailable);
    assert!(classify(429, &none, "PUT", "b").kind == Kind::Unavailable);
    assert!(classify(400, &code("RequestTimeout"), "PUT", "b").kind == Kind::Timeout);
    assert!(classify(400, &code("InvalidDigest"), "PUT", "b").kind == Kind::Integrity);
    assert!(classify(400, &code("KeyTooLongError"), "PUT", "b").kind == Kind::InvalidKey);
    assert!({ let e = classify(400, &code("Weird"), "PUT", "b"); e.kind == Kind::Other && { let m = &e.message; m.contains("Weird") } });
    assert!(classify(503, &none, "GET", "b").is_transient());
    assert!(!classify(501, &code("NotImplemented"), "PUT", "b").is_transient(), "a 501 is not transient");
    assert!(!classify(403, &none, "GET", "b").is_transient());
    let missing = classify(404, &code("NoSuchBucket"), "GET", "mail");
    assert_eq!((missing.status, missing.s3_code.as_deref()), (Some(404), Some("NoSuchBucket")));
    let bare = classify(500, &none, "GET", "b");
    assert_eq!((bare.status, bare.s3_code), (Some(500), None));
}
