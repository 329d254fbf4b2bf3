/* SPDX-License-Identifier: MIT */
/*
 * trainer.h - the thread that learns: batches in, parameters out.
 *
 * The trainer owns the model, the optimizer and the learner. It sleeps on
 * the ingest doorbell, takes batches round-robin from every source's feed,
 * takes one optimizer step per batch, recycles the batch, and hands a copy
 * of the parameters to the publisher every so many batches or
 * milliseconds. The model is created when the sample shape is agreed, so
 * its input width can come from the first valid sample.
 *
 * Its figures are atomics any thread may read (control, status lines).
 *
 * Checkpoints (daemon/checkpoint_state.h) are written by this thread
 * between two steps, every so many batches or milliseconds, on a "save"
 * command and when run() ends; mb_trainer_restore() continues from one
 * before run() starts. The model version goes up by one per step and per
 * "reset", and carries on across restarts.
 *
 * The divergence guard (daemon/divergence.h) judges every step: when the
 * cost diverges the trainer restores the last good copy of the parameters
 * and optimizer state, lowers the learning rate, logs it and counts it
 * (the version moves on, as for a reset).
 */
#ifndef MB_DAEMON_TRAINER_H
#define MB_DAEMON_TRAINER_H

#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "checkpoint_state.h"
#include "checkpoint_store.h"
#include "divergence.h"
#include "handover.h"
#include "ingest.h"
#include "model.h"
#include "optim.h"

struct mb_trainer_cfg {
	struct mb_model_cfg model;       /* n_inputs 0: the agreed shape's; max_batch: batch size */
	struct mb_optim_cfg optim;       /* the optimizer */
	struct mb_ingest *ing;           /* where batches come from */
	unsigned n_sources;              /* source indices 0..n_sources-1 have feeds */
	struct mb_handover *handover;    /* where snapshots go */
	uint32_t publish_every_batches;  /* 0: not by count */
	uint32_t publish_every_ms;       /* 0: not by time */
	struct mb_ckpt_store *store;     /* where checkpoints go (not owned); NULL: none */
	uint32_t checkpoint_every_batches; /* 0: not by count */
	uint32_t checkpoint_every_ms;    /* 0: not by time */
	bool checkpoint_on_exit;         /* write one when run() ends */
	const struct mb_ckpt_source_ref *sources; /* n_sources entries (not owned): names, counters, positions */
	const char *config_text;         /* the CONFIG section; NULL: none */
	struct mb_divergence_cfg guard;  /* the divergence guard; all zero: the guard is off */
	uint32_t holdout_every;          /* every k-th sample scored, never learned (k >= 2); 0: no holdout */
};

/* Buckets of the batch-wait histogram: mb_trainer_wait_bounds_s upper bounds, then one for longer waits. */
#define MB_TRAINER_WAIT_BUCKETS 12u

/* Upper bounds of the batch-wait buckets in seconds, ascending. */
extern const double mb_trainer_wait_bounds_s[MB_TRAINER_WAIT_BUCKETS];

/* Figures of the trainer: written by its thread only, relaxed, read by anyone. */
struct mb_trainer_stats {
	_Atomic uint64_t samples;       /* rows learned from */
	_Atomic uint64_t batches;       /* optimizer steps taken (the model version) */
	_Atomic uint64_t skipped;       /* steps the guard refused (non-finite cost or gradient) */
	_Atomic uint64_t published;     /* snapshots handed to the publisher */
	_Atomic uint64_t heartbeat;     /* +1 per loop: a step, or an idle wake-up */
	_Atomic double cost;            /* moving average of the progressive cost; NaN before any */
	_Atomic double accuracy;        /* the same of the progressive accuracy; NaN if not a classifier */
	_Atomic double samples_per_s;   /* rows learned per second over the last second or so */
	_Atomic bool has_model;         /* the model exists (the shape is agreed) */
	_Atomic double last_cost;       /* progressive cost of the last batch; NaN before any */
	_Atomic uint32_t last_rows;     /* rows of the last batch trained */
	_Atomic double lr;              /* learning rate of the next step, schedule applied */
	_Atomic int64_t published_ns;   /* CLOCK_MONOTONIC of the last snapshot handed over; 0: none yet */
	_Atomic uint64_t wait_counts[MB_TRAINER_WAIT_BUCKETS + 1]; /* batches by time from first row to step */
	_Atomic uint64_t wait_sum_ns;   /* the sum of those times */
	_Atomic uint64_t version;       /* model version: +1 per step and per reset, continued from a checkpoint */
	_Atomic uint64_t checkpoints;   /* checkpoints written */
	_Atomic uint64_t checkpoint_failures; /* checkpoints that could not be written */
	_Atomic uint64_t checkpoint_version;  /* model version of the newest checkpoint written or loaded; 0: none */
	_Atomic int64_t checkpoint_ns;  /* CLOCK_MONOTONIC when the last checkpoint was written; 0: none yet */
	_Atomic uint64_t checkpoint_duration_ns; /* how long the last written checkpoint took, encoding included */
	_Atomic uint64_t rollbacks;     /* times the divergence guard restored the last good state */
	_Atomic uint64_t held_out;      /* samples the holdout kept out of training */
	_Atomic uint64_t holdout_rows;  /* of them, scored (rows of a non-finite score are not) */
	_Atomic double holdout_cost;    /* mean cost over every held-out row scored; NaN before any */
	_Atomic double holdout_accuracy; /* their accuracy; NaN before any or for a regression */
	_Atomic double holdout_cost_average;     /* moving average of the held-out cost; NaN before any */
	_Atomic double holdout_accuracy_average; /* the same of the held-out accuracy */
};

