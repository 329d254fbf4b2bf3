/* SPDX-License-Identifier: MIT */
/* log.c - prefixed, rate-limited log lines on stderr. */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* Relaxed: a line racing a change of level (a reload) may go either way, which is fine. */
static _Atomic int log_level = LOG_INFO;

static const char *const level_names[] = {
	[LOG_ERR] = "err", [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
	[LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

/* Set the lowest priority written. */
void mb_log_set_level(int priority)
{
	atomic_store_explicit(&log_level, priority, memory_order_relaxed);
}

/* Parse a level name; -EINVAL for an unknown one, *ret untouched. */
int mb_log_level_parse(const char *name, int *ret)
{
	for (int p = 0; p < (int)(sizeof level_names / sizeof level_names[0]); p++) {
		if (level_names[p] && strcmp(level_names[p], name) == 0) {
			*ret = p;
			return 0;
		}
	}
	return -EINVAL;
}

/* True when priority is at or above the configured level. */
bool mb_log_enabled(int priority)
{
	return priority <= atomic_load_explicit(&log_level, memory_order_relaxed);
}

static void vlog(int priority, const char *fmt, va_list ap)
{
	char line[MB_LOG_LINE_BYTES];
	int n = snprintf(line, sizeof line, "<%d>", priority);
	int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
	if (len > sizeof line - 2)
		len = sizeof line - 2;
	/* One event, one line: a newline or other control byte from peer-supplied text becomes a space. */
	for (size_t i = (size_t)n; i < len; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = ' ';
	line[len++] = '\n';
	/* One write per line keeps threads' lines whole; a lost log line is not worth a retry loop. */
	ssize_t w = write(STDERR_FILENO, line, len);
	(void)w;
}

/* Write one line at priority if the level allows. */
void mb_log(int priority, const char *fmt, ...)
{
	if (!mb_log_enabled(priority))
		return;
	va_list ap;
	va_start(ap, fmt);
	vlog(priority, fmt, ap);
	va_end(ap);
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Write the "N more" summary if lines were left out. */
void mb_log_limit_flush(struct mb_log_limit *l, int priority)
{
	if (!l->suppressed)
		return;
	mb_log(priority, "%s: %llu more rejected lines suppressed", l->what ? l->what : "log",
	       (unsigned long long)l->suppressed);
	l->suppressed = 0;
}

/* Flush the summary when the window that suppressed lines is over. */
void mb_log_limit_tick(struct mb_log_limit *l, int priority)
{
	if (l->suppressed && now_ns() - l->window_ns >= 1000000000) {
		mb_log_limit_flush(l, priority);
		l->window_ns = now_ns();
		l->in_window = 0;
	}
}

/* Write the line unless MB_LOG_LIMIT_BURST lines went out this second. */
void mb_log_limited(struct mb_log_limit *l, int priority, const char *fmt, ...)
{
	if (!mb_log_enabled(priority))
		return;
	int64_t now = now_ns();
	if (now - l->window_ns >= 1000000000) {
		mb_log_limit_flush(l, priority);
		l->window_ns = now;
		l->in_window = 0;
	}
	if (l->in_window >= MB_LOG_LIMIT_BURST) {
		l->suppressed++;
		return;
	}
	l->in_window++;
	va_list ap;
	va_start(ap, fmt);
	vlog(priority, fmt, ap);
	va_end(ap);
}
