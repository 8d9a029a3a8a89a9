//! Streams: `put_stream` reads a blob from the caller's reader as the upload needs it (parts
//! included) and `get_stream` writes one to the caller's writer as it arrives. A reader that
//! ends early fails the put and stores nothing; a stream found damaged ends with an integrity
//! error (the output cannot take bytes back); a get cut before its first byte is retried, and
//! one cut after goes on from the byte it reached, held to the object's ETag: an object that
//! changed meanwhile fails the get, never stitched together. Through the fault proxy in front
//! of the real server.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use coffer_host::{ErrorKind, TenantSettingsBuilder};
use coffer_tests::{Fault, FaultProxy, Rule, When, blob, note, proxied_tenant, server, tenant};

const MIB: usize = 1 << 20;

/// Parts of 5 MiB (S3's smallest), two at a time, above 5 MiB.
fn small_parts(b: TenantSettingsBuilder) -> TenantSettingsBuilder {
    b.multipart_threshold(5 * MIB as u64).part_size(5 * MIB as u64).part_concurrency(2).timeout(Duration::from_secs(5))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_put_and_get_whole_ranged_and_in_parts() {
    let proxy = FaultProxy::start(&server().endpoint, vec![]);
    let (store, direct) = proxied_tenant(&proxy.endpoint, "streams", small_parts);
    let data = blob(12 * MIB + 7, 71);
    store.put_stream("big", &data[..], data.len() as u64).await.unwrap();
    assert_eq!(proxy.requests("PUT"), 3, "three parts: 5 + 5 + 2 MiB");
    assert!(direct.get("big", ..).await.unwrap().unwrap() == data, "get reads back what put_stream sent");

    let mut out = Vec::new();
    assert_eq!(store.get_stream("big", .., &mut out).await.unwrap(), Some(data.len() as u64));
    assert!(out == data, "get_stream writes the object whole");
    let across = 5 * MIB as u64 - 100..5 * MIB as u64 + 100;
    let mut out = Vec::new();
    assert_eq!(store.get_stream("big", across.clone(), &mut out).await.unwrap(), Some(200));
    assert!(out == data[across.start as usize..across.end as usize], "a range across a part boundary");

    // At most the threshold: one PUT of the whole.
    store.put_stream("small", &b"hello"[..], 5).await.unwrap();
    assert_eq!(store.get("small", ..).await.unwrap(), Some(b"hello".to_vec()));
    // Bytes past `len` are not read.
    store.put_stream("cut", &b"hello, world"[..], 5).await.unwrap();
    assert_eq!(store.get("cut", ..).await.unwrap(), Some(b"hello".to_vec()));
    // An empty body.
    store.put_stream("empty", &b""[..], 0).await.unwrap();
    assert_eq!(store.get("empty", ..).await.unwrap(), Some(Vec::new()));

    let mut out = Vec::new();
    assert_eq!(store.get_stream("missing", .., &mut out).await.unwrap(), None);
    assert!(out.is_empty(), "nothing is written for a missing object");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_ends_early_fails_the_put_and_stores_nothing() {
    let proxy = FaultProxy::start(&server().endpoint, vec![]);
    let (store, _) = proxied_tenant(&proxy.endpoint, "streams-short", small_parts);
    let error = store.put_stream("short", &b"only ten b"[..], 20).await.unwrap_err();
    assert!(error.message().contains("ended after 10 of the 20 bytes"), "{error}");
    assert_eq!(store.stat("short").await.unwrap(), None);

    // In the second part of a multipart upload: the upload is aborted.
    let data = blob(7 * MIB, 72);
    let error = store.put_stream("short-parts", &data[..], 11 * MIB as u64).await.unwrap_err();
    assert!(error.message().contains(&format!("ended after {} of the {} bytes", 7 * MIB, 11 * MIB)), "{error}");
    assert_eq!(store.stat("short-parts").await.unwrap(), None);
    assert_eq!(proxy.requests("DELETE"), 1, "the upload was aborted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_stream_is_an_integrity_error_and_a_cut_one_goes_on_from_the_byte_it_reached() {
    let data = blob(300 * 1024, 73);
    let damaged = FaultProxy::start(&server().endpoint, vec![Rule::new(Fault::FlipByte, "GET", When::Always)]);
    let (store, direct) = proxied_tenant(&damaged.endpoint, "streams-damaged", |b| b.max_retries(3));
    direct.put("k", &data).await.unwrap();
    let mut out = Vec::new();
    let error = store.get_stream("k", .., &mut out).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Integrity, "{error}");
    assert!(error.message().contains("cannot start over"), "{error}");
    assert_eq!(damaged.requests("GET"), 1, "bytes were out: no second attempt");
    assert_eq!(out.len(), data.len(), "the damaged bytes were written, and the error says to discard them");
    assert!(out != data);

    let cut_before = FaultProxy::start(&server().endpoint, vec![Rule::new(Fault::ResetBeforeResponse, "GET", When::First(1))]);
    let (store, _) = proxied_tenant(&cut_before.endpoint, "streams-damaged", |b| b.max_retries(3));
    let mut out = Vec::new();
    assert_eq!(store.get_stream("k", .., &mut out).await.unwrap(), Some(data.len() as u64));
    assert!(out == data, "cut before the first byte: retried, and whole");
    assert_eq!(cut_before.requests("GET"), 2);

    // Half the body, then the connection closes: those bytes are out, and the rest follows them.
    let cut_after = FaultProxy::start(&server().endpoint, vec![Rule::new(Fault::Truncate, "GET", When::First(1))]);
    let (store, _) = proxied_tenant(&cut_after.endpoint, "streams-damaged", |b| b.max_retries(3));
    let mut out = Vec::new();
    assert_eq!(store.get_stream("k", .., &mut out).await.unwrap(), Some(data.len() as u64));
    assert!(out == data, "the rest went on from where the cut left it, and the whole was checked");
    assert_eq!((cut_after.injected(Fault::Truncate), cut_after.requests("GET")), (1, 2));
    // The proxy took the whole object for the first GET; starting over would take it twice.
    assert!(cut_after.answer_body_bytes() < 2 * data.len() as u64, "the second GET asked only for the rest");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_cut_midway_goes_on_but_never_across_a_changed_object() {
    let data = blob(6 * MIB, 76);
    let reset = FaultProxy::start(&server().endpoint, vec![Rule::new(Fault::ResetMidBody, "GET", When::First(2))]);
    let (store, direct) = proxied_tenant(&reset.endpoint, "streams-resume", |b| b.max_retries(3));
    direct.put("k", &data).await.unwrap();
    let mut out = Vec::new();
    assert_eq!(store.get_stream("k", .., &mut out).await.unwrap(), Some(data.len() as u64));
    assert!(out == data, "reset twice midway, read whole");
    assert_eq!(reset.injected(Fault::ResetMidBody), 2);

    // The object is replaced while the writer holds its first bytes; the body is then cut.
    let cut = FaultProxy::start(&server().endpoint, vec![Rule::new(Fault::Truncate, "GET", When::First(1))]);
    let (store, direct) = proxied_tenant(&cut.endpoint, "streams-resume", |b| b.max_retries(3));
    let replaced = blob(6 * MIB, 77);
    let mut out = Replacing { replace: Some(Box::pin(direct.put("k", &replaced))), out: Vec::new() };
    let error = store.get_stream("k", .., &mut out).await.unwrap_err();
    assert!(error.message().contains("the object changed while it was read"), "{error}");
    assert!(error.message().contains("cannot start over"), "{error}");
    assert!(out.out.len() < data.len() && data.starts_with(&out.out), "only the first object's bytes, {} of them", out.out.len());
    // A get into memory starts over, and reads the new object whole.
    assert!(direct.get("k", ..).await.unwrap().unwrap() == replaced);
}

/// A writer that, before it takes its first bytes, waits for `replace` (a put of the same key).
pub(crate) struct Replacing<'a> {
    pub(crate) replace: Option<Pin<Box<dyn Future<Output = Result<(), coffer_host::StoreError>> + Send + 'a>>>,
    pub(crate) out: Vec<u8>,
}

impl tokio::io::AsyncWrite for Replacing<'_> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        if let Some(replace) = self.replace.as_mut() {
            match replace.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(done) => done.expect("the object is replaced"),
            }
            self.replace = None;
        }
        self.out.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A writer that fails after `room` bytes.
