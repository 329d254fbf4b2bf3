/* SPDX-License-Identifier: MIT */
/*
 * test_optim.c - every rule against values worked out by hand, schedules,
 * decay and clipping, the non-finite guard, and the state blob.
 *
 * The hand values use p0 = (1, -2, 0.5), g1 = (0.5, -1, 2),
 * g2 = (-1, 0.25, 0.5), g3 = (0.2, 0.2, -0.4) and lr 0.1.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "optim.h"
#include "test.h"

static const float p0[3] = {1.0f, -2.0f, 0.5f};
static const float g1[3] = {0.5f, -1.0f, 2.0f};
static const float g2[3] = {-1.0f, 0.25f, 0.5f};
static const float g3[3] = {0.2f, 0.2f, -0.4f};

static struct mb_optim *make(enum mb_optim_kind kind, void (*tweak)(struct mb_optim_cfg *))
{
	struct mb_optim_cfg cfg;
	struct mb_optim *o = NULL;

	mb_optim_cfg_default(&cfg);
	cfg.kind = kind;
	cfg.lr = 0.1f;
	if (tweak)
		tweak(&cfg);
	CU_ASSERT_EQUAL_FATAL(mb_optim_new(&cfg, 3, &o), 0);
	return o;
}

/* One step with a copy of g (the step may scale it), then compare p to want. */
static void step_expect(struct mb_optim *o, float *p, const float *g, const double *want)
{
	float gc[3];

	memcpy(gc, g, sizeof gc);
	CU_ASSERT_EQUAL_FATAL(mb_optim_step(o, p, gc), 0);
	for (int i = 0; i < 3; i++)
		CU_ASSERT_DOUBLE_EQUAL(p[i], want[i], 2e-6);
}

static void test_sgd(void)
{
	struct mb_optim *o = make(MB_OPT_SGD, NULL);
	float p[3];

	memcpy(p, p0, sizeof p);
	/* p -= 0.1 g */
	step_expect(o, p, g1, (const double[]){0.95, -1.9, 0.3});
	step_expect(o, p, g2, (const double[]){1.05, -1.925, 0.25});
	CU_ASSERT_EQUAL(mb_optim_steps(o), 2);
	mb_optim_free(o);
}

static void test_momentum(void)
{
	struct mb_optim *o = make(MB_OPT_MOMENTUM, NULL);
	float p[3];

	memcpy(p, p0, sizeof p);
	/* v1 = g1; v2 = 0.9 v1 + g2 = (-0.55, -0.65, 2.3); p -= 0.1 v */
	step_expect(o, p, g1, (const double[]){0.95, -1.9, 0.3});
	step_expect(o, p, g2, (const double[]){1.005, -1.835, 0.07});
	mb_optim_free(o);
}

static void test_nesterov(void)
{
	struct mb_optim *o = make(MB_OPT_NESTEROV, NULL);
	float p[3];

	memcpy(p, p0, sizeof p);
	/* p -= 0.1 (g + 0.9 v_new): first 0.1 * 1.9 g1, then g2 + 0.9 (-0.55, -0.65, 2.3) */
	step_expect(o, p, g1, (const double[]){0.905, -1.81, 0.12});
	step_expect(o, p, g2, (const double[]){1.0545, -1.7765, -0.137});
	mb_optim_free(o);
}

static void test_adam(void)
{
	struct mb_optim *o = make(MB_OPT_ADAM, NULL);
	float p[3];

	memcpy(p, p0, sizeof p);
	/* Step 1: the bias-corrected ratio is sign(g), so p moves by exactly lr. */
	step_expect(o, p, g1, (const double[]){0.9, -1.9, 0.4});
	step_expect(o, p, g2, (const double[]){0.93661035, -1.85305318, 0.31694025});
	step_expect(o, p, g3, (const double[]){0.95321211, -1.82960809, 0.26609180});
	mb_optim_free(o);
}

