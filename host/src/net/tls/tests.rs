use super::*;

#[test]
fn a_ca_file_must_hold_usable_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    assert!(load_ca_file(&missing).unwrap_err().contains("missing.pem"));
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let e = load_ca_file(&empty).unwrap_err();
    assert!(e.contains("empty.pem") && e.contains("no PEM certificate"), "{e}");
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").unwrap();
    assert!(load_ca_file(&garbage).unwrap_err().contains("garbage.pem"));
}
