/* SPDX-License-Identifier: MIT */
/*
 * kernels.h - the products of a dense layer that BLAS does poorly, and
 * the exponentials of a softmax head.
 *
 * A layer of at most MB_KERN_NARROW_MAX outputs (a linear or logistic
 * head, softmax over ten classes) does its products for a batch here
 * rather than in sgemm. sgemm copies both operands into packed panels
 * first: for a 256 x 784 batch against 10 outputs that copy of the whole
 * batch is most of the time, twice per step (forward and backward). These
 * kernels read the batch in place, from cache, once per pass of up to six
 * outputs.
 *
 * A single row, through a layer of any width, goes through the row
 * kernels: one pass over the row for up to eight outputs at a time where
 * OpenBLAS calls a dot product or an axpy once per output (sdot, gemv,
 * or the saxpy loop of sger), and an update that skips the outputs whose
 * delta is 0 (a relu unit that did not fire has nothing to learn from
 * the row).
 *
 * The softmax head takes the exponentials of a whole batch in one call,
 * sixteen at a time, with expf's results.
 *
 * Matrices are row-major; W is n_out x n_in. Every kernel sums in the
 * same order on any CPU (see kernels.c), so one machine gives the same
 * bits every run.
 */
#ifndef MB_KERNELS_H
#define MB_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The widest layer that takes the narrow batch kernels. */
#define MB_KERN_NARROW_MAX 16u

/* Z += A W^T for rows of A (rows x n_in); n_out <= MB_KERN_NARROW_MAX. */
void mb_kern_narrow_forward(const float *A, uint32_t rows, const float *W, uint32_t n_in, uint32_t n_out,
			    float *Z);

/*
 * dW = beta dW + alpha D^T A for rows of D (x n_out) and A (x n_in);
 * n_out <= MB_KERN_NARROW_MAX. stream says A is a batch of a stream that
 * goes on in memory after it (the model's input): the rows that follow
 * are then fetched into cache for the next step.
 */
void mb_kern_narrow_backward(const float *D, uint32_t n_out, const float *A, uint32_t n_in, uint32_t rows,
			     float alpha, float beta, float *dW, bool stream);

/* z += W x for one row x of n_in floats, any n_out. */
void mb_kern_row_forward(const float *x, const float *W, uint32_t n_in, uint32_t n_out, float *z);

/*
 * dW = beta dW + alpha d x^T for one row: d of n_out deltas, x of n_in
 * inputs. With beta 1 the rows of dW whose delta is 0 are left as they
 * are (for finite x that is the same sum).
 */
void mb_kern_row_outer(const float *d, uint32_t n_out, const float *x, uint32_t n_in, float alpha, float beta,
		       float *dW);

/*
 * p[k] = expf(p[k]) for n floats, sixteen at a time, the same bits
 * wherever an element lies. They are expf's where the library is built
 * as glibc is for the CPU, with fused multiply-add or without; a build
 * without it on a CPU with it (the sanitizer builds, or another
 * compiler) is an ulp off glibc's expf on two of the 2^32 floats.
 */
void mb_kern_exp(float *p, size_t n);

#endif /* MB_KERNELS_H */
