/* SPDX-License-Identifier: MIT */
/*
 * kernels.c - the narrow batch kernels, the single-row kernels and the
 * softmax head's exponentials of kernels.h, in GCC's vector extension.
 *
 * Each kernel is built per x86-64 level and picked at load
 * (cpu_clones.h). They read their inputs where they lie and fetch the
 * rows that follow a batch while they work on it: a stream of samples
 * usually sits in memory in the order it is trained (a data set, a batch
 * buffer), and a row read cold from memory otherwise stalls the first
 * pass over it (softmax 784-10 at batch 1 spent half its forward pass
 * waiting for the row).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cpu_clones.h"
#include "kernels.h"

/*
 * Sixteen floats, any alignment. The kernels work in this width whatever
 * the CPU: the compiler splits it into what the vector unit holds, so
 * the order of every sum is the same on any x86-64, and so is every
 * result between CPUs alike in having a fused multiply-add or not (with
 * one, a product and its sum round once instead of twice). One machine
 * always runs the same code: same input, same parameters, bit for bit.
 * NARROW_LANES is that width.
 */
typedef float v16f __attribute__((vector_size(64), aligned(4), may_alias));
typedef int32_t v16i __attribute__((vector_size(64), aligned(4), may_alias));
#define NARROW_LANES 16u

/*
 * A kernel: one build per x86-64 level, starting on a 64-byte boundary,
 * so that its loops sit the same way in the cache lines and the decoded-
 * instruction cache whatever code the library places before it (a shift
 * of 16 or 32 bytes from an unrelated change moved softmax at batch 1 by
 * up to 8%).
 */
#define KERNEL MB_CPU_CLONES __attribute__((aligned(64)))

/*
 * Fetch the cache line holding base[off] into cache. The address is made
 * as an integer: past the end of a batch it names whatever follows the
 * batch (in a stream, the next rows), which a prefetch may touch, never
 * faulting, and C pointer arithmetic may not.
 */
static inline __attribute__((always_inline)) void prefetch_line(const float *base, size_t off)
{
	__builtin_prefetch((const void *)((uintptr_t)base + off * sizeof(float)), 0, 2);
}

/*
 * The sum of the lanes of *p, halving: lane l takes lane l + 8, then
 * l + 4, l + 2, l + 1; the same order on every CPU. By pointer, so that
 * no vector wider than the baseline ABI's is ever passed by value.
 */
static inline __attribute__((always_inline)) float lanes_sum(const v16f *p)
{
	v16f v = *p;

	v += __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15);
	v += __builtin_shufflevector(v, v, 4, 5, 6, 7, 4, 5, 6, 7, 4, 5, 6, 7, 4, 5, 6, 7);
	v += __builtin_shufflevector(v, v, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3);
	v += __builtin_shufflevector(v, v, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1);
	return v[0];
}

/*
 * Outputs per pass of the batch kernels: six accumulators per row of a
 * block of four, 24 of AVX-512's 32 registers, so that ten outputs take
 * two passes over the rows (five and five) instead of three.
 */
#define BLOCK_OUTPUTS 6u

/*
 * The size of the next of the passes that cover left outputs, at most
 * max each, the passes as even as they go (ten by six: five and five).
 */
static inline unsigned next_group(uint32_t left, unsigned max)
{
	uint32_t passes = (left + max - 1) / max;
	return (unsigned)((left + passes - 1) / passes);
}

/*
 * Z[i][j] += X[i] . W[j] for ri <= 4 rows of X and rj <= BLOCK_OUTPUTS
 * rows of W, n floats each, rows ldx and ldz apart; with next, the same
 * columns of the ri rows from next (also ldx apart) are fetched into
 * cache along the way. Inlined with constant ri and rj so that the
 * accumulators stay in registers.
 */
