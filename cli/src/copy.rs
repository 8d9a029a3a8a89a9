//! `coffer cp --from A --to B [PREFIX]`: every object of one tenant copied to another, possibly
//! on another provider, streamed from one to the other without a local detour.
//!
//! The two listings are walked side by side (S3 lists keys in byte order, and the tenants' key
//! prefixes are stripped from both), so the objects the destination already holds with the
//! same size and ETag are skipped without a request of their own. A run that was stopped
//! resumes where it was: what it copied is skipped.
//!
//! `coffer rewrap` (rewrap.rs) is the same streamed copy from a tenant to itself; tally.rs
//! reports what a run did.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use coffer_host::{Listed, Listing, StoreError, Tenant};
use tokio::io::{AsyncWrite, AsyncWriteExt, DuplexStream};
use tokio::task::JoinSet;

use crate::failure::Failure;
use crate::tally::{Done, Outcome, Tally, joined, progress_bar, settle, summary};

/// Bytes buffered between an object's read and its write.
const PIPE: usize = 256 << 10;
/// Copies every object under `prefix` from `from` to `to`, `jobs` at a time. With `verbose`,
/// a line for each object copied or skipped on standard output. Ends with a summary on
/// standard error; fails (exit 1) when any object failed, after trying every one.
pub async fn cp(from: &Tenant, to: &Tenant, prefix: &str, jobs: usize, verbose: bool, size_only: bool) -> Result<(), Failure> {
    if !size_only && (from.settings().encryption().is_some() || to.settings().encryption().is_some()) {
        eprintln!(
            "coffer: cp: a tenant is encrypted, so ETags are not the same as the other's and every object is copied again on every run; --size-only skips objects of the same size (safe for Stalwart's blobs, named by their content's hash)"
        );
    }
    let bar = progress_bar();
    let mut tally = Tally::default();
    let mut source = Cursor::new(from.list_all(prefix));
    let mut destination = Cursor::new(to.list_all(prefix));
    let mut copies: JoinSet<Outcome> = JoinSet::new();
    let (from, to) = (Arc::new(from.clone()), Arc::new(to.clone()));
    let listing_failed = loop {
        let object = match source.next().await {
            Ok(Some(object)) => object,
            Ok(None) => break None,
            Err(e) => break Some(format!("listing the source: {e}")),
        };
        let present = match destination.find(&object.key).await {
            Ok(present) => present,
            Err(e) => break Some(format!("listing the destination: {e}")),
        };
        let same_etag = |there: &Listed| etag(&there.etag) == etag(&object.etag);
        let there = match present {
            Some(there) if there.size != object.size => None,
            Some(there) if size_only || (!etag(&there.etag).is_empty() && same_etag(&there)) => {
                settle(&mut tally, &bar, verbose, object, Ok(Done::Skipped));
                continue;
            }
            // A server that lists no ETags: a HEAD on each side decides.
            Some(there) if etag(&there.etag).is_empty() || etag(&object.etag).is_empty() => Some(there),
            _ => None,
        };
        while copies.len() >= jobs.max(1) {
            let (object, done) = joined(copies.join_next().await);
            settle(&mut tally, &bar, verbose, object, done);
        }
        let (from, to) = (from.clone(), to.clone());
        copies.spawn(async move {
            let done = copy_unless_there(&from, &to, &object, there.is_some()).await;
            (object, done)
        });
    };
    while !copies.is_empty() {
        let (object, done) = joined(copies.join_next().await);
        settle(&mut tally, &bar, verbose, object, done);
    }
    bar.finish_and_clear();
    eprint!("{}", summary(&tally));
    match (listing_failed, tally.failures.len()) {
        (Some(cause), _) => Err(Failure::Other(format!("cp stopped: {cause}"))),
        (None, 0) => Ok(()),
        (None, failed) => Err(Failure::Other(format!("cp: {failed} objects failed (see above)"))),
    }
}

/// An ETag as compared: without quotes, in lower case; empty where the server lists none.
/// An ETag is the MD5 of the bytes for an object put whole, and depends on the part size for
/// one put in parts; so an object stored in parts under another part size is copied again.
fn etag(listed: &str) -> String {
    listed.trim_matches('"').to_ascii_lowercase()
}

/// Copies the object, unless `maybe_there`, the destination has one of the same size, and a
/// HEAD on each side (for a server that lists no ETags, as s3s-fs) finds the same ETag.
async fn copy_unless_there(from: &Tenant, to: &Tenant, object: &Listed, maybe_there: bool) -> Result<Done, String> {
    if maybe_there {
        let stat = async |tenant: &Tenant, side: &str| match tenant.stat(&object.key).await {
            Ok(info) => Ok(info.map(|i| (i.size, etag(&i.etag)))),
            Err(e) => Err(format!("checking the {side}: {e}")),
        };
        let (here, there) = (stat(from, "source").await?, stat(to, "destination").await?);
        if here.is_some() && here == there && here.as_ref().is_some_and(|(_, e)| !e.is_empty()) {
            return Ok(Done::Skipped);
        }
    }
    copy_one(from, to, object).await.map(|()| Done::Copied)
}

