/* SPDX-License-Identifier: MIT */
/*
 * optim.c - the update rules, learning-rate schedules and their state.
 *
 * A step makes two passes over the gradient, three with weight decay:
 * one measures its norm (which is also the finiteness guard), the last
 * applies the rule with the clipping factor folded in.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "optim.h"
#include "wire.h"

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

/*
 * The state blob, little-endian:
 *  off size field
 *    0   4  magic "MBOP"
 *    4   4  version (1)
 *    8   4  kind (enum mb_optim_kind)
 *   12   4  moment buffers that follow (0, 1 or 2)
 *   16   8  n_params
 *   24   8  steps taken
 *   32      buffers x n_params x f32: momentum v; Adam m then v; AdaGrad sum of g^2
 */
#define STATE_MAGIC "MBOP"
#define STATE_VERSION 1u
#define STATE_HEADER_BYTES 32u

struct mb_optim {
	struct mb_optim_cfg cfg; /* the rule, its hyper-parameters and schedule */
	size_t n_params;         /* length of every buffer it updates */
	uint64_t steps;          /* steps taken, fused ones included: the schedule's t */
	float *m;                /* first moment: velocity (momentum, Nesterov), Adam's m, AdaGrad's sum of g^2 */
	float *v;                /* Adam's second moment; NULL for the others */
};

/* Moment buffers each rule keeps. */
static unsigned n_buffers(enum mb_optim_kind k)
{
	switch (k) {
	case MB_OPT_MOMENTUM:
	case MB_OPT_NESTEROV:
	case MB_OPT_ADAGRAD:
		return 1;
	case MB_OPT_ADAM:
		return 2;
	default:
		return 0;
	}
}

/* Defaults: SGD at lr 0.1 with a constant schedule; the other fields hold values each rule or schedule can use as is. */
void mb_optim_cfg_default(struct mb_optim_cfg *cfg)
{
	*cfg = (struct mb_optim_cfg){
		.kind = MB_OPT_SGD,
		.lr = 0.1f,
		.momentum = 0.9f,
		.beta1 = 0.9f,
		.beta2 = 0.999f,
		.eps = 1e-8f,
		.weight_decay = 0.0f,
		.clip_norm = 0.0f,
		.sched = MB_SCHED_CONSTANT,
		.decay = 1e-4f,
		.step_every = 10000,
		.gamma = 0.5f,
		.cosine_steps = 100000,
		.lr_min = 0.0f,
	};
}

static bool finite_nonneg(float x)
{
	return x >= 0.0f && isfinite(x);
}

/* Whether cfg is usable: known rule and schedule, every value it reads in range. */
static bool cfg_valid(const struct mb_optim_cfg *c)
{
	if (c->kind < MB_OPT_SGD || c->kind > MB_OPT_ADAGRAD)
		return false;
	if (!(c->lr > 0.0f && isfinite(c->lr)) || !finite_nonneg(c->weight_decay) ||
	    !finite_nonneg(c->clip_norm))
		return false;
	if ((c->kind == MB_OPT_MOMENTUM || c->kind == MB_OPT_NESTEROV) &&
	    !(c->momentum >= 0.0f && c->momentum < 1.0f))
		return false;
	if (c->kind == MB_OPT_ADAM && !(c->beta1 >= 0.0f && c->beta1 < 1.0f && c->beta2 >= 0.0f &&
					 c->beta2 < 1.0f))
		return false;
	if ((c->kind == MB_OPT_ADAM || c->kind == MB_OPT_ADAGRAD) && !(c->eps > 0.0f && isfinite(c->eps)))
		return false;
	switch (c->sched) {
	case MB_SCHED_CONSTANT:
		return true;
	case MB_SCHED_INVTIME:
	case MB_SCHED_INVSQRT:
		return finite_nonneg(c->decay);
	case MB_SCHED_STEP:
		return c->step_every > 0 && c->gamma > 0.0f && isfinite(c->gamma);
	case MB_SCHED_COSINE:
		return c->cosine_steps > 0 && finite_nonneg(c->lr_min) && c->lr_min <= c->lr;
	default:
		return false;
	}
}

/*
 * An optimizer for n_params parameters, moments at zero and no step
 * taken. 0 and *ret, -EINVAL for a bad cfg or n_params 0, -ENOMEM.
 */
