/* SPDX-License-Identifier: MIT */
/*
 * ctl_common.c - option parsing, endpoints, messages and signals that every
 * minibatchctl subcommand shares.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"

volatile int ctl_stop;

/* Print "minibatchctl: MESSAGE" on stderr. */
void ctl_err(const char *fmt, ...)
{
	va_list ap;
	fputs("minibatchctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Parse an integer option argument in [min, max]. */
int ctl_parse_u32(const char *opt, const char *arg, uint32_t min, uint32_t max, uint32_t *ret)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(arg, &end, 10);
	if (errno || end == arg || *end || arg[0] == '-' || v < min || v > max) {
		ctl_err("%s wants a whole number from %u to %u, not '%s'", opt, min, max, arg);
		return -1;
	}
	*ret = (uint32_t)v;
	return 0;
}

/* Parse a duration in seconds (fractions allowed). */
int ctl_parse_seconds(const char *opt, const char *arg, double *ret)
{
	char *end;
	errno = 0;
	double v = strtod(arg, &end);
	if (errno || end == arg || *end || !isfinite(v) || v < 0 || v > 1e6) {
		ctl_err("%s wants seconds, not '%s'", opt, arg);
		return -1;
	}
	*ret = v;
	return 0;
}

/* Take the options every subcommand accepts. */
int ctl_global_option(struct ctl_env *env, int c, const char *arg)
{
	double s;
	switch (c) {
	case CTL_OPT_RUNTIME_DIR:
		env->runtime_dir = arg;
		return 1;
	case CTL_OPT_INGEST:
		env->ingest = arg;
		return 1;
	case CTL_OPT_SNAPSHOTS:
		env->snapshots = arg;
		return 1;
	case CTL_OPT_CONTROL:
		env->control = arg;
		return 1;
	case CTL_OPT_TIMEOUT:
		if (ctl_parse_seconds("--timeout", arg, &s) < 0)
			return -1;
		env->timeout_ms = (int)lround(s * 1000.0);
		env->timeout_set = true;
		return 1;
	case CTL_OPT_CURVE_SERVER_KEY:
		env->curve_server_key = arg;
		return 1;
	case CTL_OPT_CURVE_KEY:
		env->curve_key = arg;
		return 1;
	default:
		return 0;
	}
}

/* Every subcommand's option loop: the global options never reach its switch. */
int ctl_getopt(struct ctl_env *env, int argc, char **argv, const char *shortopts, const struct option *options)
{
	int c;
	while ((c = getopt_long(argc, argv, shortopts, options, NULL)) != -1) {
		int g = ctl_global_option(env, c, optarg);
		if (g < 0)
			return CTL_OPT_BAD_GLOBAL;
		if (g == 0)
			return c;
	}
	return -1;
}

/* Load the CURVE keys of the options or the environment, when any is given. */
static int curve_load(struct ctl_env *env)
{
	const char *server = env->curve_server_key, *key = env->curve_key;
	if (!server && !key) {
		server = getenv("MINIBATCH_CURVE_SERVER_KEY");
		key = getenv("MINIBATCH_CURVE_KEY");
		if (server && !*server)
			server = NULL;
		if (key && !*key)
			key = NULL;
	}
	if (!server && !key)
		return 0;
	if (!server || !key) {
		ctl_err("CURVE needs both the daemon's public key (--curve-server-key FILE) and this client's "
			"secret key (--curve-key FILE)");
		return -1;
	}
	int r = mb_client_curve_load(server, key, &env->curve);
	if (r < 0) {
		ctl_err("cannot load the CURVE keys %s and %s: %s", server, key,
			r == -EBADMSG ? "a file holds no z85 key of 40 characters" : strerror(-r));
		return -1;
	}
	env->curve_on = true;
	return 0;
}

/* The keys, when loaded. */
const struct mb_client_curve *ctl_env_curve(const struct ctl_env *env)
{
	return env->curve_on ? &env->curve : NULL;
}

/* Load the keys, and make the endpoints the options left open from the runtime directory. */
int ctl_env_resolve(struct ctl_env *env)
{
	if (!env->curve_on && curve_load(env) < 0)
		return -1;
	if (env->ingest && env->snapshots && env->control)
		return 0;
	char dir[MB_CLIENT_MAX_ENDPOINT];
	if (env->runtime_dir) {
		if (snprintf(dir, sizeof dir, "%s", env->runtime_dir) >= (int)sizeof dir) {
			ctl_err("--runtime-dir is too long");
			return -1;
		}
	} else {
		int r = mb_client_runtime_dir(dir, sizeof dir);
		if (r == -ENOENT) {
			ctl_err("no runtime directory: set RUNTIME_DIRECTORY or XDG_RUNTIME_DIR, "
				"or give --runtime-dir DIR");
			return -1;
		}
		if (r < 0) {
			ctl_err("the runtime directory is too long for an endpoint");
			return -1;
		}
	}
	const char *names[3] = {"ingest", "snapshots", "control"};
	const char **slots[3] = {&env->ingest, &env->snapshots, &env->control};
	for (int i = 0; i < 3; i++) {
		if (*slots[i])
			continue;
		if (mb_client_endpoint(dir, names[i], env->buf[i], sizeof env->buf[i]) < 0) {
			ctl_err("runtime directory '%s' is too long for an endpoint", dir);
			return -1;
		}
		*slots[i] = env->buf[i];
	}
	return 0;
}

/* Seconds on the monotonic clock. */
double ctl_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void on_stop_signal(int sig)
{
	(void)sig;
	ctl_stop = 1;
}

/*
 * SIGINT and SIGTERM set ctl_stop and interrupt blocking calls (no
 * SA_RESTART), so a long feed or watch ends cleanly at the next check.
 */
void ctl_catch_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* --timeout in ms for calls that wait on the daemon (-1: forever). */
int ctl_env_timeout(const struct ctl_env *env)
{
	if (!env->timeout_set)
		return MB_CLIENT_DEFAULT_TIMEOUT_MS;
	return env->timeout_ms > 0 ? env->timeout_ms : -1;
}
