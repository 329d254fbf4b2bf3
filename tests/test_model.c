/* SPDX-License-Identifier: MIT */
/*
 * test_model.c - the models: gradients against finite differences for
 * every kind, activation and head; stable losses; the fused SGD step;
 * the checks at creation; initialisation; snapshots.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "snapshot.h"
#include "test.h"
#include "wire.h"

/* A small generator for test data, independent of the library's own. */
static uint64_t rng_state;

static void rng_seed(uint64_t s)
{
	rng_state = s;
}

static double urand(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return (double)((z ^ (z >> 31)) >> 11) * 0x1p-53;
}

/* Uniform in [lo, hi). */
static float uni(double lo, double hi)
{
	return (float)(lo + (hi - lo) * urand());
}

static struct mb_model_cfg one_layer(enum mb_model_kind kind, uint32_t in, uint32_t out, uint32_t max_batch)
{
	return (struct mb_model_cfg){
		.kind = kind,
		.n_inputs = in,
		.n_outputs = out,
		.max_batch = max_batch,
		.seed = 7,
	};
}

static struct mb_model_cfg mlp(enum mb_act act, enum mb_model_kind head, uint32_t in, uint32_t out,
			       uint32_t max_batch)
{
	return (struct mb_model_cfg){
		.kind = MB_MODEL_MLP,
		.output = head,
		.n_inputs = in,
		.n_outputs = out,
		.n_hidden = 2,
		.hidden = {4, 3},
		.hidden_act = act,
		.max_batch = max_batch,
		.seed = 11,
	};
}

/* Targets each head takes: class indices, labels in [0, 1] (some soft), or any values. */
static void fill_targets(struct mb_model *m, float *Y, uint32_t rows)
{
	const struct mb_model_cfg *c = mb_model_cfg(m);
	enum mb_model_kind head = c->kind == MB_MODEL_MLP ? c->output : c->kind;

	for (uint32_t i = 0; i < rows; i++) {
		if (head == MB_MODEL_SOFTMAX)
			Y[i] = (float)(i % c->n_outputs);
		else if (head == MB_MODEL_LOGISTIC)
			Y[i] = i % 3 == 2 ? 0.25f : (float)(i % 2);
		else
			for (uint32_t j = 0; j < c->n_outputs; j++)
				Y[i * c->n_outputs + j] = uni(-2, 2);
	}
}

static double cost_of(struct mb_model *m, const float *X, const float *Y, const float *w, uint32_t rows)
{
	CU_ASSERT_EQUAL_FATAL(mb_model_forward(m, X, rows), 0);
	return mb_model_cost(m, Y, w, rows, NULL);
}

/*
 * The backward gradient against central differences of the cost, for
 * every parameter. eps 1e-3 in float: the cost is accurate to ~1e-7, so
 * the differences carry ~1e-4 of noise, well under the 1e-2 allowed.
 * relu has a kink at 0, where no difference quotient converges: a
 * parameter whose two one-sided quotients disagree like a kink's is left
 * out, and only a few may be.
 */
static void gradcheck(const struct mb_model_cfg *cfg, bool weighted)
{
	enum { ROWS = 6 };
	struct mb_model *m = NULL;
	float X[ROWS * 8], Y[ROWS * 4], w[ROWS];
	const float eps = 1e-3f;
	bool relu = cfg->kind == MB_MODEL_MLP && cfg->hidden_act == MB_ACT_RELU;

	CU_ASSERT_FATAL(cfg->n_inputs <= 8 && cfg->n_outputs <= 4);
	CU_ASSERT_EQUAL_FATAL(mb_model_new(cfg, &m), 0);
	rng_seed(cfg->seed * 31 + cfg->hidden_act + 7 * (uint64_t)cfg->output + 100 * weighted);
	for (size_t i = 0; i < ROWS * cfg->n_inputs; i++)
		X[i] = uni(-1, 1);
	for (size_t i = 0; i < ROWS; i++)
		w[i] = uni(0.2, 2);
	fill_targets(m, Y, ROWS);
	const float *wp = weighted ? w : NULL;

	size_t n = mb_model_n_params(m);
	float *p = mb_model_params(m);
	float *g = malloc(sizeof(float) * n);
	CU_ASSERT_FATAL(g != NULL);

	/* Biases start at 0; move them so the check covers a general point. */
	for (size_t k = 0; k < n; k++)
		p[k] += uni(-0.3, 0.3);

	CU_ASSERT_EQUAL_FATAL(mb_model_forward(m, X, ROWS), 0);
	CU_ASSERT_EQUAL_FATAL(mb_model_backward(m, X, Y, wp, ROWS, 1.0f, 0.0f, g), 0);
	double c0 = cost_of(m, X, Y, wp, ROWS);

	double diff2 = 0, norm2 = 0;
	size_t bad = 0, kinks = 0;
	for (size_t k = 0; k < n; k++) {
		float keep = p[k];
		p[k] = keep + eps;
		float up = p[k];
		double cp = cost_of(m, X, Y, wp, ROWS);
		p[k] = keep - eps;
		float down = p[k];
		double cm = cost_of(m, X, Y, wp, ROWS);
		p[k] = keep;
		double num = (cp - cm) / ((double)up - down);
		double fwd = (cp - c0) / ((double)up - keep), bwd = (c0 - cm) / ((double)keep - down);
		if (relu && fabs(fwd - bwd) > 1e-2 * fmax(fabs(fwd), fabs(bwd)) + 2e-3) {
			kinks++;
			continue;
		}
		double d = fabs(num - g[k]);
		diff2 += d * d;
		norm2 += (double)g[k] * g[k];
		if (d > 1e-2 * fmax(fabs(num), fabs(g[k])) + 1e-3)
			bad++;
	}
	CU_ASSERT(norm2 > 1e-6); /* a gradient that is all zero would check nothing */
	CU_ASSERT(sqrt(diff2 / norm2) < 1e-2);
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT(kinks <= n / 4);
	free(g);
	mb_model_free(m);
}

