/* SPDX-License-Identifier: MIT */
/*
 * test_daemon_curve.c - CURVE on the daemon's tcp endpoints: only allowed
 * client keys get in.
 *
 * One daemon serves ingest, snapshots and control on tcp loopback ports
 * with security.curve = on and one allowed client key (alice). Alice
 * feeds samples, receives a snapshot and gets control replies over tcp.
 * A client with a key pair the daemon does not know (mallory) and a client
 * without CURVE can do none of that: the trained-sample counter stays
 * where it was and the refused-peer counter moves. The harness itself
 * talks to the daemon over its ipc sockets, which stay plain. Adding
 * mallory's key to clients/ and sending SIGHUP lets mallory in; making
 * that key file writable by others and sending SIGHUP again shuts mallory
 * out, since a key anyone could have written proves nothing. Without
 * CURVE, a control endpoint beyond loopback is a configuration error, and
 * so are ingest and snapshot endpoints unless plaintext is allowed.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "client.h"
#include "daemon_harness.h"
#include "test.h"

#define N_FEATURES 8
#define ALICE_SAMPLES 640
#define REFUSED_WAIT_MS 1500 /* how long a refused client tries before the test looks */

static struct harness h;
static char keys[64];           /* the key directory: server pair, clients/alice.pub */
static char outsider[128];      /* mallory's pair, outside clients/ */
static int ports[3];            /* ingest, snapshots, control */
static char ep_ingest[64], ep_snapshots[64], ep_control[64];
static struct mb_client_curve alice, mallory;
static bool running;

/* A figure of the daemon's status, read over its plain ipc control socket. */
static double status_of(const char *key)
{
	char reply[65536];
	if (harness_control(&h, "status", reply, sizeof reply) < 0)
		return NAN;
	return harness_json_num(reply, NULL, key);
}

/* count samples with features and labels derived from first, as one producer's messages. */
static int feed(const struct mb_client_curve *curve, uint32_t first, uint32_t count, int timeout_ms)
{
	struct mb_producer_cfg cfg = {
		.endpoint = ep_ingest, .batch = 64, .n_features = N_FEATURES, .n_targets = 1,
		.timeout_ms = timeout_ms,
	};
	struct mb_producer *p;
	int r = mb_producer_new_curve(&cfg, curve, &p);
	if (r < 0)
		return r;
	float x[N_FEATURES], y;
	for (uint32_t i = first; i < first + count && r >= 0; i++) {
		for (unsigned k = 0; k < N_FEATURES; k++)
			x[k] = (float)((i * 7 + k * 3) % 11) / 10.0f;
		y = (float)(i % 10);
		r = mb_producer_append(p, x, &y, NULL, 1);
	}
	int c = mb_producer_close(p);
	return r < 0 ? r : c;
}

/* One snapshot from the tcp snapshot endpoint within timeout_ms: 0, or -errno. */
static int snapshot(const struct mb_client_curve *curve, int timeout_ms)
{
	struct mb_subscriber *s;
	struct mb_subscriber_cfg cfg = {.endpoint = ep_snapshots};
	int r = mb_subscriber_new_curve(&cfg, curve, &s);
	if (r < 0)
		return r;
	struct mb_client_snap *snap = NULL;
	struct mb_diag d = {0};
	r = mb_subscriber_recv(s, timeout_ms, &snap, &d);
	mb_client_snap_free(snap);
	mb_subscriber_free(s);
	return r;
}

/* One control request over tcp: 0 with an ok reply, -errno otherwise. */
static int control(const struct mb_client_curve *curve, int timeout_ms)
{
	struct mb_client *c;
	int r = mb_client_new_curve(ep_control, NULL, curve, &c);
	if (r < 0)
		return r;
	char *reply = NULL;
	r = mb_client_request(c, "status", timeout_ms, &reply);
	if (r == 0 && !strstr(reply, "\"ok\":true"))
		r = -EPROTO;
	free(reply);
	mb_client_free(c);
	return r;
}

