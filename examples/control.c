/* SPDX-License-Identifier: MIT */
/*
 * control.c - ask minibatchd something through its control socket.
 *
 *   control [-e ENDPOINT] [REQUEST [ARGUMENT]]
 *
 * Sends one request (default "status"; also "stats", "pause", "resume",
 * "snapshot", ...) to the daemon's control socket, ipc://RUNDIR/control by
 * default, and prints the JSON reply. Exits 0 when the reply says
 * "ok":true, 1 when the daemon refused, 2 when it did not answer in 5 s.
 */
#define _POSIX_C_SOURCE 200809L /* getopt */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"

int main(int argc, char **argv)
{
	char endpoint[MB_CLIENT_MAX_ENDPOINT] = "", rundir[MB_CLIENT_MAX_ENDPOINT];
	int opt;
	while ((opt = getopt(argc, argv, "e:h")) != -1) {
		if (opt == 'e') {
			snprintf(endpoint, sizeof endpoint, "%s", optarg);
			continue;
		}
		fputs("usage: control [-e ENDPOINT] [REQUEST [ARGUMENT]]\n", opt == 'h' ? stdout : stderr);
		return opt == 'h' ? 0 : 1;
	}
	if (!endpoint[0] && (mb_client_runtime_dir(rundir, sizeof rundir) < 0 ||
			     mb_client_endpoint(rundir, "control", endpoint, sizeof endpoint) < 0)) {
		fprintf(stderr, "control: no runtime directory: give -e ENDPOINT\n");
		return 1;
	}

	/* The request: a command word, then an optional argument after one space. */
	char request[MB_MAX_CONTROL_BYTES + 1];
	snprintf(request, sizeof request, "%s%s%s", optind < argc ? argv[optind] : MB_CTL_STATUS,
		 optind + 1 < argc ? " " : "", optind + 1 < argc ? argv[optind + 1] : "");

	struct mb_client *c;
	char *reply = NULL;
	int r = mb_client_new(endpoint, NULL, &c);
	if (r == 0) {
		r = mb_client_request(c, request, 5000, &reply); /* 5 s, then the socket is made anew */
		mb_client_free(c);
	}
	if (r < 0) {
		fprintf(stderr, "control: %s: %s\n", endpoint,
			r == -ETIMEDOUT ? "no answer in 5 s (is minibatchd running?)" : strerror(-r));
		return r == -ETIMEDOUT ? 2 : 1;
	}
	puts(reply);
	/* A real client parses the JSON; for a yes or no, "ok" is enough. */
	int status = strstr(reply, "\"ok\":true") ? 0 : 1;
	free(reply);
	return status;
}
