/* SPDX-License-Identifier: MIT */
/*
 * fuzz_sample_text.c - the CSV and libsvm decoders against arbitrary text.
 *
 * The first byte picks the format (bit 0: CSV or libsvm), the feature count
 * (bits 1-6: 1..64) and the targets (bit 7: the default single target, or
 * three); the rest is the message, not NUL-terminated, so a parser that
 * reads past the end trips AddressSanitizer. The cursor must make progress
 * on every line, good or bad, hand out only finite values, and a decoded
 * row must survive mb_text_encode and decode again unchanged.
 */
#include <math.h>
#include <string.h>

#include "fuzz.h"
#include "sample.h"

#define MAX_FEATURES 64u
#define MAX_TARGETS 3u
/* Room for one encoded value: libsvm "64:" and a float in full precision. */
#define VALUE_CHARS 48u

/* A line mb_text_encode wrote must decode to the very same values. */
static void check_roundtrip(enum mb_text_fmt fmt, const struct mb_shape *shape, uint32_t n_targets,
			    const float *x, const float *y)
{
	char line[(MAX_FEATURES + MAX_TARGETS) * VALUE_CHARS];
	long n = mb_text_encode(line, sizeof line, fmt, x, shape->n_features, y, n_targets);
	MB_FUZZ_CHECK(n > 0 && (size_t)n <= sizeof line);
	MB_FUZZ_CHECK(line[n - 1] == '\n');

	struct mb_text_cursor c;
	struct mb_diag diag;
	float x2[MAX_FEATURES], y2[MAX_TARGETS];
	mb_fuzz_diag_clear(&diag);
	mb_text_cursor_init(&c, line, (size_t)n, fmt, shape);
	int rc = mb_text_next(&c, x2, y2, &diag);
	if (rc != 1)
		fprintf(stderr, "re-encoded line refused (%s): %.*s", diag.text, (int)n, line);
	MB_FUZZ_CHECK(rc == 1);
	for (uint32_t j = 0; j < shape->n_features; j++)
		MB_FUZZ_CHECK(x2[j] == x[j]);
	for (uint32_t j = 0; j < n_targets; j++)
		MB_FUZZ_CHECK(y2[j] == y[j]);
	MB_FUZZ_CHECK(mb_text_next(&c, x2, y2, &diag) == 0);
}

/* Walk every line of the message, checking the cursor after each. */
static void walk(const char *buf, size_t len, enum mb_text_fmt fmt, const struct mb_shape *shape,
		 uint32_t n_targets)
{
	struct mb_text_cursor c;
	mb_text_cursor_init(&c, buf, len, fmt, shape);
	for (;;) {
		float x[MAX_FEATURES], y[MAX_TARGETS];
		struct mb_diag diag;
		const char *before = c.p;
		size_t line = c.line;
		for (uint32_t j = 0; j < MAX_FEATURES; j++)
			x[j] = NAN;
		for (uint32_t j = 0; j < MAX_TARGETS; j++)
			y[j] = NAN;
		mb_fuzz_diag_clear(&diag);
		int rc = mb_text_next(&c, x, y, &diag);
		MB_FUZZ_CHECK(c.end == buf + len);
		MB_FUZZ_CHECK(c.p >= before && c.p <= c.end);
		if (rc < 0 && diag.line == 0) {
			/* The shape itself is refused (libsvm has one label): no line was read. */
			mb_fuzz_check_reject(rc, &diag);
			MB_FUZZ_CHECK(c.p == before && c.line == line);
			MB_FUZZ_CHECK(fmt == MB_TEXT_LIBSVM && n_targets != 1);
			return;
		}
		if (rc == 0) {
			MB_FUZZ_CHECK(c.p == c.end);
			return;
		}
		MB_FUZZ_CHECK(c.p > before);
		MB_FUZZ_CHECK(c.line > line);
		if (rc < 0) {
			mb_fuzz_check_reject(rc, &diag);
			MB_FUZZ_CHECK(diag.line > line && diag.line <= c.line);
			continue;
		}
		MB_FUZZ_CHECK(rc == 1);
		MB_FUZZ_CHECK(mb_fuzz_all_finite(x, shape->n_features));
		MB_FUZZ_CHECK(mb_fuzz_all_finite(y, n_targets));
		check_roundtrip(fmt, shape, n_targets, x, y);
	}
}

/*
 * The feature count a CSV probe reports is the one the first line has: a
 * cursor expecting that many must not call that line's columns wrong.
 */
static void check_probe(const char *buf, size_t len, enum mb_text_fmt fmt, uint32_t n_targets)
{
	uint32_t n = 0xa5a5a5a5u;
	int rc = mb_text_probe_features(buf, len, fmt, n_targets, &n);
	if (rc < 0) {
		MB_FUZZ_CHECK(n == 0xa5a5a5a5u);
		return;
	}
	MB_FUZZ_CHECK(n >= 1 && n <= MB_MAX_FEATURES);
	if (fmt != MB_TEXT_CSV || n > len)
		return;
	struct mb_shape shape = {n, n_targets};
	struct mb_text_cursor c;
	struct mb_diag diag;
	float *x = malloc((size_t)n * sizeof *x);
	float y[MAX_TARGETS];
	MB_FUZZ_CHECK(x != NULL);
	mb_fuzz_diag_clear(&diag);
	mb_text_cursor_init(&c, buf, len, fmt, &shape);
	rc = mb_text_next(&c, x, y, &diag);
	MB_FUZZ_CHECK(rc >= 0 || diag.reason != MB_R_COLUMNS);
	free(x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	enum mb_text_fmt fmt = data[0] & 1 ? MB_TEXT_LIBSVM : MB_TEXT_CSV;
	uint32_t n_targets = data[0] & 0x80 ? MAX_TARGETS : 0;
	struct mb_shape shape = {((data[0] >> 1) & 0x3f) + 1u, n_targets};
	const char *buf = (const char *)data + 1;
	size_t len = size - 1;

	enum mb_text_fmt guess = mb_text_detect(buf, len);
	MB_FUZZ_CHECK(guess == MB_TEXT_CSV || guess == MB_TEXT_LIBSVM);
	check_probe(buf, len, fmt, n_targets ? n_targets : 1);
	walk(buf, len, fmt, &shape, n_targets ? n_targets : 1);
	return 0;
}
