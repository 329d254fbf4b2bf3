/* SPDX-License-Identifier: MIT */
/*
 * test_source_file_resume.c - the file source's restore hook: a source
 * restored to a position goes on with exactly the rows, and the batch
 * boundaries, that the run it came from had after that position.
 *
 * Each run consumes the batches as the trainer does and, part way, takes
 * a position the way the trainer does for a checkpoint: read the position,
 * take a batch, and while there was one, learn from it (here: record it),
 * hold it, and read again. A second source restored from that position
 * must then produce the rest of the first run. Each sample's first
 * feature is its number, so rows are compared by identity.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "../daemon/config.h" /* not the build's config.h */
#include "feed.h"
#include "ingest.h"
#include "sample.h"
#include "source.h"
#include "test.h"
#include "wire.h"

static char tmpdir[64];

static void tmp_make(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/mb-test-resume-XXXXXX");
	CU_ASSERT_FATAL(mkdtemp(tmpdir) != NULL);
}

static void tmp_clean(void)
{
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
}

static const char *tmp_path(const char *name)
{
	static char p[4][256];
	static unsigned k;
	char *q = p[k++ % 4];
	snprintf(q, 256, "%s/%s", tmpdir, name);
	return q;
}

/* What a run gave. */
struct out {
	float *id;              /* first feature of each row, in order */
	size_t n, cap;          /* rows, allocated */
	uint32_t bsz[4096];     /* rows of each batch */
	size_t nb;              /* batches */
	uint8_t pos[64];        /* the position taken part way */
	long pos_len;           /* its bytes */
	size_t pos_rows;        /* rows recorded when it was taken */
	size_t pos_batches;     /* batches recorded then */
	int restore_ret;        /* what the restore hook returned */
	uint8_t restored[64];   /* the position hook's bytes right after the restore */
	long restored_len;      /* their count */
};

static void add_batch(struct out *o, const struct mb_batch *b)
{
	if (o->n + b->rows > o->cap) {
		o->cap = (o->n + b->rows) * 2;
		o->id = realloc(o->id, o->cap * sizeof *o->id);
		CU_ASSERT_FATAL(o->id != NULL);
	}
	for (uint32_t i = 0; i < b->rows; i++)
		o->id[o->n++] = mb_batch_x(b, i)[0];
	CU_ASSERT_FATAL(o->nb < 4096);
	o->bsz[o->nb++] = b->rows;
}

struct runner {
	const struct mb_source_ops *ops; /* the file source */
	struct mb_source *src;           /* the instance */
	_Atomic bool done;               /* run() returned */
	int ret;                         /* what it returned */
};

static void *run_thread(void *arg)
{
	struct runner *r = arg;
	r->ret = r->ops->run(r->src);
	atomic_store(&r->done, true);
	return NULL;
}

/*
 * Run [source.f] configured by kv with batches of batch rows; restored
 * from pos (pos_len bytes) when pos is not NULL; take a position once
 * settle_after rows arrived (0: never).
 */
static void run(const char *const *kv, uint32_t batch, const uint8_t *pos, size_t pos_len, size_t settle_after,
		struct out *o)
{
	struct mb_config *c;
	struct mb_cfg_err err = {{0}};
	struct mb_cfg_origin origin = {"test", 1};
	char key[128];
	memset(o, 0, sizeof *o);
	CU_ASSERT_FATAL(mb_config_new(&c) == 0);
	CU_ASSERT_FATAL(mb_config_set(c, "source.f.type", "file", &origin, &err) == 0);
	for (const char *const *p = kv; *p; p += 2) {
		snprintf(key, sizeof key, "source.f.%s", p[0]);
		CU_ASSERT_FATAL(mb_config_set(c, key, p[1], &origin, &err) == 0);
	}
	CU_ASSERT_FATAL(mb_config_finish(c, &err) == 0);
	struct mb_ingest_cfg ic = {.batch_size = batch, .linger_ms = 1, .queue_batches = 4, .policy = MB_FEED_BLOCK};
	struct mb_ingest *ing;
	CU_ASSERT_FATAL(mb_ingest_new(&ic, &ing) == 0);
	struct runner r = {.ops = &mb_source_file_ops};
	const char *why = NULL;
	CU_ASSERT_FATAL(r.ops->create(&c->sources[0], ing, 0, &r.src, &why) == 0);
	if (pos) {
		o->restore_ret = r.ops->restore(r.src, pos, pos_len);
		o->restored_len = r.ops->position(r.src, o->restored, sizeof o->restored);
		if (o->restore_ret < 0)
			goto out_destroy;
	}