/* Keys, ports, and the daemon with CURVE on every tcp endpoint. */
static void start(void)
{
	snprintf(keys, sizeof keys, "/tmp/mbd-curve.XXXXXX");
	CU_ASSERT_FATAL(mkdtemp(keys) != NULL);
	char clients[128];
	snprintf(clients, sizeof clients, "%s/clients", keys);
	snprintf(outsider, sizeof outsider, "%s/outsider", keys);
	CU_ASSERT_FATAL(mkdir(clients, 0755) == 0 && mkdir(outsider, 0755) == 0);
	CU_ASSERT_FATAL(mb_client_keypair_write(keys, "server") == 0);
	CU_ASSERT_FATAL(mb_client_keypair_write(clients, "alice") == 0);
	CU_ASSERT_FATAL(mb_client_keypair_write(outsider, "mallory") == 0);
	CU_ASSERT(mb_client_keypair_write(clients, "alice") == -EEXIST);

	char server_pub[300], alice_key[300], mallory_key[300];
	snprintf(server_pub, sizeof server_pub, "%s/server.pub", keys);
	snprintf(alice_key, sizeof alice_key, "%s/alice.key", clients);
	snprintf(mallory_key, sizeof mallory_key, "%s/mallory.key", outsider);
	CU_ASSERT_FATAL(mb_client_curve_load(server_pub, alice_key, &alice) == 0);
	CU_ASSERT_FATAL(mb_client_curve_load(server_pub, mallory_key, &mallory) == 0);
	CU_ASSERT(strcmp(alice.public_key, mallory.public_key) != 0);

	for (int i = 0; i < 3; i++)
		CU_ASSERT_FATAL((ports[i] = harness_free_port()) > 0);
	snprintf(ep_ingest, sizeof ep_ingest, "tcp://127.0.0.1:%d", ports[0]);
	snprintf(ep_snapshots, sizeof ep_snapshots, "tcp://127.0.0.1:%d", ports[1]);
	snprintf(ep_control, sizeof ep_control, "tcp://127.0.0.1:%d", ports[2]);
	char o_dir[300], o_ingest[128], o_publish[128], o_control[128];
	snprintf(o_dir, sizeof o_dir, "security.curve_dir=%s", keys);
	snprintf(o_ingest, sizeof o_ingest, "source.in.endpoint=ipc://ingest,%s", ep_ingest);
	snprintf(o_publish, sizeof o_publish, "publish.endpoint=ipc://snapshots,%s", ep_snapshots);
	snprintf(o_control, sizeof o_control, "control.endpoint=ipc://control,%s", ep_control);
	const char *opts[] = {"security.curve=on", o_dir, o_ingest, o_publish, o_control, "metrics.listen=",
			      "model.inputs=8", "batch.size=32", "batch.linger_ms=5", NULL};
	CU_ASSERT_FATAL(harness_start(&h, opts) == 0);
	running = true;
	CU_ASSERT(harness_log_contains(&h, "CURVE on every tcp endpoint"));
	CU_ASSERT(status_of("peers_refused") == 0);
}

/* Alice feeds, reads a snapshot and gets a control reply, all over tcp with CURVE. */
static void allowed_client(void)
{
	CU_ASSERT_FATAL(running);
	CU_ASSERT(feed(&alice, 0, ALICE_SAMPLES, 5000) == 0);
	CU_ASSERT(harness_wait_trained(&h, ALICE_SAMPLES, 10000));
	CU_ASSERT(snapshot(&alice, 5000) == 0);
	CU_ASSERT(control(&alice, 5000) == 0);
	CU_ASSERT(status_of("peers_refused") == 0);
}

/*
 * A client that is refused can neither feed, nor read snapshots, nor
 * control; each of its connections is counted refused.
 */
static void refused_client(const struct mb_client_curve *curve)
{
	double trained = status_of("samples"), refused = status_of("peers_refused"), now;
	CU_ASSERT_FATAL(trained >= ALICE_SAMPLES);
	CU_ASSERT(feed(curve, 0, 256, REFUSED_WAIT_MS) == -EAGAIN);
	CU_ASSERT((now = status_of("peers_refused")) > refused);
	CU_ASSERT(snapshot(curve, REFUSED_WAIT_MS) == -ETIMEDOUT);
	CU_ASSERT(status_of("peers_refused") > now);
	now = status_of("peers_refused");
	CU_ASSERT(control(curve, REFUSED_WAIT_MS) == -ETIMEDOUT);
	CU_ASSERT(status_of("peers_refused") > now);
	/* Whatever was in flight has long been trained: the figure would have moved by now. */
	usleep(200 * 1000);
	CU_ASSERT(status_of("samples") == trained);
}

