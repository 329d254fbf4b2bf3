/* SPDX-License-Identifier: MIT */
/*
 * client.c - the producer, subscriber, control client and model view of
 * client.h. Everything here runs in the caller's thread; nothing logs.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "client.h"
#include "sample.h"

/* Bytes a producer lets ZeroMQ queue before a send waits for the daemon. */
#define QUEUE_BYTES (8u << 20)

static uint64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left before deadline (-1: none), never negative. */
static long left_ms(int64_t deadline)
{
	if (deadline < 0)
		return -1;
	int64_t left = deadline - mono_ms();
	return left > 0 ? (long)left : 0;
}

static int64_t deadline_after(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : mono_ms() + timeout_ms;
}

static int zmq_errno_neg(void)
{
	int e = zmq_errno();
	return e > 0 ? -e : -EIO;
}

/* The daemon's own defaults ([zmq] of minibatchd.conf), so both ends notice a dead link alike. */
#define PEER_HEARTBEAT_MS 1000         /* a PING this often */
#define PEER_HEARTBEAT_TIMEOUT_MS 3000 /* no answer for this long drops the connection */
#define PEER_RECONNECT_MS 100          /* first retry after the daemon went away */
#define PEER_RECONNECT_MAX_MS 5000     /* the retry interval doubles up to this */

/*
 * Heartbeats, so a daemon that stalls or vanishes without closing the
 * connection (a host gone, a cable pulled) is noticed and reconnected to,
 * and a capped back-off so a daemon that is down is not hammered.
 */
static int peer_options(void *sock)
{
	static const struct {
		int option, value;
	} opts[] = {
		{ZMQ_HEARTBEAT_IVL, PEER_HEARTBEAT_MS},
		{ZMQ_HEARTBEAT_TIMEOUT, PEER_HEARTBEAT_TIMEOUT_MS},
		{ZMQ_HEARTBEAT_TTL, PEER_HEARTBEAT_TIMEOUT_MS},
		{ZMQ_HANDSHAKE_IVL, PEER_HEARTBEAT_TIMEOUT_MS},
		{ZMQ_RECONNECT_IVL, PEER_RECONNECT_MS},
		{ZMQ_RECONNECT_IVL_MAX, PEER_RECONNECT_MAX_MS},
	};
	for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
		if (zmq_setsockopt(sock, opts[i].option, &opts[i].value, sizeof opts[i].value))
			return zmq_errno_neg();
	return 0;
}

/* The context an object uses: the caller's, or a new one it owns. */
static int context_take(void *given, void **ret_ctx, bool *ret_owned)
{
	if (given) {
		*ret_ctx = given;
		*ret_owned = false;
		return 0;
	}
	void *ctx = zmq_ctx_new();
	if (!ctx)
		return zmq_errno_neg();
	*ret_ctx = ctx;
	*ret_owned = true;
	return 0;
}

static void context_drop(void *ctx, bool owned)
{
	if (owned && ctx)
		zmq_ctx_term(ctx);
}

/* ---- Where the daemon listens ---- */

/*
 * Write the daemon's runtime directory into buf: $RUNTIME_DIRECTORY (its
 * first entry, as systemd lists several with ':'), /run/minibatchd as
 * root, $XDG_RUNTIME_DIR/minibatchd. 0, -ENOENT or -ENAMETOOLONG.
 */
int mb_client_runtime_dir(char *buf, size_t cap)
{
	const char *rd = getenv("RUNTIME_DIRECTORY");
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n;

	if (rd && *rd) {
		size_t len = strcspn(rd, ":");
		n = snprintf(buf, cap, "%.*s", (int)len, rd);
	} else if (geteuid() == 0) {
		n = snprintf(buf, cap, "/run/minibatchd");
	} else if (xdg && *xdg) {
		n = snprintf(buf, cap, "%s/minibatchd", xdg);
	} else {
		return -ENOENT;
	}
	if (n < 0 || (size_t)n >= cap)
		return -ENAMETOOLONG;
	return 0;
}

/* Write "ipc://DIR/NAME" into buf; 0 or -ENAMETOOLONG. */
int mb_client_endpoint(const char *dir, const char *name, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "ipc://%s/%s", dir, name);
	if (n < 0 || (size_t)n >= cap)
		return -ENAMETOOLONG;
	return 0;
}

/* ---- CURVE keys ---- */

#define KEY_FILE_MAX_BYTES 4096u /* a key file is a line or two of text */

/* True for the transports that never leave the host, and so never carry CURVE. */
static bool endpoint_is_local(const char *endpoint)
{
	return strncmp(endpoint, "ipc://", 6) == 0 || strncmp(endpoint, "inproc://", 9) == 0;
}

/* Make sock a CURVE client of the daemon when keys are given and the endpoint is a network one. */
static int curve_options(void *sock, const struct mb_client_curve *curve, const char *endpoint)
{
	if (!curve || endpoint_is_local(endpoint))
		return 0;
	size_t n = MB_CLIENT_KEY_Z85_BYTES + 1;
	if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, curve->server_key, n) ||
	    zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, curve->public_key, n) ||
	    zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, curve->secret_key, n))
		return zmq_errno_neg();
	return 0;
}

