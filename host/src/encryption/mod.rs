//! Client-side encryption (docs/encryption.md): a tenant's blobs sealed in the host before they
//! leave it, so the provider holds only ciphertext. Pure: the format, the keys, sealing and
//! opening; the tenant calls them where the bytes flow.
//!
//! An object is a header, then the plaintext in segments of [`SEGMENT`] bytes (the last one
//! shorter, and one empty segment for an empty object), each sealed with AES-256-GCM (ring's:
//! the crypto rustls already links, measured six times as fast here as RustCrypto's; see
//! docs/encryption.md) under a key
//! of the object's own: HKDF-SHA256 of the tenant's key with the header's random salt. A
//! segment's nonce is its index and a last-segment flag; its associated data is the header and
//! the object's full name. So a segment moved, dropped or swapped, a truncated object, an object
//! copied to another name, a changed header and a flipped byte all fail to open.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::hkdf;
use zeroize::Zeroizing;

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
const INFO: &[u8] = b"coffer encryption v1";

/// A 32-byte key. Debug prints no byte; wiped when dropped.
#[derive(Clone)]
pub struct Key(Zeroizing<[u8; 32]>);

impl Key {
    /// A key from its text: 64 hex digits, or 32 bytes in base64.
    pub fn parse(text: &str) -> Result<Key, String> {
        use base64::Engine as _;
        let text = text.trim();
        let bytes = Zeroizing::new(match text.len() {
            _ if text.bytes().all(|b| b.is_ascii_hexdigit()) => {
                hex::decode(text).map_err(|_| "is an odd number of hex digits; a key is 64".to_string())?
            }
            _ => base64::engine::general_purpose::STANDARD
                .decode(text)
                .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
                .map_err(|_| "is neither 64 hex digits nor base64".to_string())?,
        });
        let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
            format!("is {} bytes; a key is 32 bytes, as 64 hex digits or in base64 (openssl rand -base64 32)", bytes.len())
        })?;
        Ok(Key(Zeroizing::new(key)))
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(******)")
    }
}

/// A tenant's keys: the one new objects are sealed with, and older ones still read.
#[derive(Clone)]
pub struct KeyRing {
    current: String,
    keys: Arc<BTreeMap<String, Key>>,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing").field("current", &self.current).field("ids", &self.keys.keys().collect::<Vec<_>>()).finish()
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

impl KeyRing {
    /// New objects are sealed with `current` (`id`); `old` keys only open objects sealed with them.
    pub fn new(id: &str, current: Key, old: impl IntoIterator<Item = (String, Key)>) -> KeyRing {
        let mut keys: BTreeMap<String, Key> = old.into_iter().collect();
        keys.insert(id.to_string(), current);
        KeyRing { current: id.to_string(), keys: Arc::new(keys) }
    }

    pub fn current_id(&self) -> &str {
        &self.current
    }

    fn key(&self, id: &str) -> Option<&Key> {
        self.keys.get(id)
    }
}

/// Why an object cannot be opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Broken {
    /// The bytes are not what was sealed (tampered, truncated, moved, another object's).
    Integrity(String),
    /// The object was sealed with a key this tenant does not have.
    MissingKey(String),
}

fn integrity(message: impl Into<String>) -> Broken {
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

/// The sealing of one object: its header and its own key.
struct ObjectKey {
    aead: LessSafeKey,
    /// The associated data of every segment: the header, then the object's full name.
    aad: Vec<u8>,
    segments: u64,
}

impl ObjectKey {
    /// The object's key: HKDF-SHA256 (RFC 5869) of the tenant's key, with the header's salt
    /// and [`INFO`], 32 bytes.
    fn new(key: &Key, header: &Header, name: &str) -> ObjectKey {
        let pseudo_random = hkdf::Salt::new(hkdf::HKDF_SHA256, &header.salt).extract(key.0.as_slice());
        let derived = pseudo_random.expand(&[INFO], &AES_256_GCM).expect("32 bytes is a valid HKDF-SHA256 length");
        let aead = LessSafeKey::new(UnboundKey::from(derived));
        let mut aad = header.encode().to_vec();
        aad.extend_from_slice(name.as_bytes());
        ObjectKey { aead, aad, segments: header.segments() }
    }

    /// Segment `index`'s nonce: the index (8 bytes, big-endian), 3 zero bytes, and 1 for the
    /// last segment (0 otherwise).
    fn nonce(&self, index: u64) -> Nonce {
        let mut nonce = [0u8; 12];
        nonce[..8].copy_from_slice(&index.to_be_bytes());
        nonce[11] = u8::from(index + 1 == self.segments);
        Nonce::assume_unique_for_key(nonce)
    }

    /// Seals `buffer[from..]` in place, the tag appended.
    fn seal(&self, index: u64, buffer: &mut Vec<u8>, from: usize) {
        let tag = self
            .aead
            .seal_in_place_separate_tag(self.nonce(index), Aad::from(&self.aad), &mut buffer[from..])
            .expect("a segment is far below AES-GCM's length bound");
        buffer.extend_from_slice(tag.as_ref());
    }

    /// Opens a stored segment (ciphertext and tag) in place: the plaintext's length.
    fn open(&self, index: u64, stored: &mut [u8]) -> Result<usize, Broken> {
        if stored.len() < TAG {
            return Err(integrity(format!("segment {index} is cut short")));
        }
        let plain = self.aead.open_in_place(self.nonce(index), Aad::from(&self.aad), stored).map_err(|_| {
            integrity(format!(
                "segment {index} of {} does not authenticate: the object was changed, cut short, moved from another name, or is another object's",
                self.segments
            ))
        })?;
        Ok(plain.len())
    }
}

fn salt() -> [u8; 32] {
    let mut salt = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut salt)
        .expect("the operating system's random source");
    salt
}

