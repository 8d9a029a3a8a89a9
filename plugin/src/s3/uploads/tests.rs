use super::*;

#[test]
fn an_answer_is_read_for_its_uploads_and_whether_more_follow() {
    let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Bucket>mail</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>
  <NextKeyMarker>t/b&amp;c</NextKeyMarker><NextUploadIdMarker>id-2</NextUploadIdMarker>
  <MaxUploads>1000</MaxUploads><IsTruncated>true</IsTruncated>
  <Upload><Key>t/a</Key><UploadId>id-1</UploadId><Initiated>2026-12-01T10:00:00.000Z</Initiated></Upload>
  <Upload><Key>t/b&amp;c</Key><UploadId>id-2</UploadId></Upload>
</ListMultipartUploadsResult>"#;
    let page = parse_uploads(body).unwrap();
    assert!(page.truncated);
    let keys: Vec<(&str, &str)> = page.uploads.iter().map(|u| (u.key.as_str(), u.upload_id.as_str())).collect();
    assert_eq!(keys, [("t/a", "id-1"), ("t/b&c", "id-2")]);
    assert_eq!(page.uploads[0].initiated.as_deref(), Some("2026-12-01T10:00:00.000Z"));
    assert_eq!(page.uploads[1].initiated, None);
    let empty = parse_uploads(b"<ListMultipartUploadsResult><IsTruncated>false</IsTruncated></ListMultipartUploadsResult>").unwrap();
    assert!(empty.uploads.is_empty() && !empty.truncated);
    assert!(parse_uploads(b"<Error><Code>InternalError</Code></Error>").is_err(), "an error is no empty page");
    assert!(parse_uploads(b"").is_err());
}
