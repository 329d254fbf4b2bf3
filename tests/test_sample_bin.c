/* SPDX-License-Identifier: MIT */
/*
 * test_sample_bin.c - binary sample messages and the binary16 conversions:
 * round trips for every element type, and every way a message is refused.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sample.h"
#include "test.h"
#include "wire.h"

/* ---- binary16 ---- */

/* Every half converts to a float and back to itself (NaN stays a NaN of its sign). */
static void test_f16_every_half(void)
{
	for (uint32_t h = 0; h <= 0xffff; h++) {
		float f = mb_f16_to_f32((uint16_t)h);
		uint16_t back = mb_f32_to_f16(f);
		bool nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
		if (nan) {
			CU_ASSERT_TRUE_FATAL(isnan(f));
			CU_ASSERT_EQUAL_FATAL(back & 0x8000, h & 0x8000);
			CU_ASSERT_TRUE_FATAL((back & 0x7c00) == 0x7c00 && (back & 0x3ff));
		} else {
			CU_ASSERT_EQUAL_FATAL(back, h);
		}
	}
}

/* Known values, including the subnormal and infinite ends. */
static void test_f16_known_values(void)
{
	CU_ASSERT_EQUAL(mb_f16_to_f32(0x3c00), 1.0f);
	CU_ASSERT_EQUAL(mb_f16_to_f32(0xc000), -2.0f);
	CU_ASSERT_EQUAL(mb_f16_to_f32(0x7bff), 65504.0f);
	CU_ASSERT_EQUAL(mb_f16_to_f32(0x0400), 0x1p-14f);
	CU_ASSERT_EQUAL(mb_f16_to_f32(0x0001), 0x1p-24f);
	CU_ASSERT_EQUAL(mb_f16_to_f32(0x03ff), 0x3ffp-24f);
	CU_ASSERT_TRUE(isinf(mb_f16_to_f32(0xfc00)) && mb_f16_to_f32(0xfc00) < 0);
	CU_ASSERT_TRUE(signbit(mb_f16_to_f32(0x8000)) && mb_f16_to_f32(0x8000) == 0.0f);
	CU_ASSERT_EQUAL(mb_f32_to_f16(0.1f), 0x2e66);
	CU_ASSERT_EQUAL(mb_f32_to_f16(1e6f), 0x7c00);
	CU_ASSERT_EQUAL(mb_f32_to_f16(-1e6f), 0xfc00);
	CU_ASSERT_EQUAL(mb_f32_to_f16(1e-10f), 0x0000);
	CU_ASSERT_EQUAL(mb_f32_to_f16(-1e-10f), 0x8000);
	CU_ASSERT_EQUAL(mb_f32_to_f16(INFINITY), 0x7c00);
	CU_ASSERT_EQUAL(mb_f32_to_f16(0x1p-25f), 0x0000);               /* tie to even: 0 */
	CU_ASSERT_EQUAL(mb_f32_to_f16(nextafterf(0x1p-25f, 1)), 0x0001);
	CU_ASSERT_EQUAL(mb_f32_to_f16(65519.996f), 0x7bff);
	CU_ASSERT_EQUAL(mb_f32_to_f16(65520.0f), 0x7c00);               /* tie to even: infinity */
	CU_ASSERT_TRUE(isnan(mb_f16_to_f32(mb_f32_to_f16(NAN))));
}

/*
 * Round to nearest, ties to even, at every boundary: the midpoint of two
 * neighbouring halves goes to the even one, a float either side of it to
 * the nearer one. Covers subnormals, the normal/subnormal edge and carries
 * into the exponent.
 */
