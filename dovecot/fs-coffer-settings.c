/* Dovecot 2.4's declared settings of the driver. Built into libfs_coffer.so, which reads them,
 * and into libcoffer_settings.so, the settings module that doveconf loads from
 * modules/settings/ so that it knows them, shows them (doveconf -n) and refuses a bad value by
 * its name. The settings module needs only libdovecot, not libcoffer. docs/dovecot.md.
 *
 *   mail_ext_attachment {
 *     fs coffer {
 *       fs_coffer_config = /etc/dovecot/coffer.toml
 *       fs_coffer_tenant = mail
 *       fs_coffer_prefix = %{user | domain}/
 *     }
 *   } */
#include "lib.h"
#include "settings-parser.h"
#include "fs-coffer-settings.h"

static bool fs_coffer_settings_check(void *_set, pool_t pool, const char **error_r);

#undef DEF
#define DEF(type, name) SETTING_DEFINE_STRUCT_##type(#name, name, struct fs_coffer_settings)
static const struct setting_define fs_coffer_setting_defines[] = {
	DEF(STR, fs_coffer_config),
	DEF(STR, fs_coffer_tenant),
	DEF(STR, fs_coffer_prefix),
	DEF(STR, fs_coffer_cache),

	SETTING_DEFINE_LIST_END
};

static const struct fs_coffer_settings fs_coffer_default_settings = {
	.fs_coffer_config = "",
	.fs_coffer_tenant = "",
	.fs_coffer_prefix = "",
	.fs_coffer_cache = "",
};

const struct setting_parser_info fs_coffer_setting_parser_info = {
	.name = "fs_coffer",
	/* Known to doveconf only while the driver is installed beside it. */
	.plugin_dependency = "libfs_coffer",

	.defines = fs_coffer_setting_defines,
	.defaults = &fs_coffer_default_settings,

	.struct_size = sizeof(struct fs_coffer_settings),
	.pool_offset1 = 1 + offsetof(struct fs_coffer_settings, pool),
	.check_func = fs_coffer_settings_check,
};

/* A path, when given, is absolute: Dovecot's processes run from other folders (and chroots). */
static bool path_is_absolute(const char *name, const char *value, const char **error_r)
{
	if (*value == '\0' || *value == '/')
		return TRUE;
	*error_r = t_strdup_printf("%s: must be an absolute path, not '%s'", name, value);
	return FALSE;
}

/* Called after %variables are expanded. That the config and the tenant are set is checked when
 * the driver starts: a Dovecot that does not use the driver needs neither. */
static bool fs_coffer_settings_check(void *_set, pool_t pool ATTR_UNUSED, const char **error_r)
{
	struct fs_coffer_settings *set = _set;

	if (!path_is_absolute("fs_coffer_config", set->fs_coffer_config, error_r) ||
	    !path_is_absolute("fs_coffer_cache", set->fs_coffer_cache, error_r))
		return FALSE;
	if (set->fs_coffer_prefix[0] == '/') {
		*error_r = t_strdup_printf("fs_coffer_prefix: must not start with '/' ('%s'): it is "
					   "appended to the tenant's keyPrefix", set->fs_coffer_prefix);
		return FALSE;
	}
	return TRUE;
}

#ifdef FS_COFFER_SETTINGS_MODULE
/* What doveconf looks up in modules/settings/libcoffer_settings.so. */
const char *coffer_settings_version = DOVECOT_ABI_VERSION;
const struct setting_parser_info *coffer_settings_set_infos[] = {
	&fs_coffer_setting_parser_info,
	NULL
};
#endif
