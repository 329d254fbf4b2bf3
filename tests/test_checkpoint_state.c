/* SPDX-License-Identifier: MIT */
/*
 * test_checkpoint_state.c - what goes into a checkpoint comes back out:
 * model, optimizer state, counters, generator, source positions and the
 * configuration; damaged daemon sections are refused; a restore hands
 * each source its own counters and position.
 */
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint_state.h"
#include "test.h"
#include "wire.h"

static const char config[] = "[model]\nkind = linear\n";

/* A small model's parameters and an Adam optimizer that has taken a step. */
static float params[8] = {0.5f, -1.25f, 2, 3, 4.5f, -6, 0.125f, 8};
static struct mb_optim *adam(void)
{
	struct mb_optim_cfg oc;
	struct mb_optim *o;
	mb_optim_cfg_default(&oc);
	oc.kind = MB_OPT_ADAM;
	CU_ASSERT_FATAL(mb_optim_new(&oc, 8, &o) == 0);
	float p[8] = {0}, g[8] = {1, -2, 3, -4, 5, -6, 7, -8};
	CU_ASSERT_FATAL(mb_optim_step(o, p, g) == 0);
	return o;
}

/* A state with every section filled. */
static void fill(struct mb_ckpt_state *st, const struct mb_optim *o)
{
	memset(st, 0, sizeof *st);
	st->info = (struct mb_snap_info){.kind = MB_MODEL_LINEAR, .n_layers = 1, .sizes = {3, 2},
					 .act = {MB_ACT_IDENTITY}, .version = 77, .samples = 4096, .batches = 64,
					 .cost = 0.25f, .timestamp_ns = 123456789};
	st->params = params;
	st->optim = o;
	st->counters = (struct mb_ckpt_counters){.samples = 4100, .batches = 65, .skipped = 1, .cost_primed = true,
						 .cost = 0.3125, .accuracy = 0.0, .has_holdout = true,
						 .holdout = {.seen = 4200, .taken = 100, .rows = 99, .correct = 80,
							     .cost_sum = 47.5}};
	st->has_rng = true;
	struct mb_rng r;
	mb_rng_seed(&r, 99);
	mb_rng_save(&r, st->rng);
	st->n_sources = 2;
	snprintf(st->src[0].name, sizeof st->src[0].name, "files");
	st->src[0].received = 5000;
	st->src[0].queued = 4990;
	st->src[0].rejected = 10;
	st->src[0].bytes = 1 << 20;
	st->src[0].pos_len = 5;
	memcpy(st->src[0].pos, "where", 5);
	snprintf(st->src[1].name, sizeof st->src[1].name, "stream");
	st->src[1].received = 7;
	st->src[1].dropped = 3;
	st->config = config;
	st->config_len = sizeof config - 1;
}

