/* SPDX-License-Identifier: MIT */
/*
 * test_daemon_flood.c - a flood is dropped, counted, and does not grow memory.
 *
 * The trainer is made slow (a wide MLP) and the batch pool tiny, with the
 * drop-newest policy; samples arrive far faster than they are learned.
 * Every sample must be accounted for exactly (sent = queued + dropped +
 * rejected, and the trainer learns exactly the queued ones), and the
 * daemon's peak memory must stay within what the configured queues allow,
 * however much was sent.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "daemon_harness.h"
#include "test.h"

#define PER_MSG 100
#define MESSAGES 2500       /* 250 000 samples, about 200 MB of messages */
#define BATCH 16
#define QUEUE_BATCHES 2
#define RCVHWM 8
#define SLACK_BYTES (24u << 20) /* allocator and ZeroMQ bookkeeping */

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

static struct mb_dataset *train;

/* VmHWM (peak resident set) of pid, in bytes; 0 if unreadable. */
static uint64_t peak_rss(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	uint64_t kib = 0;
	if (!f)
		return 0;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmHWM: %lu kB", &kib) == 1)
			break;
	fclose(f);
	return kib * 1024;
}

/*
 * Poll "stats" until the source has received every one of sent samples and
 * the trainer has learned every queued one; the last reply stays in stats.
 */
static bool wait_settled(struct harness *h, uint64_t sent, char *stats, size_t cap)
{
	const char *in = "\"name\":\"in\"";
	int64_t deadline = harness_now_ms() + 30000;
	while (harness_now_ms() < deadline) {
		if (harness_control(h, "stats", stats, cap) < 0)
			return false;
		double samples = harness_json_num(stats, NULL, "samples");
		if (harness_json_num(stats, in, "received") == (double)sent && samples > 0 &&
		    samples == harness_json_num(stats, in, "queued"))
			return true;
		usleep(20000);
	}
	return false;
}

static void flood_is_dropped_and_bounded(void)
{
	struct harness h;
	char opt_batch[64], opt_queue[64], opt_hwm[64];
	snprintf(opt_batch, sizeof opt_batch, "batch.size=%d", BATCH);
	snprintf(opt_queue, sizeof opt_queue, "batch.queue_batches=%d", QUEUE_BATCHES);
	snprintf(opt_hwm, sizeof opt_hwm, "source.in.rcvhwm=%d", RCVHWM);
	const char *opts[] = {"model.kind=mlp", "model.hidden=512,512", "batch.policy=drop-newest", opt_batch,
			      opt_queue, opt_hwm, NULL};
	CU_ASSERT_FATAL(harness_start(&h, opts) == 0);

	char ep[512];
	harness_endpoint(&h, "ingest", ep, sizeof ep);
	void *push = zmq_socket(h.zctx, ZMQ_PUSH);
	int hwm = RCVHWM;
	zmq_setsockopt(push, ZMQ_SNDHWM, &hwm, sizeof hwm);
	CU_ASSERT_FATAL(zmq_connect(push, ep) == 0);
	size_t cap = mb_sample_bin_size(PER_MSG, train->n_features, 1, MB_ELEM_U8, false);
	uint8_t *msg = malloc(cap);
	CU_ASSERT_FATAL(msg != NULL);

	/* One message first, so the model exists: the baseline includes it. */
	size_t n = harness_encode_u8(train, 0, PER_MSG, msg, cap);
	CU_ASSERT_FATAL(zmq_send(push, msg, n, 0) == (int)n);
	char first_stats[8192];
	CU_ASSERT_FATAL(wait_settled(&h, PER_MSG, first_stats, sizeof first_stats));
	uint64_t baseline = peak_rss(h.pid);
	CU_ASSERT_FATAL(baseline > 0);

	uint64_t sent = PER_MSG;
	for (uint32_t m = 1; m < MESSAGES; m++) {
		uint32_t first = (m * PER_MSG) % (train->count - PER_MSG);
		n = harness_encode_u8(train, first, PER_MSG, msg, cap);
		CU_ASSERT_FATAL(zmq_send(push, msg, n, 0) == (int)n);
		sent += PER_MSG;
	}
	free(msg);

	/* Wait for the daemon to take in everything, then for the trainer to finish what it queued. */
	char stats[8192];
	const char *in = "\"name\":\"in\"";
	CU_ASSERT(wait_settled(&h, sent, stats, sizeof stats));
	double received = harness_json_num(stats, in, "received");
	double queued = harness_json_num(stats, in, "queued");
	double samples = harness_json_num(stats, NULL, "samples");
	double dropped = harness_json_num(stats, in, "dropped");
	double rejected = harness_json_num(stats, in, "rejected");
	fprintf(stderr, "sent %llu: queued %.0f, dropped %.0f, rejected %.0f, trained %.0f\n",
		(unsigned long long)sent, queued, dropped, rejected, samples);
	CU_ASSERT(received == (double)sent);
	CU_ASSERT(queued + dropped + rejected == (double)sent);
	CU_ASSERT(rejected == 0);
	CU_ASSERT(dropped > (double)sent / 2);
	CU_ASSERT(samples == queued);

	/*
	 * The bound: the batch pool, the messages ZeroMQ may hold on the
	 * daemon's side (its receive queue plus the one being decoded), and
	 * a fixed slack; far below the megabytes that were sent.
	 */
	uint64_t pool = (uint64_t)QUEUE_BATCHES * BATCH * (train->n_features + 2) * sizeof(float);
	uint64_t zmq_bytes = (uint64_t)(RCVHWM + 2) * cap;
	uint64_t bound = baseline + pool + zmq_bytes + SLACK_BYTES;
	uint64_t peak = peak_rss(h.pid);
	fprintf(stderr, "peak RSS %.1f MiB (baseline %.1f MiB, bound %.1f MiB, %.1f MiB sent)\n", peak / 1048576.0,
		baseline / 1048576.0, bound / 1048576.0, (double)sent * (train->n_features + 4) / 1048576.0);
#ifdef UNDER_ASAN
	fprintf(stderr, "AddressSanitizer keeps freed memory in quarantine: RSS bound not checked\n");
#else
	CU_ASSERT(peak <= bound);
#endif
	zmq_close(push);
	CU_ASSERT(harness_stop(&h, 20000) == 0);
}

int main(void)
{
	const char *dir = mb_test_fashion_dir();
	if (mb_dataset_load_fashion(dir, "train", &train, NULL) < 0) {
		fprintf(stderr, "cannot load Fashion-MNIST from %s\n", dir);
		return 1;
	}
	MB_SUITE("daemon_flood", {"flood/dropped_and_bounded", flood_is_dropped_and_bounded});
	int r = mb_test_run();
	mb_dataset_free(train);
	return r;
}
