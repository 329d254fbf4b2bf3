/* SPDX-License-Identifier: MIT */
/*
 * model.c - the dense layers every model kind is built from, the registry
 * of kinds, and the checks made when a model is created.
 *
 * The products are sgemm for a batch through a wide layer, and the
 * kernels of kernels.c for a single row (any layer) and for a batch
 * through a narrow one (up to MB_KERN_NARROW_MAX outputs: linear,
 * logistic and softmax heads), where sgemm's packing costs more than it
 * saves. Around the products are a few elementwise
 * passes over the rows x outputs of a layer (activation, loss delta, bias
 * gradient), written so that GCC vectorizes them at -O2; the finiteness
 * guard rides on the bias gradient's sums, which are needed anyway.
 */
#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "model_priv.h"
#include "wire.h"

/* Alignment of every buffer: a cache line, which also suits any vector width BLAS uses. */
#define ALIGN 64u

static const struct mb_model_ops *const registry[] = {
	&mb_model_linear_ops,
	&mb_model_logistic_ops,
	&mb_model_softmax_ops,
	&mb_model_mlp_ops,
};
#define N_KINDS (sizeof registry / sizeof registry[0])

/*
 * The ops table of a kind, or NULL when no file registered that kind.
 */
const struct mb_model_ops *mb_model_ops_find(enum mb_model_kind kind)
{
	for (size_t i = 0; i < N_KINDS; i++)
		if (registry[i]->kind == kind)
			return registry[i];
	return NULL;
}

/*
 * The ops table named name ("linear", "logistic", "softmax", "mlp"), or
 * NULL. Config files and command lines name kinds this way.
 */
const struct mb_model_ops *mb_model_ops_by_name(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < N_KINDS; i++)
		if (registry[i]->name && strcmp(registry[i]->name, name) == 0)
			return registry[i];
	return NULL;
}

/*
 * The output counts each head supports; shared by the kinds' checks so
 * an MLP with a softmax head obeys the same rule as softmax regression.
 */
int mb_model_check_outputs(uint32_t n_outputs, enum mb_act head, const char **why)
{
	switch (head) {
	case MB_ACT_IDENTITY:
		if (n_outputs < 1 || n_outputs > MB_MAX_TARGETS) {
			*why = "a linear output needs 1..MB_MAX_TARGETS outputs";
			return -EINVAL;
		}
		return 0;
	case MB_ACT_SIGMOID:
		if (n_outputs != 1) {
			*why = "a logistic output has exactly one output";
			return -EINVAL;
		}
		return 0;
	case MB_ACT_SOFTMAX:
		if (n_outputs < 2 || n_outputs > MB_MAX_CLASSES) {
			*why = "a softmax output needs 2..MB_MAX_CLASSES classes";
			return -EINVAL;
		}
		return 0;
	default:
		*why = "unknown output activation";
		return -EINVAL;
	}
}

/* A table the core can rely on: every hook present, and registered under its own kind. */
static bool ops_complete(const struct mb_model_ops *ops)
{
	return ops && ops->name && ops->name[0] && ops->check && ops->head &&
	       mb_model_ops_find(ops->kind) == ops;
}

/* Widths of the layers' inputs and the output: sizes[0] = inputs ... sizes[n_layers] = outputs. */
static uint32_t layer_sizes(const struct mb_model_cfg *cfg, uint32_t sizes[MB_MAX_LAYERS + 1])
{
	uint32_t n_layers = cfg->kind == MB_MODEL_MLP ? cfg->n_hidden + 1 : 1;

	sizes[0] = cfg->n_inputs;
	for (uint32_t l = 1; l < n_layers; l++)
		sizes[l] = cfg->hidden[l - 1];
	sizes[n_layers] = cfg->n_outputs;
	return n_layers;
}

/*
 * Check cfg as mb_model_new would; on success *ret_ops is its kind's
 * table and *ret_n_params the parameter count.
 */
