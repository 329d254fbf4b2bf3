/* SPDX-License-Identifier: MIT */
/*
 * soak_run.c - a long stream through one daemon: is its memory flat, and
 * does every sample sent show up in its counters?
 *
 *	bench/soak_run [--samples N] [--sources K] [--model softmax|linear]
 *		       [--policy block|drop-newest|drop-oldest] [--warmup PCT]
 *		       [--tolerance PCT] [--trace FILE] [-o KEY=VALUE]... [--no-memory-check]
 *		       [--daemon PATH]
 *
 * Starts minibatchd (zmq PULL sources in1..inK on ipc, softmax 784-10 with
 * its default optimizer, batch.size 256, default publication, no
 * checkpoints, no metrics) and sends it N Fashion-MNIST training rows (U8,
 * 32 a message, the 60,000 rows cycled), N/K on each source from its own
 * thread and ZeroMQ context, as fast as the daemon takes them. Once a
 * second it reads VmRSS and VmHWM from /proc/PID/status and asks "stats".
 *
 * Checks at the end:
 *  - memory: after warm-up (once the trainer has learned PCT% of N,
 *    default 10), VmRSS shows no trend: a least-squares line through the
 *    readings against samples trained rises by at most --tolerance%
 *    (default 5) of their mean (see check_rss for why not the spread of
 *    single readings, which is reported too);
 *  - counters, per source, once the daemon is quiet: sent (counted here)
 *    = received, and received = queued + dropped + rejected; the
 *    trainer's samples = the sum of queued (the trainer has no per-source
 *    count: what a source queued is what was trained from it);
 *  - exit: SIGTERM ends the daemon with status 0 and its log holds no
 *    AddressSanitizer, LeakSanitizer or UBSan report.
 *
 * stdout: CSV "soak,name,value,unit" and a verdict line; stderr: progress.
 * Exit status: 0 when every check passed, 1 when one failed, 2 on bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "soak_daemon.h"

#define MAX_SOURCES 8
#define MAX_EXTRA 8         /* -o settings */
#define PER_MSG 32          /* samples a message */
#define QUIET_TIMEOUT_S 120 /* for the counters to settle after the last send */

/* What the command line asked for. */
struct opts {
	uint64_t samples;   /* to send in all */
	unsigned sources;   /* zmq sources, one feeder each */
	const char *model;  /* model.kind */
	const char *policy; /* batch.policy */
	double warmup;      /* percent of samples trained before memory is judged */
	double tolerance;   /* percent the RSS trend may rise after warm-up */
	const char *trace;  /* per-second CSV file, or NULL */
	const char *daemon; /* the minibatchd binary */
	const char *extra[MAX_EXTRA]; /* -o KEY=VALUE settings for the daemon */
	unsigned n_extra;   /* how many */
	bool judge_memory;  /* false: memory is reported but not judged (sanitizer builds) */
};

/* One reading of the daemon. */
struct reading {
	double t;        /* seconds since the stream started */
	long rss;        /* VmRSS, KiB */
	long hwm;        /* VmHWM, KiB */
	double trained;  /* trainer samples */
};

/* Readings, grown as needed. */
struct readings {
	struct reading *v; /* the readings */
	size_t n, cap;     /* used and allocated */
};

static int readings_add(struct readings *r, struct reading x)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 1024;
		struct reading *v = realloc(r->v, cap * sizeof *v);
		if (!v)
			return -1;
		r->v = v;
		r->cap = cap;
	}
	r->v[r->n++] = x;
	return 0;
}

