/* SPDX-License-Identifier: MIT */
/*
 * stall_run.c - what a subscriber that stops reading costs the trainer.
 *
 *	bench/stall_run [--window S] [--rounds N] [--batch B] [--rss-slack MIB] [--daemon PATH]
 *
 * Each round starts a fresh minibatchd (zmq PULL source on ipc, softmax
 * 784-10, batch.size B (default 64), a snapshot published after every
 * batch: publish.every_batches=1, publish.every_ms=0) and a feeder thread
 * that sends Fashion-MNIST training rows (U8, 32 a message) as fast as the
 * daemon takes them for the whole round. After 3 s of warm-up two windows
 * of S seconds (default 60) follow, in alternating order from round to
 * round so that a drift of the machine's load does not favour one:
 *  - base: no subscriber;
 *  - stall: a SUB socket (ZMQ_RCVHWM 1) connects, receives one snapshot,
 *    then reads nothing for the window. The publisher keeps producing a
 *    snapshot per batch for it, so its queue fills at once.
 * In each window the trainer's throughput is the growth of "samples" in
 * the status reply over the window's wall time (and over the daemon's CPU
 * time, for comparison), and VmRSS is read every second. At the end of
 * the stall the subscriber reads again and reports whether a fresh
 * snapshot still reaches it.
 *
 * Figures: per round and the median of rounds with min and max: the two
 * throughputs and stall/base paired within the round (target >= 0.95), the
 * daemon's VmRSS just before the stall, at its end and the largest during
 * it. Checks: the median ratio >= 0.95 and the largest VmRSS of every stall
 * at most --rss-slack MiB (default 24) above the one before it.
 *
 * stdout: CSV "stall,name,value,unit" ending with "stall,verdict,pass|fail,verdict";
 * stderr: the same in words. Exit status 0 pass, 1 fail, 2 bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "soak_daemon.h"

#define MAX_ROUNDS 15
#define PER_MSG 32         /* samples a message */
#define WARMUP_S 3         /* before the first window */
#define MIN_RATIO 0.95     /* the throughput a stall may leave, at least */
#define FIRST_SNAP_MS 10000 /* for the subscriber's first snapshot */

/* What the command line asked for. */
struct opts {
	double window;      /* seconds per window */
	unsigned rounds;    /* paired rounds */
	unsigned batch;     /* batch.size */
	double rss_slack;   /* MiB a stall may add to VmRSS */
	const char *daemon; /* the minibatchd binary */
};

/* What one window measured. */
struct window {
	double rate;     /* samples trained per wall second */
	double cpu_rate; /* samples trained per daemon CPU second */
	long rss_start;  /* VmRSS at its start, KiB */
	long rss_end;    /* at its end */
	long rss_max;    /* the largest read (every second) */
	double snaps;    /* snapshots the daemon published meanwhile */
};

/* One REQ socket kept for the status polls of a window; NULL when it cannot be made. */
static void *status_socket(struct bench_daemon *d)
{
	char ep[512];
	int zero = 0, timeout = 5000;
	bench_daemon_endpoint(d, "control", ep, sizeof ep);
	void *s = zmq_socket(d->zctx, ZMQ_REQ);
	if (!s)
		return NULL;
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
	zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
	if (zmq_connect(s, ep) != 0) {
		zmq_close(s);
		return NULL;
	}
	return s;
}

/* "samples" and "snapshots" from one status request; 0 or -1. */
static int status_counts(void *s, double *samples, double *snaps)
{
	char buf[1 << 13];
	if (zmq_send(s, "status", 6, 0) != 6)
		return -1;
	int n = zmq_recv(s, buf, sizeof buf - 1, 0);
	if (n < 0)
		return -1;
	buf[(size_t)n < sizeof buf - 1 ? (size_t)n : sizeof buf - 1] = '\0';
	*samples = bench_json_num(buf, "samples");
	*snaps = bench_json_num(buf, "snapshots");
	return *samples < 0 ? -1 : 0;
}

