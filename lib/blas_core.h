/* SPDX-License-Identifier: MIT */
/*
 * blas_core.h - which OpenBLAS kernel set this CPU deserves.
 *
 * OpenBLAS built with DYNAMIC_ARCH (Debian's) chooses its kernels, its
 * "core type", once, when it is loaded, from the CPU model numbers it knows.
 * A CPU newer than the library (OpenBLAS 0.3.21 in Debian 12 on Sapphire
 * Rapids, for one) falls back to the SSE3 kernels of a 2004 Pentium 4
 * ("Prescott"): sgemm then runs four to five times slower than the AVX-512
 * kernels the same library carries. OpenBLAS takes the environment variable
 * OPENBLAS_CORETYPE instead of its own guess, but reads it only at load.
 *
 * This module says which core type to ask for: none when OpenBLAS's own
 * choice already uses AVX, else the best kernel set the CPU and the
 * operating system can run. Putting it in force (setting the variable
 * before OpenBLAS loads) is up to the program: the daemon executes itself
 * again once (daemon/blas_reexec.c); bench/run exports it for every program
 * it compares. Nothing here logs or changes the process.
 */
#ifndef MB_BLAS_CORE_H
#define MB_BLAS_CORE_H

/* Vector extensions of the CPU that select an OpenBLAS kernel set. */
enum mb_cpu_vec {
	MB_CPU_AVX = 1u << 0,     /* AVX, with the OS saving its registers */
	MB_CPU_AVX2_FMA = 1u << 1, /* AVX2 and FMA3 */
	MB_CPU_AVX512 = 1u << 2,  /* AVX-512 F, CD, BW, DQ and VL (Skylake-SP and later) */
};

/* The MB_CPU_* bits this CPU has and the operating system enables. */
unsigned mb_blas_cpu_vec(void);

/*
 * The OpenBLAS core type to request on a CPU with the vector extensions
 * vec when OpenBLAS chose the core type named current (its
 * openblas_get_corename(), compared without regard to case): "SkylakeX",
 * "Haswell" or "Sandybridge" if current is a kernel set without AVX and the
 * CPU has better, NULL to keep OpenBLAS's choice (an AVX kernel set already,
 * a name not known here, or a CPU without AVX). A choice with AVX is never
 * overridden: OpenBLAS may have picked it on purpose (an AMD CPU gets Zen
 * kernels, not SkylakeX).
 */
const char *mb_blas_core_pick(const char *current, unsigned vec);

/*
 * The core type OpenBLAS runs with in this process, NULL when the BLAS is
 * not OpenBLAS (openblas_get_corename() is looked up weakly).
 */
const char *mb_blas_core_current(void);

/*
 * The build description of OpenBLAS in this process (openblas_get_config(),
 * e.g. "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ..."), NULL when the BLAS is
 * not OpenBLAS.
 */
const char *mb_blas_config(void);

#endif /* MB_BLAS_CORE_H */