static inline __attribute__((always_inline)) void dot_block(const float *X, size_t ldx, const float *W, size_t n,
							     unsigned ri, unsigned rj, float *Z, size_t ldz,
							     const float *next)
{
	v16f acc[4][BLOCK_OUTPUTS] = {{{0}}};
	size_t bulk16 = n & ~(size_t)(NARROW_LANES - 1), k;

	for (k = 0; k < bulk16; k += NARROW_LANES) {
		v16f x[4];
#pragma GCC unroll 4
		for (unsigned a = 0; a < ri; a++) {
			x[a] = *(const v16f *)(X + a * ldx + k);
			if (next)
				prefetch_line(next, a * ldx + k);
		}
#pragma GCC unroll 6
		for (unsigned c = 0; c < rj; c++) {
			v16f w = *(const v16f *)(W + c * n + k);
#pragma GCC unroll 4
			for (unsigned a = 0; a < ri; a++)
				acc[a][c] += x[a] * w;
		}
	}
#pragma GCC unroll 4
	for (unsigned a = 0; a < ri; a++)
#pragma GCC unroll 6
		for (unsigned c = 0; c < rj; c++) {
			float s = lanes_sum(&acc[a][c]);
			for (k = bulk16; k < n; k++)
				s += X[a * ldx + k] * W[c * n + k];
			Z[a * ldz + c] += s;
		}
}

/* dot_block for ri of 4 or 1 and rj of 1..BLOCK_OUTPUTS, with constants the compiler can unroll by. */
static inline __attribute__((always_inline)) void dot_block_any(const float *X, size_t ldx, const float *W,
								 size_t n, unsigned ri, unsigned rj, float *Z,
								 size_t ldz, const float *next)
{
#define DOT_CASE(R, C) \
	case (R) * 8 + (C): dot_block(X, ldx, W, n, R, C, Z, ldz, next); break
	switch (ri * 8 + rj) {
	DOT_CASE(4, 6); DOT_CASE(4, 5); DOT_CASE(4, 4); DOT_CASE(4, 3); DOT_CASE(4, 2); DOT_CASE(4, 1);
	DOT_CASE(1, 6); DOT_CASE(1, 5); DOT_CASE(1, 4); DOT_CASE(1, 3); DOT_CASE(1, 2); DOT_CASE(1, 1);
	}
#undef DOT_CASE
}

/*
 * Z += A W^T for rows of A (rows x n_in) and W (n_out x n_in), n_out at
 * most MB_KERN_NARROW_MAX: blocks of four rows by up to BLOCK_OUTPUTS
 * outputs, the last few rows one at a time. The first pass over a block
 * of rows fetches the next block (past the last, the rows that follow the
 * batch in memory) a cache line at a time; see prefetch_line.
 */
KERNEL
void mb_kern_narrow_forward(const float *A, uint32_t rows, const float *W, uint32_t n_in, uint32_t n_out,
			    float *Z)
{
	for (uint32_t i = 0; i < rows;) {
		unsigned ri = rows - i < 4 ? 1 : 4;
		const float *Ai = A + (size_t)i * n_in;
		for (uint32_t j = 0; j < n_out;) {
			unsigned rj = next_group(n_out - j, BLOCK_OUTPUTS);
			dot_block_any(Ai, n_in, W + (size_t)j * n_in, n_in, ri, rj, Z + (size_t)i * n_out + j,
				      n_out, j == 0 ? Ai + (size_t)ri * n_in : NULL);
			j += rj;
		}
		i += ri;
	}
}

/* Vectors of sixteen columns a strip of the backward pass spans. */
#define STRIP_VECTORS 4u

/*
 * G[c] = sum over the rows of D[i][c] A[i][k..k+16 nv) for rj <=
 * BLOCK_OUTPUTS columns c of D (n_out apart) and nv <= STRIP_VECTORS
 * vectors of columns of A from k, then dW[c][k..] = beta dW + alpha G
 * (beta 0: dW is only written); with next, the same columns of as many
 * rows from next are fetched along the way. Inlined with constant rj and
 * nv.
 */
static inline __attribute__((always_inline)) void outer_block(const float *D, uint32_t n_out, const float *A,
							       uint32_t n_in, uint32_t rows, unsigned rj,
							       unsigned nv, float alpha, float beta, float *dW,
							       const float *next)
{
	v16f acc[BLOCK_OUTPUTS][STRIP_VECTORS] = {{{0}}};

	for (uint32_t i = 0; i < rows; i++) {
		const float *a = A + (size_t)i * n_in;
		v16f x[STRIP_VECTORS];
#pragma GCC unroll 4
		for (unsigned h = 0; h < nv; h++)
			x[h] = *(const v16f *)(a + h * NARROW_LANES);
		if (next) {
#pragma GCC unroll 4
			for (unsigned h = 0; h < nv; h++)
				prefetch_line(next, (size_t)i * n_in + h * NARROW_LANES);
		}
#pragma GCC unroll 6
		for (unsigned c = 0; c < rj; c++) {
			float d = D[(size_t)i * n_out + c];
#pragma GCC unroll 4
			for (unsigned h = 0; h < nv; h++)
				acc[c][h] += d * x[h];
		}
	}
#pragma GCC unroll 6
	for (unsigned c = 0; c < rj; c++)
#pragma GCC unroll 4
		for (unsigned h = 0; h < nv; h++) {
			v16f *out = (v16f *)(dW + (size_t)c * n_in + h * NARROW_LANES);
			*out = beta == 0.0f ? alpha * acc[c][h] : beta * *out + alpha * acc[c][h];
		}
}

