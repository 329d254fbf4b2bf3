/* SPDX-License-Identifier: MIT */
/*
 * test_doorbell.c - sleeping until a producer rings, and not longer.
 */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "batch.h"
#include "doorbell.h"
#include "ring.h"
#include "test.h"

static int64_t ms_since(int64_t start_ns)
{
	return (mb_batch_now_ns() - start_ns) / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

/* Is a ring pending on the eventfd? */
static bool pending(const struct mb_doorbell *d)
{
	struct pollfd pfd = {.fd = mb_doorbell_fd(d), .events = POLLIN};
	return poll(&pfd, 1, 0) == 1;
}

static void test_timeout(void)
{
	struct mb_doorbell *d;
	CU_ASSERT_EQUAL_FATAL(mb_doorbell_new(&d), 0);
	int64_t t0 = mb_batch_now_ns();
	CU_ASSERT_EQUAL(mb_doorbell_wait(d, 60), 0);
	int64_t waited = ms_since(t0);
	CU_ASSERT(waited >= 59);
	CU_ASSERT(waited < 2000);

	t0 = mb_batch_now_ns();
	CU_ASSERT_EQUAL(mb_doorbell_wait(d, 0), 0);
	CU_ASSERT(ms_since(t0) < 50);
	mb_doorbell_free(d);
	CU_ASSERT_PTR_NULL(mb_doorbell_free(NULL));
}

/* Nobody armed: a ring writes nothing. Armed: exactly one pending wake-up. */
static void test_cheap_unarmed(void)
{
	struct mb_doorbell *d;
	CU_ASSERT_EQUAL_FATAL(mb_doorbell_new(&d), 0);
	mb_doorbell_ring(d);
	mb_doorbell_ring(d);
	CU_ASSERT_FALSE(pending(d));

	mb_doorbell_arm(d);
	mb_doorbell_ring(d);
	CU_ASSERT(pending(d));
	mb_doorbell_ring(d); /* the first ring disarmed it: no second write */
	CU_ASSERT_EQUAL(mb_doorbell_wait(d, 0), 1);
	CU_ASSERT_FALSE(pending(d));

	mb_doorbell_arm(d);
	mb_doorbell_disarm(d);
	mb_doorbell_ring(d);
	CU_ASSERT_FALSE(pending(d));
	mb_doorbell_free(d);
}

struct sleeper {
	struct mb_doorbell *bell; /* shared */
	_Atomic bool armed;       /* the sleeper has armed and is about to re-check */
	_Atomic bool work;        /* the "queue": set by the main thread */
	int result;               /* what mb_doorbell_wait() returned */
	bool found_on_recheck;    /* work was already there after arming */
	int64_t woke_after_ms;    /* time asleep */
};

static void *sleep_on_bell(void *arg)
{
	struct sleeper *s = arg;
	mb_doorbell_arm(s->bell);
	atomic_store(&s->armed, true);
	if (atomic_load(&s->work)) {
		s->found_on_recheck = true;
		return NULL;
	}
	int64_t t0 = mb_batch_now_ns();
	s->result = mb_doorbell_wait(s->bell, 5000);
	s->woke_after_ms = ms_since(t0);
	return NULL;
}

static void test_wakes_sleeper(void)
{
	struct sleeper s = {.result = -1};
	CU_ASSERT_EQUAL_FATAL(mb_doorbell_new(&s.bell), 0);
	atomic_init(&s.armed, false);
	atomic_init(&s.work, false);
	pthread_t t;
	CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, sleep_on_bell, &s), 0);
	while (!atomic_load(&s.armed))
		sleep_ms(1);
	sleep_ms(50); /* let it fall asleep in poll(2) */
	atomic_store(&s.work, true);
	mb_doorbell_ring(s.bell);
	pthread_join(t, NULL);

	CU_ASSERT_FALSE(s.found_on_recheck);
	CU_ASSERT_EQUAL(s.result, 1);
	CU_ASSERT(s.woke_after_ms < 2000); /* rung, not timed out at 5 s */
	mb_doorbell_free(s.bell);
}

/*
 * A producer queues items with irregular gaps; the consumer follows the
 * arm / re-check / wait protocol. A lost wake-up would leave it asleep with
 * an item queued until its long timeout: no wait may ever time out.
 */
struct race {
	struct mb_ring *ring;     /* the work */
	struct mb_doorbell *bell; /* the consumer's */
	unsigned items;           /* to pass */
};

static void *race_producer(void *arg)
{
	struct race *r = arg;
	for (uintptr_t i = 1; i <= r->items; i++) {
		while (!mb_ring_push(r->ring, (void *)i))
			sched_yield();
		mb_doorbell_ring(r->bell);
		if (i % 7 == 0)
			sched_yield();
		if (i % 97 == 0)
			sleep_ms(1);
	}
	return NULL;
}

static void test_no_lost_wakeup(void)
{
	struct race r = {.items = 20000};
	CU_ASSERT_EQUAL_FATAL(mb_ring_new(16, &r.ring), 0);
	CU_ASSERT_EQUAL_FATAL(mb_doorbell_new(&r.bell), 0);
	pthread_t t;
	CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, race_producer, &r), 0);

	uintptr_t expect = 1;
	unsigned timeouts = 0, sleeps = 0;
	while (expect <= r.items) {
		void *p = mb_ring_pop(r.ring);
		if (p) {
			CU_ASSERT_PTR_EQUAL_FATAL(p, (void *)expect);
			expect++;
			continue;
		}
		mb_doorbell_arm(r.bell);
		p = mb_ring_pop(r.ring);
		if (p) {
			mb_doorbell_disarm(r.bell);
			CU_ASSERT_PTR_EQUAL_FATAL(p, (void *)expect);
			expect++;
			continue;
		}
		sleeps++;
		if (mb_doorbell_wait(r.bell, 3000) == 0) {
			timeouts++;
			break;
		}
	}
	pthread_join(t, NULL);
	CU_ASSERT_EQUAL(timeouts, 0);
	CU_ASSERT_EQUAL(expect, r.items + 1u);
	CU_ASSERT(sleeps > 0); /* the consumer did sleep and was woken */
	mb_doorbell_free(r.bell);
	mb_ring_free(r.ring);
}

int main(void)
{
	MB_SUITE("doorbell", {"timeout", test_timeout}, {"cheap_unarmed", test_cheap_unarmed},
		 {"wakes_sleeper", test_wakes_sleeper}, {"no_lost_wakeup", test_no_lost_wakeup});
	return mb_test_run();
}
