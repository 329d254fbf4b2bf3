/* SPDX-License-Identifier: MIT */
/*
 * test_idx.c - IDX headers and records, the whole-file loaders (IDX pairs,
 * binary records, CSV, libsvm, gzip), and the real Fashion-MNIST files.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "dataset.h"
#include "idx.h"
#include "test.h"
#include "wire.h"

/* ---- a scratch directory, removed with everything in it ---- */

static char tmpdir[64];
static char tmpfiles[16][128];
static int n_tmpfiles;

static const char *tmp_path(const char *name)
{
	if (!tmpdir[0]) {
		strcpy(tmpdir, "/tmp/mb-test-idx-XXXXXX");
		CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(tmpdir));
	}
	CU_ASSERT_FATAL(n_tmpfiles < 16);
	snprintf(tmpfiles[n_tmpfiles], sizeof tmpfiles[0], "%s/%s", tmpdir, name);
	return tmpfiles[n_tmpfiles++];
}

static void tmp_cleanup(void)
{
	for (int i = 0; i < n_tmpfiles; i++)
		unlink(tmpfiles[i]);
	n_tmpfiles = 0;
	if (tmpdir[0])
		rmdir(tmpdir);
	tmpdir[0] = '\0';
}

static const char *write_file(const char *name, const void *data, size_t len)
{
	const char *path = tmp_path(name);
	FILE *f = fopen(path, "wb");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL_FATAL(fwrite(data, 1, len, f), len);
	fclose(f);
	return path;
}