static int cfg_check(const struct mb_model_cfg *cfg, const struct mb_model_ops **ret_ops,
		     size_t *ret_n_params, const char **why)
{
	const struct mb_model_ops *ops = mb_model_ops_find(cfg->kind);
	uint32_t sizes[MB_MAX_LAYERS + 1];
	size_t n = 0;
	int r;

	if (!ops) {
		*why = "unknown model kind";
		return -EINVAL;
	}
	if (!ops_complete(ops)) {
		*why = "the model kind's ops table is incomplete";
		return -EINVAL;
	}
	if (cfg->n_inputs < 1 || cfg->n_inputs > MB_MAX_FEATURES) {
		*why = "n_inputs must be 1..MB_MAX_FEATURES";
		return -EINVAL;
	}
	if (cfg->max_batch < 1) {
		*why = "max_batch must be at least 1";
		return -EINVAL;
	}
	if (cfg->n_hidden >= MB_MAX_LAYERS) {
		*why = "too many layers (at most MB_MAX_LAYERS weight layers)";
		return -EINVAL;
	}
	r = ops->check(cfg, why);
	if (r < 0)
		return r;

	uint32_t n_layers = layer_sizes(cfg, sizes);
	for (uint32_t l = 0; l < n_layers; l++)
		if (!mb_size_muladd(sizes[l] + (size_t)1, sizes[l + 1], n, &n)) {
			*why = "too many parameters";
			return -E2BIG;
		}
	/* The snapshot format counts parameters in 32 bits. */
	if (n > UINT32_MAX) {
		*why = "too many parameters for a snapshot (over 2^32 - 1)";
		return -E2BIG;
	}
	*ret_ops = ops;
	*ret_n_params = n;
	return 0;
}

/*
 * Whether cfg describes a model mb_model_new can build: 0, or -EINVAL
 * (-E2BIG when the parameters would not fit a snapshot) with the reason
 * in *why, a constant string.
 */
int mb_model_cfg_check(const struct mb_model_cfg *cfg, const char **why)
{
	const struct mb_model_ops *ops;
	const char *reason = NULL;
	size_t n;
	int r = cfg_check(cfg, &ops, &n, &reason);

	if (r < 0 && why)
		*why = reason;
	return r;
}

/* splitmix64 (Steele, Lea, Flood): small, and every seed gives a good stream. */
static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [-1, 1) from the top 24 bits, so every value is exact in float. */
static float uniform_pm1(uint64_t *state)
{
	return (float)(splitmix64(state) >> 40) * 0x1p-23f - 1.0f;
}

/*
 * He-uniform for relu layers (keeps the variance of activations through
 * the rectifier), Glorot-uniform otherwise; biases start at 0.
 */
static void init_params(struct mb_model *m)
{
	uint64_t state = m->cfg.seed;

	for (uint32_t l = 0; l < m->n_layers; l++) {
		struct mb_layer *L = &m->layer[l];
		double fan = L->act == MB_ACT_RELU ? L->n_in : (double)L->n_in + L->n_out;
		float limit = (float)sqrt(6.0 / fan);
		size_t nw = (size_t)L->n_out * L->n_in;

		for (size_t i = 0; i < nw; i++)
			L->W[i] = limit * uniform_pm1(&state);
		memset(L->b, 0, sizeof(float) * L->n_out);
	}
}

/* Hands out aligned pieces of one allocation; a first pass with base NULL only measures. */
struct carver {
	char *base;    /* the allocation, NULL while measuring */
	size_t off;    /* bytes handed out so far */
	bool overflow; /* a size did not fit size_t */
};

static void *carve(struct carver *c, size_t count, size_t size)
{
	size_t bytes;

	if (!mb_size_muladd(count, size, ALIGN - 1, &bytes) ||
	    __builtin_add_overflow(c->off, bytes & ~(size_t)(ALIGN - 1), &bytes)) {
		c->overflow = true;
		return NULL;
	}
	void *p = c->base ? c->base + c->off : NULL;
	c->off = bytes;
	return p;
}

/* Point every scratch buffer into c (sizes only when c->base is NULL). */
static void layout_scratch(struct mb_model *m, struct carver *c)
{
	size_t rows = m->cfg.max_batch;

	for (uint32_t l = 0; l < m->n_layers; l++) {
		struct mb_layer *L = &m->layer[l];
		L->A = carve(c, rows, sizeof(float) * (size_t)L->n_out);
		L->D = carve(c, rows, sizeof(float) * (size_t)L->n_out);
		L->db = carve(c, L->n_out, sizeof(float));
	}
	struct mb_layer *H = &m->layer[m->n_layers - 1];
	/* The identity head's output is its logits; the others keep both. */
	m->Z = m->head == MB_ACT_IDENTITY ? H->A : carve(c, rows, sizeof(float) * (size_t)H->n_out);
	m->row_max = carve(c, rows, sizeof(float));
	m->row_sum = carve(c, rows, sizeof(float));
	m->row_class = carve(c, rows, sizeof(uint32_t));
}

