/* SPDX-License-Identifier: MIT */
/* zap.c - the ZAP handler thread: allowed CURVE client keys, refused peers counted. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "client.h"
#include "curve.h"
#include "log.h"
#include "zap.h"

#define KEY_BYTES        32u /* a CURVE public key, raw */
#define ZAP_MAX_FRAMES   16u /* frames of a request we look at; the rest are drained */
#define ZAP_FRAME_BYTES  256u /* longest request frame we look at */
#define ZAP_SEND_TIMEOUT_MS 1000 /* a reply frame libzmq does not take by then is given up */
#define ZAP_RETRY_MS     100  /* pause after a failed poll, so a lasting failure does not spin */
/*
 * Every connection that fails its handshake on a CURVE endpoint is one of
 * these events, exactly once: a key the ZAP handler refused (auth), a peer
 * without CURVE or sending garbage (protocol, or no detail when the peer
 * noticed the mismatch first and hung up).
 */
#define MONITOR_EVENTS                                                                            \
	(ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |              \
	 ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)

/* A set of allowed keys, sorted for bsearch. */
struct allow_list {
	uint8_t (*keys)[KEY_BYTES]; /* sorted raw keys */
	size_t n;                   /* of them */
};

struct mb_zap {
	struct mb_zap_cfg cfg;                  /* as given; dir copied below */
	char dir[PATH_MAX];                     /* the key directory */
	void *sock;                             /* the ZAP REP socket; the run thread's once it starts */
	void *monitors[MB_ZAP_MAX_WATCHED];     /* PAIR sockets receiving handshake failures */
	unsigned n_monitors;                    /* of them */
	int reload_fd;                          /* eventfd written by mb_zap_reload */
	struct allow_list allow;                /* the keys let in; the run thread's once it starts */
	struct mb_log_limit limit;              /* refusal lines */
	struct mb_log_limit trouble;            /* lines about requests the handler could not serve */
};

/* Written by the run thread, read by control and metrics threads. */
static struct mb_zap_stats stats;

static int key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, KEY_BYTES);
}

static void allow_list_clear(struct allow_list *l)
{
	free(l->keys);
	l->keys = NULL;
	l->n = 0;
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n > m && strcmp(s + n - m, suffix) == 0;
}

/*
 * Why st, the file or directory that says who gets in, cannot be trusted,
 * or NULL: as ssh treats authorized_keys, anyone who may change it other
 * than the daemon's own user and root could let themselves in.
 */
static const char *distrust(const struct stat *st, char *buf, size_t cap)
{
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(buf, cap, "writable by %s (mode %03o)", st->st_mode & S_IWOTH ? "others" : "its group",
			 (unsigned)(st->st_mode & 0777));
		return buf;
	}
	if (st->st_uid != geteuid() && st->st_uid != 0) {
		snprintf(buf, cap, "owned by uid %u, neither this daemon's user (uid %u) nor root",
			 (unsigned)st->st_uid, (unsigned)geteuid());
		return buf;
	}
	return NULL;
}

/*
 * Read the key of dir's file name into z85, checking the file that is read
 * rather than the name: 0, 1 when the file is skipped (not a regular file
 * or not trusted; logged), or -errno with err naming the file.
 */
static int client_key_read(DIR *dir, const char *path, const char *name, char z85[MB_CLIENT_KEY_Z85_BYTES + 1],
			   char *err, size_t cap)
{
	int fd = openat(dirfd(dir), name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		int r = -errno;
		snprintf(err, cap, "%s: %s", path, strerror(-r));
		return r;
	}
	struct stat st;
	char why[128];
	const char *bad = NULL;
	int r = 0;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		snprintf(err, cap, "%s: %s", path, strerror(errno));
		goto out_close;
	}
	if (!S_ISREG(st.st_mode))
		bad = "not a regular file";
	else
		bad = distrust(&st, why, sizeof why);
	if (bad) {
		mb_log(LOG_WARNING, "CURVE: ignoring client key %s: %s", path, bad);
		r = 1;
		goto out_close;
	}
	/* The descriptor's file, not whatever the name points at by now. */
	char self[64];
	snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
	if ((r = mb_client_key_read(self, z85)) < 0)
		snprintf(err, cap, "%s: %s", path, r == -EBADMSG ? "not a z85 key of 40 characters" : strerror(-r));