/* outer_block with constants for rj (1..BLOCK_OUTPUTS) and nv (1..STRIP_VECTORS). */
static inline __attribute__((always_inline)) void outer_block_any(const float *D, uint32_t n_out, const float *A,
								   uint32_t n_in, uint32_t rows, unsigned rj,
								   unsigned nv, float alpha, float beta, float *dW,
								   const float *next)
{
#define OUTER_CASE(C, V) \
	case (C) * 8 + (V): outer_block(D, n_out, A, n_in, rows, C, V, alpha, beta, dW, next); break
#define OUTER_CASES(C) OUTER_CASE(C, 4); OUTER_CASE(C, 3); OUTER_CASE(C, 2); OUTER_CASE(C, 1)
	switch (rj * 8 + nv) {
	OUTER_CASES(6); OUTER_CASES(5); OUTER_CASES(4); OUTER_CASES(3); OUTER_CASES(2); OUTER_CASES(1);
	}
#undef OUTER_CASES
#undef OUTER_CASE
}

/*
 * dW = beta dW + alpha D^T A for one block of rows: strips of 64 columns
 * of A (the last one narrower) by up to BLOCK_OUTPUTS outputs; the last
 * few columns row by row, so that A is still read along its rows. With
 * next, as many rows from there as A has are fetched into cache, a share
 * of the strips in each pass of outputs.
 */
KERNEL
static void narrow_backward_rows(const float *D, uint32_t n_out, const float *A, uint32_t n_in, uint32_t rows,
				 float alpha, float beta, float *dW, const float *next)
{
	uint32_t bulk16 = n_in & ~(NARROW_LANES - 1), strip = STRIP_VECTORS * NARROW_LANES;
	uint32_t passes = (n_out + BLOCK_OUTPUTS - 1) / BLOCK_OUTPUTS, pass = 0;

	for (uint32_t j = 0; j < n_out; pass++) {
		unsigned rj = next_group(n_out - j, BLOCK_OUTPUTS);
		const float *Dj = D + j;
		float *dWj = dW + (size_t)j * n_in;
		for (uint32_t k = 0; k < bulk16; k += strip) {
			unsigned nv = bulk16 - k >= strip ? STRIP_VECTORS : (bulk16 - k) / NARROW_LANES;
			outer_block_any(Dj, n_out, A + k, n_in, rows, rj, nv, alpha, beta, dWj + k,
					next && (k / strip) % passes == pass ? next + k : NULL);
		}
		uint32_t left = n_in - bulk16;
		for (unsigned c = 0; c < rj && left; c++) {
			float g[NARROW_LANES] = {0};
			for (uint32_t i = 0; i < rows; i++) {
				float d = Dj[(size_t)i * n_out + c];
				const float *a = A + (size_t)i * n_in + bulk16;
				for (uint32_t k = 0; k < left; k++)
					g[k] += d * a[k];
			}
			float *out = dWj + (size_t)c * n_in + bulk16;
			for (uint32_t k = 0; k < left; k++)
				out[k] = beta == 0.0f ? alpha * g[k] : beta * out[k] + alpha * g[k];
		}
		j += rj;
	}
}

/*
 * Rows of A a pass of narrow_backward_rows reads: 1 MiB of them (334 rows
 * of 784 features, so a batch of 256 is still one pass), so that the
 * strips it reads a column block at a time, once per pass of outputs, come
 * back from the core's cache rather than from memory. A whole training set
 * in one batch (batch gradient descent) was otherwise read from memory
 * three times along strided strips: softmax 784-10 on all 60,000 rows
 * trains 1.7-1.9 times faster this way (bench/train_bench -b 0).
 */
