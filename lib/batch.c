/* SPDX-License-Identifier: MIT */
/*
 * batch.c - allocate, fill and age mini-batches; see batch.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch.h"
#include "mb_proto.h"

/* Round n up to the batch alignment. */
static size_t align_up(size_t n)
{
	return (n + MB_BATCH_ALIGN - 1) & ~(size_t)(MB_BATCH_ALIGN - 1);
}

/*
 * Allocate a batch: x, y and w share one aligned block, each part
 * starting on its own MB_BATCH_ALIGN boundary.
 */
int mb_batch_new(uint32_t cap, uint32_t n_features, uint32_t n_targets, struct mb_batch **ret)
{
	if (!cap || !n_features)
		return -EINVAL;
	if (n_features > MB_MAX_FEATURES || n_targets > MB_MAX_TARGETS)
		return -E2BIG;

	/* Each factor is below 2^32 and 2^25, so sizes fit 64 bits; check size_t. */
	uint64_t x_bytes = (uint64_t)cap * n_features * sizeof(float);
	uint64_t y_bytes = (uint64_t)cap * n_targets * sizeof(float);
	uint64_t w_bytes = (uint64_t)cap * sizeof(float);
	uint64_t total = x_bytes + y_bytes + w_bytes + 3 * MB_BATCH_ALIGN;
	if (total > SIZE_MAX / 2)
		return -E2BIG;

	struct mb_batch *b = calloc(1, sizeof *b);
	if (!b)
		return -ENOMEM;
	size_t y_off = align_up((size_t)x_bytes);
	size_t w_off = y_off + align_up((size_t)y_bytes);
	size_t size = w_off + align_up((size_t)w_bytes);
	char *block = aligned_alloc(MB_BATCH_ALIGN, size);
	if (!block)
		goto out_free_batch;

	b->cap = cap;
	b->n_features = n_features;
	b->n_targets = n_targets;
	b->x = (float *)block;
	b->y = (float *)(block + y_off);
	b->w = (float *)(block + w_off);
	for (uint32_t i = 0; i < cap; i++)
		b->w[i] = 1.0f;
	mb_batch_reset(b);
	*ret = b;
	return 0;

out_free_batch:
	free(b);
	return -ENOMEM;
}

/* Free a batch and its rows. */
struct mb_batch *mb_batch_free(struct mb_batch *b)
{
	if (b) {
		free(b->x); /* the start of the shared block */
		free(b);
	}
	return NULL;
}

/* Empty it for refilling; row contents are left to be overwritten. */
void mb_batch_reset(struct mb_batch *b)
{
	b->rows = 0;
	b->weighted = false;
	b->opened_ns = 0;
	b->position = 0;
}

/* Every row committed? */
bool mb_batch_full(const struct mb_batch *b)
{
	return b->rows >= b->cap;
}

/* Count the row just written, with its weight. */
void mb_batch_commit_row(struct mb_batch *b, float w)
{
	if (b->rows >= b->cap)
		return; /* the caller forgot mb_batch_full(): never write past the end */
	if (b->rows == 0)
		b->opened_ns = mb_batch_now_ns();
	b->w[b->rows] = w;
	if (w != 1.0f)
		b->weighted = true;
	b->rows++;
}

/* Has a partial batch waited long enough? */
bool mb_batch_lingered(const struct mb_batch *b, int64_t now_ns, uint32_t linger_ms)
{
	return b->rows > 0 && now_ns - b->opened_ns >= (int64_t)linger_ms * 1000000;
}

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t mb_batch_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
