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
//!
//! format.rs holds the header and the lengths, keys.rs the keys, sealer.rs and opener.rs the
//! two directions.

mod format;
mod keys;
mod opener;
mod sealer;

pub use format::{Broken, HEADER_LEN, Header, MAGIC, MAX_KEY_ID, Plan, SEGMENT, TAG, VERSION, check_key_id, plain_len, sealed_len};
pub use keys::{Key, KeyRing};
pub use opener::{Opener, open};
pub use sealer::{Sealer, seal};

#[cfg(test)]
mod tests;
