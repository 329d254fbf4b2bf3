/* SPDX-License-Identifier: MIT */
/*
 * test_sample_text.c - CSV and libsvm lines: round trips, every refusal
 * with its line number, number syntax, and buffers that end exactly at an
 * unreadable page.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "sample.h"
#include "test.h"

static uint32_t next_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* Floats across the whole range: signs, tiny, huge, subnormal, integers, zero. */
static float wild_float(uint32_t *s)
{
	uint32_t r = next_rand(s);
	switch (r % 6) {
	case 0: return 0.0f;
	case 1: return (float)(int)(next_rand(s) % 512) - 256.0f;
	case 2: {
		/* any finite bit pattern */
		uint32_t u = next_rand(s);
		if ((u & 0x7f800000u) == 0x7f800000u)
			u &= ~0x40000000u;
		float f;
		memcpy(&f, &u, sizeof f);
		return f;
	}
	default: return ((float)(next_rand(s) % 2000000) - 1e6f) / 7.0f;
	}
}

/* Decode every row of buf and compare with x (rows x nf) and y (rows x nt) exactly. */
static void decode_all(const char *buf, size_t len, enum mb_text_fmt fmt, uint32_t rows,
		       uint32_t nf, uint32_t nt, const float *x, const float *y)
{
	struct mb_text_cursor c;
	struct mb_diag d = {0};
	float *gx = malloc(sizeof(float) * nf), gy[8];
	mb_text_cursor_init(&c, buf, len, fmt, &(struct mb_shape){nf, nt});
	for (uint32_t i = 0; i < rows; i++) {
		int r = mb_text_next(&c, gx, gy, &d);
		if (r != 1)
			fprintf(stderr, "\n  row %u: %d %s\n", i, r, d.text);
		CU_ASSERT_EQUAL_FATAL(r, 1);
		CU_ASSERT_EQUAL(memcmp(gx, x + (size_t)i * nf, sizeof(float) * nf), 0);
		CU_ASSERT_EQUAL(memcmp(gy, y + (size_t)i * (nt ? nt : 1), sizeof(float) * (nt ? nt : 1)), 0);
	}
	CU_ASSERT_EQUAL(mb_text_next(&c, gx, gy, &d), 0);
	free(gx);
}

/* Encode with %.9g and decode: every float comes back bit for bit. */
static void test_csv_roundtrip(void)
{
	enum { ROWS = 200, NF = 37, NT = 3 };
	static float x[ROWS * NF], y[ROWS * NT];
	uint32_t s = 2463534242u;
	for (int k = 0; k < ROWS * NF; k++)
		x[k] = wild_float(&s);
	for (int k = 0; k < ROWS * NT; k++)
		y[k] = wild_float(&s);

	size_t cap = (size_t)ROWS * (NF + NT) * 20, len = 0;
	char *buf = malloc(cap);
	for (int i = 0; i < ROWS; i++) {
		long n = mb_text_encode(buf + len, cap - len, MB_TEXT_CSV, x + i * NF, NF, y + i * NT, NT);
		CU_ASSERT_FATAL(n > 0);
		CU_ASSERT_EQUAL(buf[len + (size_t)n - 1], '\n');
		len += (size_t)n;
	}
	CU_ASSERT_EQUAL(mb_text_detect(buf, len), MB_TEXT_CSV);
	uint32_t probed = 0;
	CU_ASSERT_EQUAL(mb_text_probe_features(buf, len, MB_TEXT_CSV, NT, &probed), 0);
	CU_ASSERT_EQUAL(probed, NF);
	decode_all(buf, len, MB_TEXT_CSV, ROWS, NF, NT, x, y);
	free(buf);
}

