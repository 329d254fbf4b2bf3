/* SPDX-License-Identifier: MIT */
/* soak_daemon.c - /proc readings, source counters, feeders and a checked shutdown for soak and stall. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "soak_daemon.h"

/* Set by the handler of SIGINT, SIGTERM and SIGHUP. */
static volatile sig_atomic_t interrupted;

/* A feeder gives up when the daemon has taken nothing for this long. */
#define FEED_STUCK_S 60
/* How long closing a feeder waits for its last messages to reach the daemon. */
#define FEED_LINGER_MS 30000

/* Read one "Field:  N kB" line of /proc/PID/status. */
long soak_proc_kib(pid_t pid, const char *field)
{
	char path[64], line[256];
	size_t flen = strlen(field);
	long kib = -1;
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, field, flen) && line[flen] == ':') {
			kib = strtol(line + flen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return kib;
}

/* utime + stime from /proc/PID/stat. */
double soak_proc_cpu(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The name may hold spaces and parentheses: fields start after the last ')'. */
	const char *p = strrchr(buf, ')');
	unsigned long long ut, st;
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* A source object starts with its name; its counters follow in a fixed order. */
int soak_source_counts(const char *json, const char *name, struct soak_source_counts *ret)
{
	char pat[160];
	snprintf(pat, sizeof pat, "{\"name\":\"%s\",", name);
	const char *p = strstr(json, pat);
	if (!p)
		return -1;
	struct soak_source_counts c = {
		.received = bench_json_num(p, "received"),
		.queued = bench_json_num(p, "queued"),
		.dropped = bench_json_num(p, "dropped"),
		.rejected = bench_json_num(p, "rejected"),
	};
	if (c.received < 0 || c.queued < 0 || c.dropped < 0 || c.rejected < 0)
		return -1;
	*ret = c;
	return 0;
}

/*
 * Send the messages; a send that times out is tried again until stop is
 * set or nothing moved for FEED_STUCK_S.
 */
static void *feed_thread(void *arg)
{
	struct soak_feeder *f = arg;
	void *push = zmq_socket(f->zctx, ZMQ_PUSH);
	int linger = FEED_LINGER_MS, timeout = 200;
	if (!push) {
		f->error = zmq_errno();
		return NULL;
	}
	zmq_setsockopt(push, ZMQ_LINGER, &linger, sizeof linger);
	zmq_setsockopt(push, ZMQ_SNDTIMEO, &timeout, sizeof timeout);
	if (zmq_connect(push, f->endpoint) != 0) {
		f->error = zmq_errno();
		goto out_close;
	}
	double last_move = bench_now();
	for (uint64_t i = 0; i < f->msgs_to_send && !atomic_load(&f->stop);) {
		const struct bench_msgs *m = f->msgs;
		if (zmq_send(push, bench_msgs_get(m, f->first_msg + i), m->len, 0) == (int)m->len) {
			atomic_fetch_add_explicit(&f->sent, m->per_msg, memory_order_relaxed);
			last_move = bench_now();
			i++;
			continue;
		}
		if (zmq_errno() != EAGAIN || bench_now() - last_move > FEED_STUCK_S) {
			f->error = zmq_errno();
			break;
		}
	}
out_close:
	zmq_close(push);
	return NULL;
}

/* Own context, then the thread. */
int soak_feeder_start(struct soak_feeder *f, const struct bench_msgs *msgs, const char *endpoint,
		      uint64_t first_msg, uint64_t n_msgs)
{
	f->msgs = msgs;
	snprintf(f->endpoint, sizeof f->endpoint, "%s", endpoint);
	f->first_msg = first_msg;
	f->msgs_to_send = n_msgs;
	atomic_init(&f->sent, 0);
	atomic_init(&f->stop, false);
	f->error = 0;
	f->zctx = zmq_ctx_new();
	if (!f->zctx) {
		fprintf(stderr, "zmq_ctx_new: %s\n", zmq_strerror(zmq_errno()));
		return -1;
	}
	int r = pthread_create(&f->thread, NULL, feed_thread, f);
	if (r != 0) {
		fprintf(stderr, "pthread_create: %s\n", strerror(r));
		zmq_ctx_term(f->zctx);
		f->zctx = NULL;
		return -1;
	}
	return 0;
}

/* Join, then terminate the context (which waits for the lingering messages). */
void soak_feeder_join(struct soak_feeder *f, bool early)
{
	if (!f->zctx)
		return;
	if (early)
		atomic_store(&f->stop, true);
	pthread_join(f->thread, NULL);
	zmq_ctx_term(f->zctx);
	f->zctx = NULL;
	if (f->error)
		fprintf(stderr, "feeder to %s stopped: %s\n", f->endpoint, zmq_strerror(f->error));
}

/* Print and count the lines of the log that start a sanitizer report. */
static unsigned count_reports(const char *log)
{
	static const char *const marks[] = {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
					    "WARNING: AddressSanitizer", "LeakSanitizer has encountered a fatal error"};
	char line[2048];
	unsigned n = 0;
	FILE *f = fopen(log, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof line, f))
		for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++)
			if (strstr(line, marks[i])) {
				fprintf(stderr, "daemon log: %s", line);
				n++;
				break;
			}
	fclose(f);
	return n;
}

/* Remove what the daemon left in its runtime directory (sockets of any name, the log). */
static void empty_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[600];
	if (!d)
		return;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
			unlink(p);
		}
	closedir(d);
}

/* SIGTERM, wait, look at the log, clean up. */
void soak_daemon_shutdown(struct bench_daemon *d, int timeout_s, struct soak_exit *ret)
{
	struct soak_exit x = {.status = -1};
	if (d->pid > 0) {
		int status;
		kill(d->pid, SIGTERM);
		double deadline = bench_now() + timeout_s;
		pid_t w;
		while ((w = waitpid(d->pid, &status, WNOHANG)) == 0 && bench_now() < deadline)
			usleep(10000);
		if (w == d->pid) {
			x.status = status;
		} else {
			fprintf(stderr, "minibatchd did not stop within %d s of SIGTERM: killed\n", timeout_s);
			kill(d->pid, SIGKILL);
			waitpid(d->pid, NULL, 0);
		}
		d->pid = 0;
	}
	x.reports = count_reports(d->log);
	if (x.status != 0)
		bench_daemon_dump_log(d);
	if (d->dir[0])
		empty_dir(d->dir);
	bench_daemon_stop(d);
	*ret = x;
}

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* Handlers without SA_RESTART: a sleep in progress ends at once. */
void soak_catch_signals(void)
{
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* The flag. */
bool soak_interrupted(void)
{
	return interrupted != 0;
}

/* /proc/self/exe's directory, out of .libs. */
void soak_self_dir(char *buf, size_t cap)
{
	ssize_t n = readlink("/proc/self/exe", buf, cap - 1);
	buf[n > 0 ? n : 0] = '\0';
	char *slash = strrchr(buf, '/');
	if (slash)
		*slash = '\0';
	slash = strrchr(buf, '/');
	if (slash && !strcmp(slash, "/.libs"))
		*slash = '\0';
}