#define NARROW_ROWS_BYTES (1024u * 1024u)

/*
 * A batch this small or smaller has the rows that follow it fetched
 * during its backward pass (the strips of each pass of outputs in turn,
 * so that the fetches spread over the pass): in a stream of rows that is
 * the next batch, which its forward pass then finds in cache. Softmax
 * 784-10 at batch 32 (100 KB) trains some 8% faster; at 256 (800 KB)
 * two batches crowd the core's cache and it trains slower.
 */
#define NEXT_BATCH_BYTES (128u * 1024u)

/*
 * dW = beta dW + alpha D^T A for D (rows x n_out), A (rows x n_in), dW
 * (n_out x n_in), n_out at most MB_KERN_NARROW_MAX: narrow_backward_rows
 * over the rows a cache-sized block at a time, summing into dW.
 */
void mb_kern_narrow_backward(const float *D, uint32_t n_out, const float *A, uint32_t n_in, uint32_t rows,
			     float alpha, float beta, float *dW, bool stream)
{
	uint32_t block = NARROW_ROWS_BYTES / (uint32_t)sizeof(float) / (n_in ? n_in : 1);
	if (block < 4)
		block = 4;
	const float *next = stream && (size_t)rows * n_in * sizeof(float) <= NEXT_BATCH_BYTES ?
				    A + (size_t)rows * n_in : NULL;
	for (uint32_t i = 0; i < rows; i += block) {
		uint32_t n = rows - i < block ? rows - i : block;
		narrow_backward_rows(D + (size_t)i * n_out, n_out, A + (size_t)i * n_in, n_in, n, alpha,
				     i ? 1.0f : beta, dW, next);
	}
}

/*
 * Outputs a single row's forward pass computes per pass over the row:
 * eight accumulators of sixteen lanes and the row's vector fit AVX-512's
 * 32 registers with room to spare (AVX2 spills a few, still one pass).
 */
#define ROW_GROUP 8u

/*
 * z[c] += x . W[c] for rj <= ROW_GROUP rows of W, n floats each, summed
 * exactly as dot_block sums a row (so a row gives the same bits alone as
 * in a batch); with next, the cache lines of the row that follows x are
 * fetched along the way. dot_block on a block of one row would do, but
 * trains softmax at batch 1 some 10% slower (train_bench, best of 9).
 */
static inline __attribute__((always_inline)) void row_dots(const float *x, const float *W, size_t n,
							    unsigned rj, float *z, const float *next)
{
	v16f acc[ROW_GROUP] = {{0}};
	size_t bulk16 = n & ~(size_t)(NARROW_LANES - 1), k;

	for (k = 0; k < bulk16; k += NARROW_LANES) {
		v16f xv = *(const v16f *)(x + k);
		if (next)
			prefetch_line(next, k);
#pragma GCC unroll 8
		for (unsigned c = 0; c < rj; c++)
			acc[c] += xv * *(const v16f *)(W + c * n + k);
	}
#pragma GCC unroll 8
	for (unsigned c = 0; c < rj; c++) {
		float s = lanes_sum(&acc[c]);
		for (k = bulk16; k < n; k++)
			s += x[k] * W[c * n + k];
		z[c] += s;
	}
}

/* row_dots with a constant rj (1..ROW_GROUP). */
static inline __attribute__((always_inline)) void row_dots_any(const float *x, const float *W, size_t n,
								unsigned rj, float *z, const float *next)
{
#define ROW_CASE(C) \
	case C: row_dots(x, W, n, C, z, next); break
	switch (rj) {
	ROW_CASE(8); ROW_CASE(7); ROW_CASE(6); ROW_CASE(5);
	ROW_CASE(4); ROW_CASE(3); ROW_CASE(2); ROW_CASE(1);
	}
#undef ROW_CASE
}

/*
 * z += W x for one row, in passes of up to ROW_GROUP outputs as even as
 * they go (softmax's ten: five and five). The first pass fetches the row
 * after x.
 */
KERNEL
void mb_kern_row_forward(const float *x, const float *W, uint32_t n_in, uint32_t n_out, float *z)
{
	for (uint32_t j = 0; j < n_out;) {
		unsigned rj = next_group(n_out - j, ROW_GROUP);
		row_dots_any(x, W + (size_t)j * n_in, n_in, rj, z + j, j == 0 ? x + n_in : NULL);
		j += rj;
	}
}

