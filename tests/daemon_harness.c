/* SPDX-License-Identifier: MIT */
/* daemon_harness.c - start, drive and stop the real daemon for the integration tests. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "daemon_harness.h"
#include "test.h"
#include "model.h"
#include "sample.h"

#ifndef MB_DAEMON_PATH
#error "MB_DAEMON_PATH must name the daemon binary"
#endif

#define MAX_LIVE 8

/*
 * Daemons started and not yet stopped, for the exit handler. Copies, not
 * pointers: a failed fatal assertion leaves its test's frame (and the
 * struct harness in it) behind.
 */
static struct live {
	bool used;      /* this entry holds a daemon */
	pid_t pid;      /* its process, 0 once reaped */
	char dir[256];  /* its directory */
} live[MAX_LIVE];

/* The monotonic clock in milliseconds, for deadlines. */
int64_t harness_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Remove dir with everything in it, subdirectories included. */
void harness_remove_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[600];
	while (d && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
		struct stat sb;
		if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
			harness_remove_tree(p);
		else
			unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

static struct live *live_of(const struct harness *h)
{
	for (int i = 0; i < MAX_LIVE; i++)
		if (live[i].used && strcmp(live[i].dir, h->dir) == 0)
			return &live[i];
	return NULL;
}

static void forget(const struct harness *h)
{
	struct live *l = live_of(h);
	if (l)
		l->used = false;
}

/* At exit (a failed assertion may have skipped a test's own stop): kill and clean up. */
static void kill_all(void)
{
	for (int i = 0; i < MAX_LIVE; i++) {
		struct live *l = &live[i];
		if (!l->used)
			continue;
		if (l->pid > 0) {
			kill(l->pid, SIGKILL);
			waitpid(l->pid, NULL, 0);
		}
		harness_remove_tree(l->dir);
		l->used = false;
	}
}

/* An endpoint inside the daemon's directory. */
void harness_endpoint(const struct harness *h, const char *name, char *buf, size_t cap)
{
	snprintf(buf, cap, "ipc://%s/%s", h->dir, name);
}

/* Count the log lines holding text. */
unsigned harness_log_count(const struct harness *h, const char *text)
{
	FILE *f = fopen(h->log, "r");
	if (!f)
		return 0;
	char line[1024];
	unsigned n = 0;
	while (fgets(line, sizeof line, f))
		n += strstr(line, text) != NULL;
	fclose(f);
	return n;
}

/* Whether any log line holds text. */
bool harness_log_contains(const struct harness *h, const char *text)
{
	return harness_log_count(h, text) > 0;
}

/* Copy the daemon's log to our stderr, so a failure shows why. */
void harness_dump_log(const struct harness *h)
{
	FILE *f = fopen(h->log, "r");
	if (!f)
		return;
	char line[1024];
	fprintf(stderr, "---- daemon log %s ----\n", h->log);
	while (fgets(line, sizeof line, f))
		fputs(line, stderr);
	fprintf(stderr, "---- end of log ----\n");
	fclose(f);
}

/* One request on a fresh REQ socket, so a lost reply never wedges the next one. */
int harness_control(struct harness *h, const char *request, char *buf, size_t cap)
{
	char ep[512];
	harness_endpoint(h, "control", ep, sizeof ep);
	void *s = zmq_socket(h->zctx, ZMQ_REQ);
	int zero = 0, r = -1;
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
	if (zmq_connect(s, ep) < 0 || zmq_send(s, request, strlen(request), 0) < 0)
		goto out;
	zmq_pollitem_t it = {.socket = s, .events = ZMQ_POLLIN};
	if (zmq_poll(&it, 1, 5000) != 1)
		goto out;
	int n = zmq_recv(s, buf, cap - 1, 0);
	if (n < 0)
		goto out;
	buf[(size_t)n < cap - 1 ? (size_t)n : cap - 1] = '\0';
	r = 0;
out:
	zmq_close(s);
	return r;
}

/* Make the directory, fork and exec the daemon, wait for its control socket. */
static int start(struct harness *h, const char *const *opts, bool with_source)
{
	memset(h, 0, sizeof *h);
	snprintf(h->dir, sizeof h->dir, "/tmp/mbd-test.XXXXXX");
	if (!mkdtemp(h->dir))
		return -1;
	snprintf(h->log, sizeof h->log, "%s/daemon.log", h->dir);
	h->zctx = zmq_ctx_new();
	struct live *l = NULL;
	for (int i = 0; i < MAX_LIVE && !l; i++)
		if (!live[i].used)
			l = &live[i];
	if (!l) {
		rmdir(h->dir);
		return -1;
	}
	*l = (struct live){.used = true};
	snprintf(l->dir, sizeof l->dir, "%s", h->dir);
	static bool registered;
	if (!registered) {
		atexit(kill_all);
		registered = true;
	}

	char rundir[300];
	snprintf(rundir, sizeof rundir, "daemon.runtime_dir=%s", h->dir);
	const char *argv[2 * HARNESS_MAX_ARGS + 16];
	int n = 0;
	argv[n++] = "minibatchd";
	const char *std[] = {rundir, "publish.endpoint=ipc://snapshots", "control.endpoint=ipc://control",
			     "source.in.type=zmq", "source.in.endpoint=ipc://ingest"};
	for (size_t i = 0; i < sizeof std / sizeof std[0] - (with_source ? 0 : 2); i++) {
		argv[n++] = "-o";
		argv[n++] = std[i];
	}
	for (int i = 0; opts && opts[i] && i < HARNESS_MAX_ARGS; i++) {
		argv[n++] = "-o";
		argv[n++] = opts[i];
	}
	argv[n] = NULL;

	h->pid = fork();
	if (h->pid < 0)
		return -1;
	l->pid = h->pid;
	if (h->pid == 0) {
		int fd = open(h->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0) {
			dup2(fd, STDERR_FILENO);
			dup2(fd, STDOUT_FILENO);
		}
		execv(MB_DAEMON_PATH, (char *const *)argv);
		_exit(127);
	}
	char reply[4096];
	int64_t deadline = harness_now_ms() + 15000;
	while (harness_now_ms() < deadline) {
		int status;
		if (waitpid(h->pid, &status, WNOHANG) == h->pid) {
			h->pid = l->pid = 0;
			h->status = status ? status : -1;
			harness_dump_log(h);
			return -1;
		}
		if (harness_control(h, "status", reply, sizeof reply) == 0 && strstr(reply, "\"ok\":true"))
			return 0;
		usleep(20000);
	}
	harness_dump_log(h);
	return -1;
}

/* Start with the standard zmq source. */
int harness_start(struct harness *h, const char *const *opts)
{
	return start(h, opts, true);
}

/* Start with only the sources opts declare. */
int harness_start_without_source(struct harness *h, const char *const *opts)
{
	return start(h, opts, false);
}

/* Reap the daemon, killing it after timeout_ms. */
int harness_wait_exit(struct harness *h, int timeout_ms)
{
	if (h->pid <= 0)
		return h->status;
	int64_t deadline = harness_now_ms() + timeout_ms;
	for (;;) {
		if (waitpid(h->pid, &h->status, WNOHANG) == h->pid)
			break;
		if (harness_now_ms() > deadline) {
			kill(h->pid, SIGKILL);
			waitpid(h->pid, NULL, 0);
			h->status = -1;
			break;
		}
		usleep(5000);
	}
	h->pid = 0;
	struct live *l = live_of(h);
	if (l)
		l->pid = 0;
	if (h->status != 0)
		harness_dump_log(h);
	return h->status;
}

/* Signal the daemon and reap it. */
int harness_signal_wait(struct harness *h, int sig, int timeout_ms)
{
	if (h->pid > 0)
		kill(h->pid, sig);
	return harness_wait_exit(h, timeout_ms);
}

/* SIGTERM, reap, and remove everything the run left. */
int harness_stop(struct harness *h, int timeout_ms)
{
	int status = harness_signal_wait(h, SIGTERM, timeout_ms);
	if (h->zctx) {
		zmq_ctx_term(h->zctx);
		h->zctx = NULL;
	}
	harness_remove_tree(h->dir);
	forget(h);
	return status;
}

/* A number from flat JSON text, found by key after an anchor. */
double harness_json_num(const char *json, const char *anchor, const char *key)
{
	const char *p = json;
	if (anchor && !(p = strstr(json, anchor)))
		return NAN;
	char pat[128];
	snprintf(pat, sizeof pat, "\"%s\":", key);
	p = strstr(p, pat);
	if (!p)
		return NAN;
	p += strlen(pat);
	if (strncmp(p, "null", 4) == 0)
		return NAN;
	char *end;
	double v = strtod(p, &end);
	return end == p ? NAN : v;
}

/* Poll status until enough samples are learned. */
bool harness_wait_trained(struct harness *h, uint64_t samples, int timeout_ms)
{
	char reply[1 << 16];
	int64_t deadline = harness_now_ms() + timeout_ms;
	do {
		if (harness_control(h, "status", reply, sizeof reply) == 0 &&
		    harness_json_num(reply, NULL, "samples") >= (double)samples)
			return true;
		usleep(10000);
	} while (harness_now_ms() < deadline);
	return false;
}

/* Rows of a data set as one binary U8 sample message. */
size_t harness_encode_u8(const struct mb_dataset *ds, uint32_t first, uint32_t count, void *buf, size_t cap)
{
	struct mb_sample_batch b = {
		.count = count,
		.n_features = ds->n_features,
		.n_targets = ds->n_targets,
		.x = ds->x + (size_t)first * ds->n_features,
		.y = ds->y + (size_t)first * ds->n_targets,
		.elem = MB_ELEM_U8,
		.scale = 1.0f / 255.0f,
		.offset = 0.0f,
	};
	long n = mb_sample_bin_encode(buf, cap, &b);
	return n > 0 ? (size_t)n : 0;
}

/* A socket connected to one of the daemon's. */
void *harness_connect(struct harness *h, int type, const char *name)
{
	char ep[512];
	harness_endpoint(h, name, ep, sizeof ep);
	void *s = zmq_socket(h->zctx, type);
	if (s && zmq_connect(s, ep) != 0) {
		zmq_close(s);
		s = NULL;
	}
	return s;
}

/* The training and test sets most integration tests learn and score on. */
int harness_load_fashion(struct mb_dataset **ret_train, struct mb_dataset **ret_test)
{
	const char *dir = mb_test_fashion_dir();
	struct mb_dataset *train = NULL, *test = NULL;
	if (mb_dataset_load_fashion(dir, "train", &train, NULL) < 0 ||
	    mb_dataset_load_fashion(dir, "t10k", &test, NULL) < 0) {
		fprintf(stderr, "cannot load Fashion-MNIST from %s\n", dir);
		mb_dataset_free(train);
		return -1;
	}
	*ret_train = train;
	*ret_test = test;
	return 0;
}

/* A SUB socket on the daemon's snapshots. */
void *harness_subscribe(struct harness *h, const char *topic)
{
	char ep[512];
	harness_endpoint(h, "snapshots", ep, sizeof ep);
	void *s = zmq_socket(h->zctx, ZMQ_SUB);
	int zero = 0;
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
	zmq_setsockopt(s, ZMQ_SUBSCRIBE, topic, strlen(topic));
	zmq_connect(s, ep);
	return s;
}

/* One two-frame snapshot message, the body copied out. */
int harness_recv_snapshot(void *sub, int timeout_ms, uint8_t **ret_body, size_t *ret_len)
{
	zmq_pollitem_t it = {.socket = sub, .events = ZMQ_POLLIN};
	if (zmq_poll(&it, 1, timeout_ms) != 1)
		return -1;
	zmq_msg_t m;
	zmq_msg_init(&m);
	int r = -1;
	if (zmq_msg_recv(&m, sub, 0) < 0 || !zmq_msg_more(&m))
		goto out;
	if (zmq_msg_recv(&m, sub, 0) < 0 || zmq_msg_more(&m))
		goto out;
	size_t len = zmq_msg_size(&m);
	uint8_t *body = malloc(len ? len : 1);
	if (!body)
		goto out;
	memcpy(body, zmq_msg_data(&m), len);
	*ret_body = body;
	*ret_len = len;
	r = 0;
out:
	zmq_msg_close(&m);
	return r;
}

/* Skip snapshots older than samples. */
int harness_recv_snapshot_after(void *sub, uint64_t samples, int timeout_ms, uint8_t **ret_body,
				size_t *ret_len)
{
	int64_t deadline = harness_now_ms() + timeout_ms;
	for (int64_t left; (left = deadline - harness_now_ms()) > 0;) {
		uint8_t *b;
		size_t n;
		if (harness_recv_snapshot(sub, (int)left, &b, &n) < 0)
			break;
		struct mb_snap_info info;
		const uint8_t *params;
		if (mb_snap_decode(b, n, &info, &params, NULL) == 0 && info.samples >= samples) {
			*ret_body = b;
			*ret_len = n;
			return 0;
		}
		free(b);
	}
	return -1;
}

/* Accuracy of a snapshot's model on a data set. */
double harness_score(const uint8_t *body, size_t len, const struct mb_dataset *ds)
{
	struct mb_snap_info info;
	const uint8_t *params;
	struct mb_model *m = NULL;
	enum { CHUNK = 1000 };
	if (mb_snap_decode(body, len, &info, &params, NULL) < 0 ||
	    mb_model_from_snap(&info, params, CHUNK, &m) < 0)
		return -1;
	uint32_t cls[CHUNK];
	uint64_t right = 0;
	for (uint32_t i = 0; i < ds->count; i += CHUNK) {
		uint32_t rows = ds->count - i < CHUNK ? ds->count - i : CHUNK;
		if (mb_model_forward(m, ds->x + (size_t)i * ds->n_features, rows) < 0) {
			mb_model_free(m);
			return -1;
		}
		mb_model_argmax(m, rows, cls);
		for (uint32_t k = 0; k < rows; k++)
			right += cls[k] == (uint32_t)ds->y[(size_t)(i + k) * ds->n_targets];
	}
	mb_model_free(m);
	return (double)right / ds->count;
}

/* A datagram socket bound at dir/notify, as systemd's notify socket is. */
int harness_notify_socket(const char *dir, char *path, size_t cap)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	if ((size_t)snprintf(a.sun_path, sizeof a.sun_path, "%s/notify", dir) >= sizeof a.sun_path ||
	    (size_t)snprintf(path, cap, "%s", a.sun_path) >= cap)
		return -1;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Datagrams from the daemon to the notify socket, concatenated with '|' separators, for ms. */
void harness_collect_notify(int fd, int ms, char *buf, size_t cap)
{
	int64_t deadline = harness_now_ms() + ms;
	size_t len = strlen(buf);
	for (int64_t left; (left = deadline - harness_now_ms()) > 0;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, (int)left) != 1)
			break;
		char d[512];
		ssize_t n = recv(fd, d, sizeof d - 1, 0);
		if (n <= 0)
			continue;
		d[n] = '\0';
		len += (size_t)snprintf(buf + len, cap - len, "%s|", d);
		if (len >= cap - 1)
			break;
	}
}

/* Read from the names only: a store would remove the temporary file the daemon may be writing. */
int64_t harness_newest_ckpt(const char *dir, unsigned *ret_temps)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int64_t newest = -1;
	unsigned temps = 0;
	while (d && (e = readdir(d))) {
		unsigned long long v;
		char tail[8];
		if (sscanf(e->d_name, "ckpt-%20llu%7s", &v, tail) == 2 && strcmp(tail, ".mbck") == 0 &&
		    (int64_t)v > newest)
			newest = (int64_t)v;
		temps += strncmp(e->d_name, ".ckpt-", 6) == 0;
	}
	if (d)
		closedir(d);
	if (ret_temps)
		*ret_temps = temps;
	return newest;
}

/* A TCP port on loopback that was free a moment ago. */
int harness_free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return ntohs(a.sin_port);
}
