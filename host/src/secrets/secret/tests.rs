use super::*;

#[cfg(unix)]
#[test]
fn a_secret_file_others_can_read_is_warned_about_as_ssh_does() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secret");
    std::fs::write(&path, "s").unwrap();
    for (mode, warned) in [(0o600, false), (0o400, false), (0o640, true), (0o644, true), (0o604, true)] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        let warning = readable_by_others(&path);
        assert_eq!(warning.is_some(), warned, "mode {mode:o}: {warning:?}");
        if let Some(warning) = warning {
            assert!(warning.contains(&format!("mode {mode:03o}")) && warning.contains("chmod 600"), "{warning}");
        }
    }
}

#[test]
fn debug_and_display_redact() {
    let secret = Secret::new("wJalrXUtnFEMI-very-secret");
    assert_eq!(format!("{secret:?} {secret}"), "Secret(******) ******");
    let inline = SecretSource::Inline("wJalrXUtnFEMI-very-secret".into());
    assert!(!format!("{inline:?}").contains("very-secret"));
}

#[test]
fn file_secrets_lose_one_trailing_newline() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    std::fs::write(&path, "abc\n\n").unwrap();
    assert_eq!(SecretSource::File { file: path }.resolve().unwrap().expose(), "abc\n");
}

#[test]
fn errors_name_the_source_not_the_value() {
    let missing = SecretSource::Env { env: "COFFER_SURELY_UNSET_VAR".into() }.resolve().unwrap_err();
    assert!(missing.to_string().contains("COFFER_SURELY_UNSET_VAR"));
    let unreadable = SecretSource::File { file: "/nonexistent/coffer".into() }.resolve().unwrap_err();
    assert!(unreadable.to_string().contains("/nonexistent/coffer"));
}
