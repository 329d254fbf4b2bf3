/* SPDX-License-Identifier: MIT */
/*
 * shuffle.c - epoch permutations and the streaming shuffle buffer; see shuffle.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mb_proto.h"
#include "shuffle.h"

/* Identity, then Fisher-Yates: swap each position with a random one at or before it. */
void mb_shuffle_perm(uint32_t *perm, uint32_t n, struct mb_rng *rng)
{
	for (uint32_t i = 0; i < n; i++)
		perm[i] = i;
	for (uint32_t i = n; i > 1; i--) {
		uint32_t j = (uint32_t)mb_rng_below(rng, i);
		uint32_t t = perm[i - 1];
		perm[i - 1] = perm[j];
		perm[j] = t;
	}
}

/*
 * k + 1 row slots: k resident rows plus one that is free, so a push can copy
 * the new row in before the evicted one is read out, and the evicted one
 * stays intact until the next push reuses its slot.
 */
struct mb_shuffle_buf {
	uint32_t k;          /* resident rows when full */
	uint32_t n_features; /* floats of x per row */
	uint32_t n_targets;  /* floats of y per row */
	uint32_t count;      /* resident rows now */
	uint32_t n_spare;    /* entries of spare */
	uint32_t *resident;  /* k slot numbers; the first count are resident */
	uint32_t *spare;     /* k + 1 slot numbers not resident, a stack */
	float *x;            /* (k + 1) x n_features */
	float *y;            /* (k + 1) x n_targets */
	float *w;            /* k + 1 weights */
	struct mb_rng rng;   /* picks which resident leaves */
};

/* Allocate a buffer of k rows. */
int mb_shuffle_buf_new(uint32_t k, uint32_t n_features, uint32_t n_targets, uint64_t seed,
		       struct mb_shuffle_buf **ret)
{
	if (!k || !n_features)
		return -EINVAL;
	if (k > MB_SHUFFLE_MAX_ROWS || n_features > MB_MAX_FEATURES || n_targets > MB_MAX_TARGETS)
		return -E2BIG;

	size_t slots = (size_t)k + 1;
	struct mb_shuffle_buf *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->resident = calloc(k, sizeof *s->resident);
	s->spare = calloc(slots, sizeof *s->spare);
	s->x = calloc(slots * n_features, sizeof *s->x);
	s->y = calloc(slots * n_targets + 1, sizeof *s->y); /* + 1: n_targets may be 0 */
	s->w = calloc(slots, sizeof *s->w);
	if (!s->resident || !s->spare || !s->x || !s->y || !s->w) {
		mb_shuffle_buf_free(s);
		return -ENOMEM;
	}
	s->k = k;
	s->n_features = n_features;
	s->n_targets = n_targets;
	/* Lowest slot on top of the stack, so filling walks memory forwards. */
	for (uint32_t i = 0; i < k + 1; i++)
		s->spare[i] = k - i;
	s->n_spare = k + 1;
	mb_rng_seed(&s->rng, seed);
	*ret = s;
	return 0;
}

/* Free the buffer and any rows left in it. */
struct mb_shuffle_buf *mb_shuffle_buf_free(struct mb_shuffle_buf *s)
{
	if (s) {
		free(s->resident);
		free(s->spare);
		free(s->x);
		free(s->y);
		free(s->w);
		free(s);
	}
	return NULL;
}

/* Point row at slot. */
static void emit(const struct mb_shuffle_buf *s, uint32_t slot, struct mb_shuffle_row *row)
{
	row->x = s->x + (size_t)slot * s->n_features;
	row->y = s->y + (size_t)slot * s->n_targets;
	row->w = s->w[slot];
}

/* Copy a row in; once full, swap it for a random resident. */
int mb_shuffle_buf_push(struct mb_shuffle_buf *s, const float *x, const float *y, float w,
			struct mb_shuffle_row *ret)
{
	/* There is always a spare slot: count <= k and there are k + 1 slots. */
	uint32_t slot = s->spare[--s->n_spare];
	memcpy(s->x + (size_t)slot * s->n_features, x, (size_t)s->n_features * sizeof *x);
	if (s->n_targets)
		memcpy(s->y + (size_t)slot * s->n_targets, y, (size_t)s->n_targets * sizeof *y);
	s->w[slot] = w;

	if (s->count < s->k) {
		s->resident[s->count++] = slot;
		return 0;
	}
	uint32_t j = (uint32_t)mb_rng_below(&s->rng, s->k);
	uint32_t out = s->resident[j];
	s->resident[j] = slot;
	s->spare[s->n_spare++] = out;
	emit(s, out, ret);
	return 1;
}

/* Take out a random remaining row. */
int mb_shuffle_buf_drain(struct mb_shuffle_buf *s, struct mb_shuffle_row *ret)
{
	if (!s->count)
		return 0;
	uint32_t j = (uint32_t)mb_rng_below(&s->rng, s->count);
	uint32_t out = s->resident[j];
	s->resident[j] = s->resident[--s->count];
	s->spare[s->n_spare++] = out;
	emit(s, out, ret);
	return 1;
}

/* Rows resident now. */
uint32_t mb_shuffle_buf_count(const struct mb_shuffle_buf *s)
{
	return s->count;
}

/* The buffer's generator. */
struct mb_rng *mb_shuffle_buf_rng(struct mb_shuffle_buf *s)
{
	return &s->rng;
}
