/* SPDX-License-Identifier: MIT */
/*
 * ingest_bench.c - end-to-end ingest throughput of minibatchd against raw
 * libzmq moving the same messages in the same run.
 *
 *	bench/ingest_bench [--samples N] [--runs N] [--only ipc|tcp] [--shape u8x32|f32x1]
 *	                   [--model linear|softmax] [--set KEY=VALUE]... [DAEMON]
 *
 * Two message shapes, both Fashion-MNIST rows (784 features, 1 label):
 *  - "u8x32": 32 samples a message, features as U8 (25,248 bytes);
 *  - "f32x1": 1 sample a message, features as F32 (3,172 bytes).
 * For each shape and each transport (ipc in a temporary directory, tcp on
 * 127.0.0.1) a round runs:
 *  - raw: a PUSH thread sends N/per_msg prebuilt messages to a PULL thread
 *    that receives and counts them, each with its own ZeroMQ context (and
 *    I/O thread) like two processes; the time is first send to last receive;
 *  - daemon: a fresh minibatchd (DAEMON, default ../daemon/minibatchd next
 *    to this program) with its zmq source bound on the same kind of
 *    endpoint, linear 784-1 (--model softmax: softmax 784-10) with plain
 *    SGD, batch.size 256, no publication, checkpoints or metrics; the same
 *    messages go to it from a PUSH socket and the time is first send until
 *    its control socket's "status" says every sample was trained (polled
 *    every 2 ms on one REQ socket).
 * With --model softmax the daemon's figures are also set against Vowpal
 * Wabbit's daemon on the same task over TCP, a figure measured elsewhere
 * (VW_SAMPLES_PER_S), not in this run.
 * Each figure is the median of --runs rounds (default 3) with min and max;
 * the ratio daemon/raw pairs the two runs of a round.
 *
 * stdout: CSV "section,name,value,unit"; stderr: the same in words.
 */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

#include "bench_daemon.h"

#define MAX_RUNS 15
#define MAX_SETS 16 /* --set options: the daemon takes BENCH_DAEMON_MAX_OPTS in all */

/*
 * Vowpal Wabbit's daemon learning 10-class Fashion-MNIST over TCP on the
 * machine these benchmarks were written for (samples/s): an external
 * figure, quoted, not measured by this program.
 */
#define VW_SAMPLES_PER_S 27000.0

/* One message shape the benchmark moves. */
struct shape {
	const char *name;    /* CSV name part */
	uint32_t per_msg;    /* samples a message */
	enum mb_elem elem;   /* feature encoding */
	uint64_t default_n;  /* samples per run when --samples is not given */
};

static const struct shape shapes[] = {
	{"u8x32", 32, MB_ELEM_U8, 1920000},
	{"f32x1", 1, MB_ELEM_F32, 300000},
};

/* What the command line asked for. */
struct opts {
	uint64_t samples;    /* per run; 0 for each shape's default */
	unsigned runs;       /* rounds */
	const char *only;    /* "ipc", "tcp" or NULL for both */
	const char *shape;   /* "u8x32", "f32x1" or NULL for both */
	bool softmax;        /* the daemon trains softmax 784-10 instead of linear 784-1 */
	const char *sets[MAX_SETS + 1]; /* extra KEY=VALUE settings for the daemon, NULL-terminated */
	unsigned n_sets;     /* how many */
	const char *daemon;  /* the minibatchd binary */
};

/* Arguments of the raw receiver thread. */
struct puller {
	void *sock;        /* bound PULL socket, used only by the thread */
	uint64_t expect;   /* messages to receive */
	uint64_t got;      /* messages received */
	uint64_t bytes;    /* bytes received, so the copy is not optimised out */
	double done;       /* bench_now() at the last one */
};

