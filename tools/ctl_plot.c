/* SPDX-License-Identifier: MIT */
/*
 * ctl_plot.c - minibatchctl plot: the cost curve of a training run as SVG.
 *
 * The points are snapshots: how many samples the model had seen, and the
 * daemon's recent progressive cost then (each batch scored before it was
 * learned from). They come from a file `minibatchctl watch --csv` wrote,
 * or straight from the daemon's snapshot socket. The curve is drawn thin
 * and light, its moving average bold over it, and when the file has a
 * test_cost column (watch --eval), the cost on the test set dashed.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "ctl_plot.h"
#include "ctl_svg.h"

/* Points averaged when --window is not given. */
#define DEFAULT_WINDOW 10u
/* Costs spanning more than this factor are drawn on a log scale unless told otherwise. */
#define AUTO_LOG_RATIO 10.0
/* Longest CSV line read; watch writes well under 200 bytes. */
#define MAX_CSV_LINE 4096

enum plot_opt {
	OPT_OUTPUT = CTL_OPT_FIRST_LOCAL,
	OPT_LOG,
	OPT_LINEAR,
	OPT_WINDOW,
	OPT_TITLE,
	OPT_COUNT,
	OPT_DURATION,
	OPT_TOPIC,
	OPT_HELP,
};

static const struct option plot_options[] = {
	{"output", required_argument, NULL, OPT_OUTPUT},
	{"log", no_argument, NULL, OPT_LOG},
	{"linear", no_argument, NULL, OPT_LINEAR},
	{"window", required_argument, NULL, OPT_WINDOW},
	{"title", required_argument, NULL, OPT_TITLE},
	{"count", required_argument, NULL, OPT_COUNT},
	{"duration", required_argument, NULL, OPT_DURATION},
	{"topic", required_argument, NULL, OPT_TOPIC},
	{"help", no_argument, NULL, OPT_HELP},
	CTL_GLOBAL_OPTIONS,
	{NULL, 0, NULL, 0},
};

static const char plot_usage[] =
	"usage: minibatchctl plot [OPTIONS] [CSV|-]\n"
	"Draw the cost against samples seen as SVG: the recent cost at each snapshot\n"
	"(thin), its moving average (bold) and, if the file has it, the test cost\n"
	"(dashed). CSV is what 'minibatchctl watch --csv' wrote ('-': standard input);\n"
	"without it, snapshots come from the daemon until --count, --duration,\n"
	"--timeout or Ctrl-C.\n"
	"  -o, --output FILE  the SVG file to write (default cost.svg; '-': standard output)\n"
	"  --log, --linear    y axis scale (default: log when the cost spans over 10x)\n"
	"  --window N         snapshots in the moving average (default 10)\n"
	"  --title TEXT       the chart's title\n"
	"  --count N          from the daemon: stop after N snapshots\n"
	"  --duration S       from the daemon: stop after S seconds\n"
	"  --timeout S        from the daemon: stop when none has come for S seconds\n"
	"  --topic NAME       from the daemon: only this model's snapshots\n"
	"Exit status: 0 written, 1 bad input or nothing to draw, 2 no snapshot or usage error.\n";

/* What the command line asked for. */
struct plot_args {
	const char *output;   /* -o */
	const char *csv;      /* the file, NULL to follow the daemon */
	int log_y;            /* 1 --log, 0 --linear, -1 decide from the data */
	uint32_t window;      /* --window */
	const char *title;    /* --title */
	uint32_t count;       /* --count, 0 for no limit */
	double duration;      /* --duration, 0 for no limit */
	const char *topic;    /* --topic */
};

/* The points of the curve, in the order they came. */
struct curve {
	double *samples;      /* samples seen at each point */
	double *cost;         /* recent progressive cost */
	double *test_cost;    /* cost on the test set (NaN where unknown) */
	size_t n, cap;        /* points, room */
	bool has_test;        /* some point has a test cost */
	uint64_t last_version;/* model version of the newest point */
	bool versioned;       /* last_version is set */
	char topic[MB_MAX_TOPIC_BYTES + 1]; /* the model, when it came from the daemon */
};

static void curve_free(struct curve *c)
{
	free(c->samples);
	free(c->cost);
	free(c->test_cost);
}

/*
 * Add a point; a repeat of the newest model version (the daemon hands a new
 * subscriber the model it has, then may publish it again) is not a new
 * point. -1 after a message when out of memory.
 */