/* Gzip data into a new buffer (independent of the code under test). */
static uint8_t *gzip_mem(const void *data, size_t len, size_t *ret_len)
{
	z_stream zs = {0};
	CU_ASSERT_FATAL(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
	size_t cap = deflateBound(&zs, (uLong)len) + 64;
	uint8_t *out = malloc(cap);
	zs.next_in = (Bytef *)data;
	zs.avail_in = (uInt)len;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	CU_ASSERT_FATAL(deflate(&zs, Z_FINISH) == Z_STREAM_END);
	*ret_len = zs.total_out;
	deflateEnd(&zs);
	return out;
}

/* ---- IDX ---- */

/* An IDX u8 file: 3 records of 2x2, bytes 0, 10, 20, ... */
static size_t make_idx(uint8_t *buf)
{
	static const uint8_t head[] = {0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 2};
	memcpy(buf, head, sizeof head);
	for (int k = 0; k < 12; k++)
		buf[16 + k] = (uint8_t)(10 * k);
	return 28;
}

static void test_header(void)
{
	uint8_t buf[64];
	size_t len = make_idx(buf);
	struct mb_idx_header h;
	CU_ASSERT_EQUAL_FATAL(mb_idx_parse_header(buf, len, &h, NULL), 0);
	CU_ASSERT_EQUAL(h.type, MB_IDX_TYPE_U8);
	CU_ASSERT_EQUAL(h.n_dims, 3);
	CU_ASSERT_EQUAL(h.dims[0], 3);
	CU_ASSERT_EQUAL(h.header_bytes, 16);
	CU_ASSERT_EQUAL(h.record_elems, 4);
	CU_ASSERT_EQUAL(h.record_bytes, 4);
	CU_ASSERT_EQUAL(h.file_bytes, 28);
	CU_ASSERT_EQUAL(mb_idx_check_size(&h, len, NULL), 0);
	CU_ASSERT_EQUAL(mb_idx_record_offset(&h, 2), 24);

	float x[4];
	CU_ASSERT_EQUAL(mb_idx_record_floats(&h, buf + mb_idx_record_offset(&h, 2), x), 0);
	for (int k = 0; k < 4; k++)
		CU_ASSERT_EQUAL(x[k], (float)(80 + 10 * k) * (1.0f / 255.0f));
}

/* The header parses from a prefix holding just the header, as a streaming reader has it. */
static void test_header_from_prefix(void)
{
	uint8_t buf[64];
	make_idx(buf);
	struct mb_idx_header h;
	struct mb_diag d;
	CU_ASSERT_EQUAL(mb_idx_parse_header(buf, 16, &h, &d), 0);
	CU_ASSERT_EQUAL(h.file_bytes, 28);
	CU_ASSERT_EQUAL(mb_idx_parse_header(buf, 15, &h, &d), -EBADMSG);
	CU_ASSERT_EQUAL(d.reason, MB_R_TRUNCATED);
	CU_ASSERT_EQUAL(mb_idx_parse_header(buf, 3, &h, &d), -EBADMSG);
	CU_ASSERT_EQUAL(d.reason, MB_R_TRUNCATED);
	CU_ASSERT_EQUAL(mb_idx_parse_header(buf, 0, &h, &d), -ENODATA);
	CU_ASSERT_EQUAL(d.reason, MB_R_EMPTY);
}

static void test_header_errors(void)
{
	static const struct {
		const char *what;      /* the fault, for the failure message */
		size_t off;            /* the header byte to change */
		uint8_t value;         /* its new value */
		int err;               /* the -errno expected */
		enum mb_reason reason; /* the reason expected */
	} t[] = {
		{"first zero byte", 0, 1, -EBADMSG, MB_R_MAGIC},
		{"second zero byte", 1, 0x80, -EBADMSG, MB_R_MAGIC},
		{"type 0x09", 2, 0x09, -EBADMSG, MB_R_ELEM_TYPE},
		{"type 0x0e", 2, 0x0e, -EBADMSG, MB_R_ELEM_TYPE},
		{"0 dimensions", 3, 0, -E2BIG, MB_R_TOO_BIG},
		{"5 dimensions", 3, 5, -E2BIG, MB_R_TOO_BIG},
		{"4 dimensions, header cut", 3, 4, -EBADMSG, MB_R_TRUNCATED},
		{"record count 0", 7, 0, -E2BIG, MB_R_TOO_BIG},
		{"dimension 0", 11, 0, -E2BIG, MB_R_TOO_BIG},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		uint8_t buf[64];
		make_idx(buf);
		buf[t[i].off] = t[i].value;
		struct mb_idx_header h;
		struct mb_diag d = {0};
		/* 16 bytes: with 4 dimensions the header would need 20. */
		int r = mb_idx_parse_header(buf, 16, &h, &d);
		if (r != t[i].err || d.reason != t[i].reason)
			fprintf(stderr, "\n  %s: %d/%s (%s)\n", t[i].what, r, mb_reason_name(d.reason), d.text);
		CU_ASSERT_EQUAL(r, t[i].err);
		CU_ASSERT_EQUAL(d.reason, t[i].reason);
	}
}

/* Sizes whose product or byte count overflows are refused, never wrapped. */
static void test_header_overflow(void)
{
	uint8_t buf[20] = {0, 0, 0x0d, 4};
	for (int k = 4; k < 20; k++)
		buf[k] = 0xff;
	struct mb_idx_header h;
	struct mb_diag d;
	CU_ASSERT_EQUAL(mb_idx_parse_header(buf, sizeof buf, &h, &d), -E2BIG);
	CU_ASSERT_EQUAL(d.reason, MB_R_TOO_BIG);
	buf[3] = 3;    /* 2^32-1 records of (2^32-1)^2 floats */
	CU_ASSERT_EQUAL(mb_idx_parse_header(buf, sizeof buf, &h, &d), -E2BIG);
}

/* A whole file one byte short is truncated, one byte long has trailing data. */
static void test_file_size(void)
{
	uint8_t buf[64];
	size_t len = make_idx(buf);
	struct mb_idx_header h;
	struct mb_diag d;
	CU_ASSERT_EQUAL_FATAL(mb_idx_parse_header(buf, len, &h, NULL), 0);
	CU_ASSERT_EQUAL(mb_idx_check_size(&h, len - 1, &d), -EBADMSG);
	CU_ASSERT_EQUAL(d.reason, MB_R_TRUNCATED);
	CU_ASSERT_EQUAL(mb_idx_check_size(&h, len + 1, &d), -EBADMSG);
	CU_ASSERT_EQUAL(d.reason, MB_R_TRAILING);
}

static void test_pair(void)
{
	struct mb_idx_header img = {.type = 8, .n_dims = 3, .dims = {5, 28, 28}};
	struct mb_idx_header lab = {.type = 8, .n_dims = 1, .dims = {5}};
	struct mb_diag d;
	CU_ASSERT_EQUAL(mb_idx_check_pair(&img, &lab, &d), 0);
	lab.dims[0] = 4;
	CU_ASSERT_EQUAL(mb_idx_check_pair(&img, &lab, &d), -EINVAL);
	CU_ASSERT_EQUAL(d.reason, MB_R_COUNT_MISMATCH);
	lab.dims[0] = 5;
	lab.type = MB_IDX_TYPE_F32;
	CU_ASSERT_EQUAL(mb_idx_check_pair(&img, &lab, &d), -EBADMSG);
	CU_ASSERT_EQUAL(d.reason, MB_R_ELEM_TYPE);
	lab.type = 8;
	lab.n_dims = 2;
	lab.dims[1] = 1;
	CU_ASSERT_EQUAL(mb_idx_check_pair(&img, &lab, &d), -EINVAL);
	CU_ASSERT_EQUAL(d.reason, MB_R_DIM_MISMATCH);
}

/* float32 records are big-endian and taken as they are; NaN is refused. */
static void test_f32_records(void)
{
	uint8_t buf[4 + 8 + 8] = {0, 0, 0x0d, 2, 0, 0, 0, 1, 0, 0, 0, 2,
				  0x3f, 0xc0, 0, 0,   /* 1.5 */
				  0xc1, 0x20, 0, 0};  /* -10 */
	struct mb_idx_header h;
	float x[2];
	CU_ASSERT_EQUAL_FATAL(mb_idx_parse_header(buf, sizeof buf, &h, NULL), 0);
	CU_ASSERT_EQUAL(h.record_bytes, 8);
	CU_ASSERT_EQUAL(mb_idx_check_size(&h, sizeof buf, NULL), 0);
	CU_ASSERT_EQUAL(mb_idx_record_floats(&h, buf + 12, x), 0);
	CU_ASSERT_EQUAL(x[0], 1.5f);
	CU_ASSERT_EQUAL(x[1], -10.0f);
	buf[16] = 0x7f;
	buf[17] = 0xc0;
	CU_ASSERT_EQUAL(mb_idx_record_floats(&h, buf + 12, x), -EDOM);
}

/* ---- the real data ---- */

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) * 1e-9;
}