/*
 * out = beta out + a x over n floats, beta 0 or 1 or any: the case a
 * constant, so that each loop is a bare load, fused multiply-add, store.
 */
static inline __attribute__((always_inline)) void row_axpby(float a, const float *x, uint32_t n, int mode,
							     float beta, float *out)
{
	uint32_t bulk16 = n & ~(NARROW_LANES - 1), k;

	for (k = 0; k < bulk16; k += NARROW_LANES) {
		v16f xv = *(const v16f *)(x + k), *o = (v16f *)(out + k);
		*o = mode == 0 ? a * xv : mode == 1 ? *o + a * xv : beta * *o + a * xv;
	}
	for (; k < n; k++)
		out[k] = mode == 0 ? a * x[k] : mode == 1 ? out[k] + a * x[k] : beta * out[k] + a * x[k];
}

/*
 * dW = beta dW + alpha d x^T for one row, a row of dW at a time: dW[c] =
 * beta dW[c] + (alpha d[c]) x, as sger computes it. With beta 1 a row
 * whose delta is 0 is skipped.
 */
KERNEL
void mb_kern_row_outer(const float *d, uint32_t n_out, const float *x, uint32_t n_in, float alpha, float beta,
		       float *dW)
{
	for (uint32_t c = 0; c < n_out; c++) {
		float *out = dW + (size_t)c * n_in;
		if (beta == 1.0f) {
			if (d[c] != 0.0f)
				row_axpby(alpha * d[c], x, n_in, 1, beta, out);
		} else if (beta == 0.0f) {
			row_axpby(alpha * d[c], x, n_in, 0, beta, out);
		} else {
			row_axpby(alpha * d[c], x, n_in, 2, beta, out);
		}
	}
}

/*
 * e^x by expf's own method (glibc's and musl's, from Arm's optimized
 * routines), eight lanes of doubles at a time, so that each result is
 * expf's to the bit (checked against glibc 2.36 on all 2^32 floats, with
 * and without fused multiply-add as the CPU has it): the softmax head
 * computes what it computed with expf, only faster. In double: z = x
 * 32/ln 2 = k + r with k an integer (1.5 2^52 added leaves it in the low
 * bits) and |r| <= 1/2; e^x = 2^(k/32) 2^(r/32), the first from the
 * table, its exponent raised by k/32 in the bits, the second a cubic.
 */
#define EXP_N 32

/* The bits of 2^(i/32) as a double, less i << 47: adding k << 47 then gives those of 2^(k/32). */
static const uint64_t exp_table[EXP_N] = {
	0x3ff0000000000000ull, 0x3fefd9b0d3158574ull, 0x3fefb5586cf9890full, 0x3fef9301d0125b51ull,
	0x3fef72b83c7d517bull, 0x3fef54873168b9aaull, 0x3fef387a6e756238ull, 0x3fef1e9df51fdee1ull,
	0x3fef06fe0a31b715ull, 0x3feef1a7373aa9cbull, 0x3feedea64c123422ull, 0x3feece086061892dull,
	0x3feebfdad5362a27ull, 0x3feeb42b569d4f82ull, 0x3feeab07dd485429ull, 0x3feea47eb03a5585ull,
	0x3feea09e667f3bcdull, 0x3fee9f75e8ec5f74ull, 0x3feea11473eb0187ull, 0x3feea589994cce13ull,
	0x3feeace5422aa0dbull, 0x3feeb737b0cdc5e5ull, 0x3feec49182a3f090ull, 0x3feed503b23e255dull,
	0x3feee89f995ad3adull, 0x3feeff76f2fb5e47ull, 0x3fef199bdd85529cull, 0x3fef3720dcef9069ull,
	0x3fef5818dcfba487ull, 0x3fef7c97337b9b5full, 0x3fefa4afa2a490daull, 0x3fefd0765b6e4540ull
};

typedef float v8f __attribute__((vector_size(32), aligned(4), may_alias));
typedef double v8d __attribute__((vector_size(64), aligned(8)));
typedef uint64_t v8u __attribute__((vector_size(64), aligned(8)));
typedef int64_t v8s __attribute__((vector_size(64), aligned(8)));