static void test_adagrad(void)
{
	struct mb_optim *o = make(MB_OPT_ADAGRAD, NULL);
	float p[3];

	memcpy(p, p0, sizeof p);
	/* G += g^2; p -= 0.1 g / sqrt(G) */
	step_expect(o, p, g1, (const double[]){0.9, -1.9, 0.4});
	step_expect(o, p, g2, (const double[]){0.98944272, -1.92425356, 0.37574644});
	step_expect(o, p, g3, (const double[]){0.97183370, -1.94330118, 0.39479406});
	mb_optim_free(o);
}

static void wd_01(struct mb_optim_cfg *c) { c->weight_decay = 0.1f; }
static void clip_1(struct mb_optim_cfg *c) { c->clip_norm = 1.0f; }
static void wd_clip(struct mb_optim_cfg *c) { c->weight_decay = 0.1f; c->clip_norm = 1.0f; }

static void test_weight_decay(void)
{
	struct mb_optim *o = make(MB_OPT_SGD, wd_01);
	float p[3];

	memcpy(p, p0, sizeof p);
	CU_ASSERT_FALSE(mb_optim_is_plain_sgd(o));
	/* g + 0.1 p on every parameter: (0.6, -1.2, 2.05), then (-0.906, 0.062, 0.5295) */
	step_expect(o, p, g1, (const double[]){0.94, -1.88, 0.295});
	step_expect(o, p, g2, (const double[]){1.0306, -1.8862, 0.24205});
	mb_optim_free(o);
}

static void test_clip(void)
{
	struct mb_optim *o = make(MB_OPT_SGD, clip_1);
	float p[3];

	memcpy(p, p0, sizeof p);
	/* |g1| = sqrt(5.25) > 1: the step is 0.1 g1 / |g1| */
	step_expect(o, p, g1, (const double[]){0.97817821, -1.95635642, 0.41271284});
	/* |(0.3, 0.4, 0)| = 0.5 < 1: unchanged */
	step_expect(o, p, (const float[]){0.3f, 0.4f, 0.0f},
		    (const double[]){0.94817821, -1.99635642, 0.41271284});
	mb_optim_free(o);

	/* Decay first, then clipping of the decayed gradient: |(0.6, -1.2, 2.05)| = 2.45. */
	o = make(MB_OPT_SGD, wd_clip);
	memcpy(p, p0, sizeof p);
	step_expect(o, p, g1, (const double[]){0.97551020, -1.95102041, 0.41632653});
	mb_optim_free(o);
}

static float lr_at(struct mb_optim *o, uint64_t t)
{
	while (mb_optim_steps(o) < t)
		mb_optim_count_step(o);
	return mb_optim_lr(o);
}

static void sched_invtime(struct mb_optim_cfg *c) { c->sched = MB_SCHED_INVTIME; c->decay = 0.5f; }
static void sched_invsqrt(struct mb_optim_cfg *c) { c->sched = MB_SCHED_INVSQRT; c->decay = 1.0f; }
static void sched_step(struct mb_optim_cfg *c) { c->sched = MB_SCHED_STEP; c->step_every = 3; c->gamma = 0.5f; }
static void sched_cosine(struct mb_optim_cfg *c)
{
	c->sched = MB_SCHED_COSINE;
	c->cosine_steps = 10;
	c->lr_min = 0.01f;
}

