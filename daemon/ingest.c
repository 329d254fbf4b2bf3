/* SPDX-License-Identifier: MIT */
/*
 * ingest.c - the state every source thread and the trainer share.
 *
 * The shape is fixed once and then only read, so the check every message
 * makes is two relaxed loads behind one acquire load of shape_fixed; the
 * mutex only orders the first sources that race to fix it.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#include "ingest.h"

struct mb_ingest {
	struct mb_ingest_cfg cfg;                       /* as given to mb_ingest_new */
	_Atomic bool stopping;                          /* sources end their run (relaxed: a flag, no data) */
	_Atomic bool paused;                            /* sources stop reading (relaxed) */
	pthread_mutex_t shape_lock;                     /* serialises fixing the shape */
	struct mb_shape shape;                          /* valid once shape_fixed */
	_Atomic bool shape_fixed;                       /* release after shape is written, acquire before reading it */
	_Atomic(struct mb_feed *) feeds[MB_MAX_SOURCES]; /* release by the source creating it, acquire by the trainer */
	struct mb_source_stats stats[MB_MAX_SOURCES];   /* counters, one set per source index */
	struct mb_doorbell *bell;                       /* rung on every submitted batch */
};

/*
 * Create the shared state and its doorbell. When cfg fixes both n_features
 * and n_targets the shape is agreed from the start. 0 and *ret, -EINVAL
 * for a batch size of 0, or -errno from the doorbell.
 */
int mb_ingest_new(const struct mb_ingest_cfg *cfg, struct mb_ingest **ret)
{
	if (!cfg->batch_size || cfg->queue_batches < 2)
		return -EINVAL;
	struct mb_ingest *ing = calloc(1, sizeof *ing);
	if (!ing)
		return -ENOMEM;
	ing->cfg = *cfg;
	int r = mb_doorbell_new(&ing->bell);
	if (r < 0)
		goto out_free;
	pthread_mutex_init(&ing->shape_lock, NULL);
	if (cfg->n_features && cfg->n_targets) {
		ing->shape = (struct mb_shape){cfg->n_features, cfg->n_targets};
		atomic_store_explicit(&ing->shape_fixed, true, memory_order_release);
	}
	*ret = ing;
	return 0;
out_free:
	free(ing);
	return r;
}

/* Free the feeds (every source and the trainer have stopped) and the doorbell. */
struct mb_ingest *mb_ingest_free(struct mb_ingest *ing)
{
	if (!ing)
		return NULL;
	for (unsigned i = 0; i < MB_MAX_SOURCES; i++)
		mb_feed_free(atomic_load_explicit(&ing->feeds[i], memory_order_acquire));
	mb_doorbell_free(ing->bell);
	pthread_mutex_destroy(&ing->shape_lock);
	free(ing);
	return NULL;
}

/* The configuration the state was created with. */
const struct mb_ingest_cfg *mb_ingest_cfg(const struct mb_ingest *ing)
{
	return &ing->cfg;
}

/* Raise the stop flag and ring the doorbell so a sleeping trainer looks at it. */
void mb_ingest_stop(struct mb_ingest *ing)
{
	atomic_store_explicit(&ing->stopping, true, memory_order_relaxed);
	mb_doorbell_ring(ing->bell);
}

/* True once mb_ingest_stop() was called. */
bool mb_ingest_stopping(const struct mb_ingest *ing)
{
	return atomic_load_explicit(&ing->stopping, memory_order_relaxed);
}

/* Pause or resume reading; sources look at the flag between messages. */
void mb_ingest_pause(struct mb_ingest *ing, bool paused)
{
	atomic_store_explicit(&ing->paused, paused, memory_order_relaxed);
}

/* True while paused. */
bool mb_ingest_paused(const struct mb_ingest *ing)
{
	return atomic_load_explicit(&ing->paused, memory_order_relaxed);
}

static int mismatch(const struct mb_shape *have, const struct mb_shape *s, struct mb_diag *diag)
{
	if (have->n_features != s->n_features)
		return mb_diag_set(diag, -EINVAL, MB_R_DIM_MISMATCH, 0, 0,
				   "sample has %u features, the model takes %u", s->n_features, have->n_features);
	return mb_diag_set(diag, -EINVAL, MB_R_DIM_MISMATCH, 0, 0,
			   "sample has %u targets, the model takes %u", s->n_targets, have->n_targets);
}

/*
 * Agree on the shape (see ingest.h). A field of s that is 0 takes the
 * configured value; a configured n_targets must be matched even while
 * the feature count is still open.
 */
