//! The bodies' unit tests: digests however the bytes arrive, a source's ranges, a sink that
//! cannot start over.

use bytes::Bytes;
use md5::Digest as _;
use tokio::sync::mpsc;
use wasmtime_wasi::p2::OutputStream;

use super::hasher::Hasher;
use super::host::hasher_for;
use super::sink::{Outbound, Sink, Work};
use super::source::Source;
use crate::sandbox::bindings::types::Check;

fn digest(check: Check, chunks: &[&[u8]]) -> Vec<u8> {
    let mut hasher = hasher_for(&check);
    for chunk in chunks {
        hasher.update(chunk);
    }
    hasher.digest()
}

#[test]
fn a_sinks_digest_does_not_depend_on_how_the_bytes_arrive() {
    let whole: &[u8] = b"aaabbbc";
    let all = [Check::Crc32, Check::Crc32c, Check::Crc64nvme, Check::Sha1, Check::Md5, Check::Sha256, Check::Md5OfParts(3)];
    for check in all {
        let at_once = digest(check, &[whole]);
        assert_eq!(digest(check, &[b"a", b"aab", b"bb", b"c"]), at_once);
        assert_eq!(digest(check, &[b"aaab", b"", b"bbc"]), at_once);
    }
    // md5(md5("aaa") ‖ md5("bbb") ‖ md5("c")): the ETag of a 3-part upload.
    let joined = [b"aaa".as_slice(), b"bbb", b"c"].map(|p| md5::Md5::digest(p).to_vec()).concat();
    assert_eq!(digest(Check::Md5OfParts(3), &[whole]), md5::Md5::digest(&joined).to_vec());
    assert_eq!(digest(Check::Crc32, &[whole]), crc32fast::hash(whole).to_be_bytes());
}

#[test]
fn the_other_checksums_match_their_published_check_values() {
    // The check value of each CRC is its CRC of "123456789" (the CRC catalogue's); SHA-1's of
    // "abc" is FIPS 180's example.
    assert_eq!(digest(Check::Crc32c, &[b"1234", b"56789"]), 0xE306_9283u32.to_be_bytes());
    assert_eq!(digest(Check::Crc64nvme, &[b"12345678", b"9"]), 0xAE8B_1486_0A79_9888u64.to_be_bytes());
    assert_eq!(hex::encode(digest(Check::Sha1, &[b"a", b"bc"])), "a9993e364706816aba3e25717850c26c9cd0d89d");
}

#[tokio::test]
async fn a_source_answers_any_range_within_it_and_refuses_the_rest() {
    let mut source = Source::whole(Bytes::from_static(b"0123456789"));
    assert_eq!(source.range(2, 5).await.unwrap().concat(), b"23456");
    assert!(source.range(8, 5).await.unwrap_err().contains("past the body's end"));
    assert!(source.range(u64::MAX, 2).await.is_err());
    source.release(10);
    assert_eq!(source.range(0, 3).await.unwrap().concat(), b"012", "a source in memory keeps its bytes");
}

#[tokio::test]
async fn a_streamed_source_waits_for_its_chunks_and_lets_released_ones_go() {
    let (tx, rx) = mpsc::channel(8);
    for chunk in [&b"0123"[..], b"4567", b"89"] {
        tx.send(Ok(Bytes::from_static(chunk))).await.unwrap();
    }
    drop(tx);
    let mut source = Source::streamed(10, rx);
    assert_eq!(source.range(3, 3).await.unwrap().concat(), b"345");
    source.release(4);
    assert!(source.range(0, 4).await.unwrap_err().contains("already let go"));
    assert_eq!(source.range(4, 6).await.unwrap().concat(), b"456789");

    let (tx, rx) = mpsc::channel(8);
    tx.send(Ok(Bytes::from_static(b"0123"))).await.unwrap();
    drop(tx);
    let error = Source::streamed(10, rx).range(0, 10).await.unwrap_err();
    assert!(error.contains("ended after 4 of the 10 bytes"), "{error}");
}

#[test]
fn a_streaming_sink_cannot_start_over_once_it_has_written() {
    let (tx, _rx) = mpsc::unbounded_channel();
    let sink = Sink::streaming(Outbound::new(tx, Default::default()), Work::default());
    sink.reset(hasher_for(&Check::Md5)).unwrap();
    let mut out = sink.stream();
    out.write(Bytes::from_static(b"abc")).unwrap();
    assert_eq!(sink.received().0, 3);
    assert!(sink.reset(Hasher::None).unwrap_err().contains("cannot start over"));

    let memory = Sink::memory(Work::default());
    let mut out = memory.stream();
    out.write(Bytes::from_static(b"abc")).unwrap();
    memory.reset(Hasher::None).unwrap();
    out.write(Bytes::from_static(b"de")).unwrap();
    assert_eq!(memory.take(), b"de");
}

#[test]
fn bytes_written_ahead_are_held_until_their_turn_and_hashed_in_order() {
    let whole = b"hello, parallel world";
    let sink = Sink::memory(Work::default());
    sink.reset(hasher_for(&Check::Md5)).unwrap();
    let (mut first, mut third, mut second) = (sink.stream(), sink.stream_at(15), sink.stream_at(5));
    third.write(Bytes::from_static(b" world")).unwrap();
    second.write(Bytes::from_static(b", para")).unwrap();
    assert_eq!(sink.received().0, 0, "nothing in order yet");
    second.write(Bytes::from_static(b"llel")).unwrap();
    first.write(Bytes::from_static(b"hello")).unwrap();
    let (size, digest) = sink.received();
    assert_eq!(size, whole.len() as u64);
    assert_eq!(digest, md5::Md5::digest(whole).to_vec());
    assert_eq!(sink.take(), whole);
    assert!(sink.stream_at(3).write(Bytes::from_static(b"x")).is_err(), "over bytes already in");

    // On to a writer: the in-order stream waits while a megabyte is on its way; bytes ahead do not.
    let (tx, mut rx) = mpsc::unbounded_channel();
    let queue = std::sync::Arc::new(super::sink::Queue::default());
    let streaming = Sink::streaming(Outbound::new(tx, queue.clone()), Work::default());
    let (mut first, mut ahead) = (streaming.stream(), streaming.stream_at(1 << 20));
    first.write(Bytes::from(vec![0u8; 1 << 20])).unwrap();
    assert_eq!(first.check_write().unwrap(), 0, "a megabyte on its way");
    assert!(ahead.check_write().unwrap() > 0);
    let taken = rx.try_recv().unwrap();
    queue.took(taken.len());
    assert!(first.check_write().unwrap() > 0, "the writer caught up");
}
