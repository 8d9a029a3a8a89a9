/* Dovecot 2.4's glue: the driver's declared settings (fs-coffer-settings.c), read for the fs's
 * event, so that 2.4's variables (%{user | domain}, %{user}) are expanded for the user at hand.
 * docs/dovecot.md. */
#include "fs-coffer.h"
#include "settings.h"
#include "fs-coffer-settings.h"

static const char *set_or_null(const char *value)
{
	return *value == '\0' ? NULL : value;
}

int fs_coffer_init_fs(struct fs *_fs, const struct fs_parameters *params, const char **error_r)
{
	const struct fs_coffer_settings *set;
	int ret;

	if (settings_get(_fs->event, &fs_coffer_setting_parser_info, 0, &set, error_r) < 0)
		return -1;
	if (set->fs_coffer_config[0] == '\0' || set->fs_coffer_tenant[0] == '\0') {
		*error_r = "fs_coffer_config and fs_coffer_tenant must be set";
		settings_free(set);
		return -1;
	}
	struct fs_coffer_args args = {
		.config = set->fs_coffer_config,
		.tenant = set->fs_coffer_tenant,
		.prefix = set_or_null(set->fs_coffer_prefix),
		.cache = set_or_null(set->fs_coffer_cache),
	};
	ret = fs_coffer_open((struct coffer_fs *)_fs, &args, params->temp_dir, error_r);
	settings_free(set);
	return ret;
}
