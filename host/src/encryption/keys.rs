//! A tenant's keys, and each object's own key derived from them: HKDF-SHA256 of the tenant's
//! key with the object's salt, sealing and opening its segments with AES-256-GCM.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::hkdf;
use zeroize::Zeroizing;

use super::format::{Broken, Header, TAG, integrity};

/// What HKDF expands with: the format's name and version.
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

    pub(super) fn key(&self, id: &str) -> Option<&Key> {
        self.keys.get(id)
    }
}

/// The sealing of one object: its header and its own key.
pub(super) struct ObjectKey {
    aead: LessSafeKey,
    /// The associated data of every segment: the header, then the object's full name.
    aad: Vec<u8>,
    pub(super) segments: u64,
}

impl ObjectKey {
    /// The object's key: HKDF-SHA256 (RFC 5869) of the tenant's key, with the header's salt
    /// and [`INFO`], 32 bytes.
    pub(super) fn new(key: &Key, header: &Header, name: &str) -> ObjectKey {
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
    pub(super) fn seal(&self, index: u64, buffer: &mut Vec<u8>, from: usize) {
        let tag = self
            .aead
            .seal_in_place_separate_tag(self.nonce(index), Aad::from(&self.aad), &mut buffer[from..])
            .expect("a segment is far below AES-GCM's length bound");
        buffer.extend_from_slice(tag.as_ref());
    }

    /// Opens a stored segment (ciphertext and tag) in place: the plaintext's length.
    pub(super) fn open(&self, index: u64, stored: &mut [u8]) -> Result<usize, Broken> {
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

pub(super) fn salt() -> [u8; 32] {
    let mut salt = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut salt)
        .expect("the operating system's random source");
    salt
}
