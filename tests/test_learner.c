/* SPDX-License-Identifier: MIT */
/*
 * test_learner.c - whole steps of mini-batch gradient descent: it finds
 * the least-squares solution, full batches descend monotonically while
 * single rows wander, runs repeat bit for bit, and the guard keeps
 * non-finite steps and bad labels away from the parameters.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "learner.h"
#include "test.h"

static uint64_t rng_state;

static double urand(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return (double)((z ^ (z >> 31)) >> 11) * 0x1p-53;
}

static float uni(double lo, double hi)
{
	return (float)(lo + (hi - lo) * urand());
}

static struct mb_learner *make(const struct mb_model_cfg *mc, const struct mb_optim_cfg *oc)
{
	struct mb_model *m = NULL;
	struct mb_optim *o = NULL;
	struct mb_learner *l = NULL;

	CU_ASSERT_EQUAL_FATAL(mb_model_new(mc, &m), 0);
	CU_ASSERT_EQUAL_FATAL(mb_optim_new(oc, mb_model_n_params(m), &o), 0);
	CU_ASSERT_EQUAL_FATAL(mb_learner_new(m, o, &l), 0);
	return l;
}

static struct mb_optim_cfg sgd(float lr)
{
	struct mb_optim_cfg c;
	mb_optim_cfg_default(&c);
	c.lr = lr;
	return c;
}

/* Solve the n x n system A x = b in place (Gaussian elimination, partial pivoting). */
static void solve(double *A, double *b, int n)
{
	for (int k = 0; k < n; k++) {
		int piv = k;
		for (int i = k + 1; i < n; i++)
			if (fabs(A[i * n + k]) > fabs(A[piv * n + k]))
				piv = i;
		for (int j = 0; j < n; j++) {
			double t = A[k * n + j];
			A[k * n + j] = A[piv * n + j];
			A[piv * n + j] = t;
		}
		double t = b[k];
		b[k] = b[piv];
		b[piv] = t;
		for (int i = k + 1; i < n; i++) {
			double f = A[i * n + k] / A[k * n + k];
			for (int j = k; j < n; j++)
				A[i * n + j] -= f * A[k * n + j];
			b[i] -= f * b[k];
		}
	}
	for (int k = n - 1; k >= 0; k--) {
		for (int j = k + 1; j < n; j++)
			b[k] -= A[k * n + j] * b[j];
		b[k] /= A[k * n + k];
	}
}

/* Full-batch gradient descent on squared error reaches the normal equations' solution. */
static void test_least_squares(void)
{
	enum { N = 200, D = 3 };
	static float X[N * D], Y[N];
	double A[(D + 1) * (D + 1)] = {0}, b[D + 1] = {0};
	struct mb_model_cfg mc = {.kind = MB_MODEL_LINEAR, .n_inputs = D, .n_outputs = 1, .max_batch = N, .seed = 1};
	struct mb_optim_cfg oc = sgd(0.5f);
	struct mb_step_result res;

	rng_state = 1;
	for (int i = 0; i < N; i++) {
		double row[D + 1] = {0, 0, 0, 1};
		for (int j = 0; j < D; j++)
			row[j] = X[i * D + j] = uni(-1, 1);
		Y[i] = (float)(2 * row[0] - 3 * row[1] + 0.5 * row[2] + 1 + uni(-0.3, 0.3));
		for (int r = 0; r <= D; r++) {
			for (int c = 0; c <= D; c++)
				A[r * (D + 1) + c] += (double)(float)row[r] * (float)row[c];
			b[r] += (double)(float)row[r] * Y[i];
		}
	}
	solve(A, b, D + 1); /* b = (w0, w1, w2, bias) */

	struct mb_learner *l = make(&mc, &oc);
	for (int s = 0; s < 600; s++)
		CU_ASSERT_EQUAL_FATAL(mb_learner_step(l, X, Y, NULL, N, &res), 0);
	const float *p = mb_model_params(mb_learner_model(l)); /* W (1 x 3), then b */
	for (int j = 0; j <= D; j++)
		CU_ASSERT_DOUBLE_EQUAL(p[j], b[j], 1e-4);
	CU_ASSERT_EQUAL(mb_learner_steps(l), 600);
	CU_ASSERT_EQUAL(mb_learner_skipped(l), 0);
	mb_learner_free(l);
}

