/* SPDX-License-Identifier: MIT */
/*
 * test_proto_examples.c - the examples of proto/minibatch-proto.md, read
 * and written by the library.
 *
 * The document's hex blocks come from a second implementation of the
 * formats (tools/proto-examples.py). Here the C library must decode each
 * block to the values the document lists (the tables below), and where it
 * has an encoder, write the same bytes. A hex block this file does not
 * know fails, and so does an example it expects that the document lacks,
 * so the document, its generator and the library cannot drift apart. The
 * document's limit and reason tables are checked against mb_proto.h and
 * lib/diag.h the same way.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "crc32c.h"
#include "diag.h"
#include "idx.h"
#include "mb_proto.h"
#include "sample.h"
#include "snapshot.h"
#include "test.h"
#include "wire.h"

#define DOC_PATH "proto/minibatch-proto.md"
#define MAX_BLOCKS 64
#define MAX_NAME 48

/* One ```hex NAME``` block of the document. */
struct block {
	char name[MAX_NAME];    /* the word after "hex" */
	uint8_t *data;          /* its bytes */
	size_t len;             /* how many */
	unsigned line;          /* line of the opening fence, for messages */
	char error[160];        /* why the block is malformed, "" when it is not */
};

static char *doc;                        /* the whole document, NUL-terminated */
static struct block blocks[MAX_BLOCKS];  /* its hex blocks, in order */
static size_t n_blocks;

/* ---- Reading the document ---- */

/* The whole file at path, NUL-terminated, or NULL. */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	bool bad = false;
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? 2 * cap : 65536;
			char *nb = realloc(buf, cap + 1);
			if (!nb) {
				bad = true;
				break;
			}
			buf = nb;
		}
		size_t n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	bad |= ferror(f) != 0;
	fclose(f);
	if (bad) {
		free(buf);
		return NULL;
	}
	buf[len] = '\0';
	return buf;
}

