/* SPDX-License-Identifier: MIT */
/*
 * test_daemon_torture.c - the real daemon killed with SIGKILL at random
 * moments, many times over, and restarted after each kill.
 *
 * The daemon learns a small generated CSV file (shuffled, batches of 32,
 * a checkpoint every 5 batches, stopping when the file is done), so a
 * checkpoint is being written most of the time and a kill lands in every
 * step of it. At every restart the daemon must start, pass over no
 * checkpoint as damaged, and carry on from a version at least as new as
 * the newest checkpoint file the directory held before the restart. When
 * a run reaches its end, its final model must be bit for bit the one of
 * a run left alone, and a new run begins, until TORTURE_KILLS kills
 * (default 200) were made.
 *
 * TORTURE_KILLS, TORTURE_DELAY_MS (the longest random wait before a
 * kill, default 100), TORTURE_EPOCHS (passes over the data in a run,
 * default 20) and MB_TEST_SEED (each run prints its seed) are read from
 * the environment; bench/torture.sh runs 1000 kills.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "checkpoint_state.h"
#include "checkpoint_store.h"
#include "daemon_harness.h"
#include "test.h"

#define ROWS        2000 /* rows of the generated data set */
#define FEATURES    20   /* features of each */
#define EPOCHS      20   /* passes over it by default: a run of 0.1 to 1.5 s, as fast as fsync is */
#define START_MS    20000 /* the longest a start may take to restore */

static char base[64];   /* this program's temporary directory */
static char csv[128];   /* the data set */
static pid_t child;     /* the daemon running, for the exit handler */
static unsigned epochs; /* passes over the data set in a run */

/* ---- Files ---- */

static void at_exit(void)
{
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	if (base[0])
		harness_remove_tree(base);
}

/* A fresh empty directory base/name into buf. */
static void subdir(const char *name, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s/%s", base, name);
	harness_remove_tree(buf);
	CU_ASSERT_FATAL(mkdir(buf, 0700) == 0);
}

/* ROWS lines of a noisy linear target and FEATURES features in [-1, 1], from a fixed seed. */
static bool make_csv(void)
{
	FILE *f = fopen(csv, "w");
	uint64_t s = 0x9e3779b97f4a7c15u;
	if (!f)
		return false;
	for (int r = 0; r < ROWS; r++) {
		double x[FEATURES], y = 0;
		for (int j = 0; j < FEATURES; j++) {
			s = s * 6364136223846793005u + 1442695040888963407u;
			x[j] = (double)(s >> 40) / (double)(1u << 24) * 2 - 1;
			y += (j % 5 - 2) * 0.5 * x[j];
		}
		s = s * 6364136223846793005u + 1442695040888963407u;
		fprintf(f, "%.4f", y + ((double)(s >> 40) / (double)(1u << 24) - 0.5) * 0.2);
		for (int j = 0; j < FEATURES; j++)
			fprintf(f, ",%.4f", x[j]);
		fputc('\n', f);
	}
	return fclose(f) == 0;
}

