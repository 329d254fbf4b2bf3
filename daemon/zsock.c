/* SPDX-License-Identifier: MIT */
/* zsock.c - attach ZeroMQ sockets to endpoint lists. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "config.h"
#include "curve.h"
#include "zsock.h"

/*
 * Written once by the main thread before any socket exists, read by the
 * threads that create sockets after that: thread creation orders the two.
 */
static struct mb_zsock_peer_cfg peer_cfg = {
	.heartbeat_ms = MB_ZSOCK_HEARTBEAT_MS,
	.heartbeat_timeout_ms = MB_ZSOCK_HEARTBEAT_TIMEOUT_MS,
	.reconnect_ms = MB_ZSOCK_RECONNECT_MS,
	.reconnect_max_ms = MB_ZSOCK_RECONNECT_MAX_MS,
};

/* Written and read as peer_cfg is; the secret key lives in secret_key, wiped when CURVE is set off. */
static struct mb_zsock_curve_cfg curve_cfg;
static char secret_key[64];

/* Replace the CURVE settings (see zsock.h). */
void mb_zsock_curve_setup(const struct mb_zsock_curve_cfg *cfg)
{
	curve_cfg = *cfg;
	memset(secret_key, 0, sizeof secret_key);
	if (cfg->secret_key) {
		snprintf(secret_key, sizeof secret_key, "%s", cfg->secret_key);
		curve_cfg.secret_key = secret_key;
	}
}

/*
 * Give sock the security of the endpoint it is about to be attached to:
 * ZeroMQ copies a socket's options into each endpoint when it is bound or
 * connected, so one socket can serve CURVE on tcp and stay plain on ipc.
 * *watched says whether the socket's handshakes are monitored already;
 * *plain_max holds the socket's own message limit (-2 until read).
 */
static int curve_for(void *sock, const char *ep, bool *watched, int64_t *plain_max)
{
	if (!curve_cfg.secret_key)
		return 0;
	bool curve = mb_curve_endpoint_is_network(ep);
	int r;
	if (curve && !*watched && curve_cfg.watch) {
		if ((r = curve_cfg.watch(curve_cfg.watch_arg, sock)) < 0)
			return r;
		*watched = true;
	}
	if (*plain_max == -2) {
		size_t len = sizeof *plain_max;
		if (zmq_getsockopt(sock, ZMQ_MAXMSGSIZE, plain_max, &len) < 0)
			return -zmq_errno();
	}
	/*
	 * The limit applies to the frames on the wire, the handshake's
	 * commands included: leave room for them and for the encryption.
	 */
	int64_t max = *plain_max;
	if (curve && max >= 0)
		max = max + MB_ZSOCK_CURVE_OVERHEAD < MB_ZSOCK_CURVE_HANDSHAKE ? MB_ZSOCK_CURVE_HANDSHAKE
										: max + MB_ZSOCK_CURVE_OVERHEAD;
	if (zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &max, sizeof max) < 0)
		return -zmq_errno();
	if ((r = mb_zsock_set_int(sock, ZMQ_CURVE_SERVER, curve)) < 0 || (r = mb_curve_zap_options(sock, curve)) < 0)
		return r;
	size_t key_len = strlen(curve_cfg.secret_key) + 1;
	if (curve && zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, curve_cfg.secret_key, key_len) < 0)
		return -zmq_errno();
	return 0;
}

/* Replace the peer settings (see zsock.h). */
void mb_zsock_peer_setup(const struct mb_zsock_peer_cfg *cfg)
{
	peer_cfg = *cfg;
}

/* ZeroMQ takes a millisecond count as an int; the configuration's ranges keep it far below. */
static int ms_option(uint32_t ms)
{
	return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

/* Heartbeats, handshake limit, back-off and message limit (see zsock.h). */
int mb_zsock_peer_options(void *sock, int64_t max_msg_bytes, bool connecting)
{
	const struct mb_zsock_peer_cfg *c = &peer_cfg;
	int r;
	if (zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &max_msg_bytes, sizeof max_msg_bytes) < 0)
		return -zmq_errno();
	/*
	 * Heartbeats only start once the handshake is done: a peer that opens a
	 * connection and then says nothing, or stops halfway through the
	 * greeting, is dropped by the handshake limit instead.
	 */
	if ((r = mb_zsock_set_int(sock, ZMQ_HANDSHAKE_IVL, ms_option(c->heartbeat_timeout_ms))) < 0)
		return r;
	if (c->heartbeat_ms) {
		/* The TTL asks the peer to drop us in turn if we fall silent; it counts in tenths of a second. */
		uint32_t ttl = c->heartbeat_timeout_ms / 100 * 100;
		if (ttl > 6553500)
			ttl = 6553500;
		if ((r = mb_zsock_set_int(sock, ZMQ_HEARTBEAT_IVL, ms_option(c->heartbeat_ms))) < 0 ||
		    (r = mb_zsock_set_int(sock, ZMQ_HEARTBEAT_TIMEOUT, ms_option(c->heartbeat_timeout_ms))) < 0 ||
		    (r = mb_zsock_set_int(sock, ZMQ_HEARTBEAT_TTL, (int)ttl)) < 0)
			return r;
	}
	if (!connecting)
		return 0;
	if ((r = mb_zsock_set_int(sock, ZMQ_RECONNECT_IVL, ms_option(c->reconnect_ms))) < 0 ||
	    (r = mb_zsock_set_int(sock, ZMQ_RECONNECT_IVL_MAX, ms_option(c->reconnect_max_ms))) < 0)
		return r;
	return 0;
}

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
	bool watched = false;
	int64_t plain_max = -2;
	for (size_t i = 0; i < n; i++) {
		char ep[MB_ZSOCK_ENDPOINT_BYTES];
		r = mb_cfg_endpoint_resolve(items[i], runtime_dir, ep, sizeof ep);
		if (r < 0) {
			snprintf(err, cap, "%s: endpoint too long", items[i]);
			goto out_unlink;
		}
		if ((r = curve_for(sock, ep, &watched, &plain_max)) < 0) {
			snprintf(err, cap, "%s: cannot set up CURVE: %s", ep, zmq_strerror(-r));
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
