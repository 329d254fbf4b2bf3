/* SPDX-License-Identifier: MIT */
/*
 * test_ring_stress.c - four producers, a consumer and a thief hammer one ring.
 *
 * Each item is producer << 40 | sequence (plus one, as NULL cannot be
 * queued). The consumer pops continuously; the thief, like the feed's
 * drop-oldest policy, pops only while the ring is backed up, so the head is
 * contended. Now and then the consumer holds back until the thief has
 * stolen something, so the thief's share never rests on the scheduler's
 * whim. Afterwards every
 * item must have been popped exactly once, and each popper must have seen
 * each producer's items in increasing order. The counters start just below
 * 2^32 so the run also crosses the wrap. MB_RING_STRESS_ITEMS sets the total
 * (the TSan target runs ten million).
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ring.h"
#include "test.h"

#define PRODUCERS 4
#define POPPERS 2 /* the consumer and the thief */
#define SEQ_BITS 40

struct stress {
	struct mb_ring *ring;         /* under test */
	uint64_t per_producer;        /* items each producer pushes */
	_Atomic int producers_left;   /* poppers stop once this is 0 and the ring is empty */
	_Atomic uint64_t stolen;      /* items the thief popped so far */
};

struct producer {
	struct stress *st; /* shared */
	uint64_t id;       /* 0..PRODUCERS-1 */
};

struct popper {
	struct stress *st;              /* shared */
	bool thief;                     /* pops in bursts, then backs off */
	uint8_t *seen[PRODUCERS];       /* per item: times this popper got it */
	uint64_t last[PRODUCERS];       /* last sequence + 1 seen per producer, 0: none */
	uint64_t out_of_order;          /* items older than one seen before */
	uint64_t bad_items;             /* unknown producer or sequence */
	uint64_t popped;                /* items popped */
};

static void *produce(void *arg)
{
	struct producer *p = arg;
	for (uint64_t seq = 0; seq < p->st->per_producer; seq++) {
		void *item = (void *)(uintptr_t)((p->id << SEQ_BITS | seq) + 1);
		while (!mb_ring_push(p->st->ring, item))
			sched_yield();
	}
	atomic_fetch_sub(&p->st->producers_left, 1);
	return NULL;
}

static void take(struct popper *c, void *item)
{
	uint64_t v = (uint64_t)(uintptr_t)item - 1;
	uint64_t id = v >> SEQ_BITS, seq = v & ((1ull << SEQ_BITS) - 1);
	if (id >= PRODUCERS || seq >= c->st->per_producer) {
		c->bad_items++;
		return;
	}
	if (seq + 1 <= c->last[id])
		c->out_of_order++;
	c->last[id] = seq + 1;
	if (c->seen[id][seq] < UINT8_MAX)
		c->seen[id][seq]++;
	c->popped++;
}

/* Consumer: every this many items, wait for the thief to steal one. */
#define HOLD_BACK_EVERY 50000

static void hold_back(struct stress *st)
{
	uint64_t before = atomic_load(&st->stolen);
	while (atomic_load(&st->stolen) == before &&
	       !(atomic_load(&st->producers_left) == 0 && mb_ring_depth(st->ring) == 0))
		sched_yield();
}

static void *pop_loop(void *arg)
{
	struct popper *c = arg;
	struct stress *st = c->st;
	uint32_t backed_up = mb_ring_capacity(st->ring) / 2;
	for (;;) {
		/* Read before popping: an empty ring after the last push means done. */
		bool finished = atomic_load(&st->producers_left) == 0;
		if (c->thief && !finished && mb_ring_depth(st->ring) < backed_up) {
			sched_yield();
			continue;
		}
		void *item = mb_ring_pop(st->ring);
		if (item) {
			take(c, item);
			if (c->thief)
				atomic_fetch_add(&st->stolen, 1);
			else if (c->popped % HOLD_BACK_EVERY == 0)
				hold_back(st);
			continue;
		}
		if (finished)
			return NULL;
		sched_yield();
	}
}

static void test_stress(void)
{
	uint64_t total = 2000000;
	const char *env = getenv("MB_RING_STRESS_ITEMS");
	if (env && *env)
		total = strtoull(env, NULL, 10);
	CU_ASSERT_FATAL(total >= PRODUCERS && total / PRODUCERS < (1ull << SEQ_BITS));

	struct stress st = {.per_producer = total / PRODUCERS};
	atomic_init(&st.producers_left, PRODUCERS);
	atomic_init(&st.stolen, 0);
	CU_ASSERT_EQUAL_FATAL(mb_ring_new_at(64, UINT32_MAX - 1000, &st.ring), 0);

	struct popper pop[POPPERS];
	memset(pop, 0, sizeof pop);
	for (int c = 0; c < POPPERS; c++) {
		pop[c].st = &st;
		pop[c].thief = c == 1;
		for (int p = 0; p < PRODUCERS; p++) {
			pop[c].seen[p] = calloc(st.per_producer, 1);
			CU_ASSERT_PTR_NOT_NULL_FATAL(pop[c].seen[p]);
		}
	}
	struct producer prod[PRODUCERS];
	pthread_t pt[PRODUCERS], ct[POPPERS];
	for (int c = 0; c < POPPERS; c++)
		CU_ASSERT_EQUAL_FATAL(pthread_create(&ct[c], NULL, pop_loop, &pop[c]), 0);
	for (int p = 0; p < PRODUCERS; p++) {
		prod[p] = (struct producer){.st = &st, .id = (uint64_t)p};
		CU_ASSERT_EQUAL_FATAL(pthread_create(&pt[p], NULL, produce, &prod[p]), 0);
	}
	for (int p = 0; p < PRODUCERS; p++)
		pthread_join(pt[p], NULL);
	for (int c = 0; c < POPPERS; c++)
		pthread_join(ct[c], NULL);

	uint64_t lost = 0, duplicated = 0;
	for (int p = 0; p < PRODUCERS; p++)
		for (uint64_t s = 0; s < st.per_producer; s++) {
			unsigned n = pop[0].seen[p][s] + pop[1].seen[p][s];
			lost += n == 0;
			duplicated += n > 1;
		}
	CU_ASSERT_EQUAL(lost, 0);
	CU_ASSERT_EQUAL(duplicated, 0);
	CU_ASSERT_EQUAL(pop[0].popped + pop[1].popped, st.per_producer * PRODUCERS);
	for (int c = 0; c < POPPERS; c++) {
		CU_ASSERT_EQUAL(pop[c].out_of_order, 0);
		CU_ASSERT_EQUAL(pop[c].bad_items, 0);
		CU_ASSERT(pop[c].popped > 0); /* both really competed for the head */
		for (int p = 0; p < PRODUCERS; p++)
			free(pop[c].seen[p]);
	}
	CU_ASSERT_EQUAL(mb_ring_depth(st.ring), 0);
	CU_ASSERT_PTR_NULL(mb_ring_pop(st.ring));
	mb_ring_free(st.ring);
	printf("\n    %llu items: consumer %llu, thief %llu\n", (unsigned long long)total,
	       (unsigned long long)pop[0].popped, (unsigned long long)pop[1].popped);
}

int main(void)
{
	MB_SUITE("ring_stress", {"mpmc_exactly_once", test_stress});
	return mb_test_run();
}
