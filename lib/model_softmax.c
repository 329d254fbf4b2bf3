/* SPDX-License-Identifier: MIT */
/* model_softmax.c - softmax regression: one layer, softmax head, multi-class cross-entropy. */
#include <errno.h>

#include "model_priv.h"

static int softmax_check(const struct mb_model_cfg *cfg, const char **why)
{
	if (cfg->n_hidden) {
		*why = "softmax regression has no hidden layers (use the mlp kind)";
		return -EINVAL;
	}
	return mb_model_check_outputs(cfg->n_outputs, MB_ACT_SOFTMAX, why);
}

static enum mb_act softmax_head(const struct mb_model_cfg *cfg)
{
	(void)cfg;
	return MB_ACT_SOFTMAX;
}

const struct mb_model_ops mb_model_softmax_ops = {
	.name = "softmax",
	.kind = MB_MODEL_SOFTMAX,
	.check = softmax_check,
	.head = softmax_head,
};
