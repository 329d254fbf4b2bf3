/* SPDX-License-Identifier: MIT */
/*
 * test_holdout.c - the trainer's holdout: which rows it takes, what stays
 * in the batch, what its scores mean, and that a checkpoint continues it.
 *
 * A user reads the holdout's accuracy as the model's accuracy on data it
 * never learned from, so the rows held out must leave the batch (with their
 * targets and weights kept in step), the score must be the model's on
 * exactly those rows, and a restart must hold out the same samples.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "holdout.h"
#include "learner.h"
#include "test.h"

#define NF 3u
#define NT 1u

/* A batch whose row i holds features i, 100+i, 200+i, target i % 4 and weight 1 + i. */
static struct mb_batch *numbered_batch(uint32_t rows, uint32_t first)
{
	struct mb_batch *b = NULL;
	CU_ASSERT_EQUAL_FATAL(mb_batch_new(rows, NF, NT, &b), 0);
	for (uint32_t i = 0; i < rows; i++) {
		float *x = mb_batch_x(b, i);
		x[0] = (float)(first + i);
		x[1] = (float)(100 + first + i);
		x[2] = (float)(200 + first + i);
		mb_batch_y(b, i)[0] = (float)((first + i) % 4);
		mb_batch_commit_row(b, 1.0f + (float)(first + i));
	}
	return b;
}

static void split_takes_every_kth_in_order(void)
{
	struct mb_trainer_holdout *ho = NULL;
	CU_ASSERT_EQUAL_FATAL(mb_trainer_holdout_new(3, 10, NF, NT, true, &ho), 0);
	struct mb_batch *b = numbered_batch(10, 0);
	/* Samples 1..10 offered: the 3rd, 6th and 9th (rows 2, 5, 8) are held out. */
	CU_ASSERT_EQUAL(mb_trainer_holdout_split(ho, b), 3);
	CU_ASSERT_EQUAL(b->rows, 7);
	static const uint32_t kept[7] = {0, 1, 3, 4, 6, 7, 9};
	for (uint32_t i = 0; i < 7; i++) {
		CU_ASSERT_EQUAL(mb_batch_x(b, i)[0], (float)kept[i]);
		CU_ASSERT_EQUAL(mb_batch_x(b, i)[2], (float)(200 + kept[i]));
		CU_ASSERT_EQUAL(mb_batch_y(b, i)[0], (float)(kept[i] % 4));
		CU_ASSERT_EQUAL(b->w[i], 1.0f + (float)kept[i]);
	}
	static const uint32_t held[3] = {2, 5, 8};
	for (uint32_t i = 0; i < 3; i++) {
		CU_ASSERT_EQUAL(ho->x[i * NF], (float)held[i]);
		CU_ASSERT_EQUAL(ho->x[i * NF + 1], (float)(100 + held[i]));
		CU_ASSERT_EQUAL(ho->y[i], (float)(held[i] % 4));
	}
	/* The count runs on across batches: samples 11..20, the 12th, 15th and 18th held. */
	struct mb_batch *c = numbered_batch(10, 10);
	CU_ASSERT_EQUAL(mb_trainer_holdout_split(ho, c), 3);
	CU_ASSERT_EQUAL(ho->x[0], 11.0f);
	CU_ASSERT_EQUAL(ho->x[NF], 14.0f);
	CU_ASSERT_EQUAL(ho->x[2 * NF], 17.0f);
	CU_ASSERT_EQUAL(ho->h.seen, 20);
	CU_ASSERT_EQUAL(ho->h.taken, 6);
	mb_batch_free(b);
	mb_batch_free(c);
	mb_trainer_holdout_free(ho);
}

static void bad_settings_refused(void)
{
	struct mb_trainer_holdout *ho = (void *)&ho;
	CU_ASSERT_EQUAL(mb_trainer_holdout_new(0, 10, NF, NT, true, &ho), -EINVAL);
	CU_ASSERT_EQUAL(mb_trainer_holdout_new(1, 10, NF, NT, true, &ho), -EINVAL);
	CU_ASSERT_EQUAL(mb_trainer_holdout_new(2, 0, NF, NT, true, &ho), -EINVAL);
	CU_ASSERT_PTR_EQUAL(ho, (void *)&ho);
	CU_ASSERT_PTR_NULL(mb_trainer_holdout_free(NULL));
	/* A batch of another shape is left whole. */
	CU_ASSERT_EQUAL_FATAL(mb_trainer_holdout_new(2, 10, NF + 1, NT, true, &ho), 0);
	struct mb_batch *b = numbered_batch(10, 0);
	CU_ASSERT_EQUAL(mb_trainer_holdout_split(ho, b), 0);
	CU_ASSERT_EQUAL(b->rows, 10);
	mb_batch_free(b);
	mb_trainer_holdout_free(ho);
}

/* Softmax over NF features and 4 classes, every parameter 0 but a few, so scores are known. */
static struct mb_learner *softmax_learner(void)
{
	struct mb_model_cfg mc = {.kind = MB_MODEL_SOFTMAX, .n_inputs = NF, .n_outputs = 4, .max_batch = 16,
				  .seed = 1};
	struct mb_optim_cfg oc;
	mb_optim_cfg_default(&oc);
	struct mb_model *m = NULL;
	struct mb_optim *o = NULL;
	struct mb_learner *l = NULL;
	CU_ASSERT_EQUAL_FATAL(mb_model_new(&mc, &m), 0);
	CU_ASSERT_EQUAL_FATAL(mb_optim_new(&oc, mb_model_n_params(m), &o), 0);
	CU_ASSERT_EQUAL_FATAL(mb_learner_new(m, o, &l), 0);
	memset(mb_model_params(m), 0, mb_model_n_params(m) * sizeof(float));
	return l;
}

