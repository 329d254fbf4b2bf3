/* SPDX-License-Identifier: MIT */
/*
 * test_divergence.c - the divergence guard's verdicts on hand-made costs.
 *
 * The trainer rolls back, saves or carries on as mb_divergence_judge
 * says, so these sequences pin down when a model is declared diverged:
 * never on a sane stream, at once on a non-finite cost, on a leap over
 * factor times the average only after the warm-up, and a save every
 * `every` sane batches.
 */
#include <errno.h>
#include <math.h>

#include "divergence.h"
#include "test.h"

static struct mb_divergence_cfg cfg_of(double factor, uint32_t warmup, uint32_t every)
{
	struct mb_divergence_cfg c;
	mb_divergence_cfg_default(&c);
	c.factor = factor;
	c.warmup = warmup;
	c.every = every;
	return c;
}

static void defaults_are_documented(void)
{
	struct mb_divergence_cfg c;
	mb_divergence_cfg_default(&c);
	CU_ASSERT(c.enabled);
	CU_ASSERT_DOUBLE_EQUAL(c.factor, 10.0, 0);
	CU_ASSERT_EQUAL(c.warmup, 50);
	CU_ASSERT_EQUAL(c.every, 100);
	CU_ASSERT_DOUBLE_EQUAL(c.lr_factor, 0.5, 0);
	CU_ASSERT_EQUAL(mb_divergence_cfg_check(&c), 0);
}

static void bad_settings_refused(void)
{
	struct mb_divergence_cfg c = cfg_of(1.0, 5, 10);
	CU_ASSERT_EQUAL(mb_divergence_cfg_check(&c), -EINVAL); /* factor 1: every batch over the average */
	c = cfg_of(NAN, 5, 10);
	CU_ASSERT_EQUAL(mb_divergence_cfg_check(&c), -EINVAL);
	c = cfg_of(10, 5, 0);
	CU_ASSERT_EQUAL(mb_divergence_cfg_check(&c), -EINVAL);
	c = cfg_of(10, 5, 10);
	c.lr_factor = 0;
	CU_ASSERT_EQUAL(mb_divergence_cfg_check(&c), -EINVAL);
	c.lr_factor = 1.5;
	CU_ASSERT_EQUAL(mb_divergence_cfg_check(&c), -EINVAL);
	c.lr_factor = 1;
	CU_ASSERT_EQUAL(mb_divergence_cfg_check(&c), 0);
}

/* A falling, noisy cost like a healthy run's: never a rollback; a save every `every` batches. */
static void sane_stream_saves_on_schedule(void)
{
	struct mb_divergence_cfg c = cfg_of(10, 50, 100);
	struct mb_divergence d;
	mb_divergence_init(&d, &c);
	unsigned saves = 0;
	for (unsigned i = 1; i <= 1000; i++) {
		double cost = 2.3 * exp(-(double)i / 200.0) + 0.3 + 0.2 * ((i * 7919u) % 13) / 13.0;
		enum mb_divergence_verdict v = mb_divergence_judge(&d, cost);
		CU_ASSERT_NOT_EQUAL(v, MB_DIVERGENCE_ROLLBACK);
		if (v == MB_DIVERGENCE_SAVE) {
			CU_ASSERT_EQUAL(i % 100, 0);
			saves++;
		}
	}
	CU_ASSERT_EQUAL(saves, 10);
	CU_ASSERT_EQUAL(d.sane, 1000);
}

static void nonfinite_rolls_back_at_once(void)
{
	struct mb_divergence_cfg c = cfg_of(10, 50, 100);
	struct mb_divergence d;
	mb_divergence_init(&d, &c);
	/* Even the very first batch, before any warm-up: NaN is never sane. */
	CU_ASSERT_EQUAL(mb_divergence_judge(&d, NAN), MB_DIVERGENCE_ROLLBACK);
	CU_ASSERT_EQUAL(d.cause, MB_DIVERGENCE_NONFINITE);
	CU_ASSERT_STRING_EQUAL(mb_divergence_cause_name(d.cause), "nonfinite");
	CU_ASSERT_EQUAL(mb_divergence_judge(&d, 1.0), MB_DIVERGENCE_OK);
	CU_ASSERT_EQUAL(d.cause, MB_DIVERGENCE_NONE);
	CU_ASSERT_EQUAL(mb_divergence_judge(&d, INFINITY), MB_DIVERGENCE_ROLLBACK);
	CU_ASSERT_EQUAL(mb_divergence_judge(&d, -INFINITY), MB_DIVERGENCE_ROLLBACK);
	CU_ASSERT_EQUAL(d.sane, 1); /* the bad ones did not count as sane */
}

