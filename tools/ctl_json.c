/* SPDX-License-Identifier: MIT */
/*
 * ctl_json.c - just enough JSON to read the daemon's control replies.
 *
 * The replies are small objects of figures; minibatchctl shows them one
 * figure a line, so the reader walks the document and names every scalar
 * by its path ("samples", "sources[1].rejected") instead of building a tree.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

/* Deepest nesting accepted; replies are two or three levels deep. */
#define MAX_DEPTH 32
/* Longest path and scalar kept; longer ones are cut, never overrun. */
#define MAX_PATH 512
#define MAX_VALUE 4096

struct reader {
	const char *p;          /* next unread character */
	ctl_json_fn fn;         /* called for each scalar */
	void *arg;              /* its argument */
	char path[MAX_PATH];    /* path of the value being read */
	size_t plen;            /* its length */
	int depth;              /* containers open */
};

static void skip_ws(struct reader *r)
{
	while (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r')
		r->p++;
}

/* Append c to out (of cap bytes, n used), dropping what does not fit. */
static void put_char(char *out, size_t cap, size_t *n, char c)
{
	if (*n + 1 < cap)
		out[(*n)++] = c;
}

static void put_utf8(char *out, size_t cap, size_t *n, unsigned cp)
{
	if (cp < 0x80) {
		put_char(out, cap, n, (char)cp);
	} else if (cp < 0x800) {
		put_char(out, cap, n, (char)(0xC0 | cp >> 6));
		put_char(out, cap, n, (char)(0x80 | (cp & 0x3F)));
	} else {
		put_char(out, cap, n, (char)(0xE0 | cp >> 12));
		put_char(out, cap, n, (char)(0x80 | (cp >> 6 & 0x3F)));
		put_char(out, cap, n, (char)(0x80 | (cp & 0x3F)));
	}
}

/* Read a string at r->p (on its quote) into out, unescaped. */
static int read_string(struct reader *r, char *out, size_t cap)
{
	size_t n = 0;
	r->p++;
	for (;;) {
		char c = *r->p++;
		if (c == '"')
			break;
		if (c == '\0' || (unsigned char)c < 0x20)
			return -EBADMSG;
		if (c != '\\') {
			put_char(out, cap, &n, c);
			continue;
		}
		c = *r->p++;
		switch (c) {
		case '"': case '\\': case '/': put_char(out, cap, &n, c); break;
		case 'b': put_char(out, cap, &n, '\b'); break;
		case 'f': put_char(out, cap, &n, '\f'); break;
		case 'n': put_char(out, cap, &n, '\n'); break;
		case 'r': put_char(out, cap, &n, '\r'); break;
		case 't': put_char(out, cap, &n, '\t'); break;
		case 'u': {
			unsigned cp = 0;
			for (int i = 0; i < 4; i++) {
				char h = *r->p++;
				unsigned d = h >= '0' && h <= '9' ? (unsigned)(h - '0')
					   : h >= 'a' && h <= 'f' ? (unsigned)(h - 'a' + 10)
					   : h >= 'A' && h <= 'F' ? (unsigned)(h - 'A' + 10) : 16u;
				if (d == 16)
					return -EBADMSG;
				cp = cp << 4 | d;
			}
			/* Surrogate halves have no meaning alone; show them as '?'. */
			put_utf8(out, cap, &n, cp >= 0xD800 && cp < 0xE000 ? '?' : cp);
			break;
		}
		default:
			return -EBADMSG;
		}
	}
	if (cap)
		out[n] = '\0';
	return 0;
}

/* Read a number, true, false or null as its text. */
static int read_bare(struct reader *r, char *out, size_t cap)
{
	static const char *const words[] = {"true", "false", "null"};
	for (size_t i = 0; i < 3; i++) {
		size_t len = strlen(words[i]);
		if (!strncmp(r->p, words[i], len)) {
			snprintf(out, cap, "%s", words[i]);
			r->p += len;
			return 0;
		}
	}
	char *end;
	strtod(r->p, &end);
	if (end == r->p || !(*r->p == '-' || (*r->p >= '0' && *r->p <= '9')))
		return -EBADMSG;
	snprintf(out, cap, "%.*s", (int)(end - r->p), r->p);
	r->p = end;
	return 0;
}

static int read_value(struct reader *r);

/* Extend the path with a member name or an index; returns the old length. */
static size_t path_push(struct reader *r, const char *key, long index)
{
	size_t old = r->plen;
	int n;
	if (key)
		n = snprintf(r->path + old, sizeof r->path - old, "%s%s", old ? "." : "", key);
	else
		n = snprintf(r->path + old, sizeof r->path - old, "[%ld]", index);
	if (n > 0)
		r->plen = old + (size_t)n < sizeof r->path ? old + (size_t)n : sizeof r->path - 1;
	return old;
}

static void path_pop(struct reader *r, size_t old)
{
	r->plen = old;
	r->path[old] = '\0';
}

static int read_object(struct reader *r)
{
	r->p++;
	skip_ws(r);
	if (*r->p == '}') {
		r->p++;
		return 0;
	}
	for (;;) {
		char key[MAX_PATH];
		skip_ws(r);
		if (*r->p != '"' || read_string(r, key, sizeof key) < 0)
			return -EBADMSG;
		skip_ws(r);
		if (*r->p++ != ':')
			return -EBADMSG;
		size_t old = path_push(r, key, 0);
		int e = read_value(r);
		path_pop(r, old);
		if (e < 0)
			return e;
		skip_ws(r);
		if (*r->p == ',') {
			r->p++;
			continue;
		}
		if (*r->p++ != '}')
			return -EBADMSG;
		return 0;
	}
}

static int read_array(struct reader *r)
{
	r->p++;
	skip_ws(r);
	if (*r->p == ']') {
		r->p++;
		return 0;
	}
	for (long i = 0;; i++) {
		size_t old = path_push(r, NULL, i);
		int e = read_value(r);
		path_pop(r, old);
		if (e < 0)
			return e;
		skip_ws(r);
		if (*r->p == ',') {
			r->p++;
			continue;
		}
		if (*r->p++ != ']')
			return -EBADMSG;
		return 0;
	}
}

static int read_value(struct reader *r)
{
	char value[MAX_VALUE];
	int e;
	skip_ws(r);
	if (*r->p == '{' || *r->p == '[') {
		if (++r->depth > MAX_DEPTH)
			return -EBADMSG;
		e = *r->p == '{' ? read_object(r) : read_array(r);
		r->depth--;
		return e;
	}
	bool is_string = *r->p == '"';
	e = is_string ? read_string(r, value, sizeof value) : read_bare(r, value, sizeof value);
	if (e < 0)
		return e;
	if (r->fn)
		r->fn(r->path, value, is_string, r->arg);
	return 0;
}

/* Call fn for each scalar of json, in document order. */
int ctl_json_walk(const char *json, ctl_json_fn fn, void *arg)
{
	struct reader r = {.p = json, .fn = fn, .arg = arg};
	int e = read_value(&r);
	if (e < 0)
		return e;
	skip_ws(&r);
	return *r.p ? -EBADMSG : 0;
}

/* What ctl_json_get looks for and where it puts it. */
struct lookup {
	const char *path; /* wanted path */
	char *buf;        /* where its value goes */
	size_t cap;       /* bytes of buf */
	bool found;       /* seen */
};

static void lookup_one(const char *path, const char *value, bool is_string, void *arg)
{
	struct lookup *l = arg;
	(void)is_string;
	if (!l->found && !strcmp(path, l->path)) {
		snprintf(l->buf, l->cap, "%s", value);
		l->found = true;
	}
}

/* The scalar named path, as text. */
int ctl_json_get(const char *json, const char *path, char *buf, size_t cap)
{
	struct lookup l = {.path = path, .buf = buf, .cap = cap};
	int e = ctl_json_walk(json, lookup_one, &l);
	if (e < 0)
		return e;
	return l.found ? 0 : -ENOENT;
}
