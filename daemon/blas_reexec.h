/* SPDX-License-Identifier: MIT */
/*
 * blas_reexec.h - run the daemon on the OpenBLAS kernels its CPU deserves.
 *
 * OpenBLAS picks its kernel set when it is loaded, and on a CPU it does not
 * recognise it picks SSE3 kernels four to five times slower than the AVX-512
 * ones it carries (lib/blas_core.h). It reads OPENBLAS_CORETYPE only at load,
 * so the daemon, finding such a choice, sets the variable and executes
 * itself again: same process, same arguments, once. A user's own
 * OPENBLAS_CORETYPE is always kept.
 */
#ifndef MB_BLAS_REEXEC_H
#define MB_BLAS_REEXEC_H

#include <stddef.h>

/*
 * Call first in main(), before any thread, descriptor or output exists.
 * Does not return when it executes the program again. Returns 0 when there
 * is nothing to do (OPENBLAS_CORETYPE already set, OpenBLAS's own choice
 * uses AVX, the CPU has nothing better, or the BLAS cannot be told), and
 * -errno when setenv(3) or execv(2) failed: the daemon then carries on
 * with OpenBLAS's choice, which mb_blas_describe() reports.
 */
int mb_blas_reexec(char *const argv[]);

/*
 * The BLAS and its kernel set for the log and --version, e.g. "OpenBLAS
 * 0.3.21 ... SkylakeX MAX_THREADS=64; kernels SkylakeX, chosen for this CPU
 * over OpenBLAS's Prescott". Always NUL-terminated.
 */
void mb_blas_describe(char *buf, size_t cap);

#endif /* MB_BLAS_REEXEC_H */
