/* libcoffer: Coffer's blob store for mail servers, as a C library. docs/c-api.md.
 * Generated from capi/src by cbindgen (cargo test -p coffer-capi, with COFFER_BLESS=1 to
 * rewrite it); do not edit by hand. */

#ifndef COFFER_H
#define COFFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/**
 * As a get's `end`: read to the end of the object.
 */
#define COFFER_TO_END UINT64_MAX

/**
 * As a put's `size` from a file descriptor: the bytes from its offset to its end (a regular file).
 */
#define COFFER_SIZE_OF_FILE UINT64_MAX

/**
 * What kind of failure (Coffer's `ErrorKind`). Temporary ones (`COFFER_TIMEOUT`,
 * `COFFER_UNAVAILABLE`, `COFFER_LIMIT_EXCEEDED`) are worth trying again later.
 */
enum coffer_error_kind {
  COFFER_ACCESS_DENIED = 1,
  COFFER_INVALID_KEY = 2,
  COFFER_INVALID_CONFIG = 3,
  COFFER_TIMEOUT = 4,
  COFFER_UNAVAILABLE = 5,
  COFFER_INTEGRITY = 6,
  COFFER_LIMIT_EXCEEDED = 7,
  COFFER_SANDBOX = 8,
  COFFER_OTHER = 9,
};

/**
 * The host. Make one per process, after any fork; share it between threads.
 */
struct coffer;

/**
 * A failed call's error. Free it with `coffer_error_free`.
 */
struct coffer_error;

/**
 * The objects under a prefix, a page fetched at a time.
 */
struct coffer_list;

/**
 * One tenant's settings, as key/value pairs, checked when a tenant is made of them.
 */
struct coffer_settings;

/**
 * A tenant's store: its own sandbox, settings, secrets and limits.
 */
struct coffer_tenant;

/**
 * Reads up to `cap` bytes of a put's body into `buf`: how many (0 only at the end), or -1 to
 * fail the put (nothing is stored then).
 */
typedef ptrdiff_t (*coffer_read_fn)(void *ctx, uint8_t *buf, size_t cap);

/**
 * Takes the next `len` bytes of a get: 0, or anything else to stop the get (it fails).
 */
typedef int32_t (*coffer_write_fn)(void *ctx, const uint8_t *data, size_t len);

/**
 * What `coffer_stat` finds.
 */
struct coffer_info {
  uint64_t size;
  /**
   * The ETag, without quotes, NUL-terminated.
   */
  char etag[128];
};

/**
 * One object of a listing. Its strings are valid until the next `coffer_list_next` or
 * `coffer_list_free` on the same listing.
 */
struct coffer_object {
  const char *key;
  uint64_t size;
  const char *etag;
};

/**
 * Options for `coffer_new`; a NULL pointer means all defaults. Zero the struct, then set
 * what you need.
 */
struct coffer_options {
  /**
   * Where precompiled plugins are kept, so that a new process does not compile the plugin
   * (about 0.6 ms to load instead of 90 ms to compile). NULL: `$XDG_CACHE_HOME/coffer` or
   * `~/.cache/coffer`.
   */
  const char *cache_dir;
  /**
   * Run in a bounded address space (instances allocated on demand, and glibc's malloc held
   * to two arenas), for processes with an address-space limit such as Dovecot's `vsz_limit`.
   * The default pool reserves about 8 TiB of address space and cannot start under such a
   * limit.
   */
  bool bounded_memory;
  /**
   * Threads that carry calls' network traffic; 0 means 2.
   */
  uint32_t threads;
};

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

/**
 * Stores `len` bytes at `data` under `key`; when it returns 0 the object is readable. -1 on failure.
 */
int32_t coffer_put(const struct coffer_tenant *tenant,
                   const char *key,
                   const uint8_t *data,
                   size_t len,
                   struct coffer_error **err);

/**
 * Stores `size` bytes that `read` gives (called on this thread, as the upload needs them) under
 * `key`. A callback that fails, or ends before `size` bytes, fails the put and stores nothing.
 */
int32_t coffer_put_stream(const struct coffer_tenant *tenant,
                          const char *key,
                          uint64_t size,
                          coffer_read_fn read,
                          void *ctx,
                          struct coffer_error **err);

/**
 * Stores `size` bytes read from `fd` (from its offset; `COFFER_SIZE_OF_FILE`: to the end of a
 * regular file) under `key`. The descriptor stays open.
 */
int32_t coffer_put_fd(const struct coffer_tenant *tenant,
                      const char *key,
                      int32_t fd,
                      uint64_t size,
                      struct coffer_error **err);

/**
 * Reads the bytes [start, end) of `key` (`end` = `COFFER_TO_END`: to its end) into a new
 * buffer: `*data` and `*len`, freed with `coffer_buffer_free`. 1 when found, 0 when there is no
 * such object (`*data` NULL), -1 on failure.
 */
int32_t coffer_get(const struct coffer_tenant *tenant,
                   const char *key,
                   uint64_t start,
                   uint64_t end,
                   uint8_t **data,
                   size_t *len,
                   struct coffer_error **err);

/**
 * Frees a buffer `coffer_get` returned, with the length it gave; NULL is ignored.
 */
void coffer_buffer_free(uint8_t *data, size_t len);

/**
 * Reads the bytes [start, end) of `key` into the caller's `buf` of `cap` bytes; `*len` says
 * how many. 1 when found, 0 when not, -1 on failure (also when they do not fit).
 */
int32_t coffer_get_into(const struct coffer_tenant *tenant,
                        const char *key,
                        uint64_t start,
                        uint64_t end,
                        uint8_t *buf,
                        size_t cap,
                        size_t *len,
                        struct coffer_error **err);

