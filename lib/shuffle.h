/* SPDX-License-Identifier: MIT */
/*
 * shuffle.h - randomise the order in which samples reach the trainer.
 *
 * Gradient descent learns badly from sorted or clustered data. A finite
 * source (a file) is shuffled fully once per epoch through a permutation of
 * its sample indices. An endless stream cannot be, so it goes through a
 * buffer of K rows instead: once the buffer is full every incoming row
 * evicts a uniformly chosen resident, which decorrelates samples up to
 * about K apart. Both are deterministic for a given seed.
 */
#ifndef MB_SHUFFLE_H
#define MB_SHUFFLE_H

#include <stdint.h>

#include "rng.h"

/*
 * Fill perm[0..n-1] with a uniformly random permutation of 0..n-1
 * (Fisher-Yates), drawing from rng. The previous contents do not matter.
 */
void mb_shuffle_perm(uint32_t *perm, uint32_t n, struct mb_rng *rng);

/* The most rows a shuffle buffer may hold. */
#define MB_SHUFFLE_MAX_ROWS (1u << 24)

/* A row emitted by the buffer; the pointers stay valid until the next push. */
struct mb_shuffle_row {
	const float *x; /* n_features floats */
	const float *y; /* n_targets floats */
	float w;        /* its weight */
};

struct mb_shuffle_buf;

/*
 * A buffer of k rows of n_features + n_targets floats, its generator seeded
 * with seed. 0 and *ret on success; -EINVAL if k or n_features is 0; -E2BIG
 * over MB_SHUFFLE_MAX_ROWS, MB_MAX_FEATURES or MB_MAX_TARGETS; -ENOMEM.
 */
int mb_shuffle_buf_new(uint32_t k, uint32_t n_features, uint32_t n_targets, uint64_t seed,
		       struct mb_shuffle_buf **ret);

/* Free it, with any rows still inside. NULL is fine; returns NULL. */
struct mb_shuffle_buf *mb_shuffle_buf_free(struct mb_shuffle_buf *s);

/*
 * Copy a row in. While the buffer is filling returns 0 (nothing out, ret
 * untouched). Once it is full returns 1 and sets *ret to a resident row
 * chosen uniformly at random, which the new row replaces; copy it out
 * before the next push.
 */
int mb_shuffle_buf_push(struct mb_shuffle_buf *s, const float *x, const float *y, float w,
			struct mb_shuffle_row *ret);

/*
 * At the end of the stream: take out one remaining row chosen at random.
 * 1 and *ret while rows remain, 0 when empty. The buffer can be refilled
 * afterwards.
 */
int mb_shuffle_buf_drain(struct mb_shuffle_buf *s, struct mb_shuffle_row *ret);

/* Rows resident now. */
uint32_t mb_shuffle_buf_count(const struct mb_shuffle_buf *s);

/* The buffer's generator, to save or restore in a checkpoint. */
struct mb_rng *mb_shuffle_buf_rng(struct mb_shuffle_buf *s);

#endif /* MB_SHUFFLE_H */
