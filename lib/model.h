/* SPDX-License-Identifier: MIT */
/*
 * model.h - models trained by mini-batch gradient descent.
 *
 * Every model is a stack of dense layers ending in an output head (linear,
 * logistic or softmax); linear, logistic and softmax regression are the
 * stacks with no hidden layer. Each kind fills one const struct
 * mb_model_ops (model_linear.c, model_logistic.c, model_softmax.c,
 * model_mlp.c); model.c holds the shared layer code and checks the ops at
 * creation.
 *
 * All parameters live in one contiguous float buffer, in snapshot order
 * (proto/mb_proto.h): for each layer W (out x in, row-major) then b.
 * Work buffers are sized for cfg.max_batch rows at creation: a batch never
 * allocates. A model and its scratch belong to one thread.
 *
 * Targets: softmax takes one value per row, the class index; logistic one
 * value in [0, 1]; linear n_outputs values. Costs and gradients are means
 * over the batch, weighted by w when w is not NULL (sum w_i l_i / sum w_i).
 */
#ifndef MB_MODEL_H
#define MB_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mb_proto.h"
#include "snapshot.h"

struct mb_model_cfg {
	enum mb_model_kind kind;             /* LINEAR, LOGISTIC, SOFTMAX or MLP */
	enum mb_model_kind output;           /* MLP only: its head (LINEAR, LOGISTIC or SOFTMAX) */
	uint32_t n_inputs;                   /* features */
	uint32_t n_outputs;                  /* classes (softmax), 1 (logistic), targets (linear) */
	uint32_t n_hidden;                   /* hidden layers (MLP only), < MB_MAX_LAYERS */
	uint32_t hidden[MB_MAX_LAYERS - 1];  /* their widths */
	enum mb_act hidden_act;              /* RELU, TANH or SIGMOID */
	uint32_t max_batch;                  /* most rows one call will see */
	uint64_t seed;                       /* initialisation seed */
};

struct mb_model;

/*
 * Create a model with seeded initialisation (He for relu, Xavier otherwise).
 * -EINVAL on a bad cfg, -E2BIG when its parameters would not fit a
 * snapshot, -ENOMEM; *ret untouched on failure.
 */
int mb_model_new(const struct mb_model_cfg *cfg, struct mb_model **ret);

/*
 * Check a cfg without building it: 0, or the error mb_model_new would
 * return (-EINVAL, -E2BIG) with a constant sentence saying why in *why.
 */
int mb_model_cfg_check(const struct mb_model_cfg *cfg, const char **why);

/* Free a model; NULL is fine. Returns NULL. */
struct mb_model *mb_model_free(struct mb_model *m);

const struct mb_model_cfg *mb_model_cfg(const struct mb_model *m);
size_t mb_model_n_params(const struct mb_model *m);
uint32_t mb_model_n_targets(const struct mb_model *m);
bool mb_model_is_classifier(const struct mb_model *m);

/* The parameter buffer, in snapshot order. */
float *mb_model_params(struct mb_model *m);

/* Fill the shape fields of a snapshot (kind, layers, sizes, act, n_params). */
void mb_model_describe(const struct mb_model *m, struct mb_snap_info *info);

/* Build a model whose shape and parameters come from a decoded snapshot. */
int mb_model_from_snap(const struct mb_snap_info *info, const uint8_t *params, uint32_t max_batch,
		       struct mb_model **ret);

/* Forward pass over X (rows x n_inputs, rows <= max_batch); the output stays in the model. */
int mb_model_forward(struct mb_model *m, const float *X, uint32_t rows);

/* After forward: rows x n_outputs outputs (probabilities, or values for linear). */
const float *mb_model_output(const struct mb_model *m);

/*
 * After forward: the mean cost over the rows against Y (weights w or NULL);
 * for classifiers *ret_correct (if not NULL) counts rows predicted right.
 * Returns NaN or infinity when the cost is not finite.
 */
double mb_model_cost(struct mb_model *m, const float *Y, const float *w, uint32_t rows,
		     uint32_t *ret_correct);

/*
 * After forward on the same X: backward pass; dst = beta * dst + alpha * grad,
 * grad being the gradient of the mean cost in snapshot order. With dst the
 * gradient buffer, alpha 1 and beta 0 it is a plain gradient; with dst the
 * parameters, alpha -lr and beta 1 it is a fused SGD step. Returns -EDOM,
 * leaving dst untouched, if a non-finite value appears in the backward pass.
 */
int mb_model_backward(struct mb_model *m, const float *X, const float *Y, const float *w, uint32_t rows,
		      float alpha, float beta, float *dst);

/* Predicted class per row after forward (argmax, or output > 0.5 for logistic). */
void mb_model_argmax(const struct mb_model *m, uint32_t rows, uint32_t *ret_class);

/* The ops table each model kind fills; checked by mb_model_new. */
struct mb_model_ops {
	const char *name;                 /* "linear", "logistic", "softmax", "mlp" */
	enum mb_model_kind kind;
	/* Validate a configuration for this kind; -EINVAL with the reason in why. */
	int (*check)(const struct mb_model_cfg *cfg, const char **why);
	/* The head: output activation of the last layer, applied in place to Z. */
	enum mb_act (*head)(const struct mb_model_cfg *cfg);
};

const struct mb_model_ops *mb_model_ops_find(enum mb_model_kind kind);
const struct mb_model_ops *mb_model_ops_by_name(const char *name);

#endif /* MB_MODEL_H */
