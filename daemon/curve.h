/* SPDX-License-Identifier: MIT */
/*
 * curve.h - what [security] means for the daemon's sockets.
 *
 * With CURVE on, every endpoint that leaves the host (anything but ipc://
 * and inproc://) is a CURVE server holding the daemon's secret key, and
 * daemon/zap.h lets in only the clients whose public keys are in the key
 * directory's clients/. ipc:// endpoints stay plain: their socket files
 * are mode 0660 in the runtime directory, so the file system decides.
 *
 * The key directory (security.curve_dir):
 *   server.key   the daemon's secret key, z85 text (lib/client.h key file), mode 0600
 *   server.pub   its public key, which clients are given
 *   clients/     NAME.pub for every client allowed in
 * "minibatchctl keygen DIR NAME" writes such pairs. A service with
 * DynamicUser= cannot read a secret key only root may read: systemd's
 * LoadCredential=curve-server.key:PATH hands it over instead, and
 * $CREDENTIALS_DIRECTORY/curve-server.key wins over the directory's.
 *
 * Without CURVE, an endpoint another host can reach is refused at start:
 * the control endpoint always, ingest and snapshot endpoints unless
 * security.allow_plaintext_tcp is true.
 */
#ifndef MB_DAEMON_CURVE_H
#define MB_DAEMON_CURVE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "client.h"
#include "config.h"

#define MB_CURVE_DEFAULT_DIR "/etc/minibatchd/curve" /* curve_dir without a configuration file */
#define MB_CURVE_DIR_NAME    "curve"                 /* curve_dir's default name beside the configuration file */
#define MB_CURVE_SERVER_KEY  "server.key"            /* the secret key's file in the key directory */
#define MB_CURVE_CLIENTS_DIR "clients"               /* the allowed clients' directory in it */
#define MB_CURVE_CREDENTIAL  "curve-server.key"      /* the secret key as a systemd credential (LoadCredential=) */
#define MB_CURVE_ZAP_DOMAIN  "minibatchd"            /* the ZAP domain of every CURVE endpoint */
#define MB_CURVE_PLAIN_ZAP_DOMAIN "minibatchd-plain"  /* a plain endpoint's, after a CURVE one on its socket */

/* The resolved [security] section. */
struct mb_curve_setup {
	bool on;                                         /* CURVE on every network endpoint */
	char dir[PATH_MAX];                              /* the key directory, resolved */
	char secret_key[MB_CLIENT_KEY_Z85_BYTES + 1];    /* the daemon's secret key (when on) */
	char public_key[MB_CLIENT_KEY_Z85_BYTES + 1];    /* its public key (when on) */
};

/*
 * Resolve [security] of c: the key directory (config_file, the file the
 * configuration came from or NULL, anchors the default and relative
 * paths), whether CURVE is on, and then the server's key pair. Then check
 * every endpoint against the plaintext rules above. 0 and *ret, or -errno
 * with err (cap bytes) naming the key or file; *ret untouched on failure.
 */
int mb_curve_resolve(const struct mb_config *c, const char *config_file, struct mb_curve_setup *ret, char *err,
		     size_t cap);

/*
 * Wipe the secret key; NULL is fine. Call it as soon as the key has been
 * handed on (mb_zsock_curve_setup keeps its own copy): a key left in
 * memory ends up in core dumps and swap.
 */
void mb_curve_setup_wipe(struct mb_curve_setup *s);

/*
 * Give sock the ZAP options of the endpoint it is about to be bound or
 * connected to: a CURVE endpoint (curve true) gets the ZAP domain
 * MB_CURVE_ZAP_DOMAIN and ZMQ_ZAP_ENFORCE_DOMAIN, so a handshake that
 * finds no ZAP handler is refused instead of let in; a plain one gets
 * neither. 0, or -errno (a libzmq without the option fails the attach
 * rather than run open). A plain endpoint after a CURVE one on the same
 * socket gets MB_CURVE_PLAIN_ZAP_DOMAIN, which the handler lets through to
 * the file permissions, since libzmq cannot take a domain back.
 */
int mb_curve_zap_options(void *sock, bool curve);

/* True when endpoint leaves the host's ipc and inproc transports (tcp://, ws://, ...). */
bool mb_curve_endpoint_is_network(const char *endpoint);

/*
 * True when a network endpoint can only be reached from this host:
 * tcp://127.x.x.x:PORT, tcp://[::1]:PORT, tcp://localhost:PORT or the
 * loopback interface tcp://lo:PORT. Wildcards ("*", 0.0.0.0, ::) and every
 * other address or interface are not.
 */
bool mb_curve_endpoint_is_loopback(const char *endpoint);

#endif /* MB_DAEMON_CURVE_H */
