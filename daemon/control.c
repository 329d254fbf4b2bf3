/* SPDX-License-Identifier: MIT */
/* control.c - answer control requests on a REP socket. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <zmq.h>

#include "control.h"
#include "control_parse.h"
#include "log.h"
#include "zap.h"
#include "zsock.h"

/* Requests beyond this are cut off by ZeroMQ (the peer is disconnected); up to it they get a refusal. */
#define CONTROL_MAXMSGSIZE (64 << 10)
/* How long save and reset wait for the trainer: below a client's usual 5 s, so it hears why. */
#define CONTROL_TRAINER_TIMEOUT_MS 4000

struct mb_control {
	struct mb_control_cfg cfg; /* as given */
	void *sock;                /* REP; owned by the run thread once it starts */
	char **files;              /* ipc socket files bound, removed at the end */
	int stop_fd;               /* eventfd written by mb_control_stop */
	char *reply;               /* MB_CONTROL_REPLY_BYTES for the answer */
};

/* A JSON text under construction; overflowing only sets a flag. */
struct json {
	char *p;      /* buffer */
	size_t cap;   /* its size */
	size_t len;   /* bytes written, without the NUL */
	bool full;    /* something did not fit */
};

static void json_add(struct json *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void json_add(struct json *j, const char *fmt, ...)
{
	if (j->full)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(j->p + j->len, j->cap - j->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= j->cap - j->len) {
		j->full = true;
		j->p[j->len] = '\0';
		return;
	}
	j->len += (size_t)n;
}

/* A JSON string, escaping what JSON needs escaped. */
static void json_str(struct json *j, const char *s)
{
	json_add(j, "\"");
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (*c == '"' || *c == '\\')
			json_add(j, "\\%c", *c);
		else if (*c < 0x20)
			json_add(j, "\\u%04x", *c);
		else
			json_add(j, "%c", *c);
	}
	json_add(j, "\"");
}

/* A number, or null when it is not finite (JSON has no NaN). */
static void json_num(struct json *j, double v)
{
	if (isfinite(v))
		json_add(j, "%.6g", v);
	else
		json_add(j, "null");
}

static size_t error_reply(struct json *j, const char *why)
{
	j->len = 0;
	j->full = false;
	json_add(j, "{\"ok\":false,\"error\":");
	json_str(j, why);
	json_add(j, "}");
	return j->len;
}

static const char *state_name(struct mb_control *c)
{
	if (mb_ingest_stopping(c->cfg.ing))
		return "stopping";
	return mb_ingest_paused(c->cfg.ing) ? "paused" : "running";
}

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

static void status_fields(struct mb_control *c, struct json *j)
{
	const struct mb_trainer_stats *t = mb_trainer_stats(c->cfg.trainer);
	json_add(j, "\"ok\":true,\"state\":\"%s\",\"model\":", state_name(c));
	json_str(j, c->cfg.model_name);
	json_add(j, ",\"version\":%llu,\"samples\":%llu,\"batches\":%llu,\"skipped\":%llu,\"cost\":",
		 (unsigned long long)LOAD(t->version), (unsigned long long)LOAD(t->samples),
		 (unsigned long long)LOAD(t->batches), (unsigned long long)LOAD(t->skipped));
	json_num(j, LOAD(t->cost));
	json_add(j, ",\"accuracy\":");
	json_num(j, LOAD(t->accuracy));
	json_add(j, ",\"samples_per_s\":");
	json_num(j, LOAD(t->samples_per_s));
	json_add(j, ",\"snapshots\":%llu",
		 (unsigned long long)(c->cfg.publisher ? LOAD(mb_publisher_stats(c->cfg.publisher)->sent) : 0));
	json_add(j, ",\"lr\":");
	json_num(j, LOAD(t->lr));
	json_add(j, ",\"rollbacks\":%llu", (unsigned long long)LOAD(t->rollbacks));
	json_add(j, ",\"peers_refused\":%llu", (unsigned long long)LOAD(mb_zap_stats()->refused));
	if (c->cfg.config->eval.holdout_every) {
		json_add(j, ",\"holdout\":{\"every\":%u,\"samples\":%llu,\"scored\":%llu,\"cost\":",
			 c->cfg.config->eval.holdout_every, (unsigned long long)LOAD(t->held_out),
			 (unsigned long long)LOAD(t->holdout_rows));
		json_num(j, LOAD(t->holdout_cost));
		json_add(j, ",\"accuracy\":");
		json_num(j, LOAD(t->holdout_accuracy));
		json_add(j, ",\"cost_average\":");
		json_num(j, LOAD(t->holdout_cost_average));
		json_add(j, ",\"accuracy_average\":");
		json_num(j, LOAD(t->holdout_accuracy_average));
		json_add(j, "}");
	}
}

