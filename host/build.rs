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
        None => {
            ensure_wasm_target();
            build_plugin(&root, &target_dir)
        }
    };
    std::fs::copy(&wasm, out_dir.join("coffer_plugin.wasm"))
        .unwrap_or_else(|e| panic!("copying {} into OUT_DIR: {e}", wasm.display()));
}

/// The plugin needs the `wasm32-wasip2` target of the toolchain in use. rust-toolchain.toml
/// names it, but rustup does not add a target to a toolchain that is already installed. So
/// look, and add it (saying so) when rustup is there; otherwise stop with the one command to run.
fn ensure_wasm_target() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc).args(["--print", "sysroot"]).output().ok().filter(|o| o.status.success());
    let Some(sysroot) = sysroot.map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim())) else {
        return; // cannot tell: let the build say what is wrong
    };
    if sysroot.join("lib/rustlib/wasm32-wasip2").is_dir() {
        return;
    }
    // Cargo shows this again on later builds that reuse this script's output: say it in a way
    // that stays true.
    eprintln!("the wasm32-wasip2 target is missing from {}: adding it with rustup", sysroot.display());
    let added = Command::new("rustup").args(["target", "add", "wasm32-wasip2"]).status();
    if !matches!(added, Ok(status) if status.success()) || !sysroot.join("lib/rustlib/wasm32-wasip2").is_dir() {
        panic!(
            "the plugin is built for wasm32-wasip2, which this toolchain ({}) lacks and rustup could not add. Run:\n\n    rustup target add wasm32-wasip2\n",
            sysroot.display()
        );
    }
    println!("cargo:warning=the wasm32-wasip2 target was missing from {}; added it with rustup", sysroot.display());
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
    assert!(status.success(), "building the plugin for wasm32-wasip2 failed (see the errors above)");
    target_dir.join("wasm32-wasip2/release-plugin/coffer_plugin.wasm")
}
