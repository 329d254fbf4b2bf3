/* SPDX-License-Identifier: MIT */
/*
 * test_daemon_reject.c - bad input is refused and counted, good input trains.
 *
 * One valid Fashion-MNIST message fixes the shape; then every kind of
 * broken message is sent between good ones, binary and text. The daemon
 * must count each refusal under its reason, train exactly the good rows,
 * and keep received = queued + dropped + rejected.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "daemon_harness.h"
#include "test.h"

#define PER_MSG 100

static struct mb_dataset *train;

struct sender {
	void *push;         /* PUSH to the daemon */
	uint64_t good;      /* samples that must train */
	uint64_t received;  /* what the daemon must count as received */
};

static void send_raw(struct sender *s, const void *p, size_t n)
{
	CU_ASSERT_FATAL(zmq_send(s->push, p, n, 0) == (int)n);
}

static void send_good(struct sender *s, uint32_t first, uint8_t *buf, size_t cap)
{
	size_t n = harness_encode_u8(train, first, PER_MSG, buf, cap);
	CU_ASSERT_FATAL(n > 0);
	send_raw(s, buf, n);
	s->good += PER_MSG;
	s->received += PER_MSG;
}

/* A message that is refused whole: counted as one received, one rejected. */
static void send_bad(struct sender *s, const void *p, size_t n)
{
	send_raw(s, p, n);
	s->received += 1;
}

static double reason(const char *stats, const char *name)
{
	return harness_json_num(stats, "\"rejected_by\"", name);
}

static void reject_counts_by_reason(void)
{
	struct harness h;
	CU_ASSERT_FATAL(harness_start(&h, NULL) == 0);
	struct sender s = {.push = harness_connect(&h, ZMQ_PUSH, "ingest")};
	CU_ASSERT_FATAL(s.push != NULL);
	size_t cap = mb_sample_bin_size(PER_MSG, train->n_features, 1, MB_ELEM_U8, false) + 16;
	uint8_t *good = malloc(cap), *bad = malloc(cap);
	CU_ASSERT_FATAL(good && bad);

	send_good(&s, 0, good, cap);
	size_t n = harness_encode_u8(train, PER_MSG, PER_MSG, good, cap);

	memcpy(bad, good, n);
	bad[0] = 'X';
	send_bad(&s, bad, n); /* magic */
	send_good(&s, 200, good, cap);
	memcpy(bad, good, n);
	bad[4] = 9;
	send_bad(&s, bad, n); /* version */
	memcpy(bad, good, n);
	bad[5] = 0x80;
	send_bad(&s, bad, n); /* flags */
	memcpy(bad, good, n);
	bad[6] = 9;
	send_bad(&s, bad, n); /* elem_type */
	send_bad(&s, good, n - 10); /* truncated */
	memcpy(bad, good, n);
	memset(bad + n, 0, 3);
	send_bad(&s, bad, n + 3); /* trailing */
	send_bad(&s, "", 0); /* empty */
	send_good(&s, 300, good, cap);

	/* Ten features where the model takes 784: a valid message of the wrong shape. */
	float x10[10] = {0}, y1 = 1;
	struct mb_sample_batch b10 = {.count = 1, .n_features = 10, .n_targets = 1, .x = x10, .y = &y1,
				      .elem = MB_ELEM_F32, .scale = 1, .offset = 0};
	long m = mb_sample_bin_encode(bad, cap, &b10);
	CU_ASSERT_FATAL(m > 0);
	send_bad(&s, bad, (size_t)m); /* dim_mismatch */

	/* A float message with a NaN pixel. */
	float *xf = calloc(train->n_features, sizeof *xf);
	CU_ASSERT_FATAL(xf != NULL);
	xf[3] = NAN;
	struct mb_sample_batch bn = {.count = 1, .n_features = train->n_features, .n_targets = 1, .x = xf,
				     .y = &y1, .elem = MB_ELEM_F32, .scale = 1, .offset = 0};
	size_t fcap = mb_sample_bin_size(1, train->n_features, 1, MB_ELEM_F32, false);
	uint8_t *fbuf = malloc(fcap);
	CU_ASSERT_FATAL(fbuf != NULL);
	m = mb_sample_bin_encode(fbuf, fcap, &bn);
	if (m < 0) {
		/* The encoder refuses NaN itself: write the pixel into a clean encoding. */
		xf[3] = 0;
		m = mb_sample_bin_encode(fbuf, fcap, &bn);
		float nan = NAN;
		memcpy(fbuf + MB_SMP_HEADER_BYTES + 4 + 3 * 4, &nan, 4);
	}
	CU_ASSERT_FATAL(m > 0);
	send_bad(&s, fbuf, (size_t)m); /* nonfinite */

	/* Class 12 of 10 in one row of an otherwise good message: only that row is refused. */
	xf[3] = 0;
	float y12 = 12;
	bn.y = &y12;
	m = mb_sample_bin_encode(fbuf, fcap, &bn);
	CU_ASSERT_FATAL(m > 0);
	send_raw(&s, fbuf, (size_t)m); /* label */
	s.received += 1;

	/* Text: one good CSV line between a short one and a non-number. */
	size_t tcap = 16 * train->n_features + 64, t = 0;
	char *text = malloc(tcap);
	CU_ASSERT_FATAL(text != NULL);
	t += (size_t)snprintf(text + t, tcap - t, "3,0.5,0.25\n");
	t += (size_t)snprintf(text + t, tcap - t, "4");
	for (uint32_t i = 0; i < train->n_features; i++)
		t += (size_t)snprintf(text + t, tcap - t, ",%g", i % 7 ? 0.0 : 0.5);
	t += (size_t)snprintf(text + t, tcap - t, "\n5,abc");
	for (uint32_t i = 1; i < train->n_features; i++)
		t += (size_t)snprintf(text + t, tcap - t, ",0");
	t += (size_t)snprintf(text + t, tcap - t, "\n");
	send_raw(&s, text, t);
	s.received += 3;
	s.good += 1;
	send_good(&s, 400, good, cap);

	CU_ASSERT(harness_wait_trained(&h, s.good, 10000));
	char stats[8192];
	CU_ASSERT_FATAL(harness_control(&h, "stats", stats, sizeof stats) == 0);
	static const char *const once[] = {"magic", "version", "flags", "elem_type", "truncated", "trailing",
					   "empty", "dim_mismatch", "nonfinite", "label", "columns", "not_numeric"};
	for (size_t i = 0; i < sizeof once / sizeof once[0]; i++) {
		if (reason(stats, once[i]) != 1)
			fprintf(stderr, "reason %s: %g\n", once[i], reason(stats, once[i]));
		CU_ASSERT(reason(stats, once[i]) == 1);
	}
	const char *in = "\"name\":\"in\"";
	double rejected = harness_json_num(stats, in, "rejected");
	CU_ASSERT(rejected == (double)(sizeof once / sizeof once[0]));
	CU_ASSERT(harness_json_num(stats, in, "received") == (double)s.received);
	CU_ASSERT(harness_json_num(stats, in, "queued") == (double)s.good);
	CU_ASSERT(harness_json_num(stats, in, "dropped") == 0);
	CU_ASSERT(harness_json_num(stats, in, "received") ==
		  harness_json_num(stats, in, "queued") + harness_json_num(stats, in, "dropped") + rejected);
	CU_ASSERT(harness_json_num(stats, NULL, "samples") == (double)s.good);
	CU_ASSERT(harness_json_num(stats, NULL, "skipped") == 0);
	CU_ASSERT(harness_log_contains(&h, "source in: rejected message: "));
	CU_ASSERT(harness_log_contains(&h, "(magic)"));
	CU_ASSERT(harness_log_contains(&h, "(label)"));

	free(text);
	free(fbuf);
	free(xf);
	free(good);
	free(bad);
	zmq_close(s.push);
	CU_ASSERT(harness_stop(&h, 10000) == 0);
}

