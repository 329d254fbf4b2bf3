/* SPDX-License-Identifier: MIT */
/*
 * sample_bin.c - binary sample messages (proto/mb_proto.h, "MBSM").
 *
 * The parser validates a whole message once, so that the per-row
 * conversion the ingest threads run afterwards needs no checks at all.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "cpu_clones.h"
#include "sample.h"
#include "wire.h"

/* Largest finite binary16 value: F16 encoding saturates here, as U8 does at 255. */
#define F16_MAX 65504.0f

static size_t elem_bytes(enum mb_elem e)
{
	switch (e) {
	case MB_ELEM_F32: return 4;
	case MB_ELEM_F16: return 2;
	case MB_ELEM_U8: return 1;
	}
	return 0;
}

static const char *elem_name(enum mb_elem e)
{
	switch (e) {
	case MB_ELEM_F32: return "f32";
	case MB_ELEM_F16: return "f16";
	case MB_ELEM_U8: return "u8";
	}
	return "?";
}

static bool f32_bits_finite(uint32_t u) { return (u & 0x7f800000u) != 0x7f800000u; }

/*
 * Bytes of one row, and of a whole message, or false when a count is over
 * its limit or the total overflows or exceeds MB_MAX_MSG_BYTES.
 */
static bool shape_bytes(uint32_t count, uint32_t n_features, uint32_t n_targets, size_t elem_size,
			bool weighted, size_t *ret_row, size_t *ret_total)
{
	size_t row, total;

	if (count == 0 || count > MB_MAX_SAMPLES_PER_MSG || n_features == 0 ||
	    n_features > MB_MAX_FEATURES || n_targets > MB_MAX_TARGETS || elem_size == 0)
		return false;
	if (!mb_size_muladd(n_features, elem_size, (size_t)n_targets * 4 + (weighted ? 4 : 0), &row) ||
	    !mb_size_muladd(count, row, MB_SMP_HEADER_BYTES, &total) || total > MB_MAX_MSG_BYTES)
		return false;
	*ret_row = row;
	*ret_total = total;
	return true;
}

/*
 * The largest feature magnitude stored * scale + offset can reach; it must
 * be finite, or a valid stored value would decode to infinity.
 */
static float feature_bound(enum mb_elem e, float scale, float offset)
{
	float top = e == MB_ELEM_U8 ? 255.0f : F16_MAX;
	return top * fabsf(scale) + fabsf(offset);
}

/*
 * The hot loops below are built per x86-64 level (cpu_clones.h); they
 * compute the same values whichever runs.
 */
/* Sixteen 32-bit words, any alignment, for the finiteness scan. */
typedef uint32_t v16u __attribute__((vector_size(64), aligned(1), may_alias));

/*
 * Whether some float32 among n at p has the exponent of an infinity or a
 * NaN: sixteen at a time, since a one-sample F32 message spends most of its
 * decoding here. The wire is little-endian; so is the word in memory on
 * the hosts the vector path is built for.
 */
MB_CPU_CLONES
static bool any_nonfinite_f32(const uint8_t *p, size_t n)
{
	uint32_t bad = 0;
	size_t k = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	const v16u exp_bits = {0x7f800000u, 0x7f800000u, 0x7f800000u, 0x7f800000u, 0x7f800000u, 0x7f800000u,
			       0x7f800000u, 0x7f800000u, 0x7f800000u, 0x7f800000u, 0x7f800000u, 0x7f800000u,
			       0x7f800000u, 0x7f800000u, 0x7f800000u, 0x7f800000u};
	v16u acc = {0};
	for (; k + 16 <= n; k += 16) {
		v16u u = *(const v16u *)(const void *)(p + 4 * k);
		acc |= (v16u)((u & exp_bits) == exp_bits);
	}
	for (unsigned l = 0; l < 16; l++)
		bad |= acc[l];
#endif
	for (; k < n; k++)
		bad |= !f32_bits_finite(mb_le32(p + 4 * k));
	return bad != 0;
}