/* Sparse rows through libsvm: zeros are left out and come back as zeros. */
static void test_libsvm_roundtrip(void)
{
	enum { ROWS = 300, NF = 50 };
	static float x[ROWS * NF], y[ROWS];
	uint32_t s = 88172645u;
	for (int k = 0; k < ROWS * NF; k++)
		x[k] = next_rand(&s) % 5 == 0 ? wild_float(&s) : 0.0f;
	for (int k = 0; k < ROWS; k++)
		y[k] = (float)(next_rand(&s) % 10);

	size_t cap = (size_t)ROWS * NF * 24, len = 0;
	char *buf = malloc(cap);
	for (int i = 0; i < ROWS; i++) {
		long n = mb_text_encode(buf + len, cap - len, MB_TEXT_LIBSVM, x + i * NF, NF, y + i, 1);
		CU_ASSERT_FATAL(n > 0);
		len += (size_t)n;
	}
	CU_ASSERT_EQUAL(mb_text_detect(buf, len), MB_TEXT_LIBSVM);
	decode_all(buf, len, MB_TEXT_LIBSVM, ROWS, NF, 1, x, y);
	free(buf);
}

/* Spaces around values, CRLF, comments, blank lines, no final newline; n_targets 0 means 1. */
static void test_csv_layout(void)
{
	const char text[] = "# header comment\r\n"
			    "  1 , 2.5 ,\t-3\r\n"
			    "\n"
			    "   \t\n"
			    "  # indented comment\n"
			    "4,5e-1,+6";
	struct mb_text_cursor c;
	struct mb_diag d;
	float x[2], y[1];
	mb_text_cursor_init(&c, text, sizeof text - 1, MB_TEXT_CSV, &(struct mb_shape){2, 0});
	CU_ASSERT_EQUAL_FATAL(mb_text_next(&c, x, y, &d), 1);
	CU_ASSERT_EQUAL(y[0], 1.0f);
	CU_ASSERT_EQUAL(x[0], 2.5f);
	CU_ASSERT_EQUAL(x[1], -3.0f);
	CU_ASSERT_EQUAL(c.line, 2);
	CU_ASSERT_EQUAL_FATAL(mb_text_next(&c, x, y, &d), 1);
	CU_ASSERT_EQUAL(y[0], 4.0f);
	CU_ASSERT_EQUAL(x[0], 0.5f);
	CU_ASSERT_EQUAL(x[1], 6.0f);
	CU_ASSERT_EQUAL(c.line, 6);
	CU_ASSERT_EQUAL(mb_text_next(&c, x, y, &d), 0);
	CU_ASSERT_EQUAL(mb_text_next(&c, x, y, &d), 0);
}

/* libsvm with tabs, trailing blanks and a label-only line (all features 0). */
static void test_libsvm_layout(void)
{
	const char text[] = "-1\t1:0.5   3:2 \r\n+1\n";
	struct mb_text_cursor c;
	float x[3] = {9, 9, 9}, y[1];
	mb_text_cursor_init(&c, text, sizeof text - 1, MB_TEXT_LIBSVM, &(struct mb_shape){3, 1});
	CU_ASSERT_EQUAL_FATAL(mb_text_next(&c, x, y, NULL), 1);
	CU_ASSERT_EQUAL(y[0], -1.0f);
	CU_ASSERT_EQUAL(x[0], 0.5f);
	CU_ASSERT_EQUAL(x[1], 0.0f);
	CU_ASSERT_EQUAL(x[2], 2.0f);
	CU_ASSERT_EQUAL_FATAL(mb_text_next(&c, x, y, NULL), 1);
	CU_ASSERT_EQUAL(y[0], 1.0f);
	CU_ASSERT_EQUAL(x[0] + x[1] + x[2], 0.0f);
	CU_ASSERT_EQUAL(mb_text_next(&c, x, y, NULL), 0);
}

/* A bad line between two good ones. */
struct bad_line {
	const char *line;      /* the text of line 2 */
	int err;               /* the -errno expected */
	enum mb_reason reason; /* the reason expected */
};

/*
 * Decode "good\nbad\ngood\n" and expect: the first row, the refusal on line
 * 2 with its reason, then the third row (decoding goes on), then the end.
 */
