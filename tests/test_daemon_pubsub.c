/* SPDX-License-Identifier: MIT */
/*
 * test_daemon_pubsub.c - the daemon learns Fashion-MNIST from a PUB socket.
 *
 * The daemon's source is a SUB socket subscribed to one topic; the test
 * publishes the training set under that topic, and the same messages under
 * another topic that the daemon must never see. PUB drops what a slow
 * subscriber cannot take, so the sender keeps at most a window of messages
 * ahead of what the daemon has received.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "daemon_harness.h"
#include "test.h"

#define EPOCHS 3
#define PER_MSG 100
#define WINDOW_SAMPLES (200 * PER_MSG) /* well under the SUB socket's 1000-message queue */
#define LEARN_OPTS "optimizer.kind=adam", "optimizer.lr=0.002", "optimizer.schedule=invsqrt", "optimizer.decay=0.001"

static struct mb_dataset *train, *test;

static uint64_t received(struct harness *h)
{
	char reply[8192];
	if (harness_control(h, "stats", reply, sizeof reply) < 0)
		return 0;
	double v = harness_json_num(reply, "\"name\":\"in\"", "received");
	return v == v ? (uint64_t)v : 0;
}

static int publish(void *pub, const char *topic, const void *msg, size_t n)
{
	if (zmq_send(pub, topic, strlen(topic), ZMQ_SNDMORE) < 0)
		return -1;
	return zmq_send(pub, msg, n, 0) == (int)n ? 0 : -1;
}

static void sub_learns_fashion_on_topic(void)
{
	struct harness h;
	const char *opts[] = {LEARN_OPTS, "source.in.pattern=sub", "source.in.topics=fashion",
			      "model.name=fashion-model", "publish.every_batches=0", NULL};
	CU_ASSERT_FATAL(harness_start(&h, opts) == 0);
	void *sub = harness_subscribe(&h, "fashion-model");

	/*
	 * An XPUB is a PUB that also shows the subscriptions it gets: once the
	 * daemon's "fashion" subscription has arrived nothing sent is lost to
	 * a connection still being set up.
	 */
	void *pub = harness_connect(&h, ZMQ_XPUB, "ingest");
	CU_ASSERT_FATAL(pub != NULL);
	zmq_pollitem_t it = {.socket = pub, .events = ZMQ_POLLIN};
	CU_ASSERT_FATAL(zmq_poll(&it, 1, 10000) == 1);
	char subscription[64];
	int got = zmq_recv(pub, subscription, sizeof subscription, 0);
	CU_ASSERT_FATAL(got == 8 && memcmp(subscription, "\x01" "fashion", 8) == 0);

	size_t cap = mb_sample_bin_size(PER_MSG, train->n_features, 1, MB_ELEM_U8, false);
	uint8_t *msg = malloc(cap);
	CU_ASSERT_FATAL(msg != NULL);
	size_t n;
	uint64_t sent = 0;
	for (int e = 0; e < EPOCHS; e++) {
		for (uint32_t i = 0; i + PER_MSG <= train->count; i += PER_MSG) {
			n = harness_encode_u8(train, i, PER_MSG, msg, cap);
			CU_ASSERT_FATAL(publish(pub, "fashion", msg, n) == 0);
			/* The same samples under a topic the daemon did not subscribe to. */
			if (i % (10 * PER_MSG) == 0)
				CU_ASSERT_FATAL(publish(pub, "other", msg, n) == 0);
			sent += PER_MSG;
			while (sent - received(&h) > WINDOW_SAMPLES)
				usleep(1000);
		}
	}
	free(msg);
	CU_ASSERT(harness_wait_trained(&h, sent, 60000));

	char reply[8192];
	CU_ASSERT(harness_control(&h, "stats", reply, sizeof reply) == 0);
	CU_ASSERT(harness_json_num(reply, "\"name\":\"in\"", "received") == (double)sent);
	CU_ASSERT(harness_json_num(reply, "\"name\":\"in\"", "queued") == (double)sent);
	CU_ASSERT(harness_json_num(reply, NULL, "samples") == (double)sent);

	CU_ASSERT(harness_control(&h, "snapshot", reply, sizeof reply) == 0);
	uint8_t *body = NULL;
	size_t len = 0;
	CU_ASSERT_FATAL(harness_recv_snapshot_after(sub, sent, 5000, &body, &len) == 0);
	struct mb_snap_info info;
	const uint8_t *params;
	CU_ASSERT_FATAL(mb_snap_decode(body, len, &info, &params, NULL) == 0);
	CU_ASSERT(info.samples == sent);
	double acc = harness_score(body, len, test);
	fprintf(stderr, "test accuracy after %d epochs over PUB/SUB: %.4f\n", EPOCHS, acc);
	CU_ASSERT(acc >= 0.83);
	free(body);
	zmq_close(pub);
	zmq_close(sub);
	CU_ASSERT(harness_stop(&h, 20000) == 0);
}

int main(void)
{
	if (harness_load_fashion(&train, &test) < 0)
		return 1;
	MB_SUITE("daemon_pubsub", {"pubsub/learns_fashion_on_topic", sub_learns_fashion_on_topic});
	int r = mb_test_run();
	mb_dataset_free(train);
	mb_dataset_free(test);
	return r;
}
