/* SPDX-License-Identifier: MIT */
/*
 * feed.h - one source's batches on their way to the trainer.
 *
 * A feed owns a fixed pool of n_batches batches, the memory bound of its
 * source: no more ever exist. Two lock-free rings move them around:
 *
 *	free ring:  trainer --(mb_feed_recycle)--> producer (mb_feed_acquire)
 *	queue ring: producer --(mb_feed_submit)--> trainer  (mb_feed_take)
 *
 * The producer (the source's ingest thread) acquires an empty batch, fills
 * its rows, and submits it, which also rings the trainer's doorbell. The
 * trainer takes queued batches, learns from them and recycles them. When
 * the pool runs dry the policy decides what the producer does.
 *
 * Threads: exactly one producer thread calls mb_feed_acquire*(),
 * mb_feed_submit() and mb_feed_count_dropped(); exactly one consumer thread
 * calls mb_feed_take() and mb_feed_recycle(). The figures may be read from
 * any thread. A blocked producer sleeps on an eventfd of the feed (see
 * lib/doorbell.h), never spins.
 */
#ifndef MB_FEED_H
#define MB_FEED_H

#include <stdbool.h>
#include <stdint.h>

#include "batch.h"
#include "doorbell.h"

/* The most batches in one feed's pool. */
#define MB_FEED_MAX_BATCHES 4096u

/* What the producer does when no empty batch is free. */
enum mb_feed_policy {
	MB_FEED_BLOCK,       /* wait for the trainer to recycle one (lossless) */
	MB_FEED_DROP_NEWEST, /* refuse at once; the caller drops the incoming sample */
	MB_FEED_DROP_OLDEST, /* take back the oldest queued batch and discard its rows */
};

struct mb_feed_cfg {
	uint32_t batch_rows;        /* rows per batch */
	uint32_t n_features;        /* floats of x per row */
	uint32_t n_targets;         /* floats of y per row */
	uint32_t n_batches;         /* batches in the pool, 2..MB_FEED_MAX_BATCHES */
	enum mb_feed_policy policy; /* when the pool is exhausted */
	unsigned source;            /* source index, stamped on every batch */
};

struct mb_feed;

/*
 * Create a feed and its pool. bell (may be NULL) is rung on every submit and
 * stays owned by the caller; it must outlive the feed. 0 and *ret on
 * success; -EINVAL for a bad cfg (n_batches < 2, unknown policy, or as
 * mb_batch_new()); -E2BIG over MB_FEED_MAX_BATCHES; -ENOMEM.
 */
int mb_feed_new(const struct mb_feed_cfg *cfg, struct mb_doorbell *bell, struct mb_feed **ret);

/*
 * Free the feed and every batch of its pool, wherever it is. No thread may
 * use the feed or its batches any more. NULL is fine; returns NULL.
 */
struct mb_feed *mb_feed_free(struct mb_feed *f);

/*
 * Producer: an empty (reset) batch to fill, stamped with the source index,
 * under the configured policy:
 *  - BLOCK waits up to timeout_ms (negative: no limit) for the trainer to
 *    recycle one and returns NULL on timeout; the caller checks its stop
 *    flag and calls again.
 *  - DROP_NEWEST returns NULL at once when none is free; the caller drops
 *    its sample and reports it with mb_feed_count_dropped().
 *  - DROP_OLDEST takes back the oldest batch still queued (not yet taken
 *    by the trainer), counts its rows as dropped, and hands it out reset.
 *    Only when the trainer holds every other batch does it return NULL, to
 *    be handled as under DROP_NEWEST.
 * timeout_ms only matters under BLOCK.
 */
struct mb_batch *mb_feed_acquire(struct mb_feed *f, int timeout_ms);

/*
 * Producer: as mb_feed_acquire() under BLOCK whatever the configured
 * policy. File sources use it: they can wait, and must lose nothing.
 */
struct mb_batch *mb_feed_acquire_blocking(struct mb_feed *f, int timeout_ms);

/*
 * Producer: queue b (from mb_feed_acquire*) for the trainer and ring the
 * doorbell. A batch with no rows goes straight back to the pool instead.
 * The producer must not touch b afterwards.
 */
void mb_feed_submit(struct mb_feed *f, struct mb_batch *b);

/* Producer: count rows it dropped itself (no batch free under DROP_NEWEST). */
void mb_feed_count_dropped(struct mb_feed *f, uint64_t rows);

/* Consumer: the oldest queued batch, now owned by the caller, or NULL. */
struct mb_batch *mb_feed_take(struct mb_feed *f);

/*
 * Consumer: give a taken batch back to the pool and wake the producer if it
 * is blocked waiting for one.
 */
void mb_feed_recycle(struct mb_feed *f, struct mb_batch *b);

/* Rows dropped so far, by either policy (relaxed: for metrics). */
uint64_t mb_feed_dropped(const struct mb_feed *f);

/* Batches queued for the trainer (approximate: for metrics). */
uint32_t mb_feed_queued(const struct mb_feed *f);

/* The configuration the feed was created with. */
const struct mb_feed_cfg *mb_feed_cfg(const struct mb_feed *f);

#endif /* MB_FEED_H */
