/* SPDX-License-Identifier: MIT */
/*
 * fuzz_sample_bin.c - the binary sample decoder against arbitrary bytes.
 *
 * Whatever arrives on a PULL socket reaches mb_sample_bin_parse first, so
 * it must refuse garbage with a reason and accept only messages whose every
 * row converts to finite values and whose shape it reports exactly. An
 * accepted message is encoded again: float32 must give back the very bytes
 * (else encoder and decoder read the format differently), and whatever
 * the encoder writes must decode.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "fuzz.h"
#include "sample.h"

/* The decoded rows of one message, one array each for x, y and weights. */
struct rows {
	float *x; /* count x n_features */
	float *y; /* count x n_targets, NULL when there are none */
	float *w; /* count weights (1 when the message has none) */
};

static size_t elem_bytes(enum mb_elem e)
{
	switch (e) {
	case MB_ELEM_F32:
		return 4;
	case MB_ELEM_F16:
		return 2;
	case MB_ELEM_U8:
		return 1;
	}
	return 0;
}

/* The view must describe exactly the bytes it was decoded from. */
static void check_view(const struct mb_sample_view *v, const uint8_t *data, size_t size)
{
	MB_FUZZ_CHECK(v->count >= 1 && v->count <= MB_MAX_SAMPLES_PER_MSG);
	MB_FUZZ_CHECK(v->n_features >= 1 && v->n_features <= MB_MAX_FEATURES);
	MB_FUZZ_CHECK(v->n_targets <= MB_MAX_TARGETS);
	MB_FUZZ_CHECK(elem_bytes(v->elem) != 0);
	MB_FUZZ_CHECK(v->rows == data + MB_SMP_HEADER_BYTES);
	size_t row = (v->weighted ? 4u : 0u) + 4u * (size_t)v->n_targets +
		     elem_bytes(v->elem) * (size_t)v->n_features;
	MB_FUZZ_CHECK(v->row_bytes == row);
	MB_FUZZ_CHECK(size == MB_SMP_HEADER_BYTES + row * v->count);
	MB_FUZZ_CHECK(mb_sample_bin_size(v->count, v->n_features, v->n_targets, v->elem, v->weighted) ==
		      size);
	MB_FUZZ_CHECK(isfinite(v->scale) && isfinite(v->offset));
}

/* Convert every row; each value must come out finite. */
static int convert_rows(const struct mb_sample_view *v, struct rows *r)
{
	size_t nx = (size_t)v->count * v->n_features, ny = (size_t)v->count * v->n_targets;
	r->x = malloc(nx * sizeof *r->x);
	r->y = ny ? malloc(ny * sizeof *r->y) : NULL;
	r->w = malloc(v->count * sizeof *r->w);
	if (!r->x || (ny && !r->y) || !r->w)
		return -ENOMEM;
	for (uint32_t i = 0; i < v->count; i++) {
		r->w[i] = 1.0f;
		mb_sample_view_row(v, i, r->x + (size_t)i * v->n_features,
				   r->y ? r->y + (size_t)i * v->n_targets : NULL, &r->w[i]);
	}
	MB_FUZZ_CHECK(mb_fuzz_all_finite(r->x, nx));
	MB_FUZZ_CHECK(mb_fuzz_all_finite(r->y, ny));
	MB_FUZZ_CHECK(mb_fuzz_all_finite(r->w, v->count));
	return 0;
}

