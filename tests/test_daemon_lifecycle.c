/* SPDX-License-Identifier: MIT */
/*
 * test_daemon_lifecycle.c - how the daemon starts, checks its configuration
 * and stops.
 *
 * SIGTERM stops it with status 0 only after every queued batch is learned
 * and a final snapshot is out; --check-config prints a configuration it
 * can read back; a configuration error names file, line and key; a run of
 * file sources alone ends by itself with exit_when_idle; systemd hears
 * READY=1, STATUS= lines, watchdog pings and STOPPING=1.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "daemon_harness.h"
#include "test.h"

#define PER_MSG 100

static struct mb_dataset *train;
static const char *fashion_dir;

static void sigterm_drains_queue(void)
{
	struct harness h;
	/* A slow model and a deep queue, so a backlog is waiting when the signal comes. */
	const char *opts[] = {"model.kind=mlp", "model.hidden=512,512", "batch.queue_batches=64",
			      "publish.every_batches=0", "publish.every_ms=0", NULL};
	CU_ASSERT_FATAL(harness_start(&h, opts) == 0);
	void *sub = harness_subscribe(&h, "mlp");

	void *push = harness_connect(&h, ZMQ_PUSH, "ingest");
	CU_ASSERT_FATAL(push != NULL);
	size_t cap = mb_sample_bin_size(PER_MSG, train->n_features, 1, MB_ELEM_U8, false);
	uint8_t *msg = malloc(cap);
	CU_ASSERT_FATAL(msg != NULL);
	enum { MESSAGES = 30 };
	for (uint32_t i = 0; i < MESSAGES; i++) {
		size_t n = harness_encode_u8(train, i * PER_MSG, PER_MSG, msg, cap);
		CU_ASSERT_FATAL(zmq_send(push, msg, n, 0) == (int)n);
	}
	free(msg);
	const uint64_t sent = MESSAGES * PER_MSG;

	/* Every sample is in the daemon (queued), and the trainer is still behind. */
	char stats[8192];
	int64_t deadline = harness_now_ms() + 10000;
	double queued = 0;
	while (harness_now_ms() < deadline) {
		CU_ASSERT_FATAL(harness_control(&h, "stats", stats, sizeof stats) == 0);
		queued = harness_json_num(stats, "\"name\":\"in\"", "queued");
		if (queued == (double)sent)
			break;
		usleep(2000);
	}
	CU_ASSERT_FATAL(queued == (double)sent);
	double trained = harness_json_num(stats, NULL, "samples");
	fprintf(stderr, "SIGTERM with %.0f of %llu samples learned\n", trained, (unsigned long long)sent);
	CU_ASSERT(trained < (double)sent);

	int status = harness_signal_wait(&h, SIGTERM, 30000);
	CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* The last snapshot the daemon sent is the final one: it has learned every sample. */
	uint8_t *body = NULL;
	size_t len = 0;
	CU_ASSERT(harness_recv_snapshot_after(sub, sent, 2000, &body, &len) == 0);
	if (body) {
		struct mb_snap_info info;
		const uint8_t *params;
		CU_ASSERT(mb_snap_decode(body, len, &info, &params, NULL) == 0);
		CU_ASSERT(info.samples == sent);
		free(body);
	}
	zmq_close(sub);
	zmq_close(push);
	CU_ASSERT(harness_stop(&h, 1000) == 0);
}

