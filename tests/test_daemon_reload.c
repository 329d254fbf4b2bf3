/* SPDX-License-Identifier: MIT */
/*
 * test_daemon_reload.c - the real daemon reads its configuration file again.
 *
 * The daemon finds its file the way it does under systemd, through
 * $CONFIGURATION_DIRECTORY, with the harness's -o overrides on top. A
 * changed learning rate is applied by the control command "reload" and
 * by SIGHUP alike (status shows the optimizer's new rate); a change of
 * the model's shape or of the sources is refused with the key named and
 * changes nothing; systemd hears RELOADING=1 and then READY=1.
 * --no-config and -c decide which file, if any, is read.
 */
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "daemon_harness.h"
#include "test.h"

#define PER_MSG 100

static struct mb_dataset *data;
static char confdir[] = "/tmp/mbd-reloadconf.XXXXXX";
static char conf[300];

static void write_conf(const char *text)
{
	/* Replace it whole, as an editor saving the file does. */
	char tmp[320];
	snprintf(tmp, sizeof tmp, "%s.new", conf);
	FILE *f = fopen(tmp, "w");
	CU_ASSERT_FATAL(f != NULL);
	fputs(text, f);
	fclose(f);
	CU_ASSERT_FATAL(rename(tmp, conf) == 0);
}

/* Start the daemon on the configuration directory, with no metrics endpoint. */
static int start(struct harness *h)
{
	static const char *const opts[] = {"metrics.listen=", NULL};
	setenv("CONFIGURATION_DIRECTORY", confdir, 1);
	int r = harness_start(h, opts);
	unsetenv("CONFIGURATION_DIRECTORY");
	return r;
}

static double status_lr(struct harness *h)
{
	char reply[8192];
	if (harness_control(h, "status", reply, sizeof reply) < 0)
		return NAN;
	return harness_json_num(reply, NULL, "lr");
}

/* Feed one message of rows [first, first + PER_MSG) and wait until the daemon has learned total rows. */
static void feed(struct harness *h, uint32_t first, uint64_t total)
{
	void *push = harness_connect(h, ZMQ_PUSH, "ingest");
	CU_ASSERT_FATAL(push != NULL);
	size_t cap = mb_sample_bin_size(PER_MSG, data->n_features, 1, MB_ELEM_U8, false);
	uint8_t *msg = malloc(cap);
	CU_ASSERT_FATAL(msg != NULL);
	size_t n = harness_encode_u8(data, first, PER_MSG, msg, cap);
	CU_ASSERT_FATAL(zmq_send(push, msg, n, 0) == (int)n);
	free(msg);
	CU_ASSERT(harness_wait_trained(h, total, 10000));
	zmq_close(push);
}

/* Wait until the daemon's log holds text (a reload by signal says nothing else). */
static bool wait_log(struct harness *h, const char *text, unsigned count)
{
	for (int64_t end = harness_now_ms() + 5000; harness_now_ms() < end; usleep(10000))
		if (harness_log_count(h, text) >= count)
			return true;
	return false;
}

static void control_applies_lr(void)
{
	write_conf("[optimizer]\nlr = 0.05\n\n[publish]\nevery_ms = 1000\n");
	struct harness h;
	CU_ASSERT_FATAL(start(&h) == 0);
	CU_ASSERT(harness_log_contains(&h, conf)); /* the log says which file it read */
	CU_ASSERT(fabs(status_lr(&h) - 0.05) < 1e-6);
	feed(&h, 0, PER_MSG); /* a model and its optimizer exist from here on */

	write_conf("[optimizer]\nlr = 0.01\n\n[publish]\nevery_ms = 200\n");
	char reply[4096];
	CU_ASSERT_FATAL(harness_control(&h, "reload", reply, sizeof reply) == 0);
	CU_ASSERT_STRING_EQUAL(reply, "{\"ok\":true,\"changed\":[\"optimizer.lr\",\"publish.every_ms\"]}");
	CU_ASSERT(fabs(status_lr(&h) - 0.01) < 1e-6);
	CU_ASSERT(harness_log_contains(&h, "reload applied: optimizer.lr, publish.every_ms"));

	/* The optimizer itself runs at the new rate: the next steps report it too. */
	feed(&h, PER_MSG, 2 * PER_MSG);
	CU_ASSERT(fabs(status_lr(&h) - 0.01) < 1e-6);

	/* Reading the same file again changes nothing. */
	CU_ASSERT_FATAL(harness_control(&h, "reload", reply, sizeof reply) == 0);
	CU_ASSERT_STRING_EQUAL(reply, "{\"ok\":true,\"changed\":[]}");

	/* The running optimizer refuses a combination it cannot use, and keeps its settings. */
	write_conf("[optimizer]\nlr = 0.5\nschedule = step\ngamma = 0\n\n[publish]\nevery_ms = 200\n");
	CU_ASSERT_FATAL(harness_control(&h, "reload", reply, sizeof reply) == 0);
	CU_ASSERT(strncmp(reply, "{\"ok\":false,\"error\":\"optimizer: the optimizer refuses", 46) == 0);
	CU_ASSERT(fabs(status_lr(&h) - 0.01) < 1e-6);
	CU_ASSERT_FATAL(harness_control(&h, "reload now", reply, sizeof reply) == 0);
	CU_ASSERT(strstr(reply, "\"ok\":false") != NULL);
	CU_ASSERT(harness_stop(&h, 10000) == 0);
}

