//! The three handles: `coffer` (the host: engine, plugin, connection pools and the runtime the
//! calls run on), `coffer_settings` (one tenant's key/value pairs, before they are checked) and
//! `coffer_tenant` (a tenant's store, its own sandbox).

use std::ffi::{CStr, c_char};
use std::path::PathBuf;
use std::sync::Arc;

use coffer_host::config::Config;
use coffer_host::{Allocation, Coffer, HostOptions, Tenant};

use crate::error::{coffer_error, coffer_error_kind, guard};

/// Options for `coffer_new`; a NULL pointer means all defaults. Zero the struct, then set
/// what you need.
#[repr(C)]
pub struct coffer_options {
    /// Where precompiled plugins are kept, so that a new process does not compile the plugin
    /// (about 0.6 ms to load instead of 90 ms to compile). NULL: `$XDG_CACHE_HOME/coffer` or
    /// `~/.cache/coffer`.
    pub cache_dir: *const c_char,
    /// Run in a bounded address space (instances allocated on demand, and glibc's malloc held
    /// to two arenas), for processes with an address-space limit such as Dovecot's `vsz_limit`.
    /// The default pool reserves about 8 TiB of address space and cannot start under such a
    /// limit.
    pub bounded_memory: bool,
    /// Threads that carry calls' network traffic; 0 means 2.
    pub threads: u32,
}

/// The host. Make one per process, after any fork; share it between threads.
pub struct coffer {
    pub(crate) host: Coffer,
    pub(crate) runtime: tokio::runtime::Runtime,
    pid: u32,
}

/// One tenant's settings, as key/value pairs, checked when a tenant is made of them.
pub struct coffer_settings {
    name: String,
    pairs: Vec<(String, String)>,
}

/// A tenant's store: its own sandbox, settings, secrets and limits.
pub struct coffer_tenant {
    pub(crate) host: Arc<coffer>,
    pub(crate) tenant: Tenant,
}

impl coffer {
    /// Fails when the handle was made in another process (before a fork): its threads are gone.
    pub(crate) fn check_process(&self) -> Result<(), coffer_error> {
        match std::process::id() == self.pid {
            true => Ok(()),
            false => Err(coffer_error::new(
                coffer_error_kind::COFFER_OTHER,
                "this coffer handle was made in another process (before a fork): make a new one after the fork",
            )),
        }
    }
}

/// The text of a C string argument, or an error naming the argument.
pub(crate) fn text<'a>(arg: *const c_char, name: &str) -> Result<&'a str, coffer_error> {
    if arg.is_null() {
        return Err(coffer_error::new(coffer_error_kind::COFFER_OTHER, &format!("{name} is NULL")));
    }
    unsafe { CStr::from_ptr(arg) }
        .to_str()
        .map_err(|_| coffer_error::new(coffer_error_kind::COFFER_INVALID_KEY, &format!("{name} is not UTF-8")))
}

/// glibc gives each thread that allocates a malloc arena of its own, each reserving 64 MiB of
/// address space: under a 256 MiB limit, the host's few threads would take it all. Two arenas
/// serve them (the caller's threads share them too); elsewhere than glibc, nothing to do.
fn cap_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            fn mallopt(param: std::ffi::c_int, value: std::ffi::c_int) -> std::ffi::c_int;
        }
        const M_ARENA_MAX: std::ffi::c_int = -8;
        unsafe { mallopt(M_ARENA_MAX, 2) };
    }
}

fn config_error(error: impl std::fmt::Display) -> coffer_error {
    coffer_error::new(coffer_error_kind::COFFER_INVALID_CONFIG, &error.to_string())
}

/// Makes the host: compiles the plugin, or loads it precompiled from the cache. NULL on failure.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn coffer_new(options: *const coffer_options, err: *mut *mut coffer_error) -> *mut coffer {
    guard(err, std::ptr::null_mut(), || {
        let mut host = HostOptions::default();
        let mut threads = 2;
        if let Some(options) = unsafe { options.as_ref() } {
            if !options.cache_dir.is_null() {
                host.cache_dir = Some(PathBuf::from(text(options.cache_dir, "cache_dir")?));
            }
            if options.bounded_memory {
                host.allocation = Allocation::OnDemand;
                cap_malloc_arenas();
            }
            if options.threads > 0 {
                threads = options.threads as usize;
            }
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .max_blocking_threads(threads)
            .thread_name("coffer")
            .enable_all()
            .build()
            .map_err(|e| coffer_error::new(coffer_error_kind::COFFER_OTHER, &format!("starting the runtime: {e}")))?;
        let made = {
            let _inside = runtime.enter();
            Coffer::with_options(host)
        };
        let host = made.map_err(|e| coffer_error::new(coffer_error_kind::COFFER_SANDBOX, &e.to_string()))?;
        Ok(Arc::into_raw(Arc::new(coffer { host, runtime, pid: std::process::id() })) as *mut coffer)
    })
}

/// Lets go of the host. Tenants made from it keep it alive until they are freed too. NULL is
/// ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn coffer_free(host: *mut coffer) {
    if !host.is_null() {
        release(unsafe { Arc::from_raw(host as *const coffer) });
    }
}

