/* SPDX-License-Identifier: MIT */
/*
 * checkpoint_state.c - the sections of a checkpoint, encoded and decoded;
 * the layouts are in checkpoint_state.h.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint_state.h"
#include "wire.h"

/* Make *buf hold at least need bytes. 0 or -ENOMEM. */
static int reserve(uint8_t **buf, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	uint8_t *p = realloc(*buf, need);
	if (!p)
		return -ENOMEM;
	*buf = p;
	*cap = need;
	return 0;
}

static void put_f64(struct mb_wire *w, double v)
{
	uint64_t u;
	memcpy(&u, &v, sizeof u);
	mb_wire_put_u64(w, u);
}

static double get_f64(struct mb_wire *w)
{
	uint64_t u = mb_wire_u64(w);
	double v;
	memcpy(&v, &u, sizeof v);
	return v;
}

static void put_name(struct mb_wire *w, const char *name)
{
	size_t n = strlen(name);
	mb_wire_put_u32(w, (uint32_t)n);
	mb_wire_put_bytes(w, name, n);
}

/* Bytes put_name takes. */
static size_t name_size(const char *name)
{
	return 4 + strlen(name);
}

static size_t counters_size(const struct mb_ckpt_state *st)
{
	size_t n = 4 + 3 * 8 + 4 + 4 + 2 * 8;
	for (unsigned i = 0; i < st->n_sources; i++)
		n += name_size(st->src[i].name) + 5 * 8;
	if (st->counters.has_holdout)
		n += 5 * 8;
	return n;
}

static size_t rng_size(const struct mb_ckpt_state *st)
{
	return 4 + 4 + (st->has_rng ? name_size("trainer") + MB_RNG_STATE_BYTES : 0);
}

static size_t sources_size(const struct mb_ckpt_state *st)
{
	size_t n = 4 + 4;
	for (unsigned i = 0; i < st->n_sources; i++)
		if (st->src[i].pos_len)
			n += name_size(st->src[i].name) + 4 + st->src[i].pos_len;
	return n;
}

static void encode_counters(const struct mb_ckpt_state *st, struct mb_wire *w)
{
	const struct mb_ckpt_counters *c = &st->counters;
	mb_wire_put_u32(w, MB_CKPT_STATE_VERSION);
	mb_wire_put_u64(w, c->samples);
	mb_wire_put_u64(w, c->batches);
	mb_wire_put_u64(w, c->skipped);
	mb_wire_put_u32(w, (c->cost_primed ? 1u : 0u) | (c->accuracy_primed ? 2u : 0u));
	mb_wire_put_u32(w, st->n_sources);
	put_f64(w, c->cost);
	put_f64(w, c->accuracy);
	for (unsigned i = 0; i < st->n_sources; i++) {
		const struct mb_ckpt_source *s = &st->src[i];
		put_name(w, s->name);
		mb_wire_put_u64(w, s->received);
		mb_wire_put_u64(w, s->queued);
		mb_wire_put_u64(w, s->dropped);
		mb_wire_put_u64(w, s->rejected);
		mb_wire_put_u64(w, s->bytes);
	}
	/* The holdout's counters trail the sources, so checkpoints without a holdout stay as they were. */
	if (c->has_holdout) {
		mb_wire_put_u64(w, c->holdout.seen);
		mb_wire_put_u64(w, c->holdout.taken);
		mb_wire_put_u64(w, c->holdout.rows);
		mb_wire_put_u64(w, c->holdout.correct);
		put_f64(w, c->holdout.cost_sum);
	}
}

static void encode_rng(const struct mb_ckpt_state *st, struct mb_wire *w)
{
	mb_wire_put_u32(w, MB_CKPT_STATE_VERSION);
	mb_wire_put_u32(w, st->has_rng ? 1 : 0);
	if (st->has_rng) {
		put_name(w, "trainer");
		mb_wire_put_bytes(w, st->rng, MB_RNG_STATE_BYTES);
	}
}

static void encode_sources(const struct mb_ckpt_state *st, struct mb_wire *w)
{
	uint32_t n = 0;
	for (unsigned i = 0; i < st->n_sources; i++)
		n += st->src[i].pos_len != 0;
	mb_wire_put_u32(w, MB_CKPT_STATE_VERSION);
	mb_wire_put_u32(w, n);
	for (unsigned i = 0; i < st->n_sources; i++) {
		const struct mb_ckpt_source *s = &st->src[i];
		if (!s->pos_len)
			continue;
		put_name(w, s->name);
		mb_wire_put_u32(w, s->pos_len);
		mb_wire_put_bytes(w, s->pos, s->pos_len);
	}
}

