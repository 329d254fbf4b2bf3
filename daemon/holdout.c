/* SPDX-License-Identifier: MIT */
/*
 * holdout.c - every k-th sample scored and kept out of training; see holdout.h.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "holdout.h"

/* Create a holdout with room for one batch of held rows. */
int mb_trainer_holdout_new(uint32_t every, uint32_t cap, uint32_t n_features, uint32_t n_targets,
			   bool classifier, struct mb_trainer_holdout **ret)
{
	if (every < 2 || !cap || !n_features || !n_targets)
		return -EINVAL;
	struct mb_trainer_holdout *ho = calloc(1, sizeof *ho);
	if (!ho)
		return -ENOMEM;
	ho->x = calloc((size_t)cap * n_features, sizeof *ho->x);
	ho->y = calloc((size_t)cap * n_targets, sizeof *ho->y);
	if (!ho->x || !ho->y) {
		mb_trainer_holdout_free(ho);
		return -ENOMEM;
	}
	ho->cap = cap;
	ho->n_features = n_features;
	ho->n_targets = n_targets;
	ho->classifier = classifier;
	mb_holdout_init(&ho->h, every);
	mb_ewma_init_half_life(&ho->cost, MB_HOLDOUT_HALF_LIFE);
	mb_ewma_init_half_life(&ho->accuracy, MB_HOLDOUT_HALF_LIFE);
	*ret = ho;
	return 0;
}

/* Free the holdout and its rows. */
struct mb_trainer_holdout *mb_trainer_holdout_free(struct mb_trainer_holdout *ho)
{
	if (ho) {
		free(ho->x);
		free(ho->y);
		free(ho);
	}
	return NULL;
}

/* Move the held rows out of b and close the gaps they leave. */
uint32_t mb_trainer_holdout_split(struct mb_trainer_holdout *ho, struct mb_batch *b)
{
	if (b->n_features != ho->n_features || b->n_targets != ho->n_targets || b->rows > ho->cap)
		return 0;
	size_t fx = (size_t)b->n_features * sizeof(float), fy = (size_t)b->n_targets * sizeof(float);
	uint32_t kept = 0, taken = 0;
	for (uint32_t i = 0; i < b->rows; i++) {
		if (mb_holdout_take(&ho->h)) {
			memcpy(ho->x + (size_t)taken * ho->n_features, mb_batch_x(b, i), fx);
			memcpy(ho->y + (size_t)taken * ho->n_targets, mb_batch_y(b, i), fy);
			taken++;
			continue;
		}
		if (kept != i) {
			memcpy(mb_batch_x(b, kept), mb_batch_x(b, i), fx);
			memcpy(mb_batch_y(b, kept), mb_batch_y(b, i), fy);
			b->w[kept] = b->w[i];
		}
		kept++;
	}
	b->rows = kept;
	return taken;
}

/* Score the held rows with the model of the moment. */
int mb_trainer_holdout_score(struct mb_trainer_holdout *ho, struct mb_learner *l, uint32_t rows)
{
	if (!rows)
		return 0;
	struct mb_step_result res = {0};
	int err = mb_learner_eval(l, ho->x, ho->y, rows, &res);
	if (err < 0)
		return err;
	if (!isfinite(res.cost))
		return -EDOM;
	mb_holdout_add(&ho->h, res.cost, rows, res.correct);
	mb_ewma_add_n(&ho->cost, res.cost, rows);
	if (ho->classifier)
		mb_ewma_add_n(&ho->accuracy, (double)res.correct / rows, rows);
	return 0;
}

/* Mean held-out cost so far. */
double mb_trainer_holdout_cost(const struct mb_trainer_holdout *ho)
{
	return mb_eval_acc_cost(&ho->h.acc);
}

/* Held-out accuracy so far. */
double mb_trainer_holdout_accuracy(const struct mb_trainer_holdout *ho)
{
	return ho->classifier ? mb_eval_acc_accuracy(&ho->h.acc) : NAN;
}

/* The counters a checkpoint keeps. */
void mb_trainer_holdout_save(const struct mb_trainer_holdout *ho, struct mb_holdout_counters *ret)
{
	*ret = (struct mb_holdout_counters){
		.seen = ho->h.seen,
		.taken = ho->h.taken,
		.rows = ho->h.acc.rows,
		.correct = ho->h.acc.correct,
		.cost_sum = ho->h.acc.cost_sum,
	};
}

/* Continue from a checkpoint's counters; the averages restart from the totals. */
void mb_trainer_holdout_restore(struct mb_trainer_holdout *ho, const struct mb_holdout_counters *c)
{
	ho->h.seen = c->seen;
	ho->h.taken = c->taken;
	ho->h.acc.rows = c->rows;
	ho->h.acc.correct = c->correct;
	ho->h.acc.cost_sum = c->cost_sum;
	mb_ewma_reset(&ho->cost);
	mb_ewma_reset(&ho->accuracy);
	if (c->rows) {
		mb_ewma_add(&ho->cost, c->cost_sum / (double)c->rows);
		if (ho->classifier)
			mb_ewma_add(&ho->accuracy, (double)c->correct / (double)c->rows);
	}
}
