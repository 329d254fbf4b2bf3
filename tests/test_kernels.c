/* SPDX-License-Identifier: MIT */
/*
 * test_kernels.c - the dense-layer kernels against a plain double loop:
 * every grouping of outputs the batch kernels make (1 to 16), blocks of
 * four rows and the rows left over, feature counts with and without a
 * tail; a row alone giving the bits it gets in a batch; the single-row
 * update's beta cases and its skip of zero deltas; the rows after a
 * batch fetched without a fault when nothing is mapped there; and the
 * softmax head's exponentials against expf.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kernels.h"
#include "test.h"

static uint64_t rng_state = 1;

/* Uniform in [-1, 1), from splitmix64. */
static float uni(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return (float)((double)((z ^ (z >> 31)) >> 11) * 0x1p-52 - 1.0);
}

static float *randoms(size_t n)
{
	float *p = malloc((n ? n : 1) * sizeof *p);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	for (size_t i = 0; i < n; i++)
		p[i] = uni();
	return p;
}

/* |got - want| within a float sum's rounding over n terms of magnitude up to 1. */
static int close_to(float got, double want, size_t n)
{
	return fabs((double)got - want) <= 1e-6 * (double)(n + 1) * (1.0 + fabs(want));
}

/* Feature counts: below one vector, one exactly, a tail, and Fashion-MNIST's 784. */
static const uint32_t n_ins[] = {5, 16, 33, 784};

static void test_narrow_forward(void)
{
	for (size_t f = 0; f < sizeof n_ins / sizeof n_ins[0]; f++) {
		uint32_t n_in = n_ins[f];
		for (uint32_t n_out = 1; n_out <= MB_KERN_NARROW_MAX; n_out++) {
			for (uint32_t rows = 1; rows <= 9; rows += 2) {
				float *A = randoms((size_t)rows * n_in), *W = randoms((size_t)n_out * n_in);
				float *Z = randoms((size_t)rows * n_out), *Z0 = malloc(sizeof(float) * rows * n_out);
				memcpy(Z0, Z, sizeof(float) * rows * n_out);
				mb_kern_narrow_forward(A, rows, W, n_in, n_out, Z);
				int bad = 0;
				for (uint32_t i = 0; i < rows; i++)
					for (uint32_t j = 0; j < n_out; j++) {
						double want = Z0[i * n_out + j];
						for (uint32_t k = 0; k < n_in; k++)
							want += (double)A[i * n_in + k] * W[j * n_in + k];
						bad += !close_to(Z[i * n_out + j], want, n_in);
					}
				CU_ASSERT_EQUAL(bad, 0);
				free(A), free(W), free(Z), free(Z0);
			}
		}
	}
}

/* The single-row kernel for any width, and for a narrow layer the same bits as the batch kernel. */
static void test_row_forward(void)
{
	static const uint32_t n_outs[] = {1, 2, 5, 8, 9, 10, 15, 16, 17, 23, 128};
	for (size_t f = 0; f < sizeof n_ins / sizeof n_ins[0]; f++) {
		uint32_t n_in = n_ins[f];
		for (size_t o = 0; o < sizeof n_outs / sizeof n_outs[0]; o++) {
			uint32_t n_out = n_outs[o];
			float *x = randoms(n_in), *W = randoms((size_t)n_out * n_in), *z = calloc(n_out, sizeof *z);
			float *zb = calloc(n_out, sizeof *zb);
			mb_kern_row_forward(x, W, n_in, n_out, z);
			int bad = 0;
			for (uint32_t j = 0; j < n_out; j++) {
				double want = 0;
				for (uint32_t k = 0; k < n_in; k++)
					want += (double)x[k] * W[j * n_in + k];
				bad += !close_to(z[j], want, n_in);
			}
			CU_ASSERT_EQUAL(bad, 0);
			if (n_out <= MB_KERN_NARROW_MAX) {
				mb_kern_narrow_forward(x, 1, W, n_in, n_out, zb);
				CU_ASSERT_EQUAL(memcmp(z, zb, sizeof(float) * n_out), 0);
			}
			free(x), free(W), free(z), free(zb);
		}
	}
}

