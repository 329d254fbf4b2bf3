/* SPDX-License-Identifier: MIT */
/*
 * test_daemon_metrics.c - scrape the real daemon's /metrics over HTTP.
 *
 * The daemon listens on a loopback port the kernel picks (listen =
 * 127.0.0.1:0) and says which in its log. Good and bad messages go in;
 * the scrape must count exactly what was sent: received, queued,
 * rejected by reason, trained, batches. A plain socket client speaks the
 * HTTP, so the test needs nothing beyond libc. A port already taken
 * leaves the daemon running without metrics.
 */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

#include "daemon_harness.h"
#include "test.h"

#define PER_MSG 100

static struct mb_dataset *data;

/* The port of "metrics: serving http://127.0.0.1:PORT/metrics" in the daemon's log, or 0. */
static unsigned metrics_port(const struct harness *h)
{
	FILE *f = fopen(h->log, "r");
	if (!f)
		return 0;
	char line[1024];
	unsigned port = 0;
	static const char mark[] = "metrics: serving http://127.0.0.1:";
	while (!port && fgets(line, sizeof line, f)) {
		const char *p = strstr(line, mark);
		if (p)
			port = (unsigned)strtoul(p + strlen(mark), NULL, 10);
	}
	fclose(f);
	return port;
}

/*
 * One HTTP/1.0 request to 127.0.0.1:port; the whole response (status
 * line, headers, body) NUL-terminated in buf. Its length, or -1.
 */
static long http(unsigned port, const char *method, const char *path, char *buf, size_t cap)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	long len = -1;
	char req[256];
	int n = snprintf(req, sizeof req, "%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", method, path);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0 || write(fd, req, (size_t)n) != n)
		goto out;
	size_t got = 0;
	int64_t deadline = harness_now_ms() + 5000;
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int64_t left = deadline - harness_now_ms();
		if (left <= 0 || poll(&p, 1, (int)left) != 1)
			goto out;
		ssize_t r = read(fd, buf + got, cap - 1 - got);
		if (r < 0)
			goto out;
		if (r == 0)
			break;
		got += (size_t)r;
		if (got == cap - 1)
			goto out;
	}
	buf[got] = '\0';
	len = (long)got;
out:
	close(fd);
	return len;
}

/* The body of a response: after the blank line. */
static const char *body_of(const char *resp)
{
	const char *p = strstr(resp, "\r\n\r\n");
	return p ? p + 4 : "";
}

/* The value of the sample whose name and labels are exactly series ("name{a=\"b\"}"), or NAN. */
static double metric(const char *body, const char *series)
{
	size_t n = strlen(series);
	for (const char *p = body; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	}
	return NAN;
}

static void send_msg(void *push, const void *p, size_t n)
{
	CU_ASSERT_FATAL(zmq_send(push, p, n, 0) == (int)n);
}

