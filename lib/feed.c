/* SPDX-License-Identifier: MIT */
/*
 * feed.c - a source's batch pool and its queue to the trainer; see feed.h.
 */
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "feed.h"
#include "ring.h"

struct mb_feed {
	struct mb_feed_cfg cfg;      /* as given to mb_feed_new() */
	struct mb_batch **pool;      /* all cfg.n_batches batches, for mb_feed_free() */
	struct mb_ring *free_ring;   /* empty batches: trainer pushes, producer pops */
	struct mb_ring *queue;       /* filled batches: producer pushes, trainer (and thief) pops */
	struct mb_doorbell *bell;    /* the trainer's, rung on submit; not owned, may be NULL */
	struct mb_doorbell *recycled;/* the producer's, rung on recycle while it waits */
	_Atomic uint64_t dropped;    /* rows dropped; relaxed, only a figure */
};

/* The smallest power of two >= n (n <= 2^31). */
static uint32_t pow2_at_least(uint32_t n)
{
	uint32_t p = 2;
	while (p < n)
		p <<= 1;
	return p;
}

/*
 * Push where a push can fail only for an instant: each ring is big enough for
 * the whole pool, but Vyukov's ring also reports full while a consumer that
 * claimed the cell one lap ago has not yet released it (the drop-oldest thief
 * can lap a trainer paused inside mb_ring_pop()). Yield until it finishes.
 */
static void push_surely(struct mb_ring *r, struct mb_batch *b)
{
	for (unsigned tries = 0; !mb_ring_push(r, b); tries++) {
		if (tries < 16) {
			sched_yield();
		} else {
			struct timespec ts = {.tv_sec = 0, .tv_nsec = 50000};
			nanosleep(&ts, NULL);
		}
	}
}

/* Create a feed with its pool of empty batches. */
int mb_feed_new(const struct mb_feed_cfg *cfg, struct mb_doorbell *bell, struct mb_feed **ret)
{
	if (cfg->n_batches < 2 || cfg->batch_rows == 0 ||
	    (cfg->policy != MB_FEED_BLOCK && cfg->policy != MB_FEED_DROP_NEWEST &&
	     cfg->policy != MB_FEED_DROP_OLDEST))
		return -EINVAL;
	if (cfg->n_batches > MB_FEED_MAX_BATCHES)
		return -E2BIG;

	int err = -ENOMEM;
	struct mb_feed *f = calloc(1, sizeof *f);
	if (!f)
		return -ENOMEM;
	f->cfg = *cfg;
	f->bell = bell;
	atomic_init(&f->dropped, 0);

	f->pool = calloc(cfg->n_batches, sizeof *f->pool);
	if (!f->pool)
		goto out_free_feed;
	uint32_t slots = pow2_at_least(cfg->n_batches);
	err = mb_ring_new(slots, &f->free_ring);
	if (err)
		goto out_free_pool;
	err = mb_ring_new(slots, &f->queue);
	if (err)
		goto out_free_free_ring;
	err = mb_doorbell_new(&f->recycled);
	if (err)
		goto out_free_queue;

	for (uint32_t i = 0; i < cfg->n_batches; i++) {
		err = mb_batch_new(cfg->batch_rows, cfg->n_features, cfg->n_targets, &f->pool[i]);
		if (err)
			goto out_free_batches;
		f->pool[i]->source = cfg->source;
		mb_ring_push(f->free_ring, f->pool[i]); /* room for all: cannot fail */
	}
	*ret = f;
	return 0;

out_free_batches:
	for (uint32_t i = 0; i < cfg->n_batches; i++)
		mb_batch_free(f->pool[i]);
	mb_doorbell_free(f->recycled);
out_free_queue:
	mb_ring_free(f->queue);
out_free_free_ring:
	mb_ring_free(f->free_ring);
out_free_pool:
	free(f->pool);
out_free_feed:
	free(f);
	return err;
}

/* Free the feed and its whole pool. */
struct mb_feed *mb_feed_free(struct mb_feed *f)
{
	if (!f)
		return NULL;
	for (uint32_t i = 0; i < f->cfg.n_batches; i++)
		mb_batch_free(f->pool[i]);
	mb_doorbell_free(f->recycled);
	mb_ring_free(f->queue);
	mb_ring_free(f->free_ring);
	free(f->pool);
	free(f);
	return NULL;
}

