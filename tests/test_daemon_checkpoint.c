/* SPDX-License-Identifier: MIT */
/*
 * test_daemon_checkpoint.c - the real daemon writing checkpoints and
 * carrying on from them.
 *
 * A run over a file source, killed with SIGKILL at three random moments
 * and restarted each time, ends with the very parameters of a run left
 * alone; SIGTERM puts every accepted sample into the final checkpoint;
 * "save" writes a checkpoint a restart loads, "reset" moves the version
 * on; a damaged newest checkpoint is passed over, a model of another
 * shape stops the daemon. MB_TEST_SEED=N repeats the kill moments of a
 * run (each run prints its seed).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "checkpoint_state.h"
#include "checkpoint_store.h"
#include "daemon_harness.h"
#include "test.h"

#define PER_MSG 100 /* samples per pushed message */

static const char *fashion_dir;
static struct mb_dataset *train;
static char base[64]; /* this program's temporary directory */

/* ---- Files ---- */

static void cleanup(void)
{
	if (base[0])
		harness_remove_tree(base);
}

/* A new empty directory base/name; its path in buf. */
static void subdir(const char *name, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s/%s", base, name);
	harness_remove_tree(buf);
	CU_ASSERT_FATAL(mkdir(buf, 0700) == 0);
}

/* The newest checkpoint in dir, read and decoded; false when there is none. */
static bool newest_ckpt(const char *dir, struct mb_ckpt_file *f, struct mb_ckpt_state *st)
{
	struct mb_ckpt_store *store;
	struct mb_ckpt_store_cfg cfg = {.dir = dir, .keep = 100};
	if (mb_ckpt_store_open(&cfg, &store) < 0)
		return false;
	int r = mb_ckpt_store_load_newest(store, NULL, NULL, NULL, f);
	mb_ckpt_store_free(store);
	if (r < 0)
		return false;
	if (mb_ckpt_state_decode(&f->ck, st, NULL) < 0) {
		mb_ckpt_file_release(f);
		return false;
	}
	return true;
}

/*
 * The newest version in dir from the file names alone; 0 when none. Not
 * through a store: opening one removes temporary files, and the daemon
 * may be writing one right now.
 */
static uint64_t newest_version(const char *dir)
{
	int64_t v = harness_newest_ckpt(dir, NULL);
	return v < 0 ? 0 : (uint64_t)v;
}

/* The newest checkpoint's MODEL section (a snapshot body) with its timestamp zeroed, malloc'd. */
static uint8_t *final_model(const char *dir, size_t *ret_len)
{
	struct mb_ckpt_file f;
	static struct mb_ckpt_state st;
	if (!newest_ckpt(dir, &f, &st))
		return NULL;
	const struct mb_ckpt_section *m = mb_ckpt_find(&f.ck, MB_CKPT_SEC_MODEL);
	uint8_t *body = malloc(m->len);
	memcpy(body, m->data, m->len);
	memset(body + 40, 0, 8); /* the wall clock at encoding differs from run to run */
	*ret_len = m->len;
	mb_ckpt_file_release(&f);
	return body;
}

/* ---- A daemon without the harness: no sockets, it may end any moment ---- */

static pid_t child; /* the daemon running, for the exit handler */

static void kill_child(void)
{
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	child = 0;
}

/* Start the daemon with --no-config and opts (NULL-terminated -o values), its stderr into log. */
static pid_t spawn(const char *const *opts, const char *log)
{
	const char *argv[64];
	int n = 0;
	argv[n++] = "minibatchd";
	argv[n++] = "--no-config";
	for (int i = 0; opts[i] && n < 61; i++) {
		argv[n++] = "-o";
		argv[n++] = opts[i];
	}
	argv[n] = NULL;
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			dup2(fd, STDERR_FILENO);
			dup2(fd, STDOUT_FILENO);
		}
		execv(MB_DAEMON_PATH, (char *const *)argv);
		_exit(127);
	}
	child = pid;
	return pid;
}

/* Wait up to timeout_ms for the daemon to end; its wait status, or -1 (then it is killed). */
static int reap(pid_t pid, int timeout_ms)
{
	int status = -1;
	int64_t deadline = harness_now_ms() + timeout_ms;
	while (waitpid(pid, &status, WNOHANG) != pid) {
		if (harness_now_ms() > deadline) {
			kill_child();
			return -1;
		}
		usleep(2000);
	}
	child = 0;
	return status;
}

