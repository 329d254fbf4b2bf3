/* SPDX-License-Identifier: MIT */
/* model_logistic.c - logistic regression: one layer, sigmoid head, binary cross-entropy. */
#include <errno.h>

#include "model_priv.h"

static int logistic_check(const struct mb_model_cfg *cfg, const char **why)
{
	if (cfg->n_hidden) {
		*why = "logistic regression has no hidden layers (use the mlp kind)";
		return -EINVAL;
	}
	return mb_model_check_outputs(cfg->n_outputs, MB_ACT_SIGMOID, why);
}

static enum mb_act logistic_head(const struct mb_model_cfg *cfg)
{
	(void)cfg;
	return MB_ACT_SIGMOID;
}

const struct mb_model_ops mb_model_logistic_ops = {
	.name = "logistic",
	.kind = MB_MODEL_LOGISTIC,
	.check = logistic_check,
	.head = logistic_head,
};
