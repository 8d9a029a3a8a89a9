//! AWS Signature Version 4, header-based, as small pure functions.
//!
//! The steps are those of the AWS reference ("Create a signed AWS API request",
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html>) and of the S3
//! variant ("Signature Calculations for the Authorization Header",
//! <https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html>):
//! canonical request → string to sign → signing key → signature → Authorization header.
//!
//! S3 differs from the generic services in one way that matters here: the path is URI-encoded
//! once and never normalised, so `a/b/../c` and `x/./y` are object keys, not paths to clean.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The algorithm name that starts the string to sign and the Authorization header.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// SHA-256 of the empty string: the payload hash of a request without a body.
pub const EMPTY_PAYLOAD_SHA256: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// The keys a request is signed with. Never logged: the plugin has no Debug for it.
pub struct SigningKeys<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
    pub session_token: Option<&'a str>,
}

/// Where and when a request is signed.
pub struct SigningScope<'a> {
    /// `YYYYMMDDTHHMMSSZ`, the value of `x-amz-date`.
    pub amz_date: &'a str,
    pub region: &'a str,
    pub service: &'a str,
}

impl SigningScope<'_> {
    /// `YYYYMMDD`, the date part of `amz_date`.
    pub fn date(&self) -> &str {
        &self.amz_date[..8]
    }

    /// Pushes the credential scope: `date/region/service/aws4_request`.
    fn push_credential_scope(&self, out: &mut String) {
        for part in [self.date(), "/", self.region, "/", self.service, "/aws4_request"] {
            out.push_str(part);
        }
    }
}

/// Lower-case hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex_lower(&sha256(data))
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// URI-encodes per the SigV4 rules: every byte except the unreserved `A-Z a-z 0-9 - . _ ~` becomes
/// `%XX` (upper-case hex); `/` is kept when `keep_slash` is set (object key paths) and encoded
/// otherwise (query names and values).
pub fn uri_encode(input: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(input.len() * 3);
    for &byte in input.as_bytes() {
        let unreserved = byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~');
        if unreserved || (keep_slash && byte == b'/') {
            out.push(byte as char);
        } else {
            out.push('%');
            out.push(HEX_UPPER[(byte >> 4) as usize] as char);
            out.push(HEX_UPPER[(byte & 0xf) as usize] as char);
        }
    }
    out
}

/// The canonical query string: each name and value URI-encoded, sorted by name then value,
/// joined with `&`. `params` are decoded (raw) pairs.
pub fn canonical_query(params: &[(String, String)]) -> String {
    if params.is_empty() {
        return String::new();
    }
    let mut encoded: Vec<(String, String)> = params
        .iter()
        .map(|(name, value)| (uri_encode(name, false), uri_encode(value, false)))
        .collect();
    encoded.sort();
    let mut query = String::with_capacity(encoded.iter().map(|(n, v)| n.len() + v.len() + 2).sum());
    for (i, (name, value)) in encoded.iter().enumerate() {
        if i > 0 {
            query.push('&');
        }
        for part in [name, "=", value] {
            query.push_str(part);
        }
    }
    query
}

/// Pushes the canonical headers block onto `out` and returns the signed-headers list. Names
/// are lower-cased and sorted; values are trimmed, inner runs of white space folded to one
/// space, and the values of a repeated name joined with `,` in the order they came. One
/// string, no string per header: a request is signed on every attempt.
fn push_canonical_headers(headers: &[(String, String)], out: &mut String) -> String {
    // A stable sort: a repeated name's values stay in the order they came.
    let mut sorted: Vec<&(String, String)> = headers.iter().collect();
    sorted.sort_by(|a, b| a.0.bytes().map(|c| c.to_ascii_lowercase()).cmp(b.0.bytes().map(|c| c.to_ascii_lowercase())));
    let mut signed = String::with_capacity(sorted.iter().map(|(name, _)| name.len() + 1).sum());
    let mut previous: Option<&str> = None;
    for (name, value) in sorted {
        if previous.is_some_and(|p| p.eq_ignore_ascii_case(name)) {
            out.push(',');
        } else {
            if previous.is_some() {
                out.push('\n');
                signed.push(';');
            }
            push_lowercase(out, name);
            out.push(':');
            push_lowercase(&mut signed, name);
        }
        // Trimmed, inner runs of white space folded to one space.
        for (i, word) in value.split_whitespace().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(word);
        }
        previous = Some(name);
    }
    if previous.is_some() {
        out.push('\n');
    }
    signed
}

