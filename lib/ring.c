/* SPDX-License-Identifier: MIT */
/*
 * ring.c - Vyukov's bounded MPMC queue; the contract is in ring.h.
 */
#include <errno.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ring.h"

/* Keep independently written words apart; 64 bytes on every x86 and most arm64. */
#define CACHE_LINE 64

/*
 * A cell on a cache line of its own: neighbouring cells are written by
 * different threads at nearly the same time (one producer, the next one),
 * and the pool rings are small, so the padding costs little.
 */
struct cell {
	alignas(CACHE_LINE) _Atomic uint32_t seq; /* position p: free for push p, full for pop p at p + 1 */
	void *data;                               /* the queued pointer, valid while full */
};

struct mb_ring {
	alignas(CACHE_LINE) _Atomic uint32_t tail; /* next position to push; producers only */
	alignas(CACHE_LINE) _Atomic uint32_t head; /* next position to pop; consumers only */
	alignas(CACHE_LINE) uint32_t mask;         /* capacity - 1, read-only after new */
	uint32_t capacity;                         /* cells, a power of two */
	struct cell *cells;                        /* capacity cells, cache-line aligned */
};

/*
 * Create a ring whose counters start at start. See mb_ring_new(); the
 * start position only matters to tests that cross the 2^32 wrap.
 */
int mb_ring_new_at(uint32_t capacity, uint32_t start, struct mb_ring **ret)
{
	if (capacity < 2 || capacity > MB_RING_MAX_CAPACITY || (capacity & (capacity - 1)))
		return -EINVAL;

	struct mb_ring *r = aligned_alloc(CACHE_LINE, sizeof *r);
	if (!r)
		return -ENOMEM;
	memset(r, 0, sizeof *r);
	r->cells = aligned_alloc(CACHE_LINE, (size_t)capacity * sizeof *r->cells);
	if (!r->cells)
		goto out_free_ring;

	r->mask = capacity - 1;
	r->capacity = capacity;
	for (uint32_t i = 0; i < capacity; i++) {
		uint32_t pos = start + i;
		struct cell *c = &r->cells[pos & r->mask];
		atomic_init(&c->seq, pos);
		c->data = NULL;
	}
	atomic_init(&r->tail, start);
	atomic_init(&r->head, start);
	*ret = r;
	return 0;

out_free_ring:
	free(r);
	return -ENOMEM;
}

/* Create an empty ring; see ring.h. */
int mb_ring_new(uint32_t capacity, struct mb_ring **ret)
{
	return mb_ring_new_at(capacity, 0, ret);
}

/* Free the ring, not what it points to. */
struct mb_ring *mb_ring_free(struct mb_ring *r)
{
	if (r) {
		free(r->cells);
		free(r);
	}
	return NULL;
}

/* Append p, or false when full (or p is NULL). */
bool mb_ring_push(struct mb_ring *r, void *p)
{
	if (!p)
		return false;

	uint32_t pos = atomic_load_explicit(&r->tail, memory_order_relaxed);
	struct cell *c;
	for (;;) {
		c = &r->cells[pos & r->mask];
		/* Acquire: pairs with the release in pop, the cell's last reader is done. */
		uint32_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
		int32_t dif = (int32_t)(seq - pos);
		if (dif == 0) {
			if (atomic_compare_exchange_weak_explicit(&r->tail, &pos, pos + 1,
								  memory_order_relaxed,
								  memory_order_relaxed))
				break;
			/* pos now holds the current tail: another producer won; retry there. */
		} else if (dif < 0) {
			return false; /* the cell still holds the item from a lap ago */
		} else {
			pos = atomic_load_explicit(&r->tail, memory_order_relaxed);
		}
	}
	c->data = p;
	/* Release: pairs with the acquire in pop, publishing data. */
	atomic_store_explicit(&c->seq, pos + 1, memory_order_release);
	return true;
}

/* Remove the oldest pointer, or NULL when empty. */
void *mb_ring_pop(struct mb_ring *r)
{
	uint32_t pos = atomic_load_explicit(&r->head, memory_order_relaxed);
	struct cell *c;
	for (;;) {
		c = &r->cells[pos & r->mask];
		/* Acquire: pairs with the release in push, data is visible. */
		uint32_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
		int32_t dif = (int32_t)(seq - (pos + 1));
		if (dif == 0) {
			if (atomic_compare_exchange_weak_explicit(&r->head, &pos, pos + 1,
								  memory_order_relaxed,
								  memory_order_relaxed))
				break;
		} else if (dif < 0) {
			return NULL; /* not yet filled for this lap */
		} else {
			pos = atomic_load_explicit(&r->head, memory_order_relaxed);
		}
	}
	void *p = c->data;
	/* Release: pairs with the acquire in push one lap later; we are done reading. */
	atomic_store_explicit(&c->seq, pos + r->mask + 1, memory_order_release);
	return p;
}

/* Approximate number of queued pointers. */
uint32_t mb_ring_depth(const struct mb_ring *r)
{
	/* Head first: tail only grows past it, so the difference is rarely negative. */
	uint32_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	uint32_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	int32_t depth = (int32_t)(tail - head);
	if (depth < 0)
		return 0;
	if ((uint32_t)depth > r->capacity)
		return r->capacity;
	return (uint32_t)depth;
}

/* The capacity. */
uint32_t mb_ring_capacity(const struct mb_ring *r)
{
	return r->capacity;
}