/* Every pixel in [0, 1], every label a class 0..9. */
static void check_ranges(const struct mb_dataset *ds)
{
	size_t n = (size_t)ds->count * ds->n_features, bad = 0;
	for (size_t k = 0; k < n; k++)
		bad += !(ds->x[k] >= 0.0f && ds->x[k] <= 1.0f);
	CU_ASSERT_EQUAL(bad, 0);
	for (uint32_t i = 0; i < ds->count; i++)
		bad += !(ds->y[i] >= 0 && ds->y[i] <= 9 && ds->y[i] == floorf(ds->y[i]));
	CU_ASSERT_EQUAL(bad, 0);
}

/* Sum of an image's bytes, recovered from its floats. */
static long image_sum(const struct mb_dataset *ds, uint32_t i)
{
	long s = 0;
	for (uint32_t k = 0; k < ds->n_features; k++)
		s += lrintf(ds->x[(size_t)i * ds->n_features + k] * 255.0f);
	return s;
}

/* Labels, a pixel and byte sums checked against the files with python3's gzip module. */
static void test_fashion_train(void)
{
	const char *dir = mb_test_fashion_dir();
	struct mb_dataset *ds = NULL;
	struct mb_diag d = {0};
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int r = mb_dataset_load_fashion(dir, "train", &ds, &d);
	double sec = seconds_since(&t0);
	if (r != 0)
		fprintf(stderr, "\n  %s\n", d.text);
	CU_ASSERT_EQUAL_FATAL(r, 0);
	fprintf(stderr, "\n  train set loaded in %.3f s (inflate included) ", sec);
	CU_ASSERT_EQUAL(ds->count, 60000);
	CU_ASSERT_EQUAL(ds->n_features, 784);
	CU_ASSERT_EQUAL(ds->n_targets, 1);
	CU_ASSERT_EQUAL(ds->y[0], 9.0f);
	CU_ASSERT_EQUAL(ds->y[59999], 5.0f);
	CU_ASSERT_EQUAL(ds->x[100], 73.0f * (1.0f / 255.0f));
	CU_ASSERT_EQUAL(ds->x[99], 13.0f * (1.0f / 255.0f));
	CU_ASSERT_EQUAL(ds->x[0], 0.0f);
	CU_ASSERT_EQUAL(image_sum(ds, 0), 76247);
	CU_ASSERT_EQUAL(image_sum(ds, 59999), 16684);
	check_ranges(ds);
	CU_ASSERT_PTR_NULL(mb_dataset_free(ds));
}

