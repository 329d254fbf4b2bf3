/* SPDX-License-Identifier: MIT */
/*
 * fuzz_idx.c - the IDX header parser and the images/labels pairing.
 *
 * The first byte says how many of the following bytes are the labels
 * file; the rest is the images file. Each header must either be refused
 * with a reason or describe sizes that add up; the pair is accepted
 * exactly when the labels are one-dimensional bytes, as many as the
 * images; and the records that fit in the input convert to the values
 * the format defines (bytes / 255, big-endian finite float32).
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "fuzz.h"
#include "idx.h"
#include "wire.h"

/* Records converted from the start of each file, besides the last one. */
#define FIRST_RECORDS 3u

/* Check what a header says against its own numbers; false when it was refused. */
static bool parse(const uint8_t *buf, size_t len, struct mb_idx_header *h)
{
	struct mb_diag diag;
	mb_fuzz_diag_clear(&diag);
	mb_fuzz_poison(h, sizeof *h);
	int rc = mb_idx_parse_header(buf, len, h, &diag);
	if (rc != 0) {
		mb_fuzz_check_reject(rc, &diag);
		MB_FUZZ_CHECK(mb_fuzz_is_poisoned(h, sizeof *h));
		return false;
	}
	size_t esz = h->type == MB_IDX_TYPE_U8 ? 1 : 4;
	MB_FUZZ_CHECK(h->type == MB_IDX_TYPE_U8 || h->type == MB_IDX_TYPE_F32);
	MB_FUZZ_CHECK(h->n_dims >= 1 && h->n_dims <= MB_IDX_MAX_DIMS);
	MB_FUZZ_CHECK(buf[0] == 0 && buf[1] == 0 && buf[2] == h->type && buf[3] == h->n_dims);
	MB_FUZZ_CHECK(h->header_bytes == 4 + 4 * (size_t)h->n_dims && h->header_bytes <= len);
	size_t elems = 1;
	for (unsigned d = 0; d < h->n_dims; d++) {
		MB_FUZZ_CHECK(h->dims[d] == mb_be32(buf + 4 + 4 * d) && h->dims[d] != 0);
		if (d > 0)
			MB_FUZZ_CHECK(mb_size_muladd(elems, h->dims[d], 0, &elems));
	}
	size_t record_bytes, file_bytes;
	MB_FUZZ_CHECK(mb_size_muladd(elems, esz, 0, &record_bytes));
	MB_FUZZ_CHECK(mb_size_muladd(h->dims[0], record_bytes, h->header_bytes, &file_bytes));
	MB_FUZZ_CHECK(h->record_elems == elems);
	MB_FUZZ_CHECK(h->record_bytes == record_bytes);
	MB_FUZZ_CHECK(h->file_bytes == file_bytes);

	/* The header alone parses the same; one byte less is a short header. */
	struct mb_idx_header prefix;
	MB_FUZZ_CHECK(mb_idx_parse_header(buf, h->header_bytes, &prefix, NULL) == 0);
	MB_FUZZ_CHECK(prefix.file_bytes == h->file_bytes && prefix.record_bytes == h->record_bytes);
	mb_fuzz_diag_clear(&diag);
	rc = mb_idx_parse_header(buf, h->header_bytes - 1, &prefix, &diag);
	mb_fuzz_check_reject(rc, &diag);
	MB_FUZZ_CHECK(diag.reason == MB_R_TRUNCATED);
	return true;
}

/* The size check accepts exactly file_bytes, calling anything else truncated or trailing. */
static bool check_size(const struct mb_idx_header *h, size_t len)
{
	struct mb_diag diag;
	mb_fuzz_diag_clear(&diag);
	int rc = mb_idx_check_size(h, len, &diag);
	if (len == h->file_bytes) {
		MB_FUZZ_CHECK(rc == 0);
		return true;
	}
	mb_fuzz_check_reject(rc, &diag);
	MB_FUZZ_CHECK(diag.reason == (len < h->file_bytes ? MB_R_TRUNCATED : MB_R_TRAILING));
	return false;
}

/* Convert record i if the input holds it, and check every value. */
static void convert(const struct mb_idx_header *h, const uint8_t *buf, size_t len, uint32_t i)
{
	size_t off = mb_idx_record_offset(h, i);
	MB_FUZZ_CHECK(off == h->header_bytes + (size_t)i * h->record_bytes);
	if (off > len || h->record_bytes > len - off)
		return;
	const uint8_t *rec = buf + off;
	float *x = malloc(h->record_elems * sizeof *x + 1);
	MB_FUZZ_CHECK(x != NULL);
	int rc = mb_idx_record_floats(h, rec, x);
	if (h->type == MB_IDX_TYPE_U8) {
		MB_FUZZ_CHECK(rc == 0);
		for (size_t k = 0; k < h->record_elems; k++)
			MB_FUZZ_CHECK(x[k] == (float)rec[k] * (1.0f / 255.0f) && x[k] >= 0.0f &&
				      x[k] <= 1.0f);
	} else {
		bool finite = true;
		for (size_t k = 0; k < h->record_elems; k++) {
			uint32_t u = mb_be32(rec + 4 * k);
			float f;
			memcpy(&f, &u, sizeof f);
			finite = finite && isfinite(f);
			if (rc == 0)
				MB_FUZZ_CHECK(memcmp(&x[k], &f, sizeof f) == 0);
		}
		MB_FUZZ_CHECK(finite ? rc == 0 : rc == -EDOM);
	}
	free(x);
}

static void convert_some(const struct mb_idx_header *h, const uint8_t *buf, size_t len)
{
	for (uint32_t i = 0; i < FIRST_RECORDS && i < h->dims[0]; i++)
		convert(h, buf, len, i);
	convert(h, buf, len, h->dims[0] - 1);
}

/* The pair check's verdict follows from the two headers alone. */
static void check_pair(const struct mb_idx_header *images, const struct mb_idx_header *labels)
{
	struct mb_diag diag;
	mb_fuzz_diag_clear(&diag);
	int rc = mb_idx_check_pair(images, labels, &diag);
	bool fits = labels->n_dims == 1 && labels->type == MB_IDX_TYPE_U8 &&
		    labels->dims[0] == images->dims[0];
	if (fits) {
		MB_FUZZ_CHECK(rc == 0);
		return;
	}
	mb_fuzz_check_reject(rc, &diag);
	MB_FUZZ_CHECK(diag.reason == MB_R_DIM_MISMATCH || diag.reason == MB_R_ELEM_TYPE ||
		      diag.reason == MB_R_COUNT_MISMATCH);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t labels_len = data[0] < size - 1 ? data[0] : size - 1;
	const uint8_t *labels = data + 1, *images = labels + labels_len;
	size_t images_len = size - 1 - labels_len;

	struct mb_idx_header hi, hl;
	bool have_images = parse(images, images_len, &hi);
	bool have_labels = parse(labels, labels_len, &hl);
	if (have_images) {
		check_size(&hi, images_len);
		convert_some(&hi, images, images_len);
	}
	if (have_labels) {
		check_size(&hl, labels_len);
		convert_some(&hl, labels, labels_len);
	}
	if (have_images && have_labels)
		check_pair(&hi, &hl);
	return 0;
}
