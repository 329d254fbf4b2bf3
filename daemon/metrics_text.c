/* SPDX-License-Identifier: MIT */
/*
 * metrics_text.c - render a metrics snapshot as OpenMetrics text.
 *
 * The text is written the way snprintf writes: into the buffer while it
 * fits, counted regardless, so the caller learns the size it needs.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_text.h"

/* Text under construction; what does not fit is counted, not written. */
struct out {
	char *p;    /* the buffer */
	size_t cap; /* its size */
	size_t len; /* length of the whole text so far, written or not */
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->len < o->cap) {
		size_t room = o->cap - o->len;
		memcpy(o->p + o->len, s, n < room ? n : room);
	}
	o->len += n;
}

static void put_str(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void putf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void putf(struct out *o, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n > 0)
		put(o, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/*
 * A number as OpenMetrics spells it: NaN, +Inf, -Inf, else the shortest
 * decimal that reads back to the same double. with_point adds ".0" to a
 * whole number, the canonical form of a bucket bound.
 */
static void put_double(struct out *o, double v, bool with_point)
{
	if (isnan(v)) {
		put_str(o, "NaN");
		return;
	}
	if (isinf(v)) {
		put_str(o, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	char tmp[40];
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(tmp, sizeof tmp, "%.*g", prec, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	put_str(o, tmp);
	if (with_point && !strpbrk(tmp, ".eE"))
		put_str(o, ".0");
}

/* A label value between quotes, with backslash, quote and newline escaped. */
static void put_label_value(struct out *o, const char *v)
{
	put_str(o, "\"");
	for (const char *c = v ? v : ""; *c; c++) {
		if (*c == '\\')
			put_str(o, "\\\\");
		else if (*c == '"')
			put_str(o, "\\\"");
		else if (*c == '\n')
			put_str(o, "\\n");
		else
			put(o, c, 1);
	}
	put_str(o, "\"");
}

/* The metadata lines of a family; unit may be NULL. */
static void family(struct out *o, const char *name, const char *type, const char *unit, const char *help)
{
	putf(o, "# TYPE %s %s\n", name, type);
	if (unit)
		putf(o, "# UNIT %s %s\n", name, unit);
	putf(o, "# HELP %s %s\n", name, help);
}

/* One unlabelled sample with an integer value. */
static void sample_u(struct out *o, const char *name, const char *suffix, uint64_t v)
{
	putf(o, "%s%s %llu\n", name, suffix, (unsigned long long)v);
}

/* One unlabelled sample with a floating value. */
static void sample_d(struct out *o, const char *name, const char *suffix, double v)
{
	putf(o, "%s%s ", name, suffix);
	put_double(o, v, false);
	put_str(o, "\n");
}

/* A gauge family of one unlabelled sample. */
static void gauge(struct out *o, const char *name, const char *unit, const char *help, double v)
{
	family(o, name, "gauge", unit, help);
	sample_d(o, name, "", v);
}

/* A counter family of one unlabelled sample. */
static void counter(struct out *o, const char *name, const char *unit, const char *help, uint64_t v)
{
	family(o, name, "counter", unit, help);
	sample_u(o, name, "_total", v);
}

/* Which per-source figure a family reports. */
enum source_figure { RECEIVED, QUEUED, DROPPED, REJECTED, BYTES, QUEUE_BATCHES };

static uint64_t source_figure(const struct mb_metrics_source *src, enum source_figure f)
{
	switch (f) {
	case RECEIVED: return src->received;
	case QUEUED: return src->queued;
	case DROPPED: return src->dropped;
	case REJECTED: return src->rejected;
	case BYTES: return src->bytes;
	case QUEUE_BATCHES: return src->queue_batches;
	}
	return 0;
}

/* A family with one sample per source, labelled source="NAME". */
static void per_source(struct out *o, const struct mb_metrics_snapshot *s, const char *name, bool is_counter,
		       const char *unit, const char *help, enum source_figure f)
{
	family(o, name, is_counter ? "counter" : "gauge", unit, help);
	for (unsigned i = 0; i < s->n_sources; i++) {
		putf(o, "%s%s{source=", name, is_counter ? "_total" : "");
		put_label_value(o, s->sources[i].name);
		putf(o, "} %llu\n", (unsigned long long)source_figure(&s->sources[i], f));
	}
}

/* Rejections by source and reason: every reason, zero or not, so rates start from a known zero. */
static void rejected_by_reason(struct out *o, const struct mb_metrics_snapshot *s)
{
	static const char name[] = "minibatchd_rejected_by_reason";
	family(o, name, "counter", NULL, "Input refused by a decoder, by source and reason.");
	for (unsigned i = 0; i < s->n_sources; i++) {
		for (unsigned r = MB_R_OK + 1; r < MB_R_MAX_; r++) {
			putf(o, "%s_total{source=", name);
			put_label_value(o, s->sources[i].name);
			put_str(o, ",reason=");
			put_label_value(o, mb_reason_name((enum mb_reason)r));
			putf(o, "} %llu\n", (unsigned long long)s->sources[i].rejected_by[r]);
		}
	}
}

/* A histogram family: cumulative buckets, +Inf, count and sum. */
static void histogram(struct out *o, const char *name, const char *unit, const char *help,
		      const struct mb_metrics_hist *h)
{
	family(o, name, "histogram", unit, help);
	uint64_t cum = 0;
	unsigned n = h->n_bounds < MB_METRICS_HIST_MAX ? h->n_bounds : MB_METRICS_HIST_MAX;
	for (unsigned i = 0; i < n; i++) {
		cum += h->counts[i];
		putf(o, "%s_bucket{le=\"", name);
		put_double(o, h->bounds[i], true);
		putf(o, "\"} %llu\n", (unsigned long long)cum);
	}
	/* The +Inf bucket and the count are the same sum, so they agree however the counts were read. */
	cum += h->counts[n];
	putf(o, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
	sample_u(o, name, "_count", cum);
	sample_d(o, name, "_sum", h->sum);
}

/* Render s (see metrics_text.h). */
size_t mb_metrics_text_render(const struct mb_metrics_snapshot *s, char *buf, size_t cap)
{
	struct out o = {.p = buf, .cap = cap ? cap - 1 : 0};

	family(&o, "minibatchd_build", "info", NULL, "The daemon's version and the model it trains.");
	put_str(&o, "minibatchd_build_info{version=");
	put_label_value(&o, s->version);
	put_str(&o, ",model=");
	put_label_value(&o, s->model);
	put_str(&o, "} 1\n");
	gauge(&o, "minibatchd_start_time_seconds", "seconds", "When the process started, in seconds since the Unix epoch.",
	      s->start_time_s);
	gauge(&o, "minibatchd_ingest_paused", NULL, "1 while ingest is paused by the control socket.",
	      s->paused ? 1.0 : 0.0);

	per_source(&o, s, "minibatchd_samples_received", true, NULL,
		   "Samples that arrived, valid or not (a message refused whole counts as one).", RECEIVED);
	per_source(&o, s, "minibatchd_samples_queued", true, NULL, "Samples put into a batch for the trainer.",
		   QUEUED);
	per_source(&o, s, "minibatchd_samples_dropped", true, NULL,
		   "Valid samples dropped because the source's batch pool was full.", DROPPED);
	per_source(&o, s, "minibatchd_samples_rejected", true, NULL,
		   "Messages, lines or rows refused by a decoder.", REJECTED);
	rejected_by_reason(&o, s);
	per_source(&o, s, "minibatchd_received_bytes", true, "bytes", "Bytes received or read.", BYTES);
	per_source(&o, s, "minibatchd_queue_batches", false, NULL, "Batches waiting for the trainer.",
		   QUEUE_BATCHES);

	counter(&o, "minibatchd_samples_trained", NULL, "Rows the model learned from.", s->samples);
	gauge(&o, "minibatchd_model_version", NULL,
	      "Version of the model, as in published snapshots: +1 per optimizer step and per reset.",
	      (double)s->model_version);
	counter(&o, "minibatchd_steps_skipped", NULL,
		"Steps the guard refused because the cost or gradient was not finite.", s->skipped);
	counter(&o, "minibatchd_divergence_rollbacks", NULL,
		"Times the cost diverged and the last good parameters and optimizer state were restored.",
		s->rollbacks);
	gauge(&o, "minibatchd_batch_rows", NULL, "Rows of the last batch trained.", s->batch_rows);
	histogram(&o, "minibatchd_batch_wait_seconds", "seconds",
		  "Time from a batch's first row to its training step.", &s->batch_wait);
	gauge(&o, "minibatchd_cost_last_batch", NULL,
	      "Progressive cost of the last batch (scored before the model learned from it).", s->cost_last);
	gauge(&o, "minibatchd_cost_average", NULL, "Moving average of the progressive cost.", s->cost_average);
	gauge(&o, "minibatchd_accuracy_average", NULL,
	      "Moving average of the progressive accuracy (NaN when the model is not a classifier).",
	      s->accuracy_average);
	if (s->has_holdout) {
		gauge(&o, "minibatchd_holdout_cost", NULL, "Mean cost on the holdout samples.", s->holdout_cost);
		gauge(&o, "minibatchd_holdout_accuracy", NULL, "Accuracy on the holdout samples.",
		      s->holdout_accuracy);
		counter(&o, "minibatchd_holdout_samples", NULL,
			"Samples kept out of training and scored by the model of the moment.", s->holdout_samples);
		gauge(&o, "minibatchd_holdout_cost_average", NULL, "Moving average of the held-out cost.",
		      s->holdout_cost_average);
		gauge(&o, "minibatchd_holdout_accuracy_average", NULL,
		      "Moving average of the held-out accuracy (NaN when the model is not a classifier).",
		      s->holdout_accuracy_average);
	}
	gauge(&o, "minibatchd_learning_rate", NULL, "Learning rate of the next step, schedule applied.", s->lr);
	gauge(&o, "minibatchd_samples_per_second", NULL, "Rows trained per second over the last second or so.",
	      s->samples_per_s);

	counter(&o, "minibatchd_snapshots_published", NULL, "Snapshots the trainer handed to the publisher.",
		s->snapshots_published);
	counter(&o, "minibatchd_snapshots_sent", NULL,
		"Snapshot messages sent, resends to new subscribers included.", s->snapshots_sent);
	if (s->has_snapshot_age)
		gauge(&o, "minibatchd_snapshot_age_seconds", "seconds", "Time since the last snapshot was handed over.",
		      s->snapshot_age_s);
	counter(&o, "minibatchd_checkpoints_written", NULL, "Checkpoints written.", s->checkpoints);
	counter(&o, "minibatchd_checkpoint_failures", NULL, "Checkpoints that could not be written.",
		s->checkpoint_failures);
	if (s->has_checkpoint) {
		gauge(&o, "minibatchd_checkpoint_age_seconds", "seconds", "Time since the last checkpoint was written.",
		      s->checkpoint_age_s);
		gauge(&o, "minibatchd_checkpoint_duration_seconds", "seconds", "How long writing the last checkpoint took.",
		      s->checkpoint_duration_s);
	}
	counter(&o, "minibatchd_config_reloads", NULL, "Configuration reloads applied.", s->reloads);
	counter(&o, "minibatchd_config_reloads_refused", NULL,
		"Configuration reloads refused: an invalid file, or a change that needs a restart.",
		s->reloads_refused);
	counter(&o, "minibatchd_peers_refused", NULL,
		"Connections refused on CURVE endpoints: a client key not allowed, or no CURVE handshake.",
		s->peers_refused);

	put_str(&o, "# EOF\n");
	if (cap)
		buf[o.len < cap ? o.len : cap - 1] = '\0';
	return o.len;
}
