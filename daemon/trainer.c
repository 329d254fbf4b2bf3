/* SPDX-License-Identifier: MIT */
/*
 * trainer.c - the training loop: take batches, step, publish.
 *
 * Batches are taken round-robin, one per feed per round, so a fast source
 * cannot starve a slow one. The loop never blocks while a queue holds a
 * batch; with all of them empty it sleeps on the doorbell (with the
 * arm-then-recheck protocol of lib/doorbell.h) for at most IDLE_WAIT_MS,
 * which is also how often the heartbeat moves while idle.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eval.h"
#include "learner.h"
#include "log.h"
#include "trainer.h"

#define IDLE_WAIT_MS       100     /* longest sleep with empty queues */
#define EWMA_HALF_LIFE     1000.0  /* samples: the memory of the cost and accuracy averages */
#define RATE_WINDOW_NS     1000000000LL /* samples/s is measured over about this long */

struct mb_trainer {
	struct mb_trainer_cfg cfg;      /* as given */
	struct mb_learner *learner;     /* model and optimizer; NULL until the shape is agreed */
	struct mb_trainer_stats stats;  /* published figures */
	_Atomic bool finishing;         /* set by mb_trainer_finish after every source stopped (release/acquire) */
	_Atomic bool snapshot_wanted;   /* set by mb_trainer_request_snapshot (relaxed, then the doorbell) */
	unsigned next_source;           /* where the next round-robin round starts */
	struct mb_ewma cost;            /* progressive cost average */
	struct mb_ewma accuracy;        /* progressive accuracy average (classifiers) */
	uint64_t samples, batches;      /* this thread's copies of the counters */
	uint64_t published_batches;     /* batches at the last snapshot */
	int64_t published_ns;           /* CLOCK_MONOTONIC of the last snapshot */
	uint64_t rate_samples;          /* samples at the start of the rate window */
	int64_t rate_ns;                /* start of the rate window */
};

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Check the configuration and create the trainer; the model comes later. */
int mb_trainer_new(const struct mb_trainer_cfg *cfg, struct mb_trainer **ret)
{
	if (!cfg->ing || !cfg->handover || !cfg->model.max_batch || cfg->n_sources > MB_MAX_SOURCES)
		return -EINVAL;
	struct mb_trainer *t = calloc(1, sizeof *t);
	if (!t)
		return -ENOMEM;
	t->cfg = *cfg;
	mb_ewma_init_half_life(&t->cost, EWMA_HALF_LIFE);
	mb_ewma_init_half_life(&t->accuracy, EWMA_HALF_LIFE);
	atomic_init(&t->stats.cost, NAN);
	atomic_init(&t->stats.accuracy, NAN);
	atomic_init(&t->stats.samples_per_s, 0.0);
	t->published_ns = t->rate_ns = mono_ns();
	*ret = t;
	return 0;
}

/* Free the learner (with its model and optimizer) and the trainer. */
struct mb_trainer *mb_trainer_free(struct mb_trainer *t)
{
	if (!t)
		return NULL;
	mb_learner_free(t->learner);
	free(t);
	return NULL;
}

/* Create model, optimizer and learner for the agreed shape. */
static int create_model(struct mb_trainer *t, const struct mb_shape *shape)
{
	struct mb_model_cfg mc = t->cfg.model;
	mc.n_inputs = shape->n_features;
	struct mb_model *m = NULL;
	struct mb_optim *o = NULL;
	int r = mb_model_new(&mc, &m);
	if (r < 0) {
		mb_log(LOG_ERR, "trainer: cannot create the model for %u inputs: %s", mc.n_inputs, strerror(-r));
		return r;
	}
	size_t n = mb_model_n_params(m);
	r = mb_optim_new(&t->cfg.optim, n, &o);
	if (r < 0) {
		mb_log(LOG_ERR, "trainer: cannot create the optimizer: %s", strerror(-r));
		goto out_model;
	}
	r = mb_handover_alloc(t->cfg.handover, n);
	if (r < 0)
		goto out_optim;
	r = mb_learner_new(m, o, &t->learner);
	if (r < 0)
		goto out_optim;
	atomic_store_explicit(&t->stats.has_model, true, memory_order_release);
	mb_log(LOG_INFO, "trainer: model with %u inputs, %u outputs, %zu parameters", mc.n_inputs, mc.n_outputs, n);
	return 0;
out_optim:
	mb_optim_free(o);
out_model:
	mb_model_free(m);
	return r;
}

/* Copy the parameters and counters into the handover and pass them to the publisher. */
static void publish(struct mb_trainer *t)
{
	struct mb_model *m = mb_learner_model(t->learner);
	struct mb_handover_slot *slot = mb_handover_back(t->cfg.handover);
	memset(&slot->info, 0, sizeof slot->info);
	mb_model_describe(m, &slot->info);
	double cost = mb_ewma_value(&t->cost);
	slot->info.version = t->batches;
	slot->info.samples = t->samples;
	slot->info.batches = t->batches;
	slot->info.cost = isnan(cost) ? 0.0f : (float)cost;
	slot->info.timestamp_ns = wall_ns();
	memcpy(slot->params, mb_model_params(m), mb_model_n_params(m) * sizeof(float));
	mb_handover_publish(t->cfg.handover);
	t->published_batches = t->batches;
	t->published_ns = mono_ns();
	atomic_fetch_add_explicit(&t->stats.published, 1, memory_order_relaxed);
}

/*
 * One step on one batch: the learner's forward, progressive score,
 * backward and optimizer step, then the figures. This is the step
 * boundary: a synchronisation of the parameters with other trainers
 * (averaging) belongs right after the optimizer step, here.
 */
