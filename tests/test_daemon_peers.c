/* SPDX-License-Identifier: MIT */
/*
 * test_daemon_peers.c - the daemon keeps serving good peers while bad ones
 * misbehave, and finds its peers again after a restart.
 *
 *   peers/garbage_connections  ten TCP connections that send noise, nothing,
 *                              or a greeting and then stall do not keep a
 *                              producer from delivering every sample
 *   peers/stalled_dropped      a peer stalled in its handshake, and one that
 *                              stops answering heartbeats, are disconnected
 *                              within 5 s (the test sees the daemon close
 *                              its end of each connection)
 *   peers/heartbeat_configurable  [zmq] heartbeat_ms and heartbeat_timeout_ms
 *                              set how soon a silent peer is dropped
 *   peers/slow_subscriber      a subscriber that never reads for 20 s does
 *                              not stop training, leaves the daemon's peak
 *                              RSS bounded and is still served afterwards
 *                              (what it costs in throughput is measured by
 *                              bench/stall, not asserted here)
 *   peers/producer_first       a producer connected before the daemon starts
 *                              delivers once it is up
 *   peers/source_reconnects    a source that connects (bind = false) to a
 *                              producer not yet listening gets its samples
 *                              once the producer binds
 *
 * The daemon listens on tcp://127.0.0.1:PORT beside its ipc socket, PORT
 * being one the kernel just handed out as free.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

#include "client.h"
#include "daemon_harness.h"
#include "test.h"

#define PER_MSG        100   /* samples per message */
#define STALL_LIMIT_MS 5000  /* a stalled peer must be gone by then */
#define SLOW_SUB_MS    20000 /* how long the subscriber stays unread */
#define BASELINE_MS    6000  /* the feed window of the run without it */
/*
 * Extra peak RSS allowed once the subscriber stalls. The publisher queues
 * publish.sndhwm (16) snapshots of 31 KiB for it, under 1 MiB; the rest is
 * allocator (and sanitizer quarantine) noise. Without the high-water mark
 * the unsent snapshots of 20 s would take gigabytes, and ZeroMQ's own
 * default of 1000 messages would take some 31 MiB.
 */
#define HWM_SLACK_KIB (24 * 1024)

static struct mb_dataset *test_set;

