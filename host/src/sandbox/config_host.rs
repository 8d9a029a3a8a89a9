//! The host side of the WIT's `config` interface: what a tenant's instance is told (its
//! settings record, its credentials) and what its calls have learned of the server, kept for all
//! of the tenant's instances. Its own context, as wasi's interfaces have theirs.

use std::sync::Arc;

use wasmtime::component::HasData;

use crate::api::dialect::{EtagFormula, Learned, ServerDialect};
use crate::sandbox::bindings::config;
use crate::settings::TenantSettings;

/// What the `config` interface reads and writes: the tenant's settings and its learned dialect.
pub struct ConfigCtx {
    pub(crate) settings: Arc<TenantSettings>,
    pub(crate) learned: Arc<Learned>,
}

/// Names [`ConfigCtx`] to the linker.
pub struct ConfigData;

impl HasData for ConfigData {
    type Data<'a> = &'a mut ConfigCtx;
}

impl config::Host for ConfigCtx {
    fn get_settings(&mut self) -> config::Settings {
        self.settings.record().clone()
    }

    fn get_credentials(&mut self) -> config::Credentials {
        let c = self.settings.credentials();
        config::Credentials {
            access_key_id: c.access_key_id.expose().to_string(),
            secret_access_key: c.secret_access_key.expose().to_string(),
            session_token: c.session_token.as_ref().map(|t| t.expose().to_string()),
        }
    }

    fn get_dialect(&mut self) -> config::Dialect {
        let d = self.learned.get();
        let multipart_etag = match d.multipart_etag {
            EtagFormula::Aws => config::EtagFormula::Aws,
            EtagFormula::Other => config::EtagFormula::Other,
            _ => config::EtagFormula::Unknown,
        };
        config::Dialect { refuses_checksum_headers: d.refuses_checksum_headers, clock_offset_s: d.clock_offset_s, multipart_etag }
    }

    fn set_dialect(&mut self, d: config::Dialect) {
        let multipart_etag = match d.multipart_etag {
            config::EtagFormula::Unknown => EtagFormula::Unknown,
            config::EtagFormula::Aws => EtagFormula::Aws,
            config::EtagFormula::Other => EtagFormula::Other,
        };
        let learned = ServerDialect {
            refuses_checksum_headers: d.refuses_checksum_headers,
            clock_offset_s: d.clock_offset_s,
            multipart_etag,
        };
        self.learned.set(self.settings.name(), learned);
    }
}