/* Receive and count until every message came (or 30 s of silence). */
static void *pull_thread(void *arg)
{
	struct puller *p = arg;
	int timeout = 30000;
	zmq_setsockopt(p->sock, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
	zmq_msg_t m;
	zmq_msg_init(&m);
	while (p->got < p->expect) {
		int n = zmq_msg_recv(&m, p->sock, 0);
		if (n < 0)
			break;
		p->bytes += (uint64_t)n;
		p->got++;
	}
	p->done = bench_now();
	zmq_msg_close(&m);
	return NULL;
}

/* Send msgs messages of the cycle on a connected PUSH socket; 0 or -1. */
static int push_all(void *push, const struct bench_msgs *m, uint64_t msgs)
{
	for (uint64_t i = 0; i < msgs; i++)
		if (zmq_send(push, bench_msgs_get(m, i), m->len, 0) != (int)m->len) {
			fprintf(stderr, "send: %s\n", zmq_strerror(zmq_errno()));
			return -1;
		}
	return 0;
}

/* A PUSH socket that waits forever and leaves nothing behind on close. */
static void *new_push(void *ctx, const char *ep)
{
	void *s = zmq_socket(ctx, ZMQ_PUSH);
	int linger = 2000;
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
	if (zmq_connect(s, ep) != 0) {
		fprintf(stderr, "connect %s: %s\n", ep, zmq_strerror(zmq_errno()));
		zmq_close(s);
		return NULL;
	}
	return s;
}

/*
 * A free loopback port: bind port 0, read it back, close. Another process
 * could take it before the daemon binds; then the daemon fails to start
 * and the run says so.
 */
static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	int port = -1;
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/*
 * Raw PUSH->PULL over one transport: seconds, or -1. Each side has its own
 * ZeroMQ context, so its own I/O thread, as the two processes of the
 * daemon case have.
 */
static double run_raw(const char *transport, const struct bench_msgs *m, uint64_t msgs)
{
	char dir[] = "/tmp/mbd-bench-raw.XXXXXX", ep[512], path[300] = "";
	void *pull_ctx = zmq_ctx_new(), *push_ctx = zmq_ctx_new();
	void *pull = zmq_socket(pull_ctx, ZMQ_PULL);
	double secs = -1;
	if (!strcmp(transport, "ipc")) {
		if (!mkdtemp(dir))
			goto out_close;
		snprintf(path, sizeof path, "%s/ingest", dir);
		snprintf(ep, sizeof ep, "ipc://%s", path);
	} else {
		snprintf(ep, sizeof ep, "tcp://127.0.0.1:*");
	}
	if (zmq_bind(pull, ep) != 0) {
		fprintf(stderr, "bind %s: %s\n", ep, zmq_strerror(zmq_errno()));
		goto out_remove;
	}
	size_t eplen = sizeof ep;
	zmq_getsockopt(pull, ZMQ_LAST_ENDPOINT, ep, &eplen);
	struct puller p = {.sock = pull, .expect = msgs};
	void *push = new_push(push_ctx, ep);
	if (!push)
		goto out_remove;
	pthread_t t;
	if (pthread_create(&t, NULL, pull_thread, &p) != 0)
		goto out_push;
	double t0 = bench_now();
	int r = push_all(push, m, msgs);
	pthread_join(t, NULL);
	if (r == 0 && p.got == msgs)
		secs = p.done - t0;
	else
		fprintf(stderr, "raw %s: %llu of %llu messages arrived\n", transport,
			(unsigned long long)p.got, (unsigned long long)msgs);
out_push:
	zmq_close(push);
out_remove:
	if (path[0]) {
		unlink(path);
		rmdir(dir);
	}
out_close:
	zmq_close(pull);
	zmq_ctx_term(push_ctx);
	zmq_ctx_term(pull_ctx);
	return secs;
}

/* The same messages through a fresh daemon: seconds until all trained, or -1. */
static double run_daemon(const char *transport, const struct opts *o, const struct bench_msgs *m, uint64_t msgs)
{
	char src_ep[128], ep[512];
	int port = 0;
	if (!strcmp(transport, "ipc")) {
		snprintf(src_ep, sizeof src_ep, "source.in.endpoint=ipc://ingest");
	} else {
		port = free_port();
		if (port < 0)
			return -1;
		snprintf(src_ep, sizeof src_ep, "source.in.endpoint=tcp://127.0.0.1:%d", port);
	}
	const char *opts[BENCH_DAEMON_MAX_OPTS + 1] = {"source.in.type=zmq", src_ep,
			      o->softmax ? "model.kind=softmax" : "model.kind=linear",
			      o->softmax ? "model.outputs=10" : "model.outputs=1",
			      "model.inputs=784", "optimizer.kind=sgd",
			      o->softmax ? "optimizer.lr=0.01" : "optimizer.lr=0.0001", "batch.size=256",
			      "publish.every_batches=0", "publish.every_ms=0", "log.level=warning"};
	/* --set comes last: a later setting of the same key wins. */
	unsigned n = 0;
	while (opts[n])
		n++;
	for (unsigned i = 0; i < o->n_sets; i++)
		opts[n++] = o->sets[i];
	struct bench_daemon d;
	if (bench_daemon_start(&d, o->daemon, opts) < 0)
		return -1;
	if (port)
		snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
	else
		bench_daemon_endpoint(&d, "ingest", ep, sizeof ep);
	double secs = -1;
	void *push = new_push(d.zctx, ep);
	if (!push)
		goto out_stop;
	double t0 = bench_now();
	uint64_t samples = msgs * m->per_msg;
	if (push_all(push, m, msgs) == 0 && bench_daemon_wait_trained(&d, samples, 2000, 120000) == 0)
		secs = bench_now() - t0;
	else
		fprintf(stderr, "daemon %s: not every sample was trained\n", transport);
	zmq_close(push);
out_stop:
	bench_daemon_stop(&d);
	return secs;
}

/* qsort order of doubles. */
static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Print median, min and max of v[n] as three CSV lines and one human line. */
static void report(const char *section, const char *name, const char *unit, double *v, unsigned n)
{
	qsort(v, n, sizeof *v, cmp_double);
	double med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	printf("%s,%s,%.6g,%s\n%s,%s_min,%.6g,%s\n%s,%s_max,%.6g,%s\n", section, name, med, unit, section,
	       name, v[0], unit, section, name, v[n - 1], unit);
	fprintf(stderr, "  %-22s %12.4g %s  [%.4g .. %.4g]\n", name, med, unit, v[0], v[n - 1]);
	fflush(stdout);
}

/* All rounds of one shape over one transport. */
static int bench_case(const struct opts *o, const struct shape *sh, const char *transport,
		      const struct bench_msgs *m)
{
	uint64_t n = o->samples ? o->samples : sh->default_n;
	uint64_t msgs = (n + sh->per_msg - 1) / sh->per_msg;
	double raw[MAX_RUNS], dmn[MAX_RUNS], ratio[MAX_RUNS];
	fprintf(stderr, "%s over %s: %llu samples in %llu messages of %zu bytes, %u rounds\n", sh->name,
		transport, (unsigned long long)(msgs * sh->per_msg), (unsigned long long)msgs, m->len, o->runs);
	for (unsigned r = 0; r < o->runs; r++) {
		double tr = run_raw(transport, m, msgs);
		double td = run_daemon(transport, o, m, msgs);
		if (tr <= 0 || td <= 0)
			return -1;
		raw[r] = (double)(msgs * sh->per_msg) / tr;
		dmn[r] = (double)(msgs * sh->per_msg) / td;
		ratio[r] = dmn[r] / raw[r];
		fprintf(stderr, "  round %u: raw %.0f samples/s, daemon %.0f samples/s, ratio %.3f\n", r + 1,
			raw[r], dmn[r], ratio[r]);
	}
	/* The model is part of the daemon's names when it is not the default. */
	const char *model = o->softmax ? "softmax_" : "";
	char name[64];
	snprintf(name, sizeof name, "raw_%s_%s", transport, sh->name);
	report("ingest", name, "samples/s", raw, o->runs);
	snprintf(name, sizeof name, "daemon_%s_%s%s", transport, model, sh->name);
	report("ingest", name, "samples/s", dmn, o->runs);
	snprintf(name, sizeof name, "ratio_%s_%s%s", transport, model, sh->name);
	report("ingest", name, "ratio", ratio, o->runs);
	if (o->softmax && !strcmp(transport, "tcp")) {
		double vw[MAX_RUNS];
		for (unsigned r = 0; r < o->runs; r++)
			vw[r] = dmn[r] / VW_SAMPLES_PER_S;
		printf("ingest,vw_tcp_softmax_external,%.6g,samples/s\n", VW_SAMPLES_PER_S);
		fprintf(stderr, "  Vowpal Wabbit's daemon on this task over tcp: %.0f samples/s, measured elsewhere, "
			"not in this run (target: the daemon >= 20x)\n", VW_SAMPLES_PER_S);
		snprintf(name, sizeof name, "over_vw_tcp_softmax_%s", sh->name);
		report("ingest", name, "ratio", vw, o->runs);
	}
	return 0;
}

static const char usage[] =
	"usage: ingest_bench [--samples N] [--runs N] [--only ipc|tcp] [--shape u8x32|f32x1]\n"
	"                    [--model linear|softmax] [--set KEY=VALUE]... [DAEMON]\n"
	"  --samples N   samples per run (default 1920000 for u8x32, 300000 for f32x1)\n"
	"  --runs N      rounds, each raw then daemon (default 3, at most 15)\n"
	"  --only T      one transport\n"
	"  --shape S     one message shape\n"
	"  --model M     what the daemon trains: linear 784-1 (default) or softmax 784-10;\n"
	"                softmax also sets the tcp figure against Vowpal Wabbit's (external)\n"
	"  --set K=V     one more daemon setting (as minibatchd -o), repeatable, at most 16\n"
	"  DAEMON        minibatchd binary (default: daemon/minibatchd beside bench/)\n";

/* Fill o from the command line: 0 to run, 1 after --help, -1 on a bad one. */
static int parse(int argc, char **argv, struct opts *o, char *self_dir)
{
	static const struct option longs[] = {{"samples", required_argument, NULL, 's'},
					      {"runs", required_argument, NULL, 'r'},
					      {"only", required_argument, NULL, 'o'},
					      {"shape", required_argument, NULL, 'S'},
					      {"model", required_argument, NULL, 'm'},
					      {"set", required_argument, NULL, 'k'},
					      {"help", no_argument, NULL, 'h'},
					      {NULL, 0, NULL, 0}};
	int c;
	while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
		switch (c) {
		case 's': o->samples = strtoull(optarg, NULL, 10); break;
		case 'r': o->runs = (unsigned)atoi(optarg); break;
		case 'o': o->only = optarg; break;
		case 'S': o->shape = optarg; break;
		case 'm':
			if (strcmp(optarg, "linear") && strcmp(optarg, "softmax")) {
				fputs(usage, stderr);
				return -1;
			}
			o->softmax = !strcmp(optarg, "softmax");
			break;
		case 'k':
			if (o->n_sets == MAX_SETS || !strchr(optarg, '=')) {
				fputs(usage, stderr);
				return -1;
			}
			o->sets[o->n_sets++] = optarg;
			break;
		default: fputs(usage, c == 'h' ? stdout : stderr); return c == 'h' ? 1 : -1;
		}
	}
	if (o->runs < 1 || o->runs > MAX_RUNS || (o->only && strcmp(o->only, "ipc") && strcmp(o->only, "tcp")) ||
	    (o->shape && strcmp(o->shape, "u8x32") && strcmp(o->shape, "f32x1"))) {
		fputs(usage, stderr);
		return -1;
	}
	o->daemon = optind < argc ? argv[optind] : self_dir;
	return 0;
}

