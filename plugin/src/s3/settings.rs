//! What the plugin is given by the host for one tenant: its settings, what its calls have
//! learned of the server (the dialect), and its credentials.

/// What the plugin is given by the host for one tenant.
pub struct Settings {
    pub bucket: String,
    pub region: String,
    /// "http" or "https".
    pub scheme: String,
    /// Where requests go, normalised by the host: `host[:port]` without a default port, with
    /// the bucket in front in virtual-hosted style.
    pub authority: String,
    pub key_prefix: String,
    pub timeout_ms: u64,
    /// The bound of a whole call, retries and backoff included.
    pub call_timeout_ms: u64,
    pub max_retries: u32,
    pub verify_after_write: bool,
    /// `bucket.host/key` rather than `host/bucket/key`.
    pub virtual_hosted_style: bool,
    /// Whether requests carry `x-amz-checksum-*` headers.
    pub checksum: ChecksumMode,
    /// A put of more bytes than this is a multipart upload.
    pub multipart_threshold: u64,
    /// The size of each part but the last.
    pub part_size: u64,
    /// How many parts of one upload are sent at once.
    pub part_concurrency: u32,
}

/// Whether requests carry `x-amz-checksum-*` headers (the WIT's `checksum-mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumMode {
    /// They do until the server refuses one; then the tenant's requests go without.
    Auto,
    /// They always do.
    Always,
    /// They never do, `x-amz-checksum-mode` included.
    Never,
}

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
