/* SPDX-License-Identifier: MIT */
/* source.c - the registry of source families, and the check of their ops tables. */
#include <errno.h>
#include <string.h>

#include "source.h"

static const struct mb_source_ops *const families[] = {
	&mb_source_zmq_ops,
	&mb_source_file_ops,
};

/* The family whose type= name is name, or NULL. */
const struct mb_source_ops *mb_source_ops_find(const char *name)
{
	for (size_t i = 0; i < sizeof families / sizeof families[0]; i++)
		if (strcmp(families[i]->name, name) == 0)
			return families[i];
	return NULL;
}

/*
 * Refuse a table built against another version of source.h or missing a
 * hook the daemon calls unconditionally (position is optional). 0, or
 * -EINVAL with *why.
 */
int mb_source_ops_check(const struct mb_source_ops *ops, const char **why)
{
	const char *w = NULL;
	if (!ops)
		w = "no ops table";
	else if (ops->version != MB_SOURCE_OPS_VERSION)
		w = "ops table of another MB_SOURCE_OPS_VERSION";
	else if (!ops->name || !*ops->name)
		w = "ops table without a name";
	else if (!ops->create || !ops->run || !ops->wake || !ops->destroy)
		w = "ops table lacks create, run, wake or destroy";
	if (!w)
		return 0;
	if (why)
		*why = w;
	return -EINVAL;
}