/* A batch ready for the producer to fill. */
static struct mb_batch *hand_out(struct mb_feed *f, struct mb_batch *b)
{
	mb_batch_reset(b);
	b->source = f->cfg.source;
	return b;
}

/* Milliseconds left until deadline_ns, rounded up; negative deadline: no limit. */
static int ms_left(int64_t deadline_ns)
{
	if (deadline_ns < 0)
		return -1;
	int64_t left = deadline_ns - mb_batch_now_ns();
	if (left <= 0)
		return 0;
	int64_t ms = (left + 999999) / 1000000;
	return ms > 1000000 ? 1000000 : (int)ms;
}

/* Wait for the trainer to recycle a batch, up to timeout_ms. */
static struct mb_batch *acquire_waiting(struct mb_feed *f, int timeout_ms)
{
	int64_t deadline = timeout_ms < 0 ? -1 : mb_batch_now_ns() + (int64_t)timeout_ms * 1000000;
	for (;;) {
		mb_doorbell_arm(f->recycled);
		/* Re-check after arming, or a recycle just before would go unheard. */
		struct mb_batch *b = mb_ring_pop(f->free_ring);
		if (b) {
			mb_doorbell_disarm(f->recycled);
			return b;
		}
		int left = ms_left(deadline);
		if (left == 0) {
			mb_doorbell_disarm(f->recycled);
			return NULL;
		}
		/* -EINTR and other failures: loop, the deadline still bounds us. */
		mb_doorbell_wait(f->recycled, left);
	}
}

/* An empty batch under policy. */
static struct mb_batch *acquire(struct mb_feed *f, enum mb_feed_policy policy, int timeout_ms)
{
	struct mb_batch *b = mb_ring_pop(f->free_ring);
	if (b)
		return hand_out(f, b);

	switch (policy) {
	case MB_FEED_BLOCK:
		b = acquire_waiting(f, timeout_ms);
		break;
	case MB_FEED_DROP_NEWEST:
		break;
	case MB_FEED_DROP_OLDEST:
		b = mb_ring_pop(f->queue);
		if (b)
			atomic_fetch_add_explicit(&f->dropped, b->rows, memory_order_relaxed);
		break;
	}
	return b ? hand_out(f, b) : NULL;
}

/* Producer: an empty batch under the configured policy. */
struct mb_batch *mb_feed_acquire(struct mb_feed *f, int timeout_ms)
{
	return acquire(f, f->cfg.policy, timeout_ms);
}

/* Producer: an empty batch, waiting for one whatever the policy. */
struct mb_batch *mb_feed_acquire_blocking(struct mb_feed *f, int timeout_ms)
{
	return acquire(f, MB_FEED_BLOCK, timeout_ms);
}

/* Producer: queue a filled batch and wake the trainer. */
void mb_feed_submit(struct mb_feed *f, struct mb_batch *b)
{
	if (b->rows == 0) {
		push_surely(f->free_ring, b);
		return;
	}
	push_surely(f->queue, b);
	if (f->bell)
		mb_doorbell_ring(f->bell);
}

/* Producer: count rows dropped for want of a batch. */
void mb_feed_count_dropped(struct mb_feed *f, uint64_t rows)
{
	atomic_fetch_add_explicit(&f->dropped, rows, memory_order_relaxed);
}

/* Consumer: the oldest queued batch, or NULL. */
struct mb_batch *mb_feed_take(struct mb_feed *f)
{
	return mb_ring_pop(f->queue);
}

/* Consumer: return a batch to the pool and wake a waiting producer. */
void mb_feed_recycle(struct mb_feed *f, struct mb_batch *b)
{
	push_surely(f->free_ring, b);
	mb_doorbell_ring(f->recycled);
}

/* Rows dropped so far. */
uint64_t mb_feed_dropped(const struct mb_feed *f)
{
	return atomic_load_explicit(&f->dropped, memory_order_relaxed);
}

/* Batches queued for the trainer. */
uint32_t mb_feed_queued(const struct mb_feed *f)
{
	return mb_ring_depth(f->queue);
}

/* The feed's configuration. */
const struct mb_feed_cfg *mb_feed_cfg(const struct mb_feed *f)
{
	return &f->cfg;
}