/* Every section into its buffer, then the container around them. */
int mb_ckpt_state_encode(const struct mb_ckpt_state *st, struct mb_ckpt_buf *b)
{
	struct mb_ckpt_section sec[6];
	size_t n = 0;
	int err;

	if (st->n_sources > MB_MAX_SOURCES)
		return -EINVAL;
	for (unsigned i = 0; i < st->n_sources; i++)
		if (strnlen(st->src[i].name, MB_CFG_NAME_BYTES) >= MB_CFG_NAME_BYTES ||
		    st->src[i].pos_len > MB_CKPT_POS_MAX_BYTES)
			return -EINVAL;

	size_t model_len = mb_snap_size(&st->info);
	if (!model_len)
		return -EINVAL;
	if ((err = reserve(&b->model, &b->model_cap, model_len)) < 0)
		return err;
	long r = mb_snap_encode(b->model, b->model_cap, &st->info, st->params);
	if (r < 0)
		return (int)r;
	sec[n++] = (struct mb_ckpt_section){MB_CKPT_SEC_MODEL, b->model, (size_t)r};

	if (st->optim) {
		size_t len = mb_optim_state_size(st->optim);
		if ((err = reserve(&b->optim, &b->optim_cap, len)) < 0)
			return err;
		r = mb_optim_state_save(st->optim, b->optim, b->optim_cap);
		if (r < 0)
			return (int)r;
		sec[n++] = (struct mb_ckpt_section){MB_CKPT_SEC_OPTIM, b->optim, (size_t)r};
	}

	size_t lc = counters_size(st), lr = rng_size(st), ls = sources_size(st);
	if ((err = reserve(&b->small, &b->small_cap, lc + lr + ls)) < 0)
		return err;
	struct mb_wire w;
	mb_wire_init(&w, b->small, lc + lr + ls);
	encode_counters(st, &w);
	encode_rng(st, &w);
	encode_sources(st, &w);
	if (!mb_wire_ok(&w) || w.off != lc + lr + ls)
		return -EINVAL;
	sec[n++] = (struct mb_ckpt_section){MB_CKPT_SEC_COUNTERS, b->small, lc};
	sec[n++] = (struct mb_ckpt_section){MB_CKPT_SEC_RNG, b->small + lc, lr};
	sec[n++] = (struct mb_ckpt_section){MB_CKPT_SEC_SOURCES, b->small + lc + lr, ls};
	if (st->config)
		sec[n++] = (struct mb_ckpt_section){MB_CKPT_SEC_CONFIG, st->config, st->config_len};

	size_t size = mb_ckpt_size(sec, n);
	if (!size)
		return -E2BIG;
	if ((err = reserve(&b->out, &b->out_cap, size)) < 0)
		return err;
	r = mb_ckpt_encode(b->out, b->out_cap, sec, n);
	if (r < 0)
		return (int)r;
	b->len = (size_t)r;
	return 0;
}

/* Free the buffers. */
void mb_ckpt_buf_release(struct mb_ckpt_buf *b)
{
	free(b->model);
	free(b->optim);
	free(b->small);
	free(b->out);
	memset(b, 0, sizeof *b);
}

/* ---- Decoding ---- */

/* A name into buf (MB_CFG_NAME_BYTES); false when it is cut short or too long. */
static bool get_name(struct mb_wire *w, char *buf)
{
	uint32_t n = mb_wire_u32(w);
	if (n >= MB_CFG_NAME_BYTES) {
		w->overrun = true;
		return false;
	}
	const uint8_t *p = mb_wire_take(w, n);
	if (!p)
		return false;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return true;
}

/* The entry named name in st, added if new; NULL when st is full. */
static struct mb_ckpt_source *entry_of(struct mb_ckpt_state *st, const char *name)
{
	for (unsigned i = 0; i < st->n_sources; i++)
		if (strcmp(st->src[i].name, name) == 0)
			return &st->src[i];
	if (st->n_sources == MB_MAX_SOURCES)
		return NULL;
	struct mb_ckpt_source *s = &st->src[st->n_sources++];
	memset(s, 0, sizeof *s);
	memcpy(s->name, name, strlen(name) + 1);
	return s;
}