static void source_fields(struct mb_control *c, struct json *j)
{
	json_add(j, ",\"sources\":[");
	for (unsigned i = 0; i < c->cfg.config->n_sources; i++) {
		const struct mb_source_cfg *sc = &c->cfg.config->sources[i];
		struct mb_source_stats *s = mb_ingest_stats(c->cfg.ing, sc->index);
		json_add(j, "%s{\"name\":", i ? "," : "");
		json_str(j, sc->name);
		json_add(j, ",\"type\":\"%s\",\"received\":%llu,\"queued\":%llu,\"dropped\":%llu,"
			 "\"rejected\":%llu,\"bytes\":%llu,\"rejected_by\":{",
			 sc->type, (unsigned long long)LOAD(s->received), (unsigned long long)LOAD(s->queued),
			 (unsigned long long)LOAD(s->dropped), (unsigned long long)LOAD(s->rejected),
			 (unsigned long long)LOAD(s->bytes));
		for (unsigned r = MB_R_OK + 1; r < MB_R_MAX_; r++)
			json_add(j, "%s\"%s\":%llu", r > MB_R_OK + 1 ? "," : "", mb_reason_name((enum mb_reason)r),
				 (unsigned long long)LOAD(s->rejected_by[r]));
		json_add(j, "}}");
	}
	json_add(j, "]");
}

/* "reload": the changed keys, or why nothing changed. */
static size_t reload_reply(struct mb_control *c, struct json *j)
{
	struct mb_reload_changes ch;
	struct mb_cfg_err err;
	if (!c->cfg.reload)
		return error_reply(j, "reload is not available");
	if (mb_reload_run(c->cfg.reload, &ch, &err) < 0)
		return error_reply(j, err.text);
	json_add(j, "{\"ok\":true,\"changed\":[");
	for (unsigned i = 0; i < ch.n; i++) {
		json_add(j, "%s", i ? "," : "");
		json_str(j, ch.keys[i]);
	}
	json_add(j, "]}");
	return j->len;
}

/* "save" and "reset": carried out by the trainer thread between two steps, waited for here. */
static size_t trainer_reply(struct mb_control *c, struct json *j, enum mb_trainer_cmd cmd)
{
	struct mb_trainer_reply r;
	if (mb_trainer_request(c->cfg.trainer, cmd, CONTROL_TRAINER_TIMEOUT_MS, &r) < 0)
		return error_reply(j, r.error);
	json_add(j, "{\"ok\":true");
	if (cmd == MB_TRAINER_SAVE) {
		json_add(j, ",\"path\":");
		json_str(j, r.path);
	}
	json_add(j, ",\"version\":%llu}", (unsigned long long)r.version);
	return j->len;
}

/* Answer one request (see control.h). */
size_t mb_control_answer(struct mb_control *c, const char *req, size_t len, char *out, size_t cap)
{
	struct json j = {.p = out, .cap = cap};
	out[0] = '\0';
	enum mb_control_cmd cmd;
	const char *why;
	if (mb_control_parse(req, len, &why, &cmd) < 0)
		return error_reply(&j, why);

	bool status = cmd == MB_CONTROL_STATUS, stats = cmd == MB_CONTROL_STATS;
	bool snapshot = cmd == MB_CONTROL_SNAPSHOT, pause = cmd == MB_CONTROL_PAUSE;
	bool reload = cmd == MB_CONTROL_RELOAD;
	bool save = cmd == MB_CONTROL_SAVE, reset = cmd == MB_CONTROL_RESET;
	if (status || stats) {
		json_add(&j, "{");
		status_fields(c, &j);
		if (stats)
			source_fields(c, &j);
		json_add(&j, "}");
	} else if (reload) {
		reload_reply(c, &j);
	} else if (save || reset) {
		trainer_reply(c, &j, save ? MB_TRAINER_SAVE : MB_TRAINER_RESET);
	} else if (snapshot) {
		if (mb_trainer_request_snapshot(c->cfg.trainer) < 0)
			return error_reply(&j, "no model yet: no valid sample has arrived");
		json_add(&j, "{\"ok\":true,\"version\":%llu}",
			 (unsigned long long)LOAD(mb_trainer_stats(c->cfg.trainer)->version));
	} else {
		mb_ingest_pause(c->cfg.ing, pause);
		mb_log(LOG_NOTICE, "control: ingest %s", pause ? "paused" : "resumed");
		json_add(&j, "{\"ok\":true,\"state\":\"%s\"}", state_name(c));
	}
	if (j.full)
		return error_reply(&j, "reply too long");
	return j.len;
}

