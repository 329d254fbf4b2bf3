/* SPDX-License-Identifier: MIT */
/*
 * idx.h - IDX files (MNIST, Fashion-MNIST): header, records, labels.
 *
 * The header parser needs only a prefix of the file, so a reader that
 * streams the file in chunks can parse the header from its first chunk
 * and convert records as they arrive; mb_idx_check_size() then checks the
 * whole length once it is known.
 */
#ifndef MB_IDX_H
#define MB_IDX_H

#include <stddef.h>
#include <stdint.h>

#include "../proto/mb_proto.h"
#include "diag.h"

/* A parsed IDX header: where the records are and how large each one is. */
struct mb_idx_header {
	uint8_t type;                    /* MB_IDX_TYPE_U8 or MB_IDX_TYPE_F32 */
	uint8_t n_dims;                  /* 1..MB_IDX_MAX_DIMS */
	uint32_t dims[MB_IDX_MAX_DIMS];  /* sizes; dims[0] counts the records */
	size_t header_bytes;             /* 4 + 4 * n_dims: the first record's offset */
	size_t record_elems;             /* values per record: product of dims[1..] */
	size_t record_bytes;             /* bytes per record */
	size_t file_bytes;               /* header_bytes + dims[0] * record_bytes */
};

/*
 * Parse the header at the start of an IDX file; buf may hold just a prefix
 * of it. Returns 0 and fills *ret, or -errno with *diag: -ENODATA for no
 * bytes, -EBADMSG for a short header (MB_R_TRUNCATED), non-zero leading
 * bytes (MB_R_MAGIC) or a type other than u8 and f32 (MB_R_ELEM_TYPE),
 * -E2BIG for 0 or too many dimensions, a zero size, or sizes whose product
 * overflows (MB_R_TOO_BIG).
 */
int mb_idx_parse_header(const void *buf, size_t len, struct mb_idx_header *ret, struct mb_diag *diag);

/* Check a whole file's length against its header: -EBADMSG truncated or trailing. */
int mb_idx_check_size(const struct mb_idx_header *h, size_t file_len, struct mb_diag *diag);

/*
 * Check that an images file and a labels file form one source: labels are
 * one-dimensional u8 (-EINVAL MB_R_DIM_MISMATCH, -EBADMSG MB_R_ELEM_TYPE)
 * and both hold as many records (-EINVAL MB_R_COUNT_MISMATCH).
 */
int mb_idx_check_pair(const struct mb_idx_header *images, const struct mb_idx_header *labels,
		      struct mb_diag *diag);

/*
 * Convert one record (h->record_bytes at rec) to h->record_elems floats:
 * bytes scaled by 1/255, big-endian float32 as they are. Returns 0, or
 * -EDOM when a float32 value is NaN or infinite.
 */
int mb_idx_record_floats(const struct mb_idx_header *h, const uint8_t *rec, float *x);

/* Offset of record i in the file. */
size_t mb_idx_record_offset(const struct mb_idx_header *h, uint32_t i);

/* Label i of a whole labels file in memory (checked with mb_idx_check_size). */
static inline uint8_t mb_idx_label(const struct mb_idx_header *labels, const uint8_t *file, uint32_t i)
{
	return file[labels->header_bytes + i];
}

#endif /* MB_IDX_H */