static void test_f16_rounding_every_midpoint(void)
{
	for (uint32_t h = 0; h < 0x7bff; h++) {
		for (int neg = 0; neg < 2; neg++) {
			uint16_t s = neg ? 0x8000 : 0;
			float lo = mb_f16_to_f32((uint16_t)(h | s));
			float hi = mb_f16_to_f32((uint16_t)((h + 1) | s));
			float mid = (lo + hi) / 2;     /* exact: halves have 11 significant bits */
			uint16_t even = (uint16_t)((h & 1 ? h + 1 : h) | s);
			CU_ASSERT_EQUAL_FATAL(mb_f32_to_f16(mid), even);
			CU_ASSERT_EQUAL_FATAL(mb_f32_to_f16(nextafterf(mid, lo)), h | s);
			CU_ASSERT_EQUAL_FATAL(mb_f32_to_f16(nextafterf(mid, hi)), (h + 1) | s);
		}
	}
}

/* ---- messages ---- */

/* Deterministic pseudo-random floats in [lo, hi). */
static float rnd(uint32_t *s, float lo, float hi)
{
	*s = *s * 1664525u + 1013904223u;
	return lo + (hi - lo) * (float)(*s >> 8) / (float)(1u << 24);
}

/* A message of count rows, features in [lo, hi), targets and weights filled too. */
struct msg {
	uint8_t *buf;      /* encoded bytes (malloc) */
	size_t len;        /* bytes */
	float *x, *y, *w;  /* what was encoded */
	struct mb_sample_batch b; /* the batch given to the encoder */
};

static void msg_make(struct msg *m, uint32_t count, uint32_t nf, uint32_t nt, enum mb_elem elem,
		     bool weighted, float scale, float offset, float lo, float hi)
{
	uint32_t s = count * 7919u + nf * 31u + nt + (uint32_t)elem * 3u + weighted;
	memset(m, 0, sizeof *m);
	m->x = malloc(sizeof(float) * count * nf);
	m->y = malloc(sizeof(float) * count * (nt ? nt : 1));
	m->w = weighted ? malloc(sizeof(float) * count) : NULL;
	for (size_t k = 0; k < (size_t)count * nf; k++)
		m->x[k] = rnd(&s, lo, hi);
	for (size_t k = 0; k < (size_t)count * nt; k++)
		m->y[k] = rnd(&s, -100, 100);
	for (uint32_t k = 0; weighted && k < count; k++)
		m->w[k] = rnd(&s, 0, 4);
	m->b = (struct mb_sample_batch){.count = count, .n_features = nf, .n_targets = nt,
					.x = m->x, .y = nt ? m->y : NULL, .w = m->w, .elem = elem,
					.scale = scale, .offset = offset};
	m->len = mb_sample_bin_size(count, nf, nt, elem, weighted);
	CU_ASSERT_FATAL(m->len > 0);
	m->buf = malloc(m->len);
	CU_ASSERT_EQUAL_FATAL(mb_sample_bin_encode(m->buf, m->len, &m->b), (long)m->len);
}

static void msg_free(struct msg *m)
{
	free(m->buf);
	free(m->x);
	free(m->y);
	free(m->w);
}

/* Decode m and compare every row within tol(x) for features, exactly for y and w. */
static void check_roundtrip(const struct msg *m, float (*tol)(float x, float scale, float offset))
{
	struct mb_sample_view v;
	struct mb_diag d = {0};
	const struct mb_sample_batch *b = &m->b;
	CU_ASSERT_EQUAL_FATAL(mb_sample_bin_parse(m->buf, m->len, NULL, &v, &d), 0);
	CU_ASSERT_EQUAL(v.count, b->count);
	CU_ASSERT_EQUAL(v.n_features, b->n_features);
	CU_ASSERT_EQUAL(v.n_targets, b->n_targets);
	CU_ASSERT_EQUAL(v.elem, b->elem);
	CU_ASSERT_EQUAL(v.weighted, b->w != NULL);

	float *x = malloc(sizeof(float) * b->n_features);
	float y[8], w;
	for (uint32_t i = 0; i < b->count; i++) {
		mb_sample_view_row(&v, i, x, y, &w);
		CU_ASSERT_EQUAL(w, b->w ? b->w[i] : 1.0f);
		for (uint32_t k = 0; k < b->n_targets; k++)
			CU_ASSERT_EQUAL(y[k], b->y[(size_t)i * b->n_targets + k]);
		for (uint32_t k = 0; k < b->n_features; k++) {
			float want = b->x[(size_t)i * b->n_features + k];
			if (!(fabsf(x[k] - want) <= tol(want, b->scale, b->offset))) {
				CU_FAIL("feature outside its quantisation step");
				break;
			}
		}
	}
	free(x);
}

