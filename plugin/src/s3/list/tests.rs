use super::*;

#[test]
fn a_page_is_read_with_its_keys_decoded() {
    let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>mail</Name><Prefix>acme%2F</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys><EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>
<Contents><Key>acme/a+b%2Bc%26d</Key><LastModified>2026-11-29T10:00:00.000Z</LastModified><ETag>&quot;5d41402abc4b2a76b9719d911017c592&quot;</ETag><Size>5</Size><StorageClass>STANDARD</StorageClass></Contents>
<Contents><Key>acme/%C3%A9t%C3%A9</Key><ETag>"x-2"</ETag><Size>11534336</Size></Contents>
<NextContinuationToken>tok</NextContinuationToken></ListBucketResult>"#;
    let page = parse_page(body).unwrap();
    assert!(page.truncated);
    assert_eq!(page.objects.len(), 2);
    assert_eq!(page.objects[0].key, "acme/a b+c&d");
    assert_eq!(page.objects[0].etag, "5d41402abc4b2a76b9719d911017c592");
    assert_eq!(page.objects[0].size, 5);
    assert_eq!(page.objects[0].last_modified.as_deref(), Some("2026-11-29T10:00:00.000Z"));
    assert_eq!(page.objects[1].key, "acme/été");
    assert_eq!(page.objects[1].size, 11 << 20);
    let last = parse_page(b"<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>").unwrap();
    assert!(!last.truncated && last.objects.is_empty());
    assert!(parse_page(b"<ListBucketResult><Contents><Key>k</Key><Size>big</Size></Contents></ListBucketResult>").is_err());
    assert!(url_decode("%zz").is_err() && url_decode("%4").is_err() && url_decode("%ff").is_err());
    assert!(parse_page(b"<Error><Code>InternalError</Code></Error>").is_err(), "not a listing");
    assert!(parse_page(b"").is_err());
}
