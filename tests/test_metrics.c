/* SPDX-License-Identifier: MIT */
/*
 * test_metrics.c - the OpenMetrics text and the metrics address.
 *
 * A scraper reads what mb_metrics_text_render writes, so the test reads it
 * back the way a scraper does: every family announced with TYPE and HELP
 * before its samples, counter samples ending in _total, label values
 * unescaped to what went in, histogram buckets cumulative up to +Inf,
 * and the text ending with "# EOF". Then the address parser: what it
 * takes, what it refuses, and what counts as loopback.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "metrics_text.h"
#include "test.h"

#define MAX_FAMILIES 64
#define MAX_SAMPLES  2048
#define MAX_LABELS   4

/* A family as announced by its metadata lines. */
struct family {
	char name[128];  /* family name */
	char type[32];   /* counter, gauge, histogram, info */
	bool help;       /* a HELP line was seen */
	bool closed;     /* another family started after it */
};

/* One sample line, read back. */
struct sample {
	char name[128];                 /* sample name */
	unsigned family;                /* index into families */
	unsigned n_labels;              /* labels read */
	char key[MAX_LABELS][32];       /* label names */
	char value[MAX_LABELS][128];    /* label values, unescaped */
	double v;                       /* the value */
};

static struct family families[MAX_FAMILIES];
static struct sample samples[MAX_SAMPLES];
static unsigned n_families, n_samples;