out_close:
	close(fd);
	return r;
}

/*
 * Read every NAME.pub of dir/clients into *ret (a missing directory is an
 * empty list; so is one others could write to, and a file others could
 * write to is left out: both logged). 0, or -errno with err naming the
 * file; *ret untouched.
 */
static int allow_list_load(const char *dir, struct allow_list *ret, char *err, size_t cap)
{
	char path[PATH_MAX + 300];
	snprintf(path, sizeof path, "%s/%s", dir, MB_CURVE_CLIENTS_DIR);
	struct allow_list l = {NULL, 0};
	DIR *d = opendir(path);
	if (!d) {
		int r = -errno;
		if (r == -ENOENT) {
			*ret = l;
			return 0;
		}
		snprintf(err, cap, "%s: %s", path, strerror(-r));
		return r;
	}
	struct stat st;
	char why[128];
	const char *bad;
	if (fstat(dirfd(d), &st) < 0) {
		int r = -errno;
		snprintf(err, cap, "%s: %s", path, strerror(errno));
		closedir(d);
		return r;
	}
	if ((bad = distrust(&st, why, sizeof why))) {
		/* Every file in it could be anybody's: no key at all, until it is fixed and reloaded. */
		mb_log(LOG_WARNING, "CURVE: ignoring every client key in %s: the directory is %s", path, bad);
		closedir(d);
		*ret = l;
		return 0;
	}
	size_t alloc = 0;
	int r = 0;
	struct dirent *e;
	while (r == 0 && (errno = 0, e = readdir(d))) {
		if (e->d_name[0] == '.' || !has_suffix(e->d_name, ".pub"))
			continue;
		snprintf(path, sizeof path, "%s/%s/%s", dir, MB_CURVE_CLIENTS_DIR, e->d_name);
		char z85[MB_CLIENT_KEY_Z85_BYTES + 1];
		if ((r = client_key_read(d, path, e->d_name, z85, err, cap)) != 0) {
			r = r > 0 ? 0 : r;
			continue;
		}
		if (l.n == MB_ZAP_MAX_CLIENTS) {
			snprintf(err, cap, "%s/%s: more than %u keys", dir, MB_CURVE_CLIENTS_DIR, MB_ZAP_MAX_CLIENTS);
			r = -E2BIG;
			break;
		}
		if (l.n == alloc) {
			size_t more = alloc ? alloc * 2 : 16;
			void *p = realloc(l.keys, more * KEY_BYTES);
			if (!p) {
				snprintf(err, cap, "out of memory");
				r = -ENOMEM;
				break;
			}
			l.keys = p;
			alloc = more;
		}
		zmq_z85_decode(l.keys[l.n++], z85);
	}
	if (r == 0 && errno) {
		r = -errno;
		snprintf(err, cap, "%s/%s: %s", dir, MB_CURVE_CLIENTS_DIR, strerror(errno));
	}
	closedir(d);
	if (r < 0) {
		allow_list_clear(&l);
		return r;
	}
	if (l.n)
		qsort(l.keys, l.n, KEY_BYTES, key_cmp);
	*ret = l;
	return 0;
}

static bool allow_list_has(const struct allow_list *l, const uint8_t *key)
{
	return l->n && bsearch(key, l->keys, l->n, KEY_BYTES, key_cmp) != NULL;
}

