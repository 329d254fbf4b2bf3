/* SPDX-License-Identifier: MIT */
/*
 * latency_bench.c - how long a sample takes to show in a published
 * snapshot, and what one snapshot publication costs.
 *
 *	bench/latency_bench [--samples N] [--rate R] [--runs N] [DAEMON]
 *
 * Latency: a fresh minibatchd (softmax 784-10, plain SGD, zmq PULL source
 * on ipc, snapshots on ipc) with publish.every_batches=1 and
 * publish.every_ms=0, in two cases: "batch1" (batch.size=1) and "batch32"
 * (batch.size=32, batch.linger_ms=1: one sample at a time rides a partial
 * batch sealed by the linger). A subscriber connects first; then one
 * Fashion-MNIST row (U8) at a time is sent at --rate per second (default
 * 200), and for each the time from just before the send to the arrival of
 * the first snapshot whose "samples" counter includes it is taken. p50, p99
 * and max over --samples sends (default 1000).
 *
 * Publication cost, two ways:
 *  - timed directly (the main figure): the daemon's own handover and
 *    publisher (daemon/handover.c, daemon/publisher.c) run in this process
 *    and publish on ipc to a subscriber thread that takes everything;
 *    2000 snapshots are handed over one at a time, each after the previous
 *    one was sent. Reported: the trainer's share (copy the parameters into
 *    the handover and hand over: all the training thread ever pays) and the
 *    time from handing over until the publisher thread has encoded and sent
 *    it, for softmax 784-10 (7,850 parameters) and an MLP 784-128-10
 *    (101,770 parameters);
 *  - by throughput difference (noisy on a shared machine): the daemon's
 *    throughput over --cost-samples rows (default 640000; U8, 32 a message,
 *    batch.size=32) with publish.every_batches=1 (a subscriber receiving
 *    everything) against publish.every_batches=0 and every_ms=0, in --runs
 *    rounds (default 3) alternating the two; the difference of the two
 *    times divided by the snapshots the daemon reports having published
 *    (fewer than the batches when the publisher skips to the newest one),
 *    median over rounds. Alongside, mb_snap_encode of 7,850 parameters
 *    timed alone.
 *
 * stdout: CSV "section,name,value,unit"; stderr: the same in words.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "bench_daemon.h"
#include "client.h"
#include "handover.h"
#include "publisher.h"

#define MAX_RUNS 15

/* What the command line asked for. */
struct opts {
	unsigned samples;       /* latency probes per case */
	unsigned rate;          /* probes per second */
	unsigned runs;          /* rounds of the cost measurement */
	uint64_t cost_samples;  /* rows per cost run */
	const char *daemon;     /* the minibatchd binary */
};

/* qsort order of doubles. */
static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The q-quantile of sorted v[n], nearest rank. */
static double quantile(const double *v, unsigned n, double q)
{
	unsigned i = (unsigned)ceil(q * n);
	return v[i ? i - 1 : 0];
}

/* One CSV line on stdout, flushed so a harness sees it at once. */
static void csv(const char *section, const char *name, double value, const char *unit)
{
	printf("%s,%s,%.6g,%s\n", section, name, value, unit);
	fflush(stdout);
}

/* Sleep until the monotonic time t (seconds). */
static void sleep_until(double t)
{
	double d = t - bench_now();
	if (d > 0) {
		struct timespec ts = {.tv_sec = (time_t)d, .tv_nsec = (long)((d - (double)(time_t)d) * 1e9)};
		nanosleep(&ts, NULL);
	}
}

/*
 * Wait for a snapshot that has learned at least samples rows; 0, or -1
 * after timeout_s.
 */
static int await_snapshot(struct mb_subscriber *sub, uint64_t samples, double timeout_s)
{
	double deadline = bench_now() + timeout_s;
	while (bench_now() < deadline) {
		struct mb_client_snap *snap = NULL;
		int r = mb_subscriber_recv(sub, (int)((deadline - bench_now()) * 1000) + 1, &snap, NULL);
		if (r == -ETIMEDOUT)
			return -1;
		if (r < 0)
			continue;
		uint64_t got = snap->info.samples;
		mb_client_snap_free(snap);
		if (got >= samples)
			return 0;
	}
	return -1;
}

