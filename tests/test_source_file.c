/* SPDX-License-Identifier: MIT */
/*
 * test_source_file.c - the file source, driven through its ops table.
 *
 * Each test writes its input into a temporary directory, configures a
 * [source.f] section the way the daemon would, runs the source on a
 * thread of its own and consumes the batches from its feed on the test
 * thread, as the trainer does. When io_uring is refused here (seccomp),
 * every test runs on the pread(2) fallback and the program exits 77.
 */
#include <dirent.h>
#include <errno.h>
#include <liburing.h>
#include <math.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "../daemon/config.h" /* not the build's config.h */
#include "dataset.h"
#include "feed.h"
#include "ingest.h"
#include "log.h"
#include "sample.h"
#include "source.h"
#include "test.h"
#include "wire.h"

/* Everything the consumer saw. */
struct rows {
	size_t n, cap;          /* rows received, allocated */
	uint32_t nf, nt;        /* the batches' shape */
	float *x, *y, *w;       /* n x nf, n x nt, n (NULL when not kept) */
	double *xsum;           /* per row: the sum of x, kept instead of x for large inputs */
	bool sums_only;         /* keep xsum, not x */
	uint64_t last_position; /* position field of the last batch */
	bool positions_ok;      /* positions grew by the rows of each batch */
	unsigned batches;       /* batches taken */
};

/* How a run goes. */
struct run_opts {
	uint32_t batch_size;    /* rows per batch */
	uint32_t queue_batches; /* pool size */
	uint32_t n_features;    /* the model's inputs, 0: open */
	uint32_t n_classes;     /* a softmax model's classes, 0: not a softmax */
	uint32_t linger_ms;     /* partial batch hand-over */
	unsigned consume_us;    /* sleep after each batch: a slow trainer */
	size_t stop_after;      /* follow: stop once this many rows arrived (0: wait for run to end) */
	void (*during)(size_t rows, void *arg); /* called while consuming (follow tests change files) */
	void *during_arg;       /* its argument */
};

/* What a run produced besides the rows. */
struct run_result {
	int run_ret;                      /* run()'s return */
	uint64_t rejected_by[MB_R_MAX_];  /* the source's counters */
	uint64_t received, queued, rejected, dropped; /* the other counters, and the feed's drops */
	uint8_t pos[64];                  /* the position hook's bytes */
	long pos_len;                     /* its return */
};

static char tmpdir[256];

static void tmp_clean(void);

/* A fresh temporary directory; one a failed test left behind goes first. */
static void tmp_make(void)
{
	tmp_clean();
	snprintf(tmpdir, sizeof tmpdir, "/tmp/mb-test-source-file-XXXXXX");
	CU_ASSERT_FATAL(mkdtemp(tmpdir) != NULL);
}

/* Remove the temporary directory and its files (also at exit). */
static void tmp_clean(void)
{
	if (!tmpdir[0])
		return;
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	char p[512];
	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
			unlink(p);
		}
	if (d)
		closedir(d);
	rmdir(tmpdir);
	tmpdir[0] = 0;
}

static const char *tmp_path(const char *name)
{
	static char p[4][512];
	static unsigned k;
	char *q = p[k++ % 4];
	snprintf(q, 512, "%s/%s", tmpdir, name);
	return q;
}

static void write_file(const char *path, const void *buf, size_t len, bool gz)
{
	if (gz) {
		gzFile f = gzopen(path, "wb");
		CU_ASSERT_FATAL(f != NULL);
		CU_ASSERT_FATAL(gzwrite(f, buf, (unsigned)len) == (int)len);
		CU_ASSERT_FATAL(gzclose(f) == Z_OK);
	} else {
		FILE *f = fopen(path, "wb");
		CU_ASSERT_FATAL(f != NULL);
		CU_ASSERT_FATAL(fwrite(buf, 1, len, f) == len);
		CU_ASSERT_FATAL(fclose(f) == 0);
	}
}

static void append_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "ab");
	CU_ASSERT_FATAL(f != NULL);
	fputs(text, f);
	CU_ASSERT_FATAL(fclose(f) == 0);
}

/* A growing buffer of file content. */
struct text {
	char *p;         /* the bytes */
	size_t len, cap; /* used, allocated */
};

static void text_add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		va_start(ap, fmt);
		int n = vsnprintf(t->p ? t->p + t->len : NULL, t->p ? t->cap - t->len : 0, fmt, ap);
		va_end(ap);
		if (t->p && (size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		t->cap = (t->cap + (size_t)n + 1) * 2;
		t->p = realloc(t->p, t->cap);
		CU_ASSERT_FATAL(t->p != NULL);
	}
}

static void text_put(struct text *t, const void *p, size_t n)
{
	if (t->cap - t->len < n) {
		t->cap = (t->len + n) * 2;
		t->p = realloc(t->p, t->cap);
		CU_ASSERT_FATAL(t->p != NULL);
	}
	memcpy(t->p + t->len, p, n);
	t->len += n;
}

/* ---- Running the source ---- */

/* The source's thread. */
struct runner {
	const struct mb_source_ops *ops; /* the table under test */
	struct mb_source *src;           /* the instance */
	int ret;                         /* run()'s return, valid once done */
	atomic_bool done;                /* run() returned */
};

static void *run_thread(void *arg)
{
	struct runner *r = arg;
	r->ret = r->ops->run(r->src);
	atomic_store(&r->done, true);
	return NULL;
}

