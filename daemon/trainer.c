/* SPDX-License-Identifier: MIT */
/*
 * trainer.c - the training loop: take batches, step, publish.
 *
 * Batches are taken round-robin, one per feed per round, so a fast source
 * cannot starve a slow one. The loop never blocks while a queue holds a
 * batch; with all of them empty it sleeps on the doorbell (with the
 * arm-then-recheck protocol of lib/doorbell.h) for at most IDLE_WAIT_MS,
 * which is also how often the heartbeat moves while idle.
 *
 * Checkpoints are written here, between two steps, so parameters,
 * optimizer state, counters and source positions agree. A file source's
 * position must be the one after the last batch the model learned from,
 * but its position hook reports the place after the last batch it
 * submitted, which may still be queued. So the trainer reads the
 * position, then tries to take a batch from that source: when none is
 * there, every batch up to that position has been learned from (a source
 * queues each batch while its position is being updated, so no reader
 * sees the batch without the position after it, nor the reverse); when
 * one is, it may be newer, so the trainer learns from it and reads the
 * position again. Batches taken that way go
 * back to the pool only at the end, so a source faster than the trainer
 * soon has no empty batch and stands still: the loop ends within one pool.
 * The batches are learned in the order they would have been anyway.
 * The file is encoded, written and fsynced on this thread too: no batch
 * is learned meanwhile, a few milliseconds for the models measured (a
 * 5 MB checkpoint of a 784-512-512-10 MLP in about 8 ms on a local disk).
 *
 * The divergence guard's copy of the good state lives in two buffers made
 * with the model, so a step allocates nothing: a memcpy of the parameters
 * and the optimizer's state saved into a buffer of its fixed size. A
 * rollback costs the batches learned since that copy (at most
 * guard.every), which is the price of never keeping a diverged model.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eval.h"
#include "holdout.h"
#include "learner.h"
#include "log.h"
#include "rng.h"
#include "trainer.h"

#define IDLE_WAIT_MS       100     /* longest sleep with empty queues */
#define EWMA_HALF_LIFE     1000.0  /* samples: the memory of the cost and accuracy averages */
#define RATE_WINDOW_NS     1000000000LL /* samples/s is measured over about this long */

/* From a millisecond (a full batch straight through) to minutes (a long linger on a quiet source). */
const double mb_trainer_wait_bounds_s[MB_TRAINER_WAIT_BUCKETS] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 10, 60,
};

/* Where a command stands (mb_trainer_request). */
enum req_state {
	REQ_IDLE,    /* nothing posted: a caller may claim the slot */
	REQ_FILLING, /* claimed by a caller, which writes req */
	REQ_POSTED,  /* req written (release by the caller); the trainer may take it */
	REQ_BUSY,    /* taken by the trainer (acquire), which carries it out */
	REQ_DONE,    /* done, req_reply set (release by the trainer) */
};

/* Where a reconfiguration stands (mb_trainer_reconfigure). */
enum live_state {
	LIVE_IDLE,     /* nothing posted: the caller may write live */
	LIVE_POSTED,   /* live written (release by the caller); the trainer may claim it */
	LIVE_APPLYING, /* claimed by the trainer (acquire), which reads live */
	LIVE_DONE,     /* applied or refused, live_result set (release by the trainer) */
};

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
	_Atomic int live_state;         /* enum live_state: hands live and live_result between the threads */
	struct mb_trainer_live live;    /* settings posted by mb_trainer_reconfigure */
	int live_result;                /* what applying them returned, valid at LIVE_DONE */
	_Atomic bool exited;            /* run() returned: nothing will be applied any more (relaxed) */
	uint64_t version;               /* model version: +1 per step and per reset, continued from a checkpoint */
	struct mb_rng rng;              /* seeds the model a reset makes */
	uint64_t ckpt_batches;          /* batches at the last checkpoint */
	uint64_t ckpt_version;          /* model version at the last checkpoint */
	int64_t ckpt_ns;                /* CLOCK_MONOTONIC of the last checkpoint */
	struct mb_batch **held;         /* batches kept from the pool while a position settles */
	uint32_t held_cap;              /* their most: one feed's pool */
	struct mb_ckpt_state *ckpt;     /* the next checkpoint's content; NULL without a store */
	struct mb_ckpt_buf ckpt_buf;    /* encoding buffers, kept from one checkpoint to the next */
	_Atomic int req_state;          /* enum req_state: hands req and req_reply between the threads */
	enum mb_trainer_cmd req;        /* the command posted */
	struct mb_trainer_reply req_reply; /* its outcome, valid at REQ_DONE */
	struct mb_divergence guard;     /* the divergence guard's judgement */
	float *good_params;             /* the last good parameters; NULL while the guard is off or no model */
	uint8_t *good_optim;            /* the optimizer state saved with them */
	size_t good_optim_cap;          /* its size: the optimizer's state size, fixed for its kind */
	size_t good_optim_len;          /* bytes of it in use */
	uint64_t good_version;          /* model version of the copy */
	uint64_t good_batches;          /* batches learned at the copy */
	struct mb_trainer_holdout *holdout; /* every k-th sample scored, not learned; NULL: no holdout */
	bool diverging;                 /* the last batch was rolled back, and no sane step came since */
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
	if (cfg->guard.enabled && mb_divergence_cfg_check(&cfg->guard) < 0)
		return -EINVAL;
	if (cfg->holdout_every == 1)
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
	atomic_init(&t->stats.last_cost, NAN);
	atomic_init(&t->stats.holdout_cost, NAN);
	atomic_init(&t->stats.holdout_accuracy, NAN);
	atomic_init(&t->stats.holdout_cost_average, NAN);
	atomic_init(&t->stats.holdout_accuracy_average, NAN);
	/* Every schedule starts at the base rate. */
	atomic_init(&t->stats.lr, (double)cfg->optim.lr);
	t->published_ns = t->rate_ns = t->ckpt_ns = mono_ns();
	mb_rng_seed(&t->rng, cfg->model.seed);
	mb_divergence_init(&t->guard, &cfg->guard);
	t->held_cap = mb_ingest_cfg(cfg->ing)->queue_batches;
	t->held = calloc(t->held_cap, sizeof *t->held);
	if (cfg->store)
		t->ckpt = calloc(1, sizeof *t->ckpt);
	if (!t->held || (cfg->store && !t->ckpt)) {
		mb_trainer_free(t);
		return -ENOMEM;
	}
	*ret = t;
	return 0;
}