static int curve_add(struct curve *c, const uint64_t *version, double samples, double cost, double test_cost)
{
	if (version && c->versioned && *version == c->last_version)
		return 0;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 256;
		double *s = realloc(c->samples, cap * sizeof *s);
		if (s)
			c->samples = s;
		double *k = s ? realloc(c->cost, cap * sizeof *k) : NULL;
		if (k)
			c->cost = k;
		double *t = k ? realloc(c->test_cost, cap * sizeof *t) : NULL;
		if (!t) {
			ctl_err("out of memory after %zu points", c->n);
			return -1;
		}
		c->test_cost = t;
		c->cap = cap;
	}
	c->samples[c->n] = samples;
	c->cost[c->n] = cost;
	c->test_cost[c->n] = test_cost;
	c->has_test |= isfinite(test_cost);
	c->n++;
	if (version) {
		c->last_version = *version;
		c->versioned = true;
	}
	return 0;
}

/* Split line at commas in place; at most cap fields. The field count. */
static size_t split_csv(char *line, char **fields, size_t cap)
{
	size_t n = 0;
	line[strcspn(line, "\r\n")] = '\0';
	for (char *p = line; n < cap;) {
		fields[n++] = p;
		p = strchr(p, ',');
		if (!p)
			break;
		*p++ = '\0';
	}
	return n;
}

static bool parse_number(const char *s, double *ret)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || *end || errno == ERANGE)
		return false;
	*ret = v;
	return true;
}

/* Columns of watch --csv that the plot reads, by their header names. */
struct columns {
	int version, samples, cost, test_cost; /* field index, -1 when absent */
	int n;                                 /* fields of the header */
};

static int find_columns(char *header, struct columns *col)
{
	char *fields[64];
	size_t n = split_csv(header, fields, 64);
	*col = (struct columns){-1, -1, -1, -1, (int)n};
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(fields[i], "version"))
			col->version = (int)i;
		else if (!strcmp(fields[i], "samples"))
			col->samples = (int)i;
		else if (!strcmp(fields[i], "cost"))
			col->cost = (int)i;
		else if (!strcmp(fields[i], "test_cost"))
			col->test_cost = (int)i;
	}
	return col->samples < 0 || col->cost < 0 ? -1 : 0;
}

/* Read a watch --csv file into c. 0, or -1 after a message naming the line. */
static int read_csv(const char *path, struct curve *c)
{
	bool std_in = !strcmp(path, "-");
	const char *name = std_in ? "standard input" : path;
	FILE *f = std_in ? stdin : fopen(path, "r");
	if (!f) {
		ctl_err("%s: %s", path, strerror(errno));
		return -1;
	}
	char line[MAX_CSV_LINE];
	struct columns col;
	unsigned long lineno = 1;
	int r = -1;
	if (!fgets(line, sizeof line, f)) {
		ctl_err("%s: empty: expected the output of 'minibatchctl watch --csv'", name);
		goto out_close;
	}
	if (find_columns(line, &col) < 0) {
		ctl_err("%s:1: no samples and cost columns in the header: expected the output of "
			"'minibatchctl watch --csv'", name);
		goto out_close;
	}
	while (fgets(line, sizeof line, f)) {
		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			ctl_err("%s:%lu: line longer than %d bytes", name, lineno, MAX_CSV_LINE - 1);
			goto out_close;
		}
		if (line[strspn(line, " \t\r\n")] == '\0')
			continue;
		char *fields[64];
		size_t n = split_csv(line, fields, 64);
		double samples, cost, test = NAN, v;
		uint64_t version = 0;
		if ((int)n != col.n || !parse_number(fields[col.samples], &samples) || samples < 0 ||
		    !parse_number(fields[col.cost], &cost) ||
		    (col.test_cost >= 0 && !parse_number(fields[col.test_cost], &test)) ||
		    (col.version >= 0 && (!parse_number(fields[col.version], &v) || v < 0))) {
			ctl_err("%s:%lu: expected %d comma-separated numbers as the header names", name, lineno,
				col.n);
			goto out_close;
		}
		if (col.version >= 0)
			version = (uint64_t)v;
		if (curve_add(c, col.version >= 0 ? &version : NULL, samples, cost, test) < 0)
			goto out_close;
	}
	if (ferror(f)) {
		ctl_err("%s: %s", name, strerror(errno));
		goto out_close;
	}
	r = 0;
out_close:
	if (!std_in)
		fclose(f);
	return r;
}

/* ms until the earlier of two deadlines (ctl_now() seconds, INFINITY for none); -1 for none. */
static int ms_until(double a, double b)
{
	double t = fmin(a, b);
	if (isinf(t))
		return -1;
	double left = t - ctl_now();
	return left <= 0 ? 0 : (int)ceil(left * 1000.0);
}