static void rows_add(struct rows *rs, const struct mb_batch *b)
{
	if (!rs->nf) {
		rs->nf = b->n_features;
		rs->nt = b->n_targets;
	}
	CU_ASSERT_FATAL(b->n_features == rs->nf && b->n_targets == rs->nt);
	if (rs->n + b->rows > rs->cap) {
		rs->cap = (rs->n + b->rows) * 2;
		if (rs->sums_only)
			rs->xsum = realloc(rs->xsum, rs->cap * sizeof *rs->xsum);
		else
			rs->x = realloc(rs->x, rs->cap * rs->nf * sizeof *rs->x);
		rs->y = realloc(rs->y, rs->cap * (rs->nt ? rs->nt : 1) * sizeof *rs->y);
		rs->w = realloc(rs->w, rs->cap * sizeof *rs->w);
		CU_ASSERT_FATAL(rs->y && rs->w && (rs->sums_only ? rs->xsum != NULL : rs->x != NULL));
	}
	for (uint32_t i = 0; i < b->rows; i++) {
		const float *x = mb_batch_x(b, i);
		if (rs->sums_only) {
			double s = 0;
			for (uint32_t k = 0; k < rs->nf; k++)
				s += x[k];
			rs->xsum[rs->n] = s;
		} else {
			memcpy(rs->x + rs->n * rs->nf, x, rs->nf * sizeof *x);
		}
		memcpy(rs->y + rs->n * rs->nt, mb_batch_y(b, i), rs->nt * sizeof *rs->y);
		rs->w[rs->n] = b->w[i];
		rs->n++;
	}
	if (b->position != rs->n)
		rs->positions_ok = false;
	rs->last_position = b->position;
	rs->batches++;
}

static void rows_free(struct rows *rs)
{
	free(rs->x);
	free(rs->y);
	free(rs->w);
	free(rs->xsum);
	memset(rs, 0, sizeof *rs);
}

/*
 * Configure [source.f] from kv (NULL-terminated pairs), run it until it
 * ends (or opts->stop_after rows arrived), collecting every row.
 */
static void run_source(const char *const *kv, const struct run_opts *opts, struct rows *rs,
		       struct run_result *res)
{
	struct mb_config *c;
	struct mb_cfg_err err = {{0}};
	struct mb_cfg_origin origin = {"test", 1};
	char key[128];

	memset(res, 0, sizeof *res);
	rs->positions_ok = true;
	CU_ASSERT_FATAL(mb_config_new(&c) == 0);
	CU_ASSERT_FATAL(mb_config_set(c, "source.f.type", "file", &origin, &err) == 0);
	for (const char *const *p = kv; *p; p += 2) {
		snprintf(key, sizeof key, "source.f.%s", p[0]);
		if (mb_config_set(c, key, p[1], &origin, &err) < 0)
			fprintf(stderr, "config: %s\n", err.text);
	}
	if (mb_config_finish(c, &err) < 0)
		fprintf(stderr, "config: %s\n", err.text);
	CU_ASSERT_FATAL(c->n_sources == 1);

	struct mb_ingest_cfg ic = {
		.n_features = opts->n_features,
		.batch_size = opts->batch_size ? opts->batch_size : 32,
		.linger_ms = opts->linger_ms ? opts->linger_ms : 1000,
		.queue_batches = opts->queue_batches ? opts->queue_batches : 4,
		.policy = MB_FEED_BLOCK,
		.n_classes = opts->n_classes,
	};
	struct mb_ingest *ing;
	CU_ASSERT_FATAL(mb_ingest_new(&ic, &ing) == 0);

	const struct mb_source_ops *ops = &mb_source_file_ops;
	struct runner r = {.ops = ops};
	const char *why = NULL;
	int cr = ops->create(&c->sources[0], ing, 0, &r.src, &why);
	if (cr < 0)
		fprintf(stderr, "create: %s\n", why ? why : "?");
	CU_ASSERT_FATAL(cr == 0);

	pthread_t t;
	CU_ASSERT_FATAL(pthread_create(&t, NULL, run_thread, &r) == 0);
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	bool stopped = false;
	for (;;) {
		bool finished = atomic_load(&r.done);
		struct mb_feed *f = mb_ingest_feed_peek(ing, 0);
		struct mb_batch *b = f ? mb_feed_take(f) : NULL;
		if (b) {
			rows_add(rs, b);
			mb_feed_recycle(f, b);
			if (opts->consume_us)
				usleep(opts->consume_us);
			if (opts->during)
				opts->during(rs->n, opts->during_arg);
			continue;
		}
		if (finished)
			break;
		if (!stopped && opts->stop_after && rs->n >= opts->stop_after) {
			mb_ingest_stop(ing);
			ops->wake(r.src);
			stopped = true;
		}
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (!stopped && now.tv_sec - start.tv_sec > 60) {
			fprintf(stderr, "run_source: no end after 60 s with %zu rows\n", rs->n);
			CU_FAIL("source did not finish");
			mb_ingest_stop(ing);
			ops->wake(r.src);
			stopped = true;
		}
		mb_doorbell_wait(mb_ingest_doorbell(ing), 5);
	}
	pthread_join(t, NULL);
	res->run_ret = r.ret;
	res->pos_len = ops->position(r.src, res->pos, sizeof res->pos);
	struct mb_source_stats *st = mb_ingest_stats(ing, 0);
	for (unsigned i = 0; i < MB_R_MAX_; i++)
		res->rejected_by[i] = st->rejected_by[i];
	res->received = st->received;
	res->queued = st->queued;
	res->rejected = st->rejected;
	struct mb_feed *f = mb_ingest_feed_peek(ing, 0);
	res->dropped = f ? mb_feed_dropped(f) : 0;
	ops->destroy(r.src);
	mb_ingest_free(ing);
	mb_config_free(c);
}