static void check_bad_lines(enum mb_text_fmt fmt, const char *good, const struct bad_line *t,
			    size_t n, uint32_t nf)
{
	for (size_t i = 0; i < n; i++) {
		char buf[512];
		int len = snprintf(buf, sizeof buf, "%s\n%s\n%s\n", good, t[i].line, good);
		struct mb_text_cursor c;
		struct mb_diag d = {0};
		float x[8], y[1];
		mb_text_cursor_init(&c, buf, (size_t)len, fmt, &(struct mb_shape){nf, 1});
		CU_ASSERT_EQUAL(mb_text_next(&c, x, y, &d), 1);
		int r = mb_text_next(&c, x, y, &d);
		if (r != t[i].err || d.reason != t[i].reason || d.line != 2) {
			fprintf(stderr, "\n  \"%s\": got %d/%s line %zu (%s), expected %d/%s\n",
				t[i].line, r, mb_reason_name(d.reason), d.line, d.text, t[i].err,
				mb_reason_name(t[i].reason));
			CU_FAIL("wrong refusal");
		}
		CU_ASSERT(strlen(d.text) > 0);
		CU_ASSERT_EQUAL(mb_text_next(&c, x, y, &d), 1);
		CU_ASSERT_EQUAL(y[0], 7.0f);
		CU_ASSERT_EQUAL(c.line, 3);
		CU_ASSERT_EQUAL(mb_text_next(&c, x, y, &d), 0);
	}
}

static void test_csv_bad_lines(void)
{
	static const struct bad_line t[] = {
		{"1,abc,3", -EINVAL, MB_R_NOT_NUMERIC},
		{"1,,3", -EINVAL, MB_R_NOT_NUMERIC},
		{",2,3", -EINVAL, MB_R_NOT_NUMERIC},
		{"1,1.2.3,3", -EINVAL, MB_R_NOT_NUMERIC},
		{"1,0x1g,3", -EINVAL, MB_R_NOT_NUMERIC},
		{"1,0x10,3", -EINVAL, MB_R_NOT_NUMERIC},
		{"1,2 3,4", -EINVAL, MB_R_NOT_NUMERIC},
		{"1,2,3x", -EINVAL, MB_R_NOT_NUMERIC},
		{"1e,2,3", -EINVAL, MB_R_NOT_NUMERIC},
		{"1,2e+,3", -EINVAL, MB_R_NOT_NUMERIC},
		{"-,2,3", -EINVAL, MB_R_NOT_NUMERIC},
		{".,2,3", -EINVAL, MB_R_NOT_NUMERIC},
		{"1,+-2,3", -EINVAL, MB_R_NOT_NUMERIC},
		{"1,infinite,3", -EINVAL, MB_R_NOT_NUMERIC},
		{"label,pixel1,pixel2", -EINVAL, MB_R_NOT_NUMERIC},
		{"1,2", -EINVAL, MB_R_COLUMNS},
		{"1", -EINVAL, MB_R_COLUMNS},
		{"1,2,3,4", -EINVAL, MB_R_COLUMNS},
		{"1,2,3,", -EINVAL, MB_R_COLUMNS},
		{"1,nan,3", -EDOM, MB_R_NONFINITE},
		{"1,2,NaN", -EDOM, MB_R_NONFINITE},
		{"inf,2,3", -EDOM, MB_R_NONFINITE},
		{"1,-Infinity,3", -EDOM, MB_R_NONFINITE},
		{"1,1e999,3", -EDOM, MB_R_NONFINITE},
		{"1,-1e39,3", -EDOM, MB_R_NONFINITE},
	};
	check_bad_lines(MB_TEXT_CSV, "7,1,2", t, sizeof t / sizeof t[0], 2);
}

