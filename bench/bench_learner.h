/* SPDX-License-Identifier: MIT */
/*
 * bench_learner.h - the Fashion-MNIST learners the training benches build.
 *
 * train_bench and batch_curve measure the same models (softmax 784-10 and
 * the MLP 784-128-10 relu) with the same optimizer settings, so both build
 * them here and their figures stay comparable.
 */
#ifndef MB_BENCH_LEARNER_H
#define MB_BENCH_LEARNER_H

#include <stdint.h>

#include "learner.h"

#define BENCH_HIDDEN 128u /* width of the MLP's hidden layer */

/* What to build: names as on the benches' command lines. */
struct bench_learner_cfg {
	const char *model;     /* "softmax" or "mlp" */
	const char *optim;     /* an mb_optim_kind_parse name */
	const char *sched;     /* an mb_sched_kind_parse name */
	float lr;              /* base learning rate */
	uint32_t n_features;   /* inputs */
	uint32_t rows;         /* batch size (the model's max_batch) */
	uint64_t total_steps;  /* steps of the whole run: decaying schedules span them */
	uint64_t seed;         /* initialisation seed */
};

/*
 * Build the learner; 0, or -EINVAL for an unknown model, optimizer or
 * schedule (*why names which), or the -errno of the library.
 */
int bench_learner_new(const struct bench_learner_cfg *cfg, struct mb_learner **ret, const char **why);

#endif /* MB_BENCH_LEARNER_H */