/* ---- Inputs ---- */

/* Feature k of sample i: exact in float, distinct per sample. */
static float feat(size_t i, uint32_t k)
{
	return (float)(i % 1000) + (float)k * 0.125f;
}

/* n CSV lines of nf features after one label (i % 10). */
static void csv_lines(struct text *t, size_t first, size_t n, uint32_t nf)
{
	for (size_t i = first; i < first + n; i++) {
		text_add(t, "%zu", i % 10);
		for (uint32_t k = 0; k < nf; k++)
			text_add(t, ",%g", (double)feat(i, k));
		text_add(t, "\n");
	}
}

/* Rows [from, from + n) of rs hold CSV samples first.. in order. */
static bool rows_match_csv(const struct rows *rs, size_t from, size_t first, size_t n, uint32_t nf)
{
	if (rs->n < from + n || rs->nf != nf)
		return false;
	for (size_t j = 0; j < n; j++) {
		size_t i = first + j;
		if (rs->y[(from + j) * rs->nt] != (float)(i % 10))
			return false;
		for (uint32_t k = 0; k < nf; k++)
			if (rs->x[(from + j) * nf + k] != feat(i, k))
				return false;
	}
	return true;
}

/* ---- Tests ---- */

/* The Fashion-MNIST directory (the test of it is registered only when it is there). */
static const char *fashion_dir(void)
{
	const char *dir = getenv("FASHION_MNIST_DIR");
	return dir && *dir ? dir : "/usr/share/datasets/fashion-mnist";
}

static bool have_fashion(void)
{
	char p[512];
	snprintf(p, sizeof p, "%s/train-labels-idx1-ubyte.gz", fashion_dir());
	if (access(p, R_OK))
		return false;
	snprintf(p, sizeof p, "%s/train-images-idx3-ubyte.gz", fashion_dir());
	return access(p, R_OK) == 0;
}

static void test_fashion_idx(void)
{
	char images[512], labels[512];
	snprintf(images, sizeof images, "%s/train-images-idx3-ubyte.gz", fashion_dir());
	snprintf(labels, sizeof labels, "%s/train-labels-idx1-ubyte.gz", fashion_dir());
	struct mb_dataset *ds;
	struct mb_diag d;
	CU_ASSERT_FATAL(mb_dataset_load_idx(images, labels, &ds, &d) == 0);

	const char *kv[] = {"path", images, "labels", labels, "block_kib", "64", NULL};
	struct run_opts o = {.batch_size = 256};
	struct rows rs = {.sums_only = true};
	struct run_result res;
	run_source(kv, &o, &rs, &res);
	CU_ASSERT_EQUAL(res.run_ret, 0);
	CU_ASSERT_EQUAL(rs.n, 60000);
	CU_ASSERT_EQUAL(rs.nf, 784);
	CU_ASSERT_EQUAL(rs.nt, 1);
	CU_ASSERT_EQUAL(res.rejected, 0);
	CU_ASSERT_EQUAL(res.received, 60000);
	if (rs.n == ds->count && rs.nt == 1) {
		/* Fashion-MNIST's first training image is an ankle boot (9), its last a sandal (5). */
		CU_ASSERT_EQUAL(rs.y[0], 9.0f);
		CU_ASSERT_EQUAL(rs.y[rs.n - 1], 5.0f);
		size_t label_diff = 0, sum_diff = 0;
		for (size_t i = 0; i < rs.n; i++) {
			double s = 0;
			for (uint32_t k = 0; k < ds->n_features; k++)
				s += ds->x[i * ds->n_features + k];
			label_diff += rs.y[i] != ds->y[i];
			sum_diff += rs.xsum[i] != s;
		}
		CU_ASSERT_EQUAL(label_diff, 0);
		CU_ASSERT_EQUAL(sum_diff, 0);
	}
	CU_ASSERT(rs.positions_ok);
	rows_free(&rs);
	mb_dataset_free(ds);
}

static void test_csv_plain_and_gz(void)
{
	struct text a = {0}, b = {0};
	tmp_make();
	csv_lines(&a, 0, 3000, 7);
	csv_lines(&b, 3000, 2500, 7);
	text_add(&b, "9,1,2,3,4,5,6,7"); /* a last line without its newline */
	write_file(tmp_path("a.csv"), a.p, a.len, false);
	write_file(tmp_path("b.csv.gz"), b.p, b.len, true);

	char paths[1100];
	snprintf(paths, sizeof paths, "%s,%s", tmp_path("a.csv"), tmp_path("b.csv.gz"));
	const char *kv[] = {"path", paths, "block_kib", "4", "queue_depth", "3", NULL};
	struct run_opts o = {.batch_size = 50};
	struct rows rs = {0};
	struct run_result res;
	run_source(kv, &o, &rs, &res);
	CU_ASSERT_EQUAL(res.run_ret, 0);
	CU_ASSERT_EQUAL(rs.n, 5501);
	CU_ASSERT(rows_match_csv(&rs, 0, 0, 5500, 7));
	if (rs.n == 5501) {
		CU_ASSERT_EQUAL(rs.y[5500], 9.0f);
		CU_ASSERT_EQUAL(rs.x[5500 * 7 + 6], 7.0f);
	}
	CU_ASSERT_EQUAL(res.rejected, 0);
	CU_ASSERT(rs.positions_ok);
	CU_ASSERT_EQUAL(rs.last_position, 5501);

	/* The position after the last batch: file 1, at its end, first epoch, every row. */
	CU_ASSERT_EQUAL_FATAL(res.pos_len, 40);
	CU_ASSERT(memcmp(res.pos, "MBFP", 4) == 0);
	CU_ASSERT_EQUAL(mb_le32(res.pos + 12), 1);
	CU_ASSERT_EQUAL(mb_le32(res.pos + 16), 0);
	CU_ASSERT_EQUAL(mb_le64(res.pos + 24), b.len);
	CU_ASSERT_EQUAL(mb_le64(res.pos + 32), 5501);
	rows_free(&rs);
	free(a.p);
	free(b.p);
	tmp_clean();
}

