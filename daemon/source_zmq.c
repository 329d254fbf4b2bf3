/* SPDX-License-Identifier: MIT */
/*
 * source_zmq.c - samples from a ZeroMQ PULL or SUB socket.
 *
 * Each instance runs on a thread of its own and owns its socket. A message
 * is received into a zmq_msg_t and decoded in place: binary messages are
 * validated whole and then converted row by row straight into the current
 * batch; text messages are decoded line by line the same way. A message's
 * last frame is the sample (for SUB the first is the topic). Unless the
 * format is configured, a message starting with "MBSM" or holding a NUL
 * byte is binary, anything else text (CSV or libsvm, from its first line).
 *
 * Accounting, so that received = queued + dropped + rejected at any quiet
 * moment: received counts the samples of a valid binary message, every
 * decoded text line, and 1 for a message refused whole; a row refused on
 * its own (a bad label, a bad line) is 1 rejected; dropped is what the
 * backpressure policy threw away; queued is what is (or was) on its way to
 * the trainer. Under drop-oldest the feed takes back rows that were queued,
 * so those move from queued to dropped.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <zmq.h>

#include "config.h"
#include "ingest.h"
#include "log.h"
#include "source.h"
#include "zsock.h"

#define POLL_MAX_MS        100 /* longest sleep without looking at the stop and pause flags */
#define BLOCK_RECHECK_MS   10  /* a blocked acquire looks at the stop flag this often */
#define MSGS_PER_WAKE      256 /* messages taken per wake-up before checking linger and flags */

enum zmq_format { FMT_AUTO, FMT_BINARY, FMT_CSV, FMT_LIBSVM };

struct mb_source {
	const struct mb_source_cfg *cfg;   /* our section of the configuration */
	struct mb_ingest *ing;             /* shared ingest state */
	unsigned index;                    /* our feed and stats slot */
	struct mb_source_stats *stats;     /* our counters */
	void *sock;                        /* PULL or SUB; owned by the run thread once it starts */
	char **files;                      /* ipc socket files bound, removed at the end */
	int wake_fd;                       /* eventfd written by wake() */
	bool sub;                          /* SUB: the first frame is the topic */
	enum zmq_format format;            /* forced format, or auto */
	uint32_t text_targets;             /* target columns of text samples */
	struct mb_feed *feed;              /* created once the shape is agreed */
	struct mb_batch *batch;            /* the batch being filled, or NULL */
	float *scratch;                    /* one row for samples decoded with no batch to hold them */
	uint64_t committed;                /* rows committed into batches */
	uint64_t self_dropped;             /* rows dropped here for want of a batch */
	struct mb_log_limit limit;         /* rejected-input lines */
	char what[MB_CFG_NAME_BYTES + 16]; /* "source NAME", for log lines */
};

static void source_free(struct mb_source *s)
{
	if (s->sock)
		zmq_close(s->sock);
	mb_zsock_unlink_files(s->files);
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	free(s->scratch);
	free(s);
}

/* Subscribe a SUB socket to every topic of the list, or to everything. */
static int subscribe(void *sock, const char *topics)
{
	char **items;
	size_t n;
	int r = mb_cfg_list_split(topics, &items, &n);
	if (r < 0)
		return r;
	if (n == 0 && zmq_setsockopt(sock, ZMQ_SUBSCRIBE, "", 0) < 0)
		r = -zmq_errno();
	for (size_t i = 0; r == 0 && i < n; i++)
		if (zmq_setsockopt(sock, ZMQ_SUBSCRIBE, items[i], strlen(items[i])) < 0)
			r = -zmq_errno();
	mb_cfg_list_free(items);
	return r;
}

/*
 * Create the socket, set its options, and bind or connect it here, on the
 * starting thread, so a bad endpoint stops the daemon before it reports
 * ready. The run thread takes the socket over (thread creation is the
 * full barrier ZeroMQ asks for when a socket changes threads).
 */
static int zmq_create(const struct mb_source_cfg *cfg, struct mb_ingest *ing, unsigned index,
		      struct mb_source **ret, const char **why)
{
	static _Thread_local char err[512];
	const struct mb_ingest_cfg *icfg = mb_ingest_cfg(ing);
	struct mb_source *s = calloc(1, sizeof *s);
	if (!s) {
		*why = "out of memory";
		return -ENOMEM;
	}
	s->wake_fd = -1;
	s->cfg = cfg;
	s->ing = ing;
	s->index = index;
	s->stats = mb_ingest_stats(ing, index);
	snprintf(s->what, sizeof s->what, "source %s", cfg->name);
	s->limit.what = s->what;