static const char usage[] =
	"usage: soak_run [--samples N] [--sources K] [--model softmax|linear]\n"
	"                [--policy block|drop-newest|drop-oldest] [--warmup PCT] [--tolerance PCT]\n"
	"                [--trace FILE] [-o KEY=VALUE]... [--no-memory-check] [--daemon PATH]\n"
	"  --samples N     Fashion-MNIST rows to send in all (default 100000000)\n"
	"  --sources K     zmq sources, each fed by its own thread (default 2, at most 8)\n"
	"  --model M       softmax (784-10, default) or linear (784-1, cheaper)\n"
	"  --policy P      batch.policy of the daemon (default block)\n"
	"  --warmup PCT    memory is judged after PCT% of the samples were trained (default 10)\n"
	"  --tolerance PCT how far the VmRSS trend may rise after warm-up, in % of its mean (default 5)\n"
	"  --trace FILE    one CSV line a second: seconds,vmrss_kib,vmhwm_kib,trained\n"
	"  -o KEY=VALUE    a daemon setting added after the soak's own (repeatable)\n"
	"  --no-memory-check  report memory without judging it (AddressSanitizer's quarantine\n"
	"                  and shadow grow to hundreds of MB by design)\n"
	"  --daemon PATH   minibatchd (default: daemon/minibatchd of this build tree)\n";

