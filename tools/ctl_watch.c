/* SPDX-License-Identifier: MIT */
/*
 * ctl_watch.c - minibatchctl watch: one line per snapshot the daemon
 * publishes, optionally with the accuracy of that snapshot on a test set.
 *
 * A watcher that falls behind (a slow terminal, a test set to score) skips
 * to the newest snapshot queued: a line is about the model as it is now.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"

/* Rows the evaluation model scores per forward pass. */
#define EVAL_BATCH 1024u

enum watch_opt {
	OPT_CSV = CTL_OPT_FIRST_LOCAL,
	OPT_EVAL,
	OPT_LABELS,
	OPT_FEATURES,
	OPT_COUNT,
	OPT_INTERVAL,
	OPT_TOPIC,
	OPT_HELP,
};

static const struct option watch_options[] = {
	{"csv", no_argument, NULL, OPT_CSV},
	{"eval", required_argument, NULL, OPT_EVAL},
	{"labels", required_argument, NULL, OPT_LABELS},
	{"features", required_argument, NULL, OPT_FEATURES},
	{"count", required_argument, NULL, OPT_COUNT},
	{"interval", required_argument, NULL, OPT_INTERVAL},
	{"topic", required_argument, NULL, OPT_TOPIC},
	{"help", no_argument, NULL, OPT_HELP},
	CTL_GLOBAL_OPTIONS,
	{NULL, 0, NULL, 0},
};

static const char watch_usage[] =
	"usage: minibatchctl watch [OPTIONS]\n"
	"Print one line per snapshot: version, samples seen, batches, recent cost, age.\n"
	"  --eval FILE     also the accuracy (classifiers) or cost of each snapshot on\n"
	"                  this labelled file (IDX images, CSV, libsvm, binary)\n"
	"  --labels FILE   labels of an IDX images file given to --eval\n"
	"  --features N    features of a libsvm file given to --eval\n"
	"  --csv           comma-separated values, with a header line\n"
	"  --count N       stop after N lines\n"
	"  --timeout S     stop when no snapshot has come for S seconds\n"
	"  --interval S    at most one line every S seconds (the newest snapshot)\n"
	"  --topic NAME    only this model's snapshots\n"
	"Exit status: 0 once a line was printed, 2 if no snapshot came.\n";

/* What the command line asked for. */
struct watch_args {
	bool csv;              /* --csv */
	const char *eval;      /* --eval */
	const char *labels;    /* --labels */
	uint32_t n_features;   /* --features */
	uint32_t count;        /* --count, 0 for no limit */
	double interval;       /* --interval */
	const char *topic;     /* --topic */
};

