/* SPDX-License-Identifier: MIT */
/*
 * ctl_feed.c - minibatchctl feed: stream data files (or stdin) to the
 * daemon's ingest socket.
 *
 * Files are loaded whole and sent as binary sample messages: IDX images as
 * bytes with scale 1/255 (a 784-pixel image is 784 bytes on the wire),
 * everything else as float32 unless --elem says otherwise. Standard input
 * is passed on as text lines, which the daemon parses itself, so a pipe of
 * CSV or libsvm streams without being held in memory.
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
#include "rng.h"
#include "shuffle.h"

/* Most files one feed takes. */
#define MAX_FILES 64

enum feed_opt {
	OPT_LABELS = CTL_OPT_FIRST_LOCAL,
	OPT_FEATURES,
	OPT_BATCH,
	OPT_EPOCHS,
	OPT_LOOP,
	OPT_RATE,
	OPT_ELEM,
	OPT_SHUFFLE,
	OPT_TOPIC,
	OPT_PROGRESS,
	OPT_QUIET,
	OPT_HELP,
};

static const struct option feed_options[] = {
	{"labels", required_argument, NULL, OPT_LABELS},
	{"features", required_argument, NULL, OPT_FEATURES},
	{"batch", required_argument, NULL, OPT_BATCH},
	{"epochs", required_argument, NULL, OPT_EPOCHS},
	{"loop", no_argument, NULL, OPT_LOOP},
	{"rate", required_argument, NULL, OPT_RATE},
	{"elem", required_argument, NULL, OPT_ELEM},
	{"shuffle", required_argument, NULL, OPT_SHUFFLE},
	{"topic", required_argument, NULL, OPT_TOPIC},
	{"progress", required_argument, NULL, OPT_PROGRESS},
	{"quiet", no_argument, NULL, OPT_QUIET},
	{"help", no_argument, NULL, OPT_HELP},
	CTL_GLOBAL_OPTIONS,
	{NULL, 0, NULL, 0},
};

static const char feed_usage[] =
	"usage: minibatchctl feed [OPTIONS] FILE...|-\n"
	"Send samples to the daemon's ingest socket. FILE is IDX images (their labels\n"
	"found beside them, or --labels), CSV, libsvm or binary samples, gzip or not;\n"
	"'-' passes CSV or libsvm lines from standard input through as text.\n"
	"  --labels FILE     labels of an IDX images file\n"
	"  --features N      features of a libsvm file\n"
	"  --batch N         samples per message (default 256)\n"
	"  --epochs N        times through the files (default 1)\n"
	"  --loop            go through the files until interrupted\n"
	"  --shuffle SEED    a new order of the rows each epoch, from SEED\n"
	"  --rate N          at most N samples per second\n"
	"  --elem f32|f16|u8 how features travel (default: u8 for IDX, f32 otherwise)\n"
	"  --topic NAME      publish on a PUB socket with this topic (for a SUB source)\n"
	"  --progress S      seconds between progress lines when not on a terminal (default 5)\n"
	"  --quiet           no progress report\n"
	"  --timeout S       how long a send may wait for the daemon (default 5, 0 forever)\n";

/* What the command line asked for. */
struct feed_args {
	const char *labels;      /* --labels */
	uint32_t n_features;     /* --features */
	uint32_t batch;          /* --batch */
	uint32_t epochs;         /* --epochs */
	bool loop;               /* --loop */
	bool shuffle;            /* --shuffle given */
	uint64_t seed;           /* its seed */
	double rate;             /* --rate, 0 for unlimited */
	enum mb_elem elem;       /* --elem, 0 for the default of the format */
	const char *topic;       /* --topic */
	double progress;         /* --progress */
	bool quiet;              /* --quiet */
};

/* Sleeps so that done samples take at least done / rate seconds from start. */
static void pace(double rate, double start, uint64_t done)
{
	if (rate <= 0)
		return;
	double ahead = (double)done / rate - (ctl_now() - start);
	if (ahead <= 0)
		return;
	struct timespec ts = {.tv_sec = (time_t)ahead, .tv_nsec = (long)((ahead - floor(ahead)) * 1e9)};
	nanosleep(&ts, NULL);
}