/* The column message names both counts. */
static void test_csv_columns_message(void)
{
	const char text[] = "1,2,3\n\n1,2,3,4,5\n";
	struct mb_text_cursor c;
	struct mb_diag d;
	float x[785], y[1];
	mb_text_cursor_init(&c, text, sizeof text - 1, MB_TEXT_CSV, &(struct mb_shape){785, 1});
	CU_ASSERT_EQUAL(mb_text_next(&c, x, y, &d), -EINVAL);
	CU_ASSERT_STRING_EQUAL(d.text, "line 1 has 3 columns, expected 786");
	CU_ASSERT_EQUAL(mb_text_next(&c, x, y, &d), -EINVAL);
	CU_ASSERT_STRING_EQUAL(d.text, "line 3 has 5 columns, expected 786");
	CU_ASSERT_EQUAL(d.line, 3);
	CU_ASSERT_EQUAL(mb_text_next(&c, x, y, &d), 0);
}

static void test_libsvm_bad_lines(void)
{
	static const struct bad_line t[] = {
		{"1 0:1", -ERANGE, MB_R_INDEX_RANGE},
		{"1 6:1", -ERANGE, MB_R_INDEX_RANGE},
		{"1 99999999999999999999999:1", -ERANGE, MB_R_INDEX_RANGE},
		{"1 3:1 2:1", -EINVAL, MB_R_INDEX_ORDER},
		{"1 2:1 2:1", -EINVAL, MB_R_INDEX_ORDER},
		{"1 2:abc", -EINVAL, MB_R_NOT_NUMERIC},
		{"1 2:", -EINVAL, MB_R_NOT_NUMERIC},
		{"1 2", -EINVAL, MB_R_NOT_NUMERIC},
		{"1 a:1", -EINVAL, MB_R_NOT_NUMERIC},
		{"1 -2:1", -EINVAL, MB_R_NOT_NUMERIC},
		{"1 2:1:3", -EINVAL, MB_R_NOT_NUMERIC},
		{"x 2:1", -EINVAL, MB_R_NOT_NUMERIC},
		{"1,2 3:1", -EINVAL, MB_R_NOT_NUMERIC},
		{"1 2:nan", -EDOM, MB_R_NONFINITE},
		{"1 2:-inf", -EDOM, MB_R_NONFINITE},
		{"nan 2:1", -EDOM, MB_R_NONFINITE},
		{"1 2:1e40", -EDOM, MB_R_NONFINITE},
	};
	check_bad_lines(MB_TEXT_LIBSVM, "7 1:1 5:2", t, sizeof t / sizeof t[0], 5);
}

/* A line over MB_MAX_LINE_BYTES is refused whole; the next one decodes. */
static void test_line_too_long(void)
{
	size_t n = MB_MAX_LINE_BYTES + 1;
	char *buf = malloc(n + 16);
	memset(buf, '1', n);
	memcpy(buf + n, "\n3,4\n", 5);
	struct mb_text_cursor c;
	struct mb_diag d;
	float x[1], y[1];
	mb_text_cursor_init(&c, buf, n + 5, MB_TEXT_CSV, &(struct mb_shape){1, 1});
	CU_ASSERT_EQUAL(mb_text_next(&c, x, y, &d), -E2BIG);
	CU_ASSERT_EQUAL(d.reason, MB_R_TOO_BIG);
	CU_ASSERT_EQUAL(d.line, 1);
	CU_ASSERT_EQUAL(mb_text_next(&c, x, y, &d), 1);
	CU_ASSERT_EQUAL(x[0], 4.0f);
	free(buf);
}

/* Buffers with no data line give no row; the caller counts the message as empty. */
static void test_no_data_line(void)
{
	static const char *const texts[] = {"", "\n", "\n\r\n  \n", "# only a comment\n", "#"};
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		struct mb_text_cursor c;
		float x[2], y[1];
		uint32_t nf = 0;
		mb_text_cursor_init(&c, texts[i], strlen(texts[i]), MB_TEXT_CSV, &(struct mb_shape){2, 1});
		CU_ASSERT_EQUAL(mb_text_next(&c, x, y, NULL), 0);
		CU_ASSERT_EQUAL(mb_text_probe_features(texts[i], strlen(texts[i]), MB_TEXT_CSV, 1, &nf),
				-ENODATA);
	}
}