static void test_round_trip(void)
{
	struct mb_optim *o = adam();
	static struct mb_ckpt_state in, out;
	struct mb_ckpt_buf b = {0};
	fill(&in, o);
	CU_ASSERT_FATAL(mb_ckpt_state_encode(&in, &b) == 0);
	struct mb_ckpt ck;
	CU_ASSERT_FATAL(mb_ckpt_decode(b.out, b.len, &ck, NULL) == 0);
	CU_ASSERT_EQUAL(ck.n_sections, 6);
	struct mb_diag d = {0};
	CU_ASSERT_FATAL(mb_ckpt_state_decode(&ck, &out, &d) == 0);

	CU_ASSERT_EQUAL(out.info.version, 77);
	CU_ASSERT_EQUAL(out.info.samples, 4096);
	CU_ASSERT_EQUAL(out.info.timestamp_ns, 123456789);
	float got[8];
	mb_snap_params_copy(got, out.params_le, 8);
	CU_ASSERT(memcmp(got, params, sizeof params) == 0);

	/* The optimizer state loads into a fresh optimizer and saves back to the same bytes. */
	struct mb_optim_cfg oc;
	struct mb_optim *o2;
	mb_optim_cfg_default(&oc);
	oc.kind = MB_OPT_ADAM;
	CU_ASSERT_FATAL(mb_optim_new(&oc, 8, &o2) == 0);
	CU_ASSERT_FATAL(out.optim_state != NULL);
	CU_ASSERT_EQUAL(mb_optim_state_load(o2, out.optim_state, out.optim_len), 0);
	CU_ASSERT_EQUAL(mb_optim_steps(o2), 1);
	uint8_t again[512];
	long n = mb_optim_state_save(o2, again, sizeof again);
	CU_ASSERT(n == (long)out.optim_len && memcmp(again, out.optim_state, out.optim_len) == 0);

	CU_ASSERT(out.has_counters);
	const struct mb_ckpt_counters *oc_ = &out.counters, *ic = &in.counters;
	CU_ASSERT(oc_->samples == ic->samples && oc_->batches == ic->batches && oc_->skipped == ic->skipped);
	CU_ASSERT(oc_->cost_primed == ic->cost_primed && oc_->accuracy_primed == ic->accuracy_primed);
	CU_ASSERT(oc_->cost == ic->cost && oc_->accuracy == ic->accuracy);
	/* The holdout's counters come back, so a restart holds out the same samples. */
	CU_ASSERT(oc_->has_holdout);
	CU_ASSERT(oc_->holdout.seen == 4200 && oc_->holdout.taken == 100 && oc_->holdout.rows == 99 &&
		  oc_->holdout.correct == 80 && oc_->holdout.cost_sum == 47.5);
	CU_ASSERT(out.has_rng && memcmp(out.rng, in.rng, MB_RNG_STATE_BYTES) == 0);
	CU_ASSERT_EQUAL_FATAL(out.n_sources, 2);
	const struct mb_ckpt_source *f = mb_ckpt_state_source(&out, "files");
	const struct mb_ckpt_source *s = mb_ckpt_state_source(&out, "stream");
	CU_ASSERT_FATAL(f && s);
	CU_ASSERT(f->has_counters && f->received == 5000 && f->queued == 4990 && f->rejected == 10 &&
		  f->bytes == 1 << 20);
	CU_ASSERT(f->pos_len == 5 && memcmp(f->pos, "where", 5) == 0);
	CU_ASSERT(s->has_counters && s->received == 7 && s->dropped == 3 && s->pos_len == 0);
	CU_ASSERT_PTR_NULL(mb_ckpt_state_source(&out, "nobody"));
	CU_ASSERT(out.config_len == sizeof config - 1 && memcmp(out.config, config, out.config_len) == 0);

	/* Encoding again into the same buffers gives the same file. */
	uint8_t *first = malloc(b.len);
	size_t first_len = b.len;
	memcpy(first, b.out, b.len);
	CU_ASSERT_FATAL(mb_ckpt_state_encode(&in, &b) == 0);
	CU_ASSERT(b.len == first_len && memcmp(b.out, first, first_len) == 0);
	free(first);

	/* Without a holdout the counters read back without one, the rest unchanged. */
	in.counters.has_holdout = false;
	CU_ASSERT_FATAL(mb_ckpt_state_encode(&in, &b) == 0);
	CU_ASSERT(b.len == first_len - 5 * 8);
	CU_ASSERT_FATAL(mb_ckpt_decode(b.out, b.len, &ck, NULL) == 0);
	CU_ASSERT_FATAL(mb_ckpt_state_decode(&ck, &out, &d) == 0);
	CU_ASSERT(out.has_counters && !out.counters.has_holdout && out.counters.samples == 4100);
	mb_ckpt_buf_release(&b);
	mb_optim_free(o);
	mb_optim_free(o2);
}

/* Only the MODEL section: everything else is absent, not made up. */
static void test_model_only(void)
{
	uint8_t snap[256], file[512];
	struct mb_snap_info info = {.kind = MB_MODEL_LINEAR, .n_layers = 1, .sizes = {3, 2},
				    .act = {MB_ACT_IDENTITY}, .version = 5, .samples = 50};
	long n = mb_snap_encode(snap, sizeof snap, &info, params);
	CU_ASSERT_FATAL(n > 0);
	struct mb_ckpt_section sec = {MB_CKPT_SEC_MODEL, snap, (size_t)n};
	long len = mb_ckpt_encode(file, sizeof file, &sec, 1);
	CU_ASSERT_FATAL(len > 0);
	struct mb_ckpt ck;
	static struct mb_ckpt_state st;
	CU_ASSERT_FATAL(mb_ckpt_decode(file, (size_t)len, &ck, NULL) == 0);
	CU_ASSERT_FATAL(mb_ckpt_state_decode(&ck, &st, NULL) == 0);
	CU_ASSERT_EQUAL(st.info.version, 5);
	CU_ASSERT(!st.has_counters && !st.has_rng && st.n_sources == 0);
	CU_ASSERT_PTR_NULL(st.optim_state);
	CU_ASSERT_PTR_NULL(st.config);
}