static void score_is_the_models_on_the_held_rows(void)
{
	struct mb_learner *l = softmax_learner();
	struct mb_trainer_holdout *ho = NULL;
	CU_ASSERT_EQUAL_FATAL(mb_trainer_holdout_new(2, 16, NF, NT, true, &ho), 0);
	CU_ASSERT(isnan(mb_trainer_holdout_cost(ho)));
	CU_ASSERT(isnan(mb_trainer_holdout_accuracy(ho)));
	struct mb_batch *b = numbered_batch(8, 0);
	uint32_t held = mb_trainer_holdout_split(ho, b);
	CU_ASSERT_EQUAL_FATAL(held, 4);
	/* All-zero parameters: every class has probability 1/4, cost ln 4 on every row. */
	CU_ASSERT_EQUAL(mb_trainer_holdout_score(ho, l, held), 0);
	CU_ASSERT_DOUBLE_EQUAL(mb_trainer_holdout_cost(ho), log(4.0), 1e-6);
	CU_ASSERT_EQUAL(ho->h.acc.rows, 4);

	/* The same rows scored by the learner directly give the same figures. */
	struct mb_step_result direct = {0};
	CU_ASSERT_EQUAL(mb_learner_eval(l, ho->x, ho->y, held, &direct), 0);
	CU_ASSERT_DOUBLE_EQUAL(direct.cost, log(4.0), 1e-6);
	CU_ASSERT_EQUAL(ho->h.acc.correct, direct.correct);

	/* Scoring learns nothing: the parameters are still all zero. */
	struct mb_model *m = mb_learner_model(l);
	const float *p = mb_model_params(m);
	for (size_t i = 0; i < mb_model_n_params(m); i++)
		CU_ASSERT_EQUAL_FATAL(p[i], 0.0f);

	/* A regression holdout has no accuracy. */
	struct mb_trainer_holdout *reg = NULL;
	CU_ASSERT_EQUAL_FATAL(mb_trainer_holdout_new(2, 16, NF, NT, false, &reg), 0);
	CU_ASSERT(isnan(mb_trainer_holdout_accuracy(reg)));
	mb_trainer_holdout_free(reg);
	mb_batch_free(b);
	mb_trainer_holdout_free(ho);
	mb_learner_free(l);
}

static void restore_holds_out_the_same_samples(void)
{
	struct mb_trainer_holdout *a = NULL, *b = NULL;
	CU_ASSERT_EQUAL_FATAL(mb_trainer_holdout_new(5, 7, NF, NT, true, &a), 0);
	CU_ASSERT_EQUAL_FATAL(mb_trainer_holdout_new(5, 7, NF, NT, true, &b), 0);
	/* a sees three batches of 7; b sees one, is saved, and a fresh one continues. */
	struct mb_batch *x = numbered_batch(7, 0), *y = numbered_batch(7, 0);
	mb_trainer_holdout_split(a, x);
	mb_trainer_holdout_split(b, y);
	mb_holdout_add(&b->h, 0.5, 1, 1);
	struct mb_holdout_counters saved;
	mb_trainer_holdout_save(b, &saved);
	CU_ASSERT_EQUAL(saved.seen, 7);
	CU_ASSERT_EQUAL(saved.taken, 1);
	mb_trainer_holdout_free(b);
	CU_ASSERT_EQUAL_FATAL(mb_trainer_holdout_new(5, 7, NF, NT, true, &b), 0);
	mb_trainer_holdout_restore(b, &saved);
	CU_ASSERT_DOUBLE_EQUAL(mb_trainer_holdout_cost(b), 0.5, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(mb_trainer_holdout_accuracy(b), 1.0, 1e-12);
	for (uint32_t first = 7; first < 21; first += 7) {
		struct mb_batch *p = numbered_batch(7, first), *q = numbered_batch(7, first);
		uint32_t ta = mb_trainer_holdout_split(a, p), tb = mb_trainer_holdout_split(b, q);
		CU_ASSERT_EQUAL(ta, tb);
		CU_ASSERT_EQUAL(p->rows, q->rows);
		CU_ASSERT_EQUAL(memcmp(p->x, q->x, (size_t)p->rows * NF * sizeof(float)), 0);
		CU_ASSERT_EQUAL(memcmp(a->x, b->x, (size_t)ta * NF * sizeof(float)), 0);
		mb_batch_free(p);
		mb_batch_free(q);
	}
	CU_ASSERT_EQUAL(a->h.taken, 4);
	CU_ASSERT_EQUAL(b->h.taken, 4);
	mb_batch_free(x);
	mb_batch_free(y);
	mb_trainer_holdout_free(a);
	mb_trainer_holdout_free(b);
}

int main(void)
{
	MB_SUITE("holdout", {"holdout/every_kth_in_order", split_takes_every_kth_in_order},
		 {"holdout/bad_settings", bad_settings_refused},
		 {"holdout/score", score_is_the_models_on_the_held_rows},
		 {"holdout/restore", restore_holds_out_the_same_samples});
	return mb_test_run();
}