/* Read the keys and bind the handler (see zap.h). */
int mb_zap_new(const struct mb_zap_cfg *cfg, struct mb_zap **ret, char *err, size_t cap)
{
	struct mb_zap *z = calloc(1, sizeof *z);
	int r;
	if (!z) {
		snprintf(err, cap, "out of memory");
		return -ENOMEM;
	}
	z->cfg = *cfg;
	z->reload_fd = -1;
	snprintf(z->dir, sizeof z->dir, "%s", cfg->dir);
	z->cfg.dir = z->dir;
	z->limit.what = "CURVE";
	z->trouble.what = "ZAP handler";
	if ((r = allow_list_load(z->dir, &z->allow, err, cap)) < 0)
		goto out_free;
	z->reload_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (z->reload_fd < 0) {
		r = -errno;
		snprintf(err, cap, "eventfd: %s", strerror(errno));
		goto out_free;
	}
	z->sock = zmq_socket(cfg->zmq_ctx, ZMQ_REP);
	if (!z->sock) {
		r = -zmq_errno();
		snprintf(err, cap, "ZAP socket: %s", zmq_strerror(-r));
		goto out_free;
	}
	/* A reply that cannot be sent at once is given up rather than left to stall every handshake. */
	int zero = 0, send_ms = ZAP_SEND_TIMEOUT_MS;
	if (zmq_setsockopt(z->sock, ZMQ_LINGER, &zero, sizeof zero) < 0 ||
	    zmq_setsockopt(z->sock, ZMQ_SNDTIMEO, &send_ms, sizeof send_ms) < 0 ||
	    zmq_bind(z->sock, MB_ZAP_ENDPOINT) < 0) {
		r = -zmq_errno();
		snprintf(err, cap, "bind %s: %s", MB_ZAP_ENDPOINT, zmq_strerror(-r));
		goto out_free;
	}
	*ret = z;
	return 0;
out_free:
	mb_zap_free(z);
	return r;
}

/* Monitor sock's failed handshakes (see zap.h). */
int mb_zap_watch(struct mb_zap *z, void *sock)
{
	if (z->n_monitors == MB_ZAP_MAX_WATCHED)
		return -E2BIG;
	char ep[64];
	snprintf(ep, sizeof ep, "inproc://minibatchd-handshakes-%u", z->n_monitors);
	void *pair = zmq_socket(z->cfg.zmq_ctx, ZMQ_PAIR);
	if (!pair)
		return -zmq_errno();
	int zero = 0, r;
	if (zmq_setsockopt(pair, ZMQ_LINGER, &zero, sizeof zero) < 0 ||
	    zmq_socket_monitor(sock, ep, MONITOR_EVENTS) < 0) {
		r = -zmq_errno();
		goto out_close_pair;
	}
	if (zmq_connect(pair, ep) < 0) {
		r = -zmq_errno();
		goto out_stop_monitor;
	}
	z->monitors[z->n_monitors++] = pair;
	return 0;
out_stop_monitor:
	/* The monitor is a socket libzmq made inside sock, bound at ep: stopping it closes it. */
	zmq_socket_monitor(sock, NULL, 0);
out_close_pair:
	zmq_close(pair);
	return r;
}

/* The number of allowed keys. */
size_t mb_zap_n_clients(const struct mb_zap *z)
{
	return z->allow.n;
}

/* One frame of a ZAP request, cut to ZAP_FRAME_BYTES. */
struct frame {
	uint8_t data[ZAP_FRAME_BYTES]; /* its first bytes */
	size_t len;                    /* its whole length */
};

static bool frame_is(const struct frame *f, const char *text)
{
	size_t n = strlen(text);
	return f->len == n && memcmp(f->data, text, n) == 0;
}

/* Send one frame, again when a signal interrupted it. 0 or -errno. */
static int send_frame(void *sock, const void *data, size_t len, int flags)
{
	while (zmq_send(sock, data, len, flags) < 0)
		if (zmq_errno() != EINTR)
			return -zmq_errno();
	return 0;
}

/*
 * Send the six reply frames (RFC 27): version, request id, status, its
 * text, user id, metadata. 0, or -errno from the first frame that failed.
 * A reply libzmq cannot make sense of (a frame missing or one too many)
 * fails the handshake it belongs to, so a reply cut short still refuses.
 */
