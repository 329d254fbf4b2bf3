/* SPDX-License-Identifier: MIT */
/*
 * train_fashion.c - train a classifier on Fashion-MNIST with libminibatch.
 *
 *   train_fashion [--mlp] [DIR]
 *
 * Loads the training and t10k sets from DIR (default
 * /usr/share/datasets/fashion-mnist), builds softmax regression (or with
 * --mlp a 784-128-10 relu network), trains a few epochs in mini-batches
 * of 64 with plain SGD, and after each epoch prints the progressive cost
 * (each batch scored just before it was learned from), the throughput and
 * the accuracy on the held-out set.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dataset.h"
#include "learner.h"

enum { BATCH = 64, EPOCHS = 3 };

static double seconds(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	const char *dir = "/usr/share/datasets/fashion-mnist";
	int mlp = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--mlp") == 0)
			mlp = 1;
		else
			dir = argv[i];
	}

	/* The data: 60000 training and 10000 test images of 784 pixels in [0, 1]. */
	struct mb_dataset *train = NULL, *test = NULL;
	struct mb_diag diag = {0};
	if (mb_dataset_load_fashion(dir, "train", &train, &diag) < 0 ||
	    mb_dataset_load_fashion(dir, "t10k", &test, &diag) < 0) {
		fprintf(stderr, "train_fashion: %s: %s\n", dir, diag.text);
		return 1;
	}

	/* The model: 10 classes; the MLP adds a hidden layer of 128 relu units. */
	struct mb_model_cfg mc = {
		.kind = MB_MODEL_SOFTMAX,
		.n_inputs = train->n_features,
		.n_outputs = 10,
		.max_batch = BATCH,
		.seed = 1,
	};
	if (mlp) {
		mc.kind = MB_MODEL_MLP;
		mc.output = MB_MODEL_SOFTMAX;
		mc.n_hidden = 1;
		mc.hidden[0] = 128;
		mc.hidden_act = MB_ACT_RELU;
	}
	/* The optimizer: plain SGD, which the learner fuses into the backward pass. */
	struct mb_optim_cfg oc;
	mb_optim_cfg_default(&oc);
	oc.lr = 0.1f;

	struct mb_model *model = NULL;
	struct mb_optim *optim = NULL;
	struct mb_learner *learner = NULL;
	int r = mb_model_new(&mc, &model);
	if (r == 0)
		r = mb_optim_new(&oc, mb_model_n_params(model), &optim);
	if (r == 0)
		r = mb_learner_new(model, optim, &learner); /* owns both from here on */
	if (r < 0) {
		fprintf(stderr, "train_fashion: %s\n", strerror(-r));
		return 1;
	}

	struct mb_step_result res;
	for (int epoch = 1; epoch <= EPOCHS; epoch++) {
		double cost = 0, t0 = seconds();
		uint32_t rows = 0;
		for (uint32_t at = 0; at + BATCH <= train->count; at += BATCH) {
			r = mb_learner_step(learner, train->x + (size_t)at * train->n_features, train->y + at,
					    NULL, BATCH, &res);
			if (r < 0 && r != -EDOM) { /* -EDOM: the guard skipped a non-finite step */
				fprintf(stderr, "train_fashion: step: %s\n", strerror(-r));
				return 1;
			}
			cost += res.cost * res.rows;
			rows += res.rows;
		}
		double dt = seconds() - t0;
		r = mb_learner_eval(learner, test->x, test->y, test->count, &res);
		if (r < 0) {
			fprintf(stderr, "train_fashion: scoring the test set: %s\n", strerror(-r));
			return 1;
		}
		printf("epoch %d: progressive cost %.4f, %.0f samples/s, holdout accuracy %.4f\n", epoch,
		       cost / rows, rows / dt, (double)res.correct / res.rows);
	}
	printf("test accuracy: %.4f\n", (double)res.correct / res.rows);

	mb_learner_free(learner);
	mb_dataset_free(train);
	mb_dataset_free(test);
	return 0;
}
