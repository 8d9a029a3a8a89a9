/* libfs_coffer.so: a Dovecot 2.3 lib-fs driver that keeps files (mail attachments) in S3
 * through libcoffer, each tenant in its own sandbox. docs/dovecot.md.
 *
 *   mail_attachment_fs = coffer:config=/etc/dovecot/coffer.toml:tenant=mail:prefix=%d/
 *
 * Arguments, ':'-separated: config=FILE (Coffer's config file), tenant=NAME (a tenant of it, the
 * template), prefix=SUFFIX (appended to its keyPrefix: with %d, each mail domain is a tenant of
 * its own), cache=DIR (where the precompiled plugin is kept). The host runs in a bounded address
 * space, so Dovecot's vsz_limit holds. Reads are spooled to an unlinked temporary file (bounded
 * memory, seekable); writes are spooled likewise and put when the stream finishes, so a failed
 * write stores nothing. */
#include "lib.h"
#include "guid.h"
#include "istream.h"
#include "ostream.h"
#include "fs-api-private.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coffer.h"

struct coffer_fs {
	struct fs fs;
	struct coffer_tenant *tenant;
};

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

extern const struct fs fs_class_coffer;

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

/* A call's answer on one object (1 done, 0 no such object, -1 failed with err) as lib-fs takes
 * it: 0, or -1 with the fs error set. */
static int fs_coffer_answer(struct event *event, int answer, const char *key, struct coffer_error *err)
{
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
	const char *dir = fs->set.temp_dir != NULL ? fs->set.temp_dir : "/tmp";
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

/* Errors here are Dovecot's "fs_init() failed: coffer: ...": it puts the driver's name first. */
static int fs_coffer_init(struct fs *_fs, const char *args, const struct fs_settings *set ATTR_UNUSED,
			  const char **error_r)
{
	struct coffer_fs *fs = coffer_fs_of(_fs);
	const char *config = NULL, *tenant = NULL, *prefix = NULL, *cache = NULL;
	const char *const *arg;

	for (arg = t_strsplit(args, ":"); *arg != NULL; arg++) {
		if (str_begins(*arg, "config="))
			config = *arg + 7;
		else if (str_begins(*arg, "tenant="))
			tenant = *arg + 7;
		else if (str_begins(*arg, "prefix="))
			prefix = *arg + 7;
		else if (str_begins(*arg, "cache="))
			cache = *arg + 6;
		else {
			*error_r = t_strdup_printf("unknown argument '%s' (config=FILE:tenant=NAME[:prefix=SUFFIX][:cache=DIR])", *arg);
			return -1;
		}
	}
	if (config == NULL || tenant == NULL) {
		*error_r = "config=FILE and tenant=NAME are required";
		return -1;
	}
	struct coffer_error *err = NULL;
	if (coffer_host == NULL) {
		struct coffer_options options = {0};
		options.cache_dir = cache;
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
	fs->tenant = prefix == NULL || *prefix == '\0' ?
		coffer_tenant_from_file(coffer_host, config, tenant, &err) :
		coffer_tenant_from_template(coffer_host, config, tenant, prefix, &err);
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
	i_free(_fs);
}

static enum fs_properties fs_coffer_get_properties(struct fs *fs ATTR_UNUSED)
{
	return FS_PROPERTY_STAT | FS_PROPERTY_ITER | FS_PROPERTY_RELIABLEITER;
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
	int fd = spool_fd(_file->fs);
	if (fd < 0)
		return i_stream_create_error_str(errno, "coffer: a temporary file: %m");
	int found = coffer_get_fd(fs->tenant, fs_coffer_key(_file), 0, COFFER_TO_END, fd, &err);
	if (found != 1) {
		int error = found == 0 ? ENOENT : coffer_errno(err);
		const char *message = found == 0 ? "no such object" : coffer_error_message(err);
		struct istream *input = i_stream_create_error_str(error, "coffer: %s: %s", fs_coffer_key(_file), message);
		coffer_error_free(err);
		i_close_fd(&fd);
		return input;
	}
	if (lseek(fd, 0, SEEK_SET) < 0) {
		i_close_fd(&fd);
		return i_stream_create_error_str(errno, "coffer: lseek: %m");
	}
	struct istream *input = i_stream_create_fd_autoclose(&fd, max_buffer_size);
	i_stream_set_name(input, fs_coffer_key(_file));
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

static int fs_coffer_write_stream_finish(struct fs_file *_file, bool success)
{
	struct coffer_fs_file *file = (struct coffer_fs_file *)_file;
	struct coffer_fs *fs = coffer_fs_of(_file->fs);
	struct coffer_error *err = NULL;
	int ret = -1;

	if (_file->output != NULL) {
		if (success && o_stream_finish(_file->output) < 0) {
			fs_set_error(_file->event, _file->output->stream_errno, "coffer: writing the spool: %s",
				     o_stream_get_error(_file->output));
			success = FALSE;
		}
		o_stream_destroy(&_file->output);
	}
	if (success && !file->write_failed) {
		if (lseek(file->write_fd, 0, SEEK_SET) < 0)
			fs_set_error_errno(_file->event, "coffer: rewinding the spool: %m");
		else if (coffer_put_fd(fs->tenant, fs_coffer_key(_file), file->write_fd, COFFER_SIZE_OF_FILE, &err) == 0)
			ret = 1;
		else
			coffer_fs_error(_file->event, err);
	}
	if (file->write_fd >= 0)
		i_close_fd(&file->write_fd);
	return ret;
}

static int fs_coffer_stat(struct fs_file *_file, struct stat *st_r)
{
	struct coffer_fs *fs = coffer_fs_of(_file->fs);
	struct coffer_error *err = NULL;
	struct coffer_info info;
	int found = coffer_stat(fs->tenant, fs_coffer_key(_file), &info, &err);

	i_zero(st_r);
	if (found == 1) {
		st_r->st_size = info.size;
		st_r->st_mode = S_IFREG | 0600;
	}
	return fs_coffer_answer(_file->event, found, fs_coffer_key(_file), err);
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
	int copied = coffer_copy(fs->tenant, fs_coffer_key(src), fs_coffer_key(dest), &err);
	return fs_coffer_answer(dest->event, copied, fs_coffer_key(src), err);
}

static int fs_coffer_delete(struct fs_file *_file)
{
	struct coffer_fs *fs = coffer_fs_of(_file->fs);
	struct coffer_error *err = NULL;
	int existed = coffer_delete(fs->tenant, fs_coffer_key(_file), &err);
	return fs_coffer_answer(_file->event, existed, fs_coffer_key(_file), err);
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
	iter->list = coffer_list_new(fs->tenant, prefix, &err);
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
		.init = fs_coffer_init,
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
		.delete_file = fs_coffer_delete,
		.iter_alloc = fs_coffer_iter_alloc,
		.iter_init = fs_coffer_iter_init,
		.iter_next = fs_coffer_iter_next,
		.iter_deinit = fs_coffer_iter_deinit,
	}
};