/* Follow the daemon's snapshots into c until a limit or a signal. The exit status. */
static int read_live(const struct ctl_env *env, const struct plot_args *a, struct curve *c)
{
	struct mb_subscriber_cfg cfg = {.endpoint = env->snapshots, .topic = a->topic};
	struct mb_subscriber *sub;
	int r = mb_subscriber_new_curve(&cfg, ctl_env_curve(env), &sub);
	if (r < 0) {
		ctl_err("cannot connect to %s: %s", env->snapshots, strerror(-r));
		return CTL_EXIT_FAILED;
	}
	ctl_catch_signals();
	double end = a->duration > 0 ? ctl_now() + a->duration : INFINITY;
	double idle_end = env->timeout_set ? ctl_now() + env->timeout_ms / 1000.0 : INFINITY;
	uint32_t got = 0;
	int status = CTL_EXIT_OK;
	while (!ctl_stop && (!a->count || got < a->count)) {
		struct mb_client_snap *snap = NULL;
		struct mb_diag d = {0};
		r = mb_subscriber_recv(sub, ms_until(end, idle_end), &snap, &d);
		if (r == -ETIMEDOUT || r == -EINTR)
			break; /* a deadline passed, or a signal */
		if (r < 0) {
			ctl_err("a snapshot was refused: %s", d.text[0] ? d.text : strerror(-r));
			continue;
		}
		const struct mb_snap_info *in = &snap->info;
		size_t before = c->n;
		r = curve_add(c, &in->version, (double)in->samples, (double)in->cost, NAN);
		snprintf(c->topic, sizeof c->topic, "%s", snap->topic);
		mb_client_snap_free(snap);
		if (r < 0) {
			status = CTL_EXIT_FAILED;
			break;
		}
		got += c->n > before;
		if (env->timeout_set)
			idle_end = ctl_now() + env->timeout_ms / 1000.0;
	}
	mb_subscriber_free(sub);
	if (status == CTL_EXIT_OK && !c->n) {
		ctl_err("no snapshot from %s", env->snapshots);
		status = CTL_EXIT_UNREACHABLE;
	}
	return status;
}

/* Trailing mean of the finite values among the last window points (NaN if none). */
static void moving_average(const double *v, size_t n, uint32_t window, double *out)
{
	double sum = 0;
	size_t finite = 0;
	for (size_t i = 0; i < n; i++) {
		if (isfinite(v[i])) {
			sum += v[i];
			finite++;
		}
		if (i >= window && isfinite(v[i - window])) {
			sum -= v[i - window];
			finite--;
		}
		out[i] = finite ? sum / (double)finite : NAN;
	}
}

/* The y range of the finite costs; false when there is none. */
static bool cost_range(const struct curve *c, double *lo, double *hi)
{
	*lo = INFINITY;
	*hi = -INFINITY;
	for (size_t i = 0; i < c->n; i++) {
		const double v[2] = {c->cost[i], c->test_cost[i]};
		for (int k = 0; k < 2; k++)
			if (isfinite(v[k])) {
				*lo = fmin(*lo, v[k]);
				*hi = fmax(*hi, v[k]);
			}
	}
	return *lo <= *hi;
}