/* Format detection and feature probing look at the first data line only. */
static void test_detect_and_probe(void)
{
	uint32_t nf = 0;
	const char csv[] = "# comment 1:2\n\n3, 1, 2, 5\n1 2:3\n";
	const char svm[] = "#x\n3 1:2 7:1\n";
	CU_ASSERT_EQUAL(mb_text_detect(csv, sizeof csv - 1), MB_TEXT_CSV);
	CU_ASSERT_EQUAL(mb_text_detect(svm, sizeof svm - 1), MB_TEXT_LIBSVM);
	CU_ASSERT_EQUAL(mb_text_detect("1,2,3", 5), MB_TEXT_CSV);
	CU_ASSERT_EQUAL(mb_text_probe_features(csv, sizeof csv - 1, MB_TEXT_CSV, 0, &nf), 0);
	CU_ASSERT_EQUAL(nf, 3);
	CU_ASSERT_EQUAL(mb_text_probe_features(csv, sizeof csv - 1, MB_TEXT_CSV, 2, &nf), 0);
	CU_ASSERT_EQUAL(nf, 2);
	nf = 99;
	CU_ASSERT_EQUAL(mb_text_probe_features(csv, sizeof csv - 1, MB_TEXT_CSV, 4, &nf), -EINVAL);
	CU_ASSERT_EQUAL(nf, 99);
	CU_ASSERT_EQUAL(mb_text_probe_features(svm, sizeof svm - 1, MB_TEXT_LIBSVM, 1, &nf), -EINVAL);
}

/* A cursor without a feature count, or libsvm with several targets, is refused. */
static void test_cursor_shape(void)
{
	struct mb_text_cursor c;
	struct mb_diag d;
	float x[4], y[2];
	mb_text_cursor_init(&c, "1,2", 3, MB_TEXT_CSV, NULL);
	CU_ASSERT_EQUAL(mb_text_next(&c, x, y, &d), -EINVAL);
	mb_text_cursor_init(&c, "1 1:2", 5, MB_TEXT_LIBSVM, &(struct mb_shape){4, 2});
	CU_ASSERT_EQUAL(mb_text_next(&c, x, y, &d), -EINVAL);
	mb_text_cursor_init(&c, "1,2", 3, MB_TEXT_CSV, &(struct mb_shape){MB_MAX_FEATURES + 1, 1});
	CU_ASSERT_EQUAL(mb_text_next(&c, x, y, &d), -E2BIG);
}

/* Number syntax, against the C library's correctly rounded strtof. */
static void test_number_forms(void)
{
	static const char *const forms[] = {
		"0", "-0", "+1", ".5", "5.", "1E3", "1e+3", "2.5e-3", "0.1", "3.40282347e38",
		"1.17549435e-38", "1.4e-45", "7e-46", "1e-50", "0e999", "000000000000000000000000012",
		"123456789012345678901234567890", "0.000000000000000000000000000000000000000000001",
		"9007199254740993", "16777217", "0.30000000000000004", "1.00000005960464477539",
		"1.000000059604644775390625", "340282356779733661637539395458142568447.9",
	};
	for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
		struct mb_text_cursor c;
		float x[1], y[1];
		char line[128];
		int n = snprintf(line, sizeof line, "0,%s", forms[i]);
		mb_text_cursor_init(&c, line, (size_t)n, MB_TEXT_CSV, &(struct mb_shape){1, 1});
		CU_ASSERT_EQUAL_FATAL(mb_text_next(&c, x, y, NULL), 1);
		float want = strtof(forms[i], NULL);
		if (memcmp(&x[0], &want, sizeof want) != 0) {
			fprintf(stderr, "\n  \"%s\": got %.9g, strtof %.9g\n", forms[i], (double)x[0],
				(double)want);
			CU_FAIL("number differs from strtof");
		}
	}
}

