/* SPDX-License-Identifier: MIT */
/* config_args.c - find the configuration file and build a configuration from the command line. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config_args.h"

/* The file a reads (see config_args.h). */
const char *mb_config_args_file(const struct mb_config_args *a, char *buf, size_t cap)
{
	if (a->no_config)
		return NULL;
	if (a->file)
		return a->file;
	const char *dir = getenv("CONFIGURATION_DIRECTORY");
	int n;
	if (dir && *dir)
		/* systemd lists one directory per ConfigurationDirectory= name, ':'-separated; ours is first. */
		n = snprintf(buf, cap, "%.*s/%s", (int)strcspn(dir, ":"), dir, MB_CONFIG_FILE_NAME);
	else
		n = snprintf(buf, cap, "%s", MB_CONFIG_DEFAULT_FILE);
	if (n < 0 || (size_t)n >= cap)
		return NULL;
	struct stat st;
	/* Only a file that is not there is skipped: one that is there but unreadable is an error to report. */
	if (stat(buf, &st) < 0 && errno == ENOENT)
		return NULL;
	return buf;
}

/* Split "section.key=value" and set it; the Nth override is "-o #N" in errors. */
static int set_override(struct mb_config *c, const char *arg, unsigned ordinal, struct mb_cfg_err *err)
{
	const char *eq = strchr(arg, '=');
	struct mb_cfg_origin o = {.file = "-o", .line = ordinal};
	if (!eq) {
		snprintf(err->text, sizeof err->text, "-o #%u: %s: expected SECTION.KEY=VALUE", ordinal, arg);
		return -EINVAL;
	}
	char key[256];
	if ((size_t)(eq - arg) >= sizeof key) {
		snprintf(err->text, sizeof err->text, "-o #%u: %.64s...: unknown key", ordinal, arg);
		return -EINVAL;
	}
	snprintf(key, sizeof key, "%.*s", (int)(eq - arg), arg);
	return mb_config_set(c, key, eq + 1, &o, err);
}

/* Defaults, file, overrides, finish (see config_args.h). */
int mb_config_args_load(const struct mb_config_args *a, struct mb_config **ret, struct mb_cfg_err *err)
{
	struct mb_config *c = NULL;
	char buf[4096];
	int r = mb_config_new(&c);
	if (r < 0) {
		snprintf(err->text, sizeof err->text, "%s", strerror(-r));
		return r;
	}
	const char *file = mb_config_args_file(a, buf, sizeof buf);
	if (file && (r = mb_config_load_file(c, file, err)) < 0)
		goto out_free;
	for (unsigned i = 0; i < a->n_overrides; i++)
		if ((r = set_override(c, a->overrides[i], i + 1, err)) < 0)
			goto out_free;
	if ((r = mb_config_finish(c, err)) < 0)
		goto out_free;
	*ret = c;
	return 0;
out_free:
	mb_config_free(c);
	return r;
}
