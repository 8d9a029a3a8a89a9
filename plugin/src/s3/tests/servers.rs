//! What a server's answers teach a tenant: checksum headers refused, a clock ahead, composite
//! checksums; and listings.

use super::*;

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