static void *alloc_aligned(size_t bytes)
{
	size_t rounded;

	if (!mb_size_muladd(1, bytes, ALIGN - 1, &rounded))
		return NULL;
	rounded &= ~(size_t)(ALIGN - 1);
	return aligned_alloc(ALIGN, rounded ? rounded : ALIGN);
}

/*
 * Create a model for cfg: parameters initialised from cfg->seed, scratch
 * for cfg->max_batch rows, zeroed so that nothing a pass reads is ever
 * uninitialised. 0 and *ret, or -EINVAL / -E2BIG (bad or oversized cfg,
 * see mb_model_cfg_check) or -ENOMEM; *ret untouched on failure.
 */
int mb_model_new(const struct mb_model_cfg *cfg, struct mb_model **ret)
{
	const struct mb_model_ops *ops;
	const char *why;
	uint32_t sizes[MB_MAX_LAYERS + 1];
	size_t n_params, off = 0;
	int r;

	r = cfg_check(cfg, &ops, &n_params, &why);
	if (r < 0)
		return r;

	struct mb_model *m = calloc(1, sizeof *m);
	if (!m)
		return -ENOMEM;
	m->cfg = *cfg;
	m->ops = ops;
	m->head = ops->head(cfg);
	m->n_params = n_params;
	m->n_layers = layer_sizes(cfg, sizes);

	m->params = alloc_aligned(sizeof(float) * n_params);
	if (!m->params) {
		r = -ENOMEM;
		goto out_free_model;
	}
	for (uint32_t l = 0; l < m->n_layers; l++) {
		struct mb_layer *L = &m->layer[l];
		L->n_in = sizes[l];
		L->n_out = sizes[l + 1];
		L->act = l + 1 == m->n_layers ? m->head : cfg->hidden_act;
		L->off = off;
		L->W = m->params + off;
		L->b = L->W + (size_t)L->n_out * L->n_in;
		off += ((size_t)L->n_in + 1) * L->n_out;
	}

	struct carver c = {0};
	layout_scratch(m, &c);
	if (c.overflow) {
		r = -E2BIG;
		goto out_free_params;
	}
	c.base = alloc_aligned(c.off);
	if (!c.base) {
		r = -ENOMEM;
		goto out_free_params;
	}
	memset(c.base, 0, c.off);
	m->scratch = c.base;
	c.off = 0;
	layout_scratch(m, &c);

	init_params(m);
	*ret = m;
	return 0;

out_free_params:
	free(m->params);
out_free_model:
	free(m);
	return r;
}

/* Free m, its parameters and scratch; NULL is fine. Returns NULL. */
struct mb_model *mb_model_free(struct mb_model *m)
{
	if (!m)
		return NULL;
	free(m->scratch);
	free(m->params);
	free(m);
	return NULL;
}

/* The configuration m was built from. */
const struct mb_model_cfg *mb_model_cfg(const struct mb_model *m)
{
	return &m->cfg;
}

/* Floats in the parameter (and gradient) buffer. */
size_t mb_model_n_params(const struct mb_model *m)
{
	return m->n_params;
}

/* Target values per row: 1 for a class index or a 0/1 label, n_outputs for regression. */
uint32_t mb_model_n_targets(const struct mb_model *m)
{
	return m->head == MB_ACT_IDENTITY ? m->cfg.n_outputs : 1;
}

/* True for softmax and logistic heads, whose rows are right or wrong. */
bool mb_model_is_classifier(const struct mb_model *m)
{
	return m->head != MB_ACT_IDENTITY;
}

/* The parameters, in snapshot order; the caller may read and write them between passes. */
float *mb_model_params(struct mb_model *m)
{
	return m->params;
}

/*
 * Fill the shape fields of info from m (kind, layers, sizes, activations,
 * n_params); the counters and timestamp are the caller's.
 */
void mb_model_describe(const struct mb_model *m, struct mb_snap_info *info)
{
	info->kind = m->cfg.kind;
	info->n_layers = m->n_layers;
	memset(info->sizes, 0, sizeof info->sizes);
	memset(info->act, 0, sizeof info->act);
	info->sizes[0] = m->cfg.n_inputs;
	for (uint32_t l = 0; l < m->n_layers; l++) {
		info->sizes[l + 1] = m->layer[l].n_out;
		info->act[l] = m->layer[l].act;
	}
	info->n_params = (uint32_t)m->n_params;
}