/* One latency case: fresh daemon, subscriber first, probes one by one. */
static int latency_case(const struct opts *o, const char *name, const char *const *extra,
			const struct bench_msgs *one)
{
	const char *opts[BENCH_DAEMON_MAX_OPTS] = {"source.in.type=zmq", "source.in.endpoint=ipc://ingest",
						   "model.kind=softmax", "model.inputs=784", "optimizer.kind=sgd",
						   "optimizer.lr=0.01", "publish.every_batches=1",
						   "publish.every_ms=0", "log.level=warning"};
	int n = 9;
	for (int i = 0; extra[i] && n < BENCH_DAEMON_MAX_OPTS - 1; i++)
		opts[n++] = extra[i];
	opts[n] = NULL;
	struct bench_daemon d;
	if (bench_daemon_start(&d, o->daemon, opts) < 0)
		return -1;
	char ep[512];
	int ret = -1;
	double *lat = calloc(o->samples, sizeof *lat);
	struct mb_subscriber *sub = NULL;
	bench_daemon_endpoint(&d, "snapshots", ep, sizeof ep);
	struct mb_subscriber_cfg scfg = {.endpoint = ep, .zmq_ctx = d.zctx};
	if (!lat || mb_subscriber_new(&scfg, &sub) < 0)
		goto out_stop;
	bench_daemon_endpoint(&d, "ingest", ep, sizeof ep);
	void *push = zmq_socket(d.zctx, ZMQ_PUSH);
	int zero = 0;
	zmq_setsockopt(push, ZMQ_LINGER, &zero, sizeof zero);
	if (zmq_connect(push, ep) != 0)
		goto out_push;

	/* Warm up until a snapshot arrives: the subscription is then in place. */
	uint64_t sent = 0;
	int warm = -1;
	for (int i = 0; i < 100 && warm < 0; i++) {
		zmq_send(push, bench_msgs_get(one, sent), one->len, 0);
		sent++;
		warm = await_snapshot(sub, 1, 0.1);
	}
	if (warm < 0 || bench_daemon_wait_trained(&d, sent, 1000, 10000) < 0) {
		fprintf(stderr, "%s: no snapshot after warm-up\n", name);
		goto out_push;
	}
	/* Let the warm-up's snapshots arrive, then drop them. */
	usleep(200000);
	for (struct mb_client_snap *s; mb_subscriber_recv(sub, 0, &s, NULL) == 0;)
		mb_client_snap_free(s);

	double period = 1.0 / o->rate, next = bench_now();
	for (unsigned i = 0; i < o->samples; i++) {
		sleep_until(next);
		double t0 = bench_now();
		next = t0 + period;
		if (zmq_send(push, bench_msgs_get(one, sent), one->len, 0) != (int)one->len)
			goto out_push;
		sent++;
		if (await_snapshot(sub, sent, 5.0) < 0) {
			fprintf(stderr, "%s: probe %u: no snapshot with %llu samples within 5 s\n", name, i,
				(unsigned long long)sent);
			bench_daemon_dump_log(&d);
			goto out_push;
		}
		lat[i] = (bench_now() - t0) * 1e6;
	}
	qsort(lat, o->samples, sizeof *lat, cmp_double);
	double p50 = quantile(lat, o->samples, 0.5), p99 = quantile(lat, o->samples, 0.99);
	double max = lat[o->samples - 1];
	char key[64];
	snprintf(key, sizeof key, "%s_p50", name);
	csv("latency", key, p50, "us");
	snprintf(key, sizeof key, "%s_p99", name);
	csv("latency", key, p99, "us");
	snprintf(key, sizeof key, "%s_max", name);
	csv("latency", key, max, "us");
	fprintf(stderr, "  %-8s send to snapshot: p50 %.0f us, p99 %.0f us, max %.0f us (%u probes at %u/s)\n",
		name, p50, p99, max, o->samples, o->rate);
	ret = 0;
out_push:
	zmq_close(push);
	mb_subscriber_free(sub);
out_stop:
	free(lat);
	bench_daemon_stop(&d);
	return ret;
}