/*
 * *t = exp_table[*i] lane by lane. GCC picks the entries out of four
 * registers holding the table (two two-register permutes); other
 * compilers, which lack __builtin_shuffle, load them one by one.
 */
static inline __attribute__((always_inline)) void exp_table_at(const v8u *i, v8u *t)
{
#if defined(__GNUC__) && !defined(__clang__)
	const uint64_t *T = exp_table;
	const v8u t0 = {T[0], T[1], T[2], T[3], T[4], T[5], T[6], T[7]};
	const v8u t1 = {T[8], T[9], T[10], T[11], T[12], T[13], T[14], T[15]};
	const v8u t2 = {T[16], T[17], T[18], T[19], T[20], T[21], T[22], T[23]};
	const v8u t3 = {T[24], T[25], T[26], T[27], T[28], T[29], T[30], T[31]};
	v8u lo = __builtin_shuffle(t0, t1, *i), hi = __builtin_shuffle(t2, t3, *i);
	v8u upper = (v8u)(-(v8s)(*i >> 4));

	*t = (lo & ~upper) | (hi & upper);
#else
	for (unsigned l = 0; l < 8; l++)
		(*t)[l] = exp_table[(*i)[l]];
#endif
}

/* *p = e^*p over eight lanes, by pointer (see lanes_sum). */
static inline __attribute__((always_inline)) void exp_lanes8(v8f *p)
{
	const v8d zero = {0};
	v8d x = __builtin_convertvector(*p, v8d);
	v8d z = (0x1.71547652b82fep+0 * EXP_N) * x;
	v8d kd = z + 0x1.8p+52;
	v8u ki = (v8u)kd;
	kd -= 0x1.8p+52;
	v8d r = z - kd;
	v8u i = ki & (EXP_N - 1), t;
	exp_table_at(&i, &t);
	v8d s = (v8d)(t + (ki << (52 - 5)));
	v8d c = (0x1.c6af84b912394p-5 / (EXP_N * EXP_N * EXP_N)) * r + (0x1.ebfce50fac4f3p-3 / (EXP_N * EXP_N));
	v8d y = (0x1.62e42ff0c52d6p-1 / EXP_N) * r + (zero + 1.0);
	y = c * (r * r) + y;
	*p = __builtin_convertvector(y * s, v8f);
}

/*
 * Sixteen lanes of e^x, then expf's answers where the method does not
 * hold: 0 below ln 2^-150, infinity above ln 2^128, NaN for NaN. The
 * lanes are picked by sign bits, not compares: GCC 12 turns a compare of
 * these vectors in a cloned function into sixteen scalar ones.
 */
static inline __attribute__((always_inline)) void exp_lanes(v16f *p)
{
	v16f x = *p;
	v8f a = __builtin_shufflevector(x, x, 0, 1, 2, 3, 4, 5, 6, 7);
	v8f b = __builtin_shufflevector(x, x, 8, 9, 10, 11, 12, 13, 14, 15);
	exp_lanes8(&a);
	exp_lanes8(&b);
	v16i e = (v16i)__builtin_shufflevector(a, b, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
	v16i under = (v16i)(x - -0x1.9fe368p6f) >> 31, over = (v16i)(0x1.62e42ep6f - x) >> 31;
	v16i nan = (0x7f800000 - ((v16i)x & 0x7fffffff)) >> 31;

	e &= ~under;
	e = (e & ~over) | (0x7f800000 & over);
	*p = (v16f)((e & ~nan) | ((v16i)(x + x) & nan));
}

/*
 * p[k] = e^p[k] for n floats; the last few through a padded vector, so
 * that every element takes the same lane arithmetic wherever it lies (a
 * row alone gets the bits it gets in a batch).
 */
KERNEL
void mb_kern_exp(float *p, size_t n)
{
	size_t bulk16 = n & ~(size_t)(NARROW_LANES - 1);

	for (size_t k = 0; k < bulk16; k += NARROW_LANES)
		exp_lanes((v16f *)(p + k));
	if (n > bulk16) {
		float tail[NARROW_LANES] = {0};
		memcpy(tail, p + bulk16, (n - bulk16) * sizeof(float));
		exp_lanes((v16f *)tail);
		memcpy(p + bulk16, tail, (n - bulk16) * sizeof(float));
	}
}