/* Every shape over every transport asked for; exit 0, 1 on a failed run, 2 on bad usage. */
int main(int argc, char **argv)
{
	/* Default daemon: ../daemon/minibatchd relative to this program's directory. */
	char self[4096], daemon[4200];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	self[n > 0 ? n : 0] = '\0';
	char *slash = strrchr(self, '/');
	if (slash)
		*slash = '\0';
	/* A libtool build runs the real program from bench/.libs. */
	slash = strrchr(self, '/');
	if (slash && !strcmp(slash, "/.libs"))
		*slash = '\0';
	snprintf(daemon, sizeof daemon, "%s/../daemon/minibatchd", self);

	struct opts o = {.runs = 3};
	int r = parse(argc, argv, &o, daemon);
	if (r)
		return r > 0 ? 0 : 2;
	if (access(o.daemon, X_OK) != 0) {
		fprintf(stderr, "%s: %s\n", o.daemon, strerror(errno));
		return 2;
	}
	struct mb_dataset *ds;
	if (bench_load_fashion(&ds) < 0)
		return 1;
	int status = 0;
	for (size_t s = 0; s < sizeof shapes / sizeof shapes[0] && !status; s++) {
		const struct shape *sh = &shapes[s];
		if (o.shape && strcmp(o.shape, sh->name))
			continue;
		/* One pass over the training set at most: enough distinct bytes to defeat caches. */
		uint64_t want = (o.samples ? o.samples : sh->default_n) / sh->per_msg;
		uint32_t count = (uint32_t)(want < ds->count / sh->per_msg ? want : ds->count / sh->per_msg);
		if (sh->per_msg == 1 && count > 8192)
			count = 8192;
		struct bench_msgs m;
		if (bench_msgs_build(ds, sh->per_msg, count ? count : 1, sh->elem, &m) < 0) {
			fprintf(stderr, "cannot encode %s messages\n", sh->name);
			status = 1;
			break;
		}
		static const char *const transports[] = {"ipc", "tcp"};
		for (int t = 0; t < 2 && !status; t++)
			if (!o.only || !strcmp(o.only, transports[t]))
				status = bench_case(&o, sh, transports[t], &m) < 0;
		bench_msgs_free(&m);
	}
	mb_dataset_free(ds);
	return status;
}