static void test_fashion_t10k(void)
{
	const char *dir = mb_test_fashion_dir();
	struct mb_dataset *ds = NULL;
	CU_ASSERT_EQUAL_FATAL(mb_dataset_load_fashion(dir, "t10k", &ds, NULL), 0);
	CU_ASSERT_EQUAL(ds->count, 10000);
	CU_ASSERT_EQUAL(ds->n_features, 784);
	CU_ASSERT_EQUAL(ds->y[0], 9.0f);
	CU_ASSERT_EQUAL(ds->y[9999], 5.0f);
	CU_ASSERT_EQUAL(ds->x[219], 7.0f * (1.0f / 255.0f));
	CU_ASSERT_EQUAL(image_sum(ds, 0), 33456);
	CU_ASSERT_EQUAL(image_sum(ds, 9999), 24390);
	check_ranges(ds);
	mb_dataset_free(ds);
}

static void test_fashion_bad_set(void)
{
	struct mb_dataset *ds = (struct mb_dataset *)&ds;
	struct mb_diag d;
	CU_ASSERT_EQUAL(mb_dataset_load_fashion("/nonexistent", "test", &ds, &d), -EINVAL);
	CU_ASSERT_EQUAL(mb_dataset_load_fashion("/nonexistent", "train", &ds, &d), -ENOENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(d.text, "/nonexistent/train-images-idx3-ubyte"));
	CU_ASSERT_PTR_EQUAL(ds, (struct mb_dataset *)&ds);
	CU_ASSERT_PTR_NULL(mb_dataset_free(NULL));
}

/* ---- loaders on small files ---- */

/* An IDX pair, the images gzipped, the labels plain; then a pair that disagrees. */
static void test_load_idx_pair(void)
{
	uint8_t img[64], lab[8 + 3] = {0, 0, 8, 1, 0, 0, 0, 3, 4, 0, 9};
	size_t ilen = make_idx(img), glen;
	uint8_t *gz = gzip_mem(img, ilen, &glen);
	const char *ip = write_file("img.gz", gz, glen);
	const char *lp = write_file("lab", lab, sizeof lab);
	struct mb_dataset *ds = NULL;
	struct mb_diag d;
	CU_ASSERT_EQUAL_FATAL(mb_dataset_load_idx(ip, lp, &ds, &d), 0);
	CU_ASSERT_EQUAL(ds->count, 3);
	CU_ASSERT_EQUAL(ds->n_features, 4);
	CU_ASSERT_EQUAL(ds->y[0], 4.0f);
	CU_ASSERT_EQUAL(ds->y[2], 9.0f);
	CU_ASSERT_EQUAL(ds->x[5], 50.0f * (1.0f / 255.0f));
	mb_dataset_free(ds);

	lab[7] = 2;    /* 2 labels, 3 bytes of data: trailing */
	lp = write_file("lab2", lab, sizeof lab);
	CU_ASSERT_EQUAL(mb_dataset_load_idx(ip, lp, &ds, &d), -EBADMSG);
	CU_ASSERT_EQUAL(d.reason, MB_R_TRAILING);
	CU_ASSERT_PTR_NOT_NULL(strstr(d.text, "lab2"));
	lp = write_file("lab3", lab, sizeof lab - 1);
	CU_ASSERT_EQUAL(mb_dataset_load_idx(ip, lp, &ds, &d), -EINVAL);
	CU_ASSERT_EQUAL(d.reason, MB_R_COUNT_MISMATCH);
	free(gz);
	tmp_cleanup();
}