static void reject_log_is_rate_limited(void)
{
	struct harness h;
	CU_ASSERT_FATAL(harness_start(&h, NULL) == 0);
	void *push = harness_connect(&h, ZMQ_PUSH, "ingest");
	CU_ASSERT_FATAL(push != NULL);
	enum { BAD = 200 };
	for (int i = 0; i < BAD; i++)
		CU_ASSERT_FATAL(zmq_send(push, "MBSM", 4, 0) == 4);

	/* Every refusal is counted, but the log holds a burst and one summary. */
	char stats[8192];
	int64_t deadline = harness_now_ms() + 10000;
	while (harness_now_ms() < deadline && !harness_log_contains(&h, "more rejected lines suppressed"))
		usleep(20000);
	CU_ASSERT_FATAL(harness_control(&h, "stats", stats, sizeof stats) == 0);
	CU_ASSERT(harness_json_num(stats, "\"rejected_by\"", "truncated") == BAD);
	unsigned lines = harness_log_count(&h, "rejected message");
	CU_ASSERT(lines >= 1 && lines < BAD / 2);
	CU_ASSERT(harness_log_contains(&h, "more rejected lines suppressed"));
	zmq_close(push);
	CU_ASSERT(harness_stop(&h, 10000) == 0);
}

static void reject_text_formats(void)
{
	struct harness h;
	const char *opts[] = {"model.inputs=4", "model.outputs=3", NULL};
	CU_ASSERT_FATAL(harness_start(&h, opts) == 0);
	void *push = harness_connect(&h, ZMQ_PUSH, "ingest");
	CU_ASSERT_FATAL(push != NULL);
	/* libsvm: 3 good lines, then an index past the 4 features and indices out of order. */
	const char svm[] = "1 1:0.5 3:1\n# a comment\n0 2:0.25\n2 4:1\n1 5:1\n1 3:1 2:1\n";
	/* CSV: 2 good lines, then one with a class the model does not have and one short line. */
	const char csv[] = "0,1,2,3,4\n2,0.5,0.5,0.5,0.5\n3,1,1,1,1\n1,1,1\n";
	CU_ASSERT_FATAL(zmq_send(push, svm, sizeof svm - 1, 0) == (int)(sizeof svm - 1));
	CU_ASSERT_FATAL(zmq_send(push, csv, sizeof csv - 1, 0) == (int)(sizeof csv - 1));
	CU_ASSERT(harness_wait_trained(&h, 5, 5000));
	char stats[8192];
	CU_ASSERT_FATAL(harness_control(&h, "stats", stats, sizeof stats) == 0);
	const char *in = "\"name\":\"in\"";
	CU_ASSERT(harness_json_num(stats, in, "received") == 9);
	CU_ASSERT(harness_json_num(stats, in, "queued") == 5);
	CU_ASSERT(harness_json_num(stats, in, "rejected") == 4);
	CU_ASSERT(reason(stats, "index_range") == 1);
	CU_ASSERT(reason(stats, "index_order") == 1);
	CU_ASSERT(reason(stats, "label") == 1);
	CU_ASSERT(reason(stats, "columns") == 1);
	CU_ASSERT(harness_json_num(stats, NULL, "samples") == 5);
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
	MB_SUITE("daemon_reject", {"reject/counts_by_reason", reject_counts_by_reason},
		 {"reject/text_formats", reject_text_formats}, {"reject/log_rate_limited", reject_log_is_rate_limited});
	int r = mb_test_run();
	mb_dataset_free(train);
	return r;
}
