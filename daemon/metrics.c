/* SPDX-License-Identifier: MIT */
/*
 * metrics.c - serve the daemon's figures over HTTP with libmicrohttpd.
 *
 * The server runs on MHD's internal polling thread. It inherits the
 * signal mask of the thread that starts it (main, with every handled
 * signal blocked), so signals keep arriving at the main thread's signalfd.
 * A request reads atomics only; nothing here can block another thread.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "metrics.h"
#include "zap.h"

#define RENDER_FIRST_BYTES (64u << 10) /* first guess at the text's size; it grows when needed */

struct mb_metrics {
	struct mb_metrics_cfg cfg; /* as given */
	struct MHD_Daemon *mhd;    /* the server and its thread */
	uint16_t port;             /* bound port */
};

/* Parse "ADDRESS:PORT" (see metrics.h). */
int mb_metrics_listen_parse(const char *text, struct sockaddr_storage *ret, socklen_t *ret_len)
{
	char host[INET6_ADDRSTRLEN];
	const char *port;
	bool v6 = text[0] == '[';
	if (v6) {
		const char *close = strchr(text, ']');
		if (!close || close[1] != ':' || (size_t)(close - text - 1) >= sizeof host)
			return -EINVAL;
		snprintf(host, sizeof host, "%.*s", (int)(close - text - 1), text + 1);
		port = close + 2;
	} else {
		const char *colon = strchr(text, ':');
		if (!colon || strchr(colon + 1, ':') || (size_t)(colon - text) >= sizeof host)
			return -EINVAL;
		snprintf(host, sizeof host, "%.*s", (int)(colon - text), text);
		port = colon + 1;
	}
	size_t digits = strspn(port, "0123456789");
	if (digits == 0 || digits > 5 || port[digits])
		return -EINVAL;
	unsigned long p = strtoul(port, NULL, 10);
	if (p > 65535)
		return -EINVAL;

	struct sockaddr_storage a;
	memset(&a, 0, sizeof a);
	if (v6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a;
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return -EINVAL;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)p);
		*ret_len = sizeof *s6;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&a;
		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return -EINVAL;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)p);
		*ret_len = sizeof *s4;
	}
	*ret = a;
	return 0;
}

/* 127.0.0.0/8, ::1, or ::ffff:127.x.y.z. */
bool mb_metrics_is_loopback(const struct sockaddr_storage *addr)
{
	if (addr->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)addr)->sin_addr.s_addr) >> 24) == 127;
	if (addr->ss_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)addr)->sin6_addr;
		return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return false;
}

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The holdout's figures, when the configuration asks for a holdout. */
static void collect_holdout(const struct mb_metrics_cfg *cfg, const struct mb_trainer_stats *t,
			    struct mb_metrics_snapshot *s)
{
	s->has_holdout = cfg->config && cfg->config->eval.holdout_every;
	if (!s->has_holdout)
		return;
	s->holdout_cost = LOAD(t->holdout_cost);
	s->holdout_accuracy = LOAD(t->holdout_accuracy);
	s->holdout_samples = LOAD(t->held_out);
	s->holdout_cost_average = LOAD(t->holdout_cost_average);
	s->holdout_accuracy_average = LOAD(t->holdout_accuracy_average);
}

/* The checkpoint figures: counts, and the age and duration of the last one written. */
static void collect_checkpoint(const struct mb_trainer_stats *t, struct mb_metrics_snapshot *s)
{
	s->checkpoints = LOAD(t->checkpoints);
	s->checkpoint_failures = LOAD(t->checkpoint_failures);
	int64_t written_ns = LOAD(t->checkpoint_ns);
	s->has_checkpoint = written_ns != 0;
	if (s->has_checkpoint) {
		s->checkpoint_age_s = mono_s() - (double)written_ns / 1e9;
		s->checkpoint_duration_s = (double)LOAD(t->checkpoint_duration_ns) / 1e9;
	}
}