static void test_libsvm(void)
{
	struct text t = {0};
	tmp_make();
	for (size_t i = 0; i < 2000; i++)
		text_add(&t, "%zu 2:%g 5:%g\n", i % 3, (double)feat(i, 1), (double)feat(i, 4));
	write_file(tmp_path("a.svm.gz"), t.p, t.len, true);
	const char *kv[] = {"path", tmp_path("a.svm.gz"), "format", "libsvm", "block_kib", "4", NULL};
	struct run_opts o = {.n_features = 6};
	struct rows rs = {0};
	struct run_result res;
	run_source(kv, &o, &rs, &res);
	CU_ASSERT_EQUAL(res.run_ret, 0);
	CU_ASSERT_EQUAL_FATAL(rs.n, 2000);
	CU_ASSERT_EQUAL_FATAL(rs.nf, 6);
	size_t bad = 0;
	for (size_t i = 0; i < rs.n; i++) {
		const float *x = rs.x + i * 6;
		bad += rs.y[i] != (float)(i % 3) || x[0] != 0 || x[1] != feat(i, 1) || x[2] != 0 || x[3] != 0 ||
		       x[4] != feat(i, 4) || x[5] != 0;
	}
	CU_ASSERT_EQUAL(bad, 0);
	rows_free(&rs);
	free(t.p);
	tmp_clean();
}

/* Binary messages of 1..37 rows of 50 features, some weighted; n_rows in total. */
static size_t binary_messages(struct text *t, size_t n_msgs)
{
	size_t row = 0;
	for (size_t m = 0; m < n_msgs; m++) {
		uint32_t count = (uint32_t)(m * 7 % 37) + 1, nf = 50;
		float *x = malloc((size_t)count * nf * sizeof *x), *y = malloc(count * sizeof *y);
		float *w = malloc(count * sizeof *w);
		for (uint32_t i = 0; i < count; i++) {
			for (uint32_t k = 0; k < nf; k++)
				x[i * nf + k] = feat(row + i, k);
			y[i] = (float)((row + i) % 10);
			w[i] = 1.0f + (float)((row + i) % 4);
		}
		struct mb_sample_batch sb = {.count = count, .n_features = nf, .n_targets = 1, .x = x, .y = y,
					     .w = m % 2 ? w : NULL, .elem = MB_ELEM_F32, .scale = 1, .offset = 0};
		size_t size = mb_sample_bin_size(count, nf, 1, MB_ELEM_F32, m % 2);
		if (t->cap - t->len < size) {
			t->cap = (t->len + size) * 2;
			t->p = realloc(t->p, t->cap);
		}
		long n = mb_sample_bin_encode(t->p + t->len, t->cap - t->len, &sb);
		CU_ASSERT_FATAL(n == (long)size);
		t->len += (size_t)n;
		row += count;
		free(x);
		free(y);
		free(w);
	}
	return row;
}

static bool rows_match_binary(const struct rows *rs, size_t n_msgs)
{
	size_t row = 0;
	for (size_t m = 0; m < n_msgs; m++) {
		uint32_t count = (uint32_t)(m * 7 % 37) + 1;
		for (uint32_t i = 0; i < count; i++, row++) {
			if (row >= rs->n || rs->y[row] != (float)(row % 10) ||
			    rs->w[row] != (m % 2 ? 1.0f + (float)(row % 4) : 1.0f))
				return false;
			for (uint32_t k = 0; k < 50; k++)
				if (rs->x[row * 50 + k] != feat(row, k))
					return false;
		}
	}
	return row == rs->n;
}

static void test_binary_plain_and_gz(void)
{
	for (int gz = 0; gz < 2; gz++) {
		struct text t = {0};
		tmp_make();
		size_t n = binary_messages(&t, 300);
		write_file(tmp_path("s.mbsm"), t.p, t.len, gz);
		const char *kv[] = {"path", tmp_path("s.mbsm"), "block_kib", "4", "queue_depth", "5", NULL};
		struct run_opts o = {.batch_size = 64};
		struct rows rs = {0};
		struct run_result res;
		run_source(kv, &o, &rs, &res);
		CU_ASSERT_EQUAL(res.run_ret, 0);
		CU_ASSERT_EQUAL(rs.n, n);
		CU_ASSERT(rows_match_binary(&rs, 300));
		CU_ASSERT_EQUAL(res.rejected, 0);
		rows_free(&rs);
		free(t.p);
		tmp_clean();
	}
}

