use super::*;

/// Expected names computed independently: Python's `base64.b32encode`, padding removed,
/// translated from RFC 4648's alphabet to Stalwart's.
#[test]
fn matches_rfc4648_base32_with_stalwarts_alphabet() {
    assert_eq!(object_name(b""), "");
    assert_eq!(object_name(b"f"), "my");
    assert_eq!(object_name(b"fo"), "mzxq");
    assert_eq!(object_name(b"foobar"), "mzxw1ytboi");
    let counting: Vec<u8> = (0..32).collect();
    assert_eq!(object_name(&counting), "aaaqeayeaudaocajbifqydiob2ibceqtcqkrmfyydenbwha0dypq");
    assert_eq!(object_name(&[0xff; 32]), "333333333333333333333333333333333333333333333333333q");
    assert_eq!(object_name(&[0xab; 32]).len(), 52, "a BLAKE3 hash gets a 52-character name");
}

#[test]
fn names_decode_back_to_their_keys_and_other_names_do_not() {
    for key in [&b"f"[..], b"fo", b"foo", b"foob", b"fooba", b"foobar", &[0xff; 32], &[0xab; 32]] {
        assert_eq!(key_of_object_name(&object_name(key)).as_deref(), Some(key), "{key:?}");
    }
    let counting: Vec<u8> = (0..32).collect();
    assert_eq!(key_of_object_name("aaaqeayeaudaocajbifqydiob2ibceqtcqkrmfyydenbwha0dypq"), Some(counting));
    assert_eq!(key_of_object_name("mail/1"), None, "not Stalwart's alphabet");
    assert_eq!(key_of_object_name("mz"), None, "stray bits");
    assert_eq!(key_of_object_name(""), None);
}

#[test]
fn hex_keys_are_decoded_and_bad_ones_named() {
    assert_eq!(object_name_of_hex("666f6f626172").unwrap(), "mzxw1ytboi");
    assert!(object_name_of_hex("xyz").unwrap_err().contains("xyz"));
    assert!(object_name_of_hex("").is_err());
}
