//! The bodies a call hands the plugin (the WIT's `body` interface): a put's [`Source`] and a
//! get's [`Sink`]. The plugin moves their bytes with wasi:io `splice`, which wasmtime carries
//! out host-side, so a body never enters the sandbox's memory. The host only moves and hashes
//! bytes; every decision (what to send, what to check, when to retry) stays the plugin's.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use md5::Digest as _;
use tokio::sync::mpsc;
use wasmtime::component::{HasData, Resource, ResourceTable};
use wasmtime_wasi::p2::{DynInputStream, DynOutputStream, InputStream, OutputStream, Pollable, StreamError, StreamResult};

use crate::sandbox::bindings::body::{HostSink, HostSource};
use crate::sandbox::bindings::types::{Check, Digests, Error, ErrorKind, Received};
use crate::sandbox::limits::Meter;

/// How many bytes a sink's stream takes per write.
const SINK_PERMIT: usize = 1 << 20;

/// A put's bytes: all in memory (a put from a slice), or streamed from the caller, who sends
/// them in chunks; a streamed source keeps only the chunks the plugin has not released.
pub struct Source {
    size: u64,
    /// Contiguous chunks from `window_start` to `arrived`.
    window: VecDeque<Bytes>,
    window_start: u64,
    arrived: u64,
    /// Chunks still to come, for a streamed source.
    incoming: Option<mpsc::Receiver<std::io::Result<Bytes>>>,
}

impl Source {
    /// A source of bytes already in memory.
    pub fn whole(bytes: Bytes) -> Source {
        let size = bytes.len() as u64;
        Source { size, window: VecDeque::from([bytes]), window_start: 0, arrived: size, incoming: None }
    }

    /// A source of `size` bytes that arrive in chunks on `incoming`.
    pub fn streamed(size: u64, incoming: mpsc::Receiver<std::io::Result<Bytes>>) -> Source {
        Source { size, window: VecDeque::new(), window_start: 0, arrived: 0, incoming: Some(incoming) }
    }

    /// Bytes [start, start + len), as slices of the chunks that hold them, waiting for a
    /// streamed source's chunks to arrive.
    async fn range(&mut self, start: u64, len: u64) -> Result<Vec<Bytes>, Error> {
        let end = start.checked_add(len).filter(|&end| end <= self.size).ok_or_else(|| {
            failure(format!("bytes {start}..{start}+{len} are past the body's end ({} bytes)", self.size))
        })?;
        if start < self.window_start {
            return Err(failure(format!(
                "bytes from {start} were already let go: a streamed put cannot send them again"
            )));
        }
        while self.arrived < end {
            let Some(incoming) = self.incoming.as_mut() else { break };
            match incoming.recv().await {
                Some(Ok(chunk)) => {
                    self.arrived += chunk.len() as u64;
                    self.window.push_back(chunk);
                }
                Some(Err(e)) => return Err(failure(format!("reading the body to put: {e}"))),
                None => {
                    return Err(failure(format!(
                        "the body to put ended after {} of the {} bytes promised",
                        self.arrived, self.size
                    )));
                }
            }
        }
        let mut slices = Vec::new();
        let mut at = self.window_start;
        for chunk in &self.window {
            let chunk_end = at + chunk.len() as u64;
            if chunk_end > start && at < end {
                let from = start.saturating_sub(at) as usize;
                let to = (end.min(chunk_end) - at) as usize;
                slices.push(chunk.slice(from..to));
            }
            at = chunk_end;
        }
        Ok(slices)
    }

    /// A streamed source lets go of the chunks wholly before `offset`; one in memory keeps all,
    /// so that a put found missing by verify-after-write can be sent again.
    fn release(&mut self, offset: u64) {
        if self.incoming.is_none() {
            return;
        }
        while let Some(front) = self.window.front() {
            let front_end = self.window_start + front.len() as u64;
            if front_end > offset {
                break;
            }
            self.window_start = front_end;
            self.window.pop_front();
        }
    }
}

/// An input stream over slices of a source: what the plugin splices into a request body.
struct Slices(VecDeque<Bytes>);

impl InputStream for Slices {
    fn read(&mut self, size: usize) -> StreamResult<Bytes> {
        let Some(front) = self.0.front_mut() else { return Err(StreamError::Closed) };
        let chunk = if front.len() <= size { self.0.pop_front().unwrap_or_default() } else { front.split_to(size) };
        Ok(chunk)
    }
}

#[async_trait::async_trait]
impl Pollable for Slices {
    async fn ready(&mut self) {}
}

/// Where a get's bytes go: into memory (a get answering a `Vec<u8>`), or to the caller's
/// writer as they come. It hashes what it receives with the check the plugin asked for.
pub struct Sink {
    state: Arc<Mutex<SinkState>>,
    /// The channel to the caller's writer, for a streaming sink.
    sender: Option<mpsc::Sender<Bytes>>,
}

/// Nanoseconds of hashing done for the call, counted against its CPU limit.
type Work = Arc<AtomicU64>;

