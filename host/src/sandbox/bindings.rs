//! The generated bindings of the `coffer:blobstore/plugin` world, fenced off here. wasi:http,
//! wasi:io, wasi:clocks and wasi:random are those of wasmtime-wasi and wasmtime-wasi-http.

mod generated {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "plugin",
        exports: { default: async },
        // A source may wait for the caller's next chunk.
        imports: { "coffer:blobstore/body": async },
        require_store_data_send: true,
        with: {
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
            "wasi:io": wasmtime_wasi::p2::bindings::io,
            "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
            "wasi:random": wasmtime_wasi::p2::bindings::random,
            "coffer:blobstore/body.source": crate::sandbox::body::source::Source,
            "coffer:blobstore/body.sink": crate::sandbox::body::sink::Sink,
        },
    });
}

pub use generated::coffer::blobstore::{body, config, telemetry, types};
pub use generated::exports::coffer::blobstore::store;
pub use generated::{Plugin, PluginPre};

impl From<store::Error> for crate::api::error::StoreError {
    /// The plugin's error, kind, status and S3 code kept.
    fn from(error: store::Error) -> Self {
        use crate::api::error::ErrorKind;
        use store::ErrorKind as Wit;
        let kind = match error.kind {
            Wit::AccessDenied => ErrorKind::AccessDenied,
            Wit::InvalidKey => ErrorKind::InvalidKey,
            Wit::InvalidConfig => ErrorKind::InvalidConfig,
            Wit::Timeout => ErrorKind::Timeout,
            Wit::Unavailable => ErrorKind::Unavailable,
            Wit::Integrity => ErrorKind::Integrity,
            Wit::Other => ErrorKind::Other,
        };
        Self::answered(kind, error.message, error.status, error.s3_code)
    }
}