/* dW = beta dW + alpha D^T A against the double loop, for beta 0, 1 and 0.5. */
static void test_narrow_backward(void)
{
	static const float betas[] = {0.0f, 1.0f, 0.5f};
	for (size_t f = 0; f < sizeof n_ins / sizeof n_ins[0]; f++) {
		uint32_t n_in = n_ins[f];
		for (uint32_t n_out = 1; n_out <= MB_KERN_NARROW_MAX; n_out += 3) {
			for (size_t b = 0; b < 3; b++) {
				uint32_t rows = 7;
				float beta = betas[b], alpha = -0.25f;
				float *D = randoms((size_t)rows * n_out), *A = randoms((size_t)rows * n_in);
				float *dW = randoms((size_t)n_out * n_in), *dW0 = malloc(sizeof(float) * n_out * n_in);
				memcpy(dW0, dW, sizeof(float) * n_out * n_in);
				mb_kern_narrow_backward(D, n_out, A, n_in, rows, alpha, beta, dW, b == 1);
				int bad = 0;
				for (uint32_t j = 0; j < n_out; j++)
					for (uint32_t k = 0; k < n_in; k++) {
						double g = 0;
						for (uint32_t i = 0; i < rows; i++)
							g += (double)D[i * n_out + j] * A[i * n_in + k];
						double want = (beta == 0.0f ? 0.0 : beta * (double)dW0[j * n_in + k]) + alpha * g;
						bad += !close_to(dW[j * n_in + k], want, rows);
					}
				CU_ASSERT_EQUAL(bad, 0);
				free(D), free(A), free(dW), free(dW0);
			}
		}
	}
}

/*
 * The single-row update: beta 1 adds, and leaves a row whose delta is 0
 * exactly as it was; beta 0 writes every row, a zero delta's as zeros
 * (garbage there would reach an optimizer as gradient); any other beta
 * scales.
 */
static void test_row_outer(void)
{
	uint32_t n_out = 12, n_in = 37;
	static const float betas[] = {1.0f, 0.0f, 0.5f};
	for (size_t b = 0; b < 3; b++) {
		float beta = betas[b], alpha = -0.5f;
		float *d = randoms(n_out), *x = randoms(n_in), *dW = randoms((size_t)n_out * n_in);
		float *dW0 = malloc(sizeof(float) * n_out * n_in);
		for (uint32_t j = 0; j < n_out; j += 3)
			d[j] = 0.0f; /* a relu unit that did not fire */
		memcpy(dW0, dW, sizeof(float) * n_out * n_in);
		mb_kern_row_outer(d, n_out, x, n_in, alpha, beta, dW);
		int bad = 0, kept = 0;
		for (uint32_t j = 0; j < n_out; j++)
			for (uint32_t k = 0; k < n_in; k++) {
				double want = (beta == 0.0f ? 0.0 : beta * (double)dW0[j * n_in + k]) +
					      (double)alpha * d[j] * x[k];
				bad += !close_to(dW[j * n_in + k], want, 1);
				kept += d[j] == 0.0f && dW[j * n_in + k] == dW0[j * n_in + k];
			}
		CU_ASSERT_EQUAL(bad, 0);
		/* Rows of zero delta: untouched under beta 1, zeroed or scaled otherwise. */
		CU_ASSERT_EQUAL(kept, beta == 1.0f ? 4 * (int)n_in : 0);
		free(d), free(x), free(dW), free(dW0);
	}
}

/*
 * A batch that ends where the mapping ends, an inaccessible page right
 * after it: the kernels fetch the rows that would follow a batch, and a
 * prefetch there must not fault. Forward passes of one row, of a block of
 * four and of one more, and the backward passes of the latter two.
 */