static void unknown_key(void)
{
	CU_ASSERT_FATAL(running);
	refused_client(&mallory);
	CU_ASSERT(harness_log_contains(&h, mallory.public_key));
	/* The line says why, and where the peer connected from. */
	CU_ASSERT(harness_log_contains(&h, "at 127.0.0.1: unknown key"));
}

static void plain_client(void)
{
	CU_ASSERT_FATAL(running);
	refused_client(NULL);
	CU_ASSERT(harness_log_contains(&h, "refused a peer on tcp://"));
}

/* A key copied into clients/ is let in after SIGHUP. */
static void reload_allows(void)
{
	CU_ASSERT_FATAL(running);
	char from[300], to[300];
	snprintf(from, sizeof from, "%s/mallory.pub", outsider);
	snprintf(to, sizeof to, "%s/clients/mallory.pub", keys);
	CU_ASSERT_FATAL(rename(from, to) == 0);
	CU_ASSERT_FATAL(kill(h.pid, SIGHUP) == 0);
	int64_t deadline = harness_now_ms() + 5000;
	while (!harness_log_contains(&h, "2 allowed client keys") && harness_now_ms() < deadline)
		usleep(20 * 1000);
	CU_ASSERT(harness_log_contains(&h, "2 allowed client keys"));
	CU_ASSERT(control(&mallory, 5000) == 0);
}

/*
 * A key file others could write to is no longer trusted after SIGHUP:
 * the client it let in is refused again, and the log says why.
 */
static void reload_distrusts(void)
{
	CU_ASSERT_FATAL(running);
	char path[300];
	snprintf(path, sizeof path, "%s/clients/mallory.pub", keys);
	CU_ASSERT_FATAL(chmod(path, 0666) == 0);
	CU_ASSERT_FATAL(kill(h.pid, SIGHUP) == 0);
	int64_t deadline = harness_now_ms() + 5000;
	while (!harness_log_contains(&h, "CURVE: 1 allowed client keys") && harness_now_ms() < deadline)
		usleep(20 * 1000);
	CU_ASSERT(harness_log_contains(&h, "CURVE: 1 allowed client keys"));
	CU_ASSERT(harness_log_contains(&h, "mallory.pub: writable by others"));
	CU_ASSERT(control(&mallory, REFUSED_WAIT_MS) == -ETIMEDOUT);
	CU_ASSERT(control(&alice, 5000) == 0);
}

static void stop(void)
{
	if (running)
		CU_ASSERT(harness_stop(&h, 20000) == 0);
	running = false;
	memset(&alice, 0, sizeof alice);
	memset(&mallory, 0, sizeof mallory);
	harness_remove_tree(keys);
}

/*
 * minibatchd --no-config --check-config with these overrides: its exit
 * status, and its stderr in err (cap bytes).
 */
static int check_config(const char *const *opts, char *err, size_t cap)
{
	char dir[] = "/tmp/mbd-curve-check.XXXXXX";
	if (!mkdtemp(dir))
		return -1;
	char log[64];
	snprintf(log, sizeof log, "%s/stderr", dir);
	const char *argv[32];
	int n = 0;
	argv[n++] = "minibatchd";
	argv[n++] = "--no-config";
	argv[n++] = "--check-config";
	for (int i = 0; opts[i] && n < 30; i++) {
		argv[n++] = "-o";
		argv[n++] = opts[i];
	}
	argv[n] = NULL;
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int null = open("/dev/null", O_WRONLY);
		if (fd < 0 || null < 0)
			_exit(127);
		dup2(fd, STDERR_FILENO);
		dup2(null, STDOUT_FILENO);
		execv(MB_DAEMON_PATH, (char *const *)argv);
		_exit(127);
	}
	int status = -1;
	if (pid > 0)
		waitpid(pid, &status, 0);
	err[0] = '\0';
	FILE *f = fopen(log, "r");
	if (f) {
		size_t got = fread(err, 1, cap - 1, f);
		err[got] = '\0';
		fclose(f);
	}
	unlink(log);
	rmdir(dir);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Without CURVE, what other hosts could reach is refused, control always. */