static void test_gradcheck_linear(void)
{
	struct mb_model_cfg c = one_layer(MB_MODEL_LINEAR, 5, 3, 8);
	gradcheck(&c, false);
	gradcheck(&c, true);
}

static void test_gradcheck_logistic(void)
{
	struct mb_model_cfg c = one_layer(MB_MODEL_LOGISTIC, 5, 1, 8);
	gradcheck(&c, false);
	gradcheck(&c, true);
}

static void test_gradcheck_softmax(void)
{
	struct mb_model_cfg c = one_layer(MB_MODEL_SOFTMAX, 6, 4, 8);
	gradcheck(&c, false);
	gradcheck(&c, true);
}

/* Every hidden activation with every head, two hidden layers deep. */
static void gradcheck_mlp(enum mb_act act)
{
	const struct {
		enum mb_model_kind head;
		uint32_t out;
	} heads[] = {{MB_MODEL_SOFTMAX, 3}, {MB_MODEL_LOGISTIC, 1}, {MB_MODEL_LINEAR, 2}};

	for (size_t h = 0; h < 3; h++) {
		struct mb_model_cfg c = mlp(act, heads[h].head, 5, heads[h].out, 8);
		gradcheck(&c, false);
		gradcheck(&c, true);
	}
}

static void test_gradcheck_mlp_relu(void) { gradcheck_mlp(MB_ACT_RELU); }
static void test_gradcheck_mlp_tanh(void) { gradcheck_mlp(MB_ACT_TANH); }
static void test_gradcheck_mlp_sigmoid(void) { gradcheck_mlp(MB_ACT_SIGMOID); }

/* dst = beta dst + alpha grad, with beta neither 0 nor 1 too. */
static void test_alpha_beta(void)
{
	enum { ROWS = 5 };
	struct mb_model_cfg c = mlp(MB_ACT_TANH, MB_MODEL_SOFTMAX, 4, 3, ROWS);
	struct mb_model *m = NULL;
	float X[ROWS * 4], Y[ROWS];

	CU_ASSERT_EQUAL_FATAL(mb_model_new(&c, &m), 0);
	rng_seed(5);
	for (size_t i = 0; i < sizeof X / sizeof X[0]; i++)
		X[i] = uni(-1, 1);
	fill_targets(m, Y, ROWS);
	size_t n = mb_model_n_params(m);
	float *g = malloc(sizeof(float) * n), *d = malloc(sizeof(float) * n);
	CU_ASSERT_FATAL(g && d);

	for (uint32_t rows = 1; rows <= ROWS; rows += ROWS - 1) {
		CU_ASSERT_EQUAL(mb_model_forward(m, X, rows), 0);
		/* beta 0 ignores whatever dst held, NaN included. */
		for (size_t k = 0; k < n; k++)
			g[k] = NAN;
		CU_ASSERT_EQUAL(mb_model_backward(m, X, Y, NULL, rows, 1.0f, 0.0f, g), 0);
		for (size_t k = 0; k < n; k++) {
			CU_ASSERT_FATAL(isfinite(g[k]));
			d[k] = (float)k / (float)n - 0.5f;
		}
		CU_ASSERT_EQUAL(mb_model_backward(m, X, Y, NULL, rows, 2.0f, 0.5f, d), 0);
		for (size_t k = 0; k < n; k++)
			CU_ASSERT_DOUBLE_EQUAL(d[k], 0.5 * ((double)k / n - 0.5) + 2.0 * g[k], 1e-5);
	}
	free(g);
	free(d);
	mb_model_free(m);
}

/*
 * The fused step (dst = params, alpha -lr, beta 1) equals a separate
 * gradient and update, for one row (the row kernels) and several (the
 * narrow batch kernels; sgemm for the deltas handed down). A large rate
 * makes any use of an already updated W for the lower deltas show.
 */
