//! What a tenant's calls answer: an object's size, ETag and date, a listing's pages, the
//! tenant's counters.

/// What a backend knows about a stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub size: u64,
    pub etag: String,
    pub last_modified: Option<String>,
}

/// One object of a listing: its key (without the tenant's key prefix), size, ETag and
/// Last-Modified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub key: String,
    pub size: u64,
    pub etag: String,
    pub last_modified: Option<String>,
}

/// A page of a listing, and the key the next page starts after (`None` after the last).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Page {
    pub objects: Vec<Listed>,
    pub next: Option<String>,
}

/// A tenant's counters so far, for tests, progress bars and figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct TenantStats {
    /// Connections opened to the tenant's endpoint, by it and the tenants that share its
    /// connections (the same endpoint and TLS trust). Kept-alive connections are reused, so at
    /// steady state this stops growing.
    pub connections_opened: u64,
    /// Connections to the tenant's endpoint open now (shared likewise).
    pub connections_open: usize,
    /// Plugin instances made. Instances are kept warm for the tenant's next calls, so at steady
    /// state this grows only after a trap, a limit, a large put or a new plugin.
    pub instances_made: usize,
    /// Body bytes sent and received on the wire, retries included.
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// The largest linear memory a plugin instance of the tenant has had at the end of a call
    /// that returned: bodies never enter it, so it stays near the plugin's start whatever the
    /// blob sizes.
    pub largest_plugin_memory: u64,
    /// GETs sent once more because the first was late (`hedgeReads`): at most about 5% of the
    /// gets.
    pub hedged_gets: u64,
    /// Of those, the ones whose answer began before the first's: while few do, hedging backs
    /// off.
    pub hedges_won: u64,
}
