//! The store's calls. Each blocks the calling thread until it is done (within the tenant's
//! `timeout`, retries included) and may be made from any thread, at once from several.

use std::ffi::{CString, c_char, c_void};

use coffer_host::{Listing, StoreError};

use crate::error::{coffer_error, coffer_error_kind, guard};
use crate::handles::{coffer_tenant, text};
use crate::streams::{Buffer, CallbackReader, CallbackWriter, Fd, coffer_read_fn, coffer_write_fn};

/// As a get's `end`: read to the end of the object.
pub const COFFER_TO_END: u64 = u64::MAX;
/// As a put's `size` from a file descriptor: the bytes from its offset to its end (a regular file).
pub const COFFER_SIZE_OF_FILE: u64 = u64::MAX;

/// What `coffer_stat` finds.
#[repr(C)]
pub struct coffer_info {
    pub size: u64,
    /// The ETag, without quotes, NUL-terminated.
    pub etag: [c_char; 128],
}

/// One object of a listing. Its strings are valid until the next `coffer_list_next` or
/// `coffer_list_free` on the same listing.
#[repr(C)]
pub struct coffer_object {
    pub key: *const c_char,
    pub size: u64,
    pub etag: *const c_char,
}

/// The objects under a prefix, a page fetched at a time.
pub struct coffer_list {
    listing: Listing,
    page: std::vec::IntoIter<coffer_host::Listed>,
    current: (CString, CString),
    tenant: *const coffer_tenant,
}

fn tenant_ref<'a>(tenant: *const coffer_tenant) -> Result<&'a coffer_tenant, coffer_error> {
    let tenant = unsafe { tenant.as_ref() }.ok_or_else(|| coffer_error::new(coffer_error_kind::COFFER_OTHER, "tenant is NULL"))?;
    tenant.host.check_process()?;
    Ok(tenant)
}

/// Runs a call of the tenant's on the calling thread.
fn block<T>(tenant: &coffer_tenant, call: impl std::future::Future<Output = Result<T, StoreError>>) -> Result<T, coffer_error> {
    tenant.host.runtime.block_on(call).map_err(coffer_error::from)
}

fn range(start: u64, end: u64) -> (std::ops::Bound<u64>, std::ops::Bound<u64>) {
    use std::ops::Bound;
    (Bound::Included(start), if end == COFFER_TO_END { Bound::Unbounded } else { Bound::Excluded(end) })
}

/// Stores `len` bytes at `data` under `key`; when it returns 0 the object is readable. -1 on failure.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn coffer_put(
    tenant: *const coffer_tenant,
    key: *const c_char,
    data: *const u8,
    len: usize,
    err: *mut *mut coffer_error,
) -> i32 {
    guard(err, -1, || {
        let (tenant, key) = (tenant_ref(tenant)?, text(key, "key")?);
        let data = if len == 0 { &[][..] } else { unsafe { std::slice::from_raw_parts(data, len) } };
        block(tenant, tenant.tenant.put(key, data)).map(|()| 0)
    })
}

/// Stores `size` bytes that `read` gives (called on this thread, as the upload needs them) under
/// `key`. A callback that fails, or ends before `size` bytes, fails the put and stores nothing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn coffer_put_stream(
    tenant: *const coffer_tenant,
    key: *const c_char,
    size: u64,
    read: coffer_read_fn,
    ctx: *mut c_void,
    err: *mut *mut coffer_error,
) -> i32 {
    guard(err, -1, || {
        let (tenant, key) = (tenant_ref(tenant)?, text(key, "key")?);
        let read = read.ok_or_else(|| coffer_error::new(coffer_error_kind::COFFER_OTHER, "read is NULL"))?;
        block(tenant, tenant.tenant.put_stream(key, CallbackReader { read, ctx }, size)).map(|()| 0)
    })
}

/// Stores `size` bytes read from `fd` (from its offset; `COFFER_SIZE_OF_FILE`: to the end of a
/// regular file) under `key`. The descriptor stays open.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn coffer_put_fd(
    tenant: *const coffer_tenant,
    key: *const c_char,
    fd: i32,
    size: u64,
    err: *mut *mut coffer_error,
) -> i32 {
    guard(err, -1, || {
        let (tenant, key) = (tenant_ref(tenant)?, text(key, "key")?);
        let mut file = unsafe { Fd::new(fd) };
        let size = match size {
            COFFER_SIZE_OF_FILE => file.remaining().map_err(|e| io_error("the size of fd", e))?,
            size => size,
        };
        block(tenant, tenant.tenant.put_stream(key, file, size)).map(|()| 0)
    })
}

