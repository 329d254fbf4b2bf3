/* SPDX-License-Identifier: MIT */
/*
 * test_blas_core.c - the OpenBLAS kernel set asked for on each kind of CPU.
 *
 * Only a kernel set without AVX is ever replaced, by the best one the CPU
 * runs; a choice with AVX, or a name not known, is OpenBLAS's to keep.
 */
#include <string.h>

#include "blas_core.h"
#include "test.h"

static const unsigned avx = MB_CPU_AVX;
static const unsigned avx2 = MB_CPU_AVX | MB_CPU_AVX2_FMA;
static const unsigned avx512 = MB_CPU_AVX | MB_CPU_AVX2_FMA | MB_CPU_AVX512;

static void check(const char *current, unsigned vec, const char *want)
{
	const char *got = mb_blas_core_pick(current, vec);
	if (!want) {
		CU_ASSERT_PTR_NULL(got);
	} else if (!got) {
		CU_FAIL("no core type picked where one is due");
	} else {
		CU_ASSERT_STRING_EQUAL(got, want);
	}
}

/* Debian 12's OpenBLAS on Sapphire Rapids chooses Prescott: the case this exists for. */
static void pre_avx_choice_replaced(void)
{
	check("Prescott", avx512, "SkylakeX");
	check("prescott", avx512, "SkylakeX");
	check("Prescott", avx2, "Haswell");
	check("Nehalem", avx2, "Haswell");
	check("Core2", avx, "Sandybridge");
	check("Unknown", avx512, "SkylakeX");
	/* AVX-512 without AVX2 is not a CPU that exists; never ask for SkylakeX then. */
	check("Prescott", MB_CPU_AVX | MB_CPU_AVX512, "Sandybridge");
}

static void avx_choice_kept(void)
{
	check("SkylakeX", avx512, NULL);
	check("Cooperlake", avx512, NULL);
	check("Haswell", avx512, NULL); /* perhaps on purpose */
	check("Zen", avx512, NULL);     /* an AMD CPU gets Zen kernels */
	check("Sandybridge", avx2, NULL);
}

static void nothing_better_kept(void)
{
	check("Prescott", 0, NULL);
	check("Nehalem", 0, NULL);
	check("SomeFutureCore", avx512, NULL);
	check(NULL, avx512, NULL);
}

/* The bits found on this machine are a consistent set: each implies the one below. */
static void cpu_bits_consistent(void)
{
	unsigned vec = mb_blas_cpu_vec();
	if (vec & MB_CPU_AVX512)
		CU_ASSERT(vec & MB_CPU_AVX2_FMA);
	if (vec & MB_CPU_AVX2_FMA)
		CU_ASSERT(vec & MB_CPU_AVX);
	CU_ASSERT_EQUAL(mb_blas_cpu_vec(), vec);
}

/* The library reports the OpenBLAS it runs on (the suite links OpenBLAS). */
static void openblas_reported(void)
{
	const char *config = mb_blas_config();
	const char *core = mb_blas_core_current();
	CU_ASSERT_PTR_NOT_NULL_FATAL(config);
	CU_ASSERT_PTR_NOT_NULL_FATAL(core);
	CU_ASSERT(strstr(config, "OpenBLAS") != NULL);
	CU_ASSERT(strstr(config, core) != NULL);
}

int main(void)
{
	MB_SUITE("blas_core", {"pre_avx_choice_replaced", pre_avx_choice_replaced},
		 {"avx_choice_kept", avx_choice_kept}, {"nothing_better_kept", nothing_better_kept},
		 {"cpu_bits_consistent", cpu_bits_consistent}, {"openblas_reported", openblas_reported});
	return mb_test_run();
}
