/* SPDX-License-Identifier: MIT */
/*
 * test_ctl_json.c - the JSON reader minibatchctl shows control replies
 * with: every figure named by its path, hostile replies refused whole.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "test.h"

/* The scalars of a walk, "path=value" one per line. */
struct seen {
	char text[1024]; /* gathered lines */
	size_t len;      /* bytes used */
};

static void collect(const char *path, const char *value, bool is_string, void *arg)
{
	struct seen *s = arg;
	int n = snprintf(s->text + s->len, sizeof s->text - s->len, "%s=%s%s\n", path, is_string ? "s:" : "",
			 value);
	if (n > 0 && s->len + (size_t)n < sizeof s->text)
		s->len += (size_t)n;
}

/* A status-like reply with a nested array of objects. */
static void test_paths(void)
{
	const char *reply = " {\"ok\":true, \"state\":\"running\",\"cost\":null,\"accuracy\":0.8414,"
			    "\"sources\":[{\"name\":\"default\",\"rejected_by\":{\"crc\":0}},{\"name\":\"b\"}],"
			    "\"empty\":{}, \"list\":[]}\n";
	struct seen s = {0};
	CU_ASSERT_EQUAL(ctl_json_walk(reply, collect, &s), 0);
	CU_ASSERT_STRING_EQUAL(s.text, "ok=true\nstate=s:running\ncost=null\naccuracy=0.8414\n"
				       "sources[0].name=s:default\nsources[0].rejected_by.crc=0\n"
				       "sources[1].name=s:b\n");
	char buf[32];
	CU_ASSERT_EQUAL(ctl_json_get(reply, "sources[1].name", buf, sizeof buf), 0);
	CU_ASSERT_STRING_EQUAL(buf, "b");
	CU_ASSERT_EQUAL(ctl_json_get(reply, "ok", buf, sizeof buf), 0);
	CU_ASSERT_STRING_EQUAL(buf, "true");
	CU_ASSERT_EQUAL(ctl_json_get(reply, "missing", buf, sizeof buf), -ENOENT);
}

/* Escapes come out as the characters they stand for; long values are cut, not overrun. */
static void test_strings(void)
{
	char buf[64];
	CU_ASSERT_EQUAL(ctl_json_get("{\"error\":\"a \\\"b\\\"\\n\\u00e9\\u0041\"}", "error", buf, sizeof buf), 0);
	CU_ASSERT_STRING_EQUAL(buf, "a \"b\"\n\xc3\xa9" "A");
	char small[4];
	CU_ASSERT_EQUAL(ctl_json_get("{\"k\":\"abcdefgh\"}", "k", small, sizeof small), 0);
	CU_ASSERT_STRING_EQUAL(small, "abc");
}

/* Anything that is not one whole JSON value is refused. */
static void test_refuses(void)
{
	static const char *const bad[] = {
		"", "{", "{\"a\":}", "{\"a\" 1}", "{\"a\":1,}", "[1 2]", "{\"a\":\"x}", "{\"a\":tru}",
		"{\"a\":1} x", "{a:1}", "{\"a\":\"\\q\"}", "{\"a\":\"\\u12g4\"}", "{\"a\":-}",
		"{\"a\":\"line\nbreak\"}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char buf[16];
		int r = ctl_json_get(bad[i], "a", buf, sizeof buf);
		if (r != -EBADMSG)
			fprintf(stderr, "accepted: %s\n", bad[i]);
		CU_ASSERT_EQUAL(r, -EBADMSG);
	}
	/* Nesting deeper than any reply is refused rather than recursed into. */
	char deep[256];
	memset(deep, '[', 100);
	memset(deep + 100, ']', 100);
	deep[200] = '\0';
	CU_ASSERT_EQUAL(ctl_json_walk(deep, NULL, NULL), -EBADMSG);
	CU_ASSERT_EQUAL(ctl_json_walk("[[[[1]]]]", NULL, NULL), 0);
}

int main(void)
{
	MB_SUITE("ctl_json",
		 {"paths", test_paths},
		 {"strings", test_strings},
		 {"refuses", test_refuses});
	return mb_test_run();
}
