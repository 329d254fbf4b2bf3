/* SPDX-License-Identifier: MIT */
/*
 * test_fashion.c - the engine on real data: one epoch of Fashion-MNIST,
 * in file order with plain SGD (its rate annealed to 0 by a cosine
 * schedule over the epoch, so the result does not hang on the last few
 * batches), then accuracy on the held-out t10k set. Softmax regression
 * must reach 80 %, the MLP 784-128-10 83 %.
 */
#include <math.h>
#include <stdint.h>

#include "dataset.h"
#include "learner.h"
#include "test.h"

static struct mb_dataset *train_set, *test_set;

/* One pass over the training set in batches of batch rows; the mean progressive cost. */
static double train_epoch(struct mb_learner *l, uint32_t batch)
{
	const struct mb_dataset *d = train_set;
	struct mb_step_result res;
	double cost = 0;

	for (uint32_t at = 0; at + batch <= d->count; at += batch) {
		CU_ASSERT_EQUAL_FATAL(mb_learner_step(l, d->x + (size_t)at * d->n_features, d->y + at, NULL,
						      batch, &res), 0);
		cost += res.cost * batch;
	}
	return cost / (d->count - d->count % batch);
}

static double test_accuracy(struct mb_learner *l)
{
	struct mb_step_result res;

	CU_ASSERT_EQUAL_FATAL(mb_learner_eval(l, test_set->x, test_set->y, test_set->count, &res), 0);
	CU_ASSERT_EQUAL(res.rows, test_set->count);
	CU_ASSERT(isfinite(res.cost));
	return (double)res.correct / res.rows;
}

/* A learner with SGD at rate lr, cosine-annealed over one epoch of batch rows. */
static struct mb_learner *make(const struct mb_model_cfg *mc, float lr, uint32_t batch)
{
	struct mb_model *m = NULL;
	struct mb_optim *o = NULL;
	struct mb_learner *l = NULL;
	struct mb_optim_cfg oc;

	mb_optim_cfg_default(&oc);
	oc.lr = lr;
	oc.sched = MB_SCHED_COSINE;
	oc.cosine_steps = train_set->count / batch;
	CU_ASSERT_EQUAL_FATAL(mb_model_new(mc, &m), 0);
	CU_ASSERT_EQUAL_FATAL(mb_optim_new(&oc, mb_model_n_params(m), &o), 0);
	CU_ASSERT_EQUAL_FATAL(mb_learner_new(m, o, &l), 0);
	CU_ASSERT_TRUE(mb_optim_is_plain_sgd(o)); /* the fused path */
	return l;
}

static void test_softmax(void)
{
	struct mb_model_cfg mc = {
		.kind = MB_MODEL_SOFTMAX, .n_inputs = train_set->n_features, .n_outputs = 10,
		.max_batch = 64, .seed = 1,
	};
	struct mb_learner *l = make(&mc, 0.2f, 64);

	double cost = train_epoch(l, 64);
	double acc = test_accuracy(l);
	fprintf(stderr, "softmax, 1 epoch, batch 64: progressive cost %.4f, test accuracy %.4f\n", cost, acc);
	CU_ASSERT(cost < 0.8);
	CU_ASSERT(acc >= 0.80);
	mb_learner_free(l);
}

static void test_mlp(void)
{
	struct mb_model_cfg mc = {
		.kind = MB_MODEL_MLP, .output = MB_MODEL_SOFTMAX, .n_inputs = train_set->n_features,
		.n_outputs = 10, .n_hidden = 1, .hidden = {128}, .hidden_act = MB_ACT_RELU,
		.max_batch = 32, .seed = 1,
	};
	struct mb_learner *l = make(&mc, 0.2f, 32);

	double cost = train_epoch(l, 32);
	double acc = test_accuracy(l);
	fprintf(stderr, "mlp 784-128-10, 1 epoch, batch 32: progressive cost %.4f, test accuracy %.4f\n", cost, acc);
	CU_ASSERT(cost < 0.7);
	CU_ASSERT(acc >= 0.83);
	mb_learner_free(l);
}

int main(void)
{
	const char *dir = mb_test_fashion_dir();
	struct mb_diag diag = {0};
	int r;

	r = mb_dataset_load_fashion(dir, "train", &train_set, &diag);
	if (r < 0) {
		fprintf(stderr, "loading the training set from %s: %s\n", dir, diag.text);
		return 1;
	}
	r = mb_dataset_load_fashion(dir, "t10k", &test_set, &diag);
	if (r < 0) {
		fprintf(stderr, "loading the test set from %s: %s\n", dir, diag.text);
		mb_dataset_free(train_set);
		return 1;
	}
	MB_SUITE("fashion",
		 {"softmax_one_epoch", test_softmax},
		 {"mlp_one_epoch", test_mlp});
	r = mb_test_run();
	mb_dataset_free(train_set);
	mb_dataset_free(test_set);
	return r;
}