/* First non-finite float32 among n at p, or n when all are finite. */
static size_t scan_f32(const uint8_t *p, size_t n)
{
	if (!any_nonfinite_f32(p, n))
		return n;
	for (size_t k = 0; k < n; k++)
		if (!f32_bits_finite(mb_le32(p + 4 * k)))
			return k;
	return n;
}

/* First non-finite binary16 among n at p, or n when all are finite. */
static size_t scan_f16(const uint8_t *p, size_t n)
{
	uint32_t bad = 0;
	for (size_t k = 0; k < n; k++)
		bad |= (mb_le16(p + 2 * k) & 0x7c00u) == 0x7c00u;
	if (!bad)
		return n;
	for (size_t k = 0; k < n; k++)
		if ((mb_le16(p + 2 * k) & 0x7c00u) == 0x7c00u)
			return k;
	return n;
}

/* Check every weight, target and float feature of the rows; 0 or -errno with *diag. */
static int check_values(const uint8_t *msg, const struct mb_sample_view *v, struct mb_diag *diag)
{
	size_t head = v->weighted ? 4 : 0;
	size_t n_y = v->n_targets;
	size_t esz = elem_bytes(v->elem);

	for (uint32_t i = 0; i < v->count; i++) {
		const uint8_t *row = v->rows + (size_t)i * v->row_bytes;
		size_t at = (size_t)(row - msg);
		if (v->weighted) {
			float w = mb_lef32(row);
			if (!isfinite(w))
				return mb_diag_set(diag, -EDOM, MB_R_NONFINITE, 0, at,
						   "sample %u has a non-finite weight at byte %zu", i, at);
			if (w < 0.0f)
				return mb_diag_set(diag, -EINVAL, MB_R_LABEL, 0, at,
						   "sample %u has the negative weight %g at byte %zu", i,
						   (double)w, at);
		}
		size_t k = scan_f32(row + head, n_y);
		if (k < n_y) {
			at += head + 4 * k;
			return mb_diag_set(diag, -EDOM, MB_R_NONFINITE, 0, at,
					   "sample %u has a non-finite target %zu at byte %zu", i, k, at);
		}
		const uint8_t *x = row + head + 4 * n_y;
		size_t n_x = v->n_features;
		if (v->elem == MB_ELEM_F32)
			k = scan_f32(x, n_x);
		else if (v->elem == MB_ELEM_F16)
			k = scan_f16(x, n_x);
		else
			k = n_x;
		if (k < n_x) {
			at += head + 4 * n_y + esz * k;
			return mb_diag_set(diag, -EDOM, MB_R_NONFINITE, 0, at,
					   "sample %u has a non-finite feature %zu at byte %zu", i, k, at);
		}
	}
	return 0;
}

/* Check the header in the order of sample.h, then every value once. */
int mb_sample_bin_parse(const void *buf, size_t len, const struct mb_shape *expect,
			struct mb_sample_view *ret, struct mb_diag *diag)
{
	struct mb_wire w;
	struct mb_sample_view v;
	size_t row_bytes, needed;

	if (len == 0)
		return mb_diag_set(diag, -ENODATA, MB_R_EMPTY, 0, 0, "message is empty");
	if (len < MB_SMP_HEADER_BYTES)
		return mb_diag_set(diag, -EBADMSG, MB_R_TRUNCATED, 0, len,
				   "message has %zu bytes, shorter than the %u-byte header", len,
				   MB_SMP_HEADER_BYTES);

	mb_wire_init(&w, buf, len);
	const uint8_t *magic = mb_wire_take(&w, 4);
	uint8_t version = mb_wire_u8(&w);
	uint8_t flags = mb_wire_u8(&w);
	uint8_t elem = mb_wire_u8(&w);
	uint8_t reserved1 = mb_wire_u8(&w);
	uint32_t count = mb_wire_u32(&w);
	uint32_t n_features = mb_wire_u32(&w);
	uint32_t n_targets = mb_wire_u32(&w);
	float scale = mb_wire_f32(&w);
	float offset = mb_wire_f32(&w);
	uint32_t reserved2 = mb_wire_u32(&w);

