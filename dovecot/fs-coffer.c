/* libfs_coffer.so: a Dovecot lib-fs driver that keeps files (mail attachments) in S3 through
 * libcoffer, each tenant in its own sandbox. This file is the part that Dovecot 2.3 and 2.4
 * share; how each names the tenant is in fs-coffer-2.3.c and fs-coffer-2.4.c. docs/dovecot.md.
 *
 * The host runs in a bounded address space, so Dovecot's vsz_limit holds. Reads are spooled to
 * an unlinked temporary file (bounded memory, seekable); writes are spooled likewise and put when
 * the stream finishes, so a failed write stores nothing. A rename (which sdbox asks for once a
 * message has its UID) is a checked copy, then a delete. Each call to S3 is a Dovecot event,
 * fs_coffer_request_finished, for Dovecot's statistics. */
#include "fs-coffer.h"
#include "guid.h"
#include "istream.h"
#include "ostream.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

struct coffer_fs_file {
	struct fs_file file;
	int write_fd;
	bool write_failed;
};

struct coffer_fs_iter {
	struct fs_iter iter;
	struct coffer_list *list;
	size_t strip;
	bool failed;
};

/* Dovecot refuses to load a build made for another Dovecot by this (module-dir's ABI check). */
const char *fs_coffer_version = DOVECOT_ABI_VERSION;

/* One host a process, made on the first use (after Dovecot forked the process). */
static struct coffer *coffer_host = NULL;

static struct coffer_fs *coffer_fs_of(struct fs *fs) { return (struct coffer_fs *)fs; }

/* An errno for Coffer's error: ENOENT, EACCES, EAGAIN for what is worth trying again later
   (a delivery is then deferred), EIO for the rest. */
static int coffer_errno(struct coffer_error *err)
{
	switch (coffer_error_kind(err)) {
	case COFFER_ACCESS_DENIED:
		return EACCES;
	case COFFER_TIMEOUT:
	case COFFER_UNAVAILABLE:
	case COFFER_LIMIT_EXCEEDED:
		return EAGAIN;
	default:
		return EIO;
	}
}

static void coffer_fs_error(struct event *event, struct coffer_error *err)
{
	const char *kind = coffer_error_is_temporary(err) ? "temporary failure" : "failure";
	fs_set_error(event, coffer_errno(err), "coffer: %s: %s", kind, coffer_error_message(err));
	coffer_error_free(err);
}

/* One call to S3 as a Dovecot event: fs_coffer_request_finished, with the fields op, key, bytes
 * and outcome (ok, not_found, temporary_failure or failure) and, when it failed, error. Its
 * duration is Dovecot's own, from call_begin to call_end, so that a `metric` block counts and
 * times the calls (docs/dovecot.md, "Statistics"). */
static struct event *call_begin(struct event *parent, const char *op, const char *key)
{
	struct event *event = event_create(parent);
	event_set_name(event, "fs_coffer_request_finished");
	event_add_str(event, "op", op);
	event_add_str(event, "key", key);
	return event;
}

/* answer as libcoffer gives it: 1 done, 0 no such object, -1 failed with err (not freed here). */
static void call_end(struct event **event, int answer, uintmax_t bytes, struct coffer_error *err)
{
	const char *outcome = answer == 1 ? "ok" : answer == 0 ? "not_found" :
		coffer_error_is_temporary(err) ? "temporary_failure" : "failure";
	event_add_int(*event, "bytes", bytes);
	event_add_str(*event, "outcome", outcome);
	if (answer < 0)
		event_add_str(*event, "error", coffer_error_message(err));
	e_debug(*event, "coffer: %s %s: %s", event_find_field_recursive_str(*event, "op"),
		event_find_field_recursive_str(*event, "key"), outcome);
	event_unref(event);
}

/* A call's answer on one object (1 done, 0 no such object, -1 failed with err) as lib-fs takes
 * it: 0, or -1 with the fs error set. Ends the call's event first. */
static int fs_coffer_answer(struct event *event, struct event **call, int answer, uintmax_t bytes,
			    const char *key, struct coffer_error *err)
{
	call_end(call, answer, bytes, err);
	if (answer == 1)
		return 0;
	if (answer == 0)
		fs_set_error(event, ENOENT, "coffer: %s: no such object", key);
	else
		coffer_fs_error(event, err);
	return -1;
}

