/* SPDX-License-Identifier: MIT */
/* bench_daemon.c - start and query minibatchd for the ingest and latency benchmarks. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "bench_daemon.h"
#include "sample.h"

#define DEFAULT_FASHION "/usr/share/datasets/fashion-mnist"

/* CLOCK_MONOTONIC in seconds. */
double bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Remove the runtime directory: the daemon leaves only sockets and the log in it. */
static void remove_dir(const char *dir)
{
	static const char *const names[] = {"control", "snapshots", "ingest", "daemon.log"};
	char p[600];
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, names[i]);
		unlink(p);
	}
	if (rmdir(dir) != 0)
		fprintf(stderr, "warning: %s not removed: %s\n", dir, strerror(errno));
}

/* "ipc://DIR/name". */
void bench_daemon_endpoint(const struct bench_daemon *d, const char *name, char *buf, size_t cap)
{
	snprintf(buf, cap, "ipc://%s/%s", d->dir, name);
}

/* A fresh REQ socket per request: a lost reply never wedges the next one. */
int bench_daemon_control(struct bench_daemon *d, const char *request, int timeout_ms, char *buf,
			 size_t cap)
{
	char ep[512];
	bench_daemon_endpoint(d, "control", ep, sizeof ep);
	void *s = zmq_socket(d->zctx, ZMQ_REQ);
	int zero = 0, r = -1;
	if (!s)
		return -1;
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
	if (zmq_connect(s, ep) < 0 || zmq_send(s, request, strlen(request), 0) < 0)
		goto out_close;
	zmq_pollitem_t it = {.socket = s, .events = ZMQ_POLLIN};
	if (zmq_poll(&it, 1, timeout_ms) != 1)
		goto out_close;
	int n = zmq_recv(s, buf, cap - 1, 0);
	if (n < 0)
		goto out_close;
	buf[(size_t)n < cap - 1 ? (size_t)n : cap - 1] = '\0';
	r = 0;
out_close:
	zmq_close(s);
	return r;
}

/* The first number after "key":. */
double bench_json_num(const char *json, const char *key)
{
	char pat[128];
	snprintf(pat, sizeof pat, "\"%s\":", key);
	const char *p = strstr(json, pat);
	if (!p)
		return -1;
	char *end;
	double v = strtod(p + strlen(pat), &end);
	return end == p + strlen(pat) ? -1 : v;
}

/* Print the log. */
void bench_daemon_dump_log(const struct bench_daemon *d)
{
	FILE *f = fopen(d->log, "r");
	char line[1024];
	if (!f)
		return;
	fprintf(stderr, "---- %s ----\n", d->log);
	while (fgets(line, sizeof line, f))
		fputs(line, stderr);
	fclose(f);
}

/* Whether the daemon is gone (reaped here). */
static int exited(struct bench_daemon *d)
{
	int status;
	if (d->pid > 0 && waitpid(d->pid, &status, WNOHANG) == d->pid) {
		d->pid = 0;
		fprintf(stderr, "minibatchd exited (status 0x%x)\n", (unsigned)status);
		bench_daemon_dump_log(d);
	}
	return d->pid == 0;
}

/* Fork and exec with the standard overrides, then wait for the control socket. */
int bench_daemon_start(struct bench_daemon *d, const char *path, const char *const *opts)
{
	memset(d, 0, sizeof *d);
	snprintf(d->dir, sizeof d->dir, "/tmp/mbd-bench.XXXXXX");
	if (!mkdtemp(d->dir)) {
		fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
		return -1;
	}
	snprintf(d->log, sizeof d->log, "%s/daemon.log", d->dir);
	char rundir[300];
	snprintf(rundir, sizeof rundir, "daemon.runtime_dir=%s", d->dir);
	const char *std[] = {rundir, "control.endpoint=ipc://control", "publish.endpoint=ipc://snapshots",
			     "metrics.listen=", "checkpoint.dir=none", "checkpoint.on_exit=false"};
	const char *argv[2 * (BENCH_DAEMON_MAX_OPTS + 8) + 2];
	int n = 0;
	argv[n++] = "minibatchd";
	for (size_t i = 0; i < sizeof std / sizeof std[0]; i++) {
		argv[n++] = "-o";
		argv[n++] = std[i];
	}
	for (int i = 0; opts && opts[i] && i < BENCH_DAEMON_MAX_OPTS; i++) {
		argv[n++] = "-o";
		argv[n++] = opts[i];
	}
	argv[n] = NULL;

	d->zctx = zmq_ctx_new();
	d->pid = fork();
	if (d->pid < 0) {
		fprintf(stderr, "fork: %s\n", strerror(errno));
		goto out_remove;
	}
	if (d->pid == 0) {
		int fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0) {
			dup2(fd, STDERR_FILENO);
			dup2(fd, STDOUT_FILENO);
		}
		execv(path, (char *const *)argv);
		_exit(127);
	}
	char reply[4096];
	double deadline = bench_now() + 15;
	while (bench_now() < deadline && !exited(d)) {
		if (bench_daemon_control(d, "status", 1000, reply, sizeof reply) == 0 &&
		    strstr(reply, "\"ok\":true"))
			return 0;
		usleep(20000);
	}
	fprintf(stderr, "minibatchd (%s) did not answer on its control socket\n", path);
	bench_daemon_stop(d);
	return -1;