/* State of one watch. */
struct watcher {
	const struct watch_args *a; /* options */
	struct ctl_data test;       /* the --eval set, ds NULL without one */
	uint32_t printed;           /* lines printed */
	double last_print;          /* ctl_now() at the last line, -inf before */
	bool header_done;           /* the CSV header is out */
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Score snap on the test set: 0 with *ret filled, -1 after a message. */
static int evaluate(const struct watcher *w, const struct mb_client_snap *snap, struct mb_client_score *ret)
{
	const struct mb_dataset *ds = w->test.ds;
	struct mb_model *m;
	int r = mb_client_model(snap, EVAL_BATCH, &m);
	if (r < 0) {
		ctl_err("snapshot %" PRIu64 " does not make a model: %s", snap->info.version, strerror(-r));
		return -1;
	}
	if (snap->info.sizes[0] != ds->n_features) {
		ctl_err("%s has %u features, the model takes %u", w->a->eval, ds->n_features, snap->info.sizes[0]);
		mb_model_free(m);
		return -1;
	}
	r = mb_client_score(m, ds->x, ds->y, ds->count, NULL, ret);
	mb_model_free(m);
	if (r < 0) {
		ctl_err("scoring snapshot %" PRIu64 " on %s: %s", snap->info.version, w->a->eval,
			r == -EINVAL ? "labels out of the model's range" : strerror(-r));
		return -1;
	}
	return 0;
}

/* Print the line of one snapshot; -1 when the evaluation failed. */
static int print_snapshot(struct watcher *w, const struct mb_client_snap *snap)
{
	struct mb_client_score sc = {0};
	if (w->test.ds && evaluate(w, snap, &sc) < 0)
		return -1;
	uint64_t now = now_ns(), ts = snap->info.timestamp_ns;
	double age_ms = now > ts ? (double)(now - ts) / 1e6 : 0.0;
	const struct mb_snap_info *in = &snap->info;
	bool classifier = w->test.ds && !isnan(sc.accuracy);

	if (w->a->csv) {
		if (!w->header_done) {
			printf("version,samples,batches,cost,age_ms%s\n",
			       !w->test.ds ? "" : classifier ? ",test_cost,test_accuracy" : ",test_cost");
			w->header_done = true;
		}
		printf("%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%.6g,%.1f", in->version, in->samples, in->batches,
		       (double)in->cost, age_ms);
		if (w->test.ds)
			printf(",%.6g", sc.cost);
		if (classifier)
			printf(",%.4f", sc.accuracy);
	} else {
		printf("version %-7" PRIu64 " samples %-9" PRIu64 " batches %-7" PRIu64 " cost %-8.4f age %4.0f ms",
		       in->version, in->samples, in->batches, (double)in->cost, age_ms);
		if (classifier)
			printf("  test accuracy %.4f", sc.accuracy);
		else if (w->test.ds)
			printf("  test cost %.4f", sc.cost);
	}
	putchar('\n');
	fflush(stdout);
	w->printed++;
	w->last_print = ctl_now();
	return 0;
}

/* ms to wait for the next snapshot: the idle timeout, or when a held one is due. */
static int wait_ms(const struct ctl_env *env, double idle_since, const struct watcher *w, bool holding)
{
	double t = -1;
	if (env->timeout_set)
		t = fmax(0.0, idle_since + env->timeout_ms / 1000.0 - ctl_now());
	if (holding) {
		double due = fmax(0.0, w->last_print + w->a->interval - ctl_now());
		t = t < 0 ? due : fmin(t, due);
	}
	return t < 0 ? -1 : (int)ceil(t * 1000.0);
}

static int watch_loop(const struct ctl_env *env, struct watcher *w, struct mb_subscriber *sub)
{
	struct mb_client_snap *held = NULL; /* received, waiting for its --interval turn */
	double idle_since = ctl_now();
	int status = CTL_EXIT_OK;

	while (!ctl_stop && (!w->a->count || w->printed < w->a->count)) {
		struct mb_client_snap *snap = NULL;
		struct mb_diag d = {0};
		int r = mb_subscriber_latest(sub, wait_ms(env, idle_since, w, held != NULL), &snap, &d);
		if (r == 0) {
			idle_since = ctl_now();
			mb_client_snap_free(held);
			held = snap;
		} else if (r == -ETIMEDOUT) {
			if (!held)
				break; /* idle for --timeout */
		} else if (r == -EINTR) {
			break;
		} else {
			ctl_err("a snapshot was refused: %s", d.text[0] ? d.text : strerror(-r));
			continue;
		}
		if (held && ctl_now() - w->last_print >= w->a->interval) {
			if (print_snapshot(w, held) < 0) {
				status = CTL_EXIT_FAILED;
				break;
			}
			held = mb_client_snap_free(held);
		}
	}
	/* Stopped by a signal: what already arrived is newer than what is held. */
	if (ctl_stop && status == CTL_EXIT_OK) {
		struct mb_client_snap *snap = NULL;
		if (mb_subscriber_latest(sub, 0, &snap, NULL) == 0) {
			mb_client_snap_free(held);
			held = snap;
		}
	}
	/* The newest snapshot is always shown, even when --interval held it back. */
	if (held && status == CTL_EXIT_OK && (!w->a->count || w->printed < w->a->count) &&
	    print_snapshot(w, held) < 0)
		status = CTL_EXIT_FAILED;
	mb_client_snap_free(held);
	if (status == CTL_EXIT_OK && !w->printed) {
		ctl_err("no snapshot from %s%s", env->snapshots, env->timeout_set ? " in time" : "");
		status = CTL_EXIT_UNREACHABLE;
	}
	return status;
}

/* minibatchctl watch: see watch_usage. */
int ctl_watch(struct ctl_env *env, int argc, char **argv)
{
	struct watch_args a = {0};
	int c;
	optind = 1;
	while ((c = ctl_getopt(env, argc, argv, "", watch_options)) != -1) {
		switch (c) {
		case CTL_OPT_BAD_GLOBAL: return CTL_EXIT_UNREACHABLE;
		case OPT_CSV: a.csv = true; break;
		case OPT_EVAL: a.eval = optarg; break;
		case OPT_LABELS: a.labels = optarg; break;
		case OPT_FEATURES:
			if (ctl_parse_u32("--features", optarg, 1, MB_MAX_FEATURES, &a.n_features) < 0)
				return CTL_EXIT_UNREACHABLE;
			break;
		case OPT_COUNT:
			if (ctl_parse_u32("--count", optarg, 1, UINT32_MAX, &a.count) < 0)
				return CTL_EXIT_UNREACHABLE;
			break;
		case OPT_INTERVAL:
			if (ctl_parse_seconds("--interval", optarg, &a.interval) < 0)
				return CTL_EXIT_UNREACHABLE;
			break;
		case OPT_TOPIC: a.topic = optarg; break;
		case OPT_HELP: fputs(watch_usage, stdout); return CTL_EXIT_OK;
		default: fputs(watch_usage, stderr); return CTL_EXIT_UNREACHABLE;
		}
	}
	if (optind < argc) {
		ctl_err("watch takes no arguments ('%s')", argv[optind]);
		fputs(watch_usage, stderr);
		return CTL_EXIT_UNREACHABLE;
	}
	if (ctl_env_resolve(env) < 0)
		return CTL_EXIT_UNREACHABLE;

	struct watcher w = {.a = &a, .last_print = -INFINITY};
	if (a.eval && ctl_data_load(a.eval, a.labels, a.n_features, &w.test) < 0)
		return CTL_EXIT_FAILED;
	struct mb_subscriber_cfg cfg = {.endpoint = env->snapshots, .topic = a.topic};
	struct mb_subscriber *sub;
	int status;
	int r = mb_subscriber_new_curve(&cfg, ctl_env_curve(env), &sub);
	if (r < 0) {
		ctl_err("cannot connect to %s: %s", env->snapshots, strerror(-r));
		status = CTL_EXIT_FAILED;
		goto out_free_test;
	}
	ctl_catch_signals();
	status = watch_loop(env, &w, sub);
	mb_subscriber_free(sub);
out_free_test:
	mb_dataset_free(w.test.ds);
	return status;
}
