//! What went wrong on the wire, named for what it means to the caller.

use wasip2::http::types::{ErrorCode, http_error_code};
use wasip2::io::streams::StreamError;

use crate::error::StoreError;

/// A failure while reading a response body: a timeout is a timeout, the rest is the network.
/// The host's body errors carry no wasi-http error code (`http-error-code` answers none for
/// them), so an error at or past the attempt's timeout is taken for the timeout it is.
pub(super) fn body_error(what: &str, e: StreamError, timed_out: bool) -> StoreError {
    let detail = match e {
        StreamError::LastOperationFailed(err) => match http_error_code(&err) {
            Some(code) => return transport(what, code),
            None => err.to_debug_string(),
        },
        StreamError::Closed => "the stream was closed".to_string(),
    };
    body_failure(what, detail, timed_out)
}

/// A failure while reading a response body, as `detail` says: a timeout at or past the
/// attempt's bound, the network otherwise.
pub(super) fn body_failure(what: &str, detail: String, timed_out: bool) -> StoreError {
    match timed_out {
        true => StoreError::timeout(format!("{what}: {detail}")),
        false => StoreError::unavailable(format!("{what}: {detail}")),
    }
}

pub(super) fn stream_error(e: StreamError) -> String {
    match e {
        StreamError::Closed => "the stream was closed".to_string(),
        StreamError::LastOperationFailed(err) => err.to_debug_string(),
    }
}

/// A transport failure, named for what it means to the caller.
pub(super) fn transport(what: &str, code: ErrorCode) -> StoreError {
    match code {
        ErrorCode::ConnectionTimeout | ErrorCode::ConnectionReadTimeout | ErrorCode::ConnectionWriteTimeout
        | ErrorCode::HttpResponseTimeout | ErrorCode::DnsTimeout => {
            StoreError::timeout(format!("{what}: {code:?}"))
        }
        ErrorCode::HttpRequestDenied => StoreError::invalid_config(format!(
            "{what}: the host denied the request: not this tenant's endpoint, or an address the \
             host's egress policy refuses (the host's log names it)"
        )),
        ErrorCode::TlsCertificateError => StoreError::invalid_config(format!(
            "{what}: TLS: the endpoint's certificate is not trusted \
             (caFile trusts a private CA; allowInvalidCerts turns the check off)"
        )),
        ErrorCode::TlsProtocolError | ErrorCode::TlsAlertReceived(_) => {
            StoreError::invalid_config(format!("{what}: TLS failed: {code:?}"))
        }
        ErrorCode::DnsError(_) | ErrorCode::DestinationNotFound => {
            StoreError::invalid_config(format!("{what}: the endpoint's host is unknown: {code:?}"))
        }
        _ => StoreError::unavailable(format!("{what}: {code:?}")),
    }
}