/* A plain TCP connection to the port, or -1. */
static int tcp_open(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {
		.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool send_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* A ZMTP 3.1 greeting offering the NULL mechanism, as a client. */
static void zmtp_greeting(uint8_t g[64])
{
	memset(g, 0, 64);
	g[0] = 0xff;
	g[9] = 0x7f;
	g[10] = 3;
	g[11] = 1;
	memcpy(g + 12, "NULL", 4);
}

/* A ZMTP READY command saying we are a PUSH socket. */
static size_t zmtp_ready(uint8_t *buf)
{
	static const uint8_t body[] = "\x05READY\x0bSocket-Type\x00\x00\x00\x04PUSH";
	buf[0] = 0x04; /* a short command frame */
	buf[1] = sizeof body - 1;
	memcpy(buf + 2, body, sizeof body - 1);
	return 2 + sizeof body - 1;
}

/* What came back on a raw connection. */
struct zmtp_seen {
	uint8_t buf[1 << 16]; /* bytes not parsed yet */
	size_t len;           /* how many */
	bool greeting;        /* the peer's 64-byte greeting was consumed */
	unsigned pings;       /* PING commands seen */
};

/* Consume whole frames of s->buf, counting PING commands. */
static void zmtp_parse(struct zmtp_seen *s)
{
	size_t at = 0;
	if (!s->greeting) {
		if (s->len < 64)
			return;
		s->greeting = true;
		at = 64;
	}
	for (;;) {
		if (s->len - at < 2)
			break;
		uint8_t flags = s->buf[at];
		size_t head = flags & 0x02 ? 9 : 2, size = 0;
		if (s->len - at < head)
			break;
		if (flags & 0x02)
			for (int i = 1; i <= 8; i++)
				size = size << 8 | s->buf[at + i];
		else
			size = s->buf[at + 1];
		if (s->len - at - head < size)
			break;
		const uint8_t *body = s->buf + at + head;
		if ((flags & 0x04) && size >= 5 && body[0] == 4 && memcmp(body + 1, "PING", 4) == 0)
			s->pings++;
		at += head + size;
	}
	memmove(s->buf, s->buf + at, s->len - at);
	s->len -= at;
}

/*
 * Read fd until the daemon closes it, answering nothing, for at most
 * limit_ms: the milliseconds from start_ms to the close, or -1.
 */
static int64_t wait_closed(int fd, int64_t start_ms, int limit_ms, struct zmtp_seen *seen)
{
	for (;;) {
		int64_t left = start_ms + limit_ms - harness_now_ms();
		if (left <= 0)
			return -1;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		if (seen->len == sizeof seen->buf)
			seen->len = 0; /* not a ZMTP stream we follow; only the close matters */
		ssize_t n = recv(fd, seen->buf + seen->len, sizeof seen->buf - seen->len, 0);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return harness_now_ms() - start_ms;
		if (n < 0)
			return -1;
		seen->len += (size_t)n;
		zmtp_parse(seen);
	}
}

/* Start the daemon with its source "in" also on tcp://127.0.0.1:port. */
static int start_with_tcp(struct harness *h, int port, const char *extra)
{
	char ep[128];
	snprintf(ep, sizeof ep, "source.in.endpoint=ipc://ingest,tcp://127.0.0.1:%d", port);
	const char *opts[] = {ep, "metrics.listen=", "model.inputs=784", extra, NULL};
	return harness_start(h, opts);
}

static double stat_of(struct harness *h, const char *anchor, const char *key)
{
	char reply[8192];
	if (harness_control(h, "stats", reply, sizeof reply) < 0)
		return -1;
	return harness_json_num(reply, anchor, key);
}

/* A producer of U8 Fashion-MNIST samples over tcp, through the client library. */
static struct mb_producer *producer_to(struct harness *h, int port)
{
	char ep[128];
	snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
	struct mb_producer_cfg pc = {
		.endpoint = ep,
		.batch = PER_MSG,
		.n_features = test_set->n_features,
		.n_targets = 1,
		.elem = MB_ELEM_U8,
		.scale = 1.0f / 255,
		.timeout_ms = 15000,
		.zmq_ctx = h ? h->zctx : NULL,
	};
	struct mb_producer *p = NULL;
	return mb_producer_new(&pc, &p) == 0 ? p : NULL;
}

/* Append samples [0, count) of the test set; 0 or -errno. */
static int produce(struct mb_producer *p, uint32_t count)
{
	uint32_t nf = test_set->n_features;
	for (uint32_t i = 0; i < count; i += PER_MSG) {
		uint32_t n = count - i < PER_MSG ? count - i : PER_MSG;
		int r = mb_producer_append(p, test_set->x + (size_t)i * nf, test_set->y + i, NULL, n);
		if (r < 0)
			return r;
	}
	return mb_producer_flush(p);
}

static void garbage_connections(void)
{
	int port = harness_free_port();
	CU_ASSERT_FATAL(port > 0);
	struct harness h;
	CU_ASSERT_FATAL(start_with_tcp(&h, port, NULL) == 0);

	/* Four send noise, four say nothing, two greet properly and stall. */
	int fds[10];
	uint8_t noise[4096], greeting[64];
	zmtp_greeting(greeting);
	srand(7);
	for (int i = 0; i < 10; i++) {
		fds[i] = tcp_open(port);
		CU_ASSERT_FATAL(fds[i] >= 0);
		if (i < 4) {
			for (size_t k = 0; k < sizeof noise; k++)
				noise[k] = (uint8_t)rand();
			send_all(fds[i], noise, sizeof noise); /* the daemon may hang up halfway */
		} else if (i >= 8) {
			CU_ASSERT(send_all(fds[i], greeting, sizeof greeting));
		}
	}

	const uint32_t count = 10000;
	struct mb_producer *p = producer_to(&h, port);
	CU_ASSERT_FATAL(p != NULL);
	CU_ASSERT(produce(p, count) == 0);
	CU_ASSERT(mb_producer_close(p) == 0);
	CU_ASSERT(harness_wait_trained(&h, count, 20000));
	CU_ASSERT(stat_of(&h, "\"name\":\"in\"", "queued") == count);
	CU_ASSERT(stat_of(&h, "\"name\":\"in\"", "dropped") == 0);
	CU_ASSERT(stat_of(&h, NULL, "samples") == count);
	for (int i = 0; i < 10; i++)
		close(fds[i]);
	CU_ASSERT(harness_stop(&h, 20000) == 0);
}

static void stalled_dropped(void)
{
	int port = harness_free_port();
	CU_ASSERT_FATAL(port > 0);
	struct harness h;
	CU_ASSERT_FATAL(start_with_tcp(&h, port, NULL) == 0);

	uint8_t greeting[64], ready[64];
	zmtp_greeting(greeting);
	size_t ready_len = zmtp_ready(ready);

	/* One stops after its greeting: the handshake never completes. */
	int half = tcp_open(port);
	CU_ASSERT_FATAL(half >= 0);
	CU_ASSERT(send_all(half, greeting, sizeof greeting));
	int64_t half_start = harness_now_ms();

	/* One completes the handshake, then never answers a heartbeat. */
	int mute = tcp_open(port);
	CU_ASSERT_FATAL(mute >= 0);
	CU_ASSERT(send_all(mute, greeting, sizeof greeting));
	CU_ASSERT(send_all(mute, ready, ready_len));
	int64_t mute_start = harness_now_ms();

	static struct zmtp_seen half_seen, mute_seen;
	memset(&half_seen, 0, sizeof half_seen);
	memset(&mute_seen, 0, sizeof mute_seen);
	int64_t half_ms = wait_closed(half, half_start, STALL_LIMIT_MS + 3000, &half_seen);
	int64_t mute_ms = wait_closed(mute, mute_start, STALL_LIMIT_MS + 3000, &mute_seen);
	fprintf(stderr, "stalled in the handshake: dropped after %lld ms; silent after it: %lld ms (%u pings)\n",
		(long long)half_ms, (long long)mute_ms, mute_seen.pings);
	/* Not refused on sight (the greeting was good), and gone in time. */
	CU_ASSERT(half_ms >= 1000 && half_ms <= STALL_LIMIT_MS);
	CU_ASSERT(half_seen.greeting);
	/* It was heartbeats that found it out: it was pinged, and it lasted past the first ping. */
	CU_ASSERT(mute_ms >= 1500 && mute_ms <= STALL_LIMIT_MS);
	CU_ASSERT(mute_seen.pings >= 1);
	close(half);
	close(mute);
	/* The daemon is none the worse. */
	CU_ASSERT(stat_of(&h, NULL, "samples") == 0);
	CU_ASSERT(harness_stop(&h, 20000) == 0);
}

/* The [zmq] keys reach the sockets: shorter heartbeats find a silent peer sooner. */
static void heartbeat_configurable(void)
{
	int port = harness_free_port();
	CU_ASSERT_FATAL(port > 0);
	char ep[128];
	snprintf(ep, sizeof ep, "source.in.endpoint=tcp://127.0.0.1:%d", port);
	const char *opts[] = {ep, "metrics.listen=", "zmq.heartbeat_ms=200", "zmq.heartbeat_timeout_ms=600", NULL};
	struct harness h;
	CU_ASSERT_FATAL(harness_start(&h, opts) == 0);
	uint8_t greeting[64], ready[64];
	zmtp_greeting(greeting);
	size_t ready_len = zmtp_ready(ready);
	int mute = tcp_open(port);
	CU_ASSERT_FATAL(mute >= 0);
	CU_ASSERT(send_all(mute, greeting, sizeof greeting));
	CU_ASSERT(send_all(mute, ready, ready_len));
	int64_t start = harness_now_ms();
	static struct zmtp_seen seen;
	memset(&seen, 0, sizeof seen);
	int64_t ms = wait_closed(mute, start, STALL_LIMIT_MS, &seen);
	fprintf(stderr, "with heartbeat_ms=200 and heartbeat_timeout_ms=600: dropped after %lld ms\n", (long long)ms);
	CU_ASSERT(ms >= 600 && ms <= 1500);
	CU_ASSERT(seen.pings >= 1);
	close(mute);
	CU_ASSERT(harness_stop(&h, 20000) == 0);
}

/* Seconds of CPU the process has used, from /proc/PID/stat; -1 if unreadable. */
static double cpu_seconds(pid_t pid)
{
	char path[64], buf[2048];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *p = strrchr(buf, ')');
	unsigned long long ut, st;
	/* After the name: state, then fields 4..13, then utime (14) and stime (15). */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* The peak resident set of the process in KiB (VmHWM), or -1. */
static long peak_rss_kib(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	long kib = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* The messages a feed sends, round and round: the test set, PER_MSG samples each. */
struct feed {
	uint8_t *msgs;   /* n_msgs encoded messages, cap bytes apart */
	size_t *lens;    /* the length of each */
	size_t cap;      /* bytes between two messages */
	uint32_t n_msgs; /* how many */
	uint64_t sent;   /* samples sent so far */
};

static int feed_init(struct feed *f)
{
	f->cap = mb_sample_bin_size(PER_MSG, test_set->n_features, 1, MB_ELEM_U8, false);
	f->n_msgs = test_set->count / PER_MSG;
	f->msgs = malloc(f->cap * f->n_msgs);
	f->lens = calloc(f->n_msgs, sizeof *f->lens);
	f->sent = 0;
	if (!f->msgs || !f->lens)
		return -1;
	for (uint32_t m = 0; m < f->n_msgs; m++)
		if (!(f->lens[m] = harness_encode_u8(test_set, m * PER_MSG, PER_MSG, f->msgs + m * f->cap, f->cap)))
			return -1;
	return 0;
}

static void feed_fini(struct feed *f)
{
	free(f->msgs);
	free(f->lens);
}

/*
 * Send as fast as the daemon takes for window_ms, wait until it has
 * trained everything, and return the samples trained per CPU second it
 * used meanwhile (-1 on failure).
 */
static double feed_window(struct harness *h, void *push, struct feed *f, int window_ms)
{
	double cpu0 = cpu_seconds(h->pid), done0 = stat_of(h, NULL, "samples");
	int64_t end = harness_now_ms() + window_ms;
	for (uint32_t m = 0; harness_now_ms() < end; m = (m + 1) % f->n_msgs, f->sent += PER_MSG)
		if (zmq_send(push, f->msgs + m * f->cap, f->lens[m], 0) < 0)
			return -1;
	if (!harness_wait_trained(h, f->sent, 60000))
		return -1;
	double cpu1 = cpu_seconds(h->pid), done1 = stat_of(h, NULL, "samples");
	if (cpu0 < 0 || cpu1 <= cpu0)
		return -1;
	fprintf(stderr, "%.0f samples in %.2f CPU s of the daemon: %.0f samples per CPU s\n", done1 - done0,
		cpu1 - cpu0, (done1 - done0) / (cpu1 - cpu0));
	return (done1 - done0) / (cpu1 - cpu0);
}

/*
 * One daemon publishing a snapshot after every batch (the most a
 * subscriber can be sent) is fed as fast as it takes: first with no
 * subscriber, then with one that subscribed and never reads.
 */
static void slow_subscriber(void)
{
	struct harness h;
	const char *opts[] = {"metrics.listen=", "model.inputs=784", "publish.every_batches=1", "publish.every_ms=0",
			      NULL};
	CU_ASSERT_FATAL(harness_start(&h, opts) == 0);
	struct feed f;
	CU_ASSERT_FATAL(feed_init(&f) == 0);
	char ep[512];
	harness_endpoint(&h, "ingest", ep, sizeof ep);
	void *push = zmq_socket(h.zctx, ZMQ_PUSH);
	int zero = 0, one = 1, wait_ms = 20000;
	zmq_setsockopt(push, ZMQ_LINGER, &zero, sizeof zero);
	zmq_setsockopt(push, ZMQ_SNDTIMEO, &wait_ms, sizeof wait_ms);
	CU_ASSERT_FATAL(zmq_connect(push, ep) == 0);

	/* Warm up: the first samples fix the shape, the caches fill. */
	feed_window(&h, push, &f, 1000);
	double base = feed_window(&h, push, &f, BASELINE_MS);
	long base_hwm = peak_rss_kib(h.pid);

	harness_endpoint(&h, "snapshots", ep, sizeof ep);
	void *sub = zmq_socket(h.zctx, ZMQ_SUB);
	zmq_setsockopt(sub, ZMQ_RCVHWM, &one, sizeof one);
	zmq_setsockopt(sub, ZMQ_LINGER, &zero, sizeof zero);
	zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
	CU_ASSERT_FATAL(zmq_connect(sub, ep) == 0);
	double slow = feed_window(&h, push, &f, SLOW_SUB_MS);
	long slow_hwm = peak_rss_kib(h.pid);
	/* It was subscribed all along: reading now brings a snapshot. */
	zmq_pollitem_t it = {.socket = sub, .events = ZMQ_POLLIN};
	CU_ASSERT(zmq_poll(&it, 1, 2000) == 1);

	/* For the log only: a rate on a shared machine is bench/stall's to measure. */
	fprintf(stderr, "with a subscriber unread for %d s: %.1f%% of the throughput without; peak RSS %ld -> %ld KiB\n",
		SLOW_SUB_MS / 1000, 100.0 * slow / base, base_hwm, slow_hwm);
	CU_ASSERT(base > 0 && slow > 0);
	CU_ASSERT(base_hwm > 0 && slow_hwm <= base_hwm + HWM_SLACK_KIB);
	zmq_close(sub);
	zmq_close(push);
	feed_fini(&f);
	CU_ASSERT(harness_stop(&h, 20000) == 0);
}

static void producer_first(void)
{
	int port = harness_free_port();
	CU_ASSERT_FATAL(port > 0);
	/* Its own context: it exists before the daemon's harness does. */
	struct mb_producer *p = producer_to(NULL, port);
	CU_ASSERT_FATAL(p != NULL);
	usleep(1500 * 1000); /* several connection attempts fail meanwhile */
	struct harness h;
	CU_ASSERT_FATAL(start_with_tcp(&h, port, NULL) == 0);
	int64_t up = harness_now_ms();
	const uint32_t count = 2000;
	CU_ASSERT(produce(p, count) == 0);
	CU_ASSERT(harness_wait_trained(&h, count, 20000));
	int64_t took = harness_now_ms() - up;
	fprintf(stderr, "producer connected before the daemon: delivered %u samples %lld ms after it was up\n", count,
		(long long)took);
	/* The back-off is capped at 5 s, so a daemon that is up is found within that. */
	CU_ASSERT(took <= 5000 + 2000);
	CU_ASSERT(mb_producer_close(p) == 0);
	CU_ASSERT(harness_stop(&h, 20000) == 0);
}

static void source_reconnects(void)
{
	int port = harness_free_port();
	CU_ASSERT_FATAL(port > 0);
	char ep[128], opt[160];
	snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
	snprintf(opt, sizeof opt, "source.in.endpoint=%s", ep);
	const char *opts[] = {opt, "source.in.bind=false", "metrics.listen=", "model.inputs=784", NULL};
	struct harness h;
	CU_ASSERT_FATAL(harness_start(&h, opts) == 0);
	usleep(1500 * 1000); /* the daemon's source retries meanwhile */

	void *push = zmq_socket(h.zctx, ZMQ_PUSH);
	int zero = 0, wait_ms = 10000;
	zmq_setsockopt(push, ZMQ_LINGER, &zero, sizeof zero);
	zmq_setsockopt(push, ZMQ_SNDTIMEO, &wait_ms, sizeof wait_ms);
	CU_ASSERT_FATAL(zmq_bind(push, ep) == 0);
	int64_t bound = harness_now_ms();
	size_t cap = mb_sample_bin_size(PER_MSG, test_set->n_features, 1, MB_ELEM_U8, false);
	uint8_t *msg = malloc(cap);
	CU_ASSERT_FATAL(msg != NULL);
	const uint32_t count = 1000;
	for (uint32_t i = 0; i < count; i += PER_MSG) {
		size_t n = harness_encode_u8(test_set, i, PER_MSG, msg, cap);
		CU_ASSERT(zmq_send(push, msg, n, 0) == (int)n);
	}
	free(msg);
	CU_ASSERT(harness_wait_trained(&h, count, 20000));
	int64_t took = harness_now_ms() - bound;
	fprintf(stderr, "connecting source found the producer %lld ms after it bound\n", (long long)took);
	CU_ASSERT(took <= 5000 + 2000);
	CU_ASSERT(stat_of(&h, "\"name\":\"in\"", "queued") == count);
	zmq_close(push);
	CU_ASSERT(harness_stop(&h, 20000) == 0);
}

int main(void)
{
	const char *dir = mb_test_fashion_dir();
	if (mb_dataset_load_fashion(dir, "t10k", &test_set, NULL) < 0) {
		fprintf(stderr, "cannot load Fashion-MNIST from %s\n", dir);
		return 1;
	}
	MB_SUITE("daemon_peers", {"peers/garbage_connections", garbage_connections},
		 {"peers/stalled_dropped", stalled_dropped}, {"peers/heartbeat_configurable", heartbeat_configurable},
		 {"peers/slow_subscriber", slow_subscriber},
		 {"peers/producer_first", producer_first}, {"peers/source_reconnects", source_reconnects});
	int r = mb_test_run();
	mb_dataset_free(test_set);
	return r;
}