	int pattern = 0, format = 0, r;
	bool bind = true;
	uint32_t rcvhwm = 0;
	uint64_t maxmsg = 0;
	if ((r = mb_source_cfg_enum(cfg, "pattern", "pull|sub", &pattern, why)) < 0 ||
	    (r = mb_source_cfg_enum(cfg, "format", "auto|binary|csv|libsvm", &format, why)) < 0 ||
	    (r = mb_source_cfg_bool(cfg, "bind", &bind, why)) < 0 ||
	    (r = mb_source_cfg_u32(cfg, "rcvhwm", &rcvhwm, why)) < 0 ||
	    (r = mb_source_cfg_u64(cfg, "maxmsgsize", &maxmsg, why)) < 0 ||
	    (r = mb_source_cfg_u32(cfg, "targets", &s->text_targets, why)) < 0)
		goto out_free;
	s->sub = pattern == 1;
	s->format = (enum zmq_format)format;
	if (!s->text_targets)
		s->text_targets = icfg->n_targets ? icfg->n_targets : 1;
	if (icfg->n_targets && s->text_targets != icfg->n_targets) {
		snprintf(err, sizeof err, "source.%s.targets: %u, but the model takes %u targets",
			 cfg->name, s->text_targets, icfg->n_targets);
		*why = err;
		r = -EINVAL;
		goto out_free;
	}

	s->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->wake_fd < 0) {
		r = -errno;
		*why = "eventfd failed";
		goto out_free;
	}
	s->sock = zmq_socket(icfg->zmq_ctx, s->sub ? ZMQ_SUB : ZMQ_PULL);
	if (!s->sock) {
		r = -zmq_errno();
		*why = "cannot create the socket";
		goto out_free;
	}
	if (mb_zsock_set_int(s->sock, ZMQ_RCVHWM, (int)rcvhwm) < 0 ||
	    mb_zsock_set_int(s->sock, ZMQ_LINGER, 0) < 0 ||
	    mb_zsock_peer_options(s->sock, (int64_t)maxmsg, !bind) < 0 ||
	    (s->sub && subscribe(s->sock, mb_source_cfg_get(cfg, "topics")) < 0)) {
		r = -zmq_errno();
		*why = "cannot set the socket options";
		goto out_free;
	}
	char e[400];
	r = mb_zsock_attach(s->sock, mb_source_cfg_get(cfg, "endpoint"), bind, cfg->runtime_dir, &s->files, e,
			    sizeof e);
	if (r < 0) {
		snprintf(err, sizeof err, "source.%s.endpoint: %s", cfg->name, e);
		*why = err;
		goto out_free;
	}
	*ret = s;
	return 0;
out_free:
	source_free(s);
	return r;
}

/* Refresh the shared counters from the ones only this thread writes. */
static void publish_counts(struct mb_source *s)
{
	if (!s->feed)
		return;
	uint64_t dropped = mb_feed_dropped(s->feed);
	uint64_t taken_back = dropped - s->self_dropped; /* queued rows drop-oldest discarded */
	atomic_store_explicit(&s->stats->dropped, dropped, memory_order_relaxed);
	atomic_store_explicit(&s->stats->queued, s->committed - taken_back, memory_order_relaxed);
}

static void reject(struct mb_source *s, const struct mb_diag *d, const char *what)
{
	atomic_fetch_add_explicit(&s->stats->rejected, 1, memory_order_relaxed);
	unsigned reason = (unsigned)d->reason < MB_R_MAX_ ? (unsigned)d->reason : 0;
	atomic_fetch_add_explicit(&s->stats->rejected_by[reason], 1, memory_order_relaxed);
	mb_log_limited(&s->limit, LOG_WARNING, "%s: rejected %s: %s (%s)", s->what, what, d->text,
		       mb_reason_name(d->reason));
}

static void submit(struct mb_source *s)
{
	if (s->batch) {
		mb_feed_submit(s->feed, s->batch);
		s->batch = NULL;
	}
}

/*
 * Make sure a batch with a free row is at hand, under the policy. false
 * when none is to be had (drop-newest, or stopping while blocked): the
 * caller decodes into the scratch row and counts the sample dropped.
 */
