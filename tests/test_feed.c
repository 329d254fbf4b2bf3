/* SPDX-License-Identifier: MIT */
/*
 * test_feed.c - batches from a producer thread to a consumer thread: each
 * row exactly once and in order when lossless, exact drop counts when not,
 * and never more memory than the pool.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "feed.h"
#include "test.h"

#define N_FEATURES 3
#define N_TARGETS 1
#define SOURCE 5

static void sleep_us(long us)
{
	struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000};
	nanosleep(&ts, NULL);
}

static struct mb_feed_cfg cfg_of(enum mb_feed_policy policy, uint32_t rows, uint32_t n_batches)
{
	return (struct mb_feed_cfg){.batch_rows = rows, .n_features = N_FEATURES,
				    .n_targets = N_TARGETS, .n_batches = n_batches,
				    .policy = policy, .source = SOURCE};
}

/* Row seq of the stream: every value derived from seq, so any mix-up shows. */
static void write_row(struct mb_batch *b, uint32_t seq)
{
	float *x = mb_batch_x(b, b->rows);
	x[0] = (float)seq;
	x[1] = (float)seq + 0.5f;
	x[2] = -(float)seq;
	mb_batch_y(b, b->rows)[0] = 2.0f * (float)seq;
	mb_batch_commit_row(b, 1.0f);
}

static bool row_consistent(const struct mb_batch *b, uint32_t i, uint32_t *ret_seq)
{
	const float *x = mb_batch_x(b, i);
	float seq = x[0];
	if (x[1] != seq + 0.5f || x[2] != -seq || mb_batch_y(b, i)[0] != 2.0f * seq ||
	    b->w[i] != 1.0f)
		return false;
	*ret_seq = (uint32_t)seq;
	return true;
}

static void test_config(void)
{
	struct mb_feed *f = (struct mb_feed *)&f;
	struct mb_feed *before = f;
	struct mb_feed_cfg c = cfg_of(MB_FEED_BLOCK, 8, 1);
	CU_ASSERT_EQUAL(mb_feed_new(&c, NULL, &f), -EINVAL);
	c = cfg_of(MB_FEED_BLOCK, 0, 4);
	CU_ASSERT_EQUAL(mb_feed_new(&c, NULL, &f), -EINVAL);
	c = cfg_of((enum mb_feed_policy)7, 8, 4);
	CU_ASSERT_EQUAL(mb_feed_new(&c, NULL, &f), -EINVAL);
	c = cfg_of(MB_FEED_BLOCK, 8, MB_FEED_MAX_BATCHES + 1);
	CU_ASSERT_EQUAL(mb_feed_new(&c, NULL, &f), -E2BIG);
	c = cfg_of(MB_FEED_BLOCK, 8, 4);
	c.n_features = 0;
	CU_ASSERT_EQUAL(mb_feed_new(&c, NULL, &f), -EINVAL);
	CU_ASSERT_PTR_EQUAL(f, before);

	c = cfg_of(MB_FEED_DROP_OLDEST, 8, 3);
	CU_ASSERT_EQUAL_FATAL(mb_feed_new(&c, NULL, &f), 0);
	CU_ASSERT_EQUAL(mb_feed_cfg(f)->n_batches, 3);
	CU_ASSERT_EQUAL(mb_feed_cfg(f)->policy, MB_FEED_DROP_OLDEST);
	CU_ASSERT_PTR_NULL(mb_feed_free(f));
	CU_ASSERT_PTR_NULL(mb_feed_free(NULL));
}