static void trainer_step(struct mb_trainer *t, const struct mb_batch *b)
{
	struct mb_step_result res = {0};
	int r = mb_learner_step(t->learner, b->x, b->y, b->weighted ? b->w : NULL, b->rows, &res);
	if (r < 0) {
		atomic_fetch_add_explicit(&t->stats.skipped, 1, memory_order_relaxed);
		mb_log(LOG_WARNING, "trainer: step skipped on a batch of %u rows from source %u: %s", b->rows,
		       b->source, r == -EDOM ? "non-finite cost or gradient" : strerror(-r));
		return;
	}
	t->samples += b->rows;
	t->batches++;
	if (isfinite(res.cost))
		mb_ewma_add_n(&t->cost, res.cost, b->rows);
	if (mb_model_is_classifier(mb_learner_model(t->learner)) && b->rows)
		mb_ewma_add_n(&t->accuracy, (double)res.correct / b->rows, b->rows);
	atomic_store_explicit(&t->stats.samples, t->samples, memory_order_relaxed);
	atomic_store_explicit(&t->stats.batches, t->batches, memory_order_relaxed);
	atomic_store_explicit(&t->stats.cost, mb_ewma_value(&t->cost), memory_order_relaxed);
	atomic_store_explicit(&t->stats.accuracy, mb_ewma_value(&t->accuracy), memory_order_relaxed);
}

/* One round: at most one batch from each feed. Returns the batches taken. */
static unsigned take_round(struct mb_trainer *t)
{
	unsigned taken = 0, n = t->cfg.n_sources;
	/* A feed can appear before the model: leave its batches queued until the model exists. */
	if (!t->learner)
		return 0;
	for (unsigned k = 0; k < n; k++) {
		unsigned i = (t->next_source + k) % n;
		struct mb_feed *f = mb_ingest_feed_peek(t->cfg.ing, i);
		struct mb_batch *b = f ? mb_feed_take(f) : NULL;
		if (!b)
			continue;
		if (b->rows)
			trainer_step(t, b);
		mb_feed_recycle(f, b);
		taken++;
	}
	t->next_source = n ? (t->next_source + 1) % n : 0;
	return taken;
}

/* Publish if the count, the clock or a request says so. */
static void maybe_publish(struct mb_trainer *t, int64_t now)
{
	if (!t->learner)
		return;
	bool wanted = atomic_exchange_explicit(&t->snapshot_wanted, false, memory_order_relaxed);
	bool changed = t->batches != t->published_batches;
	bool by_count = t->cfg.publish_every_batches &&
			t->batches - t->published_batches >= t->cfg.publish_every_batches;
	bool by_time = t->cfg.publish_every_ms && changed &&
		       now - t->published_ns >= (int64_t)t->cfg.publish_every_ms * 1000000;
	if (wanted || by_count || by_time)
		publish(t);
}

static void update_rate(struct mb_trainer *t, int64_t now)
{
	if (now - t->rate_ns < RATE_WINDOW_NS)
		return;
	double rate = (double)(t->samples - t->rate_samples) * 1e9 / (double)(now - t->rate_ns);
	atomic_store_explicit(&t->stats.samples_per_s, rate, memory_order_relaxed);
	t->rate_samples = t->samples;
	t->rate_ns = now;
}

/* The thread body (see trainer.h). */
int mb_trainer_run(struct mb_trainer *t)
{
	struct mb_doorbell *bell = mb_ingest_doorbell(t->cfg.ing);
	for (;;) {
		atomic_fetch_add_explicit(&t->stats.heartbeat, 1, memory_order_relaxed);
		if (!t->learner) {
			struct mb_shape shape;
			if (mb_ingest_shape(t->cfg.ing, &shape) == 0) {
				int r = create_model(t, &shape);
				if (r < 0)
					return r;
			}
		}
		/* Read before the round: every batch submitted before finish() was called is seen by it. */
		bool finishing = atomic_load_explicit(&t->finishing, memory_order_acquire);
		unsigned taken = take_round(t);
		int64_t now = mono_ns();
		maybe_publish(t, now);
		update_rate(t, now);
		if (taken)
			continue;
		if (finishing)
			break;
		mb_doorbell_arm(bell);
		if (take_round(t) || atomic_load_explicit(&t->snapshot_wanted, memory_order_relaxed))
			continue;
		mb_doorbell_wait(bell, IDLE_WAIT_MS);
	}
	if (t->learner)
		publish(t);
	atomic_store_explicit(&t->stats.samples_per_s, 0.0, memory_order_relaxed);
	return 0;
}

/* Let run() return once the queues are empty. */
void mb_trainer_finish(struct mb_trainer *t)
{
	atomic_store_explicit(&t->finishing, true, memory_order_release);
	mb_doorbell_ring(mb_ingest_doorbell(t->cfg.ing));
}

/* Ask the trainer thread for a snapshot at its next turn. */
int mb_trainer_request_snapshot(struct mb_trainer *t)
{
	if (!atomic_load_explicit(&t->stats.has_model, memory_order_acquire))
		return -EAGAIN;
	atomic_store_explicit(&t->snapshot_wanted, true, memory_order_relaxed);
	mb_doorbell_ring(mb_ingest_doorbell(t->cfg.ing));
	return 0;
}

/* True when no feed holds a queued batch. */
bool mb_trainer_queues_empty(struct mb_trainer *t)
{
	for (unsigned i = 0; i < t->cfg.n_sources; i++) {
		struct mb_feed *f = mb_ingest_feed_peek(t->cfg.ing, i);
		if (f && mb_feed_queued(f))
			return false;
	}
	return true;
}

/* The figures, for any thread. */
const struct mb_trainer_stats *mb_trainer_stats(const struct mb_trainer *t)
{
	return &t->stats;
}
