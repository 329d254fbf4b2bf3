/* SPDX-License-Identifier: MIT */
/*
 * test_client.c - the client API against sockets the test itself binds:
 * what a producer puts on the wire, what a subscriber accepts, how the
 * control client times out and recovers, and what the model view scores.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "client.h"
#include "sample.h"
#include "snapshot.h"
#include "test.h"

static void *ctx;          /* the test's ZeroMQ context */
static char dir[64];       /* temporary directory of the ipc sockets */

static void endpoint(const char *name, char *buf, size_t cap)
{
	CU_ASSERT_FATAL(mb_client_endpoint(dir, name, buf, cap) == 0);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A socket of type bound at ipc://DIR/name. */
static void *bound(int type, const char *name)
{
	char ep[256];
	endpoint(name, ep, sizeof ep);
	void *s = zmq_socket(ctx, type);
	CU_ASSERT_FATAL(s != NULL);
	int zero = 0;
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
	CU_ASSERT_FATAL(zmq_bind(s, ep) == 0);
	return s;
}

/* Receive one frame (waiting up to ms) into a malloc'd buffer; its size in *len. */
static uint8_t *recv_frame(void *s, int ms, size_t *len, int *more)
{
	zmq_pollitem_t it = {.socket = s, .events = ZMQ_POLLIN};
	if (zmq_poll(&it, 1, ms) <= 0)
		return NULL;
	zmq_msg_t m;
	zmq_msg_init(&m);
	if (zmq_msg_recv(&m, s, 0) < 0) {
		zmq_msg_close(&m);
		return NULL;
	}
	*len = zmq_msg_size(&m);
	*more = zmq_msg_more(&m);
	uint8_t *b = malloc(*len + 1);
	memcpy(b, zmq_msg_data(&m), *len);
	zmq_msg_close(&m);
	return b;
}

/* Rows of a small data set: 5 samples of 4 features in [0, 1], one target. */
static const float X[5 * 4] = {
	0.0f, 1.0f, 0.5f, 0.25f,   1.0f, 0.0f, 0.2f, 0.8f,   0.1f, 0.9f, 0.3f, 0.7f,
	0.6f, 0.4f, 0.0f, 1.0f,    0.5f, 0.5f, 0.5f, 0.5f,
};
static const float Y[5] = {0, 1, 2, 1, 0};
static const float W[5] = {1.0f, 0.5f, 2.0f, 1.0f, 0.25f};

/* The bytes mb_sample_bin_encode makes of rows [first, first + count). */
static long expected_message(uint32_t first, uint32_t count, enum mb_elem elem, float scale, bool weighted,
			     uint8_t *buf, size_t cap)
{
	struct mb_sample_batch b = {
		.count = count, .n_features = 4, .n_targets = 1,
		.x = X + first * 4, .y = Y + first, .w = weighted ? W + first : NULL,
		.elem = elem, .scale = scale, .offset = 0.0f,
	};
	return mb_sample_bin_encode(buf, cap, &b);
}

/* Producer over PUSH with elem: the PULL side sees exactly the encoder's bytes. */
static void check_push_bytes(enum mb_elem elem, float scale, bool weighted)
{
	void *pull = bound(ZMQ_PULL, "ingest");
	char ep[256];
	endpoint("ingest", ep, sizeof ep);
	struct mb_producer_cfg cfg = {
		.endpoint = ep, .batch = 3, .n_features = 4, .n_targets = 1,
		.elem = elem, .scale = scale, .weighted = weighted, .timeout_ms = 2000, .zmq_ctx = ctx,
	};
	struct mb_producer *p = NULL;
	CU_ASSERT_FATAL(mb_producer_new(&cfg, &p) == 0);
	CU_ASSERT_EQUAL(mb_producer_append(p, X, Y, weighted ? W : NULL, 5), 5);
	CU_ASSERT_EQUAL(mb_producer_messages(p), 1); /* the full batch of 3 went at once */
	CU_ASSERT_EQUAL(mb_producer_flush(p), 0);
	CU_ASSERT_EQUAL(mb_producer_sent(p), 5);
	CU_ASSERT_EQUAL(mb_producer_messages(p), 2);

	uint8_t want[1024];
	uint32_t firsts[2] = {0, 3}, counts[2] = {3, 2};
	for (int i = 0; i < 2; i++) {
		long n = expected_message(firsts[i], counts[i], elem, scale, weighted, want, sizeof want);
		CU_ASSERT_FATAL(n > 0);
		size_t len = 0;
		int more = 0;
		uint8_t *got = recv_frame(pull, 2000, &len, &more);
		CU_ASSERT_FATAL(got != NULL);
		CU_ASSERT_EQUAL(len, (size_t)n);
		CU_ASSERT_EQUAL(more, 0);
		CU_ASSERT(len == (size_t)n && memcmp(got, want, len) == 0);
		free(got);
	}
	CU_ASSERT_EQUAL(mb_producer_close(p), 0);
	zmq_close(pull);
}

static void test_producer_f32(void) { check_push_bytes(MB_ELEM_F32, 1.0f, false); }
static void test_producer_u8(void) { check_push_bytes(MB_ELEM_U8, 1.0f / 255.0f, false); }
static void test_producer_f16_weighted(void) { check_push_bytes(MB_ELEM_F16, 1.0f, true); }

/* Text lines go out batch at a time, each ending in '\n'; bad lines are refused whole. */
static void test_producer_lines(void)
{
	void *pull = bound(ZMQ_PULL, "ingest");
	char ep[256];
	endpoint("ingest", ep, sizeof ep);
	struct mb_producer_cfg cfg = {.endpoint = ep, .batch = 2, .timeout_ms = 2000, .zmq_ctx = ctx};
	struct mb_producer *p = NULL;
	CU_ASSERT_FATAL(mb_producer_new(&cfg, &p) == 0);
	CU_ASSERT_EQUAL(mb_producer_send_line(p, "1,0.5,0.25\n", 11), 1);
	CU_ASSERT_EQUAL(mb_producer_send_line(p, "0,1,2", 5), 1);
	CU_ASSERT_EQUAL(mb_producer_send_line(p, "2 1:0.5 3:1", 11), 1);
	CU_ASSERT_EQUAL(mb_producer_send_line(p, "1,2\n3,4", 7), -EINVAL);
	size_t big = MB_MAX_LINE_BYTES + 10;
	char *huge = malloc(big);
	memset(huge, '1', big);
	CU_ASSERT_EQUAL(mb_producer_send_line(p, huge, big), -E2BIG);
	free(huge);
	/* Samples need a producer made with n_features. */
	CU_ASSERT_EQUAL(mb_producer_append(p, X, Y, NULL, 1), -EINVAL);
	CU_ASSERT_EQUAL(mb_producer_close(p), 0);

	const char *want[2] = {"1,0.5,0.25\n0,1,2\n", "2 1:0.5 3:1\n"};
	for (int i = 0; i < 2; i++) {
		size_t len = 0;
		int more = 0;
		uint8_t *got = recv_frame(pull, 2000, &len, &more);
		CU_ASSERT_FATAL(got != NULL);
		got[len] = '\0';
		CU_ASSERT_STRING_EQUAL((char *)got, want[i]);
		free(got);
	}
	zmq_close(pull);
}

/* With a topic the producer publishes: the topic frame, then the message. */
static void test_producer_topic(void)
{
	void *sub = bound(ZMQ_SUB, "ingest");
	zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
	char ep[256];
	endpoint("ingest", ep, sizeof ep);
	struct mb_producer_cfg cfg = {.endpoint = ep, .topic = "fashion", .batch = 8, .timeout_ms = 1000, .zmq_ctx = ctx};
	struct mb_producer *p = NULL;
	CU_ASSERT_FATAL(mb_producer_new(&cfg, &p) == 0);
	/* A PUB drops what it sends before the subscription arrives: send until one lands. */
	uint8_t *topic = NULL;
	size_t len = 0;
	int more = 0;
	for (int i = 0; i < 100 && !topic; i++) {
		CU_ASSERT_EQUAL(mb_producer_send_line(p, "3,1,1", 5), 1);
		CU_ASSERT_EQUAL(mb_producer_flush(p), 0);
		topic = recv_frame(sub, 20, &len, &more);
	}
	CU_ASSERT_FATAL(topic != NULL);
	CU_ASSERT(len == 7 && memcmp(topic, "fashion", 7) == 0);
	CU_ASSERT_EQUAL(more, 1);
	free(topic);
	uint8_t *body = recv_frame(sub, 1000, &len, &more);
	CU_ASSERT_FATAL(body != NULL);
	CU_ASSERT(len == 6 && memcmp(body, "3,1,1\n", 6) == 0);
	CU_ASSERT_EQUAL(more, 0);
	free(body);
	mb_producer_free(p);
	zmq_close(sub);
}

/* No daemon: a send waits out its timeout and says -EAGAIN; the samples stay queued. */
static void test_producer_no_daemon(void)
{
	char ep[256];
	endpoint("nobody", ep, sizeof ep);
	struct mb_producer_cfg cfg = {.endpoint = ep, .batch = 2, .n_features = 4, .n_targets = 1,
				      .timeout_ms = 100, .zmq_ctx = ctx};
	struct mb_producer *p = NULL;
	CU_ASSERT_FATAL(mb_producer_new(&cfg, &p) == 0);
	CU_ASSERT_EQUAL(mb_producer_append(p, X, Y, NULL, 1), 1);
	double t0 = now_s();
	CU_ASSERT_EQUAL(mb_producer_flush(p), -EAGAIN);
	double took = now_s() - t0;
	CU_ASSERT(took >= 0.05 && took < 2.0);
	CU_ASSERT_EQUAL(mb_producer_sent(p), 0);
	CU_ASSERT_EQUAL(mb_producer_close(p), -EAGAIN);
}

static void test_producer_bad_cfg(void)
{
	struct mb_producer *p = (struct mb_producer *)&p; /* must stay untouched */
	struct mb_producer *const before = p;
	struct mb_producer_cfg cfg = {.endpoint = "ipc:///nonexistent", .n_features = 4,
				      .elem = MB_ELEM_U8, .scale = 0.0f, .zmq_ctx = ctx};
	CU_ASSERT_EQUAL(mb_producer_new(&cfg, &p), -EINVAL);
	cfg.elem = MB_ELEM_F32;
	cfg.batch = MB_MAX_SAMPLES_PER_MSG + 1;
	CU_ASSERT_EQUAL(mb_producer_new(&cfg, &p), -EINVAL);
	cfg.batch = 0;
	cfg.endpoint = NULL;
	CU_ASSERT_EQUAL(mb_producer_new(&cfg, &p), -EINVAL);
	CU_ASSERT_PTR_EQUAL(p, before);
	CU_ASSERT_PTR_NULL(mb_producer_free(NULL));
	CU_ASSERT_PTR_NULL(mb_subscriber_free(NULL));
	CU_ASSERT_PTR_NULL(mb_client_free(NULL));
	CU_ASSERT_PTR_NULL(mb_client_snap_free(NULL));
}

/* A softmax snapshot 2 -> 3: class 0 when x0 is large, 1 when x1 is, else 2. */
static const float SOFTMAX_PARAMS[3 * 2 + 3] = {
	4.0f, 0.0f,   0.0f, 4.0f,   0.0f, 0.0f,   /* W: 3 rows of 2 */
	0.0f, 0.0f,   1.0f,                       /* b */
};

static long softmax_snapshot(uint64_t version, uint8_t *buf, size_t cap)
{
	struct mb_snap_info in = {
		.kind = MB_MODEL_SOFTMAX, .n_layers = 1, .sizes = {2, 3}, .act = {MB_ACT_SOFTMAX},
		.version = version, .samples = 100 * version, .batches = version, .cost = 0.5f,
		.timestamp_ns = 1700000000000000000ull,
	};
	return mb_snap_encode(buf, cap, &in, SOFTMAX_PARAMS);
}

static int send_snapshot(void *pub, const char *topic, const uint8_t *body, size_t len)
{
	if (zmq_send(pub, topic, strlen(topic), ZMQ_SNDMORE) < 0)
		return -1;
	return zmq_send(pub, body, len, 0) < 0 ? -1 : 0;
}

/* Publish version 1 until the subscriber has it (subscriptions take a moment). */
static struct mb_client_snap *first_snapshot(void *pub, struct mb_subscriber *s, const char *topic)
{
	uint8_t body[256];
	long n = softmax_snapshot(1, body, sizeof body);
	CU_ASSERT_FATAL(n > 0);
	struct mb_client_snap *snap = NULL;
	for (int i = 0; i < 100 && !snap; i++) {
		CU_ASSERT_FATAL(send_snapshot(pub, topic, body, (size_t)n) == 0);
		if (mb_subscriber_recv(s, 20, &snap, NULL) < 0)
			snap = NULL;
	}
	return snap;
}

/* The subscriber decodes what a PUB sends: topic, counters, parameters. */
static void test_subscriber_decode(void)
{
	void *pub = bound(ZMQ_PUB, "snapshots");
	char ep[256];
	endpoint("snapshots", ep, sizeof ep);
	struct mb_subscriber_cfg cfg = {.endpoint = ep, .topic = "", .zmq_ctx = ctx};
	struct mb_subscriber *s = NULL;
	CU_ASSERT_FATAL(mb_subscriber_new(&cfg, &s) == 0);
	struct mb_client_snap *snap = first_snapshot(pub, s, "softmax");
	CU_ASSERT_FATAL(snap != NULL);
	CU_ASSERT_STRING_EQUAL(snap->topic, "softmax");
	CU_ASSERT_EQUAL(snap->info.kind, MB_MODEL_SOFTMAX);
	CU_ASSERT_EQUAL(snap->info.n_layers, 1);
	CU_ASSERT_EQUAL(snap->info.sizes[0], 2);
	CU_ASSERT_EQUAL(snap->info.sizes[1], 3);
	CU_ASSERT_EQUAL(snap->info.version, 1);
	CU_ASSERT_EQUAL(snap->info.samples, 100);
	CU_ASSERT_EQUAL(snap->info.n_params, 9);
	CU_ASSERT(snap->received_ns > snap->info.timestamp_ns);
	float params[9];
	mb_snap_params_copy(params, snap->params, 9);
	CU_ASSERT(memcmp(params, SOFTMAX_PARAMS, sizeof params) == 0);
	mb_client_snap_free(snap);

	/* Nothing more queued than what the retries left: drain, then time out. */
	while (mb_subscriber_recv(s, 50, &snap, NULL) == 0)
		mb_client_snap_free(snap);
	double t0 = now_s();
	CU_ASSERT_EQUAL(mb_subscriber_recv(s, 100, &snap, NULL), -ETIMEDOUT);
	CU_ASSERT(now_s() - t0 >= 0.05);
	mb_subscriber_free(s);
	zmq_close(pub);
}

/* A damaged snapshot is refused with its reason; the next good one still arrives. */
static void test_subscriber_refuses_damage(void)
{
	void *pub = bound(ZMQ_PUB, "snapshots");
	char ep[256];
	endpoint("snapshots", ep, sizeof ep);
	struct mb_subscriber_cfg cfg = {.endpoint = ep, .zmq_ctx = ctx};
	struct mb_subscriber *s = NULL;
	CU_ASSERT_FATAL(mb_subscriber_new(&cfg, &s) == 0);
	struct mb_client_snap *snap = first_snapshot(pub, s, "softmax");
	CU_ASSERT_FATAL(snap != NULL);
	snap = mb_client_snap_free(snap);
	while (mb_subscriber_recv(s, 50, &snap, NULL) == 0)
		snap = mb_client_snap_free(snap);

	uint8_t body[256];
	long n = softmax_snapshot(2, body, sizeof body);
	body[n - 1] ^= 0x40; /* a parameter bit: the CRC no longer matches */
	CU_ASSERT_FATAL(send_snapshot(pub, "softmax", body, (size_t)n) == 0);
	CU_ASSERT_FATAL(zmq_send(pub, "softmax", 7, 0) == 7); /* a message of one frame */
	n = softmax_snapshot(3, body, sizeof body);
	CU_ASSERT_FATAL(send_snapshot(pub, "softmax", body, (size_t)n) == 0);

	struct mb_diag d = {0};
	CU_ASSERT_EQUAL(mb_subscriber_recv(s, 1000, &snap, &d), -EBADMSG);
	CU_ASSERT_EQUAL(d.reason, MB_R_CRC);
	CU_ASSERT_PTR_NULL(snap);
	CU_ASSERT_EQUAL(mb_subscriber_recv(s, 1000, &snap, &d), -EBADMSG);
	CU_ASSERT_EQUAL(d.reason, MB_R_TRUNCATED);
	CU_ASSERT_EQUAL(mb_subscriber_recv(s, 1000, &snap, NULL), 0);
	CU_ASSERT_FATAL(snap != NULL);
	CU_ASSERT_EQUAL(snap->info.version, 3);
	mb_client_snap_free(snap);
	mb_subscriber_free(s);
	zmq_close(pub);
}

/* A topic names one model exactly, though ZeroMQ matches prefixes; latest skips to the newest. */
static void test_subscriber_topic_latest(void)
{
	void *pub = bound(ZMQ_PUB, "snapshots");
	char ep[256];
	endpoint("snapshots", ep, sizeof ep);
	struct mb_subscriber_cfg cfg = {.endpoint = ep, .topic = "soft", .zmq_ctx = ctx};
	struct mb_subscriber *s = NULL;
	CU_ASSERT_FATAL(mb_subscriber_new(&cfg, &s) == 0);
	struct mb_client_snap *snap = first_snapshot(pub, s, "soft");
	CU_ASSERT_FATAL(snap != NULL);
	snap = mb_client_snap_free(snap);
	while (mb_subscriber_recv(s, 50, &snap, NULL) == 0)
		snap = mb_client_snap_free(snap);

	uint8_t body[256];
	for (uint64_t v = 2; v <= 4; v++) {
		long n = softmax_snapshot(v, body, sizeof body);
		CU_ASSERT_FATAL(send_snapshot(pub, "soft", body, (size_t)n) == 0);
	}
	long n = softmax_snapshot(9, body, sizeof body);
	CU_ASSERT_FATAL(send_snapshot(pub, "softmax", body, (size_t)n) == 0);
	usleep(200 * 1000); /* let all four reach the socket */
	CU_ASSERT_EQUAL(mb_subscriber_latest(s, 1000, &snap, NULL), 0);
	CU_ASSERT_FATAL(snap != NULL);
	CU_ASSERT_EQUAL(snap->info.version, 4);
	CU_ASSERT_STRING_EQUAL(snap->topic, "soft");
	mb_client_snap_free(snap);
	snap = NULL;
	CU_ASSERT_EQUAL(mb_subscriber_latest(s, 50, &snap, NULL), -ETIMEDOUT);
	CU_ASSERT_PTR_NULL(snap);
	mb_subscriber_free(s);
	zmq_close(pub);
}

/* Nobody at the endpoint: -ETIMEDOUT after about the timeout, and again next time. */
static void test_control_dead_endpoint(void)
{
	char ep[256];
	endpoint("control", ep, sizeof ep);
	struct mb_client *c = NULL;
	CU_ASSERT_FATAL(mb_client_new(ep, ctx, &c) == 0);
	char *reply = (char *)"untouched";
	for (int i = 0; i < 2; i++) {
		double t0 = now_s();
		CU_ASSERT_EQUAL(mb_client_request(c, MB_CTL_STATUS, 200, &reply), -ETIMEDOUT);
		double took = now_s() - t0;
		CU_ASSERT(took >= 0.15 && took < 2.0);
		CU_ASSERT_STRING_EQUAL(reply, "untouched");
	}
	char big[MB_MAX_CONTROL_BYTES + 2];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	CU_ASSERT_EQUAL(mb_client_request(c, big, 100, &reply), -E2BIG);
	mb_client_free(c);
}

/* A REP server that answers each request with its echo until told to stop. */
struct echo_server {
	void *rep;             /* its socket, bound by the test */
	atomic_int serving;    /* 1 while it should answer */
	pthread_t thread;      /* its thread */
};

static void *echo_main(void *arg)
{
	struct echo_server *e = arg;
	while (atomic_load(&e->serving)) {
		size_t len = 0;
		int more = 0;
		uint8_t *req = recv_frame(e->rep, 20, &len, &more);
		if (!req)
			continue;
		char reply[256];
		int n = snprintf(reply, sizeof reply, "{\"ok\":true,\"echo\":\"%.*s\"}", (int)len, (char *)req);
		zmq_send(e->rep, reply, (size_t)n, 0);
		free(req);
	}
	return NULL;
}

/* After a timeout the client makes a new socket, so the next request gets its own reply. */
static void test_control_recovers(void)
{
	struct echo_server e = {.rep = bound(ZMQ_REP, "control")};
	char ep[256];
	endpoint("control", ep, sizeof ep);
	struct mb_client *c = NULL;
	CU_ASSERT_FATAL(mb_client_new(ep, ctx, &c) == 0);
	char *reply = NULL;
	/* The server is not answering yet: the request is stuck in its queue. */
	CU_ASSERT_EQUAL(mb_client_request(c, "stats", 200, &reply), -ETIMEDOUT);
	atomic_store(&e.serving, 1);
	CU_ASSERT_FATAL(pthread_create(&e.thread, NULL, echo_main, &e) == 0);
	CU_ASSERT_EQUAL(mb_client_request(c, "status", 2000, &reply), 0);
	CU_ASSERT_PTR_NOT_NULL(reply);
	if (reply)
		CU_ASSERT_STRING_EQUAL(reply, "{\"ok\":true,\"echo\":\"status\"}");
	free(reply);
	reply = NULL;
	CU_ASSERT_EQUAL(mb_client_request(c, "pause now", 2000, &reply), 0);
	if (reply)
		CU_ASSERT_STRING_EQUAL(reply, "{\"ok\":true,\"echo\":\"pause now\"}");
	free(reply);
	atomic_store(&e.serving, 0);
	pthread_join(e.thread, NULL);
	mb_client_free(c);
	zmq_close(e.rep);
}

/* The model view of a snapshot predicts and scores with the trainer's forward code. */
static void test_model_score(void)
{
	uint8_t body[256];
	long n = softmax_snapshot(1, body, sizeof body);
	CU_ASSERT_FATAL(n > 0);
	struct mb_client_snap snap = {.len = (size_t)n, .body = body};
	CU_ASSERT_FATAL(mb_snap_decode(body, (size_t)n, &snap.info, &snap.params, NULL) == 0);
	struct mb_model *m = NULL;
	/* A max batch of 2 makes the 5 rows go in three slices. */
	CU_ASSERT_FATAL(mb_client_model(&snap, 2, &m) == 0);
	CU_ASSERT_EQUAL(mb_client_n_classes(m), 3);

	const float x[5 * 2] = {3, 0,  0, 3,  0, 0,  2, 0.1f,  0, 0};
	const float y[5] = {0, 1, 2, 2, 1}; /* the last two are wrong: predicted 0 and 2 */
	uint32_t cls[5];
	float out[5 * 3];
	CU_ASSERT_EQUAL(mb_client_predict(m, x, 5, out, cls), 0);
	CU_ASSERT_EQUAL(cls[0], 0);
	CU_ASSERT_EQUAL(cls[1], 1);
	CU_ASSERT_EQUAL(cls[2], 2);
	CU_ASSERT_EQUAL(cls[3], 0);
	CU_ASSERT_EQUAL(cls[4], 2);
	for (int i = 0; i < 5; i++)
		CU_ASSERT_DOUBLE_EQUAL(out[3 * i] + out[3 * i + 1] + out[3 * i + 2], 1.0, 1e-5);

	uint64_t cm[9] = {0};
	struct mb_client_score sc;
	CU_ASSERT_EQUAL(mb_client_score(m, x, y, 5, cm, &sc), 0);
	CU_ASSERT_EQUAL(sc.rows, 5);
	CU_ASSERT_EQUAL(sc.correct, 3);
	CU_ASSERT_DOUBLE_EQUAL(sc.accuracy, 0.6, 1e-12);
	/* Mean cross-entropy of the five rows, from the outputs above. */
	double want = 0;
	for (int i = 0; i < 5; i++)
		want -= log(out[3 * i + (int)y[i]]);
	CU_ASSERT_DOUBLE_EQUAL(sc.cost, want / 5, 1e-4);
	const uint64_t want_cm[9] = {1, 0, 0,  0, 1, 1,  1, 0, 1};
	CU_ASSERT(memcmp(cm, want_cm, sizeof cm) == 0);

	const float bad_y[5] = {0, 1, 3, 2, 1}; /* class 3 of a 3-class model */
	struct mb_client_score keep = {.rows = 42};
	CU_ASSERT_EQUAL(mb_client_score(m, x, bad_y, 5, NULL, &keep), -EINVAL);
	CU_ASSERT_EQUAL(keep.rows, 42);
	mb_model_free(m);
}

/* The runtime directory follows the daemon's rule. */
static void test_runtime_dir(void)
{
	char buf[256];
	setenv("RUNTIME_DIRECTORY", "/run/a:/run/b", 1);
	CU_ASSERT_EQUAL(mb_client_runtime_dir(buf, sizeof buf), 0);
	CU_ASSERT_STRING_EQUAL(buf, "/run/a");
	unsetenv("RUNTIME_DIRECTORY");
	setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
	CU_ASSERT_EQUAL(mb_client_runtime_dir(buf, sizeof buf), 0);
	CU_ASSERT_STRING_EQUAL(buf, geteuid() == 0 ? "/run/minibatchd" : "/run/user/1000/minibatchd");
	CU_ASSERT_EQUAL(mb_client_runtime_dir(buf, 4), -ENAMETOOLONG);
	CU_ASSERT_EQUAL(mb_client_endpoint("/tmp/x", "control", buf, sizeof buf), 0);
	CU_ASSERT_STRING_EQUAL(buf, "ipc:///tmp/x/control");
	CU_ASSERT_EQUAL(mb_client_endpoint("/tmp/x", "control", buf, 10), -ENAMETOOLONG);
}

int main(void)
{
	snprintf(dir, sizeof dir, "/tmp/mb-test-client.XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	ctx = zmq_ctx_new();
	if (!ctx)
		return 1;
	MB_SUITE("producer",
		 {"f32_bytes", test_producer_f32},
		 {"u8_bytes", test_producer_u8},
		 {"f16_weighted_bytes", test_producer_f16_weighted},
		 {"text_lines", test_producer_lines},
		 {"pub_topic", test_producer_topic},
		 {"no_daemon_times_out", test_producer_no_daemon},
		 {"bad_config", test_producer_bad_cfg});
	MB_SUITE("subscriber",
		 {"decode", test_subscriber_decode},
		 {"refuses_damage", test_subscriber_refuses_damage},
		 {"exact_topic_latest", test_subscriber_topic_latest});
	MB_SUITE("control",
		 {"dead_endpoint_times_out", test_control_dead_endpoint},
		 {"recovers_after_timeout", test_control_recovers});
	MB_SUITE("model_view", {"predict_score_confusion", test_model_score});
	MB_SUITE("endpoints", {"runtime_dir", test_runtime_dir});
	int status = mb_test_run();
	zmq_ctx_term(ctx);
	/* ZeroMQ leaves the files of closed ipc listeners behind. */
	const char *names[] = {"ingest", "snapshots", "control", "nobody"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		char path[128];
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		unlink(path);
	}
	if (rmdir(dir) < 0)
		perror(dir);
	return status;
}
