/* SPDX-License-Identifier: MIT */
/*
 * predict.c - use the model minibatchd is training, in another process.
 *
 *   predict [ENDPOINT [DIR]]
 *
 * Takes the newest snapshot from the daemon's snapshot socket (by default
 * ipc://RUNDIR/snapshots; a new subscriber is handed the current model at
 * once), turns it into a model, prints the classes it predicts for the
 * first ten Fashion-MNIST test images against their labels, and its
 * accuracy on all 10000 (DIR defaults to /usr/share/datasets/fashion-mnist).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "dataset.h"

enum { SHOWN = 10, MAX_BATCH = 1024 };

int main(int argc, char **argv)
{
	const char *dir = argc > 2 ? argv[2] : "/usr/share/datasets/fashion-mnist";
	char endpoint[MB_CLIENT_MAX_ENDPOINT], rundir[MB_CLIENT_MAX_ENDPOINT];
	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		puts("usage: predict [ENDPOINT [DIR]]");
		return 0;
	}
	if (argc > 1) {
		snprintf(endpoint, sizeof endpoint, "%s", argv[1]);
	} else if (mb_client_runtime_dir(rundir, sizeof rundir) < 0 ||
		   mb_client_endpoint(rundir, "snapshots", endpoint, sizeof endpoint) < 0) {
		fprintf(stderr, "predict: no runtime directory: give the ENDPOINT\n");
		return 1;
	}

	struct mb_dataset *test;
	struct mb_diag diag = {0};
	if (mb_dataset_load_fashion(dir, "t10k", &test, &diag) < 0) {
		fprintf(stderr, "predict: %s: %s\n", dir, diag.text);
		return 1;
	}

	/* The newest snapshot, as a model that scores up to MAX_BATCH rows at a time. */
	struct mb_subscriber_cfg cfg = {.endpoint = endpoint};
	struct mb_subscriber *sub = NULL;
	struct mb_client_snap *snap = NULL;
	struct mb_model *model = NULL;
	int status = 1;
	int r = mb_subscriber_new(&cfg, &sub);
	if (r == 0)
		r = mb_subscriber_latest(sub, 5000, &snap, &diag);
	if (r == 0)
		r = mb_client_model(snap, MAX_BATCH, &model);
	if (r < 0) {
		fprintf(stderr, "predict: %s: %s\n", endpoint,
			r == -ETIMEDOUT ? "no snapshot in 5 s" : diag.text[0] ? diag.text : strerror(-r));
		goto out;
	}
	if (snap->info.sizes[0] != test->n_features || !mb_client_n_classes(model)) {
		fprintf(stderr, "predict: model %s is not a classifier of %u-pixel images\n", snap->topic,
			test->n_features);
		goto out;
	}

	uint32_t cls[SHOWN];
	if (mb_client_predict(model, test->x, SHOWN, NULL, cls) < 0)
		goto out;
	printf("model %s, version %" PRIu64 ", %" PRIu64 " samples seen\n", snap->topic, snap->info.version,
	       snap->info.samples);
	printf("predicted:");
	for (int i = 0; i < SHOWN; i++)
		printf(" %u", cls[i]);
	printf("\nlabels:   ");
	for (int i = 0; i < SHOWN; i++)
		printf(" %.0f", test->y[i]);

	struct mb_client_score score;
	r = mb_client_score(model, test->x, test->y, test->count, NULL, &score);
	if (r < 0) {
		fprintf(stderr, "\npredict: scoring: %s\n", strerror(-r));
		goto out;
	}
	printf("\naccuracy %.4f on %" PRIu64 " test images, cost %.4f\n", score.accuracy, score.rows, score.cost);
	status = 0;
out:
	mb_model_free(model);
	mb_client_snap_free(snap);
	mb_subscriber_free(sub);
	mb_dataset_free(test);
	return status;
}