static float tol_exact(float x, float scale, float offset)
{
	(void)x, (void)scale, (void)offset;
	return 0.0f;
}

/* Half a step of 1/2048 relative to the stored value, plus float rounding of scale and offset. */
static float tol_f16(float x, float scale, float offset)
{
	return fabsf(x - offset) * 0x1p-11f + fabsf(scale) * 0x1p-24f + (fabsf(x) + fabsf(offset)) * 1e-6f;
}

/* Half a step of the scale, plus float rounding. */
static float tol_u8(float x, float scale, float offset)
{
	return fabsf(scale) * 0.5f + (fabsf(x) + fabsf(offset)) * 1e-6f;
}

static void test_roundtrip_f32(void)
{
	for (int weighted = 0; weighted < 2; weighted++) {
		struct msg m;
		msg_make(&m, 17, 13, 3, MB_ELEM_F32, weighted, 0, 0, -1e6f, 1e6f);
		check_roundtrip(&m, tol_exact);
		msg_free(&m);
	}
}

static void test_roundtrip_f16(void)
{
	for (int weighted = 0; weighted < 2; weighted++) {
		struct msg m;
		msg_make(&m, 9, 31, 2, MB_ELEM_F16, weighted, 0.01f, -3.0f, -300.0f, 300.0f);
		check_roundtrip(&m, tol_f16);
		msg_free(&m);
	}
}

static void test_roundtrip_u8(void)
{
	for (int weighted = 0; weighted < 2; weighted++) {
		struct msg m;
		msg_make(&m, 11, 784, 1, MB_ELEM_U8, weighted, 1.0f / 255, 0, 0.0f, 1.0f);
		check_roundtrip(&m, tol_u8);
		msg_free(&m);
		msg_make(&m, 5, 19, 4, MB_ELEM_U8, weighted, 0.5f, -10.0f, -10.0f, 117.5f);
		check_roundtrip(&m, tol_u8);
		msg_free(&m);
	}
}

/* U8 pixels k/255 survive exactly, and out-of-range values saturate to 0 and 255. */
static void test_u8_exact_and_saturating(void)
{
	float x[258], back[258];
	uint8_t buf[512];
	for (int k = 0; k < 256; k++)
		x[k] = (float)k * (1.0f / 255.0f);
	x[256] = -5.0f;
	x[257] = 9.0f;
	struct mb_sample_batch b = {.count = 1, .n_features = 258, .x = x, .elem = MB_ELEM_U8,
				    .scale = 1.0f / 255.0f};
	long n = mb_sample_bin_encode(buf, sizeof buf, &b);
	CU_ASSERT_EQUAL_FATAL(n, 32 + 258);
	for (int k = 0; k < 256; k++)
		CU_ASSERT_EQUAL(buf[32 + k], k);
	struct mb_sample_view v;
	CU_ASSERT_EQUAL_FATAL(mb_sample_bin_parse(buf, (size_t)n, NULL, &v, NULL), 0);
	mb_sample_view_row(&v, 0, back, NULL, NULL);
	CU_ASSERT_EQUAL(memcmp(back, x, 256 * sizeof(float)), 0);
	CU_ASSERT_EQUAL(back[256], 0.0f);
	CU_ASSERT_EQUAL(back[257], 1.0f);
}

/* F16 features past the largest half saturate to it instead of becoming infinite. */
static void test_f16_saturates(void)
{
	float x[2] = {1e9f, -1e9f}, back[2];
	uint8_t buf[64];
	struct mb_sample_batch b = {.count = 1, .n_features = 2, .x = x, .elem = MB_ELEM_F16,
				    .scale = 1.0f, .offset = 0.0f};
	long n = mb_sample_bin_encode(buf, sizeof buf, &b);
	CU_ASSERT_EQUAL_FATAL(n, 36);
	struct mb_sample_view v;
	CU_ASSERT_EQUAL_FATAL(mb_sample_bin_parse(buf, (size_t)n, NULL, &v, NULL), 0);
	mb_sample_view_row(&v, 0, back, NULL, NULL);
	CU_ASSERT_EQUAL(back[0], 65504.0f);
	CU_ASSERT_EQUAL(back[1], -65504.0f);
}