/* Say why a send failed, and which exit status that makes. */
static int send_failure(const struct ctl_env *env, int r)
{
	if (r == -EAGAIN || r == -ETIMEDOUT) {
		ctl_err("the daemon took no samples at %s for %.1f s (is minibatchd running?)", env->ingest,
			ctl_env_timeout(env) / 1000.0);
		return CTL_EXIT_UNREACHABLE;
	}
	ctl_err("sending to %s: %s", env->ingest, strerror(-r));
	return CTL_EXIT_FAILED;
}

/* Append count rows starting at x, y; 0, -EINTR on a stop request, or -errno. */
static int append_all(struct mb_producer *p, const float *x, const float *y, uint32_t count,
		      uint32_t n_features, uint32_t n_targets)
{
	uint32_t done = 0;
	while (done < count) {
		if (ctl_stop)
			return -EINTR;
		int r = mb_producer_append(p, x + (size_t)done * n_features, y ? y + (size_t)done * n_targets : NULL,
					   NULL, count - done);
		if (r < 0)
			return r;
		done += (uint32_t)r;
	}
	return 0;
}

/* Everything one feed of files works with. */
struct feed_run {
	const struct ctl_env *env;   /* endpoints */
	const struct feed_args *a;   /* options */
	struct ctl_data data[MAX_FILES]; /* loaded files */
	int n_files;                 /* how many */
	uint32_t n_features;         /* their common shape */
	uint32_t n_targets;
	uint64_t rows;               /* rows of all files: one epoch */
	struct mb_producer *prod;    /* the connection */
	struct ctl_progress progress;/* the report */
	uint64_t sent;               /* samples handed over */
	double start;                /* ctl_now() at the first send */
};

/* How features travel, from --elem and the data. */
static void choose_elem(const struct feed_run *f, struct mb_producer_cfg *cfg)
{
	bool all_idx = true;
	float lo = INFINITY, hi = -INFINITY;
	for (int i = 0; i < f->n_files; i++) {
		const struct mb_dataset *ds = f->data[i].ds;
		all_idx &= f->data[i].idx;
		for (size_t k = 0; k < (size_t)ds->count * ds->n_features; k++) {
			lo = fminf(lo, ds->x[k]);
			hi = fmaxf(hi, ds->x[k]);
		}
	}
	cfg->elem = f->a->elem ? f->a->elem : all_idx ? MB_ELEM_U8 : MB_ELEM_F32;
	cfg->scale = 1.0f;
	cfg->offset = 0.0f;
	if (cfg->elem == MB_ELEM_U8 && all_idx) {
		cfg->scale = 1.0f / 255.0f; /* the bytes of the file, exactly */
	} else if (cfg->elem == MB_ELEM_U8) {
		cfg->offset = lo;
		cfg->scale = hi > lo ? (hi - lo) / 255.0f : 1.0f;
	} else if (cfg->elem == MB_ELEM_F16) {
		float big = fmaxf(fabsf(lo), fabsf(hi));
		cfg->scale = big > 65504.0f ? big / 65504.0f : 1.0f;
	}
}

/* One epoch over every file, in file order, rows shuffled if asked. */
static int feed_epoch(struct feed_run *f, uint32_t *order, struct mb_rng *rng)
{
	uint32_t nf = f->n_features, nt = f->n_targets, step = f->a->batch;
	for (int i = 0; i < f->n_files; i++) {
		const struct mb_dataset *ds = f->data[i].ds;
		if (f->a->shuffle)
			mb_shuffle_perm(order, ds->count, rng);
		for (uint32_t off = 0; off < ds->count; off += step) {
			uint32_t k = ds->count - off < step ? ds->count - off : step;
			int r = 0;
			if (!f->a->shuffle) {
				r = append_all(f->prod, ds->x + (size_t)off * nf, ds->y + (size_t)off * nt, k, nf, nt);
			} else {
				for (uint32_t j = 0; j < k && r == 0; j++) {
					uint32_t row = order[off + j];
					r = append_all(f->prod, ds->x + (size_t)row * nf, ds->y + (size_t)row * nt, 1, nf, nt);
				}
			}
			if (r < 0)
				return r;
			f->sent += k;
			ctl_progress_update(&f->progress, f->sent);
			pace(f->a->rate, f->start, f->sent);
		}
	}
	return 0;
}

