/* SPDX-License-Identifier: MIT */
/*
 * test_daemon_filesrc.c - the daemon learns Fashion-MNIST from its IDX files.
 *
 * The daemon reads the gzipped training images and labels itself through
 * its io_uring file source (three shuffled epochs), with the embedded
 * optimizer defaults; a subscriber rebuilds the model from a snapshot taken
 * once every sample is trained and scores it on the 10 000 test images: a
 * softmax model reaches 83%. The same run with io_uring refused (the pread
 * fallback) must learn exactly the same model.
 */
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "daemon_harness.h"
#include "test.h"

#define EPOCHS 3

static struct mb_dataset *train, *test;

/* Run the daemon on the IDX pair; the final snapshot's body, or NULL. */
static uint8_t *learn_from_files(size_t *ret_len)
{
	const char *dir = mb_test_fashion_dir();
	char path[4200], labels[4200], epochs[64];
	snprintf(path, sizeof path, "source.idx.path=%s/train-images-idx3-ubyte.gz", dir);
	snprintf(labels, sizeof labels, "source.idx.labels=%s/train-labels-idx1-ubyte.gz", dir);
	snprintf(epochs, sizeof epochs, "source.idx.epochs=%d", EPOCHS);
	const char *opts[] = {"source.idx.type=file", path, labels, epochs, "source.idx.shuffle=true",
			      "publish.every_batches=1000", NULL};
	struct harness h;
	if (harness_start_without_source(&h, opts) != 0)
		return NULL;
	void *sub = harness_subscribe(&h, "softmax");
	uint64_t total = (uint64_t)EPOCHS * train->count;
	uint8_t *body = NULL;
	char reply[8192];
	CU_ASSERT(harness_wait_trained(&h, total, 120000));
	CU_ASSERT(harness_control(&h, "stats", reply, sizeof reply) == 0);
	/* Shuffled epochs read the file once and queue each record once per epoch. */
	CU_ASSERT(harness_json_num(reply, "\"name\":\"idx\"", "received") == (double)train->count);
	CU_ASSERT(harness_json_num(reply, "\"name\":\"idx\"", "queued") == (double)total);
	CU_ASSERT(harness_json_num(reply, "\"name\":\"idx\"", "rejected") == 0);
	CU_ASSERT(harness_control(&h, "snapshot", reply, sizeof reply) == 0);
	if (harness_recv_snapshot_after(sub, total, 5000, &body, ret_len) != 0)
		body = NULL;
	zmq_close(sub);
	CU_ASSERT(harness_stop(&h, 20000) == 0);
	return body;
}

static void filesrc_learns_fashion(void)
{
	size_t len = 0, len2 = 0;
	uint8_t *body = learn_from_files(&len);
	CU_ASSERT_FATAL(body != NULL);
	double acc = harness_score(body, len, test);
	fprintf(stderr, "test accuracy after %d epochs read from the IDX files: %.4f\n", EPOCHS, acc);
	CU_ASSERT(acc >= 0.83);

	/* The pread fallback reads the same records in the same order. */
	setenv("MINIBATCHD_NO_IO_URING", "1", 1);
	uint8_t *body2 = learn_from_files(&len2);
	unsetenv("MINIBATCHD_NO_IO_URING");
	CU_ASSERT_FATAL(body2 != NULL);
	struct mb_snap_info a, b;
	const uint8_t *pa, *pb;
	CU_ASSERT_FATAL(mb_snap_decode(body, len, &a, &pa, NULL) == 0);
	CU_ASSERT_FATAL(mb_snap_decode(body2, len2, &b, &pb, NULL) == 0);
	CU_ASSERT(a.n_params == b.n_params && a.samples == b.samples);
	CU_ASSERT(memcmp(pa, pb, (size_t)a.n_params * 4) == 0);
	free(body);
	free(body2);
}

int main(void)
{
	if (harness_load_fashion(&train, &test) < 0)
		return 1;
	MB_SUITE("daemon_filesrc", {"filesrc/learns_fashion_from_idx", filesrc_learns_fashion});
	int r = mb_test_run();
	mb_dataset_free(train);
	mb_dataset_free(test);
	return r;
}
