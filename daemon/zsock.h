/* SPDX-License-Identifier: MIT */
/*
 * zsock.h - binding and connecting ZeroMQ sockets to configured endpoints.
 *
 * Every socket of the daemon takes a comma list of endpoints; relative
 * ipc:// paths live in the runtime directory, and ipc socket files are
 * made mode 0660 so a group can be given access without opening them to
 * everybody.
 */
#ifndef MB_DAEMON_ZSOCK_H
#define MB_DAEMON_ZSOCK_H

#include <stdbool.h>
#include <stddef.h>

#define MB_ZSOCK_ENDPOINT_BYTES 1024u /* a resolved endpoint, with its NUL */

/*
 * Bind (or connect, when bind is false) sock to every endpoint of the comma
 * list. 0, or -errno with err (cap bytes) naming the endpoint and
 * ZeroMQ's reason. When ret_files is not NULL it gets the ipc socket files
 * bound (a NULL-terminated array, possibly empty) for
 * mb_zsock_unlink_files; on failure the files bound so far are unlinked.
 */
int mb_zsock_attach(void *sock, const char *list, bool bind, const char *runtime_dir, char ***ret_files,
		    char *err, size_t cap);

/*
 * Remove the socket files a bind created (ZeroMQ leaves them behind), and
 * free the array. NULL is fine; returns NULL.
 */
char **mb_zsock_unlink_files(char **files);

/* Set an int socket option; -errno. */
int mb_zsock_set_int(void *sock, int option, int value);

#endif /* MB_DAEMON_ZSOCK_H */