/* The whole of a file, malloc'd; NULL when it cannot be read. */
static uint8_t *slurp(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, n;
	if (!f)
		return NULL;
	do {
		if (len == cap) {
			cap = cap ? 2 * cap : 65536;
			buf = realloc(buf, cap);
			CU_ASSERT_FATAL(buf != NULL);
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	fclose(f);
	*ret_len = len;
	return buf;
}

/* Every complete checkpoint file in dir checks and decodes: a kill never leaves a damaged one. */
static unsigned check_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned n = 0;
	while (d && (e = readdir(d))) {
		if (strncmp(e->d_name, "ckpt-", 5) != 0)
			continue;
		char p[512];
		size_t len;
		snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
		uint8_t *buf = slurp(p, &len);
		if (!buf)
			continue; /* pruned meanwhile */
		struct mb_ckpt ck;
		static struct mb_ckpt_state st;
		struct mb_diag diag = {0};
		bool ok = mb_ckpt_decode(buf, len, &ck, &diag) == 0 && mb_ckpt_state_decode(&ck, &st, &diag) == 0;
		if (!ok)
			fprintf(stderr, "torture: %s is damaged: %s\n", p, diag.text);
		CU_ASSERT(ok);
		free(buf);
		n++;
	}
	if (d)
		closedir(d);
	return n;
}

/* The newest checkpoint's MODEL section with its timestamp zeroed (it differs run to run), malloc'd. */
static uint8_t *final_model(const char *dir, size_t *ret_len)
{
	struct mb_ckpt_store *store;
	struct mb_ckpt_store_cfg cfg = {.dir = dir, .keep = 100};
	struct mb_ckpt_file f;
	if (mb_ckpt_store_open(&cfg, &store) < 0)
		return NULL;
	int r = mb_ckpt_store_load_newest(store, NULL, NULL, NULL, &f);
	mb_ckpt_store_free(store);
	if (r < 0)
		return NULL;
	const struct mb_ckpt_section *m = mb_ckpt_find(&f.ck, MB_CKPT_SEC_MODEL);
	uint8_t *body = m ? malloc(m->len) : NULL;
	if (body) {
		memcpy(body, m->data, m->len);
		memset(body + 40, 0, 8); /* the wall clock at encoding */
		*ret_len = m->len;
	}
	mb_ckpt_file_release(&f);
	return body;
}

/* ---- The daemon ---- */

/* Start the daemon on the data set with its checkpoints in ckdir, its output into log (truncated). */
static pid_t spawn(const char *ckdir, const char *rundir, const char *log)
{
	char o_run[320], o_ck[320], o_path[320], o_epochs[64];
	snprintf(o_run, sizeof o_run, "daemon.runtime_dir=%s", rundir);
	snprintf(o_ck, sizeof o_ck, "checkpoint.dir=%s", ckdir);
	snprintf(o_path, sizeof o_path, "source.t.path=%s", csv);
	snprintf(o_epochs, sizeof o_epochs, "source.t.epochs=%u", epochs);
	const char *opts[] = {
		o_run, o_ck, o_path, o_epochs, "source.t.type=file", "source.t.format=csv",
		"source.t.shuffle=true", "source.t.seed=7", "model.kind=linear", "model.inputs=20", "model.outputs=1",
		"batch.size=32", "checkpoint.every_batches=5", "checkpoint.every_ms=0", "daemon.exit_when_idle=true",
		"publish.endpoint=", "control.endpoint=", "metrics.listen=", NULL,
	};
	const char *argv[64];
	int n = 0;
	argv[n++] = "minibatchd";
	argv[n++] = "--no-config";
	for (int i = 0; opts[i]; i++) {
		argv[n++] = "-o";
		argv[n++] = opts[i];
	}
	argv[n] = NULL;
	unlink(log); /* so the last start's lines are never read as this one's */
	pid_t pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
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

/* What a start said about its checkpoint. */
enum start {
	START_PENDING, /* nothing yet */
	START_FRESH,   /* no checkpoint: a new model */
	START_RESUMED, /* carried on from a checkpoint */
	START_DAMAGED, /* passed over a checkpoint as damaged or unreadable */
};

/* Read the log: how the start went, and the version it carried on from. */
static enum start read_start(const char *log, uint64_t *ret_version)
{
	FILE *f = fopen(log, "r");
	char line[2048];
	enum start s = START_PENDING;
	while (f && fgets(line, sizeof line, f)) {
		const char *p;
		unsigned long long v;
		if (strstr(line, "is damaged") || strstr(line, "cannot be read")) {
			s = START_DAMAGED;
			break;
		}
		if (strstr(line, "none in") && strstr(line, "starting a new model"))
			s = START_FRESH;
		if ((p = strstr(line, "continuing at model version ")) && sscanf(p + 28, "%llu", &v) == 1) {
			*ret_version = v;
			s = START_RESUMED;
		}
	}
	if (f)
		fclose(f);
	return s;
}

static unsigned rand_below(unsigned n)
{
	return n ? (unsigned)rand() % n : 0;
}

static unsigned env_unsigned(const char *name, unsigned dflt)
{
	const char *s = getenv(name);
	return s && *s ? (unsigned)strtoul(s, NULL, 10) : dflt;
}

static void test_kill_restart(void)
{
	unsigned want_kills = env_unsigned("TORTURE_KILLS", 200);
	unsigned max_delay = env_unsigned("TORTURE_DELAY_MS", 100);
	epochs = env_unsigned("TORTURE_EPOCHS", EPOCHS);
	if (epochs == 0)
		epochs = 1;
	unsigned seed = getenv("MB_TEST_SEED") ? env_unsigned("MB_TEST_SEED", 0)
					       : (unsigned)time(NULL) ^ (unsigned)getpid();
	char ref[256], ck[256], run[256], log[300];
	fprintf(stderr, "torture: MB_TEST_SEED=%u TORTURE_KILLS=%u TORTURE_DELAY_MS=%u TORTURE_EPOCHS=%u\n", seed,
		want_kills, max_delay, epochs);
	srand(seed);
	subdir("ref", ref, sizeof ref);
	subdir("run", run, sizeof run);
	snprintf(log, sizeof log, "%s/daemon.log", base);

	/* The run left alone. */
	int64_t t0 = harness_now_ms(), t_ref;
	int status;
	pid_t pid = spawn(ref, run, log);
	CU_ASSERT_FATAL(waitpid(pid, &status, 0) == pid);
	child = 0;
	t_ref = harness_now_ms() - t0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		dump(log);
	CU_ASSERT_FATAL(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	size_t ref_len;
	uint8_t *ref_model = final_model(ref, &ref_len);
	CU_ASSERT_FATAL(ref_model != NULL);
	struct mb_snap_info info;
	const uint8_t *params;
	CU_ASSERT_FATAL(mb_snap_decode(ref_model, ref_len, &info, &params, NULL) == 0);
	CU_ASSERT_EQUAL(info.samples, (uint64_t)ROWS * epochs);
	fprintf(stderr, "torture: the run left alone took %lld ms, model version %" PRIu64 "\n", (long long)t_ref,
		info.version);

	/* Runs killed over and over, until enough kills were made. */
	unsigned kills = 0, starts = 0, resumed = 0, fresh = 0, mid_write = 0, runs = 0, files = 0;
	t0 = harness_now_ms();
	while (kills < want_kills) {
		subdir("ck", ck, sizeof ck);
		runs++;
		for (;;) {
			int64_t newest = harness_newest_ckpt(ck, NULL);
			files += check_files(ck);
			pid = spawn(ck, run, log);
			starts++;

			/* It starts, and from no older a checkpoint than the newest complete file. */
			uint64_t from = 0;
			enum start s = START_PENDING;
			int64_t deadline = harness_now_ms() + START_MS;
			bool ended = false;
			while ((s = read_start(log, &from)) == START_PENDING && harness_now_ms() < deadline &&
			       !(ended = waitpid(pid, &status, WNOHANG) == pid))
				usleep(500);
			if (!ended && s == START_PENDING)
				s = read_start(log, &from);
			bool ok = s == START_FRESH ? newest < 0 : s == START_RESUMED && (int64_t)from >= newest;
			if (!ok) {
				fprintf(stderr, "torture: start %u: newest file %" PRId64 ", start %d from %" PRIu64 "\n",
					starts, newest, (int)s, from);
				dump(log);
			}
			CU_ASSERT_FATAL(ok);
			resumed += s == START_RESUMED;
			fresh += s == START_FRESH;

			/* A random moment of training or of a checkpoint being written, unless the run ends first. */
			if (!ended) {
				usleep(rand_below(max_delay + 1) * 1000u);
				ended = waitpid(pid, &status, WNOHANG) == pid;
			}
			if (ended || kills >= want_kills) {
				if (!ended)
					CU_ASSERT_FATAL(waitpid(pid, &status, 0) == pid);
				child = 0;
				if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
					dump(log);
				CU_ASSERT_FATAL(WIFEXITED(status) && WEXITSTATUS(status) == 0);
				break;
			}
			kill(pid, SIGKILL);
			CU_ASSERT_FATAL(waitpid(pid, &status, 0) == pid);
			child = 0;
			if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
				unsigned temps;
				kills++;
				harness_newest_ckpt(ck, &temps);
				mid_write += temps > 0;
			} else {
				/* It finished on its own just before the signal. */
				if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
					dump(log);
				CU_ASSERT_FATAL(WIFEXITED(status) && WEXITSTATUS(status) == 0);
				break;
			}
		}

		/* The run reached its end: the same model, bit for bit, as the run left alone. */
		size_t len;
		uint8_t *model = final_model(ck, &len);
		CU_ASSERT_FATAL(model != NULL);
		bool same = len == ref_len && memcmp(model, ref_model, len) == 0;
		if (!same)
			fprintf(stderr, "torture: run %u (MB_TEST_SEED=%u) ends with another model\n", runs, seed);
		CU_ASSERT(same);
		free(model);
		harness_remove_tree(ck);
	}
	int64_t took = harness_now_ms() - t0;
	fprintf(stderr,
		"torture: %u kills (%u with a checkpoint write in flight), %u starts (%u resumed, %u fresh), "
		"%u complete runs, %u checkpoint files checked, %lld ms\n",
		kills, mid_write, starts, resumed, fresh, runs, files, (long long)took);
	CU_ASSERT(kills == want_kills);
	CU_ASSERT(resumed > 0);
	free(ref_model);
	harness_remove_tree(ref);
	harness_remove_tree(run);
}

int main(void)
{
	snprintf(base, sizeof base, "/tmp/mb-test-torture-XXXXXX");
	if (!mkdtemp(base))
		return 1;
	atexit(at_exit);
	snprintf(csv, sizeof csv, "%s/rows.csv", base);
	if (!make_csv()) {
		perror(csv);
		return 1;
	}
	MB_SUITE("torture", {"kill-restart", test_kill_restart});
	return mb_test_run();
}
