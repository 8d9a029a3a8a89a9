//! Errors as C sees them: an opaque `coffer_error` with its kind, HTTP status, S3 code and
//! message, and the guard every entry point runs its body in, so that a panic becomes an error
//! instead of unwinding into C.

use std::ffi::{CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

use coffer_host::{ErrorKind, StoreError};

/// What kind of failure (Coffer's `ErrorKind`). Temporary ones (`COFFER_TIMEOUT`,
/// `COFFER_UNAVAILABLE`, `COFFER_LIMIT_EXCEEDED`) are worth trying again later.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum coffer_error_kind {
    COFFER_ACCESS_DENIED = 1,
    COFFER_INVALID_KEY = 2,
    COFFER_INVALID_CONFIG = 3,
    COFFER_TIMEOUT = 4,
    COFFER_UNAVAILABLE = 5,
    COFFER_INTEGRITY = 6,
    COFFER_LIMIT_EXCEEDED = 7,
    COFFER_SANDBOX = 8,
    COFFER_OTHER = 9,
}

/// A failed call's error. Free it with `coffer_error_free`.
pub struct coffer_error {
    kind: coffer_error_kind,
    status: u16,
    s3_code: Option<CString>,
    message: CString,
}

impl coffer_error {
    pub(crate) fn new(kind: coffer_error_kind, message: &str) -> coffer_error {
        coffer_error { kind, status: 0, s3_code: None, message: c_string(message) }
    }

    pub(crate) fn from_store(error: &StoreError) -> coffer_error {
        let kind = match error.kind() {
            ErrorKind::AccessDenied => coffer_error_kind::COFFER_ACCESS_DENIED,
            ErrorKind::InvalidKey => coffer_error_kind::COFFER_INVALID_KEY,
            ErrorKind::InvalidConfig => coffer_error_kind::COFFER_INVALID_CONFIG,
            ErrorKind::Timeout => coffer_error_kind::COFFER_TIMEOUT,
            ErrorKind::Unavailable => coffer_error_kind::COFFER_UNAVAILABLE,
            ErrorKind::Integrity => coffer_error_kind::COFFER_INTEGRITY,
            ErrorKind::LimitExceeded => coffer_error_kind::COFFER_LIMIT_EXCEEDED,
            ErrorKind::Sandbox => coffer_error_kind::COFFER_SANDBOX,
            _ => coffer_error_kind::COFFER_OTHER,
        };
        coffer_error {
            kind,
            status: error.status().unwrap_or(0),
            s3_code: error.s3_code().map(c_string),
            message: c_string(&error.to_string()),
        }
    }
}

/// A C string of `text`, any NUL in it replaced.
pub(crate) fn c_string(text: &str) -> CString {
    CString::new(text.replace('\0', "\u{FFFD}")).unwrap_or_default()
}

/// The error's kind.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn coffer_error_kind(err: *const coffer_error) -> coffer_error_kind {
    unsafe { err.as_ref() }.map_or(coffer_error_kind::COFFER_OTHER, |e| e.kind)
}

/// The HTTP status of the answer that decided the failure; 0 when there was none.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn coffer_error_status(err: *const coffer_error) -> u16 {
    unsafe { err.as_ref() }.map_or(0, |e| e.status)
}

/// The S3 error code of that answer (`NoSuchBucket`, `SlowDown`...); NULL when it had none.
/// Valid until the error is freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn coffer_error_s3_code(err: *const coffer_error) -> *const c_char {
    unsafe { err.as_ref() }.and_then(|e| e.s3_code.as_ref()).map_or(std::ptr::null(), |c| c.as_ptr())
}

/// What was being done and what went wrong, naming the key or the setting; never a secret.
/// Valid until the error is freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn coffer_error_message(err: *const coffer_error) -> *const c_char {
    unsafe { err.as_ref() }.map_or(c"no error".as_ptr(), |e| e.message.as_ptr())
}

/// Whether the failure is temporary (a timeout, the server unavailable, a limit of the
/// tenant's): a mail server defers rather than bounces.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn coffer_error_is_temporary(err: *const coffer_error) -> bool {
    matches!(
        unsafe { coffer_error_kind(err) },
        coffer_error_kind::COFFER_TIMEOUT | coffer_error_kind::COFFER_UNAVAILABLE | coffer_error_kind::COFFER_LIMIT_EXCEEDED
    )
}

/// Frees an error; NULL is ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn coffer_error_free(err: *mut coffer_error) {
    if !err.is_null() {
        drop(unsafe { Box::from_raw(err) });
    }
}

/// Runs an entry point's body: its value, or `failed` with `*err` set when it returned an
/// error or panicked.
pub(crate) fn guard<T>(err: *mut *mut coffer_error, failed: T, body: impl FnOnce() -> Result<T, coffer_error>) -> T {
    let outcome = catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|panic| {
        let what = panic.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| panic.downcast_ref::<String>().cloned());
        Err(coffer_error::new(coffer_error_kind::COFFER_OTHER, &format!("internal error in libcoffer: {}", what.unwrap_or_default())))
    });
    match outcome {
        Ok(value) => value,
        Err(error) => {
            if !err.is_null() {
                unsafe { *err = Box::into_raw(Box::new(error)) };
            }
            failed
        }
    }
}

impl From<StoreError> for coffer_error {
    fn from(error: StoreError) -> coffer_error {
        coffer_error::from_store(&error)
    }
}
