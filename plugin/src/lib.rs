//! Coffer's S3 blob store as a WebAssembly component.
//!
//! The WIT world `coffer:blobstore/plugin` is in `wit/`; bindings.rs generates it, and
//! component.rs adapts its calls to the S3 client in `s3/`, which sends through http.rs. All
//! but the last two build and are tested natively, the bindings' types included: the client's
//! settings are the WIT's record, declared once there.

pub mod dialect;
pub mod error;
pub mod retry;
pub mod s3;
pub mod sigv4;

#[cfg(target_arch = "wasm32")]
mod http;

mod bindings;

#[cfg(target_arch = "wasm32")]
mod component;