/* The pool holds exactly n_batches, handed out empty and stamped with the source. */
static void test_pool_bound(void)
{
	struct mb_feed_cfg c = cfg_of(MB_FEED_DROP_NEWEST, 4, 3);
	struct mb_feed *f;
	CU_ASSERT_EQUAL_FATAL(mb_feed_new(&c, NULL, &f), 0);
	struct mb_batch *b[3];
	for (int i = 0; i < 3; i++) {
		b[i] = mb_feed_acquire(f, 0);
		CU_ASSERT_PTR_NOT_NULL_FATAL(b[i]);
		CU_ASSERT_EQUAL(b[i]->rows, 0);
		CU_ASSERT_EQUAL(b[i]->cap, 4);
		CU_ASSERT_EQUAL(b[i]->source, SOURCE);
	}
	CU_ASSERT_PTR_NULL(mb_feed_acquire(f, 0));
	CU_ASSERT_PTR_NULL(mb_feed_acquire_blocking(f, 0));

	/* A batch submitted empty goes back to the pool, not to the trainer. */
	mb_feed_submit(f, b[0]);
	CU_ASSERT_EQUAL(mb_feed_queued(f), 0);
	CU_ASSERT_PTR_NULL(mb_feed_take(f));
	struct mb_batch *again = mb_feed_acquire(f, 0);
	CU_ASSERT_PTR_EQUAL(again, b[0]);

	/* A recycled batch comes back reset. */
	write_row(b[1], 1);
	b[1]->position = 77;
	mb_feed_submit(f, b[1]);
	CU_ASSERT_EQUAL(mb_feed_queued(f), 1);
	CU_ASSERT_PTR_EQUAL(mb_feed_take(f), b[1]);
	mb_feed_recycle(f, b[1]);
	struct mb_batch *reused = mb_feed_acquire(f, 0);
	CU_ASSERT_PTR_EQUAL(reused, b[1]);
	CU_ASSERT_EQUAL(reused->rows, 0);
	CU_ASSERT_EQUAL(reused->position, 0);
	CU_ASSERT_EQUAL(mb_feed_dropped(f), 0);
	mb_feed_free(f);
}

/* DROP_NEWEST refuses at once and counts what the caller reports. */
static void test_drop_newest_refuses(void)
{
	struct mb_feed_cfg c = cfg_of(MB_FEED_DROP_NEWEST, 2, 2);
	struct mb_feed *f;
	CU_ASSERT_EQUAL_FATAL(mb_feed_new(&c, NULL, &f), 0);
	for (uint32_t i = 0; i < 2; i++) {
		struct mb_batch *b = mb_feed_acquire(f, 0);
		CU_ASSERT_PTR_NOT_NULL_FATAL(b);
		write_row(b, 2 * i);
		write_row(b, 2 * i + 1);
		mb_feed_submit(f, b);
	}
	CU_ASSERT_PTR_NULL(mb_feed_acquire(f, 1000)); /* no waiting under DROP_NEWEST */
	mb_feed_count_dropped(f, 1);
	mb_feed_count_dropped(f, 2);
	CU_ASSERT_EQUAL(mb_feed_dropped(f), 3);
	/* The queued rows are intact: the newest were dropped, not these. */
	for (uint32_t i = 0; i < 2; i++) {
		struct mb_batch *b = mb_feed_take(f);
		CU_ASSERT_PTR_NOT_NULL_FATAL(b);
		uint32_t seq;
		CU_ASSERT(row_consistent(b, 0, &seq) && seq == 2 * i);
		mb_feed_recycle(f, b);
	}
	mb_feed_free(f);
}

/* DROP_OLDEST takes back the oldest queued batch and counts its rows. */
static void test_drop_oldest_steals(void)
{
	struct mb_feed_cfg c = cfg_of(MB_FEED_DROP_OLDEST, 4, 3);
	struct mb_feed *f;
	CU_ASSERT_EQUAL_FATAL(mb_feed_new(&c, NULL, &f), 0);
	struct mb_batch *b[3];
	uint32_t seq = 0;
	for (int i = 0; i < 3; i++) {
		b[i] = mb_feed_acquire(f, 0);
		CU_ASSERT_PTR_NOT_NULL_FATAL(b[i]);
		for (int r = 0; r < 1 + i; r++) /* 1, 2, 3 rows */
			write_row(b[i], seq++);
		mb_feed_submit(f, b[i]);
	}
	struct mb_batch *stolen = mb_feed_acquire(f, 0);
	CU_ASSERT_PTR_EQUAL(stolen, b[0]);
	CU_ASSERT_EQUAL(stolen->rows, 0);
	CU_ASSERT_EQUAL(mb_feed_dropped(f), 1);
	CU_ASSERT_EQUAL(mb_feed_queued(f), 2);

	/* The trainer holds one, the producer one: the next steal is b[2]. */
	CU_ASSERT_PTR_EQUAL(mb_feed_take(f), b[1]);
	CU_ASSERT_PTR_EQUAL(mb_feed_acquire(f, 0), b[2]);
	CU_ASSERT_EQUAL(mb_feed_dropped(f), 1 + 3);
	/* Nothing free, nothing queued: only now does it give up. */
	CU_ASSERT_PTR_NULL(mb_feed_acquire(f, 0));
	mb_feed_free(f);
}