static void test_fused_sgd(void)
{
	enum { ROWS = 7 };
	const float lr = 0.7f;
	struct mb_model_cfg c = mlp(MB_ACT_RELU, MB_MODEL_SOFTMAX, 6, 4, ROWS);
	struct mb_model *a = NULL, *b = NULL;
	float X[ROWS * 6], Y[ROWS];

	rng_seed(9);
	for (size_t i = 0; i < sizeof X / sizeof X[0]; i++)
		X[i] = uni(-1, 1);
	for (uint32_t rows = 1; rows <= ROWS; rows += ROWS - 1) {
		CU_ASSERT_EQUAL_FATAL(mb_model_new(&c, &a), 0);
		CU_ASSERT_EQUAL_FATAL(mb_model_new(&c, &b), 0);
		fill_targets(a, Y, rows);
		size_t n = mb_model_n_params(a);
		float *g = malloc(sizeof(float) * n), *pa = mb_model_params(a), *pb = mb_model_params(b);
		CU_ASSERT_FATAL(g != NULL);

		CU_ASSERT_EQUAL(mb_model_forward(a, X, rows), 0);
		CU_ASSERT_EQUAL(mb_model_backward(a, X, Y, NULL, rows, 1.0f, 0.0f, g), 0);
		for (size_t k = 0; k < n; k++)
			pa[k] -= lr * g[k];
		CU_ASSERT_EQUAL(mb_model_forward(b, X, rows), 0);
		CU_ASSERT_EQUAL(mb_model_backward(b, X, Y, NULL, rows, -lr, 1.0f, pb), 0);

		double worst = 0;
		for (size_t k = 0; k < n; k++)
			worst = fmax(worst, fabs((double)pa[k] - pb[k]));
		CU_ASSERT(worst < 1e-5);
		free(g);
		a = mb_model_free(a);
		b = mb_model_free(b);
	}
}

/* Logits of +-1000: the cost is the exact 2000 (log-sum-exp), not log(0) = -inf. */
static void test_softmax_stable(void)
{
	struct mb_model_cfg c = one_layer(MB_MODEL_SOFTMAX, 1, 3, 2);
	struct mb_model *m = NULL;
	const float X[1] = {1.0f};
	float y, g[6];
	uint32_t correct = 99;

	CU_ASSERT_EQUAL_FATAL(mb_model_new(&c, &m), 0);
	memcpy(mb_model_params(m), (const float[]){1000, 0, -1000, 0, 0, 0}, sizeof g);
	CU_ASSERT_EQUAL(mb_model_forward(m, X, 1), 0);
	const float *p = mb_model_output(m);
	CU_ASSERT_DOUBLE_EQUAL(p[0] + p[1] + p[2], 1.0, 1e-6);
	y = 2;
	CU_ASSERT_DOUBLE_EQUAL(mb_model_cost(m, &y, NULL, 1, &correct), 2000.0, 1e-3);
	CU_ASSERT_EQUAL(correct, 0);
	CU_ASSERT_EQUAL(mb_model_backward(m, X, &y, NULL, 1, 1.0f, 0.0f, g), 0);
	CU_ASSERT_DOUBLE_EQUAL(g[0], 1.0, 1e-6);  /* dW = (p - onehot) x */
	CU_ASSERT_DOUBLE_EQUAL(g[2], -1.0, 1e-6);
	y = 0;
	CU_ASSERT_DOUBLE_EQUAL(mb_model_cost(m, &y, NULL, 1, &correct), 0.0, 1e-9);
	CU_ASSERT_EQUAL(correct, 1);
	mb_model_free(m);
}

/* Logits of +-100: binary cross-entropy stays exact, the output saturates cleanly. */
static void test_logistic_stable(void)
{
	struct mb_model_cfg c = one_layer(MB_MODEL_LOGISTIC, 1, 1, 2);
	struct mb_model *m = NULL;
	const float X[2] = {-1.0f, 1.0f};
	uint32_t correct = 99;

	CU_ASSERT_EQUAL_FATAL(mb_model_new(&c, &m), 0);
	mb_model_params(m)[0] = 100.0f;
	CU_ASSERT_EQUAL(mb_model_forward(m, X, 2), 0);
	CU_ASSERT_DOUBLE_EQUAL(mb_model_output(m)[0], 0.0, 1e-30);
	CU_ASSERT_DOUBLE_EQUAL(mb_model_output(m)[1], 1.0, 1e-7);
	/* z = -100 with y = 1 and z = 100 with y = 0: each costs 100. */
	CU_ASSERT_DOUBLE_EQUAL(mb_model_cost(m, (const float[]){1, 0}, NULL, 2, &correct), 100.0, 1e-6);
	CU_ASSERT_EQUAL(correct, 0);
	CU_ASSERT_DOUBLE_EQUAL(mb_model_cost(m, (const float[]){0, 1}, NULL, 2, &correct), 0.0, 1e-12);
	CU_ASSERT_EQUAL(correct, 2);
	mb_model_free(m);
}

