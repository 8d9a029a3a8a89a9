//! Stalwart's names for blobs in S3, so that a mail server switching its blob store to Coffer
//! finds every blob where Stalwart put it: `keyPrefix + base32(key bytes)`, base32 with
//! Stalwart's own alphabet and no padding (keys are mostly 32-byte BLAKE3 hashes: 52 characters).

/// Stalwart's base32 alphabet: RFC 4648's bit order, other characters.
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz792013";

/// The object name (without the tenant's prefix) Stalwart gives the blob key `key`.
pub fn object_name(key: &[u8]) -> String {
    let mut out = String::with_capacity(key.len().div_ceil(5) * 8);
    let mut buffer: u16 = 0;
    let mut bits = 0;
    for &byte in key {
        buffer = (buffer << 8) | u16::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[usize::from((buffer >> bits) & 0x1f)] as char);
        }
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(ALPHABET[usize::from((buffer << (5 - bits)) & 0x1f)] as char);
    }
    out
}

/// The object name for a key given as hex bytes (the CLI's `--hex-key`).
pub fn object_name_of_hex(hex_key: &str) -> Result<String, String> {
    let bytes = hex::decode(hex_key.trim()).map_err(|e| format!("\"{hex_key}\" is not hex bytes ({e})"))?;
    if bytes.is_empty() {
        return Err("the hex key is empty".into());
    }
    Ok(object_name(&bytes))
}

/// The blob key bytes an object name (without the tenant's prefix) is Stalwart's name for, or
/// `None` when it is not one of Stalwart's names (a character outside its alphabet, a length
/// no key gives, or stray bits in the last character).
pub fn key_of_object_name(name: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(name.len() * 5 / 8);
    let mut buffer: u16 = 0;
    let mut bits = 0;
    for c in name.bytes() {
        let value = ALPHABET.iter().position(|&a| a == c)? as u16;
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    // What is left must be padding bits, all zero, and fewer than a character's worth.
    (bits < 5 && buffer == 0 && !out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
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
}
