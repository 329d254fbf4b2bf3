/* SPDX-License-Identifier: MIT */
/*
 * sample_text.c - text sample messages: CSV and libsvm lines.
 *
 * The input is a ZeroMQ frame or a file chunk, never NUL-terminated, so
 * every scan here is bounded by an end pointer and numbers are parsed by
 * our own scanner (strtod would also depend on the process locale). Parsing
 * speed matters: feeding a data set as CSV is a common way in.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sample.h"

/* How much of a bad token a diagnostic quotes. */
#define QUOTE_MAX 24

/* Outcome of scanning one number. */
enum num_status {
	NUM_OK,        /* a finite number */
	NUM_BAD,       /* not a decimal number */
	NUM_NONFINITE, /* "nan", "inf", or too large for a float */
};

/* Powers of ten a double holds exactly: the range of the exact fast path. */
static const double pow10_exact[23] = {
	1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

static inline bool is_digit(char ch) { return (unsigned)(ch - '0') < 10; }
static inline bool is_blank(char ch) { return ch == ' ' || ch == '\t'; }
static inline bool is_alpha(char ch) { return (unsigned)((ch | 0x20) - 'a') < 26; }

static const char *skip_blank(const char *s, const char *end)
{
	while (s < end && is_blank(*s))
		s++;
	return s;
}

/* True if [a, b) spells word, ignoring ASCII case. */
static bool word_is(const char *a, const char *b, const char *word)
{
	size_t n = strlen(word);
	if ((size_t)(b - a) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((a[i] | 0x20) != word[i])
			return false;
	return true;
}

/*
 * Scan the longest decimal number at *pp, never reading at or past end:
 * [+-] digits [. digits] [(e|E) [+-] digits], at least one mantissa digit.
 * "nan", "inf" and "infinity" (any case, signed) are recognised so they
 * can be reported as non-finite rather than as not numeric. *pp moves past
 * what was scanned; the caller checks that a delimiter follows.
 */
static enum num_status scan_number(const char **pp, const char *end, float *ret)
{
	const char *s = *pp;
	bool neg = false;
	uint64_t mant = 0;
	int exp10 = 0;
	bool dropped = false;   /* non-zero digits beyond the 19 that mant keeps */
	size_t ndigits;

	if (s < end && (*s == '-' || *s == '+'))
		neg = *s++ == '-';
	const char *d0 = s;
	for (; s < end && is_digit(*s); s++) {
		unsigned d = (unsigned)(*s - '0');
		if (mant < 1000000000000000000ull) {
			mant = mant * 10 + d;
		} else {
			exp10++;
			dropped |= d != 0;
		}
	}
	ndigits = (size_t)(s - d0);
	if (s < end && *s == '.') {
		const char *f0 = ++s;
		for (; s < end && is_digit(*s); s++) {
			unsigned d = (unsigned)(*s - '0');
			if (mant < 1000000000000000000ull) {
				mant = mant * 10 + d;
				exp10--;
			} else {
				dropped |= d != 0;
			}
		}
		ndigits += (size_t)(s - f0);
	}
	if (ndigits == 0) {
		const char *w = s;
		while (s < end && is_alpha(*s))
			s++;
		*pp = s;
		if (word_is(w, s, "nan") || word_is(w, s, "inf") || word_is(w, s, "infinity"))
			return NUM_NONFINITE;
		return NUM_BAD;
	}
	if (s < end && (*s == 'e' || *s == 'E')) {
		bool eneg = false;
		int e = 0;
		s++;
		if (s < end && (*s == '-' || *s == '+'))
			eneg = *s++ == '-';
		const char *e0 = s;
		for (; s < end && is_digit(*s); s++)
			if (e < 100000)    /* far past any float; keeps the sum from overflowing */
				e = e * 10 + (*s - '0');
		if (s == e0) {
			*pp = s;
			return NUM_BAD;
		}
		exp10 += eneg ? -e : e;
	}
	*pp = s;

	float f;
	if (mant == 0) {
		f = 0.0f;
	} else if (!dropped && mant <= (1ull << 53) && exp10 >= -22 && exp10 <= 22) {
		/* Both operands exact, so one correctly rounded double operation. */
		double v = (double)mant;
		f = (float)(exp10 < 0 ? v / pow10_exact[-exp10] : v * pow10_exact[exp10]);
	} else {
		/* Rare: long mantissas, large exponents. Extended precision is ample for a float. */
		long double v = (long double)mant;
		long double p = powl(10.0L, (long double)(exp10 < 0 ? -exp10 : exp10));
		f = (float)(exp10 < 0 ? v / p : v * p);
	}
	if (isinf(f))
		return NUM_NONFINITE;
	*ret = neg ? -f : f;
	return NUM_OK;
}

/* Targets per line: the shape's, where 0 means one. */
static uint32_t targets_of(const struct mb_text_cursor *c)
{
	return c->shape.n_targets ? c->shape.n_targets : 1;
}

/* One data line being decoded, for diagnostics. */
struct line {
	const char *start, *end; /* the line, without '\n' and a trailing '\r' */
	size_t no;               /* 1-based line number */
	struct mb_diag *diag;    /* where to explain a failure, may be NULL */
};

/* Report a token at tok (ending at the first of stop or end) that did not scan. */
static int bad_token(const struct line *l, const char *tok, enum num_status st, const char *what,
		     size_t index)
{
	const char *t = skip_blank(tok, l->end);
	const char *e = t;
	while (e < l->end && *e != ',' && !is_blank(*e))
		e++;
	int n = (int)(e - t > QUOTE_MAX ? QUOTE_MAX : e - t);
	const char *more = e - t > QUOTE_MAX ? "..." : "";
	size_t col = (size_t)(t - l->start);

	if (st == NUM_NONFINITE)
		return mb_diag_set(l->diag, -EDOM, MB_R_NONFINITE, l->no, col,
				   "line %zu, %s %zu: \"%.*s%s\" is not a finite number", l->no, what,
				   index, n, t, more);
	return mb_diag_set(l->diag, -EINVAL, MB_R_NOT_NUMERIC, l->no, col,
			   "line %zu, %s %zu: \"%.*s%s\" is not a number", l->no, what, index, n, t,
			   more);
}

/* Columns of a CSV line: one more than its commas. */
static size_t csv_columns(const char *s, const char *end)
{
	size_t n = 1;
	while ((s = memchr(s, ',', (size_t)(end - s))) != NULL) {
		n++;
		s++;
	}
	return n;
}

/*
 * Decode n comma-separated fields from *ps into out; column numbers (for
 * messages) start at col0. A field is followed by a comma, or by the end of
 * the line when it is the last one; either way the column count is
 * checked.
 */
static int csv_fields(const struct line *l, const char **ps, float *out, uint32_t n, uint32_t col0,
		      uint32_t ncol)
{
	const char *s = *ps;

	for (uint32_t k = 0; k < n; k++) {
		uint32_t col = col0 + k;
		const char *f = s;
		s = skip_blank(s, l->end);
		enum num_status st = scan_number(&s, l->end, &out[k]);
		s = skip_blank(s, l->end);
		if (st == NUM_OK && s < l->end && *s != ',')
			st = NUM_BAD;
		if (st != NUM_OK)
			return bad_token(l, f, st, "column", col + 1);
		if (col + 1 == ncol) {
			if (s < l->end)
				return mb_diag_set(l->diag, -EINVAL, MB_R_COLUMNS, l->no, 0,
						   "line %zu has %zu columns, expected %u", l->no,
						   ncol + csv_columns(s + 1, l->end), ncol);
		} else {
			if (s == l->end)
				return mb_diag_set(l->diag, -EINVAL, MB_R_COLUMNS, l->no, 0,
						   "line %zu has %u columns, expected %u", l->no,
						   col + 1, ncol);
			s++;    /* the comma */
		}
	}
	*ps = s;
	return 0;
}

static int parse_csv(const struct mb_text_cursor *c, const struct line *l, float *x, float *y)
{
	uint32_t nt = targets_of(c), nf = c->shape.n_features;
	uint32_t ncol = nt + nf;
	const char *s = l->start;
	int err = csv_fields(l, &s, y, nt, 0, ncol);
	if (err < 0)
		return err;
	return csv_fields(l, &s, x, nf, nt, ncol);
}

/* Scan a libsvm index: decimal digits, saturating far above any valid index. */
static bool scan_index(const char **pp, const char *end, uint64_t *ret)
{
	const char *s = *pp;
	uint64_t v = 0;
	for (; s < end && is_digit(*s); s++)
		if (v <= MB_MAX_FEATURES)
			v = v * 10 + (uint64_t)(*s - '0');
	if (s == *pp)
		return false;
	*pp = s;
	*ret = v;
	return true;
}

static int parse_libsvm(const struct mb_text_cursor *c, const struct line *l, float *x, float *y)
{
	uint32_t nf = c->shape.n_features;
	const char *s = skip_blank(l->start, l->end);
	const char *tok = s;
	enum num_status st = scan_number(&s, l->end, &y[0]);
	if (st == NUM_OK && s < l->end && !is_blank(*s))
		st = NUM_BAD;
	if (st != NUM_OK)
		return bad_token(l, tok, st, "label", 1);

	memset(x, 0, (size_t)nf * sizeof *x);
	uint64_t prev = 0;
	for (size_t pair = 1;; pair++) {
		s = skip_blank(s, l->end);
		if (s == l->end)
			return 0;
		tok = s;
		uint64_t idx;
		if (!scan_index(&s, l->end, &idx) || s == l->end || *s != ':')
			return bad_token(l, tok, NUM_BAD, "pair", pair);
		size_t col = (size_t)(tok - l->start);
		if (idx == 0 || idx > nf)
			return mb_diag_set(l->diag, -ERANGE, MB_R_INDEX_RANGE, l->no, col,
					   "line %zu: feature index %llu is outside 1..%u", l->no,
					   (unsigned long long)idx, nf);
		if (idx <= prev)
			return mb_diag_set(l->diag, -EINVAL, MB_R_INDEX_ORDER, l->no, col,
					   "line %zu: feature index %llu follows %llu, indices must ascend",
					   l->no, (unsigned long long)idx, (unsigned long long)prev);
		prev = idx;
		s++;    /* the colon */
		st = scan_number(&s, l->end, &x[idx - 1]);
		if (st == NUM_OK && s < l->end && !is_blank(*s))
			st = NUM_BAD;
		if (st != NUM_OK)
			return bad_token(l, tok, st, "pair", pair);
	}
}

/*
 * The next line from *p: its bounds without '\n' and one trailing '\r'.
 * Returns false at the end of the buffer.
 */
static bool next_line(const char **p, const char *end, const char **ret_start, const char **ret_end)
{
	if (*p >= end)
		return false;
	const char *s = *p;
	const char *nl = memchr(s, '\n', (size_t)(end - s));
	const char *e = nl ? nl : end;
	*p = nl ? nl + 1 : end;
	*ret_start = s;
	if (e > s && e[-1] == '\r')
		e--;
	*ret_end = e;
	return true;
}

/* True for a line that holds no sample: blank, or a '#' comment. */
static bool is_skipped(const char *s, const char *e)
{
	s = skip_blank(s, e);
	return s == e || *s == '#';
}

/* The first data line of buf, or false when there is none. */
static bool first_data_line(const char *p, const char *end, const char **ret_start, const char **ret_end)
{
	const char *s, *e;
	while (next_line(&p, end, &s, &e))
		if (!is_skipped(s, e)) {
			*ret_start = s;
			*ret_end = e;
			return true;
		}
	return false;
}

/* Defaults to CSV when nothing looks like libsvm, including an empty buffer. */
enum mb_text_fmt mb_text_detect(const void *buf, size_t len)
{
	const char *s, *e;
	if (!first_data_line(buf, (const char *)buf + len, &s, &e))
		return MB_TEXT_CSV;
	s = skip_blank(s, e);
	while (s < e && !is_blank(*s))
		s++;
	s = skip_blank(s, e);
	while (s < e && !is_blank(*s))
		if (*s++ == ':')
			return MB_TEXT_LIBSVM;
	return MB_TEXT_CSV;
}

/* Counts commas only; the values are checked when the line is decoded. */
int mb_text_probe_features(const void *buf, size_t len, enum mb_text_fmt fmt, uint32_t n_targets,
			   uint32_t *ret)
{
	const char *s, *e;
	uint32_t nt = n_targets ? n_targets : 1;

	if (fmt != MB_TEXT_CSV)
		return -EINVAL;
	if (!first_data_line(buf, (const char *)buf + len, &s, &e))
		return -ENODATA;
	if ((size_t)(e - s) > MB_MAX_LINE_BYTES)
		return -E2BIG;
	size_t cols = csv_columns(s, e);
	if (cols <= nt)
		return -EINVAL;
	if (cols - nt > MB_MAX_FEATURES)
		return -E2BIG;
	*ret = (uint32_t)(cols - nt);
	return 0;
}

/* Copies the shape, so the caller's may go away. */
void mb_text_cursor_init(struct mb_text_cursor *c, const void *buf, size_t len,
			 enum mb_text_fmt fmt, const struct mb_shape *shape)
{
	c->p = buf;
	c->end = (const char *)buf + len;
	c->line = 0;
	c->fmt = fmt;
	c->shape.n_features = shape ? shape->n_features : 0;
	c->shape.n_targets = shape ? shape->n_targets : 0;
}

/* A cursor whose shape or format cannot decode anything: -errno with *diag. */
static int check_cursor(const struct mb_text_cursor *c, struct mb_diag *diag)
{
	uint32_t nt = targets_of(c);

	if (c->shape.n_features == 0)
		return mb_diag_set(diag, -EINVAL, MB_R_DIM_MISMATCH, 0, 0,
				   "the number of features is not set");
	if (c->shape.n_features > MB_MAX_FEATURES || nt > MB_MAX_TARGETS)
		return mb_diag_set(diag, -E2BIG, MB_R_TOO_BIG, 0, 0,
				   "%u features and %u targets exceed the limits %u and %u",
				   c->shape.n_features, nt, MB_MAX_FEATURES, MB_MAX_TARGETS);
	if (c->fmt == MB_TEXT_LIBSVM && nt != 1)
		return mb_diag_set(diag, -EINVAL, MB_R_DIM_MISMATCH, 0, 0,
				   "libsvm lines carry one label, not %u targets", nt);
	if (c->fmt != MB_TEXT_CSV && c->fmt != MB_TEXT_LIBSVM)
		return mb_diag_set(diag, -EINVAL, MB_R_ELEM_TYPE, 0, 0, "unknown text format %d",
				   (int)c->fmt);
	return 0;
}

/* Skip blank and comment lines, decode the first data line. */
int mb_text_next(struct mb_text_cursor *c, float *x, float *y, struct mb_diag *diag)
{
	int err = check_cursor(c, diag);
	if (err < 0)
		return err;

	struct line l = {.diag = diag};
	while (next_line(&c->p, c->end, &l.start, &l.end)) {
		l.no = ++c->line;
		size_t n = (size_t)(l.end - l.start);
		if (n > MB_MAX_LINE_BYTES)
			return mb_diag_set(diag, -E2BIG, MB_R_TOO_BIG, l.no, 0,
					   "line %zu has %zu bytes, the limit is %u", l.no, n,
					   MB_MAX_LINE_BYTES);
		if (is_skipped(l.start, l.end))
			continue;
		err = c->fmt == MB_TEXT_CSV ? parse_csv(c, &l, x, y) : parse_libsvm(c, &l, x, y);
		return err < 0 ? err : 1;
	}
	return 0;
}

/* Append one value with %.9g (enough digits to give the same float back). */
static bool put_value(char *buf, size_t cap, size_t *len, const char *prefix, uint32_t index,
		      float v)
{
	char tmp[48];
	int n = index ? snprintf(tmp, sizeof tmp, "%s%u:%.9g", prefix, index, (double)v)
		      : snprintf(tmp, sizeof tmp, "%s%.9g", prefix, (double)v);
	if (n < 0 || (size_t)n >= cap - *len)
		return false;
	memcpy(buf + *len, tmp, (size_t)n);
	*len += (size_t)n;
	return true;
}

/* Lines that mb_text_next decodes to the same floats. */
long mb_text_encode(char *buf, size_t cap, enum mb_text_fmt fmt, const float *x, uint32_t n_features,
		    const float *y, uint32_t n_targets)
{
	size_t len = 0;

	if ((fmt != MB_TEXT_CSV && fmt != MB_TEXT_LIBSVM) || n_features == 0 ||
	    (fmt == MB_TEXT_LIBSVM && n_targets != 1) || (n_targets && !y))
		return -EINVAL;
	for (uint32_t k = 0; k < n_targets; k++)
		if (!isfinite(y[k]))
			return -EDOM;
	for (uint32_t k = 0; k < n_features; k++)
		if (!isfinite(x[k]))
			return -EDOM;
	if (cap == 0)
		return -ENOBUFS;

	for (uint32_t k = 0; k < n_targets; k++)
		if (!put_value(buf, cap, &len, k ? "," : "", 0, y[k]))
			return -ENOBUFS;
	for (uint32_t k = 0; k < n_features; k++) {
		bool ok;
		if (fmt == MB_TEXT_CSV)
			ok = put_value(buf, cap, &len, len ? "," : "", 0, x[k]);
		else
			ok = x[k] == 0.0f || put_value(buf, cap, &len, " ", k + 1, x[k]);
		if (!ok)
			return -ENOBUFS;
	}
	if (cap - len < 2)
		return -ENOBUFS;
	buf[len++] = '\n';
	buf[len] = '\0';
	return (long)len;
}