static void shape_change_refused(void)
{
	write_conf("[optimizer]\nlr = 0.05\n");
	struct harness h;
	CU_ASSERT_FATAL(start(&h) == 0);
	char reply[4096], want[512];

	/* A live change beside a shape change: all refused, the key and its line named. */
	write_conf("[optimizer]\nlr = 0.2\n[model]\nkind = mlp\n");
	CU_ASSERT_FATAL(harness_control(&h, "reload", reply, sizeof reply) == 0);
	snprintf(want, sizeof want,
		 "{\"ok\":false,\"error\":\"%s:4: model.kind: cannot change while the daemon runs (restart it to apply)\"}",
		 conf);
	CU_ASSERT_STRING_EQUAL(reply, want);
	CU_ASSERT(fabs(status_lr(&h) - 0.05) < 1e-6);
	CU_ASSERT(harness_log_contains(&h, "reload refused, the running configuration is unchanged"));

	write_conf("[model]\ninputs = 784\n");
	CU_ASSERT_FATAL(harness_control(&h, "reload", reply, sizeof reply) == 0);
	CU_ASSERT(strstr(reply, ":2: model.inputs: cannot change") != NULL);

	write_conf("[source.extra]\ntype = zmq\nendpoint = ipc://extra\n");
	CU_ASSERT_FATAL(harness_control(&h, "reload", reply, sizeof reply) == 0);
	CU_ASSERT(strstr(reply, "source.extra: sources cannot be added") != NULL);

	/* Each key in range, but not a combination the optimizer takes: refused as a whole. */
	write_conf("[optimizer]\nlr = 0.2\nschedule = step\ngamma = 0\n");
	CU_ASSERT_FATAL(harness_control(&h, "reload", reply, sizeof reply) == 0);
	CU_ASSERT(strncmp(reply, "{\"ok\":false,\"error\":\"optimizer: the optimizer refuses", 46) == 0);
	CU_ASSERT(fabs(status_lr(&h) - 0.05) < 1e-6);

	/* A file that does not parse is refused with its own error. */
	write_conf("[optimizer]\nlr = fast\n");
	CU_ASSERT_FATAL(harness_control(&h, "reload", reply, sizeof reply) == 0);
	snprintf(want, sizeof want, "{\"ok\":false,\"error\":\"%s:2: optimizer.lr: 'fast' is not a finite number\"}",
		 conf);
	CU_ASSERT_STRING_EQUAL(reply, want);

	/*
	 * After all these refusals a good file still applies, against the configuration that ran all
	 * along; the harness's own -o overrides still hold, so its endpoints are no change.
	 */
	CU_ASSERT_FALSE(harness_log_contains(&h, "<7>"));
	write_conf("[optimizer]\nlr = 0.2\n[log]\nlevel = debug\n");
	CU_ASSERT_FATAL(harness_control(&h, "reload", reply, sizeof reply) == 0);
	CU_ASSERT_STRING_EQUAL(reply, "{\"ok\":true,\"changed\":[\"optimizer.lr\",\"log.level\"]}");
	CU_ASSERT(fabs(status_lr(&h) - 0.2) < 1e-6);
	/* Debug lines (the status line, once a second) appear from now on. */
	CU_ASSERT(wait_log(&h, "<7>status: ", 1));
	CU_ASSERT(harness_stop(&h, 10000) == 0);
}