/* The section's version word; 0 with *diag set when it is not ours. */
static int check_version(struct mb_wire *w, const char *what, struct mb_diag *diag)
{
	uint32_t v = mb_wire_u32(w);
	if (!mb_wire_ok(w))
		return mb_diag_set(diag, -EBADMSG, MB_R_TRUNCATED, 0, 0, "%s section shorter than its version", what);
	if (v != MB_CKPT_STATE_VERSION)
		return mb_diag_set(diag, -EPROTONOSUPPORT, MB_R_VERSION, 0, 0, "%s section of version %u", what, v);
	return 0;
}

/* The end of a section: every byte used, none missing. */
static int check_end(const struct mb_wire *w, const char *what, struct mb_diag *diag)
{
	if (!mb_wire_ok(w))
		return mb_diag_set(diag, -EBADMSG, MB_R_TRUNCATED, 0, 0, "%s section cut short", what);
	if (mb_wire_left(w))
		return mb_diag_set(diag, -EBADMSG, MB_R_TRAILING, 0, w->off, "%zu bytes after the %s section's fields",
				   mb_wire_left(w), what);
	return 0;
}

static int too_many(struct mb_diag *diag, const char *what)
{
	return mb_diag_set(diag, -E2BIG, MB_R_TOO_BIG, 0, 0, "%s section names more than %u sources", what,
			   MB_MAX_SOURCES);
}

static int decode_counters(const struct mb_ckpt_section *sec, struct mb_ckpt_state *st, struct mb_diag *diag)
{
	struct mb_wire w;
	mb_wire_init(&w, sec->data, sec->len);
	int err = check_version(&w, "COUNTERS", diag);
	if (err < 0)
		return err;
	struct mb_ckpt_counters *c = &st->counters;
	c->samples = mb_wire_u64(&w);
	c->batches = mb_wire_u64(&w);
	c->skipped = mb_wire_u64(&w);
	uint32_t flags = mb_wire_u32(&w), n = mb_wire_u32(&w);
	c->cost_primed = flags & 1u;
	c->accuracy_primed = flags & 2u;
	c->cost = get_f64(&w);
	c->accuracy = get_f64(&w);
	if (mb_wire_ok(&w) && n > MB_MAX_SOURCES)
		return too_many(diag, "COUNTERS");
	for (uint32_t i = 0; i < n && mb_wire_ok(&w); i++) {
		char name[MB_CFG_NAME_BYTES];
		if (!get_name(&w, name))
			break;
		struct mb_ckpt_source *s = entry_of(st, name);
		if (!s)
			return too_many(diag, "COUNTERS");
		s->has_counters = true;
		s->received = mb_wire_u64(&w);
		s->queued = mb_wire_u64(&w);
		s->dropped = mb_wire_u64(&w);
		s->rejected = mb_wire_u64(&w);
		s->bytes = mb_wire_u64(&w);
	}
	if (mb_wire_ok(&w) && mb_wire_left(&w) == 5 * 8) {
		c->has_holdout = true;
		c->holdout.seen = mb_wire_u64(&w);
		c->holdout.taken = mb_wire_u64(&w);
		c->holdout.rows = mb_wire_u64(&w);
		c->holdout.correct = mb_wire_u64(&w);
		c->holdout.cost_sum = get_f64(&w);
	}
	st->has_counters = true;
	return check_end(&w, "COUNTERS", diag);
}

static int decode_rng(const struct mb_ckpt_section *sec, struct mb_ckpt_state *st, struct mb_diag *diag)
{
	struct mb_wire w;
	mb_wire_init(&w, sec->data, sec->len);
	int err = check_version(&w, "RNG", diag);
	if (err < 0)
		return err;
	uint32_t n = mb_wire_u32(&w);
	for (uint32_t i = 0; i < n && mb_wire_ok(&w); i++) {
		char name[MB_CFG_NAME_BYTES];
		if (!get_name(&w, name))
			break;
		const uint8_t *p = mb_wire_take(&w, MB_RNG_STATE_BYTES);
		if (p && strcmp(name, "trainer") == 0) {
			memcpy(st->rng, p, MB_RNG_STATE_BYTES);
			st->has_rng = true;
		}
	}
	return check_end(&w, "RNG", diag);
}

