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
mod tests;