/* The single-layer kind whose head is act, for an MLP read back from a snapshot. */
static bool kind_of_head(enum mb_act act, enum mb_model_kind *ret)
{
	switch (act) {
	case MB_ACT_IDENTITY:
		*ret = MB_MODEL_LINEAR;
		return true;
	case MB_ACT_SIGMOID:
		*ret = MB_MODEL_LOGISTIC;
		return true;
	case MB_ACT_SOFTMAX:
		*ret = MB_MODEL_SOFTMAX;
		return true;
	default:
		return false;
	}
}

/*
 * Build a model of the shape in info (as mb_snap_decode left it) and load
 * its parameters from the little-endian bytes at params (info->n_params
 * floats). -EINVAL when the shape is not one this library builds (hidden
 * layers with different activations, a head that does not match the kind,
 * a parameter count that disagrees), -ENOMEM; *ret untouched on failure.
 */
int mb_model_from_snap(const struct mb_snap_info *info, const uint8_t *params, uint32_t max_batch,
		       struct mb_model **ret)
{
	struct mb_model_cfg cfg = {
		.kind = info->kind,
		.output = info->kind,
		.max_batch = max_batch,
	};
	struct mb_model *m;
	int r;

	if (info->n_layers < 1 || info->n_layers > MB_MAX_LAYERS || !params)
		return -EINVAL;
	uint32_t last = info->n_layers - 1;
	cfg.n_inputs = info->sizes[0];
	cfg.n_outputs = info->sizes[info->n_layers];
	if (info->kind == MB_MODEL_MLP) {
		if (last < 1 || !kind_of_head(info->act[last], &cfg.output))
			return -EINVAL;
		cfg.n_hidden = last;
		cfg.hidden_act = info->act[0];
		for (uint32_t l = 0; l < last; l++) {
			if (info->act[l] != cfg.hidden_act)
				return -EINVAL;
			cfg.hidden[l] = info->sizes[l + 1];
		}
	} else {
		const struct mb_model_ops *ops = mb_model_ops_find(info->kind);
		if (!ops || last != 0 || ops->head(&cfg) != info->act[0])
			return -EINVAL;
	}

	r = mb_model_new(&cfg, &m);
	if (r < 0)
		return r;
	if (m->n_params != info->n_params) {
		mb_model_free(m);
		return -EINVAL;
	}
	for (size_t i = 0; i < m->n_params; i++)
		m->params[i] = mb_lef32(params + 4 * i);
	*ret = m;
	return 0;
}


/*
 * Z = A W^T + b for rows of A. The bias goes in first and BLAS adds the
 * product to it (beta 1), which costs no more than adding it afterwards
 * and spares the activation passes a read of b.
 */
static void affine(const struct mb_layer *L, const float *A, uint32_t rows, float *Z)
{
	for (uint32_t i = 0; i < rows; i++)
		memcpy(Z + (size_t)i * L->n_out, L->b, sizeof(float) * L->n_out);
	if (rows == 1)
		mb_kern_row_forward(A, L->W, L->n_in, L->n_out, Z);
	else if (L->n_out <= MB_KERN_NARROW_MAX)
		mb_kern_narrow_forward(A, rows, L->W, L->n_in, L->n_out, Z);
	else
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)L->n_out,
			    (int)L->n_in, 1.0f, A, (int)L->n_in, L->W, (int)L->n_in, 1.0f, Z,
			    (int)L->n_out);
}

/* Logistic function without overflow: exp only ever sees a non-positive argument. */
static inline float sigmoidf(float z)
{
	if (z >= 0.0f)
		return 1.0f / (1.0f + expf(-z));
	float e = expf(z);
	return e / (1.0f + e);
}

/*
 * GCC at -O2 vectorizes a loop only when it leaves no scalar remainder,
 * so each elementwise pass over a layer runs over bulk(n) elements (a
 * multiple of 8) and then the few left; the body is one inline function
 * so that both loops say the same thing.
 */
static inline size_t bulk(size_t n)
{
	return n & ~(size_t)7;
}

/* relu, written a < 0 rather than a > 0 so that a NaN passes through to the guard. */
static inline float relu(float a)
{
	return a < 0.0f ? 0.0f : a;
}

/*
 * The delta through each activation, from the activation a itself. The
 * added a - a is 0 for a finite a and NaN otherwise, so an activation
 * that overflowed reaches the guard's check of the deltas.
 */
static inline float relu_delta(float d, float a)
{
	return (a > 0.0f ? d : 0.0f) + (a - a);
}