/* Free the learner (with its model and optimizer) and the trainer. */
struct mb_trainer *mb_trainer_free(struct mb_trainer *t)
{
	if (!t)
		return NULL;
	mb_learner_free(t->learner);
	mb_trainer_holdout_free(t->holdout);
	mb_ckpt_buf_release(&t->ckpt_buf);
	free(t->good_params);
	free(t->good_optim);
	free(t->ckpt);
	free(t->held);
	free(t);
	return NULL;
}

/* Copy the parameters and optimizer state as the good state to come back to. */
static void guard_keep(struct mb_trainer *t)
{
	if (!t->good_params)
		return;
	struct mb_model *m = mb_learner_model(t->learner);
	memcpy(t->good_params, mb_model_params(m), mb_model_n_params(m) * sizeof(float));
	long len = mb_optim_state_save(mb_learner_optim(t->learner), t->good_optim, t->good_optim_cap);
	/* The size is fixed for the kind, which a reload cannot change: a failure here is a bug. */
	t->good_optim_len = len > 0 ? (size_t)len : 0;
	t->good_version = t->version;
	t->good_batches = t->batches;
}

/* The guard's buffers for the new model, and a first copy: the initial weights are sane. */
static int guard_alloc(struct mb_trainer *t)
{
	/* A restore that found the wrong shape leaves the buffers of a model that is gone. */
	free(t->good_params);
	free(t->good_optim);
	t->good_params = NULL;
	t->good_optim = NULL;
	if (!t->cfg.guard.enabled)
		return 0;
	struct mb_model *m = mb_learner_model(t->learner);
	t->good_optim_cap = mb_optim_state_size(mb_learner_optim(t->learner));
	t->good_params = malloc(mb_model_n_params(m) * sizeof(float));
	t->good_optim = malloc(t->good_optim_cap ? t->good_optim_cap : 1);
	if (!t->good_params || !t->good_optim)
		return -ENOMEM; /* freed with the trainer */
	mb_divergence_restart(&t->guard);
	guard_keep(t);
	return 0;
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
	r = guard_alloc(t);
	if (r < 0) {
		mb_log(LOG_ERR, "trainer: no memory for the divergence guard's copy of %zu parameters", n);
		t->learner = mb_learner_free(t->learner);
		return r;
	}
	if (t->cfg.holdout_every && !t->holdout) {
		r = mb_trainer_holdout_new(t->cfg.holdout_every, mc.max_batch, shape->n_features, shape->n_targets,
					   mb_model_is_classifier(m), &t->holdout);
		if (r < 0) {
			mb_log(LOG_ERR, "trainer: no memory for the holdout's rows");
			t->learner = mb_learner_free(t->learner);
			return r;
		}
	}
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
	slot->info.version = t->version;
	slot->info.samples = t->samples;
	slot->info.batches = t->batches;
	slot->info.cost = isnan(cost) ? 0.0f : (float)cost;
	slot->info.timestamp_ns = wall_ns();
	memcpy(slot->params, mb_model_params(m), mb_model_n_params(m) * sizeof(float));
	mb_handover_publish(t->cfg.handover);
	t->published_batches = t->batches;
	t->published_ns = mono_ns();
	atomic_store_explicit(&t->stats.published_ns, t->published_ns, memory_order_relaxed);
	atomic_fetch_add_explicit(&t->stats.published, 1, memory_order_relaxed);
}