/* Rows without targets, features only. */
static void test_no_targets(void)
{
	struct msg m;
	msg_make(&m, 3, 5, 0, MB_ELEM_F32, false, 0, 0, -1, 1);
	check_roundtrip(&m, tol_exact);
	msg_free(&m);
}

/* ---- refusals ---- */

/* The base of the malformed table: 2 weighted rows, 3 f32 features, 1 target. */
static size_t base_message(uint8_t *buf)
{
	static const float x[6] = {1, 2, 3, 4, 5, 6}, y[2] = {7, 8}, w[2] = {1, 0.5f};
	struct mb_sample_batch b = {.count = 2, .n_features = 3, .n_targets = 1, .x = x, .y = y,
				    .w = w, .elem = MB_ELEM_F32};
	long n = mb_sample_bin_encode(buf, 256, &b);
	CU_ASSERT_EQUAL_FATAL(n, 32 + 2 * (4 + 4 + 12));
	return (size_t)n;
}

/* Parse buf and expect err and reason; the view must be left untouched. */
static void expect_refusal(const uint8_t *buf, size_t len, const struct mb_shape *expect, int err,
			   enum mb_reason reason, const char *what)
{
	struct mb_sample_view v, orig;
	struct mb_diag d = {.reason = MB_R_OK};
	memset(&v, 0xa5, sizeof v);
	orig = v;
	int r = mb_sample_bin_parse(buf, len, expect, &v, &d);
	if (r != err || d.reason != reason) {
		fprintf(stderr, "\n  %s: got %d/%s (%s), expected %d/%s\n", what, r,
			mb_reason_name(d.reason), d.text, err, mb_reason_name(reason));
		CU_FAIL("wrong refusal");
	}
	CU_ASSERT_EQUAL(memcmp(&v, &orig, sizeof v), 0);
	CU_ASSERT(strlen(d.text) > 0);
}

/* One header or value change and the refusal it must produce. */
struct mutation {
	const char *what;      /* the fault, for the failure message */
	size_t off;            /* where to write */
	int width;             /* 1, 4 bytes, or 0 for a float32 */
	uint32_t value;        /* integer to write */
	float fvalue;          /* float to write when width is 0 */
	int err;               /* the -errno expected */
	enum mb_reason reason; /* the reason expected */
};

