/* SPDX-License-Identifier: MIT */
/*
 * optim.h - optimizers and learning-rate schedules.
 *
 * One step takes the mean gradient of a batch and moves the parameters:
 * weight decay (L2, g += wd * p, applied to every parameter, biases
 * included), then clipping of the gradient's global L2 norm,
 * then the rule (SGD, momentum, Nesterov, Adam, AdaGrad) at the learning
 * rate the schedule gives for this step. The state (step count, moments)
 * serialises for checkpoints.
 */
#ifndef MB_OPTIM_H
#define MB_OPTIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum mb_optim_kind { MB_OPT_SGD = 1, MB_OPT_MOMENTUM, MB_OPT_NESTEROV, MB_OPT_ADAM, MB_OPT_ADAGRAD };

enum mb_sched_kind {
	MB_SCHED_CONSTANT = 1, /* lr */
	MB_SCHED_INVTIME,      /* lr / (1 + decay * t) */
	MB_SCHED_INVSQRT,      /* lr / sqrt(1 + decay * t) */
	MB_SCHED_STEP,         /* lr * gamma^floor(t / step_every) */
	MB_SCHED_COSINE,       /* lr_min + (lr - lr_min) (1 + cos(pi min(t, T) / T)) / 2 */
};

struct mb_optim_cfg {
	enum mb_optim_kind kind;
	float lr;              /* base learning rate */
	float momentum;        /* MOMENTUM, NESTEROV */
	float beta1, beta2;    /* ADAM */
	float eps;             /* ADAM, ADAGRAD */
	float weight_decay;    /* L2 coefficient, 0 for none */
	float clip_norm;       /* clip the gradient's L2 norm to this, 0 for none */
	enum mb_sched_kind sched;
	float decay;           /* INVTIME, INVSQRT */
	uint64_t step_every;   /* STEP */
	float gamma;           /* STEP */
	uint64_t cosine_steps; /* COSINE: T */
	float lr_min;          /* COSINE */
};

struct mb_optim;

/* Defaults: SGD, lr 0.1, constant, momentum 0.9, Adam 0.9/0.999/1e-8. */
void mb_optim_cfg_default(struct mb_optim_cfg *cfg);

int mb_optim_new(const struct mb_optim_cfg *cfg, size_t n_params, struct mb_optim **ret);
struct mb_optim *mb_optim_free(struct mb_optim *o);

/* Change the configuration live (reload); the kind may not change (-EINVAL). */
int mb_optim_reconfigure(struct mb_optim *o, const struct mb_optim_cfg *cfg);

/* The learning rate the next step will use. */
float mb_optim_lr(const struct mb_optim *o);
uint64_t mb_optim_steps(const struct mb_optim *o);

/* The parameter count the optimizer was created for. */
size_t mb_optim_n_params(const struct mb_optim *o);

/* True when a step is plain SGD with no decay or clipping, so the model may fuse it. */
bool mb_optim_is_plain_sgd(const struct mb_optim *o);

/* Count a step taken outside mb_optim_step (the fused SGD path). */
void mb_optim_count_step(struct mb_optim *o);

/*
 * One step: params -= update(grads). grads may be modified (decay, clipping).
 * Returns -EDOM, leaving params untouched, if grads hold a non-finite value.
 */
int mb_optim_step(struct mb_optim *o, float *params, float *grads);

/* Serialise the state (little-endian, versioned); size first, then save. */
size_t mb_optim_state_size(const struct mb_optim *o);
long mb_optim_state_save(const struct mb_optim *o, void *buf, size_t cap);
int mb_optim_state_load(struct mb_optim *o, const void *buf, size_t len);

/* Parse names ("sgd", "adam", "cosine", ...); -EINVAL if unknown. */
int mb_optim_kind_parse(const char *s, enum mb_optim_kind *ret);
int mb_sched_kind_parse(const char *s, enum mb_sched_kind *ret);
const char *mb_optim_kind_name(enum mb_optim_kind k);
const char *mb_sched_kind_name(enum mb_sched_kind k);

#endif /* MB_OPTIM_H */
