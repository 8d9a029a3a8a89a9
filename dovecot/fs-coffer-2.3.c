/* Dovecot 2.3's glue: the driver's arguments, one ':'-separated string.
 *
 *   mail_attachment_fs = coffer:config=/etc/dovecot/coffer.toml:tenant=mail:prefix=%d/
 *
 * config=FILE (Coffer's config file), tenant=NAME (a tenant of it, the template), prefix=SUFFIX
 * (appended to its keyPrefix: with %d, each mail domain is a tenant of its own), cache=DIR (where
 * the precompiled plugin is kept). docs/dovecot.md. */
#include "fs-coffer.h"

/* Errors here are Dovecot's "fs_init() failed: coffer: ...": it puts the driver's name first. */
int fs_coffer_init_fs(struct fs *_fs, const char *args, const struct fs_settings *set, const char **error_r)
{
	struct fs_coffer_args parsed = {0};
	const char *const *arg;

	for (arg = t_strsplit(args, ":"); *arg != NULL; arg++) {
		if (str_begins(*arg, "config="))
			parsed.config = *arg + 7;
		else if (str_begins(*arg, "tenant="))
			parsed.tenant = *arg + 7;
		else if (str_begins(*arg, "prefix="))
			parsed.prefix = *arg + 7;
		else if (str_begins(*arg, "cache="))
			parsed.cache = *arg + 6;
		else {
			*error_r = t_strdup_printf("unknown argument '%s' (config=FILE:tenant=NAME[:prefix=SUFFIX][:cache=DIR])", *arg);
			return -1;
		}
	}
	if (parsed.config == NULL || parsed.tenant == NULL) {
		*error_r = "config=FILE and tenant=NAME are required";
		return -1;
	}
	return fs_coffer_open((struct coffer_fs *)_fs, &parsed, set->temp_dir, error_r);
}