/*
 * True when text is 40 characters of z85 that decode to a 32-byte key. The
 * key may be a secret one: its decoded copy does not outlive the check.
 */
static bool z85_key_valid(const char *text)
{
	uint8_t raw[32];
	bool valid = strlen(text) == MB_CLIENT_KEY_Z85_BYTES && zmq_z85_decode(raw, text) != NULL;
	explicit_bzero(raw, sizeof raw);
	return valid;
}

/* The key line of text, trimmed in place: the first line neither blank nor a comment; NULL without one. */
static char *key_line(char *text)
{
	for (char *line = text; line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		char *end = line + strlen(line);
		while (*line == ' ' || *line == '\t')
			line++;
		while (end > line && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
			*--end = '\0';
		if (*line && *line != '#')
			return line;
		line = nl ? nl + 1 : NULL;
	}
	return NULL;
}

/*
 * Read a key file (see client.h). The file may hold a secret key: the text
 * read is wiped on every way out, and only ret keeps the key.
 */
int mb_client_key_read(const char *path, char ret[MB_CLIENT_KEY_Z85_BYTES + 1])
{
	char text[KEY_FILE_MAX_BYTES + 1];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t len = 0;
	int r = 0;
	while (len < sizeof text - 1) {
		ssize_t n = read(fd, text + len, sizeof text - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	char extra;
	if (r == 0 && len == sizeof text - 1 && read(fd, &extra, 1) == 1)
		r = -E2BIG;
	close(fd);
	if (r < 0)
		goto out_wipe;
	text[len] = '\0';
	const char *line = key_line(text);
	if (!line || !z85_key_valid(line)) {
		r = -EBADMSG;
		goto out_wipe;
	}
	memcpy(ret, line, MB_CLIENT_KEY_Z85_BYTES + 1);
out_wipe:
	explicit_bzero(text, sizeof text);
	return r;
}

/* Write text to a new file at path with mode; -EEXIST when it is there already. */
static int write_new_file(const char *path, mode_t mode, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	size_t len = strlen(text), done = 0;
	int r = 0;
	/* The mode given to open() passes through the umask; the secret key's must not be wider. */
	if (fchmod(fd, mode) < 0)
		r = -errno;
	while (r == 0 && done < len) {
		ssize_t n = write(fd, text + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			r = -errno;
		else
			done += (size_t)n;
	}
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r < 0)
		unlink(path);
	return r;
}

/* Write a new key pair as dir/NAME.key and dir/NAME.pub (see client.h). */
int mb_client_keypair_write(const char *dir, const char *name)
{
	if (!dir || !*dir || !name || !*name || strchr(name, '/'))
		return -EINVAL;
	char pub[MB_CLIENT_KEY_Z85_BYTES + 1], sec[MB_CLIENT_KEY_Z85_BYTES + 1];
	char key_path[4096], pub_path[4096], text[256];
	int r = 0;
	if (zmq_curve_keypair(pub, sec) < 0) {
		r = zmq_errno_neg();
		goto out_wipe;
	}
	if ((size_t)snprintf(key_path, sizeof key_path, "%s/%s.key", dir, name) >= sizeof key_path ||
	    (size_t)snprintf(pub_path, sizeof pub_path, "%s/%s.pub", dir, name) >= sizeof pub_path) {
		r = -ENAMETOOLONG;
		goto out_wipe;
	}
	if (access(pub_path, F_OK) == 0) {
		r = -EEXIST;
		goto out_wipe;
	}
	snprintf(text, sizeof text, "# CURVE secret key of %s (ZeroMQ z85). Keep it private.\n%s\n", name, sec);
	if ((r = write_new_file(key_path, 0600, text)) < 0)
		goto out_wipe;
	snprintf(text, sizeof text, "# CURVE public key of %s (ZeroMQ z85).\n%s\n", name, pub);
	if ((r = write_new_file(pub_path, 0644, text)) < 0)
		unlink(key_path);
out_wipe:
	explicit_bzero(pub, sizeof pub);
	explicit_bzero(sec, sizeof sec);
	explicit_bzero(text, sizeof text);
	return r;
}

/* Load a client's CURVE keys (see client.h). */
int mb_client_curve_load(const char *server_key_file, const char *key_file, struct mb_client_curve *ret)
{
	struct mb_client_curve c;
	int r;
	if ((r = mb_client_key_read(server_key_file, c.server_key)) < 0 ||
	    (r = mb_client_key_read(key_file, c.secret_key)) < 0)
		goto out_wipe;
	if (zmq_curve_public(c.public_key, c.secret_key) < 0) {
		r = zmq_errno_neg();
		goto out_wipe;
	}
	*ret = c;
out_wipe:
	explicit_bzero(&c, sizeof c);
	return r;
}

/* ---- Producer ---- */

struct mb_producer {
	void *ctx;                 /* ZeroMQ context */
	bool own_ctx;              /* ctx is ours to terminate */
	void *sock;                /* PUSH or PUB socket */
	char *topic;               /* PUB topic, NULL for PUSH */
	size_t topic_len;          /* bytes of topic */
	uint32_t batch;            /* samples or lines per message */
	uint32_t n_features;       /* features per sample, 0 for text only */
	uint32_t n_targets;        /* targets per sample */
	enum mb_elem elem;         /* element type on the wire */
	float scale, offset;       /* element scaling */
	bool weighted;             /* rows carry a weight */
	int timeout_ms;            /* send and close timeout, -1 forever */
	float *x, *y, *w;          /* gathered samples: batch rows each */
	uint32_t pending;          /* samples gathered, not sent */
	uint8_t *msg;              /* encode buffer for one full message */
	size_t msg_cap;            /* its bytes */
	char *text;                /* gathered text lines, allocated on the first line */
	size_t text_len;           /* bytes gathered */
	uint32_t text_lines;       /* lines gathered */
	uint64_t sent;             /* samples and lines handed to ZeroMQ */
	uint64_t messages;         /* messages handed to ZeroMQ */
};

static int producer_check(const struct mb_producer_cfg *cfg)
{
	if (!cfg || !cfg->endpoint || !*cfg->endpoint)
		return -EINVAL;
	if (cfg->batch > MB_MAX_SAMPLES_PER_MSG || cfg->n_features > MB_MAX_FEATURES ||
	    cfg->n_targets > MB_MAX_TARGETS)
		return -EINVAL;
	if (cfg->topic && strlen(cfg->topic) > MB_MAX_TOPIC_BYTES)
		return -EINVAL;
	switch ((int)cfg->elem) {
	case 0:
	case MB_ELEM_F32:
		break;
	case MB_ELEM_F16:
	case MB_ELEM_U8:
		if (!(cfg->scale > 0.0f) || !isfinite(cfg->scale) || !isfinite(cfg->offset))
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}
	return 0;
}

/* Allocate the sample buffers; the text buffer waits for the first line. */
static int producer_buffers(struct mb_producer *p)
{
	if (!p->n_features)
		return 0;
	/* A full message must fit the daemon's limit; that also bounds the buffers below. */
	p->msg_cap = mb_sample_bin_size(p->batch, p->n_features, p->n_targets, p->elem, p->weighted);
	if (!p->msg_cap || p->msg_cap > MB_MAX_MSG_BYTES)
		return -E2BIG;
	size_t b = p->batch;
	p->x = malloc(b * p->n_features * sizeof(float));
	p->y = p->n_targets ? malloc(b * p->n_targets * sizeof(float)) : NULL;
	p->w = p->weighted ? malloc(b * sizeof(float)) : NULL;
	p->msg = malloc(p->msg_cap);
	if (!p->x || (p->n_targets && !p->y) || (p->weighted && !p->w) || !p->msg)
		return -ENOMEM;
	return 0;
}

/* Set the socket up: how much it may queue, how long a send may wait. */
static int producer_socket(struct mb_producer *p)
{
	p->sock = zmq_socket(p->ctx, p->topic ? ZMQ_PUB : ZMQ_PUSH);
	if (!p->sock)
		return zmq_errno_neg();
	size_t msg_bytes = p->msg_cap ? p->msg_cap : MB_CLIENT_TEXT_MSG_BYTES;
	size_t hwm = QUEUE_BYTES / msg_bytes;
	int hwm_i = hwm < 4 ? 4 : hwm > 1000 ? 1000 : (int)hwm;
	int zero = 0, on = 1;
	/* Queue only towards a daemon that is there, so a missing one times a send out. */
	if (zmq_setsockopt(p->sock, ZMQ_IMMEDIATE, &on, sizeof on) ||
	    zmq_setsockopt(p->sock, ZMQ_SNDHWM, &hwm_i, sizeof hwm_i) ||
	    zmq_setsockopt(p->sock, ZMQ_SNDTIMEO, &p->timeout_ms, sizeof p->timeout_ms) ||
	    zmq_setsockopt(p->sock, ZMQ_LINGER, &zero, sizeof zero))
		return zmq_errno_neg();
	return peer_options(p->sock);
}

/*
 * Connect a producer to cfg->endpoint: a PUSH socket, or a PUB socket when
 * a topic is given. Returns 0 with *ret set, or -errno.
 */
int mb_producer_new(const struct mb_producer_cfg *cfg, struct mb_producer **ret)
{
	return mb_producer_new_curve(cfg, NULL, ret);
}

/* mb_producer_new, a CURVE client on network endpoints when curve is not NULL. */
int mb_producer_new_curve(const struct mb_producer_cfg *cfg, const struct mb_client_curve *curve,
			  struct mb_producer **ret)
{
	int r = producer_check(cfg);
	if (r < 0)
		return r;
	struct mb_producer *p = calloc(1, sizeof *p);
	if (!p)
		return -ENOMEM;
	p->batch = cfg->batch ? cfg->batch : MB_CLIENT_DEFAULT_BATCH;
	p->n_features = cfg->n_features;
	p->n_targets = cfg->n_targets;
	p->elem = cfg->elem ? cfg->elem : MB_ELEM_F32;
	p->scale = p->elem == MB_ELEM_F32 ? 1.0f : cfg->scale;
	p->offset = p->elem == MB_ELEM_F32 ? 0.0f : cfg->offset;
	p->weighted = cfg->weighted;
	p->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : MB_CLIENT_DEFAULT_TIMEOUT_MS;
	if (p->timeout_ms < 0)
		p->timeout_ms = -1;
	if (cfg->topic && *cfg->topic) {
		p->topic = strdup(cfg->topic);
		if (!p->topic) {
			r = -ENOMEM;
			goto out_free;
		}
		p->topic_len = strlen(p->topic);
	}
	r = producer_buffers(p);
	if (r < 0)
		goto out_free;
	r = context_take(cfg->zmq_ctx, &p->ctx, &p->own_ctx);
	if (r < 0)
		goto out_free;
	r = producer_socket(p);
	if (r < 0)
		goto out_free;
	if ((r = curve_options(p->sock, curve, cfg->endpoint)) < 0)
		goto out_free;
	if (zmq_connect(p->sock, cfg->endpoint)) {
		r = zmq_errno_neg();
		goto out_free;
	}
	*ret = p;
	return 0;

out_free:
	mb_producer_free(p);
	return r;
}

/* Send one payload, after the topic frame on a PUB socket. */
static int producer_send(struct mb_producer *p, const void *buf, size_t len)
{
	if (p->topic && zmq_send(p->sock, p->topic, p->topic_len, ZMQ_SNDMORE) < 0)
		return zmq_errno_neg();
	if (zmq_send(p->sock, buf, len, 0) < 0)
		return zmq_errno_neg();
	p->messages++;
	return 0;
}

static int producer_flush_samples(struct mb_producer *p)
{
	if (!p->pending)
		return 0;
	struct mb_sample_batch b = {
		.count = p->pending,
		.n_features = p->n_features,
		.n_targets = p->n_targets,
		.x = p->x,
		.y = p->y,
		.w = p->w,
		.elem = p->elem,
		.scale = p->scale,
		.offset = p->offset,
	};
	long n = mb_sample_bin_encode(p->msg, p->msg_cap, &b);
	if (n < 0)
		return (int)n;
	int r = producer_send(p, p->msg, (size_t)n);
	if (r < 0)
		return r;
	p->sent += p->pending;
	p->pending = 0;
	return 0;
}

static int producer_flush_text(struct mb_producer *p)
{
	if (!p->text_lines)
		return 0;
	int r = producer_send(p, p->text, p->text_len);
	if (r < 0)
		return r;
	p->sent += p->text_lines;
	p->text_lines = 0;
	p->text_len = 0;
	return 0;
}

/*
 * Gather count samples, sending a message whenever batch have gathered.
 * Returns count, fewer when a send failed part way (the rest were not
 * taken), or -errno when a send failed before any was taken.
 */
int mb_producer_append(struct mb_producer *p, const float *x, const float *y, const float *w,
		       uint32_t count)
{
	if (!p->n_features || !x || (p->n_targets && !y))
		return -EINVAL;
	int r = producer_flush_text(p);
	if (r < 0)
		return r;
	uint32_t taken = 0;
	while (taken < count) {
		if (p->pending == p->batch) {
			r = producer_flush_samples(p);
			if (r < 0)
				return taken ? (int)taken : r;
		}
		uint32_t k = p->batch - p->pending;
		if (k > count - taken)
			k = count - taken;
		memcpy(p->x + (size_t)p->pending * p->n_features, x + (size_t)taken * p->n_features,
		       (size_t)k * p->n_features * sizeof(float));
		if (p->n_targets)
			memcpy(p->y + (size_t)p->pending * p->n_targets, y + (size_t)taken * p->n_targets,
			       (size_t)k * p->n_targets * sizeof(float));
		if (p->weighted)
			for (uint32_t i = 0; i < k; i++)
				p->w[p->pending + i] = w ? w[taken + i] : 1.0f;
		p->pending += k;
		taken += k;
	}
	/* A full message goes now; should the daemon be slow, the next call retries. */
	if (p->pending == p->batch)
		(void)producer_flush_samples(p);
	return (int)taken;
}

/*
 * Gather one text line (a '\n' is added when missing). Returns 1 once
 * taken, -errno (line not taken) when a send that had to come first failed.
 */
int mb_producer_send_line(struct mb_producer *p, const char *line, size_t len)
{
	if (!line)
		return -EINVAL;
	if (len && line[len - 1] == '\n')
		len--;
	if (len + 1 > MB_MAX_LINE_BYTES)
		return -E2BIG;
	if (memchr(line, '\n', len))
		return -EINVAL;
	int r = producer_flush_samples(p);
	if (r < 0)
		return r;
	if (!p->text) {
		p->text = malloc(MB_CLIENT_TEXT_MSG_BYTES + MB_MAX_LINE_BYTES);
		if (!p->text)
			return -ENOMEM;
	}
	if (p->text_lines == p->batch || p->text_len + len + 1 > MB_CLIENT_TEXT_MSG_BYTES) {
		r = producer_flush_text(p);
		if (r < 0)
			return r;
	}
	memcpy(p->text + p->text_len, line, len);
	p->text[p->text_len + len] = '\n';
	p->text_len += len + 1;
	p->text_lines++;
	if (p->text_lines == p->batch || p->text_len >= MB_CLIENT_TEXT_MSG_BYTES)
		(void)producer_flush_text(p);
	return 1;
}

/* Send the gathered samples and lines; 0 or -errno (they stay gathered). */
int mb_producer_flush(struct mb_producer *p)
{
	int r = producer_flush_samples(p);
	if (r < 0)
		return r;
	return producer_flush_text(p);
}

/* Samples and lines handed to ZeroMQ so far. */
uint64_t mb_producer_sent(const struct mb_producer *p)
{
	return p->sent;
}

/* Messages handed to ZeroMQ so far. */
uint64_t mb_producer_messages(const struct mb_producer *p)
{
	return p->messages;
}

/*
 * Flush, give ZeroMQ up to the timeout to deliver the queue, and free p.
 * Returns 0 or the flush's -errno.
 */
int mb_producer_close(struct mb_producer *p)
{
	if (!p)
		return 0;
	int r = mb_producer_flush(p);
	if (p->sock) {
		int linger = p->timeout_ms;
		zmq_setsockopt(p->sock, ZMQ_LINGER, &linger, sizeof linger);
	}
	mb_producer_free(p);
	return r;
}

/* Free p without sending what is gathered; NULL is fine. Returns NULL. */
struct mb_producer *mb_producer_free(struct mb_producer *p)
{
	if (!p)
		return NULL;
	if (p->sock)
		zmq_close(p->sock);
	context_drop(p->ctx, p->own_ctx);
	free(p->topic);
	free(p->x);
	free(p->y);
	free(p->w);
	free(p->msg);
	free(p->text);
	free(p);
	return NULL;
}

/* ---- Subscriber ---- */

struct mb_subscriber {
	void *ctx;               /* ZeroMQ context */
	bool own_ctx;            /* ctx is ours to terminate */
	void *sock;              /* SUB socket */
	char *topic;             /* exact topic wanted, "" for all */
};

/*
 * Connect a SUB socket to cfg->endpoint following cfg->topic ("" or NULL:
 * every model). Returns 0 with *ret set, or -errno.
 */
int mb_subscriber_new(const struct mb_subscriber_cfg *cfg, struct mb_subscriber **ret)
{
	return mb_subscriber_new_curve(cfg, NULL, ret);
}

/* mb_subscriber_new, a CURVE client on network endpoints when curve is not NULL. */
int mb_subscriber_new_curve(const struct mb_subscriber_cfg *cfg, const struct mb_client_curve *curve,
			    struct mb_subscriber **ret)
{
	if (!cfg || !cfg->endpoint || !*cfg->endpoint)
		return -EINVAL;
	const char *topic = cfg->topic ? cfg->topic : "";
	if (strlen(topic) > MB_MAX_TOPIC_BYTES)
		return -EINVAL;
	struct mb_subscriber *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	int r;
	s->topic = strdup(topic);
	if (!s->topic) {
		r = -ENOMEM;
		goto out_free;
	}
	r = context_take(cfg->zmq_ctx, &s->ctx, &s->own_ctx);
	if (r < 0)
		goto out_free;
	s->sock = zmq_socket(s->ctx, ZMQ_SUB);
	if (!s->sock) {
		r = zmq_errno_neg();
		goto out_free;
	}
	int zero = 0;
	/* Snapshots a slow viewer has not read yet are kept; the latest call skips them. */
	if (zmq_setsockopt(s->sock, ZMQ_LINGER, &zero, sizeof zero) ||
	    zmq_setsockopt(s->sock, ZMQ_SUBSCRIBE, topic, strlen(topic))) {
		r = zmq_errno_neg();
		goto out_free;
	}
	if ((r = peer_options(s->sock)) < 0 || (r = curve_options(s->sock, curve, cfg->endpoint)) < 0)
		goto out_free;
	if (zmq_connect(s->sock, cfg->endpoint)) {
		r = zmq_errno_neg();
		goto out_free;
	}
	*ret = s;
	return 0;

out_free:
	mb_subscriber_free(s);
	return r;
}

/* Close the socket and free s; NULL is fine. Returns NULL. */
struct mb_subscriber *mb_subscriber_free(struct mb_subscriber *s)
{
	if (!s)
		return NULL;
	if (s->sock)
		zmq_close(s->sock);
	context_drop(s->ctx, s->own_ctx);
	free(s->topic);
	free(s);
	return NULL;
}

/* Free a received snapshot; NULL is fine. Returns NULL. */
struct mb_client_snap *mb_client_snap_free(struct mb_client_snap *snap)
{
	if (!snap)
		return NULL;
	free(snap->body);
	free(snap);
	return NULL;
}

/* Receive the remaining frames of a message and throw them away. */
static void drain_frames(void *sock)
{
	int more = 1;
	size_t sz = sizeof more;
	while (zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &sz) == 0 && more) {
		zmq_msg_t m;
		zmq_msg_init(&m);
		int n = zmq_msg_recv(&m, sock, ZMQ_DONTWAIT);
		zmq_msg_close(&m);
		if (n < 0)
			break;
	}
}

/* Wait up to ms (-1 forever) for sock to be readable: 1, 0 on timeout, -errno. */
static int wait_readable(void *sock, long ms)
{
	zmq_pollitem_t it = {.socket = sock, .events = ZMQ_POLLIN};
	int n = zmq_poll(&it, 1, ms);
	if (n < 0)
		return zmq_errno_neg();
	return n > 0 && (it.revents & ZMQ_POLLIN) ? 1 : 0;
}

/* Turn a two-frame snapshot message into a validated struct mb_client_snap. */
static int snap_from_frames(zmq_msg_t *topic, zmq_msg_t *body, struct mb_client_snap **ret,
			    struct mb_diag *diag)
{
	size_t tlen = zmq_msg_size(topic);
	if (tlen == 0 || tlen > MB_MAX_TOPIC_BYTES)
		return mb_diag_set(diag, -EBADMSG, MB_R_TOO_BIG, 0, 0,
				   "snapshot topic of %zu bytes (1..%u allowed)", tlen, MB_MAX_TOPIC_BYTES);
	struct mb_client_snap *snap = calloc(1, sizeof *snap);
	if (!snap)
		return -ENOMEM;
	snap->received_ns = wall_ns();
	memcpy(snap->topic, zmq_msg_data(topic), tlen);
	snap->len = zmq_msg_size(body);
	snap->body = malloc(snap->len ? snap->len : 1);
	if (!snap->body) {
		mb_client_snap_free(snap);
		return -ENOMEM;
	}
	memcpy(snap->body, zmq_msg_data(body), snap->len);
	int r = mb_snap_decode(snap->body, snap->len, &snap->info, &snap->params, diag);
	if (r < 0) {
		mb_client_snap_free(snap);
		return r;
	}
	*ret = snap;
	return 0;
}

/*
 * Take one message off the socket, which has one ready: 0 with *ret, 1 when
 * it belongs to another topic (prefix matches only), -errno otherwise.
 */
static int subscriber_take(struct mb_subscriber *s, struct mb_client_snap **ret, struct mb_diag *diag)
{
	zmq_msg_t topic, body;
	int r;

	zmq_msg_init(&topic);
	zmq_msg_init(&body);
	if (zmq_msg_recv(&topic, s->sock, ZMQ_DONTWAIT) < 0) {
		r = zmq_errno_neg();
		goto out_close_msgs;
	}
	if (!zmq_msg_more(&topic)) {
		r = mb_diag_set(diag, -EBADMSG, MB_R_TRUNCATED, 0, 0, "snapshot message of one frame (two expected)");
		goto out_close_msgs;
	}
	if (zmq_msg_recv(&body, s->sock, ZMQ_DONTWAIT) < 0) {
		r = zmq_errno_neg();
		goto out_drain;
	}
	if (zmq_msg_more(&body)) {
		r = mb_diag_set(diag, -EBADMSG, MB_R_TRAILING, 0, 0, "snapshot message of more than two frames");
		goto out_drain;
	}
	if (*s->topic && (zmq_msg_size(&topic) != strlen(s->topic) ||
			  memcmp(zmq_msg_data(&topic), s->topic, strlen(s->topic)))) {
		r = 1;
		goto out_close_msgs;
	}
	r = snap_from_frames(&topic, &body, ret, diag);
	goto out_close_msgs;

out_drain:
	drain_frames(s->sock);
out_close_msgs:
	zmq_msg_close(&body);
	zmq_msg_close(&topic);
	return r;
}

/*
 * Wait up to timeout_ms for the next snapshot of our topic. 0 with *ret,
 * -ETIMEDOUT, -EINTR, or a decoder's -errno for an invalid message.
 */
int mb_subscriber_recv(struct mb_subscriber *s, int timeout_ms, struct mb_client_snap **ret,
		       struct mb_diag *diag)
{
	int64_t deadline = deadline_after(timeout_ms);
	for (;;) {
		int r = wait_readable(s->sock, left_ms(deadline));
		if (r < 0)
			return r;
		if (r == 0)
			return -ETIMEDOUT;
		r = subscriber_take(s, ret, diag);
		if (r == -EAGAIN)
			continue; /* readiness ran ahead of a whole message; wait again */
		if (r != 1)
			return r;
		/* Another model's snapshot: each pass consumes one, so the loop ends. */
	}
}

/*
 * The newest valid snapshot among those queued once one has arrived (see
 * mb_subscriber_recv for the waiting and the codes).
 */
int mb_subscriber_latest(struct mb_subscriber *s, int timeout_ms, struct mb_client_snap **ret,
			 struct mb_diag *diag)
{
	struct mb_client_snap *best = NULL;
	int r = mb_subscriber_recv(s, timeout_ms, &best, diag);
	if (r == -ETIMEDOUT || r == -EINTR || r == -ENOMEM)
		return r;
	int err = r;
	for (;;) {
		struct mb_client_snap *next = NULL;
		struct mb_diag d2;
		r = mb_subscriber_recv(s, 0, &next, best ? &d2 : diag);
		if (r == -ETIMEDOUT || r == -EINTR)
			break;
		if (r < 0) {
			if (!best)
				err = r;
			continue;
		}
		mb_client_snap_free(best);
		best = next;
	}
	if (!best)
		return err;
	*ret = best;
	return 0;
}

/* ---- Control client ---- */

struct mb_client {
	void *ctx;       /* ZeroMQ context */
	bool own_ctx;    /* ctx is ours to terminate */
	void *sock;      /* REQ socket, made anew after a timeout */
	char *endpoint;  /* control endpoint */
	bool curve_on;   /* curve holds keys for a network endpoint */
	struct mb_client_curve curve; /* the keys, for every socket made anew; wiped at free */
};

static int client_connect(struct mb_client *c)
{
	c->sock = zmq_socket(c->ctx, ZMQ_REQ);
	if (!c->sock)
		return zmq_errno_neg();
	int zero = 0, r = 0;
	if (zmq_setsockopt(c->sock, ZMQ_LINGER, &zero, sizeof zero) || (r = peer_options(c->sock)) < 0 ||
	    (r = curve_options(c->sock, c->curve_on ? &c->curve : NULL, c->endpoint)) < 0 ||
	    zmq_connect(c->sock, c->endpoint)) {
		if (r == 0)
			r = zmq_errno_neg();
		zmq_close(c->sock);
		c->sock = NULL;
		return r;
	}
	return 0;
}

/* Connect a REQ socket to the control endpoint. 0 with *ret set, or -errno. */
int mb_client_new(const char *endpoint, void *zmq_ctx, struct mb_client **ret)
{
	return mb_client_new_curve(endpoint, zmq_ctx, NULL, ret);
}

/* mb_client_new, a CURVE client on network endpoints when curve is not NULL. */
int mb_client_new_curve(const char *endpoint, void *zmq_ctx, const struct mb_client_curve *curve,
			struct mb_client **ret)
{
	if (!endpoint || !*endpoint)
		return -EINVAL;
	struct mb_client *c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	int r;
	if (curve) {
		c->curve = *curve;
		c->curve_on = true;
	}
	c->endpoint = strdup(endpoint);
	if (!c->endpoint) {
		r = -ENOMEM;
		goto out_free;
	}
	r = context_take(zmq_ctx, &c->ctx, &c->own_ctx);
	if (r < 0)
		goto out_free;
	r = client_connect(c);
	if (r < 0)
		goto out_free;
	*ret = c;
	return 0;

out_free:
	mb_client_free(c);
	return r;
}

/* Close the socket and free c; NULL is fine. Returns NULL. */
struct mb_client *mb_client_free(struct mb_client *c)
{
	if (!c)
		return NULL;
	if (c->sock)
		zmq_close(c->sock);
	context_drop(c->ctx, c->own_ctx);
	free(c->endpoint);
	/* Freed memory is not read again, so a plain memset before free() may be dropped: this one stays. */
	explicit_bzero(&c->curve, sizeof c->curve);
	free(c);
	return NULL;
}

/* Wait for one of events on sock until deadline: 0, -ETIMEDOUT or -errno. */
static int wait_event(void *sock, short events, int64_t deadline)
{
	zmq_pollitem_t it = {.socket = sock, .events = events};
	int n = zmq_poll(&it, 1, left_ms(deadline));
	if (n < 0)
		return zmq_errno_neg();
	return n > 0 && (it.revents & events) ? 0 : -ETIMEDOUT;
}

/* One request-reply exchange on the current socket. */
static int client_exchange(struct mb_client *c, const char *request, size_t len, int64_t deadline,
			   char **ret_reply)
{
	int r = wait_event(c->sock, ZMQ_POLLOUT, deadline);
	if (r < 0)
		return r;
	if (zmq_send(c->sock, request, len, ZMQ_DONTWAIT) < 0)
		return zmq_errno_neg();
	r = wait_event(c->sock, ZMQ_POLLIN, deadline);
	if (r < 0)
		return r;
	zmq_msg_t m;
	zmq_msg_init(&m);
	if (zmq_msg_recv(&m, c->sock, ZMQ_DONTWAIT) < 0) {
		r = zmq_errno_neg();
		goto out_close_msg;
	}
	if (zmq_msg_more(&m))
		drain_frames(c->sock);
	size_t n = zmq_msg_size(&m);
	if (n > MB_CLIENT_MAX_REPLY_BYTES) {
		r = -E2BIG;
		goto out_close_msg;
	}
	char *reply = malloc(n + 1);
	if (!reply) {
		r = -ENOMEM;
		goto out_close_msg;
	}
	memcpy(reply, zmq_msg_data(&m), n);
	reply[n] = '\0';
	*ret_reply = reply;
	r = 0;
out_close_msg:
	zmq_msg_close(&m);
	return r;
}

/*
 * Send request and wait for the reply until the timeout. Any failure after
 * the request may have gone leaves the REQ socket expecting a reply it
 * will never get, so the socket is made anew before returning.
 */
int mb_client_request(struct mb_client *c, const char *request, int timeout_ms, char **ret_reply)
{
	if (!request)
		return -EINVAL;
	size_t len = strlen(request);
	if (len == 0)
		return -EINVAL;
	if (len > MB_MAX_CONTROL_BYTES)
		return -E2BIG;
	if (!c->sock) {
		int r = client_connect(c);
		if (r < 0)
			return r;
	}
	int64_t deadline = deadline_after(timeout_ms ? timeout_ms : MB_CLIENT_DEFAULT_TIMEOUT_MS);
	char *reply = NULL;
	int r = client_exchange(c, request, len, deadline, &reply);
	if (r < 0) {
		zmq_close(c->sock);
		c->sock = NULL;
		(void)client_connect(c); /* should it fail, the next request tries again */
		return r == -EAGAIN ? -ETIMEDOUT : r;
	}
	*ret_reply = reply;
	return 0;
}

/* ---- Model view ---- */

/* A model shaped and filled from snap, scoring up to max_batch rows at once. */
int mb_client_model(const struct mb_client_snap *snap, uint32_t max_batch, struct mb_model **ret)
{
	if (!snap || !max_batch)
		return -EINVAL;
	return mb_model_from_snap(&snap->info, snap->params, max_batch, ret);
}

/* Classes of a classifier (2 for a logistic head), 0 for regression. */
uint32_t mb_client_n_classes(const struct mb_model *m)
{
	if (!mb_model_is_classifier(m))
		return 0;
	struct mb_snap_info info;
	memset(&info, 0, sizeof info);
	mb_model_describe(m, &info);
	uint32_t out = info.sizes[info.n_layers];
	return out == 1 ? 2 : out;
}

/* The class a target row names, or -EINVAL. */
static int label_class(float y, uint32_t n_classes, uint32_t *ret)
{
	if (n_classes == 2 && !(y >= 0.0f && y <= 1.0f))
		return -EINVAL;
	if (n_classes == 2) {
		*ret = y > 0.5f ? 1 : 0;
		return 0;
	}
	if (!(y >= 0.0f && y < (float)n_classes) || y != floorf(y))
		return -EINVAL;
	*ret = (uint32_t)y;
	return 0;
}

/*
 * Forward slices of at most max_batch rows; after each, sum the cost and
 * the correct rows and fill the confusion matrix.
 */
int mb_client_score(struct mb_model *m, const float *x, const float *y, uint64_t rows,
		    uint64_t *confusion, struct mb_client_score *ret)
{
	if (!m || !x || !y)
		return -EINVAL;
	if (!rows)
		return -ENODATA;
	struct mb_snap_info info;
	memset(&info, 0, sizeof info);
	mb_model_describe(m, &info);
	uint32_t n_in = info.sizes[0], n_t = mb_model_n_targets(m), n_cls = mb_client_n_classes(m);
	uint32_t max = mb_model_cfg(m)->max_batch;
	if (n_cls) {
		for (uint64_t i = 0; i < rows; i++) {
			uint32_t k;
			if (label_class(y[i * n_t], n_cls, &k) < 0)
				return -EINVAL;
		}
	}
	uint32_t *cls = NULL;
	if (n_cls && confusion) {
		cls = malloc((size_t)max * sizeof *cls);
		if (!cls)
			return -ENOMEM;
	}
	double cost_sum = 0.0;
	uint64_t correct = 0;
	int r = 0;
	for (uint64_t off = 0; off < rows; off += max) {
		uint32_t k = rows - off < max ? (uint32_t)(rows - off) : max;
		r = mb_model_forward(m, x + off * n_in, k);
		if (r < 0)
			goto out_free_cls;
		uint32_t ok = 0;
		double c = mb_model_cost(m, y + off * n_t, NULL, k, n_cls ? &ok : NULL);
		if (!isfinite(c)) {
			r = -EDOM;
			goto out_free_cls;
		}
		cost_sum += c * k;
		correct += ok;
		if (cls) {
			mb_model_argmax(m, k, cls);
			for (uint32_t i = 0; i < k; i++) {
				uint32_t t = 0;
				label_class(y[(off + i) * n_t], n_cls, &t);
				if (cls[i] < n_cls)
					confusion[(size_t)t * n_cls + cls[i]]++;
			}
		}
	}
	ret->rows = rows;
	ret->cost = cost_sum / (double)rows;
	ret->correct = n_cls ? correct : 0;
	ret->accuracy = n_cls ? (double)correct / (double)rows : NAN;
out_free_cls:
	free(cls);
	return r;
}

/* Outputs and predicted classes of rows of x, slice by slice. */
int mb_client_predict(struct mb_model *m, const float *x, uint64_t rows, float *out, uint32_t *cls)
{
	if (!m || !x)
		return -EINVAL;
	const struct mb_model_cfg *cfg = mb_model_cfg(m);
	struct mb_snap_info info;
	memset(&info, 0, sizeof info);
	mb_model_describe(m, &info);
	uint32_t n_in = info.sizes[0], n_out = info.sizes[info.n_layers], max = cfg->max_batch;
	bool classify = cls && mb_model_is_classifier(m);
	for (uint64_t off = 0; off < rows; off += max) {
		uint32_t k = rows - off < max ? (uint32_t)(rows - off) : max;
		int r = mb_model_forward(m, x + off * n_in, k);
		if (r < 0)
			return r;
		if (out)
			memcpy(out + off * n_out, mb_model_output(m), (size_t)k * n_out * sizeof(float));
		if (classify)
			mb_model_argmax(m, k, cls + off);
	}
	return 0;
}