/* Two noisy classes either side of x0 + x1 = 0. */
enum { NC = 200 };
static float CX[NC * 2], CY[NC];

static void make_classes(void)
{
	rng_state = 2;
	for (int i = 0; i < NC; i++) {
		CX[2 * i] = uni(-1, 1);
		CX[2 * i + 1] = uni(-1, 1);
		CY[i] = CX[2 * i] + CX[2 * i + 1] + uni(-0.4, 0.4) > 0;
	}
}

static const struct mb_model_cfg logistic_cfg = {
	.kind = MB_MODEL_LOGISTIC, .n_inputs = 2, .n_outputs = 1, .max_batch = NC, .seed = 3,
};

/* Batch "all" with a small rate: the (convex) cost goes down at every one of 50 steps. */
static void test_full_batch_monotone(void)
{
	struct mb_optim_cfg oc = sgd(0.5f);
	struct mb_learner *l = make(&logistic_cfg, &oc);
	struct mb_step_result res;
	double prev = INFINITY;

	make_classes();
	for (int s = 0; s < 50; s++) {
		CU_ASSERT_EQUAL_FATAL(mb_learner_step(l, CX, CY, NULL, NC, &res), 0);
		CU_ASSERT(res.cost < prev);
		CU_ASSERT_EQUAL(res.rows, NC);
		prev = res.cost;
	}
	CU_ASSERT_EQUAL(mb_learner_eval(l, CX, CY, NC, &res), 0);
	CU_ASSERT(res.cost < prev);
	CU_ASSERT(res.correct > NC * 8 / 10);
	mb_learner_free(l);
}

/*
 * Batch 1 on the same data at the same rate: the cost over all rows,
 * measured after each step, goes up as well as down (each row pulls its
 * own way), which is the noise mini-batches average out.
 */
static void test_batch1_noisy(void)
{
	struct mb_optim_cfg oc = sgd(0.5f);
	struct mb_learner *l = make(&logistic_cfg, &oc);
	struct mb_step_result res;
	double prev = INFINITY;
	int ups = 0;

	make_classes();
	for (int s = 0; s < 50; s++) {
		CU_ASSERT_EQUAL_FATAL(mb_learner_step(l, CX + 2 * s, CY + s, NULL, 1, &res), 0);
		CU_ASSERT_EQUAL_FATAL(mb_learner_eval(l, CX, CY, NC, &res), 0);
		ups += res.cost > prev;
		prev = res.cost;
	}
	CU_ASSERT(ups > 0);
	mb_learner_free(l);
}

/* Some epochs of an MLP in batches of 8 on synthetic rows; the parameters afterwards. */
static float *train_mlp(uint64_t seed, enum mb_optim_kind kind, size_t *ret_n)
{
	enum { N = 96, IN = 12, BATCH = 8 };
	static float X[N * IN], Y[N];
	struct mb_model_cfg mc = {
		.kind = MB_MODEL_MLP, .output = MB_MODEL_SOFTMAX, .n_inputs = IN, .n_outputs = 4,
		.n_hidden = 2, .hidden = {16, 8}, .hidden_act = MB_ACT_RELU, .max_batch = BATCH, .seed = seed,
	};
	struct mb_optim_cfg oc = sgd(0.05f);
	struct mb_step_result res;

	oc.kind = kind;
	rng_state = 5;
	for (int i = 0; i < N * IN; i++)
		X[i] = uni(-1, 1);
	for (int i = 0; i < N; i++)
		Y[i] = (float)((X[i * IN] > 0) + 2 * (X[i * IN + 1] > 0));
	struct mb_learner *l = make(&mc, &oc);
	for (int e = 0; e < 5; e++)
		for (int i = 0; i < N; i += BATCH)
			CU_ASSERT_EQUAL(mb_learner_step(l, X + i * IN, Y + i, NULL, BATCH, &res), 0);
	size_t n = mb_model_n_params(mb_learner_model(l));
	float *p = malloc(sizeof(float) * n);
	CU_ASSERT_FATAL(p != NULL);
	memcpy(p, mb_model_params(mb_learner_model(l)), sizeof(float) * n);
	mb_learner_free(l);
	*ret_n = n;
	return p;
}