/* Measure one window of secs seconds; 0 or -1 (the daemon stopped answering). */
static int measure(struct bench_daemon *d, double secs, struct window *ret)
{
	void *s = status_socket(d);
	double n0, n1, p0, p1;
	if (!s || status_counts(s, &n0, &p0) < 0)
		goto out_fail;
	double cpu0 = soak_proc_cpu(d->pid), t0 = bench_now();
	struct window w = {.rss_start = soak_proc_kib(d->pid, "VmRSS")};
	w.rss_max = w.rss_start;
	for (double next = t0 + 1; next <= t0 + secs; next += 1) {
		double now = bench_now();
		if (next > now)
			usleep((useconds_t)((next - now) * 1e6));
		long rss = soak_proc_kib(d->pid, "VmRSS");
		if (rss < 0 || soak_interrupted())
			goto out_fail;
		w.rss_max = rss > w.rss_max ? rss : w.rss_max;
	}
	double now = bench_now();
	if (now < t0 + secs)
		usleep((useconds_t)((t0 + secs - now) * 1e6));
	if (status_counts(s, &n1, &p1) < 0)
		goto out_fail;
	double t1 = bench_now(), cpu1 = soak_proc_cpu(d->pid);
	w.rss_end = soak_proc_kib(d->pid, "VmRSS");
	w.rss_max = w.rss_end > w.rss_max ? w.rss_end : w.rss_max;
	w.rate = (n1 - n0) / (t1 - t0);
	w.cpu_rate = cpu1 > cpu0 ? (n1 - n0) / (cpu1 - cpu0) : 0;
	w.snaps = p1 - p0;
	zmq_close(s);
	*ret = w;
	return 0;
out_fail:
	fprintf(stderr, soak_interrupted() ? "interrupted: stopping the daemon\n" : "the daemon stopped answering status\n");
	if (s)
		zmq_close(s);
	return -1;
}

/*
 * The stall window: connect a subscriber, take one snapshot, read nothing
 * for the window, then see whether snapshots still come. 0 or -1.
 */
static int stall_window(struct bench_daemon *d, double secs, struct window *ret, bool *ret_alive)
{
	char ep[512];
	int one = 1, zero = 0, r = -1;
	bench_daemon_endpoint(d, "snapshots", ep, sizeof ep);
	void *sub = zmq_socket(d->zctx, ZMQ_SUB);
	if (!sub)
		return -1;
	zmq_setsockopt(sub, ZMQ_RCVHWM, &one, sizeof one);
	zmq_setsockopt(sub, ZMQ_LINGER, &zero, sizeof zero);
	zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
	if (zmq_connect(sub, ep) != 0)
		goto out_close;
	zmq_pollitem_t it = {.socket = sub, .events = ZMQ_POLLIN};
	zmq_msg_t m;
	zmq_msg_init(&m);
	if (zmq_poll(&it, 1, FIRST_SNAP_MS) != 1 || zmq_msg_recv(&m, sub, 0) < 0) {
		fprintf(stderr, "the subscriber got no snapshot within %d ms\n", FIRST_SNAP_MS);
		goto out_msg;
	}
	/* Drain the rest of that message's frames; from here on nothing is read. */
	while (zmq_msg_more(&m) && zmq_msg_recv(&m, sub, 0) >= 0)
		;
	if (measure(d, secs, ret) < 0)
		goto out_msg;
	/* Read what is queued, then wait for one published after the stall. */
	while (zmq_msg_recv(&m, sub, ZMQ_DONTWAIT) >= 0)
		;
	*ret_alive = zmq_poll(&it, 1, 5000) == 1;
	r = 0;
out_msg:
	zmq_msg_close(&m);
out_close:
	zmq_close(sub);
	return r;
}

/* qsort order of doubles. */
static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Median, min and max of v[n] (sorted here) as three CSV lines; the median. */
static double report(const char *name, const char *unit, double *v, unsigned n)
{
	qsort(v, n, sizeof *v, cmp_double);
	double med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	printf("stall,%s,%.6g,%s\nstall,%s_min,%.6g,%s\nstall,%s_max,%.6g,%s\n", name, med, unit, name, v[0], unit,
	       name, v[n - 1], unit);
	fprintf(stderr, "  %-24s %12.6g %s  [%.6g .. %.6g]\n", name, med, unit, v[0], v[n - 1]);
	return med;
}

