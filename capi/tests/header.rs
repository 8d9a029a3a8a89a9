//! include/coffer.h is what cbindgen makes of this crate: the checked-in header and the library
//! cannot drift. COFFER_BLESS=1 rewrites it.

#[test]
fn the_checked_in_header_is_the_generated_one() {
    let dir = env!("CARGO_MANIFEST_DIR");
    let config = cbindgen::Config::from_file(format!("{dir}/cbindgen.toml")).unwrap();
    let mut generated = Vec::new();
    cbindgen::Builder::new().with_crate(dir).with_config(config).generate().expect("cbindgen").write(&mut generated);
    let path = format!("{dir}/include/coffer.h");
    if std::env::var_os("COFFER_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let checked_in = std::fs::read(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "capi/include/coffer.h is not what capi/src declares: run COFFER_BLESS=1 cargo test -p coffer-capi --test header"
    );
}