static bool exited_ok(int status)
{
	return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Lines of a file holding text. */
static unsigned count_lines(const char *path, const char *text)
{
	FILE *f = fopen(path, "r");
	char line[2048];
	unsigned n = 0;
	while (f && fgets(line, sizeof line, f))
		n += strstr(line, text) != NULL;
	if (f)
		fclose(f);
	return n;
}

static void dump(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[2048];
	fprintf(stderr, "---- %s ----\n", path);
	while (f && fgets(line, sizeof line, f))
		fputs(line, stderr);
	if (f)
		fclose(f);
}

/*
 * Two epochs of the shuffled test set through an MLP, every 5th sample held
 * out (a restart that lost count would hold out others), a checkpoint every
 * 20 batches, into ckdir.
 */
static void file_run_opts(const char *ckdir, const char *rundir, const char **o, char store[][320])
{
	int n = 0;
	snprintf(store[0], 320, "daemon.runtime_dir=%s", rundir);
	snprintf(store[1], 320, "checkpoint.dir=%s", ckdir);
	snprintf(store[2], 320, "source.fm.path=%s/t10k-images-idx3-ubyte.gz", fashion_dir);
	snprintf(store[3], 320, "source.fm.labels=%s/t10k-labels-idx1-ubyte.gz", fashion_dir);
	for (int i = 0; i < 4; i++)
		o[n++] = store[i];
	static const char *const fixed[] = {
		"publish.endpoint=", "control.endpoint=", "metrics.listen=", "model.kind=mlp", "model.hidden=128",
		"source.fm.type=file", "source.fm.format=idx", "source.fm.epochs=2", "source.fm.shuffle=true",
		"source.fm.seed=11", "batch.size=32", "checkpoint.every_batches=20", "checkpoint.every_ms=0",
		"daemon.exit_when_idle=true", "eval.holdout_every=5", NULL,
	};
	for (int i = 0; fixed[i]; i++)
		o[n++] = fixed[i];
	o[n] = NULL;
}

/*
 * The run left alone and the run killed three times end with the same
 * bytes in the final checkpoint's model: parameters, version, samples,
 * batches, recent cost. Each kill waits for a random number of
 * checkpoints newer than the one the process started from, then a random
 * few milliseconds, so it hits training, the queue or a checkpoint being
 * written.
 */
static void test_exactly_once(void)
{
	char cka[256], ckb[256], run[256], log[300];
	char store[4][320];
	const char *o[40];
	unsigned seed = getenv("MB_TEST_SEED") ? (unsigned)strtoul(getenv("MB_TEST_SEED"), NULL, 10)
					       : (unsigned)time(NULL) ^ (unsigned)getpid();
	fprintf(stderr, "exactly-once: MB_TEST_SEED=%u\n", seed);
	srand(seed);
	subdir("a", cka, sizeof cka);
	subdir("b", ckb, sizeof ckb);
	subdir("run", run, sizeof run);
	snprintf(log, sizeof log, "%s/daemon.log", run);

	file_run_opts(cka, run, o, store);
	int64_t t0 = harness_now_ms();
	int status = reap(spawn(o, log), 60000);
	if (!exited_ok(status))
		dump(log);
	CU_ASSERT_FATAL(exited_ok(status));
	fprintf(stderr, "exactly-once: the uninterrupted run took %lld ms\n", (long long)(harness_now_ms() - t0));
	size_t len_a, len_b;
	uint8_t *a = final_model(cka, &len_a);
	CU_ASSERT_FATAL(a != NULL);

	file_run_opts(ckb, run, o, store);
	unsigned kills = 0;
	for (int k = 0; k < 3; k++) {
		/* Somewhere in the first four fifths of the run: after 1 to 6 new checkpoints. */
		uint64_t target = newest_version(ckb) + 20 * (1 + (uint64_t)(rand() % 6));
		pid_t pid = spawn(o, log);
		int st;
		bool ended = false;
		int64_t deadline = harness_now_ms() + 30000;
		while (newest_version(ckb) < target && !ended && harness_now_ms() < deadline) {
			ended = waitpid(pid, &st, WNOHANG) == pid;
			usleep(1000);
		}
		if (ended) {
			child = 0;
			break;
		}
		usleep((useconds_t)(rand() % 40) * 1000);
		kill(pid, SIGKILL);
		CU_ASSERT(waitpid(pid, &st, 0) == pid);
		child = 0;
		if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
			kills++;
		fprintf(stderr, "exactly-once: killed at checkpoint version %llu and after\n",
			(unsigned long long)newest_version(ckb));
	}
	status = reap(spawn(o, log), 60000);
	if (!exited_ok(status))
		dump(log);
	CU_ASSERT_FATAL(exited_ok(status));
	/* Every restart went on from a checkpoint of the run before it. */
	unsigned resumed = count_lines(log, "continuing at model version");
	fprintf(stderr, "exactly-once: %u kills, %u restarts from a checkpoint\n", kills, resumed);
	CU_ASSERT(kills >= 1);
	CU_ASSERT(resumed >= kills);

	uint8_t *b = final_model(ckb, &len_b);
	CU_ASSERT_FATAL(b != NULL);
	CU_ASSERT_EQUAL(len_a, len_b);
	CU_ASSERT(len_a == len_b && memcmp(a, b, len_a) == 0);
	struct mb_snap_info ia, ib;
	const uint8_t *pa, *pb;
	CU_ASSERT_FATAL(mb_snap_decode(a, len_a, &ia, &pa, NULL) == 0 && mb_snap_decode(b, len_b, &ib, &pb, NULL) == 0);
	/* 20 000 samples offered, every 5th held out: the same 4 000 in both runs. */
	CU_ASSERT_EQUAL(ia.samples, 20000 - 20000 / 5);
	CU_ASSERT_EQUAL(ib.samples, 20000 - 20000 / 5);
	CU_ASSERT_EQUAL(ib.version, ia.version);
	if (len_a != len_b || memcmp(a, b, len_a) != 0)
		dump(log);
	free(a);
	free(b);
	harness_remove_tree(cka);
	harness_remove_tree(ckb);
	harness_remove_tree(run);
}

/* ---- With the harness: a zmq source, control requests ---- */

/* Push messages of PER_MSG training samples, starting at sample first. */
static void push_samples(struct harness *h, uint32_t first, uint32_t messages)
{
	void *push = harness_connect(h, ZMQ_PUSH, "ingest");
	CU_ASSERT_FATAL(push != NULL);
	size_t cap = mb_sample_bin_size(PER_MSG, train->n_features, 1, MB_ELEM_U8, false);
	uint8_t *msg = malloc(cap);
	CU_ASSERT_FATAL(msg != NULL);
	for (uint32_t i = 0; i < messages; i++) {
		size_t n = harness_encode_u8(train, first + i * PER_MSG, PER_MSG, msg, cap);
		CU_ASSERT_FATAL(zmq_send(push, msg, n, 0) == (int)n);
	}
	free(msg);
	int linger = 5000;
	zmq_setsockopt(push, ZMQ_LINGER, &linger, sizeof linger);
	zmq_close(push);
}

/* A status figure. */
static double status_num(struct harness *h, const char *key)
{
	char reply[4096];
	if (harness_control(h, "status", reply, sizeof reply) < 0)
		return NAN;
	return harness_json_num(reply, NULL, key);
}

static void test_sigterm_drains(void)
{
	char ck[256], opt[320];
	subdir("drain", ck, sizeof ck);
	snprintf(opt, sizeof opt, "checkpoint.dir=%s", ck);
	/* A slow model and a deep queue, so a backlog waits when the signal comes. */
	const char *opts[] = {"model.kind=mlp", "model.hidden=512,512", "batch.queue_batches=64",
			      "publish.every_batches=0", "publish.every_ms=0", "metrics.listen=", opt, NULL};
	struct harness h;
	CU_ASSERT_FATAL(harness_start(&h, opts) == 0);
	enum { MESSAGES = 30 };
	const uint64_t sent = MESSAGES * PER_MSG;
	push_samples(&h, 0, MESSAGES);

	/* Every sample is accepted (in a batch), and the trainer is still behind. */
	char stats[8192];
	double queued = 0, trained = 0;
	int64_t deadline = harness_now_ms() + 10000;
	while (harness_now_ms() < deadline) {
		CU_ASSERT_FATAL(harness_control(&h, "stats", stats, sizeof stats) == 0);
		queued = harness_json_num(stats, "\"name\":\"in\"", "queued");
		trained = harness_json_num(stats, NULL, "samples");
		if (queued == (double)sent)
			break;
		usleep(2000);
	}
	CU_ASSERT_FATAL(queued == (double)sent);
	fprintf(stderr, "sigterm-drains: SIGTERM with %.0f of %llu samples learned\n", trained,
		(unsigned long long)sent);
	CU_ASSERT(trained < (double)sent);
	int status = harness_signal_wait(&h, SIGTERM, 30000);
	CU_ASSERT(exited_ok(status));

	struct mb_ckpt_file f;
	static struct mb_ckpt_state st;
	CU_ASSERT_FATAL(newest_ckpt(ck, &f, &st));
	CU_ASSERT(st.has_counters);
	CU_ASSERT_EQUAL(st.counters.samples, sent);
	CU_ASSERT_EQUAL(st.info.samples, sent);
	CU_ASSERT_EQUAL(st.info.version, st.counters.batches);
	const struct mb_ckpt_source *in = mb_ckpt_state_source(&st, "in");
	CU_ASSERT_FATAL(in != NULL);
	CU_ASSERT_EQUAL(in->queued, sent);
	CU_ASSERT_EQUAL(in->pos_len, 0); /* a stream has no position */
	mb_ckpt_file_release(&f);
	CU_ASSERT(harness_stop(&h, 1000) == 0);
	harness_remove_tree(ck);
}

/* The "path" of a JSON reply into buf. */
static bool json_path(const char *reply, char *buf, size_t cap)
{
	const char *p = strstr(reply, "\"path\":\"");
	if (!p)
		return false;
	p += 8;
	size_t n = strcspn(p, "\"");
	if (n >= cap)
		return false;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return true;
}

/* Flip one bit in the middle of a file. */
static void flip_middle(const char *path)
{
	struct stat sb;
	CU_ASSERT_FATAL(stat(path, &sb) == 0);
	int fd = open(path, O_RDWR);
	uint8_t b;
	CU_ASSERT_FATAL(fd >= 0 && pread(fd, &b, 1, sb.st_size / 2) == 1);
	b ^= 0x10;
	CU_ASSERT_FATAL(pwrite(fd, &b, 1, sb.st_size / 2) == 1);
	close(fd);
}

/*
 * save, reset and restarts: "save" writes a file that loads, "reset"
 * moves the version on, a restart carries on from the newest checkpoint
 * with versions still rising, a damaged newest one is passed over, and a
 * model of another shape stops the daemon.
 */
static void test_save_reset_restart(void)
{
	char ck[256], opt[320], reply[4096], path[512];
	subdir("save", ck, sizeof ck);
	snprintf(opt, sizeof opt, "checkpoint.dir=%s", ck);
	const char *opts[] = {"checkpoint.keep=3", "metrics.listen=", opt, NULL};
	struct harness h;

	/* save: a checkpoint of exactly what was learned. */
	CU_ASSERT_FATAL(harness_start(&h, opts) == 0);
	CU_ASSERT(harness_control(&h, "save", reply, sizeof reply) == 0);
	CU_ASSERT(strstr(reply, "\"ok\":false") && strstr(reply, "no model yet"));
	push_samples(&h, 0, 20);
	CU_ASSERT_FATAL(harness_wait_trained(&h, 2000, 10000));
	CU_ASSERT_FATAL(harness_control(&h, "save", reply, sizeof reply) == 0);
	CU_ASSERT_FATAL(strstr(reply, "\"ok\":true") != NULL);
	double saved_version = harness_json_num(reply, NULL, "version");
	CU_ASSERT(saved_version >= 1);
	CU_ASSERT_FATAL(json_path(reply, path, sizeof path));
	struct mb_ckpt_file f;
	static struct mb_ckpt_state st;
	CU_ASSERT_FATAL(newest_ckpt(ck, &f, &st));
	char name[512];
	snprintf(name, sizeof name, "%s/%s", ck, f.name);
	CU_ASSERT_STRING_EQUAL(path, name);
	CU_ASSERT_EQUAL((double)f.version, saved_version);
	CU_ASSERT_EQUAL((double)st.info.version, saved_version);
	CU_ASSERT_EQUAL(st.info.samples, 2000);
	CU_ASSERT(st.optim_state != NULL && st.has_rng && st.config_len > 0);
	mb_ckpt_file_release(&f);

	/* reset: the version moves on, the model starts afresh. */
	CU_ASSERT_FATAL(harness_control(&h, "reset", reply, sizeof reply) == 0);
	CU_ASSERT(strstr(reply, "\"ok\":true") != NULL);
	CU_ASSERT_EQUAL(harness_json_num(reply, NULL, "version"), saved_version + 1);
	CU_ASSERT_EQUAL(status_num(&h, "version"), saved_version + 1);
	CU_ASSERT(harness_stop(&h, 10000) == 0);
	uint64_t after_reset = newest_version(ck);
	CU_ASSERT_EQUAL((double)after_reset, saved_version + 1);

	/* A restart carries on: same version and counters, and learning moves the version on. */
	CU_ASSERT_FATAL(harness_start(&h, opts) == 0);
	CU_ASSERT(harness_log_contains(&h, "continuing at model version"));
	CU_ASSERT_EQUAL(status_num(&h, "version"), (double)after_reset);
	CU_ASSERT_EQUAL(status_num(&h, "samples"), 2000);
	push_samples(&h, 2000, 10);
	CU_ASSERT(harness_wait_trained(&h, 3000, 10000));
	CU_ASSERT(status_num(&h, "version") > (double)after_reset);
	CU_ASSERT(harness_stop(&h, 10000) == 0);
	uint64_t last = newest_version(ck);
	CU_ASSERT(last > after_reset);

	/* The newest checkpoint damaged: the one before it is used, and the log says why. */
	char damaged[MB_CKPT_NAME_BYTES];
	mb_ckpt_store_name(last, damaged);
	snprintf(path, sizeof path, "%s/%s", ck, damaged);
	flip_middle(path);
	CU_ASSERT_FATAL(harness_start(&h, opts) == 0);
	CU_ASSERT(harness_log_contains(&h, damaged) && harness_log_contains(&h, "is damaged (crc"));
	CU_ASSERT_EQUAL(status_num(&h, "version"), (double)after_reset);
	CU_ASSERT(harness_stop(&h, 10000) == 0);

	/* Another model shape: the daemon refuses to start and names both shapes. */
	const char *mlp[] = {"checkpoint.keep=3", "metrics.listen=", opt, "model.kind=mlp", NULL};
	CU_ASSERT(harness_start(&h, mlp) < 0);
	CU_ASSERT(WIFEXITED(h.status) && WEXITSTATUS(h.status) == 1);
	CU_ASSERT(harness_log_contains(&h, "its model is softmax 784-10 (softmax), the configuration makes mlp "
					   "784-128-10 (relu, softmax)"));
	harness_stop(&h, 1000);
	harness_remove_tree(ck);
}

/* Without a checkpoint directory: save says so, reset still works. */
static void test_save_when_off(void)
{
	char reply[4096];
	const char *opts[] = {"metrics.listen=", NULL};
	struct harness h;
	CU_ASSERT_FATAL(harness_start(&h, opts) == 0);
	CU_ASSERT(harness_log_contains(&h, "checkpoints: off"));
	push_samples(&h, 0, 2);
	CU_ASSERT_FATAL(harness_wait_trained(&h, 200, 10000));
	CU_ASSERT(harness_control(&h, "save", reply, sizeof reply) == 0);
	CU_ASSERT(strstr(reply, "\"ok\":false") && strstr(reply, "checkpoints are off"));
	double v = status_num(&h, "version");
	CU_ASSERT(harness_control(&h, "reset", reply, sizeof reply) == 0);
	CU_ASSERT(strstr(reply, "\"ok\":true") != NULL);
	CU_ASSERT_EQUAL(status_num(&h, "version"), v + 1);
	CU_ASSERT(harness_stop(&h, 10000) == 0);
}

int main(void)
{
	fashion_dir = mb_test_fashion_dir();
	/* The daemon would take systemd's state directory as its checkpoint directory. */
	unsetenv("STATE_DIRECTORY");
	if (mb_dataset_load_fashion(fashion_dir, "train", &train, NULL) < 0) {
		fprintf(stderr, "cannot load Fashion-MNIST from %s\n", fashion_dir);
		return 1;
	}
	snprintf(base, sizeof base, "/tmp/mbd-ckpt-test.XXXXXX");
	if (!mkdtemp(base))
		return 1;
	atexit(cleanup);
	atexit(kill_child);
	MB_SUITE("daemon_checkpoint", {"exactly-once-after-sigkill", test_exactly_once},
		 {"sigterm-drains-into-checkpoint", test_sigterm_drains},
		 {"save-reset-restart", test_save_reset_restart}, {"save-when-off", test_save_when_off});
	int r = mb_test_run();
	mb_dataset_free(train);
	return r;
}
