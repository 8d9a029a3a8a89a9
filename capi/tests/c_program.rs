//! tests/c/smoke.c, compiled against include/coffer.h and the built libcoffer, run against the
//! suite's S3 server: as it is, under valgrind (no leak, no invalid access), and in a bounded
//! address space (`ulimit -v`, as Dovecot's vsz_limit sets) with `bounded_memory`.

use std::path::{Path, PathBuf};
use std::process::Command;

use coffer_tests::{Family, note, server, unique_prefix};

/// Builds libcoffer and the C program; the program's path.
fn build() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let exe = std::env::current_exe().unwrap();
    let target = exe.parent().unwrap().parent().unwrap().to_path_buf();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = Command::new(cargo).current_dir(dir).args(["build", "--quiet", "--locked", "-p", "coffer-capi"]).status().unwrap();
    assert!(built.success(), "cargo build -p coffer-capi");
    let program = target.join("coffer-c-smoke");
    let compiled = Command::new("cc")
        .args(["-std=c11", "-D_DEFAULT_SOURCE", "-Wall", "-Wextra", "-Werror", "-g", "-o"])
        .arg(&program)
        .arg(dir.join("tests/c/smoke.c"))
        .arg(format!("-I{}", dir.join("include").display()))
        .arg(format!("-L{}", target.display()))
        .arg(format!("-Wl,-rpath,{}", target.display()))
        .arg("-lcoffer")
        .status()
        .unwrap();
    assert!(compiled.success(), "the C program compiles against include/coffer.h");
    program
}

fn run(program: &Path, wrapper: &[&str], bounded: bool, cache: &Path) -> (bool, String) {
    let s = server();
    let mut command = match wrapper.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(program);
            c
        }
        None => Command::new(program),
    };
    command
        .env("COFFER_C_ENDPOINT", &s.endpoint)
        .env("COFFER_C_REGION", &s.region)
        .env("COFFER_C_BUCKET", &s.bucket)
        .env("COFFER_C_ACCESS_KEY", &s.access_key)
        .env("COFFER_C_SECRET_KEY", &s.secret_key)
        .env("COFFER_C_PREFIX", unique_prefix("c-api"))
        .env("COFFER_C_CACHE", cache);
    if s.family != Family::LocalStack {
        command.env("COFFER_C_CHECKS_SIGNATURES", "1");
    }
    if bounded {
        command.env("COFFER_C_BOUNDED", "1");
    }
    let out = command.output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success() && text.contains("c-api: ok"), text)
}

#[test]
fn a_c_program_runs_every_call_clean_under_valgrind_and_in_a_bounded_address_space() {
    let program = build();
    let cache = tempfile::tempdir().unwrap();
    let (ok, text) = run(&program, &[], false, cache.path());
    assert!(ok, "the C program: {text}");

    // Dovecot's default vsz_limit is 256 MiB; the pool cannot start under 1 GiB, bounded can.
    let limited = |kib: u32| format!("ulimit -v {kib} && exec \"$0\"");
    let (ok, text) = run(&program, &["sh", "-c", &limited(262_144)], true, cache.path());
    assert!(ok, "bounded_memory under ulimit -v 256 MiB: {text}");
    let (ok, text) = run(&program, &["sh", "-c", &limited(1_048_576)], false, cache.path());
    assert!(!ok && text.contains("memory"), "the pooling default under 1 GiB fails, saying why: {text}");

    let valgrind = Command::new("valgrind").arg("--version").output().is_ok_and(|o| o.status.success());
    if !valgrind {
        assert!(std::env::var_os("COFFER_TEST_REQUIRE_VALGRIND").is_none(), "COFFER_TEST_REQUIRE_VALGRIND is set but valgrind is missing");
        note("c-api", "SKIPPED the valgrind run: valgrind is not installed (apt-get install valgrind; CI has it)");
        return;
    }
    let memcheck = [
        "valgrind", "--quiet", "--error-exitcode=99", "--leak-check=full", "--errors-for-leak-kinds=definite",
        "--show-leak-kinds=definite",
    ];
    let (ok, text) = run(&program, &memcheck, true, cache.path());
    assert!(ok, "valgrind: {text}");
}