static void plaintext_rules(void)
{
	char err[2048];
	const char *control_wide[] = {"security.curve=off", "control.endpoint=tcp://0.0.0.0:7713", NULL};
	CU_ASSERT(check_config(control_wide, err, sizeof err) == 1);
	CU_ASSERT(strstr(err, "control.endpoint: tcp://0.0.0.0:7713") != NULL);

	const char *control_allowed[] = {"security.curve=off", "security.allow_plaintext_tcp=true",
					 "control.endpoint=tcp://*:7713", NULL};
	CU_ASSERT(check_config(control_allowed, err, sizeof err) == 1);
	CU_ASSERT(strstr(err, "control.endpoint") != NULL);

	const char *publish_wide[] = {"security.curve=off", "publish.endpoint=tcp://192.0.2.1:7711", NULL};
	CU_ASSERT(check_config(publish_wide, err, sizeof err) == 1);
	CU_ASSERT(strstr(err, "allow_plaintext_tcp") != NULL);

	const char *ingest_wide[] = {"security.curve=off", "source.x.type=zmq", "source.x.endpoint=tcp://[::]:7710",
				     NULL};
	CU_ASSERT(check_config(ingest_wide, err, sizeof err) == 1);
	CU_ASSERT(strstr(err, "source.x.endpoint") != NULL);

	const char *allowed[] = {"security.curve=off", "security.allow_plaintext_tcp=true",
				 "publish.endpoint=tcp://192.0.2.1:7711", "source.x.type=zmq",
				 "source.x.endpoint=tcp://*:7710", NULL};
	CU_ASSERT(check_config(allowed, err, sizeof err) == 0);

	const char *loopback[] = {"security.curve=off", "control.endpoint=tcp://127.0.0.1:7713",
				  "publish.endpoint=tcp://[::1]:7711,tcp://localhost:7714", NULL};
	CU_ASSERT(check_config(loopback, err, sizeof err) == 0);

	/* A host name that only starts like a loopback address is somewhere else. */
	const char *lookalike[] = {"security.curve=off", "source.x.type=zmq", "source.x.bind=false",
				   "source.x.endpoint=tcp://127.example.org:7710", NULL};
	CU_ASSERT(check_config(lookalike, err, sizeof err) == 1);
	CU_ASSERT(strstr(err, "127.example.org") != NULL);

	/* A secret key others can read is refused, as ssh refuses such a private key. */
	char kd[] = "/tmp/mbd-curvekey.XXXXXX", key[64], dir_opt[64];
	CU_ASSERT_FATAL(mkdtemp(kd) != NULL);
	CU_ASSERT_FATAL(mb_client_keypair_write(kd, "server") == 0);
	snprintf(key, sizeof key, "%s/server.key", kd);
	snprintf(dir_opt, sizeof dir_opt, "security.curve_dir=%s", kd);
	const char *open_key[] = {"security.curve=on", dir_opt, NULL};
	CU_ASSERT(check_config(open_key, err, sizeof err) == 0);
	CU_ASSERT_FATAL(chmod(key, 0640) == 0);
	CU_ASSERT(check_config(open_key, err, sizeof err) == 1);
	CU_ASSERT(strstr(err, "open to others") != NULL);
	harness_remove_tree(kd);

	/* CURVE on without a key: a clear error, never a silent plaintext start. */
	const char *no_key[] = {"security.curve=on", "security.curve_dir=/nonexistent/curve", NULL};
	CU_ASSERT(check_config(no_key, err, sizeof err) == 1);
	CU_ASSERT(strstr(err, "/nonexistent/curve/server.key") != NULL);
}

int main(void)
{
	MB_SUITE("curve", {"start", start}, {"allowed_client", allowed_client}, {"unknown_key", unknown_key},
		 {"plain_client", plain_client}, {"reload_allows", reload_allows}, {"reload_distrusts", reload_distrusts}, {"stop", stop},
		 {"plaintext_rules", plaintext_rules});
	return mb_test_run();
}
