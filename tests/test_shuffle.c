/* SPDX-License-Identifier: MIT */
/*
 * test_shuffle.c - epoch permutations and the streaming shuffle buffer.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "shuffle.h"
#include "test.h"

static bool is_permutation(const uint32_t *perm, uint32_t n)
{
	uint8_t *seen = calloc(n + 1, 1);
	bool ok = seen != NULL;
	for (uint32_t i = 0; ok && i < n; i++) {
		ok = perm[i] < n && !seen[perm[i]];
		if (ok)
			seen[perm[i]] = 1;
	}
	free(seen);
	return ok;
}

static void test_perm_is_permutation(void)
{
	struct mb_rng rng;
	mb_rng_seed(&rng, 1);
	uint32_t one = 99;
	mb_shuffle_perm(&one, 1, &rng);
	CU_ASSERT_EQUAL(one, 0);
	mb_shuffle_perm(NULL, 0, &rng); /* nothing to do, nothing touched */

	enum { N = 10000 };
	uint32_t *perm = malloc(N * sizeof *perm);
	CU_ASSERT_PTR_NOT_NULL_FATAL(perm);
	memset(perm, 0xff, N * sizeof *perm);
	mb_shuffle_perm(perm, N, &rng);
	CU_ASSERT(is_permutation(perm, N));
	uint32_t fixed = 0;
	for (uint32_t i = 0; i < N; i++)
		fixed += perm[i] == i;
	CU_ASSERT(fixed < 10); /* about 1 expected: it really shuffled */
	free(perm);
}

static void test_perm_deterministic(void)
{
	enum { N = 500 };
	uint32_t a[N], b[N], c[N];
	struct mb_rng ra, rb, rc;
	mb_rng_seed(&ra, 2024);
	mb_rng_seed(&rb, 2024);
	mb_rng_seed(&rc, 2025);
	mb_shuffle_perm(a, N, &ra);
	mb_shuffle_perm(b, N, &rb);
	mb_shuffle_perm(c, N, &rc);
	CU_ASSERT_EQUAL(memcmp(a, b, sizeof a), 0);
	CU_ASSERT_NOT_EQUAL(memcmp(a, c, sizeof a), 0);
	/* The next epoch continues the generator: a different order. */
	mb_shuffle_perm(b, N, &rb);
	CU_ASSERT(is_permutation(b, N));
	CU_ASSERT_NOT_EQUAL(memcmp(a, b, sizeof a), 0);
}

