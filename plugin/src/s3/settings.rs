//! What the plugin is given by the host for one tenant: its settings, what its calls have
//! learned of the server (the dialect), and its credentials.

/// The tenant's settings, as the WIT's `config.settings` record declares them (wit/coffer.wit):
/// the host builds it once, checked, and the client reads it as is.
pub use crate::bindings::coffer::blobstore::config::{ChecksumMode, Settings};

/// What the tenant's calls have learned about its server (the WIT's `dialect`), kept by the
/// host for all of the tenant's instances.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dialect {
    /// The server refused an `x-amz-checksum-*` header.
    pub refuses_checksum_headers: bool,
    /// The server's clock minus the host's, in seconds.
    pub clock_offset_s: i64,
    /// How the server forms a multipart object's ETag.
    pub multipart_etag: EtagFormula,
}

/// How a server forms a multipart object's ETag (the WIT's `etag-formula`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum EtagFormula {
    /// Not seen yet.
    #[default]
    Unknown,
    /// AWS's: the MD5 of the parts' MD5s, then `-N`.
    Aws,
    /// Another: a multipart ETag checks nothing.
    Other,
}

/// The tenant's credentials. No Debug: they are never printed.
pub struct Keys {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}