out_remove:
	zmq_ctx_term(d->zctx);
	d->zctx = NULL;
	remove_dir(d->dir);
	return -1;
}

/* A REQ socket on the control endpoint, or NULL. */
static void *control_socket(struct bench_daemon *d)
{
	char ep[512];
	int zero = 0;
	bench_daemon_endpoint(d, "control", ep, sizeof ep);
	void *s = zmq_socket(d->zctx, ZMQ_REQ);
	if (s && (zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero) != 0 || zmq_connect(s, ep) != 0)) {
		zmq_close(s);
		s = NULL;
	}
	return s;
}

/*
 * Poll status until enough samples are trained. One REQ socket for the
 * whole wait (made anew only after a lost reply): a connection per poll
 * would load the daemon's control thread, and so the figure measured.
 */
int bench_daemon_wait_trained(struct bench_daemon *d, uint64_t samples, unsigned poll_us, int timeout_ms)
{
	char reply[1 << 14];
	double deadline = bench_now() + timeout_ms / 1000.0;
	void *s = control_socket(d);
	int r = -1;
	while (s && bench_now() < deadline && !exited(d)) {
		zmq_pollitem_t it = {.socket = s, .events = ZMQ_POLLIN};
		int n = -1;
		if (zmq_send(s, "status", 6, 0) == 6 && zmq_poll(&it, 1, 5000) == 1)
			n = zmq_recv(s, reply, sizeof reply - 1, 0);
		if (n < 0) {
			zmq_close(s);
			s = control_socket(d);
			continue;
		}
		reply[(size_t)n < sizeof reply - 1 ? (size_t)n : sizeof reply - 1] = '\0';
		if (bench_json_num(reply, "samples") >= (double)samples) {
			r = 0;
			break;
		}
		usleep(poll_us);
	}
	if (s)
		zmq_close(s);
	return r;
}

/* SIGTERM, reap, clean up. */
void bench_daemon_stop(struct bench_daemon *d)
{
	if (d->pid > 0) {
		kill(d->pid, SIGTERM);
		double deadline = bench_now() + 10;
		while (waitpid(d->pid, NULL, WNOHANG) != d->pid) {
			if (bench_now() > deadline) {
				kill(d->pid, SIGKILL);
				waitpid(d->pid, NULL, 0);
				break;
			}
			usleep(5000);
		}
		d->pid = 0;
	}
	if (d->zctx) {
		zmq_ctx_term(d->zctx);
		d->zctx = NULL;
	}
	if (d->dir[0]) {
		remove_dir(d->dir);
		d->dir[0] = '\0';
	}
}

/* The training set, from $FASHION_MNIST_DIR or the packaged copy. */
int bench_load_fashion(struct mb_dataset **ret)
{
	const char *dir = getenv("FASHION_MNIST_DIR");
	if (!dir || !*dir)
		dir = DEFAULT_FASHION;
	int r = mb_dataset_load_fashion(dir, "train", ret, NULL);
	if (r < 0) {
		fprintf(stderr, "cannot load Fashion-MNIST from %s: %s\n", dir, strerror(-r));
		return -1;
	}
	return 0;
}

/* Encode count messages of consecutive rows. */
int bench_msgs_build(const struct mb_dataset *ds, uint32_t per_msg, uint32_t count, enum mb_elem elem,
		     struct bench_msgs *ret)
{
	size_t len = mb_sample_bin_size(per_msg, ds->n_features, ds->n_targets, elem, false);
	if (!len || per_msg > ds->count)
		return -E2BIG;
	uint8_t *buf = malloc(len * count);
	if (!buf)
		return -ENOMEM;
	uint32_t row = 0;
	for (uint32_t i = 0; i < count; i++) {
		if (row + per_msg > ds->count)
			row = 0;
		struct mb_sample_batch b = {
			.count = per_msg,
			.n_features = ds->n_features,
			.n_targets = ds->n_targets,
			.x = ds->x + (size_t)row * ds->n_features,
			.y = ds->y + (size_t)row * ds->n_targets,
			.elem = elem,
			.scale = 1.0f / 255.0f,
		};
		long n = mb_sample_bin_encode(buf + len * i, len, &b);
		if (n != (long)len) {
			free(buf);
			return n < 0 ? (int)n : -EINVAL;
		}
		row += per_msg;
	}
	*ret = (struct bench_msgs){.buf = buf, .len = len, .count = count, .per_msg = per_msg};
	return 0;
}

/* Message i of the cycle. */
const void *bench_msgs_get(const struct bench_msgs *m, uint64_t i)
{
	return m->buf + m->len * (size_t)(i % m->count);
}

/* Free the messages. */
void bench_msgs_free(struct bench_msgs *m)
{
	free(m->buf);
	*m = (struct bench_msgs){0};
}
