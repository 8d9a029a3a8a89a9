//! The client of one tenant's bucket: its settings, credentials and platform, what its calls
//! have learned of the server, and how an answer becomes an error. Its calls are in the
//! other files: object.rs (get, put, delete, stat), multipart.rs, list.rs, uploads.rs.

use crate::error::{StoreError, classify, parse_error_body};
use super::platform::{HttpResponse, Platform};
use super::settings::{ChecksumMode, Dialect, Keys, Settings};

/// S3's limit on an object key, prefix included, in bytes of UTF-8.
pub const MAX_KEY_BYTES: usize = 1024;

/// What the store knows about an object (the WIT's `object-info`).
pub use crate::bindings::coffer::blobstore::types::ObjectInfo;

/// An S3 client for one tenant's bucket.
pub struct Client<P> {
    pub(super) settings: Settings,
    pub(super) keys: Keys,
    pub(super) platform: P,
    /// The signing key of the day it was derived for (`yyyymmdd`): it depends on the secret,
    /// the day, the region and the service, and all but the day are the client's own.
    pub(super) day_key: std::sync::Mutex<Option<(String, crate::sigv4::DayKey)>>,
    /// When the public call in progress started (`now_ms`); the instance runs one at a time.
    pub(super) call_started_ms: std::sync::atomic::AtomicU64,
    /// What the tenant's calls have learned of its server, as of this call.
    pub(super) dialect: std::sync::Mutex<Dialect>,
}

impl<P: Platform> Client<P> {
    pub fn new(settings: Settings, keys: Keys, platform: P) -> Result<Self, StoreError> {
        if settings.bucket.is_empty() || settings.authority.is_empty() {
            return Err(StoreError::invalid_config("the bucket or the endpoint is empty"));
        }
        Ok(Client {
            settings,
            keys,
            platform,
            day_key: Default::default(),
            call_started_ms: Default::default(),
            dialect: Default::default(),
        })
    }

    /// Whether this call's requests carry `x-amz-checksum-*` headers: always or never as the
    /// tenant's `checksum` says, or, with `auto`, until the server has refused one.
    pub(super) fn sends_checksums(&self) -> bool {
        match self.settings.checksum {
            ChecksumMode::Always => true,
            ChecksumMode::Never => false,
            ChecksumMode::Auto => !self.dialect().refuses_checksum_headers,
        }
    }

    pub(super) fn dialect(&self) -> Dialect {
        *self.dialect.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Keeps what a request learned, here and with the host for the tenant's other instances.
    pub(super) fn learn(&self, dialect: Dialect) {
        *self.dialect.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = dialect;
        self.platform.set_dialect(dialect);
    }

    pub(super) fn failure(&self, response: &HttpResponse, method: &str, key: &str) -> StoreError {
        let body = parse_error_body(&response.body);
        classify(response.status, &body, &format!("{method} key \"{key}\""), &self.settings.bucket)
    }
}