static bool have_row(struct mb_source *s)
{
	if (s->batch)
		return true;
	bool block = mb_ingest_cfg(s->ing)->policy == MB_FEED_BLOCK;
	do {
		s->batch = mb_feed_acquire(s->feed, BLOCK_RECHECK_MS);
	} while (!s->batch && block && !mb_ingest_stopping(s->ing));
	return s->batch != NULL;
}

/* The feed and scratch row, once the shape is agreed. */
static int ensure_feed(struct mb_source *s)
{
	if (s->feed)
		return 0;
	int r = mb_ingest_feed(s->ing, s->index, &s->feed);
	if (r < 0)
		return r;
	const struct mb_feed_cfg *fc = mb_feed_cfg(s->feed);
	s->scratch = malloc(((size_t)fc->n_features + fc->n_targets) * sizeof(float));
	return s->scratch ? 0 : -ENOMEM;
}

/* Where the next row goes: the batch if there is one, else the scratch row. */
static void row_slot(struct mb_source *s, bool in_batch, float **x, float **y)
{
	if (in_batch) {
		*x = mb_batch_x(s->batch, s->batch->rows);
		*y = mb_batch_y(s->batch, s->batch->rows);
	} else {
		*x = s->scratch;
		*y = s->scratch + mb_feed_cfg(s->feed)->n_features;
	}
}

/* Keep a decoded row (checking its targets), or count it dropped. */
static void keep_row(struct mb_source *s, bool in_batch, const float *y, float w, uint64_t line)
{
	struct mb_diag d = {0};
	if (mb_ingest_check_targets(s->ing, y, &d) < 0) {
		d.line = line;
		reject(s, &d, "sample");
		return;
	}
	if (!in_batch) {
		mb_feed_count_dropped(s->feed, 1);
		s->self_dropped++;
		return;
	}
	mb_batch_commit_row(s->batch, w);
	s->committed++;
	if (mb_batch_full(s->batch))
		submit(s);
}

static void take_binary(struct mb_source *s, const void *buf, size_t len)
{
	const struct mb_ingest_cfg *icfg = mb_ingest_cfg(s->ing);
	struct mb_shape expect = {0, icfg->n_targets};
	mb_ingest_shape(s->ing, &expect);
	struct mb_sample_view v;
	struct mb_diag d = {0};
	int r = mb_sample_bin_parse(buf, len, &expect, &v, &d);
	if (r == 0) {
		struct mb_shape got = {v.n_features, v.n_targets};
		r = mb_ingest_shape_agree(s->ing, &got, &d);
	}
	if (r == 0 && (r = ensure_feed(s)) < 0)
		mb_diag_set(&d, r, MB_R_TOO_BIG, 0, 0, "cannot create the batch pool: %s", strerror(-r));
	if (r < 0) {
		atomic_fetch_add_explicit(&s->stats->received, 1, memory_order_relaxed);
		reject(s, &d, "message");
		return;
	}
	atomic_fetch_add_explicit(&s->stats->received, v.count, memory_order_relaxed);
	for (uint32_t i = 0; i < v.count; i++) {
		bool in_batch = have_row(s);
		float *x, *y, w = 1.0f;
		row_slot(s, in_batch, &x, &y);
		mb_sample_view_row(&v, i, x, y, &w);
		keep_row(s, in_batch, y, w, 0);
	}
}

