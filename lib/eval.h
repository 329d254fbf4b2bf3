/* SPDX-License-Identifier: MIT */
/*
 * eval.h - online evaluation: how well is the model doing right now?
 *
 * A streaming learner has no test phase, so it is judged as it goes:
 *  - progressive validation: each batch is scored before the model learns
 *    from it, so its cost is an honest estimate on unseen data; totals run
 *    from the start and a window the caller resets gives "recent" figures;
 *  - an exponentially weighted moving average smooths the per-batch cost
 *    for plots and alerts;
 *  - a holdout: every k-th sample is kept out of training and only scored,
 *    with accumulators of its own.
 * Plain single-thread structs: the trainer updates them, and hands copies
 * to whoever reports them.
 */
#ifndef MB_EVAL_H
#define MB_EVAL_H

#include <stdbool.h>
#include <stdint.h>

/* An exponentially weighted moving average. */
struct mb_ewma {
	double alpha;  /* weight of each new sample, in (0, 1] */
	double value;  /* the average; meaningful once primed */
	bool primed;   /* a value has been added: the first one sets it outright */
};

/* Start an average with weight alpha per sample. 0, or -EINVAL unless 0 < alpha <= 1. */
int mb_ewma_init(struct mb_ewma *e, double alpha);

/*
 * Start an average whose memory halves every half_life samples:
 * alpha = 1 - 2^(-1/half_life). 0, or -EINVAL unless half_life >= 1 is finite.
 */
int mb_ewma_init_half_life(struct mb_ewma *e, double half_life);

/* Add one sample. */
void mb_ewma_add(struct mb_ewma *e, double x);

/*
 * Add n samples whose mean is mean (a batch), exactly as n calls of
 * mb_ewma_add(e, mean) would; n == 0 does nothing.
 */
void mb_ewma_add_n(struct mb_ewma *e, double mean, uint64_t n);

/* The average, or NaN before the first sample. */
double mb_ewma_value(const struct mb_ewma *e);

/* Forget every sample, keeping alpha. */
void mb_ewma_reset(struct mb_ewma *e);

/* Sums over scored rows. Zero-initialise, or use mb_eval_acc_reset(). */
struct mb_eval_acc {
	double cost_sum;  /* sum over batches of mean cost x rows */
	uint64_t rows;    /* rows scored */
	uint64_t correct; /* rows classified right (classifiers only) */
};

/* Account a batch of rows scored with mean cost mean_cost, correct of them right. */
void mb_eval_acc_add(struct mb_eval_acc *a, double mean_cost, uint64_t rows, uint64_t correct);

/* Mean cost per row, or NaN when no row was scored. */
double mb_eval_acc_cost(const struct mb_eval_acc *a);

/* Fraction of rows classified right, or NaN when no row was scored. */
double mb_eval_acc_accuracy(const struct mb_eval_acc *a);

/* Zero all sums. */
void mb_eval_acc_reset(struct mb_eval_acc *a);

/* correct / rows, or NaN when rows is 0. */
double mb_eval_accuracy(uint64_t correct, uint64_t rows);

/* Progressive validation: since the start, and since the window was last reset. */
struct mb_progval {
	struct mb_eval_acc total;  /* every batch since the start (or a restore) */
	struct mb_eval_acc window; /* batches since the last mb_progval_window_reset() */
};

/* Account a batch scored before learning, into both total and window. */
void mb_progval_add(struct mb_progval *pv, double mean_cost, uint64_t rows, uint64_t correct);

/* Close the window: *ret gets its sums, and a new empty window starts. */
void mb_progval_window_reset(struct mb_progval *pv, struct mb_eval_acc *ret);

/* Every k-th sample held out of training. */
struct mb_holdout {
	uint32_t every;         /* k; 0 disables the holdout */
	uint64_t seen;          /* samples offered to mb_holdout_take() */
	uint64_t taken;         /* of them, held out */
	struct mb_eval_acc acc; /* scores of the held-out samples */
};

/* Start a holdout of every k-th sample (0: none) with empty sums. */
void mb_holdout_init(struct mb_holdout *h, uint32_t every);

/*
 * Offer the next sample: true if it belongs to the holdout (the k-th,
 * 2k-th, ... since init), so the caller scores it instead of training on it.
 */
bool mb_holdout_take(struct mb_holdout *h);

/* Account held-out rows scored with mean cost mean_cost, correct of them right. */
void mb_holdout_add(struct mb_holdout *h, double mean_cost, uint64_t rows, uint64_t correct);

#endif /* MB_EVAL_H */
