/* SPDX-License-Identifier: MIT */
/*
 * batch.h - a mini-batch: rows of features, targets and weights.
 *
 * Ingest threads decode samples straight into the next free row (the only
 * copy after a message arrives), commit it, and hand the batch on whole once
 * it is full or has lingered long enough. A batch is owned by one thread at a
 * time; lib/feed.h moves it between the ingest thread and the trainer.
 *
 * Memory per batch: cap * (n_features + n_targets + 1) * 4 bytes, in one
 * allocation with x on a 64-byte boundary (and y and w each on their own),
 * so BLAS kernels and vector loads find aligned rows.
 */
#ifndef MB_BATCH_H
#define MB_BATCH_H

#include <stdbool.h>
#include <stdint.h>

/* The alignment of x, y and w in bytes. */
#define MB_BATCH_ALIGN 64u

struct mb_batch {
	uint32_t cap;        /* rows allocated */
	uint32_t rows;       /* rows committed so far (0..cap) */
	uint32_t n_features; /* floats per row of x */
	uint32_t n_targets;  /* floats per row of y */
	float *x;            /* cap x n_features, row-major, MB_BATCH_ALIGN-aligned */
	float *y;            /* cap x n_targets, row-major */
	float *w;            /* cap weights; 1.0 unless weighted */
	bool weighted;       /* some committed weight differs from 1.0 */
	int64_t opened_ns;   /* CLOCK_MONOTONIC when the first row was committed */
	unsigned source;     /* index of the source that filled the batch */
	uint64_t position;   /* opaque source position after the last row, for checkpoints */
};

/*
 * Allocate a batch of cap rows. 0 and *ret on success; -EINVAL if cap or
 * n_features is 0; -E2BIG over MB_MAX_FEATURES or MB_MAX_TARGETS or if the
 * size overflows; -ENOMEM.
 */
int mb_batch_new(uint32_t cap, uint32_t n_features, uint32_t n_targets, struct mb_batch **ret);

/* Free the batch. NULL is fine; returns NULL. */
struct mb_batch *mb_batch_free(struct mb_batch *b);

/* Empty it for refilling: no rows, unweighted, no open time, position 0. */
void mb_batch_reset(struct mb_batch *b);

/* Row i of the features (i < cap): where a decoder writes n_features floats. */
static inline float *mb_batch_x(const struct mb_batch *b, uint32_t i)
{
	return b->x + (uint64_t)i * b->n_features;
}

/* Row i of the targets (i < cap). */
static inline float *mb_batch_y(const struct mb_batch *b, uint32_t i)
{
	return b->y + (uint64_t)i * b->n_targets;
}

/* True when every row is committed. */
bool mb_batch_full(const struct mb_batch *b);

/*
 * Commit row b->rows (already written through mb_batch_x/y) with weight w:
 * records the weight, stamps opened_ns on the first row, counts the row.
 * The caller checks mb_batch_full() first.
 */
void mb_batch_commit_row(struct mb_batch *b, float w);

/*
 * True when the batch holds rows and its first row is at least linger_ms
 * old at now_ns (CLOCK_MONOTONIC): time to hand over a partial batch.
 */
bool mb_batch_lingered(const struct mb_batch *b, int64_t now_ns, uint32_t linger_ms);

/* CLOCK_MONOTONIC in nanoseconds, the clock of opened_ns. */
int64_t mb_batch_now_ns(void);

#endif /* MB_BATCH_H */