struct FullDisk {
    room: usize,
}

impl tokio::io::AsyncWrite for FullDisk {
    fn poll_write(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        if self.room == 0 {
            return Poll::Ready(Err(std::io::Error::other("no space left on device")));
        }
        let n = buf.len().min(self.room);
        self.room -= n;
        Poll::Ready(Ok(n))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_that_fails_ends_the_get_with_its_error() {
    let proxy = FaultProxy::start(&server().endpoint, vec![]);
    let (store, _) = proxied_tenant(&proxy.endpoint, "streams-full", small_parts);
    store.put("k", &blob(6 * MIB, 74)).await.unwrap();
    let error = store.get_stream("k", .., &mut FullDisk { room: MIB }).await.unwrap_err();
    assert!(error.message().contains("writing the output: no space left on device"), "{error}");
    // The tenant goes on serving.
    assert_eq!(store.get("k", 0..3).await.unwrap().map(|b| b.len()), Some(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_never_enter_the_plugins_memory() {
    let (store, _) = tenant("streams-memory");
    let data = blob(50 * MIB, 75);
    store.put("fifty", &data).await.unwrap();
    assert!(store.get("fifty", ..).await.unwrap().unwrap() == data);
    let mut out = Vec::new();
    store.get_stream("fifty", .., &mut out).await.unwrap();
    assert!(out == data);
    store.put("small", b"hello").await.unwrap();
    let memory = store.stats().largest_plugin_memory;
    note(
        "streams",
        &format!("figure: plugin memory: largest instance after a 50 MiB put, get and get_stream: {:.2} MiB", memory as f64 / MIB as f64),
    );
    assert!(memory > 0 && memory <= 4 * MIB as u64, "the plugin grew to {memory} bytes");
}