/*
 * Replace section id of a good checkpoint with payload, and decode: the
 * error, with *ret_reason.
 */
static int decode_with(uint32_t id, const void *payload, size_t len, enum mb_reason *ret_reason)
{
	static struct mb_ckpt_state in, out;
	struct mb_ckpt_buf b = {0};
	struct mb_optim *o = adam();
	fill(&in, o);
	CU_ASSERT_FATAL(mb_ckpt_state_encode(&in, &b) == 0);
	struct mb_ckpt ck;
	CU_ASSERT_FATAL(mb_ckpt_decode(b.out, b.len, &ck, NULL) == 0);
	struct mb_ckpt_section sec[MB_MAX_SECTIONS];
	size_t n = 0;
	for (uint32_t i = 0; i < ck.n_sections; i++)
		if (ck.sec[i].id != id)
			sec[n++] = ck.sec[i];
	if (payload)
		sec[n++] = (struct mb_ckpt_section){id, payload, len};
	size_t size = mb_ckpt_size(sec, n);
	uint8_t *file = malloc(size);
	CU_ASSERT_FATAL(mb_ckpt_encode(file, size, sec, n) == (long)size);
	struct mb_ckpt ck2;
	CU_ASSERT_FATAL(mb_ckpt_decode(file, size, &ck2, NULL) == 0);
	struct mb_diag d = {0};
	out.n_sources = 99; /* untouched on failure */
	int r = mb_ckpt_state_decode(&ck2, &out, &d);
	if (r < 0)
		CU_ASSERT_EQUAL(out.n_sources, 99);
	*ret_reason = d.reason;
	free(file);
	mb_ckpt_buf_release(&b);
	mb_optim_free(o);
	return r;
}

static void test_refuses(void)
{
	enum mb_reason why;
	uint8_t p[64];
	struct mb_wire w;

	CU_ASSERT_EQUAL(decode_with(MB_CKPT_SEC_MODEL, NULL, 0, &why), -ENODATA);
	CU_ASSERT_EQUAL(decode_with(MB_CKPT_SEC_MODEL, "MBSN", 4, &why), -EBADMSG);

	mb_wire_init(&w, p, sizeof p);
	mb_wire_put_u32(&w, 2); /* a version from the future */
	CU_ASSERT_EQUAL(decode_with(MB_CKPT_SEC_COUNTERS, p, 4, &why), -EPROTONOSUPPORT);
	CU_ASSERT_EQUAL(why, MB_R_VERSION);

	mb_wire_init(&w, p, sizeof p);
	mb_wire_put_u32(&w, 1);
	mb_wire_put_u32(&w, 1); /* one source ... */
	mb_wire_put_u32(&w, 5);
	mb_wire_put_bytes(&w, "files", 5);
	mb_wire_put_u32(&w, 40); /* ... whose 40-byte position is cut short */
	mb_wire_put_bytes(&w, "short", 5);
	CU_ASSERT_EQUAL(decode_with(MB_CKPT_SEC_SOURCES, p, w.off, &why), -EBADMSG);
	CU_ASSERT_EQUAL(why, MB_R_TRUNCATED);

	mb_wire_init(&w, p, sizeof p);
	mb_wire_put_u32(&w, 1);
	mb_wire_put_u32(&w, 0);
	mb_wire_put_u32(&w, 0xdead); /* bytes after the last field */
	CU_ASSERT_EQUAL(decode_with(MB_CKPT_SEC_SOURCES, p, w.off, &why), -EBADMSG);
	CU_ASSERT_EQUAL(why, MB_R_TRAILING);

	mb_wire_init(&w, p, sizeof p);
	mb_wire_put_u32(&w, 1);
	mb_wire_put_u32(&w, MB_MAX_SOURCES + 1);
	CU_ASSERT_EQUAL(decode_with(MB_CKPT_SEC_SOURCES, p, w.off, &why), -E2BIG);

	mb_wire_init(&w, p, sizeof p);
	mb_wire_put_u32(&w, 1);
	mb_wire_put_u32(&w, 1);
	mb_wire_put_u32(&w, 5);
	mb_wire_put_bytes(&w, "files", 5);
	mb_wire_put_u32(&w, MB_CKPT_POS_MAX_BYTES + 1); /* a position over its limit */
	CU_ASSERT_EQUAL(decode_with(MB_CKPT_SEC_SOURCES, p, w.off, &why), -E2BIG);

	mb_wire_init(&w, p, sizeof p);
	mb_wire_put_u32(&w, 1);
	mb_wire_put_u32(&w, 1);
	mb_wire_put_u32(&w, MB_CFG_NAME_BYTES); /* a name longer than any source's */
	CU_ASSERT_EQUAL(decode_with(MB_CKPT_SEC_RNG, p, w.off, &why), -EBADMSG);
}