static inline float tanh_delta(float d, float a)
{
	return d * (1.0f - a * a) + (a - a);
}

static inline float sigmoid_delta(float d, float a)
{
	return d * (a * (1.0f - a)) + (a - a);
}

/* A = relu(A) over n elements. */
static void relu_pass(float *A, size_t n)
{
	size_t b = bulk(n);

	for (size_t j = 0; j < b; j++)
		A[j] = relu(A[j]);
	for (size_t j = b; j < n; j++)
		A[j] = relu(A[j]);
}

/* D = delta(D, A) over n elements, for the activation act. */
static void delta_pass(enum mb_act act, float *restrict D, const float *restrict A, size_t n)
{
	size_t b = bulk(n);

	switch (act) {
	case MB_ACT_RELU:
		for (size_t j = 0; j < b; j++)
			D[j] = relu_delta(D[j], A[j]);
		for (size_t j = b; j < n; j++)
			D[j] = relu_delta(D[j], A[j]);
		break;
	case MB_ACT_TANH:
		for (size_t j = 0; j < b; j++)
			D[j] = tanh_delta(D[j], A[j]);
		for (size_t j = b; j < n; j++)
			D[j] = tanh_delta(D[j], A[j]);
		break;
	default: /* MB_ACT_SIGMOID */
		for (size_t j = 0; j < b; j++)
			D[j] = sigmoid_delta(D[j], A[j]);
		for (size_t j = b; j < n; j++)
			D[j] = sigmoid_delta(D[j], A[j]);
		break;
	}
}

/*
 * acc += v over n elements. Kept out of line: inlined into the loop over
 * the rows of a batch, GCC 12 at -O2 no longer vectorizes it.
 */
static __attribute__((noinline)) void add_pass(float *restrict acc, const float *restrict v, size_t n)
{
	size_t b = bulk(n);

	for (size_t j = 0; j < b; j++)
		acc[j] += v[j];
	for (size_t j = b; j < n; j++)
		acc[j] += v[j];
}

/* Activation of a hidden layer, in place over rows x n_out. */
static void activate_hidden(const struct mb_layer *L, float *A, uint32_t rows)
{
	size_t n = (size_t)rows * L->n_out;

	switch (L->act) {
	case MB_ACT_RELU:
		relu_pass(A, n);
		break;
	case MB_ACT_TANH:
		for (size_t j = 0; j < n; j++)
			A[j] = tanhf(A[j]);
		break;
	default: /* MB_ACT_SIGMOID; the check admits nothing else */
		for (size_t j = 0; j < n; j++)
			A[j] = sigmoidf(A[j]);
		break;
	}
}

/* The index of a row's largest logit, the first of equals. */
static uint32_t row_argmax(const float *z, uint32_t n)
{
	uint32_t arg = 0;

	for (uint32_t j = 1; j < n; j++)
		if (z[j] > z[arg])
			arg = j;
	return arg;
}

/*
 * Softmax over rows of n logits: each row less its largest, the
 * exponentials of all rows in one pass of mb_kern_exp, sixteen at a time
 * (ten expf calls a row were a tenth of a step at batch 32), then each
 * row over its sum, summed in order.
 */
static void softmax_rows(struct mb_model *m, const float *Z, float *P, uint32_t n, uint32_t rows)
{
	for (uint32_t i = 0; i < rows; i++) {
		const float *z = Z + (size_t)i * n;
		float *p = P + (size_t)i * n;
		uint32_t arg = row_argmax(z, n);
		float mx = z[arg];

		for (uint32_t j = 0; j < n; j++)
			p[j] = z[j] - mx;
		m->row_max[i] = mx;
		m->row_class[i] = arg;
	}
	mb_kern_exp(P, (size_t)rows * n);
	for (uint32_t i = 0; i < rows; i++) {
		float *p = P + (size_t)i * n, sum = 0.0f;

		for (uint32_t j = 0; j < n; j++)
			sum += p[j];
		float inv = 1.0f / sum;
		for (uint32_t j = 0; j < n; j++)
			p[j] *= inv;
		m->row_sum[i] = sum;
	}
}

/*
 * The head's output function over the logits, remembering per row what
 * the cost and argmax need (max, sum of exponentials, predicted class)
 * so that neither recomputes it.
 */
