//! The digests a sink keeps of what it receives: CRC-32, CRC-32C, CRC-64/NVME, SHA-1, MD5,
//! SHA-256, or the MD5 of each part's MD5 (a multipart ETag).

use md5::Digest as _;

/// The digest a sink keeps, as its check asked.
#[derive(Clone)]
pub(super) enum Hasher {
    None,
    Crc32(crc32fast::Hasher),
    /// CRC-32C or CRC-64/NVME, as `width` bytes.
    Crc { digest: crc_fast::Digest, width: usize },
    Sha1(sha1::Sha1),
    Md5(md5::Md5),
    Sha256(sha2::Sha256),
    /// The MD5s of each run of `part` bytes, and the run being hashed.
    Parts { part: u64, filled: u64, current: md5::Md5, md5s: Vec<u8> },
}

impl Hasher {
    pub(super) fn update(&mut self, mut bytes: &[u8]) {
        match self {
            Hasher::None => {}
            Hasher::Crc32(h) => h.update(bytes),
            Hasher::Crc { digest, .. } => digest.update(bytes),
            Hasher::Sha1(h) => sha1::Digest::update(h, bytes),
            Hasher::Md5(h) => h.update(bytes),
            Hasher::Sha256(h) => sha2::Digest::update(h, bytes),
            Hasher::Parts { part, filled, current, md5s } => {
                while !bytes.is_empty() {
                    let take = ((*part - *filled) as usize).min(bytes.len());
                    current.update(&bytes[..take]);
                    *filled += take as u64;
                    bytes = &bytes[take..];
                    if *filled == *part {
                        md5s.extend_from_slice(&std::mem::take(current).finalize());
                        *filled = 0;
                    }
                }
            }
        }
    }

    pub(super) fn digest(&self) -> Vec<u8> {
        match self.clone() {
            Hasher::None => Vec::new(),
            Hasher::Crc32(h) => h.finalize().to_be_bytes().to_vec(),
            Hasher::Crc { digest, width } => digest.finalize().to_be_bytes()[8 - width..].to_vec(),
            Hasher::Sha1(h) => sha1::Digest::finalize(h).to_vec(),
            Hasher::Md5(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => sha2::Digest::finalize(h).to_vec(),
            Hasher::Parts { filled, current, mut md5s, .. } => {
                if filled > 0 {
                    md5s.extend_from_slice(&current.finalize());
                }
                md5::Md5::digest(&md5s).to_vec()
            }
        }
    }
}
