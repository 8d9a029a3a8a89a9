use super::*;
use std::path::{Path, PathBuf};

// ---- The S3 header-auth examples of the S3 API reference ----------------------------------
// Credentials AKIAIOSFODNN7EXAMPLE / wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY, us-east-1, s3,
// 20130524T000000Z, Host examplebucket.s3.amazonaws.com.

const S3_KEYS: SigningKeys<'static> = SigningKeys {
    access_key_id: "AKIAIOSFODNN7EXAMPLE",
    secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    session_token: None,
};
const S3_SCOPE: SigningScope<'static> =
    SigningScope { amz_date: "20130524T000000Z", region: "us-east-1", service: "s3" };

fn header(name: &str, value: &str) -> (String, String) {
    (name.to_string(), value.to_string())
}

fn sign_s3_example(
    method: &str,
    path: &str,
    query: &[(String, String)],
    mut headers: Vec<(String, String)>,
    payload_sha256: &str,
) -> Vec<(String, String)> {
    headers.insert(0, header("host", "examplebucket.s3.amazonaws.com"));
    let (canonical_uri, canonical_query) = (uri_encode(path, true), canonical_query(query));
    let request = S3Request { method, canonical_uri: &canonical_uri, canonical_query: &canonical_query, payload_sha256 };
    sign_s3(&request, &mut headers, &S3_KEYS, &S3_SCOPE);
    headers
}

fn authorization_of(headers: &[(String, String)]) -> &str {
    &headers.iter().find(|(n, _)| n == "authorization").expect("signed").1
}

#[test]
fn s3_example_get_object_with_range() {
    let headers = sign_s3_example(
        "GET",
        "/test.txt",
        &[],
        vec![header("range", "bytes=0-9")],
        EMPTY_PAYLOAD_SHA256,
    );
    assert_eq!(
        authorization_of(&headers),
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
         SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
         Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    );
}

#[test]
fn s3_example_get_object_canonical_request_hash() {
    let (canonical, _) = canonical_request(
        "GET",
        &uri_encode("/test.txt", true),
        "",
        &[
            header("host", "examplebucket.s3.amazonaws.com"),
            header("range", "bytes=0-9"),
            header("x-amz-content-sha256", EMPTY_PAYLOAD_SHA256),
            header("x-amz-date", "20130524T000000Z"),
        ],
        EMPTY_PAYLOAD_SHA256,
    );
    assert_eq!(
        sha256_hex(canonical.as_bytes()),
        "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"
    );
}

