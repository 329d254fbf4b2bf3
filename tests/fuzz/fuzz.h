/* SPDX-License-Identifier: MIT */
/*
 * fuzz.h - what every libFuzzer target in tests/fuzz shares.
 *
 * A target does more than call a decoder: it checks what a caller relies
 * on (a refusal says why and returns -errno, an accepted input converts to
 * finite values and encodes back to itself). A broken promise aborts, and
 * libFuzzer keeps the input that did it as a crash reproducer.
 */
#ifndef MB_FUZZ_H
#define MB_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "diag.h"

/* libFuzzer calls this once per input; it returns 0 (inputs are never rejected). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort with the broken promise when cond is false (even under NDEBUG). */
#define MB_FUZZ_CHECK(cond)                                                                  \
	do {                                                                                 \
		if (!(cond)) {                                                               \
			fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, \
				#cond);                                                      \
			abort();                                                             \
		}                                                                            \
	} while (0)

/*
 * Check a decoder's refusal: rc is a negative errno, diag names a reason
 * other than MB_R_OK whose errno is the one lib/diag.h documents for it,
 * and the sentence is a non-empty NUL-terminated string.
 */
void mb_fuzz_check_reject(int rc, const struct mb_diag *diag);

/* Reset a diag to "nothing failed", so a refusal must overwrite it. */
void mb_fuzz_diag_clear(struct mb_diag *diag);

/* True when all n values are finite numbers. */
bool mb_fuzz_all_finite(const float *v, size_t n);

/* Fill n bytes with a pattern a decoder would never write, to see it untouched. */
void mb_fuzz_poison(void *p, size_t n);

/* True when n bytes still hold the pattern of mb_fuzz_poison. */
bool mb_fuzz_is_poisoned(const void *p, size_t n);

#endif /* MB_FUZZ_H */