/* Copy every figure (see metrics.h). */
void mb_metrics_collect(const struct mb_metrics_cfg *cfg, struct mb_metrics_snapshot *s)
{
	memset(s, 0, sizeof *s);
	s->version = cfg->version;
	s->model = cfg->model_name;
	s->start_time_s = cfg->start_time_s;
	s->paused = mb_ingest_paused(cfg->ing);

	for (unsigned i = 0; i < cfg->config->n_sources && i < MB_MAX_SOURCES; i++) {
		const struct mb_source_cfg *sc = &cfg->config->sources[i];
		const struct mb_source_stats *st = mb_ingest_stats(cfg->ing, sc->index);
		struct mb_metrics_source *m = &s->sources[s->n_sources++];
		m->name = sc->name;
		if (!st)
			continue;
		m->received = LOAD(st->received);
		m->queued = LOAD(st->queued);
		m->dropped = LOAD(st->dropped);
		m->rejected = LOAD(st->rejected);
		m->bytes = LOAD(st->bytes);
		for (unsigned r = 0; r < MB_R_MAX_; r++)
			m->rejected_by[r] = LOAD(st->rejected_by[r]);
		struct mb_feed *f = mb_ingest_feed_peek(cfg->ing, sc->index);
		m->queue_batches = f ? mb_feed_queued(f) : 0;
	}

	const struct mb_trainer_stats *t = mb_trainer_stats(cfg->trainer);
	s->samples = LOAD(t->samples);
	s->model_version = LOAD(t->version);
	s->skipped = LOAD(t->skipped);
	s->rollbacks = LOAD(t->rollbacks);
	s->batch_rows = LOAD(t->last_rows);
	s->batch_wait.n_bounds = MB_TRAINER_WAIT_BUCKETS;
	s->batch_wait.bounds = mb_trainer_wait_bounds_s;
	for (unsigned i = 0; i <= MB_TRAINER_WAIT_BUCKETS; i++)
		s->batch_wait.counts[i] = LOAD(t->wait_counts[i]);
	s->batch_wait.sum = (double)LOAD(t->wait_sum_ns) / 1e9;
	s->cost_last = LOAD(t->last_cost);
	s->cost_average = LOAD(t->cost);
	s->accuracy_average = LOAD(t->accuracy);
	s->lr = LOAD(t->lr);
	s->samples_per_s = LOAD(t->samples_per_s);
	s->snapshots_published = LOAD(t->published);
	int64_t published_ns = LOAD(t->published_ns);
	if (published_ns) {
		s->has_snapshot_age = true;
		s->snapshot_age_s = mono_s() - (double)published_ns / 1e9;
		if (s->snapshot_age_s < 0)
			s->snapshot_age_s = 0;
	}
	if (cfg->publisher)
		s->snapshots_sent = LOAD(mb_publisher_stats(cfg->publisher)->sent);
	if (cfg->reload) {
		const struct mb_reload_stats *r = mb_reload_stats(cfg->reload);
		s->reloads = LOAD(r->applied);
		s->reloads_refused = LOAD(r->refused);
	}
	s->peers_refused = LOAD(mb_zap_stats()->refused);
	collect_holdout(cfg, t, s);
	collect_checkpoint(t, s);
}

/* A short plain-text answer for what is not /metrics. */
static enum MHD_Result plain(struct MHD_Connection *conn, unsigned status, const char *text, const char *allow)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	enum MHD_Result r = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return r;
}