/* A CSV file, plain and gzipped, with its width probed from the first line. */
static void test_load_csv(void)
{
	const char csv[] = "# label, a, b\n1,0.5,-2\n0,3,4e-3\n\n2,1e3,0\n";
	struct mb_dataset *ds = NULL;
	struct mb_diag d;
	size_t glen;
	uint8_t *gz = gzip_mem(csv, sizeof csv - 1, &glen);
	const char *paths[2] = {write_file("a.csv", csv, sizeof csv - 1), write_file("a.csv.gz", gz, glen)};
	for (int i = 0; i < 2; i++) {
		CU_ASSERT_EQUAL_FATAL(mb_dataset_load(paths[i], NULL, &ds, &d), 0);
		CU_ASSERT_EQUAL(ds->count, 3);
		CU_ASSERT_EQUAL(ds->n_features, 2);
		CU_ASSERT_EQUAL(ds->n_targets, 1);
		CU_ASSERT_EQUAL(ds->y[2], 2.0f);
		CU_ASSERT_EQUAL(ds->x[3], 0.004f);
		CU_ASSERT_EQUAL(ds->x[4], 1000.0f);
		mb_dataset_free(ds);
	}
	CU_ASSERT_EQUAL_FATAL(mb_dataset_load(paths[0], &(struct mb_shape){1, 2}, &ds, &d), 0);
	CU_ASSERT_EQUAL(ds->n_targets, 2);
	CU_ASSERT_EQUAL(ds->y[1], 0.5f);
	mb_dataset_free(ds);
	free(gz);

	const char bad[] = "1,2,3\n4,5,6\n7,x,9\n";
	const char *p = write_file("bad.csv", bad, sizeof bad - 1);
	CU_ASSERT_EQUAL(mb_dataset_load(p, NULL, &ds, &d), -EINVAL);
	CU_ASSERT_EQUAL(d.reason, MB_R_NOT_NUMERIC);
	CU_ASSERT_EQUAL(d.line, 3);
	CU_ASSERT_PTR_NOT_NULL(strstr(d.text, "bad.csv"));
	p = write_file("empty.csv", "# nothing\n", 10);
	CU_ASSERT_EQUAL(mb_dataset_load(p, NULL, &ds, &d), -ENODATA);
	CU_ASSERT_EQUAL(d.reason, MB_R_EMPTY);
	tmp_cleanup();
}

/* libsvm needs its width from the caller. */
static void test_load_libsvm(void)
{
	const char svm[] = "1 2:0.5\n-1 1:1 4:2\n";
	const char *p = write_file("a.svm", svm, sizeof svm - 1);
	struct mb_dataset *ds = NULL;
	struct mb_diag d;
	CU_ASSERT_EQUAL(mb_dataset_load(p, NULL, &ds, &d), -EINVAL);
	CU_ASSERT_EQUAL_FATAL(mb_dataset_load(p, &(struct mb_shape){4, 0}, &ds, &d), 0);
	CU_ASSERT_EQUAL(ds->count, 2);
	CU_ASSERT_EQUAL(ds->x[1], 0.5f);
	CU_ASSERT_EQUAL(ds->x[7], 2.0f);
	CU_ASSERT_EQUAL(ds->y[1], -1.0f);
	mb_dataset_free(ds);
	CU_ASSERT_EQUAL(mb_dataset_load(p, &(struct mb_shape){3, 0}, &ds, &d), -ERANGE);
	CU_ASSERT_EQUAL(d.line, 2);
	tmp_cleanup();
}