static void test_prefetch_past_end(void)
{
	long page = sysconf(_SC_PAGESIZE);
	uint32_t n_in = 784, n_out = 10;
	size_t len = 32 * (size_t)page;
	char *map = mmap(NULL, len + (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CU_ASSERT_FATAL(map != MAP_FAILED);
	CU_ASSERT_EQUAL_FATAL(mprotect(map + len, (size_t)page, PROT_NONE), 0);
	float *W = randoms((size_t)n_out * n_in), z[5 * 10] = {0};
	for (uint32_t rows = 1; rows <= 5; rows += 2) {
		float *A = (float *)(map + len) - (size_t)rows * n_in; /* ends at the guard page */
		for (size_t i = 0; i < (size_t)rows * n_in; i++)
			A[i] = 1.0f;
		if (rows == 1) {
			mb_kern_row_forward(A, W, n_in, n_out, z);
		} else {
			float D[5 * 10];
			for (size_t i = 0; i < sizeof D / sizeof D[0]; i++)
				D[i] = 0.01f;
			mb_kern_narrow_forward(A, rows, W, n_in, n_out, z);
			mb_kern_narrow_backward(D, n_out, A, n_in, rows, -1.0f, 1.0f, W, true);
		}
		double want = 0;
		for (uint32_t k = 0; k < n_in; k++)
			want += W[k];
		CU_ASSERT_TRUE(isfinite(z[0]));
		memset(z, 0, sizeof z);
		mb_kern_row_forward(A, W, n_in, 1, z);
		CU_ASSERT_TRUE(close_to(z[0], want, n_in));
		z[0] = 0;
	}
	free(W);
	munmap(map, len + (size_t)page);
}

static void test_exp(void)
{
	/*
	 * expf's bits, evenly from -104 to 89 (a little past where expf
	 * turns 0 and infinite) and at random. A build without fused
	 * multiply-add (a sanitizer build, for one) rounds two of the 2^32
	 * floats otherwise than glibc's expf with it, by an ulp; neither is
	 * among these, so every build owes every bit.
	 */
	enum { N = 200003 };
	float *p = malloc(N * sizeof *p), *x = malloc(N * sizeof *x);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	for (size_t i = 0; i < N; i++)
		x[i] = i % 2 ? -104.0f + 193.0f * (float)i / N : 30.0f * uni();
	memcpy(p, x, N * sizeof *p);
	mb_kern_exp(p, N);
	size_t differ = 0;
	for (size_t i = 0; i < N; i++) {
		float want = expf(x[i]);
		differ += memcmp(&p[i], &want, sizeof want) != 0;
	}
	CU_ASSERT_EQUAL(differ, 0);

	/*
	 * expf's answers at the ends: 0, denormal, infinity, NaN; and either
	 * side of the last input with a nonzero result (2^-149) and of the
	 * last with a finite one.
	 */
	const float under = -0x1.9fe368p6f, over = 0x1.62e42ep6f;
	float special[] = {0.0f, -103.9f, -104.0f, -1e30f, -INFINITY, 88.7f, 88.8f, INFINITY, NAN, -NAN,
			   under, nextafterf(under, -INFINITY), nextafterf(under, 0.0f),
			   over, nextafterf(over, INFINITY), nextafterf(over, 0.0f)};
	enum { NS = sizeof special / sizeof special[0] };
	float want[NS];
	for (int i = 0; i < NS; i++)
		want[i] = expf(special[i]);
	mb_kern_exp(special, NS);
	CU_ASSERT_EQUAL(special[0], 1.0f);
	CU_ASSERT(special[1] > 0.0f && special[1] < FLT_MIN && special[1] == want[1]);
	for (int i = 2; i <= 4; i++)
		CU_ASSERT(special[i] == 0.0f && !signbit(special[i]));
	CU_ASSERT(isfinite(special[5]) && special[5] == want[5]);
	for (int i = 6; i <= 7; i++)
		CU_ASSERT(isinf(special[i]) && special[i] > 0);
	CU_ASSERT(isnan(special[8]) && isnan(special[9]));
	CU_ASSERT_EQUAL(special[10], 0x1p-149f);
	CU_ASSERT_EQUAL(special[11], 0.0f);
	CU_ASSERT(isfinite(special[13]) && isinf(special[14]));
	for (int i = 10; i < NS; i++)
		CU_ASSERT_EQUAL(memcmp(&special[i], &want[i], sizeof want[i]), 0);

	/* Each element gets the same bits alone as anywhere in a longer run. */
	for (size_t i = 0; i < 37; i++) {
		float one = x[i];
		mb_kern_exp(&one, 1);
		CU_ASSERT_EQUAL(memcmp(&one, &p[i], sizeof one), 0);
	}
	float again[20];
	memcpy(again, x + 5, sizeof again);
	mb_kern_exp(again, 3);
	mb_kern_exp(again + 3, 17);
	CU_ASSERT_EQUAL(memcmp(again, p + 5, sizeof again), 0);
	free(p);
	free(x);
}

int main(void)
{
	MB_SUITE("kernels",
		 {"narrow_forward", test_narrow_forward},
		 {"row_forward", test_row_forward},
		 {"narrow_backward", test_narrow_backward},
		 {"row_outer", test_row_outer},
		 {"prefetch_past_end", test_prefetch_past_end},
		 {"exp", test_exp});
	return mb_test_run();
}