static int spool_fd(struct fs *fs)
{
	const char *dir = coffer_fs_of(fs)->temp_dir;
	char *path = i_strdup_printf("%s/coffer-XXXXXX", dir);
	int fd = mkstemp(path);
	if (fd >= 0)
		(void)unlink(path);
	i_free(path);
	return fd;
}

static struct fs *fs_coffer_alloc(void)
{
	struct coffer_fs *fs = i_new(struct coffer_fs, 1);
	fs->fs = fs_class_coffer;
	return &fs->fs;
}

int fs_coffer_open(struct coffer_fs *fs, const struct fs_coffer_args *args, const char *temp_dir,
		   const char **error_r)
{
	struct coffer_error *err = NULL;
	fs->temp_dir = i_strdup(temp_dir != NULL ? temp_dir : "/tmp");
	if (coffer_host == NULL) {
		struct coffer_options options = {0};
		options.cache_dir = args->cache;
		options.bounded_memory = true;
		coffer_host = coffer_new(&options, &err);
		if (coffer_host == NULL) {
			*error_r = t_strdup_printf("the host did not start: %s (if it says memory, raise "
						   "default_vsz_limit or the service's vsz_limit, e.g. to 512M)",
						   coffer_error_message(err));
			coffer_error_free(err);
			return -1;
		}
	}
	fs->tenant = args->prefix == NULL || *args->prefix == '\0' ?
		coffer_tenant_from_file(coffer_host, args->config, args->tenant, &err) :
		coffer_tenant_from_template(coffer_host, args->config, args->tenant, args->prefix, &err);
	if (fs->tenant == NULL) {
		*error_r = t_strdup(coffer_error_message(err));
		coffer_error_free(err);
		return -1;
	}
	return 0;
}

static void fs_coffer_deinit(struct fs *_fs)
{
	struct coffer_fs *fs = coffer_fs_of(_fs);
	coffer_tenant_free(fs->tenant);
	fs->tenant = NULL;
}

static void fs_coffer_free(struct fs *_fs)
{
	i_free(coffer_fs_of(_fs)->temp_dir);
	i_free(_fs);
}

/* RENAME is what sdbox asks for (a copy and a delete here); never FASTCOPY, which sis takes
 * for a hard link. */
static enum fs_properties fs_coffer_get_properties(struct fs *fs ATTR_UNUSED)
{
	return FS_PROPERTY_STAT | FS_PROPERTY_ITER | FS_PROPERTY_RELIABLEITER | FS_PROPERTY_RENAME;
}

static struct fs_file *fs_coffer_file_alloc(void)
{
	struct coffer_fs_file *file = i_new(struct coffer_fs_file, 1);
	file->write_fd = -1;
	return &file->file;
}

static void fs_coffer_file_init(struct fs_file *_file, const char *path, enum fs_open_mode mode,
				enum fs_open_flags flags ATTR_UNUSED)
{
	if (mode == FS_OPEN_MODE_CREATE_UNIQUE_128) {
		guid_128_t guid;
		guid_128_generate(guid);
		_file->path = i_strdup_printf("%s/%s", path, guid_128_to_string(guid));
	} else {
		_file->path = i_strdup(path);
	}
}

static void fs_coffer_file_deinit(struct fs_file *_file)
{
	struct coffer_fs_file *file = (struct coffer_fs_file *)_file;
	if (file->write_fd >= 0)
		i_close_fd(&file->write_fd);
	fs_file_free(_file);
	i_free(_file->path);
	i_free(file);
}

static const char *fs_coffer_key(struct fs_file *file)
{
	const char *path = file->path;
	while (*path == '/')
		path++;
	return path;
}

static struct istream *fs_coffer_read_stream(struct fs_file *_file, size_t max_buffer_size)
{
	struct coffer_fs *fs = coffer_fs_of(_file->fs);
	struct coffer_error *err = NULL;
	const char *key = fs_coffer_key(_file);
	int fd = spool_fd(_file->fs);
	if (fd < 0)
		return i_stream_create_error_str(errno, "coffer: a temporary file: %m");
	struct event *call = call_begin(_file->event, "get", key);
	int found = coffer_get_fd(fs->tenant, key, 0, COFFER_TO_END, fd, &err);
	struct stat st;
	call_end(&call, found, found == 1 && fstat(fd, &st) == 0 ? (uintmax_t)st.st_size : 0, err);
	if (found != 1) {
		int error = found == 0 ? ENOENT : coffer_errno(err);
		const char *message = found == 0 ? "no such object" : coffer_error_message(err);
		struct istream *input = i_stream_create_error_str(error, "coffer: %s: %s", key, message);
		coffer_error_free(err);
		i_close_fd(&fd);
		return input;
	}
	if (lseek(fd, 0, SEEK_SET) < 0) {
		i_close_fd(&fd);
		return i_stream_create_error_str(errno, "coffer: lseek: %m");
	}
	struct istream *input = i_stream_create_fd_autoclose(&fd, max_buffer_size);
	i_stream_set_name(input, key);
	return input;
}

