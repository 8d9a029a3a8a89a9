//! The AEADs alone (`--encrypted`): why Coffer seals with AES-GCM.

use std::time::Instant;

/// The two AEADs the issue names, measured alone: MiB/s sealing 64 MiB in 64 KiB segments
/// (Coffer's segment size), on one core, best of three.
pub fn aead_throughput() -> Vec<(&'static str, f64)> {
    use aes_gcm::aead::{AeadInPlace, KeyInit};
    let total = 64usize << 20;
    let segment = vec![7u8; coffer_host::encryption::SEGMENT];
    let time = |seal: &mut dyn FnMut(u64, &mut [u8])| {
        let mut best = f64::MAX;
        let mut buffer = segment.clone();
        for _ in 0..3 {
            let started = Instant::now();
            for index in 0..(total / segment.len()) as u64 {
                seal(index, &mut buffer);
            }
            best = best.min(started.elapsed().as_secs_f64());
        }
        total as f64 / (1u64 << 20) as f64 / best
    };
    let aes = aes_gcm::Aes256Gcm::new(&[1u8; 32].into());
    let chacha = chacha20poly1305::ChaCha20Poly1305::new(&[1u8; 32].into());
    let nonce = |index: u64| {
        let mut n = [0u8; 12];
        n[..8].copy_from_slice(&index.to_be_bytes());
        n
    };
    let aes_rate = time(&mut |i, buf| {
        aes.encrypt_in_place_detached(&nonce(i).into(), b"aad", buf).unwrap();
    });
    let chacha_rate = time(&mut |i, buf| {
        chacha.encrypt_in_place_detached(&nonce(i).into(), b"aad", buf).unwrap();
    });
    let ring_key = ring::aead::LessSafeKey::new(ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, &[1u8; 32]).unwrap());
    let ring_rate = time(&mut |i, buf| {
        let nonce = ring::aead::Nonce::assume_unique_for_key(nonce(i));
        let _tag = ring_key.seal_in_place_separate_tag(nonce, ring::aead::Aad::from(b"aad"), buf).unwrap();
    });
    let ring_chacha = ring::aead::LessSafeKey::new(ring::aead::UnboundKey::new(&ring::aead::CHACHA20_POLY1305, &[1u8; 32]).unwrap());
    let ring_chacha_rate = time(&mut |i, buf| {
        let nonce = ring::aead::Nonce::assume_unique_for_key(nonce(i));
        let _tag = ring_chacha.seal_in_place_separate_tag(nonce, ring::aead::Aad::from(b"aad"), buf).unwrap();
    });
    vec![("AES-256-GCM (aes-gcm)", aes_rate), ("ChaCha20-Poly1305 (chacha20poly1305)", chacha_rate), ("AES-256-GCM (ring, what Coffer uses)", ring_rate), ("ChaCha20-Poly1305 (ring)", ring_chacha_rate)]
}