/* A subscriber that takes every snapshot until told to stop. */
struct drain {
	struct mb_subscriber *sub; /* used only by the thread */
	atomic_bool stop;          /* set by the main thread (relaxed: polled every 50 ms) */
	uint64_t got;              /* snapshots received */
};

/* Thread body of struct drain. */
static void *drain_thread(void *arg)
{
	struct drain *dr = arg;
	while (!atomic_load_explicit(&dr->stop, memory_order_relaxed)) {
		struct mb_client_snap *s = NULL;
		if (mb_subscriber_recv(dr->sub, 50, &s, NULL) == 0) {
			dr->got++;
			mb_client_snap_free(s);
		}
	}
	return NULL;
}

/*
 * One cost run: seconds to train every row of msgs (count messages), with
 * or without a snapshot after each batch; *ret_snaps the snapshots the
 * daemon reports. -1 on failure.
 */
static double cost_run(const struct opts *o, bool publish, const struct bench_msgs *m, uint64_t msgs,
		       uint64_t *ret_snaps)
{
	const char *opts[] = {"source.in.type=zmq", "source.in.endpoint=ipc://ingest", "model.kind=softmax",
			      "model.inputs=784", "optimizer.kind=sgd", "optimizer.lr=0.01", "batch.size=32",
			      publish ? "publish.every_batches=1" : "publish.every_batches=0",
			      "publish.every_ms=0", "log.level=warning", NULL};
	struct bench_daemon d;
	if (bench_daemon_start(&d, o->daemon, opts) < 0)
		return -1;
	char ep[512], reply[1 << 14];
	double secs = -1;
	struct drain dr = {0};
	pthread_t t;
	bool running = false;
	bench_daemon_endpoint(&d, "snapshots", ep, sizeof ep);
	struct mb_subscriber_cfg scfg = {.endpoint = ep, .zmq_ctx = d.zctx};
	if (mb_subscriber_new(&scfg, &dr.sub) < 0)
		goto out_stop;
	running = pthread_create(&t, NULL, drain_thread, &dr) == 0;
	if (!running)
		goto out_stop;
	usleep(100000); /* let the subscription reach the daemon */
	bench_daemon_endpoint(&d, "ingest", ep, sizeof ep);
	void *push = zmq_socket(d.zctx, ZMQ_PUSH);
	int linger = 2000;
	zmq_setsockopt(push, ZMQ_LINGER, &linger, sizeof linger);
	if (zmq_connect(push, ep) != 0)
		goto out_push;
	double t0 = bench_now();
	for (uint64_t i = 0; i < msgs; i++)
		if (zmq_send(push, bench_msgs_get(m, i), m->len, 0) != (int)m->len)
			goto out_push;
	if (bench_daemon_wait_trained(&d, msgs * m->per_msg, 1000, 120000) < 0)
		goto out_push;
	secs = bench_now() - t0;
	if (bench_daemon_control(&d, "status", 5000, reply, sizeof reply) == 0)
		*ret_snaps = (uint64_t)bench_json_num(reply, "snapshots");
out_push:
	zmq_close(push);
out_stop:
	if (running) {
		atomic_store_explicit(&dr.stop, true, memory_order_relaxed);
		pthread_join(t, NULL);
	}
	mb_subscriber_free(dr.sub);
	bench_daemon_stop(&d);
	return secs;
}

/* Encoding alone: mb_snap_encode of a softmax 784-10, in microseconds per call. */
static double encode_us(void)
{
	struct mb_snap_info info = {.kind = MB_MODEL_SOFTMAX, .n_layers = 1, .sizes = {784, 10},
				    .act = {MB_ACT_SOFTMAX}, .samples = 1, .batches = 1};
	size_t np = mb_snap_param_count(&info), cap = mb_snap_size(&info);
	float *params = calloc(np ? np : 1, sizeof *params);
	void *buf = malloc(cap ? cap : 1);
	double us = -1;
	if (!np || !cap || !params || !buf)
		goto out_free;
	for (size_t i = 0; i < np; i++)
		params[i] = (float)i * 1e-4f;
	unsigned reps = 20000;
	double t0 = bench_now();
	for (unsigned i = 0; i < reps; i++)
		if (mb_snap_encode(buf, cap, &info, params) < 0)
			goto out_free;
	us = (bench_now() - t0) * 1e6 / reps;
out_free:
	free(buf);
	free(params);
	return us;
}