/* Count how long the batch waited, from its first row to now, and its rows. */
static void count_wait(struct mb_trainer *t, const struct mb_batch *b)
{
	int64_t wait = b->opened_ns ? mono_ns() - b->opened_ns : 0;
	if (wait < 0)
		wait = 0;
	unsigned i = 0;
	while (i < MB_TRAINER_WAIT_BUCKETS && (double)wait > mb_trainer_wait_bounds_s[i] * 1e9)
		i++;
	atomic_fetch_add_explicit(&t->stats.wait_counts[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&t->stats.wait_sum_ns, (uint64_t)wait, memory_order_relaxed);
	atomic_store_explicit(&t->stats.last_rows, b->rows, memory_order_relaxed);
}

/*
 * The guard saw the cost diverge on batch b: restore the last good
 * parameters and optimizer state, lower the learning rate on a copy of
 * the configuration (which a reload may replace again), move the version
 * on, count and log it once.
 */
static void rollback(struct mb_trainer *t, const struct mb_batch *b, double cost)
{
	struct mb_model *m = mb_learner_model(t->learner);
	struct mb_optim *o = mb_learner_optim(t->learner);
	if (!t->good_params)
		return;
	memcpy(mb_model_params(m), t->good_params, mb_model_n_params(m) * sizeof(float));
	int r = t->good_optim_len ? mb_optim_state_load(o, t->good_optim, t->good_optim_len) : -EINVAL;
	if (r < 0)
		mb_log(LOG_ERR, "trainer: divergence rollback: the optimizer state could not be restored: %s; "
		       "its moments carry on", strerror(-r));
	double lr_before = mb_optim_lr(o);
	/*
	 * A burst of bad batches in a row is one divergence: the first lowers
	 * the rate; the next ones are scored by the good state just restored,
	 * so their cost is the data's doing, and lowering again would only
	 * starve the learning that follows.
	 */
	if (!t->diverging) {
		struct mb_optim_cfg lowered = t->cfg.optim;
		lowered.lr = (float)(lowered.lr * t->cfg.guard.lr_factor);
		lowered.lr_min = (float)(lowered.lr_min * t->cfg.guard.lr_factor);
		r = mb_optim_reconfigure(o, &lowered);
		if (r == 0)
			t->cfg.optim = lowered;
	}
	t->diverging = true;
	double lr_after = mb_optim_lr(o);
	uint64_t lost = t->batches - t->good_batches;
	t->version++;
	uint64_t n = atomic_fetch_add_explicit(&t->stats.rollbacks, 1, memory_order_relaxed) + 1;
	atomic_store_explicit(&t->stats.version, t->version, memory_order_relaxed);
	atomic_store_explicit(&t->stats.lr, lr_after, memory_order_relaxed);
	if (t->guard.cause == MB_DIVERGENCE_JUMP)
		mb_log(LOG_WARNING, "trainer: divergence: cost %.6g of a batch of %u rows from source %u is over %g "
		       "times the average %.6g; rolled back: %" PRIu64 " batches undone, back to version %" PRIu64
		       ", lr %.6g -> %.6g (rollback %" PRIu64 ")", cost, b->rows, b->source, t->cfg.guard.factor,
		       t->guard.last_average, lost, t->good_version, lr_before, lr_after, n);
	else
		mb_log(LOG_WARNING, "trainer: divergence: cost %g of a batch of %u rows from source %u is not finite "
		       "(average %.6g); rolled back: %" PRIu64 " batches undone, back to version %" PRIu64
		       ", lr %.6g -> %.6g (rollback %" PRIu64 ")", cost, b->rows, b->source, t->guard.last_average,
		       lost, t->good_version, lr_before, lr_after, n);
}

/* Publish the holdout's figures. */
static void holdout_figures(struct mb_trainer *t)
{
	const struct mb_trainer_holdout *ho = t->holdout;
	atomic_store_explicit(&t->stats.held_out, ho->h.taken, memory_order_relaxed);
	atomic_store_explicit(&t->stats.holdout_rows, ho->h.acc.rows, memory_order_relaxed);
	atomic_store_explicit(&t->stats.holdout_cost, mb_trainer_holdout_cost(ho), memory_order_relaxed);
	atomic_store_explicit(&t->stats.holdout_accuracy, mb_trainer_holdout_accuracy(ho), memory_order_relaxed);
	atomic_store_explicit(&t->stats.holdout_cost_average, mb_ewma_value(&ho->cost), memory_order_relaxed);
	atomic_store_explicit(&t->stats.holdout_accuracy_average,
			      ho->classifier ? mb_ewma_value(&ho->accuracy) : NAN, memory_order_relaxed);
}

/*
 * Take the holdout's rows out of b and score them with the model as it is
 * before this step, so they are judged by a model that never learned
 * from them. False when nothing is left to learn from.
 */
static bool hold_out(struct mb_trainer *t, struct mb_batch *b)
{
	struct mb_trainer_holdout *ho = t->holdout;
	uint32_t rows = mb_trainer_holdout_split(ho, b);
	if (!rows)
		return b->rows != 0;
	int r = mb_trainer_holdout_score(ho, t->learner, rows);
	if (r < 0)
		mb_log(LOG_WARNING, "trainer: %u held-out rows from source %u not scored: %s", rows, b->source,
		       r == -EDOM ? "non-finite cost" : strerror(-r));
	holdout_figures(t);
	return b->rows != 0;
}

/*
 * One step on one batch: the learner's forward, progressive score,
 * backward and optimizer step, then the figures. This is the step
 * boundary: a synchronisation of the parameters with other trainers
 * (averaging) belongs right after the optimizer step, here.
 */
static void trainer_step(struct mb_trainer *t, struct mb_batch *b)
{
	count_wait(t, b);
	if (t->holdout && !hold_out(t, b))
		return;
	struct mb_step_result res = {0};
	int r = mb_learner_step(t->learner, b->x, b->y, b->weighted ? b->w : NULL, b->rows, &res);
	if (r < 0) {
		atomic_fetch_add_explicit(&t->stats.skipped, 1, memory_order_relaxed);
		mb_log(LOG_WARNING, "trainer: step skipped on a batch of %u rows from source %u: %s", b->rows,
		       b->source, r == -EDOM ? "non-finite cost or gradient" : strerror(-r));
		/* A non-finite cost is a divergence too; a non-finite gradient may be one batch's fault. */
		if (r == -EDOM && !isfinite(res.cost) && mb_divergence_judge(&t->guard, res.cost) ==
		    MB_DIVERGENCE_ROLLBACK)
			rollback(t, b, res.cost);
		return;
	}
	t->samples += b->rows;
	t->batches++;
	t->version++;
	enum mb_divergence_verdict v = mb_divergence_judge(&t->guard, res.cost);
	if (v == MB_DIVERGENCE_ROLLBACK) {
		/* The rows were learned from and then undone: counted, but their cost stays out of the averages. */
		atomic_store_explicit(&t->stats.last_cost, res.cost, memory_order_relaxed);
		atomic_store_explicit(&t->stats.samples, t->samples, memory_order_relaxed);
		atomic_store_explicit(&t->stats.batches, t->batches, memory_order_relaxed);
		rollback(t, b, res.cost);
		return;
	}
	t->diverging = false;
	if (v == MB_DIVERGENCE_SAVE)
		guard_keep(t);
	if (isfinite(res.cost))
		mb_ewma_add_n(&t->cost, res.cost, b->rows);
	atomic_store_explicit(&t->stats.last_cost, res.cost, memory_order_relaxed);
	atomic_store_explicit(&t->stats.lr, mb_optim_lr(mb_learner_optim(t->learner)), memory_order_relaxed);
	if (mb_model_is_classifier(mb_learner_model(t->learner)) && b->rows)
		mb_ewma_add_n(&t->accuracy, (double)res.correct / b->rows, b->rows);
	atomic_store_explicit(&t->stats.samples, t->samples, memory_order_relaxed);
	atomic_store_explicit(&t->stats.batches, t->batches, memory_order_relaxed);
	atomic_store_explicit(&t->stats.version, t->version, memory_order_relaxed);
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

/*
 * Apply posted live settings, if any: called between steps, so a step
 * never sees half of them. Without a model yet they are checked on a
 * throw-away optimizer and kept for the model to come.
 */
static void apply_live(struct mb_trainer *t)
{
	int expected = LIVE_POSTED;
	if (!atomic_compare_exchange_strong_explicit(&t->live_state, &expected, LIVE_APPLYING, memory_order_acquire,
						     memory_order_relaxed))
		return;
	int r;
	if (t->learner) {
		r = mb_optim_reconfigure(mb_learner_optim(t->learner), &t->live.optim);
	} else {
		struct mb_optim *check = NULL;
		r = t->live.optim.kind == t->cfg.optim.kind ? mb_optim_new(&t->live.optim, 1, &check) : -EINVAL;
		mb_optim_free(check);
	}
	if (r == 0) {
		t->cfg.optim = t->live.optim;
		t->cfg.publish_every_batches = t->live.publish_every_batches;
		t->cfg.publish_every_ms = t->live.publish_every_ms;
		double lr = t->learner ? mb_optim_lr(mb_learner_optim(t->learner)) : t->live.optim.lr;
		atomic_store_explicit(&t->stats.lr, lr, memory_order_relaxed);
	}
	t->live_result = r;
	atomic_store_explicit(&t->live_state, LIVE_DONE, memory_order_release);
}

/* ---- Checkpoints, reset and commands (see the top of this file) ---- */

/* "DIR/ckpt-<version>.mbck" */
static void ckpt_path(const struct mb_trainer *t, uint64_t version, char *buf, size_t cap)
{
	char name[MB_CKPT_NAME_BYTES];
	mb_ckpt_store_name(version, name);
	snprintf(buf, cap, "%s/%s", mb_ckpt_store_dir(t->cfg.store), name);
}

/*
 * Learn what source ref has queued until the position its hook reports
 * is that of a batch already learned from. The position's bytes in pos
 * (MB_CKPT_POS_MAX_BYTES), 0 for none, or the hook's -errno.
 */
static long settle_position(struct mb_trainer *t, const struct mb_ckpt_source_ref *ref, uint8_t *pos)
{
	struct mb_feed *f = NULL;
	uint32_t held = 0;
	long n;
	for (;;) {
		n = ref->ops->position(ref->src, pos, MB_CKPT_POS_MAX_BYTES);
		/* Looked up after the position: a feed its batch went through is visible by now. */
		if (!f)
			f = mb_ingest_feed_peek(t->cfg.ing, ref->index);
		struct mb_batch *b = f && held < t->held_cap ? mb_feed_take(f) : NULL;
		if (!b)
			break;
		if (b->rows)
			trainer_step(t, b);
		t->held[held++] = b;
	}
	for (uint32_t i = 0; i < held; i++)
		mb_feed_recycle(f, t->held[i]);
	return n;
}

#define LOAD_STAT(x) atomic_load_explicit(&(x), memory_order_relaxed)

/* Fill t->ckpt with the state after the last step; settles the positions first. 0, or -errno with *why. */
static int ckpt_fill(struct mb_trainer *t, const char **why)
{
	struct mb_ckpt_state *st = t->ckpt;
	unsigned n = t->cfg.sources ? t->cfg.n_sources : 0;

	st->n_sources = n;
	for (unsigned i = 0; i < n; i++) {
		const struct mb_ckpt_source_ref *ref = &t->cfg.sources[i];
		struct mb_ckpt_source *s = &st->src[i];
		long len = ref->ops->position ? settle_position(t, ref, s->pos) : 0;
		if (len < 0) {
			*why = "a source's position";
			return (int)len;
		}
		snprintf(s->name, sizeof s->name, "%s", ref->name);
		s->pos_len = (uint32_t)len;
		s->has_counters = ref->stats != NULL;
		if (ref->stats) {
			s->received = LOAD_STAT(ref->stats->received);
			s->queued = LOAD_STAT(ref->stats->queued);
			s->dropped = LOAD_STAT(ref->stats->dropped);
			s->rejected = LOAD_STAT(ref->stats->rejected);
			s->bytes = LOAD_STAT(ref->stats->bytes);
		}
	}
	struct mb_model *m = mb_learner_model(t->learner);
	double cost = mb_ewma_value(&t->cost);
	memset(&st->info, 0, sizeof st->info);
	mb_model_describe(m, &st->info);
	st->info.version = t->version;
	st->info.samples = t->samples;
	st->info.batches = t->batches;
	st->info.cost = isnan(cost) ? 0.0f : (float)cost;
	st->info.timestamp_ns = wall_ns();
	st->params = mb_model_params(m);
	st->optim = mb_learner_optim(t->learner);
	st->counters = (struct mb_ckpt_counters){
		.samples = t->samples,
		.batches = t->batches,
		.skipped = LOAD_STAT(t->stats.skipped),
		.cost_primed = t->cost.primed,
		.accuracy_primed = t->accuracy.primed,
		.cost = t->cost.value,
		.accuracy = t->accuracy.value,
		.has_holdout = t->holdout != NULL,
	};
	if (t->holdout)
		mb_trainer_holdout_save(t->holdout, &st->counters.holdout);
	st->has_rng = true;
	mb_rng_save(&t->rng, st->rng);
	st->config = t->cfg.config_text;
	st->config_len = st->config ? strlen(st->config) : 0;
	return 0;
}

static double ms_between(int64_t a, int64_t b)
{
	return (double)(b - a) / 1e6;
}

/*
 * Write a checkpoint of the state after the last step, then delete the
 * oldest beyond keep. 0, or -errno, logged and counted here; reply (may
 * be NULL) gets the path, or the reason in words.
 */
static int checkpoint(struct mb_trainer *t, int priority, struct mb_trainer_reply *reply)
{
	char path[PATH_MAX];
	const char *why = "encoding";
	int64_t t0 = mono_ns();
	int err = ckpt_fill(t, &why);
	int64_t t1 = mono_ns();
	ckpt_path(t, t->version, path, sizeof path);
	if (err == 0 && (err = mb_ckpt_state_encode(t->ckpt, &t->ckpt_buf)) < 0)
		why = "encoding";
	int64_t t2 = mono_ns();
	if (err == 0)
		err = mb_ckpt_store_write(t->cfg.store, t->version, t->ckpt_buf.out, t->ckpt_buf.len, &why);
	int64_t t3 = mono_ns();
	/* A failure is not retried at once: the next one is due at the usual interval. */
	t->ckpt_batches = t->batches;
	t->ckpt_version = t->version;
	t->ckpt_ns = t3;
	if (err < 0) {
		atomic_fetch_add_explicit(&t->stats.checkpoint_failures, 1, memory_order_relaxed);
		mb_log(LOG_ERR, "checkpoint %s: %s: %s; the previous checkpoints are kept", path, why, strerror(-err));
		if (reply)
			snprintf(reply->error, sizeof reply->error, "checkpoint %.200s: %s: %s", path, why, strerror(-err));
		return err;
	}
	int pruned = mb_ckpt_store_prune(t->cfg.store);
	if (pruned < 0)
		mb_log(LOG_WARNING, "checkpoints in %s: cannot delete an old one: %s", mb_ckpt_store_dir(t->cfg.store),
		       strerror(-pruned));
	atomic_fetch_add_explicit(&t->stats.checkpoints, 1, memory_order_relaxed);
	atomic_store_explicit(&t->stats.checkpoint_version, t->version, memory_order_relaxed);
	atomic_store_explicit(&t->stats.checkpoint_duration_ns, (uint64_t)(t3 - t0), memory_order_relaxed);
	atomic_store_explicit(&t->stats.checkpoint_ns, t3, memory_order_relaxed);
	mb_log(priority, "checkpoint %s: version %" PRIu64 ", %zu bytes; settled in %.2f ms, encoded in %.2f ms, "
	       "written in %.2f ms", path, t->version, t->ckpt_buf.len, ms_between(t0, t1), ms_between(t1, t2),
	       ms_between(t2, t3));
	if (reply)
		snprintf(reply->path, sizeof reply->path, "%s", path);
	return 0;
}

/* A checkpoint if the count or the clock says so. */
static void maybe_checkpoint(struct mb_trainer *t, int64_t now)
{
	if (!t->learner || !t->cfg.store)
		return;
	bool by_count = t->cfg.checkpoint_every_batches &&
			t->batches - t->ckpt_batches >= t->cfg.checkpoint_every_batches;
	bool by_time = t->cfg.checkpoint_every_ms && t->version != t->ckpt_version &&
		       now - t->ckpt_ns >= (int64_t)t->cfg.checkpoint_every_ms * 1000000;
	if (by_count || by_time)
		checkpoint(t, LOG_DEBUG, NULL);
}

/*
 * Start the model and the optimizer afresh, same shape, the weights drawn
 * with a seed from t->rng; the version moves on and a snapshot goes out.
 */
static int reset_model(struct mb_trainer *t, struct mb_trainer_reply *reply)
{
	struct mb_model *m = mb_learner_model(t->learner), *fresh = NULL;
	struct mb_optim *o = mb_learner_optim(t->learner), *fresh_optim = NULL;
	struct mb_model_cfg mc = *mb_model_cfg(m);
	uint8_t *state = NULL;
	size_t n = mb_model_n_params(m);

	mc.seed = mb_rng_u64(&t->rng);
	int err = mb_model_new(&mc, &fresh);
	if (err == 0)
		err = mb_optim_new(&t->cfg.optim, n, &fresh_optim);
	if (err < 0)
		goto out_free;
	/* A fresh optimizer's state, loaded into the live one: moments and step count start over. */
	size_t len = mb_optim_state_size(fresh_optim);
	state = malloc(len);
	if (!state) {
		err = -ENOMEM;
		goto out_free;
	}
	long saved = mb_optim_state_save(fresh_optim, state, len);
	err = saved < 0 ? (int)saved : mb_optim_state_load(o, state, (size_t)saved);
	if (err < 0)
		goto out_free;
	memcpy(mb_model_params(m), mb_model_params(fresh), n * sizeof(float));
	t->version++;
	t->diverging = false;
	mb_divergence_restart(&t->guard);
	guard_keep(t);
	mb_ewma_reset(&t->cost);
	mb_ewma_reset(&t->accuracy);
	atomic_store_explicit(&t->stats.version, t->version, memory_order_relaxed);
	atomic_store_explicit(&t->stats.cost, NAN, memory_order_relaxed);
	atomic_store_explicit(&t->stats.accuracy, NAN, memory_order_relaxed);
	atomic_store_explicit(&t->stats.lr, mb_optim_lr(o), memory_order_relaxed);
	publish(t);
	mb_log(LOG_NOTICE, "trainer: model and optimizer reset (seed %" PRIu64 "): version %" PRIu64, mc.seed,
	       t->version);
out_free:
	if (err < 0)
		snprintf(reply->error, sizeof reply->error, "reset failed: %s", strerror(-err));
	free(state);
	mb_optim_free(fresh_optim);
	mb_model_free(fresh);
	return err;
}

/* Carry out a posted command, if any: between two steps. */
static void serve_request(struct mb_trainer *t)
{
	int expected = REQ_POSTED;
	if (!atomic_compare_exchange_strong_explicit(&t->req_state, &expected, REQ_BUSY, memory_order_acquire,
						     memory_order_relaxed))
		return;
	struct mb_trainer_reply *r = &t->req_reply;
	memset(r, 0, sizeof *r);
	if (!t->learner) {
		r->result = -EAGAIN;
		snprintf(r->error, sizeof r->error, "no model yet: no valid sample has arrived");
	} else if (t->req == MB_TRAINER_RESET) {
		r->result = reset_model(t, r);
	} else if (!t->cfg.store) {
		r->result = -ENOTSUP;
		snprintf(r->error, sizeof r->error, "checkpoints are off: set checkpoint.dir");
	} else {
		r->result = checkpoint(t, LOG_INFO, r);
	}
	r->version = t->version;
	atomic_store_explicit(&t->req_state, REQ_DONE, memory_order_release);
}

/* The loop of run(): learn until finished and drained. */
static int run_loop(struct mb_trainer *t)
{
	struct mb_doorbell *bell = mb_ingest_doorbell(t->cfg.ing);
	for (;;) {
		atomic_fetch_add_explicit(&t->stats.heartbeat, 1, memory_order_relaxed);
		apply_live(t);
		serve_request(t);
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
		maybe_checkpoint(t, now);
		maybe_publish(t, now);
		update_rate(t, now);
		if (taken)
			continue;
		if (finishing)
			break;
		mb_doorbell_arm(bell);
		if (take_round(t) || atomic_load_explicit(&t->snapshot_wanted, memory_order_relaxed) ||
		    atomic_load_explicit(&t->live_state, memory_order_relaxed) == LIVE_POSTED ||
		    atomic_load_explicit(&t->req_state, memory_order_relaxed) == REQ_POSTED)
			continue;
		mb_doorbell_wait(bell, IDLE_WAIT_MS);
	}
	/* Every batch is learned from: the last checkpoint holds all of them. */
	if (t->learner && t->cfg.store && t->cfg.checkpoint_on_exit)
		checkpoint(t, LOG_INFO, NULL);
	if (t->learner)
		publish(t);
	atomic_store_explicit(&t->stats.samples_per_s, 0.0, memory_order_relaxed);
	return 0;
}

/* The thread body (see trainer.h). */
int mb_trainer_run(struct mb_trainer *t)
{
	int r = run_loop(t);
	atomic_store_explicit(&t->exited, true, memory_order_relaxed);
	return r;
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

/* Post live settings for the trainer thread and wait for its verdict (see trainer.h). */
int mb_trainer_reconfigure(struct mb_trainer *t, const struct mb_trainer_live *live, int timeout_ms)
{
	if (atomic_load_explicit(&t->live_state, memory_order_acquire) != LIVE_IDLE)
		return -EBUSY;
	t->live = *live;
	atomic_store_explicit(&t->live_state, LIVE_POSTED, memory_order_release);
	mb_doorbell_ring(mb_ingest_doorbell(t->cfg.ing));
	int64_t deadline = mono_ns() + (int64_t)timeout_ms * 1000000;
	struct timespec pause = {0, 1000000};
	for (;;) {
		if (atomic_load_explicit(&t->live_state, memory_order_acquire) == LIVE_DONE)
			break;
		bool gone = atomic_load_explicit(&t->exited, memory_order_relaxed);
		if (gone || mono_ns() >= deadline) {
			/* Take the offer back unless the trainer has claimed it; then its verdict is moments away. */
			int expected = LIVE_POSTED;
			if (atomic_compare_exchange_strong_explicit(&t->live_state, &expected, LIVE_IDLE,
								    memory_order_relaxed, memory_order_relaxed))
				return gone ? -ESHUTDOWN : -ETIMEDOUT;
		}
		nanosleep(&pause, NULL);
	}
	int r = t->live_result;
	atomic_store_explicit(&t->live_state, LIVE_IDLE, memory_order_relaxed);
	return r;
}

/* Post a command for the trainer thread and wait for its outcome (see trainer.h). */
int mb_trainer_request(struct mb_trainer *t, enum mb_trainer_cmd cmd, int timeout_ms,
		       struct mb_trainer_reply *ret)
{
	memset(ret, 0, sizeof *ret);
	int expected = REQ_IDLE;
	if (!atomic_compare_exchange_strong_explicit(&t->req_state, &expected, REQ_FILLING, memory_order_acquire,
						     memory_order_relaxed)) {
		snprintf(ret->error, sizeof ret->error, "another command is under way");
		return ret->result = -EBUSY;
	}
	t->req = cmd;
	atomic_store_explicit(&t->req_state, REQ_POSTED, memory_order_release);
	mb_doorbell_ring(mb_ingest_doorbell(t->cfg.ing));
	int64_t deadline = mono_ns() + (int64_t)timeout_ms * 1000000;
	struct timespec pause = {0, 1000000};
	for (;;) {
		if (atomic_load_explicit(&t->req_state, memory_order_acquire) == REQ_DONE)
			break;
		bool gone = atomic_load_explicit(&t->exited, memory_order_relaxed);
		if (gone || mono_ns() >= deadline) {
			/* Take the command back unless the trainer has it; then its outcome is what to wait for. */
			expected = REQ_POSTED;
			if (atomic_compare_exchange_strong_explicit(&t->req_state, &expected, REQ_IDLE,
								    memory_order_relaxed, memory_order_relaxed)) {
				snprintf(ret->error, sizeof ret->error, "%s",
					 gone ? "the trainer has stopped" : "the trainer did not get to it in time");
				return ret->result = gone ? -ESHUTDOWN : -ETIMEDOUT;
			}
		}
		nanosleep(&pause, NULL);
	}
	*ret = t->req_reply;
	atomic_store_explicit(&t->req_state, REQ_IDLE, memory_order_release);
	return ret->result;
}

/* Append to a NUL-terminated text in buf, cutting it at cap. */
static void text_add(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void text_add(char *buf, size_t cap, const char *fmt, ...)
{
	size_t len = strnlen(buf, cap);
	va_list ap;
	va_start(ap, fmt);
	if (len + 1 < cap)
		vsnprintf(buf + len, cap - len, fmt, ap);
	va_end(ap);
}

/* "softmax 784-10 (softmax)", "mlp 784-128-10 (relu, softmax)": a shape for an error message. */
static void shape_text(const struct mb_snap_info *info, char *buf, size_t cap)
{
	static const char *const kinds[] = {"?", "linear", "logistic", "softmax", "mlp"};
	static const char *const acts[] = {"identity", "relu", "tanh", "sigmoid", "softmax"};
	buf[0] = '\0';
	text_add(buf, cap, "%s ", (unsigned)info->kind < 5 ? kinds[info->kind] : "?");
	for (uint32_t i = 0; i <= info->n_layers && i <= MB_MAX_LAYERS; i++)
		text_add(buf, cap, "%s%u", i ? "-" : "", info->sizes[i]);
	for (uint32_t i = 0; i < info->n_layers && i < MB_MAX_LAYERS; i++)
		text_add(buf, cap, "%s%s", i ? ", " : " (", (unsigned)info->act[i] < 5 ? acts[info->act[i]] : "?");
	text_add(buf, cap, ")");
}

/* The same kind, layers, widths and activations. */
static bool same_shape(const struct mb_snap_info *a, const struct mb_snap_info *b)
{
	if (a->kind != b->kind || a->n_layers != b->n_layers)
		return false;
	for (uint32_t i = 0; i <= a->n_layers; i++)
		if (a->sizes[i] != b->sizes[i] || (i < a->n_layers && a->act[i] != b->act[i]))
			return false;
	return true;
}

/* Continue from a checkpoint (see trainer.h). */
int mb_trainer_restore(struct mb_trainer *t, const struct mb_ckpt_state *st, char *why, size_t cap)
{
	if (t->learner)
		return -EALREADY;
	const struct mb_ingest_cfg *ic = mb_ingest_cfg(t->cfg.ing);
	struct mb_shape shape = {t->cfg.model.n_inputs ? t->cfg.model.n_inputs : st->info.sizes[0], ic->n_targets};
	int r = create_model(t, &shape);
	if (r < 0) {
		snprintf(why, cap, "cannot create the configured model for %u inputs: %s", shape.n_features,
			 strerror(-r));
		return r;
	}
	struct mb_model *m = mb_learner_model(t->learner);
	struct mb_optim *o = mb_learner_optim(t->learner);
	struct mb_snap_info want = {0};
	mb_model_describe(m, &want);
	struct mb_diag d = {0};
	if (!same_shape(&want, &st->info) || mb_ingest_shape_agree(t->cfg.ing, &shape, &d) < 0) {
		char have[160], conf[160];
		shape_text(&st->info, have, sizeof have);
		shape_text(&want, conf, sizeof conf);
		snprintf(why, cap, "its model is %s, the configuration makes %s", have, conf);
		t->learner = mb_learner_free(t->learner);
		atomic_store_explicit(&t->stats.has_model, false, memory_order_relaxed);
		return -EINVAL;
	}
	mb_snap_params_copy(mb_model_params(m), st->params_le, mb_model_n_params(m));
	if (st->optim_state && (r = mb_optim_state_load(o, st->optim_state, st->optim_len)) < 0)
		mb_log(LOG_WARNING, "checkpoint: the optimizer state is not for this %s optimizer (%s): it starts afresh",
		       mb_optim_kind_name(t->cfg.optim.kind), strerror(-r));
	t->version = st->info.version;
	t->samples = st->has_counters ? st->counters.samples : st->info.samples;
	t->batches = st->has_counters ? st->counters.batches : st->info.batches;
	if (st->has_counters) {
		t->cost.value = st->counters.cost;
		t->cost.primed = st->counters.cost_primed;
		t->accuracy.value = st->counters.accuracy;
		t->accuracy.primed = st->counters.accuracy_primed;
		atomic_store_explicit(&t->stats.skipped, st->counters.skipped, memory_order_relaxed);
	}
	/* The same samples stay held out as in a run that never stopped. */
	if (t->holdout && st->has_counters && st->counters.has_holdout) {
		mb_trainer_holdout_restore(t->holdout, &st->counters.holdout);
		holdout_figures(t);
	}
	if (st->has_rng && mb_rng_load(&t->rng, st->rng) < 0)
		mb_log(LOG_WARNING, "checkpoint: the trainer's generator state is invalid: it keeps its seed");
	t->ckpt_batches = t->published_batches = t->rate_samples = t->batches;
	t->ckpt_version = t->version;
	atomic_store_explicit(&t->stats.samples, t->samples, memory_order_relaxed);
	atomic_store_explicit(&t->stats.batches, t->batches, memory_order_relaxed);
	atomic_store_explicit(&t->stats.version, t->version, memory_order_relaxed);
	atomic_store_explicit(&t->stats.checkpoint_version, t->version, memory_order_relaxed);
	atomic_store_explicit(&t->stats.cost, mb_ewma_value(&t->cost), memory_order_relaxed);
	atomic_store_explicit(&t->stats.accuracy, mb_ewma_value(&t->accuracy), memory_order_relaxed);
	atomic_store_explicit(&t->stats.lr, mb_optim_lr(o), memory_order_relaxed);
	/* The restored state is the guard's good state until it has judged some batches. */
	guard_keep(t);
	/* Late joiners get the restored model at once. */
	atomic_store_explicit(&t->snapshot_wanted, true, memory_order_relaxed);
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
