/* SPDX-License-Identifier: MIT */
/*
 * idx.c - IDX headers and records (big-endian by the format's definition).
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "idx.h"
#include "wire.h"

static size_t type_bytes(uint8_t type)
{
	return type == MB_IDX_TYPE_U8 ? 1 : type == MB_IDX_TYPE_F32 ? 4 : 0;
}

/* Needs only the first 4 + 4 * dims bytes, for readers that stream. */
int mb_idx_parse_header(const void *buf, size_t len, struct mb_idx_header *ret, struct mb_diag *diag)
{
	struct mb_wire w;
	struct mb_idx_header h = {0};

	if (len == 0)
		return mb_diag_set(diag, -ENODATA, MB_R_EMPTY, 0, 0, "IDX file is empty");
	if (len < 4)
		return mb_diag_set(diag, -EBADMSG, MB_R_TRUNCATED, 0, len,
				   "IDX file has %zu bytes, shorter than its 4-byte magic", len);
	mb_wire_init(&w, buf, len);
	const uint8_t *m = mb_wire_take(&w, 4);
	if (m[0] || m[1])
		return mb_diag_set(diag, -EBADMSG, MB_R_MAGIC, 0, 0,
				   "IDX file starts with %02x %02x, expected 00 00", m[0], m[1]);
	h.type = m[2];
	h.n_dims = m[3];
	size_t esz = type_bytes(h.type);
	if (!esz)
		return mb_diag_set(diag, -EBADMSG, MB_R_ELEM_TYPE, 0, 2,
				   "IDX file has data type 0x%02x, expected 0x08 (u8) or 0x0d (f32)",
				   h.type);
	if (h.n_dims == 0 || h.n_dims > MB_IDX_MAX_DIMS)
		return mb_diag_set(diag, -E2BIG, MB_R_TOO_BIG, 0, 3,
				   "IDX file has %u dimensions, expected 1 to %u", h.n_dims,
				   MB_IDX_MAX_DIMS);
	h.header_bytes = 4 + 4 * (size_t)h.n_dims;
	if (len < h.header_bytes)
		return mb_diag_set(diag, -EBADMSG, MB_R_TRUNCATED, 0, len,
				   "IDX file has %zu bytes, its header announces %zu", len,
				   h.header_bytes);

	size_t elems = 1;
	for (unsigned d = 0; d < h.n_dims; d++) {
		const uint8_t *q = mb_wire_take(&w, 4);
		h.dims[d] = mb_be32(q);
		if (h.dims[d] == 0)
			return mb_diag_set(diag, -E2BIG, MB_R_TOO_BIG, 0, 4 + 4 * (size_t)d,
					   "IDX dimension %u has size 0", d);
		if (d > 0 && !mb_size_muladd(elems, h.dims[d], 0, &elems))
			return mb_diag_set(diag, -E2BIG, MB_R_TOO_BIG, 0, 4 + 4 * (size_t)d,
					   "IDX record size overflows at dimension %u", d);
	}
	h.record_elems = elems;
	if (!mb_size_muladd(elems, esz, 0, &h.record_bytes) ||
	    !mb_size_muladd(h.dims[0], h.record_bytes, h.header_bytes, &h.file_bytes))
		return mb_diag_set(diag, -E2BIG, MB_R_TOO_BIG, 0, 4,
				   "IDX file size overflows: %u records of %zu values", h.dims[0], elems);
	*ret = h;
	return 0;
}

/* Once the whole length is known: exactly what the header announces. */
int mb_idx_check_size(const struct mb_idx_header *h, size_t file_len, struct mb_diag *diag)
{
	if (file_len < h->file_bytes)
		return mb_diag_set(diag, -EBADMSG, MB_R_TRUNCATED, 0, file_len,
				   "IDX file has %zu bytes, its header announces %zu", file_len,
				   h->file_bytes);
	if (file_len > h->file_bytes)
		return mb_diag_set(diag, -EBADMSG, MB_R_TRAILING, 0, h->file_bytes,
				   "IDX file has %zu bytes, its header announces %zu", file_len,
				   h->file_bytes);
	return 0;
}

/* Images and labels are read side by side, so they must match one to one. */
int mb_idx_check_pair(const struct mb_idx_header *images, const struct mb_idx_header *labels,
		      struct mb_diag *diag)
{
	if (labels->n_dims != 1)
		return mb_diag_set(diag, -EINVAL, MB_R_DIM_MISMATCH, 0, 3,
				   "IDX labels file has %u dimensions, expected 1", labels->n_dims);
	if (labels->type != MB_IDX_TYPE_U8)
		return mb_diag_set(diag, -EBADMSG, MB_R_ELEM_TYPE, 0, 2,
				   "IDX labels file has data type 0x%02x, expected 0x08 (u8)",
				   labels->type);
	if (images->dims[0] != labels->dims[0])
		return mb_diag_set(diag, -EINVAL, MB_R_COUNT_MISMATCH, 0, 4,
				   "IDX images file has %u records, its labels file %u",
				   images->dims[0], labels->dims[0]);
	return 0;
}

/* One record to floats; multiplying by 1/255 matches U8 messages of that scale. */
int mb_idx_record_floats(const struct mb_idx_header *h, const uint8_t *restrict rec, float *restrict x)
{
	size_t n = h->record_elems;

	if (h->type == MB_IDX_TYPE_U8) {
		/* Same product as a U8 sample message with scale 1/255, so both paths agree. */
		const float scale = 1.0f / 255.0f;
		for (size_t k = 0; k < n; k++)
			x[k] = (float)rec[k] * scale;
		return 0;
	}
	for (size_t k = 0; k < n; k++) {
		uint32_t u = mb_be32(rec + 4 * k);
		float f;
		memcpy(&f, &u, sizeof f);
		if (!isfinite(f))
			return -EDOM;
		x[k] = f;
	}
	return 0;
}

/* Cannot overflow: mb_idx_parse_header checked the whole file size. */
size_t mb_idx_record_offset(const struct mb_idx_header *h, uint32_t i)
{
	return h->header_bytes + (size_t)i * h->record_bytes;
}