static void activate_head(struct mb_model *m, uint32_t rows)
{
	uint32_t n = m->cfg.n_outputs;
	const float *Z = m->Z;
	float *P = m->layer[m->n_layers - 1].A;

	switch (m->head) {
	case MB_ACT_IDENTITY: /* the output is the logits themselves */
		break;
	case MB_ACT_SIGMOID:
		for (uint32_t i = 0; i < rows; i++) {
			P[i] = sigmoidf(Z[i]);
			m->row_class[i] = Z[i] > 0.0f;
		}
		break;
	default: /* MB_ACT_SOFTMAX */
		softmax_rows(m, Z, P, n, rows);
		break;
	}
}

/*
 * Forward pass over rows of X (rows x n_inputs, row-major, finite: the
 * decoders guarantee it). The outputs stay in m for mb_model_output,
 * mb_model_cost, mb_model_argmax and mb_model_backward. 0, or -EINVAL
 * when rows is 0 or over max_batch.
 */
int mb_model_forward(struct mb_model *m, const float *X, uint32_t rows)
{
	const float *in = X;

	if (rows == 0 || rows > m->cfg.max_batch)
		return -EINVAL;
	for (uint32_t l = 0; l + 1 < m->n_layers; l++) {
		struct mb_layer *L = &m->layer[l];
		affine(L, in, rows, L->A);
		activate_hidden(L, L->A, rows);
		in = L->A;
	}
	affine(&m->layer[m->n_layers - 1], in, rows, m->Z);
	activate_head(m, rows);
	m->rows = rows;
	return 0;
}

/* rows x n_outputs of the last forward pass: probabilities, or values for linear. */
const float *mb_model_output(const struct mb_model *m)
{
	return m->layer[m->n_layers - 1].A;
}

/* y as a class index below n, or false when it is not an integer in [0, n). */
static inline bool class_of(float y, uint32_t n, uint32_t *ret)
{
	if (!(y >= 0.0f && y < (float)n))
		return false;
	uint32_t c = (uint32_t)y;
	if ((float)c != y)
		return false;
	*ret = c;
	return true;
}

/*
 * Sum of the weights, or NaN when one is negative or not finite or they
 * sum to 0 (a weighted mean would then mean nothing).
 */
static double weight_sum(const float *w, uint32_t rows)
{
	double s = 0.0;

	for (uint32_t i = 0; i < rows; i++) {
		if (!(w[i] >= 0.0f && w[i] <= 3.4028235e38f))
			return NAN;
		s += w[i];
	}
	return s > 0.0 ? s : NAN;
}

/*
 * Targets and weights as the loss needs them: class indices in range for
 * softmax, labels in [0, 1] for logistic, weights >= 0 with a positive sum.
 */
int mb_model_check_targets(const struct mb_model *m, const float *Y, const float *w, uint32_t rows)
{
	uint32_t c;

	if (w && isnan(weight_sum(w, rows)))
		return -EINVAL;
	if (m->head == MB_ACT_SOFTMAX) {
		for (uint32_t i = 0; i < rows; i++)
			if (!class_of(Y[i], m->cfg.n_outputs, &c))
				return -EINVAL;
	} else if (m->head == MB_ACT_SIGMOID) {
		for (uint32_t i = 0; i < rows; i++)
			if (!(Y[i] >= 0.0f && Y[i] <= 1.0f))
				return -EINVAL;
	}
	return 0;
}

/*
 * Sum over the rows of w_i l_i (w_i = 1 without weights) and the rows
 * classified right. The loss of each head from the logits and what the
 * forward pass kept: cross-entropy as log-sum-exp minus the target's
 * logit, binary cross-entropy as softplus(z) - y z, squared error halved.
 * NaN for a target the head cannot take.
 */
static double loss_sum(const struct mb_model *m, const float *Y, const float *w, uint32_t rows,
		       uint32_t *ret_correct)
{
	uint32_t n = m->cfg.n_outputs, c, correct = 0;
	const float *z = m->Z;
	double sum = 0.0;

	switch (m->head) {
	case MB_ACT_SOFTMAX:
		for (uint32_t i = 0; i < rows; i++, z += n) {
			if (!class_of(Y[i], n, &c))
				return NAN;
			double l = (double)logf(m->row_sum[i]) + ((double)m->row_max[i] - (double)z[c]);
			sum += w ? w[i] * l : l;
			correct += m->row_class[i] == c;
		}
		break;
	case MB_ACT_SIGMOID:
		for (uint32_t i = 0; i < rows; i++) {
			double y = Y[i], zd = z[i];
			if (!(y >= 0.0 && y <= 1.0))
				return NAN;
			double l = (zd > 0.0 ? zd : 0.0) - y * zd + log1p(exp(-fabs(zd)));
			sum += w ? w[i] * l : l;
			correct += m->row_class[i] == (y >= 0.5);
		}
		break;
	default:
		for (uint32_t i = 0; i < rows; i++, z += n) {
			const float *y = Y + (size_t)i * n;
			double l = 0.0;
			for (uint32_t j = 0; j < n; j++) {
				double d = (double)y[j] - z[j];
				l += d * d;
			}
			sum += w ? w[i] * 0.5 * l : 0.5 * l;
		}
		break;
	}
	*ret_correct = correct;
	return sum;
}

