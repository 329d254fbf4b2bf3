/* SPDX-License-Identifier: MIT */
/* zsock.c - attach ZeroMQ sockets to endpoint lists. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "config.h"
#include "zsock.h"

/* Set an int option, -errno on failure. */
int mb_zsock_set_int(void *sock, int option, int value)
{
	return zmq_setsockopt(sock, option, &value, sizeof value) < 0 ? -zmq_errno() : 0;
}

/* Unlink and free the files of an attach. */
char **mb_zsock_unlink_files(char **files)
{
	if (!files)
		return NULL;
	for (size_t i = 0; files[i]; i++)
		unlink(files[i]);
	return mb_cfg_list_free(files);
}

/* Bind or connect sock to every endpoint of list (see zsock.h). */
int mb_zsock_attach(void *sock, const char *list, bool bind, const char *runtime_dir, char ***ret_files,
		    char *err, size_t cap)
{
	char **items;
	size_t n, n_files = 0;
	int r = mb_cfg_list_split(list, &items, &n);
	if (r < 0) {
		snprintf(err, cap, "out of memory");
		return r;
	}
	char **files = calloc(n + 1, sizeof *files);
	if (!files) {
		r = -ENOMEM;
		snprintf(err, cap, "out of memory");
		goto out_free;
	}
	for (size_t i = 0; i < n; i++) {
		char ep[MB_ZSOCK_ENDPOINT_BYTES];
		r = mb_cfg_endpoint_resolve(items[i], runtime_dir, ep, sizeof ep);
		if (r < 0) {
			snprintf(err, cap, "%s: endpoint too long", items[i]);
			goto out_unlink;
		}
		if ((bind ? zmq_bind(sock, ep) : zmq_connect(sock, ep)) < 0) {
			r = -zmq_errno();
			snprintf(err, cap, "%s %s: %s", bind ? "bind" : "connect", ep, zmq_strerror(-r));
			goto out_unlink;
		}
		if (!bind || strncmp(ep, "ipc://", 6) != 0 || ep[6] != '/')
			continue;
		if (!(files[n_files] = strdup(ep + 6))) {
			r = -ENOMEM;
			snprintf(err, cap, "out of memory");
			goto out_unlink;
		}
		n_files++;
		/* ZeroMQ creates the socket file with the process umask; make it group-usable, no more. */
		if (chmod(ep + 6, 0660) < 0) {
			r = -errno;
			snprintf(err, cap, "chmod %s: %s", ep + 6, strerror(errno));
			goto out_unlink;
		}
	}
	if (ret_files)
		*ret_files = files;
	else
		mb_cfg_list_free(files);
	r = 0;
	goto out_free;
out_unlink:
	mb_zsock_unlink_files(files);
out_free:
	mb_cfg_list_free(items);
	return r;
}