static int feed_files(struct feed_run *f, char **files)
{
	const struct feed_args *a = f->a;
	int status = CTL_EXIT_FAILED;
	uint32_t *order = NULL;

	for (int i = 0; i < f->n_files; i++) {
		if (ctl_data_load(files[i], a->labels, a->n_features, &f->data[i]) < 0)
			goto out_free_data;
		const struct mb_dataset *ds = f->data[i].ds;
		if (i == 0) {
			f->n_features = ds->n_features;
			f->n_targets = ds->n_targets;
		} else if (ds->n_features != f->n_features || ds->n_targets != f->n_targets) {
			ctl_err("%s has %u features and %u targets, %s %u and %u: one feed sends one shape",
				files[i], ds->n_features, ds->n_targets, files[0], f->n_features, f->n_targets);
			goto out_free_data;
		}
		f->rows += ds->count;
	}
	if (!f->rows) {
		ctl_err("no samples in %s", f->n_files == 1 ? files[0] : "the files");
		goto out_free_data;
	}
	uint32_t most = 0;
	for (int i = 0; i < f->n_files; i++)
		most = f->data[i].ds->count > most ? f->data[i].ds->count : most;
	if (a->shuffle && !(order = malloc((size_t)most * sizeof *order))) {
		ctl_err("out of memory");
		goto out_free_data;
	}

	struct mb_producer_cfg cfg = {
		.endpoint = f->env->ingest,
		.topic = a->topic,
		.batch = a->batch,
		.n_features = f->n_features,
		.n_targets = f->n_targets,
		.timeout_ms = ctl_env_timeout(f->env),
	};
	choose_elem(f, &cfg);
	int r = mb_producer_new_curve(&cfg, ctl_env_curve(f->env), &f->prod);
	if (r < 0) {
		ctl_err("cannot connect to %s: %s", f->env->ingest, strerror(-r));
		goto out_free_order;
	}

	struct mb_rng rng;
	mb_rng_seed(&rng, a->seed);
	uint32_t epoch = 0;
	f->start = ctl_now();
	ctl_progress_start(&f->progress, a->loop ? 0 : f->rows * a->epochs, a->progress, a->quiet);
	for (r = 0; r == 0 && (a->loop || epoch < a->epochs); epoch++)
		r = feed_epoch(f, order, &rng);
	/* After a failed send, a flush would only wait out the timeout again. */
	if (r == 0 || r == -EINTR) {
		int rc = mb_producer_close(f->prod);
		r = r == 0 || rc < 0 ? rc : r;
	} else {
		mb_producer_free(f->prod);
	}
	f->prod = NULL;
	ctl_progress_end(&f->progress, f->sent);
	if (r < 0 && r != -EINTR) {
		status = send_failure(f->env, r);
		goto out_free_order;
	}
	double secs = ctl_now() - f->start;
	printf("fed %" PRIu64 " samples (%u features, %s) in %.1f s: %.0f samples/s\n", f->sent, f->n_features,
	       cfg.elem == MB_ELEM_U8 ? "u8" : cfg.elem == MB_ELEM_F16 ? "f16" : "f32", secs,
	       secs > 0 ? (double)f->sent / secs : 0.0);
	status = CTL_EXIT_OK;

out_free_order:
	free(order);
out_free_data:
	for (int i = 0; i < f->n_files; i++)
		f->data[i].ds = mb_dataset_free(f->data[i].ds);
	return status;
}

/* Pass standard input's lines on as text messages. */
static int feed_stdin(const struct ctl_env *env, const struct feed_args *a)
{
	struct mb_producer_cfg cfg = {
		.endpoint = env->ingest,
		.topic = a->topic,
		.batch = a->batch,
		.timeout_ms = ctl_env_timeout(env),
	};
	struct mb_producer *p;
	int r = mb_producer_new_curve(&cfg, ctl_env_curve(env), &p);
	if (r < 0) {
		ctl_err("cannot connect to %s: %s", env->ingest, strerror(-r));
		return CTL_EXIT_FAILED;
	}
	struct ctl_progress prog;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	uint64_t lines = 0;
	double start = ctl_now();
	ctl_progress_start(&prog, 0, a->progress, a->quiet);
	while (!ctl_stop && (n = getline(&line, &cap, stdin)) > 0) {
		r = mb_producer_send_line(p, line, (size_t)n);
		if (r < 0)
			break;
		lines++;
		ctl_progress_update(&prog, lines);
		pace(a->rate, start, lines);
	}
	free(line);
	if (r >= 0 || r == -EINTR) {
		int rc = mb_producer_close(p);
		r = r >= 0 || rc < 0 ? rc : r;
	} else {
		mb_producer_free(p);
	}
	ctl_progress_end(&prog, lines);
	if (r == -E2BIG) {
		ctl_err("line %" PRIu64 " of standard input is over %u bytes", lines + 1, MB_MAX_LINE_BYTES);
		return CTL_EXIT_FAILED;
	}
	if (r < 0 && r != -EINTR)
		return send_failure(env, r);
	double secs = ctl_now() - start;
	printf("fed %" PRIu64 " lines in %.1f s\n", lines, secs);
	return CTL_EXIT_OK;
}