static void test_bad_lines(void)
{
	struct text t = {0};
	tmp_make();
	csv_lines(&t, 0, 100, 3);
	text_add(&t, "# a comment, then a blank line\n\n");
	text_add(&t, "1,2,x,4\n");         /* not numeric */
	text_add(&t, "1,2,3\n");           /* a column short */
	text_add(&t, "1,2,3,4,5\n");       /* a column too many */
	text_add(&t, "1,nan,3,4\n");       /* not a finite number */
	text_add(&t, "12,1,2,3\n");        /* no class 12 in a 10-class model */
	/* A line over MB_MAX_LINE_BYTES, across many read blocks. */
	text_add(&t, "1");
	for (size_t k = 0; k <= MB_MAX_LINE_BYTES / 8; k++)
		text_add(&t, ",1.00000");
	text_add(&t, "\n");
	csv_lines(&t, 100, 100, 3);
	write_file(tmp_path("bad.csv"), t.p, t.len, false);
	const char *kv[] = {"path", tmp_path("bad.csv"), "block_kib", "4", NULL};
	struct run_opts o = {.n_classes = 10};
	struct rows rs = {0};
	struct run_result res;
	run_source(kv, &o, &rs, &res);
	CU_ASSERT_EQUAL(res.run_ret, 0);
	CU_ASSERT_EQUAL(rs.n, 200);
	CU_ASSERT(rows_match_csv(&rs, 0, 0, 200, 3));
	CU_ASSERT_EQUAL(res.rejected, 6);
	/* "nan" is refused as not finite or as not a number, as the decoder sees it. */
	CU_ASSERT_EQUAL(res.rejected_by[MB_R_NOT_NUMERIC] + res.rejected_by[MB_R_NONFINITE], 2);
	CU_ASSERT(res.rejected_by[MB_R_NOT_NUMERIC] >= 1);
	CU_ASSERT_EQUAL(res.rejected_by[MB_R_COLUMNS], 2);
	CU_ASSERT_EQUAL(res.rejected_by[MB_R_LABEL], 1);
	CU_ASSERT_EQUAL(res.rejected_by[MB_R_TOO_BIG], 1);
	CU_ASSERT_EQUAL(res.received, 206);
	rows_free(&rs);
	free(t.p);
	tmp_clean();
}

static void test_corrupt_binary(void)
{
	struct text t = {0}, u = {0};
	tmp_make();
	size_t n = binary_messages(&t, 20);
	/* A sound message of another shape: refused on its own, reading goes on. */
	float x49[49] = {0}, y1 = 1;
	struct mb_sample_batch odd = {.count = 1, .n_features = 49, .n_targets = 1, .x = x49, .y = &y1,
				      .elem = MB_ELEM_F32, .scale = 1};
	char oddbuf[512];
	long oddlen = mb_sample_bin_encode(oddbuf, sizeof oddbuf, &odd);
	CU_ASSERT_FATAL(oddlen > 0);
	text_put(&t, oddbuf, (size_t)oddlen);
	n += binary_messages(&t, 3);
	size_t good_len = t.len;
	binary_messages(&t, 5);
	memcpy(t.p + good_len, "XXXX", 4); /* a message loses its magic: nothing after it can be found */
	write_file(tmp_path("a.mbsm"), t.p, t.len, false);
	csv_lines(&u, 0, 10, 50);
	write_file(tmp_path("b.csv"), u.p, u.len, false);
	char paths[1100];
	snprintf(paths, sizeof paths, "%s,%s", tmp_path("a.mbsm"), tmp_path("b.csv"));
	const char *kv[] = {"path", paths, "block_kib", "4", NULL};
	struct run_opts o = {0};
	struct rows rs = {0};
	struct run_result res;
	run_source(kv, &o, &rs, &res);
	/* The broken file ends early; the next file is still read. */
	CU_ASSERT_EQUAL(rs.n, n + 10);
	CU_ASSERT_EQUAL(res.rejected_by[MB_R_MAGIC], 1);
	CU_ASSERT_EQUAL(res.rejected_by[MB_R_DIM_MISMATCH], 1);
	CU_ASSERT_EQUAL(res.rejected, 2);
	rows_free(&rs);
	free(t.p);
	free(u.p);
	tmp_clean();
}

/* The labels of rows [e*n, (e+1)*n) are a permutation of 0..n-1 (labels carry the line index). */
static bool epoch_is_permutation(const struct rows *rs, size_t e, size_t n)
{
	bool *seen = calloc(n, 1), ok = true;
	for (size_t i = 0; i < n && ok; i++) {
		float v = rs->x[(e * n + i) * rs->nf];
		size_t k = (size_t)v;
		ok = v >= 0 && (float)k == v && k < n && !seen[k];
		if (ok)
			seen[k] = true;
	}
	free(seen);
	return ok;
}

static void shuffled_run(const char *seed, struct rows *rs)
{
	const char *kv[] = {"path", tmp_path("s.csv"), "epochs", "3", "shuffle", "true", "seed", seed,
			    "block_kib", "4", NULL};
	struct run_opts o = {.batch_size = 64};
	struct run_result res;
	run_source(kv, &o, rs, &res);
	CU_ASSERT_EQUAL(res.run_ret, 0);
	CU_ASSERT_EQUAL(res.received, 500);
	CU_ASSERT_EQUAL(res.queued, 1500);
}

