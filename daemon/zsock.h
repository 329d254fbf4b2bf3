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
#include <stdint.h>

#define MB_ZSOCK_ENDPOINT_BYTES 1024u /* a resolved endpoint, with its NUL */

/*
 * Bind (or connect, when bind is false) sock to every endpoint of the comma
 * list, as a CURVE server on the network ones when CURVE is set up (see
 * mb_zsock_curve_setup). 0, or -errno with err (cap bytes) naming the
 * endpoint and ZeroMQ's reason. When ret_files is not NULL it gets the ipc socket files
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

/*
 * How the daemon's sockets watch and re-establish their connections: the
 * [zmq] section of the configuration. One setting for the whole process,
 * so that every socket, whoever creates it, behaves the same.
 */
struct mb_zsock_peer_cfg {
	uint32_t heartbeat_ms;         /* a PING to each peer this often; 0: no heartbeats */
	uint32_t heartbeat_timeout_ms; /* a peer silent this long after a PING is dropped, and a
	                                * connection must finish its handshake within it */
	uint32_t reconnect_ms;         /* first retry of a lost outgoing connection */
	uint32_t reconnect_max_ms;     /* the retry interval doubles up to this */
};

/* The defaults, and what the [zmq] keys default to. */
#define MB_ZSOCK_HEARTBEAT_MS         1000u
#define MB_ZSOCK_HEARTBEAT_TIMEOUT_MS 3000u
#define MB_ZSOCK_RECONNECT_MS         100u
#define MB_ZSOCK_RECONNECT_MAX_MS     5000u

/*
 * Replace the process-wide peer settings (copied). Call it before the
 * sockets are created; sockets already made keep what they had.
 */
void mb_zsock_peer_setup(const struct mb_zsock_peer_cfg *cfg);

/*
 * Give sock the process-wide peer settings and the largest message it will
 * take from a peer (bytes; larger ones drop the connection): heartbeats,
 * the handshake limit, and for a connecting socket (connecting true) the
 * capped reconnect back-off. 0 or -errno.
 */
int mb_zsock_peer_options(void *sock, int64_t max_msg_bytes, bool connecting);

/*
 * CURVE on the network endpoints ([security], daemon/curve.h): once set
 * up, mb_zsock_attach makes sock a CURVE server with this secret key for
 * every endpoint that is not ipc:// or inproc://, and a plain socket for
 * those. A CURVE endpoint's message limit has room for the handshake and
 * the encryption beyond the socket's own (mb_zsock_peer_options). watch, when not NULL, is called with watch_arg once for each
 * socket before its first CURVE endpoint is attached (daemon/zap.h
 * monitors its handshakes); its error fails the attach.
 */
#define MB_ZSOCK_CURVE_OVERHEAD  64   /* bytes CURVE adds to a message on the wire (33, rounded up) */
#define MB_ZSOCK_CURVE_HANDSHAKE 1024 /* the longest CURVE handshake command, metadata included */

struct mb_zsock_curve_cfg {
	const char *secret_key;               /* the daemon's secret key, z85 (copied); NULL: CURVE off */
	int (*watch)(void *watch_arg, void *sock); /* called for every socket given a CURVE endpoint */
	void *watch_arg;                      /* its first argument */
};

/*
 * Replace the process-wide CURVE settings (copied). Call it before the
 * sockets are created, as mb_zsock_peer_setup.
 */
void mb_zsock_curve_setup(const struct mb_zsock_curve_cfg *cfg);

/* Set an int socket option; -errno. */
int mb_zsock_set_int(void *sock, int option, int value);

#endif /* MB_DAEMON_ZSOCK_H */