	if (memcmp(magic, MB_SMP_MAGIC, 4) != 0)
		return mb_diag_set(diag, -EBADMSG, MB_R_MAGIC, 0, 0,
				   "message starts with %02x %02x %02x %02x, not \"MBSM\"", magic[0],
				   magic[1], magic[2], magic[3]);
	if (version != MB_SMP_VERSION)
		return mb_diag_set(diag, -EPROTONOSUPPORT, MB_R_VERSION, 0, 4,
				   "message has version %u, this build reads version %u", version,
				   MB_SMP_VERSION);
	if (flags & MB_SMP_F_SPARSE)
		return mb_diag_set(diag, -EBADMSG, MB_R_FLAGS, 0, 5,
				   "message sets the sparse flag: binary sparse rows are reserved for a later version");
	if (flags & ~MB_SMP_F_KNOWN)
		return mb_diag_set(diag, -EBADMSG, MB_R_FLAGS, 0, 5,
				   "message has unknown flag bits 0x%02x", flags & ~MB_SMP_F_KNOWN);
	if (reserved1)
		return mb_diag_set(diag, -EBADMSG, MB_R_FLAGS, 0, 7,
				   "message has %u in the reserved byte 7, expected 0", reserved1);
	if (reserved2)
		return mb_diag_set(diag, -EBADMSG, MB_R_FLAGS, 0, 28,
				   "message has 0x%08x in the reserved field at byte 28, expected 0",
				   reserved2);
	if (elem_bytes(elem) == 0)
		return mb_diag_set(diag, -EBADMSG, MB_R_ELEM_TYPE, 0, 6,
				   "message has element type %u, expected 1 (f32), 2 (f16) or 3 (u8)",
				   elem);
	if (count == 0)
		return mb_diag_set(diag, -ENODATA, MB_R_EMPTY, 0, 8, "message holds 0 samples");
	if (count > MB_MAX_SAMPLES_PER_MSG)
		return mb_diag_set(diag, -E2BIG, MB_R_TOO_BIG, 0, 8,
				   "message holds %u samples, the limit is %u", count,
				   MB_MAX_SAMPLES_PER_MSG);
	if (n_features == 0 || n_features > MB_MAX_FEATURES)
		return mb_diag_set(diag, -E2BIG, MB_R_TOO_BIG, 0, 12,
				   "message has %u features per sample, expected 1 to %u", n_features,
				   MB_MAX_FEATURES);
	if (n_targets > MB_MAX_TARGETS)
		return mb_diag_set(diag, -E2BIG, MB_R_TOO_BIG, 0, 16,
				   "message has %u targets per sample, the limit is %u", n_targets,
				   MB_MAX_TARGETS);
	bool weighted = flags & MB_SMP_F_WEIGHTS;
	if (!shape_bytes(count, n_features, n_targets, elem_bytes(elem), weighted, &row_bytes, &needed))
		return mb_diag_set(diag, -E2BIG, MB_R_TOO_BIG, 0, 8,
				   "%u samples of %u %s features and %u targets exceed the %u-byte message limit",
				   count, n_features, elem_name(elem), n_targets, MB_MAX_MSG_BYTES);
	if (!isfinite(scale) || !isfinite(offset) || scale == 0.0f)
		return mb_diag_set(diag, -EINVAL, MB_R_SCALE, 0, 20,
				   "message has scale %g and offset %g: both must be finite, scale non-zero",
				   (double)scale, (double)offset);
	/* Compared as bits: -0.0 == 0.0 as floats, but one message must have one byte form. */
	if (elem == MB_ELEM_F32 && (mb_le32(w.p + 20) != 0x3f800000u || mb_le32(w.p + 24) != 0))
		return mb_diag_set(diag, -EINVAL, MB_R_SCALE, 0, 20,
				   "message has f32 features with scale %g and offset %g, expected 1 and 0",
				   (double)scale, (double)offset);
	if (elem != MB_ELEM_F32 && !isfinite(feature_bound(elem, scale, offset)))
		return mb_diag_set(diag, -EINVAL, MB_R_SCALE, 0, 20,
				   "message has scale %g and offset %g: %s features would overflow a float",
				   (double)scale, (double)offset, elem_name(elem));
	if (expect && expect->n_features && expect->n_features != n_features)
		return mb_diag_set(diag, -EINVAL, MB_R_DIM_MISMATCH, 0, 12,
				   "message has %u features per sample, expected %u", n_features,
				   expect->n_features);
	if (expect && expect->n_targets && expect->n_targets != n_targets)
		return mb_diag_set(diag, -EINVAL, MB_R_DIM_MISMATCH, 0, 16,
				   "message has %u targets per sample, expected %u", n_targets,
				   expect->n_targets);
	if (len < needed)
		return mb_diag_set(diag, -EBADMSG, MB_R_TRUNCATED, 0, len,
				   "message has %zu bytes, header announces %zu", len, needed);
	if (len > needed)
		return mb_diag_set(diag, -EBADMSG, MB_R_TRAILING, 0, needed,
				   "message has %zu bytes, header announces %zu", len, needed);

