/* SPDX-License-Identifier: MIT */
/* model_linear.c - linear regression: one layer, identity head, squared error. */
#include <errno.h>

#include "model_priv.h"

static int linear_check(const struct mb_model_cfg *cfg, const char **why)
{
	if (cfg->n_hidden) {
		*why = "linear regression has no hidden layers (use the mlp kind)";
		return -EINVAL;
	}
	return mb_model_check_outputs(cfg->n_outputs, MB_ACT_IDENTITY, why);
}

static enum mb_act linear_head(const struct mb_model_cfg *cfg)
{
	(void)cfg;
	return MB_ACT_IDENTITY;
}

const struct mb_model_ops mb_model_linear_ops = {
	.name = "linear",
	.kind = MB_MODEL_LINEAR,
	.check = linear_check,
	.head = linear_head,
};
