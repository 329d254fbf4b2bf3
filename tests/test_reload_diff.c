/* SPDX-License-Identifier: MIT */
/*
 * test_reload_diff.c - what a reload may change, and what it refuses.
 *
 * The optimizer's rate, schedule and parameters, the publishing cadences
 * and the log level change live; anything else that differs (the model's
 * shape, a source, an endpoint, the batch size) refuses the reload with
 * the key and where its new value came from. Values that read the same
 * ("0.050" and "0.05", "yes" and "true") are no change at all.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "reload.h"
#include "test.h"

/* A finished configuration from "key=value" texts, each from line i+1 of "t.conf". */
static struct mb_config *make(const char *const *kv)
{
	struct mb_config *c = NULL;
	struct mb_cfg_err err;
	CU_ASSERT_FATAL(mb_config_new(&c) == 0);
	for (unsigned i = 0; kv && kv[i]; i++) {
		const char *eq = strchr(kv[i], '=');
		char key[128];
		snprintf(key, sizeof key, "%.*s", (int)(eq - kv[i]), kv[i]);
		struct mb_cfg_origin o = {"t.conf", i + 1};
		if (mb_config_set(c, key, eq + 1, &o, &err) < 0)
			fprintf(stderr, "%s\n", err.text);
	}
	if (mb_config_finish(c, &err) < 0)
		fprintf(stderr, "%s\n", err.text);
	return c;
}

static const char *const base[] = {"source.in.type=zmq", "source.in.endpoint=ipc://in", "model.kind=mlp",
				   "model.hidden=128,64", "optimizer.lr=0.05", NULL};

/* Diff base against base with extra appended; the changed keys joined by ',' or the error. */
static int diff(const char *const *next_kv, char *out, size_t cap)
{
	struct mb_config *a = make(base), *b = make(next_kv);
	struct mb_reload_changes ch;
	struct mb_cfg_err err = {""};
	int r = mb_reload_diff(a, b, &ch, &err);
	out[0] = '\0';
	if (r == 0) {
		size_t len = 0;
		for (unsigned i = 0; i < ch.n; i++)
			len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? "," : "", ch.keys[i]);
	} else {
		snprintf(out, cap, "%s", err.text);
	}
	mb_config_free(a);
	mb_config_free(b);
	return r;
}

static void diff_live_keys(void)
{
	char out[1024];
	CU_ASSERT(diff(base, out, sizeof out) == 0);
	CU_ASSERT_STRING_EQUAL(out, "");

	const char *lr[] = {"source.in.type=zmq", "source.in.endpoint=ipc://in", "model.kind=mlp",
			    "model.hidden=128,64", "optimizer.lr=0.01", NULL};
	CU_ASSERT(diff(lr, out, sizeof out) == 0);
	CU_ASSERT_STRING_EQUAL(out, "optimizer.lr");

	/* Several at once, reported in the order of the key table. */
	const char *many[] = {"log.level=debug", "publish.every_ms=250", "optimizer.schedule=cosine",
			      "optimizer.cosine_steps=500", "source.in.type=zmq", "source.in.endpoint=ipc://in",
			      "model.kind=mlp", "model.hidden=128,64", "optimizer.lr=0.2",
			      "publish.every_batches=7", "optimizer.momentum=0.5", NULL};
	CU_ASSERT(diff(many, out, sizeof out) == 0);
	CU_ASSERT_STRING_EQUAL(out, "optimizer.lr,optimizer.momentum,optimizer.schedule,optimizer.cosine_steps,"
				    "publish.every_batches,publish.every_ms,log.level");

	/* A key removed from the file goes back to its default: that is a change too. */
	const char *dropped[] = {"source.in.type=zmq", "source.in.endpoint=ipc://in", "model.kind=mlp",
				 "model.hidden=128,64", NULL};
	CU_ASSERT(diff(dropped, out, sizeof out) == 0);
	CU_ASSERT_STRING_EQUAL(out, ""); /* 0.05 is also the default */
	const char *mom[] = {"optimizer.momentum=0.5", NULL};
	struct mb_config *a = make(mom), *b = make(NULL);
	struct mb_reload_changes ch;
	struct mb_cfg_err err;
	CU_ASSERT(mb_reload_diff(a, b, &ch, &err) == 0);
	CU_ASSERT(ch.n == 1 && strcmp(ch.keys[0], "optimizer.momentum") == 0);
	mb_config_free(a);
	mb_config_free(b);
}

