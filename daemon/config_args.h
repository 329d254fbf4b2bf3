/* SPDX-License-Identifier: MIT */
/*
 * config_args.h - where the configuration comes from, read the same way at
 * start-up and at every reload.
 *
 * A configuration is the embedded defaults, then one INI file, then the -o
 * overrides in their order. The file is the one -c names; without -c it is
 * $CONFIGURATION_DIRECTORY/minibatchd.conf when systemd sets that variable
 * (the first directory of its list), else MB_CONFIG_DEFAULT_FILE, and
 * either only when it exists; --no-config reads no file at all. A reload
 * looks again, so a default file created since start-up is read then.
 */
#ifndef MB_DAEMON_CONFIG_ARGS_H
#define MB_DAEMON_CONFIG_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

#ifndef MB_CONFIG_DEFAULT_FILE
#define MB_CONFIG_DEFAULT_FILE "/etc/minibatchd/minibatchd.conf" /* without -c and outside systemd */
#endif
#define MB_CONFIG_FILE_NAME "minibatchd.conf" /* its name in $CONFIGURATION_DIRECTORY */

/* What the command line says about the configuration. */
struct mb_config_args {
	const char *file;             /* -c FILE; NULL: the default file, if it exists */
	bool no_config;               /* --no-config: no file, not even the default one */
	const char *const *overrides; /* -o SECTION.KEY=VALUE texts in order, not copied: they must outlive args */
	unsigned n_overrides;         /* of them */
};

/*
 * The file a reads: -c's, else the default one when it exists (written
 * into buf, cap bytes), else NULL (none, or --no-config).
 */
const char *mb_config_args_file(const struct mb_config_args *a, char *buf, size_t cap);

/*
 * Build a configuration from a: defaults, the file, the overrides, then
 * mb_config_finish(). 0 and *ret (free it with mb_config_free), or -errno
 * with *err naming where and which key; *ret untouched.
 */
int mb_config_args_load(const struct mb_config_args *a, struct mb_config **ret, struct mb_cfg_err *err);

#endif /* MB_DAEMON_CONFIG_ARGS_H */
