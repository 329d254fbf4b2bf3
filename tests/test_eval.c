/* SPDX-License-Identifier: MIT */
/*
 * test_eval.c - moving averages, progressive validation and the holdout,
 * against values worked out by hand.
 */
#include <errno.h>
#include <math.h>

#include "eval.h"
#include "test.h"

#define NEAR(a, b) (fabs((a) - (b)) < 1e-12)

static void test_ewma_first_value(void)
{
	struct mb_ewma e;
	CU_ASSERT_EQUAL_FATAL(mb_ewma_init(&e, 0.1), 0);
	CU_ASSERT(isnan(mb_ewma_value(&e)));
	mb_ewma_add(&e, 7.5);
	CU_ASSERT_EQUAL(mb_ewma_value(&e), 7.5); /* not 0.75: the first value sets it */
	mb_ewma_reset(&e);
	CU_ASSERT(isnan(mb_ewma_value(&e)));
	mb_ewma_add_n(&e, 3.0, 0);
	CU_ASSERT(isnan(mb_ewma_value(&e)));
	mb_ewma_add_n(&e, 3.0, 10);
	CU_ASSERT_EQUAL(mb_ewma_value(&e), 3.0);
}

static void test_ewma_alpha(void)
{
	struct mb_ewma e;
	CU_ASSERT_EQUAL_FATAL(mb_ewma_init(&e, 0.5), 0);
	mb_ewma_add(&e, 4.0);
	mb_ewma_add(&e, 8.0); /* 4 + 0.5 (8 - 4) = 6 */
	CU_ASSERT(NEAR(mb_ewma_value(&e), 6.0));
	mb_ewma_add(&e, 2.0); /* 6 + 0.5 (2 - 6) = 4 */
	CU_ASSERT(NEAR(mb_ewma_value(&e), 4.0));

	CU_ASSERT_EQUAL_FATAL(mb_ewma_init(&e, 0.25), 0);
	mb_ewma_add(&e, 0.0);
	mb_ewma_add(&e, 1.0); /* 0.25 */
	mb_ewma_add(&e, 1.0); /* 0.25 + 0.25 * 0.75 = 0.4375 */
	CU_ASSERT(NEAR(mb_ewma_value(&e), 0.4375));

	/* alpha 1 follows the last value. */
	CU_ASSERT_EQUAL_FATAL(mb_ewma_init(&e, 1.0), 0);
	mb_ewma_add(&e, 1.0);
	mb_ewma_add(&e, -3.0);
	CU_ASSERT_EQUAL(mb_ewma_value(&e), -3.0);
	mb_ewma_add_n(&e, 5.0, 3);
	CU_ASSERT_EQUAL(mb_ewma_value(&e), 5.0);
}

static void test_ewma_half_life(void)
{
	struct mb_ewma e;
	CU_ASSERT_EQUAL_FATAL(mb_ewma_init_half_life(&e, 2.0), 0);
	CU_ASSERT(NEAR(e.alpha, 1.0 - 1.0 / sqrt(2.0)));
	mb_ewma_add(&e, 0.0);
	mb_ewma_add(&e, 1.0);
	mb_ewma_add(&e, 1.0); /* two samples of 1: half the way from 0 */
	CU_ASSERT(NEAR(mb_ewma_value(&e), 0.5));

	/* A batch of n equal samples is n single samples. */
	struct mb_ewma one, batch;
	CU_ASSERT_EQUAL_FATAL(mb_ewma_init_half_life(&one, 100.0), 0);
	CU_ASSERT_EQUAL_FATAL(mb_ewma_init_half_life(&batch, 100.0), 0);
	mb_ewma_add(&one, 10.0);
	mb_ewma_add(&batch, 10.0);
	for (int i = 0; i < 100; i++)
		mb_ewma_add(&one, 2.0);
	mb_ewma_add_n(&batch, 2.0, 100);
	CU_ASSERT(fabs(mb_ewma_value(&one) - 6.0) < 1e-9); /* halfway from 10 to 2 */
	CU_ASSERT(fabs(mb_ewma_value(&batch) - mb_ewma_value(&one)) < 1e-9);
}