fn push_lowercase(out: &mut String, name: &str) {
    let start = out.len();
    out.push_str(name);
    out[start..].make_ascii_lowercase();
}

/// The canonical request: method, URI, query, headers, signed headers and payload hash, one per
/// line. `canonical_uri` is already encoded (see [`uri_encode`]).
pub fn canonical_request(
    method: &str,
    canonical_uri: &str,
    canonical_query: &str,
    headers: &[(String, String)],
    payload_sha256: &str,
) -> (String, String) {
    let lengths: usize = headers.iter().map(|(name, value)| name.len() + value.len() + 2).sum();
    let mut request = String::with_capacity(2 * lengths + method.len() + canonical_uri.len() + canonical_query.len() + 72);
    for part in [method, "\n", canonical_uri, "\n", canonical_query, "\n"] {
        request.push_str(part);
    }
    let signed = push_canonical_headers(headers, &mut request);
    for part in ["\n", &signed, "\n", payload_sha256] {
        request.push_str(part);
    }
    (request, signed)
}

/// The string to sign: algorithm, date, credential scope and the hash of the canonical request.
pub fn string_to_sign(scope: &SigningScope<'_>, canonical_request: &str) -> String {
    let mut sts = String::with_capacity(ALGORITHM.len() + scope.amz_date.len() + 112 + scope.region.len());
    for part in [ALGORITHM, "\n", scope.amz_date, "\n"] {
        sts.push_str(part);
    }
    scope.push_credential_scope(&mut sts);
    sts.push('\n');
    push_hex(&mut sts, &sha256(canonical_request.as_bytes()));
    sts
}

/// The signing key: HMAC chain over date, region, service and `aws4_request`.
pub fn signing_key(secret_access_key: &str, scope: &SigningScope<'_>) -> [u8; 32] {
    let k_secret = format!("AWS4{secret_access_key}");
    let k_date = hmac_sha256(k_secret.as_bytes(), scope.date().as_bytes());
    let k_region = hmac_sha256(&k_date, scope.region.as_bytes());
    let k_service = hmac_sha256(&k_region, scope.service.as_bytes());
    hmac_sha256(&k_service, b"aws4_request")
}

/// The hex signature of `string_to_sign` with `signing_key`.
pub fn signature(signing_key: &[u8; 32], string_to_sign: &str) -> String {
    DayKey::new(signing_key).signature(string_to_sign)
}

/// A signing key ready to sign: HMAC's inner and outer pads are hashed once, when the key is
/// derived, so that a signature hashes only the string to sign (two SHA-256 blocks fewer per
/// request).
#[derive(Clone)]
pub struct DayKey(Hmac<Sha256>);

impl DayKey {
    pub fn new(signing_key: &[u8; 32]) -> DayKey {
        DayKey(Hmac::<Sha256>::new_from_slice(signing_key).expect("HMAC takes a key of any length"))
    }

    /// The hex signature of `string_to_sign`.
    pub fn signature(&self, string_to_sign: &str) -> String {
        let mut mac = self.0.clone();
        mac.update(string_to_sign.as_bytes());
        let mut sig = String::with_capacity(64);
        push_hex(&mut sig, &mac.finalize().into_bytes().into());
        sig
    }
}