int mb_optim_new(const struct mb_optim_cfg *cfg, size_t n_params, struct mb_optim **ret)
{
	struct mb_optim *o;
	unsigned nb;

	if (!cfg_valid(cfg) || n_params == 0 || n_params > SIZE_MAX / (2 * sizeof(float)))
		return -EINVAL;
	o = calloc(1, sizeof *o);
	if (!o)
		return -ENOMEM;
	o->cfg = *cfg;
	o->n_params = n_params;
	nb = n_buffers(cfg->kind);
	if (nb >= 1 && !(o->m = calloc(n_params, sizeof(float))))
		goto out_free_optim;
	if (nb >= 2 && !(o->v = calloc(n_params, sizeof(float))))
		goto out_free_m;
	*ret = o;
	return 0;

out_free_m:
	free(o->m);
out_free_optim:
	free(o);
	return -ENOMEM;
}

/* Free o and its moments; NULL is fine. Returns NULL. */
struct mb_optim *mb_optim_free(struct mb_optim *o)
{
	if (!o)
		return NULL;
	free(o->m);
	free(o->v);
	free(o);
	return NULL;
}

/*
 * Take a new configuration (a reload) keeping the moments and the step
 * count. -EINVAL, o unchanged, when it is invalid or changes the kind,
 * since the moments of one rule mean nothing to another.
 */
int mb_optim_reconfigure(struct mb_optim *o, const struct mb_optim_cfg *cfg)
{
	if (!cfg_valid(cfg) || cfg->kind != o->cfg.kind)
		return -EINVAL;
	o->cfg = *cfg;
	return 0;
}

/* The schedule at step t, computed in double so that long runs stay exact. */
static double sched_lr(const struct mb_optim_cfg *c, uint64_t t)
{
	double lr = c->lr, td = (double)t;

	switch (c->sched) {
	case MB_SCHED_INVTIME:
		return lr / (1.0 + c->decay * td);
	case MB_SCHED_INVSQRT:
		return lr / sqrt(1.0 + c->decay * td);
	case MB_SCHED_STEP:
		return lr * pow(c->gamma, (double)(t / c->step_every));
	case MB_SCHED_COSINE: {
		double T = (double)c->cosine_steps, tt = td < T ? td : T;
		return c->lr_min + (lr - c->lr_min) * (1.0 + cos(M_PI * tt / T)) / 2.0;
	}
	default:
		return lr;
	}
}

/* The learning rate the next step uses: the schedule at t = steps taken so far. */
float mb_optim_lr(const struct mb_optim *o)
{
	return (float)sched_lr(&o->cfg, o->steps);
}

/* Steps taken, including fused SGD steps counted with mb_optim_count_step. */
uint64_t mb_optim_steps(const struct mb_optim *o)
{
	return o->steps;
}

/* The parameter count o was created for. */
size_t mb_optim_n_params(const struct mb_optim *o)
{
	return o->n_params;
}

/*
 * Plain SGD without weight decay or clipping: the update is exactly
 * params -= lr * grad, which the model can apply inside its own products.
 */
bool mb_optim_is_plain_sgd(const struct mb_optim *o)
{
	return o->cfg.kind == MB_OPT_SGD && o->cfg.weight_decay == 0.0f && o->cfg.clip_norm == 0.0f;
}

/* Count a step the model applied itself, so the schedule advances. */
void mb_optim_count_step(struct mb_optim *o)
{
	o->steps++;
}

/*
 * GCC at -O2 vectorizes a loop only when it leaves no scalar remainder,
 * so each pass over the parameters runs over bulk(n) of them (a multiple
 * of 8) and then the few left, the body an inline function both share.
 */
static inline size_t bulk(size_t n)
{
	return n & ~(size_t)7;
}

static inline void decay1(float *g, const float *p, float wd)
{
	*g += wd * *p;
}

/* g += wd p. Kept out of line: inlined into mb_optim_step, GCC 12 at -O2 no longer vectorizes it. */
static __attribute__((noinline)) void decay_pass(float *restrict g, const float *restrict p, float wd, size_t n)
{
	size_t b = bulk(n);

	for (size_t i = 0; i < b; i++)
		decay1(&g[i], &p[i], wd);
	for (size_t i = b; i < n; i++)
		decay1(&g[i], &p[i], wd);
}