static void test_ewma_invalid(void)
{
	struct mb_ewma e = {.alpha = 0.3};
	CU_ASSERT_EQUAL(mb_ewma_init(&e, 0.0), -EINVAL);
	CU_ASSERT_EQUAL(mb_ewma_init(&e, 1.5), -EINVAL);
	CU_ASSERT_EQUAL(mb_ewma_init(&e, NAN), -EINVAL);
	CU_ASSERT_EQUAL(mb_ewma_init_half_life(&e, 0.5), -EINVAL);
	CU_ASSERT_EQUAL(mb_ewma_init_half_life(&e, INFINITY), -EINVAL);
	CU_ASSERT_EQUAL(mb_ewma_init_half_life(&e, NAN), -EINVAL);
	CU_ASSERT_EQUAL(e.alpha, 0.3);
}

static void test_progval(void)
{
	struct mb_progval pv = {0};
	CU_ASSERT(isnan(mb_eval_acc_cost(&pv.total)));
	CU_ASSERT(isnan(mb_eval_acc_accuracy(&pv.total)));

	mb_progval_add(&pv, 2.0, 10, 7);
	mb_progval_add(&pv, 0.5, 30, 27);
	/* (2 * 10 + 0.5 * 30) / 40 = 0.875; (7 + 27) / 40 = 0.85 */
	CU_ASSERT(NEAR(mb_eval_acc_cost(&pv.total), 0.875));
	CU_ASSERT(NEAR(mb_eval_acc_accuracy(&pv.total), 0.85));

	struct mb_eval_acc closed;
	mb_progval_window_reset(&pv, &closed);
	CU_ASSERT_EQUAL(closed.rows, 40);
	CU_ASSERT(NEAR(mb_eval_acc_cost(&closed), 0.875));
	CU_ASSERT_EQUAL(pv.window.rows, 0);
	CU_ASSERT(isnan(mb_eval_acc_cost(&pv.window)));

	mb_progval_add(&pv, 1.0, 10, 5);
	CU_ASSERT(NEAR(mb_eval_acc_cost(&pv.window), 1.0));
	CU_ASSERT(NEAR(mb_eval_acc_accuracy(&pv.window), 0.5));
	/* (35 + 10) / 50 = 0.9; 39 / 50 = 0.78 */
	CU_ASSERT_EQUAL(pv.total.rows, 50);
	CU_ASSERT(NEAR(mb_eval_acc_cost(&pv.total), 0.9));
	CU_ASSERT(NEAR(mb_eval_acc_accuracy(&pv.total), 0.78));

	CU_ASSERT(NEAR(mb_eval_accuracy(3, 4), 0.75));
	CU_ASSERT(isnan(mb_eval_accuracy(0, 0)));
}

static void test_holdout(void)
{
	struct mb_holdout h;
	mb_holdout_init(&h, 3);
	static const bool expect[10] = {false, false, true, false, false,
					true, false, false, true, false};
	for (int i = 0; i < 10; i++)
		CU_ASSERT_EQUAL(mb_holdout_take(&h), expect[i]);
	CU_ASSERT_EQUAL(h.seen, 10);
	CU_ASSERT_EQUAL(h.taken, 3);

	mb_holdout_add(&h, 0.5, 2, 1);
	mb_holdout_add(&h, 2.0, 2, 2);
	CU_ASSERT(NEAR(mb_eval_acc_cost(&h.acc), 1.25));
	CU_ASSERT(NEAR(mb_eval_acc_accuracy(&h.acc), 0.75));

	mb_holdout_init(&h, 0);
	for (int i = 0; i < 100; i++)
		CU_ASSERT_FALSE(mb_holdout_take(&h));
	CU_ASSERT_EQUAL(h.taken, 0);
	CU_ASSERT_EQUAL(h.acc.rows, 0);

	mb_holdout_init(&h, 1);
	for (int i = 0; i < 5; i++)
		CU_ASSERT(mb_holdout_take(&h));
}

int main(void)
{
	MB_SUITE("eval", {"ewma_first_value", test_ewma_first_value},
		 {"ewma_alpha", test_ewma_alpha}, {"ewma_half_life", test_ewma_half_life},
		 {"ewma_invalid", test_ewma_invalid}, {"progval", test_progval},
		 {"holdout", test_holdout});
	return mb_test_run();
}