struct SinkState {
    hasher: Hasher,
    size: u64,
    /// The bytes received, for a sink in memory.
    chunks: Vec<Bytes>,
    /// Bytes have gone to the caller's writer (a streaming sink cannot start over).
    written: bool,
    work: Work,
}

impl Sink {
    /// A sink that keeps the bytes in memory; its hashing time is added to `work`.
    pub fn memory(work: Work) -> Sink {
        Sink::new(None, work)
    }

    /// A sink that sends the bytes on `to` as they come; its hashing time is added to `work`.
    pub fn streaming(to: mpsc::Sender<Bytes>, work: Work) -> Sink {
        Sink::new(Some(to), work)
    }

    fn new(sender: Option<mpsc::Sender<Bytes>>, work: Work) -> Sink {
        let state = SinkState { hasher: Hasher::new(&Check::None), size: 0, chunks: Vec::new(), written: false, work };
        Sink { state: Arc::new(Mutex::new(state)), sender }
    }

    /// The bytes received, for a sink in memory.
    pub fn take(&self) -> Vec<u8> {
        let chunks = std::mem::take(&mut lock(&self.state).chunks);
        match <[Bytes; 1]>::try_from(chunks) {
            Ok([only]) => Vec::from(only),
            Err(chunks) => chunks.concat(),
        }
    }

    fn reset(&self, check: &Check) -> Result<(), Error> {
        let mut state = lock(&self.state);
        if state.written {
            return Err(Error {
                kind: ErrorKind::Other,
                message: format!(
                    "{} bytes were already written to the output, which cannot take them back: \
                     the get cannot start over (discard the output and get again)",
                    state.size
                ),
                status: None,
                s3_code: None,
            });
        }
        state.hasher = Hasher::new(check);
        state.size = 0;
        state.chunks.clear();
        Ok(())
    }

    fn received(&self) -> Received {
        let state = lock(&self.state);
        Received { size: state.size, digest: state.hasher.digest() }
    }
}

/// The output stream a sink hands the plugin.
struct SinkStream {
    state: Arc<Mutex<SinkState>>,
    sender: Option<mpsc::Sender<Bytes>>,
}

impl OutputStream for SinkStream {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        let mut state = lock(&self.state);
        let hashing = Instant::now();
        state.hasher.update(&bytes);
        state.work.fetch_add(hashing.elapsed().as_nanos() as u64, Ordering::Relaxed);
        state.size += bytes.len() as u64;
        match &self.sender {
            None => state.chunks.push(bytes),
            Some(sender) => {
                state.written = true;
                sender.try_send(bytes).map_err(|e| match e {
                    mpsc::error::TrySendError::Full(_) => StreamError::trap("write exceeded the permit"),
                    mpsc::error::TrySendError::Closed(_) => {
                        StreamError::LastOperationFailed(wasmtime::format_err!("the output was closed"))
                    }
                })?;
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        match &self.sender {
            None => Ok(SINK_PERMIT),
            Some(sender) if sender.is_closed() => {
                Err(StreamError::LastOperationFailed(wasmtime::format_err!("the output was closed")))
            }
            Some(sender) if sender.capacity() == 0 => Ok(0),
            Some(_) => Ok(SINK_PERMIT),
        }
    }
}

#[async_trait::async_trait]
impl Pollable for SinkStream {
    async fn ready(&mut self) {
        if let Some(sender) = &self.sender {
            // A free slot, or a closed channel: either way a write can be tried.
            let _ = sender.reserve().await;
        }
    }
}

/// The digest a sink keeps, as its check asked.
#[derive(Clone)]
enum Hasher {
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
    fn new(check: &Check) -> Hasher {
        match check {
            Check::None => Hasher::None,
            Check::Crc32 => Hasher::Crc32(crc32fast::Hasher::new()),
            Check::Crc32c => Hasher::Crc { digest: crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc32Iscsi), width: 4 },
            Check::Crc64nvme => Hasher::Crc { digest: crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc64Nvme), width: 8 },
            Check::Sha1 => Hasher::Sha1(sha1::Sha1::new()),
            Check::Md5 => Hasher::Md5(md5::Md5::new()),
            Check::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            Check::Md5OfParts(part) => {
                Hasher::Parts { part: (*part).max(1), filled: 0, current: md5::Md5::new(), md5s: Vec::new() }
            }
        }
    }

    fn update(&mut self, mut bytes: &[u8]) {
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

    fn digest(&self) -> Vec<u8> {
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

/// The digests of the bytes in `slices`.
fn digests_of(slices: &[Bytes]) -> Digests {
    let mut md5 = md5::Md5::new();
    let mut sha256 = sha2::Sha256::new();
    let mut crc32 = crc32fast::Hasher::new();
    for slice in slices {
        md5.update(slice);
        sha2::Digest::update(&mut sha256, slice);
        crc32.update(slice);
    }
    Digests { md5: md5.finalize().to_vec(), sha256: sha2::Digest::finalize(sha256).to_vec(), crc32: crc32.finalize() }
}

fn failure(message: String) -> Error {
    Error { kind: ErrorKind::Other, message, status: None, s3_code: None }
}

fn lock(state: &Mutex<SinkState>) -> std::sync::MutexGuard<'_, SinkState> {
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The host side of the WIT's `body` interface: the part of a call's Store data its bodies
/// need (the resource table that holds them, and the meter their hashing counts against), as
/// a view, the way wasi's interfaces take theirs.
pub struct BodyView<'a> {
    pub table: &'a mut ResourceTable,
    pub meter: &'a Meter,
}

/// Names [`BodyView`] to the linker.
pub struct BodyData;

impl HasData for BodyData {
    type Data<'a> = BodyView<'a>;
}

impl BodyView<'_> {
    fn table(&mut self) -> &mut ResourceTable {
        self.table
    }
}