/* Write the chart of c to a->output; the exit status. */
static int write_chart(const struct plot_args *a, const struct curve *c)
{
	double lo, hi;
	if (!cost_range(c, &lo, &hi)) {
		ctl_err("%zu points, none with a finite cost: nothing to draw", c->n);
		return CTL_EXIT_FAILED;
	}
	bool log_y = a->log_y > 0 || (a->log_y < 0 && lo > 0 && hi / lo > AUTO_LOG_RATIO);
	if (log_y && hi <= 0) {
		ctl_err("no positive cost to draw on a log scale");
		return CTL_EXIT_FAILED;
	}
	double *avg = malloc((c->n ? c->n : 1) * sizeof *avg);
	if (!avg) {
		ctl_err("out of memory");
		return CTL_EXIT_FAILED;
	}
	moving_average(c->cost, c->n, a->window, avg);

	char avg_label[64], title[MB_MAX_TOPIC_BYTES + 64];
	snprintf(avg_label, sizeof avg_label, "moving average of %u", a->window);
	if (c->topic[0])
		snprintf(title, sizeof title, "Cost of model %s against samples seen", c->topic);
	else
		snprintf(title, sizeof title, "Cost against samples seen");
	struct ctl_svg_series series[3] = {
		{.id = "cost", .label = "recent cost at each snapshot", .color = "#9ecae1", .width = 1,
		 .x = c->samples, .y = c->cost, .n = c->n},
		{.id = "average", .label = avg_label, .color = "#08519c", .width = 2.5,
		 .x = c->samples, .y = avg, .n = c->n},
		{.id = "test-cost", .label = "cost on the test set", .color = "#d95f02", .width = 1.5,
		 .dashed = true, .x = c->samples, .y = c->test_cost, .n = c->n},
	};
	struct ctl_svg_chart chart = {
		.title = a->title ? a->title : title,
		.x_label = "samples seen",
		.y_label = "cost",
		.log_y = log_y,
	};

	/* Written beside the target and renamed over it: never half a chart under its name. */
	bool to_stdout = !strcmp(a->output, "-");
	char tmp[4096];
	FILE *f = stdout;
	int status = CTL_EXIT_FAILED;
	if (!to_stdout) {
		if (snprintf(tmp, sizeof tmp, "%s.tmp", a->output) >= (int)sizeof tmp) {
			ctl_err("%s: name too long", a->output);
			goto out_free;
		}
		f = fopen(tmp, "w");
		if (!f) {
			ctl_err("%s: %s", tmp, strerror(errno));
			goto out_free;
		}
	}
	int r = ctl_svg_chart_write(f, &chart, series, c->has_test ? 3 : 2);
	if (to_stdout) {
		if (r == 0 && fflush(stdout) != 0)
			r = -errno;
		if (r < 0)
			ctl_err("standard output: %s", strerror(-r));
		else
			status = CTL_EXIT_OK;
		goto out_free;
	}
	if (fclose(f) != 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, a->output) < 0)
		r = -errno;
	if (r < 0) {
		ctl_err("%s: %s", a->output, strerror(-r));
		unlink(tmp);
		goto out_free;
	}
	status = CTL_EXIT_OK;
out_free:
	free(avg);
	return status;
}

/* minibatchctl plot: see plot_usage. */
int ctl_plot(struct ctl_env *env, int argc, char **argv)
{
	struct plot_args a = {.output = "cost.svg", .log_y = -1, .window = DEFAULT_WINDOW};
	int c;
	optind = 1;
	while ((c = ctl_getopt(env, argc, argv, "o:", plot_options)) != -1) {
		switch (c) {
		case CTL_OPT_BAD_GLOBAL: return CTL_EXIT_UNREACHABLE;
		case 'o':
		case OPT_OUTPUT: a.output = optarg; break;
		case OPT_LOG: a.log_y = 1; break;
		case OPT_LINEAR: a.log_y = 0; break;
		case OPT_WINDOW:
			if (ctl_parse_u32("--window", optarg, 1, 1000000, &a.window) < 0)
				return CTL_EXIT_UNREACHABLE;
			break;
		case OPT_TITLE: a.title = optarg; break;
		case OPT_COUNT:
			if (ctl_parse_u32("--count", optarg, 1, UINT32_MAX, &a.count) < 0)
				return CTL_EXIT_UNREACHABLE;
			break;
		case OPT_DURATION:
			if (ctl_parse_seconds("--duration", optarg, &a.duration) < 0)
				return CTL_EXIT_UNREACHABLE;
			break;
		case OPT_TOPIC: a.topic = optarg; break;
		case OPT_HELP: fputs(plot_usage, stdout); return CTL_EXIT_OK;
		default: fputs(plot_usage, stderr); return CTL_EXIT_UNREACHABLE;
		}
	}
	if (argc - optind > 1) {
		ctl_err("plot takes one CSV file at most ('%s')", argv[optind + 1]);
		fputs(plot_usage, stderr);
		return CTL_EXIT_UNREACHABLE;
	}
	a.csv = optind < argc ? argv[optind] : NULL;
	if (!*a.output) {
		ctl_err("--output wants a file name");
		return CTL_EXIT_UNREACHABLE;
	}

	struct curve curve = {0};
	int status;
	if (a.csv) {
		status = read_csv(a.csv, &curve) < 0 ? CTL_EXIT_FAILED : CTL_EXIT_OK;
		if (status == CTL_EXIT_OK && !curve.n) {
			ctl_err("%s: no rows under the header: nothing to draw", a.csv);
			status = CTL_EXIT_FAILED;
		}
	} else {
		status = ctl_env_resolve(env) < 0 ? CTL_EXIT_UNREACHABLE : read_live(env, &a, &curve);
	}
	if (status == CTL_EXIT_OK)
		status = write_chart(&a, &curve);
	curve_free(&curve);
	return status;
}
