/* Dovecot 2.4's declared settings of the driver (fs-coffer-settings.c). */
#ifndef FS_COFFER_SETTINGS_H
#define FS_COFFER_SETTINGS_H

struct fs_coffer_settings {
	pool_t pool;
	const char *fs_coffer_config;
	const char *fs_coffer_tenant;
	const char *fs_coffer_prefix;
	const char *fs_coffer_cache;
};

extern const struct setting_parser_info fs_coffer_setting_parser_info;

#endif