/* One round on a fresh daemon; 0 or -1. */
static int round_run(const struct opts *o, unsigned round, const struct bench_msgs *msgs, struct window *base,
		     struct window *stall, bool *alive)
{
	char batch[64];
	snprintf(batch, sizeof batch, "batch.size=%u", o->batch);
	const char *opts[] = {"source.in1.type=zmq", "source.in1.endpoint=ipc://in1", "model.kind=softmax",
			      "model.inputs=784", "model.outputs=10", batch, "publish.every_batches=1",
			      "publish.every_ms=0", "log.level=warning", NULL};
	struct bench_daemon d;
	struct soak_feeder f = {0};
	char ep[512];
	int r = -1;
	if (bench_daemon_start(&d, o->daemon, opts) < 0)
		return -1;
	bench_daemon_endpoint(&d, "in1", ep, sizeof ep);
	if (soak_feeder_start(&f, msgs, ep, 0, UINT64_MAX) < 0)
		goto out_stop;
	usleep(WARMUP_S * 1000000);
	bool stall_first = round % 2;
	for (int phase = 0; phase < 2; phase++) {
		bool is_stall = (phase == 0) == stall_first;
		if (is_stall ? stall_window(&d, o->window, stall, alive) : measure(&d, o->window, base))
			goto out_join;
	}
	r = 0;
	fprintf(stderr, "round %u (%s first): base %.0f samples/s (%.0f per CPU s, %.0f snapshots), "
			"stalled %.0f samples/s (%.0f per CPU s, %.0f snapshots): ratio %.3f; "
			"VmRSS %ld -> %ld kB (largest %ld) over the stall; subscriber %s afterwards\n",
		round + 1, stall_first ? "stall" : "base", base->rate, base->cpu_rate, base->snaps, stall->rate,
		stall->cpu_rate, stall->snaps, stall->rate / base->rate, stall->rss_start, stall->rss_end,
		stall->rss_max, *alive ? "still served" : "dropped");
out_join:
	soak_feeder_join(&f, true);
out_stop:;
	struct soak_exit x;
	soak_daemon_shutdown(&d, 30, &x);
	if (x.status != 0 || x.reports) {
		fprintf(stderr, "the daemon did not exit cleanly (status 0x%x, %u sanitizer reports)\n",
			(unsigned)x.status, x.reports);
		r = -1;
	}
	return r;
}

static const char usage[] =
	"usage: stall_run [--window S] [--rounds N] [--batch B] [--rss-slack MIB] [--daemon PATH]\n"
	"  --window S       seconds of each window, base and stall (default 60)\n"
	"  --rounds N       paired rounds, each on a fresh daemon (default 3, at most 15)\n"
	"  --batch B        batch.size, one snapshot published per batch (default 64)\n"
	"  --rss-slack MIB  VmRSS a stall may add (default 24)\n"
	"  --daemon PATH    minibatchd (default: daemon/minibatchd of this build tree)\n";

/* Fill o; 0 to run, 1 after --help, -1 on bad usage. */
static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option longs[] = {
		{"window", required_argument, NULL, 'w'}, {"rounds", required_argument, NULL, 'r'},
		{"batch", required_argument, NULL, 'b'},  {"rss-slack", required_argument, NULL, 's'},
		{"daemon", required_argument, NULL, 'd'}, {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	int c;
	while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
		switch (c) {
		case 'w': o->window = atof(optarg); break;
		case 'r': o->rounds = (unsigned)atoi(optarg); break;
		case 'b': o->batch = (unsigned)atoi(optarg); break;
		case 's': o->rss_slack = atof(optarg); break;
		case 'd': o->daemon = optarg; break;
		default: fputs(usage, c == 'h' ? stdout : stderr); return c == 'h' ? 1 : -1;
		}
	}
	if (optind != argc || o->window < 1 || o->rounds < 1 || o->rounds > MAX_ROUNDS || o->batch < 1 ||
	    o->rss_slack <= 0) {
		fputs(usage, stderr);
		return -1;
	}
	return 0;
}