/**
 * Hands the bytes [start, end) of `key` to `write` as they arrive (on this thread), in bounded
 * memory. The check against the object's digest concludes at the end: on -1, discard what
 * `write` took. 1 when found, 0 when not (nothing written), -1 on failure.
 */
int32_t coffer_get_stream(const struct coffer_tenant *tenant,
                          const char *key,
                          uint64_t start,
                          uint64_t end,
                          coffer_write_fn write,
                          void *ctx,
                          struct coffer_error **err);

/**
 * Writes the bytes [start, end) of `key` to `fd` where it stands, as for `coffer_get_stream`.
 */
int32_t coffer_get_fd(const struct coffer_tenant *tenant,
                      const char *key,
                      uint64_t start,
                      uint64_t end,
                      int32_t fd,
                      struct coffer_error **err);

/**
 * Size and ETag of `key` into `*info`: 1 when found, 0 when not, -1 on failure.
 */
int32_t coffer_stat(const struct coffer_tenant *tenant,
                    const char *key,
                    struct coffer_info *info,
                    struct coffer_error **err);

/**
 * Deletes `key`: 1 when it existed, 0 when it did not (not an error), -1 on failure.
 */
int32_t coffer_delete(const struct coffer_tenant *tenant,
                      const char *key,
                      struct coffer_error **err);

/**
 * Copies `from` to `to` within the tenant through a temporary file: the source is read and
 * checked whole before the put starts, so a damaged source is never copied. 1 when copied, 0
 * when `from` does not exist, -1 on failure (`to` is then not written).
 */
int32_t coffer_copy(const struct coffer_tenant *tenant,
                    const char *from,
                    const char *to,
                    struct coffer_error **err);

/**
 * A listing of the objects whose keys start with `prefix` (without the tenant's key prefix).
 * Free it with `coffer_list_free`; it must not outlive its tenant.
 */
struct coffer_list *coffer_list_new(const struct coffer_tenant *tenant,
                                    const char *prefix,
                                    struct coffer_error **err);

/**
 * The next object into `*object`: 1, or 0 after the last, or -1 on failure.
 */
int32_t coffer_list_next(struct coffer_list *list,
                         struct coffer_object *object,
                         struct coffer_error **err);

/**
 * Frees a listing; NULL is ignored.
 */
void coffer_list_free(struct coffer_list *list);

/**
 * The error's kind.
 */
enum coffer_error_kind coffer_error_kind(const struct coffer_error *err);

/**
 * The HTTP status of the answer that decided the failure; 0 when there was none.
 */
uint16_t coffer_error_status(const struct coffer_error *err);

/**
 * The S3 error code of that answer (`NoSuchBucket`, `SlowDown`...); NULL when it had none.
 * Valid until the error is freed.
 */
const char *coffer_error_s3_code(const struct coffer_error *err);

/**
 * What was being done and what went wrong, naming the key or the setting; never a secret.
 * Valid until the error is freed.
 */
const char *coffer_error_message(const struct coffer_error *err);

/**
 * Whether the failure is temporary (a timeout, the server unavailable, a limit of the
 * tenant's): a mail server defers rather than bounces.
 */
bool coffer_error_is_temporary(const struct coffer_error *err);

/**
 * Frees an error; NULL is ignored.
 */
void coffer_error_free(struct coffer_error *err);

/**
 * Makes the host: compiles the plugin, or loads it precompiled from the cache. NULL on failure.
 */
struct coffer *coffer_new(const struct coffer_options *options, struct coffer_error **err);

/**
 * Lets go of the host. Tenants made from it keep it alive until they are freed too. NULL is
 * ignored.
 */
void coffer_free(struct coffer *host);

/**
 * New, empty settings for the tenant `name` (what logs and metrics call it).
 */
struct coffer_settings *coffer_settings_new(const char *name);

/**
 * Sets one setting by its config-file name (`bucket`, `region`, `endpoint`, `accessKey`,
 * `secretKey`, `keyPrefix`, `timeout`, `maxRetries`, `verifyAfterWrite`...); a dot nests
 * (`secretKey.env`, `secretKey.file`, `limits.memory`, `encryption.key`). Values are strings;
 * they are checked when a tenant is made. 0, or -1 on a NULL or non-UTF-8 argument.
 */
int32_t coffer_settings_set(struct coffer_settings *settings,
                            const char *key,
                            const char *value,
                            struct coffer_error **err);

/**
 * Frees settings; NULL is ignored. Their values (secrets among them) are overwritten first.
 */
void coffer_settings_free(struct coffer_settings *settings);

/**
 * A tenant of these settings, checked as the config file's are (the error names the field).
 * The settings stay the caller's. NULL on failure.
 */
struct coffer_tenant *coffer_tenant_new(struct coffer *host,
                                        const struct coffer_settings *settings,
                                        struct coffer_error **err);

/**
 * The tenant `name` of the config file at `path` (NULL `name`: the file's only tenant). NULL on
 * failure, with the error naming the file, the tenant and the field.
 */
struct coffer_tenant *coffer_tenant_from_file(struct coffer *host,
                                              const char *path,
                                              const char *name,
                                              struct coffer_error **err);

/**
 * The tenant `template` of the config file at `path`, its key prefix followed by `suffix`
 * (a mail domain's `example.org/`, say): one entry of the file serving many tenants, each its
 * own sandbox, named `TEMPLATE:SUFFIX`. NULL on failure.
 */
struct coffer_tenant *coffer_tenant_from_template(struct coffer *host,
                                                  const char *path,
                                                  const char *template_,
                                                  const char *suffix,
                                                  struct coffer_error **err);

/**
 * Frees a tenant; NULL is ignored. Calls in flight on other threads must have returned.
 */
void coffer_tenant_free(struct coffer_tenant *tenant);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* COFFER_H */
