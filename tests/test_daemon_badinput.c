/* SPDX-License-Identifier: MIT */
/*
 * test_daemon_badinput.c - a long stream of good and malformed messages:
 * the daemon rejects exactly the bad ones and learns exactly the good.
 *
 * Valid Fashion-MNIST rows (cycled) go out as binary U8 messages of 100
 * rows; after each one come ten malformed messages, the kinds in turn:
 * truncated, wrong version, wrong magic, a NaN feature, the wrong
 * dimension, garbage text, a bad CSV line, a label out of range. The
 * daemon must stay up, count each refusal under its reason (compared
 * with what was sent, kind by kind), and end with a model bit-identical
 * (memcmp, OPENBLAS_NUM_THREADS=1) to one trained in this process with
 * lib/learner.h on the valid rows alone, in the same order, with the same
 * seed, optimizer and batch size. A linger of an hour makes the daemon
 * cut full batches only, and every valid message is one full batch, so
 * the batch boundaries agree.
 *
 * Oversized messages (beyond the source's maxmsgsize) never reach the
 * daemon's decoder: ZeroMQ refuses them and drops the connection of the
 * peer that sent one. So they go out on a separate PUSH socket, one at a
 * time: the producer watches that socket's monitor for the disconnect
 * each one causes and for the reconnection before sending the next. They
 * appear in none of the daemon's counters; the test checks that they
 * appear nowhere and that each one cost its sender exactly one connection.
 *
 * Sizes: MB_BADINPUT_SAMPLES valid rows (default 200000, rounded down to
 * whole messages), a tenth as many malformed messages, and one oversized
 * message per 40 valid messages. The default keeps the suite quick (also
 * under the sanitizers); MB_BADINPUT_SAMPLES=1000000 is the full run.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "daemon_harness.h"
#include "learner.h"
#include "sample.h"
#include "test.h"

#define PER_MSG        100     /* rows per valid message = batch.size */
#define BAD_PER_GOOD   10      /* malformed messages after each valid one: 10% of the rows */
#define GOOD_PER_HUGE  40      /* valid messages between two oversized ones */
#define MAXMSGSIZE     131072  /* the source's limit; a valid message is about 79 KB */
#define DEFAULT_ROWS   200000u

static struct mb_dataset *train;

/* The malformed kinds of the main stream, and the reason each must be counted under. */
enum bad_kind { BAD_TRUNCATED, BAD_VERSION, BAD_MAGIC, BAD_NAN, BAD_DIM, BAD_GARBAGE, BAD_CSV, BAD_LABEL, BAD_KINDS };
static const char *const bad_reason[BAD_KINDS] = {"truncated", "version", "magic", "nonfinite",
						  "dim_mismatch", "not_numeric", "columns", "label"};

/* Ready-made malformed messages, one per kind. */
struct bad_msgs {
	uint8_t *msg[BAD_KINDS]; /* the bytes */
	size_t len[BAD_KINDS];   /* their lengths */
};

static uint8_t *dup_bytes(const void *p, size_t n)
{
	uint8_t *d = malloc(n ? n : 1);
	CU_ASSERT_FATAL(d != NULL);
	memcpy(d, p, n);
	return d;
}

