/* SPDX-License-Identifier: MIT */
/*
 * test_daemon_control.c - the control socket answers every request once.
 *
 * Known commands report or act; anything else (unknown words, the
 * checkpoint commands this build does not have, arguments where none are
 * taken, binary junk, several frames, requests over the size limit) gets
 * {"ok":false,...} rather than silence. Pause stops ingest and resume
 * restarts it.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "daemon_harness.h"
#include "test.h"

static struct harness h;

/* Send raw frames on a fresh REQ socket; the reply within 5 s into buf, or -1. */
static int raw_request(const void *const *frames, const size_t *lens, int n, char *buf, size_t cap)
{
	char ep[512];
	harness_endpoint(&h, "control", ep, sizeof ep);
	void *s = zmq_socket(h.zctx, ZMQ_REQ);
	int zero = 0, r = -1;
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
	zmq_connect(s, ep);
	for (int i = 0; i < n; i++)
		if (zmq_send(s, frames[i], lens[i], i + 1 < n ? ZMQ_SNDMORE : 0) < 0)
			goto out;
	zmq_pollitem_t it = {.socket = s, .events = ZMQ_POLLIN};
	if (zmq_poll(&it, 1, 5000) != 1)
		goto out;
	int got = zmq_recv(s, buf, cap - 1, 0);
	if (got >= 0) {
		buf[(size_t)got < cap - 1 ? (size_t)got : cap - 1] = '\0';
		r = 0;
	}
out:
	zmq_close(s);
	return r;
}

static void expect_refusal(const char *request, const char *why)
{
	char reply[4096];
	CU_ASSERT_FATAL(harness_control(&h, request, reply, sizeof reply) == 0);
	CU_ASSERT(strncmp(reply, "{\"ok\":false,\"error\":\"", 21) == 0);
	if (!strstr(reply, why))
		fprintf(stderr, "'%s' -> %s (expected '%s')\n", request, reply, why);
	CU_ASSERT(strstr(reply, why) != NULL);
}

static void control_status_fields(void)
{
	char reply[8192];
	CU_ASSERT_FATAL(harness_control(&h, "status", reply, sizeof reply) == 0);
	static const char *const fields[] = {"\"ok\":true", "\"state\":\"running\"", "\"model\":\"softmax\"",
					     "\"version\":0", "\"samples\":0", "\"batches\":0", "\"skipped\":0",
					     "\"cost\":null", "\"accuracy\":null", "\"samples_per_s\":"};
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
		CU_ASSERT(strstr(reply, fields[i]) != NULL);
	CU_ASSERT(strstr(reply, "\"sources\"") == NULL);
	CU_ASSERT_FATAL(harness_control(&h, "stats", reply, sizeof reply) == 0);
	CU_ASSERT(strstr(reply, "\"sources\":[{\"name\":\"in\",\"type\":\"zmq\",\"received\":0,\"queued\":0,"
				"\"dropped\":0,\"rejected\":0,") != NULL);
	CU_ASSERT(strstr(reply, "\"rejected_by\":{\"empty\":0,\"magic\":0,") != NULL);
}

static void control_refuses_what_it_does_not_know(void)
{
	expect_refusal("frobnicate", "unknown command");
	expect_refusal("save now", "no argument");
	expect_refusal("reset all", "no argument");
	expect_refusal("status now", "no argument");
	expect_refusal("", "empty request");
	expect_refusal("STATUS", "unknown command");
}

static void control_refuses_malformed(void)
{
	char reply[4096];
	const uint8_t junk[] = {0x00, 0xff, 's', 't'};
	const void *f1[] = {junk};
	size_t l1[] = {sizeof junk};
	CU_ASSERT_FATAL(raw_request(f1, l1, 1, reply, sizeof reply) == 0);
	CU_ASSERT(strstr(reply, "\"ok\":false") && strstr(reply, "malformed"));

	const void *f2[] = {"status", "stats"};
	size_t l2[] = {6, 5};
	CU_ASSERT_FATAL(raw_request(f2, l2, 2, reply, sizeof reply) == 0);
	CU_ASSERT(strstr(reply, "\"ok\":false") && strstr(reply, "one frame"));

	size_t big = MB_MAX_CONTROL_BYTES + 1;
	char *long_req = malloc(big);
	CU_ASSERT_FATAL(long_req != NULL);
	memset(long_req, 'a', big);
	const void *f3[] = {long_req};
	size_t l3[] = {big};
	CU_ASSERT_FATAL(raw_request(f3, l3, 1, reply, sizeof reply) == 0);
	CU_ASSERT(strstr(reply, "\"ok\":false") && strstr(reply, "longer than"));
	free(long_req);

	/* Still answering afterwards. */
	CU_ASSERT_FATAL(harness_control(&h, "status", reply, sizeof reply) == 0);
	CU_ASSERT(strstr(reply, "\"ok\":true") != NULL);
}

static double received(void)
{
	char reply[8192];
	if (harness_control(&h, "stats", reply, sizeof reply) < 0)
		return -1;
	return harness_json_num(reply, "\"name\":\"in\"", "received");
}

static void control_pause_holds_ingest(void)
{
	char reply[4096];
	CU_ASSERT_FATAL(harness_control(&h, "pause", reply, sizeof reply) == 0);
	CU_ASSERT(strcmp(reply, "{\"ok\":true,\"state\":\"paused\"}") == 0);
	CU_ASSERT_FATAL(harness_control(&h, "status", reply, sizeof reply) == 0);
	CU_ASSERT(strstr(reply, "\"state\":\"paused\"") != NULL);

	void *push = harness_connect(&h, ZMQ_PUSH, "ingest");
	CU_ASSERT_FATAL(push != NULL);
	const char csv[] = "1,0.5,0.25\n2,0.125,1\n";
	CU_ASSERT_FATAL(zmq_send(push, csv, sizeof csv - 1, 0) == (int)(sizeof csv - 1));
	usleep(300000);
	CU_ASSERT(received() == 0);

	CU_ASSERT_FATAL(harness_control(&h, "resume", reply, sizeof reply) == 0);
	CU_ASSERT(strcmp(reply, "{\"ok\":true,\"state\":\"running\"}") == 0);
	CU_ASSERT(harness_wait_trained(&h, 2, 5000));
	CU_ASSERT(received() == 2);
	zmq_close(push);
}

int main(void)
{
	if (harness_start(&h, NULL) < 0) {
		fprintf(stderr, "cannot start the daemon\n");
		return 1;
	}
	MB_SUITE("daemon_control", {"control/status_fields", control_status_fields},
		 {"control/refuses_unknown", control_refuses_what_it_does_not_know},
		 {"control/refuses_malformed", control_refuses_malformed},
		 {"control/pause_holds_ingest", control_pause_holds_ingest});
	int r = mb_test_run();
	if (harness_stop(&h, 10000) != 0)
		r = 1;
	return r;
}