static void scrape_counts_match(void)
{
	struct harness h;
	char ckpt_dir[] = "/tmp/mbd-metrics-ckpt.XXXXXX", ckpt_opt[64];
	CU_ASSERT_FATAL(mkdtemp(ckpt_dir) != NULL);
	snprintf(ckpt_opt, sizeof ckpt_opt, "checkpoint.dir=%s", ckpt_dir);
	const char *opts[] = {"metrics.listen=127.0.0.1:0", "batch.size=50", ckpt_opt, NULL};
	CU_ASSERT_FATAL(harness_start(&h, opts) == 0);
	unsigned port = metrics_port(&h);
	CU_ASSERT_FATAL(port > 0);

	void *push = harness_connect(&h, ZMQ_PUSH, "ingest");
	CU_ASSERT_FATAL(push != NULL);
	size_t cap = mb_sample_bin_size(PER_MSG, data->n_features, 1, MB_ELEM_U8, false);
	uint8_t *good = malloc(cap), *bad = malloc(cap);
	CU_ASSERT_FATAL(good && bad);

	/* Five good messages of 100 rows with three of a wrong magic and two cut short between them. */
	size_t n = harness_encode_u8(data, 0, PER_MSG, good, cap);
	CU_ASSERT_FATAL(n > 0);
	send_msg(push, good, n);
	for (uint32_t i = 1; i < 5; i++) {
		memcpy(bad, good, n);
		bad[0] = 'X';
		if (i < 4)
			send_msg(push, bad, n);
		if (i < 3)
			send_msg(push, good, n - 10);
		n = harness_encode_u8(data, i * PER_MSG, PER_MSG, good, cap);
		send_msg(push, good, n);
	}
	/* In order on one connection: once the last good row is learned, every message was seen. */
	CU_ASSERT_FATAL(harness_wait_trained(&h, 500, 20000));

	static char resp[1 << 20];
	CU_ASSERT_FATAL(http(port, "GET", "/metrics", resp, sizeof resp) > 0);
	CU_ASSERT(strncmp(resp, "HTTP/1.1 200", 12) == 0 || strncmp(resp, "HTTP/1.0 200", 12) == 0);
	CU_ASSERT(strstr(resp, "\r\nContent-Type: application/openmetrics-text; version=1.0.0; charset=utf-8\r\n") !=
		  NULL);
	const char *body = body_of(resp);
	size_t blen = strlen(body);
	CU_ASSERT(blen > 6 && strcmp(body + blen - 6, "# EOF\n") == 0);

	CU_ASSERT_EQUAL(metric(body, "minibatchd_samples_received_total{source=\"in\"}"), 505);
	CU_ASSERT_EQUAL(metric(body, "minibatchd_samples_queued_total{source=\"in\"}"), 500);
	CU_ASSERT_EQUAL(metric(body, "minibatchd_samples_dropped_total{source=\"in\"}"), 0);
	CU_ASSERT_EQUAL(metric(body, "minibatchd_samples_rejected_total{source=\"in\"}"), 5);
	CU_ASSERT_EQUAL(metric(body, "minibatchd_rejected_by_reason_total{source=\"in\",reason=\"magic\"}"), 3);
	CU_ASSERT_EQUAL(metric(body, "minibatchd_rejected_by_reason_total{source=\"in\",reason=\"truncated\"}"), 2);
	CU_ASSERT_EQUAL(metric(body, "minibatchd_rejected_by_reason_total{source=\"in\",reason=\"crc\"}"), 0);
	CU_ASSERT_EQUAL(metric(body, "minibatchd_samples_trained_total"), 500);
	CU_ASSERT(metric(body, "minibatchd_received_bytes_total{source=\"in\"}") > 5 * PER_MSG * 784);
	CU_ASSERT_EQUAL(metric(body, "minibatchd_queue_batches{source=\"in\"}"), 0);

	/* The figures agree with the control socket's. */
	char status[8192];
	CU_ASSERT_FATAL(harness_control(&h, "status", status, sizeof status) == 0);
	double batches = harness_json_num(status, NULL, "batches");
	CU_ASSERT(batches >= 10); /* 500 rows in batches of at most 50 */
	CU_ASSERT_EQUAL(metric(body, "minibatchd_model_version"), harness_json_num(status, NULL, "version"));
	CU_ASSERT_EQUAL(metric(body, "minibatchd_batch_wait_seconds_count"), batches);
	CU_ASSERT_EQUAL(metric(body, "minibatchd_batch_wait_seconds_bucket{le=\"+Inf\"}"), batches);
	CU_ASSERT(metric(body, "minibatchd_batch_wait_seconds_sum") >= 0);
	double rows = metric(body, "minibatchd_batch_rows");
	CU_ASSERT(rows >= 1 && rows <= 50);
	CU_ASSERT(fabs(metric(body, "minibatchd_learning_rate") - 0.05) < 1e-6);
	CU_ASSERT(fabs(metric(body, "minibatchd_cost_average") - harness_json_num(status, NULL, "cost")) < 1e-3);
	CU_ASSERT(isfinite(metric(body, "minibatchd_cost_last_batch")));
	double acc = metric(body, "minibatchd_accuracy_average");
	CU_ASSERT(acc >= 0 && acc <= 1);
	CU_ASSERT_EQUAL(metric(body, "minibatchd_steps_skipped_total"), 0);
	CU_ASSERT_EQUAL(metric(body, "minibatchd_ingest_paused"), 0);
	CU_ASSERT(metric(body, "minibatchd_start_time_seconds") > 1.6e9);
	CU_ASSERT_EQUAL(metric(body, "minibatchd_build_info{version=\"" MB_VERSION_TEXT "\",model=\"softmax\"}"), 1);

	/* A snapshot on request: then its age is there, and small. */
	CU_ASSERT_FATAL(harness_control(&h, "snapshot", status, sizeof status) == 0);
	double age = NAN;
	for (int64_t end = harness_now_ms() + 5000; harness_now_ms() < end && isnan(age);) {
		CU_ASSERT_FATAL(http(port, "GET", "/metrics", resp, sizeof resp) > 0);
		age = metric(body_of(resp), "minibatchd_snapshot_age_seconds");
		if (isnan(age))
			usleep(20000);
	}
	CU_ASSERT(age >= 0 && age < 5);
	CU_ASSERT(metric(body_of(resp), "minibatchd_snapshots_published_total") >= 1);

	/* No checkpoint yet, so no age; after a save, its age and duration are there. */
	CU_ASSERT(isnan(metric(body_of(resp), "minibatchd_checkpoint_age_seconds")));
	CU_ASSERT_FATAL(harness_control(&h, "save", status, sizeof status) == 0);
	CU_ASSERT(strstr(status, "\"ok\":true") != NULL);
	CU_ASSERT_FATAL(http(port, "GET", "/metrics", resp, sizeof resp) > 0);
	age = metric(body_of(resp), "minibatchd_checkpoint_age_seconds");
	CU_ASSERT(age >= 0 && age < 5);
	double took = metric(body_of(resp), "minibatchd_checkpoint_duration_seconds");
	CU_ASSERT(took > 0 && took < 5);
	CU_ASSERT_EQUAL(metric(body_of(resp), "minibatchd_checkpoints_written_total"), 1);

	/* Only GET and HEAD of /metrics. */
	CU_ASSERT_FATAL(http(port, "GET", "/other", resp, sizeof resp) > 0);
	CU_ASSERT(strstr(resp, " 404 ") != NULL);
	CU_ASSERT_FATAL(http(port, "POST", "/metrics", resp, sizeof resp) > 0);
	CU_ASSERT(strstr(resp, " 405 ") != NULL);
	CU_ASSERT_FATAL(http(port, "HEAD", "/metrics", resp, sizeof resp) > 0);
	CU_ASSERT(strstr(resp, " 200 ") != NULL && *body_of(resp) == '\0');

	free(good);
	free(bad);
	zmq_close(push);
	CU_ASSERT(harness_stop(&h, 10000) == 0);
	harness_remove_tree(ckpt_dir);
}

