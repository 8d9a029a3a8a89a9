//! The store's error, and the one place where an S3 answer is given a meaning.

use quick_xml::Reader;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event;

/// Why an operation failed; lib.rs maps each case onto the WIT `error` variant of the same name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    AccessDenied(String),
    InvalidKey(String),
    InvalidConfig(String),
    Timeout(String),
    Unavailable(String),
    Integrity(String),
    Other(String),
}

impl StoreError {
    /// Whether another attempt may succeed: the backend or the network was busy or slow.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Timeout(_) | StoreError::Unavailable(_))
    }

    /// The same error, with `note` added to its message.
    pub fn with_note(self, note: &str) -> StoreError {
        let add = |m: String| format!("{m} {note}");
        match self {
            StoreError::AccessDenied(m) => StoreError::AccessDenied(add(m)),
            StoreError::InvalidKey(m) => StoreError::InvalidKey(add(m)),
            StoreError::InvalidConfig(m) => StoreError::InvalidConfig(add(m)),
            StoreError::Timeout(m) => StoreError::Timeout(add(m)),
            StoreError::Unavailable(m) => StoreError::Unavailable(add(m)),
            StoreError::Integrity(m) => StoreError::Integrity(add(m)),
            StoreError::Other(m) => StoreError::Other(add(m)),
        }
    }

    /// The message, without the kind.
    pub fn message(&self) -> &str {
        match self {
            StoreError::AccessDenied(m)
            | StoreError::InvalidKey(m)
            | StoreError::InvalidConfig(m)
            | StoreError::Timeout(m)
            | StoreError::Unavailable(m)
            | StoreError::Integrity(m)
            | StoreError::Other(m) => m,
        }
    }
}

/// What an S3 error body says: `<Error><Code>…</Code><Message>…</Message></Error>`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct S3ErrorBody {
    pub code: String,
    pub message: String,
}

/// Parses an S3 XML error body. An empty or unreadable body gives empty fields (HEAD answers
/// have no body at all).
pub fn parse_error_body(body: &[u8]) -> S3ErrorBody {
    let mut reader = Reader::from_reader(body);
    let mut parsed = S3ErrorBody::default();
    let mut current: Option<&'static str> = None;
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(tag)) => {
                current = match tag.local_name().as_ref() {
                    b"Code" => Some("code"),
                    b"Message" => Some("message"),
                    _ => None,
                }
            }
            Ok(Event::Text(text)) => {
                let value = text.xml10_content().map(|t| t.into_owned()).unwrap_or_default();
                push_field(&mut parsed, current, &value);
            }
            Ok(Event::GeneralRef(reference)) => {
                let name = reference.decode().map(|n| n.into_owned()).unwrap_or_default();
                let value = match reference.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    _ => resolve_predefined_entity(&name).unwrap_or_default().to_string(),
                };
                push_field(&mut parsed, current, &value);
            }
            Ok(Event::End(_)) => current = None,
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
        buf.clear();
    }
    parsed
}

fn push_field(parsed: &mut S3ErrorBody, field: Option<&str>, value: &str) {
    match field {
        Some("code") => parsed.code.push_str(value),
        Some("message") => parsed.message.push_str(value),
        _ => {}
    }
}

/// Maps a non-success S3 answer to its meaning. `what` names the operation and the key, so
/// every message says what was being done (`GET key "a/b"`).
pub fn classify(status: u16, body: &S3ErrorBody, what: &str, bucket: &str) -> StoreError {
    let detail = if body.code.is_empty() {
        format!("{what}: HTTP {status}")
    } else if body.message.is_empty() {
        format!("{what}: HTTP {status} {}", body.code)
    } else {
        format!("{what}: HTTP {status} {}: {}", body.code, body.message)
    };
    match (status, body.code.as_str()) {
        (_, "NoSuchBucket") => {
            StoreError::InvalidConfig(format!("bucket \"{bucket}\" does not exist ({detail})"))
        }
        (_, "AuthorizationHeaderMalformed" | "PermanentRedirect" | "IllegalLocationConstraintException") => {
            StoreError::InvalidConfig(format!("wrong region or endpoint for bucket \"{bucket}\" ({detail})"))
        }
        (_, "AccessDenied" | "InvalidAccessKeyId" | "SignatureDoesNotMatch" | "ExpiredToken"
            | "InvalidToken" | "TokenRefreshRequired" | "AllAccessDisabled") => StoreError::AccessDenied(detail),
        (_, "KeyTooLongError" | "InvalidURI" | "InvalidObjectName") => StoreError::InvalidKey(detail),
        (_, "BadDigest" | "InvalidDigest" | "XAmzContentSHA256Mismatch") => StoreError::Integrity(detail),
        (_, "RequestTimeout") | (408, _) => StoreError::Timeout(detail),
        (_, "SlowDown" | "InternalError" | "ServiceUnavailable" | "OperationAborted") => {
            StoreError::Unavailable(detail)
        }
        (401 | 403, _) => StoreError::AccessDenied(detail),
        (301 | 307, _) => StoreError::InvalidConfig(format!("wrong region or endpoint ({detail})")),
        (429 | 500..=599, _) => StoreError::Unavailable(detail),
        _ => StoreError::Other(detail),
    }
}

#[cfg(test)]
mod tests {
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
        assert!(matches!(classify(403, &parse_error_body(DENIED.as_bytes()), "GET", "b"), StoreError::AccessDenied(m) if m.contains("SignatureDoesNotMatch")));
        assert!(matches!(classify(403, &none, "HEAD", "b"), StoreError::AccessDenied(_)));
        assert!(matches!(classify(404, &code("NoSuchBucket"), "GET", "mail"), StoreError::InvalidConfig(m) if m.contains("\"mail\"")));
        assert!(matches!(classify(503, &code("SlowDown"), "PUT", "b"), StoreError::Unavailable(_)));
        assert!(matches!(classify(500, &none, "PUT", "b"), StoreError::Unavailable(_)));
        assert!(matches!(classify(429, &none, "PUT", "b"), StoreError::Unavailable(_)));
        assert!(matches!(classify(400, &code("RequestTimeout"), "PUT", "b"), StoreError::Timeout(_)));
        assert!(matches!(classify(400, &code("InvalidDigest"), "PUT", "b"), StoreError::Integrity(_)));
        assert!(matches!(classify(400, &code("KeyTooLongError"), "PUT", "b"), StoreError::InvalidKey(_)));
        assert!(matches!(classify(400, &code("Weird"), "PUT", "b"), StoreError::Other(m) if m.contains("Weird")));
        assert!(classify(503, &none, "GET", "b").is_transient());
        assert!(!classify(403, &none, "GET", "b").is_transient());
    }
}
