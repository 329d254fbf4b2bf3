/* SPDX-License-Identifier: MIT */
/*
 * test_ring.c - the lock-free ring on one thread: order, edges, wrap-around.
 * The concurrent behaviour is in test_ring_stress.c.
 */
#include <errno.h>
#include <stdint.h>

#include "ring.h"
#include "test.h"

/* Small non-NULL tokens: the ring only moves pointers, it never dereferences them. */
static void *token(uintptr_t i)
{
	return (void *)(i + 1);
}

static void test_capacity(void)
{
	static const uint32_t bad[] = {0, 1, 3, 6, 1000, MB_RING_MAX_CAPACITY + 1,
				       MB_RING_MAX_CAPACITY << 1, UINT32_MAX};
	struct mb_ring *r = (struct mb_ring *)token(7);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CU_ASSERT_EQUAL(mb_ring_new(bad[i], &r), -EINVAL);
		CU_ASSERT_PTR_EQUAL(r, token(7)); /* untouched on failure */
	}
	CU_ASSERT_EQUAL_FATAL(mb_ring_new(2, &r), 0);
	CU_ASSERT_EQUAL(mb_ring_capacity(r), 2);
	r = mb_ring_free(r);
	CU_ASSERT_PTR_NULL(r);
	CU_ASSERT_EQUAL_FATAL(mb_ring_new(1024, &r), 0);
	CU_ASSERT_EQUAL(mb_ring_capacity(r), 1024);
	mb_ring_free(r);
	CU_ASSERT_PTR_NULL(mb_ring_free(NULL));
}

static void test_fifo(void)
{
	struct mb_ring *r;
	CU_ASSERT_EQUAL_FATAL(mb_ring_new(8, &r), 0);
	for (uintptr_t round = 0; round < 10; round++) {
		for (uintptr_t i = 0; i < 5; i++)
			CU_ASSERT_FATAL(mb_ring_push(r, token(round * 100 + i)));
		for (uintptr_t i = 0; i < 5; i++)
			CU_ASSERT_PTR_EQUAL_FATAL(mb_ring_pop(r), token(round * 100 + i));
	}
	mb_ring_free(r);
}

static void test_full_empty(void)
{
	struct mb_ring *r;
	CU_ASSERT_EQUAL_FATAL(mb_ring_new(4, &r), 0);
	CU_ASSERT_PTR_NULL(mb_ring_pop(r));
	CU_ASSERT_EQUAL(mb_ring_depth(r), 0);
	CU_ASSERT_FALSE(mb_ring_push(r, NULL));
	CU_ASSERT_EQUAL(mb_ring_depth(r), 0);

	for (uintptr_t i = 0; i < 4; i++) {
		CU_ASSERT_FATAL(mb_ring_push(r, token(i)));
		CU_ASSERT_EQUAL(mb_ring_depth(r), i + 1);
	}
	CU_ASSERT_FALSE(mb_ring_push(r, token(99)));
	CU_ASSERT_EQUAL(mb_ring_depth(r), 4);

	/* One out makes room for exactly one. */
	CU_ASSERT_PTR_EQUAL(mb_ring_pop(r), token(0));
	CU_ASSERT(mb_ring_push(r, token(4)));
	CU_ASSERT_FALSE(mb_ring_push(r, token(99)));

	for (uintptr_t i = 1; i <= 4; i++)
		CU_ASSERT_PTR_EQUAL(mb_ring_pop(r), token(i));
	CU_ASSERT_PTR_NULL(mb_ring_pop(r));
	CU_ASSERT_EQUAL(mb_ring_depth(r), 0);
	mb_ring_free(r);
}

/* Positions cross 2^32 while the ring is partly full, then full, then empty. */
static void test_wraparound(void)
{
	struct mb_ring *r;
	CU_ASSERT_EQUAL_FATAL(mb_ring_new_at(8, UINT32_MAX - 20, &r), 0);
	uintptr_t next_in = 0, next_out = 0;
	for (int step = 0; step < 40; step++) {
		/* Push three, pop two: the fill level climbs until the ring is full. */
		for (int i = 0; i < 3; i++) {
			if (mb_ring_depth(r) == 8) {
				CU_ASSERT_FALSE(mb_ring_push(r, token(9999)));
				continue;
			}
			CU_ASSERT_FATAL(mb_ring_push(r, token(next_in)));
			next_in++;
		}
		for (int i = 0; i < 2; i++) {
			CU_ASSERT_PTR_EQUAL_FATAL(mb_ring_pop(r), token(next_out));
			next_out++;
		}
		CU_ASSERT_EQUAL(mb_ring_depth(r), next_in - next_out);
	}
	while (next_out < next_in) {
		CU_ASSERT_PTR_EQUAL_FATAL(mb_ring_pop(r), token(next_out));
		next_out++;
	}
	CU_ASSERT_PTR_NULL(mb_ring_pop(r));
	CU_ASSERT(next_in > 40); /* well past the wrap point */
	mb_ring_free(r);
}

/* Full and empty are still told apart exactly at the wrap. */
static void test_wrap_edges(void)
{
	for (uint32_t back = 0; back <= 4; back++) {
		struct mb_ring *r;
		CU_ASSERT_EQUAL_FATAL(mb_ring_new_at(4, UINT32_MAX - back, &r), 0);
		CU_ASSERT_PTR_NULL(mb_ring_pop(r));
		for (uintptr_t i = 0; i < 4; i++)
			CU_ASSERT_FATAL(mb_ring_push(r, token(i)));
		CU_ASSERT_FALSE(mb_ring_push(r, token(99)));
		CU_ASSERT_EQUAL(mb_ring_depth(r), 4);
		for (uintptr_t i = 0; i < 4; i++)
			CU_ASSERT_PTR_EQUAL(mb_ring_pop(r), token(i));
		CU_ASSERT_PTR_NULL(mb_ring_pop(r));
		CU_ASSERT_EQUAL(mb_ring_depth(r), 0);
		mb_ring_free(r);
	}
}

int main(void)
{
	MB_SUITE("ring", {"capacity", test_capacity}, {"fifo", test_fifo},
		 {"full_empty", test_full_empty}, {"wraparound", test_wraparound},
		 {"wrap_edges", test_wrap_edges});
	return mb_test_run();
}
