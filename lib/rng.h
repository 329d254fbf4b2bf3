/* SPDX-License-Identifier: MIT */
/*
 * rng.h - a small seeded random generator whose state can be checkpointed.
 *
 * xoshiro256** (Blackman and Vigna), its 256-bit state filled from the seed
 * by splitmix64. Shuffles, holdout sampling and weight initialisation draw
 * from it, so a run is reproducible from its seed, and a restored checkpoint
 * continues the very same sequence. One generator per thread; no locking.
 */
#ifndef MB_RNG_H
#define MB_RNG_H

#include <stdint.h>

/* Bytes of the serialised state: four 64-bit words, little-endian. */
#define MB_RNG_STATE_BYTES 32u

struct mb_rng {
	uint64_t s[4]; /* xoshiro256** state; never all zero */
};

/* Seed r; every seed, 0 included, gives a valid and distinct state. */
void mb_rng_seed(struct mb_rng *r, uint64_t seed);

/* The next 64 random bits. */
uint64_t mb_rng_u64(struct mb_rng *r);

/* A float uniformly in [0, 1), from the top 24 bits (every value exact). */
float mb_rng_uniform(struct mb_rng *r);

/* A number uniformly in [0, n) without modulo bias; 0 when n is 0. */
uint64_t mb_rng_below(struct mb_rng *r, uint64_t n);

/* Write the state as MB_RNG_STATE_BYTES little-endian bytes to out. */
void mb_rng_save(const struct mb_rng *r, uint8_t out[MB_RNG_STATE_BYTES]);

/*
 * Restore a state written by mb_rng_save(). 0 on success; -EINVAL if in is
 * all zero (not a state xoshiro can leave), r then untouched.
 */
int mb_rng_load(struct mb_rng *r, const uint8_t in[MB_RNG_STATE_BYTES]);

#endif /* MB_RNG_H */
