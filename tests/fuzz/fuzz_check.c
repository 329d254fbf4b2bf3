/* SPDX-License-Identifier: MIT */
/* fuzz_check.c - invariant checks shared by the fuzz targets. */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "fuzz.h"

/* The errno each reason comes with, as lib/diag.h documents it. */
static const int reason_errno[MB_R_MAX_] = {
	[MB_R_EMPTY] = ENODATA,
	[MB_R_MAGIC] = EBADMSG,
	[MB_R_VERSION] = EPROTONOSUPPORT,
	[MB_R_FLAGS] = EBADMSG,
	[MB_R_ELEM_TYPE] = EBADMSG,
	[MB_R_TRUNCATED] = EBADMSG,
	[MB_R_TRAILING] = EBADMSG,
	[MB_R_TOO_BIG] = E2BIG,
	[MB_R_DIM_MISMATCH] = EINVAL,
	[MB_R_NONFINITE] = EDOM,
	[MB_R_NOT_NUMERIC] = EINVAL,
	[MB_R_COLUMNS] = EINVAL,
	[MB_R_INDEX_RANGE] = ERANGE,
	[MB_R_INDEX_ORDER] = EINVAL,
	[MB_R_LABEL] = EINVAL,
	[MB_R_CRC] = EBADMSG,
	[MB_R_SCALE] = EINVAL,
	[MB_R_COUNT_MISMATCH] = EINVAL,
};

#define POISON 0xa5

void mb_fuzz_check_reject(int rc, const struct mb_diag *diag)
{
	MB_FUZZ_CHECK(rc < 0);
	MB_FUZZ_CHECK(diag->reason > MB_R_OK && diag->reason < MB_R_MAX_);
	if (rc != -reason_errno[diag->reason])
		fprintf(stderr, "reason %s came with errno %d (%s)\n", mb_reason_name(diag->reason), -rc,
			diag->text);
	MB_FUZZ_CHECK(rc == -reason_errno[diag->reason]);
	MB_FUZZ_CHECK(memchr(diag->text, '\0', sizeof diag->text) != NULL);
	MB_FUZZ_CHECK(diag->text[0] != '\0');
}

void mb_fuzz_diag_clear(struct mb_diag *diag)
{
	memset(diag, 0, sizeof *diag);
	diag->reason = MB_R_OK;
}

bool mb_fuzz_all_finite(const float *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isfinite(v[i]))
			return false;
	return true;
}

void mb_fuzz_poison(void *p, size_t n)
{
	memset(p, POISON, n);
}

bool mb_fuzz_is_poisoned(const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i] != POISON)
			return false;
	return true;
}
