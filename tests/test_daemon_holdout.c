/* SPDX-License-Identifier: MIT */
/*
 * test_daemon_holdout.c - with eval.holdout_every = k the daemon keeps every
 * k-th sample out of training, scores it, and reports the figures.
 *
 * One epoch of the Fashion-MNIST training file, in file order, holding out
 * every 10th sample: 6 000 samples are scored and 54 000 learned from
 * (queued counts all 60 000), the held-out accuracy is that of a model which
 * learns (well above chance, below perfect), the recent held-out accuracy
 * agrees with the final model's accuracy on the separate test set. A
 * holdout of every sample is refused at start.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <zmq.h>

#include "daemon_harness.h"
#include "test.h"

static struct mb_dataset *train, *test;

static void holdout_scored_and_reported(void)
{
	const char *dir = mb_test_fashion_dir();
	char path[4200], labels[4200];
	snprintf(path, sizeof path, "source.idx.path=%s/train-images-idx3-ubyte.gz", dir);
	snprintf(labels, sizeof labels, "source.idx.labels=%s/train-labels-idx1-ubyte.gz", dir);
	const char *opts[] = {"source.idx.type=file", path, labels, "source.idx.epochs=1", "eval.holdout_every=10",
			      "publish.every_batches=100", NULL};
	struct harness h;
	CU_ASSERT_FATAL(harness_start_without_source(&h, opts) == 0);
	void *sub = harness_subscribe(&h, "softmax");
	uint64_t learned = train->count - train->count / 10;
	CU_ASSERT(harness_wait_trained(&h, learned, 120000));
	char reply[8192];
	CU_ASSERT_FATAL(harness_control(&h, "stats", reply, sizeof reply) == 0);
	CU_ASSERT(harness_json_num(reply, NULL, "samples") == (double)learned);
	CU_ASSERT(harness_json_num(reply, "\"name\":\"idx\"", "queued") == (double)train->count);
	CU_ASSERT(harness_json_num(reply, "\"holdout\"", "every") == 10);
	CU_ASSERT(harness_json_num(reply, "\"holdout\"", "samples") == (double)(train->count / 10));
	double total = harness_json_num(reply, "\"holdout\"", "accuracy");
	double recent = harness_json_num(reply, "\"holdout\"", "accuracy_average");
	double cost = harness_json_num(reply, "\"holdout\"", "cost");
	fprintf(stderr, "holdout: accuracy %.4f over the epoch, %.4f recently, cost %.4f\n", total, recent, cost);
	CU_ASSERT(total > 0.70 && total < 0.95);
	CU_ASSERT(recent >= total);
	CU_ASSERT(cost > 0.2 && cost < 1.0);

	/* The recent held-out accuracy predicts the accuracy on the test set. */
	uint8_t *body = NULL;
	size_t len = 0;
	CU_ASSERT(harness_control(&h, "snapshot", reply, sizeof reply) == 0);
	CU_ASSERT_FATAL(harness_recv_snapshot_after(sub, learned, 5000, &body, &len) == 0);
	double acc = harness_score(body, len, test);
	fprintf(stderr, "holdout: test-set accuracy of the final model %.4f\n", acc);
	CU_ASSERT(fabs(acc - recent) < 0.05);
	free(body);
	zmq_close(sub);
	CU_ASSERT(harness_stop(&h, 20000) == 0);
}

static void holdout_of_one_refused(void)
{
	const char *opts[] = {"eval.holdout_every=1", NULL};
	struct harness h;
	/* Holding out every sample would learn nothing: a configuration error, the daemon does not start. */
	CU_ASSERT_FATAL(harness_start(&h, opts) != 0);
	CU_ASSERT(harness_log_contains(&h, "holdout_every"));
	CU_ASSERT(WIFEXITED(h.status) && WEXITSTATUS(h.status) != 0);
	harness_remove_tree(h.dir);
	zmq_ctx_term(h.zctx);
}

int main(void)
{
	if (harness_load_fashion(&train, &test) < 0)
		return 1;
	MB_SUITE("daemon_holdout", {"holdout/scored_and_reported", holdout_scored_and_reported},
		 {"holdout/every_one_refused", holdout_of_one_refused});
	int r = mb_test_run();
	mb_dataset_free(train);
	mb_dataset_free(test);
	return r;
}