	pthread_t t;
	CU_ASSERT_FATAL(pthread_create(&t, NULL, run_thread, &r) == 0);
	bool settled = !settle_after;
	int64_t deadline = (int64_t)time(NULL) + 60;
	for (;;) {
		bool finished = atomic_load(&r.done);
		struct mb_feed *f = mb_ingest_feed_peek(ing, 0);
		if (f && !settled && o->n >= settle_after) {
			/* The trainer's way to a position of a batch learned from: see daemon/trainer.c. */
			struct mb_batch *held[8];
			unsigned n_held = 0;
			for (;;) {
				o->pos_len = r.ops->position(r.src, o->pos, sizeof o->pos);
				struct mb_batch *b = n_held < 8 ? mb_feed_take(f) : NULL;
				if (!b)
					break;
				add_batch(o, b);
				held[n_held++] = b;
			}
			for (unsigned i = 0; i < n_held; i++)
				mb_feed_recycle(f, held[i]);
			o->pos_rows = o->n;
			o->pos_batches = o->nb;
			settled = true;
			continue;
		}
		struct mb_batch *b = f ? mb_feed_take(f) : NULL;
		if (b) {
			add_batch(o, b);
			mb_feed_recycle(f, b);
			continue;
		}
		if (finished)
			break;
		if ((int64_t)time(NULL) > deadline) {
			CU_FAIL("the source did not finish within 60 s");
			mb_ingest_stop(ing);
			r.ops->wake(r.src);
			deadline = INT64_MAX;
		}
		mb_doorbell_wait(mb_ingest_doorbell(ing), 5);
	}
	pthread_join(t, NULL);
	CU_ASSERT_EQUAL(r.ret, 0);
out_destroy:
	r.ops->destroy(r.src);
	mb_ingest_free(ing);
	mb_config_free(c);
}

/*
 * Run kv whole, taking a position after settle_after rows; then run it
 * restored from that position: the rest of the rows and batches must be
 * the same. Returns the rows of the whole run.
 */
static size_t check_resume(const char *const *kv, uint32_t batch, size_t settle_after)
{
	static struct out full, rest;
	run(kv, batch, NULL, 0, settle_after, &full);
	CU_ASSERT_FATAL(full.pos_len == 40);
	CU_ASSERT_FATAL(full.pos_rows >= settle_after && full.pos_rows < full.n);
	/* The position names exactly the rows recorded when it was taken. */
	CU_ASSERT_EQUAL(mb_le64(full.pos + 32), full.pos_rows);
	uint8_t pos[64];
	memcpy(pos, full.pos, 40);
	run(kv, batch, pos, 40, 0, &rest);
	CU_ASSERT_EQUAL(rest.restore_ret, 0);
	/* Until a batch goes out, the restored source reports the very place it was given. */
	CU_ASSERT(rest.restored_len == 40 && memcmp(rest.restored, pos, 40) == 0);
	CU_ASSERT_EQUAL(rest.n, full.n - full.pos_rows);
	CU_ASSERT(rest.n == full.n - full.pos_rows &&
		  memcmp(rest.id, full.id + full.pos_rows, rest.n * sizeof *rest.id) == 0);
	CU_ASSERT_EQUAL(rest.nb, full.nb - full.pos_batches);
	CU_ASSERT(rest.nb == full.nb - full.pos_batches &&
		  memcmp(rest.bsz, full.bsz + full.pos_batches, rest.nb * sizeof *rest.bsz) == 0);
	size_t n = full.n;
	free(full.id);
	free(rest.id);
	return n;
}

/* n CSV lines "label,number,number/2" starting at number first, into a gzip file. */
static void write_csv_gz(const char *path, size_t first, size_t n)
{
	gzFile g = gzopen(path, "wb");
	CU_ASSERT_FATAL(g != NULL);
	for (size_t i = first; i < first + n; i++)
		gzprintf(g, "%zu,%zu,%g\n", i % 3, i, (double)i * 0.5);
	CU_ASSERT_FATAL(gzclose(g) == Z_OK);
}

