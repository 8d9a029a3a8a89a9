//! Coffer's host: runs the blob-store plugin (a WebAssembly component) in wasmtime, one sandbox
//! per tenant. A mail server links this crate, builds each tenant's settings in code (or reads
//! them from a config file, feature `config-file`), and calls put, get, stat and delete.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use coffer_host::{Coffer, TenantSettings};
//!
//! let coffer = Coffer::new()?; // compiles (or loads from the cache) the plugin, once
//! let settings = TenantSettings::builder("acme")
//!     .bucket("mail")
//!     .region("garage")
//!     .endpoint("http://127.0.0.1:3900")
//!     .access_key("GK31c2f218a2e44f485b94239e")
//!     .secret_key("...")
//!     .key_prefix("acme/")
//!     .build()?;
//! let tenant = coffer.tenant(settings);
//! tenant.put("hello", b"world").await?;
//! assert_eq!(tenant.get("hello", ..).await?, Some(b"world".to_vec()));
//! assert_eq!(tenant.get("hello", 1..3).await?, Some(b"or".to_vec()));
//! # Ok(()) }
//! ```
//!
//! The crate is in rooms, one concern each (docs/architecture.md walks them): `api` (the host,
//! a tenant's calls, errors, telemetry), `settings` (the builder and the config file),
//! `sandbox` (running a call: engine, instances, limits, the host side of the WIT),
//! `net` (transport, pools, TLS, egress), `encryption`, and `secrets`.

mod api;
pub mod encryption;
mod net;
mod sandbox;
mod secrets;
mod settings;

// The modules reached by path: the config file, Stalwart's adapter, the encrypted format
// (for independent readers of it), and the two pieces `coffer bench` and `coffer doctor` share
// with the host so that they measure and check what it does (the quick-ACK connector; the
// TLS client configuration of a tenant's trust). The rest is the crate's own.
#[cfg(feature = "config-file")]
pub use settings::config;
pub use api::stalwart;
pub use net::{quickack, tls};

pub use api::coffer::{Coffer, HostOptions, PLUGIN_WASM};
pub use api::dialect::{EtagFormula, ServerDialect};
pub use api::error::{ErrorKind, HostError, StoreError};
pub use api::objects::{Listed, ObjectInfo, Page, TenantStats};
pub use api::tenant::{Listing, Tenant};
pub use api::uploads::{Upload, Uploads};
pub use net::egress::{EgressPolicy, NameResolver, Network, PrivateEndpoints};
pub use net::interceptor::{Answer, Interceptor, Outgoing};
pub use sandbox::limits::Limits;
pub use net::pools::{DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_ENDPOINT, POOL_IDLE_TIMEOUT};
pub use sandbox::engine::{Allocation, DEFAULT_MAX_INSTANCES};
pub use secrets::secret::Secret;
pub use settings::endpoint::Endpoint;
pub use settings::{Checksum, ConfigError, TenantSettings, TenantSettingsBuilder};

/// How many objects [`Tenant::list_all`] asks for per page (S3's most).
pub const DEFAULT_LIST_PAGE: u32 = 1000;