/* A source family for the restore: remembers what its restore hook was given. */
struct mb_source {
	char got[64];  /* the position bytes */
	size_t len;    /* how many; 0: never called */
	int answer;    /* what the hook returns */
};

static int fake_restore(struct mb_source *s, const void *pos, size_t len)
{
	memcpy(s->got, pos, len < sizeof s->got ? len : sizeof s->got);
	s->len = len;
	return s->answer;
}

static const struct mb_source_ops fake_ops = {.version = MB_SOURCE_OPS_VERSION, .name = "fake",
					      .restore = fake_restore};

static void test_restore_sources(void)
{
	static struct mb_ckpt_state in, st;
	struct mb_ckpt_buf buf = {0};
	struct mb_optim *o = adam();
	struct mb_ckpt ck;
	fill(&in, o);
	CU_ASSERT_FATAL(mb_ckpt_state_encode(&in, &buf) == 0);
	CU_ASSERT_FATAL(mb_ckpt_decode(buf.out, buf.len, &ck, NULL) == 0);
	CU_ASSERT_FATAL(mb_ckpt_state_decode(&ck, &st, NULL) == 0);
	struct mb_source a = {0}, b = {0}, c = {0};
	struct mb_source_stats sa = {0}, sb = {0}, sc = {0};
	atomic_store(&sc.received, 1234);
	struct mb_ckpt_source_ref refs[3] = {
		{.name = "stream", .index = 0, .ops = &fake_ops, .src = &b, .stats = &sb},
		{.name = "files", .index = 1, .ops = &fake_ops, .src = &a, .stats = &sa},
		{.name = "new", .index = 2, .ops = &fake_ops, .src = &c, .stats = &sc},
	};
	unsigned failed = 77;
	CU_ASSERT_EQUAL(mb_ckpt_state_restore_sources(&st, refs, 3, &failed), 0);
	CU_ASSERT_EQUAL(failed, 77);
	/* Matched by name, not by order; a source the checkpoint does not know keeps its own. */
	CU_ASSERT(a.len == 5 && memcmp(a.got, "where", 5) == 0);
	CU_ASSERT_EQUAL(atomic_load(&sa.received), 5000);
	CU_ASSERT_EQUAL(atomic_load(&sa.queued), 4990);
	CU_ASSERT_EQUAL(b.len, 0); /* no position: no restore */
	CU_ASSERT_EQUAL(atomic_load(&sb.dropped), 3);
	CU_ASSERT_EQUAL(c.len, 0);
	CU_ASSERT_EQUAL(atomic_load(&sc.received), 1234);

	/* A source that refuses its position stops the restore and is named. */
	a.answer = -EINVAL;
	CU_ASSERT_EQUAL(mb_ckpt_state_restore_sources(&st, refs, 3, &failed), -EINVAL);
	CU_ASSERT_EQUAL(failed, 1);
	mb_ckpt_buf_release(&buf);
	mb_optim_free(o);
}

static void test_bad_state(void)
{
	static struct mb_ckpt_state st;
	struct mb_ckpt_buf b = {0};
	struct mb_optim *o = adam();
	fill(&st, o);
	st.n_sources = MB_MAX_SOURCES + 1;
	CU_ASSERT_EQUAL(mb_ckpt_state_encode(&st, &b), -EINVAL);
	fill(&st, o);
	memset(st.src[0].name, 'x', sizeof st.src[0].name); /* no terminating NUL */
	CU_ASSERT_EQUAL(mb_ckpt_state_encode(&st, &b), -EINVAL);
	fill(&st, o);
	float bad[8];
	memcpy(bad, params, sizeof bad);
	bad[3] = NAN;
	st.params = bad;
	CU_ASSERT_EQUAL(mb_ckpt_state_encode(&st, &b), -EDOM);
	mb_ckpt_buf_release(&b);
	mb_optim_free(o);
}

int main(void)
{
	MB_SUITE("ckpt_state", {"round-trip", test_round_trip}, {"model-only", test_model_only},
		 {"refuses-damage", test_refuses}, {"restore-sources", test_restore_sources},
		 {"bad-state", test_bad_state});
	return mb_test_run();
}