	v.rows = mb_wire_take(&w, needed - MB_SMP_HEADER_BYTES);
	v.row_bytes = row_bytes;
	v.count = count;
	v.n_features = n_features;
	v.n_targets = n_targets;
	v.elem = elem;
	v.scale = scale;
	v.offset = offset;
	v.weighted = weighted;

	int err = check_values(buf, &v, diag);
	if (err < 0)
		return err;
	*ret = v;
	return 0;
}

/*
 * The hot path of U8 rows (784 pixels a sample): sixteen pixels widened
 * and converted per step, in the widest vectors the CPU has. GCC does not
 * widen bytes to floats well from portable code, hence the intrinsics and
 * a choice made once when the library loads (an ifunc). Multiply and add
 * stay two roundings (no fused multiply-add), so every variant decodes a
 * pixel to the same float as the scalar loop.
 */
typedef void u8_to_f32_fn(float *restrict x, const uint8_t *restrict p, uint32_t n, float scale, float offset);

/* The pixels the vector loops left, one at a time. */
static void u8_to_f32_tail(float *restrict x, const uint8_t *restrict p, uint32_t k, uint32_t n, float scale,
			   float offset)
{
	for (; k < n; k++)
		x[k] = (float)p[k] * scale + offset;
}

#ifdef MB_CPU_DISPATCH
#include <immintrin.h>

/* SSE2, which every x86-64 has: four unpacks from bytes to 32-bit lanes. */
__attribute__((optimize("fp-contract=off")))
static void u8_to_f32_sse2(float *restrict x, const uint8_t *restrict p, uint32_t n, float scale, float offset)
{
	uint32_t k = 0;
	const __m128i zero = _mm_setzero_si128();
	const __m128 vs = _mm_set1_ps(scale), vo = _mm_set1_ps(offset);
	for (; k + 16 <= n; k += 16) {
		__m128i b = _mm_loadu_si128((const __m128i *)(const void *)(p + k));
		__m128i lo = _mm_unpacklo_epi8(b, zero), hi = _mm_unpackhi_epi8(b, zero);
		__m128i q[4] = {_mm_unpacklo_epi16(lo, zero), _mm_unpackhi_epi16(lo, zero),
				_mm_unpacklo_epi16(hi, zero), _mm_unpackhi_epi16(hi, zero)};
		for (int j = 0; j < 4; j++)
			_mm_storeu_ps(x + k + 4 * j, _mm_add_ps(_mm_mul_ps(_mm_cvtepi32_ps(q[j]), vs), vo));
	}
	u8_to_f32_tail(x, p, k, n, scale, offset);
}

