//! The `coffer:blobstore/digest` import: MD5, SHA-256 and CRC-32 in native code.
//!
//! Defined by hand rather than through the generated `digest::Host` trait so that the bytes are
//! read where they lie in the guest's memory (`WasmList::as_le_slice`) instead of being copied
//! into a `Vec` first: a put of 1 MiB hashes its body three times, a get once. The signatures
//! are still the WIT's: instantiation checks every import against the component's types.

use md5::Digest as _;
use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, WasmList};

/// The WIT interface these functions implement (package `coffer:blobstore@0.1.0`).
const INTERFACE: &str = "coffer:blobstore/digest@0.1.0";

pub fn add_to_linker<T: 'static>(linker: &mut Linker<T>) -> anyhow::Result<()> {
    let mut digest = linker.instance(INTERFACE)?;
    digest.func_wrap("md5", |store: StoreContextMut<'_, T>, (data,): (WasmList<u8>,)| {
        Ok((md5::Md5::digest(data.as_le_slice(&store)).to_vec(),))
    })?;
    digest.func_wrap("sha256", |store: StoreContextMut<'_, T>, (data,): (WasmList<u8>,)| {
        Ok((sha2::Sha256::digest(data.as_le_slice(&store)).to_vec(),))
    })?;
    digest.func_wrap("crc32", |store: StoreContextMut<'_, T>, (data,): (WasmList<u8>,)| {
        Ok((crc32fast::hash(data.as_le_slice(&store)),))
    })?;
    Ok(())
}
