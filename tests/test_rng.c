/* SPDX-License-Identifier: MIT */
/*
 * test_rng.c - the seeded generator: reference outputs, checkpoints, ranges.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "rng.h"
#include "test.h"

/* Outputs of splitmix64-seeded xoshiro256**, from an independent implementation. */
static void test_reference(void)
{
	struct mb_rng r;
	mb_rng_seed(&r, 0);
	/* splitmix64(0)'s first output is the well-known 0xe220a8397b1dcdaf. */
	CU_ASSERT_EQUAL(r.s[0], 0xe220a8397b1dcdafu);
	CU_ASSERT_EQUAL(mb_rng_u64(&r), 0x99ec5f36cb75f2b4u);
	CU_ASSERT_EQUAL(mb_rng_u64(&r), 0xbf6e1f784956452au);
	CU_ASSERT_EQUAL(mb_rng_u64(&r), 0x1a5f849d4933e6e0u);
	CU_ASSERT_EQUAL(mb_rng_u64(&r), 0x6aa594f1262d2d2cu);

	mb_rng_seed(&r, 42);
	CU_ASSERT_EQUAL(mb_rng_u64(&r), 0x15780b2e0c2ec716u);
	CU_ASSERT_EQUAL(mb_rng_u64(&r), 0x6104d9866d113a7eu);
}

static void test_deterministic(void)
{
	struct mb_rng a, b, c;
	mb_rng_seed(&a, 7);
	mb_rng_seed(&b, 7);
	mb_rng_seed(&c, 8);
	unsigned same_as_other_seed = 0;
	for (int i = 0; i < 1000; i++) {
		uint64_t x = mb_rng_u64(&a);
		CU_ASSERT_EQUAL_FATAL(x, mb_rng_u64(&b));
		same_as_other_seed += x == mb_rng_u64(&c);
	}
	CU_ASSERT_EQUAL(same_as_other_seed, 0);
}

/* A restored checkpoint continues the same sequence. */
static void test_save_load(void)
{
	struct mb_rng r, restored;
	mb_rng_seed(&r, 12345);
	for (int i = 0; i < 17; i++)
		mb_rng_u64(&r);
	uint8_t state[MB_RNG_STATE_BYTES];
	mb_rng_save(&r, state);
	/* Little-endian words in order: byte 0 is the low byte of word 0. */
	CU_ASSERT_EQUAL(state[0], (uint8_t)r.s[0]);
	CU_ASSERT_EQUAL(state[7], (uint8_t)(r.s[0] >> 56));
	CU_ASSERT_EQUAL(state[31], (uint8_t)(r.s[3] >> 56));

	mb_rng_seed(&restored, 1);
	CU_ASSERT_EQUAL_FATAL(mb_rng_load(&restored, state), 0);
	for (int i = 0; i < 100; i++)
		CU_ASSERT_EQUAL_FATAL(mb_rng_u64(&restored), mb_rng_u64(&r));
}

static void test_load_rejects_zero(void)
{
	struct mb_rng r, before;
	mb_rng_seed(&r, 3);
	before = r;
	uint8_t zero[MB_RNG_STATE_BYTES] = {0};
	CU_ASSERT_EQUAL(mb_rng_load(&r, zero), -EINVAL);
	CU_ASSERT_EQUAL(memcmp(&r, &before, sizeof r), 0);
}

static void test_uniform(void)
{
	struct mb_rng r;
	mb_rng_seed(&r, 99);
	double sum = 0;
	float lo = 1, hi = 0;
	const int n = 200000;
	for (int i = 0; i < n; i++) {
		float u = mb_rng_uniform(&r);
		CU_ASSERT_FATAL(u >= 0.0f && u < 1.0f);
		sum += u;
		lo = fminf(lo, u);
		hi = fmaxf(hi, u);
	}
	/* Mean of U(0,1) is 1/2 with sd 1/sqrt(12 n) ~ 0.00065. */
	CU_ASSERT(fabs(sum / n - 0.5) < 0.004);
	CU_ASSERT(lo < 0.001f);
	CU_ASSERT(hi > 0.999f);
}

static void test_below(void)
{
	struct mb_rng r;
	mb_rng_seed(&r, 5);
	CU_ASSERT_EQUAL(mb_rng_below(&r, 0), 0);
	CU_ASSERT_EQUAL(mb_rng_below(&r, 1), 0);
	uint64_t big = (1ull << 63) + 1;
	for (int i = 0; i < 1000; i++)
		CU_ASSERT_FATAL(mb_rng_below(&r, big) < big);

	/* Chi-square over 6 faces: 5 degrees of freedom, 20.5 is the 0.1% point. */
	unsigned count[6] = {0};
	const unsigned n = 60000;
	for (unsigned i = 0; i < n; i++) {
		uint64_t v = mb_rng_below(&r, 6);
		CU_ASSERT_FATAL(v < 6);
		count[v]++;
	}
	double chi2 = 0, expect = n / 6.0;
	for (int i = 0; i < 6; i++)
		chi2 += (count[i] - expect) * (count[i] - expect) / expect;
	CU_ASSERT(chi2 < 20.5);
}

int main(void)
{
	MB_SUITE("rng", {"reference", test_reference}, {"deterministic", test_deterministic},
		 {"save_load", test_save_load}, {"load_rejects_zero", test_load_rejects_zero},
		 {"uniform", test_uniform}, {"below", test_below});
	return mb_test_run();
}