/* The daemon's publisher thread. */
static void *publisher_thread(void *arg)
{
	mb_publisher_run(arg);
	return NULL;
}

/*
 * Wait until the publisher's sent counter passes count; false after 5 s.
 * Yields rather than spins: on two cores a spinning waiter would take the
 * publisher's CPU.
 */
static bool await_sent(const struct mb_publisher *p, uint64_t count)
{
	double deadline = bench_now() + 5;
	while (atomic_load_explicit(&mb_publisher_stats(p)->sent, memory_order_relaxed) < count) {
		if (bench_now() > deadline)
			return false;
		sched_yield();
	}
	return true;
}

/*
 * The publisher timed directly: the daemon's own handover and publisher
 * (daemon/handover.c, daemon/publisher.c) in this process, publishing on
 * ipc to a subscriber thread that takes everything. Per snapshot of a
 * model with sizes {in, hidden, out} (hidden 0: softmax): *ret_trainer_us
 * the trainer's part (copy into the handover and hand over), and
 * *ret_total_us from handing over until the publisher has encoded and
 * sent it, snapshots handed over one at a time. 0 or -1.
 */
static int publisher_direct(uint32_t in, uint32_t hidden, uint32_t out, unsigned reps,
			    double *ret_trainer_us, double *ret_total_us)
{
	struct mb_snap_info info = {.kind = hidden ? MB_MODEL_MLP : MB_MODEL_SOFTMAX,
				    .n_layers = hidden ? 2 : 1,
				    .sizes = {in, hidden ? hidden : out, out},
				    .act = {hidden ? MB_ACT_RELU : MB_ACT_SOFTMAX, MB_ACT_SOFTMAX}};
	size_t np = mb_snap_param_count(&info);
	char dir[] = "/tmp/mbd-bench-pub.XXXXXX", ep[512], path[300], err[256];
	float *params = calloc(np ? np : 1, sizeof *params);
	struct mb_handover *h = NULL;
	struct mb_publisher *pub = NULL;
	struct drain dr = {0};
	pthread_t pt, dt;
	bool pub_running = false, drain_running = false;
	int ret = -1;
	void *ctx = zmq_ctx_new();
	if (!np || !params || !mkdtemp(dir))
		goto out_free;
	for (size_t i = 0; i < np; i++)
		params[i] = (float)(i % 1000) * 1e-4f;
	snprintf(path, sizeof path, "%s/snapshots", dir);
	snprintf(ep, sizeof ep, "ipc://%s", path);
	if (mb_handover_new(&h) < 0 || mb_handover_alloc(h, np) < 0)
		goto out_rmdir;
	struct mb_publisher_cfg pcfg = {.zmq_ctx = ctx, .endpoints = ep, .runtime_dir = dir,
					.topic = hidden ? "mlp" : "softmax", .sndhwm = 16, .handover = h};
	if (mb_publisher_new(&pcfg, &pub, err, sizeof err) < 0) {
		fprintf(stderr, "publisher: %s\n", err);
		goto out_rmdir;
	}
	pub_running = pthread_create(&pt, NULL, publisher_thread, pub) == 0;
	struct mb_subscriber_cfg scfg = {.endpoint = ep, .zmq_ctx = ctx};
	if (!pub_running || mb_subscriber_new(&scfg, &dr.sub) < 0)
		goto out_stop;
	drain_running = pthread_create(&dt, NULL, drain_thread, &dr) == 0;
	if (!drain_running)
		goto out_stop;
	usleep(100000); /* let the subscription reach the publisher */

	double copy = 0, total = 0;
	for (unsigned i = 0; i <= reps; i++) {
		uint64_t before = atomic_load_explicit(&mb_publisher_stats(pub)->sent, memory_order_relaxed);
		double t0 = bench_now();
		struct mb_handover_slot *slot = mb_handover_back(h);
		slot->info = info;
		slot->info.n_params = (uint32_t)np;
		slot->info.samples = slot->info.batches = slot->info.version = i + 1;
		memcpy(slot->params, params, np * sizeof *params);
		mb_handover_publish(h);
		double t1 = bench_now();
		if (!await_sent(pub, before + 1))
			goto out_stop;
		if (i) { /* the first one pays for the first connection's buffers */
			copy += t1 - t0;
			total += bench_now() - t0;
		}
	}
	*ret_trainer_us = copy * 1e6 / reps;
	*ret_total_us = total * 1e6 / reps;
	ret = 0;
out_stop:
	if (pub_running) {
		mb_publisher_stop(pub);
		pthread_join(pt, NULL);
	}
	if (drain_running) {
		atomic_store_explicit(&dr.stop, true, memory_order_relaxed);
		pthread_join(dt, NULL);
	}
	mb_subscriber_free(dr.sub);
	mb_publisher_free(pub);
out_rmdir:
	mb_handover_free(h);
	unlink(path);
	rmdir(dir);
out_free:
	free(params);
	zmq_ctx_term(ctx);
	return ret;
}