/* Weighted means: a row of weight 3 counts as three copies of it. */
static void test_weighted_mean(void)
{
	struct mb_model_cfg c = one_layer(MB_MODEL_LINEAR, 2, 1, 4);
	struct mb_model *m = NULL;
	const float X[] = {1, 2, -1, 0.5f, 1, 2, 1, 2}, Y[] = {1, -1, 1, 1};
	float g1[3], g2[3];

	CU_ASSERT_EQUAL_FATAL(mb_model_new(&c, &m), 0);
	CU_ASSERT_EQUAL(mb_model_forward(m, X, 2), 0);
	double cw = mb_model_cost(m, Y, (const float[]){3, 1}, 2, NULL);
	CU_ASSERT_EQUAL(mb_model_backward(m, X, Y, (const float[]){3, 1}, 2, 1.0f, 0.0f, g1), 0);
	const float X4[] = {1, 2, 1, 2, 1, 2, -1, 0.5f}, Y4[] = {1, 1, 1, -1};
	CU_ASSERT_EQUAL(mb_model_forward(m, X4, 4), 0);
	CU_ASSERT_DOUBLE_EQUAL(mb_model_cost(m, Y4, NULL, 4, NULL), cw, 1e-6);
	CU_ASSERT_EQUAL(mb_model_backward(m, X4, Y4, NULL, 4, 1.0f, 0.0f, g2), 0);
	for (int k = 0; k < 3; k++)
		CU_ASSERT_DOUBLE_EQUAL(g1[k], g2[k], 1e-6);
	mb_model_free(m);
}

/*
 * A batch larger than the blocks a narrow head's backward pass reads at a
 * time (1 MiB of rows: 64 rows of 4096 features) sums every block: 200
 * copies of one row (four blocks, the last of 8 rows) give the gradient of
 * that row alone. A block that overwrote instead of adding would leave a
 * fraction of it.
 */
static void test_big_batch_blocks(void)
{
	enum { IN = 4096, OUT = 10, ROWS = 200 };
	struct mb_model_cfg c = one_layer(MB_MODEL_SOFTMAX, IN, OUT, ROWS);
	struct mb_model *m = NULL;
	CU_ASSERT_EQUAL_FATAL(mb_model_new(&c, &m), 0);
	size_t np = mb_model_n_params(m);
	float *X = malloc(sizeof(float) * ROWS * IN), *Y = malloc(sizeof(float) * ROWS);
	float *g1 = malloc(sizeof(float) * np), *gn = malloc(sizeof(float) * np);
	CU_ASSERT_FATAL(X && Y && g1 && gn);
	rng_seed(5);
	for (uint32_t k = 0; k < IN; k++)
		X[k] = uni(-1, 1);
	for (uint32_t i = 0; i < ROWS; i++) {
		memcpy(X + (size_t)i * IN, X, sizeof(float) * IN);
		Y[i] = 3;
	}
	CU_ASSERT_EQUAL(mb_model_forward(m, X, 1), 0);
	CU_ASSERT_EQUAL(mb_model_backward(m, X, Y, NULL, 1, 1.0f, 0.0f, g1), 0);
	CU_ASSERT_EQUAL(mb_model_forward(m, X, ROWS), 0);
	CU_ASSERT_EQUAL(mb_model_backward(m, X, Y, NULL, ROWS, 1.0f, 0.0f, gn), 0);
	double worst = 0, scale = 0;
	for (size_t k = 0; k < np; k++) {
		double d = fabs((double)g1[k] - gn[k]);
		worst = d > worst ? d : worst;
		scale = fabs(g1[k]) > scale ? fabs(g1[k]) : scale;
	}
	CU_ASSERT(scale > 0.01);
	CU_ASSERT(worst <= 1e-5 * scale);
	free(X);
	free(Y);
	free(g1);
	free(gn);
	mb_model_free(m);
}

/* A class index that is not an integer in [0, n_outputs) is refused; dst stays as it was. */
static void test_bad_targets(void)
{
	struct mb_model_cfg c = one_layer(MB_MODEL_SOFTMAX, 2, 3, 2);
	struct mb_model *m = NULL;
	const float X[4] = {0.5f, -1, 1, 0.25f};
	const float bad[] = {3.0f, 2.5f, -1.0f, 1e9f};
	float dst[9], before[9];
	uint32_t correct = 42;

	CU_ASSERT_EQUAL_FATAL(mb_model_new(&c, &m), 0);
	for (int k = 0; k < 9; k++)
		before[k] = (float)k;
	CU_ASSERT_EQUAL(mb_model_forward(m, X, 2), 0);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		float Y[2] = {1, bad[i]};
		memcpy(dst, before, sizeof dst);
		CU_ASSERT(isnan(mb_model_cost(m, Y, NULL, 2, &correct)));
		CU_ASSERT_EQUAL(correct, 42);
		CU_ASSERT_EQUAL(mb_model_backward(m, X, Y, NULL, 2, 1.0f, 0.0f, dst), -EINVAL);
		CU_ASSERT_EQUAL(memcmp(dst, before, sizeof dst), 0);
	}
	/* Negative or all-zero weights make no mean. */
	const float Y[2] = {0, 1};
	CU_ASSERT(isnan(mb_model_cost(m, Y, (const float[]){1, -1}, 2, NULL)));
	CU_ASSERT(isnan(mb_model_cost(m, Y, (const float[]){0, 0}, 2, NULL)));
	CU_ASSERT_EQUAL(mb_model_backward(m, X, Y, (const float[]){0, 0}, 2, 1.0f, 0.0f, dst), -EINVAL);
	mb_model_free(m);

	/* Logistic labels live in [0, 1]. */
	c = one_layer(MB_MODEL_LOGISTIC, 2, 1, 2);
	CU_ASSERT_EQUAL_FATAL(mb_model_new(&c, &m), 0);
	CU_ASSERT_EQUAL(mb_model_forward(m, X, 2), 0);
	memcpy(dst, before, sizeof dst);
	CU_ASSERT(isnan(mb_model_cost(m, (const float[]){1, 1.5f}, NULL, 2, NULL)));
	CU_ASSERT_EQUAL(mb_model_backward(m, X, (const float[]){1, 1.5f}, NULL, 2, 1.0f, 0.0f, dst), -EINVAL);
	CU_ASSERT_EQUAL(memcmp(dst, before, sizeof dst), 0);
	mb_model_free(m);
}