impl crate::sandbox::bindings::body::Host for BodyView<'_> {}

impl HostSource for BodyView<'_> {
    async fn size(&mut self, source: Resource<Source>) -> u64 {
        self.table().get(&source).map_or(0, |s| s.size)
    }

    async fn digests(&mut self, source: Resource<Source>, start: u64, len: u64) -> Result<Digests, Error> {
        let source = self.table().get_mut(&source).map_err(|e| failure(e.to_string()))?;
        let slices = source.range(start, len).await?;
        let hashing = Instant::now();
        let digests = digests_of(&slices);
        self.meter.add_host_work(hashing.elapsed());
        Ok(digests)
    }

    async fn read(&mut self, source: Resource<Source>, start: u64, len: u64) -> Result<Resource<DynInputStream>, Error> {
        let table = self.table();
        let slices = table.get_mut(&source).map_err(|e| failure(e.to_string()))?.range(start, len).await?;
        let stream: DynInputStream = Box::new(Slices(slices.into()));
        table.push(stream).map_err(|e| failure(e.to_string()))
    }

    async fn release(&mut self, source: Resource<Source>, offset: u64) {
        if let Ok(source) = self.table().get_mut(&source) {
            source.release(offset);
        }
    }

    async fn drop(&mut self, source: Resource<Source>) -> wasmtime::Result<()> {
        // The host made it and deletes it after the call; a guest never owns one.
        let _ = source;
        Ok(())
    }
}

impl HostSink for BodyView<'_> {
    async fn reset(&mut self, sink: Resource<Sink>, check: Check) -> Result<(), Error> {
        self.table().get(&sink).map_err(|e| failure(e.to_string()))?.reset(&check)
    }

    async fn write(&mut self, sink: Resource<Sink>) -> Resource<DynOutputStream> {
        let table = self.table();
        let sink = table.get(&sink).expect("the call's sink is in the table while the call runs");
        let stream: DynOutputStream = Box::new(SinkStream { state: sink.state.clone(), sender: sink.sender.clone() });
        table.push(stream).expect("the table has room for the call's streams")
    }

    async fn received(&mut self, sink: Resource<Sink>) -> Received {
        self.table().get(&sink).map_or(Received { size: 0, digest: Vec::new() }, Sink::received)
    }

    async fn drop(&mut self, sink: Resource<Sink>) -> wasmtime::Result<()> {
        let _ = sink;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(check: Check, chunks: &[&[u8]]) -> Vec<u8> {
        let mut hasher = Hasher::new(&check);
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
        assert!(source.range(8, 5).await.unwrap_err().message.contains("past the body's end"));
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
        assert!(source.range(0, 4).await.unwrap_err().message.contains("already let go"));
        assert_eq!(source.range(4, 6).await.unwrap().concat(), b"456789");

        let (tx, rx) = mpsc::channel(8);
        tx.send(Ok(Bytes::from_static(b"0123"))).await.unwrap();
        drop(tx);
        let error = Source::streamed(10, rx).range(0, 10).await.unwrap_err();
        assert!(error.message.contains("ended after 4 of the 10 bytes"), "{}", error.message);
    }

    #[test]
    fn a_streaming_sink_cannot_start_over_once_it_has_written() {
        let (tx, _rx) = mpsc::channel(4);
        let sink = Sink::streaming(tx, Work::default());
        sink.reset(&Check::Md5).unwrap();
        let mut out = SinkStream { state: sink.state.clone(), sender: sink.sender.clone() };
        out.write(Bytes::from_static(b"abc")).unwrap();
        assert_eq!(sink.received().size, 3);
        assert!(sink.reset(&Check::None).unwrap_err().message.contains("cannot start over"));

        let memory = Sink::memory(Work::default());
        let mut out = SinkStream { state: memory.state.clone(), sender: None };
        out.write(Bytes::from_static(b"abc")).unwrap();
        memory.reset(&Check::None).unwrap();
        out.write(Bytes::from_static(b"de")).unwrap();
        assert_eq!(memory.take(), b"de");
    }
}