/* BLOCK honours its timeout, and a recycle wakes the producer early. */
struct recycler {
	struct mb_feed *f;     /* shared */
	struct mb_batch *b;    /* to give back after a pause */
};

static void *recycle_later(void *arg)
{
	struct recycler *r = arg;
	sleep_us(50000);
	mb_feed_recycle(r->f, r->b);
	return NULL;
}

static void test_block_wait(void)
{
	/* DROP_NEWEST configured, but the forced-blocking call must still wait. */
	struct mb_feed_cfg c = cfg_of(MB_FEED_DROP_NEWEST, 4, 2);
	struct mb_feed *f;
	CU_ASSERT_EQUAL_FATAL(mb_feed_new(&c, NULL, &f), 0);
	struct mb_batch *b0 = mb_feed_acquire_blocking(f, 0);
	struct mb_batch *b1 = mb_feed_acquire_blocking(f, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b1);

	int64_t t0 = mb_batch_now_ns();
	CU_ASSERT_PTR_NULL(mb_feed_acquire_blocking(f, 80));
	int64_t waited_ms = (mb_batch_now_ns() - t0) / 1000000;
	CU_ASSERT(waited_ms >= 79);
	CU_ASSERT(waited_ms < 2000);

	write_row(b0, 0);
	mb_feed_submit(f, b0);
	CU_ASSERT_PTR_EQUAL_FATAL(mb_feed_take(f), b0);
	struct recycler r = {.f = f, .b = b0};
	pthread_t t;
	CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, recycle_later, &r), 0);
	t0 = mb_batch_now_ns();
	struct mb_batch *got = mb_feed_acquire_blocking(f, 10000);
	waited_ms = (mb_batch_now_ns() - t0) / 1000000;
	pthread_join(t, NULL);
	CU_ASSERT_PTR_EQUAL(got, b0);
	CU_ASSERT(waited_ms < 5000); /* woken by the recycle, not the timeout */
	mb_feed_free(f);
}