/* Parse, run the rounds, report. */
int main(int argc, char **argv)
{
	char self[4096], daemon[4200];
	soak_self_dir(self, sizeof self);
	snprintf(daemon, sizeof daemon, "%s/../daemon/minibatchd", self);
	struct opts o = {.window = 60, .rounds = 3, .batch = 64, .rss_slack = 24, .daemon = daemon};
	int r = parse(argc, argv, &o);
	if (r)
		return r > 0 ? 0 : 2;
	if (access(o.daemon, X_OK) != 0) {
		fprintf(stderr, "%s: %s\n", o.daemon, strerror(errno));
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	soak_catch_signals();
	struct mb_dataset *ds;
	struct bench_msgs msgs;
	if (bench_load_fashion(&ds) < 0)
		return 1;
	if (bench_msgs_build(ds, PER_MSG, ds->count / PER_MSG, MB_ELEM_U8, &msgs) < 0) {
		fprintf(stderr, "cannot encode the messages\n");
		mb_dataset_free(ds);
		return 1;
	}
	fprintf(stderr, "%u rounds of %.0f s base and %.0f s stalled, softmax 784-10, batch.size %u, a snapshot per batch\n",
		o.rounds, o.window, o.window, o.batch);
	double base[MAX_ROUNDS], stall[MAX_ROUNDS], ratio[MAX_ROUNDS], cpu_ratio[MAX_ROUNDS];
	double before[MAX_ROUNDS], after[MAX_ROUNDS], peak[MAX_ROUNDS], growth[MAX_ROUNDS], snaps[MAX_ROUNDS];
	unsigned served = 0;
	int status = 0;
	for (unsigned i = 0; i < o.rounds; i++) {
		struct window b, s;
		bool alive = false;
		if (round_run(&o, i, &msgs, &b, &s, &alive) < 0) {
			status = 1;
			break;
		}
		base[i] = b.rate;
		stall[i] = s.rate;
		ratio[i] = s.rate / b.rate;
		cpu_ratio[i] = b.cpu_rate > 0 ? s.cpu_rate / b.cpu_rate : 0;
		before[i] = (double)s.rss_start;
		after[i] = (double)s.rss_end;
		peak[i] = (double)s.rss_max;
		growth[i] = (double)(s.rss_max - s.rss_start) / 1024.0;
		snaps[i] = s.snaps / o.window;
		served += alive;
		printf("stall,round%u_ratio,%.4f,ratio\n", i + 1, ratio[i]);
	}
	if (!status) {
		report("base_samples_per_s", "samples/s", base, o.rounds);
		report("stalled_samples_per_s", "samples/s", stall, o.rounds);
		double med = report("ratio", "ratio", ratio, o.rounds);
		report("ratio_per_cpu_s", "ratio", cpu_ratio, o.rounds);
		report("snapshots_per_s_stalled", "snapshots/s", snaps, o.rounds);
		report("rss_before_stall", "kB", before, o.rounds);
		report("rss_after_stall", "kB", after, o.rounds);
		report("rss_max_during_stall", "kB", peak, o.rounds);
		report("rss_growth_during_stall", "MiB", growth, o.rounds);
		printf("stall,subscriber_served_after_stall,%u,rounds\n", served);
		bool rss_ok = growth[o.rounds - 1] <= o.rss_slack; /* sorted: the largest */
		bool pass = med >= MIN_RATIO && rss_ok;
		fprintf(stderr, "verdict: %s (median ratio %.3f, target >= %.2f; largest VmRSS growth %.1f MiB, limit %.0f)\n",
			pass ? "PASS" : "FAIL", med, MIN_RATIO, growth[o.rounds - 1], o.rss_slack);
		printf("stall,verdict,%s,verdict\n", pass ? "pass" : "fail");
		status = !pass;
	} else {
		printf("stall,verdict,fail,verdict\n");
	}
	bench_msgs_free(&msgs);
	mb_dataset_free(ds);
	return status;
}