/* Binary records back to back, of different element types but one shape. */
static void test_load_binary(void)
{
	float x[6] = {0, 0.5f, 1, 1, 0.5f, 0}, y[2] = {3, 4};
	uint8_t buf[512];
	size_t len = 0;
	struct mb_sample_batch b = {.count = 2, .n_features = 3, .n_targets = 1, .x = x, .y = y,
				    .elem = MB_ELEM_F32};
	len += (size_t)mb_sample_bin_encode(buf + len, sizeof buf - len, &b);
	b.elem = MB_ELEM_U8;
	b.scale = 0.5f;
	len += (size_t)mb_sample_bin_encode(buf + len, sizeof buf - len, &b);
	b.elem = MB_ELEM_F16;
	b.count = 1;
	size_t third = len;
	len += (size_t)mb_sample_bin_encode(buf + len, sizeof buf - len, &b);
	CU_ASSERT_EQUAL_FATAL(len, 32 + 2 * 16 + 32 + 2 * 7 + 32 + 10);

	const char *p = write_file("a.bin", buf, len);
	struct mb_dataset *ds = NULL;
	struct mb_diag d;
	CU_ASSERT_EQUAL_FATAL(mb_dataset_load(p, NULL, &ds, &d), 0);
	CU_ASSERT_EQUAL(ds->count, 5);
	CU_ASSERT_EQUAL(ds->n_features, 3);
	CU_ASSERT_EQUAL(ds->n_targets, 1);
	for (int r = 0; r < 5; r++)
		CU_ASSERT_EQUAL(memcmp(ds->x + 3 * r, x + 3 * (r % 2), sizeof(float) * 3), 0);
	CU_ASSERT_EQUAL(ds->y[3], 4.0f);
	CU_ASSERT_EQUAL(ds->y[4], 3.0f);
	mb_dataset_free(ds);

	CU_ASSERT_EQUAL(mb_dataset_load(p, &(struct mb_shape){4, 0}, &ds, &d), -EINVAL);
	CU_ASSERT_EQUAL(d.reason, MB_R_DIM_MISMATCH);

	p = write_file("cut.bin", buf, len - 1);
	CU_ASSERT_EQUAL(mb_dataset_load(p, NULL, &ds, &d), -EBADMSG);
	CU_ASSERT_EQUAL(d.reason, MB_R_TRUNCATED);
	CU_ASSERT_EQUAL(d.offset, len - 1);

	b.n_features = 2;    /* a record of another shape */
	size_t odd = third + (size_t)mb_sample_bin_encode(buf + third, sizeof buf - third, &b);
	p = write_file("mixed.bin", buf, odd);
	CU_ASSERT_EQUAL(mb_dataset_load(p, NULL, &ds, &d), -EINVAL);
	CU_ASSERT_EQUAL(d.reason, MB_R_DIM_MISMATCH);
	CU_ASSERT_EQUAL(d.offset, third + 12);
	tmp_cleanup();
}