static int parse_elem(const char *s, enum mb_elem *ret)
{
	if (!strcmp(s, "f32"))
		*ret = MB_ELEM_F32;
	else if (!strcmp(s, "f16"))
		*ret = MB_ELEM_F16;
	else if (!strcmp(s, "u8"))
		*ret = MB_ELEM_U8;
	else
		return -1;
	return 0;
}

/* minibatchctl feed: see feed_usage. */
int ctl_feed(struct ctl_env *env, int argc, char **argv)
{
	struct feed_args a = {.batch = MB_CLIENT_DEFAULT_BATCH, .epochs = 1, .progress = 5.0};
	uint32_t u;
	int c;
	optind = 1;
	while ((c = ctl_getopt(env, argc, argv, "", feed_options)) != -1) {
		switch (c) {
		case CTL_OPT_BAD_GLOBAL: return CTL_EXIT_UNREACHABLE;
		case OPT_LABELS: a.labels = optarg; break;
		case OPT_FEATURES:
			if (ctl_parse_u32("--features", optarg, 1, MB_MAX_FEATURES, &a.n_features) < 0)
				return CTL_EXIT_UNREACHABLE;
			break;
		case OPT_BATCH:
			if (ctl_parse_u32("--batch", optarg, 1, MB_MAX_SAMPLES_PER_MSG, &a.batch) < 0)
				return CTL_EXIT_UNREACHABLE;
			break;
		case OPT_EPOCHS:
			if (ctl_parse_u32("--epochs", optarg, 1, UINT32_MAX, &a.epochs) < 0)
				return CTL_EXIT_UNREACHABLE;
			break;
		case OPT_LOOP: a.loop = true; break;
		case OPT_RATE:
			if (ctl_parse_u32("--rate", optarg, 1, UINT32_MAX, &u) < 0)
				return CTL_EXIT_UNREACHABLE;
			a.rate = u;
			break;
		case OPT_ELEM:
			if (parse_elem(optarg, &a.elem) < 0) {
				ctl_err("--elem is f32, f16 or u8, not '%s'", optarg);
				return CTL_EXIT_UNREACHABLE;
			}
			break;
		case OPT_SHUFFLE:
			if (ctl_parse_u32("--shuffle", optarg, 0, UINT32_MAX, &u) < 0)
				return CTL_EXIT_UNREACHABLE;
			a.shuffle = true;
			a.seed = u;
			break;
		case OPT_TOPIC: a.topic = optarg; break;
		case OPT_PROGRESS:
			if (ctl_parse_seconds("--progress", optarg, &a.progress) < 0)
				return CTL_EXIT_UNREACHABLE;
			break;
		case OPT_QUIET: a.quiet = true; break;
		case OPT_HELP: fputs(feed_usage, stdout); return CTL_EXIT_OK;
		default: fputs(feed_usage, stderr); return CTL_EXIT_UNREACHABLE;
		}
	}
	int n_files = argc - optind;
	if (n_files < 1) {
		fputs(feed_usage, stderr);
		return CTL_EXIT_UNREACHABLE;
	}
	if (n_files > MAX_FILES) {
		ctl_err("at most %d files in one feed", MAX_FILES);
		return CTL_EXIT_UNREACHABLE;
	}
	bool from_stdin = false;
	for (int i = optind; i < argc; i++)
		from_stdin |= !strcmp(argv[i], "-");
	if (from_stdin && n_files > 1) {
		ctl_err("'-' (standard input) cannot be fed together with files");
		return CTL_EXIT_UNREACHABLE;
	}
	if (ctl_env_resolve(env) < 0)
		return CTL_EXIT_UNREACHABLE;
	ctl_catch_signals();
	if (from_stdin)
		return feed_stdin(env, &a);

	struct feed_run *f = calloc(1, sizeof *f);
	if (!f) {
		ctl_err("out of memory");
		return CTL_EXIT_FAILED;
	}
	f->env = env;
	f->a = &a;
	f->n_files = n_files;
	int status = feed_files(f, argv + optind);
	free(f);
	return status;
}