static void bad_msgs_make(struct bad_msgs *b)
{
	size_t cap = mb_sample_bin_size(1, train->n_features, 1, MB_ELEM_F32, false);
	uint8_t *buf = malloc(cap);
	CU_ASSERT_FATAL(buf != NULL);
	size_t n = harness_encode_u8(train, 0, 1, buf, cap);
	CU_ASSERT_FATAL(n > 16);
	b->len[BAD_TRUNCATED] = n - 10;
	b->msg[BAD_TRUNCATED] = dup_bytes(buf, n - 10);
	b->msg[BAD_VERSION] = dup_bytes(buf, n);
	b->msg[BAD_VERSION][4] = 9;
	b->len[BAD_VERSION] = n;
	b->msg[BAD_MAGIC] = dup_bytes(buf, n);
	b->msg[BAD_MAGIC][0] = 'X';
	b->len[BAD_MAGIC] = n;

	/* A row of 0.5 with label 12 where the model has 10 classes. */
	float *x = calloc(train->n_features, sizeof *x), y = 12;
	CU_ASSERT_FATAL(x != NULL);
	for (uint32_t i = 0; i < train->n_features; i++)
		x[i] = 0.5f;
	struct mb_sample_batch sb = {.count = 1, .n_features = train->n_features, .n_targets = 1, .x = x, .y = &y,
				     .elem = MB_ELEM_F32, .scale = 1, .offset = 0};
	long m = mb_sample_bin_encode(buf, cap, &sb);
	CU_ASSERT_FATAL(m > 0);
	b->msg[BAD_LABEL] = dup_bytes(buf, (size_t)m);
	b->len[BAD_LABEL] = (size_t)m;
	/* The same with a good label and a NaN written over the fourth feature (the encoder refuses NaN). */
	y = 3;
	m = mb_sample_bin_encode(buf, cap, &sb);
	CU_ASSERT_FATAL(m > 0);
	float nan = NAN;
	memcpy(buf + (size_t)m - (size_t)train->n_features * 4 + 3 * 4, &nan, 4);
	b->msg[BAD_NAN] = dup_bytes(buf, (size_t)m);
	b->len[BAD_NAN] = (size_t)m;
	/* Ten features where the model takes 784. */
	sb.n_features = 10;
	m = mb_sample_bin_encode(buf, cap, &sb);
	CU_ASSERT_FATAL(m > 0);
	b->msg[BAD_DIM] = dup_bytes(buf, (size_t)m);
	b->len[BAD_DIM] = (size_t)m;

	static const char garbage[] = "lorem ipsum dolor sit amet\n";
	static const char csv[] = "3,0.5,0.25\n";
	b->msg[BAD_GARBAGE] = dup_bytes(garbage, sizeof garbage - 1);
	b->len[BAD_GARBAGE] = sizeof garbage - 1;
	b->msg[BAD_CSV] = dup_bytes(csv, sizeof csv - 1);
	b->len[BAD_CSV] = sizeof csv - 1;
	free(x);
	free(buf);
}

static void bad_msgs_free(struct bad_msgs *b)
{
	for (int k = 0; k < BAD_KINDS; k++)
		free(b->msg[k]);
}

/* The next monitor event of kind want within timeout_ms: 0, or -1. Other events are passed over. */
static int wait_event(void *mon, uint16_t want, int timeout_ms)
{
	int64_t deadline = harness_now_ms() + timeout_ms;
	for (;;) {
		int left = (int)(deadline - harness_now_ms());
		if (left <= 0)
			return -1;
		zmq_setsockopt(mon, ZMQ_RCVTIMEO, &left, sizeof left);
		uint8_t ev[6];
		char addr[512];
		int n = zmq_recv(mon, ev, sizeof ev, 0);
		if (n < 0)
			return -1;
		if (zmq_recv(mon, addr, sizeof addr, 0) < 0)
			return -1;
		uint16_t e;
		memcpy(&e, ev, 2);
		if (n == 6 && e == want)
			return 0;
	}
}

/* The valid message number i: rows of train cycled, PER_MSG of them. */
static size_t good_msg(uint64_t i, uint8_t *buf, size_t cap)
{
	uint32_t per_pass = train->count / PER_MSG;
	uint32_t first = (uint32_t)(i % per_pass) * PER_MSG;
	size_t n = harness_encode_u8(train, first, PER_MSG, buf, cap);
	CU_ASSERT_FATAL(n > 0);
	return n;
}

/*
 * Train in this process on what the daemon must have learned: each valid
 * message decoded by the library, as the daemon decodes it, one step per
 * message. The parameters in ret (n floats).
 */
static void reference_params(uint64_t n_msgs, float **ret, size_t *ret_n)
{
	struct mb_model_cfg mc = {.kind = MB_MODEL_SOFTMAX, .output = MB_MODEL_SOFTMAX,
				  .n_inputs = train->n_features, .n_outputs = 10, .hidden_act = MB_ACT_RELU,
				  .max_batch = PER_MSG, .seed = 1};
	struct mb_optim_cfg oc;
	mb_optim_cfg_default(&oc);
	oc.kind = MB_OPT_ADAGRAD;
	oc.lr = (float)0.05;
	oc.eps = (float)1e-8;
	struct mb_model *m = NULL;
	struct mb_optim *o = NULL;
	struct mb_learner *l = NULL;
	CU_ASSERT_FATAL(mb_model_new(&mc, &m) == 0);
	CU_ASSERT_FATAL(mb_optim_new(&oc, mb_model_n_params(m), &o) == 0);
	CU_ASSERT_FATAL(mb_learner_new(m, o, &l) == 0);
	size_t cap = mb_sample_bin_size(PER_MSG, train->n_features, 1, MB_ELEM_U8, false);
	uint8_t *buf = malloc(cap);
	float *x = malloc((size_t)PER_MSG * train->n_features * sizeof *x), y[PER_MSG];
	CU_ASSERT_FATAL(buf && x);
	for (uint64_t i = 0; i < n_msgs; i++) {
		size_t n = good_msg(i, buf, cap);
		struct mb_sample_view v;
		CU_ASSERT_FATAL(mb_sample_bin_parse(buf, n, NULL, &v, NULL) == 0);
		for (uint32_t r = 0; r < v.count; r++)
			mb_sample_view_row(&v, r, x + (size_t)r * train->n_features, y + r, NULL);
		struct mb_step_result res;
		CU_ASSERT_FATAL(mb_learner_step(l, x, y, NULL, v.count, &res) == 0);
	}
	size_t np = mb_model_n_params(m);
	*ret = malloc(np * sizeof **ret);
	CU_ASSERT_FATAL(*ret != NULL);
	memcpy(*ret, mb_model_params(m), np * sizeof **ret);
	*ret_n = np;
	free(x);
	free(buf);
	mb_learner_free(l);
}

