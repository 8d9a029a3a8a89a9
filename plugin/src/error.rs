//! The store's error, and the one place where an S3 answer is given a meaning.

use quick_xml::Reader;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event;

/// Why an operation failed, as the WIT's `error` record declares it: its kind, a message
/// naming the operation and the key, and the HTTP status and S3 error code of the answer that
/// decided it, when there was one. The helpers below are the plugin's own.
pub use crate::bindings::coffer::blobstore::types::{Error as StoreError, ErrorKind as Kind};

impl StoreError {
    pub fn new(kind: Kind, message: impl Into<String>) -> StoreError {
        StoreError { kind, message: message.into(), status: None, s3_code: None }
    }
    pub fn access_denied(message: impl Into<String>) -> StoreError {
        StoreError::new(Kind::AccessDenied, message)
    }
    pub fn invalid_key(message: impl Into<String>) -> StoreError {
        StoreError::new(Kind::InvalidKey, message)
    }
    pub fn invalid_config(message: impl Into<String>) -> StoreError {
        StoreError::new(Kind::InvalidConfig, message)
    }
    pub fn timeout(message: impl Into<String>) -> StoreError {
        StoreError::new(Kind::Timeout, message)
    }
    pub fn unavailable(message: impl Into<String>) -> StoreError {
        StoreError::new(Kind::Unavailable, message)
    }
    pub fn integrity(message: impl Into<String>) -> StoreError {
        StoreError::new(Kind::Integrity, message)
    }
    pub fn other(message: impl Into<String>) -> StoreError {
        StoreError::new(Kind::Other, message)
    }

    /// The same error, with the answer's status and S3 code.
    pub fn with_answer(mut self, status: u16, s3_code: &str) -> StoreError {
        self.status = Some(status);
        self.s3_code = Some(s3_code.to_string()).filter(|c| !c.is_empty());
        self
    }

    /// Whether another attempt may succeed: the backend or the network was busy or slow.
    pub fn is_transient(&self) -> bool {
        matches!(self.kind, Kind::Timeout | Kind::Unavailable)
    }

    /// The same error, with `note` added to its message.
    pub fn with_note(mut self, note: &str) -> StoreError {
        self.message = format!("{} {note}", self.message);
        self
    }

    /// The message, without the kind.
    pub fn message(&self) -> &str {
        &self.message
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
    let error = match (status, body.code.as_str()) {
        (_, "NoSuchBucket") => StoreError::invalid_config(format!("bucket \"{bucket}\" does not exist ({detail})")),
        (_, "AuthorizationHeaderMalformed" | "PermanentRedirect" | "IllegalLocationConstraintException") => {
            StoreError::invalid_config(format!("wrong region or endpoint for bucket \"{bucket}\" ({detail})"))
        }
        (_, "AccessDenied" | "InvalidAccessKeyId" | "SignatureDoesNotMatch" | "ExpiredToken"
            | "InvalidToken" | "TokenRefreshRequired" | "AllAccessDisabled") => StoreError::access_denied(detail),
        (_, "KeyTooLongError" | "InvalidURI" | "InvalidObjectName") => StoreError::invalid_key(detail),
        (_, "BadDigest" | "InvalidDigest" | "XAmzContentSHA256Mismatch") => StoreError::integrity(detail),
        (_, "RequestTimeout") | (408, _) => StoreError::timeout(detail),
        (_, "SlowDown" | "InternalError" | "ServiceUnavailable" | "OperationAborted") => StoreError::unavailable(detail),
        (401 | 403, _) => StoreError::access_denied(detail),
        (301 | 307, _) => StoreError::invalid_config(format!("wrong region or endpoint ({detail})")),
        // 501 Not Implemented (R2 on a checksum header it does not implement) will not change
        // on a retry.
        (501, _) => StoreError::other(detail),
        (429 | 500..=599, _) => StoreError::unavailable(detail),
        _ => StoreError::other(detail),
    };
    error.with_answer(status, &body.code)
}

#[cfg(test)]
mod tests;