/* Same seed and data, same bits; another seed, other parameters. */
static void test_determinism(void)
{
	const enum mb_optim_kind kinds[] = {MB_OPT_SGD, MB_OPT_ADAM};

	for (int k = 0; k < 2; k++) {
		size_t n;
		float *a = train_mlp(42, kinds[k], &n), *b = train_mlp(42, kinds[k], &n),
		      *c = train_mlp(43, kinds[k], &n);
		CU_ASSERT_EQUAL(memcmp(a, b, sizeof(float) * n), 0);
		CU_ASSERT_NOT_EQUAL(memcmp(a, c, sizeof(float) * n), 0);
		free(a);
		free(b);
		free(c);
	}
}

/*
 * The fused SGD step and the same step through the gradient buffer (a
 * clipping norm too large to act turns the fusion off) train alike.
 */
static void test_fused_matches_unfused(void)
{
	enum { N = 64, IN = 10 };
	static float X[N * IN], Y[N];
	struct mb_model_cfg mc = {
		.kind = MB_MODEL_MLP, .output = MB_MODEL_SOFTMAX, .n_inputs = IN, .n_outputs = 3,
		.n_hidden = 1, .hidden = {12}, .hidden_act = MB_ACT_TANH, .max_batch = 8, .seed = 9,
	};
	struct mb_optim_cfg plain = sgd(0.2f), unfused = plain;
	struct mb_step_result ra, rb;

	unfused.clip_norm = 1e30f;
	rng_state = 6;
	for (int i = 0; i < N * IN; i++)
		X[i] = uni(-1, 1);
	for (int i = 0; i < N; i++)
		Y[i] = (float)(i % 3);
	struct mb_learner *a = make(&mc, &plain), *b = make(&mc, &unfused);
	CU_ASSERT_TRUE(mb_optim_is_plain_sgd(mb_learner_optim(a)));
	CU_ASSERT_FALSE(mb_optim_is_plain_sgd(mb_learner_optim(b)));
	for (int i = 0; i < N;) {
		uint32_t rows = i < N / 2 ? 1 : 8; /* single rows, then batches (narrow layers: the batch kernels) */
		CU_ASSERT_EQUAL(mb_learner_step(a, X + i * IN, Y + i, NULL, rows, &ra), 0);
		CU_ASSERT_EQUAL(mb_learner_step(b, X + i * IN, Y + i, NULL, rows, &rb), 0);
		CU_ASSERT_DOUBLE_EQUAL(ra.cost, rb.cost, 1e-5);
		i += rows;
	}
	size_t n = mb_model_n_params(mb_learner_model(a));
	const float *pa = mb_model_params(mb_learner_model(a)), *pb = mb_model_params(mb_learner_model(b));
	for (size_t k = 0; k < n; k++)
		CU_ASSERT_DOUBLE_EQUAL(pa[k], pb[k], 1e-5);
	CU_ASSERT_EQUAL(mb_optim_steps(mb_learner_optim(a)), mb_optim_steps(mb_learner_optim(b)));
	CU_ASSERT_EQUAL(mb_learner_steps(a), 32 + 4);
	mb_learner_free(a);
	mb_learner_free(b);
}