static int decode_sources(const struct mb_ckpt_section *sec, struct mb_ckpt_state *st, struct mb_diag *diag)
{
	struct mb_wire w;
	mb_wire_init(&w, sec->data, sec->len);
	int err = check_version(&w, "SOURCES", diag);
	if (err < 0)
		return err;
	uint32_t n = mb_wire_u32(&w);
	if (mb_wire_ok(&w) && n > MB_MAX_SOURCES)
		return too_many(diag, "SOURCES");
	for (uint32_t i = 0; i < n && mb_wire_ok(&w); i++) {
		char name[MB_CFG_NAME_BYTES];
		if (!get_name(&w, name))
			break;
		uint32_t len = mb_wire_u32(&w);
		if (mb_wire_ok(&w) && len > MB_CKPT_POS_MAX_BYTES)
			return mb_diag_set(diag, -E2BIG, MB_R_TOO_BIG, 0, w.off, "position of source %s has %u bytes",
					   name, len);
		const uint8_t *p = mb_wire_take(&w, len);
		if (!p)
			break;
		struct mb_ckpt_source *s = entry_of(st, name);
		if (!s)
			return too_many(diag, "SOURCES");
		memcpy(s->pos, p, len);
		s->pos_len = len;
	}
	return check_end(&w, "SOURCES", diag);
}

/* Every section we know, into a fresh state. */
int mb_ckpt_state_decode(const struct mb_ckpt *ck, struct mb_ckpt_state *ret, struct mb_diag *diag)
{
	struct mb_ckpt_state *st = calloc(1, sizeof *st);
	const struct mb_ckpt_section *sec;
	int err;
	if (!st)
		return -ENOMEM;

	sec = mb_ckpt_find(ck, MB_CKPT_SEC_MODEL);
	if (!sec) {
		err = mb_diag_set(diag, -ENODATA, MB_R_EMPTY, 0, 0, "no MODEL section");
		goto out_free;
	}
	err = mb_snap_decode(sec->data, sec->len, &st->info, &st->params_le, diag);
	if (err < 0)
		goto out_free;
	if ((sec = mb_ckpt_find(ck, MB_CKPT_SEC_OPTIM))) {
		st->optim_state = sec->data;
		st->optim_len = sec->len;
	}
	if ((sec = mb_ckpt_find(ck, MB_CKPT_SEC_COUNTERS)) && (err = decode_counters(sec, st, diag)) < 0)
		goto out_free;
	if ((sec = mb_ckpt_find(ck, MB_CKPT_SEC_RNG)) && (err = decode_rng(sec, st, diag)) < 0)
		goto out_free;
	if ((sec = mb_ckpt_find(ck, MB_CKPT_SEC_SOURCES)) && (err = decode_sources(sec, st, diag)) < 0)
		goto out_free;
	if ((sec = mb_ckpt_find(ck, MB_CKPT_SEC_CONFIG))) {
		st->config = sec->data;
		st->config_len = sec->len;
	}
	*ret = *st;
	err = 0;
out_free:
	free(st);
	return err;
}

/* Look a source up by name. */
const struct mb_ckpt_source *mb_ckpt_state_source(const struct mb_ckpt_state *st, const char *name)
{
	for (unsigned i = 0; i < st->n_sources; i++)
		if (strcmp(st->src[i].name, name) == 0)
			return &st->src[i];
	return NULL;
}

/* Counters first (a restore hook may look at them), then the positions. */
int mb_ckpt_state_restore_sources(const struct mb_ckpt_state *st, const struct mb_ckpt_source_ref *refs,
				  unsigned n, unsigned *failed)
{
	for (unsigned i = 0; i < n; i++) {
		const struct mb_ckpt_source *s = mb_ckpt_state_source(st, refs[i].name);
		if (!s)
			continue;
		if (s->has_counters && refs[i].stats) {
			struct mb_source_stats *c = refs[i].stats;
			atomic_store_explicit(&c->received, s->received, memory_order_relaxed);
			atomic_store_explicit(&c->queued, s->queued, memory_order_relaxed);
			atomic_store_explicit(&c->dropped, s->dropped, memory_order_relaxed);
			atomic_store_explicit(&c->rejected, s->rejected, memory_order_relaxed);
			atomic_store_explicit(&c->bytes, s->bytes, memory_order_relaxed);
		}
		if (s->pos_len && refs[i].ops->restore) {
			int err = refs[i].ops->restore(refs[i].src, s->pos, s->pos_len);
			if (err < 0) {
				if (failed)
					*failed = i;
				return err;
			}
		}
	}
	return 0;
}
