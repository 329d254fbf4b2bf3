/* SPDX-License-Identifier: MIT */
/*
 * sample.h - sample messages: binary (zero-copy view) and text (CSV, libsvm).
 *
 * Decoders validate everything before handing out a row: the caller then
 * converts one row at a time straight into its own memory (a ring slot, a
 * batch row), which is the only copy a sample makes after it arrives.
 * A row is n_features floats of x, n_targets floats of y and one weight.
 */
#ifndef MB_SAMPLE_H
#define MB_SAMPLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mb_proto.h"
#include "diag.h"

/* The shape a decoder checks against; a 0 field accepts any value. */
struct mb_shape {
	uint32_t n_features; /* features per sample */
	uint32_t n_targets;  /* target values per sample */
};

/* A validated binary message; points into the caller's buffer. */
struct mb_sample_view {
	const uint8_t *rows;   /* first row, inside the decoded buffer */
	size_t row_bytes;      /* bytes from one row to the next */
	uint32_t count;        /* samples */
	uint32_t n_features;   /* features per sample */
	uint32_t n_targets;    /* targets per sample */
	enum mb_elem elem;     /* element type of the features */
	float scale, offset;   /* feature = stored * scale + offset */
	bool weighted;         /* rows carry a weight */
};

/* What to encode: count rows of x (count x n_features) and y (count x n_targets). */
struct mb_sample_batch {
	uint32_t count, n_features, n_targets;
	const float *x;        /* row-major features */
	const float *y;        /* row-major targets, NULL when n_targets is 0 */
	const float *w;        /* per-sample weights, or NULL for none */
	enum mb_elem elem;     /* how to store the features */
	float scale, offset;   /* for F16 and U8: stored = round((x - offset) / scale) */
};

/*
 * Validate a binary sample message of len bytes against expect (may be
 * NULL) and the limits of proto/mb_proto.h; on success fill *ret with a
 * view into buf and return 0. On failure return -errno, fill *diag if not
 * NULL, and leave *ret untouched. Checks magic, version, flags, element
 * type, sizes (with overflow), exact length, and that every value is finite.
 * A message of 0 samples is -ENODATA (MB_R_EMPTY), like a 0-byte one. For
 * U8 and F16 a scale and offset that would turn some stored value into
 * infinity are refused (-EINVAL, MB_R_SCALE), so every row of a valid
 * view converts to finite floats. A negative weight is -EINVAL (MB_R_LABEL).
 */
int mb_sample_bin_parse(const void *buf, size_t len, const struct mb_shape *expect,
			struct mb_sample_view *ret, struct mb_diag *diag);

/*
 * Convert row i of a parsed view into x[n_features], y[n_targets], *w (any
 * may be NULL; *w is 1 for unweighted messages). No checks: the view was
 * validated whole. U8 rows take a vectorised path; F32 on little-endian
 * hosts is a memcpy.
 */
void mb_sample_view_row(const struct mb_sample_view *v, uint32_t i, float *x, float *y, float *w);

/* Bytes an encoded message takes, or 0 if the shape is over a limit. */
size_t mb_sample_bin_size(uint32_t count, uint32_t n_features, uint32_t n_targets,
			  enum mb_elem elem, bool weighted);

/*
 * Encode b into buf; return the bytes written, or -errno: -E2BIG a count
 * over its limit, -ENOBUFS cap too small, -EDOM a NaN or infinite value,
 * -EINVAL a bad element type, count or feature count 0, a negative weight,
 * or an unusable scale. F32 ignores scale and offset (writes 1 and 0); U8
 * stores round((x - offset) / scale) saturated to 0..255, F16 the same
 * quotient saturated to +-65504. buf holds garbage after a failure.
 */
long mb_sample_bin_encode(void *buf, size_t cap, const struct mb_sample_batch *b);

enum mb_text_fmt {
	MB_TEXT_CSV = 1,    /* label(s) first, then features, comma-separated */
	MB_TEXT_LIBSVM = 2, /* label idx:value ..., 1-based ascending indices */
};

/* Walks the lines of a text message; blank lines and '#' lines are skipped. */
struct mb_text_cursor {
	const char *p, *end;   /* unread part of the buffer */
	size_t line;           /* lines consumed so far */
	enum mb_text_fmt fmt;  /* format of every line */
	struct mb_shape shape; /* n_features must be set; n_targets 0 means 1 */
};

/* Guess a text message's format: libsvm if the second token of the first data line has a ':'. */
enum mb_text_fmt mb_text_detect(const void *buf, size_t len);

/*
 * Count the features of the first CSV line (for a model whose input is
 * open): its columns minus n_targets (0 means 1). -ENODATA without a data
 * line, -EINVAL for libsvm or too few columns, -E2BIG over a limit.
 */
int mb_text_probe_features(const void *buf, size_t len, enum mb_text_fmt fmt, uint32_t n_targets,
			   uint32_t *ret);

/* Start a cursor over len bytes of buf (not NUL-terminated; never read past its end). */
void mb_text_cursor_init(struct mb_text_cursor *c, const void *buf, size_t len,
			 enum mb_text_fmt fmt, const struct mb_shape *shape);

/*
 * Decode the next line into x[n_features] and y[n_targets]; libsvm features
 * not named on the line are 0. Return 1 for a row, 0 at the end, -errno for
 * a bad line (with *diag filled, its line number set); the cursor is then
 * past that line, so the caller may go on with the next one. x and y must
 * not be NULL and hold garbage after a bad line. For a bad field diag.offset
 * is its byte offset within the line. Numbers are decimal only (no hex).
 */
int mb_text_next(struct mb_text_cursor *c, float *x, float *y, struct mb_diag *diag);

/*
 * Format one sample as a text line ending in '\n' (values with %.9g, which
 * give the same floats back; libsvm leaves zeros out) and a NUL that is not
 * counted; return its length, or -ENOBUFS when cap is too small, -EDOM for
 * a non-finite value, -EINVAL for libsvm with n_targets other than 1.
 */
long mb_text_encode(char *buf, size_t cap, enum mb_text_fmt fmt, const float *x, uint32_t n_features,
		    const float *y, uint32_t n_targets);

/* IEEE binary16 conversions used by MB_ELEM_F16 (round to nearest even). */
float mb_f16_to_f32(uint16_t h);
uint16_t mb_f32_to_f16(float f);

#endif /* MB_SAMPLE_H */