static int reply(struct mb_zap *z, const struct frame *request_id, const char *status, const char *text,
		 const char *user_id)
{
	size_t id_len = request_id->len < ZAP_FRAME_BYTES ? request_id->len : ZAP_FRAME_BYTES;
	int r;
	if ((r = send_frame(z->sock, "1.0", 3, ZMQ_SNDMORE)) < 0 ||
	    (r = send_frame(z->sock, request_id->data, id_len, ZMQ_SNDMORE)) < 0 ||
	    (r = send_frame(z->sock, status, strlen(status), ZMQ_SNDMORE)) < 0 ||
	    (r = send_frame(z->sock, text, strlen(text), ZMQ_SNDMORE)) < 0 ||
	    (r = send_frame(z->sock, user_id, strlen(user_id), ZMQ_SNDMORE)) < 0 ||
	    (r = send_frame(z->sock, "", 0, 0)) < 0)
		return r;
	return 0;
}

static void refused(struct mb_zap *z, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Log a refusal, rate-limited; the monitors count it (take_events). */
static void refused(struct mb_zap *z, const char *fmt, ...)
{
	char line[MB_LOG_LINE_BYTES];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	mb_log_limited(&z->limit, LOG_WARNING, "%s", line);
}

/*
 * Receive one whole request into f (the first ZAP_MAX_FRAMES frames, the
 * rest drained): its number of frames, 0 when none is waiting, or -errno.
 */
static int take_request(struct mb_zap *z, struct frame f[ZAP_MAX_FRAMES])
{
	unsigned n = 0, seen = 0;
	int more = 1;
	while (more) {
		zmq_msg_t m;
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, z->sock, seen ? 0 : ZMQ_DONTWAIT) < 0) {
			int e = zmq_errno();
			zmq_msg_close(&m);
			if (seen == 0 && (e == EAGAIN || e == EINTR))
				return 0;
			if (e == EINTR)
				continue; /* the rest of a message is there already: libzmq delivers it whole */
			return -e;
		}
		seen++;
		if (n < ZAP_MAX_FRAMES) {
			size_t len = zmq_msg_size(&m);
			memcpy(f[n].data, zmq_msg_data(&m), len < ZAP_FRAME_BYTES ? len : ZAP_FRAME_BYTES);
			f[n].len = len;
			n++;
		}
		more = zmq_msg_more(&m);
		zmq_msg_close(&m);
	}
	return (int)n;
}

/*
 * Answer one ZAP request: version, request id, domain, address, routing
 * id, mechanism, credentials. CURVE in our domain with an allowed key gets
 * 200 with the key as its user id (the User-Id of the peer's messages);
 * NULL outside our domain (ipc endpoints, which CURVE never covers) is
 * left to the file permissions; anything else gets 400 and a reason.
 * 0, or -errno when the socket failed; the caller carries on either way.
 */