/* Random decimal strings of every length and exponent agree with strtof. */
static void test_numbers_match_strtof(void)
{
	uint32_t s = 12345;
	for (int i = 0; i < 200000; i++) {
		char tok[64];
		size_t n = 0;
		if (next_rand(&s) & 1)
			tok[n++] = '-';
		int digits = 1 + (int)(next_rand(&s) % 24);
		int point = (int)(next_rand(&s) % (unsigned)(digits + 1));
		for (int k = 0; k < digits; k++) {
			if (k == point && k)
				tok[n++] = '.';
			tok[n++] = (char)('0' + next_rand(&s) % 10);
		}
		if (next_rand(&s) % 3 == 0)
			n += (size_t)snprintf(tok + n, sizeof tok - n, "e%d", (int)(next_rand(&s) % 90) - 60);
		tok[n] = '\0';
		float want = strtof(tok, NULL);
		if (isinf(want))
			continue;
		struct mb_text_cursor c;
		float x[1], y[1];
		char line[80];
		int ln = snprintf(line, sizeof line, "0,%s", tok);
		mb_text_cursor_init(&c, line, (size_t)ln, MB_TEXT_CSV, &(struct mb_shape){1, 1});
		CU_ASSERT_EQUAL_FATAL(mb_text_next(&c, x, y, NULL), 1);
		if (memcmp(&x[0], &want, sizeof want) != 0) {
			fprintf(stderr, "\n  \"%s\": got %.9g, strtof %.9g\n", tok, (double)x[0],
				(double)want);
			CU_FAIL_FATAL("number differs from strtof");
		}
	}
}

/*
 * Put text at the very end of a readable page followed by a PROT_NONE page:
 * a decoder that reads one byte too far crashes instead of passing.
 */
static void test_no_read_past_end(void)
{
	static const struct {
		const char *text;     /* the whole buffer, without a NUL */
		enum mb_text_fmt fmt; /* how to decode it */
		int want;             /* first result of mb_text_next */
	} cases[] = {
		{"1,2,3", MB_TEXT_CSV, 1},   {"1,2,3.", MB_TEXT_CSV, 1},   {"1,2,3e", MB_TEXT_CSV, -EINVAL},
		{"1,2,3e+", MB_TEXT_CSV, -EINVAL}, {"1,2,-", MB_TEXT_CSV, -EINVAL},
		{"1,2,in", MB_TEXT_CSV, -EINVAL}, {"1,2,nan", MB_TEXT_CSV, -EDOM},
		{"1,2,3 ", MB_TEXT_CSV, 1},  {"1,2,3\r", MB_TEXT_CSV, 1},  {"1,2,", MB_TEXT_CSV, -EINVAL},
		{"1,2", MB_TEXT_CSV, -EINVAL}, {"#", MB_TEXT_CSV, 0},     {" ", MB_TEXT_CSV, 0},
		{"1 2:", MB_TEXT_LIBSVM, -EINVAL}, {"1 2", MB_TEXT_LIBSVM, -EINVAL},
		{"1 2:3e-", MB_TEXT_LIBSVM, -EINVAL}, {"1 2:3", MB_TEXT_LIBSVM, 1},
		{"1 3:1 2", MB_TEXT_LIBSVM, -EINVAL}, {"1 3:1 ", MB_TEXT_LIBSVM, 1},
		{"1", MB_TEXT_LIBSVM, 1},
	};
	long page = sysconf(_SC_PAGESIZE);
	uint8_t *map = mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CU_ASSERT_FATAL(map != MAP_FAILED);
	CU_ASSERT_FATAL(mprotect(map + page, (size_t)page, PROT_NONE) == 0);

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t n = strlen(cases[i].text);
		char *p = (char *)map + page - n;
		memcpy(p, cases[i].text, n);
		struct mb_text_cursor c;
		float x[3], y[1];
		uint32_t nf;
		mb_text_cursor_init(&c, p, n, cases[i].fmt, &(struct mb_shape){cases[i].fmt == MB_TEXT_CSV ? 2 : 3, 1});
		int r = mb_text_next(&c, x, y, NULL);
		if (r != cases[i].want)
			fprintf(stderr, "\n  \"%s\": %d, expected %d\n", cases[i].text, r, cases[i].want);
		CU_ASSERT_EQUAL(r, cases[i].want);
		CU_ASSERT_EQUAL(mb_text_next(&c, x, y, NULL), 0);
		(void)mb_text_detect(p, n);
		(void)mb_text_probe_features(p, n, MB_TEXT_CSV, 1, &nf);
	}
	munmap(map, (size_t)page * 2);
}

