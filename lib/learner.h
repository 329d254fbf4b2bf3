/* SPDX-License-Identifier: MIT */
/*
 * learner.h - one step of mini-batch gradient descent, and what it saw.
 *
 * A step is: forward pass, progressive cost (the batch is scored before it
 * is learned from), backward pass, guard, optimizer step. The guard keeps
 * any non-finite cost or gradient away from the parameters: the step is
 * skipped and counted. This is the trainer's step boundary: a later
 * synchronisation step (parameter averaging) goes right after it.
 */
#ifndef MB_LEARNER_H
#define MB_LEARNER_H

#include <stdbool.h>
#include <stdint.h>

#include "model.h"
#include "optim.h"

struct mb_step_result {
	double cost;       /* progressive mean cost of the batch (before the update) */
	uint32_t rows;     /* rows in the batch */
	uint32_t correct;  /* rows classified right before the update (classifiers) */
	bool skipped;      /* the guard refused the step */
};

struct mb_learner;

/* Take ownership of model and optimizer (the caller's pointers are not freed by the caller afterwards); on failure they stay the caller's. */
int mb_learner_new(struct mb_model *model, struct mb_optim *optim, struct mb_learner **ret);
struct mb_learner *mb_learner_free(struct mb_learner *l);

struct mb_model *mb_learner_model(struct mb_learner *l);
struct mb_optim *mb_learner_optim(struct mb_learner *l);

/*
 * One step on rows of X, Y, w (w may be NULL). 0, or -EDOM when the guard
 * skipped it (*ret filled, ret->skipped set); -EINVAL with nothing learned
 * or counted for rows 0 or over max_batch, or a target or weight the model
 * cannot take (a class index out of range).
 */
int mb_learner_step(struct mb_learner *l, const float *X, const float *Y, const float *w, uint32_t rows,
		    struct mb_step_result *ret);

/* Score rows without learning (holdout, evaluation): mean cost and correct count. */
int mb_learner_eval(struct mb_learner *l, const float *X, const float *Y, uint32_t rows,
		    struct mb_step_result *ret);

uint64_t mb_learner_steps(const struct mb_learner *l);   /* steps taken */
uint64_t mb_learner_skipped(const struct mb_learner *l); /* steps the guard refused */

#endif /* MB_LEARNER_H */