/// Copies one object: its bytes read from `from` and written to `to` as they come, in bounded
/// memory. The write cannot complete before the read has checked every byte against the
/// source's digest (the last bytes are held back until then), and the destination verifies
/// what it stored (verify-after-write, or a stat of its size when that is off).
pub(crate) async fn copy_one(from: &Tenant, to: &Tenant, object: &Listed) -> Result<(), String> {
    let key = object.key.as_str();
    let size = object.size;
    let (inner, reader) = tokio::io::duplex(PIPE);
    let mut pipe = HoldLast { inner, held: Vec::new(), taken: 0, size };
    let read = async move {
        let found = from.get_stream(key, .., &mut pipe).await;
        match found {
            Ok(Some(read)) if read == size => pipe.release().await.map_err(|e| format!("handing on the last bytes: {e}")),
            Ok(Some(read)) => Err(format!("the source changed during the copy: {read} bytes read, {size} listed")),
            Ok(None) => Err("the source object was deleted during the copy".to_string()),
            Err(e) => Err(format!("reading the source: {}", e)),
        }
        // On an error the pipe is dropped here unreleased: the write ends short and fails.
    };
    let write = async {
        if size == 0 {
            // Nothing to hold back: the read must succeed first.
            return Ok(());
        }
        to.put_stream(key, reader, size).await
    };
    let (read, write) = tokio::join!(read, write);
    read?;
    if size == 0 {
        to.put(key, b"").await.map_err(|e| format!("writing the destination: {}", e))?;
    } else {
        write.map_err(|e| format!("writing the destination: {}", e))?;
    }
    if !to.settings().verify_after_write() {
        match to.stat(key).await {
            Ok(Some(info)) if info.size == size => {}
            Ok(Some(info)) => return Err(format!("the destination holds {} bytes, not {size}", info.size)),
            Ok(None) => return Err("the destination does not have the object after its put".into()),
            Err(e) => return Err(format!("checking the destination: {}", e)),
        }
    }
    Ok(())
}

/// A writer into the pipe that holds back the last bytes written until [`HoldLast::release`],
/// and refuses more than `size` bytes: the destination's put, which needs `size` bytes, cannot
/// end before the source's read has ended well.
struct HoldLast {
    inner: DuplexStream,
    held: Vec<u8>,
    taken: u64,
    size: u64,
}

impl HoldLast {
    async fn release(mut self) -> io::Result<()> {
        self.inner.write_all(&self.held).await?;
        self.inner.shutdown().await
    }
}

impl AsyncWrite for HoldLast {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.taken + buf.len() as u64 > this.size {
            return Poll::Ready(Err(io::Error::other(format!("the source has more than the {} bytes listed", this.size))));
        }
        while !this.held.is_empty() {
            let n = ready!(Pin::new(&mut this.inner).poll_write(cx, &this.held))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            this.held.drain(..n);
        }
        this.held.extend_from_slice(buf);
        this.taken += buf.len() as u64;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Only release() ends the pipe, so that an early shutdown cannot hand on the last bytes.
        Poll::Ready(Ok(()))
    }
}

/// A listing read one object at a time.
pub(crate) struct Cursor {
    listing: Listing,
    page: VecDeque<Listed>,
}

impl Cursor {
    pub(crate) fn new(listing: Listing) -> Cursor {
        Cursor { listing, page: VecDeque::new() }
    }

    async fn fill(&mut self) -> Result<(), StoreError> {
        while self.page.is_empty() {
            match self.listing.next_page().await {
                Some(page) => self.page = page?.into(),
                None => return Ok(()),
            }
        }
        Ok(())
    }

    pub(crate) async fn next(&mut self) -> Result<Option<Listed>, StoreError> {
        self.fill().await?;
        Ok(self.page.pop_front())
    }

    /// The object `key` if the listing has it, passing over (and dropping) the keys before it.
    /// Keys must be asked for in increasing order.
    async fn find(&mut self, key: &str) -> Result<Option<Listed>, StoreError> {
        loop {
            self.fill().await?;
            let Some(first) = self.page.front() else { return Ok(None) };
            match first.key.as_str().cmp(key) {
                std::cmp::Ordering::Less => drop(self.page.pop_front()),
                std::cmp::Ordering::Equal => return Ok(self.page.pop_front()),
                std::cmp::Ordering::Greater => return Ok(None),
            }
        }
    }
}

#[cfg(test)]
mod tests;