static void test_shuffle_epochs(void)
{
	struct text t = {0};
	tmp_make();
	for (size_t i = 0; i < 500; i++)
		text_add(&t, "%zu,%zu,%g\n", i % 2, i, (double)i * 0.5);
	write_file(tmp_path("s.csv"), t.p, t.len, false);

	struct rows a = {0}, b = {0}, c = {0};
	shuffled_run("7", &a);
	shuffled_run("7", &b);
	shuffled_run("8", &c);
	CU_ASSERT_EQUAL_FATAL(a.n, 1500);
	CU_ASSERT_EQUAL_FATAL(b.n, 1500);
	CU_ASSERT_EQUAL_FATAL(c.n, 1500);
	for (size_t e = 0; e < 3; e++)
		CU_ASSERT(epoch_is_permutation(&a, e, 500));
	/* Each row still holds its own features and label. */
	size_t bad = 0;
	for (size_t i = 0; i < a.n; i++) {
		float k = a.x[i * 2];
		bad += a.x[i * 2 + 1] != k * 0.5f || a.y[i] != (float)((size_t)k % 2);
	}
	CU_ASSERT_EQUAL(bad, 0);
	/* Shuffled: not the file order, and each epoch differs. */
	size_t in_place = 0;
	for (size_t i = 0; i < 500; i++)
		in_place += a.x[i * 2] == (float)i;
	CU_ASSERT(in_place < 50);
	CU_ASSERT(memcmp(a.x, a.x + 1000, 1000 * sizeof *a.x) != 0);
	/* Deterministic per seed. */
	CU_ASSERT(memcmp(a.x, b.x, 3000 * sizeof *a.x) == 0);
	CU_ASSERT(memcmp(a.x, c.x, 3000 * sizeof *a.x) != 0);
	rows_free(&a);
	rows_free(&b);
	rows_free(&c);
	free(t.p);
	tmp_clean();
}

static void test_epochs_stream(void)
{
	struct text t = {0};
	tmp_make();
	csv_lines(&t, 0, 300, 4);
	write_file(tmp_path("e.csv.gz"), t.p, t.len, true);
	const char *kv[] = {"path", tmp_path("e.csv.gz"), "epochs", "3", "block_kib", "4", NULL};
	struct run_opts o = {.batch_size = 64};
	struct rows rs = {0};
	struct run_result res;
	run_source(kv, &o, &rs, &res);
	CU_ASSERT_EQUAL(rs.n, 900);
	for (size_t e = 0; e < 3; e++)
		CU_ASSERT(rows_match_csv(&rs, e * 300, 0, 300, 4));
	CU_ASSERT_EQUAL_FATAL(res.pos_len, 40);
	CU_ASSERT_EQUAL(mb_le32(res.pos + 16), 2); /* the third epoch */
	rows_free(&rs);
	free(t.p);
	tmp_clean();
}

/* Follow: append, then rotate, as rows arrive. */
struct follow_script {
	int step; /* changes made so far: 1 appended, 2 rotated, 3 truncated */
};

static void follow_during(size_t rows, void *arg)
{
	struct follow_script *fs = arg;
	struct text t = {0};
	if (fs->step == 0 && rows >= 50) {
		csv_lines(&t, 50, 30, 3);
		/* Half a line first: it must wait for the rest. */
		append_file(tmp_path("f.csv"), t.p);
		append_file(tmp_path("f.csv"), "0,80");
		usleep(150 * 1000);
		append_file(tmp_path("f.csv"), ",80.125,80.25\n");
		fs->step = 1;
	} else if (fs->step == 1 && rows >= 81) {
		/* Rotate: the old file moves away, a new one takes its name. */
		CU_ASSERT(rename(tmp_path("f.csv"), tmp_path("f.csv.1")) == 0);
		csv_lines(&t, 81, 19, 3);
		write_file(tmp_path("f.csv"), t.p, t.len, false);
		fs->step = 2;
	} else if (fs->step == 2 && rows >= 100) {
		/* Truncate in place (copytruncate) and write fewer bytes than were there. */
		csv_lines(&t, 100, 10, 3);
		write_file(tmp_path("f.csv"), t.p, t.len, false);
		fs->step = 3;
	}
	free(t.p);
}

static void test_follow(void)
{
	struct text t = {0};
	tmp_make();
	csv_lines(&t, 0, 50, 3);
	write_file(tmp_path("f.csv"), t.p, t.len, false);
	const char *kv[] = {"path", tmp_path("f.csv"), "follow", "true", "block_kib", "4", NULL};
	struct follow_script fs = {0};
	struct run_opts o = {.batch_size = 8, .linger_ms = 20, .stop_after = 110, .during = follow_during,
			     .during_arg = &fs};
	struct rows rs = {0};
	struct run_result res;
	run_source(kv, &o, &rs, &res);
	CU_ASSERT_EQUAL(res.run_ret, 0);
	CU_ASSERT_EQUAL(fs.step, 3);
	CU_ASSERT_EQUAL(rs.n, 110);
	CU_ASSERT(rows_match_csv(&rs, 0, 0, 110, 3));
	CU_ASSERT_EQUAL(res.rejected, 0);
	rows_free(&rs);
	free(t.p);
	tmp_clean();
}

/* Replace the broken followed file once its good part has arrived. */
struct replace_script {
	size_t after;   /* rows that come before the broken part */
	bool replaced;  /* done */
};

static void replace_during(size_t rows, void *arg)
{
	struct replace_script *rp = arg;
	if (rp->replaced || rows < rp->after)
		return;
	struct text t = {0};
	binary_messages(&t, 4);
	CU_ASSERT(rename(tmp_path("g.mbsm"), tmp_path("g.mbsm.old")) == 0);
	write_file(tmp_path("g.mbsm"), t.p, t.len, false);
	rp->replaced = true;
	free(t.p);
}