/// Drops a reference to the host; in the process that made it, its runtime shuts down in the
/// background when this was the last one. In a forked child, it is forgotten: its threads are
/// not there to stop.
fn release(host: Arc<coffer>) {
    if host.check_process().is_err() {
        std::mem::forget(host);
        return;
    }
    if let Ok(host) = Arc::try_unwrap(host) {
        let coffer { host: inner, runtime, .. } = host;
        drop(inner);
        runtime.shutdown_background();
    }
}

/// New, empty settings for the tenant `name` (what logs and metrics call it).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn coffer_settings_new(name: *const c_char) -> *mut coffer_settings {
    guard(std::ptr::null_mut(), std::ptr::null_mut(), || {
        let name = text(name, "name")?.to_string();
        Ok(Box::into_raw(Box::new(coffer_settings { name, pairs: Vec::new() })))
    })
}

/// Sets one setting by its config-file name (`bucket`, `region`, `endpoint`, `accessKey`,
/// `secretKey`, `keyPrefix`, `timeout`, `maxRetries`, `verifyAfterWrite`...); a dot nests
/// (`secretKey.env`, `secretKey.file`, `limits.memory`, `encryption.key`). Values are strings;
/// they are checked when a tenant is made. 0, or -1 on a NULL or non-UTF-8 argument.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn coffer_settings_set(
    settings: *mut coffer_settings,
    key: *const c_char,
    value: *const c_char,
    err: *mut *mut coffer_error,
) -> i32 {
    guard(err, -1, || {
        let settings = unsafe { settings.as_mut() }.ok_or_else(|| config_error("settings is NULL"))?;
        let (key, value) = (text(key, "key")?, text(value, "value")?);
        settings.pairs.retain(|(k, _)| k != key);
        settings.pairs.push((key.to_string(), value.to_string()));
        Ok(0)
    })
}

/// Frees settings; NULL is ignored. Their values (secrets among them) are overwritten first.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn coffer_settings_free(settings: *mut coffer_settings) {
    if !settings.is_null() {
        let mut settings = unsafe { Box::from_raw(settings) };
        for (_, value) in &mut settings.pairs {
            // SAFETY: zero bytes are valid UTF-8.
            unsafe { value.as_bytes_mut().fill(0) };
        }
    }
}

/// A tenant of these settings, checked as the config file's are (the error names the field).
/// The settings stay the caller's. NULL on failure.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn coffer_tenant_new(
    host: *mut coffer,
    settings: *const coffer_settings,
    err: *mut *mut coffer_error,
) -> *mut coffer_tenant {
    guard(err, std::ptr::null_mut(), || {
        let settings = unsafe { settings.as_ref() }.ok_or_else(|| config_error("settings is NULL"))?;
        let pairs = settings.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        let checked = Config::tenant_from_pairs(&settings.name, pairs).map_err(config_error)?;
        tenant_of(host, checked)
    })
}

/// The tenant `name` of the config file at `path` (NULL `name`: the file's only tenant). NULL on
/// failure, with the error naming the file, the tenant and the field.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn coffer_tenant_from_file(
    host: *mut coffer,
    path: *const c_char,
    name: *const c_char,
    err: *mut *mut coffer_error,
) -> *mut coffer_tenant {
    guard(err, std::ptr::null_mut(), || {
        let path = text(path, "path")?;
        let name = if name.is_null() { None } else { Some(text(name, "name")?) };
        let config = Config::load(std::path::Path::new(path)).map_err(config_error)?;
        tenant_of(host, config.tenant(name).map_err(config_error)?)
    })
}

/// The tenant `template` of the config file at `path`, its key prefix followed by `suffix`
/// (a mail domain's `example.org/`, say): one entry of the file serving many tenants, each its
/// own sandbox, named `TEMPLATE:SUFFIX`. NULL on failure.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn coffer_tenant_from_template(
    host: *mut coffer,
    path: *const c_char,
    template: *const c_char,
    suffix: *const c_char,
    err: *mut *mut coffer_error,
) -> *mut coffer_tenant {
    guard(err, std::ptr::null_mut(), || {
        let (path, template, suffix) = (text(path, "path")?, text(template, "template")?, text(suffix, "suffix")?);
        let config = Config::load(std::path::Path::new(path)).map_err(config_error)?;
        tenant_of(host, config.tenant_from_template(template, suffix).map_err(config_error)?)
    })
}

fn tenant_of(host: *mut coffer, settings: coffer_host::TenantSettings) -> Result<*mut coffer_tenant, coffer_error> {
    let host = host as *const coffer;
    if host.is_null() {
        return Err(config_error("the coffer handle is NULL"));
    }
    // Another reference to the host, for the tenant: the host lives while any tenant does.
    let host = unsafe {
        Arc::increment_strong_count(host);
        Arc::from_raw(host)
    };
    host.check_process()?;
    let tenant = {
        let _inside = host.runtime.enter();
        host.host.tenant(settings)
    };
    Ok(Box::into_raw(Box::new(coffer_tenant { host, tenant })))
}

/// Frees a tenant; NULL is ignored. Calls in flight on other threads must have returned.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn coffer_tenant_free(tenant: *mut coffer_tenant) {
    if !tenant.is_null() {
        let coffer_tenant { host, tenant } = *unsafe { Box::from_raw(tenant) };
        drop(tenant);
        release(host);
    }
}