static void test_schedules(void)
{
	struct mb_optim *o = make(MB_OPT_SGD, NULL);
	CU_ASSERT_DOUBLE_EQUAL(lr_at(o, 0), 0.1, 1e-7);
	CU_ASSERT_DOUBLE_EQUAL(lr_at(o, 1000), 0.1, 1e-7);
	mb_optim_free(o);

	o = make(MB_OPT_SGD, sched_invtime); /* 0.1 / (1 + 0.5 t) */
	CU_ASSERT_DOUBLE_EQUAL(lr_at(o, 0), 0.1, 1e-7);
	CU_ASSERT_DOUBLE_EQUAL(lr_at(o, 4), 0.1 / 3, 1e-7);
	mb_optim_free(o);

	o = make(MB_OPT_SGD, sched_invsqrt); /* 0.1 / sqrt(1 + t) */
	CU_ASSERT_DOUBLE_EQUAL(lr_at(o, 0), 0.1, 1e-7);
	CU_ASSERT_DOUBLE_EQUAL(lr_at(o, 3), 0.05, 1e-7);
	mb_optim_free(o);

	o = make(MB_OPT_SGD, sched_step); /* 0.1 * 0.5^floor(t / 3) */
	CU_ASSERT_DOUBLE_EQUAL(lr_at(o, 2), 0.1, 1e-7);
	CU_ASSERT_DOUBLE_EQUAL(lr_at(o, 3), 0.05, 1e-7);
	CU_ASSERT_DOUBLE_EQUAL(lr_at(o, 7), 0.025, 1e-7);
	mb_optim_free(o);

	o = make(MB_OPT_SGD, sched_cosine); /* 0.01 + 0.09 (1 + cos(pi min(t, 10) / 10)) / 2 */
	CU_ASSERT_DOUBLE_EQUAL(lr_at(o, 0), 0.1, 1e-7);
	CU_ASSERT_DOUBLE_EQUAL(lr_at(o, 2), 0.0914057647, 1e-7);
	CU_ASSERT_DOUBLE_EQUAL(lr_at(o, 5), 0.055, 1e-7);
	CU_ASSERT_DOUBLE_EQUAL(lr_at(o, 10), 0.01, 1e-7);
	CU_ASSERT_DOUBLE_EQUAL(lr_at(o, 25), 0.01, 1e-7);
	mb_optim_free(o);
}

static void sched_halving(struct mb_optim_cfg *c) { c->sched = MB_SCHED_STEP; c->step_every = 1; c->gamma = 0.5f; }

/* A step uses the rate of the steps taken before it: 0.1 for the first, 0.05 for the second. */
static void test_schedule_drives_step(void)
{
	struct mb_optim *o = make(MB_OPT_SGD, sched_halving);
	float p[3];

	memcpy(p, p0, sizeof p);
	step_expect(o, p, g1, (const double[]){0.95, -1.9, 0.3});
	step_expect(o, p, g2, (const double[]){1.0, -1.9125, 0.275});
	CU_ASSERT_DOUBLE_EQUAL(mb_optim_lr(o), 0.025, 1e-8);
	mb_optim_free(o);
}

/*
 * Long vectors take the vectorized passes (8 and 4 elements at a time)
 * and short ones the scalar loop: every element comes out the same either
 * way (to the last bit in a plain -O2 build; a tolerance leaves room for
 * a compiler that fuses multiply-adds in one of the two). 19 parameters
 * repeat the 3 of the hand-worked cases.
 */
static void test_lanes_match_scalar(void)
{
	enum { N = 19 };
	const enum mb_optim_kind kinds[] = {MB_OPT_SGD, MB_OPT_MOMENTUM, MB_OPT_NESTEROV, MB_OPT_ADAM, MB_OPT_ADAGRAD};

	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
		struct mb_optim_cfg cfg;
		struct mb_optim *o3 = NULL, *on = NULL;
		float p3[3], g3s[3], pn[N], gn[N];

		mb_optim_cfg_default(&cfg);
		cfg.kind = kinds[k];
		cfg.weight_decay = 0.01f;
		CU_ASSERT_EQUAL_FATAL(mb_optim_new(&cfg, 3, &o3), 0);
		CU_ASSERT_EQUAL_FATAL(mb_optim_new(&cfg, N, &on), 0);
		memcpy(p3, p0, sizeof p3);
		for (int i = 0; i < N; i++)
			pn[i] = p0[i % 3];
		for (int s = 0; s < 3; s++) {
			const float *g = s == 0 ? g1 : s == 1 ? g2 : g3;
			memcpy(g3s, g, sizeof g3s);
			for (int i = 0; i < N; i++)
				gn[i] = g[i % 3];
			CU_ASSERT_EQUAL(mb_optim_step(o3, p3, g3s), 0);
			CU_ASSERT_EQUAL(mb_optim_step(on, pn, gn), 0);
		}
		for (int i = 0; i < N; i++)
			CU_ASSERT_DOUBLE_EQUAL(pn[i], p3[i % 3], 1e-6);
		mb_optim_free(o3);
		mb_optim_free(on);
	}
}

