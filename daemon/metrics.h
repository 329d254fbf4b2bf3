/* SPDX-License-Identifier: MIT */
/*
 * metrics.h - the OpenMetrics endpoint: GET http://HOST:PORT/metrics.
 *
 * libmicrohttpd serves it from a thread of its own (MHD's internal polling
 * thread, started here and stopped by mb_metrics_free), so a slow or
 * stuck scraper never holds up training or the control socket. Each
 * request copies the figures from the daemon's atomics (trainer, sources,
 * publisher, reloads) without taking a lock, and renders them with
 * daemon/metrics_text.h. Only GET and HEAD of /metrics are answered;
 * anything else is 404 or 405.
 */
#ifndef MB_DAEMON_METRICS_H
#define MB_DAEMON_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config.h"
#include "ingest.h"
#include "metrics_text.h"
#include "publisher.h"
#include "reload.h"
#include "trainer.h"

#define MB_METRICS_MAX_CONNECTIONS 16 /* scrapers served at once; more wait in the backlog */
#define MB_METRICS_TIMEOUT_S       10 /* an idle connection is closed after this long */

struct mb_metrics_cfg {
	const char *listen;              /* "ADDRESS:PORT" (see mb_metrics_listen_parse) */
	const char *version;             /* the daemon's version, for minibatchd_build_info */
	const char *model_name;          /* the model's name, likewise */
	const struct mb_config *config;  /* source names */
	struct mb_ingest *ing;           /* source figures, queue depths, pause */
	const struct mb_trainer *trainer; /* training figures */
	const struct mb_publisher *publisher; /* snapshots sent; may be NULL */
	const struct mb_reload *reload;  /* reload outcomes; may be NULL */
	double start_time_s;             /* when the process started, seconds since the Unix epoch */
};

struct mb_metrics;

/*
 * Parse "ADDRESS:PORT": a numeric IPv4 address, or an IPv6 address in
 * brackets ("[::1]:7712"), and a decimal port 0..65535 (0: the kernel
 * picks a free one). 0 with the address in *ret and its length in
 * *ret_len, or -EINVAL; nothing is written on failure.
 */
int mb_metrics_listen_parse(const char *text, struct sockaddr_storage *ret, socklen_t *ret_len);

/* True when the address is a loopback one (127.0.0.0/8 or ::1). */
bool mb_metrics_is_loopback(const struct sockaddr_storage *addr);

/*
 * Listen on cfg->listen and start serving. 0 and *ret, or -errno with err
 * (cap bytes) saying why. Logs where it listens, with a warning when that
 * is not a loopback address.
 */
int mb_metrics_new(const struct mb_metrics_cfg *cfg, struct mb_metrics **ret, char *err, size_t cap);

/* Stop serving (waits for the server thread) and free; NULL is fine. Returns NULL. */
struct mb_metrics *mb_metrics_free(struct mb_metrics *m);

/* The port listened on (the one the kernel picked when the configured port is 0). */
uint16_t mb_metrics_port(const struct mb_metrics *m);

/*
 * Copy every figure into *ret, reading atomics only; the per-source
 * rejections by reason included. Strings point into cfg's objects.
 */
void mb_metrics_collect(const struct mb_metrics_cfg *cfg, struct mb_metrics_snapshot *ret);

#endif /* MB_DAEMON_METRICS_H */
