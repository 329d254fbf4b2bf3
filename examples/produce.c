/* SPDX-License-Identifier: MIT */
/*
 * produce.c - send Fashion-MNIST training images to minibatchd.
 *
 *   produce [-n COUNT] [ENDPOINT [DIR]]
 *
 * Loads the training set from DIR (default /usr/share/datasets/fashion-mnist)
 * and sends its first COUNT images (default all 60000) with their labels to
 * the daemon's ingest socket, ipc://RUNDIR/ingest by default. The pixels
 * travel as bytes with a scale of 1/255, a quarter of what floats would take;
 * the producer gathers 256 samples per message.
 */
#define _POSIX_C_SOURCE 200809L /* getopt */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "dataset.h"

int main(int argc, char **argv)
{
	const char *dir = "/usr/share/datasets/fashion-mnist";
	long count = -1;
	int opt;
	while ((opt = getopt(argc, argv, "n:h")) != -1) {
		if (opt == 'n') {
			count = strtol(optarg, NULL, 10);
			continue;
		}
		fputs("usage: produce [-n COUNT] [ENDPOINT [DIR]]\n", opt == 'h' ? stdout : stderr);
		return opt == 'h' ? 0 : 1;
	}

	char endpoint[MB_CLIENT_MAX_ENDPOINT], rundir[MB_CLIENT_MAX_ENDPOINT];
	if (optind < argc) {
		snprintf(endpoint, sizeof endpoint, "%s", argv[optind]);
	} else if (mb_client_runtime_dir(rundir, sizeof rundir) < 0 ||
		   mb_client_endpoint(rundir, "ingest", endpoint, sizeof endpoint) < 0) {
		fprintf(stderr, "produce: no runtime directory: give the ENDPOINT\n");
		return 1;
	}
	if (optind + 1 < argc)
		dir = argv[optind + 1];

	struct mb_dataset *train;
	struct mb_diag diag = {0};
	if (mb_dataset_load_fashion(dir, "train", &train, &diag) < 0) {
		fprintf(stderr, "produce: %s: %s\n", dir, diag.text);
		return 1;
	}
	uint32_t n = count >= 0 && count < (long)train->count ? (uint32_t)count : train->count;

	struct mb_producer_cfg cfg = {
		.endpoint = endpoint,
		.n_features = train->n_features, /* 784 pixels */
		.n_targets = 1,                  /* the class, 0..9 */
		.elem = MB_ELEM_U8,
		.scale = 1.0f / 255.0f,
	};
	struct mb_producer *p;
	int r = mb_producer_new(&cfg, &p);
	if (r < 0) {
		fprintf(stderr, "produce: %s: %s\n", endpoint, strerror(-r));
		mb_dataset_free(train);
		return 1;
	}
	/*
	 * A message leaves every 256 samples. Append returns how many samples
	 * it took: fewer than asked when the daemon stopped taking messages
	 * part way, in which case the next call says why.
	 */
	uint32_t done = 0;
	while (done < n && r >= 0) {
		r = mb_producer_append(p, train->x + (size_t)done * train->n_features, train->y + done, NULL,
				       n - done);
		done += r > 0 ? (uint32_t)r : 0;
	}
	if (r >= 0)
		r = mb_producer_flush(p);
	unsigned long long messages = (unsigned long long)mb_producer_messages(p);
	int rc = mb_producer_close(p); /* waits for ZeroMQ to deliver, then frees */
	if (r >= 0)
		r = rc;
	mb_dataset_free(train);
	if (r < 0) {
		fprintf(stderr, "produce: sending to %s: %s\n", endpoint, strerror(-r));
		return 1;
	}
	printf("sent %u samples to %s in %llu messages\n", n, endpoint, messages);
	return 0;
}