/*
 * Mean cost of the last forward pass against Y (weighted by w when not
 * NULL), and the rows classified right. NaN, *ret_correct untouched, for
 * a bad target or weight or rows beyond the forward pass; infinity or NaN
 * too when the numbers blew up.
 */
double mb_model_cost(struct mb_model *m, const float *Y, const float *w, uint32_t rows,
		     uint32_t *ret_correct)
{
	uint32_t correct = 0;
	double sum, wsum = rows;

	if (rows == 0 || rows > m->rows)
		return NAN;
	if (w) {
		wsum = weight_sum(w, rows);
		if (isnan(wsum))
			return NAN;
	}
	sum = loss_sum(m, Y, w, rows, &correct);
	if (isnan(sum))
		return NAN;
	if (ret_correct)
		*ret_correct = correct;
	return sum / wsum;
}

/*
 * The head's delta dC/dZ = (output - target) * s_i, s_i the row's share
 * of the mean. The three heads are canonical links, so the delta has
 * this one form. -EINVAL for a bad target.
 */
static int head_delta(struct mb_model *m, const float *Y, const float *w, double wsum, uint32_t rows)
{
	struct mb_layer *L = &m->layer[m->n_layers - 1];
	uint32_t n = L->n_out, c;
	const float *P = L->A;
	float *D = L->D;
	float s = (float)(1.0 / wsum);

	switch (m->head) {
	case MB_ACT_SOFTMAX:
		for (uint32_t i = 0; i < rows; i++, P += n, D += n) {
			float si = w ? (float)(w[i] / wsum) : s;
			if (!class_of(Y[i], n, &c))
				return -EINVAL;
			for (uint32_t j = 0; j < n; j++)
				D[j] = P[j] * si;
			D[c] -= si;
		}
		break;
	case MB_ACT_SIGMOID:
		for (uint32_t i = 0; i < rows; i++) {
			float si = w ? (float)(w[i] / wsum) : s, z = m->Z[i];
			if (!(Y[i] >= 0.0f && Y[i] <= 1.0f))
				return -EINVAL;
			/* sigmoid(inf) is a finite 1: z - z makes an overflowed logit reach the guard. */
			D[i] = (P[i] - Y[i] + (z - z)) * si;
		}
		break;
	default:
		for (uint32_t i = 0; i < rows; i++, P += n, D += n) {
			float si = w ? (float)(w[i] / wsum) : s;
			const float *y = Y + (size_t)i * n;
			for (uint32_t j = 0; j < n; j++)
				D[j] = (P[j] - y[j]) * si;
		}
		break;
	}
	return 0;
}

/*
 * The delta of hidden layer l from the delta of layer l + 1: D_l =
 * (D_{l+1} W_{l+1}) * act'(A_l), the derivative taken from the activation.
 */
static void hidden_delta(struct mb_model *m, uint32_t l, uint32_t rows)
{
	struct mb_layer *L = &m->layer[l];
	const struct mb_layer *U = &m->layer[l + 1];
	float *D = L->D;

	if (rows == 1)
		cblas_sgemv(CblasRowMajor, CblasTrans, (int)U->n_out, (int)U->n_in, 1.0f, U->W,
			    (int)U->n_in, U->D, 1, 0.0f, D, 1);
	else
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)L->n_out,
			    (int)U->n_out, 1.0f, U->D, (int)U->n_out, U->W, (int)U->n_in, 0.0f, D,
			    (int)L->n_out);

	delta_pass(L->act, L->D, L->A, (size_t)rows * L->n_out);
}

/*
 * The bias gradient of a layer, the column sums of its deltas (for one
 * row, the deltas themselves), or NULL when a delta is not finite. NaN
 * and infinities survive addition, so a finite total of the sums means
 * every delta is finite; a total that overflows is refused as well,
 * rightly, since no step that large is worth taking.
 */