/* Inputs that overflow a hidden unit: -EDOM and dst untouched, for the plain and the fused step. */
static void test_nonfinite_guard(void)
{
	struct mb_model_cfg c = mlp(MB_ACT_RELU, MB_MODEL_SOFTMAX, 3, 3, 2);
	struct mb_model *m = NULL;
	float X[6], Y[2] = {0, 1};

	CU_ASSERT_EQUAL_FATAL(mb_model_new(&c, &m), 0);
	size_t n = mb_model_n_params(m);
	float *p = mb_model_params(m), *saved = malloc(sizeof(float) * n), *g = malloc(sizeof(float) * n);
	CU_ASSERT_FATAL(saved && g);
	/*
	 * FLT_MAX with the signs of the first hidden unit's weights (row 0 of
	 * W1, then its opposite): every term of one unit's sum has the same
	 * sign, so it overflows whatever order BLAS adds in.
	 */
	for (int k = 0; k < 3; k++) {
		X[k] = p[k] < 0 ? -FLT_MAX : FLT_MAX;
		X[3 + k] = -X[k];
	}
	memcpy(saved, p, sizeof(float) * n);
	memcpy(g, p, sizeof(float) * n);
	CU_ASSERT_EQUAL(mb_model_forward(m, X, 2), 0);
	CU_ASSERT_FALSE(isfinite(mb_model_cost(m, Y, NULL, 2, NULL)));
	CU_ASSERT_EQUAL(mb_model_backward(m, X, Y, NULL, 2, 1.0f, 0.0f, g), -EDOM);
	CU_ASSERT_EQUAL(memcmp(g, saved, sizeof(float) * n), 0);
	CU_ASSERT_EQUAL(mb_model_backward(m, X, Y, NULL, 2, -0.1f, 1.0f, p), -EDOM);
	CU_ASSERT_EQUAL(memcmp(p, saved, sizeof(float) * n), 0);
	free(saved);
	free(g);
	mb_model_free(m);
}

static void expect_refused(struct mb_model_cfg c, int err)
{
	static char sentinel;
	struct mb_model *m = (struct mb_model *)&sentinel;
	const char *why = NULL;

	CU_ASSERT_EQUAL(mb_model_new(&c, &m), err);
	CU_ASSERT_PTR_EQUAL(m, (struct mb_model *)&sentinel);
	CU_ASSERT_EQUAL(mb_model_cfg_check(&c, &why), err);
	CU_ASSERT_PTR_NOT_NULL(why);
}

static void test_bad_config(void)
{
	struct mb_model_cfg c;

	c = one_layer(MB_MODEL_SOFTMAX, 4, 3, 1);
	c.n_hidden = 1;
	c.hidden[0] = 5;
	expect_refused(c, -EINVAL);                                   /* softmax with a hidden layer */
	expect_refused(one_layer(MB_MODEL_SOFTMAX, 4, 1, 1), -EINVAL); /* one class */
	expect_refused(one_layer(MB_MODEL_LOGISTIC, 4, 2, 1), -EINVAL);
	expect_refused(one_layer(MB_MODEL_LINEAR, 0, 1, 1), -EINVAL);  /* no inputs */
	expect_refused(one_layer(MB_MODEL_LINEAR, 4, 0, 1), -EINVAL);
	expect_refused(one_layer(MB_MODEL_LINEAR, 4, 1, 0), -EINVAL);  /* no rows */
	expect_refused(one_layer((enum mb_model_kind)9, 4, 1, 1), -EINVAL);

	c = mlp(MB_ACT_RELU, MB_MODEL_SOFTMAX, 4, 3, 1);
	c.n_hidden = MB_MAX_LAYERS; /* one layer too many with the head */
	for (uint32_t i = 0; i < MB_MAX_LAYERS - 1; i++)
		c.hidden[i] = 2;
	expect_refused(c, -EINVAL);
	c.n_hidden = MB_MAX_LAYERS - 1; /* the most there may be */
	struct mb_model *m = NULL;
	CU_ASSERT_EQUAL(mb_model_new(&c, &m), 0);
	mb_model_free(m);

	c = mlp(MB_ACT_RELU, MB_MODEL_SOFTMAX, 4, 3, 1);
	c.n_hidden = 0;
	expect_refused(c, -EINVAL);
	c = mlp(MB_ACT_SOFTMAX, MB_MODEL_SOFTMAX, 4, 3, 1);
	expect_refused(c, -EINVAL);
	c = mlp(MB_ACT_RELU, MB_MODEL_MLP, 4, 3, 1);
	expect_refused(c, -EINVAL);
	c = mlp(MB_ACT_RELU, MB_MODEL_SOFTMAX, 4, 1, 1);
	expect_refused(c, -EINVAL);
	c = mlp(MB_ACT_RELU, MB_MODEL_SOFTMAX, 4, 3, 1);
	c.hidden[1] = 0;
	expect_refused(c, -EINVAL);

	/* More parameters than a snapshot can count: refused before allocating anything. */
	c = mlp(MB_ACT_RELU, MB_MODEL_LINEAR, MB_MAX_FEATURES, 1, 1);
	c.hidden[0] = MB_MAX_FEATURES;
	expect_refused(c, -E2BIG);
	CU_ASSERT_PTR_NULL(mb_model_free(NULL));
}

