/* SPDX-License-Identifier: MIT */
/*
 * test_batch.c - batch layout, row commits, weights and linger.
 */
#include <errno.h>
#include <stdint.h>

#include "batch.h"
#include "mb_proto.h"
#include "test.h"

static void test_new(void)
{
	struct mb_batch *b = (struct mb_batch *)&b, *before = b;
	CU_ASSERT_EQUAL(mb_batch_new(0, 4, 1, &b), -EINVAL);
	CU_ASSERT_EQUAL(mb_batch_new(8, 0, 1, &b), -EINVAL);
	CU_ASSERT_EQUAL(mb_batch_new(8, MB_MAX_FEATURES + 1, 1, &b), -E2BIG);
	CU_ASSERT_EQUAL(mb_batch_new(8, 4, MB_MAX_TARGETS + 1, &b), -E2BIG);
	CU_ASSERT_PTR_EQUAL(b, before);

	CU_ASSERT_EQUAL_FATAL(mb_batch_new(10, 7, 3, &b), 0);
	CU_ASSERT_EQUAL(b->cap, 10);
	CU_ASSERT_EQUAL(b->rows, 0);
	CU_ASSERT_EQUAL(b->n_features, 7);
	CU_ASSERT_EQUAL(b->n_targets, 3);
	CU_ASSERT_FALSE(b->weighted);
	CU_ASSERT_EQUAL((uintptr_t)b->x % MB_BATCH_ALIGN, 0);
	CU_ASSERT_EQUAL((uintptr_t)b->y % MB_BATCH_ALIGN, 0);
	CU_ASSERT_EQUAL((uintptr_t)b->w % MB_BATCH_ALIGN, 0);
	for (uint32_t i = 0; i < b->cap; i++)
		CU_ASSERT_EQUAL(b->w[i], 1.0f);
	CU_ASSERT_PTR_NULL(mb_batch_free(b));
	CU_ASSERT_PTR_NULL(mb_batch_free(NULL));
}

/* Rows of x, y and w do not overlap: fill all of them, then read them back. */
static void test_layout(void)
{
	struct mb_batch *b;
	CU_ASSERT_EQUAL_FATAL(mb_batch_new(5, 3, 2, &b), 0);
	CU_ASSERT_PTR_EQUAL(mb_batch_x(b, 2), b->x + 6);
	CU_ASSERT_PTR_EQUAL(mb_batch_y(b, 2), b->y + 4);
	while (!mb_batch_full(b)) {
		uint32_t i = b->rows;
		for (uint32_t j = 0; j < 3; j++)
			mb_batch_x(b, i)[j] = (float)(100 * i + j);
		for (uint32_t j = 0; j < 2; j++)
			mb_batch_y(b, i)[j] = (float)(-100 * (int)i - (int)j);
		mb_batch_commit_row(b, 1.0f);
	}
	CU_ASSERT_EQUAL(b->rows, 5);
	for (uint32_t i = 0; i < 5; i++) {
		for (uint32_t j = 0; j < 3; j++)
			CU_ASSERT_EQUAL(mb_batch_x(b, i)[j], (float)(100 * i + j));
		for (uint32_t j = 0; j < 2; j++)
			CU_ASSERT_EQUAL(mb_batch_y(b, i)[j], (float)(-100 * (int)i - (int)j));
		CU_ASSERT_EQUAL(b->w[i], 1.0f);
	}
	mb_batch_free(b);
}

static void test_commit_weights(void)
{
	struct mb_batch *b;
	CU_ASSERT_EQUAL_FATAL(mb_batch_new(3, 1, 1, &b), 0);
	CU_ASSERT_FALSE(mb_batch_full(b));
	mb_batch_commit_row(b, 1.0f);
	CU_ASSERT_FALSE(b->weighted);
	mb_batch_commit_row(b, 0.25f);
	CU_ASSERT(b->weighted);
	CU_ASSERT_EQUAL(b->w[1], 0.25f);
	mb_batch_commit_row(b, 1.0f);
	CU_ASSERT(b->weighted);
	CU_ASSERT(mb_batch_full(b));
	/* Committing past the end never counts a row that has no room. */
	mb_batch_commit_row(b, 1.0f);
	CU_ASSERT_EQUAL(b->rows, 3);

	b->position = 42;
	mb_batch_reset(b);
	CU_ASSERT_EQUAL(b->rows, 0);
	CU_ASSERT_FALSE(b->weighted);
	CU_ASSERT_EQUAL(b->position, 0);
	CU_ASSERT_FALSE(mb_batch_full(b));
	mb_batch_free(b);
}

static void test_linger(void)
{
	struct mb_batch *b;
	CU_ASSERT_EQUAL_FATAL(mb_batch_new(4, 2, 1, &b), 0);
	int64_t now = mb_batch_now_ns();
	CU_ASSERT_FALSE(mb_batch_lingered(b, now + 10 * 1000000000LL, 5)); /* empty: never */

	int64_t before = mb_batch_now_ns();
	mb_batch_commit_row(b, 1.0f);
	int64_t after = mb_batch_now_ns();
	CU_ASSERT(b->opened_ns >= before && b->opened_ns <= after);
	int64_t opened = b->opened_ns;
	mb_batch_commit_row(b, 1.0f); /* later rows do not move the open time */
	CU_ASSERT_EQUAL(b->opened_ns, opened);

	CU_ASSERT_FALSE(mb_batch_lingered(b, opened + 5 * 1000000 - 1, 5));
	CU_ASSERT(mb_batch_lingered(b, opened + 5 * 1000000, 5));
	CU_ASSERT(mb_batch_lingered(b, opened, 0));
	/* Linger times beyond 2^31 ns do not overflow into the past. */
	CU_ASSERT_FALSE(mb_batch_lingered(b, opened + 3000 * 1000000LL, 4000));
	CU_ASSERT(mb_batch_lingered(b, opened + 4000 * 1000000LL, 4000));

	mb_batch_reset(b);
	CU_ASSERT_FALSE(mb_batch_lingered(b, opened + 10 * 1000000000LL, 5));
	mb_batch_free(b);
}

int main(void)
{
	MB_SUITE("batch", {"new", test_new}, {"layout", test_layout},
		 {"commit_weights", test_commit_weights}, {"linger", test_linger});
	return mb_test_run();
}
