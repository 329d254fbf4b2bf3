/* SPDX-License-Identifier: MIT */
/*
 * test_daemon_divergence.c - a poisoned stream is rolled back, and the
 * model recovers.
 *
 * The daemon learns from good Fashion-MNIST rows, then receives batches
 * whose pixels are scaled by 1e6 and whose labels are random: with the
 * learning rate as configured their cost explodes. The divergence guard
 * must roll back to the last good state (status "rollbacks" >= 1), lower
 * the learning rate once for the whole burst (halved, not halved per bad
 * batch), say so in one log line per rollback, and keep
 * learning: after more good rows the published model scores >= 0.75 on
 * t10k.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "daemon_harness.h"
#include "rng.h"
#include "sample.h"
#include "test.h"

#define PER_MSG    100
#define GOOD_FIRST 30000u /* rows before the poison: well past the warm-up of 50 batches */
#define POISONED   5u     /* messages of PER_MSG poisoned rows */
#define GOOD_AFTER 20000u /* rows after it */
#define LR         0.05   /* the configured rate (adagrad, the default kind) */

static struct mb_dataset *train, *test;

/* Rows [first, first + count) of train, cycled, as U8 messages. */
static void send_good(void *push, uint32_t first, uint32_t count, uint8_t *buf, size_t cap)
{
	for (uint32_t i = 0; i < count; i += PER_MSG) {
		size_t n = harness_encode_u8(train, (first + i) % (train->count - PER_MSG), PER_MSG, buf, cap);
		CU_ASSERT_FATAL(n > 0);
		CU_ASSERT_FATAL(zmq_send(push, buf, n, 0) == (int)n);
	}
}

/* POISONED messages of float rows: pixels times 1e6, labels drawn at random. */
static void send_poison(void *push)
{
	size_t nx = (size_t)PER_MSG * train->n_features;
	float *x = malloc(nx * sizeof *x), y[PER_MSG];
	size_t cap = mb_sample_bin_size(PER_MSG, train->n_features, 1, MB_ELEM_F32, false);
	uint8_t *buf = malloc(cap);
	CU_ASSERT_FATAL(x && buf);
	struct mb_rng rng;
	mb_rng_seed(&rng, 7);
	for (uint32_t m = 0; m < POISONED; m++) {
		for (size_t i = 0; i < nx; i++)
			x[i] = train->x[(size_t)m * nx + i] * 1e6f;
		for (uint32_t r = 0; r < PER_MSG; r++)
			y[r] = (float)(mb_rng_u64(&rng) % 10);
		struct mb_sample_batch b = {.count = PER_MSG, .n_features = train->n_features, .n_targets = 1,
					    .x = x, .y = y, .elem = MB_ELEM_F32, .scale = 1, .offset = 0};
		long n = mb_sample_bin_encode(buf, cap, &b);
		CU_ASSERT_FATAL(n > 0);
		CU_ASSERT_FATAL(zmq_send(push, buf, (size_t)n, 0) == (int)n);
	}
	free(buf);
	free(x);
}

/* Ask for a snapshot that has learned at least samples rows and score it on t10k. */
static double score_now(struct harness *h, void *sub, uint64_t samples)
{
	char reply[4096];
	CU_ASSERT(harness_control(h, "snapshot", reply, sizeof reply) == 0);
	uint8_t *body = NULL;
	size_t len = 0;
	if (harness_recv_snapshot_after(sub, samples, 10000, &body, &len) < 0)
		return -1;
	double acc = harness_score(body, len, test);
	free(body);
	return acc;
}