/// Seals a stream of `plain_len` bytes for the object `name`, a segment at a time.
pub struct Sealer {
    key: ObjectKey,
    header: [u8; HEADER_LEN],
    index: u64,
    /// Plaintext not yet a whole segment.
    pending: Vec<u8>,
    left: u64,
}

impl Sealer {
    pub fn new(keys: &KeyRing, name: &str, plain_len: u64) -> Sealer {
        let header = Header { key_id: keys.current.clone(), segment: SEGMENT as u32, plain_len, salt: salt() };
        let key = keys.key(&keys.current).expect("the current key is in the ring");
        Sealer { key: ObjectKey::new(key, &header, name), header: header.encode(), index: 0, pending: Vec::new(), left: plain_len }
    }

    pub fn header(&self) -> &[u8; HEADER_LEN] {
        &self.header
    }

    /// Takes plaintext (at most what is left of the object's length); appends each segment it
    /// completes, sealed, to `out`. The last segment is sealed once its last byte is taken.
    pub fn push(&mut self, mut plain: &[u8], out: &mut Vec<u8>) {
        plain = &plain[..plain.len().min(usize::try_from(self.left).unwrap_or(usize::MAX))];
        self.left -= plain.len() as u64;
        loop {
            let take = (SEGMENT - self.pending.len()).min(plain.len());
            self.pending.extend_from_slice(&plain[..take]);
            plain = &plain[take..];
            // All the object's bytes are in: what is pending is the last segment.
            let last = self.left == 0 && plain.is_empty() && self.index < self.key.segments;
            if self.pending.len() < SEGMENT && !last {
                return;
            }
            let from = out.len();
            out.extend_from_slice(&self.pending);
            self.key.seal(self.index, out, from);
            self.pending.clear();
            self.index += 1;
            if plain.is_empty() && !(self.left == 0 && self.index < self.key.segments) {
                return;
            }
        }
    }
}