static void test_registry(void)
{
	const char *names[] = {"linear", "logistic", "softmax", "mlp"};
	const enum mb_model_kind kinds[] = {MB_MODEL_LINEAR, MB_MODEL_LOGISTIC, MB_MODEL_SOFTMAX, MB_MODEL_MLP};

	for (int i = 0; i < 4; i++) {
		const struct mb_model_ops *ops = mb_model_ops_by_name(names[i]);
		CU_ASSERT_PTR_NOT_NULL_FATAL(ops);
		CU_ASSERT_PTR_EQUAL(ops, mb_model_ops_find(kinds[i]));
		CU_ASSERT_EQUAL(ops->kind, kinds[i]);
		CU_ASSERT_STRING_EQUAL(ops->name, names[i]);
		CU_ASSERT_PTR_NOT_NULL(ops->check);
		CU_ASSERT_PTR_NOT_NULL(ops->head);
	}
	CU_ASSERT_PTR_NULL(mb_model_ops_by_name("svm"));
	CU_ASSERT_PTR_NULL(mb_model_ops_by_name(NULL));
	CU_ASSERT_PTR_NULL(mb_model_ops_find((enum mb_model_kind)0));
}

/* The shape accessors a daemon and a client read. */
static void test_accessors(void)
{
	struct mb_model_cfg c = mlp(MB_ACT_TANH, MB_MODEL_LINEAR, 5, 2, 3);
	struct mb_model *m = NULL;

	CU_ASSERT_EQUAL_FATAL(mb_model_new(&c, &m), 0);
	CU_ASSERT_EQUAL(mb_model_n_params(m), 5 * 4 + 4 + 4 * 3 + 3 + 3 * 2 + 2);
	CU_ASSERT_EQUAL(mb_model_n_targets(m), 2);
	CU_ASSERT_FALSE(mb_model_is_classifier(m));
	CU_ASSERT_EQUAL(mb_model_cfg(m)->n_hidden, 2);
	CU_ASSERT_EQUAL(mb_model_forward(m, (const float[20]){0}, 4), -EINVAL); /* over max_batch */
	CU_ASSERT_EQUAL(mb_model_forward(m, (const float[5]){0}, 0), -EINVAL);
	mb_model_free(m);

	c = one_layer(MB_MODEL_SOFTMAX, 3, 4, 2);
	CU_ASSERT_EQUAL_FATAL(mb_model_new(&c, &m), 0);
	CU_ASSERT_EQUAL(mb_model_n_targets(m), 1);
	CU_ASSERT_TRUE(mb_model_is_classifier(m));
	/* Before any forward pass there is nothing to score or differentiate. */
	CU_ASSERT(isnan(mb_model_cost(m, (const float[]){0}, NULL, 1, NULL)));
	CU_ASSERT_EQUAL(mb_model_backward(m, (const float[3]){0}, (const float[]){0}, NULL, 1, 1.0f, 0.0f,
					  mb_model_params(m)), -EINVAL);
	mb_model_free(m);
}