/* The text of the figures now, malloc'd, its length in *ret_len; NULL when out of memory. */
static char *render(const struct mb_metrics *m, size_t *ret_len)
{
	struct mb_metrics_snapshot *s = malloc(sizeof *s);
	size_t cap = RENDER_FIRST_BYTES;
	char *text = malloc(cap);
	if (!s || !text)
		goto out_free;
	mb_metrics_collect(&m->cfg, s);
	size_t len = mb_metrics_text_render(s, text, cap);
	if (len >= cap) {
		char *bigger = realloc(text, len + 1);
		if (!bigger)
			goto out_free;
		text = bigger;
		len = mb_metrics_text_render(s, text, len + 1);
	}
	free(s);
	*ret_len = len;
	return text;
out_free:
	free(s);
	free(text);
	return NULL;
}

/* Answer one request: GET or HEAD /metrics, else 404 or 405. */
static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
			      const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	static int seen; /* marks a request whose headers have arrived */
	const struct mb_metrics *m = cls;
	(void)version;
	(void)upload_data;
	if (!*con_cls) {
		/* Headers only so far: answer once any body has been read (and ignored). */
		*con_cls = &seen;
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (strcmp(url, "/metrics") != 0)
		return plain(conn, MHD_HTTP_NOT_FOUND, "Not found: the figures are at /metrics\n", NULL);
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return plain(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "Only GET and HEAD are allowed\n", "GET, HEAD");

	size_t len = 0;
	char *text = render(m, &len);
	if (!text)
		return plain(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "Out of memory\n", NULL);
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, MB_METRICS_CONTENT_TYPE);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	enum MHD_Result r = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return r;
}

/* libmicrohttpd's own complaints (a failed accept, a bad request), as one log line each. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char line[MB_LOG_LINE_BYTES / 2];
	vsnprintf(line, sizeof line, fmt, ap);
	size_t n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	mb_log(LOG_WARNING, "metrics: %s", line);
}

/* Listen and serve (see metrics.h). */
int mb_metrics_new(const struct mb_metrics_cfg *cfg, struct mb_metrics **ret, char *err, size_t cap)
{
	struct sockaddr_storage addr;
	socklen_t addr_len;
	if (mb_metrics_listen_parse(cfg->listen, &addr, &addr_len) < 0) {
		snprintf(err, cap, "'%s' is not ADDRESS:PORT", cfg->listen);
		return -EINVAL;
	}
	struct mb_metrics *m = calloc(1, sizeof *m);
	if (!m) {
		snprintf(err, cap, "out of memory");
		return -ENOMEM;
	}
	m->cfg = *cfg;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
	if (addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	uint16_t want = ntohs(addr.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&addr)->sin6_port
							 : ((struct sockaddr_in *)&addr)->sin_port);
	errno = 0;
	m->mhd = MHD_start_daemon(flags, want, NULL, NULL, answer, m,
				  MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
				  MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned)MB_METRICS_MAX_CONNECTIONS,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)MB_METRICS_TIMEOUT_S,
				  MHD_OPTION_END);
	if (!m->mhd) {
		int e = errno ? errno : EADDRNOTAVAIL;
		snprintf(err, cap, "cannot listen on %s: %s", cfg->listen, strerror(e));
		free(m);
		return -e;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(m->mhd, MHD_DAEMON_INFO_BIND_PORT);
	m->port = info ? info->port : want;
	char host[INET6_ADDRSTRLEN + 2];
	snprintf(host, sizeof host, "%.*s", (int)(strrchr(cfg->listen, ':') - cfg->listen), cfg->listen);
	mb_log(LOG_INFO, "metrics: serving http://%s:%u/metrics", host, (unsigned)m->port);
	if (!mb_metrics_is_loopback(&addr))
		mb_log(LOG_WARNING, "metrics: %s is not a loopback address: whoever reaches it reads every figure",
		       host);
	*ret = m;
	return 0;
}

/* Stop the server thread and free. */
struct mb_metrics *mb_metrics_free(struct mb_metrics *m)
{
	if (!m)
		return NULL;
	MHD_stop_daemon(m->mhd);
	free(m);
	return NULL;
}

/* The bound port. */
uint16_t mb_metrics_port(const struct mb_metrics *m)
{
	return m->port;
}