int mb_ingest_shape_agree(struct mb_ingest *ing, const struct mb_shape *s, struct mb_diag *diag)
{
	if (atomic_load_explicit(&ing->shape_fixed, memory_order_acquire)) {
		if (s->n_features == ing->shape.n_features && s->n_targets == ing->shape.n_targets)
			return 0;
		return mismatch(&ing->shape, s, diag);
	}
	struct mb_shape want = {ing->cfg.n_features, ing->cfg.n_targets};
	if ((want.n_features && s->n_features != want.n_features) ||
	    (want.n_targets && s->n_targets != want.n_targets))
		return mismatch(&want, s, diag);
	if (!s->n_features)
		return mb_diag_set(diag, -EINVAL, MB_R_DIM_MISMATCH, 0, 0, "sample has no features");
	pthread_mutex_lock(&ing->shape_lock);
	int r = 0;
	if (atomic_load_explicit(&ing->shape_fixed, memory_order_relaxed)) {
		if (s->n_features != ing->shape.n_features || s->n_targets != ing->shape.n_targets)
			r = mismatch(&ing->shape, s, diag);
	} else {
		ing->shape = *s;
		atomic_store_explicit(&ing->shape_fixed, true, memory_order_release);
	}
	pthread_mutex_unlock(&ing->shape_lock);
	return r;
}

/* The agreed shape, or -EAGAIN before any sample fixed it. */
int mb_ingest_shape(const struct mb_ingest *ing, struct mb_shape *ret)
{
	if (!atomic_load_explicit(&ing->shape_fixed, memory_order_acquire))
		return -EAGAIN;
	*ret = ing->shape;
	return 0;
}

/*
 * The feed of index, created now if need be: only the source thread of
 * index calls this, so creation never races. -EAGAIN before the shape is
 * agreed, -EINVAL for an index out of range, or -errno from mb_feed_new.
 */
int mb_ingest_feed(struct mb_ingest *ing, unsigned index, struct mb_feed **ret)
{
	if (index >= MB_MAX_SOURCES)
		return -EINVAL;
	struct mb_feed *f = atomic_load_explicit(&ing->feeds[index], memory_order_acquire);
	if (!f) {
		struct mb_shape s;
		int r = mb_ingest_shape(ing, &s);
		if (r < 0)
			return r;
		struct mb_feed_cfg fc = {
			.batch_rows = ing->cfg.batch_size,
			.n_features = s.n_features,
			.n_targets = s.n_targets,
			.n_batches = ing->cfg.queue_batches,
			.policy = ing->cfg.policy,
			.source = index,
		};
		r = mb_feed_new(&fc, ing->bell, &f);
		if (r < 0)
			return r;
		atomic_store_explicit(&ing->feeds[index], f, memory_order_release);
	}
	*ret = f;
	return 0;
}

/* The feed of index if its source created it, else NULL. */
struct mb_feed *mb_ingest_feed_peek(struct mb_ingest *ing, unsigned index)
{
	if (index >= MB_MAX_SOURCES)
		return NULL;
	return atomic_load_explicit(&ing->feeds[index], memory_order_acquire);
}

/* The counters of index, or NULL when out of range. */
struct mb_source_stats *mb_ingest_stats(struct mb_ingest *ing, unsigned index)
{
	return index < MB_MAX_SOURCES ? &ing->stats[index] : NULL;
}

/* The doorbell sources ring; owned by ing. */
struct mb_doorbell *mb_ingest_doorbell(struct mb_ingest *ing)
{
	return ing->bell;
}

/*
 * Check one decoded row's targets against the model (see ingest.h):
 * class indices must be whole numbers below n_classes, probabilities
 * within [0, 1]. 0, or -EINVAL with *diag (MB_R_LABEL).
 */
int mb_ingest_check_targets(const struct mb_ingest *ing, const float *y, struct mb_diag *diag)
{
	if (ing->cfg.n_classes) {
		float c = y[0];
		if (!(c >= 0.0f) || c >= (float)ing->cfg.n_classes || c != floorf(c))
			return mb_diag_set(diag, -EINVAL, MB_R_LABEL, 0, 0,
					   "label %g is not a class index below %u", (double)c, ing->cfg.n_classes);
	} else if (ing->cfg.unit_targets) {
		if (!(y[0] >= 0.0f && y[0] <= 1.0f))
			return mb_diag_set(diag, -EINVAL, MB_R_LABEL, 0, 0,
					   "target %g is not within [0, 1]", (double)y[0]);
	}
	return 0;
}