/* Direct timing for softmax 784-10 and an MLP 784-128-10. */
static int direct_case(void)
{
	static const struct { const char *name; uint32_t hidden; } models[] = {{"softmax784x10", 0},
									       {"mlp784x128x10", 128}};
	fprintf(stderr, "publication cost, timed directly (daemon's handover and publisher, 2000 snapshots each):\n");
	for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
		double trainer_us, total_us;
		char key[96];
		if (publisher_direct(784, models[i].hidden, 10, 2000, &trainer_us, &total_us) < 0) {
			fprintf(stderr, "  %s: the publisher did not send\n", models[i].name);
			return -1;
		}
		snprintf(key, sizeof key, "handover_%s", models[i].name);
		csv("publish", key, trainer_us, "us");
		snprintf(key, sizeof key, "publish_%s", models[i].name);
		csv("publish", key, total_us, "us");
		fprintf(stderr, "  %-14s trainer's share (copy + handover) %.2f us; handover to sent %.1f us\n",
			models[i].name, trainer_us, total_us);
	}
	return 0;
}

/* Publication cost by throughput difference, over o->runs alternating rounds. */
static int cost_case(const struct opts *o, const struct mb_dataset *ds)
{
	struct bench_msgs m;
	uint64_t msgs = o->cost_samples / 32;
	if (bench_msgs_build(ds, 32, ds->count / 32, MB_ELEM_U8, &m) < 0)
		return -1;
	double per[MAX_RUNS], with_s[MAX_RUNS], without_s[MAX_RUNS];
	uint64_t snaps = 0, batches = msgs; /* a 32-row message fills one batch */
	int ret = -1;
	fprintf(stderr, "publication cost: %llu samples, batch 32, publish every batch vs never, %u rounds\n",
		(unsigned long long)(msgs * 32), o->runs);
	for (unsigned r = 0; r < o->runs; r++) {
		uint64_t none = 0;
		double t_without = cost_run(o, false, &m, msgs, &none);
		double t_with = cost_run(o, true, &m, msgs, &snaps);
		if (t_with < 0 || t_without < 0)
			goto out_free;
		with_s[r] = (double)(msgs * 32) / t_with;
		without_s[r] = (double)(msgs * 32) / t_without;
		/* Snapshots can be fewer than batches: the publisher sends the newest one it holds. */
		per[r] = (t_with - t_without) * 1e6 / (double)(snaps ? snaps : batches);
		fprintf(stderr, "  round %u: %.0f samples/s without, %.0f with (%llu snapshots): %+.1f us a snapshot\n",
			r + 1, without_s[r], with_s[r], (unsigned long long)snaps, per[r]);
	}
	qsort(per, o->runs, sizeof *per, cmp_double);
	qsort(with_s, o->runs, sizeof *with_s, cmp_double);
	qsort(without_s, o->runs, sizeof *without_s, cmp_double);
	unsigned mid = o->runs / 2;
	csv("publish", "samples_per_s_no_snapshots", without_s[mid], "samples/s");
	csv("publish", "samples_per_s_snapshot_every_batch", with_s[mid], "samples/s");
	csv("publish", "cost_per_snapshot", per[mid], "us");
	csv("publish", "cost_per_snapshot_min", per[0], "us");
	csv("publish", "cost_per_snapshot_max", per[o->runs - 1], "us");
	double enc = encode_us();
	csv("publish", "snap_encode_784x10", enc, "us");
	fprintf(stderr, "  median: %.1f us a snapshot [%.1f .. %.1f]; mb_snap_encode alone %.2f us\n", per[mid],
		per[0], per[o->runs - 1], enc);
	ret = 0;
out_free:
	bench_msgs_free(&m);
	return ret;
}