static void poison_rolled_back_and_recovers(void)
{
	struct harness h;
	const char *opts[] = {"batch.size=100", "optimizer.lr=0.05", "publish.every_batches=0", NULL};
	CU_ASSERT_FATAL(harness_start(&h, opts) == 0);
	void *sub = harness_subscribe(&h, "softmax");
	void *push = harness_connect(&h, ZMQ_PUSH, "ingest");
	CU_ASSERT_FATAL(push != NULL);
	size_t cap = mb_sample_bin_size(PER_MSG, train->n_features, 1, MB_ELEM_U8, false);
	uint8_t *buf = malloc(cap);
	CU_ASSERT_FATAL(buf != NULL);

	send_good(push, 0, GOOD_FIRST, buf, cap);
	CU_ASSERT_FATAL(harness_wait_trained(&h, GOOD_FIRST, 60000));
	double before = score_now(&h, sub, GOOD_FIRST);
	char status[4096];
	CU_ASSERT_FATAL(harness_control(&h, "status", status, sizeof status) == 0);
	CU_ASSERT(harness_json_num(status, NULL, "rollbacks") == 0); /* good rows never trip the guard */

	send_poison(push);
	/* The poisoned rows are either learned and undone (counted) or refused (skipped): wait for either. */
	int64_t deadline = harness_now_ms() + 30000;
	double rollbacks = 0;
	while (harness_now_ms() < deadline) {
		CU_ASSERT_FATAL(harness_control(&h, "status", status, sizeof status) == 0);
		rollbacks = harness_json_num(status, NULL, "rollbacks");
		if (rollbacks >= 1)
			break;
	}
	CU_ASSERT(rollbacks >= 1);
	double lr = harness_json_num(status, NULL, "lr");
	CU_ASSERT(lr < LR * 0.75);

	send_good(push, GOOD_FIRST, GOOD_AFTER, buf, cap);
	CU_ASSERT(harness_wait_trained(&h, GOOD_FIRST + GOOD_AFTER, 60000));
	double after = score_now(&h, sub, GOOD_FIRST + GOOD_AFTER);
	CU_ASSERT_FATAL(harness_control(&h, "status", status, sizeof status) == 0);
	fprintf(stderr, "t10k accuracy: %.4f before the poison, %.4f after; rollbacks %g, lr %g -> %g\n", before,
		after, harness_json_num(status, NULL, "rollbacks"), LR, harness_json_num(status, NULL, "lr"));
	CU_ASSERT(after >= 0.75);
	/* The poisoned batches came in a row: one divergence, the rate halved once. */
	CU_ASSERT(fabs(harness_json_num(status, NULL, "lr") - LR * 0.5) < 1e-6);
	/* One warning line per rollback, with the figures. */
	CU_ASSERT(harness_log_contains(&h, "trainer: divergence: cost"));
	CU_ASSERT(harness_log_count(&h, "batches undone, back to version") ==
		  (unsigned)harness_json_num(status, NULL, "rollbacks"));
	CU_ASSERT(isfinite(harness_json_num(status, NULL, "cost")));
	if (after < 0.75)
		harness_dump_log(&h);

	free(buf);
	zmq_close(push);
	zmq_close(sub);
	CU_ASSERT(harness_stop(&h, 20000) == 0);
}

/* guard.enabled=false: the same poison is not rolled back (the learner's own guard still skips NaN). */
static void disabled_guard_does_nothing(void)
{
	struct harness h;
	const char *opts[] = {"batch.size=100", "guard.enabled=false", NULL};
	CU_ASSERT_FATAL(harness_start(&h, opts) == 0);
	void *push = harness_connect(&h, ZMQ_PUSH, "ingest");
	CU_ASSERT_FATAL(push != NULL);
	size_t cap = mb_sample_bin_size(PER_MSG, train->n_features, 1, MB_ELEM_U8, false);
	uint8_t *buf = malloc(cap);
	CU_ASSERT_FATAL(buf != NULL);
	send_good(push, 0, 10000, buf, cap);
	send_poison(push);
	send_good(push, 10000, 1000, buf, cap);
	CU_ASSERT(harness_wait_trained(&h, 11000, 60000));
	char status[4096];
	CU_ASSERT_FATAL(harness_control(&h, "status", status, sizeof status) == 0);
	CU_ASSERT(harness_json_num(status, NULL, "rollbacks") == 0);
	CU_ASSERT(harness_json_num(status, NULL, "lr") == LR);
	CU_ASSERT(!harness_log_contains(&h, "trainer: divergence"));
	free(buf);
	zmq_close(push);
	CU_ASSERT(harness_stop(&h, 20000) == 0);
}

int main(void)
{
	if (harness_load_fashion(&train, &test) < 0)
		return 1;
	MB_SUITE("daemon_divergence", {"divergence/poison_rolled_back", poison_rolled_back_and_recovers},
		 {"divergence/disabled", disabled_guard_does_nothing});
	int r = mb_test_run();
	mb_dataset_free(train);
	mb_dataset_free(test);
	return r;
}
