//! Precompiled components on disk, keyed by the component's bytes and the engine's
//! configuration, so that a new plugin or a changed engine never loads a stale artefact.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// `$XDG_CACHE_HOME/coffer`, else `$HOME/.cache/coffer`.
pub fn default_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .map(|d| d.join("coffer"))
}

/// Loads the precompiled form of `wasm` for `engine` from `dir`, compiling and storing it when
/// absent. Without a usable directory the component is compiled in memory.
pub fn load_or_compile(engine: &Engine, wasm: &[u8], dir: Option<&Path>) -> anyhow::Result<Component> {
    let Some(dir) = dir else { return Ok(Component::new(engine, wasm)?) };
    let path = dir.join(format!("plugin-{}.cwasm", cache_key(engine, wasm)));
    if path.exists() {
        // SAFETY: the file was written by `precompile_component` of an engine with the same
        // compatibility hash (it is in the name), into a directory of the user's own.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(component) => return Ok(component),
            Err(e) => tracing::warn!(target: "coffer_host::cache", path = %path.display(), "ignoring unusable precompiled plugin: {e:#}"),
        }
    }
    let precompiled = engine.precompile_component(wasm)?;
    if let Err(e) = store_atomically(dir, &path, &precompiled) {
        tracing::warn!(target: "coffer_host::cache", dir = %dir.display(), "cannot cache the precompiled plugin: {e}");
    }
    // SAFETY: these bytes were just produced by this engine's `precompile_component`.
    Ok(unsafe { Component::deserialize(engine, &precompiled) }?)
}

fn cache_key(engine: &Engine, wasm: &[u8]) -> String {
    let mut engine_hash = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut engine_hash);
    let mut digest = Sha256::new();
    digest.update(wasm);
    digest.update(engine_hash.finish().to_le_bytes());
    hex::encode(&digest.finalize()[..16])
}

fn store_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::fs::write(tmp.path(), bytes)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests;