#[test]
fn s3_example_put_object() {
    let body = b"Welcome to Amazon S3.";
    let payload = sha256_hex(body);
    assert_eq!(payload, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
    let headers = sign_s3_example(
        "PUT",
        "/test$file.text",
        &[],
        vec![
            header("date", "Fri, 24 May 2013 00:00:00 GMT"),
            header("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        ],
        &payload,
    );
    assert_eq!(
        authorization_of(&headers),
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
         SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class, \
         Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
    );
    assert_eq!(uri_encode("/test$file.text", true), "/test%24file.text");
}

#[test]
fn s3_example_get_bucket_lifecycle() {
    let query = [("lifecycle".to_string(), String::new())];
    let headers = sign_s3_example("GET", "/", &query, vec![], EMPTY_PAYLOAD_SHA256);
    assert!(authorization_of(&headers).ends_with(
        "SignedHeaders=host;x-amz-content-sha256;x-amz-date, \
         Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"
    ));
}

#[test]
fn s3_example_list_objects() {
    let query = [("max-keys".to_string(), "2".to_string()), ("prefix".to_string(), "J".to_string())];
    let headers = sign_s3_example("GET", "/", &query, vec![], EMPTY_PAYLOAD_SHA256);
    assert!(authorization_of(&headers).ends_with(
        "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
    ));
}

#[test]
fn s3_session_token_is_signed() {
    let keys = SigningKeys { session_token: Some("tok/en+="), ..S3_KEYS };
    let request = S3Request { method: "GET", canonical_uri: "/b/k", canonical_query: "", payload_sha256: EMPTY_PAYLOAD_SHA256 };
    let mut headers = vec![header("host", "h")];
    sign_s3(&request, &mut headers, &keys, &S3_SCOPE);
    assert!(headers.contains(&header("x-amz-security-token", "tok/en+=")));
    assert!(authorization_of(&headers).contains("x-amz-date;x-amz-security-token,"));
}

// ---- S3 keys are encoded once and never normalised ---------------------------------------

#[test]
fn key_paths_are_encoded_once_and_kept_as_they_are() {
    assert_eq!(uri_encode("/b/a/b/../c", true), "/b/a/b/../c");
    assert_eq!(uri_encode("/b/x/./y", true), "/b/x/./y");
    assert_eq!(uri_encode("/b//k", true), "/b//k");
    assert_eq!(uri_encode("/b/a b+c=d&e%f~g?h#i", true), "/b/a%20b%2Bc%3Dd%26e%25f~g%3Fh%23i");
    assert_eq!(uri_encode("/b/ü€", true), "/b/%C3%BC%E2%82%AC");
    assert_eq!(uri_encode("a/b", false), "a%2Fb");
}

#[test]
fn amz_date_formats_utc() {
    assert_eq!(amz_date(0), "19700101T000000Z");
    assert_eq!(amz_date(1_369_353_600), "20130524T000000Z");
    assert_eq!(amz_date(1_440_938_160), "20150830T123600Z");
    assert_eq!(amz_date(951_782_400 + 86_399), "20000229T235959Z");
    assert_eq!(amz_date(4_102_444_800), "21000101T000000Z");
}

// ---- AWS's generic SigV4 suite, the cases whose rules are S3's ---------------------------

struct Case {
    name: String,
    method: String,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    context: serde_json::Value,
}

fn suite_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/sigv4/v4")
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn load_case(dir: &Path) -> Case {
    let text = std::fs::read_to_string(dir.join("request.txt")).unwrap();
    let (head, body) = text.split_once("\n\n").unwrap_or((text.as_str(), ""));
    let mut lines = head.lines();
    let request_line = lines.next().unwrap();
    let (method, rest) = request_line.split_once(' ').unwrap();
    let target = rest.strip_suffix(" HTTP/1.1").unwrap();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let query = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (n, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(n), percent_decode(v))
        })
        .collect();
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.starts_with([' ', '\t']) {
            let last = headers.last_mut().unwrap();
            last.1.push(' ');
            last.1.push_str(line.trim());
        } else {
            let (n, v) = line.split_once(':').unwrap();
            headers.push((n.to_string(), v.to_string()));
        }
    }
    let context = serde_json::from_str(&std::fs::read_to_string(dir.join("context.json")).unwrap()).unwrap();
    Case {
        name: dir.file_name().unwrap().to_string_lossy().into_owned(),
        method: method.to_string(),
        path: path.to_string(),
        query,
        headers,
        body: body.as_bytes().to_vec(),
        context,
    }
}

fn expected(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap().trim_end_matches('\n').to_string()
}

#[test]
fn generic_suite_cases_that_apply_to_s3() {
    let mut dirs: Vec<_> = std::fs::read_dir(suite_dir()).unwrap().map(|e| e.unwrap().path()).collect();
    dirs.sort();
    assert!(dirs.len() >= 25, "the vectors are missing: {}", suite_dir().display());
    for dir in dirs {
        let case = load_case(&dir);
        let ctx = &case.context;
        let creds = &ctx["credentials"];
        let scope = SigningScope {
            amz_date: "20150830T123600Z",
            region: ctx["region"].as_str().unwrap(),
            service: ctx["service"].as_str().unwrap(),
        };
        let payload = sha256_hex(&case.body);
        let mut headers = case.headers.clone();
        headers.push(("X-Amz-Date".into(), scope.amz_date.into()));
        if ctx["sign_body"].as_bool() == Some(true) {
            headers.push(("X-Amz-Content-Sha256".into(), payload.clone()));
        }
        let omit_token = ctx["omit_session_token"].as_bool() == Some(true);
        if let (Some(token), false) = (creds["token"].as_str(), omit_token) {
            headers.push(("X-Amz-Security-Token".into(), token.into()));
        }
        let (canonical, signed) = canonical_request(
            &case.method,
            &uri_encode(&case.path, true),
            &canonical_query(&case.query),
            &headers,
            &payload,
        );
        assert_eq!(canonical, expected(&dir, "header-canonical-request.txt"), "{}", case.name);
        let sts = string_to_sign(&scope, &canonical);
        assert_eq!(sts, expected(&dir, "header-string-to-sign.txt"), "{}", case.name);
        let key = signing_key(creds["secret_access_key"].as_str().unwrap(), &scope);
        let sig = signature(&key, &sts);
        assert_eq!(sig, expected(&dir, "header-signature.txt"), "{}", case.name);
        assert!(!signed.is_empty());
    }
}