/* Submitting rings the trainer's doorbell. */
static void test_rings_bell(void)
{
	struct mb_doorbell *bell;
	CU_ASSERT_EQUAL_FATAL(mb_doorbell_new(&bell), 0);
	struct mb_feed_cfg c = cfg_of(MB_FEED_BLOCK, 4, 2);
	struct mb_feed *f;
	CU_ASSERT_EQUAL_FATAL(mb_feed_new(&c, bell, &f), 0);
	struct mb_batch *b = mb_feed_acquire(f, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	write_row(b, 0);
	mb_doorbell_arm(bell);
	mb_feed_submit(f, b);
	CU_ASSERT_EQUAL(mb_doorbell_wait(bell, 0), 1);
	mb_feed_free(f);
	mb_doorbell_free(bell);
}

/* ---- a producer thread and a consumer thread ---- */

#define MAX_SEEN_BATCHES 64

struct run {
	struct mb_feed *f;             /* under test */
	struct mb_doorbell *bell;      /* the consumer sleeps on it */
	uint32_t sent;                 /* rows the producer offers */
	bool slow_consumer;            /* pause now and then so the pool runs dry */
	_Atomic bool producer_done;    /* all rows offered and submitted */

	/* producer's results */
	uint8_t *dropped_here;         /* per row: the producer dropped it itself */
	uint64_t dropped_by_producer;  /* rows counted with mb_feed_count_dropped() */
	uint64_t pool_dry;             /* acquires that found no free batch at once */

	/* consumer's results */
	uint8_t *received;             /* per row: times it arrived */
	uint64_t rows_received;        /* rows taken */
	uint64_t out_of_order;         /* rows not after the previous one */
	uint64_t exact_order_breaks;   /* rows not exactly the previous one + 1 */
	uint64_t corrupt;              /* rows whose values disagree, or wrong source */
	uint32_t max_queued;           /* largest mb_feed_queued() seen */

	/* both */
	struct mb_batch *batches[2][MAX_SEEN_BATCHES]; /* distinct batches each side saw */
	unsigned n_batches_seen[2];                    /* entries of batches */
};

static void note_batch(struct run *r, int side, struct mb_batch *b)
{
	for (unsigned i = 0; i < r->n_batches_seen[side]; i++)
		if (r->batches[side][i] == b)
			return;
	if (r->n_batches_seen[side] < MAX_SEEN_BATCHES)
		r->batches[side][r->n_batches_seen[side]++] = b;
}

static void *producer(void *arg)
{
	struct run *r = arg;
	enum mb_feed_policy policy = mb_feed_cfg(r->f)->policy;
	struct mb_batch *b = NULL;
	for (uint32_t seq = 0; seq < r->sent; seq++) {
		if (!b) {
			b = mb_feed_acquire(r->f, 0);
			if (!b) {
				r->pool_dry++;
				if (policy == MB_FEED_BLOCK) {
					while (!b)
						b = mb_feed_acquire(r->f, 100);
				}
			}
			if (!b) {
				mb_feed_count_dropped(r->f, 1);
				r->dropped_by_producer++;
				r->dropped_here[seq] = 1;
				continue;
			}
			note_batch(r, 0, b);
		}
		write_row(b, seq);
		if (mb_batch_full(b)) {
			b->position = seq + 1;
			mb_feed_submit(r->f, b);
			b = NULL;
		}
	}
	if (b)
		mb_feed_submit(r->f, b);
	atomic_store(&r->producer_done, true);
	mb_doorbell_ring(r->bell);
	return NULL;
}

static void consume(struct run *r, struct mb_batch *b, int64_t *last)
{
	note_batch(r, 1, b);
	if (b->source != SOURCE)
		r->corrupt++;
	for (uint32_t i = 0; i < b->rows; i++) {
		uint32_t seq;
		if (!row_consistent(b, i, &seq) || seq >= r->sent) {
			r->corrupt++;
			continue;
		}
		if ((int64_t)seq <= *last)
			r->out_of_order++;
		if ((int64_t)seq != *last + 1)
			r->exact_order_breaks++;
		*last = seq;
		r->received[seq]++;
		r->rows_received++;
	}
	if (r->slow_consumer)
		sleep_us(200);
	mb_feed_recycle(r->f, b);
}

static void *consumer(void *arg)
{
	struct run *r = arg;
	int64_t last = -1;
	for (;;) {
		bool done = atomic_load(&r->producer_done);
		uint32_t q = mb_feed_queued(r->f);
		if (q > r->max_queued)
			r->max_queued = q;
		struct mb_batch *b = mb_feed_take(r->f);
		if (b) {
			consume(r, b, &last);
			continue;
		}
		if (done)
			return NULL;
		mb_doorbell_arm(r->bell);
		b = mb_feed_take(r->f);
		if (b) {
			mb_doorbell_disarm(r->bell);
			consume(r, b, &last);
			continue;
		}
		if (!atomic_load(&r->producer_done))
			mb_doorbell_wait(r->bell, 100);
	}
}

static void run_pair(struct run *r, enum mb_feed_policy policy, uint32_t sent, bool slow)
{
	memset(r, 0, sizeof *r);
	r->sent = sent;
	r->slow_consumer = slow;
	atomic_init(&r->producer_done, false);
	r->received = calloc(sent, 1);
	r->dropped_here = calloc(sent, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r->received);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r->dropped_here);
	CU_ASSERT_EQUAL_FATAL(mb_doorbell_new(&r->bell), 0);
	struct mb_feed_cfg c = cfg_of(policy, 16, 4);
	CU_ASSERT_EQUAL_FATAL(mb_feed_new(&c, r->bell, &r->f), 0);

	pthread_t pt, ct;
	CU_ASSERT_EQUAL_FATAL(pthread_create(&ct, NULL, consumer, r), 0);
	CU_ASSERT_EQUAL_FATAL(pthread_create(&pt, NULL, producer, r), 0);
	pthread_join(pt, NULL);
	pthread_join(ct, NULL);

	CU_ASSERT_EQUAL(r->corrupt, 0);
	CU_ASSERT_EQUAL(r->out_of_order, 0);
	/* Memory bound: no more batches ever existed than the pool holds. */
	CU_ASSERT(r->n_batches_seen[0] <= c.n_batches);
	CU_ASSERT(r->n_batches_seen[1] <= c.n_batches);
	for (unsigned i = 0; i < r->n_batches_seen[1]; i++) {
		bool known = false;
		for (unsigned j = 0; j < r->n_batches_seen[0]; j++)
			known |= r->batches[1][i] == r->batches[0][j];
		CU_ASSERT(known); /* the trainer only sees batches the producer filled */
	}
	CU_ASSERT(r->max_queued <= c.n_batches);
	uint64_t dupes = 0;
	for (uint32_t i = 0; i < sent; i++)
		dupes += r->received[i] > 1;
	CU_ASSERT_EQUAL(dupes, 0);
	/* sent = received + dropped */
	CU_ASSERT_EQUAL(r->rows_received + mb_feed_dropped(r->f), sent);
}