/* A skipped step: -EDOM, ret filled and marked, parameters the same bits, counted. */
static void expect_skip(struct mb_learner *l, const float *X, const float *Y, uint32_t rows)
{
	struct mb_model *m = mb_learner_model(l);
	size_t n = mb_model_n_params(m);
	float *saved = malloc(sizeof(float) * n);
	struct mb_step_result res = {0};
	uint64_t skipped = mb_learner_skipped(l), steps = mb_learner_steps(l);
	uint64_t opt_steps = mb_optim_steps(mb_learner_optim(l));

	CU_ASSERT_FATAL(saved != NULL);
	memcpy(saved, mb_model_params(m), sizeof(float) * n);
	CU_ASSERT_EQUAL(mb_learner_step(l, X, Y, NULL, rows, &res), -EDOM);
	CU_ASSERT_TRUE(res.skipped);
	CU_ASSERT_EQUAL(res.rows, rows);
	CU_ASSERT_EQUAL(memcmp(saved, mb_model_params(m), sizeof(float) * n), 0);
	CU_ASSERT_EQUAL(mb_learner_skipped(l), skipped + 1);
	CU_ASSERT_EQUAL(mb_learner_steps(l), steps);
	CU_ASSERT_EQUAL(mb_optim_steps(mb_learner_optim(l)), opt_steps);
	free(saved);
}

/* A crafted batch whose features overflow a hidden unit, for the fused and the unfused path. */
static void test_guard_crafted(void)
{
	enum { IN = 8 };
	struct mb_model_cfg mc = {
		.kind = MB_MODEL_MLP, .output = MB_MODEL_SOFTMAX, .n_inputs = IN, .n_outputs = 3,
		.n_hidden = 1, .hidden = {6}, .hidden_act = MB_ACT_RELU, .max_batch = 4, .seed = 4,
	};
	float X[4 * IN], Y[4] = {0, 1, 2, 0};
	struct mb_optim_cfg oc[2] = {sgd(0.1f), sgd(0.1f)};
	struct mb_step_result res;

	oc[1].kind = MB_OPT_ADAM;
	for (int k = 0; k < 2; k++) {
		struct mb_learner *l = make(&mc, &oc[k]);
		rng_state = 7;
		for (int i = 0; i < 4 * IN; i++)
			X[i] = uni(-1, 1);
		CU_ASSERT_EQUAL(mb_learner_step(l, X, Y, NULL, 4, &res), 0);
		CU_ASSERT_FALSE(res.skipped);
		/*
		 * FLT_MAX with the signs of the first hidden unit's weights: every
		 * term of its sum is positive, so it overflows in any order.
		 */
		const float *w0 = mb_model_params(mb_learner_model(l));
		for (int i = 0; i < IN; i++)
			X[IN + i] = w0[i] < 0 ? -FLT_MAX : FLT_MAX;
		expect_skip(l, X, Y, 4);
		expect_skip(l, X + IN, Y + 1, 1);
		/* The learner goes on with good rows. */
		CU_ASSERT_EQUAL(mb_learner_step(l, X + 2 * IN, Y + 2, NULL, 2, &res), 0);
		CU_ASSERT_EQUAL(mb_learner_steps(l), 2);
		CU_ASSERT_EQUAL(mb_learner_skipped(l), 2);
		mb_learner_free(l);
	}
}

/*
 * A learning rate far too large: the first step throws the weights to
 * ~1e29, the next forward pass overflows, and that step is refused with
 * the parameters as they were, still finite.
 */
