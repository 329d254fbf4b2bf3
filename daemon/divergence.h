/* SPDX-License-Identifier: MIT */
/*
 * divergence.h - the divergence guard's decision: keep going, keep a
 * copy, or roll back.
 *
 * The learner already refuses a step whose cost or gradient is not
 * finite, but a model can go wrong without a single NaN: a burst of
 * absurd input, or a learning rate too high for the data, makes the cost
 * leap and the parameters wander off. The trainer asks this guard after
 * every step. A progressive cost that is not finite, or (after a warm-up)
 * more than factor times the guard's moving average of sane costs, means
 * "roll back": the trainer restores the last good copy of the parameters
 * and optimizer state and lowers the learning rate. Every so many sane
 * batches the guard says "save" so that copy stays recent.
 *
 * Plain arithmetic on one struct, no allocation, no clock: the trainer
 * owns the copies, this file only decides, so the decisions are tested
 * with hand-made cost sequences.
 */
#ifndef MB_DAEMON_DIVERGENCE_H
#define MB_DAEMON_DIVERGENCE_H

#include <stdbool.h>
#include <stdint.h>

#include "eval.h"

#define MB_DIVERGENCE_HALF_LIFE 16.0 /* batches: the memory of the guard's cost average */

/* The guard's settings ([guard] in the configuration). */
struct mb_divergence_cfg {
	bool enabled;        /* false: every verdict is MB_DIVERGENCE_OK, no copies are kept */
	double factor;       /* a cost above factor times the average is a divergence; > 1 */
	uint32_t warmup;     /* sane batches before the factor test applies (non-finite counts at once) */
	uint32_t every;      /* sane batches between two copies of the good state; >= 1 */
	double lr_factor;    /* the learning rate is multiplied by this at each rollback that follows a
	                      * sane step (once per burst of diverging batches); in (0, 1] */
};

/* What the trainer should do after a step. */
enum mb_divergence_verdict {
	MB_DIVERGENCE_OK = 0,   /* carry on */
	MB_DIVERGENCE_SAVE,     /* carry on, and copy the state now: it is sane */
	MB_DIVERGENCE_ROLLBACK, /* restore the last copy and lower the learning rate */
};

/* Why a rollback was asked for. */
enum mb_divergence_cause {
	MB_DIVERGENCE_NONE = 0,  /* no rollback */
	MB_DIVERGENCE_NONFINITE, /* the cost was NaN or infinite */
	MB_DIVERGENCE_JUMP,      /* the cost was over factor times the average */
};

/* The guard's state. Zero it with mb_divergence_init. */
struct mb_divergence {
	struct mb_divergence_cfg cfg; /* as given */
	struct mb_ewma average;       /* moving average of the sane costs, per batch */
	uint64_t sane;                /* sane batches seen since init (or the last restart) */
	uint32_t since_save;          /* sane batches since the last SAVE verdict or restart */
	enum mb_divergence_cause cause; /* why the last verdict was ROLLBACK */
	double last_average;          /* the average the last verdict compared with; NaN before any */
};

/* Defaults: enabled, factor 10, warm-up 50, a copy every 100 batches, lr halved. */
void mb_divergence_cfg_default(struct mb_divergence_cfg *cfg);

/*
 * Check cfg: 0, or -EINVAL when factor <= 1, every is 0, or lr_factor is
 * outside (0, 1] (none of them finite counts as outside).
 */
int mb_divergence_cfg_check(const struct mb_divergence_cfg *cfg);

/* Start guarding with cfg (checked by the caller): no average, no sane batch yet. */
void mb_divergence_init(struct mb_divergence *d, const struct mb_divergence_cfg *cfg);

/*
 * Forget the costs seen, keeping cfg: after a reset or a restore, when
 * the trainer has just copied a new good state. The warm-up starts over.
 */
void mb_divergence_restart(struct mb_divergence *d);

/*
 * Judge the progressive cost of the step just taken. A non-finite cost,
 * or one above factor times the average once warmup sane batches were
 * seen, is ROLLBACK (d->cause says which; the cost does not enter the
 * average). Otherwise the cost enters the average and the verdict is
 * SAVE every cfg.every sane batches, else OK. Always OK when disabled.
 */
enum mb_divergence_verdict mb_divergence_judge(struct mb_divergence *d, double cost);

/* "nonfinite", "jump" or "none": for a log line. */
const char *mb_divergence_cause_name(enum mb_divergence_cause c);

#endif /* MB_DAEMON_DIVERGENCE_H */
