/* SPDX-License-Identifier: MIT */
/*
 * model_priv.h - what the model kinds and the learner share, never installed.
 *
 * A model is n_layers dense layers. Layer l maps in -> out: Z = A W^T + b,
 * then its activation. Hidden layers keep only their activations (the
 * derivative of relu, tanh and sigmoid follows from the output alone);
 * the head keeps its logits as well, so the cost comes from the
 * log-sum-exp and the logit of the target, never from log(p).
 */
#ifndef MB_MODEL_PRIV_H
#define MB_MODEL_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

/* One dense layer: its place in the parameter buffer and its scratch. */
struct mb_layer {
	uint32_t n_in;   /* inputs (columns of W) */
	uint32_t n_out;  /* outputs (rows of W) */
	enum mb_act act; /* activation of the output */
	float *W;        /* n_out x n_in weights, row-major, inside the parameter buffer */
	float *b;        /* n_out biases, right after W */
	size_t off;      /* offset of W in the parameter buffer, in floats */
	float *A;        /* max_batch x n_out activations (the head: its output) */
	float *D;        /* max_batch x n_out deltas: d cost / d Z of the last backward pass */
	float *db;       /* n_out bias gradient of the last backward pass (before alpha) */
};

/* A model: its shape, its parameters and the scratch of one thread. */
struct mb_model {
	struct mb_model_cfg cfg;         /* the configuration it was built from */
	const struct mb_model_ops *ops;  /* its kind's table */
	enum mb_act head;                /* activation of the last layer, which picks the loss */
	uint32_t n_layers;               /* weight layers, 1..MB_MAX_LAYERS */
	struct mb_layer layer[MB_MAX_LAYERS]; /* the layers, input first */
	size_t n_params;                 /* floats in params */
	float *params;                   /* every W and b in snapshot order */
	float *Z;                        /* max_batch x n_outputs logits of the head (the output itself for identity) */
	float *row_max;                  /* max_batch: softmax max logit per row */
	float *row_sum;                  /* max_batch: softmax sum of exp(z - max) per row */
	uint32_t *row_class;             /* max_batch: predicted class per row */
	uint32_t rows;                   /* rows of the last forward pass, 0 before any */
	void *scratch;                   /* the one allocation behind A, D, db, Z and the row arrays */
};

/* The tables of the four kinds, one per file. */
extern const struct mb_model_ops mb_model_linear_ops;
extern const struct mb_model_ops mb_model_logistic_ops;
extern const struct mb_model_ops mb_model_softmax_ops;
extern const struct mb_model_ops mb_model_mlp_ops;

/*
 * The output count a head allows: 1..MB_MAX_TARGETS for identity (linear),
 * exactly 1 for sigmoid (logistic), 2..MB_MAX_CLASSES for softmax. 0, or
 * -EINVAL with *why set. Each kind's check calls it for its head.
 */
int mb_model_check_outputs(uint32_t n_outputs, enum mb_act head, const char **why);

/*
 * Whether Y (and w) suit the model: class indices in range for softmax,
 * values in [0, 1] for logistic, weights >= 0 with a positive sum. 0 or
 * -EINVAL. The learner asks when a cost came out NaN, to tell bad labels
 * from a numeric blow-up.
 */
int mb_model_check_targets(const struct mb_model *m, const float *Y, const float *w, uint32_t rows);

#endif /* MB_MODEL_PRIV_H */
