//! Sealing: an object's header and segments, as a stream or a whole object in memory.

use super::format::{HEADER_LEN, Header, SEGMENT, sealed_len};
use super::keys::{KeyRing, ObjectKey, salt};

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
        let header = Header { key_id: keys.current_id().to_string(), segment: SEGMENT as u32, plain_len, salt: salt() };
        let key = keys.key(keys.current_id()).expect("the current key is in the ring");
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