/* What the control socket may ask of the trainer thread. */
enum mb_trainer_cmd {
	MB_TRAINER_SAVE = 1, /* write a checkpoint now */
	MB_TRAINER_RESET,    /* start the model and optimizer afresh (the version moves on) */
};

/* How a command went. */
struct mb_trainer_reply {
	int result;           /* 0, or -errno */
	uint64_t version;     /* model version afterwards */
	char path[PATH_MAX];  /* SAVE: the checkpoint written */
	char error[320];      /* on failure: a sentence for the requester */
};

/* What a reload may change while the trainer runs. */
struct mb_trainer_live {
	struct mb_optim_cfg optim;       /* the optimizer; its kind must stay the same */
	uint32_t publish_every_batches;  /* 0: not by count */
	uint32_t publish_every_ms;       /* 0: not by time */
};

struct mb_trainer;

/* Check cfg and create the trainer (not yet the model). 0 and *ret, or -EINVAL / -ENOMEM. */
int mb_trainer_new(const struct mb_trainer_cfg *cfg, struct mb_trainer **ret);

/* Free the trainer, its model and optimizer; its thread must have returned. NULL is fine. */
struct mb_trainer *mb_trainer_free(struct mb_trainer *t);

/*
 * The thread body: learn until mb_trainer_finish() was called and every
 * queue is empty, then hand over a final snapshot. 0, or -errno when the
 * model could not be created.
 */
int mb_trainer_run(struct mb_trainer *t);

/* Tell run() to drain the queues and return; call once no source runs any more. */
void mb_trainer_finish(struct mb_trainer *t);

/* Ask for a snapshot now (control "snapshot"); -EAGAIN while there is no model yet. */
int mb_trainer_request_snapshot(struct mb_trainer *t);

/*
 * Have the trainer thread apply live between two steps, and wait up to
 * timeout_ms for it to do so. 0; -EINVAL when the optimizer refuses the
 * settings; -ETIMEDOUT when the trainer did not get to them in time, or
 * -ESHUTDOWN when it has stopped; -EBUSY while another call is under way
 * (the reload serialises them). On any error nothing changed.
 */
int mb_trainer_reconfigure(struct mb_trainer *t, const struct mb_trainer_live *live, int timeout_ms);

/*
 * Before run() starts: continue from a decoded checkpoint. Builds the
 * model (its input width from the checkpoint when the configuration
 * leaves it open, agreeing the ingest shape), then takes its parameters,
 * the optimizer state (a state of another kind is logged and left
 * behind), the counters, the model version and the generator. 0; -EINVAL
 * when the checkpoint's model has another shape than the configuration
 * makes, with both shapes in why; -EALREADY with a model already there;
 * -ENOMEM.
 */
int mb_trainer_restore(struct mb_trainer *t, const struct mb_ckpt_state *st, char *why, size_t cap);

/*
 * Have the trainer thread carry out cmd between two steps and wait up to
 * timeout_ms for it; *ret gets the outcome (also on failure). 0, or
 * -errno: -EAGAIN no model yet, -ENOTSUP (SAVE) checkpoints are off,
 * -ETIMEDOUT the trainer did not take the command in time (it then never
 * will), -ESHUTDOWN it has stopped, -EBUSY another command is under way,
 * or what the command failed with.
 */
int mb_trainer_request(struct mb_trainer *t, enum mb_trainer_cmd cmd, int timeout_ms,
		       struct mb_trainer_reply *ret);

/* True when every feed is empty (nothing queued for the trainer). */
bool mb_trainer_queues_empty(struct mb_trainer *t);

/* The figures. */
const struct mb_trainer_stats *mb_trainer_stats(const struct mb_trainer *t);

#endif /* MB_DAEMON_TRAINER_H */