static const char usage[] =
	"usage: latency_bench [--samples N] [--rate R] [--runs N] [--cost-samples N] [DAEMON]\n"
	"  --samples N       latency probes per case (default 1000)\n"
	"  --rate R          probes per second (default 200)\n"
	"  --runs N          rounds of the throughput-difference measurement (default 3, at most 15;\n"
	"                    0 skips it)\n"
	"  --cost-samples N  rows per publication-cost run (default 640000)\n"
	"  DAEMON            minibatchd binary (default: daemon/minibatchd beside bench/)\n";

/* Both latency cases, then the publication cost; exit 0, 1 on a failed run, 2 on bad usage. */
int main(int argc, char **argv)
{
	static const struct option longs[] = {{"samples", required_argument, NULL, 's'},
					      {"rate", required_argument, NULL, 'r'},
					      {"runs", required_argument, NULL, 'n'},
					      {"cost-samples", required_argument, NULL, 'c'},
					      {"help", no_argument, NULL, 'h'},
					      {NULL, 0, NULL, 0}};
	struct opts o = {.samples = 1000, .rate = 200, .runs = 3, .cost_samples = 640000};
	int c;
	while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
		switch (c) {
		case 's': o.samples = (unsigned)atoi(optarg); break;
		case 'r': o.rate = (unsigned)atoi(optarg); break;
		case 'n': o.runs = (unsigned)atoi(optarg); break;
		case 'c': o.cost_samples = strtoull(optarg, NULL, 10); break;
		default: fputs(usage, c == 'h' ? stdout : stderr); return c == 'h' ? 0 : 2;
		}
	}
	if (!o.samples || !o.rate || o.runs > MAX_RUNS || o.cost_samples < 32) {
		fputs(usage, stderr);
		return 2;
	}
	/* Default daemon: ../daemon/minibatchd from this program's directory (libtool: from .libs). */
	char self[4096], daemon[4200];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	self[n > 0 ? n : 0] = '\0';
	for (int i = 0; i < 2; i++) {
		char *slash = strrchr(self, '/');
		if (slash && (i == 0 || !strcmp(slash, "/.libs")))
			*slash = '\0';
	}
	snprintf(daemon, sizeof daemon, "%s/../daemon/minibatchd", self);
	o.daemon = optind < argc ? argv[optind] : daemon;
	if (access(o.daemon, X_OK) != 0) {
		fprintf(stderr, "%s: %s\n", o.daemon, strerror(errno));
		return 2;
	}

	struct mb_dataset *ds;
	if (bench_load_fashion(&ds) < 0)
		return 1;
	struct bench_msgs one;
	int status = 1;
	if (bench_msgs_build(ds, 1, 4096, MB_ELEM_U8, &one) < 0)
		goto out_free_ds;
	static const char *const batch1[] = {"batch.size=1", NULL};
	static const char *const batch32[] = {"batch.size=32", "batch.linger_ms=1", NULL};
	fprintf(stderr, "latency: one U8 sample at a time, snapshot after every batch\n");
	if (latency_case(&o, "batch1", batch1, &one) < 0 || latency_case(&o, "batch32", batch32, &one) < 0)
		goto out_free_one;
	if (direct_case() < 0 || (o.runs && cost_case(&o, ds) < 0))
		goto out_free_one;
	status = 0;
out_free_one:
	bench_msgs_free(&one);
out_free_ds:
	mb_dataset_free(ds);
	return status;
}