static void test_guard_huge_lr(void)
{
	enum { N = 64, IN = 16 };
	static float X[N * IN], Y[N];
	struct mb_model_cfg mc = {
		.kind = MB_MODEL_MLP, .output = MB_MODEL_SOFTMAX, .n_inputs = IN, .n_outputs = 4,
		.n_hidden = 1, .hidden = {8}, .hidden_act = MB_ACT_RELU, .max_batch = 8, .seed = 5,
	};
	struct mb_optim_cfg oc = sgd(1e30f);
	struct mb_step_result res;
	int refused = -1;

	rng_state = 8;
	for (int i = 0; i < N * IN; i++)
		X[i] = uni(0, 1);
	for (int i = 0; i < N; i++)
		Y[i] = (float)(i % 4);
	struct mb_learner *l = make(&mc, &oc);
	struct mb_model *m = mb_learner_model(l);
	size_t n = mb_model_n_params(m);
	float *before = malloc(sizeof(float) * n);
	CU_ASSERT_FATAL(before != NULL);
	for (int s = 0; s < 10 && refused < 0; s++) {
		int i = (s * 8) % N, r;
		memcpy(before, mb_model_params(m), sizeof(float) * n);
		r = mb_learner_step(l, X + i * IN, Y + i, NULL, 8, &res);
		if (r == -EDOM) {
			refused = s;
			CU_ASSERT_TRUE(res.skipped);
			CU_ASSERT_EQUAL(memcmp(before, mb_model_params(m), sizeof(float) * n), 0);
		} else {
			CU_ASSERT_EQUAL(r, 0);
		}
	}
	CU_ASSERT(refused > 0);
	CU_ASSERT_EQUAL(mb_learner_skipped(l), 1);
	for (size_t k = 0; k < n; k++)
		CU_ASSERT_FATAL(isfinite(mb_model_params(m)[k]));
	free(before);
	mb_learner_free(l);
}

/* A class index out of range: -EINVAL, nothing learned, nothing counted. */
static void test_invalid_label(void)
{
	struct mb_model_cfg mc = {.kind = MB_MODEL_SOFTMAX, .n_inputs = 3, .n_outputs = 4, .max_batch = 2, .seed = 1};
	struct mb_optim_cfg oc[2] = {sgd(0.1f), sgd(0.1f)};
	const float X[6] = {1, 2, 3, 4, 5, 6};

	oc[1].kind = MB_OPT_MOMENTUM;
	for (int k = 0; k < 2; k++) {
		struct mb_learner *l = make(&mc, &oc[k]);
		struct mb_model *m = mb_learner_model(l);
		float saved[16];
		struct mb_step_result res = {.cost = 123, .rows = 9};

		memcpy(saved, mb_model_params(m), sizeof saved);
		CU_ASSERT_EQUAL(mb_learner_step(l, X, (const float[]){1, 4}, NULL, 2, &res), -EINVAL);
		CU_ASSERT_EQUAL(mb_learner_step(l, X, (const float[]){0.5f, 1}, NULL, 2, &res), -EINVAL);
		CU_ASSERT_EQUAL(mb_learner_step(l, X, (const float[]){1, 1}, NULL, 3, &res), -EINVAL);
		CU_ASSERT_EQUAL(mb_learner_eval(l, X, (const float[]){1, -1}, 2, &res), -EINVAL);
		CU_ASSERT_EQUAL(res.rows, 9); /* untouched */
		CU_ASSERT_EQUAL(memcmp(saved, mb_model_params(m), sizeof saved), 0);
		CU_ASSERT_EQUAL(mb_learner_steps(l), 0);
		CU_ASSERT_EQUAL(mb_learner_skipped(l), 0);
		CU_ASSERT_EQUAL(mb_optim_steps(mb_learner_optim(l)), 0);
		mb_learner_free(l);
	}
}

/*
 * eval scores more rows than max_batch in chunks, the same as one big
 * pass would, and learns nothing.
 */
static void test_eval(void)
{
	enum { N = 150, IN = 5 };
	static float X[N * IN], Y[N];
	struct mb_model_cfg small = {.kind = MB_MODEL_SOFTMAX, .n_inputs = IN, .n_outputs = 3, .max_batch = 32, .seed = 2};
	struct mb_model_cfg big = small;
	struct mb_optim_cfg oc = sgd(0.1f);
	struct mb_step_result a, b;

	big.max_batch = N;
	rng_state = 10;
	for (int i = 0; i < N * IN; i++)
		X[i] = uni(-2, 2);
	for (int i = 0; i < N; i++)
		Y[i] = (float)(X[i * IN] > 0.5f) + (X[i * IN] > -0.5f);
	struct mb_learner *ls = make(&small, &oc), *lb = make(&big, &oc);
	float saved[IN * 3 + 3];
	memcpy(saved, mb_model_params(mb_learner_model(ls)), sizeof saved);
	CU_ASSERT_EQUAL(mb_learner_eval(ls, X, Y, N, &a), 0);
	CU_ASSERT_EQUAL(mb_learner_eval(lb, X, Y, N, &b), 0);
	CU_ASSERT_EQUAL(a.rows, N);
	CU_ASSERT_FALSE(a.skipped);
	CU_ASSERT_DOUBLE_EQUAL(a.cost, b.cost, 1e-6);
	CU_ASSERT_EQUAL(a.correct, b.correct);
	CU_ASSERT_EQUAL(memcmp(saved, mb_model_params(mb_learner_model(ls)), sizeof saved), 0);
	CU_ASSERT_EQUAL(mb_learner_steps(ls), 0);
	CU_ASSERT_EQUAL(mb_learner_eval(ls, X, Y, 0, &a), -EINVAL);
	mb_learner_free(ls);
	mb_learner_free(lb);
}