/* A shape expectation is honoured both ways: the right one passes, a wrong one is refused. */
static void check_shapes(const uint8_t *data, size_t size, const struct mb_sample_view *v)
{
	struct mb_sample_view again;
	struct mb_diag diag;
	struct mb_shape same = {v->n_features, v->n_targets};
	MB_FUZZ_CHECK(mb_sample_bin_parse(data, size, &same, &again, NULL) == 0);
	MB_FUZZ_CHECK(again.rows == v->rows && again.row_bytes == v->row_bytes &&
		      again.count == v->count && again.n_features == v->n_features &&
		      again.n_targets == v->n_targets && again.elem == v->elem &&
		      again.weighted == v->weighted);

	struct mb_shape wrong[] = {
		{v->n_features + 1, 0},
		{0, v->n_targets + 1},
	};
	for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
		mb_fuzz_diag_clear(&diag);
		mb_fuzz_poison(&again, sizeof again);
		int rc = mb_sample_bin_parse(data, size, &wrong[i], &again, &diag);
		mb_fuzz_check_reject(rc, &diag);
		MB_FUZZ_CHECK(diag.reason == MB_R_DIM_MISMATCH);
		MB_FUZZ_CHECK(mb_fuzz_is_poisoned(&again, sizeof again));
	}
}

/*
 * Encode the decoded rows again. Float32 must give back the very bytes;
 * 16-bit floats and bytes stored without scaling must give back the same
 * values (a negative zero may lose its sign through offset 0); scaled ones
 * may round differently, but must still make a valid message.
 */
static void check_reencode(const uint8_t *data, size_t size, const struct mb_sample_view *v,
			   const struct rows *r)
{
	struct mb_sample_batch b = {
		.count = v->count,
		.n_features = v->n_features,
		.n_targets = v->n_targets,
		.x = r->x,
		.y = r->y,
		.w = v->weighted ? r->w : NULL,
		.elem = v->elem,
		.scale = v->scale,
		.offset = v->offset,
	};
	uint8_t *out = malloc(size);
	MB_FUZZ_CHECK(out != NULL);
	long n = mb_sample_bin_encode(out, size, &b);
	MB_FUZZ_CHECK(n == (long)size);
	MB_FUZZ_CHECK(mb_sample_bin_encode(out, size - 1, &b) == -ENOBUFS);
	n = mb_sample_bin_encode(out, size, &b);
	if (v->elem == MB_ELEM_F32) {
		MB_FUZZ_CHECK(memcmp(out, data, size) == 0);
	} else if (v->scale == 1.0f && v->offset == 0.0f) {
		struct mb_sample_view v2;
		MB_FUZZ_CHECK(mb_sample_bin_parse(out, size, NULL, &v2, NULL) == 0);
		float *x = malloc((size_t)v->n_features * sizeof *x);
		float *y = malloc(((size_t)v->n_targets + 1) * sizeof *y);
		MB_FUZZ_CHECK(x && y);
		for (uint32_t i = 0; i < v->count; i++) {
			float w = 0;
			mb_sample_view_row(&v2, i, x, y, &w);
			for (uint32_t j = 0; j < v->n_features; j++)
				MB_FUZZ_CHECK(x[j] == r->x[(size_t)i * v->n_features + j]);
			for (uint32_t j = 0; j < v->n_targets; j++)
				MB_FUZZ_CHECK(y[j] == r->y[(size_t)i * v->n_targets + j]);
			MB_FUZZ_CHECK(!v->weighted || w == r->w[i]);
		}
		free(y);
		free(x);
	} else {
		/* Rounding may move a value, but what the encoder writes must decode. */
		struct mb_sample_view v2;
		MB_FUZZ_CHECK(mb_sample_bin_parse(out, size, NULL, &v2, NULL) == 0);
	}
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mb_sample_view v;
	struct mb_diag diag;
	mb_fuzz_diag_clear(&diag);
	mb_fuzz_poison(&v, sizeof v);
	int rc = mb_sample_bin_parse(data, size, NULL, &v, &diag);
	if (rc != 0) {
		mb_fuzz_check_reject(rc, &diag);
		MB_FUZZ_CHECK(mb_fuzz_is_poisoned(&v, sizeof v));
		return 0;
	}
	check_view(&v, data, size);
	check_shapes(data, size, &v);
	struct rows r = {0};
	if (convert_rows(&v, &r) == 0)
		check_reencode(data, size, &v, &r);
	free(r.w);
	free(r.y);
	free(r.x);
	return 0;
}
