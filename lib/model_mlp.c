/* SPDX-License-Identifier: MIT */
/*
 * model_mlp.c - multi-layer perceptron: hidden dense layers with one
 * activation (relu, tanh or sigmoid), then a linear, logistic or softmax
 * head whose loss it takes over.
 */
#include <errno.h>

#include "model_priv.h"

/* The head activation of the kind named by cfg->output, or IDENTITY when it names none. */
static enum mb_act head_of(enum mb_model_kind output, bool *ok)
{
	*ok = true;
	switch (output) {
	case MB_MODEL_LINEAR:
		return MB_ACT_IDENTITY;
	case MB_MODEL_LOGISTIC:
		return MB_ACT_SIGMOID;
	case MB_MODEL_SOFTMAX:
		return MB_ACT_SOFTMAX;
	default:
		*ok = false;
		return MB_ACT_IDENTITY;
	}
}

static int mlp_check(const struct mb_model_cfg *cfg, const char **why)
{
	bool ok;
	enum mb_act head = head_of(cfg->output, &ok);

	if (cfg->n_hidden < 1) {
		*why = "an mlp needs at least one hidden layer";
		return -EINVAL;
	}
	if (cfg->n_hidden >= MB_MAX_LAYERS) {
		*why = "too many hidden layers (at most MB_MAX_LAYERS - 1)";
		return -EINVAL;
	}
	for (uint32_t i = 0; i < cfg->n_hidden; i++)
		if (cfg->hidden[i] < 1 || cfg->hidden[i] > MB_MAX_FEATURES) {
			*why = "a hidden layer width is 0 or over MB_MAX_FEATURES";
			return -EINVAL;
		}
	if (cfg->hidden_act != MB_ACT_RELU && cfg->hidden_act != MB_ACT_TANH &&
	    cfg->hidden_act != MB_ACT_SIGMOID) {
		*why = "hidden activation must be relu, tanh or sigmoid";
		return -EINVAL;
	}
	if (!ok) {
		*why = "an mlp head must be linear, logistic or softmax";
		return -EINVAL;
	}
	return mb_model_check_outputs(cfg->n_outputs, head, why);
}

static enum mb_act mlp_head(const struct mb_model_cfg *cfg)
{
	bool ok;
	return head_of(cfg->output, &ok);
}

const struct mb_model_ops mb_model_mlp_ops = {
	.name = "mlp",
	.kind = MB_MODEL_MLP,
	.check = mlp_check,
	.head = mlp_head,
};