/// Seals a whole object in memory: header and segments.
pub fn seal(keys: &KeyRing, name: &str, plain: &[u8]) -> Vec<u8> {
    let mut sealer = Sealer::new(keys, name, plain.len() as u64);
    let mut out = Vec::with_capacity(sealed_len(plain.len() as u64) as usize);
    out.extend_from_slice(sealer.header());
    sealer.push(plain, &mut out);
    out
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

/// Opens a stored object as its bytes arrive: the header (unless known), then segment after
/// segment, each handed on only once it authenticates, clipped to the plaintext range wanted.
pub struct Opener {
    keys: KeyRing,
    name: String,
    state: State,
    /// Stored bytes not yet a whole segment (or header).
    pending: Vec<u8>,
    /// The plaintext range to hand on; `None` for the whole object.
    want: Option<(u64, u64)>,
}

enum State {
    Header,
    Segments { header: Header, key: Box<ObjectKey>, index: u64, last: u64 },
    Done,
}

impl Opener {
    /// Opens a whole object, its header first.
    pub fn whole(keys: &KeyRing, name: &str) -> Opener {
        Opener { keys: keys.clone(), name: name.to_string(), state: State::Header, pending: Vec::new(), want: None }
    }

    /// Opens the segments of `plan`, fetched after `header`.
    pub fn ranged(keys: &KeyRing, name: &str, header: Header, plan: Plan) -> Result<Opener, Broken> {
        let key = ObjectKey::new(keys.key(&header.key_id).ok_or_else(|| missing(&header))?, &header, name);
        let last = (plan.plain.1 - 1) / header.segment as u64;
        Ok(Opener {
            keys: keys.clone(),
            name: name.to_string(),
            state: State::Segments { header, key: Box::new(key), index: plan.first_segment, last },
            pending: Vec::new(),
            want: Some(plan.plain),
        })
    }

    /// Takes stored bytes; appends the plaintext they complete to `out`.
    pub fn push(&mut self, mut stored: &[u8], out: &mut Vec<u8>) -> Result<(), Broken> {
        while !stored.is_empty() {
            let need = match &self.state {
                State::Header => HEADER_LEN,
                State::Segments { header, index, .. } => header.segment_at(*index).1 as usize,
                State::Done => return Err(integrity("the object is longer than its header says")),
            };
            let take = (need - self.pending.len()).min(stored.len());
            self.pending.extend_from_slice(&stored[..take]);
            stored = &stored[take..];
            if self.pending.len() < need {
                break;
            }
            self.step(out)?;
        }
        Ok(())
    }

    /// The header or segment in `pending` is whole: read it.
    fn step(&mut self, out: &mut Vec<u8>) -> Result<(), Broken> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Header => {
                let header = Header::decode(&self.pending)?;
                let key = ObjectKey::new(self.keys.key(&header.key_id).ok_or_else(|| missing(&header))?, &header, &self.name);
                let last = header.segments() - 1;
                self.state = State::Segments { header, key: Box::new(key), index: 0, last };
            }
            State::Segments { header, key, index, last } => {
                let plain = key.open(index, &mut self.pending)?;
                let at = index * header.segment as u64;
                let (from, to) = self.want.unwrap_or((0, u64::MAX));
                let start = from.saturating_sub(at).min(plain as u64) as usize;
                let end = to.saturating_sub(at).min(plain as u64) as usize;
                out.extend_from_slice(&self.pending[start..end.max(start)]);
                if index < last {
                    self.state = State::Segments { header, key, index: index + 1, last };
                }
            }
            State::Done => unreachable!("push checks for Done"),
        }
        self.pending.clear();
        Ok(())
    }

    /// Opens `stored`, all the bytes fetched, in memory: a whole object in place ([`open`]),
    /// a range's segments through [`push`](Self::push).
    pub fn open_all(mut self, stored: Vec<u8>) -> Result<Vec<u8>, Broken> {
        if matches!(self.state, State::Header) && self.want.is_none() {
            return open(&self.keys, &self.name, stored);
        }
        let mut out = Vec::with_capacity(stored.len());
        self.push(&stored, &mut out)?;
        self.finish()?;
        Ok(out)
    }

    /// After the last stored byte: whether every segment wanted was there.
    pub fn finish(&self) -> Result<(), Broken> {
        match &self.state {
            State::Done => Ok(()),
            State::Header => Err(integrity("the object ends inside its header")),
            State::Segments { index, last, .. } => Err(integrity(format!(
                "the object is cut short: segment {index} of the segments up to {last} is missing"
            ))),
        }
    }
}

fn missing(header: &Header) -> Broken {
    Broken::MissingKey(format!(
        "sealed with key id \"{}\", which is neither encryption.keyId nor in encryption.oldKeys",
        header.key_id
    ))
}

/// Opens a whole stored object in memory, in place: each segment is decrypted where it lies
/// and its plaintext moved down, so the object is never copied whole.
pub fn open(keys: &KeyRing, name: &str, mut stored: Vec<u8>) -> Result<Vec<u8>, Broken> {
    let header = Header::decode(&stored)?;
    let key = ObjectKey::new(keys.key(&header.key_id).ok_or_else(|| missing(&header))?, &header, name);
    let expected = HEADER_LEN as u64 + header.plain_len + TAG as u64 * header.segments();
    let mut written = 0;
    for index in 0..header.segments() {
        let (at, len) = header.segment_at(index);
        let (at, len) = (at as usize, len as usize);
        let Some(segment) = stored.get_mut(at..at + len) else {
            return Err(integrity(format!("the object is cut short: it is {} bytes, its header says {expected}", stored.len())));
        };
        let plain = key.open(index, segment)?;
        stored.copy_within(at..at + plain, written);
        written += plain;
    }
    if stored.len() as u64 != expected {
        return Err(integrity(format!("the object is {} bytes, its header says {expected}", stored.len())));
    }
    stored.truncate(written);
    Ok(stored)
}

#[cfg(test)]
mod tests;