/* Sum of squares in eight partial sums in a fixed order: fast, and the same bits on every run. */
static double norm2_pass(const float *g, size_t n)
{
	double acc[8] = {0};
	size_t b = bulk(n);

	for (size_t i = 0; i < b; i += 8)
		for (unsigned k = 0; k < 8; k++)
			acc[k] += (double)g[i + k] * g[i + k];
	for (size_t i = b; i < n; i++)
		acc[0] += (double)g[i] * g[i];
	return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

static inline void sgd1(float *p, const float *g, float a)
{
	*p -= a * *g;
}

/* p -= a g */
static void sgd_pass(float *restrict p, const float *restrict g, float a, size_t n)
{
	size_t b = bulk(n);

	for (size_t i = 0; i < b; i++)
		sgd1(&p[i], &g[i], a);
	for (size_t i = b; i < n; i++)
		sgd1(&p[i], &g[i], a);
}

static inline void momentum1(float *p, float *v, const float *g, float mu, float s, float lr)
{
	*v = mu * *v + s * *g;
	*p -= lr * *v;
}

/* v = mu v + s g; p -= lr v */
static void momentum_pass(float *restrict p, float *restrict v, const float *restrict g, float mu, float s,
			  float lr, size_t n)
{
	size_t b = bulk(n);

	for (size_t i = 0; i < b; i++)
		momentum1(&p[i], &v[i], &g[i], mu, s, lr);
	for (size_t i = b; i < n; i++)
		momentum1(&p[i], &v[i], &g[i], mu, s, lr);
}

static inline void nesterov1(float *p, float *v, const float *g, float mu, float s, float lr)
{
	float gs = s * *g;
	*v = mu * *v + gs;
	*p -= lr * (gs + mu * *v);
}

/* v = mu v + s g; p -= lr (s g + mu v) */
static void nesterov_pass(float *restrict p, float *restrict v, const float *restrict g, float mu, float s,
			  float lr, size_t n)
{
	size_t b = bulk(n);

	for (size_t i = 0; i < b; i++)
		nesterov1(&p[i], &v[i], &g[i], mu, s, lr);
	for (size_t i = b; i < n; i++)
		nesterov1(&p[i], &v[i], &g[i], mu, s, lr);
}

/*
 * Adam and AdaGrad divide by a square root, and sqrtf (which may set
 * errno) keeps GCC from vectorizing at -O2; so on x86 their four lanes
 * are spelled out. sqrtps and divps round exactly as sqrtss and divss do:
 * the bits are those of the scalar loop, which does the rest.
 */
static inline void adam1(float *p, float *m, float *v, const float *g, float s, float b1, float b2, float a,
			 float e)
{
	float gs = s * *g;
	*m = b1 * *m + (1.0f - b1) * gs;
	*v = b2 * *v + (1.0f - b2) * gs * gs;
	*p -= a * *m / (sqrtf(*v) + e);
}

/* m = b1 m + (1 - b1) s g; v = b2 v + (1 - b2) (s g)^2; p -= a m / (sqrt(v) + e) */
static void adam_pass(float *p, float *m, float *v, const float *g, float s, float b1, float b2, float a, float e,
		      size_t n)
{
	size_t i = 0;
#if defined(__SSE__)
	const __m128 vs = _mm_set1_ps(s), vb1 = _mm_set1_ps(b1), vb2 = _mm_set1_ps(b2);
	const __m128 vc1 = _mm_set1_ps(1.0f - b1), vc2 = _mm_set1_ps(1.0f - b2);
	const __m128 va = _mm_set1_ps(a), ve = _mm_set1_ps(e);
	for (; i + 4 <= n; i += 4) {
		__m128 gs = _mm_mul_ps(vs, _mm_loadu_ps(g + i));
		__m128 mi = _mm_add_ps(_mm_mul_ps(vb1, _mm_loadu_ps(m + i)), _mm_mul_ps(vc1, gs));
		__m128 vi = _mm_add_ps(_mm_mul_ps(vb2, _mm_loadu_ps(v + i)), _mm_mul_ps(_mm_mul_ps(vc2, gs), gs));
		__m128 step = _mm_div_ps(_mm_mul_ps(va, mi), _mm_add_ps(_mm_sqrt_ps(vi), ve));
		_mm_storeu_ps(m + i, mi);
		_mm_storeu_ps(v + i, vi);
		_mm_storeu_ps(p + i, _mm_sub_ps(_mm_loadu_ps(p + i), step));
	}
#endif
	for (; i < n; i++)
		adam1(&p[i], &m[i], &v[i], &g[i], s, b1, b2, a, e);
}

static inline void adagrad1(float *p, float *G, const float *g, float s, float lr, float eps)
{
	float gs = s * *g;
	*G += gs * gs;
	*p -= lr * gs / (sqrtf(*G) + eps);
}

/* G += (s g)^2; p -= lr s g / (sqrt(G) + eps) */
static void adagrad_pass(float *p, float *G, const float *g, float s, float lr, float eps, size_t n)
{
	size_t i = 0;
#if defined(__SSE__)
	const __m128 vs = _mm_set1_ps(s), vlr = _mm_set1_ps(lr), veps = _mm_set1_ps(eps);
	for (; i + 4 <= n; i += 4) {
		__m128 gs = _mm_mul_ps(vs, _mm_loadu_ps(g + i));
		__m128 Gi = _mm_add_ps(_mm_loadu_ps(G + i), _mm_mul_ps(gs, gs));
		__m128 step = _mm_div_ps(_mm_mul_ps(vlr, gs), _mm_add_ps(_mm_sqrt_ps(Gi), veps));
		_mm_storeu_ps(G + i, Gi);
		_mm_storeu_ps(p + i, _mm_sub_ps(_mm_loadu_ps(p + i), step));
	}
#endif
	for (; i < n; i++)
		adagrad1(&p[i], &G[i], &g[i], s, lr, eps);
}

/*
 * One step: weight decay (applied to every parameter, biases included),
 * clipping of the global L2 norm, then the rule at the scheduled rate.
 * grads is modified. -EDOM, params and moments untouched, when grads
 * (after decay) hold a non-finite value.
 */
int mb_optim_step(struct mb_optim *o, float *params, float *grads)
{
	const struct mb_optim_cfg *c = &o->cfg;
	size_t n = o->n_params;
	float lr = mb_optim_lr(o), scale = 1.0f;

	if (c->weight_decay != 0.0f)
		decay_pass(grads, params, c->weight_decay, n);
	double norm2 = norm2_pass(grads, n);

	if (!isfinite(norm2))
		return -EDOM;
	if (c->clip_norm > 0.0f) {
		double norm = sqrt(norm2);
		if (norm > c->clip_norm)
			scale = (float)(c->clip_norm / norm);
	}

	switch (c->kind) {
	case MB_OPT_SGD:
		sgd_pass(params, grads, lr * scale, n);
		break;
	case MB_OPT_MOMENTUM:
		momentum_pass(params, o->m, grads, c->momentum, scale, lr, n);
		break;
	case MB_OPT_NESTEROV:
		nesterov_pass(params, o->m, grads, c->momentum, scale, lr, n);
		break;
	case MB_OPT_ADAM: {
		/*
		 * Bias corrections folded into the rate and epsilon:
		 * lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps sqrt(1 - b2^t)).
		 */
		double t = (double)o->steps + 1.0;
		double c1 = 1.0 - pow(c->beta1, t), c2 = sqrt(1.0 - pow(c->beta2, t));
		adam_pass(params, o->m, o->v, grads, scale, c->beta1, c->beta2, (float)(lr * c2 / c1),
			  (float)(c->eps * c2), n);
		break;
	}
	case MB_OPT_ADAGRAD:
		adagrad_pass(params, o->m, grads, scale, lr, c->eps, n);
		break;
	}
	o->steps++;
	return 0;
}

/* Bytes mb_optim_state_save writes for o. */
size_t mb_optim_state_size(const struct mb_optim *o)
{
	return STATE_HEADER_BYTES + (size_t)n_buffers(o->cfg.kind) * o->n_params * sizeof(float);
}

/*
 * Write the state (step count and moments) into buf: the bytes written,
 * or -ENOSPC when cap is smaller than mb_optim_state_size.
 */
long mb_optim_state_save(const struct mb_optim *o, void *buf, size_t cap)
{
	size_t size = mb_optim_state_size(o);
	unsigned nb = n_buffers(o->cfg.kind);
	struct mb_wire w;

	if (cap < size || size > (size_t)LONG_MAX)
		return -ENOSPC;
	mb_wire_init(&w, buf, size);
	mb_wire_put_bytes(&w, STATE_MAGIC, 4);
	mb_wire_put_u32(&w, STATE_VERSION);
	mb_wire_put_u32(&w, (uint32_t)o->cfg.kind);
	mb_wire_put_u32(&w, nb);
	mb_wire_put_u64(&w, o->n_params);
	mb_wire_put_u64(&w, o->steps);
	for (unsigned b = 0; b < nb; b++) {
		const float *src = b == 0 ? o->m : o->v;
		for (size_t i = 0; i < o->n_params; i++)
			mb_wire_put_f32(&w, src[i]);
	}
	return mb_wire_ok(&w) ? (long)size : -ENOSPC;
}

/*
 * Restore a state written by mb_optim_state_save into an optimizer of
 * the same kind and size. Checks everything before changing anything:
 * -EBADMSG bad magic, -EPROTONOSUPPORT unknown version, -EINVAL another
 * kind, another parameter count or a wrong length, -EDOM a non-finite
 * moment. o is unchanged on failure.
 */
int mb_optim_state_load(struct mb_optim *o, const void *buf, size_t len)
{
	unsigned nb = n_buffers(o->cfg.kind);
	struct mb_wire w;
	const uint8_t *body;

	mb_wire_init(&w, buf, len);
	const uint8_t *magic = mb_wire_take(&w, 4);
	if (!magic)
		return -EINVAL;
	if (memcmp(magic, STATE_MAGIC, 4) != 0)
		return -EBADMSG;
	uint32_t version = mb_wire_u32(&w);
	if (!mb_wire_ok(&w))
		return -EINVAL;
	if (version != STATE_VERSION)
		return -EPROTONOSUPPORT;
	uint32_t kind = mb_wire_u32(&w);
	uint32_t buffers = mb_wire_u32(&w);
	uint64_t n_params = mb_wire_u64(&w);
	uint64_t steps = mb_wire_u64(&w);
	if (!mb_wire_ok(&w) || kind != (uint32_t)o->cfg.kind || buffers != nb || n_params != o->n_params)
		return -EINVAL;
	if (mb_wire_left(&w) != (size_t)nb * o->n_params * sizeof(float))
		return -EINVAL;
	body = mb_wire_take(&w, mb_wire_left(&w));
	for (size_t i = 0; i < (size_t)nb * o->n_params; i++)
		if (!isfinite(mb_lef32(body + 4 * i)))
			return -EDOM;

	for (unsigned b = 0; b < nb; b++) {
		float *dst = b == 0 ? o->m : o->v;
		const uint8_t *src = body + (size_t)b * o->n_params * sizeof(float);
		for (size_t i = 0; i < o->n_params; i++)
			dst[i] = mb_lef32(src + 4 * i);
	}
	o->steps = steps;
	return 0;
}

static const char *const optim_names[] = {
	[MB_OPT_SGD] = "sgd",
	[MB_OPT_MOMENTUM] = "momentum",
	[MB_OPT_NESTEROV] = "nesterov",
	[MB_OPT_ADAM] = "adam",
	[MB_OPT_ADAGRAD] = "adagrad",
};

static const char *const sched_names[] = {
	[MB_SCHED_CONSTANT] = "constant",
	[MB_SCHED_INVTIME] = "inverse-time",
	[MB_SCHED_INVSQRT] = "inverse-sqrt",
	[MB_SCHED_STEP] = "step",
	[MB_SCHED_COSINE] = "cosine",
};

/* The rule named s ("sgd", "momentum", "nesterov", "adam", "adagrad"); -EINVAL if unknown. */
int mb_optim_kind_parse(const char *s, enum mb_optim_kind *ret)
{
	for (int k = MB_OPT_SGD; s && k <= MB_OPT_ADAGRAD; k++)
		if (strcmp(s, optim_names[k]) == 0) {
			*ret = (enum mb_optim_kind)k;
			return 0;
		}
	return -EINVAL;
}

/*
 * The schedule named s ("constant", "inverse-time", "inverse-sqrt",
 * "step", "cosine"; "invtime" and "invsqrt" as the enum spells them too).
 * -EINVAL if unknown.
 */
int mb_sched_kind_parse(const char *s, enum mb_sched_kind *ret)
{
	if (!s)
		return -EINVAL;
	for (int k = MB_SCHED_CONSTANT; k <= MB_SCHED_COSINE; k++)
		if (strcmp(s, sched_names[k]) == 0) {
			*ret = (enum mb_sched_kind)k;
			return 0;
		}
	if (strcmp(s, "invtime") == 0) {
		*ret = MB_SCHED_INVTIME;
		return 0;
	}
	if (strcmp(s, "invsqrt") == 0) {
		*ret = MB_SCHED_INVSQRT;
		return 0;
	}
	return -EINVAL;
}

/* The name mb_optim_kind_parse takes for k, or "unknown". */
const char *mb_optim_kind_name(enum mb_optim_kind k)
{
	return k >= MB_OPT_SGD && k <= MB_OPT_ADAGRAD ? optim_names[k] : "unknown";
}

/* The name mb_sched_kind_parse takes for k, or "unknown". */
const char *mb_sched_kind_name(enum mb_sched_kind k)
{
	return k >= MB_SCHED_CONSTANT && k <= MB_SCHED_COSINE ? sched_names[k] : "unknown";
}
