/* SPDX-License-Identifier: MIT */
/*
 * diag.h - why a decoder refused its input.
 *
 * Decoders return -errno; the errno is coarse (-EBADMSG covers several
 * structural faults), so they also fill an optional struct mb_diag with a
 * precise reason the daemon can count by and a sentence a person can read.
 */
#ifndef MB_DIAG_H
#define MB_DIAG_H

#include <stddef.h>

/* Reasons an input is rejected; stable numbers, used as metric labels. */
enum mb_reason {
	MB_R_OK = 0,
	MB_R_EMPTY,          /* -ENODATA: zero bytes, or no sample in a text message */
	MB_R_MAGIC,          /* -EBADMSG: wrong magic */
	MB_R_VERSION,        /* -EPROTONOSUPPORT: version this build does not know */
	MB_R_FLAGS,          /* -EBADMSG: unknown or reserved flag bits, non-zero reserved field */
	MB_R_ELEM_TYPE,      /* -EBADMSG: unknown element or data type */
	MB_R_TRUNCATED,      /* -EBADMSG: fewer bytes than the header announces */
	MB_R_TRAILING,       /* -EBADMSG: more bytes than the header announces */
	MB_R_TOO_BIG,        /* -E2BIG: a count or size over its named limit, or overflowing */
	MB_R_DIM_MISMATCH,   /* -EINVAL: shape differs from the running model's */
	MB_R_NONFINITE,      /* -EDOM: NaN or infinity in a value */
	MB_R_NOT_NUMERIC,    /* -EINVAL: text that is not a number */
	MB_R_COLUMNS,        /* -EINVAL: wrong number of CSV columns */
	MB_R_INDEX_RANGE,    /* -ERANGE: libsvm index 0 or over the feature count */
	MB_R_INDEX_ORDER,    /* -EINVAL: libsvm indices not strictly ascending */
	MB_R_LABEL,          /* -EINVAL: label not valid for the model (class out of range) */
	MB_R_CRC,            /* -EBADMSG: checksum mismatch */
	MB_R_SCALE,          /* -EINVAL: scale/offset invalid for the element type */
	MB_R_COUNT_MISMATCH, /* -EINVAL: two parts disagree (IDX images vs labels, params vs shapes) */
	MB_R_MAX_
};

struct mb_diag {
	enum mb_reason reason; /* why, MB_R_OK when nothing failed */
	size_t line;           /* 1-based text line, 0 when not text */
	size_t offset;         /* byte offset of the fault in the input */
	char text[160];        /* one sentence for a log line or an error reply */
};

/* Fill *d (if not NULL) and return err, for `return mb_diag_set(...)`. */
int mb_diag_set(struct mb_diag *d, int err, enum mb_reason r, size_t line, size_t offset,
		const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* A short stable name for a reason ("truncated", "nonfinite", ...). */
const char *mb_reason_name(enum mb_reason r);

#endif /* MB_DIAG_H */