/// The value of the Authorization header.
pub fn authorization(access_key_id: &str, scope: &SigningScope<'_>, signed: &str, sig: &str) -> String {
    let mut value = String::with_capacity(ALGORITHM.len() + access_key_id.len() + signed.len() + sig.len() + 96);
    for part in [ALGORITHM, " Credential=", access_key_id, "/"] {
        value.push_str(part);
    }
    scope.push_credential_scope(&mut value);
    for part in [", SignedHeaders=", signed, ", Signature=", sig] {
        value.push_str(part);
    }
    value
}

/// A request to sign, as S3 sees it. `headers` must already hold every header to be signed
/// (`host`, `range`, `content-md5`...); [`sign_s3`] adds `x-amz-date`, `x-amz-content-sha256`,
/// `x-amz-security-token` and finally `authorization`.
pub struct S3Request<'a> {
    pub method: &'a str,
    /// The object's path, URI-encoded once ([`uri_encode`] of `/bucket/prefix/key`): the
    /// request line carries the same string.
    pub canonical_uri: &'a str,
    /// [`canonical_query`] of the query's pairs.
    pub canonical_query: &'a str,
    pub payload_sha256: &'a str,
}

/// Signs an S3 request with header auth, pushing the SigV4 headers onto `headers`.
pub fn sign_s3(
    request: &S3Request<'_>,
    headers: &mut Vec<(String, String)>,
    keys: &SigningKeys<'_>,
    scope: &SigningScope<'_>,
) {
    let key = DayKey::new(&signing_key(keys.secret_access_key, scope));
    sign_s3_with_key(request, headers, keys, scope, &key);
}

/// [`sign_s3`], with the signing key for `scope` derived already (it changes once a day).
pub fn sign_s3_with_key(
    request: &S3Request<'_>,
    headers: &mut Vec<(String, String)>,
    keys: &SigningKeys<'_>,
    scope: &SigningScope<'_>,
    signing_key: &DayKey,
) {
    headers.push(("x-amz-date".into(), scope.amz_date.into()));
    headers.push(("x-amz-content-sha256".into(), request.payload_sha256.into()));
    if let Some(token) = keys.session_token {
        headers.push(("x-amz-security-token".into(), token.into()));
    }
    let (canonical, signed) =
        canonical_request(request.method, request.canonical_uri, request.canonical_query, headers, request.payload_sha256);
    let sig = signing_key.signature(&string_to_sign(scope, &canonical));
    headers.push(("authorization".into(), authorization(keys.access_key_id, scope, &signed, &sig)));
}

/// `x-amz-date` for a Unix time: `YYYYMMDDTHHMMSSZ`, UTC.
pub fn amz_date(unix_seconds: u64) -> String {
    let days = (unix_seconds / 86_400) as i64;
    let secs = unix_seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    if !(0..10_000).contains(&year) {
        return format!("{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z", secs / 3600, secs / 60 % 60, secs % 60);
    }
    // Signed on every attempt: digits pushed, not formatted.
    let mut date = [0u8; 16];
    let fields = [(year as u64, 4), (month.into(), 2), (day.into(), 2), (secs / 3600, 2), (secs / 60 % 60, 2), (secs % 60, 2)];
    let mut at = 0;
    for (i, (value, width)) in fields.into_iter().enumerate() {
        if i == 3 {
            date[at] = b'T';
            at += 1;
        }
        for place in (0..width).rev() {
            date[at] = b'0' + (value / 10u64.pow(place) % 10) as u8;
            at += 1;
        }
    }
    date[15] = b'Z';
    String::from_utf8(date.to_vec()).expect("digits are ASCII")
}

/// Gregorian date of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

fn hex_lower(digest: &[u8; 32]) -> String {
    let mut out = String::with_capacity(64);
    push_hex(&mut out, digest);
    out
}

fn push_hex(out: &mut String, digest: &[u8; 32]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut digits = [0u8; 64];
    for (pair, byte) in digits.chunks_exact_mut(2).zip(digest) {
        pair[0] = HEX[usize::from(byte >> 4)];
        pair[1] = HEX[usize::from(byte & 0xf)];
    }
    out.push_str(std::str::from_utf8(&digits).expect("hex digits are ASCII"));
}

#[cfg(test)]
mod tests;
