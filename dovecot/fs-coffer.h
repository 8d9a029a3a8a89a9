/* What the driver's version-independent part (fs-coffer.c) and each Dovecot's glue share:
 * fs-coffer-2.3.c reads 2.3's "coffer:config=...:tenant=..." arguments, fs-coffer-2.4.c 2.4's
 * declared settings (fs-coffer-settings.c). Both end in fs_coffer_open(). docs/dovecot.md. */
#ifndef FS_COFFER_H
#define FS_COFFER_H

#include "lib.h"
#include "fs-api-private.h"
#include "coffer.h"

#define DOVECOT_24 DOVECOT_PREREQ(2, 4, 0)

struct coffer_fs {
	struct fs fs;
	struct coffer_tenant *tenant;
	/* Where reads and writes are spooled (Dovecot's temp dir, or /tmp). */
	char *temp_dir;
};

/* What names a tenant, however the Dovecot at hand spells it. */
struct fs_coffer_args {
	const char *config; /* Coffer's config file */
	const char *tenant; /* a tenant of it: the template when prefix is set */
	const char *prefix; /* appended to the template's keyPrefix (e.g. the mail domain), or NULL */
	const char *cache;  /* where the precompiled plugin is kept, or NULL */
};

extern const struct fs fs_class_coffer;

/* Opens the tenant (and the process's host, on first use) into fs. The error names the setting
 * that is missing, or says what Coffer refused. */
int fs_coffer_open(struct coffer_fs *fs, const struct fs_coffer_args *args, const char *temp_dir,
		   const char **error_r);

/* Each Dovecot's init vfunc, in its own shape. Not fs_coffer_init: Dovecot's module loader
 * would call that as the module's own init function. */
#if DOVECOT_24
int fs_coffer_init_fs(struct fs *fs, const struct fs_parameters *params, const char **error_r);
#else
int fs_coffer_init_fs(struct fs *fs, const char *args, const struct fs_settings *set, const char **error_r);
#endif

#endif
