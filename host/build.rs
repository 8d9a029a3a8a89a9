//! Builds the plugin for wasm32-wasip2 and hands its bytes to the host (`include_bytes!`), so a
//! user never copies a .wasm by hand. The plugin has its own target directory beside the host's,
//! so the nested cargo does not wait on the lock the outer one holds.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().unwrap().to_path_buf();
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    // OUT_DIR is <target>/<profile>/build/<pkg>-<hash>/out: the plugin builds in <target>/plugin.
    let target_dir = out_dir.ancestors().nth(4).unwrap().join("plugin");

    // The root manifest holds the plugin's build profile (release-plugin).
    for path in ["plugin/src", "plugin/Cargo.toml", "wit", "Cargo.lock", "Cargo.toml"] {
        println!("cargo:rerun-if-changed={}", root.join(path).display());
    }
    println!("cargo:rerun-if-env-changed=COFFER_PLUGIN_WASM");

    let wasm = match std::env::var_os("COFFER_PLUGIN_WASM") {
        Some(prebuilt) => PathBuf::from(prebuilt),
        None => build_plugin(&root, &target_dir),
    };
    std::fs::copy(&wasm, out_dir.join("coffer_plugin.wasm"))
        .unwrap_or_else(|e| panic!("copying {} into OUT_DIR: {e}", wasm.display()));
}

fn build_plugin(root: &Path, target_dir: &Path) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args(["build", "--locked", "-p", "coffer-plugin", "--target", "wasm32-wasip2"])
        .args(["--profile", "release-plugin", "--target-dir"])
        .arg(target_dir);
    // The outer build's flags are for the host's target, not for wasm.
    for var in ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "RUSTC_WORKSPACE_WRAPPER", "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR", "CARGO_MAKEFLAGS", "MAKEFLAGS", "MFLAGS", "CARGO_PROFILE_RELEASE_DEBUG"]
    {
        cmd.env_remove(var);
    }
    let status = cmd.status().expect("running cargo to build the plugin");
    assert!(status.success(), "building the plugin for wasm32-wasip2 failed (is the target installed? rust-toolchain.toml asks rustup for it)");
    target_dir.join("wasm32-wasip2/release-plugin/coffer_plugin.wasm")
}