static void fs_coffer_write_stream(struct fs_file *_file)
{
	struct coffer_fs_file *file = (struct coffer_fs_file *)_file;
	file->write_fd = spool_fd(_file->fs);
	if (file->write_fd < 0) {
		file->write_failed = TRUE;
		_file->output = o_stream_create_error_str(errno, "coffer: a temporary file: %m");
	} else {
		_file->output = o_stream_create_fd_file(file->write_fd, 0, FALSE);
	}
	o_stream_set_name(_file->output, fs_coffer_key(_file));
}

/* The spool, rewound, put whole: 1 (stored and verified), or -1 with the fs error set. */
static int fs_coffer_put_spool(struct fs_file *_file, int fd)
{
	struct coffer_fs *fs = coffer_fs_of(_file->fs);
	struct coffer_error *err = NULL;
	struct stat st;

	if (lseek(fd, 0, SEEK_SET) < 0 || fstat(fd, &st) < 0) {
		fs_set_error_errno(_file->event, "coffer: rewinding the spool: %m");
		return -1;
	}
	struct event *call = call_begin(_file->event, "put", fs_coffer_key(_file));
	int put = coffer_put_fd(fs->tenant, fs_coffer_key(_file), fd, COFFER_SIZE_OF_FILE, &err) == 0 ? 1 : -1;
	return fs_coffer_answer(_file->event, &call, put, (uintmax_t)st.st_size, fs_coffer_key(_file), err) == 0 ? 1 : -1;
}

static int fs_coffer_write_stream_finish(struct fs_file *_file, bool success)
{
	struct coffer_fs_file *file = (struct coffer_fs_file *)_file;
	int ret = -1;

	if (_file->output != NULL) {
		if (success && o_stream_finish(_file->output) < 0) {
			fs_set_error(_file->event, _file->output->stream_errno, "coffer: writing the spool: %s",
				     o_stream_get_error(_file->output));
			success = FALSE;
		}
		o_stream_destroy(&_file->output);
	}
	if (success && !file->write_failed)
		ret = fs_coffer_put_spool(_file, file->write_fd);
	if (file->write_fd >= 0)
		i_close_fd(&file->write_fd);
	return ret;
}

static int fs_coffer_stat(struct fs_file *_file, struct stat *st_r)
{
	struct coffer_fs *fs = coffer_fs_of(_file->fs);
	struct coffer_error *err = NULL;
	struct coffer_info info;
	struct event *call = call_begin(_file->event, "stat", fs_coffer_key(_file));
	int found = coffer_stat(fs->tenant, fs_coffer_key(_file), &info, &err);

	i_zero(st_r);
	if (found == 1) {
		st_r->st_size = info.size;
		st_r->st_mode = S_IFREG | 0600;
	}
	return fs_coffer_answer(_file->event, &call, found, 0, fs_coffer_key(_file), err);
}

static int fs_coffer_exists(struct fs_file *_file)
{
	struct stat st;
	if (fs_coffer_stat(_file, &st) == 0)
		return 1;
	return errno == ENOENT ? 0 : -1;
}

static int fs_coffer_copy(struct fs_file *src, struct fs_file *dest)
{
	struct coffer_fs *fs = coffer_fs_of(dest->fs);
	struct coffer_error *err = NULL;
	struct event *call = call_begin(dest->event, "copy", fs_coffer_key(dest));
	event_add_str(call, "source_key", fs_coffer_key(src));
	int copied = coffer_copy(fs->tenant, fs_coffer_key(src), fs_coffer_key(dest), &err);
	return fs_coffer_answer(dest->event, &call, copied, 0, fs_coffer_key(src), err);
}

static int fs_coffer_delete(struct fs_file *_file)
{
	struct coffer_fs *fs = coffer_fs_of(_file->fs);
	struct coffer_error *err = NULL;
	struct event *call = call_begin(_file->event, "delete", fs_coffer_key(_file));
	int existed = coffer_delete(fs->tenant, fs_coffer_key(_file), &err);
	return fs_coffer_answer(_file->event, &call, existed, 0, fs_coffer_key(_file), err);
}

