/* SPDX-License-Identifier: MIT */
/*
 * sgemm_peak.c - what OpenBLAS alone reaches on the products of one training step.
 *
 * A training step of the bench models is a handful of sgemm calls whose
 * shapes depend on the batch size. This program times exactly those calls,
 * back to back on random data with nothing else in between, so the engine's
 * GFLOP/s can be read as a fraction of what the BLAS gives on the same
 * shapes. The flop count per sample matches train_bench's.
 *
 * Prints one CSV line: model,batch,threads,gflops
 * With -I it prints the OpenBLAS build instead: config,<openblas_get_config()>,<core name>
 *
 * Usage: sgemm_peak [-m softmax|mlp] [-b batch] [-t blas threads] [-T seconds] [-I]
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define N_IN 784
#define N_HIDDEN 128
#define N_OUT 10

/* One product C (M x N) = op(A) op(B) of a training step, row-major. */
struct product {
	enum CBLAS_TRANSPOSE ta; /* A transposed: a weight gradient reads the batch column-wise */
	enum CBLAS_TRANSPOSE tb; /* B transposed: a forward pass reads the weights row-wise */
	int m, n, k;             /* C is m x n, the inner dimension k */
};

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void usage(const char *argv0)
{
	fprintf(stderr, "usage: %s [-m softmax|mlp] [-b batch] [-t blas threads] [-T seconds] [-I]\n", argv0);
	exit(2);
}

/* The products of one step, in the order an engine runs them; returns how many. */
static int step_products(int mlp, int b, struct product *p)
{
	int n = 0;

	if (!mlp) {
		p[n++] = (struct product){CblasNoTrans, CblasTrans, b, N_OUT, N_IN};  /* logits */
		p[n++] = (struct product){CblasTrans, CblasNoTrans, N_OUT, N_IN, b};  /* dW */
		return n;
	}
	p[n++] = (struct product){CblasNoTrans, CblasTrans, b, N_HIDDEN, N_IN};     /* hidden */
	p[n++] = (struct product){CblasNoTrans, CblasTrans, b, N_OUT, N_HIDDEN};    /* logits */
	p[n++] = (struct product){CblasNoTrans, CblasNoTrans, b, N_HIDDEN, N_OUT};  /* delta to hidden */
	p[n++] = (struct product){CblasTrans, CblasNoTrans, N_OUT, N_HIDDEN, b};    /* dW2 */
	p[n++] = (struct product){CblasTrans, CblasNoTrans, N_HIDDEN, N_IN, b};     /* dW1 */
	return n;
}

static float *random_floats(size_t n, unsigned *seed)
{
	float *v = malloc(n * sizeof(*v));
	if (!v) {
		perror("sgemm_peak");
		exit(1);
	}
	for (size_t i = 0; i < n; i++) {
		*seed = *seed * 1103515245u + 12345u;
		v[i] = (float)((*seed >> 8) & 0xffff) / 65536.0f - 0.5f;
	}
	return v;
}

int main(int argc, char **argv)
{
	const char *model = "softmax";
	long batch = 32, threads = 0;
	double seconds = 0.5;
	int opt;

	while ((opt = getopt(argc, argv, "m:b:t:T:I")) != -1) {
		switch (opt) {
		case 'm': model = optarg; break;
		case 'b': batch = strtol(optarg, NULL, 10); break;
		case 't': threads = strtol(optarg, NULL, 10); break;
		case 'T': seconds = strtod(optarg, NULL); break;
		case 'I': printf("config,%s,%s\n", openblas_get_config(), openblas_get_corename()); return 0;
		default: usage(argv[0]);
		}
	}
	int mlp = strcmp(model, "mlp") == 0;
	if ((!mlp && strcmp(model, "softmax") != 0) || batch < 1 || batch > 1000000 || threads < 0 ||
	    seconds <= 0)
		usage(argv[0]);
	if (threads)
		openblas_set_num_threads((int)threads);

	struct product p[5];
	int np = step_products(mlp, (int)batch, p);
	/* Every operand fits in the largest: the batch times the input width. */
	size_t big = (size_t)batch * N_IN > (size_t)N_HIDDEN * N_IN ? (size_t)batch * N_IN : (size_t)N_HIDDEN * N_IN;
	unsigned seed = 7;
	float *a = random_floats(big, &seed), *bm = random_floats(big, &seed), *c = random_floats(big, &seed);
	double flops_step = 0;
	for (int i = 0; i < np; i++)
		flops_step += 2.0 * p[i].m * p[i].n * p[i].k;

	double t0 = now(), dt;
	long steps = 0;
	do {
		for (int i = 0; i < np; i++) {
			int lda = p[i].ta == CblasNoTrans ? p[i].k : p[i].m;
			int ldb = p[i].tb == CblasNoTrans ? p[i].n : p[i].k;
			cblas_sgemm(CblasRowMajor, p[i].ta, p[i].tb, p[i].m, p[i].n, p[i].k, 1.0f, a, lda, bm, ldb,
				    0.0f, c, p[i].n);
		}
		steps++;
		dt = now() - t0;
	} while (dt < seconds);

	printf("%s,%ld,%d,%.2f\n", model, batch, openblas_get_num_threads(), flops_step * (double)steps / dt * 1e-9);
	free(a);
	free(bm);
	free(c);
	return 0;
}
