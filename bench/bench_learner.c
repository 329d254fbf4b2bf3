/* SPDX-License-Identifier: MIT */
/* bench_learner.c - the learners of the training benches (see bench_learner.h). */
#include <errno.h>
#include <string.h>

#include "bench_learner.h"

/* The model, optimizer and learner of cfg, or -errno with *why. */
int bench_learner_new(const struct bench_learner_cfg *cfg, struct mb_learner **ret, const char **why)
{
	struct mb_model_cfg mc = {
		.n_inputs = cfg->n_features,
		.n_outputs = 10,
		.max_batch = cfg->rows,
		.seed = cfg->seed,
	};
	if (strcmp(cfg->model, "softmax") == 0) {
		mc.kind = MB_MODEL_SOFTMAX;
	} else if (strcmp(cfg->model, "mlp") == 0) {
		mc.kind = MB_MODEL_MLP;
		mc.output = MB_MODEL_SOFTMAX;
		mc.n_hidden = 1;
		mc.hidden[0] = BENCH_HIDDEN;
		mc.hidden_act = MB_ACT_RELU;
	} else {
		*why = "unknown model";
		return -EINVAL;
	}
	struct mb_optim_cfg oc;
	mb_optim_cfg_default(&oc);
	oc.lr = cfg->lr;
	if (mb_optim_kind_parse(cfg->optim, &oc.kind) < 0 || mb_sched_kind_parse(cfg->sched, &oc.sched) < 0) {
		*why = "unknown optimizer or schedule";
		return -EINVAL;
	}
	/* Decaying schedules span the whole run. */
	oc.cosine_steps = cfg->total_steps;
	oc.step_every = cfg->total_steps / 4 ? cfg->total_steps / 4 : 1;
	oc.decay = 10.0f / (float)cfg->total_steps;

	struct mb_model *m = NULL;
	struct mb_optim *o = NULL;
	int r;
	*why = "building the learner";
	if ((r = mb_model_new(&mc, &m)) < 0)
		return r;
	if ((r = mb_optim_new(&oc, mb_model_n_params(m), &o)) < 0)
		goto out_model;
	if ((r = mb_learner_new(m, o, ret)) < 0)
		goto out_optim;
	return 0;
out_optim:
	mb_optim_free(o);
out_model:
	mb_model_free(m);
	return r;
}