/* The encoder refuses a short buffer, non-finite values and a bad libsvm shape. */
static void test_encode_errors(void)
{
	char buf[64];
	float x[3] = {1, 0, 2.5f}, y[2] = {3, 4};
	CU_ASSERT_EQUAL(mb_text_encode(buf, sizeof buf, MB_TEXT_CSV, x, 3, y, 1), 10);
	CU_ASSERT_STRING_EQUAL(buf, "3,1,0,2.5\n");
	CU_ASSERT_EQUAL(mb_text_encode(buf, sizeof buf, MB_TEXT_LIBSVM, x, 3, y, 1), 12);
	CU_ASSERT_STRING_EQUAL(buf, "3 1:1 3:2.5\n");
	CU_ASSERT_EQUAL(mb_text_encode(buf, 10, MB_TEXT_CSV, x, 3, y, 1), -ENOBUFS);
	CU_ASSERT_EQUAL(mb_text_encode(buf, 4, MB_TEXT_CSV, x, 3, y, 1), -ENOBUFS);
	CU_ASSERT_EQUAL(mb_text_encode(buf, sizeof buf, MB_TEXT_LIBSVM, x, 3, y, 2), -EINVAL);
	x[1] = NAN;
	CU_ASSERT_EQUAL(mb_text_encode(buf, sizeof buf, MB_TEXT_CSV, x, 3, y, 1), -EDOM);
}

/* Fashion-MNIST-shaped CSV (label, 784 pixels scaled to 0..1): decoding rate. */
static void test_csv_speed(void)
{
	enum { ROWS = 3000, NF = 784 };
	size_t cap = (size_t)ROWS * (NF + 1) * 16, len = 0;
	char *buf = malloc(cap);
	float *x = malloc(sizeof(float) * NF), y;
	uint32_t s = 7;
	for (int i = 0; i < ROWS; i++) {
		for (int k = 0; k < NF; k++)
			x[k] = next_rand(&s) % 2 ? 0.0f : (float)(next_rand(&s) % 256) * (1.0f / 255.0f);
		y = (float)(i % 10);
		long n = mb_text_encode(buf + len, cap - len, MB_TEXT_CSV, x, NF, &y, 1);
		CU_ASSERT_FATAL(n > 0);
		len += (size_t)n;
	}
	struct timespec t0, t1;
	struct mb_text_cursor c;
	int rows = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	mb_text_cursor_init(&c, buf, len, MB_TEXT_CSV, &(struct mb_shape){NF, 1});
	while (mb_text_next(&c, x, &y, NULL) == 1)
		rows++;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double sec = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
	fprintf(stderr, "\n  CSV: %.1f MB in %.3f s, %.0f MB/s ", (double)len / 1e6, sec,
		(double)len / 1e6 / sec);
	CU_ASSERT_EQUAL(rows, ROWS);
	free(buf);
	free(x);
}

int main(void)
{
	MB_SUITE("sample_text", {"csv_roundtrip", test_csv_roundtrip},
		 {"libsvm_roundtrip", test_libsvm_roundtrip}, {"csv_layout", test_csv_layout},
		 {"libsvm_layout", test_libsvm_layout}, {"csv_bad_lines", test_csv_bad_lines},
		 {"csv_columns_message", test_csv_columns_message},
		 {"libsvm_bad_lines", test_libsvm_bad_lines}, {"line_too_long", test_line_too_long},
		 {"no_data_line", test_no_data_line}, {"detect_and_probe", test_detect_and_probe},
		 {"cursor_shape", test_cursor_shape}, {"number_forms", test_number_forms},
		 {"numbers_match_strtof", test_numbers_match_strtof},
		 {"no_read_past_end", test_no_read_past_end}, {"encode_errors", test_encode_errors},
		 {"csv_speed", test_csv_speed});
	return mb_test_run();
}