/* Run the daemon with args, capturing stdout and stderr into out and err; its exit status or -1. */
static int run_capture(const char *const *args, char *out, size_t out_cap, char *err, size_t err_cap)
{
	int po[2], pe[2];
	if (pipe(po) < 0 || pipe(pe) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(po[1], STDOUT_FILENO);
		dup2(pe[1], STDERR_FILENO);
		close(po[0]);
		close(pe[0]);
		const char *argv[32];
		int n = 0;
		argv[n++] = "minibatchd";
		for (int i = 0; args[i] && n < 31; i++)
			argv[n++] = args[i];
		argv[n] = NULL;
		execv(MB_DAEMON_PATH, (char *const *)argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	size_t lo = 0, le = 0;
	ssize_t r;
	while ((r = read(po[0], out + lo, out_cap - 1 - lo)) > 0)
		lo += (size_t)r;
	while ((r = read(pe[0], err + le, err_cap - 1 - le)) > 0)
		le += (size_t)r;
	out[lo] = err[le] = '\0';
	close(po[0]);
	close(pe[0]);
	int status;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	CU_ASSERT_FATAL(f != NULL);
	fputs(text, f);
	fclose(f);
}

static void check_config_round_trip(void)
{
	char dir[] = "/tmp/mbd-config.XXXXXX";
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	char path[256], printed[256];
	snprintf(path, sizeof path, "%s/bad.ini", dir);
	snprintf(printed, sizeof printed, "%s/printed.ini", dir);
	static char out[65536], out2[65536], err[4096];

	const char *a1[] = {"--check-config", "-o", "batch.size=32", "-o", "source.s.type=zmq", "-o",
			    "source.s.endpoint=ipc:///x/y", "-o", "source.s.pattern=sub", NULL};
	CU_ASSERT(run_capture(a1, out, sizeof out, err, sizeof err) == 0);
	CU_ASSERT(strstr(out, "[batch]\nsize = 32\n") != NULL);
	CU_ASSERT(strstr(out, "[source.s]\ntype = zmq\n") != NULL);
	CU_ASSERT(strstr(out, "pattern = sub\n") != NULL);
	CU_ASSERT(strstr(out, "[source.default]") == NULL);

	/* What it prints, it reads back to the same effective configuration. */
	write_file(printed, out);
	const char *a2[] = {"--check-config", "-c", printed, NULL};
	CU_ASSERT(run_capture(a2, out2, sizeof out2, err, sizeof err) == 0);
	CU_ASSERT(strcmp(out, out2) == 0);

	/* No configuration at all: the embedded defaults and the default source. */
	const char *a3[] = {"--check-config", NULL};
	CU_ASSERT(run_capture(a3, out, sizeof out, err, sizeof err) == 0);
	CU_ASSERT(strstr(out, "[source.default]\ntype = zmq\n") != NULL);
	CU_ASSERT(strstr(out, "endpoint = ipc://ingest,tcp://127.0.0.1:7710\n") != NULL);
	CU_ASSERT(strstr(out, "[optimizer]\nkind = adagrad\nlr = 0.05\n") != NULL);

	write_file(path, "# a comment\n[batch]\nsizee = 3\n");
	const char *a4[] = {"--check-config", "-c", path, NULL};
	char want[512];
	CU_ASSERT(run_capture(a4, out, sizeof out, err, sizeof err) == 1);
	snprintf(want, sizeof want, "%s:3: batch.sizee: unknown key", path);
	CU_ASSERT(strstr(err, want) != NULL);

	write_file(path, "[model]\nkind = softmax\n\n[optimizer]\nlr = fast\n");
	CU_ASSERT(run_capture(a4, out, sizeof out, err, sizeof err) == 1);
	snprintf(want, sizeof want, "%s:5: optimizer.lr: 'fast' is not a finite number", path);
	CU_ASSERT(strstr(err, want) != NULL);

	write_file(path, "[source.cam]\nendpoint = ipc://cam\n");
	CU_ASSERT(run_capture(a4, out, sizeof out, err, sizeof err) == 1);
	snprintf(want, sizeof want, "%s:1: source.cam.type: required", path);
	CU_ASSERT(strstr(err, want) != NULL);

	write_file(path, "[source.cam]\ntype = zmq\nendpoint = ipc://cam\npath = /data\n");
	CU_ASSERT(run_capture(a4, out, sizeof out, err, sizeof err) == 1);
	snprintf(want, sizeof want, "%s:4: source.cam.path: not a key of zmq sources", path);
	CU_ASSERT(strstr(err, want) != NULL);

	const char *a5[] = {"--check-config", "-c", path, "-o", "batch.size=0", NULL};
	write_file(path, "[batch]\nsize = 3\n");
	CU_ASSERT(run_capture(a5, out, sizeof out, err, sizeof err) == 1);
	CU_ASSERT(strstr(err, "-o #1: batch.size: 0 is out of range 1..65536") != NULL);

	unlink(path);
	unlink(printed);
	rmdir(dir);
}

static void file_sources_end_when_idle(void)
{
	char images[512], labels[512], path[600], lab[600];
	snprintf(images, sizeof images, "%s/t10k-images-idx3-ubyte.gz", fashion_dir);
	snprintf(labels, sizeof labels, "%s/t10k-labels-idx1-ubyte.gz", fashion_dir);
	snprintf(path, sizeof path, "source.f.path=%s", images);
	snprintf(lab, sizeof lab, "source.f.labels=%s", labels);
	struct harness h;
	/* Three passes: long enough for the subscriber to be connected well before the end. */
	const char *opts[] = {"source.f.type=file", path, lab, "source.f.format=idx", "source.f.epochs=3",
			      "daemon.exit_when_idle=true", NULL};
	CU_ASSERT_FATAL(harness_start_without_source(&h, opts) == 0);
	void *sub = harness_subscribe(&h, "softmax");
	int status = harness_wait_exit(&h, 30000);
	CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CU_ASSERT(harness_log_contains(&h, "every source has finished: stopping"));
	CU_ASSERT(harness_log_contains(&h, "stopped after 30000 samples"));
	uint8_t *body = NULL;
	size_t len = 0;
	CU_ASSERT(harness_recv_snapshot_after(sub, 30000, 2000, &body, &len) == 0);
	if (body) {
		struct mb_snap_info info;
		const uint8_t *params;
		CU_ASSERT(mb_snap_decode(body, len, &info, &params, NULL) == 0);
		CU_ASSERT(info.samples == 30000);
		free(body);
	}
	zmq_close(sub);
	CU_ASSERT(harness_stop(&h, 1000) == 0);
}

static void systemd_notifications(void)
{
	char dir[] = "/tmp/mbd-notify.XXXXXX";
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	char notify[108];
	int fd = harness_notify_socket(dir, notify, sizeof notify);
	CU_ASSERT_FATAL(fd >= 0);

	/* The daemon inherits these: notifications to our socket, a watchdog of 200 ms. */
	setenv("NOTIFY_SOCKET", notify, 1);
	setenv("WATCHDOG_USEC", "200000", 1);
	struct harness h;
	int started = harness_start(&h, NULL);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	CU_ASSERT_FATAL(started == 0);

	static char got[16384];
	got[0] = '\0';
	harness_collect_notify(fd, 1500, got, sizeof got);
	char *ready = strstr(got, "READY=1|"), *status = strstr(got, "STATUS=");
	CU_ASSERT(ready != NULL);
	CU_ASSERT(status != NULL && ready != NULL && ready < status);
	CU_ASSERT(strstr(got, "STATUS=0 samples, 0 batches") != NULL);
	/* Idle with empty queues counts as healthy: the pings keep coming, every 100 ms or so. */
	unsigned pings = 0;
	for (const char *p = got; (p = strstr(p, "WATCHDOG=1|")); p++)
		pings++;
	fprintf(stderr, "%u watchdog pings in 1.5 s\n", pings);
	CU_ASSERT(pings >= 5);

	CU_ASSERT(kill(h.pid, SIGTERM) == 0);
	got[0] = '\0';
	harness_collect_notify(fd, 1000, got, sizeof got);
	CU_ASSERT(strstr(got, "STOPPING=1|") != NULL);
	CU_ASSERT(harness_stop(&h, 10000) == 0);
	close(fd);
	unlink(notify);
	rmdir(dir);
}

int main(void)
{
	fashion_dir = mb_test_fashion_dir();
	if (mb_dataset_load_fashion(fashion_dir, "train", &train, NULL) < 0) {
		fprintf(stderr, "cannot load Fashion-MNIST from %s\n", fashion_dir);
		return 1;
	}
	MB_SUITE("daemon_lifecycle", {"lifecycle/sigterm_drains_queue", sigterm_drains_queue},
		 {"lifecycle/check_config_round_trip", check_config_round_trip},
		 {"lifecycle/file_sources_end_when_idle", file_sources_end_when_idle},
		 {"lifecycle/systemd_notifications", systemd_notifications});
	int r = mb_test_run();
	mb_dataset_free(train);
	return r;
}