static int serve_request(struct mb_zap *z)
{
	static const struct frame no_id = {.len = 0};
	struct frame f[ZAP_MAX_FRAMES];
	int n = take_request(z, f);
	if (n == -EFSM) {
		/*
		 * An earlier reply was cut short: finish it as a refusal, which
		 * libzmq takes for a malformed reply, so the socket can take
		 * requests again.
		 */
		mb_log_limited(&z->trouble, LOG_ERR, "ZAP handler: finishing a reply cut short, as a refusal");
		return reply(z, &no_id, "500", "handler out of step", "");
	}
	if (n <= 0)
		return n;
	if (n < 6 || !frame_is(&f[0], "1.0")) {
		mb_log_limited(&z->trouble, LOG_ERR, "ZAP handler: refused a malformed request (%d frames%s)", n,
			       n && !frame_is(&f[0], "1.0") ? ", not version 1.0" : "");
		return reply(z, n >= 2 ? &f[1] : &no_id, "400", "malformed request", "");
	}
	char address[ZAP_FRAME_BYTES + 1];
	size_t alen = f[3].len < ZAP_FRAME_BYTES ? f[3].len : ZAP_FRAME_BYTES;
	memcpy(address, f[3].data, alen);
	address[alen] = '\0';
	if (!*address)
		snprintf(address, sizeof address, "an unknown address");
	bool ours = frame_is(&f[2], MB_CURVE_ZAP_DOMAIN);
	if (frame_is(&f[5], "NULL") && !ours)
		return reply(z, &f[1], "200", "OK", "");
	if (!frame_is(&f[5], "CURVE")) {
		refused(z, "refused a peer at %s: mechanism %.*s is not CURVE", address,
			(int)(f[5].len < ZAP_FRAME_BYTES ? f[5].len : ZAP_FRAME_BYTES), f[5].data);
		return reply(z, &f[1], "400", "CURVE only", "");
	}
	if (n != 7 || f[6].len != KEY_BYTES) {
		mb_log_limited(&z->trouble, LOG_ERR, "ZAP handler: refused a CURVE request from %s without one key of %u bytes",
			       address, KEY_BYTES);
		return reply(z, &f[1], "400", "malformed request", "");
	}
	char key[MB_CLIENT_KEY_Z85_BYTES + 1];
	zmq_z85_encode(key, f[6].data, KEY_BYTES);
	if (!ours) {
		/* Every CURVE endpoint of the daemon is in its domain (mb_curve_zap_options): this one is not ours. */
		refused(z, "refused CURVE client %s at %s: ZAP domain is not %s", key, address, MB_CURVE_ZAP_DOMAIN);
		return reply(z, &f[1], "400", "unknown ZAP domain", "");
	}
	if (!allow_list_has(&z->allow, f[6].data)) {
		refused(z, "refused CURVE client %s at %s: unknown key, not in %s/%s", key, address, z->dir,
			MB_CURVE_CLIENTS_DIR);
		return reply(z, &f[1], "400", "unknown key", "");
	}
	atomic_fetch_add_explicit(&stats.allowed, 1, memory_order_relaxed);
	return reply(z, &f[1], "200", "OK", key);
}

/* Take the events of one monitor: a failed handshake on a network endpoint is a refused peer. */
static int take_events(struct mb_zap *z, void *pair)
{
	for (;;) {
		uint8_t head[6];
		char ep[256];
		int n = zmq_recv(pair, head, sizeof head, ZMQ_DONTWAIT);
		if (n < 0)
			return zmq_errno() == EAGAIN || zmq_errno() == EINTR ? 0 : -zmq_errno();
		int more = 0;
		size_t more_len = sizeof more;
		zmq_getsockopt(pair, ZMQ_RCVMORE, &more, &more_len);
		if (!more)
			continue;
		int m;
		while ((m = zmq_recv(pair, ep, sizeof ep - 1, 0)) < 0 && zmq_errno() == EINTR)
			;
		if (m < 0)
			return -zmq_errno();
		ep[(size_t)m < sizeof ep - 1 ? (size_t)m : sizeof ep - 1] = '\0';
		if (n < 6 || !mb_curve_endpoint_is_network(ep))
			continue;
		uint16_t event;
		uint32_t value;
		memcpy(&event, head, 2);
		memcpy(&value, head + 2, 4);
		atomic_fetch_add_explicit(&stats.refused, 1, memory_order_relaxed);
		if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
			continue; /* logged with its key by serve_request */
		if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL && value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
			refused(z, "refused a peer on %s: it does not speak CURVE", ep);
		else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
			refused(z, "refused a peer on %s: CURVE handshake failed (protocol error 0x%x)", ep, value);
		else
			refused(z, "refused a peer on %s: it hung up during the CURVE handshake (%s)", ep,
				strerror((int)value));
	}
}

/* Read clients/ again; a bad directory keeps the old list. */
static void reload(struct mb_zap *z)
{
	uint64_t v;
	ssize_t rd = read(z->reload_fd, &v, sizeof v);
	(void)rd;
	struct allow_list l;
	char err[512];
	if (allow_list_load(z->dir, &l, err, sizeof err) < 0) {
		mb_log(LOG_ERR, "CURVE: keeping the %zu allowed client keys: %s", z->allow.n, err);
		return;
	}
	allow_list_clear(&z->allow);
	z->allow = l;
	mb_log(LOG_NOTICE, "CURVE: %zu allowed client keys in %s/%s", l.n, z->dir, MB_CURVE_CLIENTS_DIR);
}

