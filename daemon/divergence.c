/* SPDX-License-Identifier: MIT */
/*
 * divergence.c - the divergence guard's decision (see divergence.h).
 *
 * The average is over batches, not rows, so one huge batch weighs as
 * much as a small one: the guard compares batches. Only sane costs enter
 * it: a rolled-back batch never learned anything, and letting its cost in
 * would raise the bar and let the next bad batch through.
 */
#include <errno.h>
#include <math.h>

#include "divergence.h"

/* Defaults (see divergence.h). */
void mb_divergence_cfg_default(struct mb_divergence_cfg *cfg)
{
	*cfg = (struct mb_divergence_cfg){
		.enabled = true,
		.factor = 10.0,
		.warmup = 50,
		.every = 100,
		.lr_factor = 0.5,
	};
}

/* Check the settings (see divergence.h). */
int mb_divergence_cfg_check(const struct mb_divergence_cfg *cfg)
{
	/* Written so that NaN fails every test. */
	if (!(cfg->factor > 1.0) || !isfinite(cfg->factor) || cfg->every == 0 ||
	    !(cfg->lr_factor > 0.0 && cfg->lr_factor <= 1.0))
		return -EINVAL;
	return 0;
}

/* Start guarding (see divergence.h). */
void mb_divergence_init(struct mb_divergence *d, const struct mb_divergence_cfg *cfg)
{
	d->cfg = *cfg;
	mb_ewma_init_half_life(&d->average, MB_DIVERGENCE_HALF_LIFE);
	mb_divergence_restart(d);
}

/* Forget the costs seen (see divergence.h). */
void mb_divergence_restart(struct mb_divergence *d)
{
	mb_ewma_reset(&d->average);
	d->sane = 0;
	d->since_save = 0;
	d->cause = MB_DIVERGENCE_NONE;
	d->last_average = NAN;
}

/* Judge one step's progressive cost (see divergence.h). */
enum mb_divergence_verdict mb_divergence_judge(struct mb_divergence *d, double cost)
{
	if (!d->cfg.enabled)
		return MB_DIVERGENCE_OK;
	double avg = mb_ewma_value(&d->average);
	d->last_average = avg;
	d->cause = MB_DIVERGENCE_NONE;
	if (!isfinite(cost)) {
		d->cause = MB_DIVERGENCE_NONFINITE;
		return MB_DIVERGENCE_ROLLBACK;
	}
	if (d->sane >= d->cfg.warmup && d->average.primed && cost > d->cfg.factor * avg) {
		d->cause = MB_DIVERGENCE_JUMP;
		return MB_DIVERGENCE_ROLLBACK;
	}
	mb_ewma_add(&d->average, cost);
	d->sane++;
	if (++d->since_save >= d->cfg.every) {
		d->since_save = 0;
		return MB_DIVERGENCE_SAVE;
	}
	return MB_DIVERGENCE_OK;
}

/* A word for the cause (see divergence.h). */
const char *mb_divergence_cause_name(enum mb_divergence_cause c)
{
	switch (c) {
	case MB_DIVERGENCE_NONFINITE:
		return "nonfinite";
	case MB_DIVERGENCE_JUMP:
		return "jump";
	default:
		return "none";
	}
}