static void test_malformed_table(void)
{
	/* Row layout of the base: 32 + i*20: weight, target, three features. */
	static const struct mutation table[] = {
		{"magic byte 0", 0, 1, 'X', 0, -EBADMSG, MB_R_MAGIC},
		{"magic byte 3", 3, 1, 'm', 0, -EBADMSG, MB_R_MAGIC},
		{"version 0", 4, 1, 0, 0, -EPROTONOSUPPORT, MB_R_VERSION},
		{"version 2", 4, 1, 2, 0, -EPROTONOSUPPORT, MB_R_VERSION},
		{"sparse flag", 5, 1, MB_SMP_F_WEIGHTS | MB_SMP_F_SPARSE, 0, -EBADMSG, MB_R_FLAGS},
		{"unknown flag", 5, 1, 0x81, 0, -EBADMSG, MB_R_FLAGS},
		{"reserved byte 7", 7, 1, 1, 0, -EBADMSG, MB_R_FLAGS},
		{"reserved word 28", 28, 4, 0x100, 0, -EBADMSG, MB_R_FLAGS},
		{"element type 0", 6, 1, 0, 0, -EBADMSG, MB_R_ELEM_TYPE},
		{"element type 4", 6, 1, 4, 0, -EBADMSG, MB_R_ELEM_TYPE},
		{"count 0", 8, 4, 0, 0, -ENODATA, MB_R_EMPTY},
		{"count over limit", 8, 4, MB_MAX_SAMPLES_PER_MSG + 1, 0, -E2BIG, MB_R_TOO_BIG},
		{"count huge", 8, 4, 0xffffffffu, 0, -E2BIG, MB_R_TOO_BIG},
		{"features 0", 12, 4, 0, 0, -E2BIG, MB_R_TOO_BIG},
		{"features over limit", 12, 4, MB_MAX_FEATURES + 1, 0, -E2BIG, MB_R_TOO_BIG},
		{"count x features over the message limit", 12, 4, MB_MAX_FEATURES, 0, -E2BIG, MB_R_TOO_BIG},
		{"targets over limit", 16, 4, MB_MAX_TARGETS + 1, 0, -E2BIG, MB_R_TOO_BIG},
		{"f32 scale 2", 20, 0, 0, 2.0f, -EINVAL, MB_R_SCALE},
		{"f32 offset 1", 24, 0, 0, 1.0f, -EINVAL, MB_R_SCALE},
		{"scale 0", 20, 0, 0, 0.0f, -EINVAL, MB_R_SCALE},
		{"scale NaN", 20, 0, 0, NAN, -EINVAL, MB_R_SCALE},
		{"scale infinite", 20, 0, 0, INFINITY, -EINVAL, MB_R_SCALE},
		{"offset infinite", 24, 0, 0, -INFINITY, -EINVAL, MB_R_SCALE},
		{"count larger than the bytes", 8, 4, 3, 0, -EBADMSG, MB_R_TRUNCATED},
		{"count smaller than the bytes", 8, 4, 1, 0, -EBADMSG, MB_R_TRAILING},
		{"NaN weight", 32, 0, 0, NAN, -EDOM, MB_R_NONFINITE},
		{"infinite weight", 52, 0, 0, INFINITY, -EDOM, MB_R_NONFINITE},
		{"NaN target", 36, 0, 0, NAN, -EDOM, MB_R_NONFINITE},
		{"infinite target", 56, 0, 0, -INFINITY, -EDOM, MB_R_NONFINITE},
		{"NaN feature", 44, 0, 0, NAN, -EDOM, MB_R_NONFINITE},
		{"infinite feature", 68, 0, 0, INFINITY, -EDOM, MB_R_NONFINITE},
		{"negative weight", 52, 0, 0, -0.5f, -EINVAL, MB_R_LABEL},
	};
	uint8_t base[256], buf[256];
	size_t len = base_message(base);

	for (size_t t = 0; t < sizeof table / sizeof table[0]; t++) {
		const struct mutation *m = &table[t];
		memcpy(buf, base, len);
		if (m->width == 1)
			buf[m->off] = (uint8_t)m->value;
		else if (m->width == 4)
			mb_put_le32(buf + m->off, m->value);
		else
			mb_put_lef32(buf + m->off, m->fvalue);
		expect_refusal(buf, len, NULL, m->err, m->reason, m->what);
		if (m->reason == MB_R_NONFINITE) {
			struct mb_diag d;
			struct mb_sample_view v;
			mb_sample_bin_parse(buf, len, NULL, &v, &d);
			CU_ASSERT_EQUAL(d.offset, m->off);
		}
	}
}

/* The sparse flag is refused with a sentence that says why. */
static void test_sparse_explained(void)
{
	uint8_t buf[256];
	size_t len = base_message(buf);
	struct mb_sample_view v;
	struct mb_diag d;
	buf[5] |= MB_SMP_F_SPARSE;
	CU_ASSERT_EQUAL(mb_sample_bin_parse(buf, len, NULL, &v, &d), -EBADMSG);
	CU_ASSERT_PTR_NOT_NULL(strstr(d.text, "reserved for a later version"));
}

