/* SPDX-License-Identifier: MIT */
/*
 * rng.c - xoshiro256** seeded by splitmix64; see rng.h.
 */
#include <errno.h>

#include "rng.h"
#include "wire.h"

/* splitmix64: spreads any seed, even 0, over a full 64-bit state word. */
static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* Seed the four state words from seed. */
void mb_rng_seed(struct mb_rng *r, uint64_t seed)
{
	uint64_t x = seed;
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
	/* The mixer is a bijection fed four distinct inputs: at most one word is 0. */
}

/* The next 64 bits of xoshiro256**. */
uint64_t mb_rng_u64(struct mb_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* A float in [0, 1): 24 bits fill the mantissa exactly, so 1.0 never appears. */
float mb_rng_uniform(struct mb_rng *r)
{
	return (float)(mb_rng_u64(r) >> 40) * 0x1.0p-24f;
}

/*
 * Uniform in [0, n): reject the lowest 2^64 mod n values, so that what is
 * left divides evenly into n classes.
 */
uint64_t mb_rng_below(struct mb_rng *r, uint64_t n)
{
	if (n == 0)
		return 0;
	uint64_t threshold = -n % n; /* (2^64 - n) mod n == 2^64 mod n */
	for (;;) {
		uint64_t x = mb_rng_u64(r);
		if (x >= threshold)
			return x % n;
	}
}

/* Serialise the state, word 0 first, each little-endian. */
void mb_rng_save(const struct mb_rng *r, uint8_t out[MB_RNG_STATE_BYTES])
{
	for (int i = 0; i < 4; i++)
		mb_put_le64(out + 8 * i, r->s[i]);
}

/* Restore a serialised state, refusing the all-zero one. */
int mb_rng_load(struct mb_rng *r, const uint8_t in[MB_RNG_STATE_BYTES])
{
	uint64_t s[4];
	for (int i = 0; i < 4; i++)
		s[i] = mb_le64(in + 8 * i);
	if (!(s[0] | s[1] | s[2] | s[3]))
		return -EINVAL;
	for (int i = 0; i < 4; i++)
		r->s[i] = s[i];
	return 0;
}