/* The fused path follows the schedule and advances it. */
static void test_fused_schedule(void)
{
	struct mb_model_cfg mc = {.kind = MB_MODEL_LINEAR, .n_inputs = 1, .n_outputs = 1, .max_batch = 1, .seed = 1};
	struct mb_optim_cfg oc = sgd(0.5f);
	struct mb_step_result res;
	const float x = 1, y = 1;

	oc.sched = MB_SCHED_STEP;
	oc.step_every = 1;
	oc.gamma = 0.5f;
	struct mb_learner *l = make(&mc, &oc);
	float *p = mb_model_params(mb_learner_model(l));
	p[0] = p[1] = 0; /* w x + b = 0 against y = 1: the gradient of both is -1 */
	CU_ASSERT_EQUAL(mb_learner_step(l, &x, &y, NULL, 1, &res), 0);
	CU_ASSERT_DOUBLE_EQUAL(p[0], 0.5, 1e-7);
	CU_ASSERT_DOUBLE_EQUAL(res.cost, 0.5, 1e-7);
	p[0] = p[1] = 0;
	CU_ASSERT_EQUAL(mb_learner_step(l, &x, &y, NULL, 1, &res), 0);
	CU_ASSERT_DOUBLE_EQUAL(p[0], 0.25, 1e-7);
	CU_ASSERT_DOUBLE_EQUAL(p[1], 0.25, 1e-7);
	CU_ASSERT_EQUAL(mb_optim_steps(mb_learner_optim(l)), 2);
	mb_learner_free(l);
}

/* A model and an optimizer of different sizes do not make a learner. */
static void test_new_mismatch(void)
{
	struct mb_model_cfg mc = {.kind = MB_MODEL_LINEAR, .n_inputs = 2, .n_outputs = 1, .max_batch = 1};
	struct mb_optim_cfg oc = sgd(0.1f);
	struct mb_model *m = NULL;
	struct mb_optim *o = NULL;
	struct mb_learner *l = NULL;

	CU_ASSERT_EQUAL_FATAL(mb_model_new(&mc, &m), 0);
	CU_ASSERT_EQUAL_FATAL(mb_optim_new(&oc, 4, &o), 0);
	CU_ASSERT_EQUAL(mb_learner_new(m, o, &l), -EINVAL);
	CU_ASSERT_PTR_NULL(l);
	mb_optim_free(o);
	mb_model_free(m);
	CU_ASSERT_PTR_NULL(mb_learner_free(NULL));
}

int main(void)
{
	MB_SUITE("learner",
		 {"least_squares", test_least_squares},
		 {"full_batch_monotone", test_full_batch_monotone},
		 {"batch1_noisy", test_batch1_noisy},
		 {"determinism", test_determinism},
		 {"fused_matches_unfused", test_fused_matches_unfused},
		 {"guard_crafted", test_guard_crafted},
		 {"guard_huge_lr", test_guard_huge_lr},
		 {"invalid_label", test_invalid_label},
		 {"eval", test_eval},
		 {"fused_schedule", test_fused_schedule},
		 {"new_mismatch", test_new_mismatch});
	return mb_test_run();
}