static void take_text(struct mb_source *s, const void *buf, size_t len, enum mb_text_fmt fmt)
{
	struct mb_diag d = {0};
	struct mb_shape shape;
	int r = mb_ingest_shape(s->ing, &shape);
	if (r < 0) {
		uint32_t nf = 0;
		if (fmt == MB_TEXT_LIBSVM)
			r = mb_diag_set(&d, -EINVAL, MB_R_DIM_MISMATCH, 0, 0,
					"a libsvm sample cannot fix the feature count: set model.inputs");
		else
			r = mb_text_probe_features(buf, len, fmt, s->text_targets, &nf);
		if (r >= 0) {
			shape = (struct mb_shape){nf, s->text_targets};
			r = mb_ingest_shape_agree(s->ing, &shape, &d);
		} else if (d.reason == MB_R_OK) {
			mb_diag_set(&d, r, MB_R_COLUMNS, 1, 0, "cannot count the features of the first line");
		}
	} else if (shape.n_targets != s->text_targets) {
		r = mb_diag_set(&d, -EINVAL, MB_R_DIM_MISMATCH, 0, 0, "text samples have %u targets, the model takes %u",
				s->text_targets, shape.n_targets);
	}
	if (r == 0 && (r = ensure_feed(s)) < 0)
		mb_diag_set(&d, r, MB_R_TOO_BIG, 0, 0, "cannot create the batch pool: %s", strerror(-r));
	if (r < 0) {
		atomic_fetch_add_explicit(&s->stats->received, 1, memory_order_relaxed);
		reject(s, &d, "message");
		return;
	}
	struct mb_text_cursor c;
	mb_text_cursor_init(&c, buf, len, fmt, &shape);
	uint64_t lines = 0;
	for (;;) {
		/*
		 * Decode into the open batch if there is one; otherwise into the
		 * scratch row, and only take a batch once a row has turned up
		 * (under drop-oldest, taking one discards queued rows).
		 */
		bool in_batch = s->batch != NULL;
		float *x, *y;
		row_slot(s, in_batch, &x, &y);
		memset(&d, 0, sizeof d);
		r = mb_text_next(&c, x, y, &d);
		if (r == 0)
			break;
		lines++;
		atomic_fetch_add_explicit(&s->stats->received, 1, memory_order_relaxed);
		if (r < 0) {
			reject(s, &d, "line");
			continue;
		}
		if (!in_batch && have_row(s)) {
			in_batch = true;
			memcpy(mb_batch_x(s->batch, s->batch->rows), x, shape.n_features * sizeof(float));
			memcpy(mb_batch_y(s->batch, s->batch->rows), y, shape.n_targets * sizeof(float));
			y = mb_batch_y(s->batch, s->batch->rows);
		}
		keep_row(s, in_batch, y, 1.0f, c.line);
	}
	if (lines == 0) {
		atomic_fetch_add_explicit(&s->stats->received, 1, memory_order_relaxed);
		mb_diag_set(&d, -ENODATA, MB_R_EMPTY, 0, 0, "message holds no sample");
		reject(s, &d, "message");
	}
}

/* Decode one sample message of len bytes (the last frame of a ZeroMQ message). */
static void take_message(struct mb_source *s, const void *buf, size_t len)
{
	atomic_fetch_add_explicit(&s->stats->bytes, len, memory_order_relaxed);
	enum zmq_format f = s->format;
	if (f == FMT_AUTO) {
		/* Text never holds a NUL byte, and every binary header does: junk is refused as binary (bad magic). */
		if ((len >= 4 && memcmp(buf, MB_SMP_MAGIC, 4) == 0) || memchr(buf, '\0', len))
			f = FMT_BINARY;
		else
			f = mb_text_detect(buf, len) == MB_TEXT_LIBSVM ? FMT_LIBSVM : FMT_CSV;
	}
	if (f == FMT_BINARY)
		take_binary(s, buf, len);
	else
		take_text(s, buf, len, f == FMT_LIBSVM ? MB_TEXT_LIBSVM : MB_TEXT_CSV);
	publish_counts(s);
}

/*
 * Receive one whole message without waiting: 1 when one was handled, 0
 * when none was waiting, -errno when the socket failed (the context is
 * being terminated).
 */
static int receive_one(struct mb_source *s, zmq_msg_t *msg)
{
	if (zmq_msg_recv(msg, s->sock, ZMQ_DONTWAIT) < 0)
		return zmq_errno() == EAGAIN || zmq_errno() == EINTR ? 0 : -zmq_errno();
	while (zmq_msg_more(msg)) {
		/* Only the last frame is the sample: earlier ones (a SUB topic) are dropped. */
		if (zmq_msg_recv(msg, s->sock, 0) < 0)
			return -zmq_errno();
	}
	take_message(s, zmq_msg_data(msg), zmq_msg_size(msg));
	return 1;
}

/* Milliseconds to sleep: until the open batch lingers, at most POLL_MAX_MS. */
static int poll_timeout(const struct mb_source *s)
{
	if (!s->batch || !s->batch->rows)
		return POLL_MAX_MS;
	uint32_t linger = mb_ingest_cfg(s->ing)->linger_ms;
	int64_t due = s->batch->opened_ns + (int64_t)linger * 1000000;
	int64_t left = (due - mb_batch_now_ns() + 999999) / 1000000;
	return left < 0 ? 0 : left > POLL_MAX_MS ? POLL_MAX_MS : (int)left;
}