/* Create and bind the REP socket (see control.h). */
int mb_control_new(const struct mb_control_cfg *cfg, struct mb_control **ret, char *err, size_t cap)
{
	struct mb_control *c = calloc(1, sizeof *c);
	int r = -ENOMEM;
	if (!c || !(c->reply = malloc(MB_CONTROL_REPLY_BYTES))) {
		snprintf(err, cap, "out of memory");
		goto out_free;
	}
	c->cfg = *cfg;
	c->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->stop_fd < 0) {
		r = -errno;
		snprintf(err, cap, "eventfd: %s", strerror(errno));
		goto out_free;
	}
	c->sock = zmq_socket(cfg->zmq_ctx, ZMQ_REP);
	if (!c->sock) {
		r = -zmq_errno();
		snprintf(err, cap, "REP socket: %s", zmq_strerror(-r));
		goto out_close_fd;
	}
	if ((r = mb_zsock_peer_options(c->sock, CONTROL_MAXMSGSIZE, false)) < 0 ||
	    (r = mb_zsock_set_int(c->sock, ZMQ_LINGER, 0)) < 0) {
		snprintf(err, cap, "REP options: %s", zmq_strerror(-r));
		goto out_close_sock;
	}
	r = mb_zsock_attach(c->sock, cfg->endpoint, true, cfg->runtime_dir, &c->files, err, cap);
	if (r < 0)
		goto out_close_sock;
	*ret = c;
	return 0;
out_close_sock:
	zmq_close(c->sock);
out_close_fd:
	close(c->stop_fd);
out_free:
	if (c)
		free(c->reply);
	free(c);
	return r;
}

/* Close and free. */
struct mb_control *mb_control_free(struct mb_control *c)
{
	if (!c)
		return NULL;
	zmq_close(c->sock);
	mb_zsock_unlink_files(c->files);
	close(c->stop_fd);
	free(c->reply);
	free(c);
	return NULL;
}

/* Receive one whole request and send its one reply. 0, or -errno when the socket failed. */
static int serve_one(struct mb_control *c)
{
	zmq_msg_t m;
	zmq_msg_init(&m);
	if (zmq_msg_recv(&m, c->sock, ZMQ_DONTWAIT) < 0) {
		int e = zmq_errno();
		zmq_msg_close(&m);
		return e == EAGAIN || e == EINTR ? 0 : -e;
	}
	bool multipart = false;
	while (zmq_msg_more(&m)) {
		multipart = true;
		if (zmq_msg_recv(&m, c->sock, 0) < 0)
			break;
	}
	size_t n;
	if (multipart) {
		struct json j = {.p = c->reply, .cap = MB_CONTROL_REPLY_BYTES};
		n = error_reply(&j, "malformed request: one frame expected");
	} else {
		n = mb_control_answer(c, zmq_msg_data(&m), zmq_msg_size(&m), c->reply, MB_CONTROL_REPLY_BYTES);
	}
	zmq_msg_close(&m);
	if (zmq_send(c->sock, c->reply, n, 0) < 0)
		return zmq_errno() == ETERM ? -ETERM : 0;
	return 0;
}

/* The thread body (see control.h). */
int mb_control_run(struct mb_control *c)
{
	for (;;) {
		zmq_pollitem_t items[2] = {
			{.socket = c->sock, .events = ZMQ_POLLIN},
			{.fd = c->stop_fd, .events = ZMQ_POLLIN},
		};
		if (zmq_poll(items, 2, -1) < 0) {
			if (zmq_errno() == EINTR)
				continue;
			return -zmq_errno();
		}
		if (items[1].revents & ZMQ_POLLIN)
			return 0;
		if (items[0].revents & ZMQ_POLLIN) {
			int r = serve_one(c);
			if (r < 0)
				return r == -ETERM ? 0 : r;
		}
	}
}

/* Wake run() to return. */
void mb_control_stop(struct mb_control *c)
{
	uint64_t one = 1;
	ssize_t n = write(c->stop_fd, &one, sizeof one);
	(void)n;
}
