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
 */
#ifndef MB_DAEMON_TRAINER_H
#define MB_DAEMON_TRAINER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

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
};

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

/* True when every feed is empty (nothing queued for the trainer). */
bool mb_trainer_queues_empty(struct mb_trainer *t);

/* The figures. */
const struct mb_trainer_stats *mb_trainer_stats(const struct mb_trainer *t);

#endif /* MB_DAEMON_TRAINER_H */