/* AVX2: eight pixels widened in one instruction. */
__attribute__((target("avx2"), optimize("fp-contract=off")))
static void u8_to_f32_avx2(float *restrict x, const uint8_t *restrict p, uint32_t n, float scale, float offset)
{
	uint32_t k = 0;
	const __m256 vs = _mm256_set1_ps(scale), vo = _mm256_set1_ps(offset);
	for (; k + 16 <= n; k += 16)
		for (int j = 0; j < 2; j++) {
			__m128i b = _mm_loadl_epi64((const __m128i *)(const void *)(p + k + 8 * j));
			__m256 f = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(b));
			_mm256_storeu_ps(x + k + 8 * j, _mm256_add_ps(_mm256_mul_ps(f, vs), vo));
		}
	u8_to_f32_tail(x, p, k, n, scale, offset);
}

/* AVX-512: sixteen pixels widened in one instruction. */
__attribute__((target("avx512f"), optimize("fp-contract=off")))
static void u8_to_f32_avx512(float *restrict x, const uint8_t *restrict p, uint32_t n, float scale, float offset)
{
	uint32_t k = 0;
	const __m512 vs = _mm512_set1_ps(scale), vo = _mm512_set1_ps(offset);
	for (; k + 16 <= n; k += 16) {
		__m128i b = _mm_loadu_si128((const __m128i *)(const void *)(p + k));
		__m512 f = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(b));
		_mm512_storeu_ps(x + k, _mm512_add_ps(_mm512_mul_ps(f, vs), vo));
	}
	u8_to_f32_tail(x, p, k, n, scale, offset);
}

/* Run by the dynamic loader: the widest variant this CPU runs. */
static u8_to_f32_fn *u8_to_f32_pick(void)
{
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f"))
		return u8_to_f32_avx512;
	if (__builtin_cpu_supports("avx2"))
		return u8_to_f32_avx2;
	return u8_to_f32_sse2;
}

static u8_to_f32_fn u8_to_f32 __attribute__((ifunc("u8_to_f32_pick")));
#else
/* Elsewhere the loop is left to the compiler. */
static void u8_to_f32(float *restrict x, const uint8_t *restrict p, uint32_t n, float scale, float offset)
{
	u8_to_f32_tail(x, p, 0, n, scale, offset);
}
#endif

/* The per-sample hot path: no checks, the parse did them. */
void mb_sample_view_row(const struct mb_sample_view *v, uint32_t i, float *x, float *y, float *w)
{
	const uint8_t *p = v->rows + (size_t)i * v->row_bytes;
	uint32_t nf = v->n_features;

	if (v->weighted) {
		if (w)
			*w = mb_lef32(p);
		p += 4;
	} else if (w) {
		*w = 1.0f;
	}
	if (y)
		for (uint32_t k = 0; k < v->n_targets; k++)
			y[k] = mb_lef32(p + 4 * k);
	p += (size_t)v->n_targets * 4;
	if (!x)
		return;

	switch (v->elem) {
	case MB_ELEM_U8:
		u8_to_f32(x, p, nf, v->scale, v->offset);
		break;
	case MB_ELEM_F32:
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		memcpy(x, p, (size_t)nf * 4);
#else
		for (uint32_t k = 0; k < nf; k++)
			x[k] = mb_lef32(p + 4 * k);
#endif
		break;
	case MB_ELEM_F16: {
		const float scale = v->scale, offset = v->offset;
		for (uint32_t k = 0; k < nf; k++)
			x[k] = mb_f16_to_f32(mb_le16(p + 2 * k)) * scale + offset;
		break;
	}
	}
}

/* The same arithmetic the parser trusts, so encoder and decoder agree. */
size_t mb_sample_bin_size(uint32_t count, uint32_t n_features, uint32_t n_targets,
			  enum mb_elem elem, bool weighted)
{
	size_t row, total;