static void test_follow_broken(void)
{
	struct text t = {0}, u = {0};
	tmp_make();
	size_t n1 = binary_messages(&t, 6);
	text_put(&t, "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", 48);
	write_file(tmp_path("g.mbsm"), t.p, t.len, false);
	size_t n2 = binary_messages(&u, 4);
	const char *kv[] = {"path", tmp_path("g.mbsm"), "follow", "true", NULL};
	struct replace_script rp = {.after = n1};
	struct run_opts o = {.batch_size = 8, .linger_ms = 20, .stop_after = n1 + n2, .during = replace_during,
			     .during_arg = &rp};
	struct rows rs = {0};
	struct run_result res;
	run_source(kv, &o, &rs, &res);
	/* The garbage ends the old file; the file that replaces it is read from its start. */
	CU_ASSERT(rp.replaced);
	CU_ASSERT_EQUAL(rs.n, n1 + n2);
	CU_ASSERT_EQUAL(res.rejected_by[MB_R_MAGIC], 1);
	if (rs.n == n1 + n2)
		for (size_t i = 0; i < n2; i++)
			CU_ASSERT_EQUAL(rs.y[n1 + i], (float)(i % 10));
	rows_free(&rs);
	free(t.p);
	free(u.p);
	tmp_clean();
}

