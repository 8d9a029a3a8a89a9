use super::*;

const B2: &[u8] = b"<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<Error>\n    <Code>InvalidArgument</Code>\n    <Message>Unsupported header 'x-amz-checksum-crc32' received for this API call.</Message>\n</Error>";
const R2: &[u8] = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NotImplemented</Code><Message>Header 'x-amz-checksum-crc32' with value 'NhCmhg==' not implemented</Message></Error>";

#[test]
fn b2_and_r2_refusals_are_recognised_and_nothing_else() {
    assert!(refuses_checksum_headers(400, B2));
    assert!(refuses_checksum_headers(501, R2));
    let mode = b"<Error><Code>InvalidArgument</Code><Message>Unsupported header 'x-amz-checksum-mode' received for this API call.</Message></Error>";
    assert!(refuses_checksum_headers(400, mode));
    let sdk = b"<Error><Code>InvalidArgument</Code><Message>Unsupported header 'X-Amz-SDK-Checksum-Algorithm'</Message></Error>";
    assert!(refuses_checksum_headers(400, sdk));
    // A body that does not match its checksum is not a refused header, whatever it names.
    let mismatch = b"<Error><Code>BadDigest</Code><Message>The x-amz-checksum-crc32 you specified did not match</Message></Error>";
    assert!(!refuses_checksum_headers(400, mismatch));
    assert!(!refuses_checksum_headers(503, R2), "a 503 is transient, not a refusal");
    assert!(!refuses_checksum_headers(400, b"<Error><Code>InvalidDigest</Code><Message>The Content-MD5 you specified was invalid.</Message></Error>"));
    assert!(!refuses_checksum_headers(400, b""));
    assert!(is_checksum_header("X-Amz-Checksum-CRC32"));
    assert!(is_checksum_header("x-amz-checksum-mode"));
    assert!(is_checksum_header("x-amz-sdk-checksum-algorithm"));
    assert!(!is_checksum_header("content-md5"));
}

#[test]
fn a_skewed_clock_is_measured_from_the_servers_date() {
    // 1994-11-06T08:49:37Z is 784111777.
    let date = Some("Sun, 06 Nov 1994 08:49:37 GMT");
    let hour_behind = 784_111_777 - 3600;
    assert_eq!(clock_offset(403, "RequestTimeTooSkewed", date, hour_behind, 0), Some(3600));
    assert_eq!(clock_offset(403, "SignatureDoesNotMatch", date, hour_behind, 0), Some(3600), "a 403 with a far date");
    assert_eq!(clock_offset(403, "AccessDenied", date, 784_111_777 - 10, 0), None, "10 s is no skew");
    assert_eq!(clock_offset(403, "RequestTimeTooSkewed", date, hour_behind, 3600), None, "already corrected");
    assert_eq!(clock_offset(503, "RequestTimeTooSkewed", date, hour_behind, 0), None);
    assert_eq!(clock_offset(403, "RequestTimeTooSkewed", None, hour_behind, 0), None, "no date to go by");
    assert_eq!(clock_offset(403, "RequestTimeTooSkewed", Some("yesterday"), hour_behind, 0), None);
    assert_eq!(clock_offset(403, "RequestTimeTooSkewed", date, 784_111_777 + 1200, 0), Some(-1200), "ahead");
}