static void sighup_notifies(void)
{
	char sockdir[] = "/tmp/mbd-notify.XXXXXX";
	CU_ASSERT_FATAL(mkdtemp(sockdir) != NULL);
	char notify[108];
	int fd = harness_notify_socket(sockdir, notify, sizeof notify);
	CU_ASSERT_FATAL(fd >= 0);

	write_conf("[optimizer]\nlr = 0.05\n");
	setenv("NOTIFY_SOCKET", notify, 1);
	struct harness h;
	int started = start(&h);
	unsetenv("NOTIFY_SOCKET");
	CU_ASSERT_FATAL(started == 0);
	static char got[16384];
	got[0] = '\0';
	harness_collect_notify(fd, 300, got, sizeof got);
	CU_ASSERT(strstr(got, "READY=1") != NULL);

	write_conf("[optimizer]\nlr = 0.02\n");
	got[0] = '\0';
	CU_ASSERT_FATAL(kill(h.pid, SIGHUP) == 0);
	CU_ASSERT(wait_log(&h, "reload applied: optimizer.lr", 1));
	harness_collect_notify(fd, 300, got, sizeof got);
	char *reloading = strstr(got, "RELOADING=1"), *ready = reloading ? strstr(reloading, "READY=1") : NULL;
	CU_ASSERT(reloading != NULL && ready != NULL);
	CU_ASSERT(fabs(status_lr(&h) - 0.02) < 1e-6);

	/* Refused by signal: the same two notifications, the reason in STATUS=, nothing changed. */
	write_conf("[optimizer]\nlr = 0.3\n[batch]\nsize = 8\n");
	got[0] = '\0';
	CU_ASSERT_FATAL(kill(h.pid, SIGHUP) == 0);
	CU_ASSERT(wait_log(&h, "reload refused", 1));
	harness_collect_notify(fd, 300, got, sizeof got);
	reloading = strstr(got, "RELOADING=1");
	ready = reloading ? strstr(reloading, "READY=1") : NULL;
	CU_ASSERT(reloading != NULL && ready != NULL);
	CU_ASSERT(strstr(got, "STATUS=reload refused: ") != NULL && strstr(got, "batch.size") != NULL);
	CU_ASSERT(fabs(status_lr(&h) - 0.02) < 1e-6);

	CU_ASSERT(harness_stop(&h, 10000) == 0);
	close(fd);
	unlink(notify);
	rmdir(sockdir);
}

/* Run the daemon with args and CONFIGURATION_DIRECTORY set; its stdout in out, its exit status or -1. */
static int run_capture(const char *const *args, char *out, size_t cap)
{
	int po[2];
	if (pipe(po) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(po[1], STDOUT_FILENO);
		int null = open("/dev/null", O_WRONLY);
		dup2(null, STDERR_FILENO);
		close(po[0]);
		setenv("CONFIGURATION_DIRECTORY", confdir, 1);
		const char *argv[16];
		int n = 0;
		argv[n++] = "minibatchd";
		for (int i = 0; args[i] && n < 15; i++)
			argv[n++] = args[i];
		argv[n] = NULL;
		execv(MB_DAEMON_PATH, (char *const *)argv);
		_exit(127);
	}
	close(po[1]);
	size_t len = 0;
	ssize_t r;
	while (len < cap - 1 && (r = read(po[0], out + len, cap - 1 - len)) > 0)
		len += (size_t)r;
	out[len] = '\0';
	close(po[0]);
	int status;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static void which_file(void)
{
	static char out[65536];
	write_conf("[batch]\nsize = 7\n");
	const char *dflt[] = {"--check-config", NULL};
	CU_ASSERT(run_capture(dflt, out, sizeof out) == 0);
	CU_ASSERT(strstr(out, "[batch]\nsize = 7\n") != NULL);

	const char *none[] = {"--check-config", "--no-config", NULL};
	CU_ASSERT(run_capture(none, out, sizeof out) == 0);
	CU_ASSERT(strstr(out, "[batch]\nsize = 64\n") != NULL);

	char other[320];
	snprintf(other, sizeof other, "%s/other.conf", confdir);
	FILE *f = fopen(other, "w");
	CU_ASSERT_FATAL(f != NULL);
	fputs("[batch]\nsize = 9\n", f);
	fclose(f);
	const char *named[] = {"--check-config", "-c", other, NULL};
	CU_ASSERT(run_capture(named, out, sizeof out) == 0);
	CU_ASSERT(strstr(out, "[batch]\nsize = 9\n") != NULL);

	const char *both[] = {"--check-config", "-c", other, "--no-config", NULL};
	CU_ASSERT(run_capture(both, out, sizeof out) == 2);
	unlink(other);
}

int main(void)
{
	const char *dir = mb_test_fashion_dir();
	if (mb_dataset_load_fashion(dir, "t10k", &data, NULL) < 0) {
		fprintf(stderr, "cannot load Fashion-MNIST from %s\n", dir);
		return 1;
	}
	if (!mkdtemp(confdir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(conf, sizeof conf, "%s/minibatchd.conf", confdir);
	MB_SUITE("daemon_reload", {"reload/control_applies_lr", control_applies_lr},
		 {"reload/shape_change_refused", shape_change_refused}, {"reload/sighup_notifies", sighup_notifies},
		 {"reload/which_file", which_file});
	int r = mb_test_run();
	mb_dataset_free(data);
	unlink(conf);
	rmdir(confdir);
	return r;
}