/* A non-finite gradient moves nothing and counts no step. */
static void test_nonfinite(void)
{
	const float bad[2] = {NAN, INFINITY};
	for (int k = 0; k < 2; k++) {
		struct mb_optim *o = make(MB_OPT_ADAM, wd_clip);
		float p[3], g[3] = {0.5f, bad[k], 1.0f}, saved[3];
		uint8_t before[256], after[256];

		memcpy(p, p0, sizeof p);
		memcpy(saved, p, sizeof p);
		long n = mb_optim_state_save(o, before, sizeof before);
		CU_ASSERT_FATAL(n > 0);
		CU_ASSERT_EQUAL(mb_optim_step(o, p, g), -EDOM);
		CU_ASSERT_EQUAL(memcmp(p, saved, sizeof p), 0);
		CU_ASSERT_EQUAL(mb_optim_steps(o), 0);
		CU_ASSERT_EQUAL(mb_optim_state_save(o, after, sizeof after), n);
		CU_ASSERT_EQUAL(memcmp(before, after, (size_t)n), 0);
		mb_optim_free(o);
	}
}

/* A restored state continues bit for bit as if never interrupted. */
static void test_state_roundtrip(void)
{
	enum mb_optim_kind kinds[] = {MB_OPT_SGD, MB_OPT_MOMENTUM, MB_OPT_NESTEROV, MB_OPT_ADAM, MB_OPT_ADAGRAD};

	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
		struct mb_optim *a = make(kinds[k], sched_invtime), *b = make(kinds[k], sched_invtime);
		float pa[3], pb[3], g[3];
		uint8_t blob[256];

		memcpy(pa, p0, sizeof pa);
		memcpy(g, g1, sizeof g);
		CU_ASSERT_EQUAL(mb_optim_step(a, pa, g), 0);
		memcpy(g, g2, sizeof g);
		CU_ASSERT_EQUAL(mb_optim_step(a, pa, g), 0);

		size_t size = mb_optim_state_size(a);
		CU_ASSERT_FATAL(size <= sizeof blob);
		CU_ASSERT_EQUAL(mb_optim_state_save(a, blob, size - 1), -ENOSPC);
		CU_ASSERT_EQUAL(mb_optim_state_save(a, blob, sizeof blob), (long)size);
		CU_ASSERT_EQUAL(mb_optim_state_load(b, blob, size), 0);
		CU_ASSERT_EQUAL(mb_optim_steps(b), 2);
		CU_ASSERT_EQUAL(mb_optim_lr(b), mb_optim_lr(a));

		memcpy(pb, pa, sizeof pb);
		memcpy(g, g3, sizeof g);
		CU_ASSERT_EQUAL(mb_optim_step(a, pa, g), 0);
		memcpy(g, g3, sizeof g);
		CU_ASSERT_EQUAL(mb_optim_step(b, pb, g), 0);
		CU_ASSERT_EQUAL(memcmp(pa, pb, sizeof pa), 0);
		mb_optim_free(a);
		mb_optim_free(b);
	}
}

