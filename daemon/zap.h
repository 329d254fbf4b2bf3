/* SPDX-License-Identifier: MIT */
/*
 * zap.h - the ZAP handler: which CURVE clients get in.
 *
 * libzmq asks the ZAP handler of the context (a REP socket bound at
 * inproc://zeromq.zap.01, RFC 27) about every CURVE handshake; this one
 * lets in the clients whose public keys are in the key directory's
 * clients/ (one NAME.pub each, daemon/curve.h) and refuses the rest.
 * A key file or a clients/ directory that a user other than the daemon's
 * and root owns, or that its group or others may write to, is ignored
 * (logged), as ssh ignores such an authorized_keys. An allowed client's
 * messages carry its z85 public key as their "User-Id" property.
 *
 * libzmq lets any CURVE client in while no handler is bound, unless the
 * socket enforces its ZAP domain: every CURVE endpoint does
 * (mb_curve_zap_options), and the handler is bound before the first one
 * and serves until the context is terminated, whatever single request
 * fails. A reload only decides about new handshakes: a session already
 * open when its key is removed stays open until it ends.
 *
 * One thread owns the ZAP socket, and with it one monitor socket per
 * CURVE socket (mb_zap_watch), which reports the handshakes that failed
 * before ZAP was asked: a peer that does not speak CURVE, or sends
 * garbage. Both kinds of refusal are counted in the process-wide
 * mb_zap_stats() and logged, rate-limited. mb_zap_reload reads clients/
 * again (SIGHUP); a directory with a bad file keeps the list it replaces.
 */
#ifndef MB_DAEMON_ZAP_H
#define MB_DAEMON_ZAP_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define MB_ZAP_ENDPOINT    "inproc://zeromq.zap.01" /* where libzmq looks for the handler */
#define MB_ZAP_MAX_CLIENTS 65536u                   /* keys in clients/ */
#define MB_ZAP_MAX_WATCHED 64u                      /* sockets with CURVE endpoints */

/* Figures, relaxed atomics, for stats and the metrics. */
struct mb_zap_stats {
	_Atomic uint64_t allowed; /* CURVE handshakes of an allowed client */
	_Atomic uint64_t refused; /* connections refused: a key not allowed, or no CURVE handshake at all */
};

struct mb_zap_cfg {
	void *zmq_ctx;   /* the daemon's context */
	const char *dir; /* the key directory; its clients/ holds the allowed keys */
};

struct mb_zap;

/*
 * Read the allowed keys and bind the ZAP socket, on the calling thread,
 * before any CURVE endpoint exists. 0 and *ret, or -errno with err (cap
 * bytes) naming the file or the socket.
 */
int mb_zap_new(const struct mb_zap_cfg *cfg, struct mb_zap **ret, char *err, size_t cap);

/*
 * Report the failed handshakes of sock (a socket with CURVE endpoints).
 * Call it on the thread that owns sock, before mb_zap_run starts. 0 or
 * -errno (-E2BIG past MB_ZAP_MAX_WATCHED sockets).
 */
int mb_zap_watch(struct mb_zap *z, void *sock);

/* The number of allowed keys. */
size_t mb_zap_n_clients(const struct mb_zap *z);

/*
 * The thread body: answer ZAP requests until the context is terminated
 * (zmq_ctx_term, after every other socket is closed), then close its
 * sockets. A request or a socket error along the way is logged
 * (rate-limited) and the request refused where a reply can still be sent;
 * it never ends the loop. Returns 0.
 */
int mb_zap_run(struct mb_zap *z);

/* Ask the run thread, from any thread, to read clients/ again. */
void mb_zap_reload(struct mb_zap *z);

/* Close what run() left open and free; NULL is fine. Returns NULL. */
struct mb_zap *mb_zap_free(struct mb_zap *z);

/* The process-wide figures (zero while CURVE is off). */
const struct mb_zap_stats *mb_zap_stats(void);

#endif /* MB_DAEMON_ZAP_H */