/*
 * Take what is waiting, up to MSGS_PER_WAKE messages, without blocking:
 * 0 once a receive found nothing (the socket is drained), 1 when the
 * budget ran out or a flag went up with messages perhaps still waiting,
 * -errno when the socket failed.
 */
static int drain(struct mb_source *s, zmq_msg_t *msg)
{
	for (int i = 0; i < MSGS_PER_WAKE; i++) {
		int r = receive_one(s, msg);
		if (r <= 0)
			return r;
		/* A pause holds from the next message on; a stop ends the run promptly. */
		if (mb_ingest_stopping(s->ing) || mb_ingest_paused(s->ing))
			return 1;
	}
	return 1;
}

/*
 * Sleep until the wake eventfd or the socket's ZMQ_FD is readable, or for
 * timeout_ms. Polling ZMQ_FD is only sound after a receive has come back
 * empty: that receive processed every pending command, so the next one
 * (a peer's new message activating the pipe) writes the descriptor. This
 * costs one system call a sleep where zmq_poll() makes four or five (a
 * first pass with no timeout, then ZMQ_EVENTS before and after the wait),
 * and it sleeps only when there is nothing to do.
 */
static void sleep_on(struct mb_source *s, int zmq_fd, bool watch_socket, int timeout_ms)
{
	struct pollfd fds[2] = {
		{.fd = s->wake_fd, .events = POLLIN},
		{.fd = zmq_fd, .events = POLLIN},
	};
	if (poll(fds, watch_socket ? 2 : 1, timeout_ms) > 0 && (fds[0].revents & POLLIN)) {
		uint64_t v;
		ssize_t n = read(s->wake_fd, &v, sizeof v);
		(void)n;
	}
}

/*
 * The thread body: receive, decode, batch, until the stop flag is raised.
 * It drains the socket without waiting, MSGS_PER_WAKE messages between
 * looks at the linger clock and the flags, and sleeps only once a receive
 * found nothing, which is also the only moment ZMQ_FD may be polled.
 */
static int zmq_run(struct mb_source *s)
{
	zmq_msg_t msg;
	zmq_msg_init(&msg);
	int r = 0, zmq_fd = -1;
	size_t fd_len = sizeof zmq_fd;
	uint32_t linger = mb_ingest_cfg(s->ing)->linger_ms;
	if (zmq_getsockopt(s->sock, ZMQ_FD, &zmq_fd, &fd_len) < 0)
		r = -zmq_errno();
	while (r == 0 && !mb_ingest_stopping(s->ing)) {
		bool paused = mb_ingest_paused(s->ing);
		int more = 0;
		if (paused) {
			submit(s);
		} else {
			more = drain(s, &msg);
			if (more < 0) {
				r = more;
				break;
			}
		}
		if (s->batch && mb_batch_lingered(s->batch, mb_batch_now_ns(), linger))
			submit(s);
		mb_log_limit_tick(&s->limit, LOG_WARNING);
		/* Paused: only the wake eventfd, and the pause flag every POLL_MAX_MS. */
		if (!more)
			sleep_on(s, zmq_fd, !paused, paused ? POLL_MAX_MS : poll_timeout(s));
	}
	/* Whatever is decoded goes to the trainer, which drains every queue before it stops. */
	submit(s);
	publish_counts(s);
	mb_log_limit_flush(&s->limit, LOG_WARNING);
	zmq_msg_close(&msg);
	if (r == -ETERM)
		r = 0;
	return r;
}

/* Wake run() from another thread; a counter write on an eventfd cannot fail short. */
static void zmq_wake(struct mb_source *s)
{
	uint64_t one = 1;
	ssize_t n = write(s->wake_fd, &one, sizeof one);
	(void)n;
}

/* Close the socket; run() has already handed every decoded row on. */
static void zmq_destroy(struct mb_source *s)
{
	source_free(s);
}

const struct mb_source_ops mb_source_zmq_ops = {
	.version = MB_SOURCE_OPS_VERSION,
	.name = "zmq",
	.create = zmq_create,
	.run = zmq_run,
	.wake = zmq_wake,
	.position = NULL,
	.destroy = zmq_destroy,
};