static int hex_digit(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/*
 * Parse one line of a hex block, "OFFSET: bytes  | comment", appending to
 * b. Returns false with b->error set when the line is malformed.
 */
static bool parse_hex_line(struct block *b, const char *s, const char *e, unsigned line_no)
{
	const char *bar = s;
	while ((bar = memchr(bar, '|', (size_t)(e - bar))) != NULL) {
		if (bar - s >= 2 && bar[-1] == ' ' && bar[-2] == ' ') {
			e = bar;
			break;
		}
		bar++;
	}
	while (e > s && (e[-1] == ' ' || e[-1] == '\r'))
		e--;
	if (s == e)
		return true;

	unsigned off = 0;
	int k;
	for (k = 0; k < 4 && s + k < e && hex_digit(s[k]) >= 0; k++)
		off = off * 16 + (unsigned)hex_digit(s[k]);
	if (k != 4 || s + 4 >= e || s[4] != ':') {
		snprintf(b->error, sizeof b->error, "line %u: no 4-digit offset and colon", line_no);
		return false;
	}
	if (off != b->len) {
		snprintf(b->error, sizeof b->error, "line %u: offset %04x where %04zx was expected",
			 line_no, off, b->len);
		return false;
	}
	s += 5;
	unsigned count = 0;
	while (s < e) {
		if (*s != ' ' || s + 3 > e || hex_digit(s[1]) < 0 || hex_digit(s[2]) < 0 ||
		    (s + 3 < e && s[3] != ' ')) {
			snprintf(b->error, sizeof b->error, "line %u: not a list of hex bytes", line_no);
			return false;
		}
		uint8_t *nd = realloc(b->data, b->len + 1);
		if (!nd) {
			snprintf(b->error, sizeof b->error, "out of memory");
			return false;
		}
		b->data = nd;
		b->data[b->len++] = (uint8_t)(hex_digit(s[1]) << 4 | hex_digit(s[2]));
		s += 3;
		count++;
	}
	if (count == 0 || count > 16) {
		snprintf(b->error, sizeof b->error, "line %u: %u bytes, expected 1 to 16", line_no, count);
		return false;
	}
	return true;
}

/*
 * True if the lines before the fence at line_start end in a list of
 * decoded values: "- ..." lines (or their indented continuations), then at
 * most one blank line.
 */
static bool preceded_by_list(const char *line_start)
{
	const char *p = line_start;
	bool blank_seen = false;
	while (p > doc) {
		const char *end = p - 1;          /* the '\n' ending the previous line */
		const char *start = end;
		while (start > doc && start[-1] != '\n')
			start--;
		if (start == end) {
			if (blank_seen)
				return false;
			blank_seen = true;
		} else {
			return start[0] == '-' || start[0] == ' ';
		}
		p = start;
	}
	return false;
}

/* Find every ```hex block of the document. */
static void parse_blocks(void)
{
	static const char fence[] = "```hex ";
	unsigned line_no = 1;
	struct block *cur = NULL;

	for (const char *s = doc; *s;) {
		const char *e = strchr(s, '\n');
		const char *next = e ? e + 1 : s + strlen(s);
		if (!e)
			e = next;
		if (cur) {
			if (e - s == 3 && memcmp(s, "```", 3) == 0)
				cur = NULL;
			else if (!cur->error[0])
				parse_hex_line(cur, s, e, line_no);
		} else if ((size_t)(e - s) > sizeof fence - 1 && memcmp(s, fence, sizeof fence - 1) == 0) {
			if (n_blocks == MAX_BLOCKS) {
				fprintf(stderr, "%s: more than %d hex blocks\n", DOC_PATH, MAX_BLOCKS);
				exit(1);
			}
			cur = &blocks[n_blocks++];
			size_t n = (size_t)(e - s) - (sizeof fence - 1);
			if (n >= MAX_NAME)
				n = MAX_NAME - 1;
			memcpy(cur->name, s + sizeof fence - 1, n);
			cur->line = line_no;
			if (!preceded_by_list(s))
				snprintf(cur->error, sizeof cur->error,
					 "no list of decoded values right before it");
		}
		s = next;
		line_no++;
	}
	if (cur)
		snprintf(cur->error, sizeof cur->error, "the block is not closed");
}

static const struct block *find_block(const char *name)
{
	for (size_t i = 0; i < n_blocks; i++)
		if (strcmp(blocks[i].name, name) == 0)
			return &blocks[i];
	return NULL;
}

/* The block NAME, failing the test when the document lacks it. */
#define BLOCK(var, name)                                                                   \
	const struct block *var = find_block(name);                                        \
	if (!var)                                                                          \
		fprintf(stderr, "%s: no hex block %s\n", DOC_PATH, name);                  \
	CU_ASSERT_PTR_NOT_NULL_FATAL(var);                                                 \
	CU_ASSERT_STRING_EQUAL_FATAL(var->error, "")

/* A private copy of a block's bytes, to mutate. */
static uint8_t *copy_of(const struct block *b, size_t extra)
{
	uint8_t *p = calloc(1, b->len + extra + 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	memcpy(p, b->data, b->len);
	return p;
}

/* Bit-exact float comparison: the examples use values every step keeps exact. */
static bool same_float(float a, float b)
{
	return memcmp(&a, &b, sizeof a) == 0;
}

static bool same_floats(const float *a, const float *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!same_float(a[i], b[i]))
			return false;
	return true;
}

/* ---- The examples the document must hold, with their decoded values ---- */

/* A binary sample message example (section 8.1 to 8.4). */
struct bin_example {
	const char *name;                      /* its hex block */
	uint32_t count, n_features, n_targets; /* the header's shape */
	enum mb_elem elem;                     /* how features are stored */
	float scale, offset;                   /* feature = stored * scale + offset */
	bool weighted;                         /* rows carry a weight */
	float w[2];                            /* weight of each sample (1 when not weighted) */
	float y[4];                            /* count x n_targets */
	float x[8];                            /* count x n_features, as decoded */
};

static const struct bin_example bin_examples[] = {
	{"sample-f32", 2, 3, 1, MB_ELEM_F32, 1.0f, 0.0f, false, {1, 1}, {1, 0},
	 {0.5f, -1.0f, 2.0f, 0.25f, 0.0f, -3.5f}},
	{"sample-f16", 2, 3, 1, MB_ELEM_F16, 0.5f, 1.0f, false, {1, 1}, {2, 7},
	 {1.5f, 0.0f, 1.25f, 3.0f, 1.0f, -0.5f}},
	{"sample-u8", 2, 4, 1, MB_ELEM_U8, 0.25f, -1.0f, false, {1, 1}, {3, 9},
	 {-1.0f, 0.0f, 31.0f, 62.75f, -0.75f, -0.5f, -0.25f, 1.0f}},
	{"sample-weighted", 2, 2, 2, MB_ELEM_F32, 1.0f, 0.0f, true, {1.0f, 0.5f},
	 {1.5f, -2.0f, 0.125f, 4.0f}, {0.0f, 1.0f, -1.0f, 8.0f}},
};

/* Both text examples hold the samples of sample-f32. */
static const float text_x[2][3] = {{0.5f, -1.0f, 2.0f}, {0.25f, 0.0f, -3.5f}};
static const float text_y[2] = {1.0f, 0.0f};
static const char *const csv_lines[2] = {"1,0.5,-1,2\n", "0,0.25,0,-3.5\n"};
static const char *const libsvm_lines[2] = {"1 1:0.5 2:-1 3:2\n", "0 1:0.25 3:-3.5\n"};

/* The snapshot of section 8.7: softmax, 2 inputs, 2 classes. */
static const char snap_topic[] = "demo";
static const float snap_params[6] = {0.5f, -0.25f, -0.5f, 0.25f, 0.125f, -0.125f};
#define SNAP_VERSION 42u
#define SNAP_SAMPLES 1344u
#define SNAP_BATCHES 42u
#define SNAP_COST 0.6875f
#define SNAP_TIMESTAMP 1700000000123456789ull
#define SNAP_CRC 0xd206dc17u
#define SNAP_BYTES 92u

static struct mb_snap_info snap_info(void)
{
	struct mb_snap_info info = {
		.kind = MB_MODEL_SOFTMAX,
		.n_layers = 1,
		.sizes = {2, 2},
		.act = {MB_ACT_SOFTMAX},
		.version = SNAP_VERSION,
		.samples = SNAP_SAMPLES,
		.batches = SNAP_BATCHES,
		.cost = SNAP_COST,
		.timestamp_ns = SNAP_TIMESTAMP,
	};
	return info;
}

/* The control example of section 8.8. */
static const char ctl_reply[] =
	"{\"ok\":true,\"state\":\"running\",\"model\":\"softmax\",\"version\":42,\"samples\":1344,"
	"\"batches\":42,\"skipped\":0,\"cost\":0.6875,\"accuracy\":0.75,\"samples_per_s\":12000.5,"
	"\"snapshots\":3}";

/* The checkpoint of section 8.9: one MODEL section, the snapshot body. */
#define CKPT_BYTES 128u
#define CKPT_FILE_CRC 0xa662dc14u
#define CKPT_MODEL_CRC 0x69f25bd2u

/* The IDX pair of section 8.10. */
static const uint8_t idx_pixels[2][4] = {{0, 51, 102, 255}, {255, 204, 153, 0}};
static const float idx_features[2][4] = {{0.0f, 0.2f, 0.4f, 1.0f}, {1.0f, 0.8f, 0.6f, 0.0f}};
static const uint8_t idx_labels[2] = {3, 9};

static const char *const known_blocks[] = {
	"sample-f32", "sample-f16", "sample-u8", "sample-weighted", "text-csv", "text-libsvm",
	"snapshot-topic", "snapshot-body", "control-request", "control-reply", "checkpoint",
	"idx-images", "idx-labels",
};

/* ---- Tests ---- */

static void test_blocks_known(void)
{
	size_t n_known = sizeof known_blocks / sizeof known_blocks[0];

	for (size_t i = 0; i < n_blocks; i++) {
		bool known = false;
		for (size_t k = 0; k < n_known; k++)
			known |= strcmp(blocks[i].name, known_blocks[k]) == 0;
		if (!known)
			fprintf(stderr, "%s:%u: hex block %s is not checked by this test\n", DOC_PATH,
				blocks[i].line, blocks[i].name);
		CU_ASSERT(known);
		if (blocks[i].error[0])
			fprintf(stderr, "%s:%u: hex block %s: %s\n", DOC_PATH, blocks[i].line,
				blocks[i].name, blocks[i].error);
		CU_ASSERT_STRING_EQUAL(blocks[i].error, "");
		CU_ASSERT(blocks[i].len > 0);
		for (size_t j = 0; j < i; j++)
			CU_ASSERT_STRING_NOT_EQUAL(blocks[i].name, blocks[j].name);
	}
	for (size_t k = 0; k < n_known; k++) {
		if (!find_block(known_blocks[k]))
			fprintf(stderr, "%s: hex block %s is missing\n", DOC_PATH, known_blocks[k]);
		CU_ASSERT_PTR_NOT_NULL(find_block(known_blocks[k]));
	}
}

/* Decode a binary sample example, compare with its table, encode it again. */
static void check_bin_example(const struct bin_example *ex)
{
	BLOCK(b, ex->name);
	struct mb_shape shape = {ex->n_features, ex->n_targets};
	struct mb_sample_view v;
	struct mb_diag diag = {0};

	int err = mb_sample_bin_parse(b->data, b->len, &shape, &v, &diag);
	if (err)
		fprintf(stderr, "%s: %s\n", ex->name, diag.text);
	CU_ASSERT_EQUAL_FATAL(err, 0);
	CU_ASSERT_EQUAL(v.count, ex->count);
	CU_ASSERT_EQUAL(v.n_features, ex->n_features);
	CU_ASSERT_EQUAL(v.n_targets, ex->n_targets);
	CU_ASSERT_EQUAL(v.elem, ex->elem);
	CU_ASSERT(same_float(v.scale, ex->scale));
	CU_ASSERT(same_float(v.offset, ex->offset));
	CU_ASSERT_EQUAL(v.weighted, ex->weighted);
	for (uint32_t i = 0; i < v.count; i++) {
		float x[8], y[4], w = -1.0f;
		mb_sample_view_row(&v, i, x, y, &w);
		CU_ASSERT(same_floats(x, ex->x + i * ex->n_features, ex->n_features));
		CU_ASSERT(same_floats(y, ex->y + i * ex->n_targets, ex->n_targets));
		CU_ASSERT(same_float(w, ex->w[i]));
	}

	struct mb_sample_batch batch = {
		.count = ex->count, .n_features = ex->n_features, .n_targets = ex->n_targets,
		.x = ex->x, .y = ex->y, .w = ex->weighted ? ex->w : NULL,
		.elem = ex->elem, .scale = ex->scale, .offset = ex->offset,
	};
	CU_ASSERT_EQUAL(mb_sample_bin_size(ex->count, ex->n_features, ex->n_targets, ex->elem,
					   ex->weighted), b->len);
	uint8_t out[256];
	long n = mb_sample_bin_encode(out, sizeof out, &batch);
	CU_ASSERT_EQUAL_FATAL(n, (long)b->len);
	CU_ASSERT(memcmp(out, b->data, b->len) == 0);
}

static void test_sample_f32(void) { check_bin_example(&bin_examples[0]); }
static void test_sample_f16(void) { check_bin_example(&bin_examples[1]); }
static void test_sample_u8(void) { check_bin_example(&bin_examples[2]); }
static void test_sample_weighted(void) { check_bin_example(&bin_examples[3]); }

/* Decode a text example, compare with the samples of sample-f32, encode its lines again. */
static void check_text_example(const char *name, enum mb_text_fmt fmt, const char *const lines[2])
{
	BLOCK(b, name);
	struct mb_shape shape = {3, 1};
	struct mb_text_cursor c;
	struct mb_diag diag = {0};
	float x[3], y[1];

	CU_ASSERT_EQUAL(mb_text_detect(b->data, b->len), fmt);
	mb_text_cursor_init(&c, b->data, b->len, fmt, &shape);
	for (int i = 0; i < 2; i++) {
		int r = mb_text_next(&c, x, y, &diag);
		if (r != 1)
			fprintf(stderr, "%s: %s\n", name, diag.text);
		CU_ASSERT_EQUAL_FATAL(r, 1);
		CU_ASSERT(same_floats(x, text_x[i], 3));
		CU_ASSERT(same_float(y[0], text_y[i]));
	}
	CU_ASSERT_EQUAL(mb_text_next(&c, x, y, &diag), 0);

	/* The data lines, re-encoded, are the document's lines; the rest are comments or blank. */
	char line[64];
	const char *text = (const char *)b->data;
	for (int i = 0; i < 2; i++) {
		long n = mb_text_encode(line, sizeof line, fmt, text_x[i], 3, &text_y[i], 1);
		CU_ASSERT_EQUAL_FATAL(n, (long)strlen(lines[i]));
		CU_ASSERT_NSTRING_EQUAL(line, lines[i], (size_t)n);
		bool found = false;
		for (size_t at = 0; at + (size_t)n <= b->len && !found; at++)
			found = (at == 0 || text[at - 1] == '\n') && memcmp(text + at, line, (size_t)n) == 0;
		CU_ASSERT(found);
	}
}

static void test_text_csv(void) { check_text_example("text-csv", MB_TEXT_CSV, csv_lines); }
static void test_text_libsvm(void) { check_text_example("text-libsvm", MB_TEXT_LIBSVM, libsvm_lines); }

/* Check a decoded snapshot against the example's values. */
static void check_snap_values(const struct mb_snap_info *info, const uint8_t *params)
{
	CU_ASSERT_EQUAL(info->kind, MB_MODEL_SOFTMAX);
	CU_ASSERT_EQUAL(info->n_layers, 1);
	CU_ASSERT_EQUAL(info->sizes[0], 2);
	CU_ASSERT_EQUAL(info->sizes[1], 2);
	CU_ASSERT_EQUAL(info->act[0], MB_ACT_SOFTMAX);
	CU_ASSERT_EQUAL(info->version, SNAP_VERSION);
	CU_ASSERT_EQUAL(info->samples, SNAP_SAMPLES);
	CU_ASSERT_EQUAL(info->batches, SNAP_BATCHES);
	CU_ASSERT(same_float(info->cost, SNAP_COST));
	CU_ASSERT_EQUAL(info->timestamp_ns, SNAP_TIMESTAMP);
	CU_ASSERT_EQUAL(info->n_params, 6);
	CU_ASSERT_EQUAL(info->crc, SNAP_CRC);
	float p[6];
	mb_snap_params_copy(p, params, 6);
	CU_ASSERT(same_floats(p, snap_params, 6));
	CU_ASSERT_EQUAL(mb_crc32c(0, params, sizeof p), SNAP_CRC);
}

static void test_snapshot(void)
{
	BLOCK(topic, "snapshot-topic");
	CU_ASSERT_EQUAL(topic->len, strlen(snap_topic));
	CU_ASSERT(memcmp(topic->data, snap_topic, topic->len) == 0);
	CU_ASSERT(topic->len >= 1 && topic->len <= MB_MAX_TOPIC_BYTES);

	BLOCK(b, "snapshot-body");
	struct mb_snap_info info;
	const uint8_t *params = NULL;
	struct mb_diag diag = {0};
	int err = mb_snap_decode(b->data, b->len, &info, &params, &diag);
	if (err)
		fprintf(stderr, "snapshot-body: %s\n", diag.text);
	CU_ASSERT_EQUAL_FATAL(err, 0);
	CU_ASSERT_EQUAL(b->len, SNAP_BYTES);
	/* Section 4.3: the parameters start at A = 56 + 4 (L + 1) + L rounded up to 4. */
	CU_ASSERT_PTR_EQUAL(params, b->data + 68);
	check_snap_values(&info, params);

	struct mb_snap_info want = snap_info();
	CU_ASSERT_EQUAL(mb_snap_param_count(&want), 6);
	CU_ASSERT_EQUAL(mb_snap_size(&want), SNAP_BYTES);
	uint8_t out[SNAP_BYTES + 16];
	long n = mb_snap_encode(out, sizeof out, &want, snap_params);
	CU_ASSERT_EQUAL_FATAL(n, (long)SNAP_BYTES);
	CU_ASSERT(memcmp(out, b->data, SNAP_BYTES) == 0);
}

static void test_control(void)
{
	BLOCK(req, "control-request");
	CU_ASSERT_EQUAL(req->len, strlen(MB_CTL_STATUS));
	CU_ASSERT(memcmp(req->data, MB_CTL_STATUS, req->len) == 0);
	CU_ASSERT(req->len <= MB_MAX_CONTROL_BYTES);

	BLOCK(rep, "control-reply");
	CU_ASSERT_EQUAL(rep->len, strlen(ctl_reply));
	CU_ASSERT(memcmp(rep->data, ctl_reply, rep->len) == 0);
}

/* A mutation of an example and the refusal the document gives for it (2.3, 4.3, 7.1). */
struct rejection {
	const char *what;      /* the fault, for messages */
	size_t at;             /* first byte to change */
	size_t n;              /* bytes to change (0: none) */
	uint32_t value;        /* little-endian value written there (samples) or xored in (others) */
	long len_delta;        /* bytes to add to or remove from the end */
	int err;               /* documented errno, negated */
	enum mb_reason reason; /* documented reason */
};

static void test_checkpoint(void)
{
	BLOCK(b, "checkpoint");
	BLOCK(body, "snapshot-body");
	struct mb_ckpt ck;
	struct mb_diag diag = {0};

	int err = mb_ckpt_decode(b->data, b->len, &ck, &diag);
	if (err)
		fprintf(stderr, "checkpoint: %s\n", diag.text);
	CU_ASSERT_EQUAL_FATAL(err, 0);
	CU_ASSERT_EQUAL(b->len, CKPT_BYTES);
	CU_ASSERT_EQUAL(mb_crc32c(0, b->data, b->len - 4), CKPT_FILE_CRC);
	CU_ASSERT_EQUAL_FATAL(ck.n_sections, 1);
	const struct mb_ckpt_section *model = mb_ckpt_find(&ck, MB_CKPT_SEC_MODEL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(model);
	CU_ASSERT_PTR_NULL(mb_ckpt_find(&ck, MB_CKPT_SEC_OPTIM));
	CU_ASSERT_EQUAL(model->len, SNAP_BYTES);
	CU_ASSERT_EQUAL(mb_crc32c(0, model->data, model->len), CKPT_MODEL_CRC);

	/* The MODEL section is the snapshot body of section 8.7, and decodes as one. */
	CU_ASSERT_PTR_EQUAL(model->data, b->data + MB_CKPT_HEADER_BYTES + MB_CKPT_SECTION_HEADER_BYTES);
	CU_ASSERT(memcmp(model->data, body->data, body->len) == 0);
	struct mb_snap_info info;
	const uint8_t *params;
	CU_ASSERT_EQUAL_FATAL(mb_snap_decode(model->data, model->len, &info, &params, &diag), 0);
	check_snap_values(&info, params);

	struct mb_ckpt_section sec = {MB_CKPT_SEC_MODEL, body->data, body->len};
	CU_ASSERT_EQUAL(mb_ckpt_size(&sec, 1), CKPT_BYTES);
	uint8_t out[CKPT_BYTES + 8];
	long n = mb_ckpt_encode(out, sizeof out, &sec, 1);
	CU_ASSERT_EQUAL_FATAL(n, (long)CKPT_BYTES);
	CU_ASSERT(memcmp(out, b->data, CKPT_BYTES) == 0);
}

static const struct rejection ckpt_rejections[] = {
	{"no bytes", 0, 0, 0, -128, -ENODATA, MB_R_EMPTY},
	{"short header", 0, 0, 0, -117, -EBADMSG, MB_R_TRUNCATED},
	{"magic", 0, 1, 'M' ^ 'X', 0, -EBADMSG, MB_R_MAGIC},
	{"version 2", 4, 1, 1 ^ 2, 0, -EPROTONOSUPPORT, MB_R_VERSION},
	{"reserved", 6, 1, 1, 0, -EBADMSG, MB_R_FLAGS},
	{"0 sections", 8, 1, 1, 0, -ENODATA, MB_R_EMPTY},
	{"65 sections", 8, 1, 1 ^ 65, 0, -E2BIG, MB_R_TOO_BIG},
	{"payload longer than the file", 20, 1, 0x80, 0, -EBADMSG, MB_R_TRUNCATED},
	{"a payload bit", 100, 1, 0x10, 0, -EBADMSG, MB_R_CRC},
	{"padding", 121, 1, 1, 0, -EBADMSG, MB_R_FLAGS},
	{"the file CRC", 124, 1, 1, 0, -EBADMSG, MB_R_CRC},
	{"one byte short", 0, 0, 0, -1, -EBADMSG, MB_R_TRUNCATED},
	{"one byte more", 0, 0, 0, 1, -EBADMSG, MB_R_TRAILING},
};

static void test_checkpoint_rejections(void)
{
	BLOCK(b, "checkpoint");
	for (size_t i = 0; i < sizeof ckpt_rejections / sizeof ckpt_rejections[0]; i++) {
		const struct rejection *r = &ckpt_rejections[i];
		uint8_t *m = copy_of(b, 1);
		uint8_t le[4];
		mb_put_le32(le, r->value);
		for (size_t k = 0; k < r->n; k++)
			m[r->at + k] ^= le[k];
		struct mb_ckpt ck = {.n_sections = 12345};
		struct mb_diag diag = {0};
		int err = mb_ckpt_decode(m, (size_t)((long)b->len + r->len_delta), &ck, &diag);
		if (err != r->err || diag.reason != r->reason)
			fprintf(stderr, "checkpoint, %s: got %d %s, the document says %d %s\n", r->what,
				err, mb_reason_name(diag.reason), r->err, mb_reason_name(r->reason));
		CU_ASSERT_EQUAL(err, r->err);
		CU_ASSERT_EQUAL(diag.reason, r->reason);
		CU_ASSERT_EQUAL(ck.n_sections, 12345);
		free(m);
	}
}

static void test_idx(void)
{
	BLOCK(img, "idx-images");
	BLOCK(lab, "idx-labels");
	struct mb_idx_header hi, hl;
	struct mb_diag diag = {0};

	CU_ASSERT_EQUAL_FATAL(mb_idx_parse_header(img->data, img->len, &hi, &diag), 0);
	CU_ASSERT_EQUAL_FATAL(mb_idx_parse_header(lab->data, lab->len, &hl, &diag), 0);
	CU_ASSERT_EQUAL(mb_idx_check_size(&hi, img->len, &diag), 0);
	CU_ASSERT_EQUAL(mb_idx_check_size(&hl, lab->len, &diag), 0);
	CU_ASSERT_EQUAL(mb_idx_check_pair(&hi, &hl, &diag), 0);
	CU_ASSERT_EQUAL(hi.type, MB_IDX_TYPE_U8);
	CU_ASSERT_EQUAL(hi.n_dims, 3);
	CU_ASSERT_EQUAL(hi.dims[0], 2);
	CU_ASSERT_EQUAL(hi.record_elems, 4);
	CU_ASSERT_EQUAL(hl.n_dims, 1);
	CU_ASSERT_EQUAL(hl.dims[0], 2);
	for (uint32_t i = 0; i < 2; i++) {
		const uint8_t *rec = img->data + mb_idx_record_offset(&hi, i);
		CU_ASSERT(memcmp(rec, idx_pixels[i], 4) == 0);
		float x[4];
		CU_ASSERT_EQUAL(mb_idx_record_floats(&hi, rec, x), 0);
		for (int k = 0; k < 4; k++) {
			/* byte x f32(1/255): within an ulp of the listed decimals, and exact at 0 and 1. */
			CU_ASSERT(fabsf(x[k] - idx_features[i][k]) <= 1e-7f);
			CU_ASSERT(same_float(x[k], (float)idx_pixels[i][k] * (1.0f / 255.0f)));
		}
		CU_ASSERT_EQUAL(mb_idx_label(&hl, lab->data, i), idx_labels[i]);
	}
}


static const struct rejection sample_rejections[] = {
	{"no bytes", 0, 0, 0, -64, -ENODATA, MB_R_EMPTY},
	{"short header", 0, 0, 0, -33, -EBADMSG, MB_R_TRUNCATED},
	{"magic", 3, 1, 'X', 0, -EBADMSG, MB_R_MAGIC},
	{"version 2", 4, 1, 2, 0, -EPROTONOSUPPORT, MB_R_VERSION},
	{"sparse flag", 5, 1, MB_SMP_F_SPARSE, 0, -EBADMSG, MB_R_FLAGS},
	{"unknown flag", 5, 1, 0x80, 0, -EBADMSG, MB_R_FLAGS},
	{"reserved byte 7", 7, 1, 1, 0, -EBADMSG, MB_R_FLAGS},
	{"reserved field 28", 28, 4, 1, 0, -EBADMSG, MB_R_FLAGS},
	{"element type 4", 6, 1, 4, 0, -EBADMSG, MB_R_ELEM_TYPE},
	{"count 0", 8, 4, 0, 0, -ENODATA, MB_R_EMPTY},
	{"count over the limit", 8, 4, MB_MAX_SAMPLES_PER_MSG + 1, 0, -E2BIG, MB_R_TOO_BIG},
	{"n_features 0", 12, 4, 0, 0, -E2BIG, MB_R_TOO_BIG},
	{"n_targets over the limit", 16, 4, MB_MAX_TARGETS + 1, 0, -E2BIG, MB_R_TOO_BIG},
	{"f32 with scale 2", 20, 4, 0x40000000, 0, -EINVAL, MB_R_SCALE},
	{"one byte short", 0, 0, 0, -1, -EBADMSG, MB_R_TRUNCATED},
	{"one byte more", 0, 0, 0, 1, -EBADMSG, MB_R_TRAILING},
	{"NaN feature", 36, 4, 0x7fc00000, 0, -EDOM, MB_R_NONFINITE},
	{"infinite target", 48, 4, 0x7f800000, 0, -EDOM, MB_R_NONFINITE},
};

static void test_sample_rejections(void)
{
	BLOCK(b, "sample-f32");
	for (size_t i = 0; i < sizeof sample_rejections / sizeof sample_rejections[0]; i++) {
		const struct rejection *r = &sample_rejections[i];
		uint8_t *m = copy_of(b, 1);
		uint8_t le[4];
		mb_put_le32(le, r->value);
		memcpy(m + r->at, le, r->n);
		struct mb_sample_view v = {0};
		struct mb_diag diag = {0};
		int err = mb_sample_bin_parse(m, (size_t)((long)b->len + r->len_delta), NULL, &v, &diag);
		if (err != r->err || diag.reason != r->reason)
			fprintf(stderr, "sample-f32, %s: got %d %s, the document says %d %s\n", r->what,
				err, mb_reason_name(diag.reason), r->err, mb_reason_name(r->reason));
		CU_ASSERT_EQUAL(err, r->err);
		CU_ASSERT_EQUAL(diag.reason, r->reason);
		CU_ASSERT_EQUAL(v.count, 0);    /* untouched on failure */
		free(m);
	}

	/* A shape the model does not have. */
	struct mb_shape other = {4, 1};
	struct mb_sample_view v;
	struct mb_diag diag = {0};
	CU_ASSERT_EQUAL(mb_sample_bin_parse(b->data, b->len, &other, &v, &diag), -EINVAL);
	CU_ASSERT_EQUAL(diag.reason, MB_R_DIM_MISMATCH);

	/* A negative weight. */
	BLOCK(wb, "sample-weighted");
	uint8_t *m = copy_of(wb, 0);
	mb_put_lef32(m + 32, -1.0f);
	CU_ASSERT_EQUAL(mb_sample_bin_parse(m, wb->len, NULL, &v, &diag), -EINVAL);
	CU_ASSERT_EQUAL(diag.reason, MB_R_LABEL);
	free(m);
}

static const struct rejection snap_rejections[] = {
	{"no bytes", 0, 0, 0, -92, -ENODATA, MB_R_EMPTY},
	{"short header", 0, 0, 0, -37, -EBADMSG, MB_R_TRUNCATED},
	{"magic", 0, 1, 'M' ^ 'X', 0, -EBADMSG, MB_R_MAGIC},
	{"version 2", 4, 1, 1 ^ 2, 0, -EPROTONOSUPPORT, MB_R_VERSION},
	{"flags", 7, 1, 1, 0, -EBADMSG, MB_R_FLAGS},
	{"reserved", 52, 4, 1, 0, -EBADMSG, MB_R_FLAGS},
	{"padding", 65, 1, 1, 0, -EBADMSG, MB_R_FLAGS},
	{"model kind 9", 5, 1, 3 ^ 9, 0, -EBADMSG, MB_R_FLAGS},
	{"0 layers", 6, 1, 1, 0, -E2BIG, MB_R_TOO_BIG},
	{"activation 5", 64, 1, 4 ^ 5, 0, -EBADMSG, MB_R_FLAGS},
	{"n_params 7", 36, 1, 6 ^ 7, 0, -EINVAL, MB_R_COUNT_MISMATCH},
	{"a parameter bit", 70, 1, 0x01, 0, -EBADMSG, MB_R_CRC},
	{"one byte short", 0, 0, 0, -1, -EBADMSG, MB_R_TRUNCATED},
	{"one byte more", 0, 0, 0, 1, -EBADMSG, MB_R_TRAILING},
};

static void test_snapshot_rejections(void)
{
	BLOCK(b, "snapshot-body");
	for (size_t i = 0; i < sizeof snap_rejections / sizeof snap_rejections[0]; i++) {
		const struct rejection *r = &snap_rejections[i];
		uint8_t *m = copy_of(b, 1);
		uint8_t le[4];
		mb_put_le32(le, r->value);
		for (size_t k = 0; k < r->n; k++)
			m[r->at + k] ^= le[k];
		struct mb_snap_info info = {.n_params = 12345};
		const uint8_t *params = NULL;
		struct mb_diag diag = {0};
		int err = mb_snap_decode(m, (size_t)((long)b->len + r->len_delta), &info, &params, &diag);
		if (err != r->err || diag.reason != r->reason)
			fprintf(stderr, "snapshot-body, %s: got %d %s, the document says %d %s\n",
				r->what, err, mb_reason_name(diag.reason), r->err,
				mb_reason_name(r->reason));
		CU_ASSERT_EQUAL(err, r->err);
		CU_ASSERT_EQUAL(diag.reason, r->reason);
		CU_ASSERT_EQUAL(info.n_params, 12345);
		CU_ASSERT_PTR_NULL(params);
		free(m);
	}

	/* An infinite parameter under a matching CRC: only finiteness is wrong. */
	uint8_t *m = copy_of(b, 0);
	mb_put_lef32(m + 68, INFINITY);
	mb_put_le32(m + 48, mb_crc32c(0, m + 68, 24));
	struct mb_snap_info info;
	const uint8_t *params;
	struct mb_diag diag = {0};
	CU_ASSERT_EQUAL(mb_snap_decode(m, b->len, &info, &params, &diag), -EDOM);
	CU_ASSERT_EQUAL(diag.reason, MB_R_NONFINITE);
	free(m);
}

/* The text of the table row that starts with "| `key`", or NULL. */
static const char *table_row(const char *key)
{
	char pat[64];
	snprintf(pat, sizeof pat, "\n| `%s`", key);
	const char *p = strstr(doc, pat);
	if (!p)
		return NULL;
	/* Only one row per key. */
	CU_ASSERT_PTR_NULL(strstr(p + 1, pat));
	return p + 1;
}

static void test_limits_table(void)
{
	static const struct {
		const char *name;
		unsigned long long value;
	} limits[] = {
		{"MB_MAX_FEATURES", MB_MAX_FEATURES},
		{"MB_MAX_TARGETS", MB_MAX_TARGETS},
		{"MB_MAX_CLASSES", MB_MAX_CLASSES},
		{"MB_MAX_SAMPLES_PER_MSG", MB_MAX_SAMPLES_PER_MSG},
		{"MB_MAX_MSG_BYTES", MB_MAX_MSG_BYTES},
		{"MB_MAX_LINE_BYTES", MB_MAX_LINE_BYTES},
		{"MB_MAX_LAYERS", MB_MAX_LAYERS},
		{"MB_MAX_TOPIC_BYTES", MB_MAX_TOPIC_BYTES},
		{"MB_MAX_CONTROL_BYTES", MB_MAX_CONTROL_BYTES},
		{"MB_MAX_SECTIONS", MB_MAX_SECTIONS},
		{"MB_IDX_MAX_DIMS", MB_IDX_MAX_DIMS},
	};
	for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
		const char *row = table_row(limits[i].name);
		if (!row)
			fprintf(stderr, "%s: no row for %s in the limits table\n", DOC_PATH,
				limits[i].name);
		CU_ASSERT_PTR_NOT_NULL_FATAL(row);
		const char *cell = strchr(row + 1, '|');
		CU_ASSERT_PTR_NOT_NULL_FATAL(cell);
		unsigned long long v = strtoull(cell + 1, NULL, 10);
		if (v != limits[i].value)
			fprintf(stderr, "%s: %s is %llu in the document, %llu in mb_proto.h\n", DOC_PATH,
				limits[i].name, v, limits[i].value);
		CU_ASSERT_EQUAL(v, limits[i].value);
	}
}

static void test_reasons_table(void)
{
	static const struct {
		enum mb_reason reason;
		const char *constant;
		const char *err;
	} reasons[] = {
		{MB_R_EMPTY, "MB_R_EMPTY", "ENODATA"},
		{MB_R_MAGIC, "MB_R_MAGIC", "EBADMSG"},
		{MB_R_VERSION, "MB_R_VERSION", "EPROTONOSUPPORT"},
		{MB_R_FLAGS, "MB_R_FLAGS", "EBADMSG"},
		{MB_R_ELEM_TYPE, "MB_R_ELEM_TYPE", "EBADMSG"},
		{MB_R_TRUNCATED, "MB_R_TRUNCATED", "EBADMSG"},
		{MB_R_TRAILING, "MB_R_TRAILING", "EBADMSG"},
		{MB_R_TOO_BIG, "MB_R_TOO_BIG", "E2BIG"},
		{MB_R_DIM_MISMATCH, "MB_R_DIM_MISMATCH", "EINVAL"},
		{MB_R_NONFINITE, "MB_R_NONFINITE", "EDOM"},
		{MB_R_NOT_NUMERIC, "MB_R_NOT_NUMERIC", "EINVAL"},
		{MB_R_COLUMNS, "MB_R_COLUMNS", "EINVAL"},
		{MB_R_INDEX_RANGE, "MB_R_INDEX_RANGE", "ERANGE"},
		{MB_R_INDEX_ORDER, "MB_R_INDEX_ORDER", "EINVAL"},
		{MB_R_LABEL, "MB_R_LABEL", "EINVAL"},
		{MB_R_CRC, "MB_R_CRC", "EBADMSG"},
		{MB_R_SCALE, "MB_R_SCALE", "EINVAL"},
		{MB_R_COUNT_MISMATCH, "MB_R_COUNT_MISMATCH", "EINVAL"},
	};
	size_t n = sizeof reasons / sizeof reasons[0];

	/* Every reason but MB_R_OK has a row. */
	CU_ASSERT_EQUAL(n, MB_R_MAX_ - 1);
	for (size_t i = 0; i < n; i++) {
		const char *row = table_row(reasons[i].constant);
		if (!row)
			fprintf(stderr, "%s: no row for %s in the reasons table\n", DOC_PATH,
				reasons[i].constant);
		CU_ASSERT_PTR_NOT_NULL_FATAL(row);
		const char *end = strchr(row, '\n');
		CU_ASSERT_PTR_NOT_NULL_FATAL(end);
		char name[48], err[48];
		snprintf(name, sizeof name, "| `%s` ", mb_reason_name(reasons[i].reason));
		snprintf(err, sizeof err, "| `%s` ", reasons[i].err);
		const char *pn = strstr(row, name), *pe = strstr(row, err);
		bool ok = pn && pn < end && pe && pe < end && pn < pe;
		if (!ok)
			fprintf(stderr, "%s: the row of %s should name it `%s` with errno `%s`\n", DOC_PATH,
				reasons[i].constant, mb_reason_name(reasons[i].reason), reasons[i].err);
		CU_ASSERT(ok);
	}
}

static void test_crc_check_value(void)
{
	/* The check value section 1.2 gives. */
	CU_ASSERT_EQUAL(mb_crc32c(0, "123456789", 9), 0xE3069283u);
	CU_ASSERT_PTR_NOT_NULL(strstr(doc, "`0xE3069283`"));
}

int main(void)
{
	const char *top = getenv("top_srcdir");
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", top && *top ? top : ".", DOC_PATH);
	doc = slurp(path);
	if (!doc) {
		fprintf(stderr, "cannot read %s (set top_srcdir to the source tree)\n", path);
		return 1;
	}
	parse_blocks();

	MB_SUITE("proto",
		 {"blocks-known", test_blocks_known},
		 {"sample-f32", test_sample_f32},
		 {"sample-f16", test_sample_f16},
		 {"sample-u8", test_sample_u8},
		 {"sample-weighted", test_sample_weighted},
		 {"sample-rejections", test_sample_rejections},
		 {"text-csv", test_text_csv},
		 {"text-libsvm", test_text_libsvm},
		 {"snapshot", test_snapshot},
		 {"snapshot-rejections", test_snapshot_rejections},
		 {"control", test_control},
		 {"checkpoint", test_checkpoint},
		 {"checkpoint-rejections", test_checkpoint_rejections},
		 {"idx", test_idx},
		 {"limits-table", test_limits_table},
		 {"reasons-table", test_reasons_table},
		 {"crc32c-check-value", test_crc_check_value});
	int rc = mb_test_run();
	for (size_t i = 0; i < n_blocks; i++)
		free(blocks[i].data);
	free(doc);
	return rc;
}
