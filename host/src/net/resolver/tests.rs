use super::*;

#[test]
fn localhost_and_names_under_it_are_loopback() {
    for name in ["localhost", "LOCALHOST.", "s3.localhost", "mail.s3.localhost"] {
        assert!(is_localhost(name), "{name}");
    }
    for name in ["localhost.example.com", "notlocalhost", "example.com"] {
        assert!(!is_localhost(name), "{name}");
    }
}