/* All 6 orders of 3 items come up equally often (chi-square, 5 dof). */
static void test_perm_uniform(void)
{
	struct mb_rng rng;
	mb_rng_seed(&rng, 77);
	unsigned count[3][3][3] = {{{0}}};
	const unsigned n = 60000;
	for (unsigned i = 0; i < n; i++) {
		uint32_t p[3];
		mb_shuffle_perm(p, 3, &rng);
		count[p[0]][p[1]][p[2]]++;
	}
	static const uint32_t orders[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2},
					      {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
	double chi2 = 0, expect = n / 6.0;
	for (int i = 0; i < 6; i++) {
		double d = count[orders[i][0]][orders[i][1]][orders[i][2]] - expect;
		chi2 += d * d / expect;
	}
	CU_ASSERT(chi2 < 20.5); /* the 0.1% point */
}

static void test_buf_invalid(void)
{
	struct mb_shuffle_buf *s = (struct mb_shuffle_buf *)&s, *before = s;
	CU_ASSERT_EQUAL(mb_shuffle_buf_new(0, 2, 1, 1, &s), -EINVAL);
	CU_ASSERT_EQUAL(mb_shuffle_buf_new(4, 0, 1, 1, &s), -EINVAL);
	CU_ASSERT_EQUAL(mb_shuffle_buf_new(MB_SHUFFLE_MAX_ROWS + 1, 1, 1, 1, &s), -E2BIG);
	CU_ASSERT_PTR_EQUAL(s, before);
	CU_ASSERT_PTR_NULL(mb_shuffle_buf_free(NULL));
}

/*
 * Push n rows through a k-row buffer and drain it; out[j] is the row emitted
 * j-th. Row i is x = {i, i + 0.25}, y = {-i}, w = i / 2: any mix-up of x, y
 * and w between rows is caught.
 */
static bool stream(uint32_t k, uint32_t n, uint64_t seed, uint32_t *out, uint32_t *ret_emitted_while_pushing)
{
	struct mb_shuffle_buf *s;
	if (mb_shuffle_buf_new(k, 2, 1, seed, &s))
		return false;
	bool ok = true;
	uint32_t emitted = 0, while_pushing = 0;
	struct mb_shuffle_row row;
	for (uint32_t i = 0; i < n; i++) {
		float x[2] = {(float)i, (float)i + 0.25f}, y[1] = {-(float)i};
		int got = mb_shuffle_buf_push(s, x, y, (float)i / 2, &row);
		if (got == 1) {
			uint32_t r = (uint32_t)row.x[0];
			ok &= row.x[1] == (float)r + 0.25f && row.y[0] == -(float)r &&
			      row.w == (float)r / 2 && emitted < n;
			if (ok)
				out[emitted++] = r;
			while_pushing++;
		} else {
			ok &= got == 0;
		}
	}
	ok &= mb_shuffle_buf_count(s) == (n < k ? n : k);
	while (ok && mb_shuffle_buf_drain(s, &row) == 1) {
		uint32_t r = (uint32_t)row.x[0];
		ok &= row.x[1] == (float)r + 0.25f && row.y[0] == -(float)r &&
		      row.w == (float)r / 2 && emitted < n;
		if (ok)
			out[emitted++] = r;
	}
	ok &= emitted == n && mb_shuffle_buf_count(s) == 0;
	mb_shuffle_buf_free(s);
	*ret_emitted_while_pushing = while_pushing;
	return ok;
}

static void test_buf_exactly_once(void)
{
	enum { K = 16, N = 5000 };
	uint32_t out[N], pushing;
	CU_ASSERT_FATAL(stream(K, N, 3, out, &pushing));
	CU_ASSERT_EQUAL(pushing, N - K); /* one out per push once full */
	CU_ASSERT(is_permutation(out, N));
	uint32_t in_place = 0;
	for (uint32_t j = 0; j < N; j++) {
		in_place += out[j] == j;
		/* A row cannot leave before it came in... */
		CU_ASSERT_FATAL(j + K >= out[j]);
	}
	CU_ASSERT(in_place < N / 4); /* ...and the order really changed */

	/* Fewer rows than the buffer holds: all come out of the drain. */
	uint32_t few[5];
	CU_ASSERT(stream(K, 5, 3, few, &pushing));
	CU_ASSERT_EQUAL(pushing, 0);
	CU_ASSERT(is_permutation(few, 5));
}

static void test_buf_deterministic(void)
{
	enum { K = 8, N = 300 };
	uint32_t a[N], b[N], c[N], pushing;
	CU_ASSERT_FATAL(stream(K, N, 11, a, &pushing));
	CU_ASSERT_FATAL(stream(K, N, 11, b, &pushing));
	CU_ASSERT_FATAL(stream(K, N, 12, c, &pushing));
	CU_ASSERT_EQUAL(memcmp(a, b, sizeof a), 0);
	CU_ASSERT_NOT_EQUAL(memcmp(a, c, sizeof a), 0);
}

/* After a drain the buffer takes a new epoch, and no row of one epoch leaks into the next. */
static void test_buf_refill(void)
{
	struct mb_shuffle_buf *s;
	CU_ASSERT_EQUAL_FATAL(mb_shuffle_buf_new(2, 1, 0, 9, &s), 0);
	struct mb_shuffle_row row;
	for (int epoch = 0; epoch < 3; epoch++) {
		unsigned seen = 0;
		for (int i = 0; i < 5; i++) {
			float x = (float)(10 * epoch + i);
			if (mb_shuffle_buf_push(s, &x, NULL, 1.0f, &row) == 1) {
				float v = row.x[0];
				CU_ASSERT(v >= 10 * epoch && v < 10 * epoch + 5);
				seen |= 1u << (unsigned)(v - 10 * epoch);
			}
		}
		while (mb_shuffle_buf_drain(s, &row) == 1) {
			float v = row.x[0];
			CU_ASSERT(v >= 10 * epoch && v < 10 * epoch + 5);
			seen |= 1u << (unsigned)(v - 10 * epoch);
		}
		CU_ASSERT_EQUAL(seen, 0x1fu);
	}
	CU_ASSERT_EQUAL(mb_shuffle_buf_drain(s, &row), 0);
	CU_ASSERT_PTR_NOT_NULL(mb_shuffle_buf_rng(s));
	mb_shuffle_buf_free(s);
}

int main(void)
{
	MB_SUITE("shuffle", {"perm_is_permutation", test_perm_is_permutation},
		 {"perm_deterministic", test_perm_deterministic},
		 {"perm_uniform", test_perm_uniform}, {"buf_invalid", test_buf_invalid},
		 {"buf_exactly_once", test_buf_exactly_once},
		 {"buf_deterministic", test_buf_deterministic}, {"buf_refill", test_buf_refill});
	return mb_test_run();
}