static const float *bias_grad(struct mb_layer *L, uint32_t rows)
{
	uint32_t n = L->n_out;
	const float *D = L->D;
	float *db = L->db, total = 0.0f;

	if (rows == 1) {
		db = L->D;
	} else {
		memcpy(db, D, sizeof(float) * n);
		for (uint32_t i = 1; i < rows; i++)
			add_pass(db, D + (size_t)i * n, n);
	}
	for (uint32_t j = 0; j < n; j++)
		total += db[j];
	return isfinite(total) ? db : NULL;
}

/*
 * dst_W = beta dst_W + alpha D^T A_in; dst_b = beta dst_b + alpha db, for
 * one layer; first says A_in is the model's input X.
 */
static void apply_layer(const struct mb_layer *L, const float *A_in, bool first, const float *db, uint32_t rows,
			float alpha, float beta, float *dst)
{
	float *dW = dst + L->off, *b = dW + (size_t)L->n_out * L->n_in;

	if (rows == 1)
		mb_kern_row_outer(L->D, L->n_out, A_in, L->n_in, alpha, beta, dW);
	else if (L->n_out <= MB_KERN_NARROW_MAX)
		mb_kern_narrow_backward(L->D, L->n_out, A_in, L->n_in, rows, alpha, beta, dW, first);
	else
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)L->n_out, (int)L->n_in,
			    (int)rows, alpha, L->D, (int)L->n_out, A_in, (int)L->n_in, beta, dW,
			    (int)L->n_in);

	if (beta == 0.0f)
		for (uint32_t j = 0; j < L->n_out; j++)
			b[j] = alpha * db[j];
	else if (beta == 1.0f)
		for (uint32_t j = 0; j < L->n_out; j++)
			b[j] += alpha * db[j];
	else
		for (uint32_t j = 0; j < L->n_out; j++)
			b[j] = beta * b[j] + alpha * db[j];
}

/*
 * Backward pass after mb_model_forward on the same X: dst = beta dst +
 * alpha grad, grad the gradient of the mean cost in snapshot order. Every
 * delta is computed (from the weights as they were in the forward pass)
 * and checked before the first write to dst, so the fused SGD step
 * (dst = params) sees the same gradient a separate one would. -EDOM with
 * dst untouched on a non-finite delta; -EINVAL for a bad target or weight,
 * or rows beyond the forward pass. The check covers the deltas and the
 * activations, not X (the decoders refuse non-finite features) nor an
 * update that overflows by itself (alpha times a finite gradient beyond
 * FLT_MAX): the next forward pass then trips the guard instead.
 */
int mb_model_backward(struct mb_model *m, const float *X, const float *Y, const float *w, uint32_t rows,
		      float alpha, float beta, float *dst)
{
	double wsum = rows;
	int r;

	if (rows == 0 || rows > m->rows)
		return -EINVAL;
	if (w) {
		wsum = weight_sum(w, rows);
		if (isnan(wsum))
			return -EINVAL;
	}
	r = head_delta(m, Y, w, wsum, rows);
	if (r < 0)
		return r;
	uint32_t top = m->n_layers - 1;
	const float *db[MB_MAX_LAYERS];
	for (uint32_t l = top;; l--) {
		db[l] = bias_grad(&m->layer[l], rows);
		if (!db[l])
			return -EDOM;
		if (l == 0)
			break;
		hidden_delta(m, l - 1, rows);
	}
	for (uint32_t l = 0; l <= top; l++)
		apply_layer(&m->layer[l], l ? m->layer[l - 1].A : X, l == 0, db[l], rows, alpha, beta, dst);
	return 0;
}

/*
 * The predicted class of each row of the last forward pass: the argmax,
 * or output > 0.5 (logit > 0) for logistic.
 */
void mb_model_argmax(const struct mb_model *m, uint32_t rows, uint32_t *ret_class)
{
	uint32_t n = m->cfg.n_outputs;

	if (rows > m->rows)
		rows = m->rows;
	if (m->head != MB_ACT_IDENTITY) {
		memcpy(ret_class, m->row_class, sizeof(uint32_t) * rows);
		return;
	}
	for (uint32_t i = 0; i < rows; i++) {
		const float *z = m->Z + (size_t)i * n;
		uint32_t arg = 0;
		for (uint32_t j = 1; j < n; j++)
			if (z[j] > z[arg])
				arg = j;
		ret_class[i] = arg;
	}
}
