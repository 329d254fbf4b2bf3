/* SPDX-License-Identifier: MIT */
/*
 * test_daemon_snapshot.c - how snapshots reach subscribers.
 *
 * A subscriber that joins late is sent the current snapshot at once, with
 * no training needed to trigger it; and before any sample there is no
 * model, which a "snapshot" request says plainly.
 */
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "daemon_harness.h"
#include "test.h"

#define PER_MSG 100
#define MESSAGES 5

static struct mb_dataset *train;

static void snapshot_refused_before_model(void)
{
	struct harness h;
	CU_ASSERT_FATAL(harness_start(&h, NULL) == 0);
	char reply[4096];
	CU_ASSERT(harness_control(&h, "snapshot", reply, sizeof reply) == 0);
	CU_ASSERT(strstr(reply, "\"ok\":false") != NULL);
	CU_ASSERT(strstr(reply, "no model") != NULL);
	CU_ASSERT(harness_stop(&h, 10000) == 0);
}

static uint64_t version_of(const uint8_t *body, size_t len)
{
	struct mb_snap_info info;
	const uint8_t *params;
	return mb_snap_decode(body, len, &info, &params, NULL) == 0 ? info.version : UINT64_MAX;
}

static void late_joiner_gets_current_snapshot(void)
{
	struct harness h;
	/* Neither count nor clock publishes: every snapshot seen comes from a request or a resend. */
	const char *opts[] = {"publish.every_batches=0", "publish.every_ms=0", NULL};
	CU_ASSERT_FATAL(harness_start(&h, opts) == 0);
	void *early = harness_subscribe(&h, "softmax");

	void *push = harness_connect(&h, ZMQ_PUSH, "ingest");
	CU_ASSERT_FATAL(push != NULL);
	size_t cap = mb_sample_bin_size(PER_MSG, train->n_features, 1, MB_ELEM_U8, false);
	uint8_t *msg = malloc(cap);
	CU_ASSERT_FATAL(msg != NULL);
	for (uint32_t i = 0; i < MESSAGES; i++) {
		size_t n = harness_encode_u8(train, i * PER_MSG, PER_MSG, msg, cap);
		CU_ASSERT_FATAL(zmq_send(push, msg, n, 0) == (int)n);
	}
	free(msg);
	CU_ASSERT_FATAL(harness_wait_trained(&h, MESSAGES * PER_MSG, 10000));

	/* Ask until the early subscriber has one: its subscription may still be on its way. */
	char reply[4096];
	uint8_t *body = NULL;
	size_t len = 0;
	for (int i = 0; i < 50 && !body; i++) {
		CU_ASSERT_FATAL(harness_control(&h, "snapshot", reply, sizeof reply) == 0);
		CU_ASSERT_FATAL(strstr(reply, "\"ok\":true") != NULL);
		if (harness_recv_snapshot(early, 100, &body, &len) < 0)
			body = NULL;
	}
	CU_ASSERT_FATAL(body != NULL);
	uint64_t version = version_of(body, len);
	free(body);
	CU_ASSERT(harness_control(&h, "status", reply, sizeof reply) == 0);
	CU_ASSERT(harness_json_num(reply, NULL, "version") == (double)version);
	double samples = harness_json_num(reply, NULL, "samples");

	int64_t t0 = harness_now_ms();
	void *late = harness_subscribe(&h, "softmax");
	int r = harness_recv_snapshot(late, 200, &body, &len);
	int64_t took = harness_now_ms() - t0;
	CU_ASSERT_FATAL(r == 0);
	fprintf(stderr, "late joiner got the snapshot in %lld ms\n", (long long)took);
	CU_ASSERT(took <= 200);
	CU_ASSERT(version_of(body, len) == version);
	free(body);
	CU_ASSERT(harness_control(&h, "status", reply, sizeof reply) == 0);
	CU_ASSERT(harness_json_num(reply, NULL, "samples") == samples);
	CU_ASSERT(harness_json_num(reply, NULL, "version") == (double)version);

	zmq_close(late);
	zmq_close(early);
	zmq_close(push);
	CU_ASSERT(harness_stop(&h, 10000) == 0);
}

int main(void)
{
	const char *dir = mb_test_fashion_dir();
	if (mb_dataset_load_fashion(dir, "train", &train, NULL) < 0) {
		fprintf(stderr, "cannot load Fashion-MNIST from %s\n", dir);
		return 1;
	}
	MB_SUITE("daemon_snapshot", {"snapshot/refused_before_model", snapshot_refused_before_model},
		 {"snapshot/late_joiner_gets_current", late_joiner_gets_current_snapshot});
	int r = mb_test_run();
	mb_dataset_free(train);
	return r;
}
