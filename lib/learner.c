/* SPDX-License-Identifier: MIT */
/*
 * learner.c - one guarded step of mini-batch gradient descent.
 *
 * Plain SGD is fused into the model's backward products (the parameters
 * are the destination, alpha = -lr, beta = 1), which saves a pass over
 * every parameter per step and is what makes small batches fast; every
 * other rule gets the gradient in its own buffer first.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "learner.h"
#include "model_priv.h"

struct mb_learner {
	struct mb_model *model; /* owned */
	struct mb_optim *optim; /* owned */
	float *grads;           /* n_params gradient buffer, for the unfused rules */
	uint64_t steps;         /* steps taken */
	uint64_t skipped;       /* steps the guard refused */
};

/*
 * A learner driving model with optim (both sized for the same number of
 * parameters). On success it owns both and frees them in
 * mb_learner_free; on failure (-EINVAL sizes differ, -ENOMEM) they stay
 * the caller's.
 */
int mb_learner_new(struct mb_model *model, struct mb_optim *optim, struct mb_learner **ret)
{
	struct mb_learner *l;

	if (!model || !optim || mb_optim_n_params(optim) != mb_model_n_params(model))
		return -EINVAL;
	l = calloc(1, sizeof *l);
	if (!l)
		return -ENOMEM;
	/* Allocated even for plain SGD: a reload may turn on decay or clipping. */
	l->grads = calloc(mb_model_n_params(model), sizeof(float));
	if (!l->grads) {
		free(l);
		return -ENOMEM;
	}
	l->model = model;
	l->optim = optim;
	*ret = l;
	return 0;
}

/* Free l with its model and optimizer; NULL is fine. Returns NULL. */
struct mb_learner *mb_learner_free(struct mb_learner *l)
{
	if (!l)
		return NULL;
	mb_model_free(l->model);
	mb_optim_free(l->optim);
	free(l->grads);
	free(l);
	return NULL;
}

/* The model it trains; still owned by l. */
struct mb_model *mb_learner_model(struct mb_learner *l)
{
	return l->model;
}

/* Its optimizer; still owned by l (reconfigure it here on reload). */
struct mb_optim *mb_learner_optim(struct mb_learner *l)
{
	return l->optim;
}

/* Backward plus update: fused for plain SGD, through the gradient buffer otherwise. */
static int learn(struct mb_learner *l, const float *X, const float *Y, const float *w, uint32_t rows)
{
	float *params = mb_model_params(l->model);
	int r;

	if (mb_optim_is_plain_sgd(l->optim)) {
		r = mb_model_backward(l->model, X, Y, w, rows, -mb_optim_lr(l->optim), 1.0f, params);
		if (r == 0)
			mb_optim_count_step(l->optim);
		return r;
	}
	r = mb_model_backward(l->model, X, Y, w, rows, 1.0f, 0.0f, l->grads);
	if (r < 0)
		return r;
	return mb_optim_step(l->optim, params, l->grads);
}

/*
 * One step on rows of X, Y and w (w may be NULL): forward, progressive
 * cost and correct count (scored before the update), backward, guard,
 * update. 0 with *ret filled; -EDOM with *ret filled and ret->skipped set
 * when a non-finite cost or gradient made the guard refuse the step (the
 * parameters untouched, the skip counted); -EINVAL, nothing changed and
 * *ret untouched, for rows 0 or over max_batch, or a target or weight the
 * model cannot take (a class index out of range).
 */
int mb_learner_step(struct mb_learner *l, const float *X, const float *Y, const float *w, uint32_t rows,
		    struct mb_step_result *ret)
{
	uint32_t correct = 0;
	double cost;
	int r;

	r = mb_model_forward(l->model, X, rows);
	if (r < 0)
		return r;
	cost = mb_model_cost(l->model, Y, w, rows, &correct);
	if (isfinite(cost))
		r = learn(l, X, Y, w, rows);
	else if (mb_model_check_targets(l->model, Y, w, rows) < 0)
		return -EINVAL;
	else
		r = -EDOM;
	if (r < 0 && r != -EDOM)
		return r;

	ret->cost = cost;
	ret->rows = rows;
	ret->correct = correct;
	ret->skipped = r == -EDOM;
	if (r == -EDOM) {
		l->skipped++;
		return -EDOM;
	}
	l->steps++;
	return 0;
}

/*
 * Score rows of X and Y without learning, max_batch rows at a time: the
 * mean cost over all rows and the rows classified right. 0 with *ret
 * filled (cost NaN or infinite if the model's numbers blew up), or
 * -EINVAL with *ret untouched for rows 0 or a target the model cannot take.
 */
int mb_learner_eval(struct mb_learner *l, const float *X, const float *Y, uint32_t rows,
		    struct mb_step_result *ret)
{
	const struct mb_model_cfg *cfg = mb_model_cfg(l->model);
	size_t nx = cfg->n_inputs, ny = mb_model_n_targets(l->model);
	uint32_t correct = 0;
	double sum = 0.0;

	if (rows == 0)
		return -EINVAL;
	for (uint32_t at = 0; at < rows;) {
		uint32_t n = rows - at < cfg->max_batch ? rows - at : cfg->max_batch, c = 0;
		const float *y = Y + at * ny;
		int r = mb_model_forward(l->model, X + at * nx, n);
		if (r < 0)
			return r;
		double cost = mb_model_cost(l->model, y, NULL, n, &c);
		if (isnan(cost) && mb_model_check_targets(l->model, y, NULL, n) < 0)
			return -EINVAL;
		sum += cost * n;
		correct += c;
		at += n;
	}
	ret->cost = sum / rows;
	ret->rows = rows;
	ret->correct = correct;
	ret->skipped = false;
	return 0;
}

/* Steps this learner took (the refused ones not included). */
uint64_t mb_learner_steps(const struct mb_learner *l)
{
	return l->steps;
}

/* Steps the guard refused. */
uint64_t mb_learner_skipped(const struct mb_learner *l)
{
	return l->skipped;
}