static uint64_t rows_wanted(void)
{
	const char *e = getenv("MB_BADINPUT_SAMPLES");
	uint64_t rows = e && *e ? strtoull(e, NULL, 10) : DEFAULT_ROWS;
	rows -= rows % PER_MSG;
	return rows ? rows : PER_MSG;
}

static void badinput_counts_and_bit_identical_model(void)
{
	const uint64_t n_good = rows_wanted() / PER_MSG;
	struct harness h;
	char maxsize[64];
	snprintf(maxsize, sizeof maxsize, "source.in.maxmsgsize=%u", MAXMSGSIZE);
	const char *opts[] = {"batch.size=100", "batch.linger_ms=3600000", "model.inputs=784", "model.seed=1",
			      "optimizer.kind=adagrad", "optimizer.lr=0.05", "optimizer.eps=1e-8",
			      "optimizer.schedule=constant", maxsize, NULL};
	CU_ASSERT_FATAL(harness_start(&h, opts) == 0);
	void *sub = harness_subscribe(&h, "softmax");
	char ep[512];
	harness_endpoint(&h, "ingest", ep, sizeof ep);
	void *push = harness_connect(&h, ZMQ_PUSH, "ingest");
	CU_ASSERT_FATAL(push != NULL);

	/* The oversized messages' own socket, and its monitor. */
	void *huge = zmq_socket(h.zctx, ZMQ_PUSH);
	int ivl = 10;
	zmq_setsockopt(huge, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
	CU_ASSERT_FATAL(zmq_socket_monitor(huge, "inproc://badinput-huge",
					   ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED) == 0);
	void *mon = zmq_socket(h.zctx, ZMQ_PAIR);
	CU_ASSERT_FATAL(zmq_connect(mon, "inproc://badinput-huge") == 0);
	CU_ASSERT_FATAL(zmq_connect(huge, ep) == 0);
	CU_ASSERT_FATAL(wait_event(mon, ZMQ_EVENT_CONNECTED, 5000) == 0);
	size_t huge_len = 2 * MAXMSGSIZE;
	uint8_t *huge_msg = calloc(1, huge_len);
	CU_ASSERT_FATAL(huge_msg != NULL);
	memcpy(huge_msg, "MBSM", 4);

	struct bad_msgs bad;
	bad_msgs_make(&bad);
	size_t cap = mb_sample_bin_size(PER_MSG, train->n_features, 1, MB_ELEM_U8, false);
	uint8_t *buf = malloc(cap);
	CU_ASSERT_FATAL(buf != NULL);
	uint64_t sent_bad[BAD_KINDS] = {0}, n_bad = 0, n_huge = 0, disconnects = 0;
	int64_t t0 = harness_now_ms();
	for (uint64_t i = 0; i < n_good; i++) {
		size_t n = good_msg(i, buf, cap);
		CU_ASSERT_FATAL(zmq_send(push, buf, n, 0) == (int)n);
		for (int k = 0; k < BAD_PER_GOOD; k++, n_bad++) {
			enum bad_kind kind = (enum bad_kind)(n_bad % BAD_KINDS);
			CU_ASSERT_FATAL(zmq_send(push, bad.msg[kind], bad.len[kind], 0) == (int)bad.len[kind]);
			sent_bad[kind]++;
		}
		if (i % GOOD_PER_HUGE == GOOD_PER_HUGE / 2) {
			CU_ASSERT_FATAL(zmq_send(huge, huge_msg, huge_len, 0) == (int)huge_len);
			n_huge++;
			if (wait_event(mon, ZMQ_EVENT_DISCONNECTED, 5000) == 0)
				disconnects++;
			CU_ASSERT_FATAL(wait_event(mon, ZMQ_EVENT_CONNECTED, 5000) == 0);
		}
	}
	int64_t t_sent = harness_now_ms();
	CU_ASSERT(harness_wait_trained(&h, n_good * PER_MSG, 300000));
	int64_t t_trained = harness_now_ms();
	fprintf(stderr, "%llu valid rows in %llu messages, %llu malformed, %llu oversized: sent in %.1f s, "
		"trained %.1f s later\n", (unsigned long long)(n_good * PER_MSG), (unsigned long long)n_good,
		(unsigned long long)n_bad, (unsigned long long)n_huge, (t_sent - t0) / 1e3, (t_trained - t_sent) / 1e3);

	/* Every refusal under its reason, the good rows all queued and trained, nothing else. */
	char stats[16384];
	CU_ASSERT_FATAL(harness_control(&h, "stats", stats, sizeof stats) == 0);
	for (int k = 0; k < BAD_KINDS; k++) {
		double got = harness_json_num(stats, "\"rejected_by\"", bad_reason[k]);
		if (got != (double)sent_bad[k])
			fprintf(stderr, "reason %s: %g counted, %llu sent\n", bad_reason[k], got,
				(unsigned long long)sent_bad[k]);
		CU_ASSERT(got == (double)sent_bad[k]);
	}
	const char *in = "\"name\":\"in\"";
	CU_ASSERT(harness_json_num(stats, in, "rejected") == (double)n_bad);
	CU_ASSERT(harness_json_num(stats, in, "received") == (double)(n_good * PER_MSG + n_bad));
	CU_ASSERT(harness_json_num(stats, in, "queued") == (double)(n_good * PER_MSG));
	CU_ASSERT(harness_json_num(stats, in, "dropped") == 0);
	CU_ASSERT(harness_json_num(stats, NULL, "samples") == (double)(n_good * PER_MSG));
	CU_ASSERT(harness_json_num(stats, NULL, "batches") == (double)n_good);
	CU_ASSERT(harness_json_num(stats, NULL, "skipped") == 0);
	CU_ASSERT(harness_json_num(stats, NULL, "rollbacks") == 0);
	/* Oversized: ZeroMQ dropped each one with its connection; the decoder never saw them. */
	CU_ASSERT(disconnects == n_huge);
	CU_ASSERT(harness_json_num(stats, "\"rejected_by\"", "too_big") == 0);

	/* The final model, bit for bit. */
	char reply[4096];
	CU_ASSERT(harness_control(&h, "snapshot", reply, sizeof reply) == 0);
	uint8_t *body = NULL;
	size_t len = 0;
	CU_ASSERT_FATAL(harness_recv_snapshot_after(sub, n_good * PER_MSG, 10000, &body, &len) == 0);
	struct mb_snap_info info;
	const uint8_t *params_le;
	CU_ASSERT_FATAL(mb_snap_decode(body, len, &info, &params_le, NULL) == 0);
	float *want = NULL;
	size_t np = 0;
	reference_params(n_good, &want, &np);
	CU_ASSERT_FATAL(mb_snap_param_count(&info) == np);
	float *got = malloc(np * sizeof *got);
	CU_ASSERT_FATAL(got != NULL);
	mb_snap_params_copy(got, params_le, np);
	CU_ASSERT(info.batches == n_good);
	CU_ASSERT(memcmp(got, want, np * sizeof *got) == 0);
	size_t differ = 0;
	for (size_t i = 0; i < np; i++)
		differ += memcmp(&got[i], &want[i], sizeof *got) != 0;
	if (differ)
		fprintf(stderr, "%zu of %zu parameters differ from the in-process model\n", differ, np);

	free(got);
	free(want);
	free(body);
	free(buf);
	free(huge_msg);
	bad_msgs_free(&bad);
	zmq_socket_monitor(huge, NULL, 0);
	zmq_close(mon);
	zmq_close(huge);
	zmq_close(push);
	zmq_close(sub);
	CU_ASSERT(harness_stop(&h, 30000) == 0);
}

int main(void)
{
	const char *dir = mb_test_fashion_dir();
	if (mb_dataset_load_fashion(dir, "train", &train, NULL) < 0) {
		fprintf(stderr, "cannot load Fashion-MNIST from %s\n", dir);
		return 1;
	}
	MB_SUITE("daemon_badinput", {"badinput/counts_and_bit_identical_model", badinput_counts_and_bit_identical_model});
	int r = mb_test_run();
	mb_dataset_free(train);
	return r;
}
