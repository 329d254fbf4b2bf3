/* SPDX-License-Identifier: MIT */
/*
 * test_daemon_push.c - the daemon learns Fashion-MNIST sent over PUSH.
 *
 * Three epochs of the training set go in as binary U8 messages of 100
 * samples; a subscriber rebuilds the model from the snapshot that follows
 * and scores it on the 10 000 test images: a softmax model reaches 83%.
 */
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "daemon_harness.h"
#include "test.h"

#define EPOCHS 3
#define PER_MSG 100
/*
 * Plain SGD ends wherever its last noisy steps leave it (80-83% here);
 * Adam with a decaying rate settles, which makes the bar a fair one.
 */
#define LEARN_OPTS "optimizer.kind=adam", "optimizer.lr=0.002", "optimizer.schedule=invsqrt", "optimizer.decay=0.001"

static struct mb_dataset *train, *test;

static void push_learns_fashion(void)
{
	struct harness h;
	const char *opts[] = {LEARN_OPTS, "publish.every_batches=200", NULL};
	CU_ASSERT_FATAL(harness_start(&h, opts) == 0);
	void *sub = harness_subscribe(&h, "softmax");

	void *push = harness_connect(&h, ZMQ_PUSH, "ingest");
	CU_ASSERT_FATAL(push != NULL);
	size_t cap = mb_sample_bin_size(PER_MSG, train->n_features, 1, MB_ELEM_U8, false);
	uint8_t *msg = malloc(cap);
	CU_ASSERT_FATAL(msg != NULL);
	uint64_t sent = 0;
	for (int e = 0; e < EPOCHS; e++) {
		for (uint32_t i = 0; i + PER_MSG <= train->count; i += PER_MSG) {
			size_t n = harness_encode_u8(train, i, PER_MSG, msg, cap);
			CU_ASSERT_FATAL(n > 0);
			CU_ASSERT_FATAL(zmq_send(push, msg, n, 0) == (int)n);
			sent += PER_MSG;
		}
	}
	free(msg);
	CU_ASSERT(harness_wait_trained(&h, sent, 60000));

	char reply[8192];
	CU_ASSERT(harness_control(&h, "snapshot", reply, sizeof reply) == 0);
	CU_ASSERT(strstr(reply, "\"ok\":true") != NULL);
	uint8_t *body = NULL;
	size_t len = 0;
	CU_ASSERT_FATAL(harness_recv_snapshot_after(sub, sent, 5000, &body, &len) == 0);
	double acc = harness_score(body, len, test);
	fprintf(stderr, "test accuracy after %d epochs over PUSH: %.4f\n", EPOCHS, acc);
	CU_ASSERT(acc >= 0.83);
	free(body);

	CU_ASSERT(harness_control(&h, "stats", reply, sizeof reply) == 0);
	CU_ASSERT(harness_json_num(reply, "\"name\":\"in\"", "received") == (double)sent);
	CU_ASSERT(harness_json_num(reply, "\"name\":\"in\"", "rejected") == 0);
	zmq_close(push);
	zmq_close(sub);
	CU_ASSERT(harness_stop(&h, 20000) == 0);
}

int main(void)
{
	if (harness_load_fashion(&train, &test) < 0)
		return 1;
	MB_SUITE("daemon_push", {"push/learns_fashion", push_learns_fashion});
	int r = mb_test_run();
	mb_dataset_free(train);
	mb_dataset_free(test);
	return r;
}