static void test_streaming_csv(void)
{
	tmp_make();
	write_csv_gz(tmp_path("a.csv.gz"), 0, 250);
	const char *kv[] = {"path", tmp_path("a.csv.gz"), "epochs", "2", "block_kib", "4", NULL};
	/* Part way through the second epoch; 7 does not divide 250, so batches straddle epochs. */
	CU_ASSERT_EQUAL(check_resume(kv, 7, 320), 500);
	tmp_clean();
}

/* Binary files of messages of 5 samples each, numbered from first. */
static void write_binary(const char *path, size_t first, unsigned messages)
{
	FILE *f = fopen(path, "wb");
	CU_ASSERT_FATAL(f != NULL);
	for (unsigned m = 0; m < messages; m++) {
		float x[10], y[5];
		for (unsigned i = 0; i < 5; i++) {
			size_t id = first + m * 5 + i;
			x[2 * i] = (float)id;
			x[2 * i + 1] = -(float)id;
			y[i] = (float)(id % 4);
		}
		struct mb_sample_batch b = {.count = 5, .n_features = 2, .n_targets = 1, .x = x, .y = y,
					    .elem = MB_ELEM_F32, .scale = 1, .offset = 0};
		uint8_t buf[256];
		long n = mb_sample_bin_encode(buf, sizeof buf, &b);
		CU_ASSERT_FATAL(n > 0);
		CU_ASSERT_FATAL(fwrite(buf, 1, (size_t)n, f) == (size_t)n);
	}
	fclose(f);
}

static void test_streaming_binary(void)
{
	tmp_make();
	write_binary(tmp_path("a.mbsm"), 0, 12);
	write_binary(tmp_path("b.mbsm"), 60, 12);
	char paths[600];
	snprintf(paths, sizeof paths, "%s,%s", tmp_path("a.mbsm"), tmp_path("b.mbsm"));
	const char *kv[] = {"path", paths, "block_kib", "4", NULL};
	/* Batches of 3 in messages of 5: the position falls inside a message. */
	CU_ASSERT_EQUAL(check_resume(kv, 3, 70), 120);
	tmp_clean();
}

static void test_shuffled(void)
{
	tmp_make();
	write_csv_gz(tmp_path("s.csv.gz"), 0, 300);
	const char *kv[] = {"path", tmp_path("s.csv.gz"), "epochs", "3", "shuffle", "true", "seed", "3", NULL};
	CU_ASSERT_EQUAL(check_resume(kv, 16, 450), 900);
	tmp_clean();
}

/* Positions that do not fit the source as configured now are refused, and it stays unread. */
static void test_refused(void)
{
	static struct out o;
	uint8_t pos[40];
	struct mb_wire w;
	tmp_make();
	write_csv_gz(tmp_path("a.csv.gz"), 0, 20);
	const char *kv[] = {"path", tmp_path("a.csv.gz"), NULL};

	mb_wire_init(&w, pos, sizeof pos);
	mb_wire_put_bytes(&w, "MBFP", 4);
	mb_wire_put_u32(&w, 1);
	mb_wire_put_u32(&w, 1); /* shuffled, but this source is not */
	mb_wire_put_u32(&w, 0);
	mb_wire_put_u32(&w, 0);
	mb_wire_put_u32(&w, 0);
	mb_wire_put_u64(&w, 3);
	mb_wire_put_u64(&w, 3);
	run(kv, 4, pos, sizeof pos, 0, &o);
	CU_ASSERT_EQUAL(o.restore_ret, -EINVAL);

	mb_put_le32(pos + 8, 0);
	mb_put_le32(pos + 12, 1); /* the second file, of one */
	run(kv, 4, pos, sizeof pos, 0, &o);
	CU_ASSERT_EQUAL(o.restore_ret, -EINVAL);

	mb_put_le32(pos + 12, 0);
	run(kv, 4, pos, 39, 0, &o); /* cut short */
	CU_ASSERT_EQUAL(o.restore_ret, -EBADMSG);
	pos[0] = 'X'; /* not a file position */
	run(kv, 4, pos, sizeof pos, 0, &o);
	CU_ASSERT_EQUAL(o.restore_ret, -EBADMSG);
	free(o.id);
	tmp_clean();
}

int main(void)
{
	MB_SUITE("source_file_resume", {"streaming-csv", test_streaming_csv},
		 {"streaming-binary", test_streaming_binary}, {"shuffled", test_shuffled}, {"refused", test_refused});
	return mb_test_run();
}
