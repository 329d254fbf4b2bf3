/* SPDX-License-Identifier: MIT */
/*
 * ingest.h - what the ingest threads and the trainer share.
 *
 * The shape of a sample (features, targets) is fixed by the configuration
 * or, when that leaves it open, by the first valid sample any source sees;
 * from then on every source checks its samples against it. Each source
 * index owns one feed (lib/feed.h): a pool of batches it fills and a queue
 * the trainer drains. All sources ring one doorbell so the trainer sleeps
 * on a single descriptor.
 */
#ifndef MB_INGEST_H
#define MB_INGEST_H

#include <stdbool.h>
#include <stdint.h>

#include "feed.h"
#include "sample.h"
#include "source.h"

struct mb_ingest_cfg {
	uint32_t n_features;        /* 0: from the first valid sample */
	uint32_t n_targets;         /* 0: from the first valid sample (1 for text) */
	uint32_t batch_size;        /* rows per batch */
	uint32_t linger_ms;         /* seal a partial batch after this long */
	uint32_t queue_batches;     /* batches in each source's pool (memory bound) */
	enum mb_feed_policy policy; /* stream sources when the pool is exhausted */
	void *zmq_ctx;              /* the daemon's ZeroMQ context */
	uint32_t n_classes;         /* softmax: targets are class indices below this; 0: not a softmax */
	bool unit_targets;          /* logistic: targets lie within [0, 1] */
};

struct mb_ingest;

int mb_ingest_new(const struct mb_ingest_cfg *cfg, struct mb_ingest **ret);
struct mb_ingest *mb_ingest_free(struct mb_ingest *ing);

const struct mb_ingest_cfg *mb_ingest_cfg(const struct mb_ingest *ing);

/* Ask every source to stop; sources poll mb_ingest_stopping(). */
void mb_ingest_stop(struct mb_ingest *ing);
bool mb_ingest_stopping(const struct mb_ingest *ing);

/* Pause and resume ingest (control socket); paused sources stop reading. */
void mb_ingest_pause(struct mb_ingest *ing, bool paused);
bool mb_ingest_paused(const struct mb_ingest *ing);

/*
 * Agree on the shape: the first caller fixes it, later callers must match.
 * 0 when s matches (or fixed it now), -EINVAL with *diag on a mismatch.
 */
int mb_ingest_shape_agree(struct mb_ingest *ing, const struct mb_shape *s, struct mb_diag *diag);

/* The agreed shape, or -EAGAIN while no sample has fixed it. */
int mb_ingest_shape(const struct mb_ingest *ing, struct mb_shape *ret);

/*
 * The feed of source index, created on the first call once the shape is
 * agreed (the source thread calls this); the trainer sees it from then on.
 */
int mb_ingest_feed(struct mb_ingest *ing, unsigned index, struct mb_feed **ret);

/* The feed of index if created yet, else NULL (trainer side). */
struct mb_feed *mb_ingest_feed_peek(struct mb_ingest *ing, unsigned index);

/* Counters of source index (0..MB_MAX_SOURCES-1). */
struct mb_source_stats *mb_ingest_stats(struct mb_ingest *ing, unsigned index);

/* The doorbell sources ring when they submit a batch. */
struct mb_doorbell *mb_ingest_doorbell(struct mb_ingest *ing);

/*
 * Check one decoded row's targets y against the model: a softmax takes
 * whole class indices below n_classes, a logistic model values in [0, 1].
 * 0, or -EINVAL with *diag (MB_R_LABEL): the caller rejects that row.
 */
int mb_ingest_check_targets(const struct mb_ingest *ing, const float *y, struct mb_diag *diag);

#endif /* MB_INGEST_H */