static void test_stop_wakes(void)
{
	struct text t = {0};
	tmp_make();
	csv_lines(&t, 0, 10, 3);
	write_file(tmp_path("w.csv"), t.p, t.len, false);
	const char *kv[] = {"path", tmp_path("w.csv"), "follow", "true", NULL};
	struct run_opts o = {.batch_size = 100, .linger_ms = 10, .stop_after = 10};
	struct rows rs = {0};
	struct run_result res;
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	run_source(kv, &o, &rs, &res);
	clock_gettime(CLOCK_MONOTONIC, &b);
	CU_ASSERT_EQUAL(rs.n, 10);
	CU_ASSERT_EQUAL(res.run_ret, 0);
	/* The partial batch lingered 10 ms, then stop and wake end the run at once. */
	CU_ASSERT((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 < 1000);
	rows_free(&rs);
	free(t.p);
	tmp_clean();
}

/* Run kv once per way of reading; every way must give exactly the rows of the first. */
static void io_modes_agree(const char *const *kv)
{
	static const char *const sqpoll[] = {"false", "true", "false"};
	struct rows first = {0};
	for (int m = 0; m < 3; m++) {
		const char *with[16];
		size_t n = 0;
		while (kv[n]) {
			with[n] = kv[n];
			n++;
		}
		with[n++] = "sqpoll";
		with[n++] = sqpoll[m];
		with[n] = NULL;
		const char *old = getenv("MINIBATCHD_NO_IO_URING");
		if (m == 2)
			setenv("MINIBATCHD_NO_IO_URING", "1", 1);
		struct rows b = {0};
		struct run_result rb;
		struct run_opts o = {.batch_size = 32};
		run_source(with, &o, m ? &b : &first, &rb);
		if (m == 2) {
			if (old)
				setenv("MINIBATCHD_NO_IO_URING", old, 1);
			else
				unsetenv("MINIBATCHD_NO_IO_URING");
		}
		CU_ASSERT_EQUAL(rb.run_ret, 0);
		if (!m) {
			CU_ASSERT(first.n > 0);
			continue;
		}
		CU_ASSERT_EQUAL_FATAL(first.n, b.n);
		CU_ASSERT_EQUAL_FATAL(first.nf, b.nf);
		CU_ASSERT(memcmp(first.x, b.x, b.n * b.nf * sizeof *b.x) == 0);
		CU_ASSERT(memcmp(first.y, b.y, b.n * b.nt * sizeof *b.y) == 0);
		CU_ASSERT(memcmp(first.w, b.w, b.n * sizeof *b.w) == 0);
		rows_free(&b);
	}
	rows_free(&first);
}

static void test_io_modes(void)
{
	struct text t = {0}, u = {0};
	tmp_make();
	csv_lines(&t, 0, 2000, 9);
	write_file(tmp_path("p.csv.gz"), t.p, t.len, true);
	binary_messages(&u, 60);
	write_file(tmp_path("p.mbsm"), u.p, u.len, false);
	const char *csv[] = {"path", tmp_path("p.csv.gz"), "block_kib", "4", NULL};
	const char *bin[] = {"path", tmp_path("p.mbsm"), "block_kib", "4", NULL};
	io_modes_agree(csv);
	io_modes_agree(bin);
	free(t.p);
	free(u.p);
	tmp_clean();
}

/* n IDX images of 2x3 bytes: i % 256, i / 256, then 7i + k (mod 256); labels i % 10. */
static void write_idx(const char *images, const char *labels, uint32_t n, uint32_t n_labels)
{
	size_t ilen = 16 + (size_t)n * 6, llen = 8 + n_labels;
	uint8_t *im = calloc(1, ilen), *lb = calloc(1, llen);
	im[2] = MB_IDX_TYPE_U8;
	im[3] = 3;
	im[4] = (uint8_t)(n >> 24), im[5] = (uint8_t)(n >> 16), im[6] = (uint8_t)(n >> 8), im[7] = (uint8_t)n;
	im[11] = 2;
	im[15] = 3;
	for (uint32_t i = 0; i < n; i++)
		for (uint32_t k = 0; k < 6; k++)
			im[16 + i * 6 + k] = (uint8_t)(k == 0 ? i % 256 : k == 1 ? i / 256 : (7 * i + k) % 256);
	lb[2] = MB_IDX_TYPE_U8;
	lb[3] = 1;
	lb[6] = (uint8_t)(n_labels >> 8), lb[7] = (uint8_t)n_labels;
	for (uint32_t i = 0; i < n_labels; i++)
		lb[8 + i] = (uint8_t)(i % 10);
	write_file(images, im, ilen, false);
	write_file(labels, lb, llen, true);
	free(im);
	free(lb);
}

static void test_idx_shuffle(void)
{
	tmp_make();
	write_idx(tmp_path("i.idx"), tmp_path("l.idx.gz"), 300, 300);
	const char *kv[] = {"path", tmp_path("i.idx"), "labels", tmp_path("l.idx.gz"), "shuffle", "true",
			    "epochs", "2", "block_kib", "4", NULL};
	struct run_opts o = {.batch_size = 64, .n_classes = 10};
	struct rows rs = {0};
	struct run_result res;
	run_source(kv, &o, &rs, &res);
	CU_ASSERT_EQUAL(res.run_ret, 0);
	CU_ASSERT_EQUAL_FATAL(rs.n, 600);
	CU_ASSERT_EQUAL(rs.nf, 6);
	/* Every row is one image with its own label; each epoch holds each image once. */
	for (size_t e = 0; e < 2; e++) {
		bool seen[300] = {0};
		size_t bad = 0;
		for (size_t j = 0; j < 300; j++) {
			const float *x = rs.x + (e * 300 + j) * 6;
			uint32_t i = (uint32_t)lrintf(x[0] * 255.0f) + 256 * (uint32_t)lrintf(x[1] * 255.0f);
			bad += i >= 300 || seen[i] || rs.y[e * 300 + j] != (float)(i % 10) ||
			       lrintf(x[5] * 255.0f) != (long)((7 * i + 5) % 256);
			if (i < 300)
				seen[i] = true;
		}
		CU_ASSERT_EQUAL(bad, 0);
	}
	rows_free(&rs);

	/* Labels that do not pair with the images: the file is refused. */
	write_idx(tmp_path("i.idx"), tmp_path("l.idx.gz"), 300, 299);
	run_source(kv, &o, &rs, &res);
	CU_ASSERT_EQUAL(rs.n, 0);
	CU_ASSERT_EQUAL(res.rejected_by[MB_R_COUNT_MISMATCH], 1);
	CU_ASSERT(res.run_ret < 0);
	rows_free(&rs);
	tmp_clean();
}

static void test_backpressure(void)
{
	struct text t = {0};
	tmp_make();
	csv_lines(&t, 0, 3000, 5);
	write_file(tmp_path("bp.csv"), t.p, t.len, false);
	const char *kv[] = {"path", tmp_path("bp.csv"), NULL};
	struct run_opts o = {.batch_size = 16, .queue_batches = 2, .consume_us = 1000};
	struct rows rs = {0};
	struct run_result res;
	run_source(kv, &o, &rs, &res);
	CU_ASSERT_EQUAL(res.run_ret, 0);
	CU_ASSERT_EQUAL(rs.n, 3000);
	CU_ASSERT(rows_match_csv(&rs, 0, 0, 3000, 5));
	CU_ASSERT_EQUAL(res.dropped, 0);
	CU_ASSERT(rs.positions_ok);
	rows_free(&rs);
	free(t.p);
	tmp_clean();
}

static void test_missing_file(void)
{
	tmp_make();
	const char *kv[] = {"path", tmp_path("absent.csv"), NULL};
	struct run_opts o = {0};
	struct rows rs = {0};
	struct run_result res;
	run_source(kv, &o, &rs, &res);
	CU_ASSERT_EQUAL(rs.n, 0);
	CU_ASSERT_EQUAL(res.run_ret, -ENOENT);
	CU_ASSERT_EQUAL(res.pos_len, 0);
	rows_free(&rs);
	tmp_clean();
}

/* Is io_uring usable here, or refused by a seccomp profile? */
static int uring_refused(void)
{
	struct io_uring ring;
	int err = io_uring_queue_init(2, &ring, 0);
	if (err == 0) {
		io_uring_queue_exit(&ring);
		return 0;
	}
	return err == -EPERM || err == -ENOSYS ? -err : 0;
}

int main(void)
{
	mb_log_set_level(LOG_ERR);
	atexit(tmp_clean);
	int refused = uring_refused();
	if (refused)
		fprintf(stderr, "io_uring refused here (%s): every test runs on the pread(2) fallback\n",
			strerror(refused));
	if (have_fashion())
		MB_SUITE("source_file_fashion", {"idx_gz_train_set", test_fashion_idx});
	else
		fprintf(stderr, "Fashion-MNIST not found in %s: its test is left out\n", fashion_dir());
	MB_SUITE("source_file",
		 {"csv_plain_and_gz", test_csv_plain_and_gz},
		 {"libsvm", test_libsvm},
		 {"binary_plain_and_gz", test_binary_plain_and_gz},
		 {"bad_lines", test_bad_lines},
		 {"corrupt_binary", test_corrupt_binary},
		 {"epochs_stream", test_epochs_stream},
		 {"shuffle_epochs", test_shuffle_epochs},
		 {"idx_shuffle", test_idx_shuffle},
		 {"follow_append_rotate", test_follow},
		 {"follow_broken_then_replaced", test_follow_broken},
		 {"stop_wakes", test_stop_wakes},
		 {"io_modes_agree", test_io_modes},
		 {"backpressure", test_backpressure},
		 {"missing_file", test_missing_file});
	int rc = mb_test_run();
	if (rc == 0 && refused)
		mb_test_skip("io_uring refused (%s): only the pread(2) fallback was tested", strerror(refused));
	return rc;
}