/* Every length short of the full message is truncated; one more byte is trailing. */
static void test_truncated_every_length(void)
{
	uint8_t base[256];
	size_t len = base_message(base);
	expect_refusal(base, 0, NULL, -ENODATA, MB_R_EMPTY, "empty");
	for (size_t n = 1; n < len; n++) {
		/* An exact-size copy, so a read past the end is caught by ASan. */
		uint8_t *cut = malloc(n);
		memcpy(cut, base, n);
		expect_refusal(cut, n, NULL, -EBADMSG, MB_R_TRUNCATED, "truncated");
		free(cut);
	}
	struct mb_diag d;
	struct mb_sample_view v;
	uint8_t five[256];
	memcpy(five, base, sizeof five);
	mb_put_le32(five + 8, 5);
	CU_ASSERT_EQUAL(mb_sample_bin_parse(five, 100, NULL, &v, &d), -EBADMSG);
	CU_ASSERT_STRING_EQUAL(d.text, "message has 100 bytes, header announces 132");
	base[len] = 0;
	expect_refusal(base, len + 1, NULL, -EBADMSG, MB_R_TRAILING, "trailing byte");
}

/* A shape the caller expects: a differing width is refused, 0 accepts any. */
static void test_dimension_mismatch(void)
{
	uint8_t buf[256];
	size_t len = base_message(buf);
	struct mb_sample_view v;
	expect_refusal(buf, len, &(struct mb_shape){.n_features = 4}, -EINVAL, MB_R_DIM_MISMATCH,
		       "features");
	expect_refusal(buf, len, &(struct mb_shape){.n_targets = 2}, -EINVAL, MB_R_DIM_MISMATCH,
		       "targets");
	CU_ASSERT_EQUAL(mb_sample_bin_parse(buf, len, &(struct mb_shape){.n_features = 3}, &v, NULL), 0);
	CU_ASSERT_EQUAL(mb_sample_bin_parse(buf, len, &(struct mb_shape){3, 1}, &v, NULL), 0);
	CU_ASSERT_EQUAL(mb_sample_bin_parse(buf, len, &(struct mb_shape){0, 0}, &v, NULL), 0);
}

/* Non-finite F16 features, and a U8 scale that would overflow a float. */
static void test_f16_u8_values(void)
{
	float x[4] = {1, 2, 3, 4};
	uint8_t buf[128];
	struct mb_sample_batch b = {.count = 1, .n_features = 4, .x = x, .elem = MB_ELEM_F16,
				    .scale = 1.0f};
	long n = mb_sample_bin_encode(buf, sizeof buf, &b);
	CU_ASSERT_EQUAL_FATAL(n, 40);
	mb_put_le16(buf + 32 + 4, 0x7c00);
	expect_refusal(buf, (size_t)n, NULL, -EDOM, MB_R_NONFINITE, "f16 infinity");
	mb_put_le16(buf + 32 + 4, 0xfe01);
	expect_refusal(buf, (size_t)n, NULL, -EDOM, MB_R_NONFINITE, "f16 NaN");

	b.elem = MB_ELEM_U8;
	n = mb_sample_bin_encode(buf, sizeof buf, &b);
	CU_ASSERT_EQUAL_FATAL(n, 36);
	mb_put_lef32(buf + 20, 3e38f);
	expect_refusal(buf, (size_t)n, NULL, -EINVAL, MB_R_SCALE, "u8 scale overflows");
}