/* A leap is tolerated during the warm-up and caught after it. */
static void jump_after_warmup(void)
{
	struct mb_divergence_cfg c = cfg_of(10, 5, 100);
	struct mb_divergence d;
	mb_divergence_init(&d, &c);
	CU_ASSERT_EQUAL(mb_divergence_judge(&d, 1.0), MB_DIVERGENCE_OK);
	CU_ASSERT_EQUAL(mb_divergence_judge(&d, 50.0), MB_DIVERGENCE_OK); /* 2nd batch: still warming up */
	for (int i = 0; i < 80; i++)
		CU_ASSERT_EQUAL(mb_divergence_judge(&d, 1.0), MB_DIVERGENCE_OK);
	/* The average forgets: 80 batches are five half-lives after the leap. */
	double avg = mb_ewma_value(&d.average);
	CU_ASSERT(avg > 1.0 && avg < 1.1);
	/* Just under factor x average is sane; well over it is not. */
	CU_ASSERT_EQUAL(mb_divergence_judge(&d, 9.0 * avg), MB_DIVERGENCE_OK);
	avg = mb_ewma_value(&d.average);
	CU_ASSERT_EQUAL(mb_divergence_judge(&d, 10.5 * avg), MB_DIVERGENCE_ROLLBACK);
	CU_ASSERT_EQUAL(d.cause, MB_DIVERGENCE_JUMP);
	CU_ASSERT_DOUBLE_EQUAL(d.last_average, avg, 1e-12);
	/* The rejected cost did not raise the bar: the same leap is caught again. */
	CU_ASSERT_DOUBLE_EQUAL(mb_ewma_value(&d.average), avg, 1e-12);
	CU_ASSERT_EQUAL(mb_divergence_judge(&d, 10.5 * avg), MB_DIVERGENCE_ROLLBACK);
}

/* A cost creeping up slowly moves the average with it: a drift is not a divergence. */
static void slow_drift_is_not_a_jump(void)
{
	struct mb_divergence_cfg c = cfg_of(10, 5, 1000);
	struct mb_divergence d;
	mb_divergence_init(&d, &c);
	double cost = 0.5;
	for (int i = 0; i < 500; i++, cost *= 1.02)
		CU_ASSERT_EQUAL(mb_divergence_judge(&d, cost), MB_DIVERGENCE_OK);
}

/* After a restart (reset, restore) the warm-up starts over and the old average is gone. */
static void restart_forgets(void)
{
	struct mb_divergence_cfg c = cfg_of(10, 3, 4);
	struct mb_divergence d;
	mb_divergence_init(&d, &c);
	for (int i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(mb_divergence_judge(&d, 0.1), MB_DIVERGENCE_OK);
	CU_ASSERT_EQUAL(mb_divergence_judge(&d, 5.0), MB_DIVERGENCE_ROLLBACK);
	mb_divergence_restart(&d);
	CU_ASSERT(isnan(mb_ewma_value(&d.average)));
	/* A new model's first costs may be far higher than the old average. */
	CU_ASSERT_EQUAL(mb_divergence_judge(&d, 5.0), MB_DIVERGENCE_OK);
	CU_ASSERT_EQUAL(mb_divergence_judge(&d, 4.0), MB_DIVERGENCE_OK);
	CU_ASSERT_EQUAL(mb_divergence_judge(&d, 3.0), MB_DIVERGENCE_OK);
	/* The save count restarted too: the 4th sane batch since the restart. */
	CU_ASSERT_EQUAL(mb_divergence_judge(&d, 3.0), MB_DIVERGENCE_SAVE);
}

static void disabled_never_acts(void)
{
	struct mb_divergence_cfg c = cfg_of(10, 0, 1);
	c.enabled = false;
	struct mb_divergence d;
	mb_divergence_init(&d, &c);
	CU_ASSERT_EQUAL(mb_divergence_judge(&d, 1.0), MB_DIVERGENCE_OK);
	CU_ASSERT_EQUAL(mb_divergence_judge(&d, NAN), MB_DIVERGENCE_OK);
	CU_ASSERT_EQUAL(mb_divergence_judge(&d, 1e30), MB_DIVERGENCE_OK);
}

int main(void)
{
	MB_SUITE("divergence", {"divergence/defaults", defaults_are_documented},
		 {"divergence/bad_settings", bad_settings_refused},
		 {"divergence/sane_stream_saves", sane_stream_saves_on_schedule},
		 {"divergence/nonfinite", nonfinite_rolls_back_at_once},
		 {"divergence/jump_after_warmup", jump_after_warmup},
		 {"divergence/slow_drift", slow_drift_is_not_a_jump},
		 {"divergence/restart", restart_forgets},
		 {"divergence/disabled", disabled_never_acts});
	return mb_test_run();
}
