/* SPDX-License-Identifier: MIT */
/*
 * metrics_text.h - the daemon's figures as OpenMetrics text.
 *
 * The HTTP endpoint (daemon/metrics.c) copies every counter it can see
 * into a struct mb_metrics_snapshot, without locks, and this renders the
 * copy: a pure function of its input, so the exact text a scraper gets is
 * testable without a daemon.
 *
 * Every family has "# HELP" and "# TYPE" lines (and "# UNIT" for the ones
 * in seconds or bytes); counter samples end in _total; label values are
 * escaped as OpenMetrics asks; the text ends with "# EOF". A figure the
 * daemon does not have (no snapshot yet, no checkpoint) leaves its family
 * out instead of inventing a value; a figure that is not a number yet
 * (the cost before the first batch) is NaN.
 */
#ifndef MB_DAEMON_METRICS_TEXT_H
#define MB_DAEMON_METRICS_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "source.h"

/* The Content-Type of the text. */
#define MB_METRICS_CONTENT_TYPE "application/openmetrics-text; version=1.0.0; charset=utf-8"

/* The most finite bucket bounds of one histogram. */
#define MB_METRICS_HIST_MAX 24u

/* A histogram: counts per bucket, not yet cumulative. */
struct mb_metrics_hist {
	unsigned n_bounds;                          /* finite upper bounds, at most MB_METRICS_HIST_MAX */
	const double *bounds;                       /* n_bounds ascending upper bounds ("le") */
	uint64_t counts[MB_METRICS_HIST_MAX + 1];   /* observations per bucket; [n_bounds]: above the last bound */
	double sum;                                 /* sum of every observation */
};

/* One ingest source's figures. */
struct mb_metrics_source {
	const char *name;                  /* the NAME of [source.NAME], any text (escaped on output) */
	uint64_t received;                 /* samples that arrived, valid or not */
	uint64_t queued;                   /* samples put into a batch for the trainer */
	uint64_t dropped;                  /* valid samples the backpressure policy dropped */
	uint64_t rejected;                 /* messages, lines or rows a decoder refused */
	uint64_t rejected_by[MB_R_MAX_];   /* the same by reason; [MB_R_OK] is unused */
	uint64_t bytes;                    /* bytes received or read */
	uint32_t queue_batches;            /* batches waiting for the trainer now */
};

/* Everything the endpoint reports, copied at one moment. */
struct mb_metrics_snapshot {
	const char *version;               /* the daemon's version, a label of minibatchd_build_info */
	const char *model;                 /* the model's name (snapshot topic), the other label */
	double start_time_s;               /* when the process started, seconds since the Unix epoch */
	bool paused;                       /* ingest is paused (control "pause") */

	unsigned n_sources;                /* sources[0..n_sources-1] are valid */
	struct mb_metrics_source sources[MB_MAX_SOURCES]; /* in configuration order */

	uint64_t samples;                  /* rows trained */
	uint64_t model_version;            /* the model's version: +1 per step and per reset */
	uint64_t skipped;                  /* steps the guard refused */
	uint64_t rollbacks;                /* times the divergence guard restored the last good state */
	uint32_t batch_rows;               /* rows of the last batch trained (0 before any) */
	struct mb_metrics_hist batch_wait; /* seconds from a batch's first row to its training */
	double cost_last;                  /* progressive cost of the last batch; NaN before any */
	double cost_average;               /* moving average of the progressive cost; NaN before any */
	double accuracy_average;           /* the same of the accuracy; NaN when not a classifier */
	double lr;                         /* learning rate of the next step */
	double samples_per_s;              /* training rate over the last second or so */

	uint64_t snapshots_published;      /* snapshots the trainer handed to the publisher */
	uint64_t snapshots_sent;           /* snapshot messages sent, resends to new subscribers included */
	bool has_snapshot_age;             /* a snapshot was handed over */
	double snapshot_age_s;             /* seconds since then */

	bool has_holdout;                  /* a holdout is scored */
	double holdout_cost;               /* its mean cost */
	double holdout_accuracy;           /* its accuracy; NaN when not a classifier */
	uint64_t holdout_samples;          /* samples held out of training */
	double holdout_cost_average;       /* moving average of the held-out cost */
	double holdout_accuracy_average;   /* the same of the held-out accuracy */

	uint64_t checkpoints;              /* checkpoints written */
	uint64_t checkpoint_failures;      /* checkpoints that could not be written */
	bool has_checkpoint;               /* the age and duration of the last checkpoint are known */
	double checkpoint_age_s;           /* seconds since the last one was written */
	double checkpoint_duration_s;      /* how long writing it took */

	uint64_t reloads;                  /* configuration reloads applied */
	uint64_t reloads_refused;          /* reloads refused (bad file, change that needs a restart) */
	uint64_t peers_refused;            /* connections refused on CURVE endpoints (daemon/zap.h) */
};

/*
 * Render s into buf (cap bytes, NUL-terminated when cap > 0). Returns the
 * length of the whole text, without the NUL, as snprintf does: when it is
 * cap or more, the text was cut and a buffer of that length + 1 holds it.
 */
size_t mb_metrics_text_render(const struct mb_metrics_snapshot *s, char *buf, size_t cap);

#endif /* MB_DAEMON_METRICS_TEXT_H */