/* gzip in and out of files and memory: members, corruption, bounds. */
static void test_gzip(void)
{
	char text[3000];
	for (size_t k = 0; k < sizeof text; k++)
		text[k] = (char)('a' + k % 23);
	size_t glen, g2len;
	uint8_t *gz = gzip_mem(text, sizeof text, &glen);
	uint8_t *gz2 = gzip_mem("tail", 4, &g2len);
	uint8_t *out;
	size_t olen;

	const char *p = write_file("t.gz", gz, glen);
	CU_ASSERT_EQUAL_FATAL(mb_file_slurp(p, 1 << 20, &out, &olen), 0);
	CU_ASSERT_EQUAL(olen, sizeof text);
	CU_ASSERT_EQUAL(memcmp(out, text, olen), 0);
	free(out);
	CU_ASSERT_EQUAL(mb_file_slurp(p, sizeof text, &out, &olen), 0);
	free(out);
	CU_ASSERT_EQUAL(mb_file_slurp(p, sizeof text - 1, &out, &olen), -E2BIG);

	/* Two members inflate to their concatenation. */
	uint8_t *both = malloc(glen + g2len);
	memcpy(both, gz, glen);
	memcpy(both + glen, gz2, g2len);
	CU_ASSERT_EQUAL_FATAL(mb_inflate_mem(both, glen + g2len, 1 << 20, &out, &olen), 0);
	CU_ASSERT_EQUAL(olen, sizeof text + 4);
	CU_ASSERT_EQUAL(memcmp(out + sizeof text, "tail", 4), 0);
	free(out);
	/* Cut anywhere inside, the stream is refused. */
	for (size_t n = 2; n < glen; n += 7)
		CU_ASSERT_EQUAL(mb_inflate_mem(gz, n, 1 << 20, &out, &olen), -EBADMSG);
	/* A damaged byte of the compressed data or the CRC trailer is refused. */
	gz[glen / 2] ^= 0x10;
	CU_ASSERT_EQUAL(mb_inflate_mem(gz, glen, 1 << 20, &out, &olen), -EBADMSG);
	gz[glen / 2] ^= 0x10;
	gz[glen - 6] ^= 1;
	CU_ASSERT_EQUAL(mb_inflate_mem(gz, glen, 1 << 20, &out, &olen), -EBADMSG);
	gz[glen - 6] ^= 1;
	/* Garbage after a member is refused. */
	memcpy(both + glen, "junk", 4);
	CU_ASSERT_EQUAL(mb_inflate_mem(both, glen + 4, 1 << 20, &out, &olen), -EBADMSG);

	/* Plain bytes are copied, within the bound. */
	CU_ASSERT_EQUAL_FATAL(mb_inflate_mem((const uint8_t *)"plain", 5, 5, &out, &olen), 0);
	CU_ASSERT_EQUAL(olen, 5);
	CU_ASSERT_EQUAL(memcmp(out, "plain", 5), 0);
	free(out);
	CU_ASSERT_EQUAL(mb_inflate_mem((const uint8_t *)"plain", 5, 4, &out, &olen), -E2BIG);
	p = write_file("plain", text, sizeof text);
	CU_ASSERT_EQUAL(mb_file_slurp(p, sizeof text - 1, &out, &olen), -E2BIG);
	p = write_file("empty", "", 0);
	CU_ASSERT_EQUAL_FATAL(mb_file_slurp(p, 10, &out, &olen), 0);
	CU_ASSERT_EQUAL(olen, 0);
	free(out);
	CU_ASSERT_EQUAL(mb_file_slurp("/nonexistent/file", 10, &out, &olen), -ENOENT);

	free(both);
	free(gz);
	free(gz2);
	tmp_cleanup();
}

int main(void)
{
	MB_SUITE("idx", {"header", test_header}, {"header_from_prefix", test_header_from_prefix},
		 {"header_errors", test_header_errors}, {"header_overflow", test_header_overflow},
		 {"file_size", test_file_size}, {"pair", test_pair}, {"f32_records", test_f32_records});
	MB_SUITE("dataset", {"load_idx_pair", test_load_idx_pair}, {"load_csv", test_load_csv},
		 {"load_libsvm", test_load_libsvm}, {"load_binary", test_load_binary},
		 {"gzip", test_gzip}, {"fashion_bad_set", test_fashion_bad_set},
		 {"fashion_train", test_fashion_train}, {"fashion_t10k", test_fashion_t10k});
	int r = mb_test_run();
	tmp_cleanup();
	return r;
}
