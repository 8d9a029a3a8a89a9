//! The host side of the WIT's `body` interface, over a view of the call's Store data: the
//! plugin's calls on a source (its size, digests and ranges) and on a sink.

use std::time::Instant;

use bytes::Bytes;
use md5::Digest as _;
use wasmtime::component::{HasData, Resource, ResourceTable};
use wasmtime_wasi::p2::{DynInputStream, DynOutputStream, StreamError};

use super::fill::{Stopped, fill};
use super::hasher::Hasher;
use super::sink::Sink;
use super::source::{Slices, Source};
use crate::sandbox::bindings::body::{FillEnd, Filled, HostSink, HostSource};
use crate::sandbox::bindings::types::{Check, Digests, Error, ErrorKind, Received};
use crate::sandbox::limits::Meter;

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
        let slices = source.range(start, len).await.map_err(failure)?;
        let hashing = Instant::now();
        let digests = digests_of(&slices);
        self.meter.add_host_work(hashing.elapsed());
        Ok(digests)
    }

    async fn read(&mut self, source: Resource<Source>, start: u64, len: u64) -> Result<Resource<DynInputStream>, Error> {
        let table = self.table();
        let slices = table.get_mut(&source).map_err(|e| failure(e.to_string()))?.range(start, len).await.map_err(failure)?;
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
        self.table().get(&sink).map_err(|e| failure(e.to_string()))?.reset(hasher_for(&check)).map_err(failure)
    }

    async fn write(&mut self, sink: Resource<Sink>) -> Resource<DynOutputStream> {
        let table = self.table();
        let sink = table.get(&sink).expect("the call's sink is in the table while the call runs");
        let stream: DynOutputStream = Box::new(sink.stream());
        table.push(stream).expect("the table has room for the call's streams")
    }

    async fn fill(&mut self, sink: Resource<Sink>, body: Resource<DynInputStream>, limit: u64) -> Filled {
        let table = self.table();
        let mut out = table.get(&sink).expect("the call's sink is in the table while the call runs").stream();
        let (moved, stopped) = match table.get_mut(&body) {
            Ok(input) => fill(input, &mut out, limit).await,
            Err(e) => return Filled { moved: 0, end: FillEnd::Sink(format!("the body's stream: {e}")) },
        };
        let end = match stopped {
            Stopped::Limit => FillEnd::Limit,
            Stopped::Body(StreamError::Closed) => FillEnd::Closed,
            // As wasi:io's error would say it (its debug string): the plugin tells a timeout
            // by its own clock.
            Stopped::Body(StreamError::LastOperationFailed(e) | StreamError::Trap(e)) => FillEnd::Failed(format!("{e:?}")),
            Stopped::Sink(e) => FillEnd::Sink(e.to_string()),
        };
        Filled { moved, end }
    }

    async fn write_at(&mut self, sink: Resource<Sink>, offset: u64) -> Resource<DynOutputStream> {
        let table = self.table();
        let sink = table.get(&sink).expect("the call's sink is in the table while the call runs");
        let stream: DynOutputStream = Box::new(sink.stream_at(offset));
        table.push(stream).expect("the table has room for the call's streams")
    }

    async fn received(&mut self, sink: Resource<Sink>) -> Received {
        let (size, digest) = self.table().get(&sink).map_or((0, Vec::new()), Sink::received);
        Received { size, digest }
    }

    async fn drop(&mut self, sink: Resource<Sink>) -> wasmtime::Result<()> {
        let _ = sink;
        Ok(())
    }
}

/// The hasher for the check the plugin asked for.
pub(super) fn hasher_for(check: &Check) -> Hasher {
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