/* Blobs of another kind, size or version are refused and leave the state as it was. */
static void test_state_refused(void)
{
	struct mb_optim *mom = make(MB_OPT_MOMENTUM, NULL), *adam = make(MB_OPT_ADAM, NULL);
	struct mb_optim_cfg cfg;
	struct mb_optim *adam4 = NULL;
	uint8_t blob[256], bad[256], before[256], after[256];
	float p[3], g[3];

	memcpy(p, p0, sizeof p);
	memcpy(g, g1, sizeof g);
	CU_ASSERT_EQUAL(mb_optim_step(adam, p, g), 0);
	long n_before = mb_optim_state_save(adam, before, sizeof before);
	CU_ASSERT_FATAL(n_before > 0);

	/* Another kind. */
	long n = mb_optim_state_save(mom, blob, sizeof blob);
	CU_ASSERT_FATAL(n > 0);
	CU_ASSERT_EQUAL(mb_optim_state_load(adam, blob, (size_t)n), -EINVAL);

	/* Another size: an Adam state for 4 parameters. */
	mb_optim_cfg_default(&cfg);
	cfg.kind = MB_OPT_ADAM;
	CU_ASSERT_EQUAL_FATAL(mb_optim_new(&cfg, 4, &adam4), 0);
	n = mb_optim_state_save(adam4, blob, sizeof blob);
	CU_ASSERT_EQUAL(mb_optim_state_load(adam, blob, (size_t)n), -EINVAL);

	/* Truncated, or with a byte too many. */
	n = mb_optim_state_save(adam, blob, sizeof blob);
	CU_ASSERT_EQUAL(mb_optim_state_load(adam, blob, (size_t)n - 1), -EINVAL);
	CU_ASSERT_EQUAL(mb_optim_state_load(adam, blob, 10), -EINVAL);
	CU_ASSERT_EQUAL(mb_optim_state_load(adam, blob, 2), -EINVAL);
	CU_ASSERT_EQUAL(mb_optim_state_load(adam, blob, (size_t)n + 1), -EINVAL);

	/* Another version, another magic, a NaN moment. */
	memcpy(bad, blob, (size_t)n);
	bad[4] = 2;
	CU_ASSERT_EQUAL(mb_optim_state_load(adam, bad, (size_t)n), -EPROTONOSUPPORT);
	memcpy(bad, blob, (size_t)n);
	bad[0] = 'X';
	CU_ASSERT_EQUAL(mb_optim_state_load(adam, bad, (size_t)n), -EBADMSG);
	memcpy(bad, blob, (size_t)n);
	memcpy(bad + 32, (const uint8_t[]){0x00, 0x00, 0xc0, 0x7f}, 4);
	CU_ASSERT_EQUAL(mb_optim_state_load(adam, bad, (size_t)n), -EDOM);

	CU_ASSERT_EQUAL(mb_optim_state_save(adam, after, sizeof after), n_before);
	CU_ASSERT_EQUAL(memcmp(before, after, (size_t)n_before), 0);
	mb_optim_free(adam4);
	mb_optim_free(adam);
	mb_optim_free(mom);
}

