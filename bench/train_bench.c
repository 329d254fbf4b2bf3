/* SPDX-License-Identifier: MIT */
/*
 * train_bench.c - training throughput of the learning engine on Fashion-MNIST.
 *
 * Trains softmax regression 784-10 or an MLP 784-128-10 (relu) for some
 * epochs over the training set in file order, every step through
 * mb_learner_step (so progressive cost and correct counts are included),
 * then scores the t10k set. Prints one CSV line:
 *
 *   model,batch,threads,epochs,samples_per_s,gflops,test_accuracy,final_cost
 *
 * final_cost is the mean progressive cost of the last epoch. The learning
 * rate defaults to what the reference loops in the project's baselines
 * use for the batch size (0.01 for 1, 0.1 up to 32, 0.5 above), so the
 * two can be run side by side.
 *
 * Usage: train_bench [-m softmax|mlp] [-b batch, 0 = all] [-e epochs] [-l lr]
 *                    [-o optimizer] [-S schedule] [-t blas threads] [-q first N samples] [-s seed]
 *                    [-d fashion-mnist dir] [-c: CPU time, not wall time] [-H: header line]
 */
#include <cblas.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dataset.h"
#include "bench_learner.h"
#include "learner.h"

#define DEFAULT_DIR "/usr/share/datasets/fashion-mnist"

/* Wall time, or with -c the process's CPU time (steadier on a busy machine with one BLAS thread). */
static clockid_t clock_id = CLOCK_MONOTONIC;

static double now(void)
{
	struct timespec t;
	clock_gettime(clock_id, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s [-m softmax|mlp] [-b batch (0 = all)] [-e epochs] [-l lr] [-o optimizer] [-S schedule]\n"
		"          [-t blas threads] [-q first N samples] [-s seed] [-d dir] [-c] [-H]\n",
		argv0);
	exit(2);
}

/*
 * Floating-point operations per sample of one training step: each layer
 * of in x out weights costs 2 in out for the forward product, 2 in out
 * for the weight gradient, and 2 in out more for the delta it hands the
 * layer below (not for the first layer, which has none below it).
 * Elementwise work (activations, softmax, bias) is left out.
 */
static double flops_per_sample(const struct mb_model *m)
{
	const struct mb_model_cfg *c = mb_model_cfg(m);
	uint32_t sizes[MB_MAX_LAYERS + 1], n = 0;
	double f = 0;

	sizes[n++] = c->n_inputs;
	for (uint32_t i = 0; c->kind == MB_MODEL_MLP && i < c->n_hidden; i++)
		sizes[n++] = c->hidden[i];
	sizes[n] = c->n_outputs;
	for (uint32_t l = 0; l < n; l++)
		f += 2.0 * sizes[l] * sizes[l + 1] * (l == 0 ? 2 : 3);
	return f;
}

int main(int argc, char **argv)
{
	const char *model = "softmax", *optim = "sgd", *sched = "constant", *dir = DEFAULT_DIR;
	long batch = 32, epochs = 1, threads = 0, first = 0;
	unsigned long long seed = 42;
	float lr = 0;
	bool header = false;
	int opt, r;

	while ((opt = getopt(argc, argv, "m:b:e:l:o:S:t:q:s:d:cH")) != -1) {
		switch (opt) {
		case 'm': model = optarg; break;
		case 'b': batch = strtol(optarg, NULL, 10); break;
		case 'e': epochs = strtol(optarg, NULL, 10); break;
		case 'l': lr = strtof(optarg, NULL); break;
		case 'o': optim = optarg; break;
		case 'S': sched = optarg; break;
		case 't': threads = strtol(optarg, NULL, 10); break;
		case 'q': first = strtol(optarg, NULL, 10); break;
		case 's': seed = strtoull(optarg, NULL, 10); break;
		case 'd': dir = optarg; break;
		case 'c': clock_id = CLOCK_PROCESS_CPUTIME_ID; break;
		case 'H': header = true; break;
		default: usage(argv[0]);
		}
	}
	if (batch < 0 || epochs < 1 || threads < 0 || first < 0 || lr < 0)
		usage(argv[0]);
	if (threads)
		openblas_set_num_threads((int)threads);

	struct mb_dataset *train = NULL, *test = NULL;
	struct mb_diag diag = {0};
	if ((r = mb_dataset_load_fashion(dir, "train", &train, &diag)) < 0 ||
	    (r = mb_dataset_load_fashion(dir, "t10k", &test, &diag)) < 0) {
		fprintf(stderr, "train_bench: loading Fashion-MNIST from %s: %s (%s)\n", dir, diag.text,
			strerror(-r));
		return 1;
	}
	uint32_t count = first && (uint32_t)first < train->count ? (uint32_t)first : train->count;
	uint32_t rows = batch == 0 || batch > count ? count : (uint32_t)batch;
	if (lr == 0)
		lr = rows == 1 ? 0.01f : rows <= 32 ? 0.1f : 0.5f;

	struct bench_learner_cfg bc = {
		.model = model,
		.optim = optim,
		.sched = sched,
		.lr = lr,
		.n_features = train->n_features,
		.rows = rows,
		.total_steps = (uint64_t)epochs * (count / rows),
		.seed = seed,
	};
	struct mb_learner *l = NULL;
	const char *why = NULL;
	if ((r = bench_learner_new(&bc, &l, &why)) < 0) {
		fprintf(stderr, "train_bench: %s: %s\n", why, strerror(-r));
		return r == -EINVAL ? 2 : 1;
	}
	struct mb_model *m = mb_learner_model(l);
	double flops = flops_per_sample(m);

	struct mb_step_result res;
	double cost = 0, t0 = now();
	uint64_t seen = 0, skipped = 0;
	for (long e = 0; e < epochs; e++) {
		cost = 0;
		for (uint32_t at = 0; at + rows <= count; at += rows) {
			r = mb_learner_step(l, train->x + (size_t)at * train->n_features, train->y + at, NULL,
					    rows, &res);
			if (r < 0 && r != -EDOM) {
				fprintf(stderr, "train_bench: step at row %u: %s\n", at, strerror(-r));
				return 1;
			}
			skipped += r == -EDOM;
			cost += res.cost * rows;
			seen += rows;
		}
	}
	double dt = now() - t0;
	cost /= count - count % rows;

	if ((r = mb_learner_eval(l, test->x, test->y, test->count, &res)) < 0) {
		fprintf(stderr, "train_bench: scoring t10k: %s\n", strerror(-r));
		return 1;
	}
	if (skipped)
		fprintf(stderr, "train_bench: the guard skipped %llu steps\n", (unsigned long long)skipped);
	if (header)
		printf("model,batch,threads,epochs,samples_per_s,gflops,test_accuracy,final_cost\n");
	printf("%s,%u,%d,%ld,%.0f,%.2f,%.4f,%.4f\n", model, rows, openblas_get_num_threads(), epochs,
	       (double)seen / dt, flops * (double)seen / dt * 1e-9, (double)res.correct / res.rows, cost);

	mb_learner_free(l);
	mb_dataset_free(train);
	mb_dataset_free(test);
	return 0;
}