static int find_family(const char *name)
{
	for (unsigned i = 0; i < n_families; i++)
		if (strcmp(families[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* The family a sample name belongs to, given the suffixes its type allows. */
static int family_of_sample(const char *name)
{
	static const struct {
		const char *type, *suffix;
	} allowed[] = {
		{"counter", "_total"}, {"counter", "_created"}, {"gauge", ""}, {"info", "_info"},
		{"histogram", "_bucket"}, {"histogram", "_count"}, {"histogram", "_sum"},
	};
	for (unsigned i = 0; i < n_families; i++) {
		size_t n = strlen(families[i].name);
		if (strncmp(name, families[i].name, n) != 0)
			continue;
		for (size_t k = 0; k < sizeof allowed / sizeof allowed[0]; k++)
			if (strcmp(families[i].type, allowed[k].type) == 0 && strcmp(name + n, allowed[k].suffix) == 0)
				return (int)i;
	}
	return -1;
}

/* Read one label set "{k="v",...}" starting at p; returns the end, or NULL when malformed. */
static const char *parse_labels(const char *p, struct sample *s)
{
	if (*p != '{')
		return p;
	p++;
	while (*p != '}') {
		if (s->n_labels == MAX_LABELS)
			return NULL;
		size_t kn = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789");
		if (!kn || kn >= sizeof s->key[0] || p[kn] != '=' || p[kn + 1] != '"')
			return NULL;
		memcpy(s->key[s->n_labels], p, kn);
		s->key[s->n_labels][kn] = '\0';
		p += kn + 2;
		size_t vn = 0;
		char *out = s->value[s->n_labels];
		for (; *p != '"'; p++) {
			if (!*p || *p == '\n' || vn + 1 >= sizeof s->value[0])
				return NULL;
			if (*p == '\\') {
				p++;
				if (*p == 'n')
					out[vn++] = '\n';
				else if (*p == '\\' || *p == '"')
					out[vn++] = *p;
				else
					return NULL;
			} else {
				out[vn++] = *p;
			}
		}
		out[vn] = '\0';
		s->n_labels++;
		p++;
		if (*p == ',')
			p++;
		else if (*p != '}')
			return NULL;
	}
	return p + 1;
}

/*
 * Read the text back as a scraper would, asserting the rules every line
 * must follow. True when the whole text was read and ended with # EOF.
 */
static bool parse(const char *text)
{
	n_families = n_samples = 0;
	const char *p = text;
	int current = -1;
	bool eof = false;
	while (*p) {
		const char *nl = strchr(p, '\n');
		CU_ASSERT_FATAL(nl != NULL); /* every line ends with a newline */
		CU_ASSERT_FATAL(!eof);       /* nothing after # EOF */
		char line[1024];
		size_t len = (size_t)(nl - p);
		CU_ASSERT_FATAL(len < sizeof line);
		memcpy(line, p, len);
		line[len] = '\0';
		p = nl + 1;
		if (strcmp(line, "# EOF") == 0) {
			eof = true;
			continue;
		}
		char what[16], name[128], rest[512];
		if (line[0] == '#') {
			CU_ASSERT_FATAL(sscanf(line, "# %15s %127s %511[^\n]", what, name, rest) == 3);
			int f = find_family(name);
			if (strcmp(what, "TYPE") == 0) {
				CU_ASSERT_FATAL(f < 0); /* each family is announced once */
				CU_ASSERT_FATAL(n_families < MAX_FAMILIES);
				if (current >= 0)
					families[current].closed = true;
				f = (int)n_families++;
				memset(&families[f], 0, sizeof families[f]);
				snprintf(families[f].name, sizeof families[f].name, "%s", name);
				CU_ASSERT_FATAL(strlen(rest) < sizeof families[f].type);
				snprintf(families[f].type, sizeof families[f].type, "%.31s", rest);
				current = f;
			} else if (strcmp(what, "HELP") == 0) {
				CU_ASSERT_FATAL(f >= 0 && f == current); /* TYPE first, then HELP, before samples */
				families[f].help = true;
			} else {
				CU_ASSERT_FATAL(strcmp(what, "UNIT") == 0 && f == current);
				/* A family with a unit carries it as the suffix of its name. */
				size_t n = strlen(name), u = strlen(rest);
				CU_ASSERT(n > u && strcmp(name + n - u, rest) == 0 && name[n - u - 1] == '_');
			}
			continue;
		}
		CU_ASSERT_FATAL(n_samples < MAX_SAMPLES);
		struct sample *s = &samples[n_samples++];
		memset(s, 0, sizeof *s);
		size_t nn = strspn(line, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_:0123456789");
		CU_ASSERT_FATAL(nn > 0 && nn < sizeof s->name);
		memcpy(s->name, line, nn);
		s->name[nn] = '\0';
		const char *q = parse_labels(line + nn, s);
		CU_ASSERT_FATAL(q != NULL && *q == ' ');
		char *end;
		s->v = strtod(q + 1, &end);
		CU_ASSERT_FATAL(end != q + 1 && *end == '\0');
		int f = family_of_sample(s->name);
		CU_ASSERT_FATAL(f >= 0);           /* a declared family, with a suffix its type allows */
		CU_ASSERT_FATAL(!families[f].closed); /* the samples of a family are together */
		CU_ASSERT_FATAL(f == current);
		s->family = (unsigned)f;
	}
	for (unsigned i = 0; i < n_families; i++)
		CU_ASSERT(families[i].help);
	return eof;
}

/* The value of the sample name with label key=value (NULL: no labels), or NAN when absent. */
static double value_of(const char *name, const char *key, const char *value)
{
	for (unsigned i = 0; i < n_samples; i++) {
		const struct sample *s = &samples[i];
		if (strcmp(s->name, name) != 0)
			continue;
		if (!key && s->n_labels == 0)
			return s->v;
		for (unsigned l = 0; key && l < s->n_labels; l++)
			if (strcmp(s->key[l], key) == 0 && strcmp(s->value[l], value) == 0)
				return s->v;
	}
	return NAN;
}

/* Samples of name labelled source=src and reason=reason. */
static double reason_of(const char *src, const char *reason)
{
	for (unsigned i = 0; i < n_samples; i++) {
		const struct sample *s = &samples[i];
		if (strcmp(s->name, "minibatchd_rejected_by_reason_total") != 0 || s->n_labels != 2)
			continue;
		if (strcmp(s->key[0], "source") == 0 && strcmp(s->value[0], src) == 0 &&
		    strcmp(s->key[1], "reason") == 0 && strcmp(s->value[1], reason) == 0)
			return s->v;
	}
	return NAN;
}

static const double bounds[] = {0.001, 0.01, 0.1, 1};

static void fill(struct mb_metrics_snapshot *s)
{
	memset(s, 0, sizeof *s);
	s->version = "1.2.3";
	s->model = "fashion";
	s->start_time_s = 1700000000.25;
	s->n_sources = 2;
	s->sources[0] = (struct mb_metrics_source){.name = "in", .received = 1005, .queued = 990, .dropped = 10,
						    .rejected = 5, .bytes = 123456, .queue_batches = 3};
	s->sources[0].rejected_by[MB_R_MAGIC] = 3;
	s->sources[0].rejected_by[MB_R_TRUNCATED] = 2;
	s->sources[1] = (struct mb_metrics_source){.name = "we\"ird\\na\nme", .received = 7, .queued = 7};
	s->samples = 990;
	s->model_version = 16;
	s->skipped = 1;
	s->batch_rows = 30;
	s->batch_wait = (struct mb_metrics_hist){.n_bounds = 4, .bounds = bounds, .counts = {5, 6, 4, 0, 1},
						 .sum = 3.5};
	s->cost_last = 0.5;
	s->cost_average = 0.625;
	s->accuracy_average = NAN;
	s->lr = 0.05;
	s->samples_per_s = 1500.5;
	s->snapshots_published = 4;
	s->snapshots_sent = 6;
	s->reloads = 2;
	s->reloads_refused = 1;
	s->checkpoints = 3;
	s->checkpoint_failures = 1;
}

static char *render(const struct mb_metrics_snapshot *s)
{
	size_t n = mb_metrics_text_render(s, NULL, 0);
	char *text = malloc(n + 1);
	CU_ASSERT_FATAL(text != NULL);
	CU_ASSERT_FATAL(mb_metrics_text_render(s, text, n + 1) == n);
	CU_ASSERT_FATAL(strlen(text) == n);
	return text;
}

static void text_families_and_values(void)
{
	static struct mb_metrics_snapshot s;
	fill(&s);
	char *text = render(&s);
	CU_ASSERT_FATAL(parse(text));
	/* Every counter sample ends in _total, and every family has samples. */
	for (unsigned i = 0; i < n_samples; i++) {
		const struct family *f = &families[samples[i].family];
		if (strcmp(f->type, "counter") == 0) {
			size_t n = strlen(samples[i].name);
			CU_ASSERT(n > 6 && strcmp(samples[i].name + n - 6, "_total") == 0);
		}
	}
	CU_ASSERT_EQUAL(value_of("minibatchd_build_info", "version", "1.2.3"), 1);
	CU_ASSERT_EQUAL(value_of("minibatchd_build_info", "model", "fashion"), 1);
	CU_ASSERT_EQUAL(value_of("minibatchd_start_time_seconds", NULL, NULL), 1700000000.25);
	CU_ASSERT_EQUAL(value_of("minibatchd_samples_received_total", "source", "in"), 1005);
	CU_ASSERT_EQUAL(value_of("minibatchd_samples_queued_total", "source", "in"), 990);
	CU_ASSERT_EQUAL(value_of("minibatchd_samples_dropped_total", "source", "in"), 10);
	CU_ASSERT_EQUAL(value_of("minibatchd_samples_rejected_total", "source", "in"), 5);
	CU_ASSERT_EQUAL(value_of("minibatchd_received_bytes_total", "source", "in"), 123456);
	CU_ASSERT_EQUAL(value_of("minibatchd_queue_batches", "source", "in"), 3);
	CU_ASSERT_EQUAL(reason_of("in", "magic"), 3);
	CU_ASSERT_EQUAL(reason_of("in", "truncated"), 2);
	/* Every reason is there from zero, so a rate has a start; "ok" is not a reason for refusing. */
	CU_ASSERT_EQUAL(reason_of("in", "crc"), 0);
	CU_ASSERT(isnan(reason_of("in", "ok")));
	CU_ASSERT_EQUAL(value_of("minibatchd_samples_trained_total", NULL, NULL), 990);
	CU_ASSERT_EQUAL(value_of("minibatchd_model_version", NULL, NULL), 16);
	CU_ASSERT_EQUAL(value_of("minibatchd_steps_skipped_total", NULL, NULL), 1);
	CU_ASSERT_EQUAL(value_of("minibatchd_batch_rows", NULL, NULL), 30);
	CU_ASSERT_EQUAL(value_of("minibatchd_cost_last_batch", NULL, NULL), 0.5);
	CU_ASSERT_EQUAL(value_of("minibatchd_cost_average", NULL, NULL), 0.625);
	CU_ASSERT(isnan(value_of("minibatchd_accuracy_average", NULL, NULL)) &&
		  strstr(text, "minibatchd_accuracy_average NaN\n") != NULL);
	CU_ASSERT_EQUAL(value_of("minibatchd_learning_rate", NULL, NULL), 0.05);
	CU_ASSERT_EQUAL(value_of("minibatchd_samples_per_second", NULL, NULL), 1500.5);
	CU_ASSERT_EQUAL(value_of("minibatchd_snapshots_published_total", NULL, NULL), 4);
	CU_ASSERT_EQUAL(value_of("minibatchd_snapshots_sent_total", NULL, NULL), 6);
	CU_ASSERT_EQUAL(value_of("minibatchd_config_reloads_total", NULL, NULL), 2);
	CU_ASSERT_EQUAL(value_of("minibatchd_config_reloads_refused_total", NULL, NULL), 1);
	CU_ASSERT_EQUAL(value_of("minibatchd_checkpoints_written_total", NULL, NULL), 3);
	CU_ASSERT_EQUAL(value_of("minibatchd_checkpoint_failures_total", NULL, NULL), 1);
	/* Figures the daemon does not have are left out, not made up. */
	CU_ASSERT(find_family("minibatchd_snapshot_age_seconds") < 0);
	CU_ASSERT(find_family("minibatchd_checkpoint_age_seconds") < 0);
	CU_ASSERT(find_family("minibatchd_holdout_cost") < 0);
	size_t len = strlen(text);
	CU_ASSERT(len >= 6 && strcmp(text + len - 6, "# EOF\n") == 0);
	free(text);

	s.has_snapshot_age = true;
	s.snapshot_age_s = 1.5;
	s.has_checkpoint = true;
	s.checkpoint_age_s = 60;
	s.checkpoint_duration_s = 0.25;
	s.has_holdout = true;
	s.holdout_cost = 0.75;
	s.holdout_accuracy = 0.8;
	s.holdout_samples = 600;
	s.holdout_cost_average = 0.5;
	s.holdout_accuracy_average = 0.85;
	text = render(&s);
	CU_ASSERT_FATAL(parse(text));
	CU_ASSERT_EQUAL(value_of("minibatchd_snapshot_age_seconds", NULL, NULL), 1.5);
	CU_ASSERT_EQUAL(value_of("minibatchd_checkpoint_age_seconds", NULL, NULL), 60);
	CU_ASSERT_EQUAL(value_of("minibatchd_checkpoint_duration_seconds", NULL, NULL), 0.25);
	CU_ASSERT_EQUAL(value_of("minibatchd_holdout_cost", NULL, NULL), 0.75);
	CU_ASSERT_EQUAL(value_of("minibatchd_holdout_accuracy", NULL, NULL), 0.8);
	CU_ASSERT_EQUAL(value_of("minibatchd_holdout_samples_total", NULL, NULL), 600);
	CU_ASSERT_EQUAL(value_of("minibatchd_holdout_cost_average", NULL, NULL), 0.5);
	CU_ASSERT_EQUAL(value_of("minibatchd_holdout_accuracy_average", NULL, NULL), 0.85);
	free(text);
}

static void text_labels_escaped(void)
{
	static struct mb_metrics_snapshot s;
	fill(&s);
	char *text = render(&s);
	/* On the wire the quote, backslash and newline are escaped, so the line stays one line... */
	CU_ASSERT(strstr(text, "minibatchd_samples_received_total{source=\"we\\\"ird\\\\na\\nme\"} 7\n") != NULL);
	/* ...and a scraper reads back exactly the name that went in. */
	CU_ASSERT_FATAL(parse(text));
	CU_ASSERT_EQUAL(value_of("minibatchd_samples_received_total", "source", "we\"ird\\na\nme"), 7);
	CU_ASSERT_EQUAL(reason_of("we\"ird\\na\nme", "magic"), 0);
	free(text);
}

static void text_histogram_cumulative(void)
{
	static struct mb_metrics_snapshot s;
	fill(&s);
	char *text = render(&s);
	CU_ASSERT_FATAL(parse(text));
	static const char *const le[] = {"0.001", "0.01", "0.1", "1.0", "+Inf"};
	static const double want[] = {5, 11, 15, 15, 16};
	double prev = -1;
	for (unsigned i = 0; i < 5; i++) {
		double v = value_of("minibatchd_batch_wait_seconds_bucket", "le", le[i]);
		CU_ASSERT_EQUAL(v, want[i]);
		CU_ASSERT(v >= prev);
		prev = v;
	}
	CU_ASSERT_EQUAL(value_of("minibatchd_batch_wait_seconds_count", NULL, NULL), 16);
	CU_ASSERT_EQUAL(value_of("minibatchd_batch_wait_seconds_sum", NULL, NULL), 3.5);
	free(text);
}

static void text_cut_like_snprintf(void)
{
	static struct mb_metrics_snapshot s;
	fill(&s);
	char *full = render(&s);
	size_t n = strlen(full);
	char small[200];
	CU_ASSERT(mb_metrics_text_render(&s, small, sizeof small) == n);
	CU_ASSERT(strlen(small) == sizeof small - 1);
	CU_ASSERT(strncmp(small, full, sizeof small - 1) == 0);
	free(full);
}

static void listen_parse(void)
{
	struct sockaddr_storage a;
	socklen_t len = 0;
	CU_ASSERT_FATAL(mb_metrics_listen_parse("127.0.0.1:7712", &a, &len) == 0);
	CU_ASSERT_EQUAL(a.ss_family, AF_INET);
	CU_ASSERT_EQUAL(len, sizeof(struct sockaddr_in));
	CU_ASSERT_EQUAL(ntohs(((struct sockaddr_in *)&a)->sin_port), 7712);
	CU_ASSERT(mb_metrics_is_loopback(&a));

	CU_ASSERT_FATAL(mb_metrics_listen_parse("[::1]:0", &a, &len) == 0);
	CU_ASSERT_EQUAL(a.ss_family, AF_INET6);
	CU_ASSERT_EQUAL(ntohs(((struct sockaddr_in6 *)&a)->sin6_port), 0);
	CU_ASSERT(mb_metrics_is_loopback(&a));

	CU_ASSERT_FATAL(mb_metrics_listen_parse("0.0.0.0:9100", &a, &len) == 0);
	CU_ASSERT_FALSE(mb_metrics_is_loopback(&a));
	CU_ASSERT_FATAL(mb_metrics_listen_parse("192.168.1.5:9100", &a, &len) == 0);
	CU_ASSERT_FALSE(mb_metrics_is_loopback(&a));
	CU_ASSERT_FATAL(mb_metrics_listen_parse("[::]:9100", &a, &len) == 0);
	CU_ASSERT_FALSE(mb_metrics_is_loopback(&a));
	CU_ASSERT_FATAL(mb_metrics_listen_parse("[::ffff:127.0.0.2]:9100", &a, &len) == 0);
	CU_ASSERT(mb_metrics_is_loopback(&a));
	CU_ASSERT_FATAL(mb_metrics_listen_parse("127.8.9.10:1", &a, &len) == 0);
	CU_ASSERT(mb_metrics_is_loopback(&a));

	static const char *const bad[] = {
		"", "7712", ":7712", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1",
		"127.0.0.1:12ab", "127.0.0.1:123456", "localhost:7712", "::1:7712", "[::1]7712", "[::1",
		"[127.0.0.1]:80", "256.0.0.1:80", "127.0.0.1:80 ",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		len = 99;
		int r = mb_metrics_listen_parse(bad[i], &a, &len);
		if (r != -EINVAL)
			fprintf(stderr, "accepted '%s'\n", bad[i]);
		CU_ASSERT(r == -EINVAL);
		CU_ASSERT_EQUAL(len, 99); /* untouched on failure */
	}
}

int main(void)
{
	MB_SUITE("metrics_text", {"metrics_text/families_and_values", text_families_and_values},
		 {"metrics_text/labels_escaped", text_labels_escaped},
		 {"metrics_text/histogram_cumulative", text_histogram_cumulative},
		 {"metrics_text/cut_like_snprintf", text_cut_like_snprintf});
	MB_SUITE("metrics_listen", {"metrics_listen/parse", listen_parse});
	return mb_test_run();
}
