/* SPDX-License-Identifier: MIT */
/*
 * eval.c - moving averages, progressive validation and the holdout; see eval.h.
 */
#include <errno.h>
#include <math.h>

#include "eval.h"

/* Start an average with weight alpha per sample. */
int mb_ewma_init(struct mb_ewma *e, double alpha)
{
	if (!(alpha > 0.0 && alpha <= 1.0))
		return -EINVAL;
	e->alpha = alpha;
	mb_ewma_reset(e);
	return 0;
}

/* Start an average from its half-life in samples. */
int mb_ewma_init_half_life(struct mb_ewma *e, double half_life)
{
	if (!(half_life >= 1.0 && isfinite(half_life)))
		return -EINVAL;
	/* (1 - alpha)^half_life == 1/2 */
	return mb_ewma_init(e, -expm1(-log(2.0) / half_life));
}

/* Add one sample; the first one becomes the value. */
void mb_ewma_add(struct mb_ewma *e, double x)
{
	if (!e->primed) {
		e->value = x;
		e->primed = true;
		return;
	}
	e->value += e->alpha * (x - e->value);
}

/*
 * n samples of the same mean: n steps of v += a (m - v) leave
 * (v - m) (1 - a)^n, so the combined weight is 1 - (1 - a)^n.
 */
void mb_ewma_add_n(struct mb_ewma *e, double mean, uint64_t n)
{
	if (n == 0)
		return;
	if (!e->primed) {
		e->value = mean;
		e->primed = true;
		return;
	}
	double keep = exp((double)n * log1p(-e->alpha)); /* (1 - a)^n, exact at a = 1 too */
	e->value = mean + (e->value - mean) * keep;
}

/* The average, NaN before any sample. */
double mb_ewma_value(const struct mb_ewma *e)
{
	return e->primed ? e->value : NAN;
}

/* Forget the samples. */
void mb_ewma_reset(struct mb_ewma *e)
{
	e->value = 0.0;
	e->primed = false;
}

/* Add a scored batch. */
void mb_eval_acc_add(struct mb_eval_acc *a, double mean_cost, uint64_t rows, uint64_t correct)
{
	a->cost_sum += mean_cost * (double)rows;
	a->rows += rows;
	a->correct += correct;
}

/* Mean cost per row. */
double mb_eval_acc_cost(const struct mb_eval_acc *a)
{
	return a->rows ? a->cost_sum / (double)a->rows : NAN;
}

/* Fraction right. */
double mb_eval_acc_accuracy(const struct mb_eval_acc *a)
{
	return mb_eval_accuracy(a->correct, a->rows);
}

/* Zero the sums. */
void mb_eval_acc_reset(struct mb_eval_acc *a)
{
	a->cost_sum = 0.0;
	a->rows = 0;
	a->correct = 0;
}

/* correct / rows. */
double mb_eval_accuracy(uint64_t correct, uint64_t rows)
{
	return rows ? (double)correct / (double)rows : NAN;
}

/* Add a batch scored before learning to both the total and the window. */
void mb_progval_add(struct mb_progval *pv, double mean_cost, uint64_t rows, uint64_t correct)
{
	mb_eval_acc_add(&pv->total, mean_cost, rows, correct);
	mb_eval_acc_add(&pv->window, mean_cost, rows, correct);
}

/* Hand out the window's sums and start a new one. */
void mb_progval_window_reset(struct mb_progval *pv, struct mb_eval_acc *ret)
{
	*ret = pv->window;
	mb_eval_acc_reset(&pv->window);
}

/* Start a holdout of every k-th sample. */
void mb_holdout_init(struct mb_holdout *h, uint32_t every)
{
	h->every = every;
	h->seen = 0;
	h->taken = 0;
	mb_eval_acc_reset(&h->acc);
}

/* Is the next sample the k-th? */
bool mb_holdout_take(struct mb_holdout *h)
{
	h->seen++;
	if (!h->every || h->seen % h->every)
		return false;
	h->taken++;
	return true;
}

/* Add held-out scores. */
void mb_holdout_add(struct mb_holdout *h, double mean_cost, uint64_t rows, uint64_t correct)
{
	mb_eval_acc_add(&h->acc, mean_cost, rows, correct);
}