/* Fill o; 0 to run, 1 after --help, -1 on bad usage. */
static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option longs[] = {
		{"samples", required_argument, NULL, 's'}, {"sources", required_argument, NULL, 'k'},
		{"model", required_argument, NULL, 'm'},   {"policy", required_argument, NULL, 'p'},
		{"warmup", required_argument, NULL, 'w'},  {"tolerance", required_argument, NULL, 't'},
		{"trace", required_argument, NULL, 'T'},   {"daemon", required_argument, NULL, 'd'},
		{"no-memory-check", no_argument, NULL, 'M'},
		{"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
	int c;
	while ((c = getopt_long(argc, argv, "ho:", longs, NULL)) != -1) {
		switch (c) {
		case 's': o->samples = strtoull(optarg, NULL, 10); break;
		case 'k': o->sources = (unsigned)atoi(optarg); break;
		case 'm': o->model = optarg; break;
		case 'p': o->policy = optarg; break;
		case 'w': o->warmup = atof(optarg); break;
		case 't': o->tolerance = atof(optarg); break;
		case 'T': o->trace = optarg; break;
		case 'd': o->daemon = optarg; break;
		case 'M': o->judge_memory = false; break;
		case 'o':
			if (o->n_extra == MAX_EXTRA) {
				fprintf(stderr, "at most %d -o settings\n", MAX_EXTRA);
				return -1;
			}
			o->extra[o->n_extra++] = optarg;
			break;
		default: fputs(usage, c == 'h' ? stdout : stderr); return c == 'h' ? 1 : -1;
		}
	}
	if (optind != argc || o->samples < PER_MSG || o->sources < 1 || o->sources > MAX_SOURCES ||
	    (strcmp(o->model, "softmax") && strcmp(o->model, "linear")) || o->warmup < 0 || o->warmup >= 100 ||
	    o->tolerance <= 0) {
		fputs(usage, stderr);
		return -1;
	}
	return 0;
}

/* "stats" into buf; 0 or -1. */
static int stats(struct bench_daemon *d, char *buf, size_t cap)
{
	return bench_daemon_control(d, "stats", 5000, buf, cap);
}

/*
 * Wait until every source received what was sent to it and the trainer
 * learned all that was queued; 0, or -1 on timeout (the last reply stays in buf).
 */
static int wait_quiet(struct bench_daemon *d, const struct soak_feeder *f, unsigned k, char *buf, size_t cap)
{
	double deadline = bench_now() + QUIET_TIMEOUT_S;
	while (bench_now() < deadline) {
		if (stats(d, buf, cap) == 0) {
			double queued = 0;
			bool arrived = true;
			for (unsigned i = 0; i < k; i++) {
				char name[16];
				struct soak_source_counts c;
				snprintf(name, sizeof name, "in%u", i + 1);
				if (soak_source_counts(buf, name, &c) < 0) {
					arrived = false;
					break;
				}
				arrived = arrived && c.received >= (double)atomic_load(&f[i].sent);
				queued += c.queued;
			}
			if (arrived && bench_json_num(buf, "samples") >= queued)
				return 0;
		}
		usleep(100000);
	}
	return -1;
}

/* The per-source balance, printed; the number of sources that do not balance. */
static unsigned check_counters(const char *json, const struct soak_feeder *f, unsigned k)
{
	unsigned bad = 0;
	double queued = 0, trained = bench_json_num(json, "samples");
	for (unsigned i = 0; i < k; i++) {
		char name[16];
		struct soak_source_counts c;
		snprintf(name, sizeof name, "in%u", i + 1);
		double sent = (double)atomic_load(&f[i].sent);
		if (soak_source_counts(json, name, &c) < 0) {
			fprintf(stderr, "no counters for source %s in: %s\n", name, json);
			bad++;
			continue;
		}
		queued += c.queued;
		bool ok = sent == c.received && c.received == c.queued + c.dropped + c.rejected;
		printf("soak,%s_sent,%.0f,samples\nsoak,%s_received,%.0f,samples\nsoak,%s_trained,%.0f,samples\n"
		       "soak,%s_dropped,%.0f,samples\nsoak,%s_rejected,%.0f,samples\n",
		       name, sent, name, c.received, name, c.queued, name, c.dropped, name, c.rejected);
		fprintf(stderr, "source %s: sent %.0f, received %.0f = trained %.0f + dropped %.0f + rejected %.0f: %s\n",
			name, sent, c.received, c.queued, c.dropped, c.rejected, ok ? "balanced" : "NOT BALANCED");
		bad += !ok;
	}
	bool ok = trained == queued;
	printf("soak,trainer_samples,%.0f,samples\nsoak,trainer_skipped,%.0f,batches\n", trained,
	       bench_json_num(json, "skipped"));
	fprintf(stderr, "trainer: %.0f samples learned, sum of queued %.0f: %s\n", trained, queued,
		ok ? "equal" : "NOT EQUAL");
	return bad + !ok;
}

/*
 * Judge the readings taken once from_trained samples were learned: 0 flat,
 * 1 grew, -1 too few to judge. VmRSS moves up and down with the fill of
 * ZeroMQ's receive queues (up to source.rcvhwm messages a source) and of
 * the heap around them, so flat is judged on what a leak would change:
 * a least-squares line through VmRSS against samples trained rises by
 * at most tolerance% of the mean over the judged stretch (a leak of one
 * byte a sample would add 90 MB over 90 million samples). The spread of
 * the readings (largest over smallest) and the growth of VmHWM after
 * warm-up are reported: they follow the queues' fill, not the stream's
 * length.
 */
static int check_rss(const struct readings *r, double from_trained, double tolerance)
{
	long lo = 0, hi = 0, hwm0 = 0, hwm1 = 0;
	size_t n = 0;
	double t0 = 0, sx = 0, sy = 0, sxx = 0, sxy = 0, x0 = 0, x1 = 0;
	for (size_t i = 0; i < r->n; i++) {
		const struct reading *v = &r->v[i];
		if (v->trained < from_trained || v->rss <= 0)
			continue;
		if (!n++) {
			lo = hi = v->rss;
			t0 = v->t;
			x0 = v->trained;
			hwm0 = v->hwm;
		}
		lo = v->rss < lo ? v->rss : lo;
		hi = v->rss > hi ? v->rss : hi;
		hwm1 = v->hwm;
		x1 = v->trained;
		/* In millions of samples and MiB, to keep the sums well conditioned. */
		double x = v->trained / 1e6, y = (double)v->rss / 1024;
		sx += x;
		sy += y;
		sxx += x * x;
		sxy += x * y;
	}
	printf("soak,rss_readings_after_warmup,%zu,count\n", n);
	double den = (double)n * sxx - sx * sx;
	if (n < 3 || den <= 0) {
		fprintf(stderr, "memory: %zu readings after warm-up, too few to judge\n", n);
		return -1;
	}
	double slope = ((double)n * sxy - sx * sy) / den; /* MiB per million samples */
	double mean = sy / (double)n;
	double trend = 100.0 * slope * (x1 - x0) / 1e6 / mean;
	double peak = 100.0 * (double)(hwm1 - hwm0) / (double)hwm0;
	double spread = 100.0 * (double)(hi - lo) / (double)lo;
	printf("soak,warmup_end_s,%.1f,s\nsoak,rss_min_after_warmup,%ld,kB\nsoak,rss_max_after_warmup,%ld,kB\n"
	       "soak,rss_mean_after_warmup,%.0f,kB\nsoak,rss_spread_after_warmup,%.2f,percent\n"
	       "soak,rss_trend_after_warmup,%.2f,percent\nsoak,rss_slope,%.1f,kB/10M samples\n"
	       "soak,vmhwm_at_warmup_end,%ld,kB\nsoak,vmhwm_growth_after_warmup,%.2f,percent\n",
	       t0, lo, hi, mean * 1024, spread, trend, slope * 1024 * 10, hwm0, peak);
	fprintf(stderr, "memory after warm-up (from %.1f s, %zu readings): VmRSS %ld .. %ld kB (spread %.2f%%), "
			"trend %+.2f%% (%+.1f kB per 10M samples), VmHWM %ld -> %ld kB (%+.2f%%); limit %.1f%%\n",
		t0, n, lo, hi, spread, trend, slope * 1024 * 10, hwm0, hwm1, peak, tolerance);
	return trend <= tolerance ? 0 : 1;
}

/* Start the daemon with K zmq sources. */
static int start_daemon(struct bench_daemon *d, const struct opts *o)
{
	char kv[MAX_SOURCES * 2][96], model[64], policy[64];
	const char *opts[BENCH_DAEMON_MAX_OPTS + 1];
	int n = 0;
	for (unsigned i = 0; i < o->sources; i++) {
		snprintf(kv[2 * i], sizeof kv[0], "source.in%u.type=zmq", i + 1);
		snprintf(kv[2 * i + 1], sizeof kv[0], "source.in%u.endpoint=ipc://in%u", i + 1, i + 1);
		opts[n++] = kv[2 * i];
		opts[n++] = kv[2 * i + 1];
	}
	snprintf(model, sizeof model, "model.kind=%s", o->model);
	snprintf(policy, sizeof policy, "batch.policy=%s", o->policy);
	opts[n++] = model;
	opts[n++] = !strcmp(o->model, "linear") ? "model.outputs=1" : "model.outputs=10";
	opts[n++] = "model.inputs=784";
	opts[n++] = "batch.size=256";
	opts[n++] = policy;
	opts[n++] = "log.level=warning";
	for (unsigned i = 0; i < o->n_extra; i++)
		opts[n++] = o->extra[i];
	opts[n] = NULL;
	return bench_daemon_start(d, o->daemon, opts);
}

/* The stream, with a reading a second; 0, or -1 when the daemon or a feeder failed. */
static int stream(struct bench_daemon *d, const struct opts *o, struct soak_feeder *f, struct readings *rd,
		  FILE *trace, double t0)
{
	char buf[1 << 14];
	double next = t0 + 1;
	unsigned decile = 1;
	for (;;) {
		bool running = false;
		uint64_t sent = 0;
		for (unsigned i = 0; i < o->sources; i++) {
			running = running || (atomic_load(&f[i].sent) < f[i].msgs_to_send * PER_MSG && !f[i].error);
			sent += atomic_load(&f[i].sent);
		}
		if (!running)
			break;
		if (soak_interrupted()) {
			fprintf(stderr, "interrupted: stopping the daemon\n");
			return -1;
		}
		double now = bench_now();
		if (now < next) {
			usleep((useconds_t)((next - now) * 1e6));
			continue;
		}
		next += 1;
		long rss = soak_proc_kib(d->pid, "VmRSS");
		if (rss < 0 || waitpid(d->pid, NULL, WNOHANG) == d->pid) {
			fprintf(stderr, "minibatchd died during the stream\n");
			d->pid = 0;
			return -1;
		}
		if (stats(d, buf, sizeof buf) < 0) {
			fprintf(stderr, "no answer to stats at %.0f s\n", now - t0);
			continue;
		}
		struct reading x = {.t = now - t0, .rss = rss, .hwm = soak_proc_kib(d->pid, "VmHWM"),
				    .trained = bench_json_num(buf, "samples")};
		if (readings_add(rd, x) < 0)
			return -1;
		if (trace)
			fprintf(trace, "%.1f,%ld,%ld,%.0f\n", x.t, x.rss, x.hwm, x.trained);
		if (decile <= 10 && x.trained >= (double)o->samples * decile / 10) {
			while (decile <= 10 && x.trained >= (double)o->samples * decile / 10)
				decile++;
			fprintf(stderr, "%3u%%: %11.0f trained, %11llu sent, VmRSS %7ld kB, %7.1f s, %.0f samples/s\n",
				(decile - 1) * 10, x.trained, (unsigned long long)sent, x.rss, x.t, x.trained / x.t);
		}
	}
	for (unsigned i = 0; i < o->sources; i++)
		if (f[i].error)
			return -1;
	return 0;
}

/* The whole soak; exit status. */
static int soak(const struct opts *o)
{
	struct mb_dataset *ds;
	struct bench_msgs msgs;
	struct bench_daemon d;
	struct soak_feeder f[MAX_SOURCES] = {0};
	struct readings rd = {0};
	int status = 1;
	FILE *trace = NULL;
	if (bench_load_fashion(&ds) < 0)
		return 1;
	/* The whole training set once, 32 rows a message: 1875 distinct messages. */
	if (bench_msgs_build(ds, PER_MSG, ds->count / PER_MSG, MB_ELEM_U8, &msgs) < 0) {
		fprintf(stderr, "cannot encode the messages\n");
		goto out_free_ds;
	}
	if (o->trace && !(trace = fopen(o->trace, "w"))) {
		fprintf(stderr, "%s: %s\n", o->trace, strerror(errno));
		goto out_free_msgs;
	}
	if (trace)
		fprintf(trace, "seconds,vmrss_kib,vmhwm_kib,trained\n");
	if (start_daemon(&d, o) < 0)
		goto out_close_trace;
	long rss_idle = soak_proc_kib(d.pid, "VmRSS");
	uint64_t msgs_total = (o->samples + PER_MSG - 1) / PER_MSG;
	fprintf(stderr, "minibatchd %d (%s): %s 784-%s, %u sources, policy %s; %llu samples in %llu messages of %zu bytes\n",
		(int)d.pid, o->daemon, o->model, strcmp(o->model, "linear") ? "10" : "1", o->sources, o->policy,
		(unsigned long long)(msgs_total * PER_MSG), (unsigned long long)msgs_total, msgs.len);
	int started = 0;
	double t0 = bench_now();
	for (unsigned i = 0; i < o->sources; i++) {
		char ep[512], name[16];
		snprintf(name, sizeof name, "in%u", i + 1);
		bench_daemon_endpoint(&d, name, ep, sizeof ep);
		uint64_t share = msgs_total / o->sources + (i < msgs_total % o->sources);
		if (soak_feeder_start(&f[i], &msgs, ep, (uint64_t)i * msgs.count / o->sources, share) < 0)
			break;
		started++;
	}
	int r = started == (int)o->sources ? stream(&d, o, f, &rd, trace, t0) : -1;
	for (int i = 0; i < started; i++)
		soak_feeder_join(&f[i], r < 0);
	char buf[1 << 14] = "";
	if (r == 0 && wait_quiet(&d, f, o->sources, buf, sizeof buf) < 0) {
		fprintf(stderr, "the counters did not settle within %d s of the last send\n", QUIET_TIMEOUT_S);
		stats(&d, buf, sizeof buf);
	}
	/* From the first send until the trainer learned the last sample. */
	double secs = bench_now() - t0;
	long rss_end = d.pid ? soak_proc_kib(d.pid, "VmRSS") : -1, hwm = d.pid ? soak_proc_kib(d.pid, "VmHWM") : -1;
	if (rss_end > 0 && readings_add(&rd, (struct reading){secs, rss_end, hwm, bench_json_num(buf, "samples")}) < 0)
		r = -1;

	uint64_t sent = 0;
	for (unsigned i = 0; i < o->sources; i++)
		sent += atomic_load(&f[i].sent);
	printf("soak,samples_sent,%llu,samples\nsoak,duration,%.1f,s\nsoak,samples_per_s,%.0f,samples/s\n",
	       (unsigned long long)sent, secs, secs > 0 ? (double)sent / secs : 0);
	printf("soak,rss_idle,%ld,kB\nsoak,rss_end,%ld,kB\nsoak,vmhwm,%ld,kB\n", rss_idle, rss_end, hwm);
	unsigned unbalanced = r == 0 ? check_counters(buf, f, o->sources) : 1;
	int rss = r == 0 ? check_rss(&rd, (double)o->samples * o->warmup / 100, o->tolerance) : -1;
	if (!o->judge_memory && rss >= 0) {
		fprintf(stderr, "memory: not judged (--no-memory-check)\n");
		rss = -1;
	}

	struct soak_exit x;
	soak_daemon_shutdown(&d, 60, &x);
	bool clean_exit = x.status == 0;
	printf("soak,daemon_exit_status,%d,status\nsoak,sanitizer_reports,%u,count\n",
	       x.status >= 0 && WIFEXITED(x.status) ? WEXITSTATUS(x.status) : -1, x.reports);
	fprintf(stderr, "shutdown: %s, %u sanitizer reports in the log\n",
		clean_exit ? "exit status 0" : "NOT a clean exit", x.reports);

	bool pass = r == 0 && !unbalanced && (rss <= 0 || !o->judge_memory) && clean_exit && !x.reports;
	printf("soak,memory_judged,%d,bool\nsoak,verdict,%s,verdict\n", rss >= 0, pass ? "pass" : "fail");
	fprintf(stderr, "verdict: %s (stream %s, counters %s, memory %s, exit %s)\n", pass ? "PASS" : "FAIL",
		r == 0 ? "complete" : "FAILED", unbalanced ? "UNBALANCED" : "balanced",
		rss < 0 ? "not judged" : rss ? "GREW" : "flat", clean_exit && !x.reports ? "clean" : "NOT CLEAN");
	status = pass ? 0 : 1;
	free(rd.v);
out_close_trace:
	if (trace)
		fclose(trace);
out_free_msgs:
	bench_msgs_free(&msgs);
out_free_ds:
	mb_dataset_free(ds);
	return status;
}

/* Parse, find the daemon, soak. */
int main(int argc, char **argv)
{
	char self[4096], daemon[4200];
	soak_self_dir(self, sizeof self);
	snprintf(daemon, sizeof daemon, "%s/../daemon/minibatchd", self);
	struct opts o = {.samples = 100000000, .sources = 2, .model = "softmax", .policy = "block",
			 .warmup = 10, .tolerance = 5, .daemon = daemon, .judge_memory = true};
	int r = parse(argc, argv, &o);
	if (r)
		return r > 0 ? 0 : 2;
	if (access(o.daemon, X_OK) != 0) {
		fprintf(stderr, "%s: %s\n", o.daemon, strerror(errno));
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	soak_catch_signals();
	return soak(&o);
}
