//! What reads check and puts send: checksums, the signing key of the day, multipart
//! completions that lie, parts that keep failing.

use super::*;

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
        let request = S3Request { method: "HEAD", canonical_uri: "/mail/acme/k", canonical_query: "", payload_sha256: sigv4::EMPTY_PAYLOAD_SHA256 };
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