fn io_error(what: &str, e: std::io::Error) -> coffer_error {
    coffer_error::new(coffer_error_kind::COFFER_OTHER, &format!("{what}: {e}"))
}

/// Reads the bytes [start, end) of `key` (`end` = `COFFER_TO_END`: to its end) into a new
/// buffer: `*data` and `*len`, freed with `coffer_buffer_free`. 1 when found, 0 when there is no
/// such object (`*data` NULL), -1 on failure.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn coffer_get(
    tenant: *const coffer_tenant,
    key: *const c_char,
    start: u64,
    end: u64,
    data: *mut *mut u8,
    len: *mut usize,
    err: *mut *mut coffer_error,
) -> i32 {
    guard(err, -1, || {
        let (tenant, key) = (tenant_ref(tenant)?, text(key, "key")?);
        if data.is_null() || len.is_null() {
            return Err(coffer_error::new(coffer_error_kind::COFFER_OTHER, "data or len is NULL"));
        }
        unsafe { (*data, *len) = (std::ptr::null_mut(), 0) };
        let Some(bytes) = block(tenant, tenant.tenant.get(key, range(start, end)))? else { return Ok(0) };
        let boxed = bytes.into_boxed_slice();
        unsafe { *len = boxed.len() };
        unsafe { *data = Box::into_raw(boxed) as *mut u8 };
        Ok(1)
    })
}

/// Frees a buffer `coffer_get` returned, with the length it gave; NULL is ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn coffer_buffer_free(data: *mut u8, len: usize) {
    if !data.is_null() {
        drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(data, len)) });
    }
}

/// Reads the bytes [start, end) of `key` into the caller's `buf` of `cap` bytes; `*len` says
/// how many. 1 when found, 0 when not, -1 on failure (also when they do not fit).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn coffer_get_into(
    tenant: *const coffer_tenant,
    key: *const c_char,
    start: u64,
    end: u64,
    buf: *mut u8,
    cap: usize,
    len: *mut usize,
    err: *mut *mut coffer_error,
) -> i32 {
    guard(err, -1, || {
        let (tenant, key) = (tenant_ref(tenant)?, text(key, "key")?);
        let room = if cap == 0 { &mut [][..] } else { unsafe { std::slice::from_raw_parts_mut(buf, cap) } };
        let mut buffer = Buffer { room, filled: 0 };
        let found = block(tenant, tenant.tenant.get_stream(key, range(start, end), &mut buffer))?;
        if !len.is_null() {
            unsafe { *len = buffer.filled };
        }
        Ok(found.is_some() as i32)
    })
}

/// Hands the bytes [start, end) of `key` to `write` as they arrive (on this thread), in bounded
/// memory. The check against the object's digest concludes at the end: on -1, discard what
/// `write` took. 1 when found, 0 when not (nothing written), -1 on failure.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn coffer_get_stream(
    tenant: *const coffer_tenant,
    key: *const c_char,
    start: u64,
    end: u64,
    write: coffer_write_fn,
    ctx: *mut c_void,
    err: *mut *mut coffer_error,
) -> i32 {
    guard(err, -1, || {
        let (tenant, key) = (tenant_ref(tenant)?, text(key, "key")?);
        let write = write.ok_or_else(|| coffer_error::new(coffer_error_kind::COFFER_OTHER, "write is NULL"))?;
        let mut writer = CallbackWriter { write, ctx };
        Ok(block(tenant, tenant.tenant.get_stream(key, range(start, end), &mut writer))?.is_some() as i32)
    })
}

/// Writes the bytes [start, end) of `key` to `fd` where it stands, as for `coffer_get_stream`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn coffer_get_fd(
    tenant: *const coffer_tenant,
    key: *const c_char,
    start: u64,
    end: u64,
    fd: i32,
    err: *mut *mut coffer_error,
) -> i32 {
    guard(err, -1, || {
        let (tenant, key) = (tenant_ref(tenant)?, text(key, "key")?);
        let mut file = unsafe { Fd::new(fd) };
        Ok(block(tenant, tenant.tenant.get_stream(key, range(start, end), &mut file))?.is_some() as i32)
    })
}