/* The encoder refuses what the decoder would refuse, and a short buffer. */
static void test_encode_errors(void)
{
	float x[4] = {1, 2, 3, 4}, y[2] = {0, 1}, w[2] = {1, 1};
	uint8_t buf[128];
	struct mb_sample_batch ok = {.count = 2, .n_features = 2, .n_targets = 1, .x = x, .y = y,
				     .w = w, .elem = MB_ELEM_F32};
	struct mb_sample_batch b;
	size_t size = mb_sample_bin_size(2, 2, 1, MB_ELEM_F32, true);
	CU_ASSERT_EQUAL(size, 32 + 2 * 16);

	CU_ASSERT_EQUAL(mb_sample_bin_encode(buf, size, &ok), (long)size);
	CU_ASSERT_EQUAL(mb_sample_bin_encode(buf, size - 1, &ok), -ENOBUFS);
	x[3] = NAN;
	CU_ASSERT_EQUAL(mb_sample_bin_encode(buf, sizeof buf, &ok), -EDOM);
	x[3] = 4;
	y[1] = INFINITY;
	CU_ASSERT_EQUAL(mb_sample_bin_encode(buf, sizeof buf, &ok), -EDOM);
	y[1] = 1;
	w[1] = NAN;
	CU_ASSERT_EQUAL(mb_sample_bin_encode(buf, sizeof buf, &ok), -EDOM);
	w[1] = -1;
	CU_ASSERT_EQUAL(mb_sample_bin_encode(buf, sizeof buf, &ok), -EINVAL);
	w[1] = 1;

	b = ok;
	b.count = MB_MAX_SAMPLES_PER_MSG + 1;
	CU_ASSERT_EQUAL(mb_sample_bin_encode(buf, sizeof buf, &b), -E2BIG);
	b = ok;
	b.elem = 7;
	CU_ASSERT_EQUAL(mb_sample_bin_encode(buf, sizeof buf, &b), -EINVAL);
	b = ok;
	b.elem = MB_ELEM_U8;
	b.scale = 0;
	CU_ASSERT_EQUAL(mb_sample_bin_encode(buf, sizeof buf, &b), -EINVAL);

	CU_ASSERT_EQUAL(mb_sample_bin_size(0, 1, 0, MB_ELEM_F32, false), 0);
	CU_ASSERT_EQUAL(mb_sample_bin_size(1, MB_MAX_FEATURES + 1, 0, MB_ELEM_U8, false), 0);
	CU_ASSERT_EQUAL(mb_sample_bin_size(1, 1, MB_MAX_TARGETS + 1, MB_ELEM_U8, false), 0);
	CU_ASSERT_EQUAL(mb_sample_bin_size(65536, 1024, 0, MB_ELEM_U8, false), 0); /* 64 MiB + header */
	CU_ASSERT_EQUAL(mb_sample_bin_size(1, 1, 0, 9, false), 0);
}

/* How fast the hot path turns U8 rows into floats (a figure, not a pass condition). */
static void test_view_row_speed(void)
{
	struct msg m;
	msg_make(&m, 1000, 784, 1, MB_ELEM_U8, false, 1.0f / 255, 0, 0, 1);
	struct mb_sample_view v;
	CU_ASSERT_EQUAL_FATAL(mb_sample_bin_parse(m.buf, m.len, NULL, &v, NULL), 0);
	float *x = malloc(784 * sizeof(float)), y;
	struct timespec t0, t1;
	double sum = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int rep = 0; rep < 60; rep++)
		for (uint32_t i = 0; i < v.count; i++) {
			mb_sample_view_row(&v, i, x, &y, NULL);
			sum += x[i % 784];
		}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
	fprintf(stderr, "\n  u8 rows of 784: %.0f rows/s (checksum %.1f) ", 60000 / s, sum);
	CU_ASSERT(sum > 0);
	free(x);
	msg_free(&m);
}

int main(void)
{
	MB_SUITE("f16", {"every_half", test_f16_every_half}, {"known_values", test_f16_known_values},
		 {"rounding_every_midpoint", test_f16_rounding_every_midpoint});
	MB_SUITE("sample_bin", {"roundtrip_f32", test_roundtrip_f32},
		 {"roundtrip_f16", test_roundtrip_f16}, {"roundtrip_u8", test_roundtrip_u8},
		 {"u8_exact_and_saturating", test_u8_exact_and_saturating},
		 {"f16_saturates", test_f16_saturates}, {"no_targets", test_no_targets},
		 {"malformed_table", test_malformed_table}, {"sparse_explained", test_sparse_explained},
		 {"truncated_every_length", test_truncated_every_length},
		 {"dimension_mismatch", test_dimension_mismatch},
		 {"f16_u8_values", test_f16_u8_values}, {"encode_errors", test_encode_errors},
		 {"view_row_speed", test_view_row_speed});
	return mb_test_run();
}
