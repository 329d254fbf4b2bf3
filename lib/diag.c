/* SPDX-License-Identifier: MIT */
/* diag.c - reasons for rejected input, and their names. */
#include <stdarg.h>
#include <stdio.h>

#include "diag.h"

int mb_diag_set(struct mb_diag *d, int err, enum mb_reason r, size_t line, size_t offset,
		const char *fmt, ...)
{
	if (!d)
		return err;
	d->reason = r;
	d->line = line;
	d->offset = offset;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->text, sizeof d->text, fmt, ap);
	va_end(ap);
	return err;
}

static const char *const reason_names[MB_R_MAX_] = {
	[MB_R_OK] = "ok",
	[MB_R_EMPTY] = "empty",
	[MB_R_MAGIC] = "magic",
	[MB_R_VERSION] = "version",
	[MB_R_FLAGS] = "flags",
	[MB_R_ELEM_TYPE] = "elem_type",
	[MB_R_TRUNCATED] = "truncated",
	[MB_R_TRAILING] = "trailing",
	[MB_R_TOO_BIG] = "too_big",
	[MB_R_DIM_MISMATCH] = "dim_mismatch",
	[MB_R_NONFINITE] = "nonfinite",
	[MB_R_NOT_NUMERIC] = "not_numeric",
	[MB_R_COLUMNS] = "columns",
	[MB_R_INDEX_RANGE] = "index_range",
	[MB_R_INDEX_ORDER] = "index_order",
	[MB_R_LABEL] = "label",
	[MB_R_CRC] = "crc",
	[MB_R_SCALE] = "scale",
	[MB_R_COUNT_MISMATCH] = "count_mismatch",
};

const char *mb_reason_name(enum mb_reason r)
{
	if ((unsigned)r >= MB_R_MAX_ || !reason_names[r])
		return "unknown";
	return reason_names[r];
}
