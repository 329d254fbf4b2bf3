/* SPDX-License-Identifier: MIT */
/*
 * holdout.h - the trainer's holdout: every k-th sample scored, never learned.
 *
 * Progressive validation scores each batch before the model learns from it,
 * but those very rows are learned a moment later. A holdout keeps every k-th
 * sample that reaches the trainer out of training altogether and scores it
 * with the model of the moment, so its cost and accuracy are the model's
 * figures on data it never saw: what a user watches for overfitting and for
 * the model going stale on a drifting stream.
 *
 * The trainer thread owns it. Which samples are held out depends only on
 * the order samples reach the trainer, and the counters go into
 * checkpoints, so a resumed run holds out the same samples as an
 * uninterrupted one.
 */
#ifndef MB_DAEMON_HOLDOUT_H
#define MB_DAEMON_HOLDOUT_H

#include <stdbool.h>
#include <stdint.h>

#include "batch.h"
#include "eval.h"
#include "learner.h"

/* Half-life, in held-out samples, of the holdout's moving averages. */
#define MB_HOLDOUT_HALF_LIFE 1000.0

/* Everything the holdout keeps. */
struct mb_trainer_holdout {
	struct mb_holdout h;      /* every k-th: the counters and the totals of the scores */
	struct mb_ewma cost;      /* moving average of the held-out cost */
	struct mb_ewma accuracy;  /* the same of the held-out accuracy (classifiers) */
	float *x;                 /* the held rows of one batch: cap x n_features */
	float *y;                 /* their targets: cap x n_targets */
	uint32_t cap;             /* rows x and y hold (the batch size) */
	uint32_t n_features;      /* floats per row of x */
	uint32_t n_targets;       /* floats per row of y */
	bool classifier;          /* the model is a classifier: accuracy means something */
};

/*
 * A holdout of every k-th sample (k >= 2) for batches of at most cap rows
 * of n_features and n_targets, of a classifier or not. 0 and *ret;
 * -EINVAL for k < 2 or a zero size, -ENOMEM.
 */
int mb_trainer_holdout_new(uint32_t every, uint32_t cap, uint32_t n_features, uint32_t n_targets,
			   bool classifier, struct mb_trainer_holdout **ret);

/* Free it. NULL is fine; returns NULL. */
struct mb_trainer_holdout *mb_trainer_holdout_free(struct mb_trainer_holdout *ho);

/*
 * Take the held-out rows out of b, in order, keeping the others (and their
 * weights) packed at the front of b; b->rows drops accordingly. The rows
 * taken wait in ho until mb_trainer_holdout_score(). Returns the rows
 * taken. A batch whose shape is not ho's is left alone (returns 0).
 */
uint32_t mb_trainer_holdout_split(struct mb_trainer_holdout *ho, struct mb_batch *b);

/*
 * Score the rows the last split took with l's model as it is now, and add
 * them to the totals and averages. Held rows whose mean cost is not finite
 * stay out of the figures (-EDOM); the learner's -errno otherwise, 0 when
 * they were added.
 */
int mb_trainer_holdout_score(struct mb_trainer_holdout *ho, struct mb_learner *l, uint32_t rows);

/* Mean cost over every held-out row so far, NaN before any. */
double mb_trainer_holdout_cost(const struct mb_trainer_holdout *ho);

/* Accuracy over every held-out row so far, NaN before any or for a regression. */
double mb_trainer_holdout_accuracy(const struct mb_trainer_holdout *ho);

/*
 * The checkpointed part: samples offered, samples held out, and the score
 * totals. restore() sets them back (the moving averages restart from the
 * totals' means).
 */
struct mb_holdout_counters {
	uint64_t seen;       /* samples offered to the holdout */
	uint64_t taken;      /* of them, held out */
	uint64_t rows;       /* held-out rows scored */
	uint64_t correct;    /* of them, classified right */
	double cost_sum;     /* sum of their costs */
};

/* Copy the counters out. */
void mb_trainer_holdout_save(const struct mb_trainer_holdout *ho, struct mb_holdout_counters *ret);

/* Continue from saved counters. */
void mb_trainer_holdout_restore(struct mb_trainer_holdout *ho, const struct mb_holdout_counters *c);

#endif /* MB_DAEMON_HOLDOUT_H */
