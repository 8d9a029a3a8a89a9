//! The format of an encrypted object: its header, its segments, and what is wrong when one
//! does not open.

/// The first bytes of every encrypted object.
pub const MAGIC: &[u8; 7] = b"COFFERE";
/// The format's version, the byte after the magic.
pub const VERSION: u8 = 1;
/// The algorithm byte of AES-256-GCM.
const ALGORITHM_AES_256_GCM: u8 = 1;
/// The header's length: magic 7, version 1, algorithm 1, key id length 1, reserved 2,
/// segment size 4, plaintext length 8, salt 32, key id 32 (zero-padded).
pub const HEADER_LEN: usize = 88;
/// Plaintext bytes per segment.
pub const SEGMENT: usize = 64 << 10;
/// The AEAD tag after each segment.
pub const TAG: usize = 16;
/// The most bytes a key id has.
pub const MAX_KEY_ID: usize = 32;

/// Why an object cannot be opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Broken {
    /// The bytes are not what was sealed (tampered, truncated, moved, another object's).
    Integrity(String),
    /// The object was sealed with a key this tenant does not have.
    MissingKey(String),
}

pub(super) fn integrity(message: impl Into<String>) -> Broken {
    Broken::Integrity(message.into())
}

/// An object's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub key_id: String,
    pub segment: u32,
    pub plain_len: u64,
    pub salt: [u8; 32],
}

impl Header {
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[..7].copy_from_slice(MAGIC);
        out[7] = VERSION;
        out[8] = ALGORITHM_AES_256_GCM;
        out[9] = self.key_id.len() as u8;
        out[12..16].copy_from_slice(&self.segment.to_be_bytes());
        out[16..24].copy_from_slice(&self.plain_len.to_be_bytes());
        out[24..56].copy_from_slice(&self.salt);
        out[56..56 + self.key_id.len()].copy_from_slice(self.key_id.as_bytes());
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Header, Broken> {
        if bytes.len() < HEADER_LEN || &bytes[..7] != MAGIC {
            return Err(integrity("not an encrypted object: no Coffer header (was it stored before encryption was set?)"));
        }
        if bytes[7] != VERSION || bytes[8] != ALGORITHM_AES_256_GCM {
            return Err(integrity(format!("an encrypted object of version {} and algorithm {} this Coffer cannot read", bytes[7], bytes[8])));
        }
        let id_len = bytes[9] as usize;
        let segment = u32::from_be_bytes(bytes[12..16].try_into().unwrap());
        let key_id = std::str::from_utf8(&bytes[56..56 + id_len.min(MAX_KEY_ID)]).map_err(|_| integrity("the header's key id is not UTF-8"))?;
        let padded = bytes[56 + id_len.min(MAX_KEY_ID)..HEADER_LEN].iter().all(|&b| b == 0);
        if check_key_id(key_id).is_err() || !padded || segment == 0 || segment > (16 << 20) || bytes[10..12] != [0, 0] {
            return Err(integrity("the header is damaged"));
        }
        Ok(Header {
            key_id: key_id.to_string(),
            segment,
            plain_len: u64::from_be_bytes(bytes[16..24].try_into().unwrap()),
            salt: bytes[24..56].try_into().unwrap(),
        })
    }

    /// How many segments the object has: at least one.
    pub fn segments(&self) -> u64 {
        segments(self.plain_len, self.segment as u64)
    }

    /// Where segment `index` starts in the stored object, and its stored length.
    pub fn segment_at(&self, index: u64) -> (u64, u64) {
        let segment = self.segment as u64;
        let start = HEADER_LEN as u64 + index * (segment + TAG as u64);
        let plain = self.plain_len.saturating_sub(index * segment).min(segment);
        (start, plain + TAG as u64)
    }
}

fn segments(plain_len: u64, segment: u64) -> u64 {
    plain_len.div_ceil(segment).max(1)
}

/// The stored length of `plain_len` bytes.
pub fn sealed_len(plain_len: u64) -> u64 {
    HEADER_LEN as u64 + plain_len + TAG as u64 * segments(plain_len, SEGMENT as u64)
}

/// The plaintext length of a stored object of `sealed` bytes written with [`SEGMENT`]; `None`
/// when no plaintext seals to that length (the object is not one Coffer sealed).
pub fn plain_len(sealed: u64) -> Option<u64> {
    let body = sealed.checked_sub(HEADER_LEN as u64)?;
    let whole = SEGMENT as u64 + TAG as u64;
    let (full, rest) = (body / whole, body % whole);
    let plain = match rest {
        0 if full > 0 => full * SEGMENT as u64,
        0 => return None,
        rest if rest >= TAG as u64 => full * SEGMENT as u64 + rest - TAG as u64,
        _ => return None,
    };
    (sealed_len(plain) == sealed).then_some(plain)
}

/// What part of an object a read wants, in plaintext bytes `[start, end)`, and the stored
/// bytes that hold it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub first_segment: u64,
    /// The stored bytes `[start, end)` to fetch: the covering segments.
    pub stored: (u64, u64),
    /// The plaintext bytes `[start, end)` to hand on, clipped to the object.
    pub plain: (u64, u64),
}

impl Header {
    /// The segments to fetch for plaintext `[start, end)` (`end` `None` for the end); `None`
    /// when the range holds no byte of the object.
    pub fn plan(&self, start: u64, end: Option<u64>) -> Option<Plan> {
        let end = end.unwrap_or(u64::MAX).min(self.plain_len);
        if start >= end {
            return None;
        }
        let segment = self.segment as u64;
        let (first, last) = (start / segment, (end - 1) / segment);
        let (from, _) = self.segment_at(first);
        let (at, len) = self.segment_at(last);
        Some(Plan { first_segment: first, stored: (from, at + len), plain: (start, end) })
    }
}

/// Whether `id` can name a key: 1 to 32 bytes of letters, digits, `.`, `_` and `-`.
pub fn check_key_id(id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > MAX_KEY_ID {
        return Err(format!("\"{id}\" is not 1 to {MAX_KEY_ID} bytes"));
    }
    if !id.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) {
        return Err(format!("\"{id}\" has characters other than letters, digits, '.', '_' and '-'"));
    }
    Ok(())
}