static void close_sockets(struct mb_zap *z)
{
	/* Unbound now, not when libzmq gets round to the close: a new handler may bind at once. */
	if (z->sock) {
		zmq_unbind(z->sock, MB_ZAP_ENDPOINT);
		zmq_close(z->sock);
	}
	z->sock = NULL;
	for (unsigned i = 0; i < z->n_monitors; i++)
		zmq_close(z->monitors[i]);
	z->n_monitors = 0;
}

/* Pause after a failure that may last, so the loop does not spin on it. */
static void pause_briefly(void)
{
	struct timespec ts = {.tv_sec = 0, .tv_nsec = ZAP_RETRY_MS * 1000000L};
	nanosleep(&ts, NULL);
}

/*
 * The thread body (see zap.h). Only the end of the context ends it: a
 * request or an event that cannot be handled is logged and the loop goes
 * on, since a CURVE socket whose handler is gone refuses every client
 * (ZMQ_ZAP_ENFORCE_DOMAIN), the allowed ones too.
 */
int mb_zap_run(struct mb_zap *z)
{
	zmq_pollitem_t items[2 + MB_ZAP_MAX_WATCHED];
	int r;
	for (;;) {
		unsigned n = 0;
		items[n++] = (zmq_pollitem_t){.socket = z->sock, .events = ZMQ_POLLIN};
		items[n++] = (zmq_pollitem_t){.fd = z->reload_fd, .events = ZMQ_POLLIN};
		for (unsigned i = 0; i < z->n_monitors; i++)
			items[n++] = (zmq_pollitem_t){.socket = z->monitors[i], .events = ZMQ_POLLIN};
		/* Wake once a second, so the summary of suppressed lines does not wait for the next refusal. */
		if (zmq_poll(items, (int)n, 1000) < 0) {
			if ((r = -zmq_errno()) == -ETERM)
				break;
			if (r != -EINTR) {
				mb_log_limited(&z->trouble, LOG_ERR, "ZAP handler: poll: %s", zmq_strerror(-r));
				pause_briefly();
			}
			continue;
		}
		if ((items[0].revents & ZMQ_POLLIN) && (r = serve_request(z)) < 0) {
			if (r == -ETERM)
				break;
			mb_log_limited(&z->trouble, LOG_ERR, "ZAP handler: a request went unanswered: %s",
				       zmq_strerror(-r));
		}
		if (items[1].revents & ZMQ_POLLIN)
			reload(z);
		for (unsigned i = 0; i < z->n_monitors; i++) {
			if (!(items[2 + i].revents & ZMQ_POLLIN) || (r = take_events(z, z->monitors[i])) == 0)
				continue;
			if (r == -ETERM)
				goto out_terminated;
			mb_log_limited(&z->trouble, LOG_ERR, "ZAP handler: handshake events: %s", zmq_strerror(-r));
		}
		mb_log_limit_tick(&z->limit, LOG_WARNING);
		mb_log_limit_tick(&z->trouble, LOG_ERR);
	}
out_terminated:
	mb_log_limit_flush(&z->limit, LOG_WARNING);
	mb_log_limit_flush(&z->trouble, LOG_ERR);
	/* The context is being terminated: it waits for these to close. */
	close_sockets(z);
	return 0;
}

/* Wake the run thread to read clients/ again. */
void mb_zap_reload(struct mb_zap *z)
{
	uint64_t one = 1;
	ssize_t n = write(z->reload_fd, &one, sizeof one);
	(void)n;
}

/* Close and free (see zap.h). */
struct mb_zap *mb_zap_free(struct mb_zap *z)
{
	if (!z)
		return NULL;
	close_sockets(z);
	if (z->reload_fd >= 0)
		close(z->reload_fd);
	allow_list_clear(&z->allow);
	free(z);
	return NULL;
}

/* The process-wide figures. */
const struct mb_zap_stats *mb_zap_stats(void)
{
	return &stats;
}