static void port_taken_runs_without(void)
{
	/* Hold a loopback port, then ask the daemon for it. */
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t alen = sizeof a;
	CU_ASSERT_FATAL(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && listen(fd, 1) == 0 &&
			getsockname(fd, (struct sockaddr *)&a, &alen) == 0);
	char opt[64];
	snprintf(opt, sizeof opt, "metrics.listen=127.0.0.1:%u", (unsigned)ntohs(a.sin_port));
	const char *opts[] = {opt, NULL};
	struct harness h;
	CU_ASSERT_FATAL(harness_start(&h, opts) == 0);
	/* Training goes on: the control socket answers, and the log says what happened. */
	char status[4096];
	CU_ASSERT(harness_control(&h, "status", status, sizeof status) == 0 && strstr(status, "\"ok\":true"));
	CU_ASSERT(harness_log_contains(&h, "running without metrics"));
	CU_ASSERT(metrics_port(&h) == 0);
	CU_ASSERT(harness_stop(&h, 10000) == 0);
	close(fd);

	/* And an empty address means no endpoint at all. */
	const char *off[] = {"metrics.listen=", NULL};
	CU_ASSERT_FATAL(harness_start(&h, off) == 0);
	CU_ASSERT_FALSE(harness_log_contains(&h, "metrics:"));
	CU_ASSERT(harness_stop(&h, 10000) == 0);
}

int main(void)
{
	const char *dir = mb_test_fashion_dir();
	if (mb_dataset_load_fashion(dir, "t10k", &data, NULL) < 0) {
		fprintf(stderr, "cannot load Fashion-MNIST from %s\n", dir);
		return 1;
	}
	MB_SUITE("daemon_metrics", {"metrics/scrape_counts_match", scrape_counts_match},
		 {"metrics/port_taken_runs_without", port_taken_runs_without});
	int r = mb_test_run();
	mb_dataset_free(data);
	return r;
}