static void diff_same_meaning_is_no_change(void)
{
	char out[1024];
	const char *same[] = {"source.in.type=zmq", "source.in.endpoint= ipc://in ", "model.kind=mlp",
			      "model.hidden=128, 64", "optimizer.lr=0.050", "daemon.exit_when_idle=no",
			      "batch.size=064", "source.in.bind=yes", NULL};
	CU_ASSERT(diff(same, out, sizeof out) == 0);
	CU_ASSERT_STRING_EQUAL(out, "");
}

static void diff_refuses_with_key(void)
{
	static const struct {
		const char *change; /* appended to base: a later value wins */
		const char *error;  /* what the refusal says */
	} cases[] = {
		{"model.kind=softmax", "t.conf:6: model.kind: cannot change while the daemon runs (restart it to apply)"},
		{"model.hidden=128", "t.conf:6: model.hidden: cannot change"},
		{"model.inputs=784", "t.conf:6: model.inputs: cannot change"},
		{"model.outputs=3", "t.conf:6: model.outputs: cannot change"},
		{"optimizer.kind=adam", "t.conf:6: optimizer.kind: cannot change"},
		{"batch.size=32", "t.conf:6: batch.size: cannot change"},
		{"batch.linger_ms=100", "t.conf:6: batch.linger_ms: cannot change"},
		{"publish.endpoint=ipc://other", "t.conf:6: publish.endpoint: cannot change"},
		{"control.endpoint=ipc://ctl2", "t.conf:6: control.endpoint: cannot change"},
		{"metrics.listen=127.0.0.1:9999", "t.conf:6: metrics.listen: cannot change"},
		{"daemon.threads=2", "t.conf:6: daemon.threads: cannot change"},
		{"source.in.endpoint=ipc://elsewhere", "t.conf:6: source.in.endpoint: cannot change"},
		{"source.in.rcvhwm=5", "t.conf:6: source.in.rcvhwm: cannot change"},
		{"source.extra.type=zmq", "t.conf:6: source.extra: sources cannot be added, removed or reordered"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *kv[] = {base[0], base[1], base[2], base[3], base[4], cases[i].change,
				    "source.extra.endpoint=ipc://x", NULL};
		/* A new source needs its endpoint; the other cases stop before it. */
		if (!strstr(cases[i].change, "source.extra"))
			kv[6] = NULL;
		char out[1024];
		int r = diff(kv, out, sizeof out);
		if (r != -EPERM || strncmp(out, cases[i].error, strlen(cases[i].error)) != 0)
			fprintf(stderr, "case %zu: %d \"%s\"\n", i, r, out);
		CU_ASSERT(r == -EPERM);
		CU_ASSERT(strncmp(out, cases[i].error, strlen(cases[i].error)) == 0);
	}

	/* A live change beside a refused one: nothing is applied, and the refusal is what is said. */
	const char *both[] = {base[0], base[1], base[2], base[3], "optimizer.lr=0.5", "model.kind=linear", NULL};
	char out[1024];
	CU_ASSERT(diff(both, out, sizeof out) == -EPERM);
	CU_ASSERT(strstr(out, "model.kind") != NULL);

	/* A source of another type, under the same name. */
	const char *retyped[] = {"source.in.type=file", "source.in.path=/x", base[2], base[3], base[4], NULL};
	CU_ASSERT(diff(retyped, out, sizeof out) == -EPERM);
	CU_ASSERT(strncmp(out, "t.conf:1: source.in.type: cannot change", 39) == 0);

	/* A source that is gone is named too. */
	const char *gone[] = {"source.other.type=zmq", "source.other.endpoint=ipc://in", base[2], base[3], base[4],
			      NULL};
	CU_ASSERT(diff(gone, out, sizeof out) == -EPERM);
	CU_ASSERT(strstr(out, "source.other: sources cannot be added, removed or reordered") != NULL);
}

int main(void)
{
	MB_SUITE("reload_diff", {"reload_diff/live_keys", diff_live_keys},
		 {"reload_diff/same_meaning_is_no_change", diff_same_meaning_is_no_change},
		 {"reload_diff/refuses_with_key", diff_refuses_with_key});
	return mb_test_run();
}