/// Size and ETag of `key` into `*info`: 1 when found, 0 when not, -1 on failure.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn coffer_stat(
    tenant: *const coffer_tenant,
    key: *const c_char,
    info: *mut coffer_info,
    err: *mut *mut coffer_error,
) -> i32 {
    guard(err, -1, || {
        let (tenant, key) = (tenant_ref(tenant)?, text(key, "key")?);
        let info = unsafe { info.as_mut() }.ok_or_else(|| coffer_error::new(coffer_error_kind::COFFER_OTHER, "info is NULL"))?;
        let Some(found) = block(tenant, tenant.tenant.stat(key))? else { return Ok(0) };
        info.size = found.size;
        info.etag = [0; 128];
        for (to, from) in info.etag.iter_mut().zip(found.etag.bytes().take(127)) {
            *to = from as c_char;
        }
        Ok(1)
    })
}

/// Deletes `key`: 1 when it existed, 0 when it did not (not an error), -1 on failure.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn coffer_delete(tenant: *const coffer_tenant, key: *const c_char, err: *mut *mut coffer_error) -> i32 {
    guard(err, -1, || {
        let (tenant, key) = (tenant_ref(tenant)?, text(key, "key")?);
        block(tenant, tenant.tenant.delete(key)).map(i32::from)
    })
}

/// Copies `from` to `to` within the tenant through a temporary file: the source is read and
/// checked whole before the put starts, so a damaged source is never copied. 1 when copied, 0
/// when `from` does not exist, -1 on failure (`to` is then not written).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn coffer_copy(
    tenant: *const coffer_tenant,
    from: *const c_char,
    to: *const c_char,
    err: *mut *mut coffer_error,
) -> i32 {
    guard(err, -1, || {
        let (tenant, from, to) = (tenant_ref(tenant)?, text(from, "from")?, text(to, "to")?);
        let spool = tempfile::tempfile().map_err(|e| io_error("a temporary file for the copy", e))?;
        let mut file = Fd::owned(spool);
        let Some(size) = block(tenant, tenant.tenant.get_stream(from, .., &mut file))? else { return Ok(0) };
        file.rewind().map_err(|e| io_error("rewinding the copy's temporary file", e))?;
        block(tenant, tenant.tenant.put_stream(to, file, size)).map(|()| 1)
    })
}

/// A listing of the objects whose keys start with `prefix` (without the tenant's key prefix).
/// Free it with `coffer_list_free`; it must not outlive its tenant.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn coffer_list_new(tenant: *const coffer_tenant, prefix: *const c_char, err: *mut *mut coffer_error) -> *mut coffer_list {
    guard(err, std::ptr::null_mut(), || {
        let t = tenant_ref(tenant)?;
        let prefix = if prefix.is_null() { "" } else { text(prefix, "prefix")? };
        let listing = t.tenant.list_all(prefix);
        let current = (CString::default(), CString::default());
        Ok(Box::into_raw(Box::new(coffer_list { listing, page: Vec::new().into_iter(), current, tenant })))
    })
}

/// The next object into `*object`: 1, or 0 after the last, or -1 on failure.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn coffer_list_next(list: *mut coffer_list, object: *mut coffer_object, err: *mut *mut coffer_error) -> i32 {
    guard(err, -1, || {
        let list = unsafe { list.as_mut() }.ok_or_else(|| coffer_error::new(coffer_error_kind::COFFER_OTHER, "list is NULL"))?;
        let object = unsafe { object.as_mut() }.ok_or_else(|| coffer_error::new(coffer_error_kind::COFFER_OTHER, "object is NULL"))?;
        let tenant = tenant_ref(list.tenant)?;
        loop {
            if let Some(listed) = list.page.next() {
                list.current = (crate::error::c_string(&listed.key), crate::error::c_string(&listed.etag));
                *object = coffer_object { key: list.current.0.as_ptr(), size: listed.size, etag: list.current.1.as_ptr() };
                return Ok(1);
            }
            match tenant.host.runtime.block_on(list.listing.next_page()) {
                None => return Ok(0),
                Some(page) => list.page = page?.into_iter(),
            }
        }
    })
}

/// Frees a listing; NULL is ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn coffer_list_free(list: *mut coffer_list) {
    if !list.is_null() {
        drop(unsafe { Box::from_raw(list) });
    }
}