/* Argmax and the correct count agree with the outputs. */
static void test_argmax(void)
{
	enum { ROWS = 16 };
	struct mb_model_cfg c = one_layer(MB_MODEL_SOFTMAX, 4, 5, ROWS);
	struct mb_model *m = NULL;
	float X[ROWS * 4], Y[ROWS];
	uint32_t cls[ROWS], correct = 0, want = 0;

	CU_ASSERT_EQUAL_FATAL(mb_model_new(&c, &m), 0);
	rng_seed(3);
	for (size_t i = 0; i < sizeof X / sizeof X[0]; i++)
		X[i] = uni(-3, 3);
	for (int i = 0; i < ROWS; i++)
		Y[i] = (float)(i % 5);
	CU_ASSERT_EQUAL(mb_model_forward(m, X, ROWS), 0);
	mb_model_argmax(m, ROWS, cls);
	const float *p = mb_model_output(m);
	for (int i = 0; i < ROWS; i++) {
		for (int j = 0; j < 5; j++)
			CU_ASSERT(p[i * 5 + j] <= p[i * 5 + cls[i]]);
		want += cls[i] == (uint32_t)Y[i];
	}
	CU_ASSERT(isfinite(mb_model_cost(m, Y, NULL, ROWS, &correct)));
	CU_ASSERT_EQUAL(correct, want);
	CU_ASSERT(want > 0 && want < ROWS); /* the count is not trivially all or nothing */
	mb_model_free(m);
}

/* Seeded initialisation: He-uniform for relu layers, Glorot-uniform elsewhere, biases 0. */
static void test_init(void)
{
	struct mb_model_cfg c = mlp(MB_ACT_RELU, MB_MODEL_SOFTMAX, 300, 10, 1);
	struct mb_model *a = NULL, *b = NULL;

	c.n_hidden = 1;
	c.hidden[0] = 200;
	CU_ASSERT_EQUAL_FATAL(mb_model_new(&c, &a), 0);
	CU_ASSERT_EQUAL_FATAL(mb_model_new(&c, &b), 0);
	size_t n = mb_model_n_params(a);
	const float *p = mb_model_params(a);
	CU_ASSERT_EQUAL(memcmp(p, mb_model_params(b), sizeof(float) * n), 0);
	mb_model_free(b);
	c.seed++;
	CU_ASSERT_EQUAL_FATAL(mb_model_new(&c, &b), 0);
	CU_ASSERT_NOT_EQUAL(memcmp(p, mb_model_params(b), sizeof(float) * n), 0);
	mb_model_free(b);

	/* Layer 1: 200 x 300 relu, limit sqrt(6 / 300); variance limit^2 / 3 = 1 / 150. */
	double lim = sqrt(6.0 / 300), s2 = 0;
	for (size_t i = 0; i < 200 * 300; i++) {
		CU_ASSERT_FATAL(fabs(p[i]) <= lim);
		s2 += (double)p[i] * p[i];
	}
	CU_ASSERT_DOUBLE_EQUAL(s2 / (200 * 300), 1.0 / 150, 0.05 / 150);
	for (size_t i = 200 * 300; i < 200 * 301; i++)
		CU_ASSERT_EQUAL_FATAL(p[i], 0.0f);
	/* Head: 10 x 200 softmax, Glorot limit sqrt(6 / 210); variance 2 / 210. */
	p += 200 * 301;
	lim = sqrt(6.0 / 210);
	s2 = 0;
	for (size_t i = 0; i < 10 * 200; i++) {
		CU_ASSERT_FATAL(fabs(p[i]) <= lim);
		s2 += (double)p[i] * p[i];
	}
	CU_ASSERT_DOUBLE_EQUAL(s2 / 2000, 2.0 / 210, 0.1 * 2.0 / 210);
	for (size_t i = 2000; i < 2010; i++)
		CU_ASSERT_EQUAL_FATAL(p[i], 0.0f);
	mb_model_free(a);
}

/* Forward pass outputs of two models on the same rows are the same bits. */
static bool same_outputs(struct mb_model *a, struct mb_model *b, const float *X, uint32_t rows)
{
	CU_ASSERT_EQUAL_FATAL(mb_model_forward(a, X, rows), 0);
	CU_ASSERT_EQUAL_FATAL(mb_model_forward(b, X, rows), 0);
	return memcmp(mb_model_output(a), mb_model_output(b),
		      sizeof(float) * rows * mb_model_cfg(a)->n_outputs) == 0;
}

