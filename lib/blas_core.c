/* SPDX-License-Identifier: MIT */
/*
 * blas_core.c - which OpenBLAS kernel set this CPU deserves (see blas_core.h).
 */
#include <stddef.h>
#include <strings.h>

#include "blas_core.h"

/* Present when the BLAS is OpenBLAS; weak so another cblas still links. */
extern char *openblas_get_corename(void) __attribute__((weak));
extern char *openblas_get_config(void) __attribute__((weak));

/*
 * The core types of OpenBLAS 0.3.21's DYNAMIC_ARCH list whose kernels use
 * no AVX: the fallbacks it lands on for a CPU it does not recognise, and
 * the CPUs that really have nothing better (where mb_blas_cpu_vec() finds
 * no AVX either, so nothing changes).
 */
static const char *const pre_avx_cores[] = {
	"Unknown", "Katmai", "Coppermine", "Northwood", "Prescott", "Banias",
	"Atom", "Core2", "Penryn", "Dunnington", "Nehalem", "Athlon",
	"Opteron", "Opteron_SSE3", "Barcelona", "Nano", "Bobcat",
};

unsigned mb_blas_cpu_vec(void)
{
	unsigned vec = 0;
#if defined(__x86_64__) || defined(__i386__)
	/*
	 * GCC's and Clang's CPU model checks also ask XGETBV whether the
	 * kernel saves the AVX and AVX-512 registers: a CPU flag alone is not
	 * enough to run those kernels.
	 */
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx"))
		vec |= MB_CPU_AVX;
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		vec |= MB_CPU_AVX2_FMA;
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
	    __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
	    __builtin_cpu_supports("avx512vl"))
		vec |= MB_CPU_AVX512;
#endif
	return vec;
}

static int is_pre_avx(const char *core)
{
	for (size_t i = 0; i < sizeof pre_avx_cores / sizeof *pre_avx_cores; i++)
		if (strcasecmp(core, pre_avx_cores[i]) == 0)
			return 1;
	return 0;
}

const char *mb_blas_core_pick(const char *current, unsigned vec)
{
	if (!current || !is_pre_avx(current))
		return NULL;
	/* Each kernel set needs everything the one below it needs. */
	if ((vec & MB_CPU_AVX512) && (vec & MB_CPU_AVX2_FMA))
		return "SkylakeX";
	if (vec & MB_CPU_AVX2_FMA)
		return "Haswell";
	if (vec & MB_CPU_AVX)
		return "Sandybridge";
	return NULL;
}

const char *mb_blas_core_current(void)
{
	return openblas_get_corename ? openblas_get_corename() : NULL;
}

const char *mb_blas_config(void)
{
	return openblas_get_config ? openblas_get_config() : NULL;
}
