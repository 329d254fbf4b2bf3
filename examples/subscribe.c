/* SPDX-License-Identifier: MIT */
/*
 * subscribe.c - follow the snapshots minibatchd publishes.
 *
 *   subscribe [-n COUNT] [-t SECONDS] [ENDPOINT]
 *
 * Prints one line per snapshot: the model's name, its version, the samples
 * it has learned from and its recent cost. ENDPOINT is the daemon's
 * snapshot socket, ipc://RUNDIR/snapshots by default (RUNDIR found as the
 * daemon finds it). Exits 0 after COUNT snapshots (default 1), 2 when none
 * came within SECONDS (default 5), 1 on any other error.
 *
 * Build it against an installed libminibatch with
 *   cc subscribe.c $(pkg-config --cflags --libs libminibatch)
 */
#define _POSIX_C_SOURCE 200809L /* getopt */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"

static const char usage[] =
	"usage: subscribe [-n COUNT] [-t SECONDS] [ENDPOINT]\n"
	"Print the first COUNT snapshots (default 1) the daemon publishes at ENDPOINT\n"
	"(default ipc://RUNDIR/snapshots), waiting up to SECONDS (default 5) for each.\n";

int main(int argc, char **argv)
{
	long count = 1;
	double seconds = 5;
	int opt;
	if (argc > 1 && strcmp(argv[1], "--help") == 0) {
		fputs(usage, stdout);
		return 0;
	}
	while ((opt = getopt(argc, argv, "n:t:h")) != -1) {
		switch (opt) {
		case 'n': count = strtol(optarg, NULL, 10); break;
		case 't': seconds = strtod(optarg, NULL); break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 1;
		}
	}
	if (count < 1 || seconds < 0 || argc - optind > 1) {
		fputs(usage, stderr);
		return 1;
	}

	/* Where the daemon publishes: the argument, or its runtime directory. */
	char endpoint[MB_CLIENT_MAX_ENDPOINT], dir[MB_CLIENT_MAX_ENDPOINT];
	if (optind < argc) {
		snprintf(endpoint, sizeof endpoint, "%s", argv[optind]);
	} else if (mb_client_runtime_dir(dir, sizeof dir) < 0 ||
		   mb_client_endpoint(dir, "snapshots", endpoint, sizeof endpoint) < 0) {
		fprintf(stderr, "subscribe: no runtime directory: give the ENDPOINT\n");
		return 1;
	}

	struct mb_subscriber_cfg cfg = {.endpoint = endpoint}; /* every model, own context */
	struct mb_subscriber *sub;
	int r = mb_subscriber_new(&cfg, &sub);
	if (r < 0) {
		fprintf(stderr, "subscribe: %s: %s\n", endpoint, strerror(-r));
		return 1;
	}
	int status = 0;
	for (long got = 0; got < count;) {
		struct mb_client_snap *snap;
		struct mb_diag diag = {0};
		r = mb_subscriber_recv(sub, (int)(seconds * 1000), &snap, &diag);
		if (r == -ETIMEDOUT) {
			fprintf(stderr, "subscribe: no snapshot from %s in %g s\n", endpoint, seconds);
			status = 2;
			break;
		}
		if (r < 0) { /* a message that is not a valid snapshot: say why, go on */
			fprintf(stderr, "subscribe: %s\n", diag.text[0] ? diag.text : strerror(-r));
			continue;
		}
		printf("%s version %" PRIu64 ": %" PRIu64 " samples, cost %.4f\n", snap->topic,
		       snap->info.version, snap->info.samples, (double)snap->info.cost);
		mb_client_snap_free(snap);
		got++;
	}
	mb_subscriber_free(sub);
	return status;
}