static void end_pair(struct run *r)
{
	mb_feed_free(r->f);
	mb_doorbell_free(r->bell);
	free(r->received);
	free(r->dropped_here);
}

static void test_block_exactly_once(void)
{
	struct run r;
	run_pair(&r, MB_FEED_BLOCK, 200000, false);
	CU_ASSERT_EQUAL(mb_feed_dropped(r.f), 0);
	CU_ASSERT_EQUAL(r.rows_received, r.sent);
	CU_ASSERT_EQUAL(r.exact_order_breaks, 0);
	end_pair(&r);

	/* A slow trainer: the producer must wait, and still lose nothing. */
	run_pair(&r, MB_FEED_BLOCK, 20000, true);
	CU_ASSERT_EQUAL(mb_feed_dropped(r.f), 0);
	CU_ASSERT_EQUAL(r.rows_received, r.sent);
	CU_ASSERT_EQUAL(r.exact_order_breaks, 0);
	CU_ASSERT(r.pool_dry > 0);
	end_pair(&r);
}

static void test_drop_newest_counts(void)
{
	struct run r;
	run_pair(&r, MB_FEED_DROP_NEWEST, 20000, true);
	CU_ASSERT(r.dropped_by_producer > 0);
	CU_ASSERT_EQUAL(mb_feed_dropped(r.f), r.dropped_by_producer);
	/* Exactly the rows the producer dropped are missing. */
	uint64_t wrong = 0;
	for (uint32_t i = 0; i < r.sent; i++)
		wrong += r.received[i] + r.dropped_here[i] != 1;
	CU_ASSERT_EQUAL(wrong, 0);
	end_pair(&r);
}

static void test_drop_oldest_counts(void)
{
	struct run r;
	run_pair(&r, MB_FEED_DROP_OLDEST, 20000, true);
	CU_ASSERT(mb_feed_dropped(r.f) > r.dropped_by_producer); /* whole batches were stolen */
	/* The newest rows always get through: the last one in particular. */
	CU_ASSERT_EQUAL(r.received[r.sent - 1], 1);
	end_pair(&r);
}

int main(void)
{
	MB_SUITE("feed", {"config", test_config}, {"pool_bound", test_pool_bound},
		 {"drop_newest_refuses", test_drop_newest_refuses},
		 {"drop_oldest_steals", test_drop_oldest_steals}, {"block_wait", test_block_wait},
		 {"rings_bell", test_rings_bell}, {"block_exactly_once", test_block_exactly_once},
		 {"drop_newest_counts", test_drop_newest_counts},
		 {"drop_oldest_counts", test_drop_oldest_counts});
	return mb_test_run();
}
