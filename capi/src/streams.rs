//! The caller's side of a streamed put or get: a read or write callback, a file descriptor, or
//! a buffer, as tokio's `AsyncRead`/`AsyncWrite`. Calls run their future on the calling thread
//! (`block_on`), so callbacks are called on that thread, during the call, never later.

use std::ffi::c_void;
use std::io::{Read, Write};
use std::mem::ManuallyDrop;
use std::os::fd::FromRawFd;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Reads up to `cap` bytes of a put's body into `buf`: how many (0 only at the end), or -1 to
/// fail the put (nothing is stored then).
pub type coffer_read_fn = Option<unsafe extern "C" fn(ctx: *mut c_void, buf: *mut u8, cap: usize) -> isize>;

/// Takes the next `len` bytes of a get: 0, or anything else to stop the get (it fails).
pub type coffer_write_fn = Option<unsafe extern "C" fn(ctx: *mut c_void, data: *const u8, len: usize) -> i32>;

/// A read callback as an `AsyncRead`.
pub(crate) struct CallbackReader {
    pub(crate) read: unsafe extern "C" fn(*mut c_void, *mut u8, usize) -> isize,
    pub(crate) ctx: *mut c_void,
}

impl AsyncRead for CallbackReader {
    fn poll_read(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let room = buf.initialize_unfilled();
        let n = unsafe { (self.read)(self.ctx, room.as_mut_ptr(), room.len()) };
        if n < 0 || n as usize > room.len() {
            return Poll::Ready(Err(std::io::Error::other("the read callback failed")));
        }
        buf.advance(n as usize);
        Poll::Ready(Ok(()))
    }
}

/// A write callback as an `AsyncWrite`.
pub(crate) struct CallbackWriter {
    pub(crate) write: unsafe extern "C" fn(*mut c_void, *const u8, usize) -> i32,
    pub(crate) ctx: *mut c_void,
}

impl AsyncWrite for CallbackWriter {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        match unsafe { (self.write)(self.ctx, data.as_ptr(), data.len()) } {
            0 => Poll::Ready(Ok(data.len())),
            _ => Poll::Ready(Err(std::io::Error::other("the write callback stopped the get"))),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A file read or written where it stands, on the calling thread: the caller's descriptor
/// (never closed here), or a file of the call's own (closed when dropped).
pub(crate) struct Fd(ManuallyDrop<std::fs::File>, bool);

impl Fd {
    /// # Safety
    /// `fd` is open for the call's duration.
    pub(crate) unsafe fn new(fd: i32) -> Fd {
        Fd(ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(fd) }), false)
    }

    /// A file of the call's own.
    pub(crate) fn owned(file: std::fs::File) -> Fd {
        Fd(ManuallyDrop::new(file), true)
    }

    pub(crate) fn rewind(&mut self) -> std::io::Result<()> {
        use std::io::Seek;
        self.0.rewind()
    }

    /// The bytes from the descriptor's offset to its end, for a regular file.
    pub(crate) fn remaining(&mut self) -> std::io::Result<u64> {
        use std::io::Seek;
        let len = self.0.metadata()?.len();
        let at = self.0.stream_position()?;
        Ok(len.saturating_sub(at))
    }
}

impl Drop for Fd {
    fn drop(&mut self) {
        if self.1 {
            // SAFETY: an owned file is dropped once, here.
            unsafe { ManuallyDrop::drop(&mut self.0) };
        }
    }
}

impl AsyncRead for Fd {
    fn poll_read(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let room = buf.initialize_unfilled();
        let n = loop {
            match self.0.read(room) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                other => break other?,
            }
        };
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Fd {
    fn poll_write(mut self: Pin<&mut Self>, _: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        Poll::Ready(self.0.write_all(data).map(|()| data.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// The caller's buffer, filled from its start; a get that does not fit fails.
pub(crate) struct Buffer<'b> {
    pub(crate) room: &'b mut [u8],
    pub(crate) filled: usize,
}

impl AsyncWrite for Buffer<'_> {
    fn poll_write(mut self: Pin<&mut Self>, _: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        let at = self.filled;
        if data.len() > self.room.len() - at {
            let cap = self.room.len();
            return Poll::Ready(Err(std::io::Error::other(format!("the object does not fit the buffer of {cap} bytes"))));
        }
        self.room[at..at + data.len()].copy_from_slice(data);
        self.filled += data.len();
        Poll::Ready(Ok(data.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