/* describe and from_snap: the shape and the little-endian parameters make the same model. */
static void test_snapshot_shape(void)
{
	struct mb_model_cfg c = mlp(MB_ACT_SIGMOID, MB_MODEL_LOGISTIC, 6, 1, 4);
	struct mb_model *m = NULL, *back = NULL;
	struct mb_snap_info info;
	float X[4 * 6];

	CU_ASSERT_EQUAL_FATAL(mb_model_new(&c, &m), 0);
	memset(&info, 0xff, sizeof info);
	mb_model_describe(m, &info);
	CU_ASSERT_EQUAL(info.kind, MB_MODEL_MLP);
	CU_ASSERT_EQUAL(info.n_layers, 3);
	CU_ASSERT_EQUAL(info.sizes[0], 6);
	CU_ASSERT_EQUAL(info.sizes[1], 4);
	CU_ASSERT_EQUAL(info.sizes[2], 3);
	CU_ASSERT_EQUAL(info.sizes[3], 1);
	CU_ASSERT_EQUAL(info.act[0], MB_ACT_SIGMOID);
	CU_ASSERT_EQUAL(info.act[1], MB_ACT_SIGMOID);
	CU_ASSERT_EQUAL(info.act[2], MB_ACT_SIGMOID);
	CU_ASSERT_EQUAL(info.n_params, mb_model_n_params(m));

	size_t n = mb_model_n_params(m);
	uint8_t *le = malloc(4 * n);
	CU_ASSERT_FATAL(le != NULL);
	for (size_t k = 0; k < n; k++)
		mb_put_lef32(le + 4 * k, mb_model_params(m)[k]);
	CU_ASSERT_EQUAL_FATAL(mb_model_from_snap(&info, le, 4, &back), 0);
	CU_ASSERT_EQUAL(memcmp(mb_model_params(back), mb_model_params(m), 4 * n), 0);
	CU_ASSERT_EQUAL(mb_model_cfg(back)->output, MB_MODEL_LOGISTIC);
	rng_seed(4);
	for (size_t i = 0; i < sizeof X / sizeof X[0]; i++)
		X[i] = uni(-1, 1);
	CU_ASSERT_TRUE(same_outputs(m, back, X, 4));
	back = mb_model_free(back);

	/* Shapes this library does not build. */
	struct mb_snap_info bad = info;
	bad.act[1] = MB_ACT_RELU; /* mixed hidden activations */
	CU_ASSERT_EQUAL(mb_model_from_snap(&bad, le, 4, &back), -EINVAL);
	bad = info;
	bad.n_params--;
	CU_ASSERT_EQUAL(mb_model_from_snap(&bad, le, 4, &back), -EINVAL);
	bad = info;
	bad.kind = MB_MODEL_SOFTMAX; /* softmax regression has one layer */
	CU_ASSERT_EQUAL(mb_model_from_snap(&bad, le, 4, &back), -EINVAL);
	bad = info;
	bad.act[2] = MB_ACT_RELU; /* not a head */
	CU_ASSERT_EQUAL(mb_model_from_snap(&bad, le, 4, &back), -EINVAL);
	CU_ASSERT_PTR_NULL(back);
	free(le);
	mb_model_free(m);
}

/* The whole way a model travels: describe, encode, decode, rebuild. */
static void test_snapshot_codec(void)
{
	struct mb_model_cfg c = mlp(MB_ACT_RELU, MB_MODEL_SOFTMAX, 7, 3, 5);
	struct mb_model *m = NULL, *back = NULL;
	struct mb_snap_info info = {0}, got;
	const uint8_t *params = NULL;
	struct mb_diag diag = {0};
	float X[5 * 7];

	CU_ASSERT_EQUAL_FATAL(mb_model_new(&c, &m), 0);
	mb_model_describe(m, &info);
	info.version = 12;
	info.samples = 340;
	info.batches = 12;
	size_t size = mb_snap_size(&info);
	CU_ASSERT_FATAL(size > 0);
	uint8_t *buf = malloc(size);
	CU_ASSERT_FATAL(buf != NULL);
	CU_ASSERT_EQUAL_FATAL(mb_snap_encode(buf, size, &info, mb_model_params(m)), (long)size);
	CU_ASSERT_EQUAL_FATAL(mb_snap_decode(buf, size, &got, &params, &diag), 0);
	CU_ASSERT_EQUAL(got.n_params, mb_model_n_params(m));
	CU_ASSERT_EQUAL_FATAL(mb_model_from_snap(&got, params, 5, &back), 0);
	CU_ASSERT_EQUAL(memcmp(mb_model_params(back), mb_model_params(m), 4 * mb_model_n_params(m)), 0);
	rng_seed(8);
	for (size_t i = 0; i < sizeof X / sizeof X[0]; i++)
		X[i] = uni(-1, 1);
	CU_ASSERT_TRUE(same_outputs(m, back, X, 5));
	free(buf);
	mb_model_free(back);
	mb_model_free(m);
}

int main(void)
{
	MB_SUITE("model",
		 {"gradcheck_linear", test_gradcheck_linear},
		 {"gradcheck_logistic", test_gradcheck_logistic},
		 {"gradcheck_softmax", test_gradcheck_softmax},
		 {"gradcheck_mlp_relu", test_gradcheck_mlp_relu},
		 {"gradcheck_mlp_tanh", test_gradcheck_mlp_tanh},
		 {"gradcheck_mlp_sigmoid", test_gradcheck_mlp_sigmoid},
		 {"alpha_beta", test_alpha_beta},
		 {"fused_sgd", test_fused_sgd},
		 {"softmax_stable", test_softmax_stable},
		 {"logistic_stable", test_logistic_stable},
		 {"weighted_mean", test_weighted_mean}, {"big_batch_blocks", test_big_batch_blocks},
		 {"bad_targets", test_bad_targets},
		 {"nonfinite_guard", test_nonfinite_guard},
		 {"bad_config", test_bad_config},
		 {"registry", test_registry},
		 {"accessors", test_accessors},
		 {"argmax", test_argmax},
		 {"init", test_init},
		 {"snapshot_shape", test_snapshot_shape},
		 {"snapshot_codec", test_snapshot_codec});
	return mb_test_run();
}
