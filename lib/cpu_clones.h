/* SPDX-License-Identifier: MIT */
/*
 * cpu_clones.h - hot loops built once per x86-64 level, picked at load.
 *
 * A function marked MB_CPU_CLONES is built for AVX-512 (x86-64-v4), for
 * AVX2 with FMA (x86-64-v3) and for plain x86-64, and the loader picks the
 * best the CPU has (GCC's target_clones, an ifunc); MB_CPU_DISPATCH is
 * defined where that happens. Elsewhere (another compiler or target) it is
 * built once. Sanitizer builds take the single build too: the loader runs
 * the CPU choice before a sanitizer's runtime is set up, ThreadSanitizer's
 * instrumentation of it crashes, and three copies gain them nothing.
 * Callers keep every clone computing the same values.
 */
#ifndef MB_CPU_CLONES_H
#define MB_CPU_CLONES_H

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__ELF__) && \
	!defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#define MB_CPU_DISPATCH 1
#define MB_CPU_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MB_CPU_CLONES
#endif

#endif /* MB_CPU_CLONES_H */