	if (!shape_bytes(count, n_features, n_targets, elem_bytes(elem), weighted, &row, &total))
		return 0;
	return total;
}

/* The stored U8 code of x: round((x - offset) / scale), saturated to 0..255. */
static uint8_t quantize_u8(float x, float scale, float offset)
{
	float q = (x - offset) / scale;
	if (!(q > 0.0f))
		return 0;
	if (q >= 255.0f)
		return 255;
	return (uint8_t)(q + 0.5f);
}

/* The stored F16 code of x: (x - offset) / scale, saturated to the finite halves. */
static uint16_t quantize_f16(float x, float scale, float offset)
{
	float q = (x - offset) / scale;
	if (q > F16_MAX)
		q = F16_MAX;
	else if (q < -F16_MAX)
		q = -F16_MAX;
	return mb_f32_to_f16(q);
}

/* Validate while writing: a message the decoder would refuse is never produced. */
long mb_sample_bin_encode(void *buf, size_t cap, const struct mb_sample_batch *b)
{
	size_t row_bytes, total;
	float scale = 1.0f, offset = 0.0f;
	size_t esz = elem_bytes(b->elem);
	bool weighted = b->w != NULL;

	if (esz == 0 || !b->x || (b->n_targets && !b->y))
		return -EINVAL;
	if (b->count == 0 || b->n_features == 0)
		return -EINVAL;
	if (!shape_bytes(b->count, b->n_features, b->n_targets, esz, weighted, &row_bytes, &total))
		return -E2BIG;
	if (b->elem != MB_ELEM_F32) {
		scale = b->scale;
		offset = b->offset;
		if (!isfinite(scale) || !isfinite(offset) || scale == 0.0f ||
		    !isfinite(feature_bound(b->elem, scale, offset)))
			return -EINVAL;
	}
	if (cap < total)
		return -ENOBUFS;

	struct mb_wire w;
	mb_wire_init(&w, buf, total);
	mb_wire_put_bytes(&w, MB_SMP_MAGIC, 4);
	mb_wire_put_u8(&w, MB_SMP_VERSION);
	mb_wire_put_u8(&w, weighted ? MB_SMP_F_WEIGHTS : 0);
	mb_wire_put_u8(&w, (uint8_t)b->elem);
	mb_wire_put_u8(&w, 0);
	mb_wire_put_u32(&w, b->count);
	mb_wire_put_u32(&w, b->n_features);
	mb_wire_put_u32(&w, b->n_targets);
	mb_wire_put_f32(&w, scale);
	mb_wire_put_f32(&w, offset);
	mb_wire_put_u32(&w, 0);

	for (uint32_t i = 0; i < b->count; i++) {
		if (weighted) {
			float wt = b->w[i];
			if (!isfinite(wt))
				return -EDOM;
			if (wt < 0.0f)
				return -EINVAL;
			mb_wire_put_f32(&w, wt);
		}
		const float *y = b->y ? b->y + (size_t)i * b->n_targets : NULL;
		for (uint32_t k = 0; k < b->n_targets; k++) {
			if (!isfinite(y[k]))
				return -EDOM;
			mb_wire_put_f32(&w, y[k]);
		}
		const float *x = b->x + (size_t)i * b->n_features;
		uint8_t *q = mb_wire_take(&w, (size_t)b->n_features * esz);
		if (!q)
			return -ENOBUFS;    /* cannot happen: total was computed above */
		for (uint32_t k = 0; k < b->n_features; k++) {
			if (!isfinite(x[k]))
				return -EDOM;
			switch (b->elem) {
			case MB_ELEM_F32: mb_put_lef32(q + 4 * k, x[k]); break;
			case MB_ELEM_F16: mb_put_le16(q + 2 * k, quantize_f16(x[k], scale, offset)); break;
			case MB_ELEM_U8: q[k] = quantize_u8(x[k], scale, offset); break;
			}
		}
	}
	return mb_wire_ok(&w) ? (long)total : -ENOBUFS;
}
