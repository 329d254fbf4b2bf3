/* SPDX-License-Identifier: MIT */
/*
 * ctl_control.c - minibatchctl status, stats, pause, resume, snapshot,
 * save, reload, reset: one request to the control socket, its JSON reply
 * shown one figure a line (or as is with --json).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

/* Figures a reply may hold before the rest are summarised. */
#define MAX_FIGURES 512

enum control_opt {
	OPT_JSON = CTL_OPT_FIRST_LOCAL,
	OPT_HELP,
};

static const struct option control_options[] = {
	{"json", no_argument, NULL, OPT_JSON},
	{"help", no_argument, NULL, OPT_HELP},
	CTL_GLOBAL_OPTIONS,
	{NULL, 0, NULL, 0},
};

static const char *const control_words[] = {
	MB_CTL_STATUS, MB_CTL_STATS, MB_CTL_PAUSE, MB_CTL_RESUME, MB_CTL_SNAPSHOT,
	MB_CTL_SAVE,   MB_CTL_RELOAD, MB_CTL_RESET,
};

/* True for the command words this file sends to the control socket. */
bool ctl_control_knows(const char *word)
{
	for (size_t i = 0; i < sizeof control_words / sizeof control_words[0]; i++)
		if (!strcmp(word, control_words[i]))
			return true;
	return false;
}

static void control_usage(FILE *f, const char *word)
{
	fprintf(f,
		"usage: minibatchctl %s [--json] [--timeout S]\n"
		"Ask the daemon's control socket; show its reply one figure a line, or as\n"
		"it came with --json. Exit status: 0 ok, 1 refused, 2 no answer.\n",
		word);
}

/* One figure of the reply, for aligned printing. */
struct figure {
	char *key;   /* its path in the reply */
	char *value; /* its text */
};

/* The figures of a reply, gathered before printing to align them. */
struct figures {
	struct figure f[MAX_FIGURES]; /* in reply order */
	size_t n;                     /* how many */
	size_t dropped;               /* more than fit */
	size_t width;                 /* longest key */
	bool oom;                     /* a copy failed */
};

static void gather(const char *path, const char *value, bool is_string, void *arg)
{
	struct figures *fs = arg;
	(void)is_string;
	if (!strcmp(path, "ok"))
		return;
	if (fs->n == MAX_FIGURES) {
		fs->dropped++;
		return;
	}
	struct figure *f = &fs->f[fs->n];
	f->key = strdup(path);
	f->value = strdup(value);
	if (!f->key || !f->value) {
		free(f->key);
		free(f->value);
		fs->oom = true;
		return;
	}
	fs->n++;
	size_t len = strlen(path);
	fs->width = len > fs->width ? len : fs->width;
}

static void print_figures(const char *reply)
{
	struct figures *fs = calloc(1, sizeof *fs);
	if (!fs) {
		puts(reply);
		return;
	}
	ctl_json_walk(reply, gather, fs);
	if (fs->oom) {
		puts(reply);
	} else if (!fs->n) {
		puts("ok");
	} else {
		for (size_t i = 0; i < fs->n; i++)
			printf("%-*s  %s\n", (int)fs->width, fs->f[i].key, fs->f[i].value);
		if (fs->dropped)
			printf("(%zu more figures: see --json)\n", fs->dropped);
	}
	for (size_t i = 0; i < fs->n; i++) {
		free(fs->f[i].key);
		free(fs->f[i].value);
	}
	free(fs);
}

/* Join the command word and its arguments into one request. */
static int build_request(const char *word, int argc, char **argv, char *buf, size_t cap)
{
	size_t n = (size_t)snprintf(buf, cap, "%s", word);
	for (int i = 0; i < argc && n < cap; i++)
		n += (size_t)snprintf(buf + n, cap - n, " %s", argv[i]);
	return n < cap ? 0 : -1;
}

/* reload's figures are the keys it changed: one "changed KEY" line each. */
static void print_changed(const char *path, const char *value, bool is_string, void *arg)
{
	size_t *n = arg;
	(void)is_string;
	if (strncmp(path, "changed[", strlen("changed[")))
		return;
	printf("changed  %s\n", value);
	(*n)++;
}

static void print_reload(const char *reply)
{
	size_t n = 0;
	if (ctl_json_walk(reply, print_changed, &n) < 0)
		puts(reply);
	else if (!n)
		puts("nothing changed");
}

static int show_reply(const char *word, const char *reply, bool json)
{
	char ok[16], error[512];
	int r = ctl_json_get(reply, "ok", ok, sizeof ok);
	if (r == -EBADMSG) {
		ctl_err("%s: the reply is not JSON: %.200s", word, reply);
		return CTL_EXIT_FAILED;
	}
	if (r < 0) {
		ctl_err("%s: the reply has no \"ok\": %.200s", word, reply);
		return CTL_EXIT_FAILED;
	}
	if (strcmp(ok, "true")) {
		if (json)
			puts(reply);
		if (ctl_json_get(reply, "error", error, sizeof error) < 0)
			snprintf(error, sizeof error, "refused, for no stated reason");
		ctl_err("%s: %s", word, error);
		return CTL_EXIT_FAILED;
	}
	if (json)
		puts(reply);
	else if (!strcmp(word, MB_CTL_RELOAD))
		print_reload(reply);
	else
		print_figures(reply);
	return CTL_EXIT_OK;
}

/* minibatchctl WORD [ARGUMENT]: see control_usage. */
int ctl_control(struct ctl_env *env, int argc, char **argv)
{
	const char *word = argv[0];
	bool json = false;
	int c;
	optind = 1;
	while ((c = ctl_getopt(env, argc, argv, "", control_options)) != -1) {
		switch (c) {
		case CTL_OPT_BAD_GLOBAL: return CTL_EXIT_UNREACHABLE;
		case OPT_JSON: json = true; break;
		case OPT_HELP: control_usage(stdout, word); return CTL_EXIT_OK;
		default: control_usage(stderr, word); return CTL_EXIT_UNREACHABLE;
		}
	}
	char request[MB_MAX_CONTROL_BYTES + 1];
	if (build_request(word, argc - optind, argv + optind, request, sizeof request) < 0) {
		ctl_err("%s: the request is over %u bytes", word, MB_MAX_CONTROL_BYTES);
		return CTL_EXIT_UNREACHABLE;
	}
	if (ctl_env_resolve(env) < 0)
		return CTL_EXIT_UNREACHABLE;

	struct mb_client *cl;
	int r = mb_client_new_curve(env->control, NULL, ctl_env_curve(env), &cl);
	if (r < 0) {
		ctl_err("cannot connect to %s: %s", env->control, strerror(-r));
		return CTL_EXIT_UNREACHABLE;
	}
	char *reply = NULL;
	int timeout = ctl_env_timeout(env);
	r = mb_client_request(cl, request, timeout, &reply);
	mb_client_free(cl);
	if (r == -ETIMEDOUT) {
		ctl_err("%s: no answer from %s within %.1f s (is minibatchd running?)", word, env->control,
			timeout / 1000.0);
		return CTL_EXIT_UNREACHABLE;
	}
	if (r < 0) {
		ctl_err("%s: %s: %s", word, env->control, strerror(-r));
		return CTL_EXIT_UNREACHABLE;
	}
	int status = show_reply(word, reply, json);
	free(reply);
	return status;
}