/* S3 has no rename: a checked copy (the source read whole and verified, the copy put and
 * verified), then a delete of the source. The copy is what matters: once it is stored, the
 * rename has done its job, and a source that could not be deleted is left behind with a warning
 * that names it (docs/dovecot.md, "sdbox"). A crash between the two leaves the same: both keys,
 * the new one referenced by the mail, the old one an orphan. */
static int fs_coffer_rename(struct fs_file *src, struct fs_file *dest)
{
	if (fs_coffer_copy(src, dest) < 0)
		return -1;
	if (fs_coffer_delete(src) < 0 && errno != ENOENT) {
		e_warning(dest->event, "coffer: renamed %s to %s, but the old object stays behind "
			  "(remove it with coffer rm): %s", fs_coffer_key(src), fs_coffer_key(dest),
			  fs_file_last_error(src));
	}
	return 0;
}

static struct fs_iter *fs_coffer_iter_alloc(void)
{
	return &i_new(struct coffer_fs_iter, 1)->iter;
}

static void fs_coffer_iter_init(struct fs_iter *_iter, const char *path, enum fs_iter_flags flags ATTR_UNUSED)
{
	struct coffer_fs_iter *iter = (struct coffer_fs_iter *)_iter;
	struct coffer_fs *fs = coffer_fs_of(_iter->fs);
	struct coffer_error *err = NULL;
	while (*path == '/')
		path++;
	size_t len = strlen(path);
	const char *prefix = len == 0 || path[len - 1] == '/' ? path : t_strconcat(path, "/", NULL);
	iter->strip = strlen(prefix);
	struct event *call = call_begin(_iter->event, "list", prefix);
	iter->list = coffer_list_new(fs->tenant, prefix, &err);
	call_end(&call, iter->list != NULL ? 1 : -1, 0, err);
	if (iter->list == NULL) {
		iter->failed = TRUE;
		coffer_fs_error(_iter->event, err);
	}
}

/* The names under the iterated folder, without it; deeper ones are not its files. */
static const char *fs_coffer_iter_next(struct fs_iter *_iter)
{
	struct coffer_fs_iter *iter = (struct coffer_fs_iter *)_iter;
	struct coffer_error *err = NULL;
	struct coffer_object object;
	int rc;

	if ((_iter->flags & FS_ITER_FLAG_DIRS) != 0 || iter->list == NULL)
		return NULL;
	while ((rc = coffer_list_next(iter->list, &object, &err)) == 1) {
		const char *name = object.key + iter->strip;
		if (strchr(name, '/') == NULL)
			return t_strdup(name);
	}
	if (rc < 0) {
		iter->failed = TRUE;
		coffer_fs_error(_iter->event, err);
	}
	return NULL;
}

static int fs_coffer_iter_deinit(struct fs_iter *_iter)
{
	struct coffer_fs_iter *iter = (struct coffer_fs_iter *)_iter;
	int ret = iter->failed ? -1 : 0;
	coffer_list_free(iter->list);
	iter->list = NULL;
	/* lib-fs frees the iterator itself */
	return ret;
}

const struct fs fs_class_coffer = {
	.name = "coffer",
	.v = {
		.alloc = fs_coffer_alloc,
		.init = fs_coffer_init_fs,
		.deinit = fs_coffer_deinit,
		.free = fs_coffer_free,
		.get_properties = fs_coffer_get_properties,
		.file_alloc = fs_coffer_file_alloc,
		.file_init = fs_coffer_file_init,
		.file_deinit = fs_coffer_file_deinit,
		.set_metadata = fs_default_set_metadata,
		.read = fs_read_via_stream,
		.read_stream = fs_coffer_read_stream,
		.write = fs_write_via_stream,
		.write_stream = fs_coffer_write_stream,
		.write_stream_finish = fs_coffer_write_stream_finish,
		.exists = fs_coffer_exists,
		.stat = fs_coffer_stat,
		.copy = fs_coffer_copy,
		.rename = fs_coffer_rename,
		.delete_file = fs_coffer_delete,
		.iter_alloc = fs_coffer_iter_alloc,
		.iter_init = fs_coffer_iter_init,
		.iter_next = fs_coffer_iter_next,
		.iter_deinit = fs_coffer_iter_deinit,
	}
};