static void test_cfg_and_names(void)
{
	static char sentinel;
	struct mb_optim_cfg cfg;
	struct mb_optim *o = (struct mb_optim *)&sentinel, *keep = o;
	enum mb_optim_kind k;
	enum mb_sched_kind s;

	mb_optim_cfg_default(&cfg);
	CU_ASSERT_EQUAL(cfg.kind, MB_OPT_SGD);
	CU_ASSERT_DOUBLE_EQUAL(cfg.lr, 0.1, 1e-7);
	CU_ASSERT_EQUAL(cfg.sched, MB_SCHED_CONSTANT);

	cfg.lr = 0.0f;
	CU_ASSERT_EQUAL(mb_optim_new(&cfg, 3, &o), -EINVAL);
	mb_optim_cfg_default(&cfg);
	CU_ASSERT_EQUAL(mb_optim_new(&cfg, 0, &o), -EINVAL);
	cfg.kind = MB_OPT_MOMENTUM;
	cfg.momentum = 1.0f;
	CU_ASSERT_EQUAL(mb_optim_new(&cfg, 3, &o), -EINVAL);
	mb_optim_cfg_default(&cfg);
	cfg.sched = MB_SCHED_STEP;
	cfg.step_every = 0;
	CU_ASSERT_EQUAL(mb_optim_new(&cfg, 3, &o), -EINVAL);
	mb_optim_cfg_default(&cfg);
	cfg.clip_norm = -1.0f;
	CU_ASSERT_EQUAL(mb_optim_new(&cfg, 3, &o), -EINVAL);
	CU_ASSERT_PTR_EQUAL(o, keep);

	/* A reload may change everything but the rule. */
	o = make(MB_OPT_ADAM, NULL);
	CU_ASSERT_EQUAL(mb_optim_n_params(o), 3);
	mb_optim_cfg_default(&cfg);
	CU_ASSERT_EQUAL(mb_optim_reconfigure(o, &cfg), -EINVAL);
	cfg.kind = MB_OPT_ADAM;
	cfg.lr = 0.5f;
	CU_ASSERT_EQUAL(mb_optim_reconfigure(o, &cfg), 0);
	CU_ASSERT_DOUBLE_EQUAL(mb_optim_lr(o), 0.5, 1e-9);
	mb_optim_free(o);

	o = make(MB_OPT_SGD, NULL);
	CU_ASSERT_TRUE(mb_optim_is_plain_sgd(o));
	mb_optim_free(o);
	o = make(MB_OPT_SGD, clip_1);
	CU_ASSERT_FALSE(mb_optim_is_plain_sgd(o));
	mb_optim_free(o);
	o = make(MB_OPT_MOMENTUM, NULL);
	CU_ASSERT_FALSE(mb_optim_is_plain_sgd(o));
	mb_optim_free(o);
	CU_ASSERT_PTR_NULL(mb_optim_free(NULL));

	for (int i = MB_OPT_SGD; i <= MB_OPT_ADAGRAD; i++) {
		CU_ASSERT_EQUAL(mb_optim_kind_parse(mb_optim_kind_name((enum mb_optim_kind)i), &k), 0);
		CU_ASSERT_EQUAL(k, i);
	}
	for (int i = MB_SCHED_CONSTANT; i <= MB_SCHED_COSINE; i++) {
		CU_ASSERT_EQUAL(mb_sched_kind_parse(mb_sched_kind_name((enum mb_sched_kind)i), &s), 0);
		CU_ASSERT_EQUAL(s, i);
	}
	CU_ASSERT_EQUAL(mb_optim_kind_parse("adam", &k), 0);
	CU_ASSERT_EQUAL(k, MB_OPT_ADAM);
	CU_ASSERT_EQUAL(mb_sched_kind_parse("invsqrt", &s), 0);
	CU_ASSERT_EQUAL(s, MB_SCHED_INVSQRT);
	CU_ASSERT_EQUAL(mb_optim_kind_parse("rmsprop", &k), -EINVAL);
	CU_ASSERT_EQUAL(mb_sched_kind_parse("", &s), -EINVAL);
	CU_ASSERT_STRING_EQUAL(mb_optim_kind_name((enum mb_optim_kind)99), "unknown");
}

int main(void)
{
	MB_SUITE("optim",
		 {"sgd", test_sgd},
		 {"momentum", test_momentum},
		 {"nesterov", test_nesterov},
		 {"adam", test_adam},
		 {"adagrad", test_adagrad},
		 {"weight_decay", test_weight_decay},
		 {"clip", test_clip},
		 {"schedules", test_schedules},
		 {"schedule_drives_step", test_schedule_drives_step},
		 {"lanes_match_scalar", test_lanes_match_scalar},
		 {"nonfinite", test_nonfinite},
		 {"state_roundtrip", test_state_roundtrip},
		 {"state_refused", test_state_refused},
		 {"cfg_and_names", test_cfg_and_names});
	return mb_test_run();
}
