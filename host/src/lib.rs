//! Coffer's host: runs the blob-store plugin (a WebAssembly component) in wasmtime, one sandbox
//! per tenant.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let coffer = coffer_host::Coffer::new()?;               // compiles (or loads) the plugin once
//! let config = coffer_host::config::Config::load("coffer.toml".as_ref())?;
//! let tenant = coffer.tenant(config.tenant(Some("acme"))?);
//! tenant.put("hello", b"world".to_vec()).await?;
//! assert_eq!(tenant.get("hello", None).await?, Some(b"world".to_vec()));
//! # Ok(()) }
//! ```

mod bindings;
mod cache;
pub mod config;
pub mod credentials;
pub mod embedded;
pub mod regions;
mod error;
pub mod secret;
pub mod stalwart;
mod tenant;
pub mod tls;
mod transport;

use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Engine, Store};

use bindings::store::{ByteRange, ObjectInfo as WitInfo};
pub use config::TenantSettings;
pub use error::StoreError;
use tenant::TenantState;
use transport::Transport;

/// The plugin built with this host (see build.rs).
pub const PLUGIN_WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/coffer_plugin.wasm"));

/// What a backend knows about a stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub size: u64,
    pub etag: String,
    pub last_modified: Option<String>,
}

/// How to set the host up.
#[derive(Debug, Clone, Default)]
pub struct HostOptions {
    /// The component to run; the plugin built with this host when `None`.
    pub component: Option<Vec<u8>>,
    /// Where precompiled components are kept; `$XDG_CACHE_HOME/coffer` (or `~/.cache/coffer`)
    /// when `None`. When it cannot be written, the component is compiled in memory each start.
    pub cache_dir: Option<PathBuf>,
}

/// The engine and the pre-instantiated plugin, built once and shared by every tenant.
#[derive(Clone)]
pub struct Coffer {
    shared: Arc<Shared>,
}

struct Shared {
    engine: Engine,
    pre: bindings::PluginPre<TenantState>,
}

impl Coffer {
    /// A host running the plugin built with it, with the default cache.
    pub fn new() -> anyhow::Result<Coffer> {
        Coffer::with_options(HostOptions::default())
    }

    pub fn with_options(options: HostOptions) -> anyhow::Result<Coffer> {
        let engine = Engine::new(&wasmtime::Config::new())?;
        let wasm = options.component.as_deref().unwrap_or(PLUGIN_WASM);
        let cache_dir = options.cache_dir.or_else(cache::default_dir);
        let component: Component = cache::load_or_compile(&engine, wasm, cache_dir.as_deref())?;
        let mut linker = Linker::<TenantState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        bindings::config::add_to_linker::<TenantState, HasSelf<TenantState>>(&mut linker, |state| state)?;
        let pre = bindings::PluginPre::new(linker.instantiate_pre(&component)?)?;
        Ok(Coffer { shared: Arc::new(Shared { engine, pre }) })
    }

    /// A handle on one tenant's store. Cheap to clone; each call runs in a fresh sandbox.
    pub fn tenant(&self, settings: TenantSettings) -> Tenant {
        let transport = Arc::new(Transport::new(&settings.name, &settings.trust, settings.timeout));
        Tenant { shared: self.shared.clone(), settings: Arc::new(settings), transport }
    }
}

/// One tenant's blob store.
#[derive(Clone)]
pub struct Tenant {
    shared: Arc<Shared>,
    settings: Arc<TenantSettings>,
    transport: Arc<Transport>,
}

impl Tenant {
    pub fn settings(&self) -> &TenantSettings {
        &self.settings
    }

    /// How many connections this tenant has opened so far. Kept-alive connections are reused
    /// across calls, so at steady state this stops growing.
    pub fn connections_opened(&self) -> u64 {
        self.transport.connections_opened()
    }

    /// The object's bytes, or those of `range` (half-open); `None` when it does not exist.
    /// An end past the size reads to the end; a start at or past the size reads no bytes.
    pub async fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(key, range.map(|r| ByteRange { start: r.start, end: Some(r.end) })).await
    }

    /// The object's bytes from `start` to its end; `None` when it does not exist.
    pub async fn get_from(&self, key: &str, start: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(key, Some(ByteRange { start, end: None })).await
    }

    async fn read(&self, key: &str, range: Option<ByteRange>) -> Result<Option<Vec<u8>>, StoreError> {
        let (mut store, plugin) = self.sandbox().await?;
        let result = plugin.coffer_blobstore_store().call_get(&mut store, key, range).await;
        self.finish(key, result)
    }

    /// Creates or replaces the object. Once this returns Ok, the object is readable.
    pub async fn put(&self, key: &str, data: Vec<u8>) -> Result<(), StoreError> {
        let (mut store, plugin) = self.sandbox().await?;
        let result = plugin.coffer_blobstore_store().call_put(&mut store, key, &data).await;
        self.finish(key, result)
    }

    /// Deletes the object; `true` when it existed.
    pub async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        let (mut store, plugin) = self.sandbox().await?;
        let result = plugin.coffer_blobstore_store().call_delete(&mut store, key).await;
        self.finish(key, result)
    }

    /// Size and ETag of the object; `None` when it does not exist.
    pub async fn stat(&self, key: &str) -> Result<Option<ObjectInfo>, StoreError> {
        let (mut store, plugin) = self.sandbox().await?;
        let result = plugin.coffer_blobstore_store().call_stat(&mut store, key).await;
        let info: Option<WitInfo> = self.finish(key, result)?;
        Ok(info.map(|i| ObjectInfo { size: i.size, etag: i.etag, last_modified: i.last_modified }))
    }

    /// A fresh Store holding only this tenant's state, and the plugin instantiated in it.
    async fn sandbox(&self) -> Result<(Store<TenantState>, bindings::Plugin), StoreError> {
        let mut store = Store::new(&self.shared.engine, TenantState::new(self.settings.clone(), self.transport.clone()));
        let plugin = self
            .shared
            .pre
            .instantiate_async(&mut store)
            .await
            .map_err(|e| StoreError::Sandbox { tenant: self.settings.name.clone(), message: format!("{e:#}") })?;
        Ok((store, plugin))
    }

    fn finish<T>(
        &self,
        key: &str,
        result: wasmtime::Result<Result<T, bindings::store::Error>>,
    ) -> Result<T, StoreError> {
        match result {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(StoreError::from_wit(error)),
            Err(trap) => Err(StoreError::Sandbox {
                tenant: self.settings.name.clone(),
                message: format!("key \"{key}\": {trap:#}"),
            }),
        }
    }
}
